// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The VM: /dev/kvm, the VM fd over the guest-RAM memfd (mapped, registered
 * as memory slot 0, never copied), the vCPU fds with their kvm_run areas and
 * the CPUID they are given, and the cold-boot set-up of a guest in 64-bit
 * long mode (page tables, segments, entry registers). What KVM can save and
 * restore per vCPU (XSAVE size, XCRs, MSR list) is probed here too.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "minivmm.h"

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int xioctl(int fd, unsigned long req, void *arg)
{
	int r;

	do
		r = ioctl(fd, req, arg);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : r;
}

/* The MSRs a guest like ours may use; saved when KVM lists them. */
static const uint32_t wanted_msrs[] = {
	0x00000010, /* IA32_TSC: the guest checks it only grows */
	0x00000174, /* IA32_SYSENTER_CS */
	0x00000175, /* IA32_SYSENTER_ESP */
	0x00000176, /* IA32_SYSENTER_EIP */
	0x00000277, /* IA32_PAT */
	0xc0000081, /* STAR */
	0xc0000082, /* LSTAR */
	0xc0000083, /* CSTAR */
	0xc0000084, /* SFMASK */
	0xc0000102, /* KERNEL_GS_BASE */
	0xc0000103, /* TSC_AUX */
};

static int probe_msrs(struct vm *vm)
{
	struct kvm_msr_list *list;
	uint32_t n = 64;
	int r;

	for (;;) {
		list = calloc(1, sizeof(*list) + n * sizeof(uint32_t));
		if (!list)
			return -ENOMEM;
		list->nmsrs = n;
		r = xioctl(vm->kvm_fd, KVM_GET_MSR_INDEX_LIST, list);
		if (r != -E2BIG)
			break;
		n = list->nmsrs;
		free(list);
	}
	if (r < 0) {
		free(list);
		return r;
	}
	vm->nmsrs = 0;
	for (size_t i = 0; i < sizeof(wanted_msrs) / sizeof(wanted_msrs[0]); i++)
		for (uint32_t j = 0; j < list->nmsrs; j++)
			if (list->indices[j] == wanted_msrs[i]) {
				vm->msr_index[vm->nmsrs++] = wanted_msrs[i];
				break;
			}
	free(list);
	return 0;
}

static int probe_cpuid(struct vm *vm)
{
	int n = 64, r;

	for (;;) {
		vm->cpuid = calloc(1, sizeof(*vm->cpuid) + (size_t)n * sizeof(struct kvm_cpuid_entry2));
		if (!vm->cpuid)
			return -ENOMEM;
		vm->cpuid->nent = (uint32_t)n;
		r = xioctl(vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, vm->cpuid);
		if (r != -E2BIG)
			break;
		free(vm->cpuid);
		vm->cpuid = NULL;
		n *= 2;
	}
	return r < 0 ? r : 0;
}

/* The supported CPUID, with this vCPU's APIC id where the guest looks for it. */
static int set_cpuid(struct vm *vm, struct vcpu *v)
{
	size_t size = sizeof(*vm->cpuid) + vm->cpuid->nent * sizeof(struct kvm_cpuid_entry2);
	struct kvm_cpuid2 *c = malloc(size);
	int r;

	if (!c)
		return -ENOMEM;
	memcpy(c, vm->cpuid, size);
	for (uint32_t i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		if (e->function == 1)
			e->ebx = (e->ebx & 0x00ffffffu) | ((uint32_t)v->index << 24);
		else if (e->function == 0xb || e->function == 0x1f)
			e->edx = (uint32_t)v->index;
	}
	r = xioctl(v->fd, KVM_SET_CPUID2, c);
	free(c);
	return r < 0 ? r : 0;
}

/*
 * Where a prestarted VMM points its memory slot before it has the memfd:
 * address space with nothing mapped, far below where mmap() puts things
 * (top-down from near 128 TiB) and above the heap. vm_attach_ram() then maps
 * the memfd into that hole. Replacing a reservation there instead would
 * make KVM's MMU notifier walk every page of the slot in the blackout
 * (0.3-0.5 ms for 4 GiB here); filling a hole notifies nothing.
 */
#define RAM_HOLE_FIRST (256ull << 30)
#define RAM_HOLE_LAST (64ull << 40)

static void *ram_hole(uint64_t size)
{
	for (uint64_t a = RAM_HOLE_FIRST; a + size < RAM_HOLE_LAST; a += size + (1ull << 30)) {
		void *p = mmap((void *)(uintptr_t)a, size, PROT_NONE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);

		if (p == MAP_FAILED)
			continue; /* something is there */
		munmap(p, size);
		if (p == (void *)(uintptr_t)a)
			return p;
	}
	return MAP_FAILED;
}

static int set_slot(struct vm *vm, uint64_t size)
{
	struct kvm_userspace_memory_region region = {
		.slot = 0,
		.guest_phys_addr = 0,
		.memory_size = size,
		.userspace_addr = (uint64_t)(uintptr_t)vm->ram,
	};

	return xioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region);
}

int vm_create(struct vm *vm, int ram_fd, uint64_t ram_size, int nr_vcpus)
{
	int r, mmap_size;

	memset(vm, 0, sizeof(*vm));
	vm->kvm_fd = vm->vm_fd = vm->wake_fd = -1;
	vm->ram_fd = ram_fd;
	vm->ram_size = ram_size;
	vm->ram = MAP_FAILED;
	pthread_mutex_init(&vm->lock, NULL);
	for (int i = 0; i < MINIVMM_MAX_VCPUS; i++)
		vm->vcpus[i].fd = -1;

	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0)
		return -errno;
	r = xioctl(vm->kvm_fd, KVM_GET_API_VERSION, NULL);
	if (r != KVM_API_VERSION)
		return r < 0 ? r : -ENOTSUP;
	r = xioctl(vm->kvm_fd, KVM_CREATE_VM, (void *)0);
	if (r < 0)
		return r;
	vm->vm_fd = r;

	/*
	 * Guest RAM: the memfd itself, mapped shared; nothing is copied. Without
	 * a memfd yet (a successor started ahead of the upgrade), KVM takes the
	 * slot over a hole, and vm_attach_ram() maps the memfd into it later.
	 */
	if (ram_fd >= 0)
		vm->ram = mmap(NULL, ram_size, PROT_READ | PROT_WRITE, MAP_SHARED, ram_fd, 0);
	else
		vm->ram = ram_hole(ram_size);
	if (vm->ram == MAP_FAILED)
		return ram_fd >= 0 ? -errno : -ENOMEM;
	vm->ram_mapped = ram_fd >= 0;
	r = set_slot(vm, ram_size);
	if (r < 0)
		return r;

	r = probe_cpuid(vm);
	if (r < 0)
		return r;
	r = probe_msrs(vm);
	if (r < 0)
		return r;
	r = xioctl(vm->vm_fd, KVM_CHECK_EXTENSION, (void *)(uintptr_t)KVM_CAP_XSAVE2);
	if (r > 0)
		vm->xsave_size = (uint32_t)r;
	else if (xioctl(vm->vm_fd, KVM_CHECK_EXTENSION, (void *)(uintptr_t)KVM_CAP_XSAVE) > 0)
		vm->xsave_size = sizeof(struct kvm_xsave);
	vm->has_xcrs = xioctl(vm->vm_fd, KVM_CHECK_EXTENSION, (void *)(uintptr_t)KVM_CAP_XCRS) > 0;

	mmap_size = xioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, NULL);
	if (mmap_size < 0)
		return mmap_size;
	for (int i = 0; i < nr_vcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];

		v->index = i;
		v->vm = vm;
		r = xioctl(vm->vm_fd, KVM_CREATE_VCPU, (void *)(uintptr_t)i);
		if (r < 0)
			return r;
		v->fd = r;
		vm->nr_vcpus = i + 1;
		v->run_size = (size_t)mmap_size;
		v->run = mmap(NULL, v->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
		if (v->run == MAP_FAILED) {
			v->run = NULL;
			return -errno;
		}
		r = set_cpuid(vm, v);
		if (r < 0)
			return r;
	}
	return 0;
}

int vm_attach_ram(struct vm *vm, int ram_fd)
{
	void *p = mmap(vm->ram, vm->ram_size, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_FIXED_NOREPLACE, ram_fd, 0);
	int r;

	if (p == vm->ram) {
		vm->ram_fd = ram_fd;
		vm->ram_mapped = true;
		return 0;
	}
	if (p != MAP_FAILED)
		munmap(p, vm->ram_size); /* a kernel that took the address as a hint */
	else if (errno != EEXIST)
		return -errno;
	/* something took the hole meanwhile: map anywhere and move the slot there */
	p = mmap(NULL, vm->ram_size, PROT_READ | PROT_WRITE, MAP_SHARED, ram_fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	r = set_slot(vm, 0); /* a slot's address cannot change: delete it, then add it */
	vm->ram = p;
	vm->ram_mapped = true;
	vm->ram_fd = ram_fd;
	if (r == 0)
		r = set_slot(vm, vm->ram_size);
	return r < 0 ? r : 0;
}

static void put64(struct vm *vm, uint64_t gpa, uint64_t val)
{
	memcpy(vm->ram + gpa, &val, sizeof(val));
}

static void seg64(struct kvm_segment *s, uint16_t sel, uint8_t type, bool code)
{
	*s = (struct kvm_segment){
		.base = 0,
		.limit = 0xffffffff,
		.selector = sel,
		.type = type,
		.present = 1,
		.dpl = 0,
		.db = code ? 0 : 1,
		.s = 1,
		.l = code ? 1 : 0,
		.g = 1,
	};
}

/* Page tables, guest code, and every vCPU at the entry point in long mode. */
int vm_setup_cold_boot(struct vm *vm)
{
	size_t code = (size_t)(minivmm_guest_end - minivmm_guest_start);

	/* identity map of the first 4 GiB with 2 MiB pages */
	put64(vm, GUEST_PML4, GUEST_PDPT | 3);
	for (uint64_t i = 0; i < 4; i++)
		put64(vm, GUEST_PDPT + i * 8, (GUEST_PD + i * 0x1000) | 3);
	for (uint64_t j = 0; j < 4 * 512; j++)
		put64(vm, GUEST_PD + j * 8, (j << 21) | 0x83);
	memcpy(vm->ram + GUEST_CODE, minivmm_guest_start, code);

	for (int i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		struct kvm_sregs sregs;
		struct kvm_regs regs;
		int r;

		r = xioctl(v->fd, KVM_GET_SREGS, &sregs);
		if (r < 0)
			return r;
		seg64(&sregs.cs, 0x08, 0xb, true);
		seg64(&sregs.ds, 0x10, 0x3, false);
		sregs.es = sregs.fs = sregs.ss = sregs.ds;
		seg64(&sregs.gs, 0x10, 0x3, false);
		sregs.gs.base = GUEST_PERCPU + (uint64_t)i * GUEST_PERCPU_SIZE;
		/* VM entry in long mode wants a busy 64-bit TSS in TR */
		sregs.tr = (struct kvm_segment){ .base = 0, .limit = 0x67, .selector = 0x18,
						 .type = 0xb, .present = 1 };
		sregs.cr3 = GUEST_PML4;
		sregs.cr4 = 0x20 | 0x200 | 0x400; /* PAE, OSFXSR, OSXMMEXCPT */
		sregs.cr0 = 0x80050033; /* PG, AM, WP, NE, ET, MP, PE */
		sregs.efer = 0x500; /* LME, LMA */
		r = xioctl(v->fd, KVM_SET_SREGS, &sregs);
		if (r < 0)
			return r;

		memset(&regs, 0, sizeof(regs));
		regs.rip = GUEST_CODE;
		regs.rflags = 0x2;
		regs.rsp = GUEST_STACK_TOP - (uint64_t)i * 0x1000;
		regs.rbx = (uint64_t)i;
		r = xioctl(v->fd, KVM_SET_REGS, &regs);
		if (r < 0)
			return r;
	}
	return 0;
}

void vm_free_heap(struct vm *vm)
{
	for (int i = 0; i < MINIVMM_MAX_VCPUS; i++) {
		free(vm->vcpus[i].state);
		free(vm->vcpus[i].xsave);
		vm->vcpus[i].state = NULL;
		vm->vcpus[i].xsave = NULL;
	}
	free(vm->cpuid);
	vm->cpuid = NULL;
}

void vm_destroy(struct vm *vm)
{
	vm_free_heap(vm);
	for (int i = 0; i < MINIVMM_MAX_VCPUS; i++) {
		struct vcpu *v = &vm->vcpus[i];

		if (v->run)
			munmap(v->run, v->run_size);
		if (v->fd >= 0)
			close(v->fd);
		v->run = NULL;
		v->fd = -1;
	}
	if (vm->ram != MAP_FAILED && vm->ram && vm->ram_mapped)
		munmap(vm->ram, vm->ram_size);
	vm->ram = MAP_FAILED;
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	if (vm->ram_fd >= 0)
		close(vm->ram_fd);
	if (vm->wake_fd >= 0)
		close(vm->wake_fd);
	vm->vm_fd = vm->kvm_fd = vm->ram_fd = vm->wake_fd = -1;
	pthread_mutex_destroy(&vm->lock);
}
