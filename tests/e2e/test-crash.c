// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Crash survival: luod is killed with SIGKILL at each named point — idle,
 * half-way through a preserve batch, in PREPARED, in FROZEN, between the
 * FDT write and execve, in the successor before it parses the FDT, and
 * idle after an update — then started again on the same socket and state
 * directory. Every session comes back as an incoming session and every
 * file is retrieved with its contents checked: a memfd's bytes, the data
 * waiting in a pipe, an eventfd's counter. luod stops itself exactly at
 * the point through $LUOD_TEST_PAUSE_AT (SIGSTOP), so the kill is not a
 * race. The keeper holds one copy of each fd, no more (counted in
 * /proc/KEEPER/fd), keeps doing so across a live update, and lets them all
 * go once the sessions are finished. A keeper of the previous protocol
 * version is kept in step as well as the current one.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "e2e.h"

#define MEMFD_SIZE (256 * 1024 + 17)
#define PIPE_DATA "still in the pipe"
#define EVENTFD_COUNT 41

enum { TOK_MEMFD = 1, TOK_PIPE = 2, TOK_EVENTFD = 3, TOK_BATCH1 = 10, TOK_BATCH2 = 11 };

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static int fd_count(pid_t pid)
{
	char path[64], cmd[128];
	FILE *p;
	int n = -1;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	snprintf(cmd, sizeof(cmd), "ls %s | wc -l", path);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	if (fscanf(p, "%d", &n) != 1)
		n = -1;
	pclose(p);
	return n;
}

/* The keeper applies what luod sends in its own time: wait (bounded) for the count. */
static void keeper_fds_become(pid_t keeper, int want)
{
	int n = -1;

	for (int i = 0; i < 300; i++) {
		n = fd_count(keeper);
		if (n == want)
			return;
		sleep_ms(10);
	}
	fail_msg("keeper %d holds %d fds, expected %d", (int)keeper, n, want);
}

/*
 * luod started with env=val (none if val is NULL); its keeper and the fds
 * the keeper holds then. luod_start() returns once luod's socket accepts a
 * connection, which it does (listen backlog) before luod has started its
 * keeper, and keeper.pid is written before the keeper accepts luod's
 * connection: counted then, the base misses that connection by one, and
 * every later count is one over ("holds 8 fds, expected 7"). An answer
 * from luod is the point after which the count is still: luod serves its
 * first request only once its keeper has answered a SYNC on the accepted
 * connection (holder_start() before the server's loop).
 */
static int start_with_keeper(struct luod_proc *d, const char *env, const char *val, pid_t *keeper)
{
	if (val)
		setenv(env, val, 1);
	luod_start(d, NULL);
	unsetenv(env);
	e2e_settle(d, 1);
	*keeper = e2e_keeper_pid(d);
	assert_true(*keeper > 0);
	return fd_count(*keeper);
}

static int pipe_fds[2];

/* Session "work": a memfd, a pipe's read end with data in it, an eventfd. "empty": nothing. */
static void populate(int dev, int *work, int *empty)
{
	int mfd, efd;

	*work = luo_create_session(dev, "work");
	assert_true(*work >= 0);
	*empty = luo_create_session(dev, "empty");
	assert_true(*empty >= 0);
	mfd = memfd_pattern("crash", MEMFD_SIZE, 77);
	assert_int_equal(pipe2(pipe_fds, O_CLOEXEC), 0);
	assert_int_equal(write(pipe_fds[1], PIPE_DATA, strlen(PIPE_DATA)), (ssize_t)strlen(PIPE_DATA));
	efd = eventfd(EVENTFD_COUNT, EFD_CLOEXEC);
	assert_true(efd >= 0);
	assert_int_equal(luo_session_preserve_fd(*work, mfd, TOK_MEMFD), 0);
	assert_int_equal(luo_session_preserve_fd(*work, pipe_fds[0], TOK_PIPE), 0);
	assert_int_equal(luo_session_preserve_fd(*work, efd, TOK_EVENTFD), 0);
	close(mfd);
	close(pipe_fds[0]);
	close(efd);
}

/* Retrieve everything by name and token after the restart and check each file. */
/* with_batch: the half-preserved batch is absent; with_after: TOK_BATCH1 was preserved later. */
static void verify(const struct luod_proc *d, bool with_batch, bool with_after)
{
	int dev = e2e_open(d), h, fd;
	char buf[64] = "";
	uint64_t count = 0;

	e2e_assert_state(d, "updated");
	assert_true(e2e_session_listed(d, "work"));
	assert_true(e2e_session_listed(d, "empty"));
	assert_int_equal(e2e_session_files(d, "work"), with_after ? 4 : 3);
	assert_int_equal(e2e_session_files(d, "empty"), 0);

	h = luo_retrieve_session(dev, "work");
	assert_true(h >= 0);
	fd = luo_session_retrieve_fd(h, TOK_MEMFD);
	assert_true(fd >= 0);
	assert_true(memfd_pattern_ok(fd, MEMFD_SIZE, 77));
	close(fd);
	fd = luo_session_retrieve_fd(h, TOK_PIPE);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, buf, sizeof(buf) - 1), (ssize_t)strlen(PIPE_DATA));
	assert_string_equal(buf, PIPE_DATA);
	close(fd);
	fd = luo_session_retrieve_fd(h, TOK_EVENTFD);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, &count, sizeof(count)), (ssize_t)sizeof(count));
	assert_int_equal(count, EVENTFD_COUNT);
	close(fd);
	if (with_batch) {
		/*
		 * luod died half-way through the batch, before its reply: the
		 * client never heard "preserved", and the batch is not kept,
		 * as a whole (it goes to the keeper in one message, before the
		 * reply); everything preserved before it is
		 */
		assert_int_equal(luo_session_retrieve_fd(h, TOK_BATCH1), -ENOENT);
		assert_int_equal(luo_session_retrieve_fd(h, TOK_BATCH2), -ENOENT);
	}
	if (with_after) {
		fd = luo_session_retrieve_fd(h, TOK_BATCH1);
		assert_true(fd >= 0);
		assert_true(memfd_pattern_ok(fd, 4096, 10));
		close(fd);
	}
	/* once, as after an update */
	assert_int_equal(luo_retrieve_session(dev, "work"), -EINVAL);
	assert_int_equal(luo_session_finish(h), 0);
	close(h);
	h = luo_retrieve_session(dev, "empty");
	assert_true(h >= 0);
	assert_int_equal(luo_session_finish(h), 0);
	close(h);
	e2e_barrier(d);
	e2e_assert_state(d, "normal");
	close(dev);
}

/* Runs in a child: the request that luod stops in the middle of. */
static void action(const struct luod_proc *d, const char *point, int work)
{
	int dev;

	if (!strcmp(point, "preserve")) {
		int fds[2] = { memfd_pattern("b1", 4096, 10), memfd_pattern("b2", 4096, 11) };
		uint64_t toks[2] = { TOK_BATCH1, TOK_BATCH2 };

		luo_session_preserve_fds(work, fds, toks, 2);
	} else if (!strcmp(point, "prepare") || !strcmp(point, "freeze")) {
		dev = luo_open(d->sock);
		luo_set_event(dev, !strcmp(point, "prepare") ? LUO_EVENT_PREPARE : LUO_EVENT_FREEZE);
	} else {
		char out[256];

		luoctl(d, out, sizeof(out), "update", NULL);
	}
	_exit(0);
}

static void crash_at(const char *point)
{
	struct luod_proc d;
	bool idle = !strcmp(point, "idle"), updated = !strcmp(point, "updated");
	int dev, work, empty, status;
	pid_t child = -1, keeper, pid;
	int keeper_base;

	keeper_base = start_with_keeper(&d, "LUOD_TEST_PAUSE_AT", !idle && !updated ? point : NULL,
					&keeper);
	dev = e2e_open(&d);
	populate(dev, &work, &empty);
	/* exactly one more fd per preserved file in the keeper: no double holding */
	keeper_fds_become(keeper, keeper_base + 3);

	if (updated) {
		int before = e2e_luod_fds(&d);

		luod_update(&d, NULL);
		/* luod: the device connection and two session handles dropped, nothing else */
		assert_int_equal(e2e_luod_fds(&d), before - 3);
		close(work);
		close(empty);
		close(dev);
		/* the same keeper, still one copy of each file */
		assert_int_equal(e2e_keeper_pid(&d), keeper);
		keeper_fds_become(keeper, keeper_base + 3);
	} else if (!idle) {
		child = fork();
		assert_true(child >= 0);
		if (child == 0)
			action(&d, point, work);
		/* luod stops itself at the point */
		pid = waitpid(d.pid, &status, WUNTRACED);
		assert_int_equal(pid, d.pid);
		if (!WIFSTOPPED(status))
			fail_msg("luod did not stop at %s (status %#x, log %s)", point, status, d.log);
	}
	assert_int_equal(kill(d.pid, SIGKILL), 0);
	assert_int_equal(waitpid(d.pid, &status, 0), d.pid);
	assert_true(WIFSIGNALED(status));
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}
	if (!updated) {
		close(work);
		close(empty);
		close(dev);
	}

	e2e_restart(&d);
	/* the keeper that held everything serves the new luod */
	assert_int_equal(e2e_keeper_pid(&d), keeper);
	verify(&d, !strcmp(point, "preserve"), false);
	/* finished: the keeper holds nothing more than when it started */
	keeper_fds_become(keeper, keeper_base);
	close(pipe_fds[1]);
	luod_stop(&d);
	/*
	 * a clean stop ends the keeper too: it exits, and is a zombie until
	 * whoever it was orphaned to reaps it (a container's pid 1 took 1.5 to
	 * 2 s; under load it may take more than the 3 s that a wait for
	 * kill(keeper, 0) to fail was given)
	 */
	e2e_wait_gone(keeper);
}

static void test_idle(void **state)
{
	(void)state;
	crash_at("idle");
}

static void test_mid_preserve(void **state)
{
	(void)state;
	crash_at("preserve");
}

static void test_prepare(void **state)
{
	(void)state;
	crash_at("prepare");
}

static void test_freeze(void **state)
{
	(void)state;
	crash_at("freeze");
}

static void test_before_exec(void **state)
{
	(void)state;
	crash_at("exec");
}

static void test_fdt_parse(void **state)
{
	(void)state;
	crash_at("parse");
}

static void test_after_update(void **state)
{
	(void)state;
	crash_at("updated");
}

/* Two crashes in a row: what came back from the keeper is kept again. */
static void test_twice(void **state)
{
	struct luod_proc d;
	int dev, work, empty, status;

	(void)state;
	luod_start(&d, NULL);
	dev = e2e_open(&d);
	populate(dev, &work, &empty);
	for (int round = 0; round < 2; round++) {
		assert_int_equal(kill(d.pid, SIGKILL), 0);
		assert_int_equal(waitpid(d.pid, &status, 0), d.pid);
		if (round == 0) {
			close(work);
			close(empty);
			close(dev);
		}
		e2e_restart(&d);
		assert_int_equal(e2e_session_files(&d, "work"), 3);
	}
	verify(&d, false, false);
	close(pipe_fds[1]);
	luod_stop(&d);
}

/* The pid in "luod[PID]: info: test: pausing at POINT" in d's log, waited for; -1 if none. */
static pid_t paused_pid(const struct luod_proc *d, const char *point)
{
	char pat[64], line[512];
	pid_t pid = -1;

	snprintf(pat, sizeof(pat), "]: info: test: pausing at %s\n", point);
	for (int i = 0; i < 3000 && pid < 0; i++) {
		FILE *f = fopen(d->log, "r");
		int p;

		while (f && fgets(line, sizeof(line), f))
			if (strstr(line, pat) && sscanf(line, "luod[%d]", &p) == 1)
				pid = p;
		if (f)
			fclose(f);
		if (pid < 0)
			sleep_ms(10);
	}
	return pid;
}

/*
 * luod SIGKILLed while the keeper it just started has not run yet
 * (stopped between its fork and its exec; luod waits for its first answer
 * meanwhile): that process holds none of luod's fds, so luod's listening
 * socket dies with luod and the luod started next serves. It used to find
 * the old socket alive in the keeper's process and exit with "another
 * luod is serving". Once that keeper runs it serves the new luod, or,
 * holding nothing, leaves when the dead luod's connection ends and the new
 * luod starts another; either way what the new luod holds survives the
 * next crash.
 */
static void test_keeper_not_started_yet(void **state)
{
	struct luod_proc d;
	int dev, work, empty;
	pid_t keeper;

	(void)state;
	setenv("LUOD_TEST_PAUSE_AT", "keeper-start", 1);
	luod_start(&d, NULL);
	unsetenv("LUOD_TEST_PAUSE_AT");
	keeper = paused_pid(&d, "keeper-start");
	assert_true(keeper > 0);
	for (int i = 0; i < 3000 && e2e_proc_state(keeper) != 'T'; i++)
		sleep_ms(10);
	assert_int_equal(e2e_proc_state(keeper), 'T'); /* stopped */
	e2e_crash(&d);
	e2e_restart(&d);
	assert_int_equal(kill(keeper, SIGCONT), 0);
	dev = e2e_open(&d);
	populate(dev, &work, &empty);
	assert_true(e2e_keeper_pid(&d) > 0);
	e2e_crash(&d);
	close(work);
	close(empty);
	close(dev);
	e2e_restart(&d);
	verify(&d, false, false);
	close(pipe_fds[1]);
	luod_stop(&d);
}

/*
 * The keeper itself killed: luod notices at its next message, starts a
 * new one and sends it everything before it answers, so a SIGKILL of luod
 * right after still loses nothing, the file just preserved included.
 */
static void test_keeper_killed(void **state)
{
	struct luod_proc d;
	int dev, work, empty, status, fd;
	pid_t keeper, keeper2;

	(void)state;
	luod_start(&d, NULL);
	keeper = e2e_keeper_pid(&d);
	assert_true(keeper > 0);
	dev = e2e_open(&d);
	populate(dev, &work, &empty);
	assert_int_equal(kill(keeper, SIGKILL), 0);
	/* not our child: wait until it is dead (its fds closed; reaped or not) */
	e2e_wait_gone(keeper);
	fd = memfd_pattern("after", 4096, 10);
	assert_int_equal(luo_session_preserve_fd(work, fd, TOK_BATCH1), 0);
	close(fd);
	keeper2 = e2e_keeper_pid(&d);
	for (int i = 0; i < 500 && keeper2 == keeper; i++) {
		sleep_ms(10);
		keeper2 = e2e_keeper_pid(&d);
	}
	assert_true(keeper2 > 0 && keeper2 != keeper);

	assert_int_equal(kill(d.pid, SIGKILL), 0);
	assert_int_equal(waitpid(d.pid, &status, 0), d.pid);
	close(work);
	close(empty);
	close(dev);
	e2e_restart(&d);
	verify(&d, false, true);
	close(pipe_fds[1]);
	luod_stop(&d);
}

/* A keeper nobody can reach any more (its socket file removed) does not linger. */
static void test_unreachable_keeper_exits(void **state)
{
	struct luod_proc d;
	char path[PATH_MAX + 16];
	int dev, work, empty, status;
	pid_t keeper;

	(void)state;
	luod_start(&d, NULL);
	keeper = e2e_keeper_pid(&d);
	assert_true(keeper > 0);
	dev = e2e_open(&d);
	populate(dev, &work, &empty);
	assert_int_equal(kill(d.pid, SIGKILL), 0);
	assert_int_equal(waitpid(d.pid, &status, 0), d.pid);
	d.pid = 0;
	/* it holds the files of a dead luod and waits for the next one... */
	sleep_ms(50);
	assert_false(e2e_gone(keeper));
	/* ...until its socket file is gone: then no luod can ever find it */
	snprintf(path, sizeof(path), "%s/keeper.sock", d.state_dir);
	assert_int_equal(unlink(path), 0);
	e2e_wait_gone(keeper); /* exited: reaped or still a zombie of pid 1 */
	close(work);
	close(empty);
	close(dev);
	close(pipe_fds[1]);
	snprintf(path, sizeof(path), "rm -rf '%s'", d.dir);
	assert_int_equal(system(path), 0);
}

/*
 * A keeper of the previous protocol (version 1: no DELV), as luod may find
 * across its execve: files dropped in a batch (a preserve batch undone by
 * its last file, in a session that stays; a session finished; a session
 * closed in NORMAL) are dropped from it all the same, before and after a
 * live update, and after a SIGKILL only what is still held comes back.
 * Version 2 (DELV) the same way. The stand-in for the old keeper is this
 * build's, made to speak version 1 ($LUOD_KEEPER_PROTO, fault injection
 * builds only).
 */
#define DROP_FILES 600 /* three preserve messages, one DELV */
#define KEEP_FILES 5
#define UNDONE_FILES 200 /* one message: luod undoes its first 199 */

static void preserve_many(int s, int n, uint32_t seed)
{
	int fds[DROP_FILES];
	uint64_t toks[DROP_FILES];

	for (int i = 0; i < n; i++) {
		fds[i] = memfd_pattern("v", 4096, seed + (uint32_t)i);
		assert_true(fds[i] >= 0);
		toks[i] = (uint64_t)i + 1;
	}
	assert_int_equal(luo_session_preserve_fds(s, fds, toks, (size_t)n), 0);
	for (int i = 0; i < n; i++)
		close(fds[i]);
}

/* A batch whose last token repeats its first: refused, the 199 before it undone. */
static void undone_batch(int s, uint32_t seed)
{
	int fds[UNDONE_FILES];
	uint64_t toks[UNDONE_FILES];

	for (int i = 0; i < UNDONE_FILES; i++) {
		fds[i] = memfd_pattern("u", 4096, seed + (uint32_t)i);
		assert_true(fds[i] >= 0);
		toks[i] = 1000 + (uint64_t)i;
	}
	toks[UNDONE_FILES - 1] = toks[0];
	assert_int_equal(luo_session_preserve_fds(s, fds, toks, UNDONE_FILES), -EEXIST);
	for (int i = 0; i < UNDONE_FILES; i++)
		close(fds[i]);
}

/* A frozen session of n files, its handle closed: held for retrieval by name. */
static void held_session(int dev, const char *name, int n, uint32_t seed)
{
	int s = luo_create_session(dev, name);

	assert_true(s >= 0);
	preserve_many(s, n, seed);
	assert_int_equal(luo_session_set_event(s, LUO_EVENT_FREEZE), 0);
	close(s);
}

static void keeper_version(const char *proto)
{
	struct luod_proc d;
	int dev, s, status, base;
	pid_t keeper;

	base = start_with_keeper(&d, "LUOD_KEEPER_PROTO", proto, &keeper);
	dev = e2e_open(&d);
	s = luo_create_session(dev, "keep");
	assert_true(s >= 0);
	preserve_many(s, KEEP_FILES, 100);
	undone_batch(s, 3000);
	keeper_fds_become(keeper, base + KEEP_FILES);
	assert_int_equal(luo_session_set_event(s, LUO_EVENT_FREEZE), 0);
	close(s);
	held_session(dev, "drop1", DROP_FILES, 1000);
	e2e_barrier(&d);
	keeper_fds_become(keeper, base + KEEP_FILES + DROP_FILES);
	/* retrieved by name and finished: every file dropped in one request */
	s = luo_retrieve_session(dev, "drop1");
	assert_true(s >= 0);
	assert_int_equal(luo_session_finish(s), 0);
	close(s);
	keeper_fds_become(keeper, base + KEEP_FILES);

	/* the successor finds the same keeper and asks its version again */
	luod_update(&d, NULL);
	close(dev);
	assert_int_equal(e2e_keeper_pid(&d), keeper);
	dev = e2e_open(&d);
	s = luo_retrieve_session(dev, "keep");
	assert_true(s >= 0);
	assert_int_equal(luo_session_renew(s), 0);
	undone_batch(s, 4000);
	keeper_fds_become(keeper, base + KEEP_FILES);
	assert_int_equal(luo_session_set_event(s, LUO_EVENT_FREEZE), 0);
	close(s);
	/* closed in NORMAL: every file unpreserved in one request */
	s = luo_create_session(dev, "drop2");
	assert_true(s >= 0);
	preserve_many(s, DROP_FILES, 2000);
	keeper_fds_become(keeper, base + KEEP_FILES + DROP_FILES);
	close(s);
	e2e_barrier(&d);
	keeper_fds_become(keeper, base + KEEP_FILES);

	assert_int_equal(kill(d.pid, SIGKILL), 0);
	assert_int_equal(waitpid(d.pid, &status, 0), d.pid);
	close(dev);
	e2e_restart(&d);
	assert_int_equal(e2e_keeper_pid(&d), keeper);
	assert_false(e2e_session_listed(&d, "drop1"));
	assert_false(e2e_session_listed(&d, "drop2"));
	assert_int_equal(e2e_session_files(&d, "keep"), KEEP_FILES);
	dev = e2e_open(&d);
	s = luo_retrieve_session(dev, "keep");
	assert_true(s >= 0);
	for (int i = 0; i < KEEP_FILES; i++) {
		int fd = luo_session_retrieve_fd(s, (uint64_t)i + 1);

		assert_true(fd >= 0);
		assert_true(memfd_pattern_ok(fd, 4096, 100 + (uint32_t)i));
		close(fd);
	}
	assert_int_equal(luo_session_finish(s), 0);
	close(s);
	close(dev);
	keeper_fds_become(keeper, base);
	luod_stop(&d);
}

static void test_keeper_v1(void **state)
{
	(void)state;
#ifdef LUO_FAULT_INJECTION
	keeper_version("1");
#else
	skip(); /* the version 1 stand-in needs a build with fault injection */
#endif
}

static void test_keeper_v2(void **state)
{
	(void)state;
	keeper_version(NULL);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_idle),
	cmocka_unit_test(test_mid_preserve),
	cmocka_unit_test(test_prepare),
	cmocka_unit_test(test_freeze),
	cmocka_unit_test(test_before_exec),
	cmocka_unit_test(test_fdt_parse),
	cmocka_unit_test(test_after_update),
	cmocka_unit_test(test_twice),
	cmocka_unit_test(test_keeper_not_started_yet),
	cmocka_unit_test(test_keeper_killed),
	cmocka_unit_test(test_unreachable_keeper_exits),
	cmocka_unit_test(test_keeper_v1),
	cmocka_unit_test(test_keeper_v2),
};

LUO_TEST_MAIN("e2e-crash", tests, NULL, NULL)
