// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * DOC: memfd handler.
 *
 * The memfd's pages are never touched: luod holds the open file and the
 * successor gets the very same one, so the blackout does not grow with its
 * size. The payload records size, seals and name at preserve and again at
 * freeze (the state the next process must find); retrieve checks the fd
 * against it, so a memfd resized or resealed during the blackout, or a
 * handover that names the wrong fd, fails with EIO instead of handing out
 * something else.
 *
 * Payload v1: u64 size, u32 seals, u32 name length, name bytes (no NUL).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../luod.h"

#define MEMFD_PREFIX "/memfd:"
#define DELETED_SUFFIX " (deleted)"
#define MEMFD_NAME_MAX 249

struct memfd_record {
	uint64_t size;
	uint32_t seals;
	uint32_t name_len;
	char name[MEMFD_NAME_MAX + 1];
};

/* The name memfd_create() was given, from the /proc link "/memfd:NAME (deleted)". */
static int memfd_name(int fd, char *name, size_t len)
{
	char link[64], target[512];
	size_t n, plen = strlen(MEMFD_PREFIX), slen = strlen(DELETED_SUFFIX);
	ssize_t k;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	k = readlink(link, target, sizeof(target) - 1);
	if (k < 0)
		return -errno;
	target[k] = '\0';
	n = (size_t)k;
	if (n < plen || strncmp(target, MEMFD_PREFIX, plen))
		return -ENOENT;
	if (n >= plen + slen && !strcmp(target + n - slen, DELETED_SUFFIX))
		n -= slen;
	n -= plen;
	if (n >= len)
		return -ENAMETOOLONG;
	memcpy(name, target + plen, n);
	name[n] = '\0';
	return (int)n;
}

static bool memfd_can_preserve(int fd, const struct stat *st)
{
	char name[MEMFD_NAME_MAX + 1];

	return S_ISREG(st->st_mode) && memfd_name(fd, name, sizeof(name)) >= 0;
}

static int memfd_read(int fd, struct memfd_record *rec)
{
	struct stat st;
	int seals, n;

	if (fstat(fd, &st) < 0)
		return -errno;
	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0)
		return -errno;
	n = memfd_name(fd, rec->name, sizeof(rec->name));
	if (n < 0)
		return n;
	rec->size = (uint64_t)st.st_size;
	rec->seals = (uint32_t)seals;
	rec->name_len = (uint32_t)n;
	return 0;
}

static int memfd_record(struct luo_file *file)
{
	struct memfd_record rec;
	int r = memfd_read(file->fd, &rec);

	if (r < 0)
		return r;
	return file_set_payload(file, &rec, offsetof(struct memfd_record, name) + rec.name_len);
}

static int memfd_decode(const struct luo_file *file, struct memfd_record *rec)
{
	size_t head = offsetof(struct memfd_record, name);

	if (file->payload_len < head)
		return -EINVAL;
	memcpy(rec, file->payload, head);
	if (rec->name_len > MEMFD_NAME_MAX || file->payload_len != head + rec->name_len)
		return -EINVAL;
	memcpy(rec->name, file->payload + head, rec->name_len);
	rec->name[rec->name_len] = '\0';
	return 0;
}

/* At freeze only size and seals can have changed: a memfd's name is fixed. */
static int memfd_freeze(struct luo_file *file)
{
	struct memfd_record rec;
	struct stat st;
	int seals;

	if (memfd_decode(file, &rec) < 0)
		return -EINVAL;
	if (fstat(file->fd, &st) < 0)
		return -errno;
	seals = fcntl(file->fd, F_GET_SEALS);
	if (seals < 0)
		return -errno;
	rec.size = (uint64_t)st.st_size;
	rec.seals = (uint32_t)seals;
	memcpy(file->payload, &rec, offsetof(struct memfd_record, name));
	return 0;
}

static void memfd_nop(struct luo_file *file)
{
	(void)file;
}

static int memfd_retrieve(struct luo_file *file)
{
	struct memfd_record want, have;
	int r;

	r = memfd_decode(file, &want);
	if (r < 0)
		return r;
	r = memfd_read(file->fd, &have);
	if (r < 0)
		return r;
	if (want.size != have.size || want.seals != have.seals || strcmp(want.name, have.name)) {
		log_warn("memfd token %llu: changed since it was frozen (size %llu -> %llu, seals %#x -> %#x, name '%s' -> '%s')",
			 (unsigned long long)file->token, (unsigned long long)want.size,
			 (unsigned long long)have.size, want.seals, have.seals, want.name, have.name);
		return -EIO;
	}
	return 0;
}

static int memfd_finish(struct luo_file *file)
{
	(void)file;
	return 0;
}

static uint64_t memfd_size(const struct luo_file *file)
{
	struct memfd_record rec;

	return memfd_decode(file, &rec) < 0 ? 0 : rec.size;
}

const struct luo_file_handler luo_memfd_handler = {
	.name = "memfd",
	.compatible = "luo,memfd-v1",
	.type = S_IFREG,
	.can_preserve = memfd_can_preserve,
	.preserve = memfd_record,
	.unpreserve = memfd_nop,
	.freeze = memfd_freeze,
	.unfreeze = memfd_nop,
	.retrieve = memfd_retrieve,
	.finish = memfd_finish,
	.size = memfd_size,
	.flb = true,
};
