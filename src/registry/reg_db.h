/* The registry's database on SQLite (the default: registry.db in the data
 * directory) or PostgreSQL (a postgresql:// connection string, several
 * registry nodes on one database): libndx's engines (ndx/sqldb.h) over the
 * registry's tables (reg_db.c). reg_store.c holds every query once.
 * Overview: docs/scale.md "The registry on PostgreSQL". */
#ifndef NDX_REGISTRY_REG_DB_H
#define NDX_REGISTRY_REG_DB_H

#include "ndx/sqldb.h"

/* "ndx-registry", the meta key instance marking init, the tables. */
extern const struct ndx_sqldb_desc reg_db_desc;

/* The engine's raw row in the API's shape (reg_store.c): the descriptor's
 * shape_row. */
int reg_shape_row(struct json_t *row);

#endif
