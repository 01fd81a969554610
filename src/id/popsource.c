/* The population registry `accounts import` reads (popsource.h), on either
 * engine. The PostgreSQL half reads the schema `ndx-sector seed` makes
 * (src/sector/store_pg.c: the sector's name as the schema, its meta row
 * 'sector' naming it) in single-row mode, in a read-only session. */
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "popsource.h"
#include "ndx/err.h"
#include "ndx/sqldb.h"

#define PROG "ndx-id"

/* The first `limit` citizens by PIN and the PINs asked for by name. */
#define SQLITE_QUERY                                                                     \
	"SELECT pin, full_name, birth_date, sex FROM citizens"                           \
	" WHERE pin IN (SELECT pin FROM citizens ORDER BY pin LIMIT ?1)"                 \
	" OR pin IN (SELECT value FROM json_each(?2)) ORDER BY pin"
#define PG_QUERY                                                                         \
	"SELECT pin::text, full_name::text, birth_date::text, sex::text FROM citizens"   \
	" WHERE pin IN (SELECT pin FROM citizens ORDER BY pin LIMIT $1::bigint)"         \
	" OR pin IN (SELECT jsonb_array_elements_text($2::jsonb)) ORDER BY pin"

struct popsource {
	sqlite3 *lite;
	PGconn *pg;
	char name[512];
};

const char *popsource_name(const struct popsource *p)
{
	return p->name;
}

static void pg_report(struct popsource *p, const char *what, const PGresult *res)
{
	const char *msg = res ? PQresultErrorMessage(res) : "";
	size_t n;

	if (!msg || !msg[0])
		msg = PQerrorMessage(p->pg);
	n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		n--;
	fprintf(stderr, PROG ": population database %s: %s: %.*s\n", p->name, what, (int)n, msg);
}

/* NULL when there is no such row (or no meta table: not a sector schema). */
static char *pg_sector_of_schema(struct popsource *p)
{
	PGresult *res = PQexec(p->pg, "SELECT value FROM meta WHERE key = 'sector'");
	char *v = NULL;

	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
		v = strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return v;
}

static int open_pg(const char *loc, struct popsource *p)
{
	const char *host;
	char *sector;
	PGresult *res;

	p->pg = PQconnectdb(loc);
	if (!p->pg || PQstatus(p->pg) != CONNECTION_OK) {
		const char *msg = p->pg ? PQerrorMessage(p->pg) : "out of memory";
		size_t n = strlen(msg);

		while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
			n--;
		fprintf(stderr, PROG ": population database: cannot connect to PostgreSQL: %.*s\n",
			(int)n, msg);
		return -1;
	}
	host = PQhost(p->pg);
	snprintf(p->name, sizeof p->name, "%s@%s:%s/%s", PQuser(p->pg) ? PQuser(p->pg) : "?",
		 host && host[0] == '/' ? "(socket)" : host ? host : "?",
		 PQport(p->pg) ? PQport(p->pg) : "?", PQdb(p->pg) ? PQdb(p->pg) : "?");
	/* Read-only: an import never writes to the registry it reads. */
	res = PQexec(p->pg, "SET search_path = population; SET default_transaction_read_only = on;"
			    " SET client_encoding = 'UTF8'; SET application_name = '" PROG "'");
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		pg_report(p, "session", res);
		PQclear(res);
		return -1;
	}
	PQclear(res);
	sector = pg_sector_of_schema(p);
	if (!sector || strcmp(sector, "population") != 0) {
		fprintf(stderr,
			PROG ": population database %s: no population registry in its schema"
			     " \"population\" (make one with `ndx-sector seed --db-dir URL --sector"
			     " population`)\n",
			p->name);
		free(sector);
		return -1;
	}
	free(sector);
	return 0;
}

static int open_sqlite(const char *path, struct popsource *p)
{
	snprintf(p->name, sizeof p->name, "%s", path);
	if (access(path, R_OK) != 0 ||
	    sqlite3_open_v2(path, &p->lite, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		fprintf(stderr, PROG ": cannot open the population database %s\n", path);
		return -1;
	}
	sqlite3_busy_timeout(p->lite, 5000);
	return 0;
}

int popsource_open(const char *loc, struct popsource **out)
{
	struct popsource *p;
	const char *why = NULL;
	int rc;

	*out = NULL;
	if (ndx_sqldb_is_pg(loc) && ndx_sqldb_check(loc, &why) != NDX_OK) {
		fprintf(stderr, PROG ": --population-db: %s\n", why);
		return 2;
	}
	if (!(p = calloc(1, sizeof *p))) {
		fprintf(stderr, PROG ": out of memory\n");
		return -1;
	}
	rc = ndx_sqldb_is_pg(loc) ? open_pg(loc, p) : open_sqlite(loc, p);
	if (rc) {
		popsource_close(p);
		return rc;
	}
	*out = p;
	return 0;
}

static int each_sqlite(struct popsource *p, unsigned long limit, const char *pins_json,
		       int (*each)(void *, const struct popsource_citizen *), void *ud)
{
	sqlite3_stmt *s = NULL;
	int rc, stop = 0;

	if (sqlite3_prepare_v2(p->lite, SQLITE_QUERY, -1, &s, NULL) != SQLITE_OK) {
		fprintf(stderr, PROG ": population database: %s\n", sqlite3_errmsg(p->lite));
		return -1;
	}
	sqlite3_bind_int64(s, 1, (sqlite3_int64)limit);
	sqlite3_bind_text(s, 2, pins_json, -1, SQLITE_STATIC);
	while (!stop && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct popsource_citizen c = {
			.pin = (const char *)sqlite3_column_text(s, 0),
			.full_name = (const char *)sqlite3_column_text(s, 1),
			.birth_date = (const char *)sqlite3_column_text(s, 2),
			.sex = (const char *)sqlite3_column_text(s, 3),
		};
		stop = each(ud, &c);
	}
	if (!stop && rc != SQLITE_DONE) {
		fprintf(stderr, PROG ": population database: %s\n", sqlite3_errmsg(p->lite));
		stop = -1;
	}
	sqlite3_finalize(s);
	return stop;
}

static const char *pg_field(const PGresult *res, int col)
{
	return PQgetisnull(res, 0, col) ? NULL : PQgetvalue(res, 0, col);
}

/* Reads what is left of the query's results, so the connection is ready
 * for the next one; after a stop the server is asked to cancel first. */
static void pg_drain(struct popsource *p, int cancel)
{
	PGresult *res;

	if (cancel) {
		PGcancel *cn = PQgetCancel(p->pg);
		char err[256];

		if (cn) {
			PQcancel(cn, err, sizeof err);
			PQfreeCancel(cn);
		}
	}
	while ((res = PQgetResult(p->pg)))
		PQclear(res);
}

static int each_pg(struct popsource *p, unsigned long limit, const char *pins_json,
		   int (*each)(void *, const struct popsource_citizen *), void *ud)
{
	char lim[32];
	const char *params[2] = { lim, pins_json };
	PGresult *res;
	int stop = 0, ended = 0;

	snprintf(lim, sizeof lim, "%lu", limit);
	if (!PQsendQueryParams(p->pg, PG_QUERY, 2, NULL, params, NULL, NULL, 0) ||
	    !PQsetSingleRowMode(p->pg)) {
		pg_report(p, "citizens", NULL);
		pg_drain(p, 0);
		return -1;
	}
	while (!stop && (res = PQgetResult(p->pg))) {
		ExecStatusType st = PQresultStatus(res);

		if (st == PGRES_SINGLE_TUPLE) {
			struct popsource_citizen c = {
				.pin = pg_field(res, 0),
				.full_name = pg_field(res, 1),
				.birth_date = pg_field(res, 2),
				.sex = pg_field(res, 3),
			};
			stop = each(ud, &c);
		} else if (st == PGRES_TUPLES_OK) {
			ended = 1; /* the zero-row result that ends single-row mode */
		} else {
			pg_report(p, "citizens", res);
			stop = -1;
		}
		PQclear(res);
	}
	pg_drain(p, stop && !ended);
	return stop;
}

int popsource_each(struct popsource *p, unsigned long limit, const char *pins_json,
		   int (*each)(void *ud, const struct popsource_citizen *c), void *ud)
{
	return p->pg ? each_pg(p, limit, pins_json, each, ud)
		     : each_sqlite(p, limit, pins_json, each, ud);
}

void popsource_close(struct popsource *p)
{
	if (!p)
		return;
	if (p->pg)
		PQfinish(p->pg);
	sqlite3_close(p->lite);
	free(p);
}
