/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Participant calls: registering, receiving events, answering them.
 * Events arrive unsolicited on the registered handle, so next_event reads
 * one message itself instead of making a call.
 *
 * Registration asks for tagged events (LUO_PARTICIPANT_TAGS, see
 * protocol.h). The tag of the last event read on a handle is kept here,
 * in a small table by fd, and every answer on that handle carries it: an
 * answer given late, or twice, names an event luod no longer waits for and
 * is dropped there. A handle the table has no room for answers untagged,
 * as every participant did before tags.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "luo/luo.h"
#include "rpc.h"

#define TAG_SLOTS 64

static struct {
	int fd; /* -1: free */
	uint64_t tag;
} tags[TAG_SLOTS];
static size_t tags_next; /* the slot reused when all are taken */
static pthread_mutex_t tags_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t tags_once = PTHREAD_ONCE_INIT;

static void tags_init(void)
{
	for (size_t i = 0; i < TAG_SLOTS; i++)
		tags[i].fd = -1;
}

/* tag 0: forget fd (registered again, or untagged). */
static void tag_set(int fd, uint64_t tag)
{
	size_t i, free_slot = TAG_SLOTS;

	pthread_once(&tags_once, tags_init);
	pthread_mutex_lock(&tags_lock);
	for (i = 0; i < TAG_SLOTS && tags[i].fd != fd; i++)
		if (tags[i].fd < 0 && free_slot == TAG_SLOTS)
			free_slot = i;
	if (i == TAG_SLOTS && tag) {
		i = free_slot < TAG_SLOTS ? free_slot : tags_next++ % TAG_SLOTS;
		tags[i].fd = fd;
	}
	if (i < TAG_SLOTS) {
		tags[i].tag = tag;
		if (!tag)
			tags[i].fd = -1;
	}
	pthread_mutex_unlock(&tags_lock);
}

static uint64_t tag_get(int fd)
{
	uint64_t tag = 0;

	pthread_once(&tags_once, tags_init);
	pthread_mutex_lock(&tags_lock);
	for (size_t i = 0; i < TAG_SLOTS; i++)
		if (tags[i].fd == fd)
			tag = tags[i].tag;
	pthread_mutex_unlock(&tags_lock);
	return tag;
}

int luo_participant_register(int dev, const char *name, void *payload, size_t payload_size)
{
	struct luo_msg_participant_register req = { 0 };
	struct luo_msg_payload pl;
	struct luo_reply *reply;
	int r;

	if ((!payload && payload_size) || luo_name_validate(name, LUO_NAME_MAX) < 0)
		return -EINVAL;
	reply = malloc(sizeof(*reply));
	if (!reply)
		return -ENOMEM;
	strcpy(req.name, name);
	req.flags = LUO_PARTICIPANT_TAGS;
	tag_set(dev, 0);
	r = luo_call_full(dev, LUO_OP_PARTICIPANT_REGISTER, &req, sizeof(req), NULL, 0, reply);
	if (r == -E2BIG) /* a luod older than tags: the name alone */
		r = luo_call_full(dev, LUO_OP_PARTICIPANT_REGISTER, &req, sizeof(req.name), NULL, 0,
				  reply);
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
	/* room past the known event: a later luod may append fields */
	unsigned char buf[sizeof(struct luo_msg_hdr) + 256] = { 0 };
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
	if (hdr.op != LUO_OP_PARTICIPANT_EVENT || nfds ||
	    (size_t)n < sizeof(hdr) + LUO_PARTICIPANT_EVENT_UNTAGGED)
		return -EPROTO;
	memcpy(&ev, buf + sizeof(hdr), sizeof(ev)); /* buf is zeroed past n: no tag is 0 */
	if (ev.event > LUO_EVENT_FINISH)
		return -EPROTO;
	tag_set(dev, ev.tag);
	*event = (enum luo_event)ev.event;
	if (timeout_ms)
		*timeout_ms = ev.timeout_ms;
	return 0;
}

int luo_participant_reply(int dev, int result, const void *payload, size_t len)
{
	struct luo_msg_payload_tagged *pl;
	uint64_t tag = tag_get(dev);
	/* untagged: the older, shorter header */
	size_t head = tag ? sizeof(*pl) : sizeof(struct luo_msg_payload);
	unsigned char *msg;
	int r;

	if (result > 0 || (!payload && len) || len > LUO_PARTICIPANT_PAYLOAD_MAX)
		return -EINVAL;
	msg = malloc(sizeof(*pl) + len);
	if (!msg)
		return -ENOMEM;
	pl = (struct luo_msg_payload_tagged *)msg;
	pl->flags = (payload ? LUO_PAYLOAD_PRESENT : 0) | (tag ? LUO_PAYLOAD_TAGGED : 0);
	pl->len = (uint32_t)len;
	pl->tag = tag;
	if (len)
		memcpy(msg + head, payload, len);
	r = luo_msg_send(dev, LUO_OP_PARTICIPANT_EVENT, result, msg, head + len, NULL, 0);
	free(msg);
	return r == -EPIPE ? -ECONNRESET : r;
}
