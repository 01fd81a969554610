/* Display text from the outside world (names, titles, reasons): what may be
 * stored, and how a stored value is shown on a terminal. A name is shown to
 * operators and officers; a control character in it can move a terminal's
 * cursor, clear its screen or forge a line, and a bidirectional override
 * can make "gpj.exe" read as "exe.jpg". Also, with the same UTF-8
 * decoder, text from the outside world written as a JSON string (the
 * access log's fields). Overview: docs/security.md (T30). */
#ifndef NDX_TEXT_H
#define NDX_TEXT_H

#include <stdbool.h>
#include <stddef.h>

struct ndx_buf;

/* Checks that s[0..len) is display text: valid UTF-8 (no overlong form, no
 * surrogate), with no control character (C0 U+0000..U+001F, DEL U+007F,
 * C1 U+0080..U+009F), no bidirectional embedding, override or isolate
 * (U+202A..U+202E, U+2066..U+2069) and no line or paragraph separator
 * (U+2028, U+2029). Returns NDX_OK, or NDX_EINVAL with *offset (may be
 * NULL) set to the byte offset of the first refused character and *why
 * (may be NULL) to a static sentence naming it. */
int ndx_text_check(const char *s, size_t len, size_t *offset, const char **why);

/* Whether s (may be NULL) is a token: 1 to max bytes, none a space, a C0
 * control character or DEL (a reference, a transaction id, a procedure
 * id: what is compared byte for byte and printed as it is). */
bool ndx_text_is_token(const char *s, size_t max);

/* Returns s[0..len) as a malloc'd NUL-terminated string (caller frees)
 * in which every character ndx_text_check refuses is written as an escape
 * that a terminal shows as plain text: "\x1b" for a byte below 0x80 or a
 * byte that is not valid UTF-8, "\u202e" for a refused code point, and a
 * backslash as "\\", so that an escaped value cannot be mistaken for one
 * that was typed. Text that needs no escape comes back unchanged. NULL
 * only when memory runs out. */
char *ndx_text_escape(const char *s, size_t len);

/* As ndx_text_escape for JSON text as jansson writes it (a document printed
 * on a terminal): a refused character is written as "\u202e" (DEL as
 * "\u007f"), which a JSON reader takes for the very same character, while a
 * backslash and the C0 characters (jansson escapes them inside strings, so
 * outside they are the document's white space) stay as they are: the result
 * is the same document. A byte that is not UTF-8 (never
 * in jansson's output) becomes "\ufffd". NULL only when memory runs out. */
char *ndx_text_escape_json(const char *json, size_t len);

/* Appends s[0..len) to b as a JSON string, quotes included, written byte
 * for byte as jansson's json_dumps writes a json_string (without
 * JSON_ENSURE_ASCII or JSON_ESCAPE_SLASH): '"' and '\' escaped with a
 * backslash, \b \f \n \r \t by name, the other C0 characters as
 * \u00XX (upper-case hex), everything else, DEL and non-ASCII included,
 * as it is. For lines built without a jansson object (the access log).
 * Returns NDX_OK; NDX_EINVAL when s is not valid UTF-8 (overlong form,
 * surrogate, above U+10FFFF, truncated: what json_stringn refuses), and
 * NDX_ETOOBIG or NDX_ENOMEM from the buffer; on failure b holds what it
 * held before. */
int ndx_text_json_string(struct ndx_buf *b, const char *s, size_t len);

#endif
