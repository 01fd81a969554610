/* User-defined headers (userheaders.h, PR-REST §4.3 "User defined
 * headers", "Filtered headers", "Specially handled headers"). */
#include "userheaders.h"
#include "gwarena.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ndx/array.h"
#include "ndx/err.h"
#include "ndx/hash.h"
#include "ndx/httpd.h"

/* Never passed on, in either direction: hop-by-hop (RFC 9110 §7.6.1),
 * those that leak the origin host (PR-REST "Filtered headers"), those
 * each HTTP hop makes itself, and X-Road's own headers. Other X-Road-*
 * headers are contracts between information systems and pass (PR-REST
 * "Security Server, Represented Party and X-Road extension headers"). */
struct header_name {
	const char *text;
	size_t len;
};
/* Every header of every exchange is checked against these lists: their
 * lengths are the compiler's, not a strlen each time. */
#define NAME(s) { s, sizeof s - 1 }
static const struct header_name never[] = {
	NAME("connection"), NAME("keep-alive"), NAME("proxy-authenticate"),
	NAME("proxy-authorization"), NAME("te"), NAME("trailer"), NAME("transfer-encoding"),
	NAME("upgrade"), NAME("host"), NAME("user-agent"), NAME("server"),
	NAME("content-length"), NAME("expect"), NAME("content-type"), NAME("proxy-connection"),
	NAME("x-road-client"), NAME("x-road-service"), NAME("x-road-id"), NAME("x-road-userid"),
	NAME("x-road-issue"), NAME("x-road-request-hash"), NAME("x-road-request-id"),
	NAME("x-road-error"), NAME("x-road-represented-party"), NAME("x-road-security-server"),
};

/* Response headers the gateways write or sign themselves. */
static const struct header_name never_response[] = { NAME("location"), NAME("date") };
#undef NAME

static bool is_name(const char *name, size_t len, const struct header_name *set, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (set[i].len == len && strncasecmp(set[i].text, name, len) == 0)
			return true;
	return false;
}

bool gw_uh_listed(const char *list, const char *name, size_t len)
{
	const char *p = list;

	while (p && *p) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		const char *q = p;

		while (n && (*q == ' ' || *q == '\t'))
			q++, n--;
		while (n && (q[n - 1] == ' ' || q[n - 1] == '\t'))
			n--;
		if (n == len && strncasecmp(q, name, len) == 0)
			return true;
		p = end ? end + 1 : NULL;
	}
	return false;
}

bool gw_uh_passes(enum gw_uh_dir dir, const char *name, size_t len, const char *connection)
{
	if (len == 0)
		return false;
	/* Ndx-* is ndx's own namespace: its headers are read and written by
	 * the gateways, never passed as user headers. */
	if (len >= 4 && strncasecmp(name, "ndx-", 4) == 0)
		return false;
	if (is_name(name, len, never, sizeof never / sizeof never[0]))
		return false;
	if (dir == GW_UH_RESPONSE &&
	    is_name(name, len, never_response, sizeof never_response / sizeof never_response[0]))
		return false;
	return !gw_uh_listed(connection, name, len);
}

/* RFC 9110 §5.6.2 tchar. */
static bool token_ok(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!(isalnum(c) || strchr("!#$%&'*+-.^_`|~", c)) || c == 0)
			return false;
	}
	return true;
}

int gw_uh_add(struct gw_uh_list *l, const char *name, size_t nlen, const char *value,
	      size_t vlen)
{
	struct gw_uh *e;

	if (!token_ok(name, nlen) || memchr(value, '\0', vlen) || memchr(value, '\r', vlen) ||
	    memchr(value, '\n', vlen))
		return NDX_EINVAL;
	if (l->n >= GW_UH_MAX_COUNT || l->bytes + nlen + vlen > GW_UH_MAX_BYTES)
		return NDX_ETOOBIG;
	if (l->arena) {
		if (l->n == l->cap) {
			size_t cap = l->cap ? 2 * l->cap : 8;
			struct gw_uh *v = gw_arena_alloc(l->arena, cap * sizeof *v);

			if (l->n)
				memcpy(v, l->v, l->n * sizeof *v);
			l->v = v; /* the old array goes with the arena */
			l->cap = cap;
		}
		e = &l->v[l->n];
		e->name = gw_arena_strndup(l->arena, name, nlen);
		e->value = gw_arena_strndup(l->arena, value, vlen);
		l->n++;
		l->bytes += nlen + vlen;
		return NDX_OK;
	}
	if (ndx_array_reserve((void **)&l->v, &l->cap, l->n, sizeof *l->v, 8) != NDX_OK)
		return NDX_ENOMEM;
	e = &l->v[l->n];
	e->name = strndup(name, nlen);
	e->value = strndup(value, vlen);
	if (!e->name || !e->value) {
		free(e->name);
		free(e->value);
		return NDX_ENOMEM;
	}
	l->n++;
	l->bytes += nlen + vlen;
	return NDX_OK;
}

void gw_uh_free(struct gw_uh_list *l)
{
	struct gw_arena *arena = l->arena;

	if (!arena) {
		for (size_t i = 0; i < l->n; i++) {
			free(l->v[i].name);
			free(l->v[i].value);
		}
		free(l->v);
	}
	memset(l, 0, sizeof *l);
	l->arena = arena;
}

/* Blocks up to this size are built on the stack and hashed at once: one
 * allocation (OpenSSL's, under ndx_sha256's kept context) where an
 * incremental context takes four; the usual block is a few hundred bytes. */
#define UH_BLOCK_STACK 2048

void gw_uh_hash(const struct gw_uh_list *l, uint8_t out[NDX_SHA256_LEN])
{
	struct ndx_sha256 *md;

	if (l->bytes + 2 * l->n <= UH_BLOCK_STACK) {
		char block[UH_BLOCK_STACK];
		size_t k = 0;

		for (size_t i = 0; i < l->n; i++) {
			size_t vl = strlen(l->v[i].value);

			for (const char *p = l->v[i].name; *p; p++)
				block[k++] = (char)tolower((unsigned char)*p);
			block[k++] = ':';
			memcpy(block + k, l->v[i].value, vl);
			k += vl;
			block[k++] = '\n';
		}
		ndx_sha256(block, k, out);
		return;
	}
	/* ndx_sha256_new: its digest is fetched once per process, where
	 * EVP_sha256() fetched it again on every hash (four an exchange). */
	md = ndx_sha256_new();
	if (!md)
		abort();
	for (size_t i = 0; i < l->n; i++) {
		/* The name in lower case, hashed a chunk at a time. */
		char lower[128];
		size_t k = 0;

		for (const char *p = l->v[i].name; *p; p++) {
			lower[k++] = (char)tolower((unsigned char)*p);
			if (k == sizeof lower) {
				ndx_sha256_update(md, lower, k);
				k = 0;
			}
		}
		ndx_sha256_update(md, lower, k);
		ndx_sha256_update(md, ":", 1);
		ndx_sha256_update(md, l->v[i].value, strlen(l->v[i].value));
		ndx_sha256_update(md, "\n", 1);
	}
	ndx_sha256_final(md, out);
	ndx_sha256_free(md);
}

static size_t names_cap(const struct gw_uh_list *l)
{
	size_t cap = 1;

	for (size_t i = 0; i < l->n; i++)
		cap += strlen(l->v[i].name) + 1;
	return cap;
}

/* The names into out (names_cap bytes). */
static char *names_into(const struct gw_uh_list *l, char *out)
{
	size_t len = 0;

	out[0] = '\0';
	for (size_t i = 0; i < l->n; i++) {
		const char *nm = l->v[i].name;
		size_t nl = strlen(nm);

		if (gw_uh_listed(out, nm, nl))
			continue;
		if (len)
			out[len++] = ',';
		for (size_t k = 0; k < nl; k++)
			out[len++] = (char)tolower((unsigned char)nm[k]);
		out[len] = '\0';
	}
	return out;
}

char *gw_uh_names(const struct gw_uh_list *l)
{
	char *out = malloc(names_cap(l));

	return out ? names_into(l, out) : NULL;
}

char *gw_uh_names_in(struct gw_arena *a, const struct gw_uh_list *l)
{
	return names_into(l, gw_arena_alloc(a, names_cap(l)));
}

int gw_uh_select(const struct gw_uh_list *in, const char *connection, const char *listed,
		 struct gw_uh_list *out)
{
	for (size_t i = 0; i < in->n; i++) {
		const char *nm = in->v[i].name;
		size_t nl = strlen(nm);
		int rc;

		if (gw_uh_listed(connection, nm, nl) || (listed && !gw_uh_listed(listed, nm, nl)))
			continue;
		if ((rc = gw_uh_add(out, nm, nl, in->v[i].value, strlen(in->v[i].value))) != NDX_OK)
			return rc;
	}
	return NDX_OK;
}

struct collect {
	struct gw_uh_list *out;
	const char *listed;
	const char *connection;
	const char *bad;
};

static int collect_one(void *ud, const char *name, size_t nlen, const char *value, size_t vlen)
{
	struct collect *c = ud;
	int rc;

	if (!gw_uh_passes(GW_UH_REQUEST, name, nlen, c->connection) ||
	    (c->listed && !gw_uh_listed(c->listed, name, nlen)))
		return 0;
	rc = gw_uh_add(c->out, name, nlen, value, vlen);
	if (rc != NDX_OK)
		c->bad = name;
	return rc;
}

int gw_uh_from_request(const struct ndx_http_req *req, const char *listed,
		       struct gw_uh_list *out, const char **bad)
{
	struct collect c = { .out = out, .listed = listed,
			     .connection = ndx_http_header(req, "Connection") };
	int rc = ndx_http_headers_each(req, collect_one, &c);

	*bad = c.bad;
	return rc;
}
