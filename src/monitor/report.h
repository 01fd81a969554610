/* The six-monthly report (docs/indicators.md "The six-monthly report"): an
 * A4 PDF an official prints and signs, drawn with cairo, its Vietnamese
 * text shaped by pango in DejaVu Sans. Reproducible: the same data gives
 * the same bytes (the document's date is the period's last second, and no
 * other time enters it). */
#ifndef NDX_MONITOR_REPORT_H
#define NDX_MONITOR_REPORT_H

#include <stddef.h>

#include "indicators.h"
#include "indicators_store.h"

struct report_opts {
	const struct ind_catalogue *cat;
	struct istore *st;
	const char *monitor_db;        /* the exchange's records; may not exist */
	const struct ind_period *period;  /* a half-year */
	const char *addressee;         /* "Kính gửi: ..."; NULL: the default */
};

/* Builds the report of o->period into *pdf (malloc'd, *len bytes; caller
 * frees). NDX_EINVAL when the period is not a half-year, NDX_EDB when a
 * store cannot be read, NDX_EIO when cairo fails, NDX_ETOOBIG over 32 MiB. */
int report_generate(const struct report_opts *o, unsigned char **pdf, size_t *len);

/* Frees what cairo and fontconfig keep for the whole process once a report
 * was drawn (their caches, built at the first report): for a process about
 * to exit, after its last report, so that a leak checker sees none. */
void report_release_fonts(void);

#endif
