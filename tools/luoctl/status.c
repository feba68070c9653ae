// SPDX-License-Identifier: GPL-2.0-or-later
/* `luoctl status`: luod's global state, generation and counts. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "luoctl.h"

/* The crash copy in luod's keeper (luod(8)): "off", "ok" or "lost". */
static const char *keeper_name(uint32_t k)
{
	return k == 1 ? "ok" : k == 2 ? "lost" : "off";
}

int cmd_status(const struct luoctl_command *cmd, int argc, char **argv)
{
	struct luo_msg_status st = { 0 };
	struct luo_msg_kernel_status ks;
	struct not_carried *lost = NULL;
	size_t nlost = 0;
	int dev, r = parse_and_connect(cmd, argc, argv, &dev);

	if (r >= 0)
		return r;
	r = call(dev, LUO_OP_STATUS, NULL, 0, "status");
	if (r) {
		close(dev);
		return r;
	}
	memcpy(&st, reply.body, reply.body_len < sizeof(st) ? reply.body_len : sizeof(st));
	r = kernel_status(dev, &ks);
	if (r == 0 && ks.backend == LUO_BACKEND_KERNEL && ks.lost)
		r = kernel_not_carried(dev, &lost, &nlost);
	close(dev);
	if (r < 0)
		return fail("status", r);
	if (opt.json) {
		printf("{\"state\": \"%s\", \"generation\": %" PRIu64 ", \"sessions\": %u, "
		       "\"incoming_sessions\": %u, \"files\": %" PRIu64 ", \"updates\": %" PRIu64
		       ", \"participants\": %u, \"memfd_bytes\": %" PRIu64
		       ", \"pid\": %u, \"uptime_ms\": %" PRIu64 ", \"backend\": \"%s\""
		       ", \"instance\": \"%016" PRIx64 "\", \"predecessor\": \"%016" PRIx64 "\""
		       ", \"keeper\": \"%s\", \"keeper_failures\": %" PRIu64,
		       state_name(st.state), st.generation, st.sessions, st.incoming_sessions, st.files,
		       st.updates, st.participants, st.memfd_bytes, st.pid, st.uptime_ns / 1000000,
		       ks.backend == LUO_BACKEND_KERNEL ? "kernel" : "userspace", st.instance,
		       st.predecessor, keeper_name(st.keeper), st.keeper_failures);
		/* no kernel LUO behind the userspace backend: no number to tell */
		if (ks.backend == LUO_BACKEND_KERNEL) {
			ks.session_name[LUO_NAME_MAX - 1] = '\0';
			printf(", \"kernel_liveupdate_num\": %" PRIu64 ", \"kernel_sessions\": %u"
			       ", \"kernel_mode\": \"%s\", \"kernel_session\": ",
			       ks.liveupdate_num, ks.sessions, kernel_mode_name(ks.mode));
			json_string(stdout, ks.session_name);
			printf(", \"kexec_now\": {\"kernel\": %u, \"recreated\": %u, \"not_carried\": %u}"
			       ", \"last_kexec\": {\"carried\": %u, \"recreated\": %u, \"not_carried\": %u}"
			       ", \"not_carried_files\": [",
			       ks.kernel_files, ks.recreate_files, ks.luod_files, ks.carried, ks.recreated,
			       ks.lost);
			for (size_t i = 0; i < nlost; i++) {
				printf("%s{\"session\": ", i ? ", " : "");
				json_string(stdout, lost[i].session);
				printf(", \"token\": %" PRIu64 "}", lost[i].token);
			}
			printf("]}\n");
		} else {
			printf(", \"kernel_liveupdate_num\": null}\n");
		}
		free(lost);
		return 0;
	}
	printf("backend:     %s\n", ks.backend == LUO_BACKEND_KERNEL ? "kernel" : "userspace");
	if (ks.backend == LUO_BACKEND_KERNEL) {
		ks.session_name[LUO_NAME_MAX - 1] = '\0';
		printf("kernel:      live update number %" PRIu64 ", session %s (%s)\n",
		       ks.liveupdate_num, ks.sessions ? ks.session_name : "none",
		       kernel_mode_name(ks.mode));
		printf("kexec now:   %u memfds in the kernel, %u listeners re-created, %u files not carried\n",
		       ks.kernel_files, ks.recreate_files, ks.luod_files);
		printf("last kexec:  %u memfds carried, %u listeners re-created, %u files not carried\n",
		       ks.carried, ks.recreated, ks.lost);
		for (size_t i = 0; i < nlost; i++) {
			char name[LUO_ESCAPED_NAME_MAX];

			printf("not carried: session %s token %" PRIu64 " (its retrieve: ENOLINK)\n",
			       luo_escape(lost[i].session, name, sizeof(name)), lost[i].token);
		}
	}
	printf("state:       %s\n", state_name(st.state));
	printf("generation:  %" PRIu64 "\n", st.generation);
	printf("sessions:    %u (%u incoming)\n", st.sessions, st.incoming_sessions);
	printf("files:       %" PRIu64 "\n", st.files);
	printf("memfds:      %" PRIu64 " bytes preserved\n", st.memfd_bytes);
	printf("participants: %u\n", st.participants);
	printf("updates:     %" PRIu64 "\n", st.updates);
	printf("luod pid:    %u, up %.1f s\n", st.pid, (double)st.uptime_ns / 1e9);
	printf("keeper:      %s", keeper_name(st.keeper));
	if (st.keeper_failures)
		printf(" (lost %" PRIu64 " times)", st.keeper_failures);
	printf("\n");
	printf("instance:    %016" PRIx64, st.instance);
	if (st.predecessor)
		printf(" (updated from %016" PRIx64 ")", st.predecessor);
	printf("\n");
	free(lost);
	return 0;
}
