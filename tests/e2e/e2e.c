// SPDX-License-Identifier: GPL-2.0-or-later
/* Helpers for the end-to-end tests (see e2e.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "e2e.h"
#include "protocol.h"
#include "rpc.h"

int e2e_open(const struct luod_proc *d)
{
	int fd = luo_open(d->sock);

	if (fd < 0)
		fail_msg("luo_open(%s): %s", d->sock, strerror(-fd));
	return fd;
}

/*
 * Requests answered on the connection itself (luo_call_full, no reply channel):
 * luod sends such a reply last, so once it is here everything luod did for
 * earlier requests is done, down to closing their reply channels.
 */
static void round_trips(int fd, int passes)
{
	static struct luo_reply reply;

	for (int i = 0; i < passes; i++)
		assert_int_equal(luo_call_full(fd, LUO_OP_GET_STATE, NULL, 0, NULL, 0, &reply), 0);
}

void e2e_settle(const struct luod_proc *d, int passes)
{
	int fd = e2e_open(d);

	round_trips(fd, passes);
	close(fd);
}

void e2e_barrier(const struct luod_proc *d)
{
	e2e_settle(d, 2);
}

/*
 * Under valgrind (tests/valgrind sets $LUO_UNDER_VALGRIND) a process also
 * holds valgrind's own fds, at the top of the fd range, and valgrind opens
 * and closes some of them as it goes: they are not the process's.
 */
static bool valgrind_fd(const char *name)
{
	static long top = -1;

	if (!getenv("LUO_UNDER_VALGRIND"))
		return false;
	if (top < 0) {
		struct rlimit rl;

		top = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max > 128 ? (long)rl.rlim_max - 64
									      : (long)INT32_MAX;
	}
	return atol(name) >= top;
}

int e2e_luod_fds(const struct luod_proc *d)
{
	char path[64], link[PATH_MAX + 64], target[PATH_MAX];
	struct dirent *e;
	int n = 0, fd = e2e_open(d);
	DIR *dir;

	round_trips(fd, 2);
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)d->pid);
	dir = opendir(path);
	assert_non_null(dir);
	while ((e = readdir(dir))) {
		ssize_t k;

		if (e->d_name[0] == '.' || valgrind_fd(e->d_name))
			continue;
		snprintf(link, sizeof(link), "%s/%s", path, e->d_name);
		k = readlink(link, target, sizeof(target) - 1);
		if (k < 0)
			continue; /* closed meanwhile: one of the state files */
		target[k] = '\0';
		if (!strncmp(target, d->state_dir, strlen(d->state_dir)))
			continue;
		n++;
	}
	closedir(dir);
	close(fd);
	return n - 1; /* the connection above */
}

static uint32_t next(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

void e2e_fill(int fd, size_t size, uint32_t seed)
{
	uint32_t x = seed | 1, *p;

	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	if (!size)
		return;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(p != MAP_FAILED);
	for (size_t i = 0; i < size / 4; i++)
		p[i] = next(&x);
	munmap(p, size);
}

int e2e_own_fd_count(void)
{
	DIR *dir = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	assert_non_null(dir);
	while ((e = readdir(dir)))
		n += e->d_name[0] != '.' && !valgrind_fd(e->d_name);
	closedir(dir);
	return n - 1; /* the DIR's own fd */
}

static const char *json_find(const char *json, const char *key)
{
	char pat[128];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\": ", key);
	p = strstr(json, pat);
	if (!p)
		fail_msg("no \"%s\" in %s", key, json);
	return p + strlen(pat);
}

long long e2e_json_int(const char *json, const char *key)
{
	const char *p = json_find(json, key);
	char *end;
	long long v = strtoll(p, &end, 10);

	if (end == p)
		fail_msg("\"%s\" is not a number in %s", key, json);
	return v;
}

void e2e_json_str(const char *json, const char *key, char *buf, size_t len)
{
	const char *p = json_find(json, key);
	size_t n;

	if (*p != '"')
		fail_msg("\"%s\" is not a string in %s", key, json);
	n = strcspn(p + 1, "\"");
	assert_true(n < len);
	memcpy(buf, p + 1, n);
	buf[n] = '\0';
}

void e2e_assert_sequence(const char *text, const char *key, size_t n, uint64_t (*want)(size_t))
{
	size_t i = 0, klen = strlen(key);

	for (const char *p = strstr(text, key); p && p[klen]; p = strstr(p, key), i++) {
		unsigned long long v;
		char *end;

		p += klen;
		v = strtoull(p, &end, 10);
		assert_true(end != p);
		if (i >= n || v != want(i))
			fail_msg("entry %zu of %zu: %s%llu, want %s%llu", i, n, key, v, key,
				 i < n ? (unsigned long long)want(i) : 0ull);
		p = end;
	}
	if (i != n)
		fail_msg("%zu entries, want %zu", i, n);
}

/* luod's reply bodies are at most LUO_MSG_MAX bytes */
size_t e2e_files_per_page(void)
{
	return (LUO_MSG_MAX - sizeof(struct luo_msg_show_reply)) / sizeof(struct luo_msg_file_info);
}

size_t e2e_sessions_per_page(void)
{
	return (LUO_MSG_MAX - sizeof(struct luo_msg_list_reply)) /
	       sizeof(struct luo_msg_session_info);
}

uint64_t e2e_sparse_token(size_t i)
{
	return i * 7 + 3;
}

int e2e_session_of_many(int dev, const char *name, size_t n)
{
	int s = luo_create_session(dev, name);

	assert_true(s >= 0);
	for (size_t i = 0; i < n; i++) {
		int fd = memfd_pattern(name, i % 5, (uint32_t)i);

		assert_int_equal(luo_session_preserve_fd(s, fd, e2e_sparse_token(i)), 0);
		close(fd);
	}
	return s;
}

/* A small recursive-descent JSON checker: enough to hold luoctl --json to the grammar. */
static const char *json_ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

static const char *json_value(const char *p, int depth);

static const char *json_string_end(const char *p)
{
	if (*p++ != '"')
		return NULL;
	while (*p != '"') {
		if ((unsigned char)*p < 0x20)
			return NULL;
		if (*p == '\\') {
			p++;
			if (*p == 'u') {
				for (int i = 1; i <= 4; i++)
					if (!p[i] || !strchr("0123456789abcdefABCDEF", p[i]))
						return NULL;
				p += 4;
			} else if (!*p || !strchr("\"\\/bfnrt", *p)) {
				return NULL;
			}
		}
		p++;
	}
	return p + 1;
}

static const char *json_number_end(const char *p)
{
	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9')
		while (*p >= '0' && *p <= '9')
			p++;
	else
		return NULL;
	if (*p == '.') {
		if (!(*++p >= '0' && *p <= '9'))
			return NULL;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!(*p >= '0' && *p <= '9'))
			return NULL;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	return p;
}

static const char *json_container(const char *p, int depth, char close, bool object)
{
	p = json_ws(p + 1);
	if (*p == close)
		return p + 1;
	for (;;) {
		if (object) {
			p = json_string_end(p);
			if (!p)
				return NULL;
			p = json_ws(p);
			if (*p++ != ':')
				return NULL;
		}
		p = json_value(p, depth + 1);
		if (!p)
			return NULL;
		p = json_ws(p);
		if (*p == close)
			return p + 1;
		if (*p++ != ',')
			return NULL;
		p = json_ws(p);
	}
}

static const char *json_value(const char *p, int depth)
{
	if (depth > 32)
		return NULL;
	p = json_ws(p);
	switch (*p) {
	case '{':
		return json_container(p, depth, '}', true);
	case '[':
		return json_container(p, depth, ']', false);
	case '"':
		return json_string_end(p);
	case 't':
		return strncmp(p, "true", 4) ? NULL : p + 4;
	case 'f':
		return strncmp(p, "false", 5) ? NULL : p + 5;
	case 'n':
		return strncmp(p, "null", 4) ? NULL : p + 4;
	default:
		return json_number_end(p);
	}
}

bool e2e_json_valid(const char *text)
{
	const char *end = json_value(text, 0);

	return end && *json_ws(end) == '\0';
}

void e2e_assert_state(const struct luod_proc *d, const char *want)
{
	char state[32];

	luod_status_state(d, state, sizeof(state));
	assert_string_equal(state, want);
}

int e2e_session_files(const struct luod_proc *d, const char *name)
{
	char out[65536];

	if (luoctl(d, out, sizeof(out), "show", name, "--json", NULL) != 0)
		return -1;
	return (int)e2e_json_int(out, "files");
}

bool e2e_session_listed(const struct luod_proc *d, const char *name)
{
	char out[65536], pat[LUO_NAME_MAX + 16];

	assert_int_equal(luoctl(d, out, sizeof(out), "sessions", "--json", NULL), 0);
	snprintf(pat, sizeof(pat), "{\"name\": \"%s\",", name);
	return strstr(out, pat) != NULL;
}

void e2e_send_fd(int sock, int fd)
{
	char byte = 'F';

	assert_int_equal(e2e_raw_send(sock, &byte, 1, &fd, 1), 1);
}

ssize_t e2e_raw_send(int sock, const void *data, size_t len, const int *fds, size_t nfds)
{
	static union {
		char buf[CMSG_SPACE(sizeof(int) * LUO_FDS_PER_MSG)];
		struct cmsghdr align;
	} control;
	struct iovec iov = { .iov_base = (void *)data, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

	assert_true(nfds <= LUO_FDS_PER_MSG);
	luo_msg_attach_fds(&msg, control.buf, fds, nfds);
	return sendmsg(sock, &msg, MSG_NOSIGNAL);
}

int e2e_luod_exit_status(const struct luod_proc *d, const char *opt, const char *val)
{
	char sock[PATH_MAX];
	pid_t pid;

	snprintf(sock, sizeof(sock), "%s/other.sock", d->dir);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		execl(getenv("LUOD"), "luod", "--socket", sock, "--state-dir", d->state_dir, opt, val,
		      (char *)NULL);
		_exit(127);
	}
	return e2e_wait(pid);
}

void e2e_crash(struct luod_proc *d)
{
	int status;

	assert_int_equal(kill(d->pid, SIGKILL), 0);
	assert_int_equal(waitpid(d->pid, &status, 0), d->pid);
}

/*
 * Whether d's luod itself listens on d->sock: a connect() alone can reach
 * another process's socket at that path (a socket of the killed luod that
 * some other process still has open: then the new luod took it for
 * another luod serving, and exited).
 */
static bool listens_itself(const struct luod_proc *d)
{
	char path[64], link[64], line[512];
	unsigned long want[16];
	size_t n = 0;
	bool found = false;
	struct dirent *e;
	FILE *f = fopen("/proc/net/unix", "re");
	DIR *dir;

	if (!f)
		return false;
	while (n < 16 && fgets(line, sizeof(line), f)) {
		char bound[PATH_MAX] = "";
		unsigned long flags, inode;

		/* Num RefCount Protocol Flags Type St Inode Path; a listener has __SO_ACCEPTCON */
		if (sscanf(line, "%*s %*s %*s %lx %*s %*s %lu %4095s", &flags, &inode, bound) == 3 &&
		    (flags & 0x10000) && !strcmp(bound, d->sock))
			want[n++] = inode;
	}
	fclose(f);
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)d->pid);
	dir = opendir(path);
	while (dir && !found && (e = readdir(dir))) {
		char fd_path[PATH_MAX];
		unsigned long inode;
		ssize_t k;

		snprintf(fd_path, sizeof(fd_path), "%s/%s", path, e->d_name);
		k = readlink(fd_path, link, sizeof(link) - 1);
		if (k <= 0)
			continue;
		link[k] = '\0';
		if (sscanf(link, "socket:[%lu]", &inode) == 1)
			for (size_t i = 0; i < n && !found; i++)
				found = want[i] == inode;
	}
	if (dir)
		closedir(dir);
	return found;
}

void e2e_restart(struct luod_proc *d)
{
	struct timespec ten_ms = { .tv_nsec = 10 * 1000000L };

	d->pid = fork();
	assert_true(d->pid >= 0);
	if (d->pid == 0) {
		int log = open(d->log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		prctl(PR_SET_PDEATHSIG, SIGKILL); /* as luod_start's: gone with a test that aborts */
		if (log >= 0) {
			dup2(log, 2);
			close(log);
		}
		unsetenv("LUOD_TEST_PAUSE_AT");
		execl(getenv("LUOD"), "luod", "--socket", d->sock, "--state-dir", d->state_dir,
		      (char *)NULL);
		_exit(127);
	}
	/* a loaded machine: up to a minute; luod is watched all along */
	for (int i = 0; i < 6000; i++) {
		int fd = luo_open(d->sock);

		if (fd >= 0) {
			close(fd);
			if (listens_itself(d))
				return;
		}
		assert_true(luod_alive(d));
		nanosleep(&ten_ms, NULL);
	}
	fail_msg("luod did not come back (log: %s)", d->log);
}

pid_t e2e_keeper_pid(const struct luod_proc *d)
{
	struct timespec ten_ms = { .tv_nsec = 10 * 1000000L };
	char path[PATH_MAX + 16];
	int pid = -1;

	snprintf(path, sizeof(path), "%s/keeper.pid", d->state_dir);
	for (int i = 0; i < 3000 && pid < 0; i++) {
		FILE *f = fopen(path, "r");

		if (f) {
			if (fscanf(f, "%d", &pid) != 1)
				pid = -1;
			fclose(f);
		}
		if (pid < 0)
			nanosleep(&ten_ms, NULL);
	}
	return pid;
}

char e2e_proc_state(pid_t pid)
{
	char path[64], buf[512], *p;
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	p = strrchr(buf, ')'); /* the command name may hold spaces */
	return p && p[1] == ' ' ? p[2] : 0;
}

bool e2e_gone(pid_t pid)
{
	char st = e2e_proc_state(pid);

	return st == 0 || st == 'Z' || st == 'X';
}

void e2e_wait_gone(pid_t pid)
{
	struct timespec ten_ms = { .tv_nsec = 10 * 1000000L };

	for (int i = 0; i < 6000 && !e2e_gone(pid); i++)
		nanosleep(&ten_ms, NULL);
	assert_true(e2e_gone(pid));
}

int e2e_recv_fd(int sock)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control;
	char byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = control.buf,
		.msg_controllen = sizeof(control.buf),
	};
	struct cmsghdr *c;
	int fd;

	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1)
		return -1;
	c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(sizeof(int)))
		return -1;
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

int e2e_wait(pid_t pid)
{
	int status;

	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void e2e_drop_to(uid_t uid, gid_t gid)
{
	E2E_CHECK(setgroups(0, NULL) == 0);
	E2E_CHECK(setgid(gid) == 0);
	E2E_CHECK(setuid(uid) == 0);
	E2E_CHECK(getuid() == uid && geteuid() == uid);
	/* after setuid, which clears it: a failed parent must not leave this one waiting */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		_exit(1);
}

pid_t e2e_fork_as(uid_t uid, gid_t gid, void (*fn)(void *), void *arg)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		e2e_drop_to(uid, gid);
		fn(arg);
		_exit(0);
	}
	return pid;
}

int e2e_as_uid(uid_t uid, gid_t gid, void (*fn)(void *), void *arg)
{
	return e2e_wait(e2e_fork_as(uid, gid, fn, arg));
}
