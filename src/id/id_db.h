/* ndx-id's database on SQLite (the default: id.db in the data directory)
 * or PostgreSQL (a postgresql:// connection string given as --store):
 * libndx's engines (ndx/sqldb.h) over ndx-id's tables (id_db.c). store.c
 * holds every query once. No serve lock: ndx-id keeps nothing in memory
 * that another process could make stale (codes, tokens, sessions and
 * failed sign-ins are all rows), so several ndx-id processes may serve one
 * schema, their compound changes serialised by the engine's write
 * transaction. Overview: docs/scale.md "The e-ID on PostgreSQL". */
#ifndef NDX_ID_ID_DB_H
#define NDX_ID_ID_DB_H

#include "ndx/sqldb.h"

/* "ndx-id", the meta key kind marking init, the tables. */
extern const struct ndx_sqldb_desc id_db_desc;

#endif
