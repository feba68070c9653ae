// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * systemd's fd store as the keeper: the test is the service manager. It
 * listens on $NOTIFY_SOCKET and keeps what luod sends with FDSTORE=1 and
 * FDNAME=, drops what it removes with FDSTOREREMOVE=1, exactly as systemd
 * does for a unit with FileDescriptorStoreMax=. luod runs without its own
 * keeper (LUOD_NO_KEEPER=1), is killed with SIGKILL, and is started again
 * the way systemd restarts a service: the stored fds at 3.. with LISTEN_FDS,
 * LISTEN_FDNAMES and LISTEN_PID. Every session comes back, every file is
 * retrieved with its contents checked, and finishing removes them from the
 * store again.
 */
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/kcmp.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "e2e.h"
#include "manager.h"

#define MEMFD_SIZE (128 * 1024 + 5)
#define PIPE_DATA "kept by the manager"
static void test_fd_store_recovers_everything(void **state)
{
	struct luod_proc d;
	int dev, web, none, gone, h, fd, mfd, p[2], efd, extra, status;
	char buf[64] = "";
	uint64_t count = 0;

	(void)state;
	manager_start();
	luod_start(&d, NULL);

	dev = e2e_open(&d);
	web = luo_create_session(dev, "web");
	none = luo_create_session(dev, "none");
	gone = luo_create_session(dev, "gone");
	assert_true(web >= 0 && none >= 0 && gone >= 0);
	mfd = memfd_pattern("web", MEMFD_SIZE, 21);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(write(p[1], PIPE_DATA, strlen(PIPE_DATA)), (ssize_t)strlen(PIPE_DATA));
	efd = eventfd(3, EFD_CLOEXEC);
	extra = memfd_pattern("extra", 4096, 1);
	assert_int_equal(luo_session_preserve_fd(web, mfd, 1), 0);
	assert_int_equal(luo_session_preserve_fd(web, p[0], 2), 0);
	assert_int_equal(luo_session_preserve_fd(web, efd, 3), 0);
	assert_int_equal(luo_session_preserve_fd(web, extra, 4), 0);
	assert_int_equal(luo_session_unpreserve_fd(web, 4), 0);
	close(gone); /* NORMAL: the session ends, and leaves the store */
	e2e_barrier(&d);
	drain();

	pthread_mutex_lock(&store_lock);
	assert_true(stored("s", "0", "web"));
	assert_true(stored("s", "0", "none"));
	assert_false(stored("s", "0", "gone"));
	assert_true(stored("f", "0000000000000001", "web"));
	assert_true(stored("f", "0000000000000002", "web"));
	assert_true(stored("f", "0000000000000003", "web"));
	assert_false(stored("f", "0000000000000004", "web"));
	/* and the generation, update count and history, in one entry */
	assert_true(store_find("luo-g-lineage") >= 0);
	assert_int_equal(nstore, 5 + 1);
	pthread_mutex_unlock(&store_lock);

	/* the crash: systemd keeps the store, the service comes back with it */
	assert_int_equal(kill(d.pid, SIGKILL), 0);
	assert_int_equal(waitpid(d.pid, &status, 0), d.pid);
	close(web);
	close(none);
	close(dev);
	drain();
	start_with_store(&d);

	e2e_assert_state(&d, "updated");
	assert_int_equal(e2e_session_files(&d, "web"), 3);
	assert_int_equal(e2e_session_files(&d, "none"), 0);
	assert_int_equal(e2e_session_files(&d, "gone"), -1);
	dev = e2e_open(&d);
	h = luo_retrieve_session(dev, "web");
	assert_true(h >= 0);
	fd = luo_session_retrieve_fd(h, 1);
	assert_true(fd >= 0);
	assert_true(memfd_pattern_ok(fd, MEMFD_SIZE, 21));
	close(fd);
	fd = luo_session_retrieve_fd(h, 2);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, buf, sizeof(buf) - 1), (ssize_t)strlen(PIPE_DATA));
	assert_string_equal(buf, PIPE_DATA);
	close(fd);
	fd = luo_session_retrieve_fd(h, 3);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, &count, sizeof(count)), (ssize_t)sizeof(count));
	assert_int_equal(count, 3);
	close(fd);
	assert_int_equal(luo_session_finish(h), 0);
	close(h);
	h = luo_retrieve_session(dev, "none");
	assert_true(h >= 0);
	assert_int_equal(luo_session_finish(h), 0);
	close(h);
	e2e_barrier(&d);
	close(dev);

	/* finished: nothing is left in the store but the generation's record */
	drain();
	pthread_mutex_lock(&store_lock);
	assert_true(store_find("luo-g-lineage") >= 0);
	assert_int_equal(nstore, 1);
	pthread_mutex_unlock(&store_lock);
	e2e_assert_state(&d, "normal");

	luod_stop(&d);
	/* a clean stop lets everything go: that record too */
	drain();
	pthread_mutex_lock(&store_lock);
	assert_int_equal(nstore, 0);
	pthread_mutex_unlock(&store_lock);
	manager_stop();
	close(p[1]);
	close(mfd);
	close(p[0]);
	close(efd);
	close(extra);
}


/* A frozen session held by luod: n pattern memfds under tokens 1..n. */
static void held_session(const struct luod_proc *d, const char *name, int n, uint32_t seed)
{
	int dev = e2e_open(d), s = luo_create_session(dev, name);

	assert_true(s >= 0);
	for (int i = 0; i < n; i++) {
		int fd = memfd_pattern(name, 4096, seed + (uint32_t)i);

		assert_int_equal(luo_session_preserve_fd(s, fd, (uint64_t)i + 1), 0);
		close(fd);
	}
	assert_int_equal(luo_session_set_event(s, LUO_EVENT_FREEZE), 0);
	close(s);
	e2e_barrier(d);
	close(dev);
}

static void check_session(const struct luod_proc *d, const char *name, int n, uint32_t seed)
{
	int dev = e2e_open(d), s = luo_retrieve_session(dev, name);

	if (s < 0)
		fail_msg("session %s: %s (log %s)", name, strerror(-s), d->log);
	for (int i = 0; i < n; i++) {
		int fd = luo_session_retrieve_fd(s, (uint64_t)i + 1);

		assert_true(fd >= 0);
		assert_true(memfd_pattern_ok(fd, 4096, seed + (uint32_t)i));
		close(fd);
	}
	assert_int_equal(luo_session_finish(s), 0);
	close(s);
	close(dev);
}

/*
 * The store kept exactly: one entry per session and per file, none more
 * after each of several crashes; a session released by the second update
 * leaves it whole (files too), so no crash brings it back; a handover the
 * successor refuses removes nothing of the predecessor's.
 */
static void test_fd_store_exact(void **state)
{
	struct luod_proc d;
	size_t want;

	(void)state;
	manager_start();
	luod_start(&d, NULL);
	held_session(&d, "a", 2, 10);
	held_session(&d, "b", 1, 20);
	want = 2 + 3 + 1; /* two stand-ins, three files, the lineage */
	assert_int_equal(stored_now(), want);
	for (int i = 0; i < 3; i++) {
		crash_with_store(&d);
		assert_int_equal(luod_status_field(&d, "sessions"), 2);
		assert_int_equal(stored_now(), want); /* no growth */
	}
	pthread_mutex_lock(&store_lock);
	assert_int_equal(store_count("luo-g-lineage"), 1);
	pthread_mutex_unlock(&store_lock);
	check_session(&d, "b", 1, 20);
	assert_int_equal(stored_now(), want - 2);

	/* incoming "a" is released by the second update: all of it leaves the store */
	luod_update(&d, NULL);
	luod_update(&d, NULL);
	assert_false(e2e_session_listed(&d, "a"));
	assert_int_equal(stored_now(), 1);
	crash_with_store(&d);
	assert_false(e2e_session_listed(&d, "a")); /* not resurrected, as uid 0 or otherwise */
	assert_int_equal(luod_status_field(&d, "sessions"), 0);
	assert_int_equal(luod_status_field(&d, "updates"), 2); /* kept in the store */

#ifdef LUO_FAULT_INJECTION
	{
		char wrapper[PATH_MAX + 16], out[8192];
		FILE *f;

		/* a successor that refuses the handover: an allocation fails while it reads it */
		held_session(&d, "c", 2, 30);
		assert_int_equal(stored_now(), 1 + 3);
		snprintf(wrapper, sizeof(wrapper), "%s/refusing-luod", d.dir);
		f = fopen(wrapper, "w");
		assert_non_null(f);
		fprintf(f, "#!/bin/sh\nLUOD_FAULT=alloc:2 exec %s \"$@\"\n", getenv("LUOD"));
		fclose(f);
		assert_int_equal(chmod(wrapper, 0755), 0);
		assert_true(luoctl(&d, out, sizeof(out), "update", "--exec", wrapper, NULL) != 0);
		assert_int_equal(e2e_wait(d.pid), 1); /* it refused and exited */
		assert_int_equal(stored_now(), 1 + 3); /* the predecessor's entries are all there */
		start_with_store(&d);
		check_session(&d, "c", 2, 30);
	}
#endif
	luod_stop(&d);
	manager_stop();
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_fd_store_recovers_everything),
	cmocka_unit_test(test_fd_store_exact),
};

LUO_TEST_MAIN("e2e-fdstore", tests, NULL, NULL)
