/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Default locations of luod's socket and state, shared by luod and its clients. */
#ifndef LUO_PATHS_H
#define LUO_PATHS_H

#include <stddef.h>

#define LUO_SYSTEM_SOCKET "/run/luo/luod.sock"

/* Where luod listens: $LUO_SOCKET, else /run/luo/luod.sock (root) or $XDG_RUNTIME_DIR/luo/luod.sock. */
int luo_path_default_socket(char *buf, size_t len);
/* Where a client connects: the same, but the system socket when a non-root user has no luod of its own. */
int luo_path_client_socket(char *buf, size_t len);
/* /var/lib/luo (root) or $XDG_STATE_HOME/luo, else ~/.local/state/luo. */
int luo_path_default_state_dir(char *buf, size_t len);

#endif
