// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * DOC: The global live update: PREPARE -> FREEZE -> FDT -> execve.
 *
 * luod replaces itself the way kexec replaces a kernel: every preserved fd
 * that crosses (luod holds them without close-on-exec already), the
 * listening socket, the connection that asked for the update and the
 * sealed FDT memfd lose close-on-exec, everything else keeps it or gets
 * it (so every other client connection drops, as processes die in a
 * kexec), and luod execs its own binary or the one given. The successor
 * finds the FDT through --handover-fd and answers the requester once it
 * serves.
 *
 * Unhappy paths: a failed PREPARE or FREEZE has already undone itself; a
 * failed FDT write or execve restores close-on-exec, drops the blob and
 * cancels, so luod carries on in NORMAL (or UPDATED) with every session as
 * it was.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/luod.h"
#include "base/fault.h"
#include "core/observer.h"

extern char **environ;

/* FD_CLOEXEC is the only fd flag, so no F_GETFD round trip is needed. */
static int set_cloexec(int fd, bool on)
{
	return fcntl(fd, F_SETFD, on ? FD_CLOEXEC : 0) < 0 ? -errno : 0;
}

/*
 * Close-on-exec off on exactly what crosses the execve, on before it on
 * what does not (carry), or back on the update's own three fds if the
 * execve failed (!carry). A preserved fd's is off already as luod holds it
 * (luo_file.exec_ok): no call per fd for 10,000 of them, only for those
 * recovered from the keeper or systemd and the few that stay behind. Left
 * off after a failed execve: that is how luod holds them.
 */
static int carry_fds(const struct luo_update_request *req, int handover_fd, bool carry)
{
	int r = 0;

	for (struct luo_session *s = core_first_session(); carry && s; s = s->next) {
		bool crosses = !s->incoming && s->state == LUO_STATE_FROZEN;

		for (size_t i = 0; i < s->nfiles; i++) {
			struct luo_file *f = s->files[i];

			if (f->exec_ok == crosses)
				continue;
			if (set_cloexec(f->fd, !crosses) < 0)
				r = -errno;
			else
				f->exec_ok = crosses;
		}
	}
	if (req->listen_fd >= 0 && set_cloexec(req->listen_fd, !carry) < 0 && carry)
		r = -errno;
	if (req->reply_fd >= 0 && set_cloexec(req->reply_fd, !carry) < 0 && carry)
		r = -errno;
	if (set_cloexec(handover_fd, !carry) < 0 && carry)
		r = -errno;
	return r;
}

static struct {
	bool active;
	struct luo_update_request req;
	char exec_path[LUO_PATH_MAX];
	struct luo_handover_luod h;
	int error;
	void (*failed)(int result, void *ctx);
	void *ctx;
} up;

static void end_failed(int result)
{
	void (*failed)(int, void *) = up.failed;
	void *ctx = up.ctx;

	up.active = false;
	observe_update_step(LUO_OBS_UPDATE_FAILED, result);
	if (failed)
		failed(result, ctx);
}

static void after_cancel(int result, void *ctx)
{
	(void)result;
	(void)ctx;
	end_failed(up.error);
}

static void cancel_and_fail(int error)
{
	int r;

	up.error = error;
	r = core_event_async(LUO_EVENT_CANCEL, after_cancel, NULL);
	if (r != 1)
		after_cancel(0, NULL);
}

/*
 * The path /proc/self/exe links to while that file is still the one
 * running, else /proc/self/exe itself (the link reads "... (deleted)" once
 * an upgrade replaced the file: the old binary it is). The path, not the
 * link, is what valgrind --trace-children can follow: under valgrind the
 * kernel's /proc/self/exe is valgrind itself.
 */
const char *luod_self_exe(void)
{
	static char buf[4096];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);

	if (n <= 0 || (size_t)n >= sizeof(buf) - 1)
		return "/proc/self/exe";
	buf[n] = '\0';
	if (buf[0] != '/' || strstr(buf, " (deleted)"))
		return "/proc/self/exe";
	return buf;
}

/* Frozen: write the handover and execve. Returns only if that failed. */
static void after_frozen(int result, void *ctx)
{
	const struct luo_update_request *req = &up.req;
	const char *path = req->exec_path ? req->exec_path : luod_self_exe();
	char fd_arg[32], ns_arg[64];
	size_t argc, bytes = 0;
	char **argv;
	int fd, r;

	(void)ctx;
	if (result < 0) {
		end_failed(result); /* FREEZE already went back to where it was */
		return;
	}
	up.h.marks[LUO_MARK_FREEZE] = core_prepared_ns() ? core_prepared_ns() : up.h.marks[0];
	up.h.marks[LUO_MARK_FROZEN] = now_ns();
	observe_update_step(LUO_OBS_UPDATE_FROZEN, 0);
	up.h.reply_fd = req->reply_fd;

	for (argc = 0; req->argv[argc]; argc++)
		;
	argv = FAULT("alloc") ? NULL : calloc(argc + 3, sizeof(*argv));
	if (!argv) {
		cancel_and_fail(-ENOMEM);
		return;
	}
	fd = FAULT("fdt") ? -EIO : luo_handover_write(&up.h, &bytes);
	if (fd < 0) {
		log_err("update: writing the handover: %s", strerror(-fd));
		free(argv);
		cancel_and_fail(fd);
		return;
	}
	r = carry_fds(req, fd, true);
	if (r < 0) {
		log_err("update: clearing close-on-exec: %s", strerror(-r));
		goto restore;
	}

	argv[0] = (char *)path;
	for (size_t i = 1; i < argc; i++)
		argv[i] = req->argv[i];
	snprintf(fd_arg, sizeof(fd_arg), "--handover-fd=%d", fd);
	argv[argc] = fd_arg;
	/*
	 * No state file write here: it is a disk write in the blackout, and
	 * the successor writes "updated" before it answers; meanwhile the file
	 * shows the state before the update, as during any other blackout.
	 */
	/* the watchers' connections close, the keeper drops what does not cross */
	observe_update_step(LUO_OBS_UPDATE_EXEC, 0);
	log_info("update: handover of %zu bytes in fd %d; exec %s", bytes, fd, path);
	snprintf(ns_arg, sizeof(ns_arg), "--handover-exec-ns=%" PRIu64, now_ns());
	argv[argc + 1] = ns_arg;
	luod_test_pause("exec");
	if (FAULT("exec"))
		errno = EIO;
	else
		execve(path, argv, environ);
	r = -errno;
	log_err("update: execve %s: %s; rolling back", path, strerror(-r));
	observe_update_step(LUO_OBS_UPDATE_EXEC_FAILED, r);

restore:
	carry_fds(req, fd, false);
	close(fd);
	free(argv);
	cancel_and_fail(r);
}

int update_start(const struct luo_update_request *req, void (*failed)(int result, void *ctx),
		 void *ctx)
{
	const char *path = req->exec_path ? req->exec_path : "/proc/self/exe";
	int r;

	if (up.active || core_busy())
		return -EBUSY;
	if (access(path, X_OK) < 0) {
		r = -errno;
		log_err("update: %s is not executable: %s", path, strerror(-r));
		return r;
	}
	luo_fault_update_started();
	up = (__typeof__(up)){ .active = true, .req = *req, .failed = failed, .ctx = ctx };
	if (req->exec_path) {
		snprintf(up.exec_path, sizeof(up.exec_path), "%s", req->exec_path);
		up.req.exec_path = up.exec_path;
	}
	up.h = (struct luo_handover_luod){
		.listen_fd = req->listen_fd,
		.listen_activated = req->listen_activated,
		.reply_fd = req->reply_fd,
		.updates = core_updates(),
		.instance = core_instance(),
	};
	log_info("update: starting (generation %" PRIu64 ", %zu sessions, %zu files)",
		 core_generation(), core_session_count(), core_file_count());
	up.h.marks[LUO_MARK_PREPARE] = now_ns();
	observe_update_step(LUO_OBS_UPDATE_START, 0);
	core_clear_prepared();
	if (core_state() == LUO_STATE_FROZEN) {
		after_frozen(0, NULL);
		return 0;
	}
	r = core_event_async(LUO_EVENT_FREEZE, after_frozen, NULL);
	if (r == 1)
		return 0;
	after_frozen(r, NULL);
	return 0;
}

void update_requester_gone(void)
{
	if (up.active)
		up.req.reply_fd = -1;
}
