// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * DOC: systemd glue: readiness, status, the watchdog and socket activation.
 *
 * luod runs the same with or without systemd. Under a Type=notify service
 * it tells the manager READY=1 once it serves, a one-line STATUS= whenever
 * its state or counts change, RELOADING=1 while a live update replaces it
 * (luod re-execs itself with the same pid, so the manager sees one main
 * process throughout) and WATCHDOG=1 from the server loop when the unit
 * sets WatchdogSec=. Each of these is one sd_notify() datagram to
 * $NOTIFY_SOCKET; without that variable sd_notify() does nothing.
 *
 * The environment is never unset: $NOTIFY_SOCKET and $WATCHDOG_USEC must
 * reach the successor through execve. The passed fds are the exception:
 * LISTEN_FDS is read once, on a fresh start, and removed, because the
 * numbers it names mean nothing after an update (the handover carries the
 * listening socket instead).
 *
 * A notification that cannot be sent is logged once and otherwise
 * ignored: systemd not listening must never stop luod serving.
 *
 * The protocol is spoken here, not through libsystemd: it is a few
 * datagrams and environment variables that systemd documents as a stable
 * interface (sd_notify(3), sd_listen_fds(3), sd_watchdog_enabled(3)), and
 * linking libsystemd loads seven libraries (libsystemd, libcap, libgcrypt,
 * libgpg-error, liblzma, libzstd, liblz4) into every luod start, the
 * successor's inside the update's blackout: about 1 ms of the execve here.
 * $NOTIFY_SOCKET may be a path or an abstract name ("@..."); other forms
 * (vsock) are not supported and are logged once.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/base.h"

#define LISTEN_FDS_START 3 /* SD_LISTEN_FDS_START */

static struct {
	bool fds_read;
	int *fds;     /* passed fds; -1 once taken */
	char **names; /* their names, from LISTEN_FDNAMES */
	size_t nfds;
	char status[256]; /* the last STATUS= sent, to send only changes */
	bool warned;
	uint64_t watchdog_ns; /* ping period (half of WATCHDOG_USEC), 0: off */
	bool watchdog_read;
	uint64_t last_ping_ns;
} sd;

int systemd_notify_address(struct sockaddr_un *sa, socklen_t *len)
{
	const char *p = getenv("NOTIFY_SOCKET");
	size_t n;

	if (!p || !*p)
		return 0;
	n = strlen(p);
	if ((p[0] != '/' && p[0] != '@') || n >= sizeof(sa->sun_path))
		return -EAFNOSUPPORT;
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	memcpy(sa->sun_path, p, n);
	if (p[0] == '@')
		sa->sun_path[0] = '\0'; /* abstract: no NUL at the end counted */
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (p[0] == '/'));
	return 1;
}

/* One datagram to $NOTIFY_SOCKET, as sd_notify(0, msg) sends it; nothing without it. */
static void notify(const char *msg)
{
	static int sock = -1;
	struct sockaddr_un sa;
	socklen_t len;
	int r = systemd_notify_address(&sa, &len);

	if (r > 0 && sock < 0) {
		sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (sock < 0)
			r = -errno;
	}
	if (r > 0 && sendto(sock, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa, len) < 0)
		r = -errno;
	if (r < 0 && !sd.warned) {
		sd.warned = true;
		log_warn("systemd: notify: %s; further failures are not logged", strerror(-r));
	}
}

/* A whole unsigned decimal number, or -EINVAL. */
static int parse_u64(const char *s, uint64_t *v)
{
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return errno || *end ? -EINVAL : 0;
}

/* $NAME_PID is unset or ours, as libsystemd checks it. */
static bool for_us(const char *name)
{
	const char *p = getenv(name);
	uint64_t pid;

	return !p || (parse_u64(p, &pid) == 0 && pid == (uint64_t)getpid());
}

/* LISTEN_FDNAMES split at ':' into n names (empty ones kept), or NULL; -EINVAL if not n. */
static int split_names(const char *fdnames, uint64_t n, char ***ret)
{
	char **names = calloc(n + 1, sizeof(*names));
	const char *c = fdnames;
	uint64_t k = 0;
	int r = 0;

	if (!names)
		return -ENOMEM;
	while (r == 0) {
		size_t len = strcspn(c, ":");

		if (k == n)
			r = -EINVAL; /* more names than fds */
		else if (!(names[k++] = strndup(c, len)))
			r = -ENOMEM;
		else if (!c[len])
			break;
		c += len + 1;
	}
	if (r == 0 && k != n)
		r = -EINVAL; /* fewer */
	if (r < 0) {
		for (uint64_t i = 0; i < k; i++)
			free(names[i]);
		free(names);
		return r;
	}
	*ret = names;
	return 0;
}

/*
 * sd_listen_fds_with_names(1, names), as libsystemd does it: LISTEN_FDS
 * fds from fd 3 if LISTEN_PID is ours, close-on-exec set on each, their
 * LISTEN_FDNAMES (NULL names when it is unset), the variables removed.
 * The number of fds, or -errno.
 */
static int listen_fds_with_names(char ***ret_names)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	const char *fdnames = getenv("LISTEN_FDNAMES");
	uint64_t n = 0, p;
	int r = 0;

	*ret_names = NULL;
	if (!pid || !fds)
		goto out;
	if (parse_u64(pid, &p) < 0) {
		r = -EINVAL;
		goto out;
	}
	if (p != (uint64_t)getpid())
		goto out; /* for another process: none for us */
	if (parse_u64(fds, &n) < 0 || n == 0 || n > INT32_MAX - LISTEN_FDS_START) {
		r = -EINVAL;
		goto out;
	}
	for (uint64_t i = 0; i < n && r == 0; i++)
		if (fcntl(LISTEN_FDS_START + (int)i, F_SETFD, FD_CLOEXEC) < 0)
			r = -errno;
	if (r == 0 && fdnames)
		r = *fdnames ? split_names(fdnames, n, ret_names) : -EINVAL;
out:
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return r < 0 ? r : (int)n;
}

/* sd_is_socket_unix(fd, type, listening, NULL, 0): 1, 0 or -errno. */
static int is_socket_unix(int fd, int type, int listening)
{
	struct sockaddr_storage sa;
	socklen_t len = sizeof(int), salen = sizeof(sa);
	struct stat st;
	int v;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISSOCK(st.st_mode))
		return 0;
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &len) < 0)
		return -errno;
	if (v != type)
		return 0;
	len = sizeof(int);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) < 0)
		return -errno;
	if (!v != !listening)
		return 0;
	if (getsockname(fd, (struct sockaddr *)&sa, &salen) < 0)
		return -errno;
	return salen >= sizeof(sa_family_t) && sa.ss_family == AF_UNIX;
}

static int read_passed_fds(void)
{
	char **names = NULL;
	int n;

	if (sd.fds_read)
		return 0;
	sd.fds_read = true;
	n = listen_fds_with_names(&names);
	if (n < 0) {
		log_err("systemd: LISTEN_FDS: %s", strerror(-n));
		return n;
	}
	if (n == 0)
		return 0;
	sd.fds = calloc((size_t)n, sizeof(*sd.fds));
	if (!sd.fds) {
		for (int i = 0; names && names[i]; i++)
			free(names[i]);
		free(names);
		return -ENOMEM;
	}
	for (int i = 0; i < n; i++)
		sd.fds[i] = LISTEN_FDS_START + i;
	sd.names = names; /* NULL when systemd gave no names */
	sd.nfds = (size_t)n;
	return 0;
}

static const char *fd_name(size_t i)
{
	return sd.names && sd.names[i] ? sd.names[i] : "unknown";
}

/* Its path may differ from --socket: the unit's ListenSequentialPacket= decides. */
static void log_activated(int fd)
{
	/* one byte more: a path of the full 108 bytes has no NUL of its own */
	union {
		struct sockaddr_un un;
		char raw[sizeof(struct sockaddr_un) + 1];
	} sa = { 0 };
	socklen_t len = sizeof(sa.un);

	if (getsockname(fd, (struct sockaddr *)&sa.un, &len) < 0 || len <= sizeof(sa_family_t))
		sa.un.sun_path[0] = '\0';
	log_info("systemd: serving the activated socket %s in fd %d",
		 sa.un.sun_path[0] ? sa.un.sun_path : "(abstract or unnamed)", fd);
}

/*
 * The unit names its socket "luod" (FileDescriptorName=); without a name
 * (systemd-socket-activate, or a unit that does not set one) the first
 * listening SOCK_SEQPACKET UNIX socket with a default name is luod's.
 * Fds with other names are somebody else's (the fd store) and left alone.
 */
int systemd_listen_fd(void)
{
	int r = read_passed_fds();
	size_t i;

	if (r < 0)
		return r;
	for (i = 0; i < sd.nfds; i++)
		if (sd.fds[i] >= 0 && !strcmp(fd_name(i), "luod"))
			break;
	if (i == sd.nfds)
		for (i = 0; i < sd.nfds; i++) {
			const char *name = fd_name(i);

			if (sd.fds[i] >= 0 &&
			    (!strcmp(name, "unknown") || !strcmp(name, "luod.socket")) &&
			    is_socket_unix(sd.fds[i], SOCK_SEQPACKET, 1) > 0)
				break;
		}
	if (i == sd.nfds)
		return -ENOENT;
	r = is_socket_unix(sd.fds[i], SOCK_SEQPACKET, 1);
	if (r <= 0) {
		log_err("systemd: passed fd %d (%s) is not a listening SOCK_SEQPACKET UNIX socket; "
			"the socket unit needs ListenSequentialPacket=",
			sd.fds[i], fd_name(i));
		return r < 0 ? r : -ENOTSOCK;
	}
	r = sd.fds[i];
	sd.fds[i] = -1;
	log_activated(r);
	return r;
}

size_t systemd_passed_fds(int **fds, char ***names)
{
	if (read_passed_fds() < 0)
		return 0;
	*fds = sd.fds;
	*names = sd.names;
	return sd.nfds;
}

void systemd_ready(const char *status)
{
	char msg[320];

	snprintf(sd.status, sizeof(sd.status), "%s", status);
	snprintf(msg, sizeof(msg), "READY=1\nSTATUS=%s", sd.status);
	notify(msg);
}

/* MONOTONIC_USEC lets a Type=notify-reload manager (systemd >= 253) match it. */
void systemd_reloading(const char *status)
{
	char msg[384];

	snprintf(sd.status, sizeof(sd.status), "%s", status);
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%" PRIu64 "\nSTATUS=%s",
		 now_ns() / 1000, sd.status);
	notify(msg);
}

void systemd_status(const char *status)
{
	char msg[320];

	if (!strncmp(sd.status, status, sizeof(sd.status) - 1))
		return;
	snprintf(sd.status, sizeof(sd.status), "%s", status);
	snprintf(msg, sizeof(msg), "STATUS=%s", sd.status);
	notify(msg);
}

void systemd_stopping(void)
{
	notify("STOPPING=1\nSTATUS=stopping");
}

/* Half the timeout, as sd_watchdog_enabled(3) advises: one late loop pass is no death. */
static uint64_t watchdog_period_ns(void)
{
	uint64_t usec = 0;

	if (!sd.watchdog_read) {
		sd.watchdog_read = true;
		/* sd_watchdog_enabled(0, &usec): WATCHDOG_USEC, for us if WATCHDOG_PID says so */
		if (parse_u64(getenv("WATCHDOG_USEC"), &usec) == 0 && usec && for_us("WATCHDOG_PID")) {
			sd.watchdog_ns = usec * 1000 / 2;
			log_info("systemd: watchdog every %" PRIu64 " ms", sd.watchdog_ns / 1000000);
		}
	}
	return sd.watchdog_ns;
}

int systemd_watchdog_timeout_ms(uint64_t now)
{
	uint64_t period = watchdog_period_ns(), due;

	if (!period)
		return -1;
	due = sd.last_ping_ns + period;
	return due > now ? (int)((due - now + 999999) / 1000000) : 0;
}

void systemd_watchdog(uint64_t now)
{
	uint64_t period = watchdog_period_ns();

	if (!period || now - sd.last_ping_ns < period)
		return;
	sd.last_ping_ns = now;
	notify("WATCHDOG=1");
}
