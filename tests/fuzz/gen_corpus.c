/* Writes the seed corpora of the libFuzzer targets (tests/fuzz/corpus/NAME/)
 * with the real library: configurations and anchors signed with the fixed
 * key of fuzz.h, batch signature objects over the fixed message hash, and
 * inclusion proofs out of a real message log, next to near-valid variants
 * of each (one field wrong). The files are committed; run this again only
 * when a format changes:  build-fuzz/tests/fuzz/gen_corpus tests/fuzz/corpus
 * Seed names are fixed, so a rerun replaces rather than adds (signatures
 * over times taken from the clock differ from run to run). */
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "ndx/conf.h"
#include "ndx/consent.h"
#include "ndx/statuslist.h"
#include "ndx/encode.h"
#include "ndx/jws.h"
#include "ndx/msglog.h"
#include "ndx/msgsig.h"
#include "ndx/pin.h"
#include "ndx/timefmt.h"
#include "ndx/usage.h"

static const char *outdir;
static int failures;

static void put(const char *target, const char *name, const void *data, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", outdir, target);
	if (mkdir(path, 0755) != 0 && errno != EEXIST) {
		perror(path);
		exit(1);
	}
	snprintf(path, sizeof path, "%s/%s/%s", outdir, target, name);
	f = fopen(path, "wb");
	if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

static void put_str(const char *target, const char *name, const char *text)
{
	put(target, name, text, strlen(text));
}

/* "SIG\nDOC", the input format of fuzz_conf. */
static void put_pair(const char *name, const char *sig, const char *doc)
{
	size_t n = strlen(sig) + 1 + strlen(doc) + 1;
	char *text = malloc(n);

	if (text == NULL)
		exit(1);
	snprintf(text, n, "%s\n%s", sig, doc);
	put_str("conf", name, text);
	free(text);
}

static void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "gen_corpus: %s failed\n", what);
		failures++;
	}
}

static struct ndx_key *seeded_key(const char *label)
{
	uint8_t seed[NDX_SHA256_LEN];
	struct ndx_key *k = NULL;

	ndx_sha256(label, strlen(label), seed);
	if (ndx_key_from_seed(seed, &k) != NDX_OK)
		exit(1);
	return k;
}

static void hex_of(const char *label, char out[2 * NDX_SHA256_LEN + 1])
{
	uint8_t h[NDX_SHA256_LEN];

	ndx_sha256(label, strlen(label), h);
	ndx_hex_encode(h, sizeof h, out);
}

/* ---- id and encode: text seeds ---------------------------------------- */

static void gen_id(void)
{
	static const char *const seeds[] = {
		"VN/GOV/BCA",
		"VN/GOV/BCA/population",
		"VN/GOV/BCA/population/citizens",
		"VN/GOV/BCA/population/citizens/v1/citizens/001099000123",
		"VN/COM/0101234567/app/",
		"VN/GOV/B%43A/pop%28ulation%29/q%3Fx",
		"VN/GOV/BCA/pop%2Fulation/citizens",
		"VN/ORG/'()+,-.=?/s/x",
		"VN/GOV/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		"VN/GOV/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		"VN/GOV/%61%61%61%61%61%61%61%61%61%61%61%61%61%61%61%61%61%61%61%61%61",
		"VN//BCA",
		"/VN/GOV/BCA",
		"VN/GOV/%00",
		"VN/GOV/%zz/x",
		"VN/GOV/B CA",
		"VN/GOV/B\xc3\xa1",
	};

	for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
		char name[32];

		snprintf(name, sizeof name, "seed-%02zu", i);
		put_str("id", name, seeds[i]);
	}
}

static void gen_encode(void)
{
	static const char *const seeds[] = {
		"Zm9vYmFy", "Zm9vYg==", "Zm9vYg", "Zg==", "Zh==", "-_-_", "+/+/",
		"00ff10AB", "0g", "a%20b%2Fc%e1%BB%99", "%", "%0", "%00",
		"2026-11-23T09:20:51Z", "1969-12-31T23:59:59Z", "2024-02-29T00:00:00Z",
		"2023-02-29T00:00:00Z", "9999-12-31T23:59:59Z", "2026-11-23T09:20:60Z",
		"2026-11-23T09:20:51+07:00",
	};
	static const uint8_t raw[] = { 0x00, 0xff, 0x10, 0x80, 0x7f, 0x25, 0x2f, 0x3f, 0x20 };

	for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
		char name[32];

		snprintf(name, sizeof name, "seed-%02zu", i);
		put_str("encode", name, seeds[i]);
	}
	put("encode", "raw-bytes", raw, sizeof raw);
}

/* ---- conf and anchor ---------------------------------------------------- */

static json_t *gateway_json(const char *member, const char *code, const char *label)
{
	struct ndx_key *k = seeded_key(label);
	uint8_t raw[NDX_ED25519_PUBLIC_LEN];
	char kid[NDX_KEY_ID_HEX_LEN + 1], fp[65], *b64;
	json_t *g;

	ndx_key_public_raw(k, raw);
	ndx_key_id(k, kid);
	hex_of(label, fp);
	b64 = ndx_b64_encode(raw, sizeof raw, 0);
	g = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "member", member, "code", code,
		      "address", "https://127.0.0.1:4431", "tls_cert_sha256", fp,
		      "sign_key", b64, "sign_key_id", kid);
	free(b64);
	ndx_key_free(k);
	if (g == NULL)
		exit(1);
	return g;
}

/* The configuration of tests/unit/test_conf.c, valid from gen to exp. */
static json_t *conf_doc(const char *instance, time_t gen_t, time_t exp_t)
{
	char gen[NDX_TIME_TEXT_LEN], exp[NDX_TIME_TEXT_LEN], rev_key[65], rev_cert[65],
	     api[65];
	json_t *doc;

	ndx_time_format(gen_t, gen);
	ndx_time_format(exp_t, exp);
	hex_of("revoked key", rev_key);
	hex_of("revoked certificate", rev_cert);
	hex_of("openapi", api);
	doc = json_pack(
		"{s:s, s:s, s:i, s:s, s:s, s:{s:s, s:n}, s:[s,s,s],"
		" s:[{s:s, s:s}, {s:s, s:s}, {s:s, s:s}],"
		" s:[{s:s}, {s:s}, {s:s}],"
		" s:[o, o, o],"
		" s:[{s:s, s:s, s:b, s:[s], s:b, s:n},"
		"    {s:s, s:s, s:b, s:[], s:b, s:s}],"
		" s:[{s:s, s:s, s:[s], s:[s]},"
		"    {s:s, s:s, s:[s,s], s:[s]},"
		"    {s:s, s:s, s:[s], s:[s]}],"
		" s:[{s:s, s:s, s:s, s:s}, {s:s, s:s}]}",
		"format", NDX_CONF_FORMAT, "instance", instance, "version", 42,
		"generated_at", gen, "expires_at", exp,
		"registry", "url", FUZZ_REGISTRY_URL, "ca_certificate",
		"member_classes", "GOV", "COM", "ORG",
		"members",
		"id", "VN/GOV/BCA", "name", "B\xe1\xbb\x99 C\xc3\xb4ng an",
		"id", "VN/GOV/MOF", "name", "B\xe1\xbb\x99 T\xc3\xa0i ch\xc3\xadnh",
		"id", "VN/COM/0101234567", "name", "C\xc3\xb4ng ty A",
		"subsystems", "id", "VN/GOV/BCA/population", "id", "VN/GOV/MOF/enterprise",
		"id", "VN/COM/0101234567/app",
		"gateways",
		gateway_json("VN/GOV/BCA", "gw1", "gateway 1"),
		gateway_json("VN/GOV/MOF", "gw1", "gateway 2"),
		gateway_json("VN/GOV/BCA", "gw2", "gateway 3"),
		"services",
		"id", "VN/GOV/BCA/population/citizens", "title", "Tra c\xe1\xbb\xa9u c\xc3\xb4ng d\xc3\xa2n",
		"personal", 1, "purposes", "public-service", "consent_required", 0,
		"openapi_sha256",
		"id", "VN/GOV/BCA/population/households", "title", "H\xe1\xbb\x99 kh\xe1\xba\xa9u",
		"personal", 0, "purposes", "consent_required", 1, "openapi_sha256", api,
		"grants",
		"client", "VN/GOV/MOF/enterprise", "service", "VN/GOV/BCA/population/citizens",
		"methods", "GET", "paths", "/citizens/*",
		"client", "VN/GOV/MOF/enterprise", "service", "VN/GOV/BCA/population/citizens",
		"methods", "POST", "PUT", "paths", "/citizens/search",
		"client", "VN/COM/0101234567/app", "service", "VN/GOV/BCA/population/households",
		"methods", "GET", "paths", "*",
		"revocations",
		"kind", "key", "value", rev_key, "revoked_at", gen, "reason", "compromised",
		"kind", "certificate", "value", rev_cert);
	if (doc == NULL)
		exit(1);
	{
		/* One consent service, its key seeded like the gateways'. */
		struct ndx_key *k = seeded_key("consent service");
		uint8_t raw[NDX_ED25519_PUBLIC_LEN];
		char kid[NDX_KEY_ID_HEX_LEN + 1], *b64;

		ndx_key_public_raw(k, raw);
		ndx_key_id(k, kid);
		b64 = ndx_b64_encode(raw, sizeof raw, 0);
		ndx_key_free(k);
		if (b64 == NULL ||
		    json_object_set_new(doc, "consent_services", json_pack(
			    "[{s:s, s:s, s:s, s:s}]", "id", "VN/GOV/BCA/population", "url",
			    "http://127.0.0.1:4500", "sign_key", b64, "sign_key_id", kid)) != 0)
			exit(1);
		free(b64);
	}
	return doc;
}

static char *compact(const json_t *doc)
{
	/* Compact: fuzz_conf splits signature and document at the first
	 * newline, so the document must not hold one. */
	char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);

	if (text == NULL)
		exit(1);
	return text;
}

/* The valid document with a marketplace agreement's grant: its ODRL
 * policy is the parser's newest input (docs/marketplace.md). */
static void agreement_seed(json_t *doc)
{
	json_t *copy = json_deep_copy(doc);
	json_t *g = json_loads(
		"{\"client\":\"VN/COM/0101234567/app\",\"service\":"
		"\"VN/GOV/BCA/population/citizens\",\"methods\":[\"GET\",\"POST\"],\"paths\":[\"*\"],"
		"\"agreement\":\"urn:uuid:a1\",\"not_after\":\"2026-12-01T00:00:00Z\",\"policy\":"
		"{\"@id\":\"urn:uuid:a1\",\"@type\":\"Agreement\",\"target\":\"urn:uuid:d1\","
		"\"permission\":[{\"action\":\"use\",\"constraint\":["
		"{\"leftOperand\":\"purpose\",\"operator\":\"isAnyOf\",\"rightOperand\":[\"kyc\"]},"
		"{\"leftOperand\":\"ndx:method\",\"operator\":\"isAnyOf\",\"rightOperand\":[\"GET\",\"POST\"]},"
		"{\"leftOperand\":\"elapsedTime\",\"operator\":\"lteq\",\"rightOperand\":\"P30D\"},"
		"{\"leftOperand\":\"count\",\"operator\":\"lteq\",\"rightOperand\":100,"
		"\"unit\":\"ndx:perDay\"}]}],\"prohibition\":[{\"action\":\"distribute\"}],"
		"\"obligation\":[{\"action\":\"compensate\",\"constraint\":[{\"leftOperand\":"
		"\"payAmount\",\"operator\":\"eq\",\"rightOperand\":500,\"unit\":"
		"\"ndx:VNDPerCall\"}]}]}}", 0, NULL);
	char *text;

	check(copy != NULL && g != NULL &&
	      json_array_append_new(json_object_get(copy, "grants"), g) == 0, "agreement seed");
	text = compact(copy);
	put_pair("agreement-self-signed", "", text);
	free(text);
	json_decref(copy);
}

static void gen_conf(const struct ndx_key *key)
{
	const time_t gen = FUZZ_NOW - 31 * 86400, exp = FUZZ_NOW + 334 * 86400;
	struct ndx_key *other = seeded_key("not the anchor's key");
	struct {
		const char *name;
		json_t *doc;
		const struct ndx_key *signer;
	} cases[] = {
		{ "valid", conf_doc(FUZZ_INSTANCE, gen, exp), key },
		{ "expired", conf_doc(FUZZ_INSTANCE, gen, FUZZ_NOW - 1), key },
		{ "future", conf_doc(FUZZ_INSTANCE, FUZZ_NOW + 3600, exp), key },
		{ "other-instance", conf_doc("LA", gen, exp), key },
		{ "other-key", conf_doc(FUZZ_INSTANCE, gen, exp), other },
	};
	struct ndx_conf *conf = NULL;
	struct ndx_anchor *anchor = NULL;
	json_t *adoc = ndx_anchor_build(FUZZ_INSTANCE, FUZZ_REGISTRY_URL, key);
	char err[512], *atext = adoc != NULL ? compact(adoc) : NULL;

	check(atext != NULL && ndx_anchor_parse(atext, strlen(atext), &anchor, err,
						sizeof err) == NDX_OK, "the anchor");
	free(atext);
	json_decref(adoc);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *doc = compact(cases[i].doc), *sig = ndx_conf_sign(cases[i].signer, doc,
									 strlen(doc));
		char name[64];

		check(sig != NULL, "ndx_conf_sign");
		snprintf(name, sizeof name, "%s-signed", cases[i].name);
		put_pair(name, sig, doc);
		if (i == 0) {
			check(ndx_conf_verify((const uint8_t *)doc, strlen(doc), sig, anchor,
					      FUZZ_NOW, &conf, err, sizeof err) == NDX_OK, err);
			ndx_conf_free(conf);
			/* The target signs "\nDOC" itself; "DOC" alone is parsed only. */
			put_pair("valid-self-signed", "", doc);
			put_str("conf", "valid-unsigned", doc);
			/* One bit of the signature wrong. */
			sig[strlen(sig) - 6] ^= 0x01;
			put_pair("valid-bad-signature", sig, doc);
			agreement_seed(cases[i].doc);
		}
		free(sig);
		free(doc);
		json_decref(cases[i].doc);
	}

	/* Near-valid documents, self-signed so the fuzzer starts at the checks. */
	{
		static const char *const broken[][2] = {
			{ "dup-member", "{\"format\":\"ndx-conf/1\",\"instance\":\"VN\",\"version\":1,"
			  "\"generated_at\":\"2025-12-01T00:00:00Z\",\"expires_at\":"
			  "\"2026-12-01T00:00:00Z\",\"member_classes\":[\"GOV\"],\"members\":"
			  "[{\"id\":\"VN/GOV/A\"},{\"id\":\"VN/GOV/A\"}],\"subsystems\":[],"
			  "\"gateways\":[],\"services\":[],\"grants\":[],\"revocations\":[],"
			  "\"consent_services\":[]}" },
			{ "minimal", "{\"format\":\"ndx-conf/1\",\"instance\":\"VN\",\"version\":1,"
			  "\"generated_at\":\"2025-12-01T00:00:00Z\",\"expires_at\":"
			  "\"2026-12-01T00:00:00Z\",\"member_classes\":[],\"members\":[],"
			  "\"subsystems\":[],\"gateways\":[],\"services\":[],\"grants\":[],"
			  "\"revocations\":[],\"consent_services\":[]}" },
			{ "escaped-id", "{\"format\":\"ndx-conf/1\",\"instance\":\"VN\",\"version\":1,"
			  "\"generated_at\":\"2025-12-01T00:00:00Z\",\"expires_at\":"
			  "\"2026-12-01T00:00:00Z\",\"member_classes\":[\"GOV\"],\"members\":"
			  "[{\"id\":\"VN/GOV/%41\"}],\"subsystems\":[],\"gateways\":[],"
			  "\"services\":[],\"grants\":[],\"revocations\":[],"
			  "\"consent_services\":[]}" },
		};

		for (size_t i = 0; i < sizeof broken / sizeof broken[0]; i++) {
			char name[64];

			snprintf(name, sizeof name, "%s-self-signed", broken[i][0]);
			put_pair(name, "", broken[i][1]);
		}
	}
	ndx_anchor_free(anchor);
	ndx_key_free(other);
}

static void gen_anchor(const struct ndx_key *key)
{
	struct ndx_key *k2 = seeded_key("second registry key");
	uint8_t raw[NDX_ED25519_PUBLIC_LEN];
	char kid[NDX_KEY_ID_HEX_LEN + 1], *b64, *text;
	json_t *doc = ndx_anchor_build(FUZZ_INSTANCE, FUZZ_REGISTRY_URL, key), *keys;

	check(doc != NULL, "ndx_anchor_build");
	text = compact(doc);
	put_str("anchor", "valid-one-key", text);
	free(text);

	ndx_key_public_raw(k2, raw);
	ndx_key_id(k2, kid);
	b64 = ndx_b64_encode(raw, sizeof raw, 0);
	keys = json_object_get(doc, "keys");
	json_array_append_new(keys, json_pack("{s:s, s:s}", "key_id", kid, "public_key", b64));
	text = json_dumps(doc, JSON_INDENT(2));
	put_str("anchor", "valid-two-keys", text);
	free(text);

	/* Near-valid: the second key's id does not match its key. */
	json_object_set_new(json_array_get(keys, 1), "key_id",
			    json_string(json_string_value(json_object_get(json_array_get(keys, 0),
									  "key_id"))));
	text = compact(doc);
	put_str("anchor", "key-id-mismatch", text);
	free(text);
	json_decref(doc);

	/* Three registry nodes; and near-valid: the list not led by registry_url. */
	static const char *const nodes[] = { FUZZ_REGISTRY_URL, "https://registry2.example.vn",
					     "http://10.0.0.3:4400" };
	doc = ndx_anchor_build_nodes(FUZZ_INSTANCE, nodes, 3, key);
	check(doc != NULL, "ndx_anchor_build_nodes");
	text = compact(doc);
	put_str("anchor", "valid-three-nodes", text);
	free(text);
	json_array_remove(json_object_get(doc, "registry_urls"), 0);
	text = compact(doc);
	put_str("anchor", "nodes-not-led-by-registry-url", text);
	free(text);
	json_decref(doc);

	put_str("anchor", "no-keys", "{\"format\":\"ndx-anchor/1\",\"instance\":\"VN\","
		"\"registry_url\":\"http://x\",\"generated_at\":\"2026-01-01T00:00:00Z\","
		"\"keys\":[]}");
	put_str("anchor", "short-key", "{\"format\":\"ndx-anchor/1\",\"instance\":\"VN\","
		"\"registry_url\":\"http://x\",\"keys\":[{\"key_id\":\"00\","
		"\"public_key\":\"AAAA\"}]}");
	free(b64);
	ndx_key_free(k2);
}

/* ---- msgsig -------------------------------------------------------------- */

static void gen_msgsig(const struct ndx_key *key)
{
	/* Not 5 or 13 yet: ndx_msgsig_sign_batch overflows its tree buffer
	 * for those (tests/fuzz/findings/README.md). */
	static const size_t sizes[] = { 1, 2, 3, 4, 7, 8 };
	struct ndx_key *other = seeded_key("another gateway");
	uint8_t (*hashes)[NDX_SHA256_LEN] = calloc(13, NDX_SHA256_LEN);
	char *objs[13], name[64];

	if (hashes == NULL)
		exit(1);
	for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
		size_t n = sizes[s], mine = n / 2;

		for (size_t i = 0; i < n; i++) {
			char label[32];

			snprintf(label, sizeof label, "message %zu", i);
			ndx_sha256(label, strlen(label), hashes[i]);
		}
		/* The fixed hash sits at leaf n/2: its object verifies. */
		fuzz_message_hash(hashes[mine]);
		check(ndx_msgsig_sign_batch(key, (const uint8_t (*)[NDX_SHA256_LEN])hashes, n,
					    objs) == NDX_OK, "ndx_msgsig_sign_batch");
		for (size_t i = 0; i < n; i++) {
			struct ndx_msgsig sig;
			char err[256];
			uint8_t h[NDX_SHA256_LEN];

			fuzz_message_hash(h);
			if (i == mine)
				check(ndx_msgsig_parse(objs[i], strlen(objs[i]), &sig, err,
						       sizeof err) == NDX_OK &&
				      ndx_msgsig_verify(&sig, key, h, NULL) == NDX_OK,
				      "verifying a msgsig seed");
			if (i == mine || i == 0) {
				snprintf(name, sizeof name, "batch%zu-leaf%zu%s", n, i,
					 i == mine ? "-verifies" : "");
				put_str("msgsig", name, objs[i]);
			}
			free(objs[i]);
		}
	}
	/* Signed by a key other than the target's: NDX_ENOTFOUND. */
	check(ndx_msgsig_sign_batch(other, (const uint8_t (*)[NDX_SHA256_LEN])hashes, 1,
				    objs) == NDX_OK, "ndx_msgsig_sign_batch");
	put_str("msgsig", "other-key", objs[0]);
	free(objs[0]);
	put_str("msgsig", "wrong-alg", "{\"alg\":\"Ed25519\",\"key_id\":\"00\",\"tree_size\":1,"
		"\"leaf_index\":0,\"audit_path\":[],\"root_signature\":\"\"}");
	free(hashes);
	ndx_key_free(other);
}

/* Batch sizes (first byte + 1) whose trees have every shape of last level. */
static void gen_msgsig_batch(void)
{
	static const uint8_t counts[] = { 0, 1, 2, 3, 6, 7, 15, 63 };

	for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
		uint8_t in[1 + NDX_SHA256_LEN];
		char name[32];

		in[0] = counts[i];
		ndx_sha256(&counts[i], 1, in + 1);
		snprintf(name, sizeof name, "batch-of-%u", counts[i] + 1u);
		put("msgsig_batch", name, in, sizeof in);
	}
}

/* ---- msglog proofs ------------------------------------------------------- */

/* The provider's 200 records of the seed log, for a usage statement. */
static int usage_collect(const struct ndx_msglog_proven *p, void *ctx)
{
	uint8_t path[NDX_MERKLE_MAX_PATH][NDX_SHA256_LEN];
	size_t plen = 0;

	if (p->entry->direction != NDX_MSGLOG_PROVIDER || p->entry->status != 200)
		return 0;
	if (ndx_msglog_proven_path(p, path, &plen) != NDX_OK)
		return NDX_EINVAL;
	return ndx_usage_add(ctx, p->entry->message_id, p->entry->time_ms, p->entry->seq,
			     p->entry->hash, p->sth, p->leaf_index,
			     (const uint8_t (*)[NDX_SHA256_LEN])path, plen);
}

/* A usage statement of the seed log signed with key, and one with its
 * count altered after signing. */
static void gen_usage(const struct ndx_key *key, const char *db)
{
	struct ndx_usage *u = ndx_usage_new("urn:uuid:5eed0000-0000-4000-8000-000000000001",
					    "VN/GOV/MOF/enterprise",
					    "VN/GOV/BCA/population/citizens", "VN/GOV/BCA/gw1",
					    NDX_MSGLOG_PROVIDER, 1763888451000, 1763888452000, 500,
					    NDX_PRICE_PER_CALL);
	struct ndx_msglog_walk_result res;
	char err[512], *json = NULL, *p;

	check(u != NULL, "ndx_usage_new");
	if (u == NULL)
		return;
	check(ndx_msglog_walk_period(db, u->from_ms, u->to_ms, usage_collect, u, &res, err,
				     sizeof err) == NDX_OK, err);
	check(u->nex > 0 && ndx_usage_sign(u, &res.head, 1763888460000, key) == NDX_OK,
	      "ndx_usage_sign");
	check(ndx_usage_check(u, key, err, sizeof err) == NDX_OK, err);
	json = ndx_usage_to_json(u);
	check(json != NULL, "ndx_usage_to_json");
	if (json != NULL) {
		put_str("usage", "statement", json);
		p = strstr(json, "\"count\": ");
		check(p != NULL, "finding the count");
		if (p != NULL) {
			p[9] = p[9] == '9' ? '1' : (char)(p[9] + 1);
			put_str("usage", "statement-altered-count", json);
		}
	}
	free(json);
	ndx_key_free(res.key);
	ndx_usage_free(u);
}

static void gen_proofs(const struct ndx_key *key)
{
	struct ndx_msglog_options opt = { .batch_max = 5, .batch_interval_ms = 60000 };
	char dir[] = "/tmp/ndx-gen-corpus-XXXXXX", db[64], err[512], *json, name[32];
	struct ndx_msglog *log = NULL;
	uint64_t seqs[] = { 1, 3, 5, 6, 7 };

	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	snprintf(db, sizeof db, "%s/log.sqlite", dir);
	check(ndx_msglog_open(db, key, &opt, &log) == NDX_OK, "ndx_msglog_open");
	for (int i = 1; log != NULL && i <= 7; i++) {
		struct ndx_msglog_record r;
		uint8_t req[NDX_SHA256_LEN], resp[NDX_SHA256_LEN];
		char id[32];

		snprintf(id, sizeof id, "msg-%d", i);
		ndx_sha256(id, strlen(id), req);
		ndx_sha256(id, strlen(id) - 1, resp);
		memset(&r, 0, sizeof r);
		r.time_ms = 1763888451000 + i;
		r.direction = i % 2 ? NDX_MSGLOG_PROVIDER : NDX_MSGLOG_CONSUMER;
		r.message_id = id;
		r.client = "VN/GOV/MOF/enterprise";
		r.service = "VN/GOV/BCA/population/citizens";
		r.subject = i % 3 == 0 ? "001099000123" : NULL;
		r.purpose = "public-service";
		r.request_hash = req;
		r.response_hash = i % 4 == 0 ? NULL : resp;
		r.status = i == 6 ? 403 : 200;
		r.duration_ms = 10 + i;
		r.request_sig = "{\"alg\":\"Ed25519-batch\"}";
		r.response_sig = "";
		check(ndx_msglog_append(log, &r, NULL) == NDX_OK, "ndx_msglog_append");
	}
	check(ndx_msglog_close(log) == NDX_OK, "ndx_msglog_close");
	for (size_t i = 0; i < sizeof seqs / sizeof seqs[0]; i++) {
		json = NULL;
		if (ndx_msglog_prove(db, NULL, -1, seqs[i], &json, err, sizeof err) != NDX_OK) {
			check(false, err);
			continue;
		}
		check(ndx_msglog_check_proof(json, strlen(json), key, err, sizeof err) == NDX_OK,
		      "ndx_msglog_check_proof");
		snprintf(name, sizeof name, "proof-seq%llu", (unsigned long long)seqs[i]);
		put_str("msglog_proof", name, json);
		if (i == 0) {
			/* Near-valid: a record field altered after the fact. */
			char *p = strstr(json, "\"status\": 200");

			check(p != NULL, "finding the status of the proof");
			if (p != NULL) {
				p[11] = '1';
				put_str("msglog_proof", "proof-altered-status", json);
			}
		}
		free(json);
	}
	gen_usage(key, db);
	unlink(db);
	snprintf(err, sizeof err, "%s-wal", db);
	unlink(err);
	snprintf(err, sizeof err, "%s-shm", db);
	unlink(err);
	rmdir(dir);
}


/* ---- consent, jws: signed with the fixed key ---------------------------- */

static const char *const CONSENT_SERVICES[] = { "VN/GOV/BCA/population/citizens",
						"VN/GOV/BHXH/insurance/participants" };

static char *consent_with(const struct ndx_key *key, const char *jti, size_t nservices,
			  time_t nbf, time_t exp)
{
	struct ndx_consent_fields f = {
		.iss = "VN/GOV/BCA/consent", .jti = jti, .sub = "001090000001",
		.consumer = "VN/GOV/BTC/tax", .services = CONSENT_SERVICES,
		.n_services = nservices, .purpose = "tax-assessment",
		.iat = nbf, .nbf = nbf, .exp = exp, .status_list = 0, .status_idx = 5,
	};
	char *jws = NULL;
	char err[256];

	if (ndx_consent_sign(key, &f, &jws, err, sizeof err) != NDX_OK) {
		fprintf(stderr, "gen_corpus: consent: %s\n", err);
		failures++;
		return NULL;
	}
	return jws;
}

/* The mode byte of fuzz_jws, then the text. */
static void put_jws(const char *name, char mode, const char *text)
{
	size_t n = strlen(text);
	char *b = malloc(n + 1);

	if (b == NULL)
		exit(1);
	b[0] = mode;
	memcpy(b + 1, text, n);
	put("jws", name, b, n + 1);
	free(b);
}

/* fuzz_statuslist: list documents, one of each kind. */
static void gen_statuslist(void)
{
	static const char *const docs[] = {
		"{\"issuer\":\"VN/GOV/BCA/consent\",\"list\":0,\"bits\":1,\"size\":16,"
		"\"lst\":\"eNrbuRgAAhcBXQ\"}",
		"{\"issuer\":\"VN/GOV/BCA/consent\",\"list\":0,\"bits\":1}",
	};
	uint8_t *bits = calloc(1, NDX_STATUSLIST_BYTES);
	char *text = NULL;
	size_t len = 0;

	if (!bits)
		exit(1);
	if (ndx_statuslist_write("VN/GOV/BCA/consent", 0, bits, &text, &len) == NDX_OK) {
		put("statuslist", "empty-list", text, len);
		free(text);
	} else {
		check(false, "ndx_statuslist_write");
	}
	for (uint32_t i = 0; i < NDX_STATUSLIST_CAPACITY; i += 3)
		ndx_statuslist_set(bits, NDX_STATUSLIST_BYTES, i);
	if (ndx_statuslist_write("VN/GOV/BCA/consent", 7, bits, &text, &len) == NDX_OK) {
		put("statuslist", "every-third-revoked", text, len);
		free(text);
	} else {
		check(false, "ndx_statuslist_write");
	}
	free(bits);
	put("statuslist", "draft-vector-short", docs[0], strlen(docs[0]));
	put("statuslist", "no-lst", docs[1], strlen(docs[1]));
}

static void gen_consent(const struct ndx_key *key)
{
	struct ndx_key *other = seeded_key("gen_corpus: another consent key");
	char *c;

	if ((c = consent_with(key, "c-0001", 1, FUZZ_NOW - 3600, FUZZ_NOW + 86400))) {
		put_str("consent", "valid-one-service", c);
		put_jws("consent-valid", 0, c);
		/* A changed signature character. */
		c[strlen(c) - 3] = c[strlen(c) - 3] == 'A' ? 'B' : 'A';
		put_str("consent", "bad-signature", c);
		free(c);
	}
	if ((c = consent_with(key, "c-0002", 2, FUZZ_NOW - 86400, FUZZ_NOW - 60))) {
		put_str("consent", "expired-two-services", c);
		free(c);
	}
	if ((c = consent_with(key, NULL, 2, FUZZ_NOW + 3600, FUZZ_NOW + 7200))) {
		put_str("consent", "not-yet-valid-uuid-jti", c);
		free(c);
	}
	if ((c = consent_with(other, "c-0003", 1, FUZZ_NOW - 3600, FUZZ_NOW + 86400))) {
		put_str("consent", "unknown-key", c);
		free(c);
	}
	/* Signed JWS with payloads that are not consents. */
	{
		static const char *const payloads[] = {
			("{\"iss\":\"VN/GOV/BCA/consent\",\"jti\":\"x\",\"sub\":\"00109000000\","
			 "\"ver\":1}"),
			"{\"iss\":\"VN/GOV/BCA/consent\",\"jti\":\"x\",\"jti\":\"y\"}",
			"[1,2,3]",
			"",
		};
		for (size_t i = 0; i < sizeof payloads / sizeof payloads[0]; i++) {
			char name[32];
			char *jws = NULL;
			if (ndx_jws_sign(key, NDX_CONSENT_TYP, payloads[i], strlen(payloads[i]),
					 &jws) != NDX_OK) {
				check(false, "ndx_jws_sign");
				continue;
			}
			snprintf(name, sizeof name, "not-a-consent-%zu", i);
			put_str("consent", name, jws);
			put_jws(name, 0, jws);
			free(jws);
		}
	}
	/* Headers that must be refused: alg none, HS256, crit, duplicate. */
	{
		static const char *const headers[] = {
			"{\"alg\":\"none\",\"typ\":\"ndx-consent+jwt\"}",
			"{\"alg\":\"HS256\"}",
			"{\"alg\":\"EdDSA\",\"crit\":[\"exp\"]}",
			"{\"alg\":\"EdDSA\",\"alg\":\"none\"}",
			"{\"alg\":\"EdDSA\",\"kid\":\"00\",\"jwk\":{\"kty\":\"OKP\"}}",
		};
		for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++) {
			char *h = ndx_b64_encode((const uint8_t *)headers[i], strlen(headers[i]), 1);
			char text[512], name[32];
			if (h == NULL)
				exit(1);
			snprintf(text, sizeof text, "%s.e30.%s", h,
				 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
				 "AAAAAAAAAAAAAAAAAAAAAA");
			snprintf(name, sizeof name, "bad-header-%zu", i);
			put_jws(name, 0, text);
			if (i == 0)
				put_str("consent", "alg-none", text);
			free(h);
		}
	}
	put_jws("sign-payload", 1, "{\"hello\":\"xin chào\"}");
	put_jws("sign-empty", 1, "");
	put_jws("truncated", 0, "eyJhbGciOiJFZERTQSJ9.e30");
	ndx_key_free(other);
}

/* ---- pin, request_hash, sector_row: text seeds -------------------------- */

static void put_pin(const char *name, const char *text)
{
	char b[64];
	size_t n = strlen(text);

	b[0] = 0; /* the year: 0 = the clock's */
	b[1] = 0;
	memcpy(b + 2, text, n);
	put("pin", name, b, n + 2);
}

static void gen_pin(void)
{
	char pin[NDX_PIN_LEN + 1], ecode[NDX_ECODE_LEN + 1];

	check(ndx_pin_make("001", 0, 1990, 1, pin) == NDX_OK, "ndx_pin_make");
	put_pin("pin-male-1990", pin);
	check(ndx_pin_make("079", 1, 2005, 123456, pin) == NDX_OK, "ndx_pin_make");
	put_pin("pin-female-2005", pin);
	put_pin("pin-unknown-province", "999090000001");
	put_pin("pin-future-century", "001490000001");
	check(ndx_ecode_make("010010000", ecode) == NDX_OK, "ndx_ecode_make");
	put_pin("ecode-valid", ecode);
	put_pin("ecode-bad-digit", "0100100001");
	put_pin("ecode-branch", "0100100008-001");
	put_pin("ecode-zeros", "0100000000");
	{
		/* 2030 as the current year. */
		char b[2 + NDX_PIN_LEN] = { 0x07, 0xee };
		memcpy(b + 2, "001225000001", NDX_PIN_LEN);
		put("pin", "pin-year-2030", b, sizeof b);
	}
}

static void put_fields(const char *name, const char *const *f, size_t n, const char *body)
{
	char b[2048];
	size_t at = 0;

	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(f[i]);
		if (at + l + 1 > sizeof b)
			exit(1);
		memcpy(b + at, f[i], l);
		at += l;
		b[at++] = (char)0xff;
	}
	if (at + strlen(body) > sizeof b)
		exit(1);
	memcpy(b + at, body, strlen(body));
	at += strlen(body);
	put("request_hash", name, b, at);
}

static void gen_request_hash(void)
{
	static const char *const get[] = {
		"GET", "VN/GOV/BCA/population/citizens", "/citizens/001090000001", "a=1&b=%20",
		"VN/GOV/BTC/tax", "t-6f1c", "u-7", "ISSUE-1", "tax-assessment",
		"001090000001", "", "2026-01-01T00:00:00Z", "VN/GOV/BCA/gw1", "",
	};
	static const char *const post[] = {
		"POST", "VN/GOV/BCA/population/echo", "/upload/%2e%2e/x", "", "VN/GOV/BTC/tax",
		"py-1", "", "", "", "", "", "2026-01-01T00:00:00Z", "VN/GOV/BCA/gw2",
		"application/json",
	};
	put_fields("get-personal", get, 14, "");
	put_fields("post-body", post, 14, "{\"a\":\"Nguyễn Văn A\"}");
	put_fields("few-fields", get, 3, "");
}

static void put_row(const char *name, unsigned table, unsigned mode, const char *json)
{
	char b[2048];
	size_t n = strlen(json);

	if (n + 2 > sizeof b)
		exit(1);
	b[0] = (char)table;
	b[1] = (char)mode;
	memcpy(b + 2, json, n);
	put("sector_row", name, b, n + 2);
}

/* Table numbers are the order of schema.c: population (citizens 0,
 * households 1), civil-status (births 2, marriages 3), enterprise
 * (enterprises 4, owners 5), tax (taxpayers 6, obligations 7), insurance
 * (participants 8, contributions 9), land (parcels 10, right_holders 11),
 * vehicles (vehicles 12). */
static void gen_sector_row(void)
{
	put_row("citizen", 0, 0,
		"{\"pin\":\"001090000001\",\"full_name\":\"Nguyễn Văn An\","
		"\"birth_date\":\"1990-02-28\",\"sex\":\"male\",\"birth_province\":\"001\","
		"\"permanent_address\":\"1 Tràng Tiền, Hà Nội\",\"permanent_province\":\"001\","
		"\"household_id\":\"H00100000001\",\"relation\":\"head\"}");
	put_row("citizen-put-pin-mismatch", 0, 1,
		"{\"pin\":\"001090000001\",\"full_name\":\"A\",\"birth_date\":\"1991-02-28\","
		"\"sex\":\"female\",\"birth_province\":\"079\",\"permanent_address\":\"x\","
		"\"permanent_province\":\"001\"}");
	put_row("household", 1, 1,
		"{\"id\":\"H07900001234\",\"head_pin\":\"079205123456\",\"address\":\"Q1\","
		"\"province\":\"079\"}");
	put_row("birth", 2, 0,
		"{\"child_pin\":\"079205123456\",\"child_name\":\"Trần Thị B\","
		"\"birth_date\":\"2005-01-01\",\"sex\":\"female\",\"province\":\"079\","
		"\"father_pin\":\"001090000001\",\"registered_on\":\"2005-01-10\"}");
	put_row("marriage-same-pin", 3, 0,
		"{\"husband_pin\":\"001090000001\",\"wife_pin\":\"001090000001\","
		"\"registered_on\":\"2015-05-05\",\"province\":\"001\",\"status\":\"registered\"}");
	put_row("enterprise", 4, 1,
		"{\"code\":\"0100100008\",\"name\":\"Công ty TNHH Một\",\"kind\":\"tnhh-1tv\","
		"\"address\":\"Hà Nội\",\"province\":\"001\",\"status\":\"active\","
		"\"registered_on\":\"2010-10-10\",\"legal_rep_pin\":\"001090000001\"}");
	put_row("owner", 5, 0,
		"{\"enterprise_code\":\"0100100008\",\"owner_pin\":\"001090000001\","
		"\"share_pct\":55.5,\"since\":\"2010-10-10\"}");
	put_row("taxpayer-kind-mismatch", 6, 0,
		"{\"tax_id\":\"0100100008\",\"kind\":\"individual\",\"name\":\"X\","
		"\"status\":\"active\",\"tax_office\":\"001\",\"registered_on\":\"2010-10-10\"}");
	put_row("obligation", 7, 0,
		"{\"tax_id\":\"001090000001\",\"period\":\"2025-12\",\"tax_type\":\"pit\","
		"\"amount\":1000000,\"paid\":0,\"due_date\":\"2026-01-20\",\"status\":\"due\"}");
	put_row("participant", 8, 1,
		"{\"pin\":\"001090000001\",\"name\":\"Nguyễn Văn An\",\"status\":\"contributing\","
		"\"first_period\":\"2012-01\"}");
	put_row("contribution-backwards", 9, 0,
		"{\"pin\":\"001090000001\",\"employer_code\":\"0100100008\","
		"\"from_period\":\"2020-01\",\"to_period\":\"2019-12\",\"monthly_salary\":9000000,"
		"\"rate_pct\":10.5}");
	put_row("parcel", 10, 1,
		"{\"id\":\"079-0012-00345\",\"province\":\"079\",\"address\":\"Q1\","
		"\"area_m2\":120.5,\"land_use\":\"ODT\",\"certificate_no\":\"CS 123456\"}");
	put_row("right-holder", 11, 0,
		"{\"parcel_id\":\"079-0012-00345\",\"holder_id\":\"0100100008\","
		"\"share_pct\":100,\"since\":\"2018-03-01\"}");
	put_row("vehicle", 12, 1,
		"{\"plate\":\"30A12345\",\"kind\":\"car\",\"brand\":\"VinFast\",\"year\":2023,"
		"\"chassis_no\":\"RLLV1234567890123\",\"owner_id\":\"001090000001\","
		"\"registered_on\":\"2023-06-01\",\"updated_at\":\"x\"}");
	put_row("unknown-field-nul", 0, 0, "{\"pin\":\"0010900\\u00000001\",\"x\":[1,{}]}");
}

int main(int argc, char **argv)
{
	struct ndx_key *key;

	if (argc != 2) {
		fputs("usage: gen_corpus OUTDIR   (normally tests/fuzz/corpus)\n", stderr);
		return 2;
	}
	outdir = argv[1];
	if (mkdir(outdir, 0755) != 0 && errno != EEXIST) {
		perror(outdir);
		return 1;
	}
	key = fuzz_key();
	gen_id();
	gen_encode();
	gen_conf(key);
	gen_anchor(key);
	gen_msgsig(key);
	gen_msgsig_batch();
	gen_proofs(key);
	gen_consent(key);
	gen_statuslist();
	gen_pin();
	gen_request_hash();
	gen_sector_row();
	ndx_key_free(key);
	return failures == 0 ? 0 : 1;
}
