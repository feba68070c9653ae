// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `luoctl update --exec PATH`: luod hands everything to a new binary (a
 * copy of itself in the test directory), and when PATH cannot be executed
 * the update does not happen: luoctl fails, luod is still the old process,
 * back in its previous state with every session and connection intact.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "e2e.h"

static struct luod_proc d;

static int setup(void **state)
{
	(void)state;
	luod_start(&d, NULL);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	assert_true(luod_alive(&d));
	luod_stop(&d);
	return 0;
}

static void write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void copy_luod(const char *dst)
{
	const char *src = getenv("LUOD");
	struct stat st;
	char *buf;
	int fd;

	assert_non_null(src);
	fd = open(src, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	buf = malloc((size_t)st.st_size);
	assert_non_null(buf);
	assert_int_equal(read(fd, buf, (size_t)st.st_size), st.st_size);
	close(fd);
	write_file(dst, buf, (size_t)st.st_size, 0755);
	free(buf);
}

static void exe_of(pid_t pid, char *buf, size_t len)
{
	char link[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/%d/exe", (int)pid);
	n = readlink(link, buf, len - 1);
	assert_true(n > 0);
	buf[n] = '\0';
}

struct world {
	int dev, s[2], fds[2];
};

static void world_make(struct world *w)
{
	w->dev = e2e_open(&d);
	w->s[0] = luo_create_session(w->dev, "one");
	w->s[1] = luo_create_session(w->dev, "two");
	assert_true(w->s[0] >= 0 && w->s[1] >= 0);
	for (int i = 0; i < 2; i++) {
		w->fds[i] = memfd_pattern("exec", 65536, 300u + (uint32_t)i);
		assert_int_equal(luo_session_preserve_fd(w->s[i], w->fds[i], 1), 0);
	}
}

static void world_retrieve(struct world *w)
{
	static const char *const names[] = { "one", "two" };
	int dev = e2e_open(&d);

	for (int i = 0; i < 2; i++) {
		int h = luo_retrieve_session(dev, names[i]), fd;

		assert_true(h >= 0);
		fd = luo_session_retrieve_fd(h, 1);
		assert_true(memfd_pattern_ok(fd, 65536, 300u + (uint32_t)i));
		close(fd);
		assert_int_equal(luo_session_finish(h), 0);
		close(h);
		close(w->s[i]);
		close(w->fds[i]);
	}
	e2e_assert_state(&d, "normal");
	close(w->dev);
	close(dev);
}

static void test_exec_new_binary(void **state)
{
	char path[PATH_MAX], exe[PATH_MAX];
	long long gen = luod_status_field(&d, "generation");
	struct world w;

	(void)state;
	snprintf(path, sizeof(path), "%s/luod.new", d.dir);
	copy_luod(path);
	world_make(&w);
	luod_update(&d, path);
	exe_of(d.pid, exe, sizeof(exe));
	assert_string_equal(exe, path);
	assert_int_equal(luod_status_field(&d, "pid"), d.pid);
	assert_int_equal(luod_status_field(&d, "generation"), gen + 1);
	e2e_assert_state(&d, "updated");
	world_retrieve(&w);

	/* the new binary updates again, to itself */
	world_make(&w);
	luod_update(&d, NULL);
	exe_of(d.pid, exe, sizeof(exe));
	assert_string_equal(exe, path);
	assert_int_equal(luod_status_field(&d, "generation"), gen + 2);
	world_retrieve(&w);
}

/* After a failed update: the same process, the same state, every handle still connected. */
static void after_failure(struct world *w, long long gen, enum luo_state global)
{
	enum luo_state st;
	int fd;

	assert_true(luod_alive(&d));
	assert_int_equal(luod_status_field(&d, "pid"), d.pid);
	assert_int_equal(luod_status_field(&d, "generation"), gen);
	assert_int_equal(luod_status_field(&d, "updates"), 0);
	e2e_assert_state(&d, global == LUO_STATE_NORMAL ? "normal" : "updated");
	assert_int_equal(luo_get_state(w->dev, &st), 0);
	assert_int_equal(st, global);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(luo_session_get_state(w->s[i], &st, NULL), 0);
		assert_int_equal(st, LUO_STATE_NORMAL);
		assert_true(memfd_pattern_ok(w->fds[i], 65536, 300u + (uint32_t)i));
	}
	assert_int_equal(e2e_session_files(&d, "one"), 1);
	assert_int_equal(e2e_session_files(&d, "two"), 1);
	/* preserving works again, and the session can still be carried */
	fd = memfd_pattern("again", 4096, 1);
	assert_int_equal(luo_session_preserve_fd(w->s[0], fd, 2), 0);
	assert_int_equal(luo_session_unpreserve_fd(w->s[0], 2), 0);
	close(fd);
}

static bool log_has(const char *what)
{
	char buf[65536];
	int fd = open(d.log, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	assert_true(n >= 0);
	buf[n] = '\0';
	return strstr(buf, what) != NULL;
}

static void test_exec_not_executable(void **state)
{
	char path[PATH_MAX], out[4096];
	long long gen = luod_status_field(&d, "generation");
	struct world w;

	(void)state;
	snprintf(path, sizeof(path), "%s/luod.noexec", d.dir);
	copy_luod(path);
	assert_int_equal(chmod(path, 0644), 0);
	world_make(&w);
	assert_int_equal(luoctl(&d, out, sizeof(out), "update", "--exec", path, NULL), 1);
	after_failure(&w, gen, LUO_STATE_NORMAL);
	assert_true(log_has("not executable"));

	/* a path that does not exist: luoctl refuses before asking */
	snprintf(path, sizeof(path), "%s/missing", d.dir);
	assert_int_equal(luoctl(&d, out, sizeof(out), "update", "--exec", path, NULL), 1);
	after_failure(&w, gen, LUO_STATE_NORMAL);

	luod_update(&d, NULL);
	assert_int_equal(luod_status_field(&d, "generation"), gen + 1);
	world_retrieve(&w);
}

/*
 * Executable but not a program: execve() itself fails (ENOEXEC) after
 * PREPARE, FREEZE and the FDT, so this is the real rollback path.
 */
static void test_exec_fails_rollback(void **state)
{
	static const char garbage[] = "\x7f" "ELG not an executable\n\x01\x02\x03";
	char path[PATH_MAX], out[4096];
	long long gen = luod_status_field(&d, "generation");
	int base;
	struct world w;

	(void)state;
	snprintf(path, sizeof(path), "%s/luod.garbage", d.dir);
	write_file(path, garbage, sizeof(garbage), 0755);
	world_make(&w);
	base = e2e_luod_fds(&d);
	assert_int_equal(luoctl(&d, out, sizeof(out), "update", "--exec", path, NULL), 1);
	assert_true(log_has("rolling back"));
	after_failure(&w, gen, LUO_STATE_NORMAL);
	/* the handover memfd was dropped, nothing else leaked */
	assert_int_equal(e2e_luod_fds(&d), base);

	/* the same from UPDATED: back to UPDATED, the incoming session still waiting */
	luod_update(&d, NULL);
	close(w.dev);
	close(w.s[0]);
	close(w.s[1]);
	w.dev = e2e_open(&d);
	w.s[0] = luo_create_session(w.dev, "three");
	assert_true(w.s[0] >= 0);
	assert_int_equal(luoctl(&d, out, sizeof(out), "update", "--exec", path, NULL), 1);
	assert_int_equal(luod_status_field(&d, "generation"), gen + 1);
	e2e_assert_state(&d, "updated");
	assert_int_equal(e2e_session_files(&d, "one"), 1);
	assert_int_equal(e2e_session_files(&d, "two"), 1);
	assert_int_equal(e2e_session_files(&d, "three"), 0);
	close(w.s[0]);
	w.s[0] = e2e_open(&d); /* world_retrieve closes these */
	w.s[1] = e2e_open(&d);
	world_retrieve(&w);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_setup_teardown(test_exec_new_binary, setup, teardown),
	cmocka_unit_test_setup_teardown(test_exec_not_executable, setup, teardown),
	cmocka_unit_test_setup_teardown(test_exec_fails_rollback, setup, teardown),
};

LUO_TEST_MAIN("exec", tests, NULL, NULL)
