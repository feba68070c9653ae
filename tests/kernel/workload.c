// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * kernel-workload: the workload of the kernel-backend test in the reference
 * VM (tests/kernel/luod-demo.sh). It uses libluo only, the same calls as
 * with the userspace backend; luod hands it the kernel's session fds.
 *
 *   kernel-workload create   64 MiB memfd with a seeded pattern into session
 *                            "vm-workload" (token 1); prints "CHECKSUM <hex>"
 *                            and exits: luod keeps the session
 *   kernel-workload again    a restarted workload, before the update: gets
 *                            the same session back from luod
 *   kernel-workload verify HEX
 *                            after the kexec: retrieves the session and the
 *                            memfd through luod, checks size and checksum,
 *                            finishes the session
 *
 * Exit 0 on success; failures print one line and exit 1.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "luo/luo.h"

#define NAME "vm-workload"
#define TOKEN 1
#define SIZE (64u << 20)

static int fail(const char *what, int err)
{
	printf("FAIL %s: %s\n", what, strerror(err < 0 ? -err : err));
	return 1;
}

/* FNV-1a over the whole mapping: any changed byte shows. */
static uint64_t checksum(const unsigned char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

static int map_checksum(int fd, uint64_t *sum)
{
	struct stat st;
	void *p;

	if (fstat(fd, &st) < 0)
		return -errno;
	if ((size_t)st.st_size != SIZE)
		return -EMSGSIZE;
	p = mmap(NULL, SIZE, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	*sum = checksum(p, SIZE);
	munmap(p, SIZE);
	return 0;
}

static int create(int dev)
{
	uint32_t x = 0x9e3779b9, *p;
	uint64_t sum;
	int s, fd, r;

	s = luo_create_session(dev, NAME);
	if (s < 0)
		return fail("luo_create_session", s);
	fd = memfd_create(NAME, MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, SIZE) < 0)
		return fail("memfd", errno);
	p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return fail("mmap", errno);
	for (size_t i = 0; i < SIZE / 4; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = x;
	}
	munmap(p, SIZE);
	r = map_checksum(fd, &sum);
	if (r < 0)
		return fail("checksum", r);
	r = luo_session_preserve_fd(s, fd, TOKEN);
	if (r < 0)
		return fail("luo_session_preserve_fd", r);
	printf("CHECKSUM %016" PRIx64 "\n", sum);
	/* closing both leaves the session to luod */
	close(fd);
	close(s);
	return 0;
}

static int again(int dev)
{
	char name[LUO_NAME_MAX];
	int s = luo_retrieve_session(dev, NAME), r;

	if (s < 0)
		return fail("luo_retrieve_session before the update", s);
	r = luo_session_get_name(s, name);
	if (r < 0)
		return fail("luo_session_get_name", r);
	if (strcmp(name, NAME)) {
		printf("FAIL name \"%s\"\n", name);
		return 1;
	}
	printf("SESSION %s held by luod\n", name);
	close(s);
	return 0;
}

static int verify(int dev, const char *want)
{
	uint64_t sum;
	char got[32];
	int s, fd, r;

	s = luo_retrieve_session(dev, NAME);
	if (s < 0)
		return fail("luo_retrieve_session", s);
	fd = luo_session_retrieve_fd(s, TOKEN);
	if (fd < 0)
		return fail("luo_session_retrieve_fd", fd);
	r = map_checksum(fd, &sum);
	if (r < 0)
		return fail("checksum", r);
	snprintf(got, sizeof(got), "%016" PRIx64, sum);
	printf("CHECKSUM %s\n", got);
	if (strcmp(got, want)) {
		printf("FAIL checksum %s, want %s\n", got, want);
		return 1;
	}
	r = luo_session_finish(s);
	if (r < 0)
		return fail("luo_session_finish", r);
	close(fd);
	close(s);
	return 0;
}

int main(int argc, char **argv)
{
	int dev, r;

	if (argc < 2 || (!strcmp(argv[1], "verify") && argc < 3)) {
		fprintf(stderr, "usage: kernel-workload create|again|verify HEX\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	dev = luo_open(NULL);
	if (dev < 0)
		return fail("luo_open", dev);
	if (!strcmp(argv[1], "create"))
		r = create(dev);
	else if (!strcmp(argv[1], "again"))
		r = again(dev);
	else if (!strcmp(argv[1], "verify"))
		r = verify(dev, argv[2]);
	else
		r = fail(argv[1], EINVAL);
	close(dev);
	return r;
}
