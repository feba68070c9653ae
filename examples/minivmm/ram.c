// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Guest RAM as a memfd: its creation, the data a cold boot loads into it
 * (a pattern standing in for a guest's memory image, so that every page of
 * it exists), and a checksum of all of it. Fill and checksum go through
 * pwrite/pread, not the VMM's mapping, so the VMM's page tables only cover
 * what the guest itself touches.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "minivmm.h"

#define CHUNK (1u << 20)

int ram_create(uint64_t size)
{
	int fd = memfd_create("minivmm-guest-ram", MFD_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

int pwrite_all(int fd, const void *buf, size_t n, off_t off)
{
	while (n) {
		ssize_t k = pwrite(fd, buf, n, off);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return k < 0 ? -errno : -EIO;
		buf = (const char *)buf + k;
		n -= (size_t)k;
		off += k;
	}
	return 0;
}

int pread_all(int fd, void *buf, size_t n, off_t off)
{
	while (n) {
		ssize_t k = pread(fd, buf, n, off);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return k < 0 ? -errno : -EIO;
		buf = (char *)buf + k;
		n -= (size_t)k;
		off += k;
	}
	return 0;
}

int ram_fill(int fd, uint64_t size, uint64_t boot_id)
{
	uint64_t *buf = malloc(CHUNK);
	int r = 0;

	if (!buf)
		return -ENOMEM;
	for (size_t i = 0; i < CHUNK / 8; i++)
		buf[i] = (i * 0x9e3779b97f4a7c15ull) ^ boot_id;
	for (uint64_t off = GUEST_FILL_START; off < size && !r; off += CHUNK) {
		size_t n = size - off < CHUNK ? (size_t)(size - off) : CHUNK;

		buf[0] = off ^ boot_id; /* every MiB differs */
		r = pwrite_all(fd, buf, n, (off_t)off);
	}
	free(buf);
	return r;
}

int ram_checksum(int fd, uint64_t size, uint64_t *sum)
{
	uint64_t h[4] = { 0xcbf29ce484222325ull, 1, 2, 3 };
	uint64_t *buf = malloc(CHUNK);
	int r = 0;

	if (!buf)
		return -ENOMEM;
	for (uint64_t off = 0; off < size && !r; off += CHUNK) {
		size_t n = size - off < CHUNK ? (size_t)(size - off) : CHUNK;

		r = pread_all(fd, buf, n, (off_t)off);
		for (size_t i = 0; !r && i + 4 <= n / 8; i += 4)
			for (int l = 0; l < 4; l++)
				h[l] = (h[l] ^ buf[i + l]) * 0x100000001b3ull;
	}
	free(buf);
	*sum = h[0] ^ (h[1] * 3) ^ (h[2] * 5) ^ (h[3] * 7);
	return r;
}
