// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * DOC: Sessions and their state machine.
 *
 * Outgoing session (created in this generation):
 *   NORMAL --PREPARE--> PREPARED --FREEZE--> FROZEN     (FREEZE from NORMAL
 *   prepares first); CANCEL from PREPARED or FROZEN goes back to NORMAL.
 *   Files can be preserved and unpreserved only in NORMAL (else EBUSY).
 *   Its last handle closing in NORMAL or PREPARED unpreserves its files in
 *   reverse order (LIFO) and ends it. Closing in FROZEN hands it over: it
 *   stays, detached, and the next process retrieves it by name (per-session
 *   update) or the global update carries it to the successor.
 *
 * Incoming session (carried across an update, or handed over in place):
 *   UPDATED; retrieved by name once (again: EINVAL); RETRIEVE_FD and FINISH
 *   are valid only here (elsewhere EINVAL). FINISH finishes its files LIFO,
 *   releasing those never retrieved; closing the last handle of a retrieved
 *   session finishes it implicitly. If finishing fails the session is kept,
 *   detached, and released at the next update.
 *
 * Every request either completes or leaves the session exactly as it was.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/luod.h"
#include "core/state.h"
#include "core/observer.h"
#include "base/fault.h"

int session_new(const char *name, uid_t uid, bool incoming, struct luo_session **ret)
{
	struct luo_session *s = FAULT("alloc") ? NULL : calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->uid = uid;
	s->incoming = incoming;
	s->state = incoming ? LUO_STATE_UPDATED : LUO_STATE_NORMAL;
	*ret = s;
	return 0;
}

void session_free(struct luo_session *s)
{
	if (!s)
		return;
	observe_session_gone(s); /* and its files: the mirror drops them in one message */
	luo_core.nfiles -= s->nfiles;
	while (s->nfiles)
		file_release(s->files[--s->nfiles]);
	luo_index_free(&s->tokens);
	free(s->files);
	free(s);
}

struct luo_file *session_find_file(struct luo_session *s, uint64_t token)
{
	return luo_index_get(&s->tokens, token);
}

int session_reserve(struct luo_session *s, size_t n)
{
	if (n > s->cap) {
		struct luo_file **f = FAULT("alloc") ? NULL : realloc(s->files, n * sizeof(*f));

		if (!f)
			return -ENOMEM;
		s->files = f;
		s->cap = n;
	}
	return luo_index_reserve(&s->tokens, n);
}

int session_add_file(struct luo_session *s, struct luo_file *file)
{
	int r;

	if (s->nfiles == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 8;
		struct luo_file **f = FAULT("alloc") ? NULL : realloc(s->files, cap * sizeof(*f));

		if (!f)
			return -ENOMEM;
		s->files = f;
		s->cap = cap;
	}
	r = luo_index_put(&s->tokens, file->token, file);
	if (r < 0)
		return r;
	s->files[s->nfiles++] = file;
	luo_core.nfiles++;
	return 0;
}

void session_remove_file(struct luo_session *s, struct luo_file *file)
{
	for (size_t i = s->nfiles; i-- > 0;)
		if (s->files[i] == file) {
			memmove(&s->files[i], &s->files[i + 1], (s->nfiles - i - 1) * sizeof(*s->files));
			s->nfiles--;
			luo_core.nfiles--;
			break;
		}
	luo_index_del(&s->tokens, file->token);
}

static void close_fds(const int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		luo_close(fds[i]); /* a client's: its close may wait (base/closer.c) */
}

/* Consumes every fd: on success luod keeps them, on failure they are closed. */
int session_preserve(struct luo_session *s, const int *fds, const uint64_t *tokens, size_t n)
{
	size_t done = 0, undo;
	int r = 0;

	if (s->incoming)
		r = -EINVAL;
	else if (s->state != LUO_STATE_NORMAL)
		r = -EBUSY;

	while (r == 0 && done < n) {
		struct luo_file *file;

		r = file_preserve(s, fds[done], tokens[done], &file);
		if (r < 0)
			break;
		r = session_add_file(s, file);
		if (r < 0) {
			file_unpreserve(file); /* closes fds[done] */
			close_fds(fds + done + 1, n - done - 1);
			goto undo;
		}
		done++;
		if (done == 1 && n > 1)
			luod_test_pause("preserve"); /* a batch half preserved */
	}
	if (r == 0) {
		core_notify();
		return 0;
	}

	/* Undo this batch, newest first: its files are the session's last ones. */
	close_fds(fds + done, n - done);
undo:
	for (undo = 0; undo < done; undo++) {
		struct luo_file *file = s->files[s->nfiles - 1];

		session_remove_file(s, file);
		file_unpreserve(file);
	}
	return r;
}

int session_unpreserve(struct luo_session *s, uint64_t token)
{
	struct luo_file *file;

	if (s->incoming)
		return -EINVAL;
	if (s->state != LUO_STATE_NORMAL)
		return -EBUSY;
	file = session_find_file(s, token);
	if (!file)
		return -ENOENT;
	session_remove_file(s, file);
	file_unpreserve(file);
	core_notify();
	return 0;
}

/* ret_fds get luod's own fds, to be sent (SCM_RIGHTS copies them), not closed. */
int session_retrieve(struct luo_session *s, const uint64_t *tokens, size_t n, int *ret_fds)
{
	if (!s->incoming)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		struct luo_file *file = session_find_file(s, tokens[i]);
		int fd;

		if (!file)
			return -ENOENT;
		fd = file_retrieve(file);
		if (fd < 0)
			return fd;
		ret_fds[i] = fd;
	}
	return 0;
}

/* Finish files newest first; stop at the first failure and keep the rest. */
static int finish_files(struct luo_session *s)
{
	while (s->nfiles) {
		struct luo_file *file = s->files[s->nfiles - 1];
		uint64_t token = file->token;
		int r = file_finish(file);

		if (r < 0) {
			log_warn("session %s: finishing token %llu failed: %s; kept until the next update",
				 s->name, (unsigned long long)token, strerror(-r));
			return r;
		}
		s->nfiles--;
		luo_core.nfiles--;
		luo_index_del(&s->tokens, token);
	}
	return 0;
}

static void session_end(struct luo_session *s)
{
	bool incoming = s->incoming;

	core_remove_session(s);
	session_free(s);
	if (incoming)
		core_incoming_done();
	core_notify();
}

int session_finish(struct luo_session *s)
{
	int r;

	if (!s->incoming)
		return -EINVAL;
	r = finish_files(s);
	if (r < 0)
		return r;
	log_info("session %s: finished", s->name);
	session_end(s);
	return 0;
}

int session_prepare(struct luo_session *s)
{
	if (s->incoming || s->state != LUO_STATE_NORMAL)
		return -EINVAL;
	s->state = LUO_STATE_PREPARED;
	return 0;
}

/*
 * All or nothing over s's files, in preservation order: step() on each;
 * the first that fails is logged ("session S: <doing> token T failed: E
 * <then>"), undo(file, arg) runs on the ones before it, newest first, and
 * its error is returned.
 */
static int each_file(struct luo_session *s, int (*step)(struct luo_file *),
		     void (*undo)(struct luo_file *, bool), bool arg, const char *doing,
		     const char *then)
{
	for (size_t i = 0; i < s->nfiles; i++) {
		int r = step(s->files[i]);

		if (r < 0) {
			log_warn("session %s: %s token %llu failed: %s%s", s->name, doing,
				 (unsigned long long)s->files[i]->token, strerror(-r), then);
			while (i--)
				undo(s->files[i], arg);
			return r;
		}
	}
	return 0;
}

static void unfreeze_file(struct luo_file *file, bool unused)
{
	(void)unused;
	file_unfreeze(file);
}

int session_freeze(struct luo_session *s)
{
	int r;

	if (s->incoming || s->state == LUO_STATE_UPDATED)
		return -EINVAL;
	if (s->state == LUO_STATE_FROZEN)
		return 0;
	r = each_file(s, file_freeze, unfreeze_file, false, "freezing", "");
	if (r < 0)
		return r;
	s->state = LUO_STATE_FROZEN;
	return 0;
}

/* Back to `to` (NORMAL or PREPARED), unfreezing what froze, newest first. */
void session_cancel(struct luo_session *s, enum luo_state to)
{
	if (s->state == LUO_STATE_FROZEN && to != LUO_STATE_FROZEN)
		for (size_t i = s->nfiles; i-- > 0;)
			file_unfreeze(s->files[i]);
	s->state = to;
}

bool session_retrievable(const struct luo_session *s)
{
	if (s->incoming)
		return !s->retrieved;
	return s->state == LUO_STATE_FROZEN && !s->handle;
}

int session_event(struct luo_session *s, enum luo_event event)
{
	int r;

	switch (event) {
	case LUO_EVENT_PREPARE:
		if (s->in_global_update)
			return -EBUSY;
		return session_prepare(s);
	case LUO_EVENT_FREEZE:
		if (s->in_global_update)
			return -EBUSY;
		if (s->incoming)
			return -EINVAL;
		r = session_freeze(s);
		if (r == 0)
			log_info("session %s: frozen; retrievable by name once its handle closes", s->name);
		return r;
	case LUO_EVENT_CANCEL:
		if (s->in_global_update)
			return -EBUSY;
		if (s->incoming || s->state == LUO_STATE_NORMAL)
			return -EINVAL;
		session_cancel(s, LUO_STATE_NORMAL);
		return 0;
	case LUO_EVENT_FINISH:
		return session_finish(s);
	}
	return -EINVAL;
}

/*
 * RENEW: a retrieved incoming session becomes an outgoing one in NORMAL
 * that keeps every file under its token, as FINISH, CREATE and PRESERVE of
 * the same fds would leave it, without the moment in between where only
 * the client holds them. All or nothing: the first file that fails undoes
 * the ones before it.
 */
int session_renew(struct luo_session *s)
{
	/* handed over in place (per-session update): its files never left the index */
	bool in_place = s->nfiles && s->files[0]->indexed;
	int r;

	if (!s->incoming)
		return -EINVAL;
	if (core_update_in_progress())
		return -EBUSY;
	r = each_file(s, file_renew, file_renew_undo, in_place, "renewing", "; still incoming");
	if (r < 0)
		return r;
	s->incoming = false;
	s->retrieved = false;
	s->state = LUO_STATE_NORMAL;
	/*
	 * The mirrors keep their entries as they are: same names, same fds;
	 * a recovery re-records every file from its fd anyway.
	 */
	log_info("session %s: renewed: outgoing again with its %zu files", s->name, s->nfiles);
	core_incoming_done();
	core_notify();
	return 0;
}

void session_handle_closed(struct luo_session *s)
{
	s->handle = NULL;
	if (s->incoming) {
		if (finish_files(s) == 0) {
			log_info("session %s: closed, finished", s->name);
			session_end(s);
		}
		return;
	}
	if (s->state == LUO_STATE_FROZEN) {
		log_info("session %s: closed while frozen; held for retrieval", s->name);
		core_notify();
		return;
	}
	/* NORMAL or PREPARED: it never reached the update */
	while (s->nfiles) {
		struct luo_file *file = s->files[s->nfiles - 1];

		session_remove_file(s, file);
		file_unpreserve(file);
	}
	log_info("session %s: closed, files unpreserved", s->name);
	session_end(s);
}
