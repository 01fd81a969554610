/* Realistic defects for the synthetic data (`ndx-sector seed --defects
 * RATE`): after the clean dataset is built, a share of the person records
 * of the other agencies' registries is spoiled the way real registries are
 * (names without or with wrong diacritics, day and month swapped, stale
 * addresses, the same person twice, numbers nobody holds, deceased people
 * still active, enterprise owners under a mistyped number), and each
 * defect is written as one JSON line of a ground-truth file beside the
 * data, so that `ndx-sector reconcile --truth` can measure what it finds.
 * Overview: docs/sectors.md "Defects". */
#ifndef NDX_SECTOR_SEED_DEFECTS_H
#define NDX_SECTOR_SEED_DEFECTS_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "schema.h"
#include "sec_sql.h"

/* The kinds, in the order of the counts below and of the truth file's
 * "kind" values (docs/sectors.md "Defects"). */
#define DEFECT_KINDS(X)                                  \
	X(DEFECT_NAME_MARKS, "name-marks")               \
	X(DEFECT_DATE_SWAPPED, "date-swapped")           \
	X(DEFECT_STALE_ADDRESS, "stale-address")         \
	X(DEFECT_DUPLICATE_NUMBER, "duplicate-number")   \
	X(DEFECT_DUPLICATE_NO_NUMBER, "duplicate-no-number") \
	X(DEFECT_NONEXISTENT, "nonexistent-citizen")     \
	X(DEFECT_DECEASED_ACTIVE, "deceased-active")     \
	X(DEFECT_WRONG_OWNER, "wrong-owner-number")

enum defect_kind {
#define X(e, s) e,
	DEFECT_KINDS(X)
#undef X
	DEFECT_KIND_COUNT
};

/* The kind's name ("name-marks" ...), NULL out of range. */
const char *defect_kind_name(int kind);

/* How a name is spoiled: every mark dropped (the case kept: "Nguyen Van
 * An"), or the tone of one marked vowel changed to another tone of the
 * same vowel ("Nguyền Văn An"). */
enum defect_name_mode { DEFECT_NAME_STRIP, DEFECT_NAME_WRONG };

/* Writes into out (cap bytes) name spoiled by mode; pick chooses which
 * marked vowel a DEFECT_NAME_WRONG changes and to which tone. The result
 * folds (fold.h) to the same key as name. Returns 1 when out differs from
 * name, 0 when name has no mark to spoil (out is then name), -1 when it
 * does not fit. Pure. */
int defect_name(const char *name, enum defect_name_mode mode, uint64_t pick, char *out,
		size_t cap);

/* "YYYY-MM-DD" with day and month swapped into out (11 bytes): 1 when the
 * day is 1-12 and differs from the month (so the result is another valid
 * date), 0 otherwise (out untouched). Pure. */
int defect_swap_date(const char *date, char out[11]);

struct defect_stats {
	uint64_t count[DEFECT_KIND_COUNT];
};

/* Spoils about rate (0 < rate <= 1) of the person records of every sector
 * but population, in db[] (the seven open databases, schema order of
 * sector_at, indexes built), deterministically from seed and today (day
 * number since 1970), writing one JSON line per defect to truth:
 * {"sector","table","key","kind","field","value"} where value is the true
 * value (the population registry's, or the record's before it was
 * spoiled). A deceased person's death is recorded in the population
 * registry (deceased_on) and the civil status registry (deaths), and each
 * of their records still active in tax or insurance is a defect. Runs in
 * one transaction per database, on either engine (sec_sql.h; records in
 * key order, so that the same seed spoils the same records on both). NDX_OK, NDX_EDB, NDX_ENOMEM, NDX_EIO. */
int seed_defects_apply(const struct sec_sql db[SECTOR_COUNT], double rate, uint64_t seed,
		       int64_t today, FILE *truth, struct defect_stats *stats);

#endif
