// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * DOC: The global live-update state machine.
 *
 *            PREPARE            FREEZE           execve (update.c)
 *   NORMAL ----------> PREPARED -------> FROZEN ------------------> successor
 *     ^  ^                |                 |                         |
 *     |  +----CANCEL------+------CANCEL-----+                     UPDATED
 *     +------------- FINISH, or last incoming session finished -------+
 *
 * PREPARE is valid from NORMAL and UPDATED (an update may start before the
 * previous one's incoming sessions are done; they are released at execve,
 * as the kernel releases them at the next kexec). FREEZE from NORMAL or
 * UPDATED prepares first. Every outgoing session joins the update at
 * PREPARE; CANCEL puts each back in the state it had, except that one whose
 * last handle closed while frozen stays frozen and retrievable by name, so
 * nothing its process left behind is lost. A failed step undoes exactly
 * what it did. Sessions cannot be created while an update is in progress
 * (EBUSY).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "core/luod.h"
#include "core/state.h"
#include "core/observer.h"
#include "base/fault.h"

struct luo_core luo_core = { .state = LUO_STATE_NORMAL };

int core_buf_set(unsigned char **buf, size_t *buf_len, const void *data, size_t len)
{
	unsigned char *copy = malloc(len ? len : 1);

	if (!copy)
		return -ENOMEM;
	memcpy(copy, data, len);
	free(*buf);
	*buf = copy;
	*buf_len = len;
	return 0;
}

enum luo_state core_state(void)
{
	return luo_core.state;
}

uint64_t core_generation(void)
{
	return luo_core.generation;
}

uint64_t core_updates(void)
{
	return luo_core.updates;
}

uint64_t core_instance(void)
{
	return luo_core.instance;
}

uint64_t core_predecessor(void)
{
	return luo_core.predecessor;
}

uint64_t core_started_ns(void)
{
	return luo_core.started_ns;
}

uint64_t core_prepared_ns(void)
{
	return luo_core.prepared_ns;
}

size_t core_session_count(void)
{
	return luo_core.nsessions;
}

size_t core_file_count(void)
{
	return luo_core.nfiles;
}

struct luo_session *core_first_session(void)
{
	return luo_core.sessions;
}


void core_set_started_ns(uint64_t ns)
{
	luo_core.started_ns = ns;
}

void core_clear_prepared(void)
{
	luo_core.prepared_ns = 0;
}

void core_set_server(void (*detach)(void *handle),
		     int (*participant_send)(void *handle, enum luo_event event, unsigned timeout_ms,
					     uint64_t tag))
{
	luo_core.detach = detach;
	luo_core.participant_send = participant_send;
}

void core_adopt_update(uint64_t generation, uint64_t updates, uint64_t predecessor)
{
	luo_core.generation = generation < UINT64_MAX ? generation + 1 : UINT64_MAX;
	luo_core.updates = updates + 1;
	luo_core.predecessor = predecessor;
	luo_core.state = LUO_STATE_UPDATED;
}

void core_notify(void)
{
	observe_changed();
}

struct luo_session *core_find_session(const char *name)
{
	for (struct luo_session *s = luo_core.sessions; s; s = s->next)
		if (!strcmp(s->name, name))
			return s;
	return NULL;
}

struct luo_session *core_incoming_session(const char *name, uid_t uid, bool *added)
{
	struct luo_session *s = core_find_session(name);

	if (added)
		*added = false;
	if (s)
		return s;
	if (session_new(name, uid, true, &s) < 0)
		return NULL;
	core_add_session(s);
	if (added)
		*added = true;
	return s;
}

/* New sessions go to the tail, so listings and the FDT keep creation order. */
void core_add_session(struct luo_session *s)
{
	struct luo_session **pp = &luo_core.sessions, *prev = NULL;

	while (*pp) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	s->prev = prev;
	s->next = NULL;
	*pp = s;
	luo_core.nsessions++;
}

void core_remove_session(struct luo_session *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else if (luo_core.sessions == s)
		luo_core.sessions = s->next;
	else
		return; /* not linked */
	if (s->next)
		s->next->prev = s->prev;
	s->next = s->prev = NULL;
	luo_core.nsessions--;
	if (s->handle && luo_core.detach)
		luo_core.detach(s->handle);
	s->handle = NULL;
}

static bool update_in_progress(void)
{
	return luo_core.state == LUO_STATE_PREPARED || luo_core.state == LUO_STATE_FROZEN;
}

static bool transition_or_update(void)
{
	return luo_core.busy || update_in_progress();
}

bool core_update_in_progress(void)
{
	return transition_or_update();
}

void core_adopt_crash(bool have_lineage, uint64_t generation, uint64_t updates, size_t sessions)
{
	if (have_lineage) {
		if (generation > luo_core.generation)
			luo_core.generation = generation;
		if (updates > luo_core.updates)
			luo_core.updates = updates;
	}
	if (sessions) {
		/* like after an update: every process lost its handles, as in a kexec */
		if (luo_core.generation < UINT64_MAX)
			luo_core.generation++;
		else
			log_warn("generation %" PRIu64 ": the counter cannot go further; kept",
				 luo_core.generation);
		luo_core.state = LUO_STATE_UPDATED;
	}
	core_notify();
}

void core_new_instance(void)
{
	uint64_t id = 0;

	/* never 0 (the "none" of a predecessor); the clock only if getrandom fails */
	while (id == 0)
		if (getrandom(&id, sizeof(id), 0) != (ssize_t)sizeof(id))
			id = now_ns() ^ ((uint64_t)getpid() << 32);
	luo_core.instance = id;
}

int core_create_session(const char *name, uid_t uid, struct luo_session **ret)
{
	struct luo_session *s;
	int r;

	if (transition_or_update())
		return -EBUSY;
	if (core_find_session(name))
		return -EEXIST;
	r = session_new(name, uid, false, &s);
	if (r < 0)
		return r;
	core_add_session(s);
	observe_session_added(s);
	log_info("session %s: created by uid %u", name, (unsigned)uid);
	core_notify();
	*ret = s;
	return 0;
}

int core_retrieve_session(const char *name, uid_t uid, struct luo_session **ret)
{
	struct luo_session *s = core_find_session(name);

	if (!s || (!s->incoming && !session_retrievable(s)))
		return -ENOENT;
	if (uid != 0 && uid != s->uid)
		return -EPERM;
	if (s->incoming && s->retrieved)
		return -EINVAL;
	if (!s->incoming) {
		/* a session handed over in place: it becomes incoming here */
		if (s->in_global_update)
			return -EBUSY;
		s->incoming = true;
		s->state = LUO_STATE_UPDATED;
	}
	s->retrieved = true;
	log_info("session %s: retrieved by uid %u", name, (unsigned)uid);
	core_notify();
	*ret = s;
	return 0;
}

/*
 * Per-session update ("luoctl update --session NAME"): the session alone goes
 * through PREPARE and FREEZE and is taken from the process that holds it;
 * that process sees its handle hang up, as every process does in a global
 * update, and its successor retrieves the session by name. luod does not
 * restart and no other session is touched. On failure the session is back
 * where it was, still held by its process.
 */
int core_update_session(const char *name, uid_t uid, struct luo_session **ret)
{
	struct luo_session *s = core_find_session(name);
	enum luo_state before;
	int r;

	if (!s)
		return -ENOENT;
	if (uid != 0 && uid != s->uid)
		return -EPERM;
	if (s->incoming)
		return -EINVAL;
	if (transition_or_update() || s->in_global_update)
		return -EBUSY;
	before = s->state;
	if (before == LUO_STATE_NORMAL) {
		r = session_prepare(s);
		if (r < 0)
			return r;
	}
	r = session_freeze(s);
	if (r < 0) {
		session_cancel(s, before);
		return r;
	}
	if (s->handle && luo_core.detach)
		luo_core.detach(s->handle);
	s->handle = NULL;
	log_info("session %s: updated on its own (was %s); retrievable by name", name,
		 luo_state_name(before));
	core_notify();
	*ret = s;
	return 0;
}

size_t core_incoming_sessions(void)
{
	size_t n = 0;

	for (struct luo_session *s = luo_core.sessions; s; s = s->next)
		n += s->incoming;
	return n;
}

static void set_state(enum luo_state state)
{
	if (luo_core.state != state)
		log_info("state: %s -> %s", luo_state_name(luo_core.state), luo_state_name(state));
	if (state == LUO_STATE_PREPARED)
		luo_core.prepared_ns = now_ns();
	luo_core.state = state;
	core_notify();
	observe_state_changed();
}

/* The last incoming session finished: the update is complete, tell the participants. */
void core_incoming_done(void)
{
	if (luo_core.state != LUO_STATE_UPDATED || core_incoming_sessions() || luo_core.busy)
		return;
	set_state(LUO_STATE_NORMAL);
	participant_finish_incoming();
	participant_round(LUO_EVENT_FINISH, NULL, NULL);
}

static enum luo_state resting_state(void)
{
	return core_incoming_sessions() ? LUO_STATE_UPDATED : LUO_STATE_NORMAL;
}

/* Newest session first: the reverse of the order PREPARE and FREEZE ran in. */
static void cancel_all(void)
{
	struct luo_session *tail = luo_core.sessions;

	while (tail && tail->next)
		tail = tail->next;
	for (struct luo_session *s = tail; s; s = s->prev) {
		if (!s->in_global_update)
			continue;
		s->in_global_update = false;
		if (s->state == LUO_STATE_FROZEN && !s->handle) {
			log_info("session %s: its process left during the update; held for retrieval",
				 s->name);
			continue;
		}
		session_cancel(s, s->state_before_update);
	}
}

static int prepare_all(void)
{
	for (struct luo_session *s = luo_core.sessions; s; s = s->next) {
		if (s->incoming)
			continue;
		s->state_before_update = s->state;
		s->in_global_update = true;
		if (s->state == LUO_STATE_NORMAL)
			session_prepare(s);
	}
	return 0;
}

static int freeze_all(void)
{
	int r = 0;

	luo_handlers_freeze_round(true); /* what a handler can read for all its files at once */
	file_prefreeze_begin();           /* and what two threads can */
	for (struct luo_session *s = luo_core.sessions; s && r == 0; s = s->next)
		if (s->in_global_update)
			r = session_freeze(s);
	file_prefreeze_end();
	luo_handlers_freeze_round(false);
	return r;
}

/* Release every incoming session: finish what can be, drop the rest. */
void core_release_incoming(void)
{
	struct luo_session *s = luo_core.sessions, *next;

	for (; s; s = next) {
		next = s->next;
		if (!s->incoming)
			continue;
		core_remove_session(s);
		session_free(s);
	}
}

/*
 * One global transition at a time (luo_core.busy). Participants answer
 * asynchronously, so each step ends in a callback; when no participant is
 * registered every step completes inside core_event_async() itself.
 */
static struct {
	enum luo_event event;
	void (*done)(int result, void *ctx);
	void *ctx;
	int error;      /* the failure being unwound */
	bool in_call;   /* still inside core_event_async() */
	bool completed; /* ...and it already completed */
	int result;
} tr;

bool core_busy(void)
{
	return luo_core.busy;
}

static void complete(int result)
{
	void (*done)(int, void *) = tr.done;
	void *ctx = tr.ctx;

	luo_core.busy = false;
	if (tr.in_call) {
		tr.completed = true;
		tr.result = result;
		return;
	}
	if (done)
		done(result, ctx);
}

static void after_unwind(int result, void *ctx)
{
	(void)result; /* a CANCEL cannot fail */
	(void)ctx;
	cancel_all();
	set_state(resting_state());
	complete(tr.error);
}

/* Cancel participants (newest first), then sessions: prepare's order reversed. */
static void unwind(int error)
{
	int r;

	tr.error = error;
	r = participant_round(LUO_EVENT_CANCEL, after_unwind, NULL);
	if (r <= 0)
		after_unwind(0, NULL);
}

static void after_freeze(int result, void *ctx)
{
	(void)ctx;
	if (result < 0) {
		unwind(result);
		return;
	}
	set_state(LUO_STATE_FROZEN);
	luod_test_pause("freeze");
	complete(0);
}

static void freeze_step(void)
{
	int r = freeze_all();

	if (r < 0) {
		unwind(r);
		return;
	}
	r = participant_round(LUO_EVENT_FREEZE, after_freeze, NULL);
	if (r <= 0)
		after_freeze(r, NULL);
}

static void after_prepare(int result, void *ctx)
{
	(void)ctx;
	if (result < 0) {
		unwind(result);
		return;
	}
	set_state(LUO_STATE_PREPARED);
	luod_test_pause("prepare");
	if (tr.event == LUO_EVENT_FREEZE)
		freeze_step();
	else
		complete(0);
}

static void prepare_step(void)
{
	int r = prepare_all();

	if (r < 0) {
		unwind(r);
		return;
	}
	r = participant_round(LUO_EVENT_PREPARE, after_prepare, NULL);
	if (r <= 0)
		after_prepare(r, NULL);
}

static void after_finish(int result, void *ctx)
{
	(void)result; /* a FINISH cannot fail */
	(void)ctx;
	complete(0);
}

static void finish_step(void)
{
	int r;

	core_release_incoming();
	participant_finish_incoming();
	set_state(LUO_STATE_NORMAL);
	r = participant_round(LUO_EVENT_FINISH, after_finish, NULL);
	if (r <= 0)
		after_finish(0, NULL);
}

static int check_transition(enum luo_event event)
{
	enum luo_state state = luo_core.state;

	switch (event) {
	case LUO_EVENT_PREPARE:
		return state == LUO_STATE_NORMAL || state == LUO_STATE_UPDATED ? 0 : -EINVAL;
	case LUO_EVENT_FREEZE:
		return state != LUO_STATE_FROZEN ? 0 : -EINVAL;
	case LUO_EVENT_CANCEL:
		return update_in_progress() ? 0 : -EINVAL;
	case LUO_EVENT_FINISH:
		return state == LUO_STATE_UPDATED ? 0 : -EINVAL;
	}
	return -EINVAL;
}

int core_event_async(enum luo_event event, void (*done)(int result, void *ctx), void *ctx)
{
	int r;

	if (luo_core.busy)
		return -EBUSY;
	r = check_transition(event);
	if (r < 0)
		return r;
	luo_core.busy = true;
	tr = (__typeof__(tr)){ .event = event, .done = done, .ctx = ctx, .in_call = true };
	switch (event) {
	case LUO_EVENT_PREPARE:
		prepare_step();
		break;
	case LUO_EVENT_FREEZE:
		if (luo_core.state == LUO_STATE_PREPARED)
			freeze_step();
		else
			prepare_step();
		break;
	case LUO_EVENT_CANCEL:
		unwind(0);
		break;
	case LUO_EVENT_FINISH:
		finish_step();
		break;
	}
	tr.in_call = false;
	return tr.completed ? tr.result : 1;
}

int core_event(enum luo_event event)
{
	int r = core_event_async(event, NULL, NULL);

	return r == 1 ? -EBUSY : r;
}

void core_free_all(void)
{
	while (luo_core.sessions) {
		struct luo_session *s = luo_core.sessions;

		core_remove_session(s);
		session_free(s);
	}
	luo_index_free(&luo_core.inodes);
	participant_free_all();
}
