/* Byte encodings used on the wire and in files: hex, base64 (RFC 4648 section
 * 4), base64url without padding (section 5, as JOSE uses it) and percent
 * encoding of path segments (RFC 3986). Overview: docs/protocol.md. */
#ifndef NDX_ENCODE_H
#define NDX_ENCODE_H

#include <stddef.h>
#include <stdint.h>

/* Lower-case hex of len bytes into out, which must hold 2*len+1 bytes. */
void ndx_hex_encode(const uint8_t *in, size_t len, char *out);
/* Decodes exactly 2*outlen hex digits (either case) of in. Returns NDX_OK or
 * NDX_EINVAL when in is not that many hex digits. */
int ndx_hex_decode(const char *in, size_t inlen, uint8_t *out, size_t outlen);

/* Bytes that hold any 64-bit integer in decimal, sign and NUL included. */
#define NDX_DEC_MAX 21
/* The decimal digits of v as printf's "%" PRIu64 writes them, NUL-terminated,
 * into out; returns how many (the NUL not counted). For text made on every
 * exchange, where printf's own cost showed (bench/README.md "Fewer
 * statements: INSERTs of many rows"). */
size_t ndx_dec_u64(uint64_t v, char out[NDX_DEC_MAX]);
/* As ndx_dec_u64 for a signed value, as "%" PRId64 writes it. */
size_t ndx_dec_i64(int64_t v, char out[NDX_DEC_MAX]);

/* Returns a malloc'd NUL-terminated encoding (caller frees) or NULL on
 * allocation failure. url selects base64url without padding. */
char *ndx_b64_encode(const uint8_t *in, size_t len, int url);
/* Decodes base64 (url=0, padding required) or base64url (url=1, no padding)
 * into a malloc'd buffer (*out, caller frees, *outlen bytes). Returns NDX_OK,
 * NDX_EINVAL on any character or length outside the alphabet, NDX_ENOMEM. */
int ndx_b64_decode(const char *in, size_t inlen, int url, uint8_t **out, size_t *outlen);
/* As ndx_b64_decode, into out, for a value of exactly len bytes (a key, a
 * signature, a digest): NDX_EINVAL when the text is not base64 of that many
 * bytes. Allocates nothing. */
int ndx_b64_decode_exact(const char *in, size_t inlen, int url, uint8_t *out, size_t len);
/* Whether s[0..n) is exactly len characters of the base64url alphabet
 * (A-Z a-z 0-9 - _): the shape of the random tokens the web UIs keep in
 * cookies. */
int ndx_b64url_token_ok(const char *s, size_t n, size_t len);

/* Percent-decodes in[0..inlen) into out (cap bytes, NUL-terminated).
 * Returns the decoded length, NDX_EINVAL for a bad escape or an encoded NUL,
 * NDX_ETOOBIG when out is too small. */
long ndx_pct_decode(const char *in, size_t inlen, char *out, size_t cap);
/* Percent-encodes every byte outside ALPHA / DIGIT / "-._~'()+,=" (so '/',
 * '?', '%' and non-ASCII are escaped). Returns the length written
 * (NUL-terminated) or NDX_ETOOBIG. */
long ndx_pct_encode(const char *in, size_t inlen, char *out, size_t cap);

#endif
