// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * DOC: The ops: what each decoded request does.
 *
 * server.c receives a request and request.c decodes it; here it is carried
 * out against the core and its reply built in the `struct reply` the server
 * hands over with the connection: device ops (sessions
 * by name, global events, status, listings, the update, participants,
 * watch, history, dump, the kernel backend's ops), session ops on a
 * session handle, and a participant's answers. The ops never read or write
 * a socket themselves, except to create a session handle's socketpair and
 * to shut down a handle taken away by a per-session update; an answer that
 * comes later (REPLY_LATER) is left to the server (server_wait()).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server/server.h"
#include "backend/backend.h"
#include "crash/keeper.h"
#include "server/limit.h"
#include "report/history.h"
#include "report/report.h"

/* ---- request helpers ---- */

static bool privileged(const struct conn *c)
{
	return uid_privileged(c->uid);
}

static void fill_session_info(const struct luo_session *s, struct luo_msg_session_info *info)
{
	memset(info, 0, sizeof(*info));
	memcpy(info->name, s->name, sizeof(info->name));
	info->state = s->state;
	info->incoming = s->incoming;
	info->retrieved = s->retrieved;
	info->attached = s->handle != NULL;
	info->uid = (uint32_t)s->uid;
	info->files = (uint32_t)s->nfiles;
}

/* A new session handle: luod keeps one end, the client gets the other. */
static int handle_new(struct server *srv, struct conn *owner, struct conn **ret,
		      int *ret_client_fd)
{
	int sp[2];
	struct conn *c;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sp) < 0)
		return -errno;
	/* another uid's sessions cannot take the fds kept for root either */
	if (limits_fd(owner->uid, sp[0] > sp[1] ? sp[0] : sp[1]) < 0) {
		close(sp[0]);
		close(sp[1]);
		return -EUSERS;
	}
	c = conn_new(srv, sp[0], true);
	if (!c) {
		close(sp[0]);
		close(sp[1]);
		return -ENOMEM;
	}
	/* the client end blocks, as any socket a program gets */
	fcntl(sp[1], F_SETFL, fcntl(sp[1], F_GETFL) & ~O_NONBLOCK);
	c->uid = owner->uid;
	c->pid = owner->pid;
	*ret = c;
	*ret_client_fd = sp[1];
	return 0;
}

static void handle_bind(struct conn *c, struct luo_session *s, int client_fd, struct reply *rep)
{
	c->session = s;
	memcpy(c->name, s->name, sizeof(c->name));
	s->handle = c;
	rep->fds[0] = client_fd;
	rep->nfds = 1;
	rep->own_fds = true;
}

/* ---- device requests ---- */

static int op_session_handle(struct server *srv, struct conn *c, const struct luo_request *req,
			     struct reply *rep)
{
	struct luo_session *s;
	struct conn *h = NULL;
	int client_fd = -1, r;

	if (req->op == LUO_OP_CREATE_SESSION && (r = limits_create(c->uid)) < 0)
		return r;
	r = handle_new(srv, c, &h, &client_fd);
	if (r < 0)
		return r;
	if (req->op == LUO_OP_CREATE_SESSION)
		r = core_create_session(req->name.name, c->uid, &s);
	else
		r = core_retrieve_session(req->name.name, c->uid, &s);
	if (r < 0) {
		close(client_fd);
		conn_free(srv, h);
		return r;
	}
	handle_bind(h, s, client_fd, rep);
	return 0;
}

static int op_get_state(struct reply *rep)
{
	struct luo_msg_state st = {
		.state = core_state(),
		.generation = core_generation(),
		.instance = core_instance(),
		.predecessor = core_predecessor(),
	};

	memcpy(rep->body, &st, sizeof(st));
	rep->len = sizeof(st);
	return 0;
}

static void event_done(int result, void *ctx)
{
	server_answer(ctx, WAIT_EVENT, LUO_OP_SET_EVENT, result);
}

static int op_set_event(struct server *srv, struct conn *c, const struct luo_msg_event *ev,
			struct reply *rep)
{
	int r;

	if (!privileged(c))
		return -EPERM;
	log_info("event %s from pid %d", luo_event_name(ev->event), (int)c->pid);
	r = core_event_async(ev->event, event_done, srv);
	if (r >= 0 && ev->event == LUO_EVENT_CANCEL)
		history_cancelled();
	if (r != 1)
		return r; /* done now, or refused */
	/* the participants have not all answered: event_done() replies */
	server_wait(srv, WAIT_EVENT, c, reply_chan_take(rep));
	return REPLY_LATER;
}

/*
 * Root and luod's uid get luod's totals. Another uid learns the global
 * state, generation, pid, uptime and update count (what it needs to know
 * whether an update is under way), and counts of its own sessions, files
 * and memfd bytes only; participants, registered by root alone, are 0 for it.
 */
static int op_status(const struct conn *c, struct reply *rep)
{
	struct luo_msg_status st = {
		.state = core_state(),
		.pid = (uint32_t)getpid(),
		.generation = core_generation(),
		.sessions = (uint32_t)core_session_count(),
		.incoming_sessions = (uint32_t)core_incoming_sessions(),
		.files = core_file_count(),
		.uptime_ns = now_ns() - core_started_ns(),
		.updates = core_updates(),
		.participants = (uint32_t)participant_count(),
		.memfd_bytes = flb_memfd_bytes(),
		.instance = core_instance(),
		.predecessor = core_predecessor(),
	};

	if (!privileged(c)) {
		st.sessions = st.incoming_sessions = st.participants = 0;
		st.files = st.memfd_bytes = 0;
		for (const struct luo_session *s = core_first_session(); s; s = s->next) {
			if (s->uid != c->uid)
				continue;
			st.sessions++;
			st.incoming_sessions += s->incoming;
			st.files += s->nfiles;
			for (size_t i = 0; i < s->nfiles; i++)
				if (s->files[i]->handler == &luo_memfd_handler)
					st.memfd_bytes += file_size(s->files[i]);
		}
	}
	st.keeper = (uint32_t)holder_state(&st.keeper_failures);
	memcpy(rep->body, &st, sizeof(st));
	rep->len = sizeof(st);
	return 0;
}

/* Sessions belong to the uid that created them: others do not even see them listed. */
static bool may_see(const struct conn *c, const struct luo_session *s)
{
	return privileged(c) || c->uid == s->uid;
}

static int op_list(struct conn *c, const struct luo_msg_list *req, struct reply *reply)
{
	struct luo_msg_list_reply *rep = (void *)reply->body;
	size_t max = (sizeof(reply->body) - sizeof(*rep)) / sizeof(rep->entries[0]);
	uint32_t i = 0;

	rep->total = 0;
	rep->count = 0;
	for (struct luo_session *s = core_first_session(); s; s = s->next) {
		if (!may_see(c, s))
			continue;
		rep->total++;
		if (i++ >= req->cursor && rep->count < max)
			fill_session_info(s, &rep->entries[rep->count++]);
	}
	reply->len = sizeof(*rep) + rep->count * sizeof(rep->entries[0]);
	return 0;
}

static int op_show(const struct luo_backend_ops *be, struct conn *c, const struct luo_msg_show *req,
		   struct reply *reply)
{
	struct luo_msg_show_reply *rep = (void *)reply->body;
	size_t max = (sizeof(reply->body) - sizeof(*rep)) / sizeof(rep->entries[0]);
	struct luo_session *s;

	s = core_find_session(req->name);
	/* another uid's session is not there for it: EPERM would confirm the name */
	if (!s || !may_see(c, s))
		return -ENOENT;
	fill_session_info(s, &rep->session);
	rep->total = (uint32_t)s->nfiles;
	rep->count = 0;
	for (size_t i = req->cursor; i < s->nfiles && rep->count < max; i++) {
		const struct luo_file *f = s->files[i];
		struct luo_msg_file_info *fi = &rep->entries[rep->count++];

		memset(fi, 0, sizeof(*fi));
		fi->token = f->token;
		snprintf(fi->handler, sizeof(fi->handler), "%s", f->handler->name);
		fi->size = file_size(f);
		fi->frozen = f->frozen;
		fi->retrieved = f->retrieved;
		fi->retrieve_error = f->retrieve_error;
		fi->where = (uint8_t)(be->where ? be->where(f) : LUO_WHERE_LUOD);
	}
	reply->len = sizeof(*rep) + rep->count * sizeof(rep->entries[0]);
	return 0;
}

static void update_failed(int result, void *ctx)
{
	struct server *srv = ctx;
	systemd_ready(report_status_line()); /* still the same luod, serving as before */
	server_answer(srv, WAIT_UPDATE, LUO_OP_UPDATE, result);
}

static int op_update(struct server *srv, struct conn *c, const struct luo_msg_update *up)
{
	/* static: update_start() keeps exec_path past this request's buffer */
	static struct luo_msg_update req;
	const struct luod_config *cfg = server_config(srv);
	struct luo_update_request ur = {
		.argv = cfg->argv,
		.listen_fd = server_listen_fd(srv),
		.listen_activated = cfg->listen_activated,
		.reply_fd = c->fd,
	};
	int r;

	if (!privileged(c))
		return -EPERM;
	if (server_waiter(srv, WAIT_UPDATE))
		return -EBUSY;
	req = *up;
	if (req.flags & LUO_UPDATE_EXEC)
		ur.exec_path = req.exec_path;
	/*
	 * The requester's connection crosses the execve as it is, non-blocking:
	 * it may send more while the update waits for participants, and luod
	 * must never block on answers it does not read (the successor does not
	 * either, server.c's update_answer()).
	 */
	server_wait(srv, WAIT_UPDATE, c, -1); /* no channel: refused before it gets here */
	/* before update_start: a rollback inside it says READY=1 again, and must come last */
	systemd_reloading("live update: replacing luod");
	r = update_start(&ur, update_failed, srv);
	if (r < 0) {
		systemd_ready(report_status_line());
		server_wait(srv, WAIT_UPDATE, NULL, -1);
		return r;
	}
	return REPLY_LATER; /* from the successor, or from update_failed() */
}

/*
 * The holder's connection is shut down, not freed: the loop sees the
 * hang-up and frees it in its turn, and the process sees EOF on its handle.
 */
static int op_session_update(struct conn *c, const struct luo_msg_name *req, struct reply *rep)
{
	struct luo_session *s = NULL;
	struct conn *holder;
	int r;

	s = core_find_session(req->name);
	holder = s ? s->handle : NULL;
	r = core_update_session(req->name, privileged(c) ? 0 : c->uid, &s);
	if (r < 0)
		return r;
	if (holder && shutdown(holder->fd, SHUT_RDWR) < 0)
		log_warn("session %s: shutting down its old handle: %s", s->name, strerror(errno));
	fill_session_info(s, (struct luo_msg_session_info *)rep->body);
	rep->len = sizeof(struct luo_msg_session_info);
	return 0;
}

static int op_participant_register(struct conn *c, const struct luo_msg_participant_register *req,
				   struct reply *reply)
{
	struct luo_msg_payload *rep = (void *)reply->body;
	struct luo_participant *p;
	int r;

	if (!privileged(c))
		return -EPERM; /* a participant can hold up every update */
	r = participant_register(req->name, c, &p);
	if (r < 0)
		return r;
	c->participant = p;
	p->tags = req->flags & LUO_PARTICIPANT_TAGS;
	rep->flags = p->has_incoming ? LUO_PAYLOAD_PRESENT : 0;
	rep->len = p->has_incoming ? (uint32_t)p->incoming_len : 0;
	if (rep->len)
		memcpy(rep->data, p->incoming, rep->len);
	reply->len = sizeof(*rep) + rep->len;
	return 0;
}

/* KERNEL_STATUS and KERNEL_UPDATE: the backend's own ops (backend/backend.h). */
int kernel_request(const struct luo_backend_ops *be, struct conn *c, const void *msg, size_t len,
		   const int *fds, size_t nfds, struct reply *rep)
{
	const char *cmdline = (const char *)msg + sizeof(struct luo_msg_hdr);
	size_t cmdline_len = len - sizeof(struct luo_msg_hdr);
	struct luo_msg_hdr hdr;
	struct luo_msg_kernel_status st;

	memcpy(&hdr, msg, sizeof(hdr));
	if (hdr.op == LUO_OP_KERNEL_STATUS) {
		if (cmdline_len || nfds)
			return -EINVAL;
		memset(&st, 0, sizeof(st));
		st.backend = be->backend;
		if (be->status)
			be->status(&st);
		if (!privileged(c)) {
			/* every uid's: as STATUS, counts for root */
			st.sessions = st.kernel_files = st.recreate_files = st.luod_files = 0;
			st.carried = st.recreated = st.lost = 0;
		}
		memcpy(rep->body, &st, sizeof(st));
		rep->len = sizeof(st);
		return 0;
	}
	if (!privileged(c))
		return -EPERM;
	if (nfds < 1 || nfds > 2)
		return -EINVAL;
	log_info("kernel update requested by pid %d", (int)c->pid);
	if (!be->load)
		return -EOPNOTSUPP; /* the userspace backend: no kexec */
	return be->load(fds[0], nfds == 2 ? fds[1] : -1, cmdline, cmdline_len);
}

/* ---- watch, history, dump ---- */

static int op_watch(struct server *srv, struct conn *c)
{
	if (!privileged(c))
		return -EPERM; /* it shows every session */
	if (c->pending)
		return -EBUSY;
	server_watch(srv, c);
	return REPLY_LATER; /* answered already, ahead of its snapshot */
}

/* Another uid learns when updates ran and how they went, not what they carried. */
static int op_history(const struct conn *c, struct reply *reply)
{
	struct luo_msg_history_reply *rep = (void *)reply->body;
	size_t n = history_count();

	memset(rep, 0, sizeof(*rep));
	rep->updates = core_updates();
	rep->count = (uint32_t)n;
	for (size_t i = 0; i < n; i++) {
		rep->entries[i] = *history_at(i);
		if (!privileged(c)) {
			rep->entries[i].sessions = 0;
			rep->entries[i].files = 0;
		}
	}
	reply->len = sizeof(*rep) + n * sizeof(rep->entries[0]);
	return 0;
}

static int op_dump(struct conn *c, struct reply *rep)
{
	struct luo_handover_luod h = { .listen_fd = -1, .reply_fd = -1,
				       .updates = core_updates() };
	size_t bytes;
	int fd;

	if (!privileged(c))
		return -EPERM; /* every session and payload is in it */
	fd = luo_handover_write(&h, &bytes);
	if (fd < 0)
		return fd;
	if (lseek(fd, 0, SEEK_SET) < 0) { /* the reader starts at the beginning */
		int r = -errno;

		close(fd);
		return r;
	}
	rep->fds[0] = fd;
	rep->nfds = 1;
	rep->own_fds = true;
	return 0;
}

/* A decoded request (request.c) on a device connection. */
int device_request(struct server *srv, struct conn *c, const struct luo_request *req,
		   struct reply *rep)
{
	switch (req->op) {
	case LUO_OP_CREATE_SESSION:
	case LUO_OP_RETRIEVE_SESSION:
		return op_session_handle(srv, c, req, rep);
	case LUO_OP_GET_STATE:
		return op_get_state(rep);
	case LUO_OP_SET_EVENT:
		return op_set_event(srv, c, &req->event, rep);
	case LUO_OP_STATUS:
		return op_status(c, rep);
	case LUO_OP_LIST_SESSIONS:
		return op_list(c, &req->list, rep);
	case LUO_OP_SHOW_SESSION:
		return op_show(server_config(srv)->backend, c, &req->show, rep);
	case LUO_OP_UPDATE:
		return op_update(srv, c, &req->update);
	case LUO_OP_PARTICIPANT_REGISTER:
		return op_participant_register(c, &req->reg, rep);
	case LUO_OP_SESSION_UPDATE:
		return op_session_update(c, &req->name, rep);
	case LUO_OP_WATCH:
		return op_watch(srv, c);
	case LUO_OP_HISTORY:
		return op_history(c, rep);
	case LUO_OP_DUMP:
		return op_dump(c, rep);
	}
	return -EINVAL;
}

/* A participant's connection carries only its answers to events. */
void participant_message(struct conn *c, const void *msg, size_t len)
{
	struct luo_request req;
	int r = request_decode(LUO_CONN_PARTICIPANT, msg, len, 0, &req);

	if (r == -EBADMSG) {
		log_warn("participant %s: malformed answer ignored", c->participant->name);
		return;
	}
	if (r < 0) {
		log_warn("participant %s: malformed answer: counted as EINVAL", c->participant->name);
		participant_answer(c->participant, -EINVAL, NULL, 0, false);
		return;
	}
	if (req.payload.tagged && (!c->participant->waiting || req.payload.tag != c->participant->tag)) {
		log_info("participant %s: a late answer (to an earlier event) ignored",
			 c->participant->name);
		return;
	}
	participant_answer(c->participant, req.result, req.payload.data, req.payload.len,
			   req.payload.present);
}

/* ---- session requests ---- */

/* A handle whose session has ended still answers, as a finished kernel session does. */
static int ended_request(struct conn *c, uint16_t op, struct reply *rep)
{
	struct luo_msg_session_state st = { .state = LUO_STATE_NORMAL, .incoming = 1 };

	switch (op) {
	case LUO_OP_SESSION_GET_NAME:
		memcpy(rep->body, c->name, LUO_NAME_MAX);
		rep->len = LUO_NAME_MAX;
		return 0;
	case LUO_OP_SESSION_GET_STATE:
		memcpy(rep->body, &st, sizeof(st));
		rep->len = sizeof(st);
		return 0;
	case LUO_OP_SESSION_FINISH:
		return 0;
	case LUO_OP_SESSION_RETRIEVE:
		return -ENOENT;
	}
	return -EINVAL;
}

int session_request(struct conn *c, const void *msg, size_t len, int *fds, size_t *nfds,
		    struct reply *rep)
{
	struct luo_session *s = c->session;
	struct luo_msg_session_state st;
	struct luo_request req;
	int r;

	if (!s) {
		struct luo_msg_hdr hdr;

		memcpy(&hdr, msg, sizeof(hdr));
		return hdr.result || *nfds ? -EINVAL : ended_request(c, hdr.op, rep);
	}
	r = request_decode(LUO_CONN_SESSION, msg, len, *nfds, &req);
	if (r < 0)
		return r; /* the caller closes the fds */

	switch (req.op) {
	case LUO_OP_SESSION_PRESERVE:
		r = limits_preserve(s, req.tokens.n);
		if (r < 0)
			return r; /* the caller closes the fds */
		*nfds = 0; /* handed to the session, which owns them from here on */
		r = session_preserve(s, fds, req.tokens.v, req.tokens.n);
		/* received without close-on-exec (server.c): the update need not clear it */
		for (size_t i = 0; r == 0 && i < req.tokens.n; i++)
			s->files[s->nfiles - 1 - i]->exec_ok = true;
		return r;
	case LUO_OP_SESSION_UNPRESERVE:
		return session_unpreserve(s, req.token.token);
	case LUO_OP_SESSION_RETRIEVE:
		r = session_retrieve(s, req.tokens.v, req.tokens.n, rep->fds);
		if (r == 0)
			rep->nfds = req.tokens.n;
		return r;
	case LUO_OP_SESSION_FINISH:
		return session_finish(s);
	case LUO_OP_SESSION_GET_NAME:
		memcpy(rep->body, s->name, LUO_NAME_MAX);
		rep->len = LUO_NAME_MAX;
		return 0;
	case LUO_OP_SESSION_SET_EVENT:
		return session_event(s, req.event.event);
	case LUO_OP_SESSION_RENEW:
		r = session_renew(s);
		if (r == 0 && (req.renew.flags & LUO_RENEW_FROZEN))
			r = session_event(s, LUO_EVENT_FREEZE);
		return r;
	case LUO_OP_SESSION_GET_STATE:
		memset(&st, 0, sizeof(st));
		st.state = s->state;
		st.incoming = s->incoming;
		memcpy(rep->body, &st, sizeof(st));
		rep->len = sizeof(st);
		return 0;
	}
	return -EINVAL;
}
