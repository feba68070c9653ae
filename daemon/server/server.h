/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Between the server loop (server.c) and the ops (ops.c). The server owns
 * the loop, the connections and the replies; an op is handed the
 * connection, the reply it fills and, where it makes handles or answers
 * later, the server as an opaque handle. Nothing else in luod includes
 * this; the core reaches a connection only as an opaque handle.
 */
#ifndef LUOD_SERVER_H
#define LUOD_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/luod.h"
#include "server/request.h"

struct server;  /* server.c's own: the loop, its connections, the waiting answers */
struct pending; /* replies that did not fit, kept in order until the connection is writable */

struct conn {
	int fd;
	bool is_session;
	bool counted; /* a device connection limits_connect() counts against its uid */
	uid_t uid;
	pid_t pid;
	struct luo_session *session; /* session handle: NULL once the session ended */
	struct luo_participant *participant; /* a participant's connection */
	char name[LUO_NAME_MAX];     /* kept after the session ended, for GET_NAME */
	struct pending *pending;
	bool watcher;    /* WATCH made it an event stream */
	bool watch_dead; /* it fell behind: shut down, freed by the loop */
	struct conn *next;
	struct conn *prev;
};

/* The reply to one request, which the server sends once the op has filled it. */
struct reply {
	int32_t result;
	size_t len;
	size_t nfds;
	bool own_fds; /* close after sending (fresh socketpair ends) */
	int chan;     /* the request's reply channel (LUO_OP_REPLY_CHANNEL), or -1 */
	int fds[LUO_FDS_PER_MSG];
	union {
		unsigned char body[LUO_MSG_MAX];
		uint64_t align;
	};
};

/* A request whose reply comes later (global events, the update, WATCH). */
#define REPLY_LATER 1

/* ---- server.c, for the ops ---- */
struct conn *conn_new(struct server *srv, int fd, bool is_session);
void conn_free(struct server *srv, struct conn *c);
const struct luod_config *server_config(const struct server *srv);
int server_listen_fd(const struct server *srv);
/* The request's reply channel, now the caller's (-1: none). */
int reply_chan_take(struct reply *rep);

/* The answers that come later, one connection at a time for each. */
enum server_wait {
	WAIT_EVENT,  /* a global event that waits for participants */
	WAIT_UPDATE, /* the update: answered by the successor, or here if it fails */
	WAIT_COUNT,
};
/*
 * c waits for w, its answer to go on chan (a reply channel, or -1: c
 * itself); c NULL: nobody does any more. A connection that closes stops
 * waiting (and the update learns that its requester is gone).
 */
void server_wait(struct server *srv, enum server_wait w, struct conn *c, int chan);
struct conn *server_waiter(const struct server *srv, enum server_wait w); /* or NULL */
/* Answer whoever waits for w (if anyone still does) with result alone; nobody waits then. */
void server_answer(struct server *srv, enum server_wait w, uint16_t op, int result);
/* c becomes an event stream (WATCH): answered at once, then its snapshot. */
void server_watch(struct server *srv, struct conn *c);

/* ---- ops.c: each returns 0 (rep filled), -errno, or REPLY_LATER ---- */
int device_request(struct server *srv, struct conn *c, const struct luo_request *req,
		   struct reply *rep);
int session_request(struct conn *c, const void *msg, size_t len, int *fds, size_t *nfds,
		    struct reply *rep);
int kernel_request(const struct luo_backend_ops *be, struct conn *c, const void *msg, size_t len,
		   const int *fds, size_t nfds, struct reply *rep);
void participant_message(struct conn *c, const void *msg, size_t len);

#endif
