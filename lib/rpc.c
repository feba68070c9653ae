/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Request/reply round trips. A reply that is not for the request sent, or
 * that carries fds with an error, is a protocol violation by the peer:
 * EPROTO, with anything it carried closed. The one exception is an error
 * with op 0: luod's answer to a record it could not read a header from, or
 * its refusal of the whole connection (too many of this uid's): that error
 * is the call's result.
 *
 * One call path, call() below, serves every caller: luo_call() is for
 * handles that can be shared, by threads, by a signal handler and its
 * interrupted code, by processes after fork or SCM_RIGHTS: each call makes
 * a socketpair, sends one end with the request (LUO_OP_REPLY_CHANNEL) and
 * reads the reply on the other, so no lock is needed and no caller can
 * take another's reply, nor one for a stray write() on the handle.
 * luo_call_direct() and luo_call_full() read the reply from the connection
 * itself: right for a connection that one caller owns. They differ only in
 * the reply they read into (small, or as large as luod sends any).
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rpc.h"

/* Where call() reads a reply: the parts of a struct luo_call_reply or a struct luo_reply. */
struct reply_buf {
	struct luo_msg_hdr *hdr; /* the body follows it */
	size_t body_max;
	size_t *body_len;
	int *fds;
	size_t fds_max; /* also the most fds a request sent with it may carry */
	size_t *nfds;
};

#define REPLY_BUF(r)                                                                 \
	((struct reply_buf){ .hdr = &(r)->hdr, .body_max = sizeof((r)->body),       \
			     .body_len = &(r)->body_len, .fds = (r)->fds,             \
			     .fds_max = sizeof((r)->fds) / sizeof(int), .nfds = &(r)->nfds })

static void close_fds(const struct reply_buf *b)
{
	for (size_t i = 0; i < *b->nfds; i++)
		close(b->fds[i]);
	*b->nfds = 0;
}

void luo_reply_close_fds(struct luo_reply *reply)
{
	close_fds(&REPLY_BUF(reply));
}

void luo_call_close_fds(struct luo_call_reply *reply)
{
	close_fds(&REPLY_BUF(reply));
}

/* op 0 with an error and nothing else: luod could not tell the request, or refused the connection */
static bool op0_error(const struct luo_msg_hdr *hdr, size_t body_len, size_t nfds)
{
	return hdr->op == 0 && hdr->result < 0 && !nfds && !body_len;
}

/* The checks every reply gets: its op, its result, nothing carried with an error. */
static int reply_check(const struct luo_msg_hdr *hdr, uint16_t op, size_t body_len, size_t nfds)
{
	if (op0_error(hdr, body_len, nfds))
		return hdr->result;
	if (hdr->op != op || hdr->result > 0 || (hdr->result < 0 && (nfds || body_len)))
		return -EPROTO;
	return hdr->result;
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

static int send_waiting(int sock, uint16_t op, const void *body, size_t len, const int *fds,
			size_t nfds)
{
	int r;

	while ((r = luo_msg_send(sock, op, 0, body, len, fds, nfds)) == -EAGAIN)
		if ((r = wait_ready(sock, POLLOUT)) < 0)
			return r;
	return r;
}

/* One record on sock into reply: 0, -ECONNRESET at its end, or -errno. */
static int recv_waiting(int sock, const struct reply_buf *reply)
{
	ssize_t n;
	int r;

	*reply->nfds = 0;
	*reply->body_len = 0;
	while ((n = luo_msg_recv(sock, reply->hdr, sizeof(*reply->hdr) + reply->body_max,
				 reply->fds, reply->fds_max, reply->nfds)) == -EAGAIN)
		if ((r = wait_ready(sock, POLLIN)) < 0)
			return r;
	if (n > 0)
		*reply->body_len = (size_t)n - sizeof(*reply->hdr);
	return n < 0 ? (int)n : n == 0 ? -ECONNRESET : 0;
}

/*
 * The reply on the connection itself, for sent_op: with errors_only, the
 * answer luod gives there when it could not take a request with its
 * channel (its fds did not fit in its table, or the connection was
 * refused: op as sent or op 0), after the channel ended with no reply;
 * else any reply to sent_op, for a request sent without a channel. What
 * else is there is someone else's (a client without channels, an answer
 * to a stray write) and is passed over. 0 with the reply in *reply (its
 * result still to be checked), or a transport -errno.
 */
static int reply_on_connection(int sock, uint16_t sent_op, bool errors_only,
			       const struct reply_buf *reply)
{
	for (;;) {
		int r = recv_waiting(sock, reply);

		if (r == -EBADMSG)
			continue; /* not for us: too large for this buffer */
		if (r < 0)
			return r;
		if (op0_error(reply->hdr, *reply->body_len, *reply->nfds))
			return 0;
		if (reply->hdr->op == sent_op && (!errors_only || reply->hdr->result < 0))
			return 0;
		close_fds(reply);
	}
}

/* How a call goes: on a channel of its own or on sock, and what runs while its reply is awaited. */
struct call_how {
	bool channel;
	int (*wait)(int sock, void *ctx); /* without a channel only; NULL: none */
	void *ctx;
};

static int call(int sock, uint16_t op, const void *body, size_t body_len, const int *fds,
		size_t nfds, const struct reply_buf *reply, const struct call_how *how)
{
	bool channel = how->channel;
	int out[LUO_FDS_PER_MSG], ch[2] = { -1, -1 }, r;

	*reply->nfds = 0;
	if (sock < 0)
		return -EBADF;
	if (nfds > reply->fds_max || (channel && nfds > LUO_FDS_PER_CALL))
		return -EMSGSIZE;
	if (!channel) {
		r = send_waiting(sock, op, body, body_len, fds, nfds);
		if (r < 0 && r != -EPIPE)
			return r;
		if (r == 0 && how->wait && (r = how->wait(sock, how->ctx)) < 0)
			return r;
		/* after EPIPE: a connection luod refused still holds the refusal */
		int got = recv_waiting(sock, reply);

		if (got == 0 && op0_error(reply->hdr, *reply->body_len, *reply->nfds))
			return reply->hdr->result;
		if (r == -EPIPE || got < 0) {
			close_fds(reply);
			return r == -EPIPE || got == -ECONNRESET ? -ECONNRESET :
			       got == -EBADMSG ? -EPROTO : got;
		}
	} else {
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ch) < 0) {
			if (errno != EMFILE && errno != ENFILE)
				return -errno;
			/*
			 * No fds left for a channel: a call that needs none (GET_NAME,
			 * PRESERVE...) must still work, as an ioctl does at the fd limit.
			 * The reply then comes on the handle, as before reply channels.
			 */
			r = send_waiting(sock, op, body, body_len, fds, nfds);
			if (r == 0)
				r = reply_on_connection(sock, op, false, reply);
			if (r < 0)
				return r == -EPIPE ? -ECONNRESET : r;
			goto check;
		}
		out[0] = ch[1];
		if (nfds)
			memcpy(out + 1, fds, nfds * sizeof(int));
		r = send_waiting(sock, op | LUO_OP_REPLY_CHANNEL, body, body_len, out, nfds + 1);
		close(ch[1]); /* luod holds the only other copy: its close is our EOF */
		if (r == 0)
			r = recv_waiting(ch[0], reply);
		close(ch[0]);
		if (r == -EPIPE || r == -ECONNRESET) {
			r = reply_on_connection(sock, op | LUO_OP_REPLY_CHANNEL, true, reply);
			if (r < 0)
				return r;
			close_fds(reply);
			return reply->hdr->result;
		}
		if (r < 0)
			return r == -EBADMSG ? -EPROTO : r;
	}
check:
	r = reply_check(reply->hdr, op, *reply->body_len, *reply->nfds);
	if (r == -EPROTO)
		close_fds(reply);
	return r;
}

/* As the kernel's ioctl, not a cancellation point: nothing is left half done. */
static int call_whole(int sock, uint16_t op, const void *body, size_t body_len, const int *fds,
		      size_t nfds, const struct reply_buf *reply, const struct call_how *how)
{
	int old, r;

	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
	r = call(sock, op, body, body_len, fds, nfds, reply, how);
	pthread_setcancelstate(old, NULL);
	return r;
}

int luo_call(int sock, uint16_t op, const void *body, size_t body_len, const int *fds,
	     size_t nfds, struct luo_call_reply *reply)
{
	return call_whole(sock, op, body, body_len, fds, nfds, &REPLY_BUF(reply),
			  &(struct call_how){ .channel = true });
}

int luo_call_direct(int sock, uint16_t op, const void *body, size_t body_len, const int *fds,
		    size_t nfds, struct luo_call_reply *reply)
{
	return call_whole(sock, op, body, body_len, fds, nfds, &REPLY_BUF(reply),
			  &(struct call_how){ 0 });
}

int luo_call_full(int sock, uint16_t op, const void *body, size_t body_len, const int *fds,
		  size_t nfds, struct luo_reply *reply)
{
	return call_whole(sock, op, body, body_len, fds, nfds, &REPLY_BUF(reply),
			  &(struct call_how){ 0 });
}

int luo_call_full_wait(int sock, uint16_t op, const void *body, size_t body_len,
		       struct luo_reply *reply, int (*wait)(int sock, void *ctx), void *ctx)
{
	return call_whole(sock, op, body, body_len, NULL, 0, &REPLY_BUF(reply),
			  &(struct call_how){ .wait = wait, .ctx = ctx });
}

int luo_call_fd(int sock, uint16_t op, const void *body, size_t body_len)
{
	struct luo_call_reply reply;
	int r = luo_call(sock, op, body, body_len, NULL, 0, &reply);

	if (r < 0)
		return r;
	if (reply.nfds != 1) {
		luo_call_close_fds(&reply);
		return -EPROTO;
	}
	return reply.fds[0];
}

int luo_call_body(int sock, uint16_t op, const void *body, size_t body_len, void *out,
		  size_t len)
{
	struct luo_call_reply reply;
	int r = luo_call(sock, op, body, body_len, NULL, 0, &reply);

	if (r < 0)
		return r;
	luo_call_close_fds(&reply);
	if (reply.body_len < len)
		return -EPROTO;
	memcpy(out, reply.body, len);
	return 0;
}

int luo_call_event(int sock, uint16_t op, enum luo_event event)
{
	struct luo_msg_event req = { .event = (uint32_t)event };
	struct luo_call_reply reply;

	if ((unsigned)event > LUO_EVENT_FINISH)
		return -EINVAL;
	return luo_call(sock, op, &req, sizeof(req), NULL, 0, &reply);
}
