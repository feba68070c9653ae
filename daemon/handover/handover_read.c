// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * DOC: Handover FDT, reader side.
 *
 * The successor trusts nothing in the blob until all of it has been checked:
 * fdt_check_full() for the structure, then our own rules — compatible string
 * and version (format 2, or format 1 from an older luod), the checksum
 * (required in format 2, checked wherever present), a generation that can
 * still count up, every property's length, every record inside its
 * property, names and tokens unique, each fd number open, above stdio,
 * claimed once (the blob's own fd, the listening socket and the reply
 * connection included), and of the type its handler expects. Only then are
 * the sessions linked into the core.
 *
 * The per-fd system calls are the cost of the blackout (10,000 files), so
 * the files' fds are checked open in batches of one poll() (POLLNVAL), and
 * the type of a memfd or socket is checked by its handler's retrieve(),
 * from the fstat() or getsockopt() that compares it with its record
 * anyway (.retrieve_checks_type): before any fd leaves luod, as before,
 * but a wrong one fails that retrieve (EIO) instead of the whole handover. On any error the sessions built so
 * far are dropped without closing a single inherited fd (their owner is
 * unknown once the blob is not trusted), and the reason is logged.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libfdt.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/luod.h"
#include "report/history.h"

struct carried_participant {
	const char *name;
	const void *payload;
	int len;
};

struct reader {
	const void *fdt;
	struct carried_participant *participants;
	size_t nparticipants;
	struct luo_session *head; /* sessions built, not yet in the core */
	uint64_t *fd_bits;        /* fd numbers seen, below FD_BITS_MAX */
	size_t fd_words;
	struct luo_index fds;     /* and above it (no kernel default opens those) */
	struct pollfd open_check[256]; /* files' fds not yet checked open */
	size_t nopen_check;
	int self_fd;       /* the blob's own fd, or -1 */
	int sessions_node; /* the root's sessions node */
	int sessions_end;  /* and the offset just past it */
};

#define FAIL(...)                                      \
	do {                                           \
		log_err("handover: " __VA_ARGS__);     \
		return -EINVAL;                        \
	} while (0)

static int get_u32(const void *fdt, int node, const char *name, uint32_t *v, bool required)
{
	int len;
	const fdt32_t *p = fdt_getprop(fdt, node, name, &len);

	if (!p) {
		if (required)
			FAIL("missing property %s", name);
		return 0;
	}
	if (len != sizeof(*p))
		FAIL("property %s: %d bytes, expected 4", name, len);
	*v = fdt32_to_cpu(*p);
	return 1;
}

static int get_u64(const void *fdt, int node, const char *name, uint64_t *v, bool required)
{
	int len;
	const void *p = fdt_getprop(fdt, node, name, &len);
	fdt64_t raw;

	if (!p) {
		if (required)
			FAIL("missing property %s", name);
		return 0;
	}
	if (len != sizeof(raw))
		FAIL("property %s: %d bytes, expected 8", name, len);
	memcpy(&raw, p, sizeof(raw));
	*v = fdt64_to_cpu(raw);
	return 1;
}

/* A string property that is NUL-terminated exactly at its end and shorter than max. */
static const char *get_string(const void *fdt, int node, const char *name, size_t max)
{
	int len;
	const char *p = fdt_getprop(fdt, node, name, &len);

	if (!p || len < 1 || (size_t)len > max || p[len - 1] || strlen(p) != (size_t)len - 1)
		return NULL;
	return p;
}

#define FD_BITS_MAX (1u << 20) /* fs.nr_open's default: 128 KiB of bits at most */

/* Whether fd was claimed before; claims it. 1, 0, or -ENOMEM. */
static int fd_seen(struct reader *rd, uint32_t fd)
{
	static int marker;
	size_t w = fd / 64;
	uint64_t bit = 1ull << (fd % 64);

	if (fd >= FD_BITS_MAX) {
		if (luo_index_get(&rd->fds, fd))
			return 1;
		return luo_index_put(&rd->fds, fd, &marker);
	}
	if (w >= rd->fd_words) {
		size_t n = w + 1 > 2 * rd->fd_words ? w + 1 : 2 * rd->fd_words;
		uint64_t *bits = realloc(rd->fd_bits, n * sizeof(*bits));

		if (!bits)
			return -ENOMEM;
		memset(bits + rd->fd_words, 0, (n - rd->fd_words) * sizeof(*bits));
		rd->fd_bits = bits;
		rd->fd_words = n;
	}
	if (rd->fd_bits[w] & bit)
		return 1;
	rd->fd_bits[w] |= bit;
	return 0;
}

/*
 * The files' fds queued so far are open: one poll() for up to 256 of
 * them, no timeout, nothing read (POLLNVAL: not open).
 */
static int check_open(struct reader *rd)
{
	size_t n = rd->nopen_check;

	rd->nopen_check = 0;
	if (n && poll(rd->open_check, n, 0) < 0)
		FAIL("checking %zu fds: %s", n, strerror(errno));
	for (size_t i = 0; i < n; i++)
		if (rd->open_check[i].revents & POLLNVAL)
			FAIL("fd %d is not open", rd->open_check[i].fd);
	return 0;
}

static int queue_open_check(struct reader *rd, int fd)
{
	rd->open_check[rd->nopen_check++] = (struct pollfd){ .fd = fd };
	if (rd->nopen_check < sizeof(rd->open_check) / sizeof(rd->open_check[0]))
		return 0;
	return check_open(rd);
}

/* A file's fd is checked to be open by file_restore() or check_open(); others pass must_be_open. */
static int claim_fd(struct reader *rd, uint32_t fd, bool must_be_open)
{
	int r;

	if (fd < 3 || fd > INT32_MAX)
		FAIL("fd %" PRIu32 " out of range", fd);
	if ((int)fd == rd->self_fd)
		FAIL("fd %" PRIu32 " is the handover blob's own", fd);
	r = fd_seen(rd, fd);
	if (r < 0)
		return r;
	if (r)
		FAIL("fd %" PRIu32 " named twice", fd);
	if (must_be_open && fcntl((int)fd, F_GETFD) < 0)
		FAIL("fd %" PRIu32 " is not open", fd);
	return 0;
}

/* A file node's properties, as the walk in read_files() finds them. */
struct file_props {
	const char *compatible;
	int compatible_len;
	const void *token, *fd, *payload;
	int token_len, fd_len, payload_len;
};

static int file_prop(const void *fdt, int offset, struct file_props *fp)
{
	const char *name;
	int len;
	const void *val = fdt_getprop_by_offset(fdt, offset, &name, &len);

	if (!val || !name)
		return -EINVAL;
	if (!strcmp(name, "compatible")) {
		fp->compatible = val;
		fp->compatible_len = len;
	} else if (!strcmp(name, "token")) {
		fp->token = val;
		fp->token_len = len;
	} else if (!strcmp(name, "fd")) {
		fp->fd = val;
		fp->fd_len = len;
	} else if (!strcmp(name, "payload")) {
		fp->payload = val;
		fp->payload_len = len;
	}
	return 0;
}

/* One file of either format, its fields read: the rules they share, then into the session. */
static int add_file(struct reader *rd, struct luo_session *s, uint64_t token, uint32_t fd,
		    const struct luo_file_handler *h, const void *payload, size_t len)
{
	struct luo_file *file;
	int r;

	if (session_find_file(s, token))
		FAIL("session %s: token %" PRIu64 " twice", s->name, token);
	r = claim_fd(rd, fd, false);
	if (r < 0)
		return r;
	r = file_restore_unchecked(s, (int)fd, token, h, payload, len, &file);
	if (r == -EBADF)
		FAIL("session %s: token %" PRIu64 ": fd %" PRIu32 " is not open", s->name, token, fd);
	if (r < 0)
		FAIL("session %s: token %" PRIu64 ": fd %" PRIu32 " is not a %s", s->name, token, fd,
		     h->name);
	file->exec_ok = true; /* it came through the execve without close-on-exec */
	r = session_add_file(s, file);
	if (r < 0) {
		file->fd = -1;
		file_release(file);
		return r;
	}
	return h->retrieve_checks_type ? queue_open_check(rd, (int)fd) : 0;
}

static int read_file(struct reader *rd, struct luo_session *s, const struct file_props *p)
{
	const struct luo_file_handler *h;
	struct file_props fp = *p;
	uint64_t token;
	fdt64_t raw64;
	uint32_t fd;

	/* the rules of get_string(), get_u64() and get_u32() */
	if (!fp.compatible || fp.compatible_len < 1 || fp.compatible_len > 64 ||
	    fp.compatible[fp.compatible_len - 1] ||
	    strlen(fp.compatible) != (size_t)fp.compatible_len - 1)
		FAIL("session %s: file without a valid compatible", s->name);
	h = luo_handler_by_compatible(fp.compatible);
	if (!h)
		FAIL("session %s: no handler for \"%s\"", s->name, fp.compatible);
	if (!fp.token)
		FAIL("missing property token");
	if (fp.token_len != sizeof(raw64))
		FAIL("property token: %d bytes, expected 8", fp.token_len);
	if (!fp.fd)
		FAIL("missing property fd");
	if (fp.fd_len != sizeof(fdt32_t))
		FAIL("property fd: %d bytes, expected 4", fp.fd_len);
	memcpy(&raw64, fp.token, sizeof(raw64));
	token = fdt64_to_cpu(raw64);
	fd = fdt32_to_cpu(*(const fdt32_t *)fp.fd);
	if (!fp.payload || fp.payload_len < 0 || fp.payload_len > LUO_PAYLOAD_MAX)
		FAIL("session %s: token %" PRIu64 ": bad payload", s->name, token);
	return add_file(rd, s, token, fd, h, fp.payload, (size_t)fp.payload_len);
}

static struct luo_session *built_find(struct reader *rd, const char *name)
{
	for (struct luo_session *s = rd->head; s; s = s->next)
		if (!strcmp(s->name, name))
			return s;
	return NULL;
}

/*
 * Walking by tags, the way a node's end is known without walking it twice:
 * fdt_next_subnode() from a session node would step over all its file
 * nodes again, and so would every lookup among the root's children after
 * the sessions node. These return the offset just past the END_NODE that
 * closes the node containing off (skip_to_end), and the node that starts
 * at or after end among the same parent's children, or -FDT_ERR_NOTFOUND
 * at the parent's end (next_sibling). One walk does both: to_end says
 * which.
 */
static int walk_tags(const void *fdt, int off, bool to_end)
{
	int depth = 0, next;

	for (;;) {
		switch (fdt_next_tag(fdt, off, &next)) {
		case FDT_BEGIN_NODE:
			if (!to_end)
				return off;
			depth++;
			break;
		case FDT_END_NODE:
			if (!to_end)
				return -FDT_ERR_NOTFOUND;
			if (depth-- == 0)
				return next;
			break;
		case FDT_PROP:
		case FDT_NOP:
			break;
		default:
			return next < 0 ? next : -FDT_ERR_BADSTRUCTURE;
		}
		off = next;
	}
}

static int skip_to_end(const void *fdt, int off)
{
	return walk_tags(fdt, off, true);
}

static int next_sibling(const void *fdt, int end)
{
	return walk_tags(fdt, end, false);
}

/* "name" or "name@unit", as fdt_subnode_offset() matches them */
static bool node_is(const char *node, const char *name)
{
	size_t n = strlen(name);

	return node && !strncmp(node, name, n) && (node[n] == '\0' || node[n] == '@');
}

/*
 * fdt_subnode_offset(fdt, 0, name) once the sessions have been read: the
 * first root child of that name, stepping over the sessions node by its
 * known end instead of walking it again.
 */
static int root_child(const struct reader *rd, const char *name)
{
	const void *fdt = rd->fdt;
	int node = fdt_first_subnode(fdt, 0);

	while (node >= 0) {
		if (node_is(fdt_get_name(fdt, node, NULL), name))
			return node;
		node = node == rd->sessions_node ? next_sibling(fdt, rd->sessions_end)
						 : fdt_next_subnode(fdt, node);
	}
	return node;
}

/*
 * The file nodes under a session's files node, in one walk of the tags:
 * with fdt_for_each_subnode() and a lookup per property, every file's
 * property tags would be stepped over three to five times, and 10,000 file
 * nodes are read in the blackout. Properties of the files node itself and
 * nodes nested in a file node are skipped, as before.
 */
static int read_files(struct reader *rd, struct luo_session *s, int files, int *end)
{
	const void *fdt = rd->fdt;
	struct file_props fp = { 0 };
	int depth = 0, offset, next, r;
	uint32_t tag;

	if (fdt_next_tag(fdt, files, &next) != FDT_BEGIN_NODE)
		FAIL("session %s: bad files node", s->name);
	for (;;) {
		offset = next;
		tag = fdt_next_tag(fdt, offset, &next);
		switch (tag) {
		case FDT_BEGIN_NODE:
			if (++depth == 1)
				fp = (struct file_props){ 0 };
			break;
		case FDT_PROP:
			if (depth == 1 && file_prop(fdt, offset, &fp) < 0)
				FAIL("session %s: a file property is malformed", s->name);
			break;
		case FDT_END_NODE:
			if (depth == 0) {
				*end = next;
				return 0;
			}
			if (depth-- == 1 && (r = read_file(rd, s, &fp)) < 0)
				return r;
			break;
		case FDT_NOP:
			break;
		default:
			FAIL("session %s: files: %s", s->name, fdt_strerror(next < 0 ? next : -FDT_ERR_BADSTRUCTURE));
		}
	}
}

/* A session node's name (valid, not seen before) and owner, in either format. */
static int session_head(struct reader *rd, int node, const char **name, uint32_t *uid)
{
	const void *fdt = rd->fdt;

	*name = get_string(fdt, node, "name", LUO_NAME_MAX);
	if (!*name || luo_name_validate(*name, LUO_NAME_MAX) < 0)
		FAIL("session node %s: bad name", fdt_get_name(fdt, node, NULL));
	if (built_find(rd, *name))
		FAIL("session %s appears twice", *name);
	return get_u32(fdt, node, "uid", uid, true);
}

static int read_session(struct reader *rd, int node, int *end)
{
	const void *fdt = rd->fdt;
	struct luo_session *s;
	const char *name;
	uint32_t uid;
	int files, r;

	r = session_head(rd, node, &name, &uid);
	if (r < 0)
		return r;
	r = session_new(name, (uid_t)uid, true, &s);
	if (r < 0)
		return r;
	s->next = rd->head; /* built in reverse, relinked in order later */
	rd->head = s;

	files = fdt_subnode_offset(fdt, node, "files");
	if (files < 0)
		FAIL("session %s: no files node", name);
	r = read_files(rd, s, files, end);
	if (r < 0)
		return r;
	/* whatever follows the files node in the session node */
	*end = skip_to_end(fdt, *end);
	if (*end < 0)
		FAIL("session %s: %s", name, fdt_strerror(*end));
	return 0;
}

/* Format 2: a session's handler table, records and payloads (handover_write.c). */
static int read_session_v2(struct reader *rd, int node)
{
	const struct luo_file_handler *hs[64];
	const void *fdt = rd->fdt;
	const unsigned char *rec, *pl;
	const char *names, *name;
	int names_len, rec_len, pl_len, r;
	struct luo_session *s;
	size_t nh = 0, n;
	uint32_t uid;

	r = session_head(rd, node, &name, &uid);
	if (r < 0)
		return r;
	names = fdt_getprop(fdt, node, "handlers", &names_len);
	rec = fdt_getprop(fdt, node, "files", &rec_len);
	pl = fdt_getprop(fdt, node, "payloads", &pl_len);
	if (!names || !rec || !pl)
		FAIL("session %s: handlers, files or payloads missing", name);
	if (rec_len % (int)sizeof(struct luo_handover_file))
		FAIL("session %s: files: %d bytes, not whole records", name, rec_len);
	for (int off = 0; off < names_len;) {
		const char *c = names + off;
		size_t len = strnlen(c, (size_t)(names_len - off));

		if (off + (int)len == names_len || len == 0 || len >= 64)
			FAIL("session %s: handlers: malformed", name);
		if (nh == sizeof(hs) / sizeof(hs[0]))
			FAIL("session %s: handlers: too many", name);
		hs[nh] = luo_handler_by_compatible(c);
		if (!hs[nh])
			FAIL("session %s: no handler for \"%s\"", name, c);
		nh++;
		off += (int)len + 1;
	}
	r = session_new(name, (uid_t)uid, true, &s);
	if (r < 0)
		return r;
	s->next = rd->head; /* built in reverse, relinked in order later */
	rd->head = s;

	n = (size_t)rec_len / sizeof(struct luo_handover_file);
	/* the files array and token index sized once: no growing copies (and their page faults) */
	r = session_reserve(s, n);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		struct luo_handover_file f;
		uint64_t token, off, len;
		uint32_t fd;
		uint16_t k;

		memcpy(&f, rec + i * sizeof(f), sizeof(f));
		token = fdt64_to_cpu(f.token);
		fd = fdt32_to_cpu(f.fd);
		k = fdt16_to_cpu(f.handler);
		off = fdt32_to_cpu(f.payload_off);
		len = fdt32_to_cpu(f.payload_len);
		if (k >= nh)
			FAIL("session %s: token %" PRIu64 ": handler %u of %zu", name, token, k, nh);
		if (f.flags)
			FAIL("session %s: token %" PRIu64 ": unknown flags %#x", name, token,
			     fdt16_to_cpu(f.flags));
		if (off + len > (uint64_t)pl_len || len > LUO_PAYLOAD_MAX)
			FAIL("session %s: token %" PRIu64 ": payload out of bounds", name, token);
		r = add_file(rd, s, token, fd, hs[k], pl + off, (size_t)len);
		if (r < 0)
			return r;
	}
	return 0;
}

/* An fd of luod's own that /luod may name (listen-fd, reply-fd): claimed into *fd, else -1 stays. */
static int read_luod_fd(struct reader *rd, int node, const char *prop, int *fd)
{
	uint32_t v;
	int r = get_u32(rd->fdt, node, prop, &v, false);

	if (r < 0)
		return r;
	if (r && v != UINT32_MAX) {
		if ((r = claim_fd(rd, v, true)) < 0)
			return r;
		*fd = (int)v;
	}
	return 0;
}

static int read_luod(struct reader *rd, struct luo_handover_luod *luod)
{
	const void *fdt = rd->fdt;
	int node = fdt_subnode_offset(fdt, 0, "luod"), len, r;
	const void *marks;

	*luod = (struct luo_handover_luod){ .listen_fd = -1, .reply_fd = -1 };
	if (node < 0)
		return 0;
	r = read_luod_fd(rd, node, "listen-fd", &luod->listen_fd);
	if (r < 0)
		return r;
	/* systemd owns the socket's path: the successor must not unlink it */
	if (luod->listen_fd >= 0)
		luod->listen_activated = fdt_getprop(fdt, node, "listen-activated", NULL) != NULL;
	r = read_luod_fd(rd, node, "reply-fd", &luod->reply_fd);
	if (r < 0)
		return r;
	marks = fdt_getprop(fdt, node, "marks", &len);
	if (marks) {
		if (len < 0 || len % 8 || len > (int)sizeof(luod->marks))
			FAIL("luod/marks: %d bytes", len);
		for (int i = 0; i < len / 8; i++) {
			fdt64_t raw;

			memcpy(&raw, (const char *)marks + 8 * i, 8);
			luod->marks[i] = fdt64_to_cpu(raw);
		}
	}
	r = get_u64(fdt, node, "updates", &luod->updates, false);
	if (r < 0)
		return r;
	r = get_u64(fdt, node, "instance", &luod->instance, false);
	return r < 0 ? r : 0;
}

static int read_participants(struct reader *rd)
{
	const void *fdt = rd->fdt;
	int parent = root_child(rd, "participants"), node, n = 0;

	if (parent < 0)
		return 0; /* optional */
	fdt_for_each_subnode(node, fdt, parent)
		n++;
	rd->participants = calloc((size_t)n + 1, sizeof(*rd->participants));
	if (!rd->participants)
		return -ENOMEM;
	fdt_for_each_subnode(node, fdt, parent) {
		struct carried_participant *cp = &rd->participants[rd->nparticipants];
		const char *name = get_string(fdt, node, "name", LUO_NAME_MAX);

		if (!name || luo_name_validate(name, LUO_NAME_MAX) < 0)
			FAIL("participant node %s: bad name", fdt_get_name(fdt, node, NULL));
		for (size_t i = 0; i < rd->nparticipants; i++)
			if (!strcmp(rd->participants[i].name, name))
				FAIL("participant %s appears twice", name);
		cp->name = name;
		cp->payload = fdt_getprop(fdt, node, "payload", &cp->len);
		if (!cp->payload || cp->len < 0 || cp->len > LUO_PARTICIPANT_PAYLOAD_MAX)
			FAIL("participant %s: bad payload", name);
		rd->nparticipants++;
	}
	return 0;
}

/* Every FLB in the blob must match what the restored files rebuilt. */
static int check_flbs(struct reader *rd)
{
	const void *fdt = rd->fdt;
	int parent = root_child(rd, "flb"), node;

	if (parent < 0)
		return 0;
	fdt_for_each_subnode(node, fdt, parent) {
		const char *compatible = get_string(fdt, node, "compatible", 64);
		const struct luo_file_handler *h = compatible ? luo_handler_by_compatible(compatible) : NULL;
		struct luo_flb *flb = h ? flb_get(h) : NULL;
		uint64_t files, bytes, created;
		int r;

		if (!h)
			FAIL("flb %s: unknown handler", fdt_get_name(fdt, node, NULL));
		if ((r = get_u64(fdt, node, "files", &files, true)) < 0 ||
		    (r = get_u64(fdt, node, "bytes", &bytes, true)) < 0 ||
		    (r = get_u64(fdt, node, "created-generation", &created, true)) < 0)
			return r;
		if (!flb || flb->files != files || flb->bytes != bytes)
			FAIL("flb %s: %" PRIu64 " files, %" PRIu64 " bytes, but the sessions hold %" PRIu64
			     " and %" PRIu64, h->name, files, bytes, flb ? flb->files : 0,
			     flb ? flb->bytes : 0);
		flb->created_generation = created;
	}
	return 0;
}

static void drop_built(struct reader *rd)
{
	while (rd->head) {
		struct luo_session *s = rd->head;

		rd->head = s->next;
		for (size_t i = 0; i < s->nfiles; i++)
			s->files[i]->fd = -1; /* not ours to close */
		session_free(s);
	}
}

/* Format 2 carries a checksum; a format 1 blob may (it never did: luod wrote none). */
static int check_sum(const void *fdt, uint32_t version)
{
	int len;
	const void *v = fdt_getprop(fdt, 0, "checksum", &len);
	uint64_t want, have;
	fdt64_t raw;

	if (!v) {
		if (version >= 2)
			FAIL("no checksum");
		return 0;
	}
	if (len != sizeof(raw))
		FAIL("property checksum: %d bytes, expected 8", len);
	memcpy(&raw, v, sizeof(raw));
	want = fdt64_to_cpu(raw);
	have = luo_handover_checksum(fdt, fdt_totalsize(fdt),
				     (size_t)((const char *)v - (const char *)fdt));
	if (want != have)
		FAIL("checksum mismatch (blob says %016" PRIx64 ", contents give %016" PRIx64 ")", want,
		     have);
	return 0;
}

static int read_all(struct reader *rd, size_t len, struct luo_handover_luod *luod,
		    uint64_t *generation)
{
	const void *fdt = rd->fdt;
	const char *compatible;
	uint32_t version;
	int sessions, node, end, r;

	if (len < sizeof(struct fdt_header) || fdt_check_header(fdt) != 0)
		FAIL("not a flattened device tree");
	if (fdt_totalsize(fdt) > len)
		FAIL("truncated: header says %u bytes, have %zu", fdt_totalsize(fdt), len);
	/*
	 * luod writes version 17; libfdt 1.6.1's fdt_check_full() reads out of
	 * bounds on some older-version headers (found by tests/fuzz), so those
	 * never reach it.
	 */
	if (fdt_version(fdt) < 17)
		FAIL("FDT version %u (luod writes 17)", fdt_version(fdt));
	r = fdt_check_full(fdt, len);
	if (r != 0)
		FAIL("malformed FDT: %s", fdt_strerror(r));
	compatible = get_string(fdt, 0, "compatible", 64);
	if (!compatible || (strcmp(compatible, LUO_HANDOVER_COMPATIBLE) &&
			    strcmp(compatible, LUO_HANDOVER_COMPATIBLE_V1)))
		FAIL("not a luo handover (compatible is not \"%s\")", LUO_HANDOVER_COMPATIBLE);
	if ((r = get_u32(fdt, 0, "version", &version, true)) < 0)
		return r;
	if (version == 0 || version > LUO_HANDOVER_VERSION)
		FAIL("version %" PRIu32 " (this luod reads 1..%d)", version, LUO_HANDOVER_VERSION);
	if ((version == 1) != !strcmp(compatible, LUO_HANDOVER_COMPATIBLE_V1))
		FAIL("version %" PRIu32 " with compatible \"%s\"", version, compatible);
	if ((r = check_sum(fdt, version)) < 0)
		return r;
	if ((r = get_u64(fdt, 0, "generation", generation, true)) < 0)
		return r;
	if (*generation == UINT64_MAX)
		FAIL("generation %" PRIu64 ": the counter cannot go further", *generation);
	if ((r = read_luod(rd, luod)) < 0)
		return r;

	sessions = fdt_subnode_offset(fdt, 0, "sessions");
	if (sessions < 0)
		FAIL("no sessions node");
	if (version >= 2) {
		fdt_for_each_subnode(node, fdt, sessions)
			if ((r = read_session_v2(rd, node)) < 0)
				return r;
		if (node != -FDT_ERR_NOTFOUND)
			FAIL("sessions: %s", fdt_strerror(node));
	} else {
		/* each session's end is where the next one starts: no node is walked twice */
		fdt_next_tag(fdt, sessions, &end); /* past its BEGIN_NODE: checked by fdt_check_full() */
		node = fdt_first_subnode(fdt, sessions);
		while (node >= 0) {
			r = read_session(rd, node, &end);
			if (r < 0)
				return r;
			node = next_sibling(fdt, end);
		}
		if (node != -FDT_ERR_NOTFOUND)
			FAIL("sessions: %s", fdt_strerror(node));
		rd->sessions_node = sessions;
		rd->sessions_end = skip_to_end(fdt, end);
		if (rd->sessions_end < 0)
			FAIL("sessions: %s", fdt_strerror(rd->sessions_end));
	}
	if ((r = check_open(rd)) < 0 || (r = read_participants(rd)) < 0)
		return r;
	return check_flbs(rd);
}

/* self_fd: the fd the blob came in (claimed first: no record may name it), or -1 */
static int handover_read(const void *blob, size_t len, int self_fd, struct luo_handover_luod *luod)
{
	struct reader rd = { .fdt = blob, .self_fd = self_fd, .sessions_node = -1 };
	uint64_t generation = 0;
	int r;

	*luod = (struct luo_handover_luod){ .listen_fd = -1, .reply_fd = -1 };
	r = read_all(&rd, len, luod, &generation);
	luo_index_free(&rd.fds);
	free(rd.fd_bits);
	if (r < 0) {
		free(rd.participants);
		drop_built(&rd);
		return r;
	}
	for (size_t i = 0; i < rd.nparticipants; i++)
		participant_restore(rd.participants[i].name, rd.participants[i].payload,
				    (size_t)rd.participants[i].len);
	free(rd.participants);

	/* trusted from here on: take the fds and link the sessions in order */
	if (luod->listen_fd >= 0)
		fcntl(luod->listen_fd, F_SETFD, FD_CLOEXEC);
	if (luod->reply_fd >= 0)
		fcntl(luod->reply_fd, F_SETFD, FD_CLOEXEC);
	{
		struct luo_session *rev = NULL;

		while (rd.head) {
			struct luo_session *s = rd.head;

			rd.head = s->next;
			s->next = rev;
			rev = s;
		}
		while (rev) {
			struct luo_session *s = rev;

			rev = s->next;
			core_add_session(s); /* its fds keep close-on-exec off (luo_file.exec_ok) */
		}
	}
	history_fdt_read(blob); /* never fails the handover: at worst the history is empty */
	core_adopt_update(generation, luod->updates, luod->instance);
	return 0;
}

int luo_handover_read(const void *blob, size_t len, struct luo_handover_luod *luod)
{
	return handover_read(blob, len, -1, luod);
}

int luo_handover_read_fd(int fd, struct luo_handover_luod *luod, size_t *ret_bytes)
{
	struct stat st;
	void *map;
	int r;

	if (fstat(fd, &st) < 0) {
		r = -errno;
		log_err("handover: fd %d: %s", fd, strerror(-r));
		return r;
	}
	if (!S_ISREG(st.st_mode) || st.st_size <= 0 || (uint64_t)st.st_size > LUO_HANDOVER_MAX) {
		log_err("handover: fd %d is not a handover blob (%lld bytes)", fd, (long long)st.st_size);
		return -EINVAL;
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED) {
		r = -errno;
		log_err("handover: mapping fd %d: %s", fd, strerror(-r));
		return r;
	}
	r = handover_read(map, (size_t)st.st_size, fd, luod);
	munmap(map, (size_t)st.st_size);
	if (r == 0)
		*ret_bytes = (size_t)st.st_size;
	return r;
}
