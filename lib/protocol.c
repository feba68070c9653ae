/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Framing of luod wire messages and their fds (see protocol.h).
 *
 * Both directions use the same two calls, so luod and its clients share the
 * same checks: a message that is truncated, claims another size than it has,
 * carries a different number of fds than announced, or had its control data
 * cut (MSG_CTRUNC) is EBADMSG, and every fd that came with it is closed here.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "protocol.h"

#ifdef LUO_FAULT_INJECTION
/*
 * Defined by luod alone (daemon/base/fault.c): in clients it stays NULL. An
 * injected failure behaves as a peer that vanished: the connection is shut
 * down, so nobody waits on an answer that never comes.
 */
bool luo_fault_hit(const char *point) __attribute__((weak));

static bool fault(int sock, const char *point)
{
	if (!luo_fault_hit || !luo_fault_hit(point))
		return false;
	shutdown(sock, SHUT_RDWR);
	return true;
}
#else
static inline bool fault(int sock, const char *point)
{
	(void)sock;
	(void)point;
	return false;
}
#endif

void luo_msg_attach_fds(struct msghdr *msg, void *control, const int *fds, size_t nfds)
{
	struct cmsghdr *cmsg;

	if (!nfds)
		return;
	memset(control, 0, CMSG_SPACE(sizeof(int) * nfds));
	msg->msg_control = control;
	msg->msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
	cmsg = CMSG_FIRSTHDR(msg);
	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
	memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * nfds);
}

int luo_msg_send(int sock, uint16_t op, int32_t result, const void *body, size_t body_len,
		 const int *fds, size_t nfds)
{
	return luo_msg_send_flags(sock, 0, op, result, body, body_len, fds, nfds);
}

int luo_msg_send_flags(int sock, int flags, uint16_t op, int32_t result, const void *body,
		       size_t body_len, const int *fds, size_t nfds)
{
	struct luo_msg_hdr hdr = {
		.size = (uint32_t)(sizeof(hdr) + body_len),
		.version = LUO_PROTO_VERSION,
		.op = op,
		.result = result,
		.nfds = (uint32_t)nfds,
	};
	struct iovec iov[2] = {
		{ .iov_base = &hdr, .iov_len = sizeof(hdr) },
		{ .iov_base = (void *)body, .iov_len = body_len },
	};
	union {
		char buf[CMSG_SPACE(sizeof(int) * LUO_FDS_PER_MSG)];
		struct cmsghdr align;
	} control;
	struct msghdr msg = {
		.msg_iov = iov,
		.msg_iovlen = body_len ? 2 : 1,
	};
	ssize_t n;

	if (body_len > LUO_MSG_MAX || nfds > LUO_FDS_PER_MSG)
		return -EMSGSIZE;
	if (fault(sock, "send"))
		return -EPIPE;

	luo_msg_attach_fds(&msg, control.buf, fds, nfds);

	do
		n = sendmsg(sock, &msg, MSG_NOSIGNAL | flags);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if ((size_t)n != hdr.size)
		return -EMSGSIZE; /* SEQPACKET sends whole records or fails */
	return 0;
}

int luo_msg_check(const void *buf, size_t len, size_t nfds, size_t max_fds)
{
	struct luo_msg_hdr hdr;

	if (len < sizeof(hdr))
		return -EBADMSG;
	memcpy(&hdr, buf, sizeof(hdr));
	if (hdr.version != LUO_PROTO_VERSION || hdr.size != len ||
	    hdr.size > sizeof(hdr) + LUO_MSG_MAX || hdr.nfds != nfds || nfds > max_fds)
		return -EBADMSG;
	return 0;
}

static bool peer_gone(int sock)
{
	struct pollfd p = { .fd = sock, .events = POLLRDHUP };

	return poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

static void close_all(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		close(fds[i]);
}

ssize_t luo_msg_recv(int sock, void *buf, size_t buf_len, int *fds, size_t max_fds,
		     size_t *ret_nfds)
{
	return luo_msg_recv_flags(sock, buf, buf_len, fds, max_fds, ret_nfds, MSG_CMSG_CLOEXEC);
}

ssize_t luo_msg_recv_flags(int sock, void *buf, size_t buf_len, int *fds, size_t max_fds,
			   size_t *ret_nfds, int recv_flags)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * LUO_FDS_PER_MSG)];
		struct cmsghdr align;
	} control;
	struct iovec iov = { .iov_base = buf, .iov_len = buf_len };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = control.buf,
		.msg_controllen = sizeof(control.buf),
	};
	int got[LUO_FDS_PER_MSG];
	size_t ngot = 0;
	ssize_t n;

	if (fault(sock, "recv"))
		return -ECONNRESET;
	do
		n = recvmsg(sock, &msg, recv_flags);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		size_t k;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		if (k > LUO_FDS_PER_MSG - ngot)
			k = LUO_FDS_PER_MSG - ngot;
		memcpy(got + ngot, CMSG_DATA(c), k * sizeof(int));
		ngot += k;
	}

	/*
	 * SOCK_SEQPACKET reads an empty record as 0 bytes, as it reads the end
	 * of the stream: only a peer that has shut down (RDHUP) has ended it.
	 * An empty record from a live peer is malformed, never a hang-up.
	 */
	if (n == 0 && ngot == 0 && peer_gone(sock))
		return 0;
	if ((msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) ||
	    luo_msg_check(buf, (size_t)n, ngot, max_fds) < 0)
		goto bad;

	if (ngot)
		memcpy(fds, got, ngot * sizeof(int));
	*ret_nfds = ngot;
	return n;

bad:
	close_all(got, ngot);
	return -EBADMSG;
}

int luo_msg_body_check(const void *body, size_t body_len, size_t min_len, size_t known_len)
{
	const unsigned char *p = body;

	if (body_len < min_len)
		return -EINVAL;
	for (size_t i = known_len; i < body_len; i++)
		if (p[i])
			return -E2BIG;
	return 0;
}

int luo_name_validate(const char *name, size_t field_len)
{
	size_t len;

	if (!name)
		return -EINVAL;
	len = strnlen(name, field_len < LUO_NAME_MAX ? field_len : LUO_NAME_MAX);
	if (len == 0 || len >= LUO_NAME_MAX)
		return -EINVAL;
	return 0;
}
