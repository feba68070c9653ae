// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * /init of the QEMU guest in tests/qemu (static, no libc beyond libc.a):
 * it fills luo.pattern_mib MiB of its own memory (guest RAM) with a pattern
 * derived from a seed chosen at boot, prints one "luo-guest: boot" line,
 * then a tick every luo.tick_ms ms on the serial console: the tick counter,
 * and how many full passes over the pattern found it intact. Each tick
 * checks the next 4 MiB slice, so a whole pass takes pattern_mib/4 ticks.
 * A mismatch prints "BAD" with the offset and stops checking. A second
 * "boot" line in one serial log is a second boot: the upgrade lost the guest.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SLICE (4u << 20)

static uint64_t word(uint64_t seed, uint64_t i)
{
	uint64_t x = seed ^ (i * 0x9e3779b97f4a7c15ull);

	x ^= x >> 31;
	return x * 0xbf58476d1ce4e5b9ull;
}

static unsigned long param(const char *name, unsigned long dflt)
{
	char buf[4096], *p;
	int fd = open("/proc/cmdline", O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return dflt;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return dflt;
	buf[n] = '\0';
	p = strstr(buf, name);
	return p ? strtoul(p + strlen(name), NULL, 0) : dflt;
}

int main(void)
{
	unsigned long mib, tick_ms;
	uint64_t seed, *pat, nwords, per_slice, pos = 0, passes = 0, tick = 0;
	int bad = 0, fd;

	mkdir("/dev", 0755);
	mkdir("/proc", 0555);
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	mount("proc", "/proc", "proc", 0, NULL);
	fd = open("/dev/ttyS0", O_RDWR | O_NOCTTY);
	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	mib = param("luo.pattern_mib=", 64);
	tick_ms = param("luo.tick_ms=", 100);
	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = (uint64_t)time(NULL);
	nwords = ((uint64_t)mib << 20) / 8;
	per_slice = SLICE / 8;
	pat = mmap(NULL, nwords * 8, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (pat == MAP_FAILED) {
		printf("luo-guest: cannot map %lu MiB\n", mib);
		reboot(RB_POWER_OFF);
		return 1;
	}
	for (uint64_t i = 0; i < nwords; i++)
		pat[i] = word(seed, i);
	printf("luo-guest: boot seed=%016llx pattern=%luMiB\n", (unsigned long long)seed, mib);
	for (;;) {
		struct timespec ts = { .tv_sec = (time_t)(tick_ms / 1000),
				       .tv_nsec = (long)(tick_ms % 1000) * 1000000L };
		uint64_t end = pos + per_slice < nwords ? pos + per_slice : nwords;

		for (uint64_t i = pos; i < end && !bad; i++)
			if (pat[i] != word(seed, i)) {
				printf("luo-guest: BAD pattern at offset %llu\n",
				       (unsigned long long)(i * 8));
				bad = 1;
			}
		pos = end;
		if (pos == nwords) {
			pos = 0;
			passes += !bad;
		}
		printf("luo-guest: tick %llu passes %llu%s\n", (unsigned long long)++tick,
		       (unsigned long long)passes, bad ? " BAD" : "");
		nanosleep(&ts, NULL);
	}
}
