/* libFuzzer target for the byte encodings of include/ndx/encode.h and the
 * timestamps of include/ndx/timefmt.h. The input is decoded as hex, base64,
 * base64url and percent-encoding; whatever decodes must encode back to the
 * very input (hex modulo case, base64 exactly: each value has one accepted
 * spelling) or, for percent-encoding, to a text that decodes the same. The
 * raw input also goes encode -> decode in each encoding. A timestamp that
 * parses must format back to the same text, and any time_t the first bytes
 * spell must format into something that parses. How to run:
 * tests/fuzz/README.md. */
#include <ctype.h>
#include <string.h>

#include "fuzz.h"
#include "ndx/encode.h"
#include "ndx/timefmt.h"

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		abort();
	return p;
}

static void hex_text(const char *text, size_t size)
{
	size_t n = size / 2;
	uint8_t *raw = xmalloc(n);
	char *back;
	int rc;

	rc = ndx_hex_decode(text, size, raw, n + 1);
	FUZZ_CHECK(rc == NDX_EINVAL);
	rc = ndx_hex_decode(text, size, raw, n);
	if (size % 2 != 0) {
		FUZZ_CHECK(rc == NDX_EINVAL);
	} else if (rc == NDX_OK) {
		back = xmalloc(size + 1);
		ndx_hex_encode(raw, n, back);
		for (size_t i = 0; i < size; i++)
			FUZZ_CHECK(back[i] == tolower((unsigned char)text[i]));
		FUZZ_CHECK(back[size] == '\0');
		free(back);
	} else {
		FUZZ_CHECK(rc == NDX_EINVAL);
	}
	free(raw);
}

static void b64_text(const char *text, size_t size, int url)
{
	uint8_t *raw = NULL;
	size_t rawlen = 12345;
	char *back;
	int rc = ndx_b64_decode(text, size, url, &raw, &rawlen);

	if (rc != NDX_OK) {
		FUZZ_CHECK(rc == NDX_EINVAL || rc == NDX_ENOMEM);
		FUZZ_CHECK(raw == NULL && rawlen == 0);
		return;
	}
	FUZZ_CHECK(raw != NULL);
	FUZZ_CHECK(rawlen <= size / 4 * 3 + 2);
	back = ndx_b64_encode(raw, rawlen, url);
	FUZZ_CHECK(back != NULL);
	FUZZ_CHECK(strlen(back) == size && memcmp(back, text, size) == 0);
	free(back);
	free(raw);
}

static void pct_text(const char *text, size_t size)
{
	char *out = xmalloc(size + 1), *enc, *dec, *tight;
	long n = ndx_pct_decode(text, size, out, size + 1), m;

	if (n < 0) {
		FUZZ_CHECK(n == NDX_EINVAL);
		free(out);
		return;
	}
	FUZZ_CHECK((size_t)n <= size && strlen(out) == (size_t)n);
	/* Exactly n + 1 bytes are enough; n are not. */
	tight = xmalloc((size_t)n + 1);
	FUZZ_CHECK(ndx_pct_decode(text, size, tight, (size_t)n + 1) == n);
	FUZZ_CHECK(memcmp(tight, out, (size_t)n + 1) == 0);
	FUZZ_CHECK(ndx_pct_decode(text, size, tight, (size_t)n) == NDX_ETOOBIG);
	free(tight);

	enc = xmalloc(3 * (size_t)n + 1);
	m = ndx_pct_encode(out, (size_t)n, enc, 3 * (size_t)n + 1);
	FUZZ_CHECK(m >= n && strlen(enc) == (size_t)m);
	tight = xmalloc((size_t)m + 1);
	FUZZ_CHECK(ndx_pct_encode(out, (size_t)n, tight, (size_t)m + 1) == m);
	FUZZ_CHECK(ndx_pct_encode(out, (size_t)n, tight, (size_t)m) == NDX_ETOOBIG);
	free(tight);
	FUZZ_CHECK(strpbrk(enc, "/? ") == NULL);
	dec = xmalloc((size_t)n + 1);
	FUZZ_CHECK(ndx_pct_decode(enc, (size_t)m, dec, (size_t)n + 1) == n);
	FUZZ_CHECK(memcmp(dec, out, (size_t)n + 1) == 0);
	free(dec);
	free(enc);
	free(out);
}

/* The raw input through each encoder and back. */
static void raw_round_trips(const uint8_t *data, size_t size)
{
	char *hex = xmalloc(2 * size + 1), *pct = xmalloc(3 * size + 1), *dec;
	uint8_t *raw = xmalloc(size);
	long m, n;

	ndx_hex_encode(data, size, hex);
	FUZZ_CHECK(strlen(hex) == 2 * size);
	FUZZ_CHECK(ndx_hex_decode(hex, 2 * size, raw, size) == NDX_OK);
	FUZZ_CHECK(size == 0 || memcmp(raw, data, size) == 0);
	free(raw);
	free(hex);

	for (int url = 0; url <= 1; url++) {
		char *b64 = ndx_b64_encode(data, size, url);
		uint8_t *back = NULL;
		size_t backlen = 0;

		FUZZ_CHECK(b64 != NULL);
		FUZZ_CHECK(ndx_b64_decode(b64, strlen(b64), url, &back, &backlen) == NDX_OK);
		FUZZ_CHECK(backlen == size && (size == 0 || memcmp(back, data, size) == 0));
		free(back);
		free(b64);
	}

	m = ndx_pct_encode((const char *)data, size, pct, 3 * size + 1);
	FUZZ_CHECK(m >= (long)size && strlen(pct) == (size_t)m);
	dec = xmalloc(size + 1);
	n = ndx_pct_decode(pct, (size_t)m, dec, size + 1);
	/* An encoded NUL is refused on the way in, by design. */
	if (memchr(data, '\0', size) != NULL) {
		FUZZ_CHECK(n == NDX_EINVAL);
	} else {
		FUZZ_CHECK(n == (long)size && (size == 0 || memcmp(dec, data, size) == 0));
	}
	free(dec);
	free(pct);
}

static void time_text(const char *text, const uint8_t *data, size_t size)
{
	char out[NDX_TIME_TEXT_LEN];
	time_t t = 0, back = 0;

	if (ndx_time_parse(text, &t) == NDX_OK) {
		ndx_time_format(t, out);
		FUZZ_CHECK(strcmp(out, text) == 0);
	}
	if (size >= sizeof t) {
		memcpy(&t, data, sizeof t);
		ndx_time_format(t, out);
		FUZZ_CHECK(strlen(out) == NDX_TIME_TEXT_LEN - 1);
		/* Times outside four-digit years format as this placeholder. */
		FUZZ_CHECK(ndx_time_parse(out, &back) == NDX_OK);
		FUZZ_CHECK(back == t || strcmp(out, "0000-01-01T00:00:00Z") == 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_strndup(data, size);

	hex_text(text, size);
	b64_text(text, size, 0);
	b64_text(text, size, 1);
	pct_text(text, size);
	raw_round_trips(data, size);
	time_text(text, data, size);
	free(text);
	return 0;
}
