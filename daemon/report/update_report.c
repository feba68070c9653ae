// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * DOC: The report of a live update, written by the successor.
 *
 * What the requester's `luoctl update` prints (the reply), the entry in the
 * history ring (`luoctl history`, the state file's "last_update"), the
 * JSON line appended to <state-dir>/history and luod's log line all come
 * from one struct luo_msg_update_reply, made here from the marks the
 * predecessor put into the handover: prepare and freeze as the predecessor
 * timed them, the FDT write until its execve (--handover-exec-ns), the
 * execve until the successor's main(), the FDT parse, and the blackout
 * from FREEZE until the successor serves. A kexec's update (the kernel
 * backend) has its history entry made here too, from the kernel index.
 */
#include <inttypes.h>
#include <stdio.h>
#include <unistd.h>

#include "report/history.h"
#include "report/update_report.h"

void update_report_phases(const struct luo_handover_luod *h, uint64_t exec_ns, uint64_t main_ns,
			  size_t fdt_bytes, struct luo_msg_update_reply *rep)
{
	if (!exec_ns)
		exec_ns = h->marks[LUO_MARK_FROZEN];
	*rep = (struct luo_msg_update_reply){
		.generation = core_generation(),
		.sessions = (uint32_t)core_session_count(),
		.files = core_file_count(),
		.prepare_ns = h->marks[LUO_MARK_FREEZE] - h->marks[LUO_MARK_PREPARE],
		.freeze_ns = h->marks[LUO_MARK_FROZEN] - h->marks[LUO_MARK_FREEZE],
		.fdt_write_ns = exec_ns - h->marks[LUO_MARK_FROZEN],
		.exec_ns = main_ns - exec_ns,
		.fdt_parse_ns = now_ns() - main_ns,
		.fdt_bytes = fdt_bytes,
		.successor_pid = (uint32_t)getpid(),
	};
}

void update_report_done(const struct luo_msg_update_reply *phases, uint64_t freeze_mark_ns,
			void (*answer)(const struct luo_msg_update_reply *rep, void *ctx), void *ctx)
{
	struct luo_msg_update_reply rep = *phases;
	char line[512];

	rep.blackout_ns = now_ns() - freeze_mark_ns;
	{
		/* the update began at PREPARE: freeze mark less the prepare time, on the same clock */
		uint64_t began = freeze_mark_ns - rep.prepare_ns;
		struct luo_msg_history_entry e = {
			.generation = rep.generation,
			.start_realtime_ns = realtime_ns() - (now_ns() - began),
			.prepare_ns = rep.prepare_ns,
			.freeze_ns = rep.freeze_ns,
			.blackout_ns = rep.blackout_ns,
			.files = rep.files,
			.sessions = rep.sessions,
			.outcome = LUO_HISTORY_OK,
		};

		history_add(&e);
	}
	luo_statefile_write(); /* with it: a script reading the file after luoctl returns sees it */
	answer(&rep, ctx);
	snprintf(line, sizeof(line),
		 "{\"generation\": %" PRIu64 ", \"pid\": %u, \"sessions\": %u, \"files\": %" PRIu64
		 ", \"prepare_ns\": %" PRIu64 ", \"freeze_ns\": %" PRIu64
		 ", \"fdt_write_ns\": %" PRIu64 ", \"exec_ns\": %" PRIu64
		 ", \"fdt_parse_ns\": %" PRIu64 ", \"blackout_ns\": %" PRIu64
		 ", \"fdt_bytes\": %" PRIu64 ", \"outcome\": \"ok\"}",
		 rep.generation, rep.successor_pid, rep.sessions, rep.files, rep.prepare_ns,
		 rep.freeze_ns, rep.fdt_write_ns, rep.exec_ns, rep.fdt_parse_ns, rep.blackout_ns,
		 rep.fdt_bytes);
	luo_history_append(line);
	log_info("update: generation %" PRIu64 " serving; blackout %.3f ms", rep.generation,
		 (double)rep.blackout_ns / 1e6);
}

void update_report_kexec(uint64_t began, uint64_t now, uint32_t sessions, uint64_t files)
{
	struct luo_msg_history_entry e = {
		.generation = core_generation(),
		.start_realtime_ns = began,
		.sessions = sessions,
		.files = files,
		.outcome = LUO_HISTORY_OK,
	};

	/* the kexec's blackout, on the wall clock: index written until luod serves again */
	if (began && began < now)
		e.blackout_ns = now - began;
	history_add(&e);
}
