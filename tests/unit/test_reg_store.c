/* Unit tests for the registry's store (src/registry/reg_store.h) on both of
 * its engines: create and open (and their refusals), the change
 * transaction (version raised with the audit entry, or nothing), every
 * kind of row round tripping in the API's shape (JSON columns, flags, the
 * subscription's retry object), refusals of duplicates and of deletes
 * while dependents remain, lists sorted byte-wise, two handles on one
 * database (two registry nodes) seeing each other's changes and one
 * version counter, and an acknowledged change surviving SIGKILL.
 *
 * With NDX_TEST_ENGINE=pg (the meson suite pg, make test-pg) every store is
 * a fresh schema of the PostgreSQL database NDX_TEST_PG (tests/with-postgres
 * starts one); the run adds PostgreSQL's own refusals (a password in the
 * connection string, never printed; a schema without a registry; a schema
 * newer than the program) and a server that stops and comes back under an
 * open store. Without NDX_TEST_PG that run is skipped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <fcntl.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store_engines.h"

#include "ndx/err.h"
#include "reg_market_store.h"
#include "reg_store.h"

static int try_open(const char *loc);
static int try_create(const char *loc);

static const struct store_engines ENGINES = {
	.name = "reg_store", .what = "registry store", .schema_prefix = 'r', .db_file = "registry.db",
	.holds = "registry", .try_open = try_open, .try_create = try_create,
};

static struct store *new_store(char *loc, size_t cap)
{
	struct store *st = NULL;

	new_loc(loc, cap);
	assert_int_equal(store_create(loc, "VN", "http://127.0.0.1:4400", &st), NDX_OK);
	return st;
}

/* One change: begin, fn's rows, commit; returns the new version. */
static uint64_t commit_member(struct store *st, const char *id, const char *name)
{
	uint64_t v = 0;

	assert_int_equal(store_begin(st), NDX_OK);
	assert_int_equal(store_member_add(st, id, name), NDX_OK);
	assert_int_equal(store_commit(st, "tester", "127.0.0.1", "member.add", id, NULL, &v),
			 NDX_OK);
	return v;
}

static void test_create_open(void **state)
{
	char loc[600];
	struct store *st, *again = NULL;
	uint64_t v;
	int64_t changed;

	(void)state;
	st = new_store(loc, sizeof loc);
	assert_string_equal(store_instance(st), "VN");
	assert_string_equal(store_registry_url(st), "http://127.0.0.1:4400");
	assert_int_equal(store_conf_state(st, &v, &changed), NDX_OK);
	assert_int_equal(v, 1);
	assert_true(changed > 1700000000);
	/* a second create of the same location is refused, the first untouched */
	assert_int_equal(store_create(loc, "XX", "http://x", &again), NDX_EEXIST);
	assert_null(again);
	store_close(st);
	assert_int_equal(store_open(loc, &st), NDX_OK);
	assert_string_equal(store_instance(st), "VN");
	assert_int_equal(store_conf_version(st, &v), NDX_OK);
	assert_int_equal(v, 1);
	store_close(st);
	/* nothing there */
	new_loc(loc, sizeof loc);
	assert_int_equal(store_open(loc, &st), NDX_EIO);
	assert_null(st);
	store_close(NULL);
}

static void test_change_transaction(void **state)
{
	char loc[600];
	struct store *st = new_store(loc, sizeof loc);
	json_t *rows, *e;
	uint64_t v;

	(void)state;
	assert_int_equal(commit_member(st, "GOV/0101", "Bộ Tài chính"), 2);
	/* a rolled back change leaves no row, no audit entry, no version */
	assert_int_equal(store_begin(st), NDX_OK);
	assert_int_equal(store_member_add(st, "GOV/0102", "rolled back"), NDX_OK);
	store_rollback(st);
	assert_int_equal(store_member_exists(st, "GOV/0102"), 0);
	assert_int_equal(store_conf_version(st, &v), NDX_OK);
	assert_int_equal(v, 2);
	/* a duplicate is NDX_EEXIST, and the transaction can still be rolled back */
	assert_int_equal(store_begin(st), NDX_OK);
	assert_int_equal(store_member_add(st, "GOV/0101", "again"), NDX_EEXIST);
	store_rollback(st);
	assert_int_equal(store_audit_list(st, 0, 10, &rows), NDX_OK);
	assert_int_equal(json_array_size(rows), 1);
	e = json_array_get(rows, 0);
	assert_string_equal(json_string_value(json_object_get(e, "action")), "member.add");
	assert_string_equal(json_string_value(json_object_get(e, "actor")), "tester");
	assert_true(json_is_object(json_object_get(e, "detail")));
	json_decref(rows);
	/* the name round trips byte for byte */
	assert_int_equal(store_member_get(st, "GOV/0101", &e), NDX_OK);
	assert_string_equal(json_string_value(json_object_get(e, "name")), "Bộ Tài chính");
	json_decref(e);
	assert_int_equal(store_member_get(st, "GOV/0999", &e), NDX_ENOTFOUND);
	store_close(st);
}

static void test_rows_and_refusals(void **state)
{
	char loc[600];
	struct store *st = new_store(loc, sizeof loc);
	json_t *purposes = json_pack("[ss]", "tax", "audit"), *bulk = json_pack("[s]", "audit");
	json_t *methods = json_pack("[s]", "GET"), *paths = json_pack("[s]", "/x/*");
	struct store_service svc = {
		.id = "GOV/0101/tax/people", .subsystem = "GOV/0101/tax", .title = "People",
		.personal = 1, .purposes = purposes, .bulk_purposes = bulk, .consent_required = 0,
		.openapi = "{\"openapi\":\"3.0.0\"}", .openapi_sha256 = "ab",
	};
	struct store_gateway gw = {
		.member = "GOV/0101", .code = "gw1", .address = "https://gw1", .sign_key = "k",
		.sign_key_id = "kid1", .tls_cert = "PEM", .tls_cert_sha256 = "cc",
	};
	struct store_subscription sub = {
		.client = "GOV/0101/tax", .service = "GOV/0101/tax/people", .event = "moved",
		.purpose = "tax", .retry_first_s = 1, .retry_max_s = 60, .give_up_after_s = 3600,
	};
	const char *why;
	json_t *o, *rows;
	int64_t grant, subid;
	char *text = NULL, *client = NULL;
	size_t len;
	int created;

	(void)state;
	assert_int_equal(store_begin(st), NDX_OK);
	assert_int_equal(store_member_add(st, "GOV/0101", "Ministry"), NDX_OK);
	assert_int_equal(store_subsystem_add(st, "GOV/0101/tax", "GOV/0101"), NDX_OK);
	assert_int_equal(store_gateway_add(st, &gw), NDX_OK);
	assert_int_equal(store_service_add(st, &svc), NDX_OK);
	assert_int_equal(store_grant_add(st, "GOV/0101/tax", svc.id, methods, paths, &grant),
			 NDX_OK);
	assert_true(grant > 0);
	assert_int_equal(store_event_type_add(st, svc.id, "moved", NULL, "{\"type\":\"object\"}"),
			 NDX_OK);
	assert_int_equal(store_subscription_add(st, &sub, &subid), NDX_OK);
	assert_int_equal(store_subscription_add(st, &sub, &subid), NDX_EEXIST);
	store_rollback(st);
	/* the rollback took the failed insert's transaction with it: redo */
	assert_int_equal(store_begin(st), NDX_OK);
	assert_int_equal(store_member_add(st, "GOV/0101", "Ministry"), NDX_OK);
	assert_int_equal(store_subsystem_add(st, "GOV/0101/tax", "GOV/0101"), NDX_OK);
	assert_int_equal(store_gateway_add(st, &gw), NDX_OK);
	assert_int_equal(store_service_add(st, &svc), NDX_OK);
	assert_int_equal(store_grant_add(st, "GOV/0101/tax", svc.id, methods, paths, &grant),
			 NDX_OK);
	assert_int_equal(store_event_type_add(st, svc.id, "moved", NULL, "{\"type\":\"object\"}"),
			 NDX_OK);
	assert_int_equal(store_subscription_add(st, &sub, &subid), NDX_OK);
	assert_int_equal(store_revocation_add(st, "gateway_key", "kid0", "lost", &o), NDX_OK);
	assert_string_equal(json_string_value(json_object_get(o, "reason")), "lost");
	assert_non_null(json_object_get(o, "revoked_at"));
	json_decref(o);
	assert_int_equal(store_embargo_set(st, "audit", 60, &created), NDX_OK);
	assert_true(created);
	assert_int_equal(store_embargo_set(st, "audit", 120, &created), NDX_OK);
	assert_false(created);
	assert_int_equal(store_monitoring_set(st, "GOV/0101/tax"), NDX_OK);
	assert_int_equal(store_monitoring_set(st, "GOV/0101/none"), NDX_ENOTFOUND);
	assert_int_equal(store_id_provider_add(st, "https://id", "k2", "kid2"), NDX_OK);
	assert_int_equal(store_commit(st, "t", NULL, "setup", "all", NULL, NULL), NDX_OK);

	/* the API's shapes */
	assert_int_equal(store_service_get(st, svc.id, &o), NDX_OK);
	assert_true(json_is_true(json_object_get(o, "personal")));
	assert_true(json_is_false(json_object_get(o, "consent_required")));
	assert_true(json_equal(json_object_get(o, "purposes"), purposes));
	assert_true(json_equal(json_object_get(o, "bulk_purposes"), bulk));
	assert_null(json_object_get(o, "openapi"));
	json_decref(o);
	assert_int_equal(store_service_openapi(st, svc.id, &text, &len), NDX_OK);
	assert_string_equal(text, svc.openapi);
	assert_int_equal(len, strlen(svc.openapi));
	free(text);
	assert_int_equal(store_service_openapi(st, "GOV/0101/tax/none", &text, &len),
			 NDX_ENOTFOUND);
	assert_int_equal(store_grant_get(st, grant, &o), NDX_OK);
	assert_true(json_equal(json_object_get(o, "methods"), methods));
	assert_int_equal(json_integer_value(json_object_get(o, "id")), grant);
	json_decref(o);
	assert_int_equal(store_subscription_get(st, subid, &o), NDX_OK);
	{
		json_t *want = json_pack("{sisisi}", "first_s", 1, "max_s", 60, "give_up_after_s",
					 3600);
		assert_true(json_equal(json_object_get(o, "retry"), want));
		json_decref(want);
	}
	assert_null(json_object_get(o, "retry_first_s"));
	assert_string_equal(json_string_value(json_object_get(o, "purpose")), "tax");
	json_decref(o);
	assert_int_equal(store_event_type_get(st, svc.id, "moved", &o), NDX_OK);
	assert_true(json_is_object(json_object_get(o, "schema")));
	assert_true(json_is_null(json_object_get(o, "title")));
	json_decref(o);
	assert_int_equal(store_embargo_get(st, "audit", &o), NDX_OK);
	assert_int_equal(json_integer_value(json_object_get(o, "seconds")), 120);
	json_decref(o);
	assert_int_equal(store_monitoring_get(st, &client), NDX_OK);
	assert_string_equal(client, "GOV/0101/tax");
	free(client);
	assert_int_equal(store_key_holders(st, "kid1", &rows), NDX_OK);
	assert_int_equal(json_array_size(rows), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 0), "holder")),
			    "GOV/0101/gw1");
	json_decref(rows);
	assert_int_equal(store_key_holders(st, "kid2", &rows), NDX_OK);
	assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 0), "role")),
			    "id provider");
	json_decref(rows);
	assert_int_equal(store_counts(st, &o), NDX_OK);
	assert_int_equal(json_integer_value(json_object_get(o, "members")), 1);
	assert_int_equal(json_integer_value(json_object_get(o, "grants")), 1);
	json_decref(o);
	assert_int_equal(store_grant_list(st, NULL, "GOV/0101/tax/none", &rows), NDX_OK);
	assert_int_equal(json_array_size(rows), 0);
	json_decref(rows);
	assert_int_equal(store_grant_list(st, "GOV/0101/tax", NULL, &rows), NDX_OK);
	assert_int_equal(json_array_size(rows), 1);
	json_decref(rows);

	/* deletes refused while dependents remain, each saying why */
	assert_int_equal(store_begin(st), NDX_OK);
	assert_int_equal(store_member_delete(st, "GOV/0101", &why), NDX_EEXIST);
	assert_non_null(strstr(why, "subsystems"));
	assert_int_equal(store_subsystem_delete(st, "GOV/0101/tax", &why), NDX_EEXIST);
	assert_int_equal(store_service_delete(st, svc.id, &why), NDX_EEXIST);
	assert_non_null(strstr(why, "grants"));
	assert_int_equal(store_event_type_delete(st, svc.id, "moved", &why), NDX_EEXIST);
	assert_non_null(strstr(why, "subscriptions"));
	assert_int_equal(store_grant_delete(st, grant + 1000), NDX_ENOTFOUND);
	assert_int_equal(store_grant_delete(st, grant), NDX_OK);
	assert_int_equal(store_subscription_delete(st, subid), NDX_OK);
	assert_int_equal(store_event_type_delete(st, svc.id, "moved", &why), NDX_OK);
	assert_int_equal(store_service_set_bulk(st, "GOV/0101/tax/none", bulk), NDX_ENOTFOUND);
	assert_int_equal(store_service_delete(st, svc.id, &why), NDX_OK);
	assert_int_equal(store_subsystem_delete(st, "GOV/0101/tax", &why), NDX_EEXIST);
	assert_non_null(strstr(why, "monitoring"));
	assert_int_equal(store_monitoring_clear(st), NDX_OK);
	assert_int_equal(store_monitoring_clear(st), NDX_ENOTFOUND);
	assert_int_equal(store_subsystem_delete(st, "GOV/0101/tax", &why), NDX_OK);
	assert_int_equal(store_gateway_delete(st, "GOV/0101", "gw1"), NDX_OK);
	assert_int_equal(store_gateway_delete(st, "GOV/0101", "gw1"), NDX_ENOTFOUND);
	assert_int_equal(store_member_delete(st, "GOV/0101", &why), NDX_OK);
	assert_int_equal(store_member_delete(st, "GOV/0101", &why), NDX_ENOTFOUND);
	assert_int_equal(store_embargo_delete(st, "audit", &why), NDX_OK);
	assert_int_equal(store_id_provider_delete(st, "https://id", &why), NDX_OK);
	assert_int_equal(store_consent_service_delete(st, "GOV/0101/x", &why), NDX_ENOTFOUND);
	assert_int_equal(store_commit(st, "t", NULL, "teardown", "all", NULL, NULL), NDX_OK);
	assert_int_equal(store_counts(st, &o), NDX_OK);
	assert_int_equal(json_integer_value(json_object_get(o, "members")), 0);
	json_decref(o);
	json_decref(purposes);
	json_decref(bulk);
	json_decref(methods);
	json_decref(paths);
	store_close(st);
}

/* A gateway's key rotation (docs/registry-api.md "Key and certificate
 * rotation"): key and certificate replaced in place, the address kept; an
 * unknown gateway is NDX_ENOTFOUND. */
static void test_gateway_rekey(void **state)
{
	char loc[600];
	struct store *st = new_store(loc, sizeof loc);
	struct store_gateway gw = {
		.member = "GOV/0101", .code = "gw1", .address = "https://gw1", .sign_key = "k1",
		.sign_key_id = "kid1", .tls_cert = "PEM1", .tls_cert_sha256 = "c1",
	};
	struct store_gateway next = {
		.member = "GOV/0101", .code = "gw1", .sign_key = "k2", .sign_key_id = "kid2",
		.tls_cert = "PEM2", .tls_cert_sha256 = "c2",
	};
	json_t *o;

	(void)state;
	commit_member(st, "GOV/0101", "Ministry");
	assert_int_equal(store_begin(st), NDX_OK);
	assert_int_equal(store_gateway_add(st, &gw), NDX_OK);
	assert_int_equal(store_commit(st, "t", NULL, "gateway.add", "GOV/0101/gw1", NULL, NULL),
			 NDX_OK);
	assert_int_equal(store_begin(st), NDX_OK);
	assert_int_equal(store_gateway_rekey(st, &next), NDX_OK);
	next.code = "gw9";
	assert_int_equal(store_gateway_rekey(st, &next), NDX_ENOTFOUND);
	assert_int_equal(store_commit(st, "t", NULL, "gateway.rotate", "GOV/0101/gw1", NULL, NULL),
			 NDX_OK);
	assert_int_equal(store_gateway_get(st, "GOV/0101", "gw1", &o), NDX_OK);
	assert_string_equal(json_string_value(json_object_get(o, "sign_key")), "k2");
	assert_string_equal(json_string_value(json_object_get(o, "sign_key_id")), "kid2");
	assert_string_equal(json_string_value(json_object_get(o, "tls_certificate")), "PEM2");
	assert_string_equal(json_string_value(json_object_get(o, "tls_cert_sha256")), "c2");
	assert_string_equal(json_string_value(json_object_get(o, "address")), "https://gw1");
	json_decref(o);
	store_close(st);
}

/* Lists sort byte-wise on both engines (the configuration's order). */
static void test_order_bytewise(void **state)
{
	static const char *const ids[] = { "GOV/b", "COM/Z", "GOV/a", "GOV/B", "COM/_x", "GOV/Ä" };
	static const char *const want[] = { "COM/Z", "COM/_x", "GOV/B", "GOV/a", "GOV/b", "GOV/Ä" };
	char loc[600];
	struct store *st = new_store(loc, sizeof loc);
	json_t *rows;

	(void)state;
	for (size_t i = 0; i < sizeof ids / sizeof *ids; i++)
		commit_member(st, ids[i], "x");
	assert_int_equal(store_member_list(st, &rows), NDX_OK);
	assert_int_equal(json_array_size(rows), sizeof want / sizeof *want);
	for (size_t i = 0; i < sizeof want / sizeof *want; i++)
		assert_string_equal(json_string_value(json_object_get(json_array_get(rows, i), "id")),
				    want[i]);
	json_decref(rows);
	store_close(st);
}

/* The console's officials (docs/console.md "Roles") and the audit trail's
 * filters (actor contains, action is or starts with "action.", time). */
static void test_officials_and_audit_search(void **state)
{
	char loc[600];
	struct store *st = new_store(loc, sizeof loc);
	struct store_audit_filter f = { 0 };
	json_t *rows, *o;
	uint64_t v;

	(void)state;
	assert_int_equal(store_official_put(st, "001085000101", "Nguyễn Văn A", "auditor", NULL, "cli",
					    "local"), NDX_OK);
	assert_int_equal(store_official_put(st, "001085000101", "Nguyễn Văn A", "operator", NULL, "cli",
					    "local"), NDX_OK);
	assert_int_equal(store_official_get(st, "001085000101", &o), NDX_OK);
	assert_string_equal(json_string_value(json_object_get(o, "role")), "operator");
	assert_true(json_is_null(json_object_get(o, "member")));
	json_decref(o);
	/* an agency administrator keeps their member; a change of role drops it */
	assert_int_equal(store_official_put(st, "001085000101", "Nguyễn Văn A", "agency", "VN/GOV/BCA",
					    "cli", "local"), NDX_OK);
	assert_int_equal(store_official_get(st, "001085000101", &o), NDX_OK);
	assert_string_equal(json_string_value(json_object_get(o, "member")), "VN/GOV/BCA");
	json_decref(o);
	assert_int_equal(store_official_put(st, "001085000101", "Nguyễn Văn A", "operator", NULL, "cli",
					    "local"), NDX_OK);
	assert_int_equal(store_official_get(st, "001085000101", &o), NDX_OK);
	assert_true(json_is_null(json_object_get(o, "member")));
	json_decref(o);
	assert_int_equal(store_official_get(st, "079190000202", &o), NDX_ENOTFOUND);
	assert_null(o);
	assert_int_equal(store_official_list(st, &rows), NDX_OK);
	assert_int_equal(json_array_size(rows), 1);
	json_decref(rows);
	assert_int_equal(store_official_remove(st, "079190000202", "cli", "local"), NDX_ENOTFOUND);
	/* no new configuration version for officials */
	assert_int_equal(store_conf_version(st, &v), NDX_OK);
	assert_int_equal(v, 1);
	commit_member(st, "GOV/1", "x");
	assert_int_equal(store_audit_event(st, "official:001085000101 (A)", "127.0.0.1:1",
					   "grantx.odd", "1", NULL), NDX_OK);
	assert_int_equal(store_official_remove(st, "001085000101", "100%_admin", "local"), NDX_OK);

	f.action = "official";
	assert_int_equal(store_audit_search(st, &f, 0, 10, &rows), NDX_OK);
	assert_int_equal(json_array_size(rows), 5);
	/* the agency administrator's member is in its official.add entry */
	o = json_object_get(json_array_get(rows, 2), "detail");
	assert_string_equal(json_string_value(json_object_get(o, "member")), "VN/GOV/BCA");
	assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 0), "action")),
			    "official.remove");
	json_decref(rows);
	/* "grant" is not a prefix of "grantx.odd": only a whole first part counts */
	f.action = "grant";
	assert_int_equal(store_audit_search(st, &f, 0, 10, &rows), NDX_OK);
	assert_int_equal(json_array_size(rows), 0);
	json_decref(rows);
	f.action = "grantx.odd";
	assert_int_equal(store_audit_search(st, &f, 0, 10, &rows), NDX_OK);
	assert_int_equal(json_array_size(rows), 1);
	json_decref(rows);
	/* actor: a part of it, LIKE's wildcards taken literally */
	f.action = NULL;
	f.actor = "001085";
	assert_int_equal(store_audit_search(st, &f, 0, 10, &rows), NDX_OK);
	assert_int_equal(json_array_size(rows), 1);
	json_decref(rows);
	f.actor = "%_";
	assert_int_equal(store_audit_search(st, &f, 0, 10, &rows), NDX_OK);
	assert_int_equal(json_array_size(rows), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 0), "actor")),
			    "100%_admin");
	json_decref(rows);
	f.actor = "_";
	assert_int_equal(store_audit_search(st, &f, 0, 10, &rows), NDX_OK);
	assert_int_equal(json_array_size(rows), 1);
	json_decref(rows);
	/* time */
	f.actor = NULL;
	f.until = "2000-01-01T00:00:00Z";
	assert_int_equal(store_audit_search(st, &f, 0, 10, &rows), NDX_OK);
	assert_int_equal(json_array_size(rows), 0);
	json_decref(rows);
	f.until = NULL;
	f.since = "2000-01-01T00:00:00Z";
	assert_int_equal(store_audit_search(st, &f, 0, 10, &rows), NDX_OK);
	assert_int_equal(json_array_size(rows), 7);
	json_decref(rows);
	store_close(st);
}

static void test_tokens_audit_witnessed(void **state)
{
	char loc[600];
	struct store *st = new_store(loc, sizeof loc);
	json_t *rows;
	uint64_t v;

	(void)state;
	assert_int_equal(store_token_add(st, "admin", "aa", NULL, "init"), NDX_OK);
	assert_int_equal(store_token_add(st, "admin", "bb", NULL, "init"), NDX_EEXIST);
	assert_int_equal(store_tokens(st, &rows), NDX_OK);
	assert_int_equal(json_array_size(rows), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 0), "sha256")),
			    "aa");
	json_decref(rows);
	/* tokens and events are audited without a new configuration version */
	assert_int_equal(store_audit_event(st, "witness", "1.2.3.4", "witness.fork", "GOV/x/gw",
					   NULL), NDX_OK);
	assert_int_equal(store_conf_version(st, &v), NDX_OK);
	assert_int_equal(v, 1);
	for (int i = 0; i < 5; i++) {
		char id[32];
		snprintf(id, sizeof id, "GOV/%d", i);
		commit_member(st, id, "x");
	}
	/* newest first, paged by seq */
	assert_int_equal(store_audit_list(st, 0, 3, &rows), NDX_OK);
	assert_int_equal(json_array_size(rows), 3);
	{
		int64_t s0 = json_integer_value(json_object_get(json_array_get(rows, 0), "seq"));
		int64_t s2 = json_integer_value(json_object_get(json_array_get(rows, 2), "seq"));
		json_t *older;
		assert_true(s0 > s2);
		assert_int_equal(store_audit_list(st, s2, 10, &older), NDX_OK);
		assert_int_equal(json_array_size(older), 4); /* 2 members, the event, the token */
		assert_string_equal(json_string_value(json_object_get(json_array_get(older, 3),
								      "action")), "token.add");
		json_decref(older);
	}
	json_decref(rows);
	/* witnessed heads: inserted, replaced, listed by batch */
	assert_int_equal(store_begin(st), NDX_OK);
	assert_int_equal(store_witnessed_put(st, "GOV/x/gw", 2, "bb", 2000), NDX_OK);
	assert_int_equal(store_witnessed_put(st, "GOV/x/gw", 1, "aa", 1000), NDX_OK);
	assert_int_equal(store_witnessed_put(st, "GOV/x/gw", 2, "cc", 3000), NDX_OK);
	assert_int_equal(store_commit_quiet(st), NDX_OK);
	assert_int_equal(store_witnessed_list(st, "GOV/x/gw", &rows), NDX_OK);
	assert_int_equal(json_array_size(rows), 2);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(rows, 0), "batch")), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 1),
							      "sth_hash")), "cc");
	json_decref(rows);
	assert_int_equal(store_conf_version(st, &v), NDX_OK);
	assert_int_equal(v, 6);
	store_close(st);
}

/* Two handles on one database, as two registry nodes: one version
 * counter, each sees the other's changes at once, and the snapshot of one
 * is not disturbed by a commit of the other. */
/* The marketplace's rows (reg_market_store.h) on this engine: a dataset
 * with its provider's name and its offers in order, a negotiation found by
 * either pid and listed for either party, its update, the agreements in
 * force and those due, the refusals of a duplicate consumerPid and
 * agreement id, and the deletes an agreement in force holds back. */
static void test_market_rows(void **state)
{
	char loc[600];
	struct store *st = new_store(loc, sizeof loc);
	json_t *row = NULL, *rows = NULL;
	const char *why = NULL;
	struct mstore_neg n = {
		.provider_pid = "urn:uuid:p1", .consumer_pid = "urn:uuid:c1",
		.consumer = "VN/GOV/BHXH", .client = "VN/GOV/BHXH/ins", .provider = "VN/GOV/BCA",
		.dataset = "urn:uuid:d1", .service = "VN/GOV/BCA/pop/echo", .offer_id = "urn:uuid:o1",
		.policy = "{\"permission\":[{\"action\":\"use\"}]}", .offered_by = "consumer",
		.state = "REQUESTED", .callback = "",
	};

	(void)state;
	assert_int_equal(store_begin(st), NDX_OK);
	assert_int_equal(store_member_add(st, "VN/GOV/BCA", "B\xe1\xbb\x99 C\xc3\xb4ng an"), NDX_OK);
	assert_int_equal(store_member_add(st, "VN/GOV/BHXH", "BHXH"), NDX_OK);
	assert_int_equal(store_subsystem_add(st, "VN/GOV/BHXH/ins", "VN/GOV/BHXH"), NDX_OK);
	assert_int_equal(mstore_dataset_add(st, "urn:uuid:d1", "VN/GOV/BCA/pop/echo", NULL,
					    "VN/GOV/BCA", "{\"title\":{\"vi\":\"a\",\"en\":\"b\"}}"),
			 NDX_OK);
	/* An event type of the same service is a dataset of its own. */
	assert_int_equal(mstore_dataset_add(st, "urn:uuid:d3", "VN/GOV/BCA/pop/echo", "echoed",
					    "VN/GOV/BCA", "{}"), NDX_OK);
	assert_int_equal(mstore_offer_add(st, "urn:uuid:o2", "urn:uuid:d1", "{\"b\":1}", 7, 1), NDX_OK);
	assert_int_equal(mstore_offer_add(st, "urn:uuid:o1", "urn:uuid:d1", "{\"a\":1}", 2, 0), NDX_OK);
	assert_int_equal(mstore_neg_add(st, &n), NDX_OK);
	assert_int_equal(store_commit_audited(st, "t", NULL, "x", "y", NULL), NDX_OK);
	/* A failed statement ends a PostgreSQL transaction: one refusal each. */
	assert_int_equal(store_begin(st), NDX_OK);
	assert_int_equal(mstore_dataset_add(st, "urn:uuid:d2", "VN/GOV/BCA/pop/echo", "",
					    "VN/GOV/BCA", "{}"), NDX_EEXIST); /* one dataset a service */
	store_rollback(st);
	assert_int_equal(store_begin(st), NDX_OK);
	assert_int_equal(mstore_dataset_add(st, "urn:uuid:d2", "VN/GOV/BCA/pop/echo", "echoed",
					    "VN/GOV/BCA", "{}"), NDX_EEXIST); /* and an event type */
	store_rollback(st);
	assert_int_equal(mstore_dataset_get(st, "urn:uuid:d3", &row), NDX_OK);
	assert_string_equal(json_string_value(json_object_get(row, "event")), "echoed");
	json_decref(row);
	assert_int_equal(store_begin(st), NDX_OK);
	n.provider_pid = "urn:uuid:p2";
	assert_int_equal(mstore_neg_add(st, &n), NDX_EEXIST); /* the same consumerPid */
	store_rollback(st);

	assert_int_equal(mstore_dataset_get(st, "urn:uuid:d1", &row), NDX_OK);
	assert_string_equal(json_string_value(json_object_get(row, "provider_name")),
			    "B\xe1\xbb\x99 C\xc3\xb4ng an");
	assert_string_equal(json_string_value(json_object_get(json_object_get(
				    json_object_get(row, "description"), "title"), "en")), "b");
	json_decref(row);
	assert_int_equal(mstore_offer_list(st, "urn:uuid:d1", &rows), NDX_OK);
	assert_int_equal(json_array_size(rows), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 0), "id")),
			    "urn:uuid:o1");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(rows, 1), "classes")), 7);
	json_decref(rows);
	assert_int_equal(mstore_neg_get(st, "urn:uuid:c1", 1, &row), NDX_OK);
	assert_string_equal(json_string_value(json_object_get(row, "provider_pid")), "urn:uuid:p1");
	assert_true(json_is_object(json_object_get(row, "policy")));
	assert_true(json_is_null(json_object_get(row, "agreement")));
	json_decref(row);
	assert_int_equal(mstore_neg_get(st, "urn:uuid:c1", 0, &row), NDX_ENOTFOUND);
	for (int who = 0; who < 3; who++) {
		const char *m = who == 0 ? "VN/GOV/BCA" : who == 1 ? "VN/GOV/BHXH" : "VN/GOV/X";
		assert_int_equal(mstore_neg_list(st, m, &rows), NDX_OK);
		assert_int_equal(json_array_size(rows), who < 2 ? 1 : 0);
		json_decref(rows);
	}

	/* Finalised with an end: in force, due once the end has passed. */
	assert_int_equal(store_begin(st), NDX_OK);
	n.provider_pid = "urn:uuid:p1";
	n.state = "FINALIZED";
	n.agreement_id = "urn:uuid:a1";
	n.agreement = "{\"permission\":[{\"action\":\"use\"}]}";
	n.agreement_state = "active";
	n.not_after = 2000000000;
	assert_int_equal(mstore_neg_update(st, &n), NDX_OK);
	assert_int_equal(store_commit_quiet(st), NDX_OK);
	assert_int_equal(mstore_agreements_active(st, &rows), NDX_OK);
	assert_int_equal(json_array_size(rows), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 0), "client")),
			    "VN/GOV/BHXH/ins");
	json_decref(rows);
	assert_int_equal(mstore_agreements_due(st, 1999999999, &rows), NDX_OK);
	assert_int_equal(json_array_size(rows), 0);
	json_decref(rows);
	assert_int_equal(mstore_agreements_due(st, 2000000000, &rows), NDX_OK);
	assert_int_equal(json_array_size(rows), 1);
	json_decref(rows);
	/* An agreement in force holds back its client's and service's deletes. */
	assert_int_equal(store_begin(st), NDX_OK);
	assert_int_equal(store_subsystem_delete(st, "VN/GOV/BHXH/ins", &why), NDX_EEXIST);
	assert_non_null(strstr(why, "agreement"));
	assert_int_equal(store_service_delete(st, "VN/GOV/BCA/pop/echo", &why), NDX_EEXIST);
	assert_int_equal(mstore_dataset_delete(st, "urn:uuid:d1"), NDX_OK);
	assert_int_equal(mstore_agreement_set_state(st, "urn:uuid:a1", "terminated"), NDX_OK);
	assert_int_equal(mstore_agreement_set_state(st, "urn:uuid:nope", "terminated"), NDX_ENOTFOUND);
	assert_int_equal(store_subsystem_delete(st, "VN/GOV/BHXH/ins", &why), NDX_OK);
	store_rollback(st);
	assert_int_equal(mstore_agreement_get(st, "urn:uuid:a1", &row), NDX_OK);
	assert_string_equal(json_string_value(json_object_get(row, "agreement_state")), "active");
	json_decref(row);
	store_close(st);
}

/* The marketplace's invoices (migration 12, PostgreSQL schema 7) on this
 * engine: recorded once per reference, statement and agreement and period;
 * found by reference and by a period that overlaps theirs; listed for the
 * seller and the buyer; paid once, and one bank transaction pays one
 * invoice. */
static void test_invoice_rows(void **state)
{
	char loc[600];
	struct store *st = new_store(loc, sizeof loc);
	json_t *row = NULL, *rows = NULL;

	(void)state;
	assert_int_equal(store_begin(st), NDX_OK);
	assert_int_equal(mstore_invoice_add(st, "MK1", "urn:uuid:a1", "VN/GOV/BCA", "VN/GOV/BHXH",
					    1000, 2000, 2000, "h1", "{\"reference\":\"MK1\"}"),
			 NDX_OK);
	assert_int_equal(store_commit_quiet(st), NDX_OK);
	/* Each refusal in a transaction of its own: PostgreSQL aborts the
	 * transaction at a key violation, as the registry then rolls back. */
	assert_int_equal(store_begin(st), NDX_OK);
	assert_int_equal(mstore_invoice_add(st, "MK2", "urn:uuid:a1", "VN/GOV/BCA", "VN/GOV/BHXH",
					    1000, 2000, 2000, "h2", "{}"), NDX_EEXIST);
	store_rollback(st);
	assert_int_equal(store_begin(st), NDX_OK);
	assert_int_equal(mstore_invoice_add(st, "MK2", "urn:uuid:a2", "VN/GOV/BCA", "VN/GOV/BHXH",
					    1000, 2000, 2000, "h1", "{}"), NDX_EEXIST);
	store_rollback(st);
	assert_int_equal(store_begin(st), NDX_OK);
	assert_int_equal(mstore_invoice_add(st, "MK2", "urn:uuid:a1", "VN/GOV/BCA", "VN/GOV/BHXH",
					    2000, 3000, 500, "h2", "{\"reference\":\"MK2\"}"),
			 NDX_OK);
	assert_int_equal(mstore_invoice_add(st, "MK3", "urn:uuid:a3", "VN/GOV/BTC", "VN/GOV/BHXH",
					    0, 10, 7, "h3", "{}"), NDX_OK);
	assert_int_equal(store_commit_quiet(st), NDX_OK);

	store_lock(st);
	assert_int_equal(mstore_invoice_get(st, "MK1", &row), NDX_OK);
	assert_string_equal(json_string_value(json_object_get(json_object_get(row, "invoice"),
							      "reference")), "MK1");
	assert_string_equal(json_string_value(json_object_get(row, "agreement_id")), "urn:uuid:a1");
	assert_int_equal(json_integer_value(json_object_get(row, "amount_vnd")), 2000);
	assert_true(json_is_null(json_object_get(row, "paid_at")));
	json_decref(row);
	assert_int_equal(mstore_invoice_get(st, "MK9", &row), NDX_ENOTFOUND);
	/* [1500, 1600) is inside MK1's; [1999, 2500) overlaps both, MK1 first;
	 * [3000, 4000) touches MK2's end only. */
	assert_int_equal(mstore_invoice_overlapping(st, "urn:uuid:a1", 1500, 1600, &row), NDX_OK);
	assert_string_equal(json_string_value(json_object_get(row, "reference")), "MK1");
	json_decref(row);
	assert_int_equal(mstore_invoice_overlapping(st, "urn:uuid:a1", 1999, 2500, &row), NDX_OK);
	assert_string_equal(json_string_value(json_object_get(row, "reference")), "MK1");
	json_decref(row);
	assert_int_equal(mstore_invoice_overlapping(st, "urn:uuid:a1", 3000, 4000, &row),
			 NDX_ENOTFOUND);
	assert_int_equal(mstore_invoice_overlapping(st, "urn:uuid:a2", 0, 5000, &row),
			 NDX_ENOTFOUND);
	assert_int_equal(mstore_invoice_list(st, "VN/GOV/BHXH", &rows), NDX_OK);
	assert_int_equal(json_array_size(rows), 3);
	json_decref(rows);
	assert_int_equal(mstore_invoice_list(st, "VN/GOV/BTC", &rows), NDX_OK);
	assert_int_equal(json_array_size(rows), 1);
	json_decref(rows);
	assert_int_equal(mstore_invoice_list(st, "VN/COM/NONE", &rows), NDX_OK);
	assert_int_equal(json_array_size(rows), 0);
	json_decref(rows);
	assert_int_equal(mstore_invoice_list(st, NULL, &rows), NDX_OK);
	assert_int_equal(json_array_size(rows), 3);
	json_decref(rows);
	store_unlock(st);

	assert_int_equal(store_begin(st), NDX_OK);
	assert_int_equal(mstore_invoice_pay(st, "MK1", "970436", "FT1"), NDX_OK);
	assert_int_equal(mstore_invoice_pay(st, "MK1", "970436", "FT2"), NDX_ENOTFOUND);
	assert_int_equal(mstore_invoice_pay(st, "MK9", "970436", "FT3"), NDX_ENOTFOUND);
	assert_int_equal(store_commit_quiet(st), NDX_OK);
	assert_int_equal(store_begin(st), NDX_OK);
	/* The bank's transaction FT1 paid MK1: it pays no other invoice. */
	assert_int_equal(mstore_invoice_pay(st, "MK2", "970436", "FT1"), NDX_EEXIST);
	store_rollback(st);
	assert_int_equal(store_begin(st), NDX_OK);
	assert_int_equal(mstore_invoice_pay(st, "MK2", "970422", "FT1"), NDX_OK);
	assert_int_equal(store_commit_quiet(st), NDX_OK);
	store_lock(st);
	assert_int_equal(mstore_invoice_get(st, "MK1", &row), NDX_OK);
	assert_string_equal(json_string_value(json_object_get(row, "paid_txn_id")), "FT1");
	assert_string_equal(json_string_value(json_object_get(row, "paid_bank_bin")), "970436");
	assert_true(json_is_string(json_object_get(row, "paid_at")));
	json_decref(row);
	store_unlock(st);
	store_close(st);
}

static void test_two_nodes(void **state)
{
	char loc[600];
	struct store *a = new_store(loc, sizeof loc), *b = NULL;
	uint64_t va, vb;
	int64_t ca, cb;
	json_t *rows;

	(void)state;
	assert_int_equal(store_open(loc, &b), NDX_OK);
	assert_int_equal(commit_member(a, "GOV/1", "one"), 2);
	assert_int_equal(store_member_exists(b, "GOV/1"), 1);
	assert_int_equal(commit_member(b, "GOV/2", "two"), 3);
	assert_int_equal(commit_member(a, "GOV/3", "three"), 4);
	assert_int_equal(store_conf_state(a, &va, &ca), NDX_OK);
	assert_int_equal(store_conf_state(b, &vb, &cb), NDX_OK);
	assert_int_equal(va, 4);
	assert_int_equal(vb, 4);
	assert_int_equal(ca, cb);
	assert_int_equal(store_snapshot_begin(a), NDX_OK);
	assert_int_equal(store_member_list(a, &rows), NDX_OK);
	assert_int_equal(json_array_size(rows), 3);
	json_decref(rows);
	if (pg_base) {
		/* SQLite's writer would wait for this reader; PostgreSQL's does not */
		assert_int_equal(commit_member(b, "GOV/4", "four"), 5);
		assert_int_equal(store_member_list(a, &rows), NDX_OK);
		assert_int_equal(json_array_size(rows), 3);
		json_decref(rows);
		assert_int_equal(store_conf_version(a, &va), NDX_OK);
		assert_int_equal(va, 4);
	}
	store_snapshot_end(a);
	assert_int_equal(store_member_list(a, &rows), NDX_OK);
	assert_int_equal(json_array_size(rows), pg_base ? 4 : 3);
	json_decref(rows);
	store_close(a);
	store_close(b);
}

/* A change acknowledged (store_commit returned) by a process then killed
 * with SIGKILL is there when the database is opened again. */
/* The process killed in test_kill9_keeps_acknowledged: one change
 * committed (then the byte on fd), a second begun and never committed. */
static int kill9_child(const char *loc, int fd)
{
	struct store *child = NULL;
	uint64_t cv = 0;

	if (store_open(loc, &child) || store_begin(child) ||
	    store_member_add(child, "GOV/kept", "kept") ||
	    store_commit(child, "t", NULL, "member.add", "GOV/kept", NULL, &cv))
		return 1;
	if (write(fd, "k", 1) != 1)
		return 1;
	return store_begin(child) || store_member_add(child, "GOV/lost", "lost");
}

static void test_kill9_keeps_acknowledged(void **state)
{
	char loc[600];
	struct store *st = new_store(loc, sizeof loc);
	uint64_t v;

	(void)state;
	store_close(st);
	run_killed(loc, kill9_child, 100 * 1000);
	assert_int_equal(store_open(loc, &st), NDX_OK);
	assert_int_equal(store_member_exists(st, "GOV/kept"), 1);
	assert_int_equal(store_member_exists(st, "GOV/lost"), 0);
	assert_int_equal(store_conf_version(st, &v), NDX_OK);
	assert_int_equal(v, 2);
	store_close(st);
}

/* A registry.db made before issue 20 (migration 5, no conf_changed_at) gets
 * it from migration 6, keeping its version. */
static void test_sqlite_migrates_older(void **state)
{
	char loc[600];
	struct store *st = new_store(loc, sizeof loc);
	sqlite3 *db;
	uint64_t v;
	int64_t changed;

	(void)state;
	commit_member(st, "GOV/1", "one");
	store_close(st);
	assert_int_equal(sqlite3_open(loc, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "DELETE FROM meta WHERE key = 'conf_changed_at';"
				      " DELETE FROM schema_migrations WHERE version >= 6", NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(store_open(loc, &st), NDX_OK);
	assert_int_equal(store_conf_state(st, &v, &changed), NDX_OK);
	assert_int_equal(v, 2);
	assert_true(changed > 1700000000);
	store_close(st);
}

static int try_open(const char *loc)
{
	struct store *st = NULL;
	int rc = store_open(loc, &st);
	store_close(st);
	return rc;
}

static int try_create(const char *loc)
{
	struct store *st = NULL;
	int rc = store_create(loc, "VN", "http://x", &st);
	store_close(st);
	return rc;
}

static void test_pg_refusals(void **state)
{
	char loc[600];

	(void)state;
	/* a password, no server, a schema without a registry */
	pg_refusals(loc, sizeof loc);
	/* a schema newer than this program */
	assert_int_equal(try_create(loc), NDX_OK);
	pg_refuses_newer(loc);
}

/* The server stops under an open store: reads and changes fail with
 * NDX_EDB, nothing crashes; once it is back the store goes on by itself,
 * and a restart while the store is idle costs no failed call at all. */
static void test_pg_server_stopped(void **state)
{
	char loc[600];
	struct store *st = new_store(loc, sizeof loc);
	uint64_t v;

	(void)state;
	assert_int_equal(commit_member(st, "GOV/1", "one"), 2);
	pg_ctl("NDX_TEST_PG_STOP");
	assert_int_equal(store_member_exists(st, "GOV/1"), NDX_EDB);
	assert_int_equal(store_begin(st), NDX_EDB);
	assert_int_equal(store_conf_version(st, &v), NDX_EDB);
	pg_ctl("NDX_TEST_PG_START");
	assert_int_equal(store_member_exists(st, "GOV/1"), 1);
	assert_int_equal(commit_member(st, "GOV/2", "two"), 3);
	pg_ctl("NDX_TEST_PG_STOP");
	pg_ctl("NDX_TEST_PG_START");
	assert_int_equal(commit_member(st, "GOV/3", "three"), 4);
	assert_int_equal(store_snapshot_begin(st), NDX_OK);
	store_snapshot_end(st);
	pg_ctl("NDX_TEST_PG_STOP");
	pg_ctl("NDX_TEST_PG_START");
	assert_int_equal(store_snapshot_begin(st), NDX_OK);
	assert_int_equal(store_conf_version(st, &v), NDX_OK);
	assert_int_equal(v, 4);
	store_snapshot_end(st);
	store_close(st);
}

int main(void)
{
	const struct CMUnitTest both[] = {
		cmocka_unit_test(test_create_open),
		cmocka_unit_test(test_change_transaction),
		cmocka_unit_test(test_rows_and_refusals),
		cmocka_unit_test(test_order_bytewise),
		cmocka_unit_test(test_gateway_rekey),
		cmocka_unit_test(test_tokens_audit_witnessed),
		cmocka_unit_test(test_officials_and_audit_search),
		cmocka_unit_test(test_two_nodes),
		cmocka_unit_test(test_market_rows),
		cmocka_unit_test(test_invoice_rows),
		cmocka_unit_test(test_kill9_keeps_acknowledged),
	};
	const struct CMUnitTest sqlite_only[] = { cmocka_unit_test(test_sqlite_garbage),
						  cmocka_unit_test(test_sqlite_migrates_older) };
	/* The server stops last: nothing else runs while it is down. */
	const struct CMUnitTest pg_only[] = { cmocka_unit_test(test_pg_refusals),
					      cmocka_unit_test(test_pg_server_stopped) };

	return STORE_ENGINES_MAIN(&ENGINES, both, sqlite_only, pg_only);
}
