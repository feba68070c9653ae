// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A libluo client as a user would write one, built by test-install.sh
 * against the installed tree with nothing but cc and pkg-config (so it
 * includes <luo/luo.h> only, and libc). It preserves a memfd, asks for a
 * live update with the installed luoctl, and gets the same memfd back.
 *
 *   client SOCKET LUOCTL    exit 0 when the contents came back intact
 */
#define _GNU_SOURCE /* memfd_create */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <luo/luo.h>

static const char text[] = "held by an installed luod";

static int die(const char *what, int r)
{
	fprintf(stderr, "client: %s: %s\n", what, strerror(r < 0 ? -r : r));
	return 1;
}

static int update(const char *luoctl, const char *sock)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		execl(luoctl, luoctl, "--socket", sock, "update", (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid)
		return -errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

int main(int argc, char **argv)
{
	char buf[sizeof(text)] = { 0 };
	enum luo_state state;
	bool incoming;
	int dev, s, fd, r;

	if (argc != 3) {
		fprintf(stderr, "usage: client SOCKET LUOCTL\n");
		return 2;
	}
	dev = luo_open(argv[1]);
	if (dev < 0)
		return die("luo_open", dev);
	s = luo_create_session(dev, "installed");
	if (s < 0)
		return die("create", s);
	fd = memfd_create("installed", MFD_CLOEXEC);
	if (fd < 0 || write(fd, text, sizeof(text)) != (ssize_t)sizeof(text))
		return die("memfd", errno);
	r = luo_session_preserve_fd(s, fd, 42);
	if (r < 0)
		return die("preserve", r);
	close(fd);

	/* the session stays open (held) while luod replaces itself */
	r = update(argv[2], argv[1]);
	if (r < 0)
		return die("luoctl update", r);
	close(s);
	close(dev);

	dev = luo_open(argv[1]);
	if (dev < 0)
		return die("luo_open after the update", dev);
	s = luo_retrieve_session(dev, "installed");
	if (s < 0)
		return die("retrieve", s);
	r = luo_session_get_state(s, &state, &incoming);
	if (r < 0 || !incoming)
		return die("get_state", r < 0 ? r : -EPROTO);
	fd = luo_session_retrieve_fd(s, 42);
	if (fd < 0)
		return die("retrieve_fd", fd);
	if (pread(fd, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf) || memcmp(buf, text, sizeof(text)))
		return die("contents", EIO);
	r = luo_session_finish(s);
	if (r < 0)
		return die("finish", r);
	close(fd);
	close(s);
	close(dev);
	printf("client: memfd intact across the update\n");
	return 0;
}
