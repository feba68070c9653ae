// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * DOC: The keeper's messages, sent and received the same way by both ends
 * (keeper_proto.h has the format).
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "crash/keeper_proto.h"
#include "protocol.h"

int keeper_msg_send(int sock, uint32_t op, const void *key, size_t key_len,
		    const struct iovec *data, size_t ndata, const int *fds, size_t nfds)
{
	size_t data_len = 0;
	struct iovec iov[2 + 4];
	struct keeper_msg m;
	union {
		char buf[CMSG_SPACE(sizeof(int) * KEEPER_BATCH_FDS)];
		struct cmsghdr align;
	} control;
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 + ndata };
	ssize_t n;

	if (ndata > 4 || nfds > KEEPER_BATCH_FDS)
		return -EINVAL;
	for (size_t i = 0; i < ndata; i++) {
		iov[2 + i] = data[i];
		data_len += data[i].iov_len;
	}
	m = (struct keeper_msg){ KEEPER_MAGIC, op, (uint32_t)key_len, (uint32_t)data_len };
	iov[0] = (struct iovec){ &m, sizeof(m) };
	iov[1] = (struct iovec){ (void *)key, key_len };
	luo_msg_attach_fds(&msg, control.buf, fds, nfds);
	do
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : 0;
}

int keeper_msg_recv(int sock, void *buf, size_t len, int flags, struct keeper_msg *m, int *fds,
		    size_t max_fds, size_t *nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * KEEPER_BATCH_FDS)];
		struct cmsghdr align;
	} control;
	struct iovec iov = { buf, len };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = control.buf, .msg_controllen = sizeof(control.buf),
	};
	bool batch;
	ssize_t n;

	*nfds = 0;
	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | flags);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -ECONNRESET;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
			int f;

			memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (*nfds < max_fds)
				fds[(*nfds)++] = f;
			else
				close(f);
		}
	}
	memset(m, 0, sizeof(*m));
	if ((size_t)n >= sizeof(*m))
		memcpy(m, buf, sizeof(*m));
	batch = m->op == KEEPER_PUTV || m->op == KEEPER_DELV;
	if ((size_t)n < sizeof(*m) || m->magic != KEEPER_MAGIC || m->key_len > KEEPER_KEY_MAX ||
	    m->data_len > (batch ? KEEPER_BATCH_MAX : KEEPER_DATA_MAX) ||
	    (size_t)n != sizeof(*m) + m->key_len + m->data_len || (!batch && *nfds > 1) ||
	    (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
		while (*nfds)
			close(fds[--*nfds]);
		return -EBADMSG;
	}
	return (int)m->op;
}
