// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The global and per-session state machines, driven through the core's own
 * calls with real memfds (no server): every transition, every refusal, and
 * the rollback of a failed FREEZE.
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "harness.h"
#include "core/luod.h"
#include "core/state.h" /* the core's own state: these test the core */

/* the core knows the fd types only once they are registered, as luod's main() does */
__attribute__((constructor)) static void register_handlers(void)
{
	handlers_register();
}

static int handle_token; /* stands for a process holding the session */

static int reset(void **state)
{
	(void)state;
	core_free_all();
	luo_core.state = LUO_STATE_NORMAL;
	return 0;
}

static struct luo_session *new_session(const char *name, int nfiles)
{
	struct luo_session *s;

	assert_int_equal(core_create_session(name, 0, &s), 0);
	s->handle = &handle_token;
	for (int i = 0; i < nfiles; i++) {
		int fd = memfd_pattern(name, 8192, (uint32_t)i);

		assert_int_equal(session_preserve(s, &fd, &(uint64_t){ (uint64_t)i + 1 }, 1), 0);
	}
	return s;
}

static void test_global_transitions(void **state)
{
	struct luo_session *s;

	(void)state;
	s = new_session("g", 2);
	assert_int_equal(core_event(LUO_EVENT_CANCEL), -EINVAL);
	assert_int_equal(core_event(LUO_EVENT_FINISH), -EINVAL);
	assert_int_equal(core_event(LUO_EVENT_PREPARE), 0);
	assert_int_equal(luo_core.state, LUO_STATE_PREPARED);
	assert_int_equal(s->state, LUO_STATE_PREPARED);
	assert_int_equal(core_event(LUO_EVENT_PREPARE), -EINVAL);
	assert_int_equal(core_event(LUO_EVENT_FINISH), -EINVAL);
	assert_int_equal(core_event(LUO_EVENT_FREEZE), 0);
	assert_int_equal(luo_core.state, LUO_STATE_FROZEN);
	assert_int_equal(s->state, LUO_STATE_FROZEN);
	assert_true(s->files[0]->frozen && s->files[1]->frozen);
	assert_int_equal(core_event(LUO_EVENT_FREEZE), -EINVAL);
	assert_int_equal(core_event(LUO_EVENT_CANCEL), 0);
	assert_int_equal(luo_core.state, LUO_STATE_NORMAL);
	assert_int_equal(s->state, LUO_STATE_NORMAL);
	assert_false(s->files[0]->frozen || s->files[1]->frozen);
	assert_int_equal(s->nfiles, 2);
	/* FREEZE from NORMAL prepares first */
	assert_int_equal(core_event(LUO_EVENT_FREEZE), 0);
	assert_int_equal(luo_core.state, LUO_STATE_FROZEN);
	assert_int_equal(core_event(LUO_EVENT_CANCEL), 0);
}

static void test_no_new_sessions_during_update(void **state)
{
	struct luo_session *s;

	(void)state;
	new_session("a", 1);
	assert_int_equal(core_event(LUO_EVENT_PREPARE), 0);
	assert_int_equal(core_create_session("b", 0, &s), -EBUSY);
	assert_int_equal(core_event(LUO_EVENT_CANCEL), 0);
	assert_int_equal(core_create_session("b", 0, &s), 0);
	assert_int_equal(core_create_session("b", 0, &s), -EEXIST);
}

static void test_session_transitions(void **state)
{
	struct luo_session *s, *r;
	int fd = memfd_pattern("late", 4096, 9), out[1];

	(void)state;
	s = new_session("p", 1);
	assert_int_equal(session_event(s, LUO_EVENT_CANCEL), -EINVAL);
	assert_int_equal(session_event(s, LUO_EVENT_FINISH), -EINVAL);
	assert_int_equal(session_event(s, LUO_EVENT_PREPARE), 0);
	assert_int_equal(session_event(s, LUO_EVENT_PREPARE), -EINVAL);
	assert_int_equal(session_preserve(s, &fd, &(uint64_t){ 77 }, 1), -EBUSY); /* consumes fd */
	assert_int_equal(session_unpreserve(s, 1), -EBUSY);
	assert_int_equal(session_retrieve(s, &(uint64_t){ 1 }, 1, out), -EINVAL);
	assert_int_equal(session_event(s, LUO_EVENT_CANCEL), 0);
	assert_int_equal(s->state, LUO_STATE_NORMAL);
	assert_int_equal(session_event(s, LUO_EVENT_FREEZE), 0);
	/* not retrievable while a process holds it */
	assert_int_equal(core_retrieve_session("p", 0, &r), -ENOENT);
	session_handle_closed(s);
	assert_int_equal(core_retrieve_session("p", 1000, &r), -EPERM);
	assert_int_equal(core_retrieve_session("p", 0, &r), 0);
	assert_ptr_equal(r, s);
	assert_true(s->incoming);
	assert_int_equal(s->state, LUO_STATE_UPDATED);
	assert_int_equal(core_retrieve_session("p", 0, &r), -EINVAL);
	assert_int_equal(session_event(s, LUO_EVENT_PREPARE), -EINVAL);
	assert_int_equal(session_retrieve(s, &(uint64_t){ 99 }, 1, out), -ENOENT);
	assert_int_equal(session_retrieve(s, &(uint64_t){ 1 }, 1, out), 0);
	assert_true(memfd_pattern_ok(out[0], 8192, 0));
	assert_int_equal(session_finish(s), 0);
	assert_null(core_find_session("p"));
	assert_int_equal(luo_core.nfiles, 0);
}

static void test_close_before_freeze_unpreserves(void **state)
{
	struct luo_session *s;

	(void)state;
	s = new_session("gone", 3);
	assert_int_equal(luo_core.nfiles, 3);
	session_handle_closed(s);
	assert_null(core_find_session("gone"));
	assert_int_equal(luo_core.nfiles, 0);
	assert_int_equal(luo_core.inodes.used, 0);
	/* prepared sessions are unpreserved too */
	s = new_session("gone", 1);
	assert_int_equal(session_event(s, LUO_EVENT_PREPARE), 0);
	session_handle_closed(s);
	assert_null(core_find_session("gone"));
}

/* A process that leaves during the blackout does not lose its session to a CANCEL. */
static void test_cancel_keeps_abandoned_frozen_session(void **state)
{
	struct luo_session *s, *r;

	(void)state;
	s = new_session("left", 1);
	assert_int_equal(core_event(LUO_EVENT_FREEZE), 0);
	session_handle_closed(s);
	assert_ptr_equal(core_find_session("left"), s);
	assert_int_equal(core_retrieve_session("left", 0, &r), -EBUSY); /* part of the update */
	assert_int_equal(core_event(LUO_EVENT_CANCEL), 0);
	assert_int_equal(s->state, LUO_STATE_FROZEN);
	assert_int_equal(core_retrieve_session("left", 0, &r), 0);
}

/* A FREEZE that fails halfway unfreezes what froze and leaves NORMAL. */
static void test_freeze_failure_rolls_back(void **state)
{
	struct luo_session *a, *b;
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

	(void)state;
	a = new_session("a", 2);
	b = new_session("b", 2);
	/* make b's second file unreadable as a memfd: its freeze fails */
	assert_true(dup3(null, b->files[1]->fd, O_CLOEXEC) >= 0);
	close(null);
	assert_int_equal(core_event(LUO_EVENT_FREEZE), -EINVAL); /* F_GET_SEALS on /dev/null */
	assert_int_equal(luo_core.state, LUO_STATE_NORMAL);
	assert_int_equal(a->state, LUO_STATE_NORMAL);
	assert_int_equal(b->state, LUO_STATE_NORMAL);
	assert_false(a->files[0]->frozen || a->files[1]->frozen || b->files[0]->frozen);
	assert_int_equal(a->nfiles + b->nfiles, 4);
}

/*
 * A global freeze of many memfds runs their freeze() on two threads
 * (core/file.c, past 2,048 files): each file still records its own size
 * at freeze, in either half, and a failure in the second thread's half
 * rolls the whole freeze back as before.
 */
static void test_freeze_many(void **state)
{
	enum { N = 3000 };
	struct luo_session *s;
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

	(void)state;
	s = new_session("many", N);
	for (int i = 0; i < N; i += 7) /* resized after preserve, before freeze */
		assert_int_equal(ftruncate(s->files[i]->fd, 4096 * (i % 5)), 0);
	assert_int_equal(core_event(LUO_EVENT_FREEZE), 0);
	for (int i = 0; i < N; i++) {
		assert_true(s->files[i]->frozen);
		assert_int_equal(file_size(s->files[i]), i % 7 ? 8192 : 4096 * (i % 5));
	}
	assert_int_equal(core_event(LUO_EVENT_CANCEL), 0);
	assert_false(s->files[0]->frozen);

	assert_true(dup3(null, s->files[N - 10]->fd, O_CLOEXEC) >= 0); /* the second half's */
	close(null);
	assert_int_equal(core_event(LUO_EVENT_FREEZE), -EINVAL);
	assert_int_equal(luo_core.state, LUO_STATE_NORMAL);
	assert_int_equal(s->state, LUO_STATE_NORMAL);
	for (int i = 0; i < N; i++)
		assert_false(s->files[i]->frozen);
}

static void test_batch_all_or_nothing(void **state)
{
	struct luo_session *s;
	int fds[3], null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	uint64_t tokens[3] = { 1, 2, 3 };

	(void)state;
	s = new_session("batch", 0);
	fds[0] = memfd_pattern("x", 0, 0);
	fds[1] = memfd_pattern("y", 0, 0);
	fds[2] = null;
	assert_int_equal(session_preserve(s, fds, tokens, 3), -ENOENT);
	assert_int_equal(s->nfiles, 0);
	assert_int_equal(luo_core.inodes.used, 0);
	/* the fds were consumed (closed) */
	assert_true(fcntl(fds[0], F_GETFD) < 0 && fcntl(fds[2], F_GETFD) < 0);
	fds[0] = memfd_pattern("x", 0, 0);
	fds[1] = memfd_pattern("y", 0, 0);
	tokens[1] = 1; /* duplicate token inside one batch */
	assert_int_equal(session_preserve(s, fds, tokens, 2), -EEXIST);
	assert_int_equal(s->nfiles, 0);
}

static void test_updated_until_finished(void **state)
{
	struct luo_session *s, *r;

	(void)state;
	s = new_session("u", 1);
	assert_int_equal(session_event(s, LUO_EVENT_FREEZE), 0);
	session_handle_closed(s);
	/* what a successor sees: an incoming session and state UPDATED */
	s->incoming = true;
	s->state = LUO_STATE_UPDATED;
	luo_core.state = LUO_STATE_UPDATED;
	assert_int_equal(core_create_session("new", 0, &r), 0); /* allowed in UPDATED */
	assert_int_equal(core_retrieve_session("u", 0, &r), 0);
	r->handle = &handle_token;
	session_handle_closed(r); /* closing a retrieved session finishes it */
	assert_null(core_find_session("u"));
	assert_int_equal(luo_core.state, LUO_STATE_NORMAL);
}

/* Sessions taken back after a crash bump the generation, which never wraps to 0. */
static void test_generation_saturates(void **state)
{
	(void)state;
	luo_core.generation = 5;
	core_adopt_crash(true, UINT64_MAX - 1, 0, 1);
	assert_true(luo_core.generation == UINT64_MAX);
	core_adopt_crash(true, UINT64_MAX, 0, 1);
	assert_true(luo_core.generation == UINT64_MAX);
	core_adopt_crash(false, 0, 0, 0); /* nothing taken back: unchanged */
	assert_true(luo_core.generation == UINT64_MAX);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_setup_teardown(test_global_transitions, reset, reset),
	cmocka_unit_test_setup_teardown(test_no_new_sessions_during_update, reset, reset),
	cmocka_unit_test_setup_teardown(test_session_transitions, reset, reset),
	cmocka_unit_test_setup_teardown(test_close_before_freeze_unpreserves, reset, reset),
	cmocka_unit_test_setup_teardown(test_cancel_keeps_abandoned_frozen_session, reset, reset),
	cmocka_unit_test_setup_teardown(test_freeze_failure_rolls_back, reset, reset),
	cmocka_unit_test_setup_teardown(test_freeze_many, reset, reset),
	cmocka_unit_test_setup_teardown(test_batch_all_or_nothing, reset, reset),
	cmocka_unit_test_setup_teardown(test_updated_until_finished, reset, reset),
	cmocka_unit_test_setup_teardown(test_generation_saturates, reset, reset),
};

LUO_TEST_MAIN("state", tests, NULL, NULL)
