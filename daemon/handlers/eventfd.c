// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * DOC: eventfd handler.
 *
 * An eventfd crosses the update as the same object, so its counter is
 * neither read nor reset: signals posted before or during the blackout are
 * waiting for the successor. The payload records, from
 * /proc/self/fdinfo, the counter (as it was at preserve and at freeze, for
 * people: a peer may post to it any time, so it is not checked), the
 * semaphore mode and the eventfd's id where this kernel shows them, and
 * the F_GETFL flags (O_NONBLOCK). retrieve checks that the fd is an
 * eventfd, the same one where the id tells, in the same mode with the same
 * flags.
 *
 * eventfds live on the shared anonymous inode, so st_ino says nothing:
 * "anon_inode:[eventfd]" and the id do.
 *
 * Payload v1: struct eventfd_record below.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "core/luod.h"
#include "handlers/procfd.h"
#include "handlers/record.h"

#define EVENTFD_LINK "anon_inode:[eventfd]"
#define EVENTFD_UNKNOWN UINT64_MAX /* this kernel does not show it */

struct eventfd_record {
	uint64_t count;
	uint64_t semaphore; /* 0, 1 or EVENTFD_UNKNOWN */
	uint64_t id;        /* "eventfd-id", or EVENTFD_UNKNOWN */
	uint32_t fl;        /* F_GETFL */
	uint32_t pad;
};

static bool eventfd_can_preserve(int fd, const struct stat *st, struct luo_probe *probe)
{
	(void)probe; /* nothing to hand on */
	return procfd_anon_is(fd, st, EVENTFD_LINK);
}

static int eventfd_read(int fd, void *state)
{
	struct eventfd_record *rec = state;
	unsigned long long count;
	int fl, r;

	memset(rec, 0, sizeof(*rec));
	if (!procfd_link_is(fd, EVENTFD_LINK))
		return -EBADFD;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return -errno;
	/* the kernel prints it "%16llx": hexadecimal, without 0x */
	r = procfd_info_u64(fd, "eventfd-count", 16, &count);
	if (r < 0)
		return r;
	if ((r = procfd_info_or(fd, "eventfd-semaphore", 10, EVENTFD_UNKNOWN, &rec->semaphore)) < 0 ||
	    (r = procfd_info_or(fd, "eventfd-id", 10, EVENTFD_UNKNOWN, &rec->id)) < 0)
		return r;
	rec->count = count;
	rec->fl = (uint32_t)fl;
	return 0;
}

static const struct record_kind eventfd_kind = {
	.head_len = sizeof(struct eventfd_record),
	.read = eventfd_read,
	.a_what = "an eventfd",
};

static bool known_differs(uint64_t a, uint64_t b)
{
	return a != EVENTFD_UNKNOWN && b != EVENTFD_UNKNOWN && a != b;
}

static int eventfd_retrieve(struct luo_file *file)
{
	struct eventfd_record want, have;
	int r = record_now(file, &want, &have);

	if (r < 0)
		return r;
	if (known_differs(want.id, have.id) || known_differs(want.semaphore, have.semaphore) ||
	    want.fl != have.fl) {
		log_warn("eventfd token %llu: not the eventfd that was preserved (id %lld -> %lld, semaphore %lld -> %lld, flags %#x -> %#x)",
			 (unsigned long long)file->token, (long long)want.id, (long long)have.id,
			 (long long)want.semaphore, (long long)have.semaphore, want.fl, have.fl);
		return -EIO;
	}
	if (want.count != have.count)
		log_debug("eventfd token %llu: counter %llu at freeze, %llu now",
			  (unsigned long long)file->token, (unsigned long long)want.count,
			  (unsigned long long)have.count);
	return 0;
}

const struct luo_file_handler luo_eventfd_handler = {
	.close_never_blocks = true,
	.name = "eventfd",
	.compatible = "luo,eventfd-v1",
	.type = 0, /* anonymous inodes have no S_IFMT type */
	.can_preserve = eventfd_can_preserve,
	.preserve = record_preserve,
	.freeze = record_freeze,
	.retrieve = eventfd_retrieve,
	.size = NULL,
	.data = &eventfd_kind,
};
