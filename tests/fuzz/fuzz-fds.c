// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The fds a handover blob of the fuzz corpus names (see fuzz-fds.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz-fds.h"

static int place(int fd, int at)
{
	int r;

	if (fd < 0)
		return -errno;
	r = dup2(fd, at) < 0 ? -errno : 0;
	close(fd);
	return r;
}

int fuzz_fds_setup(void)
{
	char page[4096];
	int p[2], fd, r;

	memset(page, 'l', sizeof(page));
	fd = memfd_create("fuzz", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd >= 0 && write(fd, page, sizeof(page)) != (ssize_t)sizeof(page)) {
		close(fd);
		return -EIO;
	}
	if ((r = place(fd, FUZZ_FD_BASE)) < 0)
		return r;
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	if ((r = place(p[0], FUZZ_FD_BASE + 1)) < 0 || (r = place(p[1], FUZZ_FD_BASE + 2)) < 0)
		return r;
	return place(eventfd(0, EFD_CLOEXEC), FUZZ_FD_BASE + 3);
}
