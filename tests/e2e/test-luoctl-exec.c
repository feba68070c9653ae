// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `luoctl exec`: the sd_listen_fds protocol (LISTEN_FDS, LISTEN_FDNAMES,
 * LISTEN_PID = the command's own pid, sockets at 3, 4, ...), the same
 * sockets on every run (the session is frozen and held by luod between
 * runs), a connection made between two runs waiting in the backlog, luod
 * updated while the command runs and while nothing runs, the command's exit
 * status and signals passed on, a successor started while its predecessor
 * runs (--take-over), and the refusals. The commands are sh(1) scripts that
 * know nothing of luo.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
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

/* A TCP port free right now on 127.0.0.1. */
static int free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);
	return ntohs(sa.sin_port);
}

/* luoctl exec in the background, stdout and stderr to log; returns its pid. */
static pid_t exec_start(const char *log, const char *const *args)
{
	char *argv[32];
	int argc = 0;
	pid_t pid;

	argv[argc++] = getenv("LUOCTL");
	argv[argc++] = "--socket";
	argv[argc++] = d.sock;
	argv[argc++] = "exec";
	for (; *args; args++)
		argv[argc++] = (char *)*args;
	argv[argc] = NULL;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(120);
		execv(argv[0], argv);
		_exit(121);
	}
	return pid;
}

static int exec_run(const char *log, const char *const *args)
{
	return e2e_wait(exec_start(log, args));
}

static void read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	assert_true(fd >= 0);
	n = read(fd, buf, len - 1);
	assert_true(n >= 0);
	buf[n] = '\0';
	close(fd);
}

static bool exists(const char *path)
{
	return access(path, F_OK) == 0;
}

static void pause_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Wait (bounded: 30 s) until path exists. */
static void wait_file(const char *path)
{
	for (int i = 0; i < 3000 && !exists(path); i++)
		pause_ms(10);
	assert_true(exists(path));
}

/* Whether luoctl show NAME --json has state and attached as given. */
static bool session_is(const char *name, const char *state, bool attached)
{
	char out[8192], want[64];

	if (luoctl(&d, out, sizeof(out), "show", name, "--json", NULL) != 0)
		return false;
	snprintf(want, sizeof(want), "\"state\": \"%s\"", state);
	return strstr(out, want) && strstr(out, attached ? "\"attached\": true" : "\"attached\": false");
}

static void wait_session(const char *name, const char *state, bool attached)
{
	for (int i = 0; i < 3000 && !session_is(name, state, attached); i++)
		pause_ms(10);
	assert_true(session_is(name, state, attached));
}

/*
 * What the scripts below record: the protocol's variables and what fds 3,
 * 4 and 5 are; written aside and renamed, so that a reader sees all or none.
 */
#define REPORT                                                                             \
	"echo \"fds=$LISTEN_FDS pid_ok=$([ \"$LISTEN_PID\" = $$ ] && echo yes) "          \
	"names=$LISTEN_FDNAMES\" > \"$0.tmp\"; for f in 3 4 5; do "                        \
	"readlink /proc/$$/fd/$f >> \"$0.tmp\" 2>/dev/null || echo none >> \"$0.tmp\"; "  \
	"done; mv \"$0.tmp\" \"$0\""

static void test_listen_fds(void **state)
{
	char out[4096], first[512], second[512], tcp[64], unx[PATH_MAX], log[PATH_MAX],
		rep[PATH_MAX], port[16];
	const char *args[16];
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int c, n = 0;

	(void)state;
	snprintf(port, sizeof(port), "%d", free_port());
	snprintf(tcp, sizeof(tcp), "tcp:127.0.0.1:%s", port);
	snprintf(unx, sizeof(unx), "unix:%s/web.sock", d.dir);
	snprintf(log, sizeof(log), "%s/exec.log", d.dir);
	snprintf(rep, sizeof(rep), "%s/report", d.dir);
	args[n++] = "--session";
	args[n++] = "web";
	args[n++] = "--create";
	args[n++] = "--listen";
	args[n++] = tcp;
	args[n++] = "--listen";
	args[n++] = unx;
	args[n++] = "--";
	args[n++] = "/bin/sh";
	args[n++] = "-c";
	args[n++] = REPORT "; exit 7";
	args[n++] = rep;
	args[n] = NULL;
	/* the command's exit status is luoctl's */
	assert_int_equal(exec_run(log, args), 7);
	read_file(rep, first, sizeof(first));
	assert_non_null(strstr(first, "fds=2 pid_ok=yes names=0:1\nsocket:["));
	assert_non_null(strstr(first, "]\nsocket:["));
	assert_non_null(strstr(first, "]\nnone\n"));
	/* luod holds the listeners: frozen, no process attached */
	assert_true(session_is("web", "frozen", false));
	assert_int_equal(e2e_session_files(&d, "web"), 2);

	/* a client between two runs waits in the backlog of the held socket */
	sa.sin_port = htons((uint16_t)atoi(port));
	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(connect(c, (struct sockaddr *)&sa, sizeof(sa)), 0);

	/* the next run, without --create and without --listen: the same two sockets */
	args[0] = "--session";
	args[1] = "web";
	args[2] = "--";
	args[3] = "/bin/sh";
	args[4] = "-c";
	args[5] = REPORT "; exec 0<&3; python3 -c 'import socket; s = socket.socket(fileno=0); "
		  "c, _ = s.accept(); c.sendall(b\"served\")' 2>/dev/null || "
		  "/usr/bin/python3 -c 'import socket; s = socket.socket(fileno=0); "
		  "c, _ = s.accept(); c.sendall(b\"served\")'";
	args[6] = rep;
	args[7] = NULL;
	assert_int_equal(exec_run(log, args), 0);
	read_file(rep, second, sizeof(second));
	assert_string_equal(first, second);
	memset(out, 0, sizeof(out));
	assert_int_equal(read(c, out, sizeof(out) - 1), 6);
	assert_string_equal(out, "served");
	close(c);
	assert_true(session_is("web", "frozen", false));

	/* luod updated between runs: the held session comes back incoming, and still serves */
	luod_update(&d, NULL);
	args[5] = REPORT;
	assert_int_equal(exec_run(log, args), 0);
	read_file(rep, second, sizeof(second));
	assert_string_equal(first, second);
	assert_true(session_is("web", "frozen", false));
}

static void test_update_while_running(void **state)
{
	char first[512], second[512], tcp[64], log[PATH_MAX], rep[PATH_MAX], stop[PATH_MAX],
		script[PATH_MAX * 2];
	const char *args[16];
	int n = 0;
	pid_t pid;

	(void)state;
	snprintf(tcp, sizeof(tcp), "tcp:127.0.0.1:%d", free_port());
	snprintf(log, sizeof(log), "%s/exec.log", d.dir);
	snprintf(rep, sizeof(rep), "%s/report", d.dir);
	snprintf(stop, sizeof(stop), "%s/stop", d.dir);
	snprintf(script, sizeof(script), REPORT "; while [ ! -e %s ]; do sleep 0.02; done", stop);
	args[n++] = "--session";
	args[n++] = "svc";
	args[n++] = "--create";
	args[n++] = "--listen";
	args[n++] = tcp;
	args[n++] = "--";
	args[n++] = "/bin/sh";
	args[n++] = "-c";
	args[n++] = script;
	args[n++] = rep;
	args[n] = NULL;
	pid = exec_start(log, args);
	wait_file(rep);
	read_file(rep, first, sizeof(first));
	assert_non_null(strstr(first, "fds=1 pid_ok=yes names=0\nsocket:["));
	assert_non_null(strstr(first, "]\nnone\nnone\n"));
	wait_session("svc", "normal", true);

	/* luod's update drops luoctl's handle; luoctl takes the session back at once */
	luod_update(&d, NULL);
	wait_session("svc", "normal", true);
	assert_int_equal(luod_status_field(&d, "incoming_sessions"), 0);
	/* and again: a second update while the same command runs */
	luod_update(&d, NULL);
	wait_session("svc", "normal", true);

	assert_int_equal(creat(stop, 0644) >= 0, 1);
	assert_int_equal(e2e_wait(pid), 0);
	assert_true(session_is("svc", "frozen", false));
	unlink(stop);
	unlink(rep);

	/* the next run gets the very socket the first run had */
	args[2] = "--";
	args[3] = "/bin/sh";
	args[4] = "-c";
	args[5] = REPORT;
	args[6] = rep;
	args[7] = NULL;
	assert_int_equal(exec_run(log, args + 0), 0);
	read_file(rep, second, sizeof(second));
	assert_string_equal(first, second);
}

/*
 * A second `luoctl exec` while the first one's command runs: refused as
 * held (not "no session"); with --take-over it gets the same fds at once
 * while the first command still runs, and the first luoctl leaves the
 * session alone when its command exits.
 */
static void test_take_over(void **state)
{
	char first[512], second[512], tcp[64], log[PATH_MAX], log2[PATH_MAX], rep[PATH_MAX],
		rep2[PATH_MAX], stop[PATH_MAX], script[PATH_MAX * 2], text[4096];
	const char *args[16];
	int n = 0;
	pid_t pid;

	(void)state;
	snprintf(tcp, sizeof(tcp), "tcp:127.0.0.1:%d", free_port());
	snprintf(log, sizeof(log), "%s/exec.log", d.dir);
	snprintf(log2, sizeof(log2), "%s/exec2.log", d.dir);
	snprintf(rep, sizeof(rep), "%s/report", d.dir);
	snprintf(rep2, sizeof(rep2), "%s/report2", d.dir);
	snprintf(stop, sizeof(stop), "%s/stop", d.dir);
	snprintf(script, sizeof(script), REPORT "; while [ ! -e %s ]; do sleep 0.02; done", stop);
	args[n++] = "--session";
	args[n++] = "vm";
	args[n++] = "--create";
	args[n++] = "--listen";
	args[n++] = tcp;
	args[n++] = "--";
	args[n++] = "/bin/sh";
	args[n++] = "-c";
	args[n++] = script;
	args[n++] = rep;
	args[n] = NULL;
	pid = exec_start(log, args);
	wait_file(rep);
	read_file(rep, first, sizeof(first));
	wait_session("vm", "normal", true);

	/* held by a running command: said so, with the way out */
	assert_int_equal(exec_run(log2, (const char *[]){ "--session", "vm", "--", "/bin/true",
							  NULL }),
			 1);
	read_file(log2, text, sizeof(text));
	assert_non_null(strstr(text, "session vm is held by a running process"));
	assert_non_null(strstr(text, "--take-over"));
	assert_null(strstr(text, "holds no session"));
	assert_true(session_is("vm", "normal", true));

	/* the successor takes it over while the predecessor still runs */
	assert_int_equal(exec_run(log2, (const char *[]){ "--session", "vm", "--take-over", "--",
							  "/bin/sh", "-c", REPORT, rep2, NULL }),
			 0);
	read_file(rep2, second, sizeof(second));
	assert_string_equal(first, second);
	assert_int_equal(kill(pid, 0), 0);
	assert_true(session_is("vm", "frozen", false));

	/* the predecessor exits later and leaves the session to luod as it is */
	n = creat(stop, 0644);
	assert_true(n >= 0);
	close(n);
	assert_int_equal(e2e_wait(pid), 0);
	assert_true(session_is("vm", "frozen", false));
	assert_int_equal(e2e_session_files(&d, "vm"), 1);
	read_file(log, text, sizeof(text));
	assert_non_null(strstr(text, "handed on"));
	/* --take-over with nobody holding the session is an ordinary start */
	assert_int_equal(exec_run(log2, (const char *[]){ "--session", "vm", "--take-over", "--",
							  "/bin/sh", "-c", REPORT, rep2, NULL }),
			 0);
	read_file(rep2, second, sizeof(second));
	assert_string_equal(first, second);
}

static void test_signals(void **state)
{
	char tcp[64], log[PATH_MAX], rep[PATH_MAX], script[PATH_MAX * 2];
	const char *args[16];
	int n = 0;
	pid_t pid;

	(void)state;
	snprintf(tcp, sizeof(tcp), "tcp:127.0.0.1:%d", free_port());
	snprintf(log, sizeof(log), "%s/exec.log", d.dir);
	snprintf(rep, sizeof(rep), "%s/ready", d.dir);
	snprintf(script, sizeof(script),
		 "trap 'exit 42' TERM; : > %s; while :; do sleep 0.02; done", rep);
	args[n++] = "--session";
	args[n++] = "sig";
	args[n++] = "--create";
	args[n++] = "--listen";
	args[n++] = tcp;
	args[n++] = "--";
	args[n++] = "/bin/sh";
	args[n++] = "-c";
	args[n++] = script;
	args[n] = NULL;
	pid = exec_start(log, args);
	wait_file(rep);
	/* SIGTERM to luoctl reaches the command; its status comes back */
	assert_int_equal(kill(pid, SIGTERM), 0);
	assert_int_equal(e2e_wait(pid), 42);
	assert_true(session_is("sig", "frozen", false));
	unlink(rep);
	/* a command killed by a signal: 128 + the signal */
	args[2] = "--";
	args[3] = "/bin/sh";
	args[4] = "-c";
	args[5] = "kill -KILL $$";
	args[6] = NULL;
	assert_int_equal(exec_run(log, args), 128 + SIGKILL);
	assert_true(session_is("sig", "frozen", false));
}

static void test_refusals(void **state)
{
	char out[4096], log[PATH_MAX], port[64];
	int lfd;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);

	(void)state;
	snprintf(log, sizeof(log), "%s/exec.log", d.dir);
	/* usage: 2 */
	assert_int_equal(exec_run(log, (const char *[]){ "--", "/bin/true", NULL }), 2);
	assert_int_equal(exec_run(log, (const char *[]){ "--session", "a", NULL }), 2);
	assert_int_equal(exec_run(log, (const char *[]){ "--session", "a", "--create", "--listen",
							 "bogus:1", "--", "/bin/true", NULL }),
			 2);
	assert_int_equal(exec_run(log, (const char *[]){ "--session", "a", "--create", "--listen",
							 "tcp6:::1:80", "--", "/bin/true", NULL }),
			 2);
	assert_int_equal(luoctl(&d, out, sizeof(out), "exec", "--help", NULL), 0);
	assert_non_null(strstr(out, "--listen SPEC"));
	/* no session held and no --create: 1, nothing created */
	assert_int_equal(exec_run(log, (const char *[]){ "--session", "a", "--", "/bin/true", NULL }),
			 1);
	assert_false(e2e_session_listed(&d, "a"));
	/* a port in use: 1, no session left behind */
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 1), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &len), 0);
	snprintf(port, sizeof(port), "tcp:127.0.0.1:%d", ntohs(sa.sin_port));
	assert_int_equal(exec_run(log, (const char *[]){ "--session", "a", "--create", "--listen",
							 port, "--", "/bin/true", NULL }),
			 1);
	assert_false(e2e_session_listed(&d, "a"));
	close(lfd);
	/* a command that does not exist: 127, and the listeners stay held */
	snprintf(port, sizeof(port), "tcp:127.0.0.1:%d", free_port());
	assert_int_equal(exec_run(log, (const char *[]){ "--session", "a", "--create", "--listen",
							 port, "--", "/nonexistent/cmd", NULL }),
			 127);
	assert_true(session_is("a", "frozen", false));
	assert_int_equal(e2e_session_files(&d, "a"), 1);
	/* a session some process holds: 1 */
	{
		int dev = e2e_open(&d), s = luo_create_session(dev, "busy");

		assert_true(s >= 0);
		assert_int_equal(exec_run(log, (const char *[]){ "--session", "busy", "--create",
								 "--", "/bin/true", NULL }),
				 1);
		close(s);
		close(dev);
	}
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_setup_teardown(test_listen_fds, setup, teardown),
	cmocka_unit_test_setup_teardown(test_update_while_running, setup, teardown),
	cmocka_unit_test_setup_teardown(test_take_over, setup, teardown),
	cmocka_unit_test_setup_teardown(test_signals, setup, teardown),
	cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
};

LUO_TEST_MAIN("luoctl-exec", tests, NULL, NULL)
