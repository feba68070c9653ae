// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * DOC: Preserved files.
 *
 * A luo_file is luod's own copy of a preserved fd plus the handler's record
 * of it. Lifecycle, outgoing side:
 *   preserve -> [freeze -> unfreeze]* -> freeze -> (handover) ;
 *   or unpreserve at any point before freeze.
 * Incoming side (rebuilt from the FDT, or a session handed over in place):
 *   retrieve* -> finish ; a file never retrieved is simply released.
 *
 * The same open file may be preserved only once among all outgoing sessions
 * (EBUSY), as in the kernel where a struct file can belong to one session.
 * Outgoing files are indexed by inode; kcmp(KCMP_FILE) decides among files
 * that share one, so two opens of the same path are still distinct files.
 */
#include <errno.h>
#include <linux/kcmp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/luod.h"
#include "core/state.h"
#include "core/observer.h"
#include "base/fault.h"

/* The handlers, in the order they are asked (handlers/handlers.c registers them). */
#define HANDLERS_MAX 16
static const struct luo_file_handler *handlers[HANDLERS_MAX];
static size_t nhandlers;

void luo_handler_register(const struct luo_file_handler *h)
{
	for (size_t i = 0; i < nhandlers; i++)
		if (handlers[i] == h)
			return;
	if (nhandlers < HANDLERS_MAX)
		handlers[nhandlers++] = h;
}

const struct luo_file_handler *luo_handler_named(const char *name)
{
	for (size_t i = 0; i < nhandlers; i++)
		if (!strcmp(handlers[i]->name, name))
			return handlers[i];
	return NULL;
}

const struct luo_file_handler *luo_handler_find(int fd, const struct stat *st,
						struct luo_probe *probe)
{
	for (size_t i = 0; i < nhandlers; i++)
		if (handlers[i]->can_preserve(fd, st, probe))
			return handlers[i];
	return NULL;
}

const struct luo_file_handler *luo_handler_by_compatible(const char *compatible)
{
	for (size_t i = 0; i < nhandlers; i++)
		if (!strcmp(handlers[i]->compatible, compatible) ||
		    (handlers[i]->compatible_old && !strcmp(handlers[i]->compatible_old, compatible)))
			return handlers[i];
	return NULL;
}

void luo_handlers_freeze_round(bool begin)
{
	for (size_t i = 0; i < nhandlers; i++)
		if (handlers[i]->freeze_round)
			handlers[i]->freeze_round(begin);
}

static uint64_t inode_key(dev_t dev, ino_t ino)
{
	return (uint64_t)ino ^ ((uint64_t)dev * 0x9e3779b97f4a7c15ull);
}

static bool same_open_file(int a, int b)
{
	pid_t self = getpid();

	return syscall(SYS_kcmp, self, self, KCMP_FILE, a, b) == 0;
}

static bool outgoing_busy(int fd, const struct stat *st)
{
	struct luo_file *f = luo_index_get(&luo_core.inodes, inode_key(st->st_dev, st->st_ino));

	for (; f; f = f->ino_next)
		if (f->dev == st->st_dev && f->ino == st->st_ino && same_open_file(f->fd, fd))
			return true;
	return false;
}

static int index_add(struct luo_file *file)
{
	uint64_t key = inode_key(file->dev, file->ino);
	int r;

	file->ino_next = luo_index_get(&luo_core.inodes, key);
	r = luo_index_put(&luo_core.inodes, key, file);
	if (r < 0)
		return r;
	file->indexed = true;
	return 0;
}

static void index_del(struct luo_file *file)
{
	uint64_t key = inode_key(file->dev, file->ino);
	struct luo_file *head = luo_index_get(&luo_core.inodes, key), **pp;

	if (!file->indexed)
		return;
	file->indexed = false;
	if (head == file) {
		if (file->ino_next)
			luo_index_put(&luo_core.inodes, key, file->ino_next);
		else
			luo_index_del(&luo_core.inodes, key);
		return;
	}
	for (pp = &head->ino_next; *pp; pp = &(*pp)->ino_next)
		if (*pp == file) {
			*pp = file->ino_next;
			return;
		}
}

int file_set_payload(struct luo_file *file, const void *data, size_t len)
{
	if (len > LUO_PAYLOAD_MAX)
		return -EOVERFLOW;
	if (FAULT("alloc"))
		return -ENOMEM;
	return core_buf_set(&file->payload, &file->payload_len, data, len);
}

static void file_free(struct luo_file *file)
{
	flb_file_removed(file);
	index_del(file);
	if (file->fd < 0)
		;
	else if (file->handler->close_never_blocks)
		luo_close_never_blocks(file->fd);
	else if (file->handler->type == S_IFSOCK)
		luo_close_socket(file->fd);
	else
		luo_close(file->fd); /* a FUSE file's FLUSH may never be answered */
	free(file->payload);
	free(file);
}

int file_preserve(struct luo_session *s, int fd, uint64_t token, struct luo_file **ret)
{
	const struct luo_file_handler *h;
	struct luo_probe probe;
	struct luo_file *file;
	struct stat st;
	int r;

	if (session_find_file(s, token))
		return -EEXIST;
	r = luo_fstat(fd, &st);
	if (r < 0)
		return r;
	if (outgoing_busy(fd, &st))
		return -EBUSY;
	h = luo_handler_find(fd, &st, &probe);
	if (!h)
		return -ENOENT;

	file = FAULT("alloc") ? NULL : calloc(1, sizeof(*file));
	if (!file)
		return -ENOMEM;
	*file = (struct luo_file){
		.session = s, .handler = h, .token = token, .fd = -1,
		.dev = st.st_dev, .ino = st.st_ino,
	};
	file->fd = fd;
	r = FAULT("handler") ? -EIO : h->preserve(file, &probe);
	if (r < 0)
		goto err;
	r = index_add(file);
	if (r < 0) {
		if (h->unpreserve)
			h->unpreserve(file);
		goto err;
	}
	flb_file_added(file);
	observe_file_added(file); /* to the keeper, before the client hears "preserved" */
	*ret = file;
	return 0;
err:
	file->fd = -1; /* the caller still owns fd */
	file_free(file);
	return r;
}

void file_unpreserve(struct luo_file *file)
{
	if (file->frozen)
		file_unfreeze(file);
	if (file->handler->unpreserve)
		file->handler->unpreserve(file);
	observe_file_gone(file);
	file_free(file);
}

/*
 * The freeze of 10,000 memfds is 10,000 fstat()s in the blackout, each
 * about 1 us on an inode the cache has lost: on two CPUs, two threads do
 * it in about half the time. Only handlers whose freeze() touches nothing
 * but its own file (.freeze_parallel) run on the second thread; the
 * results are taken in the order the freeze walks the files, so that
 * everything else (FAULT, the FLB, an error's unwinding) happens as
 * before, on this thread, and the first half's while the second thread
 * still works on its own: it is joined when the walk reaches its half.
 */
#define PREFREEZE_MIN 2048

static struct {
	struct luo_file **files;
	int *r;
	size_t n, next;
	pthread_t thread; /* doing [n / 2, n), until joined */
	bool running;
} pre;

/* The second half's results are there once the thread that makes them is joined. */
static void prefreeze_join(void)
{
	if (pre.running)
		pthread_join(pre.thread, NULL);
	pre.running = false;
}

static void prefreeze_range(size_t from, size_t to)
{
	for (size_t i = from; i < to; i++)
		pre.r[i] = pre.files[i]->handler->freeze(pre.files[i]);
}

static void *prefreeze_thread(void *arg)
{
	(void)arg;
	prefreeze_range(pre.n / 2, pre.n);
	return NULL;
}

/* The files freeze_all() is about to freeze with file_freeze(), in its order. */
static size_t prefreeze_collect(struct luo_file **out)
{
	size_t n = 0;

	for (struct luo_session *s = luo_core.sessions; s; s = s->next) {
		if (!s->in_global_update || s->incoming || s->state == LUO_STATE_FROZEN ||
		    s->state == LUO_STATE_UPDATED)
			continue;
		for (size_t i = 0; i < s->nfiles; i++) {
			struct luo_file *f = s->files[i];

			if (!f->frozen && f->handler->freeze_parallel) {
				if (out)
					out[n] = f;
				n++;
			}
		}
	}
	return n;
}

void file_prefreeze_begin(void)
{
	size_t n = prefreeze_collect(NULL);

	pre = (__typeof__(pre)){ 0 };
	if (n < PREFREEZE_MIN)
		return;
	pre.files = malloc(n * sizeof(*pre.files));
	pre.r = malloc(n * sizeof(*pre.r));
	if (!pre.files || !pre.r) {
		file_prefreeze_end();
		return;
	}
	pre.n = prefreeze_collect(pre.files);
	if (pthread_create(&pre.thread, NULL, prefreeze_thread, NULL) != 0) {
		file_prefreeze_end(); /* file_freeze() calls freeze() itself */
		return;
	}
	pre.running = true;
	/* the first half here; the freeze takes its results while the thread does the rest */
	prefreeze_range(0, pre.n / 2);
}

void file_prefreeze_end(void)
{
	prefreeze_join();
	free(pre.files);
	free(pre.r);
	pre = (__typeof__(pre)){ 0 };
}

int file_freeze(struct luo_file *file)
{
	bool done = pre.next < pre.n && pre.files[pre.next] == file;
	int r;

	if (file->frozen)
		return 0;
	if (done && pre.next == pre.n / 2)
		prefreeze_join(); /* the thread's half from here on */
	if (done)
		pre.next++;
	r = FAULT("handler") ? -EIO : done ? pre.r[pre.next - 1] : file->handler->freeze(file);
	if (r < 0)
		return r;
	file->frozen = true;
	flb_file_changed(file);
	return 0;
}

void file_unfreeze(struct luo_file *file)
{
	if (!file->frozen)
		return;
	if (file->handler->unfreeze)
		file->handler->unfreeze(file);
	file->frozen = false;
}

int file_retrieve(struct luo_file *file)
{
	int r;

	if (file->retrieve_error)
		return file->retrieve_error;
	if (!file->retrieved) {
		r = FAULT("handler") ? -EIO : file->handler->retrieve(file);
		if (r < 0) {
			file->retrieve_error = r;
			return r;
		}
		file->retrieved = true;
	}
	return file->fd;
}

int file_finish(struct luo_file *file)
{
	/* a file that never crossed (file_restore_lost) has nothing to finish */
	int r = 0;

	if (file->fd >= 0 && FAULT("handler"))
		r = -EIO;
	else if (file->fd >= 0 && file->handler->finish)
		r = file->handler->finish(file);

	if (r < 0)
		return r;
	observe_file_gone(file);
	file_free(file);
	return 0;
}

static int restore(struct luo_session *s, int fd, uint64_t token,
		   const struct luo_file_handler *h, const void *payload, size_t len,
		   const struct stat *st, struct luo_file **ret)
{
	struct luo_file *file = calloc(1, sizeof(*file));
	int r;

	if (!file)
		return -ENOMEM;
	/* dev and ino index outgoing files only: unused, and 0 without the fstat() */
	*file = (struct luo_file){
		.session = s, .handler = h, .token = token, .fd = -1,
		.dev = st->st_dev, .ino = st->st_ino, .frozen = true,
	};
	r = file_set_payload(file, payload, len);
	if (r < 0) {
		file_free(file);
		return r;
	}
	file->fd = fd;
	flb_file_added(file);
	*ret = file;
	return 0;
}

int file_restore(struct luo_session *s, int fd, uint64_t token,
		     const struct luo_file_handler *h, const void *payload, size_t len,
		     struct luo_file **ret)
{
	struct stat st = { 0 };
	int r;

	/* cheap here; the handler's retrieve() checks the rest */
	if (h->is_type) {
		r = h->is_type(fd);
		if (r < 0)
			return r;
	} else {
		r = luo_fstat(fd, &st);
		if (r < 0)
			return r;
		if ((st.st_mode & S_IFMT) != h->type)
			return -EBADFD; /* the fd is not of the type the handover says */
	}
	return restore(s, fd, token, h, payload, len, &st, ret);
}

int file_restore_unchecked(struct luo_session *s, int fd, uint64_t token,
			   const struct luo_file_handler *h, const void *payload, size_t len,
			   struct luo_file **ret)
{
	static const struct stat none;

	if (!h->retrieve_checks_type)
		return file_restore(s, fd, token, h, payload, len, ret);
	return restore(s, fd, token, h, payload, len, &none, ret);
}

int file_restore_lost(struct luo_session *s, uint64_t token, const struct luo_file_handler *h,
		      const void *payload, size_t len, int error, struct luo_file **ret)
{
	struct luo_file *file = calloc(1, sizeof(*file));
	int r;

	if (!file)
		return -ENOMEM;
	*file = (struct luo_file){
		.session = s, .handler = h, .token = token, .fd = -1, .frozen = true,
		.retrieve_error = error, .where = LUO_WHERE_LOST,
	};
	r = file_set_payload(file, payload, len);
	if (r < 0) {
		free(file);
		return r;
	}
	*ret = file;
	return 0;
}

/*
 * An incoming file made outgoing again: checked as a retrieve checks it,
 * recorded afresh as a preserve records it, and indexed (EBUSY if the same
 * open file is already preserved elsewhere). On error it is as it was.
 */
int file_renew(struct luo_file *file)
{
	const struct luo_file_handler *h;
	struct luo_probe probe;
	unsigned char *old = file->payload;
	size_t old_len = file->payload_len;
	dev_t dev = file->dev;
	ino_t ino = file->ino;
	struct stat st;
	int r = file_retrieve(file);

	if (r < 0)
		return r;
	r = luo_fstat(file->fd, &st);
	if (r < 0)
		return r;
	if (!file->indexed && outgoing_busy(file->fd, &st))
		return -EBUSY;
	h = luo_handler_find(file->fd, &st, &probe);
	if (h != file->handler)
		return -EBADFD; /* no longer the type it was preserved as */
	file->payload = NULL;
	file->payload_len = 0;
	if (!file->indexed) { /* an indexed file's key must stay what it is */
		file->dev = st.st_dev;
		file->ino = st.st_ino;
	}
	r = FAULT("handler") ? -EIO : h->preserve(file, &probe);
	if (r == 0 && !file->indexed) {
		r = index_add(file);
		if (r < 0)
			if (h->unpreserve)
			h->unpreserve(file);
	}
	if (r < 0) {
		free(file->payload);
		file->payload = old;
		file->payload_len = old_len;
		file->dev = dev;
		file->ino = ino;
		return r;
	}
	free(old);
	file->frozen = false;
	file->retrieved = false;
	flb_file_changed(file);
	return 0;
}

void file_renew_undo(struct luo_file *file, bool unindex)
{
	if (file->handler->unpreserve)
		file->handler->unpreserve(file);
	if (unindex)
		index_del(file);
	file->frozen = true;
	file->retrieved = true;
	flb_file_changed(file);
}

void file_release(struct luo_file *file)
{
	observe_file_gone(file);
	file_free(file);
}

uint64_t file_size(const struct luo_file *file)
{
	return file->handler->size ? file->handler->size(file) : 0;
}
