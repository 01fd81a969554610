/* libFuzzer target for the global configuration of include/ndx/conf.h.
 * Input: "SIG\nDOC" or just "DOC" (no newline). DOC always goes through
 * ndx_conf_parse, and a document that parses must answer every lookup the
 * gateway makes for what it lists. A non-empty SIG line goes with DOC to
 * ndx_conf_verify under a fixed anchor; an empty one ("\nDOC") makes the
 * target sign DOC itself with the anchor's key, so that mutated documents
 * also reach the checks behind the signature (instance, expiry) and the
 * result must agree with ndx_conf_parse. The seeds are valid pairs from
 * gen_corpus.c. How to run: tests/fuzz/README.md. */
#include <jansson.h>
#include <string.h>

#include "fuzz.h"
#include "ndx/conf.h"

#define ERR_CAP 256

static struct ndx_key *key;
static struct ndx_anchor *anchor;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[ERR_CAP];
	json_t *doc;
	char *text;

	(void)argc;
	(void)argv;
	key = fuzz_key();
	doc = ndx_anchor_build(FUZZ_INSTANCE, FUZZ_REGISTRY_URL, key);
	text = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;
	if (text == NULL || ndx_anchor_parse(text, strlen(text), &anchor, err, sizeof err) != NDX_OK) {
		fprintf(stderr, "fuzz_conf: cannot build the anchor: %s\n", err);
		abort();
	}
	free(text);
	json_decref(doc);
	return 0;
}

static const char *str(const json_t *o, const char *field)
{
	return json_string_value(json_object_get(o, field));
}

/* Everything a valid configuration lists can be found again. */
static void check_conf(const struct ndx_conf *conf)
{
	const json_t *doc = ndx_conf_json(conf), *v;
	size_t i;

	FUZZ_CHECK(json_is_object(doc));
	FUZZ_CHECK(ndx_conf_version(conf) > 0);
	FUZZ_CHECK(ndx_conf_instance(conf) != NULL && ndx_conf_instance(conf)[0] != '\0');
	FUZZ_CHECK(ndx_conf_generated_at(conf) < ndx_conf_expires_at(conf));

	/* The typed views say what the document says, in its order. */
	json_array_foreach(json_object_get(doc, "members"), i, v) {
		FUZZ_CHECK(ndx_conf_member_at(conf, i) == ndx_conf_member(conf, str(v, "id")));
		FUZZ_CHECK(ndx_conf_has_client(conf, str(v, "id")));
	}
	json_array_foreach(json_object_get(doc, "subsystems"), i, v) {
		const struct ndx_conf_subsystem *sub = ndx_conf_subsystem(conf, str(v, "id"));

		FUZZ_CHECK(sub != NULL && sub == ndx_conf_subsystem_at(conf, i));
		FUZZ_CHECK(ndx_conf_member(conf, sub->member) != NULL);
	}
	json_array_foreach(json_object_get(doc, "services"), i, v) {
		const struct ndx_conf_service *svc = ndx_conf_service_of(conf, str(v, "id"));

		FUZZ_CHECK(svc != NULL && svc == ndx_conf_service_at(conf, i));
		FUZZ_CHECK(svc->personal == json_is_true(json_object_get(v, "personal")));
		FUZZ_CHECK(svc->npurposes == json_array_size(json_object_get(v, "purposes")));
	}
	json_array_foreach(json_object_get(doc, "gateways"), i, v) {
		const struct ndx_conf_gateway *gw =
			ndx_conf_gateway_by_cert(conf, str(v, "tls_cert_sha256"));
		char kid[NDX_KEY_ID_HEX_LEN + 1];
		bool listed = false;

		FUZZ_CHECK(gw != NULL && gw->sign_key != NULL);
		for (size_t k = 0; ndx_conf_gateway_of(conf, gw->member, k); k++)
			listed = listed || ndx_conf_gateway_of(conf, gw->member, k) == gw;
		FUZZ_CHECK(listed);
		ndx_key_id(gw->sign_key, kid);
		FUZZ_CHECK(strcmp(kid, str(v, "sign_key_id")) == 0);
	}
	json_array_foreach(json_object_get(doc, "grants"), i, v) {
		const char *client = str(v, "client"), *service = str(v, "service");
		const char *method = json_string_value(json_array_get(json_object_get(v, "methods"), 0));
		const json_t *p;
		bool star = false;
		size_t j;

		json_array_foreach(json_object_get(v, "paths"), j, p) {
			star = star || strcmp(json_string_value(p), "*") == 0;
			/* A pattern as a path: answer must come, whichever. */
			(void)ndx_conf_grant_allows(conf, client, service, method,
						    json_string_value(p));
		}
		if (star)
			FUZZ_CHECK(ndx_conf_grant_allows(conf, client, service, method, ""));
		/* No grant ever reaches a path with a ".." segment. */
		FUZZ_CHECK(!ndx_conf_grant_allows(conf, client, service, method, "/a/../b"));
		FUZZ_CHECK(!ndx_conf_grant_allows(conf, client, service, method, "/a/%2e%2E/b"));
		FUZZ_CHECK(!ndx_conf_grant_allows(conf, client, service, "BREW", ""));
	}
	json_array_foreach(json_object_get(doc, "revocations"), i, v)
		FUZZ_CHECK(ndx_conf_is_revoked(conf, str(v, "value")));

	FUZZ_CHECK(ndx_conf_member(conf, "") == NULL);
	FUZZ_CHECK(ndx_conf_gateway_of(conf, "no/such/member", 0) == NULL);
	FUZZ_CHECK(!ndx_conf_has_client(conf, ""));
	FUZZ_CHECK(!ndx_conf_is_revoked(conf, NULL));
}

static void check_err(const char *err, bool failed)
{
	size_t n = strnlen(err, ERR_CAP);

	FUZZ_CHECK(n < ERR_CAP);
	FUZZ_CHECK(!failed || n > 0);
}

static bool verify_rc_known(int rc)
{
	return rc == NDX_OK || rc == NDX_EINVAL || rc == NDX_ENOTFOUND || rc == NDX_EBADSIG ||
	       rc == NDX_EEXPIRED || rc == NDX_ETOOBIG || rc == NDX_ENOMEM;
}

/* ndx_conf_verify on doc with sig text; returns its rc. */
static int verify(const uint8_t *doc, size_t len, const char *sig, int parse_rc)
{
	char *err = malloc(ERR_CAP);
	struct ndx_conf *conf = NULL;
	int rc;

	FUZZ_CHECK(err != NULL);
	rc = ndx_conf_verify(doc, len, sig, anchor, FUZZ_NOW, &conf, err, ERR_CAP);
	FUZZ_CHECK(verify_rc_known(rc));
	check_err(err, rc != NDX_OK);
	if (rc == NDX_OK) {
		FUZZ_CHECK(conf != NULL && parse_rc == NDX_OK);
		FUZZ_CHECK(strcmp(ndx_conf_instance(conf), FUZZ_INSTANCE) == 0);
		FUZZ_CHECK(ndx_conf_expires_at(conf) > FUZZ_NOW);
		check_conf(conf);
		ndx_conf_free(conf);
	} else {
		FUZZ_CHECK(conf == NULL);
	}
	free(err);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t siglen = nl != NULL ? (size_t)(nl - data) : 0;
	size_t doclen = nl != NULL ? size - siglen - 1 : size;
	uint8_t *doc = (uint8_t *)fuzz_strndup(nl != NULL ? nl + 1 : data, doclen);
	char *err = malloc(ERR_CAP);
	struct ndx_conf *conf = NULL;
	int parse_rc, rc;

	FUZZ_CHECK(err != NULL);
	parse_rc = ndx_conf_parse(doc, doclen, &conf, err, ERR_CAP);
	FUZZ_CHECK(parse_rc == NDX_OK || parse_rc == NDX_EINVAL || parse_rc == NDX_ETOOBIG ||
		   parse_rc == NDX_ENOMEM);
	check_err(err, parse_rc != NDX_OK);
	FUZZ_CHECK((parse_rc == NDX_OK) == (conf != NULL));
	if (conf != NULL)
		check_conf(conf);
	ndx_conf_free(conf);
	free(err);

	if (nl != NULL && siglen > 0) {
		char *sig = fuzz_strndup(data, siglen);

		verify(doc, doclen, sig, parse_rc);
		free(sig);
	} else if (nl != NULL) {
		char *sig = ndx_conf_sign(key, doc, doclen);

		FUZZ_CHECK(sig != NULL);
		rc = verify(doc, doclen, sig, parse_rc);
		/* Signed by the anchor's key, only the document can fail. */
		if (parse_rc != NDX_OK)
			FUZZ_CHECK(rc == parse_rc);
		else
			FUZZ_CHECK(rc == NDX_OK || rc == NDX_EINVAL || rc == NDX_EEXPIRED);
		free(sig);
	}
	free(doc);
	return 0;
}
