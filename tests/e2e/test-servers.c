// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Stock servers from Debian under `luoctl exec`, each with its own recipe
 * from examples/ and its own signals: HAProxy (haproxy, `bind fd@3`,
 * master-worker; soft stop SIGUSR1), nginx (nginx-light, `--protocol
 * nginx`; graceful stop SIGQUIT, SIGUSR1 reopens its logs) and gunicorn
 * (python3-gunicorn, LISTEN_FDS; SIGTERM, SIGUSR1 reopens its logs). One
 * server per run, named by argv[1]. (uvicorn 0.17, `--fd 3`, is not here:
 * its SIGTERM shutdown resets connections it has accepted and not yet
 * answered: seen here at its first restart under this load.)
 *
 * While two load generators send requests without pause (each a new
 * connection: connect, GET /, read the whole answer, check it), the server
 * is restarted with its graceful signal five times, and luod is updated
 * with `luoctl update` three times in between, while a server runs and
 * while none does:
 *   1 -> 2  the graceful signal sent to luoctl exec (passed on as it is)
 *   2 -> 3  SIGTERM to luoctl exec (--stop-signal makes it the graceful one)
 *   3 -> 4  SIGUSR1 to luoctl exec: HAProxy's soft stop; nginx and gunicorn
 *           reopen their logs and go on (then SIGTERM)
 *   4 -> 5  SIGKILL to luoctl exec: the server goes on serving, orphaned;
 *           luod holds the session; the next luoctl exec takes it and says
 *           which earlier server still has its sockets; that one is then
 *           stopped gracefully by its own pid
 * Not one request may fail, every version must have answered, and the
 * session is frozen and held by luod at the end. Skips (with the reason)
 * when the server is not installed.
 *
 * The counts live in shared memory and the test waits on them (never on
 * the clock) before each next step. The test is a child subreaper, so the
 * orphaned server comes back to it and can be waited for.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "e2e.h"

#define PYTHON "/usr/bin/python3"
#define VERSIONS 5
#define LOADS 2

enum kind { HAPROXY, NGINX, GUNICORN };

static const struct server {
	const char *name;
	enum kind kind;
	int graceful;        /* its own graceful stop */
	const char *package; /* Debian's */
} servers[] = {
	{ "haproxy", HAPROXY, SIGUSR1, "haproxy" },
	{ "nginx", NGINX, SIGQUIT, "nginx-light" },
	{ "gunicorn", GUNICORN, SIGTERM, "python3-gunicorn" },
};

static const struct server *srv;
static const char *examples;
static struct luod_proc d;
static int port, port_fd = -1;

struct load {
	volatile unsigned long ok, failed;
	volatile unsigned long by_version[VERSIONS + 1];
	volatile int stop;
	char last_error[256];
};

static struct load *load;

static int setup(void **state)
{
	(void)state;
	luod_start(&d, NULL);
	return 0;
}

/* What a failed run leaves: ended here, so that nothing outlives the test. */
static pid_t running_pids[8];

static void track(pid_t pid)
{
	for (size_t i = 0; i < sizeof(running_pids) / sizeof(running_pids[0]); i++)
		if (!running_pids[i]) {
			running_pids[i] = pid;
			return;
		}
}

/* SIGKILL pid and every process below it (a server's workers), children first. */
static void kill_tree(pid_t pid)
{
	char path[64], buf[1024], *p, *end;
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		buf[n > 0 ? n : 0] = '\0';
		for (p = buf;; p = end) {
			long child = strtol(p, &end, 10);

			if (end == p)
				break;
			kill_tree((pid_t)child);
		}
	}
	kill(pid, SIGKILL);
}

static int teardown(void **state)
{
	(void)state;
	if (load)
		load->stop = 1;
	for (size_t i = 0; i < sizeof(running_pids) / sizeof(running_pids[0]); i++)
		/* only a child not yet reaped: a pid reaped since may be anyone's now */
		if (running_pids[i] > 0 && waitpid(running_pids[i], NULL, WNOHANG) == 0) {
			kill_tree(running_pids[i]);
			waitpid(running_pids[i], NULL, 0);
		}
	assert_true(luod_alive(&d));
	luod_stop(&d);
	return 0;
}

static void pause_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Whether argv runs and exits 0, its output discarded. */
static bool runs(const char *const *argv)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

		dup2(null, 1);
		dup2(null, 2);
		execv(argv[0], (char **)argv);
		_exit(127);
	}
	return e2e_wait(pid) == 0;
}

/* Whether the server can run here; else why not, in why. */
static bool available(char *why, size_t len)
{
	switch (srv->kind) {
	case HAPROXY:
		if (runs((const char *[]){ "/usr/sbin/haproxy", "-v", NULL }))
			return true;
		snprintf(why, len, "/usr/sbin/haproxy does not run");
		return false;
	case NGINX:
		if (runs((const char *[]){ "/usr/sbin/nginx", "-v", NULL }))
			return true;
		snprintf(why, len, "/usr/sbin/nginx does not run");
		return false;
	case GUNICORN:
		if (runs((const char *[]){ PYTHON, "-c", "import gunicorn", NULL }))
			return true;
		snprintf(why, len, PYTHON " has no %s module", srv->name);
		return false;
	}
	return false;
}

/* One request; its app version (1..VERSIONS), or -1 with the reason in load->last_error. */
static int request(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				  .sin_port = htons((uint16_t)port) };
	static const char req[] = "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n";
	/* a stopped server's backlog holds the connection for as long as a restart takes */
	struct timeval tv = { .tv_sec = 60 };
	char buf[4096], *v;
	size_t used = 0;
	ssize_t n;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), r = -1;

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		snprintf(load->last_error, sizeof(load->last_error), "connect: %s", strerror(errno));
		goto out;
	}
	if (write(fd, req, sizeof(req) - 1) != (ssize_t)sizeof(req) - 1) {
		snprintf(load->last_error, sizeof(load->last_error), "write: %s", strerror(errno));
		goto out;
	}
	while (used < sizeof(buf) - 1 && (n = read(fd, buf + used, sizeof(buf) - 1 - used)) > 0)
		used += (size_t)n;
	buf[used] = '\0';
	if (strncmp(buf, "HTTP/1.0 200", 12) && strncmp(buf, "HTTP/1.1 200", 12)) {
		snprintf(load->last_error, sizeof(load->last_error), "answer: %.200s",
			 used ? buf : strerror(errno));
		goto out;
	}
	v = strstr(buf, "hello from app version ");
	if (v)
		r = atoi(v + strlen("hello from app version "));
	if (r < 1 || r > VERSIONS) {
		snprintf(load->last_error, sizeof(load->last_error), "body: %.200s", buf);
		r = -1;
	}
out:
	close(fd);
	return r;
}

static pid_t load_start(void)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		while (!load->stop) {
			int v = request();

			if (v < 0) {
				__atomic_add_fetch(&load->failed, 1, __ATOMIC_SEQ_CST);
			} else {
				__atomic_add_fetch(&load->by_version[v], 1, __ATOMIC_SEQ_CST);
				__atomic_add_fetch(&load->ok, 1, __ATOMIC_SEQ_CST);
			}
		}
		_exit(0);
	}
	return pid;
}

/* Wait until the load generators have had n more answers (bounded: 60 s). */
static void wait_answers(unsigned long n)
{
	unsigned long want = load->ok + n;

	for (int i = 0; i < 6000 && load->ok < want && !load->failed; i++)
		pause_ms(10);
	if (load->failed)
		fail_msg("a request failed: %s", load->last_error);
	assert_true(load->ok >= want);
}

/* Wait until version v has answered n times (bounded: 60 s). */
static void wait_version(int v, unsigned long n)
{
	for (int i = 0; i < 6000 && load->by_version[v] < n && !load->failed; i++)
		pause_ms(10);
	if (load->failed)
		fail_msg("a request failed: %s", load->last_error);
	if (load->by_version[v] < n)
		fail_msg("version %d answered %lu times, not %lu", v, load->by_version[v], n);
}

/* examples/nginx/nginx.conf.in with its @...@ filled in, as dir/nginx.conf. */
static void nginx_conf(const char *dir, int version)
{
	char in[PATH_MAX + 32], out[PATH_MAX + 16], text[8192], word[PATH_MAX], *p;
	FILE *f, *o;
	size_t n;

	snprintf(in, sizeof(in), "%s/nginx/nginx.conf.in", examples);
	snprintf(out, sizeof(out), "%s/nginx.conf", dir);
	f = fopen(in, "re");
	assert_non_null(f);
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	o = fopen(out, "we");
	assert_non_null(o);
	for (p = text; *p;) {
		char *end;

		if (*p != '@' || !(end = strchr(p + 1, '@')) || end - p > 16) {
			fputc(*p++, o);
			continue;
		}
		*end = '\0';
		if (!strcmp(p + 1, "DIR"))
			snprintf(word, sizeof(word), "%s", dir);
		else if (!strcmp(p + 1, "ADDRESS"))
			snprintf(word, sizeof(word), "127.0.0.1:%d", port);
		else if (!strcmp(p + 1, "VERSION"))
			snprintf(word, sizeof(word), "%d", version);
		else
			fail_msg("nginx.conf.in: unknown @%s@", p + 1);
		fputs(word, o);
		p = end + 1;
	}
	fclose(o);
}

/* luoctl exec running the server's version; the same line every time but for the version. */
static pid_t server_start(int version)
{
	char listen[64], log[PATH_MAX + 8], ver[8], dir[PATH_MAX], conf[PATH_MAX + 16], app[PATH_MAX];
	const char *argv[32];
	int n = 0;
	pid_t pid;

	snprintf(listen, sizeof(listen), "tcp:127.0.0.1:%d", port);
	snprintf(ver, sizeof(ver), "%d", version);
	snprintf(dir, sizeof(dir), "%s/%s-%d", d.dir, srv->name, version);
	assert_int_equal(mkdir(dir, 0755), 0);
	snprintf(log, sizeof(log), "%s/log", dir);
	argv[n++] = getenv("LUOCTL");
	argv[n++] = "--socket";
	argv[n++] = d.sock;
	argv[n++] = "exec";
	argv[n++] = "--session";
	argv[n++] = "web";
	argv[n++] = "--create";
	argv[n++] = "--listen";
	argv[n++] = listen;
	switch (srv->kind) {
	case HAPROXY:
		snprintf(conf, sizeof(conf), "%s/haproxy/haproxy.cfg", examples);
		argv[n++] = "--stop-signal";
		argv[n++] = "USR1";
		argv[n++] = "--";
		argv[n++] = "/usr/sbin/haproxy";
		argv[n++] = "-W";
		argv[n++] = "-db";
		argv[n++] = "-f";
		argv[n++] = conf;
		break;
	case NGINX:
		nginx_conf(dir, version);
		snprintf(conf, sizeof(conf), "%s/nginx.conf", dir);
		argv[n++] = "--protocol";
		argv[n++] = "nginx";
		argv[n++] = "--stop-signal";
		argv[n++] = "QUIT";
		argv[n++] = "--";
		argv[n++] = "/usr/sbin/nginx";
		argv[n++] = "-e";
		argv[n++] = "stderr";
		argv[n++] = "-p";
		argv[n++] = dir;
		argv[n++] = "-c";
		argv[n++] = conf;
		break;
	case GUNICORN:
		argv[n++] = "--";
		argv[n++] = PYTHON;
		argv[n++] = "-m";
		argv[n++] = "gunicorn";
		argv[n++] = "--workers";
		argv[n++] = "2";
		argv[n++] = "--graceful-timeout";
		argv[n++] = "30";
		argv[n++] = "app:app";
		break;
	}
	argv[n] = NULL;
	snprintf(app, sizeof(app), "%s/%s", examples, srv->name);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0 || chdir(app) < 0)
			_exit(120);
		setenv("APP_VERSION", ver, 1);
		execv(argv[0], (char **)argv);
		_exit(121);
	}
	track(pid);
	return pid;
}

/* Whether luoctl show web --json says state and attached as given. */
static bool session_is(const char *state, bool attached)
{
	char out[8192], want[64];

	if (luoctl(&d, out, sizeof(out), "show", "web", "--json", NULL) != 0)
		return false;
	snprintf(want, sizeof(want), "\"state\": \"%s\"", state);
	return strstr(out, want) && strstr(out, attached ? "\"attached\": true" : "\"attached\": false");
}

static void wait_session(const char *state, bool attached)
{
	for (int i = 0; i < 3000 && !session_is(state, attached); i++)
		pause_ms(10);
	if (!session_is(state, attached))
		fail_msg("session web never %s and %s", state, attached ? "held" : "held by luod");
}

/* The one child of luoctl exec (pid): the server's main process. */
static pid_t server_of(pid_t luoctl_pid)
{
	char path[64], buf[64];
	int fd;
	ssize_t n = 0;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)luoctl_pid, (int)luoctl_pid);
	for (int i = 0; i < 3000 && n <= 0; i++) {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		assert_true(fd >= 0);
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			pause_ms(10);
	}
	assert_true(n > 0);
	buf[n] = '\0';
	return (pid_t)atoi(buf);
}

/* The end of file path on stderr, as TAP comments: what a server said before a failure. */
static void dump_tail(const char *path)
{
	char buf[2048], *line, *save;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	off_t size;
	ssize_t n;

	if (fd < 0)
		return;
	size = lseek(fd, 0, SEEK_END);
	lseek(fd, size > (off_t)sizeof(buf) - 1 ? size - (off_t)sizeof(buf) + 1 : 0, SEEK_SET);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		fprintf(stderr, "# %s\n", line);
}

/* Whether what luoctl exec and the server of version said contains text (its first 64 KiB). */
static bool log_has(int version, const char *text)
{
	char path[PATH_MAX], buf[65536];
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/%s-%d/log", d.dir, srv->name, version);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return strstr(buf, text) != NULL;
}

/* A mask of signals from /proc/PID/status ("SigCgt", "SigBlk"); 0 if gone. */
static unsigned long long sigmask_of(pid_t pid, const char *field)
{
	char path[64], line[256], want[16];
	unsigned long long mask = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	snprintf(want, sizeof(want), "%s: %%llx", field);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, want, &mask) == 1)
			break;
	fclose(f);
	return mask;
}

/* Whether pid has a handler for sig and does not block it. */
static bool catches(pid_t pid, int sig)
{
	unsigned long long bit = 1ULL << (sig - 1);

	return (sigmask_of(pid, "SigCgt") & bit) && !(sigmask_of(pid, "SigBlk") & bit);
}

/* Whether pid and each of its children (a master's workers) catch sig. */
static bool all_catch(pid_t pid, int sig)
{
	char path[64], buf[1024], *p, *end;
	int fd;
	ssize_t n;

	if (!catches(pid, sig))
		return false;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	for (p = buf;; p = end) {
		long child = strtol(p, &end, 10);

		if (end == p)
			return true;
		if (!catches((pid_t)child, sig))
			return false;
	}
}

/*
 * Wait (bounded: 30 s) until server process pid and its workers have their
 * handler for sig, unblocked. Serving is not enough: HAProxy 2.6's master
 * blocks its signals while it starts, then sets each to SIG_IGN before its
 * handler, which discards one that came meanwhile (seen here: a SIGUSR1
 * sent right after the first answer is lost, one 100 ms later is not); an
 * nginx worker still starting (its master's signals blocked) missed the
 * SIGQUIT of a stop right after the start and never exited.
 */
static void wait_catches(pid_t pid, int sig)
{
	for (int i = 0; i < 3000 && !all_catch(pid, sig); i++)
		pause_ms(10);
	if (!all_catch(pid, sig))
		fail_msg("pid %d (or a worker) never caught signal %d", (int)pid, sig);
}

/*
 * The exit status of child pid (128 + signal when killed), waiting at most
 * 60 s: a server that ignores its stop fails the test with what it and
 * luoctl said, instead of hanging the run.
 */
static int wait_exit(pid_t pid, int version)
{
	char path[PATH_MAX];
	int status;

	for (int i = 0; i < 6000; i++) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		assert_int_equal(r, 0);
		pause_ms(10);
	}
	snprintf(path, sizeof(path), "%s/%s-%d/log", d.dir, srv->name, version);
	dump_tail(path);
	fail_msg("pid %d (version %d) did not exit within 60 s", (int)pid, version);
	return -1;
}

/* Stop the server through luoctl exec (pid) with sig; luoctl exits with the server's 0. */
static void stop_through(pid_t pid, int sig, int version)
{
	wait_catches(server_of(pid), srv->graceful);
	assert_int_equal(kill(pid, sig), 0);
	assert_int_equal(wait_exit(pid, version), 0);
	assert_true(session_is("frozen", false));
}

static void test_under_load(void **state)
{
	char why[256], want[64];
	pid_t exec, gens[LOADS], orphan;

	(void)state;
	if (!available(why, sizeof(why))) {
		fprintf(stderr, "# SKIP: %s (Debian: %s; scripts/install-deps.sh installs it)\n", why,
			srv->package);
		skip();
	}
	load = mmap(NULL, sizeof(*load), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(load != MAP_FAILED);
	memset((void *)load, 0, sizeof(*load));
	{
		/*
		 * The port stays bound here (SO_REUSEADDR, never listening) for
		 * the whole run: luoctl binds it too, and no other process on a
		 * loaded machine takes it between this pick and luoctl's bind.
		 */
		struct sockaddr_in sa = { .sin_family = AF_INET,
					  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		socklen_t len = sizeof(sa);
		int one = 1;

		port_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		assert_true(port_fd >= 0);
		assert_int_equal(setsockopt(port_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
		assert_int_equal(bind(port_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
		assert_int_equal(getsockname(port_fd, (struct sockaddr *)&sa, &len), 0);
		port = ntohs(sa.sin_port);
	}

	exec = server_start(1);
	/* the listener exists once the session does: luoctl binds before it runs the server */
	for (int i = 0; i < 3000 && !e2e_session_listed(&d, "web"); i++)
		pause_ms(10);
	assert_true(e2e_session_listed(&d, "web"));
	for (int i = 0; i < LOADS; i++)
		gens[i] = load_start();
	wait_version(1, 50);
	wait_session("frozen", true);

	/* 1 -> 2: the server's own graceful signal, sent to luoctl exec */
	stop_through(exec, srv->graceful, 1);
	exec = server_start(2);
	wait_version(2, 50);

	/* luod updated while the server runs: luoctl takes the session back */
	luod_update(&d, NULL);
	wait_answers(50);
	wait_session("frozen", true);

	/* 2 -> 3: SIGTERM to luoctl exec, the graceful signal thanks to --stop-signal */
	stop_through(exec, SIGTERM, 2);
	luod_update(&d, NULL);
	exec = server_start(3);
	wait_version(3, 50);

	/*
	 * SIGUSR1 to luoctl exec: HAProxy's soft stop; nginx and gunicorn reopen
	 * their logs and go on. luoctl passes it on and stays; the session is
	 * never lost.
	 */
	wait_catches(server_of(exec), srv->graceful);
	if (srv->graceful == SIGUSR1) {
		stop_through(exec, SIGUSR1, 3);
	} else {
		unsigned long had = load->by_version[3];
		int status;

		wait_catches(server_of(exec), SIGUSR1);
		assert_int_equal(kill(exec, SIGUSR1), 0);
		wait_version(3, had + 50);
		assert_int_equal(waitpid(exec, &status, WNOHANG), 0);
		stop_through(exec, SIGTERM, 3);
	}
	exec = server_start(4);
	wait_version(4, 50);
	wait_session("frozen", true);

	/* 4 -> 5: luoctl exec killed; the server serves on, luod holds the session */
	orphan = server_of(exec);
	track(orphan);
	assert_int_equal(kill(exec, SIGKILL), 0);
	assert_int_equal(wait_exit(exec, 4), 128 + SIGKILL);
	wait_session("frozen", false);
	wait_version(4, load->by_version[4] + 50);
	luod_update(&d, NULL);
	wait_version(4, load->by_version[4] + 50);
	/* the next luoctl exec takes the session and names the server still running */
	exec = server_start(5);
	snprintf(want, sizeof(want), "  pid %d (", (int)orphan);
	for (int i = 0; i < 3000 && !log_has(5, want); i++)
		pause_ms(10);
	if (!log_has(5, want)) {
		char path[PATH_MAX];

		snprintf(path, sizeof(path), "%s/%s-5/log", d.dir, srv->name);
		dump_tail(path);
		fail_msg("luoctl exec did not name the earlier server, pid %d", (int)orphan);
	}
	wait_session("frozen", true);
	wait_version(5, 50);
	/* the orphan (now the test's child: a subreaper) stopped gracefully by its own pid */
	wait_catches(orphan, srv->graceful);
	assert_int_equal(kill(orphan, srv->graceful), 0);
	assert_int_equal(wait_exit(orphan, 4), 0);
	wait_version(5, load->by_version[5] + 50);

	load->stop = 1;
	for (int i = 0; i < LOADS; i++)
		assert_int_equal(e2e_wait(gens[i]), 0);
	stop_through(exec, SIGTERM, 5);
	fprintf(stderr, "# %s: %lu requests answered (v1 %lu, v2 %lu, v3 %lu, v4 %lu, v5 %lu), %lu failed\n",
		srv->name, load->ok, load->by_version[1], load->by_version[2], load->by_version[3],
		load->by_version[4], load->by_version[5], load->failed);
	if (load->failed)
		fail_msg("a request failed: %s", load->last_error);
	assert_int_equal(luod_status_field(&d, "updates"), 3);
	assert_int_equal(e2e_session_files(&d, "web"), 1);
	munmap((void *)load, sizeof(*load));
	load = NULL;
	close(port_fd);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_setup_teardown(test_under_load, setup, teardown),
};

int main(int argc, char **argv)
{
	if (argc == 3)
		for (size_t i = 0; i < sizeof(servers) / sizeof(servers[0]); i++)
			if (!strcmp(argv[1], servers[i].name))
				srv = &servers[i];
	if (!srv) {
		fprintf(stderr, "usage: %s haproxy|nginx|gunicorn EXAMPLES_DIR\n", argv[0]);
		return 2;
	}
	examples = argv[2];
	/* a server whose luoctl exec is killed comes back to the test, to be waited for */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
		perror("PR_SET_CHILD_SUBREAPER");
		return 1;
	}
	return luo_test_run(srv->name, tests, sizeof(tests) / sizeof(tests[0]), NULL, NULL);
}
