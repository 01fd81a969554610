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
#include "ndx/sqldb.h"
#include "ndx/text.h"

#define PROG "ndx-monitor"
#define ACTOR_MAX 200
#define REASON_MAX 1000

static const char *const KINDS[] = {
	MISUSE_NO_EXPLANATION, MISUSE_BULK, MISUSE_OFF_HOURS, MISUSE_PROVINCE,
	MISUSE_REPEATED, MISUSE_PROBING, MISUSE_REPLAY, MISUSE_CITIZEN_REPORT,
};

/* A text column, "" when null or absent. */
static const char *cs(const json_t *row, const char *c)
{
	const char *v = json_string_value(json_object_get(row, c));

	return v ? v : "";
}

/* A column as a new reference: its string, or null. */
static json_t *cn(const json_t *row, const char *c)
{
	const json_t *v = json_object_get(row, c);

	return json_is_string(v) ? json_string(json_string_value(v)) : json_null();
}

#define CI(row, c) ((json_int_t)ndx_sqldb_int((row), (c)))

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

static int event_add(struct ndx_sqldb *db, int64_t case_id, int64_t at_ms, const char *actor,
		     const char *action, const char *reason)
{
	return ndx_sqldb_exec(db,
			      "INSERT INTO case_events(case_id, seq, at_ms, actor, action, reason)"
			      " VALUES(?1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM case_events"
			      " WHERE case_id = ?1), ?2, ?3, ?4, ?5)",
			      "iisss", case_id, at_ms, actor, action, reason ? reason : "");
}

/* Opens the case of finding fid (inside the caller's transaction): the
 * case, its first history row (actor, reason), its evidence. */
static int open_case(struct ndx_sqldb *db, int64_t fid, int64_t now_ms, const char *actor,
		     const char *reason, int64_t *case_id)
{
	json_t *f = NULL, *c = NULL;
	char member[NDX_ID_TEXT_MAX];
	int rc;

	if ((rc = ndx_sqldb_query_one(db, &f, "SELECT kind, client, user_id, subject, why,"
					      " dismissed FROM findings WHERE id = ?",
				      "i", fid)))
		return rc == NDX_ENOTFOUND ? NDX_EDB : rc;
	member_of(cs(f, "client"), member);
	rc = ndx_sqldb_query_one(db, &c,
				 "INSERT INTO cases(finding_id, kind, state, client, client_member,"
				 " user_id, subject, opened_ms, updated_ms, why) VALUES(?, ?, ?, ?, ?,"
				 " ?, ?, ?8, ?8, ?9) RETURNING id",
				 "issssssis", fid, cs(f, "kind"),
				 ndx_sqldb_int(f, "dismissed") ? "dismissed" : "open", cs(f, "client"),
				 member, cs(f, "user_id"), cs(f, "subject"), now_ms, cs(f, "why"));
	if (!rc) {
		*case_id = ndx_sqldb_int(c, "id");
		rc = event_add(db, *case_id, now_ms, actor, "open", reason ? reason : cs(f, "why"));
	}
	json_decref(f);
	json_decref(c);
	if (!rc)
		rc = ndx_sqldb_exec(db, "INSERT INTO case_evidence(case_id, read_id)"
					" SELECT ?1, fr.read_id FROM finding_reads fr JOIN reads r"
					" ON r.id = fr.read_id WHERE fr.finding_id = ?2"
					" ORDER BY r.time_ms, r.id LIMIT ?3",
				    "iii", *case_id, fid, (int64_t)CASES_EVIDENCE_MAX);
	return rc;
}

static int end(struct ndx_sqldb *db, int rc)
{
	if (!rc)
		rc = db->ops->commit(db);
	if (rc)
		db->ops->rollback(db);
	return rc;
}

int cases_open_new(struct mstore *st, int64_t now_ms, unsigned *opened)
{
	struct ndx_sqldb *db = mstore_lock(st);
	json_t *ids = NULL, *r;
	unsigned n = 0;
	size_t i;
	int rc = db->ops->begin(db);

	/* The ids first, then the cases: the query reads cases, which the
	 * inserts change. */
	if (!rc)
		rc = ndx_sqldb_query(db, &ids, "SELECT f.id FROM findings f WHERE NOT EXISTS"
					       " (SELECT 1 FROM cases c WHERE c.finding_id = f.id)"
					       " ORDER BY f.id", "");
	json_array_foreach(ids, i, r) {
		int64_t case_id;

		if (rc)
			break;
		rc = open_case(db, ndx_sqldb_int(r, "id"), now_ms, "detector", NULL, &case_id);
		n += !rc;
	}
	json_decref(ids);
	rc = end(db, rc);
	mstore_unlock(st);
	if (opened)
		*opened = rc ? 0 : n;
	return rc;
}

/* ---- evidence ---------------------------------------------------------------------- */

int cases_evidence_pending(struct mstore *st, unsigned max, json_t **out)
{
	struct ndx_sqldb *db = mstore_lock(st);
	int rc;

	*out = NULL;
	/* the rows are the list: {"case_id", "read_id", "gateway", "seq", "message_id"} */
	rc = ndx_sqldb_query(db, out, "SELECT e.case_id, e.read_id, r.gateway, r.seq, r.message_id"
				      " FROM case_evidence e JOIN reads r ON r.id = e.read_id"
				      " WHERE e.done = 0 ORDER BY e.case_id, r.time_ms, r.id LIMIT ?",
			     "i", (int64_t)max);
	mstore_unlock(st);
	return rc;
}

int cases_evidence_set(struct mstore *st, int64_t case_id, int64_t read_id, const char *proof,
		       const char *key_pem, const char *error, bool final, int64_t now_ms)
{
	struct ndx_sqldb *db = mstore_lock(st);
	int rc = ndx_sqldb_exec(db,
				"UPDATE case_evidence SET proof = ?3, gateway_key = ?4,"
				" proof_error = ?5, fetched_ms = ?6, attempts = attempts + 1,"
				" done = CASE WHEN ?3 IS NOT NULL OR ?7 = 1 OR attempts + 1 >= ?8"
				" THEN 1 ELSE 0 END WHERE case_id = ?1 AND read_id = ?2",
				"iisssiii", case_id, read_id, proof, proof ? key_pem : NULL,
				proof ? NULL : error, now_ms, (int64_t)final,
				(int64_t)CASES_PROOF_ATTEMPTS);

	mstore_unlock(st);
	return rc;
}

/* ---- the operator's views ------------------------------------------------------ */

#define CASE_COLS                                                                        \
	"c.id, c.kind, c.state, c.client, c.client_member, c.user_id, c.subject,"        \
	" c.opened_ms, c.updated_ms, c.why,"                                             \
	" (SELECT COUNT(*) FROM finding_reads fr WHERE fr.finding_id = c.finding_id) AS n"

static json_t *case_row(const json_t *r)
{
	return json_pack("{s:I s:s s:s s:s s:s s:s s:s s:I s:I s:s s:I}", "id", CI(r, "id"),
			 "kind", cs(r, "kind"), "state", cs(r, "state"), "client", cs(r, "client"),
			 "client_member", cs(r, "client_member"), "user_id", cs(r, "user_id"),
			 "subject", cs(r, "subject"), "opened_ms", CI(r, "opened_ms"),
			 "updated_ms", CI(r, "updated_ms"), "why", cs(r, "why"), "reads",
			 CI(r, "n"));
}

int cases_list(struct mstore *st, const struct cases_filter *f, json_t **out)
{
	json_t *list = json_array(), *rows = NULL, *r;
	const char *state = f->state;
	bool all = state && strcmp(state, "all") == 0;
	struct ndx_sqldb *db;
	size_t i;
	int rc;

	*out = NULL;
	if (!list)
		return NDX_ENOMEM;
	db = mstore_lock(st);
	rc = ndx_sqldb_query(db, &rows,
			     "SELECT " CASE_COLS " FROM cases c WHERE"
			     " (?1 = 1 OR (?2 IS NULL AND c.state IN ('open', 'escalated'))"
			     "  OR c.state = ?2)"
			     " AND (?3 IS NULL OR c.client_member = ?3)"
			     " AND (?4 IS NULL OR c.kind = ?4) ORDER BY c.id DESC LIMIT ?5",
			     "isssi", (int64_t)all, state && !all ? state : NULL, f->member, f->kind,
			     (int64_t)f->limit);
	mstore_unlock(st);
	json_array_foreach(rows, i, r)
		json_array_append_new(list, case_row(r));
	json_decref(rows);
	if (!rc && !(*out = json_pack("{s:o}", "cases", list)))
		rc = NDX_ENOMEM;
	else if (rc)
		json_decref(list);
	return rc;
}

static int history(struct ndx_sqldb *db, int64_t id, json_t *into)
{
	json_t *rows = NULL, *r;
	size_t i;
	int rc = ndx_sqldb_query(db, &rows, "SELECT at_ms, actor, action, reason FROM case_events"
					    " WHERE case_id = ? ORDER BY seq", "i", id);

	json_array_foreach(rows, i, r)
		json_array_append_new(into, json_pack("{s:I s:s s:s s:s}", "at_ms",
						      CI(r, "at_ms"), "actor", cs(r, "actor"),
						      "action", cs(r, "action"), "reason",
						      cs(r, "reason")));
	json_decref(rows);
	return rc;
}

/* The evidence rows; *key is set to the one gateway key they share
 * (borrowed from the list), or NULL when they have none or several. */
static int evidence(struct ndx_sqldb *db, int64_t id, json_t *into, json_t **key)
{
	json_t *rows = NULL, *subj = NULL, *by_read = json_object(), *r;
	bool mixed = false;
	size_t i;
	int rc;

	*key = NULL;
	if (!by_read)
		return NDX_ENOMEM;
	/* the subjects of every read of the case, in one query */
	rc = ndx_sqldb_query(db, &subj, "SELECT rs.read_id, rs.subject FROM case_evidence e JOIN"
					" read_subjects rs ON rs.read_id = e.read_id WHERE"
					" e.case_id = ? ORDER BY rs.read_id, rs.subject",
			     "i", id);
	json_array_foreach(subj, i, r) {
		char k[24];
		json_t *list;

		snprintf(k, sizeof k, "%lld", (long long)ndx_sqldb_int(r, "read_id"));
		if (!(list = json_object_get(by_read, k))) {
			list = json_array();
			json_object_set_new(by_read, k, list);
		}
		json_array_append_new(list, json_string(cs(r, "subject")));
	}
	if (!rc)
		rc = ndx_sqldb_query(db, &rows,
				     "SELECT r.id, r.time_ms, r.gateway, r.seq, r.message_id,"
				     " r.client, r.service, r.method, r.purpose, r.status, r.error_type,"
				     " r.user_id, r.issue, x.how, x.ref, e.proof, e.proof_error,"
				     " e.fetched_ms, e.gateway_key, e.attempts, e.done"
				     " FROM case_evidence e JOIN reads r ON r.id = e.read_id"
				     " LEFT JOIN explanations x ON x.read_id = r.id"
				     " WHERE e.case_id = ? ORDER BY r.time_ms, r.id",
				     "i", id);
	json_array_foreach(rows, i, r) {
		const char *proof_text = json_string_value(json_object_get(r, "proof"));
		json_t *proof = proof_text ? json_loads(proof_text, 0, NULL) : NULL;
		json_t *gk = cn(r, "gateway_key"), *row, *subjects;
		char k[24];

		snprintf(k, sizeof k, "%lld", (long long)ndx_sqldb_int(r, "id"));
		subjects = json_object_get(by_read, k);
		row = json_pack("{s:I s:I s:s s:I s:s s:s s:s s:s s:s s:I s:s s:s s:s s:o s:o"
				" s:o s:o s:o s:o s:b}",
				"read_id", CI(r, "id"), "time_ms", CI(r, "time_ms"), "gateway",
				cs(r, "gateway"), "seq", CI(r, "seq"), "message_id",
				cs(r, "message_id"), "client", cs(r, "client"), "service",
				cs(r, "service"), "method", cs(r, "method"), "purpose",
				cs(r, "purpose"), "status", CI(r, "status"), "error_type",
				cs(r, "error_type"), "user_id", cs(r, "user_id"), "issue",
				cs(r, "issue"), "subjects",
				subjects ? json_incref(subjects) : json_array(), "explanation",
				json_is_string(json_object_get(r, "how"))
					? json_pack("{s:s s:s}", "how", cs(r, "how"), "ref",
						    cs(r, "ref"))
					: json_null(),
				/* stored only after it was parsed and checked: a row
				 * that no longer parses shows as null, not a crash */
				"proof", proof ? proof : json_null(), "proof_error",
				cn(r, "proof_error"), "fetched_ms",
				json_is_integer(json_object_get(r, "fetched_ms"))
					? json_integer(CI(r, "fetched_ms")) : json_null(),
				"gateway_key", gk, "pending", ndx_sqldb_int(r, "done") == 0);
		if (!row)
			continue; /* out of memory: json_pack freed what it took */
		if (json_is_string(gk)) {
			if (*key && !json_equal(*key, gk))
				mixed = true;
			*key = gk;
		}
		json_array_append_new(into, row);
	}
	json_decref(rows);
	json_decref(subj);
	json_decref(by_read);
	if (mixed)
		*key = NULL;
	return rc;
}

int cases_get(struct mstore *st, int64_t id, json_t **out)
{
	json_t *c = NULL, *hist = json_array(), *ev = json_array(), *key = NULL, *r = NULL;
	struct ndx_sqldb *db;
	int rc;

	*out = NULL;
	if (!hist || !ev) {
		json_decref(hist);
		json_decref(ev);
		return NDX_ENOMEM;
	}
	db = mstore_lock(st);
	/* one read transaction, so that the case, its history and its
	 * evidence are of the same moment */
	rc = db->ops->snapshot(db);
	if (!rc)
		rc = ndx_sqldb_query_one(db, &r,
					 "SELECT " CASE_COLS ", f.from_ms, f.to_ms, f.key"
					 " FROM cases c JOIN findings f ON f.id = c.finding_id"
					 " WHERE c.id = ?",
					 "i", id);
	if (!rc) {
		c = case_row(r);
		if (c) {
			json_object_set_new(c, "from_ms", json_integer(CI(r, "from_ms")));
			json_object_set_new(c, "to_ms", json_integer(CI(r, "to_ms")));
			json_object_set_new(c, "finding_key", json_string(cs(r, "key")));
		}
	}
	json_decref(r);
	if (!rc && !c)
		rc = NDX_ENOMEM;
	if (!rc)
		rc = history(db, id, hist);
	if (!rc)
		rc = evidence(db, id, ev, &key);
	db->ops->rollback(db);
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
	struct ndx_sqldb *db;
	json_t *r = NULL;
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
	if ((rc = db->ops->begin(db)))
		goto out;
	if (!(rc = ndx_sqldb_query_one(db, &r, "SELECT state, finding_id FROM cases WHERE id = ?",
				       "i", id))) {
		snprintf(have, sizeof have, "%s", cs(r, "state"));
		fid = ndx_sqldb_int(r, "finding_id");
		json_decref(r);
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
	if (!rc)
		rc = ndx_sqldb_exec(db, "UPDATE cases SET state = ?, updated_ms = ? WHERE id = ?",
				    "sii", to, now_ms, id);
	if (!rc)
		rc = event_add(db, id, now_ms, actor, action, reason);
	/* the finding is what the detector reads: dismissed, its reads count
	 * as normal in the baselines; its key stays, so it is not reopened */
	if (!rc && strcmp(action, "dismiss") == 0)
		rc = ndx_sqldb_exec(db, "UPDATE findings SET dismissed = 1 WHERE id = ?", "i", fid);
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
	json_t *list = json_array(), *cases = NULL, *reads = NULL, *c, *r;
	struct ndx_sqldb *db;
	size_t i, k = 0;
	int rc;

	*out = NULL;
	if (!list)
		return NDX_ENOMEM;
	db = mstore_lock(st);
	rc = db->ops->snapshot(db);
	if (!rc)
		rc = ndx_sqldb_query(db, &cases,
				     "SELECT c.id, c.kind, c.client, c.client_member, c.finding_id,"
				     " COALESCE((SELECT MAX(at_ms) FROM case_events ce WHERE"
				     " ce.case_id = c.id AND ce.action = 'confirm'), c.updated_ms)"
				     " AS confirmed_ms, c.opened_ms, c.updated_ms"
				     " FROM cases c WHERE c.state = 'confirmed' AND EXISTS (SELECT 1"
				     " FROM finding_reads fr JOIN read_subjects rs ON rs.read_id ="
				     " fr.read_id WHERE fr.finding_id = c.finding_id AND rs.subject = ?1)"
				     " ORDER BY c.id DESC",
				     "s", subject);
	/* the subject's reads of every such case in one query, in the cases'
	 * order */
	if (!rc)
		rc = ndx_sqldb_query(db, &reads,
				     "SELECT c.id AS case_id, r.time_ms, r.service, r.purpose FROM"
				     " cases c JOIN finding_reads fr ON fr.finding_id = c.finding_id"
				     " JOIN reads r ON r.id = fr.read_id JOIN read_subjects rs ON"
				     " rs.read_id = r.id AND rs.subject = ?1 WHERE c.state ="
				     " 'confirmed' ORDER BY c.id DESC, r.time_ms, r.id",
				     "s", subject);
	db->ops->rollback(db);
	mstore_unlock(st);
	json_array_foreach(cases, i, c) {
		json_t *rl = json_array();
		char service[NDX_ID_TEXT_MAX] = "", vi[3072], en[3072], agency[1024], title[1024];
		int64_t id = ndx_sqldb_int(c, "id");

		if (rc)
			break;
		/* reads are ordered by case id descending, as the cases */
		while ((r = json_array_get(reads, k)) && ndx_sqldb_int(r, "case_id") > id)
			k++;
		for (; (r = json_array_get(reads, k)) && ndx_sqldb_int(r, "case_id") == id; k++) {
			if (!service[0])
				snprintf(service, sizeof service, "%s", cs(r, "service"));
			if (rl)
				json_array_append_new(rl, json_pack("{s:I s:s s:s}", "time_ms",
								    CI(r, "time_ms"), "service",
								    cs(r, "service"), "purpose",
								    cs(r, "purpose")));
		}
		if (namer)
			namer(namer_ctx, cs(c, "client_member"), service, agency, sizeof agency, title,
			      sizeof title);
		else {
			snprintf(agency, sizeof agency, "%s", cs(c, "client_member"));
			snprintf(title, sizeof title, "%s", service);
		}
		explain(cs(c, "kind"), agency, title, vi, sizeof vi, en, sizeof en);
		json_array_append_new(list,
				      json_pack("{s:I s:s s:I s:I s:I s:s s:s s:s s:o s:s s:s}", "id",
						(json_int_t)id, "kind", cs(c, "kind"), "confirmed_ms",
						CI(c, "confirmed_ms"), "opened_ms", CI(c, "opened_ms"),
						"updated_ms", CI(c, "updated_ms"), "client",
						cs(c, "client"), "client_member", cs(c, "client_member"),
						"service", service, "reads", rl ? rl : json_array(),
						"explanation", vi, "explanation_en", en));
	}
	json_decref(cases);
	json_decref(reads);
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
	struct ndx_sqldb *db;
	json_t *r = NULL;
	int64_t read_id = 0, fid = 0, time_ms = 0, rseq = 0;
	char key[1024], why[2048], client[NDX_ID_TEXT_MAX] = "", user[300] = "";
	int rc;

	*case_id = 0;
	*created = false;
	db = mstore_lock(st);
	if ((rc = db->ops->begin(db)))
		goto out;
	/* the read must concern the reporting citizen: nobody reports, nor
	 * learns of, another person's reads */
	if (!(rc = ndx_sqldb_query_one(db, &r,
				       "SELECT r.id, r.seq, r.time_ms, r.client, r.service,"
				       " r.purpose, r.user_id FROM reads r JOIN read_subjects rs ON"
				       " rs.read_id = r.id AND rs.subject = ?1 WHERE r.gateway = ?2"
				       " AND (CASE WHEN ?3 > 0 THEN r.seq = ?3 ELSE r.message_id = ?4"
				       " END) ORDER BY r.seq LIMIT 1",
				       "ssis", subject, gateway, seq, message_id ? message_id : ""))) {
		read_id = ndx_sqldb_int(r, "id");
		rseq = ndx_sqldb_int(r, "seq");
		time_ms = ndx_sqldb_int(r, "time_ms");
		snprintf(client, sizeof client, "%s", cs(r, "client"));
		snprintf(user, sizeof user, "%s", cs(r, "user_id"));
		snprintf(why, sizeof why, "the citizen did not recognise this read of their"
					  " data by %s through %s (purpose \"%s\")",
			 cs(r, "client"), cs(r, "service"), cs(r, "purpose"));
		json_decref(r);
		r = NULL;
	}
	if (rc)
		goto finish;
	snprintf(key, sizeof key, "%s:%s:%lld", MISUSE_CITIZEN_REPORT, gateway, (long long)rseq);
	rc = ndx_sqldb_query_one(db, &r, "SELECT f.id AS fid, c.id AS cid FROM findings f"
					 " LEFT JOIN cases c ON c.finding_id = f.id WHERE f.key = ?",
				 "s", key);
	if (!rc) {
		fid = ndx_sqldb_int(r, "fid");
		*case_id = ndx_sqldb_int(r, "cid");
	} else if (rc == NDX_ENOTFOUND) {
		rc = NDX_OK;
	}
	json_decref(r);
	r = NULL;
	if (rc || *case_id)
		goto finish;
	if (!fid && !(rc = ndx_sqldb_query_one(db, &r,
					       "INSERT INTO findings(kind, key, client, user_id,"
					       " subject, from_ms, to_ms, why, created_ms)"
					       " VALUES(?, ?, ?, ?, ?, ?, ?6, ?, ?) RETURNING id",
					       "sssssisi", MISUSE_CITIZEN_REPORT, key, client, user,
					       subject, time_ms, why, now_ms))) {
		fid = ndx_sqldb_int(r, "id");
		json_decref(r);
		rc = ndx_sqldb_exec(db, "INSERT INTO finding_reads(finding_id, read_id)"
					" VALUES(?, ?)", "ii", fid, read_id);
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
	struct ndx_sqldb *db = mstore_lock(st);
	json_t *rows = NULL, *r;
	size_t j;
	int rc = ndx_sqldb_query(db, &rows, "SELECT kind, state, COUNT(*) AS n FROM cases WHERE"
					    " state IN ('open', 'escalated') GROUP BY kind, state",
				 "");

	mstore_unlock(st);
	json_array_foreach(rows, j, r)
		for (size_t i = 0; i < NK; i++)
			if (strcmp(cs(r, "kind"), KINDS[i]) == 0)
				(strcmp(cs(r, "state"), "open") == 0 ? open : esc)[i] =
					(uint64_t)ndx_sqldb_int(r, "n");
	json_decref(rows);
	for (size_t i = 0; !rc && i < NK; i++) {
		fn(ctx, KINDS[i], "open", open[i]);
		fn(ctx, KINDS[i], "escalated", esc[i]);
	}
	return rc;
}
