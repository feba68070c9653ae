// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * DOC: Participants — the userspace form of the kernel's LUO subsystems.
 *
 * A process registers under a name (luo_participant_register()) and from
 * then on receives the global events PREPARE, FREEZE, CANCEL and FINISH,
 * each with a deadline. It answers 0 or -errno, and with PREPARE or FREEZE
 * it may store a payload (up to 64 KiB) that the update carries in the FDT
 * under /participants/<name> and hands back when a process registers under
 * that name again after the update.
 *
 * One event at a time goes out as a "round":
 *  - PREPARE and FREEZE go to every participant at once; the round fails
 *    with the first error, or ETIMEDOUT for one that misses the deadline, or
 *    ECONNRESET for one that disconnects — never a hang;
 *  - CANCEL goes to those prepared or frozen one at a time, newest first
 *    (reverse registration order), and cannot fail;
 *  - FINISH goes to every participant and cannot fail.
 *
 * A participant that disconnects while an update is in progress keeps its
 * entry (and payload) until the update completes or is cancelled; a
 * participant known only from the handover waits, payload in hand, for a
 * process to register under its name until the next FINISH.
 *
 * A participant registered with LUO_PARTICIPANT_TAGS gets a fresh tag with
 * every event and must answer with it (ops.c drops an answer with another
 * tag): an answer that comes after its deadline, or a second one, is not
 * taken for the answer to the next event. Older participants are untagged.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/luod.h"
#include "core/state.h"

static struct luo_participant *participants; /* registration order */
static size_t nparticipants;
unsigned participant_timeout_ms = 5000;

static struct {
	bool active;
	bool sequential;
	enum luo_event event;
	int result;
	uint64_t deadline_ns;
	struct luo_participant **targets;
	size_t ntargets;
	size_t next;    /* sequential: the next target to send to */
	size_t waiting; /* answers still expected */
	void (*done)(int result, void *ctx);
	void *ctx;
} round;

struct luo_participant *participant_first(void)
{
	return participants;
}

size_t participant_count(void)
{
	return nparticipants;
}

struct luo_participant *participant_find(const char *name)
{
	for (struct luo_participant *p = participants; p; p = p->next)
		if (!strcmp(p->name, name))
			return p;
	return NULL;
}

static int participant_new(const char *name, struct luo_participant **ret)
{
	struct luo_participant *p = calloc(1, sizeof(*p)), **pp;

	if (!p)
		return -ENOMEM;
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->state = LUO_STATE_NORMAL;
	for (pp = &participants; *pp; pp = &(*pp)->next)
		;
	*pp = p;
	nparticipants++;
	*ret = p;
	return 0;
}

static void participant_free(struct luo_participant *p)
{
	struct luo_participant **pp;

	for (pp = &participants; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			nparticipants--;
			break;
		}
	free(p->payload);
	free(p->incoming);
	free(p);
}

int participant_set_payload(struct luo_participant *p, const void *data, size_t len)
{
	int r;

	if (len > LUO_PARTICIPANT_PAYLOAD_MAX)
		return -EOVERFLOW;
	r = core_buf_set(&p->payload, &p->payload_len, data, len);
	if (r == 0)
		p->has_payload = true;
	return r;
}

int participant_restore(const char *name, const void *payload, size_t len)
{
	struct luo_participant *p;
	int r;

	if (participant_find(name))
		return -EEXIST;
	r = participant_new(name, &p);
	if (r < 0)
		return r;
	p->incoming = malloc(len ? len : 1);
	if (!p->incoming) {
		participant_free(p);
		return -ENOMEM;
	}
	memcpy(p->incoming, payload, len);
	p->incoming_len = len;
	p->has_incoming = true;
	return 0;
}

int participant_register(const char *name, void *handle, struct luo_participant **ret)
{
	struct luo_participant *p = participant_find(name);
	int r;

	if (p && p->handle)
		return -EEXIST;
	if (core_busy() || luo_core.state == LUO_STATE_PREPARED || luo_core.state == LUO_STATE_FROZEN)
		return -EBUSY; /* joining halfway through an update would skip its PREPARE */
	if (!p) {
		r = participant_new(name, &p);
		if (r < 0)
			return r;
	}
	p->handle = handle;
	p->state = LUO_STATE_NORMAL;
	log_info("participant %s: registered%s", name,
		 p->has_incoming ? ", payload from before the update handed back" : "");
	*ret = p;
	return 0;
}

/* ---- rounds ---- */

static void round_send(struct luo_participant *p)
{
	static uint64_t last_tag;
	int r;

	/* unique per event sent by this luod: a late answer carries an older one */
	p->tag = p->tags ? ++last_tag : 0;
	r = luo_core.participant_send(p->handle, round.event, participant_timeout_ms, p->tag);

	p->waiting = true;
	round.waiting++;
	if (r < 0) {
		log_warn("participant %s: sending %s: %s", p->name, luo_event_name(round.event),
			 strerror(-r));
		participant_answer(p, r, NULL, 0, false);
	}
}

static void round_send_next(void)
{
	round.deadline_ns = now_ns() + (uint64_t)participant_timeout_ms * 1000000u;
	while (round.next < round.ntargets) {
		struct luo_participant *p = round.targets[round.next++];

		if (!p->handle)
			continue; /* left already: nothing to tell it */
		round_send(p);
		if (round.sequential)
			return;
	}
}

static void round_end(void)
{
	void (*done)(int, void *) = round.done;
	void *ctx = round.ctx;
	int result = round.result;

	enum luo_event event = round.event;

	free(round.targets);
	memset(&round, 0, sizeof(round));
	if (event == LUO_EVENT_CANCEL || event == LUO_EVENT_FINISH)
		participant_forget_departed();
	if (done)
		done(result, ctx);
}

static bool is_target(const struct luo_participant *p, enum luo_event event)
{
	switch (event) {
	case LUO_EVENT_PREPARE:
	case LUO_EVENT_FINISH:
		return p->handle != NULL;
	case LUO_EVENT_FREEZE:
		return p->handle && p->state == LUO_STATE_PREPARED;
	case LUO_EVENT_CANCEL:
		return p->state == LUO_STATE_PREPARED || p->state == LUO_STATE_FROZEN;
	}
	return false;
}

int participant_round(enum luo_event event, void (*done)(int result, void *ctx), void *ctx)
{
	size_t n = 0;

	if (round.active)
		return -EBUSY;
	for (struct luo_participant *p = participants; p; p = p->next)
		n += is_target(p, event);
	if (n == 0) {
		if (event == LUO_EVENT_CANCEL)
			participant_forget_departed();
		return 0;
	}
	round.targets = calloc(n, sizeof(*round.targets));
	if (!round.targets)
		return -ENOMEM;
	for (struct luo_participant *p = participants; p; p = p->next)
		if (is_target(p, event))
			round.targets[round.ntargets++] = p;
	if (event == LUO_EVENT_CANCEL) {
		/* newest first */
		for (size_t i = 0; i < n / 2; i++) {
			struct luo_participant *t = round.targets[i];

			round.targets[i] = round.targets[n - 1 - i];
			round.targets[n - 1 - i] = t;
		}
		round.sequential = true;
	}
	round.active = true;
	round.event = event;
	round.done = done;
	round.ctx = ctx;
	log_info("participants: %s to %zu", luo_event_name(event), n);
	round_send_next();
	if (round.active && round.waiting == 0 && round.next >= round.ntargets)
		round_end(); /* every target had left */
	return 1;
}

static void apply_answer(struct luo_participant *p, int result)
{
	if (round.event == LUO_EVENT_CANCEL) {
		p->state = LUO_STATE_NORMAL;
		if (result < 0)
			log_warn("participant %s: cancel answered %s; it is back in normal anyway",
				 p->name, strerror(-result));
		return;
	}
	if (round.event == LUO_EVENT_FINISH) {
		if (result < 0)
			log_warn("participant %s: finish answered %s", p->name, strerror(-result));
		return;
	}
	if (result < 0) {
		log_warn("participant %s: %s failed: %s", p->name, luo_event_name(round.event),
			 strerror(-result));
		if (round.result == 0)
			round.result = result;
		return;
	}
	p->state = round.event == LUO_EVENT_PREPARE ? LUO_STATE_PREPARED : LUO_STATE_FROZEN;
}

void participant_answer(struct luo_participant *p, int result, const void *payload, size_t len,
			bool has_payload)
{
	if (!round.active || !p->waiting) {
		log_warn("participant %s: unexpected answer ignored", p->name);
		return;
	}
	p->waiting = false;
	if (result == 0 && has_payload &&
	    (round.event == LUO_EVENT_PREPARE || round.event == LUO_EVENT_FREEZE)) {
		int r = participant_set_payload(p, payload, len);

		if (r < 0)
			result = r;
	}
	apply_answer(p, result);
	round.waiting--;
	if (round.sequential && round.waiting == 0 && round.next < round.ntargets)
		round_send_next();
	if (round.waiting == 0 && round.next >= round.ntargets)
		round_end();
}

/* The answer may end the round, and its callbacks may free p: decide first. */
void participant_disconnected(struct luo_participant *p)
{
	bool waiting = p->waiting;

	p->handle = NULL;
	if (waiting) {
		log_warn("participant %s: disconnected during %s", p->name, luo_event_name(round.event));
		participant_answer(p, -ECONNRESET, NULL, 0, false);
		return; /* p may be gone */
	}
	if (p->state == LUO_STATE_PREPARED || p->state == LUO_STATE_FROZEN) {
		log_info("participant %s: left during the update; its payload stays", p->name);
		return;
	}
	log_info("participant %s: left", p->name);
	if (!p->has_incoming && !round.active)
		participant_free(p);
}

/* After an update ends without execve: entries whose process has gone are dropped. */
void participant_forget_departed(void)
{
	struct luo_participant *p = participants, *next;

	for (; p; p = next) {
		next = p->next;
		if (!p->handle && !p->has_incoming)
			participant_free(p);
	}
}

void participant_tick(uint64_t now)
{
	if (!round.active || now < round.deadline_ns)
		return;
	for (size_t i = 0; i < round.ntargets && round.active; i++) {
		struct luo_participant *p = round.targets[i];

		if (p->waiting) {
			log_warn("participant %s: no answer to %s within %u ms", p->name,
				 luo_event_name(round.event), participant_timeout_ms);
			participant_answer(p, -ETIMEDOUT, NULL, 0, false);
		}
	}
}

uint64_t participant_deadline(void)
{
	return round.active ? round.deadline_ns : 0;
}

/* Global FINISH: payloads from before the update are spent. */
void participant_finish_incoming(void)
{
	struct luo_participant *p = participants, *next;

	for (; p; p = next) {
		next = p->next;
		free(p->incoming);
		p->incoming = NULL;
		p->incoming_len = 0;
		p->has_incoming = false;
		if (!p->handle)
			participant_free(p);
	}
}

void participant_free_all(void)
{
	free(round.targets);
	memset(&round, 0, sizeof(round));
	while (participants)
		participant_free(participants);
}
