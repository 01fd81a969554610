/* The portal's own data in DATA/portal.db (SQLite, WAL), or in a PostgreSQL
 * schema given by a postgresql:// connection string (the configuration's
 * "store", docs/scale.md "The portal on PostgreSQL"): sessions (kept by
 * the SHA-256 of their cookie), pending e-ID logins (state, nonce, PKCE
 * verifier), officer accounts, and procedures with their history. One
 * connection shared by the HTTP threads behind a mutex, so that every
 * read-check-write (a state transition, taking a login state) is one
 * transaction nobody interleaves with. Times are integer seconds; JSON
 * answers carry them as RFC 3339. Overview: docs/portal.md. */
#ifndef NDX_PORTAL_STORE_H
#define NDX_PORTAL_STORE_H

#include <jansson.h>
#include <stdint.h>
#include <time.h>

#include "ndx/password.h"
#include "signin_throttle.h"

#define PSTORE_DB_FILE "portal.db"
#define PSTORE_HASH_HEX 65 /* hex SHA-256 + NUL */

struct pstore;

/* Opens the store at loc, a SQLite file or a postgresql:// connection
 * string (ndx/sqldb.h), creating it when missing (the file, or the
 * portal's tables in the schema) and bringing its schema up to date.
 * NDX_EINVAL for a connection string holding a password (never printed),
 * NDX_EDB for a database that is another program's, whose schema is newer
 * than this program's, or that cannot be reached (message on stderr). */
int pstore_open(const char *loc, struct pstore **out);
/* How messages name the store: its path, or user@host:port/database
 * (never a password). */
const char *pstore_name(const struct pstore *st);
/* Accepts NULL. */
void pstore_close(struct pstore *st);

/* ---- sessions ---------------------------------------------------------- */

struct psession {
	char kind[8];          /* "citizen" or "officer" */
	char subject[16];      /* citizen: the PIN */
	char name[256];
	char agency[128];      /* officer: the agency's member id */
	char username[128];    /* officer */
	char csrf[64];
	char *id_token;        /* citizen: malloc'd, may be NULL; psession_clear frees */
	time_t created_at, last_seen;
};

void psession_clear(struct psession *s);

/* Stores a session under id_sha256 (hex). */
int pstore_session_create(struct pstore *st, const char *id_sha256, const struct psession *s);
/* Finds the session, refusing (and deleting) one idle for more than idle_s
 * or older than max_s; marks it used at now. NDX_ENOTFOUND when there is
 * none. out is filled only on NDX_OK (psession_clear it). */
int pstore_session_get(struct pstore *st, const char *id_sha256, time_t now, long idle_s,
		       long max_s, struct psession *out);
int pstore_session_delete(struct pstore *st, const char *id_sha256);

/* ---- pending e-ID logins ---------------------------------------------- */

/* browser_sha256: the SHA-256 (hex) of the pre-session cookie of the
 * browser that started the login; next: the portal path to return to after
 * the sign-in ("" or NULL: the default). */
int pstore_login_put(struct pstore *st, const char *state_sha256, const char *browser_sha256,
		     const char *nonce, const char *verifier, const char *next, time_t now);
/* Takes (deletes) the login of state_sha256 when it is at most max_age_s
 * old: copies the browser's hash, nonce and verifier (cap bytes each) and
 * next (next_cap). NDX_ENOTFOUND when unknown, used or expired. */
int pstore_login_take(struct pstore *st, const char *state_sha256, time_t now, long max_age_s,
		      char browser_sha256[PSTORE_HASH_HEX], char *nonce, char *verifier,
		      size_t cap, char *next, size_t next_cap);

/* ---- officers ------------------------------------------------------------ */

struct pofficer {
	char username[128];
	char name[256];
	char agency[128];
	char password_hash[NDX_PASSWORD_HASH_MAX];
};

struct padmin_actor;

/* Adds the officer, or replaces name, agency and password of an existing
 * one (*replaced set, and their sessions end), so that provisioning can be
 * run again: the command line's `officer add`. The change and by (the
 * command line, docs/portal.md "Administration") go into the audit trail
 * in the same transaction (officer.add, officer.update). */
int pstore_officer_put(struct pstore *st, const struct pofficer *o, const struct padmin_actor *by,
		       time_t now, int *replaced);
/* NDX_ENOTFOUND when unknown. */
int pstore_officer_get(struct pstore *st, const char *username, struct pofficer *out);

/* The password hash of the newest officer into out, so that an unknown
 * name is checked with the same Argon2id cost as the accounts the store
 * holds (the result of that check is ignored). NDX_ENOTFOUND when there
 * are no officers. */
int pstore_officer_cost_hash(struct pstore *st, char out[NDX_PASSWORD_HASH_MAX]);

/* ---- officials (the operations centre) -------------------------------------- */

/* A person who signs in with the national e-ID (identified by the PIN of
 * the verified ID token) and may open the operations centre: role
 * "operator" (the whole federation), "agency" (only member's exchanges) or
 * "auditor" (read-only, like operator). docs/portal.md "Officials". */
struct pofficial {
	char pin[16];
	char name[256];
	char role[16];
	char member[128];
};

/* Adds the official, or replaces name, role and member of the PIN's
 * (*replaced set): the command line's `official add`, audited with by in
 * the same transaction (official.add, official.change). */
int pstore_official_put(struct pstore *st, const struct pofficial *o, const struct padmin_actor *by,
			time_t now, int *replaced);
/* NDX_ENOTFOUND when pin is no official. */
int pstore_official_get(struct pstore *st, const char *pin, struct pofficial *out);
/* The command line's `official remove`, audited with by in the same
 * transaction (official.remove). NDX_ENOTFOUND when pin is no official. */
int pstore_official_remove(struct pstore *st, const char *pin, const struct padmin_actor *by,
			   time_t now);
/* *out = [{"pin","name","role","member","created_at"}] by PIN (the caller's). */
int pstore_official_list(struct pstore *st, json_t **out);

/* ---- the administration of officers and officials (admin.c) ----------------- */

/* The official making a change through the web pages (docs/portal.md
 * "Administration"); every write below records them, the change and the
 * time in the audit trail (admin_audit), in the same transaction. Borrowed. */
struct padmin_actor {
	const char *pin, *name, *role, *member;
};

/* *out = [{"username","name","agency","created_at"}] by agency then user
 * name: agency's officers, or all of them (agency NULL). */
int pstore_officer_list(struct pstore *st, const char *agency, json_t **out);
/* Adds a new officer (o->password_hash set): NDX_EEXIST when the user name
 * is taken (nothing replaced, unlike pstore_officer_put). */
int pstore_officer_create(struct pstore *st, const struct pofficer *o,
			  const struct padmin_actor *by, time_t now);
/* Renames the officer o (as read: user name and agency must still match,
 * else NDX_ENOTFOUND); open sessions carry the new name. */
int pstore_officer_rename(struct pstore *st, const struct pofficer *o, const char *name,
			  const struct padmin_actor *by, time_t now);
/* Replaces the officer's password hash and ends their sessions. */
int pstore_officer_set_password(struct pstore *st, const struct pofficer *o, const char *hash,
				const struct padmin_actor *by, time_t now);
/* Removes the officer and ends their sessions. NDX_ENOTFOUND. */
int pstore_officer_remove(struct pstore *st, const struct pofficer *o,
			  const struct padmin_actor *by, time_t now);

/* Adds an official: NDX_EEXIST when the PIN is one already. */
int pstore_official_create(struct pstore *st, const struct pofficial *o,
			   const struct padmin_actor *by, time_t now);
/* Replaces name, role and member of the official o->pin (before: as they
 * were). NDX_ENOTFOUND; NDX_EPERM when it would leave no operator. */
int pstore_official_change(struct pstore *st, const struct pofficial *o,
			   const struct padmin_actor *by, time_t now, struct pofficial *before);
/* Removes the official pin (before: who it was). NDX_ENOTFOUND; NDX_EPERM
 * when it is the last operator. */
int pstore_official_delete(struct pstore *st, const char *pin, const struct padmin_actor *by,
			   time_t now, struct pofficial *before);

/* *out = the audit trail, newest first, at most limit rows (0: 500), of
 * member's officers and officials (NULL: all): [{"id","at","actor":{"pin",
 * "name","role","member"},"action","target","target_name","member",
 * "detail"}]. */
int pstore_admin_audit(struct pstore *st, const char *member, unsigned limit, json_t **out);

/* ---- failed sign-ins (auth.c's throttle) ------------------------------------- */

/* Failures since `since` from source (signin_source), for account (a user
 * name as typed, known or not), and for account from source. */
int pstore_signin_counts(struct pstore *st, const char *account, const char *source,
			 time_t since, struct signin_counts *out);
/* Notes a failure at now, forgetting all failures before forget_before. */
int pstore_signin_failure_note(struct pstore *st, const char *account, const char *source,
			       time_t now, time_t forget_before);
/* Forgets account's failures from source after a success there. */
int pstore_signin_success(struct pstore *st, const char *account, const char *source);

/* ---- procedures ------------------------------------------------------------ */

struct pproc_new {
	const char *id, *kind, *subject, *applicant_name, *agency, *actor;
	const json_t *fields;
	const char *state; /* NULL: "submitted"; "unpaid" while its fee is due */
};

/* Room for an application number, "HS261203-00042" + NUL (docs/portal.md). */
#define PSTORE_REFERENCE_LEN 32

/* Stores a new procedure in state p->state with its first history row and
 * the next application number of its day; NDX_ETOOBIG past 99,999 a day. */
int pstore_proc_insert(struct pstore *st, const struct pproc_new *p, time_t now);
/* *out = the procedure as docs/portal.md shows it (with history,
 * "assigned_to" and "submitted_at"), or NDX_ENOTFOUND. */
int pstore_proc_get(struct pstore *st, const char *id, json_t **out);
/* *out = {"procedures":[…]}: subject's newest first (agency NULL), or the
 * agency's in state, oldest first (subject NULL). */
int pstore_proc_list(struct pstore *st, const char *subject, const char *agency,
		     const char *state, json_t **out);
/* The officers' queue (GET /api/officer/procedures): the agency's
 * procedures, oldest first, narrowed by each filter that is not NULL:
 * state, kind, reference (a prefix of the application number), assignee
 * ("" for those nobody holds). limit 1..500 (0: 500). */
struct pproc_query {
	const char *agency, *state, *kind, *reference, *assignee;
	unsigned limit;
};

int pstore_proc_search(struct pstore *st, const struct pproc_query *f, json_t **out);

/* An officer holding a procedure (the one who took it, or decided it). */
struct pholder {
	const char *username, *name;
};

/* Moves procedure id from one of the states in from (NULL-terminated) to
 * state to, with a history row (actor, note may be NULL), in one
 * transaction; result (borrowed, may be NULL) replaces the result when set.
 * NDX_ENOTFOUND when there is no such procedure, NDX_EPERM when it is in
 * another state. */
int pstore_proc_transition(struct pstore *st, const char *id, const char *const *from,
			   const char *to, const char *actor, const char *note,
			   const json_t *result, time_t now);
/* pstore_proc_transition by an officer (by, may be NULL): NDX_EEXIST
 * when another officer holds the procedure (checked first, in the same
 * transaction); one nobody held is the deciding officer's from then on. A
 * move to "submitted" notes submitted_at (when the officers got it). */
int pstore_proc_decide(struct pstore *st, const char *id, const char *const *from,
		       const char *to, const char *actor, const struct pholder *by,
		       const char *note, const json_t *result, time_t now);
/* The officer by takes procedure id (release 0) or gives it back
 * (release 1), in one transaction: NDX_EEXIST when another officer holds
 * it, NDX_EPERM when its state is not one of states (NULL-terminated),
 * NDX_ENOTFOUND. Taking one's own again, or releasing one nobody holds,
 * changes nothing. */
int pstore_proc_hold(struct pstore *st, const char *id, const char *const *states,
		     const struct pholder *by, int release, time_t now);
/* The portal's private working notes of a procedure (e.g. the enterprise
 * code allocated for it, so that a retried approval reuses it): *out is a
 * new object ({} when none). */
int pstore_proc_work_get(struct pstore *st, const char *id, json_t **out);
int pstore_proc_work_set(struct pstore *st, const char *id, const json_t *work);

/* Calls fn for each (kind, state) of the procedures held, with how many are
 * in it, for /metrics (the strings live for the call). NDX_OK or NDX_EDB. */
int pstore_proc_counts(struct pstore *st,
		       void (*fn)(void *ud, const char *kind, const char *state, int64_t n),
		       void *ud);

/* ---- the procedures push (procpush.c) -------------------------------------- */

/* Every procedure written (created, or moved to another state) gets the
 * next change number. *out = a new array of up to limit procedures whose
 * change number is above after, in change order, as the monitoring
 * service takes them: [{"id","kind","subject","agency","opened_ms",
 * "closed_ms"}] (opened_ms the creation; closed_ms when it reached
 * completed or rejected, from its history, null while it has not); *last =
 * the change number of the last one (after when none). NDX_OK, NDX_ENOMEM
 * or NDX_EDB (*out NULL). */
int pstore_push_batch(struct pstore *st, int64_t after, unsigned limit, json_t **out,
		      int64_t *last);
/* *n = how many procedures have a change number above after. */
int pstore_push_backlog(struct pstore *st, int64_t after, int64_t *n);
/* The push cursor name (0 when never set), and setting it: it never moves
 * back. */
int pstore_push_cursor_get(struct pstore *st, const char *name, int64_t *v);
int pstore_push_cursor_set(struct pstore *st, const char *name, int64_t v);

/* ---- work one node does at a time (notify.c, procpush.c) --------------------- */

/* How this process names itself in the claims and leases of a store that
 * several nodes share: "HOST:PID:RANDOM", different for every start, so
 * that a restarted node never mistakes a claim of its former self for its
 * own. */
#define PSTORE_NODE_LEN 96
void pstore_node_name(char out[PSTORE_NODE_LEN]);

/* The lease name (e.g. the procedures push) for holder until now +
 * lease_s, in one write transaction: taken when nobody holds it or its
 * holder's lease has run out (expires_at <= now), renewed when holder
 * holds it. NDX_EEXIST while another holder's lease runs. */
int pstore_lease_take(struct pstore *st, const char *name, const char *holder, time_t now,
		      long lease_s);
/* Gives up holder's lease name, so that another node takes it at once;
 * nothing when holder does not hold it. */
int pstore_lease_release(struct pstore *st, const char *name, const char *holder);

/* ---- more information and attachments (docs/portal.md) ---------------------- */

/* The officer by asks the citizen for more information on procedure id
 * (submitted -> information_requested, with a history row whose note is
 * the question), in one transaction; the officer holds it from then on.
 * NDX_EEXIST when another officer holds it, NDX_EPERM when it is not
 * submitted, NDX_ENOTFOUND. */
int pstore_info_ask(struct pstore *st, const char *id, const struct pholder *by,
		    const char *question, time_t now);
/* subject answers the open request of procedure id (information_requested
 * -> submitted), linking the attachments (NULL-terminated ids of files of
 * the procedure not yet linked; may be NULL) to the request, in one
 * transaction. NDX_ENOTFOUND when the procedure is not subject's,
 * NDX_EPERM when nothing is asked, NDX_EINVAL when an attachment is not
 * the procedure's or already linked. */
int pstore_info_answer(struct pstore *st, const char *id, const char *subject,
		       const char *answer, const char *const *attachments, time_t now);

#define PSTORE_ATTACH_MAX (2 * 1024 * 1024) /* bytes a file */
#define PSTORE_ATTACH_PER_PROC 10

/* A file attached to a procedure. For pstore_attachment_put every field
 * is the caller's; pstore_attachment_get fills name, media_type, data
 * (malloc'd: pattach_clear frees them) and sha256. */
struct pattach {
	const char *id, *procedure_id, *subject, *name, *media_type, *sha256, *uploaded_by;
	const void *data;
	size_t size;
	char sha256_buf[PSTORE_HASH_HEX];
};

/* Stores a's file when its procedure is a->subject's and in one of states
 * (NULL-terminated): NDX_ENOTFOUND (not theirs), NDX_EPERM (state),
 * NDX_ETOOBIG (PSTORE_ATTACH_PER_PROC already). */
int pstore_attachment_put(struct pstore *st, const struct pattach *a,
			  const char *const *states, time_t now);
/* The file id of procedure procedure_id, or NDX_ENOTFOUND. */
int pstore_attachment_get(struct pstore *st, const char *procedure_id, const char *id,
			  struct pattach *out);
void pattach_clear(struct pattach *a);

/* ---- notifications and e-mail (notify.c) ------------------------------------------ */

/* The e-mail address subject gave (with their consent to be e-mailed)
 * into email, or NDX_ENOTFOUND. */
int pstore_contact_get(struct pstore *st, const char *subject, char *email, size_t cap);
/* Stores subject's address (email NULL: forgets it and the consent). */
int pstore_contact_set(struct pstore *st, const char *subject, const char *email, time_t now);
/* Adds a notification of kind on procedure_id for subject and, when title
 * is not NULL and subject gave an address, an e-mail (title, body) to the
 * outbox, in one transaction; *mailed says whether one was queued. */
int pstore_notify(struct pstore *st, const char *subject, const char *procedure_id,
		  const char *kind, const char *title, const char *body, time_t now,
		  int *mailed);
/* *out = {"unread": n, "notifications": [{"id","kind","procedure_id",
 * "reference","created_at","read"}]}, subject's newest limit. */
int pstore_notifications(struct pstore *st, const char *subject, unsigned limit, json_t **out);
/* Marks subject's notification id read (0: all of them); NDX_ENOTFOUND
 * when id is not subject's. */
int pstore_notification_read(struct pstore *st, const char *subject, int64_t id, time_t now);

/* An e-mail of the outbox (strings malloc'd; pmail_clear frees). */
struct pmail {
	int64_t id;
	char *rcpt, *title, *body;
	unsigned attempts;
};

/* Claims the e-mail due first for node (pstore_node_name) until now +
 * lease_s, in one write transaction (serialised across every node on the
 * store): not sent, next_at <= now, tried fewer than max_attempts times,
 * and claimed by nobody whose claim still runs (claimed_until > now); the
 * row's claimed_by and claimed_until are set before the transaction ends,
 * so that another node's claim skips it. NDX_ENOTFOUND when none is due.
 * A node killed mid-send leaves its claim to run out; the e-mail is then
 * claimed (and sent) again: at most once per claim, at least once overall. */
int pstore_outbox_claim(struct pstore *st, const char *node, time_t now, long lease_s,
			unsigned max_attempts, struct pmail *out);
/* Records node's attempt at e-mail id and ends its claim (claimed_by
 * keeps the node of the last claim, for the operator). Sent (error
 * NULL): recorded whoever holds the claim now, the e-mail being out.
 * Failed with error, to be tried again at retry_at: recorded only while
 * node still holds the claim, else NDX_ENOTFOUND (its claim ran out and
 * another node took the e-mail over, whose attempt counts). */
int pstore_outbox_done(struct pstore *st, int64_t id, const char *node, time_t now,
		       const char *error, time_t retry_at);
void pmail_clear(struct pmail *m);

#endif
