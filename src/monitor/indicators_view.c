/* The indicators' view (indicators_view.h). Entered values come from
 * indicators.db (the newest row of each period and scope); the exchange's
 * figures are computed from monitor.db month by month for the trend and
 * over the whole period for its value. Everything is ordered, and nothing
 * depends on the time of the call once a period is given, so that the
 * report built from it is the same for the same data. The registries'
 * measures are computed from monitor.db the same way, by their own rule
 * (indicators_registries.h). */
#include <stdlib.h>
#include <string.h>

#include "indicators_ops.h"
#include "indicators_registries.h"
#include "indicators_view.h"
#include "ndx/err.h"

#define TREND_MONTHS 12

static enum ind_scope_kind kind_of(const char *scope)
{
	char canon[IND_SCOPE_MAX];
	enum ind_scope_kind k = IND_MEMBER;
	const char *why;

	if (ind_scope_parse(scope, canon, &k, &why) != NDX_OK)
		return IND_MEMBER;
	return k;
}

/* The scope object for scope in scopes, made when missing. */
static json_t *scope_obj(json_t *scopes, const char *scope)
{
	json_t *o;
	size_t i;

	json_array_foreach(scopes, i, o)
		if (strcmp(json_string_value(json_object_get(o, "scope")), scope) == 0)
			return o;
	o = json_pack("{s:s s:s s:s s:[] s:n}", "scope", scope, "kind",
		      ind_scope_kind_name(kind_of(scope)), "label", ind_scope_label(scope),
		      "series", "current");
	if (!o || json_array_append_new(scopes, o))
		return NULL;
	return o;
}

/* ---- entered values ---------------------------------------------------------- */

static int entered(const struct ind_view_opts *o, const struct ind_def *d, json_t *scopes)
{
	char key[IND_KEY_MAX], pname[IND_PERIOD_MAX];
	json_t *rows, *row, *so;
	size_t i;
	int rc;

	if (o->period) {
		ind_period_key(o->period, key);
		ind_period_format(o->period, pname);
	}
	if ((rc = istore_current(o->st, d->id, o->period ? key : NULL, &rows)))
		return rc;
	json_array_foreach(rows, i, row) {
		const char *period = json_string_value(json_object_get(row, "period"));
		struct ind_period p;
		bool is_current;

		if (!(so = scope_obj(scopes, json_string_value(json_object_get(row, "scope"))))) {
			rc = NDX_ENOMEM;
			break;
		}
		json_object_del(row, "indicator");
		json_object_del(row, "scope");
		json_array_append(json_object_get(so, "series"), row);
		/* Rows come by period key: the last that qualifies wins. An
		 * exact match of the period outranks a month within it. */
		if (!o->period)
			is_current = true;
		else if (strcmp(period, pname) == 0)
			is_current = true;
		else
			is_current = ind_period_parse(period, &p) == NDX_OK &&
				     ind_period_within(&p, o->period) &&
				     !(json_is_object(json_object_get(so, "current")) &&
				       strcmp(json_string_value(json_object_get(
						      json_object_get(so, "current"), "period")),
					      pname) == 0);
		if (is_current)
			json_object_set(so, "current", row);
	}
	json_decref(rows);
	return rc;
}

/* ---- computed values ----------------------------------------------------------- */

/* The figures object's field a computed indicator takes, NULL for an
 * indicator ndx does not compute (a catalogue that names a computed
 * indicator this binary does not know shows no value for it). */
static const char *figure_field(const struct ind_def *d)
{
	static const char *const MAP[][2] = {
		{ "exchange_volume", "exchanges" },
		{ "exchange_success", "success_pct" },
		{ "exchange_p95_ms", "p95_ms" },
		{ "registry_accurate", "accurate_pct" },
		{ "registry_sufficient", "sufficient_pct" },
		{ "registry_clean", "clean_pct" },
		{ "registry_live", "live_pct" },
	};

	for (size_t i = 0; i < sizeof MAP / sizeof *MAP; i++)
		if (strcmp(d->id, MAP[i][0]) == 0)
			return MAP[i][1];
	return NULL;
}

/* The figure a computed indicator takes from a figures object: none for
 * a period without exchanges or without reconciled records. */
static json_t *figure(const struct ind_def *d, const json_t *fig)
{
	const char *field = figure_field(d);
	const char *base = strcmp(d->source, "registries") == 0 ? "records" : "exchanges";
	json_t *v = field ? json_object_get(fig, field) : NULL;

	if (!json_is_number(v) || json_integer_value(json_object_get(fig, base)) == 0)
		return NULL;
	return json_real(json_number_value(v));
}

static int computed_point(const struct ind_def *d, json_t *scopes, const char *scope,
			  const char *period, const json_t *fig, bool current)
{
	json_t *v = figure(d, fig), *pt, *so;

	if (!v)
		return NDX_OK;
	if (!(so = scope_obj(scopes, scope)) ||
	    !(pt = json_pack("{s:s s:o s:s s:n s:n s:n}", "period", period, "value", v, "source",
			     d->source, "entered_by", "entered_at", "note")))
		return NDX_ENOMEM;
	if (current)
		json_object_set(so, "current", pt);
	else
		json_array_append(json_object_get(so, "series"), pt);
	json_decref(pt);
	return NDX_OK;
}

static int computed_all(const struct ind_def *d, json_t *scopes, const char *period,
			const json_t *fig, bool current)
{
	const json_t *m;
	size_t i;
	int rc = computed_point(d, scopes, "national", period, fig, current);

	json_array_foreach(json_object_get(fig, "members"), i, m)
		if (!rc)
			rc = computed_point(d, scopes, json_string_value(json_object_get(m, "member")),
					    period, m, current);
	return rc;
}

/* Figures over [from_ms, to_ms) from monitor.db: ind_exchange_figures or
 * ind_registry_figures. */
typedef int (*figures_fn)(const char *monitor_db, int64_t from_ms, int64_t to_ms, json_t **out);

/* The figures of the period and of the TREND_MONTHS months up to its end,
 * computed once for the indicators of one source: [{"period", "figures"}],
 * the period's own last. NULL figures when monitor.db does not exist. */
static int computed_periods(const struct ind_view_opts *o, const struct ind_period *half,
			    figures_fn fn, json_t **out)
{
	json_t *arr = json_array(), *fig;
	struct ind_period m = { .year = half->year, .kind = IND_MONTH };
	char name[IND_PERIOD_MAX];
	int64_t from, to;
	int rc = arr ? NDX_OK : NDX_ENOMEM;

	*out = NULL;
	m.n = half->kind == IND_HALF ? half->n * 6 : half->n;
	for (int i = 0; i < TREND_MONTHS - 1; i++) /* back to the first month */
		if (--m.n == 0) {
			m.n = 12;
			m.year--;
		}
	for (int i = 0; !rc && i <= TREND_MONTHS; i++) {
		const struct ind_period *p = i < TREND_MONTHS ? &m : half;

		ind_period_range_ms(p, &from, &to);
		ind_period_format(p, name);
		rc = fn(o->monitor_db, from, to, &fig);
		if (rc == NDX_ENOTFOUND) {
			rc = NDX_OK;
			break;
		}
		if (!rc && json_array_append_new(arr, json_pack("{s:s s:o}", "period", name,
								"figures", fig)))
			rc = NDX_ENOMEM;
		if (++m.n == 13) {
			m.n = 1;
			m.year++;
		}
	}
	if (rc)
		json_decref(arr);
	else
		*out = arr;
	return rc;
}

static int computed(const struct ind_def *d, const json_t *periods, json_t *scopes)
{
	const json_t *e;
	size_t i, n = json_array_size(periods);
	int rc = NDX_OK;

	json_array_foreach(periods, i, e) {
		const char *name = json_string_value(json_object_get(e, "period"));
		const json_t *fig = json_object_get(e, "figures");

		if (i + 1 < n)
			rc = computed_all(d, scopes, name, fig, false);
		else
			rc = computed_all(d, scopes, name, fig, true);
		if (rc)
			break;
	}
	return rc;
}

/* ---- distance, rank, order -------------------------------------------------------- */

static int kind_rank(const char *k)
{
	return strcmp(k, "national") == 0 ? 0 : strcmp(k, "member") == 0 ? 1 : 2;
}

static int scope_order(const void *a, const void *b)
{
	const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	int kx = kind_rank(json_string_value(json_object_get(x, "kind"))),
	    ky = kind_rank(json_string_value(json_object_get(y, "kind")));

	if (kx != ky)
		return kx - ky;
	return strcmp(json_string_value(json_object_get(x, "scope")),
		      json_string_value(json_object_get(y, "scope")));
}

static double cur_value(const json_t *so)
{
	return json_number_value(json_object_get(json_object_get(so, "current"), "value"));
}

/* Best first within a kind (by the indicator's direction), ties by scope. */
static int rank_order(const void *a, const void *b, void *ctx)
{
	const struct ind_def *d = ctx;
	const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	double vx = cur_value(x), vy = cur_value(y);

	if (vx != vy)
		return (d->higher ? vx < vy : vx > vy) ? 1 : -1;
	return scope_order(a, b);
}

/* Orders scopes, and sets each one's distance, met and rank. */
static int finish(const struct ind_def *d, json_t *scopes)
{
	size_t n = json_array_size(scopes), i, j;
	json_t **v = calloc(n ? n : 1, sizeof *v);

	if (!v)
		return NDX_ENOMEM;
	for (i = 0; i < n; i++)
		v[i] = json_incref(json_array_get(scopes, i));
	qsort(v, n, sizeof *v, scope_order);
	json_array_clear(scopes);
	for (i = 0; i < n; i++) {
		const json_t *cur = json_object_get(v[i], "current");
		double val = cur_value(v[i]);

		json_object_set_new(v[i], "distance",
				    cur && d->has_target ? json_real(ind_distance(d, val))
							 : json_null());
		json_object_set_new(v[i], "met",
				    cur && d->has_target ? json_boolean(ind_target_met(d, val))
							 : json_null());
		json_object_set_new(v[i], "rank", json_null());
		json_array_append(scopes, v[i]);
	}
	/* rank within member and province scopes that have a value */
	for (int k = 1; k <= 2; k++) {
		size_t m = 0;

		for (i = 0; i < n; i++)
			if (kind_rank(json_string_value(json_object_get(v[i], "kind"))) == k &&
			    json_is_object(json_object_get(v[i], "current")))
				v[m++] = v[i];
		qsort_r(v, m, sizeof *v, rank_order, (void *)d);
		for (j = 0; j < m; j++)
			json_object_set_new(v[j], "rank", json_integer((json_int_t)j + 1));
		/* restore the full list for the next kind */
		for (i = 0; i < n; i++)
			v[i] = json_array_get(scopes, i);
	}
	for (i = 0; i < n; i++)
		json_decref(json_array_get(scopes, i)); /* the refs taken above */
	free(v);
	return NDX_OK;
}

int ind_view(const struct ind_view_opts *o, json_t **out)
{
	struct ind_period half;
	char pname[IND_PERIOD_MAX], last[IND_DATE_MAX];
	json_t *view = json_object(), *list = json_array(), *periods = NULL, *reg_periods = NULL;
	int64_t with_value = 0, met = 0;
	int rc = view && list ? NDX_OK : NDX_ENOMEM;

	*out = NULL;
	if (o->period)
		half = *o->period;
	else
		ind_period_of(o->now_s, IND_HALF, &half);
	if (!rc)
		rc = computed_periods(o, &half, ind_exchange_figures, &periods);
	if (!rc)
		rc = computed_periods(o, &half, ind_registry_figures, &reg_periods);
	for (size_t i = 0; !rc && i < o->cat->n; i++) {
		const struct ind_def *d = &o->cat->defs[i];
		json_t *item = json_deep_copy(d->json), *scopes = json_array(), *nat;

		if (!item || !scopes) {
			json_decref(item);
			json_decref(scopes);
			rc = NDX_ENOMEM;
			break;
		}
		json_object_set_new(item, "scopes", scopes);
		json_array_append_new(list, item);
		const json_t *of = strcmp(d->source, "registries") == 0 ? reg_periods : periods;

		if (ind_is_computed(d))
			rc = of ? computed(d, of, scopes) : NDX_OK;
		else
			rc = entered(o, d, scopes);
		if (!rc)
			rc = finish(d, scopes);
		nat = json_array_get(scopes, 0);
		if (!rc && nat && strcmp(json_string_value(json_object_get(nat, "scope")),
					 "national") == 0 &&
		    json_is_object(json_object_get(nat, "current"))) {
			with_value++;
			met += json_is_true(json_object_get(nat, "met"));
		}
	}
	json_decref(periods);
	json_decref(reg_periods);
	if (rc) {
		json_decref(view);
		json_decref(list);
		return rc;
	}
	ind_period_format(&half, pname);
	ind_period_last_day(&half, last);
	json_object_set_new(view, "period", o->period ? json_string(pname) : json_null());
	json_object_set_new(view, "as_of", o->period ? json_string(last) : json_null());
	json_object_set_new(view, "summary",
			    json_pack("{s:I s:I s:I}", "indicators", (json_int_t)o->cat->n,
				      "with_value", (json_int_t)with_value, "met", (json_int_t)met));
	json_object_set_new(view, "indicators", list);
	*out = view;
	return NDX_OK;
}
