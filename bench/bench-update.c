// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Blackout of a global live update, as a workload sees it, and CRIU side by
 * side for the memfd case.
 *
 * luo: a workload W1 creates COUNT fds of KIND (or one touched memfd of
 * SIZE bytes), preserves them in one batch, closes its own copies and waits.
 * The driver runs `luoctl --json update`. When luod execs, W1's session
 * handle hangs up; W1 "restarts" by exec'ing this binary in --retrieve mode
 * (W2), which reconnects, retrieves the session and every fd in one batch,
 * and reports when it has them. blackout = W2 has its fds - FREEZE, where
 * FREEZE = (when luoctl's JSON line arrived) - blackout_ms (luod's own
 * FREEZE -> successor-serves span). retrieve = W2 has its fds - max(W2
 * started, successor serves). The other phases are luoctl's JSON.
 *
 * CRIU (--criu, memfd mode only): a process holding the same touched memfd
 * is dumped (criu dump, images on tmpfs) and restored (criu restore -d);
 * blackout = dump start until restore returns with the process running.
 *
 * The floor (--floor): before each luo repetition, the same COUNT fds of
 * KIND (or one touched memfd of SIZE) are sent over SCM_RIGHTS to a
 * freshly exec'd process and back (bench_floor()); its line has tool
 * "floor" and the time in blackout_ms. Alternating the two keeps their ratio fair on a shared
 * machine.
 *
 * One CSV line per repetition on stdout (header first, unless --no-header).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <luo/luo.h>

#include "bench.h"

static struct {
	const char *luod, *luoctl, *dir, *kind, *criu, *criu_dir;
	size_t count;
	uint64_t size;
	int reps;
	bool header, floor;
} opt = { .kind = "memfd", .count = 1, .reps = 3, .header = true };

static const uint64_t token_base = 1000;

/* ---- W2: the restarted workload ---- */

struct report {
	uint64_t t_start, t_have;
	int32_t ok;
	int32_t err;
};

static int workload_retrieve(const char *socket, const char *name, size_t count, uint64_t size,
			     int report_fd)
{
	struct report rep = { .t_start = bench_now_ns(), .ok = 0 };
	uint64_t *tokens = calloc(count, sizeof(*tokens));
	int *fds = calloc(count, sizeof(*fds));
	int dev = -1, s = -1, r = 0;

	if (!tokens || !fds)
		bench_die("out of memory");
	for (size_t i = 0; i < count; i++)
		tokens[i] = token_base + i;
	/* the listening socket crosses the exec: connect succeeds and waits in the backlog */
	for (int i = 0; i < 10000 && dev < 0; i++) {
		dev = luo_open(socket);
		if (dev < 0)
			usleep(100);
	}
	if (dev < 0) {
		r = dev;
		goto out;
	}
	s = luo_retrieve_session(dev, name);
	if (s < 0) {
		r = s;
		goto out;
	}
	r = luo_session_retrieve_fds(s, tokens, fds, count);
	rep.t_have = bench_now_ns();
	if (r < 0)
		goto out;
	rep.ok = size ? bench_check_memfd(fds[0], size) : 1;
	r = luo_session_finish(s);
	bench_close_fds(fds, count);
out:
	rep.err = r;
	if (write(report_fd, &rep, sizeof(rep)) != sizeof(rep))
		return 1;
	return r < 0 || !rep.ok;
}

/* ---- W1: the workload before the update ---- */

static void workload_hold(const char *self, const char *socket, const char *name, int ready_fd,
			  int report_fd)
{
	size_t n = opt.size ? 1 : opt.count;
	uint64_t *tokens = calloc(n, sizeof(*tokens));
	int *fds = calloc(n, sizeof(*fds));
	char count_arg[32], size_arg[32], fd_arg[32];
	struct pollfd pfd;
	int dev, s, r;

	if (!tokens || !fds)
		bench_die("out of memory");
	dev = luo_open(socket);
	if (dev < 0)
		bench_die("luo_open: %s", strerror(-dev));
	s = luo_create_session(dev, name);
	if (s < 0)
		bench_die("luo_create_session: %s", strerror(-s));
	if (opt.size)
		fds[0] = bench_make_touched_memfd(opt.size);
	else
		bench_make_fds(opt.kind, fds, n);
	for (size_t i = 0; i < n; i++)
		tokens[i] = token_base + i;
	r = luo_session_preserve_fds(s, fds, tokens, n);
	if (r < 0)
		bench_die("luo_session_preserve_fds(%zu): %s", n, strerror(-r));
	bench_close_fds(fds, n); /* luod holds them now */
	if (write(ready_fd, "R", 1) != 1)
		bench_die("ready pipe: %s", strerror(errno));
	close(ready_fd);

	/* luod's exec closes our session handle; 120 s at most */
	pfd = (struct pollfd){ .fd = s, .events = POLLIN | POLLRDHUP };
	r = poll(&pfd, 1, 120000);
	if (r <= 0)
		bench_die("workload: no hang-up from luod within 120 s");
	snprintf(count_arg, sizeof(count_arg), "%zu", n);
	snprintf(size_arg, sizeof(size_arg), "%" PRIu64, opt.size);
	snprintf(fd_arg, sizeof(fd_arg), "%d", report_fd);
	execl(self, self, "--retrieve", socket, name, count_arg, size_arg, fd_arg, (char *)NULL);
	bench_die("exec %s: %s", self, strerror(errno));
}

static void print_header(void)
{
	printf("tool,kind,count,size_bytes,rep,prepare_ms,freeze_ms,fdt_write_ms,exec_ms,"
	       "fdt_parse_ms,luod_blackout_ms,retrieve_ms,blackout_ms,fdt_bytes,luod_rss_kib,"
	       "dump_ms,restore_ms,image_bytes\n");
}

static void run_luo(const struct bench_luod *d, const char *self, int rep)
{
	char name[64];
	int ready[2], report[2], status;
	struct bench_update u;
	struct report wr;
	ssize_t n;
	pid_t pid;
	double t_freeze, t_serve, t_from;
	const char *kind = opt.size ? "memfd" : opt.kind;
	size_t count = opt.size ? 1 : opt.count;

	snprintf(name, sizeof(name), "bench-%d-%d", (int)getpid(), rep);
	if (pipe2(ready, O_CLOEXEC) < 0 || pipe(report) < 0)
		bench_die("pipe: %s", strerror(errno));
	fcntl(report[0], F_SETFD, FD_CLOEXEC);
	pid = fork();
	if (pid < 0)
		bench_die("fork: %s", strerror(errno));
	if (pid == 0) {
		close(ready[0]);
		close(report[0]);
		workload_hold(self, d->socket, name, ready[1], report[1]);
	}
	close(ready[1]);
	close(report[1]);
	{
		char c;
		struct pollfd p = { .fd = ready[0], .events = POLLIN };

		if (poll(&p, 1, 300000) <= 0 || read(ready[0], &c, 1) != 1)
			bench_die("workload did not get ready (see stderr)");
	}
	close(ready[0]);

	bench_luoctl_update(opt.luoctl, d->socket, &u);
	{
		struct pollfd p = { .fd = report[0], .events = POLLIN };

		if (poll(&p, 1, 120000) <= 0)
			bench_die("restarted workload did not report within 120 s");
	}
	n = read(report[0], &wr, sizeof(wr));
	close(report[0]);
	if (waitpid(pid, &status, 0) != pid || n != sizeof(wr) || wr.err < 0 || !wr.ok)
		bench_die("restarted workload failed: %s%s", wr.err < 0 ? strerror(-wr.err) : "",
			  wr.ok ? "" : " (content check failed)");

	t_serve = (double)u.t_reply_ns;
	t_freeze = t_serve - u.blackout_ms * 1e6;
	t_from = (double)wr.t_start > t_serve ? (double)wr.t_start : t_serve;
	printf("luo,%s,%zu,%" PRIu64 ",%d,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%" PRIu64
	       ",%ld,,,\n",
	       kind, count, opt.size, rep, u.prepare_ms, u.freeze_ms, u.fdt_write_ms, u.exec_ms,
	       u.fdt_parse_ms, u.blackout_ms, ((double)wr.t_have - t_from) / 1e6,
	       ((double)wr.t_have - t_freeze) / 1e6, u.fdt_bytes, bench_status_kib(d->pid, "VmRSS"));
	fflush(stdout);
}

static void run_floor(const char *self, int rep)
{
	size_t n = opt.size ? 1 : opt.count;
	int *fds = calloc(n, sizeof(*fds));
	uint64_t ns;

	if (!fds)
		bench_die("out of memory");
	if (opt.size)
		fds[0] = bench_make_touched_memfd(opt.size);
	else
		bench_make_fds(opt.kind, fds, n);
	ns = bench_floor(self, fds, n);
	free(fds);
	printf("floor,%s,%zu,%" PRIu64 ",%d,,,,,,,,%.3f,,,,,\n", opt.size ? "memfd" : opt.kind, n,
	       opt.size, rep, bench_ms(ns));
	fflush(stdout);
}

/* ---- CRIU ---- */

static int run_cmd(char *const argv[])
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		bench_die("fork: %s", strerror(errno));
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static uint64_t dir_bytes(const char *dir)
{
	uint64_t total = 0;
	struct dirent *e;
	DIR *dp = opendir(dir);

	if (!dp)
		return 0;
	while ((e = readdir(dp))) {
		char p[PATH_MAX + 300];
		struct stat st;

		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		if (e->d_name[0] != '.' && stat(p, &st) == 0 && S_ISREG(st.st_mode))
			total += (uint64_t)st.st_size;
	}
	closedir(dp);
	return total;
}

static void rm_images(const char *dir)
{
	struct dirent *e;
	DIR *dp = opendir(dir);

	if (!dp)
		return;
	while ((e = readdir(dp))) {
		char p[PATH_MAX + 300];

		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		if (e->d_name[0] != '.' || strlen(e->d_name) > 2)
			unlink(p);
	}
	closedir(dp);
	rmdir(dir);
}

static bool holds_memfd(pid_t pid)
{
	char dir[64];
	struct dirent *e;
	bool found = false;
	DIR *dp;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	dp = opendir(dir);
	if (!dp)
		return false;
	while (!found && (e = readdir(dp))) {
		char p[320], t[256];
		ssize_t k;

		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		k = readlink(p, t, sizeof(t) - 1);
		if (k > 0) {
			t[k] = '\0';
			found = strstr(t, "memfd:bench-ram") != NULL;
		}
	}
	closedir(dp);
	return found;
}

static void run_criu(int rep)
{
	char img[300], pidfile[320], log_dump[320], log_restore[320], pid_arg[32];
	int ready[2], status, rc;
	uint64_t t0, t1, t2, t3, bytes;
	pid_t holder, restored = -1;
	FILE *f;

	snprintf(img, sizeof(img), "%s/img-%d-%d", opt.criu_dir, (int)getpid(), rep);
	snprintf(pidfile, sizeof(pidfile), "%s/restored.pid", opt.criu_dir);
	snprintf(log_dump, sizeof(log_dump), "%s/dump.log", opt.dir);
	snprintf(log_restore, sizeof(log_restore), "%s/restore.log", opt.dir);
	if (mkdir(img, 0700) < 0)
		bench_die("mkdir %s: %s", img, strerror(errno));
	unlink(pidfile);
	if (pipe(ready) < 0)
		bench_die("pipe: %s", strerror(errno));
	holder = fork();
	if (holder < 0)
		bench_die("fork: %s", strerror(errno));
	if (holder == 0) {
		int null = open("/dev/null", O_RDWR), fd;

		setsid();
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		close(null);
		close(ready[0]);
		fd = bench_make_touched_memfd(opt.size);
		fcntl(fd, F_SETFD, 0);
		if (write(ready[1], "R", 1) != 1)
			_exit(1);
		close(ready[1]);
		alarm(600); /* bounded life, restored too */
		for (;;)
			pause();
	}
	close(ready[1]);
	{
		char c;
		struct pollfd p = { .fd = ready[0], .events = POLLIN };

		if (poll(&p, 1, 300000) <= 0 || read(ready[0], &c, 1) != 1)
			bench_die("CRIU holder did not get ready");
	}
	close(ready[0]);

	snprintf(pid_arg, sizeof(pid_arg), "%d", (int)holder);
	{
		char *argv[] = { (char *)opt.criu, "dump", "-t", pid_arg, "-D", img, "-o", log_dump,
				 NULL };

		t0 = bench_now_ns();
		rc = run_cmd(argv);
		t1 = bench_now_ns();
	}
	if (rc != 0) {
		kill(holder, SIGKILL);
		waitpid(holder, &status, 0);
		rm_images(img);
		bench_die("criu dump failed (exit %d); see %s", rc, log_dump);
	}
	/* restore needs the PID free: reap the dumped (killed) holder */
	waitpid(holder, &status, 0);
	bytes = dir_bytes(img);
	{
		char *argv[] = { (char *)opt.criu, "restore", "-D", img, "-d", "--pidfile", pidfile,
				 "-o", log_restore, NULL };

		t2 = bench_now_ns();
		rc = run_cmd(argv);
		t3 = bench_now_ns();
	}
	f = fopen(pidfile, "re");
	if (f) {
		if (fscanf(f, "%d", &restored) != 1)
			restored = -1;
		fclose(f);
	}
	if (rc != 0 || restored <= 0) {
		rm_images(img);
		bench_die("criu restore failed (exit %d); see %s", rc, log_restore);
	}
	if (!holds_memfd(restored))
		bench_die("restored process %d does not hold the memfd", (int)restored);
	kill(restored, SIGKILL);
	/* we are a child subreaper: the restored process is ours to reap */
	waitpid(restored, &status, 0);
	rm_images(img);
	unlink(pidfile);
	printf("criu,memfd,1,%" PRIu64 ",%d,,,,,,,,%.3f,,,%.3f,%.3f,%" PRIu64 "\n", opt.size, rep,
	       bench_ms(t3 - t0), bench_ms(t1 - t0), bench_ms(t3 - t2), bytes);
	fflush(stdout);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: luo-bench-update --luod PATH --luoctl PATH --dir DIR [--kind memfd|socket|socket6]\n"
		"       [--count N | --size BYTES] [--reps R] [--criu PATH --criu-dir TMPFS_DIR]\n"
		"       [--floor] [--no-header]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "luod", required_argument, NULL, 'd' },
		{ "luoctl", required_argument, NULL, 'c' },
		{ "dir", required_argument, NULL, 'D' },
		{ "kind", required_argument, NULL, 'k' },
		{ "count", required_argument, NULL, 'n' },
		{ "size", required_argument, NULL, 's' },
		{ "reps", required_argument, NULL, 'r' },
		{ "criu", required_argument, NULL, 'C' },
		{ "criu-dir", required_argument, NULL, 'I' },
		{ "no-header", no_argument, NULL, 'H' },
		{ "floor", no_argument, NULL, 'F' },
		{ 0 },
	};
	struct bench_luod d = { .pid = -1 };
	char self[4096];
	ssize_t k;
	int c;

	c = bench_floor_child(argc, argv);
	if (c >= 0)
		return c;
	if (argc == 7 && !strcmp(argv[1], "--retrieve"))
		return workload_retrieve(argv[2], argv[3], strtoul(argv[4], NULL, 10),
					 strtoull(argv[5], NULL, 10), atoi(argv[6]));

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': opt.luod = optarg; break;
		case 'c': opt.luoctl = optarg; break;
		case 'D': opt.dir = optarg; break;
		case 'k': opt.kind = optarg; break;
		case 'n': opt.count = strtoul(optarg, NULL, 10); break;
		case 's': opt.size = bench_parse_size(optarg); break;
		case 'r': opt.reps = atoi(optarg); break;
		case 'C': opt.criu = optarg; break;
		case 'I': opt.criu_dir = optarg; break;
		case 'H': opt.header = false; break;
		case 'F': opt.floor = true; break;
		default: usage();
		}
	}
	if (!opt.luod || !opt.luoctl || !opt.dir || opt.reps < 1 || opt.reps > 100 ||
	    opt.count < 1 || opt.count > BENCH_MAX_FDS || (opt.criu && (!opt.size || !opt.criu_dir)))
		usage();
	k = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (k < 0)
		bench_die("/proc/self/exe: %s", strerror(errno));
	self[k] = '\0';
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	signal(SIGPIPE, SIG_IGN);

	if (opt.header)
		print_header();
	bench_luod_start(&d, opt.luod, opt.dir);
	for (int rep = 0; rep < opt.reps; rep++) {
		if (opt.floor)
			run_floor(self, rep);
		run_luo(&d, self, rep);
	}
	bench_luod_stop(&d);
	if (opt.criu)
		for (int rep = 0; rep < opt.reps; rep++)
			run_criu(rep);
	return 0;
}
