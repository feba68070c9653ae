/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libluo — client API of the luo Live Update Orchestrator.
 *
 * A device handle (luo_open) is a connection to luod. A session handle is a
 * real file descriptor too: a connected socket that luod hands back over
 * SCM_RIGHTS. Closing every copy of a session handle closes the session, and
 * a session handle can be passed to another process like any fd.
 *
 * Every call returns a value >= 0 on success or a negative errno value on
 * failure; outputs are untouched on failure. The library never logs and never
 * raises SIGPIPE.
 */
#ifndef LUO_LUO_H
#define LUO_LUO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Session names are 1..63 bytes plus the terminating NUL. */
#define LUO_NAME_MAX 64

enum luo_state {
	LUO_STATE_NORMAL,
	LUO_STATE_PREPARED,
	LUO_STATE_FROZEN,
	LUO_STATE_UPDATED,
};

enum luo_event {
	LUO_EVENT_PREPARE,
	LUO_EVENT_FREEZE,
	LUO_EVENT_CANCEL,
	LUO_EVENT_FINISH,
};

/*
 * Connect to luod. socket_path NULL means $LUO_SOCKET if set, otherwise
 * /run/luo/luod.sock for root and $XDG_RUNTIME_DIR/luo/luod.sock for others.
 * Returns a device handle (close it with close()).
 */
int luo_open(const char *socket_path);

/* Create an outgoing session; returns its handle. EEXIST, EINVAL (name), EBUSY (update running). */
int luo_create_session(int dev, const char *name);

/* Retrieve an incoming session by name; returns its handle. ENOENT, EINVAL (already retrieved), EPERM. */
int luo_retrieve_session(int dev, const char *name);

/* Preserve fd under token. EBUSY (fd already preserved anywhere), EEXIST (token used), ENOENT (no handler). */
int luo_session_preserve_fd(int session, int fd, uint64_t token);

/* Drop a preserved fd; only before the session is prepared. */
int luo_session_unpreserve_fd(int session, uint64_t token);

/* Retrieve a preserved fd from an incoming session; returns a new fd (O_CLOEXEC set). */
int luo_session_retrieve_fd(int session, uint64_t token);

/* Finish an incoming session: files not retrieved are released. */
int luo_session_finish(int session);

int luo_session_get_name(int session, char name[LUO_NAME_MAX]);

/* Per-session update: a session frozen this way outlives its last handle and can be retrieved by name. */
int luo_session_set_event(int session, enum luo_event event);

int luo_session_get_state(int session, enum luo_state *state, bool *incoming);

/*
 * Turn a retrieved incoming session back into an outgoing one (NORMAL) that
 * keeps every file under its token, in one step: what FINISH, CREATE and
 * PRESERVE of the same fds would give, without the moment where only the
 * caller holds them. Each file is checked as a retrieve checks it; on any
 * error nothing changes. EINVAL (not incoming), EBUSY (an update in
 * progress, or a file already preserved in another outgoing session), the
 * handler's error (the fd is no longer what was preserved).
 */
int luo_session_renew(int session);
/*
 * The same, and frozen in the same request: an outgoing NORMAL session ends
 * with its last handle, a FROZEN one is kept by luod, so a caller that may
 * die at any moment (a supervisor) never leaves a window where its death
 * releases the files. Errors as luo_session_renew(); besides, the freeze's
 * error, and then the session is renewed but NORMAL
 * (luo_session_get_state() tells); E2BIG from a luod older than this call.
 */
int luo_session_renew_frozen(int session);

int luo_get_state(int dev, enum luo_state *state);

/*
 * Which luod answers: *instance is random and new in every luod process
 * (a fresh start, a restart after a crash, and each live update's
 * successor); *predecessor (may be NULL) is the instance of the luod this
 * one took over from by a live update, 0 after a fresh start or a crash.
 * Same instance as before: luod did not restart (a session taken away was
 * handed on by a per-session update). -EPROTO from a luod without it.
 */
int luo_get_instance(int dev, uint64_t *instance, uint64_t *predecessor);

/* Global events; need root or the uid luod runs as. */
int luo_set_event(int dev, enum luo_event event);

/*
 * Batch variants: n fds in as few round trips as SCM_RIGHTS allows (253 fds
 * per message), split transparently. All or nothing: on failure nothing of
 * the batch stays preserved, and no retrieved fd is left open.
 */
int luo_session_preserve_fds(int session, const int *fds, const uint64_t *tokens, size_t n);
int luo_session_retrieve_fds(int session, const uint64_t *tokens, int *ret_fds, size_t n);

/*
 * Participants: the userspace form of the kernel's LUO subsystems. A
 * process registers under a name (root or luod's uid only); the device
 * handle then carries the global events PREPARE, FREEZE, CANCEL and FINISH
 * to it, each with a deadline (luod's --participant-timeout). The
 * participant answers every event with luo_participant_reply(): 0, or a
 * negative errno that fails PREPARE or FREEZE (participants already prepared
 * or frozen then get CANCEL, newest first). With PREPARE or FREEZE it may
 * store a payload of up to LUO_PARTICIPANT_PAYLOAD_MAX bytes (a u64 is an
 * 8-byte payload), which the update carries and hands back to the process
 * that registers under the same name afterwards. A participant that misses
 * the deadline or disconnects during an event fails that event.
 *
 * luo_participant_register() returns the length of the payload handed back
 * (0 if none) and copies at most payload_size bytes of it; EEXIST if the
 * name is taken, EBUSY during an update. The handle can be polled for
 * POLLIN; luo_participant_next_event() then returns without blocking.
 */
#define LUO_PARTICIPANT_PAYLOAD_MAX (64 * 1024)

int luo_participant_register(int dev, const char *name, void *payload, size_t payload_size);
int luo_participant_next_event(int dev, enum luo_event *event, uint32_t *timeout_ms);
int luo_participant_reply(int dev, int result, const void *payload, size_t len);

#ifdef __cplusplus
}
#endif

#endif
