/* Display text checks, terminal escapes and JSON strings
 * (include/ndx/text.h). One decoder serves all three, so that what the
 * registry refuses and what the CLI escapes can never drift apart.
 * Overview: docs/security.md (T30). */
#include "ndx/text.h"

#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ndx/buf.h"
#include "ndx/err.h"

/* Decodes one UTF-8 character at s (n > 0 bytes available). Returns its
 * length and sets *cp, or 0 when the bytes are not valid UTF-8 (overlong,
 * surrogate, above U+10FFFF, truncated). */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
	uint32_t c = s[0], min;
	size_t len;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if ((c & 0xe0) == 0xc0) {
		len = 2, c &= 0x1f, min = 0x80;
	} else if ((c & 0xf0) == 0xe0) {
		len = 3, c &= 0x0f, min = 0x800;
	} else if ((c & 0xf8) == 0xf0) {
		len = 4, c &= 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

/* Why code point c may not be shown, or NULL when it may. */
static const char *refused(uint32_t c)
{
	if (c < 0x20 || c == 0x7f)
		return "a control character";
	if (c >= 0x80 && c <= 0x9f)
		return "a C1 control character";
	if ((c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069))
		return "a bidirectional override or isolate";
	if (c == 0x2028 || c == 0x2029)
		return "a line or paragraph separator";
	return NULL;
}

int ndx_text_check(const char *s, size_t len, size_t *offset, const char **why)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n;
	uint32_t c;
	const char *w;

	while (i < len) {
		n = utf8_next(p + i, len - i, &c);
		w = n ? refused(c) : "a byte that is not UTF-8";
		if (w) {
			if (offset)
				*offset = i;
			if (why)
				*why = w;
			return NDX_EINVAL;
		}
		i += n;
	}
	return NDX_OK;
}

/* The escapes of both forms: json keeps a backslash and the white space
 * between tokens as they are and writes every other refused character as
 * \u00hh or \uhhhh, which JSON reads back as the same character. */
static char *escape(const char *s, size_t len, int json)
{
	const unsigned char *p = (const unsigned char *)s;
	/* No escape is longer than 6 bytes for each byte it replaces ("\u001b"
	 * for one, "\u202e" for three). */
	size_t cap = len * 6 + 1, i = 0, o = 0, n;
	char *out = malloc(cap);
	uint32_t c;

	if (!out)
		return NULL;
	while (i < len) {
		n = utf8_next(p + i, len - i, &c);
		if (n == 0) {
			if (json)
				o += (size_t)snprintf(out + o, cap - o, "\\ufffd");
			else
				o += (size_t)snprintf(out + o, cap - o, "\\x%02x", p[i]);
			i++;
			continue;
		}
		if (json && c < 0x20) {
			/* jansson escapes these inside strings: outside, they are
			 * the document's own white space. */
			out[o++] = (char)c;
		} else if (refused(c) && (json || n > 1)) {
			o += (size_t)snprintf(out + o, cap - o, "\\u%04x", (unsigned)c);
		} else if (refused(c)) {
			o += (size_t)snprintf(out + o, cap - o, "\\x%02x", (unsigned)c);
		} else if (c == '\\' && !json) {
			out[o++] = '\\';
			out[o++] = '\\';
		} else {
			memcpy(out + o, p + i, n);
			o += n;
		}
		i += n;
	}
	out[o] = '\0';
	return out;
}

char *ndx_text_escape(const char *s, size_t len)
{
	return escape(s, len, 0);
}

char *ndx_text_escape_json(const char *json, size_t len)
{
	return escape(json, len, 1);
}

/* The escape jansson writes for the ASCII character c, or NULL when c is
 * written as it is (dump.c, dump_string). */
static const char *json_escape_of(uint32_t c, char seq[7])
{
	switch (c) {
	case '\\': return "\\\\";
	case '"': return "\\\"";
	case '\b': return "\\b";
	case '\f': return "\\f";
	case '\n': return "\\n";
	case '\r': return "\\r";
	case '\t': return "\\t";
	default:
		if (c >= 0x20)
			return NULL;
		snprintf(seq, 7, "\\u%04X", (unsigned)c);
		return seq;
	}
}

int ndx_text_json_string(struct ndx_buf *b, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t before = b->len, i = 0, run = 0, n;
	uint32_t c;
	int rc;

	assert(b && (s || len == 0));
	/* Validate first, so that a refusal appends nothing. */
	while (i < len) {
		n = utf8_next(p + i, len - i, &c);
		if (n == 0)
			return NDX_EINVAL;
		i += n;
	}
	rc = ndx_buf_append(b, "\"", 1);
	/* Runs of bytes that need no escape are appended in one piece. */
	for (i = 0; rc == NDX_OK && i < len; i++) {
		char seq[7];
		const char *esc = json_escape_of(p[i], seq);

		if (!esc) {
			run++;
			continue;
		}
		rc = ndx_buf_append(b, s + i - run, run);
		run = 0;
		if (rc == NDX_OK)
			rc = ndx_buf_append_str(b, esc);
	}
	if (rc == NDX_OK)
		rc = ndx_buf_append(b, s + len - run, run);
	if (rc == NDX_OK)
		rc = ndx_buf_append(b, "\"", 1);
	if (rc != NDX_OK)
		ndx_buf_truncate(b, before);
	return rc;
}

bool ndx_text_is_token(const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > max)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || *s == 0x7f)
			return false;
	return true;
}
