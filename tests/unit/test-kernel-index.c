// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The kernel backend's parts that need no LUO kernel: the index it keeps at
 * token 0 of its kernel session (what the writer puts in, the reader gives
 * back, file by file; a corrupt or foreign blob is refused whole, before
 * any session is made), the listener a kexec re-creates (same address,
 * options and backlog, accepting again), and a file that did not cross
 * (ENOLINK for good, FINISH still ends the session). The kernel itself is exercised in
 * the reference VM (tests/kernel/check-kernel.py).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libfdt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "core/luod.h"
#include "core/state.h" /* the core's own state: these test the core */
#include "backend/kernel_index.h"
#include "backend/relisten.h"
#include "report/history.h"

/* the core knows the fd types only once they are registered, as luod's main() does */
__attribute__((constructor)) static void register_handlers(void)
{
	handlers_register();
}

static int reset(void **state)
{
	(void)state;
	core_free_all();
	luo_core.state = LUO_STATE_NORMAL;
	luo_core.generation = 7;
	luo_core.updates = 2;
	return 0;
}

static int tcp_listener(int backlog, struct sockaddr_in *ret)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
	assert_int_equal(setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)), 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, backlog), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	if (ret)
		*ret = a;
	return fd;
}

/* The classification the backend makes, fixed here: memfd kernel, socket re-created, else lost. */
static void classify(const struct luo_file *f, struct kindex_file *kf, void *ctx)
{
	(void)ctx;
	memset(kf, 0, sizeof(*kf));
	kf->token = f->token;
	kf->compatible = f->handler->compatible;
	kf->payload = f->payload;
	kf->payload_len = f->payload_len;
	if (f->handler == &luo_memfd_handler) {
		kf->where = LUO_WHERE_KERNEL;
		kf->ktoken = 100 + f->token;
	} else if (f->handler == &luo_socket_handler) {
		kf->where = LUO_WHERE_RECREATED;
		assert_int_equal(relisten_record(f->fd, &kf->listen), 0);
	} else {
		kf->where = LUO_WHERE_LOST;
	}
}

#define MAXF 8

struct seen {
	int sessions;
	char name[LUO_NAME_MAX];
	uid_t uid;
	int nfiles;
	struct kindex_file f[MAXF];
	unsigned char payload[MAXF][2048];
	uint64_t generation, updates, written;
	bool done;
};

static int on_session(const char *name, uid_t uid, void *ctx)
{
	struct seen *sn = ctx;

	sn->sessions++;
	snprintf(sn->name, sizeof(sn->name), "%s", name);
	sn->uid = uid;
	return 0;
}

static void on_file(const struct kindex_file *kf, void *ctx)
{
	struct seen *sn = ctx;

	assert_true(sn->nfiles < MAXF);
	assert_true(kf->payload_len <= sizeof(sn->payload[0]));
	sn->f[sn->nfiles] = *kf;
	memcpy(sn->payload[sn->nfiles], kf->payload, kf->payload_len);
	sn->f[sn->nfiles].payload = sn->payload[sn->nfiles];
	sn->f[sn->nfiles].compatible = NULL; /* points into the blob */
	sn->nfiles++;
}

static void on_done(const struct kindex_head *head, void *ctx)
{
	struct seen *sn = ctx;

	sn->generation = head->generation;
	sn->updates = head->updates;
	sn->written = head->written_realtime_ns;
	sn->done = true;
}

static const struct kindex_reader reader = { on_session, on_file, on_done };

/* A session of a memfd, a listener and a pipe, and an incoming one: their index as a blob. */
static void *make_index(size_t *len, int *listen_fd)
{
	struct luo_session *s;
	int m = memfd_pattern("kindex", 8192, 3), l = tcp_listener(7, NULL), pp[2], fd;
	uint64_t tokens[3] = { 1, 2, 3 };
	int fds[3];
	struct stat st;
	void *blob;

	assert_int_equal(pipe2(pp, O_CLOEXEC), 0);
	fds[0] = m;
	fds[1] = l;
	fds[2] = pp[0];
	assert_int_equal(core_create_session("web", 1000, &s), 0);
	s->handle = &s;
	assert_int_equal(session_preserve(s, fds, tokens, 3), 0);
	close(pp[1]);
	/* an incoming session is not in it: as in luod's own update, what was not retrieved goes */
	assert_int_equal(session_new("old", 0, true, &s), 0);
	core_add_session(s);
	*listen_fd = l;
	fd = kindex_write(classify, NULL);
	assert_true(fd >= 0);
	/* sealed: nobody changes the index once it is written */
	assert_int_equal(fcntl(fd, F_GET_SEALS) & (F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK),
			 F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK);
	assert_int_equal(fstat(fd, &st), 0);
	*len = (size_t)st.st_size;
	blob = malloc(*len);
	assert_non_null(blob);
	assert_int_equal(pread(fd, blob, *len, 0), (ssize_t)*len);
	close(fd);
	return blob;
}

static void test_roundtrip(void **state)
{
	struct seen sn = { 0 };
	struct luo_session *s;
	size_t len;
	int l;
	void *blob = make_index(&len, &l);

	(void)state;
	s = core_find_session("web");
	assert_int_equal(kindex_read(blob, len, &reader, &sn), 0);
	assert_true(sn.done);
	assert_int_equal(sn.generation, 7);
	assert_int_equal(sn.updates, 2);
	assert_true(sn.written > 0 && sn.written <= realtime_ns());
	assert_int_equal(sn.sessions, 1);
	assert_string_equal(sn.name, "web");
	assert_int_equal(sn.uid, 1000);
	assert_int_equal(sn.nfiles, 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(sn.f[i].token, (uint64_t)i + 1);
		assert_int_equal(sn.f[i].payload_len, s->files[i]->payload_len);
		assert_memory_equal(sn.f[i].payload, s->files[i]->payload, sn.f[i].payload_len);
	}
	assert_int_equal(sn.f[0].where, LUO_WHERE_KERNEL);
	assert_int_equal(sn.f[0].ktoken, 101);
	assert_int_equal(sn.f[1].where, LUO_WHERE_RECREATED);
	assert_int_equal(sn.f[2].where, LUO_WHERE_LOST);
	{
		struct relisten_record rec;

		assert_int_equal(relisten_record(l, &rec), 0);
		assert_memory_equal(&sn.f[1].listen, &rec, sizeof(rec));
	}
	free(blob);
}

static void test_refuse_corrupt(void **state)
{
	struct seen sn;
	size_t len;
	int l;
	unsigned char *blob = make_index(&len, &l), *bad = malloc(len);

	(void)state;
	assert_non_null(bad);
	/* truncated, foreign, empty */
	memset(&sn, 0, sizeof(sn));
	assert_int_equal(kindex_read(blob, len / 2, &reader, &sn), -EBADMSG);
	assert_int_equal(kindex_read(blob, 10, &reader, &sn), -EBADMSG);
	memcpy(bad, blob, len);
	{
		int off = fdt_path_offset(bad, "/");

		assert_true(off >= 0);
		assert_int_equal(fdt_setprop_inplace(bad, off, "compatible", "luo,kernel-index-v9",
						     sizeof("luo,kernel-index-v9")), 0);
	}
	assert_int_equal(kindex_read(bad, len, &reader, &sn), -EBADMSG);
	assert_int_equal(sn.sessions, 0);
	assert_false(sn.done);
	/* a file whose where is out of range, or a kernel file without its token */
	memcpy(bad, blob, len);
	{
		int off = fdt_path_offset(bad, "/sessions/s0/files/f2");

		assert_true(off >= 0);
		assert_int_equal(fdt_setprop_inplace_u32(bad, off, "where", 9), 0);
	}
	assert_int_equal(kindex_read(bad, len, &reader, &sn), -EBADMSG);
	memcpy(bad, blob, len);
	{
		int off = fdt_path_offset(bad, "/sessions/s0/files/f0");

		assert_true(off >= 0);
		assert_int_equal(fdt_nop_property(bad, off, "ktoken"), 0);
	}
	assert_int_equal(kindex_read(bad, len, &reader, &sn), -EBADMSG);
	assert_int_equal(sn.sessions, 0); /* refused whole: not one session was made */
	/* random bytes flipped: refused or read, never more than it holds */
	srand(19);
	for (int i = 0; i < 2000; i++) {
		struct seen any = { 0 };
		int r;

		memcpy(bad, blob, len);
		for (int k = 0; k < 4; k++)
			bad[(size_t)rand() % len] ^= (unsigned char)(1 + rand() % 255);
		r = kindex_read(bad, len, &reader, &any);
		assert_true(r == 0 || r == -EBADMSG);
		assert_true(any.nfiles <= 3 && any.sessions <= 1);
		if (r < 0)
			assert_int_equal(any.sessions, 0);
	}
	free(bad);
	free(blob);
}

/* The listener a kexec re-creates: same address, options and backlog; it accepts. */
static void test_relisten(void **state)
{
	struct sockaddr_in a, b;
	struct relisten_record rec, again;
	socklen_t len = sizeof(b);
	int l = tcp_listener(7, &a), n, v = 0, c;
	socklen_t vl = sizeof(v);

	(void)state;
	assert_true(relisten_candidate(l));
	assert_int_equal(relisten_record(l, &rec), 0);
	/* the backlog from the kernel's socket diagnostics, or SOMAXCONN without them */
	assert_true(rec.backlog == 7 || rec.backlog == SOMAXCONN);
	assert_int_equal(rec.reuseaddr, 1);
	assert_int_equal(rec.nodelay, 1);
	close(l);
	n = relisten_create(&rec);
	assert_true(n >= 0);
	assert_true(fcntl(n, F_GETFD) & FD_CLOEXEC);
	assert_int_equal(getsockname(n, (struct sockaddr *)&b, &len), 0);
	assert_int_equal(b.sin_port, a.sin_port);
	assert_int_equal(b.sin_addr.s_addr, a.sin_addr.s_addr);
	assert_int_equal(getsockopt(n, IPPROTO_TCP, TCP_NODELAY, &v, &vl), 0);
	assert_int_equal(v, 1);
	assert_int_equal(relisten_record(n, &again), 0);
	assert_int_equal(again.backlog, rec.backlog);
	assert_memory_equal(&again.addr, &rec.addr, sizeof(rec.addr));
	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(connect(c, (struct sockaddr *)&b, sizeof(b)), 0);
	{
		int x = accept(n, NULL, NULL);

		assert_true(x >= 0);
		close(x);
	}
	close(c);
	/* the port is taken now: a second one cannot be made, and says why */
	assert_int_equal(relisten_create(&rec), -EADDRINUSE);
	close(n);
	/* a record that is not a listener's is refused before any socket */
	rec.family = AF_UNIX;
	assert_int_equal(relisten_create(&rec), -EINVAL);
}

static void test_relisten_candidate(void **state)
{
	struct sockaddr_in a;
	int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), sp[2];
	int l = tcp_listener(4, &a), c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int fresh = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
	assert_int_equal(connect(c, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_false(relisten_candidate(u));      /* UDP */
	assert_false(relisten_candidate(sp[0]));  /* UNIX */
	assert_false(relisten_candidate(c));      /* connected TCP */
	assert_false(relisten_candidate(fresh));  /* TCP, never listened */
	assert_true(relisten_candidate(l));
	close(u), close(sp[0]), close(sp[1]), close(l), close(c), close(fresh);
}

/*
 * A file that did not cross a kexec, as the backend rebuilds it: its token
 * stays, every retrieve says ENOLINK (alone or in a batch, which then
 * hands out nothing), and FINISH releases it without its handler.
 */
static void test_lost_file(void **state)
{
	struct luo_session *s, *got;
	struct luo_file *f;
	unsigned char payload[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	uint64_t both[2] = { 3, 1 };
	int fds[2] = { -7, -7 }, fd, m = memfd_pattern("carried", 4096, 5);
	struct stat st;

	(void)state;
	assert_int_equal(session_new("after-kexec", 1000, true, &s), 0);
	core_add_session(s);
	assert_int_equal(file_restore_lost(s, 3, &luo_pipe_handler, payload, sizeof(payload),
					   -ENOLINK, &f), 0);
	assert_int_equal(f->where, LUO_WHERE_LOST);
	assert_int_equal(f->fd, -1);
	assert_int_equal(session_add_file(s, f), 0);
	/* a memfd that did cross, with the record its handler makes of it */
	{
		struct luo_file tmp = { .session = s, .handler = &luo_memfd_handler, .token = 1,
					.fd = m };
		struct luo_probe probe;

		assert_int_equal(fstat(m, &st), 0);
		tmp.dev = st.st_dev;
		tmp.ino = st.st_ino;
		assert_true(luo_memfd_handler.can_preserve(m, &st, &probe));
		assert_int_equal(luo_memfd_handler.preserve(&tmp, &probe), 0);
		assert_int_equal(file_restore(s, m, 1, &luo_memfd_handler, tmp.payload,
					      tmp.payload_len, &f), 0);
		free(tmp.payload);
		assert_int_equal(session_add_file(s, f), 0);
	}
	assert_int_equal(core_retrieve_session("after-kexec", 1000, &got), 0);
	assert_ptr_equal(got, s);
	assert_int_equal(session_retrieve(s, &both[0], 1, &fd), -ENOLINK);
	assert_int_equal(session_retrieve(s, &both[0], 1, &fd), -ENOLINK); /* for good */
	assert_int_equal(session_retrieve(s, both, 2, fds), -ENOLINK);
	assert_int_equal(fds[0], -7); /* untouched on failure */
	assert_int_equal(session_find_file(s, 3)->retrieve_error, -ENOLINK);
	assert_int_equal(session_retrieve(s, &both[1], 1, &fd), 0);
	assert_int_equal(fd, m); /* luod's copy, to send */
	assert_true(memfd_pattern_ok(fd, 4096, 5));
	/* RENEW cannot keep what never came: refused, the session stays incoming */
	assert_int_equal(session_renew(s), -ENOLINK);
	assert_true(s->incoming);
	assert_int_equal(session_finish(s), 0);
	assert_null(core_find_session("after-kexec"));
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_setup_teardown(test_lost_file, reset, reset),
	cmocka_unit_test_setup_teardown(test_roundtrip, reset, reset),
	cmocka_unit_test_setup_teardown(test_refuse_corrupt, reset, reset),
	cmocka_unit_test_setup_teardown(test_relisten, reset, reset),
	cmocka_unit_test_setup_teardown(test_relisten_candidate, reset, reset),
};

LUO_TEST_MAIN("kernel-index", tests, NULL, NULL)
