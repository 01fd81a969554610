/* The check of a whole signed negotiation (docs/marketplace.md "Signed
 * negotiations"): the chain of its messages (ndx/negmsg.h) from the
 * consumer's initial request on, each signed by a gateway of its sender,
 * each naming the hash of the one before it, each sent to the endpoint of
 * its message and party naming this negotiation, the run a valid one of
 * the DSP state machine (ndx/dspneg.h) and the agreement on the latest
 * offered terms. One implementation for `ndx market check-negotiation`
 * and the registry's POST /dsp/agreements. Which key a member's gateway
 * signs with is the caller's: a lookup it passes. */
#ifndef NDX_NEGCHAIN_H
#define NDX_NEGCHAIN_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "ndx/dspneg.h"
#include "ndx/id.h"
#include "ndx/key.h"
#include "ndx/negmsg.h"

/* The key with id kid of a gateway of member: NDX_OK with *key (borrowed:
 * it stays the caller's, valid until the next call or the end of the
 * check); NDX_ENOTFOUND when member has no such key, with err the tail of
 * the reason ("which is no gateway of its sender ..."); any other value
 * stops the check and is returned. */
typedef int (*ndx_negchain_key_fn)(void *ctx, const char *member, const char *kid,
				   const struct ndx_key **key, char *err, size_t errcap);

/* What a check found first, when the chain is refused. */
enum ndx_negchain_fault {
	NDX_NEGCHAIN_OK,
	NDX_NEGCHAIN_EMPTY,          /* no messages, or too many */
	NDX_NEGCHAIN_MALFORMED,      /* a message does not parse (ndx_negmsg_parse) */
	NDX_NEGCHAIN_UNKNOWN_SIGNER, /* its kid is no key of a gateway of its sender */
	NDX_NEGCHAIN_BAD_SIGNATURE,  /* the signature does not verify */
	NDX_NEGCHAIN_BROKEN,         /* ndx:previous is not the previous message's hash */
	NDX_NEGCHAIN_WRONG_PATH,     /* the path is not its message's, party's or negotiation's */
	NDX_NEGCHAIN_WRONG_SENDER,   /* a party's message sent by another member */
	NDX_NEGCHAIN_FORM,           /* @type or eventType not the path's message */
	NDX_NEGCHAIN_TRANSITION,     /* not allowed in its state, or signed before the last */
	NDX_NEGCHAIN_TERMS,          /* an agreement not on the latest offered terms */
};

/* At most this many messages in a chain. */
#define NDX_NEGCHAIN_MAX 1024

struct ndx_negchain {
	enum ndx_neg_state state;           /* after the last message checked */
	size_t messages;                    /* how many checked */
	char consumer[NDX_ID_TEXT_MAX], provider[NDX_ID_TEXT_MAX];
	char cpid[NDX_NEGMSG_PID_MAX + 1], ppid[NDX_NEGMSG_PID_MAX + 1];
	char last_hash[NDX_NEGMSG_HASH_LEN + 1];
	int64_t last_at;
	json_t *request;    /* owned: the first message's DSP body */
	json_t *offer;      /* owned: the latest terms offered with a permission, or NULL */
	enum ndx_neg_role offered_by;       /* who offered them */
	json_t *agreement;  /* owned: the agreement as sent, or NULL */
	json_t *steps;      /* owned: [{sender, hash}] of each message checked */
	/* When refused: */
	enum ndx_negchain_fault fault;
	size_t at;          /* the message (from 1), 0 for the chain as a whole */
	char why[512];      /* "message 3 does not follow message 2 ..." */
};

/* Checks texts (a JSON array of JWS compact texts, the first message
 * first) into *ch (zeroed here; clear it with ndx_negchain_clear whatever
 * the answer). NDX_OK when every message checks (the chain may end in any
 * state: ch->state says which); NDX_EINVAL with ch->fault, ch->at and
 * ch->why; NDX_ENOMEM; or the lookup's error. */
int ndx_negchain_check(const json_t *texts, ndx_negchain_key_fn key_of, void *ctx,
		       struct ndx_negchain *ch);

/* Frees what ch owns. Accepts a zeroed one. */
void ndx_negchain_clear(struct ndx_negchain *ch);

#endif
