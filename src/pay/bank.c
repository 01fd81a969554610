/* The demo bank's pages and receipts (bank.h). The page is what a bank
 * app shows after scanning a VietQR code: the beneficiary, the amount and
 * the reference, read from the payload itself (ndx/vietqr.h), which is
 * refused when its CRC or fields are wrong. Confirming signs a receipt
 * {reference, amount_vnd, bank_bin, txn_id, paid_at} as a JWS whose kid
 * is the bank's BIN and posts it to the treasury's receipts service
 * through the bank's gateway; or, for a marketplace invoice (its reference
 * starts "MK"), to the registry's POST /market/receipts, which clears
 * invoices between members (docs/marketplace.md "Invoices and clearing").
 * Overview: docs/payment.md. */
#include "bank.h"

#include <jansson.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ndx/buf.h"
#include "ndx/encode.h"
#include "ndx/err.h"
#include "ndx/fetch.h"
#include "ndx/jws.h"
#include "ndx/timefmt.h"
#include "ndx/usage.h"
#include "ndx/vietqr.h"

#define PAGE_MAX (64u * 1024u)

static const char STYLE[] =
	"body{font-family:system-ui,sans-serif;margin:0;background:#f3f2f1;color:#0b0c0c}"
	"header{background:#00703c;color:#fff;padding:12px 16px;font-weight:700}"
	"main{max-width:34rem;margin:0 auto;padding:16px}"
	"dl{display:grid;grid-template-columns:minmax(7rem,auto) 1fr;gap:8px 12px;"
	"background:#fff;padding:16px;overflow-wrap:anywhere}"
	"dt{font-weight:700}dd{margin:0}"
	"button{font-size:1.1rem;padding:10px 18px;background:#00703c;color:#fff;border:0;"
	"border-radius:4px;cursor:pointer}"
	"a{color:#1d70b8}.error{border-left:5px solid #d4351c;padding-left:12px}"
	".ok{border-left:5px solid #00703c;padding-left:12px}";

/* Appends s HTML-escaped. */
static int put_html(struct ndx_buf *b, const char *s)
{
	int rc = NDX_OK;
	for (; *s && rc == NDX_OK; s++) {
		switch (*s) {
		case '<': rc = ndx_buf_append_str(b, "&lt;"); break;
		case '>': rc = ndx_buf_append_str(b, "&gt;"); break;
		case '&': rc = ndx_buf_append_str(b, "&amp;"); break;
		case '"': rc = ndx_buf_append_str(b, "&quot;"); break;
		case '\'': rc = ndx_buf_append_str(b, "&#39;"); break;
		default: rc = ndx_buf_append(b, s, 1);
		}
	}
	return rc;
}

/* Text and values alternate: text parts are appended as they are, value
 * parts escaped; the list ends with NULL. */
static int put_parts(struct ndx_buf *b, const char *const *parts)
{
	int rc = NDX_OK;
	for (size_t i = 0; parts[i] && rc == NDX_OK; i++)
		rc = i % 2 ? put_html(b, parts[i]) : ndx_buf_append_str(b, parts[i]);
	return rc;
}

/* Vietnamese grouping: 100000 -> "100.000". */
static void vnd(uint64_t v, char out[32])
{
	char digits[24];
	int n = snprintf(digits, sizeof digits, "%llu", (unsigned long long)v), o = 0;
	for (int i = 0; i < n; i++) {
		if (i && (n - i) % 3 == 0)
			out[o++] = '.';
		out[o++] = digits[i];
	}
	out[o] = '\0';
}

static void send_page(struct ndx_http_resp *resp, int status, const struct bank_config *c,
		      const char *title, const char *const *body)
{
	struct ndx_buf b = NDX_BUF_INIT(PAGE_MAX);
	const char *head[] = { "<!doctype html><html lang=\"vi\"><head><meta charset=\"utf-8\">"
			       "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
			       "<title>", title, " — ", c->name, "</title><style>", NULL };
	int rc = put_parts(&b, head);
	if (rc == NDX_OK)
		rc = ndx_buf_append_str(&b, STYLE);
	const char *top[] = { "</style></head><body><header>", c->name, "</header><main><h1>",
			      title, "</h1>", NULL };
	if (rc == NDX_OK)
		rc = put_parts(&b, top);
	if (rc == NDX_OK)
		rc = put_parts(&b, body);
	if (rc == NDX_OK)
		rc = ndx_buf_append_str(&b, "</main></body></html>");
	if (rc != NDX_OK) {
		ndx_buf_free(&b);
		ndx_http_resp_error(resp, 500, "Server.Internal", "page too large", NULL);
		return;
	}
	ndx_http_resp_header(resp, "Cache-Control", "no-store");
	ndx_http_resp_header(resp, "Content-Security-Policy",
			     "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'");
	ndx_http_resp_bytes(resp, status, "text/html; charset=utf-8", b.data, b.len);
	ndx_buf_free(&b);
}

/* The return link the portal passed (an http(s) URL), or NULL. */
static const char *return_url(const struct ndx_http_req *req)
{
	const char *r = ndx_http_query_arg(req, "return");
	if (r && (strncmp(r, "http://", 7) == 0 || strncmp(r, "https://", 8) == 0) &&
	    strlen(r) < 512 && !strpbrk(r, "\"<>'\r\n "))
		return r;
	return NULL;
}

static void bad_code(struct ndx_http_resp *resp, const struct bank_config *c, const char *why)
{
	fprintf(stderr, "ndx-pay: bank: refused a payment code: %s\n", why);
	const char *body[] = { "<div class=\"error\"><p>Mã QR này không phải mã VietQR hợp lệ, "
			       "không có giao dịch nào được thực hiện.</p><p lang=\"en\">This is not a "
			       "valid VietQR code; nothing was paid.</p><p>", why, "</p></div>", NULL };
	send_page(resp, 400, c, "Mã thanh toán không hợp lệ", body);
}

static void confirm_page(const struct bank_config *c, const struct ndx_http_req *req,
			 const struct ndx_vietqr *q, struct ndx_http_resp *resp)
{
	char amount[40], *qr = ndx_fetch_escape(ndx_http_query_arg(req, "qr"));
	const char *ret = return_url(req);
	char *retq = ret ? ndx_fetch_escape(ret) : NULL;

	if (!qr || (ret && !retq)) {
		free(qr);
		free(retq);
		return ndx_http_resp_error(resp, 500, "Server.Internal", "out of memory", NULL);
	}
	char digits[32];
	vnd(q->amount_vnd, digits);
	snprintf(amount, sizeof amount, "%s ₫", digits);
	/* Text and (escaped) values alternate: see put_parts. */
	const char *body[] = {
		"<p>Kiểm tra giao dịch rồi xác nhận.</p><dl><dt>Người nhận</dt><dd>Tài khoản ",
		q->account, " (ngân hàng ", q->bin, ")</dd><dt>Số tiền</dt><dd id=\"amount\">",
		q->amount_vnd ? amount : "—", "</dd><dt>Nội dung</dt><dd id=\"reference\">",
		q->reference, "</dd><dt>Từ tài khoản</dt><dd>", c->customer_account,
		"</dd></dl><form method=\"post\" action=\"/pay?qr=", qr,
		retq ? "&amp;return=" : "", retq ? retq : "",
		"\"><p><button type=\"submit\">Xác nhận chuyển khoản</button></p></form>", NULL };
	send_page(resp, 200, c, "Xác nhận chuyển khoản", body);
	free(qr);
	free(retq);
}

/* The signed receipt of paying q, a new JWS string, or NULL. */
static char *sign_receipt(const struct bank_config *c, const struct ndx_vietqr *q,
			  char txn[33])
{
	unsigned char raw[16];
	char now[NDX_TIME_TEXT_LEN], header[128], *out = NULL;

	if (RAND_bytes(raw, sizeof raw) != 1)
		return NULL;
	ndx_hex_encode(raw, sizeof raw, txn);
	ndx_time_format(time(NULL), now);
	json_t *p = json_pack("{s:s,s:I,s:s,s:s,s:s,s:s}", "reference", q->reference,
			      "amount_vnd", (json_int_t)q->amount_vnd, "bank_bin", c->bin,
			      "txn_id", txn, "paid_at", now, "to_account", q->account);
	char *text = p ? json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(p);
	int n = snprintf(header, sizeof header,
			 "{\"alg\":\"EdDSA\",\"kid\":\"%s\",\"typ\":\"ndx-receipt\"}", c->bin);
	if (text && n > 0 && (size_t)n < sizeof header)
		ndx_jws_sign_header(c->key, header, (size_t)n, text, strlen(text), &out);
	free(text);
	return out;
}

/* Where a receipt goes: the treasury, through the bank's gateway, for a
 * fee's payment order; the registry, for a marketplace invoice. */
enum payee { TREASURY, REGISTRY };

/* A marketplace invoice's reference: "MK" and 23 upper-case hex digits
 * (ndx_usage_reference). The treasury's are "KB…". */
static enum payee payee_of(const char *reference)
{
	return strlen(reference) == NDX_USAGE_REF_LEN && strncmp(reference, "MK", 2) == 0
		       ? REGISTRY
		       : TREASURY;
}

/* Posts the receipt to the payee: the HTTP status (0: no answer) and the
 * refusal's code in code (the treasury's "error", the registry's
 * "message", or the gateway's X-Road error). */
static long send_receipt(const struct bank_config *c, enum payee to, const char *jws,
			 char code[32])
{
	char url[1024], client[256];
	const char *via_gateway[] = { client, "Content-Type: application/json", NULL };
	const char *direct[] = { "Content-Type: application/json", NULL };
	json_t *body = json_pack("{s:s}", "receipt", jws);
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	struct ndx_fetch_resp r = { 0 };
	long status = 0;

	json_decref(body);
	code[0] = '\0';
	if (to == REGISTRY)
		snprintf(url, sizeof url, "%s/market/receipts", c->registry);
	else
		snprintf(url, sizeof url, "%s/r1/%s", c->gateway, c->receipts_service);
	snprintf(client, sizeof client, "X-Road-Client: %s", c->client);
	struct ndx_fetch_req req = { .method = "POST", .url = url,
				     .headers = to == REGISTRY ? direct : via_gateway, .body = text,
				     .body_len = text ? strlen(text) : 0, .timeout_ms = 10000,
				     .max_body = 65536 };
	if (text && ndx_fetch(&req, &r) == NDX_OK) {
		status = r.status;
		json_t *ans = r.body ? json_loads(r.body, 0, NULL) : NULL;
		const char *e = json_string_value(json_object_get(ans, to == REGISTRY ? "message"
										       : "error"));
		snprintf(code, 32, "%.31s", e ? e : r.xroad_error);
		json_decref(ans);
	}
	ndx_fetch_resp_free(&r);
	free(text);
	return status;
}

/* Why the payee refused, in the customer's words. */
static const char *refusal(enum payee to, long status, const char *code)
{
	if (to == REGISTRY)
		return status == 409 && strcmp(code, "amount_mismatch") == 0
			       ? "Số tiền không đúng với hoá đơn."
		       : status == 409 ? "Hoá đơn này đã được trả bằng một giao dịch khác."
		       : status == 404 ? "Sàn giao dịch dữ liệu không có hoá đơn với nội dung này."
				       : "Sàn giao dịch dữ liệu chưa nhận được giao dịch; xin thử lại sau.";
	return status == 409 && strcmp(code, "amount_mismatch") == 0
		       ? "Số tiền không đúng với lệnh thu."
	       : status == 409 ? "Lệnh thu này đã được nộp bằng một giao dịch khác."
	       : status == 404 ? "Kho bạc không có lệnh thu với nội dung này."
			       : "Kho bạc chưa nhận được giao dịch; xin thử lại sau.";
}

static void pay(const struct bank_config *c, const struct ndx_http_req *req,
		const struct ndx_vietqr *q, struct ndx_http_resp *resp)
{
	char txn[33] = "", code[32] = "", amount[32];
	const char *ret = return_url(req);
	enum payee to;
	char *jws;
	long status;

	if (!q->amount_vnd || !q->reference[0])
		return bad_code(resp, c, "the code names no amount or no reference");
	to = payee_of(q->reference);
	if (to == REGISTRY && !c->registry) {
		fprintf(stderr, "ndx-pay: bank: refused %s: a marketplace invoice, and no --registry\n",
			q->reference);
		const char *body[] = { "<div class=\"error\" role=\"alert\"><p>Ngân hàng chưa "
				       "thanh toán hoá đơn của sàn giao dịch dữ liệu.</p><p>Không có "
				       "khoản tiền nào bị trừ.</p></div>",
				       NULL };
		return send_page(resp, 409, c, "Chưa chuyển khoản", body);
	}
	if (!(jws = sign_receipt(c, q, txn)))
		return ndx_http_resp_error(resp, 500, "Server.Internal", "could not sign", NULL);
	status = send_receipt(c, to, jws, code);
	free(jws);
	fprintf(stderr, "ndx-pay: bank: transfer %s for %s: %s answered %ld %s\n", txn,
		q->reference, to == REGISTRY ? "registry" : "treasury", status, code);
	vnd(q->amount_vnd, amount);
	if (status == 200) {
		/* Text and (escaped) values alternate: see put_parts. */
		const char *with_link[] = { "<div class=\"ok\" role=\"status\"><p>Đã chuyển ",
					    amount, " ₫. Mã giao dịch ", txn,
					    ".</p><p lang=\"en\">Paid.</p></div><p><a href=\"", ret,
					    "\">Quay lại Cổng dịch vụ công</a></p>", NULL };
		const char *without[] = { "<div class=\"ok\" role=\"status\"><p>Đã chuyển ", amount,
					  " ₫. Mã giao dịch ", txn,
					  ".</p><p lang=\"en\">Paid.</p></div>", NULL };
		return send_page(resp, 200, c, "Chuyển khoản thành công", ret ? with_link : without);
	}
	const char *body[] = { "<div class=\"error\" role=\"alert\"><p>", refusal(to, status, code),
			       "</p><p>Không có khoản tiền nào bị trừ.</p></div>", NULL };
	send_page(resp, status == 0 || status >= 500 ? 502 : 409, c, "Chưa chuyển khoản", body);
}

void bank_handle(void *ctx, const struct ndx_http_req *req, struct ndx_http_resp *resp)
{
	const struct bank_config *c = ctx;
	const char *qr, *why = NULL;
	struct ndx_vietqr q;

	if (strcmp(req->path, "/healthz") == 0)
		return ndx_http_resp_json(resp, 200, json_pack("{s:s}", "status", "ok"));
	if (strcmp(req->path, "/pay") != 0)
		return ndx_http_resp_error(resp, 404, "Client.NotFound", "no such page", NULL);
	if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "POST") != 0)
		return ndx_http_resp_error(resp, 405, "Client.MethodNotAllowed", "GET or POST", NULL);
	if (!(qr = ndx_http_query_arg(req, "qr")))
		return bad_code(resp, c, "no code was scanned (qr=)");
	if (ndx_vietqr_decode(qr, &q, &why) != NDX_OK)
		return bad_code(resp, c, why);
	if (strcmp(req->method, "GET") == 0)
		return confirm_page(c, req, &q, resp);
	pay(c, req, &q, resp);
}
