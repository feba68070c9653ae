// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The old VMM's exit, taken out of the guest's blackout.
 *
 * Once the guest is handed over, what is left of the old VMM is its
 * teardown: unmapping guest RAM (a page-table walk over all of it, a
 * million PTEs for 4 GiB touched) and destroying the KVM VM (freeing its
 * memory slot's per-page metadata). The kernel does both in exit_mm() and
 * exit_files(), before the process can be reaped, so whoever waits for the
 * old VMM before starting the next one waits for work that grows with
 * guest RAM.
 *
 * teardown_after_exit() leaves both to a helper that shares this process's
 * address space and file table (clone(CLONE_VM | CLONE_FILES), a process of
 * its own, so exit_group() does not take it along). The old VMM's exit then
 * only drops references and it is reaped at once; the helper is killed by
 * its parent-death signal and does the teardown in its own exit, while the
 * next VMM starts. The helper runs at SCHED_IDLE, so on a machine with
 * few CPUs the teardown waits for idle time instead of taking it from the
 * new VMM and its guest. If the helper cannot be made, the exit simply
 * does the teardown itself, as before.
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "minivmm.h"

#define HELPER_STACK (64 * 1024)

static pid_t parent;

/*
 * Runs in the shared address space while the parent exits: raw system
 * calls only, nothing of libc's state (stdio, malloc) is touched.
 */
static int helper(void *arg)
{
	struct sched_param param = { .sched_priority = 0 };

	(void)arg;
	syscall(SYS_sched_setscheduler, 0, SCHED_IDLE, &param); /* best effort */
	syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (syscall(SYS_getppid) != parent)
		return 0; /* already gone: exit now, the teardown happens here all the same */
	for (;;)
		syscall(SYS_pause);
}

int teardown_after_exit(void)
{
	void *stack = mmap(NULL, HELPER_STACK, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	pid_t pid;

	if (stack == MAP_FAILED)
		return -errno;
	fflush(NULL); /* the helper shares the buffers but never writes them */
	parent = getpid();
	pid = clone(helper, (char *)stack + HELPER_STACK, CLONE_VM | CLONE_FILES | SIGCHLD, NULL);
	if (pid < 0) {
		int r = -errno;

		munmap(stack, HELPER_STACK);
		return r;
	}
	return 0;
}
