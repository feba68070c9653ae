/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * watch.c: state changes as events, for `luoctl watch`. The core and the
 * update call in here; the server sets the sink that sends them, so
 * neither core.c nor update.c touches a socket.
 */
#ifndef LUOD_WATCH_H
#define LUOD_WATCH_H

#include <stdbool.h>

#include "protocol.h"

/*
 * Set by the server when someone watches: send(ev, ctx) sends ev to every
 * watcher; NULL when nobody does any more.
 */
void watch_set_sink(void (*send)(const struct luo_msg_watch_event *ev, void *ctx), void *ctx);

void watch_global(void);                      /* luod's state changed (core.c) */
void watch_update_step(enum luo_update_step step, int result); /* update.c */
/* Compare sessions and participants with what watchers last saw, and tell them. */
void watch_scan(void);
/* The current state, each event flagged SNAPSHOT, through send(ev, ctx). */
void watch_snapshot(void (*send)(const struct luo_msg_watch_event *ev, void *ctx), void *ctx);
void watch_reset(void); /* nobody watches any more: forget what was seen */

#endif
