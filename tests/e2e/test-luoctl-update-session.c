// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `luoctl update --session NAME`: one session is frozen and taken from the
 * process that holds it (its handle hangs up) while luod itself stays the
 * same process at the same generation; the next process retrieves it by
 * name with its contents. Under `luoctl exec`, a session handed on this way
 * is left to its successor: the next `luoctl exec` finds the same socket.
 * And the refusals, with their exit codes.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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

static void test_one_session(void **state)
{
	int dev = e2e_open(&d), s = luo_create_session(dev, "one"), other = luo_create_session(dev, "two");
	int fd = memfd_pattern("one", 3 * 4096, 11), h, r;
	struct pollfd p;
	char out[4096], str[64];
	bool incoming;
	enum luo_state st;

	(void)state;
	assert_true(s >= 0 && other >= 0);
	assert_int_equal(luo_session_preserve_fd(s, fd, 1), 0);
	assert_int_equal(luoctl(&d, out, sizeof(out), "update", "--session", "one", "--json", NULL), 0);
	assert_true(e2e_json_valid(out));
	e2e_json_str(out, "session", str, sizeof(str));
	assert_string_equal(str, "one");
	e2e_json_str(out, "state", str, sizeof(str));
	assert_string_equal(str, "frozen");
	assert_int_equal(e2e_json_int(out, "files"), 1);

	/* the holder's handle hung up; the other session and luod itself are untouched */
	p = (struct pollfd){ .fd = s, .events = POLLIN };
	assert_int_equal(poll(&p, 1, 10000), 1);
	assert_true(p.revents & (POLLHUP | POLLIN));
	assert_int_equal(luo_session_get_state(other, &st, &incoming), 0);
	assert_int_equal(st, LUO_STATE_NORMAL);
	assert_int_equal(luod_status_field(&d, "generation"), 0);
	assert_int_equal(luod_status_field(&d, "pid"), d.pid);
	close(s);

	/* the successor takes it by name, contents intact */
	h = luo_retrieve_session(dev, "one");
	assert_true(h >= 0);
	r = luo_session_retrieve_fd(h, 1);
	assert_true(r >= 0);
	assert_true(memfd_pattern_ok(r, 3 * 4096, 11));
	close(r);
	assert_int_equal(luo_session_finish(h), 0);
	close(h);
	close(other);
	close(fd);
	close(dev);
}

static void test_refusals(void **state)
{
	char out[4096];
	int dev = e2e_open(&d), s;

	(void)state;
	assert_int_equal(luoctl(&d, out, sizeof(out), "update", "--session", "nosuch", NULL), 1);
	assert_int_equal(luoctl(&d, out, sizeof(out), "update", "--session", "", NULL), 2);
	assert_int_equal(luoctl(&d, out, sizeof(out), "update", "--session", "a", "--exec",
				"/bin/true", NULL), 2);
	/* an incoming session cannot be handed on again: EINVAL */
	s = luo_create_session(dev, "in");
	assert_true(s >= 0);
	assert_int_equal(luo_session_set_event(s, LUO_EVENT_FREEZE), 0);
	close(s);
	luod_update(&d, NULL);
	assert_int_equal(luoctl(&d, out, sizeof(out), "update", "--session", "in", NULL), 1);
	assert_true(luod_alive(&d));
	close(dev);
}

static void pause_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void read_file(const char *path, char *buf, size_t len)
{
	int fd = -1;
	ssize_t n;

	for (int i = 0; i < 3000 && (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0; i++)
		pause_ms(10);
	assert_true(fd >= 0);
	n = read(fd, buf, len - 1);
	assert_true(n >= 0);
	buf[n] = '\0';
	close(fd);
}

/* luoctl exec leaves a session handed on by update --session to its successor. */
static void test_under_exec(void **state)
{
	char rep[PATH_MAX], stop[PATH_MAX], script[PATH_MAX * 5], first[256], second[256], out[4096];
	pid_t pid;

	(void)state;
	snprintf(rep, sizeof(rep), "%s/report", d.dir);
	snprintf(stop, sizeof(stop), "%s/stop", d.dir);
	snprintf(script, sizeof(script),
		 "readlink /proc/$$/fd/3 > %s.tmp; mv %s.tmp %s; "
		 "while [ ! -e %s ]; do sleep 0.02; done",
		 rep, rep, rep, stop);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char unx[PATH_MAX + 8];

		snprintf(unx, sizeof(unx), "unix:%s/s.sock", d.dir);
		execl(getenv("LUOCTL"), "luoctl", "--socket", d.sock, "exec", "--session", "web",
		      "--create", "--listen", unx, "--", "/bin/sh", "-c", script, (char *)NULL);
		_exit(121);
	}
	read_file(rep, first, sizeof(first));
	assert_non_null(strstr(first, "socket:["));
	assert_int_equal(luoctl(&d, out, sizeof(out), "update", "--session", "web", NULL), 0);
	assert_non_null(strstr(out, "session web: frozen, 1 files"));
	assert_int_equal(creat(stop, 0644) >= 0, 1);
	assert_int_equal(e2e_wait(pid), 0);
	/* held by luod, frozen, as update --session left it */
	assert_int_equal(luoctl(&d, out, sizeof(out), "show", "web", "--json", NULL), 0);
	assert_non_null(strstr(out, "\"state\": \"frozen\""));
	assert_non_null(strstr(out, "\"attached\": false"));

	/* the next run gets the very same socket */
	unlink(rep);
	unlink(stop);
	assert_int_equal(creat(stop, 0644) >= 0, 1);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		execl(getenv("LUOCTL"), "luoctl", "--socket", d.sock, "exec", "--session", "web", "--",
		      "/bin/sh", "-c", script, (char *)NULL);
		_exit(121);
	}
	assert_int_equal(e2e_wait(pid), 0);
	read_file(rep, second, sizeof(second));
	assert_string_equal(first, second);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_setup_teardown(test_one_session, setup, teardown),
	cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
	cmocka_unit_test_setup_teardown(test_under_exec, setup, teardown),
};

LUO_TEST_MAIN("luoctl-update-session", tests, NULL, NULL)
