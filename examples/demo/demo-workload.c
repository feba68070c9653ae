// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * demo-workload — a service that keeps its memory and its listening socket
 * across a live update, using only <luo/luo.h>.
 *
 *   demo-workload start [--port P] [--mib N]
 *       create session "demo", fill a memfd of N MiB with a pattern, listen
 *       on 127.0.0.1:P (0: any free port, printed), preserve both, and hold
 *       the session until luod goes away (as a process dies in a kexec).
 *   demo-workload resume
 *       retrieve session "demo", check the memfd's checksum, accept one
 *       connection on the inherited socket and answer it, finish the session.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "luo/luo.h"

#define SESSION "demo"
#define TOKEN_MEMORY 1
#define TOKEN_LISTENER 2
#define HEADER_SIZE 64

static int die(const char *what, int err)
{
	fprintf(stderr, "demo-workload: %s: %s\n", what, strerror(err < 0 ? -err : err));
	return 1;
}

/* FNV-1a over the pattern area: the data the update must not touch. */
static uint64_t checksum(const unsigned char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

static int cmd_start(unsigned port, size_t mib)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t salen = sizeof(sa);
	size_t size = mib << 20;
	unsigned char *mem;
	int dev, session, memfd, lfd, one = 1, r;
	uint64_t sum;

	dev = luo_open(NULL);
	if (dev < 0)
		return die("luo_open", dev);
	session = luo_create_session(dev, SESSION);
	if (session < 0)
		return die("create session " SESSION, session);

	memfd = memfd_create("demo-memory", MFD_CLOEXEC);
	if (memfd < 0 || ftruncate(memfd, (off_t)size) < 0)
		return die("memfd", errno);
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	if (mem == MAP_FAILED)
		return die("mmap", errno);
	for (size_t i = HEADER_SIZE; i < size; i++)
		mem[i] = (unsigned char)(i * 2654435761u >> 13);
	sum = checksum(mem + HEADER_SIZE, size - HEADER_SIZE);
	snprintf((char *)mem, HEADER_SIZE, "%016" PRIx64, sum);
	munmap(mem, size);

	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	sa.sin_port = htons((uint16_t)port);
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 64) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &salen) < 0)
		return die("listen", errno);

	r = luo_session_preserve_fd(session, memfd, TOKEN_MEMORY);
	if (r < 0)
		return die("preserve memfd", r);
	r = luo_session_preserve_fd(session, lfd, TOKEN_LISTENER);
	if (r < 0)
		return die("preserve socket", r);
	close(memfd);
	close(lfd);
	close(dev);

	printf("port %u\n", ntohs(sa.sin_port));
	printf("memfd %zu MiB, checksum %016" PRIx64 "\n", mib, sum);
	fflush(stdout);

	/* hold the session until luod's handover drops it */
	for (;;) {
		struct pollfd p = { .fd = session, .events = POLLIN };

		if (poll(&p, 1, -1) > 0 && (p.revents & (POLLHUP | POLLIN | POLLERR)))
			break;
	}
	printf("luod went away: exiting as a process does in a kexec\n");
	return 0;
}

static int cmd_resume(void)
{
	uint64_t tokens[2] = { TOKEN_MEMORY, TOKEN_LISTENER };
	int fds[2], dev, session, conn, r;
	char want[HEADER_SIZE], msg[128];
	unsigned char *mem;
	enum luo_state state;
	bool incoming;
	struct stat st;
	uint64_t sum;
	ssize_t n;

	dev = luo_open(NULL);
	if (dev < 0)
		return die("luo_open", dev);
	session = luo_retrieve_session(dev, SESSION);
	if (session < 0)
		return die("retrieve session " SESSION, session);
	r = luo_session_get_state(session, &state, &incoming);
	if (r < 0)
		return die("session state", r);
	r = luo_session_retrieve_fds(session, tokens, fds, 2);
	if (r < 0)
		return die("retrieve fds", r);

	if (fstat(fds[0], &st) < 0)
		return die("fstat", errno);
	mem = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fds[0], 0);
	if (mem == MAP_FAILED)
		return die("mmap", errno);
	memcpy(want, mem, HEADER_SIZE);
	want[HEADER_SIZE - 1] = '\0';
	sum = checksum(mem + HEADER_SIZE, (size_t)st.st_size - HEADER_SIZE);
	snprintf(msg, sizeof(msg), "%016" PRIx64, sum);
	if (strcmp(msg, want)) {
		fprintf(stderr, "demo-workload: memory checksum %s, expected %s\n", msg, want);
		return 1;
	}
	printf("memfd intact: %lld MiB, checksum %s\n", (long long)st.st_size >> 20, msg);

	conn = accept(fds[1], NULL, NULL);
	if (conn < 0)
		return die("accept on the inherited socket", errno);
	n = read(conn, msg, sizeof(msg) - 1);
	if (n < 0)
		return die("read", errno);
	msg[n] = '\0';
	dprintf(conn, "served by the restarted workload: %s", msg);
	close(conn);
	printf("listening socket intact: served a connection that waited in its backlog\n");

	r = luo_session_finish(session);
	if (r < 0)
		return die("finish", r);
	printf("session %s finished (it was %s)\n", SESSION,
	       state == LUO_STATE_UPDATED && incoming ? "incoming" : "?");
	return 0;
}

int main(int argc, char **argv)
{
	unsigned port = 0;
	size_t mib = 16;

	if (argc >= 2 && !strcmp(argv[1], "start")) {
		for (int i = 2; i + 1 < argc; i += 2) {
			if (!strcmp(argv[i], "--port"))
				port = (unsigned)strtoul(argv[i + 1], NULL, 10);
			else if (!strcmp(argv[i], "--mib"))
				mib = strtoul(argv[i + 1], NULL, 10);
		}
		if (mib == 0)
			mib = 1;
		return cmd_start(port, mib);
	}
	if (argc == 2 && !strcmp(argv[1], "resume"))
		return cmd_resume();
	fprintf(stderr, "usage: demo-workload start [--port P] [--mib N] | resume\n");
	return 2;
}
