/* The provider gateway's client towards its own provider systems: the
 * request goes to the service's backend base URL with the path after the
 * service id and the query appended exactly as received (libcurl told not
 * to normalise them), with the service's timeout, redirects returned rather
 * than followed, and the answer's body capped at limits.max_body. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway.h"
#include "ndx/err.h"

enum gw_xfer_result gw_backend_send(const struct gw_backend_call *call, struct gw_xfer_resp *r)
{
	size_t n = strlen(call->svc->backend) + strlen(call->path) + strlen(call->query) + 2;
	char *url = malloc(n);
	enum gw_xfer_result res;
	CURL *c;

	if (!url) {
		snprintf(r->errbuf, sizeof r->errbuf, "out of memory");
		return GW_XFER_FAILED;
	}
	snprintf(url, n, "%s%s%s%s", call->svc->backend, call->path, call->query[0] ? "?" : "",
		 call->query);
	c = gw_xfer_handle(GW_HANDLE_BACKEND);
	if (!c) {
		free(url);
		snprintf(r->errbuf, sizeof r->errbuf, "cannot initialise libcurl");
		return GW_XFER_FAILED;
	}
	r->cap = call->max_body;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, call->connect_timeout_ms);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, call->svc->timeout_ms);
	curl_easy_setopt(c, CURLOPT_USERAGENT, GW_PROG);
	res = gw_xfer_perform(c, call->method, call->body, call->body_len, call->headers, r);
	free(url);
	return res;
}
