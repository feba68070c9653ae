// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A randomized, bounded crash schedule against a model of what must exist.
 *
 * Each step is one of create (a session with 1..3 memfds, its handle kept),
 * preserve (one more memfd into a held session), freeze (per-session
 * FREEZE, then the handle closed: luod holds it), update (a live update of
 * luod), retrieve (an incoming session taken, every byte checked, then
 * finished or renewed: outgoing again, handle kept), finish; after each
 * step, at random, SIGKILL of luod, of its keeper, or of both one after the
 * other. The model follows what the docs promise: a live update carries
 * every outgoing session and releases the incoming ones; a crash of luod
 * brings every session back incoming with every file; a keeper's death
 * loses nothing; the update count survives both. After every step the
 * sessions luod lists must be exactly the model's (nothing released comes
 * back), each with its file count and owner uid, and the update count must
 * match; a retrieve checks every byte.
 *
 * Three modes: luod with its keeper; luod without one under the test as
 * systemd's fd store manager (crashes lose nothing); luod with
 * LUOD_NO_KEEPER=1 and no manager (a crash of luod loses every session,
 * as luod(8) says, and nothing more: it must come back empty and work).
 *
 * $LUO_CRASH_ROUNDS steps per mode (default 60: about a minute under
 * ASan), $LUO_CRASH_SEED the seed (default: the time, printed).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "e2e.h"
#include "manager.h"

#define MAXS 16
#define MAXF 8
#define SIZE 4096

enum mode { MODE_KEEPER, MODE_FDSTORE, MODE_NOKEEPER };
enum where { FREE, HELD, FROZEN, INCOMING };

static struct sess {
	enum where where;
	char name[16];
	int handle; /* HELD: the test's handle */
	int nfiles;
	uint32_t seed[MAXF];
} m[MAXS];
static long long updates;
static uint32_t next_seed = 1;
static unsigned rng;
static struct luod_proc d;
static enum mode mode;
static int dev = -1;

static unsigned rnd(unsigned n)
{
	rng = rng * 1103515245u + 12345u;
	return (rng >> 16) % n;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static int device(void)
{
	if (dev < 0)
		dev = e2e_open(&d);
	return dev;
}

static void drop_device(void)
{
	if (dev >= 0)
		close(dev);
	dev = -1;
}

static int pick(enum where w)
{
	int n = 0, which;

	for (int i = 0; i < MAXS; i++)
		n += m[i].where == w;
	if (!n)
		return -1;
	which = (int)rnd((unsigned)n);
	for (int i = 0; i < MAXS; i++)
		if (m[i].where == w && which-- == 0)
			return i;
	return -1;
}

static void add_file(struct sess *s)
{
	int fd;

	s->seed[s->nfiles] = next_seed++;
	fd = memfd_pattern(s->name, SIZE, s->seed[s->nfiles]);
	assert_true(fd >= 0);
	assert_int_equal(luo_session_preserve_fd(s->handle, fd, (uint64_t)s->nfiles + 1), 0);
	close(fd); /* luod's copy only */
	s->nfiles++;
}

static void op_create(void)
{
	int i = pick(FREE);
	struct sess *s;

	if (i < 0)
		return;
	s = &m[i];
	snprintf(s->name, sizeof(s->name), "c%u", next_seed);
	s->handle = luo_create_session(device(), s->name);
	assert_true(s->handle >= 0);
	s->where = HELD;
	s->nfiles = 0;
	for (int n = 1 + (int)rnd(3); n > 0; n--)
		add_file(s);
}

static void op_preserve(void)
{
	int i = pick(HELD);

	if (i >= 0 && m[i].nfiles < MAXF)
		add_file(&m[i]);
}

static void op_freeze(void)
{
	int i = pick(HELD);

	if (i < 0)
		return;
	assert_int_equal(luo_session_set_event(m[i].handle, LUO_EVENT_FREEZE), 0);
	close(m[i].handle);
	m[i].handle = -1;
	m[i].where = FROZEN;
	e2e_barrier(&d); /* the handle's close is handled */
}

/* Every handle the test holds is gone (an update, a crash): luod decides what stays. */
static void handles_lost(void)
{
	for (int i = 0; i < MAXS; i++)
		if (m[i].where == HELD) {
			close(m[i].handle);
			m[i].handle = -1;
		}
	drop_device();
}

static void op_update(void)
{
	for (int i = 0; i < MAXS; i++) {
		if (m[i].where == INCOMING)
			m[i].where = FREE; /* released by the update */
		else if (m[i].where == HELD || m[i].where == FROZEN)
			m[i].where = INCOMING; /* carried */
	}
	drop_device();
	luod_update(&d, NULL);
	handles_lost();
	updates++;
}

/* An incoming session, or a frozen one luod holds (handed over in place). */
static void op_retrieve(bool renew)
{
	int i = rnd(2) ? pick(INCOMING) : pick(FROZEN), s;
	struct sess *x;

	if (i < 0)
		return;
	x = &m[i];
	s = luo_retrieve_session(device(), x->name);
	if (s < 0)
		fail_msg("retrieve %s: %s (log %s)", x->name, strerror(-s), d.log);
	for (int f = 0; f < x->nfiles; f++) {
		int fd = luo_session_retrieve_fd(s, (uint64_t)f + 1);

		if (fd < 0)
			fail_msg("%s token %d: %s (log %s)", x->name, f + 1, strerror(-fd), d.log);
		assert_true(memfd_pattern_ok(fd, SIZE, x->seed[f]));
		close(fd);
	}
	if (renew) {
		assert_int_equal(luo_session_renew(s), 0);
		x->handle = s;
		x->where = HELD;
		return;
	}
	assert_int_equal(luo_session_finish(s), 0);
	close(s);
	x->where = FREE;
}

static void kill_keeper(void)
{
	pid_t k = e2e_keeper_pid(&d);

	assert_true(k > 0);
	assert_int_equal(kill(k, SIGKILL), 0);
	e2e_wait_gone(k);
	e2e_barrier(&d); /* luod has replaced it and sent it everything */
	for (int i = 0; i < 3000 && e2e_keeper_pid(&d) == k; i++)
		sleep_ms(10);
}

static void kill_luod(void)
{
	/*
	 * The handles close after the kill, as a crash leaves them: closed
	 * first, a NORMAL session would end (its files unpreserved) before.
	 */
	if (mode == MODE_FDSTORE) {
		assert_int_equal(kill(d.pid, SIGKILL), 0);
		handles_lost();
		assert_int_equal(e2e_wait(d.pid), 128 + SIGKILL);
		drain(); /* what it sent before it died, as systemd applies it */
		start_with_store(&d);
	} else {
		e2e_crash(&d);
		handles_lost();
		e2e_restart(&d);
	}
	for (int i = 0; i < MAXS; i++) {
		if (m[i].where == FREE)
			continue;
		/* every process lost its handle, as in a kexec: all of it comes back incoming */
		m[i].where = mode == MODE_NOKEEPER ? FREE : INCOMING;
	}
	if (mode == MODE_NOKEEPER)
		updates = 0; /* nothing kept it */
}

/* luod lists exactly the model's sessions, each with its files and owner. */
static void check(const char *after)
{
	char out[65536], key[64];
	int n = 0;

	for (int i = 0; i < MAXS; i++) {
		if (m[i].where == FREE)
			continue;
		n++;
		if (e2e_session_files(&d, m[i].name) != m[i].nfiles)
			fail_msg("after %s: session %s has %d files, the model %d (log %s)", after,
				 m[i].name, e2e_session_files(&d, m[i].name), m[i].nfiles, d.log);
	}
	if (luod_status_field(&d, "sessions") != n)
		fail_msg("after %s: luod has %lld sessions, the model %d (log %s)", after,
			 luod_status_field(&d, "sessions"), n, d.log);
	if (luod_status_field(&d, "updates") != updates)
		fail_msg("after %s: luod counts %lld updates, the model %lld", after,
			 luod_status_field(&d, "updates"), updates);
	/* the owner: root (the test) for every one */
	assert_int_equal(luoctl(&d, out, sizeof(out), "sessions", "--json", NULL), 0);
	snprintf(key, sizeof(key), "\"uid\": %u", 65534u);
	assert_null(strstr(out, key));
}

static void run(enum mode md)
{
	const char *env = getenv("LUO_CRASH_ROUNDS"), *seed = getenv("LUO_CRASH_SEED");
	long rounds = env ? strtol(env, NULL, 10) : 60;
	static const char *names[] = { "keeper", "fdstore", "nokeeper" };

	mode = md;
	rng = seed ? (unsigned)strtoul(seed, NULL, 10) : (unsigned)time(NULL);
	printf("# %s: %ld rounds, LUO_CRASH_SEED=%u\n", names[md], rounds, rng);
	memset(m, 0, sizeof(m));
	updates = 0;
	if (md == MODE_FDSTORE)
		manager_start();
	if (md == MODE_NOKEEPER)
		setenv("LUOD_NO_KEEPER", "1", 1);
	luod_start(&d, NULL);
	for (long r = 0; r < rounds; r++) {
		static const char *ops[] = { "create", "preserve", "freeze", "update", "retrieve",
					     "renew" };
		unsigned op = rnd(6), crash = rnd(8);
		char what[64];

		switch (op) {
		case 0: op_create(); break;
		case 1: op_preserve(); break;
		case 2: op_freeze(); break;
		case 3: op_update(); break;
		case 4: op_retrieve(false); break;
		case 5: op_retrieve(true); break;
		}
		snprintf(what, sizeof(what), "%s (round %ld)", ops[op], r);
		check(what);
		if (crash == 0 && md == MODE_KEEPER) {
			kill_keeper();
			snprintf(what, sizeof(what), "%s, keeper killed (round %ld)", ops[op], r);
			check(what);
		} else if (crash == 1 || (crash == 2 && md != MODE_KEEPER)) {
			kill_luod();
			snprintf(what, sizeof(what), "%s, luod killed (round %ld)", ops[op], r);
			check(what);
		} else if (crash == 2) {
			kill_keeper();
			kill_luod();
			snprintf(what, sizeof(what), "%s, keeper then luod killed (round %ld)", ops[op], r);
			check(what);
		}
	}
	/* what is left: every byte once more */
	for (int i = 0; i < MAXS; i++)
		if (m[i].where == HELD)
			op_freeze();
	handles_lost();
	for (int i = 0; i < MAXS; i++)
		while (m[i].where == INCOMING || m[i].where == FROZEN)
			op_retrieve(false);
	drop_device();
	luod_stop(&d);
	if (md == MODE_FDSTORE)
		manager_stop();
	unsetenv("LUOD_NO_KEEPER");
}

static void test_with_keeper(void **state)
{
	(void)state;
	run(MODE_KEEPER);
}

static void test_with_fdstore(void **state)
{
	(void)state;
	run(MODE_FDSTORE);
}

static void test_without_keeper(void **state)
{
	(void)state;
	run(MODE_NOKEEPER);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_with_keeper),
	cmocka_unit_test(test_with_fdstore),
	cmocka_unit_test(test_without_keeper),
};

LUO_TEST_MAIN("e2e-crash-schedule", tests, NULL, NULL)
