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

/* What kernel_not_carried() gathers: the incoming sessions' names, then their lost files. */
struct lost {
	char (*names)[LUO_NAME_MAX];
	size_t nnames;
	const char *session; /* whose files come now */
	struct not_carried *out;
	size_t n;
};

static int add_incoming(void *ctx, void *e)
{
	const struct luo_msg_session_info *si = e;
	struct lost *l = ctx;
	void *p;

	if (!si->incoming)
		return 0;
	p = realloc(l->names, (l->nnames + 1) * sizeof(*l->names));
	if (!p)
		return -ENOMEM;
	l->names = p;
	memcpy(l->names[l->nnames], si->name, LUO_NAME_MAX);
	l->names[l->nnames++][LUO_NAME_MAX - 1] = '\0';
	return 0;
}

static int add_lost(void *ctx, void *e)
{
	const struct luo_msg_file_info *fi = e;
	struct lost *l = ctx;
	void *p;

	if (fi->where != LUO_WHERE_LOST)
		return 0;
	p = realloc(l->out, (l->n + 1) * sizeof(*l->out));
	if (!p)
		return -ENOMEM;
	l->out = p;
	memcpy(l->out[l->n].session, l->session, LUO_NAME_MAX);
	l->out[l->n++].token = fi->token;
	return 0;
}

/*
 * The files that did not cross the last kexec (their retrieve is ENOLINK),
 * session by session, among the incoming sessions this uid may see.
 */
int kernel_not_carried(int dev, struct not_carried **ret, size_t *ret_n)
{
	struct luo_msg_list lreq = { 0 };
	struct lost l = { 0 };
	int r;

	/* the names first: each SHOW below reuses the reply */
	r = page_each(dev, &page_sessions, &lreq, sizeof(lreq), NULL, add_incoming, &l);
	for (size_t k = 0; r == 0 && k < l.nnames; k++) {
		struct luo_msg_show req = { 0 };

		memcpy(req.name, l.names[k], LUO_NAME_MAX);
		l.session = l.names[k];
		r = page_each(dev, &page_files, &req, sizeof(req), NULL, add_lost, &l);
		if (r == -ENOENT)
			r = 0; /* gone meanwhile: nothing to say of it */
	}
	if (r == 0) {
		*ret = l.out;
		*ret_n = l.n;
		l.out = NULL;
	}
	free(l.out);
	free(l.names);
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
