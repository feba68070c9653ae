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
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "luoctl.h"

int kernel_status(int dev, struct luo_msg_kernel_status *st)
{
	int r;

	memset(st, 0, sizeof(*st));
	r = luo_call_full(dev, LUO_OP_KERNEL_STATUS, NULL, 0, NULL, 0, &reply);
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

/*
 * The files that did not cross the last kexec (their retrieve is ENOLINK),
 * session by session, among the incoming sessions this uid may see.
 */
int kernel_not_carried(int dev, struct not_carried **ret, size_t *ret_n)
{
	struct luo_msg_list lreq = { 0 };
	char (*names)[LUO_NAME_MAX] = NULL;
	struct not_carried *out = NULL;
	size_t nnames = 0, n = 0;
	int r;

	for (;;) { /* the names first: each SHOW below reuses the reply */
		struct luo_msg_list_reply rep;

		r = luo_call_full(dev, LUO_OP_LIST_SESSIONS, &lreq, sizeof(lreq), NULL, 0, &reply);
		if (r < 0)
			goto out;
		luo_reply_close_fds(&reply);
		r = -EPROTO;
		if (reply.body_len < sizeof(rep))
			goto out;
		memcpy(&rep, reply.body, sizeof(rep));
		if (reply.body_len < sizeof(rep) + rep.count * sizeof(struct luo_msg_session_info))
			goto out;
		for (uint32_t i = 0; i < rep.count; i++) {
			struct luo_msg_session_info si;
			void *p;

			memcpy(&si, reply.body + sizeof(rep) + i * sizeof(si), sizeof(si));
			if (!si.incoming)
				continue;
			r = -ENOMEM;
			p = realloc(names, (nnames + 1) * sizeof(*names));
			if (!p)
				goto out;
			names = p;
			memcpy(names[nnames], si.name, LUO_NAME_MAX);
			names[nnames++][LUO_NAME_MAX - 1] = '\0';
		}
		lreq.cursor += rep.count;
		if (rep.count == 0 || lreq.cursor >= rep.total)
			break;
	}
	for (size_t k = 0; k < nnames; k++) {
		struct luo_msg_show req = { 0 };

		memcpy(req.name, names[k], LUO_NAME_MAX);
		for (;;) {
			struct luo_msg_show_reply rep;

			r = luo_call_full(dev, LUO_OP_SHOW_SESSION, &req, sizeof(req), NULL, 0, &reply);
			if (r < 0)
				break; /* gone meanwhile: nothing to say of it */
			luo_reply_close_fds(&reply);
			r = -EPROTO;
			if (reply.body_len < sizeof(rep))
				goto out;
			memcpy(&rep, reply.body, sizeof(rep));
			if (reply.body_len < sizeof(rep) + rep.count * sizeof(struct luo_msg_file_info))
				goto out;
			for (uint32_t i = 0; i < rep.count; i++) {
				struct luo_msg_file_info fi;
				void *p;

				memcpy(&fi, reply.body + sizeof(rep) + i * sizeof(fi), sizeof(fi));
				if (fi.where != LUO_WHERE_LOST)
					continue;
				r = -ENOMEM;
				p = realloc(out, (n + 1) * sizeof(*out));
				if (!p)
					goto out;
				out = p;
				memcpy(out[n].session, names[k], LUO_NAME_MAX);
				out[n++].token = fi.token;
			}
			req.cursor += rep.count;
			if (rep.count == 0 || req.cursor >= rep.total)
				break;
		}
	}
	r = 0;
	*ret = out;
	*ret_n = n;
	out = NULL;
out:
	free(out);
	free(names);
	return r;
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
	r = luo_call_full(dev, LUO_OP_KERNEL_UPDATE, cmdline, strlen(cmdline) + 1, fds,
			  (size_t)nfds, &reply);
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
