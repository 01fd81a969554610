/* Correction worklists (docs/sectors.md "Correction worklists"): the
 * mismatches of a sector's last reconciliation run become tasks its
 * officers correct one action each, every correction logged with the
 * officer; the next run checks the corrected record again. */
#ifndef NDX_SECTOR_SEC_WORKLIST_H
#define NDX_SECTOR_SEC_WORKLIST_H

#include <jansson.h>

#include "schema.h"

/* The correction worklist: the findings of the sector's last finished
 * run not corrected yet, as {"sector", "run", "tasks": [finding...]} (a
 * new object in *out; run 0 and no task when no run has finished).
 * NDX_OK, NDX_EDB, NDX_ENOMEM. */
int reconcile_worklist(const struct sector_def *def, const char *db_path, json_t **out);

struct reconcile_correction {
	const struct sector_def *def;
	const char *db_path;
	const char *table, *key, *field; /* the task: a finding of the last finished run */
	const char *value;   /* the right value; NULL: the status a death gives
				(deceased-active), or the candidate number */
	const char *officer; /* who corrects: logged with the correction */
	const char *events_client; /* the subsystem the sector publishes as (its
				      events' service is CLIENT/TABLE); NULL:
				      AGENCY/SECTOR, e.g. VN/GOV/BTP/civil-status */
};

/* Corrects one task of the worklist in one action: the record's field is
 * set to the value, checked and written like a write of the API (so it
 * queues in the sector's outbox the events such a write publishes,
 * outbox_put), and the correction is logged (table reconcile_corrections:
 * old and new value, officer, time, the ids of those events) in the same
 * transaction; *out describes it, its "events" the ids. NDX_ENOTFOUND when the task
 * is not open, NDX_EINVAL when the value is missing or refused (a message
 * names the field), NDX_EPERM for a record's key (the same person twice is
 * merged, not corrected), NDX_EDB. */
int reconcile_correct(const struct reconcile_correction *c, json_t **out);

#endif
