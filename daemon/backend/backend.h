/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Where sessions live besides luod: a backend is an ops table, chosen
 * once at start (main.c, --backend) and handed to the server in its
 * config. The userspace backend has nothing to do (every entry NULL):
 * luod alone holds every file. The kernel backend (backend_kernel.c)
 * adds the kexec: luod still holds every file, and at `luoctl update
 * --kernel` it also puts the memfds into luod's kernel session (hybrid
 * sessions, doc/design.md).
 */
#ifndef LUOD_BACKEND_H
#define LUOD_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/luod.h"

#define LUO_KERNEL_DEVICE "/dev/liveupdate"
#define LUO_KERNEL_SESSION "luod" /* the kernel session luod makes itself */

struct luo_backend_ops {
	const char *name;
	uint32_t backend; /* LUO_BACKEND_*, as KERNEL_STATUS reports it */
	/*
	 * Optional. Makes it ready before luod serves; restore: a fresh start
	 * (not luod's own update), which rebuilds what the last kexec carried
	 * as incoming sessions; required: fail when it cannot be had.
	 */
	int (*start)(bool restore, bool required);
	void (*stop)(void); /* optional: once luod stops serving */
	/* Optional (NULL: every file in luod): where f lives for `show`, what a kexec would do with it now, or did. */
	enum luo_file_where (*where)(const struct luo_file *f);
	/* Optional: KERNEL_STATUS past .backend, which the caller sets in st zeroed. */
	void (*status)(struct luo_msg_kernel_status *st);
	/*
	 * Optional (NULL: -EOPNOTSUPP): load the next kernel (kernel_fd,
	 * initrd_fd or -1, cmdline of len bytes, NUL-terminated) and make
	 * ready what the kexec carries. The kexec itself waits for reboot().
	 */
	int (*load)(int kernel_fd, int initrd_fd, const char *cmdline, size_t len);
	/* Optional: after every request's answer; a successful load's kexec. Returns only on failure. */
	void (*reboot)(void);
};

extern const struct luo_backend_ops luo_backend_userspace;
extern const struct luo_backend_ops luo_backend_kernel; /* backend_kernel.c */

bool luo_kernel_device_present(void); /* a character device there: a kernel with LUO */
/* --backend auto|userspace|kernel (auto: the kernel's when its device is there); NULL: unknown. */
const struct luo_backend_ops *backend_choose(const char *name);

#endif
