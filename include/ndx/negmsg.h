/* A signed DSP negotiation message (docs/marketplace.md "Signed
 * negotiations"): a JWS compact serialization (ndx/jws.h, EdDSA, "typ"
 * "ndx-dsp-message", "kid" the key id of a signing key of one of the
 * sender member's gateways) whose payload is the DSP message JSON exactly
 * as the plain binding takes it plus four members:
 *
 *   "ndx:sender"    the sender's member id
 *   "ndx:path"      the request path it is sent to (/dsp/...)
 *   "ndx:previous"  base64url SHA-256 of the previous accepted message's
 *                   JWS text in the negotiation; absent on the first
 *   "ndx:signedAt"  Unix milliseconds
 *
 * One implementation for the signer (`ndx market sign-message`), the
 * registry that accepts the messages and the checker of a chain (`ndx
 * market check-negotiation`). The verification key is always the
 * caller's: this module does not know which gateways a member has. */
#ifndef NDX_NEGMSG_H
#define NDX_NEGMSG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ndx/dspneg.h"
#include "ndx/id.h"
#include "ndx/key.h"

#define NDX_NEGMSG_TYP "ndx-dsp-message"
/* The subsystem code under which every member's gateway answers DSP
 * messages as its connector ("{member}/ndx.connector/dsp"): reserved, the
 * registry registers no subsystem of this code. */
#define NDX_CONNECTOR_SUBSYSTEM "ndx.connector"
/* base64url (no padding) of a SHA-256: 43 characters. */
#define NDX_NEGMSG_HASH_LEN 43
/* Longest ndx:path; a pid in it is at most 256 bytes. */
#define NDX_NEGMSG_PATH_MAX 320
#define NDX_NEGMSG_PID_MAX 256

struct ndx_jws;

struct ndx_negmsg {
	struct ndx_jws *jws;              /* owned */
	json_t *message;                  /* owned: the DSP message, less the four ndx: members */
	const char *kid;                  /* borrowed from jws */
	char sender[NDX_ID_TEXT_MAX];
	char path[NDX_NEGMSG_PATH_MAX + 1];
	bool has_previous;
	char previous[NDX_NEGMSG_HASH_LEN + 1]; /* "" when !has_previous */
	int64_t signed_at_ms;
	char hash[NDX_NEGMSG_HASH_LEN + 1];     /* this message's: ndx_negmsg_hash of its text */
};

/* Signs message[0..len) (a JSON object that has none of the four ndx:
 * members) for sender (a member id) and path (an endpoint, see
 * ndx_negmsg_endpoint), after previous (NDX_NEGMSG_HASH_LEN characters,
 * or NULL for a negotiation's first message), at signed_at_ms. *out: the
 * malloc'd compact JWS. NDX_EINVAL with err saying why; NDX_ENOMEM,
 * NDX_ETOOBIG, NDX_ECRYPTO from ndx_jws_sign. */
int ndx_negmsg_sign(const struct ndx_key *key, const char *message, size_t len,
		    const char *sender, const char *path, const char *previous,
		    int64_t signed_at_ms, char **out, char *err, size_t errcap);

/* Parses text[0..len) strictly, without checking the signature: a JWS of
 * typ ndx-dsp-message with a kid, a payload that is one JSON object
 * (duplicate members refused) with ndx:sender a member id, ndx:path an
 * endpoint of the negotiation binding, ndx:previous absent or
 * NDX_NEGMSG_HASH_LEN base64url characters, ndx:signedAt a whole number
 * from 0. *out (free with ndx_negmsg_free) or NDX_EINVAL / NDX_ETOOBIG /
 * NDX_ENOMEM with err saying why. */
int ndx_negmsg_parse(const char *text, size_t len, struct ndx_negmsg **out, char *err,
		     size_t errcap);

/* NDX_OK when key signed m, NDX_EBADSIG otherwise. */
int ndx_negmsg_verify(const struct ndx_negmsg *m, const struct ndx_key *key);

/* Accepts NULL. */
void ndx_negmsg_free(struct ndx_negmsg *m);

/* base64url SHA-256 of text[0..len): what the next message's ndx:previous
 * names. */
void ndx_negmsg_hash(const char *text, size_t len, char out[NDX_NEGMSG_HASH_LEN + 1]);

/* The endpoint of a path of the negotiation binding as the registry serves
 * it (docs/marketplace.md "Mapping to the Dataspace Protocol"):
 *   /dsp/negotiations/request                 init: consumer, REQUEST, no pid
 *   /dsp/negotiations/PID/request             consumer, REQUEST       (PID: providerPid)
 *   /dsp/negotiations/PID/events              consumer, ACCEPTED
 *   /dsp/negotiations/PID/agreement/verification  consumer, VERIFICATION
 *   /dsp/negotiations/PID/termination         consumer, TERMINATION
 *   /dsp/consumer/negotiations/PID/offers     provider, OFFER         (PID: consumerPid)
 *   /dsp/consumer/negotiations/PID/agreement  provider, AGREEMENT
 *   /dsp/consumer/negotiations/PID/events     provider, FINALIZED
 *   /dsp/consumer/negotiations/PID/termination provider, TERMINATION
 * NDX_OK, or NDX_EINVAL for any other path. */
struct ndx_negmsg_endpoint {
	enum ndx_neg_role role;
	enum ndx_neg_msg msg;
	bool init;                           /* the initial request: no pid */
	char pid[NDX_NEGMSG_PID_MAX + 1];    /* providerPid (consumer's), consumerPid (provider's) */
};
int ndx_negmsg_endpoint(const char *path, struct ndx_negmsg_endpoint *out);
/* The message that sender posts to the endpoint suffix below a negotiation
 * ("events", "agreement/verification", ...: the table above): NDX_OK with
 * *msg, NDX_EINVAL for a suffix that takes no message of sender's. */
int ndx_negmsg_suffix(enum ndx_neg_role sender, const char *suffix, enum ndx_neg_msg *msg);

#endif
