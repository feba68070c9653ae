// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `luoctl sessions` and `luoctl show NAME`: the sessions luod holds and their
 * files; `luoctl drop NAME`: one of them released.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include "hold.h"

/* Leaves the object open, for `show` to add the files. */
static void print_session_json_fields(const struct luo_msg_session_info *si)
{
	printf("{\"name\": ");
	json_string(stdout, si->name);
	printf(", \"state\": \"%s\", \"incoming\": %s, \"retrieved\": %s, \"attached\": %s, "
	       "\"uid\": %u, \"files\": %u",
	       state_name(si->state), si->incoming ? "true" : "false",
	       si->retrieved ? "true" : "false", si->attached ? "true" : "false", si->uid, si->files);
}

/* One line of the table, or one object of the JSON array; ctx: whether it is the first. */
static int print_session(void *ctx, void *e)
{
	struct luo_msg_session_info *si = e;
	bool *first = ctx;

	si->name[LUO_NAME_MAX - 1] = '\0';
	if (opt.json) {
		printf("%s", *first ? "" : ", ");
		print_session_json_fields(si);
		printf("}");
	} else {
		char name[LUO_ESCAPED_NAME_MAX];

		printf("%-32s %-9s %-9s %-9s %6u %7u\n", luo_escape(si->name, name, sizeof(name)),
		       state_name(si->state), si->incoming ? "incoming" : "outgoing",
		       si->attached ? "yes" : (si->retrieved ? "no" : "waiting"), si->uid, si->files);
	}
	*first = false;
	return 0;
}

static int list(int dev)
{
	struct luo_msg_list req = { 0 };
	bool first = true;
	int r;

	if (opt.json)
		printf("[");
	else
		printf("%-32s %-9s %-9s %-9s %6s %7s\n", "NAME", "STATE", "SIDE", "HELD", "UID", "FILES");
	r = page_each(dev, &page_sessions, &req, sizeof(req), NULL, print_session, &first);
	if (r < 0)
		return fail("sessions", r);
	if (opt.json)
		printf("]\n");
	return 0;
}

int cmd_sessions(const struct luoctl_command *cmd, int argc, char **argv)
{
	int dev, r = parse_and_connect(cmd, argc, argv, &dev);

	if (r >= 0)
		return r;
	r = list(dev);
	close(dev);
	return r;
}

struct show {
	bool where; /* a LIVES column, "where" in JSON */
	bool first; /* no file printed yet */
};

static int print_show_head(void *ctx, void *h)
{
	struct luo_msg_show_reply *rep = h;
	const struct show *sh = ctx;

	rep->session.name[LUO_NAME_MAX - 1] = '\0';
	if (opt.json) {
		print_session_json_fields(&rep->session);
		printf(", \"file_list\": [");
	} else {
		char esc[LUO_ESCAPED_NAME_MAX];

		printf("session:  %s\nstate:    %s (%s)\nuid:      %u\nfiles:    %u\n\n",
		       luo_escape(rep->session.name, esc, sizeof(esc)), state_name(rep->session.state),
		       rep->session.incoming ? "incoming" : "outgoing", rep->session.uid,
		       rep->session.files);
		printf("%-20s %-8s %14s %-7s ", "TOKEN", "HANDLER", "SIZE", "FROZEN");
		if (sh->where)
			printf("%-11s ", "LIVES");
		printf("RETRIEVED\n");
	}
	return 0;
}

static int print_file(void *ctx, void *e)
{
	struct luo_msg_file_info *fi = e;
	struct show *sh = ctx;

	fi->handler[LUO_HANDLER_NAME_MAX - 1] = '\0';
	if (opt.json) {
		printf("%s{\"token\": %" PRIu64 ", \"handler\": \"%s\", \"size\": %" PRIu64
		       ", \"frozen\": %s, \"retrieved\": %s, \"retrieve_error\": %d",
		       sh->first ? "" : ", ", fi->token, fi->handler, fi->size,
		       fi->frozen ? "true" : "false", fi->retrieved ? "true" : "false",
		       fi->retrieve_error);
		if (sh->where)
			printf(", \"where\": \"%s\"", where_name(fi->where));
		printf("}");
	} else {
		printf("%-20" PRIu64 " %-8s %14" PRIu64 " %-7s ", fi->token, fi->handler, fi->size,
		       fi->frozen ? "yes" : "no");
		if (sh->where)
			printf("%-11s ", where_name(fi->where));
		printf("%s\n", fi->retrieve_error ? strerror(-fi->retrieve_error)
						  : (fi->retrieved ? "yes" : "no"));
	}
	sh->first = false;
	return 0;
}

static int show(int dev, const char *name)
{
	struct luo_msg_show req = { 0 };
	struct luo_msg_kernel_status ks;
	struct show sh = { .first = true };
	int r;

	/* where a file lives tells something only beside a kernel's LUO: elsewhere, in luod */
	sh.where = kernel_status(dev, &ks) == 0 && ks.backend == LUO_BACKEND_KERNEL;
	strcpy(req.name, name);
	r = page_each(dev, &page_files, &req, sizeof(req), print_show_head, print_file, &sh);
	if (r < 0)
		return fail(name, r);
	if (opt.json)
		printf("]}\n");
	return 0;
}

/* For `show NAME` and `drop NAME`: -1 with *name and *dev set to go on, else the exit status. */
static int name_command(const struct luoctl_command *cmd, int argc, char **argv,
			const char **name, int *dev)
{
	int r = parse_common(cmd, argc, argv, 1, 1);

	if (r >= 0)
		return r;
	*name = argv[optind];
	if (luo_name_validate(*name, strlen(*name) + 1) < 0)
		return usage_error(cmd, "bad session name");
	*dev = connect_luod();
	return *dev < 0 ? 1 : -1;
}

int cmd_show(const struct luoctl_command *cmd, int argc, char **argv)
{
	const char *name;
	int dev = -1, r = name_command(cmd, argc, argv, &name, &dev);

	if (r >= 0)
		return r;
	r = show(dev, name);
	close(dev);
	return r;
}

/*
 * `luoctl drop NAME`: a session luod holds on its own (frozen after its
 * process, or incoming after an update) is retrieved and finished, which
 * releases every file in it. One a process holds is refused: that process
 * owns it.
 */
int cmd_drop(const struct luoctl_command *cmd, int argc, char **argv)
{
	struct luo_msg_session_info si;
	const char *name;
	int dev = -1, s, r = name_command(cmd, argc, argv, &name, &dev);

	if (r >= 0)
		return r;
	r = hold_show(dev, name, &si);
	if (r == 0 && si.attached) {
		fprintf(stderr, "luoctl: drop: session %s is held by a running process; not dropped\n",
			name);
		close(dev);
		return 1;
	}
	s = r < 0 ? r : luo_retrieve_session(dev, name);
	if (s < 0) {
		if (s == -ENOENT)
			fprintf(stderr, "luoctl: drop: luod holds no session %s\n", name);
		else
			fail(name, s);
		close(dev);
		return 1;
	}
	r = luo_session_finish(s);
	close(s);
	close(dev);
	if (r < 0)
		return fail(name, r);
	if (opt.json) {
		printf("{\"session\": ");
		json_string(stdout, name);
		printf(", \"dropped\": true, \"files\": %u}\n", si.files);
	} else {
		printf("dropped session %s: its %u files released\n", name, si.files);
	}
	return 0;
}
