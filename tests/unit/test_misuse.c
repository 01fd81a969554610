/* Unit tests for the misuse detector (src/monitor/misuse.h,
 * misuse_detect.c): each explanation found on its case and not on its
 * legitimate twin; each rule fires on a constructed case and not on its
 * twin; a second analysis writes no finding twice; a dismissed finding's
 * reads enter the baseline, a finding not dismissed keeps its reads out.
 * With NDX_TEST_ENGINE=pg (the meson suite pg) the same on PostgreSQL, each
 * test on a schema of its own of NDX_TEST_PG made with monitor.db's schema
 * (mon_db.c); skipped without it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <stdlib.h>
#include <unistd.h>

#include "misuse.h"
#include "mstore.h"
#include "ndx/err.h"
#include "ndx/sqldb.h"

#define MIN_MS 60000LL
#define HOUR_MS 3600000LL
#define DAY_MS 86400000LL
/* Monday 2026-11-02 00:00 in Vietnam (UTC+7) */
#define MONDAY 1793552400000LL

#define INVALID "Server.ServerProxy.InvalidMessage"
#define DENIED "Server.ServerProxy.AccessDenied"
#define CITIZENS "VN/GOV/BCA/population/citizens"

struct rd {
	int64_t t;
	const char *client, *service, *purpose;
	int status;
	const char *user_id, *issue;
	int own, event, consent;
	const char *error_type, *message_id;
	const char *subjects; /* comma-separated */
};

static int64_t seq;

static int64_t add(struct ndx_sqldb *db, struct rd r)
{
	char member[128], msg[32], subj[256];
	const char *p;
	json_t *row = NULL;
	int64_t id;

	snprintf(member, sizeof member, "%s", r.client);
	p = member;
	for (int parts = 0; *p; p++)
		if (*p == '/' && ++parts == 3) {
			member[p - member] = 0;
			break;
		}
	snprintf(msg, sizeof msg, "m%" PRId64, ++seq);
	assert_int_equal(ndx_sqldb_query_one(
				 db, &row,
				 "INSERT INTO reads(gateway, seq, time_ms, message_id, client,"
				 " client_member, service, method, purpose, status, user_id, issue, own,"
				 " event, consent, error_type) VALUES ('VN/GOV/BCA/gw1', ?, ?, ?, ?, ?,"
				 " ?, 'GET', ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
				 "iisssssissiiis", seq, r.t, r.message_id ? r.message_id : msg,
				 r.client, member, r.service ? r.service : CITIZENS,
				 r.purpose ? r.purpose : "procedure", (int64_t)(r.status ? r.status : 200),
				 r.user_id ? r.user_id : "", r.issue ? r.issue : "", (int64_t)r.own,
				 (int64_t)r.event, (int64_t)r.consent,
				 r.error_type ? r.error_type : ""),
			 NDX_OK);
	id = (int64_t)json_integer_value(json_object_get(row, "id"));
	json_decref(row);
	snprintf(subj, sizeof subj, "%s", r.subjects ? r.subjects : "001088000101");
	for (char *s = strtok(subj, ","); s; s = strtok(NULL, ","))
		assert_int_equal(ndx_sqldb_exec(db, "INSERT INTO read_subjects(read_id, subject)"
						    " VALUES (?, ?)", "is", id, s),
				 NDX_OK);
	return id;
}

static void exec(struct ndx_sqldb *db, const char *sql)
{
	if (ndx_sqldb_exec(db, sql, "") != NDX_OK)
		fail_msg("%s", sql);
}

/* The first column of the statement's first row (0 for null, -1 for no
 * row). */
static int64_t scalar(struct ndx_sqldb *db, const char *fmt, ...)
{
	char sql[1024];
	json_t *row = NULL;
	int64_t v = -1;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof sql, fmt, ap);
	va_end(ap);
	rc = ndx_sqldb_query_one(db, &row, sql, "");
	assert_true(rc == NDX_OK || rc == NDX_ENOTFOUND);
	if (rc == NDX_OK)
		v = (int64_t)json_integer_value(json_object_iter_value(json_object_iter(row)));
	json_decref(row);
	return v;
}

/* the explanation of a read: 0 none, else the first letter of how */
static int how(struct ndx_sqldb *db, int64_t id)
{
	char sql[200];
	json_t *row = NULL;
	int c = 0;

	snprintf(sql, sizeof sql, "SELECT how FROM explanations WHERE read_id = %" PRId64, id);
	if (ndx_sqldb_query_one(db, &row, sql, "") == NDX_OK)
		c = (unsigned char)json_string_value(json_object_get(row, "how"))[0];
	json_decref(row);
	return c;
}

/* how many findings of kind hold read id */
static int64_t flagged(struct ndx_sqldb *db, const char *kind, int64_t id)
{
	return scalar(db, "SELECT count(*) FROM finding_reads fr JOIN findings f"
			  " ON f.id = fr.finding_id WHERE f.kind = '%s' AND fr.read_id = %" PRId64,
		      kind, id);
}

static int64_t findings(struct ndx_sqldb *db, const char *kind)
{
	return scalar(db, "SELECT count(*) FROM findings WHERE kind = '%s'", kind);
}

static unsigned analyse(struct ndx_sqldb *db)
{
	struct misuse_options o;
	unsigned n = 99;

	misuse_options_default(&o);
	assert_int_equal(misuse_analyse(db, &o, &n), NDX_OK);
	return n;
}

/* The detector's tables on the SQLite engine of ndx/sqldb.h, in memory. */
static const char *const TABLES[] = { MISUSE_SCHEMA_SQL };
static const struct ndx_sqldb_desc DESC = {
	.prog = "test_misuse",
	.what = "analysis database",
	.init_key = "kind",
	.migrations = TABLES,
	.n_migrations = 1,
};

static const char *pg_base; /* NDX_TEST_PG in the pg run */

static int setup(void **state)
{
	struct ndx_sqldb *db;

	if (pg_base) {
		static int n;
		char loc[1024], stmt[100];
		PGconn *c = PQconnectdb(pg_base);

		snprintf(stmt, sizeof stmt, "CREATE SCHEMA misuse_%d_%d", (int)getpid(), ++n);
		assert_int_equal(PQstatus(c), CONNECTION_OK);
		PQclear(PQexec(c, stmt));
		PQfinish(c);
		snprintf(loc, sizeof loc, "%s%coptions=-csearch_path%%3Dmisuse_%d_%d", pg_base,
			 strchr(pg_base, '?') ? '&' : '?', (int)getpid(), n);
		assert_int_equal(ndx_sqldb_open(&mstore_db_desc, loc, true, &db), NDX_OK);
	} else {
		assert_int_equal(ndx_sqldb_sqlite_open(&DESC, ":memory:", true, &db), NDX_OK);
	}
	exec(db, "INSERT INTO mandates(client, service, purpose, basis, created_ms) VALUES"
		 " ('VN/GOV/BTC/TCT', '" CITIZENS "', 'tax-periodic-check', 'law', 0),"
		 " ('VN/GOV/BHXH/insurance', '" CITIZENS "', 'contribution-check', 'law', 0),"
		 " ('VN/GOV/BYT/health', '" CITIZENS "', 'insurance-check', 'law', 0),"
		 " ('VN/GOV/CAHN/residence', '" CITIZENS "', 'residence', 'law', 0)");
	exec(db, "INSERT INTO procedures VALUES ('P1', 'land-transfer', '001088000101',"
		 " 'VN/GOV/BTNMT', 1793588400000, 1793674800000)"); /* Mon 10:00 to Tue 10:00 */
	*state = db;
	return 0;
}

static int teardown(void **state)
{
	struct ndx_sqldb *db = *state;

	db->ops->close(db);
	return 0;
}

#define T(day, hour, min) (MONDAY + (day) * DAY_MS + (hour) * HOUR_MS + (min) * MIN_MS)

static void test_explanations(void **state)
{
	struct ndx_sqldb *db = *state;
	int64_t own, sub, consent, consent_refused, proc, proc_client, proc_other_agency,
		proc_other_subject, proc_early, proc_late, proc_household, mandate,
		mandate_purpose, mandate_officer, none;

	own = add(db, (struct rd){ .t = T(0, 11, 0), .client = "VN/GOV/VPCP/portal", .own = 1,
				   .purpose = "own-view" });
	sub = add(db, (struct rd){ .t = T(0, 11, 1), .client = "VN/GOV/BHXH/insurance",
				   .event = 1, .purpose = "event" });
	consent = add(db, (struct rd){ .t = T(0, 11, 2), .client = "VN/GOV/BYT/health",
				       .consent = 1, .purpose = "treatment" });
	consent_refused = add(db, (struct rd){ .t = T(0, 11, 3), .client = "VN/GOV/BYT/health",
					       .consent = 1, .purpose = "treatment", .status = 500,
					       .error_type = DENIED });
	proc = add(db, (struct rd){ .t = T(0, 11, 4), .client = "VN/GOV/VPCP/portal",
				    .user_id = "VN/GOV/BTNMT/officer01",
				    .issue = "land-transfer/P1" });
	proc_client = add(db, (struct rd){ .t = T(0, 11, 5), .client = "VN/GOV/BTNMT/land",
					   .issue = "land-transfer/P1" });
	proc_other_agency = add(db, (struct rd){ .t = T(0, 11, 6), .client = "VN/GOV/VPCP/portal",
						 .user_id = "VN/GOV/BTC/officer01",
						 .issue = "land-transfer/P1" });
	proc_other_subject = add(db, (struct rd){ .t = T(0, 11, 7), .client = "VN/GOV/VPCP/portal",
						  .user_id = "VN/GOV/BTNMT/officer01",
						  .issue = "land-transfer/P1",
						  .subjects = "079201000303" });
	proc_early = add(db, (struct rd){ .t = T(0, 9, 45), .client = "VN/GOV/VPCP/portal",
					  .user_id = "VN/GOV/BTNMT/officer01",
					  .issue = "land-transfer/P1" });
	proc_late = add(db, (struct rd){ .t = T(2, 10, 1), .client = "VN/GOV/VPCP/portal",
					 .user_id = "VN/GOV/BTNMT/officer01",
					 .issue = "land-transfer/P1" });
	proc_household = add(db, (struct rd){ .t = T(1, 9, 0), .client = "VN/GOV/VPCP/portal",
					      .user_id = "VN/GOV/BTNMT/officer01",
					      .issue = "land-transfer/P1",
					      .subjects = "001088000101,079201000303" });
	mandate = add(db, (struct rd){ .t = T(0, 11, 8), .client = "VN/GOV/BTC/TCT",
				       .purpose = "tax-periodic-check" });
	mandate_purpose = add(db, (struct rd){ .t = T(0, 11, 9), .client = "VN/GOV/BTC/TCT",
					       .purpose = "contribution-check" });
	none = add(db, (struct rd){ .t = T(0, 11, 10), .client = "VN/GOV/BTC/TCT",
				    .user_id = "VN/GOV/BTC/officer02" });
	/* the mandate's purpose named by an officer: a mandate is the
	 * agency's system's standing basis, an officer needs a procedure */
	mandate_officer = add(db, (struct rd){ .t = T(0, 11, 11), .client = "VN/GOV/BTC/TCT",
					       .purpose = "tax-periodic-check",
					       .user_id = "VN/GOV/BTC/officer02" });
	analyse(db);
	assert_int_equal(how(db, own), 'o');
	assert_int_equal(how(db, sub), 's');
	assert_int_equal(how(db, consent), 'c');
	assert_int_equal(how(db, consent_refused), 0);
	assert_int_equal(how(db, proc), 'p');
	assert_int_equal(how(db, proc_client), 'p');
	assert_int_equal(how(db, proc_household), 'p');
	assert_int_equal(how(db, proc_other_agency), 0);
	assert_int_equal(how(db, proc_other_subject), 0);
	assert_int_equal(how(db, proc_early), 0);
	assert_int_equal(how(db, proc_late), 0);
	assert_int_equal(how(db, mandate), 'm');
	assert_int_equal(how(db, mandate_purpose), 0);
	assert_int_equal(how(db, mandate_officer), 0);
	assert_int_equal(how(db, none), 0);
	/* no-explanation: each unexplained success, never an explained one or
	 * a refusal */
	assert_int_equal(flagged(db, MISUSE_NO_EXPLANATION, none), 1);
	assert_int_equal(flagged(db, MISUSE_NO_EXPLANATION, mandate_officer), 1);
	assert_int_equal(flagged(db, MISUSE_NO_EXPLANATION, proc_other_agency), 1);
	assert_int_equal(flagged(db, MISUSE_NO_EXPLANATION, proc_late), 1);
	assert_int_equal(flagged(db, MISUSE_NO_EXPLANATION, proc), 0);
	assert_int_equal(flagged(db, MISUSE_NO_EXPLANATION, mandate), 0);
	assert_int_equal(flagged(db, MISUSE_NO_EXPLANATION, consent_refused), 0);
	assert_int_equal(scalar(db, "SELECT count(*) FROM findings WHERE kind = '%s'"
				    " AND why LIKE '%%no explanation%%' AND why LIKE '%%officer%%'",
				MISUSE_NO_EXPLANATION),
			 4);
	/* one per actor and day: 4 officers' and the tax department's own */
	assert_int_equal(findings(db, MISUSE_NO_EXPLANATION), 5);
}

/* n mandate reads of distinct people by client in the hour from t */
static void batch(struct ndx_sqldb *db, const char *client, const char *purpose, int64_t t, int n,
		  int first)
{
	char pin[32];

	for (int i = 0; i < n; i++) {
		snprintf(pin, sizeof pin, "001088%06d", first + i);
		add(db, (struct rd){ .t = t + i * (50 * MIN_MS / n), .client = client,
				     .purpose = purpose, .subjects = pin });
	}
}

static void test_bulk_and_dismissal(void **state)
{
	struct ndx_sqldb *db = *state;
	unsigned n;

	/* no history: the minimum (60) decides */
	batch(db, "VN/GOV/BYT/health", "insurance-check", T(0, 10, 0), 100, 0);
	batch(db, "VN/GOV/BTC/TCT", "tax-periodic-check", T(0, 10, 0), 40, 0);
	n = analyse(db);
	assert_int_equal(n, 1);
	assert_int_equal(findings(db, MISUSE_BULK), 1);
	assert_int_equal(scalar(db, "SELECT count(*) FROM findings WHERE kind = 'bulk'"
				    " AND client = 'VN/GOV/BYT/health' AND why LIKE '100 distinct%%'"),
			 1);
	assert_int_equal(scalar(db, "SELECT count(*) FROM finding_reads"), 100);
	/* the same the next day, the first finding not dismissed: its reads
	 * stay out of the baseline, so it fires again */
	batch(db, "VN/GOV/BYT/health", "insurance-check", T(1, 10, 0), 100, 1000);
	assert_int_equal(analyse(db), 1);
	/* both dismissed: the day after, 2 x 100 is the limit, 120 passes */
	exec(db, "UPDATE findings SET dismissed = 1");
	batch(db, "VN/GOV/BYT/health", "insurance-check", T(2, 10, 0), 120, 2000);
	assert_int_equal(analyse(db), 0);
	/* and 250 does not */
	batch(db, "VN/GOV/BYT/health", "insurance-check", T(3, 10, 0), 250, 3000);
	assert_int_equal(analyse(db), 1);
	assert_int_equal(findings(db, MISUSE_BULK), 3);
	/* an officer: unexplained reads of many people */
	for (int i = 0; i < 70; i++) {
		char pin[32];
		snprintf(pin, sizeof pin, "079088%06d", i);
		add(db, (struct rd){ .t = T(3, 14, 0) + i * MIN_MS / 2, .client = "VN/GOV/BTNMT/land",
				     .user_id = "VN/GOV/BTNMT/officer07", .subjects = pin });
	}
	/* one finding for the officer, one for the client's window (all of it
	 * the officer's), and their reads have no explanation */
	assert_int_equal(analyse(db), 3);
	assert_int_equal(scalar(db, "SELECT count(*) FROM findings WHERE kind = 'bulk'"
				    " AND user_id = 'VN/GOV/BTNMT/officer07'"
				    " AND key LIKE 'bulk:VN/GOV/BTNMT/land|VN/GOV/BTNMT/officer07|%%'"
				    " AND why LIKE '70 distinct people read by officer%%'"),
			 1);
}

static void test_incremental(void **state)
{
	struct ndx_sqldb *db = *state;
	int64_t a;

	a = add(db, (struct rd){ .t = T(0, 9, 0), .client = "VN/GOV/BTC/TCT",
				 .user_id = "VN/GOV/BTC/officer02" });
	assert_int_equal(analyse(db), 1);
	assert_int_equal(analyse(db), 0);
	assert_int_equal(flagged(db, MISUSE_NO_EXPLANATION, a), 1);
	/* a window counted over two rounds: 40 then 40 more in the same hour
	 * make one bulk finding, and 10 more later in it nothing new */
	batch(db, "VN/GOV/BYT/health", "insurance-check", T(0, 10, 0), 40, 0);
	assert_int_equal(analyse(db), 0);
	batch(db, "VN/GOV/BYT/health", "insurance-check", T(0, 10, 1), 40, 100);
	assert_int_equal(analyse(db), 1);
	batch(db, "VN/GOV/BYT/health", "insurance-check", T(0, 10, 2), 10, 200);
	assert_int_equal(analyse(db), 0);
	assert_int_equal(findings(db, MISUSE_BULK), 1);
	assert_int_equal(findings(db, MISUSE_NO_EXPLANATION), 1);
	assert_int_equal(scalar(db, "SELECT v FROM misuse_state WHERE k = 'analysed_read_id'"),
			 scalar(db, "SELECT max(id) FROM reads"));
}

/* 14 weekdays of police residence checks in office hours, 60 a day, of
 * people born in Hà Nội (001) and Vĩnh Phúc (026) */
static void police_history(struct ndx_sqldb *db)
{
	char pin[32];
	int k = 0;

	for (int day = 0; day < 14; day++) {
		if (day % 7 >= 5)
			continue;
		for (int i = 0; i < 60; i++, k++) {
			snprintf(pin, sizeof pin, "%s088%06d", i % 5 ? "001" : "026", k);
			add(db, (struct rd){ .t = T(day, 8, 0) + i * 8 * MIN_MS,
					     .client = "VN/GOV/CAHN/residence", .purpose = "residence",
					     .subjects = pin });
		}
	}
}

static void test_off_hours_and_province(void **state)
{
	struct ndx_sqldb *db = *state;
	int64_t night, night_own, day_read, far, far_proc, near, small_client;

	police_history(db);
	exec(db, "INSERT INTO procedures VALUES ('P9', 'residence-registration',"
		 " '079201000303', 'VN/GOV/CAHN', 1794762000000, NULL)"); /* day 14 */
	/* day 20 is a Sunday */
	night = add(db, (struct rd){ .t = T(20, 3, 0), .client = "VN/GOV/CAHN/residence",
				     .purpose = "residence", .subjects = "001088999001" });
	night_own = add(db, (struct rd){ .t = T(20, 3, 5), .client = "VN/GOV/CAHN/residence",
					 .purpose = "residence", .own = 1,
					 .subjects = "001088999002" });
	day_read = add(db, (struct rd){ .t = T(15, 10, 0), .client = "VN/GOV/CAHN/residence",
					.purpose = "residence", .subjects = "001088999003" });
	far = add(db, (struct rd){ .t = T(15, 10, 5), .client = "VN/GOV/CAHN/residence",
				   .purpose = "residence", .subjects = "079201000303" });
	far_proc = add(db, (struct rd){ .t = T(15, 10, 6), .client = "VN/GOV/CAHN/residence",
					.issue = "residence-registration/P9",
					.subjects = "079201000303" });
	near = add(db, (struct rd){ .t = T(15, 10, 7), .client = "VN/GOV/CAHN/residence",
				    .purpose = "residence", .subjects = "026088999004" });
	/* too little history: neither rule looks at it */
	small_client = add(db, (struct rd){ .t = T(20, 3, 0), .client = "VN/GOV/BHXH/insurance",
					    .purpose = "contribution-check",
					    .subjects = "079201000404" });
	analyse(db);
	assert_int_equal(how(db, far_proc), 'p');
	assert_int_equal(flagged(db, MISUSE_OFF_HOURS, night), 1);
	assert_int_equal(flagged(db, MISUSE_OFF_HOURS, night_own), 0);
	assert_int_equal(flagged(db, MISUSE_OFF_HOURS, day_read), 0);
	assert_int_equal(flagged(db, MISUSE_OFF_HOURS, small_client), 0);
	assert_int_equal(scalar(db, "SELECT count(*) FROM findings WHERE kind = 'off-hours'"
				    " AND why LIKE '%%Sunday 03:00%%'"),
			 1);
	assert_int_equal(flagged(db, MISUSE_PROVINCE, far), 1);
	assert_int_equal(flagged(db, MISUSE_PROVINCE, far_proc), 0);
	assert_int_equal(flagged(db, MISUSE_PROVINCE, near), 0);
	assert_int_equal(flagged(db, MISUSE_PROVINCE, day_read), 0);
	assert_int_equal(flagged(db, MISUSE_PROVINCE, small_client), 0);
	assert_int_equal(scalar(db, "SELECT count(*) FROM findings WHERE kind = '%s'"
				    " AND why LIKE '%%079 (TP Hồ Chí Minh)%%'",
				MISUSE_PROVINCE),
			 1);
}

static void test_repeated(void **state)
{
	struct ndx_sqldb *db = *state;
	const char *celeb = "001075123456", *other = "001075654321";
	int64_t a, b, c, d, e, f;

	a = add(db, (struct rd){ .t = T(1, 9, 0), .client = "VN/GOV/BTC/TCT",
				 .purpose = "tax-periodic-check", .subjects = celeb });
	b = add(db, (struct rd){ .t = T(1, 11, 0), .client = "VN/GOV/BHXH/insurance",
				 .purpose = "contribution-check", .subjects = celeb });
	c = add(db, (struct rd){ .t = T(1, 15, 0), .client = "VN/GOV/BYT/health",
				 .purpose = "insurance-check", .subjects = celeb });
	/* twin: two agencies under mandates and a third through a procedure */
	d = add(db, (struct rd){ .t = T(1, 9, 0), .client = "VN/GOV/BTC/TCT",
				 .purpose = "tax-periodic-check", .subjects = other });
	e = add(db, (struct rd){ .t = T(1, 11, 0), .client = "VN/GOV/BHXH/insurance",
				 .purpose = "contribution-check", .subjects = other });
	f = add(db, (struct rd){ .t = T(1, 12, 0), .client = "VN/GOV/VPCP/portal",
				 .own = 1, .subjects = other });
	analyse(db);
	assert_int_equal(flagged(db, MISUSE_REPEATED, a), 1);
	assert_int_equal(flagged(db, MISUSE_REPEATED, b), 1);
	assert_int_equal(flagged(db, MISUSE_REPEATED, c), 1);
	assert_int_equal(flagged(db, MISUSE_REPEATED, d) + flagged(db, MISUSE_REPEATED, e) +
				 flagged(db, MISUSE_REPEATED, f),
			 0);
	assert_int_equal(scalar(db, "SELECT count(*) FROM findings WHERE kind = '%s'"
				    " AND subject = '%s' AND why LIKE '%%by 3 agencies%%'",
				MISUSE_REPEATED, celeb),
			 1);
}

static void test_probing_and_replay(void **state)
{
	struct ndx_sqldb *db = *state;
	char pin[32];
	int64_t served, replayed, stale, probe, few;

	for (int i = 0; i < 30; i++) {
		snprintf(pin, sizeof pin, "001088%06d", i);
		probe = add(db, (struct rd){ .t = T(2, 14, 0) + i * MIN_MS, .client = "VN/GOV/BTNMT/land",
					     .status = 500, .error_type = DENIED, .subjects = pin });
	}
	for (int i = 0; i < 10; i++)
		few = add(db, (struct rd){ .t = T(2, 14, 0) + i * MIN_MS, .client = "VN/GOV/BTC/TCT",
					   .status = 500, .error_type = DENIED });
	served = add(db, (struct rd){ .t = T(2, 9, 0), .client = "VN/GOV/BYT/health",
				      .consent = 1, .message_id = "msg-77" });
	replayed = add(db, (struct rd){ .t = T(2, 9, 3), .client = "VN/GOV/BYT/health",
					.consent = 1, .message_id = "msg-77", .status = 500,
					.error_type = INVALID });
	stale = add(db, (struct rd){ .t = T(2, 9, 4), .client = "VN/GOV/BYT/health",
				     .consent = 1, .message_id = "msg-78", .status = 500,
				     .error_type = INVALID });
	analyse(db);
	assert_int_equal(flagged(db, MISUSE_PROBING, probe), 1);
	assert_int_equal(flagged(db, MISUSE_PROBING, few), 0);
	assert_int_equal(scalar(db, "SELECT count(*) FROM findings WHERE kind = 'probing'"
				    " AND why LIKE '30 refused%%'"),
			 1);
	assert_int_equal(flagged(db, MISUSE_REPLAY, replayed), 1);
	assert_int_equal(flagged(db, MISUSE_REPLAY, stale), 0);
	assert_int_equal(flagged(db, MISUSE_REPLAY, served), 0);
	assert_int_equal(scalar(db, "SELECT count(*) FROM findings WHERE kind = 'replay'"
				    " AND why LIKE '%%of read %" PRId64 " %%'",
				served),
			 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_explanations, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bulk_and_dismissal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_incremental, setup, teardown),
		cmocka_unit_test_setup_teardown(test_off_hours_and_province, setup, teardown),
		cmocka_unit_test_setup_teardown(test_repeated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_probing_and_replay, setup, teardown),
	};
	const char *engine = getenv("NDX_TEST_ENGINE");

	if (engine && strcmp(engine, "pg") == 0) {
		pg_base = getenv("NDX_TEST_PG");
		if (!pg_base || !pg_base[0]) {
			printf("NDX_TEST_PG is not set: the PostgreSQL run of the misuse detector's"
			       " tests is skipped (run it with make test-pg)\n");
			return 77;
		}
		return cmocka_run_group_tests_name("misuse_pg", tests, NULL, NULL);
	}
	return cmocka_run_group_tests_name("misuse_sqlite", tests, NULL, NULL);
}
