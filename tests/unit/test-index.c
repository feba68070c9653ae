// SPDX-License-Identifier: GPL-2.0-or-later
/* The u64 hash index: lookups, replacement, deletion inside probe runs. */
#include <errno.h>
#include <stdlib.h>

#include "harness.h"
#include "core/luod.h"

/* the core knows the fd types only once they are registered, as luod's main() does */
__attribute__((constructor)) static void register_handlers(void)
{
	handlers_register();
}

static void test_put_get_del(void **state)
{
	struct luo_index idx = { 0 };
	static int vals[5000];

	(void)state;
	for (int i = 0; i < 5000; i++)
		assert_int_equal(luo_index_put(&idx, (uint64_t)i * 1024, &vals[i]), 0);
	assert_int_equal(idx.used, 5000);
	for (int i = 0; i < 5000; i++)
		assert_ptr_equal(luo_index_get(&idx, (uint64_t)i * 1024), &vals[i]);
	assert_null(luo_index_get(&idx, 7));
	/* delete every other key: the rest must stay reachable */
	for (int i = 0; i < 5000; i += 2)
		luo_index_del(&idx, (uint64_t)i * 1024);
	for (int i = 0; i < 5000; i++) {
		if (i % 2)
			assert_ptr_equal(luo_index_get(&idx, (uint64_t)i * 1024), &vals[i]);
		else
			assert_null(luo_index_get(&idx, (uint64_t)i * 1024));
	}
	assert_int_equal(idx.used, 2500);
	luo_index_free(&idx);
}

static void test_replace_and_null(void **state)
{
	struct luo_index idx = { 0 };
	int a, b;

	(void)state;
	assert_int_equal(luo_index_put(&idx, 0, &a), 0);
	assert_int_equal(luo_index_put(&idx, 0, &b), 0);
	assert_ptr_equal(luo_index_get(&idx, 0), &b);
	assert_int_equal(idx.used, 1);
	assert_int_equal(luo_index_put(&idx, 1, NULL), -EINVAL);
	luo_index_del(&idx, 12345); /* absent: no effect */
	assert_int_equal(idx.used, 1);
	luo_index_free(&idx);
	assert_null(luo_index_get(&idx, 0));
}

static void test_random_against_model(void **state)
{
	enum { N = 512 };
	struct luo_index idx = { 0 };
	static int present[N], vals[N];

	(void)state;
	srand(42);
	for (int step = 0; step < 100000; step++) {
		int k = rand() % N;

		if (rand() % 2) {
			assert_int_equal(luo_index_put(&idx, (uint64_t)k << 40, &vals[k]), 0);
			present[k] = 1;
		} else {
			luo_index_del(&idx, (uint64_t)k << 40);
			present[k] = 0;
		}
	}
	for (int k = 0; k < N; k++)
		assert_ptr_equal(luo_index_get(&idx, (uint64_t)k << 40), present[k] ? &vals[k] : NULL);
	luo_index_free(&idx);
}

/* Room reserved up front: n puts then never grow it, and what was in it stays. */
static void test_reserve(void **state)
{
	struct luo_index idx = { 0 };
	static int v[3000];
	size_t cap;

	(void)state;
	assert_int_equal(luo_index_put(&idx, 7, &v[0]), 0);
	assert_int_equal(luo_index_reserve(&idx, 3000), 0);
	cap = idx.cap;
	assert_true(cap * 3 >= 3001 * 4);
	assert_ptr_equal(luo_index_get(&idx, 7), &v[0]);
	for (uint64_t k = 100; k < 100 + 2999; k++)
		assert_int_equal(luo_index_put(&idx, k, &v[k - 99]), 0);
	assert_int_equal(idx.cap, cap);
	for (uint64_t k = 100; k < 100 + 2999; k++)
		assert_ptr_equal(luo_index_get(&idx, k), &v[k - 99]);
	assert_int_equal(luo_index_reserve(&idx, 10), 0); /* never shrinks */
	assert_int_equal(idx.cap, cap);
	luo_index_free(&idx);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_put_get_del),
	cmocka_unit_test(test_replace_and_null),
	cmocka_unit_test(test_random_against_model),
	cmocka_unit_test(test_reserve),
};

LUO_TEST_MAIN("index", tests, NULL, NULL)
