// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `luoctl watch [--count N]`: luod's state changes as they happen (global
 * state, sessions, participants, the steps of a live update), one line
 * each, or one JSON object per line with --json. It starts with the
 * current state (events marked "snapshot"). A live update of luod closes
 * every connection, this one too: watch says so, connects again to the
 * successor and goes on from its snapshot.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "luoctl.h"

static const char *kind_name(uint32_t kind)
{
	switch (kind) {
	case LUO_WATCH_GLOBAL:
		return "luod";
	case LUO_WATCH_SESSION:
		return "session";
	case LUO_WATCH_PARTICIPANT:
		return "participant";
	case LUO_WATCH_UPDATE:
		return "update";
	}
	return "unknown";
}

static const char *step_name(uint32_t step)
{
	switch (step) {
	case LUO_STEP_START:
		return "start";
	case LUO_STEP_FROZEN:
		return "frozen";
	case LUO_STEP_EXEC:
		return "exec";
	case LUO_STEP_FAILED:
		return "failed";
	}
	return "unknown";
}

void format_time(uint64_t realtime_ns, char *buf, size_t len)
{
	time_t t = (time_t)(realtime_ns / 1000000000u);
	struct tm tm;
	char s[32];

	gmtime_r(&t, &tm);
	strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%03uZ", s, (unsigned)(realtime_ns / 1000000u % 1000u));
}

static void print_event(const struct luo_msg_watch_event *ev)
{
	char when[48], name[LUO_ESCAPED_NAME_MAX];
	bool snap = ev->flags & LUO_WATCH_SNAPSHOT;

	format_time(ev->realtime_ns, when, sizeof(when));
	if (opt.json) {
		printf("{\"time\": \"%s\", \"kind\": \"%s\", \"generation\": %" PRIu64
		       ", \"snapshot\": %s",
		       when, kind_name(ev->kind), ev->generation, snap ? "true" : "false");
		switch (ev->kind) {
		case LUO_WATCH_GLOBAL:
			printf(", \"state\": \"%s\"", state_name(ev->state));
			break;
		case LUO_WATCH_SESSION:
			printf(", \"name\": ");
			json_string(stdout, ev->name);
			printf(", \"state\": \"%s\", \"incoming\": %s, \"attached\": %s, \"files\": %u, "
			       "\"gone\": %s",
			       state_name(ev->state), ev->flags & LUO_WATCH_INCOMING ? "true" : "false",
			       ev->flags & LUO_WATCH_ATTACHED ? "true" : "false", ev->files,
			       ev->flags & LUO_WATCH_GONE ? "true" : "false");
			break;
		case LUO_WATCH_PARTICIPANT:
			printf(", \"name\": ");
			json_string(stdout, ev->name);
			printf(", \"state\": \"%s\", \"waiting\": %s, \"gone\": %s",
			       state_name(ev->state), ev->flags & LUO_WATCH_WAITING ? "true" : "false",
			       ev->flags & LUO_WATCH_GONE ? "true" : "false");
			break;
		case LUO_WATCH_UPDATE:
			printf(", \"step\": \"%s\", \"state\": \"%s\", \"errno\": %d", step_name(ev->step),
			       state_name(ev->state), -ev->result);
			break;
		}
		printf("}\n");
		return;
	}
	luo_escape(ev->name, name, sizeof(name));
	printf("%s %s%-11s ", when, snap ? "=" : " ", kind_name(ev->kind));
	switch (ev->kind) {
	case LUO_WATCH_GLOBAL:
		printf("%s, generation %" PRIu64 "\n", state_name(ev->state), ev->generation);
		break;
	case LUO_WATCH_SESSION:
		if (ev->flags & LUO_WATCH_GONE) {
			printf("%s: gone\n", name);
			break;
		}
		printf("%s: %s, %s, %s, %u files\n", name, state_name(ev->state),
		       ev->flags & LUO_WATCH_INCOMING ? "incoming" : "outgoing",
		       ev->flags & LUO_WATCH_ATTACHED ? "held by a process" : "held by luod",
		       ev->files);
		break;
	case LUO_WATCH_PARTICIPANT:
		if (ev->flags & LUO_WATCH_GONE)
			printf("%s: gone\n", name);
		else
			printf("%s: %s%s\n", name, state_name(ev->state),
			       ev->flags & LUO_WATCH_WAITING ? ", answer due" : "");
		break;
	case LUO_WATCH_UPDATE:
		if (ev->step == LUO_STEP_FAILED)
			printf("failed: %s; rolled back, luod goes on\n", strerror(-ev->result));
		else
			printf("%s\n", ev->step == LUO_STEP_START    ? "start: prepare and freeze"
				       : ev->step == LUO_STEP_FROZEN ? "frozen: writing the handover"
								      : "exec: luod replaces itself");
		break;
	default:
		printf("(kind %u)\n", ev->kind);
	}
}

static void pause_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* A device connection turned into an event stream, or -errno. */
static int subscribe(void)
{
	int dev = luo_open(opt.socket), r;

	if (dev < 0)
		return dev;
	r = luo_call_full(dev, LUO_OP_WATCH, NULL, 0, NULL, 0, &reply);
	if (r < 0) {
		close(dev);
		return r;
	}
	luo_reply_close_fds(&reply);
	return dev;
}

int cmd_watch(const struct luoctl_command *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		LUOCTL_COMMON_OPTS,
		{ "count", required_argument, NULL, 'n' },
		{ 0 },
	};
	static unsigned char buf[sizeof(struct luo_msg_hdr) + LUO_MSG_MAX];
	long count = -1, seen = 0;
	int c, dev, r;

	while ((c = getopt_long(argc, argv, LUOCTL_COMMON_SHORT "n:", opts, NULL)) != -1) {
		char *end;

		if (common_opt(cmd, c, &r))
			return r;
		if (c == 'n') {
			count = strtol(optarg, &end, 10);
			if (*end || count < 1)
				return usage_error(cmd, "bad --count");
		}
	}
	if (optind != argc)
		return usage_error(cmd, NULL);
	dev = subscribe();
	if (dev < 0) {
		fprintf(stderr, "luoctl: watch: %s\n", strerror(-dev));
		return 1;
	}
	timeout_pause(); /* events come when they come; --timeout is for luod's answers */
	setvbuf(stdout, NULL, _IOLBF, 0); /* a line as it happens, also into a pipe */
	for (;;) {
		struct luo_msg_watch_event ev = { 0 };
		struct luo_msg_hdr hdr;
		int fds[LUO_FDS_PER_MSG];
		size_t nfds = 0;
		ssize_t n = luo_msg_recv(dev, buf, sizeof(buf), fds, LUO_FDS_PER_MSG, &nfds);

		for (size_t i = 0; i < nfds; i++)
			close(fds[i]);
		if (n == -EINTR)
			continue;
		if (n == 0 || n == -ECONNRESET) {
			/* luod re-executed itself (or stopped): follow its successor */
			close(dev);
			fprintf(stderr, "luoctl: watch: luod closed the connection; connecting again\n");
			dev = -1;
			timeout_resume();
			for (int i = 0; i < 200 && dev < 0; i++) {
				dev = subscribe();
				if (dev < 0)
					pause_ms(50);
			}
			if (dev < 0) {
				fprintf(stderr, "luoctl: watch: luod is gone: %s\n", strerror(-dev));
				return 1;
			}
			timeout_pause();
			continue;
		}
		if (n < 0) {
			close(dev);
			return fail("watch", (int)n);
		}
		memcpy(&hdr, buf, sizeof(hdr));
		if (hdr.op != LUO_OP_WATCH)
			continue;
		memcpy(&ev, buf + sizeof(hdr),
		       (size_t)n - sizeof(hdr) < sizeof(ev) ? (size_t)n - sizeof(hdr) : sizeof(ev));
		ev.name[LUO_NAME_MAX - 1] = '\0';
		print_event(&ev);
		if (!(ev.flags & LUO_WATCH_SNAPSHOT) && count > 0 && ++seen >= count)
			break;
	}
	close(dev);
	return 0;
}
