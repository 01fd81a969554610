/* Usage statements of the data marketplace (include/ndx/usage.h): building
 * one from the exchanges a log walk hands over, the amount due, the
 * statement hash and its signature, the JSON form, the checks a statement
 * must pass on its own and the comparison of two sides' statements. The
 * hash and the JSON are normative: docs/protocol.md "Usage statements";
 * the model: docs/marketplace.md "Metering and statements". */
#include "ndx/usage.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "ndx/array.h"
#include "ndx/encode.h"
#include "ndx/err.h"
#include "ndx/id.h"
#include "ndx/timefmt.h"
#include "ndx/vietqr.h"

#define LABEL "ndx-usage-statement-v1"

const char *ndx_usage_unit_name(enum ndx_price_unit unit)
{
	switch (unit) {
	case NDX_PRICE_PER_CALL: return "ndx:VNDPerCall";
	case NDX_PRICE_PER_MONTH: return "ndx:VNDPerMonth";
	default: return "free";
	}
}

static int unit_of(const char *name, enum ndx_price_unit *out)
{
	static const enum ndx_price_unit all[] = { NDX_PRICE_FREE, NDX_PRICE_PER_CALL,
						   NDX_PRICE_PER_MONTH };

	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		if (strcmp(name, ndx_usage_unit_name(all[i])) == 0) {
			*out = all[i];
			return NDX_OK;
		}
	return NDX_EINVAL;
}

struct ndx_usage *ndx_usage_new(const char *agreement, const char *client, const char *service,
				const char *gateway, enum ndx_msglog_direction side,
				int64_t from_ms, int64_t to_ms, int64_t price,
				enum ndx_price_unit unit)
{
	struct ndx_usage *u = calloc(1, sizeof *u);

	assert(agreement && client && service && gateway);
	if (u == NULL)
		return NULL;
	u->agreement = strdup(agreement);
	u->client = strdup(client);
	u->service = strdup(service);
	u->gateway = strdup(gateway);
	if (!u->agreement || !u->client || !u->service || !u->gateway) {
		ndx_usage_free(u);
		return NULL;
	}
	u->side = side;
	u->from_ms = from_ms;
	u->to_ms = to_ms;
	u->price = price;
	u->unit = unit;
	return u;
}

void ndx_usage_free(struct ndx_usage *u)
{
	if (u == NULL)
		return;
	for (size_t i = 0; i < u->nex; i++) {
		free(u->ex[i].message_id);
		free(u->ex[i].path);
	}
	free(u->ex);
	free(u->heads);
	free(u->agreement);
	free(u->client);
	free(u->service);
	free(u->gateway);
	free(u);
}

/* Adds sth to u->heads unless its batch is the last one there. */
static int add_head(struct ndx_usage *u, const struct ndx_msglog_sth *sth)
{
	if (u->nheads > 0 && u->heads[u->nheads - 1].batch == sth->batch)
		return NDX_OK;
	if (NDX_ARRAY_RESERVE(u->heads, u->capheads, u->nheads) != NDX_OK)
		return NDX_ENOMEM;
	u->heads[u->nheads++] = *sth;
	return NDX_OK;
}

int ndx_usage_add(struct ndx_usage *u, const char *message_id, int64_t time_ms, uint64_t seq,
		  const uint8_t record_hash[NDX_SHA256_LEN], const struct ndx_msglog_sth *sth,
		  uint64_t leaf_index, const uint8_t (*path)[NDX_SHA256_LEN], size_t path_len)
{
	struct ndx_usage_exchange *x;

	assert(u && message_id && record_hash && sth && (path || path_len == 0));
	if (u->nex >= NDX_USAGE_EXCHANGES_MAX || path_len > NDX_MERKLE_MAX_PATH)
		return NDX_ETOOBIG;
	if (u->nex > 0 && (u->ex[u->nex - 1].seq >= seq || u->ex[u->nex - 1].batch > sth->batch))
		return NDX_EINVAL;
	if (NDX_ARRAY_RESERVE(u->ex, u->capex, u->nex) != NDX_OK ||
	    add_head(u, sth) != NDX_OK)
		return NDX_ENOMEM;
	x = &u->ex[u->nex];
	memset(x, 0, sizeof *x);
	x->message_id = strdup(message_id);
	x->path = malloc((path_len ? path_len : 1) * sizeof *x->path);
	if (x->message_id == NULL || x->path == NULL) {
		free(x->message_id);
		free(x->path);
		return NDX_ENOMEM;
	}
	if (path_len)
		memcpy(x->path, path, path_len * sizeof *x->path);
	x->path_len = path_len;
	x->time_ms = time_ms;
	x->seq = seq;
	x->batch = sth->batch;
	x->leaf_index = leaf_index;
	memcpy(x->record_hash, record_hash, NDX_SHA256_LEN);
	u->nex++;
	return NDX_OK;
}

int ndx_usage_month_vn(const char *text, int64_t *from_ms, int64_t *to_ms)
{
	struct tm tm = { 0 };
	int y, m;
	time_t a, b;

	assert(text && from_ms && to_ms);
	if (strlen(text) != 7 || text[4] != '-')
		return NDX_EINVAL;
	for (int i = 0; i < 7; i++)
		if (i != 4 && (text[i] < '0' || text[i] > '9'))
			return NDX_EINVAL;
	y = (text[0] - '0') * 1000 + (text[1] - '0') * 100 + (text[2] - '0') * 10 + (text[3] - '0');
	m = (text[5] - '0') * 10 + (text[6] - '0');
	if (y < 1970 || m < 1 || m > 12)
		return NDX_EINVAL;
	tm.tm_year = y - 1900;
	tm.tm_mon = m - 1;
	tm.tm_mday = 1;
	a = timegm(&tm);
	tm = (struct tm){ .tm_year = m == 12 ? y + 1 - 1900 : y - 1900, .tm_mon = m % 12,
			  .tm_mday = 1 };
	b = timegm(&tm);
	*from_ms = ((int64_t)a - NDX_VN_UTC_OFFSET_S) * 1000;
	*to_ms = ((int64_t)b - NDX_VN_UTC_OFFSET_S) * 1000;
	return NDX_OK;
}

/* The calendar month (year * 12 + month) in Vietnam of a time in ms. */
static int64_t vn_month_of(int64_t ms)
{
	int64_t s = ms / 1000 - (ms % 1000 < 0) + NDX_VN_UTC_OFFSET_S;
	time_t t = (time_t)s;
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL)
		return INT64_MIN;
	return (int64_t)tm.tm_year * 12 + tm.tm_mon;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* The calendar months (Vietnam time) in which u's exchanges took place:
 * sorted, then counted once each, so that a statement whose times jump
 * between months costs n log n, not n squared. */
static int months_used(const struct ndx_usage *u, int64_t *units)
{
	int64_t *mo = malloc((u->nex ? u->nex : 1) * sizeof *mo);

	if (mo == NULL)
		return NDX_ENOMEM;
	for (size_t i = 0; i < u->nex; i++)
		mo[i] = vn_month_of(u->ex[i].time_ms);
	qsort(mo, u->nex, sizeof *mo, cmp_i64);
	*units = 0;
	for (size_t i = 0; i < u->nex; i++)
		*units += i == 0 || mo[i] != mo[i - 1];
	free(mo);
	return NDX_OK;
}

int ndx_usage_amount(const struct ndx_usage *u, int64_t *amount)
{
	int64_t units = 0;

	assert(u && amount);
	*amount = 0;
	switch (u->unit) {
	case NDX_PRICE_PER_CALL:
		units = (int64_t)u->nex;
		break;
	case NDX_PRICE_PER_MONTH:
		if (months_used(u, &units) != NDX_OK)
			return NDX_ENOMEM;
		break;
	default:
		return NDX_OK;
	}
	if (u->price < 0 || __builtin_mul_overflow(u->price, units, amount)) {
		*amount = 0;
		return NDX_ETOOBIG;
	}
	return NDX_OK;
}

/* ---- the statement hash ----------------------------------------------- */

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static void field(struct ndx_sha256 *c, const void *d, size_t n)
{
	uint8_t be[8];

	put_be64(be, n);
	ndx_sha256_update(c, be, 8);
	if (n)
		ndx_sha256_update(c, d, n);
}

static void field_str(struct ndx_sha256 *c, const char *s)
{
	field(c, s ? s : "", s ? strlen(s) : 0);
}

static void field_u64(struct ndx_sha256 *c, uint64_t v)
{
	uint8_t be[8];

	put_be64(be, v);
	field(c, be, 8);
}

void ndx_usage_hash(const struct ndx_usage *u, uint8_t out[NDX_SHA256_LEN])
{
	struct ndx_sha256 *c = ndx_sha256_new();
	uint8_t sth_hash[NDX_SHA256_LEN];

	if (c == NULL) {
		/* As for the log's record hash: no error to report, and a wrong
		 * digest is worse than stopping. */
		fputs("ndx: out of memory hashing a usage statement\n", stderr);
		abort();
	}
	field_str(c, LABEL);
	field_str(c, u->agreement);
	field_str(c, u->client);
	field_str(c, u->service);
	field_str(c, u->side == NDX_MSGLOG_PROVIDER ? "provider" : "consumer");
	field_str(c, u->gateway);
	field_u64(c, (uint64_t)u->from_ms);
	field_u64(c, (uint64_t)u->to_ms);
	field_u64(c, (uint64_t)u->price);
	field_str(c, ndx_usage_unit_name(u->unit));
	field_u64(c, u->count);
	field_u64(c, (uint64_t)u->amount);
	field_u64(c, (uint64_t)u->made_ms);
	ndx_msglog_sth_hash(&u->head, sth_hash);
	field(c, sth_hash, NDX_SHA256_LEN);
	field_u64(c, u->nex);
	for (size_t i = 0; i < u->nex; i++) {
		const struct ndx_usage_exchange *x = &u->ex[i];

		field_str(c, x->message_id);
		field_u64(c, (uint64_t)x->time_ms);
		field_u64(c, x->seq);
		field_u64(c, x->batch);
		field(c, x->record_hash, NDX_SHA256_LEN);
	}
	ndx_sha256_final(c, out);
	ndx_sha256_free(c);
}

int ndx_usage_sign(struct ndx_usage *u, const struct ndx_msglog_sth *head, int64_t made_ms,
		   const struct ndx_key *key)
{
	uint8_t h[NDX_SHA256_LEN];
	int rc;

	assert(u && head && key);
	u->count = u->nex;
	rc = ndx_usage_amount(u, &u->amount);
	if (rc != NDX_OK)
		return rc;
	u->head = *head;
	u->made_ms = made_ms;
	ndx_key_id(key, u->key_id);
	ndx_usage_hash(u, h);
	return ndx_sign(key, h, sizeof h, u->signature) == NDX_OK ? NDX_OK : NDX_ECRYPTO;
}

/* ---- JSON ------------------------------------------------------------- */

static void jset(json_t *o, const char *k, json_t *v, bool *ok)
{
	if (v == NULL || json_object_set_new(o, k, v) != 0)
		*ok = false;
}

static json_t *j_hex(const uint8_t *b, size_t n)
{
	char hex[2 * NDX_SHA256_LEN + 1];

	assert(n <= NDX_SHA256_LEN);
	ndx_hex_encode(b, n, hex);
	return json_string(hex);
}

static json_t *j_time(int64_t ms)
{
	char t[NDX_TIME_TEXT_LEN];

	ndx_time_format((time_t)(ms / 1000 - (ms % 1000 < 0)), t);
	return json_string(t);
}

static json_t *j_sth(const struct ndx_msglog_sth *sth)
{
	char *text = ndx_msglog_sth_json(sth, NULL);
	json_t *o = text ? json_loads(text, 0, NULL) : NULL;

	free(text);
	return o;
}

static json_t *exchange_json(const struct ndx_usage_exchange *x)
{
	json_t *o = json_object(), *ap = json_array();
	bool ok = o && ap;

	for (size_t i = 0; ok && i < x->path_len; i++)
		ok = json_array_append_new(ap, j_hex(x->path[i], NDX_SHA256_LEN)) == 0;
	if (ok) {
		jset(o, "message_id", json_string(x->message_id), &ok);
		jset(o, "time_ms", json_integer(x->time_ms), &ok);
		jset(o, "time", j_time(x->time_ms), &ok);
		jset(o, "seq", json_integer((json_int_t)x->seq), &ok);
		jset(o, "batch", json_integer((json_int_t)x->batch), &ok);
		jset(o, "leaf_index", json_integer((json_int_t)x->leaf_index), &ok);
		jset(o, "record_hash", j_hex(x->record_hash, NDX_SHA256_LEN), &ok);
		jset(o, "audit_path", ap, &ok);
		ap = NULL;
	}
	json_decref(ap);
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

char *ndx_usage_to_json(const struct ndx_usage *u)
{
	json_t *o = json_object(), *heads = json_array(), *ex = json_array();
	char *sig = ndx_b64_encode(u->signature, sizeof u->signature, 0), *text = NULL;
	bool ok = o && heads && ex && sig;

	for (size_t i = 0; ok && i < u->nheads; i++)
		ok = json_array_append_new(heads, j_sth(&u->heads[i])) == 0;
	for (size_t i = 0; ok && i < u->nex; i++)
		ok = json_array_append_new(ex, exchange_json(&u->ex[i])) == 0;
	if (ok) {
		jset(o, "format", json_string(NDX_USAGE_FORMAT), &ok);
		jset(o, "agreement", json_string(u->agreement), &ok);
		jset(o, "client", json_string(u->client), &ok);
		jset(o, "service", json_string(u->service), &ok);
		jset(o, "side", json_string(u->side == NDX_MSGLOG_PROVIDER ? "provider"
									    : "consumer"), &ok);
		jset(o, "gateway", json_string(u->gateway), &ok);
		jset(o, "from_ms", json_integer(u->from_ms), &ok);
		jset(o, "to_ms", json_integer(u->to_ms), &ok);
		jset(o, "from", j_time(u->from_ms), &ok);
		jset(o, "to", j_time(u->to_ms), &ok);
		jset(o, "price", json_integer(u->price), &ok);
		jset(o, "unit", json_string(ndx_usage_unit_name(u->unit)), &ok);
		jset(o, "count", json_integer((json_int_t)u->count), &ok);
		jset(o, "amount_due", json_integer(u->amount), &ok);
		jset(o, "currency", json_string("VND"), &ok);
		jset(o, "made_ms", json_integer(u->made_ms), &ok);
		jset(o, "tree_head", j_sth(&u->head), &ok);
		jset(o, "tree_heads", heads, &ok);
		heads = NULL;
		jset(o, "exchanges", ex, &ok);
		ex = NULL;
		jset(o, "key_id", json_string(u->key_id), &ok);
		jset(o, "signature", json_string(sig), &ok);
	}
	if (ok)
		text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(o);
	json_decref(heads);
	json_decref(ex);
	free(sig);
	return text;
}

static int get_str(const json_t *o, const char *k, const char **out, char *err, size_t cap)
{
	const json_t *v = json_object_get(o, k);

	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    json_string_length(v) > NDX_MSGLOG_FIELD_MAX)
		return ndx_fail(err, cap, NDX_EINVAL, "%s: expected a non-empty string", k);
	*out = json_string_value(v);
	return NDX_OK;
}

static int get_int(const json_t *o, const char *k, int64_t *out, char *err, size_t cap)
{
	const json_t *v = json_object_get(o, k);

	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return ndx_fail(err, cap, NDX_EINVAL, "%s: expected a whole number from 0", k);
	*out = json_integer_value(v);
	return NDX_OK;
}

static int get_hash(const json_t *o, const char *k, uint8_t out[NDX_SHA256_LEN], char *err,
		    size_t cap)
{
	const json_t *v = json_object_get(o, k);

	if (!json_is_string(v) || ndx_hex_decode(json_string_value(v), json_string_length(v), out,
						 NDX_SHA256_LEN) != NDX_OK)
		return ndx_fail(err, cap, NDX_EINVAL, "%s: expected 32 bytes of hex", k);
	return NDX_OK;
}

static int sth_of(const json_t *o, const char *where, struct ndx_msglog_sth *sth, char *err,
		  size_t cap)
{
	char *text = json_is_object(o) ? json_dumps(o, JSON_COMPACT) : NULL;
	char why[256];
	int rc;

	if (text == NULL)
		return ndx_fail(err, cap, NDX_EINVAL, "%s: expected a tree head", where);
	rc = ndx_msglog_sth_parse(text, strlen(text), sth, why, sizeof why);
	free(text);
	if (rc != NDX_OK)
		return ndx_fail(err, cap, NDX_EINVAL, "%s: %s", where, why);
	return NDX_OK;
}

static int exchange_of(struct ndx_usage *u, const json_t *o, size_t i, char *err, size_t cap)
{
	uint8_t path[NDX_MERKLE_MAX_PATH][NDX_SHA256_LEN], rh[NDX_SHA256_LEN];
	const json_t *ap = json_object_get(o, "audit_path");
	struct ndx_msglog_sth at = { 0 };
	const char *id = NULL;
	int64_t t = 0, seq = 0, batch = 0, leaf = 0;
	char where[64];
	size_t n;
	int rc;

	snprintf(where, sizeof where, "exchanges[%zu]", i);
	if (!json_is_object(o))
		return ndx_fail(err, cap, NDX_EINVAL, "%s: expected an object", where);
	if ((rc = get_str(o, "message_id", &id, err, cap)) || (rc = get_int(o, "time_ms", &t, err, cap)) ||
	    (rc = get_int(o, "seq", &seq, err, cap)) || (rc = get_int(o, "batch", &batch, err, cap)) ||
	    (rc = get_int(o, "leaf_index", &leaf, err, cap)) ||
	    (rc = get_hash(o, "record_hash", rh, err, cap))) {
		char field[256];

		snprintf(field, sizeof field, "%s", err ? err : "");
		return ndx_fail(err, cap, rc, "%s.%s", where, field);
	}
	if (!json_is_array(ap) || json_array_size(ap) > NDX_MERKLE_MAX_PATH)
		return ndx_fail(err, cap, NDX_EINVAL, "%s.audit_path: expected at most %d hashes",
			     where, NDX_MERKLE_MAX_PATH);
	n = json_array_size(ap);
	for (size_t k = 0; k < n; k++) {
		const json_t *h = json_array_get(ap, k);

		if (!json_is_string(h) || ndx_hex_decode(json_string_value(h), json_string_length(h),
							 path[k], NDX_SHA256_LEN) != NDX_OK)
			return ndx_fail(err, cap, NDX_EINVAL, "%s.audit_path[%zu]: expected 32 bytes "
				     "of hex", where, k);
	}
	/* The tree head is attached from u->heads by ndx_usage_check; here
	 * only its number, so that add_head keeps heads as parsed. */
	at.batch = (uint64_t)batch;
	rc = ndx_usage_add(u, id, t, (uint64_t)seq, rh, &at, (uint64_t)leaf,
			   (const uint8_t (*)[NDX_SHA256_LEN])path, n);
	if (rc == NDX_EINVAL)
		return ndx_fail(err, cap, rc, "%s: not after the exchange before it in the log's "
			     "order", where);
	if (rc != NDX_OK)
		return ndx_fail(err, cap, rc, "%s: %s", where, ndx_strerror(rc));
	return NDX_OK;
}

static int body_of(struct ndx_usage *u, const json_t *doc, char *err, size_t cap)
{
	const json_t *heads = json_object_get(doc, "tree_heads"), *ex = json_object_get(doc, "exchanges");
	const char *unit = NULL, *sig = NULL, *kid = NULL;
	int64_t count = 0;
	uint8_t *raw = NULL;
	size_t rawlen = 0;
	int rc;

	if ((rc = get_int(doc, "price", &u->price, err, cap)) ||
	    (rc = get_str(doc, "unit", &unit, err, cap)) ||
	    (rc = get_int(doc, "count", &count, err, cap)) ||
	    (rc = get_int(doc, "amount_due", &u->amount, err, cap)) ||
	    (rc = get_int(doc, "made_ms", &u->made_ms, err, cap)) ||
	    (rc = get_str(doc, "key_id", &kid, err, cap)) ||
	    (rc = get_str(doc, "signature", &sig, err, cap)) ||
	    (rc = sth_of(json_object_get(doc, "tree_head"), "tree_head", &u->head, err, cap)))
		return rc;
	u->count = (uint64_t)count;
	if (unit_of(unit, &u->unit) != NDX_OK)
		return ndx_fail(err, cap, NDX_EINVAL, "unit: expected free, ndx:VNDPerCall or "
			     "ndx:VNDPerMonth");
	if (strlen(kid) != NDX_KEY_ID_HEX_LEN)
		return ndx_fail(err, cap, NDX_EINVAL, "key_id: expected %d hex digits",
			     NDX_KEY_ID_HEX_LEN);
	memcpy(u->key_id, kid, NDX_KEY_ID_HEX_LEN + 1);
	if (ndx_b64_decode(sig, strlen(sig), 0, &raw, &rawlen) != NDX_OK ||
	    rawlen != NDX_ED25519_SIG_LEN) {
		free(raw);
		return ndx_fail(err, cap, NDX_EINVAL, "signature: expected base64 of %d bytes",
			     NDX_ED25519_SIG_LEN);
	}
	memcpy(u->signature, raw, rawlen);
	free(raw);
	if (!json_is_array(ex) || json_array_size(ex) > NDX_USAGE_EXCHANGES_MAX)
		return ndx_fail(err, cap, NDX_EINVAL, "exchanges: expected an array of at most %u",
			     NDX_USAGE_EXCHANGES_MAX);
	for (size_t i = 0; i < json_array_size(ex); i++)
		if ((rc = exchange_of(u, json_array_get(ex, i), i, err, cap)) != NDX_OK)
			return rc;
	/* exchange_of made one placeholder head per batch named; the tree
	 * heads given must be exactly those batches, ascending. */
	if (!json_is_array(heads) || json_array_size(heads) != u->nheads)
		return ndx_fail(err, cap, NDX_EINVAL, "tree_heads: expected the tree head of each "
			     "batch the exchanges name (%zu)", u->nheads);
	for (size_t i = 0; i < u->nheads; i++) {
		struct ndx_msglog_sth sth;
		char where[48];

		snprintf(where, sizeof where, "tree_heads[%zu]", i);
		if ((rc = sth_of(json_array_get(heads, i), where, &sth, err, cap)) != NDX_OK)
			return rc;
		if (sth.batch != u->heads[i].batch)
			return ndx_fail(err, cap, NDX_EINVAL, "%s: batch %" PRIu64 ", but the exchanges "
				     "name batch %" PRIu64 " here", where, sth.batch,
				     u->heads[i].batch);
		u->heads[i] = sth;
	}
	return NDX_OK;
}

int ndx_usage_parse(const char *json, size_t len, struct ndx_usage **out, char *err, size_t cap)
{
	const char *fmt = NULL, *agr = NULL, *client = NULL, *svc = NULL, *side = NULL, *gw = NULL;
	struct ndx_usage *u = NULL;
	int64_t from = 0, to = 0;
	json_error_t jerr;
	json_t *doc;
	int rc;

	assert(json && out);
	*out = NULL;
	doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (doc == NULL)
		return ndx_fail(err, cap, NDX_EINVAL, "not a JSON statement: %s (line %d)", jerr.text,
			     jerr.line);
	if (!json_is_object(doc)) {
		rc = ndx_fail(err, cap, NDX_EINVAL, "not a statement: expected a JSON object");
		goto out;
	}
	if ((rc = get_str(doc, "format", &fmt, err, cap)))
		goto out;
	if (strcmp(fmt, NDX_USAGE_FORMAT) != 0) {
		rc = ndx_fail(err, cap, NDX_EINVAL, "format: expected %s", NDX_USAGE_FORMAT);
		goto out;
	}
	if ((rc = get_str(doc, "agreement", &agr, err, cap)) ||
	    (rc = get_str(doc, "client", &client, err, cap)) ||
	    (rc = get_str(doc, "service", &svc, err, cap)) ||
	    (rc = get_str(doc, "side", &side, err, cap)) ||
	    (rc = get_str(doc, "gateway", &gw, err, cap)) ||
	    (rc = get_int(doc, "from_ms", &from, err, cap)) ||
	    (rc = get_int(doc, "to_ms", &to, err, cap)))
		goto out;
	if (strcmp(side, "provider") != 0 && strcmp(side, "consumer") != 0) {
		rc = ndx_fail(err, cap, NDX_EINVAL, "side: expected provider or consumer");
		goto out;
	}
	u = ndx_usage_new(agr, client, svc, gw, side[0] == 'p' ? NDX_MSGLOG_PROVIDER
							       : NDX_MSGLOG_CONSUMER,
			  from, to, 0, NDX_PRICE_FREE);
	if (u == NULL) {
		rc = ndx_fail(err, cap, NDX_ENOMEM, "out of memory");
		goto out;
	}
	rc = body_of(u, doc, err, cap);
out:
	json_decref(doc);
	if (rc != NDX_OK)
		ndx_usage_free(u);
	else
		*out = u;
	return rc;
}

/* ---- checks ----------------------------------------------------------- */

static const struct ndx_msglog_sth *head_of(const struct ndx_usage *u, uint64_t batch)
{
	size_t lo = 0, hi = u->nheads;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (u->heads[mid].batch < batch)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < u->nheads && u->heads[lo].batch == batch ? &u->heads[lo] : NULL;
}

static int check_heads(const struct ndx_usage *u, const struct ndx_key *key, char *err,
		       size_t cap)
{
	if (ndx_msglog_sth_check(key, &u->head) != NDX_OK)
		return ndx_fail(err, cap, NDX_EBADSIG, "the tree head (batch %" PRIu64 ") does not "
			     "verify with key %s", u->head.batch, u->key_id);
	for (size_t i = 0; i < u->nheads; i++) {
		if (ndx_msglog_sth_check(key, &u->heads[i]) != NDX_OK)
			return ndx_fail(err, cap, NDX_EBADSIG, "the tree head of batch %" PRIu64
				     " does not verify with key %s", u->heads[i].batch, u->key_id);
		if (u->heads[i].batch > u->head.batch)
			return ndx_fail(err, cap, NDX_EBADSIG, "batch %" PRIu64 " is newer than the "
				     "statement's tree head (batch %" PRIu64 ")",
				     u->heads[i].batch, u->head.batch);
	}
	return NDX_OK;
}

static int check_exchange(const struct ndx_usage *u, size_t i, char *err, size_t cap)
{
	const struct ndx_usage_exchange *x = &u->ex[i];
	const struct ndx_msglog_sth *sth = head_of(u, x->batch);
	uint8_t leaf[NDX_SHA256_LEN];

	if (x->time_ms < u->from_ms || x->time_ms >= u->to_ms)
		return ndx_fail(err, cap, NDX_EBADSIG, "exchange %s (record %" PRIu64 ") is outside "
			     "the statement's period", x->message_id, x->seq);
	if (sth == NULL || x->seq < sth->first_seq || x->seq - sth->first_seq >= sth->size ||
	    x->leaf_index != x->seq - sth->first_seq)
		return ndx_fail(err, cap, NDX_EBADSIG, "exchange %s: record %" PRIu64 " is not leaf %"
			     PRIu64 " of batch %" PRIu64, x->message_id, x->seq, x->leaf_index,
			     x->batch);
	ndx_merkle_leaf(x->record_hash, NDX_SHA256_LEN, leaf);
	if (ndx_merkle_verify(leaf, x->leaf_index, sth->size,
			      (const uint8_t (*)[NDX_SHA256_LEN])x->path, x->path_len,
			      sth->root) != NDX_OK)
		return ndx_fail(err, cap, NDX_EBADSIG, "exchange %s: its audit path does not lead to "
			     "the root of batch %" PRIu64 ": the record is not in that tree head",
			     x->message_id, x->batch);
	return NDX_OK;
}

static int cmp_ids(const void *a, const void *b, void *ctx)
{
	const struct ndx_usage *u = ctx;

	return strcmp(u->ex[*(const size_t *)a].message_id, u->ex[*(const size_t *)b].message_id);
}

static int cmp_index(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return x < y ? -1 : x > y;
}

/* The indexes of u->ex sorted by X-Road-Id; NULL when out of memory. */
static size_t *by_id(const struct ndx_usage *u)
{
	size_t *ix = malloc((u->nex ? u->nex : 1) * sizeof *ix);

	if (ix == NULL)
		return NULL;
	for (size_t i = 0; i < u->nex; i++)
		ix[i] = i;
	qsort_r(ix, u->nex, sizeof *ix, cmp_ids, (void *)u);
	return ix;
}

int ndx_usage_check(const struct ndx_usage *u, const struct ndx_key *key, char *err,
		    size_t cap)
{
	char kid[NDX_KEY_ID_HEX_LEN + 1];
	uint8_t h[NDX_SHA256_LEN];
	int64_t amount = 0;
	size_t *ix;
	int rc;

	assert(u && key);
	ndx_key_id(key, kid);
	if (strcmp(kid, u->key_id) != 0)
		return ndx_fail(err, cap, NDX_EBADSIG, "the statement names key %s, not the signer's "
			     "key %s", u->key_id, kid);
	ndx_usage_hash(u, h);
	if (ndx_verify(key, h, sizeof h, u->signature) != NDX_OK)
		return ndx_fail(err, cap, NDX_EBADSIG, "the signature does not verify with key %s: "
			     "the statement was altered or not signed by %s", kid, u->gateway);
	if (u->from_ms >= u->to_ms)
		return ndx_fail(err, cap, NDX_EBADSIG, "the period is empty");
	if ((rc = check_heads(u, key, err, cap)) != NDX_OK)
		return rc;
	for (size_t i = 0; i < u->nex; i++)
		if ((rc = check_exchange(u, i, err, cap)) != NDX_OK)
			return rc;
	if (!(ix = by_id(u)))
		return ndx_fail(err, cap, NDX_ENOMEM, "out of memory");
	for (size_t i = 1; i < u->nex && rc == NDX_OK; i++)
		if (strcmp(u->ex[ix[i - 1]].message_id, u->ex[ix[i]].message_id) == 0)
			rc = ndx_fail(err, cap, NDX_EBADSIG, "exchange %s is listed twice",
				   u->ex[ix[i]].message_id);
	free(ix);
	if (rc != NDX_OK)
		return rc;
	if (u->count != u->nex)
		return ndx_fail(err, cap, NDX_EBADSIG, "count %" PRIu64 " but %zu exchanges listed",
			     u->count, u->nex);
	if ((rc = ndx_usage_amount(u, &amount)) == NDX_ENOMEM)
		return ndx_fail(err, cap, rc, "out of memory");
	if (rc != NDX_OK || amount != u->amount)
		return ndx_fail(err, cap, NDX_EBADSIG, "amount due %" PRId64 " VND, but %zu exchanges "
			     "at %" PRId64 " VND (%s) make %" PRId64, u->amount, u->nex, u->price,
			     ndx_usage_unit_name(u->unit), amount);
	return NDX_OK;
}

int ndx_usage_diff(const struct ndx_usage *theirs, const struct ndx_usage *ours,
		   size_t **only_theirs, size_t *n_theirs, size_t **only_ours, size_t *n_ours)
{
	size_t *a = by_id(theirs), *b = by_id(ours), i = 0, j = 0;

	*only_theirs = malloc((theirs->nex ? theirs->nex : 1) * sizeof **only_theirs);
	*only_ours = malloc((ours->nex ? ours->nex : 1) * sizeof **only_ours);
	*n_theirs = *n_ours = 0;
	if (!a || !b || !*only_theirs || !*only_ours) {
		free(a);
		free(b);
		free(*only_theirs);
		free(*only_ours);
		*only_theirs = *only_ours = NULL;
		return NDX_ENOMEM;
	}
	while (i < theirs->nex || j < ours->nex) {
		int c = i == theirs->nex ? 1 : j == ours->nex ? -1
			: strcmp(theirs->ex[a[i]].message_id, ours->ex[b[j]].message_id);

		if (c < 0)
			(*only_theirs)[(*n_theirs)++] = a[i++];
		else if (c > 0)
			(*only_ours)[(*n_ours)++] = b[j++];
		else
			i++, j++;
	}
	free(a);
	free(b);
	qsort(*only_theirs, *n_theirs, sizeof **only_theirs, cmp_index);
	qsort(*only_ours, *n_ours, sizeof **only_ours, cmp_index);
	return NDX_OK;
}

/* ---- invoices (docs/marketplace.md "Invoices and clearing") --------------------------- */

void ndx_usage_reference(const uint8_t hash[NDX_SHA256_LEN], char out[NDX_USAGE_REF_LEN + 1])
{
	char hex[2 * NDX_SHA256_LEN + 1];

	ndx_hex_encode(hash, NDX_SHA256_LEN, hex);
	snprintf(out, NDX_USAGE_REF_LEN + 1, "MK%.23s", hex);
	for (char *p = out; *p; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 'a' + 'A');
}

int ndx_usage_invoice(const struct ndx_usage *u, const char *bin, const char *account,
		      const char *account_name, json_t **out, char *err, size_t cap)
{
	struct ndx_vietqr q = { 0 };
	uint8_t hash[NDX_SHA256_LEN];
	char hex[2 * NDX_SHA256_LEN + 1], reference[NDX_USAGE_REF_LEN + 1];
	char qr[NDX_VIETQR_PAYLOAD_MAX], seller[NDX_ID_TEXT_MAX], buyer[NDX_ID_TEXT_MAX];
	char f[NDX_TIME_TEXT_LEN], t[NDX_TIME_TEXT_LEN];
	const char *why = NULL;

	*out = NULL;
	if (u->amount <= 0)
		return ndx_fail(err, cap, NDX_EINVAL,
				"nothing is due on agreement %s for this period (%s, %" PRIu64
				" exchanges): no invoice", u->agreement, ndx_usage_unit_name(u->unit),
				u->count);
	ndx_usage_hash(u, hash);
	ndx_hex_encode(hash, NDX_SHA256_LEN, hex);
	ndx_usage_reference(hash, reference);
	if (!bin || !account || strlen(bin) != NDX_VIETQR_BIN_LEN ||
	    strlen(account) > NDX_VIETQR_ACCOUNT_MAX)
		return ndx_fail(err, cap, NDX_EINVAL, "cannot make the VietQR transfer: the BIN must "
				"be 6 digits and the account at most 19 characters");
	snprintf(q.bin, sizeof q.bin, "%s", bin);
	snprintf(q.account, sizeof q.account, "%s", account);
	q.amount_vnd = (uint64_t)u->amount;
	snprintf(q.reference, sizeof q.reference, "%s", reference);
	if (ndx_vietqr_encode(&q, qr, sizeof qr, &why) != NDX_OK)
		return ndx_fail(err, cap, NDX_EINVAL, "cannot make the VietQR transfer: %s",
				why ? why : "invalid");
	ndx_id_member_text(u->service, seller, sizeof seller);
	ndx_id_member_text(u->client, buyer, sizeof buyer);
	ndx_time_format((time_t)(u->from_ms / 1000), f);
	ndx_time_format((time_t)(u->to_ms / 1000), t);
	*out = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:I, s:I, "
			 "s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
			 "format", "ndx-invoice/1", "reference", reference, "agreement",
			 u->agreement, "seller", seller, "buyer", buyer, "client", u->client,
			 "from", f, "to", t, "from_ms", (json_int_t)u->from_ms, "to_ms",
			 (json_int_t)u->to_ms, "unit", ndx_usage_unit_name(u->unit), "count",
			 (json_int_t)u->count, "amount_vnd", (json_int_t)u->amount,
			 "statement_hash", hex, "statement_signer", u->gateway, "bin", bin,
			 "account", account, "account_name", account_name ? account_name : "",
			 "vietqr", qr, "currency", "VND");
	return *out ? NDX_OK : NDX_ENOMEM;
}
