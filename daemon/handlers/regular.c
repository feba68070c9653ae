// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * DOC: regular file handler.
 *
 * Any S_IFREG file that is not a memfd (the memfd handler comes first in
 * the table): files on tmpfs, ext4, xfs, ..., including O_TMPFILE files
 * and files unlinked while open, whose /proc link ends in " (deleted)".
 * The file crosses the update as the same open file description, so its
 * contents, offset and flags are those the successor finds; nothing is
 * read or copied.
 *
 * The payload records the inode (st_dev, st_ino), the F_GETFL flags, the
 * offset (lseek SEEK_CUR) and the path at preserve and again at freeze.
 * retrieve checks the same inode, the same flags and, unless the file is
 * O_APPEND (where every write moves it), the same offset. The path is for
 * people: a file renamed or unlinked meanwhile is still the same file, so
 * a different path is reported, not refused; an unlinked or O_TMPFILE
 * file is known by its inode only. A path luod cannot read (renamed below
 * more than PATH_MAX bytes of directories, say) is recorded as unknown:
 * what the owner of a file does with its name never fails a freeze, and so
 * never stops anyone's update.
 *
 * memfd_secret(2) memory is S_IFREG too, but nothing of it can be checked
 * (no offset, no page luod may touch): it is refused as no handler's
 * (ENOENT), as the kernel's LUO refuses it.
 *
 * Payload v1: struct regular_record below, then path_len bytes of path
 * (no NUL, without the " (deleted)" suffix).
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include "core/luod.h"
#include "handlers/procfd.h"
#include "handlers/record.h"

#define REGULAR_DELETED 0x1
#define REGULAR_PATH_UNKNOWN 0x2 /* the link could not be read: no path recorded */
#define REGULAR_PATH_MAX RECORD_PATH_MAX

struct regular_record {
	uint64_t dev;
	uint64_t ino;
	int64_t offset;
	uint32_t fl;    /* F_GETFL */
	uint32_t flags; /* REGULAR_* */
	uint32_t path_len;
	uint32_t pad;
};

struct regular_state {
	struct regular_record rec;
	char path[REGULAR_PATH_MAX];
};

/*
 * A path on a filesystem: not an anonymous inode, whatever mode it shows
 * (their links are short: one too long to read is a path), and not
 * secret memory.
 */
static bool regular_can_preserve(int fd, const struct stat *st, struct luo_probe *probe)
{
	char path[REGULAR_PATH_MAX];
	int r;

	(void)probe; /* nothing to hand on */
	/*
	 * Secret memory has no llseek: ESPIPE. Not fstatfs(), which on FUSE
	 * asks the filesystem's server (STATFS) and waits for its answer.
	 */
	if (!S_ISREG(st->st_mode) || (lseek(fd, 0, SEEK_CUR) < 0 && errno == ESPIPE))
		return false;
	r = procfd_link(fd, path, sizeof(path));
	return r == -ENAMETOOLONG || (r == 0 && path[0] == '/');
}

static int regular_read(int fd, void *state)
{
	struct regular_state *rs = state;
	struct stat st;
	off_t off;
	int fl, r;

	memset(&rs->rec, 0, sizeof(rs->rec));
	r = luo_fstat(fd, &st);
	if (r < 0)
		return r;
	if (!S_ISREG(st.st_mode))
		return -EBADFD;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return -errno;
	off = lseek(fd, 0, SEEK_CUR);
	if (off < 0)
		return -errno;
	r = procfd_link(fd, rs->path, sizeof(rs->path));
	if (r < 0) {
		rs->path[0] = '\0';
		rs->rec.flags |= REGULAR_PATH_UNKNOWN;
	} else if (procfd_strip_deleted(rs->path)) {
		rs->rec.flags |= REGULAR_DELETED;
	}
	rs->rec.dev = (uint64_t)st.st_dev;
	rs->rec.ino = (uint64_t)st.st_ino;
	rs->rec.offset = (int64_t)off;
	rs->rec.fl = (uint32_t)fl;
	rs->rec.path_len = (uint32_t)strlen(rs->path);
	return 0;
}

RECORD_STATE_CHECK(struct regular_state);
static const struct record_kind regular_kind = RECORD_KIND_WITH_PATH(struct regular_state, regular_read);

static int regular_retrieve(struct luo_file *file)
{
	struct regular_state want, have;
	int r = record_now(file, &want, &have);

	if (r < 0)
		return r;
	if (want.rec.dev != have.rec.dev || want.rec.ino != have.rec.ino) {
		log_warn("file token %llu: not the file that was preserved (%s, inode %llu -> %s, inode %llu)",
			 (unsigned long long)file->token, procfd_path_shown(want.path),
			 (unsigned long long)want.rec.ino, procfd_path_shown(have.path),
			 (unsigned long long)have.rec.ino);
		return -EIO;
	}
	if (want.rec.fl != have.rec.fl ||
	    (!(want.rec.fl & O_APPEND) && want.rec.offset != have.rec.offset)) {
		log_warn("file token %llu: %s changed since it was frozen (flags %#o -> %#o, offset %lld -> %lld)",
			 (unsigned long long)file->token, procfd_path_shown(want.path), want.rec.fl, have.rec.fl,
			 (long long)want.rec.offset, (long long)have.rec.offset);
		return -EIO;
	}
	record_path_report(file, "file", want.path, want.rec.flags & REGULAR_DELETED,
			   want.rec.flags & REGULAR_PATH_UNKNOWN, have.path,
			   have.rec.flags & REGULAR_DELETED, have.rec.flags & REGULAR_PATH_UNKNOWN);
	return 0;
}

static uint64_t regular_size(const struct luo_file *file)
{
	struct stat st;

	if (luo_fstat(file->fd, &st) < 0 || st.st_size < 0)
		return 0;
	return (uint64_t)st.st_size;
}

const struct luo_file_handler luo_regular_handler = {
	.name = "file",
	.compatible = "luo,file-v1",
	.type = S_IFREG,
	.can_preserve = regular_can_preserve,
	.preserve = record_preserve,
	.freeze = record_freeze,
	.retrieve = regular_retrieve,
	.size = regular_size,
	.data = &regular_kind,
};
