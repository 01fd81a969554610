/* Token buckets per subject for the consent service (subject_limit.h). An
 * open-addressing hash table keyed by the subject's 12 digits as a number;
 * when it fills, buckets that are full again (their subject has been quiet
 * for a whole refill) are dropped before it grows, so the table stays the
 * size of the recently active population. One mutex: each call is a few
 * arithmetic operations. */
#include "subject_limit.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct bucket {
	uint64_t key; /* subject + 1; 0 = empty slot */
	double tokens;
	double at; /* when tokens was last brought up to date */
};

struct subject_limit {
	pthread_mutex_t mu;
	double burst, per_s;
	struct bucket *slots;
	size_t cap, used; /* cap a power of two */
};

struct subject_limit *subject_limit_new(unsigned burst, unsigned per_hour)
{
	struct subject_limit *l = calloc(1, sizeof *l);

	if (!l)
		return NULL;
	l->burst = burst;
	l->per_s = per_hour / 3600.0;
	l->cap = 1024;
	if (!(l->slots = calloc(l->cap, sizeof *l->slots))) {
		free(l);
		return NULL;
	}
	pthread_mutex_init(&l->mu, NULL);
	return l;
}

void subject_limit_free(struct subject_limit *l)
{
	if (!l)
		return;
	pthread_mutex_destroy(&l->mu);
	free(l->slots);
	free(l);
}

/* The subject's digits as a number + 1 (never 0); any other text hashes
 * into the same space, which is only ever less generous to it. */
static uint64_t subject_key(const char *s)
{
	uint64_t k = 0;

	for (; *s; s++)
		k = k * 10u + (uint64_t)((unsigned char)*s - (unsigned char)'0');
	return k + 1;
}

static size_t slot_of(uint64_t key, size_t cap)
{
	key ^= key >> 33;
	key *= 0xff51afd7ed558ccdULL;
	key ^= key >> 33;
	return (size_t)key & (cap - 1);
}

static double refilled(const struct subject_limit *l, const struct bucket *b, double now)
{
	double t = b->tokens + (now - b->at) * l->per_s;

	return t > l->burst ? l->burst : t;
}

/* Rebuilds the table at cap, keeping only buckets not yet full again. */
static int rehash(struct subject_limit *l, size_t cap, double now)
{
	struct bucket *ns = calloc(cap, sizeof *ns);

	if (!ns)
		return -1;
	l->used = 0;
	for (size_t i = 0; i < l->cap; i++) {
		struct bucket *b = &l->slots[i];
		size_t j;

		if (!b->key || refilled(l, b, now) >= l->burst)
			continue;
		for (j = slot_of(b->key, cap); ns[j].key; j = (j + 1) & (cap - 1))
			;
		ns[j] = *b;
		l->used++;
	}
	free(l->slots);
	l->slots = ns;
	l->cap = cap;
	return 0;
}

bool subject_limit_take(struct subject_limit *l, const char *subject, double now,
			unsigned *retry_after)
{
	uint64_t key = subject_key(subject);
	struct bucket *b;
	bool ok = true;
	size_t i;

	*retry_after = 0;
	if (!l || l->burst <= 0)
		return true;
	pthread_mutex_lock(&l->mu);
	if ((l->used + 1) * 4 > l->cap * 3) {
		/* Drop the quiet first; grow only if the active fill it. */
		if (rehash(l, l->cap, now) == 0 && (l->used + 1) * 2 > l->cap)
			rehash(l, l->cap * 2, now);
		if ((l->used + 1) * 4 > l->cap * 3)
			goto out; /* no memory: never the citizen's fault */
	}
	for (i = slot_of(key, l->cap); l->slots[i].key && l->slots[i].key != key;
	     i = (i + 1) & (l->cap - 1))
		;
	b = &l->slots[i];
	if (!b->key) {
		b->key = key;
		b->tokens = l->burst;
		b->at = now;
		l->used++;
	}
	b->tokens = refilled(l, b, now);
	b->at = now;
	if (b->tokens >= 1.0) {
		b->tokens -= 1.0;
	} else {
		double wait = l->per_s > 0 ? (1.0 - b->tokens) / l->per_s : 3600.0;

		ok = false;
		*retry_after = (unsigned)wait;
		if (*retry_after < wait || *retry_after == 0)
			(*retry_after)++;
	}
out:
	pthread_mutex_unlock(&l->mu);
	return ok;
}
