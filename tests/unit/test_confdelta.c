/* Unit tests for the configuration deltas of include/ndx/conf.h
 * (docs/protocol.md "Configuration deltas"): a delta cut between two
 * documents and applied to the held configuration gives, byte for byte,
 * the full document of the new version — every section added to, removed
 * from and replaced in, the top-level values, a re-signing with no change;
 * and the refusals: a delta from another version than the held one, a
 * replayed older delta, a tampered delta or one signed by another key, a
 * delta signed by the registry that would give another document than the
 * full one (its digest), and malformed runs. Then the gateway's files: a
 * full document with deltas on top loads as the last version, a torn or
 * stale delta file stops the chain, and the full document rebuilt from a
 * delta verifies under the registry's signature. */
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
#include "ndx/timefmt.h"

#define FP_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define FP_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define FP_C "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
#define CITIZENS "VN/GOV/BCA/population/citizens"
#define HOUSEHOLDS "VN/GOV/BCA/population/households"
#define MOF_ENT "VN/GOV/MOF/enterprise"

struct fx {
	struct ndx_key *reg, *other, *gw[3], *cs, *idp;
	struct ndx_anchor *anchor;
	time_t t0;
	char err[512];
	char dir[256];
};

static json_t *key_obj(const struct ndx_key *key, const char *k1, const char *v1,
		       const char *k2, const char *v2)
{
	uint8_t raw[NDX_ED25519_PUBLIC_LEN];
	char kid[NDX_KEY_ID_HEX_LEN + 1], *b64;
	json_t *o;

	ndx_key_public_raw(key, raw);
	ndx_key_id(key, kid);
	b64 = ndx_b64_encode(raw, sizeof raw, 0);
	assert_non_null(b64);
	o = json_pack("{ss ss ss}", k1, v1, "sign_key", b64, "sign_key_id", kid);
	if (o && k2)
		json_object_set_new(o, k2, json_string(v2));
	free(b64);
	assert_non_null(o);
	return o;
}

static json_t *gateway(const struct fx *f, int i, const char *member, const char *fp)
{
	json_t *o = key_obj(f->gw[i], "member", member, "code", i == 2 ? "gw2" : "gw1");

	json_object_set_new(o, "address", json_string("https://127.0.0.1:4431"));
	json_object_set_new(o, "tls_cert_sha256", json_string(fp));
	return o;
}

/* Version 1: two members, two subsystems, two gateways, two services, two
 * grants, one of each of the other lists. */
static json_t *doc_v1(const struct fx *f)
{
	char gen[NDX_TIME_TEXT_LEN], exp[NDX_TIME_TEXT_LEN];
	json_t *doc;

	ndx_time_format(f->t0, gen);
	ndx_time_format(f->t0 + 600, exp);
	doc = json_pack(
		"{ss ss si ss ss s{ss sn} s[sss]"
		" s[{ssss}{ssss}] s[{ss}{ss}] s[oo]"
		" s[{ss ss sb s[s] sb sn}{ss ss sb s[] sb sn}]"
		" s[{ss ss s[s] s[s]}{ss ss s[s] s[s]}]"
		" s[{ss ss ss ss}] s[o] s[{ss si}] s[o] s[] s[]}",
		"format", NDX_CONF_FORMAT, "instance", "VN", "version", 1, "generated_at", gen,
		"expires_at", exp, "registry", "url", "http://127.0.0.1:4400", "ca_certificate",
		"member_classes", "GOV", "COM", "ORG",
		"members", "id", "VN/GOV/BCA", "name", "B\xe1\xbb\x99 C\xc3\xb4ng an",
		"id", "VN/GOV/MOF", "name", "B\xe1\xbb\x99 T\xc3\xa0i ch\xc3\xadnh",
		"subsystems", "id", "VN/GOV/BCA/population", "id", MOF_ENT,
		"gateways", gateway(f, 0, "VN/GOV/BCA", FP_A), gateway(f, 1, "VN/GOV/MOF", FP_B),
		"services", "id", CITIZENS, "title", "C\xc3\xb4ng d\xc3\xa2n", "personal", 1,
		"purposes", "public-service", "consent_required", 0, "openapi_sha256",
		"id", HOUSEHOLDS, "title", "H\xe1\xbb\x99", "personal", 0, "purposes",
		"consent_required", 0, "openapi_sha256",
		"grants", "client", MOF_ENT, "service", CITIZENS, "methods", "GET", "paths",
		"/citizens/*", "client", MOF_ENT, "service", HOUSEHOLDS, "methods", "GET",
		"paths", "*",
		"revocations", "kind", "key", "value", FP_C, "revoked_at", gen, "reason", "lost",
		"consent_services", key_obj(f->cs, "id", "VN/GOV/BCA/population", "url",
					    "http://127.0.0.1:4500"),
		"embargoes", "purpose", "investigation", "seconds", 3600,
		"id_providers", key_obj(f->idp, "issuer", "https://id.gov.vn", NULL, NULL),
		"event_types", "subscriptions");
	assert_non_null(doc);
	return doc;
}

static void set_time(json_t *doc, time_t gen)
{
	char t1[NDX_TIME_TEXT_LEN], t2[NDX_TIME_TEXT_LEN];

	ndx_time_format(gen, t1);
	ndx_time_format(gen + 600, t2);
	json_object_set_new(doc, "generated_at", json_string(t1));
	json_object_set_new(doc, "expires_at", json_string(t2));
}

/* Version 2 from v1: something added to, removed from or replaced in every
 * list, and top-level values set and added. */
static json_t *doc_v2(const struct fx *f, const json_t *v1)
{
	json_t *d = json_deep_copy(v1);
	json_t *grants = json_object_get(d, "grants");

	json_object_set_new(d, "version", json_integer(2));
	set_time(d, f->t0 + 10);
	json_array_append_new(json_object_get(d, "members"),
			      json_pack("{ssss}", "id", "VN/COM/0101234567", "name", "A"));
	json_array_append_new(json_object_get(d, "subsystems"),
			      json_pack("{ss}", "id", "VN/COM/0101234567/app"));
	json_array_append_new(json_object_get(d, "gateways"), gateway(f, 2, "VN/GOV/BCA", FP_C));
	json_object_set_new(json_array_get(json_object_get(d, "services"), 1), "title",
			    json_string("H\xe1\xbb\x99 kh\xe1\xba\xa9u"));
	json_array_remove(grants, 1);
	json_object_set_new(json_array_get(grants, 0), "methods", json_pack("[ss]", "GET", "POST"));
	json_array_insert_new(grants, 0, json_pack("{ss ss s[s] s[s]}", "client",
						   "VN/COM/0101234567/app", "service", HOUSEHOLDS,
						   "methods", "GET", "paths", "*"));
	json_array_clear(json_object_get(d, "revocations"));
	json_object_set_new(json_array_get(json_object_get(d, "embargoes"), 0), "seconds",
			    json_integer(7200));
	json_array_append_new(json_object_get(d, "event_types"),
			      json_pack("{ss ss ss s{ss}}", "service", CITIZENS, "name", "died",
					"title", "A death", "schema", "type", "object"));
	json_array_append_new(json_object_get(d, "subscriptions"),
			      json_pack("{ss ss ss ss sn}", "client", MOF_ENT, "service", CITIZENS,
					"event", "died", "purpose", "public-service", "retry"));
	json_array_clear(json_object_get(d, "id_providers"));
	json_object_set_new(d, "monitoring", json_pack("{ss}", "client", MOF_ENT));
	json_object_set_new(d, "member_classes", json_pack("[ssss]", "GOV", "COM", "ORG", "NGO"));
	return d;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	json_t *a;
	char *text;
	const char *tmp = getenv("NDX_TEST_TMP");

	if (!f || ndx_key_generate(&f->reg) || ndx_key_generate(&f->other) ||
	    ndx_key_generate(&f->cs) || ndx_key_generate(&f->idp))
		return -1;
	for (int i = 0; i < 3; i++)
		if (ndx_key_generate(&f->gw[i]))
			return -1;
	f->t0 = time(NULL) - 60;
	a = ndx_anchor_build("VN", "http://127.0.0.1:4400", f->reg);
	text = a ? json_dumps(a, 0) : NULL;
	json_decref(a);
	if (!text || ndx_anchor_parse(text, strlen(text), &f->anchor, f->err, sizeof f->err))
		return -1;
	free(text);
	snprintf(f->dir, sizeof f->dir, "%s/confdelta-%ld", tmp ? tmp : "/tmp", (long)getpid());
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	ndx_conf_clear_deltas(f->dir);
	ndx_anchor_free(f->anchor);
	ndx_key_free(f->reg);
	ndx_key_free(f->other);
	ndx_key_free(f->cs);
	ndx_key_free(f->idp);
	for (int i = 0; i < 3; i++)
		ndx_key_free(f->gw[i]);
	free(f);
	return 0;
}

/* What the registry does for one version: the tree (sharing prev's
 * entries), the full text and its signature. */
struct version {
	struct ndx_conf_tree *tree;
	char *text, *sig;
};

static void make_version(const struct fx *f, json_t *doc, const struct version *prev,
			 struct version *v)
{
	assert_int_equal(ndx_conf_tree_new(doc, prev ? prev->tree : NULL, &v->tree), NDX_OK);
	v->text = json_dumps(doc, JSON_COMPACT);
	assert_non_null(v->text);
	v->sig = ndx_conf_sign(f->reg, v->text, strlen(v->text));
	assert_non_null(v->sig);
}

static void free_version(struct version *v)
{
	ndx_conf_tree_free(v->tree);
	free(v->text);
	free(v->sig);
}

static struct ndx_conf *verify_full(struct fx *f, const struct version *v)
{
	struct ndx_conf *c = NULL;

	assert_int_equal(ndx_conf_verify((const uint8_t *)v->text, strlen(v->text), v->sig,
					 f->anchor, time(NULL), &c, f->err, sizeof f->err), NDX_OK);
	return c;
}

/* The delta from -> to, and its signature by key. */
static char *cut(const struct version *from, const struct version *to, const struct ndx_key *key,
		 char **sig)
{
	char *text = NULL;
	size_t len = 0;

	assert_int_equal(ndx_conf_delta_make(from->tree, to->tree, to->sig, &text, &len), NDX_OK);
	assert_int_equal(strlen(text), len);
	*sig = ndx_conf_sign(key, text, len);
	assert_non_null(*sig);
	return text;
}

static int apply(struct fx *f, struct ndx_conf *held, const char *delta, const char *sig,
		 struct ndx_conf **out)
{
	*out = NULL;
	return ndx_conf_delta_apply(held, (const uint8_t *)delta, strlen(delta), sig, f->anchor,
				    time(NULL), out, f->err, sizeof f->err);
}

static void assert_err(const struct fx *f, const char *want)
{
	if (!strstr(f->err, want))
		fail_msg("error \"%s\" does not contain \"%s\"", f->err, want);
}

/* The configuration is, byte for byte, the full document of v. */
static void assert_is(const struct ndx_conf *c, const struct version *v)
{
	char *text = json_dumps(ndx_conf_json(c), JSON_COMPACT);

	assert_non_null(text);
	assert_string_equal(text, v->text);
	free(text);
}

static void test_every_section(void **state)
{
	struct fx *f = *state;
	json_t *d1 = doc_v1(f), *d2 = doc_v2(f, d1), *d3;
	struct version v1 = { 0 }, v2 = { 0 }, v3 = { 0 };
	struct ndx_conf *c1, *c2 = NULL, *c3 = NULL;
	char *delta, *sig;

	make_version(f, d1, NULL, &v1);
	make_version(f, d2, &v1, &v2);
	c1 = verify_full(f, &v1);
	delta = cut(&v1, &v2, f->reg, &sig);
	/* Lists that did not change are not in the delta; the ones that did
	 * are runs, not the whole list. */
	assert_null(strstr(delta, "\"services\":[{\"id\":\"" CITIZENS));
	assert_non_null(strstr(delta, "\"from_version\":1"));
	assert_int_equal(apply(f, c1, delta, sig, &c2), NDX_OK);
	assert_is(c2, &v2);
	assert_int_equal(ndx_conf_version(c2), 2);
	assert_true(ndx_conf_grant_allows(c2, MOF_ENT, CITIZENS, "POST", "/citizens/1"));
	assert_false(ndx_conf_grant_allows(c2, MOF_ENT, HOUSEHOLDS, "GET", "/x"));
	assert_true(ndx_conf_grant_allows(c2, "VN/COM/0101234567/app", HOUSEHOLDS, "GET", "/x"));
	assert_false(ndx_conf_is_revoked(c2, FP_C));
	assert_non_null(ndx_conf_gateway_by_cert(c2, FP_C));
	assert_int_equal(ndx_conf_embargo_s(c2, "investigation"), 7200);
	assert_null(ndx_conf_id_provider_key(c2, "https://id.gov.vn", NULL));
	assert_non_null(ndx_conf_subscription(c2, MOF_ENT, CITIZENS, "died"));
	assert_string_equal(ndx_conf_monitoring_client(c2), MOF_ENT);
	free(delta);
	free(sig);

	/* Version 3: entries removed again, a member and its subsystem and
	 * gateway gone, top-level values removed. */
	d3 = json_deep_copy(d1);
	json_object_set_new(d3, "version", json_integer(3));
	set_time(d3, f->t0 + 20);
	json_array_remove(json_object_get(d3, "gateways"), 1);
	json_array_remove(json_object_get(d3, "members"), 1);
	json_array_remove(json_object_get(d3, "subsystems"), 1);
	json_array_clear(json_object_get(d3, "grants"));
	json_array_clear(json_object_get(d3, "services"));
	json_array_clear(json_object_get(d3, "consent_services"));
	json_object_del(d3, "id_providers");
	make_version(f, d3, &v2, &v3);
	delta = cut(&v2, &v3, f->reg, &sig);
	assert_int_equal(apply(f, c2, delta, sig, &c3), NDX_OK);
	assert_is(c3, &v3);
	assert_null(ndx_conf_member(c3, "VN/GOV/MOF"));
	assert_null(ndx_conf_service_of(c3, CITIZENS));
	free(delta);
	free(sig);
	/* The held configurations may go in any order: what they share stays. */
	ndx_conf_free(c1);
	ndx_conf_free(c2);
	assert_non_null(ndx_conf_member(c3, "VN/GOV/BCA"));
	ndx_conf_free(c3);
	json_decref(d1);
	json_decref(d2);
	json_decref(d3);
	free_version(&v1);
	free_version(&v2);
	free_version(&v3);
}

/* A change to grants only: members, subsystems, gateways and services
 * (and their keys) are shared with the held configuration, and still
 * there after the held one is freed. A re-signing with no change moves
 * only the times; replaying an older delta is refused. */
static void test_grant_and_resign(void **state)
{
	struct fx *f = *state;
	json_t *d1 = doc_v1(f), *d2 = json_deep_copy(d1), *d3;
	struct version v1 = { 0 }, v2 = { 0 }, v3 = { 0 };
	struct ndx_conf *c1, *c2 = NULL, *c3 = NULL, *again = NULL;
	char *delta, *sig, *delta3, *sig3;

	json_object_set_new(d2, "version", json_integer(2));
	set_time(d2, f->t0 + 10);
	json_object_set_new(json_array_get(json_object_get(d2, "grants"), 1), "paths",
			    json_pack("[s]", "/only/*"));
	make_version(f, d1, NULL, &v1);
	make_version(f, d2, &v1, &v2);
	c1 = verify_full(f, &v1);
	delta = cut(&v1, &v2, f->reg, &sig);
	assert_int_equal(apply(f, c1, delta, sig, &c2), NDX_OK);
	assert_is(c2, &v2);
	ndx_conf_free(c1);
	assert_non_null(ndx_conf_gateway_of(c2, "VN/GOV/MOF", 0));
	assert_non_null(ndx_conf_gateway_of(c2, "VN/GOV/MOF", 0)->sign_key);
	assert_true(ndx_conf_grant_allows(c2, MOF_ENT, HOUSEHOLDS, "GET", "/only/x"));
	assert_false(ndx_conf_grant_allows(c2, MOF_ENT, HOUSEHOLDS, "GET", "/other"));

	d3 = json_deep_copy(d2);
	set_time(d3, f->t0 + 30);
	make_version(f, d3, &v2, &v3);
	delta3 = cut(&v2, &v3, f->reg, &sig3);
	assert_null(strstr(delta3, "\"lists\":{\""));
	assert_int_equal(apply(f, c2, delta3, sig3, &c3), NDX_OK);
	assert_is(c3, &v3);
	assert_int_equal(ndx_conf_version(c3), 2);
	assert_int_equal(ndx_conf_generated_at(c3), f->t0 + 30);
	/* The same delta again, or the older one: not newer, refused. */
	assert_int_equal(apply(f, c3, delta3, sig3, &again), NDX_EPERM);
	assert_null(again);
	assert_err(f, "no newer");
	free(delta);
	free(sig);
	free(delta3);
	free(sig3);
	ndx_conf_free(c2);
	ndx_conf_free(c3);
	json_decref(d1);
	json_decref(d2);
	json_decref(d3);
	free_version(&v1);
	free_version(&v2);
	free_version(&v3);
}

struct pair {
	json_t *d1, *d2;
	struct version v1, v2;
	struct ndx_conf *c1;
	char *delta, *sig;
};

static void pair_make(struct fx *f, struct pair *p)
{
	memset(p, 0, sizeof *p);
	p->d1 = doc_v1(f);
	p->d2 = doc_v2(f, p->d1);
	make_version(f, p->d1, NULL, &p->v1);
	make_version(f, p->d2, &p->v1, &p->v2);
	p->c1 = verify_full(f, &p->v1);
	p->delta = cut(&p->v1, &p->v2, f->reg, &p->sig);
}

static void pair_free(struct pair *p)
{
	json_decref(p->d1);
	json_decref(p->d2);
	free_version(&p->v1);
	free_version(&p->v2);
	ndx_conf_free(p->c1);
	free(p->delta);
	free(p->sig);
}

/* A delta whose from_version is not the held version is refused, and so
 * is one applied to the version it leads to. */
static void test_from_mismatch(void **state)
{
	struct fx *f = *state;
	struct pair p;
	struct ndx_conf *c2 = NULL, *out = NULL;

	pair_make(f, &p);
	c2 = verify_full(f, &p.v2);
	assert_int_equal(apply(f, c2, p.delta, p.sig, &out), NDX_EPERM);
	assert_null(out);
	assert_err(f, "delta from version 1, the gateway holds version 2");
	ndx_conf_free(c2);
	pair_free(&p);
}

/* A delta changed on the way, or signed by a key the anchor does not
 * know, is refused before it is read. */
static void test_tampered(void **state)
{
	struct fx *f = *state;
	struct pair p;
	struct ndx_conf *out = NULL;
	char *other_sig, *bad = NULL;
	char *pos;

	pair_make(f, &p);
	bad = strdup(p.delta);
	assert_non_null(bad);
	pos = strstr(bad, "\"POST\"");
	assert_non_null(pos);
	memcpy(pos, "\"PUT\" ", 6);
	assert_int_equal(apply(f, p.c1, bad, p.sig, &out), NDX_EBADSIG);
	assert_null(out);
	other_sig = ndx_conf_sign(f->other, p.delta, strlen(p.delta));
	assert_int_equal(apply(f, p.c1, p.delta, other_sig, &out), NDX_ENOTFOUND);
	assert_null(out);
	/* A full document's signature does not make a delta of it. */
	assert_int_equal(apply(f, p.c1, p.v2.text, p.v2.sig, &out), NDX_EINVAL);
	assert_err(f, "format");
	free(other_sig);
	free(bad);
	pair_free(&p);
}

/* Signed by the registry's key, but not giving the full document of
 * to_version: a run copying the wrong entries, a new entry changed, a
 * digest of another document. Each is caught by the digest. */
static void test_wrong_result(void **state)
{
	struct fx *f = *state;
	static const struct {
		const char *from, *to;
	} edits[] = {
		{ "\"GET\",\"POST\"", "\"GET\",\"HEAD\"" }, /* a literal entry changed */
		{ "\"seconds\":7200", "\"seconds\":7201" },
		{ "\"to_version\":2", "\"to_version\":3" },  /* version differs from set */
	};
	struct pair p;

	pair_make(f, &p);
	for (size_t i = 0; i < sizeof edits / sizeof *edits; i++) {
		struct ndx_conf *out = NULL;
		char *bad = strdup(p.delta), *pos = strstr(bad, edits[i].from), *sig;
		size_t n = strlen(edits[i].from);

		assert_non_null(pos);
		assert_int_equal(strlen(edits[i].to), n);
		memcpy(pos, edits[i].to, n);
		sig = ndx_conf_sign(f->reg, bad, strlen(bad));
		assert_int_not_equal(apply(f, p.c1, bad, sig, &out), NDX_OK);
		assert_null(out);
		if (i < 2)
			assert_err(f, "does not give the document of version 2");
		free(sig);
		free(bad);
	}
	pair_free(&p);
}

/* Runs that point outside the held list, a key both set and a list, a key
 * not in keys: refused with a reason, never a crash. */
static void test_malformed(void **state)
{
	struct fx *f = *state;
	static const char *const bodies[] = {
		"\"lists\":{\"grants\":[[0,99]]}",
		"\"lists\":{\"grants\":[[-1,1]]}",
		"\"lists\":{\"grants\":[\"x\"]}",
		"\"lists\":{\"nosuch\":[[0,1]]}",
		"\"lists\":{\"version\":[[0,1]]}",
	};
	struct pair p;

	pair_make(f, &p);
	for (size_t i = 0; i < sizeof bodies / sizeof *bodies; i++) {
		json_t *d = json_loads(p.delta, 0, NULL), *patch;
		struct ndx_conf *out = NULL;
		char text[256], *bad, *sig;

		snprintf(text, sizeof text, "{%s}", bodies[i]);
		patch = json_loads(text, 0, NULL);
		assert_non_null(d);
		assert_non_null(patch);
		json_object_update(d, patch);
		json_decref(patch);
		bad = json_dumps(d, JSON_COMPACT);
		json_decref(d);
		sig = ndx_conf_sign(f->reg, bad, strlen(bad));
		assert_int_equal(apply(f, p.c1, bad, sig, &out), NDX_EINVAL);
		assert_null(out);
		assert_true(f->err[0] != '\0');
		free(sig);
		free(bad);
	}
	pair_free(&p);
}

/* The gateway's directory: a full document with deltas on top loads as
 * the last version, even when the full one has expired; a torn delta
 * file stops the chain; the full document rebuilt from a delta verifies
 * under the registry's signature of the full document. */
static void test_files(void **state)
{
	struct fx *f = *state;
	struct pair p;
	struct ndx_conf *c2 = NULL, *loaded = NULL;
	unsigned n = 9;
	char path[512];

	pair_make(f, &p);
	assert_int_equal(ndx_conf_save_dir(f->dir, (const uint8_t *)p.v1.text, strlen(p.v1.text),
					   p.v1.sig), NDX_OK);
	ndx_conf_clear_deltas(f->dir);
	assert_int_equal(ndx_conf_save_delta(f->dir, 1, (const uint8_t *)p.delta, strlen(p.delta),
					     p.sig), NDX_OK);
	assert_int_equal(ndx_conf_load_dir_deltas(f->dir, f->anchor, time(NULL), &loaded, &n,
						  f->err, sizeof f->err), NDX_OK);
	assert_int_equal(n, 1);
	assert_is(loaded, &p.v2);
	ndx_conf_free(loaded);
	/* The full document alone has expired: only the chain's end counts. */
	assert_int_equal(ndx_conf_load_dir_deltas(f->dir, f->anchor, f->t0 + 605, &loaded, &n,
						  f->err, sizeof f->err), NDX_OK);
	assert_int_equal(ndx_conf_version(loaded), 2);
	ndx_conf_free(loaded);
	assert_int_equal(ndx_conf_load_dir(f->dir, f->anchor, f->t0 + 605, &loaded, f->err,
					   sizeof f->err), NDX_EEXPIRED);
	/* A torn second delta (a crash while writing cannot leave one, but
	 * a disk can): the chain stops before it. */
	snprintf(path, sizeof path, "%s/%s.2", f->dir, NDX_CONF_DELTA_FILE);
	assert_int_equal(ndx_file_write_atomic(path, p.sig, strlen(p.sig), 0644, 0), NDX_OK);
	assert_int_equal(ndx_conf_load_dir_deltas(f->dir, f->anchor, time(NULL), &loaded, &n,
						  f->err, sizeof f->err), NDX_OK);
	assert_int_equal(n, 1);
	assert_int_equal(ndx_conf_version(loaded), 2);
	ndx_conf_free(loaded);
	/* The rebuilt full document: conf.json of version 2, verified. */
	assert_int_equal(apply(f, p.c1, p.delta, p.sig, &c2), NDX_OK);
	assert_int_equal(ndx_conf_save_full(p.c1, f->dir, f->anchor, f->err, sizeof f->err),
			 NDX_ENOTFOUND);
	assert_int_equal(ndx_conf_save_full(c2, f->dir, f->anchor, f->err, sizeof f->err), NDX_OK);
	ndx_conf_clear_deltas(f->dir);
	assert_int_equal(ndx_conf_load_dir(f->dir, f->anchor, time(NULL), &loaded, f->err,
					   sizeof f->err), NDX_OK);
	assert_is(loaded, &p.v2);
	ndx_conf_free(loaded);
	/* A stale delta left beside a newer full document does not apply. */
	assert_int_equal(ndx_conf_save_delta(f->dir, 1, (const uint8_t *)p.delta, strlen(p.delta),
					     p.sig), NDX_OK);
	assert_int_equal(ndx_conf_load_dir_deltas(f->dir, f->anchor, time(NULL), &loaded, &n,
						  f->err, sizeof f->err), NDX_OK);
	assert_int_equal(n, 0);
	assert_int_equal(ndx_conf_version(loaded), 2);
	ndx_conf_free(loaded);
	ndx_conf_free(c2);
	pair_free(&p);
	snprintf(path, sizeof path, "%s/%s", f->dir, NDX_CONF_FILE);
	unlink(path);
	snprintf(path, sizeof path, "%s/%s", f->dir, NDX_CONF_SIG_FILE);
	unlink(path);
	rmdir(f->dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_section),
		cmocka_unit_test(test_grant_and_resign),
		cmocka_unit_test(test_from_mismatch),
		cmocka_unit_test(test_tampered),
		cmocka_unit_test(test_wrong_result),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_files),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
