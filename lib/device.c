/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Device handle calls: connecting to luod, creating and retrieving sessions,
 * and the global state machine. Each is a luo_call() (rpc.h): a device
 * handle can be shared by threads, signal handlers and forked processes.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "luo/luo.h"
#include "paths.h"
#include "rpc.h"

int luo_open(const char *socket_path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char path[sizeof(sa.sun_path)];
	int fd, r;

	if (socket_path) {
		if (strlen(socket_path) >= sizeof(sa.sun_path))
			return -ENAMETOOLONG;
		if (!*socket_path)
			return -EINVAL;
		strcpy(path, socket_path);
	} else {
		r = luo_path_client_socket(path, sizeof(path));
		if (r < 0)
			return r;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);

	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	while (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (errno == EINTR)
			continue;
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

static int session_handle_call(int dev, uint16_t op, const char *name)
{
	struct luo_msg_name req = { 0 };
	int r;

	r = luo_name_validate(name, LUO_NAME_MAX);
	if (r < 0)
		return r;
	strcpy(req.name, name);
	return luo_call_fd(dev, op, &req, sizeof(req));
}

int luo_create_session(int dev, const char *name)
{
	return session_handle_call(dev, LUO_OP_CREATE_SESSION, name);
}

int luo_retrieve_session(int dev, const char *name)
{
	return session_handle_call(dev, LUO_OP_RETRIEVE_SESSION, name);
}

int luo_get_state(int dev, enum luo_state *state)
{
	struct luo_msg_state st;
	int r;

	if (!state)
		return -EINVAL;
	/* the state alone: a luod older than instances sends no more */
	r = luo_call_body(dev, LUO_OP_GET_STATE, NULL, 0, &st,
			  offsetof(struct luo_msg_state, instance));
	if (r < 0)
		return r;
	*state = (enum luo_state)st.state;
	return 0;
}

int luo_get_instance(int dev, uint64_t *instance, uint64_t *predecessor)
{
	struct luo_msg_state st;
	int r;

	if (!instance)
		return -EINVAL;
	r = luo_call_body(dev, LUO_OP_GET_STATE, NULL, 0, &st, sizeof(st));
	if (r < 0)
		return r;
	*instance = st.instance;
	if (predecessor)
		*predecessor = st.predecessor;
	return 0;
}

int luo_set_event(int dev, enum luo_event event)
{
	return luo_call_event(dev, LUO_OP_SET_EVENT, event);
}
