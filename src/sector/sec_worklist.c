/* Correction worklists (sec_worklist.h): the tasks are the findings of
 * the sector's last finished reconciliation run (sec_reconcile.h) that no
 * correction in reconcile_corrections covers; a correction writes the
 * record as the API writes it (validated the same way, its events queued
 * in the sector's outbox) and logs itself with the ids of those events in
 * the same transaction. Overview: docs/sectors.md
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
#include "sec_outbox.h"
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

/* The last seq of the outbox on db (0 when empty) in *seq. */
static int outbox_last(sqlite3 *db, long long *seq)
{
	sqlite3_stmt *q;
	int rc;

	if (sqlite3_prepare_v2(db, "SELECT coalesce(max(seq), 0) FROM event_outbox", -1, &q,
			       NULL) != SQLITE_OK)
		return db_failed(db);
	rc = sqlite3_step(q);
	*seq = rc == SQLITE_ROW ? sqlite3_column_int64(q, 0) : 0;
	sqlite3_finalize(q);
	return rc == SQLITE_ROW ? NDX_OK : db_failed(db);
}

/* The ids of the events queued after seq (by this transaction), a new
 * array in *ids. */
static int queued_since(sqlite3 *db, long long seq, json_t **ids)
{
	sqlite3_stmt *q;
	int rc;

	if (!(*ids = json_array()))
		return NDX_ENOMEM;
	if (sqlite3_prepare_v2(db, "SELECT event_id FROM event_outbox WHERE seq > ? ORDER BY seq",
			       -1, &q, NULL) != SQLITE_OK)
		return db_failed(db);
	sqlite3_bind_int64(q, 1, seq);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW)
		json_array_append_new(*ids, json_string((const char *)sqlite3_column_text(q, 0)));
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? NDX_OK : db_failed(db);
}

/* The correction's row in reconcile_corrections; events the JSON array of
 * the ids of the events it published. */
static int log_correction(sqlite3 *db, const struct reconcile_correction *c, long long run,
			  const char *kind, const char *old, const char *value, const char *now,
			  const char *events)
{
	sqlite3_stmt *q = NULL;
	int step;

	if (sqlite3_prepare_v2(db,
			       "INSERT INTO reconcile_corrections(run, tbl, record_key, field, kind, "
			       "old_value, new_value, officer, corrected_at, events) "
			       "VALUES(?,?,?,?,?,?,?,?,?,?)",
			       -1, &q, NULL) != SQLITE_OK)
		return db_failed(db);
	sqlite3_bind_int64(q, 1, run);
	sqlite3_bind_text(q, 2, c->table, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, c->key, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, c->field, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 5, kind, -1, SQLITE_STATIC);
	if (old)
		sqlite3_bind_text(q, 6, old, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 7, value, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 8, c->officer, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 9, now, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 10, events, -1, SQLITE_STATIC);
	step = sqlite3_step(q);
	sqlite3_finalize(q);
	return step == SQLITE_DONE ? NDX_OK : db_failed(db);
}

/* Writes the new value of the record as the API writes it (validated the
 * same way, through outbox_put: the events such a write publishes are
 * queued in the sector's outbox) and logs the correction with the ids of
 * those events, all in one transaction: a crash leaves both or neither. */
static int apply_correction(const struct reconcile_correction *c, long long run, const char *kind,
			    const char *value, json_t **out)
{
	const struct sector_table *t = sector_table_find(c->def, c->table);
	const int publishes = outbox_table_publishes(c->def, t);
	char field[128], why[256], newid[64], now[NDX_TIME_TEXT_LEN], self[160];
	const char *client = c->events_client, *old;
	struct store *st = NULL;
	struct store_conn *conn;
	json_t *row = NULL, *valid = NULL, *events = NULL;
	char *old_copy = NULL, *events_text = NULL;
	long long before = 0;
	sqlite3 *db;
	int rc, added = 0;

	if (!client) {
		snprintf(self, sizeof self, "%s/%s", c->def->agency, c->def->name);
		client = self;
	}
	if ((rc = store_open(c->db_path, c->def, 0, 1, &st)))
		return rc;
	conn = store_acquire(st);
	db = store_conn_db(conn);
	if (publishes && (rc = outbox_tables(db)))
		goto out;
	if ((rc = store_begin(conn)))
		goto out;
	if ((rc = store_get(conn, t, c->key, &row)))
		goto rollback;
	old = json_string_value(json_object_get(row, c->field));
	if (old && !(old_copy = strdup(old))) {
		rc = NDX_ENOMEM;
		goto rollback;
	}
	json_object_set_new(row, c->field, json_string(value));
	if (!(valid = api_validate_row(c->def, t, row, t->key ? c->key : NULL, field, why, sizeof why))) {
		fprintf(stderr, "ndx-sector correct: %s: %s\n", field, why);
		rc = NDX_EINVAL;
		goto rollback;
	}
	ndx_time_format(time(NULL), now);
	if (publishes && (rc = outbox_last(db, &before)))
		goto rollback;
	if ((rc = outbox_put(conn, c->def, t, c->key, valid, client, newid, sizeof newid, &added)))
		goto rollback;
	if (publishes)
		rc = queued_since(db, before, &events);
	else if (!(events = json_array()))
		rc = NDX_ENOMEM;
	if (rc == NDX_OK && !(events_text = json_dumps(events, JSON_COMPACT)))
		rc = NDX_ENOMEM;
	if (rc == NDX_OK)
		rc = log_correction(db, c, run, kind, old_copy, value, now, events_text);
	if (rc == NDX_OK)
		rc = store_commit(conn);
	if (rc == NDX_OK &&
	    !(*out = json_pack("{ss ss ss ss so ss ss sI ss sO}", "table", c->table, "key", c->key,
			       "field", c->field, "kind", kind, "old_value",
			       old_copy ? json_string(old_copy) : json_null(), "new_value", value,
			       "officer", c->officer, "run", (json_int_t)run, "corrected_at", now,
			       "events", events)))
		rc = NDX_ENOMEM;
	if (rc == NDX_OK)
		goto out;
rollback:
	store_rollback(conn);
out:
	free(old_copy);
	free(events_text);
	json_decref(events);
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
