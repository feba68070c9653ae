// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Every file handler across a real `luoctl update`: the test preserves an
 * fd, closes every copy of its own (so only luod holds it, as when the
 * workload has exited), luod re-execs, and the fd retrieved on the far
 * side must still have the property that matters:
 *  - a listening TCP socket (IPv4, IPv6) accepts every connection made
 *    during the update and before the retrieve, none refused;
 *  - connected TCP and UNIX stream/seqpacket/dgram sockets keep their peer
 *    and the bytes in flight, message boundaries included;
 *  - a UDP socket keeps its port and its queued datagrams;
 *  - a pipe's and a FIFO's buffered bytes come back byte for byte;
 *  - an eventfd keeps its counter and semaphore mode, a timerfd its clock,
 *    interval and the ticks it counted meanwhile;
 *  - a regular file (ext4, tmpfs, O_TMPFILE, unlinked) keeps its offset,
 *    flags and contents;
 *  - /dev/null, directories, netlink sockets and KVM fds are refused with
 *    ENOENT, KVM with a message saying why.
 * `luoctl show` names each handler and reports the bytes it accounts for.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/netlink.h>

#include "e2e.h"

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

/* ---- helpers ---- */

struct carried {
	int dev;
	int sess;
};

/* Preserve fds[i] under token i + 1 in a new session, close the test's copies. */
static struct carried carry_out(const char *name, int *fds, size_t n)
{
	struct carried c;

	c.dev = e2e_open(&d);
	c.sess = luo_create_session(c.dev, name);
	assert_true(c.sess >= 0);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(luo_session_preserve_fd(c.sess, fds[i], i + 1), 0);
		close(fds[i]);
		fds[i] = -1;
	}
	return c;
}

/* The update itself: the session's old handles die with the old luod. */
static void update(struct carried *c)
{
	luod_update(&d, NULL);
	close(c->sess);
	close(c->dev);
}

/*
 * Retrieve the session and every token, and finish it: from here on only
 * the test holds the fds (what EOF checks need).
 */
static void carry_in(const char *name, int *fds, size_t n)
{
	int dev = e2e_open(&d), h;

	h = luo_retrieve_session(dev, name);
	assert_true(h >= 0);
	for (size_t i = 0; i < n; i++) {
		fds[i] = luo_session_retrieve_fd(h, i + 1);
		assert_true(fds[i] >= 0);
	}
	assert_int_equal(luo_session_finish(h), 0);
	close(h);
	close(dev);
}

/* `luoctl show NAME --json` lists token with this handler (and size, unless < 0). */
static void assert_shown(const char *name, uint64_t token, const char *handler, long long size)
{
	char out[65536], pat[160];

	assert_int_equal(luoctl(&d, out, sizeof(out), "show", name, "--json", NULL), 0);
	if (size < 0)
		snprintf(pat, sizeof(pat), "{\"token\": %llu, \"handler\": \"%s\", \"size\": ",
			 (unsigned long long)token, handler);
	else
		snprintf(pat, sizeof(pat), "{\"token\": %llu, \"handler\": \"%s\", \"size\": %lld,",
			 (unsigned long long)token, handler, size);
	if (!strstr(out, pat))
		fail_msg("luoctl show %s: no '%s' in %s", name, pat, out);
}

static void write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		assert_true(n > 0);
		p += n;
		len -= (size_t)n;
	}
}

/* Read exactly len bytes, waiting at most 5 s for each piece. */
static void read_all(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		assert_int_equal(poll(&pfd, 1, 5000), 1);
		n = read(fd, p, len);
		assert_true(n > 0);
		p += n;
		len -= (size_t)n;
	}
}

static void fill(unsigned char *buf, size_t len, uint32_t seed)
{
	for (size_t i = 0; i < len; i++) {
		seed = seed * 1103515245u + 12345u;
		buf[i] = (unsigned char)(seed >> 16);
	}
}

static bool luod_log_has(const char *text)
{
	char buf[65536];
	ssize_t n;
	int fd = open(d.log, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return false;
	buf[n] = '\0';
	return strstr(buf, text) != NULL;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* ---- sockets ---- */

static socklen_t loopback(int family, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		return sizeof(*sin);
	}
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	sin6->sin6_family = AF_INET6;
	sin6->sin6_addr = in6addr_loopback;
	return sizeof(*sin6);
}

/* A socket of family/type bound to loopback, port chosen by the kernel; -1 if unsupported. */
static int bound(int family, int type, struct sockaddr_storage *ss, socklen_t *len)
{
	int fd = socket(family, type | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	*len = loopback(family, ss);
	if (bind(fd, (struct sockaddr *)ss, *len) < 0) {
		close(fd);
		return -1;
	}
	assert_int_equal(getsockname(fd, (struct sockaddr *)ss, len), 0);
	return fd;
}

#define HAMMER_MAX 400

/*
 * The client: connects again and again (1 ms apart) until told to stop,
 * sending each connection's number; then expects every connection to be
 * answered with its number + 1000. Exit 0: all served; 1: a connection was
 * refused; 2: other failure; 3: an answer missing or wrong.
 */
static void hammer(const struct sockaddr_storage *ss, socklen_t len, int ready, int stop,
		   int report)
{
	static int conns[HAMMER_MAX];
	int n = 0, refused = 0;

	for (;;) {
		struct pollfd pfd = { .fd = stop, .events = POLLIN };
		int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		uint32_t id = (uint32_t)n;

		if (fd < 0)
			_exit(2);
		if (connect(fd, (const struct sockaddr *)ss, len) < 0) {
			if (errno == ECONNREFUSED)
				refused++;
			else
				_exit(2);
			close(fd);
		} else {
			if (write(fd, &id, sizeof(id)) != sizeof(id))
				_exit(2);
			conns[n++] = fd;
			if (n == 1 && write(ready, "r", 1) != 1)
				_exit(2);
		}
		if (n == HAMMER_MAX || poll(&pfd, 1, 1) != 0)
			break;
	}
	if (write(report, &n, sizeof(n)) != sizeof(n))
		_exit(2);
	if (refused)
		_exit(1);
	for (int i = 0; i < n; i++) {
		struct pollfd pfd = { .fd = conns[i], .events = POLLIN };
		uint32_t got;

		if (poll(&pfd, 1, 10000) != 1 || read(conns[i], &got, sizeof(got)) != sizeof(got) ||
		    got != (uint32_t)i + 1000)
			_exit(3);
	}
	_exit(0);
}

static void tcp_listen_keeps_accepting(int family)
{
	struct sockaddr_storage ss, again;
	socklen_t len, alen = sizeof(again);
	int fds[1], ready[2], stop[2], report[2], lfd, n, late, served = 0;
	const char *name = family == AF_INET ? "tcp4-listen" : "tcp6-listen";
	struct carried c;
	char r;
	pid_t pid;

	lfd = bound(family, SOCK_STREAM, &ss, &len);
	if (lfd < 0) {
		skip();
		return;
	}
	assert_int_equal(listen(lfd, 1024), 0);
	fds[0] = lfd;
	c = carry_out(name, fds, 1);
	assert_shown(name, 1, "socket", 0);

	assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
	assert_int_equal(pipe2(stop, O_CLOEXEC), 0);
	assert_int_equal(pipe2(report, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		hammer(&ss, len, ready[1], stop[0], report[1]);
	/* the client is connecting before, during and after the blackout */
	assert_int_equal(read(ready[0], &r, 1), 1);
	update(&c);
	sleep_ms(20);
	/* one more of our own, after the update and before anyone retrieved the socket */
	late = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(late >= 0);
	assert_int_equal(connect(late, (struct sockaddr *)&ss, len), 0);
	assert_int_equal(write(stop[1], "s", 1), 1);
	assert_int_equal(read(report[0], &n, sizeof(n)), sizeof(n));
	assert_true(n >= 2);

	carry_in(name, fds, 1);
	/* the same address, still listening */
	assert_int_equal(getsockname(fds[0], (struct sockaddr *)&again, &alen), 0);
	assert_int_equal(alen, len);
	assert_memory_equal(&again, &ss, len);
	for (int i = 0; i < n + 1; i++) {
		struct pollfd pfd = { .fd = fds[0], .events = POLLIN };
		uint32_t id;
		int conn;

		assert_int_equal(poll(&pfd, 1, 5000), 1);
		conn = accept4(fds[0], NULL, NULL, SOCK_CLOEXEC);
		assert_true(conn >= 0);
		/* ours sends nothing: tell it apart by the empty queue */
		pfd.fd = conn;
		if (poll(&pfd, 1, 200) == 0) {
			close(conn);
			continue;
		}
		read_all(conn, &id, sizeof(id));
		id += 1000;
		write_all(conn, &id, sizeof(id));
		close(conn);
		served++;
	}
	assert_int_equal(served, n);
	/* exit 1 would mean a refused connection, 3 an unanswered one */
	assert_int_equal(e2e_wait(pid), 0);
	close(late);
	close(fds[0]);
	close(ready[0]);
	close(ready[1]);
	close(stop[0]);
	close(stop[1]);
	close(report[0]);
	close(report[1]);
}

static void test_tcp4_listen(void **state)
{
	(void)state;
	tcp_listen_keeps_accepting(AF_INET);
}

static void test_tcp6_listen(void **state)
{
	(void)state;
	tcp_listen_keeps_accepting(AF_INET6);
}

/*
 * Many IPv6 listeners in one update, past the few the freeze reads one by
 * one (so the freeze takes them from luod's sock_diag dump of the IPv6
 * listeners): on ::1, on :: with IPV6_V6ONLY off (dual stack, reached over
 * IPv6 and IPv4 in turn) and on the v4-mapped ::ffff:127.0.0.1 (reached
 * over IPv4). One of them stops listening after it is preserved and listens
 * again on another address: the freeze must see that, not the address it
 * was preserved at. A client connects to every listener again and again
 * from before the update until after it, and the test once more after it;
 * on the far side each listener is at the address it had at the update,
 * and every one of those connections is waiting in its queue, none refused.
 */
#define MANY6 48
#define MANY6_ROUNDS 100

struct many6 {
	struct sockaddr_storage at;         /* where it listens */
	struct sockaddr_storage to[2];      /* what a client connects to, in turn */
	socklen_t at_len, to_len[2];
	int ways;
};

static socklen_t sock6(struct sockaddr_storage *ss, const char *addr, uint16_t port)
{
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = port;
	assert_int_equal(inet_pton(AF_INET6, addr, &sin6->sin6_addr), 1);
	return sizeof(*sin6);
}

static socklen_t sock4(struct sockaddr_storage *ss, uint16_t port)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof(*ss));
	sin->sin_family = AF_INET;
	sin->sin_port = port;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return sizeof(*sin);
}

/* A listener of kind (0 ::1, 1 :: dual stack, 2 ::ffff:127.0.0.1); -1 without IPv6. */
static int listen6(struct many6 *m, int kind)
{
	static const char *const at[] = { "::1", "::", "::ffff:127.0.0.1" };
	int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0), off = 0;
	uint16_t port;

	if (fd < 0)
		return -1;
	m->at_len = sock6(&m->at, at[kind], 0);
	assert_int_equal(setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)), 0);
	if (bind(fd, (struct sockaddr *)&m->at, m->at_len) < 0) {
		close(fd);
		return -1;
	}
	assert_int_equal(listen(fd, 1024), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&m->at, &m->at_len), 0);
	port = ((struct sockaddr_in6 *)&m->at)->sin6_port;
	m->ways = kind == 1 ? 2 : 1;
	if (kind == 2)
		m->to_len[0] = sock4(&m->to[0], port);
	else
		m->to_len[0] = sock6(&m->to[0], "::1", port);
	m->to_len[1] = sock4(&m->to[1], port);
	return fd;
}

/* One connection to m's round-th address, carrying id; closed at once (it stays queued). */
static int knock(const struct many6 *m, int round, uint32_t id)
{
	int w = round % m->ways, fd = socket(m->to[w].ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)&m->to[w], m->to_len[w]) < 0 ||
	    write(fd, &id, sizeof(id)) != sizeof(id)) {
		int r = -errno;

		close(fd);
		return r;
	}
	close(fd);
	return 0;
}

/* The client: rounds of one connection to each listener, 2 ms apart, until told to stop. */
static void knocker(const struct many6 *m, int ready, int stop, int report)
{
	int round = 0;

	for (; round < MANY6_ROUNDS; round++) {
		struct pollfd pfd = { .fd = stop, .events = POLLIN };

		for (int i = 0; i < MANY6; i++) {
			int r = knock(&m[i], round, (uint32_t)round);

			if (r == -ECONNREFUSED)
				_exit(1);
			if (r < 0)
				_exit(2);
		}
		if (round == 0 && write(ready, "r", 1) != 1)
			_exit(2);
		if (poll(&pfd, 1, 2) != 0) {
			round++;
			break;
		}
	}
	if (write(report, &round, sizeof(round)) != sizeof(round))
		_exit(2);
	_exit(0);
}

static void test_tcp6_listeners_many(void **state)
{
	static struct many6 m[MANY6];
	struct many6 *mv = &m[MANY6 - 3]; /* a ::1 one, among the last the freeze reaches */
	int fds[MANY6], ready[2], stop[2], report[2], moved, rounds;
	struct carried c;
	pid_t pid;
	char r;

	(void)state;
	for (int i = 0; i < MANY6; i++) {
		fds[i] = listen6(&m[i], i % 3);
		if (fds[i] < 0) {
			assert_int_equal(i, 0);
			skip(); /* no IPv6 */
			return;
		}
	}
	moved = dup(fds[MANY6 - 3]);
	assert_true(moved >= 0);
	c = carry_out("tcp6-many", fds, MANY6);
	/* the socket luod holds, through the test's copy: now on :: */
	assert_int_equal(shutdown(moved, SHUT_RD), 0);
	{
		struct many6 again;

		again.at_len = sock6(&again.at, "::", 0);
		assert_int_equal(bind(moved, (struct sockaddr *)&again.at, again.at_len), 0);
		assert_int_equal(listen(moved, 1024), 0);
		assert_int_equal(getsockname(moved, (struct sockaddr *)&mv->at, &mv->at_len), 0);
		/* IPv6 only: its bind to ::1 set IPV6_V6ONLY for good */
		mv->to_len[0] = sock6(&mv->to[0], "::1", ((struct sockaddr_in6 *)&mv->at)->sin6_port);
		mv->ways = 1;
	}
	close(moved);

	assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
	assert_int_equal(pipe2(stop, O_CLOEXEC), 0);
	assert_int_equal(pipe2(report, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		knocker(m, ready[1], stop[0], report[1]);
	assert_int_equal(read(ready[0], &r, 1), 1);
	update(&c);
	/* and one each after the update, before anyone retrieved them */
	for (int i = 0; i < MANY6; i++) {
		int k = knock(&m[i], i, UINT32_MAX);

		if (k < 0)
			fail_msg("listener %d (way %d): %s", i, i % m[i].ways, strerror(-k));
	}
	assert_int_equal(write(stop[1], "s", 1), 1);
	assert_int_equal(read(report[0], &rounds, sizeof(rounds)), sizeof(rounds));
	/* exit 1 would mean a refused connection */
	assert_int_equal(e2e_wait(pid), 0);
	assert_true(rounds >= 1);

	carry_in("tcp6-many", fds, MANY6);
	for (int i = 0; i < MANY6; i++) {
		struct sockaddr_storage at;
		socklen_t at_len = sizeof(at);
		bool late = false;

		assert_int_equal(fcntl(fds[i], F_SETFL, O_NONBLOCK), 0); /* for the last accept4() */
		assert_int_equal(getsockname(fds[i], (struct sockaddr *)&at, &at_len), 0);
		assert_int_equal(at_len, m[i].at_len);
		assert_memory_equal(&at, &m[i].at, at_len);
		/* rounds of the client's, in order, and the test's own */
		for (int k = 0; k <= rounds; k++) {
			struct pollfd pfd = { .fd = fds[i], .events = POLLIN };
			int conn = -1;
			uint32_t id;

			if (poll(&pfd, 1, 5000) == 1)
				conn = accept4(fds[i], NULL, NULL, SOCK_CLOEXEC);
			if (conn < 0)
				fail_msg("listener %d: %d connections of %d waiting", i, k, rounds + 1);
			read_all(conn, &id, sizeof(id));
			if (id == UINT32_MAX) {
				assert_false(late);
				late = true;
			} else {
				assert_true(id < (uint32_t)rounds);
			}
			close(conn);
		}
		assert_true(late);
		assert_int_equal(accept4(fds[i], NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK), -1);
		close(fds[i]);
	}
	close(ready[0]);
	close(ready[1]);
	close(stop[0]);
	close(stop[1]);
	close(report[0]);
	close(report[1]);
}

/* A connected TCP socket keeps its peer and the bytes in flight both ways. */
static void tcp_connected(int family)
{
	struct sockaddr_storage ss, peer, cli_addr;
	socklen_t len, plen = sizeof(peer), clen = sizeof(cli_addr);
	const char *name = family == AF_INET ? "tcp4-conn" : "tcp6-conn";
	int lfd, cli, fds[1];
	char buf[64];
	struct carried c;

	lfd = bound(family, SOCK_STREAM, &ss, &len);
	if (lfd < 0) {
		skip();
		return;
	}
	assert_int_equal(listen(lfd, 4), 0);
	cli = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(cli >= 0);
	assert_int_equal(connect(cli, (struct sockaddr *)&ss, len), 0);
	fds[0] = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	assert_true(fds[0] >= 0);
	close(lfd);
	assert_int_equal(getsockname(cli, (struct sockaddr *)&cli_addr, &clen), 0);
	/* in flight towards the preserved end, unread */
	write_all(cli, "before;", 7);
	/* and towards the client, sent by the preserved end */
	write_all(fds[0], "from-old;", 9);

	c = carry_out(name, fds, 1);
	update(&c);
	write_all(cli, "during;", 7);
	assert_shown(name, 1, "socket", 14);
	carry_in(name, fds, 1);

	assert_int_equal(getpeername(fds[0], (struct sockaddr *)&peer, &plen), 0);
	assert_int_equal(plen, clen);
	assert_memory_equal(&peer, &cli_addr, clen);
	read_all(fds[0], buf, 14);
	assert_memory_equal(buf, "before;during;", 14);
	write_all(fds[0], "from-new", 8);
	read_all(cli, buf, 17);
	assert_memory_equal(buf, "from-old;from-new", 17);
	close(fds[0]);
	/* the far end closes: the client sees EOF, not a reset */
	assert_int_equal(read(cli, buf, sizeof(buf)), 0);
	close(cli);
}

static void test_tcp4_connected(void **state)
{
	(void)state;
	tcp_connected(AF_INET);
}

static void test_tcp6_connected(void **state)
{
	(void)state;
	tcp_connected(AF_INET6);
}

/* A UNIX socketpair end of each type; message boundaries survive where the type has them. */
static void unix_pair(int type, const char *name)
{
	int sv[2], fds[1];
	char buf[64];
	ssize_t n;
	struct carried c;

	assert_int_equal(socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(send(sv[1], "one", 3, 0), 3);
	assert_int_equal(send(sv[1], "second", 6, 0), 6);
	fds[0] = sv[0];
	c = carry_out(name, fds, 1);
	update(&c);
	assert_int_equal(send(sv[1], "third!", 6, 0), 6);
	assert_shown(name, 1, "socket", -1);
	carry_in(name, fds, 1);
	if (type == SOCK_STREAM) {
		read_all(fds[0], buf, 15);
		assert_memory_equal(buf, "onesecondthird!", 15);
	} else {
		n = recv(fds[0], buf, sizeof(buf), MSG_DONTWAIT);
		assert_int_equal(n, 3);
		assert_memory_equal(buf, "one", 3);
		n = recv(fds[0], buf, sizeof(buf), MSG_DONTWAIT);
		assert_int_equal(n, 6);
		assert_memory_equal(buf, "second", 6);
		n = recv(fds[0], buf, sizeof(buf), MSG_DONTWAIT);
		assert_int_equal(n, 6);
		assert_memory_equal(buf, "third!", 6);
	}
	assert_int_equal(send(fds[0], "back", 4, 0), 4);
	assert_int_equal(recv(sv[1], buf, sizeof(buf), MSG_DONTWAIT), 4);
	assert_memory_equal(buf, "back", 4);
	close(fds[0]);
	close(sv[1]);
}

static void test_unix_stream(void **state)
{
	(void)state;
	unix_pair(SOCK_STREAM, "unix-stream");
}

static void test_unix_seqpacket(void **state)
{
	(void)state;
	unix_pair(SOCK_SEQPACKET, "unix-seqpacket");
}

static void test_unix_dgram(void **state)
{
	(void)state;
	unix_pair(SOCK_DGRAM, "unix-dgram");
}

/* A listening UNIX socket bound to a path keeps its address and backlog. */
static void test_unix_listen(void **state)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX }, again;
	socklen_t alen = sizeof(again);
	int fds[1], cli, conn;
	struct carried c;
	char buf[8];

	(void)state;
	assert_true(strlen(d.dir) + sizeof("/listen.sock") <= sizeof(sun.sun_path));
	memcpy(sun.sun_path, d.dir, strlen(d.dir));
	strcat(sun.sun_path, "/listen.sock");
	fds[0] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fds[0] >= 0);
	assert_int_equal(bind(fds[0], (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(fds[0], 16), 0);
	c = carry_out("unix-listen", fds, 1);
	update(&c);
	cli = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(cli >= 0);
	assert_int_equal(connect(cli, (struct sockaddr *)&sun, sizeof(sun)), 0);
	write_all(cli, "hi", 2);
	carry_in("unix-listen", fds, 1);
	assert_int_equal(getsockname(fds[0], (struct sockaddr *)&again, &alen), 0);
	assert_string_equal(again.sun_path, sun.sun_path);
	conn = accept4(fds[0], NULL, NULL, SOCK_CLOEXEC);
	assert_true(conn >= 0);
	read_all(conn, buf, 2);
	assert_memory_equal(buf, "hi", 2);
	close(conn);
	close(cli);
	close(fds[0]);
	unlink(sun.sun_path);
}

/* A UDP socket keeps its bound port and every queued datagram, in order. */
static void udp_keeps_port(int family)
{
	struct sockaddr_storage ss, again;
	socklen_t len, alen = sizeof(again);
	const char *name = family == AF_INET ? "udp4" : "udp6";
	int fds[1], tx;
	char buf[64];
	struct carried c;

	fds[0] = bound(family, SOCK_DGRAM, &ss, &len);
	if (fds[0] < 0) {
		skip();
		return;
	}
	tx = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(tx >= 0);
	for (int i = 0; i < 3; i++) {
		snprintf(buf, sizeof(buf), "dgram-%d", i);
		assert_int_equal(sendto(tx, buf, 7, 0, (struct sockaddr *)&ss, len), 7);
	}
	c = carry_out(name, fds, 1);
	update(&c);
	/* sent while nobody but luod holds the socket */
	assert_int_equal(sendto(tx, "dgram-3", 7, 0, (struct sockaddr *)&ss, len), 7);
	assert_shown(name, 1, "socket", 7); /* the next datagram's size */
	carry_in(name, fds, 1);
	assert_int_equal(getsockname(fds[0], (struct sockaddr *)&again, &alen), 0);
	assert_int_equal(alen, len);
	assert_memory_equal(&again, &ss, len);
	for (int i = 0; i < 4; i++) {
		char want[8];

		snprintf(want, sizeof(want), "dgram-%d", i);
		assert_int_equal(recv(fds[0], buf, sizeof(buf), MSG_DONTWAIT), 7);
		assert_memory_equal(buf, want, 7);
	}
	assert_int_equal(recv(fds[0], buf, sizeof(buf), MSG_DONTWAIT), -1);
	assert_int_equal(errno, EAGAIN);
	close(tx);
	close(fds[0]);
}

static void test_udp4(void **state)
{
	(void)state;
	udp_keeps_port(AF_INET);
}

static void test_udp6(void **state)
{
	(void)state;
	udp_keeps_port(AF_INET6);
}

/* ---- pipes ---- */

#define PIPE_BYTES (300 * 1024 + 17)

/* Both ends of a pipe with 300 KiB buffered in it: every byte comes back. */
static void test_pipe(void **state)
{
	static unsigned char want[PIPE_BYTES], got[PIPE_BYTES];
	int p[2], fds[2], cap;
	struct carried c;
	char more[5];

	(void)state;
	assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	cap = fcntl(p[1], F_SETPIPE_SZ, 1024 * 1024);
	if (cap < PIPE_BYTES) {
		skip(); /* /proc/sys/fs/pipe-max-size too small */
		return;
	}
	fill(want, sizeof(want), 42);
	write_all(p[1], want, sizeof(want));
	fds[0] = p[0];
	fds[1] = p[1];
	c = carry_out("pipe", fds, 2);
	update(&c);
	assert_shown("pipe", 1, "pipe", PIPE_BYTES);
	assert_shown("pipe", 2, "pipe", PIPE_BYTES);
	carry_in("pipe", fds, 2);
	assert_int_equal(fcntl(fds[0], F_GETFL) & O_ACCMODE, O_RDONLY);
	assert_int_equal(fcntl(fds[1], F_GETFL) & O_ACCMODE, O_WRONLY);
	assert_true(fcntl(fds[0], F_GETFL) & O_NONBLOCK);
	assert_int_equal(fcntl(fds[0], F_GETPIPE_SZ), cap);
	read_all(fds[0], got, sizeof(got));
	assert_memory_equal(got, want, sizeof(want));
	/* still one pipe: what goes in one end comes out of the other, then EOF */
	write_all(fds[1], "more", 4);
	close(fds[1]);
	read_all(fds[0], more, 4);
	assert_memory_equal(more, "more", 4);
	assert_int_equal(read(fds[0], more, sizeof(more)), 0);
	close(fds[0]);
}

/* The read end of a named FIFO; the writer keeps writing, the path goes away. */
static void test_fifo(void **state)
{
	unsigned char want[5000], got[5010];
	char path[PATH_MAX + 16];
	int fds[1], w;
	struct carried c;

	(void)state;
	snprintf(path, sizeof(path), "%s/fifo", d.dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	fds[0] = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	assert_true(fds[0] >= 0);
	w = open(path, O_WRONLY | O_CLOEXEC);
	assert_true(w >= 0);
	fill(want, sizeof(want), 7);
	write_all(w, want, sizeof(want));
	c = carry_out("fifo", fds, 1);
	update(&c);
	write_all(w, "tail-bytes", 10);
	assert_int_equal(unlink(path), 0); /* renamed or unlinked: still the same FIFO */
	assert_shown("fifo", 1, "pipe", (long long)sizeof(want) + 10);
	carry_in("fifo", fds, 1);
	assert_int_equal(fcntl(fds[0], F_GETFL) & O_ACCMODE, O_RDONLY);
	read_all(fds[0], got, sizeof(want) + 10);
	assert_memory_equal(got, want, sizeof(want));
	assert_memory_equal(got + sizeof(want), "tail-bytes", 10);
	close(w);
	assert_int_equal(read(fds[0], got, sizeof(got)), 0);
	close(fds[0]);
}

/* ---- eventfd, timerfd ---- */

static void test_eventfd(void **state)
{
	int fds[2];
	uint64_t v;
	struct carried c;

	(void)state;
	fds[0] = eventfd(7, EFD_SEMAPHORE | EFD_NONBLOCK | EFD_CLOEXEC);
	fds[1] = eventfd(0, EFD_CLOEXEC);
	assert_true(fds[0] >= 0 && fds[1] >= 0);
	v = 40;
	assert_int_equal(write(fds[1], &v, sizeof(v)), sizeof(v));
	v = 2;
	assert_int_equal(write(fds[1], &v, sizeof(v)), sizeof(v));
	c = carry_out("eventfd", fds, 2);
	update(&c);
	assert_shown("eventfd", 1, "eventfd", -1);
	carry_in("eventfd", fds, 2);

	/* the semaphore hands out its 7 units one by one, then would block */
	assert_true(fcntl(fds[0], F_GETFL) & O_NONBLOCK);
	for (int i = 0; i < 7; i++) {
		assert_int_equal(read(fds[0], &v, sizeof(v)), sizeof(v));
		assert_int_equal(v, 1);
	}
	assert_int_equal(read(fds[0], &v, sizeof(v)), -1);
	assert_int_equal(errno, EAGAIN);
	/* the plain one gives its whole count at once (blocking mode kept) */
	assert_false(fcntl(fds[1], F_GETFL) & O_NONBLOCK);
	assert_int_equal(read(fds[1], &v, sizeof(v)), sizeof(v));
	assert_int_equal(v, 42);
	close(fds[0]);
	close(fds[1]);
}

static void test_timerfd(void **state)
{
	struct itimerspec its = { .it_interval = { 0, 20000000 }, .it_value = { 0, 20000000 } };
	struct itimerspec oneshot = { .it_value = { 3600, 0 } }, got;
	unsigned long long ticks = 0;
	int fds[2];
	struct carried c;

	(void)state;
	fds[0] = timerfd_create(CLOCK_BOOTTIME, TFD_NONBLOCK | TFD_CLOEXEC);
	fds[1] = timerfd_create(CLOCK_REALTIME, TFD_CLOEXEC);
	assert_true(fds[0] >= 0 && fds[1] >= 0);
	assert_int_equal(timerfd_settime(fds[0], 0, &its, NULL), 0);
	assert_int_equal(timerfd_settime(fds[1], 0, &oneshot, NULL), 0);
	c = carry_out("timerfd", fds, 2);
	update(&c);
	sleep_ms(100);
	assert_shown("timerfd", 1, "timerfd", -1);
	carry_in("timerfd", fds, 2);

	/* still armed, same interval; it counted the ticks of the blackout */
	assert_int_equal(timerfd_gettime(fds[0], &got), 0);
	assert_int_equal(got.it_interval.tv_sec, 0);
	assert_int_equal(got.it_interval.tv_nsec, 20000000);
	assert_true(got.it_value.tv_sec || got.it_value.tv_nsec);
	assert_int_equal(read(fds[0], &ticks, sizeof(ticks)), sizeof(ticks));
	assert_true(ticks >= 3);
	/* the one-shot hour has not run out, and its clock is still CLOCK_REALTIME */
	assert_int_equal(timerfd_gettime(fds[1], &got), 0);
	assert_int_equal(got.it_interval.tv_sec, 0);
	assert_true(got.it_value.tv_sec > 3500 && got.it_value.tv_sec <= 3600);
	{
		char path[64], buf[4096];
		int fd;
		ssize_t n;

		snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fds[0]);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		assert_true(fd >= 0);
		n = read(fd, buf, sizeof(buf) - 1);
		assert_true(n > 0);
		buf[n] = '\0';
		close(fd);
		assert_non_null(strstr(buf, "clockid: 7\n")); /* CLOCK_BOOTTIME */
		snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fds[1]);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		assert_true(fd >= 0);
		n = read(fd, buf, sizeof(buf) - 1);
		assert_true(n > 0);
		buf[n] = '\0';
		close(fd);
		assert_non_null(strstr(buf, "clockid: 0\n")); /* CLOCK_REALTIME */
	}
	close(fds[0]);
	close(fds[1]);
}

/* ---- regular files ---- */

#define FILE_BYTES 20000

/* In dir: a file read from offset 1234, one appended to, one unlinked, an O_TMPFILE. */
static void regular_files(const char *dir, const char *name)
{
	static unsigned char want[FILE_BYTES], got[FILE_BYTES];
	char path[PATH_MAX + 32], gone[PATH_MAX + 32];
	int fds[4], fd;
	struct carried c;
	struct stat st;

	fill(want, sizeof(want), 99);
	snprintf(path, sizeof(path), "%s/luo-regular-%d", dir, getpid());
	snprintf(gone, sizeof(gone), "%s/luo-gone-%d", dir, getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		skip();
		return;
	}
	write_all(fd, want, sizeof(want));
	close(fd);

	fds[0] = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fds[0] >= 0);
	assert_int_equal(lseek(fds[0], 1234, SEEK_SET), 1234);
	fds[1] = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	assert_true(fds[1] >= 0);
	fds[2] = open(gone, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fds[2] >= 0);
	write_all(fds[2], want, 5000);
	assert_int_equal(unlink(gone), 0);
	fds[3] = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	assert_true(fds[3] >= 0);
	write_all(fds[3], want, sizeof(want));
	assert_int_equal(lseek(fds[3], 10, SEEK_SET), 10);

	c = carry_out(name, fds, 4);
	update(&c);
	assert_shown(name, 1, "file", FILE_BYTES);
	assert_shown(name, 3, "file", 5000);
	assert_shown(name, 4, "file", FILE_BYTES);
	carry_in(name, fds, 4);

	/* offset and flags as they were; reading goes on where it stopped */
	assert_int_equal(lseek(fds[0], 0, SEEK_CUR), 1234);
	assert_int_equal(fcntl(fds[0], F_GETFL) & (O_ACCMODE | O_APPEND), O_RDONLY);
	read_all(fds[0], got, sizeof(want) - 1234);
	assert_memory_equal(got, want + 1234, sizeof(want) - 1234);
	assert_int_equal(fcntl(fds[1], F_GETFL) & (O_ACCMODE | O_APPEND), O_WRONLY | O_APPEND);
	write_all(fds[1], "appended", 8);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, FILE_BYTES + 8);
	/* the unlinked file and the O_TMPFILE: no name, contents intact */
	assert_int_equal(fstat(fds[2], &st), 0);
	assert_int_equal(st.st_nlink, 0);
	assert_int_equal(lseek(fds[2], 0, SEEK_CUR), 5000);
	assert_int_equal(pread(fds[2], got, 5000, 0), 5000);
	assert_memory_equal(got, want, 5000);
	assert_int_equal(fstat(fds[3], &st), 0);
	assert_int_equal(st.st_nlink, 0);
	assert_int_equal(lseek(fds[3], 0, SEEK_CUR), 10);
	assert_int_equal(fcntl(fds[3], F_GETFL) & O_ACCMODE, O_RDWR);
	assert_int_equal(pread(fds[3], got, sizeof(got), 0), sizeof(got));
	assert_memory_equal(got, want, sizeof(want));
	for (int i = 0; i < 4; i++)
		close(fds[i]);
	unlink(path);
}

static void test_regular_ext4(void **state)
{
	(void)state;
	regular_files(d.dir, "file-tmpdir"); /* whatever /tmp is: ext4 here */
}

static void test_regular_tmpfs(void **state)
{
	(void)state;
	regular_files("/dev/shm", "file-shm");
}

/* ---- refused ---- */

static void test_refused(void **state)
{
	int dev, s, fd, kvm, vm;

	(void)state;
	dev = e2e_open(&d);
	s = luo_create_session(dev, "refused");
	assert_true(s >= 0);
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(luo_session_preserve_fd(s, fd, 1), -ENOENT);
	close(fd);
	fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(luo_session_preserve_fd(s, fd, 2), -ENOENT);
	close(fd);
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd >= 0) {
		assert_int_equal(luo_session_preserve_fd(s, fd, 3), -ENOENT);
		close(fd);
	}
	/* a session handle is luod's own socket */
	assert_int_equal(luo_session_preserve_fd(s, s, 4), -ENOENT);

	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm >= 0) {
		assert_int_equal(luo_session_preserve_fd(s, kvm, 5), -ENOENT);
		vm = ioctl(kvm, KVM_CREATE_VM, 0);
		if (vm >= 0) {
			assert_int_equal(luo_session_preserve_fd(s, vm, 6), -ENOENT);
			e2e_barrier(&d);
			assert_true(luod_log_has("a KVM fd cannot move between processes"));
			close(vm);
		}
		close(kvm);
	}
	/* every refusal left the session as it was */
	assert_int_equal(e2e_session_files(&d, "refused"), 0);
	close(s);
	close(dev);
}

/* ---- all of it at once, three updates in a row ---- */

static void test_mixed_three_updates(void **state)
{
	unsigned char want[3000], got[3000];
	struct sockaddr_storage ss;
	socklen_t len;
	int fds[5], p[2], cli, conn;
	uint64_t v = 5;
	struct itimerspec its = { .it_interval = { 0, 50000000 }, .it_value = { 0, 50000000 } }, tg;

	(void)state;
	fds[0] = memfd_pattern("mixed", 65536, 3);
	fds[1] = bound(AF_INET, SOCK_STREAM, &ss, &len);
	assert_true(fds[1] >= 0);
	assert_int_equal(listen(fds[1], 64), 0);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	fill(want, sizeof(want), 5);
	write_all(p[1], want, sizeof(want));
	fds[2] = p[0];
	fds[3] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	assert_int_equal(write(fds[3], &v, sizeof(v)), sizeof(v));
	fds[4] = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	assert_int_equal(timerfd_settime(fds[4], 0, &its, NULL), 0);

	cli = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	for (int round = 0; round < 3; round++) {
		struct carried c = carry_out("mixed", fds, 5);

		update(&c);
		if (round == 1)
			assert_int_equal(connect(cli, (struct sockaddr *)&ss, len), 0);
		carry_in("mixed", fds, 5);
	}
	close(p[1]);
	assert_true(memfd_pattern_ok(fds[0], 65536, 3));
	conn = accept4(fds[1], NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	assert_true(conn >= 0);
	read_all(fds[2], got, sizeof(got));
	assert_memory_equal(got, want, sizeof(want));
	assert_int_equal(read(fds[2], got, 1), 0);
	assert_int_equal(read(fds[3], &v, sizeof(v)), sizeof(v));
	assert_int_equal(v, 5);
	assert_int_equal(timerfd_gettime(fds[4], &tg), 0);
	assert_int_equal(tg.it_interval.tv_nsec, 50000000);
	close(conn);
	close(cli);
	for (int i = 0; i < 5; i++)
		close(fds[i]);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_tcp4_listen),
	cmocka_unit_test(test_tcp6_listen),
	cmocka_unit_test(test_tcp6_listeners_many),
	cmocka_unit_test(test_tcp4_connected),
	cmocka_unit_test(test_tcp6_connected),
	cmocka_unit_test(test_unix_stream),
	cmocka_unit_test(test_unix_seqpacket),
	cmocka_unit_test(test_unix_dgram),
	cmocka_unit_test(test_unix_listen),
	cmocka_unit_test(test_udp4),
	cmocka_unit_test(test_udp6),
	cmocka_unit_test(test_pipe),
	cmocka_unit_test(test_fifo),
	cmocka_unit_test(test_eventfd),
	cmocka_unit_test(test_timerfd),
	cmocka_unit_test(test_regular_ext4),
	cmocka_unit_test(test_regular_tmpfs),
	cmocka_unit_test(test_refused),
	cmocka_unit_test(test_mixed_three_updates),
};

LUO_TEST_MAIN("e2e-handlers", tests, setup, teardown)
