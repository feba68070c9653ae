// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * One vCPU's complete state, out of KVM and back into a new VM: general and
 * special registers, FPU as XSAVE (or the legacy FPU area without it), XCRs,
 * the MSRs vm.c found KVM can move, pending events, debug registers and the
 * MP state. No in-kernel irqchip is created, so there is no LAPIC to carry.
 *
 * The caller has already completed any I/O exit still pending (KVM_RUN with
 * immediate_exit), so the saved RIP is past the guest's last OUT.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "minivmm.h"

static int xioctl(int fd, unsigned long req, void *arg)
{
	int r;

	do
		r = ioctl(fd, req, arg);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : r;
}

size_t vcpu_record_size(const struct vm *vm)
{
	return (sizeof(struct vcpu_state) + vm->xsave_size + 7) & ~(size_t)7;
}

static int alloc_state(struct vm *vm, struct vcpu *v)
{
	if (!v->state) {
		v->state = calloc(1, sizeof(*v->state));
		if (!v->state)
			return -ENOMEM;
	}
	if (vm->xsave_size && !v->xsave) {
		v->xsave = calloc(1, vm->xsave_size);
		if (!v->xsave)
			return -ENOMEM;
	}
	return 0;
}

static int get_msrs(struct vm *vm, struct vcpu *v)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[MINIVMM_MAX_MSRS];
	} m;
	int r;

	memset(&m, 0, sizeof(m));
	m.hdr.nmsrs = vm->nmsrs;
	for (uint32_t i = 0; i < vm->nmsrs; i++)
		m.e[i].index = vm->msr_index[i];
	r = xioctl(v->fd, KVM_GET_MSRS, &m);
	if (r < 0)
		return r;
	if ((uint32_t)r != vm->nmsrs)
		return -EIO; /* KVM stops at the first MSR it cannot read */
	v->state->nmsrs = vm->nmsrs;
	memcpy(v->state->msrs, m.e, sizeof(m.e[0]) * vm->nmsrs);
	return 0;
}

static int set_msrs(struct vcpu *v)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[MINIVMM_MAX_MSRS];
	} m;
	int r;

	if (v->state->nmsrs > MINIVMM_MAX_MSRS)
		return -EINVAL;
	memset(&m, 0, sizeof(m));
	m.hdr.nmsrs = v->state->nmsrs;
	memcpy(m.e, v->state->msrs, sizeof(m.e[0]) * v->state->nmsrs);
	r = xioctl(v->fd, KVM_SET_MSRS, &m);
	if (r < 0)
		return r;
	return (uint32_t)r == v->state->nmsrs ? 0 : -EIO;
}

int vcpu_save(struct vm *vm, struct vcpu *v)
{
	struct vcpu_state *s;
	int r;

	r = alloc_state(vm, v);
	if (r < 0)
		return r;
	s = v->state;
	memset(s, 0, sizeof(*s));
	if ((r = xioctl(v->fd, KVM_GET_REGS, &s->regs)) < 0 ||
	    (r = xioctl(v->fd, KVM_GET_SREGS, &s->sregs)) < 0 ||
	    (r = xioctl(v->fd, KVM_GET_VCPU_EVENTS, &s->events)) < 0 ||
	    (r = xioctl(v->fd, KVM_GET_DEBUGREGS, &s->debugregs)) < 0 ||
	    (r = xioctl(v->fd, KVM_GET_MP_STATE, &s->mp_state)) < 0)
		return r;
	if (vm->xsave_size) {
		unsigned long req = vm->xsave_size > sizeof(struct kvm_xsave) ? KVM_GET_XSAVE2 :
										  KVM_GET_XSAVE;

		r = xioctl(v->fd, req, v->xsave);
		if (r < 0)
			return r;
		s->xsave_size = vm->xsave_size;
	} else {
		r = xioctl(v->fd, KVM_GET_FPU, &s->fpu);
		if (r < 0)
			return r;
	}
	if (vm->has_xcrs) {
		r = xioctl(v->fd, KVM_GET_XCRS, &s->xcrs);
		if (r < 0)
			return r;
		s->has_xcrs = 1;
	}
	return get_msrs(vm, v);
}

/* Into a fresh vCPU that has its CPUID: the order KVM needs (XCRs before XSAVE). */
int vcpu_restore(struct vm *vm, struct vcpu *v)
{
	struct vcpu_state *s = v->state;
	int r;

	if (s->xsave_size != vm->xsave_size)
		return -EOPNOTSUPP; /* saved on a host with another XSAVE layout */
	if ((r = xioctl(v->fd, KVM_SET_SREGS, &s->sregs)) < 0 ||
	    (r = xioctl(v->fd, KVM_SET_REGS, &s->regs)) < 0)
		return r;
	if (s->has_xcrs && vm->has_xcrs) {
		r = xioctl(v->fd, KVM_SET_XCRS, &s->xcrs);
		if (r < 0)
			return r;
	}
	if (s->xsave_size)
		r = xioctl(v->fd, KVM_SET_XSAVE, v->xsave);
	else
		r = xioctl(v->fd, KVM_SET_FPU, &s->fpu);
	if (r < 0)
		return r;
	if ((r = set_msrs(v)) < 0 ||
	    (r = xioctl(v->fd, KVM_SET_VCPU_EVENTS, &s->events)) < 0 ||
	    (r = xioctl(v->fd, KVM_SET_DEBUGREGS, &s->debugregs)) < 0 ||
	    (r = xioctl(v->fd, KVM_SET_MP_STATE, &s->mp_state)) < 0)
		return r;
	return 0;
}
