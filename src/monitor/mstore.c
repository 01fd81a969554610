/* monitor.db (mstore.h). Records are kept as the gateways send them, one
 * row each, keyed by (gateway, seq) so that a page fetched twice after a
 * crash between the fetch and the commit adds nothing. The members of the
 * client and the service are stored beside their ids so that an agency's
 * view is an indexed equality, not a string operation per row. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "misuse.h"
#include "mstore.h"
#include "ndx/err.h"
#include "ndx/id.h"
#include "ndx/sqlstore.h"
#include "ndx/timefmt.h"

#define PROG "ndx-monitor"

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
};

struct mstore {
	sqlite3 *db;
	pthread_mutex_t mu;
};

int mstore_open(const char *path, struct mstore **out)
{
	struct mstore *st = calloc(1, sizeof *st);

	*out = NULL;
	if (!st)
		return NDX_ENOMEM;
	if (ndx_sqlstore_open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, MIGRATIONS,
			      sizeof MIGRATIONS / sizeof *MIGRATIONS, PROG, &st->db) != NDX_OK) {
		free(st);
		return NDX_EDB;
	}
	/* Collected records can be collected again from the gateways (they
	 * keep them for their retention): losing the last second of them in a
	 * power cut costs nothing, an fsync per page costs the collector. */
	if (ndx_sqlstore_exec(st->db, PROG, "PRAGMA synchronous=NORMAL") != NDX_OK) {
		sqlite3_close(st->db);
		free(st);
		return NDX_EDB;
	}
	pthread_mutex_init(&st->mu, NULL);
	*out = st;
	return NDX_OK;
}

void mstore_close(struct mstore *st)
{
	if (!st)
		return;
	sqlite3_close(st->db);
	pthread_mutex_destroy(&st->mu);
	free(st);
}

sqlite3 *mstore_lock(struct mstore *st)
{
	pthread_mutex_lock(&st->mu);
	return st->db;
}

void mstore_unlock(struct mstore *st)
{
	pthread_mutex_unlock(&st->mu);
}

static int prepare(struct mstore *st, sqlite3_stmt **s, const char *sql)
{
	if (sqlite3_prepare_v2(st->db, sql, -1, s, NULL) != SQLITE_OK)
		return ndx_sqlstore_fail(st->db, PROG, "prepare");
	return NDX_OK;
}

int mstore_cursor(struct mstore *st, const char *gateway, uint64_t *after)
{
	sqlite3_stmt *s;
	int rc;

	*after = 0;
	pthread_mutex_lock(&st->mu);
	if ((rc = prepare(st, &s, "SELECT MAX(COALESCE((SELECT cursor FROM gateways WHERE name = ?1),"
				  " 0), COALESCE((SELECT MAX(seq) FROM records WHERE gateway = ?1),"
				  " 0))")) == NDX_OK) {
		sqlite3_bind_text(s, 1, gateway, -1, SQLITE_STATIC);
		if (sqlite3_step(s) == SQLITE_ROW)
			*after = (uint64_t)sqlite3_column_int64(s, 0);
		else
			rc = ndx_sqlstore_fail(st->db, PROG, "cursor");
		sqlite3_finalize(s);
	}
	pthread_mutex_unlock(&st->mu);
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

static void bind_str(sqlite3_stmt *s, int i, const char *v)
{
	if (v && v[0])
		sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(s, i);
}

static void bind_ms(sqlite3_stmt *s, int i, int64_t v)
{
	if (v >= 0)
		sqlite3_bind_int64(s, i, v);
	else
		sqlite3_bind_null(s, i);
}

static void bind_int(sqlite3_stmt *s, int i, const json_t *v)
{
	if (json_is_integer(v))
		sqlite3_bind_int64(s, i, json_integer_value(v));
	else
		sqlite3_bind_null(s, i);
}

static const char *const ROLES[] = { "consumer", "provider", "event_out", "event_in" };

/* How far in the future a record's request_in may be (clocks differ): a
 * record dated later would count in every "last N minutes" until then. */
#define FUTURE_SKEW_MS (300 * 1000)

/* Binds rec into the insert; false when it lacks what every figure needs or
 * is dated after now_ms (and the skew). */
static bool bind_record(sqlite3_stmt *s, const char *gateway, const json_t *rec, int64_t now_ms)
{
	const json_t *seq = json_object_get(rec, "seq");
	const char *role = str_of(rec, "role"), *client = str_of(rec, "client"),
		   *service = str_of(rec, "service");
	char cm[NDX_ID_TEXT_MAX], sm[NDX_ID_TEXT_MAX];
	int64_t in = time_ms(json_object_get(rec, "request_in"));
	bool role_ok = false;

	if (!json_is_object(rec) || !json_is_integer(seq) || json_integer_value(seq) < 1 ||
	    !role || in < 0 || in > now_ms + FUTURE_SKEW_MS ||
	    !json_is_boolean(json_object_get(rec, "success")))
		return false;
	for (size_t i = 0; i < sizeof ROLES / sizeof *ROLES; i++)
		role_ok |= strcmp(role, ROLES[i]) == 0;
	if (!role_ok)
		return false;
	member_of(client, NDX_ID_SUBSYSTEM, cm);
	member_of(service, NDX_ID_SERVICE, sm);
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	sqlite3_bind_text(s, 1, gateway, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 2, json_integer_value(seq));
	bind_str(s, 3, role);
	bind_str(s, 4, str_of(rec, "message_id"));
	bind_str(s, 5, client);
	bind_str(s, 6, cm);
	bind_str(s, 7, service);
	bind_str(s, 8, sm);
	bind_str(s, 9, str_of(rec, "client_gateway"));
	bind_str(s, 10, str_of(rec, "service_gateway"));
	bind_str(s, 11, str_of(rec, "method"));
	bind_str(s, 12, str_of(rec, "path_template"));
	bind_ms(s, 13, in);
	bind_ms(s, 14, time_ms(json_object_get(rec, "request_out")));
	bind_ms(s, 15, time_ms(json_object_get(rec, "response_in")));
	bind_ms(s, 16, time_ms(json_object_get(rec, "response_out")));
	bind_int(s, 17, json_object_get(rec, "request_size"));
	bind_int(s, 18, json_object_get(rec, "response_size"));
	sqlite3_bind_int(s, 19, json_is_true(json_object_get(rec, "success")));
	bind_str(s, 20, str_of(rec, "error_type"));
	bind_int(s, 21, json_object_get(rec, "status"));
	bind_int(s, 22, json_object_get(rec, "duration_ms"));
	bind_int(s, 23, json_object_get(rec, "own_ms"));
	bind_int(s, 24, json_object_get(rec, "peer_ms"));
	bind_int(s, 25, json_object_get(rec, "provider_ms"));
	bind_str(s, 26, str_of(rec, "purpose"));
	sqlite3_bind_int(s, 27, json_is_true(json_object_get(rec, "personal")));
	return true;
}

static int gateway_state(struct mstore *st, const char *gateway, const char *member,
			 int64_t now_ms, const char *why, size_t added, int64_t seen)
{
	sqlite3_stmt *s;
	int rc = prepare(st, &s,
			 "INSERT INTO gateways(name, member, last_poll_ms, last_ok_ms, last_error,"
			 " records, cursor) VALUES(?1, ?2, ?3, CASE WHEN ?4 IS NULL THEN ?3 END, ?4,"
			 " ?5, ?6)"
			 " ON CONFLICT(name) DO UPDATE SET member = ?2, last_poll_ms = ?3,"
			 " last_ok_ms = CASE WHEN ?4 IS NULL THEN ?3 ELSE last_ok_ms END,"
			 " last_error = ?4, records = records + ?5, cursor = MAX(cursor, ?6)");

	if (rc)
		return rc;
	sqlite3_bind_text(s, 1, gateway, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, member, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, now_ms);
	bind_str(s, 4, why);
	sqlite3_bind_int64(s, 5, (sqlite3_int64)added);
	sqlite3_bind_int64(s, 6, seen);
	rc = sqlite3_step(s) == SQLITE_DONE ? NDX_OK
					      : ndx_sqlstore_fail(st->db, PROG, "gateway state");
	sqlite3_finalize(s);
	return rc;
}

int mstore_add_page(struct mstore *st, const char *gateway, const char *member,
		    const json_t *records, int64_t now_ms, size_t *added, size_t *bad)
{
	sqlite3_stmt *s = NULL;
	const json_t *rec, *seq;
	int64_t seen = 0;
	size_t i;
	int rc;

	*added = *bad = 0;
	pthread_mutex_lock(&st->mu);
	if ((rc = ndx_sqlstore_exec(st->db, PROG, "BEGIN IMMEDIATE")))
		goto out;
	rc = prepare(st, &s,
		     "INSERT OR IGNORE INTO records VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,"
		     "?,?,?,?,?,?,?)");
	json_array_foreach(records, i, rec) {
		if (rc)
			break;
		seq = json_object_get(rec, "seq");
		if (json_is_integer(seq) && json_integer_value(seq) > seen)
			seen = (int64_t)json_integer_value(seq);
		if (!bind_record(s, gateway, rec, now_ms)) {
			(*bad)++;
			continue;
		}
		if (sqlite3_step(s) != SQLITE_DONE)
			rc = ndx_sqlstore_fail(st->db, PROG, "insert record");
		else
			*added += (size_t)sqlite3_changes(st->db);
	}
	sqlite3_finalize(s);
	if (!rc)
		rc = gateway_state(st, gateway, member, now_ms, NULL, *added, seen);
	if (!rc)
		rc = ndx_sqlstore_exec(st->db, PROG, "COMMIT");
	if (rc) {
		ndx_sqlstore_exec(st->db, PROG, "ROLLBACK");
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
	sqlite3_stmt *s;
	int rc;

	if (!text)
		return NDX_EINVAL;
	pthread_mutex_lock(&st->mu);
	if (!(rc = prepare(st, &s, "UPDATE gateways SET state = ?, state_ms = ? WHERE name = ?"))) {
		sqlite3_bind_text(s, 1, text, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, now_ms);
		sqlite3_bind_text(s, 3, gateway, -1, SQLITE_STATIC);
		if (sqlite3_step(s) != SQLITE_DONE)
			rc = ndx_sqlstore_fail(st->db, PROG, "gateway state");
		sqlite3_finalize(s);
	}
	pthread_mutex_unlock(&st->mu);
	free(text);
	return rc;
}

int mstore_prune(struct mstore *st, int64_t cutoff_ms, uint64_t *deleted)
{
	sqlite3_stmt *s;
	int rc;

	*deleted = 0;
	pthread_mutex_lock(&st->mu);
	if (!(rc = prepare(st, &s, "DELETE FROM records WHERE request_in_ms < ?"))) {
		sqlite3_bind_int64(s, 1, cutoff_ms);
		if (sqlite3_step(s) == SQLITE_DONE)
			*deleted = (uint64_t)sqlite3_changes(st->db);
		else
			rc = ndx_sqlstore_fail(st->db, PROG, "prune");
		sqlite3_finalize(s);
	}
	pthread_mutex_unlock(&st->mu);
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

static int bind_window(sqlite3_stmt *s, int64_t from_ms, const char *member)
{
	sqlite3_bind_int64(s, 1, from_ms);
	bind_str(s, 2, member);
	return NDX_OK;
}

/* Runs sql (COUNTED + a query) and hands each row to fn. */
static int rows(struct mstore *st, const char *sql, int64_t from_ms, const char *member,
		void (*fn)(sqlite3_stmt *s, json_t *into), json_t *into)
{
	sqlite3_stmt *s;
	int rc = prepare(st, &s, sql), step;

	if (rc)
		return rc;
	bind_window(s, from_ms, member);
	while ((step = sqlite3_step(s)) == SQLITE_ROW)
		fn(s, into);
	if (step != SQLITE_DONE)
		rc = ndx_sqlstore_fail(st->db, PROG, "live figures");
	sqlite3_finalize(s);
	return rc;
}

static json_t *text_or_null(sqlite3_stmt *s, int col)
{
	const unsigned char *t = sqlite3_column_text(s, col);

	return t ? json_string((const char *)t) : json_null();
}

static void totals_row(sqlite3_stmt *s, json_t *into)
{
	json_object_set_new(into, "exchanges", json_integer(sqlite3_column_int64(s, 0)));
	json_object_set_new(into, "failed", json_integer(sqlite3_column_int64(s, 1)));
	json_object_set_new(into, "personal", json_integer(sqlite3_column_int64(s, 2)));
	json_object_set_new(into, "deliveries", json_integer(sqlite3_column_int64(s, 3)));
}

static void error_row(sqlite3_stmt *s, json_t *into)
{
	json_array_append_new(into, json_pack("{s:o s:I}", "type", text_or_null(s, 0), "count",
					      (json_int_t)sqlite3_column_int64(s, 1)));
}

static void service_row(sqlite3_stmt *s, json_t *into)
{
	json_array_append_new(into, json_pack("{s:o s:I s:I s:f}", "service",
					      text_or_null(s, 0), "exchanges",
					      (json_int_t)sqlite3_column_int64(s, 1), "failed",
					      (json_int_t)sqlite3_column_int64(s, 2), "mean_ms",
					      sqlite3_column_double(s, 3)));
}

static void agency_row(sqlite3_stmt *s, json_t *into)
{
	json_array_append_new(into, json_pack("{s:o s:I s:I s:I}", "member", text_or_null(s, 0),
					      "as_client", (json_int_t)sqlite3_column_int64(s, 1),
					      "as_provider", (json_int_t)sqlite3_column_int64(s, 2),
					      "failed", (json_int_t)sqlite3_column_int64(s, 3)));
}

static void duration_row(sqlite3_stmt *s, json_t *into)
{
	json_array_append_new(into, json_integer(sqlite3_column_int64(s, 0)));
}

/* p50, p95, p99 of the counted exchanges' durations (nearest rank). */
static json_t *percentiles(const json_t *sorted)
{
	static const struct { const char *name; double p; } ps[] = {
		{ "p50", 0.50 }, { "p95", 0.95 }, { "p99", 0.99 },
	};
	size_t n = json_array_size(sorted);
	json_t *o = json_object();

	for (size_t i = 0; o && i < sizeof ps / sizeof *ps; i++) {
		size_t rank = n ? (size_t)((double)n * ps[i].p + 0.999999) : 0;

		json_object_set_new(o, ps[i].name,
				    n ? json_incref(json_array_get(sorted, rank ? rank - 1 : 0))
				      : json_null());
	}
	return o;
}

static void gateway_row(sqlite3_stmt *s, json_t *into)
{
	int64_t poll = sqlite3_column_int64(s, 2), ok = sqlite3_column_int64(s, 3);
	bool up = sqlite3_column_type(s, 3) != SQLITE_NULL && ok == poll;
	const unsigned char *state = sqlite3_column_text(s, 6);
	json_t *st = state ? json_loads((const char *)state, 0, NULL) : NULL;

	if (st && sqlite3_column_type(s, 7) != SQLITE_NULL)
		json_object_set_new(st, "as_of_ms", json_integer(sqlite3_column_int64(s, 7)));
	json_array_append_new(into, json_pack("{s:o s:o s:b s:o s:o s:o s:I s:o}", "name",
					      text_or_null(s, 0), "member", text_or_null(s, 1),
					      "up", up, "last_poll_ms",
					      sqlite3_column_type(s, 2) == SQLITE_NULL
						      ? json_null() : json_integer(poll),
					      "last_ok_ms",
					      sqlite3_column_type(s, 3) == SQLITE_NULL
						      ? json_null() : json_integer(ok),
					      "last_error", text_or_null(s, 4), "records",
					      (json_int_t)sqlite3_column_int64(s, 5), "state",
					      st ? st : json_null()));
}

int mstore_live(struct mstore *st, const char *member, int64_t now_ms, int64_t window_ms,
		json_t **out)
{
	int64_t from = now_ms - window_ms;
	json_t *o = json_object(), *errors = json_array(), *services = json_array(),
	       *agencies = json_array(), *durations = json_array(), *gateways = json_array();
	int rc = (!o || !errors || !services || !agencies || !durations || !gateways)
			 ? NDX_ENOMEM : NDX_OK;

	*out = NULL;
	pthread_mutex_lock(&st->mu);
	if (!rc)
		rc = rows(st, COUNTED "SELECT COUNT(*), COALESCE(SUM(NOT success), 0),"
				      " COALESCE(SUM(personal), 0),"
				      " (SELECT COUNT(*) FROM records WHERE role = 'event_out'"
				      "  AND request_in_ms >= ?1 AND (?2 IS NULL OR"
				      "  client_member = ?2 OR service_member = ?2)) FROM counted",
			  from, member, totals_row, o);
	if (!rc)
		rc = rows(st, COUNTED "SELECT error_type, COUNT(*) FROM counted WHERE NOT success"
				      " GROUP BY error_type ORDER BY COUNT(*) DESC, error_type",
			  from, member, error_row, errors);
	if (!rc)
		rc = rows(st, COUNTED "SELECT service, COUNT(*), SUM(NOT success),"
				      " AVG(duration_ms) FROM counted GROUP BY service"
				      " ORDER BY COUNT(*) DESC, service LIMIT 10",
			  from, member, service_row, services);
	if (!rc)
		rc = rows(st, COUNTED "SELECT m, SUM(c), SUM(p), SUM(f) FROM ("
				      " SELECT client_member AS m, 1 AS c, 0 AS p, NOT success AS f"
				      " FROM counted UNION ALL SELECT service_member, 0, 1, NOT success"
				      " FROM counted) WHERE m IS NOT NULL AND (?2 IS NULL OR m = ?2)"
				      " GROUP BY m ORDER BY SUM(c) + SUM(p) DESC, m",
			  from, member, agency_row, agencies);
	if (!rc)
		rc = rows(st, COUNTED "SELECT duration_ms FROM counted WHERE duration_ms IS NOT NULL"
				      " ORDER BY duration_ms",
			  from, member, duration_row, durations);
	if (!rc)
		rc = rows(st, "SELECT name, member, last_poll_ms, last_ok_ms, last_error, records,"
			      " state, state_ms FROM gateways WHERE ?1 = ?1 AND (?2 IS NULL OR member = ?2)"
			      " ORDER BY name",
			  from, member, gateway_row, gateways);
	pthread_mutex_unlock(&st->mu);
	if (!rc) {
		int64_t n = json_integer_value(json_object_get(o, "exchanges"));

		json_object_set_new(o, "window_s", json_integer(window_ms / 1000));
		json_object_set_new(o, "per_second",
				    json_real(window_ms > 0 ? (double)n * 1000.0 / (double)window_ms
							    : 0.0));
		json_object_set_new(o, "member", member ? json_string(member) : json_null());
		json_object_set_new(o, "latency_ms", percentiles(durations));
		json_object_set_new(o, "errors", errors);
		json_object_set_new(o, "busiest_services", services);
		json_object_set_new(o, "agencies", agencies);
		json_object_set_new(o, "gateways", gateways);
		errors = services = agencies = gateways = NULL;
		*out = o;
		o = NULL;
	}
	json_decref(o);
	json_decref(errors);
	json_decref(services);
	json_decref(agencies);
	json_decref(durations);
	json_decref(gateways);
	return rc;
}

/* ---- the series --------------------------------------------------------------- */

struct bucket {
	int64_t exchanges, failed;
	json_t *durations; /* sorted, for the p95 */
};

int mstore_series(struct mstore *st, const char *member, int64_t now_ms, int64_t window_ms,
		  int64_t step_ms, json_t **out)
{
	int64_t n, from;
	struct bucket *b;
	sqlite3_stmt *s;
	json_t *list, *o;
	int rc, step;

	*out = NULL;
	if (step_ms <= 0 || window_ms <= 0 || window_ms % step_ms != 0 ||
	    (n = window_ms / step_ms) > MSTORE_SERIES_MAX)
		return NDX_EINVAL;
	/* Buckets aligned on the step, so that two reads a second apart agree
	 * on every full bucket. */
	from = (now_ms / step_ms + 1) * step_ms - window_ms;
	if (!(b = calloc((size_t)n, sizeof *b)))
		return NDX_ENOMEM;
	pthread_mutex_lock(&st->mu);
	rc = prepare(st, &s, COUNTED "SELECT request_in_ms, success, duration_ms FROM counted"
				     " ORDER BY duration_ms");
	if (!rc) {
		bind_window(s, from, member);
		while ((step = sqlite3_step(s)) == SQLITE_ROW) {
			int64_t i = (sqlite3_column_int64(s, 0) - from) / step_ms;

			if (i < 0 || i >= n)
				continue;
			b[i].exchanges++;
			b[i].failed += !sqlite3_column_int(s, 1);
			if (sqlite3_column_type(s, 2) != SQLITE_NULL) {
				if (!b[i].durations)
					b[i].durations = json_array();
				json_array_append_new(b[i].durations,
						      json_integer(sqlite3_column_int64(s, 2)));
			}
		}
		if (step != SQLITE_DONE)
			rc = ndx_sqlstore_fail(st->db, PROG, "series");
		sqlite3_finalize(s);
	}
	pthread_mutex_unlock(&st->mu);
	list = json_array();
	for (int64_t i = 0; !rc && list && i < n; i++) {
		json_t *pct = b[i].durations ? percentiles(b[i].durations) : NULL;

		json_array_append_new(list, json_pack("{s:I s:I s:I s:O}", "t",
						      (json_int_t)(from + i * step_ms), "exchanges",
						      (json_int_t)b[i].exchanges, "failed",
						      (json_int_t)b[i].failed, "p95_ms",
						      pct ? json_object_get(pct, "p95") : json_null()));
		json_decref(pct);
	}
	for (int64_t i = 0; i < n; i++)
		json_decref(b[i].durations);
	free(b);
	if (!rc && !list)
		rc = NDX_ENOMEM;
	if (rc) {
		json_decref(list);
		return rc;
	}
	o = json_pack("{s:I s:o s:o}", "step_s", (json_int_t)(step_ms / 1000), "member",
		      member ? json_string(member) : json_null(), "series", list);
	if (!o)
		return NDX_ENOMEM;
	*out = o;
	return NDX_OK;
}
