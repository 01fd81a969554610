/* The consent service's store: the issuer id, the admin token's hash, every
 * consent it issued (with the signed text and its status list index), the
 * next free index and the revocation version, in a SQLite file (the
 * default, DIR/consent.db) or a PostgreSQL database (a postgresql://
 * connection string; cons_db.h has the engines); the status lists' bits are
 * also held in memory. One connection; a mutex serialises the calls and
 * each revocation with its version bump is one transaction, durable when
 * the call returns. Overview: docs/protocol.md "Consent artefacts",
 * docs/scale.md "The consent service on PostgreSQL". */
#ifndef NDX_CONSENT_CONS_STORE_H
#define NDX_CONSENT_CONS_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#define CSTORE_DB_FILE "consent.db"

struct cstore;

/* Creates a new database at loc, a SQLite file's path (which must not
 * exist) or a postgresql:// connection string (whose schema must hold no
 * consent service), for the consent service issuer (canonical subsystem
 * id) with the admin token's SHA-256 (hex) and revocation version 1.
 * NDX_EEXIST when loc holds a database already; NDX_EINVAL for a
 * connection string that cannot be parsed or holds a password (the reason
 * on stderr, the password never); NDX_EDB when the engine fails. */
int cstore_create(const char *loc, const char *issuer, const char *token_sha256_hex,
		  struct cstore **out);
/* Opens an existing database. NDX_EIO when it is missing (no file, or a
 * PostgreSQL schema without a consent service), NDX_EDB when it is not a
 * consent service database, its schema is newer than this program, or
 * (PostgreSQL) another ndx-consent has it open; NDX_EINVAL as for create. */
int cstore_open(const char *loc, struct cstore **out);
/* Accepts NULL. */
void cstore_close(struct cstore *st);

/* How messages may name the database: the file's path, or
 * postgresql://user@host:port/dbname, never a password. Valid while st
 * lives. */
const char *cstore_name(const struct cstore *st);

/* Whether loc is a postgresql:// connection string rather than a file, and
 * whether it may be used (NDX_EINVAL with the reason in why, static: it
 * cannot be parsed, or it holds a password). */
bool cstore_loc_is_pg(const char *loc);
int cstore_loc_check(const char *loc, const char **why);

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
	uint32_t status_list, status_idx; /* from cstore_status_reserve */
};
/* NDX_EEXIST for a jti issued before. */
int cstore_consent_add(struct cstore *st, const struct cstore_consent *c);

/* *out = a new array of the subject's consents, newest first, each
 * {jti,subject,consumer,services,purpose,issued_at,valid_from,valid_to,
 * status,revoked_at,consent}; status is "revoked", "expired", "pending"
 * (before valid_from) or "active" at now. */
int cstore_consent_list(struct cstore *st, const char *subject, time_t now, json_t **out);

/* Marks consent jti revoked at now and raises the revocation version
 * (into *version) in one transaction. NDX_ENOTFOUND when there is no such
 * consent; NDX_EEXIST when it is revoked already (*version is then the
 * current version and nothing changes). */
int cstore_consent_revoke(struct cstore *st, const char *jti, time_t now, uint64_t *version);

/* Hands out the next status list index (list, idx) for a consent to be
 * issued, durably, so that no two consents ever share one (an index whose
 * consent is then not issued stays 0 for ever). NDX_ETOOBIG when every list
 * up to NDX_STATUSLIST_MAX_LIST is used. */
int cstore_status_reserve(struct cstore *st, uint32_t *list, uint32_t *idx);

/* Copies the subject of consent jti into subject (cap bytes). NDX_ENOTFOUND
 * when there is no such consent. */
int cstore_consent_subject(struct cstore *st, const char *jti, char *subject, size_t cap);

/* The revocation version and how many status lists are in use (0 before the
 * first consent), read together. */
int cstore_status(struct cstore *st, uint64_t *version, uint32_t *nlists);

/* Copies the bits of status list list into out (NDX_STATUSLIST_BYTES bytes;
 * out may be NULL to ask only) and sets *gen, a number that changes whenever
 * the bits do (in this process). Loads the list from the table on first use. */
int cstore_status_bits(struct cstore *st, uint32_t list, uint8_t *out, uint64_t *gen);

/* How many consents the store holds in each state at now, for /metrics:
 * revoked (whatever their dates), expired (exp passed), pending (nbf not
 * yet reached) and active (the rest). NDX_OK or NDX_EDB (the counts then
 * 0). */
struct cstore_counts {
	uint64_t active, pending, expired, revoked;
};
int cstore_counts(struct cstore *st, time_t now, struct cstore_counts *out);

#endif
