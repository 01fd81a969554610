/* Unit tests for the portal's store (src/portal/store.h) on both of its
 * engines: opening (and opening again), sessions (idle and age limits),
 * pending e-ID logins used at most once, officers and officials with the
 * administration's audit trail (the last operator kept), procedures
 * (application numbers, the citizen's list and the officers' queue and its
 * filters, transitions and their refusals, decisions and holding, history,
 * working notes, counts), more information asked and answered with
 * attachments (their bytes round tripping, their limit), contacts,
 * notifications and the e-mail outbox, the push to the monitoring service
 * (batches in change order, its cursor never moving back), two nodes on one
 * store (their outbox claims disjoint, a running claim kept and one that
 * ran out taken over; the push's lease held by one, taken over once it ran
 * out), the failed sign-ins the throttle counts, and what was acknowledged
 * surviving SIGKILL.
 *
 * SQLite alone: a file that is not a database, a portal.db as the code
 * before PostgreSQL made it (migrations 1..10, an attachment held as a
 * BLOB, an e-mail in the outbox) opening with its rows and going on at
 * migrations 11 and 12, and another program's database refused.
 *
 * With NDX_TEST_ENGINE=pg (the meson suite pg, make test-pg) every store is
 * a fresh schema of the PostgreSQL database NDX_TEST_PG (tests/with-postgres
 * starts one); the run adds PostgreSQL's own refusals (a password in the
 * connection string, never printed; no server; a schema holding another
 * daemon's store; a schema newer than the program), two portals on one
 * schema, a schema at version 1 brought to version 2, and a server that
 * stops and comes back under an open store.
 * Without NDX_TEST_PG that run is skipped (exit 77). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <jansson.h>
#include <sqlite3.h>

#include "store_engines.h"

#include "ndx/err.h"
#include "portal_db.h"
#include "store.h"

#define NOW ((time_t)1800000000) /* 2027-01-15T08:00:00Z, 15:00 in Vietnam */
#define PIN_A "001099000001"
#define PIN_B "001099000002"
#define PIN_OP "001099000009"
#define HASH_A "$argon2id$v=19$m=8192,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"
#define HASH_B "$argon2id$v=19$m=65536,t=3,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"
#define H(c) c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c
#define BCA "VN/GOV/BCA"
#define NODE_A "node-a:1:0000000a"
#define NODE_B "node-b:2:0000000b"
#define CLAIM 45L /* s, an outbox claim as the mailer takes it */
#define BTC "VN/GOV/BTC"

static int try_open(const char *loc);

static const struct store_engines ENGINES = {
	.name = "portal_store", .what = "portal store", .schema_prefix = 'p',
	.db_file = "portal.db", .holds = "portal", .try_open = try_open, .try_create = try_open,
};

static const struct padmin_actor OPERATOR = {
	.pin = PIN_OP, .name = "Trần Vận Hành", .role = "operator", .member = "VN/GOV/TCT",
};

static struct pstore *new_store(char *loc, size_t cap)
{
	struct pstore *st = NULL;

	new_loc(loc, cap);
	assert_int_equal(pstore_open(loc, &st), NDX_OK);
	return st;
}

static void session(struct psession *s, const char *kind, const char *who, time_t at)
{
	memset(s, 0, sizeof *s);
	snprintf(s->kind, sizeof s->kind, "%s", kind);
	if (strcmp(kind, "citizen") == 0) {
		snprintf(s->subject, sizeof s->subject, "%s", who);
	} else {
		snprintf(s->username, sizeof s->username, "%s", who);
		snprintf(s->agency, sizeof s->agency, BCA);
	}
	snprintf(s->name, sizeof s->name, "Nguyễn Văn A");
	snprintf(s->csrf, sizeof s->csrf, "csrf-%s", who);
	s->created_at = s->last_seen = at;
}

static void officer(struct pofficer *o, const char *user, const char *agency, const char *hash)
{
	memset(o, 0, sizeof *o);
	snprintf(o->username, sizeof o->username, "%s", user);
	snprintf(o->name, sizeof o->name, "Cán bộ %s", user);
	snprintf(o->agency, sizeof o->agency, "%s", agency);
	snprintf(o->password_hash, sizeof o->password_hash, "%s", hash);
}

static void official(struct pofficial *o, const char *pin, const char *role, const char *member)
{
	memset(o, 0, sizeof *o);
	snprintf(o->pin, sizeof o->pin, "%s", pin);
	snprintf(o->name, sizeof o->name, "Quan chức %s", pin);
	snprintf(o->role, sizeof o->role, "%s", role);
	snprintf(o->member, sizeof o->member, "%s", member);
}

/* Files procedure id of kind for subject with agency at `at`. */
static void file_proc(struct pstore *st, const char *id, const char *kind, const char *subject,
		      const char *agency, const char *state, time_t at)
{
	json_t *fields = json_pack("{s:s}", "address", "5 Tràng Thi");
	char actor[64];
	struct pproc_new p = {
		.id = id, .kind = kind, .subject = subject, .applicant_name = "Nguyễn Văn A",
		.agency = agency, .actor = actor, .fields = fields, .state = state,
	};

	snprintf(actor, sizeof actor, "citizen:%s", subject);
	assert_int_equal(pstore_proc_insert(st, &p, at), NDX_OK);
	json_decref(fields);
}

static const char *sget(const json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));

	assert_non_null(v);
	return v;
}

/* The ids of {"procedures":[…]}, comma-separated, into out. */
static const char *ids(json_t *list, char *out, size_t cap)
{
	json_t *p;
	size_t i, at = 0;

	out[0] = '\0';
	json_array_foreach(json_object_get(list, "procedures"), i, p)
		at += (size_t)snprintf(out + at, cap - at, "%s%s", i ? "," : "", sget(p, "id"));
	json_decref(list);
	return out;
}

/* ---- tests for both engines ------------------------------------------------- */

static void test_open_again(void **state)
{
	char loc[600];
	struct pstore *st = new_store(loc, sizeof loc);

	(void)state;
	assert_non_null(strstr(pstore_name(st), pg_base ? "postgresql://" : "portal.db"));
	file_proc(st, "p1", "residence-change", PIN_A, BCA, NULL, NOW);
	pstore_close(st);
	assert_int_equal(pstore_open(loc, &st), NDX_OK);
	json_t *p = NULL;
	assert_int_equal(pstore_proc_get(st, "p1", &p), NDX_OK);
	json_decref(p);
	pstore_close(st);
	pstore_close(NULL);
}

static void test_sessions(void **state)
{
	char loc[600];
	struct pstore *st = new_store(loc, sizeof loc);
	struct psession s, got;

	(void)state;
	session(&s, "citizen", PIN_A, NOW);
	s.id_token = "eyJ.token.sig";
	assert_int_equal(pstore_session_create(st, H("a"), &s), NDX_OK);
	assert_int_equal(pstore_session_create(st, H("a"), &s), NDX_EEXIST);
	session(&s, "officer", "canbo.bca", NOW);
	assert_int_equal(pstore_session_create(st, H("b"), &s), NDX_OK);
	assert_int_equal(pstore_session_get(st, H("a"), NOW + 60, 900, 28800, &got), NDX_OK);
	assert_string_equal(got.kind, "citizen");
	assert_string_equal(got.subject, PIN_A);
	assert_string_equal(got.name, "Nguyễn Văn A");
	assert_string_equal(got.id_token, "eyJ.token.sig");
	assert_int_equal(got.last_seen, NOW + 60);
	psession_clear(&got);
	assert_int_equal(pstore_session_get(st, H("b"), NOW + 60, 900, 28800, &got), NDX_OK);
	assert_null(got.id_token);
	assert_string_equal(got.username, "canbo.bca");
	assert_string_equal(got.agency, BCA);
	psession_clear(&got);
	/* used at NOW + 60: idle until NOW + 960 */
	assert_int_equal(pstore_session_get(st, H("a"), NOW + 960, 900, 28800, &got), NDX_OK);
	psession_clear(&got);
	/* idle too long: refused and gone */
	assert_int_equal(pstore_session_get(st, H("a"), NOW + 1861, 900, 28800, &got),
			 NDX_ENOTFOUND);
	assert_int_equal(pstore_session_get(st, H("a"), NOW + 1862, 99999, 99999, &got),
			 NDX_ENOTFOUND);
	/* older than its longest life */
	assert_int_equal(pstore_session_get(st, H("b"), NOW + 120, 900, 100, &got), NDX_ENOTFOUND);
	session(&s, "citizen", PIN_B, NOW);
	assert_int_equal(pstore_session_create(st, H("c"), &s), NDX_OK);
	assert_int_equal(pstore_session_delete(st, H("c")), NDX_OK);
	assert_int_equal(pstore_session_get(st, H("c"), NOW, 900, 28800, &got), NDX_ENOTFOUND);
	/* a new session sweeps those past the longest possible life */
	assert_int_equal(pstore_session_create(st, H("d"), &s), NDX_OK);
	session(&s, "citizen", PIN_B, NOW + 9 * 3600);
	assert_int_equal(pstore_session_create(st, H("e"), &s), NDX_OK);
	assert_int_equal(pstore_session_get(st, H("d"), NOW, 1000000000L, 1000000000L, &got), NDX_ENOTFOUND);
	pstore_close(st);
}

static void test_login_single_use(void **state)
{
	char loc[600], browser[PSTORE_HASH_HEX], nonce[64], verifier[64], next[128];
	struct pstore *st = new_store(loc, sizeof loc);

	(void)state;
	assert_int_equal(pstore_login_put(st, H("1"), H("b"), "n-1", "v-1", "/procedures/p1", NOW),
			 NDX_OK);
	assert_int_equal(pstore_login_put(st, H("2"), H("b"), "n-2", "v-2", NULL, NOW), NDX_OK);
	assert_int_equal(pstore_login_take(st, H("1"), NOW + 10, 600, browser, nonce, verifier,
					   sizeof nonce, next, sizeof next),
			 NDX_OK);
	assert_string_equal(browser, H("b"));
	assert_string_equal(nonce, "n-1");
	assert_string_equal(verifier, "v-1");
	assert_string_equal(next, "/procedures/p1");
	/* used: never again */
	assert_int_equal(pstore_login_take(st, H("1"), NOW + 10, 600, browser, nonce, verifier,
					   sizeof nonce, next, sizeof next),
			 NDX_ENOTFOUND);
	/* too old: refused, and used up all the same */
	assert_int_equal(pstore_login_take(st, H("2"), NOW + 601, 600, browser, nonce, verifier,
					   sizeof nonce, next, sizeof next),
			 NDX_ENOTFOUND);
	assert_int_equal(pstore_login_take(st, H("2"), NOW, 600, browser, nonce, verifier,
					   sizeof nonce, next, sizeof next),
			 NDX_ENOTFOUND);
	assert_int_equal(pstore_login_take(st, H("9"), NOW, 600, browser, nonce, verifier,
					   sizeof nonce, next, sizeof next),
			 NDX_ENOTFOUND);
	pstore_close(st);
}

/* The audit trail's actions, newest first, comma-separated, into out. */
static const char *audit_actions(struct pstore *st, const char *member, char *out, size_t cap)
{
	json_t *a = NULL, *r;
	size_t i, at = 0;

	assert_int_equal(pstore_admin_audit(st, member, 0, &a), NDX_OK);
	out[0] = '\0';
	json_array_foreach(a, i, r)
		at += (size_t)snprintf(out + at, cap - at, "%s%s", i ? "," : "", sget(r, "action"));
	json_decref(a);
	return out;
}

static void test_officers(void **state)
{
	char loc[600], hash[NDX_PASSWORD_HASH_MAX], buf[512];
	struct pstore *st = new_store(loc, sizeof loc);
	struct padmin_actor cli = { .pin = "", .name = "cli:root", .role = "cli", .member = "" };
	struct pofficer o, got;
	struct psession s, sg;
	json_t *list = NULL, *a = NULL, *r;
	int replaced = -1;

	(void)state;
	assert_int_equal(pstore_officer_cost_hash(st, hash), NDX_ENOTFOUND);
	officer(&o, "canbo.bca", BCA, HASH_A);
	assert_int_equal(pstore_officer_put(st, &o, &cli, NOW, &replaced), NDX_OK);
	assert_int_equal(replaced, 0);
	officer(&o, "canbo.btc", BTC, HASH_B);
	assert_int_equal(pstore_officer_put(st, &o, &cli, NOW, &replaced), NDX_OK);
	/* the newest officer's hash */
	assert_int_equal(pstore_officer_cost_hash(st, hash), NDX_OK);
	assert_string_equal(hash, HASH_B);
	/* put again: replaced, their sessions end */
	session(&s, "officer", "canbo.bca", NOW);
	assert_int_equal(pstore_session_create(st, H("o"), &s), NDX_OK);
	officer(&o, "canbo.bca", BCA, HASH_B);
	snprintf(o.name, sizeof o.name, "Phạm Thị Mới");
	assert_int_equal(pstore_officer_put(st, &o, &cli, NOW, &replaced), NDX_OK);
	assert_int_equal(replaced, 1);
	assert_int_equal(pstore_session_get(st, H("o"), NOW, 900, 28800, &sg), NDX_ENOTFOUND);
	assert_int_equal(pstore_officer_get(st, "canbo.bca", &got), NDX_OK);
	assert_string_equal(got.name, "Phạm Thị Mới");
	assert_string_equal(got.password_hash, HASH_B);
	/* still the newest by creation, not by change */
	assert_int_equal(pstore_officer_cost_hash(st, hash), NDX_OK);
	assert_int_equal(pstore_officer_get(st, "nobody", &got), NDX_ENOTFOUND);
	/* the pages: a new one, a taken name refused */
	officer(&o, "canbo2.bca", BCA, HASH_A);
	assert_int_equal(pstore_officer_create(st, &o, &OPERATOR, NOW + 1), NDX_OK);
	assert_int_equal(pstore_officer_create(st, &o, &OPERATOR, NOW + 1), NDX_EEXIST);
	assert_int_equal(pstore_officer_list(st, BCA, &list), NDX_OK);
	assert_int_equal(json_array_size(list), 2);
	assert_string_equal(sget(json_array_get(list, 0), "username"), "canbo.bca");
	assert_string_equal(sget(json_array_get(list, 1), "username"), "canbo2.bca");
	assert_string_equal(sget(json_array_get(list, 1), "created_at"), "2027-01-15T08:00:01Z");
	json_decref(list);
	assert_int_equal(pstore_officer_list(st, NULL, &list), NDX_OK);
	assert_int_equal(json_array_size(list), 3);
	assert_string_equal(sget(json_array_get(list, 2), "agency"), BTC);
	json_decref(list);
	/* rename: the sessions carry the new name; of another agency: not found */
	session(&s, "officer", "canbo2.bca", NOW);
	assert_int_equal(pstore_session_create(st, H("p"), &s), NDX_OK);
	assert_int_equal(pstore_officer_rename(st, &o, "Tên Mới", &OPERATOR, NOW + 2), NDX_OK);
	assert_int_equal(pstore_session_get(st, H("p"), NOW, 900, 28800, &sg), NDX_OK);
	assert_string_equal(sg.name, "Tên Mới");
	psession_clear(&sg);
	snprintf(o.agency, sizeof o.agency, BTC);
	assert_int_equal(pstore_officer_rename(st, &o, "X", &OPERATOR, NOW + 2), NDX_ENOTFOUND);
	assert_int_equal(pstore_officer_set_password(st, &o, HASH_B, &OPERATOR, NOW), NDX_ENOTFOUND);
	snprintf(o.agency, sizeof o.agency, BCA);
	/* a new password ends the sessions */
	assert_int_equal(pstore_officer_set_password(st, &o, HASH_B, &OPERATOR, NOW + 3), NDX_OK);
	assert_int_equal(pstore_session_get(st, H("p"), NOW, 900, 28800, &sg), NDX_ENOTFOUND);
	assert_int_equal(pstore_officer_remove(st, &o, &OPERATOR, NOW + 4), NDX_OK);
	assert_int_equal(pstore_officer_remove(st, &o, &OPERATOR, NOW + 4), NDX_ENOTFOUND);
	assert_int_equal(pstore_officer_get(st, "canbo2.bca", &got), NDX_ENOTFOUND);
	/* the trail: every change, newest first, by member */
	assert_string_equal(audit_actions(st, NULL, buf, sizeof buf),
			    "officer.remove,officer.password,officer.rename,officer.add,"
			    "officer.update,officer.add,officer.add");
	assert_string_equal(audit_actions(st, BTC, buf, sizeof buf), "officer.add");
	assert_int_equal(pstore_admin_audit(st, BCA, 2, &a), NDX_OK);
	assert_int_equal(json_array_size(a), 2);
	r = json_array_get(a, 1);
	assert_string_equal(sget(r, "action"), "officer.password");
	assert_string_equal(sget(json_object_get(r, "actor"), "pin"), PIN_OP);
	assert_string_equal(sget(json_object_get(r, "actor"), "role"), "operator");
	assert_string_equal(sget(r, "at"), "2027-01-15T08:00:03Z");
	assert_true(json_is_object(json_object_get(r, "detail")));
	json_decref(a);
	assert_int_equal(pstore_admin_audit(st, NULL, 0, &a), NDX_OK);
	r = json_array_get(a, 4); /* officer.update: from, to */
	assert_string_equal(sget(json_object_get(json_object_get(r, "detail"), "to"), "name"),
			    "Phạm Thị Mới");
	assert_string_equal(sget(json_object_get(r, "actor"), "name"), "cli:root");
	json_decref(a);
	pstore_close(st);
}

static void test_officials(void **state)
{
	char loc[600], buf[512];
	struct pstore *st = new_store(loc, sizeof loc);
	struct padmin_actor cli = { .pin = "", .name = "cli:root", .role = "cli", .member = "" };
	struct pofficial o, got, before;
	json_t *list = NULL;
	int replaced = -1;

	(void)state;
	official(&o, PIN_OP, "operator", "VN/GOV/TCT");
	assert_int_equal(pstore_official_put(st, &o, &cli, NOW, &replaced), NDX_OK);
	assert_int_equal(replaced, 0);
	assert_int_equal(pstore_official_put(st, &o, &cli, NOW, &replaced), NDX_OK);
	assert_int_equal(replaced, 1);
	assert_int_equal(pstore_official_get(st, PIN_OP, &got), NDX_OK);
	assert_string_equal(got.role, "operator");
	assert_int_equal(pstore_official_get(st, PIN_A, &got), NDX_ENOTFOUND);
	/* the last operator is kept */
	official(&o, PIN_OP, "auditor", "VN/GOV/TCT");
	assert_int_equal(pstore_official_change(st, &o, &OPERATOR, NOW, &before), NDX_EPERM);
	assert_int_equal(pstore_official_delete(st, PIN_OP, &OPERATOR, NOW, &before), NDX_EPERM);
	official(&o, PIN_A, "agency", BCA);
	assert_int_equal(pstore_official_create(st, &o, &OPERATOR, NOW), NDX_OK);
	assert_int_equal(pstore_official_create(st, &o, &OPERATOR, NOW), NDX_EEXIST);
	official(&o, PIN_A, "operator", BCA);
	assert_int_equal(pstore_official_change(st, &o, &OPERATOR, NOW, &before), NDX_OK);
	assert_string_equal(before.role, "agency");
	/* two operators now: one may go */
	assert_int_equal(pstore_official_delete(st, PIN_OP, &OPERATOR, NOW, &before), NDX_OK);
	assert_string_equal(before.member, "VN/GOV/TCT");
	assert_int_equal(pstore_official_delete(st, PIN_B, &OPERATOR, NOW, &before), NDX_ENOTFOUND);
	official(&o, PIN_B, "auditor", BTC);
	assert_int_equal(pstore_official_put(st, &o, &cli, NOW + 5, &replaced), NDX_OK);
	assert_int_equal(pstore_official_list(st, &list), NDX_OK);
	assert_int_equal(json_array_size(list), 2);
	assert_string_equal(sget(json_array_get(list, 0), "pin"), PIN_A);
	assert_string_equal(sget(json_array_get(list, 1), "created_at"), "2027-01-15T08:00:05Z");
	json_decref(list);
	assert_int_equal(pstore_official_remove(st, PIN_B, &cli, NOW), NDX_OK);
	assert_int_equal(pstore_official_remove(st, PIN_B, &cli, NOW), NDX_ENOTFOUND);
	assert_string_equal(audit_actions(st, NULL, buf, sizeof buf),
			    "official.remove,official.add,official.remove,official.change,"
			    "official.add,official.change,official.add");
	assert_string_equal(audit_actions(st, BCA, buf, sizeof buf), "official.change,official.add");
	pstore_close(st);
}

static void test_procedures(void **state)
{
	static const char *const SUBMITTED[] = { "submitted", NULL };
	static const char *const UNPAID[] = { "unpaid", NULL };
	static const char *const OPEN[] = { "submitted", "information_requested", NULL };
	char loc[600], buf[256];
	struct pstore *st = new_store(loc, sizeof loc);
	struct pholder bca = { .username = "canbo.bca", .name = "Cán bộ BCA" };
	struct pholder bca2 = { .username = "canbo2.bca", .name = "Cán bộ hai" };
	struct pproc_query f = { .agency = BCA };
	json_t *p = NULL, *list = NULL, *result, *work = NULL, *h;

	(void)state;
	file_proc(st, "r1", "residence-change", PIN_A, BCA, NULL, NOW);
	file_proc(st, "r2", "residence-change", PIN_B, BCA, NULL, NOW);
	file_proc(st, "b1", "household-business", PIN_A, BTC, "unpaid", NOW + 1);
	/* the day after in Vietnam (17:00 UTC is midnight there): numbers start again */
	file_proc(st, "r3", "residence-change", PIN_A, BCA, NULL, NOW + 9 * 3600);
	assert_int_equal(pstore_proc_get(st, "r1", &p), NDX_OK);
	assert_string_equal(sget(p, "reference"), "HS270115-00001");
	assert_string_equal(sget(p, "state"), "submitted");
	assert_string_equal(sget(p, "submitted_at"), "2027-01-15T08:00:00Z");
	assert_true(json_is_null(json_object_get(p, "assigned_to")));
	assert_string_equal(sget(json_object_get(p, "fields"), "address"), "5 Tràng Thi");
	assert_true(json_is_null(json_object_get(p, "result")));
	h = json_object_get(p, "history");
	assert_int_equal(json_array_size(h), 1);
	assert_string_equal(sget(json_array_get(h, 0), "actor"), "citizen:" PIN_A);
	assert_true(json_is_null(json_object_get(json_array_get(h, 0), "note")));
	assert_int_equal(json_array_size(json_object_get(p, "attachments")), 0);
	assert_int_equal(json_array_size(json_object_get(p, "information_requests")), 0);
	json_decref(p);
	assert_int_equal(pstore_proc_get(st, "b1", &p), NDX_OK);
	assert_string_equal(sget(p, "reference"), "HS270115-00003");
	assert_true(json_is_null(json_object_get(p, "submitted_at")));
	json_decref(p);
	assert_int_equal(pstore_proc_get(st, "r3", &p), NDX_OK);
	assert_string_equal(sget(p, "reference"), "HS270116-00001");
	json_decref(p);
	assert_int_equal(pstore_proc_get(st, "nope", &p), NDX_ENOTFOUND);
	/* the citizen's, newest first (the same second: the later filed first) */
	assert_int_equal(pstore_proc_list(st, PIN_A, NULL, NULL, &list), NDX_OK);
	assert_string_equal(ids(list, buf, sizeof buf), "r3,b1,r1");
	/* the agency's in a state, oldest first */
	assert_int_equal(pstore_proc_list(st, NULL, BCA, "submitted", &list), NDX_OK);
	assert_string_equal(ids(list, buf, sizeof buf), "r1,r2,r3");
	assert_int_equal(pstore_proc_list(st, NULL, BTC, "submitted", &list), NDX_OK);
	assert_string_equal(ids(list, buf, sizeof buf), "");
	/* the queue's filters */
	f.reference = "HS270116";
	assert_int_equal(pstore_proc_search(st, &f, &list), NDX_OK);
	assert_string_equal(ids(list, buf, sizeof buf), "r3");
	f.reference = NULL;
	f.limit = 2;
	assert_int_equal(pstore_proc_search(st, &f, &list), NDX_OK);
	assert_string_equal(ids(list, buf, sizeof buf), "r1,r2");
	f.limit = 0;
	f.kind = "household-business";
	assert_int_equal(pstore_proc_search(st, &f, &list), NDX_OK);
	assert_string_equal(ids(list, buf, sizeof buf), "");
	f.kind = NULL;
	/* the fee paid: unpaid -> submitted notes submitted_at */
	assert_int_equal(pstore_proc_transition(st, "b1", SUBMITTED, "completed", "system", NULL,
						NULL, NOW + 2),
			 NDX_EPERM);
	assert_int_equal(pstore_proc_transition(st, "b1", UNPAID, "submitted", "payment", "paid",
						NULL, NOW + 3),
			 NDX_OK);
	assert_int_equal(pstore_proc_get(st, "b1", &p), NDX_OK);
	assert_string_equal(sget(p, "submitted_at"), "2027-01-15T08:00:03Z");
	assert_string_equal(sget(json_array_get(json_object_get(p, "history"), 1), "note"), "paid");
	json_decref(p);
	assert_int_equal(pstore_proc_transition(st, "nope", UNPAID, "submitted", "payment", NULL,
						NULL, NOW),
			 NDX_ENOTFOUND);
	/* holding: taken, refused to another, released, taken by the other */
	assert_int_equal(pstore_proc_hold(st, "r1", OPEN, &bca, 0, NOW + 10), NDX_OK);
	assert_int_equal(pstore_proc_hold(st, "r1", OPEN, &bca, 0, NOW + 11), NDX_OK);
	assert_int_equal(pstore_proc_hold(st, "r1", OPEN, &bca2, 0, NOW + 12), NDX_EEXIST);
	assert_int_equal(pstore_proc_hold(st, "r1", UNPAID, &bca, 0, NOW + 12), NDX_EPERM);
	assert_int_equal(pstore_proc_hold(st, "nope", OPEN, &bca, 0, NOW), NDX_ENOTFOUND);
	assert_int_equal(pstore_proc_get(st, "r1", &p), NDX_OK);
	assert_string_equal(sget(json_object_get(p, "assigned_to"), "username"), "canbo.bca");
	assert_string_equal(sget(json_object_get(p, "assigned_to"), "at"), "2027-01-15T08:00:10Z");
	json_decref(p);
	f.assignee = "";
	assert_int_equal(pstore_proc_search(st, &f, &list), NDX_OK);
	assert_string_equal(ids(list, buf, sizeof buf), "r2,r3");
	f.assignee = "canbo.bca";
	assert_int_equal(pstore_proc_search(st, &f, &list), NDX_OK);
	assert_string_equal(ids(list, buf, sizeof buf), "r1");
	f.assignee = NULL;
	/* another officer cannot decide it */
	result = json_pack("{s:s}", "certificate", "CT-1");
	assert_int_equal(pstore_proc_decide(st, "r1", SUBMITTED, "completed", "officer:canbo2.bca",
					    &bca2, NULL, result, NOW + 20),
			 NDX_EEXIST);
	assert_int_equal(pstore_proc_hold(st, "r1", OPEN, &bca, 1, NOW + 21), NDX_OK);
	assert_int_equal(pstore_proc_hold(st, "r1", OPEN, &bca, 1, NOW + 21), NDX_OK);
	/* deciding one nobody holds: the decider holds it */
	assert_int_equal(pstore_proc_decide(st, "r1", SUBMITTED, "completed", "officer:canbo2.bca",
					    &bca2, "ok", result, NOW + 22),
			 NDX_OK);
	json_decref(result);
	assert_int_equal(pstore_proc_decide(st, "r1", SUBMITTED, "rejected", "officer:canbo2.bca",
					    &bca2, NULL, NULL, NOW + 23),
			 NDX_EPERM);
	assert_int_equal(pstore_proc_get(st, "r1", &p), NDX_OK);
	assert_string_equal(sget(p, "state"), "completed");
	assert_string_equal(sget(json_object_get(p, "result"), "certificate"), "CT-1");
	assert_string_equal(sget(json_object_get(p, "assigned_to"), "name"), "Cán bộ hai");
	assert_string_equal(sget(p, "updated_at"), "2027-01-15T08:00:22Z");
	assert_int_equal(json_array_size(json_object_get(p, "history")), 2);
	json_decref(p);
	/* working notes */
	assert_int_equal(pstore_proc_work_get(st, "r2", &work), NDX_OK);
	assert_int_equal(json_object_size(work), 0);
	json_object_set_new(work, "enterprise_code", json_string("0101234567"));
	assert_int_equal(pstore_proc_work_set(st, "r2", work), NDX_OK);
	json_decref(work);
	assert_int_equal(pstore_proc_work_get(st, "r2", &work), NDX_OK);
	assert_string_equal(sget(work, "enterprise_code"), "0101234567");
	json_decref(work);
	assert_int_equal(pstore_proc_work_get(st, "nope", &work), NDX_ENOTFOUND);
	pstore_close(st);
}

static void count_cb(void *ud, const char *kind, const char *state, int64_t n)
{
	char *out = ud;
	size_t at = strlen(out);

	snprintf(out + at, 256 - at, "%s/%s=%lld;", kind, state, (long long)n);
}

static void test_counts_and_push(void **state)
{
	static const char *const SUBMITTED[] = { "submitted", NULL };
	char loc[600], buf[256] = "";
	struct pstore *st = new_store(loc, sizeof loc);
	json_t *batch = NULL, *o;
	int64_t last = -1, n = -1, v = -1;

	(void)state;
	file_proc(st, "r1", "residence-change", PIN_A, BCA, NULL, NOW);
	file_proc(st, "r2", "residence-change", PIN_B, BCA, NULL, NOW);
	file_proc(st, "b1", "household-business", PIN_A, BTC, "unpaid", NOW);
	assert_int_equal(pstore_proc_counts(st, count_cb, buf), NDX_OK);
	assert_string_equal(buf, "household-business/unpaid=1;residence-change/submitted=2;");
	assert_int_equal(pstore_push_batch(st, 0, 2, &batch, &last), NDX_OK);
	assert_int_equal(json_array_size(batch), 2);
	assert_string_equal(sget(json_array_get(batch, 0), "id"), "r1");
	o = json_array_get(batch, 1);
	assert_string_equal(sget(o, "id"), "r2");
	assert_string_equal(sget(o, "agency"), BCA);
	assert_int_equal(json_integer_value(json_object_get(o, "opened_ms")),
			 (json_int_t)NOW * 1000);
	assert_true(json_is_null(json_object_get(o, "closed_ms")));
	assert_null(json_object_get(o, "change_seq"));
	json_decref(batch);
	assert_int_equal(last, 2);
	assert_int_equal(pstore_push_backlog(st, last, &n), NDX_OK);
	assert_int_equal(n, 1);
	/* a decision moves r1 to the end, closed */
	assert_int_equal(pstore_proc_transition(st, "r1", SUBMITTED, "completed", "officer:x", NULL,
						NULL, NOW + 30),
			 NDX_OK);
	assert_int_equal(pstore_push_batch(st, last, 10, &batch, &last), NDX_OK);
	assert_int_equal(json_array_size(batch), 2);
	assert_string_equal(sget(json_array_get(batch, 0), "id"), "b1");
	o = json_array_get(batch, 1);
	assert_string_equal(sget(o, "id"), "r1");
	assert_int_equal(json_integer_value(json_object_get(o, "closed_ms")),
			 (json_int_t)(NOW + 30) * 1000);
	json_decref(batch);
	assert_int_equal(last, 4);
	assert_int_equal(pstore_push_batch(st, last, 10, &batch, &last), NDX_OK);
	assert_int_equal(json_array_size(batch), 0);
	assert_int_equal(last, 4);
	json_decref(batch);
	/* the cursor: 0 when never set, never moving back */
	assert_int_equal(pstore_push_cursor_get(st, "monitor", &v), NDX_OK);
	assert_int_equal(v, 0);
	assert_int_equal(pstore_push_cursor_set(st, "monitor", 4), NDX_OK);
	assert_int_equal(pstore_push_cursor_set(st, "monitor", 2), NDX_OK);
	assert_int_equal(pstore_push_cursor_get(st, "monitor", &v), NDX_OK);
	assert_int_equal(v, 4);
	assert_int_equal(pstore_push_cursor_set(st, "monitor", 5), NDX_OK);
	assert_int_equal(pstore_push_cursor_get(st, "monitor", &v), NDX_OK);
	assert_int_equal(v, 5);
	pstore_close(st);
}

static void test_information_and_attachments(void **state)
{
	static const char *const OPEN[] = { "submitted", "information_requested", NULL };
	static const char *const ASKED[] = { "information_requested", NULL };
	static const uint8_t BYTES[] = { 0x25, 0x50, 0x44, 0x46, 0x00, 0xff, 0x0a, 0x80, 0x7f };
	char loc[600], id[16];
	struct pstore *st = new_store(loc, sizeof loc);
	struct pholder bca = { .username = "canbo.bca", .name = "Cán bộ BCA" };
	struct pholder bca2 = { .username = "canbo2.bca", .name = "Cán bộ hai" };
	struct pattach a = {
		.id = "f1", .procedure_id = "r1", .subject = PIN_A, .name = "hợp đồng.pdf",
		.media_type = "application/pdf", .sha256 = H("e"), .uploaded_by = "citizen:" PIN_A,
		.data = BYTES, .size = sizeof BYTES,
	}, got;
	const char *const link[] = { "f1", NULL }, *const bad[] = { "f99", NULL };
	json_t *p = NULL, *r;

	(void)state;
	file_proc(st, "r1", "residence-change", PIN_A, BCA, NULL, NOW);
	file_proc(st, "r2", "residence-change", PIN_B, BCA, NULL, NOW);
	/* nothing asked: no answer */
	assert_int_equal(pstore_info_answer(st, "r1", PIN_A, "?", NULL, NOW), NDX_EPERM);
	assert_int_equal(pstore_info_ask(st, "r1", &bca, "Hợp đồng thuê nhà?", NOW + 60), NDX_OK);
	assert_int_equal(pstore_info_ask(st, "r1", &bca2, "again", NOW + 61), NDX_EEXIST);
	assert_int_equal(pstore_info_ask(st, "r1", &bca, "again", NOW + 61), NDX_EPERM);
	assert_int_equal(pstore_info_ask(st, "nope", &bca, "?", NOW), NDX_ENOTFOUND);
	/* files: only the citizen's own, in an open state, at most ten */
	assert_int_equal(pstore_attachment_put(st, &a, OPEN, NOW + 70), NDX_OK);
	assert_int_equal(pstore_attachment_put(st, &a, OPEN, NOW + 70), NDX_EEXIST);
	a.subject = PIN_B;
	a.id = "f2";
	assert_int_equal(pstore_attachment_put(st, &a, OPEN, NOW + 70), NDX_ENOTFOUND);
	a.subject = PIN_A;
	assert_int_equal(pstore_attachment_put(st, &a, (const char *const[]){ "unpaid", NULL },
					       NOW + 70),
			 NDX_EPERM);
	for (int i = 2; i <= PSTORE_ATTACH_PER_PROC; i++) {
		snprintf(id, sizeof id, "f%d", i);
		a.id = id;
		a.size = (size_t)i % 2 ? sizeof BYTES : 0; /* an empty file too */
		assert_int_equal(pstore_attachment_put(st, &a, OPEN, NOW + 70 + i), NDX_OK);
	}
	a.id = "f11";
	assert_int_equal(pstore_attachment_put(st, &a, OPEN, NOW + 90), NDX_ETOOBIG);
	/* the bytes as they were */
	assert_int_equal(pstore_attachment_get(st, "r1", "f1", &got), NDX_OK);
	assert_int_equal(got.size, sizeof BYTES);
	assert_memory_equal(got.data, BYTES, sizeof BYTES);
	assert_string_equal(got.name, "hợp đồng.pdf");
	assert_string_equal(got.media_type, "application/pdf");
	assert_string_equal(got.sha256, H("e"));
	pattach_clear(&got);
	assert_int_equal(pstore_attachment_get(st, "r1", "f2", &got), NDX_OK);
	assert_int_equal(got.size, 0);
	pattach_clear(&got);
	assert_int_equal(pstore_attachment_get(st, "r2", "f1", &got), NDX_ENOTFOUND);
	/* answered with a file not linked yet; another's, or an unknown, refused */
	assert_int_equal(pstore_info_answer(st, "r1", PIN_B, "x", NULL, NOW + 100), NDX_ENOTFOUND);
	assert_int_equal(pstore_info_answer(st, "r1", PIN_A, "x", bad, NOW + 100), NDX_EINVAL);
	assert_int_equal(pstore_info_answer(st, "r1", PIN_A, "Đã gửi.", link, NOW + 100), NDX_OK);
	assert_int_equal(pstore_info_answer(st, "r1", PIN_A, "x", NULL, NOW + 101), NDX_EPERM);
	assert_int_equal(pstore_proc_get(st, "r1", &p), NDX_OK);
	assert_string_equal(sget(p, "state"), "submitted");
	assert_string_equal(sget(json_object_get(p, "assigned_to"), "username"), "canbo.bca");
	r = json_array_get(json_object_get(p, "information_requests"), 0);
	assert_int_equal(json_integer_value(json_object_get(r, "seq")), 1);
	assert_string_equal(sget(r, "question"), "Hợp đồng thuê nhà?");
	assert_string_equal(sget(r, "answer"), "Đã gửi.");
	assert_string_equal(sget(r, "answered_at"), "2027-01-15T08:01:40Z");
	assert_string_equal(sget(json_object_get(r, "asked_by"), "name"), "Cán bộ BCA");
	r = json_object_get(p, "attachments");
	assert_int_equal(json_array_size(r), PSTORE_ATTACH_PER_PROC);
	assert_string_equal(sget(json_array_get(r, 0), "id"), "f1");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(r, 0), "request_seq")), 1);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(r, 0), "size")),
			 sizeof BYTES);
	assert_true(json_is_null(json_object_get(json_array_get(r, 1), "request_seq")));
	assert_string_equal(sget(json_array_get(r, 9), "id"), "f10");
	assert_string_equal(sget(json_array_get(json_object_get(p, "history"), 2), "note"),
			    "Đã gửi.");
	json_decref(p);
	/* a second request is numbered 2; a file linked once stays with its request */
	assert_int_equal(pstore_info_ask(st, "r1", &bca, "Và CCCD?", NOW + 200), NDX_OK);
	assert_int_equal(pstore_info_answer(st, "r1", PIN_A, "x", link, NOW + 300), NDX_EINVAL);
	assert_int_equal(pstore_proc_transition(st, "r1", ASKED, "information_requested", "x",
						NULL, NULL, NOW + 301),
			 NDX_OK);
	pstore_close(st);
}

static void test_notifications_and_outbox(void **state)
{
	char loc[600], email[128];
	struct pstore *st = new_store(loc, sizeof loc);
	json_t *n = NULL, *list;
	struct pmail m;
	int mailed = -1;
	int64_t first;

	(void)state;
	file_proc(st, "r1", "residence-change", PIN_A, BCA, NULL, NOW);
	assert_int_equal(pstore_contact_get(st, PIN_A, email, sizeof email), NDX_ENOTFOUND);
	/* no address: a notification, no e-mail */
	assert_int_equal(pstore_notify(st, PIN_A, "r1", "submitted", "Đã nộp", "Hồ sơ đã nộp.",
				       NOW, &mailed),
			 NDX_OK);
	assert_int_equal(mailed, 0);
	assert_int_equal(pstore_outbox_claim(st, NODE_A, NOW + 3600, CLAIM, 5, &m), NDX_ENOTFOUND);
	assert_int_equal(pstore_contact_set(st, PIN_A, "old@example.vn", NOW), NDX_OK);
	assert_int_equal(pstore_contact_set(st, PIN_A, "a@example.vn", NOW + 1), NDX_OK);
	assert_int_equal(pstore_contact_get(st, PIN_A, email, sizeof email), NDX_OK);
	assert_string_equal(email, "a@example.vn");
	assert_int_equal(pstore_notify(st, PIN_A, "r1", "decided", "Đã giải quyết", "Kết quả.",
				       NOW + 10, &mailed),
			 NDX_OK);
	assert_int_equal(mailed, 1);
	/* no title: never mailed */
	assert_int_equal(pstore_notify(st, PIN_A, "r1", "note", NULL, NULL, NOW + 11, &mailed),
			 NDX_OK);
	assert_int_equal(mailed, 0);
	assert_int_equal(pstore_notifications(st, PIN_A, 2, &n), NDX_OK);
	assert_int_equal(json_integer_value(json_object_get(n, "unread")), 3);
	list = json_object_get(n, "notifications");
	assert_int_equal(json_array_size(list), 2);
	assert_string_equal(sget(json_array_get(list, 0), "kind"), "note");
	assert_string_equal(sget(json_array_get(list, 1), "reference"), "HS270115-00001");
	assert_true(json_is_false(json_object_get(json_array_get(list, 1), "read")));
	first = json_integer_value(json_object_get(json_array_get(list, 1), "id")) - 1;
	json_decref(n);
	/* read one; another's is not found; then all */
	assert_int_equal(pstore_notification_read(st, PIN_A, first, NOW + 20), NDX_OK);
	assert_int_equal(pstore_notification_read(st, PIN_B, first, NOW + 20), NDX_ENOTFOUND);
	assert_int_equal(pstore_notifications(st, PIN_A, 10, &n), NDX_OK);
	assert_int_equal(json_integer_value(json_object_get(n, "unread")), 2);
	assert_true(json_is_true(json_object_get(json_array_get(json_object_get(n, "notifications"), 2),
						 "read")));
	json_decref(n);
	assert_int_equal(pstore_notification_read(st, PIN_A, 0, NOW + 21), NDX_OK);
	assert_int_equal(pstore_notifications(st, PIN_A, 10, &n), NDX_OK);
	assert_int_equal(json_integer_value(json_object_get(n, "unread")), 0);
	json_decref(n);
	assert_int_equal(pstore_notifications(st, PIN_B, 10, &n), NDX_OK);
	assert_int_equal(json_array_size(json_object_get(n, "notifications")), 0);
	json_decref(n);
	/* the outbox: due, failed and due again later, sent */
	assert_int_equal(pstore_outbox_claim(st, NODE_A, NOW + 9, CLAIM, 5, &m), NDX_ENOTFOUND);
	assert_int_equal(pstore_outbox_claim(st, NODE_A, NOW + 10, CLAIM, 5, &m), NDX_OK);
	assert_string_equal(m.rcpt, "a@example.vn");
	assert_string_equal(m.title, "Đã giải quyết");
	assert_string_equal(m.body, "Kết quả.");
	assert_int_equal(m.attempts, 0);
	assert_int_equal(pstore_outbox_done(st, m.id, NODE_A, NOW + 10, "421 try later", NOW + 70),
			 NDX_OK);
	pmail_clear(&m);
	assert_int_equal(pstore_outbox_claim(st, NODE_A, NOW + 69, CLAIM, 5, &m), NDX_ENOTFOUND);
	assert_int_equal(pstore_outbox_claim(st, NODE_A, NOW + 70, CLAIM, 1, &m), NDX_ENOTFOUND);
	assert_int_equal(pstore_outbox_claim(st, NODE_A, NOW + 70, CLAIM, 5, &m), NDX_OK);
	assert_int_equal(m.attempts, 1);
	assert_int_equal(pstore_outbox_done(st, m.id, NODE_A, NOW + 70, NULL, 0), NDX_OK);
	pmail_clear(&m);
	assert_int_equal(pstore_outbox_claim(st, NODE_A, NOW + 9999, CLAIM, 5, &m), NDX_ENOTFOUND);
	/* an address forgotten: no more e-mails */
	assert_int_equal(pstore_contact_set(st, PIN_A, NULL, NOW + 80), NDX_OK);
	assert_int_equal(pstore_contact_get(st, PIN_A, email, sizeof email), NDX_ENOTFOUND);
	assert_int_equal(pstore_notify(st, PIN_A, "r1", "x", "t", "b", NOW + 90, &mailed), NDX_OK);
	assert_int_equal(mailed, 0);
	pstore_close(st);
}

/* Queues n e-mails for PIN_A (with an address) at `at`. */
static void queue_mails(struct pstore *st, int n, time_t at)
{
	int mailed = 0;

	assert_int_equal(pstore_contact_set(st, PIN_A, "a@example.vn", at), NDX_OK);
	for (int i = 0; i < n; i++) {
		assert_int_equal(pstore_notify(st, PIN_A, "r1", "completed", "t", "b", at, &mailed),
				 NDX_OK);
		assert_int_equal(mailed, 1);
	}
}

/* Claims for node at `at`: the e-mail's id, or 0 when none is due. */
static int64_t claim_id(struct pstore *st, const char *node, time_t at)
{
	struct pmail m;
	int rc = pstore_outbox_claim(st, node, at, CLAIM, 5, &m);
	int64_t id = m.id;

	if (rc == NDX_ENOTFOUND)
		return 0;
	assert_int_equal(rc, NDX_OK);
	pmail_clear(&m);
	return id;
}

/* Two nodes on one store (two handles on one portal.db, or on one
 * PostgreSQL schema) share the outbox: each claim takes an e-mail nobody
 * else's running claim holds, so they claim disjoint rows; a running claim
 * is not taken (nor is a failure recorded by a node that no longer holds
 * it); a claim that ran out (a node killed mid-send) is taken over; a
 * "sent" is recorded whoever holds the claim, and a sent e-mail is never
 * claimed again. */
static void test_outbox_claims_across_nodes(void **state)
{
	char loc[600];
	struct pstore *a = new_store(loc, sizeof loc), *b = NULL;
	int64_t id[4];
	struct pmail m;

	(void)state;
	assert_int_equal(pstore_open(loc, &b), NDX_OK);
	file_proc(a, "r1", "residence-change", PIN_A, BCA, NULL, NOW);
	queue_mails(a, 4, NOW);
	id[0] = claim_id(a, NODE_A, NOW);
	id[1] = claim_id(b, NODE_B, NOW);
	id[2] = claim_id(a, NODE_A, NOW);
	id[3] = claim_id(b, NODE_B, NOW);
	for (int i = 0; i < 4; i++) {
		assert_true(id[i] > 0);
		for (int k = 0; k < i; k++)
			assert_true(id[i] != id[k]);
	}
	/* every one claimed, every claim running */
	assert_int_equal(claim_id(a, NODE_A, NOW), 0);
	assert_int_equal(claim_id(b, NODE_B, NOW + CLAIM - 1), 0);
	/* A sends its first; B fails its first; A cannot record for B's */
	assert_int_equal(pstore_outbox_done(a, id[0], NODE_A, NOW + 1, NULL, 0), NDX_OK);
	assert_int_equal(pstore_outbox_done(a, id[1], NODE_A, NOW + 1, "421", NOW + 100),
			 NDX_ENOTFOUND);
	assert_int_equal(pstore_outbox_done(b, id[1], NODE_B, NOW + 1, "421", NOW + 100), NDX_OK);
	assert_int_equal(pstore_outbox_done(b, id[3], NODE_B, NOW + 1, NULL, 0), NDX_OK);
	/* A dies holding id[2]: its claim is not taken while it runs ... */
	assert_int_equal(claim_id(b, NODE_B, NOW + CLAIM - 1), 0);
	/* ... and is taken over once it ran out */
	assert_int_equal(claim_id(b, NODE_B, NOW + CLAIM), id[2]);
	assert_int_equal(claim_id(a, NODE_A, NOW + CLAIM), 0);
	/* A's late failure is not recorded: B's attempt counts */
	assert_int_equal(pstore_outbox_done(a, id[2], NODE_A, NOW + CLAIM, "timeout", NOW + 100),
			 NDX_ENOTFOUND);
	/* A's late success is: the e-mail is out, B's failure then changes
	 * nothing and nobody claims it again */
	assert_int_equal(pstore_outbox_done(a, id[2], NODE_A, NOW + CLAIM, NULL, 0), NDX_OK);
	assert_int_equal(pstore_outbox_done(b, id[2], NODE_B, NOW + CLAIM, "421", NOW + 100),
			 NDX_ENOTFOUND);
	/* the failed one comes back at its time, to either node, its attempt
	 * counted once */
	assert_int_equal(claim_id(b, NODE_B, NOW + 99), 0);
	assert_int_equal(pstore_outbox_claim(a, NODE_A, NOW + 100, CLAIM, 5, &m), NDX_OK);
	assert_int_equal(m.id, id[1]);
	assert_int_equal(m.attempts, 1);
	pmail_clear(&m);
	assert_int_equal(pstore_outbox_done(a, id[1], NODE_A, NOW + 101, NULL, 0), NDX_OK);
	assert_int_equal(claim_id(b, NODE_B, NOW + 99999), 0);
	pstore_close(b);
	pstore_close(a);
}

/* The lease of work one node does at a time (the procedures push): held
 * by one holder; renewed by it; refused to another while it runs; taken
 * over once it ran out; given up on release, and only by its holder. */
static void test_lease_across_nodes(void **state)
{
	char loc[600];
	struct pstore *a = new_store(loc, sizeof loc), *b = NULL;

	(void)state;
	assert_int_equal(pstore_open(loc, &b), NDX_OK);
	assert_int_equal(pstore_lease_take(a, "push", NODE_A, NOW, 35), NDX_OK);
	assert_int_equal(pstore_lease_take(b, "push", NODE_B, NOW, 35), NDX_EEXIST);
	/* another name is another lease */
	assert_int_equal(pstore_lease_take(b, "other", NODE_B, NOW, 35), NDX_OK);
	/* renewed by its holder: runs to NOW + 45 */
	assert_int_equal(pstore_lease_take(a, "push", NODE_A, NOW + 10, 35), NDX_OK);
	assert_int_equal(pstore_lease_take(b, "push", NODE_B, NOW + 44, 35), NDX_EEXIST);
	/* A stops renewing (killed): B takes it over when it ran out */
	assert_int_equal(pstore_lease_take(b, "push", NODE_B, NOW + 45, 35), NDX_OK);
	assert_int_equal(pstore_lease_take(a, "push", NODE_A, NOW + 46, 35), NDX_EEXIST);
	/* only the holder gives it up; then the other takes it at once */
	assert_int_equal(pstore_lease_release(a, "push", NODE_A), NDX_OK);
	assert_int_equal(pstore_lease_take(a, "push", NODE_A, NOW + 47, 35), NDX_EEXIST);
	assert_int_equal(pstore_lease_release(b, "push", NODE_B), NDX_OK);
	assert_int_equal(pstore_lease_take(a, "push", NODE_A, NOW + 47, 35), NDX_OK);
	assert_int_equal(pstore_lease_take(b, "push", NODE_B, NOW + 47, 35), NDX_EEXIST);
	pstore_close(b);
	pstore_close(a);
}

static void test_signin_counts(void **state)
{
	char loc[600];
	struct pstore *st = new_store(loc, sizeof loc);
	struct signin_counts c;

	(void)state;
	assert_int_equal(pstore_signin_failure_note(st, "canbo.bca", "198.51.100.7", NOW, 0), NDX_OK);
	assert_int_equal(pstore_signin_failure_note(st, "canbo.bca", "198.51.100.7", NOW + 1, 0),
			 NDX_OK);
	assert_int_equal(pstore_signin_failure_note(st, "canbo.bca", "203.0.113.9", NOW + 2, 0),
			 NDX_OK);
	assert_int_equal(pstore_signin_failure_note(st, "khac", "198.51.100.7", NOW + 3, 0), NDX_OK);
	assert_int_equal(pstore_signin_counts(st, "canbo.bca", "198.51.100.7", NOW - 1, &c), NDX_OK);
	assert_int_equal(c.pair, 2);
	assert_int_equal(c.account, 3);
	assert_int_equal(c.source, 3);
	assert_int_equal(pstore_signin_counts(st, "canbo.bca", "198.51.100.7", NOW + 1, &c), NDX_OK);
	assert_int_equal(c.pair, 1);
	/* a success forgets the pair's; a note forgets what is older than its window */
	assert_int_equal(pstore_signin_success(st, "canbo.bca", "198.51.100.7"), NDX_OK);
	assert_int_equal(pstore_signin_counts(st, "canbo.bca", "198.51.100.7", 0, &c), NDX_OK);
	assert_int_equal(c.pair, 0);
	assert_int_equal(c.account, 1);
	assert_int_equal(pstore_signin_failure_note(st, "x", "192.0.2.1", NOW + 10, NOW + 3), NDX_OK);
	assert_int_equal(pstore_signin_counts(st, "canbo.bca", "198.51.100.7", 0, &c), NDX_OK);
	assert_int_equal(c.account, 0);
	assert_int_equal(c.source, 1);
	pstore_close(st);
}

/* The child: acknowledged writes (an application filed and decided, a
 * notification, a session), then SIGKILL. */
static int kill9_child(const char *loc, int fd)
{
	static const char *const SUBMITTED[] = { "submitted", NULL };
	struct pstore *st = NULL;
	struct pholder by = { .username = "canbo.bca", .name = "Cán bộ" };
	struct psession s;
	json_t *fields = json_object();
	struct pproc_new p = { .id = "k1", .kind = "residence-change", .subject = PIN_A,
			       .applicant_name = "A", .agency = BCA, .actor = "citizen",
			       .fields = fields };
	int mailed;

	if (!fields || pstore_open(loc, &st) || pstore_proc_insert(st, &p, NOW) ||
	    pstore_proc_decide(st, "k1", SUBMITTED, "completed", "officer:canbo.bca", &by, NULL,
			       NULL, NOW + 5) ||
	    pstore_notify(st, PIN_A, "k1", "decided", NULL, NULL, NOW + 5, &mailed))
		return 1;
	session(&s, "citizen", PIN_A, NOW);
	if (pstore_session_create(st, H("k"), &s))
		return 1;
	json_decref(fields);
	return write(fd, "k", 1) != 1;
}

static void test_kill9_keeps_acknowledged(void **state)
{
	char loc[600];
	struct pstore *st = NULL;
	struct psession s;
	json_t *p = NULL;

	(void)state;
	new_loc(loc, sizeof loc);
	run_killed(loc, kill9_child, 0);
	assert_int_equal(pstore_open(loc, &st), NDX_OK);
	assert_int_equal(pstore_proc_get(st, "k1", &p), NDX_OK);
	assert_string_equal(sget(p, "state"), "completed");
	assert_string_equal(sget(json_object_get(p, "assigned_to"), "username"), "canbo.bca");
	json_decref(p);
	assert_int_equal(pstore_notifications(st, PIN_A, 10, &p), NDX_OK);
	assert_int_equal(json_integer_value(json_object_get(p, "unread")), 1);
	json_decref(p);
	assert_int_equal(pstore_session_get(st, H("k"), NOW, 900, 28800, &s), NDX_OK);
	psession_clear(&s);
	pstore_close(st);
}

/* ---- SQLite alone ----------------------------------------------------------- */

/* The migrations a portal.db of the version before PostgreSQL had: the
 * first ten of the descriptor's, which are never edited (append only). */
#define OLD_MIGRATIONS 10

static int64_t sqlite_int(const char *path, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *s;
	int64_t v = -1;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

/* A portal.db at migration 10 with two officers, two applications of one
 * day, an attachment as a BLOB and an e-mail waiting in the outbox opens at
 * migration 12: the application numbers and the creation order kept, the
 * officers' order kept, the file's bytes as they were, the e-mail claimed
 * as a new one would be; and new rows go on from there. */
static void test_sqlite_opens_an_older_portal_db(void **state)
{
	char loc[600], hash[NDX_PASSWORD_HASH_MAX], buf[128];
	struct pstore *st = NULL;
	struct pattach got;
	json_t *list = NULL;
	sqlite3 *db;

	(void)state;
	new_loc(loc, sizeof loc);
	assert_int_equal(sqlite3_open(loc, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE schema_migrations(version INTEGER PRIMARY KEY,"
					  " applied_at TEXT NOT NULL)",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	assert_true(portal_db_desc.n_migrations > OLD_MIGRATIONS);
	for (size_t i = 0; i < OLD_MIGRATIONS; i++) {
		char rec[120];
		assert_int_equal(sqlite3_exec(db, portal_db_desc.migrations[i], NULL, NULL, NULL),
				 SQLITE_OK);
		snprintf(rec, sizeof rec,
			 "INSERT INTO schema_migrations VALUES(%zu, '2026-06-01T00:00:00Z')", i + 1);
		assert_int_equal(sqlite3_exec(db, rec, NULL, NULL, NULL), SQLITE_OK);
	}
	assert_int_equal(
		sqlite3_exec(db,
			     "INSERT INTO officers VALUES('zz.old', 'Z', '" BCA "', '" HASH_A "', 1);"
			     "INSERT INTO officers VALUES('aa.new', 'A', '" BCA "', '" HASH_B "', 1);"
			     "INSERT INTO procedures(id, kind, state, subject, applicant_name, agency,"
			     " fields, created_at, updated_at, change_seq, reference) VALUES"
			     " ('zz', 'residence-change', 'submitted', '" PIN_A "', 'A', '" BCA "',"
			     " '{}', 1799990000, 1799990000, 1, 'HS270115-00001'),"
			     " ('aa', 'residence-change', 'submitted', '" PIN_A "', 'A', '" BCA "',"
			     " '{}', 1799990000, 1799990000, 2, 'HS270115-00002');"
			     "INSERT INTO history VALUES('zz', 1, 1799990000, 'submitted', 'c', NULL);"
			     "INSERT INTO history VALUES('aa', 1, 1799990000, 'submitted', 'c', NULL);"
			     "INSERT INTO attachments VALUES('f1', 'zz', NULL, 'a.pdf',"
			     " 'application/pdf', 3, '" H("e") "', x'00ff25', 'citizen', 1799990001);"
			     "INSERT INTO outbox(notification_id, rcpt, title, body, created_at,"
			     " next_at) VALUES(1, 'a@example.vn', 't', 'b', 1799990002, 1799990002);",
			     NULL, NULL, NULL),
		SQLITE_OK);
	sqlite3_close(db);

	assert_int_equal(pstore_open(loc, &st), NDX_OK);
	assert_int_equal(sqlite_int(loc, "SELECT max(version) FROM schema_migrations"), 12);
	/* the outbox's e-mail waiting from before is claimed as any other */
	assert_int_equal(claim_id(st, NODE_A, NOW), 1);
	assert_int_equal(claim_id(st, NODE_B, NOW), 0);
	assert_int_equal(pstore_officer_cost_hash(st, hash), NDX_OK);
	assert_string_equal(hash, HASH_B);
	assert_int_equal(pstore_attachment_get(st, "zz", "f1", &got), NDX_OK);
	assert_int_equal(got.size, 3);
	assert_memory_equal(got.data, "\x00\xff\x25", 3);
	pattach_clear(&got);
	assert_int_equal(pstore_proc_list(st, NULL, BCA, "submitted", &list), NDX_OK);
	assert_string_equal(ids(list, buf, sizeof buf), "zz,aa");
	file_proc(st, "mm", "residence-change", PIN_A, BCA, NULL, 1799990000);
	assert_int_equal(pstore_proc_list(st, NULL, BCA, "submitted", &list), NDX_OK);
	assert_string_equal(ids(list, buf, sizeof buf), "zz,aa,mm");
	assert_int_equal(pstore_proc_list(st, PIN_A, NULL, NULL, &list), NDX_OK);
	assert_string_equal(ids(list, buf, sizeof buf), "mm,aa,zz");
	assert_int_equal(pstore_proc_get(st, "mm", &list), NDX_OK);
	assert_string_equal(sget(list, "reference"), "HS270115-00003");
	json_decref(list);
	pstore_close(st);
	/* and again: nothing more to do */
	assert_int_equal(pstore_open(loc, &st), NDX_OK);
	assert_int_equal(sqlite_int(loc, "SELECT count(*) FROM schema_migrations"), 12);
	assert_int_equal(sqlite_int(loc, "SELECT count(*) FROM meta WHERE key = 'kind'"
					 " AND value = 'ndx-portal'"), 1);
	pstore_close(st);
}

/* A database of another program (an ndx-id's id.db) is refused. */
static void test_sqlite_another_program(void **state)
{
	char loc[600];
	struct pstore *st = new_store(loc, sizeof loc);
	const char *msg;
	sqlite3 *db;
	int rc;

	(void)state;
	pstore_close(st);
	assert_int_equal(sqlite3_open(loc, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "UPDATE meta SET value = 'ndx-id' WHERE key = 'kind'",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	msg = stderr_of(try_open, loc, &rc);
	assert_int_equal(rc, NDX_EDB);
	assert_non_null(strstr(msg, "not an ndx-portal database"));
}

static int try_open(const char *loc)
{
	struct pstore *st = NULL;
	int rc = pstore_open(loc, &st);
	pstore_close(st);
	return rc;
}

/* ---- PostgreSQL alone ------------------------------------------------------- */

/* A password in the string (refused before connecting, never printed), a
 * server that is not there, a schema that holds another daemon's store
 * (the e-ID's, and the registry's: their meta rows), a schema newer than
 * this program. An empty schema is made the portal's. */
static void test_pg_refusals(void **state)
{
	char loc[600], stmt[300];
	const char *msg;
	int rc;

	(void)state;
	msg = stderr_of(try_open, "postgresql://postgres:s3cr3t-pw@127.0.0.1:1/x", &rc);
	assert_int_equal(rc, NDX_EINVAL);
	assert_non_null(strstr(msg, "password"));
	assert_null(strstr(msg, "s3cr3t-pw"));
	msg = stderr_of(try_open, "postgresql://127.0.0.1:1/x?password=s3cr3t-pw", &rc);
	assert_int_equal(rc, NDX_EINVAL);
	assert_null(strstr(msg, "s3cr3t-pw"));
	msg = stderr_of(try_open, "postgresql://nobody@127.0.0.1:1/none?connect_timeout=2", &rc);
	assert_int_equal(rc, NDX_EDB);
	assert_non_null(strstr(msg, "postgresql://nobody@127.0.0.1:1/none"));
	for (int i = 0; i < 2; i++) {
		new_loc(loc, sizeof loc);
		snprintf(stmt, sizeof stmt,
			 "CREATE TABLE p%ld_%d.meta(key text PRIMARY KEY, value text NOT NULL);"
			 "INSERT INTO p%ld_%d.meta VALUES('pg_schema', '1'), (%s)",
			 (long)getpid(), loc_case, (long)getpid(), loc_case,
			 i ? "'kind', 'ndx-id'" : "'instance', 'VN'");
		test_pg_exec(pg_base, stmt);
		msg = stderr_of(try_open, loc, &rc);
		assert_int_equal(rc, NDX_EDB);
		assert_non_null(strstr(msg, "not an ndx-portal database"));
	}
	new_loc(loc, sizeof loc);
	assert_int_equal(try_open(loc), NDX_OK);
	assert_int_equal(try_open(loc), NDX_OK);
	pg_refuses_newer(loc);
}

/* Two portals on one schema: what one writes the other reads, a login
 * state is taken once across both, and an application held through one is
 * refused to the other's officer. */
static void test_pg_two_portals(void **state)
{
	static const char *const OPEN[] = { "submitted", NULL };
	char loc[600], browser[PSTORE_HASH_HEX], nonce[64], verifier[64], next[64];
	struct pstore *a = new_store(loc, sizeof loc), *b = NULL;
	struct pholder x = { .username = "x", .name = "X" }, y = { .username = "y", .name = "Y" };
	json_t *p = NULL;

	(void)state;
	assert_int_equal(pstore_open(loc, &b), NDX_OK);
	file_proc(a, "r1", "residence-change", PIN_A, BCA, NULL, NOW);
	file_proc(b, "r2", "residence-change", PIN_A, BCA, NULL, NOW);
	assert_int_equal(pstore_proc_get(b, "r1", &p), NDX_OK);
	assert_string_equal(sget(p, "reference"), "HS270115-00001");
	json_decref(p);
	assert_int_equal(pstore_proc_get(a, "r2", &p), NDX_OK);
	assert_string_equal(sget(p, "reference"), "HS270115-00002");
	json_decref(p);
	assert_int_equal(pstore_login_put(a, H("1"), H("b"), "n", "v", NULL, NOW), NDX_OK);
	assert_int_equal(pstore_login_take(b, H("1"), NOW, 600, browser, nonce, verifier,
					   sizeof nonce, next, sizeof next),
			 NDX_OK);
	assert_int_equal(pstore_login_take(a, H("1"), NOW, 600, browser, nonce, verifier,
					   sizeof nonce, next, sizeof next),
			 NDX_ENOTFOUND);
	assert_int_equal(pstore_proc_hold(a, "r1", OPEN, &x, 0, NOW), NDX_OK);
	assert_int_equal(pstore_proc_hold(b, "r1", OPEN, &y, 0, NOW), NDX_EEXIST);
	pstore_close(b);
	pstore_close(a);
}

/* A schema at version 1 (as the portal made it before the outbox's claims
 * and the leases) with an e-mail waiting is brought to version 2 when the
 * portal opens it: the e-mail is claimed as a new one would be, and the
 * leases work. */
static void test_pg_opens_a_schema_at_version_1(void **state)
{
	char loc[600], stmt[8192];
	struct pstore *st = NULL;

	(void)state;
	assert_true(portal_db_desc.n_pg_schema >= 2);
	new_loc(loc, sizeof loc);
	snprintf(stmt, sizeof stmt,
		 "SET search_path TO p%ld_%d; %s;"
		 "INSERT INTO meta VALUES('kind', 'ndx-portal');"
		 "INSERT INTO outbox(notification_id, rcpt, title, body, created_at, next_at)"
		 " VALUES(1, 'a@example.vn', 't', 'b', 1799990002, 1799990002)",
		 (long)getpid(), loc_case, portal_db_desc.pg_schema[0]);
	assert_true(strlen(stmt) < sizeof stmt - 1);
	test_pg_exec(pg_base, stmt);
	assert_int_equal(pstore_open(loc, &st), NDX_OK);
	assert_int_equal(claim_id(st, NODE_A, NOW), 1);
	assert_int_equal(claim_id(st, NODE_B, NOW), 0);
	assert_int_equal(pstore_lease_take(st, "push", NODE_A, NOW, 35), NDX_OK);
	pstore_close(st);
	/* at version 2 now */
	assert_int_equal(pstore_open(loc, &st), NDX_OK);
	pstore_close(st);
	pg_refuses_newer(loc);
}

/* The server stops under an open store: calls fail with NDX_EDB, nothing
 * crashes; once it is back the store goes on by itself on a new session. */
static void test_pg_server_stopped(void **state)
{
	char loc[600];
	struct pstore *st = new_store(loc, sizeof loc);
	struct pofficer o;
	json_t *p = NULL;

	(void)state;
	file_proc(st, "r1", "residence-change", PIN_A, BCA, NULL, NOW);
	pg_ctl("NDX_TEST_PG_STOP");
	assert_int_equal(pstore_proc_get(st, "r1", &p), NDX_EDB);
	assert_int_equal(pstore_officer_get(st, "x", &o), NDX_EDB);
	pg_ctl("NDX_TEST_PG_START");
	assert_int_equal(pstore_proc_get(st, "r1", &p), NDX_OK);
	json_decref(p);
	file_proc(st, "r2", "residence-change", PIN_A, BCA, NULL, NOW);
	pstore_close(st);
}

int main(void)
{
	const struct CMUnitTest both[] = {
		cmocka_unit_test(test_open_again),
		cmocka_unit_test(test_sessions),
		cmocka_unit_test(test_login_single_use),
		cmocka_unit_test(test_officers),
		cmocka_unit_test(test_officials),
		cmocka_unit_test(test_procedures),
		cmocka_unit_test(test_counts_and_push),
		cmocka_unit_test(test_information_and_attachments),
		cmocka_unit_test(test_notifications_and_outbox),
		cmocka_unit_test(test_outbox_claims_across_nodes),
		cmocka_unit_test(test_lease_across_nodes),
		cmocka_unit_test(test_signin_counts),
		cmocka_unit_test(test_kill9_keeps_acknowledged),
	};
	const struct CMUnitTest sqlite_only[] = {
		cmocka_unit_test(test_sqlite_garbage),
		cmocka_unit_test(test_sqlite_opens_an_older_portal_db),
		cmocka_unit_test(test_sqlite_another_program),
	};
	/* The server stops last: nothing else runs while it is down. */
	const struct CMUnitTest pg_only[] = {
		cmocka_unit_test(test_pg_refusals),
		cmocka_unit_test(test_pg_two_portals),
		cmocka_unit_test(test_pg_opens_a_schema_at_version_1),
		cmocka_unit_test(test_pg_server_stopped),
	};

	/* The shared refusal of a schema without the store does not apply:
	 * the portal makes its tables in an empty schema (test_pg_refusals). */
	(void)pg_refusals;
	return STORE_ENGINES_MAIN(&ENGINES, both, sqlite_only, pg_only);
}
