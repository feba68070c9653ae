// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Participants end to end: real processes register with a real luod, get
 * PREPARE/FREEZE/CANCEL/FINISH, fail them, miss deadlines, disconnect, and
 * get their payload back after `luoctl update`.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static struct luod_proc d;

enum behaviour {
	OK,             /* answer everything with 0 */
	FAIL_PREPARE,   /* -EAGAIN to PREPARE */
	FAIL_FREEZE,    /* -EIO to FREEZE */
	SILENT_FREEZE,  /* never answer FREEZE */
	EXIT_PREPARE,   /* exit on PREPARE */
	PAYLOAD_FREEZE, /* store "state-of-<name>" with FREEZE */
};

struct child {
	pid_t pid;
	int events; /* read end: one line per event, "<name> <event>" */
};

static const char *event_word(enum luo_event e)
{
	static const char *const w[] = { "prepare", "freeze", "cancel", "finish" };

	return w[e];
}

static void participant_main(const char *name, enum behaviour b, int out)
{
	char payload[64];
	int dev = luo_open(d.sock), r;

	if (dev < 0)
		_exit(10);
	r = luo_participant_register(dev, name, payload, sizeof(payload));
	dprintf(out, "%s registered %d\n", name, r);
	for (;;) {
		enum luo_event ev;
		uint32_t timeout;

		r = luo_participant_next_event(dev, &ev, &timeout);
		if (r < 0) {
			dprintf(out, "%s gone %d\n", name, r);
			_exit(0);
		}
		dprintf(out, "%s %s\n", name, event_word(ev));
		if (ev == LUO_EVENT_PREPARE && b == EXIT_PREPARE)
			_exit(0);
		if (ev == LUO_EVENT_FREEZE && b == SILENT_FREEZE)
			continue;
		if (ev == LUO_EVENT_PREPARE && b == FAIL_PREPARE)
			r = luo_participant_reply(dev, -EAGAIN, NULL, 0);
		else if (ev == LUO_EVENT_FREEZE && b == FAIL_FREEZE)
			r = luo_participant_reply(dev, -EIO, NULL, 0);
		else if (ev == LUO_EVENT_FREEZE && b == PAYLOAD_FREEZE) {
			snprintf(payload, sizeof(payload), "state-of-%s", name);
			r = luo_participant_reply(dev, 0, payload, strlen(payload));
		} else {
			r = luo_participant_reply(dev, 0, NULL, 0);
		}
		if (r < 0)
			_exit(11);
	}
}

/* Read one line of the child's event log, or fail after 10 s. */
static void expect_line(struct child *c, const char *want)
{
	char line[128];
	size_t n = 0;

	while (n + 1 < sizeof(line)) {
		struct pollfd p = { .fd = c->events, .events = POLLIN };

		if (poll(&p, 1, 10000) <= 0)
			fail_msg("timeout waiting for '%s'", want);
		if (read(c->events, &line[n], 1) != 1)
			fail_msg("child closed its log waiting for '%s'", want);
		if (line[n] == '\n')
			break;
		n++;
	}
	line[n] = '\0';
	assert_string_equal(line, want);
}

static struct child spawn(const char *name, enum behaviour b)
{
	struct child c;
	int p[2];
	char want[96];

	assert_int_equal(pipe(p), 0);
	c.pid = fork();
	assert_true(c.pid >= 0);
	if (c.pid == 0) {
		close(p[0]);
		participant_main(name, b, p[1]);
	}
	close(p[1]);
	c.events = p[0];
	snprintf(want, sizeof(want), "%s registered 0", name);
	expect_line(&c, want);
	return c;
}

static void reap(struct child *c)
{
	kill(c->pid, SIGKILL);
	waitpid(c->pid, NULL, 0);
	close(c->events);
}

static int setup(void **state)
{
	(void)state;
	luod_start(&d, "--participant-timeout", "500", NULL);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	assert_true(luod_alive(&d));
	luod_stop(&d);
	return 0;
}

static void test_payload_crosses_update(void **state)
{
	struct child c = spawn("vmm", PAYLOAD_FREEZE);
	char buf[64] = { 0 };
	enum luo_event ev;
	int dev;

	(void)state;
	luod_update(&d, NULL);
	expect_line(&c, "vmm prepare");
	expect_line(&c, "vmm freeze");
	expect_line(&c, "vmm gone -104"); /* ECONNRESET: luod re-executed */
	reap(&c);
	assert_int_equal(luod_status_field(&d, "participants"), 1); /* known, waiting for its process */

	dev = luo_open(d.sock);
	assert_int_equal(luo_participant_register(dev, "vmm", buf, sizeof(buf)), 12);
	assert_string_equal(buf, "state-of-vmm");
	assert_int_equal(luo_participant_register(luo_open(d.sock), "vmm", NULL, 0), -EEXIST);
	/* the global FINISH reaches it */
	assert_int_equal(luoctl(&d, NULL, 0, "finish", NULL), 0);
	assert_int_equal(luo_participant_next_event(dev, &ev, NULL), 0);
	assert_int_equal(ev, LUO_EVENT_FINISH);
	assert_int_equal(luo_participant_reply(dev, 0, NULL, 0), 0);
	close(dev);
}

static void test_failed_prepare_cancels_the_prepared(void **state)
{
	struct child a = spawn("a", OK), b = spawn("b", FAIL_PREPARE);
	int dev = luo_open(d.sock), s = luo_create_session(dev, "kept");
	int fd = memfd_pattern("kept", 4096, 3);
	enum luo_state st;

	(void)state;
	assert_int_equal(luo_session_preserve_fd(s, fd, 1), 0);
	assert_int_equal(luo_set_event(dev, LUO_EVENT_PREPARE), -EAGAIN);
	expect_line(&a, "a prepare");
	expect_line(&a, "a cancel");
	expect_line(&b, "b prepare");
	assert_int_equal(luo_get_state(dev, &st), 0);
	assert_int_equal(st, LUO_STATE_NORMAL);
	assert_int_equal(luo_session_get_state(s, &st, NULL), 0);
	assert_int_equal(st, LUO_STATE_NORMAL);
	assert_int_equal(luo_session_unpreserve_fd(s, 1), 0); /* back to normal: allowed */
	reap(&a);
	reap(&b);
	close(fd);
	close(s);
	close(dev);
}

static void test_missed_deadline_fails_freeze(void **state)
{
	struct child a = spawn("slow", SILENT_FREEZE);
	int dev = luo_open(d.sock);
	enum luo_state st;

	(void)state;
	assert_int_equal(luo_set_event(dev, LUO_EVENT_PREPARE), 0);
	expect_line(&a, "slow prepare");
	assert_int_equal(luo_set_event(dev, LUO_EVENT_FREEZE), -ETIMEDOUT);
	expect_line(&a, "slow freeze");
	expect_line(&a, "slow cancel");
	assert_int_equal(luo_get_state(dev, &st), 0);
	assert_int_equal(st, LUO_STATE_NORMAL);
	reap(&a);
	close(dev);
}

static void test_disconnect_is_a_failure(void **state)
{
	struct child a = spawn("quitter", EXIT_PREPARE);
	int dev = luo_open(d.sock);
	enum luo_state st;

	(void)state;
	assert_int_equal(luo_set_event(dev, LUO_EVENT_PREPARE), -ECONNRESET);
	expect_line(&a, "quitter prepare");
	assert_int_equal(luo_get_state(dev, &st), 0);
	assert_int_equal(st, LUO_STATE_NORMAL);
	assert_int_equal(luod_status_field(&d, "participants"), 0);
	reap(&a);
	close(dev);
}

static void test_cancel_newest_first(void **state)
{
	struct child c[3] = { spawn("p1", OK), spawn("p2", OK), spawn("p3", OK) };
	int log[2], dev = luo_open(d.sock);
	char order[64] = { 0 };

	(void)state;
	(void)log;
	assert_int_equal(luo_set_event(dev, LUO_EVENT_FREEZE), 0); /* prepares first */
	for (int i = 0; i < 3; i++) {
		char want[32];

		snprintf(want, sizeof(want), "p%d prepare", i + 1);
		expect_line(&c[i], want);
		snprintf(want, sizeof(want), "p%d freeze", i + 1);
		expect_line(&c[i], want);
	}
	assert_int_equal(luo_set_event(dev, LUO_EVENT_CANCEL), 0);
	/* CANCEL goes out one at a time: each is sent after the previous answered */
	for (int i = 2; i >= 0; i--) {
		char want[32];

		snprintf(want, sizeof(want), "p%d cancel", i + 1);
		expect_line(&c[i], want);
		strcat(order, want);
	}
	for (int i = 0; i < 3; i++)
		reap(&c[i]);
	close(dev);
}

static void test_failed_freeze_stops_the_update(void **state)
{
	struct child a = spawn("veto", FAIL_FREEZE);
	int dev = luo_open(d.sock), s = luo_create_session(dev, "data");
	int fd = memfd_pattern("data", 65536, 5), p = luo_create_session(dev, "parked");
	int pfd = memfd_pattern("parked", 4096, 6), h, r;
	enum luo_state st;
	bool incoming;
	char out[512];

	(void)state;
	assert_int_equal(luo_session_preserve_fd(s, fd, 9), 0);
	assert_int_equal(luo_session_preserve_fd(p, pfd, 1), 0);
	assert_int_equal(luo_session_set_event(p, LUO_EVENT_FREEZE), 0);
	close(p);
	close(pfd);
	assert_int_not_equal(luoctl(&d, out, sizeof(out), "update", NULL), 0);
	expect_line(&a, "veto prepare");
	expect_line(&a, "veto freeze");
	expect_line(&a, "veto cancel");
	assert_int_equal(luod_status_field(&d, "generation"), 0);
	assert_int_equal(luod_status_field(&d, "files"), 2);
	assert_int_equal(luod_status_field(&d, "memfd_bytes"), 65536 + 4096);
	reap(&a);

	/* every session exactly as before: one NORMAL and held, one frozen and parked */
	luod_status_state(&d, out, sizeof(out));
	assert_string_equal(out, "normal");
	assert_int_equal(luo_session_get_state(s, &st, &incoming), 0);
	assert_int_equal(st, LUO_STATE_NORMAL);
	assert_false(incoming);
	assert_int_equal(luo_session_preserve_fd(s, fd, 9), -EEXIST);
	assert_int_equal(luo_session_unpreserve_fd(s, 9), 0);
	assert_int_equal(luo_session_preserve_fd(s, fd, 9), 0);
	h = luo_retrieve_session(dev, "parked");
	assert_true(h >= 0);
	r = luo_session_retrieve_fd(h, 1);
	assert_true(memfd_pattern_ok(r, 4096, 6));
	close(r);
	close(h);
	close(fd);
	close(s);
	close(dev);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_setup_teardown(test_payload_crosses_update, setup, teardown),
	cmocka_unit_test_setup_teardown(test_failed_prepare_cancels_the_prepared, setup, teardown),
	cmocka_unit_test_setup_teardown(test_missed_deadline_fails_freeze, setup, teardown),
	cmocka_unit_test_setup_teardown(test_disconnect_is_a_failure, setup, teardown),
	cmocka_unit_test_setup_teardown(test_cancel_newest_first, setup, teardown),
	cmocka_unit_test_setup_teardown(test_failed_freeze_stops_the_update, setup, teardown),
};

LUO_TEST_MAIN("participants", tests, NULL, NULL)
