// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The global live update end to end: memfds preserved in several sessions
 * (empty ones too) cross `luoctl update` while luod re-execs itself, are
 * retrieved by token with their contents intact, and the sessions are
 * finished. Generation and global state follow each step; incoming
 * sessions nobody retrieved are released by the next update; a retrieved
 * session closed without FINISH is finished implicitly; data survives
 * several updates in a row.
 */
#include <dirent.h>
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

#define NSESS 4
#define NFILES 3

static size_t file_size(int s, int f)
{
	/* empty, sub-page and multi-page sizes */
	static const size_t sizes[] = { 0, 100, 4096, 3 * 65536 + 12 };

	return sizes[(s + f) % 4];
}

static uint32_t file_seed(int s, int f)
{
	return 1000u * (uint32_t)s + (uint32_t)f + 7;
}

static void test_update_carries_sessions(void **state)
{
	static const int nfiles[NSESS] = { NFILES, 0, 1, 0 }; /* sessions 1 and 3 are empty */
	int dev, sess[NSESS], fds[NSESS][NFILES];
	long long gen0 = luod_status_field(&d, "generation");
	pid_t pid = d.pid;
	char name[32];
	enum luo_state st;
	bool incoming;

	(void)state;
	e2e_assert_state(&d, "normal");
	dev = e2e_open(&d);
	/* before any update, no incoming session exists */
	assert_int_equal(luo_retrieve_session(dev, "s0"), -ENOENT);
	for (int s = 0; s < NSESS; s++) {
		snprintf(name, sizeof(name), "s%d", s);
		sess[s] = luo_create_session(dev, name);
		assert_true(sess[s] >= 0);
		for (int f = 0; f < nfiles[s]; f++) {
			fds[s][f] = memfd_pattern("carried", file_size(s, f), file_seed(s, f));
			assert_int_equal(luo_session_preserve_fd(sess[s], fds[s][f], 100 + f), 0);
			/* preserving leaves the caller's view untouched */
			assert_true(memfd_pattern_ok(fds[s][f], file_size(s, f), file_seed(s, f)));
		}
	}
	assert_int_equal(luod_status_field(&d, "sessions"), NSESS);
	assert_int_equal(luod_status_field(&d, "files"), NFILES + 1);

	luod_update(&d, NULL);

	/* same process (execve), every old connection dropped */
	assert_int_equal(d.pid, pid);
	assert_int_equal(luod_status_field(&d, "pid"), pid);
	assert_int_equal(luo_create_session(dev, "late"), -ECONNRESET);
	close(dev);
	assert_int_equal(luo_session_get_state(sess[0], &st, &incoming), -ECONNRESET);
	for (int s = 0; s < NSESS; s++) {
		close(sess[s]);
		for (int f = 0; f < nfiles[s]; f++)
			close(fds[s][f]);
	}

	assert_int_equal(luod_status_field(&d, "generation"), gen0 + 1);
	assert_int_equal(luod_status_field(&d, "updates"), 1);
	assert_int_equal(luod_status_field(&d, "sessions"), NSESS);
	assert_int_equal(luod_status_field(&d, "incoming_sessions"), NSESS);
	assert_int_equal(luod_status_field(&d, "files"), NFILES + 1);
	e2e_assert_state(&d, "updated");

	dev = e2e_open(&d);
	assert_int_equal(luo_get_state(dev, &st), 0);
	assert_int_equal(st, LUO_STATE_UPDATED);
	for (int s = 0; s < NSESS; s++) {
		char got[LUO_NAME_MAX];
		int h;

		snprintf(name, sizeof(name), "s%d", s);
		assert_int_equal(e2e_session_files(&d, name), nfiles[s]);
		h = luo_retrieve_session(dev, name);
		assert_true(h >= 0);
		assert_int_equal(luo_session_get_name(h, got), 0);
		assert_string_equal(got, name);
		assert_int_equal(luo_session_get_state(h, &st, &incoming), 0);
		assert_int_equal(st, LUO_STATE_UPDATED);
		assert_true(incoming);
		for (int f = 0; f < nfiles[s]; f++) {
			int fd = luo_session_retrieve_fd(h, 100 + f);

			assert_true(fd >= 0);
			assert_true(memfd_pattern_ok(fd, file_size(s, f), file_seed(s, f)));
			close(fd);
		}
		/* the global state stays "updated" until the last incoming session is done */
		e2e_assert_state(&d, "updated");
		assert_int_equal(luo_session_finish(h), 0);
		close(h);
		assert_int_equal(luo_retrieve_session(dev, name), -ENOENT);
	}
	e2e_assert_state(&d, "normal");
	assert_int_equal(luod_status_field(&d, "sessions"), 0);
	assert_int_equal(luod_status_field(&d, "files"), 0);
	assert_int_equal(luod_status_field(&d, "generation"), gen0 + 1);

	/* and the names are free for the next generation */
	sess[0] = luo_create_session(dev, "s0");
	assert_true(sess[0] >= 0);
	close(sess[0]);
	close(dev);
}

/*
 * An incoming session nobody retrieves is released by the next update; one
 * retrieved and closed without FINISH is finished implicitly, and files it
 * never retrieved go with it.
 */
/* How many fds luod holds on the memfd created with this name. */
static int luod_memfds(const struct luod_proc *p, const char *name)
{
	char dir[64], link[PATH_MAX + 64], target[PATH_MAX], want[300];
	struct dirent *e;
	int n = 0;
	DIR *dp;

	e2e_barrier(&d); /* the successor serves */
	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)p->pid);
	snprintf(want, sizeof(want), "/memfd:%s (deleted)", name);
	dp = opendir(dir);
	assert_non_null(dp);
	while ((e = readdir(dp))) {
		ssize_t k;

		snprintf(link, sizeof(link), "%s/%s", dir, e->d_name);
		k = readlink(link, target, sizeof(target) - 1);
		if (k > 0) {
			target[k] = '\0';
			n += !strcmp(target, want);
		}
	}
	closedir(dp);
	return n;
}

static void test_incoming_lifetime(void **state)
{
	int dev, a, b, c, fa, fb1, fb2, fc, h, fd;

	(void)state;
	dev = e2e_open(&d);
	a = luo_create_session(dev, "ignored");
	b = luo_create_session(dev, "closed");
	c = luo_create_session(dev, "kept");
	fa = memfd_pattern("a", 8192, 1);
	fb1 = memfd_pattern("b1", 8192, 2);
	fb2 = memfd_pattern("b2", 8192, 3);
	fc = memfd_pattern("c", 8192, 4);
	assert_int_equal(luo_session_preserve_fd(a, fa, 1), 0);
	assert_int_equal(luo_session_preserve_fd(b, fb1, 1), 0);
	assert_int_equal(luo_session_preserve_fd(b, fb2, 2), 0);
	assert_int_equal(luo_session_preserve_fd(c, fc, 1), 0);
	luod_update(&d, NULL);
	close(dev);
	close(a);
	close(b);
	close(fa);
	close(fb1);
	close(fb2);
	assert_int_equal(luod_memfds(&d, "a"), 1); /* each file crossed once */
	assert_int_equal(luod_memfds(&d, "b1") + luod_memfds(&d, "b2") + luod_memfds(&d, "c"), 3);

	dev = e2e_open(&d);
	/* "closed": retrieve one of two files, close the handle without FINISH */
	h = luo_retrieve_session(dev, "closed");
	assert_true(h >= 0);
	fd = luo_session_retrieve_fd(h, 2);
	assert_true(fd >= 0);
	close(h);
	e2e_barrier(&d);
	assert_false(e2e_session_listed(&d, "closed"));
	assert_int_equal(luo_retrieve_session(dev, "closed"), -ENOENT);
	/* what was retrieved stays the caller's */
	assert_true(memfd_pattern_ok(fd, 8192, 3));
	close(fd);
	assert_int_equal(luod_status_field(&d, "sessions"), 2);
	assert_int_equal(luod_status_field(&d, "files"), 2);
	e2e_assert_state(&d, "updated");

	/* carry "kept" again: retrieve it, re-preserve its memfd in a new session */
	h = luo_retrieve_session(dev, "kept");
	assert_true(h >= 0);
	fd = luo_session_retrieve_fd(h, 1);
	assert_true(fd >= 0);
	assert_int_equal(luo_session_finish(h), 0);
	close(h);
	c = luo_create_session(dev, "kept");
	assert_true(c >= 0);
	assert_int_equal(luo_session_preserve_fd(c, fd, 1), 0);
	close(fd);

	/* "ignored" was never retrieved: the second update releases it */
	assert_true(e2e_session_listed(&d, "ignored"));
	luod_update(&d, NULL);
	close(dev);
	close(c);
	dev = e2e_open(&d);
	/* "ignored"'s memfd stayed behind at the execve (it is not carried), "kept"'s crossed */
	assert_int_equal(luod_memfds(&d, "a"), 0);
	assert_int_equal(luod_memfds(&d, "c"), 1);
	assert_false(e2e_session_listed(&d, "ignored"));
	assert_int_equal(luo_retrieve_session(dev, "ignored"), -ENOENT);
	assert_int_equal(luod_status_field(&d, "sessions"), 1);
	assert_int_equal(luod_status_field(&d, "files"), 1);
	h = luo_retrieve_session(dev, "kept");
	assert_true(h >= 0);
	fd = luo_session_retrieve_fd(h, 1);
	assert_true(memfd_pattern_ok(fd, 8192, 4));
	close(fd);
	assert_int_equal(luo_session_finish(h), 0);
	close(h);
	e2e_assert_state(&d, "normal");
	close(dev);
	close(fc);
}

/* Three updates in a row; after each one the data is retrieved, changed and preserved again. */
static void test_three_updates(void **state)
{
	enum { N = 3, SIZE = 65536 };
	long long gen0 = luod_status_field(&d, "generation");
	int dev, s, fds[N];

	(void)state;
	dev = e2e_open(&d);
	s = luo_create_session(dev, "chain");
	assert_true(s >= 0);
	for (int i = 0; i < N; i++) {
		fds[i] = memfd_pattern("chain", SIZE, 10u + (uint32_t)i);
		assert_int_equal(luo_session_preserve_fd(s, fds[i], (uint64_t)i << 40), 0);
	}

	for (int round = 1; round <= 3; round++) {
		luod_update(&d, NULL);
		close(dev);
		close(s);
		for (int i = 0; i < N; i++)
			close(fds[i]);
		assert_int_equal(luod_status_field(&d, "generation"), gen0 + round);
		assert_int_equal(luod_status_field(&d, "updates"), round);
		e2e_assert_state(&d, "updated");

		dev = e2e_open(&d);
		s = luo_retrieve_session(dev, "chain");
		assert_true(s >= 0);
		for (int i = 0; i < N; i++) {
			uint32_t seed = 10u * (uint32_t)round + (uint32_t)i;

			fds[i] = luo_session_retrieve_fd(s, (uint64_t)i << 40);
			assert_true(fds[i] >= 0);
			assert_true(memfd_pattern_ok(fds[i], SIZE, seed));
			/* the next generation gets new contents in the same memfd */
			e2e_fill(fds[i], SIZE, seed + 10);
		}
		assert_int_equal(luo_session_finish(s), 0);
		close(s);
		e2e_assert_state(&d, "normal");
		s = luo_create_session(dev, "chain");
		assert_true(s >= 0);
		for (int i = 0; i < N; i++)
			assert_int_equal(luo_session_preserve_fd(s, fds[i], (uint64_t)i << 40), 0);
	}
	for (int i = 0; i < N; i++) {
		assert_true(memfd_pattern_ok(fds[i], SIZE, 40u + (uint32_t)i));
		close(fds[i]);
	}
	close(s);
	close(dev);
}

/* The global FINISH event releases incoming sessions nobody retrieved. */
static void test_global_finish(void **state)
{
	int dev, s, fd = memfd_pattern("f", 4096, 5);

	(void)state;
	dev = e2e_open(&d);
	s = luo_create_session(dev, "unclaimed");
	assert_int_equal(luo_session_preserve_fd(s, fd, 9), 0);
	luod_update(&d, NULL);
	close(s);
	close(dev);
	e2e_assert_state(&d, "updated");
	assert_int_equal(luod_status_field(&d, "files"), 1);
	assert_int_equal(luoctl(&d, NULL, 0, "finish", NULL), 0);
	e2e_assert_state(&d, "normal");
	assert_int_equal(luod_status_field(&d, "sessions"), 0);
	assert_int_equal(luod_status_field(&d, "files"), 0);
	dev = e2e_open(&d);
	assert_int_equal(luo_retrieve_session(dev, "unclaimed"), -ENOENT);
	close(dev);
	close(fd);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_setup_teardown(test_update_carries_sessions, setup, teardown),
	cmocka_unit_test_setup_teardown(test_incoming_lifetime, setup, teardown),
	cmocka_unit_test_setup_teardown(test_three_updates, setup, teardown),
	cmocka_unit_test_setup_teardown(test_global_finish, setup, teardown),
};

LUO_TEST_MAIN("update", tests, NULL, NULL)
