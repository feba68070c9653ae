// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * luod's limits, each set by its option on a real luod, each hit from a
 * real client: sessions per uid (EDQUOT), files per session (EMFILE),
 * preserved fds in all (ENOSPC, fitted under RLIMIT_NOFILE, which luod
 * raises to its hard limit), message size (EMSGSIZE). A refused request
 * leaves nothing behind (luod's /proc fd count), the rest keeps working,
 * and luod survives a client that drives it into its real fd limit.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "e2e.h"
#include "protocol.h"

static struct luod_proc d;

static int teardown(void **state)
{
	(void)state;
	assert_true(luod_alive(&d));
	luod_stop(&d);
	return 0;
}

/* "Max open files" soft and hard of a process, from /proc/PID/limits. */
static void proc_nofile(pid_t pid, long long *soft, long long *hard)
{
	char path[64], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/limits", (int)pid);
	f = fopen(path, "r");
	assert_non_null(f);
	*soft = *hard = -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Max open files %lld %lld", soft, hard) == 2)
			break;
	fclose(f);
	assert_true(*soft > 0);
}

static bool log_has(const char *text)
{
	char buf[65536];
	FILE *f = fopen(d.log, "r");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return strstr(buf, text) != NULL;
}

static void test_sessions_per_uid(void **state)
{
	int dev, s[3];

	(void)state;
	luod_start(&d, "--max-sessions-per-uid", "2", NULL);
	dev = e2e_open(&d);
	s[0] = luo_create_session(dev, "one");
	s[1] = luo_create_session(dev, "two");
	assert_true(s[0] >= 0 && s[1] >= 0);
	assert_int_equal(luo_create_session(dev, "three"), -EDQUOT);
	assert_int_equal(luo_create_session(dev, "three"), -EDQUOT);
	assert_false(e2e_session_listed(&d, "three"));
	/* one given back: room again */
	close(s[0]);
	e2e_barrier(&d);
	s[2] = luo_create_session(dev, "three");
	assert_true(s[2] >= 0);
	close(s[1]);
	close(s[2]);
	close(dev);
	assert_int_equal(e2e_luod_exit_status(&d, "--max-sessions-per-uid", "0"), 2);
	assert_int_equal(e2e_luod_exit_status(&d, "--max-sessions-per-uid", "many"), 2);
}

static void test_files_per_session(void **state)
{
	int dev, a, b, fds[8], base;
	uint64_t tokens[3] = { 10, 11, 12 };

	(void)state;
	luod_start(&d, "--max-files-per-session", "4", NULL);
	dev = e2e_open(&d);
	for (int i = 0; i < 8; i++)
		fds[i] = memfd_pattern("f", 4096, (uint32_t)i);
	a = luo_create_session(dev, "a");
	b = luo_create_session(dev, "b");
	assert_true(a >= 0 && b >= 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(luo_session_preserve_fd(a, fds[i], (uint64_t)i), 0);
	base = e2e_luod_fds(&d);
	/* a batch that would cross the limit: refused whole, its fds closed in luod */
	assert_int_equal(luo_session_preserve_fds(a, fds + 3, tokens, 3), -EMFILE);
	assert_int_equal(e2e_session_files(&d, "a"), 3);
	assert_int_equal(e2e_luod_fds(&d), base);
	assert_int_equal(luo_session_preserve_fd(a, fds[3], 3), 0);
	assert_int_equal(luo_session_preserve_fd(a, fds[4], 4), -EMFILE);
	/* the limit is per session */
	for (int i = 4; i < 8; i++)
		assert_int_equal(luo_session_preserve_fd(b, fds[i], (uint64_t)i), 0);
	assert_int_equal(e2e_session_files(&d, "b"), 4);
	/* unpreserving makes room */
	assert_int_equal(luo_session_unpreserve_fd(a, 0), 0);
	assert_int_equal(luo_session_preserve_fd(a, fds[0], 0), 0);
	close(a);
	close(b);
	close(dev);
	for (int i = 0; i < 8; i++)
		close(fds[i]);
}

static void test_max_fds(void **state)
{
	int dev, a, b, fds[7], base;
	long long soft, hard;
	struct rlimit mine, low;

	(void)state;
	/* started with a low soft limit, luod raises it to the hard one */
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &mine), 0);
	low = mine;
	low.rlim_cur = 512 < mine.rlim_max ? 512 : mine.rlim_max;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	luod_start(&d, "--max-fds", "6", NULL);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &mine), 0);
	proc_nofile(d.pid, &soft, &hard);
	assert_int_equal(soft, hard);

	dev = e2e_open(&d);
	for (int i = 0; i < 7; i++)
		fds[i] = memfd_pattern("m", 4096, (uint32_t)i);
	a = luo_create_session(dev, "a");
	b = luo_create_session(dev, "b");
	for (int i = 0; i < 4; i++)
		assert_int_equal(luo_session_preserve_fd(a, fds[i], (uint64_t)i), 0);
	assert_int_equal(luo_session_preserve_fd(b, fds[4], 4), 0);
	assert_int_equal(luo_session_preserve_fd(b, fds[5], 5), 0);
	base = e2e_luod_fds(&d);
	assert_int_equal(luo_session_preserve_fd(b, fds[6], 6), -ENOSPC);
	assert_int_equal(luo_session_preserve_fd(a, fds[6], 6), -ENOSPC);
	assert_int_equal(e2e_luod_fds(&d), base);
	assert_int_equal(luod_status_field(&d, "files"), 6);
	/* a session closed gives its fds back to everyone */
	close(a);
	e2e_barrier(&d);
	assert_int_equal(luo_session_preserve_fd(b, fds[6], 6), 0);
	close(b);
	close(dev);
	for (int i = 0; i < 7; i++)
		close(fds[i]);
	luod_stop(&d);

	/* more than RLIMIT_NOFILE allows: clamped, said so, and luod runs */
	luod_start(&d, "--max-fds", "1073741824", NULL);
	assert_true(log_has("does not fit RLIMIT_NOFILE"));
}

/* A client that fills luod's real fd table: luod refuses, pauses accepting, and recovers. */
static void test_fd_exhaustion(void **state)
{
	struct rlimit low = { 300, 300 };
	int dev, s, fds[64], conns[400], nconns = 0, refused = 0, r;
	uint64_t tokens[64];

	(void)state;
	luod_start(&d, NULL);
	dev = e2e_open(&d);
	s = luo_create_session(dev, "fill");
	assert_true(s >= 0);
	/* luod's table shrinks under it, below what its --max-fds default assumed */
	assert_int_equal(prlimit(d.pid, RLIMIT_NOFILE, &low, NULL), 0);
	for (int i = 0; i < 64; i++)
		fds[i] = memfd_pattern("x", 64, (uint32_t)i);
	for (uint64_t round = 0; round < 8; round++) {
		for (int i = 0; i < 64; i++)
			tokens[i] = round * 64 + (uint64_t)i;
		/* the same files again would be EBUSY: fresh ones each round */
		if (round)
			for (int i = 0; i < 64; i++) {
				close(fds[i]);
				fds[i] = memfd_pattern("x", 64, (uint32_t)i);
			}
		r = luo_session_preserve_fds(s, fds, tokens, 64);
		if (r < 0) {
			/*
			 * the fds did not fit in luod's table: the kernel cut them
			 * (MSG_CTRUNC), luod answers EBADMSG; nothing is kept
			 */
			if (r != -EBADMSG)
				fail_msg("round %d: %s", (int)round, strerror(-r));
			refused++;
		}
	}
	assert_true(refused > 0);
	/* connections past the limit: accept fails, luod pauses it and lives on */
	for (; nconns < 400; nconns++) {
		conns[nconns] = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		assert_true(conns[nconns] >= 0);
		{
			struct sockaddr_un sa = { .sun_family = AF_UNIX };

			assert_true(strlen(d.sock) < sizeof(sa.sun_path));
			memcpy(sa.sun_path, d.sock, strlen(d.sock) + 1);
			if (connect(conns[nconns], (struct sockaddr *)&sa, sizeof(sa)) < 0) {
				close(conns[nconns]);
				break;
			}
		}
	}
	assert_true(luod_alive(&d));
	for (int i = 0; i < nconns; i++)
		close(conns[i]);
	close(s);
	/* everything released: luod serves again and holds nothing */
	e2e_barrier(&d);
	assert_int_equal(luod_status_field(&d, "files"), 0);
	s = luo_create_session(dev, "after");
	assert_true(s >= 0);
	assert_int_equal(luo_session_preserve_fd(s, fds[0], 1), 0);
	close(s);
	close(dev);
	for (int i = 0; i < 64; i++)
		close(fds[i]);
}

static void test_message_size(void **state)
{
	static unsigned char big[5000];
	struct luo_msg_hdr h = {
		.size = sizeof(big),
		.version = LUO_PROTO_VERSION,
		.op = LUO_OP_LIST_SESSIONS,
	};
	static struct luo_msg_update up = { .flags = 0x80 };
	unsigned char rx[sizeof(h) + LUO_MSG_MAX];
	int dev, fds[LUO_FDS_PER_MSG], base;
	size_t nfds;
	char size[32];

	(void)state;
	snprintf(size, sizeof(size), "%zu", sizeof(h) + sizeof(up));
	luod_start(&d, "--max-message-size", size, NULL);
	dev = e2e_open(&d);
	base = e2e_luod_fds(&d);
	/* the largest request still fits (refused for its flags, not its size) */
	assert_int_equal(luo_msg_send(dev, LUO_OP_UPDATE, 0, &up, sizeof(up), NULL, 0), 0);
	assert_true(luo_msg_recv(dev, rx, sizeof(rx), fds, LUO_FDS_PER_MSG, &nfds) > 0);
	memcpy(&h, rx, sizeof(h));
	assert_int_equal(h.result, -EINVAL);
	/* a zero-padded LIST past the limit: EMSGSIZE; with fds: closed */
	h = (struct luo_msg_hdr){ .size = sizeof(big), .version = LUO_PROTO_VERSION,
				  .op = LUO_OP_LIST_SESSIONS };
	memcpy(big, &h, sizeof(h));
	assert_int_equal(send(dev, big, sizeof(big), 0), (ssize_t)sizeof(big));
	assert_true(luo_msg_recv(dev, rx, sizeof(rx), fds, LUO_FDS_PER_MSG, &nfds) > 0);
	memcpy(&h, rx, sizeof(h));
	assert_int_equal(h.op, LUO_OP_LIST_SESSIONS);
	assert_int_equal(h.result, -EMSGSIZE);
	{
		int s = luo_create_session(dev, "sized"), fd = memfd_pattern("s", 64, 1);
		struct {
			struct luo_msg_tokens t;
			uint64_t tok[600];
		} pre = { .t = { .count = 1 }, .tok = { 1 } };

		assert_true(s >= 0);
		assert_int_equal(luo_msg_send(s, LUO_OP_SESSION_PRESERVE, 0, &pre, sizeof(pre), &fd, 1), 0);
		assert_true(luo_msg_recv(s, rx, sizeof(rx), fds, LUO_FDS_PER_MSG, &nfds) > 0);
		memcpy(&h, rx, sizeof(h));
		assert_int_equal(h.result, -EMSGSIZE);
		assert_int_equal(e2e_session_files(&d, "sized"), 0);
		assert_int_equal(e2e_luod_fds(&d), base + 1); /* the handle, not the fd */
		/* within the limit: fine */
		assert_int_equal(luo_session_preserve_fd(s, fd, 1), 0);
		close(fd);
		close(s);
	}
	close(dev);
	assert_int_equal(e2e_luod_exit_status(&d, "--max-message-size", "100"), 2);
	assert_int_equal(e2e_luod_exit_status(&d, "--max-message-size", "1000000"), 2);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_teardown(test_sessions_per_uid, teardown),
	cmocka_unit_test_teardown(test_files_per_session, teardown),
	cmocka_unit_test_teardown(test_max_fds, teardown),
	cmocka_unit_test_teardown(test_fd_exhaustion, teardown),
	cmocka_unit_test_teardown(test_message_size, teardown),
};

LUO_TEST_MAIN("limits", tests, NULL, NULL)
