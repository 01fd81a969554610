/* The consent service's store: the issuer id, the admin token's hash, every
 * consent it issued (with the signed text) and the revocation list version,
 * in one SQLite file. One connection; a mutex makes each revocation and its
 * version bump one transaction. Overview: docs/protocol.md "Consent
 * artefacts". */
#ifndef NDX_CONSENT_STORE_H
#define NDX_CONSENT_STORE_H

#include <jansson.h>
#include <stdint.h>
#include <time.h>

#define CSTORE_DB_FILE "consent.db"

struct cstore;

/* Creates a new database at path (which must not exist) for the consent
 * service issuer (canonical subsystem id) with the admin token's SHA-256
 * (hex) and revocation list version 1. NDX_EEXIST when path exists. */
int cstore_create(const char *path, const char *issuer, const char *token_sha256_hex,
		  struct cstore **out);
/* Opens an existing database. NDX_EIO when it is missing, NDX_EDB when it is
 * not a consent service database. */
int cstore_open(const char *path, struct cstore **out);
/* Accepts NULL. */
void cstore_close(struct cstore *st);

/* Borrowed, valid while st lives. */
const char *cstore_issuer(const struct cstore *st);
const char *cstore_token_sha256(const struct cstore *st);

/* One issued consent; strings borrowed for the call. services is the JSON
 * array text of the service ids. */
struct cstore_consent {
	const char *jti;
	const char *subject;
	const char *consumer;
	const char *services;
	const char *purpose;
	time_t iat, nbf, exp;
	const char *jws;
};
/* NDX_EEXIST for a jti issued before. */
int cstore_consent_add(struct cstore *st, const struct cstore_consent *c);

/* *out = a new array of the subject's consents, newest first, each
 * {jti,subject,consumer,services,purpose,issued_at,valid_from,valid_to,
 * status,revoked_at,consent}; status is "revoked", "expired", "pending"
 * (before valid_from) or "active" at now. */
int cstore_consent_list(struct cstore *st, const char *subject, time_t now, json_t **out);

/* Marks consent jti revoked at now and raises the revocation list version
 * (into *version) in one transaction. NDX_ENOTFOUND when there is no such
 * consent; NDX_EEXIST when it is revoked already (*version is then the
 * current version and nothing changes). */
int cstore_consent_revoke(struct cstore *st, const char *jti, time_t now, uint64_t *version);

/* The current revocation list: *version and *jtis (a new array of the jti
 * strings of revoked consents that have not yet expired at now, sorted). */
int cstore_revocations(struct cstore *st, time_t now, uint64_t *version, json_t **jtis);

#endif
