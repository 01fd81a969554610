/* The gateway's reading of an incoming exchange request before the global
 * configuration is consulted (reqfront.h): header values, X-Road-Client,
 * the /r1/{serviceId}{rest} split and the URI bytes, with the refusals both
 * ports have always answered. Both ports run the same checks in a
 * different order (the provider port must know the service and rest to
 * sign even its refusal of a bad client), and each keeps its own wording
 * for a path that is not /r1/{serviceId}. Protocol: docs/protocol.md
 * "Consumer API" and "Gateway to gateway". */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ndx/err.h"
#include "ndx/httpd.h"
#include "reqfront.h"

static const char *const header_names[GW_RF_NHEADERS] = {
	[GW_RF_CLIENT] = "X-Road-Client",
	[GW_RF_ID] = "X-Road-Id",
	[GW_RF_USER_ID] = "X-Road-UserId",
	[GW_RF_ISSUE] = "X-Road-Issue",
	[GW_RF_PURPOSE] = "Ndx-Purpose",
	[GW_RF_SUBJECT] = "Ndx-Subject",
	[GW_RF_CONSENT] = "Ndx-Consent",
	[GW_RF_SUBJECT_TOKEN] = "Ndx-Subject-Token",
	[GW_RF_TIMESTAMP] = "Ndx-Timestamp",
	[GW_RF_GATEWAY] = "Ndx-Gateway",
	[GW_RF_CONTENT_TYPE] = "Content-Type",
	[GW_RF_ACCEPT] = "Accept",
	[GW_RF_ACCEPT_LANGUAGE] = "Accept-Language",
};

const char *gw_rf_header_name(enum gw_rf_header h)
{
	assert((unsigned)h < GW_RF_NHEADERS);
	return header_names[h];
}

void gw_rf_input_of(const struct ndx_http_req *req, struct gw_rf_input *in)
{
	in->path = req->path;
	in->query = req->query;
	for (int i = 0; i < GW_RF_NHEADERS; i++) {
		in->hdr[i].len = 0;
		in->hdr[i].v = ndx_http_header_n(req, header_names[i], &in->hdr[i].len);
	}
}

bool gw_rf_header_read(enum gw_rf_port port, enum gw_rf_header h)
{
	return port == GW_RF_PROVIDER || (h != GW_RF_TIMESTAMP && h != GW_RF_GATEWAY);
}

size_t gw_rf_header_max(enum gw_rf_header h)
{
	return h == GW_RF_SUBJECT_TOKEN ? GW_RF_TOKEN_MAX : GW_RF_HEADER_MAX;
}

static bool value_ok(const char *v, size_t len, size_t max)
{
	size_t i;

	if (len > max)
		return false;
	for (i = 0; i < len && v[i] && v[i] != '\r' && v[i] != '\n'; i++)
		;
	return i == len;
}

bool gw_rf_value_ok(const char *v, size_t len)
{
	return value_ok(v, len, GW_RF_HEADER_MAX);
}

/* Path and query go out byte for byte and are signed as received, so they
 * must be bytes libcurl sends unchanged: RFC 3986 pchar and "/" (and "?" in
 * the query). A raw non-ASCII byte or control character would be
 * re-encoded or refused on the way and the signatures would no longer
 * match. Malformed percent-encoding is left to the provider system. */
bool gw_rf_uri_chars_ok(const char *s, bool query)
{
	static const char extra[] = "-._~!$&'()*+,;=:@/%";

	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    strchr(extra, c) || (query && c == '?'))
			continue;
		return false;
	}
	return true;
}

static enum gw_rf_result refuse(struct gw_rf_refusal *ref, enum gw_rf_result res, const char *type,
				const char *detail, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static enum gw_rf_result refuse(struct gw_rf_refusal *ref, enum gw_rf_result res, const char *type,
				const char *detail, const char *fmt, ...)
{
	va_list ap;

	ref->status = 400;
	ref->type = type;
	ref->detail = detail;
	va_start(ap, fmt);
	vsnprintf(ref->message, sizeof ref->message, fmt, ap);
	va_end(ap);
	return res;
}

/* ndx_id_parse's sentence lives in a thread-local buffer that the next
 * failed parse overwrites; the refusal keeps its own copy. */
static const char *keep_why(struct gw_rf_refusal *ref, const char *why)
{
	if (!why)
		return NULL;
	snprintf(ref->why, sizeof ref->why, "%s", why);
	return ref->why;
}

static enum gw_rf_result check_headers(const struct gw_rf_input *in, enum gw_rf_port port,
				       struct gw_rf_request *out, struct gw_rf_refusal *ref)
{
	for (int i = 0; i < GW_RF_NHEADERS; i++) {
		const struct gw_rf_value *hv = &in->hdr[i];

		if (!gw_rf_header_read(port, (enum gw_rf_header)i))
			continue;
		if (hv->v && !value_ok(hv->v, hv->len, gw_rf_header_max((enum gw_rf_header)i)))
			return refuse(ref, GW_RF_BAD_HEADER, "Client.InvalidRequest", header_names[i],
				      "header %s contains CR or LF or is longer than %zu bytes",
				      header_names[i], gw_rf_header_max((enum gw_rf_header)i));
		out->hdr[i] = hv->v;
	}
	return GW_RF_ACCEPTED;
}

/* The consumer port refuses an empty X-Road-Client before parsing it (no
 * detail); the provider port parses it and names the problem. */
static enum gw_rf_result parse_client(enum gw_rf_port port, struct gw_rf_request *out,
				      struct gw_rf_refusal *ref)
{
	const char *c = out->hdr[GW_RF_CLIENT], *why = NULL;

	if (!c || (port == GW_RF_CONSUMER && !c[0]) ||
	    ndx_id_parse(c, strlen(c), NDX_ID_SUBSYSTEM, &out->client_id, &why) != NDX_OK)
		return refuse(ref, GW_RF_BAD_CLIENT, "Client.InvalidClient", keep_why(ref, why),
			      "%s", c ? "X-Road-Client is not a subsystem id"
				      : "the X-Road-Client header is missing");
	/* Cannot fail: NDX_ID_TEXT_MAX holds the longest wire form. */
	ndx_id_format(&out->client_id, out->client, sizeof out->client);
	ndx_id_format_wire(&out->client_id, out->client_wire, sizeof out->client_wire);
	return GW_RF_ACCEPTED;
}

/* Splits /r1/{serviceId}{rest}; the caller has checked the prefix. */
static int parse_service(const char *path, struct gw_rf_request *out, const char **why)
{
	size_t consumed;
	int rc = ndx_id_parse_prefix(path + 4, strlen(path + 4), NDX_ID_SERVICE, &out->service_id,
				     &consumed, why);

	if (rc != NDX_OK)
		return rc;
	out->rest = path + 4 + consumed;
	ndx_id_format(&out->service_id, out->service, sizeof out->service);
	ndx_id_format_wire(&out->service_id, out->service_wire, sizeof out->service_wire);
	return NDX_OK;
}

static enum gw_rf_result parse_consumer(const struct gw_rf_input *in, struct gw_rf_request *out,
					struct gw_rf_refusal *ref)
{
	const char *why = NULL;
	enum gw_rf_result res;

	/* gw_consumer_handle routes only /r1/ paths here; the same answer
	 * holds for a caller that did not. */
	if (strncmp(in->path, "/r1/", 4) != 0)
		return refuse(ref, GW_RF_NOT_EXCHANGE, "Client.InvalidRequest", in->path, "%s",
			      "unknown path: expected /r1/{serviceId}[/path]");
	if ((res = check_headers(in, GW_RF_CONSUMER, out, ref)) != GW_RF_ACCEPTED)
		return res;
	if ((res = parse_client(GW_RF_CONSUMER, out, ref)) != GW_RF_ACCEPTED)
		return res;
	if (parse_service(in->path, out, &why) != NDX_OK)
		return refuse(ref, GW_RF_BAD_SERVICE, "Client.InvalidRequest", keep_why(ref, why),
			      "%s", "malformed service id in the path");
	out->query = in->query;
	if (!gw_rf_uri_chars_ok(out->rest, false) || !gw_rf_uri_chars_ok(in->query, true))
		return refuse(ref, GW_RF_BAD_SERVICE, "Client.InvalidRequest", NULL, "%s",
			      "the path or query holds a byte RFC 3986 does not allow there "
			      "(percent-encode it)");
	return GW_RF_ACCEPTED;
}

/* The provider port has no RFC 3986 check of its own: the consumer
 * gateway that signed the request made it. */
static enum gw_rf_result parse_provider(const struct gw_rf_input *in, struct gw_rf_request *out,
					struct gw_rf_refusal *ref)
{
	const char *why = NULL;
	enum gw_rf_result res;

	if (strncmp(in->path, "/r1/", 4) != 0 || parse_service(in->path, out, &why) != NDX_OK)
		return refuse(ref, GW_RF_BAD_SERVICE, "Client.InvalidRequest",
			      why ? keep_why(ref, why) : in->path, "%s",
			      "expected /r1/{serviceId}[/path]");
	out->query = in->query;
	if ((res = check_headers(in, GW_RF_PROVIDER, out, ref)) != GW_RF_ACCEPTED)
		return res;
	return parse_client(GW_RF_PROVIDER, out, ref);
}

enum gw_rf_result gw_reqfront_parse(const struct gw_rf_input *in, enum gw_rf_port port,
				    struct gw_rf_request *out, struct gw_rf_refusal *ref)
{
	enum gw_rf_result res;

	assert(in && in->path && in->query && out && ref);
	memset(out, 0, sizeof *out);
	memset(ref, 0, sizeof *ref);
	res = port == GW_RF_CONSUMER ? parse_consumer(in, out, ref) : parse_provider(in, out, ref);
	if (res == GW_RF_BAD_HEADER) {
		/* Not reached: nothing of the request is handed on. */
		memset(out, 0, sizeof *out);
	}
	return res;
}
