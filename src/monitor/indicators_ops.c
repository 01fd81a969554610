/* The exchange's figures for a period (indicators_ops.h), counted once by
 * the rule the live figures use (MSTORE_COUNTED_ONCE), over a closed period
 * of monitor.db opened read-only. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "indicators_ops.h"
#include "mstore.h"
#include "ndx/array.h"
#include "ndx/err.h"
#include "ndx/sqlstore.h"

#define PROG "ndx-monitor"

#define COUNTED                                                                         \
	"WITH counted AS (SELECT * FROM records r WHERE r.request_in_ms >= ?1"          \
	" AND r.request_in_ms < ?2 AND " MSTORE_COUNTED_ONCE ") "

/* Figures of one group of rows (the federation, or one member). */
struct acc {
	int64_t n, failed;
	int64_t *dur;
	size_t ndur, cap;
};

static int acc_add(struct acc *a, int success, int has_dur, int64_t dur)
{
	a->n++;
	a->failed += !success;
	if (!has_dur)
		return NDX_OK;
	if (ndx_array_reserve((void **)&a->dur, &a->cap, a->ndur, sizeof *a->dur, 64) != NDX_OK)
		return NDX_ENOMEM;
	a->dur[a->ndur++] = dur;
	return NDX_OK;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Fills o with the figures of a and empties a. */
static void acc_out(struct acc *a, json_t *o)
{
	json_object_set_new(o, "exchanges", json_integer(a->n));
	json_object_set_new(o, "failed", json_integer(a->failed));
	json_object_set_new(o, "success_pct",
			    a->n ? json_real(100.0 * (double)(a->n - a->failed) / (double)a->n)
				 : json_null());
	if (a->ndur) {
		size_t rank = (a->ndur * 95 + 99) / 100;

		qsort(a->dur, a->ndur, sizeof *a->dur, cmp_i64);
		json_object_set_new(o, "p95_ms", json_integer(a->dur[rank ? rank - 1 : 0]));
	} else {
		json_object_set_new(o, "p95_ms", json_null());
	}
	free(a->dur);
	memset(a, 0, sizeof *a);
}

static int national(sqlite3 *db, int64_t from, int64_t to, json_t *o)
{
	sqlite3_stmt *s;
	struct acc a = { 0 };
	int rc = NDX_OK, step;

	if (sqlite3_prepare_v2(db, COUNTED "SELECT success, duration_ms FROM counted", -1, &s,
			       NULL) != SQLITE_OK)
		return ndx_sqlstore_fail(db, PROG, "exchange figures");
	sqlite3_bind_int64(s, 1, from);
	sqlite3_bind_int64(s, 2, to);
	while (!rc && (step = sqlite3_step(s)) == SQLITE_ROW)
		rc = acc_add(&a, sqlite3_column_int(s, 0),
			     sqlite3_column_type(s, 1) != SQLITE_NULL, sqlite3_column_int64(s, 1));
	if (!rc && step != SQLITE_DONE)
		rc = ndx_sqlstore_fail(db, PROG, "exchange figures");
	sqlite3_finalize(s);
	acc_out(&a, o);
	return rc;
}

static int per_member(sqlite3 *db, int64_t from, int64_t to, json_t *arr)
{
	sqlite3_stmt *s;
	struct acc a = { 0 };
	char member[512] = "";
	json_t *o;
	int rc = NDX_OK, step;

	if (sqlite3_prepare_v2(db,
			       COUNTED "SELECT m, success, duration_ms FROM ("
				       " SELECT client_member AS m, success, duration_ms FROM counted"
				       " UNION ALL SELECT service_member, success, duration_ms"
				       " FROM counted WHERE service_member IS NOT client_member)"
				       " WHERE m IS NOT NULL ORDER BY m",
			       -1, &s, NULL) != SQLITE_OK)
		return ndx_sqlstore_fail(db, PROG, "exchange figures");
	sqlite3_bind_int64(s, 1, from);
	sqlite3_bind_int64(s, 2, to);
	for (;;) {
		const char *m = NULL;

		step = sqlite3_step(s);
		if (step == SQLITE_ROW)
			m = (const char *)sqlite3_column_text(s, 0);
		if (member[0] && (!m || strcmp(m, member) != 0)) {
			if (!(o = json_pack("{s:s}", "member", member)) ||
			    json_array_append_new(arr, o)) {
				rc = NDX_ENOMEM;
				break;
			}
			acc_out(&a, o);
		}
		if (step != SQLITE_ROW)
			break;
		if (strlen(m) >= sizeof member) {
			rc = NDX_EINVAL;
			break;
		}
		memcpy(member, m, strlen(m) + 1);
		if ((rc = acc_add(&a, sqlite3_column_int(s, 1),
				  sqlite3_column_type(s, 2) != SQLITE_NULL,
				  sqlite3_column_int64(s, 2))))
			break;
	}
	if (!rc && step != SQLITE_DONE)
		rc = ndx_sqlstore_fail(db, PROG, "exchange figures");
	free(a.dur);
	sqlite3_finalize(s);
	return rc;
}

int ind_open_monitor_db(const char *monitor_db, sqlite3 **db)
{
	*db = NULL;
	if (access(monitor_db, F_OK) != 0)
		return NDX_ENOTFOUND;
	if (sqlite3_open_v2(monitor_db, db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		return ndx_sqlstore_fail(*db, PROG, "open monitor.db read-only");
	sqlite3_busy_timeout(*db, 5000);
	return NDX_OK;
}

int ind_exchange_figures(const char *monitor_db, int64_t from_ms, int64_t to_ms, json_t **out)
{
	sqlite3 *db = NULL;
	json_t *o = json_object(), *members = json_array();
	int rc = o && members ? NDX_OK : NDX_ENOMEM;

	*out = NULL;
	if (!rc)
		rc = ind_open_monitor_db(monitor_db, &db);
	if (!rc) {
		rc = national(db, from_ms, to_ms, o);
	}
	if (!rc)
		rc = per_member(db, from_ms, to_ms, members);
	sqlite3_close(db);
	if (!rc) {
		json_object_set_new(o, "members", members);
		*out = o;
		return NDX_OK;
	}
	json_decref(o);
	json_decref(members);
	return rc;
}
