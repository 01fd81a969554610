/* Unit tests for include/ndx/negmsg.h: a signed DSP negotiation message
 * (docs/marketplace.md "Signed negotiations") signed, read back, verified
 * with its signer's key only, its hash, and the endpoints of the binding;
 * each malformed message refused with its reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ndx/err.h"
#include "ndx/jws.h"
#include "ndx/key.h"
#include "ndx/negmsg.h"

#define MSG "{\"@type\":\"ContractAgreementVerificationMessage\",\"providerPid\":\"urn:p\"," \
	    "\"consumerPid\":\"urn:c\"}"
#define SENDER "VN/COM/0100000099"
#define PATH "/dsp/negotiations/urn:p/agreement/verification"
#define PREV "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"

static struct ndx_key *key, *other;

static int setup(void **state)
{
	(void)state;
	return ndx_key_generate(&key) || ndx_key_generate(&other) ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	ndx_key_free(key);
	ndx_key_free(other);
	return 0;
}

static void test_sign_parse_verify(void **state)
{
	struct ndx_negmsg *m = NULL;
	char *jws = NULL, err[256], kid[NDX_KEY_ID_HEX_LEN + 1], h[NDX_NEGMSG_HASH_LEN + 1];
	(void)state;

	assert_int_equal(ndx_negmsg_sign(key, MSG, strlen(MSG), SENDER, PATH, PREV, 1700000000123,
					 &jws, err, sizeof err), NDX_OK);
	assert_int_equal(ndx_negmsg_parse(jws, strlen(jws), &m, err, sizeof err), NDX_OK);
	ndx_key_id(key, kid);
	assert_string_equal(m->kid, kid);
	assert_string_equal(m->sender, SENDER);
	assert_string_equal(m->path, PATH);
	assert_true(m->has_previous);
	assert_string_equal(m->previous, PREV);
	assert_int_equal(m->signed_at_ms, 1700000000123);
	/* The message is the DSP message as signed, without the four members. */
	assert_int_equal(json_object_size(m->message), 3);
	assert_string_equal(json_string_value(json_object_get(m->message, "providerPid")), "urn:p");
	ndx_negmsg_hash(jws, strlen(jws), h);
	assert_string_equal(m->hash, h);
	assert_int_equal(strlen(h), NDX_NEGMSG_HASH_LEN);
	assert_int_equal(ndx_negmsg_verify(m, key), NDX_OK);
	assert_int_equal(ndx_negmsg_verify(m, other), NDX_EBADSIG);
	ndx_negmsg_free(m);
	free(jws);
}

static void test_first_message_has_no_previous(void **state)
{
	struct ndx_negmsg *m = NULL;
	char *jws = NULL, err[256];
	(void)state;

	assert_int_equal(ndx_negmsg_sign(key, "{\"@type\":\"ContractRequestMessage\"}", 34, SENDER,
					 "/dsp/negotiations/request", NULL, 0, &jws, err,
					 sizeof err), NDX_OK);
	assert_int_equal(ndx_negmsg_parse(jws, strlen(jws), &m, err, sizeof err), NDX_OK);
	assert_false(m->has_previous);
	assert_string_equal(m->previous, "");
	ndx_negmsg_free(m);
	free(jws);
}

/* The known hash of a known text: SHA-256("") in base64url. */
static void test_hash_vector(void **state)
{
	char h[NDX_NEGMSG_HASH_LEN + 1];
	(void)state;

	ndx_negmsg_hash("", 0, h);
	assert_string_equal(h, "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU");
}

static void test_sign_refusals(void **state)
{
	char *jws = NULL, err[256];
	struct ndx_key *pub = NULL;
	uint8_t raw[NDX_ED25519_PUBLIC_LEN];
	(void)state;

	assert_int_equal(ndx_negmsg_sign(key, MSG, strlen(MSG), "nobody", PATH, NULL, 0, &jws, err,
					 sizeof err), NDX_EINVAL);
	assert_non_null(strstr(err, "member id"));
	assert_int_equal(ndx_negmsg_sign(key, MSG, strlen(MSG), SENDER, "/market/negotiations",
					 NULL, 0, &jws, err, sizeof err), NDX_EINVAL);
	assert_non_null(strstr(err, "path"));
	assert_int_equal(ndx_negmsg_sign(key, MSG, strlen(MSG), SENDER, PATH, "short", 0, &jws, err,
					 sizeof err), NDX_EINVAL);
	assert_int_equal(ndx_negmsg_sign(key, "[1]", 3, SENDER, PATH, NULL, 0, &jws, err,
					 sizeof err), NDX_EINVAL);
	assert_int_equal(ndx_negmsg_sign(key, "{\"ndx:sender\":\"x\"}", 18, SENDER, PATH, NULL, 0,
					 &jws, err, sizeof err), NDX_EINVAL);
	assert_non_null(strstr(err, "ndx:sender"));
	ndx_key_public_raw(key, raw);
	assert_int_equal(ndx_key_from_public_raw(raw, &pub), NDX_OK);
	assert_int_equal(ndx_negmsg_sign(pub, MSG, strlen(MSG), SENDER, PATH, NULL, 0, &jws, err,
					 sizeof err), NDX_EINVAL);
	assert_null(jws);
	ndx_key_free(pub);
}

static void expect_refused(const char *typ, const char *payload, const char *why)
{
	struct ndx_negmsg *m = NULL;
	char *jws = NULL, err[256] = "";

	assert_int_equal(ndx_jws_sign(key, typ, payload, strlen(payload), &jws), NDX_OK);
	assert_int_equal(ndx_negmsg_parse(jws, strlen(jws), &m, err, sizeof err), NDX_EINVAL);
	assert_null(m);
	if (!strstr(err, why))
		fail_msg("expected '%s' in '%s'", why, err);
	free(jws);
}

static void test_parse_refusals(void **state)
{
	struct ndx_negmsg *m = NULL;
	char err[256];
	(void)state;

	assert_int_equal(ndx_negmsg_parse("a.b", 3, &m, err, sizeof err), NDX_EINVAL);
	expect_refused("ndx-receipt", "{}", "typ");
	expect_refused(NDX_NEGMSG_TYP, "[]", "JSON object");
	expect_refused(NDX_NEGMSG_TYP, "{\"ndx:sender\":\"x\"}", "ndx:sender");
	expect_refused(NDX_NEGMSG_TYP,
		       "{\"ndx:sender\":\"" SENDER "\",\"ndx:path\":\"/dsp/catalog/request\","
		       "\"ndx:signedAt\":1}", "ndx:path");
	expect_refused(NDX_NEGMSG_TYP,
		       "{\"ndx:sender\":\"" SENDER "\",\"ndx:path\":\"" PATH "\","
		       "\"ndx:previous\":\"abc\",\"ndx:signedAt\":1}", "ndx:previous");
	expect_refused(NDX_NEGMSG_TYP,
		       "{\"ndx:sender\":\"" SENDER "\",\"ndx:path\":\"" PATH "\","
		       "\"ndx:signedAt\":\"now\"}", "ndx:signedAt");
	expect_refused(NDX_NEGMSG_TYP,
		       "{\"ndx:sender\":\"" SENDER "\",\"ndx:sender\":\"" SENDER "\"}",
		       "JSON object");
}

static void test_endpoints(void **state)
{
	static const struct {
		const char *path;
		enum ndx_neg_role role;
		enum ndx_neg_msg msg;
	} ok[] = {
		{ "/dsp/negotiations/p1/request", NDX_NEG_CONSUMER, NDX_NEG_MSG_REQUEST },
		{ "/dsp/negotiations/p1/events", NDX_NEG_CONSUMER, NDX_NEG_MSG_ACCEPTED },
		{ "/dsp/negotiations/p1/agreement/verification", NDX_NEG_CONSUMER,
		  NDX_NEG_MSG_VERIFICATION },
		{ "/dsp/negotiations/p1/termination", NDX_NEG_CONSUMER, NDX_NEG_MSG_TERMINATION },
		{ "/dsp/consumer/negotiations/p1/offers", NDX_NEG_PROVIDER, NDX_NEG_MSG_OFFER },
		{ "/dsp/consumer/negotiations/p1/agreement", NDX_NEG_PROVIDER, NDX_NEG_MSG_AGREEMENT },
		{ "/dsp/consumer/negotiations/p1/events", NDX_NEG_PROVIDER, NDX_NEG_MSG_FINALIZED },
		{ "/dsp/consumer/negotiations/p1/termination", NDX_NEG_PROVIDER,
		  NDX_NEG_MSG_TERMINATION },
	};
	static const char *const bad[] = { "/dsp/negotiations/p1", "/dsp/negotiations//request",
					   "/dsp/negotiations/p1/offers",
					   "/dsp/consumer/negotiations/p1/request",
					   "/dsp/consumer/negotiations/request", "/market/x", "" };
	struct ndx_negmsg_endpoint ep;
	(void)state;

	assert_int_equal(ndx_negmsg_endpoint("/dsp/negotiations/request", &ep), NDX_OK);
	assert_true(ep.init);
	assert_int_equal(ep.role, NDX_NEG_CONSUMER);
	assert_int_equal(ep.msg, NDX_NEG_MSG_REQUEST);
	for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
		assert_int_equal(ndx_negmsg_endpoint(ok[i].path, &ep), NDX_OK);
		assert_false(ep.init);
		assert_string_equal(ep.pid, "p1");
		assert_int_equal(ep.role, ok[i].role);
		assert_int_equal(ep.msg, ok[i].msg);
	}
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		assert_int_equal(ndx_negmsg_endpoint(bad[i], &ep), NDX_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sign_parse_verify),
		cmocka_unit_test(test_first_message_has_no_previous),
		cmocka_unit_test(test_hash_vector),
		cmocka_unit_test(test_sign_refusals),
		cmocka_unit_test(test_parse_refusals),
		cmocka_unit_test(test_endpoints),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
