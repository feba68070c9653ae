// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `luoctl preserve`: an fd taken out of a running process that knows
 * nothing of luo (sleep(1) with a memfd or a listening socket on some fd)
 * ends up in a session luod holds, survives a live update of luod and is
 * retrieved with its contents; a second preserve adds to the same session;
 * fds picked by what they are (memfd name, file path, socket address),
 * several at once under consecutive tokens, all or none; the refusals (no
 * such process, no such fd, no fd matching, no session without --create, a
 * token in use, another uid: the kernel's ptrace check) each exit 1 with a
 * message that says why, and leave the session as it was; `luoctl drop`
 * releases a session luod holds on its own, not one a process holds. A held
 * session with more files than one reply of luod's lists is taken back
 * whole: every file once.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
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

/*
 * sleep(1) holding fd as its fd `at`: a process that knows nothing of luo.
 * Returns once it runs sleep (the close-on-exec pipe reads EOF), so the fd
 * is in place before luoctl looks for it. It dies with the test and keeps
 * away from the runner's stdout, so a failed case cannot hang the run.
 */
static pid_t holder_many(const int *fds, const int *at, size_t n)
{
	int ready[2], null;
	char byte;
	pid_t pid;

	assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		null = open("/dev/null", O_RDWR);
		if (null < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)
			_exit(120);
		int high[8];

		/* out of the way first: a source may sit where another one goes */
		for (size_t i = 0; i < n && i < 8; i++)
			if ((high[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 100)) < 0)
				_exit(120);
		for (size_t i = 0; i < n && i < 8; i++)
			if (dup2(high[i], at[i]) < 0)
				_exit(120);
		execl("/bin/sleep", "sleep", "600", (char *)NULL);
		_exit(127);
	}
	close(ready[1]);
	assert_int_equal(read(ready[0], &byte, 1), 0);
	close(ready[0]);
	return pid;
}

static pid_t holder(int fd, int at)
{
	return holder_many(&fd, &at, 1);
}

static void reap(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* luoctl with stdout and stderr captured; prefix (may be NULL) runs it, e.g. setpriv. */
static int run(const char *const *prefix, char *out, size_t outlen, char *err, size_t errlen, ...)
{
	char *argv[48];
	int argc = 0, po[2], pe[2], status;
	va_list ap;
	pid_t pid;

	for (; prefix && *prefix; prefix++)
		argv[argc++] = (char *)*prefix;
	argv[argc++] = getenv("LUOCTL");
	argv[argc++] = "--socket";
	argv[argc++] = d.sock;
	va_start(ap, errlen);
	for (char *a; argc < 47 && (a = va_arg(ap, char *));)
		argv[argc++] = a;
	va_end(ap);
	argv[argc] = NULL;
	assert_non_null(getenv("LUOCTL"));
	assert_int_equal(pipe2(po, O_CLOEXEC), 0);
	assert_int_equal(pipe2(pe, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(po[1], 1);
		dup2(pe[1], 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	/* outputs are small: a pipe buffer holds each */
	assert_int_equal(waitpid(pid, &status, 0), pid);
	memset(out, 0, outlen);
	memset(err, 0, errlen);
	assert_true(read(po[0], out, outlen - 1) >= 0);
	assert_true(read(pe[0], err, errlen - 1) >= 0);
	close(po[0]);
	close(pe[0]);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void test_preserve_from_process(void **state)
{
	char out[4096], err[4096], pidstr[16], str[64];
	int mfd = memfd_pattern("taken", 3 * 4096, 77), dev, h, fd, lfd, port;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	pid_t a, b;

	(void)state;
	memset(out, 0, sizeof(out));
	a = holder(mfd, 9);
	close(mfd);
	snprintf(pidstr, sizeof(pidstr), "%d", (int)a);
	assert_int_equal(run(NULL, out, sizeof(out), err, sizeof(err), "preserve", "--session",
			     "taken", "--pid", pidstr, "--fd", "9", "--token", "42", "--create",
			     "--json", NULL), 0);
	assert_true(e2e_json_valid(out));
	e2e_json_str(out, "session", str, sizeof(str));
	assert_string_equal(str, "taken");
	assert_int_equal(e2e_json_int(out, "token"), 42);
	assert_int_equal(e2e_json_int(out, "pid"), a);
	assert_int_equal(e2e_json_int(out, "fd"), 9);
	assert_int_equal(e2e_json_int(out, "files"), 1);
	/* luod holds it: frozen, nobody attached */
	assert_int_equal(luoctl(&d, out, sizeof(out), "show", "taken", "--json", NULL), 0);
	assert_non_null(strstr(out, "\"state\": \"frozen\""));
	assert_non_null(strstr(out, "\"attached\": false"));
	assert_int_equal(e2e_json_int(out, "files"), 1);
	/* the process still has its fd, and nothing of it needs luo */
	reap(a);

	/* a second preserve, without --create, adds to the held session */
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 16), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &len), 0);
	port = ntohs(sa.sin_port);
	b = holder(lfd, 5);
	close(lfd);
	snprintf(pidstr, sizeof(pidstr), "%d", (int)b);
	assert_int_equal(run(NULL, out, sizeof(out), err, sizeof(err), "preserve", "--session",
			     "taken", "--pid", pidstr, "--fd", "5", "--token", "43", NULL), 0);
	assert_non_null(strstr(out, "luod holds the session"));
	reap(b);
	assert_int_equal(e2e_session_files(&d, "taken"), 2);

	/* across a live update of luod, and back with its contents */
	luod_update(&d, NULL);
	dev = e2e_open(&d);
	h = luo_retrieve_session(dev, "taken");
	assert_true(h >= 0);
	fd = luo_session_retrieve_fd(h, 42);
	assert_true(fd >= 0);
	assert_true(memfd_pattern_ok(fd, 3 * 4096, 77));
	close(fd);
	fd = luo_session_retrieve_fd(h, 43);
	assert_true(fd >= 0);
	len = sizeof(sa);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	assert_int_equal(ntohs(sa.sin_port), port);
	close(fd);
	assert_int_equal(luo_session_finish(h), 0);
	close(h);
	close(dev);
}

/*
 * preserve into a held session that takes 3 SHOW replies to list: luoctl
 * retrieves every file it has (a file listed twice fails the retrieve, one
 * left out is missing from the count), outgoing and after a luod update.
 */
static void test_many_files(void **state)
{
	static char text[1 << 20];
	const size_t n = 2 * e2e_files_per_page() + e2e_files_per_page() / 2;
	char out[4096], err[4096], pidstr[16], token[32];
	int dev = e2e_open(&d), s, mfd;
	pid_t a;

	(void)state;
	s = e2e_session_of_many(dev, "many", n);
	assert_int_equal(luo_session_set_event(s, LUO_EVENT_FREEZE), 0);
	close(s);
	close(dev);
	for (size_t k = 0; k < 2; k++) {
		mfd = memfd_pattern("extra", 4096, (uint32_t)k);
		a = holder(mfd, 9);
		close(mfd);
		snprintf(pidstr, sizeof(pidstr), "%d", (int)a);
		snprintf(token, sizeof(token), "%" PRIu64, e2e_sparse_token(n + k));
		assert_int_equal(run(NULL, out, sizeof(out), err, sizeof(err), "--json", "preserve",
				     "--session", "many", "--pid", pidstr, "--fd", "9", "--token",
				     token, NULL), 0);
		assert_true(e2e_json_valid(out));
		assert_int_equal(e2e_json_int(out, "files"), (long long)(n + k + 1));
		reap(a);
		assert_int_equal(luoctl(&d, text, sizeof(text), "--json", "show", "many", NULL), 0);
		e2e_assert_sequence(text, "{\"token\": ", n + k + 1, e2e_sparse_token);
		assert_non_null(strstr(text, "\"state\": \"frozen\", \"incoming\": false, "));
		if (k == 0)
			luod_update(&d, NULL); /* the second takes it back incoming */
	}
}

/* Selectors: a QEMU-like process with its guest RAM memfd among other fds. */
static void test_select(void **state)
{
	char out[8192], err[4096], pidstr[16], path[PATH_MAX], addr[64], unixaddr[PATH_MAX];
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	socklen_t len = sizeof(sa);
	int fds[5], at[5] = { 7, 9, 11, 12, 14 }, dev, h, fd;
	pid_t a;

	(void)state;
	fds[0] = memfd_pattern("other", 4096, 5);
	fds[1] = memfd_pattern("guest-ram", 8 * 4096, 99);
	fds[2] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(fds[2], (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fds[2], 4), 0);
	assert_int_equal(getsockname(fds[2], (struct sockaddr *)&sa, &len), 0);
	snprintf(addr, sizeof(addr), "tcp:127.0.0.1:%d", ntohs(sa.sin_port));
	snprintf(path, sizeof(path), "%s/disk.img", d.dir);
	fds[3] = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fds[3] >= 0);
	fds[4] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(strlen(d.dir) + 10 < sizeof(sun.sun_path));
	memcpy(sun.sun_path, d.dir, strlen(d.dir));
	strcat(sun.sun_path, "/qmp.sock");
	assert_int_equal(bind(fds[4], (struct sockaddr *)&sun, sizeof(sun)), 0);
	snprintf(unixaddr, sizeof(unixaddr), "unix:%s", sun.sun_path);
	a = holder_many(fds, at, 5);
	for (int i = 0; i < 5; i++)
		close(fds[i]);
	snprintf(pidstr, sizeof(pidstr), "%d", (int)a);

	/* no fd matches: nothing is created */
	assert_int_equal(run(NULL, out, sizeof(out), err, sizeof(err), "preserve", "--session",
			     "vm", "--pid", pidstr, "--memfd", "guest-ram", "--memfd", "nope", "--token",
			     "0", "--create", NULL), 1);
	assert_non_null(strstr(err, "no fd matching --memfd nope"));
	assert_false(e2e_session_listed(&d, "vm"));
	assert_int_equal(run(NULL, out, sizeof(out), err, sizeof(err), "preserve", "--session",
			     "vm", "--pid", pidstr, "--address", "tcp:127.0.0.1:1", "--token", "0",
			     "--create", NULL), 1);
	assert_non_null(strstr(err, "no fd matching --address"));
	assert_int_equal(run(NULL, out, sizeof(out), err, sizeof(err), "preserve", "--session",
			     "vm", "--pid", pidstr, "--address", "udp:1", "--token", "0", NULL), 2);

	/* four at once, in selector order, tokens 10, 11, 12, 13; the memfd named twice counts once */
	assert_int_equal(run(NULL, out, sizeof(out), err, sizeof(err), "preserve", "--session",
			     "vm", "--pid", pidstr, "--memfd", "guest-ram", "--address", addr, "--path",
			     path, "--fd", "9", "--address", unixaddr, "--token", "10", "--create",
			     "--json", NULL), 0);
	assert_true(e2e_json_valid(out));
	assert_int_equal(e2e_json_int(out, "files"), 4);
	assert_non_null(strstr(out, "{\"fd\": 9, \"token\": 10, \"what\": \"/memfd:guest-ram"));
	assert_non_null(strstr(out, "{\"fd\": 11, \"token\": 11, \"what\": \"socket:["));
	assert_non_null(strstr(out, "{\"fd\": 12, \"token\": 12, \"what\": \""));
	assert_non_null(strstr(out, "{\"fd\": 14, \"token\": 13, \"what\": \"socket:["));
	assert_null(strstr(out, "\"fd\": 7,"));
	assert_int_equal(e2e_session_files(&d, "vm"), 4);

	/* all or nothing: a second batch whose second token is taken adds nothing */
	assert_int_equal(run(NULL, out, sizeof(out), err, sizeof(err), "preserve", "--session",
			     "vm", "--pid", pidstr, "--memfd", "other", "--path", path, "--token", "9",
			     NULL), 1);
	assert_non_null(strstr(err, "as token 10"));
	assert_int_equal(e2e_session_files(&d, "vm"), 4);
	reap(a);

	/* across a live update of luod: the guest RAM by its token, contents intact */
	luod_update(&d, NULL);
	dev = e2e_open(&d);
	h = luo_retrieve_session(dev, "vm");
	assert_true(h >= 0);
	fd = luo_session_retrieve_fd(h, 10);
	assert_true(fd >= 0);
	assert_true(memfd_pattern_ok(fd, 8 * 4096, 99));
	close(fd);
	fd = luo_session_retrieve_fd(h, 9);
	assert_int_equal(fd, -ENOENT);
	assert_int_equal(luo_session_finish(h), 0);
	close(h);
	close(dev);
}

/* `luoctl drop`: a held session released, before and after a luod update; a running holder's refused. */
static void test_drop(void **state)
{
	char out[4096], err[4096], pidstr[16];
	int mfd = memfd_pattern("guest-ram", 4096, 3), dev, s;
	pid_t a = holder(mfd, 9);

	(void)state;
	close(mfd);
	snprintf(pidstr, sizeof(pidstr), "%d", (int)a);
	assert_int_equal(run(NULL, out, sizeof(out), err, sizeof(err), "preserve", "--session", "d1",
			     "--pid", pidstr, "--memfd", "guest-ram", "--token", "0", "--create", NULL),
			 0);
	assert_int_equal(run(NULL, out, sizeof(out), err, sizeof(err), "preserve", "--session", "d2",
			     "--pid", pidstr, "--fd", "9", "--token", "0", "--create", NULL),
			 1); /* the memfd is in d1 already */
	assert_int_equal(run(NULL, out, sizeof(out), err, sizeof(err), "drop", "d1", "--json", NULL),
			 0);
	assert_true(e2e_json_valid(out));
	assert_int_equal(e2e_json_int(out, "files"), 1);
	assert_false(e2e_session_listed(&d, "d1"));
	/* released: the same memfd can go into another session now */
	assert_int_equal(run(NULL, out, sizeof(out), err, sizeof(err), "preserve", "--session", "d2",
			     "--pid", pidstr, "--fd", "9", "--token", "0", "--create", NULL),
			 0);
	reap(a);
	/* after a luod update the held session is incoming: dropped all the same */
	luod_update(&d, NULL);
	assert_int_equal(run(NULL, out, sizeof(out), err, sizeof(err), "drop", "d2", NULL), 0);
	assert_non_null(strstr(out, "dropped session d2"));
	assert_false(e2e_session_listed(&d, "d2"));
	/* none of that name, and one a process holds: 1, and the latter stays */
	assert_int_equal(run(NULL, out, sizeof(out), err, sizeof(err), "drop", "d2", NULL), 1);
	assert_non_null(strstr(err, "luod holds no session d2"));
	dev = e2e_open(&d);
	s = luo_create_session(dev, "busy");
	assert_true(s >= 0);
	assert_int_equal(run(NULL, out, sizeof(out), err, sizeof(err), "drop", "busy", NULL), 1);
	assert_non_null(strstr(err, "held by a running process"));
	assert_true(e2e_session_listed(&d, "busy"));
	close(s);
	close(dev);
}

static void test_refusals(void **state)
{
	static const char *const nobody[] = { "setpriv", "--reuid=65534", "--regid=65534",
					      "--clear-groups", NULL };
	char out[4096], err[4096], pidstr[16];
	int mfd = memfd_pattern("r", 4096, 1);
	pid_t a = holder(mfd, 9);

	(void)state;
	close(mfd);
	snprintf(pidstr, sizeof(pidstr), "%d", (int)a);
	/* usage: 2 */
	assert_int_equal(run(NULL, out, sizeof(out), err, sizeof(err), "preserve", "--session", "x",
			     "--pid", pidstr, "--fd", "9", NULL), 2);
	assert_int_equal(run(NULL, out, sizeof(out), err, sizeof(err), "preserve", "--session", "x",
			     "--pid", "abc", "--fd", "9", "--token", "1", NULL), 2);
	assert_int_equal(run(NULL, out, sizeof(out), err, sizeof(err), "preserve", "--help", NULL), 0);
	assert_non_null(strstr(out, "--token T"));
	/* no such session without --create */
	assert_int_equal(run(NULL, out, sizeof(out), err, sizeof(err), "preserve", "--session", "x",
			     "--pid", pidstr, "--fd", "9", "--token", "1", NULL), 1);
	assert_non_null(strstr(err, "--create"));
	assert_false(e2e_session_listed(&d, "x"));
	/* no such fd */
	assert_int_equal(run(NULL, out, sizeof(out), err, sizeof(err), "preserve", "--session", "x",
			     "--pid", pidstr, "--fd", "77", "--token", "1", "--create", NULL), 1);
	assert_non_null(strstr(err, "has no fd 77"));
	assert_false(e2e_session_listed(&d, "x"));
	/* no such process: a reaped child's pid */
	{
		pid_t gone = fork();
		char gonestr[16];

		assert_true(gone >= 0);
		if (gone == 0)
			_exit(0);
		waitpid(gone, NULL, 0);
		snprintf(gonestr, sizeof(gonestr), "%d", (int)gone);
		assert_int_equal(run(NULL, out, sizeof(out), err, sizeof(err), "preserve",
				     "--session", "x", "--pid", gonestr, "--fd", "0", "--token", "1",
				     "--create", NULL), 1);
		assert_non_null(strstr(err, "no such process"));
	}
	/* another uid may not take a root process's fd: the kernel says EPERM */
	assert_int_equal(run(nobody, out, sizeof(out), err, sizeof(err), "preserve", "--session",
			     "x", "--pid", pidstr, "--fd", "9", "--token", "1", "--create", NULL), 1);
	assert_non_null(strstr(err, "not permitted"));
	assert_non_null(strstr(err, strerror(EPERM)));
	assert_false(e2e_session_listed(&d, "x"));
	/* a token in use: refused, and the held session keeps what it had */
	assert_int_equal(run(NULL, out, sizeof(out), err, sizeof(err), "preserve", "--session", "x",
			     "--pid", pidstr, "--fd", "9", "--token", "1", "--create", NULL), 0);
	assert_int_equal(run(NULL, out, sizeof(out), err, sizeof(err), "preserve", "--session", "x",
			     "--pid", pidstr, "--fd", "0", "--token", "1", NULL), 1);
	assert_non_null(strstr(err, strerror(EEXIST)));
	assert_int_equal(luoctl(&d, out, sizeof(out), "show", "x", "--json", NULL), 0);
	assert_non_null(strstr(out, "\"state\": \"frozen\""));
	assert_int_equal(e2e_json_int(out, "files"), 1);
	reap(a);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_setup_teardown(test_preserve_from_process, setup, teardown),
	cmocka_unit_test_setup_teardown(test_select, setup, teardown),
	cmocka_unit_test_setup_teardown(test_many_files, setup, teardown),
	cmocka_unit_test_setup_teardown(test_drop, setup, teardown),
	cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
};

LUO_TEST_MAIN("luoctl-preserve", tests, NULL, NULL)
