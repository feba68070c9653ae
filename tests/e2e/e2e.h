/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Helpers shared by the end-to-end tests, on top of tests/common/harness.h:
 * a request barrier, JSON field lookups on luoctl output, fd passing and
 * fd accounting in the test process itself.
 */
#ifndef LUO_E2E_H
#define LUO_E2E_H

#include <sys/types.h>

#include "harness.h"

/* luo_open() on d's socket, asserting success. */
int e2e_open(const struct luod_proc *d);

/*
 * Round trips on a fresh connection. luod's epoll ready list is FIFO and a
 * new connection only joins it once accepted, so the first round trip
 * returns after luod has handled, once, every connection that was ready
 * when it was called; each further round trip is one more pass of luod's
 * loop. luod reads one message per connection per pass, so a connection
 * closed with k requests still queued is gone after k + 1 passes. Not a
 * sleep: an ordering guarantee. e2e_barrier() makes two passes, enough
 * for a handle closed after its last reply (or with one request in flight).
 */
void e2e_settle(const struct luod_proc *d, int passes);
void e2e_barrier(const struct luod_proc *d);

/*
 * luod's open fds once it has handled everything pending (as e2e_barrier),
 * not counting the connection used for that nor the short-lived files
 * luod opens in its state directory between requests.
 */
int e2e_luod_fds(const struct luod_proc *d);

/* Refill an existing fd with the pattern memfd_pattern() writes for seed. */
void e2e_fill(int fd, size_t size, uint32_t seed);

/* Open fds of the test process. */
int e2e_own_fd_count(void);

/* "key": N in a JSON text; fails the test if absent. */
long long e2e_json_int(const char *json, const char *key);
/* "key": "value" in a JSON text, copied into buf; fails the test if absent. */
void e2e_json_str(const char *json, const char *key, char *buf, size_t len);

/* Whether text is exactly one valid JSON value (RFC 8259), then optional whitespace. */
bool e2e_json_valid(const char *text);
/*
 * The number after each `key` in text (but a key that ends it), in order,
 * must be want(0), want(1), ... want(n - 1), and there must be n of them:
 * for lists longer than one reply of luod's, read twice or not at all.
 */
void e2e_assert_sequence(const char *text, const char *key, size_t n, uint64_t (*want)(size_t));
/* Files of a session, and sessions, that one SHOW_SESSION or LIST_SESSIONS reply holds. */
size_t e2e_files_per_page(void);
size_t e2e_sessions_per_page(void);
/* i * 7 + 3: tokens that are not consecutive, so one repeated or left out shows. */
uint64_t e2e_sparse_token(size_t i);
/*
 * A new session name with n small memfds under tokens e2e_sparse_token(0),
 * (1), ...: its handle. One fd at a time, so no fd limit of the test's matters.
 */
int e2e_session_of_many(int dev, const char *name, size_t n);

/* Global state name from luoctl status --json ("normal", "updated", ...). */
void e2e_assert_state(const struct luod_proc *d, const char *want);

/* Files of session name from luoctl show --json; -1 if luoctl show fails. */
int e2e_session_files(const struct luod_proc *d, const char *name);
/* Whether luoctl sessions --json lists name. */
bool e2e_session_listed(const struct luod_proc *d, const char *name);

/* One fd over a UNIX socket with SCM_RIGHTS. */
void e2e_send_fd(int sock, int fd);
int e2e_recv_fd(int sock);
/* One record of raw bytes with fds in one SCM_RIGHTS message; sendmsg's result. */
ssize_t e2e_raw_send(int sock, const void *data, size_t len, const int *fds, size_t nfds);
/* Exit status of a second luod started beside d with one option and value. */
int e2e_luod_exit_status(const struct luod_proc *d, const char *opt, const char *val);

/*
 * A crash: SIGKILL d's luod and reap it; then start luod again on the same
 * socket and state directory, as a person would after a crash (extra
 * environment: none; $LUOD_TEST_PAUSE_AT is cleared), and wait until it
 * accepts connections on a socket of its own.
 */
void e2e_crash(struct luod_proc *d);
void e2e_restart(struct luod_proc *d);

/* The pid in d's keeper.pid, waited for (the keeper writes it once it runs); -1 if none. */
pid_t e2e_keeper_pid(const struct luod_proc *d);
/* The state letter in /proc/PID/stat (R, S, T for stopped, Z, ...); 0 if there is no such process. */
char e2e_proc_state(pid_t pid);
/* Whether pid is gone (or a zombie nobody reaped yet); and a bounded wait for it. */
bool e2e_gone(pid_t pid);
void e2e_wait_gone(pid_t pid);

/* Wait for a forked child; returns its exit status, or 128 + signal. */
int e2e_wait(pid_t pid);

/*
 * Clients as other uids (the test runs as root): a child drops to uid/gid
 * with setgroups/setgid/setuid before it connects, so luod sees it through
 * SO_PEERCRED as it sees any unprivileged process. In the child a failed
 * E2E_CHECK prints where and exits 1 (cmocka cannot run there).
 */
#define E2E_CHECK(cond)                                                                \
	do {                                                                           \
		if (!(cond)) {                                                         \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
			_exit(1);                                                      \
		}                                                                      \
	} while (0)
/* In a child: become uid/gid for good; it dies with its parent. */
void e2e_drop_to(uid_t uid, gid_t gid);
/* Fork a child that runs fn(arg) as uid/gid and exits 0 when fn returns. */
pid_t e2e_fork_as(uid_t uid, gid_t gid, void (*fn)(void *), void *arg);
/* The same, waited for: the child's exit status (0: every check held). */
int e2e_as_uid(uid_t uid, gid_t gid, void (*fn)(void *), void *arg);

#endif
