/* Correction worklists (sec_worklist.h): the tasks are the findings of
 * the sector's last finished reconciliation run (sec_reconcile.h) that no
 * correction in reconcile_corrections covers; a correction writes the
 * record through the store, validated as the API validates a write, and
 * logs itself in the same transaction. Overview: docs/sectors.md
 * "Correction worklists". */
#include "sec_worklist.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "ndx/err.h"
#include "ndx/timefmt.h"
#include "sec_reconcile.h"
#include "store.h"

static int db_failed(sqlite3 *db)
{
	fprintf(stderr, "ndx-sector: corrections: %s\n", sqlite3_errmsg(db));
	return NDX_EDB;
}

static int corrected(sqlite3 *db, long long run, const char *table, const char *key,
		     const char *field)
{
	sqlite3_stmt *q;
	int rc;

	if (sqlite3_prepare_v2(db, "SELECT 1 FROM reconcile_corrections WHERE run = ? AND tbl = ? AND "
				   "record_key = ? AND field = ?", -1, &q, NULL) != SQLITE_OK)
		return db_failed(db);
	sqlite3_bind_int64(q, 1, run);
	sqlite3_bind_text(q, 2, table, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, field, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : db_failed(db);
}

/* The tasks of the last finished run on db: its findings not corrected yet. */
static int open_tasks(const struct sector_def *def, sqlite3 *db, long long *run, json_t **tasks)
{
	json_t *items = NULL, *f;
	size_t i;
	int rc;

	*tasks = NULL;
	if ((rc = reconcile_last_finished(db, run)))
		return rc;
	if (!(*tasks = json_array()))
		return NDX_ENOMEM;
	if (*run == 0)
		return NDX_OK;
	if ((rc = reconcile_run_findings(def, db, *run, &items)))
		return rc;
	json_array_foreach(items, i, f) {
		int done = corrected(db, *run, json_string_value(json_object_get(f, "table")),
				     json_string_value(json_object_get(f, "key")),
				     json_string_value(json_object_get(f, "field")));
		if (done < 0) {
			rc = done;
			break;
		}
		if (!done)
			json_array_append(*tasks, f);
	}
	json_decref(items);
	return rc;
}

int reconcile_worklist(const struct sector_def *def, const char *db_path, json_t **out)
{
	sqlite3 *db = NULL;
	json_t *tasks = NULL;
	long long run = 0;
	int rc;

	*out = NULL;
	if ((rc = reconcile_db_open(db_path, &db)) == NDX_OK && (rc = open_tasks(def, db, &run, &tasks)) == NDX_OK &&
	    !(*out = json_pack("{sssIsO}", "sector", def->name, "run", (json_int_t)run, "tasks", tasks)))
		rc = NDX_ENOMEM;
	json_decref(tasks);
	sqlite3_close(db);
	return rc;
}

/* The value a task is corrected to when the officer gives none. */
static const char *default_value(const char *table, const char *pin, const json_t *task)
{
	const char *kind = json_string_value(json_object_get(task, "kind"));

	if (strcmp(kind, "deceased-active") == 0)
		return strcmp(table, "taxpayers") == 0 ? "closed" : "deceased";
	if (strcmp(json_string_value(json_object_get(task, "field")), pin) == 0)
		return json_string_value(json_object_get(task, "candidate_pin"));
	return NULL;
}

/* Writes the new value of the record through the store (validated like a
 * write of the API) and logs the correction, in one transaction. */
static int apply_correction(const struct reconcile_correction *c, long long run, const char *kind,
			    const char *value, json_t **out)
{
	const struct sector_table *t = sector_table_find(c->def, c->table);
	char field[128], why[256], newid[64], now[NDX_TIME_TEXT_LEN];
	struct store *st = NULL;
	struct store_conn *conn;
	json_t *row = NULL, *valid = NULL;
	const char *old;
	char *old_copy = NULL;
	int rc;

	if ((rc = store_open(c->db_path, c->def, 0, 1, &st)))
		return rc;
	conn = store_acquire(st);
	if ((rc = store_get(conn, t, c->key, &row)))
		goto out;
	old = json_string_value(json_object_get(row, c->field));
	old_copy = old ? strdup(old) : NULL;
	json_object_set_new(row, c->field, json_string(value));
	if (!(valid = api_validate_row(c->def, t, row, t->key ? c->key : NULL, field, why, sizeof why))) {
		fprintf(stderr, "ndx-sector correct: %s: %s\n", field, why);
		rc = NDX_EINVAL;
		goto out;
	}
	if ((rc = store_begin(conn)))
		goto out;
	ndx_time_format(time(NULL), now);
	rc = store_put(conn, t, c->key, valid, newid, sizeof newid);
	sqlite3_stmt *q = NULL;
	if (rc == NDX_OK &&
	    sqlite3_prepare_v2(store_conn_db(conn),
			       "INSERT INTO reconcile_corrections(run, tbl, record_key, field, kind, "
			       "old_value, new_value, officer, corrected_at) VALUES(?,?,?,?,?,?,?,?,?)",
			       -1, &q, NULL) != SQLITE_OK)
		rc = db_failed(store_conn_db(conn));
	if (rc == NDX_OK) {
		sqlite3_bind_int64(q, 1, run);
		sqlite3_bind_text(q, 2, c->table, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 3, c->key, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 4, c->field, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 5, kind, -1, SQLITE_STATIC);
		if (old_copy)
			sqlite3_bind_text(q, 6, old_copy, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 7, value, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 8, c->officer, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 9, now, -1, SQLITE_STATIC);
		if (sqlite3_step(q) != SQLITE_DONE)
			rc = db_failed(store_conn_db(conn));
	}
	sqlite3_finalize(q);
	if (rc == NDX_OK)
		rc = store_commit(conn);
	else
		store_rollback(conn);
	if (rc == NDX_OK &&
	    !(*out = json_pack("{ss ss ss ss so ss ss sI ss}", "table", c->table, "key", c->key,
			       "field", c->field, "kind", kind, "old_value",
			       old_copy ? json_string(old_copy) : json_null(), "new_value", value,
			       "officer", c->officer, "run", (json_int_t)run, "corrected_at", now)))
		rc = NDX_ENOMEM;
out:
	free(old_copy);
	json_decref(row);
	json_decref(valid);
	store_release(st, conn);
	store_close(st);
	return rc;
}

int reconcile_correct(const struct reconcile_correction *c, json_t **out)
{
	const char *key_col = NULL, *pin_col = NULL;
	sqlite3 *db = NULL;
	json_t *tasks = NULL, *task = NULL, *f;
	long long run = 0;
	size_t i;
	int rc;

	*out = NULL;
	if (reconcile_table_columns(c->def, c->table, &key_col, &pin_col)) {
		fprintf(stderr, "ndx-sector correct: %s holds no reconciled table %s\n", c->def->name,
			c->table);
		return NDX_EINVAL;
	}
	if ((rc = reconcile_db_open(c->db_path, &db)) || (rc = open_tasks(c->def, db, &run, &tasks)))
		goto out;
	json_array_foreach(tasks, i, f)
		if (strcmp(json_string_value(json_object_get(f, "table")), c->table) == 0 &&
		    strcmp(json_string_value(json_object_get(f, "key")), c->key) == 0 &&
		    strcmp(json_string_value(json_object_get(f, "field")), c->field) == 0)
			task = f;
	if (!task) {
		fprintf(stderr, "ndx-sector correct: no open task for %s %s %s in the last finished "
				"run\n", c->table, c->key, c->field);
		rc = NDX_ENOTFOUND;
		goto out;
	}
	if (key_col && strcmp(c->field, key_col) == 0) {
		fprintf(stderr, "ndx-sector correct: %s is the record's key: the same person twice "
				"is merged, not corrected\n", c->field);
		rc = NDX_EPERM;
		goto out;
	}
	const char *value = c->value ? c->value : default_value(c->table, pin_col, task);
	if (!value) {
		fprintf(stderr, "ndx-sector correct: %s: give the right value (--value): the "
				"population registry never tells it\n", c->field);
		rc = NDX_EINVAL;
		goto out;
	}
	sqlite3_close(db);
	db = NULL;
	rc = apply_correction(c, run, json_string_value(json_object_get(task, "kind")), value, out);
out:
	json_decref(tasks);
	sqlite3_close(db);
	return rc;
}
