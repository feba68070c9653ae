/* SPDX-License-Identifier: GPL-2.0-or-later */
/* history.c: the live updates luod remembers, carried across its own re-exec. */
#ifndef LUOD_HISTORY_H
#define LUOD_HISTORY_H

#include <stdint.h>

#include "protocol.h"

/* CLOCK_REALTIME in ns, for the start times people read. */
uint64_t realtime_ns(void);
/* Append one entry; the oldest goes when the ring is full. */
void history_add(const struct luo_msg_history_entry *e);
/* Oldest first: entry i of history_count(). */
size_t history_count(void);
const struct luo_msg_history_entry *history_at(size_t i);

/* The whole ring replaced by n entries, oldest first (a crash copy given back). */
void history_restore(const struct luo_msg_history_entry *e, size_t n);

/* The handover's /history node: written into a sequential-write FDT, read back. */
int history_fdt_write(void *fdt);
/* Takes what a valid /history holds; a missing or malformed one leaves the ring empty. */
void history_fdt_read(const void *fdt);

/* The update being tried, for its failure or cancellation to be recorded. */
void history_update_started(void);
void history_update_failed(int error);
void history_cancelled(void);

#endif
