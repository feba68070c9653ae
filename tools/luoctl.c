// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * luoctl — inspect and drive luod: status, sessions, global events and the
 * live update. Tables for people, --json for scripts. Exit status: 0 on
 * success, 1 when luod refused (its errno is printed), 2 for usage errors.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "luo/luo.h"
#include "protocol.h"
#include "rpc.h"

static struct {
	const char *socket;
	bool json;
} opt;

static struct luo_reply reply;

static const char *state_name(uint32_t state)
{
	static const char *const names[] = { "normal", "prepared", "frozen", "updated" };

	return state < 4 ? names[state] : "unknown";
}

static int fail(const char *what, int r)
{
	fprintf(stderr, "luoctl: %s: %s\n", what, strerror(-r));
	return 1;
}

static int connect_luod(void)
{
	int fd = luo_open(opt.socket);

	if (fd < 0)
		fprintf(stderr, "luoctl: cannot reach luod at %s: %s\n",
			opt.socket ? opt.socket : "the default socket", strerror(-fd));
	return fd;
}

/* JSON string: names are plain bytes up to 63, escape what JSON needs. */
static void json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20)
			printf("\\u%04x", ch);
		else
			putchar(ch);
	}
	putchar('"');
}

static int call(int dev, uint16_t op, const void *body, size_t len, const char *what)
{
	int r = luo_rpc(dev, op, body, len, NULL, 0, &reply);

	if (r < 0)
		return fail(what, r);
	luo_reply_close_fds(&reply);
	return 0;
}

static int cmd_status(int dev)
{
	struct luo_msg_status st = { 0 };

	if (call(dev, LUO_OP_STATUS, NULL, 0, "status"))
		return 1;
	memcpy(&st, reply.body, reply.body_len < sizeof(st) ? reply.body_len : sizeof(st));
	if (opt.json) {
		printf("{\"state\": \"%s\", \"generation\": %" PRIu64 ", \"sessions\": %u, "
		       "\"incoming_sessions\": %u, \"files\": %" PRIu64 ", \"updates\": %" PRIu64
		       ", \"participants\": %u, \"memfd_bytes\": %" PRIu64
		       ", \"pid\": %u, \"uptime_ms\": %" PRIu64 "}\n",
		       state_name(st.state), st.generation, st.sessions, st.incoming_sessions, st.files,
		       st.updates, st.participants, st.memfd_bytes, st.pid, st.uptime_ns / 1000000);
		return 0;
	}
	printf("state:       %s\n", state_name(st.state));
	printf("generation:  %" PRIu64 "\n", st.generation);
	printf("sessions:    %u (%u incoming)\n", st.sessions, st.incoming_sessions);
	printf("files:       %" PRIu64 "\n", st.files);
	printf("memfds:      %" PRIu64 " bytes preserved\n", st.memfd_bytes);
	printf("participants: %u\n", st.participants);
	printf("updates:     %" PRIu64 "\n", st.updates);
	printf("luod pid:    %u, up %.1f s\n", st.pid, (double)st.uptime_ns / 1e9);
	return 0;
}

/* Leaves the object open, for `show` to add the files. */
static void print_session_json_fields(const struct luo_msg_session_info *si)
{
	printf("{\"name\": ");
	json_string(si->name);
	printf(", \"state\": \"%s\", \"incoming\": %s, \"retrieved\": %s, \"attached\": %s, "
	       "\"uid\": %u, \"files\": %u",
	       state_name(si->state), si->incoming ? "true" : "false",
	       si->retrieved ? "true" : "false", si->attached ? "true" : "false", si->uid, si->files);
}

static void print_session_json(const struct luo_msg_session_info *si)
{
	print_session_json_fields(si);
	printf("}");
}

static int cmd_sessions(int dev)
{
	struct luo_msg_list req = { 0 };
	bool first = true;

	if (opt.json)
		printf("[");
	else
		printf("%-32s %-9s %-9s %-9s %6s %7s\n", "NAME", "STATE", "SIDE", "HELD", "UID", "FILES");
	for (;;) {
		struct luo_msg_list_reply rep;
		const struct luo_msg_session_info *e;

		if (call(dev, LUO_OP_LIST_SESSIONS, &req, sizeof(req), "sessions"))
			return 1;
		if (reply.body_len < sizeof(rep))
			return fail("sessions", -EPROTO);
		memcpy(&rep, reply.body, sizeof(rep));
		if (reply.body_len < sizeof(rep) + rep.count * sizeof(*e))
			return fail("sessions", -EPROTO);
		e = (const void *)(reply.body + sizeof(rep));
		for (uint32_t i = 0; i < rep.count; i++) {
			struct luo_msg_session_info si;

			memcpy(&si, &e[i], sizeof(si));
			si.name[LUO_NAME_MAX - 1] = '\0';
			if (opt.json) {
				printf("%s", first ? "" : ", ");
				print_session_json(&si);
			} else {
				printf("%-32s %-9s %-9s %-9s %6u %7u\n", si.name, state_name(si.state),
				       si.incoming ? "incoming" : "outgoing",
				       si.attached ? "yes" : (si.retrieved ? "no" : "waiting"), si.uid,
				       si.files);
			}
			first = false;
		}
		req.cursor += rep.count;
		if (rep.count == 0 || req.cursor >= rep.total)
			break;
	}
	if (opt.json)
		printf("]\n");
	return 0;
}

static int cmd_show(int dev, const char *name)
{
	struct luo_msg_show req = { 0 };
	bool first = true;

	if (luo_name_validate(name, strlen(name) + 1) < 0) {
		fprintf(stderr, "luoctl: show: bad session name\n");
		return 2;
	}
	strcpy(req.name, name);
	for (;;) {
		struct luo_msg_show_reply rep;
		const struct luo_msg_file_info *e;

		if (call(dev, LUO_OP_SHOW_SESSION, &req, sizeof(req), name))
			return 1;
		if (reply.body_len < sizeof(rep))
			return fail(name, -EPROTO);
		memcpy(&rep, reply.body, sizeof(rep));
		if (reply.body_len < sizeof(rep) + rep.count * sizeof(*e))
			return fail(name, -EPROTO);
		rep.session.name[LUO_NAME_MAX - 1] = '\0';
		e = (const void *)(reply.body + sizeof(rep));
		if (req.cursor == 0) {
			if (opt.json) {
				print_session_json_fields(&rep.session);
				printf(", \"file_list\": [");
			} else {
				printf("session:  %s\nstate:    %s (%s)\nuid:      %u\nfiles:    %u\n\n",
				       rep.session.name, state_name(rep.session.state),
				       rep.session.incoming ? "incoming" : "outgoing", rep.session.uid,
				       rep.session.files);
				printf("%-20s %-8s %14s %-7s %s\n", "TOKEN", "HANDLER", "SIZE", "FROZEN",
				       "RETRIEVED");
			}
		}
		for (uint32_t i = 0; i < rep.count; i++) {
			struct luo_msg_file_info fi;

			memcpy(&fi, &e[i], sizeof(fi));
			fi.handler[LUO_HANDLER_NAME_MAX - 1] = '\0';
			if (opt.json) {
				printf("%s{\"token\": %" PRIu64 ", \"handler\": \"%s\", \"size\": %" PRIu64
				       ", \"frozen\": %s, \"retrieved\": %s, \"retrieve_error\": %d}",
				       first ? "" : ", ", fi.token, fi.handler, fi.size,
				       fi.frozen ? "true" : "false", fi.retrieved ? "true" : "false",
				       fi.retrieve_error);
			} else {
				printf("%-20" PRIu64 " %-8s %14" PRIu64 " %-7s %s\n", fi.token, fi.handler,
				       fi.size, fi.frozen ? "yes" : "no",
				       fi.retrieve_error ? strerror(-fi.retrieve_error)
							 : (fi.retrieved ? "yes" : "no"));
			}
			first = false;
		}
		req.cursor += rep.count;
		if (rep.count == 0 || req.cursor >= rep.total)
			break;
	}
	if (opt.json)
		printf("]}\n");
	return 0;
}

static int cmd_event(int dev, enum luo_event event, const char *what)
{
	enum luo_state state;
	int r = luo_set_event(dev, event);

	if (r < 0)
		return fail(what, r);
	r = luo_get_state(dev, &state);
	if (r < 0)
		return fail("state", r);
	if (opt.json)
		printf("{\"event\": \"%s\", \"state\": \"%s\"}\n", what, state_name(state));
	else
		printf("%s: ok, state %s\n", what, state_name(state));
	return 0;
}

static double ms(uint64_t ns)
{
	return (double)ns / 1e6;
}

static int cmd_update(int dev, const char *exec_path)
{
	static struct luo_msg_update req;
	struct luo_msg_update_reply rep = { 0 };
	int r;

	memset(&req, 0, sizeof(req));
	if (exec_path) {
		char *abs = realpath(exec_path, NULL);

		if (!abs) {
			fprintf(stderr, "luoctl: update: %s: %s\n", exec_path, strerror(errno));
			return 1;
		}
		if (strlen(abs) >= sizeof(req.exec_path)) {
			free(abs);
			return fail("update", -ENAMETOOLONG);
		}
		strcpy(req.exec_path, abs);
		free(abs);
		req.flags |= LUO_UPDATE_EXEC;
	}
	if (!opt.json)
		fprintf(stderr, "luoctl: update: prepare, freeze, handover, exec...\n");
	r = luo_rpc(dev, LUO_OP_UPDATE, &req, sizeof(req), NULL, 0, &reply);
	if (r == -ECONNRESET) {
		fprintf(stderr, "luoctl: update: luod closed the connection without an answer; "
				"the successor refused the handover or died (see luod's log)\n");
		return 1;
	}
	if (r < 0)
		return fail("update", r);
	luo_reply_close_fds(&reply);
	memcpy(&rep, reply.body, reply.body_len < sizeof(rep) ? reply.body_len : sizeof(rep));
	if (opt.json) {
		printf("{\"generation\": %" PRIu64 ", \"pid\": %u, \"sessions\": %u, \"files\": %" PRIu64
		       ", \"prepare_ms\": %.3f, \"freeze_ms\": %.3f, \"fdt_write_ms\": %.3f, "
		       "\"exec_ms\": %.3f, \"fdt_parse_ms\": %.3f, \"blackout_ms\": %.3f, "
		       "\"fdt_bytes\": %" PRIu64 "}\n",
		       rep.generation, rep.successor_pid, rep.sessions, rep.files, ms(rep.prepare_ns),
		       ms(rep.freeze_ns), ms(rep.fdt_write_ns), ms(rep.exec_ns), ms(rep.fdt_parse_ns),
		       ms(rep.blackout_ns), rep.fdt_bytes);
		return 0;
	}
	printf("updated: generation %" PRIu64 ", luod pid %u, %u sessions, %" PRIu64 " files\n",
	       rep.generation, rep.successor_pid, rep.sessions, rep.files);
	printf("  prepare %.3f ms, freeze %.3f ms, fdt write %.3f ms (%" PRIu64 " bytes), "
	       "exec %.3f ms, fdt parse %.3f ms\n  blackout %.3f ms\n",
	       ms(rep.prepare_ns), ms(rep.freeze_ns), ms(rep.fdt_write_ns), rep.fdt_bytes,
	       ms(rep.exec_ns), ms(rep.fdt_parse_ns), ms(rep.blackout_ns));
	return 0;
}

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: luoctl [--socket PATH] [--json] COMMAND [ARGS]\n\n"
		"Commands:\n"
		"  status                 global state, generation, counts\n"
		"  sessions               list sessions\n"
		"  show NAME              one session and its files\n"
		"  prepare|freeze|cancel|finish\n"
		"                         send a global event\n"
		"  update [--exec PATH]   live update: luod hands everything to its successor\n"
		"                         (its own binary, or PATH) and returns when it serves\n\n"
		"Options:\n"
		"  -s, --socket PATH      luod's socket (default: $LUO_SOCKET, else the default path)\n"
		"  -j, --json             machine-readable output\n"
		"  -h, --help             this help\n");
}

static bool known_command(const char *cmd)
{
	static const char *const cmds[] = { "status", "sessions", "show", "prepare", "freeze",
					    "cancel", "finish", "update" };

	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(cmd, cmds[i]))
			return true;
	return false;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "exec", required_argument, NULL, 'e' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *exec_path = NULL, *cmd;
	int c, dev, r;

	while ((c = getopt_long(argc, argv, "+s:jh", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			opt.socket = optarg;
			break;
		case 'j':
			opt.json = true;
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
	cmd = argv[optind];
	/*
	 * Options may also follow the command, before or after its argument
	 * ("show NAME --json"). glibc keeps the first scan's "+" (stop at the
	 * first non-option) until it is reinitialized with optind = 0, so
	 * restart getopt on the arguments after the command, permuting.
	 */
	argv[optind] = argv[0]; /* getopt's messages name argv[0] */
	argc -= optind;
	argv += optind;
	optind = 0;
	while ((c = getopt_long(argc, argv, "s:je:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			opt.socket = optarg;
			break;
		case 'j':
			opt.json = true;
			break;
		case 'e':
			if (strcmp(cmd, "update")) {
				fprintf(stderr, "luoctl: --exec belongs to update\n");
				return 2;
			}
			exec_path = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if ((!strcmp(cmd, "show") && optind != argc - 1) || (strcmp(cmd, "show") && optind != argc)) {
		usage(stderr);
		return 2;
	}
	if (!known_command(cmd)) {
		fprintf(stderr, "luoctl: unknown command: %s\n", cmd);
		usage(stderr);
		return 2;
	}

	dev = connect_luod();
	if (dev < 0)
		return 1;
	if (!strcmp(cmd, "status"))
		r = cmd_status(dev);
	else if (!strcmp(cmd, "sessions"))
		r = cmd_sessions(dev);
	else if (!strcmp(cmd, "show"))
		r = cmd_show(dev, argv[optind]);
	else if (!strcmp(cmd, "prepare"))
		r = cmd_event(dev, LUO_EVENT_PREPARE, "prepare");
	else if (!strcmp(cmd, "freeze"))
		r = cmd_event(dev, LUO_EVENT_FREEZE, "freeze");
	else if (!strcmp(cmd, "cancel"))
		r = cmd_event(dev, LUO_EVENT_CANCEL, "cancel");
	else if (!strcmp(cmd, "finish"))
		r = cmd_event(dev, LUO_EVENT_FINISH, "finish");
	else
		r = cmd_update(dev, exec_path);
	close(dev);
	return r;
}
