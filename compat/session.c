/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The session fd commands. A session fd is luod's session handle itself, so
 * each command is one request on it; luod enforces where a command is valid
 * (PRESERVE_FD only on outgoing sessions, RETRIEVE_FD and FINISH only on
 * incoming ones: EINVAL otherwise), this file adds the kernel's field checks
 * (reserved must be zero) and turns luod's fds into the ioctl's results.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"
#include "luo/liveupdate.h"

#define OFFSETOFEND(type, field) (offsetof(type, field) + sizeof(((type *)0)->field))

/* A request whose reply carries nothing but a result. */
static int simple_call(int session, uint16_t op, const void *body, size_t len, const int *fds,
		       size_t nfds)
{
	struct luo_call_reply reply;
	int r = luo_call(session, op, body, len, fds, nfds, &reply);

	if (r == 0)
		luo_call_close_fds(&reply);
	return r;
}

static int retrieve(int session, uint64_t token)
{
	struct {
		struct luo_msg_tokens h;
		uint64_t token;
	} req = { .h = { .count = 1 }, .token = token };
	struct luo_call_reply reply;
	int r = luo_call(session, LUO_OP_SESSION_RETRIEVE, &req, sizeof(req), NULL, 0, &reply);

	if (r == 0 && reply.nfds != 1) {
		luo_call_close_fds(&reply);
		r = -EPROTO;
	}
	if (r == 0)
		r = reply.fds[0];
	return r;
}

static int s_preserve(int fd, void *arg)
{
	struct liveupdate_session_preserve_fd *a = arg;
	struct {
		struct luo_msg_tokens h;
		uint64_t token;
	} req = { .h = { .count = 1 }, .token = a->token };

	if (a->fd < 0)
		return -EBADF;
	/* our own fds have no handler, as the kernel's device and session files have none */
	if (compat_classify(a->fd) != COMPAT_OTHER)
		return -ENOENT;
	return simple_call(fd, LUO_OP_SESSION_PRESERVE, &req, sizeof(req), &a->fd, 1);
}

static int s_retrieve(int fd, void *arg)
{
	struct liveupdate_session_retrieve_fd *a = arg;
	int r = retrieve(fd, a->token);

	if (r < 0)
		return r;
	a->fd = r;
	return 0;
}

static void s_retrieve_undo(void *arg)
{
	struct liveupdate_session_retrieve_fd *a = arg;

	close(a->fd);
}

static int s_retrieve_into(int fd, void *arg)
{
	struct liveupdate_session_retrieve_into_fd *a = arg;
	int r;

	if (a->fd < 0)
		return -EBADF;
	r = retrieve(fd, a->token);
	if (r < 0)
		return r;
	if (r == a->fd)
		return 0; /* it landed there already (the number was free) */
	if (dup3(r, a->fd, O_CLOEXEC) < 0) {
		int err = -errno;

		close(r);
		return err;
	}
	close(r);
	return 0;
}

static int s_finish(int fd, void *arg)
{
	struct liveupdate_session_finish *a = arg;

	if (a->reserved)
		return -EINVAL;
	return simple_call(fd, LUO_OP_SESSION_FINISH, NULL, 0, NULL, 0);
}

static int s_get_name(int fd, void *arg)
{
	struct liveupdate_session_get_name *a = arg;
	struct luo_call_reply reply;
	int r;

	if (a->reserved)
		return -EINVAL;
	r = luo_call(fd, LUO_OP_SESSION_GET_NAME, NULL, 0, NULL, 0, &reply);
	if (r == 0) {
		luo_call_close_fds(&reply);
		if (reply.body_len < LUO_NAME_MAX ||
		    luo_name_validate((const char *)reply.body, LUO_NAME_MAX) < 0)
			r = -EPROTO;
		else
			memcpy(a->name, reply.body, sizeof(a->name));
	}
	return r;
}

static int s_set_event(int fd, void *arg)
{
	struct luo_ioctl_session_set_event *a = arg;
	struct luo_msg_event req = { .event = a->event };

	if (a->event > LUO_SESSION_EVENT_FINISH)
		return -EINVAL;
	return simple_call(fd, LUO_OP_SESSION_SET_EVENT, &req, sizeof(req), NULL, 0);
}

static int s_get_state(int fd, void *arg)
{
	struct luo_ioctl_session_get_state *a = arg;
	struct luo_msg_session_state st;
	struct luo_call_reply reply;
	int r;

	r = luo_call(fd, LUO_OP_SESSION_GET_STATE, NULL, 0, NULL, 0, &reply);
	if (r == 0) {
		luo_call_close_fds(&reply);
		if (reply.body_len < sizeof(st)) {
			r = -EPROTO;
		} else {
			memcpy(&st, reply.body, sizeof(st));
			memset(a->reserved, 0, sizeof(a->reserved));
			a->incoming = st.incoming;
			a->state = st.state;
		}
	}
	return r;
}

static int s_unpreserve(int fd, void *arg)
{
	struct luo_ioctl_session_unpreserve_fd *a = arg;
	struct luo_msg_token req = { .token = a->token };

	if (a->reserved)
		return -EINVAL;
	return simple_call(fd, LUO_OP_SESSION_UNPRESERVE, &req, sizeof(req), NULL, 0);
}

#define OP(nr, command, type, last, fn, undo_fn)                          \
	[(nr) - LIVEUPDATE_CMD_SESSION_BASE] = {                          \
		.cmd = (command),                                         \
		.size = sizeof(type),                                     \
		.min_size = OFFSETOFEND(type, last),                      \
		.execute = (fn),                                          \
		.undo = (undo_fn),                                        \
	}

static const struct compat_op session_ops[] = {
	OP(LIVEUPDATE_CMD_SESSION_PRESERVE_FD, LIVEUPDATE_SESSION_PRESERVE_FD,
	   struct liveupdate_session_preserve_fd, token, s_preserve, NULL),
	OP(LIVEUPDATE_CMD_SESSION_RETRIEVE_FD, LIVEUPDATE_SESSION_RETRIEVE_FD,
	   struct liveupdate_session_retrieve_fd, token, s_retrieve, s_retrieve_undo),
	OP(LIVEUPDATE_CMD_SESSION_FINISH, LIVEUPDATE_SESSION_FINISH,
	   struct liveupdate_session_finish, reserved, s_finish, NULL),
	OP(LIVEUPDATE_CMD_SESSION_GET_NAME, LIVEUPDATE_SESSION_GET_NAME,
	   struct liveupdate_session_get_name, name, s_get_name, NULL),
	OP(LIVEUPDATE_CMD_SESSION_RETRIEVE_INTO_FD, LIVEUPDATE_SESSION_RETRIEVE_INTO_FD,
	   struct liveupdate_session_retrieve_into_fd, token, s_retrieve_into, NULL),
	/* luo extensions */
	OP(LUO_CMD_SESSION_SET_EVENT, LUO_IOCTL_SESSION_SET_EVENT,
	   struct luo_ioctl_session_set_event, event, s_set_event, NULL),
	OP(LUO_CMD_SESSION_GET_STATE, LUO_IOCTL_SESSION_GET_STATE,
	   struct luo_ioctl_session_get_state, state, s_get_state, NULL),
	OP(LUO_CMD_SESSION_UNPRESERVE_FD, LUO_IOCTL_SESSION_UNPRESERVE_FD,
	   struct luo_ioctl_session_unpreserve_fd, token, s_unpreserve, NULL),
};

static const struct compat_table session_table = {
	.base = LIVEUPDATE_CMD_SESSION_BASE,
	.n = sizeof(session_ops) / sizeof(session_ops[0]),
	.ops = session_ops,
};

int compat_session_ioctl(int fd, unsigned long request, void *uarg)
{
	return compat_dispatch(&session_table, fd, request, uarg);
}
