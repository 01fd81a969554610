/* Unit tests of the provider gateway's replay cache (src/gateway/replay.c,
 * threat T9 of docs/security.md): a repeated key is refused inside the
 * window and accepted after it, distinct keys pass, a full cache refuses
 * rather than forgets, the table agrees with a plain reference model over a
 * long random run (which exercises deletion inside clusters), concurrent
 * threads let exactly one of each key through, and one member holding its
 * share is refused alone (T35). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ndx/err.h"
#include "ndx/hash.h"
#include "replay.h"

#define T0 ((time_t)1767225600)

/* The request hash of one request of client with X-Road-Id id, signed
 * with nonce (the key is that hash: replay.h). */
static void key_for(const char *client, const char *id, const char *nonce,
		    uint8_t out[GW_REPLAY_KEY_LEN])
{
	struct ndx_request_hash_input in = {
		.method = "GET", .service = "VN/GOV/BCA/population/citizens", .path = "/x",
		.client = client, .message_id = id, .timestamp = "2026-01-01T00:00:00Z",
		.nonce = nonce, .gateway = "VN/GOV/BCA/gw1",
	};
	uint8_t h[NDX_SHA256_LEN];

	ndx_request_hash(&in, h);
	gw_replay_key(h, out);
}

static void key_of(unsigned n, uint8_t out[GW_REPLAY_KEY_LEN])
{
	char id[32];

	snprintf(id, sizeof id, "xid-%u", n);
	key_for("VN/GOV/BTC/tax", id, "n1", out);
}

static void test_duplicate_refused(void **state)
{
	struct gw_replay *rc = gw_replay_new(100, 600);
	uint8_t k[GW_REPLAY_KEY_LEN];

	(void)state;
	assert_non_null(rc);
	key_of(1, k);
	assert_int_equal(gw_replay_check_and_add(rc, k, T0), NDX_OK);
	assert_int_equal(gw_replay_check_and_add(rc, k, T0), NDX_EEXIST);
	assert_int_equal(gw_replay_check_and_add(rc, k, T0 + 599), NDX_EEXIST);
	assert_int_equal(gw_replay_count(rc), 1);
	gw_replay_free(rc);
}

static void test_distinct_keys_pass(void **state)
{
	struct gw_replay *rc = gw_replay_new(100, 600);
	uint8_t a[GW_REPLAY_KEY_LEN], b[GW_REPLAY_KEY_LEN], c[GW_REPLAY_KEY_LEN];
	uint8_t d[GW_REPLAY_KEY_LEN], e[GW_REPLAY_KEY_LEN];

	(void)state;
	assert_non_null(rc);
	key_for("VN/GOV/BTC/tax", "x-1", "n1", a);
	/* Same X-Road-Id from another client; another X-Road-Id of the client. */
	key_for("VN/GOV/BTC/fee", "x-1", "n1", b);
	key_for("VN/GOV/BTC/tax", "x-2", "n1", c);
	/* A client's retry with the same X-Road-Id is signed with a new nonce:
	 * another request, not a replay (PR-REST only recommends unique ids). */
	key_for("VN/GOV/BTC/tax", "x-1", "n2", d);
	/* The same signed request is the same key. */
	key_for("VN/GOV/BTC/tax", "x-1", "n1", e);
	assert_memory_equal(a, e, GW_REPLAY_KEY_LEN);
	key_for("VN/GOV/BTC/tax", "x-1", "n3", e);
	assert_int_equal(gw_replay_check_and_add(rc, a, T0), NDX_OK);
	assert_int_equal(gw_replay_check_and_add(rc, b, T0), NDX_OK);
	assert_int_equal(gw_replay_check_and_add(rc, c, T0), NDX_OK);
	assert_int_equal(gw_replay_check_and_add(rc, d, T0), NDX_OK);
	assert_int_equal(gw_replay_check_and_add(rc, e, T0), NDX_OK);
	for (unsigned i = 0; i < 90; i++) {
		uint8_t k[GW_REPLAY_KEY_LEN];
		key_of(i, k);
		assert_int_equal(gw_replay_check_and_add(rc, k, T0 + i), NDX_OK);
	}
	assert_int_equal(gw_replay_count(rc), 95);
	gw_replay_free(rc);
}

static void test_expiry_after_window(void **state)
{
	struct gw_replay *rc = gw_replay_new(10, 600);
	uint8_t k[GW_REPLAY_KEY_LEN];

	(void)state;
	assert_non_null(rc);
	key_of(7, k);
	assert_int_equal(gw_replay_check_and_add(rc, k, T0), NDX_OK);
	/* Held through now + window inclusive: a request stamped now + skew
	 * is still inside the window at now + 2 x skew. */
	assert_int_equal(gw_replay_check_and_add(rc, k, T0 + 600), NDX_EEXIST);
	assert_int_equal(gw_replay_check_and_add(rc, k, T0 + 601), NDX_OK);
	/* ... and held again from then on. */
	assert_int_equal(gw_replay_check_and_add(rc, k, T0 + 602), NDX_EEXIST);
	assert_int_equal(gw_replay_count(rc), 1);
	/* A new window applies to entries added after the change. */
	gw_replay_set_window(rc, 10);
	key_of(8, k);
	assert_int_equal(gw_replay_check_and_add(rc, k, T0 + 700), NDX_OK);
	assert_int_equal(gw_replay_check_and_add(rc, k, T0 + 710), NDX_EEXIST);
	assert_int_equal(gw_replay_check_and_add(rc, k, T0 + 711), NDX_OK);
	gw_replay_free(rc);
}

static void test_capacity_full_refuses_not_forgets(void **state)
{
	struct gw_replay *rc = gw_replay_new(50, 600);
	uint8_t k[GW_REPLAY_KEY_LEN];

	(void)state;
	assert_non_null(rc);
	for (unsigned i = 0; i < 50; i++) {
		key_of(i, k);
		assert_int_equal(gw_replay_check_and_add(rc, k, T0 + (time_t)(i % 3)), NDX_OK);
	}
	key_of(1000, k);
	assert_int_equal(gw_replay_check_and_add(rc, k, T0 + 10), NDX_ETOOBIG);
	assert_int_equal(gw_replay_check_and_add(rc, k, T0 + 10), NDX_ETOOBIG);
	/* Every held key is still refused as a replay, full or not. */
	for (unsigned i = 0; i < 50; i++) {
		key_of(i, k);
		assert_int_equal(gw_replay_check_and_add(rc, k, T0 + 11), NDX_EEXIST);
	}
	/* Once the first ones expire (added at T0, held through T0 + 600)
	 * there is room again. */
	key_of(1000, k);
	assert_int_equal(gw_replay_check_and_add(rc, k, T0 + 600), NDX_ETOOBIG);
	assert_int_equal(gw_replay_check_and_add(rc, k, T0 + 601), NDX_OK);
	assert_int_equal(gw_replay_check_and_add(rc, k, T0 + 601), NDX_EEXIST);
	gw_replay_free(rc);
}

/* Member A may hold 3 live entries: its 4th is refused while B goes on;
 * as A's entries expire it is served again, even though they were never
 * swept by a full shard; a replay of A's is still a replay. */
static void test_one_member_holds_only_its_share(void **state)
{
	struct gw_replay *rc = gw_replay_new(100, 10);
	uint32_t a = gw_replay_owner("VN/GOV/BHXH"), b = gw_replay_owner("VN/GOV/BTC");
	uint8_t k[GW_REPLAY_KEY_LEN];

	(void)state;
	assert_non_null(rc);
	assert_int_not_equal(a, b);
	gw_replay_set_share(rc, 3);
	for (unsigned i = 0; i < 3; i++) {
		key_of(i, k);
		assert_int_equal(gw_replay_check_and_add_owned(rc, k, a, T0), NDX_OK);
	}
	assert_int_equal(gw_replay_owner_count(rc, a), 3);
	key_of(3, k);
	assert_int_equal(gw_replay_check_and_add_owned(rc, k, a, T0), NDX_EPERM);
	assert_int_equal(gw_replay_check_and_add_owned(rc, k, a, T0 + 1), NDX_EPERM);
	/* The refused key took no place: B may add it. */
	assert_int_equal(gw_replay_check_and_add_owned(rc, k, b, T0 + 1), NDX_OK);
	key_of(0, k);
	assert_int_equal(gw_replay_check_and_add_owned(rc, k, a, T0 + 1), NDX_EEXIST);
	/* Unowned entries (GW_REPLAY_NO_OWNER) are never refused for a share. */
	for (unsigned i = 10; i < 20; i++) {
		key_of(i, k);
		assert_int_equal(gw_replay_check_and_add(rc, k, T0 + 1), NDX_OK);
	}
	/* After the window A's entries are gone; the refused A is served. */
	key_of(4, k);
	assert_int_equal(gw_replay_check_and_add_owned(rc, k, a, T0 + 11), NDX_OK);
	assert_true(gw_replay_owner_count(rc, a) <= 3);
	gw_replay_free(rc);
}

static void test_bad_arguments(void **state)
{
	(void)state;
	assert_null(gw_replay_new(0, 600));
	assert_null(gw_replay_new(10, 0));
	assert_null(gw_replay_new(SIZE_MAX, 600));
	gw_replay_free(NULL);
}

/* xorshift: reproducible without rand()'s global state. */
static uint64_t next_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* A long random run against a plain array model: keys from a pool twice
 * the capacity, the clock advancing by 0..2 s every 150 steps, a window short
 * enough that entries expire all the time, so clusters are deleted from
 * in every position. The cache must answer exactly as the model. */
static void test_matches_reference_model(void **state)
{
	enum { CAP = 2000, POOL = 4000, WINDOW = 40, EXACT_STEPS = 20000, STEPS = 300000 };
	struct gw_replay *rc = gw_replay_new(CAP, WINDOW);
	int64_t *expires = calloc(POOL, sizeof *expires);
	uint8_t (*keys)[GW_REPLAY_KEY_LEN] = calloc(POOL, sizeof *keys);
	uint64_t seed = 0x9e3779b97f4a7c15u;
	time_t now = T0;
	size_t full = 0, seen = 0;

	(void)state;
	assert_non_null(rc);
	assert_non_null(expires);
	assert_non_null(keys);
	for (unsigned i = 0; i < POOL; i++)
		key_of(i, keys[i]);
	for (long step = 0; step < EXACT_STEPS; step++) {
		unsigned i;
		size_t live = 0;
		int want, got;

		if (step % 150 == 0)
			now += (time_t)(next_rand(&seed) % 3);
		i = (unsigned)(next_rand(&seed) % POOL);
		if (expires[i] != 0 && expires[i] >= now) {
			want = NDX_EEXIST;
		} else {
			for (unsigned j = 0; j < POOL; j++)
				live += expires[j] != 0 && expires[j] >= now;
			want = live >= CAP ? NDX_ETOOBIG : NDX_OK;
		}
		got = gw_replay_check_and_add(rc, keys[i], now);
		assert_int_equal(got, want);
		if (got == NDX_OK)
			expires[i] = now + WINDOW;
		full += got == NDX_ETOOBIG;
		seen += got == NDX_EEXIST;
	}
	/* The rest of the run without the O(POOL) live count: held keys must
	 * be refused, the others accepted unless the cache is full. */
	for (long step = 0; step < STEPS; step++) {
		unsigned i = (unsigned)(next_rand(&seed) % POOL);
		int got;

		if (step % 150 == 0)
			now += (time_t)(next_rand(&seed) % 3);
		got = gw_replay_check_and_add(rc, keys[i], now);
		if (expires[i] != 0 && expires[i] >= now)
			assert_int_equal(got, NDX_EEXIST);
		else
			assert_true(got == NDX_OK || got == NDX_ETOOBIG);
		if (got == NDX_OK)
			expires[i] = now + WINDOW;
		full += got == NDX_ETOOBIG;
		seen += got == NDX_EEXIST;
	}
	assert_true(seen > 0 && full > 0);
	free(keys);
	free(expires);
	gw_replay_free(rc);
}

struct worker {
	struct gw_replay *rc;
	unsigned nkeys;
	unsigned accepted;
	unsigned replays;
	unsigned offset;
};

static void *race(void *arg)
{
	struct worker *w = arg;

	for (unsigned n = 0; n < w->nkeys; n++) {
		uint8_t k[GW_REPLAY_KEY_LEN];
		unsigned i = (n + w->offset) % w->nkeys;
		int rc;

		key_of(i, k);
		rc = gw_replay_check_and_add(w->rc, k, T0);
		if (rc == NDX_OK)
			w->accepted++;
		else if (rc == NDX_EEXIST)
			w->replays++;
	}
	return NULL;
}

/* Every thread sends the same keys, starting at different points: each key
 * gets through exactly once overall. */
static void test_concurrent_threads(void **state)
{
	enum { THREADS = 4, KEYS = 40000 };
	struct gw_replay *rc = gw_replay_new(1u << 17, 600);
	struct worker w[THREADS];
	pthread_t t[THREADS];
	unsigned accepted = 0, replays = 0;

	(void)state;
	assert_non_null(rc);
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){ .rc = rc, .nkeys = KEYS, .offset = (unsigned)i * 7919u };
		assert_int_equal(pthread_create(&t[i], NULL, race, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		accepted += w[i].accepted;
		replays += w[i].replays;
	}
	assert_int_equal(accepted, KEYS);
	assert_int_equal(replays, (THREADS - 1) * KEYS);
	assert_int_equal(gw_replay_count(rc), KEYS);
	gw_replay_free(rc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_duplicate_refused),
		cmocka_unit_test(test_distinct_keys_pass),
		cmocka_unit_test(test_expiry_after_window),
		cmocka_unit_test(test_capacity_full_refuses_not_forgets),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_one_member_holds_only_its_share),
		cmocka_unit_test(test_matches_reference_model),
		cmocka_unit_test(test_concurrent_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
