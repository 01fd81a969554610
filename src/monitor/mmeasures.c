/* The registries' four measures in monitor.db (mmeasures.h). A run is kept
 * by (service, run, table): an answer read twice after a crash between the
 * fetch and the commit adds nothing. */
#include <stdio.h>
#include <string.h>

#include "mmeasures.h"
#include "ndx/err.h"
#include "ndx/sqldb.h"
#include "ndx/timefmt.h"

#define PROG "ndx-monitor"
#define SKEW_MS (5 * 60 * 1000)

static const char *const MEASURES[] = { "accurate", "sufficient", "clean", "live" };

int mmeasures_cursor(struct mstore *st, const char *service, uint64_t *after)
{
	struct ndx_sqldb *db = mstore_lock(st);
	json_t *row = NULL;
	int rc;

	*after = 0;
	rc = ndx_sqldb_query_one(db, &row,
				 "SELECT COALESCE((SELECT after FROM registry_cursors WHERE service ="
				 " ?1), 0) AS kept, COALESCE((SELECT MAX(run) FROM registry_measures"
				 " WHERE service = ?1), 0) AS seen",
				 "s", service);
	mstore_unlock(st);
	if (!rc) {
		int64_t k = ndx_sqldb_int(row, "kept"), n = ndx_sqldb_int(row, "seen");

		*after = (uint64_t)(k > n ? k : n);
	}
	json_decref(row);
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

static int64_t measure(const json_t *t, int m)
{
	return (int64_t)json_integer_value(json_object_get(json_object_get(t, MEASURES[m]),
							   "records"));
}

static int keep_run(struct ndx_sqldb *db, const char *service, const char *member,
		    const char *sector, const json_t *run, int64_t now_ms, size_t *added)
{
	const json_t *t;
	size_t i;
	int rc;

	json_array_foreach(json_object_get(run, "tables"), i, t) {
		rc = ndx_sqldb_change(
			db,
			"INSERT INTO registry_measures(service, member, sector, tbl, run,"
			" started_at, finished_at, finished_ms, records, accurate, sufficient, clean,"
			" live, collected_ms) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
			" ON CONFLICT(service, run, tbl) DO NOTHING",
			"ssssissiiiiiii", service, member, sector,
			json_string_value(json_object_get(t, "table")),
			(int64_t)json_integer_value(json_object_get(run, "run")),
			json_string_value(json_object_get(run, "started_at")),
			json_string_value(json_object_get(run, "finished_at")),
			rfc3339_ms(json_object_get(run, "finished_at")),
			(int64_t)json_integer_value(json_object_get(t, "records")), measure(t, 0),
			measure(t, 1), measure(t, 2), measure(t, 3), now_ms);
		if (rc == NDX_OK)
			(*added)++;
		else if (rc != NDX_ENOTFOUND)
			return rc;
	}
	return NDX_OK;
}

static int set_cursor(struct ndx_sqldb *db, const char *service, const char *member,
		      int64_t after, int64_t now_ms, const char *why)
{
	return ndx_sqldb_exec(db,
			      "INSERT INTO registry_cursors(service, member, after, last_poll_ms,"
			      " last_ok_ms, last_error) VALUES(?1, ?2, ?3, ?4, CASE WHEN ?5 IS NULL"
			      " THEN ?4 END, ?5) ON CONFLICT(service) DO UPDATE SET member = ?2,"
			      " after = CASE WHEN registry_cursors.after > ?3 THEN"
			      " registry_cursors.after ELSE ?3 END, last_poll_ms = ?4,"
			      " last_ok_ms = CASE WHEN ?5 IS NULL THEN ?4 ELSE"
			      " registry_cursors.last_ok_ms END, last_error = ?5",
			      "ssiis", service, member, after, now_ms, why);
}

int mmeasures_add(struct mstore *st, const char *service, const char *member,
		  const json_t *answer, int64_t now_ms, size_t *added, size_t *bad)
{
	const char *sector = json_string_value(json_object_get(answer, "sector"));
	const json_t *runs = json_object_get(answer, "runs"), *run;
	int64_t highest = 0;
	struct ndx_sqldb *db;
	const char *why;
	size_t i;
	int rc;

	*added = *bad = 0;
	if (!sector || !sector[0] || strlen(sector) > 64 || !json_is_array(runs))
		return NDX_EINVAL;
	db = mstore_lock(st);
	if ((rc = db->ops->begin(db)) != NDX_OK) {
		mstore_unlock(st);
		return rc;
	}
	json_array_foreach(runs, i, run) {
		if (rc)
			break;
		if ((why = mmeasures_run_refusal(run, now_ms))) {
			fprintf(stderr, PROG ": measures of %s: a run refused: %s\n", service, why);
			(*bad)++;
		} else {
			rc = keep_run(db, service, member, sector, run, now_ms, added);
		}
		if (json_is_integer(json_object_get(run, "run")) &&
		    json_integer_value(json_object_get(run, "run")) > highest)
			highest = json_integer_value(json_object_get(run, "run"));
	}
	if (!rc)
		rc = set_cursor(db, service, member, highest, now_ms, NULL);
	if (!rc)
		rc = db->ops->commit(db);
	if (rc) {
		db->ops->rollback(db);
		*added = 0;
	}
	mstore_unlock(st);
	return rc;
}

int mmeasures_failed(struct mstore *st, const char *service, const char *member,
		     int64_t now_ms, const char *why)
{
	struct ndx_sqldb *db = mstore_lock(st);
	int rc = set_cursor(db, service, member, 0, now_ms, why);

	mstore_unlock(st);
	return rc;
}
