/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Session calls on a kernel session fd (kernel_session.c). */
#ifndef LUO_KERNEL_SESSION_H
#define LUO_KERNEL_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "luo/luo.h"

bool luo_kernel_session(int fd); /* not a socket: the kernel's session fd */
int luo_kernel_preserve_fds(int session, const int *fds, const uint64_t *tokens, size_t n);
int luo_kernel_retrieve_fds(int session, const uint64_t *tokens, int *ret_fds, size_t n);
int luo_kernel_finish(int session);
int luo_kernel_get_name(int session, char name[LUO_NAME_MAX]);

#endif
