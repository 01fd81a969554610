/* Consent artefacts (after India's DEPA): a citizen's consent that one
 * consumer subsystem may use named services about them for one purpose
 * during a validity window, issued and signed by a consent service as a
 * compact JWS (EdDSA, RFC 8037) with "typ":"ndx-consent+jwt". The provider
 * gateway carries it in Ndx-Consent and checks it with ndx_consent_verify;
 * every refusal has its own reason. Overview: docs/protocol.md "Consent
 * artefacts". */
#ifndef NDX_CONSENT_H
#define NDX_CONSENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "ndx/key.h"

#define NDX_CONSENT_TYP "ndx-consent+jwt"
/* 2: the "status" claim (docs/protocol.md "Revocation"). Version 1 had none
 * and is refused as malformed: its revocation state cannot be looked up. */
#define NDX_CONSENT_VERSION 2
/* A consent travels in one HTTP header, and the gateway caps header values
 * at 1024 bytes (docs/protocol.md "Consumer API"). */
#define NDX_CONSENT_MAX_TEXT 1024
#define NDX_CONSENT_MAX_SERVICES 16
/* "jti": 1..64 characters from A-Z a-z 0-9 - _ . : */
#define NDX_CONSENT_JTI_MAX 64
/* "purpose": 1..64 characters from a-z 0-9 - (the registry's purpose codes). */
#define NDX_CONSENT_PURPOSE_MAX 64
/* "sub": the subject's personal identification number, 12 ASCII digits. */
#define NDX_CONSENT_PIN_LEN 12

/* Why a consent was refused. The values and names are stable: the gateway
 * maps each to its own error type, logs and tests use the names. */
enum ndx_consent_refusal {
	NDX_CONSENT_ACCEPTED = 0,          /* "consent_accepted": no refusal */
	NDX_CONSENT_MALFORMED,             /* "consent_malformed" */
	NDX_CONSENT_UNKNOWN_KEY,           /* "consent_unknown_key" */
	NDX_CONSENT_BAD_SIGNATURE,         /* "consent_bad_signature" */
	NDX_CONSENT_NOT_YET_VALID,         /* "consent_not_yet_valid" */
	NDX_CONSENT_EXPIRED,               /* "consent_expired" */
	NDX_CONSENT_WRONG_SUBJECT,         /* "consent_wrong_subject" */
	NDX_CONSENT_WRONG_CONSUMER,        /* "consent_wrong_consumer" */
	NDX_CONSENT_SERVICE_NOT_COVERED,   /* "consent_service_not_covered" */
	NDX_CONSENT_WRONG_PURPOSE,         /* "consent_wrong_purpose" */
	NDX_CONSENT_REVOKED,               /* "consent_revoked" */
};

/* Returns the stable name of r ("consent_expired", ...), or
 * "consent_unknown_refusal" for a value outside the enum; never NULL. */
const char *ndx_consent_refusal_name(enum ndx_consent_refusal r);

/* What a consent service signs. Every id is canonical text (as
 * ndx_id_format writes it). Strings are borrowed for the call only. */
struct ndx_consent_fields {
	const char *iss;      /* the consent service's subsystem id */
	const char *jti;      /* unique id; NULL: a random UUID v4 is made */
	const char *sub;      /* 12-digit personal identification number */
	const char *consumer; /* the subsystem the consent is given to */
	const char *const *services; /* service ids it covers */
	size_t n_services;    /* 1..NDX_CONSENT_MAX_SERVICES, no duplicates */
	const char *purpose;
	time_t iat, nbf, exp; /* issued, valid from (inclusive), until (exclusive) */
	/* "status": the consent's place in the issuer's status lists
	 * (statuslist.h): list 0..NDX_STATUSLIST_MAX_LIST, index below
	 * NDX_STATUSLIST_CAPACITY. */
	uint32_t status_list, status_idx;
};

/* A parsed (and, from ndx_consent_verify, checked) consent. Every pointer
 * is owned by the struct and valid until ndx_consent_free. "kid" is 64
 * lower-case hex digits (an ndx key id). */
struct ndx_consent {
	const char *kid; /* the JWS header's key id */
	const char *iss, *jti, *sub, *consumer, *purpose;
	const char **services;
	size_t n_services;
	time_t iat, nbf, exp;
	uint32_t status_list, status_idx; /* "status":{"list","idx"} */
	int ver;
	/* Private: the storage behind the pointers above. */
	json_t *payload_;
	char kid_[NDX_KEY_ID_HEX_LEN + 1];
};

/* Validates fields (the rules of ndx_consent_parse, so nothing is signed
 * that a gateway would refuse as malformed) and signs them with key.
 * On success sets *jws_text to the malloc'd compact JWS (caller frees).
 * On failure leaves it NULL and returns NDX_EINVAL (a field breaks a rule,
 * a public-only key; the reason in err), NDX_ETOOBIG (the result would
 * exceed NDX_CONSENT_MAX_TEXT: fewer services or a shorter id), NDX_ENOMEM,
 * NDX_ECRYPTO. err may be NULL. */
int ndx_consent_sign(const struct ndx_key *key, const struct ndx_consent_fields *fields,
		     char **jws_text, char *err, size_t errcap);

/* Parses and validates text[0..len) WITHOUT checking its signature, to
 * display a consent (never to trust one). Sets *out to a new consent the
 * caller frees with ndx_consent_free, or leaves it NULL and returns
 * NDX_EINVAL (anything malformed, including over NDX_CONSENT_MAX_TEXT) or
 * NDX_ENOMEM, with the reason in err. */
int ndx_consent_parse(const char *text, size_t len, struct ndx_consent **out, char *err,
		      size_t errcap);

/* The request a consent must cover. NULL strings match nothing. */
struct ndx_consent_request {
	const char *subject;  /* Ndx-Subject */
	const char *consumer; /* X-Road-Client, canonical */
	const char *service;  /* the service called, canonical */
	const char *purpose;  /* Ndx-Purpose */
	time_t now;
	/* Seconds by which the verifier's clock may lag the consent service's:
	 * accepted from nbf - leeway. Never extends exp. */
	unsigned leeway;
};

/* Whom the verifier trusts, as callbacks. Both are required. */
struct ndx_consent_trust {
	/* Returns the key with key id kid that may sign consents for issuer iss
	 * (borrowed; it must stay valid during the call), or NULL when there is
	 * none: the consent is then refused as consent_unknown_key. */
	const struct ndx_key *(*key_lookup)(void *ctx, const char *kid, const char *iss);
	/* Sets *revoked for the consent at index idx of status list list of
	 * issuer iss and returns NDX_OK, or returns a negative rc when the
	 * revocation state is not known well enough to decide (e.g. the status
	 * list is stale or not held): verification then fails with that rc and
	 * no decision, never an acceptance. */
	int (*is_revoked)(void *ctx, const char *iss, uint32_t list, uint32_t idx, bool *revoked);
	void *ctx;
};

/* Checks that text[0..len) is a live consent, signed by a trusted key, for
 * exactly this request. Checks run in the order of docs/protocol.md
 * "Consent artefacts" and stop at the first failure. Returns:
 *   NDX_OK     accepted: *refusal = NDX_CONSENT_ACCEPTED and, when out is
 *              not NULL, *out holds the consent (caller frees);
 *   NDX_EPERM  refused: *refusal names why, err says it in a sentence;
 *   another negative rc (NDX_ENOMEM, or is_revoked's rc): no decision was
 *              reached (*refusal is left NDX_CONSENT_ACCEPTED, which here
 *              means nothing); the caller must refuse the request as its own
 *              failure, never let it through.
 * *out is NULL unless NDX_OK is returned. err may be NULL. */
int ndx_consent_verify(const char *text, size_t len, const struct ndx_consent_request *req,
		       const struct ndx_consent_trust *trust, struct ndx_consent **out,
		       enum ndx_consent_refusal *refusal, char *err, size_t errcap);

/* True when service is one of c's services. */
bool ndx_consent_covers(const struct ndx_consent *c, const char *service);

/* Accepts NULL. */
void ndx_consent_free(struct ndx_consent *c);

#endif
