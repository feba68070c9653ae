// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * DOC: pipe and FIFO handler.
 *
 * An anonymous pipe or a named FIFO (S_IFIFO) crosses the update as the
 * same open end: the bytes buffered in it are never read nor copied, so
 * they come out byte for byte on the far side, and the other end, held by
 * whoever held it, stays connected. The payload records which end this is
 * (the O_ACCMODE of F_GETFL, with the other status flags), the pipe's
 * capacity (F_GETPIPE_SZ), its inode, and for a FIFO the path it was
 * opened by. preserve and freeze record; retrieve checks the fd is the same
 * pipe (inode), the same end with the same flags, and the same capacity.
 * A FIFO renamed or unlinked meanwhile is still the same FIFO: its path is
 * only reported, and one that cannot be read (renamed below more than
 * PATH_MAX bytes of directories) is recorded as unknown, never an error:
 * the owner of a FIFO cannot fail anyone's freeze with its name.
 *
 * Payload v1: struct pipe_record below, then path_len bytes of path (no
 * NUL; empty for an anonymous pipe).
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "core/luod.h"
#include "handlers/procfd.h"
#include "handlers/record.h"

#define PIPE_NAMED 0x1   /* a FIFO on a filesystem, not pipe:[ino] */
#define PIPE_DELETED 0x2 /* its path was unlinked when recorded */
#define PIPE_PATH_UNKNOWN 0x4 /* a FIFO whose link could not be read: no path recorded */
#define PIPE_PATH_MAX RECORD_PATH_MAX

struct pipe_record {
	uint64_t dev;
	uint64_t ino;
	uint32_t fl;        /* F_GETFL: O_RDONLY / O_WRONLY / O_RDWR, O_NONBLOCK, ... */
	uint32_t pipe_size; /* F_GETPIPE_SZ */
	uint32_t flags;     /* PIPE_* */
	uint32_t path_len;
};

struct pipe_state {
	struct pipe_record rec;
	char path[PIPE_PATH_MAX];
};

static bool pipe_can_preserve(int fd, const struct stat *st, struct luo_probe *probe)
{
	(void)fd;
	(void)probe; /* nothing to hand on */
	return S_ISFIFO(st->st_mode);
}

static int pipe_read(int fd, void *state)
{
	struct pipe_state *ps = state;
	struct stat st;
	int fl, sz, r;

	memset(&ps->rec, 0, sizeof(ps->rec));
	r = luo_fstat(fd, &st);
	if (r < 0)
		return r;
	if (!S_ISFIFO(st.st_mode))
		return -EBADFD;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return -errno;
	sz = fcntl(fd, F_GETPIPE_SZ);
	if (sz < 0)
		return -errno;
	r = procfd_link(fd, ps->path, sizeof(ps->path));
	ps->rec.dev = (uint64_t)st.st_dev;
	ps->rec.ino = (uint64_t)st.st_ino;
	ps->rec.fl = (uint32_t)fl;
	ps->rec.pipe_size = (uint32_t)sz;
	if (r < 0) {
		/* "pipe:[ino]" always fits: this is a FIFO on a path too long to read */
		ps->rec.flags |= PIPE_NAMED | PIPE_PATH_UNKNOWN;
		ps->path[0] = '\0';
	} else if (ps->path[0] == '/') {
		ps->rec.flags |= PIPE_NAMED;
		if (procfd_strip_deleted(ps->path))
			ps->rec.flags |= PIPE_DELETED;
		ps->rec.path_len = (uint32_t)strlen(ps->path);
	} else {
		ps->path[0] = '\0'; /* "pipe:[ino]" says nothing the inode does not */
	}
	return 0;
}

RECORD_STATE_CHECK(struct pipe_state);
static const struct record_kind pipe_kind = RECORD_KIND_WITH_PATH(struct pipe_state, pipe_read);

static int pipe_retrieve(struct luo_file *file)
{
	struct pipe_state want, have;
	int r = record_now(file, &want, &have);

	if (r < 0)
		return r;
	if (want.rec.dev != have.rec.dev || want.rec.ino != have.rec.ino ||
	    (want.rec.flags & PIPE_NAMED) != (have.rec.flags & PIPE_NAMED)) {
		log_warn("pipe token %llu: not the pipe that was preserved (inode %llu -> %llu)",
			 (unsigned long long)file->token, (unsigned long long)want.rec.ino,
			 (unsigned long long)have.rec.ino);
		return -EIO;
	}
	if (want.rec.fl != have.rec.fl || want.rec.pipe_size != have.rec.pipe_size) {
		log_warn("pipe token %llu: changed since it was frozen (flags %#x -> %#x, capacity %u -> %u)",
			 (unsigned long long)file->token, want.rec.fl, have.rec.fl,
			 want.rec.pipe_size, have.rec.pipe_size);
		return -EIO;
	}
	if (want.rec.flags & PIPE_NAMED)
		record_path_report(file, "fifo", want.path, want.rec.flags & PIPE_DELETED,
				   want.rec.flags & PIPE_PATH_UNKNOWN, have.path,
				   have.rec.flags & PIPE_DELETED, have.rec.flags & PIPE_PATH_UNKNOWN);
	return 0;
}

/* The bytes buffered in the pipe right now (either end can ask). */
static uint64_t pipe_size(const struct luo_file *file)
{
	int n;

	if (ioctl(file->fd, FIONREAD, &n) < 0 || n < 0)
		return 0;
	return (uint64_t)n;
}

const struct luo_file_handler luo_pipe_handler = {
	.close_never_blocks = true,
	.name = "pipe",
	.compatible = "luo,pipe-v1",
	.type = S_IFIFO,
	.can_preserve = pipe_can_preserve,
	.preserve = record_preserve,
	.freeze = record_freeze,
	.retrieve = pipe_retrieve,
	.size = pipe_size,
	.data = &pipe_kind,
};
