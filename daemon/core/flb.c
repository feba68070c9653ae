// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * DOC: FLB — file-lifecycle-bound global state.
 *
 * A handler that sets .flb gets one global object for its file type: it is
 * created when the first file of that type is preserved (or restored from a
 * handover), lives while any such file exists in any session, outgoing or
 * incoming, and ends after the last one is unpreserved, finished or
 * released. It accounts the files and the bytes they hold (the memfd
 * handler's preserved bytes shown by `luoctl status`) and remembers the
 * generation it was created in.
 *
 * The update carries it in the FDT under /flb/<handler>; the successor
 * rebuilds it from the files it restores and refuses the handover if the
 * two disagree, so the FLB doubles as a consistency check of the blob.
 */
#include <inttypes.h>
#include <string.h>

#include "core/luod.h"
#include "core/state.h"

#define FLB_MAX 16

static struct luo_flb flbs[FLB_MAX];

struct luo_flb *flb_get(const struct luo_file_handler *h)
{
	for (size_t i = 0; i < FLB_MAX; i++)
		if (flbs[i].handler == h)
			return &flbs[i];
	return NULL;
}

static struct luo_flb *flb_create(const struct luo_file_handler *h)
{
	for (size_t i = 0; i < FLB_MAX; i++)
		if (!flbs[i].handler) {
			flbs[i] = (struct luo_flb){ .handler = h, .created_generation = luo_core.generation };
			log_debug("flb %s: created", h->name);
			return &flbs[i];
		}
	return NULL;
}

static uint64_t file_bytes(const struct luo_file *file)
{
	return file->handler->size ? file->handler->size(file) : 0;
}

void flb_file_added(struct luo_file *file)
{
	struct luo_flb *flb;

	if (!file->handler->flb)
		return;
	flb = flb_get(file->handler);
	if (!flb)
		flb = flb_create(file->handler);
	if (!flb)
		return; /* more handlers than slots: a build error, not a runtime one */
	file->flb_bytes = file_bytes(file);
	flb->files++;
	flb->bytes += file->flb_bytes;
	file->in_flb = true;
}

void flb_file_changed(struct luo_file *file)
{
	struct luo_flb *flb;
	uint64_t bytes;

	if (!file->in_flb || !(flb = flb_get(file->handler)))
		return;
	bytes = file_bytes(file);
	flb->bytes = flb->bytes - file->flb_bytes + bytes;
	file->flb_bytes = bytes;
}

void flb_file_removed(struct luo_file *file)
{
	struct luo_flb *flb;

	if (!file->in_flb || !(flb = flb_get(file->handler)))
		return;
	file->in_flb = false;
	flb->files--;
	flb->bytes -= file->flb_bytes;
	if (flb->files == 0) {
		log_debug("flb %s: ended (created in generation %" PRIu64 ")", flb->handler->name,
			  flb->created_generation);
		memset(flb, 0, sizeof(*flb));
	}
}

uint64_t flb_memfd_bytes(void)
{
	const struct luo_file_handler *memfd = luo_handler_named("memfd");
	struct luo_flb *flb = memfd ? flb_get(memfd) : NULL;

	return flb ? flb->bytes : 0;
}

const struct luo_flb *flb_at(size_t i)
{
	return i < FLB_MAX && flbs[i].handler ? &flbs[i] : NULL;
}

size_t flb_slots(void)
{
	return FLB_MAX;
}
