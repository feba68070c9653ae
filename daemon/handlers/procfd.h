/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What /proc/self says about one of luod's fds, for the handlers that
 * cannot learn it from a syscall: the link target of /proc/self/fd/N
 * ("/path", "pipe:[ino]", "anon_inode:[eventfd]", ...) and the fields of
 * /proc/self/fdinfo/N. Both return 0 or -errno.
 */
#ifndef LUOD_PROCFD_H
#define LUOD_PROCFD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#define PROCFD_DELETED " (deleted)"

/* The link target, NUL-terminated; -ENAMETOOLONG if it does not fit. */
int procfd_link(int fd, char *buf, size_t len);
/* Whether the link target is exactly target (false on any error). */
bool procfd_link_is(int fd, const char *target);
/* An anonymous inode (no S_IFMT type) whose link is target: "anon_inode:[eventfd]". */
bool procfd_anon_is(int fd, const struct stat *st, const char *target);
/* Strip a trailing " (deleted)" from buf in place; true if there was one. */
bool procfd_strip_deleted(char *buf);
/* A recorded path for a log line: "(path unknown)" for one not recorded. */
const char *procfd_path_shown(const char *path);

/*
 * The value of "key:" in /proc/self/fdinfo/N, leading blanks skipped,
 * up to the end of its line. -ENOENT when this kernel does not show it.
 */
int procfd_info(int fd, const char *key, char *val, size_t len);
/* The same, parsed as an unsigned number in base (0: C rules). */
int procfd_info_u64(int fd, const char *key, int base, unsigned long long *val);
/* The same, but unknown where this kernel does not show key. */
int procfd_info_or(int fd, const char *key, int base, uint64_t unknown, uint64_t *val);

#endif
