// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Session lifetime before the update: closing the last handle of an
 * outgoing session unpreserves its files and ends it (the name is free,
 * luod holds none of its fds any more); a handle is an ordinary fd that
 * can be duplicated, passed with SCM_RIGHTS or inherited, and closing the
 * device handle does not close sessions created through it.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
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

#define NF 5

static void test_close_unpreserves(void **state)
{
	int dev = e2e_open(&d), base = e2e_luod_fds(&d), s, fds[NF];

	(void)state;
	s = luo_create_session(dev, "gone");
	assert_true(s >= 0);
	for (int i = 0; i < NF; i++) {
		fds[i] = memfd_pattern("gone", 4096, (uint32_t)i);
		assert_int_equal(luo_session_preserve_fd(s, fds[i], (uint64_t)i), 0);
	}
	/* one fd for the handle, one per preserved file */
	assert_int_equal(e2e_luod_fds(&d), base + 1 + NF);
	assert_int_equal(luod_status_field(&d, "files"), NF);

	close(s);
	assert_int_equal(e2e_luod_fds(&d), base);
	assert_false(e2e_session_listed(&d, "gone"));
	assert_int_equal(luod_status_field(&d, "sessions"), 0);
	assert_int_equal(luod_status_field(&d, "files"), 0);
	assert_int_equal(luo_retrieve_session(dev, "gone"), -ENOENT);

	/* the name is free and the files are no longer busy */
	s = luo_create_session(dev, "gone");
	assert_true(s >= 0);
	for (int i = 0; i < NF; i++) {
		assert_true(memfd_pattern_ok(fds[i], 4096, (uint32_t)i));
		assert_int_equal(luo_session_preserve_fd(s, fds[i], (uint64_t)i), 0);
	}
	/* a session prepared on its own but closed before FREEZE ends the same way */
	assert_int_equal(luo_session_set_event(s, LUO_EVENT_PREPARE), 0);
	close(s);
	assert_int_equal(e2e_luod_fds(&d), base);
	assert_false(e2e_session_listed(&d, "gone"));
	for (int i = 0; i < NF; i++)
		close(fds[i]);
	close(dev);
}

static void test_last_handle(void **state)
{
	int dev = e2e_open(&d), base = e2e_luod_fds(&d), s, copy, fd = memfd_pattern("m", 4096, 1);
	char name[LUO_NAME_MAX];

	(void)state;
	s = luo_create_session(dev, "dup");
	assert_int_equal(luo_session_preserve_fd(s, fd, 1), 0);
	copy = dup(s);
	close(s);
	/* one copy left: the session lives and the copy works */
	assert_true(e2e_session_listed(&d, "dup"));
	assert_int_equal(luo_session_get_name(copy, name), 0);
	assert_string_equal(name, "dup");
	assert_int_equal(luo_session_unpreserve_fd(copy, 1), 0);
	assert_int_equal(luo_session_preserve_fd(copy, fd, 2), 0);
	assert_int_equal(e2e_session_files(&d, "dup"), 1);
	close(copy);
	assert_false(e2e_session_listed(&d, "dup"));
	assert_int_equal(e2e_luod_fds(&d), base);
	close(fd);
	close(dev);
}

/* Child side of the SCM_RIGHTS test: no cmocka in here, the exit status says what failed. */
static int child_use_handle(int sock, int ctl)
{
	char name[LUO_NAME_MAX], byte = 0;
	int s = e2e_recv_fd(sock), fd;

	if (s < 0)
		return 10;
	if (luo_session_get_name(s, name) < 0 || strcmp(name, "passed"))
		return 11;
	fd = memfd_pattern("child", 8192, 99);
	if (luo_session_preserve_fd(s, fd, 2) < 0)
		return 12;
	if (luo_session_preserve_fd(s, fd, 3) != -EBUSY)
		return 13;
	close(fd); /* luod holds its own copy */
	if (write(ctl, "p", 1) != 1 || read(ctl, &byte, 1) != 1 || byte != 'q')
		return 14;
	return 0;
}

static void test_handle_passed(void **state)
{
	int dev = e2e_open(&d), base = e2e_luod_fds(&d), sv[2], ctl[2], s, fd;
	char byte;
	pid_t pid;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ctl), 0);
	s = luo_create_session(dev, "passed");
	assert_true(s >= 0);
	fd = memfd_pattern("parent", 4096, 5);
	assert_int_equal(luo_session_preserve_fd(s, fd, 1), 0);

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(s); /* only the copy that travels with SCM_RIGHTS */
		close(dev);
		_exit(child_use_handle(sv[1], ctl[1]));
	}
	/* hand the session over and drop our copy: the one in flight keeps it alive */
	e2e_send_fd(sv[0], s);
	close(s);
	assert_int_equal(read(ctl[0], &byte, 1), 1);
	assert_int_equal(byte, 'p');
	/* what the child did through the passed handle is in luod */
	assert_true(e2e_session_listed(&d, "passed"));
	assert_int_equal(e2e_session_files(&d, "passed"), 2);
	assert_int_equal(e2e_luod_fds(&d), base + 1 + 2);
	assert_int_equal(write(ctl[0], "q", 1), 1);
	assert_int_equal(e2e_wait(pid), 0);
	/* the child held the last handle: its exit ended the session */
	assert_false(e2e_session_listed(&d, "passed"));
	assert_int_equal(e2e_luod_fds(&d), base);
	assert_true(memfd_pattern_ok(fd, 4096, 5));
	close(fd);
	close(sv[0]);
	close(sv[1]);
	close(ctl[0]);
	close(ctl[1]);
	close(dev);
}

static int child_hold(int ctl, const int *sess, int n)
{
	enum luo_state st;
	char byte;

	if (write(ctl, "r", 1) != 1 || read(ctl, &byte, 1) != 1)
		return 20;
	/* the update dropped every handle, as processes die in a kexec */
	for (int i = 0; i < n; i++)
		if (luo_session_get_state(sess[i], &st, NULL) != -ECONNRESET)
			return 21;
	return 0;
}

/*
 * As the upstream selftest: sessions created, the device closed, a child
 * that holds only the session fds, the parent lets go of everything; the
 * sessions live on and cross the update.
 */
static void test_device_close(void **state)
{
	int dev = e2e_open(&d), sess[2], fds[2], ctl[2];
	char name[LUO_NAME_MAX], byte;
	pid_t pid;

	(void)state;
	for (int i = 0; i < 2; i++) {
		snprintf(name, sizeof(name), "nodev%d", i);
		sess[i] = luo_create_session(dev, name);
		assert_true(sess[i] >= 0);
		fds[i] = memfd_pattern(name, 12288, 30u + (uint32_t)i);
		assert_int_equal(luo_session_preserve_fd(sess[i], fds[i], 1), 0);
	}
	close(dev);
	/* the sessions are intact and still take requests */
	assert_int_equal(luo_session_get_name(sess[1], name), 0);
	assert_string_equal(name, "nodev1");
	assert_int_equal(luo_session_unpreserve_fd(sess[0], 1), 0);
	assert_int_equal(luo_session_preserve_fd(sess[0], fds[0], 1), 0);
	assert_int_equal(e2e_session_files(&d, "nodev0"), 1);
	assert_int_equal(e2e_session_files(&d, "nodev1"), 1);

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ctl), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		close(fds[1]);
		_exit(child_hold(ctl[1], sess, 2));
	}
	close(sess[0]);
	close(sess[1]);
	assert_int_equal(read(ctl[0], &byte, 1), 1);
	assert_true(e2e_session_listed(&d, "nodev0"));
	assert_true(e2e_session_listed(&d, "nodev1"));

	luod_update(&d, NULL);
	assert_int_equal(write(ctl[0], "u", 1), 1);
	assert_int_equal(e2e_wait(pid), 0);
	dev = e2e_open(&d);
	for (int i = 0; i < 2; i++) {
		int s, fd;

		snprintf(name, sizeof(name), "nodev%d", i);
		s = luo_retrieve_session(dev, name);
		assert_true(s >= 0);
		fd = luo_session_retrieve_fd(s, 1);
		assert_true(memfd_pattern_ok(fd, 12288, 30u + (uint32_t)i));
		close(fd);
		assert_int_equal(luo_session_finish(s), 0);
		close(s);
		close(fds[i]);
	}
	e2e_assert_state(&d, "normal");
	close(ctl[0]);
	close(ctl[1]);
	close(dev);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_setup_teardown(test_close_unpreserves, setup, teardown),
	cmocka_unit_test_setup_teardown(test_last_handle, setup, teardown),
	cmocka_unit_test_setup_teardown(test_handle_passed, setup, teardown),
	cmocka_unit_test_setup_teardown(test_device_close, setup, teardown),
};

LUO_TEST_MAIN("lifetime", tests, NULL, NULL)
