/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The emulated /dev/liveupdate device and the recognition of our fds.
 *
 * A device fd is an AF_UNIX socket bound to the abstract name
 * "\0luo-compat-dev:<luod socket path>". The name is the device's single
 * holder: a second bind fails with EADDRINUSE (so a second open is EBUSY),
 * and it is released when the last copy of the fd closes, across dup, fork
 * and SCM_RIGHTS, as the kernel releases the device at the final fput().
 * The socket never talks: each device command makes its own short
 * connection to luod, so the device fd outlives luod updates and is safe to
 * share between processes. (A path too long for the name is replaced by a
 * hash, and luod is then found through $LUO_SOCKET or the default path.)
 *
 * A session fd is the client end of a socketpair luod created: AF_UNIX,
 * SOCK_SEQPACKET, unnamed on both ends, and its SO_PEERCRED pid is luod's.
 * luod's pid is learnt from every connection this layer makes to it; a
 * process that only ever received session fds learns it with a bare
 * connect(), at most once a second, never with a request.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"
#include "luo/liveupdate.h"
#include "luo/luo.h"
#include "paths.h"

#define DEV_PREFIX "luo-compat-dev"

static _Atomic pid_t luod_pid;
static _Atomic uint64_t luod_probe_ns;

/*
 * The fd numbers this process has seen as ours (opened, created, or
 * classified so): read() and write() check this bit first, so they cost
 * nothing more for every other fd. A bit can outlive its fd; whoever finds
 * it set classifies the fd again. Inherited across fork, not exec: an fd
 * that came through exec or SCM_RIGHTS is marked at its first ioctl.
 */
#define MARK_FDS 65536
#define MARK_BITS (8 * sizeof(unsigned long))
static _Atomic unsigned long marks[MARK_FDS / MARK_BITS];

void compat_mark(int fd)
{
	if (fd >= 0 && fd < MARK_FDS)
		atomic_fetch_or_explicit(&marks[fd / MARK_BITS], 1ul << (fd % MARK_BITS),
					 memory_order_relaxed);
}

void compat_unmark(int fd)
{
	if (fd >= 0 && fd < MARK_FDS)
		atomic_fetch_and_explicit(&marks[fd / MARK_BITS], ~(1ul << (fd % MARK_BITS)),
					  memory_order_relaxed);
}

bool compat_marked(int fd)
{
	return fd >= 0 && fd < MARK_FDS &&
	       (atomic_load_explicit(&marks[fd / MARK_BITS], memory_order_relaxed) >>
		(fd % MARK_BITS)) & 1;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static pid_t peer_pid(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return 0;
	return cred.pid;
}

/* ---- the device's name ---- */

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return h;
}

/* The abstract address for luod at path; returns its socklen. */
static socklen_t device_address(const char *path, struct sockaddr_un *sa)
{
	size_t room = sizeof(sa->sun_path) - 1, n;

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(DEV_PREFIX) + 1 + strlen(path) <= room)
		n = (size_t)snprintf(sa->sun_path + 1, room, "%s:%s", DEV_PREFIX, path);
	else
		n = (size_t)snprintf(sa->sun_path + 1, room, "%s#%016llx", DEV_PREFIX,
				     (unsigned long long)fnv1a(path));
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
}

/* If fd is a device fd: true, and the luod path in its name (or "" for a hashed one). */
static bool device_name(const struct sockaddr_un *sa, socklen_t len, char *path,
			size_t path_len)
{
	size_t plen = strlen(DEV_PREFIX), n;
	const char *name = sa->sun_path + 1;

	if (len <= offsetof(struct sockaddr_un, sun_path) + 1 + plen || sa->sun_path[0] != '\0' ||
	    memcmp(name, DEV_PREFIX, plen) != 0)
		return false;
	n = len - offsetof(struct sockaddr_un, sun_path) - 1 - plen;
	if (name[plen] == ':' && n - 1 < path_len) {
		memcpy(path, name + plen + 1, n - 1);
		path[n - 1] = '\0';
	} else if (name[plen] == '#') {
		if (path_len)
			path[0] = '\0';
	} else {
		return false;
	}
	return true;
}

int compat_luod_path(int fd, char *buf, size_t len)
{
	struct sockaddr_un sa;
	socklen_t sl = sizeof(sa);

	if (fd >= 0 && getsockname(fd, (struct sockaddr *)&sa, &sl) == 0 &&
	    sa.sun_family == AF_UNIX && device_name(&sa, sl, buf, len) && buf[0])
		return 0;
	return luo_path_client_socket(buf, len);
}

/* A fresh connection to luod, and luod's pid refreshed from it. */
static int luod_connect(const char *path)
{
	int c = luo_open(path);
	pid_t pid;

	if (c < 0)
		return c;
	pid = peer_pid(c);
	if (pid > 0)
		atomic_store(&luod_pid, pid);
	return c;
}

/* luod's pid, probing it when unknown or when asked and the last probe is a second old. */
static pid_t luod_pid_get(bool refresh)
{
	pid_t pid = atomic_load(&luod_pid);
	uint64_t now = now_ns(), last = atomic_load(&luod_probe_ns);
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int c;

	if (pid > 0 && !refresh)
		return pid;
	if (last && now - last < 1000000000u)
		return pid;
	atomic_store(&luod_probe_ns, now);
	if (compat_luod_path(-1, path, sizeof(path)) < 0)
		return pid;
	c = luod_connect(path);
	if (c >= 0)
		close(c);
	return atomic_load(&luod_pid);
}

/* ---- open ---- */

int compat_device_open(int flags)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct sockaddr_un sa;
	socklen_t len;
	int fd, c, r;

	r = compat_luod_path(-1, path, sizeof(path));
	if (r < 0)
		return r;
	if (flags & O_PATH) {
		/* the kernel runs no open for O_PATH: a path fd of luod's socket, nothing held */
		fd = open(path, O_PATH | (flags & (O_CLOEXEC | O_NOFOLLOW)));
		return fd < 0 ? -errno : fd;
	}
	/* No luod, no device: as on a kernel without LUO. */
	c = luod_connect(path);
	if (c == -ECONNREFUSED)
		return -ENXIO;
	if (c < 0)
		return c;
	close(c);

	fd = socket(AF_UNIX, SOCK_SEQPACKET | ((flags & O_CLOEXEC) ? SOCK_CLOEXEC : 0), 0);
	if (fd < 0)
		return -errno;
	len = device_address(path, &sa);
	if (bind(fd, (struct sockaddr *)&sa, len) < 0) {
		r = errno == EADDRINUSE ? -EBUSY : -errno;
		close(fd);
		return r;
	}
	return fd;
}

/* ---- recognition ---- */

static bool sock_int(int fd, int opt, int want)
{
	int v;
	socklen_t len = sizeof(v);

	return getsockopt(fd, SOL_SOCKET, opt, &v, &len) == 0 && v == want;
}

enum compat_kind compat_classify(int fd)
{
	struct sockaddr_un sa;
	socklen_t len = sizeof(sa);
	char path[sizeof(sa.sun_path)];
	pid_t pid, luod;

	if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0 || sa.sun_family != AF_UNIX)
		return COMPAT_OTHER; /* ENOTSOCK, EBADF: libc's ioctl answers */
	if (device_name(&sa, len, path, sizeof(path))) {
		compat_mark(fd);
		return COMPAT_DEVICE;
	}
	if (len != sizeof(sa_family_t) || !sock_int(fd, SO_TYPE, SOCK_SEQPACKET))
		return COMPAT_OTHER;
	pid = peer_pid(fd);
	if (pid <= 0 || pid == getpid())
		return COMPAT_OTHER;
	len = sizeof(sa);
	if (getpeername(fd, (struct sockaddr *)&sa, &len) < 0 || len != sizeof(sa_family_t))
		return COMPAT_OTHER;
	luod = luod_pid_get(false);
	if (pid != luod)
		luod = luod_pid_get(true); /* luod restarted since we learnt its pid? */
	if (pid != luod)
		return COMPAT_OTHER;
	compat_mark(fd);
	return COMPAT_SESSION;
}

/* ---- device commands ---- */

/* Name rules of the kernel: NUL within the 64 bytes, not empty. */
static int name_check(const __u8 name[LIVEUPDATE_SESSION_NAME_LENGTH])
{
	size_t n = strnlen((const char *)name, LIVEUPDATE_SESSION_NAME_LENGTH);

	return n == 0 || n == LIVEUPDATE_SESSION_NAME_LENGTH ? -EINVAL : 0;
}

/* CREATE or RETRIEVE over a connection of its own to the luod behind device fd dev. */
static int session_call(int dev, uint16_t op, const __u8 *name, __s32 *ret_fd)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct luo_msg_name req;
	struct luo_call_reply reply;
	int c, r;

	r = name_check(name);
	if (r < 0)
		return r;
	r = compat_luod_path(dev, path, sizeof(path));
	if (r < 0)
		return r;
	c = luod_connect(path);
	if (c < 0)
		return c == -ECONNREFUSED || c == -ENOENT ? -ENODEV : c;
	memset(&req, 0, sizeof(req));
	memcpy(req.name, name, LIVEUPDATE_SESSION_NAME_LENGTH);
	/* the connection is this call's alone: the reply comes on it */
	r = luo_call_direct(c, op, &req, sizeof(req), NULL, 0, &reply);
	if (r == 0 && reply.nfds != 1) {
		luo_call_close_fds(&reply);
		r = -EPROTO;
	}
	if (r == 0) {
		*ret_fd = reply.fds[0];
		compat_mark(*ret_fd);
	}
	close(c);
	return r;
}

static int dev_create(int fd, void *arg)
{
	struct liveupdate_ioctl_create_session *a = arg;

	return session_call(fd, LUO_OP_CREATE_SESSION, a->name, &a->fd);
}

static int dev_retrieve(int fd, void *arg)
{
	struct liveupdate_ioctl_retrieve_session *a = arg;

	return session_call(fd, LUO_OP_RETRIEVE_SESSION, a->name, &a->fd);
}

/* The copy-out faulted: the caller never learnt the fd, so it is closed (the session with it). */
static void dev_undo(void *arg)
{
	struct liveupdate_ioctl_create_session *a = arg;

	close(a->fd);
}

#define OFFSETOFEND(type, field) (offsetof(type, field) + sizeof(((type *)0)->field))

static const struct compat_op device_ops[] = {
	[LIVEUPDATE_CMD_CREATE_SESSION] = {
		.cmd = LIVEUPDATE_IOCTL_CREATE_SESSION,
		.size = sizeof(struct liveupdate_ioctl_create_session),
		.min_size = OFFSETOFEND(struct liveupdate_ioctl_create_session, name),
		.execute = dev_create,
		.undo = dev_undo,
	},
	[LIVEUPDATE_CMD_RETRIEVE_SESSION] = {
		.cmd = LIVEUPDATE_IOCTL_RETRIEVE_SESSION,
		.size = sizeof(struct liveupdate_ioctl_retrieve_session),
		.min_size = OFFSETOFEND(struct liveupdate_ioctl_retrieve_session, name),
		.execute = dev_retrieve,
		.undo = dev_undo,
	},
};

static const struct compat_table device_table = {
	.base = LIVEUPDATE_CMD_BASE,
	.n = sizeof(device_ops) / sizeof(device_ops[0]),
	.ops = device_ops,
};

int compat_device_ioctl(int fd, unsigned long request, void *uarg)
{
	return compat_dispatch(&device_table, fd, request, uarg);
}
