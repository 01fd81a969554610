/* The resolution's indicators (docs/indicators.md): the catalogue embedded
 * from indicators.json at build time, and the forms an indicator's values
 * and the tracker's tasks are keyed by: periods (a month "2026-07" or a
 * half-year "2026-H2", in Vietnam time), scopes ("national", a member id
 * = a ministry or agency, or a 3-digit province code), dates. Pure
 * functions over the catalogue, which is immutable once loaded. */
#ifndef NDX_MONITOR_INDICATORS_H
#define NDX_MONITOR_INDICATORS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IND_PERIOD_MAX 8   /* "2026-H2", "2026-07" + NUL */
#define IND_KEY_MAX 9      /* "2026-12b" + NUL */
#define IND_SCOPE_MAX 256
#define IND_DATE_MAX 11    /* "2026-12-31" + NUL */

/* ---- the catalogue ------------------------------------------------------------ */

struct ind_def {
	const char *id, *group, *name_vi, *name_en, *source, *unit, *deadline;
	double min, max;        /* max meaningful only when has_max */
	bool has_max;
	bool higher;            /* direction: higher is better */
	bool has_target;
	const char *target_op;  /* ">", ">=", "<", "<=" */
	double target;
	const json_t *json;     /* the catalogue's object for this indicator */
};

struct ind_catalogue {
	json_t *doc;
	size_t n;
	struct ind_def *defs;   /* in the catalogue's order */
};

/* Parses a catalogue document (indicators.json's form). NDX_OK with *out
 * (free with ind_catalogue_free), or NDX_EINVAL with the reason in err,
 * NDX_ENOMEM. */
int ind_catalogue_parse(const char *text, size_t len, struct ind_catalogue **out, char *err,
			size_t errcap);
/* The catalogue ndx-monitor was built with. */
int ind_catalogue_load(struct ind_catalogue **out);
void ind_catalogue_free(struct ind_catalogue *cat);
/* The indicator with this id, or NULL. */
const struct ind_def *ind_catalogue_find(const struct ind_catalogue *cat, const char *id);

/* True when the indicator's values are computed by ndx-monitor (source
 * "exchange": the operational records; "registries": the registries'
 * measures) and so cannot be entered. */
bool ind_is_computed(const struct ind_def *d);
/* NDX_OK when v is a value the indicator can take (finite, within its min
 * and max), NDX_EINVAL with *why a static sentence otherwise. */
int ind_value_check(const struct ind_def *d, double v, const char **why);
/* Whether v meets the target (false without a target). */
bool ind_target_met(const struct ind_def *d, double v);
/* How far v is from the target in the indicator's direction: positive =
 * short of it by that much, zero or negative = met. 0 without a target. */
double ind_distance(const struct ind_def *d, double v);

/* ---- periods, scopes, dates ---------------------------------------------------- */

enum ind_period_kind { IND_MONTH = 1, IND_HALF = 2 };

struct ind_period {
	int year;                   /* 2000..2100 */
	enum ind_period_kind kind;
	int n;                      /* month 1..12, or half 1..2 */
};

/* "2026-07" or "2026-H2". NDX_OK or NDX_EINVAL. */
int ind_period_parse(const char *text, struct ind_period *out);
void ind_period_format(const struct ind_period *p, char out[IND_PERIOD_MAX]);
/* A key that sorts periods by their last month, a month before the
 * half-year that ends with it: "2026-12a" (December), "2026-12b" (H2). */
void ind_period_key(const struct ind_period *p, char out[IND_KEY_MAX]);
/* [start, end) of the period in Unix milliseconds, Vietnam time (UTC+7). */
void ind_period_range_ms(const struct ind_period *p, int64_t *start, int64_t *end);
/* The last day of the period, "2026-12-31". */
void ind_period_last_day(const struct ind_period *p, char out[IND_DATE_MAX]);
/* True when month m lies within half-year h (both parsed). */
bool ind_period_within(const struct ind_period *month, const struct ind_period *half);
/* The month or half-year that holds Unix time t (Vietnam time). */
void ind_period_of(int64_t t_s, enum ind_period_kind kind, struct ind_period *out);

enum ind_scope_kind { IND_NATIONAL = 1, IND_MEMBER = 2, IND_PROVINCE = 3 };

/* "national", a member id ("VN/GOV/BCA", written back canonically) or a
 * province code ("001", one of pin.h's). NDX_OK with out (IND_SCOPE_MAX
 * bytes) and *kind set, or NDX_EINVAL with *why a static sentence. */
int ind_scope_parse(const char *text, char out[IND_SCOPE_MAX], enum ind_scope_kind *kind,
		    const char **why);
/* A scope's kind as a word ("national", "member", "province"), and the
 * name shown for it: the province's name, else the scope itself. */
const char *ind_scope_kind_name(enum ind_scope_kind kind);
const char *ind_scope_label(const char *scope);

/* "YYYY-MM-DD", a real calendar day. NDX_OK or NDX_EINVAL. */
int ind_date_check(const char *text);
/* Today in Vietnam time, "YYYY-MM-DD". */
void ind_date_of(int64_t t_s, char out[IND_DATE_MAX]);

/* A task's status: "not_started", "in_progress" or "done". */
bool ind_task_status_ok(const char *status);

/* ---- what an official enters ------------------------------------------------------ */

#define IND_TEXT_MAX 1000  /* bytes of a title, source, note or evidence */
#define IND_BY_MAX 200     /* bytes of who entered it */

/* A value as entered, checked: the indicator exists and is entered (not
 * computed), the period and scope are well formed, the value is within
 * the indicator's range, source and by are non-empty UTF-8 within their
 * caps, note (may be NULL) too. On NDX_OK, scope and key hold the
 * canonical scope and the period's sort key; on NDX_EINVAL *why is a
 * static sentence and *field names the field at fault; NDX_ENOTFOUND for
 * an unknown indicator. */
struct ind_checked {
	char scope[IND_SCOPE_MAX];
	char key[IND_KEY_MAX];
};
int ind_entry_check(const struct ind_catalogue *cat, const char *id, const char *period,
		    const char *scope, double value, const char *source, const char *by,
		    const char *note, struct ind_checked *out, const char **field,
		    const char **why);
/* A text field: non-empty (unless optional and NULL), valid UTF-8, at most
 * cap bytes, no control characters but tab. */
bool ind_text_ok(const char *s, size_t cap);
/* Parses a decimal number ("85.5", "85,5" refused). NDX_OK or NDX_EINVAL. */
int ind_number_parse(const char *text, double *out);

#endif
