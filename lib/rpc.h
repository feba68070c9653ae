/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One request, one reply: the round trip every libluo call is built on. */
#ifndef LUO_RPC_H
#define LUO_RPC_H

#include <stddef.h>
#include <stdint.h>

#include "protocol.h"

struct luo_reply {
	struct luo_msg_hdr hdr;
	unsigned char body[LUO_MSG_MAX];
	size_t body_len;
	int fds[LUO_FDS_PER_MSG];
	size_t nfds;
};

/*
 * Send op with body and fds on sock and wait for the reply with the same op,
 * on sock itself: for connections only this caller uses (luoctl's, a
 * participant's). Returns the reply's result (0 or -errno from luod) or a
 * transport -errno (ECONNRESET when luod went away). On a negative return no
 * reply fd is left open. The caller owns reply->fds on success.
 */
int luo_rpc(int sock, uint16_t op, const void *body, size_t body_len, const int *fds, size_t nfds,
	    struct luo_reply *reply);

void luo_reply_close_fds(struct luo_reply *reply);

/* The reply of a handle call: small enough for a signal handler's stack. */
#define LUO_CALL_BODY_MAX 256

struct luo_call_reply {
	struct luo_msg_hdr hdr;
	unsigned char body[LUO_CALL_BODY_MAX];
	size_t body_len;
	int fds[LUO_FDS_PER_CALL];
	size_t nfds;
};

/*
 * A call on a handle that may be shared (a device or session handle after
 * fork, dup or SCM_RIGHTS, used by threads and signal handlers at once):
 * the request carries a socketpair end of its own (LUO_OP_REPLY_CHANNEL)
 * and luod answers there, so the reply is this call's whoever else uses
 * sock at the same moment. No lock is taken; the call is not a
 * cancellation point (cancellation is held off until it returns); an
 * O_NONBLOCK sock is waited for. At most LUO_FDS_PER_CALL fds.
 *
 * Returns as luo_rpc() does. When luod could not take the request with
 * its channel it answers on sock instead, with the op as sent (EBADMSG:
 * the fds did not fit in its table; EINVAL: a luod older than reply
 * channels) or op 0 (the connection refused): that error is returned, and
 * anything else found on sock meanwhile is passed over as someone else's.
 * -ECONNRESET when the handle was hung up meanwhile.
 * The caller owns reply->fds on success (luo_call_close_fds()).
 */
int luo_call(int sock, uint16_t op, const void *body, size_t body_len, const int *fds,
	     size_t nfds, struct luo_call_reply *reply);

/* The same on a connection of the caller's own (the reply comes on sock). */
int luo_call_direct(int sock, uint16_t op, const void *body, size_t body_len, const int *fds,
		    size_t nfds, struct luo_call_reply *reply);

void luo_call_close_fds(struct luo_call_reply *reply);

#endif
