/* The consent service's database on SQLite (the default: consent.db in the
 * data directory) or PostgreSQL (a postgresql:// connection string):
 * libndx's engines (ndx/sqldb.h) over the consent service's tables
 * (cons_db.c). cons_store.c holds every query once. On PostgreSQL the
 * handle holds the schema's serve lock until close: the status lists' bits
 * are kept in memory (cons_store.c), so a second ndx-consent on the same
 * schema is refused (NDX_EDB, after waiting a few seconds for a killed
 * one's session to end) rather than left to serve bits that miss the first
 * one's revocations. Overview: docs/scale.md "The consent service on
 * PostgreSQL". */
#ifndef NDX_CONSENT_CONS_DB_H
#define NDX_CONSENT_CONS_DB_H

#include "ndx/sqldb.h"

/* "ndx-consent", the meta key issuer marking init, the tables, the serve
 * lock. */
extern const struct ndx_sqldb_desc cons_db_desc;

#endif
