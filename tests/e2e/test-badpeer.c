// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Peers that break the protocol's rules on the real socket, beyond the
 * malformed single requests of test-protocol.c: fd counts that disagree
 * by a lot (every fd must still be closed), records far larger than any
 * message, requests in the wrong order or on the wrong kind of connection,
 * and peers that vanish with requests, fds or replies in flight. luod
 * answers each with a clear error, keeps serving and keeps every session,
 * and its own fd count (/proc/PID/fd) comes back to where it was.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "e2e.h"
#include "protocol.h"

static struct luod_proc d;

static int setup(void **state)
{
	(void)state;
	luod_start(&d, NULL);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	assert_true(luod_alive(&d));
	luod_stop(&d);
	return 0;
}

#define HDR sizeof(struct luo_msg_hdr)

static unsigned char rx[HDR + LUO_MSG_MAX];

static void send_req(int sock, uint16_t op, const void *body, size_t len, uint32_t nfds_hdr,
		     const int *fds, size_t nfds)
{
	unsigned char *buf = calloc(1, HDR + len);
	struct luo_msg_hdr h = {
		.size = (uint32_t)(HDR + len),
		.version = LUO_PROTO_VERSION,
		.op = op,
		.nfds = nfds_hdr,
	};

	assert_non_null(buf);
	memcpy(buf, &h, HDR);
	if (len)
		memcpy(buf + HDR, body, len);
	assert_int_equal(e2e_raw_send(sock, buf, HDR + len, fds, nfds), (ssize_t)(HDR + len));
	free(buf);
}

/* The reply must have this op and result; returns its body length. */
static size_t expect(int sock, uint16_t op, int32_t result)
{
	struct luo_msg_hdr hdr;
	int got[LUO_FDS_PER_MSG];
	size_t n_got = 0;
	ssize_t n = luo_msg_recv(sock, rx, sizeof(rx), got, LUO_FDS_PER_MSG, &n_got);

	assert_true(n >= (ssize_t)HDR);
	memcpy(&hdr, rx, HDR);
	assert_int_equal(hdr.op, op);
	assert_int_equal(hdr.result, result);
	for (size_t i = 0; i < n_got; i++)
		close(got[i]);
	return (size_t)n - HDR;
}

/* n memfds; the caller closes them. */
static void memfds(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fds[i] = memfd_pattern("bad", 64, (uint32_t)i);
}

static const void *zeros8(void)
{
	static const uint64_t zero;

	return &zero;
}

static void close_fds(const int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		close(fds[i]);
}

struct tokens_max {
	struct luo_msg_tokens h;
	uint64_t t[LUO_FDS_PER_MSG];
};

/* The most fds one record can carry, with counts that disagree: every one closed. */
static void test_fd_counts(void **state)
{
	static struct tokens_max m;
	int fds[LUO_FDS_PER_MSG], dev = e2e_open(&d), s, base;
	size_t len;

	(void)state;
	memfds(fds, LUO_FDS_PER_MSG);
	s = luo_create_session(dev, "counts");
	assert_true(s >= 0);
	base = e2e_luod_fds(&d);

	for (size_t i = 0; i < LUO_FDS_PER_MSG; i++)
		m.t[i] = i + 1;
	/* 253 fds, 252 tokens; 252 fds, 253 tokens; 253 fds announced as 200 */
	m.h.count = LUO_FDS_PER_MSG - 1;
	len = sizeof(m.h) + m.h.count * sizeof(uint64_t);
	send_req(s, LUO_OP_SESSION_PRESERVE, &m, len, LUO_FDS_PER_MSG, fds, LUO_FDS_PER_MSG);
	expect(s, LUO_OP_SESSION_PRESERVE, -EINVAL);
	m.h.count = LUO_FDS_PER_MSG;
	len = sizeof(m.h) + m.h.count * sizeof(uint64_t);
	send_req(s, LUO_OP_SESSION_PRESERVE, &m, len, LUO_FDS_PER_MSG - 1, fds, LUO_FDS_PER_MSG - 1);
	expect(s, LUO_OP_SESSION_PRESERVE, -EINVAL);
	send_req(s, LUO_OP_SESSION_PRESERVE, &m, len, 200, fds, LUO_FDS_PER_MSG);
	expect(s, LUO_OP_SESSION_PRESERVE, -EBADMSG);
	/* 253 fds on requests that take none, on both kinds of connection */
	send_req(s, LUO_OP_SESSION_GET_STATE, NULL, 0, LUO_FDS_PER_MSG, fds, LUO_FDS_PER_MSG);
	expect(s, LUO_OP_SESSION_GET_STATE, -EINVAL);
	send_req(dev, LUO_OP_STATUS, NULL, 0, LUO_FDS_PER_MSG, fds, LUO_FDS_PER_MSG);
	expect(dev, LUO_OP_STATUS, -EINVAL);
	/* the same fd many times over: still one open file, every copy closed */
	{
		int same[LUO_FDS_PER_MSG];

		for (size_t i = 0; i < LUO_FDS_PER_MSG; i++)
			same[i] = fds[0];
		send_req(s, LUO_OP_SESSION_PRESERVE, &m, len, LUO_FDS_PER_MSG, same, LUO_FDS_PER_MSG);
		expect(s, LUO_OP_SESSION_PRESERVE, -EBUSY);
	}
	assert_int_equal(e2e_luod_fds(&d), base);
	assert_int_equal(e2e_session_files(&d, "counts"), 0);

	/* and the full count, right: all 253 kept, then all released with the handle */
	send_req(s, LUO_OP_SESSION_PRESERVE, &m, len, LUO_FDS_PER_MSG, fds, LUO_FDS_PER_MSG);
	expect(s, LUO_OP_SESSION_PRESERVE, 0);
	assert_int_equal(e2e_session_files(&d, "counts"), LUO_FDS_PER_MSG);
	assert_int_equal(e2e_luod_fds(&d), base + LUO_FDS_PER_MSG);
	close(s);
	e2e_barrier(&d);
	assert_int_equal(e2e_luod_fds(&d), base - 1);
	close_fds(fds, LUO_FDS_PER_MSG);
	close(dev);
}

/* Records far past LUO_MSG_MAX, with and without fds: EBADMSG, fds closed, connection kept. */
static void test_oversized(void **state)
{
	size_t sizes[] = { HDR + LUO_MSG_MAX + 1, 128 * 1024, 200 * 1024 };
	int dev = e2e_open(&d), s, base, fds[8];
	unsigned char *big = calloc(1, 200 * 1024);
	int buf = 256 * 1024;

	(void)state;
	assert_non_null(big);
	memfds(fds, 8);
	s = luo_create_session(dev, "big");
	assert_true(s >= 0);
	assert_int_equal(setsockopt(dev, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf)), 0);
	assert_int_equal(setsockopt(s, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf)), 0);
	base = e2e_luod_fds(&d);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct luo_msg_hdr h = {
			.size = (uint32_t)sizes[i],
			.version = LUO_PROTO_VERSION,
			.op = LUO_OP_SESSION_PRESERVE,
			.nfds = 8,
		};

		memcpy(big, &h, HDR);
		assert_int_equal(e2e_raw_send(s, big, sizes[i], fds, 8), (ssize_t)sizes[i]);
		expect(s, LUO_OP_SESSION_PRESERVE, -EBADMSG);
		h.op = LUO_OP_STATUS;
		h.nfds = 0;
		memcpy(big, &h, HDR);
		assert_int_equal(e2e_raw_send(dev, big, sizes[i], NULL, 0), (ssize_t)sizes[i]);
		expect(dev, LUO_OP_STATUS, -EBADMSG);
	}
	/* both connections still work */
	assert_int_equal(luo_session_preserve_fd(s, fds[0], 1), 0);
	{
		enum luo_state st;

		assert_int_equal(luo_get_state(dev, &st), 0);
	}
	assert_int_equal(e2e_luod_fds(&d), base + 1);
	close(s);
	close(dev);
	close_fds(fds, 8);
	free(big);
}

/* Each request on the connection or in the state it does not belong to. */
static void test_out_of_order(void **state)
{
	static const uint16_t session_ops[] = {
		LUO_OP_SESSION_PRESERVE, LUO_OP_SESSION_UNPRESERVE, LUO_OP_SESSION_RETRIEVE,
		LUO_OP_SESSION_FINISH,   LUO_OP_SESSION_GET_NAME,   LUO_OP_SESSION_SET_EVENT,
		LUO_OP_SESSION_GET_STATE, LUO_OP_PARTICIPANT_EVENT,
	};
	static const uint16_t device_ops[] = {
		LUO_OP_CREATE_SESSION, LUO_OP_RETRIEVE_SESSION, LUO_OP_GET_STATE,
		LUO_OP_SET_EVENT,      LUO_OP_STATUS,           LUO_OP_LIST_SESSIONS,
		LUO_OP_SHOW_SESSION,   LUO_OP_UPDATE,           LUO_OP_PARTICIPANT_REGISTER,
		LUO_OP_SESSION_UPDATE, LUO_OP_PARTICIPANT_EVENT,
	};
	struct luo_msg_name name = { .name = "order" };
	unsigned char zeros[64] = { 0 };
	int dev = e2e_open(&d), s, t, fd = memfd_pattern("o", 4096, 3), base;

	(void)state;
	s = luo_create_session(dev, "order");
	assert_true(s >= 0);
	assert_int_equal(luo_session_preserve_fd(s, fd, 1), 0);
	base = e2e_luod_fds(&d);

	/* session ops on a device connection, device ops on a session handle */
	for (size_t i = 0; i < sizeof(session_ops) / sizeof(session_ops[0]); i++) {
		send_req(dev, session_ops[i], zeros, 16, 0, NULL, 0);
		expect(dev, session_ops[i], -EINVAL);
	}
	for (size_t i = 0; i < sizeof(device_ops) / sizeof(device_ops[0]); i++) {
		send_req(s, device_ops[i], &name, sizeof(name), 0, NULL, 0);
		expect(s, device_ops[i], -EINVAL);
	}
	/* a participant's answer when no event was sent: ignored, the connection lives on */
	t = e2e_open(&d);
	assert_true(luo_participant_register(t, "early", NULL, 0) >= 0);
	assert_int_equal(luo_participant_reply(t, 0, NULL, 0), 0);
	assert_int_equal(luo_participant_reply(t, -EIO, "x", 1), 0);
	e2e_barrier(&d);
	assert_int_equal(luod_status_field(&d, "participants"), 1);
	close(t);
	e2e_barrier(&d);

	/* steps out of order on a session: retrieve and finish before any update */
	assert_int_equal(luo_session_retrieve_fd(s, 1), -EINVAL);
	assert_true(luo_session_finish(s) < 0);
	assert_true(luo_retrieve_session(dev, "order") < 0);
	/* a global FINISH and a FREEZE without PREPARE in NORMAL: refused, nothing moves */
	assert_true(luo_set_event(dev, LUO_EVENT_FINISH) < 0);
	e2e_assert_state(&d, "normal");
	assert_int_equal(e2e_session_files(&d, "order"), 1);
	assert_int_equal(e2e_luod_fds(&d), base);

	/* on a handle whose session ended: no preserve, its fds closed */
	close(s);
	e2e_barrier(&d);
	s = luo_create_session(dev, "order");
	assert_true(s >= 0);
	assert_int_equal(luo_session_preserve_fd(s, fd, 1), 0);
	assert_int_equal(luo_session_unpreserve_fd(s, 1), 0);
	assert_int_equal(luo_session_preserve_fd(s, fd, 1), 0);
	assert_int_equal(luo_session_unpreserve_fd(s, 1), 0);
	assert_int_equal(luo_session_unpreserve_fd(s, 1), -ENOENT);
	close(s);
	close(fd);
	close(dev);
	e2e_barrier(&d);
	assert_int_equal(luod_status_field(&d, "files"), 0);
}

/*
 * Peers that vanish: after sending fds, with replies queued that they never
 * read, while luod waits on them as a participant, and killed outright.
 */
static void test_vanishing_peers(void **state)
{
	int dev = e2e_open(&d), keep, s, base, fds[16];
	struct luo_msg_tokens h = { .count = 16 };
	unsigned char body[sizeof(h) + 16 * sizeof(uint64_t)];

	(void)state;
	memfds(fds, 16);
	keep = luo_create_session(dev, "keep");
	assert_true(keep >= 0);
	assert_int_equal(luo_session_preserve_fd(keep, fds[0], 1), 0);
	base = e2e_luod_fds(&d);

	/* fds sent, handle closed before the reply could be read */
	for (int round = 0; round < 8; round++) {
		s = luo_create_session(dev, "gone");
		assert_true(s >= 0);
		memcpy(body, &h, sizeof(h));
		for (uint64_t i = 0; i < 16; i++)
			memcpy(body + sizeof(h) + i * 8, &(uint64_t){ i + 1 }, 8);
		send_req(s, LUO_OP_SESSION_PRESERVE, body, sizeof(body), 15, fds + 1, 15);
		send_req(s, LUO_OP_SESSION_PRESERVE, body, sizeof(body), 16, fds, 16);
		close(s);
		e2e_settle(&d, 4); /* two requests queued, then the hang-up */
	}
	assert_false(e2e_session_listed(&d, "gone"));
	assert_int_equal(e2e_luod_fds(&d), base);

	/* replies queued past the socket buffer, then the peer goes */
	for (int round = 0; round < 4; round++) {
		int c = e2e_open(&d);
		int small = 4096;

		setsockopt(c, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
		for (int i = 0; i < 200; i++)
			send_req(c, LUO_OP_LIST_SESSIONS, zeros8(), 8, 0, NULL, 0);
		close(c);
	}
	e2e_settle(&d, 210);
	assert_int_equal(e2e_luod_fds(&d), base);

	/* a client killed with a session and a request in flight */
	{
		pid_t pid = fork();

		assert_true(pid >= 0);
		if (pid == 0) {
			int cd = luo_open(d.sock), cs;

			if (cd < 0)
				_exit(1);
			cs = luo_create_session(cd, "killed");
			if (cs < 0 || luo_session_preserve_fd(cs, fds[2], 1) < 0)
				_exit(1);
			memcpy(body, &h, sizeof(h));
			send_req(cs, LUO_OP_SESSION_PRESERVE, body, sizeof(body), 16, fds, 16);
			raise(SIGKILL);
			_exit(1);
		}
		assert_int_equal(e2e_wait(pid), 128 + SIGKILL);
	}
	e2e_barrier(&d);
	assert_false(e2e_session_listed(&d, "killed"));
	assert_int_equal(e2e_luod_fds(&d), base);
	assert_int_equal(e2e_session_files(&d, "keep"), 1);
	assert_true(memfd_pattern_ok(fds[0], 64, 0));
	close(keep);
	close_fds(fds, 16);
	close(dev);
}

/* One update whose requester hangs up right after asking; the session crosses it intact. */
static void vanished_requester_update(long long generation)
{
	static struct luo_msg_update up;
	int dev = e2e_open(&d), s, fd = memfd_pattern("u", 65536, 9), c;

	s = luo_create_session(dev, "crossing");
	assert_true(s >= 0);
	assert_int_equal(luo_session_preserve_fd(s, fd, 1), 0);
	c = e2e_open(&d);
	send_req(c, LUO_OP_UPDATE, &up, sizeof(up), 0, NULL, 0);
	close(c);
	/* the update goes on without anyone to answer; the handle hangs up at the execve */
	{
		char byte;

		assert_true(read(s, &byte, 1) <= 0);
	}
	close(s);
	close(dev);
	for (int i = 0; i < 500 && luod_status_field(&d, "generation") != generation; i++)
		usleep(10000);
	assert_int_equal(luod_status_field(&d, "generation"), generation);
	assert_true(luod_alive(&d));
	dev = e2e_open(&d);
	s = luo_retrieve_session(dev, "crossing");
	assert_true(s >= 0);
	{
		int got = luo_session_retrieve_fd(s, 1);

		assert_true(got >= 0);
		assert_true(memfd_pattern_ok(got, 65536, 9));
		close(got);
	}
	assert_int_equal(luo_session_finish(s), 0);
	close(s);
	close(dev);
	close(fd);
	e2e_barrier(&d);
}

static void test_update_requester_vanishes(void **state)
{
	int fds;

	(void)state;
	vanished_requester_update(1);
	fds = e2e_luod_fds(&d);
	vanished_requester_update(2);
	assert_int_equal(e2e_luod_fds(&d), fds);
	e2e_assert_state(&d, "normal");
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_setup_teardown(test_fd_counts, setup, teardown),
	cmocka_unit_test_setup_teardown(test_oversized, setup, teardown),
	cmocka_unit_test_setup_teardown(test_out_of_order, setup, teardown),
	cmocka_unit_test_setup_teardown(test_vanishing_peers, setup, teardown),
	cmocka_unit_test_setup_teardown(test_update_requester_vanishes, setup, teardown),
};

LUO_TEST_MAIN("badpeer", tests, NULL, NULL)
