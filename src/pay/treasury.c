/* The State Treasury's payment platform (treasury.h): orders, signed bank
 * receipts and the day's reconciliation, in one SQLite file. A receipt is
 * a JWS (EdDSA) whose "kid" is the paying bank's BIN: it is applied only
 * when that bank's configured key verifies it, its amount is the order's
 * and its reference an open order's; the same receipt again changes
 * nothing. Overview: docs/payment.md. */
#include "treasury.h"

#include <jansson.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ndx/encode.h"
#include "ndx/err.h"
#include "ndx/pin.h"
#include "ndx/receipt.h"
#include "ndx/text.h"
#include "ndx/timefmt.h"
#include "ndx/vietqr.h"

#define ID_HEX 32
#define PROC_ID_MAX 64

struct treasury {
	const struct treasury_config *cfg;
	sqlite3 *db;
	pthread_mutex_t mu;
};

static const char SCHEMA[] =
	"PRAGMA journal_mode=WAL;"
	"CREATE TABLE IF NOT EXISTS orders("
	" id TEXT PRIMARY KEY, reference TEXT NOT NULL UNIQUE,"
	" procedure_id TEXT NOT NULL UNIQUE, agency TEXT NOT NULL, payer TEXT NOT NULL,"
	" amount INTEGER NOT NULL, status TEXT NOT NULL, created_at INTEGER NOT NULL,"
	" paid_at INTEGER, paid_day TEXT, bank_bin TEXT, txn_id TEXT,"
	" closed_at INTEGER, refund_day TEXT, close_reason TEXT,"
	" UNIQUE(bank_bin, txn_id));"
	"CREATE INDEX IF NOT EXISTS orders_day ON orders(paid_day, agency);"
	"CREATE INDEX IF NOT EXISTS orders_refund_day ON orders(refund_day, agency);";

int treasury_open(const struct treasury_config *cfg, struct treasury **out)
{
	struct treasury *t = calloc(1, sizeof *t);
	char *err = NULL;

	*out = NULL;
	if (!t)
		return NDX_ENOMEM;
	t->cfg = cfg;
	if (sqlite3_open_v2(cfg->db_path, &t->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
			    NULL) != SQLITE_OK ||
	    sqlite3_exec(t->db, SCHEMA, NULL, NULL, &err) != SQLITE_OK) {
		fprintf(stderr, "ndx-pay: %s: %s\n", cfg->db_path,
			err ? err : sqlite3_errmsg(t->db));
		sqlite3_free(err);
		sqlite3_close(t->db);
		free(t);
		return NDX_EDB;
	}
	sqlite3_busy_timeout(t->db, 5000);
	pthread_mutex_init(&t->mu, NULL);
	*out = t;
	return NDX_OK;
}

void treasury_close(struct treasury *t)
{
	if (!t)
		return;
	sqlite3_close(t->db);
	pthread_mutex_destroy(&t->mu);
	free(t);
}

/* ---- answers ------------------------------------------------------------------ */

static void refuse(struct ndx_http_resp *resp, int status, const char *code, const char *msg)
{
	fprintf(stderr, "ndx-pay: treasury: refused %d %s: %s\n", status, code, msg);
	/* An error is about nobody (docs/protocol.md "Data subjects"). */
	ndx_http_resp_header(resp, "Ndx-Data-Subjects", "none");
	ndx_http_resp_json(resp, status, json_pack("{s:s,s:s}", "error", code, "message", msg));
}

static const char *col(sqlite3_stmt *q, int i)
{
	const unsigned char *s = sqlite3_column_text(q, i);
	return s ? (const char *)s : "";
}

#define ORDER_COLS "id, reference, procedure_id, agency, payer, amount, status, created_at," \
		   " paid_at, bank_bin, txn_id"

/* The order of row q (ORDER_COLS), with how to pay it: the collection
 * account and the VietQR payload of exactly this order. */
static json_t *order_json(const struct treasury *t, sqlite3_stmt *q)
{
	struct ndx_vietqr v = { .amount_vnd = (uint64_t)sqlite3_column_int64(q, 5) };
	char payload[NDX_VIETQR_PAYLOAD_MAX + 1] = "", created[NDX_TIME_TEXT_LEN], paid[NDX_TIME_TEXT_LEN];

	snprintf(v.bin, sizeof v.bin, "%s", t->cfg->bin);
	snprintf(v.account, sizeof v.account, "%s", t->cfg->account);
	snprintf(v.reference, sizeof v.reference, "%s", col(q, 1));
	if (ndx_vietqr_encode(&v, payload, sizeof payload, NULL) != NDX_OK)
		return NULL;
	ndx_time_format((time_t)sqlite3_column_int64(q, 7), created);
	json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:I,s:s,s:s,s:s,s:s,s:s,s:s}", "id", col(q, 0),
			      "reference", col(q, 1), "procedure_id", col(q, 2), "agency", col(q, 3),
			      "amount_vnd", (json_int_t)sqlite3_column_int64(q, 5), "status", col(q, 6),
			      "created_at", created, "bin", t->cfg->bin, "account", t->cfg->account,
			      "account_name", t->cfg->account_name, "vietqr", payload);
	if (o && sqlite3_column_type(q, 8) != SQLITE_NULL) {
		ndx_time_format((time_t)sqlite3_column_int64(q, 8), paid);
		json_object_set_new(o, "paid_at", json_string(paid));
		json_object_set_new(o, "paid_by_bank", json_string(col(q, 9)));
	}
	return o;
}

/* The order whose column key equals value: 1 and *out, 0 when none, -1 on
 * a database error. */
static int order_find(struct treasury *t, const char *key, const char *value, json_t **out,
		      char payer[NDX_PIN_LEN + 1])
{
	char sql[160];
	sqlite3_stmt *q = NULL;
	int rc;

	*out = NULL;
	snprintf(sql, sizeof sql, "SELECT " ORDER_COLS " FROM orders WHERE %s = ?", key);
	if (sqlite3_prepare_v2(t->db, sql, -1, &q, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(q, 1, value, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		if (payer)
			snprintf(payer, NDX_PIN_LEN + 1, "%s", col(q, 4));
		*out = order_json(t, q);
		rc = *out ? 1 : -1;
	} else {
		rc = rc == SQLITE_DONE ? 0 : -1;
	}
	sqlite3_finalize(q);
	return rc;
}

/* The payer the request names (Ndx-Subject, which the portal's gateway
 * signed), or NULL when absent or not a personal number. */
static const char *payer_of(const struct ndx_http_req *req)
{
	const char *s = ndx_http_header(req, "Ndx-Subject");
	return s && ndx_pin_parse(s, 0, NULL, NULL) == NDX_OK ? s : NULL;
}

static void reply_order(struct ndx_http_resp *resp, int status, json_t *order, const char *payer)
{
	ndx_http_resp_header(resp, "Ndx-Data-Subjects", payer);
	ndx_http_resp_json(resp, status, order);
}

/* ---- POST /orders ------------------------------------------------------------- */

static int order_insert(struct treasury *t, const char *proc, const char *agency,
			const char *payer, json_int_t amount)
{
	unsigned char raw[ID_HEX / 2];
	char id[ID_HEX + 1], ref[NDX_VIETQR_REF_MAX + 1];
	sqlite3_stmt *q = NULL;
	int rc;

	if (RAND_bytes(raw, sizeof raw) != 1)
		return -1;
	ndx_hex_encode(raw, sizeof raw, id);
	/* "KB" and 23 upper-case hex digits of the id: what the payer's
	 * bank statement shows and the VietQR's purpose of transaction. */
	snprintf(ref, sizeof ref, "KB%.23s", id);
	for (char *c = ref; *c; c++)
		if (*c >= 'a' && *c <= 'f')
			*c = (char)(*c - 'a' + 'A');
	if (sqlite3_prepare_v2(t->db,
			       "INSERT INTO orders(id, reference, procedure_id, agency, payer, amount,"
			       " status, created_at) VALUES(?,?,?,?,?,?,'open',?)",
			       -1, &q, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, ref, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, proc, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, agency, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 5, payer, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 6, amount);
	sqlite3_bind_int64(q, 7, (sqlite3_int64)time(NULL));
	rc = sqlite3_step(q) == SQLITE_DONE ? 0 : -1;
	sqlite3_finalize(q);
	return rc;
}

/* An order for the fee of one procedure; asking again for the same
 * procedure answers the same order (the portal may ask once per page). */
static void post_order(struct treasury *t, const struct ndx_http_req *req,
		       struct ndx_http_resp *resp)
{
	const char *payer = payer_of(req);
	json_error_t jerr;
	json_t *body = req->body ? json_loadb((const char *)req->body, req->body_len,
					      JSON_REJECT_DUPLICATES, &jerr) : NULL;
	const char *proc = json_string_value(json_object_get(body, "procedure_id"));
	const char *agency = json_string_value(json_object_get(body, "agency"));
	json_t *amount = json_object_get(body, "amount_vnd"), *order = NULL;
	char have_payer[NDX_PIN_LEN + 1];
	int found;

	if (!payer) {
		json_decref(body);
		return refuse(resp, 400, "invalid", "Ndx-Subject must name the payer");
	}
	if (!ndx_text_is_token(proc, PROC_ID_MAX) || !ndx_text_is_token(agency, 64) || !json_is_integer(amount) ||
	    json_integer_value(amount) < 1 ||
	    (unsigned long long)json_integer_value(amount) > NDX_VIETQR_AMOUNT_MAX) {
		json_decref(body);
		return refuse(resp, 400, "invalid",
			      "expected {\"procedure_id\", \"agency\", \"amount_vnd\" (1 or more)}");
	}
	pthread_mutex_lock(&t->mu);
	found = order_find(t, "procedure_id", proc, &order, have_payer);
	if (found == 0 && order_insert(t, proc, agency, payer, json_integer_value(amount)) == 0)
		found = order_find(t, "procedure_id", proc, &order, have_payer) == 1 ? 2 : -1;
	pthread_mutex_unlock(&t->mu);
	if (found < 0) {
		json_decref(body);
		return refuse(resp, 500, "internal", "the order could not be stored");
	}
	if (strcmp(have_payer, payer) != 0 ||
	    json_integer_value(json_object_get(order, "amount_vnd")) != json_integer_value(amount) ||
	    strcmp(json_string_value(json_object_get(order, "agency")), agency) != 0) {
		json_decref(body);
		json_decref(order);
		return refuse(resp, 409, "conflict",
			      "this procedure has an order with another payer, agency or amount");
	}
	json_decref(body);
	reply_order(resp, found == 2 ? 201 : 200, order, payer);
}

/* GET /orders/{id}: only for its payer. */
static void get_order(struct treasury *t, const struct ndx_http_req *req, const char *id,
		      struct ndx_http_resp *resp)
{
	const char *payer = payer_of(req);
	char have[NDX_PIN_LEN + 1] = "";
	json_t *order = NULL;
	int found;

	if (!payer)
		return refuse(resp, 400, "invalid", "Ndx-Subject must name the payer");
	pthread_mutex_lock(&t->mu);
	found = order_find(t, "id", id, &order, have);
	pthread_mutex_unlock(&t->mu);
	if (found < 0)
		return refuse(resp, 500, "internal", "the order could not be read");
	if (found == 0 || strcmp(have, payer) != 0) {
		json_decref(order);
		return refuse(resp, 404, "not_found", "no such order for this payer");
	}
	reply_order(resp, 200, order, payer);
}

/* ---- POST /receipts ------------------------------------------------------------- */

/* The receipt's signature by the bank its kid names and its fields
 * (ndx/receipt.h): NDX_OK, or the refusal sent and logged. */
static int verify_receipt(struct treasury *t, const char *text, struct ndx_receipt *r,
			  struct ndx_http_resp *resp)
{
	char err[256];
	int rc = ndx_receipt_verify(text, strlen(text), t->cfg->banks, t->cfg->nbanks, r, err,
				    sizeof err);

	if (rc == NDX_OK)
		return 0;
	fprintf(stderr, "ndx-pay: treasury: receipt: %s\n", err);
	if (rc == NDX_EBADSIG)
		refuse(resp, 403, "forged", "the receipt is not signed by a member bank's key");
	else
		refuse(resp, 400, "invalid", err);
	return -1;
}

/* Marks the order paid; 1 done, 0 when it was no longer open, -1 error. */
static int mark_paid(struct treasury *t, const struct ndx_receipt *r)
{
	sqlite3_stmt *q = NULL;
	char day[NDX_VN_DATE_LEN];
	time_t now = time(NULL);
	int rc;

	ndx_time_vn_iso_date(now, day);
	if (sqlite3_prepare_v2(t->db,
			       "UPDATE orders SET status = 'paid', paid_at = ?, paid_day = ?,"
			       " bank_bin = ?, txn_id = ? WHERE reference = ? AND status = 'open'",
			       -1, &q, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(q, 1, (sqlite3_int64)now);
	sqlite3_bind_text(q, 2, day, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, r->bin, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, r->txn_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 5, r->reference, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE)
		return -1;
	return sqlite3_changes(t->db) == 1;
}

/* Applies a verified receipt under the lock: the answer's status and
 * code, and *order. */
static int apply_receipt(struct treasury *t, const struct ndx_receipt *r, json_t **order,
			 const char **code)
{
	char payer[NDX_PIN_LEN + 1];
	int found = order_find(t, "reference", r->reference, order, payer);

	*code = "internal";
	if (found < 0)
		return 500;
	*code = "not_found";
	if (found == 0)
		return 404;
	const char *status = json_string_value(json_object_get(*order, "status"));
	const char *by = json_string_value(json_object_get(*order, "paid_by_bank"));
	*code = "amount_mismatch";
	if (json_integer_value(json_object_get(*order, "amount_vnd")) != r->amount_vnd)
		return 409;
	if (strcmp(status, "paid") == 0) {
		/* The same receipt again (a retry, a replay) changes nothing;
		 * another transaction for a paid order is a second payment,
		 * for the bank to return. */
		sqlite3_stmt *q = NULL;
		int same = 0;
		if (sqlite3_prepare_v2(t->db, "SELECT 1 FROM orders WHERE reference = ? AND"
					      " bank_bin = ? AND txn_id = ?", -1, &q, NULL) != SQLITE_OK)
			return 500;
		sqlite3_bind_text(q, 1, r->reference, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 2, r->bin, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 3, r->txn_id, -1, SQLITE_STATIC);
		same = sqlite3_step(q) == SQLITE_ROW && by;
		sqlite3_finalize(q);
		*code = same ? "duplicate" : "already_paid";
		return same ? 200 : 409;
	}
	*code = "paid";
	int m = mark_paid(t, r);
	if (m < 0)
		return 500;
	if (m == 0) {
		/* Cancelled (its procedure was rejected before it was paid). */
		*code = "closed";
		return 409;
	}
	json_decref(*order);
	*order = NULL;
	return order_find(t, "reference", r->reference, order, NULL) == 1 ? 200 : 500;
}

static void post_receipt(struct treasury *t, const struct ndx_http_req *req,
			 struct ndx_http_resp *resp)
{
	json_error_t jerr;
	json_t *body = req->body ? json_loadb((const char *)req->body, req->body_len,
					      JSON_REJECT_DUPLICATES, &jerr) : NULL;
	const char *text = json_string_value(json_object_get(body, "receipt"));
	json_t *order = NULL;
	struct ndx_receipt r;
	const char *code;
	int status;

	if (!text) {
		json_decref(body);
		return refuse(resp, 400, "invalid", "expected {\"receipt\": JWS}");
	}
	if (verify_receipt(t, text, &r, resp)) {
		json_decref(body);
		return;
	}
	pthread_mutex_lock(&t->mu);
	status = apply_receipt(t, &r, &order, &code);
	pthread_mutex_unlock(&t->mu);
	if (status != 200) {
		json_decref(order);
		order = NULL;
		refuse(resp, status, code,
		       status == 404   ? "no order has this reference"
		       : status == 409 ? (strcmp(code, "amount_mismatch") == 0
						  ? "the amount paid is not the order's"
					  : strcmp(code, "closed") == 0
						  ? "the order was cancelled: its procedure was rejected"
						  : "the order was paid by another transaction")
				       : "the receipt could not be applied");
		goto out;
	}
	fprintf(stderr, "ndx-pay: treasury: receipt %s from bank %s for %s: %s\n", r.txn_id, r.bin,
		r.reference, code);
	ndx_http_resp_json(resp, 200, json_pack("{s:s,s:s,s:b}", "reference", r.reference,
						"status", "paid", "duplicate",
						strcmp(code, "duplicate") == 0));
	json_decref(order);
out:
	json_decref(body);
}

/* ---- POST /orders/refund ----------------------------------------------------------- */

/* Closes the order of a rejected procedure: a paid one is refunded to the
 * payer (status refunded, counted on the day's refunds), an open one
 * cancelled (status cancelled: a receipt for it is refused from then on).
 * Asking again changes nothing. */
static void post_refund(struct treasury *t, const struct ndx_http_req *req,
			struct ndx_http_resp *resp)
{
	const char *payer = payer_of(req);
	json_error_t jerr;
	json_t *body = req->body ? json_loadb((const char *)req->body, req->body_len,
					      JSON_REJECT_DUPLICATES, &jerr) : NULL;
	const char *proc = json_string_value(json_object_get(body, "procedure_id"));
	const char *reason = json_string_value(json_object_get(body, "reason"));
	char have[NDX_PIN_LEN + 1] = "", day[NDX_VN_DATE_LEN];
	json_t *order = NULL;
	sqlite3_stmt *q = NULL;
	time_t now = time(NULL);
	int found, rc = SQLITE_ERROR;

	if (!payer || !ndx_text_is_token(proc, PROC_ID_MAX) || (reason && strlen(reason) > 500)) {
		json_decref(body);
		return refuse(resp, 400, "invalid",
			      "expected {\"procedure_id\", \"reason\"?} and Ndx-Subject, the payer");
	}
	ndx_time_vn_iso_date(now, day);
	pthread_mutex_lock(&t->mu);
	found = order_find(t, "procedure_id", proc, &order, have);
	if (found == 1 && strcmp(have, payer) == 0 &&
	    sqlite3_prepare_v2(t->db,
			       "UPDATE orders SET status = CASE status WHEN 'paid' THEN 'refunded'"
			       " ELSE 'cancelled' END, closed_at = ?, close_reason = ?,"
			       " refund_day = CASE status WHEN 'paid' THEN ? END"
			       " WHERE procedure_id = ? AND status IN ('open', 'paid')",
			       -1, &q, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(q, 1, (sqlite3_int64)now);
		sqlite3_bind_text(q, 2, reason ? reason : "", -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 3, day, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 4, proc, -1, SQLITE_STATIC);
		rc = sqlite3_step(q);
		sqlite3_finalize(q);
		json_decref(order);
		order = NULL;
		if (rc == SQLITE_DONE && order_find(t, "procedure_id", proc, &order, NULL) != 1)
			rc = SQLITE_ERROR;
	}
	pthread_mutex_unlock(&t->mu);
	if (found < 0 || (found == 1 && strcmp(have, payer) == 0 && rc != SQLITE_DONE)) {
		refuse(resp, 500, "internal", "the order could not be closed");
	} else if (found == 0 || strcmp(have, payer) != 0) {
		refuse(resp, 404, "not_found", "no order of this procedure for this payer");
	} else {
		/* proc lives in body: logged before body goes. */
		fprintf(stderr, "ndx-pay: treasury: order of %s %s\n", proc,
			json_string_value(json_object_get(order, "status")));
		reply_order(resp, 200, order, payer);
		order = NULL; /* the answer took it */
	}
	json_decref(order);
	json_decref(body);
}

/* ---- GET /reconciliation?date=YYYY-MM-DD ---------------------------------------------- */

static void get_reconciliation(struct treasury *t, const struct ndx_http_req *req,
			       struct ndx_http_resp *resp)
{
	const char *date = ndx_http_query_arg(req, "date");
	char today[NDX_VN_DATE_LEN], probe[40];
	time_t when;
	sqlite3_stmt *q = NULL;
	json_t *rows = json_array();

	if (!date) {
		ndx_time_vn_iso_date(time(NULL), today);
		date = today;
	}
	snprintf(probe, sizeof probe, "%.10sT00:00:00Z", date);
	if (strlen(date) != 10 || ndx_time_parse(probe, &when) != NDX_OK) {
		json_decref(rows);
		return refuse(resp, 400, "invalid", "date must be YYYY-MM-DD");
	}
	pthread_mutex_lock(&t->mu);
	/* Money in on the day it was paid, money back on the day it was
	 * refunded: the two sides of the agency's account for that day. */
	int rc = sqlite3_prepare_v2(t->db,
				    "SELECT agency, SUM(paid_day IS ?1),"
				    " SUM(CASE WHEN paid_day IS ?1 THEN amount ELSE 0 END),"
				    " SUM(refund_day IS ?1),"
				    " SUM(CASE WHEN refund_day IS ?1 THEN amount ELSE 0 END)"
				    " FROM orders WHERE paid_day = ?1 OR refund_day = ?1"
				    " GROUP BY agency ORDER BY agency", -1, &q, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(q, 1, date, -1, SQLITE_STATIC);
		while ((rc = sqlite3_step(q)) == SQLITE_ROW)
			json_array_append_new(rows, json_pack("{s:s,s:I,s:I,s:I,s:I,s:I}", "agency",
				col(q, 0), "payments", (json_int_t)sqlite3_column_int64(q, 1),
				"total_vnd", (json_int_t)sqlite3_column_int64(q, 2),
				"refunds", (json_int_t)sqlite3_column_int64(q, 3),
				"refunded_vnd", (json_int_t)sqlite3_column_int64(q, 4),
				"net_vnd", (json_int_t)(sqlite3_column_int64(q, 2) -
							sqlite3_column_int64(q, 4))));
	}
	sqlite3_finalize(q);
	pthread_mutex_unlock(&t->mu);
	if (rc != SQLITE_DONE) {
		json_decref(rows);
		return refuse(resp, 500, "internal", "the day could not be read");
	}
	ndx_http_resp_json(resp, 200, json_pack("{s:s,s:o}", "date", date, "agencies", rows));
}

/* The order id of a path /orders/{ID_HEX lower-case hex digits}, or NULL.
 * Read character by character: GCC -O2 with ASan took path + 8 for a
 * pointer past a string literal and refused strlen and strspn on it
 * (-Wstringop-overread). */
static const char *order_id_of(const char *path)
{
	if (strncmp(path, "/orders/", 8) != 0)
		return NULL;
	for (size_t i = 0; i < ID_HEX; i++) {
		char c = path[8 + i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return NULL;
	}
	return path[8 + ID_HEX] == '\0' ? path + 8 : NULL;
}

void treasury_handle(void *ctx, const struct ndx_http_req *req, struct ndx_http_resp *resp)
{
	struct treasury *t = ctx;
	const char *m = req->method, *path = req->path, *id;

	if (strcmp(path, "/healthz") == 0)
		return ndx_http_resp_json(resp, 200, json_pack("{s:s}", "status", "ok"));
	if (strcmp(path, "/orders") == 0)
		return strcmp(m, "POST") == 0 ? post_order(t, req, resp)
					      : refuse(resp, 405, "method", "POST only");
	if (strcmp(path, "/orders/refund") == 0)
		return strcmp(m, "POST") == 0 ? post_refund(t, req, resp)
					      : refuse(resp, 405, "method", "POST only");
	if ((id = order_id_of(path)))
		return strcmp(m, "GET") == 0 ? get_order(t, req, id, resp)
					     : refuse(resp, 405, "method", "GET only");
	if (strcmp(path, "/receipts") == 0)
		return strcmp(m, "POST") == 0 ? post_receipt(t, req, resp)
					      : refuse(resp, 405, "method", "POST only");
	if (strcmp(path, "/reconciliation") == 0)
		return strcmp(m, "GET") == 0 ? get_reconciliation(t, req, resp)
					     : refuse(resp, 405, "method", "GET only");
	refuse(resp, 404, "not_found", "no such resource");
}
