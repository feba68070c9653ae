/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The keeper: a tiny process that holds a copy of every preserved fd and
 * the record luod needs to rebuild its sessions, so that a SIGKILL of luod
 * loses nothing (keeper.c is the process, holder.c is luod's side of it,
 * fdstore.c mirrors the same into systemd's fd store).
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
 *   DELP key            drop every entry whose key starts with key
 *   LIST                the keeper answers with one PUT per entry, in the
 *                       order they were first stored, then END
 *   SYNC                the keeper answers END once everything before it
 *                       is done (luod's way to know a DEL has closed an fd)
 *   QUIT                close everything and exit: luod stopped cleanly
 */
#ifndef LUOD_KEEPER_H
#define LUOD_KEEPER_H

#include <stdbool.h>
#include <stdint.h>

#include "core/luod.h"

enum keeper_op {
	KEEPER_PUT = 1,
	KEEPER_DEL,
	KEEPER_DELP,
	KEEPER_LIST,
	KEEPER_SYNC,
	KEEPER_QUIT,
	KEEPER_END,
	KEEPER_PUTV,
};

#define KEEPER_MAGIC 0x6b70756cu /* "lupk" */
#define KEEPER_KEY_MAX 128
#define KEEPER_DATA_MAX (LUO_PAYLOAD_MAX + 256)

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

/* argv[1] is "--keeper": run as the keeper on the listening socket in fd 3. */
int keeper_main(int argc, char **argv);

/* ---- holder.c: luod's side ---- */
/*
 * Find the keeper of state_dir, or start one. recover: a fresh start,
 * rebuild every session the keeper holds (as incoming sessions, like after
 * an update). Without a usable keeper luod runs on and says so.
 */
int holder_start(const char *state_dir, bool recover);
void holder_stop(void); /* clean exit: the keeper lets everything go */
/* Wait until the keeper has done everything sent so far (after a request). */
void holder_flush(void);
/* Around the update's execve: drop what does not cross; put it back on failure. */
void holder_before_exec(void);
void holder_exec_failed(void);

/* ---- what core, session and file report (no sockets there) ---- */
void mirror_session(const struct luo_session *s);
void mirror_session_gone(const struct luo_session *s);
void mirror_file(const struct luo_file *f);
void mirror_file_gone(const struct luo_file *f);

/* ---- fdstore.c: systemd's fd store, when $NOTIFY_SOCKET is set ---- */
bool fdstore_enabled(void);
void fdstore_put_file(const struct luo_file *f);
void fdstore_put_session(const struct luo_session *s);
void fdstore_remove_file(const struct luo_file *f);
void fdstore_remove_session(const struct luo_session *s);
/* On a fresh start: take the fds systemd passed back; returns sessions rebuilt. */
int fdstore_recover(void);

#endif
