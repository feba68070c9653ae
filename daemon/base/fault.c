// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * DOC: Fault injection and test pause points (see fault.h).
 *
 * Both are driven by the environment so that the very binary a test runs
 * is the one that fails: $LUOD_FAULT picks one point and one occurrence,
 * $LUOD_TEST_PAUSE_AT one place to stop at. A fault that fires says so in
 * the log ("fault: injecting POINT #N"), which is how a test knows that a
 * sweep has gone past the last occurrence of a point.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "base/fault.h"

void luod_test_pause(const char *point)
{
	static const char *at;
	static bool read;

	if (!read) {
		read = true;
		at = getenv("LUOD_TEST_PAUSE_AT");
	}
	if (!at || strcmp(at, point))
		return;
	log_info("test: pausing at %s", point);
	raise(SIGSTOP);
}

#ifdef LUO_FAULT_INJECTION
static struct {
	bool read;
	bool armed;
	bool fired;
	char point[32];
	unsigned long nth;
	unsigned long seen;
} ft;

static void fault_read(void)
{
	const char *env = getenv("LUOD_FAULT"), *colon;
	char *end;

	ft.read = true;
	if (!env || !(colon = strchr(env, ':')) || (size_t)(colon - env) >= sizeof(ft.point))
		return;
	memcpy(ft.point, env, (size_t)(colon - env));
	ft.point[colon - env] = '\0';
	ft.nth = strtoul(colon + 1, &end, 10);
	if (ft.nth == 0 || (*end && strcmp(end, "@update"))) {
		ft.point[0] = '\0';
		return;
	}
	ft.armed = !*end;
}

void luo_fault_update_started(void)
{
	if (!ft.read)
		fault_read();
	if (ft.point[0])
		ft.armed = true;
}

bool luo_fault_hit(const char *point)
{
	if (!ft.read)
		fault_read();
	if (!ft.armed || ft.fired || strcmp(point, ft.point))
		return false;
	if (++ft.seen < ft.nth)
		return false;
	ft.fired = true;
	log_warn("fault: injecting %s #%lu", point, ft.nth);
	return true;
}
#endif
