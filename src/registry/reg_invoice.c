/* The marketplace's clearing (reg_invoice.h, docs/marketplace.md
 * "Invoices and clearing"): invoices recorded from usage statements the
 * registry checks as `ndx market invoice` does, with the one invoice
 * computation of libndx (ndx_usage_invoice), and the member banks'
 * signed receipts (ndx/receipt.h, the treasury's verification) matched
 * back to them by their payment reference. */
#include "reg_invoice.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ndx/bearer.h"
#include "ndx/err.h"
#include "ndx/id.h"
#include "ndx/policy.h"
#include "ndx/usage.h"
#include "reg_market_store.h"
#include "reg_witness.h"

/* The account holder's name an invoice carries, at most (the statement
 * itself is bounded by the registry's --max-body). */
#define ACCOUNT_NAME_MAX 128

struct icall {
	struct store *st;
	const struct market_caller *who;
	const struct ndx_receipt_bank *banks;
	size_t nbanks;
	const struct ndx_http_req *req;
	struct ndx_http_resp *resp;
};

bool invoice_path(const char *p)
{
	return strcmp(p, "/market/invoices") == 0 || strncmp(p, "/market/invoices/", 17) == 0 ||
	       strcmp(p, "/market/receipts") == 0;
}

/* Answers an error and logs it on stderr: every refusal of clearing is
 * on the registry's log with its status and reason. */
static void refuse(struct icall *c, int status, const char *type, const char *message,
		   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void refuse(struct icall *c, int status, const char *type, const char *message,
		   const char *fmt, ...)
{
	char detail[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);
	fprintf(stderr, "ndx-registry: market: %s %s refused %d %s: %s\n", c->req->method,
		c->req->path, status, message, detail);
	ndx_http_resp_error(c->resp, status, type, message, detail);
}

/* 500; the log says at which step (line) it failed. */
#define internal(c) internal_at(c, __LINE__)
static void internal_at(struct icall *c, int line)
{
	fprintf(stderr, "ndx-registry: market: internal error at reg_invoice.c:%d\n", line);
	refuse(c, 500, "Server.Internal", "the store failed", "the change was rolled back");
}

static const char *actor(const struct icall *c)
{
	return c->who->name ? c->who->name : "anonymous";
}

/* The invoice as answered: the document, its state and its payment. */
static json_t *invoice_view(const json_t *row)
{
	json_t *v = json_deep_copy(json_object_get(row, "invoice"));
	json_t *paid = json_object_get(row, "paid_at");

	if (!v)
		return NULL;
	json_object_set_new(v, "status", json_string(json_is_string(paid) ? "paid" : "open"));
	json_object_set(v, "recorded_at", json_object_get(row, "created_at"));
	if (json_is_string(paid)) {
		json_object_set(v, "paid_at", paid);
		json_object_set(v, "paid_bank_bin", json_object_get(row, "paid_bank_bin"));
		json_object_set(v, "paid_txn_id", json_object_get(row, "paid_txn_id"));
	}
	return v;
}

static void answer_invoice(struct icall *c, int status, const json_t *row)
{
	json_t *v = invoice_view(row);

	if (!v)
		internal(c);
	else
		ndx_http_resp_json(c->resp, status, v);
}

/* ---- POST /market/invoices ----------------------------------------------------------- */

static const char *const INVOICE_KEYS[] = { "statement", "bin", "account", "account_name",
					     NULL };

/* The statement of the body, parsed: NDX_OK, or the refusal answered. */
static int body_statement(struct icall *c, const json_t *body, struct ndx_usage **u)
{
	const json_t *s = json_object_get(body, "statement");
	char *text = NULL, why[512];
	int rc;

	*u = NULL;
	if (json_is_string(s))
		text = strdup(json_string_value(s));
	else if (json_is_object(s))
		text = json_dumps(s, JSON_COMPACT);
	else {
		refuse(c, 400, "Client.InvalidRequest", "no statement",
		       "statement: expected the usage statement (an object, or its JSON text)");
		return NDX_EINVAL;
	}
	if (!text) {
		internal(c);
		return NDX_ENOMEM;
	}
	rc = ndx_usage_parse(text, strlen(text), u, why, sizeof why);
	free(text);
	if (rc != NDX_OK)
		refuse(c, 400, "Client.InvalidRequest", "statement refused", "%s", why);
	return rc;
}

/* Checks u against the agreement it names (the caller's, as provider),
 * its price and its signer's key, under the store lock: NDX_OK, or the
 * refusal answered. */
static int check_statement(struct icall *c, const struct ndx_usage *u)
{
	json_t *row = NULL;
	struct ndx_policy pol;
	struct ndx_key *key = NULL, *old = NULL;
	char kid[NDX_KEY_ID_HEX_LEN + 1], why[512], member[NDX_ID_TEXT_MAX];
	const char *state, *side_member, *slash = strrchr(u->gateway, '/');
	int64_t retired_ms = 0;
	int rc;

	store_lock(c->st);
	rc = mstore_agreement_get(c->st, u->agreement, &row);
	if (rc == NDX_ENOTFOUND ||
	    (rc == NDX_OK &&
	     strcmp(json_string_value(json_object_get(row, "provider")), c->who->member) != 0)) {
		refuse(c, 404, "Client.NotFound", "not found",
		       "no agreement %s of which you are the provider", u->agreement);
		rc = NDX_ENOTFOUND;
		goto out;
	}
	if (rc) {
		internal(c);
		goto out;
	}
	rc = NDX_EINVAL;
	state = json_string_value(json_object_get(row, "agreement_state"));
	if (!state) {
		refuse(c, 409, "Client.Conflict", "not agreed",
		       "the negotiation has not finalised agreement %s", u->agreement);
		goto out;
	}
	if (strcmp(json_string_value(json_object_get(row, "client")), u->client) != 0 ||
	    strcmp(json_string_value(json_object_get(row, "service")), u->service) != 0) {
		refuse(c, 400, "Client.InvalidRequest", "statement refused",
		       "agreement %s is %s calling %s, not %s calling %s", u->agreement,
		       json_string_value(json_object_get(row, "client")),
		       json_string_value(json_object_get(row, "service")), u->client, u->service);
		goto out;
	}
	if (ndx_policy_from_odrl(json_object_get(row, "agreement"), &pol, why, sizeof why)) {
		internal(c);
		goto out;
	}
	if (pol.price != u->price || pol.price_unit != u->unit) {
		refuse(c, 400, "Client.InvalidRequest", "statement refused",
		       "price %" PRId64 " VND (%s), but the agreement's is %" PRId64 " VND (%s)",
		       u->price, ndx_usage_unit_name(u->unit), pol.price,
		       ndx_usage_unit_name(pol.price_unit));
		goto out;
	}
	/* The signer is a gateway of the side it states. */
	side_member = json_string_value(
		json_object_get(row, u->side == NDX_MSGLOG_PROVIDER ? "provider" : "consumer"));
	snprintf(member, sizeof member, "%.*s", slash ? (int)(slash - u->gateway) : 0, u->gateway);
	if (strcmp(member, side_member) != 0) {
		refuse(c, 400, "Client.InvalidRequest", "statement refused",
		       "its signer %s is not a gateway of the %s of agreement %s", u->gateway,
		       u->side == NDX_MSGLOG_PROVIDER ? "provider" : "consumer", u->agreement);
		goto out;
	}
	rc = witness_gateway_key(c->st, u->gateway, &key, kid);
	if (rc == NDX_ENOTFOUND) {
		refuse(c, 400, "Client.InvalidRequest", "statement refused",
		       "its signer %s is not a registered gateway", u->gateway);
		goto out;
	}
	if (rc) {
		internal(c);
		goto out;
	}
	if (strcmp(kid, u->key_id) != 0) {
		/* Signed before a rotation took the key: that key, if the
		 * statement was made before it was replaced. */
		rc = witness_retired_key(c->st, u->gateway, u->key_id, &old, &retired_ms);
		if (rc == NDX_OK && u->made_ms >= retired_ms)
			rc = NDX_EPERM;
		if (rc == NDX_ENOTFOUND || rc == NDX_EPERM) {
			refuse(c, 400, "Client.InvalidRequest", "statement refused",
			       "it is signed with key %s, which is not gateway %s's (or was "
			       "replaced or revoked before the statement was made)", u->key_id,
			       u->gateway);
			goto out;
		}
		if (rc) {
			internal(c);
			goto out;
		}
	}
	rc = ndx_usage_check(u, old ? old : key, why, sizeof why);
	if (rc != NDX_OK)
		refuse(c, 400, "Client.InvalidRequest", "statement refused", "%s", why);
out:
	store_unlock(c->st);
	ndx_key_free(key);
	ndx_key_free(old);
	json_decref(row);
	return rc;
}

static void invoice_record(struct icall *c)
{
	json_t *body = NULL, *inv = NULL, *row = NULL, *detail = NULL;
	struct ndx_usage *u = NULL;
	const char *bin, *account, *name = NULL, *stray = NULL, *reference, *hash;
	char why[512], *text = NULL;
	const json_t *v;
	const char *k;
	int rc;

	if (!c->who->name) {
		ndx_bearer_refuse(c->resp, "a member credential is required", "ndx-registry");
		return;
	}
	if (!c->who->member) {
		refuse(c, 403, "Client.Forbidden", "not a seller",
		       "an invoice is recorded by its seller, with the member's credential");
		return;
	}
	if (c->req->body && c->req->body_len)
		body = json_loadb((const char *)c->req->body, c->req->body_len,
				  JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(body)) {
		refuse(c, 400, "Client.InvalidRequest", "malformed JSON",
		       "the body must be a JSON object");
		goto out;
	}
	json_object_foreach(body, k, v) {
		size_t i = 0;
		while (INVOICE_KEYS[i] && strcmp(INVOICE_KEYS[i], k) != 0)
			i++;
		if (!INVOICE_KEYS[i])
			stray = k;
	}
	bin = json_string_value(json_object_get(body, "bin"));
	account = json_string_value(json_object_get(body, "account"));
	v = json_object_get(body, "account_name");
	if (v && (!json_is_string(v) || json_string_length(v) > ACCOUNT_NAME_MAX))
		stray = "account_name";
	else
		name = json_string_value(v);
	if (stray || !bin || !account) {
		refuse(c, 400, "Client.InvalidRequest", "invalid invoice",
		       stray ? "%s: not a field of an invoice request, or not a string of at most "
			       "128 bytes"
			     : "%s: required (the seller's account: bin, the bank's 6-digit BIN, and "
			       "account)",
		       stray ? stray : !bin ? "bin" : "account");
		goto out;
	}
	if (body_statement(c, body, &u) || check_statement(c, u))
		goto out;
	rc = ndx_usage_invoice(u, bin, account, name, &inv, why, sizeof why);
	if (rc == NDX_EINVAL) {
		refuse(c, 400, "Client.InvalidRequest", "no invoice", "%s", why);
		goto out;
	}
	if (rc || !(text = json_dumps(inv, JSON_COMPACT | JSON_PRESERVE_ORDER))) {
		internal(c);
		goto out;
	}
	reference = json_string_value(json_object_get(inv, "reference"));
	hash = json_string_value(json_object_get(inv, "statement_hash"));
	if (store_begin(c->st)) {
		internal(c);
		goto out;
	}
	rc = mstore_invoice_overlapping(c->st, u->agreement, u->from_ms, u->to_ms, &row);
	if (rc == NDX_OK) {
		/* The same statement again answers its invoice; another one
		 * for the same agreement and a period that overlaps an
		 * invoiced one (the same period included) would bill its
		 * exchanges twice. */
		bool same = strcmp(json_string_value(json_object_get(row, "statement_hash")),
				   hash) == 0;
		store_rollback(c->st);
		if (same)
			answer_invoice(c, 200, row);
		else
			refuse(c, 409, "Client.Conflict", "invoiced already",
			       "invoice %s already bills agreement %s for this period or part of "
			       "it, from another statement",
			       json_string_value(json_object_get(row, "reference")), u->agreement);
		goto out;
	}
	if (rc == NDX_ENOTFOUND)
		rc = mstore_invoice_add(c->st, reference, u->agreement,
					json_string_value(json_object_get(inv, "seller")),
					json_string_value(json_object_get(inv, "buyer")),
					u->from_ms, u->to_ms, u->amount, hash, text);
	if (rc == NDX_EEXIST) {
		store_rollback(c->st);
		refuse(c, 409, "Client.Conflict", "invoiced already",
		       "this statement is invoiced already (reference %s)", reference);
		goto out;
	}
	detail = json_pack("{sssIsIsIss}", "agreement", u->agreement, "from_ms",
			   (json_int_t)u->from_ms, "to_ms", (json_int_t)u->to_ms, "amount_vnd",
			   (json_int_t)u->amount, "buyer",
			   json_string_value(json_object_get(inv, "buyer")));
	json_decref(row);
	row = NULL;
	if (rc || !detail || (rc = mstore_invoice_get(c->st, reference, &row))) {
		store_rollback(c->st);
		internal(c);
		goto out;
	}
	if (store_commit_audited(c->st, actor(c), c->req->remote_addr, "invoice.record",
				 reference, detail)) {
		internal(c);
		goto out;
	}
	fprintf(stderr, "ndx-registry: market: invoice %s recorded: %s owes %s %" PRId64
		" VND on %s\n", reference, json_string_value(json_object_get(inv, "buyer")),
		c->who->member, u->amount, u->agreement);
	answer_invoice(c, 201, row);
out:
	free(text);
	json_decref(detail);
	json_decref(row);
	json_decref(inv);
	ndx_usage_free(u);
	json_decref(body);
}

/* ---- GET /market/invoices[/{reference}] ------------------------------------------- */

int invoice_list_json(struct store *st, const char *member, json_t **out)
{
	json_t *rows = NULL, *row;
	size_t i;
	int rc;

	*out = NULL;
	store_lock(st);
	rc = mstore_invoice_list(st, member, &rows);
	store_unlock(st);
	if (!rc && !(*out = json_array()))
		rc = NDX_ENOMEM;
	json_array_foreach(rows, i, row) {
		json_t *v = rc ? NULL : invoice_view(row);
		if (!v || json_array_append_new(*out, v))
			rc = NDX_ENOMEM;
	}
	json_decref(rows);
	if (rc) {
		json_decref(*out);
		*out = NULL;
	}
	return rc;
}

static void invoices_list(struct icall *c)
{
	const char *q = ndx_http_query_arg(c->req, "member");
	const char *member = c->who->member;
	json_t *out = NULL;

	if (!c->who->name) {
		ndx_bearer_refuse(c->resp, "a member or admin credential is required",
				  "ndx-registry");
		return;
	}
	if (c->req->query && strstr(c->req->query, "member=") && !q) {
		refuse(c, 400, "Client.InvalidRequest", "invalid query",
		       "member: bad percent-encoding");
		return;
	}
	if (q) {
		struct ndx_id id;
		const char *why = NULL;
		char canon[NDX_ID_TEXT_MAX];

		if (ndx_id_parse(q, strlen(q), NDX_ID_MEMBER, &id, &why) != NDX_OK ||
		    ndx_id_format(&id, canon, sizeof canon) < 0 || strcmp(canon, q) != 0) {
			refuse(c, 400, "Client.InvalidRequest", "invalid query",
			       "member: not a member id (%s)", why ? why : "not canonical");
			return;
		}
	}
	if (q && member && strcmp(q, member) != 0) {
		refuse(c, 403, "Client.Forbidden", "not yours",
		       "a member lists only the invoices it sells or buys under");
		return;
	}
	if (q)
		member = q;
	if (invoice_list_json(c->st, member, &out)) {
		internal(c);
		return;
	}
	ndx_http_resp_json(c->resp, 200, json_pack("{so}", "invoices", out));
}

static void invoice_get(struct icall *c, const char *reference)
{
	json_t *row = NULL;
	int rc;

	if (!c->who->name) {
		ndx_bearer_refuse(c->resp, "a member or admin credential is required",
				  "ndx-registry");
		return;
	}
	store_lock(c->st);
	rc = mstore_invoice_get(c->st, reference, &row);
	store_unlock(c->st);
	if (rc == NDX_ENOTFOUND ||
	    (!rc && c->who->member &&
	     strcmp(json_string_value(json_object_get(row, "seller")), c->who->member) != 0 &&
	     strcmp(json_string_value(json_object_get(row, "buyer")), c->who->member) != 0))
		refuse(c, 404, "Client.NotFound", "not found", "no invoice of yours is %s",
		       reference);
	else if (rc)
		internal(c);
	else
		answer_invoice(c, 200, row);
	json_decref(row);
}

/* ---- POST /market/receipts ---------------------------------------------------------- */

static void receipt_post(struct icall *c)
{
	json_t *body = NULL, *row = NULL, *detail = NULL;
	struct ndx_receipt r;
	const char *text, *paid_bin, *paid_txn;
	char why[300];
	int rc;

	if (c->req->body && c->req->body_len)
		body = json_loadb((const char *)c->req->body, c->req->body_len,
				  JSON_REJECT_DUPLICATES, NULL);
	text = json_string_value(json_object_get(body, "receipt"));
	if (!text) {
		refuse(c, 400, "Client.InvalidRequest", "invalid", "expected {\"receipt\": JWS}");
		goto out;
	}
	rc = ndx_receipt_verify(text, strlen(text), c->banks, c->nbanks, &r, why, sizeof why);
	if (rc == NDX_EBADSIG) {
		refuse(c, 403, "Client.Forbidden", "forged", "%s", why);
		goto out;
	}
	if (rc) {
		refuse(c, 400, "Client.InvalidRequest", "invalid", "%s", why);
		goto out;
	}
	if (store_begin(c->st)) {
		internal(c);
		goto out;
	}
	rc = mstore_invoice_get(c->st, r.reference, &row);
	if (rc) {
		store_rollback(c->st);
		if (rc == NDX_ENOTFOUND)
			refuse(c, 404, "Client.NotFound", "not_found",
			       "no invoice has the reference %s", r.reference);
		else
			internal(c);
		goto out;
	}
	if (json_integer_value(json_object_get(row, "amount_vnd")) != r.amount_vnd) {
		store_rollback(c->st);
		refuse(c, 409, "Client.Conflict", "amount_mismatch",
		       "the receipt is for %" PRId64 " VND, the invoice %s asks %" JSON_INTEGER_FORMAT
		       " VND", r.amount_vnd, r.reference,
		       json_integer_value(json_object_get(row, "amount_vnd")));
		goto out;
	}
	paid_bin = json_string_value(json_object_get(row, "paid_bank_bin"));
	paid_txn = json_string_value(json_object_get(row, "paid_txn_id"));
	if (paid_bin && paid_txn) {
		/* The same receipt again (a retry, a replay) changes nothing;
		 * another transaction for a paid invoice is a second payment,
		 * for the bank to return. */
		store_rollback(c->st);
		if (strcmp(paid_bin, r.bin) == 0 && strcmp(paid_txn, r.txn_id) == 0) {
			json_t *v = invoice_view(row);
			if (!v || json_object_set_new(v, "duplicate", json_true()))
				internal(c);
			else
				ndx_http_resp_json(c->resp, 200, v), v = NULL;
			json_decref(v);
		} else {
			refuse(c, 409, "Client.Conflict", "already_paid",
			       "invoice %s was paid by transaction %s of bank %s", r.reference,
			       paid_txn, paid_bin);
		}
		goto out;
	}
	rc = mstore_invoice_pay(c->st, r.reference, r.bin, r.txn_id);
	if (rc == NDX_EEXIST) {
		store_rollback(c->st);
		refuse(c, 409, "Client.Conflict", "already_applied",
		       "transaction %s of bank %s paid another invoice", r.txn_id, r.bin);
		goto out;
	}
	detail = json_pack("{sssssI}", "bank_bin", r.bin, "txn_id", r.txn_id, "amount_vnd",
			   (json_int_t)r.amount_vnd);
	json_decref(row);
	row = NULL;
	if (rc || !detail || (rc = mstore_invoice_get(c->st, r.reference, &row))) {
		store_rollback(c->st);
		internal(c);
		goto out;
	}
	if (store_commit_audited(c->st, actor(c), c->req->remote_addr, "invoice.paid", r.reference,
				 detail)) {
		internal(c);
		goto out;
	}
	fprintf(stderr, "ndx-registry: market: receipt %s from bank %s pays invoice %s\n", r.txn_id,
		r.bin, r.reference);
	{
		json_t *v = invoice_view(row);
		if (!v || json_object_set_new(v, "duplicate", json_false()))
			internal(c);
		else
			ndx_http_resp_json(c->resp, 200, v), v = NULL;
		json_decref(v);
	}
out:
	json_decref(detail);
	json_decref(row);
	json_decref(body);
}

/* ---- routing ------------------------------------------------------------------------ */

static void not_allowed(struct icall *c, const char *allow)
{
	ndx_http_resp_error(c->resp, 405, "Client.MethodNotAllowed", "method not allowed", allow);
	ndx_http_resp_header(c->resp, "Allow", allow);
}

void invoice_handle(struct store *st, const struct market_caller *who,
		    const struct ndx_receipt_bank *banks, size_t nbanks,
		    const struct ndx_http_req *req, struct ndx_http_resp *resp)
{
	struct icall c = { .st = st, .who = who, .banks = banks, .nbanks = nbanks, .req = req,
			   .resp = resp };
	const char *m = req->method, *p = req->path;
	bool post = strcmp(m, "POST") == 0, get = strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;

	if (strcmp(p, "/market/receipts") == 0) {
		if (post)
			receipt_post(&c);
		else
			not_allowed(&c, "POST");
	} else if (strcmp(p, "/market/invoices") == 0) {
		if (post)
			invoice_record(&c);
		else if (get)
			invoices_list(&c);
		else
			not_allowed(&c, "GET, HEAD, POST");
	} else {
		const char *ref = p + 17;
		if (!*ref || strchr(ref, '/') || strlen(ref) > NDX_USAGE_REF_LEN)
			ndx_http_resp_error(resp, 404, "Client.NotFound", "no such path", p);
		else if (get)
			invoice_get(&c, ref);
		else
			not_allowed(&c, "GET, HEAD");
	}
}
