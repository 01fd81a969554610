/* mreads.h. The accesses are the provider gateways' message log fields of
 * each personal read, as the gateways send them (docs/monitoring.md
 * "Personal reads"); nothing here is ever printed with a subject in it. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "misuse.h"
#include "mreads.h"
#include "ndx/err.h"
#include "ndx/id.h"
#include "ndx/pin.h"
#include "ndx/sqldb.h"
#include "ndx/text.h"

#define PROG "ndx-monitor"
/* As for the operational records (mstore.c): clocks differ, but a read
 * dated later than this would sit in every window until then. */
#define FUTURE_SKEW_MS (300 * 1000)
#define TEXT_MAX 1000      /* purpose, basis, a procedure's kind */
#define REF_MAX 128        /* a procedure's id */
#define SUBJECTS_MAX 10000 /* of one read: a bulk answer's people */

static bool text_ok(const char *s, size_t max, bool empty_ok)
{
	size_t n = s ? strlen(s) : 0;

	return s && (empty_ok || n > 0) && n <= max && ndx_text_check(s, n, NULL, NULL) == NDX_OK;
}

/* The canonical member of a member or subsystem id into out; false when
 * id is neither. */
static bool member_of(const char *id, char out[NDX_ID_TEXT_MAX])
{
	struct ndx_id parsed, m;

	for (int k = NDX_ID_SUBSYSTEM; k >= NDX_ID_MEMBER; k--)
		if (ndx_id_parse(id, strlen(id), (enum ndx_id_kind)k, &parsed, NULL) == NDX_OK &&
		    ndx_id_parent(&parsed, NDX_ID_MEMBER, &m) == NDX_OK &&
		    ndx_id_format(&m, out, NDX_ID_TEXT_MAX) >= 0)
			return true;
	return false;
}

static bool is_pin(const char *s)
{
	return s && ndx_pin_parse(s, 0, NULL, NULL) == NDX_OK;
}

int mreads_cursor(struct mstore *st, const char *gateway, uint64_t *after)
{
	struct ndx_sqldb *db = mstore_lock(st);
	json_t *row = NULL;
	int rc;

	*after = 0;
	rc = ndx_sqldb_query_one(db, &row,
				 "SELECT COALESCE((SELECT after FROM access_cursors WHERE gateway = ?1),"
				 " 0) AS kept, COALESCE((SELECT MAX(seq) FROM reads"
				 " WHERE gateway = ?1), 0) AS seen",
				 "s", gateway);
	mstore_unlock(st);
	if (!rc) {
		int64_t k = ndx_sqldb_int(row, "kept"), n = ndx_sqldb_int(row, "seen");

		*after = (uint64_t)(k > n ? k : n);
	}
	json_decref(row);
	return rc;
}

/* ---- one access ------------------------------------------------------------------- */

struct access {
	int64_t seq, time_ms, status;
	const char *message_id, *client, *service, *method, *purpose, *error_type, *user_id,
		*issue;
	int own, event, consent;
	const json_t *subjects;
	char member[NDX_ID_TEXT_MAX];
};

/* An optional string: "" when absent or null. */
static bool opt_text(const json_t *a, const char *k, const char **out)
{
	const json_t *v = json_object_get(a, k);

	*out = json_is_string(v) ? json_string_value(v) : "";
	return !v || json_is_null(v) || json_is_string(v);
}

/* An optional boolean: false when absent. */
static bool opt_bool(const json_t *a, const char *k, int *out)
{
	const json_t *v = json_object_get(a, k);

	*out = json_is_true(v);
	return !v || json_is_boolean(v);
}

static const char *req_str(const json_t *a, const char *k, size_t max, bool empty_ok)
{
	const char *v = json_string_value(json_object_get(a, k));

	return text_ok(v, max, empty_ok) ? v : NULL;
}

/* Reads one access into x; NULL when it is good, else the field at fault. */
static const char *parse_access(const json_t *a, int64_t now_ms, struct access *x)
{
	const json_t *v, *subj;
	size_t i;

	memset(x, 0, sizeof *x);
	if (!json_is_object(a))
		return "the access (not an object)";
	v = json_object_get(a, "seq");
	if (!json_is_integer(v) || json_integer_value(v) < 1)
		return "seq";
	x->seq = (int64_t)json_integer_value(v);
	v = json_object_get(a, "time_ms");
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > now_ms + FUTURE_SKEW_MS)
		return "time_ms";
	x->time_ms = (int64_t)json_integer_value(v);
	if (!(x->message_id = req_str(a, "message_id", 256, false)))
		return "message_id";
	if (!(x->client = req_str(a, "client", NDX_ID_TEXT_MAX - 1, false)) ||
	    !member_of(x->client, x->member))
		return "client";
	if (!(x->service = req_str(a, "service", NDX_ID_TEXT_MAX - 1, false)))
		return "service";
	if (!(x->method = req_str(a, "method", 16, false)))
		return "method";
	if (!(x->purpose = req_str(a, "purpose", TEXT_MAX, true)))
		return "purpose";
	v = json_object_get(a, "status");
	if (!json_is_integer(v) || json_integer_value(v) < 100 || json_integer_value(v) > 599)
		return "status";
	x->status = (int64_t)json_integer_value(v);
	if (!opt_text(a, "error_type", &x->error_type) || !text_ok(x->error_type, 256, true))
		return "error_type";
	if (!opt_text(a, "user_id", &x->user_id) || !text_ok(x->user_id, 256, true))
		return "user_id";
	if (!opt_text(a, "issue", &x->issue) || !text_ok(x->issue, TEXT_MAX, true))
		return "issue";
	if (!opt_bool(a, "own", &x->own))
		return "own";
	if (!opt_bool(a, "event", &x->event))
		return "event";
	if (!opt_bool(a, "consent", &x->consent))
		return "consent";
	x->subjects = json_object_get(a, "subjects");
	if (!json_is_array(x->subjects) || json_array_size(x->subjects) > SUBJECTS_MAX)
		return "subjects";
	json_array_foreach(x->subjects, i, subj)
		if (!is_pin(json_string_value(subj)))
			return "subjects (each a personal identification number)";
	return NULL;
}

static int insert_access(struct ndx_sqldb *db, const char *gateway, const struct access *x,
			 size_t *added)
{
	const json_t *v;
	json_t *row = NULL;
	int64_t id;
	size_t i;
	int rc;

	rc = ndx_sqldb_query_one(db, &row,
				 "INSERT INTO reads(gateway, seq, time_ms, message_id, client,"
				 " client_member, service, method, purpose, status, user_id, issue, own,"
				 " event, consent, error_type) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
				 " ?, ?, ?, ?, ?) ON CONFLICT(gateway, seq) DO NOTHING RETURNING id",
				 "siissssssissiiis", gateway, x->seq, x->time_ms, x->message_id,
				 x->client, x->member, x->service, x->method, x->purpose, x->status,
				 x->user_id, x->issue, (int64_t)x->own, (int64_t)x->event,
				 (int64_t)x->consent, x->error_type);
	if (rc == NDX_ENOTFOUND)
		return NDX_OK; /* held already: its subjects too */
	if (rc)
		return rc;
	id = ndx_sqldb_int(row, "id");
	json_decref(row);
	json_array_foreach(x->subjects, i, v)
		if ((rc = ndx_sqldb_exec(db, "INSERT INTO read_subjects(read_id, subject)"
					     " VALUES(?, ?) ON CONFLICT DO NOTHING",
					 "is", id, json_string_value(v))))
			return rc;
	(*added)++;
	return NDX_OK;
}

int mreads_add_page(struct mstore *st, const char *gateway, const json_t *accesses,
		    int64_t next_after, int64_t now_ms, size_t *added, size_t *bad)
{
	const json_t *a;
	struct access x;
	int64_t seen = next_after > 0 ? next_after : 0;
	struct ndx_sqldb *db;
	size_t i;
	int rc;

	*added = *bad = 0;
	db = mstore_lock(st);
	if ((rc = db->ops->begin(db)))
		goto out;
	json_array_foreach(accesses, i, a) {
		const char *field;

		if (rc)
			break;
		if (json_is_integer(json_object_get(a, "seq")) &&
		    json_integer_value(json_object_get(a, "seq")) > seen)
			seen = (int64_t)json_integer_value(json_object_get(a, "seq"));
		if ((field = parse_access(a, now_ms, &x))) {
			/* the field's name and the gateway only: an access
			 * carries personal numbers */
			fprintf(stderr, PROG ": access refused from %s: %s\n", gateway, field);
			(*bad)++;
			continue;
		}
		rc = insert_access(db, gateway, &x, added);
	}
	if (!rc)
		rc = ndx_sqldb_exec(db, "INSERT INTO access_cursors(gateway, after) VALUES(?1, ?2)"
					" ON CONFLICT(gateway) DO UPDATE SET after = CASE WHEN"
					" access_cursors.after > ?2 THEN access_cursors.after"
					" ELSE ?2 END",
				    "si", gateway, seen);
	if (!rc)
		rc = db->ops->commit(db);
	if (rc) {
		db->ops->rollback(db);
		*added = 0;
	}
out:
	mstore_unlock(st);
	return rc;
}

/* ---- procedures -------------------------------------------------------------------- */

/* The earliest time a procedure may carry: 2000-01-01 (a number of seconds
 * sent for milliseconds lands before it). */
#define EPOCH_2000_MS 946684800000LL

const char *mreads_procedure_refusal(const json_t *p, int64_t now_ms)
{
	const char *agency = json_string_value(json_object_get(p, "agency"));
	const json_t *o = json_object_get(p, "opened_ms"), *c = json_object_get(p, "closed_ms");
	struct ndx_id id;

	if (!json_is_object(p))
		return "procedure: a JSON object";
	if (!text_ok(json_string_value(json_object_get(p, "id")), REF_MAX, false))
		return "id: 1 to 128 bytes of text";
	if (!text_ok(json_string_value(json_object_get(p, "kind")), TEXT_MAX, false))
		return "kind: 1 to 1000 bytes of text";
	if (!is_pin(json_string_value(json_object_get(p, "subject"))))
		return "subject: a personal identification number (12 digits)";
	if (!agency || ndx_id_parse(agency, strlen(agency), NDX_ID_MEMBER, &id, NULL) != NDX_OK)
		return "agency: a member id (VN/GOV/BCA)";
	if (!json_is_integer(o) || json_integer_value(o) < EPOCH_2000_MS ||
	    json_integer_value(o) > now_ms + FUTURE_SKEW_MS)
		return "opened_ms: Unix milliseconds, after 2000 and not in the future";
	if (c && !json_is_null(c) &&
	    (!json_is_integer(c) || json_integer_value(c) < json_integer_value(o) ||
	     json_integer_value(c) > now_ms + FUTURE_SKEW_MS))
		return "closed_ms: null, or Unix milliseconds from opened_ms to now";
	return NULL;
}

int mreads_procedures_upsert(struct mstore *st, const json_t *list, int64_t now_ms)
{
	const json_t *p;
	struct ndx_sqldb *db;
	size_t i;
	int rc;

	json_array_foreach(list, i, p)
		if (mreads_procedure_refusal(p, now_ms))
			return NDX_EINVAL;
	db = mstore_lock(st);
	if ((rc = db->ops->begin(db)))
		goto out;
	json_array_foreach(list, i, p) {
		const char *agency = json_string_value(json_object_get(p, "agency"));
		const json_t *c = json_object_get(p, "closed_ms");
		char canon[NDX_ID_TEXT_MAX], closed[24];
		struct ndx_id id;

		if (ndx_id_parse(agency, strlen(agency), NDX_ID_MEMBER, &id, NULL) != NDX_OK ||
		    ndx_id_format(&id, canon, sizeof canon) < 0) {
			rc = NDX_EINVAL;
			break;
		}
		if (json_is_integer(c))
			snprintf(closed, sizeof closed, "%lld", (long long)json_integer_value(c));
		/* closed_ms bound as text (null or the number) and cast */
		if ((rc = ndx_sqldb_exec(
			     db,
			     "INSERT INTO procedures(id, kind, subject, agency, opened_ms, closed_ms)"
			     " VALUES(?1, ?2, ?3, ?4, ?5, CAST(?6 AS BIGINT))"
			     " ON CONFLICT(id) DO UPDATE SET kind = ?2, subject = ?3, agency = ?4,"
			     " opened_ms = ?5, closed_ms = CAST(?6 AS BIGINT)",
			     "ssssis", json_string_value(json_object_get(p, "id")),
			     json_string_value(json_object_get(p, "kind")),
			     json_string_value(json_object_get(p, "subject")), canon,
			     (int64_t)json_integer_value(json_object_get(p, "opened_ms")),
			     json_is_integer(c) ? closed : NULL)))
			break;
	}
	if (!rc)
		rc = db->ops->commit(db);
	if (rc)
		db->ops->rollback(db);
out:
	mstore_unlock(st);
	return rc;
}

/* ---- mandates ------------------------------------------------------------------------ */

static bool canon_id(const char *text, enum ndx_id_kind lo, enum ndx_id_kind hi,
		     char out[NDX_ID_TEXT_MAX])
{
	struct ndx_id id;

	for (int k = hi; text && k >= (int)lo; k--)
		if (ndx_id_parse(text, strlen(text), (enum ndx_id_kind)k, &id, NULL) == NDX_OK &&
		    ndx_id_format(&id, out, NDX_ID_TEXT_MAX) >= 0)
			return true;
	return false;
}

int mreads_mandate_add(struct mstore *st, const char *client, const char *service,
		       const char *purpose, const char *basis, int64_t now_ms, int64_t *id,
		       const char **why)
{
	char cl[NDX_ID_TEXT_MAX], sv[NDX_ID_TEXT_MAX];
	struct ndx_sqldb *db;
	json_t *row = NULL;
	int rc;

	*id = 0;
	*why = NULL;
	if (!canon_id(client, NDX_ID_MEMBER, NDX_ID_SUBSYSTEM, cl))
		*why = "client: a member or subsystem id (VN/GOV/MOF/tax)";
	else if (!canon_id(service, NDX_ID_SERVICE, NDX_ID_SERVICE, sv))
		*why = "service: a service id (VN/GOV/BCA/population/citizens)";
	else if (!text_ok(purpose, TEXT_MAX, false))
		*why = "purpose: 1 to 1000 bytes of text";
	else if (!text_ok(basis, TEXT_MAX, false))
		*why = "basis: the legal basis, 1 to 1000 bytes of text";
	if (*why)
		return NDX_EINVAL;
	db = mstore_lock(st);
	rc = ndx_sqldb_query_one(db, &row,
				 "INSERT INTO mandates(client, service, purpose, basis, created_ms)"
				 " VALUES(?, ?, ?, ?, ?) RETURNING id",
				 "ssssi", cl, sv, purpose, basis, now_ms);
	mstore_unlock(st);
	if (!rc)
		*id = ndx_sqldb_int(row, "id");
	json_decref(row);
	return rc;
}

int mreads_mandates(struct mstore *st, json_t **out)
{
	struct ndx_sqldb *db = mstore_lock(st);
	json_t *list = NULL;
	int rc;

	*out = NULL;
	rc = ndx_sqldb_query(db, &list, "SELECT id, client, service, purpose, basis, created_ms"
					" FROM mandates ORDER BY id", "");
	mstore_unlock(st);
	if (rc)
		return rc;
	return (*out = json_pack("{s:o}", "mandates", list)) ? NDX_OK : NDX_ENOMEM;
}

int mreads_mandate_remove(struct mstore *st, int64_t id)
{
	struct ndx_sqldb *db = mstore_lock(st);
	int rc = ndx_sqldb_change(db, "DELETE FROM mandates WHERE id = ?", "i", id);

	mstore_unlock(st);
	return rc;
}

/* ---- retention -------------------------------------------------------------------- */

/* The reads made before ?1 that no finding names; the newest read stays:
 * without it SQLite would give its id to the next read, which the detector
 * (misuse_state: the last id analysed) would skip. */
#define PRUNABLE                                                                         \
	"SELECT id FROM reads WHERE time_ms < ?1 AND id NOT IN"                          \
	" (SELECT read_id FROM finding_reads) AND id < (SELECT MAX(id) FROM reads)"

int mreads_prune(struct mstore *st, int64_t cutoff_ms, uint64_t *deleted)
{
	struct ndx_sqldb *db = mstore_lock(st);
	int64_t n = 0;
	int rc;

	*deleted = 0;
	/* The subjects and explanations first, while their reads still say
	 * which they are; in one transaction, so that the three statements
	 * see the same reads. */
	if ((rc = db->ops->begin(db)))
		goto out;
	if (!(rc = ndx_sqldb_exec(db, "DELETE FROM read_subjects WHERE read_id IN (" PRUNABLE ")",
				  "i", cutoff_ms)) &&
	    !(rc = ndx_sqldb_exec(db, "DELETE FROM explanations WHERE read_id IN (" PRUNABLE ")",
				  "i", cutoff_ms)))
		rc = mstore_changes(db, &n, "DELETE FROM reads WHERE id IN (" PRUNABLE ")", "i",
					cutoff_ms);
	if (!rc)
		rc = db->ops->commit(db);
	if (rc)
		db->ops->rollback(db);
	else
		*deleted = (uint64_t)n;
out:
	mstore_unlock(st);
	return rc;
}
