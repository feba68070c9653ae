// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * DOC: socket handler.
 *
 * A socket crosses the update as the same open socket: a listening socket
 * keeps its backlog, so connections that arrive during the blackout wait
 * for the successor. The payload records family, type, protocol, whether it
 * listens, and its local and peer addresses; retrieve checks the fd is still
 * that socket. luod's own sockets (session handles, device connections) are
 * refused with ENOENT, as the kernel refuses to preserve its session files.
 *
 * Payload v1: struct socket_record below, addresses at their full size.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../luod.h"

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

static bool socket_can_preserve(int fd, const struct stat *st)
{
	return S_ISSOCK(st->st_mode) && !is_luod_socket(fd);
}

static int socket_read(int fd, struct socket_record *rec)
{
	socklen_t len;
	int32_t listening = 0;
	int r;

	memset(rec, 0, sizeof(*rec));
	if ((r = getint(fd, SO_DOMAIN, &rec->family)) < 0 ||
	    (r = getint(fd, SO_TYPE, &rec->type)) < 0 ||
	    (r = getint(fd, SO_PROTOCOL, &rec->protocol)) < 0 ||
	    (r = getint(fd, SO_ACCEPTCONN, &listening)) < 0)
		return r;
	if (listening)
		rec->flags |= SOCK_LISTENING;
	len = sizeof(rec->local);
	if (getsockname(fd, (struct sockaddr *)&rec->local, &len) < 0)
		return -errno;
	rec->local_len = len;
	len = sizeof(rec->peer);
	if (getpeername(fd, (struct sockaddr *)&rec->peer, &len) == 0) {
		rec->flags |= SOCK_CONNECTED;
		rec->peer_len = len;
	} else if (errno != ENOTCONN) {
		return -errno;
	}
	return 0;
}

static int socket_record(struct luo_file *file)
{
	struct socket_record rec;
	int r = socket_read(file->fd, &rec);

	if (r < 0)
		return r;
	return file_set_payload(file, &rec, sizeof(rec));
}

static void socket_nop(struct luo_file *file)
{
	(void)file;
}

static int socket_retrieve(struct luo_file *file)
{
	struct socket_record want, have;
	int r;

	if (file->payload_len != sizeof(want))
		return -EINVAL;
	memcpy(&want, file->payload, sizeof(want));
	r = socket_read(file->fd, &have);
	if (r < 0)
		return r;
	/* a connected peer may have gone away meanwhile; what it was bound to may not change */
	if (want.family != have.family || want.type != have.type || want.protocol != have.protocol ||
	    (want.flags & SOCK_LISTENING) != (have.flags & SOCK_LISTENING) ||
	    want.local_len != have.local_len || memcmp(&want.local, &have.local, want.local_len)) {
		log_warn("socket token %llu: not the socket that was preserved",
			 (unsigned long long)file->token);
		return -EIO;
	}
	return 0;
}

static int socket_finish(struct luo_file *file)
{
	(void)file;
	return 0;
}

const struct luo_file_handler luo_socket_handler = {
	.name = "socket",
	.compatible = "luo,socket-v1",
	.type = S_IFSOCK,
	.can_preserve = socket_can_preserve,
	.preserve = socket_record,
	.unpreserve = socket_nop,
	.freeze = socket_record,
	.unfreeze = socket_nop,
	.retrieve = socket_retrieve,
	.finish = socket_finish,
	.size = NULL,
};
