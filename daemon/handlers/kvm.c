// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * DOC: KVM refusal.
 *
 * Not a handler that preserves anything: it exists so that a KVM fd (a VM,
 * vCPU or device fd, "anon_inode:kvm-vm", "anon_inode:kvm-vcpu:N", ...)
 * is refused with a message that says why, rather than with a bare ENOENT.
 * KVM binds a VM to the mm of the process that created it and fails its
 * ioctls with EIO from any other process, so such an fd is useless to a
 * successor. What travels is what the VM is made of: guest RAM in a memfd,
 * vCPU and device state in a participant's payload or a memfd of its own.
 *
 * preserve() always fails with ENOENT, as the kernel refuses an fd type it
 * has no handler for; no payload, never in an FDT.
 */
#include <errno.h>
#include <string.h>

#include "core/luod.h"
#include "handlers/procfd.h"

#define KVM_PREFIX "anon_inode:kvm-"

static bool kvm_can_preserve(int fd, const struct stat *st, struct luo_probe *probe)
{
	char link[64];

	(void)probe; /* nothing to hand on */
	return (st->st_mode & S_IFMT) == 0 && procfd_link(fd, link, sizeof(link)) == 0 &&
	       !strncmp(link, KVM_PREFIX, strlen(KVM_PREFIX));
}

static int kvm_preserve(struct luo_file *file, const struct luo_probe *probe)
{
	char link[64];

	(void)probe;
	if (procfd_link(file->fd, link, sizeof(link)) < 0)
		strcpy(link, "anon_inode:kvm-?");
	log_warn("session %s token %llu: refused %s: a KVM fd cannot move between processes (KVM answers EIO to any process but the one that created the VM); preserve guest memory as a memfd and vCPU state as data, and build a new VM from them",
		 file->session ? file->session->name : "?", (unsigned long long)file->token, link);
	return -ENOENT;
}

static int kvm_freeze(struct luo_file *file)
{
	(void)file;
	return -ENOENT;
}

static int kvm_retrieve(struct luo_file *file)
{
	log_warn("token %llu: a KVM fd in a handover is refused", (unsigned long long)file->token);
	return -EIO;
}

const struct luo_file_handler luo_kvm_handler = {
	.name = "kvm",
	.compatible = "luo,kvm-refused",
	.type = 0,
	.can_preserve = kvm_can_preserve,
	.preserve = kvm_preserve,
	.freeze = kvm_freeze,
	.retrieve = kvm_retrieve,
	.size = NULL,
};
