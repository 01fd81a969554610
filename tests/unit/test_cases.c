/* The monitoring service's misuse cases (src/monitor/cases.c) and their
 * inputs (src/monitor/mreads.c) on a real monitor.db: personal reads kept
 * once with their subjects and malformed ones refused; one case per
 * finding, opened once; the triage state machine and its refusals, a
 * dismissal marking the finding; the citizen's view only of confirmed
 * cases and only of their own reads; a citizen's report idempotent and
 * refused for a read that is not theirs; the evidence's retries;
 * procedures and mandates checked. The detector itself is M2's
 * (test_misuse.c): findings are written here as it writes them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cases.h"
#include "misuse.h"
#include "mreads.h"
#include "mstore.h"
#include "mstore_fixture.h"
#include "ndx/err.h"

#define NOW 1780000000000LL /* ms */
#define GW "VN/GOV/BCA/gw1"
#define OFFICER "VN/GOV/MOF/tax"
#define SERVICE "VN/GOV/BCA/population/citizens"
#define PIN_A "001088012345"
#define PIN_B "079190000001"
#define PIN_C "001200000002"

static int setup(void **state)
{
	return mstore_fixture_setup(state, "test_cases");
}

static int teardown(void **state)
{
	return mstore_fixture_teardown(state);
}

/* An access as a gateway's /o1/.../accesses sends it. */
static json_t *access_(long long seq, const char *msg, long long t, const char *s1,
		       const char *s2)
{
	json_t *subjects = s2 ? json_pack("[s s]", s1, s2) : json_pack("[s]", s1);

	return json_pack("{s:I s:I s:s s:s s:s s:s s:s s:i s:n s:o s:s s:s s:b s:b s:b}",
			 "seq", seq, "time_ms", t, "message_id", msg, "client", OFFICER,
			 "service", SERVICE, "method", "GET", "purpose", "tax-check", "status",
			 200, "error_type", "subjects", subjects, "user_id", "officer-7", "issue",
			 "", "own", 0, "event", 0, "consent", 0);
}

static void add(struct fx *f, json_t *page, int64_t next_after, size_t want_added,
		size_t want_bad)
{
	size_t added = 99, bad = 99;

	assert_int_equal(mreads_add_page(f->st, GW, page, next_after, NOW, &added, &bad), NDX_OK);
	assert_int_equal(added, want_added);
	assert_int_equal(bad, want_bad);
	json_decref(page);
}

/* The first column of the statement's first row, -1 without one. */
static long long scalar(struct fx *f, const char *sql)
{
	struct ndx_sqldb *db = mstore_lock(f->st);
	json_t *row = NULL;
	long long v = -1;
	int rc = ndx_sqldb_query_one(db, &row, sql, "");

	mstore_unlock(f->st);
	assert_true(rc == NDX_OK || rc == NDX_ENOTFOUND);
	if (rc == NDX_OK)
		v = (long long)json_integer_value(json_object_iter_value(json_object_iter(row)));
	json_decref(row);
	return v;
}

static void exec(struct fx *f, const char *sql)
{
	struct ndx_sqldb *db = mstore_lock(f->st);

	assert_int_equal(ndx_sqldb_exec(db, sql, ""), NDX_OK);
	mstore_unlock(f->st);
}

/* Three reads: seq 1 of A, seq 2 of A and B (a bulk answer), seq 3 of C. */
static void three_reads(struct fx *f)
{
	add(f, json_pack("[o o o]", access_(1, "m1", NOW - 3000, PIN_A, NULL),
			 access_(2, "m2", NOW - 2000, PIN_A, PIN_B),
			 access_(3, "m3", NOW - 1000, PIN_C, NULL)),
	    10, 3, 0);
}

/* A finding over the given reads, as the detector writes one. */
static void finding(struct fx *f, const char *key, const char *reads_sql)
{
	char sql[1024];

	snprintf(sql, sizeof sql,
		 "INSERT INTO findings(kind, key, client, user_id, subject, from_ms, to_ms, why,"
		 " created_ms) VALUES('no-explanation', '%s', '" OFFICER "', 'officer-7', '',"
		 " 0, 0, 'no procedure, consent or mandate explains these reads', 1)", key);
	exec(f, sql);
	snprintf(sql, sizeof sql,
		 "INSERT INTO finding_reads(finding_id, read_id) SELECT (SELECT id FROM findings"
		 " WHERE key = '%s'), id FROM reads WHERE %s", key, reads_sql);
	exec(f, sql);
}

static void test_reads_kept_once_malformed_refused(void **state)
{
	struct fx *f = *state;
	json_t *bad_pin = access_(4, "m4", NOW, "123", NULL);
	json_t *future = access_(5, "m5", NOW + 3600 * 1000, PIN_A, NULL);
	json_t *no_client = access_(6, "m6", NOW, PIN_A, NULL);
	json_t *bad_own = access_(7, "m7", NOW, PIN_A, NULL);
	uint64_t after = 0;

	three_reads(f);
	assert_int_equal(scalar(f, "SELECT COUNT(*) FROM read_subjects"), 4);
	assert_int_equal(scalar(f, "SELECT COUNT(*) FROM reads WHERE client_member ="
				   " 'VN/GOV/MOF'"), 3);
	/* the same page again (a crash between fetch and commit) adds nothing */
	add(f, json_pack("[o o]", access_(1, "m1", NOW - 3000, PIN_A, NULL),
			 access_(2, "m2", NOW - 2000, PIN_A, PIN_B)),
	    0, 0, 0);
	json_object_set_new(no_client, "client", json_string("not an id"));
	json_object_set_new(bad_own, "own", json_string("yes"));
	add(f, json_pack("[o o o o o]", bad_pin, future, no_client, bad_own,
			 access_(8, "m8", NOW, PIN_B, NULL)),
	    8, 1, 4);
	assert_int_equal(scalar(f, "SELECT COUNT(*) FROM reads"), 4);
	/* the cursor: next_after (the highest seq scanned), never backwards */
	assert_int_equal(mreads_cursor(f->st, GW, &after), NDX_OK);
	assert_int_equal(after, 10);
	add(f, json_array(), 12, 0, 0);
	assert_int_equal(mreads_cursor(f->st, GW, &after), NDX_OK);
	assert_int_equal(after, 12);
	add(f, json_array(), 3, 0, 0);
	assert_int_equal(mreads_cursor(f->st, GW, &after), NDX_OK);
	assert_int_equal(after, 12);
	assert_int_equal(mreads_cursor(f->st, "VN/GOV/BHXH/gw1", &after), NDX_OK);
	assert_int_equal(after, 0);
}

static void test_one_case_per_finding(void **state)
{
	struct fx *f = *state;
	unsigned opened = 99;
	json_t *list = NULL, *c;

	three_reads(f);
	finding(f, "k1", "seq IN (1, 2)");
	assert_int_equal(cases_open_new(f->st, NOW, &opened), NDX_OK);
	assert_int_equal(opened, 1);
	assert_int_equal(cases_open_new(f->st, NOW, &opened), NDX_OK);
	assert_int_equal(opened, 0);
	struct cases_filter flt = { .limit = 10 };
	assert_int_equal(cases_list(f->st, &flt, &list), NDX_OK);
	assert_int_equal(json_array_size(json_object_get(list, "cases")), 1);
	c = json_array_get(json_object_get(list, "cases"), 0);
	assert_string_equal(json_string_value(json_object_get(c, "state")), "open");
	assert_string_equal(json_string_value(json_object_get(c, "client_member")), "VN/GOV/MOF");
	assert_int_equal(json_integer_value(json_object_get(c, "reads")), 2);
	assert_string_equal(json_string_value(json_object_get(c, "why")),
			    "no procedure, consent or mandate explains these reads");
	json_decref(list);
	/* another member's filter sees nothing */
	flt.member = "VN/GOV/BCA";
	assert_int_equal(cases_list(f->st, &flt, &list), NDX_OK);
	assert_int_equal(json_array_size(json_object_get(list, "cases")), 0);
	json_decref(list);
	/* evidence: one row per read, both still to fetch */
	assert_int_equal(scalar(f, "SELECT COUNT(*) FROM case_evidence WHERE done = 0"), 2);
}

static void test_triage_state_machine(void **state)
{
	struct fx *f = *state;
	const char *why = NULL;
	json_t *c = NULL, *list = NULL;

	three_reads(f);
	finding(f, "k1", "seq = 1");
	finding(f, "k2", "seq = 3");
	assert_int_equal(cases_open_new(f->st, NOW, NULL), NDX_OK);
	/* refusals of the request itself */
	assert_int_equal(cases_triage(f->st, 1, "close", "x", "op", NOW, &why), NDX_EINVAL);
	assert_non_null(strstr(why, "action"));
	assert_int_equal(cases_triage(f->st, 1, "confirm", NULL, "", NOW, &why), NDX_EINVAL);
	assert_non_null(strstr(why, "actor"));
	assert_int_equal(cases_triage(f->st, 1, "dismiss", "", "op", NOW, &why), NDX_EINVAL);
	assert_non_null(strstr(why, "reason"));
	assert_int_equal(cases_triage(f->st, 1, "dismiss", NULL, "op", NOW, &why), NDX_EINVAL);
	assert_int_equal(cases_triage(f->st, 99, "confirm", NULL, "op", NOW, &why), NDX_ENOTFOUND);
	/* open -> escalated -> (escalate again refused) -> dismissed -> final */
	assert_int_equal(cases_triage(f->st, 1, "escalate", NULL, "op", NOW + 1, &why), NDX_OK);
	assert_int_equal(cases_triage(f->st, 1, "escalate", NULL, "op", NOW + 2, &why), NDX_EPERM);
	assert_int_equal(scalar(f, "SELECT dismissed FROM findings WHERE key = 'k1'"), 0);
	assert_int_equal(cases_triage(f->st, 1, "dismiss", "a known audit", "op", NOW + 3, &why),
			 NDX_OK);
	assert_int_equal(scalar(f, "SELECT dismissed FROM findings WHERE key = 'k1'"), 1);
	assert_int_equal(cases_triage(f->st, 1, "confirm", NULL, "op", NOW + 4, &why), NDX_EPERM);
	assert_non_null(strstr(why, "final"));
	assert_int_equal(cases_triage(f->st, 1, "escalate", NULL, "op", NOW + 4, &why), NDX_EPERM);
	/* a dismissed finding is not reopened */
	assert_int_equal(cases_open_new(f->st, NOW + 5, NULL), NDX_OK);
	assert_int_equal(scalar(f, "SELECT COUNT(*) FROM cases"), 2);
	/* confirmed is final too */
	assert_int_equal(cases_triage(f->st, 2, "confirm", "seen the log", "op", NOW, &why), NDX_OK);
	assert_int_equal(cases_triage(f->st, 2, "dismiss", "oops", "op", NOW, &why), NDX_EPERM);
	assert_int_equal(scalar(f, "SELECT dismissed FROM findings WHERE key = 'k2'"), 0);
	/* the history: every step that was taken, none that was refused */
	assert_int_equal(cases_get(f->st, 1, &c), NDX_OK);
	assert_string_equal(json_string_value(json_object_get(c, "state")), "dismissed");
	assert_int_equal(json_array_size(json_object_get(c, "history")), 3);
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(json_object_get(c, "history"), 2), "reason")),
			    "a known audit");
	assert_int_equal(json_integer_value(json_object_get(c, "updated_ms")), NOW + 3);
	json_decref(c);
	assert_int_equal(cases_get(f->st, 3, &c), NDX_ENOTFOUND);
	/* the default list: open and escalated only */
	struct cases_filter flt = { .limit = 10 };
	assert_int_equal(cases_list(f->st, &flt, &list), NDX_OK);
	assert_int_equal(json_array_size(json_object_get(list, "cases")), 0);
	json_decref(list);
	flt.state = "all";
	assert_int_equal(cases_list(f->st, &flt, &list), NDX_OK);
	assert_int_equal(json_array_size(json_object_get(list, "cases")), 2);
	/* newest first */
	assert_int_equal(json_integer_value(json_object_get(
				 json_array_get(json_object_get(list, "cases"), 0), "id")), 2);
	json_decref(list);
}

/* The configuration's names, as the monitoring service's collector gives them. */
static void name_them(void *ctx, const char *member, const char *service, char *member_name,
		      size_t mcap, char *service_title, size_t scap)
{
	(void)ctx;
	snprintf(member_name, mcap, "%s", strcmp(member, "VN/GOV/MOF") == 0 ? "Bộ Tài chính" : member);
	snprintf(service_title, scap, "%s", service);
}

static void test_subject_sees_only_confirmed_and_own(void **state)
{
	struct fx *f = *state;
	const char *why;
	json_t *list = NULL, *c, *reads;
	char *text;

	three_reads(f);
	finding(f, "bulk", "seq IN (1, 2)"); /* A twice, B once */
	finding(f, "other", "seq = 3");      /* C, stays open */
	assert_int_equal(cases_open_new(f->st, NOW, NULL), NDX_OK);
	/* open: nobody sees it yet */
	assert_int_equal(cases_subject(f->st, PIN_A, NULL, NULL, &list), NDX_OK);
	assert_int_equal(json_array_size(list), 0);
	json_decref(list);
	assert_int_equal(cases_triage(f->st, 1, "confirm", NULL, "op", NOW + 7, &why), NDX_OK);
	assert_int_equal(cases_subject(f->st, PIN_A, NULL, NULL, &list), NDX_OK);
	assert_int_equal(json_array_size(list), 1);
	c = json_array_get(list, 0);
	assert_int_equal(json_integer_value(json_object_get(c, "confirmed_ms")), NOW + 7);
	assert_string_equal(json_string_value(json_object_get(c, "service")), SERVICE);
	reads = json_object_get(c, "reads");
	assert_int_equal(json_array_size(reads), 2);
	assert_non_null(strstr(json_string_value(json_object_get(c, "explanation")), "VN/GOV/MOF"));
	assert_non_null(json_string_value(json_object_get(c, "explanation_en")));
	/* no other person's number, no officer id, no proof */
	text = json_dumps(list, 0);
	assert_null(strstr(text, PIN_B));
	assert_null(strstr(text, "officer-7"));
	assert_null(strstr(text, "proof"));
	free(text);
	json_decref(list);
	/* with the configuration's names: the agency and the service as
	 * people know them, not their ids */
	assert_int_equal(cases_subject(f->st, PIN_A, name_them, NULL, &list), NDX_OK);
	c = json_array_get(list, 0);
	assert_non_null(strstr(json_string_value(json_object_get(c, "explanation")), "Bộ Tài chính"));
	assert_non_null(strstr(json_string_value(json_object_get(c, "explanation_en")), "Bộ Tài chính"));
	assert_null(strstr(json_string_value(json_object_get(c, "explanation")), "VN/GOV/MOF"));
	assert_string_equal(json_string_value(json_object_get(c, "client_member")), "VN/GOV/MOF");
	json_decref(list);
	/* B: the one read that concerns B */
	assert_int_equal(cases_subject(f->st, PIN_B, NULL, NULL, &list), NDX_OK);
	assert_int_equal(json_array_size(list), 1);
	assert_int_equal(json_array_size(json_object_get(json_array_get(list, 0), "reads")), 1);
	text = json_dumps(list, 0);
	assert_null(strstr(text, PIN_A));
	free(text);
	json_decref(list);
	/* C: their case is open, not confirmed */
	assert_int_equal(cases_subject(f->st, PIN_C, NULL, NULL, &list), NDX_OK);
	assert_int_equal(json_array_size(list), 0);
	json_decref(list);
}

static void test_report_idempotent_and_only_own_reads(void **state)
{
	struct fx *f = *state;
	int64_t id = 0, again = 0;
	bool created = false;
	json_t *c = NULL;

	three_reads(f);
	assert_int_equal(cases_report(f->st, PIN_B, GW, 2, NULL, "I never asked the tax office",
				      NOW, &id, &created), NDX_OK);
	assert_true(created);
	assert_true(id > 0);
	assert_int_equal(cases_report(f->st, PIN_B, GW, 2, NULL, "again", NOW, &again, &created),
			 NDX_OK);
	assert_false(created);
	assert_int_equal(again, id);
	/* by message id: the same read, the same case */
	assert_int_equal(cases_report(f->st, PIN_A, GW, 0, "m2", NULL, NOW, &again, &created),
			 NDX_OK);
	assert_false(created);
	assert_int_equal(again, id);
	assert_int_equal(scalar(f, "SELECT COUNT(*) FROM cases"), 1);
	/* a read that does not concern the reporter, or does not exist */
	assert_int_equal(cases_report(f->st, PIN_C, GW, 2, NULL, NULL, NOW, &again, &created),
			 NDX_ENOTFOUND);
	assert_int_equal(cases_report(f->st, PIN_A, GW, 9, NULL, NULL, NOW, &again, &created),
			 NDX_ENOTFOUND);
	assert_int_equal(cases_report(f->st, PIN_A, "VN/GOV/BHXH/gw1", 1, NULL, NULL, NOW, &again,
				      &created), NDX_ENOTFOUND);
	assert_int_equal(cases_report(f->st, PIN_A, GW, 0, "nope", NULL, NOW, &again, &created),
			 NDX_ENOTFOUND);
	assert_int_equal(scalar(f, "SELECT COUNT(*) FROM cases"), 1);
	/* the case: kind citizen-report, the note in its history, one read to prove */
	assert_int_equal(cases_get(f->st, id, &c), NDX_OK);
	assert_string_equal(json_string_value(json_object_get(c, "kind")), MISUSE_CITIZEN_REPORT);
	assert_string_equal(json_string_value(json_object_get(c, "state")), "open");
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(json_object_get(c, "history"), 0), "reason")),
			    "I never asked the tax office");
	assert_int_equal(json_array_size(json_object_get(c, "evidence")), 1);
	json_decref(c);
	/* the detector's next pass does not open a second case for it */
	assert_int_equal(cases_open_new(f->st, NOW, NULL), NDX_OK);
	assert_int_equal(scalar(f, "SELECT COUNT(*) FROM cases"), 1);
}

static void test_evidence_retries_and_proofs(void **state)
{
	struct fx *f = *state;
	json_t *todo = NULL, *c = NULL, *ev;

	three_reads(f);
	finding(f, "k", "seq IN (1, 2)");
	assert_int_equal(cases_open_new(f->st, NOW, NULL), NDX_OK);
	assert_int_equal(cases_evidence_pending(f->st, 10, &todo), NDX_OK);
	assert_int_equal(json_array_size(todo), 2);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(todo, 0), "seq")), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(todo, 0),
							      "message_id")), "m1");
	json_decref(todo);
	/* not ready: kept pending with the error; then the proof */
	assert_int_equal(cases_evidence_set(f->st, 1, 1, NULL, NULL, "500 ProofNotReady", false,
					    NOW), NDX_OK);
	assert_int_equal(cases_evidence_pending(f->st, 10, &todo), NDX_OK);
	assert_int_equal(json_array_size(todo), 2);
	json_decref(todo);
	assert_int_equal(cases_evidence_set(f->st, 1, 1, "{\"format\":\"ndx-log-proof/3\"}",
					    "-----BEGIN PUBLIC KEY-----\n", NULL, false, NOW + 1),
			 NDX_OK);
	/* not found: final */
	assert_int_equal(cases_evidence_set(f->st, 1, 2, NULL, NULL, "500 ProofNotFound", true,
					    NOW), NDX_OK);
	assert_int_equal(cases_evidence_pending(f->st, 10, &todo), NDX_OK);
	assert_int_equal(json_array_size(todo), 0);
	json_decref(todo);
	assert_int_equal(cases_get(f->st, 1, &c), NDX_OK);
	ev = json_array_get(json_object_get(c, "evidence"), 0);
	assert_string_equal(json_string_value(json_object_get(json_object_get(ev, "proof"),
							      "format")), "ndx-log-proof/3");
	assert_true(json_is_null(json_object_get(ev, "proof_error")));
	assert_string_equal(json_string_value(json_object_get(ev, "gateway_key")),
			    "-----BEGIN PUBLIC KEY-----\n");
	assert_int_equal(json_array_size(json_object_get(ev, "subjects")), 1);
	ev = json_array_get(json_object_get(c, "evidence"), 1);
	assert_true(json_is_null(json_object_get(ev, "proof")));
	assert_string_equal(json_string_value(json_object_get(ev, "proof_error")),
			    "500 ProofNotFound");
	assert_int_equal(json_array_size(json_object_get(ev, "subjects")), 2);
	/* one gateway, one key: the case's too */
	assert_string_equal(json_string_value(json_object_get(c, "gateway_key")),
			    "-----BEGIN PUBLIC KEY-----\n");
	json_decref(c);
	/* a passing error is given up after CASES_PROOF_ATTEMPTS */
	finding(f, "k3", "seq = 3");
	assert_int_equal(cases_open_new(f->st, NOW, NULL), NDX_OK);
	for (int i = 0; i < CASES_PROOF_ATTEMPTS; i++)
		assert_int_equal(cases_evidence_set(f->st, 2, 3, NULL, NULL, "down", false, NOW),
				 NDX_OK);
	assert_int_equal(cases_evidence_pending(f->st, 10, &todo), NDX_OK);
	assert_int_equal(json_array_size(todo), 0);
	json_decref(todo);
}

static void count_cb(void *ctx, const char *kind, const char *state, uint64_t n)
{
	uint64_t *sum = ctx;

	if (strcmp(kind, MISUSE_NO_EXPLANATION) == 0 && strcmp(state, "open") == 0)
		sum[0] = n;
	if (strcmp(state, "escalated") == 0)
		sum[1] += n;
	sum[2]++;
}

static void test_open_counts(void **state)
{
	struct fx *f = *state;
	uint64_t sum[3] = { 0 };
	const char *why;

	three_reads(f);
	finding(f, "a", "seq = 1");
	finding(f, "b", "seq = 2");
	finding(f, "c", "seq = 3");
	assert_int_equal(cases_open_new(f->st, NOW, NULL), NDX_OK);
	assert_int_equal(cases_triage(f->st, 2, "escalate", NULL, "op", NOW, &why), NDX_OK);
	assert_int_equal(cases_triage(f->st, 3, "confirm", NULL, "op", NOW, &why), NDX_OK);
	assert_int_equal(cases_open_counts(f->st, count_cb, sum), NDX_OK);
	assert_int_equal(sum[0], 1);
	assert_int_equal(sum[1], 1);
	assert_int_equal(sum[2], 16); /* every kind, both states, zeros included */
}

static json_t *proc(const char *id, const char *subject, const char *agency, long long opened,
		    json_t *closed)
{
	return json_pack("{s:s s:s s:s s:s s:I s:o}", "id", id, "kind", "birth-registration",
			 "subject", subject, "agency", agency, "opened_ms", opened, "closed_ms",
			 closed);
}

static void test_procedures_checked_and_upserted(void **state)
{
	struct fx *f = *state;
	json_t *p;

	p = proc("p1", "12345", "VN/GOV/BCA", NOW, json_null());
	assert_non_null(strstr(mreads_procedure_refusal(p, NOW), "subject"));
	json_decref(p);
	p = proc("p1", PIN_A, "VN/GOV/BCA/x", NOW, json_null());
	assert_non_null(strstr(mreads_procedure_refusal(p, NOW), "agency"));
	json_decref(p);
	p = proc("p1", PIN_A, "VN/GOV/BCA", NOW + 3600 * 1000, json_null());
	assert_non_null(strstr(mreads_procedure_refusal(p, NOW), "opened_ms"));
	json_decref(p);
	p = proc("p1", PIN_A, "VN/GOV/BCA", NOW, json_integer(NOW - 1));
	assert_non_null(strstr(mreads_procedure_refusal(p, NOW), "closed_ms"));
	json_decref(p);
	p = proc("", PIN_A, "VN/GOV/BCA", NOW, json_null());
	assert_non_null(strstr(mreads_procedure_refusal(p, NOW), "id"));
	json_decref(p);
	/* one bad procedure: none kept */
	p = json_pack("[o o]", proc("p1", PIN_A, "VN/GOV/BCA", NOW, json_null()),
		      proc("p2", "x", "VN/GOV/BCA", NOW, json_null()));
	assert_int_equal(mreads_procedures_upsert(f->st, p, NOW), NDX_EINVAL);
	json_decref(p);
	assert_int_equal(scalar(f, "SELECT COUNT(*) FROM procedures"), 0);
	p = json_pack("[o]", proc("p1", PIN_A, "VN/GOV/BCA", NOW - 10, json_null()));
	assert_int_equal(mreads_procedures_upsert(f->st, p, NOW), NDX_OK);
	assert_int_equal(mreads_procedures_upsert(f->st, p, NOW), NDX_OK);
	json_decref(p);
	assert_int_equal(scalar(f, "SELECT COUNT(*) FROM procedures WHERE closed_ms IS NULL"), 1);
	/* changed: closed */
	p = json_pack("[o]", proc("p1", PIN_A, "VN/GOV/BCA", NOW - 10, json_integer(NOW)));
	assert_int_equal(mreads_procedures_upsert(f->st, p, NOW), NDX_OK);
	json_decref(p);
	assert_int_equal(scalar(f, "SELECT COUNT(*) FROM procedures"), 1);
	assert_int_equal(scalar(f, "SELECT closed_ms FROM procedures"), NOW);
}

static void test_mandates(void **state)
{
	struct fx *f = *state;
	const char *why = NULL;
	int64_t id = 0, id2 = 0;
	json_t *list = NULL;

	assert_int_equal(mreads_mandate_add(f->st, "not an id", SERVICE, "tax-check", "law", NOW,
					    &id, &why), NDX_EINVAL);
	assert_non_null(strstr(why, "client"));
	assert_int_equal(mreads_mandate_add(f->st, OFFICER, "VN/GOV/BCA", "tax-check", "law", NOW,
					    &id, &why), NDX_EINVAL);
	assert_non_null(strstr(why, "service"));
	assert_int_equal(mreads_mandate_add(f->st, OFFICER, SERVICE, "tax-check", "", NOW, &id,
					    &why), NDX_EINVAL);
	assert_non_null(strstr(why, "basis"));
	assert_int_equal(mreads_mandate_add(f->st, OFFICER, SERVICE, "tax-check",
					    "Luật Quản lý thuế", NOW, &id, &why), NDX_OK);
	assert_int_equal(mreads_mandate_add(f->st, OFFICER, SERVICE, "tax-check", "again", NOW,
					    &id2, &why), NDX_EEXIST);
	assert_int_equal(mreads_mandates(f->st, &list), NDX_OK);
	assert_int_equal(json_array_size(json_object_get(list, "mandates")), 1);
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(json_object_get(list, "mandates"), 0), "basis")),
			    "Luật Quản lý thuế");
	json_decref(list);
	assert_int_equal(mreads_mandate_remove(f->st, id), NDX_OK);
	assert_int_equal(mreads_mandate_remove(f->st, id), NDX_ENOTFOUND);
}

static void test_prune_keeps_finding_reads(void **state)
{
	struct fx *f = *state;
	uint64_t n = 0;

	three_reads(f);
	finding(f, "k", "seq = 1");
	/* everything is older than the cutoff: seq 1 stays (a finding's),
	 * seq 3 stays (the newest: its id must not be given again) */
	assert_int_equal(mreads_prune(f->st, NOW, &n), NDX_OK);
	assert_int_equal(n, 1);
	assert_int_equal(scalar(f, "SELECT COUNT(*) FROM reads WHERE seq IN (1, 3)"), 2);
	assert_int_equal(scalar(f, "SELECT COUNT(*) FROM read_subjects"), 2);
}

/* The detector on the store's handle (as the collector runs it): the
 * unexplained reads make a finding, the finding a case; a second run
 * finds nothing new. */
static void test_detector_on_the_store(void **state)
{
	struct fx *f = *state;
	struct misuse_options o;
	struct ndx_sqldb *db;
	unsigned found = 0, again = 9, opened = 0;

	three_reads(f);
	misuse_options_default(&o);
	db = mstore_lock(f->st);
	assert_int_equal(misuse_analyse(db, &o, &found), NDX_OK);
	assert_int_equal(misuse_analyse(db, &o, &again), NDX_OK);
	mstore_unlock(f->st);
	assert_true(found >= 1);
	assert_int_equal(again, 0);
	assert_true(scalar(f, "SELECT count(*) FROM findings WHERE kind = 'no-explanation'") >= 1);
	assert_int_equal(scalar(f, "SELECT count(*) FROM explanations"), 0);
	assert_int_equal(cases_open_new(f->st, NOW, &opened), NDX_OK);
	assert_int_equal(opened, found);
	assert_int_equal(scalar(f, "SELECT v FROM misuse_state WHERE k = 'analysed_read_id'"),
			 scalar(f, "SELECT max(id) FROM reads"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_reads_kept_once_malformed_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_one_case_per_finding, setup, teardown),
		cmocka_unit_test_setup_teardown(test_triage_state_machine, setup, teardown),
		cmocka_unit_test_setup_teardown(test_subject_sees_only_confirmed_and_own, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_report_idempotent_and_only_own_reads, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_evidence_retries_and_proofs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_counts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_procedures_checked_and_upserted, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_mandates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prune_keeps_finding_reads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_detector_on_the_store, setup, teardown),
	};
	bool pg;
	int rc = mstore_fixture_engine(&pg);

	if (rc >= 0)
		return rc;
	return cmocka_run_group_tests_name(pg ? "cases_pg" : "cases_sqlite", tests, NULL, NULL);
}
