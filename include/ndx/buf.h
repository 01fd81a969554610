/* A growable byte buffer with a cap, for everything that arrives in pieces
 * from the network (an HTTP body through libcurl or libmicrohttpd, a
 * configuration, a status list) and for text built in pieces. curl's dynbuf
 * is the model: one place that gets the size arithmetic right, instead of a
 * hand-written realloc loop in every caller. Overview: docs/architecture.md.
 *
 * Why a cap on every buffer: a peer decides how much it sends, so a buffer
 * that grows without limit lets any peer make us allocate until the process
 * dies. The cap turns "too much" into NDX_ETOOBIG, which the caller answers
 * cleanly (a 413, "answer too large"), distinct from NDX_ENOMEM, which is
 * our own trouble. Why a NUL after the data: most callers hand the bytes to
 * a text parser (jansson, strtol, a JWS reader), and the NUL makes that safe
 * without another copy. */
#ifndef NDX_BUF_H
#define NDX_BUF_H

#include <stddef.h>
#include <stdint.h>

/* Read data and len directly; change them only through the functions
 * below. A zeroed struct is a valid empty buffer with a cap of 0 (every
 * non-empty append then fails with NDX_ETOOBIG): call ndx_buf_init first. */
struct ndx_buf {
	char *data;   /* NULL until the first non-empty append; then data[len] == '\0' */
	size_t len;   /* bytes held; never more than max */
	size_t alloc; /* bytes allocated at data; 0 while data is NULL */
	size_t max;   /* the cap on len, from ndx_buf_init */
};

/* The largest cap, for text we build ourselves from bounded parts (a page,
 * an XML answer, a query string MHD already holds): never for bytes whose
 * amount a peer decides. */
#define NDX_BUF_NO_CAP (SIZE_MAX - 1)

/* An empty buffer with cap max (at most NDX_BUF_NO_CAP), for a declaration
 * or inside another struct's initialiser: the same as ndx_buf_init. */
#define NDX_BUF_INIT(max_) { .data = NULL, .len = 0, .alloc = 0, .max = (max_) }

/* Makes b an empty buffer that will refuse to hold more than max bytes.
 * Allocates nothing (memory comes with the first non-empty append), so it
 * cannot fail and an initialised buffer that is never used needs no
 * ndx_buf_free. A max above NDX_BUF_NO_CAP is taken as NDX_BUF_NO_CAP:
 * one byte is always kept for the NUL. */
void ndx_buf_init(struct ndx_buf *b, size_t max);

/* Appends n bytes from p (p may be NULL when n is 0), growing the memory
 * geometrically so that appending piece by piece costs linear time, but
 * never allocating more than max + 1 bytes. Returns NDX_OK;
 * NDX_ETOOBIG when len + n would exceed max (checked without overflow, so
 * any n is safe); NDX_ENOMEM when the memory cannot grow. On failure b
 * holds exactly what it held before. Appending 0 bytes succeeds and
 * allocates nothing. */
int ndx_buf_append(struct ndx_buf *b, const void *p, size_t n);

/* ndx_buf_append of the string s without its NUL. */
int ndx_buf_append_str(struct ndx_buf *b, const char *s);

/* Appends the text printf would make of fmt and what follows, with the
 * results of ndx_buf_append (NDX_EINVAL when the format fails); on failure b
 * holds exactly what it held before. */
int ndx_buf_appendf(struct ndx_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Text built in many pieces and checked once at the end (an SQL statement,
 * a query): each ndx_text_addf after a failure does nothing, and
 * ndx_text_take says whether every piece went in. */
struct ndx_text {
	struct ndx_buf buf;
	int rc; /* NDX_OK, or the first append's failure */
};

/* An empty text with no cap: only for text we build from bounded parts. */
#define NDX_TEXT_INIT { NDX_BUF_INIT(NDX_BUF_NO_CAP), 0 }

/* ndx_buf_appendf to t's buffer, unless an earlier piece failed. */
void ndx_text_addf(struct ndx_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The whole text (the caller frees it; "" when nothing was added), or NULL
 * when a piece failed or memory ran out; t is left empty either way. */
char *ndx_text_take(struct ndx_text *t);

/* Empties b (len 0, data[0] == '\0' when data is not NULL) but keeps its
 * memory and its cap, so that a buffer filled again and again (one per
 * retry, one per request) allocates once. */
void ndx_buf_reset(struct ndx_buf *b);

/* Shortens b to its first len bytes (len <= b->len), keeping its memory:
 * takes back what was appended since b->len was len, e.g. a piece that
 * turned out to be unwanted. */
void ndx_buf_truncate(struct ndx_buf *b, size_t len);

/* Hands b's memory to the caller: returns the data, NUL-terminated after
 * *len bytes (len may be NULL), which the caller frees with free(); or NULL
 * with *len 0 when b holds no memory (nothing appended since init, the last
 * steal or free). b is left empty, with its cap, ready for reuse. */
char *ndx_buf_steal(struct ndx_buf *b, size_t *len);

/* Frees b's memory and leaves b empty with its cap, ready for reuse.
 * Accepts NULL and a buffer that holds no memory. */
void ndx_buf_free(struct ndx_buf *b);

/* The data as a C string: "" (static) while b holds no memory. Valid until
 * the next append, steal or free. */
static inline const char *ndx_buf_str(const struct ndx_buf *b)
{
	return b->data ? b->data : "";
}

#endif
