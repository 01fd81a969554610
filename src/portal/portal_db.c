/* ndx-portal's database (ndx/sqldb.h, portal_db.h): its tables on SQLite
 * (migrations numbered in schema_migrations, ndx/sqlstore.h: the list from
 * before PostgreSQL, so that an existing portal.db opens at its version and
 * goes on from there: 11 brought it to the queries both engines run, 12
 * added the claims and leases of several nodes) and on PostgreSQL (schema
 * versions in the meta row pg_schema), the engines being libndx's.
 * Overview: docs/scale.md "The portal on PostgreSQL". */
#include "portal_db.h"

#include <stddef.h>

/* migrations[i] is schema version i + 1; append, never edit. */
static const char *const migrations[] = {
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
	/* 11: the same queries on SQLite and PostgreSQL (store.c). The meta
	 * table (its row kind marks the database as the portal's); explicit
	 * creation orders where rowid was relied on (procedures, officers,
	 * attachments: numbered in rowid order, new rows MAX + 1 inside their
	 * write transaction); and the attachments' bytes as lower-case hex text,
	 * which both engines hold in a text value. */
	"CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"ALTER TABLE procedures ADD COLUMN created_seq INTEGER NOT NULL DEFAULT 0;"
	"UPDATE procedures SET created_seq = rowid;"
	"ALTER TABLE officers ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;"
	"UPDATE officers SET seq = rowid;"
	"ALTER TABLE attachments ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;"
	"UPDATE attachments SET seq = rowid;"
	"UPDATE attachments SET data = lower(hex(data)) WHERE typeof(data) = 'blob';",
	/* 12: several nodes on one store (docs/scale.md "Several portal
	 * nodes"). An e-mail of the outbox claimed by the node sending
	 * it (claimed_by, its pstore_node_name; kept after the attempt, to say
	 * which node made it) until claimed_until, so that no other node sends
	 * it meanwhile and another takes it over once the claim ran out; and the leases of work one node does at a time (the
	 * procedures push), each held by holder until expires_at. */
	"ALTER TABLE outbox ADD COLUMN claimed_by TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE outbox ADD COLUMN claimed_until INTEGER NOT NULL DEFAULT 0;"
	"CREATE TABLE leases(name TEXT PRIMARY KEY, holder TEXT NOT NULL,"
	" expires_at INTEGER NOT NULL);",
};

/* The same tables in PostgreSQL types: bigint for times, counters and
 * sequence numbers, text in the "C" collation where the store compares or
 * orders (so that comparisons and ORDER BY are byte-wise as in SQLite), an
 * identity column where SQLite's INTEGER PRIMARY KEY numbers rows. */
#define T "text COLLATE \"C\""
#define ID "bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"

/* Version 1: the SQLite engine's schema at its migration 11. */
static const char schema_v1[] =
	"CREATE TABLE IF NOT EXISTS meta(key " T " PRIMARY KEY, value text NOT NULL);"
	"CREATE TABLE sessions(id_sha256 " T " PRIMARY KEY, kind " T " NOT NULL,"
	" subject " T " NOT NULL DEFAULT '', name text NOT NULL, agency " T " NOT NULL DEFAULT '',"
	" username " T " NOT NULL DEFAULT '', csrf text NOT NULL, id_token text,"
	" created_at bigint NOT NULL, last_seen bigint NOT NULL);"
	"CREATE INDEX sessions_created ON sessions(created_at);"
	"CREATE INDEX sessions_user ON sessions(kind, username);"
	"CREATE TABLE logins(state_sha256 " T " PRIMARY KEY, nonce text NOT NULL,"
	" verifier text NOT NULL, created_at bigint NOT NULL, next text NOT NULL DEFAULT '',"
	" browser_sha256 " T " NOT NULL DEFAULT '');"
	"CREATE INDEX logins_created ON logins(created_at);"
	"CREATE TABLE officers(username " T " PRIMARY KEY, name text NOT NULL,"
	" agency " T " NOT NULL, password_hash text NOT NULL, created_at bigint NOT NULL,"
	" seq bigint NOT NULL DEFAULT 0);"
	"CREATE TABLE procedures(id " T " PRIMARY KEY, kind " T " NOT NULL, state " T " NOT NULL,"
	" subject " T " NOT NULL, applicant_name text NOT NULL, agency " T " NOT NULL,"
	" fields text NOT NULL, result text, work text, created_at bigint NOT NULL,"
	" updated_at bigint NOT NULL, change_seq bigint NOT NULL DEFAULT 0, reference " T ","
	" assignee " T " NOT NULL DEFAULT '', assignee_name text NOT NULL DEFAULT '',"
	" assigned_at bigint, submitted_at bigint, created_seq bigint NOT NULL DEFAULT 0);"
	"CREATE INDEX procedures_subject ON procedures(subject, created_at);"
	"CREATE INDEX procedures_agency ON procedures(agency, state, created_at);"
	"CREATE INDEX procedures_change ON procedures(change_seq);"
	"CREATE UNIQUE INDEX procedures_reference ON procedures(reference);"
	"CREATE INDEX procedures_assignee ON procedures(agency, assignee);"
	"CREATE TABLE history(procedure_id " T " NOT NULL REFERENCES procedures(id),"
	" seq bigint NOT NULL, at bigint NOT NULL, state " T " NOT NULL, actor text NOT NULL,"
	" note text, PRIMARY KEY(procedure_id, seq));"
	"CREATE TABLE signin_failures(account " T " NOT NULL, source " T " NOT NULL,"
	" at bigint NOT NULL);"
	"CREATE INDEX signin_failures_account ON signin_failures(account, at);"
	"CREATE INDEX signin_failures_source ON signin_failures(source, at);"
	"CREATE TABLE officials(pin " T " PRIMARY KEY, name text NOT NULL, role " T " NOT NULL,"
	" member " T " NOT NULL, created_at bigint NOT NULL);"
	"CREATE TABLE push_state(k " T " PRIMARY KEY, v bigint NOT NULL);"
	"CREATE TABLE info_requests(procedure_id " T " NOT NULL REFERENCES procedures(id),"
	" seq bigint NOT NULL, asked_at bigint NOT NULL, asked_by " T " NOT NULL,"
	" asked_by_name text NOT NULL, question text NOT NULL, answered_at bigint,"
	" answer text, PRIMARY KEY(procedure_id, seq));"
	"CREATE TABLE attachments(id " T " PRIMARY KEY,"
	" procedure_id " T " NOT NULL REFERENCES procedures(id), request_seq bigint,"
	" name text NOT NULL, media_type text NOT NULL, size bigint NOT NULL,"
	" sha256 " T " NOT NULL, data text NOT NULL, uploaded_by text NOT NULL,"
	" created_at bigint NOT NULL, seq bigint NOT NULL DEFAULT 0);"
	"CREATE INDEX attachments_procedure ON attachments(procedure_id, created_at);"
	"CREATE TABLE contacts(subject " T " PRIMARY KEY, email text NOT NULL,"
	" updated_at bigint NOT NULL);"
	"CREATE TABLE notifications(id " ID ", subject " T " NOT NULL,"
	" procedure_id " T " NOT NULL, kind " T " NOT NULL, created_at bigint NOT NULL,"
	" read_at bigint);"
	"CREATE INDEX notifications_subject ON notifications(subject, id);"
	"CREATE TABLE outbox(id " ID ", notification_id bigint NOT NULL,"
	" rcpt text NOT NULL, title text NOT NULL, body text NOT NULL,"
	" created_at bigint NOT NULL, attempts bigint NOT NULL DEFAULT 0,"
	" next_at bigint NOT NULL, sent_at bigint, last_error text);"
	"CREATE INDEX outbox_due ON outbox(sent_at, next_at);"
	"CREATE TABLE admin_audit(id " ID ", at bigint NOT NULL,"
	" actor_pin " T " NOT NULL, actor_name text NOT NULL, actor_role " T " NOT NULL,"
	" actor_member " T " NOT NULL, action " T " NOT NULL, target " T " NOT NULL,"
	" target_name text NOT NULL, member " T " NOT NULL, detail text NOT NULL);"
	"CREATE INDEX admin_audit_member ON admin_audit(member, id);"
	"INSERT INTO meta(key, value) VALUES('pg_schema', '1');";

/* Version 2: SQLite migration 12 (the outbox's claims, the leases). It
 * first refuses a schema whose meta holds another program's rows, as the
 * store does once open (store.c, claim()), so that a schema of another
 * daemon at version 1 is never altered; a portal's own, made at version 1
 * in the same transaction, has no row in meta yet but pg_schema. */
static const char schema_v2[] =
	"DO $$ BEGIN IF EXISTS (SELECT 1 FROM meta WHERE key <> 'pg_schema' AND"
	" NOT (key = 'kind' AND value = '" PORTAL_DB_KIND "')) THEN RAISE EXCEPTION"
	" 'the schema is not an ndx-portal database (it holds another program''s store)';"
	" END IF; END $$;"
	"ALTER TABLE outbox ADD COLUMN claimed_by text NOT NULL DEFAULT '';"
	"ALTER TABLE outbox ADD COLUMN claimed_until bigint NOT NULL DEFAULT 0;"
	"CREATE TABLE leases(name " T " PRIMARY KEY, holder text NOT NULL,"
	" expires_at bigint NOT NULL);";

#undef ID
#undef T

/* Schema n (1-based) is made by pg_schema[n-1] from n-1; append, never edit. */
static const char *const pg_schema[] = { schema_v1, schema_v2 };

const struct ndx_sqldb_desc portal_db_desc = {
	.prog = "ndx-portal",
	.what = "portal",
	.init_key = "kind",
	.migrations = migrations,
	.n_migrations = sizeof migrations / sizeof *migrations,
	.pg_schema = pg_schema,
	.n_pg_schema = sizeof pg_schema / sizeof *pg_schema,
	.serve_lock = NULL,
};
