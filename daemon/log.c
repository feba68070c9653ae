// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Logging to stderr, one line per event, and the names of states and events
 * as people and JSON read them.
 */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "luod.h"

enum log_level log_max_level = LOG_INFO;

void log_msg(enum log_level level, const char *fmt, ...)
{
	static const char *const tag[] = { "error", "warning", "info", "debug" };
	char buf[1024];
	va_list ap;
	int n;

	if (level > log_max_level)
		return;
	n = snprintf(buf, sizeof(buf), "luod[%d]: %s: ", (int)getpid(), tag[level]);
	va_start(ap, fmt);
	vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	va_end(ap);
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
