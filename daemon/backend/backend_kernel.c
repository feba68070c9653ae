// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * DOC: The kernel backend: hybrid sessions beside the kernel's LUO.
 *
 * Where the kernel has a Live Update Orchestrator, a luo session is both:
 * luod holds every file of it exactly as the userspace backend does (so all
 * of them cross a process restart, luod's own update and a luod crash, and
 * events, participants and history work as there), and for a kexec luod
 * also puts the session's memfds into one kernel session of its own, the
 * kernel's one file type. After the boot, before any client can ask, luod
 * rebuilds the sessions from that kernel session: the memfds come back with
 * their contents, each listening TCP socket is re-created on its address
 * (relisten.c), and every other file is a token whose retrieve fails with
 * ENOLINK, "not carried", never a silent ENOENT. `luoctl show` says per
 * file where it lives, `luoctl status` how many of each the last kexec
 * brought and a kexec now would take.
 *
 * One kernel session, as systemd keeps its fd store in one: token 0 is
 * luod's index (kernel_index.c), the memfds follow from token 1. Where it
 * comes from, in this order:
 *  1. systemd passed luod a LUO session fd (a unit with LUOSession=, or the
 *     fd store across kexec giving back the session luod stored there):
 *     luod uses that one and never opens the device (mode "systemd");
 *  2. else luod opens /dev/liveupdate, retrieves its session "luod" if the
 *     last kexec left one, creates the next "luod", and closes the device
 *     again (mode "device"): the device admits one holder at a time, and
 *     systemd opens it at boot and in systemd-shutdown to carry its own fd
 *     stores; sessions live on through their own fds.
 * The kernel session is filled when the kexec is asked for (`luoctl update
 * --kernel`), not at each preserve: a memfd in a kernel session cannot
 * change its size (the kernel freezes its mapping), and the kernel cannot
 * unpreserve one file, so until the kexec a memfd behaves as on the
 * userspace backend.
 *
 * Unhappy paths: a memfd the kernel refuses (hugetlb, an unknown seal) is
 * reported not carried, with the kernel's errno in the log; a bad index is
 * refused whole and the memfds in the session are released by FINISH; a
 * session whose name already exists in luod (recovered from the keeper)
 * keeps luod's copy; a kexec that fails after its kernel was loaded unloads
 * it, and the memfds already in the kernel session stay there (sized as
 * they are) until luod makes a new session.
 *
 * This file owns the kernel session fd, the kernel's live-update number
 * and the counts; the rest of luod reaches it only through its ops table,
 * luo_backend_kernel (backend.h), which main.c chooses at start.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/magic.h>
#include <linux/reboot.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "luo/liveupdate.h"
#include "core/luod.h"
#include "core/observer.h"
#include "report/history.h"
#include "report/update_report.h"
#include "backend/backend.h"
#include "backend/kernel_index.h"
#include "handlers/procfd.h"

#ifndef KEXEC_FILE_UNLOAD
#define KEXEC_FILE_UNLOAD 0x00000001
#endif
#ifndef KEXEC_FILE_NO_INITRAMFS
#define KEXEC_FILE_NO_INITRAMFS 0x00000004
#endif

#define SESSION_LINK "anon_inode:[luo_session] "
/* systemd's session across luod's own update: "FD FILLED" (luod cannot make another) */
#define SESSION_ENV "LUOD_KERNEL_SESSION"

static struct {
	enum luo_kernel_mode mode;
	const char *device;
	int session; /* luod's outgoing kernel session, or -1 */
	char session_name[LUO_NAME_MAX];
	bool index_in; /* token 0 taken in this session: a second fill needs a new session */
	uint64_t next_ktoken;
	struct luo_index ktokens; /* memfd inode -> its kernel token, this session */
	uint64_t liveupdate_num;
	bool kexec_loaded;
	uint32_t carried, recreated, lost; /* what this boot's restore found */
} kb = { .session = -1 };

/*
 * The kernel tells its live-update number only in its log ("Retrieved live
 * update data, liveupdate number: N", at boot); no line means this boot was
 * not a live update: 0.
 */
static uint64_t read_liveupdate_num(void)
{
	static const char key[] = "liveupdate number: ";
	char rec[2048];
	uint64_t num = 0;
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0) {
		log_warn("kernel backend: /dev/kmsg: %s; live-update number unknown",
			 strerror(errno));
		return 0;
	}
	for (;;) {
		ssize_t n = read(fd, rec, sizeof(rec) - 1);
		const char *p;

		if (n < 0 && errno == EPIPE)
			continue; /* records overwritten while reading: go on with the next */
		if (n <= 0)
			break;
		rec[n] = '\0';
		p = strstr(rec, key);
		if (p)
			num = strtoull(p + sizeof(key) - 1, NULL, 10);
	}
	close(fd);
	return num;
}

/* ---- the kernel's ioctls ---- */

static int device_session(int dev, unsigned long cmd, const char *name)
{
	struct liveupdate_ioctl_create_session a = { .size = sizeof(a), .fd = -1 };

	/* create and retrieve share the layout: size, fd (out), name */
	_Static_assert(sizeof(struct liveupdate_ioctl_create_session) ==
			       sizeof(struct liveupdate_ioctl_retrieve_session),
		       "session ioctl layouts");
	memcpy(a.name, name, strnlen(name, sizeof(a.name) - 1));
	if (ioctl(dev, cmd, &a) < 0)
		return -errno;
	/* never inherited (the keeper, a --exec successor): luod's copy must be the only one */
	fcntl(a.fd, F_SETFD, FD_CLOEXEC);
	return a.fd;
}

static int ks_preserve(int session, int fd, uint64_t token)
{
	struct liveupdate_session_preserve_fd a = { .size = sizeof(a), .fd = fd, .token = token };

	return ioctl(session, LIVEUPDATE_SESSION_PRESERVE_FD, &a) < 0 ? -errno : 0;
}

static int ks_retrieve(int session, uint64_t token)
{
	struct liveupdate_session_retrieve_fd a = { .size = sizeof(a), .fd = -1, .token = token };

	if (ioctl(session, LIVEUPDATE_SESSION_RETRIEVE_FD, &a) < 0)
		return -errno;
	fcntl(a.fd, F_SETFD, FD_CLOEXEC);
	return a.fd;
}

static int ks_finish(int session)
{
	struct liveupdate_session_finish a = { .size = sizeof(a) };

	return ioctl(session, LIVEUPDATE_SESSION_FINISH, &a) < 0 ? -errno : 0;
}

/* "anon_inode:[luo_session] NAME": the name of the kernel session fd is, or -EMEDIUMTYPE. */
static int session_fd_name(int fd, char *name, size_t len)
{
	char link[LUO_NAME_MAX + 64];
	int r = procfd_link(fd, link, sizeof(link));

	if (r < 0)
		return r;
	if (strncmp(link, SESSION_LINK, strlen(SESSION_LINK)))
		return -EMEDIUMTYPE;
	r = (int)strlen(link + strlen(SESSION_LINK));
	if ((size_t)r >= len)
		return -ENAMETOOLONG;
	memcpy(name, link + strlen(SESSION_LINK), (size_t)r + 1);
	return 0;
}

/* ---- after the boot: what the last kexec carried ---- */

struct restore {
	int ksession;
	struct luo_session *s; /* the session being rebuilt, NULL: skipped */
	size_t sessions;
};

static int restore_session(const char *name, uid_t uid, void *ctx)
{
	struct restore *rs = ctx;
	struct luo_session *s;
	int r;

	rs->s = NULL;
	if (core_find_session(name)) {
		log_warn("kernel backend: session %s exists already; the kexec's copy is released",
			 name);
		return 0;
	}
	r = session_new(name, uid, true, &s);
	if (r < 0)
		return r;
	core_add_session(s);
	rs->s = s;
	rs->sessions++;
	return 0;
}

/* The record a handler makes of fd now, as preserve() would: the fd is a new file. */
static int fresh_file(struct luo_session *s, int fd, uint64_t token,
		      const struct luo_file_handler *h, enum luo_file_where where)
{
	struct luo_file tmp = { .session = s, .handler = h, .token = token, .fd = fd };
	struct luo_file *f = NULL;
	struct luo_probe probe;
	struct stat st;
	int r;

	r = luo_fstat(fd, &st); /* a client's fd: never a FUSE GETATTR (base/fstat.c) */
	if (r < 0)
		return r;
	tmp.dev = st.st_dev;
	tmp.ino = st.st_ino;
	if (!h->can_preserve(fd, &st, &probe))
		return -EBADFD;
	r = h->preserve(&tmp, &probe);
	if (r == 0)
		r = file_restore(s, fd, token, h, tmp.payload, tmp.payload_len, &f);
	free(tmp.payload);
	if (r < 0)
		return r;
	f->where = (uint8_t)where;
	r = session_add_file(s, f);
	if (r < 0) {
		f->fd = -1;
		file_release(f);
	}
	return r;
}

static void restore_lost(struct restore *rs, const struct kindex_file *kf,
			 const struct luo_file_handler *h, const char *why)
{
	struct luo_file *f;

	if (!h) {
		log_warn("kernel backend: session %s token %" PRIu64 ": unknown handler %s: dropped",
			 rs->s->name, kf->token, kf->compatible);
		return;
	}
	log_info("kernel backend: session %s token %" PRIu64 " (%s): not carried%s%s",
		 rs->s->name, kf->token, h->name, why ? ": " : "", why ? why : "");
	if (file_restore_lost(rs->s, kf->token, h, kf->payload, kf->payload_len, -ENOLINK, &f) < 0)
		return;
	if (session_add_file(rs->s, f) < 0) {
		file_release(f);
		return;
	}
	kb.lost++;
}

static void restore_file(const struct kindex_file *kf, void *ctx)
{
	struct restore *rs = ctx;
	const struct luo_file_handler *h = luo_handler_by_compatible(kf->compatible);
	char why[96];
	int fd, r;

	if (!rs->s)
		return;
	if (session_find_file(rs->s, kf->token)) {
		log_warn("kernel backend: session %s: token %" PRIu64 " twice: the second dropped",
			 rs->s->name, kf->token);
		return;
	}
	if (kf->where == LUO_WHERE_LOST) {
		restore_lost(rs, kf, h, NULL);
		return;
	}
	if (kf->where == LUO_WHERE_KERNEL) {
		if (h != &luo_memfd_handler) {
			restore_lost(rs, kf, h, "the index names a memfd of another handler");
			return;
		}
		fd = ks_retrieve(rs->ksession, kf->ktoken);
	} else {
		if (h != &luo_socket_handler) {
			restore_lost(rs, kf, h, "the index names a listener of another handler");
			return;
		}
		fd = relisten_create(&kf->listen);
	}
	if (fd < 0) {
		snprintf(why, sizeof(why), "%s: %s",
			 kf->where == LUO_WHERE_KERNEL ? "the kernel's retrieve" : "re-creating it",
			 strerror(-fd));
		restore_lost(rs, kf, h, why);
		return;
	}
	r = fresh_file(rs->s, fd, kf->token, h, kf->where);
	if (r < 0) {
		close(fd);
		snprintf(why, sizeof(why), "%s", strerror(-r));
		restore_lost(rs, kf, h, why);
		return;
	}
	if (kf->where == LUO_WHERE_KERNEL)
		kb.carried++;
	else
		kb.recreated++;
}

static void restore_done(const struct kindex_head *head, void *ctx)
{
	struct restore *rs = ctx;
	uint64_t now = realtime_ns();

	if (!rs->sessions)
		return;
	/* the counter never wraps to 0 (2^64 - 1 stays, as it does after a crash) */
	core_adopt_update(head->generation, head->updates, 0);
	update_report_kexec(head->written_realtime_ns, now, (uint32_t)rs->sessions,
			    kb.carried + kb.recreated);
}

static int read_index(int fd, void **ret, size_t *ret_len)
{
	struct stat st;
	void *p;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (st.st_size <= 0 || (uint64_t)st.st_size > LUO_HANDOVER_MAX)
		return -EBADMSG;
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	*ret = p;
	*ret_len = (size_t)st.st_size;
	return 0;
}

/* An incoming kernel session: rebuild what it names, then FINISH it. */
static void restore_from(int ksession, const char *name)
{
	static const struct kindex_reader rd = {
		.session = restore_session, .file = restore_file, .done = restore_done,
	};
	struct restore rs = { .ksession = ksession };
	void *blob = NULL;
	size_t len = 0;
	int idx, r;

	idx = ks_retrieve(ksession, LUO_KINDEX_TOKEN);
	if (idx == -ENOENT) {
		log_info("kernel backend: session %s came back without an index: nothing to restore",
			 name);
	} else if (idx < 0) {
		log_err("kernel backend: session %s: its index: %s", name, strerror(-idx));
	} else {
		r = read_index(idx, &blob, &len);
		close(idx);
		if (r < 0)
			log_err("kernel backend: session %s: reading its index: %s", name,
				strerror(-r));
		else if (kindex_read(blob, len, &rd, &rs) < 0)
			log_err("kernel backend: session %s: its index is refused; its memfds are released",
				name);
		if (blob)
			munmap(blob, len);
	}
	log_info("kernel backend: the kexec brought %zu sessions: %u memfds carried, %u listeners "
		 "re-created, %u files not carried",
		 rs.sessions, kb.carried, kb.recreated, kb.lost);
	/* what luod took is its own now; what it did not is released */
	r = ks_finish(ksession);
	if (r < 0)
		log_warn("kernel backend: finishing session %s: %s", name, strerror(-r));
	if (rs.sessions)
		core_notify();
}

/* ---- where the kernel session comes from ---- */

static void use_session(int fd, const char *name, enum luo_kernel_mode mode)
{
	kb.session = fd;
	kb.mode = mode;
	kb.index_in = false;
	kb.next_ktoken = LUO_KINDEX_TOKEN + 1;
	luo_index_free(&kb.ktokens);
	snprintf(kb.session_name, sizeof(kb.session_name), "%s", name);
}

/* A LUO session fd among those systemd passed: taken, or -ENOENT. */
static int systemd_session(char *name, size_t len)
{
	int *fds;
	char **names;
	size_t n = systemd_passed_fds(&fds, &names);

	for (size_t i = 0; i < n; i++) {
		if (fds[i] < 0 || session_fd_name(fds[i], name, len) < 0)
			continue;
		log_info("kernel backend: systemd passed kernel session \"%s\" (fd name %s)", name,
			 names[i] ? names[i] : "");
		{
			int fd = fds[i];

			fds[i] = -1;
			fcntl(fd, F_SETFD, FD_CLOEXEC);
			return fd;
		}
	}
	return -ENOENT;
}

/* Through the device: the last kexec's "luod" (restored), then a new outgoing one. */
static int device_start(bool restore)
{
	int dev = open(kb.device, O_RDWR | O_CLOEXEC), fd, r = 0;
	struct stat st;

	if (dev < 0)
		return -errno;
	if (fstat(dev, &st) < 0 || !S_ISCHR(st.st_mode)) {
		close(dev);
		return -ENODEV;
	}
	if (restore) {
		fd = device_session(dev, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, LUO_KERNEL_SESSION);
		if (fd >= 0) {
			restore_from(fd, LUO_KERNEL_SESSION);
			close(fd);
		} else if (fd != -ENOENT) {
			log_warn("kernel backend: retrieving session %s: %s", LUO_KERNEL_SESSION,
				 strerror(-fd));
		}
	}
	fd = device_session(dev, LIVEUPDATE_IOCTL_CREATE_SESSION, LUO_KERNEL_SESSION);
	if (fd < 0)
		r = fd;
	else
		use_session(fd, LUO_KERNEL_SESSION, LUO_KERNEL_MODE_DEVICE);
	close(dev); /* free for systemd; the session lives on through its own fd */
	return r;
}

/*
 * luod's own update: a session systemd passed crosses the execve with luod
 * (its fd number and whether it was filled in SESSION_ENV), as luod could
 * not get another; its own session through the device does not, the
 * successor makes a fresh one.
 */
static void update_step(enum luo_obs_step step, int result)
{
	char v[32];

	(void)result;
	if (kb.session < 0 || kb.mode != LUO_KERNEL_MODE_SYSTEMD)
		return;
	if (step == LUO_OBS_UPDATE_EXEC) {
		snprintf(v, sizeof(v), "%d %d", kb.session, kb.index_in);
		setenv(SESSION_ENV, v, 1);
		fcntl(kb.session, F_SETFD, 0);
	} else if (step == LUO_OBS_UPDATE_EXEC_FAILED) {
		unsetenv(SESSION_ENV);
		fcntl(kb.session, F_SETFD, FD_CLOEXEC);
	}
}

static const struct luo_observer kernel_observer = { .update_step = update_step };

/* The session the predecessor had from systemd, or -ENOENT. */
static int inherited_session(char *name, size_t len, bool *filled)
{
	const char *e = getenv(SESSION_ENV);
	int fd = -1, in = 0;

	if (!e)
		return -ENOENT;
	if (sscanf(e, "%d %d", &fd, &in) != 2 || fd < 0 || session_fd_name(fd, name, len) < 0) {
		log_warn("kernel backend: $%s=\"%s\" names no kernel session; ignored", SESSION_ENV, e);
		unsetenv(SESSION_ENV);
		return -ENOENT;
	}
	unsetenv(SESSION_ENV);
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	*filled = in != 0;
	return fd;
}

/*
 * Finds luod's kernel session (one systemd passed, else its own through
 * the device) and, when restore is set (a fresh start, not luod's own
 * update), rebuilds what the last kexec carried as incoming sessions.
 * required: fail when no kernel session can be had.
 */
static int kernel_start(bool restore, bool required)
{
	const char *device = LUO_KERNEL_DEVICE;
	char name[LUO_NAME_MAX];
	bool filled = false;
	int fd, r;

	kb.device = device;
	kb.liveupdate_num = read_liveupdate_num();
	core_observe(&kernel_observer);
	if (!restore && (fd = inherited_session(name, sizeof(name), &filled)) >= 0) {
		use_session(fd, name, LUO_KERNEL_MODE_SYSTEMD);
		kb.index_in = filled;
		log_info("kernel backend: systemd's session \"%s\" again, from the predecessor", name);
		return 0;
	}
	if (restore)
		unsetenv(SESSION_ENV); /* a fresh start inherits no session that way */
	fd = restore ? systemd_session(name, sizeof(name)) : -ENOENT;
	if (fd >= 0) {
		/* an incoming one (after a kexec) answers RETRIEVE_FD; an outgoing one EINVAL */
		int idx = ks_retrieve(fd, LUO_KINDEX_TOKEN);

		if (idx >= 0 || idx == -ENOENT) {
			if (idx >= 0)
				close(idx);
			restore_from(fd, name);
			close(fd);
			/* a finished session takes nothing more: the next one from the device */
			r = device_start(false);
			if (r < 0)
				log_warn("kernel backend: no new kernel session after systemd's (%s): "
					 "a kexec now would carry nothing",
					 strerror(-r));
		} else {
			use_session(fd, name, LUO_KERNEL_MODE_SYSTEMD);
			r = 0;
		}
	} else {
		r = device_start(restore);
		if (r < 0) {
			log_err("kernel backend: %s: %s", device, strerror(-r));
			if (required)
				return r;
			log_warn("kernel backend: without a kernel session a kexec carries nothing");
		}
	}
	log_info("kernel backend: %s, live-update number %" PRIu64 ", kernel session %s%s%s",
		 kb.mode == LUO_KERNEL_MODE_SYSTEMD ? "systemd's session"
		 : kb.mode == LUO_KERNEL_MODE_DEVICE ? device : "no kernel session",
		 kb.liveupdate_num, kb.session >= 0 ? "\"" : "none", kb.session_name,
		 kb.session >= 0 ? "\"" : "");
	return 0;
}

static void kernel_stop(void)
{
	if (kb.session >= 0)
		close(kb.session);
	kb.session = -1;
	luo_index_free(&kb.ktokens);
}

/* ---- before the kexec ---- */

static bool hugetlb(int fd)
{
	struct statfs sf;

	return fstatfs(fd, &sf) == 0 && sf.f_type == HUGETLBFS_MAGIC;
}

static enum luo_file_where kernel_where(const struct luo_file *f)
{
	if (f->session && f->session->incoming)
		return (enum luo_file_where)f->where;
	if (f->handler == &luo_memfd_handler && kb.session >= 0 && !hugetlb(f->fd))
		return LUO_WHERE_KERNEL;
	if (f->handler == &luo_socket_handler && relisten_candidate(f->fd))
		return LUO_WHERE_RECREATED;
	return LUO_WHERE_LUOD;
}

/* Into the kernel session, once per open memfd: a second fill finds its token. */
static int preserve_memfd(const struct luo_file *f, uint64_t *ret)
{
	void *known = luo_index_get(&kb.ktokens, (uint64_t)f->ino);
	uint64_t t;
	int r;

	if (known) {
		*ret = (uint64_t)(uintptr_t)known - 1;
		return 0;
	}
	t = kb.next_ktoken;
	r = ks_preserve(kb.session, f->fd, t);
	if (r < 0)
		return r;
	kb.next_ktoken++;
	luo_index_put(&kb.ktokens, (uint64_t)f->ino, (void *)(uintptr_t)(t + 1));
	*ret = t;
	return 0;
}

struct fill {
	uint32_t kernel, recreated, lost;
};

static void classify(const struct luo_file *f, struct kindex_file *kf, void *ctx)
{
	struct fill *fl = ctx;
	enum luo_file_where where = kernel_where(f);
	int r;

	memset(kf, 0, sizeof(*kf));
	kf->token = f->token;
	kf->compatible = f->handler->compatible;
	kf->payload = f->payload;
	kf->payload_len = f->payload_len;
	kf->where = LUO_WHERE_LOST;
	if (where == LUO_WHERE_KERNEL) {
		r = preserve_memfd(f, &kf->ktoken);
		if (r == 0) {
			kf->where = LUO_WHERE_KERNEL;
			fl->kernel++;
			return;
		}
		log_warn("kernel backend: session %s token %" PRIu64 ": the kernel refuses the memfd: "
			 "%s; it will not be carried",
			 f->session->name, f->token, strerror(-r));
	} else if (where == LUO_WHERE_RECREATED) {
		r = relisten_record(f->fd, &kf->listen);
		if (r == 0) {
			kf->where = LUO_WHERE_RECREATED;
			fl->recreated++;
			return;
		}
		log_warn("kernel backend: session %s token %" PRIu64 ": recording the listener: %s",
			 f->session->name, f->token, strerror(-r));
	}
	fl->lost++;
}

/* A new "luod" session through the device: the old one goes with what it held. */
static int renew_session(void)
{
	int dev, fd;

	if (kb.mode != LUO_KERNEL_MODE_DEVICE)
		return -EBUSY; /* systemd's session: luod cannot make another */
	close(kb.session);
	kb.session = -1;
	dev = open(kb.device, O_RDWR | O_CLOEXEC);
	if (dev < 0)
		return -errno;
	fd = device_session(dev, LIVEUPDATE_IOCTL_CREATE_SESSION, LUO_KERNEL_SESSION);
	close(dev);
	if (fd < 0)
		return fd;
	use_session(fd, LUO_KERNEL_SESSION, LUO_KERNEL_MODE_DEVICE);
	return 0;
}

/* Every outgoing session's memfds and the index into the kernel session. */
static int fill_kernel_session(void)
{
	struct fill fl = { 0 };
	int idx, r;

	if (kb.session < 0)
		return -ENODEV;
	if (kb.index_in && (r = renew_session()) < 0)
		return r;
	idx = kindex_write(classify, &fl);
	if (idx < 0)
		return idx;
	r = ks_preserve(kb.session, idx, LUO_KINDEX_TOKEN);
	close(idx);
	if (r < 0) {
		log_err("kernel backend: preserving the index: %s", strerror(-r));
		return r;
	}
	kb.index_in = true;
	log_info("kernel backend: kernel session %s filled: %u memfds, %u listeners to re-create, "
		 "%u files that will not cross",
		 kb.session_name, fl.kernel, fl.recreated, fl.lost);
	return 0;
}

/*
 * Load the next kernel (kernel_fd, initrd_fd or -1, cmdline NUL-terminated)
 * with kexec_file_load, then fill the kernel session. The reboot itself
 * waits for kernel_reboot(), after the requester has been answered.
 */
static int kernel_load(int kernel_fd, int initrd_fd, const char *cmdline, size_t len)
{
	unsigned long flags = initrd_fd < 0 ? KEXEC_FILE_NO_INITRAMFS : 0;
	int r;

	if (!len || cmdline[len - 1] != '\0' || strlen(cmdline) + 1 != len)
		return -EINVAL;
	if (syscall(SYS_kexec_file_load, kernel_fd, initrd_fd, (unsigned long)len, cmdline,
		    flags) < 0) {
		r = -errno;
		log_err("kernel backend: kexec_file_load: %s", strerror(-r));
		return r;
	}
	r = fill_kernel_session();
	if (r < 0) {
		log_err("kernel backend: filling the kernel session: %s; the next kernel is unloaded",
			strerror(-r));
		syscall(SYS_kexec_file_load, -1, -1, 0UL, NULL, (unsigned long)KEXEC_FILE_UNLOAD);
		return r;
	}
	log_info("kernel backend: next kernel loaded, rebooting into it");
	kb.kexec_loaded = true;
	return 0;
}

/* After the answer to a successful load: the live update proper. Returns only on failure. */
static void kernel_reboot(void)
{
	if (!kb.kexec_loaded)
		return;
	kb.kexec_loaded = false;
	sync();
	/* the kernel serializes every session whose fd is open: luod's is */
	if (reboot(LINUX_REBOOT_CMD_KEXEC) < 0)
		log_err("kernel backend: reboot(KEXEC): %s", strerror(errno));
}

static void kernel_status(struct luo_msg_kernel_status *st)
{
	st->liveupdate_num = kb.liveupdate_num;
	st->sessions = kb.session >= 0;
	st->mode = (uint32_t)(kb.session >= 0 ? kb.mode : LUO_KERNEL_MODE_NONE);
	st->carried = kb.carried;
	st->recreated = kb.recreated;
	st->lost = kb.lost;
	snprintf(st->session_name, sizeof(st->session_name), "%s", kb.session >= 0 ? kb.session_name : "");
	for (const struct luo_session *s = core_first_session(); s; s = s->next) {
		if (s->incoming)
			continue;
		for (size_t i = 0; i < s->nfiles; i++) {
			enum luo_file_where w = kernel_where(s->files[i]);

			if (w == LUO_WHERE_KERNEL)
				st->kernel_files++;
			else if (w == LUO_WHERE_RECREATED)
				st->recreate_files++;
			else
				st->luod_files++;
		}
	}
}

const struct luo_backend_ops luo_backend_kernel = {
	.name = "kernel",
	.backend = LUO_BACKEND_KERNEL,
	.start = kernel_start,
	.stop = kernel_stop,
	.where = kernel_where,
	.status = kernel_status,
	.load = kernel_load,
	.reboot = kernel_reboot,
};
