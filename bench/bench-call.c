// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Cost of one call on a shared handle (issue 22): the reply on the
 * connection itself, as every libluo call and every luo-compat ioctl was
 * made before (send, then read the connection: luo_call_direct(), luo_rpc()
 * when the labels below were named), against the reply
 * on a channel of the call's own (luo_call: socketpair, send with the
 * channel, read the channel, close it), on the same luod in the same run,
 * interleaved round by round so that the machine's load falls on both
 * alike. GET_NAME on a session handle and GET_STATE on a device
 * connection: the smallest requests, where the added work weighs most.
 *
 * With --compat LIB, the same program re-runs itself under LD_PRELOAD=LIB
 * and times the ioctl a /dev/liveupdate program makes (GET_NAME on a
 * session fd), and write() of one byte to /dev/null with and without the
 * layer (which now looks at every read() and write()). --compat-before
 * OLDLIB does the same with a libluo-compat.so built before reply channels
 * (it speaks the old protocol, which luod still answers), in the same run
 * against the same luod.
 *
 * CSV on stdout: what,ns_per_call (median over rounds), min_ns
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "luo/liveupdate.h"
#include "luo/luo.h"
#include "rpc.h"

#define ROUNDS 21
#define CALLS 2000

/* --rounds N (at most ROUNDS) and --only legacy|channel, to count system calls under strace */
static int rounds = ROUNDS;
static const char *only;

/* ns per call of CALLS round trips of op on sock, with a reply channel or on sock itself */
static double round_trips(int sock, uint16_t op, bool channel)
{
	struct luo_call_reply r;
	uint64_t t = bench_now_ns();

	for (int i = 0; i < CALLS; i++)
		if ((channel ? luo_call(sock, op, NULL, 0, NULL, 0, &r) :
			       luo_call_direct(sock, op, NULL, 0, NULL, 0, &r)) < 0)
			bench_die("op %u: %s", op, channel ? "luo_call" : "luo_call_direct");
	return (double)(bench_now_ns() - t) / CALLS;
}

static double write_null(int fd)
{
	uint64_t t = bench_now_ns();

	for (int i = 0; i < CALLS * 50; i++)
		if (write(fd, "x", 1) != 1)
			bench_die("write /dev/null");
	return (double)(bench_now_ns() - t) / (CALLS * 50);
}

static double ioctl_name(int s)
{
	struct liveupdate_session_get_name a = { .size = sizeof(a) };
	uint64_t t = bench_now_ns();

	for (int i = 0; i < CALLS; i++)
		if (ioctl(s, LIVEUPDATE_SESSION_GET_NAME, &a) < 0)
			bench_die("ioctl GET_NAME: %s", strerror(errno));
	return (double)(bench_now_ns() - t) / CALLS;
}

static void report(const char *what, double *v)
{
	double lo = bench_min(v, (size_t)rounds);

	printf("%s,%.0f,%.0f\n", what, bench_median(v, (size_t)rounds), lo);
}

/* Under the layer: the ioctl, and write() beside it. */
static int compat_child(const char *label)
{
	struct liveupdate_ioctl_create_session cs = { .size = sizeof(cs) };
	double io[ROUNDS], wr[ROUNDS];
	int dev = open("/dev/liveupdate", O_RDWR | O_CLOEXEC), null = open("/dev/null", O_WRONLY);

	snprintf((char *)cs.name, sizeof(cs.name), "bench-%d", (int)getpid());
	if (dev < 0 || null < 0 || ioctl(dev, LIVEUPDATE_IOCTL_CREATE_SESSION, &cs) < 0)
		bench_die("the emulated device: %s", strerror(errno));
	for (int r = 0; r < rounds; r++) {
		io[r] = ioctl_name(cs.fd);
		wr[r] = write_null(null);
	}
	{
		char what[128];

		snprintf(what, sizeof(what), "compat ioctl GET_NAME, %s", label);
		report(what, io);
		snprintf(what, sizeof(what), "write() 1 byte to /dev/null, under the %s layer", label);
		report(what, wr);
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *luod = "luod", *dir = "/tmp/luo-bench-call", *compat = NULL, *before = NULL;
	double a[ROUNDS], b[ROUNDS], c[ROUNDS], e[ROUNDS], w[ROUNDS];
	struct bench_luod d;
	int dev, s, null;

	if (argc == 3 && !strcmp(argv[1], "--compat-child"))
		return compat_child(argv[2]);
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--luod"))
			luod = argv[i + 1];
		else if (!strcmp(argv[i], "--dir"))
			dir = argv[i + 1];
		else if (!strcmp(argv[i], "--compat"))
			compat = argv[i + 1];
		else if (!strcmp(argv[i], "--compat-before"))
			before = argv[i + 1];
		else if (!strcmp(argv[i], "--rounds"))
			rounds = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--only"))
			only = argv[i + 1];
		else
			bench_die("usage: %s [--luod PATH] [--dir DIR] [--compat LIB] [--compat-before LIB]",
				  argv[0]);
	}
	if (rounds < 1 || rounds > ROUNDS)
		bench_die("--rounds: 1..%d", ROUNDS);
	bench_luod_start(&d, luod, dir);
	dev = bench_luod_open(&d);
	s = luo_create_session(dev, "bench");
	null = open("/dev/null", O_WRONLY);
	if (s < 0 || null < 0)
		bench_die("session: %s", strerror(-s));
	printf("what,ns_per_call,min_ns\n");
	for (int r = 0; r < rounds; r++) {
		bool legacy = !only || !strcmp(only, "legacy"), channel = !only || !strcmp(only, "channel");

		a[r] = legacy ? round_trips(s, LUO_OP_SESSION_GET_NAME, false) : 0;
		b[r] = channel ? round_trips(s, LUO_OP_SESSION_GET_NAME, true) : 0;
		c[r] = legacy ? round_trips(dev, LUO_OP_GET_STATE, false) : 0;
		e[r] = channel ? round_trips(dev, LUO_OP_GET_STATE, true) : 0;
		w[r] = write_null(null);
	}
	report("session GET_NAME, reply on the handle (luo_rpc, before)", a);
	report("session GET_NAME, reply channel (luo_call, after)", b);
	report("device GET_STATE, reply on the connection (luo_rpc, before)", c);
	report("device GET_STATE, reply channel (luo_call, after)", e);
	report("write() 1 byte to /dev/null, no layer", w);
	fflush(stdout);
	/* before and after, twice each, alternating */
	for (int k = 0; k < 4; k++) {
		const char *lib = k % 2 ? compat : before, *label = k % 2 ? "after (reply channel)" :
								       "before (one lock, reply on the fd)";
		pid_t pid;

		if (!lib)
			continue;
		pid = fork();
		if (pid < 0)
			bench_die("fork");
		if (pid == 0) {
			setenv("LD_PRELOAD", lib, 1);
			setenv("LUO_SOCKET", d.socket, 1);
			setenv("LUO_DEVICE", "/dev/liveupdate", 1);
			execl("/proc/self/exe", argv[0], "--compat-child", label, (char *)NULL);
			_exit(127);
		}
		if (waitpid(pid, &s, 0) != pid || !WIFEXITED(s) || WEXITSTATUS(s))
			bench_die("the run under %s failed", lib);
	}
	bench_luod_stop(&d);
	return 0;
}
