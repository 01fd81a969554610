/* Unit tests for include/ndx/dspneg.h: the Dataspace Protocol's contract
 * negotiation state machine, checked as data against the text of DSP
 * 2025-1 "Contract Negotiation Protocol" (specifications/negotiation/
 * contract.negotiation.protocol.md): every (state, side, message) triple,
 * the allowed ones listed with the sentence or table row they come from,
 * every other one refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ndx/dspneg.h"

#define C NDX_NEG_CONSUMER
#define P NDX_NEG_PROVIDER

static const struct allowed {
	enum ndx_neg_state from;
	enum ndx_neg_role role;
	enum ndx_neg_msg msg;
	enum ndx_neg_state to;
	const char *source;
} ALLOWED[] = {
	{ NDX_NEG_NONE, C, NDX_NEG_MSG_REQUEST, NDX_NEG_REQUESTED,
	  "§Contract Request Message: sent by the Consumer \"to initiate a Contract Negotiation\"" },
	{ NDX_NEG_OFFERED, C, NDX_NEG_MSG_REQUEST, NDX_NEG_REQUESTED,
	  "§Contract Request Message: \"or to respond to a Contract Offer Message\"" },
	{ NDX_NEG_NONE, P, NDX_NEG_MSG_OFFER, NDX_NEG_OFFERED,
	  "§Contract Offer Message: sent by the Provider \"to initiate a Contract Negotiation\"" },
	{ NDX_NEG_REQUESTED, P, NDX_NEG_MSG_OFFER, NDX_NEG_OFFERED,
	  "§Contract Offer Message: \"or to respond to a Contract Request Message\"" },
	{ NDX_NEG_OFFERED, C, NDX_NEG_MSG_ACCEPTED, NDX_NEG_ACCEPTED,
	  "§States ACCEPTED: \"The Consumer has accepted the latest Offer\"" },
	{ NDX_NEG_REQUESTED, P, NDX_NEG_MSG_AGREEMENT, NDX_NEG_AGREED,
	  "§States AGREED: \"The Provider has accepted the latest Offer\" (the consumer's)" },
	{ NDX_NEG_ACCEPTED, P, NDX_NEG_MSG_AGREEMENT, NDX_NEG_AGREED,
	  "§State Machine: ACCEPTED -> AGREED by the Provider's Contract Agreement Message" },
	{ NDX_NEG_AGREED, C, NDX_NEG_MSG_VERIFICATION, NDX_NEG_VERIFIED,
	  "§States VERIFIED: \"The Consumer has sent an Agreement verification\"" },
	{ NDX_NEG_VERIFIED, P, NDX_NEG_MSG_FINALIZED, NDX_NEG_FINALIZED,
	  "§States FINALIZED: \"The Provider has sent a finalization Message\"" },
};

static const enum ndx_neg_state STATES[] = {
	NDX_NEG_NONE, NDX_NEG_REQUESTED, NDX_NEG_OFFERED, NDX_NEG_ACCEPTED,
	NDX_NEG_AGREED, NDX_NEG_VERIFIED, NDX_NEG_FINALIZED, NDX_NEG_TERMINATED,
};
static const enum ndx_neg_msg MSGS[] = {
	NDX_NEG_MSG_REQUEST, NDX_NEG_MSG_OFFER, NDX_NEG_MSG_ACCEPTED, NDX_NEG_MSG_AGREEMENT,
	NDX_NEG_MSG_VERIFICATION, NDX_NEG_MSG_FINALIZED, NDX_NEG_MSG_TERMINATION,
};

static enum ndx_neg_state expected(enum ndx_neg_state from, enum ndx_neg_role role,
				   enum ndx_neg_msg msg)
{
	/* §State Machine: "Terminal states are final; the state machine MUST
	 * NOT transition to another state." */
	if (from == NDX_NEG_FINALIZED || from == NDX_NEG_TERMINATED)
		return NDX_NEG_NONE;
	/* §States TERMINATED: "The Provider or Consumer has placed the Contract
	 * Negotiation in a terminated state" — from any state that is not
	 * terminal, by either side, once there is a negotiation. */
	if (msg == NDX_NEG_MSG_TERMINATION)
		return from == NDX_NEG_NONE ? NDX_NEG_NONE : NDX_NEG_TERMINATED;
	for (size_t i = 0; i < sizeof ALLOWED / sizeof *ALLOWED; i++)
		if (ALLOWED[i].from == from && ALLOWED[i].role == role && ALLOWED[i].msg == msg)
			return ALLOWED[i].to;
	return NDX_NEG_NONE;
}

static void test_every_transition(void **state)
{
	size_t allowed = 0;

	(void)state;
	for (size_t s = 0; s < sizeof STATES / sizeof *STATES; s++)
		for (int r = C; r <= P; r++)
			for (size_t m = 0; m < sizeof MSGS / sizeof *MSGS; m++) {
				enum ndx_neg_state want = expected(STATES[s], (enum ndx_neg_role)r,
								   MSGS[m]);
				enum ndx_neg_state got = ndx_neg_next(STATES[s], (enum ndx_neg_role)r,
								      MSGS[m]);
				if (got != want)
					fail_msg("%s by the %s in %s: got %s, want %s",
						 ndx_neg_msg_type(MSGS[m]), r == C ? "consumer" : "provider",
						 ndx_neg_state_name(STATES[s]), ndx_neg_state_name(got),
						 ndx_neg_state_name(want));
				allowed += got != NDX_NEG_NONE;
			}
	/* The nine of ALLOWED and a termination by either side in each of the
	 * five states between REQUESTED and VERIFIED. */
	assert_int_equal(allowed, 9 + 2 * 5);
}

static void test_sides_are_not_interchangeable(void **state)
{
	(void)state;
	/* "Sent by: Consumer" / "Sent by: Provider" in each message's table. */
	assert_int_equal(ndx_neg_next(NDX_NEG_OFFERED, P, NDX_NEG_MSG_ACCEPTED), NDX_NEG_NONE);
	assert_int_equal(ndx_neg_next(NDX_NEG_VERIFIED, C, NDX_NEG_MSG_FINALIZED), NDX_NEG_NONE);
	assert_int_equal(ndx_neg_next(NDX_NEG_REQUESTED, C, NDX_NEG_MSG_AGREEMENT), NDX_NEG_NONE);
	assert_int_equal(ndx_neg_next(NDX_NEG_AGREED, P, NDX_NEG_MSG_VERIFICATION), NDX_NEG_NONE);
	/* HTTPS binding §Contract Negotiation Event Endpoint: "If the current
	 * Offer was created by the Consumer, the Provider MUST return an HTTP
	 * code 400" — the consumer cannot accept its own request. */
	assert_int_equal(ndx_neg_next(NDX_NEG_REQUESTED, C, NDX_NEG_MSG_ACCEPTED), NDX_NEG_NONE);
}

static void test_names(void **state)
{
	(void)state;
	for (size_t s = 1; s < sizeof STATES / sizeof *STATES; s++)
		assert_int_equal(ndx_neg_state_of(ndx_neg_state_name(STATES[s])), STATES[s]);
	assert_int_equal(ndx_neg_state_of("NONE"), NDX_NEG_NONE);
	assert_int_equal(ndx_neg_state_of("requested"), NDX_NEG_NONE);
	assert_int_equal(ndx_neg_state_of(NULL), NDX_NEG_NONE);
	assert_string_equal(ndx_neg_msg_type(NDX_NEG_MSG_VERIFICATION),
			    "ContractAgreementVerificationMessage");
	assert_string_equal(ndx_neg_msg_type(NDX_NEG_MSG_FINALIZED),
			    "ContractNegotiationEventMessage");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_transition),
		cmocka_unit_test(test_sides_are_not_interchangeable),
		cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
