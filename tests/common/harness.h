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
/* SIGTERM, expect a clean exit, wait for its keeper to end, remove the directory. */
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

/*
 * Runs the cases (those matching $LUO_TEST_FILTER, a glob, if set). After
 * each case, its own teardown included, at exit and on SIGTERM or SIGINT
 * (meson's timeout), every process the case
 * started and left running is killed (tests/common/reap.c): a luod a failed
 * case did not stop, the keeper of a SIGKILLed luod, a luoctl exec and its
 * command. The test becomes its session's leader where it can (meson makes
 * it one) so that orphans are found too. Keepers are found by the socket
 * they listen on, in a directory of the test: luod_start() tracks its own;
 * a test that makes another directory for a luod tracks it here.
 */
void reap_track_dir(const char *dir);
/*
 * Wait (10 s at most) until no keeper of state_dir listens any more: a
 * keeper ends on the QUIT of a luod that stopped cleanly, in its own time,
 * and one that luod has just started may not even have run yet.
 * luod_stop() does; so does a test that stops luod itself.
 */
void reap_wait_keepers(const char *state_dir);
int luo_test_run(const char *name, const struct CMUnitTest *tests, size_t n,
		 CMFixtureFunction setup, CMFixtureFunction teardown);
#define LUO_TEST_MAIN(name, tests, setup, teardown)                                      \
	int main(void)                                                                   \
	{                                                                                \
		return luo_test_run(name, tests, sizeof(tests) / sizeof(tests[0]), setup, \
				    teardown);                                           \
	}

#endif
