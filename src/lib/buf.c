/* The growable capped buffer (include/ndx/buf.h). All the size arithmetic
 * of the tree's bodies and builders is here, written so that it cannot
 * overflow: len never exceeds max, max never exceeds SIZE_MAX - 1, and the
 * allocation never exceeds max + 1. */
#include "ndx/buf.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ndx/err.h"

/* The first allocation: most bodies and texts fit in it, so a typical
 * answer costs one malloc and no realloc. */
#define FIRST_ALLOC 4096u

void ndx_buf_init(struct ndx_buf *b, size_t max)
{
	assert(b);
	b->data = NULL;
	b->len = b->alloc = 0;
	b->max = max < NDX_BUF_NO_CAP ? max : NDX_BUF_NO_CAP;
}

/* Makes room for need bytes (len + n + 1, at most max + 1): doubles from
 * the current size, clamped to max + 1 so that a cap of 16 MiB never
 * allocates 32. */
static int grow(struct ndx_buf *b, size_t need)
{
	size_t limit = b->max + 1;
	size_t want = b->alloc ? b->alloc : FIRST_ALLOC;
	char *nd;

	while (want < need)
		want = want > limit / 2 ? limit : want * 2;
	if (want > limit)
		want = limit;
	nd = realloc(b->data, want);
	if (!nd)
		return NDX_ENOMEM;
	b->data = nd;
	b->alloc = want;
	return NDX_OK;
}

int ndx_buf_append(struct ndx_buf *b, const void *p, size_t n)
{
	assert(b && (p || n == 0));
	assert(b->len <= b->max && b->max < SIZE_MAX);
	if (n > b->max - b->len)
		return NDX_ETOOBIG;
	if (n == 0)
		return NDX_OK;
	/* len + n <= max < SIZE_MAX, so len + n + 1 does not wrap. */
	if (b->len + n + 1 > b->alloc && grow(b, b->len + n + 1) != NDX_OK)
		return NDX_ENOMEM;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return NDX_OK;
}

int ndx_buf_append_str(struct ndx_buf *b, const char *s)
{
	assert(s);
	return ndx_buf_append(b, s, strlen(s));
}

static int buf_vappendf(struct ndx_buf *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

static int buf_vappendf(struct ndx_buf *b, const char *fmt, va_list ap)
{
	size_t room = b->alloc > b->len ? b->alloc - b->len : 0;
	va_list again;
	int n;

	va_copy(again, ap);
	/* Into the spare memory first: most pieces fit, one pass. */
	n = vsnprintf(room ? b->data + b->len : NULL, room, fmt, ap);
	if (n < 0) {
		va_end(again);
		if (b->data)
			b->data[b->len] = '\0';
		return NDX_EINVAL;
	}
	if ((size_t)n < room) {
		va_end(again);
		if ((size_t)n > b->max - b->len) {
			b->data[b->len] = '\0';
			return NDX_ETOOBIG;
		}
		b->len += (size_t)n;
		return NDX_OK;
	}
	/* A truncated attempt wrote over the NUL after the data. */
	if (b->data)
		b->data[b->len] = '\0';
	if ((size_t)n > b->max - b->len) {
		va_end(again);
		return NDX_ETOOBIG;
	}
	if (grow(b, b->len + (size_t)n + 1) != NDX_OK) {
		va_end(again);
		return NDX_ENOMEM;
	}
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, again);
	va_end(again);
	b->len += (size_t)n;
	return NDX_OK;
}

int ndx_buf_appendf(struct ndx_buf *b, const char *fmt, ...)
{
	va_list ap;
	int rc;

	assert(b && fmt);
	va_start(ap, fmt);
	rc = buf_vappendf(b, fmt, ap);
	va_end(ap);
	return rc;
}

void ndx_text_addf(struct ndx_text *t, const char *fmt, ...)
{
	va_list ap;

	assert(t && fmt);
	if (t->rc != NDX_OK)
		return;
	va_start(ap, fmt);
	t->rc = buf_vappendf(&t->buf, fmt, ap);
	va_end(ap);
}

char *ndx_text_take(struct ndx_text *t)
{
	char *text;

	assert(t);
	if (t->rc != NDX_OK) {
		ndx_buf_free(&t->buf);
		t->rc = NDX_OK;
		return NULL;
	}
	text = ndx_buf_steal(&t->buf, NULL);
	return text ? text : strdup("");
}

void ndx_buf_reset(struct ndx_buf *b)
{
	assert(b);
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

void ndx_buf_truncate(struct ndx_buf *b, size_t len)
{
	assert(b && len <= b->len);
	b->len = len;
	if (b->data)
		b->data[len] = '\0';
}

char *ndx_buf_steal(struct ndx_buf *b, size_t *len)
{
	char *d;

	assert(b);
	d = b->data;
	if (len)
		*len = d ? b->len : 0;
	b->data = NULL;
	b->len = b->alloc = 0;
	return d;
}

void ndx_buf_free(struct ndx_buf *b)
{
	if (!b)
		return;
	free(b->data);
	b->data = NULL;
	b->len = b->alloc = 0;
}
