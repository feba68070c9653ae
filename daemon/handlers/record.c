// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * DOC: The payload code the handlers share (see record.h), written once:
 * pipe, file, eventfd and timerfd records are a fixed head and, for pipe
 * and file, a path after it.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "handlers/procfd.h"
#include "handlers/record.h"

int record_preserve(struct luo_file *file, const struct luo_probe *probe)
{
	(void)probe; /* can_preserve() learnt nothing that freeze() does not ask again */
	return file->handler->freeze(file);
}

int record_store(struct luo_file *file, const void *head, size_t head_len, const char *path,
		 size_t path_len)
{
	unsigned char buf[RECORD_HEAD_MAX + RECORD_PATH_MAX];

	if (head_len > RECORD_HEAD_MAX || path_len > RECORD_PATH_MAX)
		return -EINVAL;
	memcpy(buf, head, head_len);
	if (path_len)
		memcpy(buf + head_len, path, path_len);
	return file_set_payload(file, buf, head_len + path_len);
}

int record_load(const struct luo_file *file, void *head, size_t head_len, size_t path_len_at,
		char *path, size_t path_max)
{
	uint32_t path_len;
	size_t n;

	if (file->payload_len < head_len)
		return -EINVAL;
	n = file->payload_len - head_len;
	if (n && n >= path_max)
		return -EINVAL;
	memcpy(head, file->payload, head_len);
	if (!path)
		return 0;
	memcpy(&path_len, (const unsigned char *)head + path_len_at, sizeof(path_len));
	if (path_len != n)
		return -EINVAL;
	memcpy(path, file->payload + head_len, n);
	path[n] = '\0';
	return 0;
}

int record_wrong_type(const struct luo_file *file, const char *what)
{
	log_warn("%s token %llu: the fd is not %s", file->handler->name,
		 (unsigned long long)file->token, what);
	return -EIO;
}

int record_unreadable(const struct luo_file *file, int r)
{
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
