// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * No client can hurt another (issue 15): a real luod as root with its
 * socket open to everyone (--socket-mode 0666), and clients that are other
 * uids (forked children that setuid before they connect, so luod sees them
 * through SO_PEERCRED as any unprivileged process):
 *  - luoctl never hangs on a luod that does not answer: --timeout ends it
 *    with a message and exit status 124;
 *  - names with newlines, escape sequences or C1 controls are shown
 *    escaped by luoctl's tables and in luod's log, byte-exact in JSON;
 *  - an empty or malformed record on a session handle is EBADMSG and the
 *    session lives on; a malformed request is answered with its own op, so
 *    libluo reports EBADMSG.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "e2e.h"
#include "protocol.h"

#define UID_A 65534 /* nobody */
#define GID_A 65534

static struct luod_proc d;

static int teardown(void **state)
{
	(void)state;
	if (d.pid <= 0)
		return 0; /* skipped before luod started */
	assert_true(luod_alive(&d));
	luod_stop(&d);
	d.pid = 0;
	return 0;
}

/* luod as root, reachable by every uid */
static void start_open(const char *opt, const char *val)
{
	if (opt)
		luod_start(&d, "--socket-mode", "0666", opt, val, NULL);
	else
		luod_start(&d, "--socket-mode", "0666", NULL);
	assert_int_equal(chmod(d.dir, 0711), 0);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* luoctl ARGS... (no --socket added), stdout and stderr together into out; exit status. */
static int luoctl_all(char *out, size_t len, const char *const *args)
{
	const char *argv[32] = { getenv("LUOCTL") ? getenv("LUOCTL") : "luoctl" };
	int p[2], status, n = 1;
	size_t used = 0;
	pid_t pid;

	for (; args[n - 1] && n < 31; n++)
		argv[n] = args[n - 1];
	argv[n] = NULL;
	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(p[1], 1);
		dup2(p[1], 2);
		close(p[0]);
		close(p[1]);
		execv(argv[0], (char **)argv);
		_exit(127);
	}
	close(p[1]);
	for (ssize_t r; (r = read(p[0], out + used, len - 1 - used)) > 0;)
		used += (size_t)r;
	out[used] = '\0';
	close(p[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int listener(const char *path, int backlog)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_true(strlen(path) < sizeof(sa.sun_path));
	strcpy(sa.sun_path, path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, backlog), 0);
	return fd;
}

/*
 * A "luod" that accepts and never answers, and one whose backlog is full
 * (connect() itself blocks, as when luod's fd table is full): luoctl gives
 * up after --timeout with status 124 and says why; a bad value is a usage
 * error.
 */
static void test_luoctl_timeout(void **state)
{
	char dir[] = "/tmp/luo-timeout.XXXXXX", path[128], out[4096];
	const char *status_args[] = { "--socket", path, "--timeout", "0.5", "status", NULL };
	const char *per_cmd[] = { "--socket", path, "sessions", "--timeout", "1", NULL };
	const char *bad[] = { "--socket", path, "--timeout", "-1", "status", NULL };
	const char *bad2[] = { "--socket", path, "status", "--timeout", "soon", NULL };
	const char *help[] = { "status", "--help", NULL };
	int l, queued;
	double t0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/silent.sock", dir);
	l = listener(path, 16);
	t0 = now_s();
	assert_int_equal(luoctl_all(out, sizeof(out), status_args), 124);
	assert_true(now_s() - t0 >= 0.5);
	assert_non_null(strstr(out, "luoctl: status: no answer from luod within 0.5 s (--timeout)"));
	/* the option after the command works as well */
	assert_int_equal(luoctl_all(out, sizeof(out), per_cmd), 124);
	assert_non_null(strstr(out, "luoctl: sessions: no answer from luod within 1 s"));
	close(l);
	unlink(path);

	/* a full backlog: connect() waits; the timeout ends that too */
	l = listener(path, 0);
	queued = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	{
		struct sockaddr_un sa = { .sun_family = AF_UNIX };

		strcpy(sa.sun_path, path);
		assert_int_equal(connect(queued, (struct sockaddr *)&sa, sizeof(sa)), 0);
	}
	assert_int_equal(luoctl_all(out, sizeof(out), status_args), 124);
	assert_non_null(strstr(out, "no answer from luod within 0.5 s"));
	close(queued);
	close(l);
	unlink(path);
	rmdir(dir);

	assert_int_equal(luoctl_all(out, sizeof(out), bad), 2);
	assert_int_equal(luoctl_all(out, sizeof(out), bad2), 2);
	assert_non_null(strstr(out, "bad --timeout"));
	assert_int_equal(luoctl_all(out, sizeof(out), help), 0);
	assert_non_null(strstr(out, "--timeout SECONDS"));
}

/* Names that would forge a log line or drive a terminal, made by another uid. */
static const char forged_log[] = "a: closed\nluod[1]: error: keeper: lost all";
static const char osc_title[] = "\x1b]0;owned\x07\x1b[2J";
static const char c1_csi[] = "c1\xc2\x9b" "31mred";
static const char bidi[] = "txt\xe2\x80\xae" "gpj.exe";
static const char utf8_ok[] = "caf\xc3\xa9-\xe6\x97\xa5";

struct holder {
	int ready[2];
	int go[2];
};

static void make_odd_sessions(void *arg)
{
	struct holder *h = arg;
	const char *names[] = { forged_log, osc_title, c1_csi, bidi, utf8_ok };
	int dev = luo_open(d.sock), s[5];
	char c = 1, got[LUO_NAME_MAX];

	E2E_CHECK(dev >= 0);
	for (int i = 0; i < 5; i++) {
		s[i] = luo_create_session(dev, names[i]);
		E2E_CHECK(s[i] >= 0);
		/* the API keeps the name byte for byte */
		E2E_CHECK(luo_session_get_name(s[i], got) == 0);
		E2E_CHECK(strcmp(got, names[i]) == 0);
	}
	E2E_CHECK(write(h->ready[1], &c, 1) == 1);
	E2E_CHECK(read(h->go[0], &c, 1) == 1);
	_exit(0);
}

static bool has_control(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if ((*p < 0x20 && *p != '\n') || *p == 0x7f || (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) ||
		    (p[0] == 0xe2 && p[1] == 0x80 && p[2] == 0xae))
			return true;
	return false;
}

static void read_log(char *buf, size_t len)
{
	FILE *f = fopen(d.log, "r");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, len - 1, f);
	fclose(f);
	buf[n] = '\0';
}

/* luoctl watch --count 1 until one event after the snapshot: its whole output. */
static void watch_output(char *out, size_t len)
{
	const char *luoctl_bin = getenv("LUOCTL") ? getenv("LUOCTL") : "luoctl";
	size_t used = 0;
	int p[2], dev, s;
	pid_t pid;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(p[1], 1);
		close(p[0]);
		close(p[1]);
		execl(luoctl_bin, "luoctl", "--socket", d.sock, "watch", "--count", "1", (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	/* the snapshot starts with luod's global state: the watch is in place */
	while (!memchr(out, '\n', used)) {
		ssize_t r = read(p[0], out + used, len - 1 - used);

		assert_true(r > 0);
		used += (size_t)r;
	}
	dev = e2e_open(&d);
	s = luo_create_session(dev, "trigger");
	assert_true(s >= 0);
	for (ssize_t r; (r = read(p[0], out + used, len - 1 - used)) > 0;)
		used += (size_t)r;
	out[used] = '\0';
	assert_int_equal(e2e_wait(pid), 0);
	close(p[0]);
	close(s);
	close(dev);
}

static void test_names_escaped(void **state)
{
	static char out[65536], log[1 << 20];
	struct holder h;
	pid_t a;
	char c = 0;

	(void)state;
	if (geteuid() != 0)
		skip();
	start_open(NULL, NULL);
	assert_int_equal(pipe(h.ready), 0);
	assert_int_equal(pipe(h.go), 0);
	a = e2e_fork_as(UID_A, GID_A, make_odd_sessions, &h);
	assert_int_equal(read(h.ready[0], &c, 1), 1);

	/* the table: one line per session, nothing a terminal would obey */
	assert_int_equal(luoctl(&d, out, sizeof(out), "sessions", NULL), 0);
	assert_false(has_control(out));
	assert_non_null(strstr(out, "a: closed\\nluod[1]: error: keeper: lost all"));
	assert_non_null(strstr(out, "\\x1b]0;owned\\x07\\x1b[2J"));
	assert_non_null(strstr(out, "c1\\u009b31mred"));
	assert_non_null(strstr(out, "txt\\u202egpj.exe"));
	assert_non_null(strstr(out, utf8_ok)); /* readable UTF-8 stays as it is */
	{
		int lines = 0;

		for (const char *p = out; *p; p++)
			lines += *p == '\n';
		assert_int_equal(lines, 1 + 5);
	}
	assert_int_equal(luoctl(&d, out, sizeof(out), "show", osc_title, NULL), 0);
	assert_false(has_control(out));
	assert_non_null(strstr(out, "session:  \\x1b]0;owned\\x07\\x1b[2J\n"));
	watch_output(out, sizeof(out));
	assert_false(has_control(out));
	assert_non_null(strstr(out, "\\x1b]0;owned\\x07\\x1b[2J: normal, outgoing"));
	/* JSON keeps every byte (JSON escapes) */
	assert_int_equal(luoctl(&d, out, sizeof(out), "sessions", "--json", NULL), 0);
	assert_true(e2e_json_valid(out));
	assert_non_null(strstr(out, "\"a: closed\\u000aluod[1]: error: keeper: lost all\""));
	assert_non_null(strstr(out, "\"\\u001b]0;owned\\u0007\\u001b[2J\""));
	assert_non_null(strstr(out, "\"c1\xc2\x9b" "31mred\""));

	/* luod's log: no forged line, no escape byte */
	read_log(log, sizeof(log));
	assert_false(has_control(log));
	assert_null(strstr(log, "\nluod[1]:"));
	assert_non_null(strstr(log, "session a: closed\\nluod[1]: error: keeper: lost all: created by uid 65534"));

	assert_int_equal(write(h.go[1], &c, 1), 1);
	assert_int_equal(e2e_wait(a), 0);
	for (int i = 0; i < 2; i++) {
		close(h.ready[i]);
		close(h.go[i]);
	}
}

/* Send a raw record on sock and read the reply: its op and result. */
static void raw_request(int sock, const void *rec, size_t len, uint16_t *op, int32_t *result)
{
	static unsigned char rx[sizeof(struct luo_msg_hdr) + LUO_MSG_MAX];
	struct luo_msg_hdr hdr;
	int fds[LUO_FDS_PER_MSG];
	size_t nfds = 0;
	ssize_t n;

	E2E_CHECK(send(sock, rec, len, 0) == (ssize_t)len);
	n = luo_msg_recv(sock, rx, sizeof(rx), fds, LUO_FDS_PER_MSG, &nfds);
	if (n < (ssize_t)sizeof(hdr))
		fprintf(stderr, "reply to a %zu-byte record: %zd\n", len, n);
	E2E_CHECK(n >= (ssize_t)sizeof(hdr) && nfds == 0);
	memcpy(&hdr, rx, sizeof(hdr));
	*op = hdr.op;
	*result = hdr.result;
}

static void malformed_records(void *arg)
{
	int dev = luo_open(d.sock), s, fd = memfd_pattern("keep", 8192, 5), back;
	struct luo_msg_hdr bad = { .size = sizeof(bad), .version = 99, .op = LUO_OP_SESSION_GET_NAME };
	char name[LUO_NAME_MAX];
	uint16_t op;
	int32_t result;

	(void)arg;
	E2E_CHECK(dev >= 0);
	s = luo_create_session(dev, "zero");
	E2E_CHECK(s >= 0);
	E2E_CHECK(luo_session_preserve_fd(s, fd, 1) == 0);
	/* an empty record is not the end of the connection */
	for (int i = 0; i < 3; i++) {
		raw_request(s, "", 0, &op, &result);
		E2E_CHECK(op == 0 && result == -EBADMSG);
	}
	/* a record too short for a header, and a bad version: EBADMSG with the op it has */
	raw_request(s, "abc", 3, &op, &result);
	E2E_CHECK(op == 0 && result == -EBADMSG);
	raw_request(s, &bad, sizeof(bad), &op, &result);
	E2E_CHECK(op == LUO_OP_SESSION_GET_NAME && result == -EBADMSG);
	bad.op = LUO_OP_STATUS;
	raw_request(dev, &bad, sizeof(bad), &op, &result);
	E2E_CHECK(op == LUO_OP_STATUS && result == -EBADMSG);
	raw_request(dev, "", 0, &op, &result);
	E2E_CHECK(op == 0 && result == -EBADMSG);
	/* the session and its file are all there */
	E2E_CHECK(luo_session_get_name(s, name) == 0 && !strcmp(name, "zero"));
	E2E_CHECK(luo_session_unpreserve_fd(s, 1) == 0);
	E2E_CHECK(luo_session_preserve_fd(s, fd, 2) == 0);
	close(fd);
	/* and it still goes through an update whole */
	E2E_CHECK(write(((int *)arg)[1], "r", 1) == 1);
	{
		char c;

		E2E_CHECK(read(((int *)arg)[0], &c, 1) == 1); /* root updated luod */
	}
	close(s);
	close(dev);
	dev = luo_open(d.sock);
	s = luo_retrieve_session(dev, "zero");
	E2E_CHECK(s >= 0);
	back = luo_session_retrieve_fd(s, 2);
	E2E_CHECK(back >= 0 && memfd_pattern_ok(back, 8192, 5));
	E2E_CHECK(luo_session_finish(s) == 0);
}

static void test_malformed_records(void **state)
{
	int to_root[2], to_child[2], sync[2];
	pid_t a;
	char c;

	(void)state;
	if (geteuid() != 0)
		skip();
	start_open(NULL, NULL);
	assert_int_equal(pipe(to_root), 0);
	assert_int_equal(pipe(to_child), 0);
	sync[0] = to_child[0];
	sync[1] = to_root[1];
	a = e2e_fork_as(UID_A, GID_A, malformed_records, sync);
	close(to_root[1]); /* the child's: its exit is an end of file here */
	close(to_child[0]);
	assert_int_equal(read(to_root[0], &c, 1), 1);
	assert_int_equal(e2e_session_files(&d, "zero"), 1);
	luod_update(&d, NULL);
	assert_int_equal(write(to_child[1], "u", 1), 1);
	assert_int_equal(e2e_wait(a), 0);
	close(to_root[0]);
	close(to_child[1]);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_luoctl_timeout),
	cmocka_unit_test_teardown(test_names_escaped, teardown),
	cmocka_unit_test_teardown(test_malformed_records, teardown),
};

LUO_TEST_MAIN("isolation", tests, NULL, NULL)
