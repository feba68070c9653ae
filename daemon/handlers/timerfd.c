// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * DOC: timerfd handler.
 *
 * A timerfd crosses the update as the same object: it stays armed and
 * keeps counting expirations through the blackout, so the successor reads
 * every tick it missed. The payload records the clock (fdinfo "clockid"),
 * the settime flags (TFD_TIMER_ABSTIME, ...), the interval and the time
 * left as timerfd_gettime() gave them at preserve and at freeze, and the
 * F_GETFL flags. retrieve checks that the fd is a timerfd on the same
 * clock with the same interval and flags, and still armed if it was
 * periodic; a one-shot timer may have fired meanwhile, which is not a
 * change.
 *
 * timerfds live on the shared anonymous inode: "anon_inode:[timerfd]"
 * identifies the type, the inode number does not identify the timer.
 *
 * Payload v1: struct timerfd_record below.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "core/luod.h"
#include "handlers/procfd.h"
#include "handlers/record.h"

#define TIMERFD_LINK "anon_inode:[timerfd]"
#define TIMERFD_UNKNOWN UINT32_MAX

struct timerfd_record {
	uint32_t clockid;        /* or TIMERFD_UNKNOWN on a kernel without it in fdinfo */
	uint32_t settime_flags;  /* or TIMERFD_UNKNOWN */
	int64_t interval_sec;
	int64_t interval_nsec;
	int64_t value_sec;       /* time left, 0/0: disarmed */
	int64_t value_nsec;
	uint32_t fl;             /* F_GETFL */
	uint32_t pad;
};

static bool timerfd_can_preserve(int fd, const struct stat *st, struct luo_probe *probe)
{
	(void)probe; /* nothing to hand on */
	return procfd_anon_is(fd, st, TIMERFD_LINK);
}

/* A u32 of fdinfo, TIMERFD_UNKNOWN when this kernel does not show it. */
static int info_u32(int fd, const char *key, int base, uint32_t *val)
{
	uint64_t v;
	int r = procfd_info_or(fd, key, base, UINT64_MAX, &v);

	if (r < 0)
		return r;
	if (v == UINT64_MAX)
		v = TIMERFD_UNKNOWN;
	else if (v >= TIMERFD_UNKNOWN)
		return -EINVAL;
	*val = (uint32_t)v;
	return 0;
}

static int timerfd_read(int fd, void *state)
{
	struct timerfd_record *rec = state;
	struct itimerspec its;
	int fl, r;

	memset(rec, 0, sizeof(*rec));
	if (!procfd_link_is(fd, TIMERFD_LINK))
		return -EBADFD;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return -errno;
	if (timerfd_gettime(fd, &its) < 0)
		return -errno;
	/* "clockid: %d", "settime flags: 0%o" */
	if ((r = info_u32(fd, "clockid", 10, &rec->clockid)) < 0 ||
	    (r = info_u32(fd, "settime flags", 8, &rec->settime_flags)) < 0)
		return r;
	rec->interval_sec = its.it_interval.tv_sec;
	rec->interval_nsec = its.it_interval.tv_nsec;
	rec->value_sec = its.it_value.tv_sec;
	rec->value_nsec = its.it_value.tv_nsec;
	rec->fl = (uint32_t)fl;
	return 0;
}

static const struct record_kind timerfd_kind = {
	.head_len = sizeof(struct timerfd_record),
	.read = timerfd_read,
	.a_what = "a timerfd",
};

static bool armed(const struct timerfd_record *rec)
{
	return rec->value_sec || rec->value_nsec;
}

static bool periodic(const struct timerfd_record *rec)
{
	return rec->interval_sec || rec->interval_nsec;
}

static int timerfd_retrieve(struct luo_file *file)
{
	struct timerfd_record want, have;
	int r = record_now(file, &want, &have);

	if (r < 0)
		return r;
	if (want.clockid != have.clockid || want.fl != have.fl ||
	    want.settime_flags != have.settime_flags ||
	    want.interval_sec != have.interval_sec || want.interval_nsec != have.interval_nsec ||
	    (periodic(&want) && armed(&want) != armed(&have)) ||
	    (!armed(&want) && armed(&have))) {
		log_warn("timerfd token %llu: not the timer that was preserved (clock %u -> %u, interval %lld.%09lld -> %lld.%09lld, %s -> %s, flags %#x -> %#x)",
			 (unsigned long long)file->token, want.clockid, have.clockid,
			 (long long)want.interval_sec, (long long)want.interval_nsec,
			 (long long)have.interval_sec, (long long)have.interval_nsec,
			 armed(&want) ? "armed" : "disarmed", armed(&have) ? "armed" : "disarmed",
			 want.fl, have.fl);
		return -EIO;
	}
	return 0;
}

const struct luo_file_handler luo_timerfd_handler = {
	.close_never_blocks = true,
	.name = "timerfd",
	.compatible = "luo,timerfd-v1",
	.type = 0, /* anonymous inodes have no S_IFMT type */
	.can_preserve = timerfd_can_preserve,
	.preserve = record_preserve,
	.freeze = record_freeze,
	.retrieve = timerfd_retrieve,
	.size = NULL,
	.data = &timerfd_kind,
};
