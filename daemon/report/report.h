/* SPDX-License-Identifier: GPL-2.0-or-later */
/* report.c: the watch stream, history and state file, registered as one observer of the core. */
#ifndef LUOD_REPORT_H
#define LUOD_REPORT_H

void report_observe(void);
/* statefile.c: one line for people, systemd's STATUS= (`systemctl status luod` shows it). */
const char *report_status_line(void);

#endif
