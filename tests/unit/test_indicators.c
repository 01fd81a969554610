/* The resolution's indicators in ndx-monitor (src/monitor/indicators*.c,
 * report_pdf.c; docs/indicators.md): the embedded catalogue and its
 * refusals; periods, scopes, dates and values as entered; indicators.db
 * (corrections are new rows, the newest is the value; tasks and overdue);
 * the exchange's figures computed from a monitor.db written by the real
 * mstore.c (each exchange counted once, success share, p95, per member);
 * the registries' four measures kept by the real mmeasures.c and computed
 * per period (each table by its latest run, pooled over records, per
 * member); the view's trend, distance and ranks; the report's bytes the
 * same twice. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cairo.h>
#include <cmocka.h>
#include <fontconfig/fontconfig.h>

#include "indicators.h"
#include "indicators_ops.h"
#include "indicators_registries.h"
#include "indicators_store.h"
#include "indicators_view.h"
#include "mmeasures.h"
#include "mstore.h"
#include "ndx/err.h"
#include "report.h"

/* 2026-08-15T00:00:00Z, inside 2026-08 and 2026-H2 (Vietnam time) */
#define AUG_MS 1786752000000LL

struct fx {
	char dir[512], ind[600], mon[600];
	struct ind_catalogue *cat;
	struct istore *st;
};

static void unlink_db(const char *path)
{
	char side[700];

	unlink(path);
	snprintf(side, sizeof side, "%s-wal", path);
	unlink(side);
	snprintf(side, sizeof side, "%s-shm", path);
	unlink(side);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	const char *dir = getenv("NDX_TEST_TMP");

	snprintf(f->dir, sizeof f->dir, "%s", dir ? dir : "/tmp");
	snprintf(f->ind, sizeof f->ind, "%s/test_ind_%d.db", f->dir, getpid());
	snprintf(f->mon, sizeof f->mon, "%s/test_ind_mon_%d.db", f->dir, getpid());
	unlink_db(f->ind);
	unlink_db(f->mon);
	assert_int_equal(ind_catalogue_load(&f->cat), NDX_OK);
	assert_int_equal(istore_open(f->ind, 1, &f->st), NDX_OK);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	istore_close(f->st);
	ind_catalogue_free(f->cat);
	unlink_db(f->ind);
	unlink_db(f->mon);
	free(f);
	return 0;
}

/* ---- the catalogue ------------------------------------------------------------- */

static void test_catalogue_holds_the_issues_indicators(void **state)
{
	struct fx *f = *state;
	static const char *const ids[] = {
		"online_completion", "cashless_payments", "eid_online_services", "prefilled_fields",
		"qd766_transparency", "qd766_on_time", "qd766_online_services",
		"qd766_satisfaction", "qd766_digitised", "exchange_volume", "exchange_success",
		"exchange_p95_ms", "registry_accurate", "registry_sufficient", "registry_clean",
		"registry_live",
	};
	const struct ind_def *d;

	assert_int_equal(f->cat->n, sizeof ids / sizeof *ids);
	for (size_t i = 0; i < sizeof ids / sizeof *ids; i++) {
		assert_non_null(d = ind_catalogue_find(f->cat, ids[i]));
		assert_non_null(d->name_vi);
		assert_non_null(d->name_en);
		assert_true(json_array_size(json_object_get(d->json, "basis")) >= 1);
		/* honest about where values come from: only the exchange's own
		 * figures and the registries' measures are computed today */
		assert_int_equal(ind_is_computed(d), strncmp(ids[i], "exchange_", 9) == 0 ||
							     strncmp(ids[i], "registry_", 9) == 0);
	}
	d = ind_catalogue_find(f->cat, "online_completion");
	assert_true(d->has_target && strcmp(d->target_op, ">") == 0 && d->target == 80);
	assert_string_equal(d->deadline, "2030-12-31");
	assert_false(ind_target_met(d, 80));
	assert_true(ind_target_met(d, 80.5));
	assert_true(fabs(ind_distance(d, 61.5) - 18.5) < 1e-9);
	/* the registries' measures: no legal figure, so the operator's
	 * provisional target, said so */
	d = ind_catalogue_find(f->cat, "registry_clean");
	assert_string_equal(d->source, "registries");
	assert_string_equal(d->unit, "percent");
	assert_true(d->higher && d->has_target && d->target == 100);
	assert_non_null(strstr(json_string_value(json_object_get(json_object_get(d->json, "target"),
								 "set_by")),
			       "provisional"));
	d = ind_catalogue_find(f->cat, "exchange_p95_ms");
	assert_false(d->higher);
	assert_true(ind_target_met(d, 1000));
	assert_true(ind_distance(d, 1200) > 0);
	assert_null(ind_catalogue_find(f->cat, "nope"));
}

static void test_catalogue_refusals(void **state)
{
	static const char *const bad[] = {
		"{}",
		"{\"indicators\": []}",
		"not json",
		/* no definition */
		"{\"indicators\": [{\"id\": \"a\", \"group\": \"g\", \"name\": {\"vi\": \"A\","
		" \"en\": \"A\"}, \"source\": \"entered\", \"unit\": \"percent\", \"min\": 0,"
		" \"direction\": \"higher\", \"basis\": [], \"baseline\": {}}]}",
		/* an unknown source */
		"{\"indicators\": [{\"id\": \"a\", \"group\": \"g\", \"name\": {\"vi\": \"A\","
		" \"en\": \"A\"}, \"definition\": {\"vi\": \"d\", \"en\": \"d\"}, \"source\": \"x\","
		" \"unit\": \"percent\", \"min\": 0, \"direction\": \"higher\", \"basis\": [],"
		" \"baseline\": {}}]}",
		/* a target without a deadline */
		"{\"indicators\": [{\"id\": \"a\", \"group\": \"g\", \"name\": {\"vi\": \"A\","
		" \"en\": \"A\"}, \"definition\": {\"vi\": \"d\", \"en\": \"d\"}, \"source\":"
		" \"entered\", \"unit\": \"percent\", \"min\": 0, \"direction\": \"higher\","
		" \"basis\": [], \"baseline\": {}, \"target\": {\"op\": \">\", \"value\": 1}}]}",
	};
	static const char one[] =
		"{\"id\": \"a\", \"group\": \"g\", \"name\": {\"vi\": \"A\", \"en\": \"A\"},"
		" \"definition\": {\"vi\": \"d\", \"en\": \"d\"}, \"source\": \"entered\","
		" \"unit\": \"percent\", \"min\": 0, \"max\": 100, \"direction\": \"higher\","
		" \"basis\": [], \"baseline\": {}, \"target\": null}";
	char twice[1024], err[256];
	struct ind_catalogue *cat = NULL;

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		err[0] = '\0';
		assert_int_equal(ind_catalogue_parse(bad[i], strlen(bad[i]), &cat, err, sizeof err),
				 NDX_EINVAL);
		assert_null(cat);
		assert_true(err[0] != '\0');
	}
	snprintf(twice, sizeof twice, "{\"indicators\": [%s, %s]}", one, one);
	assert_int_equal(ind_catalogue_parse(twice, strlen(twice), &cat, err, sizeof err),
			 NDX_EINVAL);
	assert_non_null(strstr(err, "twice"));
	snprintf(twice, sizeof twice, "{\"indicators\": [%s]}", one);
	assert_int_equal(ind_catalogue_parse(twice, strlen(twice), &cat, err, sizeof err), NDX_OK);
	assert_false(cat->defs[0].has_target);
	ind_catalogue_free(cat);
	ind_catalogue_free(NULL);
}

/* ---- forms ---------------------------------------------------------------------- */

static void test_periods(void **state)
{
	static const char *const bad[] = { "", "2026", "2026-H3", "2026-H0", "2026-13", "2026-00",
					   "2026-7", "26-H1", "1999-H1", "2101-01", "2026-h2",
					   "2026-H2x", "２026-H2" };
	struct ind_period p, m;
	char out[IND_PERIOD_MAX], key[IND_KEY_MAX], day[IND_DATE_MAX];
	int64_t from, to;

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		assert_int_equal(ind_period_parse(bad[i], &p), NDX_EINVAL);
	assert_int_equal(ind_period_parse(NULL, &p), NDX_EINVAL);
	assert_int_equal(ind_period_parse("2026-H2", &p), NDX_OK);
	assert_int_equal(p.kind, IND_HALF);
	ind_period_format(&p, out);
	assert_string_equal(out, "2026-H2");
	ind_period_key(&p, key);
	assert_string_equal(key, "2026-12b");
	ind_period_last_day(&p, day);
	assert_string_equal(day, "2026-12-31");
	/* Vietnam time: H2 runs from 2026-06-30T17:00Z to 2026-12-31T17:00Z */
	ind_period_range_ms(&p, &from, &to);
	assert_true(from == 1782838800000LL);
	assert_true(to == 1798736400000LL);
	assert_int_equal(ind_period_parse("2026-12", &m), NDX_OK);
	ind_period_key(&m, key);
	assert_string_equal(key, "2026-12a"); /* December sorts before H2 */
	assert_true(ind_period_within(&m, &p));
	assert_int_equal(ind_period_parse("2026-06", &m), NDX_OK);
	assert_false(ind_period_within(&m, &p));
	ind_period_last_day(&m, day);
	assert_string_equal(day, "2026-06-30");
	assert_int_equal(ind_period_parse("2028-02", &m), NDX_OK);
	ind_period_last_day(&m, day);
	assert_string_equal(day, "2028-02-29");
	/* 2026-06-30T18:00Z is already July in Vietnam */
	ind_period_of(1782842400, IND_MONTH, &m);
	ind_period_format(&m, out);
	assert_string_equal(out, "2026-07");
	ind_period_of(1782842400, IND_HALF, &m);
	ind_period_format(&m, out);
	assert_string_equal(out, "2026-H2");
}

static void test_scopes_dates_numbers(void **state)
{
	char out[IND_SCOPE_MAX];
	enum ind_scope_kind k;
	const char *why = NULL;
	double v;

	(void)state;
	assert_int_equal(ind_scope_parse("national", out, &k, &why), NDX_OK);
	assert_int_equal(k, IND_NATIONAL);
	assert_int_equal(ind_scope_parse("VN/GOV/BCA", out, &k, &why), NDX_OK);
	assert_int_equal(k, IND_MEMBER);
	assert_string_equal(out, "VN/GOV/BCA");
	assert_int_equal(ind_scope_parse("079", out, &k, &why), NDX_OK);
	assert_int_equal(k, IND_PROVINCE);
	assert_string_equal(ind_scope_label("079"), "TP Hồ Chí Minh");
	assert_string_equal(ind_scope_label("VN/GOV/BCA"), "VN/GOV/BCA");
	assert_int_equal(ind_scope_parse("999", out, &k, &why), NDX_EINVAL);
	assert_non_null(strstr(why, "province"));
	assert_int_equal(ind_scope_parse("VN/GOV/BCA/population", out, &k, &why), NDX_EINVAL);
	assert_int_equal(ind_scope_parse("", out, &k, &why), NDX_EINVAL);
	assert_int_equal(ind_scope_parse("National", out, &k, &why), NDX_EINVAL);
	assert_int_equal(ind_date_check("2026-02-29"), NDX_EINVAL);
	assert_int_equal(ind_date_check("2028-02-29"), NDX_OK);
	assert_int_equal(ind_date_check("2026-9-30"), NDX_EINVAL);
	assert_int_equal(ind_number_parse("85.5", &v), NDX_OK);
	assert_true(v == 85.5);
	assert_int_equal(ind_number_parse("85,5", &v), NDX_EINVAL);
	assert_int_equal(ind_number_parse("1e3", &v), NDX_EINVAL);
	assert_int_equal(ind_number_parse("nan", &v), NDX_EINVAL);
	assert_int_equal(ind_number_parse("", &v), NDX_EINVAL);
	assert_true(ind_text_ok("Nguyễn Văn A", 200));
	assert_false(ind_text_ok("", 200));
	assert_false(ind_text_ok("a\nb", 200));
	assert_false(ind_text_ok("\xff\xfe", 200));
	assert_true(ind_task_status_ok("in_progress"));
	assert_false(ind_task_status_ok("late"));
}

static void test_entry_check(void **state)
{
	struct fx *f = *state;
	struct ind_checked c;
	const char *field, *why;

	assert_int_equal(ind_entry_check(f->cat, "online_completion", "2026-H2", "VN/GOV/BCA", 85,
					 "Cổng DVCQG", "A", NULL, &c, &field, &why),
			 NDX_OK);
	assert_string_equal(c.key, "2026-12b");
	assert_int_equal(ind_entry_check(f->cat, "nope", "2026-H2", "national", 1, "s", "A", NULL,
					 &c, &field, &why),
			 NDX_ENOTFOUND);
	assert_int_equal(ind_entry_check(f->cat, "exchange_success", "2026-H2", "national", 1, "s",
					 "A", NULL, &c, &field, &why),
			 NDX_EINVAL);
	assert_non_null(strstr(why, "computed"));
	assert_int_equal(ind_entry_check(f->cat, "online_completion", "2026-H2", "national", 100.5,
					 "s", "A", NULL, &c, &field, &why),
			 NDX_EINVAL);
	assert_string_equal(field, "value");
	assert_int_equal(ind_entry_check(f->cat, "online_completion", "2026-H2", "national", -1,
					 "s", "A", NULL, &c, &field, &why),
			 NDX_EINVAL);
	assert_int_equal(ind_entry_check(f->cat, "qd766_on_time", "2026-H2", "national", 20.5, "s",
					 "A", NULL, &c, &field, &why),
			 NDX_EINVAL); /* the group's maximum is 20 points */
	assert_int_equal(ind_entry_check(f->cat, "online_completion", "2026-H2", "national", NAN,
					 "s", "A", NULL, &c, &field, &why),
			 NDX_EINVAL);
	assert_int_equal(ind_entry_check(f->cat, "online_completion", "H2", "national", 1, "s", "A",
					 NULL, &c, &field, &why),
			 NDX_EINVAL);
	assert_string_equal(field, "period");
	assert_int_equal(ind_entry_check(f->cat, "online_completion", "2026-H2", "x", 1, "s", "A",
					 NULL, &c, &field, &why),
			 NDX_EINVAL);
	assert_string_equal(field, "scope");
	assert_int_equal(ind_entry_check(f->cat, "online_completion", "2026-H2", "national", 1, "",
					 "A", NULL, &c, &field, &why),
			 NDX_EINVAL);
	assert_string_equal(field, "source");
	assert_int_equal(ind_entry_check(f->cat, "online_completion", "2026-H2", "national", 1, "s",
					 NULL, NULL, &c, &field, &why),
			 NDX_EINVAL);
	assert_string_equal(field, "entered_by");
}

/* ---- the store ------------------------------------------------------------------ */

static void put(struct fx *f, const char *id, const char *period, const char *scope, double v,
		const char *by, int64_t at)
{
	struct ind_checked c;
	const char *field, *why;

	assert_int_equal(ind_entry_check(f->cat, id, period, scope, v, "src", by, NULL, &c, &field,
					 &why),
			 NDX_OK);
	struct ind_entry e = { .indicator = id, .period = period, .period_key = c.key,
			       .scope = c.scope, .source = "src", .entered_by = by, .value = v,
			       .entered_at = at };
	assert_int_equal(istore_add_value(f->st, &e, NULL), NDX_OK);
}

static void test_corrections_keep_history(void **state)
{
	struct fx *f = *state;
	json_t *cur, *hist;

	put(f, "online_completion", "2026-H2", "national", 70, "A", 1790000000);
	put(f, "online_completion", "2026-H2", "national", 72.5, "B", 1790000100); /* corrected */
	put(f, "online_completion", "2026-H1", "national", 61.5, "A", 1780000000);
	put(f, "online_completion", "2027-H1", "national", 75, "A", 1800000000);
	assert_int_equal(istore_history(f->st, "online_completion", NULL, &hist), NDX_OK);
	assert_int_equal(json_array_size(hist), 4);
	assert_string_equal(json_string_value(json_object_get(json_array_get(hist, 0), "entered_by")),
			    "A");
	assert_true(json_real_value(json_object_get(json_array_get(hist, 0), "value")) == 70);
	json_decref(hist);
	assert_int_equal(istore_current(f->st, "online_completion", "2026-12b", &cur), NDX_OK);
	assert_int_equal(json_array_size(cur), 2); /* H1 and H2; 2027-H1 is later */
	assert_string_equal(json_string_value(json_object_get(json_array_get(cur, 0), "period")),
			    "2026-H1");
	assert_true(json_real_value(json_object_get(json_array_get(cur, 1), "value")) == 72.5);
	assert_string_equal(json_string_value(json_object_get(json_array_get(cur, 1), "entered_by")),
			    "B");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(cur, 1), "corrections")),
			 1);
	json_decref(cur);
	assert_int_equal(istore_current(f->st, "online_completion", NULL, &cur), NDX_OK);
	assert_int_equal(json_array_size(cur), 3);
	json_decref(cur);
	assert_int_equal(istore_history(f->st, NULL, "VN/GOV/BCA", &hist), NDX_OK);
	assert_int_equal(json_array_size(hist), 0);
	json_decref(hist);
}

static void test_tasks_and_overdue(void **state)
{
	struct fx *f = *state;
	json_t *tasks;
	int64_t a, b;

	assert_int_equal(istore_task_add(f->st, "Kết nối CSDL đất đai", "VN/GOV/BNNMT",
					 "2026-09-30", "not_started", NULL, "A", 1, &a),
			 NDX_OK);
	assert_int_equal(istore_task_add(f->st, "Số hóa hộ tịch", "VN/GOV/BTP", "2026-08-31",
					 "in_progress", "https://example.gov.vn/x", "A", 1, &b),
			 NDX_OK);
	assert_int_equal(istore_task_update(f->st, 999, "done", NULL, "A", 2), NDX_ENOTFOUND);
	assert_int_equal(istore_tasks(f->st, "2026-09-30", &tasks), NDX_OK);
	/* by deadline; due the as-of day is not yet overdue */
	assert_int_equal(json_integer_value(json_object_get(json_array_get(tasks, 0), "id")), b);
	assert_true(json_is_true(json_object_get(json_array_get(tasks, 0), "overdue")));
	assert_false(json_is_true(json_object_get(json_array_get(tasks, 1), "overdue")));
	json_decref(tasks);
	assert_int_equal(istore_task_update(f->st, b, "done", "Biên bản nghiệm thu", "B", 3), NDX_OK);
	assert_int_equal(istore_tasks(f->st, "2026-12-31", &tasks), NDX_OK);
	assert_false(json_is_true(json_object_get(json_array_get(tasks, 0), "overdue")));
	assert_string_equal(json_string_value(json_object_get(json_array_get(tasks, 0), "evidence")),
			    "Biên bản nghiệm thu");
	assert_string_equal(json_string_value(json_object_get(json_array_get(tasks, 0),
							      "updated_by")),
			    "B");
	assert_true(json_is_true(json_object_get(json_array_get(tasks, 1), "overdue")));
	json_decref(tasks);
}

/* ---- the exchange's figures ------------------------------------------------------ */

static json_t *rec(long long seq, const char *role, const char *msg, const char *client,
		   const char *service, long long in_ms, int ok, long long dur)
{
	return json_pack("{s:I s:s s:s s:s s:s s:I s:b s:I}", "seq", seq, "role", role,
			 "message_id", msg, "client", client, "service", service, "request_in",
			 in_ms, "success", ok, "duration_ms", dur);
}

#define TAX "VN/GOV/MOF/tax"
#define POP "VN/GOV/BCA/population/citizens"
#define LAND "VN/GOV/BNNMT/land/parcels"

static void write_monitor_db(struct fx *f)
{
	struct mstore *ms;
	json_t *mof = json_array(), *bca = json_array();
	size_t added, bad;

	assert_int_equal(mstore_open(f->mon, access(f->mon, F_OK) != 0, &ms), NDX_OK);
	/* 20 exchanges MOF -> BCA in August, each seen by both gateways,
	 * durations 10..200 ms, two failed; one MOF -> BNNMT seen only by the
	 * provider; one in June (another period) */
	for (int i = 1; i <= 20; i++) {
		char m[16];

		snprintf(m, sizeof m, "m%d", i);
		json_array_append_new(mof, rec(i, "consumer", m, TAX, POP, AUG_MS + i, i > 2,
					       10 * i));
		json_array_append_new(bca, rec(i, "provider", m, TAX, POP, AUG_MS + i, i > 2,
					       10 * i - 5));
	}
	json_array_append_new(bca, rec(21, "provider", "x1", TAX, LAND, AUG_MS + 100, 1, 50));
	json_array_append_new(bca, rec(22, "consumer", "j1", TAX, POP,
				       AUG_MS - 60LL * 86400 * 1000, 1, 1));
	assert_int_equal(mstore_add_page(ms, "VN/GOV/MOF/gw1", "VN/GOV/MOF", mof, AUG_MS, &added,
					 &bad), NDX_OK);
	assert_int_equal(mstore_add_page(ms, "VN/GOV/BCA/gw1", "VN/GOV/BCA", bca, AUG_MS, &added,
					 &bad), NDX_OK);
	json_decref(mof);
	json_decref(bca);
	mstore_close(ms);
}

static void test_exchange_figures(void **state)
{
	struct fx *f = *state;
	struct ind_period h2;
	int64_t from, to;
	json_t *fig, *m;

	assert_int_equal(ind_exchange_figures(f->mon, 0, 1, &fig), NDX_ENOTFOUND);
	write_monitor_db(f);
	assert_int_equal(ind_period_parse("2026-H2", &h2), NDX_OK);
	ind_period_range_ms(&h2, &from, &to);
	assert_int_equal(ind_exchange_figures(f->mon, from, to, &fig), NDX_OK);
	assert_int_equal(json_integer_value(json_object_get(fig, "exchanges")), 21);
	assert_int_equal(json_integer_value(json_object_get(fig, "failed")), 2);
	assert_true(fabs(json_real_value(json_object_get(fig, "success_pct")) - 1900.0 / 21) < 1e-9);
	/* nearest rank: ceil(21 * 0.95) = 20th of 10..200 and 50 → 190 */
	assert_int_equal(json_integer_value(json_object_get(fig, "p95_ms")), 190);
	/* members in order: BCA (20 as provider), BNNMT (1), MOF (21 as client) */
	m = json_object_get(fig, "members");
	assert_int_equal(json_array_size(m), 3);
	assert_string_equal(json_string_value(json_object_get(json_array_get(m, 0), "member")),
			    "VN/GOV/BCA");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(m, 0), "exchanges")), 20);
	assert_string_equal(json_string_value(json_object_get(json_array_get(m, 1), "member")),
			    "VN/GOV/BNNMT");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(m, 2), "exchanges")), 21);
	json_decref(fig);
	/* an empty period */
	assert_int_equal(ind_exchange_figures(f->mon, 0, 1000, &fig), NDX_OK);
	assert_int_equal(json_integer_value(json_object_get(fig, "exchanges")), 0);
	assert_true(json_is_null(json_object_get(fig, "success_pct")));
	assert_true(json_is_null(json_object_get(fig, "p95_ms")));
	json_decref(fig);
}

/* ---- the registries' measures ------------------------------------------------------ */

/* A measures answer of one run of one table, as GET /measures gives it. */
static json_t *measures_answer(const char *sector, int run, const char *finished,
			       const char *table, int records, int acc, int suf, int cln, int liv)
{
	return json_pack("{s:s s:[{s:i s:s s:s s:[{s:s s:i s:{s:i} s:{s:i} s:{s:i} s:{s:i}}]}]}",
			 "sector", sector, "runs", "run", run, "started_at", finished,
			 "finished_at", finished, "tables", "table", table, "records", records,
			 "accurate", "records", acc, "sufficient", "records", suf, "clean",
			 "records", cln, "live", "records", liv);
}

#define TAX_MEASURES "VN/GOV/TCT/tax/measures"
#define BHXH_MEASURES "VN/GOV/BHXH/insurance/measures"

static void write_measures(struct fx *f)
{
	struct mstore *ms;
	size_t added, bad;
	json_t *a;

	assert_int_equal(mstore_open(f->mon, access(f->mon, F_OK) != 0, &ms), NDX_OK);
	/* tax: run 1 in July (100 records), run 2 in August (100, better);
	 * insurance: run 7 in August (300 records); the latest of each table
	 * in H2 counts: tax run 2 and insurance run 7 */
	a = measures_answer("tax", 1, "2026-07-10T03:00:00Z", "taxpayers", 100, 50, 60, 70, 80);
	assert_int_equal(mmeasures_add(ms, TAX_MEASURES, "VN/GOV/TCT", a, AUG_MS, &added, &bad),
			 NDX_OK);
	assert_int_equal(added, 1);
	json_decref(a);
	a = measures_answer("tax", 2, "2026-08-10T03:00:00Z", "taxpayers", 100, 90, 95, 99, 97);
	assert_int_equal(mmeasures_add(ms, TAX_MEASURES, "VN/GOV/TCT", a, AUG_MS, &added, &bad),
			 NDX_OK);
	/* the same answer again adds nothing */
	assert_int_equal(mmeasures_add(ms, TAX_MEASURES, "VN/GOV/TCT", a, AUG_MS, &added, &bad),
			 NDX_OK);
	assert_int_equal(added, 0);
	json_decref(a);
	a = measures_answer("insurance", 7, "2026-08-12T03:00:00Z", "participants", 300, 270, 300,
			    240, 285);
	assert_int_equal(mmeasures_add(ms, BHXH_MEASURES, "VN/GOV/BHXH", a, AUG_MS, &added, &bad),
			 NDX_OK);
	json_decref(a);
	/* refused: more accurate records than records, a finish in the future */
	a = measures_answer("insurance", 8, "2026-08-13T03:00:00Z", "participants", 10, 11, 1, 1, 1);
	assert_int_equal(mmeasures_add(ms, BHXH_MEASURES, "VN/GOV/BHXH", a, AUG_MS, &added, &bad),
			 NDX_OK);
	assert_int_equal(added, 0);
	assert_int_equal(bad, 1);
	json_decref(a);
	a = measures_answer("insurance", 9, "2027-01-01T00:00:00Z", "participants", 1, 1, 1, 1, 1);
	assert_int_equal(mmeasures_add(ms, BHXH_MEASURES, "VN/GOV/BHXH", a, AUG_MS, &added, &bad),
			 NDX_OK);
	assert_int_equal(bad, 1);
	json_decref(a);
	/* an answer that is no measures answer keeps nothing */
	a = json_pack("{s:[]}", "runs");
	assert_int_equal(mmeasures_add(ms, BHXH_MEASURES, "VN/GOV/BHXH", a, AUG_MS, &added, &bad),
			 NDX_EINVAL);
	json_decref(a);
	mstore_close(ms);
}

static void test_registry_figures(void **state)
{
	struct fx *f = *state;
	struct ind_period h2, jul;
	int64_t from, to;
	json_t *fig, *m;

	assert_int_equal(ind_registry_figures(f->mon, 0, 1, &fig), NDX_ENOTFOUND);
	write_measures(f);
	assert_int_equal(ind_period_parse("2026-H2", &h2), NDX_OK);
	ind_period_range_ms(&h2, &from, &to);
	assert_int_equal(ind_registry_figures(f->mon, from, to, &fig), NDX_OK);
	/* tax run 2 (100) + insurance run 7 (300), pooled over records */
	assert_int_equal(json_integer_value(json_object_get(fig, "records")), 400);
	assert_int_equal(json_integer_value(json_object_get(fig, "tables")), 2);
	assert_true(fabs(json_real_value(json_object_get(fig, "accurate_pct")) - 90.0) < 1e-9);
	assert_true(fabs(json_real_value(json_object_get(fig, "sufficient_pct")) - 98.75) < 1e-9);
	assert_true(fabs(json_real_value(json_object_get(fig, "clean_pct")) - 84.75) < 1e-9);
	assert_true(fabs(json_real_value(json_object_get(fig, "live_pct")) - 95.5) < 1e-9);
	m = json_object_get(fig, "members");
	assert_int_equal(json_array_size(m), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(m, 0), "member")),
			    "VN/GOV/BHXH");
	assert_true(fabs(json_real_value(json_object_get(json_array_get(m, 0), "clean_pct")) -
			 80.0) < 1e-9);
	assert_string_equal(json_string_value(json_object_get(json_array_get(m, 1), "member")),
			    "VN/GOV/TCT");
	assert_true(fabs(json_real_value(json_object_get(json_array_get(m, 1), "clean_pct")) -
			 99.0) < 1e-9);
	json_decref(fig);
	/* July alone: tax run 1 */
	assert_int_equal(ind_period_parse("2026-07", &jul), NDX_OK);
	ind_period_range_ms(&jul, &from, &to);
	assert_int_equal(ind_registry_figures(f->mon, from, to, &fig), NDX_OK);
	assert_int_equal(json_integer_value(json_object_get(fig, "records")), 100);
	assert_true(fabs(json_real_value(json_object_get(fig, "accurate_pct")) - 50.0) < 1e-9);
	json_decref(fig);
	/* a period without runs: no share */
	assert_int_equal(ind_registry_figures(f->mon, 0, 1000, &fig), NDX_OK);
	assert_int_equal(json_integer_value(json_object_get(fig, "records")), 0);
	assert_true(json_is_null(json_object_get(fig, "live_pct")));
	json_decref(fig);
}

/* ---- the view ------------------------------------------------------------------ */

static const json_t *indicator(const json_t *view, const char *id)
{
	const json_t *i;
	size_t k;

	json_array_foreach(json_object_get(view, "indicators"), k, i)
		if (strcmp(json_string_value(json_object_get(i, "id")), id) == 0)
			return i;
	return NULL;
}

static const json_t *scope(const json_t *ind, const char *s)
{
	const json_t *o;
	size_t k;

	json_array_foreach(json_object_get(ind, "scopes"), k, o)
		if (strcmp(json_string_value(json_object_get(o, "scope")), s) == 0)
			return o;
	return NULL;
}

static void test_view_trend_distance_ranks(void **state)
{
	struct fx *f = *state;
	struct ind_period h2;
	json_t *view;
	const json_t *ind, *nat, *s;

	write_monitor_db(f);
	put(f, "online_completion", "2026-H1", "national", 61.5, "A", 1);
	put(f, "online_completion", "2026-H2", "national", 72, "A", 2);
	put(f, "online_completion", "2026-H2", "001", 90, "A", 3);
	put(f, "online_completion", "2026-H2", "079", 70, "A", 4);
	put(f, "online_completion", "2026-H2", "VN/GOV/BCA", 85, "A", 5);
	put(f, "online_completion", "2026-H2", "VN/GOV/BTP", 85, "A", 6);
	/* only months within H2: the latest month is the half's value */
	put(f, "qd766_on_time", "2026-08", "national", 15, "A", 7);
	put(f, "qd766_on_time", "2026-11", "national", 17, "A", 8);
	assert_int_equal(ind_period_parse("2026-H2", &h2), NDX_OK);
	struct ind_view_opts vo = { .cat = f->cat, .st = f->st, .monitor_db = f->mon,
				    .period = &h2 };
	assert_int_equal(ind_view(&vo, &view), NDX_OK);
	assert_string_equal(json_string_value(json_object_get(view, "as_of")), "2026-12-31");
	ind = indicator(view, "online_completion");
	nat = json_array_get(json_object_get(ind, "scopes"), 0);
	assert_string_equal(json_string_value(json_object_get(nat, "scope")), "national");
	assert_int_equal(json_array_size(json_object_get(nat, "series")), 2);
	assert_true(json_number_value(json_object_get(json_object_get(nat, "current"), "value")) ==
		    72);
	assert_true(json_number_value(json_object_get(nat, "distance")) == 8);
	assert_false(json_is_true(json_object_get(nat, "met")));
	/* ranks within members and within provinces; a tie goes by id */
	assert_int_equal(json_integer_value(json_object_get(scope(ind, "VN/GOV/BCA"), "rank")), 1);
	assert_int_equal(json_integer_value(json_object_get(scope(ind, "VN/GOV/BTP"), "rank")), 2);
	assert_int_equal(json_integer_value(json_object_get(scope(ind, "001"), "rank")), 1);
	assert_int_equal(json_integer_value(json_object_get(scope(ind, "079"), "rank")), 2);
	assert_string_equal(json_string_value(json_object_get(scope(ind, "079"), "label")),
			    "TP Hồ Chí Minh");
	s = json_object_get(scope(indicator(view, "qd766_on_time"), "national"), "current");
	assert_string_equal(json_string_value(json_object_get(s, "period")), "2026-11");
	/* computed: the half's value and the months with exchanges as trend */
	nat = scope(indicator(view, "exchange_volume"), "national");
	assert_true(json_number_value(json_object_get(json_object_get(nat, "current"), "value")) ==
		    21);
	assert_int_equal(json_array_size(json_object_get(nat, "series")), 2); /* June, August */
	assert_non_null(scope(indicator(view, "exchange_success"), "VN/GOV/MOF"));
	assert_int_equal(json_integer_value(json_object_get(json_object_get(view, "summary"),
							    "with_value")),
			 5); /* online_completion, qd766_on_time, the three exchange ones */
	json_decref(view);
}

static void test_view_registry_measures(void **state)
{
	struct fx *f = *state;
	struct ind_period h2;
	json_t *view;
	const json_t *ind, *nat, *s;

	write_measures(f);
	assert_int_equal(ind_period_parse("2026-H2", &h2), NDX_OK);
	struct ind_view_opts vo = { .cat = f->cat, .st = f->st, .monitor_db = f->mon,
				    .period = &h2 };
	assert_int_equal(ind_view(&vo, &view), NDX_OK);
	ind = indicator(view, "registry_clean");
	assert_string_equal(json_string_value(json_object_get(ind, "source")), "registries");
	nat = scope(ind, "national");
	assert_true(fabs(json_number_value(json_object_get(json_object_get(nat, "current"),
							   "value")) - 84.75) < 1e-9);
	assert_string_equal(json_string_value(json_object_get(json_object_get(nat, "current"),
							      "source")),
			    "registries");
	/* the trend: July and August */
	assert_int_equal(json_array_size(json_object_get(nat, "series")), 2);
	assert_false(json_is_true(json_object_get(nat, "met")));
	assert_true(fabs(json_number_value(json_object_get(nat, "distance")) - 15.25) < 1e-9);
	/* per agency, ranked: tax 99 before insurance 80 */
	s = scope(ind, "VN/GOV/TCT");
	assert_non_null(s);
	assert_int_equal(json_integer_value(json_object_get(s, "rank")), 1);
	assert_int_equal(json_integer_value(json_object_get(scope(ind, "VN/GOV/BHXH"), "rank")), 2);
	/* sufficient: insurance has every record sufficient, met */
	s = scope(indicator(view, "registry_sufficient"), "VN/GOV/BHXH");
	assert_true(json_is_true(json_object_get(s, "met")));
	/* the registries' values are computed, never entered */
	const char *field, *why;
	struct ind_checked ck;
	assert_int_equal(ind_entry_check(f->cat, "registry_live", "2026-H2", "national", 99, "x",
					 "y", NULL, &ck, &field, &why),
			 NDX_EINVAL);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(view, "summary"),
							    "with_value")),
			 4);
	json_decref(view);
}

/* ---- the report --------------------------------------------------------------------- */

static void test_report_is_reproducible(void **state)
{
	struct fx *f = *state;
	struct ind_period p;
	unsigned char *a = NULL, *b = NULL;
	size_t alen = 0, blen = 0;
	int64_t t;

	write_monitor_db(f);
	put(f, "online_completion", "2026-H2", "national", 72, "Nguyễn Văn A", 2);
	assert_int_equal(istore_task_add(f->st, "Kết nối CSDL", "VN/GOV/BNNMT", "2026-09-30",
					 "not_started", NULL, "A", 1, &t),
			 NDX_OK);
	assert_int_equal(ind_period_parse("2026-H2", &p), NDX_OK);
	struct report_opts ro = { .cat = f->cat, .st = f->st, .monitor_db = f->mon, .period = &p };
	assert_int_equal(report_generate(&ro, &a, &alen), NDX_OK);
	assert_int_equal(report_generate(&ro, &b, &blen), NDX_OK);
	assert_true(alen > 1000 && alen == blen);
	assert_memory_equal(a, "%PDF-", 5);
	assert_memory_equal(a, b, alen);
	free(a);
	free(b);
	assert_int_equal(ind_period_parse("2026-08", &p), NDX_OK);
	assert_int_equal(report_generate(&ro, &a, &alen), NDX_EINVAL);
	assert_null(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_catalogue_holds_the_issues_indicators, setup,
						teardown),
		cmocka_unit_test(test_catalogue_refusals),
		cmocka_unit_test(test_periods),
		cmocka_unit_test(test_scopes_dates_numbers),
		cmocka_unit_test_setup_teardown(test_entry_check, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrections_keep_history, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tasks_and_overdue, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exchange_figures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_registry_figures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_view_trend_distance_ranks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_view_registry_measures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_report_is_reproducible, setup, teardown),
	};

	int failed = cmocka_run_group_tests(tests, NULL, NULL);

	/* The report frees its font map; what cairo and fontconfig keep for the
	 * process (fontconfig's parsed configuration) is released here so that
	 * valgrind sees only the test's own allocations. */
	report_release_fonts();
	return failed;
}
