/* The portal's store (store.h) over its two engines (portal_db.h: SQLite by
 * default, PostgreSQL for a postgresql:// location): every query is here
 * once, in the SQL both engines speak. Every public function takes the
 * store mutex for its whole duration: the connection is shared by the HTTP
 * pool, and a transaction begun by one thread must not swallow another
 * thread's statements. Each read-check-write (a state transition, an
 * administration change and its audit row) is one write transaction of
 * the engine, which on PostgreSQL also serialises it against every other
 * ndx-portal on the same schema. Procedures keep their fields and result
 * as JSON text; an attachment's bytes are lower-case hex text; the answer
 * is assembled here so that the API and the procedures see one shape.
 * Overview: docs/portal.md, docs/scale.md "The portal on PostgreSQL". */
#include "store.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "ndx/encode.h"
#include "ndx/err.h"
#include "ndx/sqldb.h"
#include "ndx/timefmt.h"
#include "portal_db.h"
#include "signin_store.h"

#define PROG "ndx-portal"

struct pstore {
	struct ndx_sqldb *db;
	pthread_mutex_t mu;
};

static void lock(struct pstore *st)
{
	pthread_mutex_lock(&st->mu);
}

static void unlock(struct pstore *st)
{
	pthread_mutex_unlock(&st->mu);
}

/* ---- statements and rows ------------------------------------------------ */

static int begin(struct pstore *st)
{
	return st->db->ops->begin(st->db);
}

/* Commits; on failure the transaction is rolled back. */
static int commit(struct pstore *st)
{
	int rc = st->db->ops->commit(st->db);

	if (rc)
		st->db->ops->rollback(st->db);
	return rc;
}

static void rollback(struct pstore *st)
{
	st->db->ops->rollback(st->db);
}

/* Runs a statement that returns no rows; *n (when not NULL) = the rows it
 * changed. A key violation is NDX_EEXIST. */
static int run(struct pstore *st, int64_t *n, const char *sql, const char *types, ...)
{
	va_list ap;
	int rc;

	if (n)
		*n = 0;
	va_start(ap, types);
	rc = st->db->ops->run(st->db, sql, types, ap, NULL, n);
	va_end(ap);
	return rc;
}

/* A text column ("" when null). */
static const char *cs(const json_t *row, const char *col)
{
	const char *v = json_string_value(json_object_get(row, col));

	return v ? v : "";
}

static void col_str(const json_t *row, const char *col, char *out, size_t cap)
{
	snprintf(out, cap, "%s", cs(row, col));
}

static json_t *time_json(int64_t t)
{
	char buf[NDX_TIME_TEXT_LEN];

	ndx_time_format((time_t)t, buf);
	return json_string(buf);
}

/* An integer time column as RFC 3339, or null. */
static json_t *col_time(const json_t *row, const char *col)
{
	return ndx_sqldb_is_null(row, col) ? json_null() : time_json(ndx_sqldb_int(row, col));
}

/* A text column as a string, or null. */
static json_t *col_text(const json_t *row, const char *col)
{
	return ndx_sqldb_is_null(row, col) ? json_null() : json_string(cs(row, col));
}

/* A JSON text column parsed (null when null or not JSON). */
static json_t *col_json(const json_t *row, const char *col)
{
	const char *t = json_string_value(json_object_get(row, col));
	json_t *v = t ? json_loads(t, 0, NULL) : NULL;

	return v ? v : json_null();
}

/* ---- open ------------------------------------------------------------------ */

/* Marks a new database as the portal's (meta kind), or checks that an
 * existing one is: a database holding another program's rows in meta (a
 * PostgreSQL schema given to another daemon) is refused. */
static int claim(struct pstore *st)
{
	json_t *rows = NULL, *r;
	size_t i;
	int rc, mine = 0, other = 0;

	if ((rc = begin(st)))
		return rc;
	if ((rc = ndx_sqldb_query(st->db, &rows,
				  "SELECT key, value FROM meta WHERE key <> 'pg_schema'", ""))) {
		rollback(st);
		return rc;
	}
	json_array_foreach(rows, i, r) {
		if (strcmp(cs(r, "key"), "kind") == 0 && strcmp(cs(r, "value"), PORTAL_DB_KIND) == 0)
			mine = 1;
		else
			other = 1;
	}
	json_decref(rows);
	if (other) {
		rollback(st);
		fprintf(stderr, PROG ": %s is not an ndx-portal database (it holds another"
				" program's store)\n", st->db->name);
		return NDX_EDB;
	}
	if (!mine && (rc = run(st, NULL, "INSERT INTO meta(key, value) VALUES('kind', ?)", "s",
			       PORTAL_DB_KIND))) {
		rollback(st);
		return rc;
	}
	return commit(st);
}

int pstore_open(const char *loc, struct pstore **out)
{
	struct pstore *st = calloc(1, sizeof *st);
	int rc;

	*out = NULL;
	if (!st)
		return NDX_ENOMEM;
	/* Created when missing: a SQLite file that is not there, a PostgreSQL
	 * schema without the portal's tables (create says NDX_EEXIST when it
	 * has them, and open then brings them up to date). */
	if (ndx_sqldb_is_pg(loc)) {
		rc = ndx_sqldb_open(&portal_db_desc, loc, true, &st->db);
		if (rc == NDX_EEXIST)
			rc = ndx_sqldb_open(&portal_db_desc, loc, false, &st->db);
	} else {
		rc = ndx_sqldb_open(&portal_db_desc, loc, access(loc, F_OK) != 0, &st->db);
	}
	if (rc) {
		free(st);
		return rc == NDX_EEXIST ? NDX_EDB : rc;
	}
	if ((rc = claim(st))) {
		st->db->ops->close(st->db);
		free(st);
		return rc == NDX_EEXIST ? NDX_EDB : rc;
	}
	pthread_mutex_init(&st->mu, NULL);
	*out = st;
	return NDX_OK;
}

const char *pstore_name(const struct pstore *st)
{
	return st->db->name;
}

void pstore_close(struct pstore *st)
{
	if (!st)
		return;
	st->db->ops->close(st->db);
	pthread_mutex_destroy(&st->mu);
	free(st);
}

/* ---- sessions ----------------------------------------------------------- */

void psession_clear(struct psession *s)
{
	free(s->id_token);
	memset(s, 0, sizeof *s);
}

int pstore_session_create(struct pstore *st, const char *id_sha256, const struct psession *s)
{
	int rc;

	lock(st);
	/* Sessions past the longest possible life go here, not in a timer. */
	if ((rc = run(st, NULL, "DELETE FROM sessions WHERE created_at < ?", "i",
		      (int64_t)s->created_at - 8 * 3600)) == NDX_OK)
		rc = run(st, NULL,
			 "INSERT INTO sessions(id_sha256, kind, subject, name, agency, username,"
			 " csrf, id_token, created_at, last_seen) VALUES(?,?,?,?,?,?,?,?,?,?)",
			 "ssssssssii", id_sha256, s->kind, s->subject, s->name, s->agency,
			 s->username, s->csrf, s->id_token, (int64_t)s->created_at,
			 (int64_t)s->last_seen);
	unlock(st);
	return rc;
}

static int session_delete_locked(struct pstore *st, const char *id_sha256)
{
	return run(st, NULL, "DELETE FROM sessions WHERE id_sha256 = ?", "s", id_sha256);
}

int pstore_session_get(struct pstore *st, const char *id_sha256, time_t now, long idle_s,
		       long max_s, struct psession *out)
{
	json_t *row = NULL;
	int rc;

	memset(out, 0, sizeof *out);
	lock(st);
	if ((rc = ndx_sqldb_query_one(st->db, &row,
				      "SELECT kind, subject, name, agency, username, csrf, id_token,"
				      " created_at, last_seen FROM sessions WHERE id_sha256 = ?",
				      "s", id_sha256)))
		goto out;
	col_str(row, "kind", out->kind, sizeof out->kind);
	col_str(row, "subject", out->subject, sizeof out->subject);
	col_str(row, "name", out->name, sizeof out->name);
	col_str(row, "agency", out->agency, sizeof out->agency);
	col_str(row, "username", out->username, sizeof out->username);
	col_str(row, "csrf", out->csrf, sizeof out->csrf);
	out->created_at = (time_t)ndx_sqldb_int(row, "created_at");
	out->last_seen = (time_t)ndx_sqldb_int(row, "last_seen");
	if (!ndx_sqldb_is_null(row, "id_token") && !(out->id_token = strdup(cs(row, "id_token")))) {
		rc = NDX_ENOMEM;
		goto out;
	}
	if (now - out->last_seen > idle_s || now - out->created_at > max_s) {
		session_delete_locked(st, id_sha256);
		rc = NDX_ENOTFOUND;
		goto out;
	}
	rc = run(st, NULL, "UPDATE sessions SET last_seen = ? WHERE id_sha256 = ?", "is",
		 (int64_t)now, id_sha256);
	out->last_seen = now;
out:
	unlock(st);
	json_decref(row);
	if (rc != NDX_OK)
		psession_clear(out);
	return rc;
}

int pstore_session_delete(struct pstore *st, const char *id_sha256)
{
	int rc;

	lock(st);
	rc = session_delete_locked(st, id_sha256);
	unlock(st);
	return rc;
}

/* ---- logins ------------------------------------------------------------------ */

int pstore_login_put(struct pstore *st, const char *state_sha256, const char *browser_sha256,
		     const char *nonce, const char *verifier, const char *next, time_t now)
{
	int rc;

	lock(st);
	/* Abandoned logins older than an hour go with every new one. */
	if ((rc = run(st, NULL, "DELETE FROM logins WHERE created_at < ?", "i",
		      (int64_t)now - 3600)) == NDX_OK)
		rc = run(st, NULL,
			 "INSERT INTO logins(state_sha256, nonce, verifier, next, created_at,"
			 " browser_sha256) VALUES(?,?,?,?,?,?)",
			 "ssssis", state_sha256, nonce, verifier, next ? next : "", (int64_t)now,
			 browser_sha256);
	unlock(st);
	return rc;
}

int pstore_login_take(struct pstore *st, const char *state_sha256, time_t now, long max_age_s,
		      char browser_sha256[PSTORE_HASH_HEX], char *nonce, char *verifier,
		      size_t cap, char *next, size_t next_cap)
{
	json_t *row = NULL;
	int rc;

	lock(st);
	/* DELETE … RETURNING: a state is used at most once even when the same
	 * callback arrives twice at the same moment. */
	rc = ndx_sqldb_query_one(st->db, &row,
				 "DELETE FROM logins WHERE state_sha256 = ?"
				 " RETURNING nonce, verifier, created_at, next, browser_sha256",
				 "s", state_sha256);
	unlock(st);
	if (rc)
		return rc;
	col_str(row, "nonce", nonce, cap);
	col_str(row, "verifier", verifier, cap);
	col_str(row, "next", next, next_cap);
	col_str(row, "browser_sha256", browser_sha256, PSTORE_HASH_HEX);
	rc = now - (time_t)ndx_sqldb_int(row, "created_at") > max_age_s ? NDX_ENOTFOUND : NDX_OK;
	json_decref(row);
	return rc;
}

/* ---- officers ------------------------------------------------------------------ */

static int audit_locked(struct pstore *st, const struct padmin_actor *by, const char *action,
			const char *target, const char *target_name, const char *member,
			json_t *detail, time_t now);

static int end_officer_sessions(struct pstore *st, const char *username)
{
	return run(st, NULL, "DELETE FROM sessions WHERE kind = 'officer' AND username = ?", "s",
		   username);
}

int pstore_officer_put(struct pstore *st, const struct pofficer *o, const struct padmin_actor *by,
		       time_t now, int *replaced)
{
	char old_name[sizeof o->name] = "", old_agency[sizeof o->agency] = "";
	json_t *row = NULL, *detail;
	int rc;

	*replaced = 0;
	lock(st);
	if ((rc = begin(st)))
		goto out;
	rc = ndx_sqldb_query_one(st->db, &row,
				 "SELECT name, agency FROM officers WHERE username = ?", "s",
				 o->username);
	if (rc && rc != NDX_ENOTFOUND)
		goto rollback;
	*replaced = rc == NDX_OK;
	if (row) {
		col_str(row, "name", old_name, sizeof old_name);
		col_str(row, "agency", old_agency, sizeof old_agency);
		json_decref(row);
	}
	if ((rc = run(st, NULL,
		      "INSERT INTO officers(username, name, agency, password_hash, created_at, seq)"
		      " VALUES(?,?,?,?,?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM officers))"
		      " ON CONFLICT(username) DO UPDATE SET name = excluded.name,"
		      " agency = excluded.agency, password_hash = excluded.password_hash",
		      "ssssi", o->username, o->name, o->agency, o->password_hash, (int64_t)now)))
		goto rollback;
	if (*replaced) {
		/* A new password, as a reset on the pages: the sessions opened
		 * with the old one end (T105). */
		if ((rc = end_officer_sessions(st, o->username)))
			goto rollback;
		detail = json_pack("{s:{s:s,s:s},s:{s:s,s:s}}", "from", "name", old_name, "agency",
				   old_agency, "to", "name", o->name, "agency", o->agency);
	} else {
		detail = json_pack("{s:s,s:s}", "name", o->name, "agency", o->agency);
	}
	if ((rc = audit_locked(st, by, *replaced ? "officer.update" : "officer.add", o->username,
			       o->name, o->agency, detail, now)))
		goto rollback;
	rc = commit(st);
	goto out;
rollback:
	rollback(st);
out:
	unlock(st);
	return rc;
}

int pstore_officer_get(struct pstore *st, const char *username, struct pofficer *out)
{
	json_t *row = NULL;
	int rc;

	memset(out, 0, sizeof *out);
	lock(st);
	rc = ndx_sqldb_query_one(st->db, &row,
				 "SELECT username, name, agency, password_hash FROM officers"
				 " WHERE username = ?",
				 "s", username);
	unlock(st);
	if (rc)
		return rc;
	col_str(row, "username", out->username, sizeof out->username);
	col_str(row, "name", out->name, sizeof out->name);
	col_str(row, "agency", out->agency, sizeof out->agency);
	col_str(row, "password_hash", out->password_hash, sizeof out->password_hash);
	json_decref(row);
	return NDX_OK;
}

int pstore_officer_cost_hash(struct pstore *st, char out[NDX_PASSWORD_HASH_MAX])
{
	json_t *row = NULL;
	int rc;

	out[0] = '\0';
	lock(st);
	rc = ndx_sqldb_query_one(st->db, &row,
				 "SELECT password_hash FROM officers ORDER BY seq DESC LIMIT 1", "");
	unlock(st);
	if (rc)
		return rc;
	col_str(row, "password_hash", out, NDX_PASSWORD_HASH_MAX);
	json_decref(row);
	return NDX_OK;
}

/* ---- officials ------------------------------------------------------------------ */

/* The official pin as stored, into *out; NDX_ENOTFOUND. */
static int official_get_locked(struct pstore *st, const char *pin, struct pofficial *out)
{
	json_t *row = NULL;
	int rc;

	memset(out, 0, sizeof *out);
	if ((rc = ndx_sqldb_query_one(st->db, &row,
				      "SELECT pin, name, role, member FROM officials WHERE pin = ?", "s",
				      pin)))
		return rc;
	col_str(row, "pin", out->pin, sizeof out->pin);
	col_str(row, "name", out->name, sizeof out->name);
	col_str(row, "role", out->role, sizeof out->role);
	col_str(row, "member", out->member, sizeof out->member);
	json_decref(row);
	return NDX_OK;
}

int pstore_official_put(struct pstore *st, const struct pofficial *o, const struct padmin_actor *by,
			time_t now, int *replaced)
{
	struct pofficial before;
	json_t *detail;
	int rc;

	*replaced = 0;
	lock(st);
	if ((rc = begin(st)))
		goto out;
	rc = official_get_locked(st, o->pin, &before);
	if (rc && rc != NDX_ENOTFOUND)
		goto rollback;
	*replaced = rc == NDX_OK;
	if ((rc = run(st, NULL,
		      "INSERT INTO officials(pin, name, role, member, created_at)"
		      " VALUES(?,?,?,?,?) ON CONFLICT(pin) DO UPDATE SET"
		      " name = excluded.name, role = excluded.role, member = excluded.member",
		      "ssssi", o->pin, o->name, o->role, o->member, (int64_t)now)))
		goto rollback;
	detail = *replaced
			 ? json_pack("{s:{s:s,s:s,s:s},s:{s:s,s:s,s:s}}", "from", "name",
				     before.name, "role", before.role, "member", before.member,
				     "to", "name", o->name, "role", o->role, "member", o->member)
			 : json_pack("{s:s,s:s,s:s}", "name", o->name, "role", o->role, "member",
				     o->member);
	if ((rc = audit_locked(st, by, *replaced ? "official.change" : "official.add", o->pin,
			       o->name, o->member, detail, now)))
		goto rollback;
	rc = commit(st);
	goto out;
rollback:
	rollback(st);
out:
	unlock(st);
	return rc;
}

int pstore_official_get(struct pstore *st, const char *pin, struct pofficial *out)
{
	int rc;

	lock(st);
	rc = official_get_locked(st, pin, out);
	unlock(st);
	return rc;
}

int pstore_official_remove(struct pstore *st, const char *pin, const struct padmin_actor *by,
			   time_t now)
{
	struct pofficial before;
	int rc;

	lock(st);
	if ((rc = begin(st)))
		goto out;
	if ((rc = official_get_locked(st, pin, &before)) ||
	    (rc = run(st, NULL, "DELETE FROM officials WHERE pin = ?", "s", pin)) ||
	    (rc = audit_locked(st, by, "official.remove", pin, before.name, before.member,
			       json_pack("{s:s,s:s,s:s}", "name", before.name, "role",
					 before.role, "member", before.member),
			       now)))
		goto rollback;
	rc = commit(st);
	goto out;
rollback:
	rollback(st);
out:
	unlock(st);
	return rc;
}

/* *out = the rows of a listing, each made by fn (NULL: out of memory). */
static int list_rows(struct pstore *st, json_t **out, json_t *(*fn)(const json_t *row),
		     const char *sql, const char *types, ...)
{
	json_t *rows = NULL, *arr, *r, *o;
	va_list ap;
	size_t i;
	int rc;

	*out = NULL;
	va_start(ap, types);
	rc = ndx_sqldb_queryv(st->db, &rows, sql, types, ap);
	va_end(ap);
	if (rc)
		return rc;
	if (!(arr = json_array())) {
		json_decref(rows);
		return NDX_ENOMEM;
	}
	json_array_foreach(rows, i, r) {
		if (!(o = fn(r)) || json_array_append_new(arr, o)) {
			json_decref(rows);
			json_decref(arr);
			return NDX_ENOMEM;
		}
	}
	json_decref(rows);
	*out = arr;
	return NDX_OK;
}

static json_t *official_json(const json_t *r)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:o}", "pin", cs(r, "pin"), "name", cs(r, "name"),
			 "role", cs(r, "role"), "member", cs(r, "member"), "created_at",
			 time_json(ndx_sqldb_int(r, "created_at")));
}

int pstore_official_list(struct pstore *st, json_t **out)
{
	int rc;

	lock(st);
	rc = list_rows(st, out, official_json,
		       "SELECT pin, name, role, member, created_at FROM officials ORDER BY pin", "");
	unlock(st);
	return rc;
}

/* ---- the administration of officers and officials (admin.c) ----------------- */

/* Writes the audit row of a change made by by, inside the caller's
 * transaction; detail is taken. */
static int audit_locked(struct pstore *st, const struct padmin_actor *by, const char *action,
			const char *target, const char *target_name, const char *member,
			json_t *detail, time_t now)
{
	char *text = detail ? json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS) : strdup("{}");
	int rc;

	json_decref(detail);
	if (!text)
		return NDX_ENOMEM;
	rc = run(st, NULL,
		 "INSERT INTO admin_audit(at, actor_pin, actor_name, actor_role,"
		 " actor_member, action, target, target_name, member, detail)"
		 " VALUES(?,?,?,?,?,?,?,?,?,?)",
		 "isssssssss", (int64_t)now, by->pin, by->name, by->role, by->member, action,
		 target, target_name, member, text);
	free(text);
	return rc;
}

/* One write of the administration and its audit row, in one transaction.
 * sql takes the text parameters p (as many as types says, "s" to
 * "ssss") and then, when types ends in 'i', the time of the change.
 * want_change: the write must change a row (else NDX_ENOTFOUND).
 * end_sessions: the officer username's sessions are deleted in the same
 * transaction. */
struct admin_write {
	const char *sql, *types;
	const char *p[4];
	int want_change;
	const char *end_sessions; /* an officer's user name, or NULL */
	const char *action, *target, *target_name, *member;
	json_t *detail; /* taken */
};

static int admin_run(struct pstore *st, const struct admin_write *w, time_t now, int64_t *n)
{
	const char *const *p = w->p;
	const char *t = w->types;

	if (strcmp(t, "s") == 0)
		return run(st, n, w->sql, t, p[0]);
	if (strcmp(t, "ss") == 0)
		return run(st, n, w->sql, t, p[0], p[1]);
	if (strcmp(t, "sss") == 0)
		return run(st, n, w->sql, t, p[0], p[1], p[2]);
	if (strcmp(t, "ssss") == 0)
		return run(st, n, w->sql, t, p[0], p[1], p[2], p[3]);
	if (strcmp(t, "ssssi") == 0)
		return run(st, n, w->sql, t, p[0], p[1], p[2], p[3], (int64_t)now);
	return NDX_EINVAL;
}

static int admin_write_locked(struct pstore *st, const struct padmin_actor *by,
			      struct admin_write *w, time_t now)
{
	int64_t changed = 0;
	int rc;

	if ((rc = admin_run(st, w, now, &changed)) ||
	    (w->want_change && changed == 0 && (rc = NDX_ENOTFOUND)) ||
	    (w->end_sessions && (rc = end_officer_sessions(st, w->end_sessions)))) {
		json_decref(w->detail);
		return rc;
	}
	return audit_locked(st, by, w->action, w->target, w->target_name, w->member, w->detail,
			    now);
}

static int admin_write(struct pstore *st, const struct padmin_actor *by, struct admin_write *w,
		       time_t now)
{
	int rc;

	lock(st);
	if ((rc = begin(st))) {
		json_decref(w->detail);
		goto out;
	}
	if ((rc = admin_write_locked(st, by, w, now)))
		rollback(st);
	else
		rc = commit(st);
out:
	unlock(st);
	return rc;
}

static json_t *officer_json(const json_t *r)
{
	return json_pack("{s:s,s:s,s:s,s:o}", "username", cs(r, "username"), "name",
			 cs(r, "name"), "agency", cs(r, "agency"), "created_at",
			 time_json(ndx_sqldb_int(r, "created_at")));
}

int pstore_officer_list(struct pstore *st, const char *agency, json_t **out)
{
	int rc;

	lock(st);
	rc = list_rows(st, out, officer_json,
		       "SELECT username, name, agency, created_at FROM officers"
		       " WHERE ?1 IS NULL OR agency = ?1 ORDER BY agency, username",
		       "s", agency);
	unlock(st);
	return rc;
}

int pstore_officer_create(struct pstore *st, const struct pofficer *o,
			  const struct padmin_actor *by, time_t now)
{
	struct admin_write w = {
		.sql = "INSERT INTO officers(username, name, agency, password_hash, created_at, seq)"
		       " VALUES(?,?,?,?,?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM officers))",
		.types = "ssssi",
		.p = { o->username, o->name, o->agency, o->password_hash },
		.action = "officer.add", .target = o->username, .target_name = o->name,
		.member = o->agency,
		.detail = json_pack("{s:s,s:s}", "name", o->name, "agency", o->agency),
	};

	return admin_write(st, by, &w, now);
}

int pstore_officer_rename(struct pstore *st, const struct pofficer *o, const char *name,
			  const struct padmin_actor *by, time_t now)
{
	struct admin_write w = {
		.sql = "UPDATE officers SET name = ?1 WHERE username = ?2 AND agency = ?3",
		.types = "sss",
		.p = { name, o->username, o->agency },
		.want_change = 1,
		.action = "officer.rename", .target = o->username, .target_name = name,
		.member = o->agency,
		.detail = json_pack("{s:s,s:s}", "from", o->name, "to", name),
	};
	int rc = admin_write(st, by, &w, now);

	/* Open sessions show the new name from their next answer. */
	if (rc == NDX_OK) {
		lock(st);
		(void)run(st, NULL,
			  "UPDATE sessions SET name = ? WHERE kind = 'officer' AND username = ?",
			  "ss", name, o->username);
		unlock(st);
	}
	return rc;
}

int pstore_officer_set_password(struct pstore *st, const struct pofficer *o, const char *hash,
				const struct padmin_actor *by, time_t now)
{
	struct admin_write w = {
		.sql = "UPDATE officers SET password_hash = ?1 WHERE username = ?2 AND agency = ?3",
		.types = "sss",
		.p = { hash, o->username, o->agency },
		.want_change = 1, .end_sessions = o->username,
		.action = "officer.password", .target = o->username, .target_name = o->name,
		.member = o->agency,
	};

	return admin_write(st, by, &w, now);
}

int pstore_officer_remove(struct pstore *st, const struct pofficer *o,
			  const struct padmin_actor *by, time_t now)
{
	struct admin_write w = {
		.sql = "DELETE FROM officers WHERE username = ?1 AND agency = ?2",
		.types = "ss",
		.p = { o->username, o->agency },
		.want_change = 1, .end_sessions = o->username,
		.action = "officer.remove", .target = o->username, .target_name = o->name,
		.member = o->agency,
		.detail = json_pack("{s:s,s:s}", "name", o->name, "agency", o->agency),
	};

	return admin_write(st, by, &w, now);
}

/* How many operators there are besides pin, into *n. */
static int operators_besides_locked(struct pstore *st, const char *pin, long *n)
{
	json_t *row = NULL;
	int rc;

	*n = 0;
	if ((rc = ndx_sqldb_query_one(st->db, &row,
				      "SELECT COUNT(*) AS n FROM officials"
				      " WHERE role = 'operator' AND pin <> ?",
				      "s", pin)))
		return rc == NDX_ENOTFOUND ? NDX_EDB : rc;
	*n = (long)ndx_sqldb_int(row, "n");
	json_decref(row);
	return NDX_OK;
}

/* Official changes: the last operator is checked in the same transaction
 * as the write, so that two operators demoting each other at once cannot
 * both succeed. */
static int official_change(struct pstore *st, const struct pofficial *o, int op,
			   const struct padmin_actor *by, time_t now, struct pofficial *before)
{
	struct admin_write w = { 0 };
	long others = 0;
	int rc;

	memset(before, 0, sizeof *before);
	lock(st);
	if ((rc = begin(st)))
		goto out;
	rc = official_get_locked(st, o->pin, before);
	if (op == 'a' && rc == NDX_OK)
		rc = NDX_EEXIST;
	else if (op == 'a' && rc == NDX_ENOTFOUND)
		rc = NDX_OK;
	if (rc)
		goto rollback;
	/* Removing an operator, or giving an operator another role, leaves at
	 * least one operator. */
	if (op != 'a' && strcmp(before->role, "operator") == 0 &&
	    (op == 'r' || strcmp(o->role, "operator") != 0)) {
		if ((rc = operators_besides_locked(st, o->pin, &others)))
			goto rollback;
		if (others == 0) {
			rc = NDX_EPERM;
			goto rollback;
		}
	}
	if (op == 'a') {
		w.sql = "INSERT INTO officials(pin, name, role, member, created_at)"
			" VALUES(?,?,?,?,?)";
		w.types = "ssssi";
		w.p[0] = o->pin, w.p[1] = o->name, w.p[2] = o->role, w.p[3] = o->member;
		w.action = "official.add";
		w.detail = json_pack("{s:s,s:s,s:s}", "name", o->name, "role", o->role, "member",
				     o->member);
	} else if (op == 'u') {
		w.sql = "UPDATE officials SET name = ?2, role = ?3, member = ?4 WHERE pin = ?1";
		w.types = "ssss";
		w.p[0] = o->pin, w.p[1] = o->name, w.p[2] = o->role, w.p[3] = o->member;
		w.want_change = 1;
		w.action = "official.change";
		w.detail = json_pack("{s:{s:s,s:s,s:s},s:{s:s,s:s,s:s}}", "from", "name",
				     before->name, "role", before->role, "member", before->member,
				     "to", "name", o->name, "role", o->role, "member", o->member);
	} else {
		w.sql = "DELETE FROM officials WHERE pin = ?1";
		w.types = "s";
		w.p[0] = o->pin;
		w.want_change = 1;
		w.action = "official.remove";
		w.detail = json_pack("{s:s,s:s,s:s}", "name", before->name, "role", before->role,
				     "member", before->member);
	}
	w.target = o->pin;
	w.target_name = op == 'r' ? before->name : o->name;
	w.member = op == 'r' ? before->member : o->member;
	if ((rc = admin_write_locked(st, by, &w, now)))
		goto rollback;
	rc = commit(st);
	goto out;
rollback:
	rollback(st);
out:
	unlock(st);
	return rc;
}

int pstore_official_create(struct pstore *st, const struct pofficial *o,
			   const struct padmin_actor *by, time_t now)
{
	struct pofficial before;

	return official_change(st, o, 'a', by, now, &before);
}

int pstore_official_change(struct pstore *st, const struct pofficial *o,
			   const struct padmin_actor *by, time_t now, struct pofficial *before)
{
	return official_change(st, o, 'u', by, now, before);
}

int pstore_official_delete(struct pstore *st, const char *pin, const struct padmin_actor *by,
			   time_t now, struct pofficial *before)
{
	struct pofficial o;

	memset(&o, 0, sizeof o);
	snprintf(o.pin, sizeof o.pin, "%s", pin);
	return official_change(st, &o, 'r', by, now, before);
}

static json_t *audit_json(const json_t *r)
{
	json_t *detail = col_json(r, "detail");

	if (!json_is_object(detail)) {
		json_decref(detail);
		detail = json_object();
	}
	return json_pack("{s:I,s:o,s:{s:s,s:s,s:s,s:s},s:s,s:s,s:s,s:s,s:o}", "id",
			 (json_int_t)ndx_sqldb_int(r, "id"), "at", time_json(ndx_sqldb_int(r, "at")), "actor",
			 "pin", cs(r, "actor_pin"), "name", cs(r, "actor_name"), "role",
			 cs(r, "actor_role"), "member", cs(r, "actor_member"), "action",
			 cs(r, "action"), "target", cs(r, "target"), "target_name",
			 cs(r, "target_name"), "member", cs(r, "member"), "detail", detail);
}

int pstore_admin_audit(struct pstore *st, const char *member, unsigned limit, json_t **out)
{
	int rc;

	lock(st);
	rc = list_rows(st, out, audit_json,
		       "SELECT id, at, actor_pin, actor_name, actor_role, actor_member,"
		       " action, target, target_name, member, detail FROM admin_audit"
		       " WHERE ?1 IS NULL OR member = ?1 ORDER BY id DESC LIMIT ?2",
		       "si", member, (int64_t)(limit ? limit : 500));
	unlock(st);
	return rc;
}

/* ---- sign-in failures ------------------------------------------------------ */

int pstore_signin_counts(struct pstore *st, const char *account, const char *source,
			 time_t since, struct signin_counts *out)
{
	int rc;

	lock(st);
	rc = signin_counts_read_db(st->db, account, source, since, out);
	unlock(st);
	return rc;
}

int pstore_signin_failure_note(struct pstore *st, const char *account, const char *source,
			       time_t now, time_t forget_before)
{
	int rc;

	lock(st);
	/* Old failures go as new ones come: the table stays as small as the
	 * window, whatever names are tried. */
	if ((rc = run(st, NULL, "DELETE FROM signin_failures WHERE at < ?", "i",
		      (int64_t)forget_before)) == NDX_OK)
		rc = run(st, NULL, "INSERT INTO signin_failures(account, source, at) VALUES(?, ?, ?)",
			 "ssi", account, source, (int64_t)now);
	unlock(st);
	return rc;
}

int pstore_signin_success(struct pstore *st, const char *account, const char *source)
{
	int rc;

	lock(st);
	rc = run(st, NULL, "DELETE FROM signin_failures WHERE account = ? AND source = ?", "ss",
		 account, source);
	unlock(st);
	return rc;
}

/* ---- procedures ---------------------------------------------------------------- */

static int insert_history(struct pstore *st, const char *id, time_t now, const char *state,
			  const char *actor, const char *note)
{
	return run(st, NULL,
		   "INSERT INTO history(procedure_id, seq, at, state, actor, note)"
		   " SELECT ?1, COALESCE(MAX(seq), 0) + 1, ?2, ?3, ?4, ?5 FROM history"
		   " WHERE procedure_id = ?1",
		   "sisss", id, (int64_t)now, state, actor, note);
}

/* The next application number of now's day in Vietnam, "HS" YYMMDD "-"
 * NNNNN, inside the caller's write transaction (so two applications never
 * get the same). */
static int proc_reference(struct pstore *st, time_t now, char out[PSTORE_REFERENCE_LEN])
{
	char date[NDX_VN_DATE_LEN], prefix[16];
	json_t *row = NULL;
	int64_t n;
	int rc;

	ndx_time_vn_iso_date(now, date); /* YYYY-MM-DD */
	snprintf(prefix, sizeof prefix, "HS%.2s%.2s%.2s-", date + 2, date + 5, date + 8);
	if ((rc = ndx_sqldb_query_one(st->db, &row,
				      "SELECT COUNT(*) AS n FROM procedures WHERE reference >= ?1"
				      " AND reference < ?1 || '~'",
				      "s", prefix)))
		return rc == NDX_ENOTFOUND ? NDX_EDB : rc;
	n = ndx_sqldb_int(row, "n");
	json_decref(row);
	if (n >= 99999)
		return NDX_ETOOBIG;
	snprintf(out, PSTORE_REFERENCE_LEN, "%s%05d", prefix, (int)(n + 1));
	return NDX_OK;
}

int pstore_proc_insert(struct pstore *st, const struct pproc_new *p, time_t now)
{
	const char *state = p->state ? p->state : "submitted";
	char reference[PSTORE_REFERENCE_LEN];
	char *fields = json_dumps(p->fields, JSON_COMPACT);
	int rc;

	if (!fields)
		return NDX_ENOMEM;
	lock(st);
	if ((rc = begin(st)))
		goto out;
	if ((rc = proc_reference(st, now, reference)) ||
	    (rc = run(st, NULL,
		      "INSERT INTO procedures(id, kind, subject, applicant_name, agency,"
		      " fields, created_at, updated_at, change_seq, created_seq, state, reference,"
		      " submitted_at)"
		      " VALUES(?1,?2,?3,?4,?5,?6,?7,?7,"
		      " (SELECT COALESCE(MAX(change_seq), 0) + 1 FROM procedures),"
		      " (SELECT COALESCE(MAX(created_seq), 0) + 1 FROM procedures),?8,?9,"
		      " CASE WHEN ?8 = 'submitted' THEN ?7 END)",
		      "ssssssiss", p->id, p->kind, p->subject, p->applicant_name, p->agency,
		      fields, (int64_t)now, state, reference)) ||
	    (rc = insert_history(st, p->id, now, state, p->actor, NULL))) {
		rollback(st);
		goto out;
	}
	rc = commit(st);
out:
	unlock(st);
	free(fields);
	return rc;
}

#define PROC_COLS                                                                        \
	"id, kind, state, subject, applicant_name, agency, fields, result, created_at,"  \
	" updated_at, reference, assignee, assignee_name, assigned_at, submitted_at"

static json_t *history_json(const json_t *r)
{
	return json_pack("{s:o,s:s,s:s,s:o}", "at", time_json(ndx_sqldb_int(r, "at")), "state",
			 cs(r, "state"), "actor", cs(r, "actor"), "note", col_text(r, "note"));
}

/* Sets key of proc to the listing of sql (binding id) made by fn. */
static int add_list(struct pstore *st, const char *id, json_t *proc, const char *key,
		    json_t *(*fn)(const json_t *row), const char *sql)
{
	json_t *arr = NULL;
	int rc;

	if ((rc = list_rows(st, &arr, fn, sql, "s", id)))
		return rc;
	return json_object_set_new(proc, key, arr) ? NDX_ENOMEM : NDX_OK;
}

static int add_history(struct pstore *st, const char *id, json_t *proc)
{
	return add_list(st, id, proc, "history", history_json,
			"SELECT at, state, actor, note FROM history WHERE procedure_id = ?"
			" ORDER BY seq");
}

/* "assigned_to" of a procedure row: {"username","name","at"} or null. */
static json_t *holder_json(const json_t *r)
{
	const char *user = cs(r, "assignee");

	if (!*user)
		return json_null();
	return json_pack("{s:s,s:s,s:o}", "username", user, "name", cs(r, "assignee_name"), "at",
			 col_time(r, "assigned_at"));
}

static json_t *proc_row(const json_t *r)
{
	return json_pack("{s:o,s:o,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:o,s:o,s:o,s:o}",
			 "assigned_to", holder_json(r), "submitted_at", col_time(r, "submitted_at"),
			 "reference", cs(r, "reference"), "id", cs(r, "id"), "kind", cs(r, "kind"),
			 "state", cs(r, "state"), "subject", cs(r, "subject"), "applicant_name",
			 cs(r, "applicant_name"), "agency", cs(r, "agency"), "fields",
			 col_json(r, "fields"), "result", col_json(r, "result"), "created_at",
			 time_json(ndx_sqldb_int(r, "created_at")), "updated_at",
			 time_json(ndx_sqldb_int(r, "updated_at")));
}

static json_t *request_json(const json_t *r)
{
	return json_pack("{s:I,s:o,s:{s:s,s:s},s:s,s:o,s:o}", "seq",
			 (json_int_t)ndx_sqldb_int(r, "seq"), "asked_at", time_json(ndx_sqldb_int(r, "asked_at")),
			 "asked_by", "username", cs(r, "asked_by"), "name", cs(r, "asked_by_name"),
			 "question", cs(r, "question"), "answered_at", col_time(r, "answered_at"),
			 "answer", col_text(r, "answer"));
}

/* "information_requests" of procedure id: [{"seq","asked_at","asked_by"
 * {"username","name"},"question","answered_at","answer"}], oldest first. */
static int add_requests(struct pstore *st, const char *id, json_t *proc)
{
	return add_list(st, id, proc, "information_requests", request_json,
			"SELECT seq, asked_at, asked_by, asked_by_name, question, answered_at,"
			" answer FROM info_requests WHERE procedure_id = ? ORDER BY seq");
}

static json_t *attachment_json(const json_t *r)
{
	return json_pack("{s:s,s:s,s:s,s:I,s:s,s:o,s:s,s:o}", "id", cs(r, "id"), "name",
			 cs(r, "name"), "media_type", cs(r, "media_type"), "size",
			 (json_int_t)ndx_sqldb_int(r, "size"), "sha256", cs(r, "sha256"), "uploaded_at",
			 time_json(ndx_sqldb_int(r, "created_at")), "uploaded_by", cs(r, "uploaded_by"),
			 "request_seq",
			 ndx_sqldb_is_null(r, "request_seq") ? json_null()
						    : json_integer(ndx_sqldb_int(r, "request_seq")));
}

/* "attachments" of procedure id (what they are, never their bytes):
 * [{"id","name","media_type","size","sha256","uploaded_at","uploaded_by",
 * "request_seq"}], oldest first. */
static int add_attachments(struct pstore *st, const char *id, json_t *proc)
{
	return add_list(st, id, proc, "attachments", attachment_json,
			"SELECT id, name, media_type, size, sha256, created_at, uploaded_by,"
			" request_seq FROM attachments WHERE procedure_id = ?"
			" ORDER BY created_at, seq");
}

static int proc_get_locked(struct pstore *st, const char *id, json_t **out)
{
	json_t *row = NULL, *p;
	int rc;

	*out = NULL;
	if ((rc = ndx_sqldb_query_one(st->db, &row,
				      "SELECT " PROC_COLS " FROM procedures WHERE id = ?", "s", id)))
		return rc;
	p = proc_row(row);
	json_decref(row);
	if (!p)
		return NDX_ENOMEM;
	if ((rc = add_history(st, id, p)) || (rc = add_requests(st, id, p)) ||
	    (rc = add_attachments(st, id, p))) {
		json_decref(p);
		return rc;
	}
	*out = p;
	return NDX_OK;
}

int pstore_proc_get(struct pstore *st, const char *id, json_t **out)
{
	int rc;

	lock(st);
	rc = proc_get_locked(st, id, out);
	unlock(st);
	return rc;
}

/* *out = {"procedures":[…]} with their history, from arr (taken), under
 * st->mu. */
static int list_locked(struct pstore *st, json_t *arr, json_t **out)
{
	json_t *p;
	size_t i;
	int rc;

	json_array_foreach(arr, i, p) {
		if ((rc = add_history(st, cs(p, "id"), p))) {
			json_decref(arr);
			return rc;
		}
	}
	return (*out = json_pack("{s:o}", "procedures", arr)) ? NDX_OK : NDX_ENOMEM;
}

int pstore_proc_list(struct pstore *st, const char *subject, const char *agency,
		     const char *state, json_t **out)
{
	const struct pproc_query f = { .agency = agency, .state = state, .limit = 500 };
	json_t *arr = NULL;
	int rc;

	*out = NULL;
	if (!subject)
		return pstore_proc_search(st, &f, out);
	lock(st);
	if ((rc = list_rows(st, &arr, proc_row,
			    "SELECT " PROC_COLS " FROM procedures WHERE subject = ?"
			    " ORDER BY created_at DESC, created_seq DESC LIMIT 500",
			    "s", subject)) == NDX_OK)
		rc = list_locked(st, arr, out);
	unlock(st);
	return rc;
}

int pstore_proc_search(struct pstore *st, const struct pproc_query *f, json_t **out)
{
	json_t *arr = NULL;
	int rc;

	*out = NULL;
	lock(st);
	/* Every filter is a bound parameter; NULL leaves it out. */
	if ((rc = list_rows(st, &arr, proc_row,
			    "SELECT " PROC_COLS " FROM procedures WHERE agency = ?1"
			    " AND (?2 IS NULL OR state = ?2) AND (?3 IS NULL OR kind = ?3)"
			    " AND (?4 IS NULL OR (reference >= ?4 AND reference < ?4 || '~'))"
			    " AND (?5 IS NULL OR assignee = ?5)"
			    " ORDER BY created_at, created_seq LIMIT ?6",
			    "sssssi", f->agency, f->state, f->kind, f->reference, f->assignee,
			    (int64_t)(f->limit ? f->limit : 500))) == NDX_OK)
		rc = list_locked(st, arr, out);
	unlock(st);
	return rc;
}

int pstore_proc_transition(struct pstore *st, const char *id, const char *const *from,
			   const char *to, const char *actor, const char *note,
			   const json_t *result, time_t now)
{
	return pstore_proc_decide(st, id, from, to, actor, NULL, note, result, now);
}

/* Reads procedure id's state and holder in the caller's transaction. */
static int state_locked(struct pstore *st, const char *id, char state[32], char holder[128])
{
	json_t *row = NULL;
	int rc;

	if ((rc = ndx_sqldb_query_one(st->db, &row,
				      "SELECT state, assignee FROM procedures WHERE id = ?", "s", id)))
		return rc;
	col_str(row, "state", state, 32);
	col_str(row, "assignee", holder, 128);
	json_decref(row);
	return NDX_OK;
}

static int state_in(const char *state, const char *const *set)
{
	for (size_t i = 0; set[i]; i++)
		if (strcmp(state, set[i]) == 0)
			return 1;
	return 0;
}

/* pstore_proc_decide's checks and writes, in the caller's transaction
 * (rtext: the result as JSON text, or NULL). */
static int decide_locked(struct pstore *st, const char *id, const char *const *from,
			 const char *to, const char *actor, const struct pholder *by,
			 const char *note, const char *rtext, time_t now)
{
	char state[32], holder[128];
	int rc;

	if ((rc = state_locked(st, id, state, holder)))
		return rc;
	/* Held by another officer: theirs to decide (before the state, so
	 * that the officer learns who has it). */
	if (by && holder[0] && strcmp(holder, by->username) != 0)
		return NDX_EEXIST;
	if (!state_in(state, from))
		return NDX_EPERM;
	/* The officer deciding an application nobody held holds it from now
	 * on: the queue shows who decided. */
	if ((rc = run(st, NULL,
		      "UPDATE procedures SET state = ?1, updated_at = ?2,"
		      " result = COALESCE(?3, result),"
		      " submitted_at = CASE WHEN ?1 = 'submitted'"
		      "  THEN COALESCE(submitted_at, ?2) ELSE submitted_at END,"
		      " assignee = CASE WHEN ?5 IS NOT NULL AND assignee = '' THEN ?5"
		      "  ELSE assignee END,"
		      " assignee_name = CASE WHEN ?5 IS NOT NULL AND assignee = '' THEN ?6"
		      "  ELSE assignee_name END,"
		      " assigned_at = CASE WHEN ?5 IS NOT NULL AND assignee = '' THEN ?2"
		      "  ELSE assigned_at END,"
		      " change_seq = (SELECT MAX(change_seq) + 1 FROM procedures) WHERE id = ?4",
		      "sissss", to, (int64_t)now, rtext, id, by ? by->username : NULL,
		      by ? by->name : NULL)))
		return rc;
	return insert_history(st, id, now, to, actor, note);
}

int pstore_proc_decide(struct pstore *st, const char *id, const char *const *from,
		       const char *to, const char *actor, const struct pholder *by,
		       const char *note, const json_t *result, time_t now)
{
	char *rtext = NULL;
	int rc;

	if (result && !(rtext = json_dumps(result, JSON_COMPACT)))
		return NDX_ENOMEM;
	lock(st);
	if ((rc = begin(st)))
		goto out;
	if ((rc = decide_locked(st, id, from, to, actor, by, note, rtext, now)))
		rollback(st);
	else
		rc = commit(st);
out:
	unlock(st);
	free(rtext);
	return rc;
}

int pstore_proc_hold(struct pstore *st, const char *id, const char *const *states,
		     const struct pholder *by, int release, time_t now)
{
	char state[32], holder[128];
	int rc;

	lock(st);
	if ((rc = begin(st)))
		goto out;
	if ((rc = state_locked(st, id, state, holder)))
		goto rollback;
	if (holder[0] && strcmp(holder, by->username) != 0) {
		rc = NDX_EEXIST;
		goto rollback;
	}
	if (!state_in(state, states)) {
		rc = NDX_EPERM;
		goto rollback;
	}
	if (release)
		rc = run(st, NULL,
			 "UPDATE procedures SET assignee = '', assignee_name = '',"
			 " assigned_at = NULL WHERE id = ?",
			 "s", id);
	else if (holder[0])
		goto rollback; /* already theirs: nothing to write */
	else
		rc = run(st, NULL,
			 "UPDATE procedures SET assignee = ?2, assignee_name = ?3,"
			 " assigned_at = ?4 WHERE id = ?1",
			 "sssi", id, by->username, by->name, (int64_t)now);
	if (rc)
		goto rollback;
	rc = commit(st);
	goto out;
rollback:
	rollback(st);
out:
	unlock(st);
	return rc;
}

int pstore_proc_work_get(struct pstore *st, const char *id, json_t **out)
{
	json_t *row = NULL, *w;
	int rc;

	*out = NULL;
	lock(st);
	rc = ndx_sqldb_query_one(st->db, &row, "SELECT work FROM procedures WHERE id = ?", "s", id);
	unlock(st);
	if (rc)
		return rc;
	w = col_json(row, "work");
	json_decref(row);
	if (!json_is_object(w)) {
		json_decref(w);
		w = json_object();
	}
	*out = w;
	return w ? NDX_OK : NDX_ENOMEM;
}

int pstore_proc_work_set(struct pstore *st, const char *id, const json_t *work)
{
	char *text = json_dumps(work, JSON_COMPACT);
	int rc;

	if (!text)
		return NDX_ENOMEM;
	lock(st);
	rc = run(st, NULL, "UPDATE procedures SET work = ? WHERE id = ?", "ss", text, id);
	unlock(st);
	free(text);
	return rc;
}

int pstore_proc_counts(struct pstore *st,
		       void (*fn)(void *ud, const char *kind, const char *state, int64_t n),
		       void *ud)
{
	json_t *rows = NULL, *r;
	size_t i;
	int rc;

	lock(st);
	rc = ndx_sqldb_query(st->db, &rows,
			     "SELECT kind, state, COUNT(*) AS n FROM procedures GROUP BY kind, state"
			     " ORDER BY kind, state",
			     "");
	if (rc == NDX_OK)
		json_array_foreach(rows, i, r)
			fn(ud, cs(r, "kind"), cs(r, "state"), ndx_sqldb_int(r, "n"));
	unlock(st);
	json_decref(rows);
	return rc;
}

/* ---- the procedures push (procpush.c) ------------------------------------------ */

static json_t *push_json(const json_t *r)
{
	const char *state = cs(r, "state");
	int closed = (strcmp(state, "completed") == 0 || strcmp(state, "rejected") == 0) &&
		     json_is_integer(json_object_get(r, "closed_at"));

	return json_pack("{s:s,s:s,s:s,s:s,s:I,s:o,s:I}", "id", cs(r, "id"), "kind",
			 cs(r, "kind"), "subject", cs(r, "subject"), "agency", cs(r, "agency"),
			 "opened_ms", (json_int_t)ndx_sqldb_int(r, "created_at") * 1000, "closed_ms",
			 closed ? json_integer((json_int_t)ndx_sqldb_int(r, "closed_at") * 1000)
				: json_null(),
			 "change_seq", (json_int_t)ndx_sqldb_int(r, "change_seq"));
}

int pstore_push_batch(struct pstore *st, int64_t after, unsigned limit, json_t **out,
		      int64_t *last)
{
	json_t *arr = NULL, *o;
	size_t i;
	int rc;

	*out = NULL;
	*last = after;
	lock(st);
	rc = list_rows(st, &arr, push_json,
		       "SELECT p.id, p.kind, p.subject, p.agency, p.created_at, p.state,"
		       " (SELECT MAX(h.at) FROM history h WHERE h.procedure_id = p.id"
		       "  AND h.state IN ('completed', 'rejected')) AS closed_at, p.change_seq"
		       " FROM procedures p WHERE p.change_seq > ? ORDER BY p.change_seq LIMIT ?",
		       "ii", after, (int64_t)limit);
	unlock(st);
	if (rc)
		return rc;
	/* The change number is the cursor's, not the monitoring service's. */
	json_array_foreach(arr, i, o) {
		*last = (int64_t)json_integer_value(json_object_get(o, "change_seq"));
		json_object_del(o, "change_seq");
	}
	*out = arr;
	return NDX_OK;
}

int pstore_push_backlog(struct pstore *st, int64_t after, int64_t *n)
{
	json_t *row = NULL;
	int rc;

	*n = 0;
	lock(st);
	rc = ndx_sqldb_query_one(st->db, &row,
				 "SELECT COUNT(*) AS n FROM procedures WHERE change_seq > ?", "i", after);
	unlock(st);
	if (rc)
		return rc == NDX_ENOTFOUND ? NDX_EDB : rc;
	*n = ndx_sqldb_int(row, "n");
	json_decref(row);
	return NDX_OK;
}

int pstore_push_cursor_get(struct pstore *st, const char *name, int64_t *v)
{
	json_t *row = NULL;
	int rc;

	*v = 0;
	lock(st);
	rc = ndx_sqldb_query_one(st->db, &row, "SELECT v FROM push_state WHERE k = ?", "s", name);
	unlock(st);
	if (rc)
		return rc == NDX_ENOTFOUND ? NDX_OK : rc;
	*v = ndx_sqldb_int(row, "v");
	json_decref(row);
	return NDX_OK;
}

int pstore_push_cursor_set(struct pstore *st, const char *name, int64_t v)
{
	int rc;

	lock(st);
	rc = run(st, NULL,
		 "INSERT INTO push_state(k, v) VALUES(?, ?) ON CONFLICT(k) DO UPDATE SET"
		 " v = CASE WHEN excluded.v > push_state.v THEN excluded.v ELSE push_state.v END",
		 "si", name, v);
	unlock(st);
	return rc;
}

/* ---- work one node does at a time ---------------------------------------------- */

void pstore_node_name(char out[PSTORE_NODE_LEN])
{
	char host[64] = "";
	uint32_t r = 0;

	if (gethostname(host, sizeof host) != 0)
		snprintf(host, sizeof host, "host");
	host[sizeof host - 1] = '\0';
	/* Not a secret: it tells apart two starts of one process id. */
	if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r)
		r = (uint32_t)time(NULL) ^ (uint32_t)clock();
	snprintf(out, PSTORE_NODE_LEN, "%s:%ld:%08x", host, (long)getpid(), (unsigned)r);
}

int pstore_lease_take(struct pstore *st, const char *name, const char *holder, time_t now,
		      long lease_s)
{
	json_t *row = NULL;
	int rc;

	lock(st);
	if ((rc = begin(st)))
		goto out;
	rc = ndx_sqldb_query_one(st->db, &row,
				 "SELECT holder, expires_at FROM leases WHERE name = ?", "s", name);
	if (rc == NDX_OK && strcmp(cs(row, "holder"), holder) != 0 &&
	    ndx_sqldb_int(row, "expires_at") > (int64_t)now)
		rc = NDX_EEXIST;
	else if (rc == NDX_OK || rc == NDX_ENOTFOUND)
		rc = run(st, NULL,
			 "INSERT INTO leases(name, holder, expires_at) VALUES(?, ?, ?)"
			 " ON CONFLICT(name) DO UPDATE SET holder = excluded.holder,"
			 " expires_at = excluded.expires_at",
			 "ssi", name, holder, (int64_t)now + lease_s);
	if (rc == NDX_OK)
		rc = commit(st);
	else
		rollback(st);
out:
	unlock(st);
	json_decref(row);
	return rc;
}

int pstore_lease_release(struct pstore *st, const char *name, const char *holder)
{
	int rc;

	lock(st);
	rc = run(st, NULL, "DELETE FROM leases WHERE name = ? AND holder = ?", "ss", name, holder);
	unlock(st);
	return rc;
}

/* ---- more information, attachments (issue 22) ------------------------------- */

int pstore_info_ask(struct pstore *st, const char *id, const struct pholder *by,
		    const char *question, time_t now)
{
	static const char *const from[] = { "submitted", NULL };
	char actor[160];
	int rc;

	snprintf(actor, sizeof actor, "officer:%s", by->username);
	lock(st);
	if ((rc = begin(st)))
		goto out;
	if ((rc = decide_locked(st, id, from, "information_requested", actor, by, question, NULL,
				now)) ||
	    (rc = run(st, NULL,
		      "INSERT INTO info_requests(procedure_id, seq, asked_at, asked_by,"
		      " asked_by_name, question) SELECT ?1, COALESCE(MAX(seq), 0) + 1, ?2, ?3,"
		      " ?4, ?5 FROM info_requests WHERE procedure_id = ?1",
		      "sisss", id, (int64_t)now, by->username, by->name, question))) {
		rollback(st);
		goto out;
	}
	rc = commit(st);
out:
	unlock(st);
	return rc;
}

/* Whether procedure id is subject's, in the caller's transaction:
 * NDX_OK, NDX_ENOTFOUND (none, or another's) or NDX_EDB. */
static int owned_locked(struct pstore *st, const char *id, const char *subject)
{
	json_t *row = NULL;
	int rc = ndx_sqldb_query_one(st->db, &row,
				     "SELECT 1 AS found FROM procedures WHERE id = ? AND subject = ?",
				     "ss", id, subject);

	json_decref(row);
	return rc;
}

int pstore_info_answer(struct pstore *st, const char *id, const char *subject,
		       const char *answer, const char *const *attachments, time_t now)
{
	static const char *const from[] = { "information_requested", NULL };
	char actor[64];
	int64_t n = 0;
	int rc;

	snprintf(actor, sizeof actor, "citizen:%s", subject);
	lock(st);
	if ((rc = begin(st)))
		goto out;
	if ((rc = owned_locked(st, id, subject)))
		goto rollback;
	/* Back to the officers: its deadline runs again (the pause is the
	 * request's asked_at..answered_at, docs/portal.md). */
	if ((rc = decide_locked(st, id, from, "submitted", actor, NULL, answer, NULL, now)))
		goto rollback;
	if ((rc = run(st, &n,
		      "UPDATE info_requests SET answered_at = ?2, answer = ?3 WHERE"
		      " procedure_id = ?1 AND seq = (SELECT MAX(seq) FROM info_requests"
		      " WHERE procedure_id = ?1) AND answered_at IS NULL",
		      "sis", id, (int64_t)now, answer)))
		goto rollback;
	if (n != 1) {
		rc = NDX_EPERM;
		goto rollback;
	}
	for (size_t i = 0; attachments && attachments[i]; i++) {
		if ((rc = run(st, &n,
			      "UPDATE attachments SET request_seq = (SELECT MAX(seq) FROM"
			      " info_requests WHERE procedure_id = ?1) WHERE id = ?2 AND"
			      " procedure_id = ?1 AND request_seq IS NULL",
			      "ss", id, attachments[i])))
			goto rollback;
		if (n != 1) {
			rc = NDX_EINVAL;
			goto rollback;
		}
	}
	rc = commit(st);
	goto out;
rollback:
	rollback(st);
out:
	unlock(st);
	return rc;
}

int pstore_attachment_put(struct pstore *st, const struct pattach *a,
			  const char *const *states, time_t now)
{
	char state[32], holder[128];
	char *hex = malloc(2 * a->size + 1);
	json_t *row = NULL;
	int64_t n;
	int rc;

	if (!hex)
		return NDX_ENOMEM;
	ndx_hex_encode(a->data, a->size, hex);
	lock(st);
	if ((rc = begin(st)))
		goto out;
	if ((rc = owned_locked(st, a->procedure_id, a->subject)) ||
	    (rc = state_locked(st, a->procedure_id, state, holder)))
		goto rollback;
	if (!state_in(state, states)) {
		rc = NDX_EPERM;
		goto rollback;
	}
	if ((rc = ndx_sqldb_query_one(st->db, &row,
				      "SELECT COUNT(*) AS n FROM attachments WHERE procedure_id = ?",
				      "s", a->procedure_id))) {
		rc = rc == NDX_ENOTFOUND ? NDX_EDB : rc;
		goto rollback;
	}
	n = ndx_sqldb_int(row, "n");
	json_decref(row);
	if (n >= PSTORE_ATTACH_PER_PROC) {
		rc = NDX_ETOOBIG;
		goto rollback;
	}
	if ((rc = run(st, NULL,
		      "INSERT INTO attachments(id, procedure_id, name, media_type, size,"
		      " sha256, data, uploaded_by, created_at, seq) VALUES(?,?,?,?,?,?,?,?,?,"
		      " (SELECT COALESCE(MAX(seq), 0) + 1 FROM attachments))",
		      "ssssisssi", a->id, a->procedure_id, a->name, a->media_type,
		      (int64_t)a->size, a->sha256, hex, a->uploaded_by, (int64_t)now)))
		goto rollback;
	rc = commit(st);
	goto out;
rollback:
	rollback(st);
out:
	unlock(st);
	free(hex);
	return rc;
}

int pstore_attachment_get(struct pstore *st, const char *procedure_id, const char *id,
			  struct pattach *out)
{
	json_t *row = NULL;
	const char *hex;
	char *name = NULL, *type = NULL;
	uint8_t *data = NULL;
	size_t len, n;
	int rc;

	memset(out, 0, sizeof *out);
	lock(st);
	rc = ndx_sqldb_query_one(st->db, &row,
				 "SELECT name, media_type, sha256, data FROM attachments WHERE"
				 " procedure_id = ? AND id = ?",
				 "ss", procedure_id, id);
	unlock(st);
	if (rc)
		return rc;
	hex = cs(row, "data");
	len = strlen(hex);
	n = len / 2;
	name = strdup(cs(row, "name"));
	type = strdup(cs(row, "media_type"));
	data = malloc(n ? n : 1);
	if (!name || !type || !data) {
		rc = NDX_ENOMEM;
	} else if (len % 2 || ndx_hex_decode(hex, len, data, n) != NDX_OK) {
		fprintf(stderr, PROG ": %s: attachment %s of %s is not hex\n", st->db->name, id,
			procedure_id);
		rc = NDX_EDB;
	}
	if (rc) {
		free(name);
		free(type);
		free(data);
		json_decref(row);
		return rc;
	}
	col_str(row, "sha256", out->sha256_buf, sizeof out->sha256_buf);
	json_decref(row);
	out->name = name;
	out->media_type = type;
	out->data = data;
	out->size = n;
	out->sha256 = out->sha256_buf;
	return NDX_OK;
}

void pattach_clear(struct pattach *a)
{
	free((char *)a->name);
	free((char *)a->media_type);
	free((void *)a->data);
	memset(a, 0, sizeof *a);
}

/* ---- notifications and the outbox (notify.c) --------------------------------- */

int pstore_contact_get(struct pstore *st, const char *subject, char *email, size_t cap)
{
	json_t *row = NULL;
	int rc;

	email[0] = '\0';
	lock(st);
	rc = ndx_sqldb_query_one(st->db, &row,
				 "SELECT email FROM contacts WHERE subject = ?", "s", subject);
	unlock(st);
	if (rc)
		return rc;
	col_str(row, "email", email, cap);
	json_decref(row);
	return NDX_OK;
}

int pstore_contact_set(struct pstore *st, const char *subject, const char *email, time_t now)
{
	int rc;

	lock(st);
	if (email)
		rc = run(st, NULL,
			 "INSERT INTO contacts(subject, email, updated_at) VALUES(?, ?, ?)"
			 " ON CONFLICT(subject) DO UPDATE SET email = excluded.email,"
			 " updated_at = excluded.updated_at",
			 "ssi", subject, email, (int64_t)now);
	else
		rc = run(st, NULL, "DELETE FROM contacts WHERE subject = ?", "s", subject);
	unlock(st);
	return rc;
}

int pstore_notify(struct pstore *st, const char *subject, const char *procedure_id,
		  const char *kind, const char *title, const char *body, time_t now,
		  int *mailed)
{
	json_t *row = NULL;
	int64_t nid, n = 0;
	int rc;

	*mailed = 0;
	lock(st);
	if ((rc = begin(st)))
		goto out;
	if ((rc = ndx_sqldb_query_one(st->db, &row,
				      "INSERT INTO notifications(subject, procedure_id, kind, created_at)"
				      " VALUES(?,?,?,?) RETURNING id",
				      "sssi", subject, procedure_id, kind, (int64_t)now))) {
		rc = rc == NDX_ENOTFOUND ? NDX_EDB : rc;
		goto rollback;
	}
	nid = ndx_sqldb_int(row, "id");
	json_decref(row);
	/* An e-mail only to an address the citizen gave (with their consent:
	 * the address is stored only with it). */
	if (title && (rc = run(st, &n,
			       "INSERT INTO outbox(notification_id, rcpt, title, body,"
			       " created_at, next_at) SELECT ?1, email, ?2, ?3, ?4, ?4 FROM"
			       " contacts WHERE subject = ?5",
			       "issis", nid, title, body, (int64_t)now, subject)))
		goto rollback;
	if ((rc = commit(st)) == NDX_OK)
		*mailed = n > 0;
	goto out;
rollback:
	rollback(st);
out:
	unlock(st);
	return rc;
}

static json_t *notification_json(const json_t *r)
{
	return json_pack("{s:I,s:s,s:s,s:s,s:o,s:b}", "id", (json_int_t)ndx_sqldb_int(r, "id"), "kind",
			 cs(r, "kind"), "procedure_id", cs(r, "procedure_id"), "reference",
			 cs(r, "reference"), "created_at", time_json(ndx_sqldb_int(r, "created_at")),
			 "read", !ndx_sqldb_is_null(r, "read_at"));
}

int pstore_notifications(struct pstore *st, const char *subject, unsigned limit, json_t **out)
{
	json_t *arr = NULL, *row = NULL;
	int rc;

	*out = NULL;
	lock(st);
	if ((rc = list_rows(st, &arr, notification_json,
			    "SELECT n.id, n.kind, n.procedure_id, p.reference, n.created_at,"
			    " n.read_at FROM notifications AS n JOIN procedures AS p ON"
			    " p.id = n.procedure_id WHERE n.subject = ? ORDER BY n.id DESC LIMIT ?",
			    "si", subject, (int64_t)limit)) == NDX_OK &&
	    (rc = ndx_sqldb_query_one(st->db, &row,
				      "SELECT COUNT(*) AS n FROM notifications WHERE subject = ? AND"
				      " read_at IS NULL",
				      "s", subject)) == NDX_ENOTFOUND)
		rc = NDX_EDB;
	unlock(st);
	if (rc == NDX_OK && !(*out = json_pack("{s:I,s:O}", "unread", (json_int_t)ndx_sqldb_int(row, "n"),
					       "notifications", arr)))
		rc = NDX_ENOMEM;
	json_decref(row);
	json_decref(arr);
	return rc;
}

int pstore_notification_read(struct pstore *st, const char *subject, int64_t id, time_t now)
{
	int64_t n = 0;
	int rc;

	lock(st);
	/* id 0: all of subject's. */
	rc = run(st, &n,
		 "UPDATE notifications SET read_at = COALESCE(read_at, ?3) WHERE"
		 " subject = ?1 AND (?2 = 0 OR id = ?2)",
		 "sii", subject, id, (int64_t)now);
	unlock(st);
	if (rc == NDX_OK && id && n == 0)
		rc = NDX_ENOTFOUND;
	return rc;
}

int pstore_outbox_claim(struct pstore *st, const char *node, time_t now, long lease_s,
			unsigned max_attempts, struct pmail *out)
{
	json_t *row = NULL;
	int rc;

	memset(out, 0, sizeof *out);
	lock(st);
	if ((rc = begin(st)))
		goto out;
	if ((rc = ndx_sqldb_query_one(st->db, &row,
				      "SELECT id, rcpt, title, body, attempts FROM outbox WHERE"
				      " sent_at IS NULL AND next_at <= ?1 AND attempts < ?2 AND"
				      " claimed_until <= ?1 ORDER BY next_at, id LIMIT 1",
				      "ii", (int64_t)now, (int64_t)max_attempts)) ||
	    (rc = ndx_sqldb_change(st->db,
				   "UPDATE outbox SET claimed_by = ?, claimed_until = ? WHERE id = ?",
				   "sii", node, (int64_t)now + lease_s, ndx_sqldb_int(row, "id")))) {
		rollback(st);
		goto out;
	}
	if ((rc = commit(st)))
		goto out;
	out->id = ndx_sqldb_int(row, "id");
	out->rcpt = strdup(cs(row, "rcpt"));
	out->title = strdup(cs(row, "title"));
	out->body = strdup(cs(row, "body"));
	out->attempts = (unsigned)ndx_sqldb_int(row, "attempts");
	if (!out->rcpt || !out->title || !out->body) {
		/* Claimed but not sent: the claim runs out and the e-mail is
		 * claimed again. */
		pmail_clear(out);
		rc = NDX_ENOMEM;
	}
out:
	unlock(st);
	json_decref(row);
	return rc;
}

int pstore_outbox_done(struct pstore *st, int64_t id, const char *node, time_t now,
		       const char *error, time_t retry_at)
{
	int rc;

	lock(st);
	if (error)
		rc = ndx_sqldb_change(st->db,
				      "UPDATE outbox SET attempts = attempts + 1, last_error = ?,"
				      " next_at = ?, claimed_until = 0 WHERE id = ?"
				      " AND claimed_by = ? AND sent_at IS NULL",
				      "siis", error, (int64_t)retry_at, id, node);
	else
		rc = ndx_sqldb_change(st->db,
				      "UPDATE outbox SET attempts = attempts + 1,"
				      " sent_at = COALESCE(sent_at, ?), last_error = NULL,"
				      " claimed_until = 0 WHERE id = ?",
				      "ii", (int64_t)now, id);
	unlock(st);
	return rc;
}

void pmail_clear(struct pmail *m)
{
	free(m->rcpt);
	free(m->title);
	free(m->body);
	memset(m, 0, sizeof *m);
}
