/* ndx-portal's database on the two engines of ndx/sqldb.h (SQLite by
 * default, PostgreSQL for a postgresql:// location): its descriptor, with
 * the SQLite migrations of portal.db and the PostgreSQL schema
 * (portal_db.c). Overview: docs/portal.md, docs/scale.md "The portal on
 * PostgreSQL". */
#ifndef NDX_PORTAL_DB_H
#define NDX_PORTAL_DB_H

#include "ndx/sqldb.h"

/* The meta row that marks a database as the portal's: key "kind", value
 * PORTAL_DB_KIND. */
#define PORTAL_DB_KIND "ndx-portal"

extern const struct ndx_sqldb_desc portal_db_desc;

#endif
