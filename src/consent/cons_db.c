/* The consent service's database (ndx/sqldb.h, cons_db.h): its tables on
 * SQLite (migrations numbered by PRAGMA user_version) and on PostgreSQL
 * (schema versions in the meta row pg_schema), the engines being libndx's. */
#include "cons_db.h"

#include <stddef.h>

/* Migration n (1-based) is migrations[n-1]; append, never edit. The
 * PostgreSQL schema (below) is the same tables. */
static const char *const migrations[] = {
	"CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS consents(jti TEXT PRIMARY KEY, subject TEXT NOT NULL,"
	" consumer TEXT NOT NULL, services TEXT NOT NULL, purpose TEXT NOT NULL,"
	" iat INTEGER NOT NULL, nbf INTEGER NOT NULL, exp INTEGER NOT NULL,"
	" jws TEXT NOT NULL, revoked_at INTEGER);"
	"CREATE INDEX IF NOT EXISTS consents_subject ON consents(subject);"
	"CREATE INDEX IF NOT EXISTS consents_revoked ON consents(revoked_at)"
	" WHERE revoked_at IS NOT NULL;",
	/* 2: status lists (docs/protocol.md "Revocation"). Consents issued
	 * before keep NULL: they are version 1 and gateways refuse them. */
	"ALTER TABLE consents ADD COLUMN status_list INTEGER;"
	"ALTER TABLE consents ADD COLUMN status_idx INTEGER;"
	"CREATE UNIQUE INDEX consents_status ON consents(status_list, status_idx);"
	"CREATE INDEX consents_status_revoked ON consents(status_list, status_idx)"
	" WHERE revoked_at IS NOT NULL;"
	"INSERT OR IGNORE INTO meta(key, value) VALUES('status_next', '0');",
};

/* The same tables in PostgreSQL types: bigint for numbers and counters
 * (identity columns where SQLite has AUTOINCREMENT), text in the "C"
 * collation for the rest, so that every ORDER BY sorts byte-wise as SQLite
 * does. */
#define T "text COLLATE \"C\""

/* Version 1: the SQLite engine's schema at its migration 2. */
static const char schema_v1[] =
	"CREATE TABLE IF NOT EXISTS meta(key " T " PRIMARY KEY, value text NOT NULL);"
	"CREATE TABLE consents(jti " T " PRIMARY KEY, subject " T " NOT NULL,"
	" consumer " T " NOT NULL, services text NOT NULL, purpose " T " NOT NULL,"
	" iat bigint NOT NULL, nbf bigint NOT NULL, exp bigint NOT NULL,"
	" jws text NOT NULL, revoked_at bigint, status_list bigint, status_idx bigint);"
	"CREATE INDEX consents_subject ON consents(subject);"
	"CREATE INDEX consents_revoked ON consents(revoked_at) WHERE revoked_at IS NOT NULL;"
	"CREATE UNIQUE INDEX consents_status ON consents(status_list, status_idx);"
	"CREATE INDEX consents_status_revoked ON consents(status_list, status_idx)"
	" WHERE revoked_at IS NOT NULL;"
	"INSERT INTO meta(key, value) VALUES('pg_schema', '1'), ('status_next', '0');";

#undef T

/* Schema n (1-based) is made by SCHEMA[n-1] from n-1; append, never edit. */
static const char *const pg_schema[] = { schema_v1 };

const struct ndx_sqldb_desc cons_db_desc = {
	.prog = "ndx-consent",
	.what = "consent service",
	.init_key = "issuer",
	.migrations = migrations,
	.n_migrations = sizeof migrations / sizeof *migrations,
	.pg_schema = pg_schema,
	.n_pg_schema = sizeof pg_schema / sizeof *pg_schema,
	.serve_lock = "ndx-consent-serve",
};
