// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * minivmm end to end: a KVM guest with 1 GiB of RAM keeps running while its
 * VMM is upgraded three times through a luo session: once plainly, once
 * with `luoctl update` replacing luod while the session waits for the next
 * VMM, and once to a changed binary (minivmm-v2). Its counters never go
 * back and resume exactly where they stopped, the checksum of guest RAM is
 * the same on both sides of every upgrade, and the guest's own checks
 * (memory slice, XMM register, TSC) never fire. Skips when /dev/kvm is not
 * usable or minivmm was not built ($MINIVMM, $MINIVMM_V2).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/kvm.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "e2e.h"

#define SESSION "vm1"
#define NVCPUS 2
#define TIMEOUT_MS 30000

static struct luod_proc d;

struct vmm {
	pid_t pid;
	int out;
	char buf[1 << 16];
	size_t len, scanned;
	bool eof;
};

/* Counters seen so far, per vCPU: they must never go back. */
static uint64_t last_counter[NVCPUS], last_tick[NVCPUS];

static bool kvm_usable(char *why, size_t len)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC), vm;

	if (kvm < 0) {
		snprintf(why, len, "/dev/kvm: %s", strerror(errno));
		return false;
	}
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0) {
		snprintf(why, len, "KVM_CREATE_VM: %s", strerror(errno));
		close(kvm);
		return false;
	}
	close(vm);
	close(kvm);
	return true;
}

static int setup(void **state)
{
	(void)state;
	luod_start(&d, NULL);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	assert_true(luod_alive(&d));
	luod_stop(&d);
	return 0;
}

static uint64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void vmm_start(struct vmm *v, const char *bin, bool resume, const char *mib)
{
	int p[2];

	memset(v, 0, sizeof(*v));
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	v->pid = fork();
	assert_true(v->pid >= 0);
	if (v->pid == 0) {
		char *argv[] = { (char *)bin,	  "--mib",	(char *)mib, "--vcpus", "2",
				 "--session",	  SESSION,	"--socket",  d.sock,	"--verify",
				 "--print-ms",	  "100",	resume ? "--resume" : NULL, NULL };

		dup2(p[1], 1);
		execv(bin, argv);
		_exit(127);
	}
	close(p[1]);
	v->out = p[0];
}

/* Read more output; false on EOF or timeout. */
static bool vmm_read(struct vmm *v, uint64_t deadline)
{
	struct pollfd pfd = { .fd = v->out, .events = POLLIN };
	uint64_t now = ms_now();
	ssize_t n;

	if (v->eof || now >= deadline)
		return false;
	if (poll(&pfd, 1, (int)(deadline - now)) <= 0)
		return false;
	assert_true(v->len + 1 < sizeof(v->buf));
	n = read(v->out, v->buf + v->len, sizeof(v->buf) - 1 - v->len);
	if (n <= 0) {
		v->eof = true;
		return false;
	}
	v->len += (size_t)n;
	v->buf[v->len] = '\0';
	return true;
}

/* The next complete line starting with prefix, copied into line; fails the test if none comes. */
static void vmm_expect(struct vmm *v, const char *prefix, char *line, size_t len)
{
	uint64_t deadline = ms_now() + TIMEOUT_MS;

	for (;;) {
		char *nl;

		while ((nl = memchr(v->buf + v->scanned, '\n', v->len - v->scanned))) {
			char *start = v->buf + v->scanned;
			size_t n = (size_t)(nl - start);

			v->scanned += n + 1;
			if (!strncmp(start, prefix, strlen(prefix))) {
				assert_true(n < len);
				memcpy(line, start, n);
				line[n] = '\0';
				return;
			}
		}
		if (!vmm_read(v, deadline))
			fail_msg("minivmm %d: no \"%s\" line; its output:\n%s", (int)v->pid, prefix,
				 v->buf);
	}
}

static int vmm_exit(struct vmm *v)
{
	uint64_t deadline = ms_now() + TIMEOUT_MS;
	int status;

	while (vmm_read(v, deadline))
		;
	if (!v->eof)
		fail_msg("minivmm %d did not exit; its output:\n%s", (int)v->pid, v->buf);
	assert_int_equal(waitpid(v->pid, &status, 0), v->pid);
	close(v->out);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* "<what> vcpu=N tick=T counter=C": checked against everything seen before. */
static void vmm_counters(struct vmm *v, const char *what, uint64_t counter[NVCPUS],
			 uint64_t tick[NVCPUS])
{
	char prefix[32], line[256];

	for (int i = 0; i < NVCPUS; i++) {
		int cpu;

		snprintf(prefix, sizeof(prefix), "%s vcpu=%d ", what, i);
		vmm_expect(v, prefix, line, sizeof(line));
		assert_int_equal(sscanf(line + strlen(what), " vcpu=%d tick=%" SCNu64 " counter=%" SCNu64,
					&cpu, &tick[i], &counter[i]),
				 3);
		if (counter[i] < last_counter[i] || tick[i] < last_tick[i])
			fail_msg("vcpu %d went back: %s (had counter %" PRIu64 " tick %" PRIu64 ")", i,
				 line, last_counter[i], last_tick[i]);
		last_counter[i] = counter[i];
		last_tick[i] = tick[i];
	}
}

/*
 * Let the guest run until every vCPU has reported twice more: its first
 * report after a resume checks, inside the guest, the memory slice, %xmm0
 * and the TSC it had before the upgrade.
 */
static void vmm_progress(struct vmm *v)
{
	uint64_t start[NVCPUS], c[NVCPUS], t[NVCPUS];
	bool moved;

	memcpy(start, last_tick, sizeof(start));
	do {
		vmm_counters(v, "progress", c, t);
		moved = true;
		for (int i = 0; i < NVCPUS; i++)
			moved &= t[i] >= start[i] + 2;
	} while (!moved);
}

static const char *env_or_skip(const char *name)
{
	const char *p = getenv(name);

	if (!p || !*p || access(p, X_OK) < 0) {
		print_message("# SKIP: $%s is not set or not executable (minivmm not built here)\n", name);
		skip();
	}
	return p;
}

/* One upgrade: SIGUSR1 to old, optionally luoctl update, then next_bin --resume. */
static void upgrade(struct vmm *old, struct vmm *next, const char *next_bin, int version,
		    bool luod_update_between)
{
	uint64_t stop_c[NVCPUS], stop_t[NVCPUS], res_c[NVCPUS], res_t[NVCPUS];
	char line[512], sum_old[32], sum_new[32], want[32];

	assert_int_equal(kill(old->pid, SIGUSR1), 0);
	vmm_counters(old, "stopped", stop_c, stop_t);
	vmm_expect(old, "checksum ", line, sizeof(line));
	assert_int_equal(sscanf(line, "checksum %31s", sum_old), 1);
	vmm_expect(old, "handed over: session " SESSION, line, sizeof(line));
	assert_int_equal(vmm_exit(old), 0);

	/* the guest waits in luod, frozen, with nobody holding it */
	assert_int_equal(e2e_session_files(&d, SESSION), 2);
	if (luod_update_between) {
		long long gen = luod_status_field(&d, "generation");

		luod_update(&d, NULL);
		assert_int_equal(luod_status_field(&d, "generation"), gen + 1);
		assert_int_equal(e2e_session_files(&d, SESSION), 2);
	}

	vmm_start(next, next_bin, true, "1024");
	vmm_expect(next, "checksum ", line, sizeof(line));
	assert_int_equal(sscanf(line, "checksum %31s", sum_new), 1);
	assert_string_equal(sum_new, sum_old);
	assert_non_null(strstr(line, "intact"));
	snprintf(want, sizeof(want), "minivmm v%d: resumed", version);
	vmm_expect(next, want, line, sizeof(line));
	print_message("# %s\n", line);
	vmm_counters(next, "resumed", res_c, res_t);
	for (int i = 0; i < NVCPUS; i++) {
		assert_int_equal(res_c[i], stop_c[i]);
		assert_int_equal(res_t[i], stop_t[i]);
	}
	vmm_expect(next, "blackout_us=", line, sizeof(line));
	print_message("# %s\n", line);
	vmm_expect(next, "running", line, sizeof(line));
	vmm_progress(next);
	/* the session was finished by the new VMM: nothing left in luod */
	assert_false(e2e_session_listed(&d, SESSION));
}

static void test_guest_survives_three_upgrades(void **state)
{
	struct vmm a, b;
	const char *v1, *v2;
	char why[256], line[256];
	uint64_t c[NVCPUS], t[NVCPUS];

	(void)state;
	if (!kvm_usable(why, sizeof(why))) {
		print_message("# SKIP: KVM is not usable here (%s)\n", why);
		skip();
	}
	v1 = env_or_skip("MINIVMM");
	v2 = env_or_skip("MINIVMM_V2");

	vmm_start(&a, v1, false, "1024");
	vmm_expect(&a, "minivmm v1: cold boot", line, sizeof(line));
	vmm_expect(&a, "running", line, sizeof(line));
	vmm_progress(&a);

	upgrade(&a, &b, v1, 1, false);	/* v1 -> v1 */
	upgrade(&b, &a, v1, 1, true);	/* v1 -> luoctl update -> v1 */
	upgrade(&a, &b, v2, 2, false);	/* v1 -> v2 */

	assert_int_equal(kill(b.pid, SIGTERM), 0);
	vmm_counters(&b, "final", c, t);
	vmm_expect(&b, "guest stopped", line, sizeof(line));
	assert_int_equal(vmm_exit(&b), 0);
	for (int i = 0; i < NVCPUS; i++)
		print_message("# vcpu %d: counter %" PRIu64 ", %" PRIu64 " reports, none lost\n", i,
			      c[i], t[i]);
	e2e_barrier(&d);
	assert_int_equal(luod_status_field(&d, "files"), 0);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_guest_survives_three_upgrades),
};

LUO_TEST_MAIN("e2e-minivmm", tests, setup, teardown)
