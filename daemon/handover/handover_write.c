// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * DOC: Handover FDT, writer side.
 *
 * At the end of FREEZE every outgoing frozen session is written, with
 * libfdt's sequential-write API, into one flattened device tree (format 2):
 *
 *   / { checksum = /bits/ 64 <C>; compatible = "luo,handover-v2"; version = <2>;
 *       generation = /bits/ 64 <N>;
 *       luod { listen-fd; [listen-activated;] reply-fd; marks = /bits/ 64 <...>;
 *              updates = /bits/ 64 <n>; instance = /bits/ 64 <id>; };
 *       sessions { <name> { name = "..."; uid = <u>;
 *                           handlers = "luo,memfd-v2", "luo,socket-v2", ...;
 *                           files = [records]; payloads = [bytes]; }; };
 *       participants { }; flb { }; history { }; };
 *
 * files is one fixed-size record per file (struct handover_file below, big
 * endian like every FDT cell): token, fd, the index of its handler's
 * compatible in handlers, flags (0), and where its payload lies in
 * payloads. One property per session instead of a node per file: 48 bytes
 * per memfd instead of 166, and the successor reads it without a property
 * lookup by name per file.
 *
 * checksum covers the whole blob, its own 8 bytes counted as zero
 * (luo_handover_checksum()): every change confined to one 8-byte word is
 * caught, a single flipped byte included. Format 1 (a node per file,
 * "luo,handover-v1", no checksum) is what luod wrote before; the reader
 * still takes it.
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

/*
 * 64 bits, 8 bytes a step: h = (h ^ w) * K, then h ^= h >> 29. For a given
 * w each step is a bijection of h, and for a given h one of w, so two
 * inputs that differ in one word (one byte, say) end in different sums.
 * The hole (8 bytes at a 4-byte aligned offset: the checksum's own value)
 * counts as zero bytes.
 */
uint64_t luo_handover_checksum(const void *blob, size_t len, size_t hole)
{
	const unsigned char *p = blob;
	uint64_t h = 0x6c756f2d68616e64ull ^ len;

	for (size_t off = 0; off < len; off += 8) {
		unsigned char b[8] = { 0 };
		uint64_t w;

		if (len - off >= 8 && (hole >= off + 8 || hole + 8 <= off)) {
			memcpy(&w, p + off, 8); /* the common case: a whole word, clear of the hole */
		} else {
			memcpy(b, p + off, len - off < 8 ? len - off : 8);
			for (size_t i = 0; i < 8; i++)
				if (off + i >= hole && off + i < hole + 8)
					b[i] = 0;
			memcpy(&w, b, 8);
		}
		h = (h ^ w) * 0x9e3779b97f4a7c15ull;
		h ^= h >> 29;
	}
	return h;
}

#define MAX_HANDLERS 32 /* distinct handlers in one session; there are 7 */

static int write_session(void *fdt, const struct luo_session *s, unsigned idx)
{
	const struct luo_file_handler *hs[MAX_HANDLERS];
	char node[LUO_NAME_MAX + 16], names[MAX_HANDLERS * 64];
	size_t nh = 0, names_len = 0, payloads = 0;
	unsigned char *rec, *pl; /* 4-byte aligned only: filled with memcpy */
	void *p;

	if (node_name_ok(s->name))
		snprintf(node, sizeof(node), "%s", s->name);
	else
		snprintf(node, sizeof(node), "session-%u", idx);
	for (size_t i = 0; i < s->nfiles; i++) {
		const struct luo_file_handler *h = s->files[i]->handler;
		size_t k = 0;

		while (k < nh && hs[k] != h)
			k++;
		if (k == nh) {
			size_t n = strlen(h->compatible) + 1;

			if (nh == MAX_HANDLERS || names_len + n > sizeof(names))
				return -FDT_ERR_BADVALUE;
			hs[nh++] = h;
			memcpy(names + names_len, h->compatible, n);
			names_len += n;
		}
		payloads += s->files[i]->payload_len;
	}
	if (payloads > INT32_MAX || s->nfiles > INT32_MAX / sizeof(struct luo_handover_file))
		return -FDT_ERR_BADVALUE;
	TRY(fdt_begin_node(fdt, node));
	TRY(fdt_property_string(fdt, "name", s->name));
	TRY(fdt_property_u32(fdt, "uid", (uint32_t)s->uid));
	TRY(fdt_property(fdt, "handlers", names, (int)names_len));
	TRY(fdt_property_placeholder(fdt, "files", (int)(s->nfiles * sizeof(struct luo_handover_file)),
				     &p));
	rec = p;
	TRY(fdt_property_placeholder(fdt, "payloads", (int)payloads, &p));
	pl = p;
	payloads = 0;
	for (size_t i = 0; i < s->nfiles; i++) {
		const struct luo_file *f = s->files[i];
		struct luo_handover_file r = {
			.token = cpu_to_fdt64(f->token),
			.fd = cpu_to_fdt32((uint32_t)f->fd),
			.payload_off = cpu_to_fdt32((uint32_t)payloads),
			.payload_len = cpu_to_fdt32((uint32_t)f->payload_len),
		};
		uint16_t k = 0;

		while (hs[k] != f->handler)
			k++;
		r.handler = cpu_to_fdt16(k);
		memcpy(rec + i * sizeof(r), &r, sizeof(r));
		memcpy(pl + payloads, f->payload, f->payload_len);
		payloads += f->payload_len;
	}
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
		for (struct luo_session *s = core_first_session(); s; s = s->next)
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
	TRY(fdt_property_u64(fdt, "checksum", 0)); /* filled in by seal_checksum() */
	TRY(fdt_property_string(fdt, "compatible", LUO_HANDOVER_COMPATIBLE));
	TRY(fdt_property_u32(fdt, "version", LUO_HANDOVER_VERSION));
	TRY(fdt_property_u64(fdt, "generation", core_generation()));

	TRY(fdt_begin_node(fdt, "luod"));
	TRY(fdt_property_u32(fdt, "listen-fd", (uint32_t)luod->listen_fd));
	if (luod->listen_activated)
		TRY(fdt_property(fdt, "listen-activated", NULL, 0));
	TRY(fdt_property_u32(fdt, "reply-fd", (uint32_t)luod->reply_fd));
	for (int i = 0; i < LUO_MARK_COUNT; i++)
		marks[i] = cpu_to_fdt64(luod->marks[i]);
	TRY(fdt_property(fdt, "marks", marks, sizeof(marks)));
	TRY(fdt_property_u64(fdt, "updates", luod->updates));
	TRY(fdt_property_u64(fdt, "instance", luod->instance));
	TRY(fdt_end_node(fdt));

	TRY(fdt_begin_node(fdt, "sessions"));
	for (struct luo_session *s = core_first_session(); s; s = s->next)
		if (carried(s))
			TRY(write_session(fdt, s, idx++));
	TRY(fdt_end_node(fdt));
	TRY(write_participants(fdt));
	TRY(write_flbs(fdt));
	TRY(history_fdt_write(fdt));

	TRY(fdt_end_node(fdt));
	return fdt_finish(fdt);
}

/* The root's checksum property over the finished blob. */
static int seal_checksum(void *fdt)
{
	int len;
	const void *v = fdt_getprop(fdt, 0, "checksum", &len);
	fdt64_t sum;

	if (!v || len != sizeof(sum))
		return -FDT_ERR_INTERNAL;
	sum = cpu_to_fdt64(luo_handover_checksum(fdt, fdt_totalsize(fdt),
						 (size_t)((const char *)v - (const char *)fdt)));
	memcpy((char *)fdt + ((const char *)v - (const char *)fdt), &sum, sizeof(sum));
	return 0;
}

/*
 * Room for the tree: what format 2 takes (a 24-byte record and the payload
 * per file, a few hundred bytes per session and participant, the history)
 * and a little more; fdt_create() clears all of it, so an estimate twice
 * too large costs its pages twice. Doubled when it is short anyway.
 */
static size_t tree_cap(void)
{
	size_t cap = 8192 + LUO_HISTORY_MAX * 128;

	for (struct luo_participant *p = participant_first(); p; p = p->next)
		cap += 256 + p->payload_len;
	for (struct luo_session *s = core_first_session(); s; s = s->next) {
		cap += 512;
		for (size_t i = 0; i < s->nfiles; i++)
			cap += sizeof(struct luo_handover_file) + s->files[i]->payload_len;
	}
	return cap;
}

/* The tree in buf, checksum sealed: 0, -FDT_ERR_NOSPACE (try more room) or -errno. */
static int build_in(void *buf, size_t cap, const struct luo_handover_luod *luod)
{
	int r = write_tree(buf, cap, luod);

	if (r == 0)
		r = seal_checksum(buf);
	if (r == 0 || r == -FDT_ERR_NOSPACE)
		return r;
	log_err("handover: writing the FDT: %s", fdt_strerror(r));
	return fdt_errno(r);
}

int luo_handover_build(const struct luo_handover_luod *luod, void **ret, size_t *ret_len)
{
	size_t cap = tree_cap();

	for (;;) {
		void *buf;
		int r;

		if (cap > LUO_HANDOVER_MAX)
			return -E2BIG;
		buf = FAULT("alloc") ? NULL : malloc(cap);
		if (!buf)
			return -ENOMEM;
		r = build_in(buf, cap, luod);
		if (r == 0) {
			*ret = buf;
			*ret_len = fdt_totalsize(buf);
			return 0;
		}
		free(buf);
		if (r != -FDT_ERR_NOSPACE)
			return r;
		cap *= 2;
	}
}

/* fd, len bytes long, sealed against every change; on failure it is closed: -errno. */
static int seal_at(int fd, size_t len, bool truncate)
{
	const int seals = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;
	int r;

	if ((truncate && ftruncate(fd, (off_t)len) < 0) || fcntl(fd, F_ADD_SEALS, seals) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

int luo_sealed_memfd(const char *name, const void *blob, size_t len)
{
	size_t off = 0;
	int fd, r;

	fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	while (off < len) {
		ssize_t n = write(fd, (const char *)blob + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : -EIO;
			goto err;
		}
		off += (size_t)n;
	}
	return seal_at(fd, len, false); /* written: len long already */
err:
	close(fd);
	return r;
}

/*
 * Written in place: the tree is built in the memfd's own pages (no buffer
 * to fault in, clear and copy 480 KB from for 10,000 files), cut to its
 * size and sealed.
 */
int luo_handover_write(const struct luo_handover_luod *luod, size_t *ret_bytes)
{
	size_t cap = tree_cap(), len = 0;
	int fd, r;

	fd = memfd_create("luo-handover", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	for (;;) {
		void *map;

		if (cap > LUO_HANDOVER_MAX) {
			r = -E2BIG;
			goto err;
		}
		if (ftruncate(fd, (off_t)cap) < 0) {
			r = -errno;
			goto err;
		}
		map = FAULT("alloc") ? MAP_FAILED : mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (map == MAP_FAILED) {
			r = -ENOMEM;
			goto err;
		}
		r = build_in(map, cap, luod);
		if (r == 0)
			len = fdt_totalsize(map);
		munmap(map, cap);
		if (r == 0)
			break;
		if (r != -FDT_ERR_NOSPACE)
			goto err;
		cap *= 2;
	}
	fd = seal_at(fd, len, true); /* cut to the tree's size */
	if (fd >= 0)
		*ret_bytes = len;
	return fd;
err:
	close(fd);
	return r;
}
