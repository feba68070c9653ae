// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * DOC: report/ as one observer of the core: the watch stream, the update
 * history and the state file learn of a change here, not from the code
 * that made it.
 */
#include "core/luod.h"
#include "core/observer.h"
#include "report/history.h"
#include "report/report.h"
#include "report/watch.h"

static void update_step(enum luo_obs_step step, int result)
{
	switch (step) {
	case LUO_OBS_UPDATE_START:
		history_update_started();
		watch_update_step(LUO_STEP_START, 0);
		break;
	case LUO_OBS_UPDATE_FROZEN:
		watch_update_step(LUO_STEP_FROZEN, 0);
		break;
	case LUO_OBS_UPDATE_EXEC:
		/* no state file write: a disk write in the blackout (the successor writes it) */
		watch_update_step(LUO_STEP_EXEC, 0); /* the watchers' connections close at the execve */
		break;
	case LUO_OBS_UPDATE_EXEC_FAILED:
		break;
	case LUO_OBS_UPDATE_FAILED:
		history_update_failed(result);
		watch_update_step(LUO_STEP_FAILED, result);
		break;
	}
}

static const struct luo_observer report_observer = {
	.state_changed = watch_global,
	.update_step = update_step,
};

void report_observe(void)
{
	core_observe(&report_observer);
}
