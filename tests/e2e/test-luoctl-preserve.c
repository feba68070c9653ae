// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `luoctl preserve`: an fd taken out of a running process that knows
 * nothing of luo (sleep(1) with a memfd or a listening socket on some fd)
 * ends up in a session luod holds, survives a live update of luod and is
 * retrieved with its contents; a second preserve adds to the same session;
 * the refusals (no such process, no such fd, no session without --create, a
 * token in use, another uid: the kernel's ptrace check) each exit 1 with a
 * message that says why, and leave the session as it was.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
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
static pid_t holder(int fd, int at)
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
		if (null < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0 || dup2(fd, at) < 0)
			_exit(120);
		execl("/bin/sleep", "sleep", "600", (char *)NULL);
		_exit(127);
	}
	close(ready[1]);
	assert_int_equal(read(ready[0], &byte, 1), 0);
	close(ready[0]);
	return pid;
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
	cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
};

LUO_TEST_MAIN("luoctl-preserve", tests, NULL, NULL)
