/* Unit tests for include/ndx/conf.h: a configuration document built here with
 * real Ed25519 keys, signed and verified; every index lookup; grant matching
 * including ".." paths; each verification step's refusal (tampered body and
 * signature, unknown and wrong keys, expiry, clocks, instance); each
 * validation rule of docs/protocol.md broken once (consent services too);
 * consent service key lookups; bulk purposes, embargoes and id providers
 * (lookups, absence, each rule broken); event types and subscriptions
 * (lookups, defaults, absence, each rule broken); the anchor; and the
 * conf.json + conf.sig directory round trip. */
#include <fnmatch.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ndx/conf.h"
#include "ndx/encode.h"
#include "ndx/err.h"
#include "ndx/file.h"
#include "ndx/key.h"
#include "ndx/policy.h"
#include "ndx/timefmt.h"

#define FP_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define FP_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define FP_C "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
#define REV_KEY "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
#define REV_CERT "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"
#define NOT_REV "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"

#define CITIZENS "VN/GOV/BCA/population/citizens"
#define HOUSEHOLDS "VN/GOV/BCA/population/households"
#define MOF_ENT "VN/GOV/MOF/enterprise"
#define COM_APP "VN/COM/0101234567/app"
#define CONSENT "VN/GOV/BCA/consent"
#define IDP_A "https://id.gov.vn"
#define IDP_B "http://127.0.0.1:4600/oidc"

struct fx {
	struct ndx_key *reg;     /* the registry's signing key, in the anchor */
	struct ndx_key *other;   /* a key the anchor does not know */
	struct ndx_key *gw[3];   /* gateway signing keys */
	struct ndx_key *cs[2];   /* consent service signing keys */
	struct ndx_key *idp[2];  /* id provider signing keys */
	struct ndx_anchor *anchor;
	time_t t0;               /* generated_at */
	char err[512];
};

static json_t *gateway_json(const char *member, const char *code, const char *fp,
			    const struct ndx_key *key)
{
	uint8_t raw[NDX_ED25519_PUBLIC_LEN];
	char kid[NDX_KEY_ID_HEX_LEN + 1], *b64;
	json_t *g;

	ndx_key_public_raw(key, raw);
	ndx_key_id(key, kid);
	b64 = ndx_b64_encode(raw, sizeof raw, 0);
	assert_non_null(b64);
	g = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "member", member, "code", code,
		      "address", "https://127.0.0.1:4431", "tls_cert_sha256", fp,
		      "sign_key", b64, "sign_key_id", kid);
	free(b64);
	assert_non_null(g);
	return g;
}

static json_t *consent_service_json(const char *id, const char *url, const struct ndx_key *key)
{
	uint8_t raw[NDX_ED25519_PUBLIC_LEN];
	char kid[NDX_KEY_ID_HEX_LEN + 1], *b64;
	json_t *o;

	ndx_key_public_raw(key, raw);
	ndx_key_id(key, kid);
	b64 = ndx_b64_encode(raw, sizeof raw, 0);
	assert_non_null(b64);
	o = json_pack("{s:s, s:s, s:s, s:s}", "id", id, "url", url, "sign_key", b64,
		      "sign_key_id", kid);
	free(b64);
	assert_non_null(o);
	return o;
}

static json_t *id_provider_json(const char *issuer, const struct ndx_key *key)
{
	uint8_t raw[NDX_ED25519_PUBLIC_LEN];
	char kid[NDX_KEY_ID_HEX_LEN + 1], *b64;
	json_t *o;

	ndx_key_public_raw(key, raw);
	ndx_key_id(key, kid);
	b64 = ndx_b64_encode(raw, sizeof raw, 0);
	assert_non_null(b64);
	o = json_pack("{s:s, s:s, s:s}", "issuer", issuer, "sign_key", b64, "sign_key_id", kid);
	free(b64);
	assert_non_null(o);
	return o;
}

static json_t *build_doc_base(const struct fx *f);

/* The base document plus a consent subsystem and two consent services
 * (appended, so the indexes of the rule cases below stay put), a bulk
 * purpose on the citizens service, two embargoes and two id providers. */
static json_t *build_doc(const struct fx *f)
{
	json_t *doc = build_doc_base(f);
	json_t *svc = json_array_get(json_object_get(doc, "services"), 0);

	assert_int_equal(json_array_append_new(json_object_get(doc, "subsystems"),
					       json_pack("{s:s}", "id", CONSENT)), 0);
	assert_int_equal(json_object_set_new(doc, "consent_services", json_pack("[o, o]",
		consent_service_json(CONSENT, "http://127.0.0.1:4500", f->cs[0]),
		consent_service_json(COM_APP, "https://consent.example.vn", f->cs[1]))), 0);
	assert_int_equal(json_object_set_new(svc, "purposes",
		json_pack("[s, s]", "public-service", "statistics")), 0);
	assert_int_equal(json_object_set_new(svc, "bulk_purposes", json_pack("[s]", "statistics")), 0);
	assert_int_equal(json_object_set_new(doc, "embargoes", json_pack("[{s:s, s:i}, {s:s, s:i}]",
		"purpose", "investigation", "seconds", 2592000, "purpose", "audit", "seconds", 1)), 0);
	assert_int_equal(json_object_set_new(doc, "id_providers", json_pack("[o, o]",
		id_provider_json(IDP_A, f->idp[0]), id_provider_json(IDP_B, f->idp[1]))), 0);
	return doc;
}

static json_t *build_doc_base(const struct fx *f)
{
	char gen[NDX_TIME_TEXT_LEN], exp[NDX_TIME_TEXT_LEN];
	json_t *doc;

	ndx_time_format(f->t0, gen);
	ndx_time_format(f->t0 + 600, exp);
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
		"format", NDX_CONF_FORMAT, "instance", "VN", "version", 42,
		"generated_at", gen, "expires_at", exp,
		"registry", "url", "http://127.0.0.1:4400", "ca_certificate",
		"member_classes", "GOV", "COM", "ORG",
		"members",
		"id", "VN/GOV/BCA", "name", "B\xe1\xbb\x99 C\xc3\xb4ng an",
		"id", "VN/GOV/MOF", "name", "B\xe1\xbb\x99 T\xc3\xa0i ch\xc3\xadnh",
		"id", "VN/COM/0101234567", "name", "C\xc3\xb4ng ty A",
		"subsystems", "id", "VN/GOV/BCA/population", "id", MOF_ENT, "id", COM_APP,
		"gateways",
		gateway_json("VN/GOV/BCA", "gw1", FP_A, f->gw[0]),
		gateway_json("VN/GOV/MOF", "gw1", FP_B, f->gw[1]),
		gateway_json("VN/GOV/BCA", "gw2", FP_C, f->gw[2]),
		"services",
		"id", CITIZENS, "title", "Tra c\xe1\xbb\xa9u c\xc3\xb4ng d\xc3\xa2n",
		"personal", 1, "purposes", "public-service", "consent_required", 0,
		"openapi_sha256",
		"id", HOUSEHOLDS, "title", "H\xe1\xbb\x99 kh\xe1\xba\xa9u", "personal", 0,
		"purposes", "consent_required", 1, "openapi_sha256", FP_A,
		"grants",
		"client", MOF_ENT, "service", CITIZENS, "methods", "GET",
		"paths", "/citizens/*",
		"client", MOF_ENT, "service", CITIZENS, "methods", "POST", "PUT",
		"paths", "/citizens/search",
		"client", COM_APP, "service", HOUSEHOLDS, "methods", "GET", "paths", "*",
		"revocations",
		"kind", "key", "value", REV_KEY, "revoked_at", gen, "reason", "compromised",
		"kind", "certificate", "value", REV_CERT);
	assert_non_null(doc);
	return doc;
}

static char *dump(const json_t *doc, size_t *len)
{
	char *text = json_dumps(doc, JSON_INDENT(2));

	assert_non_null(text);
	*len = strlen(text);
	return text;
}

/* A signature object over data by key, optionally naming another key id
 * and with one bit of the signature flipped. */
static char *make_sig(const struct ndx_key *key, const char *key_id, const void *data,
		      size_t len, int flip)
{
	uint8_t sig[NDX_ED25519_SIG_LEN];
	char kid[NDX_KEY_ID_HEX_LEN + 1], *b64, *text;
	json_t *o;

	assert_int_equal(ndx_sign(key, data, len, sig), NDX_OK);
	if (flip >= 0)
		sig[flip % NDX_ED25519_SIG_LEN] ^= 0x01;
	ndx_key_id(key, kid);
	b64 = ndx_b64_encode(sig, sizeof sig, 0);
	assert_non_null(b64);
	o = json_pack("{s:s, s:s, s:s}", "alg", "Ed25519", "key_id",
		      key_id != NULL ? key_id : kid, "signature", b64);
	free(b64);
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	assert_non_null(text);
	return text;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	json_t *a;
	char *text;

	if (f == NULL)
		return -1;
	if (ndx_key_generate(&f->reg) != NDX_OK || ndx_key_generate(&f->other) != NDX_OK)
		return -1;
	for (int i = 0; i < 3; i++)
		if (ndx_key_generate(&f->gw[i]) != NDX_OK)
			return -1;
	for (int i = 0; i < 2; i++)
		if (ndx_key_generate(&f->cs[i]) != NDX_OK ||
		    ndx_key_generate(&f->idp[i]) != NDX_OK)
			return -1;
	if (ndx_time_parse("2026-11-23T09:00:00Z", &f->t0) != NDX_OK)
		return -1;
	a = ndx_anchor_build("VN", "http://127.0.0.1:4400", f->reg);
	if (a == NULL)
		return -1;
	text = json_dumps(a, 0);
	json_decref(a);
	if (text == NULL ||
	    ndx_anchor_parse(text, strlen(text), &f->anchor, f->err, sizeof f->err) != NDX_OK) {
		free(text);
		return -1;
	}
	free(text);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	ndx_anchor_free(f->anchor);
	ndx_key_free(f->reg);
	ndx_key_free(f->other);
	for (int i = 0; i < 3; i++)
		ndx_key_free(f->gw[i]);
	for (int i = 0; i < 2; i++) {
		ndx_key_free(f->cs[i]);
		ndx_key_free(f->idp[i]);
	}
	free(f);
	return 0;
}

/* Verifies text signed by the registry key at t0 + 60. */
static int verify_text(struct fx *f, const char *text, size_t len, struct ndx_conf **out)
{
	char *sig = ndx_conf_sign(f->reg, text, len);
	int rc;

	assert_non_null(sig);
	rc = ndx_conf_verify((const uint8_t *)text, len, sig, f->anchor, f->t0 + 60, out,
			     f->err, sizeof f->err);
	free(sig);
	return rc;
}

static struct ndx_conf *load_good(struct fx *f)
{
	struct ndx_conf *conf = NULL;
	json_t *doc = build_doc(f);
	size_t len;
	char *text = dump(doc, &len);

	json_decref(doc);
	assert_int_equal(verify_text(f, text, len, &conf), NDX_OK);
	free(text);
	assert_non_null(conf);
	return conf;
}

static void assert_err(const struct fx *f, const char *want)
{
	if (strstr(f->err, want) == NULL)
		fail_msg("error \"%s\" does not contain \"%s\"", f->err, want);
}

static void test_sign_format(void **state)
{
	struct fx *f = *state;
	char kid[NDX_KEY_ID_HEX_LEN + 1], want[128];
	char *sig = ndx_conf_sign(f->reg, "abc", 3);

	assert_non_null(sig);
	ndx_key_id(f->reg, kid);
	snprintf(want, sizeof want, "{\"alg\":\"Ed25519\",\"key_id\":\"%s\",\"signature\":\"", kid);
	assert_memory_equal(sig, want, strlen(want));
	assert_int_equal(sig[strlen(sig) - 1], '}');
	free(sig);
}

static void test_verify_ok(void **state)
{
	struct fx *f = *state;
	struct ndx_conf *conf = load_good(f);

	assert_int_equal(ndx_conf_version(conf), 42);
	assert_string_equal(ndx_conf_instance(conf), "VN");
	assert_int_equal(ndx_conf_generated_at(conf), f->t0);
	assert_int_equal(ndx_conf_expires_at(conf), f->t0 + 600);
	assert_true(json_is_object(ndx_conf_json(conf)));
	ndx_conf_free(conf);
	ndx_conf_free(NULL);
}

static void test_lookups(void **state)
{
	struct fx *f = *state;
	struct ndx_conf *conf = load_good(f);
	const struct ndx_conf_member *m;
	const struct ndx_conf_gateway *g;
	const struct ndx_key *k;
	char want[NDX_KEY_ID_HEX_LEN + 1], got[NDX_KEY_ID_HEX_LEN + 1];

	m = ndx_conf_member(conf, "VN/GOV/MOF");
	assert_non_null(m);
	assert_string_equal(m->id, "VN/GOV/MOF");
	assert_null(ndx_conf_member(conf, "VN/GOV/XYZ"));
	assert_null(ndx_conf_member(conf, "VN/GOV/BCA/population"));
	assert_null(ndx_conf_member(conf, NULL));
	assert_non_null(ndx_conf_subsystem(conf, COM_APP));
	assert_null(ndx_conf_subsystem(conf, "VN/GOV/BCA"));
	/* A client is a subsystem or, member-level (PR-REST 4.1), a member. */
	assert_string_equal(ndx_conf_subsystem(conf, COM_APP)->id, COM_APP);
	assert_true(ndx_conf_has_client(conf, COM_APP));
	assert_true(ndx_conf_has_client(conf, "VN/GOV/MOF"));
	assert_false(ndx_conf_has_client(conf, "VN/GOV/XYZ"));
	assert_false(ndx_conf_has_client(conf, CITIZENS));
	assert_false(ndx_conf_has_client(conf, NULL));
	assert_non_null(ndx_conf_service_of(conf, HOUSEHOLDS));
	{
		const struct ndx_conf_service *cs = ndx_conf_service_of(conf, CITIZENS);

		assert_non_null(cs);
		assert_string_equal(cs->id, CITIZENS);
		assert_true(cs->personal);
		assert_true(cs->npurposes > 0);
		assert_true(ndx_conf_service_has_purpose(cs, cs->purposes[0]));
		assert_false(ndx_conf_service_has_purpose(cs, "no-such-purpose"));
		assert_false(ndx_conf_service_has_purpose(cs, NULL));
		assert_ptr_equal(ndx_conf_service_of(conf, CITIZENS), cs);
		/* Every member's, subsystem's and grant's typed view says what its
		 * document says, in the document's order. */
		const json_t *d = ndx_conf_json(conf), *x;
		size_t n;

		json_array_foreach(json_object_get(d, "members"), n, x) {
			const struct ndx_conf_member *tm = ndx_conf_member_at(conf, n);
			assert_non_null(tm);
			assert_string_equal(tm->id, json_string_value(json_object_get(x, "id")));
		}
		assert_null(ndx_conf_member_at(conf, n));
		json_array_foreach(json_object_get(d, "subsystems"), n, x) {
			const struct ndx_conf_subsystem *ts = ndx_conf_subsystem_at(conf, n);
			assert_non_null(ts);
			assert_string_equal(ts->id, json_string_value(json_object_get(x, "id")));
			assert_non_null(ndx_conf_member(conf, ts->member));
			assert_int_equal(strncmp(ts->id, ts->member, strlen(ts->member)), 0);
		}
		assert_null(ndx_conf_subsystem_at(conf, n));
		json_array_foreach(json_object_get(d, "grants"), n, x) {
			const struct ndx_conf_grant *tg = ndx_conf_grant_at(conf, n);
			assert_non_null(tg);
			assert_string_equal(tg->client, json_string_value(json_object_get(x, "client")));
			assert_int_equal(tg->nmethods, json_array_size(json_object_get(x, "methods")));
			assert_int_equal(tg->npaths, json_array_size(json_object_get(x, "paths")));
			assert_string_equal(tg->paths[tg->npaths - 1],
					    json_string_value(json_array_get(
						    json_object_get(x, "paths"), tg->npaths - 1)));
		}
		assert_null(ndx_conf_grant_at(conf, n));
		assert_non_null(ndx_conf_service_at(conf, 0));

		/* Every service's typed view says what its document says. */
		const json_t *list = json_object_get(ndx_conf_json(conf), "services"), *o;
		size_t i;

		json_array_foreach(list, i, o) {
			const char *id = json_string_value(json_object_get(o, "id"));
			const struct ndx_conf_service *t = ndx_conf_service_of(conf, id);

			assert_non_null(t);
			assert_int_equal(t->personal, json_is_true(json_object_get(o, "personal")));
			assert_int_equal(t->consent_required,
					 json_is_true(json_object_get(o, "consent_required")));
			assert_int_equal(t->npurposes,
					 json_array_size(json_object_get(o, "purposes")));
			assert_int_equal(t->nbulk_purposes,
					 json_array_size(json_object_get(o, "bulk_purposes")));
			for (size_t p = 0; p < t->npurposes; p++)
				assert_string_equal(t->purposes[p],
						    json_string_value(json_array_get(
							    json_object_get(o, "purposes"), p)));
		}
		assert_null(ndx_conf_service_of(conf, "VN/GOV/BCA/population/nope"));
		assert_null(ndx_conf_service_of(conf, NULL));
	}
	assert_true(ndx_conf_service_of(conf, CITIZENS)->personal);
	assert_null(ndx_conf_service_of(conf, "VN/GOV/BCA/population/nope"));

	g = ndx_conf_gateway_by_cert(conf, FP_C);
	assert_non_null(g);
	assert_string_equal(g->code, "gw2");
	assert_string_equal(g->member, "VN/GOV/BCA");
	assert_string_equal(g->tls_cert_sha256, FP_C);
	assert_non_null(g->address);
	assert_null(ndx_conf_gateway_by_cert(conf, NOT_REV));
	assert_null(ndx_conf_gateway_by_cert(conf, NULL));

	/* A member's gateways in the document's order. */
	assert_non_null(ndx_conf_gateway_of(conf, "VN/GOV/BCA", 0));
	assert_ptr_equal(ndx_conf_gateway_of(conf, "VN/GOV/BCA", 1), g);
	assert_null(ndx_conf_gateway_of(conf, "VN/GOV/BCA", 2));
	assert_non_null(ndx_conf_gateway_of(conf, "VN/GOV/MOF", 0));
	assert_null(ndx_conf_gateway_of(conf, "VN/GOV/MOF", 1));
	assert_null(ndx_conf_gateway_of(conf, "VN/COM/0101234567", 0));
	assert_null(ndx_conf_gateway_of(conf, "VN/GOV/NONE", 0));
	assert_null(ndx_conf_gateway_of(conf, NULL, 0));

	for (int i = 0; i < 3; i++) {
		static const char *const fps[3] = { FP_A, FP_B, FP_C };

		g = ndx_conf_gateway_by_cert(conf, fps[i]);
		k = g->sign_key;
		assert_non_null(k);
		ndx_key_id(f->gw[i], want);
		ndx_key_id(k, got);
		assert_string_equal(got, want);
		assert_string_equal(g->sign_key_id, got);
	}

	assert_true(ndx_conf_is_revoked(conf, REV_KEY));
	assert_true(ndx_conf_is_revoked(conf, REV_CERT));
	assert_false(ndx_conf_is_revoked(conf, NOT_REV));
	assert_false(ndx_conf_is_revoked(conf, NULL));
	ndx_conf_free(conf);
}

static void test_grants(void **state)
{
	struct fx *f = *state;
	struct ndx_conf *conf = load_good(f);
	static const char *const dotdot[] = {
		"/citizens/../admin", "/citizens/..", "/citizens/%2e%2e/admin",
		"/citizens/%2E%2E/admin", "/citizens/.%2e/x", "/citizens/%2e./x",
		"/citizens/..%2fadmin", "/citizens/..%2Fadmin", "/citizens/..\\admin",
		"/citizens/x/../../y",
	};

	assert_true(ndx_conf_grant_allows(conf, MOF_ENT, CITIZENS, "GET", "/citizens/123"));
	/* which pattern allowed it, for the operational record's template */
	assert_non_null(ndx_conf_grant_match(conf, MOF_ENT, CITIZENS, "GET", "/citizens/123"));
	assert_true(fnmatch(ndx_conf_grant_match(conf, MOF_ENT, CITIZENS, "GET", "/citizens/123"),
			    "/citizens/123", 0) == 0);
	assert_null(ndx_conf_grant_match(conf, MOF_ENT, CITIZENS, "GET", "/other"));
	assert_null(ndx_conf_grant_match(conf, MOF_ENT, CITIZENS, "GET", "/citizens/../admin"));
	assert_true(ndx_conf_grant_allows(conf, MOF_ENT, CITIZENS, "GET", "/citizens/1/2"));
	assert_true(ndx_conf_grant_allows(conf, MOF_ENT, CITIZENS, "GET", "/citizens/a..b"));
	assert_true(ndx_conf_grant_allows(conf, MOF_ENT, CITIZENS, "GET", "/citizens/..."));
	assert_true(ndx_conf_grant_allows(conf, MOF_ENT, CITIZENS, "POST", "/citizens/search"));
	assert_true(ndx_conf_grant_allows(conf, MOF_ENT, CITIZENS, "PUT", "/citizens/search"));
	/* method not granted for this path, or at all */
	assert_false(ndx_conf_grant_allows(conf, MOF_ENT, CITIZENS, "POST", "/citizens/123"));
	assert_false(ndx_conf_grant_allows(conf, MOF_ENT, CITIZENS, "DELETE", "/citizens/1"));
	assert_false(ndx_conf_grant_allows(conf, MOF_ENT, CITIZENS, "get", "/citizens/1"));
	/* path outside the patterns */
	assert_false(ndx_conf_grant_allows(conf, MOF_ENT, CITIZENS, "GET", "/other"));
	assert_false(ndx_conf_grant_allows(conf, MOF_ENT, CITIZENS, "GET", ""));
	assert_false(ndx_conf_grant_allows(conf, MOF_ENT, CITIZENS, "GET", "/citizens"));
	for (size_t i = 0; i < sizeof dotdot / sizeof dotdot[0]; i++)
		if (ndx_conf_grant_allows(conf, MOF_ENT, CITIZENS, "GET", dotdot[i]))
			fail_msg("%s was allowed", dotdot[i]);
	/* "*" matches every path, the empty one included */
	assert_true(ndx_conf_grant_allows(conf, COM_APP, HOUSEHOLDS, "GET", ""));
	assert_true(ndx_conf_grant_allows(conf, COM_APP, HOUSEHOLDS, "GET", NULL));
	assert_true(ndx_conf_grant_allows(conf, COM_APP, HOUSEHOLDS, "GET", "/a/b?c"));
	assert_false(ndx_conf_grant_allows(conf, COM_APP, HOUSEHOLDS, "GET", "/a/../b"));
	assert_false(ndx_conf_grant_allows(conf, COM_APP, HOUSEHOLDS, "HEAD", "/"));
	/* no grant for this pair */
	assert_false(ndx_conf_grant_allows(conf, COM_APP, CITIZENS, "GET", "/citizens/1"));
	assert_false(ndx_conf_grant_allows(conf, MOF_ENT, HOUSEHOLDS, "GET", ""));
	assert_false(ndx_conf_grant_allows(conf, "VN/GOV/MOF/other", CITIZENS, "GET",
					   "/citizens/1"));
	assert_false(ndx_conf_grant_allows(conf, NULL, CITIZENS, "GET", "/citizens/1"));
	ndx_conf_free(conf);
}

/* PR-REST 4.1: a member-level client ("Including the subsystem code is
 * OPTIONAL") holds the grants made to the member id, and only those. */
static void test_grants_member_client(void **state)
{
	struct fx *f = *state;
	struct ndx_conf *conf = NULL;
	json_t *doc = build_doc(f);
	size_t len;
	char *text;

	assert_int_equal(json_array_append_new(json_object_get(doc, "grants"),
		json_pack("{s:s, s:s, s:[s], s:[s]}", "client", "VN/GOV/MOF", "service",
			  HOUSEHOLDS, "methods", "GET", "paths", "/mof/*")), 0);
	text = dump(doc, &len);
	json_decref(doc);
	assert_int_equal(verify_text(f, text, len, &conf), NDX_OK);
	free(text);
	assert_true(ndx_conf_grant_allows(conf, "VN/GOV/MOF", HOUSEHOLDS, "GET", "/mof/1"));
	assert_false(ndx_conf_grant_allows(conf, "VN/GOV/MOF", HOUSEHOLDS, "GET", "/other"));
	/* Neither the member's subsystem gets the member's grant ... */
	assert_false(ndx_conf_grant_allows(conf, MOF_ENT, HOUSEHOLDS, "GET", "/mof/1"));
	/* ... nor the member its subsystem's. */
	assert_false(ndx_conf_grant_allows(conf, "VN/GOV/MOF", CITIZENS, "GET", "/citizens/1"));
	ndx_conf_free(conf);
}

/* A marketplace agreement's grant (docs/marketplace.md): found with its
 * policy and end by ndx_conf_grant_find; an operator's grant has neither;
 * a policy outside the ODRL subset or a bad end makes the document invalid. */
static void test_grants_agreement(void **state)
{
	static const char *const bad[][3] = {
		{ "policy", "{\"permission\":[{\"action\":\"sell\"}]}", "grants[3].policy: permission[0].action" },
		{ "not_after", "\"tomorrow\"", "grants[3].not_after: expected an RFC 3339" },
		{ "agreement", "7", "grants[3].agreement: expected the agreement's id" },
	};
	struct fx *f = *state;
	struct ndx_conf *conf = NULL;
	const struct ndx_conf_grant *g;
	const char *pattern = NULL;
	json_t *doc = build_doc(f), *grant;
	size_t len;
	char *text;

	grant = json_pack("{s:s, s:s, s:[s,s], s:[s], s:s, s:{s:[{s:s, s:[{s:s, s:s, s:i, s:s}]}]},"
			  " s:s}", "client", "VN/GOV/MOF", "service", HOUSEHOLDS, "methods", "GET",
			  "POST", "paths", "*", "agreement", "urn:uuid:a1", "policy", "permission",
			  "action", "use", "constraint", "leftOperand", "count", "operator", "lteq",
			  "rightOperand", 3, "unit", "ndx:perHour", "not_after", "2027-01-01T00:00:00Z");
	assert_non_null(grant);
	assert_int_equal(json_array_append(json_object_get(doc, "grants"), grant), 0);
	text = dump(doc, &len);
	assert_int_equal(verify_text(f, text, len, &conf), NDX_OK);
	free(text);
	g = ndx_conf_grant_find(conf, "VN/GOV/MOF", HOUSEHOLDS, "POST", "/x", &pattern);
	assert_non_null(g);
	assert_string_equal(pattern, "*");
	assert_string_equal(g->agreement, "urn:uuid:a1");
	assert_non_null(g->policy);
	assert_int_equal(g->policy->max_calls, 3);
	assert_int_equal(g->policy->period, NDX_PERIOD_HOUR);
	assert_int_equal(g->not_after, 1798761600);
	assert_null(ndx_conf_grant_find(conf, "VN/GOV/MOF", HOUSEHOLDS, "DELETE", "/x", NULL));
	g = ndx_conf_grant_find(conf, MOF_ENT, CITIZENS, "GET", "/citizens/1", NULL);
	assert_non_null(g);
	assert_null(g->agreement);
	assert_null(g->policy);
	ndx_conf_free(conf);
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		json_t *v = json_loads(bad[i][1], JSON_DECODE_ANY, NULL);
		assert_int_equal(json_object_set_new(grant, bad[i][0], v), 0);
		text = dump(doc, &len);
		conf = NULL;
		assert_int_equal(verify_text(f, text, len, &conf), NDX_EINVAL);
		free(text);
		assert_err(f, bad[i][2]);
		json_object_set_new(grant, "agreement", json_string("urn:uuid:a1"));
		json_object_set_new(grant, "not_after", json_string("2027-01-01T00:00:00Z"));
		json_object_set_new(grant, "policy", json_pack("{s:[{s:s}]}", "permission", "action",
							       "use"));
	}
	json_decref(grant);
	json_decref(doc);
}

static void test_tampered_body(void **state)
{
	struct fx *f = *state;
	json_t *doc = build_doc(f);
	size_t len;
	char *text = dump(doc, &len), *sig = ndx_conf_sign(f->reg, text, len);
	struct ndx_conf *conf = NULL;

	json_decref(doc);
	assert_non_null(sig);
	for (int i = 0; i < 20; i++) {
		size_t pos = (size_t)i * (len - 1) / 19;

		text[pos] ^= 0x01;
		assert_int_equal(ndx_conf_verify((const uint8_t *)text, len, sig, f->anchor,
						 f->t0 + 60, &conf, f->err, sizeof f->err),
				 NDX_EBADSIG);
		assert_null(conf);
		assert_err(f, "does not verify with registry key");
		text[pos] ^= 0x01;
	}
	/* one byte shorter, one byte longer */
	assert_int_equal(ndx_conf_verify((const uint8_t *)text, len - 1, sig, f->anchor,
					 f->t0 + 60, &conf, f->err, sizeof f->err), NDX_EBADSIG);
	assert_int_equal(ndx_conf_verify((const uint8_t *)text, len + 1, sig, f->anchor,
					 f->t0 + 60, &conf, f->err, sizeof f->err), NDX_EBADSIG);
	assert_int_equal(ndx_conf_verify((const uint8_t *)text, len, sig, f->anchor,
					 f->t0 + 60, &conf, f->err, sizeof f->err), NDX_OK);
	ndx_conf_free(conf);
	free(sig);
	free(text);
}

static void test_bad_signatures(void **state)
{
	struct fx *f = *state;
	json_t *doc = build_doc(f);
	size_t len;
	char *text = dump(doc, &len), *sig, regid[NDX_KEY_ID_HEX_LEN + 1];
	struct ndx_conf *conf = NULL;
	static const char *const malformed[] = {
		"", "not json", "[]", "{\"alg\":\"RS256\",\"key_id\":\"00\",\"signature\":\"\"}",
		"{\"alg\":\"Ed25519\",\"key_id\":\"xyz\",\"signature\":\"AAAA\"}",
		"{\"alg\":\"Ed25519\",\"alg\":\"Ed25519\"}",
	};

	json_decref(doc);
	ndx_key_id(f->reg, regid);
	for (int flip = 0; flip < 64; flip += 21) {
		sig = make_sig(f->reg, NULL, text, len, flip);
		assert_int_equal(ndx_conf_verify((const uint8_t *)text, len, sig, f->anchor,
						 f->t0 + 60, &conf, f->err, sizeof f->err),
				 NDX_EBADSIG);
		assert_null(conf);
		assert_err(f, "does not verify");
		free(sig);
	}
	/* signed by a key the anchor does not hold */
	sig = make_sig(f->other, NULL, text, len, -1);
	assert_int_equal(ndx_conf_verify((const uint8_t *)text, len, sig, f->anchor,
					 f->t0 + 60, &conf, f->err, sizeof f->err), NDX_ENOTFOUND);
	assert_err(f, "not a key of the anchor");
	free(sig);
	/* ... claiming to be the registry's key */
	sig = make_sig(f->other, regid, text, len, -1);
	assert_int_equal(ndx_conf_verify((const uint8_t *)text, len, sig, f->anchor,
					 f->t0 + 60, &conf, f->err, sizeof f->err), NDX_EBADSIG);
	assert_err(f, "does not verify");
	free(sig);
	for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++) {
		assert_int_equal(ndx_conf_verify((const uint8_t *)text, len, malformed[i],
						 f->anchor, f->t0 + 60, &conf, f->err,
						 sizeof f->err), NDX_EINVAL);
		assert_null(conf);
		assert_err(f, "signature object");
	}
	assert_int_equal(ndx_conf_verify((const uint8_t *)text, len, NULL, f->anchor,
					 f->t0 + 60, &conf, f->err, sizeof f->err), NDX_EINVAL);
	free(text);
}

static void test_time_and_instance(void **state)
{
	struct fx *f = *state;
	json_t *doc = build_doc(f), *a;
	size_t len;
	char *text = dump(doc, &len), *sig = ndx_conf_sign(f->reg, text, len), *atext;
	struct ndx_conf *conf = NULL;
	struct ndx_anchor *la = NULL;

	json_decref(doc);
	assert_int_equal(ndx_conf_verify((const uint8_t *)text, len, sig, f->anchor,
					 f->t0 + 600, &conf, f->err, sizeof f->err), NDX_EEXPIRED);
	assert_null(conf);
	assert_err(f, "configuration expired at 2026-11-23T09:10:00Z (now 2026-11-23T09:10:00Z)");
	assert_int_equal(ndx_conf_verify((const uint8_t *)text, len, sig, f->anchor,
					 f->t0 + 599, &conf, f->err, sizeof f->err), NDX_OK);
	ndx_conf_free(conf);
	conf = NULL;
	/* 300 s of clock skew are tolerated, 301 are not */
	assert_int_equal(ndx_conf_verify((const uint8_t *)text, len, sig, f->anchor,
					 f->t0 - 300, &conf, f->err, sizeof f->err), NDX_OK);
	ndx_conf_free(conf);
	conf = NULL;
	assert_int_equal(ndx_conf_verify((const uint8_t *)text, len, sig, f->anchor,
					 f->t0 - 301, &conf, f->err, sizeof f->err), NDX_EEXPIRED);
	assert_err(f, "in the future");
	assert_null(conf);

	/* the same key, but an anchor for another instance */
	a = ndx_anchor_build("LA", "http://127.0.0.1:4400", f->reg);
	atext = json_dumps(a, 0);
	json_decref(a);
	assert_int_equal(ndx_anchor_parse(atext, strlen(atext), &la, f->err, sizeof f->err),
			 NDX_OK);
	free(atext);
	assert_int_equal(ndx_conf_verify((const uint8_t *)text, len, sig, la, f->t0 + 60,
					 &conf, f->err, sizeof f->err), NDX_EINVAL);
	assert_err(f, "instance VN");
	assert_null(conf);
	ndx_anchor_free(la);
	free(sig);
	free(text);
}

static void test_malformed_documents(void **state)
{
	struct fx *f = *state;
	struct ndx_conf *conf = NULL;
	static const char *const bad[] = {
		"", "{", "{\"format\":", "[]", "42", "{\"format\":\"ndx-conf/1\"} x",
		"{\"format\":\"ndx-conf/1\",\"format\":\"ndx-conf/1\"}",
	};
	static const char *const want[] = {
		"not valid JSON", "not valid JSON", "not valid JSON", "not a JSON object",
		"not valid JSON", "not valid JSON", "duplicate",
	};

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		/* signed correctly: the refusal comes from parsing */
		assert_int_equal(verify_text(f, bad[i], strlen(bad[i]), &conf), NDX_EINVAL);
		assert_null(conf);
		assert_err(f, want[i]);
		assert_int_equal(ndx_conf_parse((const uint8_t *)bad[i], strlen(bad[i]), &conf,
						f->err, sizeof f->err), NDX_EINVAL);
		assert_err(f, want[i]);
	}
	/* a duplicate key deep inside a valid document */
	{
		json_t *doc = build_doc(f);
		size_t len;
		char *text = dump(doc, &len), *p = strstr(text, "\"title\"");
		char *dup;

		json_decref(doc);
		assert_non_null(p);
		dup = malloc(len + 32);
		assert_non_null(dup);
		memcpy(dup, text, (size_t)(p - text));
		len = (size_t)snprintf(dup + (p - text), len + 32 - (size_t)(p - text),
				       "\"personal\": false, %s", p) + (size_t)(p - text);
		assert_int_equal(verify_text(f, dup, len, &conf), NDX_EINVAL);
		assert_err(f, "duplicate");
		free(dup);
		free(text);
	}
}

/* One broken rule: set list[index].field (or the top-level field when list
 * is NULL) to the JSON value (NULL deletes it). */
struct rule_case {
	const char *list;
	int index;
	const char *field;
	const char *value;
	const char *want;
};

static const struct rule_case rule_cases[] = {
	{ NULL, 0, "format", "\"ndx-conf/2\"", "format: expected \"ndx-conf/1\"" },
	{ NULL, 0, "format", NULL, "format: missing" },
	{ NULL, 0, "version", "0", "version: expected a positive integer" },
	{ NULL, 0, "version", "-3", "version: expected a positive integer" },
	{ NULL, 0, "version", "\"42\"", "version: expected a positive integer" },
	{ NULL, 0, "version", "4.2", "version: expected a positive integer" },
	{ NULL, 0, "instance", "\"V N\"", "instance: character ' '" },
	{ NULL, 0, "generated_at", "\"2026-11-23 09:00:00\"", "generated_at: " },
	{ NULL, 0, "expires_at", "\"2026-11-23T09:00:00Z\"",
	  "expires_at: must be after generated_at" },
	{ NULL, 0, "expires_at", "\"2026-11-23T08:00:00Z\"",
	  "expires_at: must be after generated_at" },
	{ NULL, 0, "members", "{}", "members: expected an array" },
	{ NULL, 0, "revocations", NULL, "revocations: missing" },
	{ NULL, 0, "registry", "[]", "registry: expected an object" },
	{ NULL, 0, "member_classes", "[\"GOV\",\"GOV\"]", "member_classes[1]: GOV is listed twice" },
	{ "members", 0, "id", "\"VN/GOV\"", "members[0].id: expected 3 parts (member id), found 2" },
	{ "members", 1, "id", "\"VN/GOV/M F\"", "members[1].id: character ' '" },
	{ "members", 1, "id", "\"VN/GOV/%4DOF\"", "members[1].id: VN/GOV/%4DOF is not in canonical" },
	{ "members", 1, "id", "\"LA/GOV/MOF\"", "members[1].id: instance LA is not" },
	{ "members", 2, "id", "\"VN/XYZ/0101234567\"",
	  "members[2].id: member class XYZ is not in member_classes" },
	{ "members", 1, "id", "\"VN/GOV/BCA\"", "members[1].id: VN/GOV/BCA is listed twice" },
	{ "members", 0, "id", "42", "members[0].id: expected a string" },
	{ "subsystems", 1, "id", "\"VN/GOV/NOPE/enterprise\"",
	  "subsystems[1].id: member VN/GOV/NOPE is not in this configuration" },
	{ "subsystems", 1, "id", "\"VN/GOV/MOF\"",
	  "subsystems[1].id: expected 4 parts (subsystem id), found 3" },
	{ "subsystems", 2, "id", "\"" MOF_ENT "\"", "subsystems[2].id: " MOF_ENT " is listed twice" },
	{ "services", 1, "id", "\"VN/GOV/BCA/population\"",
	  "services[1].id: expected 5 parts (service id), found 4" },
	{ "services", 1, "id", "\"VN/GOV/BCA/nope/households\"",
	  "services[1].id: subsystem VN/GOV/BCA/nope is not in this configuration" },
	{ "services", 1, "id", "\"" CITIZENS "\"", "services[1].id: " CITIZENS " is listed twice" },
	{ "services", 0, "personal", "\"yes\"", "services[0].personal: expected true or false" },
	{ "services", 0, "purposes", "[\"\"]", "services[0].purposes[0]" },
	{ "services", 0, "openapi_sha256", "\"abc\"", "services[0].openapi_sha256" },
	{ "gateways", 1, "member", "\"VN/GOV/NOPE\"",
	  "gateways[1].member: VN/GOV/NOPE is not a member in this configuration" },
	{ "gateways", 1, "code", "\"g w\"", "gateways[1].code: character ' '" },
	{ "gateways", 2, "code", "\"gw1\"", "gateways[2]: member VN/GOV/BCA has two gateways with code gw1" },
	{ "gateways", 0, "sign_key", "\"AAAA\"", "gateways[0].sign_key: expected base64" },
	{ "gateways", 0, "sign_key", "\"not base64!\"", "gateways[0].sign_key: expected base64" },
	{ "gateways", 0, "sign_key_id", "\"" FP_A "\"", "gateways[0].sign_key_id: does not match" },
	{ "gateways", 0, "tls_cert_sha256", "\"abc\"", "gateways[0].tls_cert_sha256: expected 64" },
	{ "gateways", 0, "tls_cert_sha256",
	  "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"",
	  "gateways[0].tls_cert_sha256: expected 64" },
	{ "gateways", 1, "tls_cert_sha256", "\"" FP_A "\"",
	  "gateways[1].tls_cert_sha256: another gateway has the same certificate" },
	{ "gateways", 0, "address", NULL, "gateways[0].address: missing" },
	{ "grants", 0, "service", "\"VN/GOV/BCA/population/x\"",
	  "grants[0].service: VN/GOV/BCA/population/x is not a service in this configuration" },
	{ "grants", 0, "client", "\"VN/GOV/MOF/nope\"",
	  "grants[0].client: VN/GOV/MOF/nope is not a subsystem in this configuration" },
	/* A member is a client too (PR-REST 4.1), when it is in the document. */
	{ "grants", 0, "client", "\"VN/GOV/NOPE\"",
	  "grants[0].client: VN/GOV/NOPE is not a member in this configuration" },
	{ "grants", 0, "client", "\"VN/GOV\"", "grants[0].client: expected 4 parts" },
	{ "grants", 0, "client", "\"" CITIZENS "\"", "grants[0].client: expected 4 parts" },
	{ "grants", 1, "methods", "[\"POST\",\"FETCH\"]", "grants[1].methods[1]: expected one of" },
	{ "grants", 1, "methods", "[\"get\"]", "grants[1].methods[0]: expected one of" },
	{ "grants", 1, "methods", "[]", "grants[1].methods: is empty" },
	{ "grants", 0, "paths", "[\"citizens/*\"]", "grants[0].paths[0]: expected \"*\" or" },
	{ "grants", 0, "paths", "[\"\"]", "grants[0].paths[0]: expected \"*\" or" },
	{ "grants", 0, "paths", "[]", "grants[0].paths: is empty" },
	{ "grants", 0, "paths", "\"*\"", "grants[0].paths: expected an array" },
	{ "revocations", 0, "kind", "\"user\"", "revocations[0].kind: expected \"key\" or" },
	{ "revocations", 1, "value", "\"xyz\"", "revocations[1].value: expected 64" },
	{ "revocations", 0, "revoked_at", "\"yesterday\"", "revocations[0].revoked_at" },
	{ NULL, 0, "consent_services", NULL, "consent_services: missing" },
	{ NULL, 0, "consent_services", "{}", "consent_services: expected an array" },
	{ "consent_services", 0, "id", "\"VN/GOV/BCA/nope\"",
	  "consent_services[0].id: VN/GOV/BCA/nope is not a subsystem in this configuration" },
	{ "consent_services", 0, "id", "\"VN/GOV/BCA\"",
	  "consent_services[0].id: expected 4 parts (subsystem id), found 3" },
	{ "consent_services", 0, "id", "\"LA/GOV/BCA/consent\"", "consent_services[0].id: instance LA" },
	{ "consent_services", 1, "id", "\"" CONSENT "\"",
	  "consent_services[1].id: " CONSENT " is listed twice" },
	{ "consent_services", 0, "url", NULL, "consent_services[0].url: missing" },
	{ "consent_services", 0, "url", "\"ftp://x\"", "consent_services[0].url: expected an http" },
	{ "consent_services", 0, "sign_key", "\"AAAA\"", "consent_services[0].sign_key: expected base64" },
	{ "consent_services", 1, "sign_key_id", "\"" FP_A "\"",
	  "consent_services[1].sign_key_id: does not match" },
	{ "consent_services", 0, "sign_key_id", NULL, "consent_services[0].sign_key_id: missing" },
	{ "services", 0, "bulk_purposes", "\"statistics\"",
	  "services[0].bulk_purposes: expected an array" },
	{ "services", 0, "bulk_purposes", "[\"nope\"]",
	  "services[0].bulk_purposes[0]: nope is not one of the service's purposes" },
	{ "services", 0, "bulk_purposes", "[\"statistics\",\"statistics\"]",
	  "services[0].bulk_purposes[1]: statistics is listed twice" },
	{ "services", 0, "bulk_purposes", "[\"statistics\",42]",
	  "services[0].bulk_purposes[1]: expected a non-empty string" },
	{ "services", 0, "bulk_purposes", "[\"\"]",
	  "services[0].bulk_purposes[0]: expected a non-empty string" },
	{ "services", 0, "consent_required", "true",
	  "services[0].bulk_purposes: not allowed on a service that requires consent" },
	{ "services", 0, "personal", "false",
	  "services[0].bulk_purposes: only a personal service may have bulk purposes" },
	{ "services", 0, "personal", NULL,
	  "services[0].bulk_purposes: only a personal service may have bulk purposes" },
	{ "services", 1, "bulk_purposes", "[\"x\"]",
	  "services[1].bulk_purposes: only a personal service" },
	{ NULL, 0, "embargoes", "{}", "embargoes: expected an array" },
	{ NULL, 0, "embargoes", "[42]", "embargoes[0]: expected an object" },
	{ "embargoes", 0, "seconds", "0", "embargoes[0].seconds: expected an integer from 1 to" },
	{ "embargoes", 0, "seconds", "-60", "embargoes[0].seconds: expected an integer from 1" },
	{ "embargoes", 0, "seconds", "\"60\"", "embargoes[0].seconds: expected an integer" },
	{ "embargoes", 0, "seconds", "1.5", "embargoes[0].seconds: expected an integer" },
	{ "embargoes", 0, "seconds", "3155760001", "embargoes[0].seconds: expected an integer" },
	{ "embargoes", 1, "seconds", NULL, "embargoes[1].seconds: missing" },
	{ "embargoes", 1, "purpose", NULL, "embargoes[1].purpose: missing" },
	{ "embargoes", 1, "purpose", "\"\"", "embargoes[1].purpose: is empty" },
	{ "embargoes", 1, "purpose", "7", "embargoes[1].purpose: expected a string" },
	{ "embargoes", 1, "purpose", "\"investigation\"",
	  "embargoes[1].purpose: investigation is listed twice" },
	{ NULL, 0, "id_providers", "{}", "id_providers: expected an array" },
	{ NULL, 0, "id_providers", "[\"x\"]", "id_providers[0]: expected an object" },
	{ "id_providers", 0, "issuer", NULL, "id_providers[0].issuer: missing" },
	{ "id_providers", 0, "issuer", "\"ftp://id.gov.vn\"",
	  "id_providers[0].issuer: expected an http:// or https:// URL" },
	{ "id_providers", 0, "issuer", "\"https://\"", "id_providers[0].issuer: expected" },
	{ "id_providers", 0, "issuer", "\"https://id.gov.vn/a b\"",
	  "id_providers[0].issuer: expected" },
	{ "id_providers", 1, "issuer", "\"" IDP_A "\"",
	  "id_providers[1].issuer: " IDP_A " is listed twice" },
	{ "id_providers", 0, "sign_key", "\"AAAA\"", "id_providers[0].sign_key: expected base64" },
	{ "id_providers", 1, "sign_key_id", "\"" FP_A "\"",
	  "id_providers[1].sign_key_id: does not match sign_key" },
	{ "id_providers", 1, "sign_key_id", NULL, "id_providers[1].sign_key_id: missing" },
};

/* Breaks each rule of cases[0..n) in a document of build and expects the
 * refusal that names it. */
static void run_rule_cases(struct fx *f, const struct rule_case *cases, size_t n,
			   json_t *(*build)(const struct fx *))
{
	for (size_t i = 0; i < n; i++) {
		const struct rule_case *c = &cases[i];
		json_t *doc = build(f), *target = doc, *val = NULL;
		struct ndx_conf *conf = NULL;
		size_t len;
		char *text;
		int rc;

		if (c->list != NULL)
			target = json_array_get(json_object_get(doc, c->list), (size_t)c->index);
		assert_non_null(target);
		if (c->value != NULL) {
			val = json_loads(c->value, JSON_DECODE_ANY, NULL);
			assert_non_null(val);
			assert_int_equal(json_object_set_new(target, c->field, val), 0);
		} else {
			assert_int_equal(json_object_del(target, c->field), 0);
		}
		text = dump(doc, &len);
		json_decref(doc);
		rc = verify_text(f, text, len, &conf);
		if (rc != NDX_EINVAL || strstr(f->err, c->want) == NULL)
			fail_msg("case %zu: rc %d, error \"%s\", wanted \"%s\"", i, rc, f->err,
				 c->want);
		assert_null(conf);
		free(text);
	}
}

static void test_validation_rules(void **state)
{
	run_rule_cases(*state, rule_cases, sizeof rule_cases / sizeof rule_cases[0], build_doc);
}

static void test_unsigned_parse(void **state)
{
	struct fx *f = *state;
	json_t *doc = build_doc(f);
	size_t len;
	char *text = dump(doc, &len);
	struct ndx_conf *conf = NULL;

	json_decref(doc);
	/* ndx_conf_parse checks neither signature nor time */
	assert_int_equal(ndx_conf_parse((const uint8_t *)text, len, &conf, f->err,
					sizeof f->err), NDX_OK);
	assert_int_equal(ndx_conf_version(conf), 42);
	ndx_conf_free(conf);
	conf = NULL;
	free(text);

	/* null in an optional field means absent (the registry writes every
	 * field of a row); in a required one it is an error */
	doc = build_doc(f);
	json_object_set_new(json_array_get(json_object_get(doc, "members"), 0), "name",
			    json_null());
	{
		json_t *svc = json_array_get(json_object_get(doc, "services"), 0);
		json_t *rev = json_array_get(json_object_get(doc, "revocations"), 0);

		json_object_set_new(svc, "title", json_null());
		json_object_set_new(svc, "personal", json_null());
		json_object_set_new(svc, "purposes", json_null());
		json_object_set_new(svc, "bulk_purposes", json_null());
		json_object_set_new(svc, "consent_required", json_null());
		json_object_set_new(rev, "reason", json_null());
		json_object_set_new(rev, "revoked_at", json_null());
	}
	text = dump(doc, &len);
	assert_int_equal(verify_text(f, text, len, &conf), NDX_OK);
	ndx_conf_free(conf);
	conf = NULL;
	free(text);
	json_object_set_new(json_array_get(json_object_get(doc, "members"), 0), "id",
			    json_null());
	text = dump(doc, &len);
	json_decref(doc);
	assert_int_equal(verify_text(f, text, len, &conf), NDX_EINVAL);
	assert_err(f, "members[0].id: expected a string");
	free(text);
}

static void test_consent_keys(void **state)
{
	struct fx *f = *state;
	struct ndx_conf *conf = load_good(f);
	char kid0[NDX_KEY_ID_HEX_LEN + 1], kid1[NDX_KEY_ID_HEX_LEN + 1];
	char a[NDX_KEY_ID_HEX_LEN + 1], b[NDX_KEY_ID_HEX_LEN + 1];
	const struct ndx_key *k;
	const struct ndx_conf_consent_service *cs;

	ndx_key_id(f->cs[0], kid0);
	ndx_key_id(f->cs[1], kid1);
	k = ndx_conf_consent_key(conf, CONSENT, kid0);
	assert_non_null(k);
	ndx_key_id(k, a);
	assert_string_equal(a, kid0);
	k = ndx_conf_consent_key(conf, COM_APP, kid1);
	assert_non_null(k);
	ndx_key_id(k, b);
	assert_string_equal(b, kid1);
	/* a key is trusted only for its own issuer */
	assert_null(ndx_conf_consent_key(conf, CONSENT, kid1));
	assert_null(ndx_conf_consent_key(conf, COM_APP, kid0));
	assert_null(ndx_conf_consent_key(conf, MOF_ENT, kid0));
	assert_null(ndx_conf_consent_key(conf, CONSENT, FP_A));
	assert_null(ndx_conf_consent_key(conf, NULL, kid0));
	assert_null(ndx_conf_consent_key(conf, CONSENT, NULL));
	cs = ndx_conf_consent_service(conf, CONSENT);
	assert_non_null(cs);
	assert_string_equal(cs->url, "http://127.0.0.1:4500");
	assert_string_equal(cs->id, CONSENT);
	{
		size_t n = 0;
		bool seen = false;

		for (; ndx_conf_consent_service_at(conf, n); n++)
			seen |= ndx_conf_consent_service_at(conf, n) == cs;
		assert_true(seen);
		assert_int_equal(n, json_array_size(json_object_get(ndx_conf_json(conf),
								    "consent_services")));
	}
	assert_ptr_equal(cs->sign_key, ndx_conf_consent_key(conf, CONSENT, cs->sign_key_id));
	assert_null(ndx_conf_consent_service(conf, MOF_ENT));
	assert_null(ndx_conf_consent_service(conf, NULL));
	ndx_conf_free(conf);

	/* an empty list is valid and trusts nobody */
	{
		json_t *doc = build_doc(f);
		size_t len;
		char *text;

		json_object_set_new(doc, "consent_services", json_array());
		text = dump(doc, &len);
		json_decref(doc);
		conf = NULL;
		assert_int_equal(verify_text(f, text, len, &conf), NDX_OK);
		assert_null(ndx_conf_consent_key(conf, CONSENT, kid0));
		ndx_conf_free(conf);
		free(text);
	}
}

static void test_subjects_rules(void **state)
{
	struct fx *f = *state;
	struct ndx_conf *conf = load_good(f);
	char kid0[NDX_KEY_ID_HEX_LEN + 1], kid1[NDX_KEY_ID_HEX_LEN + 1], got[NDX_KEY_ID_HEX_LEN + 1];
	const struct ndx_key *k;
	json_t *doc;
	size_t len;
	char *text;

	assert_true(ndx_conf_bulk_allowed(conf, CITIZENS, "statistics"));
	assert_false(ndx_conf_bulk_allowed(conf, CITIZENS, "public-service"));
	assert_false(ndx_conf_bulk_allowed(conf, CITIZENS, "statistic"));
	assert_false(ndx_conf_bulk_allowed(conf, HOUSEHOLDS, "statistics"));
	assert_false(ndx_conf_bulk_allowed(conf, "VN/GOV/BCA/population/nope", "statistics"));
	assert_false(ndx_conf_bulk_allowed(conf, NULL, "statistics"));
	assert_false(ndx_conf_bulk_allowed(conf, CITIZENS, NULL));

	assert_int_equal(ndx_conf_embargo_s(conf, "investigation"), 2592000);
	assert_int_equal(ndx_conf_embargo_s(conf, "audit"), 1);
	assert_int_equal(ndx_conf_embargo_s(conf, "public-service"), 0);
	assert_int_equal(ndx_conf_embargo_s(conf, NULL), 0);

	ndx_key_id(f->idp[0], kid0);
	ndx_key_id(f->idp[1], kid1);
	k = ndx_conf_id_provider_key(conf, IDP_A, kid0);
	assert_non_null(k);
	ndx_key_id(k, got);
	assert_string_equal(got, kid0);
	k = ndx_conf_id_provider_key(conf, IDP_B, NULL);
	assert_non_null(k);
	ndx_key_id(k, got);
	assert_string_equal(got, kid1);
	/* a key is trusted only for its own issuer, and issuers match exactly */
	assert_null(ndx_conf_id_provider_key(conf, IDP_A, kid1));
	assert_null(ndx_conf_id_provider_key(conf, IDP_B, kid0));
	assert_null(ndx_conf_id_provider_key(conf, IDP_A "/", kid0));
	assert_null(ndx_conf_id_provider_key(conf, "https://ID.gov.vn", kid0));
	assert_null(ndx_conf_id_provider_key(conf, NULL, kid0));
	/* a consent service's key is not an id provider's, nor the reverse */
	assert_null(ndx_conf_consent_key(conf, CONSENT, kid0));
	ndx_conf_free(conf);

	/* all three are optional: absent, null and empty mean none */
	for (int variant = 0; variant < 3; variant++) {
		json_t *svc;

		doc = build_doc(f);
		svc = json_array_get(json_object_get(doc, "services"), 0);
		if (variant == 0) {
			json_object_del(svc, "bulk_purposes");
			json_object_del(doc, "embargoes");
			json_object_del(doc, "id_providers");
		} else {
			json_t *none = variant == 1 ? json_null() : json_array();

			json_object_set(svc, "bulk_purposes", none);
			json_object_set(doc, "embargoes", none);
			json_object_set(doc, "id_providers", none);
			/* an empty list is allowed on any service */
			json_object_set(json_array_get(json_object_get(doc, "services"), 1),
					"bulk_purposes", none);
			json_decref(none);
		}
		text = dump(doc, &len);
		json_decref(doc);
		conf = NULL;
		if (verify_text(f, text, len, &conf) != NDX_OK)
			fail_msg("variant %d: %s", variant, f->err);
		assert_false(ndx_conf_bulk_allowed(conf, CITIZENS, "statistics"));
		assert_int_equal(ndx_conf_embargo_s(conf, "investigation"), 0);
		assert_null(ndx_conf_id_provider_key(conf, IDP_A, NULL));
		ndx_conf_free(conf);
		free(text);
	}

	/* the largest embargo is accepted */
	doc = build_doc(f);
	json_object_set_new(json_array_get(json_object_get(doc, "embargoes"), 0), "seconds",
			    json_integer(NDX_CONF_EMBARGO_MAX_S));
	text = dump(doc, &len);
	json_decref(doc);
	conf = NULL;
	assert_int_equal(verify_text(f, text, len, &conf), NDX_OK);
	assert_int_equal(ndx_conf_embargo_s(conf, "investigation"), NDX_CONF_EMBARGO_MAX_S);
	ndx_conf_free(conf);
	free(text);
}

/* ---- event types and subscriptions ----------------------------------- */

#define DEATH "death-registered"
#define BIRTH "birth-registered"
#define MOVED "moved"

/* build_doc plus three event types (two of the personal citizens service,
 * one of the households service) and four subscriptions. */
static json_t *build_doc_events(const struct fx *f)
{
	json_t *doc = build_doc(f);

	assert_int_equal(json_object_set_new(doc, "event_types", json_pack(
		"[{s:s, s:s, s:s, s:{s:s, s:[s]}}, {s:s, s:s, s:{}}, {s:s, s:s, s:n, s:{}}]",
		"service", CITIZENS, "name", DEATH, "title", "A death was registered",
		"schema", "type", "object", "required", "subject",
		"service", CITIZENS, "name", BIRTH, "schema",
		"service", HOUSEHOLDS, "name", MOVED, "title", "schema")), 0);
	assert_int_equal(json_object_set_new(doc, "subscriptions", json_pack(
		"[{s:s, s:s, s:s, s:s, s:{s:i, s:i, s:i}},"
		" {s:s, s:s, s:s},"
		" {s:s, s:s, s:s, s:s, s:n},"
		" {s:s, s:s, s:s, s:n}]",
		"client", MOF_ENT, "service", CITIZENS, "event", DEATH, "purpose", "public-service",
		"retry", "first_s", 2, "max_s", 600, "give_up_after_s", 172800,
		"client", COM_APP, "service", HOUSEHOLDS, "event", MOVED,
		"client", COM_APP, "service", CITIZENS, "event", DEATH, "purpose", "statistics",
		"retry",
		"client", MOF_ENT, "service", HOUSEHOLDS, "event", MOVED, "purpose")), 0);
	return doc;
}

static struct ndx_conf *load_events(struct fx *f, json_t *doc)
{
	struct ndx_conf *conf = NULL;
	size_t len;
	char *text = dump(doc, &len);

	json_decref(doc);
	if (verify_text(f, text, len, &conf) != NDX_OK)
		fail_msg("%s", f->err);
	free(text);
	return conf;
}

static void test_event_lookups(void **state)
{
	struct fx *f = *state;
	struct ndx_conf *conf = load_events(f, build_doc_events(f));
	const struct ndx_conf_event_type *et;
	const struct ndx_conf_subscription *s;

	/* event types: by position and by (service, name) */
	et = ndx_conf_event_type(conf, CITIZENS, DEATH);
	assert_non_null(et);
	assert_ptr_equal(et, ndx_conf_event_type_at(conf, 0));
	assert_string_equal(et->service, CITIZENS);
	assert_string_equal(et->name, DEATH);
	assert_string_equal(et->title, "A death was registered");
	assert_true(json_is_object(et->schema));
	assert_string_equal(json_string_value(json_object_get(et->schema, "type")), "object");
	assert_ptr_equal(et->schema, json_object_get(json_array_get(json_object_get(
		ndx_conf_json(conf), "event_types"), 0), "schema"));
	et = ndx_conf_event_type_at(conf, 1);
	assert_string_equal(et->name, BIRTH);
	assert_null(et->title);                         /* absent */
	assert_null(ndx_conf_event_type_at(conf, 2)->title); /* null */
	assert_ptr_equal(ndx_conf_event_type(conf, HOUSEHOLDS, MOVED), ndx_conf_event_type_at(conf, 2));
	assert_null(ndx_conf_event_type_at(conf, 3));
	assert_null(ndx_conf_event_type(conf, HOUSEHOLDS, DEATH));
	assert_null(ndx_conf_event_type(conf, CITIZENS, MOVED));
	assert_null(ndx_conf_event_type(conf, CITIZENS, "death"));
	assert_null(ndx_conf_event_type(conf, "VN/GOV/BCA/population/nope", DEATH));
	assert_null(ndx_conf_event_type(conf, NULL, DEATH));
	assert_null(ndx_conf_event_type(conf, CITIZENS, NULL));
	/* the index key joins with a newline: a joined text is no way in */
	assert_null(ndx_conf_event_type(conf, CITIZENS "\n" DEATH, ""));

	/* subscriptions: by position, with the retry given or the defaults */
	s = ndx_conf_subscription_at(conf, 0);
	assert_non_null(s);
	assert_string_equal(s->client, MOF_ENT);
	assert_string_equal(s->service, CITIZENS);
	assert_string_equal(s->event, DEATH);
	assert_string_equal(s->purpose, "public-service");
	assert_int_equal(s->retry_first_s, 2);
	assert_int_equal(s->retry_max_s, 600);
	assert_int_equal(s->give_up_after_s, 172800);
	s = ndx_conf_subscription_at(conf, 1);
	assert_null(s->purpose);
	assert_int_equal(s->retry_first_s, NDX_CONF_RETRY_FIRST_S);
	assert_int_equal(s->retry_max_s, NDX_CONF_RETRY_MAX_S);
	assert_int_equal(s->give_up_after_s, NDX_CONF_GIVE_UP_AFTER_S);
	assert_int_equal(NDX_CONF_RETRY_FIRST_S, 1);
	assert_int_equal(NDX_CONF_RETRY_MAX_S, 300);
	assert_int_equal(NDX_CONF_GIVE_UP_AFTER_S, 86400);
	s = ndx_conf_subscription_at(conf, 2);             /* "retry": null */
	assert_string_equal(s->purpose, "statistics");
	assert_int_equal(s->retry_max_s, 300);
	assert_null(ndx_conf_subscription_at(conf, 3)->purpose); /* "purpose": null */
	assert_null(ndx_conf_subscription_at(conf, 4));

	/* the subscribers of an event type, in document order */
	assert_ptr_equal(ndx_conf_subscriber_of(conf, CITIZENS, DEATH, 0),
			 ndx_conf_subscription_at(conf, 0));
	assert_ptr_equal(ndx_conf_subscriber_of(conf, CITIZENS, DEATH, 1),
			 ndx_conf_subscription_at(conf, 2));
	assert_null(ndx_conf_subscriber_of(conf, CITIZENS, DEATH, 2));
	assert_ptr_equal(ndx_conf_subscriber_of(conf, HOUSEHOLDS, MOVED, 0),
			 ndx_conf_subscription_at(conf, 1));
	assert_ptr_equal(ndx_conf_subscriber_of(conf, HOUSEHOLDS, MOVED, 1),
			 ndx_conf_subscription_at(conf, 3));
	assert_null(ndx_conf_subscriber_of(conf, HOUSEHOLDS, MOVED, 2));
	assert_null(ndx_conf_subscriber_of(conf, CITIZENS, BIRTH, 0)); /* no subscriber */
	assert_null(ndx_conf_subscriber_of(conf, CITIZENS, "nope", 0));
	assert_null(ndx_conf_subscriber_of(conf, NULL, DEATH, 0));
	assert_null(ndx_conf_subscriber_of(conf, CITIZENS, NULL, 0));

	/* one client's subscription to one event type */
	assert_ptr_equal(ndx_conf_subscription(conf, COM_APP, CITIZENS, DEATH),
			 ndx_conf_subscription_at(conf, 2));
	assert_ptr_equal(ndx_conf_subscription(conf, MOF_ENT, HOUSEHOLDS, MOVED),
			 ndx_conf_subscription_at(conf, 3));
	assert_null(ndx_conf_subscription(conf, COM_APP, CITIZENS, BIRTH));
	assert_null(ndx_conf_subscription(conf, MOF_ENT, HOUSEHOLDS, DEATH));
	assert_null(ndx_conf_subscription(conf, "VN/GOV/MOF", CITIZENS, DEATH));
	assert_null(ndx_conf_subscription(conf, NULL, CITIZENS, DEATH));
	assert_null(ndx_conf_subscription(conf, MOF_ENT, NULL, DEATH));
	assert_null(ndx_conf_subscription(conf, MOF_ENT, CITIZENS, NULL));
	ndx_conf_free(conf);
}

static void test_event_absent(void **state)
{
	struct fx *f = *state;

	/* a document from before events: absent and null both mean none */
	for (int variant = 0; variant < 3; variant++) {
		json_t *doc = build_doc(f);
		struct ndx_conf *conf;

		if (variant == 1) {
			json_object_set_new(doc, "event_types", json_null());
			json_object_set_new(doc, "subscriptions", json_null());
		} else if (variant == 2) {
			json_object_set_new(doc, "event_types", json_array());
			json_object_set_new(doc, "subscriptions", json_array());
		}
		conf = load_events(f, doc);
		assert_null(ndx_conf_event_type_at(conf, 0));
		assert_null(ndx_conf_subscription_at(conf, 0));
		assert_null(ndx_conf_event_type(conf, CITIZENS, DEATH));
		assert_null(ndx_conf_subscriber_of(conf, CITIZENS, DEATH, 0));
		assert_null(ndx_conf_subscription(conf, MOF_ENT, CITIZENS, DEATH));
		ndx_conf_free(conf);
	}
	/* event types without any subscription */
	{
		json_t *doc = build_doc_events(f);
		struct ndx_conf *conf;

		json_object_del(doc, "subscriptions");
		conf = load_events(f, doc);
		assert_non_null(ndx_conf_event_type(conf, CITIZENS, DEATH));
		assert_null(ndx_conf_subscriber_of(conf, CITIZENS, DEATH, 0));
		ndx_conf_free(conf);
	}
}

static void test_event_limits(void **state)
{
	struct fx *f = *state;
	static const char *const good[] = {
		"a", "0", "death-registered", "v1.birth", "a-", "a.", "a..b",
		"0123456789012345678901234567890123456789012345678901234567890123", /* 64 */
	};
	static const char *const bad[] = {
		"", "-a", ".a", "..", ".", "A", "death_registered", "a/b", "a b", "\xc3\xa1",
		"01234567890123456789012345678901234567890123456789012345678901234", /* 65 */
	};
	json_t *doc, *sub;
	struct ndx_conf *conf;

	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		if (!ndx_conf_event_name_ok(good[i]))
			fail_msg("\"%s\" refused", good[i]);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (ndx_conf_event_name_ok(bad[i]))
			fail_msg("\"%s\" accepted", bad[i]);
	assert_false(ndx_conf_event_name_ok(NULL));

	/* the longest name and the widest retry are accepted */
	doc = build_doc_events(f);
	json_object_set_new(json_array_get(json_object_get(doc, "event_types"), 1), "name",
			    json_string(good[7]));
	sub = json_array_get(json_object_get(doc, "subscriptions"), 0);
	json_object_set_new(sub, "retry", json_pack("{s:i, s:i, s:I}", "first_s", 86400,
						    "max_s", 86400, "give_up_after_s",
						    (json_int_t)NDX_CONF_GIVE_UP_LIMIT_S));
	conf = load_events(f, doc);
	assert_non_null(ndx_conf_event_type(conf, CITIZENS, good[7]));
	assert_int_equal(ndx_conf_subscription_at(conf, 0)->retry_first_s, 86400);
	assert_int_equal(ndx_conf_subscription_at(conf, 0)->give_up_after_s, 30 * 86400);
	ndx_conf_free(conf);

	/* a retry that names some fields takes the defaults for the others */
	doc = build_doc_events(f);
	sub = json_array_get(json_object_get(doc, "subscriptions"), 0);
	json_object_set_new(sub, "retry", json_pack("{s:i}", "max_s", 60));
	conf = load_events(f, doc);
	assert_int_equal(ndx_conf_subscription_at(conf, 0)->retry_first_s, 1);
	assert_int_equal(ndx_conf_subscription_at(conf, 0)->retry_max_s, 60);
	assert_int_equal(ndx_conf_subscription_at(conf, 0)->give_up_after_s, 86400);
	ndx_conf_free(conf);

	/* many event types and subscriptions: every one found through the
	 * indexes, the subscribers of each in order */
	doc = build_doc_events(f);
	{
		json_t *ets = json_object_get(doc, "event_types");
		json_t *subs = json_object_get(doc, "subscriptions");
		char name[32];

		for (int i = 0; i < 2000; i++) {
			snprintf(name, sizeof name, "e%d", i);
			json_array_append_new(ets, json_pack("{s:s, s:s, s:{}}", "service",
							     HOUSEHOLDS, "name", name, "schema"));
			json_array_append_new(subs, json_pack("{s:s, s:s, s:s}", "client",
				i % 2 ? COM_APP : MOF_ENT, "service", HOUSEHOLDS, "event", name));
			if (i % 2 == 0)
				json_array_append_new(subs, json_pack("{s:s, s:s, s:s}", "client",
					COM_APP, "service", HOUSEHOLDS, "event", name));
		}
		conf = load_events(f, doc);
		for (int i = 0; i < 2000; i++) {
			snprintf(name, sizeof name, "e%d", i);
			assert_ptr_equal(ndx_conf_event_type(conf, HOUSEHOLDS, name),
					 ndx_conf_event_type_at(conf, 3 + (size_t)i));
			assert_string_equal(ndx_conf_subscriber_of(conf, HOUSEHOLDS, name, 0)->client,
					    i % 2 ? COM_APP : MOF_ENT);
			if (i % 2 == 0)
				assert_string_equal(ndx_conf_subscriber_of(conf, HOUSEHOLDS, name,
									   1)->client, COM_APP);
			assert_null(ndx_conf_subscriber_of(conf, HOUSEHOLDS, name,
							   i % 2 == 0 ? 2 : 1));
			assert_non_null(ndx_conf_subscription(conf, COM_APP, HOUSEHOLDS, name));
		}
		ndx_conf_free(conf);
	}
}

#define NAME65 "01234567890123456789012345678901234567890123456789012345678901234"

static const struct rule_case event_rule_cases[] = {
	{ NULL, 0, "event_types", "{}", "event_types: expected an array" },
	{ NULL, 0, "event_types", "[42]", "event_types[0]: expected an object" },
	{ "event_types", 0, "service", NULL, "event_types[0].service: missing" },
	{ "event_types", 0, "service", "\"VN/GOV/BCA/population/nope\"",
	  "event_types[0].service: VN/GOV/BCA/population/nope is not a service in this configuration" },
	{ "event_types", 0, "service", "\"VN/GOV/BCA/population\"",
	  "event_types[0].service: expected 5 parts (service id), found 4" },
	{ "event_types", 0, "service", "\"LA/GOV/BCA/population/citizens\"",
	  "event_types[0].service: instance LA" },
	{ "event_types", 0, "name", NULL, "event_types[0].name: missing" },
	{ "event_types", 0, "name", "42", "event_types[0].name: expected a string" },
	{ "event_types", 0, "name", "\"\"", "event_types[0].name: \"\" is not an event type name" },
	{ "event_types", 0, "name", "\"Death\"", "event_types[0].name: \"Death\" is not an event type name" },
	{ "event_types", 0, "name", "\"a/b\"", "event_types[0].name: \"a/b\" is not" },
	{ "event_types", 0, "name", "\"..\"", "event_types[0].name: \"..\" is not" },
	{ "event_types", 0, "name", "\"-x\"", "event_types[0].name: \"-x\" is not" },
	{ "event_types", 0, "name", "\"" NAME65 "\"", "event_types[0].name: \"" NAME65 "\" is not" },
	{ "event_types", 1, "name", "\"" DEATH "\"",
	  "event_types[1].name: " DEATH " of " CITIZENS " is listed twice" },
	{ "event_types", 0, "title", "42", "event_types[0].title: expected a string" },
	{ "event_types", 0, "schema", NULL, "event_types[0].schema: missing" },
	{ "event_types", 0, "schema", "null", "event_types[0].schema: expected a JSON Schema object" },
	{ "event_types", 1, "schema", "[]", "event_types[1].schema: expected a JSON Schema object" },
	{ "event_types", 1, "schema", "true", "event_types[1].schema: expected a JSON Schema object" },
	{ "event_types", 2, "schema", "\"{}\"", "event_types[2].schema: expected a JSON Schema object" },
	{ NULL, 0, "subscriptions", "{}", "subscriptions: expected an array" },
	{ NULL, 0, "subscriptions", "[\"x\"]", "subscriptions[0]: expected an object" },
	{ "subscriptions", 0, "client", NULL, "subscriptions[0].client: missing" },
	{ "subscriptions", 0, "client", "\"VN/GOV/MOF\"",
	  "subscriptions[0].client: expected 4 parts (subsystem id), found 3" },
	{ "subscriptions", 0, "client", "\"VN/GOV/MOF/nope\"",
	  "subscriptions[0].client: VN/GOV/MOF/nope is not a subsystem in this configuration" },
	{ "subscriptions", 0, "client", "\"" CITIZENS "\"",
	  "subscriptions[0].client: expected 4 parts (subsystem id), found 5" },
	{ "subscriptions", 0, "service", NULL, "subscriptions[0].service: missing" },
	{ "subscriptions", 0, "service", "\"VN/GOV/BCA/population/nope\"",
	  "subscriptions[0].service: VN/GOV/BCA/population/nope is not a service in this configuration" },
	{ "subscriptions", 0, "event", NULL, "subscriptions[0].event: missing" },
	{ "subscriptions", 0, "event", "\"nope\"",
	  "subscriptions[0].event: nope is not an event type of " CITIZENS " in this configuration" },
	/* an event type of another service is not this service's */
	{ "subscriptions", 1, "event", "\"" DEATH "\"",
	  "subscriptions[1].event: " DEATH " is not an event type of " HOUSEHOLDS },
	{ "subscriptions", 0, "event", "\"" NAME65 NAME65 "\"",
	  "subscriptions[0].event: " },
	{ "subscriptions", 0, "purpose", NULL,
	  "subscriptions[0].purpose: missing (" CITIZENS " is a personal-data service)" },
	{ "subscriptions", 0, "purpose", "null", "subscriptions[0].purpose: missing" },
	{ "subscriptions", 0, "purpose", "\"marketing\"",
	  "subscriptions[0].purpose: marketing is not one of the purposes of " CITIZENS },
	{ "subscriptions", 0, "purpose", "\"\"", "subscriptions[0].purpose:  is not one of the purposes" },
	{ "subscriptions", 0, "purpose", "7", "subscriptions[0].purpose: expected a string" },
	{ "subscriptions", 1, "purpose", "\"public-service\"",
	  "subscriptions[1].purpose: " HOUSEHOLDS " is not a personal-data service" },
	{ "subscriptions", 0, "retry", "[]", "subscriptions[0].retry: expected an object" },
	{ "subscriptions", 0, "retry", "300", "subscriptions[0].retry: expected an object" },
	{ "subscriptions", 0, "retry", "{\"first_s\":0}",
	  "subscriptions[0].retry.first_s: expected an integer number of seconds from 1" },
	{ "subscriptions", 0, "retry", "{\"first_s\":-1}", "subscriptions[0].retry.first_s: expected" },
	{ "subscriptions", 0, "retry", "{\"first_s\":\"1\"}", "subscriptions[0].retry.first_s: expected" },
	{ "subscriptions", 0, "retry", "{\"first_s\":1.5}", "subscriptions[0].retry.first_s: expected" },
	{ "subscriptions", 0, "retry", "{\"max_s\":true}", "subscriptions[0].retry.max_s: expected" },
	{ "subscriptions", 0, "retry", "{\"give_up_after_s\":1e3}",
	  "subscriptions[0].retry.give_up_after_s: expected" },
	{ "subscriptions", 0, "retry", "{\"max_s\":86401,\"give_up_after_s\":100000}",
	  "subscriptions[0].retry.max_s: at most 86400" },
	{ "subscriptions", 0, "retry", "{\"first_s\":10,\"max_s\":5}",
	  "subscriptions[0].retry.first_s: 10 is more than max_s 5" },
	/* the defaults count: first_s 400 is over the default max_s 300 */
	{ "subscriptions", 0, "retry", "{\"first_s\":400}",
	  "subscriptions[0].retry.first_s: 400 is more than max_s 300" },
	{ "subscriptions", 0, "retry", "{\"max_s\":600,\"give_up_after_s\":599}",
	  "subscriptions[0].retry.give_up_after_s: 599 is less than max_s 600" },
	{ "subscriptions", 0, "retry", "{\"give_up_after_s\":2592001}",
	  "subscriptions[0].retry.give_up_after_s: at most 2592000 (30 days)" },
	{ "subscriptions", 0, "retry", "{\"give_up_after_s\":9223372036854775807}",
	  "subscriptions[0].retry.give_up_after_s: at most 2592000" },
	{ "subscriptions", 0, "retry", "{\"first_s\":9223372036854775807}",
	  "subscriptions[0].retry.first_s: 9223372036854775807 is more than max_s 300" },
	{ "subscriptions", 2, "client", "\"" MOF_ENT "\"",
	  "subscriptions[2]: " MOF_ENT " subscribes to " DEATH " of " CITIZENS " twice" },
};

static void test_event_rules(void **state)
{
	run_rule_cases(*state, event_rule_cases,
		       sizeof event_rule_cases / sizeof event_rule_cases[0], build_doc_events);
}

/* ---- the monitoring client -------------------------------------------- */

static void test_monitoring_client(void **state)
{
	struct fx *f = *state;
	struct ndx_conf *conf = load_events(f, build_doc(f));
	json_t *doc;

	/* absent (a document from before operational monitoring) */
	assert_null(ndx_conf_monitoring_client(conf));
	assert_null(ndx_conf_monitoring_client(NULL));
	ndx_conf_free(conf);
	/* null, and an object without a client, name none either */
	doc = build_doc(f);
	json_object_set_new(doc, "monitoring", json_null());
	conf = load_events(f, doc);
	assert_null(ndx_conf_monitoring_client(conf));
	ndx_conf_free(conf);
	doc = build_doc(f);
	json_object_set_new(doc, "monitoring", json_pack("{s:n}", "client"));
	conf = load_events(f, doc);
	assert_null(ndx_conf_monitoring_client(conf));
	ndx_conf_free(conf);
	/* a subsystem of the configuration */
	doc = build_doc(f);
	json_object_set_new(doc, "monitoring", json_pack("{s:s}", "client", MOF_ENT));
	conf = load_events(f, doc);
	assert_string_equal(ndx_conf_monitoring_client(conf), MOF_ENT);
	ndx_conf_free(conf);
}

static const struct rule_case monitoring_rule_cases[] = {
	{ NULL, 0, "monitoring", "[]", "monitoring: expected an object" },
	{ NULL, 0, "monitoring", "\"" MOF_ENT "\"", "monitoring: expected an object" },
	{ NULL, 0, "monitoring", "{\"client\":7}", "monitoring.client: expected a string" },
	{ NULL, 0, "monitoring", "{\"client\":\"VN/GOV/MOF\"}",
	  "monitoring.client: expected 4 parts (subsystem id), found 3" },
	{ NULL, 0, "monitoring", "{\"client\":\"VN/GOV/MOF/nope\"}",
	  "monitoring.client: VN/GOV/MOF/nope is not a subsystem in this configuration" },
	{ NULL, 0, "monitoring", "{\"client\":\"LA/GOV/MOF/enterprise\"}",
	  "monitoring.client: instance LA" },
	{ NULL, 0, "monitoring", "{\"client\":\"VN/GOV/MOF/ent%65rprise\"}",
	  "monitoring.client: VN/GOV/MOF/ent%65rprise is not in canonical form" },
};

static void test_monitoring_rules(void **state)
{
	run_rule_cases(*state, monitoring_rule_cases,
		       sizeof monitoring_rule_cases / sizeof monitoring_rule_cases[0], build_doc);
}

static void test_anchor(void **state)
{
	struct fx *f = *state;
	char kid[NDX_KEY_ID_HEX_LEN + 1], path[512], err[256];
	const char *base = getenv("NDX_TEST_TMP");
	struct ndx_anchor *a = NULL;
	json_t *doc = ndx_anchor_build("VN", "http://127.0.0.1:4400", f->reg);
	char *text;
	time_t t;

	assert_non_null(doc);
	assert_string_equal(json_string_value(json_object_get(doc, "format")), NDX_ANCHOR_FORMAT);
	assert_int_equal(ndx_time_parse(json_string_value(json_object_get(doc, "generated_at")),
					&t), NDX_OK);
	assert_string_equal(ndx_anchor_instance(f->anchor), "VN");
	assert_string_equal(ndx_anchor_registry_url(f->anchor), "http://127.0.0.1:4400");
	ndx_key_id(f->reg, kid);
	assert_non_null(ndx_anchor_key(f->anchor, kid));
	ndx_key_id(f->other, kid);
	assert_null(ndx_anchor_key(f->anchor, kid));
	assert_null(ndx_anchor_key(f->anchor, NULL));

	/* through a file */
	snprintf(path, sizeof path, "%s/anchor-XXXXXX", base != NULL ? base : "/tmp");
	assert_non_null(mkdtemp(path));
	strncat(path, "/anchor.json", sizeof path - strlen(path) - 1);
	text = json_dumps(doc, JSON_INDENT(2));
	assert_int_equal(ndx_file_write_atomic(path, text, strlen(text), 0644, 0), NDX_OK);
	free(text);
	assert_int_equal(ndx_anchor_load(path, &a, err, sizeof err), NDX_OK);
	assert_string_equal(ndx_anchor_instance(a), "VN");
	ndx_anchor_free(a);
	a = NULL;
	unlink(path);
	*strrchr(path, '/') = '\0';
	rmdir(path);
	assert_int_equal(ndx_anchor_load("/nonexistent/anchor.json", &a, err, sizeof err),
			 NDX_EIO);
	assert_null(a);

	/* a key id that is not the key's */
	json_object_set_new(json_array_get(json_object_get(doc, "keys"), 0), "key_id",
			    json_string(FP_A));
	text = json_dumps(doc, 0);
	assert_int_equal(ndx_anchor_parse(text, strlen(text), &a, err, sizeof err), NDX_EINVAL);
	assert_non_null(strstr(err, "keys[0].key_id: does not match"));
	free(text);
	json_object_set_new(json_array_get(json_object_get(doc, "keys"), 0), "public_key",
			    json_string("AAAA"));
	text = json_dumps(doc, 0);
	assert_int_equal(ndx_anchor_parse(text, strlen(text), &a, err, sizeof err), NDX_EINVAL);
	assert_non_null(strstr(err, "keys[0].public_key"));
	free(text);
	json_object_set_new(doc, "keys", json_array());
	text = json_dumps(doc, 0);
	assert_int_equal(ndx_anchor_parse(text, strlen(text), &a, err, sizeof err), NDX_EINVAL);
	assert_non_null(strstr(err, "keys"));
	free(text);
	json_object_set_new(doc, "format", json_string("ndx-anchor/9"));
	text = json_dumps(doc, 0);
	assert_int_equal(ndx_anchor_parse(text, strlen(text), &a, err, sizeof err), NDX_EINVAL);
	assert_non_null(strstr(err, "format"));
	free(text);
	assert_int_equal(ndx_anchor_parse("{", 1, &a, err, sizeof err), NDX_EINVAL);
	assert_null(a);
	json_decref(doc);
	ndx_anchor_free(NULL);
}

/* An anchor that lists several registry nodes (docs/protocol.md "The
 * anchor"): all of them, registry_url first; what a list may not be. */
static int parse_anchor_doc(json_t *doc, struct ndx_anchor **a, char *err, size_t cap)
{
	char *text = json_dumps(doc, 0);
	int rc;

	assert_non_null(text);
	rc = ndx_anchor_parse(text, strlen(text), a, err, cap);
	free(text);
	return rc;
}

static void test_anchor_nodes(void **state)
{
	struct fx *f = *state;
	const char *urls[] = { "https://registry1.example.vn", "https://registry2.example.vn",
			       "http://10.0.0.3:4400" };
	const char *nine[9] = { 0 };
	char names[9][32], err[256];
	struct ndx_anchor *a = NULL;
	json_t *doc;

	/* one node: no registry_urls written, one URL read */
	doc = ndx_anchor_build_nodes("VN", urls, 1, f->reg);
	assert_non_null(doc);
	assert_null(json_object_get(doc, "registry_urls"));
	assert_int_equal(parse_anchor_doc(doc, &a, err, sizeof err), NDX_OK);
	assert_int_equal(ndx_anchor_registry_url_count(a), 1);
	assert_string_equal(ndx_anchor_registry_url_at(a, 0), urls[0]);
	assert_null(ndx_anchor_registry_url_at(a, 1));
	ndx_anchor_free(a);
	json_decref(doc);

	/* three: all of them, in order, the first also as registry_url */
	doc = ndx_anchor_build_nodes("VN", urls, 3, f->reg);
	assert_non_null(doc);
	assert_string_equal(json_string_value(json_object_get(doc, "registry_url")), urls[0]);
	assert_int_equal(parse_anchor_doc(doc, &a, err, sizeof err), NDX_OK);
	assert_int_equal(ndx_anchor_registry_url_count(a), 3);
	for (size_t i = 0; i < 3; i++)
		assert_string_equal(ndx_anchor_registry_url_at(a, i), urls[i]);
	assert_string_equal(ndx_anchor_registry_url(a), urls[0]);
	ndx_anchor_free(a);
	a = NULL;

	/* refused: a list that does not begin with registry_url, a node listed
	 * twice, a URL that is not http(s), an empty list, not a list, nine */
	json_array_set_new(json_object_get(doc, "registry_urls"), 0, json_string(urls[1]));
	assert_int_equal(parse_anchor_doc(doc, &a, err, sizeof err), NDX_EINVAL);
	assert_non_null(strstr(err, "registry_urls[0]: must be registry_url"));
	json_array_set_new(json_object_get(doc, "registry_urls"), 0, json_string(urls[0]));
	json_array_set_new(json_object_get(doc, "registry_urls"), 2, json_string(urls[0]));
	assert_int_equal(parse_anchor_doc(doc, &a, err, sizeof err), NDX_EINVAL);
	assert_non_null(strstr(err, "registry_urls[2]: listed twice"));
	json_array_set_new(json_object_get(doc, "registry_urls"), 2, json_string("ftp://x"));
	assert_int_equal(parse_anchor_doc(doc, &a, err, sizeof err), NDX_EINVAL);
	assert_non_null(strstr(err, "registry_urls[2]: expected an http"));
	json_object_set_new(doc, "registry_urls", json_array());
	assert_int_equal(parse_anchor_doc(doc, &a, err, sizeof err), NDX_EINVAL);
	assert_non_null(strstr(err, "1 to 8 URLs"));
	json_object_set_new(doc, "registry_urls", json_string(urls[0]));
	assert_int_equal(parse_anchor_doc(doc, &a, err, sizeof err), NDX_EINVAL);
	assert_non_null(strstr(err, "1 to 8 URLs"));
	json_object_del(doc, "registry_urls");
	json_object_set_new(doc, "registry_url", json_string("registry.example.vn"));
	assert_int_equal(parse_anchor_doc(doc, &a, err, sizeof err), NDX_EINVAL);
	assert_non_null(strstr(err, "anchor.registry_url: expected an http"));
	assert_null(a);
	json_decref(doc);
	for (size_t i = 0; i < 9; i++) {
		snprintf(names[i], sizeof names[i], "http://10.0.0.%zu:4400", i + 1);
		nine[i] = names[i];
	}
	doc = ndx_anchor_build_nodes("VN", nine, 8, f->reg);
	assert_non_null(doc);
	json_array_append_new(json_object_get(doc, "registry_urls"), json_string(nine[8]));
	assert_int_equal(parse_anchor_doc(doc, &a, err, sizeof err), NDX_EINVAL);
	assert_non_null(strstr(err, "1 to 8 URLs"));
	json_decref(doc);
}

static void test_dir_round_trip(void **state)
{
	struct fx *f = *state;
	const char *base = getenv("NDX_TEST_TMP");
	char tmp[512], dir[600], file[700];
	json_t *doc = build_doc(f);
	size_t len, rlen;
	char *text = dump(doc, &len), *sig = ndx_conf_sign(f->reg, text, len), *back;
	struct ndx_conf *conf = NULL;

	json_decref(doc);
	snprintf(tmp, sizeof tmp, "%s/conf-XXXXXX", base != NULL ? base : "/tmp");
	assert_non_null(mkdtemp(tmp));
	snprintf(dir, sizeof dir, "%s/a/b", tmp);

	assert_int_equal(ndx_conf_load_dir(dir, f->anchor, f->t0 + 60, &conf, f->err,
					   sizeof f->err), NDX_EIO);
	assert_null(conf);
	assert_int_equal(ndx_conf_save_dir(dir, (const uint8_t *)text, len, sig), NDX_OK);
	assert_int_equal(ndx_conf_load_dir(dir, f->anchor, f->t0 + 60, &conf, f->err,
					   sizeof f->err), NDX_OK);
	assert_int_equal(ndx_conf_version(conf), 42);
	ndx_conf_free(conf);
	conf = NULL;
	/* the stored bytes are exactly the signed bytes */
	snprintf(file, sizeof file, "%s/%s", dir, NDX_CONF_FILE);
	assert_int_equal(ndx_file_read(file, NDX_CONF_MAX_BYTES, &back, &rlen), NDX_OK);
	assert_int_equal(rlen, len);
	assert_memory_equal(back, text, len);
	/* overwriting keeps working; then tamper with conf.json on disk */
	assert_int_equal(ndx_conf_save_dir(dir, (const uint8_t *)text, len, sig), NDX_OK);
	back[len / 2] ^= 0x20;
	assert_int_equal(ndx_file_write_atomic(file, back, rlen, 0644, 0), NDX_OK);
	assert_int_equal(ndx_conf_load_dir(dir, f->anchor, f->t0 + 60, &conf, f->err,
					   sizeof f->err), NDX_EBADSIG);
	assert_null(conf);
	assert_err(f, "does not verify");
	/* conf.sig missing */
	assert_int_equal(ndx_conf_save_dir(dir, (const uint8_t *)text, len, sig), NDX_OK);
	snprintf(file, sizeof file, "%s/%s", dir, NDX_CONF_SIG_FILE);
	assert_int_equal(unlink(file), 0);
	assert_int_equal(ndx_conf_load_dir(dir, f->anchor, f->t0 + 60, &conf, f->err,
					   sizeof f->err), NDX_EIO);
	assert_err(f, NDX_CONF_SIG_FILE);

	snprintf(file, sizeof file, "%s/%s", dir, NDX_CONF_FILE);
	unlink(file);
	rmdir(dir);
	snprintf(dir, sizeof dir, "%s/a", tmp);
	rmdir(dir);
	rmdir(tmp);
	free(back);
	free(sig);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sign_format),
		cmocka_unit_test(test_verify_ok),
		cmocka_unit_test(test_lookups),
		cmocka_unit_test(test_grants),
		cmocka_unit_test(test_grants_member_client),
		cmocka_unit_test(test_grants_agreement),
		cmocka_unit_test(test_tampered_body),
		cmocka_unit_test(test_bad_signatures),
		cmocka_unit_test(test_time_and_instance),
		cmocka_unit_test(test_malformed_documents),
		cmocka_unit_test(test_validation_rules),
		cmocka_unit_test(test_unsigned_parse),
		cmocka_unit_test(test_consent_keys),
		cmocka_unit_test(test_subjects_rules),
		cmocka_unit_test(test_event_lookups),
		cmocka_unit_test(test_event_absent),
		cmocka_unit_test(test_event_limits),
		cmocka_unit_test(test_event_rules),
		cmocka_unit_test(test_monitoring_client),
		cmocka_unit_test(test_monitoring_rules),
		cmocka_unit_test(test_anchor),
		cmocka_unit_test(test_anchor_nodes),
		cmocka_unit_test(test_dir_round_trip),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
