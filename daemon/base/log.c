// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Logging to stderr, one line per event, and the names of states and events
 * as people and JSON read them.
 *
 * When stderr is systemd's journal stream ($JOURNAL_STREAM names its device
 * and inode) each line starts with its syslog priority, "<3>" to "<7>", as
 * sd-daemon(3) describes, and carries no "luod[pid]: " tag: journald adds
 * the identifier and pid itself, and `journalctl -p warning` finds the
 * warnings. Anywhere else the line is "luod[pid]: level: message".
 *
 * A message is escaped as a whole (luo_escape): a session name,
 * participant name or path with a newline or a terminal escape in it
 * cannot forge a line or drive a terminal, whichever format string it came
 * through.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "escape.h"
#include "base/base.h"

enum log_level log_max_level = LOG_INFO;

/* Checked once: stderr does not change under a running luod, nor across its re-exec. */
static bool stderr_is_journal(void)
{
	static int cached = -1;
	const char *env;
	unsigned long long dev, ino;
	struct stat st;
	char end;

	if (cached >= 0)
		return cached;
	cached = 0;
	env = getenv("JOURNAL_STREAM");
	if (env && sscanf(env, "%llu:%llu%c", &dev, &ino, &end) == 2 &&
	    fstat(STDERR_FILENO, &st) == 0 && (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino)
		cached = 1;
	return cached;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	static const char *const tag[] = { "error", "warning", "info", "debug" };
	static const char *const prio[] = { SD_ERR, SD_WARNING, SD_INFO, SD_DEBUG };
	char msg[1024], buf[1024];
	va_list ap;
	int n;

	if (level > log_max_level)
		return;
	if (stderr_is_journal())
		n = snprintf(buf, sizeof(buf), "%s%s: ", prio[level], tag[level]);
	else
		n = snprintf(buf, sizeof(buf), "luod[%d]: %s: ", (int)getpid(), tag[level]);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	luo_escape(msg, buf + n, sizeof(buf) - (size_t)n);
	fprintf(stderr, "%s\n", buf);
}

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

const char *luo_state_name(enum luo_state state)
{
	switch (state) {
	case LUO_STATE_NORMAL:
		return "normal";
	case LUO_STATE_PREPARED:
		return "prepared";
	case LUO_STATE_FROZEN:
		return "frozen";
	case LUO_STATE_UPDATED:
		return "updated";
	}
	return "unknown";
}

const char *luo_event_name(enum luo_event event)
{
	switch (event) {
	case LUO_EVENT_PREPARE:
		return "prepare";
	case LUO_EVENT_FREEZE:
		return "freeze";
	case LUO_EVENT_CANCEL:
		return "cancel";
	case LUO_EVENT_FINISH:
		return "finish";
	}
	return "unknown";
}
