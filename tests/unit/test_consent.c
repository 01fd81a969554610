/* Unit tests for include/ndx/consent.h: signing and parsing round trips,
 * the payload rules, and every refusal of ndx_consent_verify with its own
 * reason (malformed, unknown key, bad signature, not yet valid, expired,
 * wrong subject, consumer, service, purpose, revoked), plus a revocation
 * state that cannot be read. */
/* GCC 12 at -O3 reports -Wdangling-pointer on pointers into a buffer
 * that is freed and then replaced by a new allocation under the same name;
 * each pointer here is derived after the reassignment, so it is a false
 * positive (the tests run clean under ASan and valgrind). */
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic ignored "-Wdangling-pointer"
#endif

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ndx/consent.h"
#include "ndx/encode.h"
#include "ndx/err.h"
#include "ndx/jws.h"
#include "ndx/key.h"
#include "ndx/statuslist.h"

#define ISS "VN/GOV/BCA/consent"
#define CONSUMER "VN/GOV/MOF/enterprise"
#define SVC1 "VN/GOV/BCA/population/citizens"
#define SVC2 "VN/GOV/MOF/tax/taxpayers"
#define PIN "001203004567"
#define PURPOSE "public-service"
#define JTI "c-2026-0001"
#define T0 ((time_t)1795428000) /* 2026-11-23T08:40:00Z */
#define IDX 7
#define STATUS_V2 "\"status\":{\"list\":0,\"idx\":7},\"ver\":2"
/* A valid payload up to the status member. */
#define BASE_J "{\"iss\":\"" ISS "\",\"jti\":\"j\",\"sub\":\"" PIN "\",\"consumer\":\"" \
	CONSUMER "\",\"services\":[\"" SVC1 "\"],\"purpose\":\"" PURPOSE \
	"\",\"iat\":1,\"nbf\":1,\"exp\":2,"

static const char *const services[] = { SVC1, SVC2 };

struct fixture {
	struct ndx_key *key;   /* the consent service's key */
	struct ndx_key *other; /* somebody else's */
	/* trust state the callbacks read */
	long revoked_idx; /* -1: none */
	int revocation_rc;
	int lookups, revocation_checks;
};

static const struct ndx_key *lookup(void *ctx, const char *kid, const char *iss)
{
	struct fixture *f = ctx;
	char id[NDX_KEY_ID_HEX_LEN + 1];

	f->lookups++;
	ndx_key_id(f->key, id);
	return strcmp(kid, id) == 0 && strcmp(iss, ISS) == 0 ? f->key : NULL;
}

static int is_revoked(void *ctx, const char *iss, uint32_t list, uint32_t idx, bool *revoked)
{
	struct fixture *f = ctx;

	f->revocation_checks++;
	if (f->revocation_rc != NDX_OK)
		return f->revocation_rc;
	*revoked = strcmp(iss, ISS) == 0 && list == 0 && (long)idx == f->revoked_idx;
	return NDX_OK;
}

static int setup(void **state)
{
	static const uint8_t seed[32] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
					  17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30,
					  31, 32 };
	struct fixture *f = calloc(1, sizeof *f);

	if (f == NULL || ndx_key_from_seed(seed, &f->key) != NDX_OK ||
	    ndx_key_generate(&f->other) != NDX_OK)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	ndx_key_free(f->key);
	ndx_key_free(f->other);
	free(f);
	return 0;
}

static int reset(void **state)
{
	struct fixture *f = *state;

	f->revoked_idx = -1;
	f->revocation_rc = NDX_OK;
	f->lookups = f->revocation_checks = 0;
	return 0;
}

static struct ndx_consent_fields good_fields(void)
{
	struct ndx_consent_fields fl = {
		.iss = ISS, .jti = JTI, .sub = PIN, .consumer = CONSUMER,
		.services = services, .n_services = 2, .purpose = PURPOSE,
		.iat = T0, .nbf = T0, .exp = T0 + 3600, .status_list = 0, .status_idx = IDX,
	};
	return fl;
}

static struct ndx_consent_request good_request(void)
{
	struct ndx_consent_request r = {
		.subject = PIN, .consumer = CONSUMER, .service = SVC2, .purpose = PURPOSE,
		.now = T0 + 60,
	};
	return r;
}

static char *sign_fields(const struct ndx_key *key, const struct ndx_consent_fields *fl)
{
	char *text = NULL, err[256] = "";
	int rc = ndx_consent_sign(key, fl, &text, err, sizeof err);

	if (rc != NDX_OK)
		fail_msg("ndx_consent_sign: %s (%s)", ndx_strerror(rc), err);
	return text;
}

/* Runs ndx_consent_verify and returns the refusal, checking that rc agrees
 * with it and that a refusal always comes with a sentence. */
static enum ndx_consent_refusal check(struct fixture *f, const char *text,
				      const struct ndx_consent_request *req)
{
	struct ndx_consent_trust trust = { lookup, is_revoked, f };
	enum ndx_consent_refusal why = NDX_CONSENT_REVOKED;
	struct ndx_consent *c = (struct ndx_consent *)&why;
	char err[256] = "";
	int rc = ndx_consent_verify(text, strlen(text), req, &trust, &c, &why, err, sizeof err);

	if (rc == NDX_OK) {
		assert_int_equal(why, NDX_CONSENT_ACCEPTED);
		assert_non_null(c);
		ndx_consent_free(c);
	} else {
		assert_int_equal(rc, NDX_EPERM);
		assert_int_not_equal(why, NDX_CONSENT_ACCEPTED);
		assert_null(c);
		assert_true(err[0] != '\0');
	}
	return why;
}

/* Signs arbitrary payload text as a consent would be (typ and kid set). */
static char *sign_raw(const struct ndx_key *key, const char *payload)
{
	char *text = NULL;

	assert_int_equal(ndx_jws_sign(key, NDX_CONSENT_TYP, payload, strlen(payload), &text),
			 NDX_OK);
	return text;
}

static void test_refusal_names(void **state)
{
	static const char *const want[] = {
		"consent_accepted", "consent_malformed", "consent_unknown_key",
		"consent_bad_signature", "consent_not_yet_valid", "consent_expired",
		"consent_wrong_subject", "consent_wrong_consumer", "consent_service_not_covered",
		"consent_wrong_purpose", "consent_revoked",
	};

	(void)state;
	for (int r = NDX_CONSENT_ACCEPTED; r <= NDX_CONSENT_REVOKED; r++)
		assert_string_equal(ndx_consent_refusal_name((enum ndx_consent_refusal)r), want[r]);
	assert_string_equal(ndx_consent_refusal_name((enum ndx_consent_refusal)99),
			    "consent_unknown_refusal");
	assert_string_equal(ndx_consent_refusal_name((enum ndx_consent_refusal)-1),
			    "consent_unknown_refusal");
}

static void test_sign_parse_round_trip(void **state)
{
	struct fixture *f = *state;
	struct ndx_consent_fields fl = good_fields();
	char kid[NDX_KEY_ID_HEX_LEN + 1], err[256];
	struct ndx_consent *c = NULL;
	char *text = sign_fields(f->key, &fl);

	assert_true(strlen(text) <= NDX_CONSENT_MAX_TEXT);
	assert_int_equal(ndx_consent_parse(text, strlen(text), &c, err, sizeof err), NDX_OK);
	ndx_key_id(f->key, kid);
	assert_string_equal(c->kid, kid);
	assert_string_equal(c->iss, ISS);
	assert_string_equal(c->jti, JTI);
	assert_string_equal(c->sub, PIN);
	assert_string_equal(c->consumer, CONSUMER);
	assert_int_equal(c->n_services, 2);
	assert_string_equal(c->services[0], SVC1);
	assert_string_equal(c->services[1], SVC2);
	assert_string_equal(c->purpose, PURPOSE);
	assert_int_equal(c->iat, T0);
	assert_int_equal(c->nbf, T0);
	assert_int_equal(c->exp, T0 + 3600);
	assert_int_equal(c->ver, 2);
	assert_int_equal(c->status_list, 0);
	assert_int_equal(c->status_idx, 7);
	assert_true(ndx_consent_covers(c, SVC1));
	assert_false(ndx_consent_covers(c, "VN/GOV/BCA/population/households"));
	assert_false(ndx_consent_covers(c, NULL));
	ndx_consent_free(c);
	ndx_consent_free(NULL);

	/* The payload is the documented JSON, members in this order. */
	{
		struct ndx_jws *jws = NULL;
		const uint8_t *p;
		size_t plen;
		const char *want = "{\"iss\":\"" ISS "\",\"jti\":\"" JTI "\",\"sub\":\"" PIN
				   "\",\"consumer\":\"" CONSUMER "\",\"services\":[\"" SVC1
				   "\",\"" SVC2 "\"],\"purpose\":\"" PURPOSE
				   "\",\"iat\":1795428000,\"nbf\":1795428000,\"exp\":1795431600,"
				   STATUS_V2 "}";

		assert_int_equal(ndx_jws_parse(text, strlen(text), &jws, NULL, 0), NDX_OK);
		p = ndx_jws_payload(jws, &plen);
		assert_string_equal((const char *)p, want);
		assert_int_equal(plen, strlen(want));
		ndx_jws_free(jws);
	}
	free(text);
}

static void test_verify_accepts(void **state)
{
	struct fixture *f = *state;
	struct ndx_consent_fields fl = good_fields();
	struct ndx_consent_request req = good_request();
	struct ndx_consent_trust trust = { lookup, is_revoked, f };
	enum ndx_consent_refusal why;
	struct ndx_consent *c = NULL;
	char *text = sign_fields(f->key, &fl);

	assert_int_equal(check(f, text, &req), NDX_CONSENT_ACCEPTED);
	req.service = SVC1;
	assert_int_equal(check(f, text, &req), NDX_CONSENT_ACCEPTED);
	/* The first and the last second of the window. */
	req.now = T0;
	assert_int_equal(check(f, text, &req), NDX_CONSENT_ACCEPTED);
	req.now = T0 + 3599;
	assert_int_equal(check(f, text, &req), NDX_CONSENT_ACCEPTED);
	assert_int_equal(f->revocation_checks, 4);

	/* out may be NULL; err may be NULL. */
	assert_int_equal(ndx_consent_verify(text, strlen(text), &req, &trust, NULL, &why, NULL, 0),
			 NDX_OK);
	assert_int_equal(ndx_consent_verify(text, strlen(text), &req, &trust, &c, &why, NULL, 0),
			 NDX_OK);
	assert_string_equal(c->jti, JTI);
	ndx_consent_free(c);
	free(text);
}

static void test_generated_jti(void **state)
{
	struct fixture *f = *state;
	struct ndx_consent_fields fl = good_fields();
	struct ndx_consent *a = NULL, *b = NULL;
	char *t1, *t2;

	fl.jti = NULL;
	t1 = sign_fields(f->key, &fl);
	t2 = sign_fields(f->key, &fl);
	assert_int_equal(ndx_consent_parse(t1, strlen(t1), &a, NULL, 0), NDX_OK);
	assert_int_equal(ndx_consent_parse(t2, strlen(t2), &b, NULL, 0), NDX_OK);
	/* A UUID v4: 8-4-4-4-12 hex digits, version 4, variant 10xx. */
	assert_int_equal(strlen(a->jti), 36);
	assert_int_equal(a->jti[8], '-');
	assert_int_equal(a->jti[14], '4');
	assert_non_null(strchr("89ab", a->jti[19]));
	assert_string_not_equal(a->jti, b->jti);
	ndx_consent_free(a);
	ndx_consent_free(b);
	free(t1);
	free(t2);
}

static void test_refuse_expired(void **state)
{
	struct fixture *f = *state;
	struct ndx_consent_fields fl = good_fields();
	struct ndx_consent_request req = good_request();
	char *text = sign_fields(f->key, &fl);

	req.now = T0 + 3600; /* exp itself is outside the window */
	assert_int_equal(check(f, text, &req), NDX_CONSENT_EXPIRED);
	req.now = T0 + 86400 * 365;
	assert_int_equal(check(f, text, &req), NDX_CONSENT_EXPIRED);
	/* Leeway never stretches the end. */
	req.now = T0 + 3600;
	req.leeway = 300;
	assert_int_equal(check(f, text, &req), NDX_CONSENT_EXPIRED);
	assert_int_equal(f->revocation_checks, 0);
	free(text);
}

static void test_refuse_not_yet_valid(void **state)
{
	struct fixture *f = *state;
	struct ndx_consent_fields fl = good_fields();
	struct ndx_consent_request req = good_request();
	char *text;

	fl.nbf = T0 + 600;
	text = sign_fields(f->key, &fl);
	req.now = T0 + 599;
	assert_int_equal(check(f, text, &req), NDX_CONSENT_NOT_YET_VALID);
	req.now = T0;
	assert_int_equal(check(f, text, &req), NDX_CONSENT_NOT_YET_VALID);
	/* A verifier clock that lags by up to leeway seconds is tolerated. */
	req.leeway = 5;
	req.now = T0 + 595;
	assert_int_equal(check(f, text, &req), NDX_CONSENT_ACCEPTED);
	req.now = T0 + 594;
	assert_int_equal(check(f, text, &req), NDX_CONSENT_NOT_YET_VALID);
	req.leeway = 0;
	req.now = T0 + 600;
	assert_int_equal(check(f, text, &req), NDX_CONSENT_ACCEPTED);
	free(text);
}

static void test_refuse_revoked(void **state)
{
	struct fixture *f = *state;
	struct ndx_consent_fields fl = good_fields();
	struct ndx_consent_request req = good_request();
	char *text = sign_fields(f->key, &fl);

	f->revoked_idx = IDX + 1;
	assert_int_equal(check(f, text, &req), NDX_CONSENT_ACCEPTED);
	f->revoked_idx = IDX;
	assert_int_equal(check(f, text, &req), NDX_CONSENT_REVOKED);
	free(text);
}

static void test_revocation_state_unknown(void **state)
{
	struct fixture *f = *state;
	struct ndx_consent_fields fl = good_fields();
	struct ndx_consent_request req = good_request();
	struct ndx_consent_trust trust = { lookup, is_revoked, f };
	enum ndx_consent_refusal why = NDX_CONSENT_EXPIRED;
	struct ndx_consent *c = NULL;
	char *text = sign_fields(f->key, &fl), err[256] = "";

	/* No decision is not an acceptance, nor a refusal with a reason. */
	f->revocation_rc = NDX_ENET;
	assert_int_equal(ndx_consent_verify(text, strlen(text), &req, &trust, &c, &why, err,
					    sizeof err),
			 NDX_ENET);
	assert_null(c);
	assert_int_equal(why, NDX_CONSENT_ACCEPTED);
	assert_non_null(strstr(err, "revocation"));
	/* A callback that says "EPERM" must not pass for a refusal. */
	f->revocation_rc = NDX_EPERM;
	assert_int_equal(ndx_consent_verify(text, strlen(text), &req, &trust, &c, &why, NULL, 0),
			 NDX_EIO);
	f->revocation_rc = 1;
	assert_int_equal(ndx_consent_verify(text, strlen(text), &req, &trust, &c, &why, NULL, 0),
			 NDX_EIO);
	assert_null(c);
	free(text);
}

static void test_refuse_request_mismatch(void **state)
{
	struct fixture *f = *state;
	struct ndx_consent_fields fl = good_fields();
	struct ndx_consent_request req;
	char *text = sign_fields(f->key, &fl);

	req = good_request();
	req.subject = "001203004568";
	assert_int_equal(check(f, text, &req), NDX_CONSENT_WRONG_SUBJECT);
	req.subject = NULL;
	assert_int_equal(check(f, text, &req), NDX_CONSENT_WRONG_SUBJECT);
	req.subject = "00120300456"; /* a prefix is not the subject */
	assert_int_equal(check(f, text, &req), NDX_CONSENT_WRONG_SUBJECT);

	req = good_request();
	req.consumer = "VN/GOV/MOF/customs";
	assert_int_equal(check(f, text, &req), NDX_CONSENT_WRONG_CONSUMER);
	req.consumer = "VN/GOV/MOF";
	assert_int_equal(check(f, text, &req), NDX_CONSENT_WRONG_CONSUMER);
	req.consumer = NULL;
	assert_int_equal(check(f, text, &req), NDX_CONSENT_WRONG_CONSUMER);

	req = good_request();
	req.service = "VN/GOV/BCA/population/households";
	assert_int_equal(check(f, text, &req), NDX_CONSENT_SERVICE_NOT_COVERED);
	req.service = "VN/GOV/BCA/population/citizens2";
	assert_int_equal(check(f, text, &req), NDX_CONSENT_SERVICE_NOT_COVERED);
	req.service = NULL;
	assert_int_equal(check(f, text, &req), NDX_CONSENT_SERVICE_NOT_COVERED);

	req = good_request();
	req.purpose = "marketing";
	assert_int_equal(check(f, text, &req), NDX_CONSENT_WRONG_PURPOSE);
	req.purpose = "Public-Service";
	assert_int_equal(check(f, text, &req), NDX_CONSENT_WRONG_PURPOSE);
	req.purpose = NULL;
	assert_int_equal(check(f, text, &req), NDX_CONSENT_WRONG_PURPOSE);

	/* Revocation is asked only of a consent that fits the request. */
	assert_int_equal(f->revocation_checks, 0);
	free(text);
}

static void test_refuse_wrong_key(void **state)
{
	struct fixture *f = *state;
	struct ndx_consent_fields fl = good_fields();
	struct ndx_consent_request req = good_request();
	char kid[NDX_KEY_ID_HEX_LEN + 1], hdr[160], *text, *payload_part, *dot;
	char *forged;

	/* Signed by a key the verifier does not know (its own kid). */
	text = sign_fields(f->other, &fl);
	assert_int_equal(check(f, text, &req), NDX_CONSENT_UNKNOWN_KEY);
	free(text);

	/* A known key of another issuer is no key for this one. */
	fl.iss = "VN/GOV/BCA/other-consent";
	text = sign_fields(f->key, &fl);
	assert_int_equal(check(f, text, &req), NDX_CONSENT_UNKNOWN_KEY);
	free(text);
	fl = good_fields();

	/* Signed by another key under the trusted key's kid. */
	ndx_key_id(f->key, kid);
	snprintf(hdr, sizeof hdr, "{\"alg\":\"EdDSA\",\"kid\":\"%s\",\"typ\":\"%s\"}", kid,
		 NDX_CONSENT_TYP);
	text = sign_fields(f->key, &fl);
	payload_part = strchr(text, '.') + 1;
	dot = strchr(payload_part, '.');
	*dot = '\0';
	{
		uint8_t *payload = NULL;
		size_t plen = 0;

		assert_int_equal(ndx_b64_decode(payload_part, strlen(payload_part), 1, &payload,
						&plen),
				 NDX_OK);
		assert_int_equal(ndx_jws_sign_header(f->other, hdr, strlen(hdr), payload, plen,
						     &forged),
				 NDX_OK);
		free(payload);
	}
	assert_int_equal(check(f, forged, &req), NDX_CONSENT_BAD_SIGNATURE);
	assert_int_equal(f->revocation_checks, 0);
	free(forged);
	free(text);
}

/* Replaces the payload part of a signed consent with the encoding of
 * payload, keeping header and signature. */
static char *swap_payload(const char *text, const char *payload)
{
	const char *d1 = strchr(text, '.'), *d2 = strrchr(text, '.');
	char *p64 = ndx_b64_encode((const uint8_t *)payload, strlen(payload), 1);
	size_t n = strlen(text) + strlen(p64) + 1;
	char *out = malloc(n);

	assert_non_null(out);
	snprintf(out, n, "%.*s.%s%s", (int)(d1 - text), text, p64, d2);
	free(p64);
	return out;
}

static void test_refuse_tampered_payload(void **state)
{
	struct fixture *f = *state;
	struct ndx_consent_fields fl = good_fields();
	struct ndx_consent_request req = good_request();
	char *text = sign_fields(f->key, &fl), *t;

	/* Three more years of consent, same signature. */
	t = swap_payload(text, "{\"iss\":\"" ISS "\",\"jti\":\"" JTI "\",\"sub\":\"" PIN
			       "\",\"consumer\":\"" CONSUMER "\",\"services\":[\"" SVC1 "\",\"" SVC2
			       "\"],\"purpose\":\"" PURPOSE "\",\"iat\":1795428000,\"nbf\":"
			       "1795428000,\"exp\":1890000000," STATUS_V2 "}");
	assert_int_equal(check(f, t, &req), NDX_CONSENT_BAD_SIGNATURE);
	free(t);
	/* A flipped signature bit. */
	t = strdup(text);
	assert_non_null(t);
	{
		/* The first signature character carries six whole bits, so any
		 * other letter stays valid base64url. */
		char *s = strrchr(t, '.') + 1;

		*s = *s == 'A' ? 'B' : 'A';
	}
	assert_int_equal(check(f, t, &req), NDX_CONSENT_BAD_SIGNATURE);
	free(t);
	free(text);
}

static void test_refuse_alg_none(void **state)
{
	struct fixture *f = *state;
	struct ndx_consent_fields fl = good_fields();
	struct ndx_consent_request req = good_request();
	char kid[NDX_KEY_ID_HEX_LEN + 1], hdr[160], *text = sign_fields(f->key, &fl);
	char *h64, *t, *rest;
	size_t n;

	ndx_key_id(f->key, kid);
	snprintf(hdr, sizeof hdr, "{\"alg\":\"none\",\"kid\":\"%s\",\"typ\":\"%s\"}", kid,
		 NDX_CONSENT_TYP);
	h64 = ndx_b64_encode((const uint8_t *)hdr, strlen(hdr), 1);
	rest = strchr(text, '.');
	n = strlen(h64) + strlen(rest) + 1;
	t = malloc(n);
	assert_non_null(t);
	/* With the original signature, and with none at all. */
	snprintf(t, n, "%s%s", h64, rest);
	assert_int_equal(check(f, t, &req), NDX_CONSENT_MALFORMED);
	*(strrchr(t, '.') + 1) = '\0';
	assert_int_equal(check(f, t, &req), NDX_CONSENT_MALFORMED);
	assert_int_equal(f->lookups, 0);
	free(t);
	free(h64);
	free(text);
}

static void test_refuse_malformed(void **state)
{
	/* Payloads signed with the right key, so only their content is wrong. */
	static const char *const payloads[] = {
		"[]",
		"{}",
		"not json",
		/* a version 1 consent: no status, so no revocation state to look up */
		"{\"iss\":\"" ISS "\",\"jti\":\"j\",\"sub\":\"" PIN "\",\"consumer\":\"" CONSUMER
		"\",\"services\":[\"" SVC1 "\"],\"purpose\":\"" PURPOSE
		"\",\"iat\":1,\"nbf\":1,\"exp\":2,\"ver\":1}",
		/* version 2 without its status */
		"{\"iss\":\"" ISS "\",\"jti\":\"j\",\"sub\":\"" PIN "\",\"consumer\":\"" CONSUMER
		"\",\"services\":[\"" SVC1 "\"],\"purpose\":\"" PURPOSE
		"\",\"iat\":1,\"nbf\":1,\"exp\":2,\"ver\":2}",
		/* a version 3 */
		"{\"iss\":\"" ISS "\",\"jti\":\"j\",\"sub\":\"" PIN "\",\"consumer\":\"" CONSUMER
		"\",\"services\":[\"" SVC1 "\"],\"purpose\":\"" PURPOSE
		"\",\"iat\":1,\"nbf\":1,\"exp\":2,\"status\":{\"list\":0,\"idx\":7},\"ver\":3}",
		/* status: index past the list's capacity, list past the last, negative,
		 * not integers, a member too many, not an object */
		BASE_J "\"status\":{\"list\":0,\"idx\":1048576},\"ver\":2}",
		BASE_J "\"status\":{\"list\":1048576,\"idx\":0},\"ver\":2}",
		BASE_J "\"status\":{\"list\":0,\"idx\":-1},\"ver\":2}",
		BASE_J "\"status\":{\"list\":-1,\"idx\":0},\"ver\":2}",
		BASE_J "\"status\":{\"list\":0,\"idx\":\"7\"},\"ver\":2}",
		BASE_J "\"status\":{\"list\":0,\"idx\":7.0},\"ver\":2}",
		BASE_J "\"status\":{\"list\":0,\"idx\":7,\"uri\":\"https://x\"},\"ver\":2}",
		BASE_J "\"status\":{\"idx\":7},\"ver\":2}",
		BASE_J "\"status\":[0,7],\"ver\":2}",
		/* unknown member */
		"{\"iss\":\"" ISS "\",\"jti\":\"j\",\"sub\":\"" PIN "\",\"consumer\":\"" CONSUMER
		"\",\"services\":[\"" SVC1 "\"],\"purpose\":\"" PURPOSE
		"\",\"iat\":1,\"nbf\":1,\"exp\":2," STATUS_V2 ",\"aud\":\"x\"}",
		/* duplicate member */
		"{\"iss\":\"" ISS "\",\"jti\":\"j\",\"sub\":\"" PIN "\",\"sub\":\"001203004568\","
		"\"consumer\":\"" CONSUMER "\",\"services\":[\"" SVC1 "\"],\"purpose\":\"" PURPOSE
		"\",\"iat\":1,\"nbf\":1,\"exp\":2," STATUS_V2 "}",
		/* missing purpose */
		"{\"iss\":\"" ISS "\",\"jti\":\"j\",\"sub\":\"" PIN "\",\"consumer\":\"" CONSUMER
		"\",\"services\":[\"" SVC1 "\"],\"iat\":1,\"nbf\":1,\"exp\":2," STATUS_V2 "}",
		/* an 11-digit subject */
		"{\"iss\":\"" ISS "\",\"jti\":\"j\",\"sub\":\"00120300456\",\"consumer\":\"" CONSUMER
		"\",\"services\":[\"" SVC1 "\"],\"purpose\":\"" PURPOSE
		"\",\"iat\":1,\"nbf\":1,\"exp\":2," STATUS_V2 "}",
		/* a subject with a letter */
		"{\"iss\":\"" ISS "\",\"jti\":\"j\",\"sub\":\"00120300456x\",\"consumer\":\""
		CONSUMER "\",\"services\":[\"" SVC1 "\"],\"purpose\":\"" PURPOSE
		"\",\"iat\":1,\"nbf\":1,\"exp\":2," STATUS_V2 "}",
		/* a numeric subject */
		"{\"iss\":\"" ISS "\",\"jti\":\"j\",\"sub\":1203004567,\"consumer\":\"" CONSUMER
		"\",\"services\":[\"" SVC1 "\"],\"purpose\":\"" PURPOSE
		"\",\"iat\":1,\"nbf\":1,\"exp\":2," STATUS_V2 "}",
		/* consumer a member, not a subsystem */
		"{\"iss\":\"" ISS "\",\"jti\":\"j\",\"sub\":\"" PIN "\",\"consumer\":\"VN/GOV/MOF\","
		"\"services\":[\"" SVC1 "\"],\"purpose\":\"" PURPOSE
		"\",\"iat\":1,\"nbf\":1,\"exp\":2," STATUS_V2 "}",
		/* a percent-encoded (non-canonical) service id */
		"{\"iss\":\"" ISS "\",\"jti\":\"j\",\"sub\":\"" PIN "\",\"consumer\":\"" CONSUMER
		"\",\"services\":[\"VN/GOV/BCA/population/%63itizens\"],\"purpose\":\"" PURPOSE
		"\",\"iat\":1,\"nbf\":1,\"exp\":2," STATUS_V2 "}",
		/* no services */
		"{\"iss\":\"" ISS "\",\"jti\":\"j\",\"sub\":\"" PIN "\",\"consumer\":\"" CONSUMER
		"\",\"services\":[],\"purpose\":\"" PURPOSE
		"\",\"iat\":1,\"nbf\":1,\"exp\":2," STATUS_V2 "}",
		/* a service twice */
		"{\"iss\":\"" ISS "\",\"jti\":\"j\",\"sub\":\"" PIN "\",\"consumer\":\"" CONSUMER
		"\",\"services\":[\"" SVC1 "\",\"" SVC1 "\"],\"purpose\":\"" PURPOSE
		"\",\"iat\":1,\"nbf\":1,\"exp\":2," STATUS_V2 "}",
		/* a purpose outside a-z 0-9 - */
		"{\"iss\":\"" ISS "\",\"jti\":\"j\",\"sub\":\"" PIN "\",\"consumer\":\"" CONSUMER
		"\",\"services\":[\"" SVC1 "\"],\"purpose\":\"Public Service\""
		",\"iat\":1,\"nbf\":1,\"exp\":2," STATUS_V2 "}",
		/* a real number for exp */
		"{\"iss\":\"" ISS "\",\"jti\":\"j\",\"sub\":\"" PIN "\",\"consumer\":\"" CONSUMER
		"\",\"services\":[\"" SVC1 "\"],\"purpose\":\"" PURPOSE
		"\",\"iat\":1,\"nbf\":1,\"exp\":2.5," STATUS_V2 "}",
		/* nbf not before exp */
		"{\"iss\":\"" ISS "\",\"jti\":\"j\",\"sub\":\"" PIN "\",\"consumer\":\"" CONSUMER
		"\",\"services\":[\"" SVC1 "\"],\"purpose\":\"" PURPOSE
		"\",\"iat\":1,\"nbf\":2,\"exp\":2," STATUS_V2 "}",
		/* negative time */
		"{\"iss\":\"" ISS "\",\"jti\":\"j\",\"sub\":\"" PIN "\",\"consumer\":\"" CONSUMER
		"\",\"services\":[\"" SVC1 "\"],\"purpose\":\"" PURPOSE
		"\",\"iat\":-5,\"nbf\":1,\"exp\":2," STATUS_V2 "}",
		/* past year 9999 */
		"{\"iss\":\"" ISS "\",\"jti\":\"j\",\"sub\":\"" PIN "\",\"consumer\":\"" CONSUMER
		"\",\"services\":[\"" SVC1 "\"],\"purpose\":\"" PURPOSE
		"\",\"iat\":1,\"nbf\":1,\"exp\":253402300800," STATUS_V2 "}",
		/* a jti with a space */
		"{\"iss\":\"" ISS "\",\"jti\":\"a b\",\"sub\":\"" PIN "\",\"consumer\":\"" CONSUMER
		"\",\"services\":[\"" SVC1 "\"],\"purpose\":\"" PURPOSE
		"\",\"iat\":1,\"nbf\":1,\"exp\":2," STATUS_V2 "}",
	};
	struct fixture *f = *state;
	struct ndx_consent_request req = good_request();
	struct ndx_consent *c = NULL;
	char err[256];

	/* The base the cases change is itself well formed. */
	{
		char *t = sign_raw(f->key, BASE_J STATUS_V2 "}");

		assert_int_equal(ndx_consent_parse(t, strlen(t), &c, err, sizeof err), NDX_OK);
		assert_int_equal(c->status_idx, IDX);
		ndx_consent_free(c);
		c = NULL;
		free(t);
	}
	for (size_t i = 0; i < sizeof payloads / sizeof payloads[0]; i++) {
		char *t = sign_raw(f->key, payloads[i]);

		assert_int_equal(check(f, t, &req), NDX_CONSENT_MALFORMED);
		err[0] = '\0';
		assert_int_equal(ndx_consent_parse(t, strlen(t), &c, err, sizeof err), NDX_EINVAL);
		assert_null(c);
		assert_true(err[0] != '\0');
		free(t);
	}
	/* Not JWS at all, empty, too long. */
	assert_int_equal(check(f, "garbage", &req), NDX_CONSENT_MALFORMED);
	assert_int_equal(check(f, "", &req), NDX_CONSENT_MALFORMED);
	{
		char big[NDX_CONSENT_MAX_TEXT + 2];

		memset(big, 'A', sizeof big - 1);
		big[sizeof big - 1] = '\0';
		assert_int_equal(check(f, big, &req), NDX_CONSENT_MALFORMED);
	}
	assert_int_equal(f->lookups, 0);
}

static void test_refuse_wrong_typ_or_kid(void **state)
{
	struct fixture *f = *state;
	struct ndx_consent_fields fl = good_fields();
	struct ndx_consent_request req = good_request();
	const char *payload;
	char *good = sign_fields(f->key, &fl), *t = NULL;
	struct ndx_jws *jws = NULL;
	size_t plen;
	char hdr[160];

	assert_int_equal(ndx_jws_parse(good, strlen(good), &jws, NULL, 0), NDX_OK);
	payload = (const char *)ndx_jws_payload(jws, &plen);

	/* The same payload under another typ, or none, is not a consent. */
	assert_int_equal(ndx_jws_sign(f->key, "JWT", payload, plen, &t), NDX_OK);
	assert_int_equal(check(f, t, &req), NDX_CONSENT_MALFORMED);
	free(t);
	assert_int_equal(ndx_jws_sign(f->key, NULL, payload, plen, &t), NDX_OK);
	assert_int_equal(check(f, t, &req), NDX_CONSENT_MALFORMED);
	free(t);
	/* A kid that is not a key id. */
	snprintf(hdr, sizeof hdr, "{\"alg\":\"EdDSA\",\"kid\":\"consent-key-1\",\"typ\":\"%s\"}",
		 NDX_CONSENT_TYP);
	assert_int_equal(ndx_jws_sign_header(f->key, hdr, strlen(hdr), payload, plen, &t), NDX_OK);
	assert_int_equal(check(f, t, &req), NDX_CONSENT_MALFORMED);
	free(t);
	/* No kid. */
	snprintf(hdr, sizeof hdr, "{\"alg\":\"EdDSA\",\"typ\":\"%s\"}", NDX_CONSENT_TYP);
	assert_int_equal(ndx_jws_sign_header(f->key, hdr, strlen(hdr), payload, plen, &t), NDX_OK);
	assert_int_equal(check(f, t, &req), NDX_CONSENT_MALFORMED);
	free(t);
	ndx_jws_free(jws);
	free(good);
}

static void test_sign_refusals(void **state)
{
	struct fixture *f = *state;
	struct ndx_consent_fields fl;
	char *text = (char *)"untouched", err[256];
	const char *dup[] = { SVC1, SVC1 };
	const char *many[NDX_CONSENT_MAX_SERVICES + 1];
	char long_ids[NDX_CONSENT_MAX_SERVICES][128];
	struct ndx_key *pub = NULL;
	uint8_t raw[32];

	fl = good_fields();
	fl.sub = "12345";
	assert_int_equal(ndx_consent_sign(f->key, &fl, &text, err, sizeof err), NDX_EINVAL);
	assert_null(text);
	assert_non_null(strstr(err, "sub"));
	fl = good_fields();
	fl.consumer = "VN/GOV/MOF enterprise";
	assert_int_equal(ndx_consent_sign(f->key, &fl, &text, err, sizeof err), NDX_EINVAL);
	assert_non_null(strstr(err, "consumer"));
	fl = good_fields();
	fl.iss = NULL;
	assert_int_equal(ndx_consent_sign(f->key, &fl, &text, err, sizeof err), NDX_EINVAL);
	fl = good_fields();
	fl.services = dup;
	assert_int_equal(ndx_consent_sign(f->key, &fl, &text, err, sizeof err), NDX_EINVAL);
	assert_non_null(strstr(err, "twice"));
	fl = good_fields();
	fl.n_services = 0;
	assert_int_equal(ndx_consent_sign(f->key, &fl, &text, err, sizeof err), NDX_EINVAL);
	fl = good_fields();
	fl.exp = fl.nbf;
	assert_int_equal(ndx_consent_sign(f->key, &fl, &text, err, sizeof err), NDX_EINVAL);
	fl = good_fields();
	fl.purpose = "";
	assert_int_equal(ndx_consent_sign(f->key, &fl, &text, err, sizeof err), NDX_EINVAL);
	fl = good_fields();
	fl.purpose = "mục-đích"; /* non-ASCII */
	assert_int_equal(ndx_consent_sign(f->key, &fl, &text, err, sizeof err), NDX_EINVAL);
	/* A status index a gateway could not look up. */
	fl = good_fields();
	fl.status_idx = NDX_STATUSLIST_CAPACITY;
	assert_int_equal(ndx_consent_sign(f->key, &fl, &text, err, sizeof err), NDX_EINVAL);
	assert_non_null(strstr(err, "status.idx"));
	fl = good_fields();
	fl.status_list = NDX_STATUSLIST_MAX_LIST + 1;
	assert_int_equal(ndx_consent_sign(f->key, &fl, &text, err, sizeof err), NDX_EINVAL);
	assert_non_null(strstr(err, "status.list"));

	/* Too many services, then a legal count that does not fit a header. */
	for (size_t i = 0; i < NDX_CONSENT_MAX_SERVICES; i++) {
		snprintf(long_ids[i], sizeof long_ids[i],
			 "VN/GOV/BCA/population/service-with-a-rather-long-code-%02zu", i);
		many[i] = long_ids[i];
	}
	many[NDX_CONSENT_MAX_SERVICES] = SVC1;
	fl = good_fields();
	fl.services = many;
	fl.n_services = NDX_CONSENT_MAX_SERVICES + 1;
	assert_int_equal(ndx_consent_sign(f->key, &fl, &text, err, sizeof err), NDX_EINVAL);
	fl.n_services = NDX_CONSENT_MAX_SERVICES;
	assert_int_equal(ndx_consent_sign(f->key, &fl, &text, err, sizeof err), NDX_ETOOBIG);
	assert_null(text);

	/* A public key cannot sign. */
	ndx_key_public_raw(f->key, raw);
	assert_int_equal(ndx_key_from_public_raw(raw, &pub), NDX_OK);
	fl = good_fields();
	assert_int_equal(ndx_consent_sign(pub, &fl, &text, NULL, 0), NDX_EINVAL);
	assert_null(text);
	ndx_key_free(pub);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_refusal_names, reset),
		cmocka_unit_test_setup(test_sign_parse_round_trip, reset),
		cmocka_unit_test_setup(test_verify_accepts, reset),
		cmocka_unit_test_setup(test_generated_jti, reset),
		cmocka_unit_test_setup(test_refuse_expired, reset),
		cmocka_unit_test_setup(test_refuse_not_yet_valid, reset),
		cmocka_unit_test_setup(test_refuse_revoked, reset),
		cmocka_unit_test_setup(test_revocation_state_unknown, reset),
		cmocka_unit_test_setup(test_refuse_request_mismatch, reset),
		cmocka_unit_test_setup(test_refuse_wrong_key, reset),
		cmocka_unit_test_setup(test_refuse_tampered_payload, reset),
		cmocka_unit_test_setup(test_refuse_alg_none, reset),
		cmocka_unit_test_setup(test_refuse_malformed, reset),
		cmocka_unit_test_setup(test_refuse_wrong_typ_or_kid, reset),
		cmocka_unit_test_setup(test_sign_refusals, reset),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
