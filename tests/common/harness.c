// SPDX-License-Identifier: GPL-2.0-or-later
/* The end-to-end test harness (see harness.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "reap.h"

static const char *binary(const char *env, const char *fallback)
{
	const char *p = getenv(env);

	return p && *p ? p : fallback;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

void luod_start(struct luod_proc *d, ...)
{
	char *argv[32];
	int argc = 0, i;
	va_list ap;

	memset(d, 0, sizeof(*d));
	snprintf(d->dir, sizeof(d->dir), "/tmp/luo-test.XXXXXX");
	assert_non_null(mkdtemp(d->dir));
	snprintf(d->sock, sizeof(d->sock), "%s/luod.sock", d->dir);
	snprintf(d->state_dir, sizeof(d->state_dir), "%s/state", d->dir);
	snprintf(d->log, sizeof(d->log), "%s/luod.log", d->dir);
	setenv("LUO_SOCKET", d->sock, 1);
	reap_track_dir(d->dir);

	argv[argc++] = (char *)binary("LUOD", "luod");
	argv[argc++] = "--socket";
	argv[argc++] = d->sock;
	argv[argc++] = "--state-dir";
	argv[argc++] = d->state_dir;
	va_start(ap, d);
	for (char *a; argc < 31 && (a = va_arg(ap, char *));)
		argv[argc++] = a;
	va_end(ap);
	argv[argc] = NULL;

	d->pid = fork();
	assert_true(d->pid >= 0);
	if (d->pid == 0) {
		int log = open(d->log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		/*
		 * A test that aborts must not leave luod (or a process it
		 * forks) holding the runner's stdout pipe: the runner would
		 * wait for EOF until its timeout.
		 */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (log >= 0) {
			dup2(log, 1);
			dup2(log, 2);
			close(log);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	for (i = 0; i < 500; i++) {
		int fd = luo_open(d->sock);

		if (fd >= 0) {
			close(fd);
			return;
		}
		if (!luod_alive(d))
			break;
		sleep_ms(10);
	}
	fail_msg("luod did not come up (log: %s)", d->log);
}

bool luod_alive(const struct luod_proc *d)
{
	return d->pid > 0 && waitpid(d->pid, NULL, WNOHANG) == 0;
}

static void rm_rf(const char *path)
{
	DIR *dir = opendir(path);
	struct dirent *e;

	if (dir) {
		while ((e = readdir(dir))) {
			char sub[PATH_MAX * 2];

			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
			rm_rf(sub);
		}
		closedir(dir);
		rmdir(path);
	} else {
		unlink(path);
	}
}

void luod_stop(struct luod_proc *d)
{
	int status = 0;

	if (d->pid <= 0)
		return;
	kill(d->pid, SIGTERM);
	assert_int_equal(waitpid(d->pid, &status, 0), d->pid);
	d->pid = 0;
	reap_wait_keepers(d->state_dir); /* a clean stop ends the keeper too */
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		char cmd[PATH_MAX + 16];

		snprintf(cmd, sizeof(cmd), "cat %s >&2", d->log);
		if (system(cmd) < 0)
			perror("cat");
		fail_msg("luod did not exit cleanly (status %#x)", status);
	}
	if (!getenv("LUO_TEST_KEEP"))
		rm_rf(d->dir);
}

int luod_fd_count(const struct luod_proc *d)
{
	char path[64];
	struct dirent *e;
	int n = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)d->pid);
	dir = opendir(path);
	assert_non_null(dir);
	while ((e = readdir(dir)))
		n += e->d_name[0] != '.';
	closedir(dir);
	return n;
}

int luoctl(const struct luod_proc *d, char *out, size_t outlen, ...)
{
	char *argv[32];
	int argc = 0, pipefd[2], status;
	size_t used = 0;
	va_list ap;
	pid_t pid;

	argv[argc++] = (char *)binary("LUOCTL", "luoctl");
	argv[argc++] = "--socket";
	argv[argc++] = (char *)d->sock;
	va_start(ap, outlen);
	for (char *a; argc < 31 && (a = va_arg(ap, char *));)
		argv[argc++] = a;
	va_end(ap);
	argv[argc] = NULL;

	assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(pipefd[1], 1);
		execv(argv[0], argv);
		_exit(127);
	}
	close(pipefd[1]);
	for (;;) {
		char buf[4096];
		ssize_t n = read(pipefd[0], buf, sizeof(buf));

		if (n <= 0)
			break;
		if (out && used + 1 < outlen) {
			size_t k = (size_t)n < outlen - used - 1 ? (size_t)n : outlen - used - 1;

			memcpy(out + used, buf, k);
			used += k;
		}
	}
	if (out && outlen)
		out[used] = '\0';
	close(pipefd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void luod_update(struct luod_proc *d, const char *exec_path)
{
	char out[4096];
	int r;

	if (exec_path)
		r = luoctl(d, out, sizeof(out), "update", "--exec", exec_path, NULL);
	else
		r = luoctl(d, out, sizeof(out), "update", NULL);
	if (r != 0)
		fail_msg("luoctl update failed (%d): %s", r, out);
	assert_true(luod_alive(d));
}

static const char *json_find(const char *json, const char *key)
{
	char pat[128];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\": ", key);
	p = strstr(json, pat);
	return p ? p + strlen(pat) : NULL;
}

long long luod_status_field(const struct luod_proc *d, const char *key)
{
	char out[4096];
	const char *p;

	assert_int_equal(luoctl(d, out, sizeof(out), "status", "--json", NULL), 0);
	p = json_find(out, key);
	if (!p)
		fail_msg("no %s in %s", key, out);
	return strtoll(p, NULL, 10);
}

void luod_status_state(const struct luod_proc *d, char *buf, size_t len)
{
	char out[4096];
	const char *p;
	size_t n;

	assert_int_equal(luoctl(d, out, sizeof(out), "status", "--json", NULL), 0);
	p = json_find(out, "state");
	assert_non_null(p);
	assert_true(*p == '"');
	n = strcspn(p + 1, "\"");
	assert_true(n < len);
	memcpy(buf, p + 1, n);
	buf[n] = '\0';
}

static uint32_t next(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

static void *map(int fd, size_t size, int prot)
{
	void *p = mmap(NULL, size, prot, MAP_SHARED, fd, 0);

	assert_true(p != MAP_FAILED);
	return p;
}

int memfd_pattern(const char *name, size_t size, uint32_t seed)
{
	int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	uint32_t x = seed | 1;

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	if (size) {
		uint32_t *p = map(fd, size, PROT_READ | PROT_WRITE);

		for (size_t i = 0; i < size / 4; i++)
			p[i] = next(&x);
		munmap(p, size);
	}
	return fd;
}

bool memfd_pattern_ok(int fd, size_t size, uint32_t seed)
{
	struct stat st;
	uint32_t x = seed | 1;
	bool ok = true;

	if (fstat(fd, &st) < 0 || (size_t)st.st_size != size)
		return false;
	if (size) {
		uint32_t *p = map(fd, size, PROT_READ);

		for (size_t i = 0; i < size / 4 && ok; i++)
			ok = p[i] == next(&x);
		munmap(p, size);
	}
	return ok;
}

/*
 * Each case runs between case_setup() and case_teardown(), which wrap its
 * own fixtures: what it left running is killed once its teardown is done,
 * or before the next case starts if that teardown failed midway.
 */
static struct {
	struct CMUnitTest *cases;
	CMFixtureFunction *setup, *teardown;
	CMFixtureFunction group_setup;
	size_t n, current;
} run;

static int case_setup(void **state)
{
	run.current++;
	reap("an earlier case", false);
	return run.setup[run.current] ? run.setup[run.current](state) : 0;
}

static int case_teardown(void **state)
{
	int r = run.teardown[run.current] ? run.teardown[run.current](state) : 0;

	reap(run.cases[run.current].name, false);
	return r;
}

static int group_setup(void **state)
{
	int r = run.group_setup ? run.group_setup(state) : 0;

	reap_mark(); /* the group's own processes: its teardown's */
	return r;
}

static void reap_at_exit(void)
{
	reap("the test", true);
}

/*
 * meson's timeout: SIGTERM to the test's process group, SIGKILL half a
 * second later. What the test started outside that group (the keeper of
 * a SIGKILLed luod) is killed first. Not async-signal-safe (it reads
 * /proc with stdio); the SIGKILL that follows bounds any harm.
 */
static void reap_on_signal(int sig)
{
	reap("the test, on a signal", true);
	signal(sig, SIG_DFL);
	raise(sig);
}

int luo_test_run(const char *name, const struct CMUnitTest *tests, size_t n,
		 CMFixtureFunction setup, CMFixtureFunction teardown)
{
	const char *filter = getenv("LUO_TEST_FILTER");

	signal(SIGPIPE, SIG_IGN);
	cmocka_set_message_output(CM_OUTPUT_TAP);
	/* its session's leader, if it is not yet (meson makes it one): orphans stay in it */
	if (getsid(0) != getpid())
		setsid();
	run.cases = calloc(n, sizeof(*run.cases));
	run.setup = calloc(n, sizeof(*run.setup));
	run.teardown = calloc(n, sizeof(*run.teardown));
	assert_true(run.cases && run.setup && run.teardown);
	/* one case, or a few, by name (a glob): to run it in a loop */
	for (size_t i = 0; i < n; i++) {
		if (filter && fnmatch(filter, tests[i].name, 0) != 0)
			continue;
		run.cases[run.n] = tests[i];
		run.setup[run.n] = tests[i].setup_func;
		run.teardown[run.n] = tests[i].teardown_func;
		run.cases[run.n].setup_func = case_setup;
		run.cases[run.n].teardown_func = case_teardown;
		run.n++;
	}
	run.current = (size_t)-1;
	run.group_setup = setup;
	reap_mark();
	atexit(reap_at_exit);
	signal(SIGTERM, reap_on_signal);
	signal(SIGINT, reap_on_signal);
	return _cmocka_run_group_tests(name, run.cases, run.n, group_setup, teardown);
}
