/* The indicator catalogue and the forms of periods, scopes and dates
 * (indicators.h; overview: docs/indicators.md). The catalogue is read once
 * from the copy of indicators.json the build embedded, so the binary, its
 * API and its report can never disagree with the file in the repository. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "indicators.h"
#include "ndx/err.h"
#include "ndx/id.h"
#include "ndx/pin.h"

extern const unsigned char ind_catalogue_json[];
extern const size_t ind_catalogue_json_len;

#define VN_OFFSET_S (7 * 3600)

static const char *const SOURCES[] = { "exchange", "portal", "eid", "registries", "entered" };
static const char *const OPS[] = { ">", ">=", "<", "<=" };

static bool one_of(const char *s, const char *const *set, size_t n)
{
	for (size_t i = 0; s && i < n; i++)
		if (strcmp(s, set[i]) == 0)
			return true;
	return false;
}

static const char *str_at(const json_t *o, const char *a, const char *b)
{
	const json_t *v = json_object_get(o, a);

	if (b)
		v = json_object_get(v, b);
	return json_string_value(v);
}

static int parse_def(json_t *o, struct ind_def *d, char *err, size_t errcap)
{
	const json_t *target = json_object_get(o, "target"), *max = json_object_get(o, "max");
	const char *dir;

	memset(d, 0, sizeof *d);
	d->json = o;
	d->id = str_at(o, "id", NULL);
	d->group = str_at(o, "group", NULL);
	d->name_vi = str_at(o, "name", "vi");
	d->name_en = str_at(o, "name", "en");
	d->source = str_at(o, "source", NULL);
	d->unit = str_at(o, "unit", NULL);
	d->deadline = str_at(o, "deadline", NULL);
	dir = str_at(o, "direction", NULL);
	if (!d->id || !d->group || !d->name_vi || !d->name_en || !d->unit || !dir ||
	    !str_at(o, "definition", "vi") || !str_at(o, "definition", "en") ||
	    !json_is_array(json_object_get(o, "basis")) ||
	    !json_is_object(json_object_get(o, "baseline")))
		return ndx_fail(err, errcap, NDX_EINVAL, "indicator %s: a required field is missing",
				d->id ? d->id : "?");
	if (!one_of(d->source, SOURCES, sizeof SOURCES / sizeof *SOURCES))
		return ndx_fail(err, errcap, NDX_EINVAL, "indicator %s: unknown source", d->id);
	if (strcmp(dir, "higher") != 0 && strcmp(dir, "lower") != 0)
		return ndx_fail(err, errcap, NDX_EINVAL, "indicator %s: direction", d->id);
	d->higher = strcmp(dir, "higher") == 0;
	if (!json_is_number(json_object_get(o, "min")))
		return ndx_fail(err, errcap, NDX_EINVAL, "indicator %s: min", d->id);
	d->min = json_number_value(json_object_get(o, "min"));
	d->has_max = json_is_number(max);
	d->max = d->has_max ? json_number_value(max) : 0;
	if (target && !json_is_null(target)) {
		d->target_op = str_at(target, "op", NULL);
		if (!one_of(d->target_op, OPS, sizeof OPS / sizeof *OPS) ||
		    !json_is_number(json_object_get(target, "value")) || !d->deadline ||
		    ind_date_check(d->deadline) != NDX_OK)
			return ndx_fail(err, errcap, NDX_EINVAL,
					"indicator %s: target needs op, value and a deadline", d->id);
		d->has_target = true;
		d->target = json_number_value(json_object_get(target, "value"));
	}
	return NDX_OK;
}

int ind_catalogue_parse(const char *text, size_t len, struct ind_catalogue **out, char *err,
			size_t errcap)
{
	json_error_t jerr;
	struct ind_catalogue *cat;
	json_t *list, *o;
	size_t i;
	int rc;

	*out = NULL;
	if (!(cat = calloc(1, sizeof *cat)))
		return NDX_ENOMEM;
	if (!(cat->doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr))) {
		free(cat);
		return ndx_fail(err, errcap, NDX_EINVAL, "catalogue: %s", jerr.text);
	}
	list = json_object_get(cat->doc, "indicators");
	if (!json_is_array(list) || json_array_size(list) == 0) {
		ind_catalogue_free(cat);
		return ndx_fail(err, errcap, NDX_EINVAL, "catalogue: no indicators");
	}
	if (!(cat->defs = calloc(json_array_size(list), sizeof *cat->defs))) {
		ind_catalogue_free(cat);
		return NDX_ENOMEM;
	}
	json_array_foreach(list, i, o) {
		if ((rc = parse_def(o, &cat->defs[i], err, errcap)) != NDX_OK ||
		    (ind_catalogue_find(cat, cat->defs[i].id) &&
		     (rc = ndx_fail(err, errcap, NDX_EINVAL, "indicator %s: twice",
				    cat->defs[i].id)))) {
			ind_catalogue_free(cat);
			return rc;
		}
		cat->n = i + 1;
	}
	*out = cat;
	return NDX_OK;
}

int ind_catalogue_load(struct ind_catalogue **out)
{
	char err[256];
	int rc = ind_catalogue_parse((const char *)ind_catalogue_json, ind_catalogue_json_len,
				     out, err, sizeof err);

	if (rc == NDX_EINVAL)
		fprintf(stderr, "ndx-monitor: the embedded %s\n", err);
	return rc;
}

void ind_catalogue_free(struct ind_catalogue *cat)
{
	if (!cat)
		return;
	json_decref(cat->doc);
	free(cat->defs);
	free(cat);
}

const struct ind_def *ind_catalogue_find(const struct ind_catalogue *cat, const char *id)
{
	for (size_t i = 0; id && i < cat->n; i++)
		if (strcmp(cat->defs[i].id, id) == 0)
			return &cat->defs[i];
	return NULL;
}

bool ind_is_computed(const struct ind_def *d)
{
	return strcmp(d->source, "exchange") == 0 || strcmp(d->source, "registries") == 0;
}

int ind_value_check(const struct ind_def *d, double v, const char **why)
{
	if (!isfinite(v)) {
		*why = "the value must be a finite number";
		return NDX_EINVAL;
	}
	if (v < d->min || (d->has_max && v > d->max)) {
		*why = strcmp(d->unit, "percent") == 0 ? "a percentage is from 0 to 100"
						       : "the value is outside the indicator's range";
		return NDX_EINVAL;
	}
	return NDX_OK;
}

bool ind_target_met(const struct ind_def *d, double v)
{
	if (!d->has_target)
		return false;
	if (strcmp(d->target_op, ">") == 0)
		return v > d->target;
	if (strcmp(d->target_op, ">=") == 0)
		return v >= d->target;
	if (strcmp(d->target_op, "<") == 0)
		return v < d->target;
	return v <= d->target;
}

double ind_distance(const struct ind_def *d, double v)
{
	if (!d->has_target)
		return 0;
	return d->higher ? d->target - v : v - d->target;
}

/* ---- periods ----------------------------------------------------------------- */

static bool digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

int ind_period_parse(const char *text, struct ind_period *out)
{
	size_t len = text ? strlen(text) : 0;

	memset(out, 0, sizeof *out);
	if (len != 7 || !digits(text, 4) || text[4] != '-')
		return NDX_EINVAL;
	out->year = (text[0] - '0') * 1000 + (text[1] - '0') * 100 + (text[2] - '0') * 10 +
		    (text[3] - '0');
	if (out->year < 2000 || out->year > 2100)
		return NDX_EINVAL;
	if (text[5] == 'H' && (text[6] == '1' || text[6] == '2')) {
		out->kind = IND_HALF;
		out->n = text[6] - '0';
		return NDX_OK;
	}
	if (!digits(text + 5, 2))
		return NDX_EINVAL;
	out->kind = IND_MONTH;
	out->n = (text[5] - '0') * 10 + (text[6] - '0');
	return out->n >= 1 && out->n <= 12 ? NDX_OK : NDX_EINVAL;
}

void ind_period_format(const struct ind_period *p, char out[IND_PERIOD_MAX])
{
	if (p->kind == IND_HALF)
		snprintf(out, IND_PERIOD_MAX, "%04u-H%u", (unsigned)p->year % 10000u, (unsigned)p->n % 10u);
	else
		snprintf(out, IND_PERIOD_MAX, "%04u-%02u", (unsigned)p->year % 10000u, (unsigned)p->n % 100u);
}

static int last_month(const struct ind_period *p)
{
	return p->kind == IND_HALF ? p->n * 6 : p->n;
}

static int first_month(const struct ind_period *p)
{
	return p->kind == IND_HALF ? p->n * 6 - 5 : p->n;
}

void ind_period_key(const struct ind_period *p, char out[IND_KEY_MAX])
{
	snprintf(out, IND_KEY_MAX, "%04u-%02u%c", (unsigned)p->year % 10000u,
		 (unsigned)last_month(p) % 100u,
		 p->kind == IND_HALF ? 'b' : 'a');
}

static int64_t month_start_s(int year, int month)
{
	struct tm tm = { .tm_year = year - 1900, .tm_mon = month - 1, .tm_mday = 1 };

	if (month > 12) {
		tm.tm_year++;
		tm.tm_mon = 0;
	}
	return (int64_t)timegm(&tm) - VN_OFFSET_S;
}

void ind_period_range_ms(const struct ind_period *p, int64_t *start, int64_t *end)
{
	*start = month_start_s(p->year, first_month(p)) * 1000;
	*end = month_start_s(p->year, last_month(p) + 1) * 1000;
}

static int days_in(int year, int month)
{
	static const int d[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	return month == 2 && leap ? 29 : d[month - 1];
}

void ind_period_last_day(const struct ind_period *p, char out[IND_DATE_MAX])
{
	int m = last_month(p);

	snprintf(out, IND_DATE_MAX, "%04u-%02u-%02u", (unsigned)p->year % 10000u, (unsigned)m % 100u,
		 (unsigned)days_in(p->year, m) % 100u);
}

bool ind_period_within(const struct ind_period *month, const struct ind_period *half)
{
	return month->kind == IND_MONTH && half->kind == IND_HALF && month->year == half->year &&
	       (month->n - 1) / 6 + 1 == half->n;
}

void ind_period_of(int64_t t_s, enum ind_period_kind kind, struct ind_period *out)
{
	time_t t = (time_t)(t_s + VN_OFFSET_S);
	struct tm tm;

	gmtime_r(&t, &tm);
	out->year = tm.tm_year + 1900;
	out->kind = kind;
	out->n = kind == IND_HALF ? tm.tm_mon / 6 + 1 : tm.tm_mon + 1;
}

/* ---- scopes and dates ----------------------------------------------------------- */

int ind_scope_parse(const char *text, char out[IND_SCOPE_MAX], enum ind_scope_kind *kind,
		    const char **why)
{
	struct ndx_id id;
	const char *idwhy = NULL;
	size_t len = text ? strlen(text) : 0;

	out[0] = '\0';
	*why = "scope: \"national\", a member id (VN/GOV/BCA) or a 3-digit province code (001)";
	if (len == 0 || len >= IND_SCOPE_MAX)
		return NDX_EINVAL;
	if (strcmp(text, "national") == 0) {
		*kind = IND_NATIONAL;
		memcpy(out, text, len + 1);
		return NDX_OK;
	}
	if (len == 3 && digits(text, 3)) {
		if (!ndx_province_find(text)) {
			*why = "scope: no province has this code";
			return NDX_EINVAL;
		}
		*kind = IND_PROVINCE;
		memcpy(out, text, len + 1);
		return NDX_OK;
	}
	if (ndx_id_parse(text, len, NDX_ID_MEMBER, &id, &idwhy) != NDX_OK ||
	    ndx_id_format(&id, out, IND_SCOPE_MAX) < 0) {
		out[0] = '\0';
		return NDX_EINVAL;
	}
	*kind = IND_MEMBER;
	return NDX_OK;
}

const char *ind_scope_kind_name(enum ind_scope_kind kind)
{
	return kind == IND_NATIONAL ? "national" : kind == IND_PROVINCE ? "province" : "member";
}

const char *ind_scope_label(const char *scope)
{
	const struct ndx_province *p;

	if (strlen(scope) == 3 && digits(scope, 3) && (p = ndx_province_find(scope)))
		return p->name;
	return scope;
}

int ind_date_check(const char *text)
{
	int y, m, d;

	if (!text || strlen(text) != 10 || !digits(text, 4) || text[4] != '-' ||
	    !digits(text + 5, 2) || text[7] != '-' || !digits(text + 8, 2))
		return NDX_EINVAL;
	y = (text[0] - '0') * 1000 + (text[1] - '0') * 100 + (text[2] - '0') * 10 + (text[3] - '0');
	m = (text[5] - '0') * 10 + (text[6] - '0');
	d = (text[8] - '0') * 10 + (text[9] - '0');
	if (y < 2000 || y > 2100 || m < 1 || m > 12 || d < 1 || d > days_in(y, m))
		return NDX_EINVAL;
	return NDX_OK;
}

void ind_date_of(int64_t t_s, char out[IND_DATE_MAX])
{
	time_t t = (time_t)(t_s + VN_OFFSET_S);
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(out, IND_DATE_MAX, "%04u-%02u-%02u", (unsigned)(tm.tm_year + 1900) % 10000u,
		 (unsigned)(tm.tm_mon + 1) % 100u, (unsigned)tm.tm_mday % 100u);
}

bool ind_task_status_ok(const char *status)
{
	static const char *const S[] = { "not_started", "in_progress", "done" };

	return one_of(status, S, sizeof S / sizeof *S);
}

/* ---- what an official enters ------------------------------------------------------ */

bool ind_text_ok(const char *s, size_t cap)
{
	size_t len = s ? strlen(s) : 0;
	json_t *j;

	if (len == 0 || len > cap)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 && s[i] != '\t')
			return false;
	if (!(j = json_string(s))) /* jansson refuses what is not UTF-8 */
		return false;
	json_decref(j);
	return true;
}

int ind_number_parse(const char *text, double *out)
{
	char *end;

	if (!text || !*text || strlen(text) > 32)
		return NDX_EINVAL;
	for (const char *c = text; *c; c++)
		if (!((*c >= '0' && *c <= '9') || *c == '.' || *c == '-'))
			return NDX_EINVAL;
	*out = strtod(text, &end);
	return *end == '\0' && isfinite(*out) ? NDX_OK : NDX_EINVAL;
}

int ind_entry_check(const struct ind_catalogue *cat, const char *id, const char *period,
		    const char *scope, double value, const char *source, const char *by,
		    const char *note, struct ind_checked *out, const char **field,
		    const char **why)
{
	const struct ind_def *d = ind_catalogue_find(cat, id);
	struct ind_period p;
	enum ind_scope_kind kind;

	memset(out, 0, sizeof *out);
	*field = "id";
	if (!d) {
		*why = "no indicator has this id";
		return NDX_ENOTFOUND;
	}
	if (ind_is_computed(d)) {
		*why = "this indicator is computed by ndx-monitor (from the exchange's records or the"
		       " registries' measures) and cannot be entered";
		return NDX_EINVAL;
	}
	*field = "period";
	if (ind_period_parse(period, &p) != NDX_OK) {
		*why = "period: a month (2026-07) or a half-year (2026-H2), years 2000 to 2100";
		return NDX_EINVAL;
	}
	ind_period_key(&p, out->key);
	*field = "scope";
	if (ind_scope_parse(scope, out->scope, &kind, why) != NDX_OK)
		return NDX_EINVAL;
	*field = "value";
	if (ind_value_check(d, value, why) != NDX_OK)
		return NDX_EINVAL;
	*field = "source";
	if (!ind_text_ok(source, IND_TEXT_MAX)) {
		*why = "source: where the figure comes from (a document, a system), 1 to 1000 bytes";
		return NDX_EINVAL;
	}
	*field = "entered_by";
	if (!ind_text_ok(by, IND_BY_MAX)) {
		*why = "entered_by: the official entering it, 1 to 200 bytes";
		return NDX_EINVAL;
	}
	*field = "note";
	if (note && !ind_text_ok(note, IND_TEXT_MAX)) {
		*why = "note: 1 to 1000 bytes of text";
		return NDX_EINVAL;
	}
	*field = NULL;
	return NDX_OK;
}
