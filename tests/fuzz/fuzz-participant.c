// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzz target: the participant protocol as luod runs it. Up to four
 * participants (tagged or not) register, rounds of PREPARE, FREEZE, CANCEL
 * and FINISH go out, and the input decides what comes back and when: an
 * answer built from fuzz bytes (with the right tag, a wrong one or none,
 * any result, any payload), raw answer bodies, a failed send,
 * disconnects, deadlines passing, restored payloads. Every answer goes
 * through what luod's server does with a record on a participant's
 * connection (participant_message: request_decode, the tag check,
 * participant_answer).
 *
 * Besides "no crash, no leak, no sanitizer report", asserted:
 *  - an answer whose tag is not that of the awaited event changes nothing;
 *  - no participant waits for an answer outside a round;
 *  - every round started ends exactly once, and deadlines end any round:
 *    a participant can delay an update, never hang it.
 *
 * Input: a sequence of steps, each an op byte and its operands.
 */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/luod.h"
#include "server/request.h"
#include "server/server.h"

/* the core knows the fd types only once they are registered, as luod's main() does */
__attribute__((constructor)) static void register_handlers(void)
{
	handlers_register();
}

#define NPART 4

static const uint8_t *in;
static size_t left;

static unsigned byte(void)
{
	if (!left)
		return 0;
	left--;
	return *in++;
}

static uint64_t u64(void)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | byte();
	return v;
}

static struct conn conns[NPART];
static bool fail_send;
static unsigned rounds_started, rounds_done;

static int fake_send(void *handle, enum luo_event event, unsigned timeout_ms, uint64_t tag)
{
	struct conn *c = handle;

	(void)event;
	(void)timeout_ms;
	assert(c >= conns && c < conns + NPART);
	/* a participant registered with tags always gets one */
	assert(!c->participant || (c->participant->tags == (tag != 0)));
	if (fail_send) {
		fail_send = false;
		return -EPIPE;
	}
	return 0;
}

static void round_done(int result, void *ctx)
{
	(void)ctx;
	assert(result <= 0);
	rounds_done++; /* may come before participant_round() returns: checked after it */
}

static const char *name_of(unsigned i)
{
	static const char *const names[NPART] = { "p0", "p1", "p2", "p3" };

	return names[i % NPART];
}

/* The participant on connection i, or NULL if none is registered there. */
static struct luo_participant *on_conn(unsigned i)
{
	struct luo_participant *p = participant_find(name_of(i));

	return p && p->handle == &conns[i % NPART] ? p : NULL;
}

static void check_invariants(void)
{
	bool active = participant_deadline() != 0;

	for (struct luo_participant *p = participant_first(); p; p = p->next)
		assert(active || !p->waiting);
}

/* One answer record on participant i's connection, as the server hands it over. */
static void deliver(unsigned i, int32_t result, const void *body, size_t len)
{
	static unsigned char msg[sizeof(struct luo_msg_hdr) + LUO_MSG_MAX] __attribute__((aligned(8)));
	struct luo_participant *p = on_conn(i);
	struct luo_msg_hdr h = {
		.size = (uint32_t)(sizeof(h) + len),
		.version = LUO_PROTO_VERSION,
		.op = LUO_OP_PARTICIPANT_EVENT,
		.result = result,
	};
	struct luo_request req;
	bool stale = false;
	enum luo_state state = LUO_STATE_NORMAL;
	bool waiting = false;
	unsigned done = rounds_done;

	if (!p || len > LUO_MSG_MAX)
		return;
	memcpy(msg, &h, sizeof(h));
	memcpy(msg + sizeof(h), body, len);
	/* well-formed, tagged, and not for the event awaited (a malformed one counts as EINVAL) */
	if (request_decode(LUO_CONN_PARTICIPANT, msg, sizeof(h) + len, 0, &req) == 0)
		stale = req.payload.tagged && (!p->waiting || req.payload.tag != p->tag);
	if (stale) {
		state = p->state;
		waiting = p->waiting;
	}
	conns[i % NPART].participant = p;
	participant_message(&conns[i % NPART], msg, sizeof(h) + len);
	if (stale) {
		/* dropped: the participant and the round are as they were */
		assert(on_conn(i) == p && p->state == state && p->waiting == waiting);
		assert(rounds_done == done);
	}
}

static void answer(unsigned i)
{
	struct luo_participant *p = on_conn(i);
	unsigned mode = byte(), n = byte() % 32;
	int32_t result = (mode & 8) ? -(int32_t)(byte() % 134) : 0;
	unsigned char body[sizeof(struct luo_msg_payload_tagged) + 32];
	struct luo_msg_payload_tagged pl = {
		.flags = ((mode & 1) ? LUO_PAYLOAD_TAGGED : 0) | ((mode & 4) ? LUO_PAYLOAD_PRESENT : 0),
		.len = n,
		.tag = (mode & 2) && p ? p->tag : u64(),
	};
	size_t head = (mode & 1) ? sizeof(pl) : sizeof(struct luo_msg_payload);

	memcpy(body, &pl, sizeof(pl)); /* untagged: the data overwrites the tag */
	for (unsigned k = 0; k < n; k++)
		body[head + k] = (unsigned char)byte();
	deliver(i, result, body, head + n);
}

static void raw_answer(unsigned i)
{
	unsigned char body[300];
	size_t n = byte() % sizeof(body);
	int32_t result = (int32_t)(byte() * 0x01010101u);

	for (size_t k = 0; k < n; k++)
		body[k] = (unsigned char)byte();
	deliver(i, result, body, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	in = data;
	left = size;
	log_max_level = LOG_ERR;
	core_set_server(NULL, fake_send);
	rounds_started = rounds_done = 0;
	fail_send = false;
	memset(conns, 0, sizeof(conns));

	for (unsigned steps = 0; left && steps < 512; steps++) {
		unsigned op = byte(), i = byte() % NPART;
		struct luo_participant *p;
		int r;

		switch (op % 10) {
		case 0: /* register, with or without tags */
			if (participant_register(name_of(i), &conns[i], &p) == 0) {
				p->tags = op & 0x10;
				conns[i].participant = p;
			}
			break;
		case 1: /* an event goes out */
			r = participant_round((enum luo_event)(byte() % 4), round_done, NULL);
			assert(r == 0 || r == 1 || r == -EBUSY);
			rounds_started += r == 1;
			assert(rounds_done <= rounds_started);
			break;
		case 2:
			answer(i);
			break;
		case 3:
			raw_answer(i);
			break;
		case 4: /* the same answer again: a duplicate */
			if (left >= 4) {
				const uint8_t *again = in;
				size_t again_left = left;

				answer(i);
				in = again;
				left = again_left;
				answer(i);
			}
			break;
		case 5: /* the participant's process went away */
			p = on_conn(i);
			if (p) {
				conns[i].participant = NULL;
				participant_disconnected(p);
			}
			break;
		case 6: /* time passes: every deadline */
			participant_tick(UINT64_MAX);
			break;
		case 7:
			fail_send = true;
			break;
		case 8: /* a payload handed over for a name nobody holds yet */
			if (!participant_deadline()) /* luod does it before it serves */
				participant_restore(name_of(i), &op, byte() % 2);
			break;
		case 9: /* the core's, after an update or at FINISH: never within a round */
			if (participant_deadline())
				break;
			if (op & 0x10)
				participant_finish_incoming();
			else
				participant_forget_departed();
			for (unsigned k = 0; k < NPART; k++)
				if (conns[k].participant && !on_conn(k))
					conns[k].participant = NULL;
			break;
		}
		check_invariants();
	}
	/* deadlines end whatever round is left: one per target at the most */
	for (unsigned k = 0; k <= NPART && participant_deadline(); k++)
		participant_tick(UINT64_MAX);
	assert(participant_deadline() == 0);
	assert(rounds_done == rounds_started);
	participant_free_all();
	return 0;
}
