/* Correction worklists (sec_worklist.h): the tasks are the findings of
 * the sector's last finished reconciliation run (sec_reconcile.h) that no
 * correction in reconcile_corrections covers; a correction writes the
 * record as the API writes it (validated the same way, its events queued
 * in the sector's outbox) and logs itself with the ids of those events in
 * the same transaction. Overview: docs/sectors.md
 * "Correction worklists". */
#include "sec_worklist.h"

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

#define WHO "ndx-sector: corrections"

/* 1 when a correction of run covers the task, 0 when none, NDX_EDB. */
static int corrected(const struct sec_sql *s, long long run, const char *table, const char *key,
		     const char *field)
{
	char r[24], one[8];
	const char *params[4] = { r, table, key, field };

	snprintf(r, sizeof r, "%lld", run);
	return sec_sql_text(s, "SELECT 1 FROM reconcile_corrections WHERE run = CAST(?1 AS bigint) "
			       "AND tbl = ?2 AND record_key = ?3 AND field = ?4",
			    4, params, one, sizeof one);
}

/* The tasks of the last finished run on s: its findings not corrected yet. */
static int open_tasks(const struct sector_def *def, const struct sec_sql *s, long long *run,
		      json_t **tasks)
{
	json_t *items = NULL, *f;
	size_t i;
	int rc;

	*tasks = NULL;
	if ((rc = reconcile_tables(s)) || (rc = reconcile_last_finished(s, run)))
		return rc;
	if (!(*tasks = json_array()))
		return NDX_ENOMEM;
	if (*run == 0)
		return NDX_OK;
	if ((rc = reconcile_run_findings(def, s, *run, &items)))
		return rc;
	json_array_foreach(items, i, f) {
		int done = corrected(s, *run, json_string_value(json_object_get(f, "table")),
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
	struct store *st = NULL;
	struct store_conn *c;
	struct sec_sql s;
	json_t *tasks = NULL;
	long long run = 0;
	int rc;

	*out = NULL;
	if ((rc = store_open(db_path, def, 0, 1, &st)))
		return rc;
	c = store_acquire(st);
	s = sec_sql_of(c, WHO);
	if ((rc = open_tasks(def, &s, &run, &tasks)) == NDX_OK &&
	    !(*out = json_pack("{sssIsO}", "sector", def->name, "run", (json_int_t)run, "tasks", tasks)))
		rc = NDX_ENOMEM;
	json_decref(tasks);
	store_release(st, c);
	store_close(st);
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

/* The last seq of the outbox (0 when empty) in *seq. */
static int outbox_last(const struct sec_sql *s, long long *seq)
{
	char v[24];
	int rc = sec_sql_text(s, "SELECT coalesce(max(seq), 0) FROM event_outbox", 0, NULL, v,
			      sizeof v);

	*seq = rc == 1 ? strtoll(v, NULL, 10) : 0;
	return rc < 0 ? rc : NDX_OK;
}

static int add_id(void *ctx, int ncols, const char *const *vals)
{
	json_t *ids = ctx;

	if (ncols > 0 && vals[0] && json_array_append_new(ids, json_string(vals[0])))
		return NDX_ENOMEM;
	return NDX_OK;
}

/* The ids of the events queued after seq (by this transaction), a new
 * array in *ids. */
static int queued_since(const struct sec_sql *s, long long seq, json_t **ids)
{
	char v[24];
	const char *params[1] = { v };

	if (!(*ids = json_array()))
		return NDX_ENOMEM;
	snprintf(v, sizeof v, "%lld", seq);
	return sec_sql_query(s, "SELECT event_id FROM event_outbox WHERE seq > CAST(?1 AS bigint) "
				"ORDER BY seq", 1, params, add_id, *ids);
}

/* The correction's row in reconcile_corrections; events the JSON array of
 * the ids of the events it published. */
static int log_correction(const struct sec_sql *s, const struct reconcile_correction *c,
			  long long run, const char *kind, const char *old, const char *value,
			  const char *now, const char *events)
{
	char r[24];
	const char *params[10] = { r, c->table, c->key, c->field, kind, old, value, c->officer, now,
				   events };
	int rc;

	snprintf(r, sizeof r, "%lld", run);
	rc = sec_sql_exec(s, "INSERT INTO reconcile_corrections(run, tbl, record_key, field, kind, "
			     "old_value, new_value, officer, corrected_at, events) "
			     "VALUES(CAST(?1 AS bigint), ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
			  10, params, NULL);
	if (rc == NDX_EEXIST) {
		fprintf(stderr, WHO ": the log refused the correction\n");
		rc = NDX_EDB;
	}
	return rc;
}

/* Writes the new value of the record as the API writes it (validated the
 * same way, through outbox_put: the events such a write publishes are
 * queued in the sector's outbox) and logs the correction with the ids of
 * those events, all in one transaction: a crash leaves both or neither. */
static int apply_correction(const struct reconcile_correction *c, struct store_conn *conn,
			    const struct sec_sql *s, long long run, const char *kind,
			    const char *value, json_t **out)
{
	const struct sector_table *t = sector_table_find(c->def, c->table);
	const int publishes = outbox_table_publishes(c->def, t);
	char field[128], why[256], newid[64], now[NDX_TIME_TEXT_LEN], self[160];
	const char *client = c->events_client, *old;
	json_t *row = NULL, *valid = NULL, *events = NULL;
	char *old_copy = NULL, *events_text = NULL;
	long long before = 0;
	int rc, added = 0;

	if (!client) {
		snprintf(self, sizeof self, "%s/%s", c->def->agency, c->def->name);
		client = self;
	}
	/* PostgreSQL's outbox comes with the schema (store_pg.c). */
	if (publishes && s->db && (rc = outbox_tables(s->db)))
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
	if (publishes && (rc = outbox_last(s, &before)))
		goto rollback;
	if ((rc = outbox_put(conn, c->def, t, c->key, valid, client, newid, sizeof newid, &added)))
		goto rollback;
	if (publishes)
		rc = queued_since(s, before, &events);
	else if (!(events = json_array()))
		rc = NDX_ENOMEM;
	if (rc == NDX_OK && !(events_text = json_dumps(events, JSON_COMPACT)))
		rc = NDX_ENOMEM;
	if (rc == NDX_OK)
		rc = log_correction(s, c, run, kind, old_copy, value, now, events_text);
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
	return rc;
}

int reconcile_correct(const struct reconcile_correction *c, json_t **out)
{
	const char *key_col = NULL, *pin_col = NULL;
	struct store *st = NULL;
	struct store_conn *conn = NULL;
	struct sec_sql s;
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
	if ((rc = store_open(c->db_path, c->def, 0, 1, &st)))
		return rc;
	conn = store_acquire(st);
	s = sec_sql_of(conn, WHO);
	if ((rc = open_tasks(c->def, &s, &run, &tasks)))
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
	rc = apply_correction(c, conn, &s, run, json_string_value(json_object_get(task, "kind")),
			      value, out);
out:
	json_decref(tasks);
	store_release(st, conn);
	store_close(st);
	return rc;
}
