// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * DOC: Resource limits.
 *
 * Every fd a client preserves stays open in luod until it is finished, so
 * without limits one uid could exhaust luod's fd table (RLIMIT_NOFILE) and
 * with it every other client's ability to preserve, connect or even take
 * part in an update, which needs fds of its own. The limits here are
 * checked before luod takes anything, each with its own errno so that a
 * client can tell which one it hit:
 *   sessions per uid       EDQUOT   (--max-sessions-per-uid)
 *   files per session      EMFILE   (--max-files-per-session)
 *   preserved fds in total ENOSPC   (--max-fds, under RLIMIT_NOFILE)
 *   message size           EMSGSIZE (--max-message-size; server.c checks it)
 * The participant deadline (--participant-timeout) lives in participant.c.
 * Sessions and files handed over by a predecessor always count but are
 * never refused: the limits only stop new ones.
 */
#include <errno.h>
#include <sys/resource.h>

#include "core/luod.h"
#include "server/limit.h"

struct luo_limits luo_limits = {
	.sessions_per_uid = 4096, /* the uAPI suites create 2,000 */
	.files_per_session = 65536,
	.fds = LUO_LIMIT_UNSET,
	.message = LUO_LIMIT_MESSAGE_MAX,
};

/* fds luod keeps for itself: stdio, epoll, signalfd, the socket, connections, state files */
static size_t reserve(size_t nofile)
{
	size_t r = nofile / 4;

	return r < 256 ? 256 : r;
}

int limits_init(void)
{
	struct rlimit rl;
	size_t nofile, room;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	if (rl.rlim_cur < rl.rlim_max) {
		rlim_t want = rl.rlim_max;

		rl.rlim_cur = want;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			log_warn("raising RLIMIT_NOFILE to %llu: %m", (unsigned long long)want);
		if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
			return -errno;
	}
	nofile = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (rlim_t)1 << 30 ? (size_t)1 << 30
									       : (size_t)rl.rlim_cur;
	room = nofile > reserve(nofile) ? nofile - reserve(nofile) : 0;
	if (luo_limits.fds == LUO_LIMIT_UNSET) {
		luo_limits.fds = room;
	} else if (luo_limits.fds > room) {
		log_warn("--max-fds %zu does not fit RLIMIT_NOFILE %zu with %zu fds for luod itself: using %zu",
			 luo_limits.fds, nofile, reserve(nofile), room);
		luo_limits.fds = room;
	}
	log_debug("limits: RLIMIT_NOFILE %zu, %zu preserved fds, %zu sessions per uid, %zu files per session, %zu-byte messages",
		  nofile, luo_limits.fds, luo_limits.sessions_per_uid, luo_limits.files_per_session,
		  luo_limits.message);
	return 0;
}

int limits_create(uid_t uid)
{
	size_t n = 0;

	for (const struct luo_session *s = luo_core.sessions; s; s = s->next)
		n += s->uid == uid;
	if (n >= luo_limits.sessions_per_uid) {
		log_warn("uid %u: session refused: it has %zu, the limit (--max-sessions-per-uid)",
			 (unsigned)uid, n);
		return -EDQUOT;
	}
	return 0;
}

int limits_preserve(const struct luo_session *s, size_t n)
{
	if (s->nfiles + n > luo_limits.files_per_session) {
		log_warn("session %s: %zu more files refused: it has %zu, the limit is %zu (--max-files-per-session)",
			 s->name, n, s->nfiles, luo_limits.files_per_session);
		return -EMFILE;
	}
	if (luo_core.nfiles + n > luo_limits.fds) {
		log_warn("session %s: %zu more files refused: luod holds %zu, the limit is %zu (--max-fds)",
			 s->name, n, luo_core.nfiles, luo_limits.fds);
		return -ENOSPC;
	}
	return 0;
}
