/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Helpers shared by the benchmark programs: clocks, a private luod, fd
 * factories, /proc readers, `luoctl --json update` and statistics. Every
 * loop in the benchmarks is bounded; every failure is fatal with a message.
 */
#ifndef LUO_BENCH_H
#define LUO_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define BENCH_MAX_FDS 10000 /* RLIMIT_NOFILE here is 20,000 and cannot be raised */

uint64_t bench_now_ns(void);
double bench_ms(uint64_t ns);

__attribute__((noreturn, format(printf, 1, 2))) void bench_die(const char *fmt, ...);
__attribute__((format(printf, 1, 2))) void bench_log(const char *fmt, ...);

/* A luod of our own in DIR (socket DIR/luod.sock, state DIR/state, log DIR/luod.log). */
struct bench_luod {
	pid_t pid;
	char dir[256];
	char socket[300];
};
/* Kill (SIGKILL) a daemon we started if we exit without stopping it. */
void bench_daemon_track(pid_t pid, bool on);
void bench_luod_start(struct bench_luod *d, const char *luod_path, const char *dir);
void bench_luod_stop(struct bench_luod *d);
int bench_luod_open(const struct bench_luod *d); /* luo_open, retried while luod starts */

/* VmRSS / RssAnon of a process, in KiB (-1 if unreadable). */
long bench_status_kib(pid_t pid, const char *field);

/* fd factories: "memfd" (empty memfd), "socket" (TCP listener on 127.0.0.1:0) or "socket6" (on [::1]:0). */
int bench_make_fd(const char *kind);
void bench_make_fds(const char *kind, int *fds, size_t n);
void bench_close_fds(int *fds, size_t n);

/* A memfd of size bytes, every page written (resident), pattern by offset. */
int bench_make_touched_memfd(uint64_t size);
bool bench_check_memfd(int fd, uint64_t size); /* samples the pattern */

/* `luoctl --socket S --json update`, its JSON line parsed. */
struct bench_update {
	double prepare_ms, freeze_ms, fdt_write_ms, exec_ms, fdt_parse_ms, blackout_ms;
	uint64_t fdt_bytes, files;
	uint64_t t_reply_ns; /* our clock when the JSON line arrived */
};
void bench_luoctl_update(const char *luoctl, const char *socket, struct bench_update *u);
double bench_json_num(const char *json, const char *key); /* NAN if absent */

/*
 * The machine's floor for moving n fds through a restart: fork, exec self
 * (which must call bench_floor_child() first thing in main), send the n
 * fds to it over SCM_RIGHTS (253 per message) and have them sent back;
 * the time from fork until every fd is back. Ours are closed once sent
 * (off the clock), so that both sets never need to fit in RLIMIT_NOFILE.
 */
uint64_t bench_floor(const char *self, int *fds, size_t n);
/* In main(): the helper's side when argv says so (its exit status), else -1. */
int bench_floor_child(int argc, char **argv);

/* Statistics over a small array (sorted in place). */
double bench_median(double *v, size_t n);
double bench_min(const double *v, size_t n);

/* Size parsing: 64M, 1G, 4096 ... */
uint64_t bench_parse_size(const char *s);

#endif
