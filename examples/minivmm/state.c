// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The saved state's format: a versioned header (RAM size, the stop timestamp,
 * the RAM checksum, the last progress of each vCPU) followed by one record
 * per vCPU (struct vcpu_state, then its XSAVE area). The same bytes go into
 * the session's state memfd or, for the naive alternative, at the start of
 * the file that also holds guest RAM. A reader checks magic, format and
 * sizes before it trusts any of it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "minivmm.h"

size_t state_size(const struct vm *vm)
{
	return sizeof(struct state_header) + (size_t)vm->nr_vcpus * vcpu_record_size(vm);
}

int state_write(int fd, off_t off, struct vm *vm, struct state_header *hdr)
{
	size_t rec = vcpu_record_size(vm);
	char *buf = calloc(1, state_size(vm));
	int r;

	if (!buf)
		return -ENOMEM;
	hdr->magic = STATE_MAGIC;
	hdr->format = STATE_FORMAT;
	hdr->header_size = sizeof(*hdr);
	hdr->writer_version = MINIVMM_VERSION;
	hdr->nr_vcpus = (uint32_t)vm->nr_vcpus;
	hdr->ram_size = vm->ram_size;
	hdr->vcpu_record_size = sizeof(struct vcpu_state);
	memcpy(buf, hdr, sizeof(*hdr));
	for (int i = 0; i < vm->nr_vcpus; i++) {
		char *p = buf + sizeof(*hdr) + (size_t)i * rec;

		memcpy(p, vm->vcpus[i].state, sizeof(struct vcpu_state));
		if (vm->xsave_size)
			memcpy(p + sizeof(struct vcpu_state), vm->vcpus[i].xsave, vm->xsave_size);
	}
	r = pwrite_all(fd, buf, state_size(vm), off);
	free(buf);
	return r;
}

int state_read_header(int fd, off_t off, struct state_header *hdr)
{
	int r = pread_all(fd, hdr, sizeof(*hdr), off);

	if (r < 0)
		return r;
	if (hdr->magic != STATE_MAGIC) {
		fprintf(stderr, "minivmm: the saved state is not minivmm's (bad magic)\n");
		return -EINVAL;
	}
	if (hdr->format > STATE_FORMAT || hdr->header_size != sizeof(*hdr) ||
	    hdr->vcpu_record_size != sizeof(struct vcpu_state)) {
		fprintf(stderr,
			"minivmm: saved state format %u (header %u, vCPU record %u bytes) written by minivmm v%u is not one this v%u reads\n",
			hdr->format, hdr->header_size, hdr->vcpu_record_size, hdr->writer_version,
			MINIVMM_VERSION);
		return -EPROTO;
	}
	if (!hdr->nr_vcpus || hdr->nr_vcpus > MINIVMM_MAX_VCPUS || hdr->ram_size < GUEST_MIN_RAM) {
		fprintf(stderr, "minivmm: saved state has %u vCPUs, %llu bytes of RAM: refused\n",
			hdr->nr_vcpus, (unsigned long long)hdr->ram_size);
		return -EINVAL;
	}
	return 0;
}

int state_read_vcpus(int fd, off_t off, struct vm *vm, const struct state_header *hdr)
{
	size_t rec = vcpu_record_size(vm);
	char *buf;
	int r;

	if ((int)hdr->nr_vcpus != vm->nr_vcpus)
		return -EINVAL;
	buf = malloc(state_size(vm));
	if (!buf)
		return -ENOMEM;
	r = pread_all(fd, buf, state_size(vm), off);
	for (int i = 0; !r && i < vm->nr_vcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		const char *p = buf + sizeof(*hdr) + (size_t)i * rec;

		v->state = malloc(sizeof(*v->state));
		v->xsave = vm->xsave_size ? malloc(vm->xsave_size) : NULL;
		if (!v->state || (vm->xsave_size && !v->xsave)) {
			r = -ENOMEM;
			break;
		}
		memcpy(v->state, p, sizeof(*v->state));
		if (v->state->xsave_size != vm->xsave_size) {
			fprintf(stderr,
				"minivmm: vCPU %d was saved with a %u-byte XSAVE area, this host's KVM uses %u\n",
				i, v->state->xsave_size, vm->xsave_size);
			r = -EOPNOTSUPP;
			break;
		}
		if (vm->xsave_size)
			memcpy(v->xsave, p + sizeof(struct vcpu_state), vm->xsave_size);
		v->last_tick = hdr->last_tick[i];
	}
	free(buf);
	return r;
}
