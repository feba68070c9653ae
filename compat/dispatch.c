/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The kernel's ioctl entry, replayed in userspace: the table walk, the
 * argument-size rules, and user memory copies that fail with EFAULT instead
 * of crashing. (The round trip itself is luo_call(), lib/rpc.c.)
 *
 * Order of checks, as the kernel makes them:
 *   1. _IOC_NR outside the table (or a gap in it)      -> EINVAL
 *   2. the __u32 size cannot be read                   -> EFAULT
 *   3. the number is known but encoded differently     -> ENOTTY
 *   4. size below the end of the last required field   -> EINVAL
 *   5. bytes past the known structure not all zero     -> E2BIG
 *   6. the command runs; its structure is copied back, at most size bytes.
 *
 * User memory is read and written with process_vm_readv/writev on our own
 * pid, which report EFAULT for an unmapped or read-only range, as
 * copy_from_user and copy_to_user do. Where those calls are unavailable
 * (ENOSYS, or EPERM under a seccomp filter) plain memcpy is used.
 */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include "compat.h"

/* Large enough for every structure of both tables. */
#define ARG_MAX 128

static int vm_copy(void *dst, const void *src, size_t n, bool to_user)
{
	struct iovec local, remote;
	ssize_t k;

	if (!n)
		return 0;
	local.iov_base = to_user ? (void *)src : dst;
	local.iov_len = n;
	remote.iov_base = to_user ? dst : (void *)src;
	remote.iov_len = n;
	if (to_user)
		k = process_vm_writev(getpid(), &local, 1, &remote, 1, 0);
	else
		k = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
	if (k == (ssize_t)n)
		return 0;
	if (k < 0 && (errno == ENOSYS || errno == EPERM)) {
		if (!remote.iov_base)
			return -EFAULT;
		memcpy(dst, src, n);
		return 0;
	}
	return -EFAULT; /* a fault, or a partial copy ending at one */
}

int compat_copy_from_user(void *dst, const void *usrc, size_t n)
{
	return vm_copy(dst, usrc, n, false);
}

int compat_copy_to_user(void *udst, const void *src, size_t n)
{
	return vm_copy(udst, src, n, true);
}

/* copy_struct_from_user(): zero-fill a short one, check a long one's tail is zero. */
static int copy_struct_from_user(void *dst, size_t ksize, const void *usrc, size_t usize)
{
	size_t n = usize < ksize ? usize : ksize;
	int r;

	memset(dst, 0, ksize);
	for (size_t off = ksize; off < usize;) {
		unsigned char chunk[256];
		size_t k = usize - off < sizeof(chunk) ? usize - off : sizeof(chunk);

		r = compat_copy_from_user(chunk, (const unsigned char *)usrc + off, k);
		if (r < 0)
			return r;
		for (size_t i = 0; i < k; i++)
			if (chunk[i])
				return -E2BIG;
		off += k;
	}
	return compat_copy_from_user(dst, usrc, n);
}

int compat_dispatch(const struct compat_table *t, int fd, unsigned long request, void *uarg)
{
	unsigned char buf[ARG_MAX] __attribute__((aligned(8)));
	unsigned int nr = _IOC_NR(request);
	const struct compat_op *op;
	uint32_t usize;
	int r;

	if (nr < t->base || nr - t->base >= t->n || !t->ops[nr - t->base].cmd)
		return -EINVAL;
	op = &t->ops[nr - t->base];
	r = compat_copy_from_user(&usize, uarg, sizeof(usize));
	if (r < 0)
		return r;
	if (op->cmd != request)
		return -ENOTTY;
	if (usize < op->min_size)
		return -EINVAL;
	if (op->size > sizeof(buf))
		return -ENOMEM; /* a table bug, not a caller's */
	r = copy_struct_from_user(buf, op->size, uarg, usize);
	if (r < 0)
		return r;
	r = op->execute(fd, buf);
	if (r < 0)
		return r;
	r = compat_copy_to_user(uarg, buf, usize < op->size ? usize : op->size);
	if (r < 0 && op->undo)
		op->undo(buf);
	return r;
}
