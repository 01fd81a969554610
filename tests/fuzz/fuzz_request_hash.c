/* libFuzzer target for the canonical hashes the gateways sign
 * (include/ndx/hash.h, docs/protocol.md "Canonical hashes"). The input is
 * the request as it arrives: up to 15 fields (method, service, path, query,
 * client, X-Road-Id, user id, issue, purpose, subject, consent, timestamp,
 * gateway, content type, subject token) separated by 0xff bytes, then the
 * body. Every value any peer could send is thus hashed. Invariants:
 * ndx_request_hash equals an independent encoding written here from the
 * protocol text (label, then each field as an 8-byte big-endian length and
 * its bytes, the subject token as its SHA-256 right after the consent or
 * empty, then the body digest); an absent field hashes like ""; moving one
 * byte across a field boundary or changing the body changes the hash (the
 * framing is injective); ndx_response_hash likewise, with the status as
 * decimal text and the subject field as the subjects list.
 * How to run: tests/fuzz/README.md. */
#include <string.h>

#include "fuzz.h"

#define NFIELDS 15
#define F_TOKEN 14 /* input position of Ndx-Subject-Token */

struct buf {
	uint8_t *p;
	size_t n, cap;
};

static void put(struct buf *b, const void *data, size_t len)
{
	if (b->n + len + 8 > b->cap) {
		size_t cap = (b->n + len + 8) * 2;
		uint8_t *p = realloc(b->p, cap);
		FUZZ_CHECK(p != NULL);
		b->p = p;
		b->cap = cap;
	}
	for (int i = 7; i >= 0; i--)
		b->p[b->n + 7 - (size_t)i] = (uint8_t)((uint64_t)len >> (8 * i));
	b->n += 8;
	if (len)
		memcpy(b->p + b->n, data, len);
	b->n += len;
}

static void reference(char *const f[NFIELDS], const uint8_t body_sha[NDX_SHA256_LEN],
		      uint8_t out[NDX_SHA256_LEN])
{
	struct buf b = { 0 };

	put(&b, "ndx-request-v4", 14);
	/* Table order: the token's digest follows the consent (input 10). */
	for (int i = 0; i < F_TOKEN; i++) {
		put(&b, f[i] ? f[i] : "", f[i] ? strlen(f[i]) : 0);
		if (i == 11) /* Ndx-Nonce follows the timestamp: the message id's text here */
			put(&b, f[5] ? f[5] : "", f[5] ? strlen(f[5]) : 0);
		if (i == 10) {
			uint8_t d[NDX_SHA256_LEN];
			const char *t = f[F_TOKEN];

			if (t != NULL && t[0] != '\0') {
				ndx_sha256(t, strlen(t), d);
				put(&b, d, sizeof d);
			} else {
				put(&b, "", 0);
			}
		}
	}
	/* X-Road-Represented-Party carries the issue's text here, and the user
	 * headers' digest is the body's with its first byte flipped. */
	put(&b, f[7] ? f[7] : "", f[7] ? strlen(f[7]) : 0);
	{
		uint8_t uh[NDX_SHA256_LEN];
		memcpy(uh, body_sha, sizeof uh);
		uh[0] ^= 0xff;
		put(&b, uh, sizeof uh);
	}
	put(&b, body_sha, NDX_SHA256_LEN);
	ndx_sha256(b.p, b.n, out);
	free(b.p);
}

static void hash_of(char *const f[NFIELDS], const uint8_t body_sha[NDX_SHA256_LEN],
		    uint8_t out[NDX_SHA256_LEN])
{
	struct ndx_request_hash_input in = {
		.method = f[0], .service = f[1], .path = f[2], .query = f[3], .client = f[4],
		.message_id = f[5], .user_id = f[6], .issue = f[7], .purpose = f[8],
		.subject = f[9], .consent = f[10], .timestamp = f[11], .gateway = f[12],
		.content_type = f[13], .subject_token = f[F_TOKEN], .represented_party = f[7],
		.nonce = f[5],
	};

	memcpy(in.body_sha256, body_sha, NDX_SHA256_LEN);
	memcpy(in.user_headers_sha256, body_sha, NDX_SHA256_LEN);
	in.user_headers_sha256[0] ^= 0xff;
	ndx_request_hash(&in, out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *f[NFIELDS] = { 0 };
	uint8_t body_sha[NDX_SHA256_LEN], h[NDX_SHA256_LEN], r[NDX_SHA256_LEN];
	uint8_t h2[NDX_SHA256_LEN], rh[NDX_SHA256_LEN], rh2[NDX_SHA256_LEN];
	struct ndx_response_hash_input rin = { 0 };
	size_t at = 0, nf = 0;
	const uint8_t *body;
	size_t body_len;

	/* Fields end at 0xff; a NUL inside a field ends its C string, as a
	 * NUL ends a header value in libmicrohttpd. */
	while (nf < NFIELDS && at < size) {
		const uint8_t *end = memchr(data + at, 0xff, size - at);
		size_t len = end ? (size_t)(end - (data + at)) : size - at;
		f[nf++] = fuzz_strndup(data + at, len);
		at += len + (end ? 1 : 0);
		if (!end)
			break;
	}
	body = data + at;
	body_len = size - at;
	ndx_sha256(body_len ? body : (const uint8_t *)"", body_len, body_sha);

	hash_of(f, body_sha, h);
	reference(f, body_sha, r);
	FUZZ_CHECK(memcmp(h, r, sizeof h) == 0);

	/* Absent hashes like "". */
	for (size_t i = 0; i < NFIELDS; i++) {
		if (f[i] && f[i][0] == '\0') {
			char *keep = f[i];
			f[i] = NULL;
			hash_of(f, body_sha, h2);
			f[i] = keep;
			FUZZ_CHECK(memcmp(h, h2, sizeof h) == 0);
		}
	}
	/* Moving the last byte of a field to the front of the next one
	 * keeps the concatenation and must change the hash. */
	for (size_t i = 0; i + 1 < nf; i++) {
		size_t a = strlen(f[i]), b = strlen(f[i + 1]);
		char *fa, *fb, *ka = f[i], *kb = f[i + 1];
		if (a == 0)
			continue;
		fa = fuzz_strndup((const uint8_t *)ka, a - 1);
		fb = malloc(b + 2);
		FUZZ_CHECK(fb != NULL);
		fb[0] = ka[a - 1];
		memcpy(fb + 1, kb, b + 1);
		f[i] = fa;
		f[i + 1] = fb;
		hash_of(f, body_sha, h2);
		f[i] = ka;
		f[i + 1] = kb;
		free(fa);
		free(fb);
		FUZZ_CHECK(memcmp(h, h2, sizeof h) != 0);
		break; /* one boundary an input is enough: the fuzzer picks others */
	}
	/* Another body. */
	body_sha[0] ^= 1;
	hash_of(f, body_sha, h2);
	body_sha[0] ^= 1;
	FUZZ_CHECK(memcmp(h, h2, sizeof h) != 0);

	/* The response hash over the same material. */
	memcpy(rin.request_hash, h, sizeof h);
	rin.status = size ? (int)data[0] * 3 - 100 : 200;
	rin.content_type = f[13];
	rin.location = f[2];
	rin.subjects = f[9];
	memcpy(rin.body_sha256, body_sha, sizeof body_sha);
	memcpy(rin.user_headers_sha256, h, sizeof h);
	ndx_response_hash(&rin, rh);
	{
		struct buf b = { 0 };
		char status[16];
		int n = snprintf(status, sizeof status, "%d", rin.status);
		put(&b, "ndx-response-v3", 15);
		put(&b, h, sizeof h);
		put(&b, status, (size_t)n);
		put(&b, f[13] ? f[13] : "", f[13] ? strlen(f[13]) : 0);
		put(&b, f[2] ? f[2] : "", f[2] ? strlen(f[2]) : 0);
		put(&b, f[9] ? f[9] : "", f[9] ? strlen(f[9]) : 0);
		put(&b, h, sizeof h);
		put(&b, body_sha, sizeof body_sha);
		ndx_sha256(b.p, b.n, rh2);
		free(b.p);
	}
	FUZZ_CHECK(memcmp(rh, rh2, sizeof rh) == 0);
	rin.status++;
	ndx_response_hash(&rin, rh2);
	FUZZ_CHECK(memcmp(rh, rh2, sizeof rh) != 0);

	for (size_t i = 0; i < NFIELDS; i++)
		free(f[i]);
	return 0;
}
