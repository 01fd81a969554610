/* ndx-id's database (ndx/sqldb.h, id_db.h): its tables on SQLite
 * (migrations numbered in schema_migrations, ndx/sqlstore.h: the same list
 * as before PostgreSQL, so an existing id.db opens at its version) and on
 * PostgreSQL (schema versions in the meta row pg_schema), the engines
 * being libndx's. */
#include "id_db.h"

#include <stddef.h>

/* migrations[i] is schema version i + 1; append, never edit. */
static const char *const migrations[] = {
	"CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"CREATE TABLE accounts(pin TEXT PRIMARY KEY, password_hash TEXT NOT NULL,"
	" name TEXT NOT NULL, birthdate TEXT NOT NULL, gender TEXT NOT NULL,"
	" updated_at INTEGER NOT NULL);"
	"CREATE TABLE clients(client_id TEXT PRIMARY KEY, secret_sha256 TEXT NOT NULL,"
	" redirect_uris TEXT NOT NULL, post_logout_uris TEXT NOT NULL,"
	" updated_at INTEGER NOT NULL);"
	"CREATE TABLE authreqs(tx_hash TEXT PRIMARY KEY, client_id TEXT NOT NULL,"
	" redirect_uri TEXT NOT NULL, scope TEXT NOT NULL, state TEXT, nonce TEXT,"
	" code_challenge TEXT NOT NULL, lang TEXT NOT NULL, created INTEGER NOT NULL);"
	"CREATE INDEX authreqs_created ON authreqs(created);"
	"CREATE TABLE codes(code_hash TEXT PRIMARY KEY, client_id TEXT NOT NULL,"
	" redirect_uri TEXT NOT NULL, scope TEXT NOT NULL, state TEXT, nonce TEXT,"
	" code_challenge TEXT NOT NULL, pin TEXT NOT NULL, auth_time INTEGER NOT NULL,"
	" created INTEGER NOT NULL, exp INTEGER NOT NULL,"
	" used INTEGER NOT NULL DEFAULT 0, replayed INTEGER NOT NULL DEFAULT 0,"
	" token_hash TEXT);"
	"CREATE INDEX codes_exp ON codes(exp);"
	"CREATE TABLE tokens(token_hash TEXT PRIMARY KEY, pin TEXT NOT NULL,"
	" client_id TEXT NOT NULL, scope TEXT NOT NULL, exp INTEGER NOT NULL,"
	" revoked INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX tokens_exp ON tokens(exp);"
	"CREATE TABLE sessions(sid_hash TEXT PRIMARY KEY, pin TEXT NOT NULL,"
	" auth_time INTEGER NOT NULL, last_seen INTEGER NOT NULL);"
	"CREATE INDEX sessions_seen ON sessions(last_seen);"
	"CREATE TABLE login_failures(key TEXT NOT NULL, at INTEGER NOT NULL);"
	"CREATE INDEX login_failures_key ON login_failures(key, at);"
	"CREATE TABLE lockouts(key TEXT PRIMARY KEY, until INTEGER NOT NULL);",
	/* 2: failures by PIN and source for the throttle that replaced the
	 * lockout (signin_throttle.h). */
	"DROP TABLE login_failures; DROP TABLE lockouts;"
	"CREATE TABLE signin_failures(account TEXT NOT NULL, source TEXT NOT NULL,"
	" at INTEGER NOT NULL);"
	"CREATE INDEX signin_failures_account ON signin_failures(account, at);"
	"CREATE INDEX signin_failures_source ON signin_failures(source, at);",
	/* 3: the ID token algorithm a client registered (RS256 beside EdDSA)
	 * and the sid claim of the session a code was issued from. */
	"ALTER TABLE clients ADD COLUMN id_token_alg TEXT NOT NULL DEFAULT 'EdDSA';"
	"ALTER TABLE codes ADD COLUMN sid TEXT;",
	/* 4: the ids of the events applied, so that a second delivery
	 * changes nothing (docs/id.md "Events"); the accounts' columns
	 * disabled_reason and disabled_on are added by store.c when missing
	 * (a migration run again over a database that has them survives). */
	"CREATE TABLE IF NOT EXISTS events_applied(id TEXT PRIMARY KEY, name TEXT NOT NULL,"
	" applied_at INTEGER NOT NULL, effect TEXT NOT NULL);",
	/* 5: the name a client registered for people (OpenID Connect Dynamic
	 * Client Registration's client_name, and client_name#en), shown on
	 * the sign-in page instead of the client id. */
	"ALTER TABLE clients ADD COLUMN client_name TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE clients ADD COLUMN client_name_en TEXT NOT NULL DEFAULT '';",
	/* 6: the accounts by when they were last written, for the hash whose
	 * cost an unknown PIN's dummy verification copies (store.h
	 * idstore_account_any_hash), read the same way on both engines. */
	"CREATE INDEX IF NOT EXISTS accounts_updated ON accounts(updated_at, pin);",
};

/* The same tables in PostgreSQL types: bigint for times and flags, text
 * in the "C" collation for the rest, so that comparisons and ORDER BY are
 * byte-wise as in SQLite. */
#define T "text COLLATE \"C\""

/* Version 1: the SQLite engine's schema at its migration 6, with the
 * accounts' disabled_reason and disabled_on. */
static const char schema_v1[] =
	"CREATE TABLE IF NOT EXISTS meta(key " T " PRIMARY KEY, value text NOT NULL);"
	"CREATE TABLE accounts(pin " T " PRIMARY KEY, password_hash text NOT NULL,"
	" name text NOT NULL, birthdate " T " NOT NULL, gender " T " NOT NULL,"
	" updated_at bigint NOT NULL, disabled_reason " T ", disabled_on " T ");"
	"CREATE INDEX accounts_updated ON accounts(updated_at, pin);"
	"CREATE TABLE clients(client_id " T " PRIMARY KEY, secret_sha256 " T " NOT NULL,"
	" redirect_uris text NOT NULL, post_logout_uris text NOT NULL,"
	" updated_at bigint NOT NULL, id_token_alg " T " NOT NULL DEFAULT 'EdDSA',"
	" client_name text NOT NULL DEFAULT '', client_name_en text NOT NULL DEFAULT '');"
	"CREATE TABLE authreqs(tx_hash " T " PRIMARY KEY, client_id " T " NOT NULL,"
	" redirect_uri text NOT NULL, scope text NOT NULL, state text, nonce text,"
	" code_challenge text NOT NULL, lang " T " NOT NULL, created bigint NOT NULL);"
	"CREATE INDEX authreqs_created ON authreqs(created);"
	"CREATE TABLE codes(code_hash " T " PRIMARY KEY, client_id " T " NOT NULL,"
	" redirect_uri text NOT NULL, scope text NOT NULL, state text, nonce text,"
	" code_challenge text NOT NULL, pin " T " NOT NULL, auth_time bigint NOT NULL,"
	" created bigint NOT NULL, exp bigint NOT NULL,"
	" used bigint NOT NULL DEFAULT 0, replayed bigint NOT NULL DEFAULT 0,"
	" token_hash " T ", sid " T ");"
	"CREATE INDEX codes_exp ON codes(exp);"
	"CREATE TABLE tokens(token_hash " T " PRIMARY KEY, pin " T " NOT NULL,"
	" client_id " T " NOT NULL, scope text NOT NULL, exp bigint NOT NULL,"
	" revoked bigint NOT NULL DEFAULT 0);"
	"CREATE INDEX tokens_exp ON tokens(exp);"
	"CREATE INDEX tokens_pin ON tokens(pin);"
	"CREATE TABLE sessions(sid_hash " T " PRIMARY KEY, pin " T " NOT NULL,"
	" auth_time bigint NOT NULL, last_seen bigint NOT NULL);"
	"CREATE INDEX sessions_seen ON sessions(last_seen);"
	"CREATE INDEX sessions_pin ON sessions(pin);"
	"CREATE TABLE signin_failures(account " T " NOT NULL, source " T " NOT NULL,"
	" at bigint NOT NULL);"
	"CREATE INDEX signin_failures_account ON signin_failures(account, at);"
	"CREATE INDEX signin_failures_source ON signin_failures(source, at);"
	"CREATE TABLE events_applied(id " T " PRIMARY KEY, name " T " NOT NULL,"
	" applied_at bigint NOT NULL, effect text NOT NULL);"
	"INSERT INTO meta(key, value) VALUES('pg_schema', '1');";

#undef T

/* Schema n (1-based) is made by pg_schema[n-1] from n-1; append, never edit. */
static const char *const pg_schema[] = { schema_v1 };

const struct ndx_sqldb_desc id_db_desc = {
	.prog = "ndx-id",
	.what = "e-ID provider",
	.init_key = "kind",
	.migrations = migrations,
	.n_migrations = sizeof migrations / sizeof *migrations,
	.pg_schema = pg_schema,
	.n_pg_schema = sizeof pg_schema / sizeof *pg_schema,
	.serve_lock = NULL,
};
