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
#include "ndx/encode.h"
#include "ndx/msglog.h"
#include "ndx/msgsig.h"
#include "ndx/timefmt.h"

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
	unlink(db);
	snprintf(err, sizeof err, "%s-wal", db);
	unlink(err);
	snprintf(err, sizeof err, "%s-shm", db);
	unlink(err);
	rmdir(dir);
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
	ndx_key_free(key);
	return failures == 0 ? 0 : 1;
}
