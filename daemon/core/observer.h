/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The one interface through which the rest of luod learns what the core
 * did. Everything that reacts to a change of the model (the keeper mirror
 * and the fd store in crash/, the watch stream, the history and the state
 * file in report/, the server's STATUS and sd_notify) registers one
 * struct luo_observer; core, session, file and update code call none of
 * them by name. Any member may be NULL. Observers are called in the order
 * they registered (main.c: report, crash, then the server).
 */
#ifndef LUOD_OBSERVER_H
#define LUOD_OBSERVER_H

struct luo_session;
struct luo_file;

enum luo_obs_step {
	LUO_OBS_UPDATE_START,       /* an update began (before PREPARE) */
	LUO_OBS_UPDATE_FROZEN,      /* everything frozen: the FDT is written next */
	LUO_OBS_UPDATE_EXEC,        /* the execve is next: what does not cross lets go */
	LUO_OBS_UPDATE_EXEC_FAILED, /* execve returned: put back what EXEC let go */
	LUO_OBS_UPDATE_FAILED,      /* rolled back; result says why */
};

struct luo_observer {
	void (*session_added)(struct luo_session *s); /* created (outgoing) */
	void (*session_gone)(struct luo_session *s);  /* about to be freed, its files still in it */
	void (*file_added)(struct luo_file *f);       /* preserved: before the client is told */
	void (*file_gone)(struct luo_file *f);        /* unpreserved, finished or released */
	void (*state_changed)(void);                  /* the global state moved */
	void (*changed)(void);                        /* state or counts changed */
	void (*update_step)(enum luo_obs_step step, int result);
};

/* Register o (static storage; at most 8, for the life of the process). */
void core_observe(const struct luo_observer *o);

/* What the core's own files call. */
void observe_session_added(struct luo_session *s);
void observe_session_gone(struct luo_session *s);
void observe_file_added(struct luo_file *f);
void observe_file_gone(struct luo_file *f);
void observe_state_changed(void);
void observe_changed(void);
void observe_update_step(enum luo_obs_step step, int result);

#endif
