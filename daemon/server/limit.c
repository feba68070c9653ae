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
 *   preserved fds in total ENOSPC   (--max-fds, under RLIMIT_NOFILE; its last
 *                                    16th for root's and luod's uid's sessions)
 *   message size           EMSGSIZE (--max-message-size; server.c checks it)
 *   connections per uid    EUSERS   (--max-connections-per-uid)
 * Connections are the one thing a uid can make luod hold without asking
 * for anything: each accepted one is an fd. A uid past its limit has its
 * new connection answered with EUSERS (op 0, no request needed) and closed
 * at once. Root and luod's own uid have no such limit, and the top of the
 * fd table (a 32nd of RLIMIT_NOFILE, at least 32 fds) is theirs alone:
 * another uid's connection, new session handle or the fd copies of a reply
 * kept for it (server.c) that would land there are refused with EUSERS,
 * so however many uids connect or create sessions, root can still connect
 * and update. Refusals are logged sparingly (a uid
 * must not flood the log by being refused).
 * The participant deadline (--participant-timeout) lives in participant.c.
 * Sessions and files handed over by a predecessor always count but are
 * never refused: the limits only stop new ones.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/luod.h"
#include "server/limit.h"

struct luo_limits luo_limits = {
	.sessions_per_uid = 4096, /* the uAPI suites create 2,000 */
	.files_per_session = 65536,
	.fds = LUO_LIMIT_UNSET,
	.message = LUO_LIMIT_MESSAGE_MAX,
	.connections_per_uid = 256,
};

/* Open device connections of each unprivileged uid that has any. */
static struct uid_conns {
	uid_t uid;
	size_t open;
	size_t refused; /* since it last had one closed: logged at 1, 2, 4, ... */
} *conns;
static size_t nconns, conns_cap;

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
	log_debug("limits: RLIMIT_NOFILE %zu, %zu preserved fds, %zu sessions per uid, %zu files per session, %zu-byte messages, %zu connections per uid",
		  nofile, luo_limits.fds, luo_limits.sessions_per_uid, luo_limits.files_per_session,
		  luo_limits.message, luo_limits.connections_per_uid);
	return 0;
}

bool uid_privileged(uid_t uid)
{
	return uid == 0 || uid == geteuid();
}

/* luod's RLIMIT_NOFILE now: another process may have lowered it (prlimit). */
static size_t nofile_now(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY ||
	    rl.rlim_cur > (rlim_t)1 << 30)
		return (size_t)1 << 30;
	return (size_t)rl.rlim_cur;
}

static struct uid_conns *uid_conns(uid_t uid, bool add)
{
	for (size_t i = 0; i < nconns; i++)
		if (conns[i].uid == uid)
			return &conns[i];
	if (!add)
		return NULL;
	if (nconns == conns_cap) {
		size_t cap = conns_cap ? 2 * conns_cap : 16;
		struct uid_conns *n = realloc(conns, cap * sizeof(*n));

		if (!n)
			return NULL;
		conns = n;
		conns_cap = cap;
	}
	conns[nconns] = (struct uid_conns){ .uid = uid };
	return &conns[nconns++];
}

/* Whether fd lies in the top of the table, which only privileged uids may take. */
static bool in_privileged_room(int fd)
{
	size_t nofile = nofile_now(), room = nofile / 32 < 32 ? 32 : nofile / 32;

	return (size_t)fd + room >= nofile;
}

int limits_fd(uid_t uid, int fd)
{
	static uint64_t last_ns;

	if (uid_privileged(uid) || !in_privileged_room(fd))
		return 0;
	if (now_ns() - last_ns >= 1000000000u) {
		last_ns = now_ns();
		log_warn("uid %u: session or kept reply refused: luod's fd table is nearly full, the rest is kept for root",
			 (unsigned)uid);
	}
	return -EUSERS;
}

int limits_connect(uid_t uid, int fd)
{
	struct uid_conns *u;
	bool top;

	if (uid_privileged(uid))
		return 0;
	u = uid_conns(uid, true);
	if (!u)
		return -EUSERS; /* out of memory: refuse rather than count wrong */
	top = in_privileged_room(fd);
	if (u->open >= luo_limits.connections_per_uid || top) {
		u->refused++;
		if ((u->refused & (u->refused - 1)) == 0)
			log_warn("uid %u: connection refused (%zu refused): %s", (unsigned)uid, u->refused,
				 top ? "luod's fd table is nearly full, the rest is kept for root"
				     : "it has --max-connections-per-uid open");
		return -EUSERS;
	}
	u->open++;
	return 0;
}

void limits_disconnect(uid_t uid)
{
	struct uid_conns *u = uid_conns(uid, false);

	if (!u || !u->open)
		return;
	u->refused = 0;
	if (--u->open == 0)
		*u = conns[--nconns];
}

int limits_create(uid_t uid)
{
	size_t n = 0;

	for (const struct luo_session *s = core_first_session(); s; s = s->next)
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
	if (core_file_count() + n > luo_limits.fds) {
		log_warn("session %s: %zu more files refused: luod holds %zu, the limit is %zu (--max-fds)",
			 s->name, n, core_file_count(), luo_limits.fds);
		return -ENOSPC;
	}
	/* the last 16th of --max-fds is for root's and luod's uid's sessions */
	if (!uid_privileged(s->uid) && core_file_count() + n > luo_limits.fds - luo_limits.fds / 16) {
		log_warn("session %s: %zu more files refused: luod holds %zu, the rest of --max-fds %zu is kept for root",
			 s->name, n, core_file_count(), luo_limits.fds);
		return -ENOSPC;
	}
	return 0;
}
