// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Batch preserve and retrieve of 1000 memfds (four messages of at most 253
 * fds each) across an update, and the all-or-nothing rule: a batch with
 * one bad member, in any of its messages, leaves nothing preserved and no
 * fd open in luod or in the caller.
 */
#include <errno.h>
#include <fcntl.h>
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

#define N 1000
#define SIZE 256

static int fds[N];
static uint64_t tokens[N];

static void make_fds(void)
{
	for (int i = 0; i < N; i++) {
		fds[i] = memfd_pattern("batch", SIZE, (uint32_t)i);
		tokens[i] = 0xb000000000000000ull + (uint64_t)i * 7;
	}
}

static void close_fds(void)
{
	for (int i = 0; i < N; i++)
		close(fds[i]);
}

static void test_batch_across_update(void **state)
{
	int dev = e2e_open(&d), base = e2e_luod_fds(&d), s, own, got[N];

	(void)state;
	make_fds();
	s = luo_create_session(dev, "many");
	assert_true(s >= 0);
	assert_int_equal(luo_session_preserve_fds(s, fds, tokens, N), 0);
	assert_int_equal(e2e_session_files(&d, "many"), N);
	assert_int_equal(e2e_luod_fds(&d), base + 1 + N);
	/* each one is busy now */
	assert_int_equal(luo_session_preserve_fd(s, fds[N - 1], 1), -EBUSY);

	luod_update(&d, NULL);
	close(s);
	close(dev);
	close_fds();
	dev = e2e_open(&d);
	assert_int_equal(e2e_session_files(&d, "many"), N);
	s = luo_retrieve_session(dev, "many");
	assert_true(s >= 0);
	own = e2e_own_fd_count();
	assert_int_equal(luo_session_retrieve_fds(s, tokens, got, N), 0);
	assert_int_equal(e2e_own_fd_count(), own + N);
	for (int i = 0; i < N; i++) {
		assert_true(fcntl(got[i], F_GETFD) & FD_CLOEXEC);
		assert_true(memfd_pattern_ok(got[i], SIZE, (uint32_t)i));
		close(got[i]);
	}
	assert_int_equal(luo_session_finish(s), 0);
	close(s);
	e2e_assert_state(&d, "normal");
	assert_int_equal(luod_status_field(&d, "files"), 0);
	close(dev);
}

/* A bad fd at position bad: nothing of the batch stays, in luod or here. */
static void preserve_one_bad(int dev, int bad_fd, int bad)
{
	int s = luo_create_session(dev, "allornothing"), base, own, saved = fds[bad];

	assert_true(s >= 0);
	base = e2e_luod_fds(&d);
	own = e2e_own_fd_count();
	fds[bad] = bad_fd;
	assert_int_equal(luo_session_preserve_fds(s, fds, tokens, N), -ENOENT);
	fds[bad] = saved;
	assert_int_equal(e2e_session_files(&d, "allornothing"), 0);
	assert_int_equal(luod_status_field(&d, "files"), 0);
	assert_int_equal(e2e_luod_fds(&d), base);
	assert_int_equal(e2e_own_fd_count(), own);
	close(s);
}

static void test_batch_all_or_nothing(void **state)
{
	int dev = e2e_open(&d), null = open("/dev/null", O_RDWR | O_CLOEXEC), s, base, saved;

	(void)state;
	make_fds();
	/* first message, a middle one, the last one */
	preserve_one_bad(dev, null, 0);
	preserve_one_bad(dev, null, 600);
	preserve_one_bad(dev, null, N - 1);

	/* a token repeated in a later message: EEXIST, nothing kept */
	s = luo_create_session(dev, "dups");
	base = e2e_luod_fds(&d);
	tokens[900] = tokens[3];
	assert_int_equal(luo_session_preserve_fds(s, fds, tokens, N), -EEXIST);
	tokens[900] = 0xb000000000000000ull + 900 * 7;
	assert_int_equal(e2e_session_files(&d, "dups"), 0);
	assert_int_equal(e2e_luod_fds(&d), base);
	/* the same fd twice in one batch: EBUSY, nothing kept */
	saved = fds[N - 2];
	fds[N - 2] = fds[1];
	assert_int_equal(luo_session_preserve_fds(s, fds, tokens, N), -EBUSY);
	fds[N - 2] = saved;
	assert_int_equal(e2e_session_files(&d, "dups"), 0);
	assert_int_equal(e2e_luod_fds(&d), base);

	/* nothing of the failed batches is busy: the whole batch goes in now */
	assert_int_equal(luo_session_preserve_fds(s, fds, tokens, N), 0);
	assert_int_equal(e2e_session_files(&d, "dups"), N);
	close(s);
	assert_int_equal(luod_status_field(&d, "files"), 0);
	close(null);
	close_fds();
	close(dev);
}

static void test_retrieve_all_or_nothing(void **state)
{
	int dev = e2e_open(&d), s, own, got[N];

	(void)state;
	make_fds();
	s = luo_create_session(dev, "r");
	assert_int_equal(luo_session_preserve_fds(s, fds, tokens, N), 0);
	luod_update(&d, NULL);
	close(s);
	close(dev);
	close_fds();
	dev = e2e_open(&d);
	s = luo_retrieve_session(dev, "r");
	assert_true(s >= 0);
	own = e2e_own_fd_count();
	tokens[700] = 1; /* unknown, in the third message */
	for (int i = 0; i < N; i++)
		got[i] = -1;
	assert_int_equal(luo_session_retrieve_fds(s, tokens, got, N), -ENOENT);
	assert_int_equal(e2e_own_fd_count(), own);
	tokens[700] = 0xb000000000000000ull + 700 * 7;
	/* a failed batch changes nothing: the whole batch can be retrieved */
	assert_int_equal(luo_session_retrieve_fds(s, tokens, got, N), 0);
	for (int i = 0; i < N; i++) {
		assert_true(memfd_pattern_ok(got[i], SIZE, (uint32_t)i));
		close(got[i]);
	}
	assert_int_equal(luo_session_finish(s), 0);
	close(s);
	close(dev);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_setup_teardown(test_batch_across_update, setup, teardown),
	cmocka_unit_test_setup_teardown(test_batch_all_or_nothing, setup, teardown),
	cmocka_unit_test_setup_teardown(test_retrieve_all_or_nothing, setup, teardown),
};

LUO_TEST_MAIN("batch", tests, NULL, NULL)
