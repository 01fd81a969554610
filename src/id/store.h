/* ndx-id's store: sign-in accounts, registered clients, pending
 * authorization requests, authorization codes, access tokens, SSO sessions
 * and failed sign-ins, in one database: a SQLite file (id.db in the data
 * directory, the default) or a PostgreSQL schema (a postgresql://
 * connection string), the engines of ndx/sqldb.h (id_db.h). Every secret
 * the provider hands out (transaction ids, codes, access tokens, session
 * ids) is kept only as its SHA-256 hex, so a copy of the database lets
 * nobody act as a client or a citizen. One connection; a mutex serialises
 * the calls, and each compound change is one write transaction of the
 * engine (on PostgreSQL serialised against every ndx-id on the schema).
 * Overview: docs/id.md, docs/scale.md "The e-ID on PostgreSQL". */
#ifndef NDX_ID_STORE_H
#define NDX_ID_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "ndx/password.h"
#include "ndx/pin.h"
#include "signin_throttle.h"

#define IDSTORE_DB_FILE "id.db"
#define IDSTORE_HASH_HEX 65 /* SHA-256 hex + NUL */

/* Caps on what an authorization request may carry; /authorize refuses
 * longer values, so the fixed buffers below always fit. */
#define IDSTORE_CLIENT_ID_MAX 128
#define IDSTORE_URI_MAX 2048
#define IDSTORE_CLIENT_NAME_MAX 200 /* bytes of UTF-8 */
#define IDSTORE_SCOPE_MAX 256
#define IDSTORE_STATE_MAX 512
#define IDSTORE_CHALLENGE_MAX 128

struct idstore;

/* Creates the database at loc, a SQLite file's path or a postgresql://
 * connection string (a file that exists, or a schema that holds an e-ID
 * provider already: NDX_EEXIST), or opens an existing one (NDX_EIO when
 * missing, NDX_EDB when it is not ndx-id's or newer than the program,
 * NDX_EINVAL for a connection string with a password, refused before
 * connecting and never printed). A SQLite id.db made by an earlier
 * version is brought up to date. *out is NULL on failure; close with
 * idstore_close (accepts NULL). */
int idstore_create(const char *loc, struct idstore **out);
int idstore_open(const char *loc, struct idstore **out);
void idstore_close(struct idstore *st);
/* Whether loc names a PostgreSQL database rather than a SQLite file. */
bool idstore_loc_is_pg(const char *loc);
/* How messages name the database: the path, or user, host, port and
 * database of the connection string (never a password). */
const char *idstore_name(const struct idstore *st);

/* Plain key/value settings. idstore_meta_get: *out malloc'd (caller
 * frees), NDX_ENOTFOUND when unset. */
int idstore_meta_get(struct idstore *st, const char *key, char **out);
int idstore_meta_set(struct idstore *st, const char *key, const char *value);

/* Bulk writes (account import) in one write transaction. A failed commit
 * is rolled back. */
int idstore_begin(struct idstore *st);
int idstore_commit(struct idstore *st);
void idstore_rollback(struct idstore *st);

struct idstore_account {
	char pin[NDX_PIN_LEN + 1];
	char name[512];
	char birthdate[16];
	char gender[16];
	char password_hash[NDX_PASSWORD_HASH_MAX];
	/* "" while the account may sign in; "deceased" once a death-registered
	 * event disabled it, on disabled_on (the date of death). */
	char disabled_reason[32];
	char disabled_on[16];
};
/* Inserts or replaces the account of a->pin; *created says which. */
int idstore_account_put(struct idstore *st, const struct idstore_account *a, int *created);
/* NDX_ENOTFOUND when pin has no account. */
int idstore_account_get(struct idstore *st, const char *pin, struct idstore_account *out);
/* The stored hash of the account written last (to copy its cost for a
 * dummy verification), NDX_ENOTFOUND when there are none. */
int idstore_account_any_hash(struct idstore *st, char out[NDX_PASSWORD_HASH_MAX]);

/* What applying an event to an account did. */
enum idstore_event_result {
	IDSTORE_EVENT_CHANGED,    /* the account was disabled */
	IDSTORE_EVENT_UNCHANGED,  /* it was disabled already */
	IDSTORE_EVENT_NO_ACCOUNT, /* pin has no account: nothing to do */
	IDSTORE_EVENT_SEEN,       /* this event id was applied before: nothing done */
};
/* Disables the account of pin for reason (e.g. "deceased") as of on (a
 * date), ends its sessions and revokes its access tokens, and records
 * event_id as applied - all in one transaction, so a second delivery of the
 * same event changes nothing (*res IDSTORE_EVENT_SEEN). A disabled account
 * stays so when accounts are imported again. NDX_OK or NDX_EDB. */
int idstore_event_disable(struct idstore *st, const char *event_id, const char *event_name,
			  const char *pin, const char *reason, const char *on, time_t now,
			  enum idstore_event_result *res);

/* A registered client. redirect_uris and post_logout_uris are JSON arrays
 * of strings, owned by the struct (idstore_client_clear frees them). */
struct idstore_client {
	char client_id[IDSTORE_CLIENT_ID_MAX + 1];
	char secret_sha256[IDSTORE_HASH_HEX];
	json_t *redirect_uris;
	json_t *post_logout_uris;
	char id_token_alg[8]; /* "EdDSA" (also when "") or "RS256" */
	/* The names people read on the sign-in page (client_name and
	 * client_name#en of OpenID Connect Dynamic Client Registration 1.0
	 * §2), "" when none was registered. */
	char name[IDSTORE_CLIENT_NAME_MAX + 1];
	char name_en[IDSTORE_CLIENT_NAME_MAX + 1];
};
/* Inserts or replaces; *created says which. Borrows c. */
int idstore_client_put(struct idstore *st, const struct idstore_client *c, int *created);
/* NDX_ENOTFOUND for an unknown client. */
int idstore_client_get(struct idstore *st, const char *client_id, struct idstore_client *out);
void idstore_client_clear(struct idstore_client *c);
/* Non-zero when uri is exactly (byte for byte) one of list's strings. */
int idstore_uri_listed(const json_t *list, const char *uri);

/* A validated authorization request waiting for the citizen to sign in. */
struct idstore_authreq {
	char client_id[IDSTORE_CLIENT_ID_MAX + 1];
	char redirect_uri[IDSTORE_URI_MAX + 1];
	char scope[IDSTORE_SCOPE_MAX + 1];
	char state[IDSTORE_STATE_MAX + 1];
	char nonce[IDSTORE_STATE_MAX + 1];
	char code_challenge[IDSTORE_CHALLENGE_MAX + 1];
	char lang[4];
	int has_state, has_nonce;
	time_t created;
};
int idstore_authreq_put(struct idstore *st, const char *tx_hash, const struct idstore_authreq *r);
/* NDX_ENOTFOUND when unknown or older than max_age seconds at now. */
int idstore_authreq_get(struct idstore *st, const char *tx_hash, time_t now, time_t max_age,
			struct idstore_authreq *out);
int idstore_authreq_delete(struct idstore *st, const char *tx_hash);

/* An authorization code: what it was issued for. */
struct idstore_code {
	struct idstore_authreq req; /* created = issue time; lang unused */
	char pin[NDX_PIN_LEN + 1];
	time_t auth_time;
	time_t exp;
	char sid[IDSTORE_HASH_HEX]; /* the SSO session's sid claim, "" when none */
};
int idstore_code_put(struct idstore *st, const char *code_hash, const struct idstore_code *c);
/* Uses up a code: NDX_OK with *out filled the first time; NDX_ENOTFOUND
 * for an unknown code; NDX_EEXPIRED past its exp (it is used up all the
 * same); NDX_EEXIST for a code used before, in which case the access token
 * issued from it is revoked (and one issued later will be born revoked). */
int idstore_code_redeem(struct idstore *st, const char *code_hash, time_t now,
			struct idstore_code *out);

struct idstore_token {
	char pin[NDX_PIN_LEN + 1];
	char client_id[IDSTORE_CLIENT_ID_MAX + 1];
	char scope[IDSTORE_SCOPE_MAX + 1];
	time_t exp;
};
/* Records an access token issued from code_hash. */
int idstore_token_put(struct idstore *st, const char *token_hash, const char *code_hash,
		      const struct idstore_token *t);
/* NDX_ENOTFOUND, NDX_EEXPIRED or NDX_EREVOKED when it may not be used. */
int idstore_token_get(struct idstore *st, const char *token_hash, time_t now,
		      struct idstore_token *out);

/* SSO sessions, expiring idle seconds after their last use. */
int idstore_session_put(struct idstore *st, const char *sid_hash, const char *pin,
			time_t auth_time);
/* Checks and refreshes a session: NDX_OK with pin and *auth_time set,
 * NDX_ENOTFOUND when unknown, ended or idle too long. */
int idstore_session_use(struct idstore *st, const char *sid_hash, time_t now, time_t idle,
			char pin[NDX_PIN_LEN + 1], time_t *auth_time);
int idstore_session_end(struct idstore *st, const char *sid_hash);

/* Failed sign-ins, for the throttle (signin_throttle.h): the counts since
 * `since` for account (a PIN as typed, with or without an account) and
 * source (signin_source); a failure noted at now; account's failures from
 * source forgotten after a success there. */
int idstore_signin_counts(struct idstore *st, const char *account, const char *source,
			  time_t since, struct signin_counts *out);
int idstore_signin_failed(struct idstore *st, const char *account, const char *source,
			  time_t now);
void idstore_signin_ok(struct idstore *st, const char *account, const char *source);

/* Deletes what expired before now: requests older than authreq_age, codes,
 * tokens, sessions idle for idle seconds, sign-in failures older than
 * window. Best effort. */
void idstore_purge(struct idstore *st, time_t now, time_t authreq_age, time_t idle,
		   time_t window);

#endif
