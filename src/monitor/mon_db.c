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

const struct ndx_sqldb_desc mstore_db_desc = {
	.prog = PROG,
	.what = "monitoring service",
	.init_key = "kind",
	.migrations = MIGRATIONS,
	.n_migrations = sizeof MIGRATIONS / sizeof *MIGRATIONS,
	.pg_schema = NULL,
	.n_pg_schema = 0,
	.serve_lock = NULL,
};

int64_t mstore_int(const json_t *row, const char *col)
{
	const json_t *v = json_object_get(row, col);

	/* PostgreSQL's sums and averages arrive as numeric text */
	if (json_is_string(v))
		return strtoll(json_string_value(v), NULL, 10);
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}
