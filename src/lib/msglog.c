/* The message log (include/ndx/msglog.h; encodings in docs/protocol.md
 * "Message log"): the record hash chain, batches with RFC 6962 roots and
 * chained signed tree heads, group commit, recovery, verification,
 * inclusion proofs and archiving. Appenders only queue their record and
 * either wait (ndx_msglog_append) or leave a callback and return
 * (ndx_msglog_append_async); one writer thread takes everything queued,
 * writes it in one transaction and commits it (one fsync for the group),
 * closing and signing batches as they fill or age, then wakes the waiting
 * appenders with the outcome and, once it has let go of the log's lock,
 * calls the callbacks of the others. One appender may write its own record
 * instead (ndx_msglog_append_inline), when the writer has nothing queued
 * and is not writing: whoever writes holds the log's writing token, so the
 * chain is continued by one thread at a time. A failed commit is rolled back and the
 * writer reloads its state from the store, so memory never runs ahead of
 * the disk. Storage goes through msglog_store.h: SQLite (msglog_sqlite.c)
 * for a file path, PostgreSQL (msglog_pg.c) for a postgresql:// connection
 * string. Several processes may write one PostgreSQL log (the nodes of a
 * gateway cluster, docs/scale.md "Gateway clusters"): each group, under the
 * log's write lock, first checks that the chain's head is still the one
 * its writer continues, and reloads it when another process moved it. */
#include "ndx/msglog.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/rand.h>

#include "msglog_store.h"
#include "ndx/conf.h"
#include "ndx/encode.h"
#include "ndx/err.h"
#include "ndx/file.h"
#include "ndx/merkle.h"
#include "ndx/timefmt.h"

#define LOG_FORMAT NDX__MSGLOG_FORMAT
#define LOG_FORMAT_PREFIX "ndx-msglog/"
/* /2: the record carries method, path, subjects, user id, issue and
 * authenticated; /3: also the represented party. A checker of an older
 * format would call a newer record altered, so it refuses it by format. */
#define PROOF_FORMAT "ndx-log-proof/3"
#define RECORD_LABEL "ndx-log-record-v3"
#define STH_LABEL "ndx-log-sth-v1"
#define WITNESS_LABEL "ndx-witness-v1"
#define WITNESS_FORMAT "ndx-witness/1"
/* The label, the gateway name, two 8-byte integer fields, one hash. */
#define WITNESS_MESSAGE_MAX ((8 + 14) + (8 + NDX_MSGLOG_GATEWAY_MAX) + 2 * (8 + 8) + (8 + 32))
/* The label field, four 8-byte integer fields, two 32-byte hash fields. */
#define STH_MESSAGE_LEN ((8 + 14) + 4 * (8 + 8) + 2 * (8 + 32))
/* A batch larger than this in a stored tree head is damage, not data. */
#define BATCH_SIZE_SANE (1u << 24)
#define ARCHIVE_PREFIX "ndx-log-"
#define ARCHIVE_SUFFIX ".sqlite"

/* ---- small helpers ---------------------------------------------------- */

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double mono_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Formats into an error buffer; returns rc so that callers can
 * `return fail(...)`. */
static int failf(char *buf, size_t cap, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int failf(char *buf, size_t cap, int rc, const char *fmt, ...)
{
	va_list ap;

	if (buf != NULL && cap > 0) {
		va_start(ap, fmt);
		vsnprintf(buf, cap, fmt, ap);
		va_end(ap);
	}
	return rc;
}

static const char *dir_name(enum ndx_msglog_direction d)
{
	return d == NDX_MSGLOG_PROVIDER ? "provider" : "consumer";
}

static const char *nz(const char *s)
{
	return s != NULL ? s : "";
}

/* ---- canonical encodings ---------------------------------------------- */

/* Encodes fields into a stack buffer and hashes it once; a record larger
 * than the buffer switches to incremental hashing on the way. */
struct sink {
	uint8_t buf[8192];
	size_t len;
	struct ndx_sha256 *ctx;
};

static void sink_put(struct sink *s, const void *d, size_t n)
{
	if (s->ctx == NULL && s->len + n > sizeof s->buf) {
		s->ctx = ndx_sha256_new();
		if (s->ctx == NULL) {
			/* As in hash.c: a digest that cannot be computed has no
			 * error to report, and a wrong one is worse than stopping. */
			fputs("ndx: out of memory hashing a log record\n", stderr);
			abort();
		}
		ndx_sha256_update(s->ctx, s->buf, s->len);
	}
	if (s->ctx != NULL) {
		ndx_sha256_update(s->ctx, d, n);
		return;
	}
	if (n > 0)
		memcpy(s->buf + s->len, d, n);
	s->len += n;
}

static void sink_field(struct sink *s, const void *d, size_t n)
{
	uint8_t be[8];

	put_be64(be, n);
	sink_put(s, be, 8);
	if (n > 0)
		sink_put(s, d, n);
}

static void sink_str(struct sink *s, const char *str)
{
	str = nz(str);
	sink_field(s, str, strlen(str));
}

static void sink_u64(struct sink *s, uint64_t v)
{
	uint8_t be[8];

	put_be64(be, v);
	sink_field(s, be, 8);
}

static void sink_final(struct sink *s, uint8_t out[NDX_SHA256_LEN])
{
	if (s->ctx != NULL) {
		ndx_sha256_final(s->ctx, out);
		ndx_sha256_free(s->ctx);
		s->ctx = NULL;
	} else {
		ndx_sha256(s->buf, s->len, out);
	}
}

void ndx_msglog_record_hash(const struct ndx_msglog_entry *e, uint8_t out[NDX_SHA256_LEN])
{
	struct sink s;

	s.len = 0;
	s.ctx = NULL;
	sink_str(&s, RECORD_LABEL);
	sink_u64(&s, e->seq);
	sink_u64(&s, (uint64_t)e->time_ms);
	sink_str(&s, dir_name(e->direction));
	sink_str(&s, e->message_id);
	sink_str(&s, e->client);
	sink_str(&s, e->service);
	sink_str(&s, e->method);
	sink_str(&s, e->path);
	sink_str(&s, e->subject);
	sink_str(&s, e->subjects);
	sink_str(&s, e->purpose);
	sink_str(&s, e->user_id);
	sink_str(&s, e->issue);
	sink_str(&s, e->represented_party);
	sink_str(&s, e->authenticated);
	sink_field(&s, e->request_hash, e->has_request_hash ? NDX_SHA256_LEN : 0);
	sink_field(&s, e->response_hash, e->has_response_hash ? NDX_SHA256_LEN : 0);
	sink_u64(&s, (uint64_t)(int64_t)e->status);
	sink_u64(&s, (uint64_t)e->duration_ms);
	sink_str(&s, e->request_sig);
	sink_str(&s, e->response_sig);
	sink_field(&s, e->prev_hash, NDX_SHA256_LEN);
	sink_final(&s, out);
}

static size_t put_field(uint8_t *p, const void *d, size_t n)
{
	put_be64(p, n);
	memcpy(p + 8, d, n);
	return 8 + n;
}

static size_t put_u64_field(uint8_t *p, uint64_t v)
{
	uint8_t be[8];

	put_be64(be, v);
	return put_field(p, be, 8);
}

size_t ndx_msglog_sth_message(const struct ndx_msglog_sth *sth, uint8_t *buf, size_t cap)
{
	uint8_t m[STH_MESSAGE_LEN];
	size_t n = 0;

	n += put_field(m + n, STH_LABEL, strlen(STH_LABEL));
	n += put_u64_field(m + n, sth->batch);
	n += put_u64_field(m + n, sth->first_seq);
	n += put_u64_field(m + n, sth->size);
	n += put_field(m + n, sth->root, NDX_SHA256_LEN);
	n += put_u64_field(m + n, (uint64_t)sth->time_ms);
	n += put_field(m + n, sth->prev_sth_hash, NDX_SHA256_LEN);
	assert(n == sizeof m);
	memcpy(buf, m, n < cap ? n : cap);
	return n;
}

void ndx_msglog_sth_hash(const struct ndx_msglog_sth *sth, uint8_t out[NDX_SHA256_LEN])
{
	uint8_t m[STH_MESSAGE_LEN + 8 + NDX_ED25519_SIG_LEN];
	size_t n = ndx_msglog_sth_message(sth, m, sizeof m);

	n += put_field(m + n, sth->signature, NDX_ED25519_SIG_LEN);
	ndx_sha256(m, n, out);
}

static int sth_sign(const struct ndx_key *key, struct ndx_msglog_sth *sth)
{
	uint8_t m[STH_MESSAGE_LEN];

	ndx_msglog_sth_message(sth, m, sizeof m);
	return ndx_sign(key, m, sizeof m, sth->signature);
}

static int sth_verify(const struct ndx_key *key, const struct ndx_msglog_sth *sth)
{
	uint8_t m[STH_MESSAGE_LEN];

	ndx_msglog_sth_message(sth, m, sizeof m);
	return ndx_verify(key, m, sizeof m, sth->signature);
}

int ndx_msglog_sth_check(const struct ndx_key *key, const struct ndx_msglog_sth *sth)
{
	assert(key != NULL && sth != NULL);
	return sth_verify(key, sth) == NDX_OK ? NDX_OK : NDX_EBADSIG;
}

size_t ndx_msglog_witness_message(const struct ndx_msglog_witness *w, uint8_t *buf, size_t cap)
{
	uint8_t m[WITNESS_MESSAGE_MAX];
	size_t n = 0, glen = strnlen(w->gateway, NDX_MSGLOG_GATEWAY_MAX);

	n += put_field(m + n, WITNESS_LABEL, strlen(WITNESS_LABEL));
	n += put_field(m + n, w->gateway, glen);
	n += put_u64_field(m + n, w->batch);
	n += put_field(m + n, w->sth_hash, NDX_SHA256_LEN);
	n += put_u64_field(m + n, (uint64_t)w->time_ms);
	assert(n <= sizeof m);
	memcpy(buf, m, n < cap ? n : cap);
	return n;
}

int ndx_msglog_witness_sign(const struct ndx_key *key, struct ndx_msglog_witness *w)
{
	uint8_t m[WITNESS_MESSAGE_MAX];
	size_t n;

	assert(key != NULL && w != NULL);
	n = ndx_msglog_witness_message(w, m, sizeof m);
	ndx_key_id(key, w->key_id);
	return ndx_sign(key, m, n, w->signature) == NDX_OK ? NDX_OK : NDX_ECRYPTO;
}

int ndx_msglog_witness_verify(const struct ndx_key *key, const struct ndx_msglog_witness *w)
{
	uint8_t m[WITNESS_MESSAGE_MAX];
	size_t n;

	assert(key != NULL && w != NULL);
	n = ndx_msglog_witness_message(w, m, sizeof m);
	return ndx_verify(key, m, n, w->signature) == NDX_OK ? NDX_OK : NDX_EBADSIG;
}

/* ---- JSON ------------------------------------------------------------- */

static json_t *j_hex(const uint8_t *b, size_t n)
{
	char hex[2 * 64 + 1];

	assert(n <= 64);
	ndx_hex_encode(b, n, hex);
	return json_string(hex);
}

static json_t *j_b64(const uint8_t *b, size_t n)
{
	char *t = ndx_b64_encode(b, n, 0);
	json_t *j = t != NULL ? json_string(t) : NULL;

	free(t);
	return j;
}

/* json_object_set_new that remembers a failure instead of checking each. */
static void jset(json_t *o, const char *k, json_t *v, bool *ok)
{
	if (v == NULL || json_object_set_new(o, k, v) != 0)
		*ok = false;
}

static json_t *sth_to_json(const struct ndx_msglog_sth *sth, const struct ndx_key *key)
{
	json_t *o = json_object();
	bool ok = o != NULL;

	if (!ok)
		return NULL;
	jset(o, "batch", json_integer((json_int_t)sth->batch), &ok);
	jset(o, "first_seq", json_integer((json_int_t)sth->first_seq), &ok);
	jset(o, "size", json_integer((json_int_t)sth->size), &ok);
	jset(o, "root", j_hex(sth->root, NDX_SHA256_LEN), &ok);
	jset(o, "time_ms", json_integer(sth->time_ms), &ok);
	jset(o, "prev_sth_hash", j_hex(sth->prev_sth_hash, NDX_SHA256_LEN), &ok);
	jset(o, "key_id", json_string(sth->key_id), &ok);
	if (key != NULL) {
		uint8_t pub[NDX_ED25519_PUBLIC_LEN];

		ndx_key_public_raw(key, pub);
		jset(o, "public_key", j_b64(pub, sizeof pub), &ok);
	}
	jset(o, "signature", j_b64(sth->signature, NDX_ED25519_SIG_LEN), &ok);
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

char *ndx_msglog_sth_json(const struct ndx_msglog_sth *sth, const struct ndx_key *key)
{
	json_t *o = sth_to_json(sth, key);
	char *text = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;

	json_decref(o);
	return text;
}

/* Field readers for proofs and stored tree heads: each names the field in
 * err and returns NDX_EINVAL when it is missing or of the wrong form. */
static int jget_u64(const json_t *o, const char *where, const char *k, uint64_t *out,
		    char *err, size_t cap)
{
	const json_t *v = json_object_get(o, k);

	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return failf(err, cap, NDX_EINVAL, "%s.%s: expected a non-negative integer",
			     where, k);
	*out = (uint64_t)json_integer_value(v);
	return NDX_OK;
}

static int jget_i64(const json_t *o, const char *where, const char *k, int64_t *out,
		    char *err, size_t cap)
{
	const json_t *v = json_object_get(o, k);

	if (!json_is_integer(v))
		return failf(err, cap, NDX_EINVAL, "%s.%s: expected an integer", where, k);
	*out = json_integer_value(v);
	return NDX_OK;
}

static int jget_str(const json_t *o, const char *where, const char *k, const char **out,
		    char *err, size_t cap)
{
	const json_t *v = json_object_get(o, k);

	if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
		return failf(err, cap, NDX_EINVAL, "%s.%s: expected a string", where, k);
	*out = json_string_value(v);
	return NDX_OK;
}

/* Exactly len bytes of hex; with optional, "" means absent (*has false). */
static int jget_hex(const json_t *o, const char *where, const char *k, uint8_t *out,
		    size_t len, bool optional, bool *has, char *err, size_t cap)
{
	const char *s = NULL;

	if (jget_str(o, where, k, &s, err, cap) != NDX_OK)
		return NDX_EINVAL;
	if (optional && s[0] == '\0') {
		*has = false;
		return NDX_OK;
	}
	if (ndx_hex_decode(s, strlen(s), out, len) != NDX_OK)
		return failf(err, cap, NDX_EINVAL, "%s.%s: expected %zu bytes of hex%s", where, k,
			     len, optional ? " or \"\"" : "");
	if (has != NULL)
		*has = true;
	return NDX_OK;
}

static int sth_from_json(const json_t *o, const char *where, struct ndx_msglog_sth *sth,
			 char *err, size_t cap)
{
	const char *kid = NULL, *sig = NULL;
	uint8_t *raw = NULL;
	size_t rawlen = 0;

	memset(sth, 0, sizeof *sth);
	if (!json_is_object(o))
		return failf(err, cap, NDX_EINVAL, "%s: expected an object", where);
	if (jget_u64(o, where, "batch", &sth->batch, err, cap) ||
	    jget_u64(o, where, "first_seq", &sth->first_seq, err, cap) ||
	    jget_u64(o, where, "size", &sth->size, err, cap) ||
	    jget_hex(o, where, "root", sth->root, NDX_SHA256_LEN, false, NULL, err, cap) ||
	    jget_i64(o, where, "time_ms", &sth->time_ms, err, cap) ||
	    jget_hex(o, where, "prev_sth_hash", sth->prev_sth_hash, NDX_SHA256_LEN, false, NULL,
		     err, cap) ||
	    jget_str(o, where, "key_id", &kid, err, cap) ||
	    jget_str(o, where, "signature", &sig, err, cap))
		return NDX_EINVAL;
	if (strlen(kid) != NDX_KEY_ID_HEX_LEN)
		return failf(err, cap, NDX_EINVAL, "%s.key_id: expected %d hex digits", where,
			     NDX_KEY_ID_HEX_LEN);
	memcpy(sth->key_id, kid, NDX_KEY_ID_HEX_LEN + 1);
	if (ndx_b64_decode(sig, strlen(sig), 0, &raw, &rawlen) != NDX_OK ||
	    rawlen != NDX_ED25519_SIG_LEN) {
		free(raw);
		return failf(err, cap, NDX_EINVAL, "%s.signature: expected base64 of %d bytes",
			     where, NDX_ED25519_SIG_LEN);
	}
	memcpy(sth->signature, raw, NDX_ED25519_SIG_LEN);
	free(raw);
	if (sth->batch == 0 || sth->first_seq == 0 || sth->size == 0)
		return failf(err, cap, NDX_EINVAL, "%s: batch, first_seq and size must be positive",
			     where);
	return NDX_OK;
}

int ndx_msglog_sth_parse(const char *json, size_t len, struct ndx_msglog_sth *sth, char *err,
			 size_t cap)
{
	json_t *o = json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL);
	int rc;

	assert(sth != NULL);
	if (o == NULL) {
		memset(sth, 0, sizeof *sth);
		return failf(err, cap, NDX_EINVAL, "tree head: not JSON");
	}
	rc = sth_from_json(o, "tree head", sth, err, cap);
	json_decref(o);
	return rc;
}

char *ndx_msglog_witness_json(const struct ndx_msglog_witness *w)
{
	json_t *o = json_object();
	char *text = NULL;
	bool ok = o != NULL;

	if (!ok)
		return NULL;
	jset(o, "format", json_string(WITNESS_FORMAT), &ok);
	jset(o, "gateway", json_string(w->gateway), &ok);
	jset(o, "batch", json_integer((json_int_t)w->batch), &ok);
	jset(o, "sth_hash", j_hex(w->sth_hash, NDX_SHA256_LEN), &ok);
	jset(o, "time_ms", json_integer(w->time_ms), &ok);
	jset(o, "key_id", json_string(w->key_id), &ok);
	jset(o, "signature", j_b64(w->signature, NDX_ED25519_SIG_LEN), &ok);
	if (ok)
		text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	return text;
}

int ndx_msglog_witness_parse(const char *json, size_t len, struct ndx_msglog_witness *w,
			     char *err, size_t cap)
{
	const char *where = "countersignature", *fmt = NULL, *gw = NULL, *kid = NULL, *sig = NULL;
	uint8_t *raw = NULL;
	size_t rawlen = 0;
	json_t *o = json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL);
	int rc = NDX_EINVAL;

	assert(w != NULL);
	memset(w, 0, sizeof *w);
	if (!json_is_object(o)) {
		rc = failf(err, cap, NDX_EINVAL, "%s: expected a JSON object", where);
		goto out;
	}
	if (jget_str(o, where, "format", &fmt, err, cap) || jget_str(o, where, "gateway", &gw, err, cap) ||
	    jget_u64(o, where, "batch", &w->batch, err, cap) ||
	    jget_hex(o, where, "sth_hash", w->sth_hash, NDX_SHA256_LEN, false, NULL, err, cap) ||
	    jget_i64(o, where, "time_ms", &w->time_ms, err, cap) ||
	    jget_str(o, where, "key_id", &kid, err, cap) ||
	    jget_str(o, where, "signature", &sig, err, cap))
		goto out;
	if (strcmp(fmt, WITNESS_FORMAT) != 0) {
		rc = failf(err, cap, NDX_EINVAL, "%s: format %.40s, not " WITNESS_FORMAT, where, fmt);
		goto out;
	}
	if (gw[0] == '\0' || strlen(gw) > NDX_MSGLOG_GATEWAY_MAX || w->batch == 0) {
		rc = failf(err, cap, NDX_EINVAL, "%s: gateway empty or too long, or batch 0", where);
		goto out;
	}
	memcpy(w->gateway, gw, strlen(gw) + 1);
	if (strlen(kid) != NDX_KEY_ID_HEX_LEN) {
		rc = failf(err, cap, NDX_EINVAL, "%s.key_id: expected %d hex digits", where,
			   NDX_KEY_ID_HEX_LEN);
		goto out;
	}
	memcpy(w->key_id, kid, NDX_KEY_ID_HEX_LEN + 1);
	if (ndx_b64_decode(sig, strlen(sig), 0, &raw, &rawlen) != NDX_OK ||
	    rawlen != NDX_ED25519_SIG_LEN) {
		rc = failf(err, cap, NDX_EINVAL, "%s.signature: expected base64 of %d bytes", where,
			   NDX_ED25519_SIG_LEN);
		goto out;
	}
	memcpy(w->signature, raw, NDX_ED25519_SIG_LEN);
	rc = NDX_OK;
out:
	free(raw);
	json_decref(o);
	return rc;
}

/* ---- meta: what the log is and where its live part starts -------------- */

/* Where a store's chain begins: 1 and zeros for a new log, later the
 * continuation of the archived records. */
struct chain {
	uint64_t next_seq;
	uint8_t prev_hash[NDX_SHA256_LEN];
	uint64_t next_batch;
	uint8_t prev_sth_hash[NDX_SHA256_LEN];
};

struct meta {
	char log_id[33];
	uint8_t pub[NDX_ED25519_PUBLIC_LEN];
	bool archive;
	struct chain start;
	bool has_archived_sth;         /* the last tree head moved to an archive */
	struct ndx_msglog_sth archived_sth;
};

static int meta_u64(struct ndx__msglog_store *st, const char *k, uint64_t *out)
{
	char *v = NULL, *end;
	unsigned long long n;
	int rc = st->ops->meta_get(st, k, &v);

	if (rc != NDX_OK)
		return rc == NDX_ENOTFOUND ? NDX_EINVAL : rc;
	errno = 0;
	n = strtoull(v, &end, 10);
	rc = errno != 0 || end == v || *end != '\0' || v[0] == '-' || n == 0 ? NDX_EINVAL : NDX_OK;
	free(v);
	*out = n;
	return rc;
}

static int meta_hex(struct ndx__msglog_store *st, const char *k, uint8_t *out, size_t len)
{
	char *v = NULL;
	int rc = st->ops->meta_get(st, k, &v);

	if (rc != NDX_OK)
		return rc == NDX_ENOTFOUND ? NDX_EINVAL : rc;
	rc = ndx_hex_decode(v, strlen(v), out, len);
	free(v);
	return rc;
}

static int meta_set_u64(struct ndx__msglog_store *st, const char *k, uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof buf, "%" PRIu64, v);
	return st->ops->meta_set(st, k, buf);
}

static int meta_set_hex(struct ndx__msglog_store *st, const char *k, const uint8_t *b)
{
	char hex[2 * NDX_SHA256_LEN + 1];

	ndx_hex_encode(b, NDX_SHA256_LEN, hex);
	return st->ops->meta_set(st, k, hex);
}

static int meta_set_chain(struct ndx__msglog_store *st, const struct chain *c)
{
	int rc = meta_set_u64(st, "start_seq", c->next_seq);

	if (rc == NDX_OK)
		rc = meta_set_u64(st, "start_batch", c->next_batch);
	if (rc == NDX_OK)
		rc = meta_set_hex(st, "start_prev_hash", c->prev_hash);
	if (rc == NDX_OK)
		rc = meta_set_hex(st, "start_prev_sth_hash", c->prev_sth_hash);
	return rc;
}

/* Reads the meta table. NDX_EINVAL (with err) when the store is not a
 * message log or its meta is damaged. */
static int meta_read(struct ndx__msglog_store *st, struct meta *m, char *err, size_t cap)
{
	char *v = NULL;
	uint8_t *raw = NULL;
	size_t rawlen = 0;
	int rc;

	memset(m, 0, sizeof *m);
	rc = st->ops->meta_get(st, "format", &v);
	if (rc == NDX_OK && strcmp(v, LOG_FORMAT) != 0 &&
	    strncmp(v, LOG_FORMAT_PREFIX, strlen(LOG_FORMAT_PREFIX)) == 0) {
		/* An older (or newer) log: nothing converts it, and writing
		 * /3 records after /2 ones would make one chain of two
		 * encodings. */
		failf(err, cap, NDX_EINVAL, "a message log of format %.40s, but this ndx reads and "
		      "writes only %s: check it with the ndx that wrote it, and let the gateway "
		      "start a new log in another file", v, LOG_FORMAT);
		free(v);
		return NDX_EINVAL;
	}
	if (rc == NDX_ENOTFOUND || (rc == NDX_OK && strcmp(v, LOG_FORMAT) != 0)) {
		free(v);
		return failf(err, cap, NDX_EINVAL, "not an ndx message log (format is not %s)",
			     LOG_FORMAT);
	}
	free(v);
	if (rc != NDX_OK)
		return failf(err, cap, rc, "cannot read the log's meta table");
	rc = st->ops->meta_get(st, "log_id", &v);
	if (rc == NDX_OK && strlen(v) == 32)
		memcpy(m->log_id, v, 33);
	else if (rc == NDX_OK)
		rc = NDX_EINVAL;
	free(v);
	v = NULL;
	if (rc == NDX_OK)
		rc = st->ops->meta_get(st, "public_key", &v);
	if (rc == NDX_OK && (ndx_b64_decode(v, strlen(v), 0, &raw, &rawlen) != NDX_OK ||
			     rawlen != NDX_ED25519_PUBLIC_LEN))
		rc = NDX_EINVAL;
	if (rc == NDX_OK)
		memcpy(m->pub, raw, NDX_ED25519_PUBLIC_LEN);
	free(raw);
	free(v);
	v = NULL;
	if (rc == NDX_OK) {
		rc = st->ops->meta_get(st, "kind", &v);
		if (rc == NDX_OK)
			m->archive = strcmp(v, "archive") == 0;
		else if (rc == NDX_ENOTFOUND)
			rc = NDX_OK;
		free(v);
		v = NULL;
	}
	if (rc == NDX_OK)
		rc = meta_u64(st, "start_seq", &m->start.next_seq);
	if (rc == NDX_OK)
		rc = meta_u64(st, "start_batch", &m->start.next_batch);
	if (rc == NDX_OK)
		rc = meta_hex(st, "start_prev_hash", m->start.prev_hash, NDX_SHA256_LEN);
	if (rc == NDX_OK)
		rc = meta_hex(st, "start_prev_sth_hash", m->start.prev_sth_hash, NDX_SHA256_LEN);
	if (rc == NDX_OK) {
		rc = st->ops->meta_get(st, "last_archived_sth", &v);
		if (rc == NDX_OK) {
			json_t *j = json_loads(v, 0, NULL);

			rc = sth_from_json(j, "last_archived_sth", &m->archived_sth, NULL, 0);
			m->has_archived_sth = rc == NDX_OK;
			json_decref(j);
		} else if (rc == NDX_ENOTFOUND) {
			rc = NDX_OK;
		}
		free(v);
	}
	if (rc == NDX_EINVAL)
		return failf(err, cap, rc, "the log's meta table is damaged");
	if (rc != NDX_OK)
		return failf(err, cap, rc, "cannot read the log's meta table");
	return NDX_OK;
}

static int meta_create(struct ndx__msglog_store *st, const struct ndx_key *key)
{
	uint8_t id[16], pub[NDX_ED25519_PUBLIC_LEN];
	char idhex[33], kid[NDX_KEY_ID_HEX_LEN + 1], *pub64;
	struct chain c = { .next_seq = 1, .next_batch = 1 };
	int rc;

	if (RAND_bytes(id, sizeof id) != 1)
		return NDX_ECRYPTO;
	ndx_hex_encode(id, sizeof id, idhex);
	ndx_key_public_raw(key, pub);
	ndx_key_id(key, kid);
	pub64 = ndx_b64_encode(pub, sizeof pub, 0);
	if (pub64 == NULL)
		return NDX_ENOMEM;
	rc = st->ops->meta_set(st, "format", LOG_FORMAT);
	if (rc == NDX_OK)
		rc = st->ops->meta_set(st, "log_id", idhex);
	if (rc == NDX_OK)
		rc = st->ops->meta_set(st, "public_key", pub64);
	if (rc == NDX_OK)
		rc = st->ops->meta_set(st, "key_id", kid);
	if (rc == NDX_OK)
		rc = meta_set_u64(st, "created_ms", (uint64_t)now_ms());
	if (rc == NDX_OK)
		rc = meta_set_chain(st, &c);
	free(pub64);
	return rc;
}

/* ---- the log: writer state, group commit ------------------------------ */

/* One queued append (rec != NULL), countersignature to store (wit !=
 * NULL) or a request to close the open batch. A waiting caller's pending
 * lives on its stack (cb NULL); an asynchronous append's (cb set) is
 * malloc'd, belongs to the log once queued and is freed by the writer
 * right after it called cb. */
struct pending {
	const struct ndx_msglog_record *rec;
	const struct ndx_msglog_witness *wit;
	int64_t time_ms;
	uint64_t seq;
	int rc;
	int own_rc;   /* a refusal of this one alone (a countersignature of another head) */
	bool done;
	/* Its appender waits here alone: the writer wakes exactly the
	 * appenders of the group it committed, not every waiting thread
	 * (with a thread per exchange, a broadcast woke dozens of threads
	 * only for them to sleep again). Not initialised when cb is set. */
	pthread_cond_t cv;
	ndx_msglog_done_fn cb;         /* asynchronous: called instead of waking cv */
	void *ud;
	struct pending *next;
};

/* The chain as the writer continues it; touched only by the thread that
 * holds the log's writing token (the writer thread, or an appender writing
 * its own record) and by open and close around the writer's life. */
struct wstate {
	struct chain c;
	uint64_t open_first;           /* first seq of the open batch */
	size_t open_n;                 /* records in it */
	uint8_t (*leaves)[NDX_SHA256_LEN];
	size_t leaves_cap;
	double open_since;             /* monotonic seconds when it opened */
	bool has_last;
	struct ndx_msglog_sth last;    /* latest tree head */
	bool broken;                   /* state must be reloaded before writing */
	uint64_t commits, failed_commits;
	uint64_t commit_buckets[NDX_MSGLOG_COMMIT_BUCKETS + 1];
	double commit_seconds;
	uint64_t unindexed;            /* records committed since the ids were indexed */
	bool ids_behind;               /* the store said records are left to index */
	bool ids_failing;              /* the last indexing failed (said once) */
	bool has_version;              /* data_version holds the store's, as last followed */
	uint64_t data_version;
};

struct ndx_msglog {
	struct ndx__msglog_store *st;  /* the writer thread's */
	struct ndx__msglog_store *rd;  /* readers', under rd_lock */
	pthread_mutex_t rd_lock;
	struct ndx__msglog_store *cl;  /* replay claims' (NULL: a log of one process), under cl_lock */
	pthread_mutex_t cl_lock;
	const struct ndx_key *key;
	char key_id[NDX_KEY_ID_HEX_LEN + 1];
	unsigned batch_max;
	double interval;               /* seconds */

	pthread_t thread;
	bool thread_started;
	pthread_mutex_t lock;
	pthread_cond_t work_cv;        /* the writer waits for work here */
	struct pending *queue, *tail;
	bool closing;
	/* The writing token, under lock: set while a thread (the writer, or an
	 * appender writing its own record) writes a group or indexes ids; ws
	 * and st belong to that thread until it clears it. */
	bool writing;
	bool ids_wanted;               /* an inline write left ids to index */
	bool writer_parked;            /* the writer waits for the token, untimed */
	int final_rc;
	struct ndx_msglog_head pub;    /* what ndx_msglog_head returns, under lock */

	struct wstate ws;
};

static int leaves_reserve(struct wstate *ws, size_t n)
{
	size_t cap = ws->leaves_cap ? ws->leaves_cap : 256;
	uint8_t (*nl)[NDX_SHA256_LEN];

	if (n <= ws->leaves_cap)
		return NDX_OK;
	while (cap < n)
		cap *= 2;
	nl = realloc(ws->leaves, cap * sizeof *nl);
	if (nl == NULL)
		return NDX_ENOMEM;
	ws->leaves = nl;
	ws->leaves_cap = cap;
	return NDX_OK;
}

static int leaf_push(struct wstate *ws, const uint8_t hash[NDX_SHA256_LEN])
{
	int rc = leaves_reserve(ws, ws->open_n + 1);

	if (rc != NDX_OK)
		return rc;
	if (ws->open_n == 0)
		ws->open_since = mono_seconds();
	ndx_merkle_leaf(hash, NDX_SHA256_LEN, ws->leaves[ws->open_n++]);
	return NDX_OK;
}

/* Rebuilds the writer state from the store: after open, and after a failed
 * commit, because only the store knows what is durable. */
static int load_state(struct ndx_msglog *log)
{
	struct ndx__msglog_store *st = log->st;
	struct wstate *ws = &log->ws;
	struct ndx__msglog_iter *it = NULL;
	struct ndx_msglog_entry e;
	struct ndx_msglog_sth sth;
	struct meta m;
	int rc, r;

	ws->broken = true;
	ws->open_n = 0;
	ws->has_last = false;
	ws->has_version = false;
	ws->ids_behind = true; /* unknown: the next idle turn looks */
	rc = meta_read(st, &m, NULL, 0);
	if (rc != NDX_OK)
		return rc;
	ws->c = m.start;
	ws->open_first = m.start.next_seq;
	if (m.has_archived_sth) {
		ws->last = m.archived_sth;
		ws->has_last = true;
	}
	rc = st->ops->iter_open(st, NDX__Q_BATCH_LAST, 0, NULL, &it);
	if (rc != NDX_OK)
		return rc;
	r = st->ops->iter_batch(it, &sth);
	st->ops->iter_close(it);
	if (r < 0)
		return r;
	if (r == 1) {
		ws->last = sth;
		ws->has_last = true;
		ws->c.next_batch = ws->last.batch + 1;
		ndx_msglog_sth_hash(&ws->last, ws->c.prev_sth_hash);
		ws->open_first = ws->last.first_seq + ws->last.size;
	}
	rc = st->ops->iter_open(st, NDX__Q_RECORD_LAST, 0, NULL, &it);
	if (rc != NDX_OK)
		return rc;
	r = st->ops->iter_record(it, &e);
	if (r == 1) {
		ws->c.next_seq = e.seq + 1;
		memcpy(ws->c.prev_hash, e.hash, NDX_SHA256_LEN);
	}
	st->ops->iter_close(it);
	if (r < 0)
		return r;
	if (r == 1 && ws->c.next_seq < ws->open_first)
		return NDX_EDB; /* tree heads cover records that are gone */
	if (r == 0)
		ws->c.next_seq = ws->open_first;
	/* The records of the open batch, whose leaves the next root needs. */
	rc = st->ops->iter_open(st, NDX__Q_RECORDS_FROM, ws->open_first, NULL, &it);
	if (rc != NDX_OK)
		return rc;
	while ((r = st->ops->iter_record(it, &e)) == 1) {
		if (e.seq != ws->open_first + ws->open_n) {
			r = NDX_EDB; /* a gap: the chain cannot be continued */
			break;
		}
		r = leaf_push(ws, e.hash);
		if (r != NDX_OK)
			break;
	}
	st->ops->iter_close(it);
	if (r < 0)
		return r;
	ws->broken = false;
	return NDX_OK;
}

/* Closes the open batch inside the current write transaction. The state
 * moves on only once the tree head is written; a later failed commit
 * reloads it anyway. */
static int close_batch(struct ndx_msglog *log)
{
	struct wstate *ws = &log->ws;
	struct ndx_msglog_sth sth;
	int rc;

	assert(ws->open_n > 0);
	memset(&sth, 0, sizeof sth);
	sth.batch = ws->c.next_batch;
	sth.first_seq = ws->open_first;
	sth.size = ws->open_n;
	rc = ndx_merkle_root((const uint8_t (*)[NDX_SHA256_LEN])ws->leaves, ws->open_n, sth.root);
	if (rc != NDX_OK)
		return rc;
	sth.time_ms = now_ms();
	memcpy(sth.key_id, log->key_id, sizeof sth.key_id);
	memcpy(sth.prev_sth_hash, ws->c.prev_sth_hash, NDX_SHA256_LEN);
	rc = sth_sign(log->key, &sth);
	if (rc != NDX_OK)
		return rc;
	rc = log->st->ops->put_batch(log->st, &sth);
	if (rc != NDX_OK)
		return rc;
	ws->c.next_batch++;
	ndx_msglog_sth_hash(&sth, ws->c.prev_sth_hash);
	ws->open_first += ws->open_n;
	ws->open_n = 0;
	ws->last = sth;
	ws->has_last = true;
	return NDX_OK;
}

static void entry_from_record(struct ndx_msglog_entry *e, const struct ndx_msglog_record *r,
			      int64_t time_ms)
{
	memset(e, 0, sizeof *e);
	e->time_ms = time_ms;
	e->direction = r->direction;
	e->message_id = nz(r->message_id);
	e->client = nz(r->client);
	e->service = nz(r->service);
	e->subject = nz(r->subject);
	e->purpose = nz(r->purpose);
	e->method = nz(r->method);
	e->path = nz(r->path);
	e->subjects = nz(r->subjects);
	e->user_id = nz(r->user_id);
	e->issue = nz(r->issue);
	e->represented_party = nz(r->represented_party);
	e->authenticated = nz(r->authenticated);
	if (r->request_hash != NULL) {
		e->has_request_hash = true;
		memcpy(e->request_hash, r->request_hash, NDX_SHA256_LEN);
	}
	if (r->response_hash != NULL) {
		e->has_response_hash = true;
		memcpy(e->response_hash, r->response_hash, NDX_SHA256_LEN);
	}
	e->status = r->status;
	e->duration_ms = r->duration_ms;
	e->request_sig = nz(r->request_sig);
	e->response_sig = nz(r->response_sig);
}

/* Stores p->wit inside the group's transaction once it is known to
 * countersign this log's own tree head; a countersignature of another head
 * is refused to its caller alone (p->own_rc), the group goes on. */
static int put_witness(struct ndx_msglog *log, struct pending *p)
{
	struct ndx__msglog_store *st = log->st;
	struct ndx__msglog_iter *it = NULL;
	struct ndx_msglog_sth sth;
	uint8_t h[NDX_SHA256_LEN];
	int rc, r;

	rc = st->ops->iter_open(st, NDX__Q_BATCHES_FROM, p->wit->batch, NULL, &it);
	if (rc != NDX_OK)
		return rc;
	r = st->ops->iter_batch(it, &sth);
	st->ops->iter_close(it);
	if (r < 0 && r != NDX_EINVAL)
		return r;
	if (r != 1 || sth.batch != p->wit->batch) {
		p->own_rc = NDX_ENOTFOUND;
		return NDX_OK;
	}
	ndx_msglog_sth_hash(&sth, h);
	if (memcmp(h, p->wit->sth_hash, NDX_SHA256_LEN) != 0) {
		p->own_rc = NDX_EBADSIG;
		return NDX_OK;
	}
	return st->ops->put_witness(st, p->wit);
}

/* Whether the writer state still continues the store's head: the last
 * record is the one this writer wrote last and the last tree head the one
 * it knows. Another process writing the same log (the other node of a
 * gateway cluster on one PostgreSQL log, docs/scale.md "Gateway clusters")
 * may have appended records or closed the open batch since this writer's
 * last commit. Called inside the write transaction, whose lock keeps the
 * head where it is until the commit: two single-row index lookups. Returns
 * 1 (current), 0 (moved on, or nothing to compare with: reload) or an
 * error. */
static int head_current(struct ndx_msglog *log)
{
	struct ndx__msglog_store *st = log->st;
	struct wstate *ws = &log->ws;
	struct ndx__msglog_iter *it = NULL;
	struct ndx_msglog_entry e;
	struct ndx_msglog_sth sth;
	uint8_t h[NDX_SHA256_LEN];
	bool same;
	int rc, r;

	rc = st->ops->iter_open(st, NDX__Q_RECORD_LAST, 0, NULL, &it);
	if (rc != NDX_OK)
		return rc;
	r = st->ops->iter_record(it, &e);
	same = r == 1 && e.seq + 1 == ws->c.next_seq &&
	       memcmp(e.hash, ws->c.prev_hash, NDX_SHA256_LEN) == 0;
	st->ops->iter_close(it);
	if (r < 0 || !same)
		return r < 0 ? r : 0;
	rc = st->ops->iter_open(st, NDX__Q_BATCH_LAST, 0, NULL, &it);
	if (rc != NDX_OK)
		return rc;
	r = st->ops->iter_batch(it, &sth);
	if (r == 1) {
		ndx_msglog_sth_hash(&sth, h);
		same = sth.batch + 1 == ws->c.next_batch &&
		       memcmp(h, ws->c.prev_sth_hash, NDX_SHA256_LEN) == 0;
	} else {
		same = false;
	}
	st->ops->iter_close(it);
	return r < 0 ? r : same ? 1 : 0;
}

/* Applies what other writers committed since this writer's last commit,
 * reading only that: their tree heads (each closing the open batch, whose
 * leaves it drops), then their records (the open batch's leaves). A batch
 * that stays open keeps its age, so that two writers taking turns never
 * postpone its closing; one that another writer opened ages from now.
 * NDX_EDB when the store does not continue this writer's view (a gap, a
 * head that does not chain): the caller then reloads everything. */
static int catch_up(struct ndx_msglog *log)
{
	struct ndx__msglog_store *st = log->st;
	struct wstate *ws = &log->ws;
	struct ndx__msglog_iter *it = NULL;
	struct ndx_msglog_entry e;
	struct ndx_msglog_sth sth;
	int rc, r;

	rc = st->ops->iter_open(st, NDX__Q_BATCHES_FROM, ws->c.next_batch, NULL, &it);
	if (rc != NDX_OK)
		return rc;
	while ((r = st->ops->iter_batch(it, &sth)) == 1) {
		if (sth.batch != ws->c.next_batch || sth.first_seq != ws->open_first ||
		    sth.size < ws->open_n ||
		    memcmp(sth.prev_sth_hash, ws->c.prev_sth_hash, NDX_SHA256_LEN) != 0) {
			r = NDX_EDB;
			break;
		}
		ws->open_n = 0;
		ws->open_first = sth.first_seq + sth.size;
		ws->c.next_batch++;
		ndx_msglog_sth_hash(&sth, ws->c.prev_sth_hash);
		ws->last = sth;
		ws->has_last = true;
	}
	st->ops->iter_close(it);
	if (r < 0)
		return r;
	rc = st->ops->iter_open(st, NDX__Q_RECORDS_FROM, ws->c.next_seq, NULL, &it);
	if (rc != NDX_OK)
		return rc;
	while ((r = st->ops->iter_record(it, &e)) == 1) {
		if (e.seq != ws->c.next_seq ||
		    memcmp(e.prev_hash, ws->c.prev_hash, NDX_SHA256_LEN) != 0 ||
		    (e.seq >= ws->open_first && e.seq != ws->open_first + ws->open_n)) {
			r = NDX_EDB;
			break;
		}
		if (e.seq >= ws->open_first && (r = leaf_push(ws, e.hash)) != NDX_OK)
			break;
		ws->c.next_seq++;
		memcpy(ws->c.prev_hash, e.hash, NDX_SHA256_LEN);
	}
	st->ops->iter_close(it);
	if (r < 0)
		return r;
	return ws->c.next_seq < ws->open_first ? NDX_EDB : NDX_OK;
}

/* Brings the writer state up to the store's head inside the write
 * transaction when another writer moved it (head_current): what was added
 * since (catch_up), or everything again when that does not fit. */
static int follow_head(struct ndx_msglog *log)
{
	int rc = head_current(log);

	if (rc != 0)
		return rc < 0 ? rc : NDX_OK;
	rc = catch_up(log);
	return rc == NDX_OK ? NDX_OK : load_state(log);
}

/* follow_head, unless the store says that no other connection committed
 * since this writer last followed it: then its head is this writer's own
 * and the two lookups of head_current are spared (SQLite's data_version, a
 * counter in memory). */
static int follow_head_if_moved(struct ndx_msglog *log)
{
	struct ndx__msglog_store *st = log->st;
	struct wstate *ws = &log->ws;
	uint64_t version;
	int rc;

	if (st->ops->data_version == NULL)
		return follow_head(log);
	rc = st->ops->data_version(st, &version);
	if (rc != NDX_OK)
		return rc;
	if (ws->has_version && version == ws->data_version)
		return NDX_OK;
	rc = follow_head(log);
	ws->has_version = rc == NDX_OK;
	ws->data_version = version;
	return rc;
}

const double ndx_msglog_commit_le[NDX_MSGLOG_COMMIT_BUCKETS] = {
	0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5,
};

static void count_commit(struct wstate *ws, double seconds)
{
	size_t b = 0;

	while (b < NDX_MSGLOG_COMMIT_BUCKETS && seconds > ndx_msglog_commit_le[b])
		b++;
	ws->commit_buckets[b]++;
	ws->commit_seconds += seconds;
}

/* Records a group commit carries before the message ids are indexed
 * behind them (store index_ids): one transaction's random index pages
 * shared by this many records, not paid in every commit. A lookup by
 * message id finds the records past the index by their seq. */
#define IDS_CHUNK 512

/* Whether the index of message ids is to be brought up to date now: when
 * a chunk's worth of records waits, or when the writer is idle (its batch
 * timer, closing) and any does. */
static bool ids_due(const struct ndx_msglog *log, bool idle)
{
	const struct wstate *ws = &log->ws;

	return log->st->ops->index_ids != NULL && !ws->broken &&
	       (ws->unindexed > 0 || ws->ids_behind) && (idle || ws->unindexed >= IDS_CHUNK);
}

/* Indexes the next chunk (ids_due said so): a larger one when idle, so
 * that a log written before the index existed catches up in its quiet
 * moments. Runs on the writer thread between groups, never inside one,
 * without the log's lock. */
static void index_ids(struct ndx_msglog *log, bool idle)
{
	struct wstate *ws = &log->ws;
	int rc;

	rc = log->st->ops->index_ids(log->st, (idle ? 16 : 2) * IDS_CHUNK, &ws->ids_behind);
	if (rc == NDX_OK) {
		ws->unindexed = 0;
		if (ws->ids_failing)
			fprintf(stderr, "msglog: the index of message ids is written again\n");
		ws->ids_failing = false;
	} else if (!ws->ids_failing) {
		/* The records are durable; only lookups by message id scan
		 * further until it works again. */
		fprintf(stderr, "msglog: cannot write the index of message ids (%s); "
				"lookups by message id read the records after it\n",
			ndx_strerror(rc));
		ws->ids_failing = true;
	}
}

/* Records of a group handed to the store at once (put_records), so that it
 * can insert them with a few statements rather than one each. */
#define PUT_AT_ONCE 32

/* Hands the store the entries gathered so far; *n is 0 afterwards. */
static int put_entries(struct ndx__msglog_store *st, const struct ndx_msglog_entry *ents,
		       size_t *n)
{
	int rc = *n > 0 ? st->ops->put_records(st, ents, *n) : NDX_OK;

	*n = 0;
	return rc;
}

/* Writes one group in one transaction: the queued records (and closes),
 * then the open batch too when close_all. Runs on the writer thread, or on
 * an appender holding the writing token with nowait: then NDX_EBUSY, with
 * nothing written and nothing changed, when another process holds the
 * store's write lock. */
static int write_group(struct ndx_msglog *log, struct pending *list, bool close_all, bool nowait)
{
	struct ndx__msglog_store *st = log->st;
	struct wstate *ws = &log->ws;
	struct ndx_msglog_entry ents[PUT_AT_ONCE];
	size_t n_ents = 0;
	uint64_t seq0;
	int rc;

	if (ws->broken) {
		rc = load_state(log);
		if (rc != NDX_OK)
			return rc;
	}
	if (list == NULL && (!close_all || ws->open_n == 0))
		return NDX_OK;
	seq0 = ws->c.next_seq;
	rc = nowait ? st->ops->try_begin_write(st) : st->ops->begin(st, true);
	if (rc == NDX_EBUSY && nowait)
		return rc;
	if (rc == NDX_OK)
		rc = follow_head_if_moved(log);
	for (struct pending *p = list; p != NULL && rc == NDX_OK; p = p->next) {
		struct ndx_msglog_entry *e;

		if (p->wit != NULL) {
			rc = put_entries(st, ents, &n_ents);
			if (rc == NDX_OK)
				rc = put_witness(log, p);
			continue;
		}
		if (p->rec == NULL) {
			if (ws->open_n > 0)
				rc = put_entries(st, ents, &n_ents);
			if (rc == NDX_OK && ws->open_n > 0)
				rc = close_batch(log);
			continue;
		}
		/* The state moves on before the store has the record: a
		 * failure anywhere in the group rolls back and reloads it. */
		e = &ents[n_ents];
		entry_from_record(e, p->rec, p->time_ms);
		e->seq = ws->c.next_seq;
		memcpy(e->prev_hash, ws->c.prev_hash, NDX_SHA256_LEN);
		ndx_msglog_record_hash(e, e->hash);
		rc = leaf_push(ws, e->hash);
		if (rc != NDX_OK)
			break;
		n_ents++;
		p->seq = e->seq;
		ws->c.next_seq++;
		memcpy(ws->c.prev_hash, e->hash, NDX_SHA256_LEN);
		if (n_ents == PUT_AT_ONCE || ws->open_n >= log->batch_max)
			rc = put_entries(st, ents, &n_ents);
		if (rc == NDX_OK && ws->open_n >= log->batch_max)
			rc = close_batch(log);
	}
	if (rc == NDX_OK)
		rc = put_entries(st, ents, &n_ents);
	if (rc == NDX_OK && close_all && ws->open_n > 0)
		rc = close_batch(log);
	if (rc == NDX_OK) {
		double started = mono_seconds();

		rc = st->ops->commit(st);
		if (rc == NDX_OK)
			count_commit(ws, mono_seconds() - started);
	}
	if (rc == NDX_OK) {
		ws->commits++;
		ws->unindexed += ws->c.next_seq - seq0;
		return NDX_OK;
	}
	st->ops->rollback(st);
	ws->failed_commits++;
	/* Whatever the store kept is the truth; a reload that fails now is
	 * retried before the next group. */
	(void)load_state(log);
	return rc;
}

/* Copies the writer's view into the published head; caller holds lock. */
static void publish_head(struct ndx_msglog *log)
{
	struct wstate *ws = &log->ws;

	if (ws->has_last) {
		log->pub.sth = ws->last;
		log->pub.covered = ws->last.first_seq + ws->last.size - 1;
	}
	log->pub.last_seq = ws->c.next_seq - 1;
	log->pub.commits = ws->commits;
	log->pub.failed_commits = ws->failed_commits;
	memcpy(log->pub.commit_buckets, ws->commit_buckets, sizeof ws->commit_buckets);
	log->pub.commit_seconds = ws->commit_seconds;
}

static void deadline_of(const struct ndx_msglog *log, struct timespec *ts)
{
	double t = log->ws.open_since + log->interval;

	ts->tv_sec = (time_t)t;
	ts->tv_nsec = (long)((t - (double)ts->tv_sec) * 1e9);
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* Wakes the appenders of a written group (caller holds lock) and returns
 * the asynchronous ones, in queue order, to be called back once the lock
 * is released. */
static struct pending *complete_group(struct pending *list, int rc)
{
	struct pending *p, *next, *async = NULL, **async_tail = &async;

	for (p = list; p != NULL; p = next) {
		next = p->next;
		p->rc = rc != NDX_OK ? rc : p->own_rc;
		if (p->cb != NULL) {
			p->next = NULL;
			*async_tail = p;
			async_tail = &p->next;
			continue;
		}
		/* p lives on its appender's stack: it may return as soon as
		 * the lock is released, so nothing of p is read after. */
		p->done = true;
		pthread_cond_signal(&p->cv);
	}
	return async;
}

static void *writer_main(void *arg)
{
	struct ndx_msglog *log = arg;

	pthread_mutex_lock(&log->lock);
	for (;;) {
		struct pending *list, *p, *next, *async;
		bool timer = false, stop;
		int rc;

		/* An appender writing its own record holds the token: wait for
		 * it (it signals when done), whatever else is due. */
		while (log->writing || (log->queue == NULL && !log->closing && !log->ids_wanted)) {
			if (!log->writing && log->ws.open_n > 0 && !log->ws.broken) {
				struct timespec dl;

				if (mono_seconds() >= log->ws.open_since + log->interval) {
					timer = true;
					break;
				}
				deadline_of(log, &dl);
				pthread_cond_timedwait(&log->work_cv, &log->lock, &dl);
			} else {
				log->writer_parked = log->writing;
				pthread_cond_wait(&log->work_cv, &log->lock);
				log->writer_parked = false;
			}
		}
		/* One yield before taking the queue: appenders that are
		 * runnable on this CPU right now (exchanges about to log) get
		 * to queue first and share this group's commit and fsync. With
		 * nothing else runnable it returns at once, so a lone record
		 * waits for nothing. Measured (bench/README.md): groups grow
		 * and the gateways carry about 35 % more exchanges at 64
		 * connections; yielding more than once did worse. */
		if (log->queue != NULL && !log->closing) {
			pthread_mutex_unlock(&log->lock);
			sched_yield();
			pthread_mutex_lock(&log->lock);
			if (log->writing)
				continue; /* an appender took the token meanwhile */
		}
		list = log->queue;
		log->queue = log->tail = NULL;
		stop = list == NULL && log->closing;
		log->writing = true;
		log->ids_wanted = false;
		pthread_mutex_unlock(&log->lock);

		if (log->ws.open_n > 0 && mono_seconds() >= log->ws.open_since + log->interval)
			timer = true;
		rc = write_group(log, list, timer || stop, false);

		pthread_mutex_lock(&log->lock);
		publish_head(log);
		async = complete_group(list, rc);
		if (stop)
			log->final_rc = rc;
		if (async != NULL) {
			/* Outside the lock: a callback never holds up appenders,
			 * ndx_msglog_head or the waking of the next group. */
			pthread_mutex_unlock(&log->lock);
			for (p = async; p != NULL; p = next) {
				next = p->next;
				p->cb(p->ud, p->rc, p->rc == NDX_OK ? p->seq : 0);
				free(p);
			}
			pthread_mutex_lock(&log->lock);
		}
		if (rc == NDX_OK && ids_due(log, timer || stop)) {
			pthread_mutex_unlock(&log->lock);
			index_ids(log, timer || stop);
			pthread_mutex_lock(&log->lock);
		}
		log->writing = false;
		if (stop)
			break;
	}
	pthread_mutex_unlock(&log->lock);
	return NULL;
}

static void log_free(struct ndx_msglog *log)
{
	if (log == NULL)
		return;
	/* The writer's connection closes last: the last connection to a WAL
	 * database checkpoints it and removes the -wal file. */
	if (log->rd != NULL)
		log->rd->ops->close(log->rd);
	if (log->cl != NULL)
		log->cl->ops->close(log->cl);
	if (log->st != NULL)
		log->st->ops->close(log->st);
	/* The writer stops only with the queue empty, and nothing is queued
	 * once closing is set: no asynchronous pending is left to free. */
	assert(log->queue == NULL);
	free(log->ws.leaves);
	pthread_mutex_destroy(&log->rd_lock);
	pthread_mutex_destroy(&log->cl_lock);
	pthread_mutex_destroy(&log->lock);
	pthread_cond_destroy(&log->work_cv);
	free(log);
}

/* Creates the meta table of a new log, or checks that an existing one is a
 * live log of this key. */
static int open_meta(struct ndx__msglog_store *st, const struct ndx_key *key)
{
	uint8_t pub[NDX_ED25519_PUBLIC_LEN];
	char *fmt = NULL;
	struct meta m;
	int rc = st->ops->begin(st, true);

	if (rc != NDX_OK)
		return rc;
	rc = st->ops->meta_get(st, "format", &fmt);
	free(fmt);
	if (rc == NDX_ENOTFOUND) {
		rc = meta_create(st, key);
		if (rc == NDX_OK)
			rc = st->ops->commit(st);
		if (rc != NDX_OK)
			st->ops->rollback(st);
		return rc;
	}
	if (rc == NDX_OK)
		rc = meta_read(st, &m, NULL, 0);
	st->ops->rollback(st);
	if (rc != NDX_OK)
		return rc;
	if (m.archive)
		return NDX_EINVAL;
	ndx_key_public_raw(key, pub);
	if (memcmp(pub, m.pub, sizeof pub) != 0)
		return NDX_EPERM;
	return NDX_OK;
}

int ndx__msglog_open_store(struct ndx__msglog_store *w, struct ndx__msglog_store *r,
			   const struct ndx_key *key, const struct ndx_msglog_options *opt,
			   struct ndx_msglog **out)
{
	struct ndx_msglog *log;
	pthread_condattr_t ca;
	int rc;

	assert(w != NULL && key != NULL && out != NULL);
	*out = NULL;
	log = calloc(1, sizeof *log);
	if (log == NULL) {
		w->ops->close(w);
		if (r != NULL)
			r->ops->close(r);
		return NDX_ENOMEM;
	}
	log->st = w;
	log->rd = r;
	log->key = key;
	ndx_key_id(key, log->key_id);
	log->batch_max = opt != NULL && opt->batch_max > 0 ? opt->batch_max
							   : NDX_MSGLOG_BATCH_MAX_DEFAULT;
	log->interval = (opt != NULL && opt->batch_interval_ms > 0
				 ? opt->batch_interval_ms
				 : NDX_MSGLOG_BATCH_INTERVAL_DEFAULT_MS) / 1000.0;
	pthread_mutex_init(&log->rd_lock, NULL);
	pthread_mutex_init(&log->cl_lock, NULL);
	pthread_mutex_init(&log->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&log->work_cv, &ca);
	pthread_condattr_destroy(&ca);

	if (!ndx_key_has_private(key)) {
		rc = NDX_EINVAL;
		goto fail;
	}
	rc = open_meta(w, key);
	if (rc == NDX_OK)
		rc = load_state(log);
	/* Records a crash left without a tree head get one now. */
	if (rc == NDX_OK && log->ws.open_n > 0)
		rc = write_group(log, NULL, true, false);
	if (rc != NDX_OK)
		goto fail;
	publish_head(log);
	if (pthread_create(&log->thread, NULL, writer_main, log) != 0) {
		rc = NDX_ENOMEM;
		goto fail;
	}
	/* so that `top -H` and a profile tell it from the loops */
	pthread_setname_np(log->thread, "msglog-writer");
	log->thread_started = true;
	*out = log;
	return NDX_OK;
fail:
	log_free(log);
	return rc;
}

/* path as messages may show it: a connection string without its password. */
static const char *shown(const char *path, char *buf, size_t cap)
{
	if (!ndx__msglog_is_pg(path))
		return path;
	ndx__msglog_pg_name(path, buf, cap);
	return buf;
}

bool ndx_msglog_is_connection_string(const char *path)
{
	return path && ndx__msglog_is_pg(path);
}

int ndx__msglog_store_open(const char *path, int flags, struct ndx__msglog_store **out)
{
	if (ndx__msglog_is_pg(path))
		return ndx__msglog_pg_open(path, flags, out);
	return ndx__msglog_sqlite_open(path, flags, out);
}

int ndx_msglog_open(const char *path, const struct ndx_key *key,
		    const struct ndx_msglog_options *opt, struct ndx_msglog **out)
{
	struct ndx__msglog_store *w = NULL, *r = NULL;
	int rc;

	assert(path != NULL && key != NULL && out != NULL);
	*out = NULL;
	rc = ndx__msglog_store_open(path, 0, &w);
	if (rc != NDX_OK)
		return rc;
	rc = ndx__msglog_store_open(path, NDX__MSGLOG_READONLY, &r);
	if (rc != NDX_OK) {
		w->ops->close(w);
		return rc;
	}
	rc = ndx__msglog_open_store(w, r, key, opt, out);
	if (rc == NDX_OK && w->ops->claim != NULL) {
		/* A store several processes may write (PostgreSQL) gets a
		 * connection of its own for the replay claims. */
		rc = ndx__msglog_store_open(path, 0, &(*out)->cl);
		if (rc != NDX_OK) {
			ndx_msglog_close(*out);
			*out = NULL;
		}
	}
	return rc;
}

int ndx_msglog_claim(struct ndx_msglog *log, const uint8_t key[NDX_SHA256_LEN], int64_t now_ms,
		     int64_t expires_ms)
{
	int rc;

	assert(log != NULL && key != NULL);
	if (log->cl == NULL)
		return NDX_ENOTFOUND;
	pthread_mutex_lock(&log->cl_lock);
	rc = log->cl->ops->claim(log->cl, key, now_ms, expires_ms);
	pthread_mutex_unlock(&log->cl_lock);
	return rc;
}

int ndx_msglog_count_call(struct ndx_msglog *log, const char *agreement, int64_t period_start,
			  int64_t max)
{
	int rc;

	assert(log != NULL && agreement != NULL);
	if (log->cl == NULL || log->cl->ops->count_call == NULL)
		return NDX_ENOTFOUND;
	pthread_mutex_lock(&log->cl_lock);
	rc = log->cl->ops->count_call(log->cl, agreement, period_start, max);
	pthread_mutex_unlock(&log->cl_lock);
	return rc;
}

int ndx_msglog_give_back_call(struct ndx_msglog *log, const char *agreement,
			      int64_t period_start)
{
	int rc;

	assert(log != NULL && agreement != NULL);
	if (log->cl == NULL || log->cl->ops->give_back_call == NULL)
		return NDX_ENOTFOUND;
	pthread_mutex_lock(&log->cl_lock);
	rc = log->cl->ops->give_back_call(log->cl, agreement, period_start);
	pthread_mutex_unlock(&log->cl_lock);
	return rc;
}

static int field_ok(const char *s)
{
	return s == NULL || strnlen(s, NDX_MSGLOG_FIELD_MAX + 1) <= NDX_MSGLOG_FIELD_MAX;
}

/* Queues p (caller holds log->lock) and wakes the writer; NDX_EINVAL once
 * the log is closing, p then not queued. */
static int enqueue(struct ndx_msglog *log, struct pending *p)
{
	if (log->closing)
		return NDX_EINVAL;
	p->next = NULL;
	if (log->tail != NULL)
		log->tail->next = p;
	else
		log->queue = p;
	log->tail = p;
	pthread_cond_signal(&log->work_cv);
	return NDX_OK;
}

/* Queues p and waits until the writer has committed (or failed) it. */
static int submit(struct ndx_msglog *log, struct pending *p)
{
	int rc;

	pthread_mutex_lock(&log->lock);
	pthread_cond_init(&p->cv, NULL);
	rc = enqueue(log, p);
	while (rc == NDX_OK && !p->done)
		pthread_cond_wait(&p->cv, &log->lock);
	pthread_mutex_unlock(&log->lock);
	pthread_cond_destroy(&p->cv);
	return rc == NDX_OK ? p->rc : rc;
}

/* What both appends check before queueing anything: NDX_OK, NDX_EINVAL
 * (bad direction) or NDX_ETOOBIG (a field over NDX_MSGLOG_FIELD_MAX). */
static int record_check(const struct ndx_msglog_record *rec)
{
	if (rec->direction != NDX_MSGLOG_CONSUMER && rec->direction != NDX_MSGLOG_PROVIDER)
		return NDX_EINVAL;
	if (!field_ok(rec->message_id) || !field_ok(rec->client) || !field_ok(rec->service) ||
	    !field_ok(rec->subject) || !field_ok(rec->purpose) || !field_ok(rec->request_sig) ||
	    !field_ok(rec->response_sig) || !field_ok(rec->method) || !field_ok(rec->path) ||
	    !field_ok(rec->subjects) || !field_ok(rec->user_id) || !field_ok(rec->issue) ||
	    !field_ok(rec->represented_party) || !field_ok(rec->authenticated))
		return NDX_ETOOBIG;
	return NDX_OK;
}

/* A checked record's pending: its time is taken when it is queued. */
static void pending_of_record(struct pending *p, const struct ndx_msglog_record *rec)
{
	memset(p, 0, sizeof *p);
	p->rec = rec;
	p->time_ms = rec->time_ms != 0 ? rec->time_ms : now_ms();
}

int ndx_msglog_append(struct ndx_msglog *log, const struct ndx_msglog_record *rec,
		      uint64_t *seq_out)
{
	struct pending p;
	int rc;

	assert(log != NULL && rec != NULL);
	rc = record_check(rec);
	if (rc != NDX_OK)
		return rc;
	pending_of_record(&p, rec);
	rc = submit(log, &p);
	if (rc == NDX_OK && seq_out != NULL)
		*seq_out = p.seq;
	return rc;
}

int ndx_msglog_append_async(struct ndx_msglog *log, const struct ndx_msglog_record *rec,
			    ndx_msglog_done_fn done, void *ud)
{
	struct pending *p;
	int rc;

	assert(log != NULL && rec != NULL && done != NULL);
	rc = record_check(rec);
	if (rc != NDX_OK)
		return rc;
	p = malloc(sizeof *p);
	if (p == NULL)
		return NDX_ENOMEM;
	pending_of_record(p, rec);
	p->cb = done;
	p->ud = ud;
	pthread_mutex_lock(&log->lock);
	rc = enqueue(log, p);
	pthread_mutex_unlock(&log->lock);
	/* Refused: never queued, so never seen by the writer. Queued: the
	 * writer owns p now and may already have freed it. */
	if (rc != NDX_OK)
		free(p);
	return rc;
}

int ndx_msglog_append_inline(struct ndx_msglog *log, const struct ndx_msglog_record *rec,
			     ndx_msglog_done_fn done, void *ud)
{
	struct pending p;
	bool opened, timer, wake;
	int rc;

	assert(log != NULL && rec != NULL && done != NULL);
	rc = record_check(rec);
	if (rc != NDX_OK)
		return rc;
	pthread_mutex_lock(&log->lock);
	if (log->closing || log->writing || log->queue != NULL ||
	    log->st->ops->try_begin_write == NULL) {
		/* The writer is busy or has work, or the store's commits wait
		 * on a server: this record joins the writer's next group, as
		 * ndx_msglog_append_async's would. */
		pthread_mutex_unlock(&log->lock);
		return ndx_msglog_append_async(log, rec, done, ud);
	}
	log->writing = true;
	opened = log->ws.open_n > 0;
	pthread_mutex_unlock(&log->lock);

	pending_of_record(&p, rec);
	timer = opened && mono_seconds() >= log->ws.open_since + log->interval;
	rc = write_group(log, &p, timer, true);

	pthread_mutex_lock(&log->lock);
	publish_head(log);
	if (rc == NDX_OK && ids_due(log, false))
		log->ids_wanted = true;
	log->writing = false;
	/* The writer sleeps on the open batch's age, or without a timeout when
	 * none was open or while the token was taken: it must look again when
	 * it waited for the token, when a batch opened here, or when anything
	 * waits for it (a queue, ids, closing). */
	wake = log->writer_parked || log->queue != NULL || log->closing || log->ids_wanted ||
	       (!opened && log->ws.open_n > 0);
	if (wake)
		pthread_cond_signal(&log->work_cv);
	pthread_mutex_unlock(&log->lock);
	if (rc == NDX_EBUSY) {
		/* Another process holds the write lock (ndx log archive): the
		 * writer thread waits for it, not the caller's event loop. */
		return ndx_msglog_append_async(log, rec, done, ud);
	}
	rc = rc != NDX_OK ? rc : p.own_rc;
	done(ud, rc, rc == NDX_OK ? p.seq : 0);
	return NDX_OK;
}

int ndx_msglog_seal(struct ndx_msglog *log)
{
	struct pending p;

	assert(log != NULL);
	memset(&p, 0, sizeof p);
	return submit(log, &p);
}

int ndx_msglog_add_witness(struct ndx_msglog *log, const struct ndx_msglog_witness *w)
{
	struct pending p;

	assert(log != NULL && w != NULL);
	memset(&p, 0, sizeof p);
	p.wit = w;
	return submit(log, &p);
}

int ndx_msglog_last_witness(struct ndx_msglog *log, struct ndx_msglog_witness *out)
{
	struct ndx__msglog_iter *it = NULL;
	int rc, r = 0;

	assert(log != NULL && out != NULL);
	memset(out, 0, sizeof *out);
	if (log->rd == NULL)
		return NDX_EINVAL;
	pthread_mutex_lock(&log->rd_lock);
	rc = log->rd->ops->iter_open(log->rd, NDX__Q_WITNESS_LAST, 0, NULL, &it);
	if (rc == NDX_OK) {
		r = log->rd->ops->iter_witness(it, out);
		log->rd->ops->iter_close(it);
	}
	pthread_mutex_unlock(&log->rd_lock);
	if (rc != NDX_OK)
		return rc;
	return r == 1 ? NDX_OK : r == 0 ? NDX_ENOTFOUND : NDX_EDB;
}

int ndx_msglog_heads(struct ndx_msglog *log, uint64_t from_batch, struct ndx_msglog_sth *out,
		     size_t max, size_t *n)
{
	struct ndx__msglog_iter *it = NULL;
	int rc, r = 0;

	assert(log != NULL && n != NULL && (out != NULL || max == 0));
	*n = 0;
	if (log->rd == NULL)
		return NDX_EINVAL;
	pthread_mutex_lock(&log->rd_lock);
	rc = log->rd->ops->iter_open(log->rd, NDX__Q_BATCHES_FROM, from_batch, NULL, &it);
	if (rc == NDX_OK) {
		while (*n < max && (r = log->rd->ops->iter_batch(it, &out[*n])) == 1)
			(*n)++;
		log->rd->ops->iter_close(it);
	}
	pthread_mutex_unlock(&log->rd_lock);
	if (rc == NDX_OK && r < 0)
		rc = NDX_EDB;
	return rc;
}

void ndx_msglog_head(struct ndx_msglog *log, struct ndx_msglog_head *out)
{
	assert(log != NULL && out != NULL);
	pthread_mutex_lock(&log->lock);
	*out = log->pub;
	pthread_mutex_unlock(&log->lock);
}

/* Whether e is about subject: its subject, or an element of its subjects. */
static bool entry_about(const struct ndx_msglog_entry *e, const char *subject)
{
	const char *cursor = e->subjects, *elem;
	size_t len, n = strlen(subject);

	if (strcmp(nz(e->subject), subject) == 0)
		return true;
	while (ndx__msglog_subjects_next(&cursor, &elem, &len))
		if (len == n && memcmp(elem, subject, n) == 0)
			return true;
	return false;
}

/* Hands cb the records a read query yields, in its order, until cb returns
 * non-zero or a record is older than since_ms. With a subject, a record
 * the subject index names but that is not about it is passed over: an
 * index row added behind the log's back never puts someone else's record
 * in a citizen's list (ndx_msglog_verify reports such a row). */
static int each_record(struct ndx_msglog *log, enum ndx__msglog_query query, const char *subject,
		       int64_t since_ms, ndx_msglog_entry_cb cb, void *ctx)
{
	struct ndx__msglog_iter *it = NULL;
	struct ndx_msglog_entry e;
	int rc, r;

	pthread_mutex_lock(&log->rd_lock);
	rc = log->rd->ops->iter_open(log->rd, query, 0, subject, &it);
	if (rc == NDX_OK) {
		while ((r = log->rd->ops->iter_record(it, &e)) == 1) {
			if (subject != NULL && !entry_about(&e, subject))
				continue;
			if (e.time_ms < since_ms || cb(&e, ctx) != 0)
				break;
		}
		if (r < 0)
			rc = r == NDX_EINVAL ? NDX_EDB : r;
		log->rd->ops->iter_close(it);
	}
	pthread_mutex_unlock(&log->rd_lock);
	return rc;
}

int ndx_msglog_by_subject(struct ndx_msglog *log, const char *subject,
			  ndx_msglog_entry_cb cb, void *ctx)
{
	assert(log != NULL && cb != NULL);
	if (subject == NULL || subject[0] == '\0' || log->rd == NULL)
		return NDX_EINVAL;
	return each_record(log, NDX__Q_RECORDS_BY_SUBJECT, subject, INT64_MIN, cb, ctx);
}

int ndx_msglog_recent(struct ndx_msglog *log, int64_t since_ms, ndx_msglog_entry_cb cb,
		      void *ctx)
{
	assert(log != NULL && cb != NULL);
	if (log->rd == NULL)
		return NDX_EINVAL;
	return each_record(log, NDX__Q_RECORDS_DESC, NULL, since_ms, cb, ctx);
}

int ndx_msglog_after(struct ndx_msglog *log, uint64_t after_seq, unsigned limit,
		     ndx_msglog_entry_cb cb, void *ctx)
{
	struct ndx__msglog_iter *it = NULL;
	struct ndx_msglog_entry e;
	unsigned n = 0;
	int rc, r = 0;

	assert(log != NULL && cb != NULL);
	if (log->rd == NULL)
		return NDX_EINVAL;
	/* No record can follow the last possible seq; limit 0 asks for none. */
	if (limit == 0 || after_seq == UINT64_MAX)
		return NDX_OK;
	pthread_mutex_lock(&log->rd_lock);
	/* The store's range query takes "seq >= u": the record after after_seq. */
	rc = log->rd->ops->iter_open(log->rd, NDX__Q_RECORDS_FROM, after_seq + 1, NULL, &it);
	if (rc == NDX_OK) {
		while (n < limit && (r = log->rd->ops->iter_record(it, &e)) == 1) {
			n++;
			if (cb(&e, ctx) != 0)
				break;
		}
		if (r < 0)
			rc = r == NDX_EINVAL ? NDX_EDB : r;
		log->rd->ops->iter_close(it);
	}
	pthread_mutex_unlock(&log->rd_lock);
	return rc;
}

int ndx_msglog_close(struct ndx_msglog *log)
{
	int rc;

	if (log == NULL)
		return NDX_OK;
	pthread_mutex_lock(&log->lock);
	log->closing = true;
	pthread_cond_signal(&log->work_cv);
	pthread_mutex_unlock(&log->lock);
	if (log->thread_started)
		pthread_join(log->thread, NULL);
	rc = log->final_rc;
	log_free(log);
	return rc;
}

/* ---- verification ----------------------------------------------------- */

struct verifier {
	const struct ndx_key *key;
	char key_id[NDX_KEY_ID_HEX_LEN + 1];
	struct ndx_msglog_verify_result *res;
	struct chain c;
	uint8_t (*leaves)[NDX_SHA256_LEN];
	size_t cap;
	char where[300];               /* "" or "archive FILE: " */
	/* The subject index walked beside the records: the row at hand. */
	struct ndx__msglog_iter *si;
	int si_r;                      /* 1: si_seq/si_subject hold a row; 0: end */
	/* The countersignatures walked beside the batches: the row at hand. */
	const struct ndx_anchor *anchor; /* NULL: hashes compared, signatures not */
	struct ndx__msglog_iter *wi;
	int wi_r;                      /* 1: w holds a row; 0: end */
	struct ndx_msglog_witness w;
	uint64_t si_seq;
	const char *si_subject;
};

static int vfail(struct verifier *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int vfail(struct verifier *v, const char *fmt, ...)
{
	char *out = v->res->error;
	size_t cap = sizeof v->res->error, n;
	va_list ap;

	n = strnlen(v->where, cap - 1);
	memcpy(out, v->where, n);
	out[n] = '\0';
	va_start(ap, fmt);
	vsnprintf(out + n, cap - n, fmt, ap);
	va_end(ap);
	return NDX_EBADSIG;
}

/* One subject of a record: a piece of its subject or subjects text. */
struct subj {
	const char *p;
	size_t n;
};

/* SQLite's BINARY order of TEXT: bytes, then the shorter first. */
static int subj_cmp(const void *a, const void *b)
{
	const struct subj *x = a, *y = b;
	int c = memcmp(x->p, y->p, x->n < y->n ? x->n : y->n);

	return c != 0 ? c : (x->n > y->n) - (x->n < y->n);
}

static int subj_cmp_text(const struct subj *x, const char *t)
{
	struct subj y = { t, strlen(t) };

	return subj_cmp(x, &y);
}

/* The subjects the index must hold for e, sorted and distinct: *out is
 * malloc'd (caller frees) when there is any. */
static int expected_subjects(const struct ndx_msglog_entry *e, struct subj **out, size_t *n)
{
	const char *cursor = e->subjects, *elem;
	size_t len, cap = e->subject != NULL && e->subject[0] != '\0' ? 1 : 0, k = 0;
	struct subj *list;

	*out = NULL;
	*n = 0;
	for (const char *p = nz(e->subjects); *p != '\0'; p++)
		cap += *p == ',';
	cap += e->subjects != NULL && e->subjects[0] != '\0';
	if (cap == 0)
		return NDX_OK;
	list = malloc(cap * sizeof *list);
	if (list == NULL)
		return NDX_ENOMEM;
	if (e->subject != NULL && e->subject[0] != '\0')
		list[k++] = (struct subj){ e->subject, strlen(e->subject) };
	while (k < cap && ndx__msglog_subjects_next(&cursor, &elem, &len))
		list[k++] = (struct subj){ elem, len };
	qsort(list, k, sizeof *list, subj_cmp);
	*n = 0;
	for (size_t i = 0; i < k; i++)
		if (*n == 0 || subj_cmp(&list[*n - 1], &list[i]) != 0)
			list[(*n)++] = list[i];
	*out = list;
	return NDX_OK;
}

static int si_next(struct verifier *v, struct ndx__msglog_store *st)
{
	v->si_r = st->ops->iter_subject(v->si, &v->si_seq, &v->si_subject);
	return v->si_r < 0 ? v->si_r : NDX_OK;
}

/* The subject index rows of e must be exactly its subjects: the index is
 * not hashed, and a row taken out would hide the record from that
 * citizen's access list. Rows are consumed in (seq, subject) order. */
static int check_subject_index(struct verifier *v, struct ndx__msglog_store *st,
			       const struct ndx_msglog_entry *e)
{
	struct subj *want = NULL;
	size_t n = 0, i = 0;
	int rc = expected_subjects(e, &want, &n);

	if (rc != NDX_OK)
		return rc;
	while (rc == NDX_OK && v->si_r == 1 && v->si_seq < e->seq) {
		rc = vfail(v, "the subject index lists %.40s for record %" PRIu64
			   ", which is not in the log", v->si_subject, v->si_seq);
	}
	for (; rc == NDX_OK && i < n; i++) {
		int c = v->si_r == 1 && v->si_seq == e->seq ? subj_cmp_text(&want[i], v->si_subject)
							     : -1;

		if (c < 0)
			rc = vfail(v, "record %" PRIu64 ": subject %.*s is missing from the subject "
				   "index", e->seq, (int)(want[i].n < 40 ? want[i].n : 40), want[i].p);
		else if (c > 0)
			break;
		else
			rc = si_next(v, st);
	}
	if (rc == NDX_OK && v->si_r == 1 && v->si_seq == e->seq)
		rc = vfail(v, "record %" PRIu64 ": the subject index lists %.40s, which is not "
			   "among its subjects", e->seq, v->si_subject);
	free(want);
	return rc;
}

/* Checks one record against the chain (its place, stored hash, link). */
static int check_record(struct verifier *v, int r, const struct ndx_msglog_entry *e)
{
	uint8_t h[NDX_SHA256_LEN];
	uint64_t want = v->c.next_seq;

	if (r == NDX_EINVAL)
		return vfail(v, "record %" PRIu64 ": malformed row (a hash of the wrong length, "
			     "an unknown direction or a value out of range)", e->seq);
	if (e->seq != want) {
		if (e->seq > want && want > 1)
			return vfail(v, "missing record %" PRIu64 " (record %" PRIu64
				     " is followed by record %" PRIu64 ")", want, want - 1, e->seq);
		if (e->seq > want)
			return vfail(v, "missing record %" PRIu64 " (the log begins with record %"
				     PRIu64 ")", want, e->seq);
		return vfail(v, "records %" PRIu64 " and %" PRIu64 " out of order", want - 1, e->seq);
	}
	ndx_msglog_record_hash(e, h);
	if (memcmp(h, e->hash, NDX_SHA256_LEN) != 0)
		return vfail(v, "record %" PRIu64 ": stored hash does not match its contents", e->seq);
	if (memcmp(e->prev_hash, v->c.prev_hash, NDX_SHA256_LEN) != 0) {
		if (e->seq > 1)
			return vfail(v, "record %" PRIu64 ": prev_hash does not match record %" PRIu64,
				     e->seq, e->seq - 1);
		return vfail(v, "record 1: prev_hash is not 32 zero bytes");
	}
	memcpy(v->c.prev_hash, e->hash, NDX_SHA256_LEN);
	v->c.next_seq++;
	if (v->res->records++ == 0)
		v->res->first_seq = e->seq;
	v->res->last_seq = e->seq;
	return NDX_OK;
}

static int check_batch(struct verifier *v, const struct ndx_msglog_sth *sth, size_t n)
{
	uint8_t root[NDX_SHA256_LEN];
	uint64_t last = sth->first_seq + sth->size - 1;

	ndx_merkle_root((const uint8_t (*)[NDX_SHA256_LEN])v->leaves, n, root);
	if (memcmp(root, sth->root, NDX_SHA256_LEN) != 0)
		return vfail(v, "batch %" PRIu64 ": root does not match records %" PRIu64 "..%" PRIu64,
			     sth->batch, sth->first_seq, last);
	if (memcmp(sth->prev_sth_hash, v->c.prev_sth_hash, NDX_SHA256_LEN) != 0) {
		if (sth->batch > 1)
			return vfail(v, "batch %" PRIu64 ": prev_sth_hash does not match the tree head "
				     "of batch %" PRIu64, sth->batch, sth->batch - 1);
		return vfail(v, "batch 1: prev_sth_hash is not 32 zero bytes");
	}
	if (strcmp(sth->key_id, v->key_id) != 0)
		return vfail(v, "batch %" PRIu64 ": signed by key %s, not by the expected key %s",
			     sth->batch, sth->key_id, v->key_id);
	if (sth_verify(v->key, sth) != NDX_OK)
		return vfail(v, "batch %" PRIu64 ": signature does not verify", sth->batch);
	ndx_msglog_sth_hash(sth, v->c.prev_sth_hash);
	v->c.next_batch++;
	v->res->batches++;
	v->res->batched += sth->size;
	v->res->head = *sth;
	return NDX_OK;
}

static int wi_next(struct verifier *v, struct ndx__msglog_store *st)
{
	v->wi_r = st->ops->iter_witness(v->wi, &v->w);
	if (v->wi_r == NDX_EINVAL)
		return vfail(v, "the countersignature of batch %" PRIu64 " is malformed (a value "
			     "of the wrong length or out of range)", v->w.batch);
	return v->wi_r < 0 ? v->wi_r : NDX_OK;
}

/* The countersignature at hand: by a key of the anchor (when one is
 * given), and of the same gateway as the others. */
static int witness_signed(struct verifier *v)
{
	const struct ndx_msglog_witness *w = &v->w;
	struct ndx_msglog_verify_result *res = v->res;

	if (res->witness_gateway[0] != '\0' && strcmp(res->witness_gateway, w->gateway) != 0)
		return vfail(v, "batch %" PRIu64 ": countersigned as a tree head of gateway %.200s, "
			     "others as of %.200s", w->batch, w->gateway, res->witness_gateway);
	if (v->anchor != NULL) {
		const struct ndx_key *k = ndx_anchor_key(v->anchor, w->key_id);

		if (k == NULL)
			return vfail(v, "batch %" PRIu64 ": countersigned with key %s, which is not a "
				     "key of the anchor", w->batch, w->key_id);
		if (ndx_msglog_witness_verify(k, w) != NDX_OK)
			return vfail(v, "batch %" PRIu64 ": the countersignature does not verify",
				     w->batch);
	}
	memcpy(res->witness_gateway, w->gateway, sizeof res->witness_gateway);
	res->witnesses++;
	return NDX_OK;
}

/* Called once batch sth has verified (v->c.prev_sth_hash is now its STH
 * hash): countersignatures of earlier batches (archived, not checked here)
 * are only checked for their signature; one of this batch must countersign
 * exactly this head. */
static int check_witness(struct verifier *v, struct ndx__msglog_store *st,
			 const struct ndx_msglog_sth *sth)
{
	int rc = NDX_OK;

	while (rc == NDX_OK && v->wi_r == 1 && v->w.batch <= sth->batch) {
		if (v->w.batch == sth->batch) {
			char hex[2 * NDX_SHA256_LEN + 1];

			if (memcmp(v->w.sth_hash, v->c.prev_sth_hash, NDX_SHA256_LEN) != 0) {
				ndx_hex_encode(v->w.sth_hash, 8, hex);
				return vfail(v, "batch %" PRIu64 ": the witnessed tree head (STH hash "
					     "%s...) is not this log's: the history was rewritten or "
					     "forked after the witness countersigned it", sth->batch, hex);
			}
			rc = witness_signed(v);
			if (rc == NDX_OK) {
				v->res->witnessed_batch = v->w.batch;
				v->res->witnessed_ms = v->w.time_ms;
			}
		} else {
			rc = witness_signed(v);
		}
		if (rc == NDX_OK)
			rc = wi_next(v, st);
	}
	return rc;
}

/* After the last batch: a countersignature of a batch the log does not
 * hold means batches were taken away after they were witnessed. */
static int check_witness_rest(struct verifier *v, struct ndx__msglog_store *st)
{
	int rc = NDX_OK;

	while (rc == NDX_OK && v->wi_r == 1) {
		if (v->w.batch >= v->c.next_batch)
			return vfail(v, "batch %" PRIu64 ": countersigned by a witness, but the log "
				     "holds no such batch (it ends at batch %" PRIu64 "): the history "
				     "was cut short or rewritten", v->w.batch, v->c.next_batch - 1);
		rc = witness_signed(v);
		if (rc == NDX_OK)
			rc = wi_next(v, st);
	}
	return rc;
}

/* Verifies every batch and record of one store (a live log or an archive
 * file) continuing v->c, in one read transaction. all_batched: every record
 * must be under a tree head (archives). */
static int verify_store(struct verifier *v, struct ndx__msglog_store *st, bool all_batched)
{
	struct ndx__msglog_iter *bi = NULL, *ri = NULL;
	struct ndx_msglog_entry e;
	struct ndx_msglog_sth sth;
	int rc, r;

	rc = st->ops->begin(st, false);
	if (rc != NDX_OK) {
		snprintf(v->res->error, sizeof v->res->error, "%scannot read the log", v->where);
		return rc;
	}
	rc = st->ops->iter_open(st, NDX__Q_BATCHES_FROM, 0, NULL, &bi);
	if (rc == NDX_OK)
		rc = st->ops->iter_open(st, NDX__Q_RECORDS_FROM, 0, NULL, &ri);
	if (rc == NDX_OK)
		rc = st->ops->iter_open(st, NDX__Q_SUBJECT_INDEX, 0, NULL, &v->si);
	if (rc == NDX_OK)
		rc = si_next(v, st);
	if (rc == NDX_OK)
		rc = st->ops->iter_open(st, NDX__Q_WITNESSES_FROM, 0, NULL, &v->wi);
	if (rc == NDX_OK)
		rc = wi_next(v, st);
	while (rc == NDX_OK && (r = st->ops->iter_batch(bi, &sth)) != 0) {
		if (r == NDX_EINVAL) {
			rc = vfail(v, "batch %" PRIu64 ": malformed row (a value of the wrong length "
				   "or out of range)", sth.batch);
			break;
		}
		if (r < 0) {
			rc = r;
			break;
		}
		if (sth.batch != v->c.next_batch) {
			rc = sth.batch > v->c.next_batch
				     ? vfail(v, "missing batch %" PRIu64 " (next is batch %" PRIu64 ")",
					     v->c.next_batch, sth.batch)
				     : vfail(v, "batches %" PRIu64 " and %" PRIu64 " out of order",
					     v->c.next_batch - 1, sth.batch);
			break;
		}
		if (sth.first_seq != v->c.next_seq) {
			rc = vfail(v, "batch %" PRIu64 ": starts at record %" PRIu64
				   ", but the previous batch ends at record %" PRIu64,
				   sth.batch, sth.first_seq, v->c.next_seq - 1);
			break;
		}
		if (sth.size > BATCH_SIZE_SANE) {
			rc = vfail(v, "batch %" PRIu64 ": implausible size %" PRIu64, sth.batch, sth.size);
			break;
		}
		if (sth.size > v->cap) {
			void *nl = realloc(v->leaves, sth.size * sizeof *v->leaves);

			if (nl == NULL) {
				rc = NDX_ENOMEM;
				break;
			}
			v->leaves = nl;
			v->cap = sth.size;
		}
		for (uint64_t i = 0; i < sth.size && rc == NDX_OK; i++) {
			r = st->ops->iter_record(ri, &e);
			if (r == 0)
				rc = vfail(v, "missing record %" PRIu64 " (batch %" PRIu64
					   " covers records %" PRIu64 "..%" PRIu64 ")", v->c.next_seq,
					   sth.batch, sth.first_seq, sth.first_seq + sth.size - 1);
			else if (r < 0 && r != NDX_EINVAL)
				rc = r;
			else
				rc = check_record(v, r, &e);
			if (rc == NDX_OK)
				rc = check_subject_index(v, st, &e);
			if (rc == NDX_OK)
				ndx_merkle_leaf(e.hash, NDX_SHA256_LEN, v->leaves[i]);
		}
		if (rc == NDX_OK)
			rc = check_batch(v, &sth, (size_t)sth.size);
		if (rc == NDX_OK)
			rc = check_witness(v, st, &sth);
	}
	if (rc == NDX_OK)
		rc = check_witness_rest(v, st);
	/* Records after the last tree head: the open batch. */
	while (rc == NDX_OK && (r = st->ops->iter_record(ri, &e)) != 0) {
		if (r < 0 && r != NDX_EINVAL) {
			rc = r;
			break;
		}
		rc = check_record(v, r, &e);
		if (rc == NDX_OK)
			rc = check_subject_index(v, st, &e);
		if (rc == NDX_OK && all_batched)
			rc = vfail(v, "record %" PRIu64 " is not covered by a tree head", e.seq);
	}
	if (rc == NDX_OK && v->si_r == 1)
		rc = vfail(v, "the subject index lists %.40s for record %" PRIu64
			   ", which is not in the log", v->si_subject, v->si_seq);
	st->ops->iter_close(v->si);
	v->si = NULL;
	st->ops->iter_close(v->wi);
	v->wi = NULL;
	st->ops->iter_close(ri);
	st->ops->iter_close(bi);
	st->ops->rollback(st);
	if (rc != NDX_OK && rc != NDX_EBADSIG)
		snprintf(v->res->error, sizeof v->res->error, "%scannot read the log: %s",
			 v->where, ndx_strerror(rc));
	return rc;
}

static int chain_equal(const struct chain *a, const struct chain *b)
{
	return a->next_seq == b->next_seq && a->next_batch == b->next_batch &&
	       memcmp(a->prev_hash, b->prev_hash, NDX_SHA256_LEN) == 0 &&
	       memcmp(a->prev_sth_hash, b->prev_sth_hash, NDX_SHA256_LEN) == 0;
}

/* Explains why a store's recorded start does not continue the chain. */
static int chain_mismatch(struct verifier *v, const struct chain *start, const char *what)
{
	if (start->next_seq != v->c.next_seq && v->c.next_seq == 1)
		return vfail(v, "%s starts at record %" PRIu64 ", but no archive holds the records "
			     "before it", what, start->next_seq);
	if (start->next_seq != v->c.next_seq)
		return vfail(v, "%s starts at record %" PRIu64 ", but the chain so far ends at "
			     "record %" PRIu64, what, start->next_seq, v->c.next_seq - 1);
	if (start->next_batch != v->c.next_batch)
		return vfail(v, "%s starts at batch %" PRIu64 ", but the chain so far ends at "
			     "batch %" PRIu64, what, start->next_batch, v->c.next_batch - 1);
	if (memcmp(start->prev_hash, v->c.prev_hash, NDX_SHA256_LEN) != 0)
		return vfail(v, "%s does not continue the record chain (its previous record hash "
			     "differs from record %" PRIu64 ")", what, v->c.next_seq - 1);
	return vfail(v, "%s does not continue the tree head chain (its previous tree head "
		     "hash differs from batch %" PRIu64 ")", what, v->c.next_batch - 1);
}

struct archive_file {
	uint64_t first, last;
	char name[256];
};

static int archive_cmp(const void *a, const void *b)
{
	const struct archive_file *x = a, *y = b;

	return x->first < y->first ? -1 : x->first > y->first;
}

/* Parses "ndx-log-FIRST-LAST.sqlite". */
static bool archive_name(const char *name, uint64_t *first, uint64_t *last)
{
	const char *p = name + strlen(ARCHIVE_PREFIX);
	char *end;
	size_t n = strlen(name);

	if (strncmp(name, ARCHIVE_PREFIX, strlen(ARCHIVE_PREFIX)) != 0 ||
	    n < strlen(ARCHIVE_SUFFIX) ||
	    strcmp(name + n - strlen(ARCHIVE_SUFFIX), ARCHIVE_SUFFIX) != 0 || !(*p >= '0' && *p <= '9'))
		return false;
	errno = 0;
	*first = strtoull(p, &end, 10);
	if (errno != 0 || *end != '-' || !(end[1] >= '0' && end[1] <= '9'))
		return false;
	p = end + 1;
	*last = strtoull(p, &end, 10);
	return errno == 0 && strcmp(end, ARCHIVE_SUFFIX) == 0 && *first >= 1 && *last >= *first;
}

/* The archive files of dir sorted by first batch; *out malloc'd. */
static int list_archives(const char *dir, struct archive_file **out, size_t *n, char *err,
			 size_t cap)
{
	struct archive_file *list = NULL;
	size_t len = 0, alloc = 0;
	struct dirent *d;
	DIR *dp;

	*out = NULL;
	*n = 0;
	dp = opendir(dir);
	if (dp == NULL)
		return failf(err, cap, NDX_EIO, "cannot read the archive directory %s: %s", dir,
			     strerror(errno));
	while ((d = readdir(dp)) != NULL) {
		uint64_t first, last;

		if (!archive_name(d->d_name, &first, &last) || strlen(d->d_name) >= 256)
			continue;
		if (len == alloc) {
			size_t na = alloc ? alloc * 2 : 16;
			void *nl = realloc(list, na * sizeof *list);

			if (nl == NULL) {
				closedir(dp);
				free(list);
				return failf(err, cap, NDX_ENOMEM, "out of memory");
			}
			list = nl;
			alloc = na;
		}
		list[len].first = first;
		list[len].last = last;
		snprintf(list[len].name, sizeof list[len].name, "%s", d->d_name);
		len++;
	}
	closedir(dp);
	if (len > 1)
		qsort(list, len, sizeof *list, archive_cmp);
	*out = list;
	*n = len;
	return NDX_OK;
}

static int open_readonly(const char *path, struct ndx__msglog_store **st, struct meta *m,
			 char *err, size_t cap)
{
	char why[200], nb[300];
	int rc = ndx__msglog_store_open(path, NDX__MSGLOG_READONLY, st);

	path = shown(path, nb, sizeof nb);
	if (rc == NDX_EINVAL)
		return failf(err, cap, rc, "%s is not an ndx message log", path);
	if (rc != NDX_OK)
		return failf(err, cap, rc, "cannot open %s: %s", path,
			     rc == NDX_EIO ? "no such file or not readable" : ndx_strerror(rc));
	rc = meta_read(*st, m, why, sizeof why);
	if (rc != NDX_OK) {
		(*st)->ops->close(*st);
		*st = NULL;
		return failf(err, cap, rc, "%s: %s", path, why);
	}
	return NDX_OK;
}

static int verify_archives(struct verifier *v, const char *dir, const struct meta *live)
{
	struct archive_file *files = NULL;
	size_t n = 0;
	int rc;

	rc = list_archives(dir, &files, &n, v->res->error, sizeof v->res->error);
	for (size_t i = 0; i < n && rc == NDX_OK; i++) {
		struct ndx__msglog_store *st = NULL;
		char path[4096];
		struct meta m;

		snprintf(v->where, sizeof v->where, "archive %s: ", files[i].name);
		if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, files[i].name) >= sizeof path) {
			rc = vfail(v, "path too long");
			break;
		}
		rc = open_readonly(path, &st, &m, v->res->error, sizeof v->res->error);
		if (rc != NDX_OK)
			break;
		if (strcmp(m.log_id, live->log_id) != 0)
			rc = vfail(v, "belongs to another log (log_id %s, not %s)", m.log_id,
				   live->log_id);
		else if (!m.archive)
			rc = vfail(v, "is not an archive file");
		else if (!chain_equal(&m.start, &v->c))
			rc = chain_mismatch(v, &m.start, "the file");
		if (rc == NDX_OK)
			rc = verify_store(v, st, true);
		if (rc == NDX_OK && v->c.next_batch != files[i].last + 1)
			rc = vfail(v, "holds batches up to %" PRIu64 ", but its name says %" PRIu64,
				   v->c.next_batch - 1, files[i].last);
		st->ops->close(st);
		v->res->archives++;
	}
	v->where[0] = '\0';
	free(files);
	return rc;
}

int ndx_msglog_verify(const char *path, const char *archive_dir, const struct ndx_key *key,
		      struct ndx_msglog_verify_result *res)
{
	return ndx_msglog_verify_witnessed(path, archive_dir, key, NULL, res);
}

int ndx_msglog_verify_witnessed(const char *path, const char *archive_dir,
				const struct ndx_key *key, const struct ndx_anchor *anchor,
				struct ndx_msglog_verify_result *res)
{
	struct ndx__msglog_store *st = NULL;
	struct ndx_key *meta_key = NULL;
	struct verifier v;
	struct meta m;
	double t0 = mono_seconds();
	char nb[300];
	int rc;

	assert(path != NULL && res != NULL);
	memset(res, 0, sizeof *res);
	memset(&v, 0, sizeof v);
	v.res = res;
	v.anchor = anchor;
	rc = open_readonly(path, &st, &m, res->error, sizeof res->error);
	if (rc != NDX_OK)
		return rc;
	if (m.archive && archive_dir != NULL) {
		st->ops->close(st);
		return failf(res->error, sizeof res->error, NDX_EINVAL,
			     "%s is an archive file, not a live log",
			     shown(path, nb, sizeof nb));
	}
	if (key == NULL) {
		rc = ndx_key_from_public_raw(m.pub, &meta_key);
		if (rc != NDX_OK) {
			st->ops->close(st);
			return failf(res->error, sizeof res->error, rc,
				     "the public key stored in %s is not usable",
				     shown(path, nb, sizeof nb));
		}
		key = meta_key;
	}
	v.key = key;
	ndx_key_id(key, v.key_id);
	memcpy(res->key_id, v.key_id, sizeof res->key_id);
	v.c.next_seq = 1;
	v.c.next_batch = 1;
	if (archive_dir != NULL) {
		rc = verify_archives(&v, archive_dir, &m);
		if (rc == NDX_OK && !chain_equal(&m.start, &v.c))
			rc = chain_mismatch(&v, &m.start, "the live log");
	} else {
		v.c = m.start;
		res->anchored = m.start.next_seq > 1;
	}
	if (rc == NDX_OK)
		rc = verify_store(&v, st, m.archive);
	st->ops->close(st);
	ndx_key_free(meta_key);
	free(v.leaves);
	res->seconds = mono_seconds() - t0;
	return rc;
}

/* ---- inclusion proofs ------------------------------------------------- */

static json_t *entry_to_json(const struct ndx_msglog_entry *e)
{
	char when[NDX_TIME_TEXT_LEN];
	json_t *o = json_object();
	bool ok = o != NULL;

	if (!ok)
		return NULL;
	ndx_time_format((time_t)(e->time_ms / 1000), when);
	jset(o, "seq", json_integer((json_int_t)e->seq), &ok);
	jset(o, "time_ms", json_integer(e->time_ms), &ok);
	jset(o, "time", json_string(when), &ok);
	jset(o, "direction", json_string(dir_name(e->direction)), &ok);
	jset(o, "message_id", json_string(e->message_id), &ok);
	jset(o, "client", json_string(e->client), &ok);
	jset(o, "service", json_string(e->service), &ok);
	jset(o, "method", json_string(nz(e->method)), &ok);
	jset(o, "path", json_string(nz(e->path)), &ok);
	jset(o, "subject", json_string(nz(e->subject)), &ok);
	jset(o, "subjects", json_string(nz(e->subjects)), &ok);
	jset(o, "purpose", json_string(nz(e->purpose)), &ok);
	jset(o, "user_id", json_string(nz(e->user_id)), &ok);
	jset(o, "issue", json_string(nz(e->issue)), &ok);
	jset(o, "represented_party", json_string(nz(e->represented_party)), &ok);
	jset(o, "authenticated", json_string(nz(e->authenticated)), &ok);
	jset(o, "request_hash", e->has_request_hash ? j_hex(e->request_hash, NDX_SHA256_LEN)
						    : json_string(""), &ok);
	jset(o, "response_hash", e->has_response_hash ? j_hex(e->response_hash, NDX_SHA256_LEN)
						      : json_string(""), &ok);
	jset(o, "status", json_integer(e->status), &ok);
	jset(o, "duration_ms", json_integer(e->duration_ms), &ok);
	jset(o, "request_signature", json_string(e->request_sig), &ok);
	jset(o, "response_signature", json_string(e->response_sig), &ok);
	jset(o, "prev_hash", j_hex(e->prev_hash, NDX_SHA256_LEN), &ok);
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* Parses a proof's "record" into e; the strings point into o. */
static int entry_from_json(const json_t *o, struct ndx_msglog_entry *e, char *err, size_t cap)
{
	const char *dir = NULL;
	int64_t status = 0;

	memset(e, 0, sizeof *e);
	if (!json_is_object(o))
		return failf(err, cap, NDX_EINVAL, "record: expected an object");
	if (jget_u64(o, "record", "seq", &e->seq, err, cap) ||
	    jget_i64(o, "record", "time_ms", &e->time_ms, err, cap) ||
	    jget_str(o, "record", "direction", &dir, err, cap) ||
	    jget_str(o, "record", "message_id", &e->message_id, err, cap) ||
	    jget_str(o, "record", "client", &e->client, err, cap) ||
	    jget_str(o, "record", "service", &e->service, err, cap) ||
	    jget_str(o, "record", "method", &e->method, err, cap) ||
	    jget_str(o, "record", "path", &e->path, err, cap) ||
	    jget_str(o, "record", "subject", &e->subject, err, cap) ||
	    jget_str(o, "record", "subjects", &e->subjects, err, cap) ||
	    jget_str(o, "record", "purpose", &e->purpose, err, cap) ||
	    jget_str(o, "record", "user_id", &e->user_id, err, cap) ||
	    jget_str(o, "record", "issue", &e->issue, err, cap) ||
	    jget_str(o, "record", "represented_party", &e->represented_party, err, cap) ||
	    jget_str(o, "record", "authenticated", &e->authenticated, err, cap) ||
	    jget_hex(o, "record", "request_hash", e->request_hash, NDX_SHA256_LEN, true,
		     &e->has_request_hash, err, cap) ||
	    jget_hex(o, "record", "response_hash", e->response_hash, NDX_SHA256_LEN, true,
		     &e->has_response_hash, err, cap) ||
	    jget_i64(o, "record", "status", &status, err, cap) ||
	    jget_i64(o, "record", "duration_ms", &e->duration_ms, err, cap) ||
	    jget_str(o, "record", "request_signature", &e->request_sig, err, cap) ||
	    jget_str(o, "record", "response_signature", &e->response_sig, err, cap) ||
	    jget_hex(o, "record", "prev_hash", e->prev_hash, NDX_SHA256_LEN, false, NULL, err, cap))
		return NDX_EINVAL;
	if (strcmp(dir, "consumer") == 0)
		e->direction = NDX_MSGLOG_CONSUMER;
	else if (strcmp(dir, "provider") == 0)
		e->direction = NDX_MSGLOG_PROVIDER;
	else
		return failf(err, cap, NDX_EINVAL, "record.direction: expected consumer or provider");
	if (status < -2147483647 || status > 2147483647)
		return failf(err, cap, NDX_EINVAL, "record.status: out of range");
	e->status = (int)status;
	if (e->seq == 0)
		return failf(err, cap, NDX_EINVAL, "record.seq: must be positive");
	return NDX_OK;
}

int ndx_msglog_check_proof(const char *json, size_t len, const struct ndx_key *key,
			   char *msg, size_t cap)
{
	uint8_t hash[NDX_SHA256_LEN], claimed[NDX_SHA256_LEN], leaf[NDX_SHA256_LEN];
	uint8_t path[NDX_MERKLE_MAX_PATH][NDX_SHA256_LEN];
	char kid[NDX_KEY_ID_HEX_LEN + 1];
	const json_t *ap;
	struct ndx_msglog_entry e;
	struct ndx_msglog_sth sth;
	json_error_t jerr;
	const char *fmt = NULL;
	uint64_t index = 0;
	size_t plen;
	json_t *doc;
	int rc;

	assert(json != NULL && key != NULL);
	doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (doc == NULL)
		return failf(msg, cap, NDX_EINVAL, "not a JSON proof: %s (line %d)", jerr.text,
			     jerr.line);
	rc = NDX_EINVAL;
	if (!json_is_object(doc)) {
		failf(msg, cap, rc, "not a proof: expected a JSON object");
		goto out;
	}
	if (jget_str(doc, "proof", "format", &fmt, msg, cap) != NDX_OK)
		goto out;
	if (strcmp(fmt, PROOF_FORMAT) != 0) {
		failf(msg, cap, rc, "proof.format: expected %s", PROOF_FORMAT);
		goto out;
	}
	if (entry_from_json(json_object_get(doc, "record"), &e, msg, cap) != NDX_OK ||
	    jget_hex(doc, "proof", "record_hash", claimed, NDX_SHA256_LEN, false, NULL, msg, cap) ||
	    jget_u64(doc, "proof", "leaf_index", &index, msg, cap) ||
	    sth_from_json(json_object_get(doc, "tree_head"), "tree_head", &sth, msg, cap))
		goto out;
	ap = json_object_get(doc, "audit_path");
	if (!json_is_array(ap) || json_array_size(ap) > NDX_MERKLE_MAX_PATH) {
		failf(msg, cap, rc, "proof.audit_path: expected an array of at most %d hashes",
		      NDX_MERKLE_MAX_PATH);
		goto out;
	}
	plen = json_array_size(ap);
	for (size_t i = 0; i < plen; i++) {
		const json_t *h = json_array_get(ap, i);

		if (!json_is_string(h) ||
		    ndx_hex_decode(json_string_value(h), json_string_length(h), path[i],
				   NDX_SHA256_LEN) != NDX_OK) {
			failf(msg, cap, rc, "proof.audit_path[%zu]: expected 32 bytes of hex", i);
			goto out;
		}
	}
	rc = NDX_EBADSIG;
	ndx_msglog_record_hash(&e, hash);
	if (memcmp(hash, claimed, NDX_SHA256_LEN) != 0) {
		failf(msg, cap, rc, "the record's fields do not hash to record_hash: "
		      "the record was altered");
		goto out;
	}
	if (e.seq < sth.first_seq || e.seq - sth.first_seq >= sth.size ||
	    index != e.seq - sth.first_seq) {
		failf(msg, cap, rc, "leaf_index %" PRIu64 " does not place record %" PRIu64
		      " in batch %" PRIu64 " (records %" PRIu64 "..%" PRIu64 ")", index, e.seq,
		      sth.batch, sth.first_seq, sth.first_seq + sth.size - 1);
		goto out;
	}
	ndx_merkle_leaf(hash, NDX_SHA256_LEN, leaf);
	rc = ndx_merkle_verify(leaf, index, sth.size, (const uint8_t (*)[NDX_SHA256_LEN])path, plen,
			       sth.root);
	if (rc == NDX_EINVAL) {
		rc = NDX_EBADSIG;
		failf(msg, cap, rc, "the audit path has the wrong length (%zu) for leaf %" PRIu64
		      " of a tree of %" PRIu64, plen, index, sth.size);
		goto out;
	}
	if (rc != NDX_OK) {
		failf(msg, cap, rc, "the audit path does not lead to the tree head's root");
		goto out;
	}
	ndx_key_id(key, kid);
	if (strcmp(kid, sth.key_id) != 0) {
		rc = NDX_EBADSIG;
		failf(msg, cap, rc, "the tree head names key %s, not the given key %s", sth.key_id,
		      kid);
		goto out;
	}
	if (sth_verify(key, &sth) != NDX_OK) {
		rc = NDX_EBADSIG;
		failf(msg, cap, rc, "the tree head signature does not verify with key %s", kid);
		goto out;
	}
	rc = NDX_OK;
	failf(msg, cap, rc, "record %" PRIu64 " (X-Road-Id %s, %s) is leaf %" PRIu64
	      " of batch %" PRIu64 " (records %" PRIu64 "..%" PRIu64 "), signed by key %s",
	      e.seq, e.message_id, dir_name(e.direction), index, sth.batch, sth.first_seq,
	      sth.first_seq + sth.size - 1, kid);
out:
	json_decref(doc);
	return rc;
}

/* Finds the one record a proof is asked for; *rec is a new JSON object. */
static int prove_find(struct ndx__msglog_store *st, const char *message_id, int direction,
		      uint64_t seq, json_t **rec, uint64_t *seq_out,
		      uint8_t hash_out[NDX_SHA256_LEN], char *err, size_t cap)
{
	struct ndx__msglog_iter *it = NULL;
	struct ndx_msglog_entry e;
	char seen[256] = "";
	size_t matches = 0, used = 0;
	int rc, r;

	*rec = NULL;
	rc = message_id != NULL
		     ? st->ops->iter_open(st, NDX__Q_RECORDS_BY_ID, 0, message_id, &it)
		     : st->ops->iter_open(st, NDX__Q_RECORDS_FROM, seq, NULL, &it);
	if (rc != NDX_OK)
		return failf(err, cap, rc, "cannot read the log");
	while ((r = st->ops->iter_record(it, &e)) != 0) {
		if (r < 0) {
			rc = r == NDX_EINVAL ? NDX_EBADSIG : r;
			failf(err, cap, rc, "record %" PRIu64 " cannot be read: run ndx log verify",
			      e.seq);
			break;
		}
		if (message_id == NULL && e.seq != seq)
			break;
		if (direction >= 0 && (int)e.direction != direction)
			continue;
		if (matches++ == 0) {
			*seq_out = e.seq;
			*rec = entry_to_json(&e);
			if (*rec == NULL) {
				rc = failf(err, cap, NDX_ENOMEM, "out of memory");
				break;
			}
			memcpy(hash_out, e.hash, NDX_SHA256_LEN);
		}
		if (used < sizeof seen - 40) {
			int n = snprintf(seen + used, sizeof seen - used, "%s%" PRIu64 " (%s)",
					 used ? ", " : "", e.seq, dir_name(e.direction));
			used += n > 0 ? (size_t)n : 0;
		}
		if (message_id == NULL)
			break;
	}
	st->ops->iter_close(it);
	if (rc == NDX_OK && matches == 0) {
		if (message_id != NULL)
			rc = failf(err, cap, NDX_ENOTFOUND, "no record with X-Road-Id %s%s%s",
				   message_id, direction >= 0 ? " and direction " : "",
				   direction >= 0 ? dir_name((enum ndx_msglog_direction)direction)
						  : "");
		else
			rc = failf(err, cap, NDX_ENOTFOUND, "no record %" PRIu64 " in the live log",
				   seq);
	}
	if (rc == NDX_OK && matches > 1)
		rc = failf(err, cap, NDX_EINVAL, "%zu records have X-Road-Id %s: %s; choose one with "
			   "--direction or --seq", matches, message_id, seen);
	if (rc != NDX_OK) {
		json_decref(*rec);
		*rec = NULL;
	}
	return rc;
}

static int prove_in_txn(struct ndx__msglog_store *st, const struct meta *m,
			const char *message_id, int direction, uint64_t seq, json_t **doc_out,
			char *err, size_t cap)
{
	uint8_t path[NDX_MERKLE_MAX_PATH][NDX_SHA256_LEN], (*leaves)[NDX_SHA256_LEN] = NULL;
	uint8_t root[NDX_SHA256_LEN], rhash[NDX_SHA256_LEN];
	struct ndx__msglog_iter *it = NULL;
	struct ndx_msglog_entry e;
	struct ndx_msglog_sth sth;
	struct ndx_key *key = NULL;
	json_t *rec = NULL, *doc = NULL, *ap = NULL, *head = NULL;
	size_t plen = 0, n = 0;
	uint64_t found = 0;
	bool ok = true;
	int rc, r;

	rc = prove_find(st, message_id, direction, seq, &rec, &found, rhash, err, cap);
	if (rc != NDX_OK)
		return rc;
	rc = st->ops->iter_open(st, NDX__Q_BATCH_OF_SEQ, found, NULL, &it);
	if (rc == NDX_OK) {
		r = st->ops->iter_batch(it, &sth);
		st->ops->iter_close(it);
		it = NULL;
		if (r < 0)
			rc = failf(err, cap, r == NDX_EINVAL ? NDX_EBADSIG : r,
				   "the tree head of record %" PRIu64 " cannot be read: run ndx log "
				   "verify", found);
		else if (r == 0 || found >= sth.first_seq + sth.size)
			rc = failf(err, cap, NDX_ENOTFOUND, "record %" PRIu64 " is in the open batch: "
				   "its tree head is written within the batch interval; try again "
				   "shortly", found);
		else if (sth.size > BATCH_SIZE_SANE)
			rc = failf(err, cap, NDX_EBADSIG, "batch %" PRIu64 " has an implausible size",
				   sth.batch);
	}
	if (rc != NDX_OK)
		goto out;
	leaves = malloc((size_t)sth.size * sizeof *leaves);
	if (leaves == NULL) {
		rc = failf(err, cap, NDX_ENOMEM, "out of memory");
		goto out;
	}
	rc = st->ops->iter_open(st, NDX__Q_RECORDS_FROM, sth.first_seq, NULL, &it);
	while (rc == NDX_OK && n < sth.size && (r = st->ops->iter_record(it, &e)) == 1 &&
	       e.seq == sth.first_seq + n)
		ndx_merkle_leaf(e.hash, NDX_SHA256_LEN, leaves[n++]);
	st->ops->iter_close(it);
	if (rc == NDX_OK && n < sth.size)
		rc = failf(err, cap, NDX_EBADSIG, "batch %" PRIu64 " cannot be read back whole: run "
			   "ndx log verify", sth.batch);
	if (rc == NDX_OK) {
		ndx_merkle_root((const uint8_t (*)[NDX_SHA256_LEN])leaves, n, root);
		if (memcmp(root, sth.root, NDX_SHA256_LEN) != 0)
			rc = failf(err, cap, NDX_EBADSIG, "batch %" PRIu64 ": root does not match its "
				   "records: run ndx log verify", sth.batch);
	}
	if (rc == NDX_OK)
		rc = ndx_merkle_audit_path((const uint8_t (*)[NDX_SHA256_LEN])leaves, n,
					   (size_t)(found - sth.first_seq), path, &plen);
	if (rc != NDX_OK)
		goto out;
	rc = ndx_key_from_public_raw(m->pub, &key);
	if (rc != NDX_OK) {
		failf(err, cap, rc, "the log's public key is not usable");
		goto out;
	}
	doc = json_object();
	ap = json_array();
	head = sth_to_json(&sth, key);
	ok = doc != NULL && ap != NULL && head != NULL;
	for (size_t i = 0; i < plen && ok; i++)
		ok = json_array_append_new(ap, j_hex(path[i], NDX_SHA256_LEN)) == 0;
	if (ok) {
		jset(doc, "format", json_string(PROOF_FORMAT), &ok);
		jset(doc, "record", rec, &ok);
		rec = NULL;
		jset(doc, "record_hash", j_hex(rhash, NDX_SHA256_LEN), &ok);
		jset(doc, "leaf_index", json_integer((json_int_t)(found - sth.first_seq)), &ok);
		jset(doc, "audit_path", ap, &ok);
		ap = NULL;
		jset(doc, "tree_head", head, &ok);
		head = NULL;
	}
	if (!ok) {
		rc = failf(err, cap, NDX_ENOMEM, "out of memory");
		goto out;
	}
	*doc_out = doc;
	doc = NULL;
out:
	json_decref(rec);
	json_decref(doc);
	json_decref(ap);
	json_decref(head);
	ndx_key_free(key);
	free(leaves);
	return rc;
}

int ndx_msglog_prove(const char *path, const char *message_id, int direction, uint64_t seq,
		     char **json, char *err, size_t errcap)
{
	struct ndx__msglog_store *st = NULL;
	struct ndx_key *key = NULL;
	json_t *doc = NULL;
	char *text = NULL, why[512], nb[300];
	struct meta m;
	int rc;

	assert(path != NULL && json != NULL);
	*json = NULL;
	rc = open_readonly(path, &st, &m, err, errcap);
	if (rc != NDX_OK)
		return rc;
	rc = st->ops->begin(st, false);
	if (rc == NDX_OK) {
		rc = prove_in_txn(st, &m, message_id, direction, seq, &doc, err, errcap);
		st->ops->rollback(st);
	} else {
		failf(err, errcap, rc, "cannot read %s", shown(path, nb, sizeof nb));
	}
	st->ops->close(st);
	if (rc != NDX_OK)
		return rc;
	text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(doc);
	if (text == NULL)
		return failf(err, errcap, NDX_ENOMEM, "out of memory");
	/* A proof that does not check is never handed out: the stored record
	 * or tree head was altered. */
	rc = ndx_key_from_public_raw(m.pub, &key);
	if (rc == NDX_OK)
		rc = ndx_msglog_check_proof(text, strlen(text), key, why, sizeof why);
	ndx_key_free(key);
	if (rc != NDX_OK) {
		free(text);
		return failf(err, errcap, NDX_EBADSIG, "the stored record does not verify (%s): "
			     "run ndx log verify", why);
	}
	*json = text;
	return NDX_OK;
}

/* ---- records of a period with their proofs ---------------------------- */

/* The tree head of batch b (batches are numbered without gaps), 1 when
 * found, 0 when there is none, or an error. */
static int batch_at(struct ndx__msglog_store *st, uint64_t b, struct ndx_msglog_sth *sth)
{
	struct ndx__msglog_iter *it = NULL;
	int r = st->ops->iter_open(st, NDX__Q_BATCHES_FROM, b, NULL, &it);

	if (r != NDX_OK)
		return r;
	r = st->ops->iter_batch(it, sth);
	st->ops->iter_close(it);
	if (r == 1 && sth->batch != b)
		r = 0;
	return r;
}

/* The first live batch whose tree head is not older than from_ms, by
 * bisection over [lo, hi] (heads are closed in time order); hi + 1 when
 * none is. */
static int first_batch_since(struct ndx__msglog_store *st, uint64_t lo, uint64_t hi,
			     int64_t from_ms, uint64_t *out)
{
	struct ndx_msglog_sth sth;

	while (lo <= hi) {
		uint64_t mid = lo + (hi - lo) / 2;
		int r = batch_at(st, mid, &sth);

		if (r < 0)
			return r;
		if (r == 0)
			return NDX_EBADSIG;
		if (sth.time_ms < from_ms)
			lo = mid + 1;
		else if (mid == lo)
			break;
		else
			hi = mid;
	}
	*out = lo;
	return NDX_OK;
}

struct ndx__msglog_walk_batch {
	uint8_t (*leaves)[NDX_SHA256_LEN];
	size_t n;
};

int ndx_msglog_proven_path(const struct ndx_msglog_proven *p,
			   uint8_t out[NDX_MERKLE_MAX_PATH][NDX_SHA256_LEN], size_t *len)
{
	assert(p != NULL && p->batch_ != NULL && out != NULL && len != NULL);
	return ndx_merkle_audit_path((const uint8_t (*)[NDX_SHA256_LEN])p->batch_->leaves,
				     p->batch_->n, (size_t)p->leaf_index, out, len);
}

/* Reads batch sth's records into their leaves (checking each record's hash
 * and the root), then calls cb for those whose time is in [from_ms,
 * to_ms). *past is set when the batch's first record is at or after
 * to_ms: later batches hold nothing of the period. */
static int walk_batch(struct ndx__msglog_store *st, const struct ndx_msglog_sth *sth,
		      struct ndx__msglog_walk_batch *wb, int64_t from_ms, int64_t to_ms,
		      ndx_msglog_proven_cb cb, void *ctx, bool *past, char *err, size_t cap)
{
	struct ndx__msglog_iter *it = NULL;
	struct ndx_msglog_entry e;
	uint8_t h[NDX_SHA256_LEN], root[NDX_SHA256_LEN];
	int rc, r = 0;
	bool stop = false;

	if (sth->size == 0 || sth->size > BATCH_SIZE_SANE)
		return failf(err, cap, NDX_EBADSIG, "batch %" PRIu64 " has an implausible size: run "
			     "ndx log verify", sth->batch);
	free(wb->leaves);
	wb->n = 0;
	wb->leaves = malloc((size_t)sth->size * sizeof *wb->leaves);
	if (wb->leaves == NULL)
		return failf(err, cap, NDX_ENOMEM, "out of memory");
	/* First the leaves, for the root and the audit paths. */
	rc = st->ops->iter_open(st, NDX__Q_RECORDS_FROM, sth->first_seq, NULL, &it);
	while (rc == NDX_OK && wb->n < sth->size && (r = st->ops->iter_record(it, &e)) == 1 &&
	       e.seq == sth->first_seq + wb->n) {
		ndx_msglog_record_hash(&e, h);
		if (memcmp(h, e.hash, NDX_SHA256_LEN) != 0)
			break;
		if (wb->n == 0)
			*past = e.time_ms >= to_ms;
		ndx_merkle_leaf(e.hash, NDX_SHA256_LEN, wb->leaves[wb->n++]);
	}
	st->ops->iter_close(it);
	if (rc != NDX_OK || r < 0)
		return failf(err, cap, rc != NDX_OK ? rc : NDX_EDB, "cannot read the records of "
			     "batch %" PRIu64, sth->batch);
	if (wb->n < sth->size)
		return failf(err, cap, NDX_EBADSIG, "batch %" PRIu64 ": record %" PRIu64 " is "
			     "missing or altered: run ndx log verify", sth->batch,
			     sth->first_seq + wb->n);
	ndx_merkle_root((const uint8_t (*)[NDX_SHA256_LEN])wb->leaves, wb->n, root);
	if (memcmp(root, sth->root, NDX_SHA256_LEN) != 0)
		return failf(err, cap, NDX_EBADSIG, "batch %" PRIu64 ": root does not match its "
			     "records: run ndx log verify", sth->batch);
	/* Then the records of the period, to the caller. */
	rc = st->ops->iter_open(st, NDX__Q_RECORDS_FROM, sth->first_seq, NULL, &it);
	for (uint64_t i = 0; rc == NDX_OK && !stop && i < sth->size; i++) {
		if (st->ops->iter_record(it, &e) != 1) {
			rc = failf(err, cap, NDX_EDB, "cannot read record %" PRIu64,
				   sth->first_seq + i);
			break;
		}
		if (e.time_ms < from_ms || e.time_ms >= to_ms)
			continue;
		struct ndx_msglog_proven p = { .entry = &e, .sth = sth, .leaf_index = i,
					       .batch_ = wb };
		r = cb(&p, ctx);
		if (r < 0)
			rc = failf(err, cap, r, "%s", ndx_strerror(r));
		stop = r > 0;
	}
	st->ops->iter_close(it);
	if (stop)
		*past = true;
	return rc;
}

/* Counts the durable records of the period after the last closed batch. */
static int count_open(struct ndx__msglog_store *st, uint64_t after, int64_t from_ms,
		      int64_t to_ms, uint64_t *n)
{
	struct ndx__msglog_iter *it = NULL;
	struct ndx_msglog_entry e;
	int r, rc = st->ops->iter_open(st, NDX__Q_RECORDS_FROM, after + 1, NULL, &it);

	*n = 0;
	while (rc == NDX_OK && (r = st->ops->iter_record(it, &e)) == 1)
		*n += e.time_ms >= from_ms && e.time_ms < to_ms;
	st->ops->iter_close(it);
	return rc;
}

static int walk_in_txn(struct ndx__msglog_store *st, const struct meta *m, int64_t from_ms,
		       int64_t to_ms, ndx_msglog_proven_cb cb, void *ctx,
		       struct ndx_msglog_walk_result *res, char *err, size_t cap)
{
	struct ndx__msglog_walk_batch wb = { 0 };
	struct ndx__msglog_iter *it = NULL;
	struct ndx_msglog_sth sth;
	uint64_t b = 0, last = 0;
	bool past = false;
	int rc, r;

	rc = st->ops->iter_open(st, NDX__Q_BATCH_LAST, 0, NULL, &it);
	if (rc == NDX_OK) {
		r = st->ops->iter_batch(it, &res->head);
		rc = r < 0 ? r : NDX_OK;
		last = r == 1 ? res->head.batch : 0;
	}
	st->ops->iter_close(it);
	if (rc != NDX_OK)
		return failf(err, cap, rc, "cannot read the log's tree heads");
	if (last == 0)
		return count_open(st, m->start.next_seq - 1, from_ms, to_ms, &res->open_records);
	rc = first_batch_since(st, m->start.next_batch, last, from_ms, &b);
	if (rc != NDX_OK)
		return failf(err, cap, rc, "cannot find the batches of the period: run ndx log "
			     "verify");
	res->first_batch = b;
	for (; rc == NDX_OK && !past && b <= last; b++) {
		r = batch_at(st, b, &sth);
		if (r != 1) {
			rc = failf(err, cap, r < 0 ? r : NDX_EBADSIG, "cannot read batch %" PRIu64, b);
			break;
		}
		rc = walk_batch(st, &sth, &wb, from_ms, to_ms, cb, ctx, &past, err, cap);
		res->batches++;
	}
	free(wb.leaves);
	if (rc == NDX_OK)
		rc = count_open(st, res->head.first_seq + res->head.size - 1, from_ms, to_ms,
				&res->open_records);
	return rc;
}

int ndx_msglog_walk_period(const char *path, int64_t from_ms, int64_t to_ms,
			   ndx_msglog_proven_cb cb, void *ctx,
			   struct ndx_msglog_walk_result *res, char *err, size_t cap)
{
	struct ndx__msglog_store *st = NULL;
	char nb[300];
	struct meta m;
	int rc;

	assert(path != NULL && cb != NULL && res != NULL);
	memset(res, 0, sizeof *res);
	if (from_ms >= to_ms)
		return failf(err, cap, NDX_EINVAL, "the period is empty");
	rc = open_readonly(path, &st, &m, err, cap);
	if (rc != NDX_OK)
		return rc;
	if (ndx_key_from_public_raw(m.pub, &res->key) != NDX_OK) {
		st->ops->close(st);
		return failf(err, cap, NDX_EINVAL, "the public key stored in %s is not usable",
			     shown(path, nb, sizeof nb));
	}
	rc = st->ops->begin(st, false);
	if (rc == NDX_OK) {
		rc = walk_in_txn(st, &m, from_ms, to_ms, cb, ctx, res, err, cap);
		st->ops->rollback(st);
	} else {
		failf(err, cap, rc, "cannot read %s", shown(path, nb, sizeof nb));
	}
	st->ops->close(st);
	if (rc != NDX_OK) {
		ndx_key_free(res->key);
		res->key = NULL;
	}
	return rc;
}

/* ---- archive ---------------------------------------------------------- */

static int fsync_path(const char *path, bool dir)
{
	int fd = open(path, (dir ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return NDX_EIO;
	rc = fsync(fd) == 0 ? NDX_OK : NDX_EIO;
	close(fd);
	return rc;
}

/* Copies meta, records first_seq..last_seq and batches first..last of the
 * live store into the new archive store, in one transaction. *last_hash
 * gets the hash of the last record copied. */
static int archive_copy(struct ndx__msglog_store *live, struct ndx__msglog_store *ar,
			const struct meta *m, const struct ndx_msglog_archive_result *res,
			uint8_t last_hash[NDX_SHA256_LEN], char *err, size_t cap)
{
	static const char *const keys[] = { "format", "log_id", "public_key", "key_id",
					    "created_ms" };
	struct ndx__msglog_iter *it = NULL;
	struct ndx_msglog_entry e;
	struct ndx_msglog_sth sth;
	uint64_t want;
	int rc, r = 0;

	rc = ar->ops->begin(ar, true);
	for (size_t i = 0; i < sizeof keys / sizeof keys[0] && rc == NDX_OK; i++) {
		char *v = NULL;

		rc = live->ops->meta_get(live, keys[i], &v);
		if (rc == NDX_ENOTFOUND)
			rc = NDX_OK;
		else if (rc == NDX_OK)
			rc = ar->ops->meta_set(ar, keys[i], v);
		free(v);
	}
	if (rc == NDX_OK)
		rc = ar->ops->meta_set(ar, "kind", "archive");
	if (rc == NDX_OK)
		rc = meta_set_u64(ar, "archived_ms", (uint64_t)now_ms());
	if (rc == NDX_OK)
		rc = meta_set_chain(ar, &m->start);
	if (rc == NDX_OK)
		rc = live->ops->iter_open(live, NDX__Q_RECORDS_FROM, res->first_seq, NULL, &it);
	for (want = res->first_seq; rc == NDX_OK && want <= res->last_seq; want++) {
		r = live->ops->iter_record(it, &e);
		if (r != 1 || e.seq != want) {
			rc = NDX_EDB;
			break;
		}
		rc = ar->ops->put_records(ar, &e, 1);
		memcpy(last_hash, e.hash, NDX_SHA256_LEN);
	}
	live->ops->iter_close(it);
	it = NULL;
	if (rc == NDX_OK)
		rc = live->ops->iter_open(live, NDX__Q_BATCHES_FROM, res->first_batch, NULL, &it);
	for (want = res->first_batch; rc == NDX_OK && want <= res->last_batch; want++) {
		r = live->ops->iter_batch(it, &sth);
		if (r != 1 || sth.batch != want) {
			rc = NDX_EDB;
			break;
		}
		rc = ar->ops->put_batch(ar, &sth);
	}
	live->ops->iter_close(it);
	it = NULL;
	/* The countersignatures of the batches go with them (and stay in
	 * the live log too: the gateway continues from its newest one). */
	if (rc == NDX_OK)
		rc = live->ops->iter_open(live, NDX__Q_WITNESSES_FROM, res->first_batch, NULL, &it);
	while (rc == NDX_OK) {
		struct ndx_msglog_witness w;

		r = live->ops->iter_witness(it, &w);
		if (r == 0 || (r == 1 && w.batch > res->last_batch))
			break;
		rc = r == 1 ? ar->ops->put_witness(ar, &w) : NDX_EDB;
	}
	live->ops->iter_close(it);
	if (rc == NDX_OK)
		rc = ar->ops->commit(ar);
	if (rc != NDX_OK) {
		ar->ops->rollback(ar);
		return failf(err, cap, rc, "cannot write the archive file: %s", ndx_strerror(rc));
	}
	return NDX_OK;
}

/* Picks the batches to move: the oldest closed ones with time < before. */
static int archive_select(struct ndx__msglog_store *live, const struct meta *m, int64_t before,
			  struct ndx_msglog_archive_result *res, struct ndx_msglog_sth *last)
{
	struct ndx__msglog_iter *it = NULL;
	struct ndx_msglog_sth sth;
	int rc, r;

	rc = live->ops->iter_open(live, NDX__Q_BATCHES_FROM, m->start.next_batch, NULL, &it);
	if (rc != NDX_OK)
		return rc;
	while ((r = live->ops->iter_batch(it, &sth)) == 1 && sth.time_ms < before) {
		if (res->batches == 0) {
			res->first_batch = sth.batch;
			res->first_seq = sth.first_seq;
		}
		res->batches++;
		res->last_batch = sth.batch;
		res->last_seq = sth.first_seq + sth.size - 1;
		*last = sth;
	}
	live->ops->iter_close(it);
	if (r < 0)
		return r == NDX_EINVAL ? NDX_EBADSIG : r;
	res->records = res->batches ? res->last_seq - res->first_seq + 1 : 0;
	return NDX_OK;
}

int ndx_msglog_archive(const char *path, const char *out_dir, int64_t before_ms,
		       struct ndx_msglog_archive_result *res, char *err, size_t errcap)
{
	struct ndx__msglog_store *live = NULL, *ar = NULL;
	struct ndx_msglog_verify_result vr;
	struct ndx_msglog_sth last;
	uint8_t last_hash[NDX_SHA256_LEN];
	char tmp[4096], *sth_text = NULL, nb[300];
	const char *name;
	struct chain next;
	struct meta m, m2;
	struct stat sb;
	int rc;

	assert(path != NULL && out_dir != NULL && res != NULL);
	memset(res, 0, sizeof *res);
	name = shown(path, nb, sizeof nb);
	/* Never move records that do not verify into a file that would then
	 * carry the damage with a fresh look. */
	rc = ndx_msglog_verify(path, NULL, NULL, &vr);
	if (rc == NDX_EBADSIG)
		return failf(err, errcap, rc, "the log does not verify, nothing archived: %s",
			     vr.error);
	if (rc != NDX_OK)
		return failf(err, errcap, rc, "%s", vr.error);
	rc = ndx__msglog_store_open(path, 0, &live);
	if (rc != NDX_OK)
		return failf(err, errcap, rc, "cannot open %s for writing: %s", name,
			     ndx_strerror(rc));
	rc = live->ops->begin(live, false);
	if (rc == NDX_OK) {
		rc = meta_read(live, &m, err, errcap);
		if (rc == NDX_OK && m.archive)
			rc = failf(err, errcap, NDX_EINVAL, "%s is an archive file, not a live log",
				   name);
		if (rc == NDX_OK) {
			rc = archive_select(live, &m, before_ms, res, &last);
			if (rc != NDX_OK)
				failf(err, errcap, rc, "cannot read the tree heads of %s", name);
		}
		live->ops->rollback(live);
	}
	if (rc != NDX_OK || res->batches == 0)
		goto out;
	if (ndx_mkdirs(out_dir, 0750) != NDX_OK) {
		rc = failf(err, errcap, NDX_EIO, "cannot create %s: %s", out_dir, strerror(errno));
		goto out;
	}
	if ((size_t)snprintf(res->file, sizeof res->file, "%s/" ARCHIVE_PREFIX "%012" PRIu64
			     "-%012" PRIu64 ARCHIVE_SUFFIX, out_dir, res->first_batch,
			     res->last_batch) >= sizeof res->file ||
	    (size_t)snprintf(tmp, sizeof tmp, "%s.tmp.%ld", res->file, (long)getpid()) >=
		    sizeof tmp) {
		rc = failf(err, errcap, NDX_EINVAL, "the path %s is too long", out_dir);
		goto out;
	}
	if (lstat(res->file, &sb) == 0) {
		rc = failf(err, errcap, NDX_EEXIST, "%s exists already", res->file);
		goto out;
	}
	unlink(tmp);
	rc = ndx__msglog_sqlite_open(tmp, NDX__MSGLOG_ARCHIVE, &ar);
	if (rc != NDX_OK) {
		failf(err, errcap, rc, "cannot create %s: %s", tmp, ndx_strerror(rc));
		goto out;
	}
	rc = live->ops->begin(live, false);
	if (rc == NDX_OK) {
		rc = archive_copy(live, ar, &m, res, last_hash, err, errcap);
		live->ops->rollback(live);
	}
	if (rc == NDX_OK) {
		/* The archive's own index of message ids, all at once: it is
		 * written once and read for years. */
		bool more;

		rc = ar->ops->index_ids(ar, UINT64_MAX, &more);
		if (rc != NDX_OK)
			failf(err, errcap, rc, "cannot index %s: %s", tmp, ndx_strerror(rc));
	}
	ar->ops->close(ar);
	ar = NULL;
	if (rc == NDX_OK && (fsync_path(tmp, false) != NDX_OK || rename(tmp, res->file) != 0 ||
			     fsync_path(out_dir, true) != NDX_OK))
		rc = failf(err, errcap, NDX_EIO, "cannot write %s: %s", res->file, strerror(errno));
	if (rc != NDX_OK) {
		unlink(tmp);
		goto out;
	}
	/* The file is durable: now the live log lets go of its batches, in one
	 * transaction, and records where its chain continues. */
	next.next_seq = res->last_seq + 1;
	next.next_batch = res->last_batch + 1;
	memcpy(next.prev_hash, last_hash, NDX_SHA256_LEN);
	ndx_msglog_sth_hash(&last, next.prev_sth_hash);
	sth_text = ndx_msglog_sth_json(&last, NULL);
	rc = sth_text != NULL ? live->ops->begin(live, true) : NDX_ENOMEM;
	if (rc == NDX_OK) {
		/* Another archive run may have moved these batches meanwhile. */
		rc = meta_read(live, &m2, NULL, 0);
		if (rc == NDX_OK && !chain_equal(&m2.start, &m.start))
			rc = NDX_EEXIST;
		if (rc == NDX_OK)
			rc = live->ops->delete_through(live, res->last_seq, res->last_batch);
		if (rc == NDX_OK)
			rc = meta_set_chain(live, &next);
		if (rc == NDX_OK)
			rc = live->ops->meta_set(live, "last_archived_sth", sth_text);
		if (rc == NDX_OK)
			rc = live->ops->commit(live);
		if (rc != NDX_OK)
			live->ops->rollback(live);
	}
	if (rc != NDX_OK) {
		/* The live log still holds everything: the file would only
		 * duplicate it and break the chain of archives. */
		unlink(res->file);
		fsync_path(out_dir, true);
		failf(err, errcap, rc, rc == NDX_EEXIST ? "another archive run changed %s meanwhile"
							: "cannot remove the archived batches from %s",
		      name);
	}
out:
	free(sth_text);
	if (ar != NULL)
		ar->ops->close(ar);
	if (live != NULL)
		live->ops->close(live);
	if (rc != NDX_OK)
		res->batches = res->records = 0;
	return rc;
}
