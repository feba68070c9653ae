// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * DOC: luod's side of the keeper (keeper.c): crash survival.
 *
 * Every change to what luod holds is mirrored as it happens: a session
 * created (PUT "s/NAME\0", its uid), a file preserved (PUT
 * "s/NAME\0TOKEN" with the handler's compatible string and payload, and the
 * fd itself), a file or session gone (DEL / DELP). The messages go out in
 * order on one blocking SOCK_SEQPACKET connection before the client's reply
 * does, so once a client has been told "preserved", the fd is in the
 * keeper's queue and survives luod's death. A request that dropped files
 * ends with a SYNC round trip (holder_flush), so a released fd is closed in
 * the keeper too before the client hears back (a pipe's reader sees EOF as
 * it would without the keeper).
 *
 * A fresh luod finds the keeper at STATE_DIR/keeper.sock and takes
 * everything back (holder_start with recover): each session comes back as
 * an incoming session, retrievable by name once, exactly as after an
 * update, because every process that held a handle lost it as in a kexec.
 * Files are re-recorded by their handler's freeze(), as a FREEZE would
 * have done: the state they are in now is what the next process finds.
 *
 * Across the update's execve the keeper stays: the sessions that do not
 * cross (incoming ones the update releases) are dropped just before it,
 * and put back if execve fails. The successor reconnects; the keeper has
 * read the old connection to its end first.
 *
 * The mirror is a copy, never the authority: if the keeper cannot be
 * reached luod warns, starts a new one and sends it everything.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crash/keeper.h"
#include "base/fault.h"

#define KEEPER_TIMEOUT_S 5

static struct {
	int sock;       /* -1: no keeper */
	bool enabled;   /* mirroring wanted (not stopped, path usable) */
	bool lost;      /* the connection broke: start a new keeper at the next flush */
	bool dirty;     /* something was dropped since the last SYNC */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
} hd = { .sock = -1 };

/* PUTs waiting to go out as one PUTV (see keeper_put()) */
static struct {
	unsigned char buf[KEEPER_BATCH_MAX];
	size_t len;
	int fds[KEEPER_BATCH_FDS];
	size_t nfds;
} ob;

static const char *keeper_key_prefix = "s/";

/* "s/NAME\0" and, for a file, the token's 8 bytes after it. */
static size_t make_key(unsigned char *key, const char *name, const uint64_t *token)
{
	size_t n = strlen(name), len = 2 + n + 1;

	memcpy(key, keeper_key_prefix, 2);
	memcpy(key + 2, name, n + 1);
	if (token) {
		memcpy(key + len, token, 8);
		len += 8;
	}
	return len;
}

static int send_msg(uint32_t op, const void *key, size_t key_len, const void *d1, size_t l1,
		    const void *d2, size_t l2, int fd)
{
	struct keeper_msg m = { KEEPER_MAGIC, op, (uint32_t)key_len, (uint32_t)(l1 + l2) };
	struct iovec iov[4] = {
		{ &m, sizeof(m) }, { (void *)key, key_len }, { (void *)d1, l1 }, { (void *)d2, l2 },
	};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control;
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 4 };
	ssize_t n;

	if (fd >= 0)
		luo_msg_attach_fds(&msg, control.buf, &fd, 1);
	do
		n = sendmsg(hd.sock, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : 0;
}

static void lose(const char *what, int err)
{
	ob.len = ob.nfds = 0; /* the new keeper gets everything anyway */
	log_warn("keeper: %s: %s; starting a new one", what, strerror(-err));
	close(hd.sock);
	hd.sock = -1;
	hd.lost = true;
}

/*
 * PUTs wait here and go out as one PUTV per batch (253 fds at most, one
 * SCM_RIGHTS message): a batch of preserves costs one message, not one
 * per fd. Anything else sends the batch first, so the order holds, and so
 * does holder_flush(), which runs before every reply: a client hears
 * "preserved" only once the batch is in the keeper's queue. An fd waiting
 * here is luod's own copy, still open: dropping a file sends the batch
 * before the fd is closed.
 */

static void batch_send(void)
{
	struct keeper_msg m = { KEEPER_MAGIC, KEEPER_PUTV, 0, (uint32_t)ob.len };
	struct iovec iov[2] = { { &m, sizeof(m) }, { ob.buf, ob.len } };
	union {
		char buf[CMSG_SPACE(sizeof(int) * KEEPER_BATCH_FDS)];
		struct cmsghdr align;
	} control;
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };
	ssize_t n;

	if (!ob.len)
		return;
	luo_msg_attach_fds(&msg, control.buf, ob.fds, ob.nfds);
	ob.len = ob.nfds = 0;
	if (hd.sock < 0)
		return;
	if (FAULT("keeper")) {
		lose("sending", -EPIPE);
		return;
	}
	do
		n = sendmsg(hd.sock, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		lose("sending", -errno);
}

static void keeper_put(const void *key, size_t key_len, const void *d1, size_t l1, const void *d2,
		       size_t l2, int fd)
{
	struct keeper_rec rec = { (uint32_t)key_len, (uint32_t)(l1 + l2), fd >= 0 };
	size_t need = sizeof(rec) + key_len + l1 + l2;

	if (hd.sock < 0)
		return;
	if (need > sizeof(ob.buf))
		return; /* cannot happen: keys and payloads are bounded far below */
	if (ob.len + need > sizeof(ob.buf) || (fd >= 0 && ob.nfds == KEEPER_BATCH_FDS))
		batch_send();
	memcpy(ob.buf + ob.len, &rec, sizeof(rec));
	memcpy(ob.buf + ob.len + sizeof(rec), key, key_len);
	if (l1)
		memcpy(ob.buf + ob.len + sizeof(rec) + key_len, d1, l1);
	if (l2)
		memcpy(ob.buf + ob.len + sizeof(rec) + key_len + l1, d2, l2);
	ob.len += need;
	if (fd >= 0)
		ob.fds[ob.nfds++] = fd;
}

static void keeper_send(uint32_t op, const void *key, size_t key_len, const void *d1, size_t l1,
			const void *d2, size_t l2, int fd)
{
	int r;

	batch_send();
	if (hd.sock < 0)
		return;
	r = FAULT("keeper") ? -EPIPE : send_msg(op, key, key_len, d1, l1, d2, l2, fd);
	if (r < 0)
		lose("sending", r);
}

/*
 * One message from the keeper; *fd gets its fd or -1. Returns the op, or
 * -errno. The receive timeout set on the socket bounds the wait.
 */
static int recv_msg(unsigned char *buf, size_t len, struct keeper_msg *m, int *fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr align;
	} control;
	struct iovec iov = { buf, len };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = control.buf, .msg_controllen = sizeof(control.buf),
	};
	ssize_t n;
	int nfds = 0;

	*fd = -1;
	do
		n = recvmsg(hd.sock, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -ECONNRESET;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
			int f;

			memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (nfds++ == 0)
				*fd = f;
			else
				close(f);
		}
	}
	memcpy(m, buf, (size_t)n >= sizeof(*m) ? sizeof(*m) : 0);
	if ((size_t)n < sizeof(*m) || m->magic != KEEPER_MAGIC ||
	    (size_t)n != sizeof(*m) + m->key_len + m->data_len || nfds > 1 ||
	    (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
		if (*fd >= 0)
			close(*fd);
		*fd = -1;
		return -EBADMSG;
	}
	return (int)m->op;
}

static int sync_keeper(void)
{
	unsigned char buf[sizeof(struct keeper_msg) + 64];
	struct keeper_msg m;
	int fd, r;

	r = send_msg(KEEPER_SYNC, NULL, 0, NULL, 0, NULL, 0, -1);
	if (r < 0)
		return r;
	r = recv_msg(buf, sizeof(buf), &m, &fd);
	if (fd >= 0)
		close(fd);
	if (r < 0)
		return r;
	return r == KEEPER_END ? 0 : -EPROTO;
}

static int set_timeouts(int fd)
{
	struct timeval tv = { .tv_sec = KEEPER_TIMEOUT_S };

	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
		return -errno;
	return 0;
}

static int connect_keeper(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, r;

	memcpy(sa.sun_path, hd.path, sizeof(hd.path));
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	r = set_timeouts(fd);
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

/*
 * A new keeper: luod binds and listens itself, so the connection that
 * follows cannot race the keeper's start, then hands the socket over as
 * fd 3 to "luod --keeper", double-forked so that it is nobody's child.
 */
static int spawn_keeper(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	bool keep_stderr = fstat(2, &st) == 0 && S_ISREG(st.st_mode);
	pid_t pid;
	int lfd, r, status;

	memcpy(sa.sun_path, hd.path, sizeof(hd.path));
	lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		return -errno;
	unlink(hd.path); /* a keeper that answered nothing, or a stale file */
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(hd.path, 0600) < 0 ||
	    listen(lfd, 8) < 0) {
		r = -errno;
		close(lfd);
		return r;
	}
	pid = fork();
	if (pid < 0) {
		r = -errno;
		close(lfd);
		return r;
	}
	if (pid == 0) {
		char *argv[] = { "luod-keeper", "--keeper", NULL };
		int null;

		setsid();
		if (fork() != 0)
			_exit(0);
		null = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (null < 0 || dup2(lfd, 3) < 0)
			_exit(127);
		dup2(null, 0);
		dup2(null, 1);
		/* its stderr: luod's log file, never a pipe someone waits on to close */
		if (!keep_stderr)
			dup2(null, 2);
		close_range(4, ~0u, 0);
		execv(luod_self_exe(), argv);
		_exit(127);
	}
	close(lfd);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return connect_keeper();
}

/* ---- recovery ---- */

static struct luo_session *recover_session(const char *name, uid_t uid)
{
	struct luo_session *s = core_find_session(name);

	if (s)
		return s;
	if (session_new(name, uid, true, &s) < 0)
		return NULL;
	core_add_session(s);
	return s;
}

/* One file record: u32 compatible length, compatible, payload. Takes fd. */
static int recover_file(const char *name, uint64_t token, const unsigned char *data, size_t len,
			int fd)
{
	char compat[64];
	uint32_t clen;
	const struct luo_file_handler *h;
	struct luo_session *s;
	struct luo_file *f;
	int r;

	if (len < 4)
		return -EBADMSG;
	memcpy(&clen, data, 4);
	if (clen == 0 || clen >= sizeof(compat) || clen > len - 4)
		return -EBADMSG;
	memcpy(compat, data + 4, clen);
	compat[clen] = '\0';
	h = luo_handler_by_compatible(compat);
	if (!h)
		return -ENOENT;
	s = recover_session(name, 0); /* no session record: root's */
	if (!s)
		return -ENOMEM;
	if (session_find_file(s, token))
		return -EEXIST;
	r = file_restore(s, fd, token, h, data + 4 + clen, len - 4 - clen, &f);
	if (r < 0)
		return r;
	/* what a FREEZE would record: the state the next process will find */
	if (h->freeze(f) < 0)
		log_warn("keeper: session %s token %" PRIu64 ": could not re-record it; kept as it was",
			 name, token);
	r = session_add_file(s, f);
	if (r < 0) {
		f->fd = -1; /* the caller closes fd */
		file_release(f);
	}
	return r;
}

static int recover(void)
{
	static unsigned char buf[sizeof(struct keeper_msg) + KEEPER_KEY_MAX + KEEPER_DATA_MAX];
	size_t sessions_before = luo_core.nsessions, lost = 0;
	int r;

	r = send_msg(KEEPER_LIST, NULL, 0, NULL, 0, NULL, 0, -1);
	if (r < 0)
		return r;
	for (;;) {
		struct keeper_msg m;
		const unsigned char *key = buf + sizeof(m), *data;
		const char *name;
		size_t nlen;
		int fd;

		r = recv_msg(buf, sizeof(buf), &m, &fd);
		if (r < 0)
			return r;
		if (r == KEEPER_END)
			break;
		data = key + m.key_len;
		if (r != KEEPER_PUT || m.key_len < 3 || memcmp(key, keeper_key_prefix, 2)) {
			if (fd >= 0)
				close(fd);
			continue;
		}
		name = (const char *)key + 2;
		nlen = strnlen(name, m.key_len - 2);
		if (nlen == 0 || nlen >= LUO_NAME_MAX || 2 + nlen + 1 > m.key_len) {
			lost++;
		} else if (m.key_len == 2 + nlen + 1) {
			uint32_t uid = 0;

			if (m.data_len >= 4)
				memcpy(&uid, data, 4);
			if (!recover_session(name, (uid_t)uid))
				lost++;
		} else if (m.key_len == 2 + nlen + 1 + 8 && fd >= 0) {
			uint64_t token;

			memcpy(&token, key + 2 + nlen + 1, 8);
			r = recover_file(name, token, data, m.data_len, fd);
			if (r < 0) {
				log_warn("keeper: session %s token %" PRIu64 ": not recovered: %s", name,
					 token, strerror(-r));
				lost++;
			} else {
				fd = -1;
			}
		} else {
			lost++;
		}
		if (fd >= 0)
			close(fd);
	}
	if (luo_core.nsessions > sessions_before) {
		luo_core.state = LUO_STATE_UPDATED;
		luo_core.generation++;
		core_notify();
	}
	log_info("keeper: recovered %zu sessions, %zu files after luod was killed%s",
		 luo_core.nsessions - sessions_before, luo_core.nfiles,
		 lost ? " (some entries could not be used: see above)" : "");
	return 0;
}

/* Everything luod holds, to a keeper that has none of it. */
static void resync(void)
{
	for (struct luo_session *s = luo_core.sessions; s; s = s->next) {
		mirror_session(s);
		for (size_t i = 0; i < s->nfiles; i++)
			mirror_file(s->files[i]);
	}
}

/*
 * Connect to the keeper, or start one. recover_state: take back what it
 * holds (a fresh luod). reset: it may hold a stale copy (a message to it
 * was lost), so empty it and send everything again.
 */
static int attach(bool recover_state, bool reset)
{
	int fd = connect_keeper(), r;
	bool fresh = false;

	if (fd >= 0) {
		hd.sock = fd;
		if (sync_keeper() < 0) {
			/* bound but gone (an old keeper on its way out): start another */
			close(fd);
			hd.sock = -1;
			fd = -1;
		}
	}
	if (fd < 0) {
		fd = spawn_keeper();
		if (fd < 0)
			return fd;
		hd.sock = fd;
		fresh = true;
		log_info("keeper: started, %s", hd.path);
	}
	hd.lost = false;
	if (!fresh && recover_state) {
		r = recover();
		if (r < 0)
			log_err("keeper: reading what it holds: %s", strerror(-r));
		return 0;
	}
	if (!fresh && reset) {
		unsigned char all[2];

		/* every key starts with "s/": this prefix drops them all */
		memcpy(all, keeper_key_prefix, 2);
		keeper_send(KEEPER_DELP, all, 2, NULL, 0, NULL, 0, -1);
	}
	if ((fresh || reset) && luo_core.sessions)
		resync(); /* the keeper died, lost a message, or a successor found none */
	batch_send();
	return hd.sock >= 0 ? 0 : -EPIPE;
}

int holder_start(const char *state_dir, bool recover_state)
{
	const char *off = getenv("LUOD_NO_KEEPER");
	int r;

	if (off && *off && strcmp(off, "0")) {
		log_info("keeper: off ($LUOD_NO_KEEPER)");
		if (recover_state)
			fdstore_recover();
		return 0;
	}
	if ((size_t)snprintf(hd.path, sizeof(hd.path), "%s/keeper.sock", state_dir) >=
	    sizeof(hd.path)) {
		log_warn("keeper: %s/keeper.sock is too long for a socket; running without a keeper",
			 state_dir);
		return -ENAMETOOLONG;
	}
	hd.enabled = true;
	r = attach(recover_state, false);
	if (r < 0) {
		log_warn("keeper: cannot start one: %s; a crash of luod would lose what it holds",
			 strerror(-r));
		hd.lost = true;
	}
	/* under systemd, what its fd store kept and the keeper did not (it dies with the cgroup) */
	if (recover_state)
		fdstore_recover();
	batch_send();
	return r;
}

void holder_stop(void)
{
	if (hd.sock >= 0) {
		send_msg(KEEPER_QUIT, NULL, 0, NULL, 0, NULL, 0, -1);
		close(hd.sock);
	}
	hd.sock = -1;
	hd.enabled = false;
}

void holder_flush(void)
{
	int r;

	if (!hd.enabled)
		return;
	if (!hd.lost) {
		batch_send();
		if (!hd.lost && hd.dirty && hd.sock >= 0) {
			hd.dirty = false;
			r = sync_keeper();
			if (r < 0)
				lose("waiting for it", r);
		}
	}
	/* before the reply: what the client is about to be told must be kept */
	if (hd.lost) {
		hd.dirty = false;
		if (attach(false, true) < 0)
			hd.lost = true;
	}
}

void holder_before_exec(void)
{
	for (struct luo_session *s = luo_core.sessions; s; s = s->next)
		if (s->incoming || s->state != LUO_STATE_FROZEN)
			mirror_session_gone(s);
	batch_send(); /* nothing may wait here across the execve */
}

void holder_exec_failed(void)
{
	resync();
	batch_send();
}

/* ---- the mirror ---- */

void mirror_session(const struct luo_session *s)
{
	unsigned char key[KEEPER_KEY_MAX];
	uint32_t uid = (uint32_t)s->uid;

	if (hd.enabled)
		keeper_put(key, make_key(key, s->name, NULL), &uid, sizeof(uid), NULL, 0, -1);
	fdstore_put_session(s);
}

void mirror_session_gone(const struct luo_session *s)
{
	unsigned char key[KEEPER_KEY_MAX];

	if (hd.enabled) {
		keeper_send(KEEPER_DELP, key, make_key(key, s->name, NULL), NULL, 0, NULL, 0, -1);
		hd.dirty = true;
	}
	fdstore_remove_session(s);
}

void mirror_file(const struct luo_file *f)
{
	unsigned char key[KEEPER_KEY_MAX], head[4 + 64];
	uint32_t clen = (uint32_t)strlen(f->handler->compatible);

	if (f->fd < 0)
		return; /* a file that did not cross a kexec: nothing to keep */
	if (hd.enabled && clen < 64) {
		memcpy(head, &clen, 4);
		memcpy(head + 4, f->handler->compatible, clen);
		keeper_put(key, make_key(key, f->session->name, &f->token), head, 4 + clen,
			   f->payload, f->payload_len, f->fd);
	}
	fdstore_put_file(f);
}

void mirror_file_gone(const struct luo_file *f)
{
	unsigned char key[KEEPER_KEY_MAX];

	if (!f->session)
		return;
	if (hd.enabled) {
		keeper_send(KEEPER_DEL, key, make_key(key, f->session->name, &f->token), NULL, 0,
			    NULL, 0, -1);
		hd.dirty = true;
	}
	fdstore_remove_file(f);
}
