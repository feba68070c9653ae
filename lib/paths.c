/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Default paths. Root gets the system locations; any other uid gets its
 * per-user runtime and state directories, so an unprivileged luod never
 * needs write access outside the user's own trees.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "paths.h"

static int format(char *buf, size_t len, const char *fmt, const char *a)
{
	int n = snprintf(buf, len, fmt, a);

	if (n < 0)
		return -EINVAL;
	if ((size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
}

int luo_path_default_socket(char *buf, size_t len)
{
	const char *env = secure_getenv("LUO_SOCKET");
	char uid[32];

	if (env && *env)
		return format(buf, len, "%s", env);
	if (geteuid() == 0)
		return format(buf, len, "%s", LUO_SYSTEM_SOCKET);
	env = getenv("XDG_RUNTIME_DIR");
	if (env && *env)
		return format(buf, len, "%s/luo/luod.sock", env);
	snprintf(uid, sizeof(uid), "%u", (unsigned)geteuid());
	return format(buf, len, "/run/user/%s/luo/luod.sock", uid);
}

/*
 * A client of a non-root user talks to its own luod when it has one (its
 * socket exists), else to the system luod, which luod.socket lets the
 * members of group luo reach. With neither, the per-user path, which is
 * what the error then names.
 */
int luo_path_client_socket(char *buf, size_t len)
{
	const char *env = secure_getenv("LUO_SOCKET");
	int r = luo_path_default_socket(buf, len);
	struct stat st;

	if (r < 0 || (env && *env) || geteuid() == 0)
		return r;
	if (lstat(buf, &st) < 0 && errno == ENOENT && lstat(LUO_SYSTEM_SOCKET, &st) == 0 &&
	    S_ISSOCK(st.st_mode))
		return format(buf, len, "%s", LUO_SYSTEM_SOCKET);
	return 0;
}

int luo_path_default_state_dir(char *buf, size_t len)
{
	const char *env;

	if (geteuid() == 0)
		return format(buf, len, "%s", "/var/lib/luo");
	env = getenv("XDG_STATE_HOME");
	if (env && *env)
		return format(buf, len, "%s/luo", env);
	env = getenv("HOME");
	if (env && *env)
		return format(buf, len, "%s/.local/state/luo", env);
	return -ENOENT;
}
