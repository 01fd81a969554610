/* Usage statements (include/ndx/usage.h): Vietnam months, the amount due
 * per call and per month, the statement hash, the JSON round trip, and
 * every self-check refusing what was altered. The trees are real RFC 6962
 * trees over made-up record hashes, with tree heads signed as a log signs
 * them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ndx/err.h"
#include "ndx/key.h"
#include "ndx/merkle.h"
#include "ndx/msglog.h"
#include "ndx/timefmt.h"
#include "ndx/usage.h"

#define NREC 5
/* 2026-12-01T00:00:00+07:00 */
#define DEC_FROM 1796058000000LL
#define DEC_TO 1798736400000LL

struct tree {
	uint8_t rec[NREC][NDX_SHA256_LEN];
	uint8_t leaves[NREC][NDX_SHA256_LEN];
	struct ndx_msglog_sth sth;
};

static void sign_sth(const struct ndx_key *key, struct ndx_msglog_sth *sth)
{
	uint8_t m[256];
	size_t n = ndx_msglog_sth_message(sth, m, sizeof m);

	ndx_key_id(key, sth->key_id);
	assert_int_equal(ndx_sign(key, m, n, sth->signature), NDX_OK);
}

/* Batch 7 of records 101..105, signed with key. */
static void make_tree(struct tree *t, const struct ndx_key *key)
{
	memset(t, 0, sizeof *t);
	for (int i = 0; i < NREC; i++) {
		memset(t->rec[i], 0xa0 + i, NDX_SHA256_LEN);
		ndx_merkle_leaf(t->rec[i], NDX_SHA256_LEN, t->leaves[i]);
	}
	t->sth.batch = 7;
	t->sth.first_seq = 101;
	t->sth.size = NREC;
	ndx_merkle_root((const uint8_t (*)[NDX_SHA256_LEN])t->leaves, NREC, t->sth.root);
	t->sth.time_ms = DEC_FROM + 3600000;
	sign_sth(key, &t->sth);
}

static void add(struct ndx_usage *u, const struct tree *t, int i, const char *id, int64_t ms)
{
	uint8_t path[NDX_MERKLE_MAX_PATH][NDX_SHA256_LEN];
	size_t plen = 0;

	assert_int_equal(ndx_merkle_audit_path((const uint8_t (*)[NDX_SHA256_LEN])t->leaves, NREC,
					       (size_t)i, path, &plen), NDX_OK);
	assert_int_equal(ndx_usage_add(u, id, ms, 101 + (uint64_t)i, t->rec[i], &t->sth,
				       (uint64_t)i, (const uint8_t (*)[NDX_SHA256_LEN])path, plen),
			 NDX_OK);
}

static struct ndx_usage *statement(const struct tree *t, enum ndx_price_unit unit, int64_t price)
{
	struct ndx_usage *u = ndx_usage_new("urn:uuid:a1", "VN/GOV/BHXH/insurance",
					    "VN/GOV/BCA/echo/v1", "VN/GOV/BCA/gw1",
					    NDX_MSGLOG_PROVIDER, DEC_FROM, DEC_TO, price, unit);

	assert_non_null(u);
	add(u, t, 0, "m-0", DEC_FROM + 1000);
	add(u, t, 2, "m-2", DEC_FROM + 2000);
	add(u, t, 3, "m-3", DEC_FROM + 3000);
	return u;
}

static void test_month_vn(void **state)
{
	int64_t f, t;
	(void)state;
	assert_int_equal(ndx_usage_month_vn("2026-12", &f, &t), NDX_OK);
	assert_int_equal(f, DEC_FROM); /* 2026-11-30T17:00:00Z */
	assert_int_equal(t, DEC_TO);   /* 2026-12-31T17:00:00Z */
	assert_int_equal(ndx_usage_month_vn("2027-01", &f, &t), NDX_OK);
	assert_int_equal(f, DEC_TO);
	assert_int_equal(ndx_usage_month_vn("2028-02", &f, &t), NDX_OK);
	assert_int_equal(t - f, 29LL * 86400 * 1000); /* a leap year */
	const char *bad[] = { "2026-13", "2026-00", "2026-1", "26-12", "2026/12", "2026-12x",
			      "1969-12", "abcd-ef", "" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(ndx_usage_month_vn(bad[i], &f, &t), NDX_EINVAL);
}

static void test_amount(void **state)
{
	struct ndx_key *key = NULL;
	struct tree t;
	struct ndx_usage *u;
	int64_t a = -1;
	(void)state;
	assert_int_equal(ndx_key_generate(&key), NDX_OK);
	make_tree(&t, key);
	u = statement(&t, NDX_PRICE_PER_CALL, 500);
	assert_int_equal(ndx_usage_amount(u, &a), NDX_OK);
	assert_int_equal(a, 1500);
	u->price = INT64_MAX / 2;
	assert_int_equal(ndx_usage_amount(u, &a), NDX_ETOOBIG);
	u->unit = NDX_PRICE_FREE;
	assert_int_equal(ndx_usage_amount(u, &a), NDX_OK);
	assert_int_equal(a, 0);
	/* Per month: three uses in one month are one month's price. */
	u->unit = NDX_PRICE_PER_MONTH;
	u->price = 2000000;
	assert_int_equal(ndx_usage_amount(u, &a), NDX_OK);
	assert_int_equal(a, 2000000);
	/* Vietnam midnight is the boundary: 23:59:59.999 on 30/11 and 00:00 on
	 * 01/12 (Vietnam time) are two months. */
	u->ex[0].time_ms = DEC_FROM - 1;
	assert_int_equal(ndx_usage_amount(u, &a), NDX_OK);
	assert_int_equal(a, 4000000);
	/* A clock stepped back into a month already counted adds nothing. */
	u->ex[2].time_ms = DEC_FROM - 5000;
	assert_int_equal(ndx_usage_amount(u, &a), NDX_OK);
	assert_int_equal(a, 4000000);
	ndx_usage_free(u);
	ndx_key_free(key);
}

static void test_sign_json_check(void **state)
{
	struct ndx_key *key = NULL;
	struct ndx_usage *u, *back = NULL;
	struct tree t;
	uint8_t h1[NDX_SHA256_LEN], h2[NDX_SHA256_LEN];
	char err[512], *text;
	(void)state;
	assert_int_equal(ndx_key_generate(&key), NDX_OK);
	make_tree(&t, key);
	u = statement(&t, NDX_PRICE_PER_CALL, 500);
	assert_int_equal(u->nheads, 1);
	assert_int_equal(ndx_usage_sign(u, &t.sth, DEC_TO + 5, key), NDX_OK);
	assert_int_equal(u->count, 3);
	assert_int_equal(u->amount, 1500);
	assert_int_equal(ndx_usage_check(u, key, err, sizeof err), NDX_OK);
	text = ndx_usage_to_json(u);
	assert_non_null(text);
	assert_non_null(strstr(text, "\"format\": \"ndx-usage-statement/1\""));
	assert_non_null(strstr(text, "\"amount_due\": 1500"));
	assert_int_equal(ndx_usage_parse(text, strlen(text), &back, err, sizeof err), NDX_OK);
	ndx_usage_hash(u, h1);
	ndx_usage_hash(back, h2);
	assert_memory_equal(h1, h2, sizeof h1);
	assert_int_equal(ndx_usage_check(back, key, err, sizeof err), NDX_OK);
	ndx_usage_free(back);
	free(text);
	/* Every signed field changes the hash. */
	int64_t *ints[] = { &u->from_ms, &u->to_ms, &u->price, &u->amount, &u->made_ms,
			    &u->ex[1].time_ms };
	for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
		(*ints[i])++;
		ndx_usage_hash(u, h2);
		assert_memory_not_equal(h1, h2, sizeof h1);
		(*ints[i])--;
	}
	u->ex[1].record_hash[0] ^= 1;
	ndx_usage_hash(u, h2);
	assert_memory_not_equal(h1, h2, sizeof h1);
	u->ex[1].record_hash[0] ^= 1;
	u->side = NDX_MSGLOG_CONSUMER;
	ndx_usage_hash(u, h2);
	assert_memory_not_equal(h1, h2, sizeof h1);
	u->side = NDX_MSGLOG_PROVIDER;
	ndx_usage_hash(u, h2);
	assert_memory_equal(h1, h2, sizeof h1);
	ndx_usage_free(u);
	ndx_key_free(key);
}

/* Alters a signed statement with f, re-signs it when resign, and expects
 * the check to refuse it with a message holding want. */
static void refused(void (*f)(struct ndx_usage *, const struct tree *, const struct ndx_key *),
		    bool resign, const char *want)
{
	struct ndx_key *key = NULL, *other = NULL;
	struct ndx_usage *u;
	struct tree t;
	char err[512];

	assert_int_equal(ndx_key_generate(&key), NDX_OK);
	assert_int_equal(ndx_key_generate(&other), NDX_OK);
	make_tree(&t, key);
	u = statement(&t, NDX_PRICE_PER_CALL, 500);
	assert_int_equal(ndx_usage_sign(u, &t.sth, DEC_TO, key), NDX_OK);
	f(u, &t, other);
	if (resign) {
		uint8_t h[NDX_SHA256_LEN];

		ndx_usage_hash(u, h);
		assert_int_equal(ndx_sign(key, h, sizeof h, u->signature), NDX_OK);
	}
	assert_int_equal(ndx_usage_check(u, key, err, sizeof err), NDX_EBADSIG);
	if (strstr(err, want) == NULL)
		fail_msg("expected '%s' in '%s'", want, err);
	ndx_usage_free(u);
	ndx_key_free(key);
	ndx_key_free(other);
}

static void t_count(struct ndx_usage *u, const struct tree *t, const struct ndx_key *o)
{
	(void)t, (void)o;
	u->count = 2;
}
static void t_amount(struct ndx_usage *u, const struct tree *t, const struct ndx_key *o)
{
	(void)t, (void)o;
	u->amount = 1000;
}
static void t_period(struct ndx_usage *u, const struct tree *t, const struct ndx_key *o)
{
	(void)t, (void)o;
	u->from_ms = DEC_FROM + 1500;
}
static void t_invented(struct ndx_usage *u, const struct tree *t, const struct ndx_key *o)
{
	(void)t, (void)o;
	u->ex[1].record_hash[5] ^= 0x40; /* a record that is not in the tree */
}
static void t_leaf(struct ndx_usage *u, const struct tree *t, const struct ndx_key *o)
{
	(void)t, (void)o;
	u->ex[1].leaf_index = 1;
}
static void t_other_head(struct ndx_usage *u, const struct tree *t, const struct ndx_key *o)
{
	(void)t;
	/* The proof's tree head re-signed with another key. */
	sign_sth(o, &u->heads[0]);
}
static void t_root(struct ndx_usage *u, const struct tree *t, const struct ndx_key *o)
{
	(void)t, (void)o;
	u->heads[0].root[0] ^= 1; /* another tree head, not signed */
}
static void t_dup(struct ndx_usage *u, const struct tree *t, const struct ndx_key *o)
{
	(void)t, (void)o;
	free(u->ex[2].message_id);
	u->ex[2].message_id = strdup("m-0");
}
static void t_newer(struct ndx_usage *u, const struct tree *t, const struct ndx_key *o)
{
	(void)t, (void)o;
	u->head.batch = 6; /* made against a head older than the batches it cites */
}

static void test_tampering_refused(void **state)
{
	(void)state;
	/* Altered after signing: the signature no longer verifies. */
	refused(t_count, false, "signature does not verify");
	refused(t_period, false, "signature does not verify");
	/* Altered and signed again by the signer itself: the statement still
	 * contradicts its own proofs. */
	refused(t_count, true, "count 2 but 3 exchanges");
	refused(t_amount, true, "amount due 1000 VND, but 3 exchanges at 500");
	refused(t_period, true, "outside the statement's period");
	refused(t_invented, true, "audit path does not lead");
	refused(t_leaf, true, "is not leaf 1 of batch 7");
	refused(t_other_head, false, "tree head of batch 7 does not verify");
	refused(t_root, false, "tree head of batch 7 does not verify");
	refused(t_dup, true, "listed twice");
	refused(t_newer, true, "tree head (batch 6) does not verify");
}

static void test_wrong_key_and_bad_json(void **state)
{
	struct ndx_key *key = NULL, *other = NULL;
	struct ndx_usage *u, *p = NULL;
	struct tree t;
	char err[512], *text;
	(void)state;
	assert_int_equal(ndx_key_generate(&key), NDX_OK);
	assert_int_equal(ndx_key_generate(&other), NDX_OK);
	make_tree(&t, key);
	u = statement(&t, NDX_PRICE_PER_MONTH, 100);
	assert_int_equal(ndx_usage_sign(u, &t.sth, DEC_TO, key), NDX_OK);
	assert_int_equal(u->amount, 100);
	assert_int_equal(ndx_usage_check(u, other, err, sizeof err), NDX_EBADSIG);
	assert_non_null(strstr(err, "not the signer's key"));
	text = ndx_usage_to_json(u);
	const struct { const char *from, *to, *want; } bad[] = {
		{ "ndx-usage-statement/1", "ndx-usage-statement/9", "format: expected" },
		{ "\"side\": \"provider\"", "\"side\": \"both\"", "side: expected" },
		{ "\"unit\": \"ndx:VNDPerMonth\"", "\"unit\": \"EUR\"", "unit: expected" },
		{ "\"count\": 3", "\"count\": -3", "count: expected" },
		{ "\"leaf_index\": 2", "\"leaf_index\": \"2\"", "exchanges[1].leaf_index" },
		{ "\"batch\": 7,\n      \"leaf_index\": 3", "\"batch\": 8,\n      \"leaf_index\": 3",
		  "tree_heads: expected the tree head of each batch" },
		{ "\"batch\": 7,\n      \"leaf_index\": 2", "\"batch\": 8,\n      \"leaf_index\": 2",
		  "exchanges[2]: not after" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char *at = strstr(text, bad[i].from), *mod;
		size_t n = strlen(text) + strlen(bad[i].to) + 1;

		if (at == NULL)
			fail_msg("no '%s' in %s", bad[i].from, text);
		mod = malloc(n);
		snprintf(mod, n, "%.*s%s%s", (int)(at - text), text, bad[i].to,
			 at + strlen(bad[i].from));
		assert_int_equal(ndx_usage_parse(mod, strlen(mod), &p, err, sizeof err), NDX_EINVAL);
		assert_null(p);
		if (strstr(err, bad[i].want) == NULL)
			fail_msg("case %zu: expected '%s' in '%s'", i, bad[i].want, err);
		free(mod);
	}
	assert_int_equal(ndx_usage_parse("[1]", 3, &p, err, sizeof err), NDX_EINVAL);
	assert_int_equal(ndx_usage_parse("{", 1, &p, err, sizeof err), NDX_EINVAL);
	free(text);
	ndx_usage_free(u);
	ndx_key_free(key);
	ndx_key_free(other);
}

static void test_diff(void **state)
{
	struct ndx_key *key = NULL;
	struct ndx_usage *a, *b;
	struct tree t;
	size_t *ta = NULL, *ob = NULL, nt = 9, no = 9;
	(void)state;
	assert_int_equal(ndx_key_generate(&key), NDX_OK);
	make_tree(&t, key);
	a = statement(&t, NDX_PRICE_PER_CALL, 1);
	b = ndx_usage_new("urn:uuid:a1", "c", "s", "-", NDX_MSGLOG_CONSUMER, DEC_FROM, DEC_TO, 1,
			  NDX_PRICE_PER_CALL);
	add(b, &t, 0, "m-0", DEC_FROM + 1000);
	add(b, &t, 1, "m-1", DEC_FROM + 1500);
	add(b, &t, 3, "m-3", DEC_FROM + 3000);
	add(b, &t, 4, "m-4", DEC_FROM + 4000);
	assert_int_equal(ndx_usage_diff(a, b, &ta, &nt, &ob, &no), NDX_OK);
	assert_int_equal(nt, 1);
	assert_string_equal(a->ex[ta[0]].message_id, "m-2");
	assert_int_equal(no, 2);
	assert_string_equal(b->ex[ob[0]].message_id, "m-1");
	assert_string_equal(b->ex[ob[1]].message_id, "m-4");
	free(ta);
	free(ob);
	/* Out of the log's order is refused when adding. */
	uint8_t h[NDX_SHA256_LEN] = { 0 };
	assert_int_equal(ndx_usage_add(b, "x", DEC_FROM, 102, h, &t.sth, 1, NULL, 0), NDX_EINVAL);
	ndx_usage_free(a);
	ndx_usage_free(b);
	ndx_key_free(key);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_month_vn),
		cmocka_unit_test(test_amount),
		cmocka_unit_test(test_sign_json_check),
		cmocka_unit_test(test_tampering_refused),
		cmocka_unit_test(test_wrong_key_and_bad_json),
		cmocka_unit_test(test_diff),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
