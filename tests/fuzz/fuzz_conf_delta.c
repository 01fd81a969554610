/* libFuzzer target for configuration deltas (include/ndx/conf.h,
 * docs/protocol.md "Configuration deltas"). Input: a delta's bytes, which
 * the target signs with the anchor's key so that every mutation reaches
 * the parser, the runs and the digest check; it is applied to a fixed held
 * configuration (version 1: members, subsystems, a gateway, services,
 * grants). A delta that applies must give a valid document of its
 * to_version, newer than the held one, that parses again from its own
 * text. NDX_FUZZ_WRITE_SEED=FILE makes the target write a valid delta (one
 * grant changed, a service added) to FILE at start: the committed seed.
 * How to run: tests/fuzz/README.md. */
#include <jansson.h>
#include <string.h>

#include "fuzz.h"
#include "ndx/conf.h"
#include "ndx/encode.h"
#include "ndx/timefmt.h"

#define ERR_CAP 256

static struct ndx_key *key;
static struct ndx_anchor *anchor;
static struct ndx_conf *held;

static json_t *doc_v1(void)
{
	char gen[NDX_TIME_TEXT_LEN], exp[NDX_TIME_TEXT_LEN], kid[NDX_KEY_ID_HEX_LEN + 1], *b64;
	uint8_t raw[NDX_ED25519_PUBLIC_LEN];
	json_t *doc;

	ndx_time_format(FUZZ_NOW - 60, gen);
	ndx_time_format(FUZZ_NOW + 3600, exp);
	ndx_key_public_raw(key, raw);
	ndx_key_id(key, kid);
	b64 = ndx_b64_encode(raw, sizeof raw, 0);
	FUZZ_CHECK(b64 != NULL);
	doc = json_pack(
		"{ss ss si ss ss s[ss] s[{ss}{ss}] s[{ss}{ss}]"
		" s[{ss ss ss ss ss ss}]"
		" s[{ss sb s[s]}{ss sb s[]}]"
		" s[{ss ss s[s] s[s]}{ss ss s[s] s[s]}] s[] s[]}",
		"format", NDX_CONF_FORMAT, "instance", FUZZ_INSTANCE, "version", 1,
		"generated_at", gen, "expires_at", exp, "member_classes", "GOV", "COM",
		"members", "id", "VN/GOV/A", "id", "VN/GOV/B",
		"subsystems", "id", "VN/GOV/A/s", "id", "VN/GOV/B/s",
		"gateways", "member", "VN/GOV/A", "code", "gw1", "address", "https://127.0.0.1:1",
		"tls_cert_sha256", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		"sign_key", b64, "sign_key_id", kid,
		"services", "id", "VN/GOV/A/s/one", "personal", 1, "purposes", "public-service",
		"id", "VN/GOV/A/s/two", "personal", 0, "purposes",
		"grants", "client", "VN/GOV/B/s", "service", "VN/GOV/A/s/one", "methods", "GET",
		"paths", "/x/*", "client", "VN/GOV/B/s", "service", "VN/GOV/A/s/two", "methods",
		"POST", "paths", "*", "revocations", "consent_services");
	free(b64);
	FUZZ_CHECK(doc != NULL);
	return doc;
}

/* The committed seed: version 2 with one grant changed and a service added. */
static void write_seed(const char *path, json_t *d1)
{
	json_t *d2 = json_deep_copy(d1);
	struct ndx_conf_tree *t1 = NULL, *t2 = NULL;
	char *text, *sig, *delta = NULL;
	size_t len = 0;
	FILE *f;

	json_object_set_new(d2, "version", json_integer(2));
	json_object_set_new(json_array_get(json_object_get(d2, "grants"), 0), "methods",
			    json_pack("[ss]", "GET", "HEAD"));
	json_array_append_new(json_object_get(d2, "services"),
			      json_pack("{ss sb s[]}", "id", "VN/GOV/B/s/three", "personal", 0,
					"purposes"));
	FUZZ_CHECK(ndx_conf_tree_new(d1, NULL, &t1) == NDX_OK);
	FUZZ_CHECK(ndx_conf_tree_new(d2, t1, &t2) == NDX_OK);
	text = json_dumps(d2, JSON_COMPACT);
	sig = ndx_conf_sign(key, text, strlen(text));
	FUZZ_CHECK(ndx_conf_delta_make(t1, t2, sig, &delta, &len) == NDX_OK);
	f = fopen(path, "wb");
	FUZZ_CHECK(f != NULL && fwrite(delta, 1, len, f) == len && fclose(f) == 0);
	free(text);
	free(sig);
	free(delta);
	ndx_conf_tree_free(t1);
	ndx_conf_tree_free(t2);
	json_decref(d2);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[ERR_CAP], *text;
	const char *seed = getenv("NDX_FUZZ_WRITE_SEED");
	json_t *a, *d1;

	(void)argc;
	(void)argv;
	key = fuzz_key();
	a = ndx_anchor_build(FUZZ_INSTANCE, FUZZ_REGISTRY_URL, key);
	text = a != NULL ? json_dumps(a, JSON_COMPACT) : NULL;
	FUZZ_CHECK(text != NULL &&
		   ndx_anchor_parse(text, strlen(text), &anchor, err, sizeof err) == NDX_OK);
	free(text);
	json_decref(a);
	d1 = doc_v1();
	text = json_dumps(d1, JSON_COMPACT);
	FUZZ_CHECK(text != NULL);
	if (ndx_conf_parse((const uint8_t *)text, strlen(text), &held, err, sizeof err) != NDX_OK) {
		fprintf(stderr, "fuzz_conf_delta: the held document: %s\n", err);
		abort();
	}
	free(text);
	if (seed != NULL)
		write_seed(seed, d1);
	json_decref(d1);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *err = malloc(ERR_CAP), *sig = ndx_conf_sign(key, data, size), *text;
	struct ndx_conf *out = NULL, *again = NULL;
	int rc;

	FUZZ_CHECK(err != NULL && sig != NULL);
	rc = ndx_conf_delta_apply(held, data, size, sig, anchor, FUZZ_NOW, &out, err, ERR_CAP);
	/* Signed by the anchor's key: only the delta itself can fail. */
	FUZZ_CHECK(rc == NDX_OK || rc == NDX_EINVAL || rc == NDX_EPERM || rc == NDX_EEXPIRED ||
		   rc == NDX_ETOOBIG || rc == NDX_ENOMEM);
	FUZZ_CHECK((rc == NDX_OK) == (out != NULL));
	FUZZ_CHECK(rc == NDX_OK || strnlen(err, ERR_CAP) > 0);
	if (out != NULL) {
		FUZZ_CHECK(ndx_conf_version(out) > ndx_conf_version(held) ||
			   ndx_conf_generated_at(out) > ndx_conf_generated_at(held));
		text = json_dumps(ndx_conf_json(out), JSON_COMPACT);
		FUZZ_CHECK(text != NULL);
		FUZZ_CHECK(ndx_conf_parse((const uint8_t *)text, strlen(text), &again, err,
					  ERR_CAP) == NDX_OK);
		FUZZ_CHECK(ndx_conf_version(again) == ndx_conf_version(out));
		free(text);
		ndx_conf_free(again);
		ndx_conf_free(out);
	}
	free(sig);
	free(err);
	return 0;
}
