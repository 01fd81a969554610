/* `ndx-sector reconcile`: a sector registry checks its own person records
 * against the population registry's verification service (sec_verify.h)
 * through its agency's gateway, in batches, rate-limited, resumable after a
 * crash (each batch's results and the position reached are committed in
 * the sector's own database in one transaction), and reports what it found:
 * records checked, matches, each kind of mismatch with the field,
 * candidates for merge, and with a ground truth (seed --defects) the
 * precision and recall per kind. Overview: docs/sectors.md
 * "Reconciliation". */
#ifndef NDX_SECTOR_SEC_RECONCILE_H
#define NDX_SECTOR_SEC_RECONCILE_H

#include <jansson.h>
#include <sqlite3.h>
#include <stddef.h>

#include "schema.h"
#include "sec_sql.h"

#define RECONCILE_SERVICE "VN/GOV/BCA/population/verify"
#define RECONCILE_PURPOSE "data-reconciliation"

struct reconcile_opts {
	const struct sector_def *def; /* any sector but population */
	const char *db_path;          /* the sector's database (written: progress), a
				       * path or a postgresql:// connection string */
	const char *gateway;          /* consumer URL of the agency's gateway */
	const char *client;           /* the subsystem the registry speaks as */
	const char *service;          /* default RECONCILE_SERVICE */
	const char *purpose;          /* default RECONCILE_PURPOSE */
	const char *truth_path;       /* seed's defects.jsonl, or NULL */
	size_t batch;                 /* records a request, 1..VERIFY_MAX_RECORDS */
	double rate;                  /* records a second at most; 0: no limit */
	int quiet;                    /* no progress on stderr */
};

/* A mismatch the service's answer about one record shows: its kind
 * ("name-marks", "wrong-number" ...) and the field of the answer it is
 * about ("full_name", "pin" ..., "living"). */
struct reconcile_finding {
	const char *kind, *field;
};
#define RECONCILE_FINDINGS_MAX 8

/* The findings of one answer (result: the service's object for a record;
 * pin_sent: whether the record carried a number). Returns how many were
 * written to out (at most RECONCILE_FINDINGS_MAX); 0 is a match. Pure. */
size_t reconcile_findings(const json_t *result, int pin_sent, struct reconcile_finding *out);

/* The four words of the national data campaign as measures of one record
 * (docs/sectors.md "The four measures"): bits of what it fails. */
#define RECONCILE_NOT_ACCURATE (1u << 0)   /* a name, date or sex disagrees */
#define RECONCILE_NOT_SUFFICIENT (1u << 1) /* a field its table has is missing */
#define RECONCILE_NOT_CLEAN (1u << 2)      /* its number: unknown, wrong or missing */
#define RECONCILE_NOT_LIVE (1u << 3)       /* a death or a move not followed */

/* The faults of one answer (result, pin_sent as reconcile_findings; the
 * holds_ flags: whether the record's table has that field). Pure. */
unsigned reconcile_measure_faults(const json_t *result, int pin_sent, int holds_name,
				  int holds_birth, int holds_sex, int holds_address);

/* The finding kind a defect kind of the ground truth is expected to give
 * ("stale-address" -> "address-differs"), NULL for an unknown kind. */
const char *reconcile_expected(const char *defect_kind);

/* Runs (or resumes) the sector's reconciliation and sets *report to a new
 * JSON object (caller releases). NDX_OK; NDX_EINVAL for a sector with no
 * records to reconcile; NDX_EDB; NDX_ENET or NDX_EPROTO when the gateway
 * does not answer or refuses (a message on stderr; the batches committed
 * so far stay, and the next run resumes after them); NDX_EIO when the
 * truth file cannot be read. */
int reconcile_run(const struct reconcile_opts *o, json_t **report);

/* For the correction worklists (sec_worklist.c) and the measures
 * (sec_measures.c), on a connection of the sector's store of either
 * engine (sec_sql.h): */
/* Makes the progress tables when missing (SQLite; PostgreSQL's come with
 * the schema), bringing those of an older version up to date. NDX_OK,
 * NDX_EDB (a message on stderr). */
int reconcile_tables(const struct sec_sql *s);
/* *has 1 when the store holds the progress tables (always on PostgreSQL;
 * on SQLite once a run or a worklist made them): a read that must not
 * make them asks first. NDX_OK, NDX_EDB. */
int reconcile_has_runs(const struct sec_sql *s, int *has);
/* The last finished run's id in *run, 0 when none. NDX_OK, NDX_EDB. */
int reconcile_last_finished(const struct sec_sql *s, long long *run);
/* The findings of stored run run, as the report lists them (a new array
 * in *findings). NDX_OK, NDX_EDB, NDX_ENOMEM. */
int reconcile_run_findings(const struct sector_def *def, const struct sec_sql *s, long long run,
			   json_t **findings);
/* The four measures of stored run run for each table def reconciles, as
 * the report counts them: a new array in *tables of {"table", "records",
 * "accurate", "sufficient", "clean", "live"} (records that hold each).
 * For the measures read (sec_measures.h). NDX_OK, NDX_EDB, NDX_ENOMEM. */
int reconcile_run_measures(const struct sector_def *def, const struct sec_sql *s, long long run,
			   json_t **tables);
/* The key (NULL: the integer id) and number columns of a reconciled table
 * of def; NDX_ENOTFOUND when def does not reconcile that table. */
int reconcile_table_columns(const struct sector_def *def, const char *table, const char **key,
			    const char **pin);

#endif
