// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Sessions that luoctl keeps on behalf of programs that know nothing of luo
 * (`luoctl exec`, `luoctl preserve`).
 *
 * Such a session lives in one of two places. While luoctl works on it, it is
 * an ordinary outgoing session whose handle luoctl holds, so a global update
 * of luod carries it like any other. When luoctl is done it freezes the
 * session on its own (per-session FREEZE) and closes the handle: luod then
 * holds it, retrievable by name, with every fd in it.
 *
 * Taking it back (hold_attach) retrieves the held session, takes its fds
 * and turns it back into an outgoing session with the same files under the
 * same tokens in one step (luo_session_renew): an incoming session cannot
 * take new fds and cannot be frozen again, an outgoing one can, and at no
 * moment do only luoctl's copies hold the files. Where luod cannot renew
 * (a session that lives in the kernel), it finishes the session and creates
 * it afresh with the same fds; between the two only luoctl holds them, so
 * it does nothing else in between.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hold.h"

void hold_init(struct hold *h, const char *name)
{
	memset(h, 0, sizeof(*h));
	strcpy(h->name, name);
	h->dev = h->handle = -1;
}

static int grow(struct hold *h)
{
	size_t cap = h->cap ? h->cap * 2 : 8;
	int *fds = realloc(h->fds, cap * sizeof(*fds));
	uint64_t *tokens;

	if (!fds)
		return -ENOMEM;
	h->fds = fds;
	tokens = realloc(h->tokens, cap * sizeof(*tokens));
	if (!tokens)
		return -ENOMEM;
	h->tokens = tokens;
	h->cap = cap;
	return 0;
}

/*
 * Which luod answers: its instance id, new in every luod process (a live
 * update's successor, a restart after a crash) and never repeated, as the
 * generation can be after a crash.
 */
int hold_instance(int dev, uint64_t *instance)
{
	return luo_get_instance(dev, instance, NULL);
}

/*
 * The tokens of session name, in preservation order, appended to h (fds -1).
 * A file that did not cross a kexec (luod's kernel backend answers ENOLINK
 * for it) is left out, and said so: the session is made afresh without it.
 */
static int add_token(void *ctx, void *e)
{
	const struct luo_msg_file_info *fi = e;
	struct hold *h = ctx;
	int r;

	if (fi->retrieve_error == -ENOLINK) {
		fprintf(stderr, "luoctl: session %s token %" PRIu64 ": not carried "
			"across the kexec (ENOLINK); left out\n", h->name, fi->token);
		return 0;
	}
	if (h->n == h->cap && (r = grow(h)) < 0)
		return r;
	h->fds[h->n] = -1;
	h->tokens[h->n++] = fi->token;
	return 0;
}

static int list_tokens(struct hold *h)
{
	struct luo_msg_show req = { 0 };

	strcpy(req.name, h->name);
	return page_each(h->dev, &page_files, &req, sizeof(req), NULL, add_token, h);
}

/*
 * Take the held session's fds into h and make it outgoing again: for a
 * pinned hold RENEW and FREEZE in one request, so that luoctl's death at any
 * moment leaves a session luod keeps (1); else (or a luod before that call)
 * RENEW, and the caller's freeze follows (1); or, where luod cannot renew (a kernel session),
 * FINISH so that a fresh session can be created with the same fds (0).
 */
/* Renewed after all (RENEW worked, its FREEZE did not): outgoing now. */
static bool renewed(int session)
{
	enum luo_state state;
	bool incoming;

	return luo_session_get_state(session, &state, &incoming) == 0 && !incoming;
}

static int take_back(struct hold *h, int session)
{
	size_t had = h->n;
	int r;

	if (had == 0) {
		r = list_tokens(h);
		if (r < 0)
			return r;
		r = luo_session_retrieve_fds(session, h->tokens, h->fds, h->n);
		if (r < 0) {
			h->n = 0;
			return r;
		}
	}
	/* the same files under the same tokens, never only in luoctl's hands */
	r = h->pinned ? luo_session_renew_frozen(session) : luo_session_renew(session);
	if (r == -E2BIG && h->pinned) /* a luod before frozen renewals */
		r = luo_session_renew(session);
	if (r == 0 || (r != -EOPNOTSUPP && renewed(session)))
		return 1; /* a failed freeze is retried, and reported, by the caller's */
	/* luod's copies go; ours (just retrieved, or kept all along) stay */
	return luo_session_finish(session);
}

int hold_show(int dev, const char *name, struct luo_msg_session_info *si)
{
	struct luo_msg_show req = { 0 };
	int r;

	strcpy(req.name, name);
	r = luo_call_full(dev, LUO_OP_SHOW_SESSION, &req, sizeof(req), NULL, 0, &reply);
	if (r < 0)
		return r;
	luo_reply_close_fds(&reply);
	if (reply.body_len < sizeof(*si))
		return -EPROTO;
	memcpy(si, reply.body, sizeof(*si));
	return 0;
}

int hold_attach(struct hold *h, bool create)
{
	struct luo_msg_session_info si;
	int s, r;

	if (h->dev < 0) {
		h->dev = luo_open(opt.socket);
		if (h->dev < 0)
			return h->dev;
	}
	r = hold_instance(h->dev, &h->instance);
	if (r < 0)
		return r;
	s = luo_retrieve_session(h->dev, h->name);
	if ((s == -ENOENT || s == -EINVAL) && hold_show(h->dev, h->name, &si) == 0 && si.attached)
		return -EEXIST; /* a process holds it: luod refuses to retrieve it under its feet */
	if (s >= 0) {
		r = take_back(h, s);
		if (r == 1) {
			h->existed = true;
			h->handle = s;
			return 0;
		}
		close(s);
		if (r < 0)
			return r;
		h->existed = true;
	} else if (s != -ENOENT) {
		return s;
	} else if (!create && h->n == 0) {
		return -ENOENT;
	}
	s = luo_create_session(h->dev, h->name);
	if (s < 0)
		return s;
	r = luo_session_preserve_fds(s, h->fds, h->tokens, h->n);
	if (r < 0) {
		close(s);
		return r;
	}
	h->handle = s;
	return 0;
}

int hold_take_over(struct hold *h)
{
	struct luo_msg_session_info si;
	struct luo_msg_name req = { 0 };
	int r;

	if (h->dev < 0) {
		h->dev = luo_open(opt.socket);
		if (h->dev < 0)
			return h->dev;
	}
	r = hold_show(h->dev, h->name, &si);
	if (r < 0 || !si.attached || si.incoming)
		return r == -ENOENT ? 0 : r; /* nobody to take it from: attach as usual */
	strcpy(req.name, h->name);
	r = luo_call_full(h->dev, LUO_OP_SESSION_UPDATE, &req, sizeof(req), NULL, 0, &reply);
	if (r < 0)
		return r;
	luo_reply_close_fds(&reply);
	return 0;
}

int hold_keep(struct hold *h, int fd, uint64_t token)
{
	int r;

	if (h->n == h->cap && (r = grow(h)) < 0)
		return r;
	h->fds[h->n] = fd;
	h->tokens[h->n++] = token;
	return 0;
}

int hold_add(struct hold *h, int fd, uint64_t token)
{
	int r;

	if (h->n == h->cap && (r = grow(h)) < 0)
		return r;
	r = luo_session_preserve_fd(h->handle, fd, token);
	if (r < 0)
		return r;
	h->fds[h->n] = fd;
	h->tokens[h->n++] = token;
	return 0;
}

static void pause_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

bool hold_hung_up(const struct hold *h)
{
	struct pollfd p = { .fd = h->handle, .events = POLLIN };

	return h->handle < 0 || (poll(&p, 1, 0) == 1 && (p.revents & (POLLIN | POLLHUP | POLLERR)));
}

int hold_lost(struct hold *h)
{
	uint64_t instance;
	int r;

	close(h->handle);
	h->handle = -1;
	if (h->dev >= 0)
		close(h->dev);
	h->dev = -1;
	/*
	 * luod may be between execve and serving (its socket queues us
	 * meanwhile), or it crashed and is being started again (nothing
	 * listens for a moment): wait for it, bounded.
	 */
	for (int tries = 0;; tries++) {
		h->dev = luo_open(opt.socket);
		r = h->dev < 0 ? h->dev : hold_instance(h->dev, &instance);
		if (r >= 0)
			break;
		if (h->dev >= 0)
			close(h->dev);
		h->dev = -1;
		if ((r != -ECONNREFUSED && r != -ENOENT && r != -ECONNRESET && r != -EPIPE) ||
		    tries == 600)
			return r;
		pause_ms(50);
	}
	if (instance == h->instance) {
		/* the same luod: someone handed this session on (update --session) */
		h->handed_on = true;
		return 0;
	}
	return hold_attach(h, false);
}

/* Freeze the session; then close the handle (luod holds it) unless keep. */
static int freeze(struct hold *h, bool keep)
{
	/* a global update may be under way: it finishes in well under this */
	for (int tries = 0; tries < 600; tries++) {
		int r;

		if (h->handed_on)
			return 0;
		if (h->handle < 0 || hold_hung_up(h)) {
			r = hold_lost(h);
			if (r < 0)
				return r;
			continue;
		}
		r = luo_session_set_event(h->handle, LUO_EVENT_FREEZE);
		if (r == 0) {
			if (!keep) {
				close(h->handle);
				h->handle = -1;
			}
			return 0;
		}
		if (r != -EBUSY && r != -EPIPE && r != -ECONNRESET)
			return r;
		pause_ms(50);
	}
	return -ETIMEDOUT;
}

int hold_freeze(struct hold *h)
{
	return freeze(h, false);
}

int hold_pin(struct hold *h)
{
	return freeze(h, true);
}

void hold_close(struct hold *h)
{
	if (h->handle >= 0)
		close(h->handle);
	if (h->dev >= 0)
		close(h->dev);
	for (size_t i = 0; i < h->n; i++)
		if (h->fds[i] >= 0)
			close(h->fds[i]);
	free(h->fds);
	free(h->tokens);
	h->fds = NULL;
	h->tokens = NULL;
	h->n = h->cap = 0;
	h->handle = h->dev = -1;
}
