// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Crash survival, the reproductions of issue 14 with the keeper: each
 * once lost preserved fds or luod's lineage, and must keep everything.
 *  - the keeper killed while luod is idle, a read-only request, then
 *    SIGKILL of luod: luod replaced the keeper at once;
 *  - an idle connection to keeper.sock while luod is SIGKILLed: the new
 *    luod is not kept waiting behind it;
 *  - generation, update count and history after 3 updates and a SIGKILL;
 *  - an old keeper that exits late leaves the new keeper's keeper.pid.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "e2e.h"

#define NSESS 10
#define NPER 2
#define SIZE 8192

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* NSESS frozen sessions held by luod, NPER pattern memfds each, no copy outside luod. */
static void populate(const struct luod_proc *d)
{
	int dev = e2e_open(d);

	for (int i = 0; i < NSESS; i++) {
		char name[16];
		int s, fds[NPER];
		uint64_t tokens[NPER];

		snprintf(name, sizeof(name), "idle%d", i);
		s = luo_create_session(dev, name);
		assert_true(s >= 0);
		for (int j = 0; j < NPER; j++) {
			fds[j] = memfd_pattern(name, SIZE, (uint32_t)(i * NPER + j));
			tokens[j] = (uint64_t)j + 1;
		}
		assert_int_equal(luo_session_preserve_fds(s, fds, tokens, NPER), 0);
		for (int j = 0; j < NPER; j++)
			close(fds[j]);
		assert_int_equal(luo_session_set_event(s, LUO_EVENT_FREEZE), 0);
		close(s);
	}
	e2e_barrier(d);
	close(dev);
}

/* Every session and byte of populate() is there to retrieve; then it is finished. */
static void verify(const struct luod_proc *d)
{
	int dev = e2e_open(d);

	for (int i = 0; i < NSESS; i++) {
		char name[16];
		int s;

		snprintf(name, sizeof(name), "idle%d", i);
		s = luo_retrieve_session(dev, name);
		if (s < 0)
			fail_msg("session %s: %s (log: %s)", name, strerror(-s), d->log);
		for (int j = 0; j < NPER; j++) {
			int fd = luo_session_retrieve_fd(s, (uint64_t)j + 1);

			assert_true(fd >= 0);
			assert_true(memfd_pattern_ok(fd, SIZE, (uint32_t)(i * NPER + j)));
			close(fd);
		}
		assert_int_equal(luo_session_finish(s), 0);
		close(s);
	}
	close(dev);
}

static void test_keeper_death_noticed(void **state)
{
	struct luod_proc d;
	char out[8192], v[16];
	pid_t keeper;

	(void)state;
	luod_start(&d, NULL);
	populate(&d);
	keeper = e2e_keeper_pid(&d);
	assert_true(keeper > 0);
	assert_int_equal(kill(keeper, SIGKILL), 0);
	e2e_wait_gone(keeper);
	/* read-only: nothing is mirrored for it; luod must have noticed by itself */
	assert_int_equal(luoctl(&d, out, sizeof(out), "status", "--json", NULL), 0);
	e2e_barrier(&d);
	assert_int_equal(luoctl(&d, out, sizeof(out), "status", "--json", NULL), 0);
	e2e_json_str(out, "keeper", v, sizeof(v));
	assert_string_equal(v, "ok"); /* replaced */
	assert_true(e2e_json_int(out, "keeper_failures") >= 1); /* and it says so */
	assert_true(e2e_keeper_pid(&d) != keeper);
	e2e_crash(&d);
	e2e_restart(&d);
	assert_int_equal(luod_status_field(&d, "sessions"), NSESS);
	assert_int_equal(luod_status_field(&d, "files"), NSESS * NPER);
	verify(&d);
	luod_stop(&d);
}

static int connect_keeper(const struct luod_proc *d)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	char path[PATH_MAX + 16];

	snprintf(path, sizeof(path), "%s/keeper.sock", d->state_dir);
	assert_true(strlen(path) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, strlen(path) + 1);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static void test_idle_stranger(void **state)
{
	struct luod_proc d;
	int stranger;

	(void)state;
	luod_start(&d, NULL);
	populate(&d);
	assert_true(e2e_keeper_pid(&d) > 0);
	/* a process of luod's uid (root here) connects and sits there */
	stranger = connect_keeper(&d);
	e2e_barrier(&d);
	e2e_crash(&d);
	e2e_restart(&d);
	assert_int_equal(luod_status_field(&d, "sessions"), NSESS);
	assert_int_equal(luod_status_field(&d, "files"), NSESS * NPER);
	verify(&d);
	/* once more with it connected across the crash itself */
	populate(&d);
	close(stranger);
	stranger = connect_keeper(&d);
	e2e_crash(&d);
	e2e_restart(&d);
	assert_int_equal(luod_status_field(&d, "sessions"), NSESS);
	verify(&d);
	close(stranger);
	luod_stop(&d);
}

static void test_lineage_survives(void **state)
{
	struct luod_proc d;
	char out[16384];
	long long gen;
	int dev, s, fd;

	(void)state;
	luod_start(&d, NULL);
	for (int i = 0; i < 3; i++)
		luod_update(&d, NULL);
	dev = e2e_open(&d);
	s = luo_create_session(dev, "kept");
	fd = memfd_pattern("kept", SIZE, 9);
	assert_int_equal(luo_session_preserve_fd(s, fd, 1), 0);
	close(fd);
	assert_int_equal(luo_session_set_event(s, LUO_EVENT_FREEZE), 0);
	close(s);
	e2e_barrier(&d);
	close(dev);
	gen = luod_status_field(&d, "generation");
	assert_int_equal(gen, 3);
	assert_int_equal(luod_status_field(&d, "updates"), 3);
	e2e_crash(&d);
	e2e_restart(&d);
	/* the crash is one more generation (the sessions came back incoming); no update */
	assert_true(luod_status_field(&d, "generation") >= gen);
	assert_int_equal(luod_status_field(&d, "updates"), 3);
	assert_int_equal(luoctl(&d, out, sizeof(out), "history", "--json", NULL), 0);
	assert_non_null(strstr(out, "\"generation\": 1"));
	assert_non_null(strstr(out, "\"generation\": 3"));
	/* and again: a second crash keeps it too */
	e2e_crash(&d);
	e2e_restart(&d);
	assert_int_equal(luod_status_field(&d, "updates"), 3);
	assert_true(luod_status_field(&d, "generation") >= gen);
	assert_int_equal(luoctl(&d, out, sizeof(out), "history", "--json", NULL), 0);
	assert_non_null(strstr(out, "\"generation\": 3"));
	dev = e2e_open(&d);
	s = luo_retrieve_session(dev, "kept");
	assert_true(s >= 0);
	fd = luo_session_retrieve_fd(s, 1);
	assert_true(memfd_pattern_ok(fd, SIZE, 9));
	close(fd);
	assert_int_equal(luo_session_finish(s), 0);
	close(s);
	close(dev);
	luod_stop(&d);
}

/*
 * The old keeper stopped (as if hung) while luod is killed: the new luod
 * gives up on it and starts another; when the old one runs again and
 * leaves, keeper.pid still names the new one.
 */
static void test_old_keeper_leaves_pid_file(void **state)
{
	struct luod_proc d;
	pid_t old, now;

	(void)state;
	luod_start(&d, NULL);
	populate(&d);
	old = e2e_keeper_pid(&d);
	assert_true(old > 0);
	assert_int_equal(kill(old, SIGSTOP), 0);
	e2e_crash(&d);
	e2e_restart(&d); /* its SYNC to the stopped keeper times out (5 s) */
	for (int i = 0; i < 3000 && (now = e2e_keeper_pid(&d)) == old; i++)
		sleep_ms(10);
	assert_true(now > 0 && now != old);
	assert_int_equal(kill(old, SIGCONT), 0);
	e2e_wait_gone(old); /* its socket file is another keeper's now: it exits */
	assert_int_equal(e2e_keeper_pid(&d), now);
	assert_false(e2e_gone(now));
	luod_stop(&d);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_keeper_death_noticed),
	cmocka_unit_test(test_idle_stranger),
	cmocka_unit_test(test_lineage_survives),
	cmocka_unit_test(test_old_keeper_leaves_pid_file),
};

LUO_TEST_MAIN("e2e-survival", tests, NULL, NULL)
