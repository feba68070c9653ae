// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * DOC: Request decoding: the pure half of the server.
 *
 * server.c receives a record, luo_msg_recv() checks its header, and this
 * file checks its body for the connection it came on: sizes (a longer
 * body must end in zeros, see protocol.h), reserved fields, flags, names,
 * event numbers, token counts and the fd count each op allows. It keeps
 * no state and touches no socket, so a fuzzer can drive it with arbitrary
 * bytes (tests/fuzz/); what needs state (ownership, the session's state)
 * is checked by the op itself afterwards.
 */
#include <errno.h>
#include <string.h>

#include "core/luod.h"
#include "server/request.h"

static int body_fixed(const void *body, size_t len, void *out, size_t size)
{
	int r = luo_msg_body_check(body, len, size, size);

	if (r == 0)
		memcpy(out, body, size);
	return r;
}

static int body_name(const void *body, size_t len, struct luo_msg_name *out)
{
	int r = body_fixed(body, len, out, sizeof(*out));

	if (r < 0)
		return r;
	return luo_name_validate(out->name, sizeof(out->name)) < 0 ? -EINVAL : 0;
}

/* No body (an older client) or struct luo_msg_renew. */
static int body_renew(const void *body, size_t len, struct luo_msg_renew *out)
{
	int r = luo_msg_body_check(body, len, 0, sizeof(*out));

	if (r < 0)
		return r;
	memset(out, 0, sizeof(*out));
	memcpy(out, body, len < sizeof(*out) ? len : sizeof(*out));
	return (out->flags & ~LUO_RENEW_FROZEN) || out->reserved ? -EINVAL : 0;
}

/* The name alone (an older client) or the name and flags. */
static int body_register(const void *body, size_t len, struct luo_msg_participant_register *out)
{
	int r = luo_msg_body_check(body, len, sizeof(out->name), sizeof(*out));

	if (r < 0)
		return r;
	memset(out, 0, sizeof(*out));
	memcpy(out, body, len < sizeof(*out) ? len : sizeof(*out));
	if ((out->flags & ~LUO_PARTICIPANT_TAGS) || out->reserved)
		return -EINVAL;
	return luo_name_validate(out->name, sizeof(out->name)) < 0 ? -EINVAL : 0;
}

static int body_event(const void *body, size_t len, struct luo_msg_event *out)
{
	int r = body_fixed(body, len, out, sizeof(*out));

	if (r < 0)
		return r;
	return out->event > LUO_EVENT_FINISH || out->reserved ? -EINVAL : 0;
}

/* PRESERVE and RETRIEVE: count tokens, 1..LUO_FDS_PER_MSG. */
static int body_tokens(const void *body, size_t len, struct luo_request *req)
{
	struct luo_msg_tokens h;
	size_t need;
	int r;

	if (len < sizeof(h))
		return -EINVAL;
	memcpy(&h, body, sizeof(h));
	if (h.count == 0 || h.count > LUO_FDS_PER_MSG || h.reserved)
		return -EINVAL;
	need = sizeof(h) + h.count * sizeof(uint64_t);
	r = luo_msg_body_check(body, len, need, need);
	if (r < 0)
		return r;
	req->tokens.v = (const uint64_t *)((const unsigned char *)body + sizeof(h));
	req->tokens.n = h.count;
	return 0;
}

static int body_update(const void *body, size_t len, struct luo_msg_update *up)
{
	int r = body_fixed(body, len, up, sizeof(*up));

	if (r < 0)
		return r;
	if ((up->flags & ~LUO_UPDATE_EXEC) || up->reserved)
		return -EINVAL;
	if (up->flags & LUO_UPDATE_EXEC) {
		if (strnlen(up->exec_path, sizeof(up->exec_path)) == sizeof(up->exec_path) ||
		    up->exec_path[0] != '/')
			return -EINVAL;
	}
	return 0;
}

static int decode_device(uint16_t op, const void *body, size_t len, size_t nfds,
			 struct luo_request *req)
{
	if (nfds)
		return -EINVAL;
	switch (op) {
	case LUO_OP_CREATE_SESSION:
	case LUO_OP_RETRIEVE_SESSION:
	case LUO_OP_SESSION_UPDATE:
		return body_name(body, len, &req->name);
	case LUO_OP_PARTICIPANT_REGISTER:
		return body_register(body, len, &req->reg);
	case LUO_OP_GET_STATE:
	case LUO_OP_STATUS:
	case LUO_OP_WATCH:
	case LUO_OP_HISTORY:
	case LUO_OP_DUMP:
		return luo_msg_body_check(body, len, 0, 0);
	case LUO_OP_SET_EVENT:
		return body_event(body, len, &req->event);
	case LUO_OP_LIST_SESSIONS:
		return body_fixed(body, len, &req->list, sizeof(req->list));
	case LUO_OP_SHOW_SESSION: {
		int r = body_fixed(body, len, &req->show, sizeof(req->show));

		if (r < 0)
			return r;
		return luo_name_validate(req->show.name, sizeof(req->show.name)) < 0 ? -EINVAL : 0;
	}
	case LUO_OP_UPDATE:
		return body_update(body, len, &req->update);
	}
	return -EINVAL;
}

static int decode_session(uint16_t op, const void *body, size_t len, size_t nfds,
			  struct luo_request *req)
{
	int r;

	if (op == LUO_OP_SESSION_PRESERVE) {
		r = body_tokens(body, len, req);
		return r == 0 && req->tokens.n != nfds ? -EINVAL : r;
	}
	if (nfds)
		return -EINVAL;
	switch (op) {
	case LUO_OP_SESSION_UNPRESERVE:
		return body_fixed(body, len, &req->token, sizeof(req->token));
	case LUO_OP_SESSION_RETRIEVE:
		return body_tokens(body, len, req);
	case LUO_OP_SESSION_FINISH:
		return luo_msg_body_check(body, len, 0, 0);
	case LUO_OP_SESSION_RENEW:
		return body_renew(body, len, &req->renew);
	case LUO_OP_SESSION_SET_EVENT:
		return body_event(body, len, &req->event);
	case LUO_OP_SESSION_GET_NAME:
	case LUO_OP_SESSION_GET_STATE:
		return 0; /* no body is read: anything is ignored, as before versioning */
	}
	return -EINVAL;
}

/* A participant's connection carries only its answers to events. */
static int decode_answer(const struct luo_msg_hdr *hdr, const void *body, size_t len,
			 struct luo_request *req)
{
	struct luo_msg_payload_tagged pl = { 0 };
	size_t head = sizeof(struct luo_msg_payload);

	if (hdr->op != LUO_OP_PARTICIPANT_EVENT || hdr->result > 0 || len < head)
		return -EBADMSG;
	memcpy(&pl, body, head);
	if (pl.flags & LUO_PAYLOAD_TAGGED) {
		head = sizeof(pl);
		if (len < head)
			return -EINVAL;
		memcpy(&pl, body, head);
	}
	if ((pl.flags & ~(LUO_PAYLOAD_PRESENT | LUO_PAYLOAD_TAGGED)) ||
	    pl.len > LUO_PARTICIPANT_PAYLOAD_MAX || pl.len != len - head)
		return -EINVAL;
	req->payload.data = (const unsigned char *)body + head;
	req->payload.len = pl.len;
	req->payload.present = pl.flags & LUO_PAYLOAD_PRESENT;
	req->payload.tagged = pl.flags & LUO_PAYLOAD_TAGGED;
	req->payload.tag = pl.tag;
	return 0;
}

int request_decode(enum luo_conn_kind kind, const void *msg, size_t len, size_t nfds,
		   struct luo_request *req)
{
	const unsigned char *body = (const unsigned char *)msg + sizeof(struct luo_msg_hdr);
	struct luo_msg_hdr hdr;

	memset(req, 0, sizeof(*req));
	if (len < sizeof(hdr))
		return -EBADMSG;
	memcpy(&hdr, msg, sizeof(hdr));
	len -= sizeof(hdr);
	req->op = hdr.op;
	req->result = hdr.result;
	if (kind == LUO_CONN_PARTICIPANT)
		return decode_answer(&hdr, body, len, req);
	if (hdr.result != 0)
		return -EINVAL;
	if (kind == LUO_CONN_SESSION)
		return decode_session(hdr.op, body, len, nfds, req);
	return decode_device(hdr.op, body, len, nfds, req);
}
