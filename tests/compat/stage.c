// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * compat-stage: a /dev/liveupdate program as the upstream selftests write
 * them — the kernel ABI of <luo/liveupdate.h>, raw open() and ioctl(), libc
 * and nothing of luo. test-compat runs it under LD_PRELOAD=libluo-compat.so,
 * one case per invocation: compat-stage CASE [ARG].
 *
 * Multi-stage cases play the part of a process across kexec: stage 1
 * creates sessions, closes the device, leaves a child holding only the
 * session fds and exits (printing "HOLDER <pid>"); the runner performs the
 * update and kills the holder, as a kexec would; stage 2 is a new process.
 *
 * Exit status 0 is a pass; a failed check prints its line and exits 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "luo/liveupdate.h"

#define DEVICE "/dev/liveupdate"

static const char *stage_case = "?";

/*
 * The transcript, for the differential test against the real kernel
 * (tests/kernel/): with $COMPAT_TRANSCRIPT naming a file, every check and
 * every result the case expects is appended there as "CASE: EXPR = RESULT",
 * in program order, with nothing that varies between runs (no fd numbers,
 * no pids, no line numbers). A run of identical lines is written once and
 * followed by "  (repeated N more times)". In this mode a wrong errno or an
 * unexpected success does not stop the case: it is written down, the case
 * goes on and exits 1 at its end, so the transcript shows everything the
 * other implementation did differently. A failed CHECK still stops it (what
 * follows depends on it). Child processes write nothing: their outcome is
 * in their parent's check of their exit status.
 */
static int tr_fd = -1;
static char tr_last[512];
static unsigned long tr_repeat;
static bool tr_mismatch;

static void tr_write(const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(tr_fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			_exit(3); /* a transcript with holes would compare wrong */
		buf += n;
		len -= (size_t)n;
	}
}

static void tr_flush(void)
{
	char buf[64];
	int n;

	if (tr_fd < 0 || !tr_repeat)
		return;
	n = snprintf(buf, sizeof(buf), "  (repeated %lu more times)\n", tr_repeat);
	tr_write(buf, (size_t)n);
	tr_repeat = 0;
}

static void tr_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void tr_line(const char *fmt, ...)
{
	char line[sizeof(tr_last)];
	int saved = errno, n;
	va_list ap;

	if (tr_fd < 0)
		return;
	n = snprintf(line, sizeof(line), "%s: ", stage_case);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (!strcmp(line, tr_last)) {
		tr_repeat++;
	} else {
		tr_flush();
		strcpy(tr_last, line);
		n = (int)strlen(line);
		line[n++] = '\n';
		tr_write(line, (size_t)n);
	}
	errno = saved;
}

static const char *tr_errno(int err)
{
	const char *name = strerrorname_np(err);

	return name ? name : "E?";
}

static void tr_result(const char *expr, long r, int err)
{
	if (r >= 0)
		tr_line("%s = ok", expr);
	else if (r == -1)
		tr_line("%s = -1 %s", expr, tr_errno(err));
	else
		tr_line("%s = %ld", expr, r);
}

static void tr_open(void)
{
	const char *path = getenv("COMPAT_TRANSCRIPT");

	if (!path || !*path)
		return;
	/* the stage re-executes itself (scm-receiver): only the first image writes */
	unsetenv("COMPAT_TRANSCRIPT");
	tr_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (tr_fd < 0) {
		perror(path);
		exit(2);
	}
}

static void tr_close(void)
{
	tr_flush();
}

/* fork() without a copy of the transcript's state in the child. */
static pid_t tr_fork(void)
{
	pid_t pid;

	tr_flush();
	tr_last[0] = '\0';
	pid = fork();
	if (pid == 0)
		tr_fd = -1;
	return pid;
}

static void failf(int line, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void failf(int line, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "compat-stage %s: line %d: %s\n", stage_case, line, msg);
	tr_line("FAIL %s", msg);
	tr_close();
	exit(1);
}

#define CHECK(cond)                                                                      \
	do {                                                                             \
		if (!(cond))                                                             \
			failf(__LINE__, "check failed: %s (%s)", #cond, tr_errno(errno)); \
		tr_line("check %s", #cond);                                              \
	} while (0)

/* A result other than the expected one: fatal, or noted in a transcript. */
static void mismatch(int line, const char *expr, long r, int err, int want)
{
	if (tr_fd < 0)
		failf(line, "%s: got %ld, errno %d (%s); want %s", expr, r, err, strerror(err),
		      want ? tr_errno(want) : "success");
	fprintf(stderr, "compat-stage %s: line %d: %s: got %ld %s; want %s\n", stage_case, line,
		expr, r, tr_errno(err), want ? tr_errno(want) : "success");
	tr_mismatch = true;
}

/* expr must fail with -1 and errno err. */
#define EXPECT_ERR(expr, err)                                                            \
	do {                                                                             \
		long r_;                                                                 \
		int e_;                                                                  \
		errno = 0;                                                               \
		r_ = (long)(expr);                                                       \
		e_ = errno;                                                              \
		tr_result(#expr, r_, e_);                                                \
		if (r_ != -1 || e_ != (err))                                             \
			mismatch(__LINE__, #expr, r_, e_, (err));                        \
	} while (0)

#define EXPECT_OK(expr)                                                                  \
	do {                                                                             \
		long r_;                                                                 \
		int e_;                                                                  \
		errno = 0;                                                               \
		r_ = (long)(expr);                                                       \
		e_ = errno;                                                              \
		tr_result(#expr, r_, e_);                                                \
		if (r_ < 0)                                                              \
			mismatch(__LINE__, #expr, r_, e_, 0);                            \
	} while (0)

/* ---- the uAPI, raw ---- */

static int dev_open(void)
{
	int fd = open(DEVICE, O_RDWR | O_CLOEXEC);

	CHECK(fd >= 0);
	return fd;
}

static void name_set(__u8 dst[LIVEUPDATE_SESSION_NAME_LENGTH], const char *name)
{
	memset(dst, 0, LIVEUPDATE_SESSION_NAME_LENGTH);
	memcpy(dst, name, strnlen(name, LIVEUPDATE_SESSION_NAME_LENGTH));
}

static int create_session(int dev, const char *name)
{
	struct liveupdate_ioctl_create_session a = { .size = sizeof(a), .fd = -1 };

	name_set(a.name, name);
	if (ioctl(dev, LIVEUPDATE_IOCTL_CREATE_SESSION, &a) < 0)
		return -1;
	return a.fd;
}

static int retrieve_session(int dev, const char *name)
{
	struct liveupdate_ioctl_retrieve_session a = { .size = sizeof(a), .fd = -1 };

	name_set(a.name, name);
	if (ioctl(dev, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, &a) < 0)
		return -1;
	return a.fd;
}

static int preserve(int session, int fd, uint64_t token)
{
	struct liveupdate_session_preserve_fd a = { .size = sizeof(a), .fd = fd, .token = token };

	return ioctl(session, LIVEUPDATE_SESSION_PRESERVE_FD, &a);
}

static int retrieve_fd(int session, uint64_t token)
{
	struct liveupdate_session_retrieve_fd a = { .size = sizeof(a), .fd = -1, .token = token };

	if (ioctl(session, LIVEUPDATE_SESSION_RETRIEVE_FD, &a) < 0)
		return -1;
	return a.fd;
}

static int finish(int session)
{
	struct liveupdate_session_finish a = { .size = sizeof(a) };

	return ioctl(session, LIVEUPDATE_SESSION_FINISH, &a);
}

static void expect_name(int session, const char *want)
{
	struct liveupdate_session_get_name a = { .size = sizeof(a) };

	EXPECT_OK(ioctl(session, LIVEUPDATE_SESSION_GET_NAME, &a));
	CHECK(strnlen((char *)a.name, sizeof(a.name)) < sizeof(a.name));
	tr_line("GET_NAME = \"%s\"", (char *)a.name);
	if (strcmp((char *)a.name, want))
		failf(__LINE__, "GET_NAME: \"%s\", want \"%s\"", (char *)a.name, want);
}

/* ---- memfds with checkable contents ---- */

static uint32_t xorshift(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

static int memfd_pattern(const char *name, size_t size, uint32_t seed)
{
	int fd = memfd_create(name, MFD_CLOEXEC);
	uint32_t x = seed | 1;

	CHECK(fd >= 0);
	CHECK(ftruncate(fd, (off_t)size) == 0);
	if (size) {
		uint32_t *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

		CHECK(p != MAP_FAILED);
		for (size_t i = 0; i < size / 4; i++)
			p[i] = xorshift(&x);
		munmap(p, size);
	}
	return fd;
}

static int memfd_ok(int fd, size_t size, uint32_t seed)
{
	uint32_t x = seed | 1;
	struct stat st;
	int ok = 1;

	if (fstat(fd, &st) < 0 || (size_t)st.st_size != size)
		return 0;
	if (size) {
		uint32_t *p = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);

		if (p == MAP_FAILED)
			return 0;
		for (size_t i = 0; i < size / 4 && ok; i++)
			ok = p[i] == xorshift(&x);
		munmap(p, size);
	}
	return ok;
}

#define STAGE_SKIP 77

/* Room for need fds, or exit STAGE_SKIP: the runner reports the case skipped. */
static void raise_nofile(rlim_t need)
{
	struct rlimit rl;

	CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need) {
		fprintf(stderr, "compat-stage %s: RLIMIT_NOFILE hard limit %llu < %llu\n",
			stage_case, (unsigned long long)rl.rlim_max, (unsigned long long)need);
		tr_line("SKIP RLIMIT_NOFILE");
		tr_close();
		exit(STAGE_SKIP);
	}
	rl.rlim_cur = rl.rlim_max;
	CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
}

/*
 * Stage 1's ending: the device is closed, a child keeps only the session
 * fds (and the memfds), the parent exits. The runner kills the holder after
 * the update; the alarm is a safety net should the runner die first.
 */
static int hold(int dev)
{
	pid_t pid;

	CHECK(close(dev) == 0);
	pid = tr_fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		CHECK(null >= 0);
		CHECK(dup2(null, 1) == 1); /* the runner reads our parent's stdout to EOF */
		alarm(120);
		for (;;)
			pause();
	}
	printf("HOLDER %d\n", (int)pid);
	fflush(stdout);
	return 0;
}

/* ---- single-process cases ---- */

extern int __open_2(const char *, int);
extern int __open64_2(const char *, int);
extern int __openat_2(int, const char *, int);
extern int __openat64_2(int, const char *, int);

/* One holder at a time, through every open entry point, fork and dup. */
static int case_device(void)
{
	int fd, fd2, pipefd[2];
	char c;
	pid_t pid;
	int status;

#define ONE_HOLDER(open_call)                            \
	do {                                             \
		fd = (open_call);                        \
		CHECK(fd >= 0);                          \
		EXPECT_ERR(open_call, EBUSY);            \
		EXPECT_ERR(open(DEVICE, O_RDWR), EBUSY); \
		CHECK(close(fd) == 0);                   \
	} while (0)

	ONE_HOLDER(open(DEVICE, O_RDWR));
	ONE_HOLDER(open64(DEVICE, O_RDWR));
	ONE_HOLDER(openat(AT_FDCWD, DEVICE, O_RDWR));
	ONE_HOLDER(openat64(AT_FDCWD, DEVICE, O_RDWR));
	ONE_HOLDER(__open_2(DEVICE, O_RDWR));
	ONE_HOLDER(__open64_2(DEVICE, O_RDWR));
	ONE_HOLDER(__openat_2(AT_FDCWD, DEVICE, O_RDWR));
	ONE_HOLDER(__openat64_2(AT_FDCWD, DEVICE, O_RDWR));
#undef ONE_HOLDER

	/* O_CLOEXEC is honoured, and its absence too */
	fd = open(DEVICE, O_RDWR | O_CLOEXEC);
	CHECK(fd >= 0 && (fcntl(fd, F_GETFD) & FD_CLOEXEC));
	CHECK(close(fd) == 0);
	fd = open(DEVICE, O_RDWR);
	CHECK(fd >= 0 && !(fcntl(fd, F_GETFD) & FD_CLOEXEC));

	/* a copy keeps it held; closing every copy releases it */
	fd2 = dup(fd);
	CHECK(fd2 >= 0);
	CHECK(close(fd) == 0);
	EXPECT_ERR(open(DEVICE, O_RDWR), EBUSY);
	CHECK(close(fd2) == 0);
	fd = dev_open();

	/* a child's copy after fork holds it too */
	CHECK(pipe(pipefd) == 0);
	pid = tr_fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		close(pipefd[1]);
		if (read(pipefd[0], &c, 1) != 1)
			_exit(2);
		_exit(open(DEVICE, O_RDWR) == -1 && errno == EBUSY ? 0 : 3);
	}
	CHECK(close(pipefd[0]) == 0);
	CHECK(close(fd) == 0);
	EXPECT_ERR(open(DEVICE, O_RDWR), EBUSY); /* the child still holds it */
	CHECK(write(pipefd[1], "x", 1) == 1);
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0); /* EBUSY for the holder itself too */
	CHECK(close(pipefd[1]) == 0);
	fd = dev_open(); /* the child exited: free again */
	CHECK(close(fd) == 0);
	return 0;
}

/* Names: duplicates, bounds, GET_NAME; RETRIEVE_SESSION before any update. */
static int case_sessions(void)
{
	char name63[64];
	int dev = dev_open(), a, b, s;
	struct liveupdate_ioctl_create_session cs = { .size = sizeof(cs) };

	a = create_session(dev, "alpha");
	CHECK(a >= 0);
	CHECK(fcntl(a, F_GETFD) & FD_CLOEXEC);
	EXPECT_ERR(create_session(dev, "alpha"), EEXIST);
	b = create_session(dev, "beta");
	CHECK(b >= 0 && b != a);
	expect_name(a, "alpha");
	expect_name(b, "beta");

	EXPECT_ERR(create_session(dev, ""), EINVAL);
	memset(cs.name, 'x', sizeof(cs.name)); /* all 64 bytes, no NUL */
	EXPECT_ERR(ioctl(dev, LIVEUPDATE_IOCTL_CREATE_SESSION, &cs), EINVAL);
	memset(name63, 'y', 63);
	name63[63] = '\0';
	s = create_session(dev, name63);
	CHECK(s >= 0);
	expect_name(s, name63);

	/* no incoming session of any name yet: how stage 1 tells itself from stage 2 */
	EXPECT_ERR(retrieve_session(dev, "alpha"), ENOENT);
	EXPECT_ERR(retrieve_session(dev, "no-such-session"), ENOENT);
	EXPECT_ERR(retrieve_session(dev, ""), EINVAL);

	/* closing a session's fd ends it: the name is free again */
	CHECK(close(a) == 0);
	a = create_session(dev, "alpha");
	CHECK(a >= 0);

	/* closing the device leaves the sessions alone */
	CHECK(close(dev) == 0);
	expect_name(a, "alpha");
	expect_name(b, "beta");
	dev = dev_open();
	EXPECT_ERR(create_session(dev, "beta"), EEXIST);
	CHECK(close(a) == 0 && close(b) == 0 && close(s) == 0 && close(dev) == 0);
	return 0;
}

/* The ioctl entry rules: numbers, encodings, sizes, reserved fields, faults. */
static int case_abi(void)
{
	struct {
		struct liveupdate_ioctl_create_session cs;
		__u8 tail[24];
	} big;
	struct liveupdate_ioctl_create_session cs = { .size = sizeof(cs) };
	struct liveupdate_session_preserve_fd pf = { .size = sizeof(pf) };
	struct liveupdate_session_get_name gn = { .size = sizeof(gn) };
	struct liveupdate_session_finish fin = { .size = sizeof(fin) };
	struct liveupdate_session_retrieve_fd rf = { .size = sizeof(rf) };
	struct liveupdate_session_get_name *ro;
	int dev = dev_open(), s, m = memfd_pattern("abi", 4096, 7);

	s = create_session(dev, "abi");
	CHECK(s >= 0);

	/* command numbers outside the fd's table: EINVAL */
	EXPECT_ERR(ioctl(dev, _IO(LIVEUPDATE_IOCTL_TYPE, 0x02), &cs), EINVAL);
	EXPECT_ERR(ioctl(dev, _IO(LIVEUPDATE_IOCTL_TYPE, 0x3f), &cs), EINVAL);
	EXPECT_ERR(ioctl(dev, LIVEUPDATE_SESSION_GET_NAME, &gn), EINVAL);
	EXPECT_ERR(ioctl(s, LIVEUPDATE_IOCTL_CREATE_SESSION, &cs), EINVAL);
	EXPECT_ERR(ioctl(s, _IO(LIVEUPDATE_IOCTL_TYPE, 0x3f), &gn), EINVAL);
	EXPECT_ERR(ioctl(s, _IO(LIVEUPDATE_IOCTL_TYPE, 0x45), &gn), EINVAL);
	EXPECT_ERR(ioctl(s, _IO(LIVEUPDATE_IOCTL_TYPE, 0xff), &gn), EINVAL);

	/* a known number encoded otherwise: ENOTTY */
	pf.fd = m;
	pf.token = 1;
	EXPECT_ERR(ioctl(s, _IOW(LIVEUPDATE_IOCTL_TYPE, 0x40, int), &pf), ENOTTY);
	EXPECT_ERR(ioctl(s, _IOWR(LIVEUPDATE_IOCTL_TYPE, 0x43, struct liveupdate_session_get_name),
			 &gn), ENOTTY);
	name_set(cs.name, "enotty");
	EXPECT_ERR(ioctl(dev, _IOWR(LIVEUPDATE_IOCTL_TYPE, 0x00,
				    struct liveupdate_ioctl_create_session), &cs), ENOTTY);

	/* size below the last required field: EINVAL */
	cs.size = sizeof(cs) - 1;
	EXPECT_ERR(ioctl(dev, LIVEUPDATE_IOCTL_CREATE_SESSION, &cs), EINVAL);
	cs.size = 0;
	EXPECT_ERR(ioctl(dev, LIVEUPDATE_IOCTL_CREATE_SESSION, &cs), EINVAL);
	pf.size = 12;
	EXPECT_ERR(ioctl(s, LIVEUPDATE_SESSION_PRESERVE_FD, &pf), EINVAL);
	pf.size = sizeof(pf);
	gn.size = 8;
	EXPECT_ERR(ioctl(s, LIVEUPDATE_SESSION_GET_NAME, &gn), EINVAL);
	gn.size = sizeof(gn);
	fin.size = 4;
	EXPECT_ERR(ioctl(s, LIVEUPDATE_SESSION_FINISH, &fin), EINVAL);
	fin.size = sizeof(fin);

	/* larger than known: fine with a zero tail, E2BIG otherwise, and nothing happens then */
	memset(&big, 0, sizeof(big));
	big.cs.size = sizeof(big);
	name_set(big.cs.name, "bigger");
	big.tail[sizeof(big.tail) - 1] = 1;
	EXPECT_ERR(ioctl(dev, LIVEUPDATE_IOCTL_CREATE_SESSION, &big), E2BIG);
	big.tail[sizeof(big.tail) - 1] = 0;
	big.tail[0] = 0xaa;
	EXPECT_ERR(ioctl(dev, LIVEUPDATE_IOCTL_CREATE_SESSION, &big), E2BIG);
	big.tail[0] = 0;
	EXPECT_OK(ioctl(dev, LIVEUPDATE_IOCTL_CREATE_SESSION, &big));
	CHECK(big.cs.fd >= 0);
	expect_name(big.cs.fd, "bigger");
	for (size_t i = 0; i < sizeof(big.tail); i++)
		CHECK(big.tail[i] == 0); /* only the known part is written back */
	CHECK(close(big.cs.fd) == 0);

	/* reserved fields must be zero */
	gn.reserved = 1;
	EXPECT_ERR(ioctl(s, LIVEUPDATE_SESSION_GET_NAME, &gn), EINVAL);
	gn.reserved = 0;
	EXPECT_OK(ioctl(s, LIVEUPDATE_SESSION_GET_NAME, &gn));

	/* bad pointers fault instead of crashing */
	EXPECT_ERR(ioctl(dev, LIVEUPDATE_IOCTL_CREATE_SESSION, NULL), EFAULT);
	EXPECT_ERR(ioctl(s, LIVEUPDATE_SESSION_GET_NAME, (void *)8), EFAULT);
	ro = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(ro != MAP_FAILED);
	ro->size = sizeof(*ro);
	CHECK(mprotect(ro, 4096, PROT_READ) == 0);
	EXPECT_ERR(ioctl(s, LIVEUPDATE_SESSION_GET_NAME, ro), EFAULT);
	munmap(ro, 4096);

	/* commands that belong to the other direction: EINVAL */
	rf.token = 1;
	EXPECT_ERR(ioctl(s, LIVEUPDATE_SESSION_RETRIEVE_FD, &rf), EINVAL);
	EXPECT_ERR(ioctl(s, LIVEUPDATE_SESSION_FINISH, &fin), EINVAL);

	CHECK(close(m) == 0 && close(s) == 0 && close(dev) == 0);
	return 0;
}

/* Preserving: contents untouched, several files, empty ones, refusals. */
static int case_preserve(void)
{
	int dev = dev_open(), s1, s2, s3, m[4], null;
	static const size_t sizes[4] = { 1 << 20, 0, 4096, 12288 };

	s1 = create_session(dev, "preserve-1");
	s2 = create_session(dev, "preserve-2");
	s3 = create_session(dev, "preserve-3");
	CHECK(s1 >= 0 && s2 >= 0 && s3 >= 0);
	for (int i = 0; i < 4; i++)
		m[i] = memfd_pattern("preserve", sizes[i], 100 + (uint32_t)i);

	EXPECT_OK(preserve(s1, m[0], 10));
	CHECK(memfd_ok(m[0], sizes[0], 100)); /* still the caller's, unchanged */
	EXPECT_OK(preserve(s1, m[2], 12));
	EXPECT_OK(preserve(s2, m[1], 1)); /* an empty memfd beside a non-empty one */
	EXPECT_OK(preserve(s2, m[3], 2));
	for (int i = 0; i < 4; i++)
		CHECK(memfd_ok(m[i], sizes[i], 100 + (uint32_t)i));

	/* the same file again: EBUSY, in the same session or another */
	EXPECT_ERR(preserve(s1, m[0], 11), EBUSY);
	EXPECT_ERR(preserve(s3, m[0], 1), EBUSY);
	/* no handler: ENOENT */
	null = open("/dev/null", O_RDWR);
	CHECK(null >= 0);
	EXPECT_ERR(preserve(s3, null, 5), ENOENT);
	/* our own fds have no handler either */
	EXPECT_ERR(preserve(s3, dev, 6), ENOENT);
	EXPECT_ERR(preserve(s3, s1, 7), ENOENT);
	/* not an fd */
	EXPECT_ERR(preserve(s3, -1, 8), EBADF);
	EXPECT_ERR(preserve(s3, 9999, 8), EBADF);

	/* closing a session unpreserves its files: they can be preserved again */
	CHECK(close(s1) == 0);
	EXPECT_OK(preserve(s3, m[0], 1));
	CHECK(memfd_ok(m[0], sizes[0], 100));

	for (int i = 0; i < 4; i++)
		CHECK(close(m[i]) == 0);
	CHECK(close(null) == 0 && close(s2) == 0 && close(s3) == 0 && close(dev) == 0);
	return 0;
}

/* 2,000 sessions at once, closed cleanly. */
static int case_many_sessions(void)
{
	enum { N = 2000 };
	static int fds[N];
	char name[32];
	int dev = dev_open();

	raise_nofile(N + 64);
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "many-%d", i);
		fds[i] = create_session(dev, name);
		if (fds[i] < 0)
			failf(__LINE__, "session %d: %s", i, strerror(errno));
	}
	expect_name(fds[0], "many-0");
	expect_name(fds[N - 1], "many-1999");
	EXPECT_ERR(create_session(dev, "many-1234"), EEXIST);
	for (int i = 0; i < N; i++)
		CHECK(close(fds[i]) == 0);
	/* all gone: every name is free again */
	for (int i = 0; i < N; i += 250) {
		int s;

		snprintf(name, sizeof(name), "many-%d", i);
		s = create_session(dev, name);
		CHECK(s >= 0);
		CHECK(close(s) == 0);
	}
	CHECK(close(dev) == 0);
	return 0;
}

/* 500 files in one session, closed cleanly. */
static int case_many_files(void)
{
	enum { N = 500 };
	static int m[N];
	int dev = dev_open(), s, s2;

	raise_nofile(N + 64);
	s = create_session(dev, "files");
	CHECK(s >= 0);
	for (int i = 0; i < N; i++) {
		m[i] = memfd_pattern("file", 4096, (uint32_t)i);
		if (preserve(s, m[i], 1000 + (uint64_t)i) < 0)
			failf(__LINE__, "file %d: %s", i, strerror(errno));
	}
	EXPECT_ERR(preserve(s, m[N / 2], 1), EBUSY);
	CHECK(close(s) == 0);
	/* released: each can be preserved again */
	s2 = create_session(dev, "files-again");
	CHECK(s2 >= 0);
	for (int i = 0; i < N; i++) {
		EXPECT_OK(preserve(s2, m[i], (uint64_t)i));
		CHECK(memfd_ok(m[i], 4096, (uint32_t)i));
		CHECK(close(m[i]) == 0);
	}
	CHECK(close(s2) == 0 && close(dev) == 0);
	return 0;
}

static int send_fd(int sock, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	char byte = 'S';
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -1;
}

static int recv_fd(int sock)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	char byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *c;
	int fd;

	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1)
		return -1;
	c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

/* Run in a fresh process by case_handles: it receives a session fd and uses it. */
static int case_scm_receiver(const char *arg)
{
	int sock = atoi(arg), s, m;

	s = recv_fd(sock);
	CHECK(s >= 0);
	EXPECT_ERR(write(s, "garbage!", 8), EINVAL); /* a session fd that came by SCM_RIGHTS */
	expect_name(s, "handles");
	m = memfd_pattern("from-receiver", 8192, 77);
	EXPECT_OK(preserve(s, m, 77));
	/* the sender still holds the device: EBUSY in this process too */
	EXPECT_ERR(open(DEVICE, O_RDWR), EBUSY);
	CHECK(write(sock, "k", 1) == 1);
	return 0;
}

/* Run by case_handles in a new image that inherited session fd ARG across exec. */
static int case_exec_inherited(const char *arg)
{
	int s = atoi(arg);
	char buf[8];

	EXPECT_ERR(write(s, "garbage!", 8), EINVAL);
	EXPECT_ERR(read(s, buf, sizeof(buf)), EINVAL);
	expect_name(s, "handles");
	return 0;
}

/* A device fd this new image got from another process: still the device, held. */
static int dev_copy_checks(int dev)
{
	char buf[8];
	int s;

	EXPECT_ERR(write(dev, "garbage!", 8), EINVAL);
	EXPECT_ERR(read(dev, buf, sizeof(buf)), EINVAL);
	EXPECT_ERR(open(DEVICE, O_RDWR), EBUSY); /* this copy holds it */
	s = create_session(dev, "dev-copy");
	CHECK(s >= 0);
	expect_name(s, "dev-copy");
	CHECK(close(s) == 0);
	return 0;
}

/* Run by case_handles in a new image that inherited device fd ARG across exec. */
static int case_dev_inherited(const char *arg)
{
	return dev_copy_checks(atoi(arg));
}

/* Run by case_handles in a new image that receives a device fd on socket ARG. */
static int case_dev_receiver(const char *arg)
{
	int sock = atoi(arg), dev;

	dev = recv_fd(sock);
	CHECK(dev >= 0);
	if (dev_copy_checks(dev) != 0)
		return 1;
	CHECK(close(dev) == 0);
	CHECK(write(sock, "k", 1) == 1);
	return 0;
}

/* Session fds across dup, fork and SCM_RIGHTS to another process. */
static int case_handles(const char *self)
{
	int dev = dev_open(), s, d, m1, m2, sp[2], status;
	char arg[16], c;
	pid_t pid;

	s = create_session(dev, "handles");
	CHECK(s >= 0);

	d = dup(s);
	CHECK(d >= 0);
	expect_name(d, "handles");
	m1 = memfd_pattern("dup", 4096, 1);
	EXPECT_OK(preserve(d, m1, 1));
	CHECK(close(d) == 0);
	EXPECT_ERR(preserve(s, m1, 2), EBUSY); /* the dup preserved into the same session */

	pid = tr_fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		int m = memfd_pattern("child", 4096, 2);

		expect_name(s, "handles");
		_exit(preserve(s, m, 2) == 0 ? 0 : 1);
	}
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	m2 = memfd_pattern("parent", 4096, 3);
	EXPECT_ERR(preserve(s, m2, 2), EEXIST); /* the child used token 2 */

	/* SCM_RIGHTS to a new process image that has never opened the device */
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0);
	snprintf(arg, sizeof(arg), "%d", sp[1]);
	pid = tr_fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		close(sp[0]);
		execl(self, self, "scm-receiver", arg, (char *)NULL);
		_exit(127);
	}
	CHECK(close(sp[1]) == 0);
	CHECK(send_fd(sp[0], s) == 0);
	CHECK(read(sp[0], &c, 1) == 1);
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	EXPECT_ERR(preserve(s, m2, 77), EEXIST); /* the receiver used token 77 */
	EXPECT_OK(preserve(s, m2, 3));

	/* inherited across exec by a new image: still a session fd, to write() too */
	CHECK(fcntl(s, F_SETFD, 0) == 0);
	snprintf(arg, sizeof(arg), "%d", s);
	pid = tr_fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		execl(self, self, "exec-inherited", arg, (char *)NULL);
		_exit(127);
	}
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);

	/* the device fd inherited across exec: still the device, with no read() or write() */
	CHECK(fcntl(dev, F_SETFD, 0) == 0);
	snprintf(arg, sizeof(arg), "%d", dev);
	pid = tr_fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		execl(self, self, "dev-inherited", arg, (char *)NULL);
		_exit(127);
	}
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	EXPECT_ERR(open(DEVICE, O_RDWR), EBUSY);

	/* the device fd by SCM_RIGHTS to a new image: the same device, held by both */
	CHECK(close(sp[0]) == 0);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0);
	snprintf(arg, sizeof(arg), "%d", sp[1]);
	pid = tr_fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		close(sp[0]);
		execl(self, self, "dev-receiver", arg, (char *)NULL);
		_exit(127);
	}
	CHECK(close(sp[1]) == 0);
	CHECK(send_fd(sp[0], dev) == 0);
	CHECK(read(sp[0], &c, 1) == 1);
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	EXPECT_ERR(open(DEVICE, O_RDWR), EBUSY);

	CHECK(close(sp[0]) == 0 && close(m1) == 0 && close(m2) == 0);
	CHECK(close(s) == 0 && close(dev) == 0);
	return 0;
}

/* ---- where real programs call the uAPI from ---- */

static bool name_is(int session, const char *want)
{
	struct liveupdate_session_get_name a = { .size = sizeof(a) };

	return ioctl(session, LIVEUPDATE_SESSION_GET_NAME, &a) == 0 &&
	       !strcmp((char *)a.name, want);
}

/* RETRIEVE_FD on an outgoing session: EINVAL, an answer no GET_NAME can be taken for. */
static bool retrieve_refused(int session)
{
	return retrieve_fd(session, 1) == -1 && errno == EINVAL;
}

/* Open fds, counted without /proc (the VM's init may not have it everywhere). */
static int fd_count(void)
{
	int n = 0;

	for (int fd = 0; fd < 1024; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			n++;
	return n;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int sig_a = -1, sig_b = -1, sig_memfd = -1;
static volatile sig_atomic_t sig_calls, sig_bad, sig_preserved;

/* A SIGALRM handler that asks both sessions for their names, and once preserves a file. */
static void on_alarm(int sig)
{
	int saved = errno;

	(void)sig;
	if (!name_is(sig_a, "signal-a") || !name_is(sig_b, "signal-b"))
		sig_bad++;
	if (++sig_calls == 50)
		sig_preserved = preserve(sig_a, sig_memfd, 99) == 0 ? 1 : -1;
	errno = saved;
}

/*
 * ioctls from a signal handler that interrupts the program inside its own
 * ioctls, on the same session and on another: every call answers, none
 * waits for the one it interrupted.
 */
static int case_signal(void)
{
	struct sigaction sa = { .sa_handler = on_alarm, .sa_flags = SA_RESTART };
	struct itimerval it = { .it_interval = { 0, 300 }, .it_value = { 0, 300 } };
	struct itimerval off = { { 0, 0 }, { 0, 0 } };
	int dev = dev_open(), bad = 0, m;
	uint64_t deadline = mono_ms() + 60000;

	sig_a = create_session(dev, "signal-a");
	sig_b = create_session(dev, "signal-b");
	CHECK(sig_a >= 0 && sig_b >= 0);
	sig_memfd = memfd_pattern("from-handler", 4096, 99);
	CHECK(sigaction(SIGALRM, &sa, NULL) == 0);
	CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0);
	while (sig_calls < 300 && mono_ms() < deadline) {
		if (!name_is(sig_a, "signal-a") || !retrieve_refused(sig_a) ||
		    !name_is(sig_b, "signal-b"))
			bad++;
	}
	CHECK(setitimer(ITIMER_REAL, &off, NULL) == 0);
	CHECK(sig_calls >= 300);
	CHECK(bad == 0);
	CHECK(sig_bad == 0);
	CHECK(sig_preserved == 1);
	EXPECT_ERR(preserve(sig_b, sig_memfd, 1), EBUSY); /* the handler's preserve holds */
	m = memfd_pattern("after", 0, 0);
	EXPECT_OK(preserve(sig_a, m, 1));
	expect_name(sig_a, "signal-a");
	CHECK(close(m) == 0 && close(sig_memfd) == 0);
	CHECK(close(sig_a) == 0 && close(sig_b) == 0 && close(dev) == 0);
	return 0;
}

static volatile sig_atomic_t worker_calls;

static void *cancel_worker(void *arg)
{
	int s = *(int *)arg;

	for (;;) {
		/* deferred cancellation: at a cancellation point, never inside an ioctl */
		if (!name_is(s, "cancel") || !retrieve_refused(s))
			return (void *)1;
		worker_calls++;
		pthread_testcancel();
	}
}

/* Threads cancelled while they issue ioctls: later ioctls work, nothing is left open. */
static int case_cancel(void)
{
	int dev = dev_open(), s, other, before, m, rounds = 0;
	uint64_t deadline = mono_ms() + 60000;

	s = create_session(dev, "cancel");
	other = create_session(dev, "cancel-other");
	CHECK(s >= 0 && other >= 0);
	before = fd_count();
	for (; rounds < 40 && mono_ms() < deadline; rounds++) {
		pthread_t t;
		void *ret = NULL;

		worker_calls = 0;
		CHECK(pthread_create(&t, NULL, cancel_worker, &s) == 0);
		while (worker_calls < 5 && mono_ms() < deadline)
			if (!name_is(other, "cancel-other"))
				failf(__LINE__, "GET_NAME beside the worker: %s", strerror(errno));
		CHECK(pthread_cancel(t) == 0);
		CHECK(pthread_join(t, &ret) == 0);
		CHECK(ret == PTHREAD_CANCELED);
		if (!name_is(s, "cancel") || !name_is(other, "cancel-other"))
			failf(__LINE__, "GET_NAME after a cancel: %s", strerror(errno));
	}
	CHECK(rounds == 40);
	CHECK(fd_count() == before);
	m = memfd_pattern("cancel", 0, 0);
	EXPECT_OK(preserve(s, m, 1));
	EXPECT_ERR(preserve(other, m, 1), EBUSY);
	expect_name(s, "cancel");
	CHECK(close(m) == 0 && close(s) == 0 && close(other) == 0 && close(dev) == 0);
	return 0;
}

#define SHARED_CALLS 1500

/* In a child: RETRIEVE_FD on the shared session fd, over and over; each must be EINVAL. */
static void shared_child(int s, int go)
{
	char c;
	int bad = 0;

	if (read(go, &c, 1) != 1)
		_exit(2);
	for (int i = 0; i < SHARED_CALLS; i++)
		if (!retrieve_refused(s))
			bad++;
	_exit(bad ? 1 : 0);
}

/* The parent's half: GET_NAME while the child runs RETRIEVE_FD on the same open file. */
static int shared_parent(int s, const char *name, int go, pid_t child)
{
	int bad = 0, status;

	CHECK(write(go, "g", 1) == 1);
	for (int i = 0; i < SHARED_CALLS; i++)
		if (!name_is(s, name))
			bad++;
	CHECK(waitpid(child, &status, 0) == child);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	return bad;
}

/*
 * Two processes issuing commands on one session fd at the same time, one
 * that inherited it by fork and one that got it by SCM_RIGHTS: each call
 * gets its own answer, as the kernel serialises them on the open file.
 */
static int case_shared(void)
{
	int dev = dev_open(), s, go[2], sp[2], m;
	pid_t pid;

	s = create_session(dev, "shared");
	CHECK(s >= 0);
	CHECK(pipe(go) == 0);
	pid = tr_fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		close(go[1]);
		shared_child(s, go[0]);
	}
	CHECK(close(go[0]) == 0);
	CHECK(shared_parent(s, "shared", go[1], pid) == 0);
	CHECK(close(go[1]) == 0);

	/* the same with a child that received the fd, and never had it before */
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0);
	CHECK(pipe(go) == 0);
	pid = tr_fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		int r;

		close(sp[0]);
		close(go[1]);
		close(s);
		r = recv_fd(sp[1]);
		if (r < 0)
			_exit(3);
		shared_child(r, go[0]);
	}
	CHECK(close(sp[1]) == 0 && close(go[0]) == 0);
	CHECK(send_fd(sp[0], s) == 0);
	CHECK(shared_parent(s, "shared", go[1], pid) == 0);
	CHECK(close(go[1]) == 0 && close(sp[0]) == 0);

	/* nothing was left behind for a later call to take */
	expect_name(s, "shared");
	m = memfd_pattern("shared", 0, 0);
	EXPECT_OK(preserve(s, m, 1));
	EXPECT_ERR(preserve(s, m, 2), EBUSY);
	EXPECT_ERR(retrieve_fd(s, 1), EINVAL);
	CHECK(close(m) == 0 && close(s) == 0 && close(dev) == 0);
	return 0;
}

/* A stray read() or write() on our fds fails with EINVAL and changes nothing. */
static int case_stray(void)
{
	struct iovec iov = { .iov_base = "garbage!", .iov_len = 8 };
	int dev = dev_open(), s, d, m, m2;
	char buf[64];

	s = create_session(dev, "stray");
	CHECK(s >= 0);
	EXPECT_ERR(write(s, "garbage!", 8), EINVAL);
	EXPECT_ERR(writev(s, &iov, 1), EINVAL);
	EXPECT_ERR(read(s, buf, sizeof(buf)), EINVAL);
	expect_name(s, "stray");
	m = memfd_pattern("stray", 4096, 7);
	EXPECT_OK(preserve(s, m, 1));
	EXPECT_ERR(preserve(s, m, 2), EBUSY);
	expect_name(s, "stray");
	EXPECT_ERR(write(dev, "garbage!", 8), EINVAL);
	EXPECT_ERR(read(dev, buf, sizeof(buf)), EINVAL);
	/* a copy of the fd is the same file */
	d = dup(s);
	CHECK(d >= 0);
	EXPECT_ERR(write(d, "garbage!", 8), EINVAL);
	CHECK(close(d) == 0);
	/*
	 * The system call itself, past libc: EINVAL on the kernel; under the
	 * layer it reaches luod as a malformed message. Either way the session
	 * goes on as before (its result is not compared).
	 */
	for (int i = 0; i < 1000; i++) {
		(void)syscall(SYS_write, s, "garbage!", 8);
		(void)syscall(SYS_write, dev, "garbage!", 8);
	}
	expect_name(s, "stray");
	d = create_session(dev, "stray-after-raw-writes"); /* the device fd is still one */
	CHECK(d >= 0);
	CHECK(close(d) == 0);
	EXPECT_ERR(preserve(s, m, 3), EBUSY);
	m2 = memfd_pattern("stray2", 0, 0);
	EXPECT_ERR(preserve(s, m2, 1), EEXIST);
	EXPECT_OK(preserve(s, m2, 2));
	EXPECT_ERR(retrieve_fd(s, 1), EINVAL);
	expect_name(s, "stray");
	CHECK(close(m) == 0 && close(m2) == 0 && close(s) == 0 && close(dev) == 0);
	return 0;
}

/* At its fd limit a process still gets answers to commands that make no fd, as from the kernel. */
static int case_fd_limit(void)
{
	struct rlimit old, low;
	int dev = dev_open(), s, m, fill[256], n = 0;

	s = create_session(dev, "fd-limit");
	CHECK(s >= 0);
	m = memfd_pattern("fd-limit", 0, 0);
	CHECK(getrlimit(RLIMIT_NOFILE, &old) == 0);
	low = old;
	low.rlim_cur = (rlim_t)fd_count() + 64;
	CHECK(low.rlim_cur <= old.rlim_max && setrlimit(RLIMIT_NOFILE, &low) == 0);
	while (n < 256 && (fill[n] = dup(0)) >= 0)
		n++;
	CHECK(n < 256 && errno == EMFILE);
	expect_name(s, "fd-limit");
	EXPECT_OK(preserve(s, m, 1));
	EXPECT_ERR(preserve(s, m, 2), EBUSY);
	EXPECT_ERR(retrieve_fd(s, 1), EINVAL);
	expect_name(s, "fd-limit");
	while (n > 0)
		CHECK(close(fill[--n]) == 0);
	CHECK(setrlimit(RLIMIT_NOFILE, &old) == 0);
	expect_name(s, "fd-limit");
	CHECK(close(m) == 0 && close(s) == 0 && close(dev) == 0);
	return 0;
}

/* The device node as a program looks at it: access(), stat(), and an O_PATH open. */
static int case_node(void)
{
	struct stat st;
	struct statx stx;
	int p, p2, fd;

	EXPECT_OK(access(DEVICE, F_OK));
	EXPECT_OK(access(DEVICE, R_OK | W_OK));
	EXPECT_OK(faccessat(AT_FDCWD, DEVICE, R_OK | W_OK, AT_EACCESS));
	EXPECT_OK(stat(DEVICE, &st));
	CHECK(S_ISCHR(st.st_mode));
	EXPECT_OK(lstat(DEVICE, &st));
	CHECK(S_ISCHR(st.st_mode));
	EXPECT_OK(fstatat(AT_FDCWD, DEVICE, &st, 0));
	CHECK(S_ISCHR(st.st_mode));
	EXPECT_OK(statx(AT_FDCWD, DEVICE, 0, STATX_TYPE | STATX_MODE, &stx));
	CHECK(S_ISCHR(stx.stx_mode));

	/* O_PATH runs no open: the device stays free, and an O_PATH open works while it is held */
	p = open(DEVICE, O_PATH | O_CLOEXEC);
	CHECK(p >= 0);
	p2 = open(DEVICE, O_PATH);
	CHECK(p2 >= 0);
	fd = open(DEVICE, O_RDWR | O_CLOEXEC);
	CHECK(fd >= 0);
	EXPECT_ERR(open(DEVICE, O_RDWR), EBUSY);
	CHECK(close(p2) == 0);
	p2 = openat(AT_FDCWD, DEVICE, O_PATH);
	CHECK(p2 >= 0);
	CHECK(close(fd) == 0);
	fd = dev_open();
	CHECK(close(fd) == 0 && close(p) == 0 && close(p2) == 0);
	EXPECT_OK(access(DEVICE, F_OK));
	return 0;
}

/* Other fds and other ioctls are untouched by the layer. */
static int case_passthrough(void)
{
	struct liveupdate_ioctl_create_session cs = { .size = sizeof(cs) };
	struct liveupdate_session_get_name gn = { .size = sizeof(gn) };
	int p[2], sp[2], m, m2, s, dev, avail = 0, on = 1;

	CHECK(pipe(p) == 0);
	CHECK(write(p[1], "hello", 5) == 5);
	EXPECT_OK(ioctl(p[0], FIONREAD, &avail));
	CHECK(avail == 5);
	name_set(cs.name, "pipe");
	EXPECT_ERR(ioctl(p[0], LIVEUPDATE_IOCTL_CREATE_SESSION, &cs), ENOTTY);
	EXPECT_ERR(ioctl(p[0], LIVEUPDATE_SESSION_GET_NAME, &gn), ENOTTY);

	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp) == 0);
	EXPECT_ERR(ioctl(sp[0], LIVEUPDATE_SESSION_GET_NAME, &gn), ENOTTY);
	EXPECT_ERR(ioctl(sp[0], LIVEUPDATE_IOCTL_CREATE_SESSION, &cs), ENOTTY);
	m = memfd_pattern("other", 0, 0);
	EXPECT_ERR(ioctl(m, LIVEUPDATE_SESSION_PRESERVE_FD, &gn), ENOTTY);
	EXPECT_ERR(ioctl(9999, LIVEUPDATE_SESSION_GET_NAME, &gn), EBADF);

	/* the generic fd ioctls work on our fds as on any other */
	dev = dev_open();
	EXPECT_OK(ioctl(dev, FIONCLEX));
	CHECK(!(fcntl(dev, F_GETFD) & FD_CLOEXEC));
	EXPECT_OK(ioctl(dev, FIOCLEX));
	CHECK(fcntl(dev, F_GETFD) & FD_CLOEXEC);

	/* O_NONBLOCK on a session fd does not make its commands fail (ioctls do not block) */
	s = create_session(dev, "nonblocking");
	CHECK(s >= 0);
	EXPECT_OK(ioctl(s, FIONBIO, &on));
	CHECK(fcntl(s, F_GETFL) & O_NONBLOCK);
	for (int i = 0; i < 50; i++)
		expect_name(s, "nonblocking");
	m2 = memfd_pattern("nonblocking", 4096, 4);
	EXPECT_OK(preserve(s, m2, 1));
	CHECK(close(m2) == 0 && close(s) == 0);

	/* a regular file open is a regular file open */
	CHECK(close(m) == 0);
	m = open("/proc/self/status", O_RDONLY);
	CHECK(m >= 0);
	CHECK(close(m) == 0);
	CHECK(close(p[0]) == 0 && close(p[1]) == 0 && close(sp[0]) == 0 && close(sp[1]) == 0);
	CHECK(close(dev) == 0);
	return 0;
}

/* The luo extensions: per-session GET_STATE, SET_EVENT, UNPRESERVE_FD. */
static int case_extensions(void)
{
	struct luo_ioctl_session_get_state st = { .size = sizeof(st) };
	struct luo_ioctl_session_set_event ev = { .size = sizeof(ev) };
	struct luo_ioctl_session_unpreserve_fd up = { .size = sizeof(up) };
	int dev = dev_open(), s, fd, m = memfd_pattern("ext", 4096, 9), m2 = memfd_pattern("ext2", 0, 0);

	s = create_session(dev, "ext");
	CHECK(s >= 0);
	EXPECT_OK(ioctl(s, LUO_IOCTL_SESSION_GET_STATE, &st));
	CHECK(st.incoming == 0 && st.state == LUO_SESSION_STATE_NORMAL);

	EXPECT_OK(preserve(s, m, 1));
	up.token = 2;
	EXPECT_ERR(ioctl(s, LUO_IOCTL_SESSION_UNPRESERVE_FD, &up), ENOENT);
	up.token = 1;
	up.reserved = 1;
	EXPECT_ERR(ioctl(s, LUO_IOCTL_SESSION_UNPRESERVE_FD, &up), EINVAL);
	up.reserved = 0;
	EXPECT_OK(ioctl(s, LUO_IOCTL_SESSION_UNPRESERVE_FD, &up));
	EXPECT_OK(preserve(s, m, 1)); /* free again after UNPRESERVE */

	ev.event = 42;
	EXPECT_ERR(ioctl(s, LUO_IOCTL_SESSION_SET_EVENT, &ev), EINVAL);
	ev.event = LUO_SESSION_EVENT_PREPARE;
	EXPECT_OK(ioctl(s, LUO_IOCTL_SESSION_SET_EVENT, &ev));
	EXPECT_OK(ioctl(s, LUO_IOCTL_SESSION_GET_STATE, &st));
	CHECK(st.state == LUO_SESSION_STATE_PREPARED);
	EXPECT_ERR(ioctl(s, LUO_IOCTL_SESSION_UNPRESERVE_FD, &up), EBUSY); /* only before PREPARE */
	EXPECT_ERR(preserve(s, m2, 2), EBUSY);
	ev.event = LUO_SESSION_EVENT_CANCEL;
	EXPECT_OK(ioctl(s, LUO_IOCTL_SESSION_SET_EVENT, &ev));
	EXPECT_OK(ioctl(s, LUO_IOCTL_SESSION_GET_STATE, &st));
	CHECK(st.state == LUO_SESSION_STATE_NORMAL);
	EXPECT_OK(ioctl(s, LUO_IOCTL_SESSION_UNPRESERVE_FD, &up));

	/* the extensions are session commands: the device does not know them */
	EXPECT_ERR(ioctl(dev, LUO_IOCTL_SESSION_GET_STATE, &st), EINVAL);
	CHECK(close(s) == 0);

	/* a session frozen on its own is handed over by name, without a global update */
	s = create_session(dev, "handoff");
	CHECK(s >= 0);
	EXPECT_OK(preserve(s, m, 1));
	ev.event = LUO_SESSION_EVENT_FREEZE;
	EXPECT_OK(ioctl(s, LUO_IOCTL_SESSION_SET_EVENT, &ev));
	EXPECT_OK(ioctl(s, LUO_IOCTL_SESSION_GET_STATE, &st));
	CHECK(st.state == LUO_SESSION_STATE_FROZEN && !st.incoming);
	EXPECT_ERR(retrieve_session(dev, "handoff"), ENOENT); /* not while its fd is open */
	CHECK(close(s) == 0);
	s = retrieve_session(dev, "handoff");
	CHECK(s >= 0);
	EXPECT_OK(ioctl(s, LUO_IOCTL_SESSION_GET_STATE, &st));
	CHECK(st.state == LUO_SESSION_STATE_UPDATED && st.incoming);
	fd = retrieve_fd(s, 1);
	CHECK(fd >= 0 && memfd_ok(fd, 4096, 9));
	EXPECT_OK(finish(s));
	CHECK(close(fd) == 0 && close(s) == 0);

	CHECK(close(m) == 0 && close(m2) == 0 && close(dev) == 0);
	return 0;
}

/*
 * The ABI spelled with literal numbers and layouts, as a program built
 * against some other copy of the kernel header sees it: nothing of ours.
 */
struct lit_session {
	uint32_t size;
	int32_t fd;
	uint8_t name[64];
};

struct lit_fd {
	uint32_t size;
	int32_t fd;
	uint64_t token __attribute__((aligned(8)));
};

struct lit_name {
	uint32_t size;
	uint32_t reserved;
	uint8_t name[64];
};

static int case_literal(void)
{
	struct lit_session cs = { .size = 72, .fd = -1, .name = "literal" };
	struct lit_session rs = { .size = 72, .fd = -1, .name = "literal" };
	struct lit_name gn = { .size = 72 };
	struct lit_fd pf = { .size = 16, .token = 0x1234 }, rf = { .size = 16, .token = 0x1234 };
	struct { uint32_t size, reserved; } fin = { 8, 0 };
	int dev = dev_open(), m = memfd_pattern("literal", 4096, 5);

	EXPECT_OK(ioctl(dev, 0xBA00, &cs));
	CHECK(cs.fd >= 0);
	pf.fd = m;
	EXPECT_OK(ioctl(cs.fd, 0xBA40, &pf));
	EXPECT_OK(ioctl(cs.fd, 0xBA43, &gn));
	CHECK(!strcmp((char *)gn.name, "literal"));
	EXPECT_ERR(ioctl(cs.fd, 0xBA41, &rf), EINVAL);
	EXPECT_ERR(ioctl(cs.fd, 0xBA42, &fin), EINVAL);
	EXPECT_ERR(ioctl(dev, 0xBA01, &rs), ENOENT);
	EXPECT_ERR(ioctl(cs.fd, 0xC0C8BA43, &gn), ENOTTY); /* _IOWR(0xBA, 0x43, 72 bytes) */
	CHECK(close(m) == 0 && close(cs.fd) == 0 && close(dev) == 0);
	return 0;
}

/* No luod behind it: no device, as on a kernel without LUO. */
static int case_absent(void)
{
	struct stat st;

	EXPECT_ERR(open(DEVICE, O_RDWR), ENOENT);
	EXPECT_ERR(openat(AT_FDCWD, DEVICE, O_RDWR | O_CLOEXEC), ENOENT);
	EXPECT_ERR(open(DEVICE, O_PATH), ENOENT);
	EXPECT_ERR(access(DEVICE, F_OK), ENOENT);
	EXPECT_ERR(stat(DEVICE, &st), ENOENT);
	return 0;
}

/* A character device at /dev/liveupdate is the kernel's: the layer does not step in. */
static int case_kernel(void)
{
	struct liveupdate_ioctl_create_session cs = { .size = sizeof(cs) };
	struct stat st;
	int fd = dev_open(), fd2;

	CHECK(fstat(fd, &st) == 0 && S_ISCHR(st.st_mode));
	fd2 = open(DEVICE, O_RDWR); /* the stand-in driver allows many holders */
	CHECK(fd2 >= 0);
	name_set(cs.name, "kernel");
	EXPECT_ERR(ioctl(fd, LIVEUPDATE_IOCTL_CREATE_SESSION, &cs), ENOTTY);
	CHECK(close(fd2) == 0 && close(fd) == 0);
	return 0;
}

/* ---- across updates ---- */

#define BASIC_FILES 3
static const size_t basic_sizes[BASIC_FILES] = { 1 << 20, 0, 8192 };

static int case_stage1_basic(void)
{
	int dev = dev_open(), a, b, e, u, m;

	/* nothing incoming yet: this is stage 1 */
	EXPECT_ERR(retrieve_session(dev, "multi-a"), ENOENT);

	a = create_session(dev, "multi-a");
	b = create_session(dev, "multi-b");
	e = create_session(dev, "empty");
	u = create_session(dev, "unretrieved");
	CHECK(a >= 0 && b >= 0 && e >= 0 && u >= 0);
	for (int i = 0; i < BASIC_FILES; i++) {
		m = memfd_pattern("multi-a", basic_sizes[i], 10 + (uint32_t)i);
		EXPECT_OK(preserve(a, m, 1 + (uint64_t)i));
		CHECK(memfd_ok(m, basic_sizes[i], 10 + (uint32_t)i));
	}
	m = memfd_pattern("multi-b", 4096, 20);
	EXPECT_OK(preserve(b, m, 100));
	m = memfd_pattern("multi-b", 0, 0);
	EXPECT_OK(preserve(b, m, 200));
	m = memfd_pattern("unretrieved", 4096, 30);
	EXPECT_OK(preserve(u, m, 5));
	return hold(dev);
}

static int case_stage2_basic(void)
{
	struct liveupdate_session_retrieve_into_fd ri = { .size = sizeof(ri) };
	struct liveupdate_session_finish fin = { .size = sizeof(fin) };
	int dev = dev_open(), a, b, e, fd, m;
	long into;

	a = retrieve_session(dev, "multi-a");
	CHECK(a >= 0);
	CHECK(fcntl(a, F_GETFD) & FD_CLOEXEC);
	expect_name(a, "multi-a");
	/* once only */
	EXPECT_ERR(retrieve_session(dev, "multi-a"), EINVAL);
	EXPECT_ERR(retrieve_session(dev, "never-created"), ENOENT);

	for (int i = 0; i < BASIC_FILES; i++) {
		fd = retrieve_fd(a, 1 + (uint64_t)i);
		CHECK(fd >= 0);
		if (!memfd_ok(fd, basic_sizes[i], 10 + (uint32_t)i))
			failf(__LINE__, "token %d: contents differ", 1 + i);
		CHECK(close(fd) == 0);
	}
	/* an unknown token fails, and fails the same way again */
	EXPECT_ERR(retrieve_fd(a, 999), ENOENT);
	EXPECT_ERR(retrieve_fd(a, 999), ENOENT);
	/* incoming sessions take no new files */
	m = memfd_pattern("late", 4096, 1);
	EXPECT_ERR(preserve(a, m, 50), EINVAL);
	fin.reserved = 1;
	EXPECT_ERR(ioctl(a, LIVEUPDATE_SESSION_FINISH, &fin), EINVAL);
	fin.reserved = 0;
	EXPECT_OK(ioctl(a, LIVEUPDATE_SESSION_FINISH, &fin));

	/* RETRIEVE_INTO_FD: into a chosen fd number, replacing what was there */
	b = retrieve_session(dev, "multi-b");
	CHECK(b >= 0);
	ri.fd = m;
	ri.token = 100;
	EXPECT_OK(into = ioctl(b, LIVEUPDATE_SESSION_RETRIEVE_INTO_FD, &ri));
	/* (a kernel without this newer command fails it: a transcript goes on past it) */
	if (into == 0)
		CHECK(memfd_ok(m, 4096, 20));
	ri.token = 12345;
	EXPECT_ERR(ioctl(b, LIVEUPDATE_SESSION_RETRIEVE_INTO_FD, &ri), ENOENT);
	ri.fd = -1;
	ri.token = 100;
	EXPECT_ERR(ioctl(b, LIVEUPDATE_SESSION_RETRIEVE_INTO_FD, &ri), EBADF);
	/* token 200 is never retrieved: FINISH releases it */
	EXPECT_OK(finish(b));

	/* an empty session crossed the update too */
	e = retrieve_session(dev, "empty");
	CHECK(e >= 0);
	expect_name(e, "empty");
	EXPECT_ERR(retrieve_fd(e, 1), ENOENT);
	EXPECT_OK(finish(e));

	/* "unretrieved" is left alone; the next update cleans it up */
	CHECK(close(m) == 0 && close(a) == 0 && close(b) == 0 && close(e) == 0);
	CHECK(close(dev) == 0);
	return 0;
}

static int case_stage3_basic(void)
{
	int dev = dev_open(), s;

	EXPECT_ERR(retrieve_session(dev, "unretrieved"), ENOENT);
	EXPECT_ERR(retrieve_session(dev, "multi-a"), ENOENT);
	EXPECT_ERR(retrieve_session(dev, "empty"), ENOENT);
	s = create_session(dev, "unretrieved"); /* its name is free */
	CHECK(s >= 0);
	CHECK(close(s) == 0 && close(dev) == 0);
	return 0;
}

/* Cycle n: take over what cycle n-1 left, then (unless last) leave something for cycle n+1. */
static int case_cycle(const char *arg, bool last)
{
	int n = atoi(arg), dev = dev_open(), s, fd, m;
	char name[32];

	if (n > 0) {
		snprintf(name, sizeof(name), "cycle-%d", n - 1);
		s = retrieve_session(dev, name);
		CHECK(s >= 0);
		fd = retrieve_fd(s, (uint64_t)n - 1);
		CHECK(fd >= 0);
		CHECK(memfd_ok(fd, 65536, (uint32_t)n - 1));
		EXPECT_OK(finish(s));
		CHECK(close(fd) == 0 && close(s) == 0);
		/* the cycle before was finished: gone */
		snprintf(name, sizeof(name), "cycle-%d", n - 2);
		EXPECT_ERR(retrieve_session(dev, name), ENOENT);
	} else {
		EXPECT_ERR(retrieve_session(dev, "cycle-0"), ENOENT);
	}
	if (last) {
		CHECK(close(dev) == 0);
		return 0;
	}
	snprintf(name, sizeof(name), "cycle-%d", n);
	s = create_session(dev, name);
	CHECK(s >= 0);
	m = memfd_pattern(name, 65536, (uint32_t)n);
	EXPECT_OK(preserve(s, m, (uint64_t)n));
	return hold(dev);
}

static int case_stage1_many(void)
{
	enum { N = 500 };
	int dev = dev_open(), s;

	raise_nofile(N + 64);
	s = create_session(dev, "many-files");
	CHECK(s >= 0);
	for (int i = 0; i < N; i++) {
		int m = memfd_pattern("many", 4096, (uint32_t)i + 1);

		if (preserve(s, m, (uint64_t)i) < 0)
			failf(__LINE__, "file %d: %s", i, strerror(errno));
	}
	return hold(dev);
}

static int case_stage2_many(void)
{
	enum { N = 500 };
	int dev = dev_open(), s;

	raise_nofile(N + 64);
	s = retrieve_session(dev, "many-files");
	CHECK(s >= 0);
	for (int i = N - 1; i >= 0; i--) {
		int fd = retrieve_fd(s, (uint64_t)i);

		if (fd < 0 || !memfd_ok(fd, 4096, (uint32_t)i + 1))
			failf(__LINE__, "file %d: %s", i, fd < 0 ? strerror(errno) : "contents");
		CHECK(close(fd) == 0);
	}
	EXPECT_OK(finish(s));
	CHECK(close(s) == 0 && close(dev) == 0);
	return 0;
}

static int run_case(int argc, char **argv);

int main(int argc, char **argv)
{
	int r;

	if (argc >= 2)
		stage_case = argv[1];
	tr_open();
	r = run_case(argc, argv);
	tr_close();
	return r == 0 && tr_mismatch ? 1 : r;
}

static int run_case(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: compat-stage CASE [ARG]\n");
		return 2;
	}
	stage_case = argv[1];
	signal(SIGPIPE, SIG_IGN);
	if (!strcmp(argv[1], "device"))
		return case_device();
	if (!strcmp(argv[1], "sessions"))
		return case_sessions();
	if (!strcmp(argv[1], "abi"))
		return case_abi();
	if (!strcmp(argv[1], "preserve"))
		return case_preserve();
	if (!strcmp(argv[1], "many-sessions"))
		return case_many_sessions();
	if (!strcmp(argv[1], "many-files"))
		return case_many_files();
	if (!strcmp(argv[1], "handles"))
		return case_handles(argv[0]);
	if (!strcmp(argv[1], "scm-receiver") && argc > 2)
		return case_scm_receiver(argv[2]);
	if (!strcmp(argv[1], "exec-inherited") && argc > 2)
		return case_exec_inherited(argv[2]);
	if (!strcmp(argv[1], "dev-inherited") && argc > 2)
		return case_dev_inherited(argv[2]);
	if (!strcmp(argv[1], "dev-receiver") && argc > 2)
		return case_dev_receiver(argv[2]);
	if (!strcmp(argv[1], "passthrough"))
		return case_passthrough();
	if (!strcmp(argv[1], "signal"))
		return case_signal();
	if (!strcmp(argv[1], "cancel"))
		return case_cancel();
	if (!strcmp(argv[1], "shared"))
		return case_shared();
	if (!strcmp(argv[1], "stray"))
		return case_stray();
	if (!strcmp(argv[1], "node"))
		return case_node();
	if (!strcmp(argv[1], "fd-limit"))
		return case_fd_limit();
	if (!strcmp(argv[1], "extensions"))
		return case_extensions();
	if (!strcmp(argv[1], "literal"))
		return case_literal();
	if (!strcmp(argv[1], "kernel"))
		return case_kernel();
	if (!strcmp(argv[1], "absent"))
		return case_absent();
	if (!strcmp(argv[1], "stage1-basic"))
		return case_stage1_basic();
	if (!strcmp(argv[1], "stage2-basic"))
		return case_stage2_basic();
	if (!strcmp(argv[1], "stage3-basic"))
		return case_stage3_basic();
	if (!strcmp(argv[1], "cycle") && argc > 2)
		return case_cycle(argv[2], false);
	if (!strcmp(argv[1], "cycle-last") && argc > 2)
		return case_cycle(argv[2], true);
	if (!strcmp(argv[1], "stage1-many"))
		return case_stage1_many();
	if (!strcmp(argv[1], "stage2-many"))
		return case_stage2_many();
	fprintf(stderr, "compat-stage: unknown case %s\n", argv[1]);
	return 2;
}
