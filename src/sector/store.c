/* The sector store (store.h). SQL is built from the schema; values are
 * always bound, and the only names spliced into SQL text come from the
 * static schema, never from a request. Keyed tables carry their key in a
 * plain column with a unique index (not a PRIMARY KEY) so that a bulk
 * load can build the index once at the end, sorted, instead of inserting
 * millions of random keys into a B-tree. */
#include "store.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ndx/fold.h"
#include "ndx/buf.h"
#include "ndx/err.h"
#include "ndx/sqldb.h"
#include "ndx/sqlstore.h"
#include "ndx/timefmt.h"
#include "sec_sql.h"
#include "store_pg.h"

#define BUSY_TIMEOUT_MS 5000

/* A connection is one engine's: db (SQLite) or pg (PostgreSQL). Each
 * public function below hands a PostgreSQL connection to store_pg.c. */
struct store_conn {
	sqlite3 *db;
	struct store_pg *pg;
	/* store_citizens' statements, prepared on first use. */
	sqlite3_stmt *citizens[STORE_BY_COUNT];
	int busy;
};

struct store {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct store_conn *conns;
	unsigned n;
	int pg;
	char *loc; /* the path or connection string it was opened with */
};

static const char *sql_type(enum col_type t)
{
	return t == COL_INT ? "INTEGER" : t == COL_REAL ? "REAL" : "TEXT";
}

static int exec_sql(sqlite3 *db, const char *sql)
{
	return ndx_sqlstore_exec(db, "ndx-sector", sql);
}

/* ---- schema ----------------------------------------------------------------- */

int store_schema_create(sqlite3 *db, const struct sector_def *def, int with_indexes)
{
	struct ndx_text s = NDX_TEXT_INIT;
	char *text;
	int rc;

	ndx_text_addf(&s, "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
		    "INSERT OR IGNORE INTO meta VALUES('sector', '%s');"
		    "INSERT OR IGNORE INTO meta VALUES('schema', '1');",
		def->name);
	for (size_t i = 0; i < def->ntables; i++) {
		const struct sector_table *t = &def->tables[i];
		ndx_text_addf(&s, "CREATE TABLE IF NOT EXISTS %s(", t->name);
		if (!t->key)
			ndx_text_addf(&s, "id INTEGER PRIMARY KEY, ");
		for (size_t j = 0; j < t->ncols; j++) {
			const struct sector_column *c = &t->cols[j];
			ndx_text_addf(&s, "%s %s%s, ", c->name, sql_type(c->type),
				(c->flags & COL_REQUIRED) ? " NOT NULL" : "");
			if (c->flags & COL_NAME)
				ndx_text_addf(&s, "name_folded TEXT NOT NULL, ");
		}
		ndx_text_addf(&s, "updated_at TEXT NOT NULL);");
	}
	if (!(text = ndx_text_take(&s)))
		return NDX_ENOMEM;
	rc = exec_sql(db, text);
	free(text);
	if (rc == NDX_OK && with_indexes)
		rc = store_indexes_create(db, def);
	return rc;
}

char *store_indexes_sql(const struct sector_def *def, int pg)
{
	struct ndx_text s = NDX_TEXT_INIT;

	for (size_t i = 0; i < def->ntables; i++) {
		const struct sector_table *t = &def->tables[i];
		if (t->key)
			ndx_text_addf(&s, "CREATE UNIQUE INDEX IF NOT EXISTS %s_key ON %s(%s);", t->name,
				t->name, t->key);
		for (size_t j = 0; j < t->ncols; j++) {
			const struct sector_column *c = &t->cols[j];
			/* A list by name is in name order, ties by rowid: a
			 * SQLite index holds the rowid; PostgreSQL's ties go by
			 * the key (store_pg.c), which its index then holds, so
			 * that the first page of a common name is read in order
			 * instead of sorting all who bear it. */
			if ((c->flags & COL_NAME) && pg && t->key)
				ndx_text_addf(&s, "CREATE INDEX IF NOT EXISTS %s_name ON %s(name_folded, %s);",
					t->name, t->name, t->key);
			else if (c->flags & COL_NAME)
				ndx_text_addf(&s, "CREATE INDEX IF NOT EXISTS %s_name ON %s(name_folded);",
					t->name, t->name);
			/* A person looked up by name and birth date (a candidate
			 * number, sec_verify.c): a common name alone matches
			 * thousands in a national registry. */
			if ((c->flags & COL_NAME) && sector_column_find(t, "birth_date"))
				ndx_text_addf(&s, "CREATE INDEX IF NOT EXISTS %s_name_birth ON "
					    "%s(name_folded, birth_date);",
					t->name, t->name);
			/* And by name and address, for a record without a birth
			 * date (a taxpayer's): without it each lookup read every
			 * row of the name from the table, thousands of random
			 * reads at 10 million citizens, and a batch of 500
			 * outlasted the gateway's 10 s (bench/README.md
			 * "Reconciliation at scale"). */
			if ((c->flags & COL_NAME) && sector_column_find(t, "permanent_address"))
				ndx_text_addf(&s, "CREATE INDEX IF NOT EXISTS %s_name_address ON "
					    "%s(name_folded, permanent_address);",
					t->name, t->name);
			if (c->flags & COL_FILTER)
				ndx_text_addf(&s, "CREATE INDEX IF NOT EXISTS %s_%s ON %s(%s);", t->name,
					c->name, t->name, c->name);
		}
	}
	return ndx_text_take(&s);
}

int store_indexes_create(sqlite3 *db, const struct sector_def *def)
{
	char *text = store_indexes_sql(def, 0);
	int rc;

	if (!text)
		return NDX_ENOMEM;
	rc = exec_sql(db, text);
	free(text);
	return rc;
}

char *store_insert_sql(const struct sector_table *t)
{
	struct ndx_text s = NDX_TEXT_INIT;
	size_t n = 0;

	ndx_text_addf(&s, "INSERT INTO %s(", t->name);
	for (size_t j = 0; j < t->ncols; j++) {
		ndx_text_addf(&s, "%s, ", t->cols[j].name);
		n++;
		if (t->cols[j].flags & COL_NAME) {
			ndx_text_addf(&s, "name_folded, ");
			n++;
		}
	}
	ndx_text_addf(&s, "updated_at) VALUES(");
	for (size_t j = 0; j < n; j++)
		ndx_text_addf(&s, "?, ");
	ndx_text_addf(&s, "?)");
	return ndx_text_take(&s);
}

/* ---- open / close ----------------------------------------------------------- */

/* 1 when table has column col, 0 when not, NDX_EDB. */
static int has_column(sqlite3 *db, const char *table, const char *col)
{
	char sql[128];
	sqlite3_stmt *q = NULL;
	int found = 0, step;

	snprintf(sql, sizeof sql, "PRAGMA table_info(%s)", table);
	if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK)
		return NDX_EDB;
	while ((step = sqlite3_step(q)) == SQLITE_ROW)
		if (strcmp((const char *)sqlite3_column_text(q, 1), col) == 0)
			found = 1;
	sqlite3_finalize(q);
	return step == SQLITE_DONE ? found : NDX_EDB;
}

/* A database made before a column was added to the schema gets it, empty
 * (only optional columns are ever added: the last ones of their table). */
static int add_missing_columns(sqlite3 *db, const struct sector_def *def)
{
	char sql[256];
	int rc;

	for (size_t i = 0; i < def->ntables; i++) {
		const struct sector_table *t = &def->tables[i];
		for (size_t j = 0; j < t->ncols; j++) {
			const struct sector_column *c = &t->cols[j];
			if ((rc = has_column(db, t->name, c->name)) < 0)
				return rc;
			if (rc == 1 || (c->flags & (COL_REQUIRED | COL_NAME)))
				continue;
			snprintf(sql, sizeof sql, "ALTER TABLE %s ADD COLUMN %s %s", t->name, c->name,
				 sql_type(c->type));
			if ((rc = exec_sql(db, sql)))
				return rc;
			fprintf(stderr, "ndx-sector: added the column %s.%s\n", t->name, c->name);
		}
	}
	return NDX_OK;
}

static int check_sector(sqlite3 *db, const struct sector_def *def, const char *path)
{
	sqlite3_stmt *q = NULL;
	int rc = NDX_EDB;

	if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'sector'", -1, &q, NULL) !=
	    SQLITE_OK) {
		fprintf(stderr, "ndx-sector: %s is not a sector database\n", path);
		return NDX_EDB;
	}
	if (sqlite3_step(q) == SQLITE_ROW) {
		const char *v = (const char *)sqlite3_column_text(q, 0);
		if (v && strcmp(v, def->name) == 0)
			rc = NDX_OK;
		else
			fprintf(stderr, "ndx-sector: %s holds the %s sector, not %s\n", path,
				v ? v : "(none)", def->name);
	} else {
		fprintf(stderr, "ndx-sector: %s is not a sector database\n", path);
	}
	sqlite3_finalize(q);
	return rc;
}

static int conn_open(const char *path, int create, sqlite3 **out)
{
	sqlite3 *db = NULL;
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);

	if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
		fprintf(stderr, "ndx-sector: cannot open %s: %s\n", path,
			db ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close(db);
		return NDX_EIO;
	}
	sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
	if (exec_sql(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
			 "PRAGMA foreign_keys=OFF; PRAGMA cache_size=-65536;")) {
		sqlite3_close(db);
		return NDX_EDB;
	}
	*out = db;
	return NDX_OK;
}

int store_open(const char *path, const struct sector_def *def, int create, unsigned nconns,
	       struct store **out)
{
	struct store *st;
	int rc;

	*out = NULL;
	if (nconns == 0)
		nconns = 1;
	st = calloc(1, sizeof *st);
	if (!st || !(st->conns = calloc(nconns, sizeof *st->conns)) || !(st->loc = strdup(path))) {
		if (st)
			free(st->conns);
		free(st);
		return NDX_ENOMEM;
	}
	pthread_mutex_init(&st->mu, NULL);
	pthread_cond_init(&st->cv, NULL);
	if ((st->pg = ndx_sqldb_is_pg(path))) {
		for (unsigned i = 0; i < nconns; i++) {
			if ((rc = store_pg_open(path, def, create && i == 0, &st->conns[i].pg)))
				goto fail;
			st->n++;
		}
		*out = st;
		return NDX_OK;
	}
	for (unsigned i = 0; i < nconns; i++) {
		if ((rc = conn_open(path, create && i == 0, &st->conns[i].db)))
			goto fail;
		st->n++;
		if (i == 0) {
			if (create && (rc = store_schema_create(st->conns[0].db, def, 1)))
				goto fail;
			if ((rc = check_sector(st->conns[0].db, def, path)))
				goto fail;
			if (create && (rc = add_missing_columns(st->conns[0].db, def)))
				goto fail;
		}
	}
	*out = st;
	return NDX_OK;
fail:
	store_close(st);
	return rc;
}

void store_close(struct store *st)
{
	if (!st)
		return;
	for (unsigned i = 0; i < st->n; i++) {
		for (int k = 0; k < STORE_BY_COUNT; k++)
			sqlite3_finalize(st->conns[i].citizens[k]);
		sqlite3_close(st->conns[i].db);
		store_pg_close(st->conns[i].pg);
	}
	pthread_mutex_destroy(&st->mu);
	pthread_cond_destroy(&st->cv);
	free(st->conns);
	free(st->loc);
	free(st);
}

const char *store_location(const struct store *st)
{
	return st->loc;
}

struct store_conn *store_acquire(struct store *st)
{
	struct store_conn *c = NULL;

	pthread_mutex_lock(&st->mu);
	while (!c) {
		for (unsigned i = 0; i < st->n && !c; i++)
			if (!st->conns[i].busy)
				c = &st->conns[i];
		if (!c)
			pthread_cond_wait(&st->cv, &st->mu);
	}
	c->busy = 1;
	pthread_mutex_unlock(&st->mu);
	return c;
}

void store_release(struct store *st, struct store_conn *c)
{
	pthread_mutex_lock(&st->mu);
	c->busy = 0;
	pthread_cond_signal(&st->cv);
	pthread_mutex_unlock(&st->mu);
}

sqlite3 *store_conn_db(struct store_conn *c)
{
	return c->db;
}

struct store_pg *store_conn_pg(struct store_conn *c)
{
	return c->pg;
}

int store_engine_pg(const struct store *st)
{
	return st->pg;
}

int store_begin(struct store_conn *c)
{
	if (c->pg)
		return store_pg_begin(c->pg);
	return exec_sql(c->db, "BEGIN IMMEDIATE");
}

int store_commit(struct store_conn *c)
{
	if (c->pg)
		return store_pg_commit(c->pg);
	if (exec_sql(c->db, "COMMIT")) {
		store_rollback(c);
		return NDX_EDB;
	}
	return NDX_OK;
}

void store_rollback(struct store_conn *c)
{
	if (c->pg) {
		store_pg_rollback(c->pg);
		return;
	}
	if (!sqlite3_get_autocommit(c->db))
		sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
}

/* ---- reads -------------------------------------------------------------------- */

static void select_columns(struct ndx_text *s, const struct sector_table *t)
{
	ndx_text_addf(s, "SELECT %s", t->key ? "rowid" : "id");
	for (size_t j = 0; j < t->ncols; j++)
		ndx_text_addf(s, ", %s", t->cols[j].name);
	ndx_text_addf(s, ", updated_at FROM %s", t->name);
}

static json_t *row_object(sqlite3_stmt *q, const struct sector_table *t)
{
	json_t *o = json_object();
	int col = 1;

	if (!o)
		return NULL;
	if (!t->key)
		json_object_set_new(o, "id", json_integer(sqlite3_column_int64(q, 0)));
	for (size_t j = 0; j < t->ncols; j++, col++) {
		const struct sector_column *c = &t->cols[j];
		json_t *v;
		switch (sqlite3_column_type(q, col)) {
		case SQLITE_NULL: v = json_null(); break;
		case SQLITE_INTEGER:
			v = c->type == COL_REAL ? json_real((double)sqlite3_column_int64(q, col))
						: json_integer(sqlite3_column_int64(q, col));
			break;
		case SQLITE_FLOAT: v = json_real(sqlite3_column_double(q, col)); break;
		default:
			/* Stored text is what the store wrote or what someone
			 * planted; a non-UTF-8 value must not break the answer. */
			v = json_stringn((const char *)sqlite3_column_text(q, col),
					 (size_t)sqlite3_column_bytes(q, col));
			break;
		}
		json_object_set_new(o, c->name, v ? v : json_null());
	}
	json_object_set_new(o, "updated_at",
			    json_string_nocheck((const char *)sqlite3_column_text(q, col)
						    ? (const char *)sqlite3_column_text(q, col)
						    : ""));
	return o;
}

static int prepare(sqlite3 *db, const char *sql, sqlite3_stmt **q)
{
	if (sqlite3_prepare_v2(db, sql, -1, q, NULL) != SQLITE_OK) {
		fprintf(stderr, "ndx-sector: store: %s\n", sqlite3_errmsg(db));
		return NDX_EDB;
	}
	return NDX_OK;
}

int store_get(struct store_conn *c, const struct sector_table *t, const char *id, json_t **out)
{
	struct ndx_text s = NDX_TEXT_INIT;
	sqlite3_stmt *q = NULL;
	char *text;
	int rc, step;

	if (c->pg)
		return store_pg_get(c->pg, t, id, out);
	*out = NULL;
	select_columns(&s, t);
	ndx_text_addf(&s, " WHERE %s = ?", t->key ? t->key : "id");
	if (!(text = ndx_text_take(&s)))
		return NDX_ENOMEM;
	rc = prepare(c->db, text, &q);
	free(text);
	if (rc)
		return rc;
	if (t->key) {
		sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
	} else {
		char *end;
		long long n = strtoll(id, &end, 10);
		if (*id == '\0' || *end || n <= 0) {
			sqlite3_finalize(q);
			return NDX_ENOTFOUND;
		}
		sqlite3_bind_int64(q, 1, n);
	}
	step = sqlite3_step(q);
	if (step == SQLITE_ROW)
		rc = (*out = row_object(q, t)) ? NDX_OK : NDX_ENOMEM;
	else
		rc = step == SQLITE_DONE ? NDX_ENOTFOUND : NDX_EDB;
	sqlite3_finalize(q);
	return rc;
}

void store_prefix_upper(const char *p, char *out, size_t cap)
{
	size_t n = strlen(p);
	snprintf(out, cap, "%s", p);
	while (n > 0 && (unsigned char)out[n - 1] == 0xff)
		n--;
	out[n] = '\0';
	if (n > 0)
		out[n - 1] = (char)((unsigned char)out[n - 1] + 1);
}

int store_list(struct store_conn *c, const struct sector_table *t, const struct store_query *qy,
	       json_t **out)
{
	struct ndx_text s = NDX_TEXT_INIT;
	sqlite3_stmt *q = NULL;
	char *text, upper[STORE_FOLDED_MAX];
	int rc = NDX_OK, step, arg = 1, by_name = qy->name_prefix && *qy->name_prefix;
	json_t *arr;

	if (c->pg)
		return store_pg_list(c->pg, t, qy, out);
	*out = NULL;
	select_columns(&s, t);
	ndx_text_addf(&s, " WHERE 1");
	if (by_name) {
		store_prefix_upper(qy->name_prefix, upper, sizeof upper);
		ndx_text_addf(&s, " AND name_folded >= ?");
		if (*upper)
			ndx_text_addf(&s, " AND name_folded < ?");
	}
	for (size_t i = 0; i < qy->nfilters; i++)
		ndx_text_addf(&s, " AND %s = ?", qy->filter_cols[i]);
	ndx_text_addf(&s, by_name ? " ORDER BY name_folded, rowid" : " ORDER BY rowid");
	ndx_text_addf(&s, " LIMIT ? OFFSET ?");
	if (!(text = ndx_text_take(&s)))
		return NDX_ENOMEM;
	rc = prepare(c->db, text, &q);
	free(text);
	if (rc)
		return rc;
	if (by_name) {
		sqlite3_bind_text(q, arg++, qy->name_prefix, -1, SQLITE_STATIC);
		if (*upper)
			sqlite3_bind_text(q, arg++, upper, -1, SQLITE_STATIC);
	}
	for (size_t i = 0; i < qy->nfilters; i++)
		sqlite3_bind_text(q, arg++, qy->filter_values[i], -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, arg++, (sqlite3_int64)qy->limit);
	sqlite3_bind_int64(q, arg++, (sqlite3_int64)qy->offset);
	if (!(arr = json_array())) {
		sqlite3_finalize(q);
		return NDX_ENOMEM;
	}
	while ((step = sqlite3_step(q)) == SQLITE_ROW) {
		json_t *o = row_object(q, t);
		if (!o || json_array_append_new(arr, o)) {
			rc = NDX_ENOMEM;
			break;
		}
	}
	if (rc == NDX_OK && step != SQLITE_DONE) {
		fprintf(stderr, "ndx-sector: store: %s\n", sqlite3_errmsg(c->db));
		rc = NDX_EDB;
	}
	sqlite3_finalize(q);
	if (rc) {
		json_decref(arr);
		return rc;
	}
	*out = arr;
	return NDX_OK;
}

int store_household_members(struct store_conn *c, const char *id, json_t **out)
{
	static const char *const COLS[] = { "pin", "full_name", "relation", "birth_date" };
	sqlite3_stmt *q = NULL;
	json_t *list;
	int step, rc;

	if (c->pg)
		return store_pg_household_members(c->pg, id, out);
	*out = NULL;
	if (!(list = json_array()))
		return NDX_ENOMEM;
	if ((rc = prepare(c->db,
			  "SELECT pin, full_name, relation, birth_date FROM citizens"
			  " WHERE household_id = ? AND deceased_on IS NULL ORDER BY birth_date, pin",
			  &q))) {
		json_decref(list);
		return rc;
	}
	sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
	while ((step = sqlite3_step(q)) == SQLITE_ROW) {
		json_t *m = json_object();

		if (!m || json_array_append_new(list, m)) {
			sqlite3_finalize(q);
			json_decref(list);
			return NDX_ENOMEM;
		}
		for (int i = 0; i < 4; i++)
			if (sqlite3_column_text(q, i))
				json_object_set_new(m, COLS[i],
						    json_string((const char *)sqlite3_column_text(q, i)));
	}
	sqlite3_finalize(q);
	if (step != SQLITE_DONE) {
		json_decref(list);
		return NDX_EDB;
	}
	*out = list;
	return NDX_OK;
}

int store_exists(struct store_conn *c, const char *table, const char *col, const char *value)
{
	char sql[256];
	sqlite3_stmt *q = NULL;
	int step;

	if (c->pg)
		return store_pg_exists(c->pg, table, col, value);
	snprintf(sql, sizeof sql, "SELECT 1 FROM %s WHERE %s = ? LIMIT 1", table, col);
	if (prepare(c->db, sql, &q))
		return NDX_EDB;
	sqlite3_bind_text(q, 1, value, -1, SQLITE_STATIC);
	step = sqlite3_step(q);
	sqlite3_finalize(q);
	return step == SQLITE_ROW ? 1 : step == SQLITE_DONE ? 0 : NDX_EDB;
}

/* ---- writes -------------------------------------------------------------------- */

static int bind_row(sqlite3_stmt *q, const struct sector_table *t, const json_t *row, int *arg,
		    char *folded, size_t folded_cap)
{
	for (size_t j = 0; j < t->ncols; j++) {
		const struct sector_column *c = &t->cols[j];
		const json_t *v = json_object_get(row, c->name);
		int i = (*arg)++;
		if (!v || json_is_null(v))
			sqlite3_bind_null(q, i);
		else if (json_is_integer(v))
			sqlite3_bind_int64(q, i, json_integer_value(v));
		else if (json_is_number(v))
			sqlite3_bind_double(q, i, json_number_value(v));
		else
			sqlite3_bind_text(q, i, json_string_value(v), -1, SQLITE_STATIC);
		if (c->flags & COL_NAME) {
			if (ndx_fold(v && json_is_string(v) ? json_string_value(v) : "", folded,
					folded_cap) < 0)
				return NDX_ETOOBIG;
			sqlite3_bind_text(q, (*arg)++, folded, -1, SQLITE_STATIC);
		}
	}
	return NDX_OK;
}

int store_insert_db(sqlite3 *db, const struct sector_table *t, const json_t *row,
		    const char *now)
{
	char *text = store_insert_sql(t), folded[STORE_FOLDED_MAX];
	sqlite3_stmt *q = NULL;
	int rc, arg = 1, step;

	if (!text)
		return NDX_ENOMEM;
	rc = prepare(db, text, &q);
	free(text);
	if (rc)
		return rc;
	if ((rc = bind_row(q, t, row, &arg, folded, sizeof folded))) {
		sqlite3_finalize(q);
		return rc;
	}
	sqlite3_bind_text(q, arg, now, -1, SQLITE_STATIC);
	step = sqlite3_step(q);
	sqlite3_finalize(q);
	if (step == SQLITE_CONSTRAINT)
		return NDX_EEXIST;
	if (step != SQLITE_DONE) {
		fprintf(stderr, "ndx-sector: store: %s\n", sqlite3_errmsg(db));
		return NDX_EDB;
	}
	return NDX_OK;
}

int store_put(struct store_conn *c, const struct sector_table *t, const char *id,
	      const json_t *row, char *out_id, size_t cap)
{
	struct ndx_text s = NDX_TEXT_INIT;
	sqlite3_stmt *q = NULL;
	char *text, now[NDX_TIME_TEXT_LEN], folded[STORE_FOLDED_MAX];
	const char *key_value = NULL;
	long long num = 0;
	int rc, arg = 1, step;

	if (c->pg)
		return store_pg_put(c->pg, t, id, row, out_id, cap);
	ndx_time_format(time(NULL), now);
	if (t->key) {
		key_value = id ? id : json_string_value(json_object_get(row, t->key));
		if (!key_value)
			return NDX_EINVAL;
		rc = store_exists(c, t->name, t->key, key_value);
		if (rc < 0)
			return rc;
		if (!id && rc == 1)
			return NDX_EEXIST;
		if (id && rc == 0)
			return NDX_ENOTFOUND;
	} else if (id) {
		char *end;
		num = strtoll(id, &end, 10);
		if (*id == '\0' || *end || num <= 0)
			return NDX_ENOTFOUND;
		char numtext[32];
		snprintf(numtext, sizeof numtext, "%lld", num);
		rc = store_exists(c, t->name, "id", numtext);
		if (rc < 0)
			return rc;
		if (rc == 0)
			return NDX_ENOTFOUND;
	}
	if (!id) {
		text = store_insert_sql(t);
	} else {
		ndx_text_addf(&s, "UPDATE %s SET ", t->name);
		for (size_t j = 0; j < t->ncols; j++) {
			ndx_text_addf(&s, "%s = ?, ", t->cols[j].name);
			if (t->cols[j].flags & COL_NAME)
				ndx_text_addf(&s, "name_folded = ?, ");
		}
		ndx_text_addf(&s, "updated_at = ? WHERE %s = ?", t->key ? t->key : "id");
		text = ndx_text_take(&s);
	}
	if (!text)
		return NDX_ENOMEM;
	rc = prepare(c->db, text, &q);
	free(text);
	if (rc)
		return rc;
	if ((rc = bind_row(q, t, row, &arg, folded, sizeof folded))) {
		sqlite3_finalize(q);
		return rc;
	}
	sqlite3_bind_text(q, arg++, now, -1, SQLITE_STATIC);
	if (id) {
		if (t->key)
			sqlite3_bind_text(q, arg++, id, -1, SQLITE_STATIC);
		else
			sqlite3_bind_int64(q, arg++, num);
	}
	step = sqlite3_step(q);
	sqlite3_finalize(q);
	if (step == SQLITE_CONSTRAINT)
		return NDX_EEXIST;
	if (step != SQLITE_DONE) {
		fprintf(stderr, "ndx-sector: store: %s\n", sqlite3_errmsg(c->db));
		return NDX_EDB;
	}
	if (t->key)
		snprintf(out_id, cap, "%s", key_value);
	else
		snprintf(out_id, cap, "%lld", id ? num : (long long)sqlite3_last_insert_rowid(c->db));
	return NDX_OK;
}

int store_texts(struct store_conn *c, const char *table, const char *col, const char *where_col,
		const char *value, int (*each)(void *ctx, const char *v), void *ctx)
{
	char sql[256];
	sqlite3_stmt *q = NULL;
	int rc = NDX_OK, step = SQLITE_DONE;

	if (c->pg)
		return store_pg_texts(c->pg, table, col, where_col, value, each, ctx);
	snprintf(sql, sizeof sql, "SELECT %s FROM %s WHERE %s = ?", col, table, where_col);
	if (prepare(c->db, sql, &q))
		return NDX_EDB;
	sqlite3_bind_text(q, 1, value, -1, SQLITE_STATIC);
	while (rc == NDX_OK && (step = sqlite3_step(q)) == SQLITE_ROW)
		rc = each(ctx, (const char *)sqlite3_column_text(q, 0));
	if (rc == NDX_OK && step != SQLITE_DONE) {
		fprintf(stderr, "ndx-sector: store: %s\n", sqlite3_errmsg(c->db));
		rc = NDX_EDB;
	}
	sqlite3_finalize(q);
	return rc;
}

long long store_count(struct store_conn *c, const char *table)
{
	char sql[128];
	sqlite3_stmt *q = NULL;
	long long n = -1;

	if (c->pg)
		return store_pg_count(c->pg, table);
	/* Rows are never deleted (the API has no DELETE, the event rules
	 * only update), so the highest rowid is their count, read from the
	 * b-tree's edge instead of a scan of up to ten million rows. */
	snprintf(sql, sizeof sql, "SELECT coalesce(max(rowid), 0) FROM %s", table);
	if (prepare(c->db, sql, &q))
		return -1;
	if (sqlite3_step(q) == SQLITE_ROW)
		n = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	return n;
}

/* ---- bulk load --------------------------------------------------------------------- */

#define BULK_MAX_TABLES 8

struct store_bulk {
	const struct sector_def *def;
	struct store_pg_bulk *pg;
	sqlite3 *db;
	sqlite3_stmt *ins[BULK_MAX_TABLES];
	char path[4096];
	int created, in_txn;
};

int store_bulk_open(const char *loc, const struct sector_def *def, struct store_bulk **out)
{
	struct store_bulk *b;
	int rc;

	*out = NULL;
	if (def->ntables > BULK_MAX_TABLES)
		return NDX_EINVAL;
	if (!(b = calloc(1, sizeof *b)))
		return NDX_ENOMEM;
	b->def = def;
	if (ndx_sqldb_is_pg(loc)) {
		if ((rc = store_pg_bulk_open(loc, def, &b->pg))) {
			free(b);
			return rc;
		}
		*out = b;
		return NDX_OK;
	}
	if ((size_t)snprintf(b->path, sizeof b->path, "%s", loc) >= sizeof b->path) {
		free(b);
		return NDX_EINVAL;
	}
	if (access(loc, F_OK) == 0) {
		fprintf(stderr, "ndx-sector seed: %s exists: refusing to overwrite\n", loc);
		free(b);
		return NDX_EEXIST;
	}
	if (sqlite3_open_v2(loc, &b->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		fprintf(stderr, "ndx-sector seed: cannot create %s\n", loc);
		store_bulk_close(b, 0);
		return NDX_EIO;
	}
	b->created = 1;
	/* Nothing to protect while the file is being born: a failed seed
	 * deletes it. */
	if (exec_sql(b->db, "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
			    "PRAGMA locking_mode=EXCLUSIVE; PRAGMA temp_store=MEMORY;"
			    "PRAGMA cache_size=-262144;") ||
	    store_schema_create(b->db, def, 0) || exec_sql(b->db, "BEGIN")) {
		store_bulk_close(b, 0);
		return NDX_EDB;
	}
	b->in_txn = 1;
	for (size_t t = 0; t < def->ntables; t++) {
		char *sql = store_insert_sql(&def->tables[t]);
		rc = sql ? prepare(b->db, sql, &b->ins[t]) : NDX_ENOMEM;
		free(sql);
		if (rc) {
			store_bulk_close(b, 0);
			return rc;
		}
	}
	*out = b;
	return NDX_OK;
}

int store_bulk_row(struct store_bulk *b, size_t table, const char *types, va_list ap)
{
	sqlite3_stmt *q;
	int i = 1, rc;

	if (b->pg)
		return store_pg_bulk_row(b->pg, table, types, ap);
	if (table >= b->def->ntables)
		return NDX_EINVAL;
	q = b->ins[table];
	for (const char *t = types; *t; t++, i++) {
		if (*t == 's') {
			const char *v = va_arg(ap, const char *);
			if (v)
				sqlite3_bind_text(q, i, v, -1, SQLITE_STATIC);
			else
				sqlite3_bind_null(q, i);
		} else if (*t == 'i') {
			sqlite3_bind_int64(q, i, va_arg(ap, int64_t));
		} else {
			sqlite3_bind_double(q, i, va_arg(ap, double));
		}
	}
	rc = sqlite3_step(q);
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	if (rc != SQLITE_DONE) {
		fprintf(stderr, "ndx-sector seed: %s: %s\n", b->def->name, sqlite3_errmsg(b->db));
		return NDX_EDB;
	}
	return NDX_OK;
}

int store_bulk_end(struct store_bulk *b)
{
	if (b->pg)
		return store_pg_bulk_end(b->pg);
	for (size_t t = 0; t < BULK_MAX_TABLES; t++) {
		sqlite3_finalize(b->ins[t]);
		b->ins[t] = NULL;
	}
	b->in_txn = 0;
	return exec_sql(b->db, "COMMIT");
}

int store_bulk_index(struct store_bulk *b)
{
	if (b->pg)
		return store_pg_bulk_index(b->pg);
	if (store_indexes_create(b->db, b->def) ||
	    exec_sql(b->db, "PRAGMA analysis_limit=1000; ANALYZE;") ||
	    exec_sql(b->db, "PRAGMA locking_mode=NORMAL; PRAGMA journal_mode=WAL;"))
		return NDX_EDB;
	return NDX_OK;
}

uint64_t store_bulk_bytes(struct store_bulk *b)
{
	struct stat sb;

	if (b->pg)
		return store_pg_bulk_bytes(b->pg);
	/* What the file holds once closed: the log folded in. */
	sqlite3_exec(b->db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
	return stat(b->path, &sb) == 0 ? (uint64_t)sb.st_size : 0;
}

struct sec_sql store_bulk_sql(struct store_bulk *b)
{
	struct sec_sql s = { b->db, b->pg ? store_pg_bulk_conn(b->pg) : NULL,
			     "ndx-sector seed: defects" };
	return s;
}

void store_bulk_close(struct store_bulk *b, int keep)
{
	char extra[4200];

	if (!b)
		return;
	if (b->pg) {
		store_pg_bulk_close(b->pg, keep);
		free(b);
		return;
	}
	for (size_t t = 0; t < BULK_MAX_TABLES; t++)
		sqlite3_finalize(b->ins[t]);
	sqlite3_close(b->db);
	if (!keep && b->created) {
		unlink(b->path);
		snprintf(extra, sizeof extra, "%s-wal", b->path);
		unlink(extra);
		snprintf(extra, sizeof extra, "%s-shm", b->path);
		unlink(extra);
	}
	free(b);
}

/* ---- the citizens /verify reads -------------------------------------------------- */

#define CITIZEN_COLUMNS                                                                  \
	"SELECT pin, full_name, birth_date, sex, permanent_address, deceased_on IS NULL" \
	" FROM citizens WHERE "

int store_citizens(struct store_conn *c, enum store_citizens_by by, const char *a, const char *b,
		   unsigned limit, int (*each)(void *ctx, const struct store_citizen *cit),
		   void *ctx)
{
	static const char *const SQL[STORE_BY_COUNT] = {
		CITIZEN_COLUMNS "pin = ?1 LIMIT ?3",
		CITIZEN_COLUMNS "name_folded = ?1 ORDER BY rowid LIMIT ?3",
		CITIZEN_COLUMNS "name_folded = ?1 AND birth_date = ?2 ORDER BY rowid LIMIT ?3",
		CITIZEN_COLUMNS "name_folded = ?1 AND permanent_address = ?2 ORDER BY rowid LIMIT ?3",
	};
	sqlite3_stmt *q;
	int rc = NDX_OK, step = SQLITE_DONE;

	if ((unsigned)by >= STORE_BY_COUNT)
		return NDX_EINVAL;
	if (c->pg)
		return store_pg_citizens(c->pg, by, a, b, limit, each, ctx);
	if (!c->citizens[by] && prepare(c->db, SQL[by], &c->citizens[by]))
		return NDX_EDB;
	q = c->citizens[by];
	sqlite3_bind_text(q, 1, a, -1, SQLITE_TRANSIENT);
	if (b)
		sqlite3_bind_text(q, 2, b, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(q, 3, (sqlite3_int64)limit);
	while (rc == NDX_OK && (step = sqlite3_step(q)) == SQLITE_ROW) {
		const char *v[5];
		for (int i = 0; i < 5; i++)
			v[i] = sqlite3_column_text(q, i) ? (const char *)sqlite3_column_text(q, i) : "";
		struct store_citizen cit = { v[0], v[1], v[2], v[3], v[4], sqlite3_column_int(q, 5) };
		rc = each(ctx, &cit);
	}
	if (rc == NDX_OK && step != SQLITE_DONE) {
		fprintf(stderr, "ndx-sector: store: %s\n", sqlite3_errmsg(c->db));
		rc = NDX_EDB;
	}
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	return rc;
}

int store_read_begin(struct store_conn *c)
{
	if (c->pg)
		return store_pg_read_begin(c->pg);
	return exec_sql(c->db, "BEGIN");
}

void store_read_end(struct store_conn *c)
{
	if (c->pg) {
		store_pg_rollback(c->pg);
		return;
	}
	if (!sqlite3_get_autocommit(c->db))
		sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL);
}
