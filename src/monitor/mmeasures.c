/* The registries' four measures in monitor.db (mmeasures.h). A run is kept
 * by (service, run, table): an answer read twice after a crash between the
 * fetch and the commit adds nothing. */
#include <stdio.h>
#include <string.h>

#include "mmeasures.h"
#include "ndx/err.h"
#include "ndx/sqlstore.h"
#include "ndx/timefmt.h"

#define PROG "ndx-monitor"
#define SKEW_MS (5 * 60 * 1000)

static const char *const MEASURES[] = { "accurate", "sufficient", "clean", "live" };

int mmeasures_cursor(struct mstore *st, const char *service, uint64_t *after)
{
	sqlite3 *db = mstore_lock(st);
	sqlite3_stmt *s;
	int rc = NDX_OK;

	*after = 0;
	if (sqlite3_prepare_v2(db, "SELECT MAX(COALESCE((SELECT after FROM registry_cursors"
				   " WHERE service = ?1), 0), COALESCE((SELECT MAX(run) FROM"
				   " registry_measures WHERE service = ?1), 0))", -1, &s,
			       NULL) != SQLITE_OK) {
		rc = ndx_sqlstore_fail(db, PROG, "measures cursor");
	} else {
		sqlite3_bind_text(s, 1, service, -1, SQLITE_STATIC);
		if (sqlite3_step(s) == SQLITE_ROW)
			*after = (uint64_t)sqlite3_column_int64(s, 0);
		else
			rc = ndx_sqlstore_fail(db, PROG, "measures cursor");
		sqlite3_finalize(s);
	}
	mstore_unlock(st);
	return rc;
}

static int64_t rfc3339_ms(const json_t *v)
{
	time_t t;

	if (!json_is_string(v) || ndx_time_parse(json_string_value(v), &t) != NDX_OK)
		return -1;
	return (int64_t)t * 1000;
}

static const char *table_refusal(const json_t *t)
{
	const json_t *name = json_object_get(t, "table"), *n = json_object_get(t, "records");

	if (!json_is_string(name) || !json_string_length(name) || json_string_length(name) > 64)
		return "tables[].table: a table name of 1 to 64 bytes";
	if (!json_is_integer(n) || json_integer_value(n) < 0)
		return "tables[].records: a count";
	for (size_t m = 0; m < 4; m++) {
		const json_t *k = json_object_get(json_object_get(t, MEASURES[m]), "records");

		if (!json_is_integer(k) || json_integer_value(k) < 0 ||
		    json_integer_value(k) > json_integer_value(n))
			return "tables[].accurate|sufficient|clean|live.records: a count up to the"
			       " table's records";
	}
	return NULL;
}

const char *mmeasures_run_refusal(const json_t *run, int64_t now_ms)
{
	const json_t *id = json_object_get(run, "run"), *tables = json_object_get(run, "tables"), *t;
	int64_t fin = rfc3339_ms(json_object_get(run, "finished_at"));
	const char *why;
	size_t i;

	if (!json_is_integer(id) || json_integer_value(id) < 1)
		return "run: a run number from 1";
	if (rfc3339_ms(json_object_get(run, "started_at")) < 0)
		return "started_at: an RFC 3339 time";
	if (fin < 0 || fin > now_ms + SKEW_MS)
		return "finished_at: an RFC 3339 time, not in the future";
	if (!json_is_array(tables) || json_array_size(tables) > 64)
		return "tables: a list of at most 64 tables";
	json_array_foreach(tables, i, t)
		if ((why = table_refusal(t)))
			return why;
	return NULL;
}

static int keep_run(sqlite3 *db, sqlite3_stmt *ins, const char *service, const char *member,
		    const char *sector, const json_t *run, int64_t now_ms, size_t *added)
{
	const json_t *t;
	size_t i;

	json_array_foreach(json_object_get(run, "tables"), i, t) {
		sqlite3_reset(ins);
		sqlite3_bind_text(ins, 1, service, -1, SQLITE_STATIC);
		sqlite3_bind_text(ins, 2, member, -1, SQLITE_STATIC);
		sqlite3_bind_text(ins, 3, sector, -1, SQLITE_STATIC);
		sqlite3_bind_text(ins, 4, json_string_value(json_object_get(t, "table")), -1,
				  SQLITE_STATIC);
		sqlite3_bind_int64(ins, 5, json_integer_value(json_object_get(run, "run")));
		sqlite3_bind_text(ins, 6, json_string_value(json_object_get(run, "started_at")), -1,
				  SQLITE_STATIC);
		sqlite3_bind_text(ins, 7, json_string_value(json_object_get(run, "finished_at")), -1,
				  SQLITE_STATIC);
		sqlite3_bind_int64(ins, 8, rfc3339_ms(json_object_get(run, "finished_at")));
		sqlite3_bind_int64(ins, 9, json_integer_value(json_object_get(t, "records")));
		for (int m = 0; m < 4; m++)
			sqlite3_bind_int64(ins, 10 + m,
					   json_integer_value(json_object_get(
						   json_object_get(t, MEASURES[m]), "records")));
		sqlite3_bind_int64(ins, 14, now_ms);
		if (sqlite3_step(ins) != SQLITE_DONE)
			return ndx_sqlstore_fail(db, PROG, "keep measures");
		*added += (size_t)sqlite3_changes(db);
	}
	return NDX_OK;
}

static int set_cursor(sqlite3 *db, const char *service, const char *member, int64_t after,
		      int64_t now_ms, const char *why)
{
	sqlite3_stmt *s;
	int rc = NDX_OK;

	if (sqlite3_prepare_v2(db, "INSERT INTO registry_cursors(service, member, after,"
				   " last_poll_ms, last_ok_ms, last_error) VALUES(?1, ?2, ?3, ?4,"
				   " CASE WHEN ?5 IS NULL THEN ?4 END, ?5) ON CONFLICT(service) DO"
				   " UPDATE SET member = ?2, after = MAX(after, ?3), last_poll_ms = ?4,"
				   " last_ok_ms = CASE WHEN ?5 IS NULL THEN ?4 ELSE last_ok_ms END,"
				   " last_error = ?5", -1, &s, NULL) != SQLITE_OK)
		return ndx_sqlstore_fail(db, PROG, "measures cursor");
	sqlite3_bind_text(s, 1, service, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, member, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, after);
	sqlite3_bind_int64(s, 4, now_ms);
	if (why)
		sqlite3_bind_text(s, 5, why, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, 5);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = ndx_sqlstore_fail(db, PROG, "measures cursor");
	sqlite3_finalize(s);
	return rc;
}

int mmeasures_add(struct mstore *st, const char *service, const char *member,
		  const json_t *answer, int64_t now_ms, size_t *added, size_t *bad)
{
	const char *sector = json_string_value(json_object_get(answer, "sector"));
	const json_t *runs = json_object_get(answer, "runs"), *run;
	sqlite3_stmt *ins = NULL;
	int64_t highest = 0;
	sqlite3 *db;
	const char *why;
	size_t i;
	int rc;

	*added = *bad = 0;
	if (!sector || !sector[0] || strlen(sector) > 64 || !json_is_array(runs))
		return NDX_EINVAL;
	db = mstore_lock(st);
	if ((rc = ndx_sqlstore_exec(db, PROG, "BEGIN IMMEDIATE")) != NDX_OK) {
		mstore_unlock(st);
		return rc;
	}
	if (sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO registry_measures(service, member,"
				   " sector, tbl, run, started_at, finished_at, finished_ms, records,"
				   " accurate, sufficient, clean, live, collected_ms) VALUES(?, ?, ?,"
				   " ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", -1, &ins, NULL) != SQLITE_OK)
		rc = ndx_sqlstore_fail(db, PROG, "keep measures");
	json_array_foreach(runs, i, run) {
		if (rc)
			break;
		if ((why = mmeasures_run_refusal(run, now_ms))) {
			fprintf(stderr, PROG ": measures of %s: a run refused: %s\n", service, why);
			(*bad)++;
		} else {
			rc = keep_run(db, ins, service, member, sector, run, now_ms, added);
		}
		if (json_is_integer(json_object_get(run, "run")) &&
		    json_integer_value(json_object_get(run, "run")) > highest)
			highest = json_integer_value(json_object_get(run, "run"));
	}
	sqlite3_finalize(ins);
	if (!rc)
		rc = set_cursor(db, service, member, highest, now_ms, NULL);
	if (!rc)
		rc = ndx_sqlstore_exec(db, PROG, "COMMIT");
	if (rc)
		ndx_sqlstore_exec(db, PROG, "ROLLBACK");
	mstore_unlock(st);
	return rc;
}

int mmeasures_failed(struct mstore *st, const char *service, const char *member,
		     int64_t now_ms, const char *why)
{
	sqlite3 *db = mstore_lock(st);
	int rc = set_cursor(db, service, member, 0, now_ms, why);

	mstore_unlock(st);
	return rc;
}
