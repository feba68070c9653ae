// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Every errno of DESIGN.md §4 and UAPI.md, against a real luod: each
 * rejection returns exactly the documented errno, luod keeps serving, and
 * the state that existed before the request (a reference session with its
 * files, the global state) is exactly as it was.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
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

/* A session with two memfds whose survival every test checks after each rejection. */
struct ref {
	int session;
	int fds[2];
	const char *name;
	int nfiles;
};

static void ref_make(int dev, struct ref *r, const char *name)
{
	r->name = name;
	r->session = luo_create_session(dev, name);
	assert_true(r->session >= 0);
	for (int i = 0; i < 2; i++) {
		r->fds[i] = memfd_pattern(name, 4096 * (size_t)(i + 1), 77u + (uint32_t)i);
		assert_int_equal(luo_session_preserve_fd(r->session, r->fds[i], 500 + (uint64_t)i), 0);
	}
	r->nfiles = 2;
}

static void intact(const struct ref *r, enum luo_state global)
{
	enum luo_state st;
	int dev;

	assert_true(luod_alive(&d));
	assert_int_equal(e2e_session_files(&d, r->name), r->nfiles);
	dev = e2e_open(&d);
	assert_int_equal(luo_get_state(dev, &st), 0);
	assert_int_equal(st, global);
	close(dev);
	for (int i = 0; i < 2; i++)
		assert_true(memfd_pattern_ok(r->fds[i], 4096 * (size_t)(i + 1), 77u + (uint32_t)i));
}

static void ref_drop(struct ref *r)
{
	close(r->session);
	close(r->fds[0]);
	close(r->fds[1]);
}

/* Carry one session "inc" with tokens 1 and 2 across an update; returns a fresh device handle. */
static int make_incoming(void)
{
	int dev = e2e_open(&d), s = luo_create_session(dev, "inc");
	int a = memfd_pattern("a", 4096, 1), b = memfd_pattern("b", 4096, 2);

	assert_true(s >= 0);
	assert_int_equal(luo_session_preserve_fd(s, a, 1), 0);
	assert_int_equal(luo_session_preserve_fd(s, b, 2), 0);
	luod_update(&d, NULL);
	close(s);
	close(a);
	close(b);
	close(dev);
	return e2e_open(&d);
}

static void test_retrieve_unknown_name(void **state)
{
	struct ref r;
	int dev = e2e_open(&d), s;

	(void)state;
	ref_make(dev, &r, "ref");
	/* before any update: no incoming session at all */
	assert_int_equal(luo_retrieve_session(dev, "nothing"), -ENOENT);
	/* an outgoing session, attached and not frozen, is not retrievable */
	assert_int_equal(luo_retrieve_session(dev, "ref"), -ENOENT);
	intact(&r, LUO_STATE_NORMAL);
	ref_drop(&r);
	close(dev);

	dev = make_incoming();
	assert_int_equal(luo_retrieve_session(dev, "nothing"), -ENOENT);
	assert_int_equal(luo_retrieve_session(dev, "inc2"), -ENOENT);
	assert_int_equal(e2e_session_files(&d, "inc"), 2);
	s = luo_retrieve_session(dev, "inc");
	assert_true(s >= 0);
	assert_int_equal(luo_session_finish(s), 0);
	close(s);
	close(dev);
}

static void test_unknown_token(void **state)
{
	int dev = make_incoming(), s, fd;

	(void)state;
	s = luo_retrieve_session(dev, "inc");
	assert_true(s >= 0);
	assert_int_equal(luo_session_retrieve_fd(s, 3), -ENOENT);
	/* a failed retrieve fails the same way again */
	assert_int_equal(luo_session_retrieve_fd(s, 3), -ENOENT);
	assert_int_equal(luo_session_retrieve_fd(s, 0), -ENOENT);
	assert_int_equal(e2e_session_files(&d, "inc"), 2);
	fd = luo_session_retrieve_fd(s, 2);
	assert_true(memfd_pattern_ok(fd, 4096, 2));
	close(fd);
	fd = luo_session_retrieve_fd(s, 1);
	assert_true(memfd_pattern_ok(fd, 4096, 1));
	close(fd);
	assert_int_equal(luo_session_retrieve_fd(s, 3), -ENOENT);
	assert_int_equal(luo_session_finish(s), 0);
	close(s);
	close(dev);
}

static void test_duplicate_name(void **state)
{
	struct ref r;
	int dev = e2e_open(&d), s;

	(void)state;
	ref_make(dev, &r, "dup");
	assert_int_equal(luo_create_session(dev, "dup"), -EEXIST);
	assert_int_equal(luo_create_session(dev, "dup"), -EEXIST);
	intact(&r, LUO_STATE_NORMAL);
	s = luo_create_session(dev, "dup2");
	assert_true(s >= 0);
	close(s);
	ref_drop(&r);
	close(dev);
}

static void test_fd_busy(void **state)
{
	struct ref r;
	int dev = e2e_open(&d), other, copy;

	(void)state;
	ref_make(dev, &r, "busy");
	other = luo_create_session(dev, "other");
	assert_true(other >= 0);
	/* same session, another token */
	assert_int_equal(luo_session_preserve_fd(r.session, r.fds[0], 900), -EBUSY);
	/* another session */
	assert_int_equal(luo_session_preserve_fd(other, r.fds[1], 1), -EBUSY);
	/* a dup is the same open file */
	copy = dup(r.fds[0]);
	assert_int_equal(luo_session_preserve_fd(other, copy, 2), -EBUSY);
	close(copy);
	intact(&r, LUO_STATE_NORMAL);
	assert_int_equal(e2e_session_files(&d, "other"), 0);
	close(other);
	ref_drop(&r);
	close(dev);
}

static void test_no_handler(void **state)
{
	struct ref r;
	int dev = e2e_open(&d), null, dir;

	(void)state;
	ref_make(dev, &r, "nohandler");
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	dir = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_int_equal(luo_session_preserve_fd(r.session, null, 1), -ENOENT);
	assert_int_equal(luo_session_preserve_fd(r.session, dir, 2), -ENOENT);
	/* the token is checked before the type, as in the kernel */
	assert_int_equal(luo_session_preserve_fd(r.session, null, 500), -EEXIST);
	intact(&r, LUO_STATE_NORMAL);
	close(null);
	close(dir);
	ref_drop(&r);
	close(dev);
}

static void test_names(void **state)
{
	char name[LUO_NAME_MAX + 8], got[LUO_NAME_MAX];
	struct ref r;
	int dev = e2e_open(&d), s;

	(void)state;
	ref_make(dev, &r, "names");
	assert_int_equal(luo_create_session(dev, ""), -EINVAL);
	assert_int_equal(luo_retrieve_session(dev, ""), -EINVAL);
	memset(name, 'n', LUO_NAME_MAX);
	name[LUO_NAME_MAX] = '\0'; /* 64 bytes: no room for the NUL */
	assert_int_equal(luo_create_session(dev, name), -EINVAL);
	assert_int_equal(luo_retrieve_session(dev, name), -EINVAL);
	intact(&r, LUO_STATE_NORMAL);
	name[LUO_NAME_MAX - 1] = '\0'; /* 63 bytes */
	s = luo_create_session(dev, name);
	assert_true(s >= 0);
	memset(got, 0, sizeof(got));
	assert_int_equal(luo_session_get_name(s, got), 0);
	assert_string_equal(got, name);
	assert_int_equal(strlen(got), LUO_NAME_MAX - 1);
	assert_int_equal(luo_create_session(dev, name), -EEXIST);
	assert_int_equal(e2e_session_files(&d, name), 0);
	close(s);
	ref_drop(&r);
	close(dev);
}

static void test_second_retrieve(void **state)
{
	int dev = make_incoming(), s, fd;

	(void)state;
	s = luo_retrieve_session(dev, "inc");
	assert_true(s >= 0);
	assert_int_equal(luo_retrieve_session(dev, "inc"), -EINVAL);
	assert_int_equal(luo_retrieve_session(dev, "inc"), -EINVAL);
	/* the first handle is unaffected */
	fd = luo_session_retrieve_fd(s, 1);
	assert_true(memfd_pattern_ok(fd, 4096, 1));
	close(fd);
	assert_int_equal(luo_session_finish(s), 0);
	close(s);
	/* finished: gone, not "already retrieved" */
	assert_int_equal(luo_retrieve_session(dev, "inc"), -ENOENT);
	close(dev);
}

static void test_wrong_side(void **state)
{
	enum luo_state st;
	struct ref r;
	bool incoming;
	int dev = make_incoming(), s, fd = memfd_pattern("x", 4096, 9), f;

	(void)state;
	s = luo_retrieve_session(dev, "inc");
	assert_true(s >= 0);
	/* PRESERVE and UNPRESERVE only on outgoing sessions */
	assert_int_equal(luo_session_preserve_fd(s, fd, 3), -EINVAL);
	assert_int_equal(luo_session_unpreserve_fd(s, 1), -EINVAL);
	assert_true(memfd_pattern_ok(fd, 4096, 9));
	assert_int_equal(e2e_session_files(&d, "inc"), 2);
	/* the rejected fd was not kept anywhere */
	ref_make(dev, &r, "out");
	assert_int_equal(luo_session_preserve_fd(r.session, fd, 3), 0);
	r.nfiles = 3;

	/* RETRIEVE_FD and FINISH only on incoming ones */
	assert_int_equal(luo_session_retrieve_fd(r.session, 500), -EINVAL);
	assert_int_equal(luo_session_finish(r.session), -EINVAL);
	assert_int_equal(luo_session_set_event(r.session, LUO_EVENT_FINISH), -EINVAL);
	assert_int_equal(luo_session_get_state(r.session, &st, &incoming), 0);
	assert_int_equal(st, LUO_STATE_NORMAL);
	assert_false(incoming);
	intact(&r, LUO_STATE_UPDATED);

	f = luo_session_retrieve_fd(s, 2);
	assert_true(memfd_pattern_ok(f, 4096, 2));
	close(f);
	assert_int_equal(luo_session_finish(s), 0);
	close(s);
	intact(&r, LUO_STATE_NORMAL);
	ref_drop(&r);
	close(fd);
	close(dev);
}

static void test_create_during_update(void **state)
{
	struct ref r;
	int dev = e2e_open(&d), s;

	(void)state;
	ref_make(dev, &r, "during");
	assert_int_equal(luo_set_event(dev, LUO_EVENT_PREPARE), 0);
	assert_int_equal(luo_create_session(dev, "new"), -EBUSY);
	intact(&r, LUO_STATE_PREPARED);
	assert_int_equal(luo_set_event(dev, LUO_EVENT_FREEZE), 0);
	assert_int_equal(luo_create_session(dev, "new"), -EBUSY);
	intact(&r, LUO_STATE_FROZEN);
	assert_int_equal(luo_set_event(dev, LUO_EVENT_CANCEL), 0);
	assert_false(e2e_session_listed(&d, "new"));
	s = luo_create_session(dev, "new");
	assert_true(s >= 0);
	intact(&r, LUO_STATE_NORMAL);
	close(s);
	ref_drop(&r);
	close(dev);
}

static void test_duplicate_token(void **state)
{
	struct ref r;
	int dev = e2e_open(&d), fd = memfd_pattern("t", 4096, 3), s2;

	(void)state;
	ref_make(dev, &r, "tokens");
	assert_int_equal(luo_session_preserve_fd(r.session, fd, 500), -EEXIST);
	assert_int_equal(luo_session_preserve_fd(r.session, fd, 501), -EEXIST);
	intact(&r, LUO_STATE_NORMAL);
	/* tokens are per session: the same token elsewhere is fine, and fd was not kept */
	s2 = luo_create_session(dev, "tokens2");
	assert_int_equal(luo_session_preserve_fd(s2, fd, 500), 0);
	assert_int_equal(e2e_session_files(&d, "tokens2"), 1);
	close(s2);
	close(fd);
	ref_drop(&r);
	close(dev);
}

static void test_unpreserve_after_prepare(void **state)
{
	enum luo_state st;
	struct ref r;
	int dev = e2e_open(&d), fd = memfd_pattern("u", 4096, 4);

	(void)state;
	ref_make(dev, &r, "unpreserve");
	assert_int_equal(luo_session_unpreserve_fd(r.session, 12345), -ENOENT);
	assert_int_equal(luo_session_set_event(r.session, LUO_EVENT_PREPARE), 0);
	assert_int_equal(luo_session_get_state(r.session, &st, NULL), 0);
	assert_int_equal(st, LUO_STATE_PREPARED);
	assert_int_equal(luo_session_unpreserve_fd(r.session, 500), -EBUSY);
	assert_int_equal(luo_session_preserve_fd(r.session, fd, 7), -EBUSY);
	/* PREPARE again, CANCEL from NORMAL: wrong state */
	assert_int_equal(luo_session_set_event(r.session, LUO_EVENT_PREPARE), -EINVAL);
	intact(&r, LUO_STATE_NORMAL);
	assert_int_equal(luo_session_set_event(r.session, LUO_EVENT_CANCEL), 0);
	assert_int_equal(luo_session_set_event(r.session, LUO_EVENT_CANCEL), -EINVAL);
	assert_int_equal(luo_session_get_state(r.session, &st, NULL), 0);
	assert_int_equal(st, LUO_STATE_NORMAL);
	/* back in NORMAL: both work again, and fd was not kept by the rejected preserve */
	assert_int_equal(luo_session_unpreserve_fd(r.session, 501), 0);
	assert_int_equal(luo_session_preserve_fd(r.session, fd, 501), 0);
	intact(&r, LUO_STATE_NORMAL);
	close(fd);
	ref_drop(&r);
	close(dev);
}

static void test_global_event_transitions(void **state)
{
	struct ref r;
	int dev = e2e_open(&d);

	(void)state;
	ref_make(dev, &r, "events");
	/* NORMAL: CANCEL and FINISH are invalid */
	assert_int_equal(luo_set_event(dev, LUO_EVENT_CANCEL), -EINVAL);
	assert_int_equal(luo_set_event(dev, LUO_EVENT_FINISH), -EINVAL);
	assert_int_equal(luo_set_event(dev, (enum luo_event)42), -EINVAL);
	assert_int_equal(luoctl(&d, NULL, 0, "cancel", NULL), 1);
	assert_int_equal(luoctl(&d, NULL, 0, "finish", NULL), 1);
	intact(&r, LUO_STATE_NORMAL);
	/* PREPARED: PREPARE again and FINISH are invalid */
	assert_int_equal(luo_set_event(dev, LUO_EVENT_PREPARE), 0);
	assert_int_equal(luo_set_event(dev, LUO_EVENT_PREPARE), -EINVAL);
	assert_int_equal(luo_set_event(dev, LUO_EVENT_FINISH), -EINVAL);
	/* a session in the global update cannot take per-session events */
	assert_int_equal(luo_session_set_event(r.session, LUO_EVENT_CANCEL), -EBUSY);
	assert_int_equal(luo_session_set_event(r.session, LUO_EVENT_FREEZE), -EBUSY);
	intact(&r, LUO_STATE_PREPARED);
	/* FROZEN: FREEZE, PREPARE and FINISH are invalid */
	assert_int_equal(luo_set_event(dev, LUO_EVENT_FREEZE), 0);
	assert_int_equal(luo_set_event(dev, LUO_EVENT_FREEZE), -EINVAL);
	assert_int_equal(luo_set_event(dev, LUO_EVENT_PREPARE), -EINVAL);
	assert_int_equal(luo_set_event(dev, LUO_EVENT_FINISH), -EINVAL);
	assert_int_equal(luoctl(&d, NULL, 0, "prepare", NULL), 1);
	intact(&r, LUO_STATE_FROZEN);
	assert_int_equal(luo_set_event(dev, LUO_EVENT_CANCEL), 0);
	assert_int_equal(luo_set_event(dev, LUO_EVENT_CANCEL), -EINVAL);
	intact(&r, LUO_STATE_NORMAL);
	ref_drop(&r);
	close(dev);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_setup_teardown(test_retrieve_unknown_name, setup, teardown),
	cmocka_unit_test_setup_teardown(test_unknown_token, setup, teardown),
	cmocka_unit_test_setup_teardown(test_duplicate_name, setup, teardown),
	cmocka_unit_test_setup_teardown(test_fd_busy, setup, teardown),
	cmocka_unit_test_setup_teardown(test_no_handler, setup, teardown),
	cmocka_unit_test_setup_teardown(test_names, setup, teardown),
	cmocka_unit_test_setup_teardown(test_second_retrieve, setup, teardown),
	cmocka_unit_test_setup_teardown(test_wrong_side, setup, teardown),
	cmocka_unit_test_setup_teardown(test_create_during_update, setup, teardown),
	cmocka_unit_test_setup_teardown(test_duplicate_token, setup, teardown),
	cmocka_unit_test_setup_teardown(test_unpreserve_after_prepare, setup, teardown),
	cmocka_unit_test_setup_teardown(test_global_event_transitions, setup, teardown),
};

LUO_TEST_MAIN("errors", tests, NULL, NULL)
