// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * CANCEL at each stage of the global update, driven both by `luoctl
 * prepare/freeze/cancel` and by luo_set_event(): every session goes back to
 * the state it had, every file stays preserved with its contents, and
 * preserving works again afterwards; a real update then still carries all.
 */
#include <errno.h>
#include <stdio.h>
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

enum how { VIA_LUOCTL, VIA_API };

static void event(int dev, enum how how, enum luo_event ev, const char *want_state)
{
	static const char *const names[] = { "prepare", "freeze", "cancel", "finish" };
	char out[256], want[128];

	if (how == VIA_API) {
		assert_int_equal(luo_set_event(dev, ev), 0);
	} else {
		assert_int_equal(luoctl(&d, out, sizeof(out), names[ev], "--json", NULL), 0);
		snprintf(want, sizeof(want), "{\"event\": \"%s\", \"state\": \"%s\"}\n", names[ev],
			 want_state);
		assert_string_equal(out, want);
	}
	e2e_assert_state(&d, want_state);
}

static void session_state_is(int s, enum luo_state want)
{
	enum luo_state st;
	bool incoming = true;

	assert_int_equal(luo_session_get_state(s, &st, &incoming), 0);
	assert_int_equal(st, want);
	assert_false(incoming);
}

/* "full" holds two memfds, "empty" none, "own" was prepared on its own before. */
struct world {
	int dev, full, empty, own;
	int fds[3];
	int extra; /* preserved after the cancel */
};

static void world_make(struct world *w)
{
	w->dev = e2e_open(&d);
	w->full = luo_create_session(w->dev, "full");
	w->empty = luo_create_session(w->dev, "empty");
	w->own = luo_create_session(w->dev, "own");
	assert_true(w->full >= 0 && w->empty >= 0 && w->own >= 0);
	for (int i = 0; i < 3; i++)
		w->fds[i] = memfd_pattern("w", 8192 * (size_t)(i + 1), 60u + (uint32_t)i);
	assert_int_equal(luo_session_preserve_fd(w->full, w->fds[0], 1), 0);
	assert_int_equal(luo_session_preserve_fd(w->full, w->fds[1], 2), 0);
	assert_int_equal(luo_session_preserve_fd(w->own, w->fds[2], 1), 0);
	assert_int_equal(luo_session_set_event(w->own, LUO_EVENT_PREPARE), 0);
	w->extra = -1;
}

static void world_check(struct world *w, enum luo_state sessions, bool frozen)
{
	char out[8192];

	session_state_is(w->full, sessions);
	session_state_is(w->empty, sessions);
	session_state_is(w->own, sessions == LUO_STATE_NORMAL ? LUO_STATE_PREPARED : sessions);
	assert_int_equal(e2e_session_files(&d, "full"), 2);
	assert_int_equal(e2e_session_files(&d, "empty"), 0);
	assert_int_equal(e2e_session_files(&d, "own"), 1);
	assert_int_equal(luoctl(&d, out, sizeof(out), "show", "full", "--json", NULL), 0);
	assert_non_null(strstr(out, frozen ? "\"frozen\": true" : "\"frozen\": false"));
	assert_null(strstr(out, frozen ? "\"frozen\": false" : "\"frozen\": true"));
	for (int i = 0; i < 3; i++)
		assert_true(memfd_pattern_ok(w->fds[i], 8192 * (size_t)(i + 1), 60u + (uint32_t)i));
}

/* After a cancel: preserve and unpreserve work again, in every session that is NORMAL. */
static void world_preserve_again(struct world *w)
{
	w->extra = memfd_pattern("extra", 4096, 70);
	assert_int_equal(luo_session_preserve_fd(w->empty, w->extra, 9), 0);
	assert_int_equal(luo_session_unpreserve_fd(w->full, 2), 0);
	assert_int_equal(luo_session_preserve_fd(w->full, w->fds[1], 2), 0);
	/* "own" is still prepared on its own: busy until its own CANCEL */
	assert_int_equal(luo_session_unpreserve_fd(w->own, 1), -EBUSY);
	assert_int_equal(luo_session_set_event(w->own, LUO_EVENT_CANCEL), 0);
	assert_int_equal(luo_session_unpreserve_fd(w->own, 1), 0);
	assert_int_equal(luo_session_preserve_fd(w->own, w->fds[2], 1), 0);
	assert_int_equal(e2e_session_files(&d, "empty"), 1);
}

/* The cancelled world still crosses a real update whole. */
static void world_update(struct world *w)
{
	static const char *const names[] = { "full", "empty", "own" };
	static const uint64_t tokens[][2] = { { 1, 2 }, { 9, 0 }, { 1, 0 } };
	static const int fdi[][2] = { { 0, 1 }, { 3, -1 }, { 2, -1 } };
	int dev;

	luod_update(&d, NULL);
	close(w->dev);
	close(w->full);
	close(w->empty);
	close(w->own);
	dev = e2e_open(&d);
	for (int s = 0; s < 3; s++) {
		int h = luo_retrieve_session(dev, names[s]);

		assert_true(h >= 0);
		for (int f = 0; f < 2 && fdi[s][f] >= 0; f++) {
			int fd = luo_session_retrieve_fd(h, tokens[s][f]);
			int i = fdi[s][f];

			assert_true(fd >= 0);
			if (i == 3)
				assert_true(memfd_pattern_ok(fd, 4096, 70));
			else
				assert_true(memfd_pattern_ok(fd, 8192 * (size_t)(i + 1), 60u + (uint32_t)i));
			close(fd);
		}
		assert_int_equal(luo_session_finish(h), 0);
		close(h);
	}
	e2e_assert_state(&d, "normal");
	for (int i = 0; i < 3; i++)
		close(w->fds[i]);
	close(w->extra);
	close(dev);
}

static void cancel_after_prepare(enum how how)
{
	struct world w;

	world_make(&w);
	event(w.dev, how, LUO_EVENT_PREPARE, "prepared");
	world_check(&w, LUO_STATE_PREPARED, false);
	assert_int_equal(luo_session_unpreserve_fd(w.full, 1), -EBUSY);
	event(w.dev, how, LUO_EVENT_CANCEL, "normal");
	world_check(&w, LUO_STATE_NORMAL, false);
	world_preserve_again(&w);
	world_update(&w);
}

static void cancel_after_freeze(enum how how, bool prepare_first)
{
	struct world w;
	int fd;

	world_make(&w);
	if (prepare_first) {
		event(w.dev, how, LUO_EVENT_PREPARE, "prepared");
		world_check(&w, LUO_STATE_PREPARED, false);
	}
	event(w.dev, how, LUO_EVENT_FREEZE, "frozen");
	world_check(&w, LUO_STATE_FROZEN, true);
	fd = memfd_pattern("late", 4096, 1);
	assert_int_equal(luo_session_preserve_fd(w.empty, fd, 1), -EBUSY);
	event(w.dev, how, LUO_EVENT_CANCEL, "normal");
	world_check(&w, LUO_STATE_NORMAL, false);
	/* the fd refused while frozen was not kept */
	assert_int_equal(luo_session_preserve_fd(w.empty, fd, 1), 0);
	assert_int_equal(luo_session_unpreserve_fd(w.empty, 1), 0);
	close(fd);
	world_preserve_again(&w);
	world_update(&w);
}

static void test_prepare_cancel_luoctl(void **state)
{
	(void)state;
	cancel_after_prepare(VIA_LUOCTL);
}

static void test_prepare_cancel_api(void **state)
{
	(void)state;
	cancel_after_prepare(VIA_API);
}

static void test_prepare_freeze_cancel_luoctl(void **state)
{
	(void)state;
	cancel_after_freeze(VIA_LUOCTL, true);
}

static void test_prepare_freeze_cancel_api(void **state)
{
	(void)state;
	cancel_after_freeze(VIA_API, true);
}

static void test_freeze_cancel_luoctl(void **state)
{
	(void)state;
	cancel_after_freeze(VIA_LUOCTL, false);
}

static void test_freeze_cancel_api(void **state)
{
	(void)state;
	cancel_after_freeze(VIA_API, false);
}

/* Cancelling an update started while incoming sessions wait goes back to UPDATED. */
static void test_cancel_in_updated(void **state)
{
	int dev = e2e_open(&d), s = luo_create_session(dev, "waiting"), fd = memfd_pattern("w", 4096, 8);
	int h, r;

	(void)state;
	assert_int_equal(luo_session_preserve_fd(s, fd, 1), 0);
	luod_update(&d, NULL);
	close(s);
	close(dev);
	dev = e2e_open(&d);
	event(dev, VIA_API, LUO_EVENT_PREPARE, "prepared");
	event(dev, VIA_LUOCTL, LUO_EVENT_FREEZE, "frozen");
	event(dev, VIA_API, LUO_EVENT_CANCEL, "updated");
	assert_int_equal(e2e_session_files(&d, "waiting"), 1);
	h = luo_retrieve_session(dev, "waiting");
	assert_true(h >= 0);
	r = luo_session_retrieve_fd(h, 1);
	assert_true(memfd_pattern_ok(r, 4096, 8));
	close(r);
	assert_int_equal(luo_session_finish(h), 0);
	close(h);
	e2e_assert_state(&d, "normal");
	close(fd);
	close(dev);
}

/* A session whose last handle closes while frozen stays, frozen, and can be retrieved by name. */
static void test_closed_while_frozen(void **state)
{
	int dev = e2e_open(&d), s = luo_create_session(dev, "left"), fd = memfd_pattern("l", 4096, 3);
	int h, r;

	(void)state;
	assert_int_equal(luo_session_preserve_fd(s, fd, 4), 0);
	event(dev, VIA_API, LUO_EVENT_FREEZE, "frozen");
	close(s);
	/* dev may be ahead of the closed handle in luod's ready list: order them */
	e2e_barrier(&d);
	event(dev, VIA_API, LUO_EVENT_CANCEL, "normal");
	assert_true(e2e_session_listed(&d, "left"));
	assert_int_equal(e2e_session_files(&d, "left"), 1);
	h = luo_retrieve_session(dev, "left");
	assert_true(h >= 0);
	r = luo_session_retrieve_fd(h, 4);
	assert_true(memfd_pattern_ok(r, 4096, 3));
	close(r);
	assert_int_equal(luo_session_finish(h), 0);
	close(h);
	assert_false(e2e_session_listed(&d, "left"));
	close(fd);
	close(dev);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_setup_teardown(test_prepare_cancel_luoctl, setup, teardown),
	cmocka_unit_test_setup_teardown(test_prepare_cancel_api, setup, teardown),
	cmocka_unit_test_setup_teardown(test_prepare_freeze_cancel_luoctl, setup, teardown),
	cmocka_unit_test_setup_teardown(test_prepare_freeze_cancel_api, setup, teardown),
	cmocka_unit_test_setup_teardown(test_freeze_cancel_luoctl, setup, teardown),
	cmocka_unit_test_setup_teardown(test_freeze_cancel_api, setup, teardown),
	cmocka_unit_test_setup_teardown(test_cancel_in_updated, setup, teardown),
	cmocka_unit_test_setup_teardown(test_closed_while_frozen, setup, teardown),
};

LUO_TEST_MAIN("cancel", tests, NULL, NULL)
