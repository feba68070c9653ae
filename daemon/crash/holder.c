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
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/observer.h"
#include "crash/keeper.h"
#include "base/fault.h"

#define KEEPER_TIMEOUT_S 5

static struct {
	int sock;       /* -1: no keeper */
	bool enabled;   /* mirroring wanted (not stopped, path usable) */
	bool lost;      /* the connection broke: start a new keeper at the next flush */
	bool dirty;     /* something was dropped since the last SYNC */
	bool watched;   /* sock is in the server's loop */
	uint64_t failures; /* connections to a keeper lost, or none could be had */
	uint32_t version;  /* the keeper's protocol (keeper_proto.h), from its SYNC */
	void (*watch)(int fd, bool on); /* the server's loop (holder_set_watch) */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
} hd = { .sock = -1 };

static void unwatch(void)
{
	if (hd.watched && hd.watch)
		hd.watch(hd.sock, false);
	hd.watched = false;
}

static void watch(void)
{
	if (!hd.watched && hd.sock >= 0 && hd.watch) {
		hd.watch(hd.sock, true);
		hd.watched = true;
	}
}

void holder_set_watch(void (*fn)(int fd, bool on))
{
	hd.watch = fn;
	watch();
}

/* PUTs waiting to go out as one PUTV, or DELs as one DELV (see keeper_put()) */
static struct {
	uint32_t op; /* KEEPER_PUTV or KEEPER_DELV */
	unsigned char buf[KEEPER_BATCH_MAX];
	size_t len;
	int fds[KEEPER_BATCH_FDS];
	size_t nfds;
} ob;

static const char *keeper_key_prefix = "s/";
static const char lineage_key[] = "g/lineage"; /* outside "s/": a reset keeps it */

/* generation, update count and history found by the recovery, from any copy */
static struct lineage found;

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
	struct iovec iov[2] = { { (void *)d1, l1 }, { (void *)d2, l2 } };

	return keeper_msg_send(hd.sock, op, key, key_len, iov, 2, &fd, fd >= 0);
}

static void lose(const char *what, int err)
{
	ob.len = ob.nfds = 0; /* the new keeper gets everything anyway */
	log_warn("keeper: %s: %s; starting a new one", what, strerror(-err));
	hd.failures++;
	unwatch();
	close(hd.sock);
	hd.sock = -1;
	hd.lost = true;
}

/*
 * PUTs wait here and go out as one PUTV per batch (253 fds at most, one
 * SCM_RIGHTS message): a batch of preserves costs one message, not one
 * per fd. DELs wait the same way as one DELV, to a keeper that knows it
 * (version 2): finishing 10,000 files is a few messages, not 10,000.
 * Anything else, a PUT after DELs and a DEL after PUTs included, sends the
 * batch first, so the order holds, and so does holder_flush(), which runs
 * before every reply: a client hears "preserved" only once the batch is
 * in the keeper's queue, and a dropped file is gone from the keeper (the
 * SYNC after it) before the reply. An fd waiting here is luod's own copy,
 * still open: dropping a file sends the batch before the fd is closed.
 */

static void batch_send(void)
{
	struct iovec iov = { ob.buf, ob.len };
	size_t nfds = ob.nfds;
	int r;

	if (!ob.len)
		return;
	ob.len = ob.nfds = 0;
	if (hd.sock < 0)
		return;
	if (FAULT("keeper")) {
		lose("sending", -EPIPE);
		return;
	}
	r = keeper_msg_send(hd.sock, ob.op, NULL, 0, &iov, 1, ob.fds, nfds);
	if (r < 0)
		lose("sending", r);
}

/* One record into the batch of op (PUTV, or DELV: no data, no fd). */
static void batch_add(uint32_t op, const void *key, size_t key_len, const void *d1, size_t l1,
		      const void *d2, size_t l2, int fd)
{
	struct keeper_rec rec = { (uint32_t)key_len, (uint32_t)(l1 + l2), fd >= 0 };
	size_t need = sizeof(rec) + key_len + l1 + l2;

	if (hd.sock < 0)
		return;
	if (need > sizeof(ob.buf))
		return; /* cannot happen: keys and payloads are bounded far below */
	if (ob.op != op || ob.len + need > sizeof(ob.buf) ||
	    (fd >= 0 && ob.nfds == KEEPER_BATCH_FDS))
		batch_send();
	ob.op = op;
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

static void keeper_put(const void *key, size_t key_len, const void *d1, size_t l1, const void *d2,
		       size_t l2, int fd)
{
	batch_add(KEEPER_PUTV, key, key_len, d1, l1, d2, l2, fd);
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
	size_t nfds;
	int r = keeper_msg_recv(hd.sock, buf, len, 0, m, fd, 1, &nfds);

	if (r < 0 || nfds == 0)
		*fd = -1;
	return r;
}

static int sync_keeper(void)
{
	static unsigned char buf[KEEPER_MSG_MAX];
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
	if (r != KEEPER_END)
		return -EPROTO;
	/* a version 1 keeper's END carries nothing */
	hd.version = 1;
	if (m.key_len == 0 && m.data_len >= sizeof(hd.version))
		memcpy(&hd.version, buf + sizeof(m), sizeof(hd.version));
	return 0;
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

		/*
		 * Every other fd is closed here, in the child luod waits for, not
		 * after the second fork: once this returns, no process holds a
		 * copy of luod's fds. A grandchild not yet scheduled would keep
		 * luod's listening socket alive past a SIGKILL of luod, and the
		 * luod started next would take it for another luod serving.
		 */
		if (dup2(lfd, 3) < 0 || fcntl(3, F_SETFD, 0) < 0)
			_exit(127);
		null = open("/dev/null", O_RDWR);
		if (null < 0)
			_exit(127);
		dup2(null, 0);
		dup2(null, 1);
		/* its stderr: luod's log file, never a pipe someone waits on to close */
		if (!keep_stderr)
			dup2(null, 2);
		close_range(4, ~0u, 0);
		setsid();
		if (fork() != 0)
			_exit(0);
		luod_test_pause("keeper-start"); /* a keeper not scheduled yet, as on a loaded machine */
		execv(luod_self_exe(), argv);
		_exit(127);
	}
	close(lfd);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return connect_keeper();
}

/* ---- recovery ---- */

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
	s = core_incoming_session(name, 0, NULL); /* no session record: root's */
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
	static unsigned char buf[KEEPER_MSG_MAX];
	size_t sessions_before = core_session_count(), lost = 0;
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
		if (r == KEEPER_PUT && m.key_len == sizeof(lineage_key) - 1 &&
		    !memcmp(key, lineage_key, m.key_len)) {
			if (lineage_decode(data, m.data_len, &found) < 0)
				log_warn("keeper: its generation and history record does not parse");
			if (fd >= 0)
				close(fd);
			continue;
		}
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
			if (!core_incoming_session(name, (uid_t)uid, NULL))
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
	log_info("keeper: recovered %zu sessions, %zu files after luod was killed%s",
		 core_session_count() - sessions_before, core_file_count(),
		 lost ? " (some entries could not be used: see above)" : "");
	return 0;
}

/* The lineage record to both copies, when it changed (or force). */
static void mirror_lineage(bool force)
{
	static unsigned char buf[LINEAGE_MAX];
	size_t len;

	if (!lineage_changed() && !force)
		return;
	len = lineage_encode(buf, sizeof(buf));
	if (!len)
		return;
	if (hd.enabled)
		keeper_put(lineage_key, sizeof(lineage_key) - 1, buf, len, NULL, 0, -1);
	fdstore_put_lineage(buf, len);
}

/* Everything luod holds, to a keeper that has none of it. */
static void resync(void)
{
	mirror_lineage(true);
	for (struct luo_session *s = core_first_session(); s; s = s->next) {
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
		/* its version, and that it runs: the executable may not be luod's own image */
		r = sync_keeper();
		if (r < 0) {
			close(fd);
			hd.sock = -1;
			return r;
		}
		fresh = true;
		log_info("keeper: started, %s", hd.path);
	}
	hd.lost = false;
	if (!fresh && recover_state) {
		r = recover();
		if (r < 0)
			log_err("keeper: reading what it holds: %s", strerror(-r));
		watch();
		return 0;
	}
	/*
	 * A keeper that may hold a stale copy (a message to it was lost):
	 * everything is sent again between MARK and SWEEP, so what luod no
	 * longer holds goes and a crash in the middle empties nothing.
	 */
	if (!fresh && reset)
		keeper_send(KEEPER_MARK, NULL, 0, NULL, 0, NULL, 0, -1);
	if (fresh || reset)
		resync(); /* the keeper died, lost a message, or a successor found none */
	if (!fresh && reset) {
		keeper_send(KEEPER_SWEEP, NULL, 0, NULL, 0, NULL, 0, -1);
		hd.dirty = true; /* released fds close in the keeper before the next reply */
	}
	batch_send();
	watch();
	return hd.sock >= 0 ? 0 : -EPIPE;
}

int holder_start(const char *state_dir, bool recover_state)
{
	const char *off = getenv("LUOD_NO_KEEPER");
	size_t before;
	int r;

	if (!recover_state)
		fdstore_adopt_handover(); /* the predecessor stored what it handed over */

	if (off && *off && strcmp(off, "0")) {
		log_info("keeper: off ($LUOD_NO_KEEPER)");
		if (recover_state) {
			size_t before = core_session_count();

			fdstore_recover(&found);
			lineage_adopt(&found, core_session_count() - before);
		}
		mirror_lineage(false);
		return 0;
	}
	if ((size_t)snprintf(hd.path, sizeof(hd.path), "%s/keeper.sock", state_dir) >=
	    sizeof(hd.path)) {
		log_warn("keeper: %s/keeper.sock is too long for a socket; running without a keeper",
			 state_dir);
		return -ENAMETOOLONG;
	}
	hd.enabled = true;
	before = core_session_count();
	r = attach(recover_state, false);
	if (r < 0) {
		log_warn("keeper: cannot start one: %s; a crash of luod would lose what it holds",
			 strerror(-r));
		hd.failures++;
		hd.lost = true;
	}
	/* under systemd, what its fd store kept and the keeper did not (it dies with the cgroup) */
	if (recover_state) {
		fdstore_recover(&found);
		lineage_adopt(&found, core_session_count() - before);
	}
	mirror_lineage(false);
	batch_send();
	return r;
}

void holder_stop(void)
{
	fdstore_remove_lineage(); /* a clean stop lets everything go */
	unwatch();
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

	mirror_lineage(false); /* an update, a cancel or a failure changed it */
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
		if (attach(false, true) < 0) {
			if (!hd.lost)
				hd.failures++;
			hd.lost = true;
		}
	}
}

/*
 * The keeper never speaks unasked: its socket readable or hung up in the
 * server's loop means it is gone (killed, or it replaced us with another
 * peer). A new one is started and sent everything at once, not at the next
 * request, so a crash of luod in between loses nothing.
 */
void holder_event(void)
{
	if (!hd.enabled || hd.sock < 0)
		return;
	lose("connection ended", -ECONNRESET);
	holder_flush();
}

enum holder_state holder_state(uint64_t *failures)
{
	*failures = hd.failures;
	if (!hd.enabled)
		return HOLDER_OFF;
	return hd.sock >= 0 && !hd.lost ? HOLDER_OK : HOLDER_LOST;
}

void holder_before_exec(void)
{
	for (struct luo_session *s = core_first_session(); s; s = s->next)
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

void mirror_session(struct luo_session *s)
{
	unsigned char key[KEEPER_KEY_MAX];
	uint32_t uid = (uint32_t)s->uid;

	if (hd.enabled)
		keeper_put(key, make_key(key, s->name, NULL), &uid, sizeof(uid), NULL, 0, -1);
	fdstore_put_session(s);
}

void mirror_session_gone(struct luo_session *s)
{
	unsigned char key[KEEPER_KEY_MAX];

	if (hd.enabled) {
		keeper_send(KEEPER_DELP, key, make_key(key, s->name, NULL), NULL, 0, NULL, 0, -1);
		hd.dirty = true;
	}
	fdstore_remove_session(s);
}

void mirror_file(struct luo_file *f)
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

void mirror_file_gone(struct luo_file *f)
{
	unsigned char key[KEEPER_KEY_MAX];

	if (!f->session)
		return;
	if (hd.enabled) {
		size_t len = make_key(key, f->session->name, &f->token);

		if (hd.version >= 2)
			batch_add(KEEPER_DELV, key, len, NULL, 0, NULL, 0, -1);
		else
			keeper_send(KEEPER_DEL, key, len, NULL, 0, NULL, 0, -1);
		hd.dirty = true;
	}
	fdstore_remove_file(f);
}

static void update_step(enum luo_obs_step step, int result)
{
	(void)result;
	if (step == LUO_OBS_UPDATE_EXEC)
		holder_before_exec(); /* the keeper drops what does not cross */
	else if (step == LUO_OBS_UPDATE_EXEC_FAILED)
		holder_exec_failed();
}

static const struct luo_observer crash_observer = {
	.session_added = mirror_session,
	.session_gone = mirror_session_gone,
	.file_added = mirror_file,
	.file_gone = mirror_file_gone,
	.update_step = update_step,
};

void crash_observe(void)
{
	core_observe(&crash_observer);
}
