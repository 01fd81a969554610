/* User-defined headers (PR-REST §4.3): every header of a request or a
 * response that is not hop-by-hop, does not leak the origin host, is not
 * handled specially (Content-Length, Expect, Content-Type, Location, Date)
 * and is not one of X-Road's or ndx's own passes between the information
 * systems unmodified, in order, and is covered by the request or response
 * signature: its canonical block ("name:value\n" per header, the name in
 * lower case, the value as received) is hashed into the request hash
 * (ndx-request-v4) and the response hash (ndx-response-v3). The sending
 * gateway names the headers it signed in Ndx-Headers, so the receiving one
 * takes exactly those and nothing an intermediary added.
 * docs/protocol.md "Headers". No configuration, no I/O. */
#ifndef NDX_GATEWAY_USERHEADERS_H
#define NDX_GATEWAY_USERHEADERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ndx/hash.h"

/* The most user headers one message may carry, and their total size
 * (names and values), so that a message cannot grow without bound. */
#define GW_UH_MAX_COUNT 64
#define GW_UH_MAX_BYTES 16384

struct gw_uh {
	char *name;  /* as received (case kept) */
	char *value; /* as received */
};

struct gw_arena;
struct gw_uh_list {
	struct gw_uh *v;
	size_t n, cap, bytes;
	/* NULL: the entries are malloc'd, gw_uh_free frees them; else they
	 * are allocated from this exchange's arena (gwarena.h), released with
	 * it, and gw_uh_free only empties the list (keeping arena). */
	struct gw_arena *arena;
};

enum gw_uh_dir { GW_UH_REQUEST, GW_UH_RESPONSE };

/* Whether header name[0..len) is a user header of a message of dir.
 * connection is the message's Connection header value (NULL: none): the
 * names it lists are hop-by-hop too (RFC 9110 §7.6.1). */
bool gw_uh_passes(enum gw_uh_dir dir, const char *name, size_t len, const char *connection);

/* Appends a copy. NDX_EINVAL when the value holds CR, LF or NUL (vlen is
 * the length as received) or the name is not an RFC 9110 token;
 * NDX_ETOOBIG past GW_UH_MAX_COUNT or GW_UH_MAX_BYTES; NDX_ENOMEM. */
int gw_uh_add(struct gw_uh_list *l, const char *name, size_t nlen, const char *value,
	      size_t vlen);
void gw_uh_free(struct gw_uh_list *l);

/* SHA-256 of the canonical block of l (an empty list hashes the empty
 * block). */
void gw_uh_hash(const struct gw_uh_list *l, uint8_t out[NDX_SHA256_LEN]);

/* The distinct names of l in lower case, comma-separated, in order of
 * first appearance: the value of Ndx-Headers. malloc'd; "" for an empty
 * list; NULL when out of memory. */
char *gw_uh_names(const struct gw_uh_list *l);
/* The same, allocated from a (gwarena.h); never NULL. */
char *gw_uh_names_in(struct gw_arena *a, const struct gw_uh_list *l);

/* Copies the entries of in into out that are not named in connection
 * (RFC 9110 §7.6.1) and, when listed is not NULL, are named in listed.
 * Errors as gw_uh_add. */
int gw_uh_select(const struct gw_uh_list *in, const char *connection, const char *listed,
		 struct gw_uh_list *out);

/* The user headers of an incoming request of libndx's httpd into out, in
 * the order received; when listed is not NULL only those it names (the
 * provider port: Ndx-Headers of the consumer gateway). NDX_EINVAL names
 * the offending header in *bad (a static or request-owned string). */
struct ndx_http_req;
int gw_uh_from_request(const struct ndx_http_req *req, const char *listed,
		       struct gw_uh_list *out, const char **bad);

/* True when name[0..len) is one of the comma-separated names of list
 * (case-insensitive; spaces around names ignored). list NULL: none. */
bool gw_uh_listed(const char *list, const char *name, size_t len);

#endif
