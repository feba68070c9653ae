// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Cost of the system calls luod makes per preserved memfd, to explain the
 * throughput profile with numbers: readlink of /proc/self/fd/N (how the
 * memfd handler learns a memfd's name), the same through a cached
 * /proc/self/fd dirfd, fstat, F_GET_SEALS and F_SETFD.
 *
 * CSV on stdout: syscall,ns_per_call
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"

#define ROUNDS 100000

int main(void)
{
	int fd = memfd_create("bench", MFD_CLOEXEC);
	int dir = open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);
	char link[64], name[16], target[512];
	struct stat st;
	uint64_t t;

	if (fd < 0 || dir < 0)
		bench_die("memfd or /proc/self/fd unavailable");
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	snprintf(name, sizeof(name), "%d", fd);
	printf("syscall,ns_per_call\n");

	t = bench_now_ns();
	for (int i = 0; i < ROUNDS; i++)
		if (readlink(link, target, sizeof(target)) < 0)
			bench_die("readlink");
	printf("readlink(/proc/self/fd/N),%.0f\n", (double)(bench_now_ns() - t) / ROUNDS);

	t = bench_now_ns();
	for (int i = 0; i < ROUNDS; i++)
		if (readlinkat(dir, name, target, sizeof(target)) < 0)
			bench_die("readlinkat");
	printf("readlinkat(fd dir; N),%.0f\n", (double)(bench_now_ns() - t) / ROUNDS);

	t = bench_now_ns();
	for (int i = 0; i < ROUNDS; i++)
		if (fstat(fd, &st) < 0)
			bench_die("fstat");
	printf("fstat,%.0f\n", (double)(bench_now_ns() - t) / ROUNDS);

	t = bench_now_ns();
	for (int i = 0; i < ROUNDS; i++)
		if (fcntl(fd, F_GET_SEALS) < 0)
			bench_die("F_GET_SEALS");
	printf("fcntl(F_GET_SEALS),%.0f\n", (double)(bench_now_ns() - t) / ROUNDS);

	t = bench_now_ns();
	for (int i = 0; i < ROUNDS; i++)
		if (fcntl(fd, F_SETFD, i & 1 ? FD_CLOEXEC : 0) < 0)
			bench_die("F_SETFD");
	printf("fcntl(F_SETFD),%.0f\n", (double)(bench_now_ns() - t) / ROUNDS);
	return 0;
}
