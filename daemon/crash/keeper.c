// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * DOC: The keeper process: an fd holder, like s6-fdholder, for luod alone.
 *
 * luod starts it (its own binary, run as "luod --keeper") on a fresh start
 * and mirrors into it every preserved fd and the record that goes with it
 * (holder.c). If luod is killed, the keeper still holds everything; the
 * next luod started on the same state directory finds its socket, lists
 * what it holds and rebuilds the sessions. The keeper knows nothing of
 * sessions or handlers: it stores opaque entries (key, data, fd).
 *
 * It serves one peer, and only its own uid (SO_PEERCRED). A new
 * connection replaces the one before it, whose queued messages are all
 * applied first: those of a luod that died or re-exec'd, so the order of
 * changes is kept; an idle stranger has none and cannot keep a new luod
 * waiting. It exits on QUIT (luod stopped cleanly and released
 * everything), when its peer leaves with nothing held (there is nothing
 * left to keep), or when its socket file is removed or taken over by
 * another keeper (no luod can reach it any more). Its pid file is removed
 * only while it still names this process.
 *
 * It includes keeper_proto.h and nothing else of luod.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/base.h"
#include "crash/keeper_proto.h"

struct entry {
	struct entry *next, *prev;   /* storage order */
	struct entry *hnext;         /* hash chain */
	uint32_t hash;
	bool stale;                  /* MARKed and not PUT since */
	int fd;
	uint32_t key_len;
	uint32_t data_len;
	unsigned char *data;
	unsigned char key[];
};

#define NBUCKETS 4096
#define KEEPER_CHECK_MS 2000 /* how often an idle keeper checks its socket file */

static struct {
	struct entry *head, *tail;
	struct entry *buckets[NBUCKETS];
	size_t count;
} k;

static uint32_t hash_key(const unsigned char *key, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++)
		h = (h ^ key[i]) * 16777619u;
	return h;
}

static struct entry *lookup(const unsigned char *key, size_t len, uint32_t h)
{
	for (struct entry *e = k.buckets[h % NBUCKETS]; e; e = e->hnext)
		if (e->hash == h && e->key_len == len && !memcmp(e->key, key, len))
			return e;
	return NULL;
}

static void entry_drop(struct entry *e)
{
	struct entry **pp = &k.buckets[e->hash % NBUCKETS];

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	if (e->prev)
		e->prev->next = e->next;
	else
		k.head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		k.tail = e->prev;
	luo_close(e->fd); /* a client's file: a FUSE one's FLUSH may never be answered */
	free(e->data);
	free(e);
	k.count--;
}

/* Takes fd (-1: none) in every case. */
static int put(const unsigned char *key, size_t key_len, const void *data, size_t data_len, int fd)
{
	uint32_t h = hash_key(key, key_len);
	struct entry *e = lookup(key, key_len, h);
	unsigned char *d = malloc(data_len ? data_len : 1);

	if (!d) {
		luo_close(fd);
		return -ENOMEM;
	}
	memcpy(d, data, data_len);
	if (!e) {
		e = calloc(1, sizeof(*e) + key_len);
		if (!e) {
			free(d);
			luo_close(fd);
			return -ENOMEM;
		}
		e->hash = h;
		e->fd = -1;
		e->key_len = (uint32_t)key_len;
		memcpy(e->key, key, key_len);
		e->hnext = k.buckets[h % NBUCKETS];
		k.buckets[h % NBUCKETS] = e;
		e->prev = k.tail;
		if (k.tail)
			k.tail->next = e;
		else
			k.head = e;
		k.tail = e;
		k.count++;
	}
	free(e->data);
	e->data = d;
	e->data_len = (uint32_t)data_len;
	e->stale = false;
	if (fd >= 0) {
		luo_close(e->fd);
		e->fd = fd;
	}
	return 0;
}

static void del_prefix(const unsigned char *key, size_t len)
{
	struct entry *e = k.head, *next;

	for (; e; e = next) {
		next = e->next;
		if (e->key_len >= len && !memcmp(e->key, key, len))
			entry_drop(e);
	}
}

static int send_msg(int sock, uint32_t op, const void *key, size_t key_len, const void *data,
		    size_t data_len, int fd)
{
	struct iovec iov = { (void *)data, data_len };

	return keeper_msg_send(sock, op, key, key_len, &iov, 1, &fd, fd >= 0);
}

static int list(int sock)
{
	uint64_t count = k.count;
	int r;

	for (struct entry *e = k.head; e; e = e->next) {
		r = send_msg(sock, KEEPER_PUT, e->key, e->key_len, e->data, e->data_len, e->fd);
		if (r < 0)
			return r;
	}
	return send_msg(sock, KEEPER_END, NULL, 0, &count, sizeof(count), -1);
}

static unsigned char buf[KEEPER_MSG_MAX];

/*
 * The protocol version this keeper speaks: KEEPER_PROTO_VERSION, or, in a
 * build with fault injection, 1 when $LUOD_KEEPER_PROTO says so: the tests'
 * stand-in for a keeper of an older release, which luod may find across
 * its execve (it answers SYNC without a version and does not know DELV).
 */
static uint32_t proto = KEEPER_PROTO_VERSION;

/*
 * PUTV, or DELV (del): the records one by one. Takes every fd in
 * fds[0..nfds) whatever happens; a DELV carries none, and its records no
 * data.
 */
static int records(const unsigned char *p, size_t len, int *fds, size_t nfds, bool del)
{
	size_t used = 0;
	int r = 0;

	while (len > 0) {
		struct keeper_rec rec;
		int fd = -1;

		if (len < sizeof(rec)) {
			r = -EBADMSG;
			break;
		}
		memcpy(&rec, p, sizeof(rec));
		if (rec.key_len == 0 || rec.key_len > KEEPER_KEY_MAX || rec.data_len > KEEPER_DATA_MAX ||
		    len - sizeof(rec) < (size_t)rec.key_len + rec.data_len || rec.has_fd > 1 ||
		    (rec.has_fd && used == nfds) || (del && (rec.has_fd || rec.data_len))) {
			r = -EBADMSG;
			break;
		}
		if (del) {
			struct entry *e = lookup(p + sizeof(rec), rec.key_len,
						 hash_key(p + sizeof(rec), rec.key_len));

			if (e)
				entry_drop(e);
		} else {
			if (rec.has_fd)
				fd = fds[used++];
			if (put(p + sizeof(rec), rec.key_len, p + sizeof(rec) + rec.key_len,
				rec.data_len, fd) < 0)
				r = -ENOMEM;
		}
		p += sizeof(rec) + rec.key_len + rec.data_len;
		len -= sizeof(rec) + rec.key_len + rec.data_len;
	}
	if (used != nfds && r == 0)
		r = -EBADMSG;
	for (; used < nfds; used++)
		luo_close(fds[used]);
	return r;
}

/*
 * One message of the connection, if one is there (flags: MSG_DONTWAIT).
 * Returns 1 on QUIT, 0 when one was handled, -EAGAIN when none waited,
 * or <0 when the connection is over.
 */
static int serve_one(int sock, int flags)
{
	struct keeper_msg m;
	int fds[KEEPER_BATCH_FDS];
	size_t nfds;
	int fd = -1, op;
	const unsigned char *key, *data;

	op = keeper_msg_recv(sock, buf, sizeof(buf), flags, &m, fds, KEEPER_BATCH_FDS, &nfds);
	if (op == -EBADMSG) {
		fprintf(stderr, "luod-keeper: malformed message dropped\n");
		return 0;
	}
	if (op < 0)
		return op == -EAGAIN || op == -EWOULDBLOCK ? -EAGAIN : op;
	key = buf + sizeof(m);
	data = key + m.key_len;
	if (op == KEEPER_PUTV || (op == KEEPER_DELV && proto >= 2)) {
		int r = records(data, m.data_len, fds, nfds, op == KEEPER_DELV);

		if (r < 0)
			fprintf(stderr, "luod-keeper: %s: %s: entries may be %s\n",
				op == KEEPER_PUTV ? "PUTV" : "DELV", strerror(-r),
				op == KEEPER_PUTV ? "lost" : "kept");
		return 0;
	}
	if (op == KEEPER_DELV) { /* speaking version 1: an op it does not know */
		while (nfds)
			luo_close(fds[--nfds]);
	}
	if (nfds)
		fd = fds[0];
	switch (op) {
	case KEEPER_PUT:
		if (put(key, m.key_len, data, m.data_len, fd) < 0)
			fprintf(stderr, "luod-keeper: out of memory: an entry is lost\n");
		fd = -1;
		break;
	case KEEPER_DEL: {
		struct entry *e = lookup(key, m.key_len, hash_key(key, m.key_len));

		if (e)
			entry_drop(e);
		break;
	}
	case KEEPER_DELP:
		del_prefix(key, m.key_len);
		break;
	case KEEPER_MARK:
		for (struct entry *e = k.head; e; e = e->next)
			e->stale = true;
		break;
	case KEEPER_SWEEP:
		for (struct entry *e = k.head, *next; e; e = next) {
			next = e->next;
			if (e->stale)
				entry_drop(e);
		}
		break;
	case KEEPER_LIST:
		if (list(sock) < 0)
			return -EPIPE;
		break;
	case KEEPER_SYNC: {
		uint32_t version = KEEPER_PROTO_VERSION;

		if (send_msg(sock, KEEPER_END, NULL, 0, &version, proto >= 2 ? sizeof(version) : 0,
			     -1) < 0)
			return -EPIPE;
		break;
	}
	case KEEPER_QUIT:
		luo_close(fd);
		return 1;
	default:
		fprintf(stderr, "luod-keeper: unknown op %u dropped\n", m.op);
	}
	luo_close(fd);
	return 0;
}

/* Everything the connection has queued, without waiting: 1 on QUIT, else 0. */
static int drain(int sock)
{
	int r;

	while ((r = serve_one(sock, MSG_DONTWAIT)) == 0)
		;
	return r == 1;
}

static struct {
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t dev;
	ino_t ino;
	bool known;
} sock_file;

/*
 * The socket file is how a luod finds this keeper. Once it is gone (the
 * state directory was removed) or belongs to another keeper (luod could
 * not reach this one and started a new one, sending it everything), no
 * luod will ever connect here again: what this keeper holds is
 * unreachable or duplicated, and it exits.
 */
static bool sock_file_still_ours(void)
{
	struct stat st;

	if (!sock_file.known)
		return true;
	if (stat(sock_file.path, &st) < 0)
		return errno != ENOENT && errno != ENOTDIR;
	return st.st_dev == sock_file.dev && st.st_ino == sock_file.ino;
}

/* KEEPER.sock -> KEEPER.pid beside it: how people and tests find this process. */
static int pid_file(char *path, size_t len)
{
	struct sockaddr_un sa;
	socklen_t sl = sizeof(sa);
	struct stat st;
	size_t n;
	FILE *f;

	if (getsockname(3, (struct sockaddr *)&sa, &sl) < 0 || sl <= sizeof(sa_family_t) ||
	    !sa.sun_path[0])
		return -EINVAL;
	n = strnlen(sa.sun_path, sl - sizeof(sa_family_t));
	if (n >= sizeof(sock_file.path))
		return -EINVAL;
	memcpy(sock_file.path, sa.sun_path, n);
	sock_file.path[n] = '\0';
	if (stat(sock_file.path, &st) == 0) {
		sock_file.dev = st.st_dev;
		sock_file.ino = st.st_ino;
		sock_file.known = true;
	}
	if (n < 5 || n >= len || strncmp(sa.sun_path + n - 5, ".sock", 5))
		return -EINVAL;
	memcpy(path, sa.sun_path, n - 5);
	strcpy(path + n - 5, ".pid");
	f = fopen(path, "we");
	if (!f)
		return -errno;
	fprintf(f, "%d\n", (int)getpid());
	return fclose(f) == 0 ? 0 : -EIO;
}

/* Remove the pid file only if it still names this process: a newer keeper may own it. */
static void pid_file_remove(const char *path)
{
	FILE *f = fopen(path, "re");
	int pid = -1;

	if (!f)
		return;
	if (fscanf(f, "%d", &pid) != 1)
		pid = -1;
	fclose(f);
	if (pid == (int)getpid())
		unlink(path);
}

/* A connection from the keeper's own uid, or -1 (a stranger is closed at once). */
static int accept_peer(int lfd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

	if (c < 0)
		return -errno;
	if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != geteuid()) {
		close(c);
		return -EPERM;
	}
	return c;
}

int keeper_main(int argc, char **argv)
{
	char pid_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	bool have_pid_file;
	int lfd = 3, peer = -1;
	sigset_t none;

	(void)argc;
	(void)argv;
	/*
	 * luod blocks the signals it reads from its signalfd, and the mask
	 * survives fork and execve: without this a keeper could not be
	 * stopped with SIGTERM.
	 */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* not a child of anyone's terminal: ^C to luod must not reach what it keeps */
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	if (fcntl(lfd, F_GETFD) < 0) {
		fprintf(stderr, "luod-keeper: no listening socket in fd 3\n");
		return 1;
	}
	fcntl(lfd, F_SETFD, FD_CLOEXEC);
#ifdef LUO_FAULT_INJECTION
	{
		const char *v = getenv("LUOD_KEEPER_PROTO");

		if (v && !strcmp(v, "1"))
			proto = 1;
	}
#endif
	have_pid_file = pid_file(pid_path, sizeof(pid_path)) == 0;
	for (;;) {
		struct pollfd pfd[2] = { { .fd = lfd, .events = POLLIN }, { .fd = peer, .events = POLLIN } };
		int n, c, r;

		n = poll(pfd, peer >= 0 ? 2 : 1, KEEPER_CHECK_MS);
		if (n < 0 && errno != EINTR) {
			fprintf(stderr, "luod-keeper: poll: %s\n", strerror(errno));
			break;
		}
		if (n <= 0) {
			if (peer < 0 && !sock_file_still_ours()) {
				fprintf(stderr, "luod-keeper: %s is gone or another keeper's; exiting\n",
					sock_file.path);
				break;
			}
			continue;
		}
		if (peer >= 0 && pfd[1].revents) {
			r = serve_one(peer, MSG_DONTWAIT);
			if (r == 1)
				break;
			if (r < 0 && r != -EAGAIN) {
				close(peer);
				peer = -1;
				if (k.count == 0)
					break;
			}
		}
		if (pfd[0].revents & POLLIN) {
			c = accept_peer(lfd);
			if (c == -EINTR || c == -ECONNABORTED || c == -EPERM || c == -EAGAIN)
				continue;
			if (c < 0) {
				fprintf(stderr, "luod-keeper: accept: %s\n", strerror(-c));
				break;
			}
			/* the one before it: what it queued first, then it is replaced */
			if (peer >= 0) {
				if (drain(peer)) {
					close(c);
					break;
				}
				close(peer);
			}
			peer = c;
		}
	}
	if (peer >= 0)
		close(peer);
	while (k.head)
		entry_drop(k.head);
	/* the socket file stays: a new keeper unlinks it before binding its own */
	if (have_pid_file)
		pid_file_remove(pid_path);
	close(lfd);
	return 0;
}
