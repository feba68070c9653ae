// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `luoctl preserve --session NAME --pid PID --fd N --token T [--create]`:
 * take fd N out of a running process that knows nothing of luo and
 * preserve it in a session.
 *
 * The fd is copied with pidfd_open() + pidfd_getfd(), so the kernel's
 * ptrace access check applies (PTRACE_MODE_ATTACH_REALCREDS: the same uid
 * and no stricter Yama setting, or CAP_SYS_PTRACE); a refusal is EPERM and
 * said so. The process keeps its fd; luo gets another reference to the
 * same open file.
 *
 * Who holds the session afterwards: luoctl exits at once, so it freezes the
 * session on its own (per-session FREEZE) before closing its handle, and
 * luod holds it, retrievable by name (luo_retrieve_session, or `luoctl
 * exec`). A later `luoctl preserve` into the same session takes it back,
 * adds the fd and freezes it again (hold.c).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hold.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

static int parse_u64(const char *s, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	if (!*s || *s == '-')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end)
		return -EINVAL;
	*ret = v;
	return 0;
}

/* A copy of fd `target` of process pid, O_CLOEXEC; messages say why not. */
static int steal_fd(pid_t pid, int target)
{
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0), fd, r;

	if (pidfd < 0) {
		r = -errno;
		fprintf(stderr, "luoctl: preserve: process %d: %s\n", (int)pid,
			r == -ESRCH ? "no such process" : strerror(-r));
		return r;
	}
	fd = (int)syscall(SYS_pidfd_getfd, pidfd, target, 0);
	r = -errno;
	close(pidfd);
	if (fd >= 0)
		return fd;
	if (r == -EPERM)
		fprintf(stderr,
			"luoctl: preserve: not permitted to take fd %d of process %d: %s (the kernel "
			"applies its ptrace access check: same uid and Yama's ptrace_scope, or "
			"CAP_SYS_PTRACE)\n",
			target, (int)pid, strerror(-r));
	else if (r == -EBADF)
		fprintf(stderr, "luoctl: preserve: process %d has no fd %d\n", (int)pid, target);
	else
		fprintf(stderr, "luoctl: preserve: fd %d of process %d: %s\n", target, (int)pid,
			strerror(-r));
	return r;
}

int cmd_preserve(const struct luoctl_command *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		LUOCTL_COMMON_OPTS,
		{ "session", required_argument, NULL, 'S' },
		{ "pid", required_argument, NULL, 'p' },
		{ "fd", required_argument, NULL, 'f' },
		{ "token", required_argument, NULL, 't' },
		{ "create", no_argument, NULL, 'c' },
		{ 0 },
	};
	const char *session = NULL;
	uint64_t pid = 0, target = 0, token = 0;
	bool have_pid = false, have_fd = false, have_token = false, create = false;
	struct hold h;
	int c, fd, r;

	while ((c = getopt_long(argc, argv, LUOCTL_COMMON_SHORT "S:p:f:t:c", opts, NULL)) != -1) {
		if (common_opt(cmd, c, &r))
			return r;
		switch (c) {
		case 'S':
			session = optarg;
			break;
		case 'p':
			if (parse_u64(optarg, &pid) < 0 || pid == 0 || pid > INT32_MAX)
				return usage_error(cmd, "bad --pid");
			have_pid = true;
			break;
		case 'f':
			if (parse_u64(optarg, &target) < 0 || target > INT32_MAX)
				return usage_error(cmd, "bad --fd");
			have_fd = true;
			break;
		case 't':
			if (parse_u64(optarg, &token) < 0)
				return usage_error(cmd, "bad --token");
			have_token = true;
			break;
		case 'c':
			create = true;
			break;
		}
	}
	if (optind != argc || !session || !have_pid || !have_fd || !have_token)
		return usage_error(cmd, "--session, --pid, --fd and --token are required");
	if (luo_name_validate(session, strlen(session) + 1) < 0)
		return usage_error(cmd, "bad session name");

	fd = steal_fd((pid_t)pid, (int)target);
	if (fd < 0)
		return 1;
	hold_init(&h, session);
	r = hold_attach(&h, create);
	if (r < 0) {
		close(fd);
		hold_close(&h);
		if (r == -ENOENT)
			fprintf(stderr, "luoctl: preserve: luod holds no session %s (--create makes one)\n",
				session);
		else if (r == -EEXIST)
			fprintf(stderr, "luoctl: preserve: session %s is held by a process\n", session);
		else
			fail(session, r);
		return 1;
	}
	r = hold_add(&h, fd, token);
	if (r < 0) {
		close(fd);
		fail("preserve", r);
	}
	if (h.n > 0) {
		/* what the session held goes back to luod, with the new fd or without */
		int fr = hold_freeze(&h);

		if (fr < 0) {
			fail("freeze", fr);
			r = r < 0 ? r : fr;
		}
	}
	if (r == 0) {
		if (opt.json) {
			printf("{\"session\": ");
			json_string(stdout, session);
			printf(", \"pid\": %" PRIu64 ", \"fd\": %" PRIu64 ", \"token\": %" PRIu64
			       ", \"files\": %zu, \"state\": \"frozen\"}\n",
			       pid, target, token, h.n);
		} else {
			printf("preserved fd %" PRIu64 " of process %" PRIu64 " in session %s as token "
			       "%" PRIu64 " (%zu files); luod holds the session\n",
			       target, pid, session, token, h.n);
		}
	}
	hold_close(&h);
	return r < 0 ? 1 : 0;
}
