/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Participant calls: registering, receiving events, answering them.
 * Events arrive unsolicited on the registered handle, so next_event reads
 * one message itself instead of going through luo_rpc().
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "luo/luo.h"
#include "rpc.h"

int luo_participant_register(int dev, const char *name, void *payload, size_t payload_size)
{
	struct luo_msg_name req = { 0 };
	struct luo_msg_payload pl;
	struct luo_reply *reply;
	int r;

	if ((!payload && payload_size) || luo_name_validate(name, LUO_NAME_MAX) < 0)
		return -EINVAL;
	reply = malloc(sizeof(*reply));
	if (!reply)
		return -ENOMEM;
	strcpy(req.name, name);
	r = luo_rpc(dev, LUO_OP_PARTICIPANT_REGISTER, &req, sizeof(req), NULL, 0, reply);
	if (r < 0)
		goto out;
	memcpy(&pl, reply->body, sizeof(pl));
	if (reply->body_len < sizeof(pl) || pl.len != reply->body_len - sizeof(pl)) {
		luo_reply_close_fds(reply);
		r = -EPROTO;
		goto out;
	}
	luo_reply_close_fds(reply);
	if (payload_size && pl.len) /* payload may be NULL when payload_size is 0 */
		memcpy(payload, reply->body + sizeof(pl), pl.len < payload_size ? pl.len : payload_size);
	r = (int)pl.len;
out:
	free(reply);
	return r;
}

int luo_participant_next_event(int dev, enum luo_event *event, uint32_t *timeout_ms)
{
	unsigned char buf[sizeof(struct luo_msg_hdr) + sizeof(struct luo_msg_participant_event)] = { 0 };
	struct luo_msg_participant_event ev;
	struct luo_msg_hdr hdr;
	int fds[LUO_FDS_PER_MSG];
	size_t nfds = 0;
	ssize_t n;

	if (!event)
		return -EINVAL;
	n = luo_msg_recv(dev, buf, sizeof(buf), fds, LUO_FDS_PER_MSG, &nfds);
	if (n == 0)
		return -ECONNRESET;
	if (n < 0)
		return (int)n;
	for (size_t i = 0; i < nfds; i++)
		close(fds[i]);
	memcpy(&hdr, buf, sizeof(hdr));
	if (hdr.op != LUO_OP_PARTICIPANT_EVENT || nfds || (size_t)n < sizeof(buf))
		return -EPROTO;
	memcpy(&ev, buf + sizeof(hdr), sizeof(ev));
	if (ev.event > LUO_EVENT_FINISH)
		return -EPROTO;
	*event = (enum luo_event)ev.event;
	if (timeout_ms)
		*timeout_ms = ev.timeout_ms;
	return 0;
}

int luo_participant_reply(int dev, int result, const void *payload, size_t len)
{
	struct luo_msg_payload *pl;
	int r;

	if (result > 0 || (!payload && len) || len > LUO_PARTICIPANT_PAYLOAD_MAX)
		return -EINVAL;
	pl = malloc(sizeof(*pl) + len);
	if (!pl)
		return -ENOMEM;
	pl->flags = payload ? LUO_PAYLOAD_PRESENT : 0;
	pl->len = (uint32_t)len;
	if (len)
		memcpy(pl->data, payload, len);
	r = luo_msg_send(dev, LUO_OP_PARTICIPANT_EVENT, result, pl, sizeof(*pl) + len, NULL, 0);
	free(pl);
	return r == -EPIPE ? -ECONNRESET : r;
}
