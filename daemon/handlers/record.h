/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The payload code several handlers share (record.c). A record handler
 * (pipe, file, eventfd, timerfd) describes its record in a struct
 * record_kind that its table points at (.data): what it reads of the fd
 * into a state that is the record's head (a struct) followed at once by,
 * for pipe and file, a path. The payload is that head and the path's
 * bytes (no NUL); record.c stores it at preserve and freeze, loads it back
 * with its length checks and reads the fd again for retrieve, which then
 * only compares. Each handler still owns its head's layout and versions
 * it through its compatible string.
 */
#ifndef LUOD_RECORD_H
#define LUOD_RECORD_H

#include <stdbool.h>
#include <stddef.h>

#include "core/luod.h"

#define RECORD_HEAD_MAX 64
#define RECORD_PATH_MAX 4096

struct record_kind {
	size_t head_len;    /* the head: sizeof its struct, at most RECORD_HEAD_MAX */
	size_t path_max;    /* the path's room after it in the state (NUL included); 0: none */
	size_t path_len_at; /* with a path: where the head keeps its length (u32) */
	/* The state (head, then path, NUL-terminated) from fd now; -EBADFD: another type of fd. */
	int (*read)(int fd, void *state);
	/*
	 * "an eventfd": a read's -EBADFD is logged as the fd not being one,
	 * other errors are returned unlogged; NULL: every failure is logged.
	 */
	const char *a_what;
};

/*
 * The kind of a record with a path: its state a struct with the head (a
 * struct with a u32 path_len) as .rec and the path right after it as
 * .path (which RECORD_STATE_CHECK asserts).
 */
#define RECORD_KIND_WITH_PATH(state_type, read_fn)                     \
	{                                                               \
		.head_len = sizeof(((state_type *)0)->rec),             \
		.path_max = sizeof(((state_type *)0)->path),            \
		.path_len_at = offsetof(state_type, rec.path_len),      \
		.read = read_fn,                                        \
	}
#define RECORD_STATE_CHECK(state_type)                                                       \
	_Static_assert(offsetof(state_type, path) == sizeof(((state_type *)0)->rec), \
		       #state_type ": the path right after the head")

/* preserve() and freeze() of a record handler: the record of the fd now. */
int record_preserve(struct luo_file *file, const struct luo_probe *probe);
int record_freeze(struct luo_file *file);
/*
 * For retrieve(): want loaded from the payload (-EINVAL if it is not a
 * record of this kind), have read from the fd now (a failure logged as
 * the kind says; another type of fd is EIO). Both are states of the
 * kind's layout. 0, or what retrieve() returns.
 */
int record_now(const struct luo_file *file, void *want, void *have);

/* retrieve() found the fd of another type (what: "a socket"): logged, EIO. */
int record_wrong_type(const struct luo_file *file, const char *a_what);
/*
 * A path recorded for people (a file renamed or unlinked is still the
 * same file): logged at info when what it is now differs from what it was.
 * what: "file", "fifo"; a path "" is one that could not be read.
 */
void record_path_report(const struct luo_file *file, const char *what, const char *was,
			bool was_deleted, bool was_unknown, const char *now, bool now_deleted,
			bool now_unknown);

#endif
