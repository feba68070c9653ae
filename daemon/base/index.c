// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A u64-keyed hash table with linear probing and backward-shift deletion:
 * token lookups in sessions of 10,000 files and the inode index stay O(1).
 * An empty slot is one whose value is NULL, so NULL cannot be stored.
 */
#include <errno.h>
#include <stdlib.h>

#include "base/base.h"

static size_t slot_of(uint64_t key, size_t cap)
{
	key ^= key >> 33;
	key *= 0xff51afd7ed558ccdull;
	key ^= key >> 33;
	return (size_t)key & (cap - 1);
}

void *luo_index_get(const struct luo_index *idx, uint64_t key)
{
	if (!idx->cap)
		return NULL;
	for (size_t i = slot_of(key, idx->cap);; i = (i + 1) & (idx->cap - 1)) {
		if (!idx->vals[i])
			return NULL;
		if (idx->keys[i] == key)
			return idx->vals[i];
	}
}

static int resize(struct luo_index *idx, size_t cap)
{
	uint64_t *keys = calloc(cap, sizeof(*keys));
	void **vals = calloc(cap, sizeof(*vals));

	if (!keys || !vals) {
		free(keys);
		free(vals);
		return -ENOMEM;
	}
	for (size_t i = 0; i < idx->cap; i++) {
		size_t j;

		if (!idx->vals[i])
			continue;
		for (j = slot_of(idx->keys[i], cap); vals[j]; j = (j + 1) & (cap - 1))
			;
		keys[j] = idx->keys[i];
		vals[j] = idx->vals[i];
	}
	free(idx->keys);
	free(idx->vals);
	idx->keys = keys;
	idx->vals = vals;
	idx->cap = cap;
	return 0;
}

static int grow(struct luo_index *idx)
{
	return resize(idx, idx->cap ? idx->cap * 2 : 16);
}

int luo_index_reserve(struct luo_index *idx, size_t n)
{
	size_t cap = idx->cap ? idx->cap : 16;

	while ((n + 1) * 4 > cap * 3) /* luo_index_put()'s rule for growing */
		cap *= 2;
	return cap == idx->cap ? 0 : resize(idx, cap);
}

int luo_index_put(struct luo_index *idx, uint64_t key, void *val)
{
	size_t i;

	if (!val)
		return -EINVAL;
	if ((idx->used + 1) * 4 > idx->cap * 3) {
		int r = grow(idx);

		if (r < 0)
			return r;
	}
	for (i = slot_of(key, idx->cap); idx->vals[i]; i = (i + 1) & (idx->cap - 1))
		if (idx->keys[i] == key) {
			idx->vals[i] = val;
			return 0;
		}
	idx->keys[i] = key;
	idx->vals[i] = val;
	idx->used++;
	return 0;
}

void luo_index_del(struct luo_index *idx, uint64_t key)
{
	size_t mask = idx->cap - 1, i, j;

	if (!idx->cap)
		return;
	for (i = slot_of(key, idx->cap); idx->vals[i]; i = (i + 1) & mask)
		if (idx->keys[i] == key)
			break;
	if (!idx->vals[i])
		return;
	idx->vals[i] = NULL;
	idx->used--;
	/* Shift later members of the probe run back so lookups never stop early. */
	for (j = (i + 1) & mask; idx->vals[j]; j = (j + 1) & mask) {
		size_t home = slot_of(idx->keys[j], idx->cap);

		if (((j - home) & mask) >= ((j - i) & mask)) {
			idx->keys[i] = idx->keys[j];
			idx->vals[i] = idx->vals[j];
			idx->vals[j] = NULL;
			i = j;
		}
	}
}

void luo_index_free(struct luo_index *idx)
{
	free(idx->keys);
	free(idx->vals);
	*idx = (struct luo_index){ 0 };
}
