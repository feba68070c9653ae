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
 * libsystemd is opened with dlopen() the first time the environment names
 * a manager ($NOTIFY_SOCKET, $LISTEN_FDS, $WATCHDOG_USEC), the way systemd's
 * own tools load optional libraries. Without systemd every call here is a
 * no-op anyway, and linking it would map seven libraries (libsystemd,
 * libcap, libgcrypt, libgpg-error, liblzma, libzstd, liblz4) into every
 * luod start: about 0.8 ms of the successor's execve, inside an update's
 * blackout. Under systemd the dlopen() itself (about 0.5 ms) is still
 * paid, but not while clients wait: luod's first READY=1 is owed
 * (systemd_ready_later()) until the server loop has had nothing to do for
 * a moment, and only then is the library loaded and READY=1 sent. Until
 * then nothing else is sent either, so that the manager still sees
 * READY=1 first: a STATUS= change only updates the line READY=1 will
 * carry, the watchdog pings start after it, and RELOADING=1 or STOPPING=1
 * sends it first.
 */
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "base/base.h"

static struct {
	bool ready_owed; /* READY=1 is due, with status */
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

static struct {
	bool tried;
	void *handle;
	__typeof__(sd_notify) *notify;
	__typeof__(sd_listen_fds_with_names) *listen_fds_with_names;
	__typeof__(sd_is_socket_unix) *is_socket_unix;
	__typeof__(sd_watchdog_enabled) *watchdog_enabled;
} lib;

/* libsystemd's entry points, loaded once; false (logged once) if it cannot be. */
static bool libsystemd(void)
{
	static const char soname[] = "libsystemd.so.0";

	if (lib.tried)
		return lib.handle;
	lib.tried = true;
	lib.handle = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
	if (!lib.handle) {
		log_err("systemd: %s", dlerror());
		return false;
	}
	lib.notify = (__typeof__(lib.notify))dlsym(lib.handle, "sd_notify");
	lib.listen_fds_with_names =
		(__typeof__(lib.listen_fds_with_names))dlsym(lib.handle, "sd_listen_fds_with_names");
	lib.is_socket_unix = (__typeof__(lib.is_socket_unix))dlsym(lib.handle, "sd_is_socket_unix");
	lib.watchdog_enabled = (__typeof__(lib.watchdog_enabled))dlsym(lib.handle, "sd_watchdog_enabled");
	if (!lib.notify || !lib.listen_fds_with_names || !lib.is_socket_unix ||
	    !lib.watchdog_enabled) {
		log_err("systemd: %s lacks the sd-daemon(3) calls", soname);
		dlclose(lib.handle);
		lib.handle = NULL;
	}
	return lib.handle;
}

/* A manager is named in the environment: what libsystemd would look at. */
static bool env_set(const char *name)
{
	const char *v = getenv(name);

	return v && *v;
}

static void notify(const char *msg)
{
	int r;

	if (!env_set("NOTIFY_SOCKET"))
		return; /* sd_notify() sends nothing either */
	r = libsystemd() ? lib.notify(0, msg) : -ELIBACC;

	if (r < 0 && !sd.warned) {
		sd.warned = true;
		log_warn("systemd: sd_notify: %s; further failures are not logged", strerror(-r));
	}
}

static int read_passed_fds(void)
{
	char **names = NULL;
	int n;

	if (sd.fds_read)
		return 0;
	sd.fds_read = true;
	if (!env_set("LISTEN_FDS")) {
		/* what sd_listen_fds_with_names(1) does then: nothing passed, none kept */
		unsetenv("LISTEN_PID");
		unsetenv("LISTEN_FDS");
		unsetenv("LISTEN_FDNAMES");
		return 0;
	}
	n = libsystemd() ? lib.listen_fds_with_names(1, &names) : -ELIBACC;
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
		sd.fds[i] = SD_LISTEN_FDS_START + i;
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
			    lib.is_socket_unix(sd.fds[i], SOCK_SEQPACKET, 1, NULL, 0) > 0)
				break;
		}
	if (i == sd.nfds)
		return -ENOENT;
	r = lib.is_socket_unix(sd.fds[i], SOCK_SEQPACKET, 1, NULL, 0);
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

static void send_ready(void)
{
	char msg[320];

	sd.ready_owed = false;
	snprintf(msg, sizeof(msg), "READY=1\nSTATUS=%s", sd.status);
	notify(msg);
}

/* What comes after READY=1 waits for it. */
static void send_owed(void)
{
	if (sd.ready_owed)
		send_ready();
}

void systemd_ready(const char *status)
{
	snprintf(sd.status, sizeof(sd.status), "%s", status);
	send_ready();
}

void systemd_ready_later(const char *status)
{
	snprintf(sd.status, sizeof(sd.status), "%s", status);
	if (env_set("NOTIFY_SOCKET") && !lib.tried)
		sd.ready_owed = true;
	else
		send_ready(); /* costs nothing now (or sends nothing) */
}

bool systemd_ready_owed(void)
{
	return sd.ready_owed;
}

void systemd_ready_now(void)
{
	send_owed();
}

/* MONOTONIC_USEC lets a Type=notify-reload manager (systemd >= 253) match it. */
void systemd_reloading(const char *status)
{
	char msg[384];

	send_owed();
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
	if (sd.ready_owed)
		return; /* the owed READY=1 will carry it */
	snprintf(msg, sizeof(msg), "STATUS=%s", sd.status);
	notify(msg);
}

void systemd_stopping(void)
{
	send_owed();
	notify("STOPPING=1\nSTATUS=stopping");
}

/* Half the timeout, as sd_watchdog_enabled(3) advises: one late loop pass is no death. */
static uint64_t watchdog_period_ns(void)
{
	uint64_t usec = 0;

	if (sd.ready_owed)
		return 0; /* the pings start after READY=1 */
	if (!sd.watchdog_read) {
		sd.watchdog_read = true;
		if (env_set("WATCHDOG_USEC") && libsystemd() &&
		    lib.watchdog_enabled(0, &usec) > 0 && usec) {
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
