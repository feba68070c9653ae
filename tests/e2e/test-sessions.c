// SPDX-License-Identifier: GPL-2.0-or-later
/* Sessions end to end: create, preserve, the errnos of DESIGN.md §4. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "harness.h"

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
	assert_true(luod_alive(&d)); /* no request may take luod down */
	luod_stop(&d);
	return 0;
}

static void test_create_duplicate_name(void **state)
{
	int dev = luo_open(NULL), a, b;

	(void)state;
	assert_true(dev >= 0);
	a = luo_create_session(dev, "alpha");
	assert_true(a >= 0);
	assert_int_equal(luo_create_session(dev, "alpha"), -EEXIST);
	b = luo_create_session(dev, "beta");
	assert_true(b >= 0);
	close(a);
	close(b);
	close(dev);
}

static void test_bad_names(void **state)
{
	char longname[LUO_NAME_MAX + 1], name[LUO_NAME_MAX];
	int dev = luo_open(NULL), s;

	(void)state;
	assert_int_equal(luo_create_session(dev, ""), -EINVAL);
	memset(longname, 'x', LUO_NAME_MAX);
	longname[LUO_NAME_MAX] = '\0';
	assert_int_equal(luo_create_session(dev, longname), -EINVAL);
	longname[LUO_NAME_MAX - 1] = '\0'; /* 63 bytes: the longest valid name */
	s = luo_create_session(dev, longname);
	assert_true(s >= 0);
	assert_int_equal(luo_session_get_name(s, name), 0);
	assert_string_equal(name, longname);
	close(s);
	close(dev);
}

static void test_preserve_twice_busy(void **state)
{
	int dev = luo_open(NULL), s1, s2, fd = memfd_pattern("m", 4096, 1);

	(void)state;
	s1 = luo_create_session(dev, "one");
	s2 = luo_create_session(dev, "two");
	assert_int_equal(luo_session_preserve_fd(s1, fd, 1), 0);
	assert_int_equal(luo_session_preserve_fd(s1, fd, 2), -EBUSY);
	assert_int_equal(luo_session_preserve_fd(s2, fd, 1), -EBUSY);
	assert_true(memfd_pattern_ok(fd, 4096, 1));
	close(fd);
	close(s1);
	close(s2);
	close(dev);
}

static void test_no_handler(void **state)
{
	int dev = luo_open(NULL), s, null = open("/dev/null", O_RDWR | O_CLOEXEC);

	(void)state;
	s = luo_create_session(dev, "nullish");
	assert_int_equal(luo_session_preserve_fd(s, null, 7), -ENOENT);
	close(null);
	close(s);
	close(dev);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_setup_teardown(test_create_duplicate_name, setup, teardown),
	cmocka_unit_test_setup_teardown(test_bad_names, setup, teardown),
	cmocka_unit_test_setup_teardown(test_preserve_twice_busy, setup, teardown),
	cmocka_unit_test_setup_teardown(test_no_handler, setup, teardown),
};

LUO_TEST_MAIN("sessions", tests, NULL, NULL)
