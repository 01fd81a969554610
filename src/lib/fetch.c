/* ndx/fetch.h on libcurl. An easy handle per request keeps threads
 * independent; the callers make a few calls per citizen action or per
 * collection round, so connection reuse is not worth sharing handles.
 * Bodies grow to a cap (then the transfer is cut, never buffered further);
 * only http and https are spoken; redirects are returned, not followed. */
#include "ndx/fetch.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ndx/buf.h"
#include "ndx/err.h"

struct sink {
	struct ndx_buf body; /* capped at the request's max_body */
	int toobig;
};

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
	struct sink *s = ud;
	size_t add = size * n;
	int rc = ndx_buf_append(&s->body, data, add);

	if (rc == NDX_ETOOBIG)
		s->toobig = 1;
	return rc == NDX_OK ? add : 0;
}

static void take_header(const char *line, size_t n, const char *name, char *out, size_t cap)
{
	size_t k = strlen(name);

	if (n <= k + 1 || strncasecmp(line, name, k) != 0 || line[k] != ':')
		return;
	line += k + 1;
	n -= k + 1;
	while (n && (*line == ' ' || *line == '\t')) {
		line++;
		n--;
	}
	while (n && (line[n - 1] == '\r' || line[n - 1] == '\n' || line[n - 1] == ' '))
		n--;
	if (n >= cap)
		n = cap - 1;
	memcpy(out, line, n);
	out[n] = '\0';
}

struct headers {
	struct ndx_fetch_resp *resp;
	const char *want;
};

static size_t on_header(char *line, size_t size, size_t n, void *ud)
{
	struct headers *hs = ud;
	struct ndx_fetch_resp *r = hs->resp;
	size_t len = size * n;

	/* A new status line (after a 100 Continue) starts a new header set. */
	if (len >= 5 && strncmp(line, "HTTP/", 5) == 0) {
		r->content_type[0] = r->xroad_error[0] = r->xroad_id[0] = r->location[0] = '\0';
		r->wanted[0] = '\0';
		return len;
	}
	if (hs->want)
		take_header(line, len, hs->want, r->wanted, sizeof r->wanted);
	take_header(line, len, "Content-Type", r->content_type, sizeof r->content_type);
	take_header(line, len, "X-Road-Error", r->xroad_error, sizeof r->xroad_error);
	take_header(line, len, "X-Road-Id", r->xroad_id, sizeof r->xroad_id);
	take_header(line, len, "Location", r->location, sizeof r->location);
	return len;
}

int ndx_fetch(const struct ndx_fetch_req *r, struct ndx_fetch_resp *out)
{
	struct sink sink = { .toobig = 0 };
	size_t cap = r->max_body ? r->max_body : NDX_FETCH_MAX_BODY;
	struct headers hs = { .resp = out, .want = r->want_header };
	struct curl_slist *hdrs = NULL, *t;
	CURLcode cc;
	CURL *h;
	int rc = NDX_OK;

	memset(out, 0, sizeof *out);
	ndx_buf_init(&sink.body, cap);
	if (!r->url || !r->method)
		return NDX_EINVAL;
	h = curl_easy_init();
	if (!h)
		return NDX_ENOMEM;
	for (size_t i = 0; r->headers && r->headers[i]; i++) {
		if (!(t = curl_slist_append(hdrs, r->headers[i]))) {
			rc = NDX_ENOMEM;
			goto out;
		}
		hdrs = t;
	}
	/* libcurl would otherwise send "Expect: 100-continue" for larger
	 * bodies and wait for the peer. */
	if (!(t = curl_slist_append(hdrs, "Expect:"))) {
		rc = NDX_ENOMEM;
		goto out;
	}
	hdrs = t;
	curl_easy_setopt(h, CURLOPT_URL, r->url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, r->timeout_ms > 0 ? r->timeout_ms : 10000L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
	curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)cap);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &hs);
	if (r->userpwd) {
		curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(h, CURLOPT_USERPWD, r->userpwd);
	}
	if (strcmp(r->method, "GET") == 0) {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	} else {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->body ? r->body : "");
	}
	cc = curl_easy_perform(h);
	if (cc != CURLE_OK) {
		rc = sink.toobig || cc == CURLE_FILESIZE_EXCEEDED ? NDX_ETOOBIG
		     : cc == CURLE_OUT_OF_MEMORY			    ? NDX_ENOMEM
									    : NDX_ENET;
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
	out->body = ndx_buf_steal(&sink.body, &out->len);
out:
	ndx_buf_free(&sink.body);
	if (rc != NDX_OK)
		ndx_fetch_resp_free(out);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	return rc;
}

void ndx_fetch_resp_free(struct ndx_fetch_resp *resp)
{
	free(resp->body);
	resp->body = NULL;
	resp->len = 0;
}

char *ndx_fetch_escape(const char *s)
{
	char *e = curl_easy_escape(NULL, s, 0), *out;

	if (!e)
		return NULL;
	out = strdup(e);
	curl_free(e);
	return out;
}
