/* Global configuration at national scale: builds a document of M members
 * (one subsystem and one gateway each, every gateway with its own Ed25519
 * key) and S services spread over those subsystems, one grant per member,
 * then times what the registry and every gateway do with it: serialising
 * (jansson), signing (ndx_conf_sign), and verifying + parsing
 * (ndx_conf_verify, with ndx_conf_parse alone beside it to split the two).
 * Then the delta path (docs/protocol.md "Configuration deltas") in the same
 * run: one grant changed (version 2, then again version 3) and a
 * re-signing with no change (version 3 in a later period), each time the
 * registry's work (its tree of the new version, the delta cut and signed)
 * and the gateway's (verify and apply), beside the full document's bytes
 * and verify + parse. Prints one JSON object on stdout; `bench/run`
 * records it.
 *
 *   conf_bench [MEMBERS [SERVICES]]     (default 10000 and 100000) */
#include <errno.h>
#include <stdbool.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "ndx/conf.h"
#include "ndx/encode.h"
#include "ndx/err.h"
#include "ndx/hash.h"
#include "ndx/key.h"
#include "ndx/timefmt.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int parse_count(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v == 0 || v > max)
		return -1;
	*out = v;
	return 0;
}

/* A gateway entry with a fresh key: the parser decodes every key, and a
 * real federation has one per gateway. */
static json_t *gateway_entry(const char *member, unsigned long i)
{
	struct ndx_key *k = NULL;
	uint8_t pub[NDX_ED25519_PUBLIC_LEN], fp[NDX_SHA256_LEN];
	char kid[NDX_KEY_ID_HEX_LEN + 1], fphex[2 * NDX_SHA256_LEN + 1], addr[64], *b64;
	json_t *o;

	if (ndx_key_generate(&k) != NDX_OK)
		return NULL;
	ndx_key_public_raw(k, pub);
	ndx_key_id(k, kid);
	ndx_key_free(k);
	b64 = ndx_b64_encode(pub, sizeof pub, 0);
	if (!b64)
		return NULL;
	ndx_sha256(&i, sizeof i, fp);
	ndx_hex_encode(fp, sizeof fp, fphex);
	snprintf(addr, sizeof addr, "https://10.%lu.%lu.%lu:8443", (i >> 16) & 255,
		 (i >> 8) & 255, i & 255);
	o = json_pack("{ssssssssssss}", "member", member, "code", "gw1", "address", addr,
		      "tls_cert_sha256", fphex, "sign_key", b64, "sign_key_id", kid);
	free(b64);
	return o;
}

static json_t *build(unsigned long members, unsigned long services, time_t now)
{
	char gen[NDX_TIME_TEXT_LEN], exp[NDX_TIME_TEXT_LEN], id[64], sub[128], svc[160];
	json_t *doc, *mem = json_array(), *subs = json_array(), *gws = json_array(),
		     *svcs = json_array(), *grants = json_array();
	unsigned long i;

	ndx_time_format(now - 60, gen);
	ndx_time_format(now + 3600, exp);
	doc = json_pack("{sssssIssss}", "format", NDX_CONF_FORMAT, "instance", "VN", "version",
			(json_int_t)1, "generated_at", gen, "expires_at", exp);
	if (!doc || !mem || !subs || !gws || !svcs || !grants)
		goto fail;
	json_object_set_new(doc, "registry",
			    json_pack("{ssso}", "url", "http://127.0.0.1:4400", "ca_certificate",
				      json_null()));
	json_object_set_new(doc, "member_classes", json_pack("[sss]", "GOV", "COM", "ORG"));
	for (i = 0; i < members; i++) {
		json_t *g;

		snprintf(id, sizeof id, "VN/%s/M%06lu", i % 10 ? "COM" : "GOV", i);
		snprintf(sub, sizeof sub, "%s/system", id);
		if (json_array_append_new(mem, json_pack("{ssss}", "id", id, "name",
							  "Cơ quan thử nghiệm")) ||
		    json_array_append_new(subs, json_pack("{ss}", "id", sub)))
			goto fail;
		g = gateway_entry(id, i);
		if (!g || json_array_append_new(gws, g))
			goto fail;
	}
	for (i = 0; i < services; i++) {
		unsigned long m = i % members;

		snprintf(svc, sizeof svc, "VN/%s/M%06lu/system/service%lu", m % 10 ? "COM" : "GOV",
			 m, i / members);
		if (json_array_append_new(svcs, json_pack("{sssssbs[s]sbso}", "id", svc, "title",
							   "Dịch vụ thử nghiệm", "personal",
							   (int)(i % 3 == 0), "purposes",
							   "public-service", "consent_required", 0,
							   "openapi_sha256", json_null())))
			goto fail;
	}
	for (i = 0; i < members; i++) {
		unsigned long m = (i + 1) % members, c = i;

		snprintf(sub, sizeof sub, "VN/%s/M%06lu/system", c % 10 ? "COM" : "GOV", c);
		snprintf(svc, sizeof svc, "VN/%s/M%06lu/system/service0", m % 10 ? "COM" : "GOV", m);
		if (json_array_append_new(grants, json_pack("{sssss[s]s[s]}", "client", sub,
							     "service", svc, "methods", "GET",
							     "paths", "/records/*")))
			goto fail;
	}
	json_object_set_new(doc, "members", mem);
	json_object_set_new(doc, "subsystems", subs);
	json_object_set_new(doc, "gateways", gws);
	json_object_set_new(doc, "services", svcs);
	json_object_set_new(doc, "grants", grants);
	json_object_set_new(doc, "revocations", json_array());
	json_object_set_new(doc, "consent_services", json_array());
	return doc;
fail:
	json_decref(doc);
	json_decref(mem);
	json_decref(subs);
	json_decref(gws);
	json_decref(svcs);
	json_decref(grants);
	return NULL;
}

struct step {
	double reg_tree_s, reg_cut_s, reg_sign_s, gw_apply_s, full_verify_s;
	size_t delta_bytes, full_bytes;
};

/* The registry's and a gateway's work for one new version `doc` (made
 * from prev's document): a tree sharing prev's entries, the delta cut and
 * signed, and the gateway applying it to held; the full path (serialise,
 * sign, verify + parse) beside it. */
static int delta_step(const struct ndx_key *key, const struct ndx_anchor *anchor, time_t now,
		      json_t *doc, struct ndx_conf_tree *prev, struct ndx_conf *held,
		      struct ndx_conf_tree **tree_out, struct ndx_conf **conf_out,
		      struct step *st)
{
	struct ndx_conf_tree *t = NULL;
	struct ndx_conf *full = NULL;
	char *text = NULL, *sig = NULL, *delta = NULL, *dsig = NULL, err[512];
	size_t dlen = 0;
	double t0;
	int rc = -1;

	t0 = now_s();
	if (ndx_conf_tree_new(doc, prev, &t) != NDX_OK)
		goto out;
	st->reg_tree_s = now_s() - t0;
	text = json_dumps(doc, JSON_COMPACT);
	sig = text ? ndx_conf_sign(key, text, strlen(text)) : NULL;
	if (!sig)
		goto out;
	st->full_bytes = strlen(text);
	t0 = now_s();
	if (ndx_conf_verify((const uint8_t *)text, strlen(text), sig, anchor, now, &full, err,
			    sizeof err) != NDX_OK) {
		fprintf(stderr, "conf_bench: full: %s\n", err);
		goto out;
	}
	st->full_verify_s = now_s() - t0;
	t0 = now_s();
	if (ndx_conf_delta_make(prev, t, sig, &delta, &dlen) != NDX_OK)
		goto out;
	st->reg_cut_s = now_s() - t0;
	t0 = now_s();
	dsig = ndx_conf_sign(key, delta, dlen);
	st->reg_sign_s = now_s() - t0;
	st->delta_bytes = dlen;
	if (!dsig)
		goto out;
	t0 = now_s();
	if (ndx_conf_delta_apply(held, (const uint8_t *)delta, dlen, dsig, anchor, now, conf_out,
				 err, sizeof err) != NDX_OK) {
		fprintf(stderr, "conf_bench: delta: %s\n", err);
		goto out;
	}
	st->gw_apply_s = now_s() - t0;
	*tree_out = t;
	t = NULL;
	rc = 0;
out:
	ndx_conf_tree_free(t);
	ndx_conf_free(full);
	free(text);
	free(sig);
	free(delta);
	free(dsig);
	return rc;
}

static void print_step(const char *name, const struct step *st, bool comma)
{
	printf("\"%s\":{\"delta_bytes\":%zu,\"full_bytes\":%zu,\"registry_tree_s\":%.4f,"
	       "\"registry_cut_s\":%.4f,\"registry_sign_delta_s\":%.4f,"
	       "\"gateway_verify_apply_s\":%.4f,\"gateway_full_verify_parse_s\":%.4f}%s",
	       name, st->delta_bytes, st->full_bytes, st->reg_tree_s, st->reg_cut_s,
	       st->reg_sign_s, st->gw_apply_s, st->full_verify_s, comma ? "," : "");
}

/* A copy of doc as version `version` generated at gen (a new period when
 * nothing else changes), with grant g's methods changed when g >= 0. */
static json_t *next_doc(const json_t *doc, json_int_t version, time_t gen, long g)
{
	char t1[NDX_TIME_TEXT_LEN], t2[NDX_TIME_TEXT_LEN];
	json_t *d = json_deep_copy(doc);

	if (!d)
		return NULL;
	ndx_time_format(gen, t1);
	ndx_time_format(gen + 3600, t2);
	json_object_set_new(d, "version", json_integer(version));
	json_object_set_new(d, "generated_at", json_string(t1));
	json_object_set_new(d, "expires_at", json_string(t2));
	if (g >= 0)
		json_object_set_new(json_array_get(json_object_get(d, "grants"), (size_t)g),
				    "methods", json_pack("[ss]", "GET", version % 2 ? "POST" : "PUT"));
	return d;
}

/* Versions 2 and 3 (one grant changed each) and version 3 re-signed. */
static int delta_steps(const struct ndx_key *key, const struct ndx_anchor *anchor, time_t now,
		       json_t *doc, struct ndx_conf *conf, unsigned long members,
		       double *t_first_tree)
{
	struct ndx_conf_tree *t1 = NULL, *t2 = NULL, *t3 = NULL, *t4 = NULL;
	struct ndx_conf *c2 = NULL, *c3 = NULL, *c4 = NULL;
	struct step s2 = { 0 }, s3 = { 0 }, s4 = { 0 };
	json_t *d2 = NULL, *d3 = NULL, *d4 = NULL;
	double t0 = now_s();
	int rc = -1;

	if (ndx_conf_tree_new(doc, NULL, &t1) != NDX_OK)
		goto out;
	*t_first_tree = now_s() - t0;
	if (!(d2 = next_doc(doc, 2, now - 50, (long)(members / 2))) ||
	    delta_step(key, anchor, now, d2, t1, conf, &t2, &c2, &s2) ||
	    !(d3 = next_doc(d2, 3, now - 40, (long)(members / 3))) ||
	    delta_step(key, anchor, now, d3, t2, c2, &t3, &c3, &s3) ||
	    !(d4 = next_doc(d3, 3, now - 30, -1)) ||
	    delta_step(key, anchor, now, d4, t3, c3, &t4, &c4, &s4))
		goto out;
	printf(",\"first_delta_after_full\":{");
	print_step("one_grant", &s2, false);
	printf("},\"next_delta\":{");
	print_step("one_grant", &s3, true);
	print_step("resigned_no_change", &s4, false);
	printf("}");
	rc = 0;
out:
	json_decref(d2);
	json_decref(d3);
	json_decref(d4);
	ndx_conf_tree_free(t1);
	ndx_conf_tree_free(t2);
	ndx_conf_tree_free(t3);
	ndx_conf_tree_free(t4);
	ndx_conf_free(c2);
	ndx_conf_free(c3);
	ndx_conf_free(c4);
	return rc;
}

int main(int argc, char **argv)
{
	unsigned long members = 10000, services = 100000;
	struct ndx_key *key = NULL;
	struct ndx_anchor *anchor = NULL;
	struct ndx_conf *conf = NULL;
	json_t *doc = NULL, *anchor_doc = NULL;
	char *text = NULL, *sig = NULL, *anchor_text = NULL, err[512];
	double t0, t_build, t_dump, t_sign, t_verify, t_parse, t_load, t_tree = 0;
	time_t now = time(NULL);
	size_t len;
	int rc = 1;

	if (argc > 3 || (argc > 1 && parse_count(argv[1], 1000000, &members)) ||
	    (argc > 2 && parse_count(argv[2], 10000000, &services))) {
		fprintf(stderr, "usage: conf_bench [MEMBERS [SERVICES]]\n");
		return 2;
	}
	if (ndx_key_generate(&key) != NDX_OK) {
		fprintf(stderr, "conf_bench: cannot make a key\n");
		return 1;
	}
	anchor_doc = ndx_anchor_build("VN", "http://127.0.0.1:4400", key);
	anchor_text = anchor_doc ? json_dumps(anchor_doc, JSON_COMPACT) : NULL;
	if (!anchor_text ||
	    ndx_anchor_parse(anchor_text, strlen(anchor_text), &anchor, err, sizeof err) != NDX_OK) {
		fprintf(stderr, "conf_bench: anchor: %s\n", anchor_text ? err : "out of memory");
		goto out;
	}

	t0 = now_s();
	doc = build(members, services, now);
	t_build = now_s() - t0;
	if (!doc) {
		fprintf(stderr, "conf_bench: cannot build the document\n");
		goto out;
	}
	t0 = now_s();
	text = json_dumps(doc, JSON_COMPACT);
	t_dump = now_s() - t0;
	if (!text) {
		fprintf(stderr, "conf_bench: cannot serialise the document\n");
		goto out;
	}
	len = strlen(text);
	t0 = now_s();
	sig = ndx_conf_sign(key, text, len);
	t_sign = now_s() - t0;
	if (!sig) {
		fprintf(stderr, "conf_bench: cannot sign\n");
		goto out;
	}
	t0 = now_s();
	if (ndx_conf_verify((const uint8_t *)text, len, sig, anchor, now, &conf, err,
			    sizeof err) != NDX_OK) {
		fprintf(stderr, "conf_bench: verify: %s\n", err);
		goto out;
	}
	t_verify = now_s() - t0;
	ndx_conf_free(conf);
	conf = NULL;
	t0 = now_s();
	{
		json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
		t_load = now_s() - t0;
		json_decref(j);
	}
	t0 = now_s();
	if (ndx_conf_parse((const uint8_t *)text, len, &conf, err, sizeof err) != NDX_OK) {
		fprintf(stderr, "conf_bench: parse: %s\n", err);
		goto out;
	}
	t_parse = now_s() - t0;
	printf("{\"members\":%lu,\"subsystems\":%lu,\"gateways\":%lu,\"services\":%lu,"
	       "\"grants\":%lu,\"bytes\":%zu,\"build_s\":%.4f,\"serialise_s\":%.4f,"
	       "\"sign_s\":%.4f,\"verify_and_parse_s\":%.4f,\"parse_only_s\":%.4f,"
	       "\"json_load_only_s\":%.4f",
	       members, members, members, services, members, len, t_build, t_dump, t_sign,
	       t_verify, t_parse, t_load);
	if (delta_steps(key, anchor, now, doc, conf, members, &t_tree)) {
		fprintf(stderr, "conf_bench: the delta steps failed\n");
		goto out;
	}
	printf(",\"registry_first_tree_s\":%.4f}\n", t_tree);
	rc = 0;
out:
	ndx_conf_free(conf);
	json_decref(doc);
	json_decref(anchor_doc);
	free(text);
	free(sig);
	free(anchor_text);
	ndx_anchor_free(anchor);
	ndx_key_free(key);
	return rc;
}
