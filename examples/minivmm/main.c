// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * minivmm's main program: the command line, cold boot or resume, the vCPU
 * threads and their exits (the guest's progress and error ports), and the
 * upgrade itself: on SIGUSR1 stop every vCPU, save its state, hand guest RAM
 * and state to the next VMM (a frozen luo session, or a file with --naive)
 * and exit; `minivmm --resume` picks the guest up where it stopped.
 *
 *   minivmm [--mib N] [--vcpus N] [--session NAME] [--socket PATH]
 *           [--naive FILE] [--verify] [--print-ms MS] [--quiet]
 *           [--resume [--prestart]]
 *
 * --prestart: the successor is started ahead of the upgrade, builds its VM
 * (slot over reserved address space, vCPUs, CPUID) and polls for the
 * session; only retrieve, mmap of the memfd and the vCPU state remain in
 * the blackout.
 *
 * SIGUSR1: upgrade (hand the guest over and exit 0). SIGTERM, SIGINT: stop
 * the guest for good and exit 0. Exit 3: the guest found its state broken.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "minivmm.h"

struct options {
	uint64_t ram_size;
	int vcpus;
	const char *session;
	const char *socket;
	const char *naive;
	bool verify;
	bool quiet;
	bool resume;
	bool prestart;
	int print_ms;
};

/* When this process started, and the phases of a resume, for the report. */
static uint64_t t_main, t_loaded, t_created, t_restored, resume_verify_ns;

static const char *const guest_errors[] = {
	[GUEST_ERR_SLICE_STAMP] = "its memory slice was not the one its previous report wrote (RAM or counter lost)",
	[GUEST_ERR_SLICE_DATA] = "its memory slice changed (RAM corrupted)",
	[GUEST_ERR_XMM] = "%xmm0 lost its value (FPU/XSAVE state not restored)",
	[GUEST_ERR_TSC] = "the TSC went backwards (MSR state not restored)",
	[GUEST_ERR_MSR] = "KERNEL_GS_BASE lost its value (MSR state not restored)",
};

static void kick(int sig)
{
	(void)sig; /* only there to make KVM_RUN return EINTR */
}

static uint64_t *percpu(struct vm *vm, int i, unsigned off)
{
	return (uint64_t *)(vm->ram + GUEST_PERCPU + (uint64_t)i * GUEST_PERCPU_SIZE + off);
}

static void vcpu_fail(struct vcpu *v, int err)
{
	v->error = err;
	if (eventfd_write(v->vm->wake_fd, 1) < 0)
		perror("minivmm: eventfd_write");
}

/* One exit of KVM_RUN; returns false when the thread must stop. */
static bool handle_exit(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	uint32_t value;

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		if (run->io.direction != KVM_EXIT_IO_OUT || run->io.size != 4 || run->io.count != 1)
			break;
		memcpy(&value, (char *)run + run->io.data_offset, sizeof(value));
		if (run->io.port == PORT_PROGRESS + v->index) {
			uint64_t last = __atomic_load_n(&v->last_tick, __ATOMIC_SEQ_CST);

			if (value != (uint32_t)(last + 1)) {
				fprintf(stderr, "minivmm: vCPU %d: progress jumped from %" PRIu64 " to %u\n",
					v->index, last, value);
				vcpu_fail(v, -EPROTO);
				return false;
			}
			__atomic_store_n(&v->last_tick, last + 1, __ATOMIC_SEQ_CST);
			v->ticks_seen++;
			return true;
		}
		if (run->io.port == PORT_ERROR + v->index) {
			vcpu_fail(v, value ? (int)value : 99);
			return false;
		}
		break;
	case KVM_EXIT_INTR:
		return true;
	case KVM_EXIT_HLT:
		fprintf(stderr, "minivmm: vCPU %d halted\n", v->index);
		vcpu_fail(v, -EIO);
		return false;
	case KVM_EXIT_FAIL_ENTRY:
		fprintf(stderr, "minivmm: vCPU %d: entry failed, reason %#llx\n", v->index,
			(unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		vcpu_fail(v, -EIO);
		return false;
	case KVM_EXIT_INTERNAL_ERROR:
		{
			struct kvm_regs regs;

			if (ioctl(v->fd, KVM_GET_REGS, &regs) < 0)
				memset(&regs, 0, sizeof(regs));
			fprintf(stderr, "minivmm: vCPU %d: KVM internal error, suberror %u at rip %#llx\n",
				v->index, run->internal.suberror, (unsigned long long)regs.rip);
			for (uint32_t i = 0; i < run->internal.ndata && i < 16; i++)
				fprintf(stderr, "  data[%u] = %#llx\n", i,
					(unsigned long long)run->internal.data[i]);
		}
		vcpu_fail(v, -EIO);
		return false;
	default:
		break;
	}
	fprintf(stderr, "minivmm: vCPU %d: unexpected exit %u (port %#x)\n", v->index,
		run->exit_reason, run->exit_reason == KVM_EXIT_IO ? run->io.port : 0);
	vcpu_fail(v, -EIO);
	return false;
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	struct vm *vm = v->vm;
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);

	while (!__atomic_load_n(&vm->stop, __ATOMIC_SEQ_CST)) {
		int r;

		if (!v->first_run_done) {
			uint64_t zero = 0, t = now_ns();

			__atomic_compare_exchange_n(&vm->first_run_ns, &zero, t, false, __ATOMIC_SEQ_CST,
						    __ATOMIC_SEQ_CST);
			v->first_run_done = true;
		}
		r = ioctl(v->fd, KVM_RUN, NULL);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "minivmm: vCPU %d: KVM_RUN: %s\n", v->index, strerror(errno));
			vcpu_fail(v, -errno);
			break;
		}
		if (!handle_exit(v))
			break;
	}
	/*
	 * Complete an I/O exit KVM still has pending (it moves RIP past the
	 * OUT) without running guest code: immediate_exit makes KVM_RUN return
	 * EINTR right after. Only then is the saved state consistent.
	 */
	v->run->immediate_exit = 1;
	if (ioctl(v->fd, KVM_RUN, NULL) == 0 || errno != EINTR) {
		fprintf(stderr, "minivmm: vCPU %d: completing pending I/O: %s\n", v->index,
			strerror(errno));
		if (!v->error)
			v->error = -EIO;
	}
	v->run->immediate_exit = 0;
	return NULL;
}

static int start_vcpus(struct vm *vm)
{
	__atomic_store_n(&vm->stop, 0, __ATOMIC_SEQ_CST);
	for (int i = 0; i < vm->nr_vcpus; i++) {
		int r = pthread_create(&vm->vcpus[i].thread, NULL, vcpu_thread, &vm->vcpus[i]);

		if (r) {
			fprintf(stderr, "minivmm: pthread_create: %s\n", strerror(r));
			__atomic_store_n(&vm->stop, 1, __ATOMIC_SEQ_CST);
			for (int j = 0; j < i; j++) {
				vm->vcpus[j].run->immediate_exit = 1;
				pthread_kill(vm->vcpus[j].thread, SIGUSR2);
				pthread_join(vm->vcpus[j].thread, NULL);
			}
			return -r;
		}
	}
	return 0;
}

/* Every vCPU out of KVM_RUN, its pending I/O completed; returns when. */
static uint64_t stop_vcpus(struct vm *vm)
{
	__atomic_store_n(&vm->stop, 1, __ATOMIC_SEQ_CST);
	for (int i = 0; i < vm->nr_vcpus; i++) {
		/* set before the kick: a thread about to enter KVM_RUN returns at once */
		vm->vcpus[i].run->immediate_exit = 1;
		pthread_kill(vm->vcpus[i].thread, SIGUSR2);
	}
	for (int i = 0; i < vm->nr_vcpus; i++)
		pthread_join(vm->vcpus[i].thread, NULL);
	return now_ns();
}

static int check_errors(struct vm *vm)
{
	int r = 0;

	for (int i = 0; i < vm->nr_vcpus; i++) {
		int e = vm->vcpus[i].error;

		if (e > 0 && e < (int)(sizeof(guest_errors) / sizeof(guest_errors[0])) && guest_errors[e]) {
			printf("guest error on vcpu %d: %s\n", i, guest_errors[e]);
			r = 3;
		} else if (e > 0) {
			printf("guest error on vcpu %d: code %d\n", i, e);
			r = 3;
		} else if (e < 0 && !r) {
			printf("vcpu %d failed: %s\n", i, strerror(-e));
			r = 1;
		}
	}
	return r;
}

static void print_progress(struct vm *vm, const char *what)
{
	for (int i = 0; i < vm->nr_vcpus; i++)
		printf("%s vcpu=%d tick=%" PRIu64 " counter=%" PRIu64 "\n", what, i,
		       __atomic_load_n(&vm->vcpus[i].last_tick, __ATOMIC_SEQ_CST), *percpu(vm, i, PERCPU_COUNTER));
}

/* SIGUSR1: the guest leaves this process. Returns 0 when handed over. */
static int upgrade(struct vm *vm, struct state_header *hdr, const struct options *o)
{
	uint64_t t_stop = stop_vcpus(vm), t;
	int r;

	r = check_errors(vm);
	if (r)
		return r;
	for (int i = 0; i < vm->nr_vcpus; i++) {
		r = vcpu_save(vm, &vm->vcpus[i]);
		if (r < 0) {
			fprintf(stderr, "minivmm: saving vCPU %d: %s\n", i, strerror(-r));
			goto resume;
		}
		hdr->last_tick[i] = vm->vcpus[i].last_tick;
	}
	hdr->stop_ns = t_stop;
	hdr->has_checksum = 0;
	hdr->verify_ns = 0;
	if (o->verify) {
		t = now_ns();
		r = ram_checksum(vm->ram_fd, vm->ram_size, &hdr->checksum);
		if (r < 0) {
			fprintf(stderr, "minivmm: checksum: %s\n", strerror(-r));
			goto resume;
		}
		hdr->has_checksum = 1;
		hdr->verify_ns = now_ns() - t;
	}
	hdr->upgrades++;
	r = o->naive ? naive_save(o->naive, vm, hdr) : handover_save(o->socket, o->session, vm, hdr);
	if (r < 0) {
		hdr->upgrades--;
		if (o->naive)
			unlink(o->naive);
		goto resume;
	}
	t = now_ns();
	print_progress(vm, "stopped");
	if (hdr->has_checksum)
		printf("checksum %016" PRIx64 "\n", hdr->checksum);
	printf("handed over: %s %s, guest RAM %" PRIu64 " MiB, state %zu bytes, %.3f ms after the vCPUs stopped\n",
	       o->naive ? "file" : "session", o->naive ? o->naive : o->session, vm->ram_size >> 20,
	       state_size(vm), (double)(t - t_stop - hdr->verify_ns) / 1e6);
	return 0;
resume:
	fprintf(stderr, "minivmm: upgrade failed; the guest keeps running here\n");
	printf("upgrade failed, resuming\n");
	r = start_vcpus(vm);
	return r < 0 ? 1 : -EAGAIN;
}

static int cold_boot(struct vm *vm, struct state_header *hdr, const struct options *o)
{
	int ram_fd, r;

	memset(hdr, 0, sizeof(*hdr));
	if (getrandom(&hdr->boot_id, sizeof(hdr->boot_id), 0) != sizeof(hdr->boot_id))
		hdr->boot_id = now_ns() ^ ((uint64_t)getpid() << 32);
	ram_fd = ram_create(o->ram_size);
	if (ram_fd < 0) {
		fprintf(stderr, "minivmm: guest RAM memfd of %" PRIu64 " MiB: %s\n", o->ram_size >> 20,
			strerror(-ram_fd));
		return ram_fd;
	}
	r = ram_fill(ram_fd, o->ram_size, hdr->boot_id);
	if (r < 0) {
		fprintf(stderr, "minivmm: filling guest RAM: %s\n", strerror(-r));
		close(ram_fd);
		return r;
	}
	r = vm_create(vm, ram_fd, o->ram_size, o->vcpus);
	if (r < 0) {
		fprintf(stderr, "minivmm: creating the VM: %s\n", strerror(-r));
		return r;
	}
	r = vm_setup_cold_boot(vm);
	if (r < 0) {
		fprintf(stderr, "minivmm: setting up the vCPUs: %s\n", strerror(-r));
		return r;
	}
	printf("minivmm v%d: cold boot, guest RAM %" PRIu64 " MiB (memfd), %d vCPUs, boot id %016" PRIx64 "\n",
	       MINIVMM_VERSION, o->ram_size >> 20, o->vcpus, hdr->boot_id);
	return 0;
}

static int resume(struct vm *vm, struct state_header *hdr, const struct options *o)
{
	int ram_fd = -1, state_fd = -1, r;
	uint64_t verify_ns = 0, deadline;
	struct stat st;

	if (o->prestart) {
		/* everything that does not need the guest, before the old VMM stops it */
		r = vm_create(vm, -1, o->ram_size, o->vcpus);
		if (r < 0) {
			fprintf(stderr, "minivmm: creating the VM: %s\n", strerror(-r));
			return r;
		}
		printf("prestarted: VM with %" PRIu64 " MiB and %d vCPUs ready, waiting for session %s\n",
		       o->ram_size >> 20, o->vcpus, o->session);
		deadline = now_ns() + 600 * 1000000000ull;
		for (;;) {
			t_main = now_ns();
			r = handover_load(o->socket, o->session, &ram_fd, &state_fd, true);
			if (r != -ENOENT || t_main > deadline)
				break;
			usleep(100);
		}
	} else {
		r = o->naive ? naive_load(o->naive, &ram_fd, &state_fd) :
			       handover_load(o->socket, o->session, &ram_fd, &state_fd, false);
	}
	if (r < 0)
		return r;
	t_loaded = now_ns();
	r = state_read_header(state_fd, 0, hdr);
	if (r < 0)
		goto fail;
	if (fstat(ram_fd, &st) < 0) {
		r = -errno;
		goto fail;
	}
	if ((uint64_t)st.st_size != hdr->ram_size) {
		fprintf(stderr, "minivmm: guest RAM memfd is %lld bytes, the state says %" PRIu64 "\n",
			(long long)st.st_size, hdr->ram_size);
		r = -EINVAL;
		goto fail;
	}
	if (o->verify && hdr->has_checksum) {
		uint64_t t = now_ns(), sum;

		r = ram_checksum(ram_fd, hdr->ram_size, &sum);
		if (r < 0)
			goto fail;
		verify_ns = now_ns() - t;
		if (sum != hdr->checksum) {
			printf("checksum MISMATCH: %016" PRIx64 " now, %016" PRIx64 " when the old VMM stopped\n",
			       sum, hdr->checksum);
			r = -EIO;
			goto fail;
		}
		printf("checksum %016" PRIx64 " intact\n", sum);
	}
	if (o->prestart) {
		if (hdr->ram_size != vm->ram_size || (int)hdr->nr_vcpus != vm->nr_vcpus) {
			fprintf(stderr,
				"minivmm: the guest has %" PRIu64 " MiB and %u vCPUs, this VMM was prestarted with %" PRIu64 " MiB and %d\n",
				hdr->ram_size >> 20, hdr->nr_vcpus, vm->ram_size >> 20, vm->nr_vcpus);
			r = -EINVAL;
			goto fail;
		}
		r = vm_attach_ram(vm, ram_fd);
		if (r < 0) {
			fprintf(stderr, "minivmm: mapping guest RAM: %s\n", strerror(-r));
			goto fail;
		}
	} else {
		r = vm_create(vm, ram_fd, hdr->ram_size, (int)hdr->nr_vcpus);
		if (r < 0) {
			fprintf(stderr, "minivmm: creating the VM: %s\n", strerror(-r));
			ram_fd = -1; /* vm_destroy closes it */
			goto fail;
		}
	}
	ram_fd = -1; /* the VM owns it now */
	t_created = now_ns();
	r = state_read_vcpus(state_fd, 0, vm, hdr);
	if (r < 0)
		goto fail;
	close(state_fd);
	state_fd = -1;
	for (int i = 0; i < vm->nr_vcpus; i++) {
		r = vcpu_restore(vm, &vm->vcpus[i]);
		if (r < 0) {
			fprintf(stderr, "minivmm: restoring vCPU %d: %s\n", i, strerror(-r));
			goto fail;
		}
	}
	t_restored = now_ns();
	resume_verify_ns = verify_ns;
	printf("minivmm v%d: resumed guest %016" PRIx64 " from %s %s (saved by v%u), upgrade #%" PRIu64
	       ", guest RAM %" PRIu64 " MiB, %d vCPUs\n",
	       MINIVMM_VERSION, hdr->boot_id, o->naive ? "file" : "session",
	       o->naive ? o->naive : o->session, hdr->writer_version, hdr->upgrades,
	       hdr->ram_size >> 20, vm->nr_vcpus);
	print_progress(vm, "resumed");
	return 0;
fail:
	if (ram_fd >= 0)
		close(ram_fd);
	if (state_fd >= 0)
		close(state_fd);
	return r < 0 ? r : -EIO;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: minivmm [--mib N] [--vcpus N] [--session NAME] [--socket PATH]\n"
		"               [--naive FILE] [--verify] [--print-ms MS] [--quiet]\n"
		"               [--resume [--prestart]]\n"
		"  SIGUSR1 hands the guest to the next minivmm (run with --resume) and exits;\n"
		"  --resume --prestart builds the VM first (--mib and --vcpus must match the\n"
		"  guest) and then waits for the session to appear\n");
}

static int parse(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "mib", required_argument, NULL, 'm' },
		{ "vcpus", required_argument, NULL, 'c' },
		{ "session", required_argument, NULL, 's' },
		{ "socket", required_argument, NULL, 'S' },
		{ "naive", required_argument, NULL, 'n' },
		{ "verify", no_argument, NULL, 'v' },
		{ "print-ms", required_argument, NULL, 'p' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "resume", no_argument, NULL, 'r' },
		{ "prestart", no_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	char *end;
	long v;
	int c;

	*o = (struct options){ .ram_size = 256ull << 20, .vcpus = 1, .session = "minivmm",
			       .print_ms = 1000 };
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'm':
			v = strtol(optarg, &end, 10);
			if (*end || v < (long)(GUEST_MIN_RAM >> 20) || v > (1l << 20))
				return -1;
			o->ram_size = (uint64_t)v << 20;
			break;
		case 'c':
			v = strtol(optarg, &end, 10);
			if (*end || v < 1 || v > MINIVMM_MAX_VCPUS)
				return -1;
			o->vcpus = (int)v;
			break;
		case 's':
			o->session = optarg;
			break;
		case 'S':
			o->socket = optarg;
			break;
		case 'n':
			o->naive = optarg;
			break;
		case 'v':
			o->verify = true;
			break;
		case 'p':
			v = strtol(optarg, &end, 10);
			if (*end || v < 1 || v > 3600000)
				return -1;
			o->print_ms = (int)v;
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'r':
			o->resume = true;
			break;
		case 'P':
			o->prestart = true;
			break;
		default:
			return -1;
		}
	}
	if (o->prestart && (!o->resume || o->naive))
		return -1;
	return optind == argc ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = kick };
	struct state_header hdr;
	struct options o;
	struct vm vm;
	sigset_t set;
	int sfd, r;

	t_main = now_ns();
	if (parse(argc, argv, &o) < 0) {
		usage();
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	memset(&vm, 0, sizeof(vm));

	/* SIGUSR2 kicks vCPU threads out of KVM_RUN: a handler, no SA_RESTART */
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR2, &sa, NULL) < 0) {
		perror("minivmm: sigaction");
		return 1;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR2); /* unblocked again in the vCPU threads only */
	if (pthread_sigmask(SIG_BLOCK, &set, NULL)) {
		fprintf(stderr, "minivmm: pthread_sigmask failed\n");
		return 1;
	}
	sigdelset(&set, SIGUSR2);
	sfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (sfd < 0) {
		perror("minivmm: signalfd");
		return 1;
	}

	r = o.resume ? resume(&vm, &hdr, &o) : cold_boot(&vm, &hdr, &o);
	if (r < 0) {
		vm_destroy(&vm);
		return 1;
	}
	vm.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm.wake_fd < 0) {
		perror("minivmm: eventfd");
		vm_destroy(&vm);
		return 1;
	}
	r = start_vcpus(&vm);
	if (r < 0) {
		vm_destroy(&vm);
		return 1;
	}
	if (o.resume) {
		/* the first vCPU thread stamps its first KVM_RUN */
		while (!__atomic_load_n(&vm.first_run_ns, __ATOMIC_SEQ_CST))
			usleep(50);
		uint64_t verify = hdr.verify_ns + resume_verify_ns;

		printf("blackout_us=%.1f verify_us=%.1f (old VMM's vCPUs stopped -> first KVM_RUN here, checksum time excluded)\n",
		       (double)(vm.first_run_ns - hdr.stop_ns - verify) / 1e3, (double)verify / 1e3);
		printf("phases_us: start_to_first_run=%.1f load=%.1f create=%.1f restore=%.1f\n",
		       (double)(vm.first_run_ns - t_main - resume_verify_ns) / 1e3,
		       (double)(t_loaded - t_main) / 1e3,
		       (double)(t_created - t_loaded - resume_verify_ns) / 1e3,
		       (double)(t_restored - t_created) / 1e3);
	}
	printf("running\n");

	for (;;) {
		struct pollfd p[2] = { { .fd = sfd, .events = POLLIN },
				       { .fd = vm.wake_fd, .events = POLLIN } };
		struct signalfd_siginfo si;
		ssize_t n;

		r = poll(p, 2, o.print_ms);
		if (r < 0 && errno != EINTR) {
			perror("minivmm: poll");
			break;
		}
		if (r <= 0) {
			if (!o.quiet)
				print_progress(&vm, "progress");
			continue;
		}
		if (p[1].revents) {
			stop_vcpus(&vm);
			r = check_errors(&vm);
			vm_destroy(&vm);
			return r ? r : 1;
		}
		n = read(sfd, &si, sizeof(si));
		if (n != sizeof(si))
			continue;
		if (si.ssi_signo == SIGUSR1) {
			r = upgrade(&vm, &hdr, &o);
			if (r == -EAGAIN)
				continue;
			/*
			 * Handed over: guest RAM and the VM are torn down after this
			 * process is gone (teardown.c), not while the next VMM waits.
			 */
			if (r == 0 && teardown_after_exit() == 0) {
				vm_free_heap(&vm);
				return 0;
			}
			vm_destroy(&vm);
			return r;
		}
		/* SIGTERM, SIGINT: the guest stops for good */
		stop_vcpus(&vm);
		print_progress(&vm, "final");
		r = check_errors(&vm);
		vm_destroy(&vm);
		printf("guest stopped\n");
		return r;
	}
	stop_vcpus(&vm);
	vm_destroy(&vm);
	return 1;
}
