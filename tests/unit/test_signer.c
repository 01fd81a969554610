/* The gateway's signer (src/gateway/signer.c): adaptive batch signing of
 * concurrent callers, each object verifiable alone (docs/protocol.md
 * "Signature object"), and the verifier's cache of batch roots, which must
 * accept exactly what a full verification accepts. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "gwconfig.h"
#include "ndx/err.h"
#include "signer.h"

#define THREADS 16
#define ROUNDS 40

static struct ndx_key *key, *other;
static struct gw_config cfg;

struct worker {
	int n;
	uint8_t hash[ROUNDS][NDX_SHA256_LEN];
	char *sig[ROUNDS];
};

static void *sign_many(void *arg)
{
	struct worker *w = arg;

	for (int i = 0; i < ROUNDS; i++) {
		char text[64];
		snprintf(text, sizeof text, "message %d of worker %d", i, w->n);
		ndx_sha256(text, strlen(text), w->hash[i]);
		w->sig[i] = gw_sign_hash(&cfg, w->hash[i]);
	}
	return NULL;
}

static int setup(void **state)
{
	(void)state;
	if (ndx_key_generate(&key) != NDX_OK || ndx_key_generate(&other) != NDX_OK)
		return -1;
	cfg.sign_key = key;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ndx_key_free(key);
	ndx_key_free(other);
	return 0;
}

static void test_a_lone_message_is_a_batch_of_one(void **state)
{
	uint8_t h[NDX_SHA256_LEN];
	char err[256], *sig;
	struct gw_signer_stats before, after;

	(void)state;
	gw_signer_stats(&before);
	ndx_sha256("alone", 5, h);
	sig = gw_sign_hash(&cfg, h);
	assert_non_null(sig);
	gw_signer_stats(&after);
	assert_int_equal(after.messages_signed - before.messages_signed, 1);
	assert_int_equal(after.signatures - before.signatures, 1);
	assert_int_equal(gw_verify_hash(key, sig, h, err, sizeof err), NDX_OK);
	free(sig);
}

static void test_concurrent_callers_each_get_their_own_verifiable_object(void **state)
{
	static struct worker w[THREADS];
	pthread_t t[THREADS];
	struct gw_signer_stats before, after;
	char err[256];

	(void)state;
	gw_signer_stats(&before);
	for (int i = 0; i < THREADS; i++) {
		w[i].n = i;
		assert_int_equal(pthread_create(&t[i], NULL, sign_many, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	gw_signer_stats(&after);
	assert_int_equal(after.messages_signed - before.messages_signed, THREADS * ROUNDS);
	/* Never more signatures than messages; every object verifies over its
	 * own hash and no other. */
	assert_true(after.signatures - before.signatures <= THREADS * ROUNDS);
	for (int i = 0; i < THREADS; i++)
		for (int r = 0; r < ROUNDS; r++) {
			assert_non_null(w[i].sig[r]);
			assert_int_equal(gw_verify_hash(key, w[i].sig[r], w[i].hash[r], err,
							sizeof err),
					 NDX_OK);
			assert_int_not_equal(gw_verify_hash(key, w[i].sig[r],
							    w[(i + 1) % THREADS].hash[r], err,
							    sizeof err),
					     NDX_OK);
		}
	for (int i = 0; i < THREADS; i++)
		for (int r = 0; r < ROUNDS; r++)
			free(w[i].sig[r]);
}

static void test_refusals(void **state)
{
	uint8_t h[NDX_SHA256_LEN], g[NDX_SHA256_LEN];
	char err[256], *sig, *bad;
	struct gw_signer_stats a, b;

	(void)state;
	ndx_sha256("x", 1, h);
	ndx_sha256("y", 1, g);
	sig = gw_sign_hash(&cfg, h);
	assert_non_null(sig);
	/* Verified once: the root is cached; a second verification of the same
	 * object is a cache hit and still accepts only its own hash. */
	assert_int_equal(gw_verify_hash(key, sig, h, err, sizeof err), NDX_OK);
	gw_signer_stats(&a);
	assert_int_equal(gw_verify_hash(key, sig, h, err, sizeof err), NDX_OK);
	gw_signer_stats(&b);
	assert_true(b.verify_cache_hits > a.verify_cache_hits);
	assert_int_equal(gw_verify_hash(key, sig, g, err, sizeof err), NDX_EBADSIG);
	/* Another key: the object names the signer's key id. */
	assert_int_not_equal(gw_verify_hash(other, sig, h, err, sizeof err), NDX_OK);
	/* Malformed or missing objects. */
	assert_int_equal(gw_verify_hash(key, "not json", h, err, sizeof err), NDX_EINVAL);
	assert_int_not_equal(gw_verify_hash(key, NULL, h, err, sizeof err), NDX_OK);
	assert_int_not_equal(gw_verify_hash(NULL, sig, h, err, sizeof err), NDX_OK);
	/* One byte of the root signature changed: refused, cache or not. */
	bad = strdup(sig);
	assert_non_null(bad);
	{
		char *p = strstr(bad, "\"root_signature\":\"");
		assert_non_null(p);
		p += strlen("\"root_signature\":\"");
		*p = *p == 'A' ? 'B' : 'A';
	}
	assert_int_not_equal(gw_verify_hash(key, bad, h, err, sizeof err), NDX_OK);
	free(bad);
	free(sig);
}

static int cmp_id(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* Ids from the per-thread pool of random bytes: RFC 4122 version 4 and
 * variant, and no repeats across far more than one pool's worth. */
static void test_uuids_are_v4_and_distinct(void **state)
{
	enum { N = 2000 };
	char (*ids)[GW_UUID_LEN] = calloc(N, sizeof *ids);
	(void)state;

	assert_non_null(ids);
	for (int i = 0; i < N; i++) {
		assert_int_equal(gw_uuid(ids[i]), NDX_OK);
		assert_int_equal(strlen(ids[i]), 36);
		assert_int_equal(ids[i][14], '4');
		assert_non_null(strchr("89ab", ids[i][19]));
		assert_true(ids[i][8] == '-' && ids[i][13] == '-' && ids[i][18] == '-' &&
			    ids[i][23] == '-');
	}
	qsort(ids, N, sizeof *ids, cmp_id);
	for (int i = 1; i < N; i++)
		assert_string_not_equal(ids[i - 1], ids[i]);
	free(ids);
}

/* RFC 9562 appendix A.6: the UUIDv7 of 2022-02-22 19:22:22 UTC with
 * rand_a 0xCC3 and rand_b 0x18C4DC0C0C07398F. Our rand_a is the fraction
 * of the millisecond (section 6.2, method 3): 797,608 ns is 0xCC3/4096. */
static void test_uuid7_matches_the_rfc_example(void **state)
{
	static const uint8_t rnd[8] = {0x98, 0xc4, 0xdc, 0x0c, 0x0c, 0x07, 0x39, 0x8f};
	char id[GW_UUID_LEN];
	(void)state;

	gw_uuid7_at(UINT64_C(1645557742000) * 1000000 + 797608, rnd, id);
	assert_string_equal(id, "017f22e2-79b0-7cc3-98c4-dc0c0c07398f");
	/* variant bits are forced whatever the random byte */
	static const uint8_t ones[8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	gw_uuid7_at(0, ones, id);
	assert_string_equal(id, "00000000-0000-7000-bfff-ffffffffffff");
}

static uint64_t uuid7_ms(const char *id)
{
	char hex[13];

	memcpy(hex, id, 8);
	memcpy(hex + 8, id + 9, 4);
	hex[12] = '\0';
	return strtoull(hex, NULL, 16);
}

/* Message ids: version 7, the clock's millisecond in front, ids made later
 * sorting later (what keeps the message logs' index appending), and no
 * repeats within a millisecond. */
static void test_uuid7_is_time_ordered_and_distinct(void **state)
{
	enum { N = 2000 };
	char (*ids)[GW_UUID_LEN] = calloc(N, sizeof *ids);
	struct timespec ts, pause = {0, 2000000};
	(void)state;

	assert_non_null(ids);
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t before = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	for (int i = 0; i < N; i++) {
		assert_int_equal(gw_uuid7(ids[i]), NDX_OK);
		assert_int_equal(strlen(ids[i]), 36);
		assert_int_equal(ids[i][14], '7');
		assert_non_null(strchr("89ab", ids[i][19]));
		assert_true(uuid7_ms(ids[i]) >= before && uuid7_ms(ids[i]) < before + 60000);
	}
	for (int i = 1; i < N; i++)
		assert_true(uuid7_ms(ids[i]) >= uuid7_ms(ids[i - 1]));
	char a[GW_UUID_LEN], b[GW_UUID_LEN];
	assert_int_equal(gw_uuid7(a), NDX_OK);
	nanosleep(&pause, NULL);
	assert_int_equal(gw_uuid7(b), NDX_OK);
	assert_true(strcmp(a, b) < 0);
	qsort(ids, N, sizeof *ids, cmp_id);
	for (int i = 1; i < N; i++)
		assert_string_not_equal(ids[i - 1], ids[i]);
	free(ids);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_lone_message_is_a_batch_of_one),
		cmocka_unit_test(test_concurrent_callers_each_get_their_own_verifiable_object),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_uuids_are_v4_and_distinct),
		cmocka_unit_test(test_uuid7_matches_the_rfc_example),
		cmocka_unit_test(test_uuid7_is_time_ordered_and_distinct),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
