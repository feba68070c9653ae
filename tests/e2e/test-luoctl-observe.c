// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Observability: `luoctl history` (ok, failed with its errno, cancelled;
 * kept across luod's re-exec; the live-update counter), `luoctl watch`
 * (sessions appearing, changing and going, the global state, the steps of
 * an update, and the stream picked up again from the successor), a watcher
 * that never reads being cut off while luod goes on, `luoctl dump` (the
 * handover FDT, raw and through dtc), the state file, `--help` on every
 * command, and `luoctl update`'s steps on a terminal, all of them also
 * from a luoctl that ran again only once the successor had answered.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
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
#include "protocol.h"

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

static void pause_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static size_t read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0) {
		buf[0] = '\0';
		return 0;
	}
	n = read(fd, buf, len - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return n > 0 ? (size_t)n : 0;
}

/* A session frozen by itself and held by luod: something for an update to carry. */
static void held_session(const char *name, uint32_t seed)
{
	int dev = e2e_open(&d), s = luo_create_session(dev, name), fd = memfd_pattern(name, 8192, seed);

	assert_true(s >= 0);
	assert_int_equal(luo_session_preserve_fd(s, fd, 1), 0);
	assert_int_equal(luo_session_set_event(s, LUO_EVENT_FREEZE), 0);
	close(fd);
	close(s);
	close(dev);
}

static void test_history(void **state)
{
	static const char garbage[] = "\x7f" "ELG not an executable\n";
	char out[16384], path[PATH_MAX], str[64];
	int fd;

	(void)state;
	assert_int_equal(luoctl(&d, out, sizeof(out), "history", "--json", NULL), 0);
	assert_string_equal(out, "{\"updates\": 0, \"history\": []}\n");

	held_session("h1", 1);
	luod_update(&d, NULL);
	assert_int_equal(luoctl(&d, out, sizeof(out), "history", "--json", NULL), 0);
	assert_true(e2e_json_valid(out));
	assert_int_equal(e2e_json_int(out, "updates"), 1);
	assert_int_equal(e2e_json_int(out, "generation"), 1);
	assert_int_equal(e2e_json_int(out, "sessions"), 1);
	assert_int_equal(e2e_json_int(out, "files"), 1);
	e2e_json_str(out, "outcome", str, sizeof(str));
	assert_string_equal(str, "ok");
	assert_int_equal(e2e_json_int(out, "errno"), 0);
	assert_non_null(strstr(out, "\"start\": \"20"));

	/* a failed update: executable, but execve() says ENOEXEC; luod rolls back */
	snprintf(path, sizeof(path), "%s/garbage", d.dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, garbage, sizeof(garbage)), (ssize_t)sizeof(garbage));
	close(fd);
	assert_int_equal(luoctl(&d, out, sizeof(out), "update", "--exec", path, NULL), 1);
	/* a cancelled one */
	assert_int_equal(luoctl(&d, out, sizeof(out), "prepare", NULL), 0);
	assert_int_equal(luoctl(&d, out, sizeof(out), "cancel", NULL), 0);

	/* the history crosses the next update: four entries, oldest first */
	held_session("h2", 2);
	luod_update(&d, NULL);
	assert_int_equal(luoctl(&d, out, sizeof(out), "history", "--json", NULL), 0);
	assert_true(e2e_json_valid(out));
	assert_int_equal(e2e_json_int(out, "updates"), 2);
	{
		const char *ok1 = strstr(out, "\"outcome\": \"ok\""),
			   *failed = strstr(out, "\"outcome\": \"failed\", \"errno\": 8}"),
			   *cancelled = strstr(out, "\"outcome\": \"cancelled\""),
			   *ok2 = ok1 ? strstr(ok1 + 1, "\"outcome\": \"ok\"") : NULL;

		assert_int_equal(ENOEXEC, 8);
		assert_non_null(ok1);
		assert_non_null(failed);
		assert_non_null(cancelled);
		assert_non_null(ok2);
		assert_true(ok1 < failed && failed < cancelled && cancelled < ok2);
		assert_non_null(strstr(ok2 - 200 > out ? ok2 - 200 : out, "\"generation\": 2"));
	}
	/* and the table */
	assert_int_equal(luoctl(&d, out, sizeof(out), "history", NULL), 0);
	assert_non_null(strstr(out, "OUTCOME"));
	assert_non_null(strstr(out, strerror(ENOEXEC)));
	assert_non_null(strstr(out, "cancelled"));
	assert_non_null(strstr(out, "2 live updates completed"));
}

/* Wait (bounded: 30 s) until the file at path contains every string in want. */
static bool wait_contains(const char *path, const char *const *want, char *buf, size_t len)
{
	for (int i = 0; i < 3000; i++) {
		bool all = true;

		read_file(path, buf, len);
		for (const char *const *w = want; *w && all; w++)
			all = strstr(buf, *w) != NULL;
		if (all)
			return true;
		pause_ms(10);
	}
	return false;
}

static void test_watch(void **state)
{
	static char buf[262144];
	char path[PATH_MAX];
	int dev, s, fd;
	pid_t pid;

	(void)state;
	snprintf(path, sizeof(path), "%s/watch.json", d.dir);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

		if (out < 0 || dup2(out, 1) < 0)
			_exit(120);
		execl(getenv("LUOCTL"), "luoctl", "--socket", d.sock, "watch", "--json", (char *)NULL);
		_exit(121);
	}
	assert_true(wait_contains(path, (const char *[]){ "\"kind\": \"luod\", \"generation\": 0, "
							   "\"snapshot\": true, \"state\": \"normal\"",
							   NULL },
				  buf, sizeof(buf)));

	dev = e2e_open(&d);
	s = luo_create_session(dev, "w1");
	fd = memfd_pattern("w", 4096, 3);
	assert_int_equal(luo_session_preserve_fd(s, fd, 9), 0);
	assert_int_equal(luo_session_set_event(s, LUO_EVENT_FREEZE), 0);
	close(s);
	e2e_barrier(&d);
	{
		int t = luo_create_session(dev, "gone");

		assert_true(t >= 0);
		close(t);
	}
	e2e_barrier(&d);
	{
		/* a participant comes and goes */
		int pdev = e2e_open(&d);

		assert_int_equal(luo_participant_register(pdev, "p1", NULL, 0), 0);
		e2e_barrier(&d);
		close(pdev);
		e2e_barrier(&d);
	}
	luod_update(&d, NULL);
	assert_true(wait_contains(
		path,
		(const char *[]){
			"\"name\": \"w1\", \"state\": \"normal\", \"incoming\": false, \"attached\": true, "
			"\"files\": 1, \"gone\": false",
			"\"name\": \"w1\", \"state\": \"frozen\", \"incoming\": false, \"attached\": false, "
			"\"files\": 1",
			/* a session that went: as it was last seen, and gone */
			"\"name\": \"gone\", \"state\": \"normal\", \"incoming\": false, \"attached\": "
			"true, \"files\": 0, \"gone\": true",
			"\"kind\": \"update\", \"generation\": 0, \"snapshot\": false, \"step\": \"start\"",
			"\"kind\": \"luod\", \"generation\": 0, \"snapshot\": false, \"state\": \"frozen\"",
			"\"kind\": \"participant\", \"generation\": 0, \"snapshot\": false, \"name\": "
			"\"p1\", \"state\": \"normal\", \"waiting\": false, \"gone\": false",
			"\"name\": \"p1\", \"state\": \"normal\", \"waiting\": false, \"gone\": true",
			"\"step\": \"frozen\"", "\"step\": \"exec\"",
			/* the successor's snapshot, after watch connected again */
			"\"kind\": \"luod\", \"generation\": 1, \"snapshot\": true, \"state\": \"updated\"",
			"\"kind\": \"session\", \"generation\": 1, \"snapshot\": true, \"name\": \"w1\", "
			"\"state\": \"updated\", \"incoming\": true",
			NULL },
		buf, sizeof(buf)) || (fprintf(stderr, "%s", buf), false));
	if (getenv("LUO_TEST_SHOW"))
		fprintf(stderr, "%s", buf);
	/* in the order they happened */
	assert_true(strstr(buf, "\"step\": \"start\"") < strstr(buf, "\"step\": \"frozen\""));
	assert_true(strstr(buf, "\"step\": \"frozen\"") < strstr(buf, "\"step\": \"exec\""));
	/* every line is one JSON object */
	for (char *line = buf, *nl; (nl = strchr(line, '\n')); line = nl + 1) {
		*nl = '\0';
		assert_true(e2e_json_valid(line));
	}
	assert_int_equal(kill(pid, SIGTERM), 0);
	waitpid(pid, NULL, 0);
	close(fd);
	close(dev);
}

/* --count N: the snapshot, then N events, then exit 0 by itself; the human form. */
static void test_watch_count(void **state)
{
	static char buf[65536];
	char path[PATH_MAX];
	int dev = e2e_open(&d), s, lines = 0;
	pid_t pid;

	(void)state;
	snprintf(path, sizeof(path), "%s/watch.txt", d.dir);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

		if (out < 0 || dup2(out, 1) < 0)
			_exit(120);
		execl(getenv("LUOCTL"), "luoctl", "--socket", d.sock, "watch", "--count", "2",
		      (char *)NULL);
		_exit(121);
	}
	assert_true(wait_contains(path, (const char *[]){ "=luod        normal, generation 0", NULL },
				  buf, sizeof(buf)));
	s = luo_create_session(dev, "counted"); /* one event */
	assert_true(s >= 0);
	e2e_barrier(&d);
	close(s); /* and one more: gone */
	assert_int_equal(e2e_wait(pid), 0);
	read_file(path, buf, sizeof(buf));
	assert_non_null(strstr(buf, "  session     counted: normal, outgoing, held by a process, 0 files\n"));
	assert_non_null(strstr(buf, "  session     counted: gone\n"));
	for (char *p = buf; (p = strchr(p, '\n')); p++)
		lines++;
	assert_int_equal(lines, 3);
	assert_int_equal(luoctl(&d, buf, sizeof(buf), "watch", "--count", "0", NULL), 2);
	close(dev);
}

/* A watcher that never reads: luod cuts it off and goes on. */
static void test_watch_never_reads(void **state)
{
	unsigned char msg[sizeof(struct luo_msg_hdr) + LUO_MSG_MAX];
	int w = e2e_open(&d), dev = e2e_open(&d), fds[4];
	size_t nfds;
	ssize_t n;
	bool eof = false;

	(void)state;
	assert_int_equal(luo_msg_send(w, LUO_OP_WATCH, 0, NULL, 0, NULL, 0), 0);
	for (int i = 0; i < 3000; i++) {
		int s = luo_create_session(dev, "churn");

		assert_true(s >= 0);
		close(s);
		e2e_settle(&d, 1);
	}
	assert_int_equal(luoctl(&d, NULL, 0, "status", NULL), 0);
	/* what was queued, then the end: luod shut the connection */
	for (int i = 0; i < 100000 && !eof; i++) {
		struct pollfd p = { .fd = w, .events = POLLIN };

		assert_int_equal(poll(&p, 1, 10000), 1);
		n = luo_msg_recv(w, msg, sizeof(msg), fds, 4, &nfds);
		assert_true(n >= 0);
		eof = n == 0;
	}
	assert_true(eof);
	assert_true(luod_alive(&d));
	close(w);
	close(dev);
}

static void test_dump(void **state)
{
	static char buf[65536];
	char out[4096], path[PATH_MAX];
	struct stat st;
	size_t n;

	(void)state;
	held_session("dumped", 4);
	snprintf(path, sizeof(path), "%s/handover.dtb", d.dir);
	assert_int_equal(luoctl(&d, out, sizeof(out), "dump", "--output", path, "--json", NULL), 0);
	assert_true(e2e_json_valid(out));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(e2e_json_int(out, "bytes"), st.st_size);
	n = read_file(path, buf, sizeof(buf));
	assert_true(n > 40);
	assert_memory_equal(buf, "\xd0\x0d\xfe\xed", 4);
	assert_non_null(memmem(buf, n, "luo,handover-v2", 15));
	assert_non_null(memmem(buf, n, "dumped", 6));
	/* --json without --output: usage */
	assert_int_equal(luoctl(&d, out, sizeof(out), "dump", "--json", NULL), 2);
	if (system("command -v dtc >/dev/null 2>&1") != 0) {
		fprintf(stderr, "# dtc not installed: --dts not checked\n");
		return;
	}
	assert_int_equal(luoctl(&d, buf, sizeof(buf), "dump", "--dts", NULL), 0);
	assert_non_null(strstr(buf, "compatible = \"luo,handover-v2\";"));
	assert_non_null(strstr(buf, "history {"));
	assert_non_null(strstr(buf, "dumped"));
}

static void test_state_file(void **state)
{
	char buf[4096], path[PATH_MAX + 16], str[64];

	(void)state;
	held_session("sf", 5);
	luod_update(&d, NULL);
	snprintf(path, sizeof(path), "%s/state", d.state_dir);
	read_file(path, buf, sizeof(buf));
	assert_true(e2e_json_valid(buf));
	e2e_json_str(buf, "state", str, sizeof(str));
	assert_string_equal(str, "updated");
	assert_int_equal(e2e_json_int(buf, "generation"), 1);
	assert_int_equal(e2e_json_int(buf, "updates"), 1);
	assert_int_equal(e2e_json_int(buf, "pid"), d.pid);
	assert_non_null(strstr(buf, "\"last_update\": {\"generation\": 1, "));
	e2e_json_str(buf, "outcome", str, sizeof(str));
	assert_string_equal(str, "ok");
}

/* On a terminal, `luoctl update` shows its steps as luod reports them. */
static void test_update_progress(void **state)
{
	char cmd[PATH_MAX * 3], buf[8192];
	size_t used = 0;
	FILE *p;

	(void)state;
	if (system("command -v script >/dev/null 2>&1") != 0) {
		fprintf(stderr, "# SKIP: script(1) (util-linux) is not installed\n");
		skip();
	}
	/* script(1) gives luoctl a pseudo-terminal as stdout and stderr */
	snprintf(cmd, sizeof(cmd), "script -qec '%s --socket %s update' /dev/null", getenv("LUOCTL"),
		 d.sock);
	p = popen(cmd, "r");
	assert_non_null(p);
	while (used < sizeof(buf) - 1) {
		size_t n = fread(buf + used, 1, sizeof(buf) - 1 - used, p);

		if (n == 0)
			break;
		used += n;
	}
	buf[used] = '\0';
	assert_int_equal(pclose(p), 0);
	assert_non_null(strstr(buf, "luoctl: update: started"));
	assert_non_null(strstr(buf, "luoctl: update: frozen; writing the handover"));
	assert_non_null(strstr(buf, "luoctl: update: exec; waiting for the successor"));
	assert_non_null(strstr(buf, "updated: generation 1"));
	/* and not when stderr is no terminal */
	assert_int_equal(luoctl(&d, buf, sizeof(buf), "update", NULL), 0);
	assert_null(strstr(buf, "luoctl: update: started"));
}

/* luod stops itself at PREPARED in this case's luod (LUOD_TEST_PAUSE_AT) */
static int setup_paused(void **state)
{
	(void)state;
	setenv("LUOD_TEST_PAUSE_AT", "prepare", 1);
	luod_start(&d, NULL);
	unsetenv("LUOD_TEST_PAUSE_AT");
	return 0;
}

/*
 * luoctl not scheduled while luod goes through the update (a loaded
 * machine): when it runs again the successor's answer and every step luod
 * reported before its execve are both waiting, and it still shows every
 * step before the answer. It used to show one and leave the rest unread
 * (test_update_progress failed under load without "frozen").
 */
static void test_update_progress_late(void **state)
{
	char buf[8192];
	size_t used = 0;
	int master, slave, status;
	pid_t pid;

	(void)state;
	master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	assert_true(master >= 0);
	assert_int_equal(grantpt(master), 0);
	assert_int_equal(unlockpt(master), 0);
	slave = open(ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC);
	assert_true(slave >= 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* a terminal as stdout and stderr: the progress is wanted */
		if (dup2(slave, 1) < 0 || dup2(slave, 2) < 0)
			_exit(120);
		execl(getenv("LUOCTL"), "luoctl", "--socket", d.sock, "update", (char *)NULL);
		_exit(121);
	}
	close(slave);
	/* luod at PREPARED, luoctl waiting for it; luoctl stopped, luod goes on */
	assert_int_equal(waitpid(d.pid, &status, WUNTRACED), d.pid);
	assert_true(WIFSTOPPED(status));
	assert_int_equal(kill(pid, SIGSTOP), 0);
	assert_int_equal(waitpid(pid, &status, WUNTRACED), pid);
	assert_true(WIFSTOPPED(status));
	assert_int_equal(kill(d.pid, SIGCONT), 0);
	/* the successor answers a request only after it answered the update */
	e2e_settle(&d, 1);
	assert_int_equal(kill(pid, SIGCONT), 0);
	for (;;) {
		ssize_t n = read(master, buf + used, sizeof(buf) - 1 - used);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) /* EIO: luoctl closed the terminal */
			break;
		used += (size_t)n;
		if (used == sizeof(buf) - 1)
			break;
	}
	buf[used] = '\0';
	close(master);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("luoctl update: status %#x: %s", status, buf);
	if (!strstr(buf, "luoctl: update: started") ||
	    !strstr(buf, "luoctl: update: frozen; writing the handover") ||
	    !strstr(buf, "luoctl: update: exec; waiting for the successor") ||
	    !strstr(buf, "updated: generation 1"))
		fail_msg("a step is missing: %s", buf);
	/* each step before the answer */
	assert_true(strstr(buf, "luoctl: update: exec; waiting") < strstr(buf, "updated: generation 1"));
}

static void test_help_everywhere(void **state)
{
	static const char *const cmds[] = { "status", "sessions", "show", "prepare", "freeze",
					    "cancel", "finish", "update", "exec", "preserve",
					    "watch", "history", "dump" };
	char out[8192], want[64];

	(void)state;
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		assert_int_equal(luoctl(&d, out, sizeof(out), cmds[i], "--help", NULL), 0);
		snprintf(want, sizeof(want), "] %s", cmds[i]);
		assert_non_null(strstr(out, "Usage: luoctl"));
		assert_non_null(strstr(out, want));
		assert_non_null(strstr(out, "--json"));
	}
	assert_int_equal(luoctl(&d, out, sizeof(out), "--help", NULL), 0);
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		assert_non_null(strstr(out, cmds[i]));
	/* --json everywhere it prints: history and status agree on the counter */
	assert_int_equal(luoctl(&d, out, sizeof(out), "history", "--json", NULL), 0);
	assert_int_equal(e2e_json_int(out, "updates"), luod_status_field(&d, "updates"));
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_setup_teardown(test_history, setup, teardown),
	cmocka_unit_test_setup_teardown(test_watch, setup, teardown),
	cmocka_unit_test_setup_teardown(test_watch_count, setup, teardown),
	cmocka_unit_test_setup_teardown(test_watch_never_reads, setup, teardown),
	cmocka_unit_test_setup_teardown(test_dump, setup, teardown),
	cmocka_unit_test_setup_teardown(test_state_file, setup, teardown),
	cmocka_unit_test_setup_teardown(test_help_everywhere, setup, teardown),
	cmocka_unit_test_setup_teardown(test_update_progress, setup, teardown),
	cmocka_unit_test_setup_teardown(test_update_progress_late, setup_paused, teardown),
};

LUO_TEST_MAIN("luoctl-observe", tests, NULL, NULL)
