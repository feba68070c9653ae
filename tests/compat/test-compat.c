// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The compatibility suite: every behaviour of UAPI.md, run by compat-stage
 * (a raw /dev/liveupdate program) under LD_PRELOAD=libluo-compat.so against
 * a real luod. Multi-stage cases run stage programs as separate processes
 * with `luoctl update` between them, which plays the part of kexec: the
 * process that held the sessions is killed after it, as a kexec kills it.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sched.h>
#include <string.h>
#include <grp.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static struct luod_proc d;
/* Stage 1 holders still alive: teardown kills them should a case fail before its update. */
static pid_t holders[8];
static size_t nholders;

static const char *env_path(const char *name)
{
	const char *p = getenv(name);

	if (!p || !*p)
		fail_msg("$%s is not set (run through meson test)", name);
	return p;
}

static void raise_nofile(void)
{
	struct rlimit rl;

	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	rl.rlim_cur = rl.rlim_max; /* a hard limit too low makes compat-stage skip */
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
}

static int setup(void **state)
{
	(void)state;
	raise_nofile(); /* luod inherits it: 2,000 sessions are 2,000 handles there */
	luod_start(&d, NULL);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	while (nholders)
		kill(holders[--nholders], SIGKILL);
	assert_true(luod_alive(&d));
	luod_stop(&d);
	return 0;
}

struct stage_opts {
	bool default_device; /* leave $LUO_DEVICE unset */
	const char *socket;  /* $LUO_SOCKET for the stage, if not luod's */
	const char *xdg;     /* $XDG_RUNTIME_DIR for the stage */
	uid_t uid;           /* the stage's uid (and gid), if not 0 */
	bool ro_run;         /* a private, empty, read-only /run */
	bool kernel_device;  /* a private /dev where /dev/liveupdate is a char device */
};

#define STAGE_SKIP 77
/* far above any case's time on a loaded machine (the longest take seconds) */
#define STAGE_HANG_MS 120000

/*
 * In the stage's child: a mount namespace of its own whose /dev holds a
 * character device named liveupdate (the null device's numbers), standing
 * in for a kernel with LUO. Nothing outside the child sees it.
 */
static void kernel_device_namespace(void)
{
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("tmpfs", "/dev", "tmpfs", 0, "mode=0755") < 0)
		_exit(STAGE_SKIP); /* not allowed here: no CAP_SYS_ADMIN */
	if (mknod("/dev/liveupdate", S_IFCHR | 0600, makedev(1, 3)) < 0 ||
	    mknod("/dev/null", S_IFCHR | 0666, makedev(1, 3)) < 0 ||
	    mknod("/dev/urandom", S_IFCHR | 0666, makedev(1, 9)) < 0)
		_exit(STAGE_SKIP);
}

/*
 * Run compat-stage CASE [ARG] under the layer; returns the holder's pid
 * when the stage left one ("HOLDER <pid>"), else 0. Fails the test unless
 * the stage exits 0.
 */
static pid_t stage_run(const struct stage_opts *o, const char *c, const char *arg)
{
	const char *stage = env_path("COMPAT_STAGE"), *lib = env_path("COMPAT_LIB");
	char out[512] = "", asan[1024];
	int pipefd[2], status, holder = 0;
	size_t used = 0;
	ssize_t n;
	pid_t pid;

	assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		const char *a = getenv("ASAN_OPTIONS");

		if (dup2(pipefd[1], 1) != 1)
			_exit(126);
		/* a preloaded library comes before libasan; ASan must not refuse that */
		snprintf(asan, sizeof(asan), "%s%sverify_asan_link_order=0", a ? a : "",
			 a && *a ? ":" : "");
		setenv("ASAN_OPTIONS", asan, 1);
		setenv("LD_PRELOAD", lib, 1);
		if (o && o->default_device)
			unsetenv("LUO_DEVICE");
		else
			setenv("LUO_DEVICE", "/dev/liveupdate", 1);
		if (o && o->socket)
			setenv("LUO_SOCKET", o->socket, 1);
		if (o && o->xdg)
			setenv("XDG_RUNTIME_DIR", o->xdg, 1);
		if (o && o->kernel_device)
			kernel_device_namespace();
		if (o && o->ro_run &&
		    (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
		     mount("tmpfs", "/run", "tmpfs", MS_RDONLY, "mode=0755") < 0))
			_exit(STAGE_SKIP); /* no CAP_SYS_ADMIN */
		if (o && o->uid && (setgroups(0, NULL) < 0 || setresgid(o->uid, o->uid, o->uid) < 0 ||
				    setresuid(o->uid, o->uid, o->uid) < 0))
			_exit(126);
		execl(stage, stage, c, arg, (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	for (;;) {
		/* a stage that hangs (a deadlocked ioctl) fails its case instead of the whole run */
		struct pollfd p = { .fd = pipefd[0], .events = POLLIN };

		if (poll(&p, 1, STAGE_HANG_MS) == 0) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			fail_msg("compat-stage %s %s: no end after %d s: hung", c, arg ? arg : "",
				 STAGE_HANG_MS / 1000);
		}
		n = read(pipefd[0], out + used, sizeof(out) - 1 - used);
		if (n <= 0)
			break;
		used += (size_t)n;
	}
	out[used] = '\0';
	close(pipefd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFEXITED(status) && WEXITSTATUS(status) == STAGE_SKIP)
		skip(); /* the stage cannot run here (no CAP_SYS_ADMIN, too few fds) */
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("compat-stage %s %s: status %#x (luod log: %s)", c, arg ? arg : "", status,
			 d.log);
	if (strncmp(out, "HOLDER ", 7) == 0) {
		holder = atoi(out + 7);
		assert_true(holder > 0 && nholders < sizeof(holders) / sizeof(holders[0]));
		holders[nholders++] = holder;
	}
	return holder;
}

static void stage(const char *c)
{
	assert_int_equal(stage_run(NULL, c, NULL), 0);
}

/* The update, as a kexec: the holder of stage 1's sessions dies with it. */
static void update_killing(pid_t holder)
{
	assert_true(holder > 0);
	luod_update(&d, NULL);
	assert_int_equal(kill(holder, SIGKILL), 0);
	assert_true(nholders > 0 && holders[nholders - 1] == holder);
	nholders--;
}

static void test_device_one_holder(void **state)
{
	(void)state;
	stage("device");
}

static void test_session_names(void **state)
{
	(void)state;
	stage("sessions");
}

static void test_ioctl_rules(void **state)
{
	(void)state;
	stage("abi");
}

static void test_literal_abi(void **state)
{
	(void)state;
	stage("literal");
}

static void test_preserve(void **state)
{
	(void)state;
	stage("preserve");
	assert_int_equal(luod_status_field(&d, "files"), 0);
}

static void test_2000_sessions(void **state)
{
	(void)state;
	stage("many-sessions");
	assert_int_equal(luod_status_field(&d, "sessions"), 0);
}

static void test_500_files(void **state)
{
	(void)state;
	stage("many-files");
	assert_int_equal(luod_status_field(&d, "files"), 0);
}

static void test_fork_dup_scm_rights(void **state)
{
	(void)state;
	stage("handles");
}

/* ioctls from a signal handler interrupting ioctls, on the same session and another */
static void test_ioctl_from_signal_handler(void **state)
{
	(void)state;
	stage("signal");
}

/* threads cancelled among their ioctls: later ioctls work, no fd is left */
static void test_cancelled_threads(void **state)
{
	(void)state;
	stage("cancel");
}

/* two processes on one session fd at once (fork, SCM_RIGHTS): each its own reply */
static void test_one_fd_two_processes(void **state)
{
	(void)state;
	stage("shared");
	assert_true(luod_alive(&d));
}

/* read()/write() on our fds: EINVAL; even the raw system call changes nothing */
static void test_stray_read_write(void **state)
{
	(void)state;
	stage("stray");
	assert_int_equal(luod_status_field(&d, "files"), 0);
}

/* access(), stat() and O_PATH open() of the device path */
static void test_device_node(void **state)
{
	(void)state;
	stage("node");
}

/* at the fd limit: commands that make no fd still answer */
static void test_at_the_fd_limit(void **state)
{
	(void)state;
	stage("fd-limit");
}

static void test_other_fds_untouched(void **state)
{
	(void)state;
	stage("passthrough");
}

/* Per-session GET_STATE, SET_EVENT, UNPRESERVE_FD, and a per-session handover. */
static void test_luo_extensions(void **state)
{
	(void)state;
	stage("extensions");
}

static void test_default_device_path(void **state)
{
	struct stage_opts o = { .default_device = true };
	struct stat st;

	(void)state;
	if (stat("/dev/liveupdate", &st) == 0 && S_ISCHR(st.st_mode))
		skip(); /* a real kernel serves it: the layer stands aside, by design */
	assert_int_equal(stage_run(&o, "sessions", NULL), 0);
}

/* A real /dev/liveupdate and no $LUO_DEVICE: the kernel answers, the layer stands aside. */
static void test_kernel_device_left_alone(void **state)
{
	struct stage_opts o = { .default_device = true, .kernel_device = true };

	(void)state;
	assert_int_equal(stage_run(&o, "kernel", NULL), 0);
}

static void test_no_luod_no_device(void **state)
{
	char sock[PATH_MAX];
	struct stage_opts o = { .socket = sock };

	(void)state;
	snprintf(sock, sizeof(sock), "%s/nobody-here.sock", d.dir);
	assert_int_equal(stage_run(&o, "absent", NULL), 0);
}

/*
 * Stage 1 preserves into several sessions (one empty, one never to be
 * retrieved) and exits leaving a holder; update; stage 2 retrieves, checks
 * and finishes; update again; stage 3 finds the unretrieved one gone.
 */
static void test_across_update(void **state)
{
	pid_t holder;

	(void)state;
	holder = stage_run(NULL, "stage1-basic", NULL);
	assert_int_equal(luod_status_field(&d, "sessions"), 4);
	update_killing(holder);
	assert_int_equal(luod_status_field(&d, "incoming_sessions"), 4);
	stage("stage2-basic");
	/* finished and closed sessions are gone, with their unretrieved files */
	assert_int_equal(luod_status_field(&d, "incoming_sessions"), 1);
	assert_int_equal(luod_status_field(&d, "files"), 1);
	luod_update(&d, NULL);
	assert_int_equal(luod_status_field(&d, "sessions"), 0);
	stage("stage3-basic");
	assert_int_equal(luod_status_field(&d, "sessions"), 0);
}

static void test_several_cycles(void **state)
{
	char n[16];

	(void)state;
	for (int i = 0; i < 4; i++) {
		snprintf(n, sizeof(n), "%d", i);
		update_killing(stage_run(NULL, "cycle", n));
	}
	assert_int_equal(stage_run(NULL, "cycle-last", "4"), 0);
	assert_int_equal(luod_status_field(&d, "sessions"), 0);
}

static void test_500_files_across_update(void **state)
{
	(void)state;
	update_killing(stage_run(NULL, "stage1-many", NULL));
	assert_int_equal(luod_status_field(&d, "files"), 500);
	stage("stage2-many");
	assert_int_equal(luod_status_field(&d, "files"), 0);
}

#define SQUAT_UID 65533

/* What the squatter managed: each bit one attack that took. */
enum {
	SQUAT_ABSTRACT = 1,  /* bound the old device name */
	SQUAT_RUN_DIR = 2,   /* made /run/luo-compat, or a symlink for it */
	SQUAT_RUN_FILE = 4,  /* opened, made or linked a file in /run/luo-compat */
	SQUAT_XDG = 8,       /* planted luo-compat in the $XDG_RUNTIME_DIR given to root */
};

/*
 * As another uid, with no access to luod: take everything the device of
 * root could be made of, report what took, and hold it until told to go.
 */
static void squatter(uid_t uid, const char *luod_sock, const char *xdg, int report, int go)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int mask = 0, s, n;
	char path[PATH_MAX + 32], c;
	socklen_t len;

	if (setgroups(0, NULL) < 0 || setresgid(uid, uid, uid) < 0 || setresuid(uid, uid, uid) < 0)
		_exit(100);
	n = snprintf(sa.sun_path + 1, sizeof(sa.sun_path) - 1, "luo-compat-dev:%s", luod_sock);
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
	s = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	if (s >= 0 && bind(s, (struct sockaddr *)&sa, len) == 0)
		mask |= SQUAT_ABSTRACT;
	if (mkdir("/run/luo-compat", 0777) == 0 || symlink("/tmp", "/run/luo-compat") == 0)
		mask |= SQUAT_RUN_DIR;
	for (int i = 0; i < 2; i++) {
		int f;

		snprintf(path, sizeof(path), "/run/luo-compat/%s", i ? "dev-squat" : ".");
		f = open(path, i ? O_RDWR | O_CREAT : O_RDONLY | O_DIRECTORY, 0666);
		if (f >= 0)
			mask |= SQUAT_RUN_FILE;
	}
	/* an $XDG_RUNTIME_DIR it owns, handed to root: its luo-compat points at a dir it owns */
	snprintf(path, sizeof(path), "%s/luo-compat", xdg);
	if (mkdir(xdg, 0700) == 0 && symlink("/tmp", path) == 0)
		mask |= SQUAT_XDG;
	c = (char)mask;
	if (write(report, &c, 1) != 1)
		_exit(101);
	(void)!read(go, &c, 1); /* holds everything until the parent is done */
	_exit(0);
}

/* A squatter of uid squat against the "device" stage run with o. */
static void squat_then_stage(uid_t squat, const struct stage_opts *o, const char *squat_xdg)
{
	int report[2], go[2], status;
	pid_t pid;
	char c;

	assert_int_equal(pipe2(report, O_CLOEXEC), 0);
	assert_int_equal(pipe2(go, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(report[0]);
		close(go[1]);
		squatter(squat, d.sock, squat_xdg, report[1], go[0]);
	}
	close(report[1]);
	close(go[0]);
	if (read(report[0], &c, 1) != 1) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		fail_msg("the squatter died: status %#x", status);
	}
	/* the old hole is there to use, the new place is not */
	assert_int_equal(c & SQUAT_ABSTRACT, SQUAT_ABSTRACT);
	assert_int_equal(c & (SQUAT_RUN_DIR | SQUAT_RUN_FILE), 0);
	assert_int_equal(c & SQUAT_XDG, SQUAT_XDG);
	assert_int_equal(stage_run(o, "device", NULL), 0);
	close(go[1]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	close(report[0]);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void xdg_remove(const char *xdg)
{
	char link[PATH_MAX + 16];

	snprintf(link, sizeof(link), "%s/luo-compat", xdg);
	unlink(link);
	rmdir(xdg);
}

/*
 * Another uid can never keep root from the device: it squats the abstract
 * name the device once was, tries /run/luo-compat, and hands root an
 * $XDG_RUNTIME_DIR of its own; root's device still opens, one holder at a
 * time, across dup and fork (the "device" stage).
 */
static void test_other_uid_cannot_hold(void **state)
{
	char xdg[PATH_MAX];
	struct stage_opts o = { .xdg = xdg };

	(void)state;
	if (geteuid() != 0)
		skip(); /* needs setresuid() to another uid */
	snprintf(xdg, sizeof(xdg), "/tmp/luo-compat-squat.%d", (int)getpid());
	stage("device"); /* root's directory and lock file exist before the squatter comes */
	squat_then_stage(SQUAT_UID, &o, xdg);
	xdg_remove(xdg);
}

/*
 * The same for a client that is not root, in its own $XDG_RUNTIME_DIR
 * (owned by it, 0700): a squatter of a third uid cannot keep it from its
 * device, nor can root's device, held meanwhile by nobody, or by root.
 */
static void test_other_uid_cannot_hold_xdg(void **state)
{
	char xdg[PATH_MAX], squat_xdg[PATH_MAX];
	struct stage_opts o = { .xdg = xdg, .uid = SQUAT_UID - 1 };

	(void)state;
	if (geteuid() != 0)
		skip(); /* needs setresuid() to another uid */
	/* the client reaches luod's socket */
	assert_int_equal(chmod(d.dir, 0711), 0);
	assert_int_equal(chmod(d.sock, 0666), 0);
	snprintf(xdg, sizeof(xdg), "/tmp/luo-compat-xdg.%d", (int)getpid());
	snprintf(squat_xdg, sizeof(squat_xdg), "/tmp/luo-compat-squat.%d", (int)getpid());
	assert_int_equal(mkdir(xdg, 0700), 0);
	assert_int_equal(chown(xdg, o.uid, o.uid), 0);
	squat_then_stage(SQUAT_UID, &o, squat_xdg);
	{
		char dir[PATH_MAX + 16];
		struct stat st;

		/* the client's device was its lock file, not the abstract name */
		snprintf(dir, sizeof(dir), "%s/luo-compat", xdg);
		assert_int_equal(lstat(dir, &st), 0);
		assert_true(S_ISDIR(st.st_mode) && st.st_uid == o.uid && (st.st_mode & 0777) == 0700);
	}
	xdg_remove(squat_xdg);
	{
		char cmd[PATH_MAX + 16];

		snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", xdg); /* a path of ours, no quote in it */
		assert_int_equal(system(cmd), 0);
	}
}

/* A read-only /run: no lock file can be made, the device falls back to the abstract name. */
static void test_read_only_run(void **state)
{
	struct stage_opts o = { .ro_run = true };

	(void)state;
	assert_int_equal(stage_run(&o, "device", NULL), 0);
}

#define CASE(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

static const struct CMUnitTest tests[] = {
	CASE(test_device_one_holder),
	CASE(test_other_uid_cannot_hold),
	CASE(test_other_uid_cannot_hold_xdg),
	CASE(test_read_only_run),
	CASE(test_session_names),
	CASE(test_ioctl_rules),
	CASE(test_literal_abi),
	CASE(test_preserve),
	CASE(test_2000_sessions),
	CASE(test_500_files),
	CASE(test_fork_dup_scm_rights),
	CASE(test_ioctl_from_signal_handler),
	CASE(test_cancelled_threads),
	CASE(test_one_fd_two_processes),
	CASE(test_stray_read_write),
	CASE(test_device_node),
	CASE(test_at_the_fd_limit),
	CASE(test_other_fds_untouched),
	CASE(test_luo_extensions),
	CASE(test_default_device_path),
	CASE(test_kernel_device_left_alone),
	CASE(test_no_luod_no_device),
	CASE(test_across_update),
	CASE(test_several_cycles),
	CASE(test_500_files_across_update),
};

LUO_TEST_MAIN("compat", tests, NULL, NULL)
