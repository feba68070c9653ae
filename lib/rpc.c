/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Request/reply round trip. A reply that is not for the request sent, or
 * that carries fds with an error, is a protocol violation by the peer:
 * EPROTO, with anything it carried closed. The one exception is an error
 * with op 0: luod's answer to a record it could not read a header from, or
 * its refusal of the whole connection (too many of this uid's): that error
 * is the call's result.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "rpc.h"

void luo_reply_close_fds(struct luo_reply *reply)
{
	for (size_t i = 0; i < reply->nfds; i++)
		close(reply->fds[i]);
	reply->nfds = 0;
}

int luo_rpc(int sock, uint16_t op, const void *body, size_t body_len, const int *fds, size_t nfds,
	    struct luo_reply *reply)
{
	ssize_t n;
	int r;

	if (sock < 0)
		return -EBADF;
	r = luo_msg_send(sock, op, 0, body, body_len, fds, nfds);
	if (r < 0 && r != -EPIPE)
		return r;
	/* after EPIPE: a connection luod refused still holds the refusal */
	n = luo_msg_recv(sock, &reply->hdr, sizeof(reply->hdr) + sizeof(reply->body), reply->fds,
			 LUO_FDS_PER_MSG, &reply->nfds);
	if (n == 0)
		return -ECONNRESET;
	if (n < 0)
		return r == -EPIPE ? -ECONNRESET : (int)n;
	reply->body_len = (size_t)n - sizeof(reply->hdr);
	/* op 0: luod could not tell the request (no header) or refused the connection */
	if (reply->hdr.op == 0 && reply->hdr.result < 0 && !reply->nfds && !reply->body_len)
		return reply->hdr.result;
	if (r == -EPIPE) {
		luo_reply_close_fds(reply);
		return -ECONNRESET;
	}
	if (reply->hdr.op != op || reply->hdr.result > 0 ||
	    (reply->hdr.result < 0 && (reply->nfds || reply->body_len))) {
		luo_reply_close_fds(reply);
		return -EPROTO;
	}
	return reply->hdr.result;
}
