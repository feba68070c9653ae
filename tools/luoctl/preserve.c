// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `luoctl preserve --session NAME --pid PID SELECTOR... --token T [--create]`:
 * take fds out of a running process that knows nothing of luo and preserve
 * them in a session. Each SELECTOR picks fds by number (--fd N) or by what
 * they are: a memfd by its name (--memfd NAME, as memfd_create(2) was given
 * it: QEMU's memory-backend-memfd is "memory-backend-memfd"), a file by its
 * path (--path PATH), a socket by its local address (--address SPEC,
 * tcp:HOST:PORT, tcp6:[HOST]:PORT or unix:/path; HOST empty or * for any).
 * Selectors repeat; each must match at least one fd; an fd matched twice,
 * or a file open on several fds (dup), is taken once. The fds get tokens T, T+1, ... in selector order, then fd
 * order. All or nothing: when one cannot be preserved, those already added
 * are taken out again and the session keeps what it had.
 *
 * The fd is copied with pidfd_open() + pidfd_getfd(), so the kernel's
 * ptrace access check applies (PTRACE_MODE_ATTACH_REALCREDS: the same uid
 * and no stricter Yama setting, or CAP_SYS_PTRACE); a refusal is EPERM and
 * said so. The process keeps its fd; luo gets another reference to the
 * same open file.
 *
 * Who holds the session afterwards: luoctl exits at once, so it freezes the
 * session on its own (per-session FREEZE) before closing its handle, and
 * luod holds it, retrievable by name (luo_retrieve_session, or `luoctl
 * exec`). A later `luoctl preserve` into the same session takes it back,
 * adds the fd and freezes it again (hold.c).
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "hold.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

static int parse_u64(const char *s, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	if (!*s || *s == '-')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end)
		return -EINVAL;
	*ret = v;
	return 0;
}

/* A copy of fd `target` of process pid, O_CLOEXEC; messages say why not. */
static int steal_fd(pid_t pid, int target)
{
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0), fd, r;

	if (pidfd < 0) {
		r = -errno;
		fprintf(stderr, "luoctl: preserve: process %d: %s\n", (int)pid,
			r == -ESRCH ? "no such process" : strerror(-r));
		return r;
	}
	fd = (int)syscall(SYS_pidfd_getfd, pidfd, target, 0);
	r = -errno;
	close(pidfd);
	if (fd >= 0)
		return fd;
	if (r == -EPERM)
		fprintf(stderr,
			"luoctl: preserve: not permitted to take fd %d of process %d: %s (the kernel "
			"applies its ptrace access check: same uid and Yama's ptrace_scope, or "
			"CAP_SYS_PTRACE)\n",
			target, (int)pid, strerror(-r));
	else if (r == -EBADF)
		fprintf(stderr, "luoctl: preserve: process %d has no fd %d\n", (int)pid, target);
	else
		fprintf(stderr, "luoctl: preserve: fd %d of process %d: %s\n", target, (int)pid,
			strerror(-r));
	return r;
}

#define SELECT_MAX 256

enum sel_kind { SEL_FD, SEL_MEMFD, SEL_PATH, SEL_ADDRESS };

struct selector {
	enum sel_kind kind;
	const char *arg;
	int fd;        /* SEL_FD */
	char *path;    /* SEL_PATH: resolved when it exists */
	bool any_host; /* SEL_ADDRESS: the address part matches anything */
	int family;
	struct in6_addr addr; /* or the IPv4 one in its first 4 bytes */
	unsigned port;
};

struct picked {
	int target; /* the fd number in the process */
	int fd;     /* luoctl's copy */
	char what[PATH_MAX];
};

static const char *const kind_opt[] = { "--fd", "--memfd", "--path", "--address" };

/* An --address SPEC into sel; -EINVAL when malformed. */
static int parse_address(struct selector *sel, const char *spec)
{
	bool six = !strncmp(spec, "tcp6:", 5);
	const char *hostport = six ? spec + 5 : spec + 4, *colon;
	char host[INET6_ADDRSTRLEN + 2], *end;
	unsigned long port;
	size_t hl;

	if (!strncmp(spec, "unix:", 5)) {
		sel->family = AF_UNIX;
		return spec[5] && strlen(spec + 5) < sizeof(((struct sockaddr_un *)0)->sun_path) ? 0
												 : -EINVAL;
	}
	if (!six && strncmp(spec, "tcp:", 4))
		return -EINVAL;
	colon = strrchr(hostport, ':');
	if (!colon || (size_t)(colon - hostport) >= sizeof(host))
		return -EINVAL;
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (!colon[1] || *end || errno || port > 65535)
		return -EINVAL;
	sel->port = (unsigned)port;
	hl = (size_t)(colon - hostport);
	memcpy(host, hostport, hl);
	host[hl] = '\0';
	if (six) {
		if (hl < 2 || host[0] != '[' || host[hl - 1] != ']')
			return -EINVAL;
		memmove(host, host + 1, hl - 2);
		host[hl - 2] = '\0';
	}
	sel->family = six ? AF_INET6 : AF_INET;
	sel->any_host = !*host || !strcmp(host, "*");
	if (sel->any_host)
		return 0;
	return inet_pton(sel->family, host, &sel->addr) == 1 ? 0 : -EINVAL;
}

/* Whether socket fd's local address is the one sel names. */
static bool address_matches(const struct selector *sel, int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	memset(&ss, 0, sizeof(ss));
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0 || ss.ss_family != sel->family)
		return false;
	if (sel->family == AF_UNIX) {
		const struct sockaddr_un *sun = (const struct sockaddr_un *)&ss;

		return len > offsetof(struct sockaddr_un, sun_path) &&
		       !strcmp(sun->sun_path, sel->arg + 5);
	}
	if (sel->family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)&ss;

		return ntohs(sin->sin_port) == sel->port &&
		       (sel->any_host || !memcmp(&sin->sin_addr, &sel->addr, 4));
	}
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&ss;

	return ntohs(sin6->sin6_port) == sel->port &&
	       (sel->any_host || !memcmp(&sin6->sin6_addr, &sel->addr, 16));
}

/* What /proc/PID/fd/N points at ("" when it cannot be read). */
static void fd_link(pid_t pid, int target, char *out, size_t len)
{
	char link[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/%d/fd/%d", (int)pid, target);
	n = readlink(link, out, len - 1);
	out[n > 0 ? n : 0] = '\0';
}

static bool memfd_matches(const char *link, const char *name)
{
	size_t nl = strlen(name);

	/* "/memfd:NAME (deleted)": memfds have no name in any directory */
	return !strncmp(link, "/memfd:", 7) && !strncmp(link + 7, name, nl) &&
	       (!link[7 + nl] || !strcmp(link + 7 + nl, " (deleted)"));
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* The process's fd numbers, ascending; -errno with a message. */
static int list_fds(pid_t pid, int **ret, size_t *n)
{
	char dir[64];
	struct dirent *e;
	size_t cap = 64;
	int *v = malloc(cap * sizeof(*v));
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	d = opendir(dir);
	if (!d || !v) {
		int r = v ? -errno : -ENOMEM;

		free(v);
		fprintf(stderr, "luoctl: preserve: process %d: %s\n", (int)pid,
			r == -ENOENT ? "no such process" : strerror(-r));
		return r;
	}
	*n = 0;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (*n == cap) {
			int *nv = realloc(v, (cap *= 2) * sizeof(*v));

			if (!nv) {
				free(v);
				closedir(d);
				return -ENOMEM;
			}
			v = nv;
		}
		v[(*n)++] = atoi(e->d_name);
	}
	closedir(d);
	qsort(v, *n, sizeof(*v), cmp_int);
	*ret = v;
	return 0;
}

static bool already(const struct picked *p, size_t n, int target)
{
	for (size_t i = 0; i < n; i++)
		if (p[i].target == target)
			return true;
	return false;
}

/* Whether fd is a file already picked through another fd number (dup). */
static bool same_file(const struct picked *p, size_t n, int fd)
{
	struct stat a, b;

	if (fstat(fd, &a) < 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (fstat(p[i].fd, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
			return true;
	return false;
}

/*
 * The fds the selectors pick, copied out of the process into p (at most
 * SELECT_MAX); returns how many, or -errno after a message.
 */
static int pick(pid_t pid, struct selector *sels, size_t nsels, struct picked *p)
{
	int *fds = NULL, r = 0;
	size_t nfds = 0, n = 0;

	for (size_t i = 0; i < nsels && r == 0; i++) {
		struct selector *sel = &sels[i];
		size_t before = n;

		if (sel->kind == SEL_FD) {
			if (already(p, n, sel->fd))
				continue;
			r = p[n].fd = steal_fd(pid, sel->fd);
			if (r < 0)
				break;
			r = 0;
			p[n].target = sel->fd;
			fd_link(pid, sel->fd, p[n].what, sizeof(p[n].what));
			n++;
			continue;
		}
		if (!fds && (r = list_fds(pid, &fds, &nfds)) < 0)
			break;
		for (size_t j = 0; j < nfds && r == 0; j++) {
			char link[PATH_MAX];
			bool match;

			fd_link(pid, fds[j], link, sizeof(link));
			if (sel->kind == SEL_MEMFD)
				match = memfd_matches(link, sel->arg);
			else if (sel->kind == SEL_PATH)
				match = !strcmp(link, sel->path ? sel->path : sel->arg);
			else
				match = !strncmp(link, "socket:[", 8);
			if (!match || already(p, n, fds[j]))
				continue;
			if (n == SELECT_MAX) {
				fprintf(stderr, "luoctl: preserve: more than %d fds selected\n", SELECT_MAX);
				r = -E2BIG;
				break;
			}
			r = p[n].fd = steal_fd(pid, fds[j]);
			if (r < 0)
				break;
			r = 0;
			if ((sel->kind == SEL_ADDRESS && !address_matches(sel, p[n].fd)) ||
			    same_file(p, n, p[n].fd)) {
				close(p[n].fd);
				continue;
			}
			p[n].target = fds[j];
			strcpy(p[n].what, link);
			n++;
		}
		if (r == 0 && n == before && sel->kind != SEL_FD) {
			fprintf(stderr, "luoctl: preserve: process %d has no fd matching %s %s\n",
				(int)pid, kind_opt[sel->kind], sel->arg);
			r = -ENOENT;
		}
	}
	free(fds);
	if (r < 0) {
		for (size_t i = 0; i < n; i++)
			close(p[i].fd);
		return r;
	}
	return (int)n;
}

int cmd_preserve(const struct luoctl_command *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		LUOCTL_COMMON_OPTS,
		{ "session", required_argument, NULL, 'S' },
		{ "pid", required_argument, NULL, 'p' },
		{ "fd", required_argument, NULL, 'f' },
		{ "memfd", required_argument, NULL, 'm' },
		{ "path", required_argument, NULL, 'P' },
		{ "address", required_argument, NULL, 'a' },
		{ "token", required_argument, NULL, 't' },
		{ "create", no_argument, NULL, 'c' },
		{ 0 },
	};
	static struct selector sels[SELECT_MAX];
	static struct picked picked[SELECT_MAX];
	const char *session = NULL;
	uint64_t pid = 0, target = 0, token = 0;
	bool have_pid = false, have_token = false, create = false;
	size_t nsels = 0, added = 0;
	struct hold h;
	int c, n, r;

	while ((c = getopt_long(argc, argv, LUOCTL_COMMON_SHORT "S:p:f:m:P:a:t:c", opts, NULL)) !=
	       -1) {
		struct selector *sel = &sels[nsels];

		if (common_opt(cmd, c, &r))
			return r;
		if ((c == 'f' || c == 'm' || c == 'P' || c == 'a') && nsels == SELECT_MAX)
			return usage_error(cmd, "too many selectors");
		switch (c) {
		case 'S':
			session = optarg;
			break;
		case 'p':
			if (parse_u64(optarg, &pid) < 0 || pid == 0 || pid > INT32_MAX)
				return usage_error(cmd, "bad --pid");
			have_pid = true;
			break;
		case 'f':
			if (parse_u64(optarg, &target) < 0 || target > INT32_MAX)
				return usage_error(cmd, "bad --fd");
			*sel = (struct selector){ .kind = SEL_FD, .arg = optarg, .fd = (int)target };
			nsels++;
			break;
		case 'm':
			if (!*optarg)
				return usage_error(cmd, "empty --memfd name");
			*sel = (struct selector){ .kind = SEL_MEMFD, .arg = optarg };
			nsels++;
			break;
		case 'P':
			*sel = (struct selector){ .kind = SEL_PATH, .arg = optarg };
			sel->path = realpath(optarg, NULL); /* NULL: compared as given */
			nsels++;
			break;
		case 'a':
			*sel = (struct selector){ .kind = SEL_ADDRESS, .arg = optarg };
			if (parse_address(sel, optarg) < 0)
				return usage_error(cmd, "bad --address (tcp:HOST:PORT, tcp6:[HOST]:PORT, "
							"unix:/path)");
			nsels++;
			break;
		case 't':
			if (parse_u64(optarg, &token) < 0)
				return usage_error(cmd, "bad --token");
			have_token = true;
			break;
		case 'c':
			create = true;
			break;
		}
	}
	if (optind != argc || !session || !have_pid || !nsels || !have_token)
		return usage_error(cmd, "--session, --pid, --token and at least one of --fd, "
					"--memfd, --path, --address are required");
	if (luo_name_validate(session, strlen(session) + 1) < 0)
		return usage_error(cmd, "bad session name");

	n = pick((pid_t)pid, sels, nsels, picked);
	for (size_t i = 0; i < nsels; i++)
		free(sels[i].path);
	if (n < 0)
		return 1;
	if (token + (uint64_t)n - 1 < token) {
		for (int i = 0; i < n; i++)
			close(picked[i].fd);
		return usage_error(cmd, "--token: the tokens would wrap around");
	}
	hold_init(&h, session);
	r = hold_attach(&h, create);
	if (r < 0) {
		for (int i = 0; i < n; i++)
			close(picked[i].fd);
		hold_close(&h);
		if (r == -ENOENT)
			fprintf(stderr, "luoctl: preserve: luod holds no session %s (--create makes one)\n",
				session);
		else if (r == -EEXIST)
			fprintf(stderr, "luoctl: preserve: session %s is held by a process\n", session);
		else
			fail(session, r);
		return 1;
	}
	for (; added < (size_t)n; added++) {
		r = hold_add(&h, picked[added].fd, token + added);
		if (r < 0) {
			fprintf(stderr, "luoctl: preserve: fd %d of process %d (%s) as token %" PRIu64
					": %s\n",
				picked[added].target, (int)pid, picked[added].what, token + added,
				strerror(-r));
			break;
		}
	}
	if (r < 0) {
		/* all or nothing: the ones added go again (hold_close closes luoctl's copies) */
		for (size_t i = added; i < (size_t)n; i++)
			close(picked[i].fd);
		for (size_t i = 0; i < added; i++) {
			luo_session_unpreserve_fd(h.handle, token + i);
			close(h.fds[--h.n]);
		}
	}
	if (h.n > 0) {
		/* what the session held goes back to luod, with the new fds or without */
		int fr = hold_freeze(&h);

		if (fr < 0) {
			fail("freeze", fr);
			r = r < 0 ? r : fr;
		}
	}
	if (r == 0 && opt.json) {
		printf("{\"session\": ");
		json_string(stdout, session);
		printf(", \"pid\": %" PRIu64 ", \"fd\": %d, \"token\": %" PRIu64 ", \"fds\": [", pid,
		       picked[0].target, token);
		for (int i = 0; i < n; i++) {
			printf("%s{\"fd\": %d, \"token\": %" PRIu64 ", \"what\": ", i ? ", " : "",
			       picked[i].target, token + (uint64_t)i);
			json_string(stdout, picked[i].what);
			printf("}");
		}
		printf("], \"files\": %zu, \"state\": \"frozen\"}\n", h.n);
	} else if (r == 0) {
		for (int i = 0; i < n; i++)
			printf("preserved fd %d of process %" PRIu64 " (%s) in session %s as token "
			       "%" PRIu64 "\n",
			       picked[i].target, pid, picked[i].what, session, token + (uint64_t)i);
		printf("session %s: %zu files; luod holds the session\n", session, h.n);
	}
	hold_close(&h);
	return r < 0 ? 1 : 0;
}
