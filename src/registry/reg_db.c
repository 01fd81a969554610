/* The registry's database (ndx/sqldb.h, reg_db.h): its tables on
 * SQLite (migrations numbered by PRAGMA user_version) and on PostgreSQL
 * (schema versions in the meta row pg_schema), the engines being libndx's. */
#include "reg_db.h"

#include <stddef.h>

/* The marketplace's tables in either engine's types (text, number); IF
 * NOT EXISTS so that a replayed migration (as the store's tests do) passes.
 * A member's credentials live apart from the admins' so that an admin
 * credential can never be read as a member's, nor the reverse. */
#define MARKET_TABLES(T, N)                                                                     \
	"CREATE TABLE IF NOT EXISTS member_tokens(name " T " PRIMARY KEY, sha256 " T " NOT NULL," \
	" member " T " NOT NULL, created_at " T " NOT NULL);"                                   \
	"CREATE TABLE IF NOT EXISTS datasets(id " T " PRIMARY KEY, service " T " NOT NULL UNIQUE,"           \
	" provider " T " NOT NULL, description " T " NOT NULL, created_at " T " NOT NULL);"     \
	"CREATE TABLE IF NOT EXISTS offers(id " T " PRIMARY KEY, dataset " T " NOT NULL,"                     \
	" policy " T " NOT NULL, classes " N " NOT NULL, position " N " NOT NULL,"             \
	" created_at " T " NOT NULL);"                                                          \
	"CREATE INDEX IF NOT EXISTS offers_dataset ON offers(dataset);"                                       \
	"CREATE TABLE IF NOT EXISTS negotiations(provider_pid " T " PRIMARY KEY,"                             \
	" consumer_pid " T " NOT NULL UNIQUE, consumer " T " NOT NULL, client " T " NOT NULL,"  \
	" provider " T " NOT NULL, dataset " T " NOT NULL, service " T " NOT NULL,"             \
	" offer_id " T " NOT NULL, policy " T " NOT NULL, offered_by " T " NOT NULL,"           \
	" state " T " NOT NULL, callback " T " NOT NULL, agreement_id " T " UNIQUE,"            \
	" agreement " T ", agreement_state " T ", not_after " N ","                             \
	" created_at " T " NOT NULL, updated_at " T " NOT NULL);"                              \
	"CREATE INDEX IF NOT EXISTS negotiations_consumer ON negotiations(consumer);"                         \
	"CREATE INDEX IF NOT EXISTS negotiations_provider ON negotiations(provider);"                         \
	"CREATE INDEX IF NOT EXISTS negotiations_agreement ON negotiations(agreement_state);"

/* The console's officials: an e-ID subject (the personal identification
 * number), the name shown in the console and the audit trail, and a role
 * (operator, auditor, agency or dpo). */
#define OFFICIALS_TABLE(T)                                                                         \
	"CREATE TABLE IF NOT EXISTS officials(subject " T " PRIMARY KEY, name " T " NOT NULL,"        \
	" role " T " NOT NULL, created_at " T " NOT NULL);"
/* The member an agency administrator administers, a row for each of them. */
#define OFFICIAL_MEMBERS_TABLE(T)                                                                  \
	"CREATE TABLE IF NOT EXISTS official_members(subject " T " PRIMARY KEY,"                   \
	" member " T " NOT NULL);"

/* The signing keys rotations replaced, per gateway (both engines). */
#define RETIRED_KEYS_TABLE(TEXT, INT) \
	"CREATE TABLE IF NOT EXISTS retired_gateway_keys(member " TEXT " NOT NULL," \
	" code " TEXT " NOT NULL, sign_key_id " TEXT " NOT NULL, sign_key " TEXT " NOT NULL," \
	" retired_ms " INT " NOT NULL, PRIMARY KEY(member, code, sign_key_id));"

/* The marketplace's invoices (docs/marketplace.md "Invoices and
 * clearing"): one per statement (its hash) and per agreement and period,
 * its reference the payment reference, the invoice document as JSON text,
 * and the bank's receipt that paid it (one transaction pays one invoice). */
#define INVOICES_TABLE(TEXT, INT) \
	"CREATE TABLE IF NOT EXISTS market_invoices(reference " TEXT " PRIMARY KEY," \
	" agreement_id " TEXT " NOT NULL, seller " TEXT " NOT NULL, buyer " TEXT " NOT NULL," \
	" from_ms " INT " NOT NULL, to_ms " INT " NOT NULL, amount_vnd " INT " NOT NULL," \
	" statement_hash " TEXT " NOT NULL UNIQUE, invoice " TEXT " NOT NULL," \
	" created_at " TEXT " NOT NULL, paid_at " TEXT ", paid_bank_bin " TEXT "," \
	" paid_txn_id " TEXT ", UNIQUE(agreement_id, from_ms, to_ms)," \
	" UNIQUE(paid_bank_bin, paid_txn_id));" \
	"CREATE INDEX IF NOT EXISTS market_invoices_seller ON market_invoices(seller);" \
	"CREATE INDEX IF NOT EXISTS market_invoices_buyer ON market_invoices(buyer);"

/* Signed negotiation messages (docs/marketplace.md "Signed negotiations"):
 * each accepted message's JWS text in its negotiation's order (seq from 1),
 * its sender and its hash (what the next message's ndx:previous names). */
#define NEG_MESSAGES_TABLE(TEXT, INT) \
	"CREATE TABLE IF NOT EXISTS negotiation_messages(provider_pid " TEXT " NOT NULL," \
	" seq " INT " NOT NULL, sender " TEXT " NOT NULL, hash " TEXT " NOT NULL UNIQUE," \
	" jws " TEXT " NOT NULL, created_at " TEXT " NOT NULL, PRIMARY KEY(provider_pid, seq));"

/* Migration n (1-based) is migrations[n-1]; append, never edit. The
 * PostgreSQL schema (below) is the same tables. */
static const char *const migrations[] = {
	"CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"CREATE TABLE members(id TEXT PRIMARY KEY, name TEXT NOT NULL,"
	" created_at TEXT NOT NULL);"
	"CREATE TABLE subsystems(id TEXT PRIMARY KEY, member TEXT NOT NULL,"
	" created_at TEXT NOT NULL);"
	"CREATE INDEX subsystems_member ON subsystems(member);"
	"CREATE TABLE gateways(member TEXT NOT NULL, code TEXT NOT NULL,"
	" address TEXT NOT NULL, sign_key TEXT NOT NULL, sign_key_id TEXT NOT NULL,"
	" tls_cert TEXT NOT NULL, tls_cert_sha256 TEXT NOT NULL, created_at TEXT NOT NULL,"
	" PRIMARY KEY(member, code));"
	"CREATE TABLE services(id TEXT PRIMARY KEY, subsystem TEXT NOT NULL,"
	" title TEXT NOT NULL, personal INTEGER NOT NULL, purposes TEXT NOT NULL,"
	" consent_required INTEGER NOT NULL, openapi TEXT, openapi_sha256 TEXT,"
	" created_at TEXT NOT NULL);"
	"CREATE INDEX services_subsystem ON services(subsystem);"
	"CREATE TABLE grants(id INTEGER PRIMARY KEY AUTOINCREMENT, client TEXT NOT NULL,"
	" service TEXT NOT NULL, methods TEXT NOT NULL, paths TEXT NOT NULL,"
	" created_at TEXT NOT NULL);"
	"CREATE INDEX grants_client ON grants(client);"
	"CREATE INDEX grants_service ON grants(service);"
	"CREATE TABLE revocations(id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL,"
	" value TEXT NOT NULL, reason TEXT NOT NULL, revoked_at TEXT NOT NULL,"
	" UNIQUE(kind, value));"
	"CREATE TABLE admin_tokens(name TEXT PRIMARY KEY, sha256 TEXT NOT NULL,"
	" created_at TEXT NOT NULL);"
	"CREATE TABLE audit(seq INTEGER PRIMARY KEY AUTOINCREMENT, time TEXT NOT NULL,"
	" actor TEXT NOT NULL, remote TEXT NOT NULL, action TEXT NOT NULL,"
	" object TEXT NOT NULL, detail TEXT NOT NULL);",
	"CREATE TABLE consent_services(id TEXT PRIMARY KEY, url TEXT NOT NULL,"
	" sign_key TEXT NOT NULL, sign_key_id TEXT NOT NULL, created_at TEXT NOT NULL);",
	/* Issue 13: bulk reads, embargoed purposes, the national e-ID's keys. */
	"ALTER TABLE services ADD COLUMN bulk_purposes TEXT NOT NULL DEFAULT '[]';"
	"CREATE TABLE embargoes(purpose TEXT PRIMARY KEY, seconds INTEGER NOT NULL,"
	" created_at TEXT NOT NULL, updated_at TEXT NOT NULL);"
	"CREATE TABLE id_providers(issuer TEXT PRIMARY KEY, sign_key TEXT NOT NULL,"
	" sign_key_id TEXT NOT NULL, created_at TEXT NOT NULL);",
	/* Issue 14, finding 12: the tree heads the registry witnessed (reg_witness.c). */
	"CREATE TABLE witnessed(gateway TEXT NOT NULL, batch INTEGER NOT NULL,"
	" sth_hash TEXT NOT NULL, time_ms INTEGER NOT NULL, PRIMARY KEY(gateway, batch));",
	/* Issue 17: event types of services and the subscriptions to them. IF NOT
	 * EXISTS so that a database whose later migrations are replayed (the
	 * migration tests of earlier issues do that) opens as well. */
	"CREATE TABLE IF NOT EXISTS event_types(service TEXT NOT NULL, name TEXT NOT NULL, title TEXT,"
	" schema TEXT NOT NULL, created_at TEXT NOT NULL, PRIMARY KEY(service, name));"
	"CREATE TABLE IF NOT EXISTS subscriptions(id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" client TEXT NOT NULL, service TEXT NOT NULL, event TEXT NOT NULL, purpose TEXT,"
	" retry_first_s INTEGER NOT NULL, retry_max_s INTEGER NOT NULL,"
	" give_up_after_s INTEGER NOT NULL, created_at TEXT NOT NULL,"
	" UNIQUE(client, service, event));"
	"CREATE INDEX IF NOT EXISTS subscriptions_event ON subscriptions(service, event);",
	/* Issue 20: when the configuration version last changed (Unix
	 * seconds), from which every registry node on one database derives
	 * the same generated_at (confgen.c). A database made before it takes
	 * the time of the migration. */
	"INSERT OR IGNORE INTO meta(key, value) SELECT 'conf_changed_at',"
	" CAST(strftime('%s', 'now') AS TEXT) WHERE EXISTS"
	" (SELECT 1 FROM meta WHERE key = 'instance');",
	/* Issue 23: the data marketplace (reg_market.c): member credentials,
	 * the catalogue's datasets and offers, the contract negotiations and
	 * the agreements they end in. */
	MARKET_TABLES("TEXT", "INTEGER"),
	/* Issue 21: the officials who sign in to the console with the e-ID
	 * (docs/console.md "Roles"). */
	OFFICIALS_TABLE("TEXT"),
	/* Issue 21: an agency administrator's member (docs/console.md
	 * "Roles"), a table of its own so that a replayed migration passes. */
	OFFICIAL_MEMBERS_TABLE("TEXT"),
	/* Issue 23: event types as datasets (docs/marketplace.md "Event types
	 * as datasets"). A dataset is now of a service or of one of its event
	 * types, unique per (service, event) ('' for the service itself), so
	 * the catalogue moves to market_datasets; SQLite cannot drop the old
	 * column's UNIQUE in place. The old table is emptied, not dropped: a
	 * replayed migration (the store's tests replay later ones) then copies
	 * nothing and loses nothing. An event type's negotiation names its
	 * event in negotiation_events, so that its agreement stays a
	 * subscription after the dataset is withdrawn. */
	"CREATE TABLE IF NOT EXISTS market_datasets(id TEXT PRIMARY KEY, service TEXT NOT NULL,"
	" event TEXT NOT NULL DEFAULT '', provider TEXT NOT NULL, description TEXT NOT NULL,"
	" created_at TEXT NOT NULL, UNIQUE(service, event));"
	"INSERT OR IGNORE INTO market_datasets(id, service, provider, description, created_at)"
	" SELECT id, service, provider, description, created_at FROM datasets;"
	"DELETE FROM datasets;"
	"CREATE TABLE IF NOT EXISTS negotiation_events(provider_pid TEXT PRIMARY KEY,"
	" event TEXT NOT NULL);",
	/* Issue 21: a gateway's signing keys replaced by a rotation, each with
	 * when it was replaced, so that the tree heads it signed before then
	 * are still witnessed (docs/registry-api.md "Key and certificate
	 * rotation"). */
	RETIRED_KEYS_TABLE("TEXT", "INTEGER"),
	/* Issue 23: invoices recorded and cleared by bank receipts
	 * (docs/marketplace.md "Invoices and clearing"). */
	INVOICES_TABLE("TEXT", "INTEGER"),
	/* Issue 23: negotiation messages signed by the members' gateway keys
	 * (docs/marketplace.md "Signed negotiations"). */
	NEG_MESSAGES_TABLE("TEXT", "INTEGER"),
};

/* The same tables in PostgreSQL types: bigint for numbers and counters
 * (identity columns where SQLite has AUTOINCREMENT), text in the "C"
 * collation for the rest, so that every ORDER BY sorts byte-wise as SQLite
 * does. */
#define T "text COLLATE \"C\""

/* Version 1: the SQLite engine's schema at its migration 6. */
static const char schema_v1[] =
	"CREATE TABLE IF NOT EXISTS meta(key " T " PRIMARY KEY, value text NOT NULL);"
	"CREATE TABLE members(id " T " PRIMARY KEY, name " T " NOT NULL,"
	" created_at " T " NOT NULL);"
	"CREATE TABLE subsystems(id " T " PRIMARY KEY, member " T " NOT NULL,"
	" created_at " T " NOT NULL);"
	"CREATE INDEX subsystems_member ON subsystems(member);"
	"CREATE TABLE gateways(member " T " NOT NULL, code " T " NOT NULL,"
	" address " T " NOT NULL, sign_key " T " NOT NULL, sign_key_id " T " NOT NULL,"
	" tls_cert " T " NOT NULL, tls_cert_sha256 " T " NOT NULL, created_at " T " NOT NULL,"
	" PRIMARY KEY(member, code));"
	"CREATE TABLE services(id " T " PRIMARY KEY, subsystem " T " NOT NULL,"
	" title " T " NOT NULL, personal bigint NOT NULL, purposes " T " NOT NULL,"
	" consent_required bigint NOT NULL, openapi text, openapi_sha256 " T ","
	" created_at " T " NOT NULL, bulk_purposes " T " NOT NULL DEFAULT '[]');"
	"CREATE INDEX services_subsystem ON services(subsystem);"
	"CREATE TABLE grants(id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
	" client " T " NOT NULL, service " T " NOT NULL, methods " T " NOT NULL,"
	" paths " T " NOT NULL, created_at " T " NOT NULL);"
	"CREATE INDEX grants_client ON grants(client);"
	"CREATE INDEX grants_service ON grants(service);"
	"CREATE TABLE revocations(id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
	" kind " T " NOT NULL, value " T " NOT NULL, reason " T " NOT NULL,"
	" revoked_at " T " NOT NULL, UNIQUE(kind, value));"
	"CREATE TABLE admin_tokens(name " T " PRIMARY KEY, sha256 " T " NOT NULL,"
	" created_at " T " NOT NULL);"
	"CREATE TABLE audit(seq bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
	" time " T " NOT NULL, actor " T " NOT NULL, remote " T " NOT NULL,"
	" action " T " NOT NULL, object " T " NOT NULL, detail text NOT NULL);"
	"CREATE TABLE consent_services(id " T " PRIMARY KEY, url " T " NOT NULL,"
	" sign_key " T " NOT NULL, sign_key_id " T " NOT NULL, created_at " T " NOT NULL);"
	"CREATE TABLE embargoes(purpose " T " PRIMARY KEY, seconds bigint NOT NULL,"
	" created_at " T " NOT NULL, updated_at " T " NOT NULL);"
	"CREATE TABLE id_providers(issuer " T " PRIMARY KEY, sign_key " T " NOT NULL,"
	" sign_key_id " T " NOT NULL, created_at " T " NOT NULL);"
	"CREATE TABLE witnessed(gateway " T " NOT NULL, batch bigint NOT NULL,"
	" sth_hash " T " NOT NULL, time_ms bigint NOT NULL, PRIMARY KEY(gateway, batch));"
	"CREATE TABLE event_types(service " T " NOT NULL, name " T " NOT NULL, title " T ","
	" schema text NOT NULL, created_at " T " NOT NULL, PRIMARY KEY(service, name));"
	"CREATE TABLE subscriptions(id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
	" client " T " NOT NULL, service " T " NOT NULL, event " T " NOT NULL, purpose " T ","
	" retry_first_s bigint NOT NULL, retry_max_s bigint NOT NULL,"
	" give_up_after_s bigint NOT NULL, created_at " T " NOT NULL,"
	" UNIQUE(client, service, event));"
	"CREATE INDEX subscriptions_event ON subscriptions(service, event);"
	"INSERT INTO meta(key, value) VALUES('pg_schema', '1');";

/* Version 2: the SQLite engine's migration 7 (the data marketplace). */
static const char schema_v2[] =
	MARKET_TABLES(T, "bigint");

/* Version 3: the SQLite engine's migration 8 (the console's officials). */
static const char schema_v3[] =
	OFFICIALS_TABLE(T);

/* Version 4: the SQLite engine's migration 9 (an agency administrator's
 * member). */
static const char schema_v4[] =
	OFFICIAL_MEMBERS_TABLE(T);

/* Version 5: the SQLite engine's migration 10 (event types as datasets);
 * PostgreSQL renames and changes the table in place. */
static const char schema_v5[] =
	"ALTER TABLE datasets RENAME TO market_datasets;"
	"ALTER TABLE market_datasets ADD COLUMN event " T " NOT NULL DEFAULT '';"
	"ALTER TABLE market_datasets DROP CONSTRAINT datasets_service_key;"
	"ALTER TABLE market_datasets ADD CONSTRAINT market_datasets_service_event"
	" UNIQUE(service, event);"
	"CREATE TABLE negotiation_events(provider_pid " T " PRIMARY KEY, event " T " NOT NULL);";

/* Version 6: the SQLite engine's migration 11 (the retired signing keys). */
static const char schema_v6[] =
	RETIRED_KEYS_TABLE(T, "bigint");

/* Version 7: the SQLite engine's migration 12 (the marketplace's invoices). */
static const char schema_v7[] =
	INVOICES_TABLE(T, "bigint");

/* Version 8: the SQLite engine's migration 13 (signed negotiation messages). */
static const char schema_v8[] =
	NEG_MESSAGES_TABLE(T, "bigint");

/* Schema n (1-based) is made by SCHEMA[n-1] from n-1; append, never edit. */
static const char *const pg_schema[] = { schema_v1, schema_v2, schema_v3, schema_v4,
					 schema_v5, schema_v6, schema_v7, schema_v8 };

#undef T

const struct ndx_sqldb_desc reg_db_desc = {
	.prog = "ndx-registry",
	.what = "registry",
	.init_key = "instance",
	.migrations = migrations,
	.n_migrations = sizeof migrations / sizeof *migrations,
	.pg_schema = pg_schema,
	.n_pg_schema = sizeof pg_schema / sizeof *pg_schema,
	.shape_row = reg_shape_row,
};
