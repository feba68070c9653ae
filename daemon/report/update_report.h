/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * update_report.c: the report of the live update that started this luod,
 * in one place: its phases, its reply, its history entry and lines; and
 * the history entry of a kexec's.
 */
#ifndef LUOD_UPDATE_REPORT_H
#define LUOD_UPDATE_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "core/luod.h"

/*
 * The phases, as the successor measures them once it has read the
 * handover h (fdt_bytes long): from the predecessor's marks, exec_ns
 * (--handover-exec-ns, 0: unknown) and main_ns (when main() began).
 */
void update_report_phases(const struct luo_handover_luod *h, uint64_t exec_ns, uint64_t main_ns,
			  size_t fdt_bytes, struct luo_msg_update_reply *rep);
/*
 * The update is done: this luod serves, and the blackout, which began at
 * the predecessor's FREEZE (freeze_mark_ns), ends now. In this order: the
 * history entry and the state file (a script reading it once luoctl
 * returns sees the update), answer(rep, ctx) with the whole reply (the
 * requester's, which the server sends), then the JSON line in
 * <state-dir>/history and the log line.
 */
void update_report_done(const struct luo_msg_update_reply *phases, uint64_t freeze_mark_ns,
			void (*answer)(const struct luo_msg_update_reply *rep, void *ctx), void *ctx);
/*
 * A kexec's update, once this luod rebuilt what it carried (sessions
 * sessions, files files) and adopted it: it began when the predecessor
 * wrote the kernel index (began, CLOCK_REALTIME; 0: unknown) and its
 * blackout, on the wall clock, ends at now. Its entry in the history ring.
 */
void update_report_kexec(uint64_t began, uint64_t now, uint32_t sessions, uint64_t files);

#endif
