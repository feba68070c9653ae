// SPDX-License-Identifier: GPL-2.0-or-later
/* Helpers shared by the benchmark programs; see bench.h. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <luo/luo.h>

#include "bench.h"

uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

double bench_ms(uint64_t ns)
{
	return (double)ns / 1e6;
}

void bench_die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "bench[%d]: ", (int)getpid());
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

void bench_log(const char *fmt, ...)
{
	va_list ap;

	fputs("bench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Daemons we started, stopped at exit by the process that started them (also after bench_die). */
static struct {
	pid_t pid, owner;
} daemons[8];

static void stop_daemons(void)
{
	for (size_t i = 0; i < sizeof(daemons) / sizeof(daemons[0]); i++)
		if (daemons[i].pid > 0 && daemons[i].owner == getpid()) {
			kill(daemons[i].pid, SIGKILL);
			waitpid(daemons[i].pid, NULL, 0);
			daemons[i].pid = 0;
		}
}

void bench_daemon_track(pid_t pid, bool on)
{
	static bool registered;

	if (!registered) {
		atexit(stop_daemons);
		registered = true;
	}
	for (size_t i = 0; i < sizeof(daemons) / sizeof(daemons[0]); i++) {
		if (on && daemons[i].pid <= 0) {
			daemons[i].pid = pid;
			daemons[i].owner = getpid();
			return;
		}
		if (!on && daemons[i].pid == pid) {
			daemons[i].pid = 0;
			return;
		}
	}
}

void bench_luod_start(struct bench_luod *d, const char *luod_path, const char *dir)
{
	char state[300], log[300];
	pid_t pid;

	snprintf(d->dir, sizeof(d->dir), "%s", dir);
	snprintf(d->socket, sizeof(d->socket), "%s/luod.sock", dir);
	snprintf(state, sizeof(state), "%s/state", dir);
	snprintf(log, sizeof(log), "%s/luod.log", dir);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		bench_die("mkdir %s: %s", dir, strerror(errno));
	unlink(d->socket);
	pid = fork();
	if (pid < 0)
		bench_die("fork: %s", strerror(errno));
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);
		int out = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		if (null < 0 || out < 0)
			_exit(127);
		dup2(null, 0);
		dup2(out, 1);
		dup2(out, 2);
		execl(luod_path, luod_path, "--socket", d->socket, "--state-dir", state,
		      (char *)NULL);
		_exit(127);
	}
	d->pid = pid;
	bench_daemon_track(pid, true);
	close(bench_luod_open(d));
}

int bench_luod_open(const struct bench_luod *d)
{
	/* luod binds its socket before it serves; 5 s at most */
	for (int i = 0; i < 5000; i++) {
		int fd = luo_open(d->socket);
		int status;

		if (fd >= 0)
			return fd;
		if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
			bench_daemon_track(d->pid, false);
			bench_die("luod exited during start-up (status %d); see %s/luod.log",
				  status, d->dir);
		}
		usleep(1000);
	}
	bench_die("luod did not start serving on %s within 5 s", d->socket);
}

void bench_luod_stop(struct bench_luod *d)
{
	int status;

	if (d->pid <= 0)
		return;
	bench_daemon_track(d->pid, false);
	kill(d->pid, SIGTERM);
	for (int i = 0; i < 5000; i++) {
		if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
			d->pid = -1;
			return;
		}
		usleep(1000);
	}
	kill(d->pid, SIGKILL);
	waitpid(d->pid, &status, 0);
	d->pid = -1;
}

long bench_status_kib(pid_t pid, const char *field)
{
	char path[64], line[256];
	size_t len = strlen(field);
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, len) && line[len] == ':') {
			v = strtol(line + len + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

int bench_make_fd(const char *kind)
{
	int fd;

	if (!strcmp(kind, "memfd")) {
		fd = memfd_create("bench", MFD_CLOEXEC);
	} else if (!strcmp(kind, "socket")) {
		struct sockaddr_in a = { .sin_family = AF_INET,
					 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 8) < 0))
			bench_die("socket on 127.0.0.1: %s", strerror(errno));
	} else if (!strcmp(kind, "socket6")) {
		struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };

		fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 8) < 0))
			bench_die("socket on ::1: %s", strerror(errno));
	} else {
		bench_die("unknown fd kind %s", kind);
	}
	if (fd < 0)
		bench_die("%s: %s", kind, strerror(errno));
	return fd;
}

void bench_make_fds(const char *kind, int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fds[i] = bench_make_fd(kind);
}

void bench_close_fds(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (fds[i] >= 0) {
			close(fds[i]);
			fds[i] = -1;
		}
}

#define PAGE 4096u
#define CHUNK (1u << 20)

static uint64_t pattern(uint64_t off)
{
	return off * 0x9e3779b97f4a7c15ull ^ 0x6c756f2d62656e63ull;
}

int bench_make_touched_memfd(uint64_t size)
{
	int fd = memfd_create("bench-ram", MFD_CLOEXEC);
	char *buf;

	if (fd < 0)
		bench_die("memfd_create: %s", strerror(errno));
	if (ftruncate(fd, (off_t)size) < 0)
		bench_die("ftruncate %llu: %s", (unsigned long long)size, strerror(errno));
	buf = malloc(CHUNK);
	if (!buf)
		bench_die("out of memory");
	memset(buf, 0xa5, CHUNK);
	for (uint64_t off = 0; off < size; off += CHUNK) {
		size_t len = size - off < CHUNK ? (size_t)(size - off) : CHUNK;

		for (size_t p = 0; p < len; p += PAGE) {
			uint64_t v = pattern(off + p);

			memcpy(buf + p, &v, sizeof(v));
		}
		for (size_t done = 0; done < len;) {
			ssize_t w = pwrite(fd, buf + done, len - done, (off_t)(off + done));

			if (w <= 0)
				bench_die("filling the memfd: %s", w < 0 ? strerror(errno) : "short write");
			done += (size_t)w;
		}
	}
	free(buf);
	return fd;
}

bool bench_check_memfd(int fd, uint64_t size)
{
	struct stat st;
	uint64_t pages = size / PAGE;

	if (fstat(fd, &st) < 0 || (uint64_t)st.st_size != size)
		return false;
	for (uint64_t i = 0; i < 65 && pages; i++) {
		uint64_t off = (i == 64 ? pages - 1 : i * pages / 64) * PAGE, v;

		if (pread(fd, &v, sizeof(v), (off_t)off) != sizeof(v) || v != pattern(off))
			return false;
	}
	return true;
}

double bench_json_num(const char *json, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(json, pat);
	if (!p)
		return NAN;
	return strtod(p + strlen(pat), NULL);
}

void bench_luoctl_update(const char *luoctl, const char *socket, struct bench_update *u)
{
	char buf[2048];
	size_t len = 0;
	int pfd[2], status;
	bool have_stdbuf = access("/usr/bin/stdbuf", X_OK) == 0;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		bench_die("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		bench_die("fork: %s", strerror(errno));
	if (pid == 0) {
		dup2(pfd[1], 1);
		/* line-buffered stdout: the JSON line leaves luoctl as soon as it is printed */
		if (have_stdbuf)
			execl("/usr/bin/stdbuf", "stdbuf", "-oL", luoctl, "--socket", socket, "--json",
			      "update", (char *)NULL);
		execl(luoctl, luoctl, "--socket", socket, "--json", "update", (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	for (int i = 0; i < 1000 && len < sizeof(buf) - 1; i++) {
		ssize_t n = read(pfd[0], buf + len, sizeof(buf) - 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		if (memchr(buf, '\n', len))
			break;
	}
	u->t_reply_ns = bench_now_ns();
	buf[len] = '\0';
	close(pfd[0]);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		bench_die("luoctl update failed (status %d): %s", status, buf);
	u->prepare_ms = bench_json_num(buf, "prepare_ms");
	u->freeze_ms = bench_json_num(buf, "freeze_ms");
	u->fdt_write_ms = bench_json_num(buf, "fdt_write_ms");
	u->exec_ms = bench_json_num(buf, "exec_ms");
	u->fdt_parse_ms = bench_json_num(buf, "fdt_parse_ms");
	u->blackout_ms = bench_json_num(buf, "blackout_ms");
	u->fdt_bytes = (uint64_t)bench_json_num(buf, "fdt_bytes");
	u->files = (uint64_t)bench_json_num(buf, "files");
	if (isnan(u->blackout_ms))
		bench_die("luoctl update: no blackout_ms in: %s", buf);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double bench_median(double *v, size_t n)
{
	if (!n)
		return NAN;
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double bench_min(const double *v, size_t n)
{
	double m = NAN;

	for (size_t i = 0; i < n; i++)
		if (isnan(m) || v[i] < m)
			m = v[i];
	return m;
}

uint64_t bench_parse_size(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);

	switch (*end) {
	case 'k': case 'K': v <<= 10; break;
	case 'm': case 'M': v <<= 20; break;
	case 'g': case 'G': v <<= 30; break;
	case '\0': break;
	default: bench_die("bad size %s", s);
	}
	return v;
}

/* ---- the machine's floor ---- */

#define FLOOR_PER_MSG 253 /* SCM_MAX_FD */

static int floor_send(int sock, const int *fds, size_t n)
{
	char cbuf[CMSG_SPACE(sizeof(int) * FLOOR_PER_MSG)];
	char byte = 'f';
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = CMSG_SPACE(sizeof(int) * n) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * n);
	memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
	return sendmsg(sock, &mh, MSG_NOSIGNAL) == 1 ? 0 : -1;
}

/* Up to FLOOR_PER_MSG fds of one message into fds; how many, or -1. */
static ssize_t floor_recv(int sock, int *fds)
{
	char cbuf[CMSG_SPACE(sizeof(int) * FLOOR_PER_MSG)];
	char byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	ssize_t n = 0;

	if (recvmsg(sock, &mh, MSG_CMSG_CLOEXEC) != 1 || (mh.msg_flags & MSG_CTRUNC))
		return -1;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			size_t m = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

			memcpy(fds + n, CMSG_DATA(c), m * sizeof(int));
			n += (ssize_t)m;
		}
	return n;
}

static int floor_move(int sock, const int *fds, size_t n, bool send_them, int *into)
{
	for (size_t i = 0; i < n;) {
		size_t c = n - i < FLOOR_PER_MSG ? n - i : FLOOR_PER_MSG;
		ssize_t k;

		if (send_them) {
			if (floor_send(sock, fds + i, c) < 0)
				return -1;
			i += c;
			continue;
		}
		k = floor_recv(sock, into + i);
		if (k <= 0 || (size_t)k > n - i)
			return -1;
		i += (size_t)k;
	}
	return 0;
}

int bench_floor_child(int argc, char **argv)
{
	int sock, *fds;
	size_t n;

	if (argc != 4 || strcmp(argv[1], "--floor-child"))
		return -1;
	sock = atoi(argv[2]);
	n = strtoul(argv[3], NULL, 10);
	fds = calloc(n ? n : 1, sizeof(*fds));
	char go;

	if (!fds || n > BENCH_MAX_FDS || floor_move(sock, NULL, n, false, fds) < 0 ||
	    recv(sock, &go, 1, 0) != 1 || floor_move(sock, fds, n, true, NULL) < 0)
		return 1;
	return 0;
}

uint64_t bench_floor(const char *self, int *fds, size_t n)
{
	int sv[2], *back = calloc(n, sizeof(*back)), status;
	char fd_arg[16], n_arg[32];
	uint64_t t0, t1;
	pid_t pid;

	if (!back)
		bench_die("out of memory");
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		bench_die("socketpair: %s", strerror(errno));
	snprintf(n_arg, sizeof(n_arg), "%zu", n);
	t0 = bench_now_ns();
	pid = fork();
	if (pid < 0)
		bench_die("fork: %s", strerror(errno));
	if (pid == 0) {
		int s = dup(sv[1]); /* without close-on-exec */

		snprintf(fd_arg, sizeof(fd_arg), "%d", s);
		execl(self, self, "--floor-child", fd_arg, n_arg, (char *)NULL);
		_exit(127);
	}
	close(sv[1]);
	if (floor_move(sv[0], fds, n, true, NULL) < 0)
		bench_die("floor: passing %zu fds to a fresh process failed", n);
	/* ours are closed off the clock (RLIMIT_NOFILE holds 20,000, not 2 x 10,000) */
	t1 = bench_now_ns();
	bench_close_fds(fds, n);
	t0 += bench_now_ns() - t1;
	if (send(sv[0], "g", 1, MSG_NOSIGNAL) != 1 || floor_move(sv[0], NULL, n, false, back) < 0)
		bench_die("floor: getting %zu fds back failed", n);
	t1 = bench_now_ns();
	close(sv[0]);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		bench_die("floor: the helper failed (status %d)", status);
	bench_close_fds(back, n);
	free(back);
	return t1 - t0;
}
