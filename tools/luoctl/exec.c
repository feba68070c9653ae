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
 * luoctl stays as CMD's parent and passes on every signal a process can
 * catch (all but SIGKILL and SIGSTOP, and not the SIGCHLD it needs itself):
 * HAProxy's soft stop (USR1), nginx's and gunicorn's reopen, upgrade and
 * scaling signals (USR1, USR2, WINCH, TTIN, TTOU) reach the server, never
 * end luoctl. Not passed on: what the kernel sends the whole process group
 * anyway (a terminal's ^C, ^Z, hangup, resize: CMD got it too) and what
 * luoctl raised itself. --stop-signal SIG: luoctl's own SIGTERM reaches CMD
 * as SIG, for servers whose graceful stop is another signal.
 *
 * The session is frozen as soon as CMD has it, and luoctl keeps its handle:
 * when CMD exits, luoctl closes the handle and luod holds the listeners
 * until the next `luoctl exec` with the same --session (connections that
 * arrive meanwhile wait in the backlog); when luoctl itself dies (SIGKILL,
 * the OOM killer) the kernel closes the handle for it, on a frozen session,
 * so luod holds it just the same while CMD, if still running, keeps
 * serving. The next `luoctl exec` says when it finds another process still
 * holding the session's sockets. When luod is updated while CMD runs, luod
 * drops luoctl's handle and the session comes back incoming in the
 * successor; luoctl then takes it back at once (its own copies of the
 * sockets never closed). When the session is taken away by `luoctl update
 * --session`, luoctl leaves it to whoever retrieves it.
 *
 * A TCP listener that CMD shuts down (shutdown(SHUT_RD) or connect(AF_UNSPEC)
 * on it: the socket is one kernel object, so it stops accepting for
 * everyone) is made to listen again at once: luoctl polls its copies for
 * the hang-up that a listener turned closed reports. Connections queued on
 * it at that moment are reset by the kernel and cannot be saved.
 *
 * --protocol nginx also sets NGINX="3;4;...;", nginx's own inheritance
 * variable, and makes the sockets non-blocking as nginx expects. Exit status: CMD's (128 + signal when killed); 126/127 when
 * CMD cannot be executed; 1 when luod refused, 2 for usage errors.
 */
#include <arpa/inet.h>
#include <dirent.h>
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
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hold.h"

#define LISTEN_MAX 64
#define SD_LISTEN_FDS_START 3
/* long options only */
#define OPT_TAKE_OVER 1000
#define OPT_STOP_SIGNAL 1001
#define OPT_PROTOCOL 1002

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

/*
 * Every fd above 3 + n close-on-exec: what luoctl inherited without the
 * flag is not CMD's (luoctl(8): other fds of luoctl do not reach CMD).
 * close_range() does it in one call; on a kernel before 5.11, one by one.
 */
static int cloexec_above(int first)
{
	DIR *dir;
	struct dirent *e;
	int r = 0;

	if (close_range((unsigned)first, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
		return 0;
	if (errno != ENOSYS && errno != EINVAL)
		return -errno;
	dir = opendir("/proc/self/fd");
	if (!dir)
		return -errno;
	while (r == 0 && (e = readdir(dir))) {
		char *end;
		long fd = strtol(e->d_name, &end, 10);

		if (*end || end == e->d_name || fd < first || fd == dirfd(dir))
			continue;
		if (fcntl((int)fd, F_SETFD, FD_CLOEXEC) < 0 && errno != EBADF)
			r = -errno;
	}
	closedir(dir);
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
	return cloexec_above(SD_LISTEN_FDS_START + (int)n);
}

/* The options that shape how CMD runs. */
static struct {
	int stop_signal; /* what luoctl's SIGTERM becomes */
	bool nginx;      /* --protocol nginx */
} run = { .stop_signal = SIGTERM };

/*
 * NGINX="3;4;...;": nginx takes inherited listeners from it
 * (ngx_set_inherited_sockets), as from an nginx before it, and so takes
 * them to be non-blocking already, as an nginx leaves them: a blocking one
 * leaves a worker that lost the race for a connection asleep in accept(),
 * deaf to SIGQUIT (seen here: a graceful stop that never ended). The flag
 * belongs to the socket, shared with every copy; nginx wants it set.
 */
static int set_nginx(size_t n)
{
	char *v = calloc(n + 1, 24), *p = v;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		int fd = SD_LISTEN_FDS_START + (int)i, fl = fcntl(fd, F_GETFL);
		struct stat st;

		if (fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode) && fl >= 0 && !(fl & O_NONBLOCK))
			fcntl(fd, F_SETFL, fl | O_NONBLOCK);
		p += sprintf(p, "%zu;", SD_LISTEN_FDS_START + i);
	}
	setenv("NGINX", v, 1);
	free(v);
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
	if (run.nginx && set_nginx(h->n) < 0)
		_exit(126);
	sigprocmask(SIG_SETMASK, old, NULL);
	execvp(cmdv[0], cmdv);
	fprintf(stderr, "luoctl: exec: %s: %s\n", cmdv[0], strerror(errno));
	_exit(errno == ENOENT ? 127 : 126);
}

static bool tcp_listener(int fd)
{
	int v;
	socklen_t len = sizeof(v);

	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, &len) < 0 || (v != AF_INET && v != AF_INET6))
		return false;
	len = sizeof(v);
	return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) == 0 && v;
}

/*
 * The TCP listeners among h's fds, each polled for the hang-up a listening
 * socket reports once it is shut down (it is then TCP_CLOSE, still bound).
 */
struct watch {
	struct pollfd *p; /* [0] signals, [1] the handle, [2...] the listeners */
	size_t *at;       /* for p[2 + k]: its index in the hold (CMD's fd 3 + index) */
	size_t n;
};

static int watch_init(struct watch *w, const struct hold *h, int sfd)
{
	w->p = calloc(h->n + 2, sizeof(*w->p));
	w->at = calloc(h->n + 1, sizeof(*w->at));
	if (!w->p || !w->at)
		return -ENOMEM;
	w->p[0] = (struct pollfd){ .fd = sfd, .events = POLLIN };
	w->n = 2;
	for (size_t i = 0; i < h->n; i++)
		if (tcp_listener(h->fds[i])) {
			w->at[w->n - 2] = i;
			w->p[w->n++] = (struct pollfd){ .fd = h->fds[i] };
		}
	return 0;
}

/* Listen again on every watched listener that stopped listening. */
static void relisten(struct watch *w, const char *session, bool hung_up_only)
{
	for (size_t i = 2; i < w->n; i++) {
		int fd = w->p[i].fd, v = 1, cmd_fd = SD_LISTEN_FDS_START + (int)w->at[i - 2];
		socklen_t len = sizeof(v);

		if (fd < 0 || (hung_up_only && !(w->p[i].revents & (POLLHUP | POLLERR))))
			continue;
		if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) == 0 && v)
			continue;
		if (listen(fd, SOMAXCONN) == 0) {
			fprintf(stderr, "luoctl: exec: session %s: the command shut down its listener "
					"on fd %d; listening again\n", session, cmd_fd);
		} else {
			fprintf(stderr, "luoctl: exec: session %s: the listener on fd %d was shut "
					"down and cannot listen again: %s\n", session, cmd_fd,
				strerror(errno));
			w->p[i].fd = -1;
		}
	}
}

/* Whether luoctl passes signal si on to CMD (pid). */
static bool forwarded(const struct signalfd_siginfo *si, pid_t pid)
{
	if (si->ssi_signo == SIGCHLD || si->ssi_pid == (uint32_t)getpid())
		return false;
	/* a terminal's signals go to its whole foreground group: CMD's too, if it stayed in ours */
	if (si->ssi_code == SI_KERNEL && getpgid(pid) == getpgrp())
		return false;
	return true;
}

/* Wait for CMD, forwarding signals and taking the session back after a luod update. */
static int supervise(struct hold *h, pid_t pid, struct watch *w)
{
	for (;;) {
		struct signalfd_siginfo si;
		int status, r;

		w->p[1] = (struct pollfd){ .fd = h->handle, .events = POLLIN };
		if (poll(w->p, w->n, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (w->p[0].revents & POLLIN) {
			if (read(w->p[0].fd, &si, sizeof(si)) == sizeof(si) && forwarded(&si, pid))
				kill(pid, si.ssi_signo == SIGTERM ? run.stop_signal : (int)si.ssi_signo);
			r = (int)waitpid(pid, &status, WNOHANG);
			if (r == pid)
				return WIFEXITED(status) ? WEXITSTATUS(status)
							 : 128 + WTERMSIG(status);
		}
		relisten(w, h->name, true);
		if (h->handle >= 0 && (w->p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
			r = hold_lost(h);
			if (r == 0 && !h->handed_on)
				r = hold_pin(h);
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

/* A signal by name (TERM, SIGTERM) or number, or -1. */
static int parse_signal(const char *arg)
{
	char *end;
	long n = strtol(arg, &end, 10);

	if (*arg && !*end)
		return n > 0 && n < NSIG && n != SIGKILL && n != SIGSTOP ? (int)n : -1;
	if (!strncasecmp(arg, "SIG", 3))
		arg += 3;
	for (int sig = 1; sig < SIGRTMIN; sig++) {
		const char *abbrev = sigabbrev_np(sig);

		if (abbrev && !strcasecmp(arg, abbrev))
			return sig == SIGKILL || sig == SIGSTOP ? -1 : sig;
	}
	return -1;
}

/* The socket inode of each of h's fds, 0 where it is none. */
static ino_t *socket_inodes(const struct hold *h)
{
	ino_t *ino = calloc(h->n + 1, sizeof(*ino));
	struct stat st;

	for (size_t i = 0; ino && i < h->n; i++)
		if (fstat(h->fds[i], &st) == 0 && S_ISSOCK(st.st_mode))
			ino[i] = st.st_ino;
	return ino;
}

static bool holds_one(pid_t pid, const ino_t *ino, size_t n)
{
	char path[300], link[64];
	struct dirent *e;
	bool found = false;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (!d)
		return false;
	while (!found && (e = readdir(d))) {
		unsigned long long v;
		ssize_t len;

		snprintf(path, sizeof(path), "/proc/%d/fd/%s", (int)pid, e->d_name);
		len = readlink(path, link, sizeof(link) - 1);
		if (len <= 0)
			continue;
		link[len] = '\0';
		if (sscanf(link, "socket:[%llu]", &v) != 1)
			continue;
		for (size_t i = 0; i < n && !found; i++)
			found = ino[i] && ino[i] == (ino_t)v;
	}
	closedir(d);
	return found;
}

/*
 * A session taken back from luod whose sockets another process still has
 * open: the server of an earlier run whose luoctl died (SIGKILL, the OOM
 * killer) and left it running. Say so, by pid: it keeps serving on the
 * same listeners beside the command about to start. luod and its keeper
 * (luod's own binary) are not counted.
 */
static void report_holders(const struct hold *h)
{
	char exe[PATH_MAX] = "", their[PATH_MAX], path[64];
	struct luo_msg_status st;
	ino_t *ino = socket_inodes(h);
	struct dirent *e;
	int found = 0;
	DIR *d;

	if (!ino)
		return;
	if (luo_call_full(h->dev, LUO_OP_STATUS, NULL, 0, NULL, 0, &reply) == 0) {
		luo_reply_close_fds(&reply);
		if (reply.body_len >= sizeof(st)) {
			ssize_t len;

			memcpy(&st, reply.body, sizeof(st));
			snprintf(path, sizeof(path), "/proc/%u/exe", st.pid);
			len = readlink(path, exe, sizeof(exe) - 1);
			exe[len > 0 ? len : 0] = '\0';
		}
	}
	d = opendir("/proc");
	while (d && (e = readdir(d))) {
		pid_t pid = (pid_t)atoi(e->d_name);
		char comm[64] = "?";
		ssize_t len;
		FILE *f;

		if (pid <= 0 || pid == getpid() || !holds_one(pid, ino, h->n))
			continue;
		snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
		len = readlink(path, their, sizeof(their) - 1);
		their[len > 0 ? len : 0] = '\0';
		if (*exe && !strcmp(exe, their))
			continue;
		snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
		if ((f = fopen(path, "re"))) {
			if (fgets(comm, sizeof(comm), f))
				comm[strcspn(comm, "\n")] = '\0';
			fclose(f);
		}
		if (!found++)
			fprintf(stderr, "luoctl: exec: session %s: taken back from luod, but an earlier "
					"server still has its sockets open (its luoctl exec ended without "
					"stopping it: killed?); it keeps serving beside this one:\n",
				h->name);
		fprintf(stderr, "luoctl: exec:   pid %d (%s)\n", (int)pid, comm);
	}
	if (d)
		closedir(d);
	free(ino);
}

int cmd_exec(const struct luoctl_command *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		LUOCTL_COMMON_OPTS,
		{ "session", required_argument, NULL, 'S' },
		{ "create", no_argument, NULL, 'c' },
		{ "listen", required_argument, NULL, 'l' },
		{ "take-over", no_argument, NULL, OPT_TAKE_OVER },
		{ "stop-signal", required_argument, NULL, OPT_STOP_SIGNAL },
		{ "protocol", required_argument, NULL, OPT_PROTOCOL },
		{ 0 },
	};
	const char *session = NULL, *specs[LISTEN_MAX];
	size_t nspecs = 0;
	bool create = false, take_over = false;
	sigset_t mask, old, alarm_mask;
	struct watch w = { 0 };
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
		case OPT_STOP_SIGNAL:
			run.stop_signal = parse_signal(optarg);
			if (run.stop_signal < 0)
				return usage_error(cmd, "bad --stop-signal (a signal name or number, "
							"not KILL or STOP)");
			break;
		case OPT_PROTOCOL:
			if (strcmp(optarg, "systemd") && strcmp(optarg, "nginx"))
				return usage_error(cmd, "--protocol is systemd or nginx");
			run.nginx = !strcmp(optarg, "nginx");
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
	 * as on any exit, never left half-way. Every signal that can be caught
	 * waits (glibc keeps its own two out of the set): no signal ends luoctl.
	 * SIGALRM only while CMD runs: before and after, it is --timeout's.
	 */
	sigfillset(&mask);
	sigdelset(&mask, SIGKILL);
	sigdelset(&mask, SIGSTOP);
	sigemptyset(&alarm_mask);
	sigaddset(&alarm_mask, SIGALRM);
	sigprocmask(SIG_BLOCK, &mask, &old);
	sigprocmask(SIG_UNBLOCK, &alarm_mask, NULL);
	hold_init(&h, session);
	h.pinned = true; /* nothing is added to it: taken back frozen */
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
	if (h.existed && !take_over)
		report_holders(&h);
	/* frozen from now on: if luoctl dies, luod holds the session */
	r = hold_pin(&h);
	if (r < 0)
		fprintf(stderr, "luoctl: exec: session %s: freezing it: %s; it is lost if luoctl "
				"dies before the command\n", session, strerror(-r));
	r = watch_init(&w, &h, sfd);
	fflush(NULL);
	pid = r < 0 ? -1 : fork();
	if (pid < 0) {
		status = fail(r < 0 ? "exec" : "fork", r < 0 ? r : -errno);
	} else {
		if (pid == 0)
			child(&h, argv + optind, &old);
		/* CMD runs as long as it runs; a SIGALRM meanwhile is CMD's, not the timeout */
		timeout_pause();
		sigprocmask(SIG_BLOCK, &alarm_mask, NULL);
		status = supervise(&h, pid, &w);
		sigprocmask(SIG_UNBLOCK, &alarm_mask, NULL);
		timeout_resume();
		if (status < 0) {
			fail("exec", status);
			kill(pid, run.stop_signal);
			waitpid(pid, &status, 0);
			status = 1;
		}
		/* what CMD shut down as it went is not held so: luod checks it at retrieval */
		relisten(&w, session, false);
	}
	/* luod holds the listeners until the next run */
	r = hold_freeze(&h);
	if (r < 0)
		fprintf(stderr, "luoctl: exec: session %s: handing it to luod: %s; its listeners "
				"close now\n", session, strerror(-r));
	r = status;
out:
	free(w.p);
	free(w.at);
	if (sfd >= 0)
		close(sfd);
	sigprocmask(SIG_SETMASK, &old, NULL);
	hold_close(&h);
	return r;
}
