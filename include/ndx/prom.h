/* Writing the Prometheus text exposition format, version 0.0.4, which every
 * daemon's GET /metrics answers (docs/operations.md): a family's HELP and
 * TYPE lines, then its samples, each a name, optional labels and a value.
 * Label values are escaped as the format says (backslash, double quote and
 * line feed as \\, \" and \n), HELP text likewise (backslash and line
 * feed), so that a value from anywhere cannot break a line or a label.
 * Metric and label names are ours, never a peer's: a name that is not
 * [a-zA-Z_:][a-zA-Z0-9_:]* (labels: no colon) is a programmer error and
 * asserted. The text goes into an ndx_buf; the first failure (out of
 * memory) is kept in rc and every later call does nothing, so a renderer
 * is a list of calls and one check at the end. Overview:
 * docs/architecture.md "libndx". */
#ifndef NDX_PROM_H
#define NDX_PROM_H

#include <stddef.h>
#include <stdint.h>

#include "ndx/buf.h"

/* The Content-Type of a /metrics answer. */
#define NDX_PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

enum ndx_prom_type { NDX_PROM_COUNTER, NDX_PROM_GAUGE, NDX_PROM_HISTOGRAM };

struct ndx_prom {
	struct ndx_buf text;
	int rc; /* NDX_OK, or the first failure; then nothing more is written */
};

/* An empty text, capped at max bytes (NDX_BUF_NO_CAP for none). Allocates
 * nothing; cannot fail. */
void ndx_prom_init(struct ndx_prom *p, size_t max);

/* The "# HELP name help" and "# TYPE name type" lines that open a family. */
void ndx_prom_family(struct ndx_prom *p, const char *name, enum ndx_prom_type type,
		     const char *help);

/* One sample line. labels is NULL (none) or a NULL-terminated list of
 * label name, value pairs: (const char *[]){ "method", "GET", NULL }. A
 * NULL value is written as "". Values: an unsigned or signed integer, or
 * a double (integral doubles below 2^53 print without a fraction or an
 * exponent, so that a Unix time reads as one; NaN and infinities as the
 * format spells them). */
void ndx_prom_u64(struct ndx_prom *p, const char *name, const char *const *labels,
		  uint64_t value);
void ndx_prom_i64(struct ndx_prom *p, const char *name, const char *const *labels,
		  int64_t value);
void ndx_prom_double(struct ndx_prom *p, const char *name, const char *const *labels,
		     double value);

/* A histogram's samples (its family line first, with NDX_PROM_HISTOGRAM):
 * name_bucket with an "le" label after labels for each of the n upper
 * bounds le[] (increasing) and "+Inf", cumulated here from counts[], which
 * holds n + 1 per-bucket counts (the last: above le[n-1]); then name_sum
 * (sum) and name_count (the total). */
void ndx_prom_histogram(struct ndx_prom *p, const char *name, const char *const *labels,
			size_t n, const double *le, const uint64_t *counts, double sum);

/* Appends text as it is: exposition text rendered elsewhere (whole lines). */
void ndx_prom_text(struct ndx_prom *p, const char *text);

/* Hands the text to the caller (free() it) with its length in *len (len
 * may be NULL), or NULL when a call failed (p->rc says why) or nothing was
 * written. p is left empty either way. */
char *ndx_prom_steal(struct ndx_prom *p, size_t *len);

/* Frees what p holds. Accepts NULL. */
void ndx_prom_free(struct ndx_prom *p);

#endif
