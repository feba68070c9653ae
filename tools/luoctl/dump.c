// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `luoctl dump [--dts] [--output FILE]`: the handover FDT luod would write
 * for its current state (the same code as a live update's), as raw bytes
 * or, with --dts, decompiled by dtc(1) when it is installed. Raw bytes are
 * not written to a terminal.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "luoctl.h"

static int copy_all(int from, int to)
{
	char buf[65536];

	for (;;) {
		ssize_t n = read(from, buf, sizeof(buf)), off = 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		while (off < n) {
			ssize_t w = write(to, buf + off, (size_t)(n - off));

			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				return -errno;
			off += w;
		}
	}
}

/* dtc -I dtb -O dts with the blob on stdin and out as stdout: its status, or -errno. */
static int decompile(int blob, int out)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		if (dup2(blob, 0) < 0 || dup2(out, 1) < 0)
			_exit(126);
		/*
		 * A session whose name is no node name is a node "session-N" with
		 * the name in a "name" property: dtc's check that such a property
		 * repeats the node's name (old Open Firmware trees) is not for
		 * luod's blob, and its message would copy the name, control bytes
		 * and all, to the terminal. dtc prints the property itself as
		 * bytes when it is not printable.
		 */
		execlp("dtc", "dtc", "-q", "-E", "no-name_properties", "-I", "dtb", "-O", "dts", "-",
		       (char *)NULL);
		_exit(errno == ENOENT ? 127 : 126);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
		fprintf(stderr, "luoctl: dump: dtc is not installed (Debian: device-tree-compiler); "
				"`luoctl dump --output FILE` writes the raw FDT to decompile elsewhere\n");
		return 1;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

int cmd_dump(const struct luoctl_command *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		LUOCTL_COMMON_OPTS,
		{ "dts", no_argument, NULL, 'd' },
		{ "output", required_argument, NULL, 'o' },
		{ 0 },
	};
	const char *output = NULL;
	bool dts = false;
	struct stat st;
	int c, dev, blob, out = STDOUT_FILENO, r;

	while ((c = getopt_long(argc, argv, LUOCTL_COMMON_SHORT "do:", opts, NULL)) != -1) {
		if (common_opt(cmd, c, &r))
			return r;
		if (c == 'd')
			dts = true;
		else if (c == 'o')
			output = optarg;
	}
	if (optind != argc)
		return usage_error(cmd, NULL);
	if (opt.json && !output)
		return usage_error(cmd, "--json needs --output: the FDT goes there, its summary to stdout");
	if (!dts && !output && isatty(STDOUT_FILENO))
		return usage_error(cmd, "not writing a binary FDT to a terminal: use --output FILE or --dts");
	dev = connect_luod();
	if (dev < 0)
		return 1;
	r = luo_call_full(dev, LUO_OP_DUMP, NULL, 0, NULL, 0, &reply);
	close(dev);
	if (r < 0)
		return fail("dump", r);
	if (reply.nfds != 1) {
		luo_reply_close_fds(&reply);
		return fail("dump", -EPROTO);
	}
	blob = reply.fds[0];
	if (fstat(blob, &st) < 0 || lseek(blob, 0, SEEK_SET) < 0) {
		r = fail("dump", -errno);
		goto out;
	}
	if (output) {
		out = open(output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (out < 0) {
			fprintf(stderr, "luoctl: dump: %s: %s\n", output, strerror(errno));
			r = 1;
			goto out;
		}
	}
	fflush(stdout);
	if (dts) {
		r = decompile(blob, out);
		if (r < 0)
			r = fail("dump: dtc", r);
	} else {
		r = copy_all(blob, out);
		if (r < 0)
			r = fail("dump", r);
	}
	if (r == 0 && opt.json) {
		printf("{\"output\": ");
		json_string(stdout, output);
		printf(", \"bytes\": %" PRIu64 ", \"format\": \"%s\"}\n", (uint64_t)st.st_size,
		       dts ? "dts" : "dtb");
	}
	if (out != STDOUT_FILENO && close(out) < 0 && r == 0)
		r = fail("dump", -errno);
out:
	close(blob);
	return r;
}
