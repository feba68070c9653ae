// SPDX-License-Identifier: GPL-2.0-or-later
/* `luoctl status`: luod's global state, generation and counts. */
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include "luoctl.h"

int cmd_status(const struct luoctl_command *cmd, int argc, char **argv)
{
	struct luo_msg_status st = { 0 };
	int dev, r = parse_common(cmd, argc, argv, 0, 0);

	if (r >= 0)
		return r;
	dev = connect_luod();
	if (dev < 0)
		return 1;
	r = call(dev, LUO_OP_STATUS, NULL, 0, "status");
	close(dev);
	if (r)
		return r;
	memcpy(&st, reply.body, reply.body_len < sizeof(st) ? reply.body_len : sizeof(st));
	if (opt.json) {
		printf("{\"state\": \"%s\", \"generation\": %" PRIu64 ", \"sessions\": %u, "
		       "\"incoming_sessions\": %u, \"files\": %" PRIu64 ", \"updates\": %" PRIu64
		       ", \"participants\": %u, \"memfd_bytes\": %" PRIu64
		       ", \"pid\": %u, \"uptime_ms\": %" PRIu64 "}\n",
		       state_name(st.state), st.generation, st.sessions, st.incoming_sessions, st.files,
		       st.updates, st.participants, st.memfd_bytes, st.pid, st.uptime_ns / 1000000);
		return 0;
	}
	printf("state:       %s\n", state_name(st.state));
	printf("generation:  %" PRIu64 "\n", st.generation);
	printf("sessions:    %u (%u incoming)\n", st.sessions, st.incoming_sessions);
	printf("files:       %" PRIu64 "\n", st.files);
	printf("memfds:      %" PRIu64 " bytes preserved\n", st.memfd_bytes);
	printf("participants: %u\n", st.participants);
	printf("updates:     %" PRIu64 "\n", st.updates);
	printf("luod pid:    %u, up %.1f s\n", st.pid, (double)st.uptime_ns / 1e9);
	return 0;
}
