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
 * Send op with body and fds on sock and wait for the reply with the same op.
 * Returns the reply's result (0 or -errno from luod) or a transport -errno
 * (ECONNRESET when luod went away). On a negative return no reply fd is left
 * open. The caller owns reply->fds on success.
 */
int luo_rpc(int sock, uint16_t op, const void *body, size_t body_len, const int *fds, size_t nfds,
	    struct luo_reply *reply);

void luo_reply_close_fds(struct luo_reply *reply);

#endif
