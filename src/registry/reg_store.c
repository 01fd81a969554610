/* The registry's store (reg_store.h) over either database engine
 * (reg_db.h: SQLite by default, PostgreSQL for a postgresql:// location):
 * the change transaction (row, audit entry and configuration version
 * together), and one small function per query, each written once in the
 * SQL both engines speak. Rows are converted to jansson objects by column
 * name, so the SELECT aliases below are the field names the management API
 * answers with (docs/registry-api.md). Referential checks live here in
 * code rather than in foreign keys so that each refusal can say what still
 * refers to what. Overview: docs/architecture.md "ndx-registry",
 * docs/scale.md "The registry on PostgreSQL". */
#include "reg_store.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ndx/err.h"
#include "ndx/timefmt.h"
#include "reg_db.h"

struct store {
	struct ndx_sqldb *db;
	pthread_mutex_t mu;
	char *instance;
	char *registry_url;
};

/* Columns holding JSON text and 0/1 flags, converted for the API. */
static const char *const JSON_COLUMNS[] = { "purposes", "bulk_purposes", "methods", "paths",
					    "detail", "schema", "policy", "description",
					    "agreement", "invoice" };
static const char *const BOOL_COLUMNS[] = { "personal", "consent_required" };

static void now_text(char out[NDX_TIME_TEXT_LEN])
{
	ndx_time_format(time(NULL), out);
}

static char *dup_str(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = malloc(n);
	if (d)
		memcpy(d, s, n);
	return d;
}

/* ---- statement helpers -------------------------------------------------- */

static int is_in(const char *name, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(name, list[i]) == 0)
			return 1;
	return 0;
}

/* The engine's raw row in the API's shape: JSON text parsed, flags as
 * booleans, the three retry columns of a subscription as one object. */
int reg_shape_row(json_t *row)
{
	const char *name;
	json_t *v, *first;
	void *tmp;

	json_object_foreach_safe(row, tmp, name, v) {
		if (json_is_string(v) &&
		    is_in(name, JSON_COLUMNS, sizeof JSON_COLUMNS / sizeof *JSON_COLUMNS)) {
			json_t *parsed = json_loadb(json_string_value(v), json_string_length(v),
						    JSON_DECODE_ANY, NULL);
			if (!parsed || json_object_set_new(row, name, parsed))
				return NDX_ENOMEM;
		} else if (json_is_integer(v) &&
			   is_in(name, BOOL_COLUMNS, sizeof BOOL_COLUMNS / sizeof *BOOL_COLUMNS)) {
			if (json_object_set_new(row, name, json_boolean(json_integer_value(v) != 0)))
				return NDX_ENOMEM;
		}
	}
	if ((first = json_object_get(row, "retry_first_s"))) {
		json_t *retry = json_pack("{sOsOsO}", "first_s", first, "max_s",
					  json_object_get(row, "retry_max_s"), "give_up_after_s",
					  json_object_get(row, "give_up_after_s"));
		if (!retry || json_object_set_new(row, "retry", retry))
			return NDX_ENOMEM;
		json_object_del(row, "retry_first_s");
		json_object_del(row, "retry_max_s");
		json_object_del(row, "give_up_after_s");
	}
	return NDX_OK;
}

/* The first column of the first row as an integer (0 when there is no
 * row, or it is not an integer) in *out. */
static int query_int(struct store *st, int64_t *out, const char *sql, const char *types, ...)
{
	json_t *rows, *row;
	va_list ap;
	int rc;

	*out = 0;
	va_start(ap, types);
	rc = ndx_sqldb_queryv(st->db, &rows, sql, types, ap);
	va_end(ap);
	if (rc)
		return rc;
	row = json_array_get(rows, 0);
	if (row && json_object_size(row) > 0)
		*out = json_integer_value(json_object_iter_value(json_object_iter(row)));
	json_decref(rows);
	return NDX_OK;
}

/* ---- open, create ------------------------------------------------------- */

static int store_connect(const char *loc, bool create, struct store **out)
{
	struct store *st;
	pthread_mutexattr_t attr;
	int rc;

	*out = NULL;
	st = calloc(1, sizeof *st);
	if (!st)
		return NDX_ENOMEM;
	if ((rc = ndx_sqldb_open(&reg_db_desc, loc, create, &st->db))) {
		free(st);
		return rc;
	}
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&st->mu, &attr);
	pthread_mutexattr_destroy(&attr);
	*out = st;
	return NDX_OK;
}

static int load_meta(struct store *st)
{
	int rc = ndx_sqldb_meta_get(st->db, "instance", &st->instance);
	if (!rc)
		rc = ndx_sqldb_meta_get(st->db, "registry_url", &st->registry_url);
	if (rc == NDX_ENOTFOUND) {
		fprintf(stderr, "ndx-registry: the database has no instance: not a registry "
				"database, or its init did not finish\n");
		rc = NDX_EDB;
	}
	return rc;
}

int store_create(const char *loc, const char *instance, const char *registry_url,
		 struct store **out)
{
	struct store *st;
	char changed[24];
	int rc;

	*out = NULL;
	rc = store_connect(loc, true, &st);
	if (rc)
		return rc;
	snprintf(changed, sizeof changed, "%lld", (long long)time(NULL));
	if ((rc = ndx_sqldb_write(st->db, "INSERT INTO meta(key, value) VALUES('instance', ?),"
				  " ('registry_url', ?), ('conf_version', '1'), ('conf_changed_at', ?)",
				  "sss", instance, registry_url, changed)) ||
	    (rc = load_meta(st)))
		goto fail;
	*out = st;
	return NDX_OK;
fail:
	store_close(st);
	return rc ? rc : NDX_EDB;
}

int store_open(const char *loc, struct store **out)
{
	struct store *st;
	int rc;

	*out = NULL;
	rc = store_connect(loc, false, &st);
	if (rc)
		return rc;
	if ((rc = load_meta(st))) {
		store_close(st);
		return rc;
	}
	*out = st;
	return NDX_OK;
}

void store_close(struct store *st)
{
	if (!st)
		return;
	st->db->ops->close(st->db);
	pthread_mutex_destroy(&st->mu);
	free(st->instance);
	free(st->registry_url);
	free(st);
}

const char *store_instance(const struct store *st)
{
	return st->instance;
}

const char *store_registry_url(const struct store *st)
{
	return st->registry_url;
}

const char *store_name(const struct store *st)
{
	return st->db->name;
}

void store_lock(struct store *st)
{
	pthread_mutex_lock(&st->mu);
}

void store_unlock(struct store *st)
{
	pthread_mutex_unlock(&st->mu);
}

int store_snapshot_begin(struct store *st)
{
	store_lock(st);
	if (st->db->ops->snapshot(st->db)) {
		store_unlock(st);
		return NDX_EDB;
	}
	return NDX_OK;
}

void store_snapshot_end(struct store *st)
{
	st->db->ops->rollback(st->db);
	store_unlock(st);
}

/* ---- changes ---------------------------------------------------------------- */

int store_begin(struct store *st)
{
	store_lock(st);
	if (st->db->ops->begin(st->db)) {
		store_unlock(st);
		return NDX_EDB;
	}
	return NDX_OK;
}

void store_rollback(struct store *st)
{
	st->db->ops->rollback(st->db);
	store_unlock(st);
}

int store_commit_quiet(struct store *st)
{
	int rc = st->db->ops->commit(st->db);

	if (rc) {
		store_rollback(st);
		return rc;
	}
	store_unlock(st);
	return NDX_OK;
}

static int write_audit(struct store *st, const char *actor, const char *remote,
		       const char *action, const char *object, const json_t *detail)
{
	char now[NDX_TIME_TEXT_LEN];
	char *text = detail ? json_dumps(detail, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	int rc;

	if (detail && !text)
		return NDX_ENOMEM;
	now_text(now);
	rc = ndx_sqldb_exec(st->db, "INSERT INTO audit(time, actor, remote, action, object, detail)"
			" VALUES(?,?,?,?,?,?)",
		    "ssssss", now, actor, remote ? remote : "", action, object,
		    text ? text : "{}");
	free(text);
	return rc;
}

int store_audit_event(struct store *st, const char *actor, const char *remote,
		      const char *action, const char *object, const json_t *detail)
{
	int rc;

	store_lock(st);
	rc = write_audit(st, actor, remote, action, object, detail);
	store_unlock(st);
	return rc;
}

int store_commit(struct store *st, const char *actor, const char *remote, const char *action,
		 const char *object, const json_t *detail, uint64_t *version)
{
	char changed[24];
	int64_t v;
	int rc;

	snprintf(changed, sizeof changed, "%lld", (long long)time(NULL));
	if ((rc = write_audit(st, actor, remote, action, object, detail)) ||
	    (rc = ndx_sqldb_exec(st->db, "UPDATE meta SET value = CAST(CAST(value AS BIGINT) + 1 AS TEXT)"
			     " WHERE key = 'conf_version'", "")) ||
	    (rc = ndx_sqldb_exec(st->db, "UPDATE meta SET value = ? WHERE key = 'conf_changed_at'", "s",
			 changed)) ||
	    (rc = query_int(st, &v, "SELECT CAST(value AS BIGINT) FROM meta"
				    " WHERE key = 'conf_version'", "")) ||
	    (rc = st->db->ops->commit(st->db))) {
		store_rollback(st);
		return rc == NDX_EEXIST ? NDX_EDB : rc;
	}
	if (version)
		*version = (uint64_t)v;
	store_unlock(st);
	return NDX_OK;
}

int store_commit_audited(struct store *st, const char *actor, const char *remote,
			 const char *action, const char *object, const json_t *detail)
{
	int rc = write_audit(st, actor, remote, action, object, detail);

	if (rc) {
		store_rollback(st);
		return rc;
	}
	return store_commit_quiet(st);
}

struct ndx_sqldb *store_db(struct store *st)
{
	return st->db;
}

int store_conf_version(struct store *st, uint64_t *out)
{
	int64_t changed;

	return store_conf_state(st, out, &changed);
}

int store_conf_state(struct store *st, uint64_t *version, int64_t *changed_at)
{
	json_t *rows, *row;
	size_t i;
	int rc;

	*version = 0;
	*changed_at = 0;
	store_lock(st);
	rc = ndx_sqldb_query(st->db, &rows, "SELECT key, value FROM meta"
				   " WHERE key IN ('conf_version', 'conf_changed_at')", "");
	store_unlock(st);
	if (rc)
		return rc;
	json_array_foreach(rows, i, row) {
		const char *k = json_string_value(json_object_get(row, "key"));
		const char *v = json_string_value(json_object_get(row, "value"));
		long long n = v ? strtoll(v, NULL, 10) : 0;
		if (k && strcmp(k, "conf_version") == 0)
			*version = n > 0 ? (uint64_t)n : 0;
		else if (k)
			*changed_at = n;
	}
	json_decref(rows);
	return *version ? NDX_OK : NDX_EDB;
}

/* ---- the witnessed tree heads (reg_witness.c) ---------------------------------- */

int store_witnessed_list(struct store *st, const char *gateway, json_t **out)
{
	int rc;
	store_lock(st);
	rc = ndx_sqldb_query(st->db, out, "SELECT batch, sth_hash FROM witnessed WHERE gateway = ?"
				 " ORDER BY batch", "s", gateway);
	store_unlock(st);
	return rc;
}

int store_witnessed_put(struct store *st, const char *gateway, int64_t batch,
			const char *sth_hash_hex, int64_t time_ms)
{
	return ndx_sqldb_exec(st->db, "INSERT INTO witnessed(gateway, batch, sth_hash, time_ms)"
			  " VALUES(?,?,?,?) ON CONFLICT(gateway, batch) DO UPDATE SET"
			  " sth_hash = excluded.sth_hash, time_ms = excluded.time_ms",
		      "sisi", gateway, batch, sth_hash_hex, time_ms);
}

/* ---- admin credentials ---------------------------------------------------- */

int store_token_add(struct store *st, const char *name, const char *sha256_hex,
		    const char *member, const char *actor)
{
	char now[NDX_TIME_TEXT_LEN];
	json_t *detail;
	int64_t taken = 0;
	int rc;

	now_text(now);
	if ((rc = store_begin(st)))
		return rc;
	detail = json_pack("{ssss*}", "name", name, "member", member);
	/* One name, one credential, across both tables. */
	rc = query_int(st, &taken, "SELECT (SELECT COUNT(*) FROM admin_tokens WHERE name = ?) +"
		       " (SELECT COUNT(*) FROM member_tokens WHERE name = ?)", "ss", name, name);
	if (!rc && taken)
		rc = NDX_EEXIST;
	if (!rc && member)
		rc = ndx_sqldb_exec(st->db, "INSERT INTO member_tokens(name, sha256, member,"
				    " created_at) VALUES(?,?,?,?)", "ssss", name, sha256_hex, member,
				    now);
	else if (!rc)
		rc = ndx_sqldb_exec(st->db, "INSERT INTO admin_tokens(name, sha256, created_at)"
				    " VALUES(?,?,?)", "sss", name, sha256_hex, now);
	if (!rc)
		rc = write_audit(st, actor, "local", "token.add", name, detail);
	json_decref(detail);
	if (rc) {
		store_rollback(st);
		return rc;
	}
	return store_commit_quiet(st);
}

int store_tokens(struct store *st, json_t **out)
{
	int rc;
	store_lock(st);
	rc = ndx_sqldb_query(st->db, out, "SELECT name, sha256, NULL AS member FROM admin_tokens"
			     " UNION ALL SELECT name, sha256, member FROM member_tokens ORDER BY name", "");
	store_unlock(st);
	return rc;
}

/* ---- members ---------------------------------------------------------------- */

int store_member_add(struct store *st, const char *id, const char *name)
{
	char now[NDX_TIME_TEXT_LEN];
	now_text(now);
	return ndx_sqldb_exec(st->db, "INSERT INTO members(id, name, created_at) VALUES(?,?,?)", "sss", id,
		      name, now);
}

int store_member_get(struct store *st, const char *id, json_t **out)
{
	int rc;
	store_lock(st);
	rc = ndx_sqldb_query_one(st->db, out, "SELECT id, name, created_at FROM members WHERE id = ?", "s", id);
	store_unlock(st);
	return rc;
}

int store_member_list(struct store *st, json_t **out)
{
	int rc;
	store_lock(st);
	rc = ndx_sqldb_query(st->db, out, "SELECT id, name, created_at FROM members ORDER BY id", "");
	store_unlock(st);
	return rc;
}

static int exists(struct store *st, const char *sql, const char *a, const char *b)
{
	int64_t n;
	int rc;
	store_lock(st);
	rc = b ? query_int(st, &n, sql, "ss", a, b) : query_int(st, &n, sql, "s", a);
	store_unlock(st);
	return rc ? rc : n > 0;
}

int store_member_exists(struct store *st, const char *id)
{
	return exists(st, "SELECT COUNT(*) FROM members WHERE id = ?", id, NULL);
}

int store_member_delete(struct store *st, const char *id, const char **why)
{
	int rc;
	*why = NULL;
	if ((rc = exists(st, "SELECT COUNT(*) FROM subsystems WHERE member = ?", id, NULL))) {
		*why = "the member still has subsystems; delete them first";
		return rc < 0 ? rc : NDX_EEXIST;
	}
	if ((rc = exists(st, "SELECT COUNT(*) FROM gateways WHERE member = ?", id, NULL))) {
		*why = "the member still has gateways; delete them first";
		return rc < 0 ? rc : NDX_EEXIST;
	}
	/* A member-level client (PR-REST 4.1) holds grants as the member. */
	if ((rc = exists(st, "SELECT COUNT(*) FROM grants WHERE client = ?", id, NULL))) {
		*why = "grants still name the member as client; delete them first";
		return rc < 0 ? rc : NDX_EEXIST;
	}
	if ((rc = exists(st, "SELECT COUNT(*) FROM negotiations WHERE agreement_state = 'active' AND client = ?", id, NULL))) {
		*why = "a marketplace agreement in force names the member as client; terminate it first";
		return rc < 0 ? rc : NDX_EEXIST;
	}
	return ndx_sqldb_change(st->db, "DELETE FROM members WHERE id = ?", "s", id);
}

/* ---- subsystems --------------------------------------------------------------- */

int store_subsystem_add(struct store *st, const char *id, const char *member)
{
	char now[NDX_TIME_TEXT_LEN];
	now_text(now);
	return ndx_sqldb_exec(st->db, "INSERT INTO subsystems(id, member, created_at) VALUES(?,?,?)", "sss",
		      id, member, now);
}

int store_subsystem_get(struct store *st, const char *id, json_t **out)
{
	int rc;
	store_lock(st);
	rc = ndx_sqldb_query_one(st->db, out, "SELECT id, member, created_at FROM subsystems WHERE id = ?", "s",
		       id);
	store_unlock(st);
	return rc;
}

int store_subsystem_list(struct store *st, const char *member, json_t **out)
{
	int rc;
	store_lock(st);
	rc = member ? ndx_sqldb_query(st->db, out, "SELECT id, member, created_at FROM subsystems"
					  " WHERE member = ? ORDER BY id", "s", member)
		    : ndx_sqldb_query(st->db, out, "SELECT id, member, created_at FROM subsystems"
					  " ORDER BY id", "");
	store_unlock(st);
	return rc;
}

int store_subsystem_exists(struct store *st, const char *id)
{
	return exists(st, "SELECT COUNT(*) FROM subsystems WHERE id = ?", id, NULL);
}

int store_subsystem_delete(struct store *st, const char *id, const char **why)
{
	int rc;
	*why = NULL;
	if ((rc = exists(st, "SELECT COUNT(*) FROM services WHERE subsystem = ?", id, NULL))) {
		*why = "the subsystem still provides services; delete them first";
		return rc < 0 ? rc : NDX_EEXIST;
	}
	if ((rc = exists(st, "SELECT COUNT(*) FROM grants WHERE client = ?", id, NULL))) {
		*why = "grants still name the subsystem as client; delete them first";
		return rc < 0 ? rc : NDX_EEXIST;
	}
	if ((rc = exists(st, "SELECT COUNT(*) FROM negotiations WHERE agreement_state = 'active' AND client = ?", id, NULL))) {
		*why = "a marketplace agreement in force names the subsystem as client; terminate it "
		       "first";
		return rc < 0 ? rc : NDX_EEXIST;
	}
	if ((rc = exists(st, "SELECT COUNT(*) FROM consent_services WHERE id = ?", id, NULL))) {
		*why = "the subsystem is registered as a consent service; remove that first";
		return rc < 0 ? rc : NDX_EEXIST;
	}
	if ((rc = exists(st, "SELECT COUNT(*) FROM subscriptions WHERE client = ?", id, NULL))) {
		*why = "subscriptions still name the subsystem as client; delete them first";
		return rc < 0 ? rc : NDX_EEXIST;
	}
	if ((rc = exists(st, "SELECT COUNT(*) FROM meta WHERE key = 'monitoring_client'"
			     " AND value = ?", id, NULL))) {
		*why = "the subsystem is the operator's monitoring client; clear that first";
		return rc < 0 ? rc : NDX_EEXIST;
	}
	return ndx_sqldb_change(st->db, "DELETE FROM subsystems WHERE id = ?", "s", id);
}

/* ---- the monitoring client --------------------------------------------------- */

int store_monitoring_get(struct store *st, char **client)
{
	int rc;

	store_lock(st);
	rc = ndx_sqldb_meta_get(st->db, "monitoring_client", client);
	store_unlock(st);
	return rc;
}

int store_monitoring_set(struct store *st, const char *client)
{
	int rc = store_subsystem_exists(st, client);

	if (rc < 0)
		return rc;
	if (rc == 0)
		return NDX_ENOTFOUND;
	return ndx_sqldb_exec(st->db, "INSERT INTO meta(key, value) VALUES('monitoring_client', ?)"
			  " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
		      "s", client);
}

int store_monitoring_clear(struct store *st)
{
	return ndx_sqldb_change(st->db, "DELETE FROM meta WHERE key = 'monitoring_client'", "");
}

/* ---- gateways ------------------------------------------------------------------ */

#define GATEWAY_COLUMNS                                                                    \
	"member, code, address, sign_key, sign_key_id, tls_cert_sha256,"                     \
	" tls_cert AS tls_certificate, created_at"

int store_gateway_add(struct store *st, const struct store_gateway *gw)
{
	char now[NDX_TIME_TEXT_LEN];
	now_text(now);
	return ndx_sqldb_exec(st->db, "INSERT INTO gateways(member, code, address, sign_key, sign_key_id,"
			  " tls_cert, tls_cert_sha256, created_at) VALUES(?,?,?,?,?,?,?,?)",
		      "ssssssss", gw->member, gw->code, gw->address, gw->sign_key,
		      gw->sign_key_id, gw->tls_cert, gw->tls_cert_sha256, now);
}

int store_gateway_get(struct store *st, const char *member, const char *code, json_t **out)
{
	int rc;
	store_lock(st);
	rc = ndx_sqldb_query_one(st->db, out, "SELECT " GATEWAY_COLUMNS " FROM gateways"
				" WHERE member = ? AND code = ?", "ss", member, code);
	store_unlock(st);
	return rc;
}

int store_gateway_list(struct store *st, const char *member, json_t **out)
{
	int rc;
	store_lock(st);
	rc = member ? ndx_sqldb_query(st->db, out, "SELECT " GATEWAY_COLUMNS " FROM gateways"
					  " WHERE member = ? ORDER BY member, code", "s", member)
		    : ndx_sqldb_query(st->db, out, "SELECT " GATEWAY_COLUMNS " FROM gateways"
					  " ORDER BY member, code", "");
	store_unlock(st);
	return rc;
}

int store_gateway_delete(struct store *st, const char *member, const char *code)
{
	int rc = ndx_sqldb_change(st->db, "DELETE FROM gateways WHERE member = ? AND code = ?",
				  "ss", member, code);

	return rc ? rc : ndx_sqldb_exec(st->db, "DELETE FROM retired_gateway_keys WHERE"
				       " member = ? AND code = ?", "ss", member, code);
}

int store_gateway_retire_key(struct store *st, const char *member, const char *code,
			     const char *sign_key, const char *sign_key_id, int64_t retired_ms)
{
	return ndx_sqldb_exec(st->db, "INSERT INTO retired_gateway_keys(member, code, sign_key_id,"
			      " sign_key, retired_ms) VALUES(?,?,?,?,?) ON CONFLICT(member, code,"
			      " sign_key_id) DO UPDATE SET sign_key = excluded.sign_key,"
			      " retired_ms = excluded.retired_ms", "ssssi", member, code,
			      sign_key_id, sign_key, retired_ms);
}

int store_gateway_retired_key(struct store *st, const char *member, const char *code,
			      const char *sign_key_id, json_t **out)
{
	int rc;
	store_lock(st);
	rc = ndx_sqldb_query_one(st->db, out, "SELECT sign_key, sign_key_id, retired_ms FROM"
				 " retired_gateway_keys WHERE member = ? AND code = ? AND"
				 " sign_key_id = ?", "sss", member, code, sign_key_id);
	store_unlock(st);
	return rc;
}

int store_gateway_rekey(struct store *st, const struct store_gateway *gw)
{
	return ndx_sqldb_change(st->db, "UPDATE gateways SET sign_key = ?, sign_key_id = ?,"
			  " tls_cert = ?, tls_cert_sha256 = ? WHERE member = ? AND code = ?",
			  "ssssss", gw->sign_key, gw->sign_key_id, gw->tls_cert,
			  gw->tls_cert_sha256, gw->member, gw->code);
}

/* ---- services ------------------------------------------------------------------ */

#define SERVICE_COLUMNS                                                                    \
	"id, subsystem, title, personal, purposes, bulk_purposes, consent_required,"            \
	" openapi_sha256, created_at"

int store_service_add(struct store *st, const struct store_service *svc)
{
	char now[NDX_TIME_TEXT_LEN];
	char *purposes = json_dumps(svc->purposes, JSON_COMPACT);
	char *bulk = svc->bulk_purposes ? json_dumps(svc->bulk_purposes, JSON_COMPACT)
					: dup_str("[]");
	int rc = NDX_ENOMEM;

	now_text(now);
	if (purposes && bulk)
		rc = ndx_sqldb_exec(st->db, "INSERT INTO services(id, subsystem, title, personal, purposes,"
				" bulk_purposes, consent_required, openapi, openapi_sha256,"
				" created_at) VALUES(?,?,?,?,?,?,?,?,?,?)",
			    "sssississs", svc->id, svc->subsystem, svc->title,
			    (int64_t)(svc->personal != 0), purposes, bulk,
			    (int64_t)(svc->consent_required != 0), svc->openapi,
			    svc->openapi_sha256, now);
	free(purposes);
	free(bulk);
	return rc;
}

int store_service_set_bulk(struct store *st, const char *id, const json_t *bulk_purposes)
{
	char *bulk = json_dumps(bulk_purposes, JSON_COMPACT);
	int rc;

	if (!bulk)
		return NDX_ENOMEM;
	rc = ndx_sqldb_change(st->db, "UPDATE services SET bulk_purposes = ? WHERE id = ?", "ss", bulk, id);
	free(bulk);
	return rc;
}

int store_service_get(struct store *st, const char *id, json_t **out)
{
	int rc;
	store_lock(st);
	rc = ndx_sqldb_query_one(st->db, out, "SELECT " SERVICE_COLUMNS " FROM services WHERE id = ?", "s", id);
	store_unlock(st);
	return rc;
}

int store_service_list(struct store *st, const char *subsystem, json_t **out)
{
	int rc;
	store_lock(st);
	rc = subsystem ? ndx_sqldb_query(st->db, out, "SELECT " SERVICE_COLUMNS " FROM services"
					     " WHERE subsystem = ? ORDER BY id", "s", subsystem)
		       : ndx_sqldb_query(st->db, out, "SELECT " SERVICE_COLUMNS " FROM services"
					     " ORDER BY id", "");
	store_unlock(st);
	return rc;
}

int store_service_exists(struct store *st, const char *id)
{
	return exists(st, "SELECT COUNT(*) FROM services WHERE id = ?", id, NULL);
}

int store_service_delete(struct store *st, const char *id, const char **why)
{
	int rc;
	*why = NULL;
	if ((rc = exists(st, "SELECT COUNT(*) FROM grants WHERE service = ?", id, NULL))) {
		*why = "grants still name the service; delete them first";
		return rc < 0 ? rc : NDX_EEXIST;
	}
	if ((rc = exists(st, "SELECT COUNT(*) FROM event_types WHERE service = ?", id, NULL))) {
		*why = "the service still has event types; delete them first";
		return rc < 0 ? rc : NDX_EEXIST;
	}
	if ((rc = exists(st, "SELECT COUNT(*) FROM market_datasets WHERE service = ?", id, NULL))) {
		*why = "the marketplace catalogue still offers the service; withdraw its dataset first";
		return rc < 0 ? rc : NDX_EEXIST;
	}
	if ((rc = exists(st, "SELECT COUNT(*) FROM negotiations WHERE agreement_state = 'active' AND service = ?", id, NULL))) {
		*why = "a marketplace agreement in force names the service; terminate it first";
		return rc < 0 ? rc : NDX_EEXIST;
	}
	return ndx_sqldb_change(st->db, "DELETE FROM services WHERE id = ?", "s", id);
}

int store_service_openapi(struct store *st, const char *id, char **text, size_t *len)
{
	json_t *row, *v;
	int rc;

	*text = NULL;
	*len = 0;
	store_lock(st);
	rc = ndx_sqldb_query_one(st->db, &row, "SELECT openapi AS text FROM services WHERE id = ?", "s", id);
	store_unlock(st);
	if (rc)
		return rc;
	v = json_object_get(row, "text");
	if (!json_is_string(v)) {
		json_decref(row);
		return NDX_ENOTFOUND;
	}
	*len = json_string_length(v);
	*text = malloc(*len + 1);
	if (*text) {
		memcpy(*text, json_string_value(v), *len + 1);
	} else {
		*len = 0;
		rc = NDX_ENOMEM;
	}
	json_decref(row);
	return rc;
}

/* ---- grants ---------------------------------------------------------------------- */

#define GRANT_COLUMNS "id, client, service, methods, paths, created_at"

int store_grant_add(struct store *st, const char *client, const char *service,
		    const json_t *methods, const json_t *paths, int64_t *id)
{
	char now[NDX_TIME_TEXT_LEN];
	char *m = json_dumps(methods, JSON_COMPACT);
	char *p = json_dumps(paths, JSON_COMPACT);
	int rc = NDX_ENOMEM;

	now_text(now);
	if (m && p)
		rc = query_int(st, id, "INSERT INTO grants(client, service, methods, paths,"
				       " created_at) VALUES(?,?,?,?,?) RETURNING id",
			       "sssss", client, service, m, p, now);
	free(m);
	free(p);
	return rc;
}

int store_grant_get(struct store *st, int64_t id, json_t **out)
{
	int rc;
	store_lock(st);
	rc = ndx_sqldb_query_one(st->db, out, "SELECT " GRANT_COLUMNS " FROM grants WHERE id = ?", "i", id);
	store_unlock(st);
	return rc;
}

int store_grant_list(struct store *st, const char *client, const char *service, json_t **out)
{
	int rc;
	store_lock(st);
	rc = ndx_sqldb_query(st->db, out, "SELECT " GRANT_COLUMNS " FROM grants"
				 " WHERE (?1 IS NULL OR client = ?1) AND (?2 IS NULL OR service = ?2)"
				 " ORDER BY id", "ss", client, service);
	store_unlock(st);
	return rc;
}

int store_grant_delete(struct store *st, int64_t id)
{
	return ndx_sqldb_change(st->db, "DELETE FROM grants WHERE id = ?", "i", id);
}

/* ---- revocations ------------------------------------------------------------------ */

int store_revocation_add(struct store *st, const char *kind, const char *value,
			 const char *reason, json_t **out)
{
	char now[NDX_TIME_TEXT_LEN];
	*out = NULL;
	now_text(now);
	return ndx_sqldb_query_one(st->db, out, "INSERT INTO revocations(kind, value, reason, revoked_at)"
				  " VALUES(?,?,?,?) RETURNING kind, value, revoked_at, reason",
			 "ssss", kind, value, reason, now);
}

int store_revocation_list(struct store *st, json_t **out)
{
	int rc;
	store_lock(st);
	rc = ndx_sqldb_query(st->db, out, "SELECT kind, value, revoked_at, reason FROM revocations"
				 " ORDER BY kind, value", "");
	store_unlock(st);
	return rc;
}

int store_revocation_has(struct store *st, const char *kind, const char *value)
{
	json_t *row = NULL;
	int rc;

	store_lock(st);
	rc = ndx_sqldb_query_one(st->db, &row, "SELECT kind FROM revocations WHERE kind = ?"
				 " AND lower(value) = lower(?)", "ss", kind, value);
	store_unlock(st);
	json_decref(row);
	return rc == NDX_OK ? 1 : rc == NDX_ENOTFOUND ? 0 : -1;
}

/* ---- consent services ------------------------------------------------------------- */

#define CONSENT_SERVICE_COLUMNS "id, url, sign_key, sign_key_id, created_at"

int store_consent_service_add(struct store *st, const struct store_consent_service *cs)
{
	char now[NDX_TIME_TEXT_LEN];
	now_text(now);
	return ndx_sqldb_exec(st->db, "INSERT INTO consent_services(id, url, sign_key, sign_key_id,"
			  " created_at) VALUES(?,?,?,?,?)",
		      "sssss", cs->id, cs->url, cs->sign_key, cs->sign_key_id, now);
}

int store_consent_service_get(struct store *st, const char *id, json_t **out)
{
	int rc;
	store_lock(st);
	rc = ndx_sqldb_query_one(st->db, out, "SELECT " CONSENT_SERVICE_COLUMNS " FROM consent_services"
				" WHERE id = ?", "s", id);
	store_unlock(st);
	return rc;
}

int store_consent_service_list(struct store *st, json_t **out)
{
	int rc;
	store_lock(st);
	rc = ndx_sqldb_query(st->db, out, "SELECT " CONSENT_SERVICE_COLUMNS " FROM consent_services"
				 " ORDER BY id", "");
	store_unlock(st);
	return rc;
}

int store_consent_service_delete(struct store *st, const char *id, const char **why)
{
	*why = NULL;
	return ndx_sqldb_change(st->db, "DELETE FROM consent_services WHERE id = ?", "s", id);
}

/* ---- embargoes ---------------------------------------------------------------------- */

#define EMBARGO_COLUMNS "purpose, seconds, created_at, updated_at"

int store_embargo_set(struct store *st, const char *purpose, int64_t seconds, int *created)
{
	char now[NDX_TIME_TEXT_LEN];
	int64_t n;
	int rc;

	now_text(now);
	if ((rc = query_int(st, &n, "SELECT COUNT(*) FROM embargoes WHERE purpose = ?", "s",
			    purpose)))
		return rc;
	*created = n == 0;
	if (n == 0)
		return ndx_sqldb_exec(st->db, "INSERT INTO embargoes(purpose, seconds, created_at, updated_at)"
				  " VALUES(?,?,?,?)", "siss", purpose, seconds, now, now);
	return ndx_sqldb_exec(st->db, "UPDATE embargoes SET seconds = ?, updated_at = ? WHERE purpose = ?",
		      "iss", seconds, now, purpose);
}

int store_embargo_get(struct store *st, const char *purpose, json_t **out)
{
	int rc;
	store_lock(st);
	rc = ndx_sqldb_query_one(st->db, out, "SELECT " EMBARGO_COLUMNS " FROM embargoes WHERE purpose = ?", "s",
		       purpose);
	store_unlock(st);
	return rc;
}

int store_embargo_list(struct store *st, json_t **out)
{
	int rc;
	store_lock(st);
	rc = ndx_sqldb_query(st->db, out, "SELECT " EMBARGO_COLUMNS " FROM embargoes ORDER BY purpose", "");
	store_unlock(st);
	return rc;
}

int store_embargo_delete(struct store *st, const char *purpose, const char **why)
{
	*why = NULL;
	return ndx_sqldb_change(st->db, "DELETE FROM embargoes WHERE purpose = ?", "s", purpose);
}

/* ---- id providers -------------------------------------------------------------------- */

#define ID_PROVIDER_COLUMNS "issuer, sign_key, sign_key_id, created_at"

int store_id_provider_add(struct store *st, const char *issuer, const char *sign_key,
			  const char *sign_key_id)
{
	char now[NDX_TIME_TEXT_LEN];
	now_text(now);
	return ndx_sqldb_exec(st->db, "INSERT INTO id_providers(issuer, sign_key, sign_key_id, created_at)"
			  " VALUES(?,?,?,?)", "ssss", issuer, sign_key, sign_key_id, now);
}

int store_id_provider_get(struct store *st, const char *issuer, json_t **out)
{
	int rc;
	store_lock(st);
	rc = ndx_sqldb_query_one(st->db, out, "SELECT " ID_PROVIDER_COLUMNS " FROM id_providers"
				" WHERE issuer = ?", "s", issuer);
	store_unlock(st);
	return rc;
}

int store_id_provider_list(struct store *st, json_t **out)
{
	int rc;
	store_lock(st);
	rc = ndx_sqldb_query(st->db, out, "SELECT " ID_PROVIDER_COLUMNS " FROM id_providers"
				 " ORDER BY issuer", "");
	store_unlock(st);
	return rc;
}

int store_id_provider_delete(struct store *st, const char *issuer, const char **why)
{
	*why = NULL;
	return ndx_sqldb_change(st->db, "DELETE FROM id_providers WHERE issuer = ?", "s", issuer);
}

/* ---- event types and subscriptions ---------------------------------------------------- */

#define EVENT_TYPE_COLUMNS "service, name, title, schema, created_at"
#define SUBSCRIPTION_COLUMNS                                                               \
	"id, client, service, event, purpose, retry_first_s, retry_max_s, give_up_after_s,"  \
	" created_at"

int store_event_type_add(struct store *st, const char *service, const char *name,
			 const char *title, const char *schema)
{
	char now[NDX_TIME_TEXT_LEN];
	now_text(now);
	return ndx_sqldb_exec(st->db, "INSERT INTO event_types(service, name, title, schema, created_at)"
			  " VALUES(?,?,?,?,?)", "sssss", service, name, title, schema, now);
}

int store_event_type_get(struct store *st, const char *service, const char *name,
			 json_t **out)
{
	int rc;
	store_lock(st);
	rc = ndx_sqldb_query_one(st->db, out, "SELECT " EVENT_TYPE_COLUMNS " FROM event_types"
				" WHERE service = ? AND name = ?", "ss", service, name);
	store_unlock(st);
	return rc;
}

int store_event_type_list(struct store *st, const char *service, json_t **out)
{
	int rc;
	store_lock(st);
	rc = ndx_sqldb_query(st->db, out, "SELECT " EVENT_TYPE_COLUMNS " FROM event_types"
				 " WHERE ?1 IS NULL OR service = ?1 ORDER BY service, name", "s",
			service);
	store_unlock(st);
	return rc;
}

int store_event_type_exists(struct store *st, const char *service, const char *name)
{
	return exists(st, "SELECT COUNT(*) FROM event_types WHERE service = ? AND name = ?",
		      service, name);
}

int store_event_type_delete(struct store *st, const char *service, const char *name,
			    const char **why)
{
	int rc;
	*why = NULL;
	if ((rc = exists(st, "SELECT COUNT(*) FROM subscriptions WHERE service = ? AND event = ?",
			 service, name))) {
		*why = "subscriptions still name the event type; delete them first";
		return rc < 0 ? rc : NDX_EEXIST;
	}
	if ((rc = exists(st, "SELECT COUNT(*) FROM market_datasets WHERE service = ? AND event = ?",
			 service, name))) {
		*why = "the marketplace catalogue still offers the event type; withdraw its dataset "
		       "first";
		return rc < 0 ? rc : NDX_EEXIST;
	}
	if ((rc = exists(st, "SELECT COUNT(*) FROM negotiations n JOIN negotiation_events e ON"
			 " e.provider_pid = n.provider_pid WHERE n.agreement_state = 'active' AND"
			 " n.service = ? AND e.event = ?", service, name))) {
		*why = "a marketplace agreement in force names the event type; terminate it first";
		return rc < 0 ? rc : NDX_EEXIST;
	}
	return ndx_sqldb_change(st->db, "DELETE FROM event_types WHERE service = ? AND name = ?", "ss",
			 service, name);
}

int store_subscription_add(struct store *st, const struct store_subscription *sub,
			   int64_t *id)
{
	char now[NDX_TIME_TEXT_LEN];

	now_text(now);
	return query_int(st, id, "INSERT INTO subscriptions(client, service, event, purpose,"
				 " retry_first_s, retry_max_s, give_up_after_s, created_at)"
				 " VALUES(?,?,?,?,?,?,?,?) RETURNING id",
			 "ssssiiis", sub->client, sub->service, sub->event, sub->purpose,
			 sub->retry_first_s, sub->retry_max_s, sub->give_up_after_s, now);
}

int store_subscription_get(struct store *st, int64_t id, json_t **out)
{
	int rc;
	store_lock(st);
	rc = ndx_sqldb_query_one(st->db, out, "SELECT " SUBSCRIPTION_COLUMNS " FROM subscriptions WHERE id = ?",
		       "i", id);
	store_unlock(st);
	return rc;
}

int store_subscription_list(struct store *st, const char *client, const char *service,
			    json_t **out)
{
	int rc;
	store_lock(st);
	rc = ndx_sqldb_query(st->db, out, "SELECT " SUBSCRIPTION_COLUMNS " FROM subscriptions"
				 " WHERE (?1 IS NULL OR client = ?1) AND (?2 IS NULL OR service = ?2)"
				 " ORDER BY id", "ss", client, service);
	store_unlock(st);
	return rc;
}

int store_subscription_delete(struct store *st, int64_t id)
{
	return ndx_sqldb_change(st->db, "DELETE FROM subscriptions WHERE id = ?", "i", id);
}

int store_counts(struct store *st, json_t **out)
{
	int rc;
	store_lock(st);
	rc = ndx_sqldb_query_one(st->db, out, "SELECT (SELECT count(*) FROM members) AS members,"
				" (SELECT count(*) FROM subsystems) AS subsystems,"
				" (SELECT count(*) FROM gateways) AS gateways,"
				" (SELECT count(*) FROM services) AS services,"
				" (SELECT count(*) FROM grants) AS grants", "");
	store_unlock(st);
	return rc;
}

/* ---- audit -------------------------------------------------------------------------- */

int store_audit_list(struct store *st, int64_t before, int limit, json_t **out)
{
	return store_audit_search(st, NULL, before, limit, out);
}

/* text with LIKE's wildcards and escape character escaped by a backslash,
 * malloc'd. */
static char *like_escaped(const char *text)
{
	char *out = malloc(2 * strlen(text) + 1), *o = out;

	if (!out)
		return NULL;
	for (; *text; text++) {
		if (*text == '%' || *text == '_' || *text == '\\')
			*o++ = '\\';
		*o++ = *text;
	}
	*o = '\0';
	return out;
}

int store_audit_search(struct store *st, const struct store_audit_filter *f, int64_t before,
		       int limit, json_t **out)
{
	const struct store_audit_filter none = { 0 };
	char *actor, *action;
	int rc;

	if (!f)
		f = &none;
	actor = like_escaped(f->actor ? f->actor : "");
	action = like_escaped(f->action ? f->action : "");
	if (!actor || !action) {
		free(actor);
		free(action);
		return NDX_ENOMEM;
	}
	store_lock(st);
	rc = ndx_sqldb_query(st->db, out, "SELECT seq, time, actor, remote, action, object, detail"
			     " FROM audit WHERE (?1 = 0 OR seq < ?1)"
			     " AND (?3 = '' OR actor LIKE '%' || ?3 || '%' ESCAPE '\\')"
			     " AND (?4 = '' OR action = ?5 OR action LIKE ?4 || '.%' ESCAPE '\\')"
			     " AND (?6 = '' OR time >= ?6) AND (?7 = '' OR time <= ?7)"
			     " ORDER BY seq DESC LIMIT ?2",
			     "iisssss", before, (int64_t)limit, actor, action,
			     f->action ? f->action : "", f->since ? f->since : "",
			     f->until ? f->until : "");
	store_unlock(st);
	free(actor);
	free(action);
	return rc;
}

/* ---- the console's officials ------------------------------------------------------ */

#define OFFICIAL_SELECT                                                                     \
	"SELECT o.subject, o.name, o.role, m.member, o.created_at FROM officials o"         \
	" LEFT JOIN official_members m ON m.subject = o.subject"

int store_official_put(struct store *st, const char *subject, const char *name, const char *role,
		       const char *member, const char *actor, const char *remote)
{
	char now[NDX_TIME_TEXT_LEN];
	json_t *detail = json_pack("{ssssso}", "name", name, "role", role, "member",
				   member ? json_string(member) : json_null());
	int rc;

	if (!detail)
		return NDX_ENOMEM;
	now_text(now);
	if ((rc = store_begin(st))) {
		json_decref(detail);
		return rc;
	}
	rc = ndx_sqldb_exec(st->db, "INSERT INTO officials(subject, name, role, created_at)"
			    " VALUES(?,?,?,?) ON CONFLICT(subject) DO UPDATE SET"
			    " name = excluded.name, role = excluded.role",
			    "ssss", subject, name, role, now);
	if (!rc)
		rc = ndx_sqldb_exec(st->db, "DELETE FROM official_members WHERE subject = ?", "s",
				    subject);
	if (!rc && member)
		rc = ndx_sqldb_exec(st->db, "INSERT INTO official_members(subject, member)"
				    " VALUES(?,?)", "ss", subject, member);
	if (rc)
		store_rollback(st);
	else
		rc = store_commit_audited(st, actor, remote, "official.add", subject, detail);
	json_decref(detail);
	return rc;
}

int store_official_remove(struct store *st, const char *subject, const char *actor,
			  const char *remote)
{
	int64_t n = 0;
	int rc;

	if ((rc = store_begin(st)))
		return rc;
	rc = query_int(st, &n, "SELECT COUNT(*) FROM officials WHERE subject = ?", "s", subject);
	if (!rc && !n)
		rc = NDX_ENOTFOUND;
	if (!rc)
		rc = ndx_sqldb_exec(st->db, "DELETE FROM officials WHERE subject = ?", "s", subject);
	if (!rc)
		rc = ndx_sqldb_exec(st->db, "DELETE FROM official_members WHERE subject = ?", "s",
				    subject);
	if (rc) {
		store_rollback(st);
		return rc;
	}
	return store_commit_audited(st, actor, remote, "official.remove", subject, NULL);
}

int store_official_get(struct store *st, const char *subject, json_t **out)
{
	json_t *rows = NULL;
	int rc;

	*out = NULL;
	store_lock(st);
	rc = ndx_sqldb_query(st->db, &rows, OFFICIAL_SELECT " WHERE o.subject = ?", "s", subject);
	store_unlock(st);
	if (rc)
		return rc;
	if (json_array_size(rows) == 0) {
		json_decref(rows);
		return NDX_ENOTFOUND;
	}
	*out = json_incref(json_array_get(rows, 0));
	json_decref(rows);
	return NDX_OK;
}

int store_official_list(struct store *st, json_t **out)
{
	int rc;

	store_lock(st);
	rc = ndx_sqldb_query(st->db, out, OFFICIAL_SELECT " ORDER BY o.subject", "");
	store_unlock(st);
	return rc;
}

/* ---- keys ----------------------------------------------------------------------------- */

int store_key_holders(struct store *st, const char *sign_key_id, json_t **out)
{
	int rc;
	store_lock(st);
	rc = ndx_sqldb_query(st->db, out,
			"SELECT 'gateway' AS role, member || '/' || code AS holder, member"
			" FROM gateways WHERE sign_key_id = ?1"
			" UNION ALL SELECT 'consent service', id, '' FROM consent_services"
			" WHERE sign_key_id = ?1"
			" UNION ALL SELECT 'id provider', issuer, '' FROM id_providers"
			" WHERE sign_key_id = ?1",
			"s", sign_key_id);
	store_unlock(st);
	return rc;
}
