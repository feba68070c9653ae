/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * luod's side of crash survival: the mirror of everything it holds in the
 * keeper process (holder.c; the keeper itself is keeper.c, its wire format
 * keeper_proto.h) and in systemd's fd store (fdstore.c).
 */
#ifndef LUOD_KEEPER_H
#define LUOD_KEEPER_H

#include <stdbool.h>
#include <stdint.h>

#include "core/luod.h"
#include "crash/keeper_proto.h"

_Static_assert(LUO_PAYLOAD_MAX + 4 + 64 <= KEEPER_DATA_MAX, "a file record fits a keeper entry");

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
/*
 * The server's loop watches the keeper connection: fn(fd, true) when there
 * is one to watch, fn(fd, false) before it is closed; an event on it calls
 * holder_event(), which replaces the keeper and resyncs at once.
 */
void holder_set_watch(void (*fn)(int fd, bool on));
void holder_event(void);
/* For STATUS: whether the copy in a keeper is whole, and how often it was not. */
enum holder_state { HOLDER_OFF = 0, HOLDER_OK = 1, HOLDER_LOST = 2 };
enum holder_state holder_state(uint64_t *failures);

/*
 * The mirror as an observer of the core (core/observer.h): every session
 * and file added or gone goes to the keeper and the fd store. main.c
 * registers it before anything is read.
 */
void crash_observe(void);
void mirror_session(struct luo_session *s);
void mirror_session_gone(struct luo_session *s);
void mirror_file(struct luo_file *f);
void mirror_file_gone(struct luo_file *f);

/* ---- lineage.c: generation, update count and history, for the crash copies ---- */
struct lineage {
	bool have;
	uint64_t generation;
	uint64_t updates;
	size_t count;
	struct luo_msg_history_entry e[LUO_HISTORY_MAX];
};
#define LINEAGE_MAX (32 + LUO_HISTORY_MAX * sizeof(struct luo_msg_history_entry))
size_t lineage_encode(unsigned char *buf, size_t cap); /* LINEAGE_MAX bytes at most */
bool lineage_changed(void); /* since the last call: then the copies need it again */
void lineage_forget_sent(void);
/* Merge one copy into out (the newest wins); -EBADMSG if it does not parse. */
int lineage_decode(const void *data, size_t len, struct lineage *out);
/* After every source was read: the core decides state and generation, the history returns. */
void lineage_adopt(const struct lineage *l, size_t sessions);

/* ---- fdstore.c: systemd's fd store, when $NOTIFY_SOCKET is set ---- */
bool fdstore_enabled(void);
/* Each entry once: a session or file already stored is not stored again. */
void fdstore_put_file(struct luo_file *f);
void fdstore_put_session(struct luo_session *s);
void fdstore_remove_file(struct luo_file *f);
void fdstore_remove_session(struct luo_session *s); /* and its files */
/* A successor after an update: what it was handed is in the store already. */
void fdstore_adopt_handover(void);
void fdstore_put_lineage(const void *data, size_t len); /* replaces the one stored */
void fdstore_remove_lineage(void);
/* On a fresh start: take the fds systemd passed back; returns sessions rebuilt. */
int fdstore_recover(struct lineage *lineage);

#endif
