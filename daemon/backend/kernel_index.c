// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * DOC: The kernel index: what luod keeps in its kernel session for a kexec.
 *
 * The kernel's session holds memfds by 64-bit token and nothing else, so
 * luod puts its own index next to them, as systemd does with its fd store:
 * token 0 of luod's kernel session is a sealed memfd holding one FDT,
 *
 *   / { compatible = "luo,kernel-index-v1"; generation = /bits/ 64 <G>;
 *       updates = /bits/ 64 <U>; written-realtime-ns = /bits/ 64 <T>;
 *       sessions { s<i> { name = "..."; uid = <u>;
 *                         files { f<j> { token = /bits/ 64 <t>; where = <w>;
 *                                        compatible = "luo,memfd-v2"; payload = [..];
 *                                        [ktoken = /bits/ 64 <k>;]   (where = kernel)
 *                                        [listen = [..];] }; }; }; };   (where = re-created)
 *       history { ... }; };
 *
 * one node per file of every session the kexec carries, in preservation
 * order: a memfd by the token it has in the kernel session, a listener by
 * what relisten.c needs to re-create it, anything else only by its token
 * and handler, so that after the boot its retrieve answers ENOLINK (not
 * carried) instead of ENOENT. The update history rides along (history.c
 * writes and reads its node as in the handover).
 *
 * The reader trusts nothing: header, sizes, every property's length and
 * every name are checked; a bad index is refused whole with a message.
 */
#include <errno.h>
#include <libfdt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/luod.h"
#include "report/history.h"
#include "backend/kernel_index.h"

#define TRY(call)                    \
	do {                         \
		int err_ = (call);   \
		if (err_ < 0)        \
			return err_; \
	} while (0)

static int write_file(void *fdt, const struct kindex_file *kf, unsigned j)
{
	char node[24];

	snprintf(node, sizeof(node), "f%u", j);
	TRY(fdt_begin_node(fdt, node));
	TRY(fdt_property_u64(fdt, "token", kf->token));
	TRY(fdt_property_u32(fdt, "where", (uint32_t)kf->where));
	TRY(fdt_property_string(fdt, "compatible", kf->compatible));
	TRY(fdt_property(fdt, "payload", kf->payload, (int)kf->payload_len));
	if (kf->where == LUO_WHERE_KERNEL)
		TRY(fdt_property_u64(fdt, "ktoken", kf->ktoken));
	if (kf->where == LUO_WHERE_RECREATED)
		TRY(fdt_property(fdt, "listen", &kf->listen, sizeof(kf->listen)));
	return fdt_end_node(fdt);
}

static int write_tree(void *fdt, size_t cap, kindex_classify_fn classify, void *ctx)
{
	unsigned i = 0;

	TRY(fdt_create(fdt, (int)cap));
	TRY(fdt_finish_reservemap(fdt));
	TRY(fdt_begin_node(fdt, ""));
	TRY(fdt_property_string(fdt, "compatible", LUO_KINDEX_COMPATIBLE));
	TRY(fdt_property_u64(fdt, "generation", core_generation()));
	TRY(fdt_property_u64(fdt, "updates", core_updates()));
	TRY(fdt_property_u64(fdt, "written-realtime-ns", realtime_ns()));
	TRY(fdt_begin_node(fdt, "sessions"));
	for (struct luo_session *s = core_first_session(); s; s = s->next) {
		char node[24];
		unsigned j = 0;

		if (s->incoming)
			continue; /* as in luod's own update: what was not retrieved is released */
		snprintf(node, sizeof(node), "s%u", i++);
		TRY(fdt_begin_node(fdt, node));
		TRY(fdt_property_string(fdt, "name", s->name));
		TRY(fdt_property_u32(fdt, "uid", (uint32_t)s->uid));
		TRY(fdt_begin_node(fdt, "files"));
		for (size_t k = 0; k < s->nfiles; k++) {
			struct kindex_file kf;

			classify(s->files[k], &kf, ctx);
			TRY(write_file(fdt, &kf, j++));
		}
		TRY(fdt_end_node(fdt));
		TRY(fdt_end_node(fdt));
	}
	TRY(fdt_end_node(fdt));
	TRY(history_fdt_write(fdt));
	TRY(fdt_end_node(fdt));
	return fdt_finish(fdt);
}

int kindex_write(kindex_classify_fn classify, void *ctx)
{
	size_t cap = 4096;
	void *buf;
	int r;

	for (struct luo_session *s = core_first_session(); s; s = s->next)
		for (size_t i = 0; i < s->nfiles; i++)
			cap += 400 + s->files[i]->payload_len;
	for (;;) {
		buf = malloc(cap);
		if (!buf)
			return -ENOMEM;
		r = write_tree(buf, cap, classify, ctx);
		if (r == 0)
			break;
		free(buf);
		if (r != -FDT_ERR_NOSPACE || cap > LUO_HANDOVER_MAX) {
			log_err("kernel index: %s", fdt_strerror(r));
			return -EINVAL;
		}
		cap *= 2;
	}
	r = luo_sealed_memfd("luod-kernel-index", buf, fdt_totalsize(buf));
	free(buf);
	return r;
}

/* ---- reading ---- */

#define BAD(...)                                    \
	do {                                        \
		log_err("kernel index: " __VA_ARGS__); \
		return -EBADMSG;                    \
	} while (0)

static int get_u64(const void *fdt, int node, const char *name, uint64_t *v)
{
	int len;
	const void *p = fdt_getprop(fdt, node, name, &len);
	fdt64_t raw;

	if (!p || len != (int)sizeof(raw))
		return -EBADMSG;
	memcpy(&raw, p, sizeof(raw)); /* properties are aligned to 4 bytes only */
	*v = fdt64_to_cpu(raw);
	return 0;
}

static int get_u32(const void *fdt, int node, const char *name, uint32_t *v)
{
	int len;
	const fdt32_t *p = fdt_getprop(fdt, node, name, &len);

	if (!p || len != (int)sizeof(*p))
		return -EBADMSG;
	*v = fdt32_to_cpu(*p);
	return 0;
}

static const char *get_string(const void *fdt, int node, const char *name, size_t max)
{
	int len;
	const char *p = fdt_getprop(fdt, node, name, &len);

	if (!p || len < 1 || (size_t)len > max || p[len - 1] != '\0' || strlen(p) + 1 != (size_t)len)
		return NULL;
	return p;
}

static int read_file(const void *fdt, int node, const char *session, struct kindex_file *kf)
{
	uint32_t where;
	const void *p;
	int len;

	memset(kf, 0, sizeof(*kf));
	if (get_u64(fdt, node, "token", &kf->token) < 0 || get_u32(fdt, node, "where", &where) < 0)
		BAD("session %s: a file without token or where", session);
	if (where != LUO_WHERE_KERNEL && where != LUO_WHERE_RECREATED && where != LUO_WHERE_LOST)
		BAD("session %s token %llu: where %u", session, (unsigned long long)kf->token, where);
	kf->where = (enum luo_file_where)where;
	kf->compatible = get_string(fdt, node, "compatible", 64);
	if (!kf->compatible)
		BAD("session %s token %llu: no compatible", session, (unsigned long long)kf->token);
	p = fdt_getprop(fdt, node, "payload", &len);
	if (!p || len < 0 || len > LUO_PAYLOAD_MAX)
		BAD("session %s token %llu: payload", session, (unsigned long long)kf->token);
	kf->payload = p;
	kf->payload_len = (size_t)len;
	if (where == LUO_WHERE_KERNEL && (get_u64(fdt, node, "ktoken", &kf->ktoken) < 0 ||
					  kf->ktoken == LUO_KINDEX_TOKEN))
		BAD("session %s token %llu: kernel token", session, (unsigned long long)kf->token);
	if (where == LUO_WHERE_RECREATED) {
		p = fdt_getprop(fdt, node, "listen", &len);
		if (!p || len != (int)sizeof(kf->listen))
			BAD("session %s token %llu: listener record", session,
			    (unsigned long long)kf->token);
		memcpy(&kf->listen, p, sizeof(kf->listen));
	}
	return 0;
}

int kindex_read(const void *blob, size_t len, const struct kindex_reader *rd, void *ctx)
{
	const void *fdt = blob;
	const char *compat;
	struct kindex_head head = { 0 };
	int sessions, node, r;

	if (len < sizeof(struct fdt_header) || fdt_check_header(fdt) != 0 ||
	    fdt_totalsize(fdt) > len || fdt_check_full(fdt, len) != 0)
		BAD("not a valid FDT (%zu bytes)", len);
	compat = get_string(fdt, 0, "compatible", 64);
	if (!compat || strcmp(compat, LUO_KINDEX_COMPATIBLE))
		BAD("compatible \"%s\", want \"%s\"", compat ? compat : "", LUO_KINDEX_COMPATIBLE);
	if (get_u64(fdt, 0, "generation", &head.generation) < 0 ||
	    get_u64(fdt, 0, "updates", &head.updates) < 0 ||
	    get_u64(fdt, 0, "written-realtime-ns", &head.written_realtime_ns) < 0)
		BAD("no generation, updates or written-realtime-ns");
	sessions = fdt_subnode_offset(fdt, 0, "sessions");
	if (sessions < 0)
		BAD("no sessions node");
	/* everything is checked before anything is used */
	for (int pass = 0; pass < 2; pass++) {
		fdt_for_each_subnode(node, fdt, sessions) {
			const char *name = get_string(fdt, node, "name", LUO_NAME_MAX);
			uint32_t uid;
			int files, f;

			if (!name || luo_name_validate(name, LUO_NAME_MAX) < 0)
				BAD("a session with a bad name");
			if (get_u32(fdt, node, "uid", &uid) < 0)
				BAD("session %s: no uid", name);
			files = fdt_subnode_offset(fdt, node, "files");
			if (files < 0)
				BAD("session %s: no files node", name);
			if (pass == 1 && (r = rd->session(name, (uid_t)uid, ctx)) < 0)
				return r;
			fdt_for_each_subnode(f, fdt, files) {
				struct kindex_file kf;

				r = read_file(fdt, f, name, &kf);
				if (r < 0)
					return r;
				if (pass == 1)
					rd->file(&kf, ctx);
			}
		}
	}
	history_fdt_read(fdt);
	rd->done(&head, ctx);
	return 0;
}
