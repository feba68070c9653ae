/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Between the server loop (server.c) and the ops (ops.c): a connection,
 * the reply being built, and the loop's own state. Nothing else in luod
 * includes this; the core reaches a connection only as an opaque handle.
 */
#ifndef LUOD_SERVER_H
#define LUOD_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/luod.h"
#include "server/request.h"

struct pending {
	uint16_t op;
	int32_t result;
	void *body;
	size_t len;
	int fds[LUO_FDS_PER_MSG];
	size_t nfds;
};

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

struct server {
	const struct luod_config *cfg;
	int epfd;
	int listen_fd;
	int signal_fd;
	bool accept_paused;
	uint64_t accept_resume_ns;
	struct conn *conns;
	size_t nconns;
	bool dirty;
	bool state_changed;
	uint64_t last_write_ns;
	enum luo_state last_state;
	bool quit;
	struct conn *event_waiter;  /* asked for a global event that waits for participants */
	int event_chan;             /* its reply channel, or -1 */
	struct conn *update_waiter; /* asked for the update */
	size_t nwatchers;
};
extern struct server srv;

/* A request whose reply comes later (global events, the update). */
#define REPLY_LATER 1

/* The reply of the request being handled; reply_send() sends and resets it. */
extern struct reply reply;

/* ---- server.c ---- */
struct conn *conn_new(int fd, bool is_session);
void conn_free(struct conn *c);
void reply_reset(void);
void reply_send(struct conn *c, uint16_t op);
/* The reply channel of the request being handled, now the caller's (-1: none). */
int reply_chan_take(void);

/* ---- ops.c: each returns 0 (reply built), -errno, or REPLY_LATER ---- */
int device_request(struct conn *c, const struct luo_request *req);
int session_request(struct conn *c, const void *msg, size_t len, int *fds, size_t *nfds);
int kernel_request(struct conn *c, const void *msg, size_t len, const int *fds, size_t nfds);
void participant_message(struct conn *c, const void *msg, size_t len);
const char *status_line(void); /* for systemd's STATUS= */

#endif
