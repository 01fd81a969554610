/* The registries' four measures over a period (indicators_registries.h).
 * A table counts once a period, by its latest run in it: a registry that
 * reconciles daily does not weigh thirty times one that reconciles
 * monthly. The shares are pooled over records (a big register weighs
 * more than a small one), the rule the command's own report uses within a
 * run. */
#include <stdio.h>
#include <string.h>

#include "indicators_registries.h"
#include "indicators_ops.h"
#include "ndx/err.h"
#include "mstore.h"

#define PROG "ndx-monitor"

static const char *const MEASURES[] = { "accurate", "sufficient", "clean", "live" };

/* The latest run of each (service, table) in the period, summed per
 * member; the national row is the sum of the members'. */
#define LATEST_SQL                                                                          \
	"WITH inp AS (SELECT * FROM registry_measures WHERE finished_ms >= ?1"              \
	" AND finished_ms < ?2), latest AS (SELECT * FROM inp i WHERE i.run = (SELECT"      \
	" MAX(run) FROM inp j WHERE j.service = i.service AND j.tbl = i.tbl))"              \
	" SELECT member, COUNT(*) AS c0, SUM(records) AS c1, SUM(accurate) AS c2,"          \
	" SUM(sufficient) AS c3, SUM(clean) AS c4, SUM(live) AS c5 FROM latest"              \
	" GROUP BY member ORDER BY member"

/* {"records", "tables", "<measure>_pct"...} from n[0] tables, n[1] records,
 * n[2..5] the measures' counts. */
static int fill(json_t *o, const int64_t n[6])
{
	char key[32];
	int rc = json_object_set_new(o, "tables", json_integer(n[0])) |
		 json_object_set_new(o, "records", json_integer(n[1]));

	for (size_t m = 0; m < 4; m++) {
		snprintf(key, sizeof key, "%s_pct", MEASURES[m]);
		rc |= json_object_set_new(o, key,
					  n[1] ? json_real(100.0 * (double)n[2 + m] / (double)n[1])
					       : json_null());
	}
	return rc ? NDX_ENOMEM : NDX_OK;
}

static int figures(struct ndx_sqldb *db, int64_t from, int64_t to, json_t *o, json_t *members)
{
	static const char *const COLS[6] = { "c0", "c1", "c2", "c3", "c4", "c5" };
	int64_t total[6] = { 0 }, n[6];
	json_t *rows = NULL, *r;
	size_t k;
	int rc = ndx_sqldb_query(db, &rows, LATEST_SQL, "ii", from, to);

	json_array_foreach(rows, k, r) {
		json_t *m = json_pack("{s:s}", "member", json_string_value(json_object_get(r, "member")));

		if (rc)
			break;
		for (int i = 0; i < 6; i++) {
			n[i] = ndx_sqldb_int(r, COLS[i]);
			total[i] += n[i];
		}
		if (!m || fill(m, n) || json_array_append_new(members, m))
			rc = NDX_ENOMEM;
	}
	json_decref(rows);
	return rc ? rc : fill(o, total);
}

int ind_registry_figures(const char *monitor_db, int64_t from_ms, int64_t to_ms, json_t **out)
{
	struct ndx_sqldb *db = NULL;
	json_t *o = json_object(), *members = json_array();
	int rc = o && members ? NDX_OK : NDX_ENOMEM;

	*out = NULL;
	if (!rc)
		rc = ind_open_monitor_db(monitor_db, &db);
	if (!rc) {
		rc = figures(db, from_ms, to_ms, o, members);
	}
	if (db)
		db->ops->close(db);
	if (!rc && !json_object_set_new(o, "members", members)) {
		*out = o;
		return NDX_OK;
	}
	if (!rc) {
		json_decref(o);
		return NDX_ENOMEM;
	}
	json_decref(o);
	json_decref(members);
	return rc;
}
