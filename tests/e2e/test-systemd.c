// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * luod under systemd, with the test in systemd's place: the test binds
 * $NOTIFY_SOCKET and reads what luod says there (READY=1, STATUS=,
 * RELOADING=1 across `luoctl update`, READY=1 from the successor only
 * after the requests that waited for it, WATCHDOG=1 when $WATCHDOG_USEC
 * is set, STOPPING=1), checking each datagram's sender pid through
 * SCM_CREDENTIALS; and it hands luod a listening socket the way socket
 * activation does (fd 3, LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES): luod
 * serves that socket, not --socket, keeps it across an update, does not
 * unlink it on exit, and a second luod on the same socket serves the
 * requests that queued meanwhile. A stream socket is refused with a reason.
 * systemd's own systemd-socket-activate starts luod too, when installed.
 * With $JOURNAL_STREAM naming its stderr, luod writes syslog priorities.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "e2e.h"
#include "protocol.h"

static struct luod_proc d;

/* After a failed assertion: no luod left behind holding the test's stdout. */
static int teardown(void **state)
{
	(void)state;
	if (d.pid > 0 && luod_alive(&d)) {
		kill(d.pid, SIGKILL);
		waitpid(d.pid, NULL, 0);
	}
	d.pid = 0;
	return 0;
}

/* ---- the $NOTIFY_SOCKET end ---- */

struct notifier {
	char dir[64];
	char path[128];
	int fd;
	bool saw_watchdog; /* any WATCHDOG=1 among the datagrams read so far */
};

static void notifier_open(struct notifier *n)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int one = 1;

	snprintf(n->dir, sizeof(n->dir), "/tmp/luo-notify.XXXXXX");
	assert_non_null(mkdtemp(n->dir));
	snprintf(n->path, sizeof(n->path), "%s/notify", n->dir);
	assert_true(strlen(n->path) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, n->path, strlen(n->path) + 1);
	n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(n->fd >= 0);
	assert_int_equal(setsockopt(n->fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)), 0);
	assert_int_equal(bind(n->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	n->saw_watchdog = false;
}

static void notifier_close(struct notifier *n)
{
	close(n->fd);
	unlink(n->path);
	rmdir(n->dir);
}

static bool has_line(const char *msg, const char *want)
{
	size_t wl = strlen(want);
	bool prefix = wl && want[wl - 1] == '*';

	if (prefix)
		wl--;
	for (const char *p = msg; *p;) {
		size_t ll = strcspn(p, "\n");

		if (prefix ? ll >= wl && !strncmp(p, want, wl) : ll == wl && !strncmp(p, want, wl))
			return true;
		p += ll;
		if (*p)
			p++;
	}
	return false;
}

static long long ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/*
 * Read datagrams until one has the line want (a trailing '*' matches a
 * prefix); the datagrams before it are consumed. Fails after 10 s. The
 * sender's pid goes to *pid, the datagram to msg.
 */
static void notify_wait(struct notifier *n, const char *want, pid_t *pid, char *msg, size_t len)
{
	long long deadline = ms_now() + 10000;
	char buf[4096];

	for (;;) {
		union {
			struct cmsghdr h;
			char buf[CMSG_SPACE(sizeof(struct ucred))];
		} ctl;
		struct iovec iov = { buf, sizeof(buf) - 1 };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &ctl,
				     .msg_controllen = sizeof(ctl) };
		struct pollfd pfd = { .fd = n->fd, .events = POLLIN };
		long long left = deadline - ms_now();
		struct cmsghdr *c;
		ssize_t k;

		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
			fail_msg("no \"%s\" on $NOTIFY_SOCKET within 10 s", want);
		k = recvmsg(n->fd, &mh, MSG_DONTWAIT);
		if (k < 0 && errno == EAGAIN)
			continue;
		assert_true(k >= 0);
		buf[k] = '\0';
		if (has_line(buf, "WATCHDOG=1"))
			n->saw_watchdog = true;
		if (!has_line(buf, want))
			continue;
		c = CMSG_FIRSTHDR(&mh);
		assert_non_null(c);
		assert_int_equal(c->cmsg_type, SCM_CREDENTIALS);
		if (pid) {
			struct ucred uc;

			memcpy(&uc, CMSG_DATA(c), sizeof(uc));
			*pid = uc.pid;
		}
		if (msg)
			snprintf(msg, len, "%s", buf);
		return;
	}
}

/* ---- sd_notify ---- */

static void test_notify_ready_status_reloading(void **state)
{
	struct notifier n;
	char msg[4096];
	pid_t from;
	int dev, sess, fd;

	(void)state;
	notifier_open(&n);
	setenv("NOTIFY_SOCKET", n.path, 1);
	luod_start(&d, NULL);
	unsetenv("NOTIFY_SOCKET");

	notify_wait(&n, "READY=1", &from, msg, sizeof(msg));
	assert_int_equal(from, d.pid);
	assert_true(has_line(msg, "STATUS=generation 0, normal, 0 sessions, 0 files"));

	/* counts show up in STATUS= */
	dev = e2e_open(&d);
	sess = luo_create_session(dev, "web");
	assert_true(sess >= 0);
	fd = memfd_pattern("sd", 4096, 5);
	assert_int_equal(luo_session_preserve_fd(sess, fd, 1), 0);
	notify_wait(&n, "STATUS=generation 0, normal, 1 sessions, 1 files", &from, NULL, 0);
	assert_int_equal(from, d.pid);

	/* across the update: RELOADING=1, then READY=1 from the same pid, one generation on */
	luod_update(&d, NULL);
	notify_wait(&n, "RELOADING=1", &from, msg, sizeof(msg));
	assert_int_equal(from, d.pid);
	assert_true(has_line(msg, "MONOTONIC_USEC=*"));
	notify_wait(&n, "READY=1", &from, msg, sizeof(msg));
	assert_int_equal(from, d.pid);
	assert_true(has_line(msg, "STATUS=generation 1, *"));
	/* STATUS= is the last line */
	assert_true(strlen(msg) > 21 && !strcmp(msg + strlen(msg) - 21, ", 1 sessions, 1 files"));
	close(sess);
	close(dev);

	sess = luo_retrieve_session(e2e_open(&d), "web");
	assert_true(sess >= 0);
	close(fd);
	fd = luo_session_retrieve_fd(sess, 1);
	assert_true(memfd_pattern_ok(fd, 4096, 5));
	assert_int_equal(luo_session_finish(sess), 0);
	close(fd);
	close(sess);

	luod_stop(&d);
	notify_wait(&n, "STOPPING=1", &from, NULL, 0);
	/* no watchdog was asked for, so none was sent */
	assert_false(n.saw_watchdog);
	notifier_close(&n);
}

/* A failed update is no restart: luod says READY=1 again, refused at once or rolled back. */
static void test_notify_failed_update(void **state)
{
	struct notifier n;
	char out[4096], bad[PATH_MAX + 16];
	pid_t from;
	FILE *f;

	(void)state;
	notifier_open(&n);
	setenv("NOTIFY_SOCKET", n.path, 1);
	luod_start(&d, NULL);
	unsetenv("NOTIFY_SOCKET");
	notify_wait(&n, "READY=1", NULL, NULL, 0);

	/* not executable: refused before anything moved */
	assert_int_not_equal(luoctl(&d, out, sizeof(out), "update", "--exec", "/etc/hostname", NULL),
			     0);
	notify_wait(&n, "RELOADING=1", &from, NULL, 0);
	notify_wait(&n, "READY=1", &from, NULL, 0);
	assert_int_equal(from, d.pid);

	/* executable but no program: execve fails with ENOEXEC after the freeze, and rolls back */
	snprintf(bad, sizeof(bad), "%s/not-a-program", d.dir);
	f = fopen(bad, "w");
	assert_non_null(f);
	fputs("not a program\n", f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(bad, 0755), 0);
	assert_int_not_equal(luoctl(&d, out, sizeof(out), "update", "--exec", bad, NULL), 0);
	notify_wait(&n, "RELOADING=1", &from, NULL, 0);
	notify_wait(&n, "READY=1", &from, out, sizeof(out));
	assert_int_equal(from, d.pid);
	assert_true(has_line(out, "STATUS=generation 0, normal, *"));
	assert_true(luod_alive(&d));
	e2e_assert_state(&d, "normal");
	luod_stop(&d);
	notifier_close(&n);
}

/*
 * The successor says READY=1 after it served what waited for it, not
 * before (its first notification loads libsystemd, 0.5 ms that no client
 * should wait for): a request queued while it is stopped before it serves
 * (LUOD_TEST_PAUSE_AT=parse: the carried listening socket's backlog holds
 * the connection, its buffer the request) is answered before READY=1 goes
 * out, so READY=1's STATUS= counts the session that request created.
 */
static void test_notify_ready_after_backlog(void **state)
{
	struct luo_msg_hdr h = { .size = sizeof(h) + sizeof(struct luo_msg_name),
				 .version = LUO_PROTO_VERSION,
				 .op = LUO_OP_CREATE_SESSION };
	unsigned char req[sizeof(h) + sizeof(struct luo_msg_name)] = { 0 };
	unsigned char rx[sizeof(struct luo_msg_hdr) + 64];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int dev, sess, fd, late, status, got[LUO_FDS_PER_MSG];
	struct luo_msg_hdr reply;
	struct notifier n;
	char msg[4096];
	size_t ngot = 0;
	pid_t upd, from;

	(void)state;
	notifier_open(&n);
	setenv("NOTIFY_SOCKET", n.path, 1);
	setenv("LUOD_TEST_PAUSE_AT", "parse", 1); /* reaches the successor through execve */
	luod_start(&d, NULL);
	unsetenv("NOTIFY_SOCKET");
	unsetenv("LUOD_TEST_PAUSE_AT");
	notify_wait(&n, "READY=1", NULL, NULL, 0);
	dev = e2e_open(&d);
	sess = luo_create_session(dev, "web");
	assert_true(sess >= 0);
	fd = memfd_pattern("sd", 4096, 5);
	assert_int_equal(luo_session_preserve_fd(sess, fd, 1), 0);
	notify_wait(&n, "STATUS=generation 0, normal, 1 sessions, 1 files", NULL, NULL, 0);

	upd = fork();
	assert_true(upd >= 0);
	if (upd == 0) {
		char out[4096];

		_exit(luoctl(&d, out, sizeof(out), "update", NULL) == 0 ? 0 : 1);
	}
	/* the successor stops itself before it reads the handover */
	assert_int_equal(waitpid(d.pid, &status, WUNTRACED), d.pid);
	assert_true(WIFSTOPPED(status));
	late = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	assert_true(late >= 0);
	assert_true(strlen(d.sock) < sizeof(sa.sun_path));
	strcpy(sa.sun_path, d.sock);
	assert_int_equal(connect(late, (struct sockaddr *)&sa, sizeof(sa)), 0);
	memcpy(req, &h, sizeof(h));
	strcpy(((struct luo_msg_name *)(req + sizeof(h)))->name, "late");
	assert_int_equal(e2e_raw_send(late, req, sizeof(req), NULL, 0), (ssize_t)sizeof(req));
	assert_int_equal(kill(d.pid, SIGCONT), 0);
	assert_int_equal(e2e_wait(upd), 0);

	notify_wait(&n, "RELOADING=1", NULL, NULL, 0);
	notify_wait(&n, "READY=1", &from, msg, sizeof(msg));
	assert_int_equal(from, d.pid);
	if (!has_line(msg, "STATUS=generation 1, updated, 2 sessions, 1 files"))
		fail_msg("READY=1 before the request that waited for the successor: %s", msg);
	/* and that request got its session */
	assert_true(luo_msg_recv(late, rx, sizeof(rx), got, LUO_FDS_PER_MSG, &ngot) >=
		    (ssize_t)sizeof(reply));
	memcpy(&reply, rx, sizeof(reply));
	assert_int_equal(reply.result, 0);
	assert_int_equal(ngot, 1);
	close(got[0]);
	close(late);
	close(sess);
	close(dev);
	close(fd);
	luod_stop(&d);
	notifier_close(&n);
}

static void test_watchdog(void **state)
{
	struct notifier n;
	pid_t from;

	(void)state;
	notifier_open(&n);
	setenv("NOTIFY_SOCKET", n.path, 1);
	setenv("WATCHDOG_USEC", "200000", 1);
	luod_start(&d, NULL);
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");

	/* pings keep coming while luod idles: its loop wakes for them */
	for (int i = 0; i < 3; i++) {
		notify_wait(&n, "WATCHDOG=1", &from, NULL, 0);
		assert_int_equal(from, d.pid);
	}
	/* and the successor keeps pinging: WATCHDOG_USEC crossed the execve */
	luod_update(&d, NULL);
	notify_wait(&n, "READY=1", NULL, NULL, 0);
	for (int i = 0; i < 2; i++) {
		notify_wait(&n, "WATCHDOG=1", &from, NULL, 0);
		assert_int_equal(from, d.pid);
	}
	luod_stop(&d);
	notifier_close(&n);
}

/* ---- socket activation ---- */

static const char *luod_binary(void)
{
	const char *p = getenv("LUOD");

	return p && *p ? p : "luod";
}

/* d's directory and a listening socket in it, as a socket unit would have made it. */
static int activation_socket(struct luod_proc *d, int type)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	memset(d, 0, sizeof(*d));
	snprintf(d->dir, sizeof(d->dir), "/tmp/luo-test.XXXXXX");
	assert_non_null(mkdtemp(d->dir));
	reap_track_dir(d->dir);
	snprintf(d->sock, sizeof(d->sock), "%s/activated.sock", d->dir);
	snprintf(d->state_dir, sizeof(d->state_dir), "%s/state", d->dir);
	snprintf(d->log, sizeof(d->log), "%s/luod.log", d->dir);
	assert_true(strlen(d->sock) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, d->sock, strlen(d->sock) + 1);
	fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 64), 0);
	return fd;
}

/*
 * luod with lfd as fd 3 and the LISTEN_* variables, and --socket PATH: the
 * unit's own path (as luod.service has it by default) or one it must not use.
 */
static void activated_spawn(struct luod_proc *d, int lfd, const char *names, const char *name)
{
	char path[PATH_MAX + 16];

	snprintf(path, sizeof(path), "%s/%s", d->dir, name);
	d->pid = fork();
	assert_true(d->pid >= 0);
	if (d->pid == 0) {
		char pid[16];
		int log = open(d->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

		if (log < 0 || dup2(log, 2) < 0)
			_exit(126);
		/* dup2 onto itself keeps close-on-exec: clear it by hand then */
		if (lfd == 3 ? fcntl(3, F_SETFD, 0) < 0 : dup2(lfd, 3) < 0)
			_exit(126);
		snprintf(pid, sizeof(pid), "%d", (int)getpid());
		setenv("LISTEN_PID", pid, 1);
		setenv("LISTEN_FDS", "1", 1);
		if (names)
			setenv("LISTEN_FDNAMES", names, 1);
		else
			unsetenv("LISTEN_FDNAMES");
		execl(luod_binary(), luod_binary(), "--socket", path, "--state-dir", d->state_dir,
		      (char *)NULL);
		_exit(127);
	}
	setenv("LUO_SOCKET", d->sock, 1);
}

/* A connection that gives up after 10 s instead of waiting forever in a backlog. */
static int open_bounded(const struct luod_proc *d)
{
	struct timeval tv = { .tv_sec = 10 };
	int fd = e2e_open(d);

	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	return fd;
}

static ino_t inode_of(int fd)
{
	struct stat st;

	assert_int_equal(fstat(fd, &st), 0);
	return st.st_ino;
}

/* Whether process pid has an fd on socket inode ino. */
static bool holds_socket(pid_t pid, ino_t ino)
{
	char path[64], link[PATH_MAX + 64], want[64], target[128];
	struct dirent *e;
	bool found = false;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	snprintf(want, sizeof(want), "socket:[%lu]", (unsigned long)ino);
	dir = opendir(path);
	assert_non_null(dir);
	while (!found && (e = readdir(dir))) {
		ssize_t k;

		if (e->d_name[0] == '.')
			continue;
		snprintf(link, sizeof(link), "%s/%s", path, e->d_name);
		k = readlink(link, target, sizeof(target) - 1);
		if (k < 0)
			continue;
		target[k] = '\0';
		found = !strcmp(target, want);
	}
	closedir(dir);
	return found;
}

static bool path_exists(const char *dir, const char *name)
{
	char path[PATH_MAX + 64];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return lstat(path, &st) == 0;
}

static void test_socket_activation(void **state)
{
	int lfd, early, dev, sess, fd, status;
	ino_t ino;
	enum luo_state st;
	pid_t pid;

	(void)state;
	lfd = activation_socket(&d, SOCK_SEQPACKET);
	ino = inode_of(lfd);
	/* a client connects before luod runs: it waits in the backlog, as under systemd */
	early = open_bounded(&d);
	activated_spawn(&d, lfd, "luod", "activated.sock"); /* --socket names the same path */
	assert_int_equal(luo_get_state(early, &st), 0);
	assert_int_equal(st, LUO_STATE_NORMAL);
	assert_true(holds_socket(d.pid, ino));

	dev = open_bounded(&d);
	sess = luo_create_session(dev, "kept");
	assert_true(sess >= 0);
	fd = memfd_pattern("act", 8192, 11);
	assert_int_equal(luo_session_preserve_fd(sess, fd, 7), 0);
	close(fd);

	/* an update keeps the very same socket, and the path */
	pid = d.pid;
	luod_update(&d, NULL);
	assert_int_equal(d.pid, pid);
	assert_true(holds_socket(d.pid, ino));
	assert_true(path_exists(d.dir, "activated.sock"));
	assert_int_equal(luod_status_field(&d, "generation"), 1);
	close(sess);
	close(dev);
	dev = open_bounded(&d);
	sess = luo_retrieve_session(dev, "kept");
	assert_true(sess >= 0);
	fd = luo_session_retrieve_fd(sess, 7);
	assert_true(memfd_pattern_ok(fd, 8192, 11));
	assert_int_equal(luo_session_finish(sess), 0);
	close(fd);
	close(sess);
	close(dev);
	close(early);

	/* stopping leaves the socket to its owner: the path stays and still queues clients */
	kill(d.pid, SIGTERM);
	assert_int_equal(waitpid(d.pid, &status, 0), d.pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_true(path_exists(d.dir, "activated.sock"));
	early = open_bounded(&d);

	/* the next luod (no names this time: picked by type) answers what queued */
	activated_spawn(&d, lfd, NULL, "unused.sock");
	assert_int_equal(luo_get_state(early, &st), 0);
	assert_true(holds_socket(d.pid, ino));
	assert_false(path_exists(d.dir, "unused.sock")); /* --socket is not made */
	close(early);
	luod_stop(&d); /* also removes d.dir */
	close(lfd);
}

/* A stream socket is no luod socket: exit 1 with the reason, nothing served. */
static void test_activation_wrong_type(void **state)
{
	char cmd[PATH_MAX + 64];
	int lfd, status = 0;
	pid_t r = 0;

	(void)state;
	lfd = activation_socket(&d, SOCK_STREAM);
	activated_spawn(&d, lfd, "luod", "unused.sock");
	for (int i = 0; i < 1000 && (r = waitpid(d.pid, &status, WNOHANG)) == 0; i++)
		usleep(10000);
	if (r == 0) {
		kill(d.pid, SIGKILL);
		waitpid(d.pid, NULL, 0);
		fail_msg("luod kept running on a SOCK_STREAM socket");
	}
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 1);
	snprintf(cmd, sizeof(cmd), "grep -q ListenSequentialPacket %s", d.log);
	assert_int_equal(system(cmd), 0);
	close(lfd);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", d.dir);
	assert_int_equal(system(cmd), 0);
}

/* systemd's own tool makes the socket and execs luod in place. */
static void test_systemd_socket_activate(void **state)
{
	static const char *tool = "/usr/bin/systemd-socket-activate";
	char unused[PATH_MAX + 16];
	int i;

	(void)state;
	if (access(tool, X_OK) < 0)
		skip();
	memset(&d, 0, sizeof(d));
	snprintf(d.dir, sizeof(d.dir), "/tmp/luo-test.XXXXXX");
	assert_non_null(mkdtemp(d.dir));
	reap_track_dir(d.dir);
	snprintf(d.sock, sizeof(d.sock), "%s/activated.sock", d.dir);
	snprintf(d.state_dir, sizeof(d.state_dir), "%s/state", d.dir);
	snprintf(d.log, sizeof(d.log), "%s/luod.log", d.dir);
	snprintf(unused, sizeof(unused), "%s/unused.sock", d.dir);
	d.pid = fork();
	assert_true(d.pid >= 0);
	if (d.pid == 0) {
		int log = open(d.log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

		if (log < 0 || dup2(log, 2) < 0)
			_exit(126);
		execl(tool, tool, "--seqpacket", "--listen", d.sock, luod_binary(), "--socket", unused,
		      "--state-dir", d.state_dir, (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 1000 && !path_exists(d.dir, "activated.sock"); i++)
		usleep(10000);
	assert_true(path_exists(d.dir, "activated.sock"));
	/* luod is the tool's own pid, exec'd in place */
	assert_int_equal(luod_status_field(&d, "pid"), d.pid);
	assert_false(path_exists(d.dir, "unused.sock"));
	luod_update(&d, NULL);
	assert_int_equal(luod_status_field(&d, "pid"), d.pid);
	assert_int_equal(luod_status_field(&d, "generation"), 1);
	luod_stop(&d);
}

/*
 * stderr as systemd's journal stream ($JOURNAL_STREAM = its device:inode):
 * every line starts with its syslog priority and carries no "luod[pid]:"
 * tag of its own (journald adds one); a stop with a file held is a
 * warning, <4>. $JOURNAL_STREAM naming another file changes nothing.
 */
static void journal_run(bool matching, char *text, size_t len)
{
	int lfd, fd, dev, sess, status;
	char stream[64];
	struct stat st;
	ssize_t n;

	lfd = activation_socket(&d, SOCK_SEQPACKET);
	fd = open(d.log, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	close(fd);
	snprintf(stream, sizeof(stream), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino + (matching ? 0 : 1));
	setenv("JOURNAL_STREAM", stream, 1);
	activated_spawn(&d, lfd, "luod", "activated.sock");
	unsetenv("JOURNAL_STREAM");
	close(lfd);
	dev = open_bounded(&d);
	sess = luo_create_session(dev, "held");
	assert_true(sess >= 0);
	fd = memfd_pattern("held", 4096, 3);
	assert_int_equal(luo_session_preserve_fd(sess, fd, 1), 0);
	close(fd);
	assert_int_equal(kill(d.pid, SIGTERM), 0);
	assert_int_equal(waitpid(d.pid, &status, 0), d.pid);
	d.pid = 0;
	reap_wait_keepers(d.state_dir);
	close(sess);
	close(dev);
	fd = open(d.log, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	n = read(fd, text, len - 1);
	assert_true(n > 0);
	text[n] = '\0';
	close(fd);
}

static void rm_dir(const struct luod_proc *p)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", p->dir);
	assert_int_equal(system(cmd), 0);
}

static void test_journal_priorities(void **state)
{
	static const char want[] = "<4>warning: stopping with 1 sessions";
	static char text[16384];
	char *line, *save;
	bool warned = false;

	(void)state;
	journal_run(true, text, sizeof(text));
	assert_null(strstr(text, "luod["));
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		assert_true(line[0] == '<' && line[1] >= '3' && line[1] <= '7' && line[2] == '>');
		if (!strncmp(line, want, strlen(want)))
			warned = true;
	}
	assert_true(warned);
	rm_dir(&d);

	journal_run(false, text, sizeof(text));
	assert_non_null(strstr(text, "]: warning: stopping with 1 sessions"));
	assert_null(strstr(text, "<4>"));
	rm_dir(&d);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_teardown(test_notify_ready_status_reloading, teardown),
	cmocka_unit_test_teardown(test_notify_failed_update, teardown),
	cmocka_unit_test_teardown(test_notify_ready_after_backlog, teardown),
	cmocka_unit_test_teardown(test_watchdog, teardown),
	cmocka_unit_test_teardown(test_socket_activation, teardown),
	cmocka_unit_test_teardown(test_activation_wrong_type, teardown),
	cmocka_unit_test_teardown(test_systemd_socket_activate, teardown),
	cmocka_unit_test_teardown(test_journal_priorities, teardown),
};

LUO_TEST_MAIN("e2e-systemd", tests, NULL, NULL)
