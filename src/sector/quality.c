/* The quality report (quality.h). Invalid records are found by running
 * every row through the same validation as the API's writes
 * (api_validate_row), so "clean" means "a write the API would accept".
 * Duplicates group rows on each table's dup_key; dangling references use
 * NOT EXISTS against the key index of the referred table, attaching other
 * sectors' databases read-only. Everything is read-only.
 *
 * The same code on both engines: the statements are in the SQL SQLite and
 * PostgreSQL both speak (an aggregate of the ids their one difference,
 * group_concat / string_agg), run by each_row on the SQLite handle or
 * through store_pg_query, a row at a time; on PostgreSQL the whole report
 * reads one snapshot (a REPEATABLE READ, READ ONLY transaction), and the
 * other sectors are the schemas of the same database (--db-dir the
 * connection string) rather than attached files. */
#include "quality.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "ndx/adminmap.h"
#include "ndx/err.h"
#include "ndx/pin.h"
#include "ndx/sqldb.h"
#include "ndx/timefmt.h"
#include "store_pg.h"

struct q {
	const struct quality_opts *o;
	sqlite3 *db;         /* SQLite, or */
	struct store_pg *pg; /* PostgreSQL */
	char attached[SECTOR_COUNT][32]; /* schema alias per sector, "" when not attached */
};

/* One row of a result on either engine. */
struct row {
	sqlite3_stmt *st;         /* SQLite, or */
	const char *const *vals;  /* PostgreSQL: text, NULL for NULL */
	int ncols;
};

typedef int (*row_fn)(struct q *q, const struct row *r, void *ctx);

struct pg_adapter {
	struct q *q;
	row_fn fn;
	void *ctx;
};

static int pg_row(void *ctx, int ncols, const char *const *vals)
{
	struct pg_adapter *a = ctx;
	struct row r = { .vals = vals, .ncols = ncols };
	return a->fn(a->q, &r, a->ctx);
}

static int exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
		fprintf(stderr, "ndx-sector quality: %s\n", err ? err : sqlite3_errmsg(db));
		sqlite3_free(err);
		return NDX_EDB;
	}
	return NDX_OK;
}

static int prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st)
{
	if (sqlite3_prepare_v2(db, sql, -1, st, NULL) != SQLITE_OK) {
		fprintf(stderr, "ndx-sector quality: %s\n", sqlite3_errmsg(db));
		return NDX_EDB;
	}
	return NDX_OK;
}

/* Calls fn for every row of sql (text parameters ?1..?n) on q's engine,
 * stopping at its first non-NDX_OK, which is returned; NDX_EDB when the
 * store fails (said on stderr). */
static int each_row(struct q *q, const char *sql, int n, const char *const *params, row_fn fn,
		    void *ctx)
{
	sqlite3_stmt *st = NULL;
	int rc = NDX_OK, s = SQLITE_DONE;

	if (q->pg) {
		struct pg_adapter a = { q, fn, ctx };
		return store_pg_query(q->pg, sql, n, params, pg_row, &a);
	}
	if ((rc = prepare(q->db, sql, &st)))
		return rc;
	for (int i = 0; i < n; i++)
		sqlite3_bind_text(st, i + 1, params[i], -1, SQLITE_STATIC);
	struct row r = { .st = st, .ncols = sqlite3_column_count(st) };
	while (rc == NDX_OK && (s = sqlite3_step(st)) == SQLITE_ROW)
		rc = fn(q, &r, ctx);
	if (rc == NDX_OK && s != SQLITE_DONE) {
		fprintf(stderr, "ndx-sector quality: %s\n", sqlite3_errmsg(q->db));
		rc = NDX_EDB;
	}
	sqlite3_finalize(st);
	return rc;
}

static int is_null(const struct row *r, int i)
{
	return r->st ? sqlite3_column_type(r->st, i) == SQLITE_NULL : r->vals[i] == NULL;
}

static long long int_of(const struct row *r, int i)
{
	if (r->st)
		return sqlite3_column_int64(r->st, i);
	return r->vals && r->vals[i] ? atoll(r->vals[i]) : 0;
}

static json_t *column_json(sqlite3_stmt *st, int i);

/* Value i of r as JSON: on SQLite as stored; on PostgreSQL by the type of
 * the column it comes from (every column of a type: store_pg.c). */
static json_t *cell(const struct row *r, int i, enum col_type type)
{
	const char *v;
	json_t *j;

	if (r->st)
		return column_json(r->st, i);
	if (!(v = r->vals[i]))
		return json_null();
	if (type == COL_INT)
		return json_integer(strtoll(v, NULL, 10));
	if (type == COL_REAL)
		return json_real(strtod(v, NULL));
	j = json_string(v);
	return j ? j : json_string("(not UTF-8)");
}

/* The type of t's column name (n bytes): COL_INT for id, COL_TEXT for
 * anything else not in the schema. */
static enum col_type type_of(const struct sector_table *t, const char *name, size_t n)
{
	if (n == 2 && strncmp(name, "id", 2) == 0 && !t->key)
		return COL_INT;
	for (size_t j = 0; j < t->ncols; j++)
		if (strlen(t->cols[j].name) == n && strncmp(t->cols[j].name, name, n) == 0)
			return t->cols[j].type;
	return COL_TEXT;
}

static int one_count(struct q *q, const struct row *r, void *ctx)
{
	(void)q;
	*(long long *)ctx = int_of(r, 0);
	return NDX_OK;
}

/* The count(*) of sql; -1 on failure. */
static long long count_of(struct q *q, const char *sql, int n, const char *const *params)
{
	long long c = -1;
	return each_row(q, sql, n, params, one_count, &c) == NDX_OK ? c : -1;
}

static json_t *column_json(sqlite3_stmt *st, int i)
{
	switch (sqlite3_column_type(st, i)) {
	case SQLITE_NULL: return json_null();
	case SQLITE_INTEGER: return json_integer(sqlite3_column_int64(st, i));
	case SQLITE_FLOAT: return json_real(sqlite3_column_double(st, i));
	default: {
		json_t *v = json_stringn((const char *)sqlite3_column_text(st, i),
					 (size_t)sqlite3_column_bytes(st, i));
		return v ? v : json_string("(not UTF-8)");
	}
	}
}

static const char *row_id_col(const struct sector_table *t)
{
	return t->key ? t->key : "id";
}

/* ---- invalid rows ------------------------------------------------------------ */

struct invalid_scan {
	const struct sector_table *t;
	long long count;
	json_t *samples;
};

static int invalid_row(struct q *q, const struct row *r, void *ctx)
{
	struct invalid_scan *v = ctx;
	const struct sector_table *t = v->t;
	json_t *row = json_object(), *ok;
	char field[256], why[256];

	if (!row)
		return NDX_ENOMEM;
	for (size_t j = 0; j < t->ncols; j++)
		if (!is_null(r, (int)j + 1))
			json_object_set_new(row, t->cols[j].name, cell(r, (int)j + 1, t->cols[j].type));
	ok = api_validate_row(q->o->def, t, row, NULL, field, why, sizeof field);
	if (ok) {
		json_decref(ok);
	} else {
		v->count++;
		if (json_array_size(v->samples) < q->o->samples) {
			json_t *id = t->key ? json_incref(json_object_get(row, t->key))
					    : json_integer(int_of(r, 0));
			json_t *val = json_object_get(row, field);
			json_array_append_new(v->samples,
					      json_pack("{sosssOss}", "id", id ? id : json_null(),
							"field", field, "value",
							val ? val : json_null(), "why", why));
		}
	}
	json_decref(row);
	return NDX_OK;
}

static int check_invalid(struct q *q, const struct sector_table *t, json_t *out)
{
	char sql[1024];
	size_t n = 0;
	struct invalid_scan v = { .t = t, .samples = json_array() };
	int rc;

	if (!v.samples)
		return NDX_ENOMEM;
	n += (size_t)snprintf(sql + n, sizeof sql - n, "SELECT %s", row_id_col(t));
	for (size_t j = 0; j < t->ncols && n < sizeof sql; j++)
		n += (size_t)snprintf(sql + n, sizeof sql - n, ", %s", t->cols[j].name);
	if (n < sizeof sql)
		snprintf(sql + n, sizeof sql - n, " FROM %s", t->name);
	if ((rc = each_row(q, sql, 0, NULL, invalid_row, &v))) {
		json_decref(v.samples);
		return rc;
	}
	json_object_set_new(out, "invalid",
			    json_pack("{sIso}", "count", (json_int_t)v.count, "samples", v.samples));
	return NDX_OK;
}

/* ---- duplicates ----------------------------------------------------------------- */

struct dup_scan {
	const struct sector_table *t;
	int ncols;
	json_t *samples;
};

static int dup_row(struct q *q, const struct row *r, void *ctx)
{
	struct dup_scan *d = ctx;
	json_t *key = json_object();
	int i = 0;

	(void)q;
	if (!key)
		return NDX_ENOMEM;
	for (const char *p = d->t->dup_key; *p; i++) {
		size_t n = strcspn(p, ",");
		json_object_setn_new(key, p, n, cell(r, i, type_of(d->t, p, n)));
		p += n + (p[n] == ',');
	}
	json_array_append_new(d->samples,
			      json_pack("{sosIso}", "key", key, "rows",
					(json_int_t)int_of(r, d->ncols), "ids",
					cell(r, d->ncols + 1, COL_TEXT)));
	return NDX_OK;
}

static int check_duplicates(struct q *q, const struct sector_table *t, json_t *out)
{
	char sql[1024], where[512], ids[128];
	size_t w = 0;
	struct dup_scan d = { .t = t, .ncols = 1 };
	long long groups;
	int rc;

	if (!t->dup_key)
		return NDX_OK;
	for (const char *p = t->dup_key; *p; p++)
		d.ncols += *p == ',';
	/* Rows missing a part of the key are not duplicates of each other. */
	where[0] = '\0';
	for (const char *p = t->dup_key; *p && w < sizeof where;) {
		size_t n = strcspn(p, ",");
		w += (size_t)snprintf(where + w, sizeof where - w, "%s%.*s IS NOT NULL",
				      w ? " AND " : "", (int)n, p);
		p += n + (p[n] == ',');
	}
	snprintf(sql, sizeof sql,
		 "SELECT count(*) FROM (SELECT 1 FROM %s WHERE %s GROUP BY %s HAVING count(*) > 1)"
		 " AS g",
		 t->name, where, t->dup_key);
	if ((groups = count_of(q, sql, 0, NULL)) < 0)
		return NDX_EDB;
	/* The ids of a group, space-separated. */
	if (q->pg)
		snprintf(ids, sizeof ids, "string_agg(%s::text, ' ')", row_id_col(t));
	else
		snprintf(ids, sizeof ids, "group_concat(%s, ' ')", row_id_col(t));
	snprintf(sql, sizeof sql,
		 "SELECT %s, count(*), %s FROM %s WHERE %s GROUP BY %s"
		 " HAVING count(*) > 1 LIMIT %u",
		 t->dup_key, ids, t->name, where, t->dup_key, q->o->samples);
	if (!(d.samples = json_array()))
		return NDX_ENOMEM;
	if ((rc = each_row(q, sql, 0, NULL, dup_row, &d))) {
		json_decref(d.samples);
		return rc;
	}
	json_object_set_new(out, "duplicates",
			    json_pack("{sssIso}", "key", t->dup_key, "groups", (json_int_t)groups,
				      "samples", d.samples));
	return NDX_OK;
}

/* ---- dangling references ----------------------------------------------------------- */

/* The schema alias under which sector is readable, attaching it from
 * db_dir when needed; NULL when it cannot be (no directory, no file). */
static const char *alias_of(struct q *q, const char *sector)
{
	char path[4096], sql[4300];
	size_t i;

	if (strcmp(sector, q->o->def->name) == 0 && !q->pg)
		return "main";
	for (i = 0; i < SECTOR_COUNT; i++)
		if (strcmp(sector_at(i)->name, sector) == 0)
			break;
	if (i == SECTOR_COUNT || (!q->o->db_dir && strcmp(sector, q->o->def->name) != 0))
		return NULL;
	if (q->attached[i][0])
		return q->attached[i];
	if (q->pg) {
		/* The sector's schema in the same database, when it has one. */
		char schema[32];
		const char *params[1] = { schema };
		size_t k;

		for (k = 0; sector[k] && k + 1 < sizeof schema; k++)
			schema[k] = sector[k] == '-' ? '_' : sector[k];
		schema[k] = '\0';
		if (count_of(q, "SELECT count(*) FROM pg_namespace WHERE nspname = ?1", 1, params) ==
		    1)
			snprintf(q->attached[i], sizeof q->attached[i], "%s", schema);
		return q->attached[i][0] ? q->attached[i] : NULL;
	}
	snprintf(path, sizeof path, "%s/%s.db", q->o->db_dir, sector);
	if (access(path, R_OK) != 0)
		return NULL;
	/* A bound parameter keeps any quote in the path out of the SQL. */
	snprintf(q->attached[i], sizeof q->attached[i], "s%zu", i);
	snprintf(sql, sizeof sql, "ATTACH DATABASE ?1 AS %s", q->attached[i]);
	char uri[4200];
	snprintf(uri, sizeof uri, "file:%s?mode=ro", path);
	sqlite3_stmt *st = NULL;
	if (prepare(q->db, sql, &st) == NDX_OK) {
		sqlite3_bind_text(st, 1, uri, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_DONE) {
			sqlite3_finalize(st);
			return q->attached[i];
		}
		fprintf(stderr, "ndx-sector quality: cannot attach %s: %s\n", path,
			sqlite3_errmsg(q->db));
	}
	sqlite3_finalize(st);
	q->attached[i][0] = '\0';
	return NULL;
}

struct target {
	const char *sector, *table, *key;
	const char *cond; /* extra condition on the value (party refs), or "" */
};

struct dangling_scan {
	const struct sector_table *t;
	const struct sector_column *c;
	const char *refers;
	long long *count;
	json_t *samples;
};

static int dangling_row(struct q *q, const struct row *r, void *ctx)
{
	struct dangling_scan *d = ctx;

	(*d->count)++;
	if (json_array_size(d->samples) < q->o->samples)
		json_array_append_new(d->samples,
				      json_pack("{sosssoss}", "id",
						cell(r, 0, d->t->key ? COL_TEXT : COL_INT), "field",
						d->c->name, "value", cell(r, 1, d->c->type),
						"refers_to", d->refers));
	return NDX_OK;
}

static int dangling_one(struct q *q, const struct sector_table *t, const struct sector_column *c,
			const struct target *tg, long long *count, json_t *samples,
			json_t *skipped)
{
	const char *alias = alias_of(q, tg->sector), *self = alias_of(q, q->o->def->name);
	char sql[1024], refers[128];
	struct dangling_scan d = { t, c, refers, count, samples };

	snprintf(refers, sizeof refers, "%s/%s", tg->sector, tg->table);
	if (!alias || !self) {
		json_array_append_new(skipped, json_pack("{ssss}", "field", c->name, "refers_to",
							 refers));
		return NDX_OK;
	}
	snprintf(sql, sizeof sql,
		 "SELECT %s, %s FROM %s.%s AS r WHERE r.%s IS NOT NULL %s AND NOT EXISTS "
		 "(SELECT 1 FROM %s.%s AS x WHERE x.%s = r.%s)",
		 row_id_col(t), c->name, self, t->name, c->name, tg->cond, alias, tg->table,
		 tg->key, c->name);
	return each_row(q, sql, 0, NULL, dangling_row, &d);
}

static int check_dangling(struct q *q, const struct sector_table *t, json_t *out)
{
	json_t *samples = json_array(), *skipped = json_array();
	long long count = 0;
	int rc = NDX_OK, any = 0;

	for (size_t j = 0; j < t->ncols && rc == NDX_OK; j++) {
		const struct sector_column *c = &t->cols[j];
		char sector[32], table[32];
		const char *slash;
		if (!c->ref)
			continue;
		any = 1;
		if (strcmp(c->ref, "party") == 0) {
			char ca[96], cb[96];
			snprintf(ca, sizeof ca, "AND length(r.%s) = 12", c->name);
			snprintf(cb, sizeof cb, "AND length(r.%s) = 10", c->name);
			struct target a = { "population", "citizens", "pin", ca };
			struct target b = { "enterprise", "enterprises", "code", cb };
			rc = dangling_one(q, t, c, &a, &count, samples, skipped);
			if (rc == NDX_OK)
				rc = dangling_one(q, t, c, &b, &count, samples, skipped);
			continue;
		}
		slash = strchr(c->ref, '/');
		if (!slash)
			continue;
		snprintf(sector, sizeof sector, "%.*s", (int)(slash - c->ref), c->ref);
		snprintf(table, sizeof table, "%s", slash + 1);
		const struct sector_def *d = sector_find(sector);
		const struct sector_table *tt = d ? sector_table_find(d, table) : NULL;
		if (!tt || !tt->key)
			continue;
		struct target tg = { d->name, tt->name, tt->key, "" };
		rc = dangling_one(q, t, c, &tg, &count, samples, skipped);
	}
	if (rc || !any) {
		json_decref(samples);
		json_decref(skipped);
		return rc;
	}
	json_object_set_new(out, "dangling",
			    json_pack("{sIsoso}", "count", (json_int_t)count, "samples", samples,
				      "skipped", skipped));
	return NDX_OK;
}

/* ---- the former map ------------------------------------------------------------- */

/* Rows whose place columns (COL_PLACE) hold a former province's code: valid
 * (written before 1 July 2025, they still map to one unit) but not on
 * today's map, so a campaign knows how many addresses to bring up to date.
 * Tables without such a column get no entry; *count gets the number. */
static int check_former_map(struct q *q, const struct sector_table *t, json_t *out,
			    long long *count)
{
	char sql[1024], in[NDX_ADMIN_PROVINCE_COUNT * 6 + 1] = "";
	size_t used = 0, have = 0;

	*count = 0;
	for (size_t i = 0; i < NDX_ADMIN_PROVINCE_COUNT; i++)
		used += (size_t)snprintf(in + used, sizeof in - used, "%s'%s'", i ? "," : "",
					 ndx_admin_province_at(i)->code);
	used = (size_t)snprintf(sql, sizeof sql, "SELECT count(*) FROM %s WHERE false", t->name);
	for (size_t c = 0; c < t->ncols && used < sizeof sql; c++)
		if (t->cols[c].flags & COL_PLACE) {
			used += (size_t)snprintf(sql + used, sizeof sql - used,
						 " OR (%s IS NOT NULL AND %s NOT IN (%s))",
						 t->cols[c].name, t->cols[c].name, in);
			have++;
		}
	if (!have)
		return NDX_OK;
	if (used >= sizeof sql)
		return NDX_EINVAL; /* cannot happen: at most two place columns a table */
	if ((*count = count_of(q, sql, 0, NULL)) < 0)
		return NDX_EDB;
	json_object_set_new(out, "former_map", json_pack("{sI}", "count", (json_int_t)*count));
	return NDX_OK;
}

/* ---- stale ---------------------------------------------------------------------- */

static int check_stale(struct q *q, const struct sector_table *t, const char *cutoff,
		       json_t *out)
{
	char sql[512];
	const char *params[1] = { cutoff };
	long long count;

	snprintf(sql, sizeof sql, "SELECT count(*) FROM %s WHERE updated_at < ?1", t->name);
	if ((count = count_of(q, sql, 1, params)) < 0)
		return NDX_EDB;
	json_object_set_new(out, "stale", json_pack("{sIss}", "count", (json_int_t)count,
						    "updated_before", cutoff));
	return NDX_OK;
}

static long long table_rows(struct q *q, const struct sector_table *t)
{
	char sql[256];

	snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", t->name);
	return count_of(q, sql, 0, NULL);
}

static int check_sector_meta(struct q *q)
{
	sqlite3_stmt *st = NULL;
	int rc = NDX_EDB;
	if (sqlite3_prepare_v2(q->db, "SELECT value FROM meta WHERE key = 'sector'", -1, &st,
			       NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) &&
	    strcmp((const char *)sqlite3_column_text(st, 0), q->o->def->name) == 0)
		rc = NDX_OK;
	sqlite3_finalize(st);
	if (rc)
		fprintf(stderr, "ndx-sector quality: %s is not a %s database\n", q->o->db_path,
			q->o->def->name);
	return rc;
}

int quality_run(const struct quality_opts *o, json_t **report)
{
	struct q q = { .o = o };
	char uri[4200], cutoff[NDX_TIME_TEXT_LEN], now_text[NDX_TIME_TEXT_LEN];
	time_t now = o->now ? o->now : time(NULL);
	json_t *tables = NULL;
	long long inv = 0, dup = 0, dang = 0, stale = 0, former = 0, f;
	int rc;

	*report = NULL;
	if (ndx_sqldb_is_pg(o->db_path)) {
		/* store_pg_open checks the schema is the sector's. */
		if ((rc = store_pg_open(o->db_path, o->def, 0, &q.pg)))
			return rc == NDX_EDB ? NDX_EDB : NDX_EIO;
		if ((rc = store_pg_read_begin(q.pg)))
			goto out;
		goto ready;
	}
	snprintf(uri, sizeof uri, "file:%s?mode=ro", o->db_path);
	if (access(o->db_path, R_OK) != 0 ||
	    sqlite3_open_v2(uri, &q.db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL) != SQLITE_OK) {
		fprintf(stderr, "ndx-sector quality: cannot open %s\n", o->db_path);
		sqlite3_close(q.db);
		return NDX_EIO;
	}
	sqlite3_busy_timeout(q.db, 5000);
	if ((rc = check_sector_meta(&q)))
		goto out;
	exec(q.db, "PRAGMA cache_size=-262144");
ready:
	ndx_time_format(now, now_text);
	ndx_time_format(now - (time_t)o->stale_days * 86400, cutoff);
	tables = json_object();
	for (size_t i = 0; i < o->def->ntables; i++) {
		const struct sector_table *t = &o->def->tables[i];
		json_t *tr = json_pack("{sI}", "rows", (json_int_t)table_rows(&q, t));
		json_object_set_new(tables, t->name, tr);
		if ((rc = check_invalid(&q, t, tr)) || (rc = check_duplicates(&q, t, tr)) ||
		    (rc = check_dangling(&q, t, tr)) || (rc = check_stale(&q, t, cutoff, tr)) ||
		    (rc = check_former_map(&q, t, tr, &f)))
			goto out;
		former += f;
		inv += json_integer_value(json_object_get(json_object_get(tr, "invalid"), "count"));
		dup += json_integer_value(json_object_get(json_object_get(tr, "duplicates"), "groups"));
		dang += json_integer_value(json_object_get(json_object_get(tr, "dangling"), "count"));
		stale += json_integer_value(json_object_get(json_object_get(tr, "stale"), "count"));
	}
	*report = json_pack("{sssssssIsIs{sIsIsIsIsI}sbso}", "sector", o->def->name, "db",
			    o->db_path, "checked_at", now_text, "stale_days",
			    (json_int_t)o->stale_days, "samples", (json_int_t)o->samples, "totals",
			    "invalid", (json_int_t)inv, "duplicate_groups", (json_int_t)dup,
			    "dangling", (json_int_t)dang, "stale", (json_int_t)stale, "former_map",
			    (json_int_t)former, "clean",
			    inv + dup + dang == 0, "tables", tables);
	tables = NULL;
	rc = *report ? NDX_OK : NDX_ENOMEM;
out:
	json_decref(tables);
	sqlite3_close(q.db);
	if (q.pg) {
		store_pg_rollback(q.pg); /* the read transaction */
		store_pg_close(q.pg);
	}
	return rc;
}

long long quality_findings(const json_t *report)
{
	const json_t *t = json_object_get(report, "totals");
	return json_integer_value(json_object_get(t, "invalid")) +
	       json_integer_value(json_object_get(t, "duplicate_groups")) +
	       json_integer_value(json_object_get(t, "dangling")) +
	       json_integer_value(json_object_get(t, "stale"));
}

void quality_print_summary(const json_t *report, FILE *f)
{
	const char *name;
	const json_t *t;

	fprintf(f, "quality of %s (%s), stale = not updated for %lld days:\n",
		json_string_value(json_object_get(report, "sector")),
		json_string_value(json_object_get(report, "db")),
		(long long)json_integer_value(json_object_get(report, "stale_days")));
	json_object_foreach((json_t *)json_object_get(report, "tables"), name, t) {
		const json_t *dg = json_object_get(t, "dangling");
		fprintf(f, "  %-14s %10lld rows  %lld invalid  %lld duplicate groups  ", name,
			(long long)json_integer_value(json_object_get(t, "rows")),
			(long long)json_integer_value(json_object_get(json_object_get(t, "invalid"), "count")),
			(long long)json_integer_value(
				json_object_get(json_object_get(t, "duplicates"), "groups")));
		if (dg)
			fprintf(f, "%lld dangling%s  ",
				(long long)json_integer_value(json_object_get(dg, "count")),
				json_array_size(json_object_get(dg, "skipped")) ? " (some not checked: no --db-dir)" : "");
		fprintf(f, "%lld stale",
			(long long)json_integer_value(json_object_get(json_object_get(t, "stale"), "count")));
		if (json_object_get(t, "former_map"))
			fprintf(f, "  %lld on the former map",
				(long long)json_integer_value(
					json_object_get(json_object_get(t, "former_map"), "count")));
		fprintf(f, "\n");
	}
	fprintf(f, "%s\n", json_is_true(json_object_get(report, "clean"))
				   ? "clean: no invalid, duplicate or dangling records"
				   : "NOT clean: see the JSON report for examples");
}
