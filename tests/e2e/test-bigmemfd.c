// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * One 1 GiB memfd across an update: its contents are intact afterwards,
 * and nothing was copied: the handover FDT stays small and luod's resident
 * memory does not grow by the memfd's size.
 */
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

#define GIB (1024ul * 1024 * 1024)

static long rss_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	assert_true(kib > 0);
	return kib;
}

static void test_one_gib(void **state)
{
	int dev = e2e_open(&d), s, fd, h;
	char out[4096];

	(void)state;
	fd = memfd_pattern("guest-ram", GIB, 0x1ee7);
	s = luo_create_session(dev, "vm");
	assert_true(s >= 0);
	assert_int_equal(luo_session_preserve_fd(s, fd, 1), 0);
	assert_int_equal(luoctl(&d, out, sizeof(out), "show", "vm", "--json", NULL), 0);
	assert_int_equal(e2e_json_int(out, "size"), (long long)GIB);
	close(fd);

	assert_int_equal(luoctl(&d, out, sizeof(out), "update", "--json", NULL), 0);
	assert_true(luod_alive(&d));
	assert_int_equal(e2e_json_int(out, "files"), 1);
	/* metadata only */
	assert_true(e2e_json_int(out, "fdt_bytes") < 64 * 1024);
	assert_true(rss_kib(d.pid) < 64 * 1024);
	close(s);
	close(dev);

	dev = e2e_open(&d);
	h = luo_retrieve_session(dev, "vm");
	assert_true(h >= 0);
	fd = luo_session_retrieve_fd(h, 1);
	assert_true(fd >= 0);
	assert_true(memfd_pattern_ok(fd, GIB, 0x1ee7));
	assert_int_equal(luo_session_finish(h), 0);
	close(h);
	close(fd);
	close(dev);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_setup_teardown(test_one_gib, setup, teardown),
};

LUO_TEST_MAIN("bigmemfd", tests, NULL, NULL)
