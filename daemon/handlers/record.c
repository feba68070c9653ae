// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * DOC: The payload code the record handlers share (see record.h), written
 * once: pipe, file, eventfd and timerfd records are a fixed head and, for
 * pipe and file, a path after it, stored, loaded and read again here.
 */
#include <errno.h>
#include <stdalign.h>
#include <stdint.h>
#include <string.h>

#include "handlers/procfd.h"
#include "handlers/record.h"

#define STATE_MAX (RECORD_HEAD_MAX + RECORD_PATH_MAX)

static const struct record_kind *kind_of(const struct luo_file *file)
{
	return file->handler->data;
}

/* The length of the path in a state, from its head (0 without one). */
static uint32_t path_len(const struct record_kind *k, const void *state)
{
	uint32_t n = 0;

	if (k->path_max)
		memcpy(&n, (const unsigned char *)state + k->path_len_at, sizeof(n));
	return n;
}

int record_freeze(struct luo_file *file)
{
	const struct record_kind *k = kind_of(file);
	alignas(max_align_t) unsigned char state[STATE_MAX];
	int r;

	if (k->head_len + k->path_max > sizeof(state))
		return -EINVAL;
	r = k->read(file->fd, state);
	if (r < 0)
		return r;
	/* the head and the path's bytes as they lie in the state */
	return file_set_payload(file, state, k->head_len + path_len(k, state));
}

int record_preserve(struct luo_file *file, const struct luo_probe *probe)
{
	(void)probe; /* can_preserve() learnt nothing that the record does not read again */
	return record_freeze(file);
}

/* want from the payload: its head, then a path as long as the head says, or -EINVAL. */
static int record_load(const struct luo_file *file, const struct record_kind *k, void *want)
{
	unsigned char *p = want;
	size_t n;

	if (file->payload_len < k->head_len)
		return -EINVAL;
	n = file->payload_len - k->head_len;
	if (n && n >= k->path_max)
		return -EINVAL;
	memcpy(p, file->payload, k->head_len);
	if (!k->path_max)
		return 0;
	if (path_len(k, p) != n)
		return -EINVAL;
	memcpy(p + k->head_len, file->payload + k->head_len, n);
	p[k->head_len + n] = '\0';
	return 0;
}

int record_wrong_type(const struct luo_file *file, const char *a_what)
{
	log_warn("%s token %llu: the fd is not %s", file->handler->name,
		 (unsigned long long)file->token, a_what);
	return -EIO;
}

int record_now(const struct luo_file *file, void *want, void *have)
{
	const struct record_kind *k = kind_of(file);
	int r = record_load(file, k, want);

	if (r < 0)
		return r;
	r = k->read(file->fd, have);
	if (r >= 0)
		return 0;
	if (k->a_what)
		return r == -EBADFD ? record_wrong_type(file, k->a_what) : r;
	log_warn("%s token %llu: cannot inspect the fd: %s", file->handler->name,
		 (unsigned long long)file->token, strerror(-r));
	return r == -EBADFD ? -EIO : r;
}

void record_path_report(const struct luo_file *file, const char *what, const char *was,
			bool was_deleted, bool was_unknown, const char *now, bool now_deleted,
			bool now_unknown)
{
	if (!strcmp(was, now) && was_deleted == now_deleted && was_unknown == now_unknown)
		return;
	log_info("%s token %llu: was %s%s, now %s%s", what, (unsigned long long)file->token,
		 procfd_path_shown(was), was_deleted ? PROCFD_DELETED : "",
		 procfd_path_shown(now), now_deleted ? PROCFD_DELETED : "");
}
