/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Session handle calls: preserving and retrieving fds, per-session events.
 *
 * The batch calls split into messages of at most LUO_FDS_PER_MSG fds. luod
 * applies each message all or nothing; when a later message fails, the
 * earlier ones are undone here (unpreserve, or close of what was retrieved)
 * so the whole batch is all or nothing for the caller.
 *
 * A handle that is not a socket is a kernel session fd (luod's kernel
 * backend): every call goes to kernel_session.c instead.
 *
 * Every request is a luo_call(): its reply comes on a channel of its own,
 * so a handle shared after fork or SCM_RIGHTS, or used from a signal
 * handler while the program is inside another call, gives every caller
 * its own answer. No call is a cancellation point; a batch is not
 * interrupted by cancellation between its messages either.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "kernel_session.h"
#include "luo/luo.h"
#include "rpc.h"

struct tokens_msg {
	struct luo_msg_tokens h;
	uint64_t tokens[LUO_FDS_PER_CALL];
};

static size_t tokens_msg_fill(struct tokens_msg *m, const uint64_t *tokens, size_t n)
{
	m->h.count = (uint32_t)n;
	m->h.reserved = 0;
	memcpy(m->tokens, tokens, n * sizeof(uint64_t));
	return sizeof(m->h) + n * sizeof(uint64_t);
}

/*
 * A batch of PRESERVE (fds sent) or RETRIEVE (ret_fds received), in
 * messages of at most LUO_FDS_PER_CALL; when one fails, what the earlier
 * ones did is undone (unpreserved, or closed), so the whole batch is all
 * or nothing. Not a cancellation point, between its messages either.
 */
static int batch(int session, uint16_t op, const uint64_t *tokens, const int *fds, int *ret_fds,
		 size_t n)
{
	struct luo_call_reply reply;
	struct tokens_msg m;
	size_t done = 0;
	int old, r = 0;

	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
	while (done < n) {
		size_t k = n - done < LUO_FDS_PER_CALL ? n - done : LUO_FDS_PER_CALL;
		size_t len = tokens_msg_fill(&m, tokens + done, k);

		r = luo_call(session, op, &m, len, fds ? fds + done : NULL, fds ? k : 0, &reply);
		if (r < 0)
			break;
		if (!ret_fds) {
			luo_call_close_fds(&reply);
		} else if (reply.nfds != k) {
			luo_call_close_fds(&reply);
			r = -EPROTO;
			break;
		} else {
			memcpy(ret_fds + done, reply.fds, k * sizeof(int));
		}
		done += k;
	}
	while (r < 0 && done-- > 0)
		if (ret_fds)
			close(ret_fds[done]);
		else
			luo_session_unpreserve_fd(session, tokens[done]);
	pthread_setcancelstate(old, NULL);
	return r;
}

int luo_session_preserve_fds(int session, const int *fds, const uint64_t *tokens, size_t n)
{
	if ((!fds || !tokens) && n)
		return -EINVAL;
	if (luo_kernel_session(session))
		return luo_kernel_preserve_fds(session, fds, tokens, n);
	return batch(session, LUO_OP_SESSION_PRESERVE, tokens, fds, NULL, n);
}

int luo_session_preserve_fd(int session, int fd, uint64_t token)
{
	if (fd < 0)
		return -EBADF;
	return luo_session_preserve_fds(session, &fd, &token, 1);
}

int luo_session_unpreserve_fd(int session, uint64_t token)
{
	struct luo_msg_token req = { .token = token };
	struct luo_call_reply reply;

	if (luo_kernel_session(session))
		return -EOPNOTSUPP; /* the kernel cannot unpreserve */
	return luo_call(session, LUO_OP_SESSION_UNPRESERVE, &req, sizeof(req), NULL, 0, &reply);
}

int luo_session_retrieve_fds(int session, const uint64_t *tokens, int *ret_fds, size_t n)
{
	if ((!ret_fds || !tokens) && n)
		return -EINVAL;
	if (luo_kernel_session(session))
		return luo_kernel_retrieve_fds(session, tokens, ret_fds, n);
	return batch(session, LUO_OP_SESSION_RETRIEVE, tokens, NULL, ret_fds, n);
}

int luo_session_retrieve_fd(int session, uint64_t token)
{
	int fd, r;

	r = luo_session_retrieve_fds(session, &token, &fd, 1);
	return r < 0 ? r : fd;
}

int luo_session_finish(int session)
{
	struct luo_call_reply reply;

	if (luo_kernel_session(session))
		return luo_kernel_finish(session);
	return luo_call(session, LUO_OP_SESSION_FINISH, NULL, 0, NULL, 0, &reply);
}

/* RENEW with flags; none is sent without a body, as before flags existed. */
static int renew(int session, uint32_t flags)
{
	struct luo_msg_renew req = { .flags = flags };
	struct luo_call_reply reply;

	if (luo_kernel_session(session))
		return -EOPNOTSUPP; /* the kernel's sessions have no such step */
	return luo_call(session, LUO_OP_SESSION_RENEW, flags ? &req : NULL, flags ? sizeof(req) : 0,
			NULL, 0, &reply);
}

int luo_session_renew(int session)
{
	return renew(session, 0);
}

int luo_session_renew_frozen(int session)
{
	return renew(session, LUO_RENEW_FROZEN);
}

int luo_session_get_name(int session, char name[LUO_NAME_MAX])
{
	struct luo_msg_name rep;
	int r;

	if (!name)
		return -EINVAL;
	if (luo_kernel_session(session))
		return luo_kernel_get_name(session, name);
	r = luo_call_body(session, LUO_OP_SESSION_GET_NAME, NULL, 0, &rep, sizeof(rep));
	if (r < 0)
		return r;
	if (luo_name_validate(rep.name, sizeof(rep.name)) < 0)
		return -EPROTO;
	memcpy(name, rep.name, LUO_NAME_MAX);
	return 0;
}

int luo_session_set_event(int session, enum luo_event event)
{
	/* per-session events are luo's, not the kernel's */
	if (luo_kernel_session(session))
		return (unsigned)event > LUO_EVENT_FINISH ? -EINVAL : -EOPNOTSUPP;
	return luo_call_event(session, LUO_OP_SESSION_SET_EVENT, event);
}

int luo_session_get_state(int session, enum luo_state *state, bool *incoming)
{
	struct luo_msg_session_state st;
	int r;

	if (!state)
		return -EINVAL;
	if (luo_kernel_session(session))
		return -EOPNOTSUPP;
	r = luo_call_body(session, LUO_OP_SESSION_GET_STATE, NULL, 0, &st, sizeof(st));
	if (r < 0)
		return r;
	*state = (enum luo_state)st.state;
	if (incoming)
		*incoming = st.incoming;
	return 0;
}
