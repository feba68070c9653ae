/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The core's own state: included by the files of core/ alone (and by the unit tests
 * of the core); everything else uses the accessors in core/luod.h.
 */
#ifndef LUOD_CORE_STATE_H
#define LUOD_CORE_STATE_H

#include "core/luod.h"

struct luo_core {
	enum luo_state state;
	uint64_t generation;
	uint64_t updates;
	uint64_t instance;    /* random, new in every luod process (core_new_instance) */
	uint64_t predecessor; /* the instance a live update took over from, or 0 */
	uint64_t started_ns;
	struct luo_session *sessions;
	size_t nsessions;
	size_t nfiles; /* outgoing and incoming */
	struct luo_index inodes; /* outgoing files by inode, for EBUSY */
	void (*detach)(void *handle); /* set by the server: a held session ended */
	/* set by the server: send a participant its event */
	/* tag: the event's, for a participant registered with LUO_PARTICIPANT_TAGS; else 0 */
	int (*participant_send)(void *handle, enum luo_event event, unsigned timeout_ms, uint64_t tag);
	bool busy; /* a global event is waiting for participants */
	uint64_t prepared_ns; /* when the state last became PREPARED */
};
extern struct luo_core luo_core;

/* *buf replaced by a copy of len bytes of data (a file's or a participant's payload); -ENOMEM */
int core_buf_set(unsigned char **buf, size_t *buf_len, const void *data, size_t len);

#endif
