/* cases.h. A case copies what it shows of its finding (kind, client,
 * user, subject, why) so that the list is one table; the finding stays the
 * detector's, with its reads in finding_reads. A citizen's report is a
 * finding too (kind citizen-report, keyed by the read), so that its
 * evidence, its reads and its idempotency are those of every other case. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cases.h"
#include "misuse.h"
#include "ndx/array.h"
#include "ndx/err.h"
#include "ndx/id.h"
#include "ndx/sqlstore.h"
#include "ndx/text.h"

#define PROG "ndx-monitor"
#define ACTOR_MAX 200
#define REASON_MAX 1000

static const char *const KINDS[] = {
	MISUSE_NO_EXPLANATION, MISUSE_BULK, MISUSE_OFF_HOURS, MISUSE_PROVINCE,
	MISUSE_REPEATED, MISUSE_PROBING, MISUSE_REPLAY, MISUSE_CITIZEN_REPORT,
};

static int prepare(sqlite3 *db, sqlite3_stmt **s, const char *sql)
{
	if (sqlite3_prepare_v2(db, sql, -1, s, NULL) != SQLITE_OK) {
		*s = NULL;
		return ndx_sqlstore_fail(db, PROG, "prepare");
	}
	return NDX_OK;
}

/* Runs a statement without rows; the binds are made by the caller. */
static int done(sqlite3 *db, sqlite3_stmt *s, const char *what)
{
	int rc = sqlite3_step(s) == SQLITE_DONE ? NDX_OK : ndx_sqlstore_fail(db, PROG, what);

	sqlite3_finalize(s);
	return rc;
}

static const char *col(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);

	return t ? (const char *)t : "";
}

static json_t *col_or_null(sqlite3_stmt *s, int i)
{
	return sqlite3_column_type(s, i) == SQLITE_NULL ? json_null() : json_string(col(s, i));
}

static bool text_ok(const char *s, size_t max, bool empty_ok)
{
	size_t n = s ? strlen(s) : 0;

	return (empty_ok || n > 0) && n <= max && (!s || ndx_text_check(s, n, NULL, NULL) == NDX_OK);
}

/* The member of a client id, or the client itself when it is none (a
 * finding's client is the detector's: normally a subsystem id). */
static void member_of(const char *client, char out[NDX_ID_TEXT_MAX])
{
	struct ndx_id id, m;

	for (int k = NDX_ID_SUBSYSTEM; k >= NDX_ID_MEMBER; k--)
		if (ndx_id_parse(client, strlen(client), (enum ndx_id_kind)k, &id, NULL) == NDX_OK &&
		    ndx_id_parent(&id, NDX_ID_MEMBER, &m) == NDX_OK &&
		    ndx_id_format(&m, out, NDX_ID_TEXT_MAX) >= 0)
			return;
	snprintf(out, NDX_ID_TEXT_MAX, "%s", client);
}

static int event_add(sqlite3 *db, int64_t case_id, int64_t at_ms, const char *actor,
		     const char *action, const char *reason)
{
	sqlite3_stmt *s;
	int rc = prepare(db, &s, "INSERT INTO case_events VALUES(?1, (SELECT COALESCE(MAX(seq), 0)"
				 " + 1 FROM case_events WHERE case_id = ?1), ?2, ?3, ?4, ?5)");

	if (rc)
		return rc;
	sqlite3_bind_int64(s, 1, case_id);
	sqlite3_bind_int64(s, 2, at_ms);
	sqlite3_bind_text(s, 3, actor, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, action, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 5, reason ? reason : "", -1, SQLITE_STATIC);
	return done(db, s, "case event");
}

/* Opens the case of finding fid (inside the caller's transaction): the
 * case, its first history row (actor, reason), its evidence. */
static int open_case(sqlite3 *db, int64_t fid, int64_t now_ms, const char *actor,
		     const char *reason, int64_t *case_id)
{
	sqlite3_stmt *s;
	char member[NDX_ID_TEXT_MAX];
	int rc = prepare(db, &s, "SELECT kind, client, user_id, subject, why, dismissed FROM"
				 " findings WHERE id = ?");
	bool dismissed;

	if (rc)
		return rc;
	sqlite3_bind_int64(s, 1, fid);
	if (sqlite3_step(s) != SQLITE_ROW) {
		sqlite3_finalize(s);
		return ndx_sqlstore_fail(db, PROG, "finding");
	}
	member_of(col(s, 1), member);
	dismissed = sqlite3_column_int(s, 5) != 0;
	{
		sqlite3_stmt *ins;

		if ((rc = prepare(db, &ins, "INSERT INTO cases(finding_id, kind, state, client,"
					    " client_member, user_id, subject, opened_ms, updated_ms,"
					    " why) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?8, ?9)"))) {
			sqlite3_finalize(s);
			return rc;
		}
		sqlite3_bind_int64(ins, 1, fid);
		sqlite3_bind_text(ins, 2, col(s, 0), -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(ins, 3, dismissed ? "dismissed" : "open", -1, SQLITE_STATIC);
		sqlite3_bind_text(ins, 4, col(s, 1), -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(ins, 5, member, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(ins, 6, col(s, 2), -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(ins, 7, col(s, 3), -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(ins, 8, now_ms);
		sqlite3_bind_text(ins, 9, col(s, 4), -1, SQLITE_TRANSIENT);
		rc = done(db, ins, "open case");
	}
	if (!rc) {
		*case_id = sqlite3_last_insert_rowid(db);
		rc = event_add(db, *case_id, now_ms, actor, "open", reason ? reason : col(s, 4));
	}
	sqlite3_finalize(s);
	if (!rc && !(rc = prepare(db, &s, "INSERT INTO case_evidence(case_id, read_id)"
					  " SELECT ?1, fr.read_id FROM finding_reads fr JOIN reads r"
					  " ON r.id = fr.read_id WHERE fr.finding_id = ?2"
					  " ORDER BY r.time_ms, r.id LIMIT ?3"))) {
		sqlite3_bind_int64(s, 1, *case_id);
		sqlite3_bind_int64(s, 2, fid);
		sqlite3_bind_int(s, 3, CASES_EVIDENCE_MAX);
		rc = done(db, s, "case evidence");
	}
	return rc;
}

static int begin(sqlite3 *db)
{
	return ndx_sqlstore_exec(db, PROG, "BEGIN IMMEDIATE");
}

static int end(sqlite3 *db, int rc)
{
	if (!rc)
		rc = ndx_sqlstore_exec(db, PROG, "COMMIT");
	if (rc)
		ndx_sqlstore_exec(db, PROG, "ROLLBACK");
	return rc;
}

int cases_open_new(struct mstore *st, int64_t now_ms, unsigned *opened)
{
	sqlite3 *db = mstore_lock(st);
	sqlite3_stmt *s = NULL;
	int64_t *ids = NULL;
	size_t nids = 0, cap = 0;
	unsigned n = 0;
	int rc = begin(db), step = SQLITE_DONE;

	if (!rc)
		rc = prepare(db, &s, "SELECT f.id FROM findings f WHERE NOT EXISTS"
				     " (SELECT 1 FROM cases c WHERE c.finding_id = f.id) ORDER BY f.id");
	/* The ids first, then the cases: the query reads cases, which the
	 * inserts change. */
	while (!rc && (step = sqlite3_step(s)) == SQLITE_ROW) {
		if ((rc = ndx_array_reserve((void **)&ids, &cap, nids, sizeof *ids, 64)))
			break;
		ids[nids++] = sqlite3_column_int64(s, 0);
	}
	if (!rc && step != SQLITE_DONE)
		rc = ndx_sqlstore_fail(db, PROG, "findings");
	sqlite3_finalize(s);
	for (size_t i = 0; !rc && i < nids; i++) {
		int64_t case_id;

		rc = open_case(db, ids[i], now_ms, "detector", NULL, &case_id);
		n += !rc;
	}
	free(ids);
	rc = end(db, rc);
	mstore_unlock(st);
	if (opened)
		*opened = rc ? 0 : n;
	return rc;
}

/* ---- evidence ---------------------------------------------------------------------- */

int cases_evidence_pending(struct mstore *st, unsigned max, json_t **out)
{
	json_t *list = json_array();
	sqlite3 *db;
	sqlite3_stmt *s;
	int rc, step;

	*out = NULL;
	if (!list)
		return NDX_ENOMEM;
	db = mstore_lock(st);
	if (!(rc = prepare(db, &s, "SELECT e.case_id, e.read_id, r.gateway, r.seq, r.message_id"
				   " FROM case_evidence e JOIN reads r ON r.id = e.read_id"
				   " WHERE e.done = 0 ORDER BY e.case_id, r.time_ms, r.id LIMIT ?"))) {
		sqlite3_bind_int(s, 1, (int)max);
		while ((step = sqlite3_step(s)) == SQLITE_ROW)
			json_array_append_new(list, json_pack("{s:I s:I s:s s:I s:s}", "case_id",
							      (json_int_t)sqlite3_column_int64(s, 0),
							      "read_id",
							      (json_int_t)sqlite3_column_int64(s, 1),
							      "gateway", col(s, 2), "seq",
							      (json_int_t)sqlite3_column_int64(s, 3),
							      "message_id", col(s, 4)));
		if (step != SQLITE_DONE)
			rc = ndx_sqlstore_fail(db, PROG, "pending evidence");
		sqlite3_finalize(s);
	}
	mstore_unlock(st);
	if (rc) {
		json_decref(list);
		return rc;
	}
	*out = list;
	return NDX_OK;
}

int cases_evidence_set(struct mstore *st, int64_t case_id, int64_t read_id, const char *proof,
		       const char *key_pem, const char *error, bool final, int64_t now_ms)
{
	sqlite3 *db = mstore_lock(st);
	sqlite3_stmt *s;
	int rc = prepare(db, &s, "UPDATE case_evidence SET proof = ?3, gateway_key = ?4,"
				 " proof_error = ?5, fetched_ms = ?6, attempts = attempts + 1,"
				 " done = (?3 IS NOT NULL OR ?7 OR attempts + 1 >= ?8)"
				 " WHERE case_id = ?1 AND read_id = ?2");

	if (!rc) {
		sqlite3_bind_int64(s, 1, case_id);
		sqlite3_bind_int64(s, 2, read_id);
		if (proof)
			sqlite3_bind_text(s, 3, proof, -1, SQLITE_STATIC);
		else
			sqlite3_bind_null(s, 3);
		if (proof && key_pem)
			sqlite3_bind_text(s, 4, key_pem, -1, SQLITE_STATIC);
		else
			sqlite3_bind_null(s, 4);
		if (!proof && error)
			sqlite3_bind_text(s, 5, error, -1, SQLITE_STATIC);
		else
			sqlite3_bind_null(s, 5);
		sqlite3_bind_int64(s, 6, now_ms);
		sqlite3_bind_int(s, 7, final);
		sqlite3_bind_int(s, 8, CASES_PROOF_ATTEMPTS);
		rc = done(db, s, "evidence");
	}
	mstore_unlock(st);
	return rc;
}

/* ---- the operator's views ------------------------------------------------------ */

#define CASE_COLS                                                                        \
	"c.id, c.kind, c.state, c.client, c.client_member, c.user_id, c.subject,"        \
	" c.opened_ms, c.updated_ms, c.why,"                                             \
	" (SELECT COUNT(*) FROM finding_reads fr WHERE fr.finding_id = c.finding_id)"

static json_t *case_row(sqlite3_stmt *s)
{
	return json_pack("{s:I s:s s:s s:s s:s s:s s:s s:I s:I s:s s:I}", "id",
			 (json_int_t)sqlite3_column_int64(s, 0), "kind", col(s, 1), "state",
			 col(s, 2), "client", col(s, 3), "client_member", col(s, 4), "user_id",
			 col(s, 5), "subject", col(s, 6), "opened_ms",
			 (json_int_t)sqlite3_column_int64(s, 7), "updated_ms",
			 (json_int_t)sqlite3_column_int64(s, 8), "why", col(s, 9), "reads",
			 (json_int_t)sqlite3_column_int64(s, 10));
}

int cases_list(struct mstore *st, const struct cases_filter *f, json_t **out)
{
	json_t *list = json_array();
	const char *state = f->state;
	bool all = state && strcmp(state, "all") == 0;
	sqlite3 *db;
	sqlite3_stmt *s;
	int rc, step;

	*out = NULL;
	if (!list)
		return NDX_ENOMEM;
	db = mstore_lock(st);
	if (!(rc = prepare(db, &s, "SELECT " CASE_COLS " FROM cases c WHERE"
				   " (?1 OR (?2 IS NULL AND c.state IN ('open', 'escalated'))"
				   "  OR c.state = ?2)"
				   " AND (?3 IS NULL OR c.client_member = ?3)"
				   " AND (?4 IS NULL OR c.kind = ?4) ORDER BY c.id DESC LIMIT ?5"))) {
		sqlite3_bind_int(s, 1, all);
		if (state && !all)
			sqlite3_bind_text(s, 2, state, -1, SQLITE_STATIC);
		if (f->member)
			sqlite3_bind_text(s, 3, f->member, -1, SQLITE_STATIC);
		if (f->kind)
			sqlite3_bind_text(s, 4, f->kind, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 5, f->limit);
		while ((step = sqlite3_step(s)) == SQLITE_ROW)
			json_array_append_new(list, case_row(s));
		if (step != SQLITE_DONE)
			rc = ndx_sqlstore_fail(db, PROG, "cases");
		sqlite3_finalize(s);
	}
	mstore_unlock(st);
	if (!rc && !(*out = json_pack("{s:o}", "cases", list)))
		rc = NDX_ENOMEM;
	else if (rc)
		json_decref(list);
	return rc;
}

/* The subjects of read read_id, in order. */
static json_t *subjects_of(sqlite3_stmt *s, int64_t read_id)
{
	json_t *list = json_array();

	sqlite3_reset(s);
	sqlite3_bind_int64(s, 1, read_id);
	while (list && sqlite3_step(s) == SQLITE_ROW)
		json_array_append_new(list, json_string(col(s, 0)));
	return list;
}

static int history(sqlite3 *db, int64_t id, json_t *into)
{
	sqlite3_stmt *s;
	int rc = prepare(db, &s, "SELECT at_ms, actor, action, reason FROM case_events"
				 " WHERE case_id = ? ORDER BY seq"), step;

	if (rc)
		return rc;
	sqlite3_bind_int64(s, 1, id);
	while ((step = sqlite3_step(s)) == SQLITE_ROW)
		json_array_append_new(into, json_pack("{s:I s:s s:s s:s}", "at_ms",
						      (json_int_t)sqlite3_column_int64(s, 0),
						      "actor", col(s, 1), "action", col(s, 2),
						      "reason", col(s, 3)));
	if (step != SQLITE_DONE)
		rc = ndx_sqlstore_fail(db, PROG, "case history");
	sqlite3_finalize(s);
	return rc;
}

/* The evidence rows; *key is set to the one gateway key they share
 * (borrowed from the list), or NULL when they have none or several. */
static int evidence(sqlite3 *db, int64_t id, json_t *into, json_t **key)
{
	sqlite3_stmt *s, *subj;
	bool mixed = false;
	int rc, step;

	*key = NULL;
	if ((rc = prepare(db, &subj, "SELECT subject FROM read_subjects WHERE read_id = ?"
				     " ORDER BY subject")))
		return rc;
	if ((rc = prepare(db, &s, "SELECT r.id, r.time_ms, r.gateway, r.seq, r.message_id,"
				  " r.client, r.service, r.method, r.purpose, r.status, r.error_type,"
				  " r.user_id, r.issue, x.how, x.ref, e.proof, e.proof_error,"
				  " e.fetched_ms, e.gateway_key, e.attempts, e.done"
				  " FROM case_evidence e JOIN reads r ON r.id = e.read_id"
				  " LEFT JOIN explanations x ON x.read_id = r.id"
				  " WHERE e.case_id = ? ORDER BY r.time_ms, r.id"))) {
		sqlite3_finalize(subj);
		return rc;
	}
	sqlite3_bind_int64(s, 1, id);
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		json_t *proof = sqlite3_column_type(s, 15) == SQLITE_NULL
					? json_null() : json_loads(col(s, 15), 0, NULL);
		json_t *gk = col_or_null(s, 18), *row;

		row = json_pack("{s:I s:I s:s s:I s:s s:s s:s s:s s:s s:I s:s s:s s:s s:o s:o"
				" s:o s:o s:o s:o s:b}",
				"read_id", (json_int_t)sqlite3_column_int64(s, 0), "time_ms",
				(json_int_t)sqlite3_column_int64(s, 1), "gateway", col(s, 2), "seq",
				(json_int_t)sqlite3_column_int64(s, 3), "message_id", col(s, 4),
				"client", col(s, 5), "service", col(s, 6), "method", col(s, 7),
				"purpose", col(s, 8), "status", (json_int_t)sqlite3_column_int64(s, 9),
				"error_type", col(s, 10), "user_id", col(s, 11), "issue", col(s, 12),
				"subjects", subjects_of(subj, sqlite3_column_int64(s, 0)),
				"explanation",
				sqlite3_column_type(s, 13) == SQLITE_NULL
					? json_null()
					: json_pack("{s:s s:s}", "how", col(s, 13), "ref", col(s, 14)),
				/* stored only after it was parsed and checked: a row
				 * that no longer parses shows as null, not a crash */
				"proof", proof ? proof : json_null(), "proof_error", col_or_null(s, 16),
				"fetched_ms",
				sqlite3_column_type(s, 17) == SQLITE_NULL
					? json_null() : json_integer(sqlite3_column_int64(s, 17)),
				"gateway_key", gk, "pending", sqlite3_column_int(s, 20) == 0);
		if (!row)
			continue; /* out of memory: json_pack freed what it took */
		if (json_is_string(gk)) {
			if (*key && !json_equal(*key, gk))
				mixed = true;
			*key = gk;
		}
		json_array_append_new(into, row);
	}
	if (step != SQLITE_DONE)
		rc = ndx_sqlstore_fail(db, PROG, "case evidence");
	sqlite3_finalize(s);
	sqlite3_finalize(subj);
	if (mixed)
		*key = NULL;
	return rc;
}

int cases_get(struct mstore *st, int64_t id, json_t **out)
{
	json_t *c = NULL, *hist = json_array(), *ev = json_array(), *key = NULL;
	sqlite3 *db;
	sqlite3_stmt *s;
	int rc, step;

	*out = NULL;
	if (!hist || !ev) {
		json_decref(hist);
		json_decref(ev);
		return NDX_ENOMEM;
	}
	db = mstore_lock(st);
	/* one read transaction, so that the case, its history and its
	 * evidence are of the same moment */
	rc = ndx_sqlstore_exec(db, PROG, "BEGIN");
	if (!rc && !(rc = prepare(db, &s, "SELECT " CASE_COLS ", f.from_ms, f.to_ms, f.key"
					  " FROM cases c JOIN findings f ON f.id = c.finding_id"
					  " WHERE c.id = ?"))) {
		sqlite3_bind_int64(s, 1, id);
		if ((step = sqlite3_step(s)) == SQLITE_ROW) {
			c = case_row(s);
			json_object_set_new(c, "from_ms", json_integer(sqlite3_column_int64(s, 11)));
			json_object_set_new(c, "to_ms", json_integer(sqlite3_column_int64(s, 12)));
			json_object_set_new(c, "finding_key", json_string(col(s, 13)));
		} else if (step == SQLITE_DONE) {
			rc = NDX_ENOTFOUND;
		} else {
			rc = ndx_sqlstore_fail(db, PROG, "case");
		}
		sqlite3_finalize(s);
	}
	if (!rc && !c)
		rc = NDX_ENOMEM;
	if (!rc)
		rc = history(db, id, hist);
	if (!rc)
		rc = evidence(db, id, ev, &key);
	ndx_sqlstore_exec(db, PROG, rc == NDX_OK || rc == NDX_ENOTFOUND ? "COMMIT" : "ROLLBACK");
	mstore_unlock(st);
	if (rc) {
		json_decref(c);
		json_decref(hist);
		json_decref(ev);
		return rc;
	}
	json_object_set_new(c, "gateway_key", key ? json_incref(key) : json_null());
	json_object_set_new(c, "history", hist);
	json_object_set_new(c, "evidence", ev);
	*out = c;
	return NDX_OK;
}

/* ---- triage ------------------------------------------------------------------------ */

int cases_triage(struct mstore *st, int64_t id, const char *action, const char *reason,
		 const char *actor, int64_t now_ms, const char **why)
{
	const char *to = NULL, *state;
	sqlite3 *db;
	sqlite3_stmt *s;
	char have[16] = "";
	int64_t fid = 0;
	int rc;

	*why = NULL;
	if (!action || (strcmp(action, "confirm") && strcmp(action, "dismiss") &&
			strcmp(action, "escalate")))
		*why = "action: confirm, dismiss or escalate";
	else if (!text_ok(actor, ACTOR_MAX, false))
		*why = "actor: who acts, 1 to 200 bytes of text";
	else if (!text_ok(reason, REASON_MAX, true))
		*why = "reason: at most 1000 bytes of text";
	else if (strcmp(action, "dismiss") == 0 && (!reason || !reason[0]))
		*why = "reason: a dismissal needs its reason";
	if (*why)
		return NDX_EINVAL;
	to = action[0] == 'c' ? "confirmed" : action[0] == 'd' ? "dismissed" : "escalated";
	db = mstore_lock(st);
	if ((rc = begin(db)))
		goto out;
	if (!(rc = prepare(db, &s, "SELECT state, finding_id FROM cases WHERE id = ?"))) {
		sqlite3_bind_int64(s, 1, id);
		if (sqlite3_step(s) == SQLITE_ROW) {
			snprintf(have, sizeof have, "%s", col(s, 0));
			fid = sqlite3_column_int64(s, 1);
		} else {
			rc = NDX_ENOTFOUND;
		}
		sqlite3_finalize(s);
	}
	state = have;
	if (!rc && (strcmp(state, "confirmed") == 0 || strcmp(state, "dismissed") == 0)) {
		*why = strcmp(state, "confirmed") == 0 ? "the case is confirmed: that is final"
						       : "the case is dismissed: that is final";
		rc = NDX_EPERM;
	} else if (!rc && strcmp(to, "escalated") == 0 && strcmp(state, "escalated") == 0) {
		*why = "the case is escalated already";
		rc = NDX_EPERM;
	}
	if (!rc && !(rc = prepare(db, &s, "UPDATE cases SET state = ?, updated_ms = ? WHERE id = ?"))) {
		sqlite3_bind_text(s, 1, to, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, now_ms);
		sqlite3_bind_int64(s, 3, id);
		rc = done(db, s, "triage");
	}
	if (!rc)
		rc = event_add(db, id, now_ms, actor, action, reason);
	/* the finding is what the detector reads: dismissed, its reads count
	 * as normal in the baselines; its key stays, so it is not reopened */
	if (!rc && strcmp(action, "dismiss") == 0 &&
	    !(rc = prepare(db, &s, "UPDATE findings SET dismissed = 1 WHERE id = ?"))) {
		sqlite3_bind_int64(s, 1, fid);
		rc = done(db, s, "dismiss finding");
	}
	rc = end(db, rc);
out:
	mstore_unlock(st);
	return rc;
}

/* ---- the citizen's view ------------------------------------------------------------ */

/* Plain sentences for a citizen: what happened, by whom, and that the
 * operator confirmed it. */
static void explain(const char *kind, const char *member, const char *service, char *vi,
		    size_t vcap, char *en, size_t ecap)
{
	static const char *const vi_done =
		" Trung tâm điều hành đã xác nhận đây là việc sử dụng dữ liệu sai mục đích.";
	static const char *const en_done = " The operations centre has confirmed it as misuse.";

	if (strcmp(kind, MISUSE_NO_EXPLANATION) == 0) {
		snprintf(vi, vcap, "Một cán bộ của %s đã tra cứu dữ liệu của bạn qua dịch vụ"
				   " %s mà không có hồ sơ, sự đồng ý của bạn hay căn cứ pháp lý nào.%s",
			 member, service, vi_done);
		snprintf(en, ecap, "An official of %s looked up your data through %s with no"
				   " procedure, consent or legal basis for it.%s",
			 member, service, en_done);
	} else if (strcmp(kind, MISUSE_BULK) == 0) {
		snprintf(vi, vcap, "%s đã tra cứu dữ liệu của rất nhiều người trong thời gian"
				   " ngắn, trong đó có bạn, vượt xa mức thông thường của cơ quan.%s",
			 member, vi_done);
		snprintf(en, ecap, "%s looked up the data of many people in a short time, you among"
				   " them, far beyond its usual volume.%s",
			 member, en_done);
	} else if (strcmp(kind, MISUSE_OFF_HOURS) == 0) {
		snprintf(vi, vcap, "%s đã tra cứu dữ liệu của bạn ngoài giờ làm việc thường"
				   " lệ của cơ quan.%s", member, vi_done);
		snprintf(en, ecap, "%s looked up your data outside its usual working hours.%s",
			 member, en_done);
	} else if (strcmp(kind, MISUSE_PROVINCE) == 0) {
		snprintf(vi, vcap, "%s đã tra cứu dữ liệu của bạn dù bạn không thuộc các tỉnh,"
				   " thành phố mà cơ quan thường phục vụ.%s", member, vi_done);
		snprintf(en, ecap, "%s looked up your data although you are outside the provinces it"
				   " usually serves.%s", member, en_done);
	} else if (strcmp(kind, MISUSE_REPEATED) == 0) {
		snprintf(vi, vcap, "Dữ liệu của bạn đã bị nhiều cơ quan không liên quan đến nhau tra"
				   " cứu, trong đó có %s.%s", member, vi_done);
		snprintf(en, ecap, "Your data was looked up by several unrelated agencies, %s among"
				   " them.%s", member, en_done);
	} else if (strcmp(kind, MISUSE_PROBING) == 0) {
		snprintf(vi, vcap, "%s đã gửi hàng loạt yêu cầu bị từ chối, trong đó có yêu"
				   " cầu về dữ liệu của bạn.%s", member, vi_done);
		snprintf(en, ecap, "%s sent a surge of requests that were refused, some of them about"
				   " you.%s", member, en_done);
	} else if (strcmp(kind, MISUSE_REPLAY) == 0) {
		snprintf(vi, vcap, "Một yêu cầu của %s về dữ liệu của bạn đã bị gửi lặp lại"
				   " trái phép.%s", member, vi_done);
		snprintf(en, ecap, "A request of %s about your data was replayed.%s", member,
			 en_done);
	} else if (strcmp(kind, MISUSE_CITIZEN_REPORT) == 0) {
		snprintf(vi, vcap, "Bạn đã báo một lượt tra cứu dữ liệu của bạn mà bạn không nhận ra,"
				   " do %s thực hiện qua dịch vụ %s.%s",
			 member, service, vi_done);
		snprintf(en, ecap, "You reported a look-up of your data by %s through %s that you did"
				   " not recognise.%s", member, service, en_done);
	} else {
		snprintf(vi, vcap, "%s đã tra cứu dữ liệu của bạn một cách bất thường.%s",
			 member, vi_done);
		snprintf(en, ecap, "%s looked up your data in an unusual way.%s", member, en_done);
	}
}

int cases_subject(struct mstore *st, const char *subject, cases_namer namer, void *namer_ctx,
		  json_t **out)
{
	json_t *list = json_array();
	sqlite3 *db;
	sqlite3_stmt *s = NULL, *r = NULL;
	int rc, step;

	*out = NULL;
	if (!list)
		return NDX_ENOMEM;
	db = mstore_lock(st);
	rc = ndx_sqlstore_exec(db, PROG, "BEGIN");
	if (!rc)
		rc = prepare(db, &s, "SELECT c.id, c.kind, c.client, c.client_member, c.finding_id,"
				     " COALESCE((SELECT MAX(at_ms) FROM case_events ce WHERE"
				     " ce.case_id = c.id AND ce.action = 'confirm'), c.updated_ms),"
				     " c.opened_ms, c.updated_ms"
				     " FROM cases c WHERE c.state = 'confirmed' AND EXISTS (SELECT 1"
				     " FROM finding_reads fr JOIN read_subjects rs ON rs.read_id ="
				     " fr.read_id WHERE fr.finding_id = c.finding_id AND rs.subject = ?1)"
				     " ORDER BY c.id DESC");
	if (!rc)
		rc = prepare(db, &r, "SELECT r.time_ms, r.service, r.purpose FROM finding_reads fr"
				     " JOIN reads r ON r.id = fr.read_id JOIN read_subjects rs ON"
				     " rs.read_id = r.id AND rs.subject = ?2 WHERE fr.finding_id = ?1"
				     " ORDER BY r.time_ms, r.id");
	if (!rc) {
		sqlite3_bind_text(s, 1, subject, -1, SQLITE_STATIC);
		while ((step = sqlite3_step(s)) == SQLITE_ROW) {
			json_t *reads = json_array();
			char service[NDX_ID_TEXT_MAX] = "", vi[3072], en[3072];

			sqlite3_reset(r);
			sqlite3_bind_int64(r, 1, sqlite3_column_int64(s, 4));
			sqlite3_bind_text(r, 2, subject, -1, SQLITE_STATIC);
			while (reads && sqlite3_step(r) == SQLITE_ROW) {
				if (!service[0])
					snprintf(service, sizeof service, "%s", col(r, 1));
				json_array_append_new(reads, json_pack("{s:I s:s s:s}", "time_ms",
								       (json_int_t)sqlite3_column_int64(r, 0),
								       "service", col(r, 1), "purpose",
								       col(r, 2)));
			}
			char agency[1024], title[1024];

			if (namer)
				namer(namer_ctx, col(s, 3), service, agency, sizeof agency, title,
				      sizeof title);
			else {
				snprintf(agency, sizeof agency, "%s", col(s, 3));
				snprintf(title, sizeof title, "%s", service);
			}
			explain(col(s, 1), agency, title, vi, sizeof vi, en, sizeof en);
			json_array_append_new(list,
					      json_pack("{s:I s:s s:I s:I s:I s:s s:s s:s s:o s:s s:s}",
							"id", (json_int_t)sqlite3_column_int64(s, 0),
							"kind", col(s, 1), "confirmed_ms",
							(json_int_t)sqlite3_column_int64(s, 5),
							"opened_ms", (json_int_t)sqlite3_column_int64(s, 6),
							"updated_ms", (json_int_t)sqlite3_column_int64(s, 7),
							"client",
							col(s, 2), "client_member", col(s, 3), "service",
							service, "reads", reads ? reads : json_array(),
							"explanation", vi, "explanation_en", en));
		}
		if (step != SQLITE_DONE)
			rc = ndx_sqlstore_fail(db, PROG, "subject cases");
	}
	sqlite3_finalize(s);
	sqlite3_finalize(r);
	ndx_sqlstore_exec(db, PROG, rc ? "ROLLBACK" : "COMMIT");
	mstore_unlock(st);
	if (rc) {
		json_decref(list);
		return rc;
	}
	*out = list;
	return NDX_OK;
}

/* ---- a citizen's report ------------------------------------------------------------ */

int cases_report(struct mstore *st, const char *subject, const char *gateway, int64_t seq,
		 const char *message_id, const char *note, int64_t now_ms, int64_t *case_id,
		 bool *created)
{
	sqlite3 *db;
	sqlite3_stmt *s;
	int64_t read_id = 0, fid = 0, time_ms = 0, rseq = 0;
	char key[1024], why[2048], client[NDX_ID_TEXT_MAX] = "", user[300] = "";
	int rc;

	*case_id = 0;
	*created = false;
	db = mstore_lock(st);
	if ((rc = begin(db)))
		goto out;
	/* the read must concern the reporting citizen: nobody reports, nor
	 * learns of, another person's reads */
	if (!(rc = prepare(db, &s, "SELECT r.id, r.seq, r.time_ms, r.client, r.service,"
				   " r.purpose, r.user_id FROM reads r JOIN read_subjects rs ON"
				   " rs.read_id = r.id AND rs.subject = ?1 WHERE r.gateway = ?2 AND"
				   " (CASE WHEN ?3 > 0 THEN r.seq = ?3 ELSE r.message_id = ?4 END)"
				   " ORDER BY r.seq LIMIT 1"))) {
		sqlite3_bind_text(s, 1, subject, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, gateway, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 3, seq);
		sqlite3_bind_text(s, 4, message_id ? message_id : "", -1, SQLITE_STATIC);
		if (sqlite3_step(s) == SQLITE_ROW) {
			read_id = sqlite3_column_int64(s, 0);
			rseq = sqlite3_column_int64(s, 1);
			time_ms = sqlite3_column_int64(s, 2);
			snprintf(client, sizeof client, "%s", col(s, 3));
			snprintf(user, sizeof user, "%s", col(s, 6));
			snprintf(why, sizeof why, "the citizen did not recognise this read of their"
						  " data by %s through %s (purpose \"%s\")",
				 col(s, 3), col(s, 4), col(s, 5));
		} else {
			rc = NDX_ENOTFOUND;
		}
		sqlite3_finalize(s);
	}
	if (rc)
		goto finish;
	snprintf(key, sizeof key, "%s:%s:%lld", MISUSE_CITIZEN_REPORT, gateway, (long long)rseq);
	if (!(rc = prepare(db, &s, "SELECT f.id, c.id FROM findings f LEFT JOIN cases c"
				   " ON c.finding_id = f.id WHERE f.key = ?"))) {
		sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
		if (sqlite3_step(s) == SQLITE_ROW) {
			fid = sqlite3_column_int64(s, 0);
			*case_id = sqlite3_column_int64(s, 1);
		}
		sqlite3_finalize(s);
	}
	if (rc || *case_id)
		goto finish;
	if (!fid && !(rc = prepare(db, &s, "INSERT INTO findings(kind, key, client, user_id,"
					   " subject, from_ms, to_ms, why, created_ms)"
					   " VALUES(?, ?, ?, ?, ?, ?, ?6, ?, ?)"))) {
		sqlite3_bind_text(s, 1, MISUSE_CITIZEN_REPORT, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, key, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 3, client, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 4, user, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 5, subject, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 6, time_ms);
		sqlite3_bind_text(s, 7, why, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 8, now_ms);
		if (!(rc = done(db, s, "report finding"))) {
			fid = sqlite3_last_insert_rowid(db);
			if (!(rc = prepare(db, &s, "INSERT INTO finding_reads VALUES(?, ?)"))) {
				sqlite3_bind_int64(s, 1, fid);
				sqlite3_bind_int64(s, 2, read_id);
				rc = done(db, s, "report read");
			}
		}
	}
	if (!rc)
		rc = open_case(db, fid, now_ms, "citizen", note && note[0] ? note : why, case_id);
	*created = !rc;
finish:
	rc = end(db, rc == NDX_ENOTFOUND ? NDX_OK : rc) ? NDX_EDB : rc;
out:
	mstore_unlock(st);
	if (rc) {
		*case_id = 0;
		*created = false;
	}
	return rc;
}

/* ---- metrics ------------------------------------------------------------------------ */

int cases_open_counts(struct mstore *st,
		      void (*fn)(void *ctx, const char *kind, const char *state, uint64_t n),
		      void *ctx)
{
	enum { NK = sizeof KINDS / sizeof *KINDS };
	uint64_t open[NK] = { 0 }, esc[NK] = { 0 };
	sqlite3 *db = mstore_lock(st);
	sqlite3_stmt *s;
	int rc = prepare(db, &s, "SELECT kind, state, COUNT(*) FROM cases WHERE state IN"
				 " ('open', 'escalated') GROUP BY kind, state"), step;

	if (!rc) {
		while ((step = sqlite3_step(s)) == SQLITE_ROW)
			for (size_t i = 0; i < NK; i++)
				if (strcmp(col(s, 0), KINDS[i]) == 0)
					(strcmp(col(s, 1), "open") == 0 ? open : esc)[i] =
						(uint64_t)sqlite3_column_int64(s, 2);
		if (step != SQLITE_DONE)
			rc = ndx_sqlstore_fail(db, PROG, "case counts");
		sqlite3_finalize(s);
	}
	mstore_unlock(st);
	for (size_t i = 0; !rc && i < NK; i++) {
		fn(ctx, KINDS[i], "open", open[i]);
		fn(ctx, KINDS[i], "escalated", esc[i]);
	}
	return rc;
}
