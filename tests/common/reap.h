/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What a case left running, ended (reap.c); luo_test_run() calls these. */
#ifndef LUO_TEST_REAP_H
#define LUO_TEST_REAP_H

#include <stdbool.h>

/* What runs now is not a case's: reap() leaves it (and the dirs tracked so far) alone. */
void reap_mark(void);
/* SIGKILL what the test started since reap_mark(), or everything (all); after: for the log. */
void reap(const char *after, bool all);

#endif
