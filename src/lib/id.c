/* X-Road style identifiers (docs/protocol.md "Identifiers"): parsing the wire
 * form, where each part may be percent-encoded, into the decoded parts of a
 * struct ndx_id, and formatting them back in canonical and wire form. Parts
 * are split on '/' before they are decoded, so "%2F" is a character inside a
 * part (and refused), never a separator. Error sentences name the part by
 * number and role because they end up in refusals that people read. */
#include "ndx/id.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ndx/encode.h"
#include "ndx/err.h"

static const char *const part_role[5] = {
	"instance", "member class", "member code", "subsystem code", "service code",
};

static const char *kind_name(enum ndx_id_kind kind)
{
	switch (kind) {
	case NDX_ID_MEMBER: return "member id";
	case NDX_ID_SUBSYSTEM: return "subsystem id";
	case NDX_ID_SERVICE: return "service id";
	}
	return "id";
}

/* Sentences that quote the input need a buffer; one per thread keeps
 * ndx_id_parse usable from the gateway's thread pool. The sentence stays
 * valid until the same thread's next failing parse. */
static _Thread_local char why_buf[128];

__attribute__((format(printf, 2, 3)))
static int fail(const char **why, const char *fmt, ...)
{
	va_list ap;

	if (why != NULL) {
		va_start(ap, fmt);
		vsnprintf(why_buf, sizeof why_buf, fmt, ap);
		va_end(ap);
		*why = why_buf;
	}
	return NDX_EINVAL;
}

static bool id_char_allowed(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || (c != '\0' && strchr("'()+,-.=?", c) != NULL);
}

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool valid_kind(enum ndx_id_kind kind)
{
	return kind == NDX_ID_MEMBER || kind == NDX_ID_SUBSYSTEM || kind == NDX_ID_SERVICE;
}

static char *part_slot(struct ndx_id *id, int i)
{
	char *slots[5] = { id->instance, id->member_class, id->member_code,
			   id->subsystem, id->service };
	return slots[i];
}

static const char *part_get(const struct ndx_id *id, int i)
{
	const char *slots[5] = { id->instance, id->member_class, id->member_code,
				 id->subsystem, id->service };
	return slots[i];
}

/* Decodes and checks part i (0-based) of the wire text p[0..n) into dst. */
static int parse_part(const char *p, size_t n, int i, char *dst, const char **why)
{
	/* Large enough for any part that can decode to NDX_ID_PART_MAX. */
	char tmp[3 * NDX_ID_PART_MAX + 1];
	long dlen;

	if (n == 0)
		return fail(why, "part %d (%s) is empty", i + 1, part_role[i]);
	if (n > 3 * NDX_ID_PART_MAX)
		goto too_long;
	dlen = ndx_pct_decode(p, n, tmp, sizeof tmp);
	if (dlen < 0) {
		/* ndx_pct_decode refuses an encoded NUL like a bad escape;
		 * tell the two apart for the reader. */
		for (size_t k = 0; k < n; k++) {
			if (p[k] == '\0')
				return fail(why, "character 0x00 is not allowed in part %d (%s)",
					    i + 1, part_role[i]);
			if (p[k] != '%')
				continue;
			if (n - k < 3 || !is_hex(p[k + 1]) || !is_hex(p[k + 2]))
				break;
			if (p[k + 1] == '0' && p[k + 2] == '0')
				return fail(why, "character 0x00 is not allowed in part %d (%s)",
					    i + 1, part_role[i]);
			k += 2;
		}
		return fail(why, "bad percent-escape in part %d (%s)", i + 1, part_role[i]);
	}
	if (dlen > NDX_ID_PART_MAX)
		goto too_long;
	for (long k = 0; k < dlen; k++) {
		unsigned char c = (unsigned char)tmp[k];

		if (id_char_allowed(c))
			continue;
		if (c >= 0x20 && c < 0x7f)
			return fail(why, "character '%c' is not allowed in part %d (%s)",
				    c, i + 1, part_role[i]);
		return fail(why, "character 0x%02X is not allowed in part %d (%s)",
			    c, i + 1, part_role[i]);
	}
	memcpy(dst, tmp, (size_t)dlen + 1);
	return NDX_OK;

too_long:
	return fail(why, "part %d (%s) is longer than %d characters",
		    i + 1, part_role[i], NDX_ID_PART_MAX);
}

/* Parses exactly `kind` parts from text[0..len), in which the caller has
 * already counted that many. */
static int parse_parts(const char *text, size_t len, enum ndx_id_kind kind,
		       struct ndx_id *out, const char **why)
{
	size_t start = 0;

	for (int i = 0; i < (int)kind; i++) {
		const char *slash = memchr(text + start, '/', len - start);
		size_t end = slash != NULL ? (size_t)(slash - text) : len;
		int rc = parse_part(text + start, end - start, i, part_slot(out, i), why);

		if (rc != NDX_OK)
			return rc;
		start = end + 1;
	}
	out->kind = kind;
	return NDX_OK;
}

static size_t count_parts(const char *text, size_t len)
{
	size_t n = 1;

	for (size_t i = 0; i < len; i++)
		n += text[i] == '/';
	return n;
}

int ndx_id_parse(const char *text, size_t len, enum ndx_id_kind kind,
		 struct ndx_id *out, const char **why)
{
	size_t parts;
	int rc;

	assert(out != NULL);
	memset(out, 0, sizeof *out);
	if (!valid_kind(kind))
		return fail(why, "unknown identifier kind %d", (int)kind);
	if (text == NULL || len == 0)
		return fail(why, "%s is empty", kind_name(kind));
	if (text[0] == '/')
		return fail(why, "%s starts with '/'", kind_name(kind));
	if (text[len - 1] == '/')
		return fail(why, "%s ends with '/'", kind_name(kind));
	parts = count_parts(text, len);
	if (parts != (size_t)kind)
		return fail(why, "expected %d parts (%s), found %zu",
			    (int)kind, kind_name(kind), parts);
	rc = parse_parts(text, len, kind, out, why);
	if (rc != NDX_OK)
		memset(out, 0, sizeof *out);
	return rc;
}

int ndx_id_parse_prefix(const char *path, size_t len, enum ndx_id_kind kind,
			struct ndx_id *out, size_t *consumed, const char **why)
{
	size_t end = 0, found = 0;
	int rc;

	assert(out != NULL && consumed != NULL);
	memset(out, 0, sizeof *out);
	*consumed = 0;
	if (!valid_kind(kind))
		return fail(why, "unknown identifier kind %d", (int)kind);
	if (path == NULL || len == 0)
		return fail(why, "%s is empty", kind_name(kind));
	if (path[0] == '/')
		return fail(why, "%s starts with '/'", kind_name(kind));
	/* The id ends at the kind-th slash (or the end); what follows it,
	 * slash included, belongs to the caller. */
	for (end = 0; end < len; end++) {
		if (path[end] == '/' && ++found == (size_t)kind)
			break;
	}
	if (end == len)
		found++;
	if (found < (size_t)kind)
		return fail(why, "expected %d parts (%s), found %zu",
			    (int)kind, kind_name(kind), found);
	rc = parse_parts(path, end, kind, out, why);
	if (rc != NDX_OK) {
		memset(out, 0, sizeof *out);
		return rc;
	}
	*consumed = end;
	return NDX_OK;
}

static int format_id(const struct ndx_id *id, char *buf, size_t cap, bool wire)
{
	size_t pos = 0;

	assert(valid_kind(id->kind));
	for (int i = 0; i < (int)id->kind; i++) {
		const char *part = part_get(id, i);

		if (i > 0) {
			if (pos + 1 >= cap)
				return NDX_ETOOBIG;
			buf[pos++] = '/';
		}
		if (wire) {
			long n = ndx_pct_encode(part, strlen(part), buf + pos, cap - pos);

			if (n < 0)
				return NDX_ETOOBIG;
			pos += (size_t)n;
		} else {
			size_t n = strlen(part);

			if (pos + n >= cap)
				return NDX_ETOOBIG;
			memcpy(buf + pos, part, n);
			pos += n;
		}
	}
	if (pos >= cap)
		return NDX_ETOOBIG;
	buf[pos] = '\0';
	return (int)pos;
}

int ndx_id_format(const struct ndx_id *id, char *buf, size_t cap)
{
	return format_id(id, buf, cap, false);
}

int ndx_id_format_wire(const struct ndx_id *id, char *buf, size_t cap)
{
	return format_id(id, buf, cap, true);
}

int ndx_id_parent(const struct ndx_id *id, enum ndx_id_kind kind, struct ndx_id *out)
{
	struct ndx_id tmp;

	if (!valid_kind(kind) || kind > id->kind)
		return NDX_EINVAL;
	/* Via a copy so that out may alias id. */
	tmp = *id;
	for (int i = (int)kind; i < 5; i++)
		memset(part_slot(&tmp, i), 0, NDX_ID_PART_MAX + 1);
	tmp.kind = kind;
	*out = tmp;
	return NDX_OK;
}

bool ndx_id_equal(const struct ndx_id *a, const struct ndx_id *b)
{
	if (a->kind != b->kind)
		return false;
	for (int i = 0; i < (int)a->kind && i < 5; i++) {
		if (strcmp(part_get(a, i), part_get(b, i)) != 0)
			return false;
	}
	return true;
}

void ndx_id_member_text(const char *id, char *out, size_t cap)
{
	struct ndx_id m;
	size_t used = 0;

	if (cap == 0)
		return;
	if (ndx_id_parse_prefix(id, strlen(id), NDX_ID_MEMBER, &m, &used, NULL) != NDX_OK ||
	    ndx_id_format(&m, out, cap) < 0)
		out[0] = '\0';
}
