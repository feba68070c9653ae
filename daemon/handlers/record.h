/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The payload code several handlers share (record.c): a record that is a
 * fixed head, then, for the handlers that keep one, a path; and the checks
 * and log lines of a retrieve that finds the fd unreadable or its path
 * moved. Each handler still owns its head's layout and versions it through
 * its compatible string.
 */
#ifndef LUOD_RECORD_H
#define LUOD_RECORD_H

#include <stdbool.h>
#include <stddef.h>

#include "core/luod.h"

#define RECORD_HEAD_MAX 64
#define RECORD_PATH_MAX 4096

/*
 * preserve() of a handler that records at preserve what its freeze()
 * records, and learns nothing in can_preserve() for it: the handler's
 * freeze() (file->handler must be set).
 */
int record_preserve(struct luo_file *file, const struct luo_probe *probe);

/* The payload made of head_len bytes of head, then path_len bytes of path (no NUL). */
int record_store(struct luo_file *file, const void *head, size_t head_len, const char *path,
		 size_t path_len);
/*
 * The payload back: its head into head, the rest into path (fewer than
 * path_max bytes, NUL-terminated), as long as the u32 at path_len_at in
 * the head says. 0, or -EINVAL when the payload is shorter than the head,
 * or the rest does not fit or is not that long. With path NULL (and
 * path_max 0) the payload must be the head alone.
 */
int record_load(const struct luo_file *file, void *head, size_t head_len, size_t path_len_at,
		char *path, size_t path_max);

/* retrieve() found the fd of another type (what: "an eventfd"): logged, EIO. */
int record_wrong_type(const struct luo_file *file, const char *what);
/* retrieve() could not read the fd (r): logged; another type (-EBADFD) is EIO. */
int record_unreadable(const struct luo_file *file, int r);
/*
 * A path recorded for people (a file renamed or unlinked is still the
 * same file): logged at info when what it is now differs from what it was.
 * what: "file", "fifo"; a path "" is one that could not be read.
 */
void record_path_report(const struct luo_file *file, const char *what, const char *was,
			bool was_deleted, bool was_unknown, const char *now, bool now_deleted,
			bool now_unknown);

#endif
