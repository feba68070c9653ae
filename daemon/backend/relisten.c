// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * DOC: Listeners re-created after a kexec.
 *
 * A socket cannot cross a kexec (the kernel's LUO preserves memfds only),
 * but a listening TCP socket is defined by what it was asked to be: its
 * address, a few options and its backlog. The kernel backend records that
 * here when it fills its kernel session for a kexec, and after the boot
 * re-creates the listener from the record before any client can retrieve
 * its session, so a server that gets it back (LISTEN_FDS from `luoctl
 * exec`) listens on the same port again without knowing anything happened.
 * Connections are refused only while the machine boots. What was queued
 * on the old socket is gone with it: re-created, not carried.
 *
 * Recorded: family (AF_INET, AF_INET6), the bound address and port,
 * SO_REUSEADDR, SO_REUSEPORT, IPV6_V6ONLY, SO_KEEPALIVE, TCP_NODELAY,
 * TCP_DEFER_ACCEPT, TCP_FASTOPEN (its queue), SO_BINDTODEVICE, IP_FREEBIND,
 * IP_TRANSPARENT, and the backlog, which only the kernel's socket
 * diagnostics tell (NETLINK_SOCK_DIAG; without them, SOMAXCONN).
 *
 * The record is struct relisten_record below, in the kernel index
 * (kernel_index.c), versioned by the index's compatible string.
 */
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/luod.h"
#include "backend/relisten.h"

#ifndef TCP_LISTEN
#define TCP_LISTEN 10
#endif

static int getopt_int(int fd, int level, int opt)
{
	int v = 0;
	socklen_t len = sizeof(v);

	return getsockopt(fd, level, opt, &v, &len) < 0 ? -1 : v;
}

bool relisten_candidate(int fd)
{
	int family = getopt_int(fd, SOL_SOCKET, SO_DOMAIN);

	return (family == AF_INET || family == AF_INET6) &&
	       getopt_int(fd, SOL_SOCKET, SO_TYPE) == SOCK_STREAM &&
	       getopt_int(fd, SOL_SOCKET, SO_PROTOCOL) == IPPROTO_TCP &&
	       getopt_int(fd, SOL_SOCKET, SO_ACCEPTCONN) == 1;
}

/*
 * The backlog listen() was given: inet_diag reports it as the write queue
 * of a listening socket. Asked by port and matched by inode. 0 when the
 * kernel has no socket diagnostics.
 */
static uint32_t diag_backlog(int fd, const struct sockaddr_storage *ss)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 req;
	} msg = {
		.nlh = { .nlmsg_len = sizeof(msg), .nlmsg_type = SOCK_DIAG_BY_FAMILY,
			 .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP },
		.req = { .sdiag_family = (uint8_t)ss->ss_family, .sdiag_protocol = IPPROTO_TCP,
			 .idiag_states = 1u << TCP_LISTEN },
	};
	struct sockaddr_nl nl = { .nl_family = AF_NETLINK };
	union {
		struct nlmsghdr h;
		char b[8192];
	} buf;
	struct stat st;
	uint32_t backlog = 0;
	int s;

	if (fstat(fd, &st) < 0)
		return 0;
	msg.req.id.idiag_sport = ss->ss_family == AF_INET
					 ? ((const struct sockaddr_in *)ss)->sin_port
					 : ((const struct sockaddr_in6 *)ss)->sin6_port;
	memset(msg.req.id.idiag_cookie, 0xff, sizeof(msg.req.id.idiag_cookie));
	s = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (s < 0)
		return 0;
	{
		struct timeval tv = { .tv_sec = 1 };

		setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	}
	if (sendto(s, &msg, sizeof(msg), 0, (struct sockaddr *)&nl, sizeof(nl)) < 0)
		goto out;
	for (bool done = false; !done;) {
		ssize_t n = recv(s, &buf, sizeof(buf), 0);
		struct nlmsghdr *h;

		if (n <= 0)
			break;
		for (h = &buf.h; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
			const struct inet_diag_msg *m = NLMSG_DATA(h);

			if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) {
				done = true;
				break;
			}
			if (h->nlmsg_len >= NLMSG_LENGTH(sizeof(*m)) && m->idiag_inode == st.st_ino)
				backlog = m->idiag_wqueue;
		}
	}
out:
	close(s);
	return backlog;
}

int relisten_record(int fd, struct relisten_record *rec)
{
	socklen_t len = sizeof(rec->addr);
	char dev[IFNAMSIZ] = "";
	socklen_t devlen = sizeof(dev);
	int v;

	memset(rec, 0, sizeof(*rec));
	if (getsockname(fd, (struct sockaddr *)&rec->addr, &len) < 0)
		return -errno;
	rec->addr_len = len;
	rec->family = rec->addr.ss_family;
	rec->backlog = diag_backlog(fd, &rec->addr);
	if (!rec->backlog)
		rec->backlog = SOMAXCONN;
#define OPT(field, level, name)                      \
	do {                                         \
		v = getopt_int(fd, level, name);     \
		rec->field = v > 0 ? (int32_t)v : 0; \
	} while (0)
	OPT(reuseaddr, SOL_SOCKET, SO_REUSEADDR);
	OPT(reuseport, SOL_SOCKET, SO_REUSEPORT);
	OPT(keepalive, SOL_SOCKET, SO_KEEPALIVE);
	OPT(nodelay, IPPROTO_TCP, TCP_NODELAY);
	OPT(defer_accept, IPPROTO_TCP, TCP_DEFER_ACCEPT);
	OPT(fastopen, IPPROTO_TCP, TCP_FASTOPEN);
	if (rec->family == AF_INET6)
		OPT(v6only, IPPROTO_IPV6, IPV6_V6ONLY);
	OPT(freebind, IPPROTO_IP, IP_FREEBIND);
	OPT(transparent, IPPROTO_IP, IP_TRANSPARENT);
#undef OPT
	if (getsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, dev, &devlen) == 0 && devlen > 0)
		memcpy(rec->bindtodevice, dev, devlen < sizeof(dev) ? devlen : sizeof(dev) - 1);
	return 0;
}

static int setopt(int fd, int level, int name, int v, const char *what)
{
	if (!v || setsockopt(fd, level, name, &v, sizeof(v)) == 0)
		return 0;
	log_warn("re-creating a listener: %s: %s", what, strerror(errno));
	return -errno;
}

int relisten_create(const struct relisten_record *rec)
{
	int fd, r;

	if ((rec->family != AF_INET && rec->family != AF_INET6) ||
	    rec->addr_len > sizeof(rec->addr) || rec->addr_len < sizeof(sa_family_t) ||
	    rec->addr.ss_family != rec->family || !rec->backlog)
		return -EINVAL;
	fd = socket(rec->family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
	if (fd < 0)
		return -errno;
	/* the options that change what bind() accepts come first; failures of the rest only warn */
	if ((r = setopt(fd, SOL_SOCKET, SO_REUSEADDR, rec->reuseaddr, "SO_REUSEADDR")) < 0 ||
	    (r = setopt(fd, SOL_SOCKET, SO_REUSEPORT, rec->reuseport, "SO_REUSEPORT")) < 0 ||
	    (rec->family == AF_INET6 &&
	     (r = setopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, rec->v6only, "IPV6_V6ONLY")) < 0) ||
	    (r = setopt(fd, IPPROTO_IP, IP_FREEBIND, rec->freebind, "IP_FREEBIND")) < 0 ||
	    (r = setopt(fd, IPPROTO_IP, IP_TRANSPARENT, rec->transparent, "IP_TRANSPARENT")) < 0)
		goto err;
	if (rec->bindtodevice[0] &&
	    setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, rec->bindtodevice,
		       (socklen_t)strnlen(rec->bindtodevice, sizeof(rec->bindtodevice))) < 0) {
		r = -errno;
		goto err;
	}
	setopt(fd, SOL_SOCKET, SO_KEEPALIVE, rec->keepalive, "SO_KEEPALIVE");
	setopt(fd, IPPROTO_TCP, TCP_NODELAY, rec->nodelay, "TCP_NODELAY");
	setopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, rec->defer_accept, "TCP_DEFER_ACCEPT");
	setopt(fd, IPPROTO_TCP, TCP_FASTOPEN, rec->fastopen, "TCP_FASTOPEN");
	if (bind(fd, (const struct sockaddr *)&rec->addr, rec->addr_len) < 0 ||
	    listen(fd, (int)rec->backlog) < 0) {
		r = -errno;
		goto err;
	}
	return fd;
err:
	close(fd);
	return r;
}
