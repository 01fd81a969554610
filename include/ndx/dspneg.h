/* The contract negotiation state machine of the Eclipse Dataspace
 * Protocol (DSP 2025-1, "Contract Negotiation Protocol", §States and
 * §State Machine), as ndx's registry runs it (docs/marketplace.md "The
 * state machine"): which message, sent by which side, moves a negotiation
 * from which state to which. Pure functions, no I/O. */
#ifndef NDX_DSPNEG_H
#define NDX_DSPNEG_H

enum ndx_neg_state {
	NDX_NEG_NONE,        /* before the first message */
	NDX_NEG_REQUESTED,
	NDX_NEG_OFFERED,
	NDX_NEG_ACCEPTED,
	NDX_NEG_AGREED,
	NDX_NEG_VERIFIED,
	NDX_NEG_FINALIZED,   /* terminal */
	NDX_NEG_TERMINATED,  /* terminal */
};

enum ndx_neg_role { NDX_NEG_CONSUMER, NDX_NEG_PROVIDER };

/* The messages of the protocol's §Message Types; the two event messages
 * are told apart by their eventType. */
enum ndx_neg_msg {
	NDX_NEG_MSG_REQUEST,       /* ContractRequestMessage, by the consumer */
	NDX_NEG_MSG_OFFER,         /* ContractOfferMessage, by the provider */
	NDX_NEG_MSG_ACCEPTED,      /* ContractNegotiationEventMessage ACCEPTED, by the consumer */
	NDX_NEG_MSG_AGREEMENT,     /* ContractAgreementMessage, by the provider */
	NDX_NEG_MSG_VERIFICATION,  /* ContractAgreementVerificationMessage, by the consumer */
	NDX_NEG_MSG_FINALIZED,     /* ContractNegotiationEventMessage FINALIZED, by the provider */
	NDX_NEG_MSG_TERMINATION,   /* ContractNegotiationTerminationMessage, by either */
};

/* The state a negotiation in state from moves to when role sends msg, or
 * NDX_NEG_NONE when the protocol does not allow it: a message of the
 * other side's, a message in a state that does not take it, anything in
 * a terminal state. */
enum ndx_neg_state ndx_neg_next(enum ndx_neg_state from, enum ndx_neg_role role,
				enum ndx_neg_msg msg);

/* "REQUESTED" … "TERMINATED" ("NONE" for NDX_NEG_NONE); the state of a
 * name, NDX_NEG_NONE when it is none. */
const char *ndx_neg_state_name(enum ndx_neg_state s);
enum ndx_neg_state ndx_neg_state_of(const char *name);
/* The message's DSP @type ("ContractRequestMessage", …). */
const char *ndx_neg_msg_type(enum ndx_neg_msg msg);

#endif
