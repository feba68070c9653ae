// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * DOC: The server loop: sockets, connections, decoding requests.
 *
 * One epoll loop owns the listening socket, a signalfd and every connection.
 * A connection is either a device connection (accepted; luo_open) or a
 * session handle (luod's end of a socketpair whose other end was sent to a
 * client). Connections are created in conn_new() and freed in conn_free()
 * only. All sockets are non-blocking; a reply that does not fit is kept and
 * the connection is not read again until it has gone out, so a client that
 * never reads cannot block luod.
 *
 * Every request is checked here (size, version, fd count, field ranges)
 * before the core sees it; a malformed one gets an error reply and changes
 * nothing. Received fds that a request does not consume are closed.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "luod.h"
#include "keeper.h"
#include "limit.h"
#include "request.h"
#include "history.h"
#include "watch.h"

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
	int fds[LUO_FDS_PER_MSG];
	union {
		unsigned char body[LUO_MSG_MAX];
		uint64_t align;
	};
};

static struct {
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
	struct conn *update_waiter; /* asked for the update */
	size_t nwatchers;
} srv;

/* A request whose reply comes later (global events, the update). */
#define REPLY_LATER 1

/* The listening socket and the signalfd are told apart from connections by these tags. */
static int tag_listen, tag_signal;

static struct reply reply;
static unsigned char request[sizeof(struct luo_msg_hdr) + LUO_MSG_MAX] __attribute__((aligned(8)));

/* ---- connections ---- */

static int epoll_set(int op, int fd, uint32_t events, void *ptr)
{
	struct epoll_event ev = { .events = events, .data.ptr = ptr };

	return epoll_ctl(srv.epfd, op, fd, &ev) < 0 ? -errno : 0;
}

static struct conn *conn_new(int fd, bool is_session)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->fd = fd;
	c->is_session = is_session;
	if (epoll_set(EPOLL_CTL_ADD, fd, EPOLLIN, c) < 0) {
		free(c);
		return NULL;
	}
	c->next = srv.conns;
	if (srv.conns)
		srv.conns->prev = c;
	srv.conns = c;
	srv.nconns++;
	return c;
}

static void pending_free(struct pending *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nfds; i++)
		close(p->fds[i]);
	free(p->body);
	free(p);
}

static void conn_free(struct conn *c)
{
	if (c->watcher && --srv.nwatchers == 0) {
		watch_hook = NULL;
		watch_reset();
	}
	if (srv.event_waiter == c)
		srv.event_waiter = NULL;
	if (srv.update_waiter == c) {
		srv.update_waiter = NULL;
		update_requester_gone();
	}
	epoll_ctl(srv.epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	pending_free(c->pending);
	if (c->prev)
		c->prev->next = c->next;
	else
		srv.conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	srv.nconns--;
	free(c);
}

/* core -> server: the session this handle held has ended (finished or released). */
static void session_detached(void *handle)
{
	struct conn *c = handle;

	c->session = NULL;
}

static void core_changed(void)
{
	srv.dirty = true;
	if (luo_core.state != srv.last_state)
		srv.state_changed = true;
}

static void conn_closed(struct conn *c)
{
	struct luo_participant *p = c->participant;

	if (c->session)
		session_handle_closed(c->session);
	conn_free(c);
	if (p)
		participant_disconnected(p);
}

static int participant_send(void *handle, enum luo_event event, unsigned timeout_ms)
{
	struct conn *c = handle;
	struct luo_msg_participant_event ev = {
		.event = event,
		.timeout_ms = timeout_ms,
		.generation = luo_core.generation,
	};

	return luo_msg_send(c->fd, LUO_OP_PARTICIPANT_EVENT, 0, &ev, sizeof(ev), NULL, 0);
}

/* ---- replies ---- */

static void reply_reset(void)
{
	reply.result = 0;
	reply.len = 0;
	reply.nfds = 0;
	reply.own_fds = false;
}

static int pending_store(struct conn *c, uint16_t op)
{
	struct pending *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	p->op = op;
	p->result = reply.result;
	p->len = reply.len;
	if (reply.len) {
		p->body = malloc(reply.len);
		if (!p->body)
			goto fail;
		memcpy(p->body, reply.body, reply.len);
	}
	for (; p->nfds < reply.nfds; p->nfds++) {
		p->fds[p->nfds] = fcntl(reply.fds[p->nfds], F_DUPFD_CLOEXEC, 3);
		if (p->fds[p->nfds] < 0)
			goto fail;
	}
	c->pending = p;
	return epoll_set(EPOLL_CTL_MOD, c->fd, EPOLLOUT, c);
fail:
	pending_free(p);
	return -ENOMEM;
}

static void reply_send(struct conn *c, uint16_t op)
{
	int r;

	if (reply.result < 0) {
		reply.len = 0;
		if (reply.own_fds)
			for (size_t i = 0; i < reply.nfds; i++)
				close(reply.fds[i]);
		reply.nfds = 0;
	}
	r = luo_msg_send(c->fd, op, reply.result, reply.body, reply.len, reply.fds, reply.nfds);
	if (r == -EAGAIN && pending_store(c, op) < 0)
		log_warn("connection of pid %d: reply dropped: out of memory", (int)c->pid);
	else if (r < 0 && r != -EAGAIN && r != -EPIPE && r != -ECONNRESET)
		log_warn("connection of pid %d: sending reply: %s", (int)c->pid, strerror(-r));
	if (reply.own_fds)
		for (size_t i = 0; i < reply.nfds; i++)
			close(reply.fds[i]);
}

static void pending_flush(struct conn *c)
{
	struct pending *p = c->pending;
	int r = luo_msg_send(c->fd, p->op, p->result, p->body, p->len, p->fds, p->nfds);

	if (r == -EAGAIN)
		return;
	pending_free(p);
	c->pending = NULL;
	epoll_set(EPOLL_CTL_MOD, c->fd, EPOLLIN, c);
}

/* ---- request helpers ---- */

static bool privileged(const struct conn *c)
{
	return c->uid == 0 || c->uid == geteuid();
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
static int handle_new(struct conn *owner, struct conn **ret, int *ret_client_fd)
{
	int sp[2];
	struct conn *c;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sp) < 0)
		return -errno;
	c = conn_new(sp[0], true);
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

static void handle_bind(struct conn *c, struct luo_session *s, int client_fd)
{
	c->session = s;
	memcpy(c->name, s->name, sizeof(c->name));
	s->handle = c;
	reply.fds[0] = client_fd;
	reply.nfds = 1;
	reply.own_fds = true;
}

/* ---- device requests ---- */

static int op_session_handle(struct conn *c, const struct luo_request *req)
{
	struct luo_session *s;
	struct conn *h = NULL;
	int client_fd = -1, r;

	if (req->op == LUO_OP_CREATE_SESSION && (r = limits_create(c->uid)) < 0)
		return r;
	if (backend_kernel_active()) {
		/* the handle is the kernel's own session fd */
		r = backend_kernel_session(req->op == LUO_OP_CREATE_SESSION, req->name.name, c->uid);
		if (r < 0)
			return r;
		reply.fds[0] = r;
		reply.nfds = 1;
		reply.own_fds = true;
		return 0;
	}
	r = handle_new(c, &h, &client_fd);
	if (r < 0)
		return r;
	if (req->op == LUO_OP_CREATE_SESSION)
		r = core_create_session(req->name.name, c->uid, &s);
	else
		r = core_retrieve_session(req->name.name, c->uid, &s);
	if (r < 0) {
		close(client_fd);
		conn_free(h);
		return r;
	}
	handle_bind(h, s, client_fd);
	return 0;
}

static int op_get_state(void)
{
	struct luo_msg_state st = { .state = luo_core.state, .generation = luo_core.generation };

	memcpy(reply.body, &st, sizeof(st));
	reply.len = sizeof(st);
	return 0;
}

static void event_done(int result, void *ctx)
{
	struct conn *c = srv.event_waiter;

	(void)ctx;
	srv.event_waiter = NULL;
	if (!c)
		return;
	reply_reset();
	reply.result = result;
	reply_send(c, LUO_OP_SET_EVENT);
}

static int op_set_event(struct conn *c, const struct luo_msg_event *ev)
{
	int r;

	if (!privileged(c))
		return -EPERM;
	log_info("event %s from pid %d", luo_event_name(ev->event), (int)c->pid);
	r = core_event_async(ev->event, event_done, NULL);
	if (r >= 0 && ev->event == LUO_EVENT_CANCEL)
		history_cancelled();
	if (r == REPLY_LATER)
		srv.event_waiter = c;
	return r;
}

static int op_status(void)
{
	struct luo_msg_status st = {
		.state = luo_core.state,
		.pid = (uint32_t)getpid(),
		.generation = luo_core.generation,
		.sessions = (uint32_t)luo_core.nsessions,
		.incoming_sessions = (uint32_t)core_incoming_sessions(),
		.files = luo_core.nfiles,
		.uptime_ns = now_ns() - luo_core.started_ns,
		.updates = luo_core.updates,
		.participants = (uint32_t)participant_count(),
		.memfd_bytes = flb_memfd_bytes(),
	};

	memcpy(reply.body, &st, sizeof(st));
	reply.len = sizeof(st);
	return 0;
}

/* Sessions belong to the uid that created them: others do not even see them listed. */
static bool may_see(const struct conn *c, const struct luo_session *s)
{
	return privileged(c) || c->uid == s->uid;
}

static int op_list(struct conn *c, const struct luo_msg_list *req)
{
	struct luo_msg_list_reply *rep = (void *)reply.body;
	size_t max = (sizeof(reply.body) - sizeof(*rep)) / sizeof(rep->entries[0]);
	uint32_t i = 0;

	rep->total = 0;
	rep->count = 0;
	for (struct luo_session *s = luo_core.sessions; s; s = s->next) {
		if (!may_see(c, s))
			continue;
		rep->total++;
		if (i++ >= req->cursor && rep->count < max)
			fill_session_info(s, &rep->entries[rep->count++]);
	}
	reply.len = sizeof(*rep) + rep->count * sizeof(rep->entries[0]);
	return 0;
}

static int op_show(struct conn *c, const struct luo_msg_show *req)
{
	struct luo_msg_show_reply *rep = (void *)reply.body;
	size_t max = (sizeof(reply.body) - sizeof(*rep)) / sizeof(rep->entries[0]);
	struct luo_session *s;

	s = core_find_session(req->name);
	if (!s)
		return -ENOENT;
	if (!may_see(c, s))
		return -EPERM;
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
	}
	reply.len = sizeof(*rep) + rep->count * sizeof(rep->entries[0]);
	return 0;
}

/* One line for people: `systemctl status luod` shows it. */
static const char *status_line(void)
{
	static char line[160];

	snprintf(line, sizeof(line), "generation %" PRIu64 ", %s, %zu sessions, %zu files",
		 luo_core.generation, luo_state_name(luo_core.state), luo_core.nsessions,
		 luo_core.nfiles);
	return line;
}

static void update_failed(int result, void *ctx)
{
	struct conn *c = srv.update_waiter;

	(void)ctx;
	srv.update_waiter = NULL;
	systemd_ready(status_line()); /* still the same luod, serving as before */
	if (!c)
		return;
	fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
	reply_reset();
	reply.result = result;
	reply_send(c, LUO_OP_UPDATE);
}

static int op_update(struct conn *c, const struct luo_msg_update *up)
{
	/* static: update_start() keeps exec_path past this request's buffer */
	static struct luo_msg_update req;
	struct luo_update_request ur = {
		.argv = srv.cfg->argv,
		.listen_fd = srv.listen_fd,
		.listen_activated = srv.cfg->listen_activated,
		.reply_fd = c->fd,
	};
	int r;

	if (backend_kernel_active())
		return -EOPNOTSUPP; /* luod cannot carry kernel sessions over its own execve: use --kernel */
	if (!privileged(c))
		return -EPERM;
	if (srv.update_waiter)
		return -EBUSY;
	req = *up;
	if (req.flags & LUO_UPDATE_EXEC)
		ur.exec_path = req.exec_path;
	/* the requester's connection crosses the execve in blocking mode: the successor answers it */
	fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) & ~O_NONBLOCK);
	srv.update_waiter = c;
	/* before update_start: a rollback inside it says READY=1 again, and must come last */
	systemd_reloading("live update: replacing luod");
	r = update_start(&ur, update_failed, NULL);
	if (r < 0) {
		systemd_ready(status_line());
		srv.update_waiter = NULL;
		fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
		return r;
	}
	return REPLY_LATER; /* from the successor, or from update_failed() */
}

/*
 * The holder's connection is shut down, not freed: the loop sees the
 * hang-up and frees it in its turn, and the process sees EOF on its handle.
 */
static int op_session_update(struct conn *c, const struct luo_msg_name *req)
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
	fill_session_info(s, (struct luo_msg_session_info *)reply.body);
	reply.len = sizeof(struct luo_msg_session_info);
	return 0;
}

static int op_participant_register(struct conn *c, const struct luo_msg_name *req)
{
	struct luo_msg_payload *rep = (void *)reply.body;
	struct luo_participant *p;
	int r;

	if (!privileged(c))
		return -EPERM; /* a participant can hold up every update */
	r = participant_register(req->name, c, &p);
	if (r < 0)
		return r;
	c->participant = p;
	rep->flags = p->has_incoming ? LUO_PAYLOAD_PRESENT : 0;
	rep->len = p->has_incoming ? (uint32_t)p->incoming_len : 0;
	if (rep->len)
		memcpy(rep->data, p->incoming, rep->len);
	reply.len = sizeof(*rep) + rep->len;
	return 0;
}

/* KERNEL_STATUS and KERNEL_UPDATE: the kernel backend's own ops (backend_kernel.c). */
static int kernel_request(struct conn *c, const void *msg, size_t len, const int *fds, size_t nfds)
{
	const char *cmdline = (const char *)msg + sizeof(struct luo_msg_hdr);
	size_t cmdline_len = len - sizeof(struct luo_msg_hdr);
	struct luo_msg_hdr hdr;
	struct luo_msg_kernel_status st;

	memcpy(&hdr, msg, sizeof(hdr));
	if (hdr.op == LUO_OP_KERNEL_STATUS) {
		if (cmdline_len || nfds)
			return -EINVAL;
		backend_kernel_status(&st);
		memcpy(reply.body, &st, sizeof(st));
		reply.len = sizeof(st);
		return 0;
	}
	if (!privileged(c))
		return -EPERM;
	if (nfds < 1 || nfds > 2)
		return -EINVAL;
	log_info("kernel update requested by pid %d", (int)c->pid);
	return backend_kernel_load(fds[0], nfds == 2 ? fds[1] : -1, cmdline, cmdline_len);
}

/* ---- watch, history, dump ---- */

/* Never blocks: a watcher that does not keep up is cut off, not waited for. */
static void watch_send_one(const struct luo_msg_watch_event *ev, void *ctx)
{
	struct conn *c = ctx;
	int r;

	if (c->watch_dead)
		return;
	r = luo_msg_send(c->fd, LUO_OP_WATCH, 0, ev, sizeof(*ev), NULL, 0);
	if (r < 0) {
		log_warn("watcher pid %d: %s; disconnected", (int)c->pid,
			 r == -EAGAIN ? "not reading its events" : strerror(-r));
		c->watch_dead = true;
		shutdown(c->fd, SHUT_RDWR); /* the loop sees the hang-up and frees it */
	}
}

static void watch_send_all(const struct luo_msg_watch_event *ev)
{
	for (struct conn *c = srv.conns; c; c = c->next)
		if (c->watcher)
			watch_send_one(ev, c);
}

static int op_watch(struct conn *c)
{
	int r;

	if (!privileged(c))
		return -EPERM; /* it shows every session */
	if (c->pending)
		return -EBUSY;
	if (!watch_hook)
		watch_hook = watch_send_all;
	watch_scan(); /* the watchers so far learn what changed; the record is current */
	r = luo_msg_send(c->fd, LUO_OP_WATCH, 0, NULL, 0, NULL, 0);
	c->watcher = true;
	srv.nwatchers++;
	if (r < 0) {
		c->watch_dead = true;
		shutdown(c->fd, SHUT_RDWR);
		return REPLY_LATER;
	}
	watch_snapshot(watch_send_one, c);
	return REPLY_LATER; /* answered above, ahead of its snapshot */
}

static int op_history(void)
{
	struct luo_msg_history_reply *rep = (void *)reply.body;
	size_t n = history_count();

	memset(rep, 0, sizeof(*rep));
	rep->updates = luo_core.updates;
	rep->count = (uint32_t)n;
	for (size_t i = 0; i < n; i++)
		rep->entries[i] = *history_at(i);
	reply.len = sizeof(*rep) + n * sizeof(rep->entries[0]);
	return 0;
}

static int op_dump(struct conn *c)
{
	struct luo_handover_luod h = { .listen_fd = -1, .reply_fd = -1,
				       .updates = luo_core.updates };
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
	reply.fds[0] = fd;
	reply.nfds = 1;
	reply.own_fds = true;
	return 0;
}

/* A decoded request (request.c) on a device connection. */
static int device_request(struct conn *c, const struct luo_request *req)
{
	switch (req->op) {
	case LUO_OP_CREATE_SESSION:
	case LUO_OP_RETRIEVE_SESSION:
		return op_session_handle(c, req);
	case LUO_OP_GET_STATE:
		return op_get_state();
	case LUO_OP_SET_EVENT:
		return op_set_event(c, &req->event);
	case LUO_OP_STATUS:
		return op_status();
	case LUO_OP_LIST_SESSIONS:
		return op_list(c, &req->list);
	case LUO_OP_SHOW_SESSION:
		return op_show(c, &req->show);
	case LUO_OP_UPDATE:
		return op_update(c, &req->update);
	case LUO_OP_PARTICIPANT_REGISTER:
		return op_participant_register(c, &req->name);
	case LUO_OP_SESSION_UPDATE:
		return op_session_update(c, &req->name);
	case LUO_OP_WATCH:
		return op_watch(c);
	case LUO_OP_HISTORY:
		return op_history();
	case LUO_OP_DUMP:
		return op_dump(c);
	}
	return -EINVAL;
}

/* A participant's connection carries only its answers to events. */
static void participant_message(struct conn *c, const void *msg, size_t len)
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
	participant_answer(c->participant, req.result, req.payload.data, req.payload.len,
			   req.payload.present);
}

/* ---- session requests ---- */

/* A handle whose session has ended still answers, as a finished kernel session does. */
static int ended_request(struct conn *c, uint16_t op)
{
	struct luo_msg_session_state st = { .state = LUO_STATE_NORMAL, .incoming = 1 };

	switch (op) {
	case LUO_OP_SESSION_GET_NAME:
		memcpy(reply.body, c->name, LUO_NAME_MAX);
		reply.len = LUO_NAME_MAX;
		return 0;
	case LUO_OP_SESSION_GET_STATE:
		memcpy(reply.body, &st, sizeof(st));
		reply.len = sizeof(st);
		return 0;
	case LUO_OP_SESSION_FINISH:
		return 0;
	case LUO_OP_SESSION_RETRIEVE:
		return -ENOENT;
	}
	return -EINVAL;
}

static int session_request(struct conn *c, const void *msg, size_t len, int *fds, size_t *nfds)
{
	struct luo_session *s = c->session;
	struct luo_msg_session_state st;
	struct luo_request req;
	int r;

	if (!s) {
		struct luo_msg_hdr hdr;

		memcpy(&hdr, msg, sizeof(hdr));
		return hdr.result || *nfds ? -EINVAL : ended_request(c, hdr.op);
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
		return session_preserve(s, fds, req.tokens.v, req.tokens.n);
	case LUO_OP_SESSION_UNPRESERVE:
		return session_unpreserve(s, req.token.token);
	case LUO_OP_SESSION_RETRIEVE:
		r = session_retrieve(s, req.tokens.v, req.tokens.n, reply.fds);
		if (r == 0)
			reply.nfds = req.tokens.n;
		return r;
	case LUO_OP_SESSION_FINISH:
		return session_finish(s);
	case LUO_OP_SESSION_GET_NAME:
		memcpy(reply.body, s->name, LUO_NAME_MAX);
		reply.len = LUO_NAME_MAX;
		return 0;
	case LUO_OP_SESSION_SET_EVENT:
		return session_event(s, req.event.event);
	case LUO_OP_SESSION_GET_STATE:
		memset(&st, 0, sizeof(st));
		st.state = s->state;
		st.incoming = s->incoming;
		memcpy(reply.body, &st, sizeof(st));
		reply.len = sizeof(st);
		return 0;
	}
	return -EINVAL;
}

/* ---- the loop ---- */

static void conn_readable(struct conn *c)
{
	struct luo_msg_hdr hdr;
	int fds[LUO_FDS_PER_MSG];
	size_t nfds = 0;
	ssize_t n;
	uint16_t op;

	n = luo_msg_recv(c->fd, request, sizeof(request), fds, LUO_FDS_PER_MSG, &nfds);
	if (n == -EAGAIN)
		return;
	if (n == 0 || n == -ECONNRESET) {
		conn_closed(c);
		return;
	}
	reply_reset();
	if (n < 0) {
		/* malformed: answer with what can be told of it, keep the connection */
		memcpy(&hdr, request, sizeof(hdr));
		log_warn("pid %d: malformed message: %s", (int)c->pid, strerror((int)-n));
		reply.result = (int32_t)n;
		reply_send(c, 0);
		return;
	}
	memcpy(&hdr, request, sizeof(hdr));
	op = hdr.op;
	if ((size_t)n > luo_limits.message) {
		/* well-formed but larger than luod accepts (--max-message-size) */
		log_warn("pid %d: %zd-byte message refused (--max-message-size %zu)", (int)c->pid, n,
			 luo_limits.message);
		for (size_t i = 0; i < nfds; i++)
			close(fds[i]);
		if (c->participant) {
			participant_answer(c->participant, -EMSGSIZE, NULL, 0, false);
			return;
		}
		reply.result = -EMSGSIZE;
		reply_send(c, op);
		return;
	}
	if (c->participant) {
		for (size_t i = 0; i < nfds; i++)
			close(fds[i]);
		participant_message(c, request, (size_t)n);
		return;
	}
	if (c->is_session) {
		reply.result = session_request(c, request, (size_t)n, fds, &nfds);
	} else if (op == LUO_OP_KERNEL_STATUS || op == LUO_OP_KERNEL_UPDATE) {
		reply.result = kernel_request(c, request, (size_t)n, fds, nfds);
	} else {
		struct luo_request req;

		reply.result = request_decode(LUO_CONN_DEVICE, request, (size_t)n, nfds, &req) ?:
			       device_request(c, &req);
	}
	for (size_t i = 0; i < nfds; i++)
		close(fds[i]);
	holder_flush(); /* what this request released is gone from the keeper too */
	if (reply.result != REPLY_LATER)
		reply_send(c, op);
	backend_kernel_reboot(); /* a kernel update answered: now the kexec */
}

static void conn_event(struct conn *c, uint32_t events)
{
	if (c->watcher) {
		/* an event stream: whatever comes from the watcher's side ends it */
		if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
			conn_closed(c);
		return;
	}
	if (c->pending && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
		pending_flush(c);
		if (c->pending && (events & (EPOLLERR | EPOLLHUP)))
			conn_closed(c);
		return;
	}
	if (events & EPOLLIN)
		conn_readable(c);
	else if (events & (EPOLLERR | EPOLLHUP))
		conn_closed(c);
}

static void accept_all(void)
{
	for (;;) {
		struct ucred cred;
		socklen_t len = sizeof(cred);
		struct conn *c;
		int fd = accept4(srv.listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				/* out of fds: stop accepting for a while instead of spinning */
				log_warn("accept: %s; pausing for 100 ms", strerror(errno));
				epoll_set(EPOLL_CTL_DEL, srv.listen_fd, 0, NULL);
				srv.accept_paused = true;
				srv.accept_resume_ns = now_ns() + 100000000u;
			} else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
				log_warn("accept: %s", strerror(errno));
			}
			return;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
			log_warn("SO_PEERCRED: %s", strerror(errno));
			close(fd);
			continue;
		}
		c = conn_new(fd, false);
		if (!c) {
			close(fd);
			continue;
		}
		c->uid = cred.uid;
		c->pid = cred.pid;
	}
}

static void signal_read(void)
{
	struct signalfd_siginfo si;

	while (read(srv.signal_fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
			srv.quit = true;
	}
}

static void maybe_write_state(void)
{
	uint64_t now;

	if (!srv.dirty)
		return;
	now = now_ns();
	/* global state changes at once; counts at most ten times a second */
	if (!srv.state_changed && now - srv.last_write_ns < 100000000u)
		return;
	luo_statefile_write();
	systemd_status(status_line());
	srv.dirty = srv.state_changed = false;
	srv.last_state = luo_core.state;
	srv.last_write_ns = now;
}

static int listen_socket(const char *path, mode_t mode, gid_t gid)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[sizeof(sa.sun_path)], *slash;
	int fd, r;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		log_err("socket path too long: %s", path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	strcpy(dir, path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
			r = -errno;
			log_err("mkdir %s: %s", dir, strerror(-r));
			return r;
		}
	}
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int probe;

		if (errno != EADDRINUSE)
			goto fail;
		/* a stale socket file, or another luod? */
		probe = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(probe);
			close(fd);
			log_err("another luod is serving %s", path);
			return -EADDRINUSE;
		}
		if (probe >= 0)
			close(probe);
		unlink(path);
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			goto fail;
	}
	/* who may connect at all: the socket's mode and group (luod --socket-mode/--socket-group) */
	if ((gid != (gid_t)-1 && chown(path, (uid_t)-1, gid) < 0) || chmod(path, mode) < 0 ||
	    listen(fd, SOMAXCONN) < 0)
		goto fail;
	return fd;
fail:
	r = -errno;
	log_err("socket %s: %s", path, strerror(-r));
	close(fd);
	return r;
}

static int signals_setup(void)
{
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	srv.signal_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	return srv.signal_fd < 0 ? -errno : 0;
}

static void answer_update(const struct luod_config *cfg)
{
	struct luo_msg_update_reply rep = *cfg->update;
	char line[512];

	rep.blackout_ns = now_ns() - cfg->freeze_mark_ns;
	{
		/* the update began at PREPARE: freeze mark less the prepare time, on the same clock */
		uint64_t began = cfg->freeze_mark_ns - rep.prepare_ns;
		struct luo_msg_history_entry e = {
			.generation = rep.generation,
			.start_realtime_ns = realtime_ns() - (now_ns() - began),
			.prepare_ns = rep.prepare_ns,
			.freeze_ns = rep.freeze_ns,
			.blackout_ns = rep.blackout_ns,
			.files = rep.files,
			.sessions = rep.sessions,
			.outcome = LUO_HISTORY_OK,
		};

		history_add(&e);
	}
	luo_statefile_write(); /* with it: a script reading the file after luoctl returns sees it */
	if (cfg->reply_fd >= 0) {
		luo_msg_send(cfg->reply_fd, LUO_OP_UPDATE, 0, &rep, sizeof(rep), NULL, 0);
		close(cfg->reply_fd);
	}
	snprintf(line, sizeof(line),
		 "{\"generation\": %" PRIu64 ", \"pid\": %u, \"sessions\": %u, \"files\": %" PRIu64
		 ", \"prepare_ns\": %" PRIu64 ", \"freeze_ns\": %" PRIu64
		 ", \"fdt_write_ns\": %" PRIu64 ", \"exec_ns\": %" PRIu64
		 ", \"fdt_parse_ns\": %" PRIu64 ", \"blackout_ns\": %" PRIu64
		 ", \"fdt_bytes\": %" PRIu64 ", \"outcome\": \"ok\"}",
		 rep.generation, rep.successor_pid, rep.sessions, rep.files, rep.prepare_ns,
		 rep.freeze_ns, rep.fdt_write_ns, rep.exec_ns, rep.fdt_parse_ns, rep.blackout_ns,
		 rep.fdt_bytes);
	luo_history_append(line);
	log_info("update: generation %" PRIu64 " serving; blackout %.3f ms", rep.generation,
		 (double)rep.blackout_ns / 1e6);
}

int luod_serve(const struct luod_config *cfg)
{
	struct epoll_event evs[64];
	int r;

	srv.cfg = cfg;
	srv.last_state = luo_core.state;
	luo_core.changed = core_changed;
	luo_core.detach = session_detached;
	luo_core.participant_send = participant_send;
	r = signals_setup();
	if (r < 0) {
		log_err("signals: %s", strerror(-r));
		return r;
	}
	srv.listen_fd = cfg->listen_fd >= 0 ? cfg->listen_fd : listen_socket(cfg->socket_path, cfg->socket_mode, cfg->socket_gid);
	if (srv.listen_fd < 0)
		return srv.listen_fd;
	fcntl(srv.listen_fd, F_SETFL, fcntl(srv.listen_fd, F_GETFL) | O_NONBLOCK);
	srv.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (srv.epfd < 0)
		return -errno;
	if ((r = epoll_set(EPOLL_CTL_ADD, srv.listen_fd, EPOLLIN, &tag_listen)) < 0 ||
	    (r = epoll_set(EPOLL_CTL_ADD, srv.signal_fd, EPOLLIN, &tag_signal)) < 0)
		return r;

	luo_statefile_write();
	if (cfg->update)
		answer_update(cfg);
	/* a fresh start takes back what a killed luod left with the keeper */
	holder_start(cfg->state_dir, !cfg->update);
	log_info("serving %s (generation %" PRIu64 ", state %s, %zu sessions, %zu files)",
		 cfg->listen_activated ? "the activated socket" : cfg->socket_path,
		 luo_core.generation, luo_state_name(luo_core.state), luo_core.nsessions,
		 luo_core.nfiles);
	systemd_ready(status_line());

	while (!srv.quit) {
		int timeout = srv.dirty || srv.accept_paused ? 100 : -1;
		uint64_t deadline = participant_deadline();
		int wd = systemd_watchdog_timeout_ms(now_ns());
		int n;

		if (wd >= 0 && (timeout < 0 || wd < timeout))
			timeout = wd;

		if (deadline) {
			uint64_t now = now_ns();
			int ms = deadline > now ? (int)((deadline - now) / 1000000u) + 1 : 0;

			timeout = timeout < 0 || ms < timeout ? ms : timeout;
		}
		n = epoll_wait(srv.epfd, evs, 64, timeout);

		if (n < 0 && errno != EINTR) {
			r = -errno;
			log_err("epoll_wait: %s", strerror(-r));
			return r;
		}
		for (int i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;

			if (p == &tag_listen)
				accept_all();
			else if (p == &tag_signal)
				signal_read();
			else
				conn_event(p, evs[i].events);
		}
		participant_tick(now_ns());
		systemd_watchdog(now_ns()); /* from the loop itself: a stuck loop stops the pings */
		if (srv.accept_paused && now_ns() >= srv.accept_resume_ns) {
			srv.accept_paused = false;
			epoll_set(EPOLL_CTL_ADD, srv.listen_fd, EPOLLIN, &tag_listen);
		}
		watch_scan(); /* sessions and participants that changed in this pass */
		maybe_write_state();
	}

	systemd_stopping();
	if (luo_core.nfiles)
		log_warn("stopping with %zu sessions and %zu preserved files; they are released",
			 luo_core.nsessions, luo_core.nfiles);
	else
		log_info("stopping");
	while (srv.conns) {
		/* the session outlives its handle here: it must not point at a freed conn */
		if (srv.conns->session)
			srv.conns->session->handle = NULL;
		srv.conns->session = NULL;
		conn_free(srv.conns);
	}
	holder_stop(); /* a clean stop releases everything: so does the keeper */
	core_free_all();
	if (!cfg->listen_activated) /* else the socket unit owns the path */
		unlink(cfg->socket_path);
	close(srv.listen_fd);
	close(srv.signal_fd);
	close(srv.epfd);
	return 0;
}
