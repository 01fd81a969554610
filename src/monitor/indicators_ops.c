/* The exchange's figures for a period (indicators_ops.h), counted once by
 * the rule the live figures use (MSTORE_COUNTED_ONCE), over a closed period
 * of monitor.db read in one snapshot on a handle of its own; the counts and
 * the percentiles are computed in SQL. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "indicators_ops.h"
#include "mstore.h"
#include "ndx/err.h"

#define PROG "ndx-monitor"

#define COUNTED                                                                         \
	"WITH counted AS (SELECT * FROM records r WHERE r.request_in_ms >= ?1"          \
	" AND r.request_in_ms < ?2 AND " MSTORE_COUNTED_ONCE ") "

/* Sets o's figures from a row {n, failed, p95}. */
static int figures_of(const json_t *r, json_t *o)
{
	int64_t n = ndx_sqldb_int(r, "n"), failed = ndx_sqldb_int(r, "failed");
	const json_t *p95 = json_object_get(r, "p95");

	return json_object_set_new(o, "exchanges", json_integer(n)) |
	       json_object_set_new(o, "failed", json_integer(failed)) |
	       json_object_set_new(o, "success_pct",
				   n ? json_real(100.0 * (double)(n - failed) / (double)n)
				     : json_null()) |
	       json_object_set_new(o, "p95_ms",
				   json_is_null(p95) || !p95 ? json_null()
							   : json_integer(ndx_sqldb_int(r, "p95")))
		       ? NDX_ENOMEM : NDX_OK;
}

/* The p95 (nearest rank, ceil(n * 95 / 100) in integers) of the rows'
 * durations d numbered rn among nd. */
#define P95 "MAX(CASE WHEN d IS NOT NULL AND rn = (nd * 95 + 99) / 100 THEN d END) AS p95"

static int national(struct ndx_sqldb *db, int64_t from, int64_t to, json_t *o)
{
	json_t *r = NULL;
	int rc = ndx_sqldb_query_one(
		db, &r,
		COUNTED "SELECT COUNT(*) AS n, SUM(CASE WHEN success = 0 THEN 1 ELSE 0 END) AS"
			" failed, " P95 " FROM (SELECT success, duration_ms AS d, ROW_NUMBER()"
			" OVER (ORDER BY CASE WHEN duration_ms IS NULL THEN 1 ELSE 0 END,"
			" duration_ms) AS rn, COUNT(duration_ms) OVER () AS nd FROM counted) AS x",
		"ii", from, to);

	if (!rc)
		rc = figures_of(r, o);
	json_decref(r);
	return rc;
}

/* An exchange counts for its client's member and for its service's (once
 * when they are the same). */
static int per_member(struct ndx_sqldb *db, int64_t from, int64_t to, json_t *arr)
{
	json_t *rows = NULL, *r, *o;
	size_t i;
	int rc = ndx_sqldb_query(
		db, &rows,
		COUNTED ", u AS (SELECT client_member AS m, success, duration_ms AS d FROM counted"
			" UNION ALL SELECT service_member, success, duration_ms FROM counted"
			" WHERE service_member IS NOT NULL AND (client_member IS NULL OR"
			" service_member <> client_member))"
			" SELECT m, COUNT(*) AS n, SUM(CASE WHEN success = 0 THEN 1 ELSE 0 END) AS"
			" failed, " P95 " FROM (SELECT m, success, d, ROW_NUMBER() OVER (PARTITION"
			" BY m ORDER BY CASE WHEN d IS NULL THEN 1 ELSE 0 END, d) AS rn,"
			" COUNT(d) OVER (PARTITION BY m) AS nd FROM u WHERE m IS NOT NULL) AS x"
			" GROUP BY m ORDER BY m",
		"ii", from, to);

	json_array_foreach(rows, i, r) {
		if (rc)
			break;
		if (!(o = json_pack("{s:s}", "member", json_string_value(json_object_get(r, "m")))) ||
		    json_array_append_new(arr, o))
			rc = NDX_ENOMEM;
		else
			rc = figures_of(r, o);
	}
	json_decref(rows);
	return rc;
}

int ind_open_monitor_db(const char *monitor_db, struct ndx_sqldb **db)
{
	*db = NULL;
	if (!ndx_sqldb_is_pg(monitor_db) && access(monitor_db, F_OK) != 0)
		return NDX_ENOTFOUND;
	return ndx_sqldb_open(&mstore_db_desc, monitor_db, false, db) ? NDX_EDB : NDX_OK;
}

int ind_exchange_figures(const char *monitor_db, int64_t from_ms, int64_t to_ms, json_t **out)
{
	struct ndx_sqldb *db = NULL;
	json_t *o = json_object(), *members = json_array();
	int rc = o && members ? NDX_OK : NDX_ENOMEM;

	*out = NULL;
	if (!rc)
		rc = ind_open_monitor_db(monitor_db, &db);
	/* one snapshot: the national figures and the members' of one moment */
	if (!rc)
		rc = db->ops->snapshot(db);
	if (!rc)
		rc = national(db, from_ms, to_ms, o);
	if (!rc)
		rc = per_member(db, from_ms, to_ms, members);
	if (db) {
		db->ops->rollback(db);
		db->ops->close(db);
	}
	if (!rc) {
		json_object_set_new(o, "members", members);
		*out = o;
		return NDX_OK;
	}
	json_decref(o);
	json_decref(members);
	return rc;
}
