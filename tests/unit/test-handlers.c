// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The file handlers on their own: which handler the table picks for each
 * fd type (and which types none takes), and that retrieve() accepts the fd
 * it recorded but refuses, with EIO, an fd that is not what the payload
 * says: another object of the same type, the other end, another mode,
 * clock, interval, offset or address. A payload cut short is EINVAL.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "harness.h"
#include "core/luod.h"

/* the core knows the fd types only once they are registered, as luod's main() does */
__attribute__((constructor)) static void register_handlers(void)
{
	handlers_register();
}

static char dir[] = "/tmp/luo-unit-handlers.XXXXXX";

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[64];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static const struct luo_file_handler *pick(int fd)
{
	struct luo_probe probe;
	struct stat st;

	assert_int_equal(fstat(fd, &st), 0);
	return luo_handler_find(fd, &st, &probe);
}

/* Record fd with h (preserve and freeze), then retrieve with other in its place. */
static int swap_retrieve(const struct luo_file_handler *h, int fd, int other)
{
	struct luo_file file = { .handler = h, .token = 7, .fd = fd };
	int r;

	assert_int_equal(h->preserve(&file, NULL), 0);
	assert_int_equal(h->freeze(&file), 0);
	file.fd = other;
	r = h->retrieve(&file);
	free(file.payload);
	return r;
}

/* The same, with a change made to fd between freeze and retrieve. */
static int change_retrieve(const struct luo_file_handler *h, int fd, void (*change)(int fd))
{
	struct luo_file file = { .handler = h, .token = 8, .fd = fd };
	int r;

	assert_int_equal(h->preserve(&file, NULL), 0);
	assert_int_equal(h->freeze(&file), 0);
	change(fd);
	r = h->retrieve(&file);
	free(file.payload);
	return r;
}

/* A payload one byte short is refused, not read past its end. */
static void assert_short_payload(const struct luo_file_handler *h, int fd)
{
	struct luo_file file = { .handler = h, .token = 9, .fd = fd };

	assert_int_equal(h->preserve(&file, NULL), 0);
	file.payload_len--;
	assert_int_equal(h->retrieve(&file), -EINVAL);
	free(file.payload);
}

static void test_table(void **state)
{
	char path[128];
	int fd, p[2], sv[2], kvm, vm;

	(void)state;
	fd = memfd_create("m", MFD_CLOEXEC);
	assert_ptr_equal(pick(fd), &luo_memfd_handler);
	close(fd);
	snprintf(path, sizeof(path), "%s/plain", dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	assert_ptr_equal(pick(fd), &luo_regular_handler);
	close(fd);
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	assert_ptr_equal(pick(fd), &luo_regular_handler);
	close(fd);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_ptr_equal(pick(p[0]), &luo_pipe_handler);
	assert_ptr_equal(pick(p[1]), &luo_pipe_handler);
	close(p[0]);
	close(p[1]);
	snprintf(path, sizeof(path), "%s/fifo", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	fd = open(path, O_RDWR | O_CLOEXEC);
	assert_ptr_equal(pick(fd), &luo_pipe_handler);
	close(fd);
	fd = eventfd(0, EFD_CLOEXEC);
	assert_ptr_equal(pick(fd), &luo_eventfd_handler);
	close(fd);
	fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	assert_ptr_equal(pick(fd), &luo_timerfd_handler);
	close(fd);
	for (int t = 0; t < 3; t++) {
		static const int types[] = { SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET };

		fd = socket(AF_UNIX, types[t] | SOCK_CLOEXEC, 0);
		assert_ptr_equal(pick(fd), &luo_socket_handler);
		close(fd);
		/* this process stands for luod: a pair it made itself is luod's own, refused */
		assert_int_equal(socketpair(AF_UNIX, types[t] | SOCK_CLOEXEC, 0, sv), 0);
		assert_null(pick(sv[0]));
		close(sv[0]);
		close(sv[1]);
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_ptr_equal(pick(fd), &luo_socket_handler);
	close(fd);
	fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		assert_ptr_equal(pick(fd), &luo_socket_handler);
		close(fd);
	}

	/* nobody's: ENOENT for the client */
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	assert_null(pick(fd));
	close(fd);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_null(pick(fd));
	close(fd);
	fd = epoll_create1(EPOLL_CLOEXEC);
	assert_null(pick(fd));
	close(fd);
	{
		sigset_t mask;

		sigemptyset(&mask);
		sigaddset(&mask, SIGUSR1);
		fd = signalfd(-1, &mask, SFD_CLOEXEC);
		assert_null(pick(fd));
		close(fd);
	}
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd >= 0) {
		assert_null(pick(fd));
		close(fd);
	}
	fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
	if (fd >= 0) {
		assert_null(pick(fd));
		close(fd);
	}

	/* a KVM VM fd is taken by the KVM refusal, whose preserve says ENOENT */
	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm >= 0) {
		assert_null(pick(kvm));
		vm = ioctl(kvm, KVM_CREATE_VM, 0);
		if (vm >= 0) {
			struct luo_file file = { .handler = &luo_kvm_handler, .token = 1, .fd = vm };

			assert_ptr_equal(pick(vm), &luo_kvm_handler);
			assert_int_equal(luo_kvm_handler.preserve(&file, NULL), -ENOENT);
			close(vm);
		}
		close(kvm);
	}
}

static void set_pipe_size(int fd)
{
	assert_true(fcntl(fd, F_SETPIPE_SZ, 2 * 65536) >= 0);
}

static void test_pipe(void **state)
{
	const struct luo_file_handler *h = &luo_pipe_handler;
	int a[2], b[2];

	(void)state;
	assert_int_equal(pipe2(a, O_CLOEXEC), 0);
	assert_int_equal(pipe2(b, O_CLOEXEC), 0);
	assert_int_equal(swap_retrieve(h, a[0], a[0]), 0);
	assert_int_equal(swap_retrieve(h, a[1], a[1]), 0);
	assert_int_equal(swap_retrieve(h, a[0], b[0]), -EIO); /* another pipe */
	assert_int_equal(swap_retrieve(h, a[0], a[1]), -EIO); /* the other end */
	assert_int_equal(change_retrieve(h, a[0], set_pipe_size), -EIO);
	assert_short_payload(h, a[0]);
	{
		int fd = eventfd(0, EFD_CLOEXEC);

		assert_int_equal(swap_retrieve(h, a[0], fd), -EIO); /* not a pipe at all */
		close(fd);
	}
	for (int i = 0; i < 2; i++) {
		close(a[i]);
		close(b[i]);
	}
}

static void set_nonblock(int fd)
{
	assert_int_equal(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), 0);
}

static void post(int fd)
{
	uint64_t v = 3;

	assert_int_equal(write(fd, &v, sizeof(v)), sizeof(v));
}

static void test_eventfd(void **state)
{
	const struct luo_file_handler *h = &luo_eventfd_handler;
	int a = eventfd(1, EFD_CLOEXEC), b = eventfd(1, EFD_CLOEXEC);
	int sem = eventfd(1, EFD_CLOEXEC | EFD_SEMAPHORE);
	int t = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);

	(void)state;
	assert_int_equal(swap_retrieve(h, a, a), 0);
	assert_int_equal(swap_retrieve(h, sem, sem), 0);
	/* a peer posting during the blackout is no change of the eventfd */
	assert_int_equal(change_retrieve(h, a, post), 0);
	assert_int_equal(swap_retrieve(h, a, sem), -EIO); /* semaphore mode differs */
	assert_int_equal(swap_retrieve(h, a, t), -EIO);   /* a timerfd */
	assert_int_equal(change_retrieve(h, b, set_nonblock), -EIO);
	assert_short_payload(h, a);
	{
		char line[64];
		char path[64];
		FILE *f;
		bool has_id = false;

		snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", a);
		f = fopen(path, "r");
		assert_non_null(f);
		while (fgets(line, sizeof(line), f))
			has_id |= !strncmp(line, "eventfd-id:", 11);
		fclose(f);
		/* two plain eventfds differ only by their id, where the kernel shows one */
		if (has_id) {
			int c = eventfd(1, EFD_CLOEXEC);

			assert_int_equal(swap_retrieve(h, a, c), -EIO);
			close(c);
		}
	}
	close(a);
	close(b);
	close(sem);
	close(t);
}

static void rearm_other_interval(int fd)
{
	struct itimerspec its = { .it_interval = { 2, 0 }, .it_value = { 2, 0 } };

	assert_int_equal(timerfd_settime(fd, 0, &its, NULL), 0);
}

static void disarm(int fd)
{
	struct itimerspec its = { 0 };

	assert_int_equal(timerfd_settime(fd, 0, &its, NULL), 0);
}

static void test_timerfd(void **state)
{
	const struct luo_file_handler *h = &luo_timerfd_handler;
	struct itimerspec its = { .it_interval = { 1, 0 }, .it_value = { 1, 0 } };
	int mono = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	int boot = timerfd_create(CLOCK_BOOTTIME, TFD_CLOEXEC);
	int e = eventfd(0, EFD_CLOEXEC);

	(void)state;
	assert_int_equal(timerfd_settime(mono, 0, &its, NULL), 0);
	assert_int_equal(timerfd_settime(boot, 0, &its, NULL), 0);
	assert_int_equal(swap_retrieve(h, mono, mono), 0);
	assert_int_equal(swap_retrieve(h, mono, boot), -EIO); /* other clock */
	assert_int_equal(swap_retrieve(h, mono, e), -EIO);    /* an eventfd */
	assert_int_equal(change_retrieve(h, mono, rearm_other_interval), -EIO);
	assert_int_equal(timerfd_settime(mono, 0, &its, NULL), 0);
	assert_int_equal(change_retrieve(h, mono, disarm), -EIO); /* a periodic timer stopped */
	assert_short_payload(h, mono);
	close(mono);
	close(boot);
	close(e);
}

static void seek_on(int fd)
{
	assert_true(lseek(fd, 100, SEEK_CUR) >= 0);
}

static void rename_it(int fd)
{
	char from[128], to[128];

	(void)fd;
	snprintf(from, sizeof(from), "%s/reg", dir);
	snprintf(to, sizeof(to), "%s/reg-renamed", dir);
	assert_int_equal(rename(from, to), 0);
}

static void grow_it(int fd)
{
	assert_int_equal(ftruncate(fd, 8192), 0);
}

static void seal_it(int fd)
{
	assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_GROW), 0);
}

/* A v1 payload, as an older luod wrote it: size, seals, name length, name. */
static int retrieve_v1(int fd, uint64_t size, uint32_t seals, const char *name)
{
	uint32_t n = (uint32_t)strlen(name);
	unsigned char payload[16 + 64];
	struct luo_file file = { .handler = &luo_memfd_handler, .token = 10, .fd = fd,
				 .payload = payload };

	memcpy(payload, &size, 8);
	memcpy(payload + 8, &seals, 4);
	memcpy(payload + 12, &n, 4);
	memcpy(payload + 16, name, n);
	file.payload_len = 16 + n;
	return luo_memfd_handler.retrieve(&file);
}

static void test_memfd(void **state)
{
	const struct luo_file_handler *h = &luo_memfd_handler;
	int a, b, c, huge, shm;
	char path[64];

	(void)state;
	a = memfd_create("a", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	b = memfd_create("a", MFD_CLOEXEC | MFD_ALLOW_SEALING); /* same name, size and seals */
	c = memfd_create("c", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	assert_true(a >= 0 && b >= 0 && c >= 0);
	assert_int_equal(ftruncate(a, 4096), 0);
	assert_int_equal(ftruncate(b, 4096), 0);
	assert_int_equal(ftruncate(c, 4096), 0);

	/* through the table, as file_preserve() does it: can_preserve() then preserve() */
	{
		struct luo_file file = { .handler = h, .token = 11, .fd = a };
		struct luo_probe probe;
		struct stat st;

		assert_int_equal(fstat(a, &st), 0);
		file.dev = st.st_dev;
		file.ino = st.st_ino;
		assert_ptr_equal(luo_handler_find(a, &st, &probe), h);
		assert_int_equal(h->preserve(&file, &probe), 0);
		assert_int_equal(h->freeze(&file), 0);
		assert_int_equal(h->size(&file), 4096);
		assert_int_equal(h->retrieve(&file), 0);
		file.fd = b;
		assert_int_equal(h->retrieve(&file), -EIO); /* the wrong memfd, alike in all but inode */
		free(file.payload);
	}
	assert_int_equal(swap_retrieve(h, a, a), 0);
	assert_int_equal(swap_retrieve(h, a, b), -EIO);
	assert_int_equal(swap_retrieve(h, a, c), -EIO);
	assert_int_equal(change_retrieve(h, c, grow_it), -EIO);
	assert_int_equal(change_retrieve(h, c, seal_it), -EIO);
	assert_short_payload(h, a);

	/* without MFD_ALLOW_SEALING: F_SEAL_SEAL from the start, seals taken from the record */
	{
		int d = memfd_create("d", MFD_CLOEXEC), e = memfd_create("d", MFD_CLOEXEC);

		assert_true(d >= 0 && e >= 0);
		assert_int_equal(ftruncate(d, 4096), 0);
		assert_int_equal(ftruncate(e, 4096), 0);
		assert_int_equal(swap_retrieve(h, d, d), 0);
		assert_int_equal(swap_retrieve(h, d, e), -EIO); /* another inode */
		assert_int_equal(change_retrieve(h, d, grow_it), -EIO);
		close(d);
		close(e);
	}

	/* the successor's cheap type check (is_type) instead of fstat */
	{
		int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), dead = dup(a);

		assert_true(sock >= 0 && dead >= 0);
		close(dead);
		assert_int_equal(h->is_type(a), 0);
		assert_int_equal(h->is_type(sock), -EBADFD);
		assert_int_equal(h->is_type(dead), -EBADF);
		assert_int_equal(luo_socket_handler.is_type(sock), 0);
		assert_int_equal(luo_socket_handler.is_type(a), -EBADFD);
		assert_int_equal(luo_socket_handler.is_type(dead), -EBADF);
		close(sock);
	}

	/* an older luod's v1 payload is still read, and the name still checked */
	assert_int_equal(retrieve_v1(a, 4096, 0, "a"), 0);
	assert_int_equal(retrieve_v1(a, 4096, 0, "b"), -EIO);
	assert_int_equal(retrieve_v1(a, 8192, 0, "a"), -EIO);

	/* off the shm mount: a hugetlb memfd is still a memfd, a tmpfs file is not */
	huge = memfd_create("huge", MFD_CLOEXEC | MFD_HUGETLB);
	if (huge >= 0) {
		assert_ptr_equal(pick(huge), h);
		close(huge);
	} else {
		print_message("# no MFD_HUGETLB here (%s): that case not checked\n", strerror(errno));
	}
	snprintf(path, sizeof(path), "/dev/shm/luo-unit-memfd.%d", (int)getpid());
	shm = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (shm >= 0) {
		unlink(path);
		assert_ptr_equal(pick(shm), &luo_regular_handler);
		close(shm);
	}
	close(a);
	close(b);
	close(c);
}

static void test_regular(void **state)
{
	const struct luo_file_handler *h = &luo_regular_handler;
	char path[128], other[128];
	int fd, fd2, app, tmp;

	(void)state;
	snprintf(path, sizeof(path), "%s/reg", dir);
	snprintf(other, sizeof(other), "%s/other", dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	fd2 = open(other, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	app = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	tmp = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	assert_true(fd >= 0 && fd2 >= 0 && app >= 0 && tmp >= 0);
	assert_int_equal(swap_retrieve(h, fd, fd), 0);
	assert_int_equal(swap_retrieve(h, tmp, tmp), 0);
	assert_int_equal(swap_retrieve(h, fd, fd2), -EIO); /* another inode */
	assert_int_equal(swap_retrieve(h, fd, app), -EIO); /* same inode, other flags */
	assert_int_equal(change_retrieve(h, fd, seek_on), -EIO);
	assert_int_equal(change_retrieve(h, app, seek_on), 0); /* O_APPEND: offset moves anyway */
	assert_int_equal(change_retrieve(h, fd, set_nonblock), -EIO);
	assert_int_equal(change_retrieve(h, app, rename_it), 0); /* renamed: still that file */
	assert_short_payload(h, fd2);
	close(fd);
	close(fd2);
	close(app);
	close(tmp);
}

static void do_listen(int fd)
{
	assert_int_equal(listen(fd, 4), 0);
}

static int tcp_bound(int type)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	return fd;
}

static void test_socket(void **state)
{
	const struct luo_file_handler *h = &luo_socket_handler;
	int a = tcp_bound(SOCK_STREAM), b = tcp_bound(SOCK_STREAM), u = tcp_bound(SOCK_DGRAM);
	int p[2];

	(void)state;
	assert_int_equal(swap_retrieve(h, a, a), 0);
	assert_int_equal(swap_retrieve(h, a, b), -EIO); /* another port */
	assert_int_equal(swap_retrieve(h, a, u), -EIO); /* UDP */
	assert_int_equal(change_retrieve(h, a, do_listen), -EIO); /* listening now */
	assert_int_equal(swap_retrieve(h, a, a), 0);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(swap_retrieve(h, a, p[0]), -EIO); /* not a socket */
	assert_short_payload(h, a);
	close(p[0]);
	close(p[1]);
	close(a);
	close(b);
	close(u);
}

/*
 * A TCP listener on IPv4 (127.0.0.1) or IPv6: the i-th of ::1, :: (dual
 * stack: IPV6_V6ONLY off) and the v4-mapped ::ffff:127.0.0.1, port chosen
 * by the kernel; -1 where the machine has no IPv6.
 */
static int listener(int family, int i)
{
	static const char *const six[] = { "::1", "::", "::ffff:127.0.0.1" };
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };
	int fd, off = 0;

	if (family == AF_INET) {
		fd = tcp_bound(SOCK_STREAM);
		do_listen(fd);
		return fd;
	}
	fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	assert_int_equal(inet_pton(AF_INET6, six[i % 3], &sin6.sin6_addr), 1);
	assert_int_equal(setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)), 0);
	if (bind(fd, (struct sockaddr *)&sin6, sizeof(sin6)) < 0) {
		close(fd);
		return -1;
	}
	do_listen(fd);
	return fd;
}

/*
 * The same socket (same inode) listening at another address: shutdown()
 * stops it and lets its port go, and it is bound and listens again, on
 * 127.0.0.2 or :: this time.
 */
static void listen_elsewhere(int fd, int family)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000002) };
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT };

	assert_int_equal(shutdown(fd, SHUT_RD), 0);
	if (family == AF_INET)
		assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	else
		assert_int_equal(bind(fd, (struct sockaddr *)&sin6, sizeof(sin6)), 0);
	do_listen(fd);
}

/* Preserve a TCP listener of family as token i, as the core does it. */
static bool preserve_listener(struct luo_file *file, int family, int i)
{
	struct stat st;
	int fd = listener(family, i);

	if (fd < 0)
		return false;
	assert_int_equal(fstat(fd, &st), 0);
	*file = (struct luo_file){ .handler = &luo_socket_handler, .token = (uint64_t)i, .fd = fd,
				   .dev = st.st_dev, .ino = st.st_ino };
	assert_int_equal(luo_socket_handler.preserve(file, NULL), 0);
	return true;
}

/*
 * A global freeze of many TCP listeners (freeze_round): past the first few,
 * the listeners' state comes from one sock_diag dump of their family, and
 * it is still each socket's own. One listener stops listening (shutdown)
 * after preserve and before the freeze, one listens again elsewhere: the
 * freeze records both, so their retrieve succeeds; one stops after the
 * freeze: its retrieve fails with EIO; the rest come back. On IPv6 the
 * listeners are on ::1, on :: (dual stack) and on ::ffff:127.0.0.1.
 */
static void freeze_round(int family)
{
	enum { N = 100 };
	const struct luo_file_handler *h = &luo_socket_handler;
	struct luo_file files[N];

	for (int i = 0; i < N; i++)
		if (!preserve_listener(&files[i], family, i)) {
			assert_int_equal(i, 0);
			skip(); /* no IPv6 */
		}
	assert_int_equal(shutdown(files[70].fd, SHUT_RD), 0); /* no longer listening */
	listen_elsewhere(files[75].fd, family);
	h->freeze_round(true);
	for (int i = 0; i < N; i++)
		assert_int_equal(h->freeze(&files[i]), 0);
	h->freeze_round(false);
	assert_int_equal(shutdown(files[80].fd, SHUT_RD), 0);
	for (int i = 0; i < N; i++) {
		assert_int_equal(h->retrieve(&files[i]), i == 80 ? -EIO : 0);
		free(files[i].payload);
		close(files[i].fd);
	}
}

static void test_socket_freeze_round(void **state)
{
	(void)state;
	freeze_round(AF_INET);
}

static void test_socket6_freeze_round(void **state)
{
	(void)state;
	freeze_round(AF_INET6);
}

/*
 * Where the dump answers for a listener, the freeze does not read its fd:
 * IPv4 and IPv6 listeners frozen in one round, alternately, and from the
 * middle of each family on the freeze is given fd -1. Those come back as
 * they were; the one that stopped listening before the freeze is read on
 * its own (EBADF from the fd -1), as is any listener while the dump is
 * not yet worth reading (the first few of each family).
 */
static void test_socket_freeze_dump(void **state)
{
	enum { N = 100 };
	const struct luo_file_handler *h = &luo_socket_handler;
	static struct luo_file files[2][N];
	static const int family[2] = { AF_INET, AF_INET6 };
	int fds[2][N];

	(void)state;
	for (int f = 0; f < 2; f++)
		for (int i = 0; i < N; i++) {
			if (!preserve_listener(&files[f][i], family[f], i)) {
				assert_true(f == 1 && i == 0);
				skip(); /* no IPv6 */
			}
			fds[f][i] = files[f][i].fd;
		}
	for (int f = 0; f < 2; f++)
		assert_int_equal(shutdown(fds[f][90], SHUT_RD), 0);
	h->freeze_round(true);
	for (int i = 0; i < N; i++)
		for (int f = 0; f < 2; f++) {
			if (i >= N / 2)
				files[f][i].fd = -1;
			assert_int_equal(h->freeze(&files[f][i]), i == 90 ? -EBADF : 0);
		}
	h->freeze_round(false);
	for (int f = 0; f < 2; f++)
		for (int i = 0; i < N; i++) {
			files[f][i].fd = fds[f][i];
			if (i != 90)
				assert_int_equal(h->retrieve(&files[f][i]), 0);
			free(files[f][i].payload);
			close(fds[f][i]);
		}
}

/*
 * The socket payload: v2 keeps each address at its own length (40 bytes
 * for a TCP listener on IPv4); a v1 payload, as an older luod wrote it
 * (both addresses at 128 bytes), is still read and checked; a v2 payload
 * whose lengths do not add up is refused.
 */
static void test_socket_payloads(void **state)
{
	struct {
		int32_t family, type, protocol;
		uint32_t flags, local_len, peer_len;
		struct sockaddr_storage local, peer;
	} v1 = { .family = AF_INET, .type = SOCK_STREAM, .protocol = IPPROTO_TCP,
		 .flags = 0x1 /* listening */ };
	const struct luo_file_handler *h = &luo_socket_handler;
	int a = tcp_bound(SOCK_STREAM), b = tcp_bound(SOCK_STREAM), sv[2];
	struct luo_file file = { .handler = h, .token = 10, .fd = a };
	socklen_t len = sizeof(v1.local);

	(void)state;
	do_listen(a);
	do_listen(b);
	assert_int_equal(h->preserve(&file, NULL), 0);
	assert_int_equal(h->freeze(&file), 0);
	assert_int_equal(file.payload_len, 24 + sizeof(struct sockaddr_in));
	assert_int_equal(h->retrieve(&file), 0);
	file.payload[16] = 200; /* local_len past what the payload holds */
	assert_int_equal(h->retrieve(&file), -EINVAL);

	assert_int_equal(getsockname(a, (struct sockaddr *)&v1.local, &len), 0);
	v1.local_len = len;
	assert_int_equal(file_set_payload(&file, &v1, sizeof(v1)), 0);
	assert_int_equal(file.payload_len, 280);
	assert_int_equal(h->retrieve(&file), 0);
	file.fd = b; /* another port */
	assert_int_equal(h->retrieve(&file), -EIO);
	free(file.payload);

	/* connected: local and peer, each at its length */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	file = (struct luo_file){ .handler = h, .token = 11, .fd = sv[0] };
	assert_int_equal(h->preserve(&file, NULL), 0);
	assert_true(file.payload_len >= 24 && file.payload_len < 280);
	assert_int_equal(h->retrieve(&file), 0);
	free(file.payload);
	close(sv[0]);
	close(sv[1]);
	close(a);
	close(b);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_table),
	cmocka_unit_test(test_pipe),
	cmocka_unit_test(test_eventfd),
	cmocka_unit_test(test_timerfd),
	cmocka_unit_test(test_memfd),
	cmocka_unit_test(test_regular),
	cmocka_unit_test(test_socket),
	cmocka_unit_test(test_socket_payloads),
	cmocka_unit_test(test_socket_freeze_round),
	cmocka_unit_test(test_socket6_freeze_round),
	cmocka_unit_test(test_socket_freeze_dump),
};

LUO_TEST_MAIN("unit-handlers", tests, setup, teardown)
