/* One exchange's allocation arena (gwarena.h). */
#include "gwarena.h"

#include <stdarg.h>
#include <stdio.h>
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

char *gw_arena_printf(struct gw_arena *a, const char *fmt, ...)
{
	va_list ap;
	char small[256], *p;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof small, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0, small[0] = '\0';
	p = gw_arena_alloc(a, (size_t)n + 1);
	if ((size_t)n < sizeof small) {
		memcpy(p, small, (size_t)n + 1);
		return p;
	}
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}
