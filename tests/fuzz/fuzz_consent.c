/* libFuzzer target for consent artefacts (include/ndx/consent.h): the
 * input is an Ndx-Consent header value. ndx_consent_parse, then
 * ndx_consent_verify twice - once against the request the consent itself
 * names (so that the checks after the signature are reached) and once
 * against a fixed request - with the fixed key of fuzz.h trusted for every
 * issuer. Invariants: parse and verify agree on what is malformed; an
 * accepted consent meets every documented field rule; a refusal names a
 * reason; and the fields of every parsed consent, signed again with the
 * fixed key, verify for their own request (sign refuses nothing parse
 * accepts). How to run: tests/fuzz/README.md. */
#include <string.h>

#include "fuzz.h"
#include "ndx/consent.h"
#include "ndx/statuslist.h"

#define ERR_CAP 256

static struct ndx_key *key;
static char key_kid[NDX_KEY_ID_HEX_LEN + 1];
static int revoked_answer; /* 0 not revoked, 1 revoked, 2 unknown */

static const struct ndx_key *lookup(void *ctx, const char *kid, const char *iss)
{
	(void)ctx;
	FUZZ_CHECK(kid != NULL && iss != NULL);
	return strcmp(kid, key_kid) == 0 ? key : NULL;
}

static int is_revoked(void *ctx, const char *iss, uint32_t list, uint32_t idx, bool *revoked)
{
	(void)ctx;
	FUZZ_CHECK(iss != NULL && list <= NDX_STATUSLIST_MAX_LIST &&
		   idx < NDX_STATUSLIST_CAPACITY);
	if (revoked_answer == 2)
		return NDX_EIO;
	*revoked = revoked_answer == 1;
	return NDX_OK;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	key = fuzz_key();
	ndx_key_id(key, key_kid);
	return 0;
}

static bool all_in(const char *s, const char *set)
{
	for (; *s; s++)
		if (!strchr(set, *s))
			return false;
	return true;
}

static void check_fields(const struct ndx_consent *c)
{
	size_t n;

	FUZZ_CHECK(c->kid && strlen(c->kid) == NDX_KEY_ID_HEX_LEN &&
		   all_in(c->kid, "0123456789abcdef"));
	FUZZ_CHECK(c->iss && c->jti && c->sub && c->consumer && c->purpose && c->services);
	n = strlen(c->jti);
	FUZZ_CHECK(n >= 1 && n <= NDX_CONSENT_JTI_MAX);
	FUZZ_CHECK(all_in(c->jti, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.:"));
	n = strlen(c->purpose);
	FUZZ_CHECK(n >= 1 && n <= NDX_CONSENT_PURPOSE_MAX);
	FUZZ_CHECK(all_in(c->purpose, "abcdefghijklmnopqrstuvwxyz0123456789-"));
	FUZZ_CHECK(strlen(c->sub) == NDX_CONSENT_PIN_LEN && all_in(c->sub, "0123456789"));
	FUZZ_CHECK(c->n_services >= 1 && c->n_services <= NDX_CONSENT_MAX_SERVICES);
	for (size_t i = 0; i < c->n_services; i++) {
		FUZZ_CHECK(c->services[i] != NULL);
		FUZZ_CHECK(ndx_consent_covers(c, c->services[i]));
	}
	FUZZ_CHECK(c->ver == NDX_CONSENT_VERSION);
	FUZZ_CHECK(c->status_list <= NDX_STATUSLIST_MAX_LIST &&
		   c->status_idx < NDX_STATUSLIST_CAPACITY);
}

/* The fields of c signed again with the fixed key must verify for the
 * request they describe, at a time inside the validity. */
static void resign(const struct ndx_consent *c)
{
	struct ndx_consent_fields f = {
		.iss = c->iss, .jti = c->jti, .sub = c->sub, .consumer = c->consumer,
		.services = c->services, .n_services = c->n_services, .purpose = c->purpose,
		.iat = c->iat, .nbf = c->nbf, .exp = c->exp,
		.status_list = c->status_list, .status_idx = c->status_idx,
	};
	struct ndx_consent_trust trust = { .key_lookup = lookup, .is_revoked = is_revoked };
	struct ndx_consent_request req = {
		.subject = c->sub, .consumer = c->consumer, .service = c->services[0],
		.purpose = c->purpose, .now = c->nbf,
	};
	enum ndx_consent_refusal refusal = NDX_CONSENT_ACCEPTED;
	struct ndx_consent *again = NULL;
	char err[ERR_CAP];
	char *jws = NULL;
	int rc;

	rc = ndx_consent_sign(key, &f, &jws, err, sizeof err);
	/* The other key id may make the text longer than the cap. */
	if (rc == NDX_ETOOBIG || rc == NDX_ENOMEM)
		return;
	if (rc != NDX_OK)
		fprintf(stderr, "sign refused a parsed consent: %s\n", err);
	FUZZ_CHECK(rc == NDX_OK && jws != NULL);
	if (c->exp > c->nbf) {
		revoked_answer = 0;
		rc = ndx_consent_verify(jws, strlen(jws), &req, &trust, &again, &refusal, err,
					sizeof err);
		if (rc != NDX_OK)
			fprintf(stderr, "re-signed consent refused: %s (%s)\n",
				ndx_consent_refusal_name(refusal), err);
		FUZZ_CHECK(rc == NDX_OK && again != NULL);
		FUZZ_CHECK(strcmp(again->jti, c->jti) == 0 && again->n_services == c->n_services);
		ndx_consent_free(again);
	}
	free(jws);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_strndup(data, size);
	char *err = malloc(ERR_CAP);
	struct ndx_consent *parsed = NULL, *out = NULL;
	struct ndx_consent_trust trust = { .key_lookup = lookup, .is_revoked = is_revoked };
	struct ndx_consent_request req = {
		.subject = "001090000001", .consumer = "VN/GOV/BTC/tax",
		.service = "VN/GOV/BCA/population/citizens", .purpose = "tax-assessment",
		.now = FUZZ_NOW, .leeway = 60,
	};
	enum ndx_consent_refusal refusal = NDX_CONSENT_ACCEPTED;
	int prc, rc;

	FUZZ_CHECK(err != NULL);
	err[0] = '\0';
	prc = ndx_consent_parse(text, size, &parsed, err, ERR_CAP);
	FUZZ_CHECK(strnlen(err, ERR_CAP) < ERR_CAP);
	if (prc != NDX_OK) {
		FUZZ_CHECK(parsed == NULL && (prc == NDX_EINVAL || prc == NDX_ENOMEM));
	} else {
		FUZZ_CHECK(parsed != NULL && size <= NDX_CONSENT_MAX_TEXT);
		check_fields(parsed);
		/* Aim the request at the consent, so that the signature, time,
		 * subject, consumer, service and purpose checks all run. */
		req.subject = parsed->sub;
		req.consumer = parsed->consumer;
		req.service = parsed->services[parsed->n_services - 1];
		req.purpose = parsed->purpose;
		req.now = parsed->nbf;
	}
	revoked_answer = (int)(size % 3);
	rc = ndx_consent_verify(text, size, &req, &trust, &out, &refusal, err, ERR_CAP);
	FUZZ_CHECK(strnlen(err, ERR_CAP) < ERR_CAP);
	FUZZ_CHECK(strcmp(ndx_consent_refusal_name(refusal), "consent_unknown_refusal") != 0);
	if (rc == NDX_OK) {
		FUZZ_CHECK(out != NULL && refusal == NDX_CONSENT_ACCEPTED && prc == NDX_OK);
		FUZZ_CHECK(revoked_answer == 0);
		check_fields(out);
		FUZZ_CHECK(strcmp(out->kid, key_kid) == 0);
		FUZZ_CHECK(out->nbf <= req.now + (time_t)req.leeway && req.now < out->exp);
		FUZZ_CHECK(strcmp(out->sub, req.subject) == 0);
		FUZZ_CHECK(strcmp(out->consumer, req.consumer) == 0);
		FUZZ_CHECK(strcmp(out->purpose, req.purpose) == 0);
		FUZZ_CHECK(ndx_consent_covers(out, req.service));
	} else if (rc == NDX_EPERM) {
		FUZZ_CHECK(out == NULL && refusal != NDX_CONSENT_ACCEPTED);
		/* Parse and verify agree on what is malformed. */
		FUZZ_CHECK((refusal == NDX_CONSENT_MALFORMED) == (prc != NDX_OK));
	} else {
		/* No decision: only a failed allocation or the revocation
		 * callback's own error, never for a malformed text. */
		FUZZ_CHECK(out == NULL && (rc == NDX_ENOMEM || (rc == NDX_EIO && revoked_answer == 2)));
		FUZZ_CHECK(prc == NDX_OK);
	}
	if (prc == NDX_OK)
		resign(parsed);
	ndx_consent_free(out);
	ndx_consent_free(parsed);
	free(err);
	free(text);
	return 0;
}
