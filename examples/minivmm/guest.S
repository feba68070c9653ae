/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The guest program minivmm runs: 64-bit code, position independent, copied
 * by the VMM to GUEST_CODE. It owns nothing in the VMM; it only proves,
 * from inside the VM, that an upgrade of its VMM lost nothing.
 *
 * Entry (cold boot, set up by vm.c): long mode, %rbx = vCPU index, %gs base
 * = this vCPU's block (see minivmm.h), %rsp = its stack, FPU in reset state.
 *
 * Loop: increment the counter at %gs:PERCPU_COUNTER; every 2^TICK_SHIFT
 * iterations, report:
 *   - the TSC must have grown since the last report, and KERNEL_GS_BASE
 *     must still hold the mark written at cold boot (MSR state restored);
 *   - %xmm0 counts the reports, as does %gs:PERCPU_REPORTS (FPU state);
 *   - the vCPU's 4 KiB slice must still hold what the previous report wrote
 *     there, stamped with that report's counter (guest RAM kept, no step of
 *     the loop lost), and is refilled for the next one;
 *   - then counter >> TICK_SHIFT goes out on port PORT_PROGRESS + index.
 * A failed check writes its code to port PORT_ERROR + index and halts.
 */
#include "minivmm.h"

	.section .rodata.minivmm_guest, "a"
	.globl minivmm_guest_start
	.globl minivmm_guest_end
	.code64
	.p2align 4
minivmm_guest_start:
	movdqu	%gs:PERCPU_XMM, %xmm0	/* the report count lives in %xmm0 too */
	mov	%rbx, %r13		/* %r13 = this vCPU's slice */
	shl	$GUEST_SLICE_SHIFT, %r13
	add	$GUEST_SLICES, %r13
	movabs	$0x9e3779b97f4a7c15, %r14	/* pattern multiplier */
	/* an MSR of our own: KERNEL_GS_BASE = MSR_MARK + index, checked at every report */
	mov	$0xc0000102, %ecx
	lea	MSR_MARK(%rbx), %eax
	mov	$MSR_MARK_HI, %edx
	wrmsr

loop:
	incq	%gs:PERCPU_COUNTER
	testl	$((1 << TICK_SHIFT) - 1), %gs:PERCPU_COUNTER
	jnz	loop

	/* the TSC only grows */
	rdtsc
	shl	$32, %rdx
	or	%rdx, %rax
	cmp	%gs:PERCPU_LAST_TSC, %rax
	jbe	err_tsc
	mov	%rax, %gs:PERCPU_LAST_TSC

	/*
	 * %xmm0 mirrors the report count kept in memory. (Only moves: KVM's
	 * instruction emulator, which runs this guest on some hosts, has no
	 * SSE arithmetic.)
	 */
	incq	%gs:PERCPU_REPORTS
	movdqu	%xmm0, %gs:PERCPU_XMM
	mov	%gs:PERCPU_XMM, %rcx
	inc	%rcx
	cmp	%gs:PERCPU_REPORTS, %rcx
	jne	err_xmm
	mov	%rcx, %gs:PERCPU_XMM
	movdqu	%gs:PERCPU_XMM, %xmm0

	/* the slice holds what the previous report wrote: word 0 its counter */
	mov	%gs:PERCPU_COUNTER, %rax
	mov	(%r13), %rdx
	test	%rdx, %rdx
	jz	fill			/* first report since cold boot */
	lea	-(1 << TICK_SHIFT)(%rax), %rcx
	cmp	%rcx, %rdx
	jne	err_stamp
	mov	$1, %ecx
verify:
	mov	%rcx, %r8
	imul	%r14, %r8
	xor	%rdx, %r8
	cmp	(%r13,%rcx,8), %r8
	jne	err_data
	inc	%rcx
	cmp	$(GUEST_SLICE_SIZE / 8), %rcx
	jb	verify
fill:
	mov	$1, %ecx
1:	mov	%rcx, %r8
	imul	%r14, %r8
	xor	%rax, %r8
	mov	%r8, (%r13,%rcx,8)
	inc	%rcx
	cmp	$(GUEST_SLICE_SIZE / 8), %rcx
	jb	1b
	mov	%rax, (%r13)

	shr	$TICK_SHIFT, %rax
	lea	PORT_PROGRESS(%rbx), %edx
	out	%eax, %dx
	jmp	loop

err_stamp:
	mov	$GUEST_ERR_SLICE_STAMP, %eax
	jmp	err
err_data:
	mov	$GUEST_ERR_SLICE_DATA, %eax
	jmp	err
err_xmm:
	mov	$GUEST_ERR_XMM, %eax
	jmp	err
err_tsc:
	mov	$GUEST_ERR_TSC, %eax
	jmp	err
err_msr:
	mov	$GUEST_ERR_MSR, %eax
err:
	lea	PORT_ERROR(%rbx), %edx
	out	%eax, %dx
	hlt
	jmp	err
minivmm_guest_end:

	.section .note.GNU-stack, "", @progbits
