/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The interposed libc entry points: open(), openat() and their 64-bit and
 * _FORTIFY_SOURCE variants, and ioctl(). Each resolves the real function
 * with dlsym(RTLD_NEXT) and hands it everything that is not the emulated
 * device:
 *
 *   - open*() compares the path with the device path (a string compare,
 *     nothing else) and only then opens the emulated device;
 *   - ioctl() looks at the command's type byte first: anything that is not
 *     0xBA goes straight to libc, with no system call added. A 0xBA command
 *     costs a getsockname() to tell whether the fd is ours.
 *
 *   - write(), read(), writev() and readv() fail with EINVAL on our fds, as
 *     on the kernel's (their files have no read or write): one bit test in
 *     a table of the fd numbers this process has seen as ours, nothing more
 *     for any other fd;
 *   - stat(), lstat(), fstatat(), statx(), access(), faccessat() and
 *     euidaccess() of the device path describe luod's socket as a character
 *     device, so a program that looks before it opens finds the device.
 *
 * Backend: $LUO_DEVICE names the emulated path and forces emulation. With it
 * unset, the path is /dev/liveupdate, unless that exists as a character
 * device: then a real kernel serves it and the layer stays out of the way.
 * The choice is made once, at the first call that names the device path.
 *
 * No lock is taken anywhere here, nor below in the ioctls (luo_call()): an
 * ioctl or an open from a signal handler cannot wait on its own thread.
 * An ioctl of ours is not a cancellation point, as the kernel's is not.
 */
/* This file defines the very functions these would rename (open -> open64) or wrap. */
#undef _FILE_OFFSET_BITS
#undef _FORTIFY_SOURCE

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "compat.h"
#include "luo/liveupdate.h"

#define PUBLIC __attribute__((visibility("default")))

typedef int (*open_fn)(const char *, int, ...);
typedef int (*openat_fn)(int, const char *, int, ...);
typedef int (*open2_fn)(const char *, int);
typedef int (*openat2_fn)(int, const char *, int);
typedef int (*ioctl_fn)(int, unsigned long, ...);
typedef ssize_t (*rw_fn)(int, void *, size_t);
typedef ssize_t (*rwv_fn)(int, const struct iovec *, int);
typedef int (*fstatat_fn)(int, const char *, struct stat *, int);
typedef int (*statx_fn)(int, const char *, int, unsigned int, struct statx *);
typedef int (*faccessat_fn)(int, const char *, int, int);
typedef int (*dup_fn)(int);
typedef int (*dup2_fn)(int, int);
typedef int (*dup3_fn)(int, int, int);
typedef int (*fcntl_fn)(int, int, ...);
typedef ssize_t (*recvmsg_fn)(int, struct msghdr *, int);

static struct {
	open_fn open, open64;
	openat_fn openat, openat64;
	open2_fn open_2, open64_2;
	openat2_fn openat_2, openat64_2;
	ioctl_fn ioctl;
	rw_fn read, write;
	rwv_fn readv, writev;
	fstatat_fn fstatat;
	statx_fn statx;
	faccessat_fn faccessat;
	dup_fn dup;
	dup2_fn dup2;
	dup3_fn dup3;
	fcntl_fn fcntl;
	recvmsg_fn recvmsg;
} real;

static pthread_once_t real_once = PTHREAD_ONCE_INIT;

static void *next_symbol(const char *name, const char *fallback)
{
	void *p = dlsym(RTLD_NEXT, name);

	return p ? p : dlsym(RTLD_NEXT, fallback);
}

static void real_resolve(void)
{
	real.open = (open_fn)next_symbol("open", "open");
	real.open64 = (open_fn)next_symbol("open64", "open");
	real.openat = (openat_fn)next_symbol("openat", "openat");
	real.openat64 = (openat_fn)next_symbol("openat64", "openat");
	real.open_2 = (open2_fn)next_symbol("__open_2", "__open64_2");
	real.open64_2 = (open2_fn)next_symbol("__open64_2", "__open_2");
	real.openat_2 = (openat2_fn)next_symbol("__openat_2", "__openat64_2");
	real.openat64_2 = (openat2_fn)next_symbol("__openat64_2", "__openat_2");
	real.ioctl = (ioctl_fn)next_symbol("ioctl", "ioctl");
	real.read = (rw_fn)next_symbol("read", "read");
	real.write = (rw_fn)next_symbol("write", "write");
	real.readv = (rwv_fn)next_symbol("readv", "readv");
	real.writev = (rwv_fn)next_symbol("writev", "writev");
	real.fstatat = (fstatat_fn)next_symbol("fstatat", "fstatat64");
	real.statx = (statx_fn)next_symbol("statx", "statx");
	real.faccessat = (faccessat_fn)next_symbol("faccessat", "faccessat");
	real.dup = (dup_fn)next_symbol("dup", "dup");
	real.dup2 = (dup2_fn)next_symbol("dup2", "dup2");
	real.dup3 = (dup3_fn)next_symbol("dup3", "dup3");
	real.fcntl = (fcntl_fn)next_symbol("fcntl64", "fcntl");
	real.recvmsg = (recvmsg_fn)next_symbol("recvmsg", "recvmsg");
}

static void real_init(void)
{
	pthread_once(&real_once, real_resolve);
}

/*
 * The fds this process was started with (across exec) that could be
 * session fds: unnamed AF_UNIX SEQPACKET sockets with a peer. Only marked
 * here, never classified (that would ask luod); read() and write() on one
 * classify it then. Device fds that are lock files are classified here
 * (an fstat and a pread, no luod), and marked when they are.
 */
static void mark_inherited(void)
{
	DIR *dir = opendir("/proc/self/fd");
	struct dirent *e;

	if (!dir)
		return;
	while ((e = readdir(dir))) {
		struct sockaddr_un sa;
		socklen_t len = sizeof(sa);
		int fd = atoi(e->d_name), type;
		socklen_t tl = sizeof(type);

		if (e->d_name[0] == '.' || fd == dirfd(dir))
			continue;
		if (getsockname(fd, (struct sockaddr *)&sa, &len) == 0) {
			if (sa.sun_family == AF_UNIX &&
			    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) == 0 &&
			    type == SOCK_SEQPACKET)
				compat_mark(fd);
		} else if (errno == ENOTSOCK) {
			compat_classify(fd); /* a device lock file? Its content says, no luod asked */
		}
	}
	closedir(dir);
}

__attribute__((constructor)) static void compat_init(void)
{
	real_init();
	mark_inherited();
}

/* ---- backend ---- */

enum backend {
	BACKEND_UNKNOWN,
	BACKEND_EMULATE,
	BACKEND_KERNEL,
};

/*
 * Set once, without a lock: whoever comes first computes, and a signal
 * handler that comes while that is under way computes the same thing again.
 */
static struct {
	char path[PATH_MAX];
	bool forced;               /* $LUO_DEVICE set */
	_Atomic int path_state;    /* 0 unset, 1 being set, 2 set */
	_Atomic int backend;       /* enum backend */
} dev;

static void path_compute(char *path, bool *forced)
{
	const char *env = getenv("LUO_DEVICE");

	*forced = env && *env && strlen(env) < PATH_MAX;
	strcpy(path, *forced ? env : "/dev/liveupdate");
}

/* The device path; buf is used while another call is still setting it. */
static const char *device_path(char *buf, bool *forced)
{
	int expect = 0;

	if (atomic_load(&dev.path_state) == 2) {
		*forced = dev.forced;
		return dev.path;
	}
	if (atomic_compare_exchange_strong(&dev.path_state, &expect, 1)) {
		path_compute(dev.path, &dev.forced);
		atomic_store(&dev.path_state, 2);
		*forced = dev.forced;
		return dev.path;
	}
	path_compute(buf, forced);
	return buf;
}

static bool is_device_path(const char *path)
{
	char buf[PATH_MAX];
	bool forced;

	return path && !strcmp(path, device_path(buf, &forced));
}

static enum backend backend_get(void)
{
	enum backend b = atomic_load(&dev.backend);
	char buf[PATH_MAX];
	const char *path;
	struct stat st;
	bool forced;

	if (b != BACKEND_UNKNOWN)
		return b;
	path = device_path(buf, &forced);
	b = BACKEND_EMULATE;
	real_init();
	if (!forced && real.fstatat(AT_FDCWD, path, &st, 0) == 0 && S_ISCHR(st.st_mode))
		b = BACKEND_KERNEL;
	atomic_store(&dev.backend, b);
	return b;
}

/* open() of the device path under emulation: an fd, or -1 with errno. */
static int device_open(int flags)
{
	int fd = compat_device_open(flags);

	if (fd < 0) {
		errno = -fd;
		return -1;
	}
	if (!(flags & O_PATH))
		compat_mark(fd);
	return fd;
}

static bool emulated(const char *path)
{
	return is_device_path(path) && backend_get() == BACKEND_EMULATE;
}

static mode_t open_mode(int flags, va_list ap)
{
	if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE)
		return (mode_t)va_arg(ap, int);
	return 0;
}

/* ---- the interposed functions ---- */

PUBLIC int open(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	if (emulated(path))
		return device_open(flags);
	real_init();
	return real.open(path, flags, mode);
}

PUBLIC int open64(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	if (emulated(path))
		return device_open(flags);
	real_init();
	return real.open64(path, flags, mode);
}

PUBLIC int openat(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	if (emulated(path))
		return device_open(flags);
	real_init();
	return real.openat(dirfd, path, flags, mode);
}

PUBLIC int openat64(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	if (emulated(path))
		return device_open(flags);
	real_init();
	return real.openat64(dirfd, path, flags, mode);
}

PUBLIC int __open_2(const char *path, int flags);
PUBLIC int __open_2(const char *path, int flags)
{
	if (emulated(path))
		return device_open(flags);
	real_init();
	return real.open_2(path, flags);
}

PUBLIC int __open64_2(const char *path, int flags);
PUBLIC int __open64_2(const char *path, int flags)
{
	if (emulated(path))
		return device_open(flags);
	real_init();
	return real.open64_2(path, flags);
}

PUBLIC int __openat_2(int dirfd, const char *path, int flags);
PUBLIC int __openat_2(int dirfd, const char *path, int flags)
{
	if (emulated(path))
		return device_open(flags);
	real_init();
	return real.openat_2(dirfd, path, flags);
}

PUBLIC int __openat64_2(int dirfd, const char *path, int flags);
PUBLIC int __openat64_2(int dirfd, const char *path, int flags)
{
	if (emulated(path))
		return device_open(flags);
	real_init();
	return real.openat64_2(dirfd, path, flags);
}

int compat_real_ioctl(int fd, unsigned long request, void *arg)
{
	real_init();
	return real.ioctl(fd, request, arg);
}

/* Our fds exist only once the device was emulated in this process or came from one that did. */
static int compat_ioctl(int fd, unsigned long request, void *arg, bool *handled)
{
	*handled = true;
	switch (compat_classify(fd)) {
	case COMPAT_DEVICE:
		return compat_device_ioctl(fd, request, arg);
	case COMPAT_SESSION:
		return compat_session_ioctl(fd, request, arg);
	case COMPAT_OTHER:
		break;
	}
	*handled = false;
	return 0;
}

PUBLIC int ioctl(int fd, unsigned long request, ...)
{
	bool handled = false;
	va_list ap;
	void *arg;
	int r;

	va_start(ap, request);
	arg = va_arg(ap, void *);
	va_end(ap);

	/* the kernel takes the command as unsigned int: so do its emulated tables */
	if (_IOC_TYPE((unsigned int)request) == LIVEUPDATE_IOCTL_TYPE) {
		int saved = errno, cancel;

		/* no cancellation inside: what the command did is never half undone */
		pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel);
		r = compat_ioctl(fd, (unsigned int)request, arg, &handled);
		pthread_setcancelstate(cancel, NULL);
		if (handled) {
			if (r < 0) {
				errno = -r;
				return -1;
			}
			return r;
		}
		errno = saved;
	}
	real_init();
	return real.ioctl(fd, request, arg);
}

/* ---- read and write: the kernel's device and session files have neither ---- */

/* fd is one of ours: the call fails with EINVAL. One bit test for any other fd. */
static bool no_read_write(int fd)
{
	int saved;

	if (!compat_marked(fd))
		return false;
	saved = errno;
	if (compat_classify(fd) == COMPAT_OTHER) {
		compat_unmark(fd); /* closed, and the number reused */
		errno = saved;
		return false;
	}
	errno = EINVAL;
	return true;
}

PUBLIC ssize_t read(int fd, void *buf, size_t n)
{
	if (no_read_write(fd))
		return -1;
	real_init();
	return real.read(fd, buf, n);
}

PUBLIC ssize_t write(int fd, const void *buf, size_t n)
{
	if (no_read_write(fd))
		return -1;
	real_init();
	return real.write(fd, (void *)buf, n);
}

PUBLIC ssize_t readv(int fd, const struct iovec *iov, int n)
{
	if (no_read_write(fd))
		return -1;
	real_init();
	return real.readv(fd, iov, n);
}

PUBLIC ssize_t writev(int fd, const struct iovec *iov, int n)
{
	if (no_read_write(fd))
		return -1;
	real_init();
	return real.writev(fd, iov, n);
}

/* ---- the copies of a marked fd are marked: dup*(), F_DUPFD, SCM_RIGHTS ---- */

static int copied(int from, int to)
{
	if (to >= 0 && compat_marked(from))
		compat_mark(to);
	return to;
}

PUBLIC int dup(int fd)
{
	real_init();
	return copied(fd, real.dup(fd));
}

PUBLIC int dup2(int fd, int to)
{
	real_init();
	return copied(fd, real.dup2(fd, to));
}

PUBLIC int dup3(int fd, int to, int flags)
{
	real_init();
	return copied(fd, real.dup3(fd, to, flags));
}

/* fcntl() takes one argument of int or pointer size; passed on as a pointer, as glibc does. */
PUBLIC int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	void *arg;
	int r;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	real_init();
	r = real.fcntl(fd, cmd, arg);
	return cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC ? copied(fd, r) : r;
}

PUBLIC int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	return fcntl(fd, cmd, arg);
}

/* Every fd that comes in SCM_RIGHTS is marked: a hint, classified only at a read or write. */
PUBLIC ssize_t recvmsg(int sock, struct msghdr *msg, int flags)
{
	ssize_t n;

	real_init();
	n = real.recvmsg(sock, msg, flags);
	if (n < 0 || !msg->msg_controllen)
		return n;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			compat_mark(fd);
		}
	}
	return n;
}

/* ---- the device node: stat() and access() ---- */

/* The path a look at the device path looks at instead: luod's socket. */
static bool device_node(const char *path, char *sock, size_t len)
{
	if (!path || !is_device_path(path) || backend_get() != BACKEND_EMULATE)
		return false;
	if (compat_luod_path(-1, sock, len) < 0)
		sock[0] = '\0'; /* no socket: the node does not exist */
	return true;
}

/*
 * luod's socket seen as the device: a character device with the socket's
 * owner, permissions, inode and times (so access() and open() agree about
 * who may use it) and device number 0:0. No luod socket, no device: ENOENT.
 */
static int node_stat(const char *sock, struct stat *st)
{
	real_init();
	if (!sock[0]) {
		errno = ENOENT;
		return -1;
	}
	if (real.fstatat(AT_FDCWD, sock, st, 0) < 0)
		return -1;
	st->st_mode = S_IFCHR | (st->st_mode & 07777);
	st->st_rdev = 0;
	st->st_size = 0;
	st->st_blocks = 0;
	return 0;
}

PUBLIC int fstatat(int dirfd, const char *path, struct stat *st, int flags)
{
	char sock[sizeof(((struct sockaddr_un *)0)->sun_path)];

	if (device_node(path, sock, sizeof(sock)))
		return node_stat(sock, st);
	real_init();
	return real.fstatat(dirfd, path, st, flags);
}

/* On 64-bit targets, the ones this layer is built for, the two are one layout. */
_Static_assert(sizeof(struct stat) == sizeof(struct stat64), "struct stat64 differs");

PUBLIC int fstatat64(int dirfd, const char *path, struct stat64 *st, int flags)
{
	return fstatat(dirfd, path, (struct stat *)st, flags);
}

PUBLIC int stat(const char *path, struct stat *st)
{
	return fstatat(AT_FDCWD, path, st, 0);
}

PUBLIC int stat64(const char *path, struct stat64 *st)
{
	return fstatat(AT_FDCWD, path, (struct stat *)st, 0);
}

PUBLIC int lstat(const char *path, struct stat *st)
{
	return fstatat(AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW);
}

PUBLIC int lstat64(const char *path, struct stat64 *st)
{
	return fstatat(AT_FDCWD, path, (struct stat *)st, AT_SYMLINK_NOFOLLOW);
}

PUBLIC int statx(int dirfd, const char *path, int flags, unsigned int mask, struct statx *stx)
{
	char sock[sizeof(((struct sockaddr_un *)0)->sun_path)];

	real_init();
	if (!device_node(path, sock, sizeof(sock)))
		return real.statx(dirfd, path, flags, mask, stx);
	if (!sock[0]) {
		errno = ENOENT;
		return -1;
	}
	if (real.statx(AT_FDCWD, sock, flags & ~AT_SYMLINK_NOFOLLOW, mask, stx) < 0)
		return -1;
	stx->stx_mode = (uint16_t)(S_IFCHR | (stx->stx_mode & 07777));
	stx->stx_rdev_major = 0;
	stx->stx_rdev_minor = 0;
	stx->stx_size = 0;
	stx->stx_blocks = 0;
	return 0;
}

/* access() of the device: may the caller use luod's socket, as open() does. */
PUBLIC int faccessat(int dirfd, const char *path, int mode, int flags)
{
	char sock[sizeof(((struct sockaddr_un *)0)->sun_path)];

	real_init();
	if (!device_node(path, sock, sizeof(sock)))
		return real.faccessat(dirfd, path, mode, flags);
	if (!sock[0]) {
		errno = ENOENT;
		return -1;
	}
	return real.faccessat(AT_FDCWD, sock, mode, flags & ~AT_SYMLINK_NOFOLLOW);
}

PUBLIC int access(const char *path, int mode)
{
	return faccessat(AT_FDCWD, path, mode, 0);
}

PUBLIC int euidaccess(const char *path, int mode)
{
	return faccessat(AT_FDCWD, path, mode, AT_EACCESS);
}

PUBLIC int eaccess(const char *path, int mode)
{
	return faccessat(AT_FDCWD, path, mode, AT_EACCESS);
}
