/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * luod's resource limits (limit.c): what one uid, one session or all
 * clients together may make luod hold, each set by a luod option.
 */
#ifndef LUOD_LIMIT_H
#define LUOD_LIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "protocol.h"

struct luo_session;

struct luo_limits {
	size_t sessions_per_uid;  /* --max-sessions-per-uid: EDQUOT past it */
	size_t files_per_session; /* --max-files-per-session: EMFILE past it */
	size_t fds;               /* --max-fds, all preserved files together: ENOSPC past it */
	size_t message;           /* --max-message-size, a whole record: EMSGSIZE past it */
	size_t connections_per_uid; /* --max-connections-per-uid: EUSERS past it */
};
extern struct luo_limits luo_limits;

#define LUO_LIMIT_UNSET ((size_t)-1)
/* the smallest --max-message-size: an UPDATE request must still fit */
#define LUO_LIMIT_MESSAGE_MIN (sizeof(struct luo_msg_hdr) + sizeof(struct luo_msg_update))
#define LUO_LIMIT_MESSAGE_MAX (sizeof(struct luo_msg_hdr) + LUO_MSG_MAX)

/*
 * Raise RLIMIT_NOFILE to its hard limit, then fit --max-fds under it (a
 * default when unset, clamped with a warning when too high), leaving room
 * for connections and luod's own files. 0 or -errno.
 */
int limits_init(void);
/* Root and luod's own uid: no per-uid limit on connections, and room kept for them. */
bool uid_privileged(uid_t uid);
/*
 * Whether a device connection of uid, accepted as fd, may stay: 0 (it is
 * counted until limits_disconnect()) or -EUSERS: uid has
 * --max-connections-per-uid already, or fd lies in the top of luod's fd
 * table, which only privileged uids may take. Privileged uids always 0.
 */
int limits_connect(uid_t uid, int fd);
void limits_disconnect(uid_t uid);
/* For any other fd luod takes for uid (a session handle): 0, or -EUSERS in that top. */
int limits_fd(uid_t uid, int fd);
/* Whether uid may create one more session: 0 or -EDQUOT. */
int limits_create(uid_t uid);
/* Whether s may preserve n more files: 0, -EMFILE (the session) or -ENOSPC (luod). */
int limits_preserve(const struct luo_session *s, size_t n);

#endif
