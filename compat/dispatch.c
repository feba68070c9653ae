/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The kernel's ioctl entry, replayed in userspace: the table walk, the
 * argument-size rules, user memory copies that fail with EFAULT instead of
 * crashing, and the serialised round trip to luod.
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
 *
 * The round trip waits with poll() rather than trusting the socket to
 * block, since a session fd is the program's to make O_NONBLOCK.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
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

/* ---- the round trip ---- */

static pthread_mutex_t rpc_lock = PTHREAD_MUTEX_INITIALIZER;
static struct luo_reply rpc_reply;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void atfork_prepare(void)
{
	pthread_mutex_lock(&rpc_lock);
}

static void atfork_parent(void)
{
	pthread_mutex_unlock(&rpc_lock);
}

static void atfork_child(void)
{
	pthread_mutex_init(&rpc_lock, NULL);
}

static void atfork_register(void)
{
	/* Without the handlers a fork during a round trip could leave the child's lock held. */
	if (pthread_atfork(atfork_prepare, atfork_parent, atfork_child) != 0)
		return; /* ENOMEM: the lock still works, only that fork race stays */
}

/* Wait until sock is ready for events: the program may have made it O_NONBLOCK. */
static int wait_ready(int sock, short events)
{
	struct pollfd p = { .fd = sock, .events = events };

	while (poll(&p, 1, -1) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

/*
 * luo_rpc(), except that it waits for the socket instead of relying on it
 * blocking: O_NONBLOCK set on a session fd must not make its ioctls fail,
 * nor leave a late reply behind to be taken for the next one's.
 */
static int rpc(int sock, uint16_t op, const void *body, size_t len, const int *fds, size_t nfds,
	       struct luo_reply *reply)
{
	ssize_t n;
	int r;

	reply->nfds = 0;
	while ((r = luo_msg_send(sock, op, 0, body, len, fds, nfds)) == -EAGAIN)
		if ((r = wait_ready(sock, POLLOUT)) < 0)
			return r;
	if (r == -EPIPE)
		return -ECONNRESET;
	if (r < 0)
		return r;
	while ((n = luo_msg_recv(sock, &reply->hdr, sizeof(reply->hdr) + sizeof(reply->body),
				 reply->fds, LUO_FDS_PER_MSG, &reply->nfds)) == -EAGAIN)
		if ((r = wait_ready(sock, POLLIN)) < 0)
			return r;
	if (n == 0)
		return -ECONNRESET;
	if (n < 0)
		return (int)n;
	reply->body_len = (size_t)n - sizeof(reply->hdr);
	if (reply->hdr.op != op || reply->hdr.result > 0 ||
	    (reply->hdr.result < 0 && (reply->nfds || reply->body_len))) {
		luo_reply_close_fds(reply);
		return -EPROTO;
	}
	return reply->hdr.result;
}

int compat_rpc_begin(int sock, uint16_t op, const void *body, size_t len, const int *fds,
		     size_t nfds, struct luo_reply **reply)
{
	int r;

	pthread_once(&atfork_once, atfork_register);
	pthread_mutex_lock(&rpc_lock);
	r = rpc(sock, op, body, len, fds, nfds, &rpc_reply);
	*reply = &rpc_reply;
	if (r < 0)
		rpc_reply.nfds = 0;
	return r;
}

void compat_rpc_end(void)
{
	pthread_mutex_unlock(&rpc_lock);
}
