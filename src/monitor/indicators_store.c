/* indicators.db (indicators_store.h). Values are only ever inserted: the
 * current value of an (indicator, period, scope) is its newest row, so an
 * official's correction leaves the first figure, its author and its date
 * in the history. Periods carry a sort key (indicators.h) so that a trend
 * is an ORDER BY and "up to this report's period" a comparison. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "indicators_store.h"
#include "ndx/err.h"
#include "ndx/sqlstore.h"
#include "ndx/timefmt.h"

#define PROG "ndx-monitor"

static const char *const MIGRATIONS[] = {
	"CREATE TABLE ind_values(id INTEGER PRIMARY KEY, indicator TEXT NOT NULL,"
	" period TEXT NOT NULL, period_key TEXT NOT NULL, scope TEXT NOT NULL,"
	" value REAL NOT NULL, source TEXT NOT NULL, entered_by TEXT NOT NULL,"
	" entered_at INTEGER NOT NULL, note TEXT);"
	"CREATE INDEX ind_values_of ON ind_values(indicator, scope, period_key);"
	"CREATE TABLE tasks(id INTEGER PRIMARY KEY, title TEXT NOT NULL, lead TEXT NOT NULL,"
	" deadline TEXT NOT NULL, status TEXT NOT NULL CHECK(status IN"
	" ('not_started', 'in_progress', 'done')), evidence TEXT,"
	" created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, updated_by TEXT NOT NULL);"
	"CREATE TABLE task_changes(id INTEGER PRIMARY KEY, task INTEGER NOT NULL"
	" REFERENCES tasks(id), at INTEGER NOT NULL, by TEXT NOT NULL, status TEXT,"
	" evidence TEXT);",
};

struct istore {
	sqlite3 *db;
	pthread_mutex_t mu;
};

int istore_open(const char *path, int create, struct istore **out)
{
	struct istore *st = calloc(1, sizeof *st);
	int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);

	*out = NULL;
	if (!st)
		return NDX_ENOMEM;
	if (ndx_sqlstore_open(path, flags, MIGRATIONS, sizeof MIGRATIONS / sizeof *MIGRATIONS,
			      PROG, &st->db) != NDX_OK) {
		free(st);
		return NDX_EDB;
	}
	pthread_mutex_init(&st->mu, NULL);
	*out = st;
	return NDX_OK;
}

void istore_close(struct istore *st)
{
	if (!st)
		return;
	sqlite3_close(st->db);
	pthread_mutex_destroy(&st->mu);
	free(st);
}

static int prepare(struct istore *st, sqlite3_stmt **s, const char *sql)
{
	if (sqlite3_prepare_v2(st->db, sql, -1, s, NULL) != SQLITE_OK)
		return ndx_sqlstore_fail(st->db, PROG, "prepare");
	return NDX_OK;
}

static void bind_opt(sqlite3_stmt *s, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(s, i);
}

static json_t *col_text(sqlite3_stmt *s, int col)
{
	const unsigned char *t = sqlite3_column_text(s, col);

	return t ? json_string((const char *)t) : json_null();
}

static json_t *col_time(sqlite3_stmt *s, int col)
{
	char text[NDX_TIME_TEXT_LEN];

	ndx_time_format((time_t)sqlite3_column_int64(s, col), text);
	return json_string(text);
}

int istore_add_value(struct istore *st, const struct ind_entry *e, int64_t *id)
{
	sqlite3_stmt *s;
	int rc;

	pthread_mutex_lock(&st->mu);
	if (!(rc = prepare(st, &s,
			   "INSERT INTO ind_values(indicator, period, period_key, scope, value,"
			   " source, entered_by, entered_at, note) VALUES(?,?,?,?,?,?,?,?,?)"))) {
		sqlite3_bind_text(s, 1, e->indicator, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, e->period, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 3, e->period_key, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 4, e->scope, -1, SQLITE_STATIC);
		sqlite3_bind_double(s, 5, e->value);
		sqlite3_bind_text(s, 6, e->source, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 7, e->entered_by, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 8, e->entered_at);
		bind_opt(s, 9, e->note);
		if (sqlite3_step(s) != SQLITE_DONE)
			rc = ndx_sqlstore_fail(st->db, PROG, "add value");
		else if (id)
			*id = sqlite3_last_insert_rowid(st->db);
		sqlite3_finalize(s);
	}
	pthread_mutex_unlock(&st->mu);
	return rc;
}

/* A value row: id, indicator, period, scope, value, source, entered_by,
 * entered_at, note[, period_key, corrections]. */
static json_t *value_row(sqlite3_stmt *s, int extra)
{
	json_t *o = json_pack("{s:I s:o s:o s:o s:f s:o s:o s:o s:o}", "id",
			      (json_int_t)sqlite3_column_int64(s, 0), "indicator", col_text(s, 1),
			      "period", col_text(s, 2), "scope", col_text(s, 3), "value",
			      sqlite3_column_double(s, 4), "source", col_text(s, 5), "entered_by",
			      col_text(s, 6), "entered_at", col_time(s, 7), "note",
			      col_text(s, 8));

	if (o && extra) {
		json_object_set_new(o, "period_key", col_text(s, 9));
		json_object_set_new(o, "corrections", json_integer(sqlite3_column_int64(s, 10)));
	}
	return o;
}

static int collect(struct istore *st, sqlite3_stmt *s, int extra, json_t *arr)
{
	int step;

	while ((step = sqlite3_step(s)) == SQLITE_ROW)
		if (json_array_append_new(arr, value_row(s, extra)))
			return NDX_ENOMEM;
	return step == SQLITE_DONE ? NDX_OK : ndx_sqlstore_fail(st->db, PROG, "read values");
}

int istore_history(struct istore *st, const char *indicator, const char *scope, json_t **out)
{
	sqlite3_stmt *s;
	json_t *arr = json_array();
	int rc = arr ? NDX_OK : NDX_ENOMEM;

	*out = NULL;
	pthread_mutex_lock(&st->mu);
	if (!rc && !(rc = prepare(st, &s,
				  "SELECT id, indicator, period, scope, value, source, entered_by,"
				  " entered_at, note FROM ind_values WHERE (?1 IS NULL OR"
				  " indicator = ?1) AND (?2 IS NULL OR scope = ?2) ORDER BY id"))) {
		bind_opt(s, 1, indicator);
		bind_opt(s, 2, scope);
		rc = collect(st, s, 0, arr);
		sqlite3_finalize(s);
	}
	pthread_mutex_unlock(&st->mu);
	if (rc)
		json_decref(arr);
	else
		*out = arr;
	return rc;
}

int istore_current(struct istore *st, const char *indicator, const char *up_to_key,
		   json_t **out)
{
	sqlite3_stmt *s;
	json_t *arr = json_array();
	int rc = arr ? NDX_OK : NDX_ENOMEM;

	*out = NULL;
	pthread_mutex_lock(&st->mu);
	if (!rc && !(rc = prepare(st, &s,
				  "SELECT v.id, v.indicator, v.period, v.scope, v.value, v.source,"
				  " v.entered_by, v.entered_at, v.note, v.period_key,"
				  " (SELECT COUNT(*) FROM ind_values o WHERE o.indicator = v.indicator"
				  "  AND o.scope = v.scope AND o.period = v.period AND o.id < v.id)"
				  " FROM ind_values v WHERE v.indicator = ?1 AND (?2 IS NULL OR"
				  " v.period_key <= ?2) AND v.id = (SELECT MAX(n.id) FROM ind_values n"
				  "  WHERE n.indicator = v.indicator AND n.scope = v.scope AND"
				  "  n.period = v.period) ORDER BY v.scope, v.period_key"))) {
		sqlite3_bind_text(s, 1, indicator, -1, SQLITE_STATIC);
		bind_opt(s, 2, up_to_key);
		rc = collect(st, s, 1, arr);
		sqlite3_finalize(s);
	}
	pthread_mutex_unlock(&st->mu);
	if (rc)
		json_decref(arr);
	else
		*out = arr;
	return rc;
}

static int task_change(struct istore *st, int64_t task, const char *by, int64_t now_s,
		       const char *status, const char *evidence)
{
	sqlite3_stmt *s;
	int rc = prepare(st, &s,
			 "INSERT INTO task_changes(task, at, by, status, evidence)"
			 " VALUES(?,?,?,?,?)");

	if (rc)
		return rc;
	sqlite3_bind_int64(s, 1, task);
	sqlite3_bind_int64(s, 2, now_s);
	sqlite3_bind_text(s, 3, by, -1, SQLITE_STATIC);
	bind_opt(s, 4, status);
	bind_opt(s, 5, evidence);
	rc = sqlite3_step(s) == SQLITE_DONE ? NDX_OK
					      : ndx_sqlstore_fail(st->db, PROG, "task change");
	sqlite3_finalize(s);
	return rc;
}

int istore_task_add(struct istore *st, const char *title, const char *lead,
		    const char *deadline, const char *status, const char *evidence,
		    const char *by, int64_t now_s, int64_t *id)
{
	sqlite3_stmt *s = NULL;
	int rc;

	pthread_mutex_lock(&st->mu);
	if ((rc = ndx_sqlstore_exec(st->db, PROG, "BEGIN IMMEDIATE")))
		goto out;
	if (!(rc = prepare(st, &s,
			   "INSERT INTO tasks(title, lead, deadline, status, evidence, created_at,"
			   " updated_at, updated_by) VALUES(?1,?2,?3,?4,?5,?6,?6,?7)"))) {
		sqlite3_bind_text(s, 1, title, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, lead, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 3, deadline, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 4, status, -1, SQLITE_STATIC);
		bind_opt(s, 5, evidence);
		sqlite3_bind_int64(s, 6, now_s);
		sqlite3_bind_text(s, 7, by, -1, SQLITE_STATIC);
		if (sqlite3_step(s) != SQLITE_DONE)
			rc = ndx_sqlstore_fail(st->db, PROG, "add task");
		else
			*id = sqlite3_last_insert_rowid(st->db);
		sqlite3_finalize(s);
	}
	if (!rc)
		rc = task_change(st, *id, by, now_s, status, evidence);
	rc = rc ? rc : ndx_sqlstore_exec(st->db, PROG, "COMMIT");
	if (rc)
		ndx_sqlstore_exec(st->db, PROG, "ROLLBACK");
out:
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int istore_task_update(struct istore *st, int64_t id, const char *status,
		       const char *evidence, const char *by, int64_t now_s)
{
	sqlite3_stmt *s = NULL;
	int rc;

	pthread_mutex_lock(&st->mu);
	if ((rc = ndx_sqlstore_exec(st->db, PROG, "BEGIN IMMEDIATE")))
		goto out;
	if (!(rc = prepare(st, &s,
			   "UPDATE tasks SET status = COALESCE(?2, status),"
			   " evidence = COALESCE(?3, evidence), updated_at = ?4, updated_by = ?5"
			   " WHERE id = ?1"))) {
		sqlite3_bind_int64(s, 1, id);
		bind_opt(s, 2, status);
		bind_opt(s, 3, evidence);
		sqlite3_bind_int64(s, 4, now_s);
		sqlite3_bind_text(s, 5, by, -1, SQLITE_STATIC);
		if (sqlite3_step(s) != SQLITE_DONE)
			rc = ndx_sqlstore_fail(st->db, PROG, "update task");
		else if (sqlite3_changes(st->db) == 0)
			rc = NDX_ENOTFOUND;
		sqlite3_finalize(s);
	}
	if (!rc)
		rc = task_change(st, id, by, now_s, status, evidence);
	rc = rc ? rc : ndx_sqlstore_exec(st->db, PROG, "COMMIT");
	if (rc)
		ndx_sqlstore_exec(st->db, PROG, "ROLLBACK");
out:
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int istore_tasks(struct istore *st, const char *as_of, json_t **out)
{
	sqlite3_stmt *s;
	json_t *arr = json_array();
	int rc = arr ? NDX_OK : NDX_ENOMEM, step;

	*out = NULL;
	pthread_mutex_lock(&st->mu);
	if (!rc && !(rc = prepare(st, &s,
				  "SELECT id, title, lead, deadline, status, evidence, updated_at,"
				  " updated_by, deadline < ?1 AND status <> 'done' FROM tasks"
				  " ORDER BY deadline, id"))) {
		sqlite3_bind_text(s, 1, as_of, -1, SQLITE_STATIC);
		while ((step = sqlite3_step(s)) == SQLITE_ROW)
			if (json_array_append_new(
				    arr, json_pack("{s:I s:o s:o s:o s:o s:o s:o s:o s:b}", "id",
						   (json_int_t)sqlite3_column_int64(s, 0), "title",
						   col_text(s, 1), "lead", col_text(s, 2), "deadline",
						   col_text(s, 3), "status", col_text(s, 4),
						   "evidence", col_text(s, 5), "updated_at",
						   col_time(s, 6), "updated_by", col_text(s, 7),
						   "overdue", sqlite3_column_int(s, 8)))) {
				step = SQLITE_NOMEM;
				break;
			}
		if (step != SQLITE_DONE)
			rc = step == SQLITE_NOMEM ? NDX_ENOMEM
						  : ndx_sqlstore_fail(st->db, PROG, "read tasks");
		sqlite3_finalize(s);
	}
	pthread_mutex_unlock(&st->mu);
	if (rc)
		json_decref(arr);
	else
		*out = arr;
	return rc;
}
