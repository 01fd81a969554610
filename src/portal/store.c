/* The portal's SQLite store (store.h). Every public function takes the
 * store mutex for its whole duration: the connection is shared by the HTTP
 * pool, and a transaction begun by one thread must not swallow another
 * thread's statements. Procedures keep their fields and result as JSON
 * text; the answer is assembled here so that the API and the procedures
 * see one shape. */
#include "store.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ndx/err.h"
#include "ndx/sqlstore.h"
#include "signin_store.h"
#include "ndx/timefmt.h"

#define PROG "ndx-portal"

struct pstore {
	sqlite3 *db;
	pthread_mutex_t mu;
};

/* migrations[i] is schema version i + 1; append, never edit. */
static const char *const MIGRATIONS[] = {
	"CREATE TABLE sessions(id_sha256 TEXT PRIMARY KEY, kind TEXT NOT NULL,"
	" subject TEXT NOT NULL DEFAULT '', name TEXT NOT NULL, agency TEXT NOT NULL DEFAULT '',"
	" username TEXT NOT NULL DEFAULT '', csrf TEXT NOT NULL, id_token TEXT,"
	" created_at INTEGER NOT NULL, last_seen INTEGER NOT NULL);"
	"CREATE TABLE logins(state_sha256 TEXT PRIMARY KEY, nonce TEXT NOT NULL,"
	" verifier TEXT NOT NULL, created_at INTEGER NOT NULL);"
	"CREATE TABLE officers(username TEXT PRIMARY KEY, name TEXT NOT NULL,"
	" agency TEXT NOT NULL, password_hash TEXT NOT NULL, created_at INTEGER NOT NULL);"
	"CREATE TABLE procedures(id TEXT PRIMARY KEY, kind TEXT NOT NULL, state TEXT NOT NULL,"
	" subject TEXT NOT NULL, applicant_name TEXT NOT NULL, agency TEXT NOT NULL,"
	" fields TEXT NOT NULL, result TEXT, work TEXT, created_at INTEGER NOT NULL,"
	" updated_at INTEGER NOT NULL);"
	"CREATE INDEX procedures_subject ON procedures(subject, created_at);"
	"CREATE INDEX procedures_agency ON procedures(agency, state, created_at);"
	"CREATE TABLE history(procedure_id TEXT NOT NULL REFERENCES procedures(id),"
	" seq INTEGER NOT NULL, at INTEGER NOT NULL, state TEXT NOT NULL, actor TEXT NOT NULL,"
	" note TEXT, PRIMARY KEY(procedure_id, seq));",
	/* 2: officer sign-in failures, for the lockout (auth.c). */
	"CREATE TABLE officer_failures(username TEXT NOT NULL, at INTEGER NOT NULL);"
	"CREATE INDEX officer_failures_user ON officer_failures(username, at);",
	/* 3: where a sign-in returns to (a "sign in again" from a page). */
	"ALTER TABLE logins ADD COLUMN next TEXT NOT NULL DEFAULT '';",
	/* 4: a login bound to the browser that started it (the SHA-256 of its
	 * pre-session cookie); failed sign-ins by account and source for the
	 * throttle that replaced the lockout (auth.c). */
	"ALTER TABLE logins ADD COLUMN browser_sha256 TEXT NOT NULL DEFAULT '';"
	"DROP TABLE officer_failures;"
	"CREATE TABLE signin_failures(account TEXT NOT NULL, source TEXT NOT NULL,"
	" at INTEGER NOT NULL);"
	"CREATE INDEX signin_failures_account ON signin_failures(account, at);"
	"CREATE INDEX signin_failures_source ON signin_failures(source, at);",
	/* 5: officials of the operations centre, known by their PIN (ops.c). */
	"CREATE TABLE officials(pin TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL,"
	" member TEXT NOT NULL, created_at INTEGER NOT NULL);",
	/* 6: the procedures push to the monitoring service (procpush.c). Every
	 * write that moves a procedure's updated_at also gives it the next
	 * change number, so that changes are ordered even within one second;
	 * push_state keeps the last change number the monitoring service
	 * acknowledged. Procedures from before are numbered in rowid order. */
	"ALTER TABLE procedures ADD COLUMN change_seq INTEGER NOT NULL DEFAULT 0;"
	"UPDATE procedures SET change_seq = rowid;"
	"CREATE INDEX procedures_change ON procedures(change_seq);"
	"CREATE TABLE push_state(k TEXT PRIMARY KEY, v INTEGER NOT NULL);",
	/* 7: the application number people read and say ("HS261203-00042": the
	 * day it was filed in Vietnam and its number that day), instead of the
	 * id, which stays the key in URLs and the API. Applications from
	 * before are numbered in rowid order within their day. */
	"ALTER TABLE procedures ADD COLUMN reference TEXT;"
	"UPDATE procedures SET reference = 'HS' ||"
	" substr(strftime('%Y%m%d', created_at + 25200, 'unixepoch'), 3) || '-' ||"
	" printf('%05d', (SELECT COUNT(*) FROM procedures AS o WHERE"
	" date(o.created_at + 25200, 'unixepoch') ="
	" date(procedures.created_at + 25200, 'unixepoch')"
	" AND o.rowid <= procedures.rowid));"
	"CREATE UNIQUE INDEX procedures_reference ON procedures(reference);",
	/* 8: the officers' desk (issue 22). Who holds an application (the
	 * officer who took it, or decided it; '' while nobody does), and when
	 * it reached the officers (submitted_at: its processing deadline
	 * counts from there; an application waiting for its fee has none).
	 * Applications from before take the first "submitted" of their
	 * history. */
	"ALTER TABLE procedures ADD COLUMN assignee TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE procedures ADD COLUMN assignee_name TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE procedures ADD COLUMN assigned_at INTEGER;"
	"ALTER TABLE procedures ADD COLUMN submitted_at INTEGER;"
	"UPDATE procedures SET submitted_at = (SELECT MIN(at) FROM history WHERE"
	" history.procedure_id = procedures.id AND history.state = 'submitted');"
	"CREATE INDEX procedures_assignee ON procedures(agency, assignee);",
	/* 9: the citizen's side of the desk (issue 22). An officer's request
	 * for more information and the citizen's answer; files attached to an
	 * application (kept in the database with their SHA-256, at most
	 * PSTORE_ATTACH_MAX bytes each); the citizen's e-mail address, given
	 * with their consent; the notification centre; and the e-mails to
	 * send, retried from the outbox by the mailer (notify.c). */
	"CREATE TABLE info_requests(procedure_id TEXT NOT NULL REFERENCES procedures(id),"
	" seq INTEGER NOT NULL, asked_at INTEGER NOT NULL, asked_by TEXT NOT NULL,"
	" asked_by_name TEXT NOT NULL, question TEXT NOT NULL, answered_at INTEGER,"
	" answer TEXT, PRIMARY KEY(procedure_id, seq));"
	"CREATE TABLE attachments(id TEXT PRIMARY KEY,"
	" procedure_id TEXT NOT NULL REFERENCES procedures(id), request_seq INTEGER,"
	" name TEXT NOT NULL, media_type TEXT NOT NULL, size INTEGER NOT NULL,"
	" sha256 TEXT NOT NULL, data BLOB NOT NULL, uploaded_by TEXT NOT NULL,"
	" created_at INTEGER NOT NULL);"
	"CREATE INDEX attachments_procedure ON attachments(procedure_id, created_at);"
	"CREATE TABLE contacts(subject TEXT PRIMARY KEY, email TEXT NOT NULL,"
	" updated_at INTEGER NOT NULL);"
	"CREATE TABLE notifications(id INTEGER PRIMARY KEY, subject TEXT NOT NULL,"
	" procedure_id TEXT NOT NULL, kind TEXT NOT NULL, created_at INTEGER NOT NULL,"
	" read_at INTEGER);"
	"CREATE INDEX notifications_subject ON notifications(subject, id);"
	"CREATE TABLE outbox(id INTEGER PRIMARY KEY, notification_id INTEGER NOT NULL,"
	" rcpt TEXT NOT NULL, title TEXT NOT NULL, body TEXT NOT NULL,"
	" created_at INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
	" next_at INTEGER NOT NULL, sent_at INTEGER, last_error TEXT);"
	"CREATE INDEX outbox_due ON outbox(sent_at, next_at);",
	/* 10: the administration of officers and officials on the web
	 * (admin.c, issue 21): every change made there, with the official who
	 * made it (their PIN, name, role and member as they were) and when.
	 * member is the member of the officer or official changed, so that an
	 * agency official reads its own member's rows. */
	"CREATE TABLE admin_audit(id INTEGER PRIMARY KEY, at INTEGER NOT NULL,"
	" actor_pin TEXT NOT NULL, actor_name TEXT NOT NULL, actor_role TEXT NOT NULL,"
	" actor_member TEXT NOT NULL, action TEXT NOT NULL, target TEXT NOT NULL,"
	" target_name TEXT NOT NULL, member TEXT NOT NULL, detail TEXT NOT NULL);"
	"CREATE INDEX admin_audit_member ON admin_audit(member, id);",
};

static int db_fail(struct pstore *st, const char *what)
{
	return ndx_sqlstore_fail(st->db, PROG, what);
}

static int prepare(struct pstore *st, const char *sql, sqlite3_stmt **s)
{
	if (sqlite3_prepare_v2(st->db, sql, -1, s, NULL) != SQLITE_OK) {
		*s = NULL;
		return db_fail(st, "prepare");
	}
	return NDX_OK;
}

static int exec_sql(struct pstore *st, const char *sql)
{
	if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return db_fail(st, sql);
	return NDX_OK;
}

/* Runs a statement that returns no rows and finalizes it. */
static int step_done(struct pstore *st, sqlite3_stmt *s, const char *what)
{
	int r = sqlite3_step(s);

	sqlite3_finalize(s);
	if (r == SQLITE_CONSTRAINT)
		return NDX_EEXIST;
	return r == SQLITE_DONE ? NDX_OK : db_fail(st, what);
}

static void copy_col(sqlite3_stmt *s, int i, char *out, size_t cap)
{
	const unsigned char *t = sqlite3_column_text(s, i);

	snprintf(out, cap, "%s", t ? (const char *)t : "");
}

int pstore_open(const char *path, struct pstore **out)
{
	struct pstore *st = calloc(1, sizeof *st);

	*out = NULL;
	if (!st)
		return NDX_ENOMEM;
	if (ndx_sqlstore_open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, MIGRATIONS,
			      sizeof MIGRATIONS / sizeof *MIGRATIONS, PROG, &st->db) != NDX_OK) {
		free(st);
		return NDX_EDB;
	}
	pthread_mutex_init(&st->mu, NULL);
	*out = st;
	return NDX_OK;
}

void pstore_close(struct pstore *st)
{
	if (!st)
		return;
	sqlite3_close(st->db);
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
	sqlite3_stmt *q;
	int rc;

	pthread_mutex_lock(&st->mu);
	/* Sessions past the longest possible life go here, not in a timer. */
	if ((rc = prepare(st, "DELETE FROM sessions WHERE created_at < ?", &q)) == NDX_OK) {
		sqlite3_bind_int64(q, 1, (sqlite3_int64)s->created_at - 8 * 3600);
		rc = step_done(st, q, "session cleanup");
	}
	if (rc == NDX_OK &&
	    (rc = prepare(st,
			  "INSERT INTO sessions(id_sha256, kind, subject, name, agency, username,"
			  " csrf, id_token, created_at, last_seen) VALUES(?,?,?,?,?,?,?,?,?,?)",
			  &q)) == NDX_OK) {
		sqlite3_bind_text(q, 1, id_sha256, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 2, s->kind, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 3, s->subject, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 4, s->name, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 5, s->agency, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 6, s->username, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 7, s->csrf, -1, SQLITE_STATIC);
		if (s->id_token)
			sqlite3_bind_text(q, 8, s->id_token, -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 9, (sqlite3_int64)s->created_at);
		sqlite3_bind_int64(q, 10, (sqlite3_int64)s->last_seen);
		rc = step_done(st, q, "session insert");
	}
	pthread_mutex_unlock(&st->mu);
	return rc;
}

static int session_delete_locked(struct pstore *st, const char *id_sha256)
{
	sqlite3_stmt *q;
	int rc;

	if ((rc = prepare(st, "DELETE FROM sessions WHERE id_sha256 = ?", &q)))
		return rc;
	sqlite3_bind_text(q, 1, id_sha256, -1, SQLITE_STATIC);
	return step_done(st, q, "session delete");
}

int pstore_session_get(struct pstore *st, const char *id_sha256, time_t now, long idle_s,
		       long max_s, struct psession *out)
{
	sqlite3_stmt *q;
	int rc, r;

	memset(out, 0, sizeof *out);
	pthread_mutex_lock(&st->mu);
	if ((rc = prepare(st,
			  "SELECT kind, subject, name, agency, username, csrf, id_token, created_at,"
			  " last_seen FROM sessions WHERE id_sha256 = ?",
			  &q)))
		goto out;
	sqlite3_bind_text(q, 1, id_sha256, -1, SQLITE_STATIC);
	r = sqlite3_step(q);
	if (r != SQLITE_ROW) {
		sqlite3_finalize(q);
		rc = r == SQLITE_DONE ? NDX_ENOTFOUND : db_fail(st, "session get");
		goto out;
	}
	copy_col(q, 0, out->kind, sizeof out->kind);
	copy_col(q, 1, out->subject, sizeof out->subject);
	copy_col(q, 2, out->name, sizeof out->name);
	copy_col(q, 3, out->agency, sizeof out->agency);
	copy_col(q, 4, out->username, sizeof out->username);
	copy_col(q, 5, out->csrf, sizeof out->csrf);
	if (sqlite3_column_type(q, 6) == SQLITE_TEXT &&
	    !(out->id_token = strdup((const char *)sqlite3_column_text(q, 6)))) {
		sqlite3_finalize(q);
		rc = NDX_ENOMEM;
		goto out;
	}
	out->created_at = (time_t)sqlite3_column_int64(q, 7);
	out->last_seen = (time_t)sqlite3_column_int64(q, 8);
	sqlite3_finalize(q);
	if (now - out->last_seen > idle_s || now - out->created_at > max_s) {
		session_delete_locked(st, id_sha256);
		rc = NDX_ENOTFOUND;
		goto out;
	}
	if ((rc = prepare(st, "UPDATE sessions SET last_seen = ? WHERE id_sha256 = ?", &q)))
		goto out;
	sqlite3_bind_int64(q, 1, (sqlite3_int64)now);
	sqlite3_bind_text(q, 2, id_sha256, -1, SQLITE_STATIC);
	rc = step_done(st, q, "session touch");
	out->last_seen = now;
out:
	pthread_mutex_unlock(&st->mu);
	if (rc != NDX_OK)
		psession_clear(out);
	return rc;
}

int pstore_session_delete(struct pstore *st, const char *id_sha256)
{
	int rc;

	pthread_mutex_lock(&st->mu);
	rc = session_delete_locked(st, id_sha256);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

/* ---- logins ------------------------------------------------------------------ */

int pstore_login_put(struct pstore *st, const char *state_sha256, const char *browser_sha256,
		     const char *nonce, const char *verifier, const char *next, time_t now)
{
	sqlite3_stmt *q;
	int rc;

	pthread_mutex_lock(&st->mu);
	/* Abandoned logins older than an hour go with every new one. */
	if ((rc = prepare(st, "DELETE FROM logins WHERE created_at < ?", &q)) == NDX_OK) {
		sqlite3_bind_int64(q, 1, (sqlite3_int64)now - 3600);
		rc = step_done(st, q, "login cleanup");
	}
	if (rc == NDX_OK &&
	    (rc = prepare(st,
			  "INSERT INTO logins(state_sha256, nonce, verifier, next, created_at,"
			  " browser_sha256) VALUES(?,?,?,?,?,?)",
			  &q)) == NDX_OK) {
		sqlite3_bind_text(q, 1, state_sha256, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 2, nonce, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 3, verifier, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 4, next ? next : "", -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 5, (sqlite3_int64)now);
		sqlite3_bind_text(q, 6, browser_sha256, -1, SQLITE_STATIC);
		rc = step_done(st, q, "login insert");
	}
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int pstore_login_take(struct pstore *st, const char *state_sha256, time_t now, long max_age_s,
		      char browser_sha256[PSTORE_HASH_HEX], char *nonce, char *verifier,
		      size_t cap, char *next, size_t next_cap)
{
	sqlite3_stmt *q;
	int rc, r;

	pthread_mutex_lock(&st->mu);
	/* DELETE … RETURNING: a state is used at most once even when the same
	 * callback arrives twice at the same moment. */
	if ((rc = prepare(st,
			  "DELETE FROM logins WHERE state_sha256 = ?"
			  " RETURNING nonce, verifier, created_at, next, browser_sha256",
			  &q)))
		goto out;
	sqlite3_bind_text(q, 1, state_sha256, -1, SQLITE_STATIC);
	r = sqlite3_step(q);
	if (r == SQLITE_ROW) {
		copy_col(q, 0, nonce, cap);
		copy_col(q, 1, verifier, cap);
		copy_col(q, 3, next, next_cap);
		copy_col(q, 4, browser_sha256, PSTORE_HASH_HEX);
		rc = now - (time_t)sqlite3_column_int64(q, 2) > max_age_s ? NDX_ENOTFOUND : NDX_OK;
		r = sqlite3_step(q);
	} else {
		rc = NDX_ENOTFOUND;
	}
	if (r != SQLITE_DONE)
		rc = db_fail(st, "login take");
	sqlite3_finalize(q);
out:
	pthread_mutex_unlock(&st->mu);
	return rc;
}

/* ---- officers ------------------------------------------------------------------ */

static int audit_locked(struct pstore *st, const struct padmin_actor *by, const char *action,
			const char *target, const char *target_name, const char *member,
			json_t *detail, time_t now);

int pstore_officer_put(struct pstore *st, const struct pofficer *o, const struct padmin_actor *by,
		       time_t now, int *replaced)
{
	char old_name[sizeof o->name] = "", old_agency[sizeof o->agency] = "";
	sqlite3_stmt *q;
	json_t *detail;
	int rc, r;

	*replaced = 0;
	pthread_mutex_lock(&st->mu);
	if ((rc = exec_sql(st, "BEGIN IMMEDIATE")))
		goto out;
	if ((rc = prepare(st, "SELECT name, agency FROM officers WHERE username = ?", &q)))
		goto rollback;
	sqlite3_bind_text(q, 1, o->username, -1, SQLITE_STATIC);
	r = sqlite3_step(q);
	if (r == SQLITE_ROW) {
		copy_col(q, 0, old_name, sizeof old_name);
		copy_col(q, 1, old_agency, sizeof old_agency);
	}
	sqlite3_finalize(q);
	if (r != SQLITE_ROW && r != SQLITE_DONE) {
		rc = db_fail(st, "officer get");
		goto rollback;
	}
	*replaced = r == SQLITE_ROW;
	if ((rc = prepare(st,
			  "INSERT INTO officers(username, name, agency, password_hash, created_at)"
			  " VALUES(?1,?2,?3,?4,?5) ON CONFLICT(username) DO UPDATE SET"
			  " name = ?2, agency = ?3, password_hash = ?4",
			  &q)))
		goto rollback;
	sqlite3_bind_text(q, 1, o->username, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, o->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, o->agency, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, o->password_hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 5, (sqlite3_int64)now);
	if ((rc = step_done(st, q, "officer put")))
		goto rollback;
	if (*replaced) {
		/* A new password, as a reset on the pages: the sessions opened
		 * with the old one end (T105). */
		if ((rc = prepare(st, "DELETE FROM sessions WHERE kind = 'officer' AND username = ?",
				  &q)))
			goto rollback;
		sqlite3_bind_text(q, 1, o->username, -1, SQLITE_STATIC);
		if ((rc = step_done(st, q, "officer sessions end")))
			goto rollback;
		detail = json_pack("{s:{s:s,s:s},s:{s:s,s:s}}", "from", "name", old_name, "agency",
				   old_agency, "to", "name", o->name, "agency", o->agency);
	} else {
		detail = json_pack("{s:s,s:s}", "name", o->name, "agency", o->agency);
	}
	if ((rc = audit_locked(st, by, *replaced ? "officer.update" : "officer.add", o->username,
			       o->name, o->agency, detail, now)) ||
	    (rc = exec_sql(st, "COMMIT")))
		goto rollback;
	goto out;
rollback:
	sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
out:
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int pstore_officer_get(struct pstore *st, const char *username, struct pofficer *out)
{
	sqlite3_stmt *q;
	int rc, r;

	memset(out, 0, sizeof *out);
	pthread_mutex_lock(&st->mu);
	if ((rc = prepare(st,
			  "SELECT username, name, agency, password_hash FROM officers"
			  " WHERE username = ?",
			  &q)) == NDX_OK) {
		sqlite3_bind_text(q, 1, username, -1, SQLITE_STATIC);
		r = sqlite3_step(q);
		if (r == SQLITE_ROW) {
			copy_col(q, 0, out->username, sizeof out->username);
			copy_col(q, 1, out->name, sizeof out->name);
			copy_col(q, 2, out->agency, sizeof out->agency);
			copy_col(q, 3, out->password_hash, sizeof out->password_hash);
		} else {
			rc = r == SQLITE_DONE ? NDX_ENOTFOUND : db_fail(st, "officer get");
		}
		sqlite3_finalize(q);
	}
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int pstore_officer_cost_hash(struct pstore *st, char out[NDX_PASSWORD_HASH_MAX])
{
	sqlite3_stmt *q;
	int rc, r;

	out[0] = '\0';
	pthread_mutex_lock(&st->mu);
	if ((rc = prepare(st, "SELECT password_hash FROM officers ORDER BY rowid DESC LIMIT 1",
			  &q)) == NDX_OK) {
		r = sqlite3_step(q);
		if (r == SQLITE_ROW)
			copy_col(q, 0, out, NDX_PASSWORD_HASH_MAX);
		else
			rc = r == SQLITE_DONE ? NDX_ENOTFOUND : db_fail(st, "officer cost");
		sqlite3_finalize(q);
	}
	pthread_mutex_unlock(&st->mu);
	return rc;
}

/* ---- officials ------------------------------------------------------------------ */

static json_t *time_json(sqlite3_int64 t);

static int official_get_locked(struct pstore *st, const char *pin, struct pofficial *out);

int pstore_official_put(struct pstore *st, const struct pofficial *o, const struct padmin_actor *by,
			time_t now, int *replaced)
{
	struct pofficial before;
	sqlite3_stmt *q;
	json_t *detail;
	int rc;

	*replaced = 0;
	pthread_mutex_lock(&st->mu);
	if ((rc = exec_sql(st, "BEGIN IMMEDIATE")))
		goto out;
	rc = official_get_locked(st, o->pin, &before);
	if (rc && rc != NDX_ENOTFOUND)
		goto rollback;
	*replaced = rc == NDX_OK;
	if ((rc = prepare(st,
			  "INSERT INTO officials(pin, name, role, member, created_at)"
			  " VALUES(?1,?2,?3,?4,?5) ON CONFLICT(pin) DO UPDATE SET"
			  " name = ?2, role = ?3, member = ?4",
			  &q)))
		goto rollback;
	sqlite3_bind_text(q, 1, o->pin, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, o->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, o->role, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, o->member, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 5, (sqlite3_int64)now);
	if ((rc = step_done(st, q, "official put")))
		goto rollback;
	detail = *replaced
			 ? json_pack("{s:{s:s,s:s,s:s},s:{s:s,s:s,s:s}}", "from", "name",
				     before.name, "role", before.role, "member", before.member,
				     "to", "name", o->name, "role", o->role, "member", o->member)
			 : json_pack("{s:s,s:s,s:s}", "name", o->name, "role", o->role, "member",
				     o->member);
	if ((rc = audit_locked(st, by, *replaced ? "official.change" : "official.add", o->pin,
			       o->name, o->member, detail, now)) ||
	    (rc = exec_sql(st, "COMMIT")))
		goto rollback;
	goto out;
rollback:
	sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
out:
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int pstore_official_get(struct pstore *st, const char *pin, struct pofficial *out)
{
	sqlite3_stmt *q;
	int rc, r;

	memset(out, 0, sizeof *out);
	pthread_mutex_lock(&st->mu);
	if ((rc = prepare(st, "SELECT pin, name, role, member FROM officials WHERE pin = ?",
			  &q)) == NDX_OK) {
		sqlite3_bind_text(q, 1, pin, -1, SQLITE_STATIC);
		r = sqlite3_step(q);
		if (r == SQLITE_ROW) {
			copy_col(q, 0, out->pin, sizeof out->pin);
			copy_col(q, 1, out->name, sizeof out->name);
			copy_col(q, 2, out->role, sizeof out->role);
			copy_col(q, 3, out->member, sizeof out->member);
		} else {
			rc = r == SQLITE_DONE ? NDX_ENOTFOUND : db_fail(st, "official get");
		}
		sqlite3_finalize(q);
	}
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int pstore_official_remove(struct pstore *st, const char *pin, const struct padmin_actor *by,
			   time_t now)
{
	struct pofficial before;
	sqlite3_stmt *q;
	int rc;

	pthread_mutex_lock(&st->mu);
	if ((rc = exec_sql(st, "BEGIN IMMEDIATE")))
		goto out;
	if ((rc = official_get_locked(st, pin, &before)))
		goto rollback;
	if ((rc = prepare(st, "DELETE FROM officials WHERE pin = ?", &q)))
		goto rollback;
	sqlite3_bind_text(q, 1, pin, -1, SQLITE_STATIC);
	if ((rc = step_done(st, q, "official remove")) ||
	    (rc = audit_locked(st, by, "official.remove", pin, before.name, before.member,
			       json_pack("{s:s,s:s,s:s}", "name", before.name, "role",
					 before.role, "member", before.member),
			       now)) ||
	    (rc = exec_sql(st, "COMMIT")))
		goto rollback;
	goto out;
rollback:
	sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
out:
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int pstore_official_list(struct pstore *st, json_t **out)
{
	json_t *arr = json_array();
	sqlite3_stmt *q;
	int rc, r;

	*out = NULL;
	if (!arr)
		return NDX_ENOMEM;
	pthread_mutex_lock(&st->mu);
	if ((rc = prepare(st, "SELECT pin, name, role, member, created_at FROM officials"
			      " ORDER BY pin", &q)) == NDX_OK) {
		while ((r = sqlite3_step(q)) == SQLITE_ROW)
			json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:s,s:o}",
				"pin", (const char *)sqlite3_column_text(q, 0),
				"name", (const char *)sqlite3_column_text(q, 1),
				"role", (const char *)sqlite3_column_text(q, 2),
				"member", (const char *)sqlite3_column_text(q, 3),
				"created_at", time_json(sqlite3_column_int64(q, 4))));
		if (r != SQLITE_DONE)
			rc = db_fail(st, "official list");
		sqlite3_finalize(q);
	}
	pthread_mutex_unlock(&st->mu);
	if (rc != NDX_OK) {
		json_decref(arr);
		return rc;
	}
	*out = arr;
	return NDX_OK;
}

/* ---- the administration of officers and officials (admin.c) ----------------- */

/* Writes the audit row of a change made by by, inside the caller's
 * transaction. */
static int audit_locked(struct pstore *st, const struct padmin_actor *by, const char *action,
			const char *target, const char *target_name, const char *member,
			json_t *detail, time_t now)
{
	char *text = detail ? json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS) : strdup("{}");
	sqlite3_stmt *q;
	int rc;

	json_decref(detail);
	if (!text)
		return NDX_ENOMEM;
	if ((rc = prepare(st,
			  "INSERT INTO admin_audit(at, actor_pin, actor_name, actor_role,"
			  " actor_member, action, target, target_name, member, detail)"
			  " VALUES(?,?,?,?,?,?,?,?,?,?)",
			  &q)) == NDX_OK) {
		sqlite3_bind_int64(q, 1, (sqlite3_int64)now);
		sqlite3_bind_text(q, 2, by->pin, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 3, by->name, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 4, by->role, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 5, by->member, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 6, action, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 7, target, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 8, target_name, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 9, member, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 10, text, -1, SQLITE_TRANSIENT);
		rc = step_done(st, q, "audit insert");
	}
	free(text);
	return rc;
}

/* Runs one write of the administration (sql with its text parameters,
 * NULL-terminated) and its audit row in one transaction. want_change: the
 * write must change a row (else NDX_ENOTFOUND). end_sessions: the officer
 * username's sessions are deleted in the same transaction. */
struct admin_write {
	const char *sql;
	const char *params[6];
	int want_change;
	const char *end_sessions; /* an officer's user name, or NULL */
	const char *action, *target, *target_name, *member;
	json_t *detail; /* taken */
};

static int admin_write_locked(struct pstore *st, const struct padmin_actor *by,
			      struct admin_write *w, time_t now)
{
	sqlite3_stmt *q;
	int rc;

	if ((rc = prepare(st, w->sql, &q))) {
		json_decref(w->detail);
		return rc;
	}
	for (int i = 0; i < 6 && w->params[i]; i++)
		sqlite3_bind_text(q, i + 1, w->params[i], -1, SQLITE_STATIC);
	if ((rc = step_done(st, q, w->action))) {
		json_decref(w->detail);
		return rc;
	}
	if (w->want_change && sqlite3_changes(st->db) == 0) {
		json_decref(w->detail);
		return NDX_ENOTFOUND;
	}
	if (w->end_sessions) {
		if ((rc = prepare(st, "DELETE FROM sessions WHERE kind = 'officer' AND username = ?",
				  &q))) {
			json_decref(w->detail);
			return rc;
		}
		sqlite3_bind_text(q, 1, w->end_sessions, -1, SQLITE_STATIC);
		if ((rc = step_done(st, q, "officer sessions end"))) {
			json_decref(w->detail);
			return rc;
		}
	}
	return audit_locked(st, by, w->action, w->target, w->target_name, w->member, w->detail,
			    now);
}

static int admin_write(struct pstore *st, const struct padmin_actor *by, struct admin_write *w,
		       time_t now)
{
	int rc;

	pthread_mutex_lock(&st->mu);
	if ((rc = exec_sql(st, "BEGIN IMMEDIATE"))) {
		json_decref(w->detail);
		goto out;
	}
	if ((rc = admin_write_locked(st, by, w, now)) || (rc = exec_sql(st, "COMMIT")))
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
out:
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int pstore_officer_list(struct pstore *st, const char *agency, json_t **out)
{
	json_t *arr = json_array();
	sqlite3_stmt *q;
	int rc, r;

	*out = NULL;
	if (!arr)
		return NDX_ENOMEM;
	pthread_mutex_lock(&st->mu);
	if ((rc = prepare(st, "SELECT username, name, agency, created_at FROM officers"
			      " WHERE ?1 IS NULL OR agency = ?1 ORDER BY agency, username",
			  &q)) == NDX_OK) {
		if (agency)
			sqlite3_bind_text(q, 1, agency, -1, SQLITE_STATIC);
		while ((r = sqlite3_step(q)) == SQLITE_ROW)
			json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:o}",
				"username", (const char *)sqlite3_column_text(q, 0),
				"name", (const char *)sqlite3_column_text(q, 1),
				"agency", (const char *)sqlite3_column_text(q, 2),
				"created_at", time_json(sqlite3_column_int64(q, 3))));
		if (r != SQLITE_DONE)
			rc = db_fail(st, "officer list");
		sqlite3_finalize(q);
	}
	pthread_mutex_unlock(&st->mu);
	if (rc != NDX_OK) {
		json_decref(arr);
		return rc;
	}
	*out = arr;
	return NDX_OK;
}

int pstore_officer_create(struct pstore *st, const struct pofficer *o,
			  const struct padmin_actor *by, time_t now)
{
	char t[32];
	struct admin_write w = {
		.sql = "INSERT INTO officers(username, name, agency, password_hash, created_at)"
		       " VALUES(?,?,?,?,?)",
		.params = { o->username, o->name, o->agency, o->password_hash, t },
		.action = "officer.add", .target = o->username, .target_name = o->name,
		.member = o->agency,
		.detail = json_pack("{s:s,s:s}", "name", o->name, "agency", o->agency),
	};

	snprintf(t, sizeof t, "%lld", (long long)now);
	return admin_write(st, by, &w, now);
}

int pstore_officer_rename(struct pstore *st, const struct pofficer *o, const char *name,
			  const struct padmin_actor *by, time_t now)
{
	struct admin_write w = {
		.sql = "UPDATE officers SET name = ?1 WHERE username = ?2 AND agency = ?3",
		.params = { name, o->username, o->agency },
		.want_change = 1,
		.action = "officer.rename", .target = o->username, .target_name = name,
		.member = o->agency,
		.detail = json_pack("{s:s,s:s}", "from", o->name, "to", name),
	};
	int rc = admin_write(st, by, &w, now);
	sqlite3_stmt *q;

	/* Open sessions show the new name from their next answer. */
	if (rc == NDX_OK) {
		pthread_mutex_lock(&st->mu);
		if (prepare(st, "UPDATE sessions SET name = ? WHERE kind = 'officer'"
				" AND username = ?", &q) == NDX_OK) {
			sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
			sqlite3_bind_text(q, 2, o->username, -1, SQLITE_STATIC);
			(void)step_done(st, q, "officer session rename");
		}
		pthread_mutex_unlock(&st->mu);
	}
	return rc;
}

int pstore_officer_set_password(struct pstore *st, const struct pofficer *o, const char *hash,
				const struct padmin_actor *by, time_t now)
{
	struct admin_write w = {
		.sql = "UPDATE officers SET password_hash = ?1 WHERE username = ?2 AND agency = ?3",
		.params = { hash, o->username, o->agency },
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
		.params = { o->username, o->agency },
		.want_change = 1, .end_sessions = o->username,
		.action = "officer.remove", .target = o->username, .target_name = o->name,
		.member = o->agency,
		.detail = json_pack("{s:s,s:s}", "name", o->name, "agency", o->agency),
	};

	return admin_write(st, by, &w, now);
}

/* How many operators there are besides pin ("" for all), into *n. */
static int operators_besides_locked(struct pstore *st, const char *pin, long *n)
{
	sqlite3_stmt *q;
	int rc, r;

	*n = 0;
	if ((rc = prepare(st, "SELECT COUNT(*) FROM officials WHERE role = 'operator'"
			      " AND pin <> ?", &q)))
		return rc;
	sqlite3_bind_text(q, 1, pin, -1, SQLITE_STATIC);
	r = sqlite3_step(q);
	if (r == SQLITE_ROW)
		*n = (long)sqlite3_column_int64(q, 0);
	else
		rc = db_fail(st, "operators count");
	sqlite3_finalize(q);
	return rc;
}

/* The official pin as stored, into *out; NDX_ENOTFOUND. */
static int official_get_locked(struct pstore *st, const char *pin, struct pofficial *out)
{
	sqlite3_stmt *q;
	int rc, r;

	memset(out, 0, sizeof *out);
	if ((rc = prepare(st, "SELECT pin, name, role, member FROM officials WHERE pin = ?", &q)))
		return rc;
	sqlite3_bind_text(q, 1, pin, -1, SQLITE_STATIC);
	r = sqlite3_step(q);
	if (r == SQLITE_ROW) {
		copy_col(q, 0, out->pin, sizeof out->pin);
		copy_col(q, 1, out->name, sizeof out->name);
		copy_col(q, 2, out->role, sizeof out->role);
		copy_col(q, 3, out->member, sizeof out->member);
	} else {
		rc = r == SQLITE_DONE ? NDX_ENOTFOUND : db_fail(st, "official get");
	}
	sqlite3_finalize(q);
	return rc;
}

/* Official changes: the last operator is checked in the same transaction
 * as the write, so that two operators demoting each other at once cannot
 * both succeed. */
static int official_change(struct pstore *st, const struct pofficial *o, int op,
			   const struct padmin_actor *by, time_t now, struct pofficial *before)
{
	char t[32];
	struct admin_write w = { 0 };
	long others = 0;
	int rc;

	memset(before, 0, sizeof *before);
	snprintf(t, sizeof t, "%lld", (long long)now);
	pthread_mutex_lock(&st->mu);
	if ((rc = exec_sql(st, "BEGIN IMMEDIATE")))
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
		w.params[0] = o->pin, w.params[1] = o->name, w.params[2] = o->role;
		w.params[3] = o->member, w.params[4] = t;
		w.action = "official.add";
		w.detail = json_pack("{s:s,s:s,s:s}", "name", o->name, "role", o->role, "member",
				     o->member);
	} else if (op == 'u') {
		w.sql = "UPDATE officials SET name = ?2, role = ?3, member = ?4 WHERE pin = ?1";
		w.params[0] = o->pin, w.params[1] = o->name, w.params[2] = o->role;
		w.params[3] = o->member;
		w.want_change = 1;
		w.action = "official.change";
		w.detail = json_pack("{s:{s:s,s:s,s:s},s:{s:s,s:s,s:s}}", "from", "name",
				     before->name, "role", before->role, "member", before->member,
				     "to", "name", o->name, "role", o->role, "member", o->member);
	} else {
		w.sql = "DELETE FROM officials WHERE pin = ?1";
		w.params[0] = o->pin;
		w.want_change = 1;
		w.action = "official.remove";
		w.detail = json_pack("{s:s,s:s,s:s}", "name", before->name, "role", before->role,
				     "member", before->member);
	}
	w.target = o->pin;
	w.target_name = op == 'r' ? before->name : o->name;
	w.member = op == 'r' ? before->member : o->member;
	if ((rc = admin_write_locked(st, by, &w, now)) || (rc = exec_sql(st, "COMMIT")))
		goto rollback;
	goto out;
rollback:
	sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
out:
	pthread_mutex_unlock(&st->mu);
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

int pstore_admin_audit(struct pstore *st, const char *member, unsigned limit, json_t **out)
{
	json_t *arr = json_array(), *detail;
	sqlite3_stmt *q;
	int rc, r;

	*out = NULL;
	if (!arr)
		return NDX_ENOMEM;
	pthread_mutex_lock(&st->mu);
	if ((rc = prepare(st, "SELECT id, at, actor_pin, actor_name, actor_role, actor_member,"
			      " action, target, target_name, member, detail FROM admin_audit"
			      " WHERE ?1 IS NULL OR member = ?1 ORDER BY id DESC LIMIT ?2",
			  &q)) == NDX_OK) {
		if (member)
			sqlite3_bind_text(q, 1, member, -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 2, limit ? limit : 500);
		while ((r = sqlite3_step(q)) == SQLITE_ROW) {
			const char *d = (const char *)sqlite3_column_text(q, 10);

			detail = d ? json_loads(d, 0, NULL) : NULL;
			json_array_append_new(arr, json_pack(
				"{s:I,s:o,s:{s:s,s:s,s:s,s:s},s:s,s:s,s:s,s:s,s:o}",
				"id", (json_int_t)sqlite3_column_int64(q, 0),
				"at", time_json(sqlite3_column_int64(q, 1)),
				"actor", "pin", (const char *)sqlite3_column_text(q, 2),
				"name", (const char *)sqlite3_column_text(q, 3),
				"role", (const char *)sqlite3_column_text(q, 4),
				"member", (const char *)sqlite3_column_text(q, 5),
				"action", (const char *)sqlite3_column_text(q, 6),
				"target", (const char *)sqlite3_column_text(q, 7),
				"target_name", (const char *)sqlite3_column_text(q, 8),
				"member", (const char *)sqlite3_column_text(q, 9),
				"detail", detail ? detail : json_object()));
		}
		if (r != SQLITE_DONE)
			rc = db_fail(st, "audit list");
		sqlite3_finalize(q);
	}
	pthread_mutex_unlock(&st->mu);
	if (rc != NDX_OK) {
		json_decref(arr);
		return rc;
	}
	*out = arr;
	return NDX_OK;
}

/* ---- sign-in failures ------------------------------------------------------ */

int pstore_signin_counts(struct pstore *st, const char *account, const char *source,
			 time_t since, struct signin_counts *out)
{
	int rc;

	pthread_mutex_lock(&st->mu);
	rc = signin_counts_read(st->db, PROG, account, source, since, out);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int pstore_signin_failure_note(struct pstore *st, const char *account, const char *source,
			       time_t now, time_t forget_before)
{
	sqlite3_stmt *q;
	int rc;

	pthread_mutex_lock(&st->mu);
	/* Old failures go as new ones come: the table stays as small as the
	 * window, whatever names are tried. */
	if ((rc = prepare(st, "DELETE FROM signin_failures WHERE at < ?", &q)) == NDX_OK) {
		sqlite3_bind_int64(q, 1, (sqlite3_int64)forget_before);
		rc = step_done(st, q, "sign-in failures prune");
	}
	if (rc == NDX_OK &&
	    (rc = prepare(st, "INSERT INTO signin_failures(account, source, at) VALUES(?, ?, ?)",
			  &q)) == NDX_OK) {
		sqlite3_bind_text(q, 1, account, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 2, source, -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 3, (sqlite3_int64)now);
		rc = step_done(st, q, "sign-in failure");
	}
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int pstore_signin_success(struct pstore *st, const char *account, const char *source)
{
	sqlite3_stmt *q;
	int rc;

	pthread_mutex_lock(&st->mu);
	if ((rc = prepare(st, "DELETE FROM signin_failures WHERE account = ? AND source = ?",
			  &q)) == NDX_OK) {
		sqlite3_bind_text(q, 1, account, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 2, source, -1, SQLITE_STATIC);
		rc = step_done(st, q, "sign-in failures clear");
	}
	pthread_mutex_unlock(&st->mu);
	return rc;
}

/* ---- procedures ---------------------------------------------------------------- */

static json_t *time_json(sqlite3_int64 t)
{
	char buf[NDX_TIME_TEXT_LEN];

	ndx_time_format((time_t)t, buf);
	return json_string(buf);
}

static json_t *json_col(sqlite3_stmt *q, int i)
{
	const char *t = (const char *)sqlite3_column_text(q, i);
	json_t *v = t ? json_loads(t, 0, NULL) : NULL;

	return v ? v : json_null();
}

static int insert_history(struct pstore *st, const char *id, time_t now, const char *state,
			  const char *actor, const char *note)
{
	sqlite3_stmt *q;
	int rc;

	if ((rc = prepare(st,
			  "INSERT INTO history(procedure_id, seq, at, state, actor, note)"
			  " SELECT ?1, COALESCE(MAX(seq), 0) + 1, ?2, ?3, ?4, ?5 FROM history"
			  " WHERE procedure_id = ?1",
			  &q)))
		return rc;
	sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, (sqlite3_int64)now);
	sqlite3_bind_text(q, 3, state, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, actor, -1, SQLITE_STATIC);
	if (note)
		sqlite3_bind_text(q, 5, note, -1, SQLITE_STATIC);
	return step_done(st, q, "history insert");
}

/* The next application number of now's day in Vietnam, "HS" YYMMDD "-"
 * NNNNN, inside the caller's write transaction (so two applications never
 * get the same). */
static int proc_reference(struct pstore *st, time_t now, char out[PSTORE_REFERENCE_LEN])
{
	char date[NDX_VN_DATE_LEN], prefix[16];
	sqlite3_stmt *q;
	long long n;
	int r;

	ndx_time_vn_iso_date(now, date); /* YYYY-MM-DD */
	snprintf(prefix, sizeof prefix, "HS%.2s%.2s%.2s-", date + 2, date + 5, date + 8);
	if ((r = prepare(st, "SELECT COUNT(*) FROM procedures WHERE reference >= ?1"
			     " AND reference < ?1 || '~'", &q)))
		return r;
	sqlite3_bind_text(q, 1, prefix, -1, SQLITE_STATIC);
	r = sqlite3_step(q);
	n = r == SQLITE_ROW ? sqlite3_column_int64(q, 0) : -1;
	sqlite3_finalize(q);
	if (n < 0)
		return db_fail(st, "application number");
	if (n >= 99999)
		return NDX_ETOOBIG;
	snprintf(out, PSTORE_REFERENCE_LEN, "%s%05lld", prefix, n + 1);
	return NDX_OK;
}

int pstore_proc_insert(struct pstore *st, const struct pproc_new *p, time_t now)
{
	const char *state = p->state ? p->state : "submitted";
	char reference[PSTORE_REFERENCE_LEN];
	char *fields = json_dumps(p->fields, JSON_COMPACT);
	sqlite3_stmt *q;
	int rc;

	if (!fields)
		return NDX_ENOMEM;
	pthread_mutex_lock(&st->mu);
	if ((rc = exec_sql(st, "BEGIN IMMEDIATE")))
		goto out;
	if ((rc = proc_reference(st, now, reference)))
		goto rollback;
	if ((rc = prepare(st,
			  "INSERT INTO procedures(id, kind, subject, applicant_name, agency,"
			  " fields, created_at, updated_at, change_seq, state, reference,"
			  " submitted_at)"
			  " VALUES(?,?,?,?,?,?,?,?,"
			  "(SELECT COALESCE(MAX(change_seq), 0) + 1 FROM procedures),?,?,"
			  " CASE WHEN ?9 = 'submitted' THEN ?8 END)",
			  &q)) == NDX_OK) {
		sqlite3_bind_text(q, 1, p->id, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 2, p->kind, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 3, p->subject, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 4, p->applicant_name, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 5, p->agency, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 6, fields, -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 7, (sqlite3_int64)now);
		sqlite3_bind_int64(q, 8, (sqlite3_int64)now);
		sqlite3_bind_text(q, 9, state, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 10, reference, -1, SQLITE_STATIC);
		rc = step_done(st, q, "procedure insert");
	}
	if (rc == NDX_OK)
		rc = insert_history(st, p->id, now, state, p->actor, NULL);
	if (rc == NDX_OK)
		rc = exec_sql(st, "COMMIT");
rollback:
	if (rc != NDX_OK)
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
out:
	pthread_mutex_unlock(&st->mu);
	free(fields);
	return rc;
}

#define PROC_COLS                                                                        \
	"id, kind, state, subject, applicant_name, agency, fields, result, created_at,"  \
	" updated_at, reference, assignee, assignee_name, assigned_at, submitted_at"

static int add_history(struct pstore *st, const char *id, json_t *proc)
{
	json_t *hist = json_array();
	sqlite3_stmt *q;
	int rc, r;

	if (!hist)
		return NDX_ENOMEM;
	if ((rc = prepare(st,
			  "SELECT at, state, actor, note FROM history WHERE procedure_id = ?"
			  " ORDER BY seq",
			  &q))) {
		json_decref(hist);
		return rc;
	}
	sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
	while ((r = sqlite3_step(q)) == SQLITE_ROW) {
		const char *note = (const char *)sqlite3_column_text(q, 3);

		json_array_append_new(
			hist, json_pack("{s:o,s:s,s:s,s:o}", "at", time_json(sqlite3_column_int64(q, 0)),
					"state", (const char *)sqlite3_column_text(q, 1), "actor",
					(const char *)sqlite3_column_text(q, 2), "note",
					note ? json_string(note) : json_null()));
	}
	sqlite3_finalize(q);
	if (r != SQLITE_DONE) {
		json_decref(hist);
		return db_fail(st, "history");
	}
	json_object_set_new(proc, "history", hist);
	return NDX_OK;
}

/* "assigned_to" of a procedure row: {"username","name","at"} or null. */
static json_t *holder_json(sqlite3_stmt *q)
{
	const char *user = (const char *)sqlite3_column_text(q, 11);
	const char *name = (const char *)sqlite3_column_text(q, 12);

	if (!user || !*user)
		return json_null();
	return json_pack("{s:s,s:s,s:o}", "username", user, "name", name ? name : "", "at",
			 sqlite3_column_type(q, 13) == SQLITE_NULL
				 ? json_null()
				 : time_json(sqlite3_column_int64(q, 13)));
}

static json_t *proc_row(sqlite3_stmt *q)
{
	const char *reference = (const char *)sqlite3_column_text(q, 10);

	return json_pack("{s:o,s:o,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:o,s:o,s:o,s:o}",
			 "assigned_to", holder_json(q), "submitted_at",
			 sqlite3_column_type(q, 14) == SQLITE_NULL
				 ? json_null()
				 : time_json(sqlite3_column_int64(q, 14)),
			 "reference",
			 reference ? reference : "", "id",
			 (const char *)sqlite3_column_text(q, 0), "kind",
			 (const char *)sqlite3_column_text(q, 1), "state",
			 (const char *)sqlite3_column_text(q, 2), "subject",
			 (const char *)sqlite3_column_text(q, 3), "applicant_name",
			 (const char *)sqlite3_column_text(q, 4), "agency",
			 (const char *)sqlite3_column_text(q, 5), "fields", json_col(q, 6), "result",
			 json_col(q, 7), "created_at", time_json(sqlite3_column_int64(q, 8)),
			 "updated_at", time_json(sqlite3_column_int64(q, 9)));
}

/* "information_requests" of procedure id: [{"seq","asked_at","asked_by"
 * {"username","name"},"question","answered_at","answer"}], oldest first. */
static int add_requests(struct pstore *st, const char *id, json_t *proc)
{
	json_t *arr = json_array();
	sqlite3_stmt *q;
	int rc, r;

	if (!arr)
		return NDX_ENOMEM;
	if ((rc = prepare(st,
			  "SELECT seq, asked_at, asked_by, asked_by_name, question, answered_at,"
			  " answer FROM info_requests WHERE procedure_id = ? ORDER BY seq",
			  &q))) {
		json_decref(arr);
		return rc;
	}
	sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
	while ((r = sqlite3_step(q)) == SQLITE_ROW) {
		const char *answer = (const char *)sqlite3_column_text(q, 6);

		json_array_append_new(
			arr, json_pack("{s:I,s:o,s:{s:s,s:s},s:s,s:o,s:o}", "seq",
				       (json_int_t)sqlite3_column_int64(q, 0), "asked_at",
				       time_json(sqlite3_column_int64(q, 1)), "asked_by", "username",
				       (const char *)sqlite3_column_text(q, 2), "name",
				       (const char *)sqlite3_column_text(q, 3), "question",
				       (const char *)sqlite3_column_text(q, 4), "answered_at",
				       sqlite3_column_type(q, 5) == SQLITE_NULL
					       ? json_null()
					       : time_json(sqlite3_column_int64(q, 5)),
				       "answer", answer ? json_string(answer) : json_null()));
	}
	sqlite3_finalize(q);
	if (r != SQLITE_DONE) {
		json_decref(arr);
		return db_fail(st, "information requests");
	}
	json_object_set_new(proc, "information_requests", arr);
	return NDX_OK;
}

/* "attachments" of procedure id (what they are, never their bytes):
 * [{"id","name","media_type","size","sha256","uploaded_at","uploaded_by",
 * "request_seq"}], oldest first. */
static int add_attachments(struct pstore *st, const char *id, json_t *proc)
{
	json_t *arr = json_array();
	sqlite3_stmt *q;
	int rc, r;

	if (!arr)
		return NDX_ENOMEM;
	if ((rc = prepare(st,
			  "SELECT id, name, media_type, size, sha256, created_at, uploaded_by,"
			  " request_seq FROM attachments WHERE procedure_id = ?"
			  " ORDER BY created_at, rowid",
			  &q))) {
		json_decref(arr);
		return rc;
	}
	sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
	while ((r = sqlite3_step(q)) == SQLITE_ROW)
		json_array_append_new(
			arr, json_pack("{s:s,s:s,s:s,s:I,s:s,s:o,s:s,s:o}", "id",
				       (const char *)sqlite3_column_text(q, 0), "name",
				       (const char *)sqlite3_column_text(q, 1), "media_type",
				       (const char *)sqlite3_column_text(q, 2), "size",
				       (json_int_t)sqlite3_column_int64(q, 3), "sha256",
				       (const char *)sqlite3_column_text(q, 4), "uploaded_at",
				       time_json(sqlite3_column_int64(q, 5)), "uploaded_by",
				       (const char *)sqlite3_column_text(q, 6), "request_seq",
				       sqlite3_column_type(q, 7) == SQLITE_NULL
					       ? json_null()
					       : json_integer(sqlite3_column_int64(q, 7))));
	sqlite3_finalize(q);
	if (r != SQLITE_DONE) {
		json_decref(arr);
		return db_fail(st, "attachments");
	}
	json_object_set_new(proc, "attachments", arr);
	return NDX_OK;
}

static int proc_get_locked(struct pstore *st, const char *id, json_t **out)
{
	sqlite3_stmt *q;
	json_t *p = NULL;
	int rc, r;

	*out = NULL;
	if ((rc = prepare(st, "SELECT " PROC_COLS " FROM procedures WHERE id = ?", &q)))
		return rc;
	sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
	r = sqlite3_step(q);
	if (r == SQLITE_ROW)
		p = proc_row(q);
	sqlite3_finalize(q);
	if (r != SQLITE_ROW)
		return r == SQLITE_DONE ? NDX_ENOTFOUND : db_fail(st, "procedure get");
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

	pthread_mutex_lock(&st->mu);
	rc = proc_get_locked(st, id, out);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

/* Runs the prepared list query q (its parameters bound) into *out =
 * {"procedures":[…]} with their history, under st->mu. */
static int list_locked(struct pstore *st, sqlite3_stmt *q, json_t **out)
{
	json_t *arr = json_array(), *p;
	int rc = NDX_OK, r;

	*out = NULL;
	if (!arr) {
		sqlite3_finalize(q);
		return NDX_ENOMEM;
	}
	while ((r = sqlite3_step(q)) == SQLITE_ROW) {
		if (!(p = proc_row(q))) {
			rc = NDX_ENOMEM;
			break;
		}
		json_array_append_new(arr, p);
	}
	if (rc == NDX_OK && r != SQLITE_DONE)
		rc = db_fail(st, "procedure list");
	sqlite3_finalize(q);
	for (size_t i = 0; rc == NDX_OK && i < json_array_size(arr); i++) {
		p = json_array_get(arr, i);
		rc = add_history(st, json_string_value(json_object_get(p, "id")), p);
	}
	if (rc == NDX_OK && !(*out = json_pack("{s:o}", "procedures", arr)))
		return NDX_ENOMEM;
	if (rc != NDX_OK)
		json_decref(arr);
	return rc;
}

int pstore_proc_list(struct pstore *st, const char *subject, const char *agency,
		     const char *state, json_t **out)
{
	const struct pproc_query f = { .agency = agency, .state = state, .limit = 500 };
	sqlite3_stmt *q;
	int rc;

	*out = NULL;
	if (!subject)
		return pstore_proc_search(st, &f, out);
	pthread_mutex_lock(&st->mu);
	rc = prepare(st,
		     "SELECT " PROC_COLS " FROM procedures WHERE subject = ?"
		     " ORDER BY created_at DESC, rowid DESC LIMIT 500",
		     &q);
	if (rc == NDX_OK) {
		sqlite3_bind_text(q, 1, subject, -1, SQLITE_STATIC);
		rc = list_locked(st, q, out);
	}
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int pstore_proc_search(struct pstore *st, const struct pproc_query *f, json_t **out)
{
	sqlite3_stmt *q;
	int rc;

	*out = NULL;
	pthread_mutex_lock(&st->mu);
	/* Every filter is a bound parameter; NULL leaves it out. */
	rc = prepare(st,
		     "SELECT " PROC_COLS " FROM procedures WHERE agency = ?1"
		     " AND (?2 IS NULL OR state = ?2) AND (?3 IS NULL OR kind = ?3)"
		     " AND (?4 IS NULL OR (reference >= ?4 AND reference < ?4 || '~'))"
		     " AND (?5 IS NULL OR assignee = ?5)"
		     " ORDER BY created_at, rowid LIMIT ?6",
		     &q);
	if (rc == NDX_OK) {
		sqlite3_bind_text(q, 1, f->agency, -1, SQLITE_STATIC);
		if (f->state)
			sqlite3_bind_text(q, 2, f->state, -1, SQLITE_STATIC);
		if (f->kind)
			sqlite3_bind_text(q, 3, f->kind, -1, SQLITE_STATIC);
		if (f->reference)
			sqlite3_bind_text(q, 4, f->reference, -1, SQLITE_STATIC);
		if (f->assignee)
			sqlite3_bind_text(q, 5, f->assignee, -1, SQLITE_STATIC);
		sqlite3_bind_int(q, 6, f->limit ? (int)f->limit : 500);
		rc = list_locked(st, q, out);
	}
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int pstore_proc_transition(struct pstore *st, const char *id, const char *const *from,
			   const char *to, const char *actor, const char *note,
			   const json_t *result, time_t now)
{
	return pstore_proc_decide(st, id, from, to, actor, NULL, note, result, now);
}

/* Reads procedure id's state and holder in the caller's transaction. */
static int state_locked(struct pstore *st, const char *id, char state[32],
			char holder[128])
{
	sqlite3_stmt *q;
	int rc, r;

	if ((rc = prepare(st, "SELECT state, assignee FROM procedures WHERE id = ?", &q)))
		return rc;
	sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
	r = sqlite3_step(q);
	if (r == SQLITE_ROW) {
		copy_col(q, 0, state, 32);
		copy_col(q, 1, holder, 128);
	}
	sqlite3_finalize(q);
	if (r != SQLITE_ROW)
		return r == SQLITE_DONE ? NDX_ENOTFOUND : db_fail(st, "procedure state");
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
	sqlite3_stmt *q;
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
	if ((rc = prepare(st,
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
			  &q)))
		return rc;
	sqlite3_bind_text(q, 1, to, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, (sqlite3_int64)now);
	if (rtext)
		sqlite3_bind_text(q, 3, rtext, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, id, -1, SQLITE_STATIC);
	if (by) {
		sqlite3_bind_text(q, 5, by->username, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 6, by->name, -1, SQLITE_STATIC);
	}
	if ((rc = step_done(st, q, "procedure update")))
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
	pthread_mutex_lock(&st->mu);
	if ((rc = exec_sql(st, "BEGIN IMMEDIATE")))
		goto out;
	if ((rc = decide_locked(st, id, from, to, actor, by, note, rtext, now)) ||
	    (rc = exec_sql(st, "COMMIT")))
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
out:
	pthread_mutex_unlock(&st->mu);
	free(rtext);
	return rc;
}

int pstore_proc_hold(struct pstore *st, const char *id, const char *const *states,
		     const struct pholder *by, int release, time_t now)
{
	char state[32], holder[128];
	sqlite3_stmt *q;
	int rc;

	pthread_mutex_lock(&st->mu);
	if ((rc = exec_sql(st, "BEGIN IMMEDIATE")))
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
		rc = prepare(st, "UPDATE procedures SET assignee = '', assignee_name = '',"
				 " assigned_at = NULL WHERE id = ?1", &q);
	else if (holder[0])
		goto rollback; /* already theirs: nothing to write */
	else
		rc = prepare(st, "UPDATE procedures SET assignee = ?2, assignee_name = ?3,"
				 " assigned_at = ?4 WHERE id = ?1", &q);
	if (rc)
		goto rollback;
	sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
	if (!release) {
		sqlite3_bind_text(q, 2, by->username, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 3, by->name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 4, (sqlite3_int64)now);
	}
	if ((rc = step_done(st, q, "procedure holder")) || (rc = exec_sql(st, "COMMIT")))
		goto rollback;
	goto out;
rollback:
	sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
out:
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int pstore_proc_work_get(struct pstore *st, const char *id, json_t **out)
{
	sqlite3_stmt *q;
	int rc, r;

	*out = NULL;
	pthread_mutex_lock(&st->mu);
	if ((rc = prepare(st, "SELECT work FROM procedures WHERE id = ?", &q)) == NDX_OK) {
		sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
		r = sqlite3_step(q);
		if (r == SQLITE_ROW) {
			json_t *w = json_col(q, 0);

			if (!json_is_object(w)) {
				json_decref(w);
				w = json_object();
			}
			*out = w;
			rc = w ? NDX_OK : NDX_ENOMEM;
		} else {
			rc = r == SQLITE_DONE ? NDX_ENOTFOUND : db_fail(st, "work get");
		}
		sqlite3_finalize(q);
	}
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int pstore_proc_work_set(struct pstore *st, const char *id, const json_t *work)
{
	char *text = json_dumps(work, JSON_COMPACT);
	sqlite3_stmt *q;
	int rc;

	if (!text)
		return NDX_ENOMEM;
	pthread_mutex_lock(&st->mu);
	if ((rc = prepare(st, "UPDATE procedures SET work = ? WHERE id = ?", &q)) == NDX_OK) {
		sqlite3_bind_text(q, 1, text, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 2, id, -1, SQLITE_STATIC);
		rc = step_done(st, q, "work set");
	}
	pthread_mutex_unlock(&st->mu);
	free(text);
	return rc;
}

int pstore_proc_counts(struct pstore *st,
		       void (*fn)(void *ud, const char *kind, const char *state, int64_t n),
		       void *ud)
{
	sqlite3_stmt *s;
	int rc, step;

	pthread_mutex_lock(&st->mu);
	rc = prepare(st, "SELECT kind, state, count(*) FROM procedures GROUP BY kind, state"
			 " ORDER BY kind, state", &s);
	if (rc == NDX_OK) {
		while ((step = sqlite3_step(s)) == SQLITE_ROW)
			fn(ud, (const char *)sqlite3_column_text(s, 0),
			   (const char *)sqlite3_column_text(s, 1), sqlite3_column_int64(s, 2));
		if (step != SQLITE_DONE)
			rc = db_fail(st, "count");
		sqlite3_finalize(s);
	}
	pthread_mutex_unlock(&st->mu);
	return rc;
}

/* ---- the procedures push (procpush.c) ------------------------------------------ */

int pstore_push_batch(struct pstore *st, int64_t after, unsigned limit, json_t **out,
		      int64_t *last)
{
	json_t *arr = json_array(), *o;
	sqlite3_stmt *q;
	int rc, r;

	*out = NULL;
	*last = after;
	if (!arr)
		return NDX_ENOMEM;
	pthread_mutex_lock(&st->mu);
	if ((rc = prepare(st,
			  "SELECT p.id, p.kind, p.subject, p.agency, p.created_at, p.state,"
			  " (SELECT MAX(h.at) FROM history h WHERE h.procedure_id = p.id"
			  "  AND h.state IN ('completed', 'rejected')), p.change_seq"
			  " FROM procedures p WHERE p.change_seq > ? ORDER BY p.change_seq LIMIT ?",
			  &q)) == NDX_OK) {
		sqlite3_bind_int64(q, 1, (sqlite3_int64)after);
		sqlite3_bind_int64(q, 2, (sqlite3_int64)limit);
		while ((r = sqlite3_step(q)) == SQLITE_ROW) {
			const char *state = (const char *)sqlite3_column_text(q, 5);
			int closed = state && (strcmp(state, "completed") == 0 ||
					       strcmp(state, "rejected") == 0) &&
				     sqlite3_column_type(q, 6) == SQLITE_INTEGER;

			o = json_pack("{s:s,s:s,s:s,s:s,s:I,s:o}",
				      "id", (const char *)sqlite3_column_text(q, 0),
				      "kind", (const char *)sqlite3_column_text(q, 1),
				      "subject", (const char *)sqlite3_column_text(q, 2),
				      "agency", (const char *)sqlite3_column_text(q, 3),
				      "opened_ms", (json_int_t)sqlite3_column_int64(q, 4) * 1000,
				      "closed_ms", closed ? json_integer((json_int_t)
						sqlite3_column_int64(q, 6) * 1000) : json_null());
			if (!o || json_array_append_new(arr, o)) {
				rc = NDX_ENOMEM;
				break;
			}
			*last = (int64_t)sqlite3_column_int64(q, 7);
		}
		if (rc == NDX_OK && r != SQLITE_DONE)
			rc = db_fail(st, "push batch");
		sqlite3_finalize(q);
	}
	pthread_mutex_unlock(&st->mu);
	if (rc != NDX_OK) {
		*last = after;
		json_decref(arr);
		return rc;
	}
	*out = arr;
	return NDX_OK;
}

int pstore_push_backlog(struct pstore *st, int64_t after, int64_t *n)
{
	sqlite3_stmt *q;
	int rc;

	*n = 0;
	pthread_mutex_lock(&st->mu);
	if ((rc = prepare(st, "SELECT count(*) FROM procedures WHERE change_seq > ?", &q)) ==
	    NDX_OK) {
		sqlite3_bind_int64(q, 1, (sqlite3_int64)after);
		if (sqlite3_step(q) == SQLITE_ROW)
			*n = (int64_t)sqlite3_column_int64(q, 0);
		else
			rc = db_fail(st, "push backlog");
		sqlite3_finalize(q);
	}
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int pstore_push_cursor_get(struct pstore *st, const char *name, int64_t *v)
{
	sqlite3_stmt *q;
	int rc, r;

	*v = 0;
	pthread_mutex_lock(&st->mu);
	if ((rc = prepare(st, "SELECT v FROM push_state WHERE k = ?", &q)) == NDX_OK) {
		sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
		r = sqlite3_step(q);
		if (r == SQLITE_ROW)
			*v = (int64_t)sqlite3_column_int64(q, 0);
		else if (r != SQLITE_DONE)
			rc = db_fail(st, "push cursor");
		sqlite3_finalize(q);
	}
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int pstore_push_cursor_set(struct pstore *st, const char *name, int64_t v)
{
	sqlite3_stmt *q;
	int rc;

	pthread_mutex_lock(&st->mu);
	if ((rc = prepare(st,
			  "INSERT INTO push_state(k, v) VALUES(?1, ?2)"
			  " ON CONFLICT(k) DO UPDATE SET v = MAX(v, ?2)",
			  &q)) == NDX_OK) {
		sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 2, (sqlite3_int64)v);
		rc = step_done(st, q, "push cursor set");
	}
	pthread_mutex_unlock(&st->mu);
	return rc;
}

/* ---- more information, attachments (issue 22) ------------------------------- */

int pstore_info_ask(struct pstore *st, const char *id, const struct pholder *by,
		    const char *question, time_t now)
{
	static const char *const from[] = { "submitted", NULL };
	char actor[160];
	sqlite3_stmt *q;
	int rc;

	snprintf(actor, sizeof actor, "officer:%s", by->username);
	pthread_mutex_lock(&st->mu);
	if ((rc = exec_sql(st, "BEGIN IMMEDIATE")))
		goto out;
	if ((rc = decide_locked(st, id, from, "information_requested", actor, by, question, NULL,
				now)))
		goto rollback;
	if ((rc = prepare(st,
			  "INSERT INTO info_requests(procedure_id, seq, asked_at, asked_by,"
			  " asked_by_name, question) SELECT ?1, COALESCE(MAX(seq), 0) + 1, ?2, ?3,"
			  " ?4, ?5 FROM info_requests WHERE procedure_id = ?1",
			  &q)))
		goto rollback;
	sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, (sqlite3_int64)now);
	sqlite3_bind_text(q, 3, by->username, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, by->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 5, question, -1, SQLITE_STATIC);
	if ((rc = step_done(st, q, "information request")) || (rc = exec_sql(st, "COMMIT")))
		goto rollback;
	goto out;
rollback:
	sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
out:
	pthread_mutex_unlock(&st->mu);
	return rc;
}

/* Whether procedure id is subject's, in the caller's transaction:
 * NDX_OK, NDX_ENOTFOUND (none, or another's) or NDX_EDB. */
static int owned_locked(struct pstore *st, const char *id, const char *subject)
{
	sqlite3_stmt *q;
	int rc, r;

	if ((rc = prepare(st, "SELECT 1 FROM procedures WHERE id = ? AND subject = ?", &q)))
		return rc;
	sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, subject, -1, SQLITE_STATIC);
	r = sqlite3_step(q);
	sqlite3_finalize(q);
	if (r == SQLITE_ROW)
		return NDX_OK;
	return r == SQLITE_DONE ? NDX_ENOTFOUND : db_fail(st, "procedure owner");
}

int pstore_info_answer(struct pstore *st, const char *id, const char *subject,
		       const char *answer, const char *const *attachments, time_t now)
{
	static const char *const from[] = { "information_requested", NULL };
	char actor[64];
	sqlite3_stmt *q;
	int rc;

	snprintf(actor, sizeof actor, "citizen:%s", subject);
	pthread_mutex_lock(&st->mu);
	if ((rc = exec_sql(st, "BEGIN IMMEDIATE")))
		goto out;
	if ((rc = owned_locked(st, id, subject)))
		goto rollback;
	/* Back to the officers: its deadline runs again (the pause is the
	 * request's asked_at..answered_at, docs/portal.md). */
	if ((rc = decide_locked(st, id, from, "submitted", actor, NULL, answer, NULL, now)))
		goto rollback;
	if ((rc = prepare(st,
			  "UPDATE info_requests SET answered_at = ?2, answer = ?3 WHERE"
			  " procedure_id = ?1 AND seq = (SELECT MAX(seq) FROM info_requests"
			  " WHERE procedure_id = ?1) AND answered_at IS NULL",
			  &q)))
		goto rollback;
	sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, (sqlite3_int64)now);
	sqlite3_bind_text(q, 3, answer, -1, SQLITE_STATIC);
	if ((rc = step_done(st, q, "information answer")))
		goto rollback;
	if (sqlite3_changes(st->db) != 1) {
		rc = NDX_EPERM;
		goto rollback;
	}
	for (size_t i = 0; attachments && attachments[i]; i++) {
		if ((rc = prepare(st,
				  "UPDATE attachments SET request_seq = (SELECT MAX(seq) FROM"
				  " info_requests WHERE procedure_id = ?1) WHERE id = ?2 AND"
				  " procedure_id = ?1 AND request_seq IS NULL",
				  &q)))
			goto rollback;
		sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 2, attachments[i], -1, SQLITE_STATIC);
		if ((rc = step_done(st, q, "attachment link")))
			goto rollback;
		if (sqlite3_changes(st->db) != 1) {
			rc = NDX_EINVAL;
			goto rollback;
		}
	}
	if ((rc = exec_sql(st, "COMMIT")))
		goto rollback;
	goto out;
rollback:
	sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
out:
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int pstore_attachment_put(struct pstore *st, const struct pattach *a,
			  const char *const *states, time_t now)
{
	char state[32], holder[128];
	sqlite3_stmt *q;
	long long n = 0;
	int rc, r;

	pthread_mutex_lock(&st->mu);
	if ((rc = exec_sql(st, "BEGIN IMMEDIATE")))
		goto out;
	if ((rc = owned_locked(st, a->procedure_id, a->subject)) ||
	    (rc = state_locked(st, a->procedure_id, state, holder)))
		goto rollback;
	if (!state_in(state, states)) {
		rc = NDX_EPERM;
		goto rollback;
	}
	if ((rc = prepare(st, "SELECT COUNT(*) FROM attachments WHERE procedure_id = ?", &q)))
		goto rollback;
	sqlite3_bind_text(q, 1, a->procedure_id, -1, SQLITE_STATIC);
	r = sqlite3_step(q);
	n = r == SQLITE_ROW ? sqlite3_column_int64(q, 0) : -1;
	sqlite3_finalize(q);
	if (n < 0) {
		rc = db_fail(st, "attachment count");
		goto rollback;
	}
	if (n >= PSTORE_ATTACH_PER_PROC) {
		rc = NDX_ETOOBIG;
		goto rollback;
	}
	if ((rc = prepare(st,
			  "INSERT INTO attachments(id, procedure_id, name, media_type, size,"
			  " sha256, data, uploaded_by, created_at) VALUES(?,?,?,?,?,?,?,?,?)",
			  &q)))
		goto rollback;
	sqlite3_bind_text(q, 1, a->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, a->procedure_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, a->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, a->media_type, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 5, (sqlite3_int64)a->size);
	sqlite3_bind_text(q, 6, a->sha256, -1, SQLITE_STATIC);
	sqlite3_bind_blob64(q, 7, a->data, (sqlite3_uint64)a->size, SQLITE_STATIC);
	sqlite3_bind_text(q, 8, a->uploaded_by, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 9, (sqlite3_int64)now);
	if ((rc = step_done(st, q, "attachment insert")) || (rc = exec_sql(st, "COMMIT")))
		goto rollback;
	goto out;
rollback:
	sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
out:
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int pstore_attachment_get(struct pstore *st, const char *procedure_id, const char *id,
			  struct pattach *out)
{
	sqlite3_stmt *q;
	int rc, r;

	memset(out, 0, sizeof *out);
	pthread_mutex_lock(&st->mu);
	if ((rc = prepare(st,
			  "SELECT name, media_type, sha256, data FROM attachments WHERE"
			  " procedure_id = ? AND id = ?",
			  &q)))
		goto out;
	sqlite3_bind_text(q, 1, procedure_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, id, -1, SQLITE_STATIC);
	r = sqlite3_step(q);
	if (r == SQLITE_ROW) {
		size_t n = (size_t)sqlite3_column_bytes(q, 3);
		const void *b = sqlite3_column_blob(q, 3);
		char *name = strdup((const char *)sqlite3_column_text(q, 0));
		char *type = strdup((const char *)sqlite3_column_text(q, 1));
		char *data = malloc(n ? n : 1);

		if (!name || !type || !data) {
			free(name);
			free(type);
			free(data);
			rc = NDX_ENOMEM;
		} else {
			if (n)
				memcpy(data, b, n);
			copy_col(q, 2, out->sha256_buf, sizeof out->sha256_buf);
			out->name = name;
			out->media_type = type;
			out->data = data;
			out->size = n;
			out->sha256 = out->sha256_buf;
		}
	} else {
		rc = r == SQLITE_DONE ? NDX_ENOTFOUND : db_fail(st, "attachment get");
	}
	sqlite3_finalize(q);
out:
	pthread_mutex_unlock(&st->mu);
	return rc;
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
	sqlite3_stmt *q;
	int rc, r;

	email[0] = '\0';
	pthread_mutex_lock(&st->mu);
	if ((rc = prepare(st, "SELECT email FROM contacts WHERE subject = ?", &q)) == NDX_OK) {
		sqlite3_bind_text(q, 1, subject, -1, SQLITE_STATIC);
		r = sqlite3_step(q);
		if (r == SQLITE_ROW)
			copy_col(q, 0, email, cap);
		else
			rc = r == SQLITE_DONE ? NDX_ENOTFOUND : db_fail(st, "contact");
		sqlite3_finalize(q);
	}
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int pstore_contact_set(struct pstore *st, const char *subject, const char *email, time_t now)
{
	sqlite3_stmt *q;
	int rc;

	pthread_mutex_lock(&st->mu);
	rc = prepare(st,
		     email ? "INSERT INTO contacts(subject, email, updated_at) VALUES(?1, ?2, ?3)"
			     " ON CONFLICT(subject) DO UPDATE SET email = ?2, updated_at = ?3"
			   : "DELETE FROM contacts WHERE subject = ?1",
		     &q);
	if (rc == NDX_OK) {
		sqlite3_bind_text(q, 1, subject, -1, SQLITE_STATIC);
		if (email) {
			sqlite3_bind_text(q, 2, email, -1, SQLITE_STATIC);
			sqlite3_bind_int64(q, 3, (sqlite3_int64)now);
		}
		rc = step_done(st, q, "contact");
	}
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int pstore_notify(struct pstore *st, const char *subject, const char *procedure_id,
		  const char *kind, const char *title, const char *body, time_t now,
		  int *mailed)
{
	sqlite3_stmt *q;
	int rc;

	*mailed = 0;
	pthread_mutex_lock(&st->mu);
	if ((rc = exec_sql(st, "BEGIN IMMEDIATE")))
		goto out;
	if ((rc = prepare(st,
			  "INSERT INTO notifications(subject, procedure_id, kind, created_at)"
			  " VALUES(?,?,?,?)",
			  &q)))
		goto rollback;
	sqlite3_bind_text(q, 1, subject, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, procedure_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, kind, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 4, (sqlite3_int64)now);
	if ((rc = step_done(st, q, "notification")))
		goto rollback;
	/* An e-mail only to an address the citizen gave (with their consent:
	 * the address is stored only with it). */
	if (title && (rc = prepare(st,
				   "INSERT INTO outbox(notification_id, rcpt, title, body,"
				   " created_at, next_at) SELECT ?1, email, ?2, ?3, ?4, ?4 FROM"
				   " contacts WHERE subject = ?5",
				   &q)) == NDX_OK) {
		sqlite3_bind_int64(q, 1, sqlite3_last_insert_rowid(st->db));
		sqlite3_bind_text(q, 2, title, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 3, body, -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 4, (sqlite3_int64)now);
		sqlite3_bind_text(q, 5, subject, -1, SQLITE_STATIC);
		if ((rc = step_done(st, q, "outbox")) == NDX_OK)
			*mailed = sqlite3_changes(st->db) > 0;
	}
	if (rc || (rc = exec_sql(st, "COMMIT")))
		goto rollback;
	goto out;
rollback:
	sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
out:
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int pstore_notifications(struct pstore *st, const char *subject, unsigned limit, json_t **out)
{
	json_t *arr = json_array();
	sqlite3_stmt *q;
	long long unread = -1;
	int rc, r;

	*out = NULL;
	if (!arr)
		return NDX_ENOMEM;
	pthread_mutex_lock(&st->mu);
	if ((rc = prepare(st,
			  "SELECT n.id, n.kind, n.procedure_id, p.reference, n.created_at,"
			  " n.read_at FROM notifications AS n JOIN procedures AS p ON"
			  " p.id = n.procedure_id WHERE n.subject = ? ORDER BY n.id DESC LIMIT ?",
			  &q)))
		goto out;
	sqlite3_bind_text(q, 1, subject, -1, SQLITE_STATIC);
	sqlite3_bind_int(q, 2, (int)limit);
	while ((r = sqlite3_step(q)) == SQLITE_ROW) {
		const char *ref = (const char *)sqlite3_column_text(q, 3);

		json_array_append_new(
			arr, json_pack("{s:I,s:s,s:s,s:s,s:o,s:b}", "id",
				       (json_int_t)sqlite3_column_int64(q, 0), "kind",
				       (const char *)sqlite3_column_text(q, 1), "procedure_id",
				       (const char *)sqlite3_column_text(q, 2), "reference",
				       ref ? ref : "", "created_at",
				       time_json(sqlite3_column_int64(q, 4)), "read",
				       sqlite3_column_type(q, 5) != SQLITE_NULL));
	}
	sqlite3_finalize(q);
	if (r != SQLITE_DONE) {
		rc = db_fail(st, "notifications");
		goto out;
	}
	if ((rc = prepare(st, "SELECT COUNT(*) FROM notifications WHERE subject = ? AND"
			      " read_at IS NULL", &q)))
		goto out;
	sqlite3_bind_text(q, 1, subject, -1, SQLITE_STATIC);
	if (sqlite3_step(q) == SQLITE_ROW)
		unread = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	if (unread < 0)
		rc = db_fail(st, "unread notifications");
out:
	pthread_mutex_unlock(&st->mu);
	if (rc == NDX_OK && !(*out = json_pack("{s:I,s:O}", "unread", (json_int_t)unread,
					       "notifications", arr)))
		rc = NDX_ENOMEM;
	json_decref(arr);
	return rc;
}

int pstore_notification_read(struct pstore *st, const char *subject, int64_t id, time_t now)
{
	sqlite3_stmt *q;
	int rc;

	pthread_mutex_lock(&st->mu);
	/* id 0: all of subject's. */
	if ((rc = prepare(st,
			  "UPDATE notifications SET read_at = COALESCE(read_at, ?3) WHERE"
			  " subject = ?1 AND (?2 = 0 OR id = ?2)",
			  &q)) == NDX_OK) {
		sqlite3_bind_text(q, 1, subject, -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 2, id);
		sqlite3_bind_int64(q, 3, (sqlite3_int64)now);
		rc = step_done(st, q, "notification read");
		if (rc == NDX_OK && id && sqlite3_changes(st->db) == 0)
			rc = NDX_ENOTFOUND;
	}
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int pstore_outbox_due(struct pstore *st, time_t now, unsigned max_attempts,
		      struct pmail *out)
{
	sqlite3_stmt *q;
	int rc, r;

	memset(out, 0, sizeof *out);
	pthread_mutex_lock(&st->mu);
	if ((rc = prepare(st,
			  "SELECT id, rcpt, title, body, attempts FROM outbox WHERE sent_at IS"
			  " NULL AND next_at <= ? AND attempts < ? ORDER BY next_at, id LIMIT 1",
			  &q)) == NDX_OK) {
		sqlite3_bind_int64(q, 1, (sqlite3_int64)now);
		sqlite3_bind_int(q, 2, (int)max_attempts);
		r = sqlite3_step(q);
		if (r == SQLITE_ROW) {
			out->id = sqlite3_column_int64(q, 0);
			out->rcpt = strdup((const char *)sqlite3_column_text(q, 1));
			out->title = strdup((const char *)sqlite3_column_text(q, 2));
			out->body = strdup((const char *)sqlite3_column_text(q, 3));
			out->attempts = (unsigned)sqlite3_column_int(q, 4);
			if (!out->rcpt || !out->title || !out->body) {
				pmail_clear(out);
				rc = NDX_ENOMEM;
			}
		} else {
			rc = r == SQLITE_DONE ? NDX_ENOTFOUND : db_fail(st, "outbox");
		}
		sqlite3_finalize(q);
	}
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int pstore_outbox_done(struct pstore *st, int64_t id, time_t now, const char *error,
		       time_t retry_at)
{
	sqlite3_stmt *q;
	int rc;

	pthread_mutex_lock(&st->mu);
	rc = prepare(st,
		     error ? "UPDATE outbox SET attempts = attempts + 1, last_error = ?3,"
			     " next_at = ?4 WHERE id = ?1"
			   : "UPDATE outbox SET attempts = attempts + 1, sent_at = ?2,"
			     " last_error = NULL WHERE id = ?1",
		     &q);
	if (rc == NDX_OK) {
		sqlite3_bind_int64(q, 1, id);
		sqlite3_bind_int64(q, 2, (sqlite3_int64)now);
		if (error) {
			sqlite3_bind_text(q, 3, error, -1, SQLITE_STATIC);
			sqlite3_bind_int64(q, 4, (sqlite3_int64)retry_at);
		}
		rc = step_done(st, q, "outbox update");
	}
	pthread_mutex_unlock(&st->mu);
	return rc;
}

void pmail_clear(struct pmail *m)
{
	free(m->rcpt);
	free(m->title);
	free(m->body);
	memset(m, 0, sizeof *m);
}
