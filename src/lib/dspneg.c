/* The Dataspace Protocol's contract negotiation state machine
 * (ndx/dspneg.h), written from DSP 2025-1 "Contract Negotiation
 * Protocol" §States, §State Machine and §Message Types: each message's
 * "Sent by" and "Resulting state" rows, and the transitions of the
 * state machine figure. Overview: docs/marketplace.md "The state machine". */
#include "ndx/dspneg.h"

#include <stddef.h>
#include <string.h>

static const char *const STATE_NAMES[] = { "NONE", "REQUESTED", "OFFERED", "ACCEPTED",
					   "AGREED", "VERIFIED", "FINALIZED", "TERMINATED" };

enum ndx_neg_state ndx_neg_next(enum ndx_neg_state from, enum ndx_neg_role role,
				enum ndx_neg_msg msg)
{
	/* "Terminal states are final; the state machine MUST NOT transition
	 * to another state." */
	if (from == NDX_NEG_FINALIZED || from == NDX_NEG_TERMINATED)
		return NDX_NEG_NONE;
	if (msg == NDX_NEG_MSG_TERMINATION)
		return from == NDX_NEG_NONE ? NDX_NEG_NONE : NDX_NEG_TERMINATED;
	switch (msg) {
	case NDX_NEG_MSG_REQUEST:
		/* Initiates, or answers the provider's offer (a counter-request). */
		if (role == NDX_NEG_CONSUMER && (from == NDX_NEG_NONE || from == NDX_NEG_OFFERED))
			return NDX_NEG_REQUESTED;
		break;
	case NDX_NEG_MSG_OFFER:
		/* Initiates, or answers the consumer's request (a counter-offer). */
		if (role == NDX_NEG_PROVIDER && (from == NDX_NEG_NONE || from == NDX_NEG_REQUESTED))
			return NDX_NEG_OFFERED;
		break;
	case NDX_NEG_MSG_ACCEPTED:
		if (role == NDX_NEG_CONSUMER && from == NDX_NEG_OFFERED)
			return NDX_NEG_ACCEPTED;
		break;
	case NDX_NEG_MSG_AGREEMENT:
		if (role == NDX_NEG_PROVIDER && (from == NDX_NEG_REQUESTED || from == NDX_NEG_ACCEPTED))
			return NDX_NEG_AGREED;
		break;
	case NDX_NEG_MSG_VERIFICATION:
		if (role == NDX_NEG_CONSUMER && from == NDX_NEG_AGREED)
			return NDX_NEG_VERIFIED;
		break;
	case NDX_NEG_MSG_FINALIZED:
		if (role == NDX_NEG_PROVIDER && from == NDX_NEG_VERIFIED)
			return NDX_NEG_FINALIZED;
		break;
	default:
		break;
	}
	return NDX_NEG_NONE;
}

const char *ndx_neg_state_name(enum ndx_neg_state s)
{
	return (unsigned)s < sizeof STATE_NAMES / sizeof *STATE_NAMES ? STATE_NAMES[s] : "NONE";
}

enum ndx_neg_state ndx_neg_state_of(const char *name)
{
	for (size_t i = 1; name && i < sizeof STATE_NAMES / sizeof *STATE_NAMES; i++)
		if (strcmp(name, STATE_NAMES[i]) == 0)
			return (enum ndx_neg_state)i;
	return NDX_NEG_NONE;
}

const char *ndx_neg_msg_type(enum ndx_neg_msg msg)
{
	switch (msg) {
	case NDX_NEG_MSG_REQUEST: return "ContractRequestMessage";
	case NDX_NEG_MSG_OFFER: return "ContractOfferMessage";
	case NDX_NEG_MSG_ACCEPTED:
	case NDX_NEG_MSG_FINALIZED: return "ContractNegotiationEventMessage";
	case NDX_NEG_MSG_AGREEMENT: return "ContractAgreementMessage";
	case NDX_NEG_MSG_VERIFICATION: return "ContractAgreementVerificationMessage";
	case NDX_NEG_MSG_TERMINATION: return "ContractNegotiationTerminationMessage";
	}
	return "?";
}
