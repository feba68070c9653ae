/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Session handles that are the kernel's own session fds.
 *
 * When luod runs the kernel backend (a real /dev/liveupdate), the handle
 * luo_create_session() and luo_retrieve_session() return is the kernel's
 * session fd, not a socket to luod. The session calls then speak the
 * kernel's ioctls to it directly, so a workload is the same program with
 * either backend. What the kernel has no command for (UNPRESERVE, the
 * per-session events and state) is EOPNOTSUPP. The kernel has no way to
 * undo a preserve either, so a batch that fails half-way leaves what it
 * preserved preserved (the session ends with its last fd, and luod holds
 * one): only the retrieve batch stays all or nothing.
 */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "luo/liveupdate.h"
#include "luo/luo.h"
#include "kernel_session.h"

bool luo_kernel_session(int fd)
{
	struct stat st;

	/* luod's handles are sockets; the kernel's are anonymous inodes */
	return fstat(fd, &st) == 0 && !S_ISSOCK(st.st_mode);
}

int luo_kernel_preserve_fds(int session, const int *fds, const uint64_t *tokens, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct liveupdate_session_preserve_fd a = {
			.size = sizeof(a), .fd = fds[i], .token = tokens[i],
		};

		if (ioctl(session, LIVEUPDATE_SESSION_PRESERVE_FD, &a) < 0)
			return -errno;
	}
	return 0;
}

int luo_kernel_retrieve_fds(int session, const uint64_t *tokens, int *ret_fds, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct liveupdate_session_retrieve_fd a = {
			.size = sizeof(a), .fd = -1, .token = tokens[i],
		};

		if (ioctl(session, LIVEUPDATE_SESSION_RETRIEVE_FD, &a) < 0) {
			int r = -errno;

			while (i--)
				close(ret_fds[i]);
			return r;
		}
		ret_fds[i] = a.fd;
	}
	return 0;
}

int luo_kernel_finish(int session)
{
	struct liveupdate_session_finish a = { .size = sizeof(a) };

	return ioctl(session, LIVEUPDATE_SESSION_FINISH, &a) < 0 ? -errno : 0;
}

int luo_kernel_get_name(int session, char name[LUO_NAME_MAX])
{
	struct liveupdate_session_get_name a = { .size = sizeof(a) };

	if (ioctl(session, LIVEUPDATE_SESSION_GET_NAME, &a) < 0)
		return -errno;
	if (strnlen((const char *)a.name, sizeof(a.name)) >= sizeof(a.name))
		return -EBADMSG;
	memcpy(name, a.name, LUO_NAME_MAX);
	return 0;
}
