// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Preserve + retrieve throughput and footprint, side by side:
 *
 *   luo    luo_session_preserve_fd / _retrieve_fd one fd per call ("single"),
 *          luo_session_preserve_fds / _retrieve_fds ("batch"); between the
 *          two the session is frozen, closed and retrieved by name (a
 *          per-session update; those four round trips are not timed).
 *   s6     s6-fdholder-daemon through libs6: s6_fdholder_store and
 *          s6_fdholder_retrieve_delete per fd ("single"), s6_fdholder_setdump
 *          in calls of 253 fds (its limit: one SCM_RIGHTS message) and
 *          pipelined retrieve+delete, 253 requests per flush ("batch";
 *          getdump drops the connection beyond 253 held fds).
 *   unix   the floor: the same fds sent to a helper process over a UNIX
 *          SOCK_SEQPACKET socket and sent back, one fd per message with an
 *          acknowledgement ("single") or 253 per message ("batch").
 *
 *   floor  the machine's floor as the targets define it (bench_floor()): the
 *          same fds sent to a freshly exec'd process and back, 253 per
 *          message, fork and exec included (mode "exec"; its whole time
 *          is reported as store time).
 *   checks the per-fd checks luod keeps on a batch of memfds, alone, in one
 *          thread, on as many fresh memfds (mode "one-thread"): at preserve
 *          an fstat() and an F_GET_SEALS each (the kind, the shm mount, the
 *          inode, the seals), at retrieve an fstat() each (size, seals and
 *          inode against the freeze record; a memfd made without
 *          MFD_ALLOW_SEALING has F_SEAL_SEAL, so its seals are not asked
 *          again). No fd moves: it is the part of luo's time that no
 *          protocol or data structure can remove while every fd is checked.
 *
 * Throughput = N / (store time + retrieve time). The fds are empty memfds,
 * created before and closed after each timed span.
 *
 * Footprint: each daemon fresh, VmRSS idle, then holding 100, 1000 and
 * 10,000 fds (added in batches), bytes per fd = (RSS - idle RSS) / N.
 *
 * CSV on stdout: "throughput,..." and "footprint,..." lines (see headers).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <luo/luo.h>

#ifdef HAVE_S6
#include <s6/fdholder.h>
#include <skalibs/tai.h>
#include <skalibs/unixmessage.h>
#endif

#include "bench.h"

#define FDS_PER_MSG 253 /* SCM_MAX_FD */

static struct {
	const char *luod, *s6d, *dir;
	size_t counts[8], ncounts;
	int reps;
	bool footprint, only_luo, only_batch;
} opt = { .reps = 3, .footprint = true };

static const char *peer_status_s6 = "not built (libs6-dev missing at build time)";

struct span {
	uint64_t store_ns, retrieve_ns;
};

static void emit(const char *peer, const char *mode, size_t n, int rep, const struct span *sp)
{
	double total = bench_ms(sp->store_ns + sp->retrieve_ns);

	printf("throughput,%s,%s,%zu,%d,%.3f,%.3f,%.3f,%.0f\n", peer, mode, n, rep,
	       bench_ms(sp->store_ns), bench_ms(sp->retrieve_ns), total,
	       total > 0 ? (double)n / (total / 1e3) : 0);
	fflush(stdout);
}

/* ---- luo ---- */

static void luo_round(const struct bench_luod *d, size_t n, bool batch, int rep, struct span *sp)
{
	uint64_t *tokens = calloc(n, sizeof(*tokens));
	int *fds = calloc(n, sizeof(*fds));
	char name[64];
	uint64_t t0, t1;
	int dev = bench_luod_open(d), s, r = 0;

	if (!tokens || !fds)
		bench_die("out of memory");
	snprintf(name, sizeof(name), "tp-%s-%zu-%d", batch ? "b" : "s", n, rep);
	s = luo_create_session(dev, name);
	if (s < 0)
		bench_die("luo_create_session: %s", strerror(-s));
	for (size_t i = 0; i < n; i++)
		tokens[i] = i + 1;
	bench_make_fds("memfd", fds, n);

	t0 = bench_now_ns();
	if (batch) {
		r = luo_session_preserve_fds(s, fds, tokens, n);
	} else {
		for (size_t i = 0; i < n && r >= 0; i++)
			r = luo_session_preserve_fd(s, fds[i], tokens[i]);
	}
	t1 = bench_now_ns();
	if (r < 0)
		bench_die("luo preserve (%s, %zu): %s", batch ? "batch" : "single", n, strerror(-r));
	sp->store_ns = t1 - t0;
	bench_close_fds(fds, n);

	r = luo_session_set_event(s, LUO_EVENT_FREEZE);
	if (r < 0)
		bench_die("luo session freeze: %s", strerror(-r));
	close(s);
	/* luod sees the close asynchronously: retry the retrieve, 5 s at most */
	s = -ENOENT;
	for (int i = 0; i < 5000 && s < 0; i++) {
		s = luo_retrieve_session(dev, name);
		if (s < 0)
			usleep(1000);
	}
	if (s < 0)
		bench_die("luo_retrieve_session: %s", strerror(-s));

	t0 = bench_now_ns();
	if (batch) {
		r = luo_session_retrieve_fds(s, tokens, fds, n);
	} else {
		for (size_t i = 0; i < n; i++) {
			r = luo_session_retrieve_fd(s, tokens[i]);
			if (r < 0)
				break;
			fds[i] = r;
		}
	}
	t1 = bench_now_ns();
	if (r < 0)
		bench_die("luo retrieve (%s, %zu): %s", batch ? "batch" : "single", n, strerror(-r));
	sp->retrieve_ns = t1 - t0;
	r = luo_session_finish(s);
	if (r < 0)
		bench_die("luo_session_finish: %s", strerror(-r));
	close(s);
	close(dev);
	bench_close_fds(fds, n);
	free(tokens);
	free(fds);
}

/* ---- the floor: a helper process over a UNIX socket ---- */

struct floor_msg {
	char op;      /* 'S' store (fds attached), 'R' retrieve count, 'Q' quit */
	uint32_t count;
};

static int send_fds(int sock, const void *body, size_t len, const int *fds, size_t n)
{
	char cbuf[CMSG_SPACE(sizeof(int) * FDS_PER_MSG)];
	struct iovec iov = { .iov_base = (void *)body, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (n) {
		struct cmsghdr *c;

		mh.msg_control = cbuf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * n);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * n);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
	}
	return sendmsg(sock, &mh, MSG_NOSIGNAL) < 0 ? -errno : 0;
}

static ssize_t recv_fds(int sock, void *body, size_t len, int *fds, size_t *n)
{
	char cbuf[CMSG_SPACE(sizeof(int) * FDS_PER_MSG)];
	struct iovec iov = { .iov_base = body, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	ssize_t k = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);

	*n = 0;
	if (k < 0)
		return -errno;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			size_t m = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

			memcpy(fds + *n, CMSG_DATA(c), m * sizeof(int));
			*n += m;
		}
	return k;
}

static void floor_helper(int sock)
{
	static int held[BENCH_MAX_FDS + FDS_PER_MSG];
	size_t nheld = 0;

	for (;;) {
		struct floor_msg m;
		size_t n;
		ssize_t k = recv_fds(sock, &m, sizeof(m), held + nheld, &n);

		if (k <= 0 || m.op == 'Q')
			_exit(0);
		nheld += n;
		if (nheld > BENCH_MAX_FDS)
			_exit(1);
		if (m.op == 'S') {
			if (send(sock, "a", 1, MSG_NOSIGNAL) != 1)
				_exit(1);
		} else if (m.op == 'R') {
			size_t c = m.count < nheld ? m.count : nheld;

			if (send_fds(sock, "r", 1, held + nheld - c, c) < 0)
				_exit(1);
			for (size_t i = 0; i < c; i++)
				close(held[nheld - 1 - i]);
			nheld -= c;
		}
	}
}

static void floor_round(int sock, size_t n, bool batch, int rep, struct span *sp)
{
	int *fds = calloc(n, sizeof(*fds));
	size_t per = batch ? FDS_PER_MSG : 1, got = 0;
	uint64_t t0, t1;

	(void)rep;
	if (!fds)
		bench_die("out of memory");
	bench_make_fds("memfd", fds, n);
	t0 = bench_now_ns();
	for (size_t i = 0; i < n; i += per) {
		struct floor_msg m = { .op = 'S' };
		size_t c = n - i < per ? n - i : per;
		char ack;

		if (send_fds(sock, &m, sizeof(m), fds + i, c) < 0 || recv(sock, &ack, 1, 0) != 1)
			bench_die("floor: store: %s", strerror(errno));
	}
	t1 = bench_now_ns();
	sp->store_ns = t1 - t0;
	bench_close_fds(fds, n);

	t0 = bench_now_ns();
	while (got < n) {
		struct floor_msg m = { .op = 'R', .count = (uint32_t)(n - got < per ? n - got : per) };
		char r;
		size_t k;

		if (send(sock, &m, sizeof(m), MSG_NOSIGNAL) != sizeof(m) ||
		    recv_fds(sock, &r, 1, fds + got, &k) != 1 || k != m.count)
			bench_die("floor: retrieve: %s", strerror(errno));
		got += k;
	}
	t1 = bench_now_ns();
	sp->retrieve_ns = t1 - t0;
	bench_close_fds(fds, n);
	free(fds);
}

/* ---- the checks alone ---- */

static void checks_round(size_t n, struct span *sp)
{
	int *fds = calloc(n, sizeof(*fds));
	struct stat st;
	uint64_t t0;

	if (!fds)
		bench_die("out of memory");
	bench_make_fds("memfd", fds, n);
	t0 = bench_now_ns();
	for (size_t i = 0; i < n; i++)
		if (fstat(fds[i], &st) < 0 || fcntl(fds[i], F_GET_SEALS) < 0)
			bench_die("checks: fstat or F_GET_SEALS: %s", strerror(errno));
	sp->store_ns = bench_now_ns() - t0;
	t0 = bench_now_ns();
	for (size_t i = 0; i < n; i++)
		if (fstat(fds[i], &st) < 0)
			bench_die("checks: fstat: %s", strerror(errno));
	sp->retrieve_ns = bench_now_ns() - t0;
	bench_close_fds(fds, n);
	free(fds);
}

/* ---- s6-fdholder-daemon ---- */

#ifdef HAVE_S6
/* libs6 sends a whole dump in one message: at most SCM_MAX_FD fds per call */
static void s6_setdump(s6_fdholder_t *a, const s6_fdholder_fd_t *list, size_t n, const tain *deadline)
{
	for (size_t i = 0; i < n; i += FDS_PER_MSG) {
		size_t c = n - i < FDS_PER_MSG ? n - i : FDS_PER_MSG;

		if (!s6_fdholder_setdump_g(a, list + i, (unsigned int)c, deadline))
			bench_die("s6_fdholder_setdump(%zu): %s", c, strerror(errno));
	}
}

/*
 * s6-fdholderd's getdump fails beyond 253 held fds (the connection drops),
 * so batched retrieval is s6's pipelining: up to 253 retrieve+delete
 * requests queued, one flush, then their replies (one fd each) in order.
 */
static void s6_retrieve_pipelined(s6_fdholder_t *a, const s6_fdholder_fd_t *list, int *fds,
				  size_t n, const tain *deadline)
{
	for (size_t i = 0; i < n; i += FDS_PER_MSG) {
		size_t c = n - i < FDS_PER_MSG ? n - i : FDS_PER_MSG;

		for (size_t j = 0; j < c; j++)
			if (!s6_fdholder_retrieve_maybe_delete_async(a, list[i + j].id, 1))
				bench_die("s6 retrieve (async): %s", strerror(errno));
		if (!unixmessage_sender_timed_flush_g(&a->connection.out, deadline))
			bench_die("s6 retrieve (flush): %s", strerror(errno));
		for (size_t j = 0; j < c; j++) {
			unixmessage m;

			if (unixmessage_timed_receive_g(&a->connection.in, &m, deadline) <= 0)
				bench_die("s6 retrieve (reply): %s", strerror(errno));
			if (m.len != 1 || m.s[0] || m.nfds != 1)
				bench_die("s6 retrieve %s: error %d", list[i + j].id,
					  m.len ? m.s[0] : -1);
			fds[i + j] = m.fds[0];
		}
	}
}

static pid_t s6_start(const char *sock)
{
	char rules[512], p[700];
	static const char *const envs[] = { "S6_FDHOLDER_STORE_REGEX", "S6_FDHOLDER_RETRIEVE_REGEX",
					    "S6_FDHOLDER_SETDUMP", "S6_FDHOLDER_GETDUMP",
					    "S6_FDHOLDER_LIST" };
	char nfd[32];
	pid_t pid;

	snprintf(rules, sizeof(rules), "%s/s6-rules", opt.dir);
	snprintf(p, sizeof(p), "%s/uid/%d/env", rules, (int)getuid());
	{
		char cmd[800];

		snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", p);
		if (system(cmd) != 0)
			bench_die("mkdir %s", p);
	}
	for (size_t i = 0; i < sizeof(envs) / sizeof(envs[0]); i++) {
		FILE *f;

		snprintf(p, sizeof(p), "%s/uid/%d/env/%s", rules, (int)getuid(), envs[i]);
		f = fopen(p, "we");
		if (!f)
			bench_die("%s: %s", p, strerror(errno));
		fputs(strstr(envs[i], "REGEX") ? "^\n" : "1\n", f);
		fclose(f);
	}
	snprintf(p, sizeof(p), "%s/uid/%d/allow", rules, (int)getuid());
	fclose(fopen(p, "we"));
	unlink(sock);
	snprintf(nfd, sizeof(nfd), "%d", BENCH_MAX_FDS + 16);
	pid = fork();
	if (pid < 0)
		bench_die("fork: %s", strerror(errno));
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		dup2(null, 0);
		dup2(null, 1);
		execl(opt.s6d, opt.s6d, "-n", nfd, "-c", "8", "-i", rules, sock, (char *)NULL);
		_exit(127);
	}
	bench_daemon_track(pid, true);
	for (int i = 0; i < 5000; i++) {
		struct stat st;
		int status;

		if (stat(sock, &st) == 0)
			return pid;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			bench_daemon_track(pid, false);
			bench_die("s6-fdholder-daemon exited at start-up (status %d)", status);
		}
		usleep(1000);
	}
	bench_die("s6-fdholder-daemon did not create %s", sock);
}

static void s6_connect(s6_fdholder_t *a, const char *sock)
{
	tain deadline;

	tain_now_set_stopwatch_g();
	for (int i = 0; i < 5000; i++) {
		tain_addsec_g(&deadline, 10);
		if (s6_fdholder_start_g(a, sock, &deadline))
			return;
		usleep(1000);
	}
	bench_die("cannot connect to s6-fdholder-daemon at %s: %s", sock, strerror(errno));
}

static void s6_round(s6_fdholder_t *a, size_t n, bool batch, int rep, struct span *sp)
{
	static const tain limit = TAIN_INFINITE;
	s6_fdholder_fd_t *list = calloc(n, sizeof(*list));
	int *fds = calloc(n, sizeof(*fds));
	uint64_t t0, t1;
	tain deadline;

	if (!list || !fds)
		bench_die("out of memory");
	bench_make_fds("memfd", fds, n);
	for (size_t i = 0; i < n; i++) {
		snprintf(list[i].id, sizeof(list[i].id), "b%d/%s/%zu", rep, batch ? "b" : "s", i);
		list[i].fd = fds[i];
		list[i].limit = limit;
	}
	tain_now_g();
	tain_addsec_g(&deadline, 60);

	t0 = bench_now_ns();
	if (batch) {
		s6_setdump(a, list, n, &deadline);
	} else {
		for (size_t i = 0; i < n; i++)
			if (!s6_fdholder_store_g(a, fds[i], list[i].id, &limit, &deadline))
				bench_die("s6_fdholder_store: %s", strerror(errno));
	}
	t1 = bench_now_ns();
	sp->store_ns = t1 - t0;
	bench_close_fds(fds, n);

	t0 = bench_now_ns();
	if (batch) {
		s6_retrieve_pipelined(a, list, fds, n, &deadline);
	} else {
		for (size_t i = 0; i < n; i++) {
			fds[i] = s6_fdholder_retrieve_delete_g(a, list[i].id, &deadline);
			if (fds[i] < 0)
				bench_die("s6_fdholder_retrieve_delete %s: %s", list[i].id,
					  strerror(errno));
		}
	}
	t1 = bench_now_ns();
	sp->retrieve_ns = t1 - t0;
	bench_close_fds(fds, n);
	free(list);
	free(fds);
}
#endif

/* ---- footprint ---- */

static const size_t fp_levels[] = { 100, 1000, 10000 };

static void footprint_print(const char *daemon, const char *kind, size_t n, long idle, long held)
{
	printf("footprint,%s,%s,%zu,%ld,%ld,%.1f\n", daemon, kind, n, idle, held,
	       n ? (double)(held - idle) * 1024.0 / (double)n : 0.0);
	fflush(stdout);
}

/* luod fresh; RSS idle, then after 100, 1000, 10000 fds preserved in one session */
static void footprint_luo(const char *kind)
{
	struct bench_luod d = { .pid = -1 };
	char dir[300];
	size_t have = 0;
	uint64_t *tokens = calloc(BENCH_MAX_FDS, sizeof(*tokens));
	int *fds = calloc(BENCH_MAX_FDS, sizeof(*fds));
	long idle;
	int dev, s, r;

	if (!tokens || !fds)
		bench_die("out of memory");
	snprintf(dir, sizeof(dir), "%s/fp-%s", opt.dir, kind);
	bench_luod_start(&d, opt.luod, dir);
	usleep(100000);
	idle = bench_status_kib(d.pid, "VmRSS");
	printf("footprint_idle,luod,%ld,%ld\n", idle, bench_status_kib(d.pid, "RssAnon"));
	dev = bench_luod_open(&d);
	s = luo_create_session(dev, "footprint");
	if (s < 0)
		bench_die("luo_create_session: %s", strerror(-s));
	for (size_t i = 0; i < BENCH_MAX_FDS; i++)
		tokens[i] = i + 1;
	for (size_t l = 0; l < sizeof(fp_levels) / sizeof(fp_levels[0]); l++) {
		size_t n = fp_levels[l] - have;

		bench_make_fds(kind, fds, n);
		r = luo_session_preserve_fds(s, fds, tokens + have, n);
		if (r < 0)
			bench_die("footprint: preserve %zu %s: %s", n, kind, strerror(-r));
		bench_close_fds(fds, n);
		have += n;
		footprint_print("luod", kind, have, idle, bench_status_kib(d.pid, "VmRSS"));
	}
	close(s);
	close(dev);
	bench_luod_stop(&d);
	free(tokens);
	free(fds);
}

#ifdef HAVE_S6
static void footprint_s6(void)
{
	static const tain limit = TAIN_INFINITE;
	s6_fdholder_fd_t *list = calloc(BENCH_MAX_FDS, sizeof(*list));
	int *fds = calloc(BENCH_MAX_FDS, sizeof(*fds));
	s6_fdholder_t a = S6_FDHOLDER_ZERO;
	char sock[300];
	size_t have = 0;
	tain deadline;
	long idle;
	pid_t pid;

	if (!list || !fds)
		bench_die("out of memory");
	snprintf(sock, sizeof(sock), "%s/s6fp.sock", opt.dir);
	pid = s6_start(sock);
	usleep(100000);
	idle = bench_status_kib(pid, "VmRSS");
	printf("footprint_idle,s6-fdholderd,%ld,%ld\n", idle, bench_status_kib(pid, "RssAnon"));
	s6_connect(&a, sock);
	for (size_t l = 0; l < sizeof(fp_levels) / sizeof(fp_levels[0]); l++) {
		size_t n = fp_levels[l] - have;

		bench_make_fds("memfd", fds, n);
		for (size_t i = 0; i < n; i++) {
			snprintf(list[i].id, sizeof(list[i].id), "fp/%zu", have + i);
			list[i].fd = fds[i];
			list[i].limit = limit;
		}
		tain_now_g();
		tain_addsec_g(&deadline, 60);
		s6_setdump(&a, list, n, &deadline);
		bench_close_fds(fds, n);
		have += n;
		footprint_print("s6-fdholderd", "memfd", have, idle, bench_status_kib(pid, "VmRSS"));
	}
	s6_fdholder_end(&a);
	bench_daemon_track(pid, false);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	free(list);
	free(fds);
}
#endif

static void usage(void)
{
	fprintf(stderr, "usage: luo-bench-throughput --luod PATH --dir DIR [--s6 S6_FDHOLDER_DAEMON]\n"
			"       [--counts 100,1000,10000] [--reps R] [--no-footprint] [--only-luo]\n"
			"       [--only-batch]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "luod", required_argument, NULL, 'd' },
		{ "s6", required_argument, NULL, 's' },
		{ "dir", required_argument, NULL, 'D' },
		{ "counts", required_argument, NULL, 'n' },
		{ "reps", required_argument, NULL, 'r' },
		{ "no-footprint", no_argument, NULL, 'F' },
		{ "only-luo", no_argument, NULL, 'L' },
		{ "only-batch", no_argument, NULL, 'B' },
		{ 0 },
	};
	struct bench_luod d = { .pid = -1 };
	char dir[300], self[4096];
	int c, sv[2];
	pid_t helper;
	ssize_t k;

	c = bench_floor_child(argc, argv);
	if (c >= 0)
		return c;
	k = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (k < 0)
		bench_die("/proc/self/exe: %s", strerror(errno));
	self[k] = '\0';

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': opt.luod = optarg; break;
		case 's': opt.s6d = optarg; break;
		case 'D': opt.dir = optarg; break;
		case 'r': opt.reps = atoi(optarg); break;
		case 'F': opt.footprint = false; break;
		case 'L': opt.only_luo = true; break;
		case 'B': opt.only_batch = true; break;
		case 'n':
			for (char *t = strtok(optarg, ","); t && opt.ncounts < 8; t = strtok(NULL, ","))
				opt.counts[opt.ncounts++] = strtoul(t, NULL, 10);
			break;
		default: usage();
		}
	}
	if (!opt.ncounts) {
		opt.counts[0] = 100;
		opt.counts[1] = 1000;
		opt.counts[2] = 10000;
		opt.ncounts = 3;
	}
	if (!opt.luod || !opt.dir || opt.reps < 1 || opt.reps > 100)
		usage();
	for (size_t i = 0; i < opt.ncounts; i++)
		if (opt.counts[i] < 1 || opt.counts[i] > BENCH_MAX_FDS)
			usage();
	signal(SIGPIPE, SIG_IGN);
	if (mkdir(opt.dir, 0700) < 0 && errno != EEXIST)
		bench_die("mkdir %s: %s", opt.dir, strerror(errno));
#ifdef HAVE_S6
	peer_status_s6 = opt.s6d ? "ok" : "not run (no --s6)";
#endif
	fprintf(stderr, "bench: s6-fdholder: %s\n", peer_status_s6);

	/* footprint first, each daemon fresh */
	printf("# footprint,daemon,kind,count,rss_idle_kib,rss_kib,bytes_per_fd\n");
	printf("# footprint_idle,daemon,vmrss_kib,rssanon_kib\n");
	if (opt.footprint) {
		footprint_luo("memfd");
		footprint_luo("socket");
#ifdef HAVE_S6
		if (opt.s6d)
			footprint_s6();
#endif
	}

	printf("# throughput,peer,mode,count,rep,store_ms,retrieve_ms,total_ms,fds_per_s\n");
	snprintf(dir, sizeof(dir), "%s/tp", opt.dir);
	bench_luod_start(&d, opt.luod, dir);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		bench_die("socketpair: %s", strerror(errno));
	helper = fork();
	if (helper < 0)
		bench_die("fork: %s", strerror(errno));
	if (helper == 0) {
		close(sv[0]);
		floor_helper(sv[1]);
	}
	close(sv[1]);
#ifdef HAVE_S6
	s6_fdholder_t a = S6_FDHOLDER_ZERO;
	pid_t s6pid = -1;
	char s6sock[300];

	if (opt.s6d) {
		snprintf(s6sock, sizeof(s6sock), "%s/s6.sock", opt.dir);
		s6pid = s6_start(s6sock);
		s6_connect(&a, s6sock);
	}
#endif
	for (size_t ci = 0; ci < opt.ncounts; ci++)
		for (int rep = 0; rep < opt.reps; rep++)
			for (int batch = opt.only_batch; batch < 2; batch++) {
				size_t n = opt.counts[ci];
				const char *mode = batch ? "batch" : "single";
				struct span sp;

				luo_round(&d, n, batch, rep, &sp);
				emit("luo", mode, n, rep, &sp);
				if (opt.only_luo)
					continue;
#ifdef HAVE_S6
				if (opt.s6d) {
					s6_round(&a, n, batch, rep, &sp);
					emit("s6-fdholder", mode, n, rep, &sp);
				}
#endif
				floor_round(sv[0], n, batch, rep, &sp);
				emit("unix-socket", mode, n, rep, &sp);
				if (batch) {
					int *fds = calloc(n, sizeof(*fds));

					if (!fds)
						bench_die("out of memory");
					bench_make_fds("memfd", fds, n);
					sp.store_ns = bench_floor(self, fds, n);
					sp.retrieve_ns = 0;
					bench_close_fds(fds, n);
					free(fds);
					emit("floor", "exec", n, rep, &sp);
					checks_round(n, &sp);
					emit("checks", "one-thread", n, rep, &sp);
				}
			}
	{
		struct floor_msg m = { .op = 'Q' };

		if (send(sv[0], &m, sizeof(m), MSG_NOSIGNAL) < 0)
			kill(helper, SIGTERM);
		waitpid(helper, NULL, 0);
	}
#ifdef HAVE_S6
	if (opt.s6d) {
		s6_fdholder_end(&a);
		bench_daemon_track(s6pid, false);
		kill(s6pid, SIGTERM);
		waitpid(s6pid, NULL, 0);
	}
#endif
	bench_luod_stop(&d);
	return 0;
}
