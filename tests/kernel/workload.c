// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * kernel-workload: the workload of the kernel-backend test in the reference
 * VM (tests/kernel/luod-demo.sh). It uses libluo only, the same calls as
 * with the userspace backend: on a LUO kernel its session is a hybrid one.
 * Session "vm-workload" holds three files:
 *   token 1  a 64 MiB memfd with a seeded pattern (the kernel carries it)
 *   token 2  a TCP socket listening on 127.0.0.1:PORT (re-created after a kexec)
 *   token 3  the read end of a pipe with PIPE_DATA in it (luod keeps it;
 *            a kexec cannot carry it)
 *
 *   kernel-workload create
 *       makes the three, freezes the session and exits; luod holds it.
 *       Prints "CHECKSUM <hex>".
 *   kernel-workload again HEX
 *       a restarted workload (after a luod update): retrieves all three and
 *       checks each (checksum; a connection it makes itself is accepted;
 *       the pipe still holds PIPE_DATA), then finishes the session and
 *       hands the same fds on in a new one, frozen, for the kexec.
 *   kernel-workload client [PORT]
 *       connects to 127.0.0.1:PORT (7070), sends CLIENT_DATA, exits: before
 *       the workload after the kexec has retrieved anything.
 *   kernel-workload verify HEX
 *       after the kexec: the memfd with its checksum; the listener on the
 *       same port with the client's connection waiting in its backlog; the
 *       pipe refused with ENOLINK (not carried); then finish.
 *   kernel-workload serve
 *       a socket-activated server under `luoctl exec`: accepts one
 *       connection on fd 3 (LISTEN_FDS), prints "SERVED <what it sent>".
 *   kernel-workload sd-exec NAME create|retrieve LUOD [ARGS...]
 *       what systemd does for a unit with LUOSession=: opens
 *       /dev/liveupdate, creates (or, after a kexec, retrieves) kernel
 *       session NAME, closes the device and execs LUOD with the session as
 *       fd 3 (LISTEN_FDS=1, LISTEN_FDNAMES=NAME, LISTEN_PID this process).
 *
 * Exit 0 on success; failures print one line "FAIL ..." and exit 1.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "luo/liveupdate.h"
#include "luo/luo.h"

#define NAME "vm-workload"
#define T_MEMFD 1
#define T_LISTEN 2
#define T_PIPE 3
#define SIZE (64u << 20)
#define PORT 7070
#define PIPE_DATA "pipe-data\n"
#define CLIENT_DATA "hello after the kexec\n"

static int fail(const char *what, int err)
{
	printf("FAIL %s: %s\n", what, strerror(err < 0 ? -err : err));
	return 1;
}

/* FNV-1a over the whole mapping: any changed byte shows. */
static uint64_t checksum(const unsigned char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

static int map_checksum(int fd, char *out, size_t len)
{
	struct stat st;
	void *p;

	if (fstat(fd, &st) < 0)
		return -errno;
	if ((size_t)st.st_size != SIZE)
		return -EMSGSIZE;
	p = mmap(NULL, SIZE, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	snprintf(out, len, "%016" PRIx64, checksum(p, SIZE));
	munmap(p, SIZE);
	return 0;
}

static struct sockaddr_in loopback(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(PORT) };

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

/* A connection waiting on listener l: accepted within 10 s, and what it sent. */
static int accept_one(int l, char *got, size_t len)
{
	struct pollfd p = { .fd = l, .events = POLLIN };
	ssize_t n;
	int c;

	if (poll(&p, 1, 10000) != 1)
		return -ETIMEDOUT;
	c = accept(l, NULL, NULL);
	if (c < 0)
		return -errno;
	p = (struct pollfd){ .fd = c, .events = POLLIN };
	n = poll(&p, 1, 10000) == 1 ? read(c, got, len - 1) : -1;
	got[n > 0 ? n : 0] = '\0';
	close(c);
	return 0;
}

static int connect_send_port(const char *data, int port)
{
	struct sockaddr_in a = loopback();
	int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	a.sin_port = htons((uint16_t)port);
	if (c < 0)
		return -errno;
	if (connect(c, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    write(c, data, strlen(data)) != (ssize_t)strlen(data)) {
		int r = -errno;

		close(c);
		return r;
	}
	return c;
}

static int connect_send(const char *data)
{
	return connect_send_port(data, PORT);
}

/* The three files into session s, frozen: luod holds it once this process exits. */
static int hand_on(int s, int memfd, int listener, int pipe_rd)
{
	uint64_t tokens[3] = { T_MEMFD, T_LISTEN, T_PIPE };
	int fds[3] = { memfd, listener, pipe_rd };
	int r;

	r = luo_session_preserve_fds(s, fds, tokens, 3);
	if (r < 0)
		return fail("luo_session_preserve_fds", r);
	r = luo_session_set_event(s, LUO_EVENT_FREEZE);
	if (r < 0)
		return fail("luo_session_set_event(FREEZE)", r);
	close(s);
	return 0;
}

static int create(int dev)
{
	struct sockaddr_in a = loopback();
	uint32_t x = 0x9e3779b9, *p;
	char sum[32];
	int s, fd, l, pp[2], one = 1, r;

	s = luo_create_session(dev, NAME);
	if (s < 0)
		return fail("luo_create_session", s);
	fd = memfd_create(NAME, MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, SIZE) < 0)
		return fail("memfd", errno);
	p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return fail("mmap", errno);
	for (size_t i = 0; i < SIZE / 4; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = x;
	}
	munmap(p, SIZE);
	r = map_checksum(fd, sum, sizeof(sum));
	if (r < 0)
		return fail("checksum", r);
	l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0 || setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 16) < 0)
		return fail("listener", errno);
	if (pipe2(pp, O_CLOEXEC) < 0 || write(pp[1], PIPE_DATA, strlen(PIPE_DATA)) < 0)
		return fail("pipe", errno);
	close(pp[1]);
	if (hand_on(s, fd, l, pp[0]))
		return 1;
	printf("CHECKSUM %s\n", sum);
	return 0;
}

static int again(int dev, const char *want)
{
	uint64_t tokens[3] = { T_MEMFD, T_LISTEN, T_PIPE };
	int fds[3] = { -1, -1, -1 }, s, c, n = 0, r;
	char sum[32], got[64];

	s = luo_retrieve_session(dev, NAME);
	if (s < 0)
		return fail("luo_retrieve_session after the luod update", s);
	r = luo_session_retrieve_fds(s, tokens, fds, 3);
	if (r < 0)
		return fail("luo_session_retrieve_fds", r);
	r = map_checksum(fds[0], sum, sizeof(sum));
	if (r < 0 || strcmp(sum, want)) {
		printf("FAIL memfd checksum %s, want %s\n", r < 0 ? strerror(-r) : sum, want);
		return 1;
	}
	c = connect_send("self\n");
	if (c < 0)
		return fail("connecting to the listener", c);
	r = accept_one(fds[1], got, sizeof(got));
	close(c);
	if (r < 0 || strcmp(got, "self\n"))
		return fail("accepting on the listener", r < 0 ? r : -EPROTO);
	if (ioctl(fds[2], FIONREAD, &n) < 0 || n != (int)strlen(PIPE_DATA))
		return fail("the pipe's bytes", n < 0 ? errno : EPROTO);
	r = luo_session_finish(s);
	if (r < 0)
		return fail("luo_session_finish", r);
	close(s);
	s = luo_create_session(dev, NAME);
	if (s < 0)
		return fail("luo_create_session, handing the files on", s);
	if (hand_on(s, fds[0], fds[1], fds[2]))
		return 1;
	printf("KEPT memfd %s, listener on port %d, pipe with %d bytes\n", sum, PORT, n);
	return 0;
}

static int client(int port)
{
	int c = connect_send_port(CLIENT_DATA, port);

	if (c < 0)
		return fail("connecting after the kexec", c);
	close(c); /* what it sent waits in the backlog with the connection */
	printf("CONNECTED to port %d\n", port);
	return 0;
}

static int verify(int dev, const char *want)
{
	char sum[32], got[64];
	int s, fd, l, p, r;

	s = luo_retrieve_session(dev, NAME);
	if (s < 0)
		return fail("luo_retrieve_session", s);
	fd = luo_session_retrieve_fd(s, T_MEMFD);
	if (fd < 0)
		return fail("luo_session_retrieve_fd(memfd)", fd);
	r = map_checksum(fd, sum, sizeof(sum));
	if (r < 0)
		return fail("checksum", r);
	printf("CHECKSUM %s\n", sum);
	if (strcmp(sum, want)) {
		printf("FAIL checksum %s, want %s\n", sum, want);
		return 1;
	}
	l = luo_session_retrieve_fd(s, T_LISTEN);
	if (l < 0)
		return fail("luo_session_retrieve_fd(listener)", l);
	r = accept_one(l, got, sizeof(got));
	if (r < 0)
		return fail("accepting the client's connection", r);
	if (strcmp(got, CLIENT_DATA)) {
		printf("FAIL the client sent \"%s\"\n", got);
		return 1;
	}
	printf("LISTENER re-created on port %d: accepted the client's connection\n", PORT);
	p = luo_session_retrieve_fd(s, T_PIPE);
	if (p != -ENOLINK) {
		printf("FAIL the pipe: %s, want ENOLINK (not carried)\n",
		       p >= 0 ? "retrieved" : strerror(-p));
		return 1;
	}
	/* and the same again: the answer is for good */
	if (luo_session_retrieve_fd(s, T_PIPE) != -ENOLINK)
		return fail("the pipe's second retrieve", EPROTO);
	printf("PIPE not carried: %s\n", strerror(ENOLINK));
	r = luo_session_finish(s);
	if (r < 0)
		return fail("luo_session_finish", r);
	close(l);
	close(fd);
	close(s);
	return 0;
}

static int serve(void)
{
	const char *n = getenv("LISTEN_FDS");
	char got[64];
	int r;

	if (!n || atoi(n) < 1)
		return fail("serve: no LISTEN_FDS", ENOENT);
	r = accept_one(3, got, sizeof(got));
	if (r < 0)
		return fail("serve: accepting on fd 3", r);
	got[strcspn(got, "\n")] = '\0';
	printf("SERVED %s\n", got);
	return 0;
}

/* systemd's side of LUOSession=, as far as luod can tell: a session fd at 3 and its name. */
static int sd_exec(int argc, char **argv)
{
	struct liveupdate_ioctl_create_session a = { .size = sizeof(a), .fd = -1 };
	unsigned long cmd = !strcmp(argv[3], "create") ? LIVEUPDATE_IOCTL_CREATE_SESSION
						       : LIVEUPDATE_IOCTL_RETRIEVE_SESSION;
	char pid[16];
	int dev;

	if (argc < 5)
		return fail("sd-exec NAME create|retrieve LUOD [ARGS...]", EINVAL);
	dev = open("/dev/liveupdate", O_RDWR | O_CLOEXEC);
	if (dev < 0)
		return fail("/dev/liveupdate", errno);
	snprintf((char *)a.name, sizeof(a.name), "%s", argv[2]);
	if (ioctl(dev, cmd, &a) < 0)
		return fail(argv[3], errno);
	close(dev); /* as systemd does: the session lives on through its fd */
	if (a.fd == 3)
		fcntl(3, F_SETFD, 0);
	else if (dup2(a.fd, 3) < 0)
		return fail("dup2", errno);
	else
		close(a.fd);
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	setenv("LISTEN_FDS", "1", 1);
	setenv("LISTEN_PID", pid, 1);
	setenv("LISTEN_FDNAMES", argv[2], 1);
	execv(argv[4], argv + 4);
	return fail(argv[4], errno);
}

int main(int argc, char **argv)
{
	int dev, r;

	if (argc < 2 || ((!strcmp(argv[1], "verify") || !strcmp(argv[1], "again")) && argc < 3)) {
		fprintf(stderr, "usage: kernel-workload create|again HEX|client|verify HEX|"
				"sd-exec NAME create|retrieve LUOD [ARGS...]\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(argv[1], "client"))
		return client(argc > 2 ? atoi(argv[2]) : PORT);
	if (!strcmp(argv[1], "serve"))
		return serve();
	if (!strcmp(argv[1], "sd-exec"))
		return argc < 5 ? fail("usage", EINVAL) : sd_exec(argc, argv);
	dev = luo_open(NULL);
	if (dev < 0)
		return fail("luo_open", dev);
	if (!strcmp(argv[1], "create"))
		r = create(dev);
	else if (!strcmp(argv[1], "again"))
		r = again(dev, argv[2]);
	else if (!strcmp(argv[1], "verify"))
		r = verify(dev, argv[2]);
	else
		r = fail(argv[1], EINVAL);
	close(dev);
	return r;
}
