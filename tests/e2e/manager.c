// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The test as systemd's service manager for luod's fd store (manager.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "manager.h"


struct store_entry store[MAX_STORE];
size_t nstore;
static int notify_fd = -1;
static char notify_path[100];

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

int store_find(const char *name)
{
	for (size_t i = 0; i < nstore; i++)
		if (!strcmp(store[i].name, name))
			return (int)i;
	return -1;
}

/* FDSTOREREMOVE: every entry of that name goes, as systemd does it. */
void store_remove(const char *name)
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

size_t store_count(const char *name)
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

pthread_mutex_t store_lock = PTHREAD_MUTEX_INITIALIZER;
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
		pthread_mutex_lock(&store_lock);
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
		pthread_mutex_unlock(&store_lock);
		if (fd >= 0)
			close(fd);
	}
}

/*
 * Everything luod has sent so far has been applied: luod sends before it
 * replies, so its notifications are queued ahead of the marker sent now.
 */
void to_manager(const char *msg)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", notify_path);
	assert_int_equal(sendto(fd, msg, strlen(msg), 0, (struct sockaddr *)&sa, sizeof(sa)),
			 (ssize_t)strlen(msg));
	close(fd);
}

void drain(void)
{
	unsigned long want;

	pthread_mutex_lock(&store_lock);
	want = syncs_seen + 1;
	pthread_mutex_unlock(&store_lock);
	to_manager("X_SYNC=1");
	pthread_mutex_lock(&store_lock);
	while (syncs_seen < want)
		pthread_cond_wait(&synced, &store_lock);
	pthread_mutex_unlock(&store_lock);
}

static void hexname(char *out, const char *s)
{
	for (; *s; s++, out += 2)
		sprintf(out, "%02x", (unsigned char)*s);
	*out = '\0';
}

bool stored(const char *kind, const char *id, const char *session)
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
void start_with_store(struct luod_proc *d)
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

	pthread_mutex_lock(&store_lock); /* the store as it is now is what luod gets */
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
	pthread_mutex_unlock(&store_lock);
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
void manager_start(void)
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

void manager_stop(void)
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

size_t stored_now(void)
{
	size_t n;

	drain();
	pthread_mutex_lock(&store_lock);
	n = nstore;
	pthread_mutex_unlock(&store_lock);
	return n;
}

void crash_with_store(struct luod_proc *d)
{
	int status;

	assert_int_equal(kill(d->pid, SIGKILL), 0);
	assert_int_equal(waitpid(d->pid, &status, 0), d->pid);
	/* as systemd does: the notifications the dead process sent first, then the restart */
	drain();
	start_with_store(d);
}

