// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `luoctl exec --session NAME [--create] [--listen SPEC]... -- CMD ARGS...`:
 * run an unmodified socket-activated server on listeners that outlive it.
 *
 * The first start (--create, and no session of that name held by luod)
 * binds and listens on every --listen SPEC (tcp:HOST:PORT, tcp6:[HOST]:PORT,
 * unix:/path) and preserves the sockets in a new session, tokens 0, 1, ...
 * in the order given. A later start takes the held session back with its
 * sockets instead (hold.c), so the --listen options then change nothing.
 * CMD gets the session's fds, whatever their type (sockets, memfds, pipes,
 * ...), as fds 3, 4, ... in preservation order with LISTEN_FDS,
 * LISTEN_FDNAMES (each fd's token in decimal) and LISTEN_PID set to its own
 * pid in the child between fork and exec: the sd_listen_fds(3) protocol.
 *
 * --take-over: when a process holds the session (another `luoctl exec`
 * whose CMD still runs), it is handed on first (SESSION_UPDATE, as `luoctl
 * update --session`): the successor starts while its predecessor runs, and
 * the predecessor's luoctl leaves the session alone from then on.
 *
 * luoctl stays as CMD's parent. It forwards SIGTERM, SIGINT, SIGHUP and
 * SIGQUIT; when CMD exits it freezes the session on its own and closes its
 * handle, so luod holds the listeners until the next `luoctl exec` with the
 * same --session: connections that arrive meanwhile wait in the backlog.
 * When luod is updated while CMD runs, luod drops luoctl's handle and the
 * session comes back incoming in the successor; luoctl then takes it back
 * at once (its own copies of the sockets never closed). When the session
 * is taken away by `luoctl update --session`, luoctl leaves it to whoever
 * retrieves it. Exit status: CMD's (128 + signal when killed); 126/127 when
 * CMD cannot be executed; 1 when luod refused, 2 for usage errors.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hold.h"

#define LISTEN_MAX 64
#define SD_LISTEN_FDS_START 3
#define OPT_TAKE_OVER 1000 /* a long option only */

/* A listening socket for spec, or -errno with a message. */
static int listen_spec(const char *spec)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int family, fd, one = 1, r;

	memset(&ss, 0, sizeof(ss));
	if (!strncmp(spec, "unix:", 5)) {
		struct sockaddr_un *sun = (struct sockaddr_un *)&ss;
		const char *path = spec + 5;

		if (!*path || strlen(path) >= sizeof(sun->sun_path))
			return -EINVAL;
		sun->sun_family = AF_UNIX;
		strcpy(sun->sun_path, path);
		len = sizeof(*sun);
		family = AF_UNIX;
	} else if (!strncmp(spec, "tcp:", 4) || !strncmp(spec, "tcp6:", 5)) {
		bool six = spec[3] == '6';
		const char *hostport = spec + (six ? 5 : 4);
		char host[256];
		const char *colon;
		struct addrinfo hints = { .ai_family = six ? AF_INET6 : AF_INET,
					  .ai_socktype = SOCK_STREAM,
					  .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
		struct addrinfo *ai;

		colon = strrchr(hostport, ':');
		if (!colon || !colon[1] || (size_t)(colon - hostport) >= sizeof(host))
			return -EINVAL;
		memcpy(host, hostport, (size_t)(colon - hostport));
		host[colon - hostport] = '\0';
		if (six) {
			size_t hl = strlen(host);

			if (hl < 2 || host[0] != '[' || host[hl - 1] != ']')
				return -EINVAL;
			memmove(host, host + 1, hl - 2);
			host[hl - 2] = '\0';
		}
		r = getaddrinfo(*host ? host : NULL, colon + 1, &hints, &ai);
		if (r != 0) {
			fprintf(stderr, "luoctl: exec: %s: %s\n", spec, gai_strerror(r));
			return -EINVAL;
		}
		memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
		len = ai->ai_addrlen;
		family = ai->ai_family;
		freeaddrinfo(ai);
	} else {
		return -EINVAL;
	}
	fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* a server restarting on its port must not wait out TIME_WAIT */
	if (family != AF_UNIX && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		goto fail;
	if (family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
		goto fail;
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, SOMAXCONN) < 0)
		goto fail;
	return fd;
fail:
	r = -errno;
	fprintf(stderr, "luoctl: exec: %s: %s\n", spec, strerror(-r));
	close(fd);
	return r;
}

/* fds[i] to fd 3 + i, without CLOEXEC, whatever numbers they had; in the child. */
static int place_fds(const int *fds, size_t n)
{
	int tmp[LISTEN_MAX];

	if (n > LISTEN_MAX)
		return -E2BIG;
	/* first out of the way of 3..3+n-1, then into place */
	for (size_t i = 0; i < n; i++) {
		tmp[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, SD_LISTEN_FDS_START + (int)n);
		if (tmp[i] < 0)
			return -errno;
	}
	for (size_t i = 0; i < n; i++)
		if (dup2(tmp[i], SD_LISTEN_FDS_START + (int)i) < 0)
			return -errno;
	return 0;
}

static void child(const struct hold *h, char **cmdv, const sigset_t *old)
{
	char num[32];
	char *names;
	int r = place_fds(h->fds, h->n);

	if (r < 0) {
		fprintf(stderr, "luoctl: exec: cannot place %zu fds at 3, 4, ...: %s\n", h->n,
			strerror(-r));
		_exit(126);
	}
	/* each fd named by its token, in decimal: sd_listen_fds_with_names(3) */
	names = calloc(h->n ? h->n : 1, 21);
	if (!names)
		_exit(126);
	for (size_t i = 0; i < h->n; i++)
		sprintf(names + strlen(names), "%s%" PRIu64, i ? ":" : "", h->tokens[i]);
	snprintf(num, sizeof(num), "%zu", h->n);
	setenv("LISTEN_FDS", num, 1);
	setenv("LISTEN_FDNAMES", names, 1);
	snprintf(num, sizeof(num), "%d", (int)getpid());
	setenv("LISTEN_PID", num, 1);
	sigprocmask(SIG_SETMASK, old, NULL);
	execvp(cmdv[0], cmdv);
	fprintf(stderr, "luoctl: exec: %s: %s\n", cmdv[0], strerror(errno));
	_exit(errno == ENOENT ? 127 : 126);
}

/* Wait for CMD, forwarding signals and taking the session back after a luod update. */
static int supervise(struct hold *h, pid_t pid, int sfd)
{
	for (;;) {
		struct pollfd p[2] = { { .fd = sfd, .events = POLLIN },
				       { .fd = h->handle, .events = POLLIN } };
		struct signalfd_siginfo si;
		int status, r;

		if (poll(p, h->handle >= 0 ? 2 : 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (p[0].revents & POLLIN) {
			if (read(sfd, &si, sizeof(si)) == sizeof(si) && si.ssi_signo != SIGCHLD)
				kill(pid, (int)si.ssi_signo);
			r = (int)waitpid(pid, &status, WNOHANG);
			if (r == pid)
				return WIFEXITED(status) ? WEXITSTATUS(status)
							 : 128 + WTERMSIG(status);
		}
		if (h->handle >= 0 && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
			r = hold_lost(h);
			if (r < 0)
				fprintf(stderr, "luoctl: exec: session %s: taking it back after luod's "
						"update: %s; trying again when %s exits\n",
					h->name, strerror(-r), "the command");
			else if (h->handed_on)
				fprintf(stderr, "luoctl: exec: session %s was handed on "
						"(update --session); luod holds it\n", h->name);
		}
	}
}

int cmd_exec(const struct luoctl_command *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		LUOCTL_COMMON_OPTS,
		{ "session", required_argument, NULL, 'S' },
		{ "create", no_argument, NULL, 'c' },
		{ "listen", required_argument, NULL, 'l' },
		{ "take-over", no_argument, NULL, OPT_TAKE_OVER },
		{ 0 },
	};
	const char *session = NULL, *specs[LISTEN_MAX];
	size_t nspecs = 0;
	bool create = false, take_over = false;
	sigset_t mask, old;
	struct hold h;
	int c, r, sfd = -1, status;
	pid_t pid;

	/* "+": CMD's own options are not ours */
	while ((c = getopt_long(argc, argv, "+" LUOCTL_COMMON_SHORT "S:cl:", opts, NULL)) != -1) {
		if (common_opt(cmd, c, &r))
			return r;
		switch (c) {
		case 'S':
			session = optarg;
			break;
		case 'c':
			create = true;
			break;
		case OPT_TAKE_OVER:
			take_over = true;
			break;
		case 'l':
			if (nspecs == LISTEN_MAX)
				return usage_error(cmd, "too many --listen");
			specs[nspecs++] = optarg;
			break;
		}
	}
	if (!session)
		return usage_error(cmd, "--session is required");
	if (luo_name_validate(session, strlen(session) + 1) < 0)
		return usage_error(cmd, "bad session name");
	if (optind >= argc)
		return usage_error(cmd, "no command");

	/*
	 * Signals wait from here on: one that comes while the session is being
	 * taken back is handed to CMD once it runs, and the session is frozen
	 * as on any exit, never left half-way.
	 */
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGQUIT);
	sigprocmask(SIG_BLOCK, &mask, &old);
	hold_init(&h, session);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (sfd < 0) {
		r = fail("signalfd", -errno);
		goto out;
	}
	r = take_over ? hold_take_over(&h) : 0;
	if (r == 0)
		r = hold_attach(&h, false);
	if (r == -ENOENT && create) {
		/* first start: the sockets first, so a bad --listen leaves no session behind */
		for (size_t i = 0; i < nspecs; i++) {
			int fd = listen_spec(specs[i]);

			if (fd < 0) {
				if (fd == -EINVAL)
					fprintf(stderr, "luoctl: exec: bad --listen %s\n", specs[i]);
				r = fd == -EINVAL ? 2 : 1;
				goto out;
			}
			r = hold_keep(&h, fd, i);
			if (r < 0) {
				close(fd);
				r = fail("exec", r);
				goto out;
			}
		}
		r = hold_attach(&h, true);
	}
	if (r < 0) {
		if (r == -ENOENT)
			fprintf(stderr, "luoctl: exec: luod holds no session %s (--create makes one)\n",
				session);
		else if (r == -EEXIST)
			fprintf(stderr, "luoctl: exec: session %s is held by a running process "
					"(--take-over hands it on to this command)\n", session);
		else
			fail(session, r);
		r = 1;
		goto out;
	}
	if (h.existed && nspecs && nspecs != h.n)
		fprintf(stderr, "luoctl: exec: session %s holds %zu sockets; --listen ignored\n",
			session, h.n);

	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		status = fail("fork", -errno);
	} else {
		if (pid == 0)
			child(&h, argv + optind, &old);
		timeout_pause(); /* CMD runs as long as it runs */
		status = supervise(&h, pid, sfd);
		timeout_resume();
		if (status < 0) {
			fail("exec", status);
			kill(pid, SIGTERM);
			waitpid(pid, &status, 0);
			status = 1;
		}
	}
	/* luod holds the listeners until the next run */
	r = hold_freeze(&h);
	if (r < 0)
		fprintf(stderr, "luoctl: exec: session %s: handing it to luod: %s; its listeners "
				"close now\n", session, strerror(-r));
	r = status;
out:
	if (sfd >= 0)
		close(sfd);
	sigprocmask(SIG_SETMASK, &old, NULL);
	hold_close(&h);
	return r;
}
