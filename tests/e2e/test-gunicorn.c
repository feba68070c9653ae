// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The scenario with a real socket-activated server from Debian:
 * gunicorn (python3-gunicorn) serving examples/gunicorn/app.py under
 * `luoctl exec`, its LISTEN_FDS support taking the listener. While a load
 * generator sends requests without pause, the server is stopped and the
 * next version started with the same command twice, and luod is updated
 * with `luoctl update` in between, while the server runs and while it is
 * down. Not one request may fail, and every version must have answered.
 * Skips (with the reason) when /usr/bin/python3 has no gunicorn.
 *
 * The load generator is a child process: connect, GET /, read the whole
 * answer, check it; it counts in shared memory, and the test waits on
 * those counts (never on the clock) before each next step.
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
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "e2e.h"

#define PYTHON "/usr/bin/python3"

static const char *app_dir;
static struct luod_proc d;
static int port;

struct load {
	volatile unsigned long ok, failed;
	volatile unsigned long by_version[4];
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

static int teardown(void **state)
{
	(void)state;
	assert_true(luod_alive(&d));
	luod_stop(&d);
	return 0;
}

static bool have_gunicorn(void)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

		dup2(null, 1);
		dup2(null, 2);
		execl(PYTHON, PYTHON, "-c", "import gunicorn", (char *)NULL);
		_exit(127);
	}
	return e2e_wait(pid) == 0;
}

/* One request; its app version (1..3), or -1 with the reason in load->last_error. */
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
	if (r < 1 || r > 3) {
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
		while (!load->stop) {
			int v = request();

			if (v < 0) {
				load->failed++;
			} else {
				load->by_version[v]++;
				load->ok++;
			}
		}
		_exit(0);
	}
	return pid;
}

static void pause_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Wait until the load generator has had n more answers (bounded: 60 s). */
static void wait_answers(unsigned long n)
{
	unsigned long want = load->ok + n;

	for (int i = 0; i < 6000 && load->ok < want && !load->failed; i++)
		pause_ms(10);
	if (load->failed)
		fail_msg("a request failed: %s", load->last_error);
	assert_true(load->ok >= want);
}

static pid_t server_start(int version)
{
	char listen[64], log[PATH_MAX], ver[8];
	pid_t pid;

	snprintf(listen, sizeof(listen), "tcp:127.0.0.1:%d", port);
	snprintf(log, sizeof(log), "%s/gunicorn.log", d.dir);
	snprintf(ver, sizeof(ver), "%d", version);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0 || chdir(app_dir) < 0)
			_exit(120);
		setenv("APP_VERSION", ver, 1);
		/* the same command every time: --create and --listen matter on the first start only */
		execl(getenv("LUOCTL"), "luoctl", "--socket", d.sock, "exec", "--session", "web",
		      "--create", "--listen", listen, "--", PYTHON, "-m", "gunicorn", "--workers", "2",
		      "--graceful-timeout", "30", "app:app", (char *)NULL);
		_exit(121);
	}
	return pid;
}

/* What an upgrade does: stop the server (SIGTERM: gunicorn finishes what it has). */
static void server_stop(pid_t pid)
{
	assert_int_equal(kill(pid, SIGTERM), 0);
	assert_int_equal(e2e_wait(pid), 0);
}

static void test_gunicorn_under_load(void **state)
{
	pid_t server, gen;

	(void)state;
	if (!have_gunicorn()) {
		fprintf(stderr, "# SKIP: " PYTHON " has no gunicorn module (Debian: python3-gunicorn; "
				"scripts/install-deps.sh installs it)\n");
		skip();
	}
	load = mmap(NULL, sizeof(*load), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(load != MAP_FAILED);
	memset((void *)load, 0, sizeof(*load));
	{
		struct sockaddr_in sa = { .sin_family = AF_INET,
					  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		socklen_t len = sizeof(sa);
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

		assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
		assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
		port = ntohs(sa.sin_port);
		close(fd);
	}

	server = server_start(1);
	/* the listener exists once the session does: luoctl binds before it runs gunicorn */
	for (int i = 0; i < 3000 && !e2e_session_listed(&d, "web"); i++)
		pause_ms(10);
	assert_true(e2e_session_listed(&d, "web"));
	gen = load_start();
	wait_answers(50);

	/* upgrade 1 -> 2: stop, start the next version with the same command */
	server_stop(server);
	server = server_start(2);
	wait_answers(50);
	assert_true(load->by_version[2] > 0);

	/* luod itself is updated while the server runs */
	luod_update(&d, NULL);
	wait_answers(50);

	/* upgrade 2 -> 3 with a luod update while no server runs */
	server_stop(server);
	luod_update(&d, NULL);
	server = server_start(3);
	wait_answers(50);
	assert_true(load->by_version[3] > 0);

	load->stop = 1;
	assert_int_equal(e2e_wait(gen), 0);
	server_stop(server);
	fprintf(stderr, "# %lu requests answered (v1 %lu, v2 %lu, v3 %lu), %lu failed\n", load->ok,
		load->by_version[1], load->by_version[2], load->by_version[3], load->failed);
	if (load->failed)
		fail_msg("a request failed: %s", load->last_error);
	assert_true(load->by_version[1] > 0);
	assert_int_equal(luod_status_field(&d, "updates"), 2);
	munmap((void *)load, sizeof(*load));
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_setup_teardown(test_gunicorn_under_load, setup, teardown),
};

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s EXAMPLES_GUNICORN_DIR\n", argv[0]);
		return 2;
	}
	app_dir = argv[1];
	return luo_test_run("gunicorn", tests, sizeof(tests) / sizeof(tests[0]), NULL, NULL);
}
