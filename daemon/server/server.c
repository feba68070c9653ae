// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * DOC: The server loop: sockets, connections, replies.
 *
 * One epoll loop owns the listening socket, a signalfd and every connection.
 * A connection is either a device connection (accepted; luo_open) or a
 * session handle (luod's end of a socketpair whose other end was sent to a
 * client). Connections are created in conn_new() and freed in conn_free()
 * only. All sockets are non-blocking; a reply that does not fit is kept and
 * the connection is not read again until it has gone out, so a client that
 * never reads cannot block luod.
 *
 * Every request is checked (request.c: size, version, fd count, field
 * ranges) before the core sees it; a malformed one gets an error reply and
 * changes nothing. What a valid one does is in ops.c. Received fds that a
 * request does not consume are closed.
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

#include "server/server.h"
#include "backend/backend.h"
#include "core/observer.h"
#include "crash/keeper.h"
#include "server/limit.h"
#include "server/request.h"
#include "report/report.h"
#include "report/update_report.h"
#include "report/watch.h"

/*
 * Replies that did not fit, oldest first. One request is read at a time and
 * not the next until they are out, but an answer that comes later (a global
 * event's, a failed update's) can join one already kept: it goes behind it.
 */
struct pending {
	struct pending *next;
	uint16_t op;
	int32_t result;
	void *body;
	size_t len;
	int fds[LUO_FDS_PER_MSG];
	size_t nfds;
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
	struct {
		struct conn *c;
		int chan; /* its reply channel, or -1 */
	} wait[WAIT_COUNT];
	size_t nwatchers;
	struct reply reply; /* of the request being handled */
	unsigned char request[sizeof(struct luo_msg_hdr) + LUO_MSG_MAX] __attribute__((aligned(8)));
};

/*
 * The one server, for what calls back without a context (the core's
 * observer, the keeper's watch, the core's detach). The ops get it as an
 * argument.
 */
static struct server the_server = {
	.wait = { [WAIT_EVENT] = { NULL, -1 }, [WAIT_UPDATE] = { NULL, -1 } },
	.reply = { .chan = -1 },
};
_Static_assert(WAIT_COUNT == 2, "every wait of the_server starts without a channel (-1)");

/* The listening socket, the signalfd and the keeper are told apart from connections by these tags. */
static int tag_listen, tag_signal, tag_keeper;

/* ---- connections ---- */

static int epoll_set(struct server *srv, int op, int fd, uint32_t events, void *ptr)
{
	struct epoll_event ev = { .events = events, .data.ptr = ptr };

	return epoll_ctl(srv->epfd, op, fd, &ev) < 0 ? -errno : 0;
}

/* The keeper connection (holder.c) in the loop: its hang-up is noticed at once. */
static void keeper_watch(int fd, bool on)
{
	if (on)
		epoll_set(&the_server, EPOLL_CTL_ADD, fd, EPOLLIN | EPOLLRDHUP, &tag_keeper);
	else
		epoll_ctl(the_server.epfd, EPOLL_CTL_DEL, fd, NULL);
}

struct conn *conn_new(struct server *srv, int fd, bool is_session)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->fd = fd;
	c->is_session = is_session;
	if (epoll_set(srv, EPOLL_CTL_ADD, fd, EPOLLIN, c) < 0) {
		free(c);
		return NULL;
	}
	c->next = srv->conns;
	if (srv->conns)
		srv->conns->prev = c;
	srv->conns = c;
	srv->nconns++;
	return c;
}

static void pending_free(struct pending *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nfds; i++)
		luo_close(p->fds[i]); /* copies of preserved files: a FUSE one's FLUSH may wait */
	free(p->body);
	free(p);
}

void conn_free(struct server *srv, struct conn *c)
{
	if (c->watcher && --srv->nwatchers == 0) {
		watch_set_sink(NULL, NULL);
		watch_reset();
	}
	for (int w = 0; w < WAIT_COUNT; w++) {
		if (srv->wait[w].c != c)
			continue;
		server_wait(srv, (enum server_wait)w, NULL, -1);
		if (w == WAIT_UPDATE)
			update_requester_gone();
	}
	epoll_ctl(srv->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	if (c->counted)
		limits_disconnect(c->uid);
	while (c->pending) {
		struct pending *p = c->pending;

		c->pending = p->next;
		pending_free(p);
	}
	if (c->prev)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	srv->nconns--;
	free(c);
}

const struct luod_config *server_config(const struct server *srv)
{
	return srv->cfg;
}

int server_listen_fd(const struct server *srv)
{
	return srv->listen_fd;
}

/* core -> server: the session this handle held has ended (finished or released). */
static void session_detached(void *handle)
{
	struct conn *c = handle;

	c->session = NULL;
}

static void core_changed(void)
{
	the_server.dirty = true;
	if (core_state() != the_server.last_state)
		the_server.state_changed = true;
}

static void conn_closed(struct server *srv, struct conn *c)
{
	struct luo_participant *p = c->participant;

	if (c->session)
		session_handle_closed(c->session);
	conn_free(srv, c);
	if (p)
		participant_disconnected(p);
}

static int participant_send(void *handle, enum luo_event event, unsigned timeout_ms, uint64_t tag)
{
	struct conn *c = handle;
	struct luo_msg_participant_event ev = {
		.event = event,
		.timeout_ms = timeout_ms,
		.generation = core_generation(),
		.tag = tag,
	};

	/* a participant registered without tags gets the event as it always did */
	return luo_msg_send(c->fd, LUO_OP_PARTICIPANT_EVENT, 0, &ev,
			    tag ? sizeof(ev) : LUO_PARTICIPANT_EVENT_UNTAGGED, NULL, 0);
}

/* ---- replies ---- */

/* Empty, as if no request had come; a channel still held is closed. */
static void reply_reset(struct reply *rep)
{
	rep->result = 0;
	rep->len = 0;
	rep->nfds = 0;
	rep->own_fds = false;
	if (rep->chan >= 0)
		close(rep->chan);
	rep->chan = -1;
}

int reply_chan_take(struct reply *rep)
{
	int chan = rep->chan;

	rep->chan = -1;
	return chan;
}

static int pending_store(struct server *srv, struct conn *c, uint16_t op, const struct reply *rep)
{
	struct pending *p = calloc(1, sizeof(*p)), **tail = &c->pending;

	if (!p)
		return -ENOMEM;
	p->op = op;
	p->result = rep->result;
	p->len = rep->len;
	if (rep->len) {
		p->body = malloc(rep->len);
		if (!p->body)
			goto fail;
		memcpy(p->body, rep->body, rep->len);
	}
	/* copies of the fds, as the reply's own may be closed before it goes out */
	for (; p->nfds < rep->nfds; p->nfds++) {
		p->fds[p->nfds] = fcntl(rep->fds[p->nfds], F_DUPFD_CLOEXEC, 3);
		if (p->fds[p->nfds] < 0)
			goto fail;
		/* another uid's kept replies take luod's fds too: not those kept for root */
		if (limits_fd(c->uid, p->fds[p->nfds]) < 0) {
			luo_close(p->fds[p->nfds]);
			pending_free(p);
			return -EUSERS;
		}
	}
	while (*tail)
		tail = &(*tail)->next;
	*tail = p;
	return epoll_set(srv, EPOLL_CTL_MOD, c->fd, EPOLLOUT, c);
fail:
	pending_free(p);
	return -ENOMEM;
}

static void reply_send(struct server *srv, struct conn *c, uint16_t op, struct reply *rep)
{
	int r;

	if (rep->result < 0) {
		rep->len = 0;
		if (rep->own_fds)
			for (size_t i = 0; i < rep->nfds; i++)
				close(rep->fds[i]);
		rep->nfds = 0;
	}
	if (rep->chan >= 0) {
		/*
		 * The caller's own channel, never waited for (MSG_DONTWAIT): it is
		 * empty, so a reply that does not fit is the caller's doing.
		 */
		r = luo_msg_send_flags(rep->chan, MSG_DONTWAIT, op, rep->result, rep->body,
				       rep->len, rep->fds, rep->nfds);
		if (r < 0 && r != -EPIPE && r != -ECONNRESET)
			log_warn("connection of pid %d: reply channel: %s; reply dropped", (int)c->pid,
				 strerror(-r));
		close(rep->chan);
		rep->chan = -1;
	} else {
		/* behind the replies kept already, never ahead of them */
		r = c->pending ? -EAGAIN
			       : luo_msg_send(c->fd, op, rep->result, rep->body, rep->len, rep->fds,
					      rep->nfds);
		if (r == -EAGAIN && (r = pending_store(srv, c, op, rep)) < 0) {
			/* a reply lost: the client must not wait for it, nor take the next for it */
			if (r != -EUSERS) /* limits_fd() said why, sparingly */
				log_warn("connection of pid %d: reply not kept: %s; disconnected",
					 (int)c->pid, strerror(-r));
			shutdown(c->fd, SHUT_RDWR);
		} else if (r < 0 && r != -EAGAIN && r != -EPIPE && r != -ECONNRESET)
			log_warn("connection of pid %d: sending reply: %s", (int)c->pid, strerror(-r));
	}
	if (rep->own_fds)
		for (size_t i = 0; i < rep->nfds; i++)
			close(rep->fds[i]);
}

/* A result alone (errors, refusals), on c or chan. */
static void reply_result(struct server *srv, struct conn *c, uint16_t op, int result, int chan)
{
	struct reply rep;

	rep.result = result;
	rep.len = rep.nfds = 0;
	rep.own_fds = false;
	rep.chan = chan;
	memset(rep.fds, 0, sizeof(rep.fds)); /* none is sent; gcc -O3 cannot tell */
	reply_send(srv, c, op, &rep);
}

static void pending_flush(struct server *srv, struct conn *c)
{
	struct pending *p;

	while ((p = c->pending)) {
		if (luo_msg_send(c->fd, p->op, p->result, p->body, p->len, p->fds, p->nfds) ==
		    -EAGAIN)
			return;
		c->pending = p->next;
		pending_free(p);
	}
	epoll_set(srv, EPOLL_CTL_MOD, c->fd, EPOLLIN, c);
}

/* ---- answers that come later ---- */

void server_wait(struct server *srv, enum server_wait w, struct conn *c, int chan)
{
	if (srv->wait[w].chan >= 0)
		close(srv->wait[w].chan);
	srv->wait[w].c = c;
	srv->wait[w].chan = chan;
}

struct conn *server_waiter(const struct server *srv, enum server_wait w)
{
	return srv->wait[w].c;
}

void server_answer(struct server *srv, enum server_wait w, uint16_t op, int result)
{
	struct conn *c = srv->wait[w].c;
	int chan = srv->wait[w].chan;

	srv->wait[w].c = NULL;
	srv->wait[w].chan = -1;
	if (c)
		reply_result(srv, c, op, result, chan);
	else if (chan >= 0)
		close(chan);
}

/* ---- the watch stream ---- */

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

static void watch_send_all(const struct luo_msg_watch_event *ev, void *ctx)
{
	struct server *srv = ctx;

	for (struct conn *c = srv->conns; c; c = c->next)
		if (c->watcher)
			watch_send_one(ev, c);
}

void server_watch(struct server *srv, struct conn *c)
{
	int r;

	watch_set_sink(watch_send_all, srv);
	watch_scan(); /* the watchers so far learn what changed; the record is current */
	r = luo_msg_send(c->fd, LUO_OP_WATCH, 0, NULL, 0, NULL, 0);
	c->watcher = true;
	srv->nwatchers++;
	if (r < 0) {
		c->watch_dead = true;
		shutdown(c->fd, SHUT_RDWR);
		return;
	}
	watch_snapshot(watch_send_one, c); /* answered above, ahead of its snapshot */
}

/* ---- the loop ---- */

static void conn_readable(struct server *srv, struct conn *c)
{
	unsigned char *request = srv->request;
	struct reply *rep = &srv->reply;
	struct luo_msg_hdr hdr;
	int fds[LUO_FDS_PER_MSG];
	size_t nfds = 0;
	ssize_t n;
	uint16_t op;

	/* a record too short to hold an op leaves 0 here, not the last request's */
	memset(request, 0, sizeof(struct luo_msg_hdr));
	/*
	 * Without close-on-exec: the fds a preserve hands over stay so in luod
	 * (luo_file.exec_ok), and the update's execve carries them with no
	 * call per fd. Every other fd that arrives is closed before this
	 * returns, and nothing else in luod execs while it is open (the
	 * keeper's start closes every fd above 3 itself).
	 */
	n = luo_msg_recv_flags(c->fd, request, sizeof(srv->request), fds, LUO_FDS_PER_MSG, &nfds,
			       0);
	if (n == -EAGAIN)
		return;
	if (n == 0 || n == -ECONNRESET) {
		conn_closed(srv, c);
		return;
	}
	reply_reset(rep);
	if (n < 0) {
		/*
		 * malformed (an empty record too): answered with the op it names,
		 * so that the client's call gets the error; the connection stays
		 * open. A participant's is ignored: it answers, it is not answered.
		 */
		memcpy(&hdr, request, sizeof(hdr));
		log_warn("pid %d: malformed message (op %u): %s", (int)c->pid, (unsigned)hdr.op,
			 strerror((int)-n));
		if (c->participant)
			return;
		if (c->is_session && !(hdr.op & LUO_OP_REPLY_CHANNEL)) {
			/*
			 * Most likely a stray write() on the handle: clients that use
			 * reply channels never read this, so it must not fill the
			 * socket and stop the handle: dropped when it does not fit.
			 * (A request that came with a channel lost it with its fds;
			 * its client reads the handle for this answer.)
			 */
			luo_msg_send(c->fd, hdr.op, (int32_t)n, NULL, 0, NULL, 0);
			return;
		}
		rep->result = (int32_t)n;
		reply_send(srv, c, hdr.op, rep);
		return;
	}
	memcpy(&hdr, request, sizeof(hdr));
	if ((hdr.op & LUO_OP_REPLY_CHANNEL) && !c->participant && nfds) {
		/* the reply goes to the request's own channel, its first fd (protocol.h) */
		rep->chan = fds[0];
		memmove(fds, fds + 1, --nfds * sizeof(int));
		hdr.op &= (uint16_t)~LUO_OP_REPLY_CHANNEL;
		hdr.nfds--;
		memcpy(request, &hdr, sizeof(hdr));
		if (!c->is_session && (hdr.op == LUO_OP_WATCH || hdr.op == LUO_OP_UPDATE ||
				       hdr.op == LUO_OP_PARTICIPANT_REGISTER)) {
			/* these make the connection what it is: their replies are its own */
			for (size_t i = 0; i < nfds; i++)
				luo_close(fds[i]);
			rep->result = -EINVAL;
			reply_send(srv, c, hdr.op, rep);
			return;
		}
	}
	op = hdr.op;
	if ((size_t)n > luo_limits.message) {
		/* well-formed but larger than luod accepts (--max-message-size) */
		log_warn("pid %d: %zd-byte message refused (--max-message-size %zu)", (int)c->pid, n,
			 luo_limits.message);
		for (size_t i = 0; i < nfds; i++)
			luo_close(fds[i]);
		if (c->participant) {
			participant_answer(c->participant, -EMSGSIZE, NULL, 0, false);
			return;
		}
		rep->result = -EMSGSIZE;
		reply_send(srv, c, op, rep);
		return;
	}
	if (c->participant) {
		for (size_t i = 0; i < nfds; i++)
			luo_close(fds[i]);
		participant_message(c, request, (size_t)n);
		return;
	}
	if (c->is_session) {
		rep->result = session_request(c, request, (size_t)n, fds, &nfds, rep);
	} else if (op == LUO_OP_KERNEL_STATUS || op == LUO_OP_KERNEL_UPDATE) {
		rep->result = kernel_request(srv->cfg->backend, c, request, (size_t)n, fds, nfds, rep);
	} else {
		struct luo_request req;

		rep->result = request_decode(LUO_CONN_DEVICE, request, (size_t)n, nfds, &req) ?:
			      device_request(srv, c, &req, rep);
	}
	for (size_t i = 0; i < nfds; i++)
		luo_close(fds[i]); /* a client's, not taken: its close may wait (base/closer.c) */
	holder_flush(); /* what this request released is gone from the keeper too */
	if (rep->result != REPLY_LATER)
		reply_send(srv, c, op, rep);
	else
		reply_reset(rep); /* a channel the op did not keep is closed */
	if (srv->cfg->backend->reboot)
		srv->cfg->backend->reboot(); /* a kernel update answered: now the kexec */
}

static void conn_event(struct server *srv, struct conn *c, uint32_t events)
{
	if (c->watcher) {
		/* an event stream: whatever comes from the watcher's side ends it */
		if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
			conn_closed(srv, c);
		return;
	}
	if (c->pending && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
		pending_flush(srv, c);
		if (c->pending && (events & (EPOLLERR | EPOLLHUP)))
			conn_closed(srv, c);
		return;
	}
	if (events & EPOLLIN)
		conn_readable(srv, c);
	else if (events & (EPOLLERR | EPOLLHUP))
		conn_closed(srv, c);
}

/*
 * A connection refused before its first request: told why (an op-0 error,
 * which libluo returns from whatever call it makes), then closed. Shut
 * down first and drained, so that no request can be left unread in it: a
 * UNIX socket closed with unread data resets its peer, which would lose
 * the answer. recv() without control data drops any fds that came along.
 */
static void conn_refuse(int fd, int err)
{
	char buf[256];

	luo_msg_send(fd, 0, err, NULL, 0, NULL, 0);
	shutdown(fd, SHUT_RDWR);
	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC) > 0)
		;
	close(fd);
}

static void accept_all(struct server *srv)
{
	for (;;) {
		struct ucred cred;
		socklen_t len = sizeof(cred);
		struct conn *c;
		int fd = accept4(srv->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				/* out of fds: stop accepting for a while instead of spinning */
				log_warn("accept: %s; pausing for 100 ms", strerror(errno));
				epoll_set(srv, EPOLL_CTL_DEL, srv->listen_fd, 0, NULL);
				srv->accept_paused = true;
				srv->accept_resume_ns = now_ns() + 100000000u;
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
		if (limits_connect(cred.uid, fd) < 0) {
			conn_refuse(fd, -EUSERS);
			continue;
		}
		c = conn_new(srv, fd, false);
		if (!c) {
			limits_disconnect(cred.uid);
			close(fd);
			continue;
		}
		c->counted = !uid_privileged(cred.uid);
		c->uid = cred.uid;
		c->pid = cred.pid;
	}
}

static void signal_read(struct server *srv)
{
	struct signalfd_siginfo si;

	while (read(srv->signal_fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
			srv->quit = true;
	}
}

static void maybe_write_state(struct server *srv)
{
	uint64_t now;

	if (!srv->dirty)
		return;
	now = now_ns();
	/* global state changes at once; counts at most ten times a second */
	if (!srv->state_changed && now - srv->last_write_ns < 100000000u)
		return;
	luo_statefile_write();
	systemd_status(report_status_line());
	srv->dirty = srv->state_changed = false;
	srv->last_state = core_state();
	srv->last_write_ns = now;
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

static int signals_setup(struct server *srv)
{
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	srv->signal_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	return srv->signal_fd < 0 ? -errno : 0;
}

/*
 * READY=1 (with libsystemd's dlopen(), about 0.5 ms, the first time) is
 * sent once the loop has had nothing to do for READY_QUIET_MS, so not
 * between the requests of clients that reconnected during an update's
 * blackout. If it is never idle, READY_LATEST_MS after it began serving,
 * but not before its READY_LATEST_PASSES-th pass: what waited in the
 * backlog (accepted in the first pass, its requests read in the next) is
 * served first however late the loop got the CPU. The watchdog pings wait
 * for READY=1, so it must come.
 */
#define READY_QUIET_MS 1
#define READY_LATEST_MS 50
#define READY_LATEST_PASSES 8

/*
 * The requester of the update that started this luod gets its report
 * (report/update_report.c) on its connection, which crossed execve and
 * now becomes one of the loop's like any other: a requester that left
 * earlier answers unread gets this one when it reads (luod never waits
 * for it), and what it sent after the update is served, not thrown away
 * with a close that would reset the connection before the answer is read.
 */
static void update_answer(const struct luo_msg_update_reply *rep, void *ctx)
{
	const struct luod_config *cfg = ctx;
	struct server *srv = &the_server;
	struct ucred cred = { .pid = 0 };
	socklen_t len = sizeof(cred);
	int fd = cfg->reply_fd;
	struct conn *c = NULL;

	if (fd < 0)
		return;
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
	    !(c = conn_new(srv, fd, false))) {
		log_warn("the update's requester: %s; answered, then disconnected", strerror(errno));
		luo_msg_send_flags(fd, MSG_DONTWAIT, LUO_OP_UPDATE, 0, rep, sizeof(*rep), NULL, 0);
		close(fd);
		return;
	}
	c->uid = cred.uid; /* privileged, or it could not have asked: not counted */
	c->pid = cred.pid;
	reply_reset(&srv->reply);
	srv->reply.len = sizeof(*rep);
	memcpy(srv->reply.body, rep, sizeof(*rep));
	reply_send(srv, c, LUO_OP_UPDATE, &srv->reply);
}

/* The server's STATUS= line and state file follow every change (core/observer.h). */
static const struct luo_observer server_observer = { .changed = core_changed };

int luod_serve(const struct luod_config *cfg)
{
	struct server *srv = &the_server;
	struct epoll_event evs[64];
	uint64_t ready_from, busy_at;
	unsigned ready_passes = 0;
	int r;

	srv->cfg = cfg;
	srv->last_state = core_state();
	core_observe(&server_observer);
	core_set_server(session_detached, participant_send);
	r = signals_setup(srv);
	if (r < 0) {
		log_err("signals: %s", strerror(-r));
		return r;
	}
	srv->listen_fd = cfg->listen_fd >= 0 ? cfg->listen_fd : listen_socket(cfg->socket_path, cfg->socket_mode, cfg->socket_gid);
	if (srv->listen_fd < 0)
		return srv->listen_fd;
	fcntl(srv->listen_fd, F_SETFL, fcntl(srv->listen_fd, F_GETFL) | O_NONBLOCK);
	srv->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (srv->epfd < 0)
		return -errno;
	if ((r = epoll_set(srv, EPOLL_CTL_ADD, srv->listen_fd, EPOLLIN, &tag_listen)) < 0 ||
	    (r = epoll_set(srv, EPOLL_CTL_ADD, srv->signal_fd, EPOLLIN, &tag_signal)) < 0)
		return r;

	holder_set_watch(keeper_watch);
	if (cfg->update) /* writes the state file first, once */
		update_report_done(cfg->update, cfg->freeze_mark_ns, update_answer, (void *)cfg);
	else
		luo_statefile_write();
	/* a fresh start takes back what a killed luod left with the keeper */
	holder_start(cfg->state_dir, !cfg->update);
	log_info("serving %s (generation %" PRIu64 ", state %s, %zu sessions, %zu files)",
		 cfg->listen_activated ? "the activated socket" : cfg->socket_path,
		 core_generation(), luo_state_name(core_state()), core_session_count(),
		 core_file_count());
	/* clients waiting since the blackout come first: see READY_QUIET_MS */
	systemd_ready_later(report_status_line());
	ready_from = busy_at = now_ns();

	while (!srv->quit) {
		int timeout = srv->dirty || srv->accept_paused ? 100 : -1;
		uint64_t deadline = participant_deadline();
		int wd = systemd_watchdog_timeout_ms(now_ns());
		int n;

		if (wd >= 0 && (timeout < 0 || wd < timeout))
			timeout = wd;
		if (systemd_ready_owed() && (timeout < 0 || timeout > READY_QUIET_MS))
			timeout = READY_QUIET_MS;

		if (deadline) {
			uint64_t now = now_ns();
			int ms = deadline > now ? (int)((deadline - now) / 1000000u) + 1 : 0;

			timeout = timeout < 0 || ms < timeout ? ms : timeout;
		}
		n = epoll_wait(srv->epfd, evs, 64, timeout);

		if (n < 0 && errno != EINTR) {
			r = -errno;
			log_err("epoll_wait: %s", strerror(-r));
			return r;
		}
		/*
		 * Hang-ups first: a handle its process closed before sending a
		 * request elsewhere is gone before that request is handled (its
		 * files free again), as a close() is done with on the kernel.
		 */
		for (int pass = 0; pass < 2; pass++)
			for (int i = 0; i < n; i++) {
				void *p = evs[i].data.ptr;
				bool hup = evs[i].events & (EPOLLHUP | EPOLLERR);

				if (p == &tag_listen || p == &tag_signal || p == &tag_keeper) {
					if (pass == 1 && p == &tag_listen)
						accept_all(srv);
					else if (pass == 1 && p == &tag_signal)
						signal_read(srv);
					else if (pass == 0 && p == &tag_keeper)
						holder_event(); /* before any request: the copy is whole again */
				} else if (hup == (pass == 0)) {
					conn_event(srv, p, evs[i].events);
				}
			}
		participant_tick(now_ns());
		if (systemd_ready_owed()) {
			uint64_t now = now_ns();

			if (n > 0)
				busy_at = now;
			if (now - busy_at >= READY_QUIET_MS * 1000000ull ||
			    (++ready_passes >= READY_LATEST_PASSES &&
			     now - ready_from >= READY_LATEST_MS * 1000000ull))
				systemd_ready_now();
		}
		systemd_watchdog(now_ns()); /* from the loop itself: a stuck loop stops the pings */
		if (srv->accept_paused && now_ns() >= srv->accept_resume_ns) {
			srv->accept_paused = false;
			epoll_set(srv, EPOLL_CTL_ADD, srv->listen_fd, EPOLLIN, &tag_listen);
		}
		watch_scan(); /* sessions and participants that changed in this pass */
		maybe_write_state(srv);
	}

	systemd_stopping();
	if (core_file_count())
		log_warn("stopping with %zu sessions and %zu preserved files; they are released",
			 core_session_count(), core_file_count());
	else
		log_info("stopping");
	while (srv->conns) {
		/* the session outlives its handle here: it must not point at a freed conn */
		if (srv->conns->session)
			srv->conns->session->handle = NULL;
		srv->conns->session = NULL;
		conn_free(srv, srv->conns);
	}
	holder_stop(); /* a clean stop releases everything: so does the keeper */
	core_free_all();
	if (!cfg->listen_activated) /* else the socket unit owns the path */
		unlink(cfg->socket_path);
	close(srv->listen_fd);
	close(srv->signal_fd);
	close(srv->epfd);
	return 0;
}
