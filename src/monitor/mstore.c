/* monitor.db (mstore.h). Records are kept as the gateways send them, one
 * row each, keyed by (gateway, seq) so that a page fetched twice after a
 * crash between the fetch and the commit adds nothing. The members of the
 * client and the service are stored beside their ids so that an agency's
 * view is an indexed equality, not a string operation per row. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mstore.h"
#include "ndx/err.h"
#include "ndx/id.h"
#include "ndx/sqldb.h"
#include "ndx/timefmt.h"

#define PROG "ndx-monitor"

struct mstore {
	struct ndx_sqldb *db;
	pthread_mutex_t mu;
};

/* Marks a new store as a monitoring service's (meta kind; SQLite's
 * migration 6 did already), or checks that an existing one is: a
 * PostgreSQL schema may hold another daemon's store. */
static int check_kind(struct ndx_sqldb *db, const char *loc, bool create)
{
	char *kind = NULL;
	int rc;

	if (create &&
	    (rc = ndx_sqldb_exec(db, "INSERT INTO meta(key, value) VALUES('kind', 'monitor')"
				     " ON CONFLICT DO NOTHING", "")))
		return rc;
	rc = ndx_sqldb_meta_get(db, "kind", &kind);
	if (rc == NDX_OK && strcmp(kind, "monitor") != 0) {
		fprintf(stderr, PROG ": store %s holds a %.40s store, not a monitoring service\n",
			db->name, kind);
		rc = NDX_EDB;
	} else if (rc == NDX_ENOTFOUND) {
		fprintf(stderr, PROG ": store %s holds no monitoring service\n", db->name);
		rc = NDX_EDB;
	}
	free(kind);
	(void)loc;
	return rc;
}

static int open_store(const struct ndx_sqldb_desc *desc, const char *loc, bool create,
		      struct mstore **out)
{
	struct mstore *st = calloc(1, sizeof *st);
	int rc;

	*out = NULL;
	if (!st)
		return NDX_ENOMEM;
	if ((rc = ndx_sqldb_open(desc, loc, create, &st->db))) {
		if (rc == NDX_EEXIST)
			fprintf(stderr, PROG ": %s already holds a monitoring service\n", loc);
		free(st);
		return rc;
	}
	/* Collected records can be collected again from the gateways (they
	 * keep them for their retention): losing the last second of them in a
	 * power cut costs nothing, an fsync per page costs the collector. On
	 * PostgreSQL every commit is synchronous (the engine's rule). */
	if (!ndx_sqldb_is_pg(loc) &&
	    (rc = ndx_sqldb_exec(st->db, "PRAGMA synchronous=NORMAL", ""))) {
		st->db->ops->close(st->db);
		free(st);
		return rc;
	}
	if ((rc = check_kind(st->db, loc, create))) {
		st->db->ops->close(st->db);
		free(st);
		return rc;
	}
	pthread_mutex_init(&st->mu, NULL);
	*out = st;
	return NDX_OK;
}

int mstore_open(const char *loc, bool create, struct mstore **out)
{
	return open_store(&mstore_db_desc, loc, create, out);
}

int mstore_open_to_serve(const char *loc, struct mstore **out)
{
	return open_store(&mstore_serve_desc, loc, false, out);
}

void mstore_close(struct mstore *st)
{
	if (!st)
		return;
	st->db->ops->close(st->db);
	pthread_mutex_destroy(&st->mu);
	free(st);
}

const char *mstore_name(const struct mstore *st)
{
	return st->db->name;
}

struct ndx_sqldb *mstore_lock(struct mstore *st)
{
	pthread_mutex_lock(&st->mu);
	return st->db;
}

void mstore_unlock(struct mstore *st)
{
	pthread_mutex_unlock(&st->mu);
}

/* ---- rows ---------------------------------------------------------------------- */

/* AVG(duration_ms) as SQLite's AVG computes it (the sum over the count,
 * 0 without durations), from the integer sum and count: a real would come
 * back as text rounded to 15 digits. */
static double mean_of(const json_t *row)
{
	int64_t n = ndx_sqldb_int(row, "dn");

	return n ? (double)ndx_sqldb_int(row, "dsum") / (double)n : 0.0;
}

/* The column as it is (a string or null), a new reference. */
static json_t *col_of(const json_t *row, const char *col)
{
	const json_t *v = json_object_get(row, col);

	return v && !json_is_null(v) ? json_incref((json_t *)v) : json_null();
}

int mstore_changes(struct ndx_sqldb *db, int64_t *changes, const char *sql, const char *types,
		   ...)
{
	va_list ap;
	int rc;

	*changes = 0;
	va_start(ap, types);
	rc = db->ops->run(db, sql, types, ap, NULL, changes);
	va_end(ap);
	return rc;
}

int mstore_cursor(struct mstore *st, const char *gateway, uint64_t *after)
{
	json_t *row = NULL;
	int rc;

	*after = 0;
	pthread_mutex_lock(&st->mu);
	rc = ndx_sqldb_query_one(st->db, &row,
				 "SELECT COALESCE((SELECT cursor FROM gateways WHERE name = ?1), 0)"
				 " AS kept, COALESCE((SELECT MAX(seq) FROM records"
				 " WHERE gateway = ?1), 0) AS seen",
				 "s", gateway);
	pthread_mutex_unlock(&st->mu);
	if (!rc) {
		int64_t k = ndx_sqldb_int(row, "kept"), s = ndx_sqldb_int(row, "seen");

		*after = (uint64_t)(k > s ? k : s);
	}
	json_decref(row);
	return rc;
}

/* ---- one record ------------------------------------------------------------- */

/* A time as the gateways send it: Unix milliseconds, or RFC 3339 (whole
 * seconds or with a fraction). -1 when absent or null, -2 when malformed. */
static int64_t time_ms(const json_t *v)
{
	const char *text, *dot;
	char whole[NDX_TIME_TEXT_LEN];
	time_t t;
	int64_t ms = 0;

	if (!v || json_is_null(v))
		return -1;
	if (json_is_integer(v))
		return json_integer_value(v) >= 0 ? (int64_t)json_integer_value(v) : -2;
	if (!json_is_string(v))
		return -2;
	text = json_string_value(v);
	dot = strchr(text, '.');
	if (!dot) {
		if (ndx_time_parse(text, &t) != NDX_OK)
			return -2;
		return (int64_t)t * 1000;
	}
	/* "YYYY-MM-DDTHH:MM:SS.fffZ": the fraction's first three digits */
	if ((size_t)(dot - text) != NDX_TIME_TEXT_LEN - 2)
		return -2;
	memcpy(whole, text, (size_t)(dot - text));
	whole[dot - text] = 'Z';
	whole[dot - text + 1] = '\0';
	if (ndx_time_parse(whole, &t) != NDX_OK)
		return -2;
	for (int i = 1, scale = 100; i <= 3 && dot[i] >= '0' && dot[i] <= '9'; i++, scale /= 10)
		ms += (dot[i] - '0') * scale;
	return (int64_t)t * 1000 + ms;
}

static const char *str_of(const json_t *rec, const char *name)
{
	return json_string_value(json_object_get(rec, name));
}

/* A text column's value: NULL for absent or empty. */
static const char *text_of(const json_t *rec, const char *name)
{
	const char *v = str_of(rec, name);

	return v && v[0] ? v : NULL;
}

/* The member part of a client (member or subsystem) or service id, or NULL. */
static void member_of(const char *id, enum ndx_id_kind kind, char out[NDX_ID_TEXT_MAX])
{
	struct ndx_id parsed, m;

	out[0] = '\0';
	if (!id)
		return;
	for (int k = kind; k >= NDX_ID_MEMBER; k--)
		if (ndx_id_parse(id, strlen(id), (enum ndx_id_kind)k, &parsed, NULL) == NDX_OK &&
		    ndx_id_parent(&parsed, NDX_ID_MEMBER, &m) == NDX_OK &&
		    ndx_id_format(&m, out, NDX_ID_TEXT_MAX) >= 0)
			return;
	out[0] = '\0';
}

static const char *const ROLES[] = { "consumer", "provider", "event_out", "event_in", "dsp_out",
				     "dsp_in" };

/* How far in the future a record's request_in may be (clocks differ): a
 * record dated later would count in every "last N minutes" until then. */
#define FUTURE_SKEW_MS (300 * 1000)

/* A nullable integer column, bound as text and cast in SQL (the engines
 * bind an integer parameter only as a value). */
struct nint {
	char text[24];
	const char *p; /* text, or NULL for null */
};

static void nint_ms(struct nint *n, int64_t v)
{
	n->p = NULL;
	if (v >= 0) {
		snprintf(n->text, sizeof n->text, "%lld", (long long)v);
		n->p = n->text;
	}
}

static void nint_json(struct nint *n, const json_t *v)
{
	n->p = NULL;
	if (json_is_integer(v)) {
		snprintf(n->text, sizeof n->text, "%lld", (long long)json_integer_value(v));
		n->p = n->text;
	}
}

#define NI "CAST(? AS BIGINT)"

/* Inserts rec unless already held; NDX_EINVAL when it lacks what every
 * figure needs or is dated after now_ms (and the skew), NDX_ENOTFOUND when
 * already held. */
static int insert_record(struct ndx_sqldb *db, const char *gateway, const json_t *rec,
			 int64_t now_ms)
{
	const json_t *seq = json_object_get(rec, "seq");
	const char *role = str_of(rec, "role"), *client = str_of(rec, "client"),
		   *service = str_of(rec, "service");
	char cm[NDX_ID_TEXT_MAX], sm[NDX_ID_TEXT_MAX];
	int64_t in = time_ms(json_object_get(rec, "request_in"));
	struct nint n[10];
	bool role_ok = false;

	if (!json_is_object(rec) || !json_is_integer(seq) || json_integer_value(seq) < 1 ||
	    !role || in < 0 || in > now_ms + FUTURE_SKEW_MS ||
	    !json_is_boolean(json_object_get(rec, "success")))
		return NDX_EINVAL;
	for (size_t i = 0; i < sizeof ROLES / sizeof *ROLES; i++)
		role_ok |= strcmp(role, ROLES[i]) == 0;
	if (!role_ok)
		return NDX_EINVAL;
	member_of(client, NDX_ID_SUBSYSTEM, cm);
	member_of(service, NDX_ID_SERVICE, sm);
	nint_ms(&n[0], time_ms(json_object_get(rec, "request_out")));
	nint_ms(&n[1], time_ms(json_object_get(rec, "response_in")));
	nint_ms(&n[2], time_ms(json_object_get(rec, "response_out")));
	nint_json(&n[3], json_object_get(rec, "request_size"));
	nint_json(&n[4], json_object_get(rec, "response_size"));
	nint_json(&n[5], json_object_get(rec, "status"));
	nint_json(&n[6], json_object_get(rec, "duration_ms"));
	nint_json(&n[7], json_object_get(rec, "own_ms"));
	nint_json(&n[8], json_object_get(rec, "peer_ms"));
	nint_json(&n[9], json_object_get(rec, "provider_ms"));
	return ndx_sqldb_change(
		db,
		"INSERT INTO records(gateway, seq, role, message_id, client, client_member,"
		" service, service_member, client_gateway, service_gateway, method, path_template,"
		" request_in_ms, request_out_ms, response_in_ms, response_out_ms, request_size,"
		" response_size, success, error_type, status, duration_ms, own_ms, peer_ms,"
		" provider_ms, purpose, personal) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
		" " NI ", " NI ", " NI ", " NI ", " NI ", ?, ?, " NI ", " NI ", " NI ", " NI ","
		" " NI ", ?, ?) ON CONFLICT(gateway, seq) DO NOTHING",
		"sissssssssssisssssisssssssi", gateway, (int64_t)json_integer_value(seq), role,
		text_of(rec, "message_id"), client && client[0] ? client : NULL,
		cm[0] ? cm : NULL, service && service[0] ? service : NULL, sm[0] ? sm : NULL,
		text_of(rec, "client_gateway"), text_of(rec, "service_gateway"),
		text_of(rec, "method"), text_of(rec, "path_template"), in, n[0].p, n[1].p, n[2].p,
		n[3].p, n[4].p, (int64_t)json_is_true(json_object_get(rec, "success")),
		text_of(rec, "error_type"), n[5].p, n[6].p, n[7].p, n[8].p, n[9].p,
		text_of(rec, "purpose"), (int64_t)json_is_true(json_object_get(rec, "personal")));
}

#undef NI

static int gateway_state(struct mstore *st, const char *gateway, const char *member,
			 int64_t now_ms, const char *why, size_t added, int64_t seen)
{
	return ndx_sqldb_exec(
		st->db,
		"INSERT INTO gateways(name, member, last_poll_ms, last_ok_ms, last_error,"
		" records, cursor) VALUES(?1, ?2, ?3, CASE WHEN ?4 IS NULL THEN ?3 END, ?4,"
		" ?5, ?6)"
		" ON CONFLICT(name) DO UPDATE SET member = ?2, last_poll_ms = ?3,"
		" last_ok_ms = CASE WHEN ?4 IS NULL THEN ?3 ELSE gateways.last_ok_ms END,"
		" last_error = ?4, records = gateways.records + ?5,"
		" cursor = CASE WHEN gateways.cursor > ?6 THEN gateways.cursor ELSE ?6 END",
		"ssisii", gateway, member, now_ms, why, (int64_t)added, seen);
}

int mstore_add_page(struct mstore *st, const char *gateway, const char *member,
		    const json_t *records, int64_t now_ms, size_t *added, size_t *bad)
{
	const json_t *rec, *seq;
	int64_t seen = 0;
	size_t i;
	int rc;

	*added = *bad = 0;
	pthread_mutex_lock(&st->mu);
	if ((rc = st->db->ops->begin(st->db)))
		goto out;
	json_array_foreach(records, i, rec) {
		int one;

		seq = json_object_get(rec, "seq");
		if (json_is_integer(seq) && json_integer_value(seq) > seen)
			seen = (int64_t)json_integer_value(seq);
		one = insert_record(st->db, gateway, rec, now_ms);
		if (one == NDX_EINVAL)
			(*bad)++;
		else if (one == NDX_OK)
			(*added)++;
		else if (one != NDX_ENOTFOUND) {
			rc = one;
			break;
		}
	}
	if (!rc)
		rc = gateway_state(st, gateway, member, now_ms, NULL, *added, seen);
	if (!rc)
		rc = st->db->ops->commit(st->db);
	if (rc) {
		st->db->ops->rollback(st->db);
		*added = 0;
	}
out:
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int mstore_gateway_failed(struct mstore *st, const char *gateway, const char *member,
			  int64_t now_ms, const char *why)
{
	int rc;

	pthread_mutex_lock(&st->mu);
	rc = gateway_state(st, gateway, member, now_ms, why && why[0] ? why : "failed", 0, 0);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int mstore_gateway_state(struct mstore *st, const char *gateway, const json_t *state,
			 int64_t now_ms)
{
	char *text = json_is_object(state) ? json_dumps(state, JSON_COMPACT | JSON_SORT_KEYS)
					    : NULL;
	int64_t n;
	int rc;

	if (!text)
		return NDX_EINVAL;
	pthread_mutex_lock(&st->mu);
	rc = mstore_changes(st->db, &n, "UPDATE gateways SET state = ?, state_ms = ? WHERE name = ?",
			 "sis", text, now_ms, gateway);
	pthread_mutex_unlock(&st->mu);
	free(text);
	return rc;
}

int mstore_prune(struct mstore *st, int64_t cutoff_ms, uint64_t *deleted)
{
	int64_t n;
	int rc;

	pthread_mutex_lock(&st->mu);
	rc = mstore_changes(st->db, &n, "DELETE FROM records WHERE request_in_ms < ?", "i", cutoff_ms);
	pthread_mutex_unlock(&st->mu);
	*deleted = rc ? 0 : (uint64_t)n;
	return rc;
}

/* ---- the live figures ---------------------------------------------------- */

/* The exchanges of the window, each once: its consumer gateway's record, or
 * its provider gateway's when the consumer's was not collected. ?1 window
 * start, ?2 member or NULL. */
#define COUNTED                                                                          \
	"WITH counted AS (SELECT * FROM records r WHERE r.request_in_ms >= ?1"           \
	" AND (?2 IS NULL OR r.client_member = ?2 OR r.service_member = ?2)"             \
	" AND " MSTORE_COUNTED_ONCE ") "

/* A failed exchange as 1, else 0. */
#define FAILED "CASE WHEN success = 0 THEN 1 ELSE 0 END"

/* The nearest-rank percentile P (an integer percent) of column d among the
 * n ordered rows numbered rn: ceil(n * P / 100) in integers. */
#define PCT(P) "MAX(CASE WHEN rn = (n * " #P " + 99) / 100 THEN d END) AS p" #P

static json_t *gateway_json(const json_t *r)
{
	const json_t *poll = json_object_get(r, "last_poll_ms"), *ok = json_object_get(r, "last_ok_ms");
	const char *state = json_string_value(json_object_get(r, "state"));
	json_t *st = state ? json_loads(state, 0, NULL) : NULL;
	bool up = json_is_integer(ok) && json_is_integer(poll) &&
		  json_integer_value(ok) == json_integer_value(poll);

	if (st && json_is_integer(json_object_get(r, "state_ms")))
		json_object_set_new(st, "as_of_ms", json_integer(ndx_sqldb_int(r, "state_ms")));
	return json_pack("{s:o s:o s:b s:o s:o s:o s:I s:o}", "name", col_of(r, "name"),
			 "member", col_of(r, "member"), "up", up, "last_poll_ms",
			 col_of(r, "last_poll_ms"), "last_ok_ms", col_of(r, "last_ok_ms"),
			 "last_error", col_of(r, "last_error"), "records",
			 (json_int_t)ndx_sqldb_int(r, "records"), "state", st ? st : json_null());
}

/* The live figures' queries, in one read snapshot. */
static int live_rows(struct ndx_sqldb *db, int64_t from, const char *member, json_t **totals,
		     json_t **errors, json_t **services, json_t **agencies, json_t **pct,
		     json_t **gateways)
{
	int rc;

	if ((rc = ndx_sqldb_query_one(
		     db, totals,
		     COUNTED "SELECT COUNT(*) AS n, COUNT(CASE WHEN success = 0 THEN 1 END) AS"
			     " failed, COUNT(CASE WHEN personal <> 0 THEN 1 END) AS personal,"
			     " (SELECT COUNT(*) FROM records WHERE role = 'event_out'"
			     "  AND request_in_ms >= ?1 AND (?2 IS NULL OR"
			     "  client_member = ?2 OR service_member = ?2)) AS deliveries"
			     " FROM counted",
		     "is", from, member)))
		return rc;
	/* NULLs first on both engines, as SQLite orders them. */
	if ((rc = ndx_sqldb_query(db, errors,
				  COUNTED "SELECT error_type, COUNT(*) AS n FROM counted"
					  " WHERE success = 0 GROUP BY error_type ORDER BY"
					  " COUNT(*) DESC, CASE WHEN error_type IS NULL THEN 0"
					  " ELSE 1 END, error_type",
				  "is", from, member)))
		return rc;
	if ((rc = ndx_sqldb_query(db, services,
				  COUNTED "SELECT service, COUNT(*) AS n, SUM(" FAILED ") AS"
					  " failed, SUM(duration_ms) AS dsum, COUNT(duration_ms) AS dn"
					  " FROM counted"
					  " GROUP BY service ORDER BY COUNT(*) DESC, CASE WHEN"
					  " service IS NULL THEN 0 ELSE 1 END, service LIMIT 10",
				  "is", from, member)))
		return rc;
	if ((rc = ndx_sqldb_query(db, agencies,
				  COUNTED "SELECT m, SUM(c) AS c, SUM(p) AS p, SUM(f) AS f FROM"
					  " (SELECT client_member AS m, 1 AS c, 0 AS p, " FAILED
					  " AS f FROM counted UNION ALL SELECT service_member, 0,"
					  " 1, " FAILED " FROM counted) AS u WHERE m IS NOT NULL"
					  " AND (?2 IS NULL OR m = ?2) GROUP BY m"
					  " ORDER BY SUM(c) + SUM(p) DESC, m",
				  "is", from, member)))
		return rc;
	if ((rc = ndx_sqldb_query_one(db, pct,
				      COUNTED "SELECT " PCT(50) ", " PCT(95) ", " PCT(99) " FROM"
					      " (SELECT duration_ms AS d, ROW_NUMBER() OVER"
					      " (ORDER BY duration_ms) AS rn, COUNT(*) OVER () AS n"
					      " FROM counted WHERE duration_ms IS NOT NULL) AS x",
				      "is", from, member)))
		return rc;
	return ndx_sqldb_query(db, gateways,
			       "SELECT name, member, last_poll_ms, last_ok_ms, last_error, records,"
			       " state, state_ms FROM gateways WHERE (?1 IS NULL OR member = ?1)"
			       " ORDER BY name",
			       "s", member);
}

int mstore_live(struct mstore *st, const char *member, int64_t now_ms, int64_t window_ms,
		json_t **out)
{
	json_t *totals = NULL, *errors = NULL, *services = NULL, *agencies = NULL, *pct = NULL,
	       *gateways = NULL, *o = NULL, *r, *list[4] = { NULL, NULL, NULL, NULL };
	size_t i;
	int rc;

	*out = NULL;
	pthread_mutex_lock(&st->mu);
	rc = st->db->ops->snapshot(st->db);
	if (!rc)
		rc = live_rows(st->db, now_ms - window_ms, member, &totals, &errors, &services,
			       &agencies, &pct, &gateways);
	st->db->ops->rollback(st->db);
	pthread_mutex_unlock(&st->mu);
	if (rc)
		goto out;
	for (i = 0; i < 4; i++)
		if (!(list[i] = json_array()))
			rc = NDX_ENOMEM;
	json_array_foreach(errors, i, r)
		if (!rc && json_array_append_new(list[0],
						 json_pack("{s:o s:I}", "type", col_of(r, "error_type"),
							   "count", (json_int_t)ndx_sqldb_int(r, "n"))))
			rc = NDX_ENOMEM;
	json_array_foreach(services, i, r)
		if (!rc && json_array_append_new(
				   list[1], json_pack("{s:o s:I s:I s:f}", "service",
						      col_of(r, "service"), "exchanges",
						      (json_int_t)ndx_sqldb_int(r, "n"), "failed",
						      (json_int_t)ndx_sqldb_int(r, "failed"), "mean_ms",
						      mean_of(r))))
			rc = NDX_ENOMEM;
	json_array_foreach(agencies, i, r)
		if (!rc && json_array_append_new(
				   list[2], json_pack("{s:o s:I s:I s:I}", "member", col_of(r, "m"),
						      "as_client", (json_int_t)ndx_sqldb_int(r, "c"),
						      "as_provider", (json_int_t)ndx_sqldb_int(r, "p"),
						      "failed", (json_int_t)ndx_sqldb_int(r, "f"))))
			rc = NDX_ENOMEM;
	json_array_foreach(gateways, i, r)
		if (!rc && json_array_append_new(list[3], gateway_json(r)))
			rc = NDX_ENOMEM;
	if (!rc) {
		int64_t n = ndx_sqldb_int(totals, "n");

		o = json_pack("{s:I s:I s:I s:I s:I s:f s:o s:{s:o s:o s:o} s:O s:O s:O s:O}",
			      "exchanges", (json_int_t)n, "failed",
			      (json_int_t)ndx_sqldb_int(totals, "failed"), "personal",
			      (json_int_t)ndx_sqldb_int(totals, "personal"), "deliveries",
			      (json_int_t)ndx_sqldb_int(totals, "deliveries"), "window_s",
			      (json_int_t)(window_ms / 1000), "per_second",
			      window_ms > 0 ? (double)n * 1000.0 / (double)window_ms : 0.0, "member",
			      member ? json_string(member) : json_null(), "latency_ms", "p50",
			      col_of(pct, "p50"), "p95", col_of(pct, "p95"), "p99",
			      col_of(pct, "p99"), "errors", list[0], "busiest_services", list[1],
			      "agencies", list[2], "gateways", list[3]);
		if (!o)
			rc = NDX_ENOMEM;
	}
	*out = o;
out:
	for (i = 0; i < 4; i++)
		json_decref(list[i]);
	json_decref(totals);
	json_decref(errors);
	json_decref(services);
	json_decref(agencies);
	json_decref(pct);
	json_decref(gateways);
	return rc;
}

/* ---- the series --------------------------------------------------------------- */

int mstore_series(struct mstore *st, const char *member, int64_t now_ms, int64_t window_ms,
		  int64_t step_ms, json_t **out)
{
	int64_t n, from;
	json_t *rows = NULL, *list, *o, *r;
	size_t k = 0;
	int rc;

	*out = NULL;
	if (step_ms <= 0 || window_ms <= 0 || window_ms % step_ms != 0 ||
	    (n = window_ms / step_ms) > MSTORE_SERIES_MAX)
		return NDX_EINVAL;
	/* Buckets aligned on the step, so that two reads a second apart agree
	 * on every full bucket. */
	from = (now_ms / step_ms + 1) * step_ms - window_ms;
	/* Each bucket's count, failures and p95 (nearest rank among the
	 * exchanges with a duration, NULLs ordered last) in SQL. */
	pthread_mutex_lock(&st->mu);
	rc = ndx_sqldb_query(
		st->db, &rows,
		COUNTED "SELECT b, COUNT(*) AS n, SUM(" FAILED ") AS failed, MAX(CASE WHEN"
			" d IS NOT NULL AND rn = (nd * 95 + 99) / 100 THEN d END) AS p95 FROM"
			" (SELECT (request_in_ms - ?1) / ?3 AS b, success, duration_ms AS d,"
			" ROW_NUMBER() OVER (PARTITION BY (request_in_ms - ?1) / ?3 ORDER BY"
			" CASE WHEN duration_ms IS NULL THEN 1 ELSE 0 END, duration_ms) AS rn,"
			" COUNT(duration_ms) OVER (PARTITION BY (request_in_ms - ?1) / ?3) AS nd"
			" FROM counted WHERE request_in_ms < ?4) AS x GROUP BY b ORDER BY b",
		"isii", from, member, step_ms, from + n * step_ms);
	pthread_mutex_unlock(&st->mu);
	if (rc)
		return rc;
	list = json_array();
	for (int64_t i = 0; list && i < n; i++) {
		json_t *p95 = json_null();
		int64_t cnt = 0, failed = 0;

		r = json_array_get(rows, k);
		if (r && ndx_sqldb_int(r, "b") == i) {
			cnt = ndx_sqldb_int(r, "n");
			failed = ndx_sqldb_int(r, "failed");
			json_decref(p95);
			p95 = col_of(r, "p95");
			k++;
		}
		if (json_array_append_new(list, json_pack("{s:I s:I s:I s:o}", "t",
							  (json_int_t)(from + i * step_ms),
							  "exchanges", (json_int_t)cnt, "failed",
							  (json_int_t)failed, "p95_ms", p95))) {
			json_decref(list);
			list = NULL;
		}
	}
	json_decref(rows);
	if (!list)
		return NDX_ENOMEM;
	o = json_pack("{s:I s:o s:o}", "step_s", (json_int_t)(step_ms / 1000), "member",
		      member ? json_string(member) : json_null(), "series", list);
	if (!o)
		return NDX_ENOMEM;
	*out = o;
	return NDX_OK;
}
