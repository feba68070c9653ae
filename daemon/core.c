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
#include <string.h>

#include "luod.h"

struct luo_core luo_core = { .state = LUO_STATE_NORMAL };

void core_notify(void)
{
	if (luo_core.changed)
		luo_core.changed();
}

struct luo_session *core_find_session(const char *name)
{
	for (struct luo_session *s = luo_core.sessions; s; s = s->next)
		if (!strcmp(s->name, name))
			return s;
	return NULL;
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

int core_create_session(const char *name, uid_t uid, struct luo_session **ret)
{
	struct luo_session *s;
	int r;

	if (update_in_progress())
		return -EBUSY;
	if (core_find_session(name))
		return -EEXIST;
	r = session_new(name, uid, false, &s);
	if (r < 0)
		return r;
	core_add_session(s);
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
	luo_core.state = state;
	core_notify();
}

void core_incoming_done(void)
{
	if (luo_core.state == LUO_STATE_UPDATED && core_incoming_sessions() == 0)
		set_state(LUO_STATE_NORMAL);
}

static enum luo_state resting_state(void)
{
	return core_incoming_sessions() ? LUO_STATE_UPDATED : LUO_STATE_NORMAL;
}

static void cancel_all(void)
{
	for (struct luo_session *s = luo_core.sessions; s; s = s->next) {
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
	for (struct luo_session *s = luo_core.sessions; s; s = s->next) {
		int r;

		if (!s->in_global_update)
			continue;
		r = session_freeze(s);
		if (r < 0)
			return r;
	}
	return 0;
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

int core_event(enum luo_event event)
{
	enum luo_state state = luo_core.state;
	int r;

	switch (event) {
	case LUO_EVENT_PREPARE:
		if (state != LUO_STATE_NORMAL && state != LUO_STATE_UPDATED)
			return -EINVAL;
		r = prepare_all();
		if (r < 0)
			return r;
		set_state(LUO_STATE_PREPARED);
		return 0;
	case LUO_EVENT_FREEZE:
		if (state == LUO_STATE_FROZEN)
			return -EINVAL;
		if (state != LUO_STATE_PREPARED) {
			r = core_event(LUO_EVENT_PREPARE);
			if (r < 0)
				return r;
		}
		r = freeze_all();
		if (r < 0) {
			cancel_all();
			set_state(resting_state());
			return r;
		}
		set_state(LUO_STATE_FROZEN);
		return 0;
	case LUO_EVENT_CANCEL:
		if (!update_in_progress())
			return -EINVAL;
		cancel_all();
		set_state(resting_state());
		return 0;
	case LUO_EVENT_FINISH:
		if (state != LUO_STATE_UPDATED)
			return -EINVAL;
		core_release_incoming();
		set_state(LUO_STATE_NORMAL);
		return 0;
	}
	return -EINVAL;
}

void core_free_all(void)
{
	while (luo_core.sessions) {
		struct luo_session *s = luo_core.sessions;

		core_remove_session(s);
		session_free(s);
	}
	luo_index_free(&luo_core.inodes);
}
