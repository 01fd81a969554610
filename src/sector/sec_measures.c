/* The four measures read (sec_measures.h). The counting is the report's
 * own (reconcile_run_measures in sec_reconcile.c), so that the command and
 * the operations centre say the same of a run. */
#include "sec_measures.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ndx/err.h"
#include "sec_reconcile.h"

static const char *const MEASURES[] = { "accurate", "sufficient", "clean", "live" };
/* The largest run number asked for: what a JSON number holds exactly. */
#define MEASURES_MAX_RUN (1LL << 53)

/* Counts into {"records", "share"} for each measure of one table. */
static void shares(json_t *table)
{
	json_int_t n = json_integer_value(json_object_get(table, "records"));

	for (size_t m = 0; m < 4; m++) {
		json_int_t k = json_integer_value(json_object_get(table, MEASURES[m]));

		json_object_set_new(table, MEASURES[m],
				    json_pack("{sIso}", "records", k, "share",
					      n ? json_real((double)k / (double)n) : json_null()));
	}
}

/* The finished runs past after, oldest first: [id, started_at,
 * finished_at] each. */
static int add_run(void *ctx, int ncols, const char *const *vals)
{
	json_t *runs = ctx;

	if (ncols < 3 || !vals[0] || !vals[1] || !vals[2])
		return NDX_OK;
	return json_array_append_new(runs, json_pack("[Iss]", (json_int_t)strtoll(vals[0], NULL, 10),
						     vals[1], vals[2]))
		       ? NDX_ENOMEM
		       : NDX_OK;
}

int measures_build(const struct sector_def *def, const struct sec_sql *s, long long after,
		   unsigned limit, json_t **out)
{
	json_t *found = json_array(), *runs = json_array(), *doc, *r;
	long long last = after;
	char a[24], l[24];
	const char *params[2] = { a, l };
	int rc = found && runs ? NDX_OK : NDX_ENOMEM, has = 0;
	size_t i;

	*out = NULL;
	snprintf(a, sizeof a, "%lld", after);
	snprintf(l, sizeof l, "%u", limit);
	if (!rc)
		rc = reconcile_has_runs(s, &has);
	/* The runs first, then each one's counts: no statement runs while
	 * another's rows come. */
	if (!rc && has)
		rc = sec_sql_query(s, "SELECT id, started_at, finished_at FROM reconcile_runs "
				      "WHERE finished_at IS NOT NULL AND id > CAST(?1 AS bigint) "
				      "ORDER BY id LIMIT CAST(?2 AS bigint)",
				   2, params, add_run, found);
	json_array_foreach(found, i, r) {
		json_t *tables = NULL, *t, *o;
		size_t k;
		long long run = (long long)json_integer_value(json_array_get(r, 0));

		if (rc || (rc = reconcile_run_measures(def, s, run, &tables)))
			break;
		json_array_foreach(tables, k, t)
			shares(t);
		o = json_pack("{sIsOsOso}", "run", (json_int_t)run, "started_at", json_array_get(r, 1),
			      "finished_at", json_array_get(r, 2), "tables", tables);
		if (!o || json_array_append_new(runs, o)) {
			rc = NDX_ENOMEM;
			break;
		}
		last = run;
	}
	json_decref(found);
	doc = rc ? NULL
		 : json_pack("{sssssosI}", "sector", def->name, "agency", def->agency, "runs", runs,
			     "next_after", (json_int_t)last);
	if (!doc) {
		if (!rc)
			rc = NDX_ENOMEM;
		else
			json_decref(runs);
		return rc;
	}
	*out = doc;
	return NDX_OK;
}

/* JSON text read by jansson: written once here, checked by the tests. */
#define SHARE_SCHEMA                                                                       \
	"{\"type\": \"object\", \"properties\": {\"records\": {\"type\": \"integer\", "          \
	"\"minimum\": 0}, \"share\": {\"type\": \"number\", \"minimum\": 0, \"maximum\": 1, "      \
	"\"nullable\": true}}}"
static const char MEASURES_PATH[] =
	"{\"get\": {\"summary\": \"the four measures of the finished reconciliation runs\","
	"\"operationId\": \"measures\","
	"\"description\": \"For each finished run of ndx-sector reconcile past run `after`, oldest "
	"first, per table: the records checked and how many of them (and which share) are "
	"accurate, sufficient, clean and live (đúng, đủ, sạch, sống; docs/sectors.md). Counts "
	"only: no personal data.\","
	"\"parameters\": [{\"name\": \"after\", \"in\": \"query\", \"required\": false, "
	"\"description\": \"only runs numbered above this\", \"schema\": {\"type\": \"integer\", "
	"\"minimum\": 0, \"default\": 0}}, {\"name\": \"limit\", \"in\": \"query\", \"required\": "
	"false, \"description\": \"runs at most\", \"schema\": {\"type\": \"integer\", \"minimum\": "
	"1, \"maximum\": 100, \"default\": 10}}],"
	"\"responses\": {\"200\": {\"description\": \"the runs\", \"content\": "
	"{\"application/json\": {\"schema\": {\"type\": \"object\", \"properties\": {"
	"\"sector\": {\"type\": \"string\"}, \"agency\": {\"type\": \"string\"},"
	"\"next_after\": {\"type\": \"integer\"},"
	"\"runs\": {\"type\": \"array\", \"items\": {\"type\": \"object\", \"properties\": {"
	"\"run\": {\"type\": \"integer\"}, \"started_at\": {\"type\": \"string\", \"format\": "
	"\"date-time\"}, \"finished_at\": {\"type\": \"string\", \"format\": \"date-time\"},"
	"\"tables\": {\"type\": \"array\", \"items\": {\"type\": \"object\", \"properties\": {"
	"\"table\": {\"type\": \"string\"}, \"records\": {\"type\": \"integer\"},"
	"\"accurate\": " SHARE_SCHEMA ", \"sufficient\": " SHARE_SCHEMA ", \"clean\": "
	SHARE_SCHEMA ", \"live\": " SHARE_SCHEMA "}}}}}}}}}}},"
	"\"400\": {\"description\": \"after or limit is not an integer in range\"},"
	"\"405\": {\"description\": \"not GET\"}}}}";

json_t *measures_openapi_path(void)
{
	json_error_t err;
	json_t *p = json_loads(MEASURES_PATH, 0, &err);

	if (!p)
		fprintf(stderr, "ndx-sector: openapi: /measures: %s\n", err.text);
	return p;
}

/* A decimal integer in [lo, hi], all of text. */
static int number_arg(const char *text, long long lo, long long hi, long long *out)
{
	char *end;
	long long v;

	if (!text[0] || text[0] == '-' || text[0] == '+')
		return -1;
	v = strtoll(text, &end, 10);
	if (*end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

void measures_handle(const struct sector_def *def, struct store *st,
		     const struct ndx_http_req *req, struct ndx_http_resp *resp)
{
	const char *a = ndx_http_query_arg(req, "after"), *l = ndx_http_query_arg(req, "limit");
	long long after = 0, limit = MEASURES_DEFAULT_LIMIT;
	struct store_conn *c;
	json_t *doc = NULL;
	char detail[128];
	int rc;

	if (strcmp(req->method, "GET") != 0) {
		ndx_http_resp_header(resp, "Allow", "GET");
		ndx_http_resp_error(resp, 405, "Client.MethodNotAllowed", "method not allowed",
				    "GET");
		return;
	}
	if (a && number_arg(a, 0, MEASURES_MAX_RUN, &after)) {
		ndx_http_resp_error(resp, 400, "Client.InvalidRequest", "invalid query",
				    "after: expected an integer from 0 (a run's number)");
		return;
	}
	if (l && number_arg(l, 1, MEASURES_MAX_LIMIT, &limit)) {
		snprintf(detail, sizeof detail, "limit: expected an integer from 1 to %d",
			 MEASURES_MAX_LIMIT);
		ndx_http_resp_error(resp, 400, "Client.InvalidRequest", "invalid query", detail);
		return;
	}
	c = store_acquire(st);
	struct sec_sql s = sec_sql_of(c, "ndx-sector: measures");
	rc = measures_build(def, &s, after, (unsigned)limit, &doc);
	store_release(st, c);
	if (rc) {
		ndx_http_resp_error(resp, 500, "Server.Internal", "the store failed", NULL);
		return;
	}
	ndx_http_resp_json(resp, 200, doc);
}
