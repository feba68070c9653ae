// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * DOC: The update history: a bounded ring of past live updates.
 *
 * Each entry says when an update began, how long PREPARE, FREEZE and the
 * blackout took, what it carried and how it ended (ok, failed with an
 * errno, cancelled). The successor records a successful update once it
 * serves; the failure path records a failed one; a global CANCEL after
 * PREPARE or FREEZE records a cancelled one. The ring crosses luod's own
 * re-exec in the handover FDT as /history: a "record-size" and an
 * "entries" array of big-endian u64 fields, so a later luod can add fields
 * at the end and an older one reads what it knows. A handover without
 * /history (from an older luod), or with one that does not parse, only
 * means an empty history: it never fails the update.
 */
#include <errno.h>
#include <libfdt.h>
#include <string.h>
#include <time.h>

#include "core/luod.h"
#include "report/history.h"

static struct {
	struct luo_msg_history_entry e[LUO_HISTORY_MAX];
	size_t first, n;
	struct luo_msg_history_entry trying; /* the update in progress */
	bool active;
} ring;

/* The fields of one FDT record, in order; record-size says how many a writer had. */
#define RECORD_FIELDS 10

uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void history_add(const struct luo_msg_history_entry *e)
{
	if (ring.n == LUO_HISTORY_MAX) {
		ring.first = (ring.first + 1) % LUO_HISTORY_MAX;
		ring.n--;
	}
	ring.e[(ring.first + ring.n++) % LUO_HISTORY_MAX] = *e;
}

size_t history_count(void)
{
	return ring.n;
}

const struct luo_msg_history_entry *history_at(size_t i)
{
	return i < ring.n ? &ring.e[(ring.first + i) % LUO_HISTORY_MAX] : NULL;
}

void history_update_started(void)
{
	ring.trying = (struct luo_msg_history_entry){
		.generation = core_generation(),
		.start_realtime_ns = realtime_ns(),
		.sessions = (uint32_t)(core_session_count() - core_incoming_sessions()),
		.files = core_file_count(),
	};
	ring.active = true;
}

void history_update_failed(int error)
{
	if (!ring.active)
		return;
	ring.trying.outcome = LUO_HISTORY_FAILED;
	ring.trying.error = error;
	history_add(&ring.trying);
	ring.active = false;
}

void history_cancelled(void)
{
	struct luo_msg_history_entry e = {
		.generation = core_generation(),
		.start_realtime_ns = realtime_ns(),
		.outcome = LUO_HISTORY_CANCELLED,
		.error = -ECANCELED,
	};

	if (core_prepared_ns()) {
		/* it began at PREPARE: that is when the sessions stopped changing */
		e.start_realtime_ns -= now_ns() - core_prepared_ns();
	}
	history_add(&e);
}

void history_restore(const struct luo_msg_history_entry *e, size_t n)
{
	ring.first = ring.n = 0;
	for (size_t i = n > LUO_HISTORY_MAX ? n - LUO_HISTORY_MAX : 0; i < n; i++)
		history_add(&e[i]);
}

static void to_record(const struct luo_msg_history_entry *e, fdt64_t *r)
{
	r[0] = cpu_to_fdt64(e->generation);
	r[1] = cpu_to_fdt64(e->start_realtime_ns);
	r[2] = cpu_to_fdt64(e->prepare_ns);
	r[3] = cpu_to_fdt64(e->freeze_ns);
	r[4] = cpu_to_fdt64(e->blackout_ns);
	r[5] = cpu_to_fdt64(e->files);
	r[6] = cpu_to_fdt64(e->sessions);
	r[7] = cpu_to_fdt64(e->outcome);
	r[8] = cpu_to_fdt64((uint64_t)(int64_t)e->error);
	r[9] = 0; /* reserved */
}

static void from_record(const fdt64_t *r, struct luo_msg_history_entry *e)
{
	memset(e, 0, sizeof(*e));
	e->generation = fdt64_to_cpu(r[0]);
	e->start_realtime_ns = fdt64_to_cpu(r[1]);
	e->prepare_ns = fdt64_to_cpu(r[2]);
	e->freeze_ns = fdt64_to_cpu(r[3]);
	e->blackout_ns = fdt64_to_cpu(r[4]);
	e->files = fdt64_to_cpu(r[5]);
	e->sessions = (uint32_t)fdt64_to_cpu(r[6]);
	e->outcome = (uint32_t)fdt64_to_cpu(r[7]);
	e->error = (int32_t)(int64_t)fdt64_to_cpu(r[8]);
}

int history_fdt_write(void *fdt)
{
	fdt64_t rec[LUO_HISTORY_MAX][RECORD_FIELDS];
	int r;

	for (size_t i = 0; i < ring.n; i++)
		to_record(history_at(i), rec[i]);
	if ((r = fdt_begin_node(fdt, "history")) < 0 ||
	    (r = fdt_property_u32(fdt, "record-size", RECORD_FIELDS * 8)) < 0 ||
	    (r = fdt_property(fdt, "entries", rec, (int)(ring.n * sizeof(rec[0])))) < 0)
		return r;
	return fdt_end_node(fdt);
}

void history_fdt_read(const void *fdt)
{
	int node = fdt_subnode_offset(fdt, 0, "history"), len, size_len;
	const fdt32_t *size;
	const unsigned char *entries;
	size_t rs, n;

	ring.first = ring.n = 0;
	if (node < 0)
		return; /* from a luod without history */
	size = fdt_getprop(fdt, node, "record-size", &size_len);
	entries = fdt_getprop(fdt, node, "entries", &len);
	if (!size || size_len != 4 || !entries || len < 0) {
		log_warn("handover: /history without record-size or entries; history starts empty");
		return;
	}
	rs = fdt32_to_cpu(*size);
	if (rs < RECORD_FIELDS * 8 || rs % 8 || (size_t)len % rs) {
		log_warn("handover: /history record-size %zu does not fit; history starts empty", rs);
		return;
	}
	n = (size_t)len / rs;
	/* the newest LUO_HISTORY_MAX, should a later luod keep more */
	for (size_t i = n > LUO_HISTORY_MAX ? n - LUO_HISTORY_MAX : 0; i < n; i++) {
		fdt64_t rec[RECORD_FIELDS];
		struct luo_msg_history_entry e;

		memcpy(rec, entries + i * rs, sizeof(rec));
		from_record(rec, &e);
		history_add(&e);
	}
}
