// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * DOC: Closes that may block, off the main loop.
 *
 * luod closes fds its clients sent it: refused ones, files let go of, the
 * copies of retrieved files in replies. Most closes return at once, but
 * not all: a file on FUSE sends the filesystem's server a FLUSH on every
 * close() and waits for its answer without a timeout (uninterruptibly,
 * once the request is forced), and the server can be any user's
 * (fusermount, or its own user+mount namespace); NFS, CIFS and 9p flush
 * too; the last close of a TCP socket with SO_LINGER set waits for its
 * unsent data as long as the linger time, years if the owner asks. A
 * close on luod's single loop that waits stops luod for everyone.
 *
 * luo_close() closes at once what cannot wait: shmem files (memfds,
 * tmpfs), files of block-device filesystems, pipes and FIFOs, directories,
 * anonymous inodes, the mem devices, sockets without a linger time (see
 * may_block()). Everything else
 * goes to a closer thread, which closes each in a short-lived process of
 * its own (close_apart()): a close stuck on a server that never answers
 * holds only that process and its one fd, while the attacker holds out,
 * never luod's loop nor an update. luo_close_never_blocks() is for the callers that know the
 * fd is of a kind whose close returns at once (a memfd handler's file):
 * no syscall is added to their close.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/base.h"

#define CLOSERS_MAX 2

static struct {
	pthread_mutex_t lock;
	pthread_cond_t work;
	int *fds;
	size_t n, cap;
	unsigned threads, idle;
} q = { .lock = PTHREAD_MUTEX_INITIALIZER, .work = PTHREAD_COND_INITIALIZER };

/*
 * The close itself, in a process that shares luod's fd table (CLONE_FILES)
 * but not its thread group: the update's execve waits for every thread of
 * luod to die, and one in a FUSE FLUSH does not (the wait of a forced
 * request is uninterruptible); a process of its own does not hold the
 * execve, nor luod's exit. Nobody waits for it: the next fd's close does
 * not queue behind a stuck one (queued fds would be closed by the
 * execve's close-on-exec, on luod's own thread). Its exit signal is 0:
 * no SIGCHLD for luod's loop; only waitpid(__WCLONE) here reaps it, and
 * past APART_MAX not reaped the closer waits for one. Without a process
 * (EAGAIN, or valgrind, which refuses these flags), the close is made here.
 */
#define APART_MAX 256

/* closing processes not reaped: the closer threads' own, not q.lock (the loop takes that) */
static pthread_mutex_t apart_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned apart;

static void reap(bool wait)
{
	pthread_mutex_lock(&apart_lock);
	while (apart) {
		pid_t pid = waitpid(-1, NULL, __WCLONE | (wait && apart >= APART_MAX ? 0 : WNOHANG));

		if (pid > 0) {
			apart--;
			continue;
		}
		if (pid < 0 && errno == EINTR)
			continue;
		if (pid < 0 && errno == ECHILD)
			apart = 0;
		break;
	}
	pthread_mutex_unlock(&apart_lock);
}

static void close_apart(int fd)
{
	long pid;

	reap(true);
	pid = syscall(SYS_clone, CLONE_FILES, NULL, NULL, NULL, NULL);
	if (pid == 0) { /* nothing of libc here: raw syscalls on a copy of this stack */
		syscall(SYS_close, fd);
		syscall(SYS_exit, 0);
	}
	if (pid < 0) {
		close(fd);
		return;
	}
	pthread_mutex_lock(&apart_lock);
	apart++;
	pthread_mutex_unlock(&apart_lock);
}

static void *closer(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&q.lock);
	for (;;) {
		int fd;

		while (!q.n) {
			q.idle++;
			pthread_cond_wait(&q.work, &q.lock);
			q.idle--;
		}
		fd = q.fds[--q.n];
		pthread_mutex_unlock(&q.lock);
		close_apart(fd);
		pthread_mutex_lock(&q.lock);
	}
	return NULL;
}

/*
 * Whether close(fd) may wait for someone else (a filesystem server, a
 * peer): asked without asking the filesystem (fstatfs() would send FUSE a
 * STATFS). Files of filesystems on a block device (ext4, xfs, f2fs)
 * close at once: of those only fuseblk flushes to a server, and only
 * root mounts it. Filesystems without one (major 0) are FUSE, NFS, CIFS,
 * 9p, overlayfs, ...: to a closer, except shmem.
 */
static bool may_block(int fd)
{
	struct statx stx;
	struct linger lg;
	socklen_t len = sizeof(lg);

	if (fcntl(fd, F_GET_SEALS) >= 0)
		return false; /* shmem or hugetlbfs (a memfd): never flushes; one syscall */
	/* DONT_SYNC: the inode's cached type, without asking a FUSE server */
	if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_TYPE, &stx) < 0 ||
	    !(stx.stx_mask & STATX_TYPE))
		return true; /* FUSE of another user namespace tells nothing */
	switch (stx.stx_mode & S_IFMT) {
	case 0:       /* an anonymous inode: eventfd, timerfd, epoll, pidfd, ... */
	case S_IFIFO: /* FIFOs included: a FIFO on FUSE is the pipe's file, not FUSE's */
	case S_IFDIR: /* directories have no flush */
		return false;
	case S_IFSOCK:
		if (getsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, &len) < 0)
			return true;
		return lg.l_onoff && lg.l_linger > 0;
	case S_IFREG:
		return stx.stx_dev_major == 0;
	case S_IFCHR:
		return stx.stx_rdev_major != 1; /* /dev/null, /dev/zero, ...: the mem driver */
	default:
		return true;
	}
}

/* Queued for a closer; false if there is none to take it (the caller closes it here). */
static bool enqueue(int fd)
{
	bool ok = true;

	pthread_mutex_lock(&q.lock);
	if (q.n == q.cap) {
		size_t cap = q.cap ? q.cap * 2 : 64;
		int *fds = realloc(q.fds, cap * sizeof(*fds));

		if (!fds) {
			ok = false;
			goto out;
		}
		q.fds = fds;
		q.cap = cap;
	}
	if (!q.idle && q.threads < CLOSERS_MAX) {
		pthread_t t;
		pthread_attr_t attr;

		if (pthread_attr_init(&attr) == 0) {
			pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
			pthread_attr_setstacksize(&attr, 64 * 1024);
			if (pthread_create(&t, &attr, closer, NULL) == 0)
				q.threads++;
			pthread_attr_destroy(&attr);
		}
		if (!q.threads) {
			ok = false;
			goto out;
		}
	}
	q.fds[q.n++] = fd;
	pthread_cond_signal(&q.work);
out:
	pthread_mutex_unlock(&q.lock);
	return ok;
}

void luo_close(int fd)
{
	if (fd < 0)
		return;
	if (may_block(fd) && enqueue(fd))
		return;
	close(fd);
}

void luo_close_socket(int fd)
{
	struct linger lg;
	socklen_t len = sizeof(lg);

	if (fd < 0)
		return;
	if ((getsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, &len) < 0 || (lg.l_onoff && lg.l_linger > 0)) &&
	    enqueue(fd))
		return;
	close(fd);
}

void luo_close_never_blocks(int fd)
{
	if (fd >= 0)
		close(fd);
}
