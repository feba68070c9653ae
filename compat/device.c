/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The emulated /dev/liveupdate device and the recognition of our fds.
 *
 * A device fd is a read-only open file description of a lock file held
 * with flock(LOCK_EX | LOCK_NB). The lock is the device's single holder: a
 * second open makes a second description, whose flock() fails (so
 * a second open is EBUSY, in the holder's own process too), and a flock lock
 * belongs to the description, so it follows dup, fork and SCM_RIGHTS and is
 * released at the last close, as the kernel releases the device at the
 * final fput(). The file, dev-<hash of the luod socket path>, lives in a
 * directory only the caller's uid can write: /run/luo-compat for root,
 * $XDG_RUNTIME_DIR/luo-compat for any other uid, made 0700 and checked with
 * fstat() (owner and mode, and the parent's), opened with O_NOFOLLOW and
 * used through its fd only, so no other uid can create, replace, lock or
 * point a symlink at it: no other uid can make the open fail. Its content,
 * "luo-compat-dev\n" and the luod socket path, is how a device fd is
 * recognised, in any process it reaches, and which luod it talks to. The
 * file never talks: each device command makes its own short connection to
 * luod, so the device fd outlives luod updates and is safe to share between
 * processes. The files stay (one per luod socket path): removing one while
 * another process opens it would make two holders.
 *
 * Fallback, when there is no such directory (root without a root-owned
 * /run that only root writes, or with a read-only one; another uid without
 * an $XDG_RUNTIME_DIR it owns that no group or other can write): the
 * device fd is an AF_UNIX socket bound to the abstract name
 * "\0luo-compat-dev:<luod socket path>", whose second bind fails with
 * EADDRINUSE. Abstract names have no permissions: there, any process that
 * shares the network namespace, of any uid, can bind the name first and
 * make every open EBUSY until it lets go. (A path too long for the name is
 * replaced by a hash, and luod is then found through $LUO_SOCKET or the
 * default path.)
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
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"
#include "luo/liveupdate.h"
#include "luo/luo.h"
#include "paths.h"

#define DEV_PREFIX "luo-compat-dev"
#define LOCK_MAGIC DEV_PREFIX "\n"
#define LOCK_DIR "luo-compat"
#define PATH_MAX_SUN sizeof(((struct sockaddr_un *)0)->sun_path)

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

/*
 * If fd is a device lock file: true, and the luod path it names. A regular
 * file that reads as LOCK_MAGIC, the path and a NUL, and nothing more.
 */
static bool device_file(int fd, char *path, size_t path_len)
{
	char buf[sizeof(LOCK_MAGIC) + PATH_MAX_SUN + 1];
	size_t m = strlen(LOCK_MAGIC), n;
	struct stat st;
	ssize_t got;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= (off_t)(m + 1) ||
	    st.st_size >= (off_t)sizeof(buf))
		return false;
	got = pread(fd, buf, sizeof(buf), 0);
	if (got != st.st_size || memcmp(buf, LOCK_MAGIC, m) != 0 || buf[got - 1] != '\0')
		return false;
	n = strlen(buf + m);
	if (n == 0 || m + n + 1 != (size_t)got || n >= path_len)
		return false;
	memcpy(path, buf + m, n + 1);
	return true;
}

int compat_luod_path(int fd, char *buf, size_t len)
{
	struct sockaddr_un sa;
	socklen_t sl = sizeof(sa);

	if (fd >= 0) {
		if (getsockname(fd, (struct sockaddr *)&sa, &sl) == 0) {
			if (sa.sun_family == AF_UNIX && device_name(&sa, sl, buf, len) && buf[0])
				return 0;
		} else if (errno == ENOTSOCK && device_file(fd, buf, len)) {
			return 0;
		}
	}
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

/* A directory fd whose owner is us and that no group or other may write. */
static bool dir_ours(int dfd, mode_t forbid)
{
	struct stat st;

	return fstat(dfd, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == geteuid() &&
	       !(st.st_mode & forbid);
}

/*
 * The directory of our lock files, opened; -ENOENT when there is none
 * safe (the caller falls back to the abstract name), another -errno when
 * the safe parent is there and making or checking ours in it failed.
 */
static int lock_dir_open(void)
{
	const char *parent = geteuid() == 0 ? "/run" : getenv("XDG_RUNTIME_DIR");
	int p, dfd, r;

	if (!parent || parent[0] != '/')
		return -ENOENT;
	p = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (p < 0)
		return -ENOENT;
	/* only we (root's /run: only root) can have made or replaced what is inside */
	if (!dir_ours(p, S_IWGRP | S_IWOTH)) {
		close(p);
		return -ENOENT;
	}
	if (mkdirat(p, LOCK_DIR, 0700) < 0 && errno != EEXIST) {
		/* a read-only /run is no place for it: nobody else can write there either */
		r = errno == EROFS ? -ENOENT : -errno;
		close(p);
		return r;
	}
	dfd = openat(p, LOCK_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	r = dfd < 0 ? -errno : 0;
	close(p);
	if (r < 0)
		return r == -ELOOP ? -ENOTDIR : r;
	if (!dir_ours(dfd, S_IRWXG | S_IRWXO)) {
		close(dfd);
		return -EPERM;
	}
	return dfd;
}

/*
 * The device as the lock file in dfd for luod at path: an fd or -errno.
 * The fd is read-only, so even a raw write(2) on it cannot change the
 * content that makes it a device fd; the content is written through a
 * second fd, by the holder only.
 */
static int lock_open(int dfd, const char *path, int flags)
{
	char name[32], want[sizeof(LOCK_MAGIC) + PATH_MAX_SUN + 1];
	char got[sizeof(want)];
	size_t len = (size_t)snprintf(want, sizeof(want), "%s%s", LOCK_MAGIC, path) + 1;
	int fd, w, r;

	snprintf(name, sizeof(name), "dev-%016llx", (unsigned long long)fnv1a(path));
	fd = openat(dfd, name, O_RDONLY | O_CREAT | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, 0600);
	if (fd < 0)
		return errno == ELOOP ? -EPERM : -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		r = errno == EWOULDBLOCK ? -EBUSY : -errno;
		goto fail;
	}
	/* held: only the holder writes, so no holder ever reads a half-written file */
	if (!device_file(fd, got, sizeof(got)) || strcmp(got, path) != 0) {
		/* the directory is ours alone: the name still is fd's file */
		w = openat(dfd, name, O_WRONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
		if (w < 0) {
			r = -errno;
			goto fail;
		}
		errno = EIO; /* a short write sets none */
		r = ftruncate(w, 0) < 0 || pwrite(w, want, len, 0) != (ssize_t)len ? -errno : 0;
		close(w);
		if (r < 0)
			goto fail;
	}
	if (!(flags & O_CLOEXEC) && fcntl(fd, F_SETFD, 0) < 0) {
		r = -errno;
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return r;
}

int compat_device_open(int flags)
{
	char path[PATH_MAX_SUN];
	struct sockaddr_un sa;
	socklen_t len;
	int fd, c, r, dfd;

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

	dfd = lock_dir_open();
	if (dfd >= 0) {
		fd = lock_open(dfd, path, flags);
		close(dfd);
		return fd;
	}
	if (dfd != -ENOENT)
		return dfd;

	/* no directory only we can write: the abstract name, which any uid can take first */
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

	if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
		if (errno == ENOTSOCK && device_file(fd, path, sizeof(path))) {
			compat_mark(fd);
			return COMPAT_DEVICE;
		}
		return COMPAT_OTHER; /* EBADF, any other file: libc's ioctl answers */
	}
	if (sa.sun_family != AF_UNIX)
		return COMPAT_OTHER;
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
