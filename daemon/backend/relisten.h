/* SPDX-License-Identifier: GPL-2.0-or-later */
/* relisten.c: what a listening TCP socket was asked to be, and the same listener again. */
#ifndef LUOD_RELISTEN_H
#define LUOD_RELISTEN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

struct relisten_record {
	int32_t family;
	uint32_t backlog;
	uint32_t addr_len;
	int32_t reuseaddr, reuseport, v6only, keepalive, nodelay, defer_accept, fastopen;
	int32_t freebind, transparent;
	char bindtodevice[16];
	struct sockaddr_storage addr;
};

/* A listening TCP socket (inet or inet6): the kind relisten_record() records. */
bool relisten_candidate(int fd);
int relisten_record(int fd, struct relisten_record *rec);
/* A new listening socket as rec says (O_CLOEXEC), or -errno. */
int relisten_create(const struct relisten_record *rec);

#endif
