/* Writes a refusal of errors.h's table into an answer of libndx's httpd,
 * in the format the request's Accept asks for (PR-REST §4.6). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "gateway.h"
#include "metrics.h"

static const char *refusal_va(struct ndx_http_resp *resp, const struct ndx_http_req *req,
			      enum gw_reason r, enum gw_err_side side, const char *specifics,
			      const char *fmt, va_list ap) __attribute__((format(printf, 6, 0)));

static const char *refusal_va(struct ndx_http_resp *resp, const struct ndx_http_req *req,
			      enum gw_reason r, enum gw_err_side side, const char *specifics,
			      const char *fmt, va_list ap)
{
	const struct gw_reason_info *ri = gw_reason_info(r);
	const char *ct = NULL;
	char msg[1024], *body = NULL;
	size_t len = 0;

	if (!ri)
		ri = gw_reason_info(r = GW_R_INTERNAL);
	vsnprintf(msg, sizeof msg, fmt, ap);
	gw_metrics_error(r, side);
	if (gw_err_render(r, side, gw_err_format_of(req ? ndx_http_header(req, "Accept") : NULL),
			  msg, specifics, &body, &len, &ct) != 0) {
		/* Out of memory: a fixed answer still says what happened. */
		static const char oom[] = "{\"type\":\"Server.ClientProxy.InternalError\","
					  "\"message\":\"out of memory\",\"detail\":\"Internal\"}";
		ndx_http_resp_bytes(resp, 500, "application/json; charset=utf-8", oom,
				    sizeof oom - 1);
		return gw_reason_type(GW_R_INTERNAL, side);
	}
	ndx_http_resp_bytes(resp, ri->status, ct, body, len);
	free(body);
	return gw_reason_type(r, side);
}

const char *gw_refusal_body(struct ndx_http_resp *resp, const struct ndx_http_req *req,
			    enum gw_reason r, enum gw_err_side side, const char *specifics,
			    const char *fmt, ...)
{
	const char *type;
	va_list ap;

	va_start(ap, fmt);
	type = refusal_va(resp, req, r, side, specifics, fmt, ap);
	va_end(ap);
	return type;
}

void gw_refusal(struct ndx_http_resp *resp, const struct ndx_http_req *req, enum gw_reason r,
		enum gw_err_side side, const char *specifics, const char *fmt, ...)
{
	const char *type;
	va_list ap;

	va_start(ap, fmt);
	type = refusal_va(resp, req, r, side, specifics, fmt, ap);
	va_end(ap);
	ndx_http_resp_header(resp, "X-Road-Error", type);
}
