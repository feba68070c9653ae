// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The alternative without luo, for comparison: the old VMM writes the saved
 * state and all of guest RAM to a file, the new one reads them back into a
 * fresh memfd. The file is left in the page cache (no fsync), which is the
 * most favourable case for this approach; it is removed once read back.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include "minivmm.h"

/* Copy n bytes between two fds at the given offsets, in the kernel. */
static int copy(int out, off_t out_off, int in, off_t in_off, uint64_t n)
{
	if (lseek(out, out_off, SEEK_SET) < 0)
		return -errno;
	while (n) {
		size_t chunk = n > (1u << 30) ? (1u << 30) : (size_t)n;
		ssize_t k = sendfile(out, in, &in_off, chunk);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return k < 0 ? -errno : -EIO;
		n -= (uint64_t)k;
	}
	return 0;
}

int naive_save(const char *path, struct vm *vm, struct state_header *hdr)
{
	int fd, r;

	if (state_size(vm) > NAIVE_RAM_OFFSET)
		return -E2BIG;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	r = state_write(fd, 0, vm, hdr);
	if (!r)
		r = copy(fd, NAIVE_RAM_OFFSET, vm->ram_fd, 0, vm->ram_size);
	if (close(fd) < 0 && !r)
		r = -errno;
	if (r < 0)
		fprintf(stderr, "minivmm: writing %s: %s\n", path, strerror(-r));
	return r;
}

int naive_load(const char *path, int *ram_fd, int *state_fd)
{
	struct state_header hdr;
	int fd, rfd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = state_read_header(fd, 0, &hdr);
	if (r < 0)
		goto fail;
	rfd = ram_create(hdr.ram_size);
	if (rfd < 0) {
		r = rfd;
		goto fail;
	}
	r = copy(rfd, 0, fd, NAIVE_RAM_OFFSET, hdr.ram_size);
	if (r < 0) {
		close(rfd);
		goto fail;
	}
	if (unlink(path) < 0)
		fprintf(stderr, "minivmm: unlink %s: %s\n", path, strerror(errno));
	*ram_fd = rfd;
	*state_fd = fd;
	return 0;
fail:
	fprintf(stderr, "minivmm: reading %s: %s\n", path, strerror(-r));
	close(fd);
	return r;
}
