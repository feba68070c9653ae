// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzz target: the wire-protocol decoder as luod runs it on every record,
 * luo_msg_check() (the header) then request_decode() (the body) for each
 * kind of connection. The first input byte is the number of fds that came
 * with the record (SCM_RIGHTS carries no bytes to fuzz, only a count).
 *
 * Besides "no crash, no sanitizer report", what a decoder accepts must be
 * self-consistent, or luod would act on a lie: those rules are asserted.
 */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "core/luod.h"
#include "server/request.h"

/* the core knows the fd types only once they are registered, as luod's main() does */
__attribute__((constructor)) static void register_handlers(void)
{
	handlers_register();
}

#define HDR sizeof(struct luo_msg_hdr)

static unsigned char msg[HDR + LUO_MSG_MAX + 64] __attribute__((aligned(8)));

static void check_accepted(enum luo_conn_kind kind, const struct luo_request *req, size_t len,
			   size_t nfds)
{
	const unsigned char *end = msg + len;

	switch (kind) {
	case LUO_CONN_PARTICIPANT:
		assert(req->op == LUO_OP_PARTICIPANT_EVENT && req->result <= 0);
		assert(req->payload.len <= LUO_PARTICIPANT_PAYLOAD_MAX);
		assert((const unsigned char *)req->payload.data + req->payload.len == end);
		return;
	case LUO_CONN_SESSION:
		assert(req->result == 0);
		if (req->op == LUO_OP_SESSION_PRESERVE)
			assert(req->tokens.n == nfds);
		else
			assert(nfds == 0);
		if (req->op == LUO_OP_SESSION_PRESERVE || req->op == LUO_OP_SESSION_RETRIEVE) {
			assert(req->tokens.n >= 1 && req->tokens.n <= LUO_FDS_PER_MSG);
			assert((const unsigned char *)(req->tokens.v + req->tokens.n) <= end);
			assert(((uintptr_t)req->tokens.v & 7) == 0);
		}
		if (req->op == LUO_OP_SESSION_SET_EVENT)
			assert(req->event.event <= LUO_EVENT_FINISH && !req->event.reserved);
		return;
	case LUO_CONN_DEVICE:
		assert(req->result == 0 && nfds == 0);
		switch (req->op) {
		case LUO_OP_CREATE_SESSION:
		case LUO_OP_RETRIEVE_SESSION:
		case LUO_OP_SESSION_UPDATE:
			assert(luo_name_validate(req->name.name, sizeof(req->name.name)) == 0);
			break;
		case LUO_OP_PARTICIPANT_REGISTER:
			assert(luo_name_validate(req->reg.name, sizeof(req->reg.name)) == 0);
			assert(!(req->reg.flags & ~LUO_PARTICIPANT_TAGS) && !req->reg.reserved);
			break;
		case LUO_OP_SHOW_SESSION:
			assert(luo_name_validate(req->show.name, sizeof(req->show.name)) == 0);
			break;
		case LUO_OP_SET_EVENT:
			assert(req->event.event <= LUO_EVENT_FINISH && !req->event.reserved);
			break;
		case LUO_OP_UPDATE:
			assert(!(req->update.flags & ~LUO_UPDATE_EXEC) && !req->update.reserved);
			if (req->update.flags & LUO_UPDATE_EXEC)
				assert(req->update.exec_path[0] == '/' &&
				       memchr(req->update.exec_path, 0, sizeof(req->update.exec_path)));
			break;
		case LUO_OP_GET_STATE:
		case LUO_OP_STATUS:
		case LUO_OP_LIST_SESSIONS:
		case LUO_OP_WATCH:
		case LUO_OP_HISTORY:
		case LUO_OP_DUMP:
			break;
		default:
			assert(!"an unknown device op was accepted");
		}
		return;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum luo_conn_kind kinds[] = { LUO_CONN_DEVICE, LUO_CONN_SESSION,
						    LUO_CONN_PARTICIPANT };
	size_t nfds, len;

	if (size < 1 || size - 1 > sizeof(msg))
		return 0;
	nfds = data[0];
	len = size - 1;
	memcpy(msg, data + 1, len);
	if (luo_msg_check(msg, len, nfds, LUO_FDS_PER_MSG) < 0)
		return 0;
	assert(len >= HDR && len <= HDR + LUO_MSG_MAX && nfds <= LUO_FDS_PER_MSG);
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		struct luo_request req;
		int r = request_decode(kinds[k], msg, len, nfds, &req);

		assert(r <= 0);
		if (r == 0)
			check_accepted(kinds[k], &req, len, nfds);
		else
			assert(r == -EINVAL || r == -E2BIG || r == -EBADMSG);
	}
	return 0;
}
