/* One outgoing HTTP request on libcurl, for the daemons that call a gateway,
 * the e-ID or a consent service (the portal, the monitoring service): a
 * timeout, no redirects followed, only http and https, the response body
 * capped, and the few response headers they read. An easy handle per
 * request keeps threads independent; no libcurl type crosses this header. */
#ifndef NDX_FETCH_H
#define NDX_FETCH_H

#include <stddef.h>

#define NDX_FETCH_MAX_BODY (4u * 1024u * 1024u)

struct ndx_fetch_req {
	const char *method;      /* "GET", "POST", "PUT" */
	const char *url;
	const char *const *headers; /* NULL-terminated "Name: value" lines, or NULL */
	const char *body;        /* NULL: none */
	size_t body_len;
	const char *userpwd;     /* HTTP Basic "user:password", or NULL */
	long timeout_ms;         /* 0: 10 s */
	size_t max_body;         /* 0: NDX_FETCH_MAX_BODY */
	const char *want_header; /* one more response header to keep in `wanted`, or NULL */
};

struct ndx_fetch_resp {
	long status;
	char *body;              /* NUL-terminated, malloc'd; NULL when empty */
	size_t len;
	char content_type[128];
	char xroad_error[128];   /* X-Road-Error, "" when absent */
	char xroad_id[128];      /* X-Road-Id, "" when absent */
	char location[512];
	char wanted[2048];       /* the request's want_header, "" when absent */
};

/* Performs r. Returns NDX_OK when an HTTP answer came back (whatever its
 * status), NDX_ENET when the peer could not be reached or timed out,
 * NDX_ETOOBIG when the answer exceeds the cap, NDX_ENOMEM, NDX_EINVAL. On
 * failure *out holds nothing to free. */
int ndx_fetch(const struct ndx_fetch_req *r, struct ndx_fetch_resp *out);
/* Frees the body; accepts a zeroed or already freed response. */
void ndx_fetch_resp_free(struct ndx_fetch_resp *resp);
/* A malloc'd percent-encoding of s (every byte but unreserved), or NULL. */
char *ndx_fetch_escape(const char *s);

#endif
