// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Writes the seed corpus of the fuzz targets (tests/fuzz/corpus/): a small
 * valid message of every op for fuzz-protocol, and for fuzz-handover a
 * handover blob written by luod's own writer for two frozen sessions of
 * the fds in fuzz-fds.h, with a participant's payload; for
 * fuzz-participant, scripts of steps (see fuzz-participant.c) for the
 * common exchanges and the late answer. Run by hand when
 * the protocol or the blob format changes:
 *   build/tests/fuzz/fuzz-mkcorpus tests/fuzz/corpus
 */
#include <errno.h>
#include <fcntl.h>
#include <libfdt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz-fds.h"
#include "core/luod.h"

/* the core knows the fd types only once they are registered, as luod's main() does */
__attribute__((constructor)) static void register_handlers(void)
{
	handlers_register();
}

static const char *dir;

static int write_file(const char *sub, const char *name, const void *a, size_t alen,
		      const void *b, size_t blen)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, name);
	f = fopen(path, "wb");
	if (!f || fwrite(a, 1, alen, f) != alen || (blen && fwrite(b, 1, blen, f) != blen)) {
		fprintf(stderr, "mkcorpus: %s: %s\n", path, strerror(errno));
		if (f)
			fclose(f);
		return -1;
	}
	return fclose(f) == 0 ? 0 : -1;
}

/* fuzz-protocol input: one byte of fd count, then the record. */
static int msg(const char *name, uint16_t op, int32_t result, const void *body, size_t len,
	       unsigned nfds)
{
	unsigned char buf[1 + sizeof(struct luo_msg_hdr)];
	struct luo_msg_hdr h = {
		.size = (uint32_t)(sizeof(h) + len),
		.version = LUO_PROTO_VERSION,
		.op = op,
		.result = result,
		.nfds = nfds,
	};

	buf[0] = (unsigned char)nfds;
	memcpy(buf + 1, &h, sizeof(h));
	return write_file("protocol", name, buf, sizeof(buf), body, len);
}

static int protocol_corpus(void)
{
	struct luo_msg_name name = { .name = "web" };
	struct luo_msg_event ev = { .event = LUO_EVENT_PREPARE };
	struct luo_msg_list list = { 0 };
	struct luo_msg_show show = { .name = "web" };
	struct luo_msg_token tok = { .token = 7 };
	struct {
		struct luo_msg_tokens h;
		uint64_t t[3];
	} tokens = { .h = { .count = 3 }, .t = { 1, 2, 3 } };
	struct {
		struct luo_msg_payload p;
		char data[5];
	} answer = { .p = { .flags = LUO_PAYLOAD_PRESENT, .len = 5 }, .data = "state" };
	static struct luo_msg_update up = { .flags = LUO_UPDATE_EXEC, .exec_path = "/usr/sbin/luod" };
	struct luo_msg_participant_register reg = { .name = "vmm", .flags = LUO_PARTICIPANT_TAGS };
	struct {
		struct luo_msg_payload_tagged p;
		char data[5];
	} tagged = { .p = { .flags = LUO_PAYLOAD_PRESENT | LUO_PAYLOAD_TAGGED, .len = 5, .tag = 3 },
		     .data = "state" };
	int r = 0;

	r |= msg("create", LUO_OP_CREATE_SESSION, 0, &name, sizeof(name), 0);
	r |= msg("retrieve", LUO_OP_RETRIEVE_SESSION, 0, &name, sizeof(name), 0);
	r |= msg("get-state", LUO_OP_GET_STATE, 0, NULL, 0, 0);
	r |= msg("set-event", LUO_OP_SET_EVENT, 0, &ev, sizeof(ev), 0);
	r |= msg("status", LUO_OP_STATUS, 0, NULL, 0, 0);
	r |= msg("list", LUO_OP_LIST_SESSIONS, 0, &list, sizeof(list), 0);
	r |= msg("show", LUO_OP_SHOW_SESSION, 0, &show, sizeof(show), 0);
	r |= msg("update", LUO_OP_UPDATE, 0, &up, sizeof(up), 0);
	r |= msg("register", LUO_OP_PARTICIPANT_REGISTER, 0, &name, sizeof(name), 0);
	r |= msg("session-update", LUO_OP_SESSION_UPDATE, 0, &name, sizeof(name), 0);
	r |= msg("preserve", LUO_OP_SESSION_PRESERVE, 0, &tokens, sizeof(tokens), 3);
	r |= msg("unpreserve", LUO_OP_SESSION_UNPRESERVE, 0, &tok, sizeof(tok), 0);
	r |= msg("session-retrieve", LUO_OP_SESSION_RETRIEVE, 0, &tokens, sizeof(tokens), 0);
	r |= msg("finish", LUO_OP_SESSION_FINISH, 0, NULL, 0, 0);
	r |= msg("get-name", LUO_OP_SESSION_GET_NAME, 0, NULL, 0, 0);
	r |= msg("session-event", LUO_OP_SESSION_SET_EVENT, 0, &ev, sizeof(ev), 0);
	r |= msg("session-state", LUO_OP_SESSION_GET_STATE, 0, NULL, 0, 0);
	r |= msg("answer", LUO_OP_PARTICIPANT_EVENT, 0, &answer, sizeof(answer), 0);
	r |= msg("answer-error", LUO_OP_PARTICIPANT_EVENT, -EBUSY, &answer, sizeof(answer.p), 0);
	r |= msg("register-tags", LUO_OP_PARTICIPANT_REGISTER, 0, &reg, sizeof(reg), 0);
	r |= msg("answer-tagged", LUO_OP_PARTICIPANT_EVENT, 0, &tagged, sizeof(tagged), 0);
	return r ? -1 : 0;
}

/*
 * A copy of blob with one change: the root's 64-bit prop set to v, or the
 * fd of the second record of session node `session` (1: the first) set to v.
 */
static int edited(const void *blob, size_t len, const char *name, int session, const char *prop,
		  uint64_t v)
{
	size_t cap = len + 256;
	void *e = malloc(cap);
	int r = -1, node;

	if (!e || fdt_open_into(blob, e, (int)cap))
		goto out;
	if (session == 0) {
		if (fdt_setprop_inplace_u64(e, 0, prop, v))
			goto out;
	} else {
		node = fdt_first_subnode(e, fdt_subnode_offset(e, 0, "sessions"));
		while (node >= 0 && --session)
			node = fdt_next_subnode(e, node);
		if (node < 0 || fdt_setprop_inplace_namelen_partial(e, node, prop, (int)strlen(prop),
								    32, &(fdt32_t){ cpu_to_fdt32((uint32_t)v) }, 4))
			goto out;
	}
	fdt_pack(e);
	r = write_file("handover", name, e, fdt_totalsize(e), NULL, 0);
out:
	free(e);
	return r;
}

static int handover_corpus(void)
{
	struct luo_handover_luod h = { .listen_fd = -1, .reply_fd = -1, .updates = 2 };
	struct luo_session *a, *b;
	void *blob;
	size_t len;
	int fds[FUZZ_NFDS], r;

	if (fuzz_fds_setup() < 0)
		return -1;
	for (int i = 0; i < FUZZ_NFDS; i++)
		fds[i] = FUZZ_FD_BASE + i;
	if (core_create_session("web", 1000, &a) < 0 || core_create_session("db", 0, &b) < 0)
		return -1;
	a->handle = b->handle = &h; /* held: FREEZE needs the sessions attached */
	if (session_preserve(a, &fds[0], &(uint64_t){ 1 }, 1) < 0 ||
	    session_preserve(a, &fds[3], &(uint64_t){ 2 }, 1) < 0 ||
	    session_preserve(b, &fds[1], &(uint64_t){ 10 }, 1) < 0 ||
	    session_preserve(b, &fds[2], &(uint64_t){ 11 }, 1) < 0) {
		fprintf(stderr, "mkcorpus: preserving the fuzz fds failed\n");
		return -1;
	}
	if (participant_restore("vmm", "payload", 7) < 0 || core_event(LUO_EVENT_FREEZE) < 0 ||
	    luo_handover_build(&h, &blob, &len) < 0) {
		fprintf(stderr, "mkcorpus: building the blob failed\n");
		return -1;
	}
	r = write_file("handover", "two-sessions", blob, len, NULL, 0);
	/* the refusals of issue 15, as seeds (fuzz-handover.c fixes their checksums) */
	r |= edited(blob, len, "generation-max", 0, "generation", UINT64_MAX);
	r |= edited(blob, len, "fd-twice", 1, "files", FUZZ_FD_BASE);
	free(blob);
	return r;
}

/*
 * fuzz-participant scripts: op byte (its value % 10 is the step, 0x10 a
 * flag), the participant, then the step's operands.
 */
#define REG(i) 0x10, i           /* register with tags */
#define REG_OLD(i) 0, i          /* register without */
#define EVENT(e) 1, 0, e
#define ANSWER(i) 2, i, 0x03, 0  /* tagged, the right tag, no payload */
#define ANSWER_UNTAGGED(i) 2, i, 0x00, 0
#define ANSWER_STALE(i) 2, i, 0x09, 0, 5, 0, 0, 0, 0, 0, 0, 0, 1 /* tag 1, EIO */
#define ANSWER_PAYLOAD(i) 2, i, 0x07, 4, 'a', 'b', 'c', 'd'
#define TWICE(i) 4, i, 0x03, 0
#define LEAVE(i) 5, i
#define TICK 6, 0
#define SEND_FAILS 7, 0
#define RESTORE(i) 8, i, 1

static int script(const char *name, const unsigned char *steps, size_t len)
{
	return write_file("participant", name, steps, len, NULL, 0);
}

static int participant_corpus(void)
{
	static const unsigned char update[] = { REG(0), REG_OLD(1), EVENT(0), ANSWER_PAYLOAD(0),
						ANSWER_UNTAGGED(1), EVENT(1), ANSWER(0), ANSWER_UNTAGGED(1),
						EVENT(3), ANSWER(0), ANSWER_UNTAGGED(1) };
	static const unsigned char late[] = { REG(0), EVENT(0), TICK, EVENT(0), ANSWER_STALE(0),
					      ANSWER(0), EVENT(2), ANSWER(0) };
	static const unsigned char twice[] = { REG(0), REG(1), EVENT(0), TWICE(0), ANSWER(1),
					       EVENT(2), TWICE(1), ANSWER(0) };
	static const unsigned char leave[] = { RESTORE(2), REG(2), REG(3), EVENT(0), LEAVE(3),
					       ANSWER(2), EVENT(1), SEND_FAILS, EVENT(2), ANSWER(2),
					       TICK, LEAVE(2), 9, 0 };
	int r = 0;

	r |= script("update", update, sizeof(update));
	r |= script("late-answer", late, sizeof(late));
	r |= script("answer-twice", twice, sizeof(twice));
	r |= script("leave-and-fail", leave, sizeof(leave));
	return r;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS-DIR\n", argv[0]);
		return 2;
	}
	dir = argv[1];
	return protocol_corpus() < 0 || handover_corpus() < 0 || participant_corpus() < 0 ? 1 : 0;
}
