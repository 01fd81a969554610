/* What the operations centre and the six-monthly report show of the
 * indicators (docs/indicators.md "Trend, distance, rankings"): for each
 * indicator of the catalogue, per scope (national, each ministry or agency,
 * each province with a value), its values over the periods (the trend),
 * its value for the period, its distance to the target and its rank among
 * the scopes of its kind. One builder for the API and the report, so that
 * both say the same. */
#ifndef NDX_MONITOR_INDICATORS_VIEW_H
#define NDX_MONITOR_INDICATORS_VIEW_H

#include <jansson.h>
#include <stdint.h>

#include "indicators.h"
#include "indicators_store.h"

struct ind_view_opts {
	const struct ind_catalogue *cat;
	struct istore *st;
	const char *monitor_db;            /* for the computed indicators; may not exist */
	/* The half-year (or month) reported on; NULL: the latest value of
	 * each scope, and the current half-year for the computed ones
	 * (taken from now_s). */
	const struct ind_period *period;
	int64_t now_s;
};

/* {"period", "as_of" (the period's last day), "summary": {"indicators",
 * "with_value", "met"} (national values), "indicators": [{the catalogue's
 * fields, "scopes": [{"scope", "kind", "label", "series": [{"period",
 * "value", "source", "entered_by", "entered_at", "note"}], "current":
 * (one of series, or null), "distance", "met", "rank"}]}]}; scopes
 * ordered national first, then by kind and id. *out is the caller's. */
int ind_view(const struct ind_view_opts *o, json_t **out);

#endif
