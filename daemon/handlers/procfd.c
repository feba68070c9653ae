// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * DOC: /proc/self readers shared by the handlers (see procfd.h).
 *
 * fdinfo is read whole (it is a few hundred bytes for every fd type a
 * handler asks about) and searched line by line for "key:".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "handlers/procfd.h"

#define FDINFO_MAX 4096

int procfd_link(int fd, char *buf, size_t len)
{
	char link[64];
	ssize_t n;

	if (len < 2)
		return -EINVAL;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, buf, len);
	if (n < 0)
		return -errno;
	if ((size_t)n >= len)
		return -ENAMETOOLONG;
	buf[n] = '\0';
	return 0;
}

bool procfd_link_is(int fd, const char *target)
{
	char buf[64];

	return procfd_link(fd, buf, sizeof(buf)) == 0 && !strcmp(buf, target);
}

bool procfd_anon_is(int fd, const struct stat *st, const char *target)
{
	return (st->st_mode & S_IFMT) == 0 && procfd_link_is(fd, target);
}

const char *procfd_path_shown(const char *path)
{
	return *path ? path : "(path unknown)";
}

bool procfd_strip_deleted(char *buf)
{
	size_t n = strlen(buf), s = strlen(PROCFD_DELETED);

	if (n < s || strcmp(buf + n - s, PROCFD_DELETED))
		return false;
	buf[n - s] = '\0';
	return true;
}

static int read_fdinfo(int fd, char *buf, size_t len)
{
	char path[64];
	size_t used = 0;
	ssize_t n;
	int pfd, r = 0;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	pfd = open(path, O_RDONLY | O_CLOEXEC);
	if (pfd < 0)
		return -errno;
	while (used < len - 1) {
		n = read(pfd, buf + used, len - 1 - used);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		if (n == 0)
			break;
		used += (size_t)n;
	}
	close(pfd);
	buf[used] = '\0';
	return r;
}

int procfd_info(int fd, const char *key, char *val, size_t len)
{
	char buf[FDINFO_MAX];
	size_t klen = strlen(key), n;
	const char *line, *end, *v;
	int r;

	r = read_fdinfo(fd, buf, sizeof(buf));
	if (r < 0)
		return r;
	for (line = buf; *line; line = *end ? end + 1 : end) {
		end = strchrnul(line, '\n');
		if ((size_t)(end - line) <= klen || strncmp(line, key, klen) || line[klen] != ':')
			continue;
		for (v = line + klen + 1; v < end && (*v == ' ' || *v == '\t'); v++)
			;
		n = (size_t)(end - v);
		if (n >= len)
			return -ENAMETOOLONG;
		memcpy(val, v, n);
		val[n] = '\0';
		return 0;
	}
	return -ENOENT;
}

int procfd_info_u64(int fd, const char *key, int base, unsigned long long *val)
{
	char buf[64], *end;
	int r = procfd_info(fd, key, buf, sizeof(buf));

	if (r < 0)
		return r;
	errno = 0;
	*val = strtoull(buf, &end, base);
	if (errno || end == buf)
		return -EINVAL;
	return 0;
}

int procfd_info_or(int fd, const char *key, int base, uint64_t unknown, uint64_t *val)
{
	unsigned long long v;
	int r = procfd_info_u64(fd, key, base, &v);

	if (r == -ENOENT) {
		*val = unknown;
		return 0;
	}
	if (r < 0)
		return r;
	*val = v;
	return 0;
}
