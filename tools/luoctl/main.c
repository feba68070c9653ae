// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * luoctl — inspect and drive luod: status, sessions, global events, the
 * live update, and the commands that put unmodified programs under luo.
 * This file owns the command table, the options every command shares and
 * the small helpers for talking to luod and printing; each command group
 * lives in its own file (luoctl.h lists them).
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "luoctl.h"

struct luoctl_opts opt = { .timeout_s = LUOCTL_TIMEOUT_DEFAULT };
struct luo_reply reply;

static const struct luoctl_command commands[] = {
	{ "status", cmd_status, "", "global state, generation, counts", NULL },
	{ "sessions", cmd_sessions, "", "list sessions", NULL },
	{ "show", cmd_show, "NAME", "one session and its files", NULL },
	{ "drop", cmd_drop, "NAME", "release a session luod holds on its own, and its files",
	  NULL },
	{ "prepare", cmd_event, "", "send the global PREPARE event", NULL },
	{ "freeze", cmd_event, "", "send the global FREEZE event", NULL },
	{ "cancel", cmd_event, "", "send the global CANCEL event", NULL },
	{ "finish", cmd_event, "", "send the global FINISH event", NULL },
	{ "update", cmd_update,
	  "[--exec PATH | --session NAME | --kernel BZIMAGE [--initrd FILE] [--append ARGS]]",
	  "live update: luod hands everything to its successor",
	  "  -e, --exec PATH        exec PATH instead of luod's own binary\n"
	  "  -S, --session NAME     update one session only: luod freezes it, takes it from\n"
	  "                         its process and holds it for its successor; luod itself\n"
	  "                         does not restart\n"
	  "  -k, --kernel BZIMAGE   kernel backend: load BZIMAGE (kexec_file_load) and\n"
	  "                         reboot into it; the kernel carries the sessions\n"
	  "  -i, --initrd FILE      the next kernel's initramfs\n"
	  "  -a, --append ARGS      the next kernel's command line (default: this one's)\n" },
	{ "exec", cmd_exec,
	  "--session NAME [--create] [--listen SPEC]... [--take-over] [--stop-signal SIG] "
	  "[--protocol P] -- CMD [ARGS]",
	  "run CMD on the session's fds (LISTEN_FDS), which outlive it",
	  "  -S, --session NAME     the session holding the fds between runs\n"
	  "  -c, --create           first start: bind the --listen sockets, create the session\n"
	  "  -l, --listen SPEC      tcp:HOST:PORT, tcp6:[HOST]:PORT or unix:/path; repeatable,\n"
	  "                         fds 3, 4, ... in this order; used when the session is created\n"
	  "      --take-over        when a process holds the session (a running CMD), hand it on\n"
	  "                         to this one first: a successor starts before its predecessor\n"
	  "                         stops\n"
	  "      --stop-signal SIG  what luoctl's own SIGTERM becomes for CMD (QUIT, USR1, ...);\n"
	  "                         every other signal is passed on as it is\n"
	  "      --protocol P       systemd (LISTEN_FDS, the default) or nginx (also NGINX=3;4;...)\n" },
	{ "watch", cmd_watch, "[--count N]",
	  "state changes as they happen: luod, sessions, participants, update steps",
	  "  -n, --count N          stop after N events (the first snapshot not counted)\n" },
	{ "history", cmd_history, "", "past live updates and the live-update counter", NULL },
	{ "dump", cmd_dump, "[--dts] [--output FILE]",
	  "the handover FDT of the current state",
	  "  -d, --dts              decompiled by dtc(1) (device-tree-compiler)\n"
	  "  -o, --output FILE      write it to FILE instead of stdout\n" },
	{ "preserve", cmd_preserve,
	  "--session NAME --pid PID SELECTOR... --token T [--create]",
	  "take fds out of a running process and preserve them",
	  "  -S, --session NAME     the session; luod holds it afterwards (per-session freeze)\n"
	  "  -c, --create           create the session when luod holds none of that name\n"
	  "  -p, --pid PID          the process (pidfd_getfd: the kernel's ptrace check applies)\n"
	  "  -t, --token T          the first token; further fds get T+1, T+2, ...\n"
	  "Selectors (repeatable, each must match; all fds or none are preserved):\n"
	  "  -f, --fd N             its file descriptor N\n"
	  "  -m, --memfd NAME       its memfds of that name (QEMU: memory-backend-memfd)\n"
	  "  -P, --path PATH        its fds open on PATH\n"
	  "  -a, --address SPEC     its sockets bound to tcp:HOST:PORT, tcp6:[HOST]:PORT or\n"
	  "                         unix:/path (HOST empty or * for any)\n" },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

const char *state_name(uint32_t state)
{
	static const char *const names[] = { "normal", "prepared", "frozen", "updated" };

	return state < 4 ? names[state] : "unknown";
}

int fail(const char *what, int r)
{
	if (r == -EUSERS)
		fprintf(stderr, "luoctl: %s: luod refused the connection: this uid has too many "
				"(luod --max-connections-per-uid)\n", what);
	else
		fprintf(stderr, "luoctl: %s: %s\n", what, strerror(-r));
	return 1;
}

/*
 * --timeout: one interval timer for the whole command. luoctl blocks in
 * connect(), send and receive on luod's sockets; when luod cannot answer
 * (its fd table full, stopped, stuck), the timer ends luoctl with a clear
 * message instead of a hang. The message is built when the timer is set:
 * the handler only writes it.
 */
static char timeout_msg[256];
static size_t timeout_msg_len;

static void timeout_expired(int sig)
{
	(void)sig;
	if (write(STDERR_FILENO, timeout_msg, timeout_msg_len) < 0) {
		/* nothing more to tell */
	}
	_exit(LUOCTL_EXIT_TIMEOUT);
}

static void timer_set(double seconds)
{
	struct itimerval it = { 0 };

	it.it_value.tv_sec = (time_t)seconds;
	it.it_value.tv_usec = (suseconds_t)((seconds - (double)(time_t)seconds) * 1e6);
	if (seconds > 0 && !it.it_value.tv_sec && !it.it_value.tv_usec)
		it.it_value.tv_usec = 1;
	setitimer(ITIMER_REAL, &it, NULL);
}

static void timeout_start(const char *what)
{
	struct sigaction sa = { .sa_handler = timeout_expired };

	snprintf(timeout_msg, sizeof(timeout_msg),
		 "luoctl: %s: no answer from luod within %g s (--timeout); giving up\n", what,
		 opt.timeout_s);
	timeout_msg_len = strlen(timeout_msg);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	timer_set(opt.timeout_s);
}

void timeout_pause(void)
{
	timer_set(0);
}

void timeout_resume(void)
{
	timer_set(opt.timeout_s);
}

/* SECONDS: a number >= 0, 0 for no limit. */
static int parse_timeout(const char *arg)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(arg, &end);
	if (errno || end == arg || *end || !isfinite(v) || v < 0 || v > LUOCTL_TIMEOUT_MAX)
		return -EINVAL;
	opt.timeout_s = v;
	return 0;
}

int connect_luod(void)
{
	int fd = luo_open(opt.socket);

	if (fd < 0)
		fprintf(stderr, "luoctl: cannot reach luod at %s: %s\n",
			opt.socket ? opt.socket : "the default socket", strerror(-fd));
	return fd;
}

/* JSON string: names are plain bytes up to 63, escape what JSON needs. */
void json_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(out, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(out, "\\u%04x", ch);
		else
			fputc(ch, out);
	}
	fputc('"', out);
}

int call(int dev, uint16_t op, const void *body, size_t len, const char *what)
{
	int r = luo_call_full(dev, op, body, len, NULL, 0, &reply);

	if (r < 0)
		return fail(what, r);
	luo_reply_close_fds(&reply);
	return 0;
}

double ms(uint64_t ns)
{
	return (double)ns / 1e6;
}

bool progress_wanted(void)
{
	return isatty(STDERR_FILENO) == 1;
}

#define COMMON_HELP                                                                             \
	"  -s, --socket PATH      luod's socket (default: $LUO_SOCKET, else the default path)\n" \
	"  -j, --json             machine-readable output\n"                                   \
	"  -T, --timeout SECONDS  give up when luod has not answered within SECONDS\n"           \
	"                         (default 60, 0: wait for ever); exit status 124\n"           \
	"  -h, --help             this help\n"

void command_usage(const struct luoctl_command *cmd, FILE *out)
{
	fprintf(out, "Usage: luoctl [--socket PATH] [--json] [--timeout SECONDS] %s%s%s\n\n%s.\n\n", cmd->name,
		*cmd->args ? " " : "", cmd->args, cmd->summary);
	fprintf(out, "Options:\n%s", cmd->help ? cmd->help : "");
	fputs(COMMON_HELP, out);
}

int usage_error(const struct luoctl_command *cmd, const char *msg)
{
	if (msg)
		fprintf(stderr, "luoctl: %s: %s\n", cmd->name, msg);
	command_usage(cmd, stderr);
	return 2;
}

bool common_opt(const struct luoctl_command *cmd, int c, int *status)
{
	switch (c) {
	case 's':
		opt.socket = optarg;
		return false;
	case 'j':
		opt.json = true;
		return false;
	case 'T':
		if (parse_timeout(optarg) < 0) {
			*status = usage_error(cmd, "bad --timeout (seconds, 0 for none)");
			return true;
		}
		timeout_start(cmd->name);
		return false;
	case 'h':
		command_usage(cmd, stdout);
		*status = 0;
		return true;
	case '?':
	case ':':
		command_usage(cmd, stderr);
		*status = 2;
		return true;
	}
	return false;
}

int parse_common(const struct luoctl_command *cmd, int argc, char **argv, int min_args,
		 int max_args)
{
	static const struct option opts[] = { LUOCTL_COMMON_OPTS, { 0 } };
	int c, status;

	while ((c = getopt_long(argc, argv, LUOCTL_COMMON_SHORT, opts, NULL)) != -1)
		if (common_opt(cmd, c, &status))
			return status;
	if (argc - optind < min_args || argc - optind > max_args)
		return usage_error(cmd, NULL);
	return -1;
}

int parse_and_connect(const struct luoctl_command *cmd, int argc, char **argv, int *dev)
{
	int r = parse_common(cmd, argc, argv, 0, 0);

	if (r >= 0)
		return r;
	*dev = connect_luod();
	return *dev < 0 ? 1 : -1;
}

static void usage(FILE *out)
{
	fprintf(out, "Usage: luoctl [--socket PATH] [--json] [--timeout SECONDS] COMMAND [ARGS]\n\n"
		     "Commands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++) {
		char syn[128];

		snprintf(syn, sizeof(syn), "%s%s%s", commands[i].name, *commands[i].args ? " " : "",
			 commands[i].args);
		if (strlen(syn) > 22)
			fprintf(out, "  %s\n  %-22s %s\n", syn, "", commands[i].summary);
		else
			fprintf(out, "  %-22s %s\n", syn, commands[i].summary);
	}
	fprintf(out, "\n`luoctl COMMAND --help` describes a command's own options.\n\n"
		     "Options:\n" COMMON_HELP);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = { LUOCTL_COMMON_OPTS, { 0 } };
	const struct luoctl_command *cmd = NULL;
	int c;

	/* "+": stop at the command; what follows is the command's to parse */
	while ((c = getopt_long(argc, argv, "+" LUOCTL_COMMON_SHORT, opts, NULL)) != -1) {
		switch (c) {
		case 's':
			opt.socket = optarg;
			break;
		case 'j':
			opt.json = true;
			break;
		case 'T':
			if (parse_timeout(optarg) < 0) {
				fprintf(stderr, "luoctl: bad --timeout (seconds, 0 for none)\n");
				usage(stderr);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (!strcmp(argv[optind], commands[i].name))
			cmd = &commands[i];
	if (!cmd) {
		fprintf(stderr, "luoctl: unknown command: %s\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	/*
	 * glibc keeps the first scan's "+" until getopt is reinitialized with
	 * optind = 0; each command restarts it on its own arguments.
	 */
	argc -= optind;
	argv += optind;
	optind = 0;
	timeout_start(cmd->name);
	return cmd->run(cmd, argc, argv);
}
