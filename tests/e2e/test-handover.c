// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * luod started on a handover blob it did not write: built here with libfdt
 * and passed with --handover-fd like a predecessor would. Garbage, a
 * foreign FDT, a wrong version, a truncated blob, fds that are not what
 * the blob says (not open, stdio, the blob's own fd), a generation that
 * cannot count further: luod exits with status 1, says why with
 * "handover" in its log, and never starts serving. A memfd's fd that is
 * open but not a memfd is taken, and its retrieve fails with EIO. A well-formed format 1 blob (what an older
 * luod wrote) naming a memfd is taken: the session is retrievable with its
 * contents, with the memfd's payload in its old (v1, by name) and current
 * (v2, by inode) layout. Format 2 (records, checksum), written here
 * independently of luod's writer, is taken, and refused with any byte of
 * it flipped.
 */
#include <errno.h>
#include <fcntl.h>
#include <libfdt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "e2e.h"
#include "protocol.h"

/* fd numbers as the successor sees them */
#define BLOB_FD 50
#define FILE_FD 51
#define REPLY_FD 52

static struct luod_proc d;

static int setup(void **state)
{
	(void)state;
	memset(&d, 0, sizeof(d));
	snprintf(d.dir, sizeof(d.dir), "/tmp/luo-test.XXXXXX");
	assert_non_null(mkdtemp(d.dir));
	reap_track_dir(d.dir);
	snprintf(d.sock, sizeof(d.sock), "%s/luod.sock", d.dir);
	snprintf(d.state_dir, sizeof(d.state_dir), "%s/state", d.dir);
	snprintf(d.log, sizeof(d.log), "%s/luod.log", d.dir);
	return 0;
}

static int teardown(void **state)
{
	char cmd[PATH_MAX + 16];

	(void)state;
	if (d.pid > 0) {
		luod_stop(&d); /* removes the directory */
		return 0;
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d.dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

/* ---- blobs ---- */

struct blob_opts {
	const char *compatible;
	uint32_t version;
	bool sessions_node;
	bool with_file;
	uint32_t file_fd;
	const char *file_compatible;
	int reply_fd; /* -1: none */
	uint64_t memfd_size; /* what the payload claims */
	uint64_t memfd_ino;  /* "luo,memfd-v2" payloads: the inode they claim */
	uint64_t generation;
};

static const struct blob_opts good = {
	.compatible = "luo,handover-v1",
	.version = 1,
	.sessions_node = true,
	.with_file = true,
	.file_fd = FILE_FD,
	.file_compatible = "luo,memfd-v1",
	.reply_fd = -1,
	.memfd_size = 8192,
	.generation = 41,
};

#define CHECK(x) assert_int_equal((x), 0)

/* The memfd's payload in the layout o->file_compatible names; its length. */
static size_t memfd_payload(const struct blob_opts *o, unsigned char payload[32])
{
	static const char memfd_name[] = "guest";
	uint64_t size = o->memfd_size;
	uint32_t seals = F_SEAL_SEAL, name_len = sizeof(memfd_name) - 1, zero = 0;
	size_t payload_len;

	memcpy(payload, &size, 8);
	memcpy(payload + 8, &seals, 4);
	if (!strcmp(o->file_compatible, "luo,memfd-v2")) {
		/* v2: size, seals, zero, inode */
		memcpy(payload + 12, &zero, 4);
		memcpy(payload + 16, &o->memfd_ino, 8);
		payload_len = 24;
	} else {
		/* v1: size, seals, name length, name */
		memcpy(payload + 12, &name_len, 4);
		memcpy(payload + 16, memfd_name, name_len);
		payload_len = 16 + name_len;
	}
	return payload_len;
}

/* The v1 layout of doc/design.md and daemon/handover/handover_write.c before format 2, written independently. */
static size_t build_blob(void *buf, size_t cap, const struct blob_opts *o)
{
	unsigned char payload[32];
	size_t payload_len = memfd_payload(o, payload);

	CHECK(fdt_create(buf, (int)cap));
	CHECK(fdt_finish_reservemap(buf));
	CHECK(fdt_begin_node(buf, ""));
	CHECK(fdt_property_string(buf, "compatible", o->compatible));
	CHECK(fdt_property_u32(buf, "version", o->version));
	CHECK(fdt_property_u64(buf, "generation", o->generation));
	CHECK(fdt_begin_node(buf, "luod"));
	CHECK(fdt_property_u32(buf, "listen-fd", UINT32_MAX));
	CHECK(fdt_property_u32(buf, "reply-fd", (uint32_t)o->reply_fd));
	CHECK(fdt_property_u64(buf, "updates", 6));
	CHECK(fdt_end_node(buf));
	if (o->sessions_node) {
		CHECK(fdt_begin_node(buf, "sessions"));
		CHECK(fdt_begin_node(buf, "vm"));
		CHECK(fdt_property_string(buf, "name", "vm"));
		CHECK(fdt_property_u32(buf, "uid", (uint32_t)getuid()));
		CHECK(fdt_begin_node(buf, "files"));
		if (o->with_file) {
			CHECK(fdt_begin_node(buf, "77"));
			CHECK(fdt_property_string(buf, "compatible", o->file_compatible));
			CHECK(fdt_property_u64(buf, "token", 77));
			CHECK(fdt_property_u32(buf, "fd", o->file_fd));
			CHECK(fdt_property_u32(buf, "flags", 0));
			CHECK(fdt_property(buf, "payload", payload, (int)payload_len));
			CHECK(fdt_end_node(buf));
		}
		CHECK(fdt_end_node(buf));
		CHECK(fdt_end_node(buf));
		CHECK(fdt_begin_node(buf, "empty"));
		CHECK(fdt_property_string(buf, "name", "empty"));
		CHECK(fdt_property_u32(buf, "uid", (uint32_t)getuid()));
		CHECK(fdt_begin_node(buf, "files"));
		CHECK(fdt_end_node(buf));
		CHECK(fdt_end_node(buf));
		CHECK(fdt_end_node(buf));
	}
	CHECK(fdt_begin_node(buf, "participants"));
	CHECK(fdt_end_node(buf));
	CHECK(fdt_begin_node(buf, "flb"));
	CHECK(fdt_end_node(buf));
	CHECK(fdt_end_node(buf));
	CHECK(fdt_finish(buf));
	return fdt_totalsize(buf);
}

/*
 * Format 2's checksum as daemon/handover/handover_write.c documents it: 8 bytes a
 * step, h = (h ^ w) * K, h ^= h >> 29, from a seed mixed with the length;
 * the checksum's own 8 bytes count as zero. Written again here on purpose.
 */
static uint64_t checksum(const unsigned char *p, size_t len, size_t hole)
{
	uint64_t h = 0x6c756f2d68616e64ull ^ len;

	for (size_t off = 0; off < len; off += 8) {
		unsigned char b[8] = { 0 };
		uint64_t w;

		for (size_t i = 0; i < 8 && off + i < len; i++)
			b[i] = off + i >= hole && off + i < hole + 8 ? 0 : p[off + i];
		memcpy(&w, b, 8);
		h = (h ^ w) * 0x9e3779b97f4a7c15ull;
		h ^= h >> 29;
	}
	return h;
}

/* Format 2, written independently: one session "vm" with the memfd as one 24-byte record. */
static size_t build_blob_v2(void *buf, size_t cap, const struct blob_opts *o)
{
	unsigned char payload[32], rec[24];
	size_t payload_len = memfd_payload(o, payload);
	fdt64_t token = cpu_to_fdt64(77);
	fdt32_t fd = cpu_to_fdt32(o->file_fd), off = cpu_to_fdt32(0),
		plen = cpu_to_fdt32((uint32_t)payload_len);
	const void *sum;
	int len;

	memcpy(rec, &token, 8);
	memcpy(rec + 8, &fd, 4);
	memset(rec + 12, 0, 4); /* handler 0, flags 0 */
	memcpy(rec + 16, &off, 4);
	memcpy(rec + 20, &plen, 4);
	CHECK(fdt_create(buf, (int)cap));
	CHECK(fdt_finish_reservemap(buf));
	CHECK(fdt_begin_node(buf, ""));
	CHECK(fdt_property_u64(buf, "checksum", 0));
	CHECK(fdt_property_string(buf, "compatible", "luo,handover-v2"));
	CHECK(fdt_property_u32(buf, "version", 2));
	CHECK(fdt_property_u64(buf, "generation", o->generation));
	CHECK(fdt_begin_node(buf, "luod"));
	CHECK(fdt_property_u32(buf, "listen-fd", UINT32_MAX));
	CHECK(fdt_property_u32(buf, "reply-fd", (uint32_t)o->reply_fd));
	CHECK(fdt_property_u64(buf, "updates", 6));
	CHECK(fdt_end_node(buf));
	CHECK(fdt_begin_node(buf, "sessions"));
	CHECK(fdt_begin_node(buf, "vm"));
	CHECK(fdt_property_string(buf, "name", "vm"));
	CHECK(fdt_property_u32(buf, "uid", (uint32_t)getuid()));
	CHECK(fdt_property_string(buf, "handlers", o->file_compatible));
	CHECK(fdt_property(buf, "files", rec, sizeof(rec)));
	CHECK(fdt_property(buf, "payloads", payload, (int)payload_len));
	CHECK(fdt_end_node(buf));
	CHECK(fdt_end_node(buf));
	CHECK(fdt_end_node(buf));
	CHECK(fdt_finish(buf));
	sum = fdt_getprop(buf, 0, "checksum", &len);
	assert_non_null(sum);
	CHECK(fdt_setprop_inplace_u64(buf, 0, "checksum",
				      checksum(buf, fdt_totalsize(buf),
					       (size_t)((const char *)sum - (const char *)buf))));
	return fdt_totalsize(buf);
}

static int blob_memfd(const void *data, size_t len)
{
	int fd = memfd_create("handover", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	assert_true(fd >= 0);
	if (len)
		assert_int_equal(write(fd, data, len), (ssize_t)len);
	return fd;
}

/* The memfd the blob names: 8192 bytes of pattern, sealed against sealing. */
static int guest_memfd(void)
{
	int fd = memfd_pattern("guest", 8192, 4242);

	assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL), 0);
	return fd;
}

/* ---- running luod on a blob ---- */

/*
 * Start luod with blob at BLOB_FD, file at FILE_FD and reply at REPLY_FD
 * (each -1: none); its stderr goes to err, a file or a pipe.
 */
static pid_t spawn(int blob, int file, int reply, int handover_fd, int err)
{
	char arg[32];
	const char *luod = getenv("LUOD");
	pid_t pid;

	assert_non_null(luod);
	snprintf(arg, sizeof(arg), "--handover-fd=%d", handover_fd);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* dup2 clears close-on-exec on the target, as luod's update does */
		if (dup2(err, 2) < 0)
			_exit(126);
		if ((blob >= 0 && dup2(blob, BLOB_FD) < 0) || (file >= 0 && dup2(file, FILE_FD) < 0) ||
		    (reply >= 0 && dup2(reply, REPLY_FD) < 0))
			_exit(126);
		execl(luod, luod, "--socket", d.sock, "--state-dir", d.state_dir, arg, (char *)NULL);
		_exit(127);
	}
	return pid;
}

static pid_t spawn_logged(int blob, int file, int reply)
{
	int log = open(d.log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	pid_t pid;

	assert_true(log >= 0);
	pid = spawn(blob, file, reply, BLOB_FD, log);
	close(log);
	return pid;
}

static bool log_has(const char *what)
{
	static char buf[65536];
	int fd = open(d.log, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return false;
	buf[n] = '\0';
	return strstr(buf, what) != NULL;
}

/*
 * luod must refuse: exit status 1, the reason in its log, no socket served.
 * Its stderr is read to the end: EOF means it exited; a "serving" line
 * means it took the blob, and the test fails at once instead of hanging.
 */
static void expect_refused(int blob, int file, int handover_fd, const char *reason)
{
	char log[16384];
	size_t used = 0;
	int p[2], fd;
	pid_t pid;

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid = spawn(blob, file, -1, handover_fd, p[1]);
	close(p[1]);
	for (;;) {
		ssize_t n = read(p[0], log + used, sizeof(log) - 1 - used);

		if (n <= 0)
			break;
		used += (size_t)n;
		log[used] = '\0';
		if (strstr(log, "serving ")) {
			kill(pid, SIGKILL);
			e2e_wait(pid);
			fail_msg("luod took a blob it must refuse (%s):\n%s", reason, log);
		}
	}
	log[used] = '\0';
	close(p[0]);
	assert_int_equal(e2e_wait(pid), 1);
	if (!strstr(log, "handover") || !strstr(log, reason))
		fail_msg("no \"handover\" and \"%s\" in luod's log:\n%s", reason, log);
	fd = luo_open(d.sock);
	assert_true(fd < 0);
}

/* A blob built from o (format 2 or 1) refused with reason, the memfd file at FILE_FD. */
static void refused_as(const struct blob_opts *o, bool v2, int file, const char *reason)
{
	char buf[8192];
	size_t len = v2 ? build_blob_v2(buf, sizeof(buf), o) : build_blob(buf, sizeof(buf), o);
	int blob = blob_memfd(buf, len);

	expect_refused(blob, file, BLOB_FD, reason);
	close(blob);
}

static void test_garbage(void **state)
{
	unsigned char junk[4096];
	uint32_t x = 12345;
	int blob;

	(void)state;
	for (size_t i = 0; i < sizeof(junk); i++) {
		x = x * 1103515245 + 12345;
		junk[i] = (unsigned char)(x >> 16);
	}
	blob = blob_memfd(junk, sizeof(junk));
	expect_refused(blob, -1, BLOB_FD, "not a flattened device tree");
	close(blob);

	/* empty, and a fd that is not open at all */
	blob = blob_memfd(NULL, 0);
	expect_refused(blob, -1, BLOB_FD, "is not a handover blob");
	close(blob);
	expect_refused(-1, -1, 99, "fd 99");
}

static void test_foreign_fdt(void **state)
{
	struct blob_opts o = good;
	char buf[8192];
	size_t len;
	int blob, file = guest_memfd();

	(void)state;
	o.compatible = "acme,other-handover";
	len = build_blob(buf, sizeof(buf), &o);
	assert_int_equal(fdt_check_full(buf, len), 0); /* valid as an FDT */
	blob = blob_memfd(buf, len);
	expect_refused(blob, file, BLOB_FD, "not a luo handover");
	close(blob);

	o = good;
	o.version = 2;
	len = build_blob(buf, sizeof(buf), &o);
	blob = blob_memfd(buf, len);
	expect_refused(blob, file, BLOB_FD, "version 2");
	close(blob);

	o = good;
	o.sessions_node = false;
	len = build_blob(buf, sizeof(buf), &o);
	blob = blob_memfd(buf, len);
	expect_refused(blob, file, BLOB_FD, "no sessions node");
	close(blob);

	/* a good blob cut short */
	len = build_blob(buf, sizeof(buf), &good);
	blob = blob_memfd(buf, len / 2);
	expect_refused(blob, file, BLOB_FD, "truncated");
	close(blob);
	/* a good blob with one byte of its structure flipped */
	len = build_blob(buf, sizeof(buf), &good);
	buf[fdt_off_dt_struct(buf) + 3] ^= 0x5a; /* the first tag */
	blob = blob_memfd(buf, len);
	expect_refused(blob, file, BLOB_FD, "handover: ");
	close(blob);
	close(file);
}

/* Fds that are not what the blob says. */
static void test_wrong_fds(void **state)
{
	struct blob_opts o = good;
	char buf[8192];
	size_t len;
	int blob, file = guest_memfd();

	(void)state;
	/* the file's fd is not open in luod */
	len = build_blob(buf, sizeof(buf), &good);
	blob = blob_memfd(buf, len);
	expect_refused(blob, -1, BLOB_FD, "fd 51 is not open");
	close(blob);
	refused_as(&(struct blob_opts){ .compatible = "luo,handover-v2", .file_fd = FILE_FD,
					.file_compatible = "luo,memfd-v2", .reply_fd = -1,
					.memfd_size = 8192, .generation = 41 },
		   true, -1, "fd 51 is not open");
	/* stdio and the blob's own fd cannot be preserved files */
	o.file_fd = 2;
	refused_as(&o, false, file, "fd 2 out of range");
	/* the blob's own fd: the successor closes it once read (issue 15), in either format */
	o.file_fd = BLOB_FD;
	refused_as(&o, false, file, "fd 50 is the handover blob's own");
	refused_as(&o, true, file, "fd 50 is the handover blob's own");
	/* a generation that would wrap to 0 */
	o = good;
	o.generation = UINT64_MAX;
	refused_as(&o, false, file, "generation 18446744073709551615");
	refused_as(&o, true, file, "generation 18446744073709551615");
	/* a handler nobody has */
	o = good;
	o.file_compatible = "luo,kvm-vm-v1";
	refused_as(&o, false, file, "no handler for \"luo,kvm-vm-v1\"");
	/* nothing was closed by accident: the memfd is still whole here */
	assert_true(memfd_pattern_ok(file, 8192, 4242));
	close(file);
}

/* The control: a well-formed blob is taken, and luod answers on the reply fd once it serves. */
static void test_good_blob(void **state)
{
	unsigned char msg[sizeof(struct luo_msg_hdr) + LUO_MSG_MAX];
	struct luo_msg_update_reply rep;
	struct luo_msg_hdr hdr;
	char buf[8192];
	size_t len, nfds;
	int blob, file = guest_memfd(), sv[2], dev, s, fd, fds[1];
	struct blob_opts o = good;
	ssize_t n;

	(void)state;
	o.reply_fd = REPLY_FD;
	len = build_blob(buf, sizeof(buf), &o);
	blob = blob_memfd(buf, len);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	d.pid = spawn_logged(blob, file, sv[1]);
	close(sv[1]);
	close(blob);
	/* the successor's answer: it serves from here on */
	n = luo_msg_recv(sv[0], msg, sizeof(msg), fds, 1, &nfds);
	assert_true(n >= (ssize_t)(sizeof(hdr) + sizeof(rep)));
	memcpy(&hdr, msg, sizeof(hdr));
	memcpy(&rep, msg + sizeof(hdr), sizeof(rep));
	assert_int_equal(hdr.op, LUO_OP_UPDATE);
	assert_int_equal(hdr.result, 0);
	assert_int_equal(rep.generation, 42);
	assert_int_equal(rep.sessions, 2);
	assert_int_equal(rep.files, 1);
	assert_int_equal(rep.successor_pid, d.pid);
	close(sv[0]);

	assert_true(luod_alive(&d));
	assert_true(log_has("handover: generation 42"));
	e2e_assert_state(&d, "updated");
	assert_int_equal(luod_status_field(&d, "generation"), 42);
	assert_int_equal(luod_status_field(&d, "updates"), 7);
	dev = e2e_open(&d);
	s = luo_retrieve_session(dev, "vm");
	assert_true(s >= 0);
	fd = luo_session_retrieve_fd(s, 77);
	assert_true(fd >= 0);
	assert_true(memfd_pattern_ok(fd, 8192, 4242));
	close(fd);
	assert_int_equal(luo_session_finish(s), 0);
	close(s);
	s = luo_retrieve_session(dev, "empty");
	assert_true(s >= 0);
	assert_int_equal(luo_session_finish(s), 0);
	close(s);
	e2e_assert_state(&d, "normal");
	close(dev);
	close(file);
}

/*
 * luod started on the blob (naming REPLY_FD as its requester) with file at
 * FILE_FD; returns once it has answered there, so it serves.
 */
static void serve_blob(const char *buf, size_t len, int file)
{
	unsigned char msg[sizeof(struct luo_msg_hdr) + LUO_MSG_MAX];
	int blob = blob_memfd(buf, len), sv[2], fds[1];
	size_t nfds;

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	d.pid = spawn_logged(blob, file, sv[1]);
	close(sv[1]);
	close(blob);
	assert_true(luo_msg_recv(sv[0], msg, sizeof(msg), fds, 1, &nfds) > 0);
	close(sv[0]);
}

/* A memfd changed behind luod's back (payload says another size): retrieve fails with EIO, twice. */
static void test_memfd_mismatch(void **state)
{
	struct blob_opts o = good;
	char buf[8192];
	int file = guest_memfd(), dev, s;

	(void)state;
	o.memfd_size = 4096;
	o.reply_fd = REPLY_FD;
	serve_blob(buf, build_blob(buf, sizeof(buf), &o), file);
	dev = e2e_open(&d);
	s = luo_retrieve_session(dev, "vm");
	assert_true(s >= 0);
	assert_int_equal(luo_session_retrieve_fd(s, 77), -EIO);
	assert_int_equal(luo_session_retrieve_fd(s, 77), -EIO);
	assert_int_equal(luo_session_finish(s), 0);
	close(s);
	close(dev);
	close(file);
}

/*
 * Token 77 of session "vm" from the luod serving a blob: the retrieve's
 * result (an fd or -errno) given to check, the session finished, and a fresh
 * luod and directory for the next round.
 */
static void retrieve_77(void **state, void (*check)(int fd))
{
	int dev = e2e_open(&d), s = luo_retrieve_session(dev, "vm");

	assert_true(s >= 0);
	check(luo_session_retrieve_fd(s, 77));
	assert_int_equal(luo_session_finish(s), 0);
	close(s);
	close(dev);
	assert_true(luod_alive(&d));
	assert_int_equal(teardown(state), 0);
	assert_int_equal(setup(state), 0);
}

static void check_good(int fd)
{
	assert_true(fd >= 0);
	assert_true(memfd_pattern_ok(fd, 8192, 4242));
	close(fd);
}

static void check_wrong_inode(int fd)
{
	assert_int_equal(fd, -EIO);
	assert_true(log_has("inode"));
}

static void check_not_memfd(int fd)
{
	assert_int_equal(fd, -EIO);
	assert_true(log_has("memfd token 77: the fd is not a memfd"));
}

/*
 * The current memfd payload (v2) identifies the memfd by inode: the right
 * one is handed out, and one alike in size and seals but another inode
 * (the handover named the wrong fd) fails with EIO.
 */
static void test_memfd_v2(void **state)
{
	struct blob_opts o = good;
	char buf[8192];
	int file = guest_memfd();
	struct stat st;

	assert_int_equal(fstat(file, &st), 0);
	o.file_compatible = "luo,memfd-v2";
	o.reply_fd = REPLY_FD;
	for (int wrong = 0; wrong < 2; wrong++) {
		o.memfd_ino = (uint64_t)st.st_ino + (uint64_t)wrong;
		serve_blob(buf, build_blob(buf, sizeof(buf), &o), file);
		retrieve_77(state, wrong ? check_wrong_inode : check_good);
	}
	close(file);
}

/*
 * The file's fd is open but is not a memfd (/dev/null): the successor
 * takes the blob (the type is checked where retrieve compares the fd with
 * its record, not at start-up) and that retrieve fails with EIO, in
 * either format, while luod goes on serving.
 */
static void test_wrong_type(void **state)
{
	struct blob_opts o = good;
	char buf[8192];
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	assert_true(null >= 0);
	o.reply_fd = REPLY_FD;
	for (int v2 = 0; v2 < 2; v2++) {
		o.file_compatible = v2 ? "luo,memfd-v2" : "luo,memfd-v1";
		serve_blob(buf, v2 ? build_blob_v2(buf, sizeof(buf), &o) : build_blob(buf, sizeof(buf), &o),
			   null);
		retrieve_77(state, check_not_memfd);
	}
	close(null);
}

/*
 * Format 2: taken as written (the session and its memfd come back), and
 * refused with any one byte of it flipped: most flips break the structure
 * or a rule, the checksum catches the rest (a token, an fd, a payload
 * byte, a uid). Flips that leave a valid FDT are counted: the checksum
 * must have been what refused some.
 */
static void test_format2(void **state)
{
	struct blob_opts o = good;
	char buf[8192];
	size_t len;
	int blob, file = guest_memfd(), dev, s, fd, by_sum = 0;

	o.reply_fd = REPLY_FD;
	serve_blob(buf, build_blob_v2(buf, sizeof(buf), &o), file);
	dev = e2e_open(&d);
	s = luo_retrieve_session(dev, "vm");
	assert_true(s >= 0);
	fd = luo_session_retrieve_fd(s, 77);
	assert_true(fd >= 0);
	assert_true(memfd_pattern_ok(fd, 8192, 4242));
	close(fd);
	assert_int_equal(luo_session_finish(s), 0);
	close(s);
	close(dev);
	assert_int_equal(teardown(state), 0);
	assert_int_equal(setup(state), 0);

	/* every 7th byte (a luod start each): the whole blob is covered by the unit test */
	o.reply_fd = -1;
	len = build_blob_v2(buf, sizeof(buf), &o);
	for (size_t i = 0; i < len; i += 7) {
		char copy[8192];

		memcpy(copy, buf, len);
		copy[i] ^= 0x01;
		if (fdt_check_full(copy, len) == 0 && !strcmp(fdt_getprop(copy, 0, "compatible", NULL) ?: "",
							       "luo,handover-v2"))
			by_sum++;
		blob = blob_memfd(copy, len);
		expect_refused(blob, file, BLOB_FD, "handover: ");
		close(blob);
	}
	assert_true(by_sum > 0);
	close(file);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
	cmocka_unit_test_setup_teardown(test_foreign_fdt, setup, teardown),
	cmocka_unit_test_setup_teardown(test_wrong_fds, setup, teardown),
	cmocka_unit_test_setup_teardown(test_wrong_type, setup, teardown),
	cmocka_unit_test_setup_teardown(test_good_blob, setup, teardown),
	cmocka_unit_test_setup_teardown(test_memfd_mismatch, setup, teardown),
	cmocka_unit_test_setup_teardown(test_memfd_v2, setup, teardown),
	cmocka_unit_test_setup_teardown(test_format2, setup, teardown),
};

LUO_TEST_MAIN("handover", tests, NULL, NULL)
