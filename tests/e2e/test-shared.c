// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libluo handles where real programs use them: one device or session
 * handle shared by processes (after fork, after SCM_RIGHTS) issuing calls
 * at the same instant, calls from a signal handler that interrupts another
 * call, threads cancelled among their calls, and stray write()s on a
 * handle. Every call must get its own reply (LUO_OP_REPLY_CHANNEL), never
 * wait on itself, and leave nothing behind. Also the protocol rules of
 * reply channels, and clients that predate them (replies on the
 * connection) beside clients that use them, on one handle.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "e2e.h"
#include "protocol.h"
#include "rpc.h"

static struct luod_proc d;
static struct rlimit nofile; /* as the test started: a failed case cannot leave it lowered */

static int setup(void **state)
{
	(void)state;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &nofile), 0);
	luod_start(&d, NULL);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	setrlimit(RLIMIT_NOFILE, &nofile);
	assert_true(luod_alive(&d));
	luod_stop(&d);
	return 0;
}

#define CALLS 1500

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static bool name_is(int s, const char *want)
{
	char name[LUO_NAME_MAX];

	return luo_session_get_name(s, name) == 0 && !strcmp(name, want);
}

static bool state_normal(int dev)
{
	enum luo_state st;

	return luo_get_state(dev, &st) == 0 && st == LUO_STATE_NORMAL;
}

/* The child's calls: answers no parent call could be mistaken for. */
static void child_calls(int dev, int s, int go)
{
	char c, name[32];
	int bad = 0;

	if (read(go, &c, 1) != 1)
		_exit(2);
	for (int i = 0; i < CALLS; i++) {
		int fd;

		if (luo_session_retrieve_fd(s, 1) != -EINVAL) /* an outgoing session */
			bad++;
		snprintf(name, sizeof(name), "child-%d", i);
		fd = luo_create_session(dev, name);
		if (fd < 0)
			bad++;
		else
			close(fd);
	}
	_exit(bad ? 1 : 0);
}

static void parent_calls(int dev, int s, int go, pid_t child)
{
	int bad = 0;

	assert_int_equal(write(go, "g", 1), 1);
	for (int i = 0; i < CALLS; i++)
		if (!name_is(s, "shared") || !state_normal(dev))
			bad++;
	assert_int_equal(e2e_wait(child), 0);
	assert_int_equal(bad, 0);
}

/* Nothing was left on the handles for a later call to take. */
static void handles_still_right(int dev, int s)
{
	int m = memfd_pattern("after", 0, 0);

	assert_true(name_is(s, "shared"));
	assert_int_equal(luo_session_preserve_fd(s, m, 1), 0);
	assert_int_equal(luo_session_preserve_fd(s, m, 2), -EBUSY);
	assert_int_equal(luo_session_unpreserve_fd(s, 1), 0);
	assert_true(state_normal(dev));
	close(m);
}

static void test_handles_shared_across_fork(void **state)
{
	int dev = e2e_open(&d), s, go[2];
	pid_t pid;

	(void)state;
	s = luo_create_session(dev, "shared");
	assert_true(s >= 0);
	assert_int_equal(pipe(go), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(go[1]);
		child_calls(dev, s, go[0]);
	}
	close(go[0]);
	parent_calls(dev, s, go[1], pid);
	close(go[1]);
	handles_still_right(dev, s);
	close(s);
	close(dev);
}

static void test_handles_shared_by_scm_rights(void **state)
{
	int dev = e2e_open(&d), s, go[2], sp[2];
	pid_t pid;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	assert_int_equal(pipe(go), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int rd, rs;

		close(sp[0]);
		close(go[1]);
		close(dev);
		rd = e2e_recv_fd(sp[1]);
		rs = e2e_recv_fd(sp[1]);
		child_calls(rd, rs, go[0]);
	}
	close(sp[1]);
	close(go[0]);
	s = luo_create_session(dev, "shared");
	assert_true(s >= 0);
	e2e_send_fd(sp[0], dev);
	e2e_send_fd(sp[0], s);
	parent_calls(dev, s, go[1], pid);
	close(go[1]);
	close(sp[0]);
	handles_still_right(dev, s);
	close(s);
	close(dev);
}

static int sig_dev = -1, sig_s = -1;
static volatile sig_atomic_t sig_calls, sig_bad;

static void on_alarm(int sig)
{
	int saved = errno;

	(void)sig;
	if (!name_is(sig_s, "signal") || !state_normal(sig_dev))
		sig_bad++;
	sig_calls++;
	errno = saved;
}

/* Calls from a SIGALRM handler, every 300 us, while the program is inside calls. */
static void test_calls_from_signal_handler(void **state)
{
	struct sigaction sa = { .sa_handler = on_alarm, .sa_flags = SA_RESTART }, old;
	struct itimerval it = { { 0, 300 }, { 0, 300 } }, off = { { 0, 0 }, { 0, 0 } };
	int bad = 0, other;
	uint64_t deadline = mono_ms() + 60000;

	(void)state;
	sig_dev = e2e_open(&d);
	sig_s = luo_create_session(sig_dev, "signal");
	other = luo_create_session(sig_dev, "signal-other");
	assert_true(sig_s >= 0 && other >= 0);
	sig_calls = sig_bad = 0;
	assert_int_equal(sigaction(SIGALRM, &sa, &old), 0);
	assert_int_equal(setitimer(ITIMER_REAL, &it, NULL), 0);
	while (sig_calls < 300 && mono_ms() < deadline)
		if (luo_session_retrieve_fd(sig_s, 1) != -EINVAL || !name_is(other, "signal-other") ||
		    !name_is(sig_s, "signal"))
			bad++;
	assert_int_equal(setitimer(ITIMER_REAL, &off, NULL), 0);
	assert_int_equal(sigaction(SIGALRM, &old, NULL), 0);
	assert_true(sig_calls >= 300);
	assert_int_equal(bad, 0);
	assert_int_equal(sig_bad, 0);
	close(other);
	close(sig_s);
	close(sig_dev);
}

static volatile sig_atomic_t worker_calls;

static void *worker(void *arg)
{
	int s = *(int *)arg;

	for (;;) {
		if (!name_is(s, "cancel") || luo_session_retrieve_fd(s, 1) != -EINVAL)
			return (void *)1;
		worker_calls++;
		pthread_testcancel();
	}
}

/* Threads cancelled among their calls: the calls after work, and no fd is left. */
static void test_cancelled_threads(void **state)
{
	int dev = e2e_open(&d), s, before, luod_before;
	uint64_t deadline = mono_ms() + 60000;

	(void)state;
	s = luo_create_session(dev, "cancel");
	assert_true(s >= 0);
	before = e2e_own_fd_count();
	luod_before = e2e_luod_fds(&d);
	for (int round = 0; round < 40; round++) {
		pthread_t t;
		void *ret = NULL;

		worker_calls = 0;
		assert_int_equal(pthread_create(&t, NULL, worker, &s), 0);
		while (worker_calls < 5 && mono_ms() < deadline)
			assert_true(state_normal(dev));
		assert_int_equal(pthread_cancel(t), 0);
		assert_int_equal(pthread_join(t, &ret), 0);
		assert_ptr_equal(ret, PTHREAD_CANCELED);
		assert_true(name_is(s, "cancel"));
	}
	assert_int_equal(e2e_own_fd_count(), before);
	assert_int_equal(e2e_luod_fds(&d), luod_before);
	close(s);
	close(dev);
}

/* Stray writes on a handle reach luod as malformed messages: nothing changes, none is read as a reply. */
static void test_stray_writes(void **state)
{
	int dev = e2e_open(&d), s, m = memfd_pattern("stray", 4096, 1), base;

	(void)state;
	s = luo_create_session(dev, "stray");
	assert_true(s >= 0);
	base = e2e_luod_fds(&d);
	assert_int_equal(write(s, "garbage!", 8), 8);
	assert_true(name_is(s, "stray"));
	assert_int_equal(luo_session_preserve_fd(s, m, 1), 0);
	assert_int_equal(luo_session_preserve_fd(s, m, 2), -EBUSY);
	/* more than luod's socket holds of the error replies nobody reads: they are dropped */
	for (int i = 0; i < 2000; i++)
		assert_int_equal(write(s, "garbage!", 8), 8);
	assert_true(name_is(s, "stray"));
	assert_int_equal(luo_session_preserve_fd(s, m, 3), -EBUSY);
	assert_int_equal(luo_session_unpreserve_fd(s, 1), 0);
	assert_int_equal(luo_session_preserve_fd(s, m, 3), 0);
	assert_int_equal(e2e_session_files(&d, "stray"), 1);
	assert_int_equal(e2e_luod_fds(&d), base + 1);
	assert_true(luod_alive(&d));
	close(m);
	close(s);
	close(dev);
}

/* At the fd limit there is no fd for a channel: calls that make no fd still work. */
static void test_at_the_fd_limit(void **state)
{
	int dev = e2e_open(&d), s, m = memfd_pattern("limit", 0, 0), fill[256], n = 0;
	struct rlimit old, low;
	enum luo_state st;

	(void)state;
	s = luo_create_session(dev, "limit");
	assert_true(s >= 0);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = old;
	low.rlim_cur = (rlim_t)e2e_own_fd_count() + 64;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	while (n < 256 && (fill[n] = dup(0)) >= 0)
		n++;
	assert_true(n < 256 && errno == EMFILE);
	assert_true(name_is(s, "limit"));
	assert_int_equal(luo_session_preserve_fd(s, m, 1), 0);
	assert_int_equal(luo_session_preserve_fd(s, m, 2), -EBUSY);
	assert_int_equal(luo_get_state(dev, &st), 0);
	assert_int_equal(luo_session_retrieve_fd(s, 1), -EINVAL);
	while (n > 0)
		close(fill[--n]);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	assert_true(name_is(s, "limit"));
	assert_int_equal(e2e_session_files(&d, "limit"), 1);
	close(m);
	close(s);
	close(dev);
}

/* A client that predates reply channels, beside one that uses them, on the same handles. */
static void test_old_clients(void **state)
{
	static struct luo_reply reply;
	int dev = e2e_open(&d), s, m = memfd_pattern("old", 0, 0);
	struct {
		struct luo_msg_tokens h;
		uint64_t token;
	} req = { .h = { .count = 1 }, .token = 5 };

	(void)state;
	assert_int_equal(luo_call_full(dev, LUO_OP_CREATE_SESSION, "old", 4, NULL, 0, &reply), -EINVAL);
	{
		struct luo_msg_name n = { .name = "old" };

		assert_int_equal(luo_call_full(dev, LUO_OP_CREATE_SESSION, &n, sizeof(n), NULL, 0, &reply),
				 0);
		assert_int_equal(reply.nfds, 1);
		s = reply.fds[0];
	}
	assert_int_equal(luo_call_full(s, LUO_OP_SESSION_PRESERVE, &req, sizeof(req), &m, 1, &reply), 0);
	assert_true(name_is(s, "old"));
	assert_int_equal(luo_call_full(s, LUO_OP_SESSION_GET_NAME, NULL, 0, NULL, 0, &reply), 0);
	assert_string_equal((char *)reply.body, "old");
	assert_int_equal(luo_session_preserve_fd(s, m, 6), -EBUSY);
	assert_int_equal(luo_call_full(s, LUO_OP_SESSION_PRESERVE, &req, sizeof(req), &m, 1, &reply),
			 -EEXIST);
	assert_true(state_normal(dev));
	close(m);
	close(s);
	close(dev);
}

#define HDR sizeof(struct luo_msg_hdr)

/* Receive one record on sock: its op and result. */
static void expect_on(int sock, uint16_t op, int32_t result)
{
	static unsigned char rx[HDR + LUO_MSG_MAX];
	struct luo_msg_hdr hdr;
	int fds[LUO_FDS_PER_MSG];
	size_t nfds = 0;
	ssize_t n = luo_msg_recv(sock, rx, sizeof(rx), fds, LUO_FDS_PER_MSG, &nfds);

	assert_true(n >= (ssize_t)HDR);
	memcpy(&hdr, rx, HDR);
	assert_int_equal(hdr.op, op);
	assert_int_equal(hdr.result, result);
	for (size_t i = 0; i < nfds; i++)
		close(fds[i]);
}

/* Nothing waits on sock. */
static void nothing_on(int sock)
{
	char b;

	assert_int_equal(recv(sock, &b, 1, MSG_DONTWAIT | MSG_PEEK), -1);
	assert_int_equal(errno, EAGAIN);
}

/* The rules of LUO_OP_REPLY_CHANNEL, on raw messages. */
static void test_reply_channel_rules(void **state)
{
	int dev = e2e_open(&d), s, ch[2], m = memfd_pattern("ch", 0, 0), base;
	struct luo_msg_name n = { .name = "watch" };
	uint16_t flag = LUO_OP_REPLY_CHANNEL;

	(void)state;
	s = luo_create_session(dev, "rules");
	assert_true(s >= 0);
	base = e2e_luod_fds(&d);

	/* the flag without a channel: EINVAL, on the connection */
	assert_int_equal(luo_msg_send(dev, LUO_OP_GET_STATE | flag, 0, NULL, 0, NULL, 0), 0);
	expect_on(dev, LUO_OP_GET_STATE | flag, -EINVAL);
	assert_int_equal(luo_msg_send(s, LUO_OP_SESSION_GET_NAME | flag, 0, NULL, 0, NULL, 0), 0);
	expect_on(s, LUO_OP_SESSION_GET_NAME | flag, -EINVAL);

	/* the reply on the channel, with the plain op, and nothing on the connection */
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ch), 0);
	assert_int_equal(luo_msg_send(s, LUO_OP_SESSION_GET_NAME | flag, 0, NULL, 0, &ch[1], 1), 0);
	close(ch[1]);
	expect_on(ch[0], LUO_OP_SESSION_GET_NAME, 0);
	e2e_barrier(&d);
	nothing_on(s);
	{
		char b;

		assert_int_equal(recv(ch[0], &b, 1, 0), 0); /* luod closed its end */
	}
	close(ch[0]);

	/* ops that bind the connection refuse a channel: EINVAL there */
	for (int i = 0; i < 3; i++) {
		static const uint16_t ops[] = { LUO_OP_WATCH, LUO_OP_UPDATE, LUO_OP_PARTICIPANT_REGISTER };
		struct luo_msg_update up = { 0 };
		const void *body = ops[i] == LUO_OP_UPDATE ? (const void *)&up : (const void *)&n;
		size_t len = ops[i] == LUO_OP_WATCH ? 0 : ops[i] == LUO_OP_UPDATE ? sizeof(up) : sizeof(n);

		assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ch), 0);
		assert_int_equal(luo_msg_send(dev, ops[i] | flag, 0, body, len, &ch[1], 1), 0);
		close(ch[1]);
		expect_on(ch[0], ops[i], -EINVAL);
		close(ch[0]);
	}
	nothing_on(dev);
	assert_int_equal(luod_status_field(&d, "generation"), 0);

	/* a preserve whose fd follows the channel */
	{
		struct {
			struct luo_msg_tokens h;
			uint64_t token;
		} req = { .h = { .count = 1 }, .token = 9 };
		int fds[2];

		assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ch), 0);
		fds[0] = ch[1];
		fds[1] = m;
		assert_int_equal(luo_msg_send(s, LUO_OP_SESSION_PRESERVE | flag, 0, &req, sizeof(req),
					      fds, 2),
				 0);
		close(ch[1]);
		expect_on(ch[0], LUO_OP_SESSION_PRESERVE, 0);
		close(ch[0]);
		assert_int_equal(e2e_session_files(&d, "rules"), 1);
	}

	/* a "channel" that is no socket: the reply is lost, luod and the handle go on */
	{
		int notsock = memfd_pattern("notsock", 0, 0);

		assert_int_equal(luo_msg_send(s, LUO_OP_SESSION_GET_NAME | flag, 0, NULL, 0, &notsock, 1),
				 0);
		close(notsock);
		assert_true(name_is(s, "rules"));
		nothing_on(s);
	}
	assert_int_equal(e2e_luod_fds(&d), base + 1);
	close(m);
	close(s);
	close(dev);
}

#define CASE(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

static const struct CMUnitTest tests[] = {
	CASE(test_handles_shared_across_fork),
	CASE(test_handles_shared_by_scm_rights),
	CASE(test_calls_from_signal_handler),
	CASE(test_cancelled_threads),
	CASE(test_stray_writes),
	CASE(test_at_the_fd_limit),
	CASE(test_old_clients),
	CASE(test_reply_channel_rules),
};

LUO_TEST_MAIN("shared", tests, NULL, NULL)
