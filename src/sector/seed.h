/* The synthetic data generator: one consistent national dataset spread over
 * the seven sector databases (DIR/<sector>.db), built household by
 * household so that every reference (household head, parents, spouses,
 * owners, employers, right holders, vehicle owners, taxpayers) names a
 * record that exists. Overview: docs/sectors.md "Synthetic data". */
#ifndef NDX_SECTOR_SEED_H
#define NDX_SECTOR_SEED_H

#include <stdint.h>
#include <time.h>

#include "schema.h"
#include "seed_defects.h"

#define SEED_MAX_CITIZENS 200000000ULL

struct seed_opts {
	/* created when missing; must hold no sector db yet. A postgresql://
	 * connection string instead: each sector a new schema there
	 * (store_pg.h), written with COPY. */
	const char *dir;
	/* NULL: all seven; else only this sector is written (the others are
	 * still generated, so its data are the same as in a full run). */
	const struct sector_def *only;
	uint64_t citizens;  /* how many citizens, >= 1 */
	uint64_t seed;      /* same seed, same day: same data */
	time_t today;       /* 0 = now; ages and dates are relative to it */
	int progress;       /* non-zero: a progress line on stderr per million */
	double defects;     /* 0..1: share of person records spoiled (seed_defects.h); 0: clean */
	/* Where the ground truth of the defects goes: NULL, DIR/SEED_TRUTH_FILE
	 * (required with a postgresql:// dir, which has no directory). */
	const char *truth_path;
};

struct seed_stats {
	uint64_t rows[SECTOR_COUNT][4]; /* [sector][table], schema order */
	double insert_seconds, index_seconds, total_seconds;
	uint64_t bytes[SECTOR_COUNT];   /* file sizes at the end */
	struct defect_stats defects;    /* with opts.defects > 0: how many of each kind */
};

/* The ground truth of --defects, beside the databases. */
#define SEED_TRUTH_FILE "defects.jsonl"

/* Generates the dataset; with o->defects > 0 spoils that share of the
 * person records and writes DIR/defects.jsonl (seed_defects.h). Returns NDX_OK, NDX_EEXIST when DIR already holds
 * a sector database (nothing is touched), NDX_EIO/NDX_EDB/NDX_ENOMEM on
 * failure, after which the databases it created are removed. */
int seed_run(const struct seed_opts *o, struct seed_stats *stats);

#endif
