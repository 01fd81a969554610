/* SHA-256 through OpenSSL EVP and the canonical request and response hashes
 * that gateways sign (docs/protocol.md "Canonical hashes": every field is an
 * 8-byte big-endian length followed by its bytes, so no two field lists
 * share an encoding). The digest functions return void: their only failure
 * is OpenSSL running out of memory, and a wrong digest is worse than
 * stopping, so that case aborts.
 *
 * The one-shot digest and the canonical hashes keep one EVP_MD_CTX each per
 * thread (two, because the request hash takes the subject token's digest
 * while its own is open): EVP_Digest makes and frees a context every call,
 * two allocations where initialising a kept one costs one (OpenSSL 3.0's
 * provider context). The contexts are freed when the thread ends. */
#include "ndx/hash.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "ndx/encode.h"

struct ndx_sha256 {
	EVP_MD_CTX *md;
};

static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

/* An explicit fetch once, rather than EVP_sha256()'s implicit fetch on
 * every init: gateways hash several times per exchange. */
static void sha256_fetch(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static const EVP_MD *sha256(void)
{
	pthread_once(&sha256_once, sha256_fetch);
	if (sha256_md == NULL) {
		fputs("ndx: OpenSSL has no SHA256\n", stderr);
		abort();
	}
	return sha256_md;
}

static void crypto_fail(const char *what)
{
	fprintf(stderr, "ndx: %s failed\n", what);
	abort();
}

/* This thread's kept contexts. The pointer is kept in a thread-local
 * variable too, so that leak checkers see the main thread's, which no
 * destructor frees, as reachable. */
enum { KEPT_ONESHOT, KEPT_CANONICAL, KEPT_N };

struct kept_mds {
	EVP_MD_CTX *md[KEPT_N];
};

static _Thread_local struct kept_mds *kept;
static pthread_key_t kept_key;
static pthread_once_t kept_once = PTHREAD_ONCE_INIT;
static bool kept_key_ok;

static void kept_free(void *p)
{
	struct kept_mds *k = p;

	if (k == NULL)
		return;
	for (size_t i = 0; i < KEPT_N; i++)
		EVP_MD_CTX_free(k->md[i]);
	free(k);
}

static void kept_key_create(void)
{
	kept_key_ok = pthread_key_create(&kept_key, kept_free) == 0;
}

/* A context initialised for SHA-256: this thread's kept one for the use,
 * or NULL when it cannot be had (the caller then makes one of its own). */
static EVP_MD_CTX *kept_md(int which)
{
	if (kept == NULL) {
		pthread_once(&kept_once, kept_key_create);
		if (!kept_key_ok)
			return NULL;
		kept = calloc(1, sizeof *kept);
		if (kept == NULL)
			return NULL;
		if (pthread_setspecific(kept_key, kept) != 0) {
			free(kept);
			kept = NULL;
			return NULL;
		}
	}
	if (kept->md[which] == NULL && (kept->md[which] = EVP_MD_CTX_new()) == NULL)
		return NULL;
	if (!EVP_DigestInit_ex(kept->md[which], sha256(), NULL))
		crypto_fail("EVP_DigestInit_ex");
	return kept->md[which];
}

void ndx_sha256(const void *data, size_t len, uint8_t out[NDX_SHA256_LEN])
{
	static const uint8_t empty = 0;
	EVP_MD_CTX *md = kept_md(KEPT_ONESHOT);

	if (md == NULL) {
		if (!EVP_Digest(len ? data : &empty, len, out, NULL, sha256(), NULL))
			crypto_fail("EVP_Digest");
		return;
	}
	if ((len > 0 && !EVP_DigestUpdate(md, data, len)) ||
	    !EVP_DigestFinal_ex(md, out, NULL))
		crypto_fail("EVP_DigestFinal_ex");
}

struct ndx_sha256 *ndx_sha256_new(void)
{
	struct ndx_sha256 *ctx = malloc(sizeof *ctx);

	if (ctx == NULL)
		return NULL;
	ctx->md = EVP_MD_CTX_new();
	if (ctx->md == NULL || !EVP_DigestInit_ex(ctx->md, sha256(), NULL)) {
		EVP_MD_CTX_free(ctx->md);
		free(ctx);
		return NULL;
	}
	return ctx;
}

void ndx_sha256_update(struct ndx_sha256 *ctx, const void *data, size_t len)
{
	if (len > 0 && !EVP_DigestUpdate(ctx->md, data, len))
		crypto_fail("EVP_DigestUpdate");
}

void ndx_sha256_final(struct ndx_sha256 *ctx, uint8_t out[NDX_SHA256_LEN])
{
	if (!EVP_DigestFinal_ex(ctx->md, out, NULL) ||
	    !EVP_DigestInit_ex(ctx->md, sha256(), NULL))
		crypto_fail("EVP_DigestFinal_ex");
}

void ndx_sha256_free(struct ndx_sha256 *ctx)
{
	if (ctx == NULL)
		return;
	EVP_MD_CTX_free(ctx->md);
	free(ctx);
}

/* One length-prefixed field. */
static void field(EVP_MD_CTX *md, const void *data, size_t len)
{
	uint8_t be[8];
	uint64_t n = len;

	for (int i = 7; i >= 0; i--) {
		be[i] = (uint8_t)(n & 0xff);
		n >>= 8;
	}
	if (!EVP_DigestUpdate(md, be, sizeof be) ||
	    (len > 0 && !EVP_DigestUpdate(md, data, len)))
		crypto_fail("EVP_DigestUpdate");
}

/* Absent (NULL) encodes exactly like "". */
static void field_str(EVP_MD_CTX *md, const char *s)
{
	field(md, s != NULL ? s : "", s != NULL ? strlen(s) : 0);
}

/* The ID token itself is a credential and long: the hash covers its
 * SHA-256. An absent or empty header is an empty field, so that a peer
 * that drops an empty header and one that keeps it agree. */
static void subject_token_field(EVP_MD_CTX *md, const char *token)
{
	uint8_t d[NDX_SHA256_LEN];

	if (token == NULL || token[0] == '\0') {
		field(md, "", 0);
		return;
	}
	ndx_sha256(token, strlen(token), d);
	field(md, d, sizeof d);
}

/* The canonical hashes do not nest: one kept context serves them all. */
static EVP_MD_CTX *hash_begin(void)
{
	EVP_MD_CTX *md = kept_md(KEPT_CANONICAL);

	if (md != NULL)
		return md;
	md = EVP_MD_CTX_new();
	if (md == NULL || !EVP_DigestInit_ex(md, sha256(), NULL))
		crypto_fail("EVP_DigestInit_ex");
	return md;
}

static void hash_end(EVP_MD_CTX *md, uint8_t out[NDX_SHA256_LEN])
{
	if (!EVP_DigestFinal_ex(md, out, NULL))
		crypto_fail("EVP_DigestFinal_ex");
	if (kept == NULL || md != kept->md[KEPT_CANONICAL])
		EVP_MD_CTX_free(md);
}

void ndx_request_hash(const struct ndx_request_hash_input *in, uint8_t out[NDX_SHA256_LEN])
{
	static const char label[] = "ndx-request-v4";
	EVP_MD_CTX *md = hash_begin();

	field(md, label, sizeof label - 1);
	field_str(md, in->method);
	field_str(md, in->service);
	field_str(md, in->path);
	field_str(md, in->query);
	field_str(md, in->client);
	field_str(md, in->message_id);
	field_str(md, in->user_id);
	field_str(md, in->issue);
	field_str(md, in->purpose);
	field_str(md, in->subject);
	field_str(md, in->consent);
	subject_token_field(md, in->subject_token);
	field_str(md, in->timestamp);
	field_str(md, in->nonce);
	field_str(md, in->gateway);
	field_str(md, in->content_type);
	field_str(md, in->represented_party);
	field(md, in->user_headers_sha256, NDX_SHA256_LEN);
	field(md, in->body_sha256, NDX_SHA256_LEN);
	hash_end(md, out);
}

void ndx_response_hash(const struct ndx_response_hash_input *in, uint8_t out[NDX_SHA256_LEN])
{
	static const char label[] = "ndx-response-v3";
	char status[NDX_DEC_MAX];
	size_t n = ndx_dec_i64(in->status, status);
	EVP_MD_CTX *md = hash_begin();

	field(md, label, sizeof label - 1);
	field(md, in->request_hash, NDX_SHA256_LEN);
	field(md, status, n);
	field_str(md, in->content_type);
	field_str(md, in->location);
	field_str(md, in->subjects);
	field(md, in->user_headers_sha256, NDX_SHA256_LEN);
	field(md, in->body_sha256, NDX_SHA256_LEN);
	hash_end(md, out);
}

void ndx_event_hash(const struct ndx_event_hash_input *in, uint8_t out[NDX_SHA256_LEN])
{
	static const char label[] = "ndx-event-v1";
	char time_ms[24];
	int n = snprintf(time_ms, sizeof time_ms, "%lld", (long long)in->time_ms);
	EVP_MD_CTX *md = hash_begin();

	field(md, label, sizeof label - 1);
	field_str(md, in->id);
	field_str(md, in->service);
	field_str(md, in->name);
	field_str(md, in->publisher);
	field_str(md, in->subject);
	field(md, time_ms, (size_t)n);
	field_str(md, in->gateway);
	field(md, in->payload_sha256, NDX_SHA256_LEN);
	hash_end(md, out);
}

void ndx_event_receipt_hash(const struct ndx_event_receipt_hash_input *in,
			    uint8_t out[NDX_SHA256_LEN])
{
	static const char label[] = "ndx-event-receipt-v1";
	EVP_MD_CTX *md = hash_begin();

	field(md, label, sizeof label - 1);
	field(md, in->event_hash, NDX_SHA256_LEN);
	field_str(md, in->client);
	field_str(md, in->purpose);
	field_str(md, in->gateway);
	hash_end(md, out);
}
