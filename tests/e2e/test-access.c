// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Access control against a real luod (running as root), with clients that
 * are other uids: each client is a forked child that drops to its uid with
 * setgroups/setgid/setuid before it connects, so luod sees it through
 * SO_PEERCRED exactly as it would see any unprivileged process.
 *  - the socket's mode and group come from --socket-mode/--socket-group
 *    and decide who may connect at all;
 *  - a session belongs to the uid that created it: another non-root uid
 *    gets EPERM for show, retrieve and per-session update, and does not
 *    see it listed; so it can never hold a handle to finish it;
 *  - global events, update and participant registration are for root
 *    (or luod's own uid) only: EPERM for everyone else;
 *  - a non-root client without LUO_SOCKET and with no luod of its own
 *    reaches the system luod at /run/luo/luod.sock (in a private mount
 *    namespace with its own /run, so the machine's /run is not touched).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "e2e.h"
#include "protocol.h"

#define UID_A 65534 /* nobody */
#define UID_B 65533
#define GID_SHARED 65534

static struct luod_proc d;

/* One request on a connection; returns the reply's result, its body into out. */
static int rpc(int sock, uint16_t op, const void *body, size_t len, void *out, size_t out_len)
{
	static unsigned char rx[sizeof(struct luo_msg_hdr) + LUO_MSG_MAX];
	struct luo_msg_hdr hdr;
	int fds[LUO_FDS_PER_MSG];
	size_t nfds = 0;
	ssize_t n;

	E2E_CHECK(luo_msg_send(sock, op, 0, body, len, NULL, 0) == 0);
	n = luo_msg_recv(sock, rx, sizeof(rx), fds, LUO_FDS_PER_MSG, &nfds);
	E2E_CHECK(n >= (ssize_t)sizeof(hdr));
	memcpy(&hdr, rx, sizeof(hdr));
	E2E_CHECK(hdr.op == op);
	for (size_t i = 0; i < nfds; i++)
		close(fds[i]);
	if (out)
		memcpy(out, rx + sizeof(hdr), out_len < (size_t)n - sizeof(hdr) ? out_len : (size_t)n - sizeof(hdr));
	return hdr.result;
}

static int show(int dev, const char *name)
{
	struct luo_msg_show req = { 0 };

	snprintf(req.name, sizeof(req.name), "%s", name);
	return rpc(dev, LUO_OP_SHOW_SESSION, &req, sizeof(req), NULL, 0);
}

static uint32_t listed(int dev)
{
	struct luo_msg_list req = { 0 };
	struct luo_msg_list_reply rep;

	E2E_CHECK(rpc(dev, LUO_OP_LIST_SESSIONS, &req, sizeof(req), &rep, sizeof(rep)) == 0);
	return rep.total;
}

static int teardown(void **state)
{
	(void)state;
	if (d.pid <= 0)
		return 0; /* skipped before luod started */
	assert_true(luod_alive(&d));
	luod_stop(&d);
	return 0;
}

/* Let other uids reach the socket inside the test's private directory. */
static void open_dir(void)
{
	assert_int_equal(chmod(d.dir, 0711), 0);
}

static void try_connect(void *arg)
{
	int want = *(int *)arg, fd = luo_open(d.sock);

	if (want == 0)
		E2E_CHECK(fd >= 0);
	else
		E2E_CHECK(fd == want);
}

static void test_socket_mode_and_group(void **state)
{
	struct stat st;
	int ok = 0, denied = -EACCES;

	(void)state;
	if (geteuid() != 0)
		skip(); /* clients as other uids need root to become them */
	/* default: 0660, luod's group; another uid outside it cannot connect */
	luod_start(&d, NULL);
	open_dir();
	assert_int_equal(stat(d.sock, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0660);
	assert_int_equal(st.st_gid, getegid());
	assert_int_equal(e2e_as_uid(UID_A, GID_SHARED, try_connect, &denied), 0);
	/* bad values refuse to start (usage error) */
	assert_int_equal(e2e_luod_exit_status(&d, "--socket-mode", "0999"), 2);
	assert_int_equal(e2e_luod_exit_status(&d, "--socket-mode", "x"), 2);
	assert_int_equal(e2e_luod_exit_status(&d, "--socket-group", "no-such-group-luo"), 2);
	luod_stop(&d);

	/* a group: its members connect, others do not */
	luod_start(&d, "--socket-group", "65534", "--socket-mode", "0660", NULL);
	open_dir();
	assert_int_equal(stat(d.sock, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0660);
	assert_int_equal(st.st_gid, GID_SHARED);
	assert_int_equal(e2e_as_uid(UID_B, GID_SHARED, try_connect, &ok), 0);
	assert_int_equal(e2e_as_uid(UID_B, UID_B, try_connect, &denied), 0);
	luod_stop(&d);

	/* a mode for everyone */
	luod_start(&d, "--socket-mode", "666", NULL);
	open_dir();
	assert_int_equal(stat(d.sock, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0666);
	assert_int_equal(e2e_as_uid(UID_B, UID_B, try_connect, &ok), 0);
}

#define USER_RUNTIME "/run/user-luo-test"

/* As a non-root uid with no LUO_SOCKET: luo_open(NULL) gives want (0: a working connection). */
static void default_connect(void *arg)
{
	int want = *(int *)arg, fd;
	enum luo_state st;

	unsetenv("LUO_SOCKET");
	setenv("XDG_RUNTIME_DIR", USER_RUNTIME, 1);
	fd = luo_open(NULL);
	if (want == 0) {
		E2E_CHECK(fd >= 0);
		E2E_CHECK(luo_get_state(fd, &st) == 0);
	} else {
		E2E_CHECK(fd == want);
	}
}

/* In the child, in its own mount namespace: exit 0 (passed), 77 (cannot), 1 (failed). */
static int fallback_child(const char *state_dir)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *luod = getenv("LUOD");
	int ok = 0, refused = -ECONNREFUSED, fd = -1, status;
	pid_t pid;

	if (unshare(CLONE_NEWNS) < 0 || mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("tmpfs", "/run", "tmpfs", 0, "mode=0755") < 0)
		return 77;
	if (mkdir("/run/luo", 0755) < 0)
		return 1;
	pid = fork();
	if (pid == 0) {
		execl(luod, luod, "--socket", "/run/luo/luod.sock", "--state-dir", state_dir,
		      "--socket-group", "65534", (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 1000 && fd < 0; i++) {
		fd = luo_open("/run/luo/luod.sock");
		if (fd < 0)
			usleep(10000);
	}
	if (fd < 0)
		return 1;
	close(fd);
	/* no per-user luod: the system one */
	status = e2e_as_uid(UID_A, GID_SHARED, default_connect, &ok);
	/* a per-user socket (here one nobody listens on) comes first */
	if (status == 0) {
		fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/luo/luod.sock", USER_RUNTIME);
		if (mkdir(USER_RUNTIME, 0755) < 0 || mkdir(USER_RUNTIME "/luo", 0755) < 0 ||
		    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(sa.sun_path, 0666) < 0)
			status = 1;
		else
			status = e2e_as_uid(UID_A, GID_SHARED, default_connect, &refused);
		close(fd);
	}
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	return status;
}

static void test_default_socket_fallback(void **state)
{
	char dir[] = "/tmp/luo-fallback.XXXXXX", state_dir[64], cmd[96];
	int status;
	pid_t pid;

	(void)state;
	if (geteuid() != 0)
		skip();
	assert_non_null(mkdtemp(dir));
	reap_track_dir(dir);
	snprintf(state_dir, sizeof(state_dir), "%s/state", dir);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(fallback_child(state_dir));
	status = e2e_wait(pid);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	if (status == 77)
		skip(); /* no private mount namespace here */
	assert_int_equal(status, 0);
}

/* A's session, held by A until told to let go: sync over two pipes. */
struct owner {
	int ready[2];
	int go[2];
};

static void a_creates_and_holds(void *arg)
{
	struct owner *o = arg;
	int dev = luo_open(d.sock), s, fd = memfd_pattern("a", 8192, 77);
	char c = 1;

	E2E_CHECK(dev >= 0);
	s = luo_create_session(dev, "a-owned");
	E2E_CHECK(s >= 0);
	E2E_CHECK(luo_session_preserve_fd(s, fd, 5) == 0);
	E2E_CHECK(show(dev, "a-owned") == 0);
	E2E_CHECK(listed(dev) == 1);
	E2E_CHECK(write(o->ready[1], &c, 1) == 1);
	E2E_CHECK(read(o->go[0], &c, 1) == 1); /* the update ran: the handle is gone */
	_exit(0);
}

static void b_is_refused(void *arg)
{
	struct luo_msg_name name = { .name = "a-owned" };
	struct luo_msg_event ev = { .event = LUO_EVENT_PREPARE };
	static struct luo_msg_update up;
	int dev = luo_open(d.sock);
	bool after_update = *(bool *)arg;

	E2E_CHECK(dev >= 0);
	E2E_CHECK(show(dev, "a-owned") == -ENOENT); /* not there for B: EPERM would confirm it */
	E2E_CHECK(listed(dev) == 0);
	E2E_CHECK(rpc(dev, LUO_OP_SESSION_UPDATE, &name, sizeof(name), NULL, 0) == -EPERM);
	if (after_update)
		E2E_CHECK(luo_retrieve_session(dev, "a-owned") == -EPERM);
	/* a name taken by someone else is still taken */
	E2E_CHECK(luo_create_session(dev, "a-owned") == -EEXIST);
	/* global steps: root or luod's own uid only */
	for (uint32_t e = LUO_EVENT_PREPARE; e <= LUO_EVENT_FINISH; e++) {
		ev.event = e;
		E2E_CHECK(rpc(dev, LUO_OP_SET_EVENT, &ev, sizeof(ev), NULL, 0) == -EPERM);
	}
	E2E_CHECK(luo_set_event(dev, LUO_EVENT_FINISH) == -EPERM);
	E2E_CHECK(rpc(dev, LUO_OP_UPDATE, &up, sizeof(up), NULL, 0) == -EPERM);
	E2E_CHECK(luo_participant_register(dev, "b-part", NULL, 0) == -EPERM);
	/* B's own session works as for anyone */
	{
		int s = luo_create_session(dev, "b-own");

		E2E_CHECK(s >= 0);
		E2E_CHECK(show(dev, "b-own") == 0);
		E2E_CHECK(listed(dev) == 1);
		close(s);
	}
	close(dev);
}

static void a_retrieves(void *arg)
{
	int dev = luo_open(d.sock), s, fd;

	(void)arg;
	E2E_CHECK(dev >= 0);
	s = luo_retrieve_session(dev, "a-owned");
	E2E_CHECK(s >= 0);
	fd = luo_session_retrieve_fd(s, 5);
	E2E_CHECK(fd >= 0);
	E2E_CHECK(memfd_pattern_ok(fd, 8192, 77));
	E2E_CHECK(luo_session_finish(s) == 0);
	close(fd);
	close(s);
	close(dev);
}

static void test_ownership(void **state)
{
	struct owner o;
	bool after_update = false;
	pid_t a;
	char c = 0;

	(void)state;
	if (geteuid() != 0)
		skip();
	luod_start(&d, "--socket-mode", "0666", NULL);
	open_dir();
	assert_int_equal(pipe(o.ready), 0);
	assert_int_equal(pipe(o.go), 0);
	a = e2e_fork_as(UID_A, GID_SHARED, a_creates_and_holds, &o);
	assert_int_equal(read(o.ready[0], &c, 1), 1);

	assert_int_equal(e2e_as_uid(UID_B, UID_B, b_is_refused, &after_update), 0);
	/* root sees and may show it, and sees it is A's */
	assert_true(e2e_session_listed(&d, "a-owned"));
	assert_int_equal(e2e_session_files(&d, "a-owned"), 1);

	/* across an update (root's), A's session stays A's */
	luod_update(&d, NULL);
	assert_int_equal(write(o.go[1], &c, 1), 1);
	assert_int_equal(e2e_wait(a), 0);
	after_update = true;
	assert_int_equal(e2e_as_uid(UID_B, UID_B, b_is_refused, &after_update), 0);
	assert_int_equal(e2e_as_uid(UID_A, GID_SHARED, a_retrieves, NULL), 0);
	assert_false(e2e_session_listed(&d, "a-owned"));
	for (int i = 0; i < 2; i++) {
		close(o.ready[i]);
		close(o.go[i]);
	}
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_teardown(test_socket_mode_and_group, teardown),
	cmocka_unit_test_teardown(test_ownership, teardown),
	cmocka_unit_test_teardown(test_default_socket_fallback, teardown),
};

LUO_TEST_MAIN("access", tests, NULL, NULL)
