/* The data quality report ("accurate, sufficient, clean and live"): for one
 * sector database, the records that break the schema (invalid numbers,
 * dates, codes; a PIN that contradicts the birth date or sex), duplicates
 * of one real-world thing, references to records that do not exist (in the
 * same database or, given the directory of all sector databases, in other
 * agencies' ones) and records not updated for a long time. Overview:
 * docs/sectors.md "Quality". */
#ifndef NDX_SECTOR_QUALITY_H
#define NDX_SECTOR_QUALITY_H

#include <jansson.h>
#include <stdio.h>
#include <time.h>

#include "schema.h"

struct quality_opts {
	const struct sector_def *def;
	const char *db_path;   /* the sector's database: a SQLite file, or a
				  postgresql:// connection string (its schema) */
	const char *db_dir;    /* NULL: references into other databases (on
				  PostgreSQL: other sectors' schemas) are skipped */
	unsigned stale_days;   /* updated_at older than this is stale */
	unsigned samples;      /* examples listed per finding */
	time_t now;            /* 0 = now */
};

/* Builds the report (a new object, caller releases). NDX_EIO when a
 * database cannot be opened, NDX_EDB when it is not the sector's. */
int quality_run(const struct quality_opts *o, json_t **report);
/* Writes a few human lines summarising report to f. */
void quality_print_summary(const json_t *report, FILE *f);
/* Total findings (invalid + duplicate groups + dangling + stale). */
long long quality_findings(const json_t *report);

#endif
