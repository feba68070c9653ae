/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One request, one reply: the round trip every libluo call, luoctl and
 * luo-compat are built on. One implementation (rpc.c); the three calls
 * differ in where the reply comes (a channel of the call's own, or the
 * connection) and how large a reply they read.
 */
#ifndef LUO_RPC_H
#define LUO_RPC_H

#include <stddef.h>
#include <stdint.h>

#include "protocol.h"

/*
 * A reply as a call reads it: the header and the body in one piece, as
 * luo_msg_recv() fills them, then the fds that came with it. Two sizes:
 */
#define LUO_REPLY_FIELDS(body_max, fds_max) \
	struct luo_msg_hdr hdr;              \
	unsigned char body[body_max];        \
	size_t body_len;                     \
	int fds[fds_max];                    \
	size_t nfds

/* the reply of a handle call: small enough for a signal handler's stack */
#define LUO_CALL_BODY_MAX 256
struct luo_call_reply {
	LUO_REPLY_FIELDS(LUO_CALL_BODY_MAX, LUO_FDS_PER_CALL);
};

/* a reply as large as luod sends any: 64 KiB, so not for a signal handler's stack */
struct luo_reply {
	LUO_REPLY_FIELDS(LUO_MSG_MAX, LUO_FDS_PER_MSG);
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
 * Returns the reply's result (0 or -errno from luod) or a transport -errno
 * (ECONNRESET when luod went away); on a negative return no reply fd is
 * left open. When luod could not take the request with
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

/* The luo_call()s libluo makes most, each one way: */
/* a reply with exactly one fd (a session handle), returned; else -EPROTO */
int luo_call_fd(int sock, uint16_t op, const void *body, size_t body_len);
/* a reply whose body has at least len bytes, copied into out; else -EPROTO */
int luo_call_body(int sock, uint16_t op, const void *body, size_t body_len, void *out,
		  size_t len);
/* a struct luo_msg_event for op; EINVAL for an event luo does not know */
int luo_call_event(int sock, uint16_t op, enum luo_event event);

/*
 * luo_call_direct() with any reply luod sends (status, sessions, dump, a
 * participant's payload) and up to LUO_FDS_PER_MSG fds: for connections
 * only this caller uses (luoctl's, a participant's), whose replies come on
 * the connection itself: after WATCH events follow there, and an UPDATE is
 * answered there by the successor luod.
 */
int luo_call_full(int sock, uint16_t op, const void *body, size_t body_len, const int *fds,
		  size_t nfds, struct luo_reply *reply);
/*
 * The same, running wait(sock, ctx) once the request is sent, until the
 * reply is there: 0 when sock is readable, or -errno, which the call
 * returns. luoctl's update shows luod's steps meanwhile.
 */
int luo_call_full_wait(int sock, uint16_t op, const void *body, size_t body_len,
		       struct luo_reply *reply, int (*wait)(int sock, void *ctx), void *ctx);

void luo_reply_close_fds(struct luo_reply *reply);

#endif
