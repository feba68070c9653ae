// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * DOC: socket handler.
 *
 * A socket crosses the update as the same open socket: a listening socket
 * keeps its backlog, so connections that arrive during the blackout wait
 * for the successor; a connected one keeps its peer and the bytes in
 * flight both ways; a UDP or UNIX datagram socket keeps its bound address
 * and the datagrams queued on it.
 *
 * Covered: AF_UNIX stream, datagram and seqpacket; AF_INET and AF_INET6
 * TCP and UDP; listening, connected or neither. Other families (netlink,
 * packet, vsock, ...), raw sockets and other protocols are refused with
 * ENOENT, and so are luod's own sockets (session handles, device
 * connections), as the kernel refuses to preserve its session files.
 *
 * The payload records family, type, protocol, whether it listens, and its
 * local and peer addresses, at preserve and again at freeze. retrieve
 * checks the fd is still that socket: same family, type, protocol and
 * listening state, same local address, and, while it is still connected,
 * the same peer (a peer that went away meanwhile is not a change of the
 * socket itself).
 *
 * Payload v2 ("luo,socket-v2"): the six 32-bit fields of struct
 * socket_record below, then local_len bytes of the local address and
 * peer_len bytes of the peer's: 40 bytes for a TCP listener on IPv4, so
 * that 10,000 of them stay under 256 bytes each in luod. Payload v1
 * ("luo,socket-v1", what an older luod wrote, still read): the whole
 * struct, both addresses at their full 128 bytes. The lengths tell the
 * two apart (a v2 record is never 280 bytes: no address is 128 long).
 */
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/luod.h"
#include "handlers/record.h"

#define SOCK_LISTENING 0x1
#define SOCK_CONNECTED 0x2

struct socket_record {
	int32_t family;
	int32_t type;
	int32_t protocol;
	uint32_t flags;
	uint32_t local_len;
	uint32_t peer_len;
	struct sockaddr_storage local;
	struct sockaddr_storage peer;
};

#define RECORD_HEAD offsetof(struct socket_record, local) /* the six fields */

/* The v2 payload of rec: its head, then the addresses at their own lengths. */
static int socket_encode(struct luo_file *file, const struct socket_record *rec)
{
	unsigned char buf[sizeof(*rec)];

	size_t len = RECORD_HEAD + rec->local_len + rec->peer_len;

	memcpy(buf, rec, RECORD_HEAD);
	memcpy(buf + RECORD_HEAD, &rec->local, rec->local_len);
	memcpy(buf + RECORD_HEAD + rec->local_len, &rec->peer, rec->peer_len);
	if (file->payload && file->payload_len == len) {
		memcpy(file->payload, buf, len); /* freeze, nothing moved: no allocation */
		return 0;
	}
	return file_set_payload(file, buf, len);
}

static int getint(int fd, int opt, int32_t *v)
{
	int val;
	socklen_t len = sizeof(val);

	if (getsockopt(fd, SOL_SOCKET, opt, &val, &len) < 0)
		return -errno;
	*v = val;
	return 0;
}

static bool is_luod_socket(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.pid == getpid();
}

/* The kinds of socket this handler knows what to record and check for. */
static bool socket_supported(int32_t family, int32_t type, int32_t protocol)
{
	switch (family) {
	case AF_UNIX:
		return type == SOCK_STREAM || type == SOCK_DGRAM || type == SOCK_SEQPACKET;
	case AF_INET:
	case AF_INET6:
		return (type == SOCK_STREAM && protocol == IPPROTO_TCP) ||
		       (type == SOCK_DGRAM && protocol == IPPROTO_UDP);
	default:
		return false;
	}
}

static bool socket_can_preserve(int fd, const struct stat *st, struct luo_probe *probe)
{
	int32_t family = 0, type = 0, protocol = 0;

	if (!S_ISSOCK(st->st_mode))
		return false;
	if (getint(fd, SO_DOMAIN, &family) < 0 || getint(fd, SO_TYPE, &type) < 0 ||
	    getint(fd, SO_PROTOCOL, &protocol) < 0)
		return false;
	if (!socket_supported(family, type, protocol) || is_luod_socket(fd))
		return false;
	/* for preserve(), so that it does not ask again (10,000 sockets in one batch) */
	probe->socket.family = family;
	probe->socket.type = type;
	probe->socket.protocol = protocol;
	return true;
}

/* Family, type and protocol: fixed for an open socket, but for the family (below). */
static int socket_read_kind(int fd, struct socket_record *rec)
{
	int r;

	if ((r = getint(fd, SO_DOMAIN, &rec->family)) < 0 ||
	    (r = getint(fd, SO_TYPE, &rec->type)) < 0 ||
	    (r = getint(fd, SO_PROTOCOL, &rec->protocol)) < 0)
		return r;
	return 0;
}

/*
 * What can change while the socket is held: listening, the local address
 * (bind) and the peer (connect). The family can too, but only through the
 * local address (IPV6_ADDRFORM turns an inet6 socket into an inet one), so
 * it is taken from there.
 */
static int socket_read_state(int fd, struct socket_record *rec)
{
	socklen_t len;
	int32_t listening = 0;
	int r;

	rec->flags = 0;
	rec->local_len = rec->peer_len = 0;
	memset(&rec->local, 0, sizeof(rec->local));
	memset(&rec->peer, 0, sizeof(rec->peer));
	if ((r = getint(fd, SO_ACCEPTCONN, &listening)) < 0)
		return r;
	if (listening)
		rec->flags |= SOCK_LISTENING;
	len = sizeof(rec->local);
	if (getsockname(fd, (struct sockaddr *)&rec->local, &len) < 0)
		return -errno;
	rec->local_len = len;
	/* a listening socket has no peer: no getpeername() for 10,000 listeners */
	if (!listening) {
		len = sizeof(rec->peer);
		if (getpeername(fd, (struct sockaddr *)&rec->peer, &len) == 0) {
			rec->flags |= SOCK_CONNECTED;
			rec->peer_len = len;
		} else if (errno != ENOTCONN) {
			return -errno;
		}
	}
	if (rec->local_len >= sizeof(sa_family_t))
		rec->family = rec->local.ss_family;
	return 0;
}

static int socket_read(int fd, struct socket_record *rec)
{
	int r;

	memset(rec, 0, sizeof(*rec));
	r = socket_read_kind(fd, rec);
	return r < 0 ? r : socket_read_state(fd, rec);
}

static int socket_preserve(struct luo_file *file, const struct luo_probe *probe)
{
	struct socket_record rec;
	int r;

	memset(&rec, 0, sizeof(rec));
	if (probe) {
		rec.family = probe->socket.family;
		rec.type = probe->socket.type;
		rec.protocol = probe->socket.protocol;
		r = 0;
	} else {
		r = socket_read_kind(file->fd, &rec);
	}
	if (r == 0)
		r = socket_read_state(file->fd, &rec);
	if (r < 0)
		return r;
	return socket_encode(file, &rec);
}

static int socket_decode(const struct luo_file *file, struct socket_record *rec);

/* Freeze re-reads only what can have changed since preserve (3 calls, not 6). */
/*
 * An update freezes every preserved socket, and 10,000 TCP listeners cost
 * 20,000 system calls in the blackout (SO_ACCEPTCONN, getsockname()). In a
 * global freeze, from the DIAG_AFTER-th listener of a family (IPv4, IPv6)
 * on, one sock_diag dump of that family's TCP listeners in luod's network
 * namespace is read instead (NETLINK_SOCK_DIAG, TCPF_LISTEN only:
 * established sockets are not walked), keyed by socket inode, and a
 * listener recorded at address A whose inode the dump shows listening at A
 * is frozen as it was: the kernel said so at freeze, for that socket.
 *
 * A dump holds the sockets of its family only (the kernel's own sk_family):
 * an AF_INET6 listener is in the IPv6 dump whatever it accepts, a
 * dual-stack one on :: and one bound to a v4-mapped ::ffff:a.b.c.d
 * included, at the address getsockname() gives it. An IPv6 record is
 * matched by the whole sockaddr_in6: address and port from the dump, and
 * flow label and scope id 0, which getsockname() gives a local address
 * that needs no scope; a link-local or multicast one (its scope id follows
 * the socket's bound device) is read on its own.
 *
 * Anything else is read one fd at a time as before: a socket not in the
 * dump (another namespace, UNIX, UDP, not listening), one now elsewhere, an
 * inode the dump shows twice (the counter wrapped), or no dump at all (no
 * sock_diag, EPERM, no IPv6). retrieve() is unchanged: it reads the fd
 * itself.
 */
#define DIAG_AFTER 32

/* What the IPv6 dump says of one listener. */
struct diag6 {
	struct in6_addr addr;
	uint16_t port; /* network order */
};

/* One family's dump in the current freeze round. */
struct diag_family {
	bool tried;           /* the dump was read (or failed) */
	size_t freezes;       /* listeners of the family frozen so far */
	struct luo_index ino; /* inode -> diag_value4() or diag_value6() */
};

static struct {
	bool armed; /* a global freeze is under way */
	struct diag_family v4, v6;
	struct diag6 *six; /* what v6.ino's values point into */
	size_t nsix, capsix;
} diag;

#define DIAG_TWICE ((void *)1)

/* A non-NULL pointer for an index value: bit 48 set, the address and port (network order) below. */
static void *diag_value4(uint32_t addr, uint16_t port)
{
	return (void *)(uintptr_t)((1ull << 48) | (uint64_t)addr << 16 | port);
}

/* An IPv6 index value: the entry's slot in diag.six, past DIAG_TWICE. */
static void *diag_value6(size_t slot)
{
	return (void *)(uintptr_t)(slot + 2);
}

static int diag_add6(const struct inet_diag_msg *m)
{
	if (diag.nsix == diag.capsix) {
		size_t cap = diag.capsix ? diag.capsix * 2 : 1024;
		struct diag6 *six = realloc(diag.six, cap * sizeof(*six));

		if (!six)
			return -ENOMEM;
		diag.six = six;
		diag.capsix = cap;
	}
	memcpy(&diag.six[diag.nsix].addr, m->id.idiag_src, sizeof(struct in6_addr));
	diag.six[diag.nsix].port = m->id.idiag_sport;
	return luo_index_put(&diag.v6.ino, m->idiag_inode, diag_value6(diag.nsix++));
}

static int diag_add(int family, const struct inet_diag_msg *m)
{
	struct luo_index *ino = family == AF_INET ? &diag.v4.ino : &diag.v6.ino;

	if (m->idiag_family != family || m->idiag_state != TCP_LISTEN)
		return 0;
	if (luo_index_get(ino, m->idiag_inode)) /* neither can be told from the other */
		return luo_index_put(ino, m->idiag_inode, DIAG_TWICE);
	if (family == AF_INET6)
		return diag_add6(m);
	return luo_index_put(ino, m->idiag_inode,
			     diag_value4(m->id.idiag_src[0], m->id.idiag_sport));
}

static void diag_forget(struct diag_family *f)
{
	luo_index_free(&f->ino);
	if (f == &diag.v6) {
		free(diag.six);
		diag.six = NULL;
		diag.nsix = diag.capsix = 0;
	}
}

/* family's dump into its index; on any failure that one is left empty (each fd read on its own). */
static void diag_read(int family)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 req;
	} rq = {
		.nlh = { .nlmsg_len = sizeof(rq), .nlmsg_type = SOCK_DIAG_BY_FAMILY,
			 .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = 1 },
		.req = { .sdiag_family = (uint8_t)family, .sdiag_protocol = IPPROTO_TCP,
			 .idiag_states = 1u << TCP_LISTEN },
	};
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	size_t cap = 64 * 1024;
	char *buf = malloc(cap);
	int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG), r = -EIO;
	bool done = false;

	if (fd < 0 || !buf ||
	    sendto(fd, &rq, sizeof(rq), 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
		goto out;
	while (!done) {
		ssize_t n = recv(fd, buf, cap, 0);
		struct nlmsghdr *h = (struct nlmsghdr *)buf;

		if (n <= 0)
			goto out;
		for (; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_seq != 1 || h->nlmsg_type == NLMSG_ERROR)
				goto out;
			if (h->nlmsg_type == NLMSG_DONE) {
				done = true;
				break;
			}
			if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY ||
			    h->nlmsg_len < NLMSG_LENGTH(sizeof(struct inet_diag_msg)) ||
			    diag_add(family, NLMSG_DATA(h)) < 0)
				goto out;
		}
	}
	r = 0;
out:
	if (r < 0) {
		log_debug("socket: no sock_diag dump of the %s TCP listeners; each is read on its own",
			  family == AF_INET ? "IPv4" : "IPv6");
		diag_forget(family == AF_INET ? &diag.v4 : &diag.v6);
	}
	free(buf);
	if (fd >= 0)
		close(fd);
}

static void socket_freeze_round(bool begin)
{
	diag_forget(&diag.v4);
	diag_forget(&diag.v6);
	diag.armed = begin;
	diag.v4.tried = diag.v6.tried = false;
	diag.v4.freezes = diag.v6.freezes = 0;
}

/* Whether v, what the dump of rec's family holds for its inode, is rec's local address. */
static bool diag_matches(const struct socket_record *rec, const void *v)
{
	if (rec->family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)&rec->local;

		return v == diag_value4(sin->sin_addr.s_addr, sin->sin_port);
	}
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&rec->local;
	const struct diag6 *e = &diag.six[(uintptr_t)v - 2];

	return e->port == sin6->sin6_port && !memcmp(&e->addr, &sin6->sin6_addr, sizeof(e->addr));
}

/* Whether rec is a TCP listener the dump can vouch for: see above for IPv6. */
static struct diag_family *diag_family_of(const struct socket_record *rec)
{
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&rec->local;

	if (!(rec->flags & SOCK_LISTENING) || rec->type != SOCK_STREAM ||
	    rec->protocol != IPPROTO_TCP)
		return NULL;
	if (rec->family == AF_INET && rec->local_len == sizeof(struct sockaddr_in))
		return &diag.v4;
	if (rec->family == AF_INET6 && rec->local_len == sizeof(*sin6) && !sin6->sin6_flowinfo &&
	    !sin6->sin6_scope_id && !IN6_IS_ADDR_LINKLOCAL(&sin6->sin6_addr) &&
	    !IN6_IS_ADDR_MULTICAST(&sin6->sin6_addr))
		return &diag.v6;
	return NULL;
}

/* Whether the dump says rec (a TCP listener) is still listening where it was. */
static bool diag_unchanged(const struct luo_file *file, const struct socket_record *rec)
{
	struct diag_family *f;
	void *v;

	if (!diag.armed || !file->ino || !(f = diag_family_of(rec)))
		return false;
	if (++f->freezes < DIAG_AFTER)
		return false; /* a few listeners: cheaper one by one than a dump */
	if (!f->tried) {
		f->tried = true;
		diag_read(rec->family);
	}
	v = luo_index_get(&f->ino, (uint64_t)file->ino);
	return v && v != DIAG_TWICE && diag_matches(rec, v);
}

static int socket_freeze(struct luo_file *file)
{
	struct socket_record rec;
	int r = socket_decode(file, &rec);

	if (r < 0)
		return r;
	if (diag_unchanged(file, &rec))
		return 0; /* the record stands: listening, at that address */
	r = socket_read_state(file->fd, &rec);
	if (r < 0)
		return r;
	return socket_encode(file, &rec);
}

/* For file_restore(): getsockopt() tells a socket without the fstat(). */
static int socket_is_type(int fd)
{
	int32_t type;
	int r = getint(fd, SO_TYPE, &type);

	if (r == -EBADF)
		return r;
	return r < 0 ? -EBADFD : 0;
}

static const char *family_name(int32_t family)
{
	switch (family) {
	case AF_UNIX:
		return "unix";
	case AF_INET:
		return "inet";
	case AF_INET6:
		return "inet6";
	default:
		return "other";
	}
}

static int socket_decode(const struct luo_file *file, struct socket_record *rec)
{
	size_t len = file->payload_len;

	if (len < RECORD_HEAD)
		return -EINVAL;
	if (len == sizeof(*rec)) { /* v1 */
		memcpy(rec, file->payload, sizeof(*rec));
		if (rec->local_len > sizeof(rec->local) || rec->peer_len > sizeof(rec->peer))
			return -EINVAL;
		return 0;
	}
	memset(rec, 0, sizeof(*rec));
	memcpy(rec, file->payload, RECORD_HEAD);
	if (rec->local_len > sizeof(rec->local) || rec->peer_len > sizeof(rec->peer) ||
	    len != RECORD_HEAD + rec->local_len + rec->peer_len)
		return -EINVAL;
	memcpy(&rec->local, file->payload + RECORD_HEAD, rec->local_len);
	memcpy(&rec->peer, file->payload + RECORD_HEAD + rec->local_len, rec->peer_len);
	return 0;
}

static int socket_retrieve(struct luo_file *file)
{
	struct socket_record want, have;
	const char *what = NULL;
	int r;

	r = socket_decode(file, &want);
	if (r < 0)
		return r;
	/* no fstat(): getsockopt() says ENOTSOCK for anything but a socket */
	r = socket_read(file->fd, &have);
	if (r == -ENOTSOCK)
		return record_wrong_type(file, "a socket");
	if (r < 0)
		return r;
	if (want.family != have.family || want.type != have.type || want.protocol != have.protocol)
		what = "family, type or protocol";
	else if ((want.flags & SOCK_LISTENING) != (have.flags & SOCK_LISTENING))
		what = want.flags & SOCK_LISTENING ? "no longer listening" : "listening now";
	else if (want.local_len != have.local_len || memcmp(&want.local, &have.local, want.local_len))
		what = "local address";
	else if ((want.flags & have.flags & SOCK_CONNECTED) &&
		 (want.peer_len != have.peer_len || memcmp(&want.peer, &have.peer, want.peer_len)))
		what = "peer address";
	if (what) {
		log_warn("socket token %llu: not the socket that was preserved (%s %d/%d -> %s %d/%d: %s differs)",
			 (unsigned long long)file->token, family_name(want.family), want.type,
			 want.protocol, family_name(have.family), have.type, have.protocol, what);
		return -EIO;
	}
	if ((want.flags ^ have.flags) & SOCK_CONNECTED)
		log_info("socket token %llu: %s since it was frozen", (unsigned long long)file->token,
			 want.flags & SOCK_CONNECTED ? "its peer has gone" : "connected");
	return 0;
}

/* Bytes (or, for datagrams, the next datagram's bytes) waiting to be read. */
static uint64_t socket_size(const struct luo_file *file)
{
	struct socket_record rec;
	int n;

	if (socket_decode(file, &rec) < 0 || (rec.flags & SOCK_LISTENING))
		return 0;
	if (ioctl(file->fd, SIOCINQ, &n) < 0 || n < 0)
		return 0;
	return (uint64_t)n;
}

const struct luo_file_handler luo_socket_handler = {
	.name = "socket",
	.compatible = "luo,socket-v2",
	.compatible_old = "luo,socket-v1",
	.type = S_IFSOCK,
	.can_preserve = socket_can_preserve,
	.is_type = socket_is_type,
	.retrieve_checks_type = true, /* socket_read()'s getsockopt(): ENOTSOCK */
	.preserve = socket_preserve,
	.freeze = socket_freeze,
	.freeze_round = socket_freeze_round,
	.retrieve = socket_retrieve,
	.size = socket_size,
};
