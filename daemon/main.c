// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * luod — the live update orchestrator daemon: options, start-up (fresh or
 * from a predecessor's handover), then the server loop.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/luod.h"
#include "backend/backend.h"
#include "base/fault.h"
#include "crash/keeper.h"
#include "report/report.h"
#include "report/update_report.h"
#include "server/limit.h"
#include "paths.h"

#ifndef LUO_VERSION
#define LUO_VERSION "0"
#endif

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: luod [OPTIONS]\n"
		"Hold sessions of preserved file descriptors across process restarts and\n"
		"live updates of luod itself.\n\n"
		"  -s, --socket PATH     listen on PATH (default: $LUO_SOCKET, /run/luo/luod.sock\n"
		"                        as root, $XDG_RUNTIME_DIR/luo/luod.sock otherwise)\n"
		"  -d, --state-dir DIR   state file and update history (default: /var/lib/luo\n"
		"                        as root, $XDG_STATE_HOME/luo otherwise)\n"
		"      --socket-mode MODE\n"
		"                        octal permissions of the socket (default 0660)\n"
		"      --socket-group GROUP\n"
		"                        group of the socket, a name or a number (default:\n"
		"                        luod's own)\n"
		"      --max-sessions-per-uid N\n"
		"                        sessions one uid may hold (default 4096; EDQUOT)\n"
		"      --max-files-per-session N\n"
		"                        files one session may hold (default 65536; EMFILE)\n"
		"      --max-fds N       preserved fds in all (default: RLIMIT_NOFILE, raised\n"
		"                        to its hard limit, less a quarter for luod; ENOSPC)\n"
		"      --max-connections-per-uid N\n"
		"                        connections one uid may have open; root and luod's\n"
		"                        uid are not limited (default 256; EUSERS)\n"
		"      --max-message-size BYTES\n"
		"                        largest request luod reads (default and maximum\n"
		"                        65808; EMSGSIZE)\n"
		"  -t, --participant-timeout MS\n"
		"                        how long a participant may take to answer an event\n"
		"                        (default 5000)\n"
		"      --backend auto|userspace|kernel\n"
		"                        where sessions live: luod itself, or the kernel's LUO\n"
		"                        through /dev/liveupdate (auto: the kernel's when that\n"
		"                        is a character device; the default)\n"
		"  -v, --verbose         log debug messages\n"
		"  -q, --quiet           log warnings and errors only\n"
		"  -h, --help            show this help\n"
		"      --version         show the version\n"
		"Under systemd: READY/STATUS/RELOADING and WATCHDOG through $NOTIFY_SOCKET,\n"
		"and an activated SOCK_SEQPACKET socket (LISTEN_FDS) instead of --socket;\n"
		"see luod(8).\n"
		"Internal, set by a live update: --handover-fd=FD, --handover-exec-ns=NS\n");
}

static bool is_handover_arg(const char *a)
{
	return !strncmp(a, "--handover-fd", 13) || !strncmp(a, "--handover-exec-ns", 18);
}

/* argv for the successor: ours without the previous handover's options. */
static char **argv_for_successor(int argc, char **argv)
{
	char **out = calloc((size_t)argc + 1, sizeof(*out));
	int n = 0;

	if (!out)
		return NULL;
	for (int i = 0; i < argc; i++) {
		if (i > 0 && is_handover_arg(argv[i])) {
			if (!strchr(argv[i], '=') && i + 1 < argc)
				i++;
			continue;
		}
		out[n++] = argv[i];
	}
	return out;
}

/* A group name, else a number. */
static int parse_group(const char *s, gid_t *ret)
{
	struct group *gr = getgrnam(s);
	char *end;
	unsigned long v;

	if (gr) {
		*ret = gr->gr_gid;
		return 0;
	}
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v >= (gid_t)-1)
		return -EINVAL;
	*ret = (gid_t)v;
	return 0;
}

static int parse_int(const char *s, long long min, long long max, long long *ret)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

/* long options without a short form */
enum {
	OPT_SOCKET_MODE = 0x100,
	OPT_SOCKET_GROUP,
	OPT_MAX_SESSIONS,
	OPT_MAX_FILES,
	OPT_MAX_FDS,
	OPT_MAX_MESSAGE,
	OPT_MAX_CONNS,
	OPT_BACKEND,
};

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "state-dir", required_argument, NULL, 'd' },
		{ "participant-timeout", required_argument, NULL, 't' },
		{ "socket-mode", required_argument, NULL, OPT_SOCKET_MODE },
		{ "socket-group", required_argument, NULL, OPT_SOCKET_GROUP },
		{ "max-sessions-per-uid", required_argument, NULL, OPT_MAX_SESSIONS },
		{ "max-files-per-session", required_argument, NULL, OPT_MAX_FILES },
		{ "max-fds", required_argument, NULL, OPT_MAX_FDS },
		{ "max-message-size", required_argument, NULL, OPT_MAX_MESSAGE },
		{ "max-connections-per-uid", required_argument, NULL, OPT_MAX_CONNS },
		{ "backend", required_argument, NULL, OPT_BACKEND },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "handover-fd", required_argument, NULL, 'H' },
		{ "handover-exec-ns", required_argument, NULL, 'E' },
		{ 0 },
	};
	uint64_t main_ns = now_ns();
	struct luod_config cfg = {
		.listen_fd = -1,
		.reply_fd = -1,
		.socket_mode = 0660,
		.socket_gid = (gid_t)-1,
	};
	struct luo_msg_update_reply update = { 0 };
	char socket_path[108], state_dir[4096];
	long long handover_fd = -1, exec_ns = 0, v;
	/*
	 * Lives as long as the process (cfg.argv). Static so that it stays
	 * reachable on the early exits: otherwise LeakSanitizer turns a refused
	 * handover's exit status 1 into an abort (SIGABRT) in sanitizer builds.
	 */
	static char **succ_argv;
	const char *backend = "auto";
	int c, r;

	if (argc > 1 && !strcmp(argv[1], "--keeper"))
		return keeper_main(argc, argv); /* the fd holder luod starts (keeper.c) */
	succ_argv = argv_for_successor(argc, argv);
	if (!succ_argv)
		return 1;
	while ((c = getopt_long(argc, argv, "s:d:t:vqh", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (strlen(optarg) >= sizeof(socket_path)) {
				fprintf(stderr, "luod: socket path too long (max %zu bytes)\n",
					sizeof(socket_path) - 1);
				return 2;
			}
			cfg.socket_path = optarg;
			break;
		case 'd':
			cfg.state_dir = optarg;
			break;
		case 't':
			if (parse_int(optarg, 1, 3600000, &v) < 0) {
				fprintf(stderr, "luod: bad --participant-timeout: %s (1..3600000 ms)\n", optarg);
				return 2;
			}
			participant_timeout_ms = (unsigned)v;
			break;
		case OPT_SOCKET_MODE: {
			char *end;
			unsigned long m;

			errno = 0;
			m = strtoul(optarg, &end, 8);
			if (errno || end == optarg || *end || m > 07777) {
				fprintf(stderr, "luod: bad --socket-mode: %s (octal, 0..7777)\n", optarg);
				return 2;
			}
			cfg.socket_mode = (mode_t)m;
			break;
		}
		case OPT_SOCKET_GROUP:
			if (parse_group(optarg, &cfg.socket_gid) < 0) {
				fprintf(stderr, "luod: bad --socket-group: %s (no such group)\n", optarg);
				return 2;
			}
			break;
		case OPT_MAX_SESSIONS:
		case OPT_MAX_FILES:
		case OPT_MAX_FDS:
		case OPT_MAX_CONNS:
		case OPT_MAX_MESSAGE: {
			const struct option *o = &opts[0];
			long long lo = c == OPT_MAX_MESSAGE ? (long long)LUO_LIMIT_MESSAGE_MIN : 1;
			long long hi = c == OPT_MAX_MESSAGE ? (long long)LUO_LIMIT_MESSAGE_MAX : 1 << 30;

			while (o->val != c)
				o++;
			if (parse_int(optarg, lo, hi, &v) < 0) {
				fprintf(stderr, "luod: bad --%s: %s (%lld..%lld)\n", o->name, optarg, lo, hi);
				return 2;
			}
			*(c == OPT_MAX_SESSIONS ? &luo_limits.sessions_per_uid :
			  c == OPT_MAX_FILES	? &luo_limits.files_per_session :
			  c == OPT_MAX_FDS	? &luo_limits.fds :
			  c == OPT_MAX_CONNS	? &luo_limits.connections_per_uid :
						  &luo_limits.message) = (size_t)v;
			break;
		}
		case OPT_BACKEND:
			if (strcmp(optarg, "auto") && strcmp(optarg, "userspace") &&
			    strcmp(optarg, "kernel")) {
				fprintf(stderr, "luod: bad --backend: %s (auto, userspace, kernel)\n",
					optarg);
				return 2;
			}
			backend = optarg;
			break;
		case 'v':
			log_max_level = LOG_DEBUG;
			break;
		case 'q':
			log_max_level = LOG_WARN;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("luod %s\n", LUO_VERSION);
			return 0;
		case 'H':
		case 'E':
			if (parse_int(optarg, c == 'H' ? 0 : 1, c == 'H' ? INT32_MAX : INT64_MAX, &v) < 0) {
				fprintf(stderr, "luod: bad value for --%s: %s\n",
					c == 'H' ? "handover-fd" : "handover-exec-ns", optarg);
				return 2;
			}
			if (c == 'H')
				handover_fd = v;
			else
				exec_ns = v;
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "luod: unexpected argument: %s\n", argv[optind]);
		return 2;
	}
	if (!cfg.socket_path) {
		r = luo_path_default_socket(socket_path, sizeof(socket_path));
		if (r < 0) {
			fprintf(stderr, "luod: default socket path: %s\n", strerror(-r));
			return 1;
		}
		cfg.socket_path = socket_path;
	}
	if (!cfg.state_dir) {
		r = luo_path_default_state_dir(state_dir, sizeof(state_dir));
		if (r < 0) {
			fprintf(stderr, "luod: no state directory: set --state-dir\n");
			return 1;
		}
		cfg.state_dir = state_dir;
	}
	cfg.argv = succ_argv;
	core_set_started_ns(main_ns);
	core_new_instance();
	handlers_register();
	/* the observers of the core, lowest layer first, before anything is read */
	report_observe();
	crash_observe();
	r = limits_init();
	if (r < 0) {
		log_err("limits: %s", strerror(-r));
		return 1;
	}

	if (handover_fd >= 0) {
		struct luo_handover_luod h;
		size_t bytes = 0;

		luod_test_pause("parse");
		r = luo_handover_read_fd((int)handover_fd, &h, &bytes);
		if (r < 0) {
			log_err("refusing the handover in fd %lld: %s; exiting without touching any inherited fd",
				handover_fd, strerror(-r));
			return 1;
		}
		close((int)handover_fd);
		update_report_phases(&h, (uint64_t)exec_ns, main_ns, bytes, &update);
		cfg.update = &update;
		cfg.freeze_mark_ns = h.marks[LUO_MARK_FREEZE];
		cfg.listen_fd = h.listen_fd;
		cfg.listen_activated = h.listen_activated;
		cfg.reply_fd = h.reply_fd;
		log_info("handover: generation %" PRIu64 ", %zu sessions, %zu files, %zu bytes",
			 core_generation(), core_session_count(), core_file_count(), bytes);
	} else {
		/* socket activation: only a fresh start; an update carries the socket itself */
		r = systemd_listen_fd();
		if (r >= 0) {
			cfg.listen_fd = r;
			cfg.listen_activated = true;
		} else if (r != -ENOENT) {
			return 1;
		}
	}

	cfg.backend = backend_choose(backend);
	/* a fresh start restores what a kexec brought; luod's own update carried it */
	if (cfg.backend->start &&
	    cfg.backend->start(handover_fd < 0, !strcmp(backend, "kernel")) < 0)
		return 1;
	luo_statefile_init(cfg.state_dir);
	r = luod_serve(&cfg);
	if (cfg.backend->stop)
		cfg.backend->stop();
	free(succ_argv);
	return r < 0 ? 1 : 0;
}
