/* The Prometheus text exposition format 0.0.4 (include/ndx/prom.h): HELP
 * and TYPE lines, samples with escaped label values, histograms. The
 * format is described at prometheus.io, "Exposition formats"; the escapes
 * are the ones its text parser undoes, no more. Overview:
 * docs/operations.md. */
#include "ndx/prom.h"

#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "ndx/err.h"

__attribute__((unused)) /* only asserts call it: unused under NDEBUG */
static bool name_ok(const char *s, bool colon)
{
	if (!s || !*s || (*s >= '0' && *s <= '9'))
		return false;
	for (; *s; s++) {
		char c = *s;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || (colon && c == ':')))
			return false;
	}
	return true;
}

void ndx_prom_init(struct ndx_prom *p, size_t max)
{
	assert(p);
	ndx_buf_init(&p->text, max);
	p->rc = NDX_OK;
}

static void put(struct ndx_prom *p, const char *s, size_t n)
{
	if (p->rc == NDX_OK)
		p->rc = ndx_buf_append(&p->text, s, n);
}

static void puts_(struct ndx_prom *p, const char *s)
{
	put(p, s, strlen(s));
}

/* s with backslash and line feed escaped, and the double quote too when
 * quote (label values; HELP text leaves it as it is). */
static void put_escaped(struct ndx_prom *p, const char *s, bool quote)
{
	const char *run = s;

	for (; *s; s++) {
		const char *esc = *s == '\\'		? "\\\\"
				  : *s == '\n'		? "\\n"
				  : (*s == '"' && quote) ? "\\\""
							: NULL;
		if (!esc)
			continue;
		put(p, run, (size_t)(s - run));
		puts_(p, esc);
		run = s + 1;
	}
	put(p, run, (size_t)(s - run));
}

static const char *type_name(enum ndx_prom_type t)
{
	switch (t) {
	case NDX_PROM_COUNTER: return "counter";
	case NDX_PROM_GAUGE: return "gauge";
	case NDX_PROM_HISTOGRAM: return "histogram";
	}
	return "untyped";
}

void ndx_prom_family(struct ndx_prom *p, const char *name, enum ndx_prom_type type,
		     const char *help)
{
	assert(p && name_ok(name, true) && help);
	puts_(p, "# HELP ");
	puts_(p, name);
	puts_(p, " ");
	put_escaped(p, help, false);
	puts_(p, "\n# TYPE ");
	puts_(p, name);
	puts_(p, " ");
	puts_(p, type_name(type));
	puts_(p, "\n");
}

/* name{a="x",b="y"[,extra="v"]} and the space before the value. */
static void put_series(struct ndx_prom *p, const char *name, const char *suffix,
		       const char *const *labels, const char *extra_name, const char *extra_value)
{
	bool any = false;

	assert(name_ok(name, true));
	puts_(p, name);
	puts_(p, suffix);
	for (size_t i = 0; labels && labels[i]; i += 2) {
		assert(name_ok(labels[i], false));
		puts_(p, any ? "," : "{");
		puts_(p, labels[i]);
		puts_(p, "=\"");
		put_escaped(p, labels[i + 1] ? labels[i + 1] : "", true);
		puts_(p, "\"");
		any = true;
	}
	if (extra_name) {
		puts_(p, any ? "," : "{");
		puts_(p, extra_name);
		puts_(p, "=\"");
		puts_(p, extra_value);
		puts_(p, "\"");
		any = true;
	}
	puts_(p, any ? "} " : " ");
}

/* A float as the format reads it: Go's ParseFloat takes C's %g output, and
 * "NaN", "+Inf", "-Inf". */
static void format_double(double v, char *out, size_t cap)
{
	if (isnan(v))
		snprintf(out, cap, "NaN");
	else if (isinf(v))
		snprintf(out, cap, v > 0 ? "+Inf" : "-Inf");
	else if (v > -9007199254740992.0 && v < 9007199254740992.0 && v == (double)(int64_t)v)
		snprintf(out, cap, "%" PRId64, (int64_t)v);
	else
		snprintf(out, cap, "%.15g", v);
}

void ndx_prom_u64(struct ndx_prom *p, const char *name, const char *const *labels,
		  uint64_t value)
{
	char v[32];

	snprintf(v, sizeof v, "%" PRIu64 "\n", value);
	put_series(p, name, "", labels, NULL, NULL);
	puts_(p, v);
}

void ndx_prom_i64(struct ndx_prom *p, const char *name, const char *const *labels,
		  int64_t value)
{
	char v[32];

	snprintf(v, sizeof v, "%" PRId64 "\n", value);
	put_series(p, name, "", labels, NULL, NULL);
	puts_(p, v);
}

void ndx_prom_double(struct ndx_prom *p, const char *name, const char *const *labels,
		     double value)
{
	char v[40];

	format_double(value, v, sizeof v);
	put_series(p, name, "", labels, NULL, NULL);
	puts_(p, v);
	puts_(p, "\n");
}

void ndx_prom_histogram(struct ndx_prom *p, const char *name, const char *const *labels,
			size_t n, const double *le, const uint64_t *counts, double sum)
{
	uint64_t cum = 0;
	char bound[40], v[40];

	assert(counts && (n == 0 || le));
	for (size_t i = 0; i <= n; i++) {
		assert(i == 0 || i == n || le[i] > le[i - 1]);
		cum += counts[i];
		if (i < n)
			format_double(le[i], bound, sizeof bound);
		else
			snprintf(bound, sizeof bound, "+Inf");
		put_series(p, name, "_bucket", labels, "le", bound);
		snprintf(v, sizeof v, "%" PRIu64 "\n", cum);
		puts_(p, v);
	}
	format_double(sum, v, sizeof v);
	put_series(p, name, "_sum", labels, NULL, NULL);
	puts_(p, v);
	puts_(p, "\n");
	snprintf(v, sizeof v, "%" PRIu64 "\n", cum);
	put_series(p, name, "_count", labels, NULL, NULL);
	puts_(p, v);
}

void ndx_prom_text(struct ndx_prom *p, const char *text)
{
	if (text)
		puts_(p, text);
}

char *ndx_prom_steal(struct ndx_prom *p, size_t *len)
{
	if (len)
		*len = 0;
	if (p->rc != NDX_OK) {
		ndx_buf_free(&p->text);
		return NULL;
	}
	return ndx_buf_steal(&p->text, len);
}

void ndx_prom_free(struct ndx_prom *p)
{
	if (p)
		ndx_buf_free(&p->text);
}
