/* SPDX-License-Identifier: GPL-2.0-or-later */
/* hold.c: a session luoctl keeps for a program that knows nothing of luo. */
#ifndef LUOCTL_HOLD_H
#define LUOCTL_HOLD_H

#include "luoctl.h"

struct hold {
	char name[LUO_NAME_MAX];
	int dev;    /* device connection, or -1 */
	int handle; /* session handle while luoctl works on it, or -1 */
	int *fds;   /* luoctl's copies, in preservation order */
	uint64_t *tokens;
	size_t n, cap;
	uint64_t instance; /* luod's when attached: a change means an update or a restart */
	bool existed;        /* attach found the session held by luod */
	bool handed_on;      /* update --session took it from luoctl */
	/*
	 * Taken back frozen (RENEW and FREEZE in one request): for exec, which
	 * adds nothing to it and pins it anyway; preserve, which adds files,
	 * takes it back NORMAL and freezes once they are in.
	 */
	bool pinned;
};

void hold_init(struct hold *h, const char *name);
/*
 * Make the session an outgoing one luoctl holds: a held session is taken
 * back with its fds (which h then owns), else with create a new one is
 * created; with fds already in h (after a luod update) they are preserved
 * again. ENOENT: no such session and not create; EEXIST: a process holds it
 * (also when luod refused to retrieve it for that reason).
 */
int hold_attach(struct hold *h, bool create);
/*
 * Before attach: when a process holds the session (outgoing, attached),
 * take it from that process (SESSION_UPDATE) so that attach retrieves it.
 */
int hold_take_over(struct hold *h);
/* Keep fd (which h then owns) for the next attach to preserve under token. */
int hold_keep(struct hold *h, int fd, uint64_t token);
/* Preserve fd (which h then owns) under token. */
int hold_add(struct hold *h, int fd, uint64_t token);
/* Whether luod dropped the handle (a luod update, or update --session). */
bool hold_hung_up(const struct hold *h);
/* After a hang-up: attach again if luod was updated, else note it was handed on. */
int hold_lost(struct hold *h);
/* Freeze the session and close the handle: luod holds it from here on. */
int hold_freeze(struct hold *h);
/*
 * Freeze the session and keep the handle: luoctl still holds it, and if
 * luoctl dies (SIGKILL, the OOM killer) the handle closes on a frozen
 * session, which luod then holds as after hold_freeze(), never releases.
 */
int hold_pin(struct hold *h);
/* Close what luoctl still holds (the fds too) and free. */
void hold_close(struct hold *h);
int hold_instance(int dev, uint64_t *instance);
/* SHOW_SESSION's summary of session name: 0, or -ENOENT when luod has none. */
int hold_show(int dev, const char *name, struct luo_msg_session_info *si);

#endif
