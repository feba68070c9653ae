// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * DOC: memfd handler.
 *
 * The memfd's pages are never touched: luod holds the open file and the
 * successor gets the very same one, so the blackout does not grow with its
 * size, and its name (the file's own) comes back with it. The payload
 * records size, seals and inode at preserve, and size and seals again at
 * freeze (the state the next process must find); retrieve checks the fd
 * against it, so a memfd resized or resealed during the blackout, or a
 * handover that names the wrong fd, fails with EIO instead of handing out
 * something else.
 *
 * The per-fd cost matters (10,000 fds in one update): no /proc readlink on
 * the way. A memfd is a regular file on the kernel's internal shm mount,
 * whose device luod learns once from a memfd of its own; F_GET_SEALS, which
 * works only on shmem and hugetlbfs files, confirms it. Only a file that is
 * not on that mount but passes F_GET_SEALS (a MFD_HUGETLB memfd, or a tmpfs
 * file) has its /proc link read to tell which it is. can_preserve() hands
 * what it learnt to preserve() in the caller's struct luo_probe, so nothing
 * is asked twice.
 *
 * Payload v2 ("luo,memfd-v2"): u64 size, u32 seals, u32 zero, u64 inode.
 * Payload v1 ("luo,memfd-v1", still read from an older luod's handover):
 * u64 size, u32 seals, u32 name length, name bytes (no NUL); retrieve then
 * compares the name, as that luod did. The lengths tell the two apart.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/luod.h"
#include "handlers/procfd.h"

#define MEMFD_PREFIX "/memfd:"
#define MEMFD_NAME_MAX 249

#define PAYLOAD_V1_HEAD 16 /* + the name */
#define PAYLOAD_V2 24

struct memfd_record {
	uint64_t size;
	uint32_t seals;
	uint64_t ino;  /* v2 */
	bool v1;
	char name[MEMFD_NAME_MAX + 1]; /* v1 */
};

/* The name memfd_create() was given, from the /proc link "/memfd:NAME (deleted)". */
static int memfd_name(int fd, char *name, size_t len)
{
	char target[MEMFD_NAME_MAX + 64];
	size_t plen = strlen(MEMFD_PREFIX), n;
	int r;

	r = procfd_link(fd, target, sizeof(target));
	if (r < 0)
		return r;
	procfd_strip_deleted(target);
	if (strncmp(target, MEMFD_PREFIX, plen))
		return -ENOENT;
	n = strlen(target + plen);
	if (n >= len)
		return -ENAMETOOLONG;
	memcpy(name, target + plen, n + 1);
	return (int)n;
}

/*
 * The device of the kernel's internal shm mount, where memfd_create() puts
 * every memfd without MFD_HUGETLB. Unknown (0) only if luod cannot create
 * a memfd itself; then every candidate is checked by name.
 */
static dev_t shm_dev(void)
{
	static bool tried;
	static dev_t dev;
	struct stat st;
	int fd;

	if (tried)
		return dev;
	tried = true;
	fd = memfd_create("luod-probe", MFD_CLOEXEC);
	if (fd < 0) {
		log_warn("memfd: cannot create a probe memfd (%m); memfds are recognised by name");
		return 0;
	}
	if (fstat(fd, &st) == 0)
		dev = st.st_dev;
	else
		log_warn("memfd: fstat of the probe memfd: %m; memfds are recognised by name");
	close(fd);
	return dev;
}

static bool memfd_can_preserve(int fd, const struct stat *st, struct luo_probe *probe)
{
	char name[MEMFD_NAME_MAX + 1];
	dev_t shm = shm_dev();
	int seals;

	if (!S_ISREG(st->st_mode))
		return false;
	seals = fcntl(fd, F_GET_SEALS); /* EINVAL: neither shmem nor hugetlbfs */
	if (seals < 0)
		return false;
	if ((!shm || st->st_dev != shm) && memfd_name(fd, name, sizeof(name)) < 0)
		return false;
	probe->memfd.size = (uint64_t)st->st_size;
	probe->memfd.seals = (uint32_t)seals;
	probe->memfd.ino = st->st_ino;
	return true;
}

/* F_GET_SEALS works on shmem and hugetlbfs files only: no fstat() needed. */
static int memfd_is_type(int fd)
{
	if (fcntl(fd, F_GET_SEALS) >= 0)
		return 0;
	return errno == EBADF ? -EBADF : -EBADFD;
}

static void payload_v2(const struct memfd_record *rec, unsigned char out[PAYLOAD_V2])
{
	memset(out, 0, PAYLOAD_V2);
	memcpy(out, &rec->size, 8);
	memcpy(out + 8, &rec->seals, 4);
	memcpy(out + 16, &rec->ino, 8);
}

static int memfd_preserve(struct luo_file *file, const struct luo_probe *probe)
{
	struct memfd_record rec = { 0 };
	unsigned char buf[PAYLOAD_V2];

	if (probe) {
		/* from the caller's fstat and can_preserve(), a moment ago */
		rec.size = probe->memfd.size;
		rec.seals = probe->memfd.seals;
		rec.ino = (uint64_t)probe->memfd.ino;
	} else {
		struct stat st;
		int seals;

		if (fstat(file->fd, &st) < 0)
			return -errno;
		seals = fcntl(file->fd, F_GET_SEALS);
		if (seals < 0)
			return -errno;
		rec.size = (uint64_t)st.st_size;
		rec.seals = (uint32_t)seals;
		rec.ino = (uint64_t)st.st_ino;
	}
	payload_v2(&rec, buf);
	return file_set_payload(file, buf, sizeof(buf));
}

/*
 * The memfd's seals now, given those recorded for it last. Once F_SEAL_SEAL
 * is set no seal can be added or removed, so the record is the answer and
 * the F_GET_SEALS (an inode the cache has lost, for each of 10,000 files in
 * the blackout) is not needed: the default for a memfd made without
 * MFD_ALLOW_SEALING. -errno on failure.
 */
static int memfd_seals(int fd, uint32_t recorded)
{
	int seals;

	if (recorded & F_SEAL_SEAL)
		return (int)recorded;
	seals = fcntl(fd, F_GET_SEALS);
	return seals < 0 ? -errno : seals;
}

/* Everything but a v1 name: what freeze rewrites and the accounting reads. */
static int memfd_decode_head(const struct luo_file *file, struct memfd_record *rec)
{
	const unsigned char *p = file->payload;
	uint32_t word;

	if (file->payload_len < PAYLOAD_V1_HEAD)
		return -EINVAL;
	memcpy(&rec->size, p, 8);
	memcpy(&rec->seals, p + 8, 4);
	memcpy(&word, p + 12, 4); /* v1: name length; v2: zero */
	if (file->payload_len == PAYLOAD_V2 && word == 0) {
		rec->v1 = false;
		memcpy(&rec->ino, p + 16, 8);
	} else if (word <= MEMFD_NAME_MAX && file->payload_len == PAYLOAD_V1_HEAD + word) {
		rec->v1 = true;
		rec->ino = 0;
	} else {
		return -EINVAL;
	}
	return 0;
}

static int memfd_decode(const struct luo_file *file, struct memfd_record *rec)
{
	size_t n = file->payload_len - PAYLOAD_V1_HEAD;
	int r = memfd_decode_head(file, rec);

	if (r < 0)
		return r;
	rec->name[0] = '\0';
	if (rec->v1) {
		memcpy(rec->name, file->payload + PAYLOAD_V1_HEAD, n);
		rec->name[n] = '\0';
	}
	return 0;
}

/* At freeze only size and seals can have changed. */
static int memfd_freeze(struct luo_file *file)
{
	struct memfd_record rec;
	struct stat st;
	int seals;

	if (memfd_decode_head(file, &rec) < 0)
		return -EINVAL;
	if (fstat(file->fd, &st) < 0)
		return -errno;
	seals = memfd_seals(file->fd, rec.seals);
	if (seals < 0)
		return seals;
	rec.size = (uint64_t)st.st_size;
	rec.seals = (uint32_t)seals;
	memcpy(file->payload, &rec.size, 8);
	memcpy(file->payload + 8, &rec.seals, 4);
	return 0;
}

/*
 * What can_preserve() took for a memfd: a regular file on the shm mount,
 * or one F_GET_SEALS works on (MFD_HUGETLB). Asked here, from the fstat()
 * retrieve makes anyway, and not at the successor's start-up
 * (.retrieve_checks_type): no fd leaves luod without it.
 */
static bool memfd_is_shmem(int fd, const struct stat *st)
{
	dev_t shm = shm_dev();

	if (!S_ISREG(st->st_mode))
		return false;
	return (shm && st->st_dev == shm) || fcntl(fd, F_GET_SEALS) >= 0;
}

static int memfd_retrieve(struct luo_file *file)
{
	char name[MEMFD_NAME_MAX + 1] = "";
	struct memfd_record want;
	struct stat st;
	int seals, r;

	r = memfd_decode(file, &want);
	if (r < 0)
		return r;
	if (fstat(file->fd, &st) < 0)
		return -errno;
	if (!memfd_is_shmem(file->fd, &st)) {
		log_warn("memfd token %llu: the fd is not a memfd", (unsigned long long)file->token);
		return -EIO;
	}
	/* v1: no inode to tell the file by, so the seals are asked, not assumed */
	seals = memfd_seals(file->fd, want.v1 ? 0 : want.seals);
	if (seals < 0)
		return seals;
	if (want.v1) {
		/* an older luod recorded no inode: the name is what identifies it */
		r = memfd_name(file->fd, name, sizeof(name));
		if (r < 0)
			return r;
	}
	if (want.size != (uint64_t)st.st_size || want.seals != (uint32_t)seals ||
	    (want.v1 ? strcmp(want.name, name) != 0 : want.ino != (uint64_t)st.st_ino)) {
		if (want.v1)
			log_warn("memfd token %llu: changed since it was frozen (size %llu -> %llu, seals %#x -> %#x, name '%s' -> '%s')",
				 (unsigned long long)file->token, (unsigned long long)want.size,
				 (unsigned long long)st.st_size, want.seals, (unsigned)seals,
				 want.name, name);
		else
			log_warn("memfd token %llu: changed since it was frozen (size %llu -> %llu, seals %#x -> %#x, inode %llu -> %llu)",
				 (unsigned long long)file->token, (unsigned long long)want.size,
				 (unsigned long long)st.st_size, want.seals, (unsigned)seals,
				 (unsigned long long)want.ino, (unsigned long long)st.st_ino);
		return -EIO;
	}
	return 0;
}

static uint64_t memfd_size(const struct luo_file *file)
{
	struct memfd_record rec;

	return memfd_decode_head(file, &rec) < 0 ? 0 : rec.size;
}

const struct luo_file_handler luo_memfd_handler = {
	.close_never_blocks = true,
	.name = "memfd",
	.compatible = "luo,memfd-v2",
	.compatible_old = "luo,memfd-v1",
	.type = S_IFREG,
	.can_preserve = memfd_can_preserve,
	.is_type = memfd_is_type,
	.retrieve_checks_type = true,
	.freeze_parallel = true, /* memfd_freeze(): an fstat() and the payload, nothing else */
	.preserve = memfd_preserve,
	.freeze = memfd_freeze,
	.retrieve = memfd_retrieve,
	.size = memfd_size,
	.flb = true,
};
