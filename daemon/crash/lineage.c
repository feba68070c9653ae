// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * DOC: The lineage record: what a crash must not reset.
 *
 * luod's generation, its count of completed live updates and the update
 * history live in luod's memory and cross a live update in the handover.
 * A SIGKILL would lose them, so the crash copies keep them too: one
 * keeper entry ("g/lineage") and one fd store entry (a sealed memfd named
 * "luo-g-lineage"), replaced whenever they change. After a crash the
 * largest generation and update count found win (they only ever grow) and
 * the history comes back as it was.
 *
 * Layout, host byte order: struct lineage_head, then count history
 * entries (struct luo_msg_history_entry), oldest first.
 */
#include <errno.h>
#include <string.h>

#include "crash/keeper.h"
#include "report/history.h"

#define LINEAGE_MAGIC 0x6c67756cu /* "lugl" */

struct lineage_head {
	uint32_t magic;
	uint32_t count;
	uint32_t entry_size;
	uint32_t reserved;
	uint64_t generation;
	uint64_t updates;
};

static struct {
	uint64_t generation, updates, last_start;
	size_t count;
	bool valid;
} sent;

size_t lineage_encode(unsigned char *buf, size_t cap)
{
	struct lineage_head h = {
		.magic = LINEAGE_MAGIC,
		.count = (uint32_t)history_count(),
		.entry_size = sizeof(struct luo_msg_history_entry),
		.generation = core_generation(),
		.updates = core_updates(),
	};
	size_t len = sizeof(h) + h.count * sizeof(struct luo_msg_history_entry);

	if (len > cap)
		return 0; /* cannot happen: LINEAGE_MAX is the largest */
	memcpy(buf, &h, sizeof(h));
	for (uint32_t i = 0; i < h.count; i++)
		memcpy(buf + sizeof(h) + i * sizeof(struct luo_msg_history_entry), history_at(i),
		       sizeof(struct luo_msg_history_entry));
	return len;
}

bool lineage_changed(void)
{
	size_t n = history_count();
	uint64_t last = n ? history_at(n - 1)->start_realtime_ns ^ history_at(n - 1)->outcome : 0;

	if (sent.valid && sent.generation == core_generation() && sent.updates == core_updates() &&
	    sent.count == n && sent.last_start == last)
		return false;
	sent.valid = true;
	sent.generation = core_generation();
	sent.updates = core_updates();
	sent.count = n;
	sent.last_start = last;
	return true;
}

void lineage_forget_sent(void)
{
	sent.valid = false;
}

int lineage_decode(const void *data, size_t len, struct lineage *out)
{
	struct lineage_head h;
	const unsigned char *p = data;

	if (len < sizeof(h))
		return -EBADMSG;
	memcpy(&h, p, sizeof(h));
	if (h.magic != LINEAGE_MAGIC || h.entry_size < sizeof(struct luo_msg_history_entry) ||
	    h.count > LUO_HISTORY_MAX || len != sizeof(h) + (size_t)h.count * h.entry_size)
		return -EBADMSG;
	if (!out->have || h.generation > out->generation || h.updates > out->updates) {
		out->generation = h.generation > out->generation ? h.generation : out->generation;
		out->updates = h.updates > out->updates ? h.updates : out->updates;
		out->count = h.count;
		for (uint32_t i = 0; i < h.count; i++)
			memcpy(&out->e[i], p + sizeof(h) + (size_t)i * h.entry_size, sizeof(out->e[i]));
	}
	out->have = true;
	return 0;
}

void lineage_adopt(const struct lineage *l, size_t sessions)
{
	if (l->have && history_count() == 0)
		history_restore(l->e, l->count);
	core_adopt_crash(l->have, l->generation, l->updates, sessions);
	lineage_forget_sent(); /* the copies get the result */
}
