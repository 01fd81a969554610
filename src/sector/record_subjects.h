/* Whose data a record of a sector table holds: the people a sector
 * registry declares in Ndx-Data-Subjects and checks Ndx-Subject against
 * (docs/sectors.md "Data subjects"). A record's own columns name some of
 * them; a household, an enterprise and a land parcel also hold the people
 * of the rows that point at it (members, owners, right holders). */
#ifndef NDX_SECTOR_RECORD_SUBJECTS_H
#define NDX_SECTOR_RECORD_SUBJECTS_H

#include <jansson.h>

#include "pinset.h"
#include "schema.h"
#include "store.h"

/* Adds to s the subjects of row, a record of table t: a row as store_get
 * or store_list return it, or a validated row about to be written (then
 * the rows that point at its key are read as they are now). Reads through
 * c, by indexed lookups only; inside a transaction it sees that
 * transaction's view. Returns NDX_OK; NDX_ETOOBIG when the record concerns
 * more than PINSET_MAX people (s then holds PINSET_MAX of them and
 * pinset_over is true); NDX_EDB; NDX_ENOMEM. row is only read. */
int record_subjects(struct store_conn *c, const struct sector_table *t, const json_t *row,
		    struct pinset *s);

#endif
