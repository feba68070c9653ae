// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * luoctl as scripts use it: status, sessions and show with --json (valid
 * JSON, the documented fields, values that match luod's real state), and
 * the exit codes: 0 success, 1 luod refused or is unreachable, 2 usage.
 * sessions and show with more entries than one reply holds: every one,
 * in order, once, in the table and in JSON.
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

static void test_status_json(void **state)
{
	int dev = e2e_open(&d), a, b, fds[3];
	char out[4096], str[64];

	(void)state;
	assert_int_equal(luoctl(&d, out, sizeof(out), "status", "--json", NULL), 0);
	assert_true(e2e_json_valid(out));
	e2e_json_str(out, "state", str, sizeof(str));
	assert_string_equal(str, "normal");
	assert_int_equal(e2e_json_int(out, "generation"), 0);
	assert_int_equal(e2e_json_int(out, "sessions"), 0);
	assert_int_equal(e2e_json_int(out, "files"), 0);
	assert_int_equal(e2e_json_int(out, "pid"), d.pid);

	a = luo_create_session(dev, "a");
	b = luo_create_session(dev, "b");
	for (int i = 0; i < 3; i++)
		fds[i] = memfd_pattern("st", 4096, (uint32_t)i);
	assert_int_equal(luo_session_preserve_fd(a, fds[0], 1), 0);
	assert_int_equal(luo_session_preserve_fd(a, fds[1], 2), 0);
	assert_int_equal(luo_session_preserve_fd(b, fds[2], 1), 0);
	/* options before the command work as well */
	assert_int_equal(luoctl(&d, out, sizeof(out), "--json", "status", NULL), 0);
	assert_true(e2e_json_valid(out));
	assert_int_equal(e2e_json_int(out, "sessions"), 2);
	assert_int_equal(e2e_json_int(out, "files"), 3);
	assert_int_equal(e2e_json_int(out, "incoming_sessions"), 0);

	luod_update(&d, NULL);
	assert_int_equal(luoctl(&d, out, sizeof(out), "status", "--json", NULL), 0);
	assert_true(e2e_json_valid(out));
	e2e_json_str(out, "state", str, sizeof(str));
	assert_string_equal(str, "updated");
	assert_int_equal(e2e_json_int(out, "generation"), 1);
	assert_int_equal(e2e_json_int(out, "sessions"), 2);
	assert_int_equal(e2e_json_int(out, "incoming_sessions"), 2);
	assert_int_equal(e2e_json_int(out, "files"), 3);
	assert_int_equal(e2e_json_int(out, "updates"), 1);

	/* the human form carries the same facts */
	assert_int_equal(luoctl(&d, out, sizeof(out), "status", NULL), 0);
	assert_non_null(strstr(out, "state:       updated\n"));
	assert_non_null(strstr(out, "generation:  1\n"));
	assert_non_null(strstr(out, "sessions:    2 (2 incoming)\n"));
	assert_non_null(strstr(out, "files:       3\n"));
	for (int i = 0; i < 3; i++)
		close(fds[i]);
	close(a);
	close(b);
	close(dev);
}

static void test_sessions_json(void **state)
{
	static const char weird[] = "we\"ird\\name\ttab";
	int dev = e2e_open(&d), a, b, fd = memfd_pattern("x", 4096, 1);
	char out[65536];

	(void)state;
	assert_int_equal(luoctl(&d, out, sizeof(out), "sessions", "--json", NULL), 0);
	assert_string_equal(out, "[]\n");

	a = luo_create_session(dev, "web");
	b = luo_create_session(dev, weird);
	assert_true(a >= 0 && b >= 0);
	assert_int_equal(luo_session_preserve_fd(a, fd, 7), 0);
	assert_int_equal(luoctl(&d, out, sizeof(out), "sessions", "--json", NULL), 0);
	assert_true(e2e_json_valid(out));
	/* creation order, every field, names escaped */
	assert_non_null(strstr(out, "[{\"name\": \"web\", \"state\": \"normal\", \"incoming\": false, "
				    "\"retrieved\": false, \"attached\": true, \"uid\": "));
	assert_non_null(strstr(out, "\"files\": 1}, {\"name\": \"we\\\"ird\\\\name\\u0009tab\", "));
	assert_true(strstr(out, "\"web\"") < strstr(out, "\"we\\\""));

	luod_update(&d, NULL);
	assert_int_equal(luoctl(&d, out, sizeof(out), "sessions", "--json", NULL), 0);
	assert_true(e2e_json_valid(out));
	assert_non_null(strstr(out, "{\"name\": \"web\", \"state\": \"updated\", \"incoming\": true, "
				    "\"retrieved\": false, \"attached\": false, "));
	/* and the table */
	assert_int_equal(luoctl(&d, out, sizeof(out), "sessions", NULL), 0);
	assert_non_null(strstr(out, "NAME"));
	assert_non_null(strstr(out, "web"));
	assert_non_null(strstr(out, "incoming"));
	close(a);
	close(b);
	close(fd);
	close(dev);
}

static void test_show_json(void **state)
{
	int dev = e2e_open(&d), s, fds[2], h, r;
	char out[65536];

	(void)state;
	s = luo_create_session(dev, "shown");
	fds[0] = memfd_pattern("a", 4096, 1);
	fds[1] = memfd_pattern("b", 3 * 4096 + 5, 2);
	assert_int_equal(luo_session_preserve_fd(s, fds[0], 18446744073709551615ull), 0);
	assert_int_equal(luo_session_preserve_fd(s, fds[1], 42), 0);
	assert_int_equal(luoctl(&d, out, sizeof(out), "show", "shown", "--json", NULL), 0);
	assert_true(e2e_json_valid(out));
	assert_non_null(strstr(out, "{\"name\": \"shown\", \"state\": \"normal\", \"incoming\": false, "));
	assert_int_equal(e2e_json_int(out, "files"), 2);
	/* preservation order; tokens as unsigned 64-bit */
	assert_non_null(strstr(out, "\"file_list\": [{\"token\": 18446744073709551615, \"handler\": "
				    "\"memfd\", \"size\": 4096, \"frozen\": false, \"retrieved\": false, "
				    "\"retrieve_error\": 0}, {\"token\": 42, \"handler\": \"memfd\", "
				    "\"size\": 12293, "));

	luod_update(&d, NULL);
	close(s);
	close(dev);
	dev = e2e_open(&d);
	h = luo_retrieve_session(dev, "shown");
	r = luo_session_retrieve_fd(h, 42);
	assert_true(r >= 0);
	assert_int_equal(luoctl(&d, out, sizeof(out), "show", "shown", "--json", NULL), 0);
	assert_true(e2e_json_valid(out));
	assert_non_null(strstr(out, "\"state\": \"updated\", \"incoming\": true, \"retrieved\": true, "
				    "\"attached\": true, "));
	assert_non_null(strstr(out, "{\"token\": 42, \"handler\": \"memfd\", \"size\": 12293, "
				    "\"frozen\": true, \"retrieved\": true, \"retrieve_error\": 0}"));
	assert_non_null(strstr(out, "\"retrieved\": false, \"retrieve_error\": 0}, "));
	close(r);
	close(h);
	close(fds[0]);
	close(fds[1]);
	close(dev);
}

static uint64_t session_number_1(size_t i)
{
	return i + 1; /* q0001 is the list's second */
}

static void test_many_pages(void **state)
{
	static char out[1 << 20];
	const size_t nfiles = 2 * e2e_files_per_page() + e2e_files_per_page() / 2;
	const size_t nsessions = 2 * e2e_sessions_per_page() + 7;
	int dev = e2e_open(&d), s;
	char name[LUO_NAME_MAX], *table;

	(void)state;
	/* 3 SHOW pages */
	s = e2e_session_of_many(dev, "many", nfiles);
	assert_int_equal(luoctl(&d, out, sizeof(out), "--json", "show", "many", NULL), 0);
	assert_true(e2e_json_valid(out));
	e2e_assert_sequence(out, "{\"token\": ", nfiles, e2e_sparse_token);
	/* the table: the head once, then one line per file */
	assert_int_equal(luoctl(&d, out, sizeof(out), "show", "many", NULL), 0);
	table = strstr(out, "RETRIEVED\n");
	assert_non_null(table);
	assert_null(strstr(table + 1, "RETRIEVED\n"));
	assert_null(strstr(table, "session:"));
	e2e_assert_sequence(table, "\n", nfiles, e2e_sparse_token);
	/* the session kept in luod: this handle is not needed to list it */
	assert_int_equal(luo_session_set_event(s, LUO_EVENT_FREEZE), 0);
	close(s);

	/* 3 LIST pages: "many" first, then q0001, q0002, ..., held by luod */
	for (size_t i = 1; i < nsessions; i++) {
		snprintf(name, sizeof(name), "q%04zu", i);
		s = luo_create_session(dev, name);
		assert_true(s >= 0);
		assert_int_equal(luo_session_set_event(s, LUO_EVENT_FREEZE), 0);
		close(s);
	}
	e2e_barrier(&d);
	assert_int_equal(luoctl(&d, out, sizeof(out), "--json", "sessions", NULL), 0);
	assert_true(e2e_json_valid(out));
	assert_non_null(strstr(out, "[{\"name\": \"many\", "));
	e2e_assert_sequence(strstr(out, "}, ") + 1, "{\"name\": \"q", nsessions - 1, session_number_1);
	assert_int_equal(luoctl(&d, out, sizeof(out), "sessions", NULL), 0);
	assert_non_null(strstr(out, "\nmany "));
	e2e_assert_sequence(out, "\nq", nsessions - 1, session_number_1);
	close(dev);
}

static void test_exit_codes(void **state)
{
	char out[4096], name[LUO_NAME_MAX + 1];

	(void)state;
	/* usage errors: 2 */
	assert_int_equal(luoctl(&d, out, sizeof(out), "frobnicate", NULL), 2);
	assert_int_equal(luoctl(&d, out, sizeof(out), NULL), 2);
	assert_int_equal(luoctl(&d, out, sizeof(out), "show", NULL), 2);
	assert_int_equal(luoctl(&d, out, sizeof(out), "show", "a", "b", NULL), 2);
	assert_int_equal(luoctl(&d, out, sizeof(out), "status", "extra", NULL), 2);
	assert_int_equal(luoctl(&d, out, sizeof(out), "status", "--bogus", NULL), 2);
	assert_int_equal(luoctl(&d, out, sizeof(out), "status", "--exec", "/bin/true", NULL), 2);
	memset(name, 'x', LUO_NAME_MAX);
	name[LUO_NAME_MAX] = '\0';
	assert_int_equal(luoctl(&d, out, sizeof(out), "show", name, NULL), 2);
	assert_int_equal(luoctl(&d, out, sizeof(out), "show", "", NULL), 2);
	/* luod refused: 1 */
	assert_int_equal(luoctl(&d, out, sizeof(out), "show", "nosuchsession", NULL), 1);
	assert_int_equal(luoctl(&d, out, sizeof(out), "show", "nosuchsession", "--json", NULL), 1);
	assert_int_equal(luoctl(&d, out, sizeof(out), "cancel", NULL), 1);
	/* luod unreachable: 1 */
	assert_int_equal(luoctl(&d, out, sizeof(out), "status", "--socket", "/nonexistent/luod.sock",
				NULL), 1);
	/* success: 0 */
	assert_int_equal(luoctl(&d, out, sizeof(out), "--help", NULL), 0);
	assert_non_null(strstr(out, "Usage: luoctl"));
	assert_int_equal(luoctl(&d, out, sizeof(out), "status", NULL), 0);
	assert_true(luod_alive(&d));
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_setup_teardown(test_status_json, setup, teardown),
	cmocka_unit_test_setup_teardown(test_sessions_json, setup, teardown),
	cmocka_unit_test_setup_teardown(test_show_json, setup, teardown),
	cmocka_unit_test_setup_teardown(test_many_pages, setup, teardown),
	cmocka_unit_test_setup_teardown(test_exit_codes, setup, teardown),
};

LUO_TEST_MAIN("luoctl", tests, NULL, NULL)
