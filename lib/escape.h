/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Names as people read them. A session or participant name is any bytes
 * (the kernel's uAPI accepts them), so a name can hold a newline that forges
 * a log line, or an escape sequence that a terminal obeys. Every log line of
 * luod and every table luoctl prints passes names through luo_escape(); the
 * API and JSON keep them byte-exact.
 */
#ifndef LUO_ESCAPE_H
#define LUO_ESCAPE_H

#include <stddef.h>

/* Room for any escaped LUO_NAME_MAX name: at most 4 bytes out per byte in, and the NUL. */
#define LUO_ESCAPED_NAME_MAX (4 * 64 + 1)

/*
 * Copy s into buf (len > 0), always NUL-terminated, with every byte that is
 * not plain printable text written as an escape: \\, \n, \r, \t, \xHH for
 * other C0 controls, DEL and bytes that are not valid UTF-8, \uXXXX for the
 * C1 controls, line/paragraph separators and bidirectional overrides. An
 * escape that does not fit whole is left out with everything after it.
 * Returns buf.
 */
char *luo_escape(const char *s, char *buf, size_t len);

#endif
