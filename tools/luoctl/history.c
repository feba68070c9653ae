// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `luoctl history`: the live updates luod remembers (a ring of the last
 * LUO_HISTORY_MAX, carried across its re-exec), oldest first, and the
 * live-update counter.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include "luoctl.h"

static const char *outcome_name(uint32_t outcome)
{
	switch (outcome) {
	case LUO_HISTORY_OK:
		return "ok";
	case LUO_HISTORY_FAILED:
		return "failed";
	case LUO_HISTORY_CANCELLED:
		return "cancelled";
	}
	return "unknown";
}

int cmd_history(const struct luoctl_command *cmd, int argc, char **argv)
{
	struct luo_msg_history_reply rep;
	const unsigned char *e;
	int dev, r = parse_and_connect(cmd, argc, argv, &dev);

	if (r >= 0)
		return r;
	r = call(dev, LUO_OP_HISTORY, NULL, 0, "history");
	close(dev);
	if (r)
		return r;
	if (reply.body_len < sizeof(rep))
		return fail("history", -EPROTO);
	memcpy(&rep, reply.body, sizeof(rep));
	if (rep.count > LUO_HISTORY_MAX ||
	    reply.body_len < sizeof(rep) + rep.count * sizeof(struct luo_msg_history_entry))
		return fail("history", -EPROTO);
	e = reply.body + sizeof(rep);
	if (opt.json)
		printf("{\"updates\": %" PRIu64 ", \"history\": [", rep.updates);
	else
		printf("%-6s %-24s %10s %10s %11s %8s %8s  %s\n", "GEN", "START", "PREPARE", "FREEZE",
		       "BLACKOUT", "SESSIONS", "FILES", "OUTCOME");
	for (uint32_t i = 0; i < rep.count; i++) {
		struct luo_msg_history_entry h;
		char when[48];

		memcpy(&h, e + i * sizeof(h), sizeof(h));
		format_time(h.start_realtime_ns, when, sizeof(when));
		if (opt.json) {
			printf("%s{\"generation\": %" PRIu64 ", \"start\": \"%s\", \"start_ns\": %" PRIu64
			       ", \"prepare_ms\": %.3f, \"freeze_ms\": %.3f, \"blackout_ms\": %.3f, "
			       "\"sessions\": %u, \"files\": %" PRIu64 ", \"outcome\": \"%s\", "
			       "\"errno\": %d}",
			       i ? ", " : "", h.generation, when, h.start_realtime_ns, ms(h.prepare_ns),
			       ms(h.freeze_ns), ms(h.blackout_ns), h.sessions, h.files,
			       outcome_name(h.outcome), -h.error);
			continue;
		}
		printf("%-6" PRIu64 " %-24s %8.3fms %8.3fms %9.3fms %8u %8" PRIu64 "  %s", h.generation,
		       when, ms(h.prepare_ns), ms(h.freeze_ns), ms(h.blackout_ns), h.sessions, h.files,
		       outcome_name(h.outcome));
		if (h.outcome == LUO_HISTORY_FAILED)
			printf(" (%s)", strerror(-h.error));
		printf("\n");
	}
	if (opt.json)
		printf("]}\n");
	else
		printf("\n%" PRIu64 " live updates completed\n", rep.updates);
	return 0;
}
