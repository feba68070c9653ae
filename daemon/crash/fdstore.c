// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * DOC: systemd's fd store as a second keeper.
 *
 * Under systemd ($NOTIFY_SOCKET set) every preserved fd is also stored in
 * the service's fd store (FDSTORE=1 with FDNAME=, the unit needs
 * FileDescriptorStoreMax=), and removed from it when luod lets it go
 * (FDSTOREREMOVE=1). systemd kills the whole cgroup, keeper included, when
 * the service dies, but keeps its fd store and passes it back to the next
 * start as LISTEN_FDS with LISTEN_FDNAMES; fdstore_recover() turns those
 * into incoming sessions, as holder.c does with the keeper's entries.
 *
 * Names are printable and colon-free, as systemd wants them:
 *   luo-s-UID-HEXNAME          a session (an empty sealed memfd stands in)
 *   luo-f-HEXTOKEN-HEXNAME     a file of it
 * The store keeps no payload, so a file's record is made again by its
 * handler on recovery, from the fd as it is then.
 *
 * Without $NOTIFY_SOCKET nothing here does anything.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "crash/keeper.h"

static struct {
	bool read;
	bool on;
	bool warned;
	struct sockaddr_un sa;
	socklen_t sa_len;
	int sock;
} fs = { .sock = -1 };

bool fdstore_enabled(void)
{
	struct timeval timeout = { .tv_sec = 1 };
	const char *p;
	size_t n;

	if (fs.read)
		return fs.on;
	fs.read = true;
	p = getenv("NOTIFY_SOCKET");
	if (!p || (p[0] != '/' && p[0] != '@'))
		return false;
	n = strlen(p);
	if (n >= sizeof(fs.sa.sun_path))
		return false;
	fs.sa.sun_family = AF_UNIX;
	memcpy(fs.sa.sun_path, p, n);
	if (p[0] == '@')
		fs.sa.sun_path[0] = '\0'; /* abstract */
	fs.sa_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (p[0] == '/'));
	fs.sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fs.sock < 0)
		return false;
	/* a manager that stopped reading must not stall luod for long: warn and go on */
	if (setsockopt(fs.sock, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout)) < 0)
		log_warn("fd store: SO_SNDTIMEO: %s", strerror(errno));
	fs.on = true;
	return true;
}

static void hex(char *out, const void *data, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *p = data;

	for (size_t i = 0; i < len; i++) {
		*out++ = digits[p[i] >> 4];
		*out++ = digits[p[i] & 15];
	}
	*out = '\0';
}

static int unhex(const char *in, size_t len, unsigned char *out)
{
	if (len % 2)
		return -EINVAL;
	for (size_t i = 0; i < len; i += 2) {
		int v = 0;

		for (size_t j = 0; j < 2; j++) {
			char c = in[i + j];

			v <<= 4;
			if (c >= '0' && c <= '9')
				v |= c - '0';
			else if (c >= 'a' && c <= 'f')
				v |= c - 'a' + 10;
			else
				return -EINVAL;
		}
		out[i / 2] = (unsigned char)v;
	}
	return (int)(len / 2);
}

#define FDNAME_MAX 256

static void session_fdname(char *buf, const struct luo_session *s)
{
	char h[2 * LUO_NAME_MAX + 1];

	hex(h, s->name, strlen(s->name));
	snprintf(buf, FDNAME_MAX, "luo-s-%u-%s", (unsigned)s->uid, h);
}

static void file_fdname(char *buf, const struct luo_file *f)
{
	char h[2 * LUO_NAME_MAX + 1];

	hex(h, f->session->name, strlen(f->session->name));
	snprintf(buf, FDNAME_MAX, "luo-f-%016" PRIx64 "-%s", f->token, h);
}

/* One datagram to the manager, as sd_pid_notify_with_fds() sends it. */
static void notify(const char *text, int fd)
{
	struct iovec iov = { (void *)text, strlen(text) };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control;
	struct msghdr msg = {
		.msg_name = &fs.sa, .msg_namelen = fs.sa_len, .msg_iov = &iov, .msg_iovlen = 1,
	};

	if (fd >= 0)
		luo_msg_attach_fds(&msg, control.buf, &fd, 1);
	if (sendmsg(fs.sock, &msg, MSG_NOSIGNAL) < 0 && !fs.warned) {
		fs.warned = true;
		log_warn("fd store: %s: further failures are not logged", strerror(errno));
	}
}

static void store(const char *name, int fd)
{
	char text[FDNAME_MAX + 32];

	snprintf(text, sizeof(text), "FDSTORE=1\nFDNAME=%s", name);
	notify(text, fd);
}

static void unstore(const char *name)
{
	char text[FDNAME_MAX + 32];

	snprintf(text, sizeof(text), "FDSTOREREMOVE=1\nFDNAME=%s", name);
	notify(text, -1);
}

void fdstore_put_session(struct luo_session *s)
{
	char name[FDNAME_MAX];
	int fd;

	if (!fdstore_enabled() || s->fdstored)
		return;
	/* the store holds fds only: an empty sealed memfd carries the session's name */
	fd = memfd_create("luo-session", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0) {
		log_warn("fd store: session %s: memfd_create: %s", s->name, strerror(errno));
		return;
	}
	fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_WRITE);
	session_fdname(name, s);
	store(name, fd);
	close(fd);
	s->fdstored = true;
}

void fdstore_remove_session(struct luo_session *s)
{
	char name[FDNAME_MAX];

	if (!fdstore_enabled())
		return;
	/* its files first: an entry left behind would bring the file back after a crash */
	for (size_t i = 0; i < s->nfiles; i++)
		fdstore_remove_file(s->files[i]);
	if (!s->fdstored)
		return; /* never stored by us: a predecessor's entry, or none */
	session_fdname(name, s);
	unstore(name);
	s->fdstored = false;
}

void fdstore_put_file(struct luo_file *f)
{
	char name[FDNAME_MAX];

	if (!fdstore_enabled() || f->fdstored)
		return;
	file_fdname(name, f);
	store(name, f->fd);
	f->fdstored = true;
}

void fdstore_remove_file(struct luo_file *f)
{
	char name[FDNAME_MAX];

	if (!fdstore_enabled() || !f->fdstored)
		return;
	file_fdname(name, f);
	unstore(name);
	f->fdstored = false;
}

void fdstore_adopt_handover(void)
{
	if (!fdstore_enabled())
		return;
	for (struct luo_session *s = core_first_session(); s; s = s->next) {
		s->fdstored = true;
		for (size_t i = 0; i < s->nfiles; i++)
			s->files[i]->fdstored = true;
	}
}

/* "HEXNAME" into name; -EINVAL unless it is a valid session name. */
static int name_from_hex(const char *h, char *name)
{
	size_t len = strlen(h);
	int n;

	if (len == 0 || len / 2 >= LUO_NAME_MAX)
		return -EINVAL;
	n = unhex(h, len, (unsigned char *)name);
	if (n < 0)
		return n;
	name[n] = '\0';
	return strlen(name) == (size_t)n ? 0 : -EINVAL;
}

/* A file systemd kept: its handler records it again, as a preserve would. Takes fd. */
static int recover_file(struct luo_session *s, uint64_t token, int fd)
{
	static const unsigned char none;
	const struct luo_file_handler *h;
	struct luo_probe probe;
	struct luo_file *f;
	struct stat st;
	int r;

	f = session_find_file(s, token);
	if (f) {
		close(fd); /* the keeper had it already */
		if (f->fdstored) { /* a second entry for one file: one too many */
			fdstore_remove_file(f);
			fdstore_put_file(f);
		}
		f->fdstored = true; /* the store has it */
		return 0;
	}
	if (fstat(fd, &st) < 0 || !(h = luo_handler_find(fd, &st, &probe))) {
		close(fd);
		return -ENOENT;
	}
	r = file_restore(s, fd, token, h, &none, 0, &f);
	if (r < 0) {
		close(fd);
		return r;
	}
	r = h->preserve(f, &probe);
	if (r == 0)
		r = session_add_file(s, f);
	if (r < 0) {
		file_release(f);
		return r;
	}
	f->fdstored = true; /* the store has it: it gave it back */
	mirror_file(f); /* into the keeper too */
	return 0;
}

#define LINEAGE_FDNAME "luo-g-lineage"

void fdstore_put_lineage(const void *data, size_t len)
{
	int fd;

	if (!fdstore_enabled())
		return;
	fd = memfd_create("luo-lineage", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0 || write(fd, data, len) != (ssize_t)len) {
		log_warn("fd store: generation and history record: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_WRITE);
	unstore(LINEAGE_FDNAME); /* one entry of it, never more */
	store(LINEAGE_FDNAME, fd);
	close(fd);
}

void fdstore_remove_lineage(void)
{
	if (fdstore_enabled())
		unstore(LINEAGE_FDNAME);
}

static void recover_lineage(int fd, struct lineage *lineage)
{
	static unsigned char buf[LINEAGE_MAX + 1];
	ssize_t n = pread(fd, buf, sizeof(buf), 0);

	if (n < 0 || lineage_decode(buf, (size_t)n, lineage) < 0)
		log_warn("fd store: its generation and history record does not parse");
}

int fdstore_recover(struct lineage *lineage)
{
	int *fds = NULL, recovered = 0;
	char **names = NULL;
	size_t n = systemd_passed_fds(&fds, &names);

	if (!names)
		n = 0;
	/* sessions first: a file's entry may come before its session's */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < n; i++) {
			const char *fn = names[i];
			char name[LUO_NAME_MAX], *end;
			struct luo_session *s;
			bool added;

			if (pass == 0 && fds[i] >= 0 && fn && !strcmp(fn, LINEAGE_FDNAME)) {
				recover_lineage(fds[i], lineage);
				close(fds[i]); /* the store keeps its own */
				fds[i] = -1;
				continue;
			}
			if (fds[i] < 0 || !fn || strncmp(fn, pass ? "luo-f-" : "luo-s-", 6))
				continue;
			if (pass == 0) {
				unsigned long uid = strtoul(fn + 6, &end, 10);

				if (*end != '-' || name_from_hex(end + 1, name) < 0)
					continue;
				s = core_incoming_session(name, (uid_t)uid, &added);
				close(fds[i]); /* the stand-in memfd */
				fds[i] = -1;
				if (s && s->fdstored) {
					/* a second stand-in for one session: one too many */
					unstore(fn);
					s->fdstored = false;
					fdstore_put_session(s);
					continue;
				}
				if (s)
					s->fdstored = true; /* its stand-in stays in the store */
				if (s && added) {
					recovered++;
					mirror_session(s);
				}
			} else {
				uint64_t token = strtoull(fn + 6, &end, 16);
				int fd = fds[i], r;

				if (*end != '-' || name_from_hex(end + 1, name) < 0)
					continue;
				fds[i] = -1;
				s = core_incoming_session(name, 0, &added);
				if (!s) {
					close(fd);
					continue;
				}
				if (added)
					mirror_session(s);
				r = recover_file(s, token, fd);
				if (r < 0)
					log_warn("fd store: session %s token %" PRIu64 ": not recovered: %s",
						 name, token, strerror(-r));
			}
		}
	/* what the keeper gave back and the store lacks goes into it, once */
	for (struct luo_session *s = core_first_session(); s; s = s->next) {
		fdstore_put_session(s);
		for (size_t i = 0; i < s->nfiles; i++)
			fdstore_put_file(s->files[i]);
	}
	if (recovered)
		log_info("fd store: recovered %d sessions from systemd", recovered);
	return recovered;
}
