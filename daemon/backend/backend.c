// SPDX-License-Identifier: GPL-2.0-or-later
/* DOC: The backends (backend.h): the userspace one, which has nothing to do, and the choice. */
#include <string.h>
#include <sys/stat.h>

#include "backend/backend.h"

const struct luo_backend_ops luo_backend_userspace = {
	.name = "userspace",
	.backend = LUO_BACKEND_USERSPACE,
};

bool luo_kernel_device_present(void)
{
	struct stat st;

	return stat(LUO_KERNEL_DEVICE, &st) == 0 && S_ISCHR(st.st_mode);
}

const struct luo_backend_ops *backend_choose(const char *name)
{
	if (!strcmp(name, "kernel") || (!strcmp(name, "auto") && luo_kernel_device_present()))
		return &luo_backend_kernel;
	if (!strcmp(name, "auto") || !strcmp(name, "userspace"))
		return &luo_backend_userspace;
	return NULL;
}
