/* SPDX-License-Identifier: GPL-2.0-or-later */
/* kernel_index.c: the index luod keeps at token 0 of its kernel session. */
#ifndef LUOD_KERNEL_INDEX_H
#define LUOD_KERNEL_INDEX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "protocol.h"
#include "backend/relisten.h"

#define LUO_KINDEX_COMPATIBLE "luo,kernel-index-v1"
#define LUO_KINDEX_TOKEN 0 /* the index memfd's token in the kernel session */

struct luo_file;

/* One file of a session, as the index knows it. */
struct kindex_file {
	uint64_t token;
	enum luo_file_where where; /* KERNEL, RECREATED or LOST */
	uint64_t ktoken;           /* KERNEL: its token in the kernel session */
	const char *compatible;    /* its handler's */
	const void *payload;       /* its handler's record, as luod had it */
	size_t payload_len;
	struct relisten_record listen; /* RECREATED */
};

/* Fills kf for a file the kexec is about to take (the backend decides). */
typedef void (*kindex_classify_fn)(const struct luo_file *f, struct kindex_file *kf, void *ctx);

/* The index of every outgoing session, in a sealed memfd, or -errno. */
int kindex_write(kindex_classify_fn classify, void *ctx);

/* What the index says of luod as it was when the kexec was asked for. */
struct kindex_head {
	uint64_t generation;
	uint64_t updates;
	uint64_t written_realtime_ns; /* CLOCK_REALTIME when it was written: the blackout began */
};

struct kindex_reader {
	int (*session)(const char *name, uid_t uid, void *ctx); /* files that follow are its own */
	void (*file)(const struct kindex_file *kf, void *ctx);
	void (*done)(const struct kindex_head *head, void *ctx);
};

/* Checks the whole blob first; then calls rd in order. -EBADMSG for a bad one. */
int kindex_read(const void *blob, size_t len, const struct kindex_reader *rd, void *ctx);

#endif
