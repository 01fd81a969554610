/* The portal's HTTP client (libcurl): one request, a timeout, no redirects
 * followed, the response body capped, and the few response headers the
 * portal reads. Used for the exchange, the e-ID and the consent service. */
#ifndef NDX_PORTAL_FETCH_H
#define NDX_PORTAL_FETCH_H

#include <stddef.h>

#define FETCH_MAX_BODY (4u * 1024u * 1024u)

struct fetch_req {
	const char *method;      /* "GET", "POST", "PUT" */
	const char *url;
	const char *const *headers; /* NULL-terminated "Name: value" lines, or NULL */
	const char *body;        /* NULL: none */
	size_t body_len;
	const char *userpwd;     /* HTTP Basic "user:password", or NULL */
	long timeout_ms;         /* 0: 10 s */
};

struct fetch_resp {
	long status;
	char *body;              /* NUL-terminated, malloc'd; NULL when empty */
	size_t len;
	char content_type[128];
	char xroad_error[128];   /* X-Road-Error, "" when absent */
	char xroad_id[128];      /* X-Road-Id, "" when absent */
	char location[512];
};

/* Performs r. Returns NDX_OK when an HTTP answer came back (whatever its
 * status), NDX_ENET when the peer could not be reached or timed out,
 * NDX_ETOOBIG when the answer exceeds FETCH_MAX_BODY, NDX_ENOMEM,
 * NDX_EINVAL. On failure *out holds nothing to free. */
int fetch_do(const struct fetch_req *r, struct fetch_resp *out);
/* Frees the body; accepts a zeroed or already freed response. */
void fetch_resp_free(struct fetch_resp *resp);
/* A malloc'd percent-encoding of s (every byte but unreserved), or NULL. */
char *fetch_escape(const char *s);

#endif
