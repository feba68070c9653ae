/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The keeper's wire protocol, shared by the keeper process (keeper.c) and
 * its one client, luod's mirror (holder.c). Nothing else of luod is in
 * here: the keeper includes this file, lib/protocol.h (for fd passing) and
 * the C library only.
 *
 * The keeper is a tiny process that holds a copy of every preserved fd and
 * the record luod needs to rebuild its sessions, so that a SIGKILL of luod
 * loses nothing. It stores opaque entries (key, data, fd).
 *
 * Wire format on the keeper's SOCK_SEQPACKET socket, one message each, in
 * host byte order (both ends are the same machine, usually the same
 * binary): struct keeper_msg, then key_len bytes of key, then data_len
 * bytes of data, with at most one fd in SCM_RIGHTS.
 *   PUT  key data [fd]  store or replace; an fd replaces the one held,
 *                       no fd keeps it
 *   PUTV records        many PUTs in one message (data: records of
 *                       struct keeper_rec, key, data; the fds of the
 *                       records that have one, in order, in SCM_RIGHTS)
 *   DEL  key            drop the entry (and close its fd)
 *   DELV records        many DELs in one message (version 2): records as
 *                       in PUTV, each with data_len 0 and no fd, naming
 *                       an entry to drop
 *   DELP key            drop every entry whose key starts with key
 *   LIST                the keeper answers with one PUT per entry, in the
 *                       order they were first stored, then END
 *   SYNC                the keeper answers END once everything before it
 *                       is done (luod's way to know a DEL has closed an fd);
 *                       since version 2 the END carries the keeper's
 *                       protocol version (u32), a version 1 keeper's none
 *   QUIT                close everything and exit: luod stopped cleanly
 *   MARK                flag every entry stale (a PUT of it clears the flag)
 *   SWEEP               drop every entry still stale: with MARK around a
 *                       full resend, a reset that a crash in the middle
 *                       cannot empty (LIST lists stale entries too)
 *
 * Versions: the keeper outlives luod's execve, so a luod may find a keeper
 * of an older release. A keeper of version 1 knows every op above but
 * DELV (an op it does not know it drops, with a line on stderr); luod
 * learns the version from the END of its first SYNC and sends a version 1
 * keeper one DEL per entry (a keeper it has just started is asked too).
 *
 * The keeper serves one peer: its own uid only (SO_PEERCRED), and a new
 * connection replaces the one before it once that one's queued messages
 * are applied (a luod that died or re-exec'd left them; an idle stranger
 * has none), so a new luod is never kept waiting behind another peer.
 */
#ifndef LUOD_KEEPER_PROTO_H
#define LUOD_KEEPER_PROTO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum keeper_op {
	KEEPER_PUT = 1,
	KEEPER_DEL,
	KEEPER_DELP,
	KEEPER_LIST,
	KEEPER_SYNC,
	KEEPER_QUIT,
	KEEPER_END,
	KEEPER_PUTV,
	KEEPER_MARK,
	KEEPER_SWEEP,
	KEEPER_DELV, /* version 2 */
};

#define KEEPER_PROTO_VERSION 2

#define KEEPER_MAGIC 0x6b70756cu /* "lupk" */
#define KEEPER_KEY_MAX 128
#define KEEPER_DATA_MAX (64 * 1024 + 256) /* a handler's payload (64 KiB) and its head */

struct keeper_msg {
	uint32_t magic;
	uint32_t op;
	uint32_t key_len;
	uint32_t data_len;
};

/* One record of a PUTV. */
struct keeper_rec {
	uint32_t key_len;
	uint32_t data_len;
	uint32_t has_fd;
};

/* A PUTV stays well inside a SOCK_SEQPACKET message (the default send buffer). */
#define KEEPER_BATCH_MAX (128 * 1024)
#define KEEPER_BATCH_FDS 253 /* SCM_MAX_FD */

/* The largest message either side sends. */
#define KEEPER_MSG_MAX (sizeof(struct keeper_msg) + \
			(KEEPER_BATCH_MAX > KEEPER_KEY_MAX + KEEPER_DATA_MAX ? KEEPER_BATCH_MAX : \
			 KEEPER_KEY_MAX + KEEPER_DATA_MAX))

/*
 * Send one message: header, key, then data (iovecs, may be none), with
 * nfds fds (at most KEEPER_BATCH_FDS) in one SCM_RIGHTS. Retries EINTR;
 * 0 or -errno.
 */
struct iovec;
int keeper_msg_send(int sock, uint32_t op, const void *key, size_t key_len,
		    const struct iovec *data, size_t ndata, const int *fds, size_t nfds);

/*
 * Receive one message into buf (KEEPER_MSG_MAX bytes), its fds (O_CLOEXEC)
 * into fds[0..*nfds) (up to max_fds; any more are closed). flags go to
 * recvmsg (MSG_DONTWAIT). Returns the op of a well-formed message,
 * -ECONNRESET at the end of the connection, -EBADMSG for a malformed one
 * (its fds closed), or -errno. *m gets the header.
 */
struct keeper_msg;
int keeper_msg_recv(int sock, void *buf, size_t len, int flags, struct keeper_msg *m, int *fds,
		    size_t max_fds, size_t *nfds);

/* argv[1] is "--keeper": run as the keeper on the listening socket in fd 3. */
int keeper_main(int argc, char **argv);

#endif
