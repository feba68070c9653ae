// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * What a case left running, ended after it (see harness.h, luo_test_run):
 * a luod a failed case never stopped, its keeper (which outlives a
 * SIGKILLed luod by design and is nobody's child), a `luoctl exec` and
 * its command, a server whose luoctl the case killed.
 *
 * Only processes this test started are touched, each by the pid read from
 * /proc with what proves it ours: a process in the test's own session (the
 * test is its session's leader: meson makes it one, luo_test_run() does
 * where it can) or below the test in the process tree; a keeper (which
 * is in a session of its own) by the socket it listens on, bound in a
 * directory this test made. Never by a name alone. What ran
 * before the first case (a group setup's luod) is left to its teardown.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "reap.h"

#define MAX_DIRS 1024
#define MAX_PROCS 4096

struct proc {
	pid_t pid, ppid, sid;
	char state;
	unsigned long long start; /* with pid: the process, not a later one with its number */
};

static char dirs[MAX_DIRS][256];
static size_t ndirs, dirs_base;
static struct proc base[MAX_PROCS];
static size_t nbase;
static pid_t self;

void reap_track_dir(const char *dir)
{
	for (size_t i = dirs_base; i < ndirs; i++)
		if (!strcmp(dirs[i], dir))
			return;
	if (ndirs < MAX_DIRS && strlen(dir) < sizeof(dirs[0]))
		strcpy(dirs[ndirs++], dir);
}

/* /proc/PID/NAME, NUL-terminated in buf (len - 1 bytes at most); its length, or -1. */
static ssize_t proc_file(pid_t pid, const char *name, char *buf, size_t len)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return n > 0 ? n : -1;
}

static bool proc_read(pid_t pid, struct proc *p)
{
	char buf[1024], *s;

	if (proc_file(pid, "stat", buf, sizeof(buf)) < 0)
		return false;
	s = strrchr(buf, ')'); /* the command name may hold anything */
	if (!s)
		return false;
	p->pid = pid;
	/* state ppid pgrp session, then 15 fields to starttime (field 22) */
	if (sscanf(s + 2, "%c %d %*d %d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
		   &p->state, &p->ppid, &p->sid, &p->start) != 4)
		return false;
	return true;
}

/* Every process there is, as far as /proc shows it now. */
static size_t procs_read(struct proc *out, size_t max)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	size_t n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)) && n < max) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);

		if (*end || pid <= 0)
			continue;
		if (proc_read((pid_t)pid, &out[n]))
			n++;
	}
	closedir(d);
	return n;
}

static const struct proc *find(const struct proc *ps, size_t n, pid_t pid)
{
	for (size_t i = 0; i < n; i++)
		if (ps[i].pid == pid)
			return &ps[i];
	return NULL;
}

static bool in_base(const struct proc *p)
{
	for (size_t i = 0; i < nbase; i++)
		if (base[i].pid == p->pid && base[i].start == p->start)
			return true;
	return false;
}

/* In the test's session, or below it; and not a process of the base or below one. */
static bool ours(const struct proc *ps, size_t n, const struct proc *p)
{
	bool mine = getsid(0) == self && p->sid == self;

	for (const struct proc *q = p; q && q->pid > 1; q = find(ps, n, q->ppid)) {
		if (in_base(q))
			return false;
		if (q->ppid == self)
			return true;
	}
	return mine;
}

/*
 * Whether /proc/net/unix lists a bound socket that match() accepts: by
 * its inode, or by the path it is bound to (that stays listed after the
 * file is removed or replaced, as long as some process has the socket).
 */
static bool unix_socket_where(bool (*match)(unsigned long inode, const char *path, const void *arg),
			      const void *arg)
{
	FILE *f = fopen("/proc/net/unix", "re");
	char line[512];
	bool found = false;

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		char path[300] = "";
		unsigned long inode;

		if (sscanf(line, "%*s %*s %*s %*s %*s %*s %lu %299s", &inode, path) == 2)
			found = match(inode, path, arg);
	}
	fclose(f);
	return found;
}

/* That inode, bound in one of the dirs tracked since reap_mark(). */
static bool in_new_dirs(unsigned long inode, const char *path, const void *arg)
{
	if (inode != *(const unsigned long *)arg)
		return false;
	for (size_t i = dirs_base; i < ndirs; i++) {
		size_t len = strlen(dirs[i]);

		if (!strncmp(path, dirs[i], len) && path[len] == '/')
			return true;
	}
	return false;
}

static bool at_path(unsigned long inode, const char *path, const void *arg)
{
	(void)inode;
	return !strcmp(path, arg);
}

/*
 * A keeper of a luod this test ran, or the process luod forked for one and
 * that has not run its exec yet (stopped there by LUOD_TEST_PAUSE_AT, or
 * not scheduled): its fd 3, the keeper's listening socket, is bound in one
 * of the test's dirs.
 */
static bool our_keeper(pid_t pid)
{
	char path[64], link[64];
	unsigned long inode;
	ssize_t n;

	if (dirs_base >= ndirs)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/fd/3", (int)pid);
	n = readlink(path, link, sizeof(link) - 1);
	if (n <= 0)
		return false;
	link[n] = '\0';
	if (sscanf(link, "socket:[%lu]", &inode) != 1)
		return false;
	return unix_socket_where(in_new_dirs, &inode);
}

static void command_of(pid_t pid, char *buf, size_t len)
{
	ssize_t n = proc_file(pid, "cmdline", buf, len);

	if (n < 0) {
		snprintf(buf, len, "?");
		return;
	}
	for (ssize_t i = 0; i < n; i++)
		if (!buf[i])
			buf[i] = ' ';
}

static bool gone(const struct proc *p)
{
	struct proc now;

	return !proc_read(p->pid, &now) || now.start != p->start || now.state == 'Z' ||
	       now.state == 'X';
}

void reap_wait_keepers(const char *state_dir)
{
	struct timespec ten_ms = { .tv_nsec = 10 * 1000000L };
	char path[PATH_MAX + 16];

	snprintf(path, sizeof(path), "%s/keeper.sock", state_dir);
	for (int i = 0; i < 1000 && unix_socket_where(at_path, path); i++)
		nanosleep(&ten_ms, NULL);
}

void reap_mark(void)
{
	static struct proc ps[MAX_PROCS];
	size_t n = procs_read(ps, MAX_PROCS);

	if (!self)
		self = getpid();
	nbase = 0;
	for (size_t i = 0; i < n; i++)
		if (ps[i].pid != self && ours(ps, n, &ps[i]))
			base[nbase++] = ps[i];
	dirs_base = ndirs;
}

void reap(const char *after, bool all)
{
	static struct proc ps[MAX_PROCS], victims[MAX_PROCS];
	size_t n, nv = 0;
	struct timespec ten_ms = { .tv_nsec = 10 * 1000000L };

	if (!self)
		self = getpid();
	if (getpid() != self)
		return; /* a forked child of the test: nothing of this is its own */
	if (all) {
		nbase = 0;
		dirs_base = 0;
	}
	n = procs_read(ps, MAX_PROCS);
	for (size_t i = 0; i < n; i++) {
		char cmd[256];

		if (ps[i].pid == self || ps[i].state == 'Z' || ps[i].state == 'X' ||
		    !(ours(ps, n, &ps[i]) || our_keeper(ps[i].pid)))
			continue;
		command_of(ps[i].pid, cmd, sizeof(cmd));
		fprintf(stderr, "# harness: killing pid %d (%s), left running by %s\n", (int)ps[i].pid,
			cmd, after);
		if (kill(ps[i].pid, SIGKILL) == 0)
			victims[nv++] = ps[i];
	}
	for (size_t i = 0; i < nv; i++) {
		if (victims[i].ppid == self) {
			waitpid(victims[i].pid, NULL, 0);
			continue;
		}
		/* not the test's child: gone once it is a zombie (10 s at most) */
		for (int k = 0; k < 1000 && !gone(&victims[i]); k++)
			nanosleep(&ten_ms, NULL);
	}
}
