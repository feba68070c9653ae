/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Internal interfaces of libluo-compat.so, the LD_PRELOAD layer that
 * presents /dev/liveupdate on top of luod. Nothing here is exported: the
 * library's only public symbols are the libc functions it interposes
 * (compat.sym).
 *
 *   intercept.c  the interposed open*(), ioctl(), read()/write(), stat() and
 *                access(), the real libc functions, and the choice between
 *                emulation and a real kernel device
 *   dispatch.c   ioctl tables, the size/extensibility rules, user copies
 *   device.c     the emulated device: its one holder (a flock()ed lock file in
 *                a directory only our uid writes), telling our fds apart
 *                (and the table of fds seen as ours), CREATE_SESSION and
 *                RETRIEVE_SESSION
 *   session.c    the session fd commands
 */
#ifndef LUO_COMPAT_H
#define LUO_COMPAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "protocol.h"
#include "rpc.h"

/* What an fd is to the layer. */
enum compat_kind {
	COMPAT_OTHER,   /* not ours: the call goes to libc untouched */
	COMPAT_DEVICE,  /* an emulated /dev/liveupdate fd */
	COMPAT_SESSION, /* a luod session handle */
};

/* One ioctl command: how big its structure is and what runs it. */
struct compat_op {
	unsigned long cmd;
	size_t size;     /* the structure this layer knows */
	size_t min_size; /* the end of its last required field */
	/* Runs on the copied-in structure; on success the dispatcher copies it out. */
	int (*execute)(int fd, void *arg);
	/* Undoes a success whose copy-out faulted (closes a returned fd); may be NULL. */
	void (*undo)(void *arg);
};

struct compat_table {
	unsigned int base; /* _IOC_NR of ops[0] */
	size_t n;
	const struct compat_op *ops; /* gaps have cmd 0 */
};

/* intercept.c */
int compat_real_ioctl(int fd, unsigned long request, void *arg);

/* dispatch.c: the kernel's ioctl entry. Returns >= 0 or -errno. */
int compat_dispatch(const struct compat_table *t, int fd, unsigned long request, void *uarg);
int compat_copy_from_user(void *dst, const void *usrc, size_t n);
int compat_copy_to_user(void *udst, const void *src, size_t n);

/* device.c */
/* The luod socket this device fd (or, with fd -1, this process) talks to. */
int compat_luod_path(int fd, char *buf, size_t len);
/* Open the emulated device: returns an fd or -errno (EBUSY: another holder). */
int compat_device_open(int flags);
/* Classify fd; costs a few getsockname/getsockopt calls, never a luod round trip. */
enum compat_kind compat_classify(int fd);
int compat_device_ioctl(int fd, unsigned long request, void *uarg);
/* The fds seen as ours, for read() and write() (a hint: classify to be sure). */
void compat_mark(int fd);
void compat_unmark(int fd);
bool compat_marked(int fd);

/* session.c */
int compat_session_ioctl(int fd, unsigned long request, void *uarg);

#endif
