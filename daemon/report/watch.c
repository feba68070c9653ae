// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * DOC: State changes as events (`luoctl watch`, the sysfs-poll equivalent).
 *
 * luod's global state and the steps of a live update are reported where
 * they happen (core.c and update.c call in). Sessions and participants
 * change in many places, so instead of a call at each, watch_scan()
 * compares them with what the watchers were last told and reports the
 * difference; the server runs it after every pass of its loop, and the
 * update runs it before the execve, so nothing is missed that lasted
 * until luod looked again. Sessions are matched by pointer and name through
 * an index, so a scan is linear in the number of sessions. Nothing here
 * runs (and nothing is kept) while nobody watches.
 */
#include <stdlib.h>
#include <string.h>

#include "core/luod.h"
#include "report/history.h"
#include "report/watch.h"

/* Where events go (the server's watchers), or nowhere. */
static struct {
	void (*send)(const struct luo_msg_watch_event *ev, void *ctx);
	void *ctx;
} sink;

void watch_set_sink(void (*send)(const struct luo_msg_watch_event *ev, void *ctx), void *ctx)
{
	sink.send = send;
	sink.ctx = ctx;
}

struct seen {
	const void *ptr;
	char name[LUO_NAME_MAX];
	uint32_t state;
	uint32_t flags;
	uint32_t files;
	bool alive; /* found again by this scan */
};

static struct {
	struct seen *sessions;
	size_t nsessions, cap;
	struct luo_index by_ptr; /* session pointer -> index + 1 in sessions */
	struct seen *participants;
	size_t nparticipants, pcap;
	bool primed;
} w;

static void emit(struct luo_msg_watch_event *ev)
{
	ev->generation = core_generation();
	ev->realtime_ns = realtime_ns();
	if (sink.send)
		sink.send(ev, sink.ctx);
}

void watch_global(void)
{
	struct luo_msg_watch_event ev = { .kind = LUO_WATCH_GLOBAL, .state = core_state() };

	if (!sink.send)
		return;
	watch_scan(); /* sessions first: they changed on the way to this state */
	emit(&ev);
}

void watch_update_step(enum luo_update_step step, int result)
{
	struct luo_msg_watch_event ev = {
		.kind = LUO_WATCH_UPDATE,
		.state = core_state(),
		.step = step,
		.result = result,
		.files = (uint32_t)core_session_count(),
	};

	if (!sink.send)
		return;
	watch_scan();
	emit(&ev);
}

static void session_seen(const struct luo_session *s, struct seen *out)
{
	memset(out, 0, sizeof(*out));
	out->ptr = s;
	memcpy(out->name, s->name, sizeof(out->name));
	out->state = s->state;
	out->flags = (s->incoming ? LUO_WATCH_INCOMING : 0) | (s->handle ? LUO_WATCH_ATTACHED : 0);
	out->files = (uint32_t)s->nfiles;
	out->alive = true;
}

static void participant_seen(const struct luo_participant *p, struct seen *out)
{
	memset(out, 0, sizeof(*out));
	out->ptr = p;
	memcpy(out->name, p->name, sizeof(out->name));
	out->state = p->state;
	out->flags = p->waiting ? LUO_WATCH_WAITING : 0;
	out->alive = true;
}

/* The event that tells of what s records, its flags and extra. */
static void seen_event(uint32_t kind, const struct seen *s, uint32_t extra,
		       struct luo_msg_watch_event *ev)
{
	*ev = (struct luo_msg_watch_event){
		.kind = kind,
		.state = s->state,
		.flags = s->flags | extra,
		.files = s->files,
	};
	memcpy(ev->name, s->name, sizeof(ev->name));
}

static void emit_seen(uint32_t kind, const struct seen *s, uint32_t extra)
{
	struct luo_msg_watch_event ev;

	seen_event(kind, s, extra, &ev);
	emit(&ev);
}

static bool differs(const struct seen *a, const struct seen *b)
{
	return a->state != b->state || a->flags != b->flags || a->files != b->files ||
	       strcmp(a->name, b->name) != 0;
}

/* Rebuild the record of sessions from now; returns false when out of memory. */
static bool scan_sessions(void)
{
	size_t n = core_session_count(), i = 0;
	struct seen *now = calloc(n ? n : 1, sizeof(*now));
	struct luo_index idx = { 0 };

	if (!now)
		return false;
	for (struct luo_session *s = core_first_session(); s && i < n; s = s->next, i++) {
		uintptr_t at = (uintptr_t)luo_index_get(&w.by_ptr, (uint64_t)(uintptr_t)s);

		session_seen(s, &now[i]);
		if (at && !strcmp(w.sessions[at - 1].name, s->name)) {
			w.sessions[at - 1].alive = false; /* matched: not gone */
			if (differs(&w.sessions[at - 1], &now[i]))
				emit_seen(LUO_WATCH_SESSION, &now[i], 0);
		} else {
			emit_seen(LUO_WATCH_SESSION, &now[i], 0);
		}
		if (luo_index_put(&idx, (uint64_t)(uintptr_t)s, (void *)(uintptr_t)(i + 1)) < 0) {
			free(now);
			luo_index_free(&idx);
			return false;
		}
	}
	/* what was seen and not matched is gone ("alive" was set when it was recorded) */
	for (size_t j = 0; j < w.nsessions; j++)
		if (w.sessions[j].alive)
			emit_seen(LUO_WATCH_SESSION, &w.sessions[j], LUO_WATCH_GONE);
	free(w.sessions);
	luo_index_free(&w.by_ptr);
	w.sessions = now;
	w.nsessions = i;
	w.by_ptr = idx;
	return true;
}

static bool scan_participants(void)
{
	size_t n = participant_count(), i = 0;
	struct seen *now = calloc(n ? n : 1, sizeof(*now));

	if (!now)
		return false;
	for (struct luo_participant *p = participant_first(); p && i < n; p = p->next, i++) {
		bool found = false;

		participant_seen(p, &now[i]);
		for (size_t j = 0; j < w.nparticipants && !found; j++) {
			struct seen *old = &w.participants[j];

			if (old->ptr != p || strcmp(old->name, p->name))
				continue;
			found = true;
			old->alive = false;
			if (differs(old, &now[i]))
				emit_seen(LUO_WATCH_PARTICIPANT, &now[i], 0);
		}
		if (!found)
			emit_seen(LUO_WATCH_PARTICIPANT, &now[i], 0);
	}
	for (size_t j = 0; j < w.nparticipants; j++)
		if (w.participants[j].alive)
			emit_seen(LUO_WATCH_PARTICIPANT, &w.participants[j], LUO_WATCH_GONE);
	free(w.participants);
	w.participants = now;
	w.nparticipants = i;
	return true;
}

void watch_scan(void)
{
	if (!sink.send)
		return;
	if (!w.primed) {
		/* the first watcher got a snapshot: record it silently */
		void (*send)(const struct luo_msg_watch_event *, void *) = sink.send;

		sink.send = NULL;
		scan_sessions();
		scan_participants();
		sink.send = send;
		w.primed = true;
		return;
	}
	if (!scan_sessions() || !scan_participants())
		log_warn("watch: out of memory; some changes were not reported");
}

/* One event of a snapshot, all of them stamped with the same time. */
static void snapshot_one(uint32_t kind, const struct seen *s, uint64_t now,
			 void (*send)(const struct luo_msg_watch_event *ev, void *ctx), void *ctx)
{
	struct luo_msg_watch_event ev;

	seen_event(kind, s, LUO_WATCH_SNAPSHOT, &ev);
	ev.generation = core_generation();
	ev.realtime_ns = now;
	send(&ev, ctx);
}

void watch_snapshot(void (*send)(const struct luo_msg_watch_event *ev, void *ctx), void *ctx)
{
	struct luo_msg_watch_event ev = { .kind = LUO_WATCH_GLOBAL,
					  .state = core_state(),
					  .flags = LUO_WATCH_SNAPSHOT };
	uint64_t now = realtime_ns();

	ev.generation = core_generation();
	ev.realtime_ns = now;
	send(&ev, ctx);
	for (struct luo_session *s = core_first_session(); s; s = s->next) {
		struct seen seen;

		session_seen(s, &seen);
		snapshot_one(LUO_WATCH_SESSION, &seen, now, send, ctx);
	}
	for (struct luo_participant *p = participant_first(); p; p = p->next) {
		struct seen seen;

		participant_seen(p, &seen);
		snapshot_one(LUO_WATCH_PARTICIPANT, &seen, now, send, ctx);
	}
}

void watch_reset(void)
{
	free(w.sessions);
	free(w.participants);
	luo_index_free(&w.by_ptr);
	memset(&w, 0, sizeof(w));
}
