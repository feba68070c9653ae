/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * luoctl internals: the options every command shares, the helpers they use
 * to talk to luod and print, and one entry point per command group (one
 * file each). Exit status everywhere: 0 success, 1 luod refused or is
 * unreachable (its errno is printed), 2 usage error, 124 luod did not
 * answer within --timeout; `exec` returns its command's status.
 */
#ifndef LUOCTL_H
#define LUOCTL_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "escape.h"
#include "luo/luo.h"
#include "protocol.h"
#include "rpc.h"

#define LUOCTL_TIMEOUT_DEFAULT 60.0   /* seconds */
#define LUOCTL_TIMEOUT_MAX 31536000.0 /* a year */
#define LUOCTL_EXIT_TIMEOUT 124       /* as timeout(1) */

struct luoctl_opts {
	const char *socket; /* NULL: libluo's default */
	bool json;
	double timeout_s; /* --timeout; 0: none */
};
extern struct luoctl_opts opt;
extern struct luo_reply reply; /* the last reply of call() */

/* One command: its entry point gets argv[0] = the command's name. */
struct luoctl_command {
	const char *name;
	int (*run)(const struct luoctl_command *cmd, int argc, char **argv);
	const char *args;    /* synopsis after the name, for usage lines */
	const char *summary; /* one line for `luoctl --help` */
	const char *help;    /* the command's own options, or NULL */
};

/*
 * The options every command accepts after its name. Add these to a
 * command's getopt table; common_opt() handles their letters.
 */
#define LUOCTL_COMMON_OPTS                                  \
	{ "socket", required_argument, NULL, 's' },         \
	{ "json", no_argument, NULL, 'j' },                 \
	{ "timeout", required_argument, NULL, 'T' },        \
	{ "help", no_argument, NULL, 'h' }
#define LUOCTL_COMMON_SHORT "s:jT:h"

/*
 * For a letter getopt returned: handles --socket, --json and --timeout; true when the
 * command must return *status now (--help printed: 0; a bad option: 2).
 */
bool common_opt(const struct luoctl_command *cmd, int c, int *status);
/*
 * For commands with only the common options: -1 to go on with
 * argv[optind..] holding min_args..max_args operands, else the exit status.
 */
int parse_common(const struct luoctl_command *cmd, int argc, char **argv, int min_args,
		 int max_args);
/*
 * For commands with only the common options and no operands, which talk
 * to luod: -1 with a device handle in *dev, else the exit status.
 */
int parse_and_connect(const struct luoctl_command *cmd, int argc, char **argv, int *dev);
void command_usage(const struct luoctl_command *cmd, FILE *out);
/* Exit status 2 with the usage on stderr, after an optional message. */
int usage_error(const struct luoctl_command *cmd, const char *msg);

const char *state_name(uint32_t state);
const char *kernel_mode_name(uint32_t mode); /* enum luo_kernel_mode */
const char *where_name(uint32_t where);      /* enum luo_file_where */
int fail(const char *what, int r);         /* prints, returns 1 */
int connect_luod(void);                    /* a device handle, or -errno (printed) */
void json_string(FILE *out, const char *s); /* a JSON string literal */
/* One request; on success the reply is in `reply` with its fds closed. Returns 0 or 1. */
int call(int dev, uint16_t op, const void *body, size_t len, const char *what);
double ms(uint64_t ns);
/*
 * The --timeout timer runs from the start of the command; a command stops
 * it while it waits on something other than luod (the program `exec`
 * runs, events `watch` streams) and starts it again after.
 */
void timeout_pause(void);
void timeout_resume(void);
/* Whether stderr is a terminal: progress lines go there only then. */
bool progress_wanted(void);

/* page.c: a paged reply (LIST_SESSIONS, SHOW_SESSION) read to its end */
struct page_op {
	uint16_t op;
	size_t cursor_at;  /* the request's uint32_t cursor */
	size_t head_size;  /* the reply's part before its entries */
	size_t total_at;   /* its uint32_t total, within the head */
	size_t count_at;   /* its uint32_t count of this page's entries */
	size_t entry_size;
};
extern const struct page_op page_sessions; /* struct luo_msg_session_info entries */
extern const struct page_op page_files;    /* struct luo_msg_file_info entries */
/*
 * Sends req (req_len bytes, its cursor set here) until every entry came:
 * head(ctx, h) once with the first reply's head (head may be NULL), then
 * entry(ctx, e) for each entry in order. h and e are aligned copies the
 * callback may change. A callback's -errno stops and is returned; else 0,
 * the call's -errno, or EPROTO for a reply whose size, count and total do
 * not add up. `reply` is reused: a callback makes no call of its own.
 */
int page_each(int dev, const struct page_op *op, void *req, size_t req_len,
	      int (*head)(void *ctx, void *h), int (*entry)(void *ctx, void *e), void *ctx);

int cmd_status(const struct luoctl_command *cmd, int argc, char **argv);
int cmd_sessions(const struct luoctl_command *cmd, int argc, char **argv);
int cmd_show(const struct luoctl_command *cmd, int argc, char **argv);
int cmd_drop(const struct luoctl_command *cmd, int argc, char **argv);
int cmd_event(const struct luoctl_command *cmd, int argc, char **argv);
int cmd_update(const struct luoctl_command *cmd, int argc, char **argv);

/* kernel.c: the kernel backend */
int kernel_status(int dev, struct luo_msg_kernel_status *st); /* 0 or -errno */
/* A file the last kexec did not carry (kernel backend): retrieve says ENOLINK. */
struct not_carried {
	char session[LUO_NAME_MAX];
	uint64_t token;
};
/* Every one this uid may see, in *ret (the caller frees it); 0 or -errno. */
int kernel_not_carried(int dev, struct not_carried **ret, size_t *ret_n);
int update_kernel(int dev, const char *kernel, const char *initrd, const char *append);
int cmd_preserve(const struct luoctl_command *cmd, int argc, char **argv);
int cmd_exec(const struct luoctl_command *cmd, int argc, char **argv);
int cmd_watch(const struct luoctl_command *cmd, int argc, char **argv);
int cmd_history(const struct luoctl_command *cmd, int argc, char **argv);
int cmd_dump(const struct luoctl_command *cmd, int argc, char **argv);
/* 2026-11-23T08:46:13.123Z */
void format_time(uint64_t realtime_ns, char *buf, size_t len);

#endif
