// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The global events (`luoctl prepare|freeze|cancel|finish`) and the live
 * update (`luoctl update`: all of luod, one session with --session, or,
 * with luod's kernel backend, the kernel itself with --kernel: kernel.c).
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "luoctl.h"

int cmd_event(const struct luoctl_command *cmd, int argc, char **argv)
{
	static const struct {
		const char *name;
		enum luo_event event;
	} events[] = {
		{ "prepare", LUO_EVENT_PREPARE },
		{ "freeze", LUO_EVENT_FREEZE },
		{ "cancel", LUO_EVENT_CANCEL },
		{ "finish", LUO_EVENT_FINISH },
	};
	enum luo_event event = LUO_EVENT_PREPARE;
	enum luo_state state;
	int dev, r = parse_common(cmd, argc, argv, 0, 0);

	if (r >= 0)
		return r;
	for (size_t i = 0; i < sizeof(events) / sizeof(events[0]); i++)
		if (!strcmp(cmd->name, events[i].name))
			event = events[i].event;
	dev = connect_luod();
	if (dev < 0)
		return 1;
	r = luo_set_event(dev, event);
	if (r == 0)
		r = luo_get_state(dev, &state);
	close(dev);
	if (r < 0)
		return fail(cmd->name, r);
	if (opt.json)
		printf("{\"event\": \"%s\", \"state\": \"%s\"}\n", cmd->name, state_name(state));
	else
		printf("%s: ok, state %s\n", cmd->name, state_name(state));
	return 0;
}

/* SESSION_UPDATE: one session frozen and taken from its process, luod stays. */
static int update_session(int dev, const char *name)
{
	struct luo_msg_name req = { 0 };
	struct luo_msg_session_info si = { 0 };

	strcpy(req.name, name);
	if (call(dev, LUO_OP_SESSION_UPDATE, &req, sizeof(req), name))
		return 1;
	memcpy(&si, reply.body, reply.body_len < sizeof(si) ? reply.body_len : sizeof(si));
	si.name[LUO_NAME_MAX - 1] = '\0';
	if (opt.json) {
		printf("{\"session\": ");
		json_string(stdout, name);
		printf(", \"state\": \"%s\", \"files\": %u}\n", state_name(si.state), si.files);
		return 0;
	}
	{
		char esc[LUO_ESCAPED_NAME_MAX];

		printf("session %s: %s, %u files, held by luod for its successor\n",
		       luo_escape(name, esc, sizeof(esc)), state_name(si.state), si.files);
	}
	return 0;
}

/* One step of the update as luod reports it to a watcher, for the person at the terminal. */
static void progress(const struct luo_msg_watch_event *ev)
{
	if (ev->kind == LUO_WATCH_UPDATE && ev->step == LUO_STEP_START)
		fprintf(stderr, "luoctl: update: started: prepare and freeze %u sessions\n", ev->files);
	else if (ev->kind == LUO_WATCH_UPDATE && ev->step == LUO_STEP_FROZEN)
		fprintf(stderr, "luoctl: update: frozen; writing the handover\n");
	else if (ev->kind == LUO_WATCH_UPDATE && ev->step == LUO_STEP_EXEC)
		fprintf(stderr, "luoctl: update: exec; waiting for the successor to serve\n");
	else if (ev->kind == LUO_WATCH_UPDATE && ev->step == LUO_STEP_FAILED)
		fprintf(stderr, "luoctl: update: failed (%s); rolling back\n", strerror(-ev->result));
	else if (ev->kind == LUO_WATCH_GLOBAL && !(ev->flags & LUO_WATCH_SNAPSHOT))
		fprintf(stderr, "luoctl: update: luod %s\n", state_name(ev->state));
}

/*
 * One event from the watch *w, shown; *w closed and -1 once it ends
 * (luod's execve). Returns whether it was the last step luod reports
 * before its own answer (FAILED; after EXEC the watch ends instead).
 */
static bool progress_one(int *w)
{
	static unsigned char buf[sizeof(struct luo_msg_hdr) + LUO_MSG_MAX];
	struct luo_msg_watch_event ev;
	int fds[LUO_FDS_PER_MSG];
	size_t nfds = 0;
	ssize_t n = luo_msg_recv(*w, buf, sizeof(buf), fds, LUO_FDS_PER_MSG, &nfds);

	for (size_t i = 0; i < nfds; i++)
		close(fds[i]);
	if (n <= 0) {
		close(*w);
		*w = -1;
	} else if ((size_t)n >= sizeof(struct luo_msg_hdr) + sizeof(ev)) {
		memcpy(&ev, buf + sizeof(struct luo_msg_hdr), sizeof(ev));
		progress(&ev);
		return ev.kind == LUO_WATCH_UPDATE && ev.step == LUO_STEP_FAILED;
	}
	return false;
}

/* Whether fd has something to read (or its end) right now. */
static bool readable_now(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	while (poll(&p, 1, 0) < 0)
		if (errno != EINTR)
			return false;
	return p.revents != 0;
}

/*
 * While UPDATE is awaited on dev: luod's steps on stderr, from the watch
 * *ctx (which luod's execve closes). 0 once dev has the answer, and every
 * step queued before it shown: luod sends each step as it happens, before
 * it goes on, so by the time the answer is there (from the successor,
 * after the execve; or luod's own, after a failure) all of them are
 * waiting on the watch. A luoctl that was not scheduled meanwhile finds
 * both at once and must not leave the steps unread. What luod reports
 * after its answer is not waited for: the watch ends at the execve, and
 * FAILED is the last step of an update that did not happen.
 */
static int show_progress(int dev, void *ctx)
{
	int *w = ctx;

	for (;;) {
		struct pollfd p[2] = { { .fd = dev, .events = POLLIN }, { .fd = *w, .events = POLLIN } };
		bool last = false;

		if (poll(p, *w >= 0 ? 2 : 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (*w >= 0 && p[1].revents)
			last = progress_one(w);
		if (p[0].revents) {
			while (!last && *w >= 0 && readable_now(*w))
				last = progress_one(w);
			return 0;
		}
	}
}

/*
 * UPDATE; on a terminal with its steps on stderr as they happen, from a
 * watch on a second connection. The reply lands in `reply`, as
 * luo_call_full() leaves it; the request and its reply are libluo's one
 * call path either way (luo_call_full_wait() only shows the steps while
 * the answer is awaited).
 */
static int update_rpc(int dev, const struct luo_msg_update *req)
{
	int w, r;

	if (!progress_wanted())
		return luo_call_full(dev, LUO_OP_UPDATE, req, sizeof(*req), NULL, 0, &reply);
	w = luo_open(opt.socket);
	if (w >= 0 && luo_call_full(w, LUO_OP_WATCH, NULL, 0, NULL, 0, &reply) < 0) {
		close(w); /* not allowed to watch: no progress, the update all the same */
		w = -1;
	}
	r = luo_call_full_wait(dev, LUO_OP_UPDATE, req, sizeof(*req), &reply, show_progress, &w);
	if (w >= 0)
		close(w);
	return r;
}

static int update_all(int dev, const char *exec_path)
{
	static struct luo_msg_update req;
	struct luo_msg_update_reply rep = { 0 };
	int r;

	memset(&req, 0, sizeof(req));
	if (exec_path) {
		char *abs = realpath(exec_path, NULL);

		if (!abs) {
			fprintf(stderr, "luoctl: update: %s: %s\n", exec_path, strerror(errno));
			return 1;
		}
		if (strlen(abs) >= sizeof(req.exec_path)) {
			free(abs);
			return fail("update", -ENAMETOOLONG);
		}
		strcpy(req.exec_path, abs);
		free(abs);
		req.flags |= LUO_UPDATE_EXEC;
	}
	r = update_rpc(dev, &req);
	if (r == -ECONNRESET) {
		fprintf(stderr, "luoctl: update: luod closed the connection without an answer; "
				"the successor refused the handover or died (see luod's log)\n");
		return 1;
	}
	if (r < 0)
		return fail("update", r);
	luo_reply_close_fds(&reply);
	memcpy(&rep, reply.body, reply.body_len < sizeof(rep) ? reply.body_len : sizeof(rep));
	if (opt.json) {
		printf("{\"generation\": %" PRIu64 ", \"pid\": %u, \"sessions\": %u, \"files\": %" PRIu64
		       ", \"prepare_ms\": %.3f, \"freeze_ms\": %.3f, \"fdt_write_ms\": %.3f, "
		       "\"exec_ms\": %.3f, \"fdt_parse_ms\": %.3f, \"blackout_ms\": %.3f, "
		       "\"fdt_bytes\": %" PRIu64 "}\n",
		       rep.generation, rep.successor_pid, rep.sessions, rep.files, ms(rep.prepare_ns),
		       ms(rep.freeze_ns), ms(rep.fdt_write_ns), ms(rep.exec_ns), ms(rep.fdt_parse_ns),
		       ms(rep.blackout_ns), rep.fdt_bytes);
		return 0;
	}
	printf("updated: generation %" PRIu64 ", luod pid %u, %u sessions, %" PRIu64 " files\n",
	       rep.generation, rep.successor_pid, rep.sessions, rep.files);
	printf("  prepare %.3f ms, freeze %.3f ms, fdt write %.3f ms (%" PRIu64 " bytes), "
	       "exec %.3f ms, fdt parse %.3f ms\n  blackout %.3f ms\n",
	       ms(rep.prepare_ns), ms(rep.freeze_ns), ms(rep.fdt_write_ns), rep.fdt_bytes,
	       ms(rep.exec_ns), ms(rep.fdt_parse_ns), ms(rep.blackout_ns));
	return 0;
}

int cmd_update(const struct luoctl_command *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		LUOCTL_COMMON_OPTS,
		{ "exec", required_argument, NULL, 'e' },
		{ "session", required_argument, NULL, 'S' },
		{ "kernel", required_argument, NULL, 'k' },
		{ "initrd", required_argument, NULL, 'i' },
		{ "append", required_argument, NULL, 'a' },
		{ 0 },
	};
	const char *exec_path = NULL, *session = NULL, *kernel = NULL, *initrd = NULL;
	const char *append = NULL;
	int c, dev, r;

	while ((c = getopt_long(argc, argv, LUOCTL_COMMON_SHORT "e:S:k:i:a:", opts, NULL)) != -1) {
		if (common_opt(cmd, c, &r))
			return r;
		if (c == 'e')
			exec_path = optarg;
		else if (c == 'S')
			session = optarg;
		else if (c == 'k')
			kernel = optarg;
		else if (c == 'i')
			initrd = optarg;
		else if (c == 'a')
			append = optarg;
	}
	if (optind != argc)
		return usage_error(cmd, NULL);
	if (exec_path && session)
		return usage_error(cmd, "--exec and --session exclude each other");
	if (kernel && (exec_path || session))
		return usage_error(cmd, "--kernel excludes --exec and --session");
	if ((initrd || append) && !kernel)
		return usage_error(cmd, "--initrd and --append go with --kernel");
	if (session && luo_name_validate(session, strlen(session) + 1) < 0)
		return usage_error(cmd, "bad session name");
	dev = connect_luod();
	if (dev < 0)
		return 1;
	if (kernel)
		r = update_kernel(dev, kernel, initrd, append);
	else
		r = session ? update_session(dev, session) : update_all(dev, exec_path);
	close(dev);
	return r;
}
