/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The test as systemd's service manager (tests/e2e/manager.c): it listens
 * on $NOTIFY_SOCKET and keeps what luod sends with FDSTORE=1 and FDNAME=
 * (one entry per open file, several per name, as systemd's same_fd()
 * dedup does), drops every entry of a name on FDSTOREREMOVE=1, and starts
 * luod the way systemd restarts a service: the stored fds at 3.. with
 * LISTEN_FDS, LISTEN_FDNAMES and LISTEN_PID. luod runs without its own
 * keeper (LUOD_NO_KEEPER=1) meanwhile.
 */
#ifndef LUO_E2E_MANAGER_H
#define LUO_E2E_MANAGER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "e2e.h"

#define MAX_STORE 64

struct store_entry {
	char name[256];
	int fd;
};
/* The store; read it under store_lock, after drain(). */
extern struct store_entry store[MAX_STORE];
extern size_t nstore;
extern pthread_mutex_t store_lock;

void manager_start(void);
void manager_stop(void);
/* Every notification luod has sent so far has been applied. */
void drain(void);
void to_manager(const char *msg);
int store_find(const char *name);
size_t store_count(const char *name);
/* An entry luo-KIND-ID-HEX(session) is in the store. */
bool stored(const char *kind, const char *id, const char *session);
/* Entries in the store, after drain(). */
size_t stored_now(void);
/*
 * luod as systemd restarts it, with the store; and SIGKILL then that (the
 * notifications luod sent before it died applied first, as systemd does).
 */
void start_with_store(struct luod_proc *d);
void crash_with_store(struct luod_proc *d);

#endif
