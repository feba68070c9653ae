/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Test harness: a real luod in a temporary directory, luoctl runs, and
 * memfds with verifiable contents. Binaries come from $LUOD and $LUOCTL
 * (set by meson test). Every test binary prints TAP through luo_test_run().
 */
#ifndef LUO_TEST_HARNESS_H
#define LUO_TEST_HARNESS_H

#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <cmocka.h>

#include "luo/luo.h"

struct luod_proc {
	pid_t pid;
	char dir[256];
	char sock[PATH_MAX];
	char state_dir[PATH_MAX];
	char log[PATH_MAX];
};

/* Start luod with its own socket and state dir; sets $LUO_SOCKET. extra: NULL-terminated args. */
void luod_start(struct luod_proc *d, ...);
/* SIGTERM, expect a clean exit, remove the directory. */
void luod_stop(struct luod_proc *d);
bool luod_alive(const struct luod_proc *d);
/* Open files of the luod process (from /proc/PID/fd). */
int luod_fd_count(const struct luod_proc *d);

/* Run luoctl --socket d->sock ARGS...; stdout into out; returns the exit status. */
int luoctl(const struct luod_proc *d, char *out, size_t outlen, ...);
/* luoctl update [--exec PATH]; asserts success. */
void luod_update(struct luod_proc *d, const char *exec_path);
/* The value of "key": N in luoctl status --json. */
long long luod_status_field(const struct luod_proc *d, const char *key);
/* "state" of luoctl status --json, into buf. */
void luod_status_state(const struct luod_proc *d, char *buf, size_t len);

/* A memfd of size bytes filled from seed; and its check. */
int memfd_pattern(const char *name, size_t size, uint32_t seed);
bool memfd_pattern_ok(int fd, size_t size, uint32_t seed);

int luo_test_run(const char *name, const struct CMUnitTest *tests, size_t n,
		 CMFixtureFunction setup, CMFixtureFunction teardown);
#define LUO_TEST_MAIN(name, tests, setup, teardown)                                      \
	int main(void)                                                                   \
	{                                                                                \
		return luo_test_run(name, tests, sizeof(tests) / sizeof(tests[0]), setup, \
				    teardown);                                           \
	}

#endif
