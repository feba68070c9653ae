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

#define MEMFD_SIZE (128 * 1024 + 5)
#define PIPE_DATA "kept by the manager"
#define MAX_STORE 32

static struct {
	char name[256];
	int fd;
} store[MAX_STORE];
static size_t nstore;
static int notify_fd = -1;
static char notify_path[100];

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static int store_find(const char *name)
{
	for (size_t i = 0; i < nstore; i++)
		if (!strcmp(store[i].name, name))
			return (int)i;
	return -1;
}

/* FDSTOREREMOVE: every entry of that name goes, as systemd does it. */
static void store_remove(const char *name)
{
	int i;

	while ((i = store_find(name)) >= 0) {
		close(store[i].fd);
		store[i] = store[--nstore];
	}
}

/* systemd keeps one entry per open file (same_fd()), whatever the name, and several per name. */
static bool store_has_file(int fd)
{
	pid_t self = getpid();

	for (size_t i = 0; i < nstore; i++)
		if (syscall(SYS_kcmp, self, self, KCMP_FILE, store[i].fd, fd) == 0)
			return true;
	return false;
}

static size_t store_count(const char *name)
{
	size_t n = 0;

	for (size_t i = 0; i < nstore; i++)
		n += !strcmp(store[i].name, name);
	return n;
}

/* One "KEY=VALUE\n..." field of a notification, or NULL. */
static const char *field(const char *msg, const char *key, char *buf, size_t len)
{
	size_t klen = strlen(key);

	for (const char *p = msg; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (!strncmp(p, key, klen) && p[klen] == '=') {
			const char *v = p + klen + 1, *end = strchr(v, '\n');
			size_t n = end ? (size_t)(end - v) : strlen(v);

			if (n >= len)
				n = len - 1;
			memcpy(buf, v, n);
			buf[n] = '\0';
			return buf;
		}
	}
	return NULL;
}

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t synced = PTHREAD_COND_INITIALIZER;
static unsigned long syncs_seen;

/*
 * The manager's reader: like systemd it reads every notification as it
 * comes (a datagram socket holds only a few; a manager that stopped
 * reading would stall luod for its send timeout). X_SYNC=1 is the test's
 * own marker, see drain().
 */
static void *manager(void *arg)
{
	(void)arg;
	for (;;) {
		char msg[4096], name[256], flag[8];
		union {
			char buf[CMSG_SPACE(sizeof(int) * 8)];
			struct cmsghdr align;
		} control;
		struct iovec iov = { msg, sizeof(msg) - 1 };
		struct msghdr mh = {
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = control.buf, .msg_controllen = sizeof(control.buf),
		};
		int fd = -1;
		ssize_t n = recvmsg(notify_fd, &mh, MSG_CMSG_CLOEXEC);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return NULL;
		}
		msg[n] = '\0';
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
			    c->cmsg_len == CMSG_LEN(sizeof(int)))
				memcpy(&fd, CMSG_DATA(c), sizeof(int));
		if (field(msg, "X_QUIT", flag, sizeof(flag)))
			return NULL;
		pthread_mutex_lock(&lock);
		if (field(msg, "X_SYNC", flag, sizeof(flag))) {
			syncs_seen++;
			pthread_cond_broadcast(&synced);
		} else if (field(msg, "FDSTORE", flag, sizeof(flag)) && !strcmp(flag, "1") &&
			   field(msg, "FDNAME", name, sizeof(name)) && fd >= 0) {
			if (!store_has_file(fd) && nstore < MAX_STORE) {
				snprintf(store[nstore].name, sizeof(store[nstore].name), "%s", name);
				store[nstore++].fd = fd;
				fd = -1;
			}
		} else if (field(msg, "FDSTOREREMOVE", flag, sizeof(flag)) && !strcmp(flag, "1") &&
			   field(msg, "FDNAME", name, sizeof(name))) {
			store_remove(name);
		}
		pthread_mutex_unlock(&lock);
		if (fd >= 0)
			close(fd);
	}
}

/*
 * Everything luod has sent so far has been applied: luod sends before it
 * replies, so its notifications are queued ahead of the marker sent now.
 */
static void to_manager(const char *msg)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", notify_path);
	assert_int_equal(sendto(fd, msg, strlen(msg), 0, (struct sockaddr *)&sa, sizeof(sa)),
			 (ssize_t)strlen(msg));
	close(fd);
}

static void drain(void)
{
	unsigned long want;

	pthread_mutex_lock(&lock);
	want = syncs_seen + 1;
	pthread_mutex_unlock(&lock);
	to_manager("X_SYNC=1");
	pthread_mutex_lock(&lock);
	while (syncs_seen < want)
		pthread_cond_wait(&synced, &lock);
	pthread_mutex_unlock(&lock);
}

static void hexname(char *out, const char *s)
{
	for (; *s; s++, out += 2)
		sprintf(out, "%02x", (unsigned char)*s);
	*out = '\0';
}

static bool stored(const char *kind, const char *id, const char *session)
{
	char hex[160], name[256];

	hexname(hex, session);
	snprintf(name, sizeof(name), "luo-%s-%s-%s", kind, id, hex);
	return store_find(name) >= 0;
}

/*
 * luod as systemd restarts it: the store's fds at 3.. with their names.
 * The test has a thread, so the child only dup2()s, formats and execs:
 * everything it needs is built before fork().
 */
static void start_with_store(struct luod_proc *d)
{
	static char names[4096], count[32], pid_var[32];
	extern char **environ;
	const char *luod = getenv("LUOD");
	char *argv[] = { "luod", "--socket", d->sock, "--state-dir", d->state_dir, NULL };
	char **envp;
	size_t nenv = 0, n;
	int log, high[MAX_STORE];

	while (environ[nenv])
		nenv++;
	envp = calloc(nenv + 4, sizeof(*envp));
	assert_non_null(envp);
	for (size_t i = 0; i < nenv; i++)
		envp[i] = environ[i];
	log = open(d->log, O_WRONLY | O_APPEND | O_CLOEXEC);
	assert_true(log >= 0);

	pthread_mutex_lock(&lock); /* the store as it is now is what luod gets */
	strcpy(names, "LISTEN_FDNAMES=");
	for (size_t i = 0; i < nstore; i++) {
		if (i)
			strcat(names, ":");
		strcat(names, store[i].name);
		/* out of the way of 3..: moving them there must overwrite none */
		high[i] = fcntl(store[i].fd, F_DUPFD_CLOEXEC, 200);
		assert_true(high[i] >= 200);
	}
	n = nstore;
	snprintf(count, sizeof(count), "LISTEN_FDS=%zu", n);
	envp[nenv] = names;
	envp[nenv + 1] = count;
	envp[nenv + 2] = pid_var;
	d->pid = fork();
	pthread_mutex_unlock(&lock);
	assert_true(d->pid >= 0);
	if (d->pid == 0) {
		dup2(log, 2);
		for (size_t i = 0; i < n; i++)
			dup2(high[i], 3 + (int)i); /* dup2 clears close-on-exec */
		snprintf(pid_var, sizeof(pid_var), "LISTEN_PID=%d", (int)getpid());
		execve(luod, argv, envp);
		_exit(127);
	}
	for (size_t i = 0; i < n; i++)
		close(high[i]);
	close(log);
	free(envp);
	for (int i = 0; i < 500; i++) {
		int fd = luo_open(d->sock);

		if (fd >= 0) {
			close(fd);
			return;
		}
		assert_true(luod_alive(d));
		sleep_ms(10);
	}
	fail_msg("luod did not come back (log: %s)", d->log);
}

static pthread_t reader;

/* The test becomes the service manager: $NOTIFY_SOCKET, luod without its own keeper. */
static void manager_start(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	snprintf(notify_path, sizeof(notify_path), "/tmp/luo-notify.%d", (int)getpid());
	unlink(notify_path);
	notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(notify_fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", notify_path);
	assert_int_equal(bind(notify_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(pthread_create(&reader, NULL, manager, NULL), 0);
	setenv("NOTIFY_SOCKET", notify_path, 1);
	setenv("LUOD_NO_KEEPER", "1", 1);
}

static void manager_stop(void)
{
	unsetenv("NOTIFY_SOCKET");
	unsetenv("LUOD_NO_KEEPER");
	to_manager("X_QUIT=1");
	pthread_join(reader, NULL);
	close(notify_fd);
	unlink(notify_path);
	while (nstore)
		close(store[--nstore].fd);
}

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

	pthread_mutex_lock(&lock);
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
	pthread_mutex_unlock(&lock);

	/* the crash: systemd keeps the store, the service comes back with it */
	assert_int_equal(kill(d.pid, SIGKILL), 0);
	assert_int_equal(waitpid(d.pid, &status, 0), d.pid);
	close(web);
	close(none);
	close(dev);
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
	pthread_mutex_lock(&lock);
	assert_true(store_find("luo-g-lineage") >= 0);
	assert_int_equal(nstore, 1);
	pthread_mutex_unlock(&lock);
	e2e_assert_state(&d, "normal");

	luod_stop(&d);
	/* a clean stop lets everything go: that record too */
	drain();
	pthread_mutex_lock(&lock);
	assert_int_equal(nstore, 0);
	pthread_mutex_unlock(&lock);
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

static size_t stored_now(void)
{
	size_t n;

	drain();
	pthread_mutex_lock(&lock);
	n = nstore;
	pthread_mutex_unlock(&lock);
	return n;
}

static void crash_with_store(struct luod_proc *d)
{
	int status;

	assert_int_equal(kill(d->pid, SIGKILL), 0);
	assert_int_equal(waitpid(d->pid, &status, 0), d->pid);
	start_with_store(d);
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
	pthread_mutex_lock(&lock);
	assert_int_equal(store_count("luo-g-lineage"), 1);
	pthread_mutex_unlock(&lock);
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
