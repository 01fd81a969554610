/* Where `ndx-id accounts import` reads citizens from: a population
 * registry made by `ndx-sector seed`, either its SQLite file
 * (population.db) or its schema in PostgreSQL (`seed --db-dir
 * postgresql://...` puts it in the schema "population" of that database).
 * Read-only on both engines; the rows are streamed one at a time, so a
 * population of millions is never held in memory. */
#ifndef NDX_ID_POPSOURCE_H
#define NDX_ID_POPSOURCE_H

struct popsource;

/* One citizen as the population registry holds them. */
struct popsource_citizen {
	const char *pin;
	const char *full_name;
	const char *birth_date; /* YYYY-MM-DD */
	const char *sex;
};

/* Opens loc: a postgresql:// (or postgres://) connection string, refused
 * when it holds a password (the reason never prints the string), or the
 * path of a SQLite file. Reports on stderr; 0 or -1 (2 when loc is refused
 * before any connection: a usage error). */
int popsource_open(const char *loc, struct popsource **out);

/* Calls each(ud, citizen) for the first `limit` citizens by PIN and for
 * every PIN of pins_json (a JSON array of strings), in PIN order, each once.
 * A field that is NULL in the database is passed as NULL. each returns 0
 * to go on, anything else to stop; popsource_each returns that, 0 at the
 * end, or -1 on a database error (reported). */
int popsource_each(struct popsource *p, unsigned long limit, const char *pins_json,
		   int (*each)(void *ud, const struct popsource_citizen *c), void *ud);

/* How the source is named in messages: the SQLite path, or
 * user@host:port/database for PostgreSQL (never a password). */
const char *popsource_name(const struct popsource *p);

void popsource_close(struct popsource *p);

#endif
