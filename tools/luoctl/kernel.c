// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The kernel backend's side of luoctl: the backend and the kernel's
 * live-update number for `luoctl status`, and `luoctl update --kernel`,
 * which hands luod the next kernel (and initramfs) as open fds; luod loads
 * them with kexec_file_load and, once it has answered, reboots into them.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include "luoctl.h"

int kernel_status(int dev, struct luo_msg_kernel_status *st)
{
	int r;

	memset(st, 0, sizeof(*st));
	r = luo_rpc(dev, LUO_OP_KERNEL_STATUS, NULL, 0, NULL, 0, &reply);
	if (r < 0)
		return r;
	luo_reply_close_fds(&reply);
	memcpy(st, reply.body, reply.body_len < sizeof(*st) ? reply.body_len : sizeof(*st));
	return 0;
}

const char *kernel_mode_name(uint32_t mode)
{
	switch (mode) {
	case LUO_KERNEL_MODE_DEVICE:
		return "device";
	case LUO_KERNEL_MODE_SYSTEMD:
		return "systemd";
	default:
		return "none";
	}
}

const char *where_name(uint32_t where)
{
	switch (where) {
	case LUO_WHERE_KERNEL:
		return "kernel";
	case LUO_WHERE_RECREATED:
		return "re-created";
	case LUO_WHERE_LOST:
		return "not carried";
	default:
		return "luod";
	}
}

/* The running kernel's command line, for a next kernel given no --append. */
static int current_cmdline(char *buf, size_t len)
{
	int fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		n--;
	buf[n] = '\0';
	return 0;
}

int update_kernel(int dev, const char *kernel, const char *initrd, const char *append)
{
	char cmdline[4096];
	int fds[2] = { -1, -1 }, nfds = 0, r;

	if (append) {
		if (strlen(append) >= sizeof(cmdline))
			return fail("update --append", -E2BIG);
		strcpy(cmdline, append);
	} else if ((r = current_cmdline(cmdline, sizeof(cmdline))) < 0) {
		return fail("update: /proc/cmdline", r);
	}
	fds[nfds] = open(kernel, O_RDONLY | O_CLOEXEC);
	if (fds[nfds] < 0) {
		fprintf(stderr, "luoctl: update --kernel: %s: %s\n", kernel, strerror(errno));
		return 1;
	}
	nfds++;
	if (initrd) {
		fds[nfds] = open(initrd, O_RDONLY | O_CLOEXEC);
		if (fds[nfds] < 0) {
			fprintf(stderr, "luoctl: update --initrd: %s: %s\n", initrd, strerror(errno));
			close(fds[0]);
			return 1;
		}
		nfds++;
	}
	if (progress_wanted())
		fprintf(stderr, "luoctl: update: loading %s, then kexec\n", kernel);
	r = luo_rpc(dev, LUO_OP_KERNEL_UPDATE, cmdline, strlen(cmdline) + 1, fds, (size_t)nfds,
		    &reply);
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	if (r < 0)
		return fail("update --kernel", r);
	luo_reply_close_fds(&reply);
	/* luod reboots into it now: this line may be the last this kernel prints */
	if (opt.json)
		printf("{\"kernel\": \"loaded\", \"kexec\": true}\n");
	else
		printf("next kernel loaded; luod is rebooting into it (kexec)\n");
	fflush(stdout);
	return 0;
}
