// SPDX-License-Identifier: GPL-2.0-or-later
/* DOC: The observers of the core (observer.h): a list, called in order. */
#include <stddef.h>

#include "core/luod.h"
#include "core/observer.h"

#define OBSERVERS_MAX 8

static const struct luo_observer *obs[OBSERVERS_MAX];
static size_t nobs;

void core_observe(const struct luo_observer *o)
{
	for (size_t i = 0; i < nobs; i++)
		if (obs[i] == o)
			return;
	if (nobs < OBSERVERS_MAX)
		obs[nobs++] = o;
	else
		log_err("observers: more than %d; one is not called", OBSERVERS_MAX);
}

#define EACH(member, ...)                                \
	for (size_t i = 0; i < nobs; i++)                \
		if (obs[i]->member)                      \
			obs[i]->member(__VA_ARGS__)

void observe_session_added(struct luo_session *s)
{
	EACH(session_added, s);
}

void observe_session_gone(struct luo_session *s)
{
	EACH(session_gone, s);
}

void observe_file_added(struct luo_file *f)
{
	EACH(file_added, f);
}

void observe_file_gone(struct luo_file *f)
{
	EACH(file_gone, f);
}

void observe_state_changed(void)
{
	EACH(state_changed);
}

void observe_changed(void)
{
	EACH(changed);
}

void observe_update_step(enum luo_obs_step step, int result)
{
	EACH(update_step, step, result);
}
