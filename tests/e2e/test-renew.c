// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * RENEW and the instance id: a retrieved incoming session turned back into
 * an outgoing one in one step, keeping every file, with no moment where
 * only the client holds the fds; and the id that tells a luod update from
 * a restart after a crash from no restart at all.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "e2e.h"

#define NF 3
static const uint64_t tokens[NF] = { 7, 8, 9 };
static const size_t sizes[NF] = { 4096, 1 << 16, 77 };

/* Session name with NF pattern memfds that only luod keeps (ours are closed). */
static int make_session(int dev, const char *name, uint32_t seed)
{
	int s = luo_create_session(dev, name), fds[NF];

	assert_true(s >= 0);
	for (int i = 0; i < NF; i++) {
		fds[i] = memfd_pattern(name, sizes[i], seed + (uint32_t)i);
		assert_true(fds[i] >= 0);
	}
	assert_int_equal(luo_session_preserve_fds(s, fds, tokens, NF), 0);
	for (int i = 0; i < NF; i++)
		close(fds[i]);
	return s;
}

static void check_files(int s, uint32_t seed)
{
	int fds[NF];

	assert_int_equal(luo_session_retrieve_fds(s, tokens, fds, NF), 0);
	for (int i = 0; i < NF; i++) {
		assert_true(memfd_pattern_ok(fds[i], sizes[i], seed + (uint32_t)i));
		close(fds[i]);
	}
}

static void instance(const struct luod_proc *d, uint64_t *id, uint64_t *pred)
{
	int dev = e2e_open(d);

	assert_int_equal(luo_get_instance(dev, id, pred), 0);
	assert_true(*id != 0);
	close(dev);
}

/* After a live update: retrieve, RENEW, and the session is outgoing again with every file. */
static void test_renew_after_update(void **state)
{
	struct luod_proc d;
	uint64_t id0, id1, pred;
	enum luo_state st;
	bool incoming;
	int dev, s;

	(void)state;
	luod_start(&d, NULL);
	instance(&d, &id0, &pred);
	assert_int_equal(pred, 0);
	dev = e2e_open(&d);
	s = make_session(dev, "renew", 40);
	close(dev);
	luod_update(&d, NULL); /* our handle hangs up: the session is incoming there */
	close(s);
	instance(&d, &id1, &pred);
	assert_true(id1 != id0);
	assert_true(pred == id0); /* a live update, from the luod we knew */

	dev = e2e_open(&d);
	s = luo_retrieve_session(dev, "renew");
	assert_true(s >= 0);
	assert_int_equal(luo_session_renew(s), 0);
	assert_int_equal(luo_session_get_state(s, &st, &incoming), 0);
	assert_int_equal(st, LUO_STATE_NORMAL);
	assert_false(incoming);
	assert_int_equal(luo_session_renew(s), -EINVAL); /* outgoing now */
	assert_int_equal(e2e_session_files(&d, "renew"), NF);
	e2e_assert_state(&d, "normal"); /* the last incoming session is done */
	/* an outgoing session like any other: it takes fds, and freezes */
	{
		int extra = memfd_pattern("extra", 100, 5);

		assert_int_equal(luo_session_preserve_fd(s, extra, 99), 0);
		assert_int_equal(luo_session_unpreserve_fd(s, 99), 0);
		close(extra);
	}
	assert_int_equal(luo_session_set_event(s, LUO_EVENT_FREEZE), 0);
	close(s); /* frozen: luod holds it */
	e2e_barrier(&d);
	luod_update(&d, NULL);
	s = luo_retrieve_session(dev, "renew");
	if (s < 0) { /* the device connection closed at the update */
		close(dev);
		dev = e2e_open(&d);
		s = luo_retrieve_session(dev, "renew");
	}
	assert_true(s >= 0);
	check_files(s, 40); /* the bytes, carried by luod alone through both updates */
	assert_int_equal(luo_session_finish(s), 0);
	close(s);
	close(dev);
	luod_stop(&d);
}

/*
 * A file another outgoing session holds: EBUSY, and the session is exactly
 * as it was. An incoming session after a live update: its files are not
 * outgoing, so a retrieved one can go into another session meanwhile.
 */
static void test_renew_busy(void **state)
{
	struct luod_proc d;
	enum luo_state st;
	bool incoming;
	int dev, s, other, fd;

	(void)state;
	luod_start(&d, NULL);
	dev = e2e_open(&d);
	s = make_session(dev, "held", 60);
	close(dev);
	luod_update(&d, NULL);
	close(s);
	dev = e2e_open(&d);
	s = luo_retrieve_session(dev, "held");
	assert_true(s >= 0);
	fd = luo_session_retrieve_fd(s, tokens[1]);
	assert_true(fd >= 0);
	other = luo_create_session(dev, "other");
	assert_true(other >= 0);
	assert_int_equal(luo_session_preserve_fd(other, fd, 1), 0);
	assert_int_equal(luo_session_renew(s), -EBUSY);
	assert_int_equal(luo_session_get_state(s, &st, &incoming), 0);
	assert_true(incoming);
	assert_int_equal(st, LUO_STATE_UPDATED);
	check_files(s, 60); /* every file still there, still retrievable */
	assert_int_equal(luo_session_unpreserve_fd(other, 1), 0);
	assert_int_equal(luo_session_renew(s), 0);
	assert_int_equal(luo_session_get_state(s, &st, &incoming), 0);
	assert_false(incoming);
	/* outgoing: the same open file cannot go into a second session now */
	assert_int_equal(luo_session_preserve_fd(other, fd, 1), -EBUSY);
	close(fd);
	close(other);
	close(s); /* outgoing NORMAL, last handle: its files are unpreserved */
	e2e_barrier(&d);
	assert_false(e2e_session_listed(&d, "held"));
	close(dev);
	luod_stop(&d);
}

/* Handed over in place (frozen, handle closed): RENEW keeps its files and their index. */
static void test_renew_in_place(void **state)
{
	struct luod_proc d;
	int dev, s, other, fd;

	(void)state;
	luod_start(&d, NULL);
	dev = e2e_open(&d);
	s = make_session(dev, "vm", 80);
	assert_int_equal(luo_session_set_event(s, LUO_EVENT_FREEZE), 0);
	close(s);
	e2e_barrier(&d);
	s = luo_retrieve_session(dev, "vm");
	assert_true(s >= 0);
	assert_int_equal(luo_session_renew(s), 0);
	fd = luo_session_retrieve_fd(s, tokens[0]);
	assert_int_equal(fd, -EINVAL); /* outgoing: nothing to retrieve */
	other = luo_create_session(dev, "other");
	assert_true(other >= 0);
	assert_int_equal(luo_session_set_event(s, LUO_EVENT_FREEZE), 0);
	close(s);
	e2e_barrier(&d);
	s = luo_retrieve_session(dev, "vm");
	assert_true(s >= 0);
	fd = luo_session_retrieve_fd(s, tokens[2]);
	assert_true(fd >= 0);
	/* still indexed as outgoing files are until finished: EBUSY elsewhere */
	assert_int_equal(luo_session_preserve_fd(other, fd, 1), -EBUSY);
	close(fd);
	check_files(s, 80);
	assert_int_equal(luo_session_finish(s), 0);
	close(s);
	close(other);
	close(dev);
	luod_stop(&d);
}

/*
 * RENEW frozen: outgoing and FROZEN in one request, so the handle's close
 * right after it (a supervisor SIGKILLed) leaves a session luod keeps, with
 * every byte, retrievable by the next process. Plain RENEW then closing
 * the handle: the session ends, which is what the frozen form avoids.
 */
static void test_renew_frozen(void **state)
{
	struct luod_proc d;
	enum luo_state st;
	bool incoming;
	int dev, s;

	(void)state;
	luod_start(&d, NULL);
	dev = e2e_open(&d);
	s = make_session(dev, "kept", 60);
	assert_int_equal(luo_session_set_event(s, LUO_EVENT_FREEZE), 0);
	close(s);
	e2e_barrier(&d);
	s = luo_retrieve_session(dev, "kept");
	assert_true(s >= 0);
	assert_int_equal(luo_session_renew_frozen(s), 0);
	assert_int_equal(luo_session_get_state(s, &st, &incoming), 0);
	assert_int_equal(st, LUO_STATE_FROZEN);
	assert_false(incoming);
	assert_int_equal(luo_session_renew_frozen(s), -EINVAL); /* outgoing now */
	close(s); /* the supervisor dies here */
	e2e_barrier(&d);
	assert_int_equal(e2e_session_files(&d, "kept"), NF);
	s = luo_retrieve_session(dev, "kept");
	assert_true(s >= 0);
	check_files(s, 60);
	/* plain RENEW, then the handle closes: an outgoing NORMAL session ends */
	assert_int_equal(luo_session_renew(s), 0);
	close(s);
	e2e_barrier(&d);
	assert_false(e2e_session_listed(&d, "kept"));
	close(dev);
	luod_stop(&d);
}

/* No restart: the same id; a restart after a crash: a new id and no predecessor. */
static void test_instance(void **state)
{
	struct luod_proc d;
	uint64_t id0, id1, pred;
	char out[4096], buf[64];
	int dev, s;

	(void)state;
	luod_start(&d, NULL);
	instance(&d, &id0, &pred);
	dev = e2e_open(&d);
	s = make_session(dev, "x", 1);
	assert_int_equal(luoctl(&d, out, sizeof(out), "update", "--session", "x", NULL), 0);
	close(s);
	instance(&d, &id1, &pred);
	assert_true(id1 == id0); /* update --session: luod did not restart */
	assert_int_equal(luoctl(&d, out, sizeof(out), "status", "--json", NULL), 0);
	e2e_json_str(out, "instance", buf, sizeof(buf));
	assert_int_equal(strtoull(buf, NULL, 16), id0);
	close(dev);
	e2e_crash(&d);
	e2e_restart(&d);
	instance(&d, &id1, &pred);
	assert_true(id1 != id0);
	assert_int_equal(pred, 0); /* not a live update */
	luod_stop(&d);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_renew_after_update),
	cmocka_unit_test(test_renew_busy),
	cmocka_unit_test(test_renew_in_place),
	cmocka_unit_test(test_renew_frozen),
	cmocka_unit_test(test_instance),
};

LUO_TEST_MAIN("e2e-renew", tests, NULL, NULL)
