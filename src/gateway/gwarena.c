/* One exchange's allocation arena (gwarena.h). */
#include "gwarena.h"

#include <stdarg.h>
#include <string.h>

void gw_arena_init(struct gw_arena *a)
{
	h2o_mem_init_pool(&a->pool);
}

void gw_arena_clear(struct gw_arena *a)
{
	h2o_mem_clear_pool(&a->pool);
}

void *gw_arena_alloc(struct gw_arena *a, size_t n)
{
	return h2o_mem_alloc_pool(&a->pool, n);
}

char *gw_arena_strndup(struct gw_arena *a, const char *s, size_t n)
{
	char *p = gw_arena_alloc(a, n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *gw_arena_strdup(struct gw_arena *a, const char *s)
{
	return gw_arena_strndup(a, s, strlen(s));
}

char *gw_arena_concat(struct gw_arena *a, ...)
{
	va_list ap;
	const char *part;
	size_t n = 0;
	char *out, *o;

	va_start(ap, a);
	while ((part = va_arg(ap, const char *)))
		n += strlen(part);
	va_end(ap);
	out = o = gw_arena_alloc(a, n + 1);
	va_start(ap, a);
	while ((part = va_arg(ap, const char *))) {
		size_t len = strlen(part);

		memcpy(o, part, len);
		o += len;
	}
	va_end(ap);
	*o = '\0';
	return out;
}
