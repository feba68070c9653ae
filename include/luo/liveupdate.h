/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * The /dev/liveupdate ioctl ABI, as the merged upstream kernel defines it
 * (numbers, layouts, size rules), written from doc facts, not copied. A
 * program built against this header runs against a real kernel, and one
 * built against the kernel's <linux/liveupdate.h> runs against
 * libluo-compat.so. The include guard is the kernel header's, so including
 * both is harmless.
 *
 * Every argument structure starts with __u32 size, set by the caller to
 * sizeof() the structure it was built with. A size smaller than the end of
 * the last required field is EINVAL; a larger one is accepted when every
 * byte past the known structure is zero, else E2BIG.
 *
 * The LUO_IOCTL_SESSION_* commands at the end are luo extensions (the per-session
 * events of the v4 series); the kernel does not implement them.
 */
#ifndef _UAPI_LIVEUPDATE_H
#define _UAPI_LIVEUPDATE_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define LIVEUPDATE_IOCTL_TYPE 0xBA

/* Session names: at most 63 bytes, NUL-terminated within 64, not empty. */
#define LIVEUPDATE_SESSION_NAME_LENGTH 64

/* Command numbers on /dev/liveupdate. */
enum {
	LIVEUPDATE_CMD_BASE = 0x00,
	LIVEUPDATE_CMD_CREATE_SESSION = LIVEUPDATE_CMD_BASE,
	LIVEUPDATE_CMD_RETRIEVE_SESSION = 0x01,
};

/* Command numbers on a session fd. */
enum {
	LIVEUPDATE_CMD_SESSION_BASE = 0x40,
	LIVEUPDATE_CMD_SESSION_PRESERVE_FD = LIVEUPDATE_CMD_SESSION_BASE,
	LIVEUPDATE_CMD_SESSION_RETRIEVE_FD = 0x41,
	LIVEUPDATE_CMD_SESSION_FINISH = 0x42,
	LIVEUPDATE_CMD_SESSION_GET_NAME = 0x43,
	LIVEUPDATE_CMD_SESSION_RETRIEVE_INTO_FD = 0x44,
};

/*
 * LIVEUPDATE_IOCTL_CREATE_SESSION - create an outgoing session.
 * @name is the session's name; on success @fd is the new session fd
 * (close-on-exec). EEXIST when the name is taken, EINVAL for a bad name.
 */
struct liveupdate_ioctl_create_session {
	__u32 size;
	__s32 fd;
	__u8 name[LIVEUPDATE_SESSION_NAME_LENGTH];
};

#define LIVEUPDATE_IOCTL_CREATE_SESSION _IO(LIVEUPDATE_IOCTL_TYPE, LIVEUPDATE_CMD_CREATE_SESSION)

/*
 * LIVEUPDATE_IOCTL_RETRIEVE_SESSION - retrieve an incoming session by name,
 * once. ENOENT when there is none of that name, EINVAL when it was
 * retrieved already.
 */
struct liveupdate_ioctl_retrieve_session {
	__u32 size;
	__s32 fd;
	__u8 name[LIVEUPDATE_SESSION_NAME_LENGTH];
};

#define LIVEUPDATE_IOCTL_RETRIEVE_SESSION \
	_IO(LIVEUPDATE_IOCTL_TYPE, LIVEUPDATE_CMD_RETRIEVE_SESSION)

/*
 * LIVEUPDATE_SESSION_PRESERVE_FD - preserve @fd under @token (outgoing
 * sessions only). ENOENT when no handler takes that kind of file, EBUSY
 * when the file is preserved already.
 */
struct liveupdate_session_preserve_fd {
	__u32 size;
	__s32 fd;
	__aligned_u64 token;
};

#define LIVEUPDATE_SESSION_PRESERVE_FD \
	_IO(LIVEUPDATE_IOCTL_TYPE, LIVEUPDATE_CMD_SESSION_PRESERVE_FD)

/* LIVEUPDATE_SESSION_RETRIEVE_FD - a new fd for @token (incoming sessions only). */
struct liveupdate_session_retrieve_fd {
	__u32 size;
	__s32 fd;
	__aligned_u64 token;
};

#define LIVEUPDATE_SESSION_RETRIEVE_FD \
	_IO(LIVEUPDATE_IOCTL_TYPE, LIVEUPDATE_CMD_SESSION_RETRIEVE_FD)

/* LIVEUPDATE_SESSION_FINISH - finish an incoming session; what was not retrieved is released. */
struct liveupdate_session_finish {
	__u32 size;
	__u32 reserved;
};

#define LIVEUPDATE_SESSION_FINISH _IO(LIVEUPDATE_IOCTL_TYPE, LIVEUPDATE_CMD_SESSION_FINISH)

/* LIVEUPDATE_SESSION_GET_NAME - the session's name, NUL-terminated. */
struct liveupdate_session_get_name {
	__u32 size;
	__u32 reserved;
	__u8 name[LIVEUPDATE_SESSION_NAME_LENGTH];
};

#define LIVEUPDATE_SESSION_GET_NAME _IO(LIVEUPDATE_IOCTL_TYPE, LIVEUPDATE_CMD_SESSION_GET_NAME)

/* LIVEUPDATE_SESSION_RETRIEVE_INTO_FD - retrieve @token into the fd number @fd. */
struct liveupdate_session_retrieve_into_fd {
	__u32 size;
	__s32 fd;
	__aligned_u64 token;
};

#define LIVEUPDATE_SESSION_RETRIEVE_INTO_FD \
	_IO(LIVEUPDATE_IOCTL_TYPE, LIVEUPDATE_CMD_SESSION_RETRIEVE_INTO_FD)

/*
 * luo extensions: the per-session state machine of the v4 series, served by
 * libluo-compat.so only (a kernel answers EINVAL: the numbers are outside
 * its table). They sit at 0x70.. so that upstream can keep growing from
 * 0x45 without a collision.
 */
enum {
	LUO_CMD_SESSION_SET_EVENT = 0x70,
	LUO_CMD_SESSION_GET_STATE = 0x71,
	LUO_CMD_SESSION_UNPRESERVE_FD = 0x72,
};

enum luo_session_event {
	LUO_SESSION_EVENT_PREPARE = 0,
	LUO_SESSION_EVENT_FREEZE = 1,
	LUO_SESSION_EVENT_CANCEL = 2,
	LUO_SESSION_EVENT_FINISH = 3,
};

enum luo_session_state {
	LUO_SESSION_STATE_NORMAL = 0,
	LUO_SESSION_STATE_PREPARED = 1,
	LUO_SESSION_STATE_FROZEN = 2,
	LUO_SESSION_STATE_UPDATED = 3,
};

/* LUO_IOCTL_SESSION_SET_EVENT - move one session through PREPARE, FREEZE, CANCEL, FINISH. */
struct luo_ioctl_session_set_event {
	__u32 size;
	__u32 event;
};

#define LUO_IOCTL_SESSION_SET_EVENT _IO(LIVEUPDATE_IOCTL_TYPE, LUO_CMD_SESSION_SET_EVENT)

/* LUO_IOCTL_SESSION_GET_STATE - the session's state, and whether it is incoming. */
struct luo_ioctl_session_get_state {
	__u32 size;
	__u8 incoming;
	__u8 reserved[3];
	__u32 state;
};

#define LUO_IOCTL_SESSION_GET_STATE _IO(LIVEUPDATE_IOCTL_TYPE, LUO_CMD_SESSION_GET_STATE)

/* LUO_IOCTL_SESSION_UNPRESERVE_FD - drop @token again; only before PREPARE. */
struct luo_ioctl_session_unpreserve_fd {
	__u32 size;
	__u32 reserved;
	__aligned_u64 token;
};

#define LUO_IOCTL_SESSION_UNPRESERVE_FD _IO(LIVEUPDATE_IOCTL_TYPE, LUO_CMD_SESSION_UNPRESERVE_FD)

/* The layouts are ABI: any change here breaks programs built against the kernel. */
#if !defined(__KERNEL__) && (defined(__cplusplus) || __STDC_VERSION__ >= 201112L)
#include <stddef.h>
#ifdef __cplusplus
#define LIVEUPDATE_ASSERT_ static_assert
#else
#define LIVEUPDATE_ASSERT_ _Static_assert
#endif
#define LIVEUPDATE_CHECK_(type, field, off) \
	LIVEUPDATE_ASSERT_(offsetof(type, field) == (off), #type "." #field " offset")

LIVEUPDATE_ASSERT_(sizeof(struct liveupdate_ioctl_create_session) == 72, "create_session size");
LIVEUPDATE_CHECK_(struct liveupdate_ioctl_create_session, size, 0);
LIVEUPDATE_CHECK_(struct liveupdate_ioctl_create_session, fd, 4);
LIVEUPDATE_CHECK_(struct liveupdate_ioctl_create_session, name, 8);

LIVEUPDATE_ASSERT_(sizeof(struct liveupdate_ioctl_retrieve_session) == 72,
		   "retrieve_session size");
LIVEUPDATE_CHECK_(struct liveupdate_ioctl_retrieve_session, size, 0);
LIVEUPDATE_CHECK_(struct liveupdate_ioctl_retrieve_session, fd, 4);
LIVEUPDATE_CHECK_(struct liveupdate_ioctl_retrieve_session, name, 8);

LIVEUPDATE_ASSERT_(sizeof(struct liveupdate_session_preserve_fd) == 16, "preserve_fd size");
LIVEUPDATE_CHECK_(struct liveupdate_session_preserve_fd, size, 0);
LIVEUPDATE_CHECK_(struct liveupdate_session_preserve_fd, fd, 4);
LIVEUPDATE_CHECK_(struct liveupdate_session_preserve_fd, token, 8);

LIVEUPDATE_ASSERT_(sizeof(struct liveupdate_session_retrieve_fd) == 16, "retrieve_fd size");
LIVEUPDATE_CHECK_(struct liveupdate_session_retrieve_fd, size, 0);
LIVEUPDATE_CHECK_(struct liveupdate_session_retrieve_fd, fd, 4);
LIVEUPDATE_CHECK_(struct liveupdate_session_retrieve_fd, token, 8);

LIVEUPDATE_ASSERT_(sizeof(struct liveupdate_session_retrieve_into_fd) == 16,
		   "retrieve_into_fd size");
LIVEUPDATE_CHECK_(struct liveupdate_session_retrieve_into_fd, size, 0);
LIVEUPDATE_CHECK_(struct liveupdate_session_retrieve_into_fd, fd, 4);
LIVEUPDATE_CHECK_(struct liveupdate_session_retrieve_into_fd, token, 8);

LIVEUPDATE_ASSERT_(sizeof(struct liveupdate_session_finish) == 8, "finish size");
LIVEUPDATE_CHECK_(struct liveupdate_session_finish, size, 0);
LIVEUPDATE_CHECK_(struct liveupdate_session_finish, reserved, 4);

LIVEUPDATE_ASSERT_(sizeof(struct liveupdate_session_get_name) == 72, "get_name size");
LIVEUPDATE_CHECK_(struct liveupdate_session_get_name, size, 0);
LIVEUPDATE_CHECK_(struct liveupdate_session_get_name, reserved, 4);
LIVEUPDATE_CHECK_(struct liveupdate_session_get_name, name, 8);

LIVEUPDATE_ASSERT_(sizeof(struct luo_ioctl_session_set_event) == 8, "set_event size");
LIVEUPDATE_CHECK_(struct luo_ioctl_session_set_event, size, 0);
LIVEUPDATE_CHECK_(struct luo_ioctl_session_set_event, event, 4);

LIVEUPDATE_ASSERT_(sizeof(struct luo_ioctl_session_get_state) == 12, "get_state size");
LIVEUPDATE_CHECK_(struct luo_ioctl_session_get_state, size, 0);
LIVEUPDATE_CHECK_(struct luo_ioctl_session_get_state, incoming, 4);
LIVEUPDATE_CHECK_(struct luo_ioctl_session_get_state, reserved, 5);
LIVEUPDATE_CHECK_(struct luo_ioctl_session_get_state, state, 8);

LIVEUPDATE_ASSERT_(sizeof(struct luo_ioctl_session_unpreserve_fd) == 16, "unpreserve_fd size");
LIVEUPDATE_CHECK_(struct luo_ioctl_session_unpreserve_fd, size, 0);
LIVEUPDATE_CHECK_(struct luo_ioctl_session_unpreserve_fd, reserved, 4);
LIVEUPDATE_CHECK_(struct luo_ioctl_session_unpreserve_fd, token, 8);

/* The numbers are ABI too: _IO(0xBA, nr), no size or direction bits. */
LIVEUPDATE_ASSERT_(LIVEUPDATE_IOCTL_CREATE_SESSION == 0xBA00, "CREATE_SESSION number");
LIVEUPDATE_ASSERT_(LIVEUPDATE_IOCTL_RETRIEVE_SESSION == 0xBA01, "RETRIEVE_SESSION number");
LIVEUPDATE_ASSERT_(LIVEUPDATE_SESSION_PRESERVE_FD == 0xBA40, "PRESERVE_FD number");
LIVEUPDATE_ASSERT_(LIVEUPDATE_SESSION_RETRIEVE_FD == 0xBA41, "RETRIEVE_FD number");
LIVEUPDATE_ASSERT_(LIVEUPDATE_SESSION_FINISH == 0xBA42, "FINISH number");
LIVEUPDATE_ASSERT_(LIVEUPDATE_SESSION_GET_NAME == 0xBA43, "GET_NAME number");
LIVEUPDATE_ASSERT_(LIVEUPDATE_SESSION_RETRIEVE_INTO_FD == 0xBA44, "RETRIEVE_INTO_FD number");

#undef LIVEUPDATE_CHECK_
#undef LIVEUPDATE_ASSERT_
#endif

#endif /* _UAPI_LIVEUPDATE_H */
