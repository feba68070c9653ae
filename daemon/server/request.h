/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Decoding of one request, apart from any socket (request.c).
 */
#ifndef LUOD_REQUEST_H
#define LUOD_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol.h"

/* What a connection is; it decides which ops it may carry. */
enum luo_conn_kind {
	LUO_CONN_DEVICE,      /* from luo_open() */
	LUO_CONN_SESSION,     /* a handle whose session is alive */
	LUO_CONN_PARTICIPANT, /* a registered participant's answers */
};

/* A decoded request: the fields of its op, checked. Pointers point into the message. */
struct luo_request {
	uint16_t op;
	int32_t result; /* a participant's answer */
	union {
		struct luo_msg_name name;   /* CREATE, RETRIEVE, SESSION_UPDATE */
		struct luo_msg_participant_register reg; /* PARTICIPANT_REGISTER (flags 0 from old clients) */
		struct luo_msg_event event; /* SET_EVENT, SESSION_SET_EVENT */
		struct luo_msg_list list;
		struct luo_msg_show show;
		struct luo_msg_token token; /* SESSION_UNPRESERVE */
		struct luo_msg_renew renew; /* SESSION_RENEW (zero from old clients) */
		struct luo_msg_update update;
		struct {
			const uint64_t *v;
			size_t n;
		} tokens; /* SESSION_PRESERVE, SESSION_RETRIEVE */
		struct {
			const void *data;
			size_t len;
			bool present;
			bool tagged;  /* LUO_PAYLOAD_TAGGED: tag is the answered event's */
			uint64_t tag;
		} payload; /* PARTICIPANT_EVENT answer */
	};
};

/*
 * Decode msg (len bytes, a header luo_msg_check() accepted, nfds fds with
 * it) as a request on a connection of kind. Returns 0, or the -errno the
 * request is answered with; for a participant, -EBADMSG means "ignore it"
 * and -EINVAL "count it as an EINVAL answer". Touches no state: every
 * check that needs none happens here, before the core sees the request.
 * msg must be 8-byte aligned (tokens point into it).
 */
int request_decode(enum luo_conn_kind kind, const void *msg, size_t len, size_t nfds,
		   struct luo_request *req);

#endif
