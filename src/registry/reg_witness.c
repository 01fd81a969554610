/* POST /witness (witness.h; docs/protocol.md "Witnessed tree heads",
 * docs/registry-api.md): a gateway sends the signed tree heads of its
 * message log since the last one the registry countersigned, oldest first.
 * The signature of each head is the authentication: it must verify with
 * the key the registry holds for that gateway (or with a key a rotation
 * replaced, not revoked, for a head signed before the rotation), and each head must chain to
 * the one before (prev_sth_hash). The registry keeps, per gateway, the
 * STH hash of every head it countersigned (table witnessed); a request is
 * accepted only when its heads meet what was witnessed: a witnessed head
 * among them (or just before the first, through its prev_sth_hash) must
 * have the same hash. A different hash for a witnessed batch is a fork, a
 * newest batch below the witnessed one a log rolled back: both are refused
 * with 409 and written to the audit trail, the alarm an operator watches.
 * Heads that start beyond the last witnessed one are refused with 409 and
 * "witnessed_batch", so that the gateway sends from there. */
#include "reg_witness.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "ndx/encode.h"
#include "ndx/err.h"
#include "ndx/hash.h"
#include "ndx/msglog.h"

struct heads {
	char gateway[NDX_MSGLOG_GATEWAY_MAX + 1];
	struct ndx_msglog_sth sth[WITNESS_HEADS_MAX];
	uint8_t hash[WITNESS_HEADS_MAX][NDX_SHA256_LEN];
	size_t n;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void refuse(struct ndx_http_resp *resp, int status, const char *type,
		   const char *message, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void refuse(struct ndx_http_resp *resp, int status, const char *type,
		   const char *message, const char *fmt, ...)
{
	char detail[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);
	ndx_http_resp_error(resp, status, type, message, detail);
}

/* An Ed25519 public key from its base64 text. */
static int key_of(const char *b64, struct ndx_key **key)
{
	uint8_t *raw = NULL;
	size_t rawlen = 0;
	int rc = NDX_EDB;

	if (b64 != NULL && ndx_b64_decode(b64, strlen(b64), 0, &raw, &rawlen) == NDX_OK &&
	    rawlen == NDX_ED25519_PUBLIC_LEN)
		rc = ndx_key_from_public_raw(raw, key);
	free(raw);
	return rc;
}

/* The gateway's key from the registry's own store; NDX_ENOTFOUND for an
 * unknown gateway. *kid gets its key id. */
int witness_gateway_key(struct store *st, const char *name, struct ndx_key **key, char *kid)
{
	char member[NDX_MSGLOG_GATEWAY_MAX + 1];
	const char *slash = strrchr(name, '/'), *id;
	json_t *gw = NULL;
	int rc;

	*key = NULL;
	if (slash == NULL || slash == name || slash[1] == '\0')
		return NDX_ENOTFOUND;
	snprintf(member, sizeof member, "%.*s", (int)(slash - name), name);
	rc = store_gateway_get(st, member, slash + 1, &gw);
	if (rc != NDX_OK)
		return rc;
	id = json_string_value(json_object_get(gw, "sign_key_id"));
	rc = NDX_EDB;
	if (id != NULL && strlen(id) == NDX_KEY_ID_HEX_LEN)
		rc = key_of(json_string_value(json_object_get(gw, "sign_key")), key);
	if (rc == NDX_OK)
		memcpy(kid, id, NDX_KEY_ID_HEX_LEN + 1);
	json_decref(gw);
	return rc;
}

/* A signing key kid a rotation took from gateway name (docs/registry-api.md
 * "Key and certificate rotation"), for a head signed before then: *key and
 * *retired_ms. NDX_ENOTFOUND when the gateway never had it, NDX_EPERM when
 * it is on the revocation list (a key revoked as exposed signs nothing that
 * is witnessed any more, whatever time its heads claim). */
int witness_retired_key(struct store *st, const char *name, const char *kid,
		       struct ndx_key **key, int64_t *retired_ms)
{
	char member[NDX_MSGLOG_GATEWAY_MAX + 1];
	const char *slash = strrchr(name, '/');
	json_t *row = NULL;
	int rc;

	*key = NULL;
	snprintf(member, sizeof member, "%.*s", (int)(slash - name), name);
	rc = store_gateway_retired_key(st, member, slash + 1, kid, &row);
	if (rc == NDX_OK) {
		int revoked = store_revocation_has(st, "key", kid);

		rc = revoked < 0 ? NDX_EDB : revoked ? NDX_EPERM
			: key_of(json_string_value(json_object_get(row, "sign_key")), key);
		*retired_ms = json_integer_value(json_object_get(row, "retired_ms"));
	}
	json_decref(row);
	return rc;
}

/* Parses and checks the request: NDX_OK, or the answer is in resp. */
static int read_heads(struct store *st, const struct ndx_http_req *req,
		      struct ndx_http_resp *resp, struct heads *h)
{
	char err[300], kid[NDX_KEY_ID_HEX_LEN + 1];
	struct ndx_key *gk = NULL;
	const json_t *arr;
	const char *gw;
	json_t *o;
	int rc = NDX_EINVAL;

	if (req->body_len > WITNESS_BODY_MAX) {
		refuse(resp, 413, "Client.TooLarge", "body too large",
		       "at most %u bytes and %d tree heads a request", WITNESS_BODY_MAX,
		       WITNESS_HEADS_MAX);
		return NDX_ETOOBIG;
	}
	o = req->body ? json_loadb((const char *)req->body, req->body_len, JSON_REJECT_DUPLICATES,
				   NULL)
		      : NULL;
	gw = json_string_value(json_object_get(o, "gateway"));
	arr = json_object_get(o, "heads");
	if (!json_is_object(o) || gw == NULL || strlen(gw) > NDX_MSGLOG_GATEWAY_MAX ||
	    !json_is_array(arr) || json_array_size(arr) == 0 ||
	    json_array_size(arr) > WITNESS_HEADS_MAX) {
		refuse(resp, 400, "Client.InvalidRequest", "invalid witness request",
		       "expected {\"gateway\": \"{member}/{code}\", \"heads\": [1 to %d tree heads]}",
		       WITNESS_HEADS_MAX);
		goto out;
	}
	snprintf(h->gateway, sizeof h->gateway, "%s", gw);
	rc = witness_gateway_key(st, gw, &gk, kid);
	if (rc == NDX_ENOTFOUND) {
		refuse(resp, 404, "Client.NotFound", "not found", "gateway %.200s does not exist", gw);
		goto out;
	}
	if (rc != NDX_OK) {
		refuse(resp, 500, "Server.Internal", "the store failed", "cannot read the gateway");
		goto out;
	}
	h->n = json_array_size(arr);
	for (size_t i = 0; i < h->n; i++) {
		struct ndx_msglog_sth *s = &h->sth[i];
		char *text = json_dumps(json_array_get(arr, i), JSON_COMPACT);

		rc = text ? ndx_msglog_sth_parse(text, strlen(text), s, err, sizeof err) : NDX_ENOMEM;
		free(text);
		if (rc != NDX_OK) {
			refuse(resp, 400, "Client.InvalidRequest", "invalid tree head", "heads[%zu]: %s",
			       i, rc == NDX_ENOMEM ? "out of memory" : err);
			break;
		}
		if (strcmp(s->key_id, kid) != 0) {
			/* A head of a key a rotation retired: taken when it was signed
			 * before the rotation and the key is not revoked. */
			struct ndx_key *old = NULL;
			int64_t retired_ms = 0;
			int krc = witness_retired_key(st, gw, s->key_id, &old, &retired_ms);
			bool ok = krc == NDX_OK && s->time_ms <= retired_ms &&
				  ndx_msglog_sth_check(old, s) == NDX_OK;

			ndx_key_free(old);
			if (krc == NDX_EDB || krc == NDX_ENOMEM) {
				refuse(resp, 500, "Server.Internal", "the store failed",
				       "cannot read the gateway's retired keys");
				rc = krc;
				break;
			}
			if (!ok) {
				refuse(resp, 400, "Client.InvalidRequest",
				       "tree head not signed by the gateway",
				       "batch %" PRIu64 ": the signature does not verify with the key "
				       "of gateway %.200s (%s): it names key %.64s%s", s->batch, gw,
				       kid, s->key_id,
				       krc == NDX_EPERM ? ", one a rotation replaced and revoked"
				       : krc == NDX_OK ? ", one a rotation replaced before the head's time"
						       : "");
				rc = NDX_EBADSIG;
				break;
			}
		} else if (ndx_msglog_sth_check(gk, s) != NDX_OK) {
			refuse(resp, 400, "Client.InvalidRequest", "tree head not signed by the gateway",
			       "batch %" PRIu64 ": the signature does not verify with the key of "
			       "gateway %.200s (%s)", s->batch, gw, kid);
			rc = NDX_EBADSIG;
			break;
		}
		if (i > 0 && (s->batch != h->sth[i - 1].batch + 1 ||
			      memcmp(s->prev_sth_hash, h->hash[i - 1], NDX_SHA256_LEN) != 0)) {
			refuse(resp, 400, "Client.InvalidRequest", "tree heads do not chain",
			       "batch %" PRIu64 " does not follow batch %" PRIu64 " (numbers and "
			       "prev_sth_hash must chain, oldest first)", s->batch, h->sth[i - 1].batch);
			rc = NDX_EINVAL;
			break;
		}
		ndx_msglog_sth_hash(s, h->hash[i]);
	}
out:
	ndx_key_free(gk);
	json_decref(o);
	return rc;
}

/* The hash the heads give batch b (b0-1 .. bn), NULL outside. */
static const uint8_t *hash_of(const struct heads *h, uint64_t b)
{
	uint64_t b0 = h->sth[0].batch;

	if (b + 1 == b0)
		return h->sth[0].prev_sth_hash;
	if (b >= b0 && b - b0 < h->n)
		return h->hash[b - b0];
	return NULL;
}

enum verdict { V_ACCEPT, V_FORK, V_BEHIND, V_GAP, V_ERROR };

/* Compares the heads with what was witnessed for the gateway; caller holds
 * the store's write transaction. *at is the batch that decided (the forked
 * one, or the newest witnessed). */
static enum verdict judge(struct store *st, const struct heads *h, uint64_t *at)
{
	uint64_t bn = h->sth[h->n - 1].batch, newest = 0;
	bool any = false, matched = false;
	json_t *rows, *row;
	size_t i;

	*at = 0;
	if (store_witnessed_list(st, h->gateway, &rows) != NDX_OK)
		return V_ERROR;
	json_array_foreach(rows, i, row) {
		uint64_t b = (uint64_t)json_integer_value(json_object_get(row, "batch"));
		const char *hex = json_string_value(json_object_get(row, "sth_hash"));
		const uint8_t *mine = hash_of(h, b);
		uint8_t theirs[NDX_SHA256_LEN];

		any = true;
		newest = b;
		if (mine == NULL)
			continue;
		if (hex == NULL ||
		    ndx_hex_decode(hex, strlen(hex), theirs, sizeof theirs) != NDX_OK ||
		    memcmp(mine, theirs, NDX_SHA256_LEN) != 0) {
			json_decref(rows);
			*at = b;
			return V_FORK;
		}
		matched = true;
	}
	json_decref(rows);
	*at = newest;
	if (!any || matched)
		return V_ACCEPT;
	return newest > bn ? V_BEHIND : V_GAP;
}

static int remember(struct store *st, const struct ndx_msglog_witness *w)
{
	char hex[2 * NDX_SHA256_LEN + 1];

	ndx_hex_encode(w->sth_hash, NDX_SHA256_LEN, hex);
	return store_witnessed_put(st, w->gateway, (int64_t)w->batch, hex, w->time_ms);
}

/* The alarm: a refused history in the audit trail, with both hashes. */
static void audit_refusal(struct store *st, const struct ndx_http_req *req,
			  const struct heads *h, const char *action, uint64_t at)
{
	char mine[2 * NDX_SHA256_LEN + 1] = "";
	const uint8_t *m = hash_of(h, at);
	json_t *d;

	if (m != NULL)
		ndx_hex_encode(m, NDX_SHA256_LEN, mine);
	d = json_pack("{sIsssIsI}", "batch", (json_int_t)at, "offered_sth_hash", mine,
		      "first_batch", (json_int_t)h->sth[0].batch, "last_batch",
		      (json_int_t)h->sth[h->n - 1].batch);
	if (store_audit_event(st, "witness", req->remote_addr, action, h->gateway, d) != NDX_OK)
		fprintf(stderr, "ndx-registry: witness: cannot audit %s of %s\n", action,
			h->gateway);
	fprintf(stderr, "ndx-registry: witness: ALARM %s: gateway %s, batch %" PRIu64 "\n", action,
		h->gateway, at);
	json_decref(d);
}

void witness_handle(struct store *st, const struct ndx_key *key, const struct ndx_http_req *req,
		    struct ndx_http_resp *resp)
{
	struct heads *h;
	struct ndx_msglog_witness w;
	enum verdict v;
	uint64_t at = 0;
	char *text;
	int rc;

	if (strcmp(req->method, "POST") != 0) {
		ndx_http_resp_error(resp, 405, "Client.MethodNotAllowed", "method not allowed",
				    "POST");
		ndx_http_resp_header(resp, "Allow", "POST");
		return;
	}
	h = calloc(1, sizeof *h);
	if (h == NULL) {
		ndx_http_resp_error(resp, 500, "Server.Internal", "out of memory", NULL);
		return;
	}
	if (read_heads(st, req, resp, h) != NDX_OK)
		goto out;
	memset(&w, 0, sizeof w);
	memcpy(w.gateway, h->gateway, sizeof w.gateway);
	w.batch = h->sth[h->n - 1].batch;
	memcpy(w.sth_hash, h->hash[h->n - 1], NDX_SHA256_LEN);
	w.time_ms = now_ms();
	/* One write transaction: two registry nodes of one database judge a
	 * gateway's heads one after the other. */
	if (store_begin(st) != NDX_OK) {
		v = V_ERROR;
		rc = NDX_EDB;
	} else {
		v = judge(st, h, &at);
		rc = v == V_ACCEPT ? remember(st, &w) : NDX_OK;
		if (rc == NDX_OK && v != V_ERROR)
			rc = store_commit_quiet(st);
		else
			store_rollback(st);
	}
	switch (v) {
	case V_ACCEPT:
		break;
	case V_FORK:
		audit_refusal(st, req, h, "witness.fork", at);
		refuse(resp, 409, "Client.Conflict", "forked history",
		       "batch %" PRIu64 " of gateway %.200s was witnessed with another tree head: "
		       "its message log was rewritten or forked", at, h->gateway);
		goto out;
	case V_BEHIND:
		audit_refusal(st, req, h, "witness.rollback", at);
		refuse(resp, 409, "Client.Conflict", "rolled-back history",
		       "batch %" PRIu64 " of gateway %.200s was witnessed, but its newest tree head "
		       "is batch %" PRIu64 ": its message log was rolled back or replaced", at,
		       h->gateway, w.batch);
		goto out;
	case V_GAP: {
		char detail[300];

		snprintf(detail, sizeof detail, "the heads must start at most at batch %" PRIu64
			 ", after the last one witnessed", at + 1);
		ndx_http_resp_json(resp, 409, json_pack("{sssssssI}", "type", "Client.Conflict",
							"message", "not consecutive", "detail",
							detail, "witnessed_batch", (json_int_t)at));
		ndx_http_resp_header(resp, "X-Road-Error", "Client.Conflict");
		goto out;
	}
	case V_ERROR:
		rc = NDX_EDB;
		break;
	}
	if (rc == NDX_OK)
		rc = ndx_msglog_witness_sign(key, &w);
	text = rc == NDX_OK ? ndx_msglog_witness_json(&w) : NULL;
	if (text == NULL) {
		ndx_http_resp_error(resp, 500, "Server.Internal", "the store failed",
				    "the tree head was not witnessed");
		goto out;
	}
	ndx_http_resp_bytes(resp, 200, "application/json", text, strlen(text));
	free(text);
out:
	free(h);
}
