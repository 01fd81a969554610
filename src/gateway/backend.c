/* The provider gateway's client towards its own provider systems. A
 * backend "unix:", or "http://" named by address, goes over ndx's own
 * HTTP/1.1 client on the loop (backend_http1.c, which keeps everything said
 * here);
 * an "https://" one or one named by a host name over libcurl, here: the
 * request goes to the service's backend base URL with the path after the
 * service id and the query appended exactly as received (libcurl told not
 * to normalise them), with the service's timeout, redirects returned rather
 * than followed, and the answer's body capped at limits.max_body. A backend
 * "unix:/SOCKET[:/PATH]" is reached over that Unix domain socket, so that
 * file permissions rather than loopback decide who else can reach the
 * provider system (docs/gateway.md, docs/security.md T33). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xfer.h"
#include "backend_http1.h"
#include "gwconfig.h"
#include "gwloop.h"
#include "ndx/err.h"
#include "ndx/unixsock.h"

/* The host libcurl names in the request line over a Unix socket. */
#define UNIX_HOST "http://localhost"

static void transfer_done(struct gw_xfer *t, enum gw_xfer_result res)
{
	struct gw_backend_call *call = t->ud;

	call->done(call, res);
}

void gw_backend_start(struct gw_loop *l, struct gw_backend_call *call, struct gw_xfer_resp *r)
{
	char sock[NDX_UNIX_PATH_MAX + 1];
	const char *base = call->svc->backend, *scheme = "";
	int on_unix = strncmp(base, "unix:", 5) == 0;
	size_t n;
	char *url;
	CURL *c;

	/* unix: and http:// to an address on the loop's client (backend_http1.c);
	 * https:// and a host name here. */
	if (on_unix || gw_bh1_serves(base)) {
		gw_bh1_start(l, call, r);
		return;
	}
	/* gwconfig.c checked the form at load. */
	if (on_unix) {
		if (ndx_unix_url_split(call->svc->backend, sock, &base) != NDX_OK) {
			snprintf(r->errbuf, sizeof r->errbuf, "bad unix: backend");
			call->done(call, GW_XFER_FAILED);
			return;
		}
		scheme = UNIX_HOST;
	}
	n = strlen(scheme) + strlen(base) + strlen(call->path) + strlen(call->query) + 2;
	if (!(url = malloc(n))) {
		snprintf(r->errbuf, sizeof r->errbuf, "out of memory");
		call->done(call, GW_XFER_FAILED);
		return;
	}
	snprintf(url, n, "%s%s%s%s%s", scheme, base, call->path, call->query[0] ? "?" : "",
		 call->query);
	if (!(c = gw_loop_easy(l))) {
		free(url);
		snprintf(r->errbuf, sizeof r->errbuf, "cannot initialise libcurl");
		call->done(call, GW_XFER_FAILED);
		return;
	}
	r->cap = call->max_body;
	/* curl copies the strings it is given. */
	curl_easy_setopt(c, CURLOPT_URL, url);
	free(url);
	if (on_unix)
		curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, sock);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, call->connect_timeout_ms);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, call->svc->timeout_ms);
	curl_easy_setopt(c, CURLOPT_USERAGENT, GW_PROG);
	gw_xfer_prepare(&call->xfer, c, call->method, call->body, call->body_len, call->headers,
			r);
	call->xfer.done = transfer_done;
	call->xfer.ud = call;
	if (gw_loop_transfer(l, &call->xfer) != NDX_OK) {
		snprintf(r->errbuf, sizeof r->errbuf, "the gateway is stopping");
		call->done(call, GW_XFER_FAILED);
	}
}
