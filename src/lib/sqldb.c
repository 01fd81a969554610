/* ndx/sqldb.h's calls above the engines: the choice of engine, the
 * statement helpers every store uses and a daemon's --store location. */
#include "ndx/sqldb.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ndx/args.h"
#include "ndx/err.h"

int ndx_sqldb_open(const struct ndx_sqldb_desc *d, const char *loc, bool create,
		   struct ndx_sqldb **out)
{
	const char *why;
	int rc;

	*out = NULL;
	if ((rc = ndx_sqldb_check(loc, &why))) {
		fprintf(stderr, "%s: store: %s\n", d->prog, why);
		return rc;
	}
	return ndx_sqldb_is_pg(loc) ? ndx_sqldb_pg_open(d, loc, create, out)
				    : ndx_sqldb_sqlite_open(d, loc, create, out);
}

int ndx_sqldb_queryv(struct ndx_sqldb *db, json_t **rows, const char *sql, const char *types,
		     va_list ap)
{
	int (*shape)(json_t *) = db->desc->shape_row;
	int rc = db->ops->run(db, sql, types, ap, rows, NULL);
	size_t i;
	json_t *row;

	if (rc || !shape)
		return rc;
	json_array_foreach(*rows, i, row) {
		if ((rc = shape(row))) {
			json_decref(*rows);
			*rows = NULL;
			return rc;
		}
	}
	return NDX_OK;
}

int ndx_sqldb_query(struct ndx_sqldb *db, json_t **rows, const char *sql, const char *types,
		    ...)
{
	va_list ap;
	int rc;

	va_start(ap, types);
	rc = ndx_sqldb_queryv(db, rows, sql, types, ap);
	va_end(ap);
	return rc;
}

int ndx_sqldb_query_one(struct ndx_sqldb *db, json_t **row, const char *sql, const char *types,
			...)
{
	json_t *rows = NULL;
	va_list ap;
	int rc;

	*row = NULL;
	va_start(ap, types);
	rc = ndx_sqldb_queryv(db, &rows, sql, types, ap);
	va_end(ap);
	if (!rc && json_array_size(rows) == 0)
		rc = NDX_ENOTFOUND;
	else if (!rc)
		*row = json_incref(json_array_get(rows, 0));
	json_decref(rows);
	return rc;
}

int64_t ndx_sqldb_int(const json_t *row, const char *col)
{
	const json_t *v = json_object_get(row, col);

	if (json_is_string(v))
		return strtoll(json_string_value(v), NULL, 10);
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

int ndx_sqldb_is_null(const json_t *row, const char *col)
{
	const json_t *v = json_object_get(row, col);

	return !v || json_is_null(v);
}

int ndx_sqldb_exec(struct ndx_sqldb *db, const char *sql, const char *types, ...)
{
	va_list ap;
	int rc;

	va_start(ap, types);
	rc = db->ops->run(db, sql, types, ap, NULL, NULL);
	va_end(ap);
	return rc;
}

int ndx_sqldb_change(struct ndx_sqldb *db, const char *sql, const char *types, ...)
{
	va_list ap;
	int64_t n = 0;
	int rc;

	va_start(ap, types);
	rc = db->ops->run(db, sql, types, ap, NULL, &n);
	va_end(ap);
	return rc ? rc : n > 0 ? NDX_OK : NDX_ENOTFOUND;
}

int ndx_sqldb_write(struct ndx_sqldb *db, const char *sql, const char *types, ...)
{
	va_list ap;
	int rc;

	if ((rc = db->ops->begin(db)))
		return rc;
	va_start(ap, types);
	rc = db->ops->run(db, sql, types, ap, NULL, NULL);
	va_end(ap);
	if (rc || (rc = db->ops->commit(db)))
		db->ops->rollback(db);
	return rc;
}

int ndx_sqldb_meta_get(struct ndx_sqldb *db, const char *key, char **out)
{
	json_t *row;
	const char *v;
	int rc;

	*out = NULL;
	if ((rc = ndx_sqldb_query_one(db, &row, "SELECT value FROM meta WHERE key = ?", "s", key)))
		return rc;
	v = json_string_value(json_object_get(row, "value"));
	*out = strdup(v ? v : "");
	json_decref(row);
	return *out ? NDX_OK : NDX_ENOMEM;
}

int ndx_sqldb_location(const char *prog, const char *dir, const char *file,
		       const char *store_loc, char *out, size_t cap)
{
	const char *why;

	if (!store_loc)
		return ndx_args_join(prog, out, cap, dir, file);
	if (store_loc[0] == '\0' || ndx_sqldb_check(store_loc, &why) != NDX_OK) {
		fprintf(stderr, "%s: --store: %s\n", prog, store_loc[0] ? why : "empty");
		return -1;
	}
	if ((size_t)snprintf(out, cap, "%s", store_loc) >= cap) {
		fprintf(stderr, "%s: --store: too long\n", prog);
		return -1;
	}
	return 0;
}
