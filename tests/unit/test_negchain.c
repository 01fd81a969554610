/* Unit tests for include/ndx/negchain.h: a signed negotiation's chain
 * (docs/marketplace.md "Signed negotiations") from the consumer's request
 * to FINALIZED checks, with its parties, pids and agreed terms; a message
 * altered, dropped or swapped, one signed by a key that is not its
 * sender's gateway's, a chain that stops before FINALIZED, an agreement on
 * terms nobody offered and one signed for another path are each named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ndx/encode.h"
#include "ndx/err.h"
#include "ndx/key.h"
#include "ndx/negchain.h"
#include "ndx/negmsg.h"

#define CONSUMER "VN/GOV/0100000001"
#define PROVIDER "VN/COM/0100000099"
#define CPID "urn:c"
#define PPID "urn:p"
#define TERMS(n)                                                                              \
	"{\"@id\":\"urn:o\",\"target\":\"urn:ds\",\"permission\":[{\"action\":\"use\","      \
	"\"constraint\":[{\"leftOperand\":\"count\",\"operator\":\"lteq\",\"rightOperand\":" #n \
	",\"unit\":\"ndx:perDay\"}]}]}"

static struct ndx_key *ckey, *pkey, *other;

static int setup(void **state)
{
	(void)state;
	return ndx_key_generate(&ckey) || ndx_key_generate(&pkey) || ndx_key_generate(&other)
		       ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	ndx_key_free(ckey);
	ndx_key_free(pkey);
	ndx_key_free(other);
	return 0;
}

/* The lookup: the consumer's and the provider's gateway keys, by member. */
static int key_of(void *ctx, const char *member, const char *kid, const struct ndx_key **key,
		  char *err, size_t errcap)
{
	char id[NDX_KEY_ID_HEX_LEN + 1];
	const struct ndx_key *k = strcmp(member, CONSUMER) == 0   ? ckey
				  : strcmp(member, PROVIDER) == 0 ? pkey : NULL;
	(void)ctx;
	if (k)
		ndx_key_id(k, id);
	if (!k || strcmp(id, kid) != 0) {
		snprintf(err, errcap, "no gateway key of %s", member);
		return NDX_ENOTFOUND;
	}
	*key = k;
	return NDX_OK;
}

/* Appends to chain the message signed by key for sender and path after
 * the chain's last message. */
static void add(json_t *chain, const struct ndx_key *key, const char *sender, const char *path,
		const char *msg, int64_t at)
{
	char prev[NDX_NEGMSG_HASH_LEN + 1], err[256], *jws = NULL;
	size_t n = json_array_size(chain);

	if (n)
		ndx_negmsg_hash(json_string_value(json_array_get(chain, n - 1)),
				json_string_length(json_array_get(chain, n - 1)), prev);
	assert_int_equal(ndx_negmsg_sign(key, msg, strlen(msg), sender, path, n ? prev : NULL, at,
					 &jws, err, sizeof err), NDX_OK);
	json_array_append_new(chain, json_string(jws));
	free(jws);
}

#define PIDS "\"providerPid\":\"" PPID "\",\"consumerPid\":\"" CPID "\""

/* The negotiation through every state; agreed: the agreement's count. */
static json_t *chain_to(int upto, const char *agreed)
{
	json_t *c = json_array();
	char agreement[1024];

	snprintf(agreement, sizeof agreement,
		 "{\"@type\":\"ContractAgreementMessage\"," PIDS ",\"agreement\":%s}", agreed);
	add(c, ckey, CONSUMER, "/dsp/negotiations/request",
	    "{\"@type\":\"ContractRequestMessage\",\"consumerPid\":\"" CPID "\",\"offer\":"
	    TERMS(5) "}", 1000);
	if (upto > 1)
		add(c, pkey, PROVIDER, "/dsp/consumer/negotiations/" CPID "/offers",
		    "{\"@type\":\"ContractOfferMessage\"," PIDS ",\"offer\":" TERMS(2) "}", 1001);
	if (upto > 2)
		add(c, ckey, CONSUMER, "/dsp/negotiations/" PPID "/events",
		    "{\"@type\":\"ContractNegotiationEventMessage\"," PIDS
		    ",\"eventType\":\"ACCEPTED\"}", 1002);
	if (upto > 3)
		add(c, pkey, PROVIDER, "/dsp/consumer/negotiations/" CPID "/agreement", agreement,
		    1003);
	if (upto > 4)
		add(c, ckey, CONSUMER, "/dsp/negotiations/" PPID "/agreement/verification",
		    "{\"@type\":\"ContractAgreementVerificationMessage\"," PIDS "}", 1004);
	if (upto > 5)
		add(c, pkey, PROVIDER, "/dsp/consumer/negotiations/" CPID "/events",
		    "{\"@type\":\"ContractNegotiationEventMessage\"," PIDS
		    ",\"eventType\":\"FINALIZED\"}", 1005);
	return c;
}

static json_t *full(void)
{
	return chain_to(6, TERMS(2));
}

/* Checks chain and expects the fault at message at (NDX_NEGCHAIN_OK: none). */
static void expect(json_t *chain, enum ndx_negchain_fault fault, size_t at, const char *why)
{
	struct ndx_negchain ch;
	int rc = ndx_negchain_check(chain, key_of, NULL, &ch);

	assert_int_equal(rc, fault == NDX_NEGCHAIN_OK ? NDX_OK : NDX_EINVAL);
	assert_int_equal(ch.fault, fault);
	assert_int_equal(ch.at, at);
	if (why)
		assert_non_null(strstr(ch.why, why));
	ndx_negchain_clear(&ch);
	json_decref(chain);
}

static void test_good_chain(void **state)
{
	struct ndx_negchain ch;
	json_t *c = full();
	char last[NDX_NEGMSG_HASH_LEN + 1];
	(void)state;

	assert_int_equal(ndx_negchain_check(c, key_of, NULL, &ch), NDX_OK);
	assert_int_equal(ch.state, NDX_NEG_FINALIZED);
	assert_int_equal(ch.messages, 6);
	assert_string_equal(ch.consumer, CONSUMER);
	assert_string_equal(ch.provider, PROVIDER);
	assert_string_equal(ch.cpid, CPID);
	assert_string_equal(ch.ppid, PPID);
	assert_int_equal(ch.offered_by, NDX_NEG_PROVIDER);
	assert_string_equal(json_string_value(json_object_get(ch.request, "@type")),
			    "ContractRequestMessage");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(json_object_get(
		json_array_get(json_object_get(ch.agreement, "permission"), 0), "constraint"), 0),
		"rightOperand")), 2);
	assert_int_equal(json_array_size(ch.steps), 6);
	assert_string_equal(json_string_value(json_object_get(json_array_get(ch.steps, 5),
							      "sender")), PROVIDER);
	ndx_negmsg_hash(json_string_value(json_array_get(c, 5)),
			json_string_length(json_array_get(c, 5)), last);
	assert_string_equal(ch.last_hash, last);
	assert_string_equal(json_string_value(json_object_get(json_array_get(ch.steps, 5), "hash")),
			    last);
	ndx_negchain_clear(&ch);
	json_decref(c);
}

static void test_altered_message(void **state)
{
	json_t *c = full(), *payload;
	const char *jws = json_string_value(json_array_get(c, 3));
	const char *d1 = strchr(jws, '.'), *d2 = strchr(d1 + 1, '.');
	uint8_t *raw = NULL;
	size_t rawlen = 0;
	char *text, *enc, *altered;
	(void)state;

	/* The agreement's maximum raised after the provider signed it. */
	assert_int_equal(ndx_b64_decode(d1 + 1, (size_t)(d2 - d1 - 1), 1, &raw, &rawlen), NDX_OK);
	payload = json_loadb((const char *)raw, rawlen, 0, NULL);
	free(raw);
	assert_non_null(payload);
	json_object_set_new(json_array_get(json_object_get(json_array_get(json_object_get(
		json_object_get(payload, "agreement"), "permission"), 0), "constraint"), 0),
		"rightOperand", json_integer(1000));
	text = json_dumps(payload, JSON_COMPACT);
	enc = ndx_b64_encode((const uint8_t *)text, strlen(text), 1);
	altered = malloc((size_t)(d1 - jws) + strlen(enc) + strlen(d2) + 2);
	sprintf(altered, "%.*s.%s%s", (int)(d1 - jws), jws, enc, d2);
	json_array_set_new(c, 3, json_string(altered));
	free(altered);
	free(enc);
	free(text);
	json_decref(payload);
	expect(c, NDX_NEGCHAIN_BAD_SIGNATURE, 4, "does not verify");
}

static void test_dropped_and_swapped(void **state)
{
	json_t *c = full();
	(void)state;

	json_array_remove(c, 2); /* the consumer's acceptance */
	expect(c, NDX_NEGCHAIN_BROKEN, 3, "message 3 does not follow message 2");
	c = full();
	json_t *two = json_incref(json_array_get(c, 1));
	json_array_set(c, 1, json_array_get(c, 2));
	json_array_set_new(c, 2, two);
	expect(c, NDX_NEGCHAIN_BROKEN, 2, "message 2 does not follow");
	/* A chain that does not start at the first message. */
	c = full();
	json_array_remove(c, 0);
	expect(c, NDX_NEGCHAIN_BROKEN, 1, "does not start");
}

static void test_wrong_signer(void **state)
{
	json_t *c = json_array();
	(void)state;

	/* The provider's offer signed with a key that is no gateway key of the provider. */
	add(c, ckey, CONSUMER, "/dsp/negotiations/request",
	    "{\"@type\":\"ContractRequestMessage\",\"consumerPid\":\"" CPID "\",\"offer\":"
	    TERMS(5) "}", 1000);
	add(c, other, PROVIDER, "/dsp/consumer/negotiations/" CPID "/offers",
	    "{\"@type\":\"ContractOfferMessage\"," PIDS ",\"offer\":" TERMS(2) "}", 1001);
	expect(c, NDX_NEGCHAIN_UNKNOWN_SIGNER, 2, "no gateway key of " PROVIDER);
	/* The provider's gateway key in the consumer's name. */
	c = json_array();
	add(c, pkey, CONSUMER, "/dsp/negotiations/request",
	    "{\"@type\":\"ContractRequestMessage\",\"consumerPid\":\"" CPID "\",\"offer\":"
	    TERMS(5) "}", 1000);
	expect(c, NDX_NEGCHAIN_UNKNOWN_SIGNER, 1, NULL);
}

static void test_not_finalized(void **state)
{
	struct ndx_negchain ch;
	json_t *c = chain_to(5, TERMS(2));
	(void)state;

	/* A valid run, but it stops at VERIFIED: the caller decides. */
	assert_int_equal(ndx_negchain_check(c, key_of, NULL, &ch), NDX_OK);
	assert_int_equal(ch.state, NDX_NEG_VERIFIED);
	assert_int_equal(ch.messages, 5);
	ndx_negchain_clear(&ch);
	json_decref(c);
}

static void test_terms_nobody_offered(void **state)
{
	(void)state;
	/* The provider agrees on 1000 calls a day where 2 were offered last. */
	expect(chain_to(6, TERMS(1000)), NDX_NEGCHAIN_TERMS, 4,
	       "not the latest offer's");
}

static void test_wrong_path_and_transition(void **state)
{
	json_t *c = json_array();
	(void)state;

	add(c, ckey, CONSUMER, "/dsp/negotiations/request",
	    "{\"@type\":\"ContractRequestMessage\",\"consumerPid\":\"" CPID "\",\"offer\":"
	    TERMS(5) "}", 1000);
	/* The offer sent to another negotiation's callback. */
	add(c, pkey, PROVIDER, "/dsp/consumer/negotiations/urn:other/offers",
	    "{\"@type\":\"ContractOfferMessage\"," PIDS ",\"offer\":" TERMS(2) "}", 1001);
	expect(c, NDX_NEGCHAIN_WRONG_PATH, 2, "names another negotiation");
	/* FINALIZED straight after the request. */
	c = chain_to(1, TERMS(2));
	add(c, pkey, PROVIDER, "/dsp/consumer/negotiations/" CPID "/events",
	    "{\"@type\":\"ContractNegotiationEventMessage\"," PIDS
	    ",\"eventType\":\"FINALIZED\"}", 1005);
	expect(c, NDX_NEGCHAIN_TRANSITION, 2, "not allowed in state REQUESTED");
	/* No messages, or not texts. */
	expect(json_array(), NDX_NEGCHAIN_EMPTY, 0, "no messages");
	expect(json_pack("[i]", 1), NDX_NEGCHAIN_MALFORMED, 1, "expected a JWS");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_chain),
		cmocka_unit_test(test_altered_message),
		cmocka_unit_test(test_dropped_and_swapped),
		cmocka_unit_test(test_wrong_signer),
		cmocka_unit_test(test_not_finalized),
		cmocka_unit_test(test_terms_nobody_offered),
		cmocka_unit_test(test_wrong_path_and_transition),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
