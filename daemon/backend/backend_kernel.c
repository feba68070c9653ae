// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The kernel backend: luod as the agent of a real /dev/liveupdate.
 *
 * With a kernel that has LUO, the sessions live in the kernel and survive a
 * kexec; luod holds the device (it admits one holder), creates and
 * retrieves sessions there on behalf of its clients and hands each client a
 * dup of the kernel's session fd over the socket, so a workload uses the
 * same libluo calls as with the userspace backend (libluo sees that the
 * handle is not a socket and speaks ioctl to it). luod keeps its own copy of
 * every session fd: a session outlives the workload that made it (the
 * kernel ends a session with its last fd), and a restarted workload gets
 * the same session again from luo_retrieve_session(). The live update is a
 * kexec: LUO_OP_KERNEL_UPDATE loads the next kernel with kexec_file_load
 * and, once the requester has its answer, reboots into it. After the boot a
 * new luod retrieves the sessions from the kernel as clients ask for them.
 *
 * This file owns the device fd, the table of kernel sessions and the
 * kernel's live-update number; server.c calls in through luod.h and
 * touches none of it.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/reboot.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "luo/liveupdate.h"
#include "core/luod.h"

#ifndef KEXEC_FILE_NO_INITRAMFS
#define KEXEC_FILE_NO_INITRAMFS 0x00000004
#endif

struct kernel_session {
	char name[LUO_NAME_MAX];
	uid_t uid;
	int fd; /* luod's copy of the kernel's session fd */
	bool incoming;
};

static struct {
	int dev; /* /dev/liveupdate, or -1: the userspace backend */
	struct kernel_session *sessions;
	size_t n, cap;
	uint64_t liveupdate_num;
	bool kexec_loaded; /* reboot once the requester has its answer */
} kb = { .dev = -1 };

bool luo_kernel_device_present(void)
{
	struct stat st;

	return stat(LUO_KERNEL_DEVICE, &st) == 0 && S_ISCHR(st.st_mode);
}

bool backend_kernel_active(void)
{
	return kb.dev >= 0;
}

/*
 * The kernel tells its live-update number only in its log ("Retrieved live
 * update data, liveupdate number: N", at boot); no line means this boot was
 * not a live update: 0.
 */
static uint64_t read_liveupdate_num(void)
{
	static const char key[] = "liveupdate number: ";
	char rec[2048];
	uint64_t num = 0;
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0) {
		log_warn("kernel backend: /dev/kmsg: %s; live-update number unknown",
			 strerror(errno));
		return 0;
	}
	for (;;) {
		ssize_t n = read(fd, rec, sizeof(rec) - 1);
		const char *p;

		if (n < 0 && errno == EPIPE)
			continue; /* records overwritten while reading: go on with the next */
		if (n <= 0)
			break;
		rec[n] = '\0';
		p = strstr(rec, key);
		if (p)
			num = strtoull(p + sizeof(key) - 1, NULL, 10);
	}
	close(fd);
	return num;
}

int backend_kernel_open(const char *path)
{
	struct stat st;
	int fd = open(path, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISCHR(st.st_mode)) {
		close(fd);
		return -ENODEV;
	}
	kb.dev = fd;
	kb.liveupdate_num = read_liveupdate_num();
	log_info("kernel backend: %s, live-update number %llu", path,
		 (unsigned long long)kb.liveupdate_num);
	return 0;
}

void backend_kernel_close(void)
{
	for (size_t i = 0; i < kb.n; i++)
		close(kb.sessions[i].fd);
	free(kb.sessions);
	kb.sessions = NULL;
	kb.n = kb.cap = 0;
	if (kb.dev >= 0)
		close(kb.dev);
	kb.dev = -1;
}

static struct kernel_session *find(const char *name)
{
	for (size_t i = 0; i < kb.n; i++)
		if (!strcmp(kb.sessions[i].name, name))
			return &kb.sessions[i];
	return NULL;
}

static int keep(const char *name, uid_t uid, int fd, bool incoming)
{
	if (kb.n == kb.cap) {
		size_t cap = kb.cap ? kb.cap * 2 : 16;
		struct kernel_session *s = realloc(kb.sessions, cap * sizeof(*s));

		if (!s)
			return -ENOMEM;
		kb.sessions = s;
		kb.cap = cap;
	}
	memset(&kb.sessions[kb.n], 0, sizeof(kb.sessions[kb.n]));
	snprintf(kb.sessions[kb.n].name, sizeof(kb.sessions[kb.n].name), "%s", name);
	kb.sessions[kb.n].uid = uid;
	kb.sessions[kb.n].fd = fd;
	kb.sessions[kb.n].incoming = incoming;
	kb.n++;
	return 0;
}

static int ioctl_session(unsigned long cmd, const char *name)
{
	struct liveupdate_ioctl_create_session a = { .size = sizeof(a), .fd = -1 };

	/* create and retrieve share the layout: size, fd (out), name */
	_Static_assert(sizeof(struct liveupdate_ioctl_create_session) ==
			       sizeof(struct liveupdate_ioctl_retrieve_session),
		       "session ioctl layouts");
	memcpy(a.name, name, strnlen(name, sizeof(a.name) - 1));
	if (ioctl(kb.dev, cmd, &a) < 0)
		return -errno;
	return a.fd;
}

/*
 * CREATE_SESSION or RETRIEVE_SESSION for a client: the kernel's answer, or
 * for a session luod already holds (the workload restarted), that session
 * again. Returns a new fd for the client (luod keeps its own), or -errno.
 */
int backend_kernel_session(bool create, const char *name, uid_t uid)
{
	struct kernel_session *s = find(name);
	int fd, copy, r;

	if (s) {
		if (create)
			return -EEXIST;
		if (s->uid != uid && uid != 0)
			return -EPERM;
		copy = fcntl(s->fd, F_DUPFD_CLOEXEC, 3);
		return copy < 0 ? -errno : copy;
	}
	fd = ioctl_session(create ? LIVEUPDATE_IOCTL_CREATE_SESSION
				  : LIVEUPDATE_IOCTL_RETRIEVE_SESSION, name);
	if (fd < 0)
		return fd;
	copy = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (copy < 0) {
		r = -errno;
		close(fd); /* the kernel ends an outgoing session with its last fd */
		return r;
	}
	r = keep(name, uid, fd, !create);
	if (r < 0) {
		close(copy);
		close(fd);
		return r;
	}
	log_info("kernel backend: %s session \"%s\" for uid %u", create ? "created" : "retrieved",
		 name, (unsigned)uid);
	return copy;
}

void backend_kernel_status(struct luo_msg_kernel_status *st)
{
	memset(st, 0, sizeof(*st));
	st->backend = backend_kernel_active() ? LUO_BACKEND_KERNEL : LUO_BACKEND_USERSPACE;
	st->liveupdate_num = kb.liveupdate_num;
	st->sessions = (uint32_t)kb.n;
}

/*
 * Load the next kernel (kernel_fd, initrd_fd or -1, cmdline NUL-terminated)
 * with kexec_file_load. The reboot itself waits for backend_kernel_reboot(),
 * after the requester has been answered.
 */
int backend_kernel_load(int kernel_fd, int initrd_fd, const char *cmdline, size_t len)
{
	unsigned long flags = initrd_fd < 0 ? KEXEC_FILE_NO_INITRAMFS : 0;

	if (!backend_kernel_active())
		return -EOPNOTSUPP;
	if (!len || cmdline[len - 1] != '\0' || strlen(cmdline) + 1 != len)
		return -EINVAL;
	if (syscall(SYS_kexec_file_load, kernel_fd, initrd_fd, (unsigned long)len, cmdline,
		    flags) < 0) {
		int r = -errno;

		log_err("kernel backend: kexec_file_load: %s", strerror(-r));
		return r;
	}
	log_info("kernel backend: next kernel loaded (%zu sessions held), rebooting into it",
		 kb.n);
	kb.kexec_loaded = true;
	return 0;
}

/* After the answer to a successful load: the live update proper. Returns only on failure. */
void backend_kernel_reboot(void)
{
	if (!kb.kexec_loaded)
		return;
	kb.kexec_loaded = false;
	sync();
	/* the kernel serializes every session whose fd is open: ours are */
	if (reboot(LINUX_REBOOT_CMD_KEXEC) < 0)
		log_err("kernel backend: reboot(KEXEC): %s", strerror(errno));
}
