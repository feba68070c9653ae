// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Session names and tokens at their limits across an update: 63-byte
 * names, names that are not valid FDT node names (and one that collides
 * with the fallback node name luod picks for those), tokens 0 and
 * UINT64_MAX, sealed and empty memfds. Each is retrieved by exactly its
 * name and token afterwards.
 */
#include <errno.h>
#include <fcntl.h>
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

static void test_odd_names_cross(void **state)
{
	char long63[LUO_NAME_MAX], long63b[LUO_NAME_MAX];
	const char *names[] = {
		"with space", /* not a node name: "session-0" */
		"session-0",  /* a valid node name, the same as the fallback above */
		"a/b@c",
		"session-2",
		long63,
		long63b,
		"\xc3\xa9t\xc3\xa9", /* UTF-8 */
		"x",
	};
	enum { NS = sizeof(names) / sizeof(names[0]) };
	static const uint64_t tokens[] = { 0, UINT64_MAX, 1ull << 63 };
	int dev = e2e_open(&d), s[NS], fds[NS][3];

	(void)state;
	memset(long63, 'L', LUO_NAME_MAX - 1);
	long63[LUO_NAME_MAX - 1] = '\0';
	memcpy(long63b, long63, sizeof(long63));
	long63b[LUO_NAME_MAX - 2] = 'M'; /* differs in the last byte only */

	for (int i = 0; i < NS; i++) {
		s[i] = luo_create_session(dev, names[i]);
		assert_true(s[i] >= 0);
		for (int t = 0; t < 3; t++) {
			fds[i][t] = memfd_pattern(names[i], t == 2 ? 0 : 4096u * (unsigned)(t + 1),
						  (uint32_t)(i * 10 + t));
			if (t == 1)
				assert_int_equal(fcntl(fds[i][t], F_ADD_SEALS,
						       F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL), 0);
			assert_int_equal(luo_session_preserve_fd(s[i], fds[i][t], tokens[t]), 0);
		}
	}
	luod_update(&d, NULL);
	close(dev);
	assert_int_equal(luod_status_field(&d, "sessions"), NS);
	assert_int_equal(luod_status_field(&d, "files"), NS * 3);
	dev = e2e_open(&d);
	for (int i = 0; i < NS; i++) {
		char got[LUO_NAME_MAX];
		int h = luo_retrieve_session(dev, names[i]);

		assert_true(h >= 0);
		assert_int_equal(luo_session_get_name(h, got), 0);
		assert_string_equal(got, names[i]);
		for (int t = 0; t < 3; t++) {
			int fd = luo_session_retrieve_fd(h, tokens[t]);

			assert_true(fd >= 0);
			assert_true(memfd_pattern_ok(fd, t == 2 ? 0 : 4096u * (unsigned)(t + 1),
						     (uint32_t)(i * 10 + t)));
			if (t == 1)
				assert_int_equal(fcntl(fd, F_GET_SEALS),
						 F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
			close(fd);
			close(fds[i][t]);
		}
		assert_int_equal(luo_session_finish(h), 0);
		close(h);
		close(s[i]);
	}
	e2e_assert_state(&d, "normal");
	close(dev);
}

/* A memfd resized after its session froze is refused on retrieve (EIO), every time. */
static void test_changed_after_freeze(void **state)
{
	int dev = e2e_open(&d), s = luo_create_session(dev, "drift"), fd = memfd_pattern("d", 4096, 1);
	int ok = memfd_pattern("ok", 4096, 2), h, r;
	char out[8192];

	(void)state;
	assert_int_equal(luo_session_preserve_fd(s, fd, 1), 0);
	assert_int_equal(luo_session_preserve_fd(s, ok, 2), 0);
	/* changes before FREEZE are fine: FREEZE records the state to find */
	assert_int_equal(ftruncate(fd, 8192), 0);
	assert_int_equal(luo_session_set_event(s, LUO_EVENT_FREEZE), 0);
	assert_int_equal(ftruncate(fd, 12288), 0);
	close(s);
	h = luo_retrieve_session(dev, "drift");
	assert_true(h >= 0);
	assert_int_equal(luo_session_retrieve_fd(h, 1), -EIO);
	assert_int_equal(luo_session_retrieve_fd(h, 1), -EIO);
	assert_int_equal(luoctl(&d, out, sizeof(out), "show", "drift", "--json", NULL), 0);
	assert_non_null(strstr(out, "\"retrieve_error\": -5}"));
	r = luo_session_retrieve_fd(h, 2);
	assert_true(memfd_pattern_ok(r, 4096, 2));
	close(r);
	assert_int_equal(luo_session_finish(h), 0);
	close(h);
	assert_false(e2e_session_listed(&d, "drift"));
	close(fd);
	close(ok);
	close(dev);
}

/* luod's own sockets are not files a session can hold. */
static void test_own_sockets_refused(void **state)
{
	int dev = e2e_open(&d), s = luo_create_session(dev, "self"), t = luo_create_session(dev, "t");

	(void)state;
	assert_int_equal(luo_session_preserve_fd(s, dev, 1), -ENOENT);
	assert_int_equal(luo_session_preserve_fd(s, s, 2), -ENOENT);
	assert_int_equal(luo_session_preserve_fd(s, t, 3), -ENOENT);
	assert_int_equal(e2e_session_files(&d, "self"), 0);
	close(t);
	close(s);
	close(dev);
}

/* Global FINISH releases a retrieved session whose handle is still open; the handle stays answerable. */
static void test_finish_with_held_handle(void **state)
{
	int dev = e2e_open(&d), s = luo_create_session(dev, "held"), fd = memfd_pattern("h", 4096, 1);
	char name[LUO_NAME_MAX];
	int h;

	(void)state;
	assert_int_equal(luo_session_preserve_fd(s, fd, 1), 0);
	luod_update(&d, NULL);
	close(s);
	close(dev);
	dev = e2e_open(&d);
	h = luo_retrieve_session(dev, "held");
	assert_true(h >= 0);
	assert_int_equal(luo_set_event(dev, LUO_EVENT_FINISH), 0);
	e2e_assert_state(&d, "normal");
	assert_false(e2e_session_listed(&d, "held"));
	assert_int_equal(luo_session_get_name(h, name), 0);
	assert_string_equal(name, "held");
	assert_int_equal(luo_session_retrieve_fd(h, 1), -ENOENT);
	close(h);
	e2e_barrier(&d);
	assert_int_equal(luod_status_field(&d, "sessions"), 0);
	close(fd);
	close(dev);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_setup_teardown(test_odd_names_cross, setup, teardown),
	cmocka_unit_test_setup_teardown(test_changed_after_freeze, setup, teardown),
	cmocka_unit_test_setup_teardown(test_own_sockets_refused, setup, teardown),
	cmocka_unit_test_setup_teardown(test_finish_with_held_handle, setup, teardown),
};

LUO_TEST_MAIN("names", tests, NULL, NULL)
