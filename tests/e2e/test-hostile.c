// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Hostile clients, beyond what test-badpeer.c, test-protocol.c and
 * test-isolation.c try: a real luod as root with its socket open to every
 * uid, and clients (root, or other uids: forked children that setuid
 * before they connect) that stall, never read, hand luod fds it must not
 * trust, or die with replies in flight:
 *  - the requester of an update that leaves its answers unread, before it
 *    asks or while the update waits for a participant: luod and its
 *    successor never wait for it, and its answers come in order, the
 *    update's among them, also when the update fails;
 *  - another uid's connections that stall (half a header, silence,
 *    requests never read, on a device connection, a session handle, a
 *    reply channel): everyone else is served;
 *  - a client killed with session handles and memfds in replies it never
 *    read: nothing of it stays in luod;
 *  - another uid's privileged requests, plain and through reply channels;
 *    reply channels that are no fresh socketpair end;
 *  - another uid's kept replies cannot take the top of luod's fd table;
 *  - luod run as another uid: its uid's rights, and a third uid's;
 *  - names meant for root's terminal, through every luoctl command that
 *    shows names (dump --dts included);
 *  - tokens repeated inside one message;
 *  - a seeded stream of random requests from root and another uid;
 *  - another uid's file on a FUSE it mounted in its own user+mount
 *    namespace, whose server stops answering once the file is open (no
 *    FLUSH answered): preserve is refused (EACCES) and luod's close() of
 *    it waits on a closer, not on luod's loop, and an update meanwhile
 *    completes (its execve waits for no close); the same FUSE
 *    mounted as fusermount mounts it with allow_other, whose GETATTR and
 *    STATFS too go unanswered: the preserve is answered (statx
 *    AT_STATX_DONT_SYNC, no fstatfs) and luod's and the keeper's closes
 *    wait off their loops;
 *  - another uid's TCP connection with SO_LINGER, unsent data and a peer
 *    that does not read, preserved and let go of: the last closes (luod's,
 *    the keeper's) linger off their loops, and luod keeps its keeper.
 * After each, luod serves a well-behaved client and every session it held
 * before is intact.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "e2e.h"
#include "protocol.h"

#define UID_A 65534 /* nobody */
#define UID_B 65533
#define GID_A 65534

#define HDR sizeof(struct luo_msg_hdr)

static struct luod_proc d;

static int teardown(void **state)
{
	(void)state;
	if (d.pid <= 0)
		return 0;
	assert_true(luod_alive(&d));
	luod_stop(&d);
	return 0;
}

/* luod with its socket open to every uid. */
static void start_open(void)
{
	luod_start(&d, "--socket-mode", "0666", NULL);
	assert_int_equal(chmod(d.dir, 0711), 0);
}

/* A session of root's with two memfds, checked after every attack. */
struct ref {
	int dev, s, fds[2];
	const char *name;
};

static void ref_make(struct ref *r, const char *name)
{
	r->name = name;
	r->dev = e2e_open(&d);
	r->s = luo_create_session(r->dev, name);
	assert_true(r->s >= 0);
	for (int i = 0; i < 2; i++) {
		r->fds[i] = memfd_pattern(name, 8192, 40 + (uint32_t)i);
		assert_int_equal(luo_session_preserve_fd(r->s, r->fds[i], 100 + (uint64_t)i), 0);
	}
}

static void ref_intact(const struct ref *r)
{
	char got[LUO_NAME_MAX] = "";

	assert_int_equal(luo_session_get_name(r->s, got), 0);
	assert_string_equal(got, r->name);
	assert_int_equal(e2e_session_files(&d, r->name), 2);
	for (int i = 0; i < 2; i++)
		assert_true(memfd_pattern_ok(r->fds[i], 8192, 40 + (uint32_t)i));
}

static void ref_drop(struct ref *r)
{
	close(r->s);
	close(r->dev);
	for (int i = 0; i < 2; i++)
		close(r->fds[i]);
	e2e_barrier(&d);
}

/* A request of our making, raw, on sock. */
static void send_req(int sock, uint16_t op, const void *body, size_t len, const int *fds,
		     size_t nfds)
{
	assert_int_equal(luo_msg_send(sock, op, 0, body, len, fds, nfds), 0);
}

/*
 * Whether luod, within seconds, answers a fresh client that its state is
 * want (-1: any) and, with create, lets it make a session: in a child under alarm(), so that a
 * luod that hangs fails the test instead of hanging it.
 */
static bool served_within(unsigned seconds, int want, bool create)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		enum luo_state st = LUO_STATE_NORMAL;
		int dev, s;

		alarm(seconds);
		for (;;) {
			dev = luo_open(d.sock);
			if (dev >= 0 && luo_get_state(dev, &st) == 0 && (want < 0 || (int)st == want))
				break;
			if (dev >= 0)
				close(dev);
			usleep(10000);
		}
		s = create ? luo_create_session(dev, "served-within") : 0;
		_exit(s >= 0 ? 0 : 1);
	}
	return e2e_wait(pid) == 0;
}

/* Bytes queued to be read on sock. */
static int inq(int sock)
{
	int n = -1;

	assert_int_equal(ioctl(sock, SIOCINQ, &n), 0);
	return n;
}

/* Bytes sent on sock that its peer has not read yet. */
static int outq(int sock)
{
	int n = -1;

	assert_int_equal(ioctl(sock, SIOCOUTQ, &n), 0);
	return n;
}

/* e2e_settle(1) in a child under alarm(): false if luod did not get through a pass. */
static bool settle_within(unsigned seconds)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		struct luo_msg_hdr h;
		unsigned char rx[HDR + 64];
		int fds[LUO_FDS_PER_MSG], dev;
		size_t nfds;

		alarm(seconds);
		dev = luo_open(d.sock);
		if (dev < 0 || luo_msg_send(dev, LUO_OP_GET_STATE, 0, NULL, 0, NULL, 0) < 0 ||
		    luo_msg_recv(dev, rx, sizeof(rx), fds, LUO_FDS_PER_MSG, &nfds) < (ssize_t)sizeof(h))
			_exit(1);
		_exit(0);
	}
	return e2e_wait(pid) == 0;
}

/*
 * Requests on c that luod answers, without reading one answer, until the
 * next answer no longer fits and luod keeps it for later; the number
 * answered at once.
 */
static int fill_replies(int c)
{
	int n = 0, before = inq(c);

	for (;;) {
		send_req(c, LUO_OP_GET_STATE, NULL, 0, NULL, 0);
		e2e_settle(&d, 1); /* luod handled it: answered, or kept the answer */
		if (inq(c) == before)
			return n;
		before = inq(c);
		n++;
		assert_true(n < 100000);
	}
}

/*
 * The requester of an update has every answer luod sent it still unread,
 * so the update's answer does not fit: the successor must not wait for the
 * requester to read (nobody else would be served), and the answer still
 * comes when it does.
 */
static void test_update_requester_not_reading(void **state)
{
	static unsigned char rx[HDR + LUO_MSG_MAX];
	static struct luo_msg_update up;
	struct ref r;
	int c, answered, fds[LUO_FDS_PER_MSG], n_state = 0;
	struct luo_msg_hdr h;
	bool served, updated = false;
	size_t nfds;

	(void)state;
	luod_start(&d, NULL);
	ref_make(&r, "before-update");
	c = e2e_open(&d);
	answered = fill_replies(c);
	assert_true(answered > 0);
	/* read them all, the one luod kept included: the connection is empty again */
	for (int i = 0; i < answered + 1; i++)
		assert_true(luo_msg_recv(c, rx, sizeof(rx), fds, LUO_FDS_PER_MSG, &nfds) > 0);
	/* as many answers as fit, unread, then the update: its answer does not fit */
	for (int i = 0; i < answered; i++)
		send_req(c, LUO_OP_GET_STATE, NULL, 0, NULL, 0);
	send_req(c, LUO_OP_UPDATE, &up, sizeof(up), NULL, 0);
	served = served_within(60, LUO_STATE_UPDATED, true);
	/* whatever happened, the requester reads now (a blocked successor goes on) */
	for (;;) {
		ssize_t n = luo_msg_recv(c, rx, sizeof(rx), fds, LUO_FDS_PER_MSG, &nfds);

		if (n <= 0)
			break;
		memcpy(&h, rx, HDR);
		if (h.op == LUO_OP_GET_STATE) {
			n_state++;
			continue;
		}
		assert_int_equal(h.op, LUO_OP_UPDATE);
		assert_int_equal(h.result, 0);
		updated = true;
		break;
	}
	close(c);
	assert_true(served);
	assert_int_equal(n_state, answered);
	assert_true(updated); /* the answer was kept, not dropped */
	assert_int_equal(luod_status_field(&d, "generation"), 1);
	/* the session crossed intact */
	close(r.s);
	close(r.dev);
	r.dev = e2e_open(&d);
	r.s = luo_retrieve_session(r.dev, "before-update");
	assert_true(r.s >= 0);
	for (int i = 0; i < 2; i++) {
		int fd = luo_session_retrieve_fd(r.s, 100 + (uint64_t)i);

		assert_true(fd >= 0);
		assert_true(memfd_pattern_ok(fd, 8192, 40 + (uint32_t)i));
		close(fd);
	}
	assert_int_equal(luo_session_finish(r.s), 0);
	ref_drop(&r);
}

/*
 * The same requester while its update waits for a participant's answer:
 * it goes on sending requests and reads none. luod must not block on its
 * answers (its connection is the one that crosses execve): everyone else
 * is served meanwhile. Then the participant answers (answer): the update
 * goes through or fails, and the requester reads its answers, the
 * update's among them, in order. Returns the number of requests sent
 * after the update's.
 */
static int flood_while_waiting(int c, int p, int answer)
{
	static struct luo_msg_update up;
	int flags, sent = 0;
	enum luo_event ev;
	uint32_t timeout_ms;
	bool served = true;

	send_req(c, LUO_OP_UPDATE, &up, sizeof(up), NULL, 0);
	assert_int_equal(luo_participant_next_event(p, &ev, &timeout_ms), 0);
	assert_int_equal(ev, LUO_EVENT_PREPARE);
	/* luod waits for "slow"; the requester sends more than its answers can fill, reads none */
	flags = fcntl(c, F_GETFL);
	assert_int_equal(fcntl(c, F_SETFL, flags | O_NONBLOCK), 0);
	for (int i = 0;; i++) {
		int r = luo_msg_send(c, LUO_OP_GET_STATE, 0, NULL, 0, NULL, 0), before;

		assert_true(r == 0 || r == -EAGAIN);
		sent += r == 0;
		if (r == 0 && i % 64)
			continue;
		before = outq(c);
		if (!settle_within(60)) {
			served = false; /* luod blocked on c */
			break;
		}
		if (r == -EAGAIN && outq(c) == before)
			break; /* luod no longer reads c: it keeps an answer that did not fit */
	}
	assert_int_equal(fcntl(c, F_SETFL, flags), 0);
	served = served && served_within(60, -1, false);
	if (!served) {
		close(c); /* what luod blocks on: it goes on */
		close(p);
		fail_msg("luod served nobody while the update's requester did not read");
	}
	assert_int_equal(luo_participant_reply(p, answer, NULL, 0), 0);
	return sent;
}

/* Answers on c up to the update's, which must have result; the GET_STATE answers before it. */
static int read_to_update(int c, int result)
{
	static unsigned char rx[HDR + LUO_MSG_MAX];
	int fds[LUO_FDS_PER_MSG], n_state = 0;
	size_t nfds;

	for (;;) {
		struct luo_msg_hdr h;
		ssize_t n = luo_msg_recv(c, rx, sizeof(rx), fds, LUO_FDS_PER_MSG, &nfds);

		assert_true(n > 0);
		memcpy(&h, rx, HDR);
		if (h.op == LUO_OP_GET_STATE) {
			n_state++;
			continue;
		}
		assert_int_equal(h.op, LUO_OP_UPDATE);
		assert_int_equal(h.result, result);
		return n_state;
	}
}

static void test_update_requester_floods_while_waiting(void **state)
{
	enum luo_event ev;
	uint32_t timeout_ms;
	int c, p;

	(void)state;
	luod_start(&d, "--participant-timeout", "120000", NULL);
	p = e2e_open(&d);
	assert_true(luo_participant_register(p, "slow", NULL, 0) >= 0);
	c = e2e_open(&d);
	flood_while_waiting(c, p, 0);
	/* FREEZE next; then the update's execve drops every connection but the requester's */
	while (luo_participant_next_event(p, &ev, &timeout_ms) == 0)
		assert_int_equal(luo_participant_reply(p, 0, NULL, 0), 0);
	close(p);
	/*
	 * The answer luod kept when the execve came is lost with the old
	 * process (as every request in flight on other connections is); the
	 * successor answers the update and serves what the requester sent on.
	 */
	assert_true(read_to_update(c, 0) > 0);
	close(c);
	assert_int_equal(luod_status_field(&d, "generation"), 1);
}

/*
 * The update fails (the participant says EIO) while luod keeps an answer
 * for its requester: both reach it, in order, and so do the answers to
 * everything it sent after; nothing is lost or answered twice.
 */
static void test_update_fails_behind_kept_reply(void **state)
{
	static unsigned char rx[HDR + LUO_MSG_MAX];
	struct luo_msg_list list = { 0 };
	int c, p, sent, n_state, fds[LUO_FDS_PER_MSG];
	struct luo_msg_hdr h;
	size_t nfds;

	(void)state;
	luod_start(&d, "--participant-timeout", "120000", NULL);
	p = e2e_open(&d);
	assert_true(luo_participant_register(p, "slow", NULL, 0) >= 0);
	c = e2e_open(&d);
	sent = flood_while_waiting(c, p, -EIO);
	/* the update has failed before the requester reads: its answer comes behind the kept one */
	e2e_barrier(&d);
	e2e_assert_state(&d, "normal");
	n_state = read_to_update(c, -EIO);
	assert_true(n_state > 0);
	/* the rest, up to a request of another kind sent last */
	send_req(c, LUO_OP_LIST_SESSIONS, &list, sizeof(list), NULL, 0);
	for (;;) {
		assert_true(luo_msg_recv(c, rx, sizeof(rx), fds, LUO_FDS_PER_MSG, &nfds) > 0);
		memcpy(&h, rx, HDR);
		if (h.op != LUO_OP_GET_STATE)
			break;
		n_state++;
	}
	assert_int_equal(h.op, LUO_OP_LIST_SESSIONS);
	assert_int_equal(n_state, sent);
	close(c);
	close(p);
	e2e_assert_state(&d, "normal");
	assert_int_equal(luod_status_field(&d, "generation"), 0);
}

/* A child of another uid and the test, in step over two pipes. */
struct child {
	pid_t pid;
	int to[2], from[2];
};

static void child_start(struct child *ch, uid_t uid, void (*fn)(void *))
{
	char c;

	assert_int_equal(pipe(ch->to), 0);
	assert_int_equal(pipe(ch->from), 0);
	ch->pid = e2e_fork_as(uid, uid == UID_A ? GID_A : uid, fn, ch);
	close(ch->from[1]); /* a child that fails is seen at once (EOF) */
	close(ch->to[0]);
	ch->from[1] = ch->to[0] = -1;
	assert_int_equal(read(ch->from[0], &c, 1), 1); /* it has done its part */
}

/* In the child: tell the test, wait for its word. */
static void child_step(const struct child *ch)
{
	char c = 1;

	E2E_CHECK(write(ch->from[1], &c, 1) == 1);
	E2E_CHECK(read(ch->to[0], &c, 1) == 1);
}

static void child_go(const struct child *ch)
{
	char c = 1;

	assert_int_equal(write(ch->to[1], &c, 1), 1);
}

static void child_end(struct child *ch)
{
	child_go(ch);
	assert_int_equal(e2e_wait(ch->pid), 0);
	close(ch->to[1]);
	close(ch->from[0]);
}

/* Non-blocking GET_STATE requests on sock until luod takes no more: nothing is read. */
static void flood(int sock)
{
	int flags = fcntl(sock, F_GETFL);

	E2E_CHECK(fcntl(sock, F_SETFL, flags | O_NONBLOCK) == 0);
	for (int i = 0; i < 100000; i++) {
		int r = luo_msg_send(sock, LUO_OP_GET_STATE, 0, NULL, 0, NULL, 0);

		if (r == -EAGAIN)
			break;
		E2E_CHECK(r == 0);
	}
	E2E_CHECK(fcntl(sock, F_SETFL, flags) == 0);
}

/*
 * Another uid's connections that stall, each its own way: half a header,
 * nothing at all, requests and never a read, the same on a session handle
 * (whose session holds a memfd), a reply channel never read. It holds them
 * while the test checks that everyone else is served.
 */
static void stall(void *arg)
{
	const struct child *ch = arg;
	struct luo_msg_hdr h = { .size = sizeof(h), .version = LUO_PROTO_VERSION, .op = 3 };
	int half = luo_open(d.sock), quiet = luo_open(d.sock), loud = luo_open(d.sock);
	int dev = luo_open(d.sock), s, fd = memfd_pattern("stall", 4096, 9), sp[2];

	E2E_CHECK(half >= 0 && quiet >= 0 && loud >= 0 && dev >= 0);
	E2E_CHECK(send(half, &h, sizeof(h) / 2, 0) == (ssize_t)sizeof(h) / 2);
	flood(loud);
	s = luo_create_session(dev, "a-stalls");
	E2E_CHECK(s >= 0);
	E2E_CHECK(luo_session_preserve_fd(s, fd, 1) == 0);
	flood(s);
	/* a reply channel it keeps its own end of and never reads, filled */
	E2E_CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) == 0);
	for (int i = 0; i < 400; i++)
		E2E_CHECK(luo_msg_send(dev, LUO_OP_GET_STATE | LUO_OP_REPLY_CHANNEL, 0, NULL, 0,
				       &sp[1], 1) == 0);
	child_step(ch); /* the test checks luod serves everyone else */
	E2E_CHECK(memfd_pattern_ok(fd, 4096, 9));
}

static void test_other_uid_stalls(void **state)
{
	struct child ch;
	struct ref r;
	int base;

	(void)state;
	if (geteuid() != 0)
		skip();
	start_open();
	ref_make(&r, "roots-ref");
	base = e2e_luod_fds(&d);
	child_start(&ch, UID_A, stall);
	/* everyone else is served meanwhile: root, a third uid, luoctl */
	assert_true(served_within(60, LUO_STATE_NORMAL, true));
	ref_intact(&r);
	assert_int_equal(e2e_session_files(&d, "a-stalls"), 1);
	{
		char out[4096];

		assert_int_equal(luoctl(&d, out, sizeof(out), "status", "--timeout", "60", NULL), 0);
	}
	child_end(&ch);
	/* its connections went with it, and so did its session */
	e2e_barrier(&d);
	assert_false(e2e_session_listed(&d, "a-stalls"));
	assert_int_equal(e2e_luod_fds(&d), base);
	ref_intact(&r);
	ref_drop(&r);
}

/*
 * Another uid asks for replies that carry fds, reads none, and is killed:
 * new session handles (CREATE_SESSION) and retrieved memfds (RETRIEVE on a
 * session it froze on its own and took back), many of them kept in luod
 * as replies that did not fit. Nothing of it may stay in luod.
 */
static void die_with_fds_in_flight(void *arg)
{
	const struct child *ch = arg;
	struct {
		struct luo_msg_tokens h;
		uint64_t t[8];
	} want = { .h.count = 8 };
	int dev = luo_open(d.sock), s, fds[8], flags;
	uint64_t tokens[8];
	char name[LUO_NAME_MAX];

	E2E_CHECK(dev >= 0);
	s = luo_create_session(dev, "a-frozen");
	E2E_CHECK(s >= 0);
	for (int i = 0; i < 8; i++) {
		fds[i] = memfd_pattern("inflight", 4096, (uint32_t)i);
		tokens[i] = want.t[i] = 10 + (uint64_t)i;
	}
	E2E_CHECK(luo_session_preserve_fds(s, fds, tokens, 8) == 0);
	E2E_CHECK(luo_session_set_event(s, LUO_EVENT_FREEZE) == 0);
	close(s);
	s = -1;
	for (int i = 0; i < 1000 && s < 0; i++) {
		s = luo_retrieve_session(dev, "a-frozen"); /* once luod saw the handle go */
		if (s < 0)
			usleep(10000);
	}
	E2E_CHECK(s >= 0);
	for (int i = 0; i < 8; i++)
		close(fds[i]);
	/* sessions by the hundred, their handles in replies it never reads */
	flags = fcntl(dev, F_GETFL);
	E2E_CHECK(fcntl(dev, F_SETFL, flags | O_NONBLOCK) == 0);
	for (int i = 0; i < 600; i++) {
		struct luo_msg_name n = { .name = "" };

		snprintf(name, sizeof(name), "a-inflight-%d", i);
		memcpy(n.name, name, strlen(name) + 1);
		if (luo_msg_send(dev, LUO_OP_CREATE_SESSION, 0, &n, sizeof(n), NULL, 0) < 0)
			break;
	}
	/* and its memfds, 8 a reply, again and again */
	E2E_CHECK(fcntl(s, F_SETFL, fcntl(s, F_GETFL) | O_NONBLOCK) == 0);
	for (int i = 0; i < 600; i++)
		if (luo_msg_send(s, LUO_OP_SESSION_RETRIEVE, 0, &want, sizeof(want), NULL, 0) < 0)
			break;
	child_step(ch); /* the test lets luod take what it can, then says go */
	raise(SIGKILL);
}

static void test_dies_with_fds_in_flight(void **state)
{
	struct child ch;
	struct ref r;
	int base, status;

	(void)state;
	if (geteuid() != 0)
		skip();
	start_open();
	ref_make(&r, "roots-ref");
	base = e2e_luod_fds(&d);
	child_start(&ch, UID_A, die_with_fds_in_flight);
	assert_true(served_within(60, LUO_STATE_NORMAL, true));
	assert_true(e2e_session_listed(&d, "a-inflight-0"));
	assert_true(luod_fd_count(&d) > base + 8);
	child_go(&ch);
	status = e2e_wait(ch.pid);
	assert_int_equal(status, 128 + SIGKILL);
	close(ch.to[1]);
	close(ch.from[0]);
	/*
	 * Every handle it never received hangs up; the retrieved session ends
	 * with its handle. The kernel may release the fds that were in flight
	 * to a dead process a little later (delayed fput): waited for, 60 s
	 * at most.
	 */
	for (int i = 0; i < 6000 && luod_status_field(&d, "sessions") != 1; i++)
		usleep(10000);
	e2e_barrier(&d);
	assert_false(e2e_session_listed(&d, "a-inflight-0"));
	assert_false(e2e_session_listed(&d, "a-frozen"));
	assert_int_equal(luod_status_field(&d, "sessions"), 1);
	assert_int_equal(luod_status_field(&d, "files"), 2);
	assert_int_equal(e2e_luod_fds(&d), base);
	ref_intact(&r);
	ref_drop(&r);
}

/*
 * One request on sock; the reply's result (and fds closed). With chan, on
 * a reply channel of its own, as libluo makes them; -ENODATA if the
 * channel ends with no reply.
 */
static int rpc(int sock, uint16_t op, const void *body, size_t len, const int *fds, size_t nfds,
	       bool chan)
{
	static unsigned char rx[HDR + LUO_MSG_MAX];
	int all[LUO_FDS_PER_MSG], got[LUO_FDS_PER_MSG], sp[2], rsock = sock;
	struct timeval tv = { .tv_sec = 60 };
	struct luo_msg_hdr h;
	size_t ngot = 0;
	ssize_t n;

	if (chan) {
		E2E_CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) == 0);
		all[0] = sp[1];
		if (nfds)
			memcpy(all + 1, fds, nfds * sizeof(int));
		E2E_CHECK(luo_msg_send(sock, op | LUO_OP_REPLY_CHANNEL, 0, body, len, all, nfds + 1) ==
			  0);
		close(sp[1]);
		rsock = sp[0];
	} else {
		E2E_CHECK(luo_msg_send(sock, op, 0, body, len, fds, nfds) == 0);
	}
	E2E_CHECK(setsockopt(rsock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == 0);
	n = luo_msg_recv(rsock, rx, sizeof(rx), got, LUO_FDS_PER_MSG, &ngot);
	if (chan)
		close(sp[0]);
	if (chan && n == 0)
		return -ENODATA;
	E2E_CHECK(n >= (ssize_t)HDR);
	memcpy(&h, rx, HDR);
	E2E_CHECK(h.op == op);
	for (size_t i = 0; i < ngot; i++)
		close(got[i]);
	return h.result;
}

/* What B, not root and not luod's uid, must be refused, also through reply channels. */
static void refused(void *arg)
{
	const struct child *ch = arg;
	struct luo_msg_name name = { .name = "roots-ref" };
	struct luo_msg_participant_register reg = { .name = "b-part", .flags = 1 };
	static struct luo_msg_update up;
	int dev = luo_open(d.sock), img = memfd_pattern("kernel", 4096, 1);
	const char cmdline[] = "console=ttyS0";

	E2E_CHECK(dev >= 0);
	for (int chan = 0; chan < 2; chan++) {
		for (uint32_t e = LUO_EVENT_PREPARE; e <= LUO_EVENT_FINISH; e++) {
			struct luo_msg_event ev = { .event = e };

			E2E_CHECK(rpc(dev, LUO_OP_SET_EVENT, &ev, sizeof(ev), NULL, 0, chan) == -EPERM);
		}
		E2E_CHECK(rpc(dev, LUO_OP_DUMP, NULL, 0, NULL, 0, chan) == -EPERM);
		E2E_CHECK(rpc(dev, LUO_OP_KERNEL_UPDATE, cmdline, sizeof(cmdline), &img, 1, chan) ==
			  -EPERM);
		E2E_CHECK(rpc(dev, LUO_OP_SESSION_UPDATE, &name, sizeof(name), NULL, 0, chan) ==
			  -EPERM);
		E2E_CHECK(rpc(dev, LUO_OP_RETRIEVE_SESSION, &name, sizeof(name), NULL, 0, chan) ==
			  -EPERM);
	}
	/* these make the connection something: plain EPERM, with a channel EINVAL */
	E2E_CHECK(rpc(dev, LUO_OP_WATCH, NULL, 0, NULL, 0, false) == -EPERM);
	E2E_CHECK(rpc(dev, LUO_OP_UPDATE, &up, sizeof(up), NULL, 0, false) == -EPERM);
	E2E_CHECK(rpc(dev, LUO_OP_PARTICIPANT_REGISTER, &reg, sizeof(reg), NULL, 0, false) == -EPERM);
	E2E_CHECK(rpc(dev, LUO_OP_WATCH, NULL, 0, NULL, 0, true) == -EINVAL);
	E2E_CHECK(rpc(dev, LUO_OP_UPDATE, &up, sizeof(up), NULL, 0, true) == -EINVAL);
	E2E_CHECK(rpc(dev, LUO_OP_PARTICIPANT_REGISTER, &reg, sizeof(reg), NULL, 0, true) == -EINVAL);
	/* and the connection still works for what B may do */
	E2E_CHECK(rpc(dev, LUO_OP_GET_STATE, NULL, 0, NULL, 0, true) == 0);
	close(img);
	close(dev);
	child_step(ch);
}

static void test_other_uid_privileged_ops(void **state)
{
	struct child ch;
	struct ref r;
	int base;

	(void)state;
	if (geteuid() != 0)
		skip();
	start_open();
	ref_make(&r, "roots-ref");
	/* frozen on its own and let go: retrievable by name, by root only */
	assert_int_equal(luo_session_set_event(r.s, LUO_EVENT_FREEZE), 0);
	close(r.s);
	e2e_barrier(&d);
	base = e2e_luod_fds(&d);
	child_start(&ch, UID_B, refused);
	child_end(&ch);
	e2e_assert_state(&d, "normal");
	assert_int_equal(luod_status_field(&d, "participants"), 0);
	assert_int_equal(luod_status_field(&d, "generation"), 0);
	assert_int_equal(e2e_session_files(&d, "roots-ref"), 2);
	assert_int_equal(e2e_luod_fds(&d), base);
	r.s = luo_retrieve_session(r.dev, "roots-ref");
	assert_true(r.s >= 0);
	for (int i = 0; i < 2; i++) {
		int fd = luo_session_retrieve_fd(r.s, 100 + (uint64_t)i);

		assert_true(fd >= 0);
		assert_true(memfd_pattern_ok(fd, 8192, 40 + (uint32_t)i));
		close(fd);
	}
	assert_int_equal(luo_session_finish(r.s), 0);
	ref_drop(&r);
}

/* Send op on sock with fd as its reply channel: whatever fd it is. */
static void with_channel(int sock, uint16_t op, const void *body, size_t len, int fd)
{
	E2E_CHECK(luo_msg_send(sock, op | LUO_OP_REPLY_CHANNEL, 0, body, len, &fd, 1) == 0);
}

/* Read and drop whatever sits on sock now. */
static void drain(int sock)
{
	static unsigned char rx[HDR + LUO_MSG_MAX];
	int fds[LUO_FDS_PER_MSG];
	size_t nfds;

	for (;;) {
		struct pollfd p = { .fd = sock, .events = POLLIN };

		if (poll(&p, 1, 0) != 1 || !(p.revents & POLLIN))
			return;
		if (luo_msg_recv(sock, rx, sizeof(rx), fds, LUO_FDS_PER_MSG, &nfds) <= 0)
			return;
		for (size_t i = 0; i < nfds; i++)
			close(fds[i]);
	}
}

/*
 * Reply channels that are anything but a fresh socketpair end: a pipe, a
 * memfd, the connection itself, the session handle itself, another
 * connection to luod, a stream socket, a listening one, an unconnected
 * datagram one. luod sends where it can, never waits, never takes an
 * answer it sent itself for anything but a (refused) request, and a
 * session it made for such a request does not outlive the lost reply.
 */
static void bad_channels(void *arg)
{
	const struct child *ch = arg;
	int dev = luo_open(d.sock), s, fd = memfd_pattern("chan", 4096, 5), got;
	char name[LUO_NAME_MAX] = "";

	E2E_CHECK(dev >= 0);
	s = luo_create_session(dev, "a-chan");
	E2E_CHECK(s >= 0);
	E2E_CHECK(luo_session_preserve_fd(s, fd, 1) == 0);
	for (int k = 0; k < 8; k++) {
		struct luo_msg_name n = { .name = "" };
		int c = -1, sp[2] = { -1, -1 }, p[2] = { -1, -1 };

		switch (k) {
		case 0:
			E2E_CHECK(pipe2(p, O_CLOEXEC) == 0);
			c = p[1];
			break;
		case 1:
			c = memfd_pattern("not-a-socket", 64, 1);
			break;
		case 2:
			c = dup(dev);
			break;
		case 3:
			c = dup(s);
			break;
		case 4:
			c = luo_open(d.sock);
			break;
		case 5:
			E2E_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == 0);
			c = sp[1];
			break;
		case 6:
			c = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
			/* an address of the kernel's choosing (autobind), then listening */
			E2E_CHECK(c >= 0 && bind(c, (struct sockaddr *)&(sa_family_t){ AF_UNIX },
						 sizeof(sa_family_t)) == 0);
			E2E_CHECK(listen(c, 1) == 0);
			break;
		case 7:
			c = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
			break;
		}
		E2E_CHECK(c >= 0);
		snprintf(n.name, sizeof(n.name), "a-chan-%d", k);
		with_channel(dev, LUO_OP_GET_STATE, NULL, 0, c);
		with_channel(dev, LUO_OP_CREATE_SESSION, &n, sizeof(n), c);
		with_channel(s, LUO_OP_SESSION_GET_NAME, NULL, 0, c);
		with_channel(s, LUO_OP_SESSION_GET_STATE, NULL, 0, c);
		close(c);
		for (int i = 0; i < 2; i++) {
			if (sp[i] >= 0 && sp[i] != c)
				close(sp[i]);
			if (p[i] >= 0 && p[i] != c)
				close(p[i]);
		}
	}
	/* a channel flag with no fd at all: EINVAL on the connection */
	E2E_CHECK(luo_msg_send(dev, LUO_OP_GET_STATE | LUO_OP_REPLY_CHANNEL, 0, NULL, 0, NULL, 0) ==
		  0);
	/* both connections serve as before, with and without channels */
	E2E_CHECK(rpc(dev, LUO_OP_GET_STATE, NULL, 0, NULL, 0, true) == 0);
	drain(dev);
	drain(s);
	E2E_CHECK(luo_session_get_name(s, name) == 0 && !strcmp(name, "a-chan"));
	E2E_CHECK(luo_session_unpreserve_fd(s, 1) == 0);
	E2E_CHECK(luo_session_preserve_fd(s, fd, 2) == 0);
	got = luo_create_session(dev, "a-chan-good");
	E2E_CHECK(got >= 0);
	close(got);
	close(fd);
	child_step(ch);
}

static void test_bad_reply_channels(void **state)
{
	struct child ch;
	struct ref r;
	int base;

	(void)state;
	if (geteuid() != 0)
		skip();
	start_open();
	ref_make(&r, "roots-ref");
	base = e2e_luod_fds(&d);
	child_start(&ch, UID_A, bad_channels);
	e2e_barrier(&d);
	assert_int_equal(e2e_session_files(&d, "a-chan"), 1);
	for (int k = 0; k < 8; k++) {
		char name[32];

		snprintf(name, sizeof(name), "a-chan-%d", k);
		assert_false(e2e_session_listed(&d, name));
	}
	child_end(&ch);
	e2e_barrier(&d);
	assert_int_equal(luod_status_field(&d, "sessions"), 1);
	assert_int_equal(e2e_luod_fds(&d), base);
	ref_intact(&r);
	ref_drop(&r);
}

#define ROOM_SESSIONS 400

/* GET_STATE answers that fit on a fresh connection before one must be kept (fill_replies). */
static int reply_room;

/*
 * Another uid holds many sessions, each with one memfd, frozen on its own
 * and retrieved again, so it has a handle on each. On every handle it asks
 * for as many answers as fit, then for its memfd, and reads nothing: the
 * memfd's answer is kept in luod with a copy of the fd, one per handle.
 * Those copies are luod's fds as much as the handles are: they must not
 * take the top of the fd table, which is root's.
 */
static void kept_fds(void *arg)
{
	const struct child *ch = arg;
	struct {
		struct luo_msg_tokens h;
		uint64_t t[1];
	} want = { .h.count = 1, .t = { 7 } };
	static int handles[ROOM_SESSIONS];
	int dev = luo_open(d.sock);
	char name[LUO_NAME_MAX];

	E2E_CHECK(dev >= 0);
	for (int i = 0; i < ROOM_SESSIONS; i++) {
		int s, fd = memfd_pattern("room", 64, (uint32_t)i);

		snprintf(name, sizeof(name), "a-room-%d", i);
		s = luo_create_session(dev, name);
		E2E_CHECK(s >= 0);
		E2E_CHECK(luo_session_preserve_fd(s, fd, 7) == 0);
		E2E_CHECK(luo_session_set_event(s, LUO_EVENT_FREEZE) == 0);
		close(s);
		close(fd);
	}
	for (int i = 0; i < ROOM_SESSIONS; i++) {
		snprintf(name, sizeof(name), "a-room-%d", i);
		handles[i] = -1;
		for (int k = 0; k < 1000 && handles[i] < 0; k++) {
			handles[i] = luo_retrieve_session(dev, name); /* once luod saw the handle go */
			if (handles[i] == -ENOENT)
				usleep(10000);
		}
		E2E_CHECK(handles[i] >= 0);
	}
	for (int i = 0; i < ROOM_SESSIONS; i++) {
		for (int k = 0; k < reply_room; k++)
			E2E_CHECK(luo_msg_send(handles[i], LUO_OP_SESSION_GET_STATE, 0, NULL, 0, NULL,
					       0) == 0);
		E2E_CHECK(luo_msg_send(handles[i], LUO_OP_SESSION_RETRIEVE, 0, &want, sizeof(want),
				       NULL, 0) == 0);
	}
	child_step(ch);
}

static void test_kept_fds_leave_room_for_root(void **state)
{
	struct rlimit low = { 1024, 1024 };
	struct child ch;
	int c;

	(void)state;
	if (geteuid() != 0)
		skip();
	/*
	 * A small fd table: 1,024, of which the top 32 are root's, and the
	 * --max-fds luod would take for it (three quarters).
	 */
	luod_start(&d, "--socket-mode", "0666", "--max-fds", "768", NULL);
	assert_int_equal(chmod(d.dir, 0711), 0);
	assert_int_equal(prlimit(d.pid, RLIMIT_NOFILE, &low, NULL), 0);
	c = e2e_open(&d);
	reply_room = fill_replies(c);
	close(c);
	child_start(&ch, UID_A, kept_fds);
	e2e_barrier(&d); /* luod has read every handle up to its memfd's answer, and kept that */
	/* root still connects, and gets a session and its answers */
	if (!served_within(30, -1, true)) {
		child_end(&ch); /* what takes the room: it goes */
		fail_msg("root not served: another uid's kept replies took luod's last fds");
	}
	assert_true(luod_fd_count(&d) < 1024);
	child_end(&ch);
	e2e_barrier(&d);
	assert_int_equal(luod_status_field(&d, "sessions"), 0);
}

/* luod run as UID_A, its socket open to all, in a directory of UID_A's. */
static void start_as_luod_uid(void)
{
	memset(&d, 0, sizeof(d));
	snprintf(d.dir, sizeof(d.dir), "/tmp/luo-hostile.XXXXXX");
	assert_non_null(mkdtemp(d.dir));
	reap_track_dir(d.dir);
	assert_int_equal(chown(d.dir, UID_A, GID_A), 0);
	assert_int_equal(chmod(d.dir, 0711), 0);
	snprintf(d.sock, sizeof(d.sock), "%s/luod.sock", d.dir);
	snprintf(d.state_dir, sizeof(d.state_dir), "%s/state", d.dir);
	snprintf(d.log, sizeof(d.log), "%s/luod.log", d.dir);
	setenv("LUO_SOCKET", d.sock, 1);
	d.pid = fork();
	assert_true(d.pid >= 0);
	if (d.pid == 0) {
		int log;

		e2e_drop_to(UID_A, GID_A);
		log = open(d.log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (log >= 0) {
			dup2(log, 1);
			dup2(log, 2);
		}
		execl(getenv("LUOD"), "luod", "--socket", d.sock, "--state-dir", d.state_dir,
		      "--socket-mode", "0666", (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 1000; i++) {
		int fd = luo_open(d.sock);

		if (fd >= 0) {
			close(fd);
			return;
		}
		assert_true(luod_alive(&d));
		usleep(10000);
	}
	fail_msg("luod as uid %d did not come up (log: %s)", UID_A, d.log);
}

/* B, neither root nor luod's uid: its own session, and no global step. */
static void b_not_luods_uid(void *arg)
{
	const struct child *ch = arg;
	struct luo_msg_participant_register reg = { .name = "b-part", .flags = 1 };
	static struct luo_msg_update up;
	int dev = luo_open(d.sock), s, fd = memfd_pattern("b", 4096, 3), got;

	E2E_CHECK(dev >= 0);
	s = luo_create_session(dev, "b-own");
	E2E_CHECK(s >= 0);
	E2E_CHECK(luo_session_preserve_fd(s, fd, 1) == 0);
	for (uint32_t e = LUO_EVENT_PREPARE; e <= LUO_EVENT_FINISH; e++)
		E2E_CHECK(luo_set_event(dev, (enum luo_event)e) == -EPERM);
	E2E_CHECK(rpc(dev, LUO_OP_UPDATE, &up, sizeof(up), NULL, 0, false) == -EPERM);
	E2E_CHECK(rpc(dev, LUO_OP_WATCH, NULL, 0, NULL, 0, false) == -EPERM);
	E2E_CHECK(rpc(dev, LUO_OP_DUMP, NULL, 0, NULL, 0, false) == -EPERM);
	E2E_CHECK(rpc(dev, LUO_OP_PARTICIPANT_REGISTER, &reg, sizeof(reg), NULL, 0, false) == -EPERM);
	/* frozen on its own and let go: retrievable by name, by B or root only */
	E2E_CHECK(luo_session_set_event(s, LUO_EVENT_FREEZE) == 0);
	close(s);
	child_step(ch); /* luod's uid, then root's update */
	close(dev);
	dev = luo_open(d.sock);
	s = luo_retrieve_session(dev, "b-own");
	E2E_CHECK(s >= 0);
	got = luo_session_retrieve_fd(s, 1);
	E2E_CHECK(got >= 0 && memfd_pattern_ok(got, 4096, 3));
	E2E_CHECK(luo_session_finish(s) == 0);
}

/* A, luod's own uid: global events are its, another uid's session is not its to retrieve. */
static void a_is_luods_uid(void *arg)
{
	const struct child *ch = arg;
	int dev = luo_open(d.sock);
	enum luo_state st;

	E2E_CHECK(dev >= 0);
	E2E_CHECK(luo_set_event(dev, LUO_EVENT_PREPARE) == 0);
	E2E_CHECK(luo_get_state(dev, &st) == 0 && st == LUO_STATE_PREPARED);
	E2E_CHECK(luo_set_event(dev, LUO_EVENT_CANCEL) == 0);
	E2E_CHECK(luo_get_state(dev, &st) == 0 && st == LUO_STATE_NORMAL);
	/* it may see B's session, not take B's fds */
	E2E_CHECK(luo_retrieve_session(dev, "b-own") == -EPERM);
	child_step(ch);
}

static void test_luod_as_another_uid(void **state)
{
	struct child a, b;

	(void)state;
	if (geteuid() != 0)
		skip();
	start_as_luod_uid();
	child_start(&b, UID_B, b_not_luods_uid);
	e2e_barrier(&d); /* B's handle is gone: the session is luod's to hold */
	assert_int_equal(e2e_session_files(&d, "b-own"), 1);
	e2e_assert_state(&d, "normal");
	child_start(&a, UID_A, a_is_luods_uid);
	child_end(&a);
	/* root's update of a luod that is not root's: B's session crosses */
	luod_update(&d, NULL);
	child_end(&b);
	e2e_barrier(&d);
	assert_false(e2e_session_listed(&d, "b-own"));
	luod_stop(&d);
}

/* luoctl ARGS as root with stdout and stderr both into out; its exit status. */
static int luoctl_all(char *out, size_t outlen, const char *const *args)
{
	const char *argv[16] = { getenv("LUOCTL"), "--socket", d.sock };
	size_t used = 0, argc = 3;
	int p[2];
	pid_t pid;

	for (; *args && argc < 15; args++)
		argv[argc++] = *args;
	argv[argc] = NULL;
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(p[1], 1);
		dup2(p[1], 2);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(p[1]);
	for (ssize_t n; (n = read(p[0], out + used, outlen - 1 - used)) > 0;)
		used += (size_t)n;
	out[used] = '\0';
	close(p[0]);
	return e2e_wait(pid);
}

#define FORGED "ev\x1b]0;PWNED\x07\nluod: fake line\x9b" "31m"

/* A's session, with a name meant for root's terminal, frozen on its own and let go. */
static void forged_name(void *arg)
{
	const struct child *ch = arg;
	int dev = luo_open(d.sock), s, fd = memfd_pattern("forged", 4096, 1);

	E2E_CHECK(dev >= 0);
	s = luo_create_session(dev, FORGED);
	E2E_CHECK(s >= 0);
	E2E_CHECK(luo_session_preserve_fd(s, fd, 1) == 0);
	E2E_CHECK(luo_session_set_event(s, LUO_EVENT_FREEZE) == 0);
	close(s);
	child_step(ch);
}

/*
 * Root's `luoctl dump --dts` of a luod that holds another uid's session
 * whose name is not a node name and carries terminal controls: it works
 * (dtc's check that a node's "name" is its own node name does not apply to
 * luod's blob), and no control byte of the name reaches root's terminal,
 * on stdout or stderr. The same for the other commands that show names.
 */
static void test_forged_name_shown(void **state)
{
	static const char *const cmds[][3] = {
		{ "dump", "--dts", NULL }, { "sessions", NULL, NULL }, { "show", FORGED, NULL },
		{ "history", NULL, NULL }, { "status", NULL, NULL },
	};
	static char out[1 << 20];
	struct child ch;

	(void)state;
	if (geteuid() != 0)
		skip();
	start_open();
	child_start(&ch, UID_A, forged_name);
	child_end(&ch);
	e2e_barrier(&d);
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		int status = luoctl_all(out, sizeof(out), cmds[i]);

		if (i == 0 && status == 1 && strstr(out, "dtc is not installed"))
			continue;
		if (status != 0)
			fail_msg("luoctl %s: status %d: %s", cmds[i][0], status, out);
		assert_null(strchr(out, '\x1b'));
		assert_null(strchr(out, '\x07'));
		assert_null(strchr(out, (char)0x9b));
		if (i == 0)
			assert_non_null(strstr(out, "session-0"));
	}
}

/*
 * Tokens that repeat inside one message: PRESERVE of {0, 0} and of
 * {5, 6, 5} is EEXIST with nothing kept (all or nothing within the
 * message); RETRIEVE of {5, 5} after the session came back gives the same
 * file twice.
 */
static void test_tokens_repeat_in_one_message(void **state)
{
	uint64_t zeros[2] = { 0, 0 }, three[3] = { 5, 6, 5 }, two[2] = { 5, 5 };
	int dev, s, fds[3], got[2], base;
	struct stat a, b;

	(void)state;
	luod_start(&d, NULL);
	dev = e2e_open(&d);
	s = luo_create_session(dev, "repeats");
	assert_true(s >= 0);
	for (int i = 0; i < 3; i++)
		fds[i] = memfd_pattern("rep", 4096, (uint32_t)i);
	base = e2e_luod_fds(&d);
	assert_int_equal(luo_session_preserve_fds(s, fds, zeros, 2), -EEXIST);
	assert_int_equal(luo_session_preserve_fds(s, fds, three, 3), -EEXIST);
	assert_int_equal(e2e_session_files(&d, "repeats"), 0);
	assert_int_equal(e2e_luod_fds(&d), base);
	/* the same fds under distinct tokens: nothing of the failures is busy */
	three[2] = 7;
	assert_int_equal(luo_session_preserve_fds(s, fds, three, 3), 0);
	assert_int_equal(luo_session_set_event(s, LUO_EVENT_FREEZE), 0);
	close(s);
	e2e_barrier(&d);
	s = luo_retrieve_session(dev, "repeats");
	assert_true(s >= 0);
	assert_int_equal(luo_session_retrieve_fds(s, two, got, 2), 0);
	assert_int_equal(fstat(got[0], &a), 0);
	assert_int_equal(fstat(got[1], &b), 0);
	assert_true(a.st_ino == b.st_ino && a.st_dev == b.st_dev);
	assert_true(memfd_pattern_ok(got[0], 4096, 0));
	close(got[0]);
	close(got[1]);
	assert_int_equal(luo_session_finish(s), 0);
	close(s);
	for (int i = 0; i < 3; i++)
		close(fds[i]);
	close(dev);
}

/* ---- random requests ---- */

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

#define POOL 8

/* A fresh fd of one of the kinds luod must take or refuse. */
static int random_fd(const int *conns, size_t nconns)
{
	int p[2], fd = -1;

	switch (rnd(7)) {
	case 0:
		return memfd_pattern("rnd", rnd(3) * 4096, rnd(100));
	case 1:
		if (pipe2(p, O_CLOEXEC) < 0)
			return -1;
		close(p[rnd(2)]);
		return p[0] >= 0 && fcntl(p[0], F_GETFD) >= 0 ? p[0] : p[1];
	case 2:
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) < 0)
			return -1;
		close(p[1]);
		return p[0];
	case 3:
		return open("/dev/null", O_RDWR | O_CLOEXEC);
	case 4:
		return nconns ? dup(conns[rnd((uint32_t)nconns)]) : -1; /* one of our luod sockets */
	case 5:
		return eventfd(rnd(5), EFD_CLOEXEC);
	default:
		fd = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		return fd;
	}
}

/*
 * One request of a random kind, mostly well formed (names and tokens from
 * a small pool, so that they meet), sometimes cut short, grown, with a
 * non-zero tail or random fds; on a device connection or a session handle,
 * with or without a reply channel. Its answer is read (a luod that does not
 * answer fails the test); session handles that come back are kept.
 */
static void random_request(int *devs, size_t *ndevs, int *handles, size_t *nhandles, bool root)
{
	static const uint16_t dev_ops[] = { 1, 2, 3, 4, 5, 6, 7, 10, 12, 20, 99 };
	static const uint16_t ses_ops[] = { 64, 65, 66, 67, 68, 69, 70, 71, 3 };
	static unsigned char body[512], rx[HDR + LUO_MSG_MAX];
	int fds[LUO_FDS_PER_MSG], nfds = 0, got[LUO_FDS_PER_MSG], sock, sp[2] = { -1, -1 };
	int all[LUO_FDS_PER_MSG];
	bool on_handle = *nhandles && rnd(2), chan = rnd(3) == 0;
	struct timeval tv = { .tv_sec = 60 };
	size_t len = 0, ngot = 0;
	uint16_t op;
	ssize_t n;
	int r;

	sock = on_handle ? handles[rnd((uint32_t)*nhandles)] : devs[rnd((uint32_t)*ndevs)];
	op = on_handle ? ses_ops[rnd(sizeof(ses_ops) / 2)] : dev_ops[rnd(sizeof(dev_ops) / 2)];
	memset(body, 0, sizeof(body));
	switch (op) {
	case 1: case 2: case 7: case 10: /* a name (and SHOW's cursor) */
		snprintf((char *)body, LUO_NAME_MAX, "rnd-%u%s", rnd(6), rnd(8) ? "" : "\n\x1b[0m");
		len = op == 7 ? sizeof(struct luo_msg_show) : LUO_NAME_MAX;
		break;
	case 4: case 69: { /* an event */
		struct luo_msg_event ev = { .event = rnd(5) };

		if (op == 4 && !rnd(4))
			ev.event = LUO_EVENT_CANCEL;
		memcpy(body, &ev, sizeof(ev));
		len = sizeof(ev);
		break;
	}
	case 6:
		len = sizeof(struct luo_msg_list);
		break;
	case 64: case 66: { /* tokens, and for PRESERVE as many fds */
		uint32_t count = 1 + rnd(4);
		struct luo_msg_tokens h = { .count = count };

		memcpy(body, &h, sizeof(h));
		for (uint32_t i = 0; i < count; i++) {
			uint64_t t = rnd(6);

			memcpy(body + sizeof(h) + i * 8, &t, 8);
		}
		len = sizeof(h) + count * 8;
		if (op == 64)
			for (; nfds < (int)count; nfds++)
				if ((fds[nfds] = random_fd(handles, *nhandles)) < 0)
					break;
		break;
	}
	case 65: {
		uint64_t t = rnd(6);

		memcpy(body, &t, 8);
		len = 8;
		break;
	}
	case 71:
		body[0] = (unsigned char)rnd(2);
		len = rnd(2) ? 8 : 0;
		break;
	}
	switch (rnd(10)) { /* now and then, not quite right */
	case 0:
		len = len ? rnd((uint32_t)len) : 0;
		break;
	case 1:
		len += 1 + rnd(16);
		if (rnd(2))
			body[len - 1] = 1;
		break;
	case 2:
		while (nfds < 3)
			if ((fds[nfds] = random_fd(handles, *nhandles)) >= 0)
				nfds++;
		break;
	}
	if (!root && op == 4)
		op = 3; /* another uid's events are refused anyway (test_other_uid_privileged_ops) */
	if (chan) {
		assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp), 0);
		all[0] = sp[1];
		if (nfds)
			memcpy(all + 1, fds, (size_t)nfds * sizeof(int));
		r = luo_msg_send(sock, op | LUO_OP_REPLY_CHANNEL, 0, body, len, all, (size_t)nfds + 1);
		close(sp[1]);
	} else {
		r = luo_msg_send(sock, op, 0, body, len, fds, (size_t)nfds);
	}
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	if (r == -EPIPE || r == -ECONNRESET) {
		/* luod let it go (a per-session update, an ended handle): so do we */
		int *pool = on_handle ? handles : devs;
		size_t *np = on_handle ? nhandles : ndevs;

		for (size_t i = 0; i < *np; i++)
			if (pool[i] == sock) {
				close(sock);
				pool[i] = pool[--*np];
				break;
			}
		if (chan)
			close(sp[0]);
		if (*ndevs < 1)
			devs[(*ndevs)++] = luo_open(d.sock);
		return;
	}
	assert_int_equal(r, 0);
	/* the answer: on the channel, or on sock past anything else */
	assert_int_equal(setsockopt(chan ? sp[0] : sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	for (;;) {
		struct luo_msg_hdr h;

		n = luo_msg_recv(chan ? sp[0] : sock, rx, sizeof(rx), got, LUO_FDS_PER_MSG, &ngot);
		if (n == -EAGAIN)
			fail_msg("no answer to op %u within 60 s", (unsigned)op);
		if (n <= 0 || n < (ssize_t)HDR)
			break; /* the channel or handle ended (a session update, a finish, EBADMSG) */
		memcpy(&h, rx, HDR);
		if ((op == 1 || op == 2) && h.result == 0 && ngot == 1 && *nhandles < POOL) {
			handles[(*nhandles)++] = got[0];
			ngot = 0;
		}
		for (size_t i = 0; i < ngot; i++)
			close(got[i]);
		if (h.op == op || h.op == 0 || chan)
			break;
	}
	if (chan)
		close(sp[0]);
	/* now and then a connection goes */
	if (!rnd(40) && *nhandles) {
		size_t i = rnd((uint32_t)*nhandles);

		close(handles[i]);
		handles[i] = handles[--*nhandles];
	}
	if (!rnd(60) && *ndevs > 1) {
		size_t i = rnd((uint32_t)*ndevs);

		close(devs[i]);
		devs[i] = devs[--*ndevs];
	}
	if (*ndevs < 3)
		devs[(*ndevs)++] = luo_open(d.sock);
}

static void random_rounds(int rounds, bool root)
{
	int devs[POOL], handles[POOL];
	size_t ndevs = 0, nhandles = 0;

	devs[ndevs++] = luo_open(d.sock);
	assert_true(devs[0] >= 0);
	for (int i = 0; i < rounds; i++)
		random_request(devs, &ndevs, handles, &nhandles, root);
	for (size_t i = 0; i < ndevs; i++)
		close(devs[i]);
	for (size_t i = 0; i < nhandles; i++)
		close(handles[i]);
}

static void random_as_other_uid(void *arg)
{
	const struct child *ch = arg;
	const char *env = getenv("LUO_HOSTILE_ROUNDS");

	rng ^= 0x5555;
	random_rounds(env ? atoi(env) : 3000, false);
	child_step(ch);
}

/*
 * Random requests, mostly well formed, from root and from another uid in
 * turn ($LUO_HOSTILE_ROUNDS each, 3,000 by default; a fixed seed, or
 * $LUO_HOSTILE_SEED): luod
 * answers every one, never crashes, and afterwards serves, holds only what
 * is left preserved and stops cleanly (no leak under ASan).
 */
static void test_random_requests(void **state)
{
	const char *env = getenv("LUO_HOSTILE_ROUNDS");
	struct child ch;
	struct ref r;

	(void)state;
	if (geteuid() != 0)
		skip();
	if (getenv("LUO_HOSTILE_SEED"))
		rng = strtoull(getenv("LUO_HOSTILE_SEED"), NULL, 0) | 1;
	start_open();
	ref_make(&r, "roots-ref");
	random_rounds(env ? atoi(env) : 3000, true);
	child_start(&ch, UID_A, random_as_other_uid);
	child_end(&ch);
	/* whatever the rounds left it in: back to NORMAL, the reference intact */
	luo_set_event(r.dev, LUO_EVENT_CANCEL);
	luo_set_event(r.dev, LUO_EVENT_FINISH);
	assert_true(served_within(60, -1, false));
	assert_true(luod_alive(&d));
	ref_drop(&r);
}

/*
 * ---- A FUSE file whose server stops answering ----
 *
 * A FUSE server speaking /dev/fuse by hand: it answers INIT, and LOOKUP,
 * GETATTR and OPEN of its one file "f" (attributes never cached:
 * attr_valid 0) until it has opened it once; after that it reads
 * requests and answers none (GETATTR, STATFS, FLUSH: whatever luod's
 * syscalls on the fd ask). The fd is a file luod may be sent by anyone
 * who can mount FUSE: in a user+mount namespace of its own, or through
 * fusermount with allow_other. luod must serve everyone else while such
 * a server sits on its requests; killing the server ends them.
 */
#include <linux/fuse.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/sysmacros.h>

static void fuse_reply(int dev, uint64_t unique, int error, const void *body, size_t len)
{
	unsigned char buf[sizeof(struct fuse_out_header) + 256];
	struct fuse_out_header oh = { .len = (uint32_t)(sizeof(oh) + len), .error = error,
				      .unique = unique };

	memcpy(buf, &oh, sizeof(oh));
	if (len)
		memcpy(buf + sizeof(oh), body, len);
	(void)!write(dev, buf, oh.len);
}

static void fuse_attr_of(uint64_t node, struct fuse_attr *a)
{
	*a = (struct fuse_attr){ .ino = node, .nlink = 1, .blksize = 4096 };
	a->mode = node == FUSE_ROOT_ID ? S_IFDIR | 0755 : S_IFREG | 0666;
}

static void fuse_serve(int dev)
{
	static unsigned char buf[FUSE_MIN_READ_BUFFER + 1024 * 1024];
	bool opened = false;

	for (;;) {
		ssize_t n = read(dev, buf, sizeof(buf));
		struct fuse_in_header ih;

		if (n < 0 && (errno == EINTR || errno == ENOENT))
			continue;
		if (n < (ssize_t)sizeof(ih))
			_exit(0); /* unmounted */
		memcpy(&ih, buf, sizeof(ih));
		if (opened || ih.opcode == FUSE_FORGET || ih.opcode == FUSE_BATCH_FORGET)
			continue; /* silence from here on */
		switch (ih.opcode) {
		case FUSE_INIT: {
			struct fuse_init_in in;
			struct fuse_init_out out = { .major = FUSE_KERNEL_VERSION,
						     .minor = FUSE_KERNEL_MINOR_VERSION,
						     .max_background = 16, .congestion_threshold = 12,
						     .max_write = 4096, .time_gran = 1 };

			memcpy(&in, buf + sizeof(ih), sizeof(in) < (size_t)n - sizeof(ih) ?
							      sizeof(in) : (size_t)n - sizeof(ih));
			out.max_readahead = in.max_readahead;
			fuse_reply(dev, ih.unique, 0, &out, sizeof(out));
			break;
		}
		case FUSE_LOOKUP: {
			struct fuse_entry_out out = { .nodeid = 2, .generation = 1,
						      .entry_valid = 3600 };

			if (strcmp((const char *)buf + sizeof(ih), "f")) {
				fuse_reply(dev, ih.unique, -ENOENT, NULL, 0);
				break;
			}
			fuse_attr_of(2, &out.attr);
			fuse_reply(dev, ih.unique, 0, &out, sizeof(out));
			break;
		}
		case FUSE_GETATTR: {
			struct fuse_attr_out out = { 0 };

			fuse_attr_of(ih.nodeid, &out.attr);
			fuse_reply(dev, ih.unique, 0, &out, sizeof(out));
			break;
		}
		case FUSE_OPEN: {
			struct fuse_open_out out = { .fh = 1 };

			fuse_reply(dev, ih.unique, 0, &out, sizeof(out));
			opened = true;
			break;
		}
		default:
			fuse_reply(dev, ih.unique, -ENOSYS, NULL, 0);
		}
	}
}

enum fuse_setup {
	FUSE_OPENED = 'O',    /* the server answered; the file is open */
	FUSE_READY = 'R',
	FUSE_NO_USERNS = 'U', /* unshare(CLONE_NEWUSER | CLONE_NEWNS) refused */
	FUSE_NO_DEV = 'D',    /* no /dev/fuse to open */
	FUSE_NO_MOUNT = 'M',  /* the kernel would not mount it */
};

struct fuse_attack {
	struct child ch;
	bool userns;     /* mounted by another uid in its own namespaces; else as fusermount does */
	char dir[256];   /* mnt/ (and fuse, the device node) */
	pid_t server;
	int preserved;   /* luod's answer to the preserve */
};

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	E2E_CHECK(fd >= 0);
	E2E_CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
}

static void fuse_say(const struct fuse_attack *a, char c)
{
	E2E_CHECK(write(a->ch.from[1], &c, 1) == 1);
}

/*
 * In the child: mount the server's filesystem, open its file and send it
 * to luod as a preserve; tell the test luod's answer, then wait for its
 * word and kill the server (which ends what luod still waits for).
 */
static void fuse_attacker(void *arg)
{
	struct fuse_attack *a = arg;
	char path[300], opts[128], c;
	int dev, fd, luo, s, r;

	alarm(30); /* whatever happens, this child does not outlive the test */
	if (a->userns) {
		char map[64];

		/* after setuid() /proc/self is root's, and so would its uid_map be */
		E2E_CHECK(prctl(PR_SET_DUMPABLE, 1) == 0);
		if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0) {
			fuse_say(a, FUSE_NO_USERNS);
			_exit(0);
		}
		write_file("/proc/self/setgroups", "deny");
		snprintf(map, sizeof(map), "0 %u 1", UID_A);
		write_file("/proc/self/uid_map", map);
		snprintf(map, sizeof(map), "0 %u 1", GID_A);
		write_file("/proc/self/gid_map", map);
		snprintf(path, sizeof(path), "%s/fuse", a->dir);
	} else {
		E2E_CHECK(unshare(CLONE_NEWNS) == 0);
		E2E_CHECK(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0);
		snprintf(path, sizeof(path), "/dev/fuse");
	}
	dev = open(path, O_RDWR | O_CLOEXEC);
	if (dev < 0) {
		fuse_say(a, FUSE_NO_DEV);
		_exit(0);
	}
	snprintf(opts, sizeof(opts), "fd=%d,rootmode=40000,user_id=%u,group_id=%u%s", dev,
		 a->userns ? 0 : UID_A, a->userns ? 0 : GID_A, a->userns ? "" : ",allow_other");
	snprintf(path, sizeof(path), "%s/mnt", a->dir);
	if (mount("luo-fuse", path, "fuse", MS_NOSUID | MS_NODEV, opts) < 0) {
		fuse_say(a, FUSE_NO_MOUNT);
		_exit(0);
	}
	if (!a->userns) /* fusermount's user from here on, its server too */
		e2e_drop_to(UID_A, GID_A);
	a->server = fork();
	E2E_CHECK(a->server >= 0);
	if (a->server == 0) {
		alarm(60);
		fuse_serve(dev);
		_exit(0);
	}
	close(dev);
	snprintf(path, sizeof(path), "%s/mnt/f", a->dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fprintf(stderr, "open %s: %m\n", path);
	E2E_CHECK(fd >= 0);
	fuse_say(a, FUSE_OPENED);
	luo = luo_open(d.sock);
	E2E_CHECK(luo >= 0);
	s = luo_create_session(luo, "fuse");
	E2E_CHECK(s >= 0);
	/* luod answers, or alarm() ends this child and the test sees no answer */
	r = luo_session_preserve_fd(s, fd, 1);
	/* more closes that wait than luod has closer threads: refused (EACCES, EBUSY) */
	for (uint64_t t = 2; t < 6; t++)
		E2E_CHECK(luo_session_preserve_fd(s, fd, t) < 0);
	fuse_say(a, FUSE_READY);
	E2E_CHECK(write(a->ch.from[1], &r, sizeof(r)) == (ssize_t)sizeof(r));
	/* and luod lets go of the file with the session: a close(), a FLUSH */
	close(s);
	E2E_CHECK(read(a->ch.to[0], &c, 1) == 1);
	kill(a->server, SIGKILL);
	E2E_CHECK(waitpid(a->server, NULL, 0) == a->server);
	close(fd); /* not before: its FLUSH too would wait for the server */
	close(luo);
}

static void fuse_attack(bool userns)
{
	struct fuse_attack a = { .userns = userns };
	char path[300], got = 0;
	struct ref r;
	pid_t keeper;
	ssize_t n;

	if (geteuid() != 0)
		skip();
	if (access("/dev/fuse", F_OK) < 0) {
		print_message("# SKIP: no /dev/fuse (%m): FUSE files cannot be tried\n");
		skip();
	}
	snprintf(a.dir, sizeof(a.dir), "/tmp/luo-fuse-XXXXXX");
	assert_non_null(mkdtemp(a.dir));
	assert_int_equal(chmod(a.dir, 0755), 0);
	snprintf(path, sizeof(path), "%s/mnt", a.dir);
	assert_int_equal(mkdir(path, 0755), 0);
	assert_int_equal(chown(path, UID_A, GID_A), 0);
	/* /dev/fuse as distributions ship it (0666): this one may be 0600 */
	snprintf(path, sizeof(path), "%s/fuse", a.dir);
	assert_int_equal(mknod(path, S_IFCHR | 0666, makedev(10, 229)), 0);
	assert_int_equal(chmod(path, 0666), 0);

	start_open();
	ref_make(&r, "roots-ref");
	keeper = e2e_keeper_pid(&d);
	assert_true(keeper > 0);
	assert_int_equal(pipe(a.ch.to), 0);
	assert_int_equal(pipe(a.ch.from), 0);
	if (userns)
		a.ch.pid = e2e_fork_as(UID_A, GID_A, fuse_attacker, &a);
	else
		a.ch.pid = e2e_fork_as(0, 0, fuse_attacker, &a);
	close(a.ch.from[1]);
	close(a.ch.to[0]);
	n = read(a.ch.from[0], &got, 1);
	if (n == 1 && got != FUSE_OPENED) {
		assert_int_equal(e2e_wait(a.ch.pid), 0);
		close(a.ch.to[1]);
		close(a.ch.from[0]);
		ref_drop(&r);
		snprintf(path, sizeof(path), "%s/fuse", a.dir);
		unlink(path);
		snprintf(path, sizeof(path), "%s/mnt", a.dir);
		rmdir(path);
		rmdir(a.dir);
		print_message("# SKIP: %s\n", got == FUSE_NO_USERNS ? "unshare(CLONE_NEWUSER|CLONE_NEWNS) refused" :
					    got == FUSE_NO_DEV ? "cannot open /dev/fuse" :
								 "the kernel refuses this FUSE mount");
		skip();
	}
	assert_int_equal(n, 1);
	/* no byte: luod never answered the preserve (the child's alarm() ended it) */
	assert_int_equal(read(a.ch.from[0], &got, 1), 1);
	assert_int_equal(got, FUSE_READY);
	assert_int_equal(read(a.ch.from[0], &a.preserved, sizeof(a.preserved)),
			 (ssize_t)sizeof(a.preserved));
	print_message("# preserve of the FUSE file: %d\n", a.preserved);
	/* the session is closed: luod let go of the file (or hangs in close) */
	assert_true(served_within(10, LUO_STATE_NORMAL, true));
	ref_intact(&r);
	ref_drop(&r);
	/*
	 * An update while that close still waits: its execve waits for every
	 * thread of luod, so the close is in no thread of luod's.
	 */
	{
		char out[8192];

		assert_int_equal(luoctl(&d, out, sizeof(out), "update", "--timeout", "60", NULL), 0);
	}
	assert_int_equal(luod_status_field(&d, "generation"), 1);
	assert_true(served_within(10, -1, false));
	child_end(&a.ch);
	e2e_barrier(&d);
	assert_false(e2e_session_listed(&d, "fuse"));
	assert_int_equal(e2e_keeper_pid(&d), keeper);
	assert_int_equal(luod_status_field(&d, "keeper_failures"), 0);
	snprintf(path, sizeof(path), "%s/fuse", a.dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/mnt", a.dir);
	rmdir(path);
	rmdir(a.dir);
}

/* Another uid's FUSE, in its own user+mount namespace: luod may not even stat it. */
static void test_fuse_userns(void **state)
{
	(void)state;
	fuse_attack(true);
}


/*
 * A FUSE mounted as fusermount mounts it for a user that asks for
 * allow_other: luod may stat its file, and its server answers no GETATTR,
 * STATFS or FLUSH once the file is open.
 */
static void test_fuse_allow_other(void **state)
{
	(void)state;
	fuse_attack(false);
}

/*
 * ---- A socket whose last close lingers ----
 *
 * Another uid's TCP connection with SO_LINGER (an hour), its send buffer
 * full and a peer that never reads: the close of its last reference
 * waits for the peer's ACK of a FIN that cannot be sent, as long as the
 * linger time. The uid preserves it, closes its own fd and the session:
 * luod's close is the last one, and must not be on luod's loop.
 */
static void linger_attacker(void *arg)
{
	const struct child *ch = arg;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct linger lg = { .l_onoff = 1, .l_linger = 3600 };
	socklen_t len = sizeof(sa);
	int small = 4096, l, c, p, luo, s;
	static char junk[65536];

	alarm(30); /* a luod stuck in the close: the settle below never returns */
	l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	E2E_CHECK(l >= 0);
	E2E_CHECK(setsockopt(l, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)) == 0);
	E2E_CHECK(bind(l, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(l, 1) == 0);
	E2E_CHECK(getsockname(l, (struct sockaddr *)&sa, &len) == 0);
	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	E2E_CHECK(c >= 0);
	E2E_CHECK(setsockopt(c, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)) == 0);
	E2E_CHECK(connect(c, (struct sockaddr *)&sa, len) == 0);
	p = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	E2E_CHECK(p >= 0);
	E2E_CHECK(fcntl(c, F_SETFL, O_NONBLOCK) == 0);
	while (send(c, junk, sizeof(junk), MSG_NOSIGNAL) > 0)
		; /* until the peer's window and our send buffer are full */
	E2E_CHECK(errno == EAGAIN);
	E2E_CHECK(outq(c) > 0);
	E2E_CHECK(setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) == 0);
	luo = luo_open(d.sock);
	E2E_CHECK(luo >= 0);
	s = luo_create_session(luo, "linger");
	E2E_CHECK(s >= 0);
	E2E_CHECK(luo_session_preserve_fd(s, c, 1) == 0);
	close(c); /* luod's copy is the last */
	close(s); /* and luod lets go of it */
	e2e_settle(&d, 2); /* luod handled the session's end */
	child_step(ch); /* the test checks luod serves */
	close(p); /* unread data: a RST, which ends the linger */
	close(l);
	close(luo);
}

static void test_linger_socket(void **state)
{
	struct child ch;
	struct ref r;
	pid_t keeper;

	(void)state;
	if (geteuid() != 0)
		skip();
	start_open();
	ref_make(&r, "roots-ref");
	keeper = e2e_keeper_pid(&d);
	assert_true(keeper > 0);
	child_start(&ch, UID_A, linger_attacker);
	assert_true(served_within(10, LUO_STATE_NORMAL, true));
	ref_intact(&r);
	child_end(&ch);
	e2e_barrier(&d);
	assert_false(e2e_session_listed(&d, "linger"));
	/* the keeper's copy lingered off its loop too: luod never gave up on it */
	assert_int_equal(e2e_keeper_pid(&d), keeper);
	assert_int_equal(luod_status_field(&d, "keeper_failures"), 0);
	ref_intact(&r);
	ref_drop(&r);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_teardown(test_update_requester_not_reading, teardown),
	cmocka_unit_test_teardown(test_update_requester_floods_while_waiting, teardown),
	cmocka_unit_test_teardown(test_update_fails_behind_kept_reply, teardown),
	cmocka_unit_test_teardown(test_other_uid_stalls, teardown),
	cmocka_unit_test_teardown(test_dies_with_fds_in_flight, teardown),
	cmocka_unit_test_teardown(test_other_uid_privileged_ops, teardown),
	cmocka_unit_test_teardown(test_bad_reply_channels, teardown),
	cmocka_unit_test_teardown(test_kept_fds_leave_room_for_root, teardown),
	cmocka_unit_test_teardown(test_luod_as_another_uid, teardown),
	cmocka_unit_test_teardown(test_random_requests, teardown),
	cmocka_unit_test_teardown(test_forged_name_shown, teardown),
	cmocka_unit_test_teardown(test_tokens_repeat_in_one_message, teardown),
	cmocka_unit_test_teardown(test_fuse_userns, teardown),
	cmocka_unit_test_teardown(test_fuse_allow_other, teardown),
	cmocka_unit_test_teardown(test_linger_socket, teardown),
};

LUO_TEST_MAIN("hostile", tests, NULL, NULL)
