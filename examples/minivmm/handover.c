// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The luo session that carries a guest from one VMM process to the next:
 * the guest-RAM memfd (token TOKEN_RAM) and a sealed memfd with the saved
 * vCPU state (token TOKEN_STATE), in a session frozen on its own
 * (LUO_EVENT_FREEZE) so that it outlives this process and waits in luod,
 * across a `luoctl update` too, until the next VMM retrieves it by name.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "luo/luo.h"
#include "minivmm.h"

static int fail(const char *what, const char *session, int err)
{
	fprintf(stderr, "minivmm: %s (session %s): %s\n", what, session, strerror(-err));
	return err;
}

int handover_save(const char *socket, const char *session, struct vm *vm,
		  struct state_header *hdr)
{
	uint64_t tokens[2] = { TOKEN_RAM, TOKEN_STATE };
	int state_fd, dev, s = -1, r, fds[2];

	state_fd = memfd_create("minivmm-vcpu-state", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (state_fd < 0)
		return fail("memfd_create", session, -errno);
	r = state_write(state_fd, 0, vm, hdr);
	if (r < 0) {
		close(state_fd);
		return fail("writing the vCPU state", session, r);
	}
	if (fcntl(state_fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0) {
		r = -errno;
		close(state_fd);
		return fail("sealing the vCPU state", session, r);
	}

	dev = luo_open(socket);
	if (dev < 0) {
		close(state_fd);
		return fail("luo_open", session, dev);
	}
	r = s = luo_create_session(dev, session);
	if (s < 0) {
		fail("luo_create_session", session, s);
		goto out;
	}
	fds[0] = vm->ram_fd;
	fds[1] = state_fd;
	r = luo_session_preserve_fds(s, fds, tokens, 2);
	if (r < 0) {
		fail("preserving guest RAM and vCPU state", session, r);
		goto out;
	}
	r = luo_session_set_event(s, LUO_EVENT_FREEZE);
	if (r < 0)
		fail("freezing", session, r);
out:
	if (s >= 0)
		close(s); /* frozen: the session stays in luod without us */
	close(dev);
	close(state_fd);
	return r < 0 ? r : 0;
}

int handover_load(const char *socket, const char *session, int *ram_fd, int *state_fd,
		  bool quiet_enoent)
{
	uint64_t tokens[2] = { TOKEN_RAM, TOKEN_STATE };
	int dev, s, r, fds[2];

	dev = luo_open(socket);
	if (dev < 0)
		return fail("luo_open", session, dev);
	s = luo_retrieve_session(dev, session);
	if (s < 0) {
		close(dev);
		return quiet_enoent && s == -ENOENT ? s : fail("luo_retrieve_session", session, s);
	}
	r = luo_session_retrieve_fds(s, tokens, fds, 2);
	if (r < 0) {
		fail("retrieving guest RAM and vCPU state", session, r);
		goto out;
	}
	/* the fds are ours now; finishing frees the name for our own upgrade */
	r = luo_session_finish(s);
	if (r < 0) {
		fail("luo_session_finish", session, r);
		close(fds[0]);
		close(fds[1]);
		goto out;
	}
	*ram_fd = fds[0];
	*state_fd = fds[1];
out:
	close(s);
	close(dev);
	return r < 0 ? r : 0;
}
