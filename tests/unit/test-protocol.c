// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Wire framing: body checks, names, fds that do or do not match the header,
 * empty records; and names escaped for logs and terminals.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "escape.h"
#include "harness.h"
#include "protocol.h"

static unsigned char buf[sizeof(struct luo_msg_hdr) + LUO_MSG_MAX];

static void test_body_check(void **state)
{
	unsigned char body[32] = { 0 };

	(void)state;
	assert_int_equal(luo_msg_body_check(body, 16, 16, 16), 0);
	assert_int_equal(luo_msg_body_check(body, 8, 16, 16), -EINVAL);
	assert_int_equal(luo_msg_body_check(body, 32, 16, 16), 0); /* zero tail is fine */
	body[31] = 1;
	assert_int_equal(luo_msg_body_check(body, 32, 16, 16), -E2BIG);
}

static void test_names(void **state)
{
	char name[LUO_NAME_MAX];

	(void)state;
	assert_int_equal(luo_name_validate("a", 2), 0);
	assert_int_equal(luo_name_validate("", 1), -EINVAL);
	assert_int_equal(luo_name_validate(NULL, 1), -EINVAL);
	memset(name, 'n', sizeof(name));
	assert_int_equal(luo_name_validate(name, sizeof(name)), -EINVAL); /* no NUL in 64 */
	name[63] = '\0';
	assert_int_equal(luo_name_validate(name, sizeof(name)), 0);
}

static void test_roundtrip_with_fds(void **state)
{
	int sp[2], fds[3], got[LUO_FDS_PER_MSG];
	size_t n = 0;
	ssize_t len;
	struct luo_msg_hdr hdr;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp), 0);
	for (int i = 0; i < 3; i++)
		fds[i] = memfd_pattern("p", 4096, (uint32_t)i);
	assert_int_equal(luo_msg_send(sp[0], 7, 0, "hello", 5, fds, 3), 0);
	len = luo_msg_recv(sp[1], buf, sizeof(buf), got, LUO_FDS_PER_MSG, &n);
	assert_int_equal(len, sizeof(hdr) + 5);
	memcpy(&hdr, buf, sizeof(hdr));
	assert_int_equal(hdr.op, 7);
	assert_int_equal(n, 3);
	for (int i = 0; i < 3; i++) {
		assert_true(fcntl(got[i], F_GETFD) & FD_CLOEXEC);
		assert_true(memfd_pattern_ok(got[i], 4096, (uint32_t)i));
		close(got[i]);
		close(fds[i]);
	}
	close(sp[0]);
	close(sp[1]);
}

/* A header that claims other fds than arrived: EBADMSG and no fd left open. */
static void test_fd_count_mismatch(void **state)
{
	struct luo_msg_hdr hdr = { .size = sizeof(hdr), .version = LUO_PROTO_VERSION, .op = 1, .nfds = 0 };
	int sp[2], fd = memfd_pattern("x", 0, 0), got[4];
	char control[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = &hdr, .iov_len = sizeof(hdr) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
			      .msg_controllen = sizeof(control) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	size_t n = 0;
	int before, after;

	(void)state;
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp), 0);
	assert_int_equal(sendmsg(sp[0], &msg, 0), (ssize_t)sizeof(hdr));
	before = dup(0);
	close(before);
	assert_int_equal(luo_msg_recv(sp[1], buf, sizeof(buf), got, 4, &n), -EBADMSG);
	after = dup(0); /* the lowest free fd is the same again: nothing leaked */
	close(after);
	assert_int_equal(before, after);
	close(fd);
	close(sp[0]);
	close(sp[1]);
}

static void test_bad_headers(void **state)
{
	struct luo_msg_hdr hdr = { .size = sizeof(hdr), .version = 99, .op = 1 };
	int sp[2], got[1];
	size_t n;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp), 0);
	assert_int_equal(send(sp[0], &hdr, sizeof(hdr), 0), (ssize_t)sizeof(hdr));
	assert_int_equal(luo_msg_recv(sp[1], buf, sizeof(buf), got, 1, &n), -EBADMSG);
	hdr.version = LUO_PROTO_VERSION;
	hdr.size = 100; /* claims more than was sent */
	assert_int_equal(send(sp[0], &hdr, sizeof(hdr), 0), (ssize_t)sizeof(hdr));
	assert_int_equal(luo_msg_recv(sp[1], buf, sizeof(buf), got, 1, &n), -EBADMSG);
	assert_int_equal(send(sp[0], &hdr, 5, 0), 5); /* shorter than a header */
	assert_int_equal(luo_msg_recv(sp[1], buf, sizeof(buf), got, 1, &n), -EBADMSG);
	close(sp[0]);
	assert_int_equal(luo_msg_recv(sp[1], buf, sizeof(buf), got, 1, &n), 0); /* EOF */
	close(sp[1]);
}

static void expect_escaped(const char *in, const char *want)
{
	char out[LUO_ESCAPED_NAME_MAX];

	assert_string_equal(luo_escape(in, out, sizeof(out)), want);
}

static void test_escape(void **state)
{
	char name[LUO_NAME_MAX], out[LUO_ESCAPED_NAME_MAX], small[8];

	(void)state;
	expect_escaped("web-1.2_x", "web-1.2_x");
	expect_escaped("a\\b", "a\\\\b");
	expect_escaped("a\nb\rc\td", "a\\nb\\rc\\td");
	expect_escaped("\x1b]0;t\x07\x7f\x01", "\\x1b]0;t\\x07\\x7f\\x01");
	/* UTF-8: printable kept, C1 and bidi controls and separators escaped */
	expect_escaped("caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80");
	expect_escaped("\xc2\x9b" "1m", "\\u009b1m");
	expect_escaped("\xe2\x80\xae\xe2\x81\xa6\xe2\x80\xa8", "\\u202e\\u2066\\u2028");
	/* not UTF-8: each byte on its own */
	expect_escaped("\xff\xc3", "\\xff\\xc3");
	expect_escaped("\xc0\xaf", "\\xc0\\xaf");             /* overlong '/' */
	expect_escaped("\xe0\x80\xaf", "\\xe0\\x80\\xaf");    /* overlong, 3 bytes */
	expect_escaped("\xed\xa0\x80", "\\xed\\xa0\\x80");    /* a surrogate */
	expect_escaped("\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80"); /* past U+10FFFF */
	expect_escaped("\xe6\x97", "\\xe6\\x97");             /* cut short */
	/* the worst name fits the buffer meant for it */
	memset(name, 0x01, sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	luo_escape(name, out, sizeof(out));
	assert_int_equal(strlen(out), 4 * (LUO_NAME_MAX - 1));
	/* a small buffer: whole escapes only, always terminated */
	assert_string_equal(luo_escape("ab\ncd", small, sizeof(small)), "ab\\ncd");
	assert_string_equal(luo_escape("abcdef\n", small, sizeof(small)), "abcdef");
	assert_string_equal(luo_escape("\x01\x02", small, sizeof(small)), "\\x01");
}

/* A 0-byte record is malformed, not the end of the stream; the peer's close is. */
static void test_empty_record(void **state)
{
	int sp[2], fds[LUO_FDS_PER_MSG];
	size_t nfds = 0;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp), 0);
	assert_int_equal(send(sp[0], "", 0, 0), 0);
	assert_int_equal(luo_msg_recv(sp[1], buf, sizeof(buf), fds, LUO_FDS_PER_MSG, &nfds), -EBADMSG);
	assert_int_equal(luo_msg_send(sp[0], LUO_OP_GET_STATE, 0, NULL, 0, NULL, 0), 0);
	assert_int_equal(luo_msg_recv(sp[1], buf, sizeof(buf), fds, LUO_FDS_PER_MSG, &nfds),
			 sizeof(struct luo_msg_hdr));
	close(sp[0]);
	assert_int_equal(luo_msg_recv(sp[1], buf, sizeof(buf), fds, LUO_FDS_PER_MSG, &nfds), 0);
	close(sp[1]);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_body_check),
	cmocka_unit_test(test_names),
	cmocka_unit_test(test_roundtrip_with_fds),
	cmocka_unit_test(test_fd_count_mismatch),
	cmocka_unit_test(test_bad_headers),
	cmocka_unit_test(test_escape),
	cmocka_unit_test(test_empty_record),
};

LUO_TEST_MAIN("protocol", tests, NULL, NULL)
