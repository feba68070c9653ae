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
 * It serves one connection at a time, reading it to its end before the
 * next: the messages of a luod that died or re-exec'd are all applied
 * before its successor's are read, so the order of changes is kept. Only
 * its own uid may connect (SO_PEERCRED). It exits on QUIT (luod stopped
 * cleanly and released everything), when its connection ends with nothing
 * held (there is nothing left to keep), or when its socket file is removed
 * or taken over by another keeper (no luod can reach it any more).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "crash/keeper.h"

struct entry {
	struct entry *next, *prev;   /* storage order */
	struct entry *hnext;         /* hash chain */
	uint32_t hash;
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
	if (e->fd >= 0)
		close(e->fd);
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
		if (fd >= 0)
			close(fd);
		return -ENOMEM;
	}
	memcpy(d, data, data_len);
	if (!e) {
		e = calloc(1, sizeof(*e) + key_len);
		if (!e) {
			free(d);
			if (fd >= 0)
				close(fd);
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
	if (fd >= 0) {
		if (e->fd >= 0)
			close(e->fd);
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
	struct keeper_msg m = { KEEPER_MAGIC, op, (uint32_t)key_len, (uint32_t)data_len };
	struct iovec iov[3] = {
		{ &m, sizeof(m) }, { (void *)key, key_len }, { (void *)data, data_len },
	};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control;
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 3 };
	ssize_t n;

	if (fd >= 0)
		luo_msg_attach_fds(&msg, control.buf, &fd, 1);
	do
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : 0;
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

#define BUF_MAX (sizeof(struct keeper_msg) + \
		 (KEEPER_BATCH_MAX > KEEPER_KEY_MAX + KEEPER_DATA_MAX ? KEEPER_BATCH_MAX : \
		  KEEPER_KEY_MAX + KEEPER_DATA_MAX))
static unsigned char buf[BUF_MAX];

/* PUTV: takes every fd in fds[0..nfds) whatever happens. */
static int putv(const unsigned char *p, size_t len, int *fds, size_t nfds)
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
		    (rec.has_fd && used == nfds)) {
			r = -EBADMSG;
			break;
		}
		if (rec.has_fd)
			fd = fds[used++];
		if (put(p + sizeof(rec), rec.key_len, p + sizeof(rec) + rec.key_len, rec.data_len,
			fd) < 0)
			r = -ENOMEM;
		p += sizeof(rec) + rec.key_len + rec.data_len;
		len -= sizeof(rec) + rec.key_len + rec.data_len;
	}
	if (used != nfds && r == 0)
		r = -EBADMSG;
	for (; used < nfds; used++)
		close(fds[used]);
	return r;
}

/* One connection, to its end. Returns 1 on QUIT, else 0. */
static int serve(int sock)
{
	for (;;) {
		struct keeper_msg m;
		union {
			char buf[CMSG_SPACE(sizeof(int) * KEEPER_BATCH_FDS)];
			struct cmsghdr align;
		} control;
		int fds[KEEPER_BATCH_FDS];
		size_t nfds = 0;
		struct iovec iov = { buf, sizeof(buf) };
		struct msghdr msg = {
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = control.buf, .msg_controllen = sizeof(control.buf),
		};
		int fd = -1;
		const unsigned char *key, *data;
		ssize_t n;
		bool batch;

		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return 0;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
				continue;
			for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++)
				if (nfds < KEEPER_BATCH_FDS)
					memcpy(&fds[nfds++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
		}
		memcpy(&m, buf, sizeof(m) <= (size_t)n ? sizeof(m) : 0);
		batch = (size_t)n >= sizeof(m) && m.op == KEEPER_PUTV;
		if ((size_t)n < sizeof(m) || m.magic != KEEPER_MAGIC || m.key_len > KEEPER_KEY_MAX ||
		    m.data_len > (batch ? KEEPER_BATCH_MAX : KEEPER_DATA_MAX) ||
		    (size_t)n != sizeof(m) + m.key_len + m.data_len || (!batch && nfds > 1) ||
		    (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
			fprintf(stderr, "luod-keeper: malformed message dropped\n");
			while (nfds)
				close(fds[--nfds]);
			continue;
		}
		key = buf + sizeof(m);
		data = key + m.key_len;
		if (batch) {
			int r = putv(data, m.data_len, fds, nfds);

			if (r < 0)
				fprintf(stderr, "luod-keeper: PUTV: %s: entries may be lost\n",
					strerror(-r));
			continue;
		}
		if (nfds)
			fd = fds[0];
		switch (m.op) {
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
		case KEEPER_LIST:
			if (list(sock) < 0)
				return 0;
			break;
		case KEEPER_SYNC:
			if (send_msg(sock, KEEPER_END, NULL, 0, NULL, 0, -1) < 0)
				return 0;
			break;
		case KEEPER_QUIT:
			if (fd >= 0)
				close(fd);
			return 1;
		default:
			fprintf(stderr, "luod-keeper: unknown op %u dropped\n", m.op);
		}
		if (fd >= 0)
			close(fd);
	}
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

int keeper_main(int argc, char **argv)
{
	char pid_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	bool have_pid_file;
	int lfd = 3;
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
	have_pid_file = pid_file(pid_path, sizeof(pid_path)) == 0;
	for (;;) {
		struct pollfd pfd = { .fd = lfd, .events = POLLIN };
		struct ucred cred;
		socklen_t len = sizeof(cred);
		int quit, c, n;

		n = poll(&pfd, 1, KEEPER_CHECK_MS);
		if (n == 0 || (n < 0 && errno == EINTR)) {
			if (!sock_file_still_ours()) {
				fprintf(stderr, "luod-keeper: %s is gone or another keeper's; exiting\n",
					sock_file.path);
				break;
			}
			continue;
		}
		c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			fprintf(stderr, "luod-keeper: accept: %s\n", strerror(errno));
			break;
		}
		if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
		    cred.uid != geteuid()) {
			close(c);
			continue;
		}
		quit = serve(c);
		close(c);
		if (quit || k.count == 0)
			break;
	}
	while (k.head)
		entry_drop(k.head);
	/* the socket file stays: a new keeper unlinks it before binding its own */
	if (have_pid_file)
		unlink(pid_path);
	close(lfd);
	return 0;
}
