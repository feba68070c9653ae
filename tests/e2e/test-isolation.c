// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * No client can hurt another (issue 15): a real luod as root with its
 * socket open to everyone (--socket-mode 0666), and clients that are other
 * uids (forked children that setuid before they connect, so luod sees them
 * through SO_PEERCRED as any unprivileged process):
 *  - luoctl never hangs on a luod that does not answer: --timeout ends it
 *    with a message and exit status 124;
 *  - nor on one whose paged replies do not add up (too short for what they
 *    say they carry, a tail that is not zero, more entries than the total,
 *    none while some remain): luoctl says EPROTO and exits 1, never reads
 *    past the reply or asks for ever; a total that changes between pages
 *    is followed to the last one given;
 *  - names with newlines, escape sequences or C1 controls are shown
 *    escaped by luoctl's tables and in luod's log, byte-exact in JSON;
 *  - a file or FIFO renamed below a path longer than PATH_MAX never fails
 *    a freeze: root's `luoctl update` and `update --session` go through;
 *  - connections are limited per uid (--max-connections-per-uid, EUSERS,
 *    luoctl says so); root and luod's uid are not, and the top of luod's fd
 *    table is kept for them: 19,990 connections of one uid, or every
 *    connection two uids can make into a small fd table, leave root's
 *    luoctl working;
 *  - a participant's late answer to an earlier event is not taken for the
 *    answer to the next one (tagged events), a participant of the older,
 *    untagged protocol still works, and so does libluo with a luod from
 *    before tags;
 *  - what another uid learns: STATUS counts its own sessions, files and
 *    memfd bytes only; SHOW of a session it does not own is ENOENT, as for
 *    one that does not exist; the state and history files are 0640;
 *  - the last 16th of --max-fds is root's: another uid's preserve stops
 *    short of it (ENOSPC), root's goes on;
 *  - a memfd_secret fd is refused as having no handler (ENOENT);
 *  - an empty or malformed record on a session handle is EBADMSG and the
 *    session lives on; a malformed request is answered with its own op, so
 *    libluo reports EBADMSG.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "e2e.h"
#include "protocol.h"
#include "rpc.h"

#define UID_A 65534 /* nobody */
#define GID_A 65534
#define UID_B 65533

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

/* Two pipes between root and the child: the child's end of each. */
struct chan {
	int in;  /* root -> child */
	int out; /* child -> root */
};

static void chan_send(int fd)
{
	E2E_CHECK(write(fd, "x", 1) == 1);
}

static void chan_wait(int fd)
{
	char c;

	E2E_CHECK(read(fd, &c, 1) == 1);
}

/* Run fn as uid with a channel to it; returns the child, *to and *from root's ends. */
static pid_t child_with_chan_as(uid_t uid, void (*fn)(void *), int *to, int *from)
{
	int down[2], up[2];
	struct chan ch;
	pid_t pid;

	assert_int_equal(pipe2(down, O_CLOEXEC), 0);
	assert_int_equal(pipe2(up, O_CLOEXEC), 0);
	ch.in = down[0];
	ch.out = up[1];
	pid = e2e_fork_as(uid, uid == UID_A ? GID_A : uid, fn, &ch);
	close(down[0]);
	close(up[1]);
	*to = down[1];
	*from = up[0];
	return pid;
}

static pid_t child_with_chan(void (*fn)(void *), int *to, int *from)
{
	return child_with_chan_as(UID_A, fn, to, from);
}

static void wait_child(int from)
{
	char c;

	assert_int_equal(read(from, &c, 1), 1);
}

/* Skip unless root; luod open to all (with opt val); fn as UID_A, until it has done its part. */
static pid_t start_with_child(const char *opt, const char *val, void (*fn)(void *), int *to,
			      int *from)
{
	pid_t pid;

	if (geteuid() != 0)
		skip(); /* clients as other uids need root to become them */
	start_open(opt, val);
	pid = child_with_chan(fn, to, from);
	wait_child(*from);
	return pid;
}

/* Let the child finish; it must exit 0. */
static void release_child(pid_t pid, int to, int from)
{
	assert_int_equal(write(to, "u", 1), 1);
	assert_int_equal(e2e_wait(pid), 0);
	close(to);
	close(from);
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

/*
 * A "luod" on listener l whose LIST_SESSIONS replies are scripted: page k
 * answers the k-th request, the last one any after it (so a client that
 * keeps asking hangs into its --timeout), with entries e<cursor>, e<cursor
 * + 1>, ...
 */
struct fake_page {
	uint32_t total, count; /* what the reply says */
	uint32_t carried;      /* the entries it holds */
	size_t tail;           /* bytes after them, all tail_byte */
	unsigned char tail_byte;
	bool cut;              /* a body of 4 bytes: not even its head */
};

static void fake_list_luod(int l, const struct fake_page *pages, size_t npages)
{
	static unsigned char rx[sizeof(struct luo_msg_hdr) + LUO_MSG_MAX], body[LUO_MSG_MAX];
	int c = accept4(l, NULL, NULL, SOCK_CLOEXEC), fds[LUO_FDS_PER_MSG];
	size_t nfds;

	E2E_CHECK(c >= 0);
	for (size_t k = 0;; k++) {
		const struct fake_page *p = &pages[k < npages ? k : npages - 1];
		struct luo_msg_list_reply rep = { .total = p->total, .count = p->count };
		struct luo_msg_list req;
		ssize_t n = luo_msg_recv(c, rx, sizeof(rx), fds, LUO_FDS_PER_MSG, &nfds);
		size_t len = sizeof(rep);

		if (n == 0)
			_exit(0); /* luoctl is done */
		E2E_CHECK(n == (ssize_t)(sizeof(struct luo_msg_hdr) + sizeof(req)));
		memcpy(&req, rx + sizeof(struct luo_msg_hdr), sizeof(req));
		memcpy(body, &rep, sizeof(rep));
		for (uint32_t i = 0; i < p->carried; i++, len += sizeof(struct luo_msg_session_info)) {
			struct luo_msg_session_info si = { .files = i };

			snprintf(si.name, sizeof(si.name), "e%u", req.cursor + i);
			memcpy(body + len, &si, sizeof(si));
		}
		memset(body + len, p->tail_byte, p->tail);
		len = p->cut ? 4 : len + p->tail;
		E2E_CHECK(luo_msg_send(c, LUO_OP_LIST_SESSIONS, 0, body, len, NULL, 0) == 0);
	}
}

static uint64_t fake_index(size_t i)
{
	return i;
}

static void test_luoctl_bad_pages(void **state)
{
	static const struct {
		struct fake_page pages[2];
		size_t npages;
		int status;   /* luoctl's */
		size_t names; /* e0, e1, ... it prints */
	} cases[] = {
		{ { { .total = 2, .count = 2, .carried = 2, .cut = true } }, 1, 1, 0 },
		{ { { .total = 3, .count = 3, .carried = 2 } }, 1, 1, 0 },
		{ { { .total = 2, .count = 2, .carried = 2, .tail = 8, .tail_byte = 0xff } }, 1, 1, 0 },
		/* a longer body with a zero tail: a newer luod's, accepted */
		{ { { .total = 2, .count = 2, .carried = 2, .tail = 8 } }, 1, 0, 2 },
		{ { { .total = 2, .count = 3, .carried = 3 } }, 1, 1, 0 },
		{ { { .total = 5, .count = 0 } }, 1, 1, 0 },
		/* a bad second page: the first one's entries are out already */
		{ { { .total = 4, .count = 2, .carried = 2 }, { .total = 4, .count = 1 } }, 2, 1, 2 },
		/* the total shrinks below the cursor, or grows */
		{ { { .total = 5, .count = 3, .carried = 3 }, { .total = 3 } }, 2, 0, 3 },
		{ { { .total = 3, .count = 2, .carried = 2 }, { .total = 5, .count = 3, .carried = 3 } },
		  2, 0, 5 },
	};
	char dir[] = "/tmp/luo-pages.XXXXXX", path[128], out[8192];
	const char *args[] = { "--socket", path, "--json", "sessions", NULL };
	int r;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/fake.sock", dir);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int l = listener(path, 1);
		pid_t pid = fork();

		assert_true(pid >= 0);
		if (pid == 0)
			fake_list_luod(l, cases[i].pages, cases[i].npages);
		close(l);
		r = luoctl_all(out, sizeof(out), args);
		if (r != cases[i].status ||
		    (r && !strstr(out, "luoctl: sessions: Protocol error\n")))
			fail_msg("case %zu: luoctl exited %d, want %d; it said: %s", i, r,
				 cases[i].status, out);
		e2e_assert_sequence(out, "{\"name\": \"e", cases[i].names, fake_index);
		assert_int_equal(e2e_wait(pid), 0);
		unlink(path);
	}
	rmdir(dir);
}

/* Names that would forge a log line or drive a terminal, made by another uid. */
static const char forged_log[] = "a: closed\nluod[1]: error: keeper: lost all";
static const char osc_title[] = "\x1b]0;owned\x07\x1b[2J";
static const char c1_csi[] = "c1\xc2\x9b" "31mred";
static const char bidi[] = "txt\xe2\x80\xae" "gpj.exe";
static const char utf8_ok[] = "caf\xc3\xa9-\xe6\x97\xa5";

static void make_odd_sessions(void *arg)
{
	const struct chan *ch = arg;
	const char *names[] = { forged_log, osc_title, c1_csi, bidi, utf8_ok };
	int dev = luo_open(d.sock), s[5];
	char got[LUO_NAME_MAX];

	E2E_CHECK(dev >= 0);
	for (int i = 0; i < 5; i++) {
		s[i] = luo_create_session(dev, names[i]);
		E2E_CHECK(s[i] >= 0);
		/* the API keeps the name byte for byte */
		E2E_CHECK(luo_session_get_name(s[i], got) == 0);
		E2E_CHECK(strcmp(got, names[i]) == 0);
	}
	chan_send(ch->out);
	chan_wait(ch->in);
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
	int to, from;
	pid_t a;

	(void)state;
	a = start_with_child(NULL, NULL, make_odd_sessions, &to, &from);

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

	release_child(a, to, from);
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
	const struct chan *ch = arg;
	int dev = luo_open(d.sock), s, fd = memfd_pattern("keep", 8192, 5), back;
	struct luo_msg_hdr bad = { .size = sizeof(bad), .version = 99, .op = LUO_OP_SESSION_GET_NAME };
	char name[LUO_NAME_MAX];
	uint16_t op;
	int32_t result;

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
	chan_send(ch->out);
	chan_wait(ch->in); /* root updated luod */
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
	int to, from;
	pid_t a;

	(void)state;
	a = start_with_child(NULL, NULL, malformed_records, &to, &from);
	assert_int_equal(e2e_session_files(&d, "zero"), 1);
	luod_update(&d, NULL);
	release_child(a, to, from);
}

/* More than PATH_MAX bytes of directories below dir; an fd of the deepest. */
static int deep_dir(int dir)
{
	char name[251];
	int fd = dup(dir);

	memset(name, 'd', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	for (int i = 0; i < 20; i++) { /* 20 x 251 bytes */
		int next;

		E2E_CHECK(mkdirat(fd, name, 0700) == 0);
		next = openat(fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		E2E_CHECK(next >= 0);
		close(fd);
		fd = next;
	}
	return fd;
}

static void same_inode(int a, int b)
{
	struct stat sa, sb;

	E2E_CHECK(fstat(a, &sa) == 0 && fstat(b, &sb) == 0);
	E2E_CHECK(sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino);
}

static void long_paths(void *arg)
{
	const struct chan *ch = arg;
	char dir[] = "/tmp/luo-longpath.XXXXXX", link[64], buf[64];
	int dfd, deep, f, p, dev, s, got[2];
	uint64_t tokens[2] = { 1, 2 };

	E2E_CHECK(mkdtemp(dir));
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	E2E_CHECK(dfd >= 0);
	f = openat(dfd, "file", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	E2E_CHECK(f >= 0 && write(f, "abc", 3) == 3);
	E2E_CHECK(mkfifoat(dfd, "fifo", 0600) == 0);
	p = openat(dfd, "fifo", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	E2E_CHECK(p >= 0 && write(p, "in the pipe", 11) == 11);
	dev = luo_open(d.sock);
	E2E_CHECK(dev >= 0);
	s = luo_create_session(dev, "longpath");
	E2E_CHECK(s >= 0);
	E2E_CHECK(luo_session_preserve_fds(s, (int[]){ f, p }, tokens, 2) == 0);
	/* now below 5,000 bytes of directories: /proc/self/fd/N cannot be read */
	deep = deep_dir(dfd);
	E2E_CHECK(renameat(dfd, "file", deep, "file") == 0);
	E2E_CHECK(renameat(dfd, "fifo", deep, "fifo") == 0);
	snprintf(link, sizeof(link), "/proc/self/fd/%d", f);
	E2E_CHECK(readlink(link, buf, sizeof(buf)) < 0 && errno == ENAMETOOLONG);
	chan_send(ch->out);
	chan_wait(ch->in); /* root's global update ran: the handles are gone */
	close(s);
	close(dev);

	dev = luo_open(d.sock);
	s = luo_retrieve_session(dev, "longpath");
	E2E_CHECK(s >= 0);
	E2E_CHECK(luo_session_retrieve_fds(s, tokens, got, 2) == 0);
	same_inode(got[0], f);
	same_inode(got[1], p);
	E2E_CHECK(read(got[1], buf, 11) == 11 && !memcmp(buf, "in the pipe", 11));
	E2E_CHECK(luo_session_finish(s) == 0);
	close(s);
	/* preserved while the path cannot be read, then root's per-session update */
	s = luo_create_session(dev, "longpath2");
	E2E_CHECK(s >= 0);
	E2E_CHECK(luo_session_preserve_fds(s, got, tokens, 2) == 0);
	chan_send(ch->out);
	chan_wait(ch->in); /* root updated this session alone */
	close(s);
	s = luo_retrieve_session(dev, "longpath2");
	E2E_CHECK(s >= 0);
	close(got[0]);
	close(got[1]);
	E2E_CHECK(luo_session_retrieve_fds(s, tokens, got, 2) == 0);
	same_inode(got[0], f);
	E2E_CHECK(luo_session_finish(s) == 0);
	/* the path for root to clean up */
	E2E_CHECK(write(ch->out, dir, sizeof(dir)) == (ssize_t)sizeof(dir));
}

static void test_unreadable_path(void **state)
{
	char out[4096], dir[64] = "", cmd[128];
	int to, from;
	pid_t a;

	(void)state;
	a = start_with_child(NULL, NULL, long_paths, &to, &from);
	/* root's global update is not A's to veto */
	if (luoctl(&d, out, sizeof(out), "update", NULL) != 0)
		fail_msg("luoctl update: %s", out);
	assert_int_equal(write(to, "u", 1), 1);
	wait_child(from);
	if (luoctl(&d, out, sizeof(out), "update", "--session", "longpath2", NULL) != 0)
		fail_msg("luoctl update --session: %s", out);
	assert_int_equal(write(to, "u", 1), 1);
	assert_true(read(from, dir, sizeof(dir)) > 0);
	assert_int_equal(e2e_wait(a), 0);
	close(to);
	close(from);
	assert_int_equal(strncmp(dir, "/tmp/luo-longpath.", 18), 0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

/* How many connections a child opens, and what it saw: sent to root as it is. */
struct conn_report {
	int want;
	int ok;      /* answered */
	int refused; /* EUSERS */
	int other;   /* anything else: a failure */
	int sessions;    /* with conn_sessions: created before a refusal */
	int session_err; /* and that refusal */
};

static int conn_want;      /* set before the fork */
static bool conn_sessions; /* then create sessions on the first until refused */

static void many_connections(void *arg)
{
	const struct chan *ch = arg;
	struct conn_report rep = { .want = conn_want };
	int *fds = calloc((size_t)conn_want, sizeof(int));

	E2E_CHECK(fds);
	for (int i = 0; i < conn_want; i++) {
		enum luo_state st;
		int r;

		fds[i] = luo_open(d.sock);
		E2E_CHECK(fds[i] >= 0);
		/* the answer of a kept connection; a refused one's EUSERS waits in it */
		r = luo_get_state(fds[i], &st);
		if (r == 0)
			rep.ok++;
		else if (r == -EUSERS)
			rep.refused++;
		else if (rep.other++ == 0)
			fprintf(stderr, "connection %d: %s\n", i, strerror(-r));
		if (r != 0) {
			close(fds[i]);
			fds[i] = -1;
		}
	}
	while (conn_sessions && rep.ok && rep.sessions < 10000) {
		char name[32];
		int r;

		snprintf(name, sizeof(name), "s%d", rep.sessions);
		r = luo_create_session(fds[0], name);
		if (r < 0) {
			rep.session_err = r;
			break;
		}
		rep.sessions++; /* held until the child exits */
	}
	E2E_CHECK(write(ch->out, &rep, sizeof(rep)) == sizeof(rep));
	chan_wait(ch->in); /* root has checked: let go */
	if (rep.ok) {
		/* one closed: room for one more */
		for (int i = 0; i < conn_want; i++)
			if (fds[i] >= 0) {
				enum luo_state st;
				int fd;

				close(fds[i]);
				fds[i] = -1;
				fd = luo_open(d.sock);
				E2E_CHECK(fd >= 0 && luo_get_state(fd, &st) == 0);
				close(fd);
				break;
			}
	}
	free(fds);
}

static pid_t connect_as(uid_t uid, int n, int *to, int *from, struct conn_report *rep)
{
	pid_t pid;

	conn_want = n;
	pid = child_with_chan_as(uid, many_connections, to, from);
	assert_int_equal(read(*from, rep, sizeof(*rep)), sizeof(*rep));
	assert_int_equal(rep->other, 0);
	assert_int_equal(rep->ok + rep->refused, n);
	return pid;
}

/* root's luoctl, within its default timeout: status, and a session of its own */
static void root_still_served(void)
{
	char out[4096];
	int dev = e2e_open(&d), s;

	if (luoctl(&d, out, sizeof(out), "status", "--timeout", "20", NULL) != 0)
		fail_msg("luoctl status as root: %s", out);
	assert_int_equal(luoctl(&d, out, sizeof(out), "sessions", "--timeout", "20", NULL), 0);
	s = luo_create_session(dev, "roots");
	assert_true(s >= 0);
	close(s);
	close(dev);
}

static void test_connection_limits(void **state)
{
	const char *status_args[] = { "--socket", d.sock, "status", NULL };
	struct conn_report rep, rep_b;
	char out[4096];
	int to, from, to_b, from_b, roots[20];
	pid_t a, b;

	(void)state;
	if (geteuid() != 0)
		skip();
	/* a small limit: the 9th connection of a uid is refused, and told why */
	start_open("--max-connections-per-uid", "8");
	a = connect_as(UID_A, 12, &to, &from, &rep);
	assert_int_equal(rep.ok, 8);
	assert_int_equal(rep.refused, 4);
	/* root has no such limit */
	for (int i = 0; i < 20; i++) {
		enum luo_state st;

		roots[i] = e2e_open(&d);
		assert_int_equal(luo_get_state(roots[i], &st), 0);
	}
	for (int i = 0; i < 20; i++)
		close(roots[i]);
	/* luoctl as A: a clear message, exit 1 */
	{
		int p[2], status;
		size_t used = 0;
		pid_t pid;

		assert_int_equal(pipe(p), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			e2e_drop_to(UID_A, GID_A);
			dup2(p[1], 2);
			execv(getenv("LUOCTL"), (char *const[]){ "luoctl", (char *)status_args[0],
							       (char *)status_args[1],
							       (char *)status_args[2], NULL });
			_exit(127);
		}
		close(p[1]);
		for (ssize_t r; (r = read(p[0], out + used, sizeof(out) - 1 - used)) > 0;)
			used += (size_t)r;
		out[used] = '\0';
		close(p[0]);
		status = e2e_wait(pid);
		assert_int_equal(status, 1);
		assert_non_null(strstr(out, "luoctl: status: luod refused the connection: this uid has too many"));
	}
	release_child(a, to, from);
	luod_stop(&d);

	/* the case, with the default limit: 19,990 connections of one uid */
	start_open(NULL, NULL);
	a = connect_as(UID_A, 19990, &to, &from, &rep);
	assert_int_equal(rep.ok, 256);
	root_still_served();
	release_child(a, to, from);
	luod_stop(&d);

	/* many uids into a small fd table: the top of it stays root's */
	start_open(NULL, NULL);
	assert_int_equal(prlimit(d.pid, RLIMIT_NOFILE, &(struct rlimit){ 300, 300 }, NULL), 0);
	a = connect_as(UID_A, 256, &to, &from, &rep);
	b = connect_as(UID_B, 256, &to_b, &from_b, &rep_b);
	assert_true(rep.ok + rep_b.ok < 300 - 32);
	assert_true(rep_b.refused > 0);
	root_still_served();
	release_child(a, to, from);
	release_child(b, to_b, from_b);
	e2e_barrier(&d);
	/* sessions do not take that room either: their handles are luod's fds too */
	conn_sessions = true;
	a = connect_as(UID_A, 100, &to, &from, &rep);
	conn_sessions = false;
	assert_int_equal(rep.ok, 100);
	assert_true(rep.sessions > 0);
	assert_int_equal(rep.session_err, -EUSERS);
	/* what is left below the top (a hole or two a handle left) and then nothing */
	b = connect_as(UID_B, 20, &to_b, &from_b, &rep_b);
	assert_true(rep_b.ok <= 2 && rep_b.refused >= 18);
	root_still_served();
	release_child(a, to, from);
	release_child(b, to_b, from_b);
}

static void secret_memory(void *arg)
{
	int dev = luo_open(d.sock), s, fd = (int)syscall(SYS_memfd_secret, 0);

	(void)arg;
	E2E_CHECK(dev >= 0 && fd >= 0);
	s = luo_create_session(dev, "secret");
	E2E_CHECK(s >= 0);
	E2E_CHECK(luo_session_preserve_fd(s, fd, 1) == -ENOENT);
	/* and the session is as it was */
	fd = memfd_pattern("plain", 4096, 3);
	E2E_CHECK(luo_session_preserve_fd(s, fd, 1) == 0);
}

static void test_memfd_secret(void **state)
{
	int fd = (int)syscall(SYS_memfd_secret, 0);

	(void)state;
	if (fd < 0)
		skip(); /* this kernel has no secretmem (secretmem.enable=0, or older) */
	close(fd);
	if (geteuid() != 0)
		skip();
	start_open(NULL, NULL);
	assert_int_equal(e2e_as_uid(UID_A, GID_A, secret_memory, NULL), 0);
}

/* The reply to a SET_EVENT sent earlier on ctl. */
static int32_t event_result(int ctl)
{
	static unsigned char rx[sizeof(struct luo_msg_hdr) + LUO_MSG_MAX];
	struct luo_msg_hdr hdr;
	int fds[LUO_FDS_PER_MSG];
	size_t nfds = 0;

	assert_true(luo_msg_recv(ctl, rx, sizeof(rx), fds, LUO_FDS_PER_MSG, &nfds) >= (ssize_t)sizeof(hdr));
	memcpy(&hdr, rx, sizeof(hdr));
	assert_int_equal(hdr.op, LUO_OP_SET_EVENT);
	return hdr.result;
}

static void send_event(int ctl, enum luo_event e)
{
	struct luo_msg_event ev = { .event = e };

	assert_int_equal(luo_msg_send(ctl, LUO_OP_SET_EVENT, 0, &ev, sizeof(ev), NULL, 0), 0);
}

static void wait_readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	assert_int_equal(poll(&p, 1, 30000), 1);
}

static void test_participant_tags(void **state)
{
	static unsigned char rx[sizeof(struct luo_msg_hdr) + LUO_MSG_MAX];
	struct luo_msg_name name = { .name = "old-style" };
	struct luo_msg_payload answer = { 0 };
	struct luo_msg_hdr hdr;
	enum luo_event e;
	int part, ctl, fds[LUO_FDS_PER_MSG];
	size_t nfds;
	ssize_t n;

	(void)state;
	luod_start(&d, "--participant-timeout", "300", NULL);
	part = e2e_open(&d);
	ctl = e2e_open(&d);
	assert_int_equal(luo_participant_register(part, "late", NULL, 0), 0);
	/* PREPARE read but not answered in time */
	send_event(ctl, LUO_EVENT_PREPARE);
	assert_int_equal(luo_participant_next_event(part, &e, NULL), 0);
	assert_int_equal(e, LUO_EVENT_PREPARE);
	assert_int_equal(event_result(ctl), -ETIMEDOUT);
	/* the next PREPARE is out; the late answer to the first comes before its own */
	send_event(ctl, LUO_EVENT_PREPARE);
	wait_readable(part);
	assert_int_equal(luo_participant_reply(part, -EIO, NULL, 0), 0);
	assert_int_equal(luo_participant_next_event(part, &e, NULL), 0);
	assert_int_equal(e, LUO_EVENT_PREPARE);
	assert_int_equal(luo_participant_reply(part, 0, NULL, 0), 0);
	assert_int_equal(event_result(ctl), 0); /* not the late EIO */
	e2e_assert_state(&d, "prepared");
	/* an answer given twice: the second is dropped too */
	send_event(ctl, LUO_EVENT_CANCEL);
	assert_int_equal(luo_participant_next_event(part, &e, NULL), 0);
	assert_int_equal(e, LUO_EVENT_CANCEL);
	assert_int_equal(luo_participant_reply(part, 0, NULL, 0), 0);
	assert_int_equal(event_result(ctl), 0);
	assert_int_equal(luo_participant_reply(part, -EIO, NULL, 0), 0);
	send_event(ctl, LUO_EVENT_PREPARE);
	assert_int_equal(luo_participant_next_event(part, &e, NULL), 0);
	assert_int_equal(luo_participant_reply(part, 0, NULL, 0), 0);
	assert_int_equal(event_result(ctl), 0);
	send_event(ctl, LUO_EVENT_CANCEL);
	assert_int_equal(luo_participant_next_event(part, &e, NULL), 0);
	assert_int_equal(luo_participant_reply(part, 0, NULL, 0), 0);
	assert_int_equal(event_result(ctl), 0);
	close(part);

	/* a participant of the protocol before tags: the name alone, 16-byte events */
	part = e2e_open(&d);
	assert_int_equal(luo_msg_send(part, LUO_OP_PARTICIPANT_REGISTER, 0, &name, sizeof(name), NULL, 0), 0);
	n = luo_msg_recv(part, rx, sizeof(rx), fds, LUO_FDS_PER_MSG, &nfds);
	assert_int_equal(n, sizeof(hdr) + sizeof(struct luo_msg_payload));
	memcpy(&hdr, rx, sizeof(hdr));
	assert_int_equal(hdr.result, 0);
	send_event(ctl, LUO_EVENT_PREPARE);
	n = luo_msg_recv(part, rx, sizeof(rx), fds, LUO_FDS_PER_MSG, &nfds);
	assert_int_equal(n, sizeof(hdr) + LUO_PARTICIPANT_EVENT_UNTAGGED);
	assert_int_equal(luo_msg_send(part, LUO_OP_PARTICIPANT_EVENT, 0, &answer, sizeof(answer), NULL, 0), 0);
	assert_int_equal(event_result(ctl), 0);
	send_event(ctl, LUO_EVENT_CANCEL);
	n = luo_msg_recv(part, rx, sizeof(rx), fds, LUO_FDS_PER_MSG, &nfds);
	assert_int_equal(n, sizeof(hdr) + LUO_PARTICIPANT_EVENT_UNTAGGED);
	assert_int_equal(luo_msg_send(part, LUO_OP_PARTICIPANT_EVENT, 0, &answer, sizeof(answer), NULL, 0), 0);
	assert_int_equal(event_result(ctl), 0);
	e2e_assert_state(&d, "normal");
	close(part);
	close(ctl);
}

static void others_view(void *arg)
{
	const struct chan *ch = arg;
	struct luo_msg_show show = { .name = "roots-own" };
	struct luo_msg_status st;
	struct luo_reply *rep = malloc(sizeof(*rep));
	char path[PATH_MAX + 16];
	int dev = luo_open(d.sock), s, fd = memfd_pattern("a", 8192, 9);

	E2E_CHECK(rep && dev >= 0);
	s = luo_create_session(dev, "a-own");
	E2E_CHECK(s >= 0 && luo_session_preserve_fd(s, fd, 1) == 0);
	/* STATUS: luod's state, and A's own counts only */
	E2E_CHECK(luo_call_full(dev, LUO_OP_STATUS, NULL, 0, NULL, 0, rep) == 0);
	E2E_CHECK(rep->body_len >= sizeof(st));
	memcpy(&st, rep->body, sizeof(st));
	E2E_CHECK(st.pid == (uint32_t)d.pid && st.generation == 1 && st.updates == 1);
	E2E_CHECK(st.sessions == 1 && st.incoming_sessions == 0 && st.files == 1);
	E2E_CHECK(st.memfd_bytes == 8192 && st.participants == 0);
	/* another uid's session is not there for A, exactly as a name nobody holds */
	E2E_CHECK(luo_call_full(dev, LUO_OP_SHOW_SESSION, &show, sizeof(show), NULL, 0, rep) == -ENOENT);
	snprintf(show.name, sizeof(show.name), "nobody-has-this");
	E2E_CHECK(luo_call_full(dev, LUO_OP_SHOW_SESSION, &show, sizeof(show), NULL, 0, rep) == -ENOENT);
	snprintf(show.name, sizeof(show.name), "a-own");
	E2E_CHECK(luo_call_full(dev, LUO_OP_SHOW_SESSION, &show, sizeof(show), NULL, 0, rep) == 0);
	/* HISTORY: when updates ran, not what they carried */
	{
		struct luo_msg_history_reply h;
		struct luo_msg_history_entry e;

		E2E_CHECK(luo_call_full(dev, LUO_OP_HISTORY, NULL, 0, NULL, 0, rep) == 0);
		E2E_CHECK(rep->body_len >= sizeof(h) + sizeof(e));
		memcpy(&h, rep->body, sizeof(h));
		memcpy(&e, rep->body + sizeof(h), sizeof(e));
		E2E_CHECK(h.updates == 1 && h.count == 1 && e.generation == 1);
		E2E_CHECK(e.outcome == LUO_HISTORY_OK && e.files == 0 && e.sessions == 0);
	}
	/* nor are luod's files readable */
	snprintf(path, sizeof(path), "%s/state", d.state_dir);
	E2E_CHECK(open(path, O_RDONLY | O_CLOEXEC) < 0 && errno == EACCES);
	snprintf(path, sizeof(path), "%s/history", d.state_dir);
	E2E_CHECK(open(path, O_RDONLY | O_CLOEXEC) < 0 && errno == EACCES);
	chan_send(ch->out);
	chan_wait(ch->in);
	free(rep);
}

static void test_what_others_see(void **state)
{
	char path[PATH_MAX + 16];
	struct stat st;
	int dev, s, fds[2], to, from;
	pid_t a;

	(void)state;
	if (geteuid() != 0)
		skip();
	start_open(NULL, NULL);
	dev = e2e_open(&d);
	s = luo_create_session(dev, "roots-own");
	assert_true(s >= 0);
	for (int i = 0; i < 2; i++) {
		fds[i] = memfd_pattern("r", 4096, (uint32_t)i);
		assert_int_equal(luo_session_preserve_fd(s, fds[i], (uint64_t)i), 0);
	}
	luod_update(&d, NULL); /* carries root's session; a history file, too */
	close(s);
	close(dev);
	dev = e2e_open(&d);
	e2e_barrier(&d);
	snprintf(path, sizeof(path), "%s/state", d.state_dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	snprintf(path, sizeof(path), "%s/history", d.state_dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	a = child_with_chan(others_view, &to, &from);
	wait_child(from);
	/* root sees everything */
	assert_int_equal(luod_status_field(&d, "sessions"), 2);
	assert_int_equal(luod_status_field(&d, "files"), 3);
	assert_int_equal(luod_status_field(&d, "memfd_bytes"), 2 * 4096 + 8192);
	release_child(a, to, from);
	{
		char out[4096];

		assert_int_equal(luoctl(&d, out, sizeof(out), "history", "--json", NULL), 0);
		assert_int_equal(e2e_json_int(out, "files"), 2);
	}
	for (int i = 0; i < 2; i++)
		close(fds[i]);
	close(dev);
}

static void fill_fds(void *arg)
{
	const struct chan *ch = arg;
	int dev = luo_open(d.sock), s, n = 0, r, fd;

	E2E_CHECK(dev >= 0);
	s = luo_create_session(dev, "filler");
	E2E_CHECK(s >= 0);
	for (;;) {
		fd = memfd_pattern("f", 64, (uint32_t)n);
		r = luo_session_preserve_fd(s, fd, (uint64_t)n);
		close(fd);
		if (r < 0)
			break;
		n++;
	}
	E2E_CHECK(r == -ENOSPC && n == 30); /* 32 less 32 / 16 */
	chan_send(ch->out);
	chan_wait(ch->in);
}

static void test_fd_room_for_root(void **state)
{
	int to, from, dev, s, fd;
	pid_t a;

	(void)state;
	a = start_with_child("--max-fds", "32", fill_fds, &to, &from);
	dev = e2e_open(&d);
	s = luo_create_session(dev, "roots");
	assert_true(s >= 0);
	for (int i = 0; i < 2; i++) {
		fd = memfd_pattern("r", 64, (uint32_t)i);
		assert_int_equal(luo_session_preserve_fd(s, fd, (uint64_t)i), 0);
		close(fd);
	}
	fd = memfd_pattern("r", 64, 9);
	assert_int_equal(luo_session_preserve_fd(s, fd, 9), -ENOSPC); /* --max-fds itself */
	close(fd);
	close(s);
	close(dev);
	release_child(a, to, from);
}

/* A luod from before tags, on the other end of sock: what a new libluo must get along with. */
static void old_luod(int sock)
{
	static unsigned char rx[sizeof(struct luo_msg_hdr) + LUO_MSG_MAX];
	struct luo_msg_participant_event ev = { .event = LUO_EVENT_PREPARE, .timeout_ms = 5000 };
	struct luo_msg_payload none = { 0 };
	struct luo_msg_hdr h;
	int fds[LUO_FDS_PER_MSG];
	size_t nfds;
	ssize_t n;

	/* name and flags: the old body check says E2BIG */
	n = luo_msg_recv(sock, rx, sizeof(rx), fds, LUO_FDS_PER_MSG, &nfds);
	E2E_CHECK(n == (ssize_t)(sizeof(h) + sizeof(struct luo_msg_participant_register)));
	E2E_CHECK(luo_msg_send(sock, LUO_OP_PARTICIPANT_REGISTER, -E2BIG, NULL, 0, NULL, 0) == 0);
	/* the name alone: registered */
	n = luo_msg_recv(sock, rx, sizeof(rx), fds, LUO_FDS_PER_MSG, &nfds);
	E2E_CHECK(n == (ssize_t)(sizeof(h) + LUO_NAME_MAX));
	E2E_CHECK(!strcmp((char *)rx + sizeof(h), "new-client"));
	E2E_CHECK(luo_msg_send(sock, LUO_OP_PARTICIPANT_REGISTER, 0, &none, sizeof(none), NULL, 0) == 0);
	/* a 16-byte event; the answer must be the old, untagged one */
	E2E_CHECK(luo_msg_send(sock, LUO_OP_PARTICIPANT_EVENT, 0, &ev, LUO_PARTICIPANT_EVENT_UNTAGGED,
			       NULL, 0) == 0);
	n = luo_msg_recv(sock, rx, sizeof(rx), fds, LUO_FDS_PER_MSG, &nfds);
	E2E_CHECK(n == (ssize_t)(sizeof(h) + sizeof(none)));
	memcpy(&none, rx + sizeof(h), sizeof(none));
	E2E_CHECK(none.flags == 0 && none.len == 0);
}

static void test_participant_old_luod(void **state)
{
	enum luo_event e;
	int sp[2];
	pid_t pid;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(sp[0]);
		old_luod(sp[1]);
		_exit(0);
	}
	close(sp[1]);
	assert_int_equal(luo_participant_register(sp[0], "new-client", NULL, 0), 0);
	assert_int_equal(luo_participant_next_event(sp[0], &e, NULL), 0);
	assert_int_equal(e, LUO_EVENT_PREPARE);
	assert_int_equal(luo_participant_reply(sp[0], 0, NULL, 0), 0);
	assert_int_equal(e2e_wait(pid), 0);
	close(sp[0]);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_luoctl_timeout),
	cmocka_unit_test(test_luoctl_bad_pages),
	cmocka_unit_test_teardown(test_names_escaped, teardown),
	cmocka_unit_test_teardown(test_malformed_records, teardown),
	cmocka_unit_test_teardown(test_unreadable_path, teardown),
	cmocka_unit_test_teardown(test_connection_limits, teardown),
	cmocka_unit_test_teardown(test_memfd_secret, teardown),
	cmocka_unit_test_teardown(test_participant_tags, teardown),
	cmocka_unit_test(test_participant_old_luod),
	cmocka_unit_test_teardown(test_what_others_see, teardown),
	cmocka_unit_test_teardown(test_fd_room_for_root, teardown),
};

LUO_TEST_MAIN("isolation", tests, NULL, NULL)
