/* The libcurl transfers of the gateway: how one is set up and read back
 * (gw_xfer_prepare, gw_xfer_complete), whether an exchange loop's multi
 * handle runs it (gwloop.c: the calls to provider gateways in peer.c and to
 * provider systems in backend.c) or a thread performs it while it waits
 * (gw_xfer_perform with the thread's own easy handle, kept for the thread's
 * life so that its connections are reused: the witness calls of the
 * poller). A response body is gathered into a buffer with a cap, the few
 * response headers the gateway needs are kept, and curl's outcome is sorted
 * into what the gateway answers (connect failure, timeout, failure, too
 * big). */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "xfer.h"
#include "gwarena.h"
#include "subjects.h"
#include "ndx/buf.h"
#include "ndx/err.h"
#include "ndx/msgsig.h"

/* Idle connections a thread keeps per kind (peers or backends). */
#define MAX_CONNECTS 32L

static pthread_key_t handle_key[2];
static pthread_once_t keys_once = PTHREAD_ONCE_INIT;
static int keys_ok;

static void handle_destroy(void *h)
{
	curl_easy_cleanup(h);
}

static void make_keys(void)
{
	keys_ok = pthread_key_create(&handle_key[0], handle_destroy) == 0 &&
		  pthread_key_create(&handle_key[1], handle_destroy) == 0;
}

int gw_xfer_global_init(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return NDX_ENOMEM;
	pthread_once(&keys_once, make_keys);
	return keys_ok ? NDX_OK : NDX_ENOMEM;
}

void gw_xfer_global_cleanup(void)
{
	/* The main thread's own handles (if any) go with it. */
	for (int i = 0; i < 2; i++) {
		CURL *c = pthread_getspecific(handle_key[i]);
		if (c) {
			curl_easy_cleanup(c);
			pthread_setspecific(handle_key[i], NULL);
		}
	}
	curl_global_cleanup();
}

CURL *gw_xfer_handle(enum gw_handle_kind kind)
{
	CURL *c = pthread_getspecific(handle_key[kind]);
	if (c) {
		curl_easy_reset(c);
	} else {
		c = curl_easy_init();
		if (!c)
			return NULL;
		if (pthread_setspecific(handle_key[kind], c) != 0) {
			curl_easy_cleanup(c);
			return NULL;
		}
	}
	gw_xfer_base_options(c);
	curl_easy_setopt(c, CURLOPT_MAXCONNECTS, MAX_CONNECTS);
	return c;
}

void gw_xfer_base_options(CURL *c)
{
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	/* The path goes on byte for byte: no "/../" squashing. */
	curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
}

int gw_slist_add(struct curl_slist **list, const char *name, const char *value)
{
	size_t cap = strlen(name) + strlen(value) + 3;
	char *line = malloc(cap);
	struct curl_slist *n;

	if (!line)
		return NDX_ENOMEM;
	/* "Name:" with nothing after the colon tells curl to leave out a
	 * header it would otherwise add itself. */
	snprintf(line, cap, value[0] ? "%s: %s" : "%s:%s", name, value);
	n = curl_slist_append(*list, line);
	free(line);
	if (!n)
		return NDX_ENOMEM;
	*list = n;
	return NDX_OK;
}

int gw_slist_add_user(struct curl_slist **list, const struct gw_uh_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		size_t cap = strlen(l->v[i].name) + strlen(l->v[i].value) + 3;
		char *line = malloc(cap);
		struct curl_slist *n;

		if (!line)
			return NDX_ENOMEM;
		/* curl sends "Name;" as a header with an empty value. */
		snprintf(line, cap, l->v[i].value[0] ? "%s: %s" : "%s;", l->v[i].name,
			 l->v[i].value);
		n = curl_slist_append(*list, line);
		free(line);
		if (!n)
			return NDX_ENOMEM;
		*list = n;
	}
	return NDX_OK;
}

/* line (from a) as the last node of *list, the node from a too. */
static void slist_append_in(struct gw_arena *a, struct curl_slist **list, char *line)
{
	struct curl_slist *n = gw_arena_alloc(a, sizeof *n), **end = list;

	n->data = line;
	n->next = NULL;
	while (*end)
		end = &(*end)->next;
	*end = n;
}

void gw_slist_add_in(struct gw_arena *a, struct curl_slist **list, const char *name,
		     const char *value)
{
	slist_append_in(a, list, gw_arena_concat(a, name, value[0] ? ": " : ":", value, NULL));
}

void gw_slist_add_user_in(struct gw_arena *a, struct curl_slist **list,
			  const struct gw_uh_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		slist_append_in(a, list,
				gw_arena_concat(a, l->v[i].name, l->v[i].value[0] ? ": " : ";",
						l->v[i].value, NULL));
}

static void drop_headers(struct gw_xfer_resp *r)
{
	gw_uh_free(&r->user);
	for (int i = 0; i < GW_H_COUNT; i++) {
		if (!r->arena)
			free(r->hdr[i]);
		r->hdr[i] = NULL;
	}
}

void gw_xfer_resp_free(struct gw_xfer_resp *r)
{
	drop_headers(r);
	free(r->body);
	r->body = NULL;
	r->len = 0;
}

void gw_xfer_resp_use_arena(struct gw_xfer_resp *r, struct gw_arena *a)
{
	gw_xfer_resp_free(r);
	r->arena = a;
	r->user.arena = a;
}

/* The body arrives into a buffer of the transfer's own (t->body) and is
 * handed to r once curl is done, so r->body is only ever a whole (or cut)
 * answer. */
static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
	struct gw_xfer *t = ud;
	size_t n = size * nmemb;
	int rc = ndx_buf_append(&t->body, data, n);

	if (rc == NDX_ETOOBIG)
		t->r->toobig = 1;
	/* Anything but n makes curl stop with CURLE_WRITE_ERROR. */
	return rc == NDX_OK ? n : 0;
}

static const char *const hdr_names[GW_H_COUNT] = {
	[GW_H_CONTENT_TYPE] = "Content-Type",
	[GW_H_LOCATION] = "Location",
	[GW_H_XROAD_ERROR] = "X-Road-Error",
	[GW_H_REQUEST_ID] = "X-Road-Request-Id",
	[GW_H_REQUEST_HASH] = "X-Road-Request-Hash",
	[GW_H_RESPONSE_SIG] = "Ndx-Response-Signature",
	[GW_H_DATA_SUBJECTS] = "Ndx-Data-Subjects",
	[GW_H_CONNECTION] = "Connection",
	[GW_H_NDX_HEADERS] = "Ndx-Headers",
};

void gw_xfer_resp_new_block(struct gw_xfer_resp *r)
{
	drop_headers(r);
}

int gw_xfer_resp_header(struct gw_xfer_resp *r, const char *name, size_t nl, const char *v,
			size_t vl)
{
	while (vl && (*v == ' ' || *v == '\t'))
		v++, vl--;
	while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' ' ||
		      v[vl - 1] == '\t'))
		vl--;
	if (gw_uh_passes(GW_UH_RESPONSE, name, nl, NULL)) {
		/* A header that is no token is dropped; too many stop the transfer
		 * (the answer could not be passed on whole). */
		int rc = gw_uh_add(&r->user, name, nl, v, vl);

		if (rc == NDX_ETOOBIG || rc == NDX_ENOMEM) {
			r->toobig = rc == NDX_ETOOBIG;
			return -1;
		}
		return 0;
	}
	for (int i = 0; i < GW_H_COUNT; i++) {
		if (strlen(hdr_names[i]) != nl || strncasecmp(name, hdr_names[i], nl) != 0)
			continue;
		/* An absurd header is a broken peer, not something to keep. */
		if (vl > (i == GW_H_DATA_SUBJECTS   ? GW_SUBJECTS_HEADER_MAX
			  : i == GW_H_NDX_HEADERS ? GW_UH_MAX_BYTES + GW_UH_MAX_COUNT
						  : 2 * GW_HEADER_MAX + NDX_MSGSIG_MAX_TEXT))
			return -1;
		if (r->arena) { /* an earlier value stays in the arena until its end */
			r->hdr[i] = gw_arena_strndup(r->arena, v, vl);
			break;
		}
		free(r->hdr[i]);
		r->hdr[i] = strndup(v, vl);
		if (!r->hdr[i])
			return -1;
		break;
	}
	return 0;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
	struct gw_xfer *h = ud;
	struct gw_xfer_resp *r = h->r;
	size_t n = size * nmemb, nl;
	const char *colon;

	if (n >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		/* A new header block (after 100 Continue): start over. */
		gw_xfer_resp_new_block(r);
		if (!h->hooked && r->on_headers) {
			h->hooked = 1;
			if (r->on_headers(h->c, r->ud) != 0) {
				r->aborted = 1;
				return 0;
			}
		}
		return n;
	}
	colon = memchr(data, ':', n);
	if (!colon)
		return n;
	nl = (size_t)(colon - data);
	return gw_xfer_resp_header(r, data, nl, colon + 1, n - nl - 1) == 0 ? n : 0;
}

void gw_xfer_prepare(struct gw_xfer *t, CURL *c, const char *method, const uint8_t *body,
		     size_t body_len, struct curl_slist *headers, struct gw_xfer_resp *r)
{
	t->c = c;
	t->r = r;
	t->hooked = 0;
	r->errbuf[0] = '\0';
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, r->errbuf);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, t);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	if (strcmp(method, "HEAD") == 0) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	} else if (body_len > 0 || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
		   strcmp(method, "PATCH") == 0) {
		/* Exactly the body received (possibly empty). The callers' header
		 * lists cancel curl's default Content-Type and Expect. */
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? (const char *)body : "");
		if (strcmp(method, "POST") != 0)
			curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	} else {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
		if (strcmp(method, "GET") != 0)
			curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	}
	free(r->body); /* an earlier transfer's, if r is reused without gw_xfer_resp_free */
	r->body = NULL;
	r->len = 0;
	ndx_buf_init(&t->body, r->cap);
}

enum gw_xfer_result gw_xfer_complete(struct gw_xfer *t, CURLcode cc)
{
	struct gw_xfer_resp *r = t->r;
	CURL *c = t->c;
	long sent = 0;
	curl_off_t up = 0;

	/* What arrived, also of a cut answer (NULL when nothing did). */
	r->body = ndx_buf_steal(&t->body, &r->len);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	if (cc == CURLE_OK)
		return GW_XFER_OK;
	if (r->aborted)
		return GW_XFER_IDENTITY;
	if (r->toobig)
		return GW_XFER_TOOBIG;
	if (!r->errbuf[0])
		snprintf(r->errbuf, sizeof r->errbuf, "%s", curl_easy_strerror(cc));
	curl_easy_getinfo(c, CURLINFO_HEADER_SIZE, &sent);
	curl_easy_getinfo(c, CURLINFO_SIZE_UPLOAD_T, &up);
	switch (cc) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
		return GW_XFER_CONNECT;
	case CURLE_OPERATION_TIMEDOUT:
		/* A connect timeout sent nothing; another gateway may answer. */
		return r->status == 0 && sent == 0 && up == 0 && strstr(r->errbuf, "onnect")
			       ? GW_XFER_CONNECT
			       : GW_XFER_TIMEOUT;
	default:
		return GW_XFER_FAILED;
	}
}

enum gw_xfer_result gw_xfer_perform(CURL *c, const char *method, const uint8_t *body,
				    size_t body_len, struct curl_slist *headers,
				    struct gw_xfer_resp *r)
{
	struct gw_xfer t = { 0 };

	gw_xfer_prepare(&t, c, method, body, body_len, headers, r);
	return gw_xfer_complete(&t, curl_easy_perform(c));
}

bool gw_xfer_authority_addr(const char *authority, uint16_t default_port,
			    struct sockaddr_storage *ss, socklen_t *sl, char *host, size_t cap)
{
	char text[64];
	const char *port = NULL, *end;
	size_t hl;
	unsigned long pn = default_port;

	if (authority[0] == '[') {
		if (!(end = strchr(authority, ']')))
			return false;
		hl = (size_t)(end - authority - 1);
		if (hl >= sizeof text)
			return false;
		memcpy(text, authority + 1, hl);
		if (end[1] == ':')
			port = end + 2;
		else if (end[1])
			return false;
	} else {
		end = strchr(authority, ':');
		hl = end ? (size_t)(end - authority) : strlen(authority);
		if (hl >= sizeof text)
			return false;
		memcpy(text, authority, hl);
		if (end)
			port = end + 1;
	}
	text[hl] = '\0';
	if (port) {
		char *stop;

		if (*port < '0' || *port > '9')
			return false;
		errno = 0;
		pn = strtoul(port, &stop, 10);
		if (*stop || errno || pn == 0 || pn > 65535)
			return false;
	}
	memset(ss, 0, sizeof *ss);
	if (authority[0] != '[') {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		if (inet_pton(AF_INET, text, &sin->sin_addr) != 1)
			return false;
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)pn);
		*sl = sizeof *sin;
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		if (inet_pton(AF_INET6, text, &sin6->sin6_addr) != 1)
			return false;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)pn);
		*sl = sizeof *sin6;
	}
	if (host) {
		if (hl >= cap)
			return false;
		memcpy(host, text, hl + 1);
	}
	return true;
}

bool gw_xfer_host_is_ip(const char *authority)
{
	char host[64];
	const char *end;
	size_t n;
	struct in6_addr a6;
	struct in_addr a4;

	if (authority[0] == '[') {
		end = strchr(authority, ']');
		n = end ? (size_t)(end - authority - 1) : sizeof host;
		if (n >= sizeof host)
			return false;
		memcpy(host, authority + 1, n);
		host[n] = '\0';
		return inet_pton(AF_INET6, host, &a6) == 1;
	}
	n = strcspn(authority, ":/");
	if (n >= sizeof host)
		return false;
	memcpy(host, authority, n);
	host[n] = '\0';
	return inet_pton(AF_INET, host, &a4) == 1;
}
