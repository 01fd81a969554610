/* The failed sign-ins table that ndx-id (citizens) and ndx-portal
 * (officers) keep alike, read for the throttle (signin_throttle.h;
 * docs/security.md T28): signin_failures(account, source, at). One set of
 * queries for both stores, so that the two daemons count the same way:
 * on a SQLite handle (ndx-portal) or on ndx/sqldb.h (ndx-id, either
 * engine). */
#ifndef NDX_ID_SIGNIN_STORE_H
#define NDX_ID_SIGNIN_STORE_H

#include <sqlite3.h>
#include <time.h>

#include "ndx/sqldb.h"
#include "signin_throttle.h"

/* Counts the failures since `since` of source, of account, and of the pair,
 * with the newest time of the first two, into *out (zeroed first). The
 * caller holds whatever lock guards db. Returns NDX_OK, or NDX_EDB after
 * prog's stderr line (ndx_sqlstore_fail). */
int signin_counts_read(sqlite3 *db, const char *prog, const char *account, const char *source,
		       time_t since, struct signin_counts *out);
/* The same on an ndx/sqldb.h engine (whose failures it reports itself). */
int signin_counts_read_db(struct ndx_sqldb *db, const char *account, const char *source,
			  time_t since, struct signin_counts *out);

#endif
