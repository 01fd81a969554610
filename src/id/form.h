/* The small text formats ndx-id reads and writes besides JSON:
 * application/x-www-form-urlencoded (query strings, form bodies, the
 * credentials inside HTTP Basic auth per RFC 6749 section 2.3.1), the
 * Cookie header, and percent-encoding of query components for the
 * redirects it builds. Overview: docs/id.md. */
#ifndef NDX_ID_FORM_H
#define NDX_ID_FORM_H

#include <stddef.h>

#define IDFORM_MAX_FIELDS 64

struct idform;

/* Parses text[0..len) ("a=1&b=x+y%21"): '+' is a space, escapes are
 * decoded, an encoded NUL or bad escape is refused. A name given twice is
 * refused too (RFC 6749 section 3.1: parameters MUST NOT repeat). On
 * failure returns NDX_EINVAL (or NDX_ETOOBIG over IDFORM_MAX_FIELDS,
 * NDX_ENOMEM) with *out NULL and, when why is not NULL, *why set to a
 * static sentence. The caller frees *out with idform_free. */
int idform_parse(const char *text, size_t len, struct idform **out, const char **why);
/* The decoded value of name (borrowed, lives as long as form), or NULL. */
const char *idform_get(const struct idform *form, const char *name);
/* Accepts NULL. */
void idform_free(struct idform *form);

/* Percent-decodes a single form-encoded value ('+' is a space) into a
 * malloc'd string (caller frees) or returns NULL when it is malformed. */
char *idform_decode(const char *text, size_t len);

/* Appends "name=value" percent-encoded (everything but ALPHA DIGIT -._~)
 * to the URL in buf (cap bytes, holding a NUL-terminated string), with '?'
 * before the first parameter and '&' before the others. Returns NDX_OK or
 * NDX_ETOOBIG (buf is then unchanged). */
int idform_append_param(char *buf, size_t cap, const char *name, const char *value);

/* Finds cookie name in a Cookie header value and copies its value into
 * out (cap bytes). Returns NDX_OK, NDX_ENOTFOUND or NDX_ETOOBIG. */
int idform_cookie(const char *header, const char *name, char *out, size_t cap);

#endif
