// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * DOC: The fd types luod knows, registered with the core in the order a
 * new fd is offered to them (the core names none of them).
 */
#include "core/luod.h"

void handlers_register(void)
{
	luo_handler_register(&luo_memfd_handler);
	luo_handler_register(&luo_socket_handler);
	luo_handler_register(&luo_pipe_handler);
	luo_handler_register(&luo_eventfd_handler);
	luo_handler_register(&luo_timerfd_handler);
	luo_handler_register(&luo_kvm_handler);
	luo_handler_register(&luo_regular_handler); /* after memfd: any other S_IFREG */
}
