// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * DOC: Handover FDT, writer side.
 *
 * At the end of FREEZE every outgoing frozen session is written, with
 * libfdt's sequential-write API, into one flattened device tree:
 *
 *   / { compatible = "luo,handover-v1"; version = <1>; generation = /bits/ 64 <N>;
 *       luod { listen-fd; [listen-activated;] reply-fd; marks = /bits/ 64 <...>;
 *              updates = /bits/ 64 <n>; };
 *       sessions { <name> { name = "..."; uid = <u>;
 *                           files { <token> { compatible; token; fd; flags; payload; }; }; }; };
 *       participants { }; flb { }; };
 *
 * A session node is named after the session when the name is a valid node
 * name, else "session-<i>"; the `name` property is the authority. Files keep
 * preservation order, so LIFO order survives the update. The blob goes into
 * a sealed memfd that crosses execve; the buffer grows until it fits.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libfdt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/luod.h"
#include "report/history.h"
#include "base/fault.h"

/* Translate libfdt's codes to errno once, here. */
static int fdt_errno(int err)
{
	switch (err) {
	case 0:
		return 0;
	case -FDT_ERR_NOSPACE:
		return -ENOSPC;
	default:
		return -EINVAL;
	}
}

static bool node_name_ok(const char *name)
{
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      strchr(",._+-", *p)))
			return false;
	return true;
}

#define TRY(call)                        \
	do {                             \
		int err_ = (call);       \
		if (err_ < 0)            \
			return err_;     \
	} while (0)

static bool carried(const struct luo_session *s)
{
	return !s->incoming && s->state == LUO_STATE_FROZEN;
}

static int write_file(void *fdt, const struct luo_file *f)
{
	char node[32];

	snprintf(node, sizeof(node), "%" PRIu64, f->token);
	TRY(fdt_begin_node(fdt, node));
	TRY(fdt_property_string(fdt, "compatible", f->handler->compatible));
	TRY(fdt_property_u64(fdt, "token", f->token));
	TRY(fdt_property_u32(fdt, "fd", (uint32_t)f->fd));
	TRY(fdt_property_u32(fdt, "flags", 0));
	TRY(fdt_property(fdt, "payload", f->payload, (int)f->payload_len));
	return fdt_end_node(fdt);
}

static int write_session(void *fdt, const struct luo_session *s, unsigned idx)
{
	char node[LUO_NAME_MAX + 16];

	if (node_name_ok(s->name))
		snprintf(node, sizeof(node), "%s", s->name);
	else
		snprintf(node, sizeof(node), "session-%u", idx);
	TRY(fdt_begin_node(fdt, node));
	TRY(fdt_property_string(fdt, "name", s->name));
	TRY(fdt_property_u32(fdt, "uid", (uint32_t)s->uid));
	TRY(fdt_begin_node(fdt, "files"));
	for (size_t i = 0; i < s->nfiles; i++)
		TRY(write_file(fdt, s->files[i]));
	TRY(fdt_end_node(fdt));
	return fdt_end_node(fdt);
}

/* Participants that froze carry their payload to whoever registers under their name next. */
static int write_participants(void *fdt)
{
	unsigned idx = 0;

	TRY(fdt_begin_node(fdt, "participants"));
	for (struct luo_participant *p = participant_first(); p; p = p->next, idx++) {
		char node[LUO_NAME_MAX + 16];

		if (p->state != LUO_STATE_FROZEN || !p->has_payload)
			continue;
		if (node_name_ok(p->name))
			snprintf(node, sizeof(node), "%s", p->name);
		else
			snprintf(node, sizeof(node), "participant-%u", idx);
		TRY(fdt_begin_node(fdt, node));
		TRY(fdt_property_string(fdt, "name", p->name));
		TRY(fdt_property(fdt, "payload", p->payload, (int)p->payload_len));
		TRY(fdt_end_node(fdt));
	}
	return fdt_end_node(fdt);
}

/* Each FLB as the successor must rebuild it: from the files that cross only. */
static int write_flbs(void *fdt)
{
	TRY(fdt_begin_node(fdt, "flb"));
	for (size_t i = 0; i < flb_slots(); i++) {
		const struct luo_flb *flb = flb_at(i);
		uint64_t files = 0, bytes = 0;

		if (!flb)
			continue;
		for (struct luo_session *s = luo_core.sessions; s; s = s->next)
			for (size_t k = 0; carried(s) && k < s->nfiles; k++)
				if (s->files[k]->handler == flb->handler && s->files[k]->in_flb) {
					files++;
					bytes += s->files[k]->flb_bytes;
				}
		if (!files)
			continue;
		TRY(fdt_begin_node(fdt, flb->handler->name));
		TRY(fdt_property_string(fdt, "compatible", flb->handler->compatible));
		TRY(fdt_property_u64(fdt, "files", files));
		TRY(fdt_property_u64(fdt, "bytes", bytes));
		TRY(fdt_property_u64(fdt, "created-generation", flb->created_generation));
		TRY(fdt_end_node(fdt));
	}
	return fdt_end_node(fdt);
}

static int write_tree(void *fdt, size_t cap, const struct luo_handover_luod *luod)
{
	unsigned idx = 0;
	uint64_t marks[LUO_MARK_COUNT];

	/*
	 * Without name de-duplication: libfdt looks each property name up by
	 * trying every byte offset of the strings block, a few hundred
	 * memcmp() per file node, most of the FDT write; the names it then
	 * repeats cost 34 bytes per file.
	 */
	TRY(fdt_create_with_flags(fdt, (int)cap, FDT_CREATE_FLAG_NO_NAME_DEDUP));
	TRY(fdt_finish_reservemap(fdt));
	TRY(fdt_begin_node(fdt, ""));
	TRY(fdt_property_string(fdt, "compatible", LUO_HANDOVER_COMPATIBLE));
	TRY(fdt_property_u32(fdt, "version", LUO_HANDOVER_VERSION));
	TRY(fdt_property_u64(fdt, "generation", luo_core.generation));

	TRY(fdt_begin_node(fdt, "luod"));
	TRY(fdt_property_u32(fdt, "listen-fd", (uint32_t)luod->listen_fd));
	if (luod->listen_activated)
		TRY(fdt_property(fdt, "listen-activated", NULL, 0));
	TRY(fdt_property_u32(fdt, "reply-fd", (uint32_t)luod->reply_fd));
	for (int i = 0; i < LUO_MARK_COUNT; i++)
		marks[i] = cpu_to_fdt64(luod->marks[i]);
	TRY(fdt_property(fdt, "marks", marks, sizeof(marks)));
	TRY(fdt_property_u64(fdt, "updates", luod->updates));
	TRY(fdt_end_node(fdt));

	TRY(fdt_begin_node(fdt, "sessions"));
	for (struct luo_session *s = luo_core.sessions; s; s = s->next)
		if (carried(s))
			TRY(write_session(fdt, s, idx++));
	TRY(fdt_end_node(fdt));
	TRY(write_participants(fdt));
	TRY(write_flbs(fdt));
	TRY(history_fdt_write(fdt));

	TRY(fdt_end_node(fdt));
	return fdt_finish(fdt);
}

int luo_handover_build(const struct luo_handover_luod *luod, void **ret, size_t *ret_len)
{
	size_t cap = 4096 + luo_core.nsessions * 256;

	for (struct luo_participant *p = participant_first(); p; p = p->next)
		cap += 256 + p->payload_len;

	for (struct luo_session *s = luo_core.sessions; s; s = s->next)
		for (size_t i = 0; i < s->nfiles; i++)
			cap += 200 + s->files[i]->payload_len;

	for (;;) {
		void *buf;
		int r;

		if (cap > LUO_HANDOVER_MAX)
			return -E2BIG;
		buf = FAULT("alloc") ? NULL : malloc(cap);
		if (!buf)
			return -ENOMEM;
		r = write_tree(buf, cap, luod);
		if (r == 0) {
			*ret = buf;
			*ret_len = fdt_totalsize(buf);
			return 0;
		}
		free(buf);
		if (r != -FDT_ERR_NOSPACE) {
			log_err("handover: writing the FDT: %s", fdt_strerror(r));
			return fdt_errno(r);
		}
		cap *= 2;
	}
}

int luo_handover_write(const struct luo_handover_luod *luod, size_t *ret_bytes)
{
	const int seals = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;
	size_t len, off = 0;
	void *blob;
	int fd, r;

	r = luo_handover_build(luod, &blob, &len);
	if (r < 0)
		return r;
	fd = memfd_create("luo-handover", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	while (off < len) {
		ssize_t n = write(fd, (char *)blob + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : -EIO;
			goto out;
		}
		off += (size_t)n;
	}
	if (fcntl(fd, F_ADD_SEALS, seals) < 0) {
		r = -errno;
		goto out;
	}
	*ret_bytes = len;
	r = fd;
	fd = -1;
out:
	if (fd >= 0)
		close(fd);
	free(blob);
	return r;
}
