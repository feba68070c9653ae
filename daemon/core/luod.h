/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * luod internals: the declarations the daemon's files share.
 *
 * Ownership, in one place (the folders are the layers, lowest first;
 * doc/design.md draws them, scripts/check-layers.py checks them):
 *  - base/ is what every layer uses: log.c, index.c, fault.c, systemd.c
 *    (base/base.h);
 *  - core/core.c owns the global state machine and the list of sessions,
 *    and adopts what a crash copy gives back (core_adopt_crash);
 *  - core/session.c owns each session's state machine and its files array;
 *  - core/file.c owns each preserved fd (one luod copy per file), the
 *    registered handlers and the index that makes preserving the same open
 *    file twice EBUSY;
 *  - core/participant.c and core/flb.c the participants and FLB;
 *  - core/observer.c: everything above that reacts to a change registers
 *    there (core/observer.h); the core names none of it;
 *  - handlers/ know one fd type each and keep their record in
 *    file->payload; handlers.c registers them;
 *  - report/ tells the world: history.c, watch.c, statefile.c (report.c
 *    is their observer), update_report.c (a live update's report, made
 *    once by the successor);
 *  - handover/ (handover_write.c, handover_read.c) turn the model into
 *    the FDT and back;
 *  - update/update.c runs PREPARE -> FREEZE -> FDT -> execve and undoes
 *    it on failure;
 *  - crash/ keeps copies that survive a crash: keeper.c (the fd holder
 *    process, keeper_proto.h its wire format), holder.c (luod's mirror in
 *    it, an observer), fdstore.c (systemd's store), lineage.c;
 *  - backend/ is where sessions live besides luod, an ops table chosen at
 *    start (backend.h): userspace (nothing to do) or backend_kernel.c,
 *    which drives the LUO kernel's /dev/liveupdate;
 *  - server/server.c owns every socket (the loop, connections, replies); the
 *    rest reaches a session's handle only through the opaque
 *    session->handle pointer;
 *  - server/request.c decodes and checks a request's bytes before anything
 *    acts on it (pure: the fuzz target drives it);
 *  - server/ops.c carries out each decoded request against the core, access
 *    checks by uid included: it is handed the connection, the reply to
 *    fill and the server as an opaque handle (server/server.h), and shares
 *    no global with server.c;
 *  - server/limit.c owns the resource limits (sessions per uid, files, fds).
 * luod is single-threaded: no locks.
 */
#ifndef LUOD_H
#define LUOD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "luo/luo.h"
#include "protocol.h"
#include "base/base.h"

/* ---- file.c and handlers/ ---- */
struct luo_file;

/*
 * What a handler's can_preserve() learnt about an fd, handed to its
 * preserve() so that nothing is asked twice (10,000 fds in one batch).
 * Owned by the caller, who asks can_preserve() and then preserve() about
 * the same fd (luo_handler_find() passes it through): it is filled only by
 * the handler that says yes, each handler reading only its own part.
 * preserve() gets NULL when no can_preserve() came before, and asks itself.
 */
struct luo_probe {
	struct {
		uint64_t size;  /* st_size */
		uint32_t seals; /* F_GET_SEALS */
		ino_t ino;      /* st_ino */
	} memfd;
	struct {
		int32_t family, type, protocol; /* SO_DOMAIN, SO_TYPE, SO_PROTOCOL */
	} socket;
};

/*
 * A file handler knows one fd type. Its record of the fd (size, flags,
 * addresses, ...) lives in file->payload, in a layout the handler owns and
 * versions through its compatible string; the payload crosses the update in
 * the FDT. retrieve() runs on the far side and checks that the fd still is
 * what the payload says. Callbacks return 0 or -errno.
 */
struct luo_file_handler {
	const char *name;       /* short, for people: "memfd" */
	const char *compatible; /* in the FDT: "luo,memfd-v2" */
	const char *compatible_old; /* an older payload it still reads, or NULL */
	mode_t type;            /* S_IFREG, S_IFSOCK, ...: checked when a handover names an fd */
	/* Whether this handler takes fd; what it learnt doing so goes into *probe. */
	bool (*can_preserve)(int fd, const struct stat *st, struct luo_probe *probe);
	/*
	 * Optional: whether an fd a handover names is of this type, cheaper
	 * than the fstat() against .type done without it (10,000 of those
	 * are in the blackout). 0, -EBADF (not open) or -EBADFD (another type).
	 */
	int (*is_type)(int fd);
	/*
	 * retrieve() checks that the fd is of this type (from the same call
	 * that checks it against the payload): the handover reader then
	 * checks only that the fd is open, for all of them in one poll(),
	 * and file_restore_unchecked() skips is_type(), so the fact is
	 * checked once before the fd can leave luod instead of twice.
	 */
	bool retrieve_checks_type;
	/* probe: what can_preserve() filled for this fd a moment ago, or NULL */
	int (*preserve)(struct luo_file *file, const struct luo_probe *probe);
	void (*unpreserve)(struct luo_file *file); /* optional: NULL when there is nothing to undo */
	int (*freeze)(struct luo_file *file);
	/*
	 * Optional: a global freeze begins (true) or has ended (false). Between
	 * the two, freeze() may answer from what the handler read for all its
	 * files at once (socket.c: one sock_diag dump of the TCP listeners)
	 * instead of per fd.
	 */
	void (*freeze_round)(bool begin);
	void (*unfreeze)(struct luo_file *file); /* optional */
	int (*retrieve)(struct luo_file *file);
	int (*finish)(struct luo_file *file); /* optional: NULL finishes at once */
	uint64_t (*size)(const struct luo_file *file); /* bytes it accounts for, or NULL */
	bool flb; /* keeps file-lifecycle-bound global state (flb.c) */
	/* close() of its fds returns at once (no flush, no linger): not sent to base/closer.c */
	bool close_never_blocks;
	/*
	 * freeze() only reads its fd and rewrites file->payload in place: no
	 * allocation, no log, nothing shared. A global freeze of many such
	 * files runs half of them on a second thread (file_prefreeze()).
	 */
	bool freeze_parallel;
	const void *data; /* the handler's own, for the code handlers share (handlers/record.h) */
};

extern const struct luo_file_handler luo_memfd_handler;
extern const struct luo_file_handler luo_socket_handler;
extern const struct luo_file_handler luo_pipe_handler;
extern const struct luo_file_handler luo_eventfd_handler;
extern const struct luo_file_handler luo_timerfd_handler;
extern const struct luo_file_handler luo_kvm_handler;
extern const struct luo_file_handler luo_regular_handler;

/* The core knows handlers only as registered here (handlers_register() does all). */
void luo_handler_register(const struct luo_file_handler *h);
void handlers_register(void); /* handlers/handlers.c: every fd type luod knows, in order */
const struct luo_file_handler *luo_handler_named(const char *name);
/* The first handler whose can_preserve() takes fd, having filled *probe; or NULL. */
const struct luo_file_handler *luo_handler_find(int fd, const struct stat *st,
						struct luo_probe *probe);
const struct luo_file_handler *luo_handler_by_compatible(const char *compatible);
void luo_handlers_freeze_round(bool begin); /* each handler's freeze_round(), if it has one */

#define LUO_PAYLOAD_MAX (64 * 1024)

struct luo_file {
	struct luo_session *session;
	const struct luo_file_handler *handler;
	uint64_t token;
	int fd; /* luod's own copy */
	/*
	 * Its close-on-exec is known to be off: received so from a client
	 * (server.c), arrived through the update's execve, or cleared once by
	 * an update. Otherwise (recovered from the keeper or systemd, a unit
	 * test's) the update clears it; it sets it on what must not cross.
	 */
	bool exec_ok;
	dev_t dev;
	ino_t ino;
	unsigned char *payload;
	size_t payload_len;
	bool frozen;
	bool retrieved;
	bool indexed; /* in the outgoing inode index */
	int retrieve_error; /* sticky: a failed retrieve fails the same way again */
	uint8_t where; /* enum luo_file_where, for files a kexec brought (backend_kernel.c) */
	bool in_flb;        /* counted in its handler's FLB */
	bool fdstored;      /* has its entry in systemd's fd store (crash/fdstore.c) */
	uint64_t flb_bytes; /* what it counts for there */
	struct luo_file *ino_next;
};

/* Takes ownership of fd on success only. */
int file_preserve(struct luo_session *s, int fd, uint64_t token, struct luo_file **ret);
void file_unpreserve(struct luo_file *file); /* frees */
int file_freeze(struct luo_file *file);
/*
 * Around a global freeze (core.c): the freeze() of the freeze_parallel
 * files of the sessions in the update, split over this thread and one
 * more; file_freeze() then takes each result in turn instead of calling
 * freeze() again. Does nothing for a few files, or if a thread cannot be had.
 */
void file_prefreeze_begin(void);
void file_prefreeze_end(void);
void file_unfreeze(struct luo_file *file);
/* Returns luod's fd for the caller to send (not a copy), or -errno. */
int file_retrieve(struct luo_file *file);
int file_finish(struct luo_file *file); /* frees on success */
/* Build an incoming file from the handover; takes fd. */
int file_restore(struct luo_session *s, int fd, uint64_t token,
		     const struct luo_file_handler *h, const void *payload, size_t len,
		     struct luo_file **ret);
/*
 * The same without the type check, for h->retrieve_checks_type only and
 * an fd the caller has checked is open (handover_read.c, in one batch).
 */
int file_restore_unchecked(struct luo_session *s, int fd, uint64_t token,
			   const struct luo_file_handler *h, const void *payload, size_t len,
			   struct luo_file **ret);
/*
 * An incoming file that did not cross a kexec: no fd, its handler's record
 * for `show`, and every retrieve fails with error.
 */
int file_restore_lost(struct luo_session *s, uint64_t token, const struct luo_file_handler *h,
		      const void *payload, size_t len, int error, struct luo_file **ret);
void file_release(struct luo_file *file); /* close and free, no callbacks */
/* An incoming file made outgoing again (session_renew); on error it is unchanged. */
int file_renew(struct luo_file *file);
/* Back to incoming after file_renew(); unindex: it was not indexed before. */
void file_renew_undo(struct luo_file *file, bool unindex);
int file_set_payload(struct luo_file *file, const void *data, size_t len);
uint64_t file_size(const struct luo_file *file);

/* ---- flb.c ---- */
struct luo_flb {
	const struct luo_file_handler *handler; /* NULL: free slot */
	uint64_t files;
	uint64_t bytes;
	uint64_t created_generation;
};
struct luo_flb *flb_get(const struct luo_file_handler *h);
void flb_file_added(struct luo_file *file);
void flb_file_changed(struct luo_file *file);
void flb_file_removed(struct luo_file *file);
uint64_t flb_memfd_bytes(void);
const struct luo_flb *flb_at(size_t i); /* NULL for an unused slot */
size_t flb_slots(void);

/* ---- session.c ---- */
struct luo_session {
	char name[LUO_NAME_MAX];
	uid_t uid;
	enum luo_state state;
	bool incoming;
	bool retrieved;
	bool in_global_update; /* moved by the global PREPARE, CANCEL undoes it */
	enum luo_state state_before_update;
	void *handle; /* server's connection; NULL when no process holds the session */
	bool fdstored; /* has its entry in systemd's fd store (crash/fdstore.c) */
	struct luo_file **files; /* preservation order; LIFO teardown walks it backwards */
	size_t nfiles;
	size_t cap;
	struct luo_index tokens;
	struct luo_session *next;
	struct luo_session *prev;
};

int session_new(const char *name, uid_t uid, bool incoming, struct luo_session **ret);
void session_free(struct luo_session *s); /* releases files, no callbacks */
struct luo_file *session_find_file(struct luo_session *s, uint64_t token);
int session_add_file(struct luo_session *s, struct luo_file *file);
/* Room for n files in one allocation each (a handover knows how many follow). */
int session_reserve(struct luo_session *s, size_t n);
void session_remove_file(struct luo_session *s, struct luo_file *file);

/* client requests on a session */
int session_preserve(struct luo_session *s, const int *fds, const uint64_t *tokens, size_t n);
int session_unpreserve(struct luo_session *s, uint64_t token);
int session_retrieve(struct luo_session *s, const uint64_t *tokens, size_t n, int *ret_fds);
int session_finish(struct luo_session *s);
int session_event(struct luo_session *s, enum luo_event event);
/* Incoming (retrieved) -> outgoing NORMAL with every file kept; nothing changes on error. */
int session_renew(struct luo_session *s);
/* The last handle closed: what happens depends on the state (see session.c). */
void session_handle_closed(struct luo_session *s);

/* used by the global state machine */
int session_prepare(struct luo_session *s);
int session_freeze(struct luo_session *s);
void session_cancel(struct luo_session *s, enum luo_state to);
bool session_retrievable(const struct luo_session *s);

/* ---- core.c ---- */
/*
 * The core's state is its own (core/state.h, seen by core/ alone); every
 * other layer reads it through these and changes it only through the
 * core's own operations.
 */
enum luo_state core_state(void);
uint64_t core_generation(void);
uint64_t core_updates(void);
uint64_t core_instance(void);    /* random, new in every luod process */
uint64_t core_predecessor(void); /* the instance a live update took over from, or 0 */
uint64_t core_started_ns(void);
uint64_t core_prepared_ns(void); /* when the state last became PREPARED, or 0 */
size_t core_session_count(void);
size_t core_file_count(void); /* outgoing and incoming */
struct luo_session *core_first_session(void); /* then s->next: creation order */
void core_set_started_ns(uint64_t ns);
void core_clear_prepared(void);
/* The server's side of a held session and of a participant (set once, at start). */
/* tag: the event's, for a participant registered with LUO_PARTICIPANT_TAGS; else 0 */
void core_set_server(void (*detach)(void *handle),
		     int (*participant_send)(void *handle, enum luo_event event, unsigned timeout_ms,
					     uint64_t tag));
/*
 * A successor (the handover, or the kernel backend's) adopted the
 * sessions it was handed with core_add_session(): the core is one update
 * further, UPDATED, with the predecessor's instance (0 if unknown).
 */
void core_adopt_update(uint64_t generation, uint64_t updates, uint64_t predecessor);


struct luo_session *core_find_session(const char *name);
void core_add_session(struct luo_session *s);
/*
 * The session of that name, or a new incoming one added for it (what a
 * crash copy names); *added (if not NULL) says which. NULL when out of memory.
 */
struct luo_session *core_incoming_session(const char *name, uid_t uid, bool *added);
void core_remove_session(struct luo_session *s); /* unlinks only */
int core_create_session(const char *name, uid_t uid, struct luo_session **ret);
int core_retrieve_session(const char *name, uid_t uid, struct luo_session **ret);
int core_update_session(const char *name, uid_t uid, struct luo_session **ret);
/*
 * A global event. Participants make it asynchronous: returns <0 on an
 * immediate error, 0 when it completed now (done is not called), 1 when
 * done(result, ctx) will be called once every participant has answered.
 */
int core_event_async(enum luo_event event, void (*done)(int result, void *ctx), void *ctx);
int core_event(enum luo_event event); /* without participants: always completes now */
bool core_busy(void);
bool core_update_in_progress(void); /* busy, PREPARED or FROZEN: no new outgoing session */
void core_incoming_done(void); /* an incoming session went away */
void core_release_incoming(void);
void core_notify(void);
size_t core_incoming_sessions(void);
void core_free_all(void);
/* A fresh random instance id for this process (never 0). */
void core_new_instance(void);
/*
 * After a crash, once every source (keeper, fd store) has added its
 * incoming sessions with core_add_session(): the core decides the state
 * and the generation. have_lineage: a source kept the generation and the
 * update count (they only ever grow). sessions: how many came back.
 */
void core_adopt_crash(bool have_lineage, uint64_t generation, uint64_t updates, size_t sessions);

/* ---- participant.c ---- */
#define LUO_PARTICIPANT_PAYLOAD_MAX (64 * 1024)

struct luo_participant {
	char name[LUO_NAME_MAX];
	void *handle; /* server's connection; NULL once the process left */
	enum luo_state state; /* NORMAL, PREPARED or FROZEN, as far as this participant is */
	bool waiting;         /* an event went out, its answer has not come */
	bool tags;            /* registered with LUO_PARTICIPANT_TAGS */
	uint64_t tag;         /* tags: that of the last event sent, which an answer must carry */
	bool has_payload;     /* stored with PREPARE or FREEZE: crosses the update */
	bool has_incoming;    /* handed over from before the update */
	unsigned char *payload;
	size_t payload_len;
	unsigned char *incoming;
	size_t incoming_len;
	struct luo_participant *next;
};

extern unsigned participant_timeout_ms;
struct luo_participant *participant_first(void);
size_t participant_count(void);
struct luo_participant *participant_find(const char *name);
int participant_register(const char *name, void *handle, struct luo_participant **ret);
int participant_restore(const char *name, const void *payload, size_t len);
int participant_set_payload(struct luo_participant *p, const void *data, size_t len);
/* 0: nobody to tell, done not called; 1: done(result, ctx) comes later; <0: error */
int participant_round(enum luo_event event, void (*done)(int result, void *ctx), void *ctx);
void participant_answer(struct luo_participant *p, int result, const void *payload, size_t len,
			bool has_payload);
void participant_disconnected(struct luo_participant *p);
void participant_forget_departed(void);
void participant_tick(uint64_t now);
uint64_t participant_deadline(void); /* of the round in progress, or 0 */
void participant_finish_incoming(void);
void participant_free_all(void);

/* ---- handover_write.c / handover_read.c ---- */
#define LUO_HANDOVER_COMPATIBLE "luo,handover-v2"
#define LUO_HANDOVER_COMPATIBLE_V1 "luo,handover-v1" /* still read */
#define LUO_HANDOVER_VERSION 2
#define LUO_HANDOVER_MAX (256u * 1024 * 1024)

/* Format 2: one record per file in a session's "files" property, big endian. */
struct luo_handover_file {
	uint64_t token;
	uint32_t fd;
	uint16_t handler;     /* index into the session's "handlers" strings */
	uint16_t flags;       /* 0 */
	uint32_t payload_off; /* into the session's "payloads" */
	uint32_t payload_len;
};
_Static_assert(sizeof(struct luo_handover_file) == 24, "handover record layout");

/* The handover's checksum: len bytes of blob, the 8 at hole counted as zero. */
uint64_t luo_handover_checksum(const void *blob, size_t len, size_t hole);

/* Monotonic timestamps of one update, carried to the successor. */
enum luo_mark {
	LUO_MARK_PREPARE,
	LUO_MARK_FREEZE,
	LUO_MARK_FROZEN,
	LUO_MARK_COUNT, /* the FDT write and execve are timed by --handover-exec-ns */
};

struct luo_handover_luod {
	int listen_fd; /* -1: none */
	bool listen_activated; /* listen_fd came from systemd socket activation */
	int reply_fd;  /* -1: none; the connection that asked for the update */
	uint64_t marks[LUO_MARK_COUNT];
	uint64_t updates;
	uint64_t instance; /* the writer's; 0 from a writer that had none */
};

/* A new memfd holding blob, sealed against every change; or -errno. */
int luo_sealed_memfd(const char *name, const void *blob, size_t len);
/* Serialize every outgoing FROZEN session; returns a sealed memfd or -errno. */
int luo_handover_write(const struct luo_handover_luod *luod, size_t *ret_bytes);
/* Build the FDT in a buffer (for tests and `dump`); caller frees *ret. */
int luo_handover_build(const struct luo_handover_luod *luod, void **ret, size_t *ret_len);
/*
 * Validate blob and rebuild its sessions as incoming in luo_core. On any
 * error nothing is added, no fd is closed, and a message says why.
 * luo_handover_read_fd() also refuses a blob that names its own fd.
 */
int luo_handover_read(const void *blob, size_t len, struct luo_handover_luod *luod);
int luo_handover_read_fd(int fd, struct luo_handover_luod *luod, size_t *ret_bytes);

/* ---- update.c ---- */
struct luo_update_request {
	const char *exec_path; /* NULL: luod's own binary */
	char *const *argv;     /* luod's argv, without any --handover-fd */
	int listen_fd;
	bool listen_activated;
	int reply_fd;
};
/*
 * Start the update. An immediate refusal is returned (<0, failed not
 * called); otherwise 0, and either luod execs its successor or, once
 * everything is rolled back, failed(-errno, ctx) is called.
 */
int update_start(const struct luo_update_request *req, void (*failed)(int result, void *ctx),
		 void *ctx);
void update_requester_gone(void); /* the connection that asked has closed */
/* luod's own binary, for execve: its path while that still is the running file */
const char *luod_self_exe(void);

/* ---- server.c ---- */
struct luo_backend_ops;
struct luod_config {
	const char *socket_path;
	const char *state_dir;
	mode_t socket_mode; /* of the socket luod creates (--socket-mode) */
	gid_t socket_gid;   /* and its group (--socket-group), or (gid_t)-1 */
	char **argv;   /* for re-exec, without --handover-* */
	int listen_fd; /* inherited through the handover or from systemd, or -1 */
	bool listen_activated; /* listen_fd came from socket activation: systemd owns its path */
	int reply_fd;  /* the update's requester, or -1 */
	const struct luo_msg_update_reply *update; /* when started by an update */
	uint64_t freeze_mark_ns; /* the predecessor's FREEZE, where the blackout began */
	const struct luo_backend_ops *backend; /* chosen at start (backend/backend.h) */
};
int luod_serve(const struct luod_config *cfg);

/* ---- statefile.c ---- */
int luo_statefile_init(const char *dir);
void luo_statefile_write(void);
void luo_history_append(const char *json_line);

#endif
