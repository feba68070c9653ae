// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The kernel backend's edges that show on any machine, without a LUO
 * kernel (the backend itself runs in the reference VM: check-kernel.py):
 * luod's --backend choice, the status fields, `luoctl update --kernel`
 * refused by the userspace backend and by luoctl's own option rules, the
 * raw KERNEL_STATUS and KERNEL_UPDATE requests, and libluo's dispatch of a
 * handle that is not a socket to the kernel's ioctls.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "protocol.h"
#include "rpc.h"

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

static bool real_device(void)
{
	struct stat st;

	return stat("/dev/liveupdate", &st) == 0 && S_ISCHR(st.st_mode);
}

static void test_status_userspace(void **state)
{
	char out[4096];

	(void)state;
	if (real_device())
		skip(); /* luod picked the kernel backend here */
	assert_int_equal(luoctl(&d, out, sizeof(out), "status", "--json", NULL), 0);
	assert_non_null(strstr(out, "\"backend\": \"userspace\""));
	assert_non_null(strstr(out, "\"kernel_liveupdate_num\": null"));
	assert_int_equal(luoctl(&d, out, sizeof(out), "status", NULL), 0);
	assert_non_null(strstr(out, "backend:     userspace"));
}

/*
 * Where a file lives is news only beside a kernel's LUO: on the userspace
 * backend every file lives in luod, and luoctl show prints what it always
 * printed, without a "where" or a LIVES column (the kernel backend's
 * answers are checked in the reference VM).
 */
static void test_show_where_userspace(void **state)
{
	char out[8192];
	int dev = luo_open(d.sock), s, m, p[2];
	uint64_t tokens[2] = { 1, 2 };
	int fds[2];

	(void)state;
	if (real_device())
		skip();
	assert_true(dev >= 0);
	s = luo_create_session(dev, "kept");
	assert_true(s >= 0);
	m = memfd_create("kept", MFD_CLOEXEC);
	assert_true(m >= 0);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	fds[0] = m;
	fds[1] = p[0];
	assert_int_equal(luo_session_preserve_fds(s, fds, tokens, 2), 0);
	assert_int_equal(luoctl(&d, out, sizeof(out), "show", "kept", "--json", NULL), 0);
	assert_non_null(strstr(out, "\"token\": 2, \"handler\": \"pipe\""));
	assert_null(strstr(out, "\"where\""));
	assert_int_equal(luoctl(&d, out, sizeof(out), "show", "kept", NULL), 0);
	assert_non_null(strstr(out, "RETRIEVED"));
	assert_null(strstr(out, "LIVES"));
	close(s);
	close(m);
	close(p[0]);
	close(p[1]);
	close(dev);
}

/* The userspace backend has no kernel to load: EOPNOTSUPP, and luod goes on. */
static void test_update_kernel_refused(void **state)
{
	char out[4096];

	(void)state;
	if (real_device())
		skip();
	assert_int_equal(luoctl(&d, out, sizeof(out), "update", "--kernel", "/proc/self/exe",
				"--append", "console=ttyS0", NULL), 1);
	assert_true(luod_alive(&d));
	assert_int_equal(luod_status_field(&d, "generation"), 0);
	/* a kernel image that cannot be opened is luoctl's own error */
	assert_int_equal(luoctl(&d, out, sizeof(out), "update", "--kernel", "/nonexistent/bzImage",
				NULL), 1);
}

static void test_update_kernel_usage(void **state)
{
	char out[4096];

	(void)state;
	assert_int_equal(luoctl(&d, out, sizeof(out), "update", "--kernel", "/x", "--exec", "/y",
				NULL), 2);
	assert_int_equal(luoctl(&d, out, sizeof(out), "update", "--kernel", "/x", "--session", "s",
				NULL), 2);
	assert_int_equal(luoctl(&d, out, sizeof(out), "update", "--initrd", "/x", NULL), 2);
	assert_int_equal(luoctl(&d, out, sizeof(out), "update", "--append", "quiet", NULL), 2);
	assert_int_equal(luod_status_field(&d, "generation"), 0); /* nothing happened */
}

/* The raw ops: their argument rules, before any backend is asked. */
static void test_raw_ops(void **state)
{
	struct luo_msg_kernel_status st;
	struct luo_reply reply;
	int dev = luo_open(d.sock), fd;

	(void)state;
	assert_true(dev >= 0);
	assert_int_equal(luo_call_full(dev, LUO_OP_KERNEL_STATUS, NULL, 0, NULL, 0, &reply), 0);
	assert_int_equal(reply.body_len, sizeof(st));
	memcpy(&st, reply.body, sizeof(st));
	assert_int_equal(st.backend, real_device() ? LUO_BACKEND_KERNEL : LUO_BACKEND_USERSPACE);
	/* KERNEL_STATUS takes no body and no fd */
	assert_int_equal(luo_call_full(dev, LUO_OP_KERNEL_STATUS, "x", 1, NULL, 0, &reply), -EINVAL);
	/* KERNEL_UPDATE: one or two fds and a NUL-terminated command line */
	assert_int_equal(luo_call_full(dev, LUO_OP_KERNEL_UPDATE, "quiet", 6, NULL, 0, &reply), -EINVAL);
	fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	if (!real_device()) {
		assert_int_equal(luo_call_full(dev, LUO_OP_KERNEL_UPDATE, "quiet", 6, &fd, 1, &reply),
				 -EOPNOTSUPP);
		assert_int_equal(luo_call_full(dev, LUO_OP_KERNEL_UPDATE, "quiet", 5, &fd, 1, &reply),
				 -EOPNOTSUPP);
	}
	close(fd);
	assert_int_equal(luo_call_full(dev, 27, NULL, 0, NULL, 0, &reply), -EINVAL); /* unused op */
	close(dev);
	assert_true(luod_alive(&d));
}

/* luod --backend: checked, and the kernel backend without a device is a clean exit 1. */
static void test_backend_option(void **state)
{
	char sock[PATH_MAX], statedir[PATH_MAX];
	const char *luod = getenv("LUOD");
	const char *backends[] = { "kernel", "bogus" };
	const int want[] = { 1, 2 };

	(void)state;
	assert_non_null(luod);
	if (real_device())
		skip();
	snprintf(sock, sizeof(sock), "%s/other.sock", d.dir);
	snprintf(statedir, sizeof(statedir), "%s/other-state", d.dir);
	for (size_t i = 0; i < 2; i++) {
		int status;
		pid_t pid = fork();

		assert_true(pid >= 0);
		if (pid == 0) {
			int null = open("/dev/null", O_WRONLY);

			dup2(null, 2);
			execl(luod, luod, "--socket", sock, "--state-dir", statedir, "--backend",
			      backends[i], (char *)NULL);
			_exit(127);
		}
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), want[i]);
		assert_int_equal(access(sock, F_OK), -1); /* it never listened */
	}
}

/* A handle that is not a socket goes to the kernel's ioctls, not to luod. */
static void test_libluo_kernel_handle(void **state)
{
	char name[LUO_NAME_MAX];
	enum luo_state st;
	int m = memfd_create("not-a-session", MFD_CLOEXEC), fd = 7;
	uint64_t token = 1;

	(void)state;
	assert_true(m >= 0);
	/* a memfd knows none of the kernel's session ioctls */
	assert_int_equal(luo_session_get_name(m, name), -ENOTTY);
	assert_int_equal(luo_session_finish(m), -ENOTTY);
	assert_int_equal(luo_session_preserve_fd(m, m, 1), -ENOTTY);
	assert_int_equal(luo_session_retrieve_fds(m, &token, &fd, 1), -ENOTTY);
	assert_int_equal(fd, 7); /* untouched on failure */
	/* what the kernel has no command for */
	assert_int_equal(luo_session_unpreserve_fd(m, 1), -EOPNOTSUPP);
	assert_int_equal(luo_session_set_event(m, LUO_EVENT_PREPARE), -EOPNOTSUPP);
	assert_int_equal(luo_session_get_state(m, &st, NULL), -EOPNOTSUPP);
	close(m);
	/* a closed fd is still EBADF */
	assert_int_equal(luo_session_get_name(m, name), -EBADF);
}

#define CASE(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

static const struct CMUnitTest tests[] = {
	CASE(test_status_userspace),
	CASE(test_show_where_userspace),
	CASE(test_update_kernel_refused),
	CASE(test_update_kernel_usage),
	CASE(test_raw_ops),
	CASE(test_backend_option),
	CASE(test_libluo_kernel_handle),
};

LUO_TEST_MAIN("kernel-backend-host", tests, NULL, NULL)
