// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * DOC: The state file and the update history, for scripts.
 *
 * <state-dir>/state is one JSON object, replaced atomically (write a
 * temporary file, fsync is not needed for a runtime view, rename over) so a
 * reader never sees half of it: luod's state and counts, and the last
 * live update it remembers ("last_update", null before the first). <state-dir>/history gets one JSON line per
 * completed live update, appended by the successor. Failing to write either
 * is logged and never fails a request.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/luod.h"
#include "report/history.h"
#include "report/report.h"

static char state_dir[4096];

static int mkdir_p(const char *path)
{
	char buf[4096];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/*
 * The state and history files say how many sessions and files luod holds
 * and when updates ran: luod's uid and group read them, other uids ask
 * luod (STATUS answers them for their own sessions only).
 */
#define LUO_STATE_FILE_MODE 0640

/* A new file of that mode, whatever the umask lets fopen() make. */
static FILE *create_private(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, LUO_STATE_FILE_MODE);
	FILE *f;

	if (fd < 0)
		return NULL;
	fchmod(fd, LUO_STATE_FILE_MODE); /* a stale temporary file keeps its mode otherwise */
	f = fdopen(fd, "w");
	if (!f)
		close(fd);
	return f;
}

int luo_statefile_init(const char *dir)
{
	int r;

	if (snprintf(state_dir, sizeof(state_dir), "%s", dir) >= (int)sizeof(state_dir))
		return -ENAMETOOLONG;
	r = mkdir_p(dir);
	if (r < 0)
		log_err("state directory %s: %s", dir, strerror(-r));
	return r;
}

void luo_statefile_write(void)
{
	char path[4200], tmp[4200];
	FILE *f;

	if (!*state_dir)
		return;
	snprintf(path, sizeof(path), "%s/state", state_dir);
	snprintf(tmp, sizeof(tmp), "%s/.state.%d", state_dir, (int)getpid());
	f = create_private(tmp);
	if (!f) {
		log_warn("state file %s: %s", tmp, strerror(errno));
		return;
	}
	fprintf(f,
		"{\"state\": \"%s\", \"generation\": %" PRIu64 ", \"sessions\": %zu, "
		"\"incoming_sessions\": %zu, \"files\": %zu, \"updates\": %" PRIu64 ", \"pid\": %d, "
		"\"last_update\": ",
		luo_state_name(core_state()), core_generation(), core_session_count(),
		core_incoming_sessions(), core_file_count(), core_updates(), (int)getpid());
	if (history_count()) {
		static const char *const outcomes[] = { "ok", "failed", "cancelled" };
		const struct luo_msg_history_entry *e = history_at(history_count() - 1);

		fprintf(f,
			"{\"generation\": %" PRIu64 ", \"start_ns\": %" PRIu64 ", \"blackout_ns\": %" PRIu64
			", \"sessions\": %u, \"files\": %" PRIu64 ", \"outcome\": \"%s\", \"errno\": %d}}\n",
			e->generation, e->start_realtime_ns, e->blackout_ns, e->sessions, e->files,
			e->outcome < 3 ? outcomes[e->outcome] : "unknown", -e->error);
	} else {
		fprintf(f, "null}\n");
	}
	if (fclose(f) != 0 || rename(tmp, path) < 0) {
		log_warn("state file %s: %s", path, strerror(errno));
		unlink(tmp);
	}
}

void luo_history_append(const char *json_line)
{
	char path[4200];
	int fd;

	if (!*state_dir)
		return;
	snprintf(path, sizeof(path), "%s/history", state_dir);
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, LUO_STATE_FILE_MODE);
	if (fd >= 0)
		fchmod(fd, LUO_STATE_FILE_MODE); /* one an older luod made 0644 */
	if (fd < 0 || dprintf(fd, "%s\n", json_line) < 0)
		log_warn("history %s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
}

const char *report_status_line(void)
{
	static char line[160];

	snprintf(line, sizeof(line), "generation %" PRIu64 ", %s, %zu sessions, %zu files",
		 core_generation(), luo_state_name(core_state()), core_session_count(),
		 core_file_count());
	return line;
}
