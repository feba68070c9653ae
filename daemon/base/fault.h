/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Fault injection (meson -Dfault_injection=true) and test pause points.
 *
 * FAULT("point") is true exactly once: at the nth time the point is passed,
 * as $LUOD_FAULT=point:nth says (with "@update" appended, counting starts
 * at the first update request, so a test can set things up unharmed).
 * Without the build option it is the constant false and costs nothing.
 * Points: alloc, send, recv, handler, fdt, exec, keeper.
 *
 * luod_test_pause("point") stops luod with SIGSTOP when
 * $LUOD_TEST_PAUSE_AT=point, so a test can SIGKILL it exactly there.
 */
#ifndef LUOD_FAULT_H
#define LUOD_FAULT_H

#include <stdbool.h>

#ifdef LUO_FAULT_INJECTION
bool luo_fault_hit(const char *point);
void luo_fault_update_started(void);
#define FAULT(point) luo_fault_hit(point)
#else
#define FAULT(point) false
static inline void luo_fault_update_started(void)
{
}
#endif

void luod_test_pause(const char *point);

#endif
