// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * luod's paged replies read to the end: LIST_SESSIONS and SHOW_SESSION
 * answer with as many entries as fit in one message, after a head that
 * ends in the total and the count of this page; the request's cursor says
 * where the next page starts. page_each() asks page after page and hands
 * over every entry in order, once.
 *
 * A reply is checked before anything in it is used: shorter than its head,
 * than its entries, or longer with a tail that is not all zero (the
 * protocol's rule for a newer peer), more entries than remain before its
 * total, or none while some remain, is EPROTO: never an overread, never a
 * loop that does not advance. The cursor is an index: a session or file
 * added or removed between two pages shifts what follows, and the total
 * each page carries (not the first one's) says when to stop.
 */
#include <errno.h>
#include <stdalign.h>
#include <string.h>

#include "luoctl.h"

/* head and entries are handed over in copies this large, aligned for any type */
#define PAGE_PART_MAX 256

#define PAGE_OP(op_, req_type, rep_type)                                        \
	{                                                                       \
		.op = (op_), .cursor_at = offsetof(req_type, cursor),           \
		.head_size = sizeof(rep_type), .total_at = offsetof(rep_type, total), \
		.count_at = offsetof(rep_type, count),                          \
		.entry_size = sizeof(((rep_type *)0)->entries[0]),              \
	}

const struct page_op page_sessions =
	PAGE_OP(LUO_OP_LIST_SESSIONS, struct luo_msg_list, struct luo_msg_list_reply);
const struct page_op page_files =
	PAGE_OP(LUO_OP_SHOW_SESSION, struct luo_msg_show, struct luo_msg_show_reply);

_Static_assert(sizeof(struct luo_msg_list_reply) <= PAGE_PART_MAX &&
		       sizeof(struct luo_msg_show_reply) <= PAGE_PART_MAX &&
		       sizeof(struct luo_msg_session_info) <= PAGE_PART_MAX &&
		       sizeof(struct luo_msg_file_info) <= PAGE_PART_MAX,
	       "a head or entry does not fit PAGE_PART_MAX");

static uint32_t u32_at(const unsigned char *p, size_t at)
{
	uint32_t v;

	memcpy(&v, p + at, sizeof(v));
	return v;
}

static bool all_zero(const unsigned char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

int page_each(int dev, const struct page_op *op, void *req, size_t req_len,
	      int (*head)(void *ctx, void *h), int (*entry)(void *ctx, void *e), void *ctx)
{
	alignas(max_align_t) unsigned char part[PAGE_PART_MAX];
	uint32_t cursor = 0;

	for (;;) {
		uint32_t total, count, left;
		size_t used;
		int r;

		memcpy((unsigned char *)req + op->cursor_at, &cursor, sizeof(cursor));
		r = luo_call_full(dev, op->op, req, req_len, NULL, 0, &reply);
		if (r < 0)
			return r;
		luo_reply_close_fds(&reply);
		if (reply.body_len < op->head_size)
			return -EPROTO;
		total = u32_at(reply.body, op->total_at);
		count = u32_at(reply.body, op->count_at);
		left = cursor < total ? total - cursor : 0; /* the total may shrink under the cursor */
		if (count > (reply.body_len - op->head_size) / op->entry_size || count > left ||
		    (count == 0 && left > 0))
			return -EPROTO;
		used = op->head_size + count * op->entry_size;
		if (!all_zero(reply.body + used, reply.body_len - used))
			return -EPROTO;
		if (cursor == 0 && head) {
			memcpy(part, reply.body, op->head_size);
			r = head(ctx, part);
			if (r < 0)
				return r;
		}
		for (uint32_t i = 0; i < count; i++) {
			memcpy(part, reply.body + op->head_size + i * op->entry_size, op->entry_size);
			r = entry(ctx, part);
			if (r < 0)
				return r;
		}
		cursor += count;
		if (cursor >= total)
			return 0;
	}
}
