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
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "e2e.h"

static struct luod_proc d;

/* The ports free_port() keeps bound until the case ends. */
static int reserved[16];
static size_t nreserved;

static int setup(void **state)
{
	(void)state;
	luod_start(&d, NULL);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	while (nreserved)
		close(reserved[--nreserved]);
	assert_true(luod_alive(&d));
	luod_stop(&d);
	return 0;
}

/*
 * A TCP port on 127.0.0.1 for a luoctl exec --listen, kept bound (with
 * SO_REUSEADDR, never listening) until the case ends. luoctl binds it all
 * the same (SO_REUSEADDR too), and no other process's bind(0) or connect()
 * can take it in between: when it was closed at once, another process on
 * a loaded machine sometimes had it first ("Address already in use").
 */
static int free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	assert_true(fd >= 0);
	assert_true(nreserved < sizeof(reserved) / sizeof(reserved[0]));
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	reserved[nreserved++] = fd;
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

/* A luoctl exec's log, on the test's stderr: why it failed. */
static void show_log(const char *log)
{
	char cmd[PATH_MAX + 32];

	snprintf(cmd, sizeof(cmd), "cat '%s' >&2", log);
	if (system(cmd) != 0)
		fprintf(stderr, "(no log %s)\n", log);
}

/* luoctl exec ARGS, run to its end with the exit status want; else its log is shown. */
#define assert_exec(log, ...) exec_expect(__LINE__, log, __VA_ARGS__)
static void exec_expect(int line, const char *log, const char *const *args, int want)
{
	int got = exec_run(log, args);

	if (got == want)
		return;
	show_log(log);
	fail_msg("line %d: luoctl exec exited with %d, not %d (its log is above)", line, got, want);
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

/* Create path, as the scripts wait for it; no fd of it is left open to reach a command. */
static void touch(const char *path)
{
	int fd = creat(path, 0644);

	assert_true(fd >= 0);
	close(fd);
}

/* Wait (bounded: 30 s) until path exists. */
static void wait_file(const char *path)
{
	for (int i = 0; i < 3000 && !exists(path); i++)
		pause_ms(10);
	assert_true(exists(path));
}

/*
 * Wait (bounded: 30 s) until the command of the luoctl exec with this pid
 * has made path; a luoctl that exits first fails the test with its status
 * and log.
 */
static void wait_started(pid_t luoctl, const char *log, const char *path)
{
	int status;

	for (int i = 0; i < 3000 && !exists(path); i++) {
		if (waitpid(luoctl, &status, WNOHANG) == luoctl) {
			show_log(log);
			fail_msg("luoctl exec ended (status %#x) before its command made %s (its log is above)",
				 status, path);
		}
		pause_ms(10);
	}
	if (!exists(path)) {
		show_log(log);
		fail_msg("%s: not made within 30 s (luoctl exec's log is above)", path);
	}
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
	assert_exec(log, args, 7);
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
	assert_exec(log, args, 0);
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
	assert_exec(log, args, 0);
	read_file(rep, second, sizeof(second));
	assert_string_equal(first, second);
	assert_true(session_is("web", "frozen", false));
}

/*
 * luoctl exec --create of session on a fresh TCP listener, running a script
 * that reports (REPORT, into rep) and waits until stop exists; returns its
 * pid once the report is in first.
 */
static pid_t start_until_stop(const char *session, const char *log, const char *rep,
			      const char *stop, char *first, size_t len)
{
	char tcp[64], script[PATH_MAX * 2];
	pid_t pid;

	snprintf(tcp, sizeof(tcp), "tcp:127.0.0.1:%d", free_port());
	snprintf(script, sizeof(script), REPORT "; while [ ! -e %s ]; do sleep 0.02; done", stop);
	pid = exec_start(log, (const char *[]){ "--session", session, "--create", "--listen", tcp,
						"--", "/bin/sh", "-c", script, rep, NULL });
	wait_started(pid, log, rep);
	read_file(rep, first, len);
	return pid;
}

static void test_update_while_running(void **state)
{
	char first[512], second[512], log[PATH_MAX], rep[PATH_MAX], stop[PATH_MAX];
	const char *args[16];
	pid_t pid;

	(void)state;
	snprintf(log, sizeof(log), "%s/exec.log", d.dir);
	snprintf(rep, sizeof(rep), "%s/report", d.dir);
	snprintf(stop, sizeof(stop), "%s/stop", d.dir);
	pid = start_until_stop("svc", log, rep, stop, first, sizeof(first));
	assert_non_null(strstr(first, "fds=1 pid_ok=yes names=0\nsocket:["));
	assert_non_null(strstr(first, "]\nnone\nnone\n"));
	wait_session("svc", "frozen", true);

	/* luod's update drops luoctl's handle; luoctl takes the session back at once */
	luod_update(&d, NULL);
	wait_session("svc", "frozen", true);
	assert_int_equal(luod_status_field(&d, "incoming_sessions"), 0);
	/* and again: a second update while the same command runs */
	luod_update(&d, NULL);
	wait_session("svc", "frozen", true);

	touch(stop);
	assert_int_equal(e2e_wait(pid), 0);
	assert_true(session_is("svc", "frozen", false));
	unlink(stop);
	unlink(rep);

	/* the next run gets the very socket the first run had */
	args[0] = "--session";
	args[1] = "svc";
	args[2] = "--";
	args[3] = "/bin/sh";
	args[4] = "-c";
	args[5] = REPORT;
	args[6] = rep;
	args[7] = NULL;
	assert_exec(log, args + 0, 0);
	read_file(rep, second, sizeof(second));
	assert_string_equal(first, second);
}

/*
 * luod SIGKILLed and started again while the command runs: the session
 * comes back from the keeper, luoctl sees a new luod instance (not the
 * generation, which a crash may repeat), takes it back in one step
 * (RENEW) and holds it again; its command and its listener are untouched.
 */
static void test_crash_while_running(void **state)
{
	char first[512], log[PATH_MAX], rep[PATH_MAX], stop[PATH_MAX];
	pid_t pid;

	(void)state;
	snprintf(log, sizeof(log), "%s/exec-crash.log", d.dir);
	snprintf(rep, sizeof(rep), "%s/report-crash", d.dir);
	snprintf(stop, sizeof(stop), "%s/stop-crash", d.dir);
	pid = start_until_stop("crashsvc", log, rep, stop, first, sizeof(first));
	wait_session("crashsvc", "frozen", true);
	e2e_crash(&d);
	e2e_restart(&d);
	wait_session("crashsvc", "frozen", true); /* luoctl holds it again */
	assert_int_equal(luod_status_field(&d, "incoming_sessions"), 0);
	touch(stop);
	assert_int_equal(e2e_wait(pid), 0);
	assert_true(session_is("crashsvc", "frozen", false));
	unlink(stop);
	unlink(rep);
}

/*
 * A second `luoctl exec` while the first one's command runs: refused as
 * held (not "no session"); with --take-over it gets the same fds at once
 * while the first command still runs, and the first luoctl leaves the
 * session alone when its command exits.
 */
static void test_take_over(void **state)
{
	char first[512], second[512], log[PATH_MAX], log2[PATH_MAX], rep[PATH_MAX],
		rep2[PATH_MAX], stop[PATH_MAX], text[4096];
	pid_t pid;

	(void)state;
	snprintf(log, sizeof(log), "%s/exec.log", d.dir);
	snprintf(log2, sizeof(log2), "%s/exec2.log", d.dir);
	snprintf(rep, sizeof(rep), "%s/report", d.dir);
	snprintf(rep2, sizeof(rep2), "%s/report2", d.dir);
	snprintf(stop, sizeof(stop), "%s/stop", d.dir);
	pid = start_until_stop("vm", log, rep, stop, first, sizeof(first));
	wait_session("vm", "frozen", true);

	/* held by a running command: said so, with the way out */
	assert_exec(log2, (const char *[]){ "--session", "vm", "--", "/bin/true",
					    NULL }, 1);
	read_file(log2, text, sizeof(text));
	assert_non_null(strstr(text, "session vm is held by a running process"));
	assert_non_null(strstr(text, "--take-over"));
	assert_null(strstr(text, "holds no session"));
	assert_true(session_is("vm", "frozen", true));

	/* the successor takes it over while the predecessor still runs */
	assert_exec(log2, (const char *[]){ "--session", "vm", "--take-over", "--",
					    "/bin/sh", "-c", REPORT, rep2, NULL }, 0);
	read_file(rep2, second, sizeof(second));
	assert_string_equal(first, second);
	assert_int_equal(kill(pid, 0), 0);
	assert_true(session_is("vm", "frozen", false));

	/* the predecessor exits later and leaves the session to luod as it is */
	touch(stop);
	assert_int_equal(e2e_wait(pid), 0);
	assert_true(session_is("vm", "frozen", false));
	assert_int_equal(e2e_session_files(&d, "vm"), 1);
	read_file(log, text, sizeof(text));
	assert_non_null(strstr(text, "handed on"));
	/* --take-over with nobody holding the session is an ordinary start */
	assert_exec(log2, (const char *[]){ "--session", "vm", "--take-over", "--",
					    "/bin/sh", "-c", REPORT, rep2, NULL }, 0);
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
	wait_started(pid, log, rep);
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
	assert_exec(log, args, 128 + SIGKILL);
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
	assert_exec(log, (const char *[]){ "--", "/bin/true", NULL }, 2);
	assert_exec(log, (const char *[]){ "--session", "a", NULL }, 2);
	assert_exec(log, (const char *[]){ "--session", "a", "--create", "--listen",
					   "bogus:1", "--", "/bin/true", NULL }, 2);
	assert_exec(log, (const char *[]){ "--session", "a", "--create", "--listen",
					   "tcp6:::1:80", "--", "/bin/true", NULL }, 2);
	assert_int_equal(luoctl(&d, out, sizeof(out), "exec", "--help", NULL), 0);
	assert_non_null(strstr(out, "--listen SPEC"));
	/* no session held and no --create: 1, nothing created */
	assert_exec(log, (const char *[]){ "--session", "a", "--", "/bin/true", NULL }, 1);
	assert_false(e2e_session_listed(&d, "a"));
	/* a port in use: 1, no session left behind */
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 1), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &len), 0);
	snprintf(port, sizeof(port), "tcp:127.0.0.1:%d", ntohs(sa.sin_port));
	assert_exec(log, (const char *[]){ "--session", "a", "--create", "--listen",
					   port, "--", "/bin/true", NULL }, 1);
	assert_false(e2e_session_listed(&d, "a"));
	close(lfd);
	/* a command that does not exist: 127, and the listeners stay held */
	snprintf(port, sizeof(port), "tcp:127.0.0.1:%d", free_port());
	assert_exec(log, (const char *[]){ "--session", "a", "--create", "--listen",
					   port, "--", "/nonexistent/cmd", NULL }, 127);
	assert_true(session_is("a", "frozen", false));
	assert_int_equal(e2e_session_files(&d, "a"), 1);
	/* a session some process holds: 1 */
	{
		int dev = e2e_open(&d), s = luo_create_session(dev, "busy");

		assert_true(s >= 0);
		assert_exec(log, (const char *[]){ "--session", "busy", "--create",
						   "--", "/bin/true", NULL }, 1);
		close(s);
		close(dev);
	}
}

/* Whether file path contains text. */
static bool file_has(const char *path, const char *text)
{
	char buf[16384];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return strstr(buf, text) != NULL;
}

/* Wait (bounded: 30 s) until path contains text. */
static void wait_text(const char *path, const char *text)
{
	for (int i = 0; i < 3000 && !file_has(path, text); i++)
		pause_ms(10);
	if (!file_has(path, text))
		fail_msg("%s never said \"%s\"", path, text);
}

/* Connect to 127.0.0.1:port; the fd, or -errno. */
static int tcp_connect(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				  .sin_port = htons((uint16_t)port) };
	int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(c >= 0);
	if (connect(c, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = -errno;

		close(c);
		return r;
	}
	return c;
}

/* What a connection to port reads until EOF (bounded by a 30 s timeout). */
static void tcp_read_all(int port, char *buf, size_t len)
{
	struct timeval tv = { .tv_sec = 30 };
	int c = tcp_connect(port);
	size_t used = 0;
	ssize_t n;

	if (c < 0)
		fail_msg("connect to %d: %s", port, strerror(-c));
	setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (used < len - 1 && (n = read(c, buf + used, len - 1 - used)) > 0)
		used += (size_t)n;
	buf[used] = '\0';
	close(c);
}

/*
 * Every signal a server may use reaches the command, none ends luoctl:
 * HAProxy's USR1, nginx's and gunicorn's USR2, WINCH, TTIN, TTOU among them.
 * --stop-signal: luoctl's own TERM reaches the command as that signal.
 */
static void test_every_signal(void **state)
{
	static const struct {
		int sig;
		const char *name;
	} sigs[] = { { SIGHUP, "HUP" },	  { SIGINT, "INT" },   { SIGQUIT, "QUIT" },
		     { SIGUSR1, "USR1" }, { SIGUSR2, "USR2" }, { SIGWINCH, "WINCH" },
		     { SIGTTIN, "TTIN" }, { SIGTTOU, "TTOU" }, { SIGALRM, "ALRM" },
		     { SIGTSTP, "TSTP" } };
	char tcp[64], log[PATH_MAX], got[PATH_MAX], rep[PATH_MAX], script[PATH_MAX * 4];
	const char *args[] = { "--session", "sigs", "--stop-signal", "SIGQUIT", "--",
			       "/bin/sh", "-c", script, NULL };
	int n, status;
	pid_t pid;

	(void)state;
	snprintf(tcp, sizeof(tcp), "tcp:127.0.0.1:%d", free_port());
	snprintf(log, sizeof(log), "%s/exec.log", d.dir);
	snprintf(got, sizeof(got), "%s/got", d.dir);
	snprintf(rep, sizeof(rep), "%s/ready", d.dir);
	n = snprintf(script, sizeof(script), "for s in");
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		n += snprintf(script + n, sizeof(script) - (size_t)n, " %s", sigs[i].name);
	snprintf(script + n, sizeof(script) - (size_t)n,
		 "; do trap \"echo $s >> %s\" $s; done; trap 'echo TERM >> %s; exit 42' TERM; "
		 ": > %s; while :; do sleep 0.02; done",
		 got, got, rep);
	pid = exec_start(log, (const char *[]){ "--session", "sigs", "--create", "--listen", tcp,
						"--", "/bin/sh", "-c", script, NULL });
	wait_started(pid, log, rep);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		char line[16];

		assert_int_equal(kill(pid, sigs[i].sig), 0);
		snprintf(line, sizeof(line), "%s\n", sigs[i].name);
		wait_text(got, line);
		/* luoctl is still there, CMD's parent */
		assert_int_equal(waitpid(pid, &status, WNOHANG), 0);
	}
	assert_int_equal(kill(pid, SIGTERM), 0);
	assert_int_equal(e2e_wait(pid), 42);
	assert_true(session_is("sigs", "frozen", false));
	unlink(rep);
	unlink(got);

	/* --stop-signal QUIT: luoctl's TERM is the command's QUIT; KILL and STOP are refused */
	snprintf(script, sizeof(script),
		 "trap 'exit 43' QUIT; trap 'exit 44' TERM; : > %s; while :; do sleep 0.02; done", rep);
	pid = exec_start(log, args);
	wait_started(pid, log, rep);
	assert_int_equal(kill(pid, SIGTERM), 0);
	assert_int_equal(e2e_wait(pid), 43);
	args[3] = "KILL";
	assert_exec(log, args, 2);
	args[3] = "STOP";
	assert_exec(log, args, 2);
	args[3] = "NOSUCH";
	assert_exec(log, args, 2);
	assert_true(session_is("sigs", "frozen", false));
}

/* A small server on fd 3 that writes its pid to argv[1] and answers "served" to everyone. */
#define SERVE                                                                           \
	"import os, socket, sys\n"                                                      \
	"s = socket.socket(fileno=3)\n"                                                 \
	"open(sys.argv[1] + '.tmp', 'w').write(str(os.getpid()))\n"                     \
	"os.rename(sys.argv[1] + '.tmp', sys.argv[1])\n"                                \
	"while True:\n"                                                                 \
	"    c, _ = s.accept()\n"                                                       \
	"    c.sendall(b'served by %d' % os.getpid())\n"                                \
	"    c.close()\n"

static pid_t read_pid(const char *path)
{
	char buf[32];

	wait_file(path);
	read_file(path, buf, sizeof(buf));
	unlink(path);
	return (pid_t)atoi(buf);
}

/*
 * luoctl exec dies, the session does not: SIGUSR1 to luoctl reaches the
 * command (and ends it: its default action) while luoctl frees the session
 * as on any exit; SIGKILL to luoctl leaves the command serving, orphaned,
 * and luod holding the session; the next luoctl exec takes it and says
 * which earlier server still has its sockets. Across a luod update too.
 */
static void test_supervisor_dies(void **state)
{
	char tcp[64], log[PATH_MAX], rep[PATH_MAX], buf[256], want[64];
	const char *args[] = { "--session", "sup", "--create", "--listen", tcp, "--",
			       "/usr/bin/python3", "-c", SERVE, rep, NULL };
	int port = free_port();
	pid_t pid, server;

	(void)state;
	snprintf(tcp, sizeof(tcp), "tcp:127.0.0.1:%d", port);
	snprintf(log, sizeof(log), "%s/exec.log", d.dir);
	snprintf(rep, sizeof(rep), "%s/pid", d.dir);

	/* SIGUSR1 goes to the command, whose default action ends it; luoctl says how */
	pid = exec_start(log, args);
	server = read_pid(rep);
	tcp_read_all(port, buf, sizeof(buf));
	snprintf(want, sizeof(want), "served by %d", (int)server);
	assert_string_equal(buf, want);
	wait_session("sup", "frozen", true);
	assert_int_equal(kill(pid, SIGUSR1), 0);
	assert_int_equal(e2e_wait(pid), 128 + SIGUSR1);
	assert_true(session_is("sup", "frozen", false));
	assert_int_equal(e2e_session_files(&d, "sup"), 1);

	/* SIGKILL to luoctl: the server goes on serving, luod holds the session */
	pid = exec_start(log, args);
	server = read_pid(rep);
	wait_session("sup", "frozen", true);
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(e2e_wait(pid), 128 + SIGKILL);
	wait_session("sup", "frozen", false);
	assert_int_equal(e2e_session_files(&d, "sup"), 1);
	assert_true(!e2e_gone(server));
	tcp_read_all(port, buf, sizeof(buf));
	snprintf(want, sizeof(want), "served by %d", (int)server);
	assert_string_equal(buf, want);

	/* luod updated meanwhile: the session crosses it like any held one */
	luod_update(&d, NULL);
	tcp_read_all(port, buf, sizeof(buf));
	assert_string_equal(buf, want);

	/* the next luoctl exec takes the session and names the server still running */
	truncate(log, 0);
	pid = exec_start(log, args);
	wait_text(log, "an earlier server still has its sockets open");
	snprintf(want, sizeof(want), "pid %d (python3)", (int)server);
	wait_text(log, want);
	{
		pid_t next = read_pid(rep);

		wait_session("sup", "frozen", true);
		/* the orphan stopped: the new one serves alone, on the same listener */
		assert_int_equal(kill(server, SIGKILL), 0);
		for (int i = 0; i < 3000 && !e2e_gone(server); i++)
			pause_ms(10);
		assert_false(!e2e_gone(server));
		tcp_read_all(port, buf, sizeof(buf));
		snprintf(want, sizeof(want), "served by %d", (int)next);
		assert_string_equal(buf, want);
	}
	assert_int_equal(kill(pid, SIGTERM), 0);
	assert_int_equal(e2e_wait(pid), 128 + SIGTERM);
	assert_true(session_is("sup", "frozen", false));
}

/*
 * A command that shuts its listener down (shutdown(SHUT_RD): the socket is
 * shared, so that stops it accepting for everyone) does not stop it for
 * long: luoctl listens again at once, while the command runs and when it
 * exits right after; a client that connects then waits in the backlog for
 * the next run.
 */
static void test_relisten(void **state)
{
	char tcp[64], log[PATH_MAX], rep[PATH_MAX], stop[PATH_MAX], buf[256];
	const char *shut = "import os, socket, sys, time\n"
			   "s = socket.socket(fileno=3)\n"
			   "s.shutdown(socket.SHUT_RD)\n"
			   "open(sys.argv[1], 'w').close()\n"
			   "while not os.path.exists(sys.argv[2]):\n"
			   "    time.sleep(0.02)\n"
			   "c, _ = s.accept()\n"
			   "c.sendall(b'served after the shutdown')\n";
	int port = free_port(), c;
	pid_t pid;

	(void)state;
	snprintf(tcp, sizeof(tcp), "tcp:127.0.0.1:%d", port);
	snprintf(log, sizeof(log), "%s/exec.log", d.dir);
	snprintf(rep, sizeof(rep), "%s/pid", d.dir);
	snprintf(stop, sizeof(stop), "%s/stop", d.dir);
	pid = exec_start(log, (const char *[]){ "--session", "shut", "--create", "--listen", tcp,
						"--", "/usr/bin/python3", "-c", shut, rep, stop, NULL });
	wait_started(pid, log, rep);
	wait_text(log, "the command shut down its listener on fd 3; listening again");
	c = tcp_connect(port);
	if (c < 0)
		fail_msg("connect after luoctl listened again: %s", strerror(-c));
	touch(stop);
	memset(buf, 0, sizeof(buf));
	assert_true(read(c, buf, sizeof(buf) - 1) > 0);
	assert_string_equal(buf, "served after the shutdown");
	close(c);
	assert_int_equal(e2e_wait(pid), 0);
	assert_true(session_is("shut", "frozen", false));
	unlink(rep);
	unlink(stop);

	/* shut down and gone at once: luoctl listens again before it hands the session over */
	truncate(log, 0);
	assert_exec(log, (const char *[]){ "--session", "shut", "--", "/usr/bin/python3",
					   "-c", "import socket; socket.socket(fileno=3)"
					   ".shutdown(socket.SHUT_RD)", NULL }, 0);
	assert_true(file_has(log, "listening again"));
	assert_true(session_is("shut", "frozen", false));
	c = tcp_connect(port);
	if (c < 0)
		fail_msg("connect between two runs: %s", strerror(-c));

	/* the connection made between two runs is served by the third */
	pid = exec_start(log, (const char *[]){ "--session", "shut", "--", "/usr/bin/python3", "-c",
						SERVE, rep, NULL });
	memset(buf, 0, sizeof(buf));
	assert_true(read(c, buf, sizeof(buf) - 1) > 0);
	assert_non_null(strstr(buf, "served by"));
	close(c);
	tcp_read_all(port, buf, sizeof(buf));
	assert_non_null(strstr(buf, "served by"));
	assert_int_equal(kill(pid, SIGTERM), 0);
	assert_int_equal(e2e_wait(pid), 128 + SIGTERM);
	unlink(rep);
}

/* --protocol nginx: NGINX="3;4;" beside LISTEN_FDS, for nginx's own inheritance, and O_NONBLOCK. */
static void test_protocol_nginx(void **state)
{
	char tcp[64], tcp2[64], log[PATH_MAX], rep[PATH_MAX], script[PATH_MAX * 5], buf[256];

	(void)state;
	snprintf(tcp, sizeof(tcp), "tcp:127.0.0.1:%d", free_port());
	snprintf(tcp2, sizeof(tcp2), "tcp:127.0.0.1:%d", free_port());
	snprintf(log, sizeof(log), "%s/exec.log", d.dir);
	snprintf(rep, sizeof(rep), "%s/env", d.dir);
	snprintf(script, sizeof(script),
		 "echo \"NGINX=$NGINX fds=$LISTEN_FDS\" > %s.tmp; "
		 "sed -n 's/^flags:[[:space:]]*/flags=/p' /proc/$$/fdinfo/3 >> %s.tmp; mv %s.tmp %s",
		 rep, rep, rep, rep);
	assert_exec(log, (const char *[]){ "--session", "ngx", "--create", "--listen",
					   tcp, "--listen", tcp2, "--protocol",
					   "nginx", "--", "/bin/sh", "-c", script,
					   NULL }, 0);
	read_file(rep, buf, sizeof(buf));
	assert_non_null(strstr(buf, "NGINX=3;4; fds=2\nflags="));
	/* non-blocking, as nginx takes an inherited listener to be */
	assert_true(strtol(strstr(buf, "flags=") + 6, NULL, 8) & O_NONBLOCK);
	/* without it, no NGINX: nginx would take none */
	assert_exec(log, (const char *[]){ "--session", "ngx", "--", "/bin/sh", "-c",
					   script, NULL }, 0);
	read_file(rep, buf, sizeof(buf));
	assert_non_null(strstr(buf, "NGINX= fds=2\nflags="));
	assert_exec(log, (const char *[]){ "--session", "ngx", "--protocol", "bogus",
					   "--", "/bin/true", NULL }, 2);
}

/* An fd luoctl inherited without close-on-exec does not reach CMD (luoctl(8)). */
static void test_other_fds_stay(void **state)
{
	char tcp[64], log[PATH_MAX], rep[PATH_MAX], script[PATH_MAX * 4], buf[256];
	int fd = open("/dev/null", O_RDONLY); /* no O_CLOEXEC: luoctl inherits it */

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(dup2(fd, 42), 42);
	close(fd);
	snprintf(tcp, sizeof(tcp), "tcp:127.0.0.1:%d", free_port());
	snprintf(log, sizeof(log), "%s/exec.log", d.dir);
	snprintf(rep, sizeof(rep), "%s/fd42", d.dir);
	snprintf(script, sizeof(script),
		 "{ readlink /proc/$$/fd/42 || echo none; readlink /proc/$$/fd/3; } > %s.tmp; "
		 "mv %s.tmp %s", rep, rep, rep);
	assert_exec(log, (const char *[]){ "--session", "fds", "--create", "--listen", tcp,
					   "--", "/bin/sh", "-c", script, NULL }, 0);
	close(42);
	read_file(rep, buf, sizeof(buf));
	assert_non_null(strstr(buf, "none\nsocket:["));
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_setup_teardown(test_listen_fds, setup, teardown),
	cmocka_unit_test_setup_teardown(test_update_while_running, setup, teardown),
	cmocka_unit_test_setup_teardown(test_crash_while_running, setup, teardown),
	cmocka_unit_test_setup_teardown(test_take_over, setup, teardown),
	cmocka_unit_test_setup_teardown(test_signals, setup, teardown),
	cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
	cmocka_unit_test_setup_teardown(test_every_signal, setup, teardown),
	cmocka_unit_test_setup_teardown(test_supervisor_dies, setup, teardown),
	cmocka_unit_test_setup_teardown(test_relisten, setup, teardown),
	cmocka_unit_test_setup_teardown(test_protocol_nginx, setup, teardown),
	cmocka_unit_test_setup_teardown(test_other_fds_stay, setup, teardown),
};

LUO_TEST_MAIN("luoctl-exec", tests, NULL, NULL)
