/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The luod wire protocol, shared by libluo, luoctl and luod.
 *
 * One message per SOCK_SEQPACKET record: a fixed header, then an op-specific
 * body, with file descriptors in a single SCM_RIGHTS control message. Like
 * the kernel's uAPI, the header carries the total size and a version, so a
 * body longer than the receiver knows is accepted when its tail is all zero
 * (else E2BIG) and one shorter than the required part is EINVAL.
 *
 * Requests on a device connection (from luo_open) and on a session handle
 * (a socketpair end luod hands out) use disjoint op ranges. Every request
 * gets exactly one reply with the same op; result is 0 or -errno and an
 * error reply has no body. doc/protocol.md is the prose version of this file.
 *
 * All integers are native-endian: both ends always run on the same host.
 */
#ifndef LUO_PROTOCOL_H
#define LUO_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "luo/luo.h"

#define LUO_PROTO_VERSION 1
/* room for a 64 KiB participant payload and its header */
#define LUO_MSG_MAX (64 * 1024 + 256)
/* SCM_MAX_FD in the kernel */
#define LUO_FDS_PER_MSG 253
#define LUO_PATH_MAX 4096

/*
 * Request op flag: the request's first fd is a socket of the client's on
 * which luod sends the reply (with the plain op) instead of on the
 * connection, then closes it. So several processes and threads can share a
 * connection or handle and each get its own reply. Not for ops that bind
 * the connection (WATCH, UPDATE, PARTICIPANT_REGISTER, KERNEL_*): EINVAL.
 */
#define LUO_OP_REPLY_CHANNEL 0x8000
/* the fds an op may carry beside its reply channel */
#define LUO_FDS_PER_CALL (LUO_FDS_PER_MSG - 1)

struct luo_msg_hdr {
	uint32_t size;    /* header + body, bytes */
	uint16_t version; /* LUO_PROTO_VERSION */
	uint16_t op;      /* enum luo_op */
	int32_t result;   /* replies: 0 or -errno; requests: 0 */
	uint32_t nfds;    /* fds attached with SCM_RIGHTS */
};

enum luo_op {
	/* device connection */
	LUO_OP_CREATE_SESSION = 1,
	LUO_OP_RETRIEVE_SESSION = 2,
	LUO_OP_GET_STATE = 3,
	LUO_OP_SET_EVENT = 4,
	LUO_OP_STATUS = 5,
	LUO_OP_LIST_SESSIONS = 6,
	LUO_OP_SHOW_SESSION = 7,
	LUO_OP_UPDATE = 8,
	LUO_OP_PARTICIPANT_REGISTER = 9, /* the connection becomes the participant's */
	LUO_OP_SESSION_UPDATE = 10,      /* per-session update of a session by name */
	/* 11..15: observability (luoctl watch, history, dump) */
	LUO_OP_WATCH = 11,   /* the connection becomes a stream of struct luo_msg_watch_event */
	LUO_OP_HISTORY = 12, /* reply: struct luo_msg_history_reply */
	LUO_OP_DUMP = 13,    /* reply: 1 fd, a sealed memfd holding the FDT of the current state */
	/* 20..27: the kernel backend (daemon/backend/backend_kernel.c) */
	LUO_OP_KERNEL_STATUS = 20, /* reply: struct luo_msg_kernel_status */
	LUO_OP_KERNEL_UPDATE = 21, /* body: command line with its NUL; fds: kernel [, initrd] */

	/* session handle */
	LUO_OP_SESSION_PRESERVE = 64,
	LUO_OP_SESSION_UNPRESERVE = 65,
	LUO_OP_SESSION_RETRIEVE = 66,
	LUO_OP_SESSION_FINISH = 67,
	LUO_OP_SESSION_GET_NAME = 68,
	LUO_OP_SESSION_SET_EVENT = 69,
	LUO_OP_SESSION_GET_STATE = 70,
	LUO_OP_SESSION_RENEW = 71, /* incoming -> outgoing NORMAL, keeping every file */

	/* participant connection: luod sends the event, the participant answers with the same op */
	LUO_OP_PARTICIPANT_EVENT = 96,
};

#define LUO_OP_SESSION_FIRST LUO_OP_SESSION_PRESERVE

/* CREATE_SESSION, RETRIEVE_SESSION, SHOW_SESSION (request); reply carries 1 fd */
struct luo_msg_name {
	char name[LUO_NAME_MAX];
};

/* SET_EVENT and SESSION_SET_EVENT */
struct luo_msg_event {
	uint32_t event; /* enum luo_event */
	uint32_t reserved;
};

/*
 * GET_STATE reply. instance is random and new in every luod process image
 * (a fresh start, a restart after a crash, the successor of each update);
 * predecessor is the instance of the luod this one took over from by a live
 * update, 0 after a fresh start or a crash. A luod older than these fields
 * sends only the first 16 bytes.
 */
struct luo_msg_state {
	uint32_t state; /* enum luo_state */
	uint32_t reserved;
	uint64_t generation;
	uint64_t instance;
	uint64_t predecessor;
};

/* STATUS reply */
struct luo_msg_status {
	uint32_t state;
	uint32_t pid;
	uint64_t generation;
	uint32_t sessions;
	uint32_t incoming_sessions;
	uint64_t files;
	uint64_t uptime_ns;
	uint64_t updates; /* live updates this luod lineage has completed */
	uint32_t participants;
	uint32_t reserved;
	uint64_t memfd_bytes; /* bytes of preserved memfds (the memfd handler's FLB) */
	uint64_t instance;    /* as in struct luo_msg_state */
	uint64_t predecessor;
	uint32_t keeper;      /* the crash copy: 0 off, 1 whole, 2 lost (being replaced) */
	uint32_t reserved2;
	uint64_t keeper_failures; /* times the keeper was lost or could not be had */
};

/* KERNEL_STATUS reply: which backend luod runs, and the kernel's live-update number */
enum luo_backend {
	LUO_BACKEND_USERSPACE = 0,
	LUO_BACKEND_KERNEL = 1,
};

/* Where luod's kernel session comes from (the kernel backend) */
enum luo_kernel_mode {
	LUO_KERNEL_MODE_NONE = 0,    /* no kernel session: nothing crosses a kexec */
	LUO_KERNEL_MODE_DEVICE = 1,  /* luod opened /dev/liveupdate and made its own */
	LUO_KERNEL_MODE_SYSTEMD = 2, /* the one systemd passed it (LUOSession=, the fd store) */
};

/*
 * The first three fields are the first version's; a client reads what it
 * knows (an older luod sends 16 bytes: the rest reads 0).
 */
struct luo_msg_kernel_status {
	uint32_t backend;  /* enum luo_backend */
	uint32_t sessions; /* kernel sessions luod holds (its own: 0 or 1) */
	uint64_t liveupdate_num; /* live updates the kernel has been through (0: none) */
	uint32_t mode;           /* enum luo_kernel_mode */
	uint32_t kernel_files;   /* files a kexec now would carry in the kernel (memfds) */
	uint32_t recreate_files; /* listeners a kexec now would re-create */
	uint32_t luod_files;     /* files a kexec now would not carry */
	/* what the last kexec did, as this boot's luod found it */
	uint32_t carried;   /* memfds back from the kernel session */
	uint32_t recreated; /* listeners re-created */
	uint32_t lost;      /* files that did not cross it: retrieve says ENOLINK */
	uint32_t reserved;
	char session_name[LUO_NAME_MAX]; /* the kernel session's name, "" without one */
};

/* LIST_SESSIONS request: entries from index cursor on */
struct luo_msg_list {
	uint32_t cursor;
	uint32_t reserved;
};

struct luo_msg_session_info {
	char name[LUO_NAME_MAX];
	uint32_t state;
	uint8_t incoming;
	uint8_t retrieved;
	uint8_t attached; /* some process holds a handle */
	uint8_t reserved;
	uint32_t uid;
	uint32_t files;
};

/* LIST_SESSIONS reply: as many entries as fit, and the total */
struct luo_msg_list_reply {
	uint32_t total;
	uint32_t count;
	struct luo_msg_session_info entries[];
};

/* SHOW_SESSION request */
struct luo_msg_show {
	char name[LUO_NAME_MAX];
	uint32_t cursor;
	uint32_t reserved;
};

#define LUO_HANDLER_NAME_MAX 32

/* Where a preserved file lives, for `luoctl show` (the kernel backend tells them apart) */
enum luo_file_where {
	LUO_WHERE_LUOD = 0,      /* in luod: crosses luod's updates and restarts, not a kexec */
	LUO_WHERE_KERNEL = 1,    /* a memfd also in the kernel's session: crosses a kexec too */
	LUO_WHERE_RECREATED = 2, /* a listener: luod re-creates it after a kexec (same address) */
	LUO_WHERE_LOST = 3,      /* did not cross the last kexec: its retrieve fails with ENOLINK */
};

struct luo_msg_file_info {
	uint64_t token;
	char handler[LUO_HANDLER_NAME_MAX];
	uint64_t size; /* bytes the handler accounts for, 0 if none */
	uint8_t frozen;
	uint8_t retrieved;
	uint8_t where; /* enum luo_file_where (0 from an older luod) */
	uint8_t reserved;
	int32_t retrieve_error;
};

struct luo_msg_show_reply {
	struct luo_msg_session_info session;
	uint32_t total;
	uint32_t count;
	struct luo_msg_file_info entries[];
};

/* UPDATE request */
#define LUO_UPDATE_EXEC 0x1 /* exec the path below instead of luod's own binary */
struct luo_msg_update {
	uint32_t flags;
	uint32_t reserved;
	char exec_path[LUO_PATH_MAX];
};

/* UPDATE reply, sent by the successor once it serves */
struct luo_msg_update_reply {
	uint64_t generation;
	uint32_t sessions;
	uint32_t reserved;
	uint64_t files;
	uint64_t prepare_ns;
	uint64_t freeze_ns;
	uint64_t fdt_write_ns;
	uint64_t exec_ns;      /* execve() until the successor's main() */
	uint64_t fdt_parse_ns;
	uint64_t blackout_ns;  /* freeze start until the successor serves */
	uint64_t fdt_bytes;
	uint32_t successor_pid;
	uint32_t reserved2;
};

/*
 * WATCH: the reply (result 0, no body) is followed by the current state as
 * events flagged SNAPSHOT (luod, then each session and participant), then
 * by an event for every change, as it happens, all with op LUO_OP_WATCH.
 * The connection carries nothing else from then on; a watcher that does
 * not read is disconnected rather than let luod wait. A live update of
 * luod closes it like every connection: watch again.
 */
enum luo_watch_kind {
	LUO_WATCH_GLOBAL = 1,      /* luod's state: state, generation */
	LUO_WATCH_SESSION = 2,     /* a session appeared, changed or went (GONE) */
	LUO_WATCH_PARTICIPANT = 3, /* a participant registered, answered or went (GONE) */
	LUO_WATCH_UPDATE = 4,      /* a step of a live update of luod: step, result */
};

#define LUO_WATCH_SNAPSHOT 0x1 /* the state at the start of the watch */
#define LUO_WATCH_GONE 0x2     /* the session or participant no longer exists */
#define LUO_WATCH_INCOMING 0x4 /* session: handed over by an update */
#define LUO_WATCH_ATTACHED 0x8 /* session: a process holds a handle */
#define LUO_WATCH_WAITING 0x10 /* participant: it owes luod an answer */

enum luo_update_step {
	LUO_STEP_START = 1,    /* luoctl update accepted: PREPARE and FREEZE follow */
	LUO_STEP_FROZEN = 2,   /* every session frozen: the handover is written */
	LUO_STEP_EXEC = 3,     /* handover written: execve now */
	LUO_STEP_FAILED = 4,   /* rolled back, result says why; luod goes on */
};

struct luo_msg_watch_event {
	uint32_t kind;  /* enum luo_watch_kind */
	uint32_t state; /* enum luo_state: of luod, the session or the participant */
	uint64_t generation;
	uint64_t realtime_ns; /* CLOCK_REALTIME when luod saw it */
	uint32_t flags;       /* LUO_WATCH_* */
	uint32_t files;       /* SESSION: its files; UPDATE: sessions carried */
	int32_t result;       /* UPDATE: 0, or the -errno of a FAILED step */
	uint32_t step;        /* UPDATE: enum luo_update_step */
	char name[LUO_NAME_MAX]; /* SESSION, PARTICIPANT: its name */
};

/* HISTORY reply: the live updates luod remembers, oldest first (a bounded ring) */
#define LUO_HISTORY_MAX 64

enum luo_history_outcome {
	LUO_HISTORY_OK = 0,
	LUO_HISTORY_FAILED = 1,    /* error says why; luod rolled back and went on */
	LUO_HISTORY_CANCELLED = 2, /* a global CANCEL after PREPARE or FREEZE */
};

struct luo_msg_history_entry {
	uint64_t generation;        /* luod's generation after it (OK), or when it was tried */
	uint64_t start_realtime_ns; /* CLOCK_REALTIME when it began */
	uint64_t prepare_ns;
	uint64_t freeze_ns;
	uint64_t blackout_ns; /* FREEZE until the successor served (OK only) */
	uint64_t files;       /* carried */
	uint32_t sessions;    /* carried */
	uint32_t outcome;     /* enum luo_history_outcome */
	int32_t error;        /* FAILED: -errno */
	uint32_t reserved;
};

struct luo_msg_history_reply {
	uint64_t updates; /* live updates this luod lineage has completed */
	uint32_t count;
	uint32_t reserved;
	struct luo_msg_history_entry entries[];
};

/*
 * PARTICIPANT_REGISTER request: the name, then flags. A client older than
 * the flags sends the name alone (64 bytes): no flags. An older luod
 * answers a non-zero flags word with E2BIG (libluo then registers again
 * without it).
 *
 * LUO_PARTICIPANT_TAGS: every event luod sends this participant carries a
 * tag, unique per event sent and never 0, and every answer carries the tag
 * of the event it answers (LUO_PAYLOAD_TAGGED); luod drops an answer whose
 * tag is not that of the event it waits for, so an answer that comes late
 * (after its deadline, or twice) is never taken for the next event's.
 */
#define LUO_PARTICIPANT_TAGS 0x1
struct luo_msg_participant_register {
	char name[LUO_NAME_MAX];
	uint32_t flags; /* LUO_PARTICIPANT_TAGS */
	uint32_t reserved;
};

/* The register reply and an untagged answer carry: */
#define LUO_PAYLOAD_PRESENT 0x1
#define LUO_PAYLOAD_TAGGED 0x2 /* answers only: the header is struct luo_msg_payload_tagged */
struct luo_msg_payload {
	uint32_t flags; /* LUO_PAYLOAD_PRESENT */
	uint32_t len;
	unsigned char data[];
};

/* An answer of a participant registered with LUO_PARTICIPANT_TAGS */
struct luo_msg_payload_tagged {
	uint32_t flags; /* LUO_PAYLOAD_TAGGED, LUO_PAYLOAD_PRESENT */
	uint32_t len;
	uint64_t tag; /* of the event answered */
	unsigned char data[];
};

/* PARTICIPANT_EVENT from luod: without the tag (16 bytes) to participants registered without LUO_PARTICIPANT_TAGS */
struct luo_msg_participant_event {
	uint32_t event; /* enum luo_event */
	uint32_t timeout_ms;
	uint64_t generation;
	uint64_t tag; /* LUO_PARTICIPANT_TAGS only */
};
#define LUO_PARTICIPANT_EVENT_UNTAGGED offsetof(struct luo_msg_participant_event, tag)

/* SESSION_PRESERVE and SESSION_RETRIEVE request: count tokens; PRESERVE carries count fds */
struct luo_msg_tokens {
	uint32_t count;
	uint32_t reserved;
	uint64_t tokens[];
};

/*
 * SESSION_RENEW: no body (an older client), or flags. LUO_RENEW_FROZEN
 * freezes the renewed session in the same request, so there is no moment
 * when closing its handle would release it (an outgoing NORMAL session
 * ends with its last handle); an older luod answers E2BIG.
 */
#define LUO_RENEW_FROZEN 1u
struct luo_msg_renew {
	uint32_t flags;
	uint32_t reserved; /* 0 */
};

/* SESSION_UNPRESERVE */
struct luo_msg_token {
	uint64_t token;
};

/* SESSION_GET_STATE reply */
struct luo_msg_session_state {
	uint32_t state;
	uint8_t incoming;
	uint8_t reserved[3];
};

/*
 * Transport. luo_msg_send() sends one message, retrying on EINTR; fds may be
 * NULL when nfds is 0. luo_msg_recv() receives one message into buf (at
 * least sizeof(struct luo_msg_hdr) + LUO_MSG_MAX bytes is always enough),
 * with every received fd O_CLOEXEC; it validates the header (size, version,
 * fd count matching nfds) and on any error closes every fd that arrived.
 * Returns the message size, 0 on orderly EOF (the peer has shut down), or
 * -errno (EBADMSG for a malformed message, an empty record included).
 */
int luo_msg_send(int sock, uint16_t op, int32_t result, const void *body, size_t body_len,
		 const int *fds, size_t nfds);
/* The same with sendmsg() flags added (MSG_DONTWAIT: on a socket of the peer's making). */
int luo_msg_send_flags(int sock, int flags, uint16_t op, int32_t result, const void *body,
		       size_t body_len, const int *fds, size_t nfds);
ssize_t luo_msg_recv(int sock, void *buf, size_t buf_len, int *fds, size_t max_fds,
		     size_t *ret_nfds);
/* The same with recvmsg() flags of the caller's: 0 leaves the received fds without O_CLOEXEC. */
ssize_t luo_msg_recv_flags(int sock, void *buf, size_t buf_len, int *fds, size_t max_fds,
			   size_t *ret_nfds, int recv_flags);

/*
 * The header rules luo_msg_recv() applies to a record of len bytes that
 * came with nfds fds: 0 or -EBADMSG. Pure, so that it can be fuzzed.
 */
int luo_msg_check(const void *buf, size_t len, size_t nfds, size_t max_fds);

/*
 * Attach nfds fds (none: nothing happens) to msg as one SCM_RIGHTS record in
 * control, which must be aligned for struct cmsghdr and hold at least
 * CMSG_SPACE(sizeof(int) * nfds) bytes. Every sender of fds uses this one.
 */
struct msghdr;
void luo_msg_attach_fds(struct msghdr *msg, void *control, const int *fds, size_t nfds);

/*
 * Check a received body against the size this side knows: shorter than
 * min_len is -EINVAL, bytes past known_len must be zero (else -E2BIG).
 */
int luo_msg_body_check(const void *body, size_t body_len, size_t min_len, size_t known_len);

/* 1..63 bytes, NUL-terminated within LUO_NAME_MAX. */
int luo_name_validate(const char *name, size_t field_len);

#endif
