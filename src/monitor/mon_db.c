/* monitor.db's tables on ndx/sqldb.h (mstore.h): the SQLite migrations,
 * the list from before the store went through ndx/sqldb.h (an existing
 * monitor.db opens at its version and goes on from there), and the helper
 * every module reading its rows uses. In a file of its own so that the
 * indicators' library, which reads monitor.db without mstore.c, has it. */
#include <stdlib.h>

#include "misuse.h"
#include "mstore.h"

#define PROG "ndx-monitor"

/* SQLite: migrations[i] is schema version i + 1; append, never edit. */
static const char *const MIGRATIONS[] = {
	"CREATE TABLE records(gateway TEXT NOT NULL, seq INTEGER NOT NULL,"
	" role TEXT NOT NULL, message_id TEXT, client TEXT, client_member TEXT,"
	" service TEXT, service_member TEXT, client_gateway TEXT, service_gateway TEXT,"
	" method TEXT, path_template TEXT, request_in_ms INTEGER NOT NULL,"
	" request_out_ms INTEGER, response_in_ms INTEGER, response_out_ms INTEGER,"
	" request_size INTEGER, response_size INTEGER, success INTEGER NOT NULL,"
	" error_type TEXT, status INTEGER, duration_ms INTEGER, own_ms INTEGER,"
	" peer_ms INTEGER, provider_ms INTEGER, purpose TEXT, personal INTEGER NOT NULL,"
	" PRIMARY KEY(gateway, seq)) WITHOUT ROWID;"
	"CREATE INDEX records_time ON records(request_in_ms);"
	"CREATE INDEX records_message ON records(message_id, client, service);"
	"CREATE TABLE gateways(name TEXT PRIMARY KEY, member TEXT NOT NULL,"
	" last_poll_ms INTEGER, last_ok_ms INTEGER, last_error TEXT,"
	" records INTEGER NOT NULL DEFAULT 0);",
	/* 2: the gateway's own state from its health answer (JSON, as sent). */
	"ALTER TABLE gateways ADD COLUMN state TEXT;"
	"ALTER TABLE gateways ADD COLUMN state_ms INTEGER;",
	/* 3: the highest seq seen of each gateway, kept or refused, so that
	 * neither refused records nor pruning make the collector ask again. */
	"ALTER TABLE gateways ADD COLUMN cursor INTEGER NOT NULL DEFAULT 0;"
	"UPDATE gateways SET cursor = (SELECT COALESCE(MAX(seq), 0) FROM records"
	" WHERE records.gateway = gateways.name);",
	/* 4: misuse detection (misuse.h: the personal reads, the procedures
	 * and mandates that explain them, the detector's findings) and the
	 * cases made of findings (cases.h): a case per finding, its history,
	 * its evidence (each read's inclusion proof as the gateway gave it,
	 * or why it could not be had), and how far each gateway's personal
	 * reads have been collected. */
	MISUSE_SCHEMA_SQL
	"CREATE TABLE access_cursors(gateway TEXT PRIMARY KEY, after INTEGER NOT NULL);"
	"CREATE TABLE cases(id INTEGER PRIMARY KEY,"
	" finding_id INTEGER NOT NULL UNIQUE REFERENCES findings(id), kind TEXT NOT NULL,"
	" state TEXT NOT NULL CHECK(state IN ('open', 'escalated', 'confirmed', 'dismissed')),"
	" client TEXT NOT NULL, client_member TEXT NOT NULL, user_id TEXT NOT NULL,"
	" subject TEXT NOT NULL, opened_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL,"
	" why TEXT NOT NULL);"
	"CREATE INDEX cases_state ON cases(state, id);"
	"CREATE INDEX cases_member ON cases(client_member, id);"
	"CREATE TABLE case_events(case_id INTEGER NOT NULL, seq INTEGER NOT NULL,"
	" at_ms INTEGER NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,"
	" reason TEXT NOT NULL, PRIMARY KEY(case_id, seq)) WITHOUT ROWID;"
	"CREATE TABLE case_evidence(case_id INTEGER NOT NULL, read_id INTEGER NOT NULL,"
	" proof TEXT, proof_error TEXT, fetched_ms INTEGER, gateway_key TEXT,"
	" attempts INTEGER NOT NULL DEFAULT 0, done INTEGER NOT NULL DEFAULT 0,"
	" PRIMARY KEY(case_id, read_id)) WITHOUT ROWID;"
	"CREATE INDEX case_evidence_pending ON case_evidence(case_id, read_id) WHERE done = 0;",
	/* 5: the registries' four measures (mmeasures.h): each finished
	 * reconciliation run's counts per table, as the registry's measures
	 * service answered them, and how far each service has been read. */
	"CREATE TABLE registry_measures(service TEXT NOT NULL, member TEXT NOT NULL,"
	" sector TEXT NOT NULL, tbl TEXT NOT NULL, run INTEGER NOT NULL,"
	" started_at TEXT NOT NULL, finished_at TEXT NOT NULL, finished_ms INTEGER NOT NULL,"
	" records INTEGER NOT NULL, accurate INTEGER NOT NULL, sufficient INTEGER NOT NULL,"
	" clean INTEGER NOT NULL, live INTEGER NOT NULL, collected_ms INTEGER NOT NULL,"
	" PRIMARY KEY(service, run, tbl)) WITHOUT ROWID;"
	"CREATE INDEX registry_measures_time ON registry_measures(finished_ms);"
	"CREATE TABLE registry_cursors(service TEXT PRIMARY KEY, member TEXT NOT NULL,"
	" after INTEGER NOT NULL DEFAULT 0, last_poll_ms INTEGER, last_ok_ms INTEGER,"
	" last_error TEXT);",
	/* 6: the meta table of ndx/sqldb.h, marking the database as a
	 * monitoring service's (an older monitor.db gets it as it opens). */
	"CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"INSERT INTO meta(key, value) VALUES('kind', 'monitor');",
};

/* PostgreSQL: version 1 is the whole schema (SQLite's six migrations
 * together), in PostgreSQL types: bigint times and counts, text COLLATE "C"
 * for what is compared or ordered (as SQLite compares bytes), identity
 * columns for the ids SQLite numbered (reads, mandates, findings, cases:
 * one writer at a time, so ids are committed in their order, which the
 * detector's "reads above the last analysed id" relies on). */
#define T "text COLLATE \"C\""
#define ID "bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"

static const char schema_v1[] =
	"CREATE TABLE IF NOT EXISTS meta(key " T " PRIMARY KEY, value text NOT NULL);"
	"CREATE TABLE records(gateway " T " NOT NULL, seq bigint NOT NULL,"
	" role " T " NOT NULL, message_id " T ", client " T ", client_member " T ","
	" service " T ", service_member " T ", client_gateway " T ", service_gateway " T ","
	" method " T ", path_template " T ", request_in_ms bigint NOT NULL,"
	" request_out_ms bigint, response_in_ms bigint, response_out_ms bigint,"
	" request_size bigint, response_size bigint, success bigint NOT NULL,"
	" error_type " T ", status bigint, duration_ms bigint, own_ms bigint,"
	" peer_ms bigint, provider_ms bigint, purpose " T ", personal bigint NOT NULL,"
	" PRIMARY KEY(gateway, seq));"
	"CREATE INDEX records_time ON records(request_in_ms);"
	"CREATE INDEX records_message ON records(message_id, client, service);"
	"CREATE TABLE gateways(name " T " PRIMARY KEY, member " T " NOT NULL,"
	" last_poll_ms bigint, last_ok_ms bigint, last_error text,"
	" records bigint NOT NULL DEFAULT 0, state text, state_ms bigint,"
	" cursor bigint NOT NULL DEFAULT 0);"
	"CREATE TABLE reads(id " ID ", gateway " T " NOT NULL,"
	" seq bigint NOT NULL, time_ms bigint NOT NULL, message_id " T " NOT NULL,"
	" client " T " NOT NULL, client_member " T " NOT NULL, service " T " NOT NULL,"
	" method " T " NOT NULL, purpose " T " NOT NULL, status bigint NOT NULL,"
	" user_id " T " NOT NULL, issue " T " NOT NULL, own bigint NOT NULL,"
	" event bigint NOT NULL, consent bigint NOT NULL, error_type " T " NOT NULL,"
	" UNIQUE(gateway, seq));"
	"CREATE INDEX reads_time ON reads(time_ms);"
	"CREATE INDEX reads_client_time ON reads(client, time_ms);"
	"CREATE TABLE read_subjects(read_id bigint NOT NULL, subject " T " NOT NULL,"
	" PRIMARY KEY(read_id, subject));"
	"CREATE INDEX read_subjects_subject ON read_subjects(subject, read_id);"
	"CREATE TABLE procedures(id " T " PRIMARY KEY, kind " T " NOT NULL,"
	" subject " T " NOT NULL, agency " T " NOT NULL, opened_ms bigint NOT NULL,"
	" closed_ms bigint);"
	"CREATE INDEX procedures_subject ON procedures(subject);"
	"CREATE TABLE mandates(id " ID ", client " T " NOT NULL,"
	" service " T " NOT NULL, purpose " T " NOT NULL, basis text NOT NULL,"
	" created_ms bigint NOT NULL, UNIQUE(client, service, purpose));"
	"CREATE TABLE explanations(read_id bigint PRIMARY KEY, how " T " NOT NULL,"
	" ref " T " NOT NULL);"
	"CREATE TABLE findings(id " ID ", kind " T " NOT NULL,"
	" key " T " NOT NULL UNIQUE, client " T " NOT NULL, user_id " T " NOT NULL,"
	" subject " T " NOT NULL, from_ms bigint NOT NULL, to_ms bigint NOT NULL,"
	" why text NOT NULL, created_ms bigint NOT NULL,"
	" dismissed bigint NOT NULL DEFAULT 0);"
	"CREATE TABLE finding_reads(finding_id bigint NOT NULL, read_id bigint NOT NULL,"
	" PRIMARY KEY(finding_id, read_id));"
	"CREATE TABLE misuse_state(k " T " PRIMARY KEY, v bigint NOT NULL);"
	"CREATE TABLE access_cursors(gateway " T " PRIMARY KEY, after bigint NOT NULL);"
	"CREATE TABLE cases(id " ID ","
	" finding_id bigint NOT NULL UNIQUE REFERENCES findings(id), kind " T " NOT NULL,"
	" state " T " NOT NULL CHECK(state IN ('open', 'escalated', 'confirmed', 'dismissed')),"
	" client " T " NOT NULL, client_member " T " NOT NULL, user_id " T " NOT NULL,"
	" subject " T " NOT NULL, opened_ms bigint NOT NULL, updated_ms bigint NOT NULL,"
	" why text NOT NULL);"
	"CREATE INDEX cases_state ON cases(state, id);"
	"CREATE INDEX cases_member ON cases(client_member, id);"
	"CREATE TABLE case_events(case_id bigint NOT NULL, seq bigint NOT NULL,"
	" at_ms bigint NOT NULL, actor text NOT NULL, action " T " NOT NULL,"
	" reason text NOT NULL, PRIMARY KEY(case_id, seq));"
	"CREATE TABLE case_evidence(case_id bigint NOT NULL, read_id bigint NOT NULL,"
	" proof text, proof_error text, fetched_ms bigint, gateway_key text,"
	" attempts bigint NOT NULL DEFAULT 0, done bigint NOT NULL DEFAULT 0,"
	" PRIMARY KEY(case_id, read_id));"
	"CREATE INDEX case_evidence_pending ON case_evidence(case_id, read_id) WHERE done = 0;"
	"CREATE TABLE registry_measures(service " T " NOT NULL, member " T " NOT NULL,"
	" sector " T " NOT NULL, tbl " T " NOT NULL, run bigint NOT NULL,"
	" started_at text NOT NULL, finished_at text NOT NULL, finished_ms bigint NOT NULL,"
	" records bigint NOT NULL, accurate bigint NOT NULL, sufficient bigint NOT NULL,"
	" clean bigint NOT NULL, live bigint NOT NULL, collected_ms bigint NOT NULL,"
	" PRIMARY KEY(service, run, tbl));"
	"CREATE INDEX registry_measures_time ON registry_measures(finished_ms);"
	"CREATE TABLE registry_cursors(service " T " PRIMARY KEY, member " T " NOT NULL,"
	" after bigint NOT NULL DEFAULT 0, last_poll_ms bigint, last_ok_ms bigint,"
	" last_error text);"
	"INSERT INTO meta(key, value) VALUES('pg_schema', '1');";

#undef ID
#undef T

/* Schema n (1-based) is made by pg_schema[n-1] from n-1; append, never edit. */
static const char *const PG_SCHEMA[] = { schema_v1 };

/* The tables, the same for both descriptors below. */
#define MSTORE_TABLES                                                          \
	.prog = PROG, .what = "monitoring service", .init_key = "kind",        \
	.migrations = MIGRATIONS,                                              \
	.n_migrations = sizeof MIGRATIONS / sizeof *MIGRATIONS,                \
	.pg_schema = PG_SCHEMA, .n_pg_schema = sizeof PG_SCHEMA / sizeof *PG_SCHEMA

const struct ndx_sqldb_desc mstore_db_desc = { MSTORE_TABLES, .serve_lock = NULL };

/* `serve` holds the schema's session lock while it runs: a second collector
 * on one schema would fetch every record again and race the first for the
 * cursors. The other commands (report, indicator list, mandate) read or
 * write beside it, so they open with mstore_db_desc. SQLite has no such
 * lock; docs/scale.md says to run one serve per file. */
const struct ndx_sqldb_desc mstore_serve_desc = { MSTORE_TABLES,
						  .serve_lock = "ndx-monitor-serve" };

