/* Hex, base64 (RFC 4648 section 4, padded), base64url (section 5, unpadded)
 * and RFC 3986 percent encoding, as used on ndx's wire and in its documents
 * (docs/protocol.md). Base64 goes through OpenSSL's EVP_EncodeBlock and
 * EVP_DecodeBlock; since those are lenient (whitespace, no length
 * reporting), decoding validates the whole input first and computes the
 * real length from the padding, so every value has exactly one accepted
 * spelling. */
#include "ndx/encode.h"

#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "ndx/err.h"

static const char hexdig[] = "0123456789abcdef";

void ndx_hex_encode(const uint8_t *in, size_t len, char *out)
{
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = hexdig[in[i] >> 4];
		out[2 * i + 1] = hexdig[in[i] & 0x0f];
	}
	out[2 * len] = '\0';
}

/* The digits of v and a NUL at out, which holds 21 bytes, or 20 when v is
 * at most 2^63 (19 digits); returns how many digits. */
static size_t dec_digits(uint64_t v, char *out)
{
	char rev[NDX_DEC_MAX];
	size_t n = 0;

	do {
		rev[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	for (size_t i = 0; i < n; i++)
		out[i] = rev[n - 1 - i];
	out[n] = '\0';
	return n;
}

size_t ndx_dec_u64(uint64_t v, char out[NDX_DEC_MAX])
{
	return dec_digits(v, out);
}

size_t ndx_dec_i64(int64_t v, char out[NDX_DEC_MAX])
{
	if (v >= 0)
		return dec_digits((uint64_t)v, out);
	out[0] = '-';
	/* -(v + 1) + 1: INT64_MIN has no positive int64_t */
	return 1 + dec_digits((uint64_t)(-(v + 1)) + 1, out + 1);
}

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int ndx_hex_decode(const char *in, size_t inlen, uint8_t *out, size_t outlen)
{
	if (outlen > SIZE_MAX / 2 || inlen != 2 * outlen)
		return NDX_EINVAL;
	for (size_t i = 0; i < outlen; i++) {
		int hi = hexval((unsigned char)in[2 * i]);
		int lo = hexval((unsigned char)in[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return NDX_EINVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return NDX_OK;
}

/* EVP_EncodeBlock and EVP_DecodeBlock take int lengths; larger inputs go
 * through in chunks that keep whole 3-byte / 4-character groups. */
#define B64_RAW_CHUNK (3u * 1024u * 1024u)
/* Decoding stages whole 4-character groups on the stack (b64_decode_checked). */
#define B64_STAGE_CHARS 1024u

char *ndx_b64_encode(const uint8_t *in, size_t len, int url)
{
	size_t groups = len / 3 + (len % 3 != 0);
	size_t outcap, pos = 0;
	char *out;

	if (groups > (SIZE_MAX - 1) / 4)
		return NULL;
	outcap = groups * 4 + 1;
	out = malloc(outcap);
	if (out == NULL)
		return NULL;
	for (size_t done = 0; done < len;) {
		size_t n = len - done < B64_RAW_CHUNK ? len - done : B64_RAW_CHUNK;

		pos += (size_t)EVP_EncodeBlock((unsigned char *)out + pos, in + done, (int)n);
		done += n;
	}
	out[pos] = '\0';
	if (url) {
		while (pos > 0 && out[pos - 1] == '=')
			out[--pos] = '\0';
		for (size_t i = 0; i < pos; i++) {
			if (out[i] == '+')
				out[i] = '-';
			else if (out[i] == '/')
				out[i] = '_';
		}
	}
	return out;
}

/* Value of c in the standard (url=0) or url-safe alphabet, -1 outside it. */
static int b64val(unsigned char c, int url)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == (url ? '-' : '+'))
		return 62;
	if (c == (url ? '_' : '/'))
		return 63;
	return -1;
}

int ndx_b64url_token_ok(const char *s, size_t n, size_t len)
{
	if (n != len)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_'))
			return 0;
	return 1;
}

/* Checks in[0..inlen) as base64 (url=0, padding required) or base64url
 * (url=1, none): *data is the count of characters before any padding. */
static int b64_check(const char *in, size_t inlen, int url, size_t *data_out)
{
	size_t data = inlen, pad = 0, tail;
	int last;

	if (!url) {
		if (inlen % 4 != 0)
			return NDX_EINVAL;
		while (pad < 2 && data > 0 && in[data - 1] == '=') {
			data--;
			pad++;
		}
	}
	tail = data % 4;
	/* One leftover character cannot carry a whole byte; with padding the
	 * count of '=' must be exactly what completes the last group. */
	if (tail == 1 || (!url && pad != (4 - tail) % 4))
		return NDX_EINVAL;
	for (size_t i = 0; i < data; i++) {
		if (b64val((unsigned char)in[i], url) < 0)
			return NDX_EINVAL;
	}
	/* Bits below the last whole byte must be zero, or "Zg==" and "Zh=="
	 * would both decode to "f". */
	if (tail != 0) {
		last = b64val((unsigned char)in[data - 1], url);
		if ((tail == 2 && (last & 0x0f) != 0) || (tail == 3 && (last & 0x03) != 0))
			return NDX_EINVAL;
	}
	*data_out = data;
	return NDX_OK;
}

/* Bytes that data characters (no padding) of base64 carry. */
static size_t b64_len(size_t data)
{
	return data / 4 * 3 + (data % 4 ? data % 4 - 1 : 0);
}

/* Decodes the data characters of a checked text into out, which holds
 * exactly b64_len(data) bytes. EVP_DecodeBlock wants whole padded groups in
 * the standard alphabet and writes the zero bytes padding stands for, so
 * the text goes through a small staging buffer on the stack: no allocation,
 * whatever the length. */
static int b64_decode_checked(const char *in, size_t data, int url, uint8_t *out)
{
	char text[B64_STAGE_CHARS + 1];
	uint8_t raw[B64_STAGE_CHARS / 4 * 3];
	size_t padded = (data + 3) / 4 * 4, total = b64_len(data), pos = 0;

	for (size_t done = 0; done < padded;) {
		size_t n = padded - done < B64_STAGE_CHARS ? padded - done : B64_STAGE_CHARS;
		/* Chunks are whole groups, so padding falls only in the last. */
		size_t have = done + n <= data ? n : data - done, keep;
		int got;

		memcpy(text, in + done, have);
		for (size_t i = 0; url && i < have; i++) {
			if (text[i] == '-')
				text[i] = '+';
			else if (text[i] == '_')
				text[i] = '/';
		}
		memset(text + have, '=', n - have);
		text[n] = '\0';
		got = EVP_DecodeBlock(raw, (const unsigned char *)text, (int)n);
		if (got < 0)
			return NDX_EINVAL;
		keep = total - pos < (size_t)got ? total - pos : (size_t)got;
		memcpy(out + pos, raw, keep);
		pos += keep;
		done += n;
	}
	return NDX_OK;
}

int ndx_b64_decode(const char *in, size_t inlen, int url, uint8_t **out, size_t *outlen)
{
	size_t data, len;
	uint8_t *raw;
	int rc;

	*out = NULL;
	*outlen = 0;
	if ((rc = b64_check(in, inlen, url, &data)) != NDX_OK)
		return rc;
	len = b64_len(data);
	if ((raw = malloc(len ? len : 1)) == NULL)
		return NDX_ENOMEM;
	if ((rc = b64_decode_checked(in, data, url, raw)) != NDX_OK) {
		free(raw);
		return rc;
	}
	*out = raw;
	*outlen = len;
	return NDX_OK;
}

int ndx_b64_decode_exact(const char *in, size_t inlen, int url, uint8_t *out, size_t len)
{
	size_t data;
	int rc;

	if ((rc = b64_check(in, inlen, url, &data)) != NDX_OK)
		return rc;
	if (b64_len(data) != len)
		return NDX_EINVAL;
	return b64_decode_checked(in, data, url, out);
}

long ndx_pct_decode(const char *in, size_t inlen, char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < inlen; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c == '%') {
			int hi, lo;

			if (inlen - i < 3)
				return NDX_EINVAL;
			hi = hexval((unsigned char)in[i + 1]);
			lo = hexval((unsigned char)in[i + 2]);
			if (hi < 0 || lo < 0)
				return NDX_EINVAL;
			c = (unsigned char)(hi << 4 | lo);
			if (c == '\0')
				return NDX_EINVAL;
			i += 2;
		} else if (c == '\0') {
			return NDX_EINVAL;
		}
		if (o + 1 >= cap)
			return NDX_ETOOBIG;
		out[o++] = (char)c;
	}
	if (cap == 0 || o > LONG_MAX)
		return NDX_ETOOBIG;
	out[o] = '\0';
	return (long)o;
}

static bool pct_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || (c != '\0' && strchr("-._~'()+,=", c) != NULL);
}

long ndx_pct_encode(const char *in, size_t inlen, char *out, size_t cap)
{
	static const char upper[] = "0123456789ABCDEF";
	size_t o = 0;

	for (size_t i = 0; i < inlen; i++) {
		unsigned char c = (unsigned char)in[i];

		if (pct_unreserved(c)) {
			if (o + 1 >= cap)
				return NDX_ETOOBIG;
			out[o++] = (char)c;
		} else {
			if (o + 3 >= cap)
				return NDX_ETOOBIG;
			out[o++] = '%';
			out[o++] = upper[c >> 4];
			out[o++] = upper[c & 0x0f];
		}
	}
	if (cap == 0 || o > LONG_MAX)
		return NDX_ETOOBIG;
	out[o] = '\0';
	return (long)o;
}
