// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Malformed requests written straight onto the SOCK_SEQPACKET connections
 * (a device connection from luo_open and a session handle): wrong version,
 * truncated header, size mismatch, oversized record, unknown op, short
 * body, non-zero tail (E2BIG), fds where none belong, fd counts that do not
 * match. luod answers each with the exact error, keeps the connection and
 * every session, and holds no fd it received with a rejected request.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
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

/* Send raw bytes (a header of our making included) with fds attached. */
static void raw_send(int sock, const void *data, size_t len, const int *fds, size_t nfds)
{
	assert_int_equal(e2e_raw_send(sock, data, len, fds, nfds), (ssize_t)len);
}

/* A message with a header as given and body; returns nothing, see expect(). */
static void send_msg(int sock, struct luo_msg_hdr hdr, const void *body, size_t len,
		     const int *fds, size_t nfds)
{
	unsigned char *buf = malloc(HDR + len);

	assert_non_null(buf);
	memcpy(buf, &hdr, HDR);
	if (len)
		memcpy(buf + HDR, body, len);
	raw_send(sock, buf, HDR + len, fds, nfds);
	free(buf);
}

static struct luo_msg_hdr hdr_for(uint16_t op, size_t body_len, size_t nfds)
{
	return (struct luo_msg_hdr){
		.size = (uint32_t)(HDR + body_len),
		.version = LUO_PROTO_VERSION,
		.op = op,
		.nfds = (uint32_t)nfds,
	};
}

/* Receive the reply: its op and result must be these; returns the body length, *nfds the fds. */
static size_t expect(int sock, uint16_t op, int32_t result, int *fds, size_t *nfds)
{
	struct luo_msg_hdr hdr;
	int got[LUO_FDS_PER_MSG];
	size_t n_got = 0;
	ssize_t n = luo_msg_recv(sock, rx, sizeof(rx), got, LUO_FDS_PER_MSG, &n_got);

	assert_true(n >= (ssize_t)HDR);
	memcpy(&hdr, rx, HDR);
	assert_int_equal(hdr.op, op);
	assert_int_equal(hdr.result, result);
	if (result < 0)
		assert_int_equal(n, HDR); /* an error has no body */
	if (nfds) {
		*nfds = n_got;
		memcpy(fds, got, n_got * sizeof(int));
	} else {
		assert_int_equal(n_got, 0);
	}
	return (size_t)n - HDR;
}

static void expect_err(int sock, uint16_t op, int32_t result)
{
	expect(sock, op, result, NULL, NULL);
}

static void test_device_malformed(void **state)
{
	unsigned char big[HDR + LUO_MSG_MAX + 64] = { 0 };
	struct luo_msg_name name;
	struct luo_msg_hdr h;
	struct luo_msg_event ev;
	unsigned char body[256];
	int dev = e2e_open(&d), base, fd = memfd_pattern("p", 4096, 1), fds[2];
	size_t nfds;

	(void)state;
	base = e2e_luod_fds(&d);

	/* malformed: EBADMSG, answered with the op the header names (libluo's call gets it) */
	/* wrong version */
	h = hdr_for(LUO_OP_GET_STATE, 0, 0);
	h.version = LUO_PROTO_VERSION + 1;
	send_msg(dev, h, NULL, 0, NULL, 0);
	expect_err(dev, LUO_OP_GET_STATE, -EBADMSG);
	/* truncated header */
	h = hdr_for(LUO_OP_GET_STATE, 0, 0);
	raw_send(dev, &h, HDR - 4, NULL, 0);
	expect_err(dev, LUO_OP_GET_STATE, -EBADMSG);
	/* the header claims more, then less, than the record holds */
	h = hdr_for(LUO_OP_GET_STATE, 8, 0);
	send_msg(dev, h, NULL, 0, NULL, 0);
	expect_err(dev, LUO_OP_GET_STATE, -EBADMSG);
	h = hdr_for(LUO_OP_GET_STATE, 0, 0);
	memset(body, 0, sizeof(body));
	send_msg(dev, h, body, 8, NULL, 0);
	expect_err(dev, LUO_OP_GET_STATE, -EBADMSG);
	/* a record larger than any message */
	h = hdr_for(LUO_OP_GET_STATE, sizeof(big) - HDR, 0);
	memcpy(big, &h, HDR);
	raw_send(dev, big, sizeof(big), NULL, 0);
	expect_err(dev, LUO_OP_GET_STATE, -EBADMSG);
	/* fds announced but not sent, and sent but not announced: closed, EBADMSG */
	h = hdr_for(LUO_OP_GET_STATE, 0, 2);
	send_msg(dev, h, NULL, 0, &fd, 1);
	expect_err(dev, LUO_OP_GET_STATE, -EBADMSG);
	h = hdr_for(LUO_OP_GET_STATE, 0, 0);
	send_msg(dev, h, NULL, 0, &fd, 1);
	expect_err(dev, LUO_OP_GET_STATE, -EBADMSG);
	/* a request with a result set */
	h = hdr_for(LUO_OP_GET_STATE, 0, 0);
	h.result = -1;
	send_msg(dev, h, NULL, 0, NULL, 0);
	expect_err(dev, LUO_OP_GET_STATE, -EINVAL);

	/* unknown ops, and a session op on the device */
	send_msg(dev, hdr_for(0, 0, 0), NULL, 0, NULL, 0);
	expect_err(dev, 0, -EINVAL);
	send_msg(dev, hdr_for(99, 0, 0), NULL, 0, NULL, 0);
	expect_err(dev, 99, -EINVAL);
	send_msg(dev, hdr_for(0xffff, 0, 0), NULL, 0, NULL, 0);
	expect_err(dev, 0xffff, -EINVAL);
	send_msg(dev, hdr_for(LUO_OP_SESSION_FINISH, 0, 0), NULL, 0, NULL, 0);
	expect_err(dev, LUO_OP_SESSION_FINISH, -EINVAL);
	/* fds on a device request: refused and closed */
	send_msg(dev, hdr_for(LUO_OP_GET_STATE, 0, 1), NULL, 0, &fd, 1);
	expect_err(dev, LUO_OP_GET_STATE, -EINVAL);

	/* bodies: non-zero tail E2BIG, zero tail fine, short EINVAL */
	memset(body, 0, sizeof(body));
	body[7] = 1;
	send_msg(dev, hdr_for(LUO_OP_GET_STATE, 8, 0), body, 8, NULL, 0);
	expect_err(dev, LUO_OP_GET_STATE, -E2BIG);
	body[7] = 0;
	send_msg(dev, hdr_for(LUO_OP_GET_STATE, 8, 0), body, 8, NULL, 0);
	assert_true(expect(dev, LUO_OP_GET_STATE, 0, NULL, NULL) >= sizeof(struct luo_msg_state));
	ev = (struct luo_msg_event){ .event = LUO_EVENT_CANCEL };
	send_msg(dev, hdr_for(LUO_OP_SET_EVENT, 4, 0), &ev, 4, NULL, 0);
	expect_err(dev, LUO_OP_SET_EVENT, -EINVAL);
	ev = (struct luo_msg_event){ .event = 9 };
	send_msg(dev, hdr_for(LUO_OP_SET_EVENT, sizeof(ev), 0), &ev, sizeof(ev), NULL, 0);
	expect_err(dev, LUO_OP_SET_EVENT, -EINVAL);
	ev = (struct luo_msg_event){ .event = LUO_EVENT_PREPARE, .reserved = 1 };
	send_msg(dev, hdr_for(LUO_OP_SET_EVENT, sizeof(ev), 0), &ev, sizeof(ev), NULL, 0);
	expect_err(dev, LUO_OP_SET_EVENT, -EINVAL);
	e2e_assert_state(&d, "normal");

	/* names checked by luod itself, not only by libluo */
	memset(&name, 'x', sizeof(name));
	send_msg(dev, hdr_for(LUO_OP_CREATE_SESSION, sizeof(name), 0), &name, sizeof(name), NULL, 0);
	expect_err(dev, LUO_OP_CREATE_SESSION, -EINVAL);
	memset(&name, 0, sizeof(name));
	send_msg(dev, hdr_for(LUO_OP_CREATE_SESSION, sizeof(name), 0), &name, sizeof(name), NULL, 0);
	expect_err(dev, LUO_OP_CREATE_SESSION, -EINVAL);
	send_msg(dev, hdr_for(LUO_OP_RETRIEVE_SESSION, sizeof(name), 0), &name, sizeof(name), NULL, 0);
	expect_err(dev, LUO_OP_RETRIEVE_SESSION, -EINVAL);
	strcpy(name.name, "raw");
	send_msg(dev, hdr_for(LUO_OP_CREATE_SESSION, 10, 0), &name, 10, NULL, 0);
	expect_err(dev, LUO_OP_CREATE_SESSION, -EINVAL);
	memcpy(body, &name, sizeof(name));
	memset(body + sizeof(name), 0, 16);
	body[sizeof(name) + 15] = 0xff;
	send_msg(dev, hdr_for(LUO_OP_CREATE_SESSION, sizeof(name) + 16, 0), body, sizeof(name) + 16,
		 NULL, 0);
	expect_err(dev, LUO_OP_CREATE_SESSION, -E2BIG);
	assert_false(e2e_session_listed(&d, "raw"));
	/* a longer request from a newer client, zero-extended: accepted */
	body[sizeof(name) + 15] = 0;
	send_msg(dev, hdr_for(LUO_OP_CREATE_SESSION, sizeof(name) + 16, 0), body, sizeof(name) + 16,
		 NULL, 0);
	expect(dev, LUO_OP_CREATE_SESSION, 0, fds, &nfds);
	assert_int_equal(nfds, 1);
	assert_true(e2e_session_listed(&d, "raw"));
	close(fds[0]);

	/* UPDATE that must not start: unknown flags, relative exec path, short body */
	{
		static struct luo_msg_update up;

		memset(&up, 0, sizeof(up));
		up.flags = 0x80;
		send_msg(dev, hdr_for(LUO_OP_UPDATE, sizeof(up), 0), &up, sizeof(up), NULL, 0);
		expect_err(dev, LUO_OP_UPDATE, -EINVAL);
		up.flags = LUO_UPDATE_EXEC;
		strcpy(up.exec_path, "relative/luod");
		send_msg(dev, hdr_for(LUO_OP_UPDATE, sizeof(up), 0), &up, sizeof(up), NULL, 0);
		expect_err(dev, LUO_OP_UPDATE, -EINVAL);
		send_msg(dev, hdr_for(LUO_OP_UPDATE, 8, 0), &up, 8, NULL, 0);
		expect_err(dev, LUO_OP_UPDATE, -EINVAL);
	}
	assert_int_equal(luod_status_field(&d, "generation"), 0);

	/* still the same connection, still serving, nothing kept */
	{
		enum luo_state st;

		assert_int_equal(luo_get_state(dev, &st), 0);
		assert_int_equal(st, LUO_STATE_NORMAL);
	}
	e2e_barrier(&d);
	assert_false(e2e_session_listed(&d, "raw"));
	assert_int_equal(e2e_luod_fds(&d), base);
	assert_true(memfd_pattern_ok(fd, 4096, 1));
	close(fd);
	close(dev);
}

struct tokens2 {
	struct luo_msg_tokens h;
	uint64_t t[4];
};

static void test_session_malformed(void **state)
{
	int dev = e2e_open(&d), s, base, a = memfd_pattern("a", 4096, 1), b = memfd_pattern("b", 4096, 2);
	struct tokens2 m;
	struct luo_msg_token tok;
	unsigned char body[64];
	int two[2] = { a, b };
	size_t len;

	(void)state;
	s = luo_create_session(dev, "target");
	assert_true(s >= 0);
	assert_int_equal(luo_session_preserve_fd(s, a, 1), 0);
	base = e2e_luod_fds(&d);

	/* fd count and token count disagree */
	memset(&m, 0, sizeof(m));
	m.h.count = 2;
	m.t[0] = 10;
	m.t[1] = 11;
	len = sizeof(m.h) + 2 * sizeof(uint64_t);
	send_msg(s, hdr_for(LUO_OP_SESSION_PRESERVE, len, 1), &m, len, &b, 1);
	expect_err(s, LUO_OP_SESSION_PRESERVE, -EINVAL);
	m.h.count = 1;
	len = sizeof(m.h) + sizeof(uint64_t);
	send_msg(s, hdr_for(LUO_OP_SESSION_PRESERVE, len, 2), &m, len, two, 2);
	expect_err(s, LUO_OP_SESSION_PRESERVE, -EINVAL);
	send_msg(s, hdr_for(LUO_OP_SESSION_PRESERVE, len, 0), &m, len, NULL, 0);
	expect_err(s, LUO_OP_SESSION_PRESERVE, -EINVAL);
	/* count 0, count past the per-message limit, reserved set */
	m.h.count = 0;
	send_msg(s, hdr_for(LUO_OP_SESSION_PRESERVE, sizeof(m.h), 0), &m, sizeof(m.h), NULL, 0);
	expect_err(s, LUO_OP_SESSION_PRESERVE, -EINVAL);
	m.h.count = LUO_FDS_PER_MSG + 1;
	send_msg(s, hdr_for(LUO_OP_SESSION_PRESERVE, sizeof(m), 1), &m, sizeof(m), &b, 1);
	expect_err(s, LUO_OP_SESSION_PRESERVE, -EINVAL);
	m.h.count = 1;
	m.h.reserved = 1;
	len = sizeof(m.h) + sizeof(uint64_t);
	send_msg(s, hdr_for(LUO_OP_SESSION_PRESERVE, len, 1), &m, len, &b, 1);
	expect_err(s, LUO_OP_SESSION_PRESERVE, -EINVAL);
	m.h.reserved = 0;
	/* body shorter than its count says; and a non-zero tail */
	m.h.count = 2;
	len = sizeof(m.h) + sizeof(uint64_t);
	send_msg(s, hdr_for(LUO_OP_SESSION_PRESERVE, len, 2), &m, len, two, 2);
	expect_err(s, LUO_OP_SESSION_PRESERVE, -EINVAL);
	m.h.count = 1;
	m.t[1] = 0xdead;
	len = sizeof(m.h) + 2 * sizeof(uint64_t);
	send_msg(s, hdr_for(LUO_OP_SESSION_PRESERVE, len, 1), &m, len, &b, 1);
	expect_err(s, LUO_OP_SESSION_PRESERVE, -E2BIG);
	/* truncated header on a session handle */
	raw_send(s, &m, 6, NULL, 0);
	expect_err(s, 0, -EBADMSG);
	/* unknown op, device op on a session, fds on a non-preserve op */
	send_msg(s, hdr_for(90, 0, 0), NULL, 0, NULL, 0);
	expect_err(s, 90, -EINVAL);
	send_msg(s, hdr_for(LUO_OP_STATUS, 0, 0), NULL, 0, NULL, 0);
	expect_err(s, LUO_OP_STATUS, -EINVAL);
	send_msg(s, hdr_for(LUO_OP_SESSION_GET_NAME, 0, 1), NULL, 0, &b, 1);
	expect_err(s, LUO_OP_SESSION_GET_NAME, -EINVAL);
	/* UNPRESERVE short, with a non-zero tail */
	tok.token = 1;
	send_msg(s, hdr_for(LUO_OP_SESSION_UNPRESERVE, 4, 0), &tok, 4, NULL, 0);
	expect_err(s, LUO_OP_SESSION_UNPRESERVE, -EINVAL);
	memset(body, 0, sizeof(body));
	memcpy(body, &tok, sizeof(tok));
	body[12] = 1;
	send_msg(s, hdr_for(LUO_OP_SESSION_UNPRESERVE, 16, 0), body, 16, NULL, 0);
	expect_err(s, LUO_OP_SESSION_UNPRESERVE, -E2BIG);
	/* FINISH with a body on an outgoing session: the body is judged first */
	body[0] = 1;
	send_msg(s, hdr_for(LUO_OP_SESSION_FINISH, 8, 0), body, 8, NULL, 0);
	expect_err(s, LUO_OP_SESSION_FINISH, -E2BIG);

	/* every rejected fd was closed by luod; the session is untouched */
	assert_int_equal(e2e_luod_fds(&d), base);
	assert_int_equal(e2e_session_files(&d, "target"), 1);
	/* b is not busy: nothing of the rejected requests kept it */
	m.h.count = 1;
	m.t[0] = 2;
	m.t[1] = 0;
	len = sizeof(m.h) + 2 * sizeof(uint64_t); /* zero tail: fine */
	send_msg(s, hdr_for(LUO_OP_SESSION_PRESERVE, len, 1), &m, len, &b, 1);
	expect(s, LUO_OP_SESSION_PRESERVE, 0, NULL, NULL);
	assert_int_equal(e2e_session_files(&d, "target"), 2);
	assert_int_equal(e2e_luod_fds(&d), base + 1);
	assert_int_equal(luo_session_unpreserve_fd(s, 1), 0);
	assert_int_equal(luo_session_preserve_fd(s, a, 1), 0);
	close(s);
	assert_int_equal(luod_status_field(&d, "files"), 0);
	close(a);
	close(b);
	close(dev);
}

/* A client that sends and never reads, and one that hangs up mid-request, do not stop luod. */
static void test_peer_misbehaves(void **state)
{
	int dev = e2e_open(&d), quiet = e2e_open(&d), base;

	(void)state;
	base = e2e_luod_fds(&d);
	for (int i = 0; i < 64; i++)
		send_msg(quiet, hdr_for(LUO_OP_STATUS, 0, 0), NULL, 0, NULL, 0);
	e2e_barrier(&d);
	close(quiet);
	for (int i = 0; i < 16; i++) {
		int c = e2e_open(&d);

		send_msg(c, hdr_for(LUO_OP_LIST_SESSIONS, 8, 0), (uint64_t[]){ 0 }, 8, NULL, 0);
		close(c);
	}
	assert_true(luod_alive(&d));
	/* luod reads one message per connection per pass: let it drain quiet's 64 */
	e2e_settle(&d, 66);
	assert_int_equal(e2e_luod_fds(&d), base - 1);
	close(dev);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_setup_teardown(test_device_malformed, setup, teardown),
	cmocka_unit_test_setup_teardown(test_session_malformed, setup, teardown),
	cmocka_unit_test_setup_teardown(test_peer_misbehaves, setup, teardown),
};

LUO_TEST_MAIN("protocol", tests, NULL, NULL)
