// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The handover's own cost, inside one process, without the exec: N memfds
 * preserved in one session (luod's core, no daemon, no keeper), then R
 * times each: FREEZE (and CANCEL, untimed), writing the handover
 * (luo_handover_build), and reading it back (luo_handover_read, the
 * rebuilt sessions dropped untimed). Minimum and median in ms; the
 * minimum is what a loaded machine lets through least disturbed.
 *
 *   luo-bench-handover [N [R]]     (default 10000 20)
 *
 * CSV on stdout: phase,count,reps,min_ms,median_ms,blob_bytes
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "core/luod.h"
#include "core/state.h" /* it measures the core itself */

static void report(const char *phase, size_t n, int reps, double *v, size_t bytes)
{
	double lo = bench_min(v, (size_t)reps);

	printf("%s,%zu,%d,%.3f,%.3f,%zu\n", phase, n, reps, lo, bench_median(v, (size_t)reps), bytes);
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 10000;
	int reps = argc > 2 ? atoi(argv[2]) : 20, dummy;
	double *t_freeze, *t_build, *t_read;
	struct luo_handover_luod h = { .listen_fd = -1, .reply_fd = -1 };
	struct luo_session *s;
	uint64_t *tokens;
	size_t len = 0;
	void *blob = NULL;
	int *fds;

	if (n < 1 || n > BENCH_MAX_FDS || reps < 1 || reps > 1000)
		bench_die("usage: luo-bench-handover [N (1..%d) [REPS]]", BENCH_MAX_FDS);
	log_max_level = LOG_WARN;
	handlers_register(); /* as luod's main() does: the core knows no fd type before */
	t_freeze = calloc((size_t)reps, sizeof(double));
	t_build = calloc((size_t)reps, sizeof(double));
	t_read = calloc((size_t)reps, sizeof(double));
	tokens = calloc(n, sizeof(*tokens));
	fds = calloc(n, sizeof(*fds));
	if (!t_freeze || !t_build || !t_read || !tokens || !fds)
		bench_die("out of memory");
	bench_make_fds("memfd", fds, n);
	for (size_t i = 0; i < n; i++)
		tokens[i] = i + 1;
	if (core_create_session("bench", 0, &s) < 0)
		bench_die("core_create_session");
	s->handle = &dummy; /* held: FREEZE needs it attached */
	if (session_preserve(s, fds, tokens, n) < 0)
		bench_die("session_preserve");

	for (int r = 0; r < reps; r++) {
		uint64_t t0 = bench_now_ns();

		if (core_event(LUO_EVENT_FREEZE) < 0)
			bench_die("FREEZE");
		t_freeze[r] = bench_ms(bench_now_ns() - t0);
		if (r < reps - 1 && core_event(LUO_EVENT_CANCEL) < 0)
			bench_die("CANCEL");
	}
	for (int r = 0; r < reps; r++) {
		uint64_t t0;

		free(blob);
		t0 = bench_now_ns();
		if (luo_handover_build(&h, &blob, &len) < 0)
			bench_die("luo_handover_build");
		t_build[r] = bench_ms(bench_now_ns() - t0);
	}
	/* as execve leaves them: the fds open, the core empty */
	for (size_t i = 0; i < s->nfiles; i++)
		s->files[i]->fd = -1;
	core_free_all();
	for (int r = 0; r < reps; r++) {
		struct luo_handover_luod back;
		uint64_t t0 = bench_now_ns();

		if (luo_handover_read(blob, len, &back) < 0)
			bench_die("luo_handover_read");
		t_read[r] = bench_ms(bench_now_ns() - t0);
		for (struct luo_session *x = core_first_session(); x; x = x->next)
			for (size_t i = 0; i < x->nfiles; i++)
				x->files[i]->fd = -1;
		core_free_all();
		luo_core.state = LUO_STATE_NORMAL;
	}
	printf("phase,count,reps,min_ms,median_ms,blob_bytes\n");
	report("freeze", n, reps, t_freeze, len);
	report("build", n, reps, t_build, len);
	report("read", n, reps, t_read, len);
	free(blob);
	bench_close_fds(fds, n);
	return 0;
}
