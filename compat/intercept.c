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
 * Backend: $LUO_DEVICE names the emulated path and forces emulation. With it
 * unset, the path is /dev/liveupdate, unless that exists as a character
 * device: then a real kernel serves it and the layer stays out of the way.
 * The choice is made once, at the first open of the device path.
 */
/* This file defines the very functions these would rename (open -> open64) or wrap. */
#undef _FILE_OFFSET_BITS
#undef _FORTIFY_SOURCE

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "compat.h"
#include "luo/liveupdate.h"

#define PUBLIC __attribute__((visibility("default")))

typedef int (*open_fn)(const char *, int, ...);
typedef int (*openat_fn)(int, const char *, int, ...);
typedef int (*open2_fn)(const char *, int);
typedef int (*openat2_fn)(int, const char *, int);
typedef int (*ioctl_fn)(int, unsigned long, ...);

static struct {
	open_fn open, open64;
	openat_fn openat, openat64;
	open2_fn open_2, open64_2;
	openat2_fn openat_2, openat64_2;
	ioctl_fn ioctl;
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
}

static void real_init(void)
{
	pthread_once(&real_once, real_resolve);
}

__attribute__((constructor)) static void compat_init(void)
{
	real_init();
}

/* ---- backend ---- */

enum backend {
	BACKEND_EMULATE,
	BACKEND_KERNEL,
};

static struct {
	char path[PATH_MAX];
	bool forced;              /* $LUO_DEVICE set */
	enum backend backend;
	bool backend_known;
	pthread_mutex_t lock;
} dev = { .lock = PTHREAD_MUTEX_INITIALIZER };

static pthread_once_t path_once = PTHREAD_ONCE_INIT;

static void path_init(void)
{
	const char *env = getenv("LUO_DEVICE");

	if (env && *env && strlen(env) < sizeof(dev.path)) {
		strcpy(dev.path, env);
		dev.forced = true;
	} else {
		strcpy(dev.path, "/dev/liveupdate");
	}
}

static bool is_device_path(const char *path)
{
	pthread_once(&path_once, path_init);
	return path && !strcmp(path, dev.path);
}

static enum backend backend_get(void)
{
	struct stat st;
	enum backend b;

	pthread_mutex_lock(&dev.lock);
	if (!dev.backend_known) {
		dev.backend = BACKEND_EMULATE;
		if (!dev.forced && stat(dev.path, &st) == 0 && S_ISCHR(st.st_mode))
			dev.backend = BACKEND_KERNEL;
		dev.backend_known = true;
	}
	b = dev.backend;
	pthread_mutex_unlock(&dev.lock);
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
		int saved = errno;

		r = compat_ioctl(fd, (unsigned int)request, arg, &handled);
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
