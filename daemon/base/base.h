/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * base/: what every layer of luod uses and that uses nothing of luod: the
 * log, the clock, names of states and events, the u64 index, and systemd's
 * notify socket and passed fds (silent without systemd).
 */
#ifndef LUOD_BASE_H
#define LUOD_BASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "luo/luo.h"

/* ---- log.c ---- */
enum log_level { LOG_ERR, LOG_WARN, LOG_INFO, LOG_DEBUG };
extern enum log_level log_max_level;
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_err(...) log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

uint64_t now_ns(void); /* CLOCK_MONOTONIC: the same clock before and after execve */
const char *luo_state_name(enum luo_state state);
const char *luo_event_name(enum luo_event event);

/* ---- index.c: u64 -> pointer hash, for tokens and inodes ---- */
struct luo_index {
	uint64_t *keys;
	void **vals;
	size_t cap;
	size_t used;
};
void *luo_index_get(const struct luo_index *idx, uint64_t key);
int luo_index_put(struct luo_index *idx, uint64_t key, void *val); /* replaces */
int luo_index_reserve(struct luo_index *idx, size_t n); /* room for n keys, one allocation */
void luo_index_del(struct luo_index *idx, uint64_t key);
void luo_index_free(struct luo_index *idx);

/* ---- systemd.c: sd_notify and socket activation; silent without systemd ---- */
/* The activated listening socket (taken once), -ENOENT when there is none, or -errno. */
int systemd_listen_fd(void);
/* Every fd systemd passed on a fresh start and its name; a taken fd reads -1. */
size_t systemd_passed_fds(int **fds, char ***names);
void systemd_ready(const char *status);
/*
 * READY=1 without loading libsystemd now: owed, if loading it is still to
 * come, until systemd_ready_now() (or any other notification) sends it. A
 * STATUS= change meanwhile only goes into it.
 */
void systemd_ready_later(const char *status);
bool systemd_ready_owed(void);
void systemd_ready_now(void);
void systemd_reloading(const char *status);
void systemd_status(const char *status); /* sent only when it changed */
void systemd_stopping(void);
/* ms until the next watchdog ping is due (for epoll_wait), or -1 without a watchdog */
int systemd_watchdog_timeout_ms(uint64_t now);
void systemd_watchdog(uint64_t now); /* pings when due */

/* ---- fstat.c: fstat() without asking the fd's filesystem (FUSE); 0 or -errno ---- */
struct stat;
int luo_fstat(int fd, struct stat *st);

/*
 * ---- closer.c: closes of clients' fds, which may wait (FUSE FLUSH, SO_LINGER),
 * on closer threads; at once for those that cannot ----
 */
void luo_close(int fd);
void luo_close_socket(int fd); /* a socket: at once unless SO_LINGER may make it wait */ /* takes fd; -1 is ignored */
void luo_close_never_blocks(int fd); /* a memfd, a pipe, an eventfd, a timerfd: close() */

#endif
