// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The handover FDT: what the writer produces the reader rebuilds exactly,
 * and every corrupt or foreign blob is refused with nothing added to the
 * core and no inherited fd closed; a file's fd of the wrong type is
 * refused by its retrieve.
 */
#include <errno.h>
#include <fcntl.h>
#include <libfdt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz-fds.h"
#include "harness.h"
#include "core/luod.h"
#include "core/state.h" /* the core's own state: these test the core */
#include "report/history.h"

/* the core knows the fd types only once they are registered, as luod's main() does */
__attribute__((constructor)) static void register_handlers(void)
{
	handlers_register();
}

#define NFILES 4

static int fds[2][NFILES];

static int reset(void **state)
{
	(void)state;
	core_free_all();
	luo_core.state = LUO_STATE_NORMAL;
	luo_core.generation = 41;
	return 0;
}

/* Two frozen sessions of memfds, written out; the core is then emptied
 * without closing the fds, as execve would leave them to the successor. */
static void *make_blob(size_t *len)
{
	const char *names[2] = { "first", "with space/and slash" };
	struct luo_handover_luod h = { .listen_fd = -1, .reply_fd = -1, .updates = 3 };
	void *blob;

	for (int i = 0; i < 2; i++) {
		struct luo_session *s;

		assert_int_equal(core_create_session(names[i], 1000u + (unsigned)i, &s), 0);
		s->handle = &fds;
		for (int j = 0; j < NFILES; j++) {
			int fd = memfd_pattern(names[i], 4096u * (unsigned)(j + 1), (uint32_t)(i * 10 + j));

			fds[i][j] = fd;
			assert_int_equal(session_preserve(s, &fd, &(uint64_t){ 100u + (uint64_t)j }, 1), 0);
		}
	}
	assert_int_equal(core_event(LUO_EVENT_FREEZE), 0);
	assert_int_equal(luo_handover_build(&h, &blob, len), 0);
	for (struct luo_session *s = luo_core.sessions; s; s = s->next)
		for (size_t k = 0; k < s->nfiles; k++)
			s->files[k]->fd = -1;
	core_free_all();
	luo_core.state = LUO_STATE_NORMAL;
	return blob;
}

static void assert_fds_open(void)
{
	for (int i = 0; i < 2; i++)
		for (int j = 0; j < NFILES; j++)
			assert_true(fcntl(fds[i][j], F_GETFD) >= 0);
}

static void close_fds(void)
{
	for (int i = 0; i < 2; i++)
		for (int j = 0; j < NFILES; j++)
			close(fds[i][j]);
}

static void test_roundtrip(void **state)
{
	struct luo_handover_luod h;
	struct luo_session *s;
	size_t len;
	void *blob = make_blob(&len);
	int out[NFILES];

	(void)state;
	assert_int_equal(luo_handover_read(blob, len, &h), 0);
	assert_int_equal(luo_core.generation, 42);
	assert_int_equal(luo_core.updates, 4);
	assert_int_equal(luo_core.state, LUO_STATE_UPDATED);
	assert_int_equal(luo_core.nsessions, 2);
	assert_int_equal(h.listen_fd, -1);
	assert_string_equal(luo_core.sessions->name, "first"); /* creation order kept */
	s = core_find_session("with space/and slash");
	assert_non_null(s);
	assert_int_equal(s->uid, 1001);
	assert_true(s->incoming);
	assert_int_equal(s->nfiles, NFILES);
	for (int j = 0; j < NFILES; j++)
		assert_int_equal(s->files[j]->token, 100u + (uint64_t)j); /* preservation order kept */
	assert_int_equal(core_retrieve_session(s->name, 1001, &s), 0);
	assert_int_equal(session_retrieve(s, (uint64_t[]){ 100, 101, 102, 103 }, NFILES, out), 0);
	for (int j = 0; j < NFILES; j++)
		assert_true(memfd_pattern_ok(out[j], 4096u * (unsigned)(j + 1), (uint32_t)(10 + j)));
	free(blob);
	core_free_all(); /* closes the fds it took */
	assert_true(fcntl(fds[0][0], F_GETFD) < 0);
}

/* Change one thing in a copy of the blob and expect the reader to refuse it. */
static void refuse(void *blob, size_t len)
{
	struct luo_handover_luod h;

	assert_int_equal(luo_handover_read(blob, len, &h), -EINVAL);
	assert_int_equal(luo_core.nsessions, 0);
	assert_int_equal(luo_core.nfiles, 0);
	assert_fds_open();
}

static void *editable(const void *blob)
{
	size_t cap = fdt_totalsize(blob) + 4096;
	void *copy = malloc(cap);

	assert_int_equal(fdt_open_into(blob, copy, (int)cap), 0);
	return copy;
}

/* The checksum again after an edit, so that the edit itself is what the reader judges. */
static void resum(void *fdt)
{
	int len;
	const void *v = fdt_getprop(fdt, 0, "checksum", &len);

	assert_non_null(v);
	assert_int_equal(len, 8);
	assert_int_equal(fdt_setprop_inplace_u64(fdt, 0, "checksum",
						 luo_handover_checksum(fdt, fdt_totalsize(fdt),
								       (size_t)((const char *)v - (const char *)fdt))),
			 0);
}

/* An edit that must be refused on its own merits: checksum made right first. */
static void refuse_edit(void *e)
{
	resum(e);
	refuse(e, fdt_totalsize(e));
	free(e);
}

static int session_node(void *fdt, int session)
{
	int n = fdt_first_subnode(fdt, fdt_subnode_offset(fdt, 0, "sessions"));

	while (session--)
		n = fdt_next_subnode(fdt, n);
	assert_true(n >= 0);
	return n;
}

/* Read, change and write back one file's record (struct luo_handover_file, big endian). */
static struct luo_handover_file get_record(void *fdt, int session, int file)
{
	struct luo_handover_file r;
	int len;
	const char *p = fdt_getprop(fdt, session_node(fdt, session), "files", &len);

	assert_non_null(p);
	assert_true((size_t)len >= (size_t)(file + 1) * sizeof(r));
	memcpy(&r, p + (size_t)file * sizeof(r), sizeof(r));
	return r;
}

static void put_record(void *fdt, int session, int file, const struct luo_handover_file *r)
{
	assert_int_equal(fdt_setprop_inplace_namelen_partial(fdt, session_node(fdt, session), "files", 5,
							     (uint32_t)((size_t)file * sizeof(*r)), r,
							     sizeof(*r)),
			 0);
}

static void *with_fd(const void *blob, int session, int file, uint32_t fd)
{
	void *e = editable(blob);
	struct luo_handover_file r = get_record(e, session, file);

	r.fd = cpu_to_fdt32(fd);
	put_record(e, session, file, &r);
	return e;
}

static void test_refuse_corrupt(void **state)
{
	struct luo_handover_file r;
	size_t len;
	void *blob = make_blob(&len), *e;
	unsigned char *junk;

	(void)state;
	refuse(blob, len - 1);                 /* truncated */
	refuse(blob, sizeof(struct fdt_header) - 1);
	junk = malloc(len);
	memset(junk, 0xa5, len);
	refuse(junk, len);                     /* garbage */
	free(junk);

	e = editable(blob);
	assert_int_equal(fdt_setprop_string(e, 0, "compatible", "someone,else-v1"), 0);
	refuse_edit(e);
	e = editable(blob);
	assert_int_equal(fdt_setprop_u32(e, 0, "version", 3), 0); /* from a newer luod */
	refuse_edit(e);
	e = editable(blob);
	assert_int_equal(fdt_setprop_u32(e, 0, "version", 1), 0); /* format 2 called 1 */
	refuse_edit(e);
	e = editable(blob);
	assert_int_equal(fdt_delprop(e, 0, "generation"), 0);
	refuse_edit(e);
	e = editable(blob);
	assert_int_equal(fdt_setprop_u64(e, 0, "generation", UINT64_MAX), 0); /* would wrap to 0 */
	refuse_edit(e);

	refuse_edit(with_fd(blob, 1, 2, 1));              /* stdout */
	refuse_edit(with_fd(blob, 1, 2, 900));            /* not open */
	refuse_edit(with_fd(blob, 1, 2, (uint32_t)fds[0][0])); /* one fd named twice */
	refuse_edit(with_fd(blob, 0, 1, (uint32_t)fds[0][0])); /* twice in one session */
	refuse_edit(with_fd(blob, 0, 0, UINT32_MAX));

	e = editable(blob);                    /* one token twice */
	r = get_record(e, 0, 3);
	r.token = cpu_to_fdt64(100);
	put_record(e, 0, 3, &r);
	refuse_edit(e);
	e = editable(blob);                    /* a handler index past the table */
	r = get_record(e, 0, 0);
	r.handler = cpu_to_fdt16(1);
	put_record(e, 0, 0, &r);
	refuse_edit(e);
	e = editable(blob);                    /* flags this luod does not know */
	r = get_record(e, 0, 0);
	r.flags = cpu_to_fdt16(1);
	put_record(e, 0, 0, &r);
	refuse_edit(e);
	e = editable(blob);                    /* a payload past the payloads */
	r = get_record(e, 1, 3);
	r.payload_len = cpu_to_fdt32(fdt32_to_cpu(r.payload_len) + 1);
	put_record(e, 1, 3, &r);
	refuse_edit(e);
	e = editable(blob);                    /* ... with an offset that wraps */
	r = get_record(e, 1, 0);
	r.payload_off = cpu_to_fdt32(UINT32_MAX);
	put_record(e, 1, 0, &r);
	refuse_edit(e);
	e = editable(blob);                    /* records cut in the middle */
	{
		int n = session_node(e, 0), l;
		const void *p = fdt_getprop(e, n, "files", &l);
		void *copy = malloc((size_t)l);

		memcpy(copy, p, (size_t)l);
		assert_int_equal(fdt_setprop(e, n, "files", copy, l - 4), 0);
		free(copy);
	}
	refuse_edit(e);
	e = editable(blob);                    /* unknown handler */
	assert_int_equal(fdt_setprop_string(e, session_node(e, 0), "handlers", "luo,nope-v1"), 0);
	refuse_edit(e);
	e = editable(blob);                    /* handlers not NUL-terminated */
	assert_int_equal(fdt_setprop(e, session_node(e, 0), "handlers", "luo,memfd-v2", 12), 0);
	refuse_edit(e);
	e = editable(blob);
	assert_int_equal(fdt_delprop(e, session_node(e, 1), "payloads"), 0);
	refuse_edit(e);

	e = editable(blob);
	assert_int_equal(fdt_setprop_string(e, session_node(e, 1), "name", "first"), 0);
	refuse_edit(e);                        /* two sessions with one name */

	/* the checksum: missing, or not what the contents give */
	e = editable(blob);
	assert_int_equal(fdt_delprop(e, 0, "checksum"), 0);
	refuse(e, fdt_totalsize(e));
	free(e);
	e = editable(blob);
	resum(e);
	r = get_record(e, 0, 0);
	r.token = cpu_to_fdt64(101 ^ 0x200); /* a change only the checksum sees */
	put_record(e, 0, 0, &r);
	refuse(e, fdt_totalsize(e));
	free(e);

	free(blob);
	close_fds();
}

/*
 * The blob's own fd may not be a file's: the successor closes it once read,
 * and the number would later be a client's connection.
 */
/*
 * A socket where a memfd should be: the reader checks that the fd is open
 * (one poll() for all), the memfd's retrieve that it is a memfd, from the
 * fstat() it compares with the record. That retrieve fails with EIO, its
 * neighbours come back whole.
 */
static void test_wrong_type(void **state)
{
	struct luo_handover_luod h;
	struct luo_session *s;
	size_t len;
	void *blob = make_blob(&len), *e;
	int sock[2], out[1];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sock), 0);
	e = with_fd(blob, 0, 1, (uint32_t)sock[0]);
	resum(e);
	assert_int_equal(luo_handover_read(e, fdt_totalsize(e), &h), 0);
	assert_int_equal(luo_core.nfiles, 2 * NFILES);
	assert_int_equal(core_retrieve_session("first", 1000, &s), 0);
	assert_int_equal(session_retrieve(s, (uint64_t[]){ 101 }, 1, out), -EIO);
	assert_int_equal(session_retrieve(s, (uint64_t[]){ 101 }, 1, out), -EIO);
	assert_int_equal(session_retrieve(s, (uint64_t[]){ 100 }, 1, out), 0);
	assert_true(memfd_pattern_ok(out[0], 4096, 0));
	assert_int_equal(session_retrieve(s, (uint64_t[]){ 102 }, 1, out), 0);
	assert_true(memfd_pattern_ok(out[0], 4096 * 3, 2));
	free(e);
	free(blob);
	core_free_all(); /* closes what it took: sock[0] among them, not fds[0][1] */
	assert_true(fcntl(sock[0], F_GETFD) < 0);
	assert_true(fcntl(fds[0][1], F_GETFD) >= 0);
	close(fds[0][1]);
	close(sock[1]);
}

static void test_refuse_own_fd(void **state)
{
	struct luo_handover_luod h;
	size_t len, bytes;
	void *blob = make_blob(&len), *e;
	int mfd = memfd_create("handover", MFD_CLOEXEC);

	(void)state;
	assert_true(mfd >= 0);
	e = with_fd(blob, 1, 2, (uint32_t)mfd);
	resum(e);
	assert_int_equal(write(mfd, e, fdt_totalsize(e)), (ssize_t)fdt_totalsize(e));
	assert_int_equal(luo_handover_read_fd(mfd, &h, &bytes), -EINVAL);
	assert_int_equal(luo_core.nsessions, 0);
	assert_fds_open();
	/* the same blob through another fd: the record names an open memfd, so it is taken */
	{
		int other = memfd_create("handover", MFD_CLOEXEC);

		assert_true(other >= 0);
		assert_int_equal(write(other, e, fdt_totalsize(e)), (ssize_t)fdt_totalsize(e));
		assert_int_equal(luo_handover_read_fd(other, &h, &bytes), 0);
		for (struct luo_session *s = luo_core.sessions; s; s = s->next)
			for (size_t i = 0; i < s->nfiles; i++)
				s->files[i]->fd = -1;
		core_free_all();
		close(other);
	}
	close(mfd);
	free(e);
	free(blob);
	close_fds();
}

/*
 * Nodes and properties the reader does not know are stepped over, wherever
 * they are: inside a session node, after everything at the root, on the
 * sessions node itself.
 */
static void test_unknown_nodes(void **state)
{
	struct luo_handover_luod h;
	struct luo_session *s;
	size_t len;
	void *blob = make_blob(&len), *e = editable(blob);
	int out[NFILES], n;

	(void)state;
	n = fdt_add_subnode(e, session_node(e, 0), "extra");
	assert_true(n >= 0);
	assert_int_equal(fdt_setprop_u32(e, n, "fd", 1), 0); /* not a file's fd: ignored */
	assert_int_equal(fdt_setprop_string(e, session_node(e, 1), "note", "x"), 0);
	assert_int_equal(fdt_setprop_string(e, fdt_subnode_offset(e, 0, "sessions"), "note", "x"), 0);
	assert_true(fdt_add_subnode(e, 0, "zzz") >= 0);
	resum(e);

	assert_int_equal(luo_handover_read(e, fdt_totalsize(e), &h), 0);
	assert_int_equal(luo_core.nsessions, 2);
	s = core_find_session("with space/and slash");
	assert_non_null(s);
	assert_int_equal(s->nfiles, NFILES);
	assert_int_equal(core_retrieve_session(s->name, 1001, &s), 0);
	assert_int_equal(session_retrieve(s, (uint64_t[]){ 100, 101, 102, 103 }, NFILES, out), 0);
	for (int j = 0; j < NFILES; j++)
		assert_true(memfd_pattern_ok(out[j], 4096u * (unsigned)(j + 1), (uint32_t)(10 + j)));
	free(e);
	free(blob);
	core_free_all();
}

/*
 * Every byte of the blob flipped in turn (all 8 bits, then one bit), then
 * random flips of 1-4 bits: none is accepted, nothing is added, no fd is
 * closed. The checksum catches any change within one 8-byte word for sure.
 */
static void test_random_corruption(void **state)
{
	size_t len;
	void *blob = make_blob(&len);
	unsigned char *copy = malloc(len);

	(void)state;
	for (size_t i = 0; i < 2 * len; i++) {
		struct luo_handover_luod h;

		memcpy(copy, blob, len);
		copy[i % len] ^= i < len ? 0xff : (unsigned char)(1u << (i % 8));
		assert_int_equal(luo_handover_read(copy, len, &h), -EINVAL);
		assert_int_equal(luo_core.nsessions, 0);
	}
	srand(7);
	for (int round = 0; round < 3000; round++) {
		struct luo_handover_luod h;

		memcpy(copy, blob, len);
		for (int k = 0; k < 1 + round % 4; k++)
			copy[(size_t)rand() % len] ^= (unsigned char)(1u << (rand() % 8));
		if (!memcmp(copy, blob, len))
			continue; /* two flips of one bit */
		assert_int_equal(luo_handover_read(copy, len, &h), -EINVAL);
		assert_int_equal(luo_core.nsessions, 0);
		assert_fds_open();
	}
	free(copy);
	free(blob);
	close_fds();
}

/* Read blob, give its fds back untouched, and empty the core. */
static void read_ok(const void *blob)
{
	struct luo_handover_luod h;

	assert_int_equal(luo_handover_read(blob, fdt_totalsize(blob), &h), 0);
	for (struct luo_session *s = luo_core.sessions; s; s = s->next)
		for (size_t i = 0; i < s->nfiles; i++)
			s->files[i]->fd = -1;
	core_free_all();
}

/*
 * The update history rides in /history: the successor has it exactly; a
 * blob without it (an older luod) or with one it cannot parse is still
 * read, with an empty history; records longer than this luod knows (a
 * newer one) give the fields it knows.
 */
static void test_history(void **state)
{
	struct luo_msg_history_entry a = { .generation = 7, .start_realtime_ns = 1795424555422192020ull,
					   .prepare_ns = 1000, .freeze_ns = 2000, .blackout_ns = 3000,
					   .files = 5, .sessions = 2, .outcome = LUO_HISTORY_OK },
				     b = { .generation = 7, .outcome = LUO_HISTORY_FAILED,
					   .error = -ENOEXEC };
	size_t len;
	void *blob, *e;
	int node;

	(void)state;
	for (int i = 0; i < LUO_HISTORY_MAX + 3; i++)
		history_add(&b); /* a full ring drops the oldest */
	history_add(&a);
	assert_int_equal(history_count(), LUO_HISTORY_MAX);
	blob = make_blob(&len);
	read_ok(blob);
	assert_int_equal(history_count(), LUO_HISTORY_MAX);
	assert_memory_equal(history_at(LUO_HISTORY_MAX - 1), &a, sizeof(a));
	assert_memory_equal(history_at(0), &b, sizeof(b));

	e = editable(blob);
	assert_int_equal(fdt_del_node(e, fdt_subnode_offset(e, 0, "history")), 0);
	resum(e);
	read_ok(e);
	assert_int_equal(history_count(), 0);
	free(e);

	e = editable(blob);
	assert_int_equal(fdt_setprop_u32(e, fdt_subnode_offset(e, 0, "history"), "record-size", 12), 0);
	resum(e);
	read_ok(e);
	assert_int_equal(history_count(), 0);
	free(e);

	e = editable(blob);
	node = fdt_subnode_offset(e, 0, "history");
	assert_int_equal(fdt_delprop(e, node, "entries"), 0);
	resum(e);
	read_ok(e);
	assert_int_equal(history_count(), 0);
	free(e);

	/* one record, 8 bytes longer than this luod writes */
	e = editable(blob);
	node = fdt_subnode_offset(e, 0, "history");
	{
		const unsigned char *old = fdt_getprop(e, node, "entries", NULL);
		unsigned char rec[88] = { 0 };

		memcpy(rec, old + (LUO_HISTORY_MAX - 1) * 80, 80);
		memset(rec + 80, 0xff, 8);
		assert_int_equal(fdt_setprop(e, node, "entries", rec, sizeof(rec)), 0);
		assert_int_equal(fdt_setprop_u32(e, node, "record-size", sizeof(rec)), 0);
	}
	resum(e);
	read_ok(e);
	assert_int_equal(history_count(), 1);
	assert_memory_equal(history_at(0), &a, sizeof(a));
	free(e);

	/* libfdt must never see an old-version header: refused up front */
	e = editable(blob);
	((struct fdt_header *)e)->version = cpu_to_fdt32(15);
	refuse(e, fdt_totalsize(e));
	free(e);
	free(blob);
	close_fds();
}

/*
 * tests/unit/data/handover-v1.fdt: the blob luod wrote before the handover
 * format changed (tests/fuzz/mkcorpus.c's two sessions over the fds of
 * tests/fuzz/fuzz-fds.h, at 2bf0bd8). A luod of this release must still
 * take it: sessions, owners, tokens in order, each file's handler and fd,
 * and each record checked against its fd on retrieve.
 */
static void test_v1_fixture(void **state)
{
	static const uint64_t web[] = { 1, 2 }, db[] = { 10, 11 };
	struct luo_handover_luod h;
	struct luo_session *s;
	unsigned char blob[4096];
	int f = open(LUO_TEST_DATA "/handover-v1.fdt", O_RDONLY | O_CLOEXEC), fd;
	ssize_t len;

	(void)state;
	assert_true(f >= 0);
	len = read(f, blob, sizeof(blob));
	close(f);
	assert_true(len > 0 && len < (ssize_t)sizeof(blob));
	assert_int_equal(fuzz_fds_setup(), 0);

	assert_int_equal(luo_handover_read(blob, (size_t)len, &h), 0);
	assert_int_equal(luo_core.generation, 1);
	assert_int_equal(luo_core.updates, 3);
	assert_int_equal(luo_core.nsessions, 2);
	assert_int_equal(luo_core.nfiles, 4);
	assert_int_equal(h.listen_fd, -1);
	assert_int_equal(h.reply_fd, -1);
	s = core_find_session("web");
	assert_non_null(s);
	assert_int_equal(s->uid, 1000);
	assert_int_equal(s->nfiles, 2);
	for (size_t i = 0; i < 2; i++)
		assert_int_equal(s->files[i]->token, web[i]);
	assert_string_equal(s->files[0]->handler->name, "memfd");
	assert_string_equal(s->files[1]->handler->name, "eventfd");
	assert_int_equal(s->files[1]->fd, FUZZ_FD_BASE + 3);
	s = core_find_session("db");
	assert_non_null(s);
	assert_int_equal(s->uid, 0);
	for (size_t i = 0; i < 2; i++)
		assert_int_equal(s->files[i]->token, db[i]);
	assert_null(participant_find("vmm")); /* not frozen with a payload: mkcorpus's is not carried */

	/*
	 * retrieve checks each fd against its record, which names the memfd's
	 * and pipe's inodes and the eventfd's id as luod held them when the
	 * blob was written: these fds are others of the same kind, and each is
	 * refused as a wrong fd must be (the records were read, field by
	 * field); an eventfd id is a small number the kernel hands out again,
	 * so this eventfd may carry the recorded one
	 */
	assert_int_equal(core_retrieve_session("web", 1000, &s), 0);
	assert_int_equal(session_retrieve(s, &web[0], 1, &fd), -EIO);
	{
		int r = session_retrieve(s, &web[1], 1, &fd);

		assert_true(r == -EIO || (r == 0 && fd == FUZZ_FD_BASE + 3));
	}
	assert_int_equal(core_retrieve_session("db", 0, &s), 0);
	assert_int_equal(session_retrieve(s, &db[0], 1, &fd), -EIO);
	assert_int_equal(session_retrieve(s, &db[1], 1, &fd), -EIO);

	for (s = luo_core.sessions; s; s = s->next)
		for (size_t i = 0; i < s->nfiles; i++)
			s->files[i]->fd = -1;
	core_free_all();
	for (int i = 0; i < FUZZ_NFDS; i++)
		close(FUZZ_FD_BASE + i);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_setup_teardown(test_v1_fixture, reset, reset),
	cmocka_unit_test_setup_teardown(test_roundtrip, reset, reset),
	cmocka_unit_test_setup_teardown(test_refuse_corrupt, reset, reset),
	cmocka_unit_test_setup_teardown(test_wrong_type, reset, reset),
	cmocka_unit_test_setup_teardown(test_refuse_own_fd, reset, reset),
	cmocka_unit_test_setup_teardown(test_unknown_nodes, reset, reset),
	cmocka_unit_test_setup_teardown(test_random_corruption, reset, reset),
	cmocka_unit_test_setup_teardown(test_history, reset, reset),
};

LUO_TEST_MAIN("handover", tests, NULL, NULL)
