// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Per-session update: one session frozen with luo_session_set_event() and
 * let go by its process is retrieved by name by another process, which
 * takes its fds and finishes it, without luod restarting.
 */
#include <errno.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "e2e.h"
#include "rpc.h"

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

#define NF 3
static const uint64_t tokens[NF] = { 11, 22, 33 };
static const size_t sizes[NF] = { 4096, 1 << 20, 123 };

/* The successor process: no cmocka here; the exit status names the failed step. */
static int successor(const char *sock, int ctl)
{
	int dev = luo_open(sock), s, fds[NF];
	enum luo_state st;
	bool incoming;
	char byte;

	if (dev < 0)
		return 10;
	s = luo_retrieve_session(dev, "vm1");
	if (s < 0)
		return 11;
	if (luo_session_get_state(s, &st, &incoming) < 0 || st != LUO_STATE_UPDATED || !incoming)
		return 12;
	if (luo_session_retrieve_fds(s, tokens, fds, NF) < 0)
		return 13;
	for (int i = 0; i < NF; i++)
		if (!memfd_pattern_ok(fds[i], sizes[i], 200u + (uint32_t)i))
			return 14;
	/* the parent checks a second retrieve is refused while we hold it */
	if (write(ctl, "r", 1) != 1 || read(ctl, &byte, 1) != 1)
		return 15;
	if (luo_session_finish(s) < 0)
		return 16;
	close(s);
	for (int i = 0; i < NF; i++)
		close(fds[i]);
	close(dev);
	return 0;
}

static void test_handover_in_place(void **state)
{
	int dev = e2e_open(&d), s, fds[NF], ctl[2];
	long long gen = luod_status_field(&d, "generation");
	enum luo_state st;
	char out[8192], byte;
	pid_t pid;

	(void)state;
	s = luo_create_session(dev, "vm1");
	assert_true(s >= 0);
	for (int i = 0; i < NF; i++)
		fds[i] = memfd_pattern("guest-ram", sizes[i], 200u + (uint32_t)i);
	assert_int_equal(luo_session_preserve_fds(s, fds, tokens, NF), 0);
	assert_int_equal(luo_session_set_event(s, LUO_EVENT_FREEZE), 0);
	assert_int_equal(luo_session_get_state(s, &st, NULL), 0);
	assert_int_equal(st, LUO_STATE_FROZEN);
	assert_int_equal(luo_session_unpreserve_fd(s, 11), -EBUSY);
	/* still held by us: not retrievable yet */
	assert_int_equal(luo_retrieve_session(dev, "vm1"), -ENOENT);
	/* the global state is not involved */
	e2e_assert_state(&d, "normal");
	close(s);
	for (int i = 0; i < NF; i++)
		close(fds[i]);

	assert_int_equal(luoctl(&d, out, sizeof(out), "show", "vm1", "--json", NULL), 0);
	assert_non_null(strstr(out, "\"state\": \"frozen\""));
	assert_non_null(strstr(out, "\"attached\": false"));
	assert_int_equal(e2e_json_int(out, "files"), NF);

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ctl), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(successor(d.sock, ctl[1]));
	assert_int_equal(read(ctl[0], &byte, 1), 1);
	assert_int_equal(luo_retrieve_session(dev, "vm1"), -EINVAL);
	assert_int_equal(write(ctl[0], "c", 1), 1);
	assert_int_equal(e2e_wait(pid), 0);

	/* done, and luod never restarted */
	assert_false(e2e_session_listed(&d, "vm1"));
	assert_int_equal(luo_retrieve_session(dev, "vm1"), -ENOENT);
	assert_true(luod_alive(&d));
	assert_int_equal(luod_status_field(&d, "pid"), d.pid);
	assert_int_equal(luod_status_field(&d, "generation"), gen);
	assert_int_equal(luod_status_field(&d, "updates"), 0);
	assert_int_equal(luod_status_field(&d, "files"), 0);
	e2e_assert_state(&d, "normal");
	close(ctl[0]);
	close(ctl[1]);
	close(dev);
}

/* Frozen on its own and cancelled while still held: back to NORMAL, files kept. */
static void test_session_cancel(void **state)
{
	int dev = e2e_open(&d), s = luo_create_session(dev, "undo"), fd = memfd_pattern("u", 4096, 4);
	enum luo_state st;

	(void)state;
	assert_int_equal(luo_session_preserve_fd(s, fd, 1), 0);
	assert_int_equal(luo_session_set_event(s, LUO_EVENT_FREEZE), 0);
	assert_int_equal(luo_session_set_event(s, LUO_EVENT_FREEZE), 0); /* already frozen */
	assert_int_equal(luo_session_set_event(s, LUO_EVENT_CANCEL), 0);
	assert_int_equal(luo_session_get_state(s, &st, NULL), 0);
	assert_int_equal(st, LUO_STATE_NORMAL);
	assert_int_equal(e2e_session_files(&d, "undo"), 1);
	assert_int_equal(luo_session_unpreserve_fd(s, 1), 0);
	assert_int_equal(luo_session_preserve_fd(s, fd, 2), 0);
	close(s);
	assert_false(e2e_session_listed(&d, "undo"));
	close(fd);
	close(dev);
}

/* A session frozen on its own and let go is carried by the next global update too. */
static void test_frozen_session_in_global_update(void **state)
{
	int dev = e2e_open(&d), s = luo_create_session(dev, "parked"), fd = memfd_pattern("p", 8192, 6);
	int h, r;

	(void)state;
	assert_int_equal(luo_session_preserve_fd(s, fd, 5), 0);
	assert_int_equal(luo_session_set_event(s, LUO_EVENT_FREEZE), 0);
	close(s);
	close(fd);
	e2e_barrier(&d);
	luod_update(&d, NULL);
	close(dev);
	dev = e2e_open(&d);
	e2e_assert_state(&d, "updated");
	h = luo_retrieve_session(dev, "parked");
	assert_true(h >= 0);
	r = luo_session_retrieve_fd(h, 5);
	assert_true(memfd_pattern_ok(r, 8192, 6));
	close(r);
	close(h); /* implicit finish */
	e2e_barrier(&d);
	e2e_assert_state(&d, "normal");
	close(dev);
}

/* SESSION_UPDATE by name, as `luoctl update --session NAME` sends it. */
static int session_update(int dev, const char *name, struct luo_msg_session_info *info)
{
	struct luo_msg_name req = { 0 };
	static struct luo_reply rep;
	int r;

	/* a name of 64 bytes or more fills the field with no NUL: EINVAL */
	memcpy(req.name, name, strnlen(name, sizeof(req.name)));
	r = luo_call_full(dev, LUO_OP_SESSION_UPDATE, &req, sizeof(req), NULL, 0, &rep);
	if (r >= 0 && info) {
		assert_int_equal(rep.body_len, sizeof(*info));
		memcpy(info, rep.body, sizeof(*info));
	}
	return r;
}

/*
 * One workload's session is taken from its process while that process still
 * holds it: the process sees its handle hang up, its successor retrieves the
 * session by name with every fd intact, and another session held by another
 * workload stays exactly as it was, in NORMAL, still preservable.
 */
static void test_update_one_session(void **state)
{
	int dev = e2e_open(&d), web, db, fds[NF], pfd[2], other, got, h;
	struct luo_msg_session_info info;
	struct pollfd pfd_hup;
	enum luo_state st;
	bool incoming;
	char buf[16];

	(void)state;
	web = luo_create_session(dev, "web");
	db = luo_create_session(dev, "db");
	assert_true(web >= 0 && db >= 0);
	for (int i = 0; i < NF; i++)
		fds[i] = memfd_pattern("web", sizes[i], 300u + (uint32_t)i);
	assert_int_equal(luo_session_preserve_fds(web, fds, tokens, NF), 0);
	assert_int_equal(pipe(pfd), 0);
	assert_int_equal(write(pfd[1], "in-flight", 9), 9);
	assert_int_equal(luo_session_preserve_fd(web, pfd[0], 44), 0);
	other = memfd_pattern("db", 4096, 9);
	assert_int_equal(luo_session_preserve_fd(db, other, 1), 0);

	assert_int_equal(session_update(dev, "web", &info), 0);
	assert_string_equal(info.name, "web");
	assert_int_equal(info.state, LUO_STATE_FROZEN);
	assert_int_equal(info.files, NF + 1);
	assert_false(info.attached);

	/* the old holder's handle hangs up, and its calls fail */
	pfd_hup = (struct pollfd){ .fd = web, .events = POLLIN };
	assert_int_equal(poll(&pfd_hup, 1, 5000), 1);
	assert_true(pfd_hup.revents & (POLLHUP | POLLIN));
	assert_true(luo_session_get_state(web, &st, NULL) < 0);
	close(web);

	/* the other workload is untouched */
	assert_int_equal(luo_session_get_state(db, &st, &incoming), 0);
	assert_int_equal(st, LUO_STATE_NORMAL);
	assert_false(incoming);
	got = memfd_pattern("db2", 4096, 10);
	assert_int_equal(luo_session_preserve_fd(db, got, 2), 0);
	close(got);
	e2e_assert_state(&d, "normal");

	/* the successor */
	h = luo_retrieve_session(dev, "web");
	assert_true(h >= 0);
	assert_int_equal(luo_session_get_state(h, &st, &incoming), 0);
	assert_int_equal(st, LUO_STATE_UPDATED);
	assert_true(incoming);
	for (int i = 0; i < NF; i++) {
		got = luo_session_retrieve_fd(h, tokens[i]);
		assert_true(memfd_pattern_ok(got, sizes[i], 300u + (uint32_t)i));
		close(got);
	}
	got = luo_session_retrieve_fd(h, 44);
	assert_true(got >= 0);
	assert_int_equal(read(got, buf, sizeof(buf)), 9);
	assert_memory_equal(buf, "in-flight", 9);
	close(got);
	assert_int_equal(luo_session_finish(h), 0);
	close(h);
	assert_int_equal(luod_status_field(&d, "pid"), d.pid);
	assert_int_equal(luod_status_field(&d, "updates"), 0);
	for (int i = 0; i < NF; i++)
		close(fds[i]);
	close(pfd[0]);
	close(pfd[1]);
	close(other);
	close(db);
	close(dev);
}

/* The errors of a per-session update; none changes anything. */
static void test_update_one_session_errors(void **state)
{
	int dev = e2e_open(&d), s, fd = memfd_pattern("e", 4096, 1), h;
	enum luo_state st;
	char big[LUO_NAME_MAX + 8];

	(void)state;
	assert_int_equal(session_update(dev, "nosuch", NULL), -ENOENT);
	assert_int_equal(session_update(dev, "", NULL), -EINVAL);
	memset(big, 'x', sizeof(big));
	big[sizeof(big) - 1] = 0;
	assert_int_equal(session_update(dev, big, NULL), -EINVAL);

	s = luo_create_session(dev, "e");
	assert_int_equal(luo_session_preserve_fd(s, fd, 1), 0);
	/* during a global update: EBUSY, and the session stays held */
	assert_int_equal(luo_set_event(dev, LUO_EVENT_PREPARE), 0);
	assert_int_equal(session_update(dev, "e", NULL), -EBUSY);
	assert_int_equal(luo_set_event(dev, LUO_EVENT_CANCEL), 0);
	assert_int_equal(luo_session_get_state(s, &st, NULL), 0);
	assert_int_equal(st, LUO_STATE_NORMAL);

	/* twice: the second finds an incoming-to-be session with no holder: still fine */
	assert_int_equal(session_update(dev, "e", NULL), 0);
	assert_int_equal(session_update(dev, "e", NULL), 0);
	close(s);
	h = luo_retrieve_session(dev, "e");
	assert_true(h >= 0);
	/* incoming now: EINVAL */
	assert_int_equal(session_update(dev, "e", NULL), -EINVAL);
	close(h);
	close(fd);
	close(dev);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_setup_teardown(test_update_one_session, setup, teardown),
	cmocka_unit_test_setup_teardown(test_update_one_session_errors, setup, teardown),
	cmocka_unit_test_setup_teardown(test_handover_in_place, setup, teardown),
	cmocka_unit_test_setup_teardown(test_session_cancel, setup, teardown),
	cmocka_unit_test_setup_teardown(test_frozen_session_in_global_update, setup, teardown),
};

LUO_TEST_MAIN("session-update", tests, NULL, NULL)
