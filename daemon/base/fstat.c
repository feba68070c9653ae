// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * DOC: fstat() of a client's fd that never waits for its filesystem.
 *
 * fstat() of a file on FUSE asks the filesystem's server for attributes
 * the kernel no longer holds (or never kept: attr_valid 0), and waits
 * for the answer; the server can be any user's (fusermount with
 * allow_other), and one that never answers would stop luod's loop.
 * statx() with AT_STATX_DONT_SYNC answers from the inode the kernel has
 * (fs/fuse/dir.c, fuse_update_get_attr(): no GETATTR is sent), as does
 * every local filesystem anyway. What luod reads of it (type, device,
 * inode, size for reports) is what the kernel knows of the open file.
 * A FUSE mount of another user namespace refuses luod any attribute
 * (EACCES, fuse_allow_current_process()): such files are not preserved.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "base/base.h"

int luo_fstat(int fd, struct stat *st)
{
	struct statx stx;

	if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_BASIC_STATS, &stx) < 0)
		return -errno;
	if ((stx.stx_mask & (STATX_TYPE | STATX_INO)) != (STATX_TYPE | STATX_INO))
		return -EACCES; /* FUSE of another user namespace: st_dev only */
	memset(st, 0, sizeof(*st));
	st->st_dev = makedev(stx.stx_dev_major, stx.stx_dev_minor);
	st->st_ino = stx.stx_ino;
	st->st_mode = stx.stx_mode;
	st->st_nlink = stx.stx_nlink;
	st->st_uid = stx.stx_uid;
	st->st_gid = stx.stx_gid;
	st->st_rdev = makedev(stx.stx_rdev_major, stx.stx_rdev_minor);
	st->st_size = (off_t)stx.stx_size;
	st->st_blksize = stx.stx_blksize;
	st->st_blocks = (blkcnt_t)stx.stx_blocks;
	st->st_atim.tv_sec = stx.stx_atime.tv_sec;
	st->st_atim.tv_nsec = stx.stx_atime.tv_nsec;
	st->st_mtim.tv_sec = stx.stx_mtime.tv_sec;
	st->st_mtim.tv_nsec = stx.stx_mtime.tv_nsec;
	st->st_ctim.tv_sec = stx.stx_ctime.tv_sec;
	st->st_ctim.tv_nsec = stx.stx_ctime.tv_nsec;
	return 0;
}
