// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Hostile clients, beyond what test-badpeer.c, test-protocol.c and
 * test-isolation.c try: a real luod as root with its socket open to every
 * uid, and clients (root, or other uids: forked children that setuid
 * before they connect) that stall, never read, hand luod fds it must not
 * trust, or die with replies in flight:
 *  - the requester of an update whose connection is full of replies it
 *    has not read: the successor still serves (it does not block on the
 *    answer) and the answer reaches the requester once it reads;
 *  - clients of another uid that stall: a short record, a connection that
 *    says nothing, one that floods requests and never reads, a session
 *    handle that does the same; everyone else is served meanwhile and
 *    nothing of theirs is lost;
 *  - a client that dies while luod's replies carry it fds (new session
 *    handles): none of them is left in luod, no session outlives it;
 *  - reply channels that are not what they should be (a pipe, a memfd, the
 *    connection itself, another session's handle);
 *  - another uid's privileged requests, also through a reply channel.
 * After each, luod serves a well-behaved client and every session it held
 * before is intact.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
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
__attribute__((unused)) static void start_open(void)
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

__attribute__((unused)) static void ref_intact(const struct ref *r)
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
 * want and lets it make a session: in a child under alarm(), so that a
 * luod that hangs fails the test instead of hanging it.
 */
static bool served_within(unsigned seconds, enum luo_state want)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		enum luo_state st = LUO_STATE_NORMAL;
		int dev, s;

		alarm(seconds);
		for (;;) {
			dev = luo_open(d.sock);
			if (dev >= 0 && luo_get_state(dev, &st) == 0 && st == want)
				break;
			if (dev >= 0)
				close(dev);
			usleep(10000);
		}
		s = luo_create_session(dev, "served-within");
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
	served = served_within(60, LUO_STATE_UPDATED);
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

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_teardown(test_update_requester_not_reading, teardown),
};

LUO_TEST_MAIN("hostile", tests, NULL, NULL)
