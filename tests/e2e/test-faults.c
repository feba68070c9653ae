// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The fault-injection sweep (needs meson -Dfault_injection=true, else it
 * skips): for every fault point (allocation, sendmsg, recvmsg, handler
 * callbacks, the FDT write, execve) and every occurrence n of it during a
 * global update, luod runs with $LUOD_FAULT=point:n@update under a real
 * participant and two sessions holding a memfd, a pipe with data in it and
 * an eventfd, and `luoctl update` is run. Either the update completes and
 * everything is retrieved intact, or luod is back in NORMAL with both
 * sessions outgoing and holding exactly their files, and exactly the fds it
 * had before (from /proc/PID/fd; less the participant's connection if the
 * fault cut it); a second update then carries everything, checked byte by
 * byte. The sweep of a point ends at the first n that luod no longer
 * reaches ("fault: injecting" absent from its log).
 *
 * The keeper's point is swept from start-up instead: a lost message to the
 * keeper is invisible to clients, and a SIGKILL afterwards still loses
 * nothing, because luod starts a new keeper connection and sends it all.
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

#define MEMFD_SIZE (64 * 1024 + 3)
#define PIPE_DATA "queued before the update"
#define COUNTER 9
#define MAX_NTH 60

#ifdef LUO_FAULT_INJECTION
static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static bool log_has(const struct luod_proc *d, const char *what)
{
	char buf[1 << 16];
	size_t n;
	bool found = false;
	FILE *f = fopen(d->log, "r");

	if (!f)
		return false;
	while (!found && (n = fread(buf, 1, sizeof(buf) - 1, f)) > 0) {
		buf[n] = '\0';
		found = strstr(buf, what) != NULL;
	}
	fclose(f);
	return found;
}

/* A participant that says yes to every event until its connection ends. */
static pid_t participant(const struct luod_proc *d)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		int dev = luo_open(d->sock);

		if (dev < 0 || luo_participant_register(dev, "fp", NULL, 0) < 0)
			_exit(1);
		for (;;) {
			enum luo_event ev;

			if (luo_participant_next_event(dev, &ev, NULL) < 0 ||
			    luo_participant_reply(dev, 0, "p", 1) < 0)
				_exit(0);
		}
	}
	for (int i = 0; i < 500 && luod_status_field(d, "participants") < 1; i++)
		sleep_ms(10);
	assert_int_equal(luod_status_field(d, "participants"), 1);
	return pid;
}

struct world {
	int dev, s1, s2, pipe_w;
};

static void populate(const struct luod_proc *d, struct world *w)
{
	int mfd, p[2], efd, m2;

	w->dev = e2e_open(d);
	w->s1 = luo_create_session(w->dev, "f1");
	w->s2 = luo_create_session(w->dev, "f2");
	assert_true(w->s1 >= 0 && w->s2 >= 0);
	mfd = memfd_pattern("f1", MEMFD_SIZE, 5);
	m2 = memfd_pattern("f2", MEMFD_SIZE, 6);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(write(p[1], PIPE_DATA, strlen(PIPE_DATA)), (ssize_t)strlen(PIPE_DATA));
	efd = eventfd(COUNTER, EFD_CLOEXEC);
	assert_true(efd >= 0);
	assert_int_equal(luo_session_preserve_fd(w->s1, mfd, 1), 0);
	assert_int_equal(luo_session_preserve_fd(w->s1, p[0], 2), 0);
	assert_int_equal(luo_session_preserve_fd(w->s1, efd, 3), 0);
	assert_int_equal(luo_session_preserve_fd(w->s2, m2, 1), 0);
	close(mfd);
	close(m2);
	close(p[0]);
	close(efd);
	w->pipe_w = p[1];
}

/* After a completed update: every file by token, contents checked, sessions finished. */
static void verify_carried(const struct luod_proc *d)
{
	int dev = e2e_open(d), h1, h2, fd;
	char buf[64] = "";
	uint64_t count = 0;

	e2e_assert_state(d, "updated");
	h1 = luo_retrieve_session(dev, "f1");
	h2 = luo_retrieve_session(dev, "f2");
	assert_true(h1 >= 0 && h2 >= 0);
	fd = luo_session_retrieve_fd(h1, 1);
	assert_true(fd >= 0);
	assert_true(memfd_pattern_ok(fd, MEMFD_SIZE, 5));
	close(fd);
	fd = luo_session_retrieve_fd(h1, 2);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, buf, sizeof(buf) - 1), (ssize_t)strlen(PIPE_DATA));
	assert_string_equal(buf, PIPE_DATA);
	close(fd);
	fd = luo_session_retrieve_fd(h1, 3);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, &count, sizeof(count)), (ssize_t)sizeof(count));
	assert_int_equal(count, COUNTER);
	close(fd);
	fd = luo_session_retrieve_fd(h2, 1);
	assert_true(fd >= 0);
	assert_true(memfd_pattern_ok(fd, MEMFD_SIZE, 6));
	close(fd);
	assert_int_equal(luo_session_finish(h1), 0);
	assert_int_equal(luo_session_finish(h2), 0);
	close(h1);
	close(h2);
	close(dev);
}

/* After a failed update: NORMAL, both sessions outgoing with their files, handles alive. */
static void verify_rolled_back(const struct luod_proc *d, const struct world *w)
{
	enum luo_state st;
	bool incoming = true;

	e2e_assert_state(d, "normal");
	assert_int_equal(e2e_session_files(d, "f1"), 3);
	assert_int_equal(e2e_session_files(d, "f2"), 1);
	assert_int_equal(luo_session_get_state(w->s1, &st, &incoming), 0);
	assert_int_equal(st, LUO_STATE_NORMAL);
	assert_false(incoming);
	assert_int_equal(luo_session_get_state(w->s2, &st, &incoming), 0);
	assert_int_equal(st, LUO_STATE_NORMAL);
	/* still preservable: the session is usable, not merely listed */
	assert_int_equal(luo_session_unpreserve_fd(w->s2, 77), -ENOENT);
}

/* One update with the nth occurrence of point failing. Returns whether it fired. */
static bool one(const char *point, int nth)
{
	struct luod_proc d;
	struct world w;
	char env[64], out[512];
	long long parts_before, parts_after;
	int fds_before, fds_after, r, status;
	bool fired;
	pid_t part;

	snprintf(env, sizeof(env), "%s:%d@update", point, nth);
	setenv("LUOD_FAULT", env, 1);
	luod_start(&d, NULL);
	unsetenv("LUOD_FAULT");
	part = participant(&d);
	populate(&d, &w);
	parts_before = luod_status_field(&d, "participants");
	fds_before = e2e_luod_fds(&d);

	r = luoctl(&d, out, sizeof(out), "update", NULL);
	assert_true(luod_alive(&d));
	fired = log_has(&d, "fault: injecting");
	if (r == 0) {
		close(w.s1);
		close(w.s2);
		close(w.dev);
		verify_carried(&d);
	} else {
		assert_true(fired); /* nothing else makes this update fail */
		verify_rolled_back(&d, &w);
		parts_after = luod_status_field(&d, "participants");
		fds_after = e2e_luod_fds(&d);
		if (fds_after != fds_before - (parts_before - parts_after))
			fail_msg("%s:%d: luod has %d fds after the failed update, %d before (participants %lld -> %lld)",
				 point, nth, fds_after, fds_before, parts_before, parts_after);
		/* the fault fired once: the next update carries everything */
		assert_int_equal(luoctl(&d, out, sizeof(out), "update", NULL), 0);
		close(w.s1);
		close(w.s2);
		close(w.dev);
		verify_carried(&d);
	}
	close(w.pipe_w);
	kill(part, SIGKILL);
	waitpid(part, &status, 0);
	luod_stop(&d);
	return fired;
}

static void sweep(const char *point)
{
	int nth;

	for (nth = 1; nth <= MAX_NTH; nth++)
		if (!one(point, nth))
			break;
	/* every point is reached at least once in an update */
	assert_true(nth > 1);
	if (nth > MAX_NTH)
		fail_msg("%s: still firing after %d occurrences", point, MAX_NTH);
	printf("# %s: %d occurrences swept\n", point, nth - 1);
}

/* A message to the keeper lost at start-up, then SIGKILL: nothing is lost. */
static void keeper_sweep(void)
{
	for (int nth = 1; nth <= 6; nth++) {
		struct luod_proc d;
		struct world w;
		char env[32];
		int status;
		pid_t pid;

		snprintf(env, sizeof(env), "keeper:%d", nth);
		setenv("LUOD_FAULT", env, 1);
		luod_start(&d, NULL);
		unsetenv("LUOD_FAULT");
		populate(&d, &w);
		e2e_barrier(&d);
		assert_true(log_has(&d, "fault: injecting keeper"));
		assert_int_equal(kill(d.pid, SIGKILL), 0);
		assert_int_equal(waitpid(d.pid, &status, 0), d.pid);
		close(w.s1);
		close(w.s2);
		close(w.dev);
		/* started again on the same directory, as after a crash */
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			int log = open(d.log, O_WRONLY | O_APPEND);

			if (log >= 0)
				dup2(log, 2);
			execl(getenv("LUOD"), "luod", "--socket", d.sock, "--state-dir", d.state_dir,
			      (char *)NULL);
			_exit(127);
		}
		d.pid = pid;
		for (int i = 0; i < 500; i++) {
			int fd = luo_open(d.sock);

			if (fd >= 0) {
				close(fd);
				break;
			}
			sleep_ms(10);
		}
		verify_carried(&d);
		close(w.pipe_w);
		luod_stop(&d);
	}
}
#else
static void sweep(const char *point)
{
	(void)point;
	skip(); /* built without -Dfault_injection=true */
}

static void keeper_sweep(void)
{
	skip();
}
#endif

static void test_alloc(void **state)
{
	(void)state;
	sweep("alloc");
}

static void test_send(void **state)
{
	(void)state;
	sweep("send");
}

static void test_recv(void **state)
{
	(void)state;
	sweep("recv");
}

static void test_handler(void **state)
{
	(void)state;
	sweep("handler");
}

static void test_fdt(void **state)
{
	(void)state;
	sweep("fdt");
}

static void test_exec(void **state)
{
	(void)state;
	sweep("exec");
}

static void test_keeper(void **state)
{
	(void)state;
	keeper_sweep();
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_alloc),
	cmocka_unit_test(test_send),
	cmocka_unit_test(test_recv),
	cmocka_unit_test(test_handler),
	cmocka_unit_test(test_fdt),
	cmocka_unit_test(test_exec),
	cmocka_unit_test(test_keeper),
};

LUO_TEST_MAIN("e2e-faults", tests, NULL, NULL)
