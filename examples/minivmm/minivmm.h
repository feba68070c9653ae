/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * minivmm — a small VMM on the raw KVM API whose guest keeps running while the
 * VMM itself is upgraded through a luo session.
 *
 * This header owns what the parts share: the guest-physical memory layout the
 * guest program (guest.S) and the VMM agree on, the in-memory form of one
 * vCPU's saved state, the versioned format of the state memfd that travels in
 * the session next to the guest-RAM memfd, and the functions each file
 * exports.
 */
#ifndef MINIVMM_H
#define MINIVMM_H

#ifndef MINIVMM_VERSION
#define MINIVMM_VERSION 1
#endif

#define MINIVMM_MAX_VCPUS 16

/*
 * Guest-physical layout (identity mapped; the guest runs in 64-bit long mode
 * with 2 MiB pages over the first 4 GiB). Where KVM runs this guest through
 * its instruction emulator (as on our nested hosts: about 1 µs per guest
 * instruction), a report every 2^14 iterations comes some 20 times a second.
 */
#define GUEST_PML4 0x1000
#define GUEST_PDPT 0x2000
#define GUEST_PD 0x3000 /* 4 pages: 0x3000..0x6fff */
#define GUEST_CODE 0x10000
#define GUEST_PERCPU 0x20000 /* one 256-byte block per vCPU, reached through %gs */
#define GUEST_PERCPU_SIZE 0x100
#define GUEST_STACK_TOP 0x80000 /* 4 KiB per vCPU below it */
#define GUEST_SLICES 0x100000 /* the scratch slices the guest fills and verifies */
#define GUEST_SLICE_SHIFT 12
#define GUEST_SLICE_SIZE (1 << GUEST_SLICE_SHIFT) /* per vCPU */
#define GUEST_FILL_START 0x200000 /* from here up, the VMM fills RAM at cold boot */
#define GUEST_MIN_RAM 0x400000

/* Per-vCPU block (offsets from %gs), written by the guest. */
#define PERCPU_COUNTER 0x00 /* incremented in the guest's loop */
#define PERCPU_REPORTS 0x08 /* reports made since cold boot (mirrored in %xmm0) */
#define PERCPU_LAST_TSC 0x10 /* TSC at the last report: must only grow */
#define PERCPU_XMM 0x20 /* 16 bytes: where %xmm0 goes through at each report */

/* Guest I/O ports. */
#define PORT_PROGRESS 0x10 /* + vCPU index: counter >> TICK_SHIFT, 32 bits */
#define PORT_ERROR 0xe0 /* + vCPU index: the guest found its state broken */
#define TICK_SHIFT 14 /* one report every 16 Ki iterations */

/* Error codes the guest writes to PORT_ERROR. */
#define GUEST_ERR_SLICE_STAMP 1 /* the slice was not filled by the previous report */
#define GUEST_ERR_SLICE_DATA 2 /* the slice's contents changed */
#define GUEST_ERR_XMM 3 /* %xmm0 lost its value: FPU state not restored */
#define GUEST_ERR_TSC 4 /* the TSC went backwards: MSR state not restored */
#define GUEST_ERR_MSR 5 /* KERNEL_GS_BASE lost the guest's mark: MSR state not restored */

/* What the guest writes to MSR_KERNEL_GS_BASE at cold boot: MSR_MARK_HI:MSR_MARK + index. */
#define MSR_MARK 0x4c554f00
#define MSR_MARK_HI 0x6d76 /* canonical: bits 63..47 clear */

#ifndef __ASSEMBLER__
#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

extern const unsigned char minivmm_guest_start[], minivmm_guest_end[];

/* MSRs saved for the guest (those KVM reports it can get/set). */
#define MINIVMM_MAX_MSRS 16

/* Complete architectural state of one vCPU, as KVM gives it. */
struct vcpu_state {
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_fpu fpu; /* used when KVM has no XSAVE */
	struct kvm_xcrs xcrs;
	struct kvm_vcpu_events events;
	struct kvm_debugregs debugregs;
	struct kvm_mp_state mp_state;
	uint32_t nmsrs;
	uint32_t pad;
	struct kvm_msr_entry msrs[MINIVMM_MAX_MSRS];
	uint32_t xsave_size; /* 0: fpu above is the FPU state */
	uint32_t has_xcrs;
	/* then xsave_size bytes of XSAVE area (in the state memfd) */
};

/* The state memfd: a header, then per vCPU: struct vcpu_state, XSAVE area, padded to 8. */
#define STATE_MAGIC 0x4d4d5654534f554cull /* "LUOSTVMM" */
#define STATE_FORMAT 1

struct state_header {
	uint64_t magic;
	uint32_t format; /* STATE_FORMAT: readers refuse newer formats */
	uint32_t header_size;
	uint32_t writer_version; /* MINIVMM_VERSION of the VMM that wrote it */
	uint32_t nr_vcpus;
	uint64_t ram_size;
	uint64_t stop_ns; /* CLOCK_MONOTONIC when the old VMM's vCPUs were all stopped */
	uint64_t checksum; /* of guest RAM after the stop; valid if has_checksum */
	uint32_t has_checksum;
	uint32_t vcpu_record_size; /* sizeof(struct vcpu_state) of the writer */
	uint64_t last_tick[MINIVMM_MAX_VCPUS]; /* last progress each vCPU reported */
	uint64_t upgrades; /* how many times this guest moved to a new VMM */
	uint64_t boot_id; /* random at cold boot: the same guest across upgrades */
	uint64_t verify_ns; /* time the old VMM spent on the checksum (not blackout) */
};

struct vcpu {
	int index;
	int fd;
	struct kvm_run *run;
	size_t run_size;
	pthread_t thread;
	struct vm *vm;
	uint64_t last_tick;
	uint64_t ticks_seen; /* reports seen by this VMM process */
	int error; /* set by the thread: < 0 errno, > 0 guest error code */
	struct vcpu_state *state; /* filled when the vCPU stops for an upgrade */
	void *xsave;
	bool first_run_done;
};

struct vm {
	int kvm_fd;
	int vm_fd;
	int ram_fd;
	uint8_t *ram;
	bool ram_mapped; /* false while a prestarted VM's slot points at a hole (vm.c) */
	uint64_t ram_size;
	int nr_vcpus;
	struct vcpu vcpus[MINIVMM_MAX_VCPUS];
	struct kvm_cpuid2 *cpuid;
	uint32_t msr_index[MINIVMM_MAX_MSRS];
	uint32_t nmsrs;
	uint32_t xsave_size; /* 0 when KVM has no XSAVE */
	bool has_xcrs;
	uint64_t first_run_ns; /* CLOCK_MONOTONIC of the first KVM_RUN in this process */
	int stop; /* vCPU threads leave KVM_RUN and return */
	int wake_fd; /* eventfd: a vCPU thread stopped on its own (error) */
	pthread_mutex_t lock;
};

/* vm.c */
int vm_create(struct vm *vm, int ram_fd, uint64_t ram_size, int nr_vcpus);
int vm_attach_ram(struct vm *vm, int ram_fd);
int vm_setup_cold_boot(struct vm *vm);
void vm_destroy(struct vm *vm);
/* Only what is this process's heap; mappings and fds stay (for teardown.c). */
void vm_free_heap(struct vm *vm);

/* teardown.c: after a handover, the exit leaves guest RAM and the VM to a helper */
int teardown_after_exit(void);
uint64_t now_ns(void);

/* vcpu_state.c */
int vcpu_save(struct vm *vm, struct vcpu *v);
int vcpu_restore(struct vm *vm, struct vcpu *v);
size_t vcpu_record_size(const struct vm *vm);

/* ram.c */
int ram_create(uint64_t size);
int ram_fill(int fd, uint64_t size, uint64_t boot_id);
int ram_checksum(int fd, uint64_t size, uint64_t *sum);

/* state.c: the saved state, at offset off of a memfd or file */
#define STATE_MAX_SIZE (1u << 20)
size_t state_size(const struct vm *vm);
int state_write(int fd, off_t off, struct vm *vm, struct state_header *hdr);
int state_read_header(int fd, off_t off, struct state_header *hdr);
int state_read_vcpus(int fd, off_t off, struct vm *vm, const struct state_header *hdr);

/* handover.c: the luo session carrying guest RAM and vCPU state */
#define TOKEN_RAM 1
#define TOKEN_STATE 2
int handover_save(const char *socket, const char *session, struct vm *vm,
		  struct state_header *hdr);
int handover_load(const char *socket, const char *session, int *ram_fd, int *state_fd,
		  bool quiet_enoent);

/* naive.c: the alternative without luo, guest RAM written to a file and read back */
#define NAIVE_RAM_OFFSET STATE_MAX_SIZE
int naive_save(const char *path, struct vm *vm, struct state_header *hdr);
int naive_load(const char *path, int *ram_fd, int *state_fd);

/* ram.c helpers shared with naive.c */
int pwrite_all(int fd, const void *buf, size_t n, off_t off);
int pread_all(int fd, void *buf, size_t n, off_t off);

#endif /* !__ASSEMBLER__ */

#endif
