/* The gateway's reading of an incoming exchange request before the global
 * configuration is consulted (reqfront.h): header values, X-Road-Client
 * (member or subsystem), X-Road-Security-Server, X-Road-Represented-Party,
 * the URI's length, the /r1/{serviceId}{rest} split, the URI bytes and the
 * dot segments of rest. Both ports run the same checks in a different
 * order (the provider port must know the service and rest to sign even its
 * refusal of a bad client), and each keeps its own wording for a path that
 * is not /r1/{serviceId}. Protocol: docs/protocol.md "Consumer API" and
 * "Gateway to gateway"; X-Road's PR-REST 4.1-4.3 and 4.8. */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ndx/encode.h"
#include "ndx/err.h"
#include "ndx/httpd.h"
#include "ndx/urlpath.h"
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
	[GW_RF_SECURITY_SERVER] = "X-Road-Security-Server",
	[GW_RF_REPRESENTED_PARTY] = "X-Road-Represented-Party",
};

#define TYPE_BAD_REQUEST "Client.BadRequest"
#define TYPE_BAD_CLIENT "Client.InvalidClientIdentifier"

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
		/* PR-REST 4.3: "If multiple X-Road-Client headers are present
		 * in the request, the Security Server SHOULD use the last". */
		in->hdr[i].v = i == GW_RF_CLIENT
				       ? ndx_http_header_last_n(req, header_names[i], &in->hdr[i].len)
				       : ndx_http_header_n(req, header_names[i], &in->hdr[i].len);
	}
}

bool gw_rf_header_read(enum gw_rf_port port, enum gw_rf_header h)
{
	if (port == GW_RF_PROVIDER)
		return h != GW_RF_SECURITY_SERVER;
	return h != GW_RF_TIMESTAMP && h != GW_RF_GATEWAY;
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

/* The same reading as ndx_conf_grant_allows gives a grant's paths, so
 * that what a grant refuses never reaches it, and "." too. */
bool gw_rf_has_dot_segment(const char *rest)
{
	return ndx_path_has_dot_segment(rest, true);
}

static enum gw_rf_result refuse(struct gw_rf_refusal *ref, enum gw_rf_result res, const char *type,
				const char *detail, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static enum gw_rf_result refuse(struct gw_rf_refusal *ref, enum gw_rf_result res, const char *type,
				const char *detail, const char *fmt, ...)
{
	va_list ap;

	ref->status = res == GW_RF_URI_TOO_LONG ? 414 : 400;
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

/* As keep_why, for a sentence written here. */
static const char *set_why(struct gw_rf_refusal *ref, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static const char *set_why(struct gw_rf_refusal *ref, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ref->why, sizeof ref->why, fmt, ap);
	va_end(ap);
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
			return refuse(ref, GW_RF_BAD_HEADER, TYPE_BAD_REQUEST, header_names[i],
				      "header %s contains CR or LF or is longer than %zu bytes",
				      header_names[i], gw_rf_header_max((enum gw_rf_header)i));
		out->hdr[i] = hv->v;
	}
	return GW_RF_ACCEPTED;
}

/* Slash-separated parts of s (at least 1). */
static size_t count_parts(const char *s)
{
	size_t n = 1;

	for (; *s; s++)
		n += *s == '/';
	return n;
}

/* PR-REST 4.1 and 4.3: the client is [instance]/[class]/[member] with an
 * OPTIONAL /[subsystem]. The consumer port refuses an empty X-Road-Client
 * before parsing it (no detail); the provider port parses it and names the
 * problem. */
static enum gw_rf_result parse_client(enum gw_rf_port port, struct gw_rf_request *out,
				      struct gw_rf_refusal *ref)
{
	const char *c = out->hdr[GW_RF_CLIENT], *why = NULL, *detail = NULL;
	size_t parts;

	if (!c)
		return refuse(ref, GW_RF_BAD_CLIENT, TYPE_BAD_CLIENT, NULL, "%s",
			      "the X-Road-Client header is missing");
	parts = count_parts(c);
	if (port == GW_RF_CONSUMER && !c[0])
		detail = NULL;
	else if (parts != NDX_ID_MEMBER && parts != NDX_ID_SUBSYSTEM)
		detail = set_why(ref, "expected 3 parts (member id) or 4 parts (subsystem id), "
				      "found %zu", parts);
	else if (ndx_id_parse(c, strlen(c), (enum ndx_id_kind)parts, &out->client_id, &why) ==
		 NDX_OK)
		goto parsed;
	else
		detail = keep_why(ref, why);
	return refuse(ref, GW_RF_BAD_CLIENT, TYPE_BAD_CLIENT, detail, "%s",
		      "X-Road-Client is not a member or subsystem id");
parsed:
	/* Cannot fail: NDX_ID_TEXT_MAX holds the longest wire form. */
	ndx_id_format(&out->client_id, out->client, sizeof out->client);
	ndx_id_format_wire(&out->client_id, out->client_wire, sizeof out->client_wire);
	return GW_RF_ACCEPTED;
}

/* PR-REST 4.2: "maximum length of the request URI needs to be limited".
 * Path and query as received, with the '?' between them. */
static enum gw_rf_result check_uri_length(const struct gw_rf_input *in,
					  struct gw_rf_refusal *ref)
{
	size_t n = strlen(in->path), q = strlen(in->query);

	if (q)
		n += 1 + q;
	if (n <= GW_RF_URI_MAX)
		return GW_RF_ACCEPTED;
	return refuse(ref, GW_RF_URI_TOO_LONG, TYPE_BAD_REQUEST,
		      set_why(ref, "%zu bytes, at most %d", n, GW_RF_URI_MAX),
		      "the path and query are longer than %d bytes: send large data in the body",
		      GW_RF_URI_MAX);
}

/* Splits /r1/{serviceId}{rest}; the caller has checked the prefix. The
 * service id is always 5 parts, never member-level: in a path a 4-part
 * service of a member could not be told from a service of a subsystem
 * (X-Road's RestRequest.decodeIdentifiers requires 5 too). */
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

/* RFC 3986 bytes of rest and query, then the dot segments of rest: RFC
 * 3986 5.2.4 removes "." and "..", and a provider system (or a proxy in
 * front of it) that does so may serve a path outside the service's base
 * path, or one no grant names. */
static enum gw_rf_result check_path(const struct gw_rf_request *out, struct gw_rf_refusal *ref)
{
	if (!gw_rf_uri_chars_ok(out->rest, false) || !gw_rf_uri_chars_ok(out->query, true))
		return refuse(ref, GW_RF_BAD_PATH, TYPE_BAD_REQUEST, NULL, "%s",
			      "the path or query holds a byte RFC 3986 does not allow there "
			      "(percent-encode it)");
	if (gw_rf_has_dot_segment(out->rest))
		return refuse(ref, GW_RF_DOT_SEGMENT, TYPE_BAD_REQUEST, out->rest, "%s",
			      "the path holds a \".\" or \"..\" segment (also as %2E): it could "
			      "reach outside the service, so it is refused");
	return GW_RF_ACCEPTED;
}

/* PR-REST 4.3: X-Road-Security-Server is
 * [instance]/[member class]/[member code]/[server code], each part an
 * identifier (4.8), percent-encoded like the client's. */
static enum gw_rf_result parse_security_server(struct gw_rf_request *out,
					       struct gw_rf_refusal *ref)
{
	static const char role[] = "(subsystem code)";
	const char *v = out->hdr[GW_RF_SECURITY_SERVER], *why = NULL, *detail, *at;
	struct ndx_id id, member;
	size_t parts;

	if (!v)
		return GW_RF_ACCEPTED;
	parts = count_parts(v);
	if (!v[0])
		detail = set_why(ref, "the value is empty");
	else if (parts != 4)
		detail = set_why(ref, "expected 4 parts (instance/class/member/server code), "
				      "found %zu", parts);
	else if (ndx_id_parse(v, strlen(v), NDX_ID_SUBSYSTEM, &id, &why) == NDX_OK)
		goto parsed;
	else {
		/* The id parser names part 4 for a subsystem; here it is the
		 * server code. */
		detail = keep_why(ref, why);
		if (detail && (at = strstr(detail, role)))
			snprintf(ref->why + (at - detail), sizeof ref->why - (size_t)(at - detail),
				 "(server code)%s", why + (at - detail) + strlen(role));
	}
	return refuse(ref, GW_RF_BAD_SECURITY_SERVER, TYPE_BAD_REQUEST, detail, "%s",
		      "X-Road-Security-Server is not a security server id "
		      "(instance/class/member/server code)");
parsed:
	ndx_id_format(&id, out->security_server, sizeof out->security_server);
	ndx_id_parent(&id, NDX_ID_MEMBER, &member);
	ndx_id_format(&member, out->security_server_member, sizeof out->security_server_member);
	snprintf(out->security_server_code, sizeof out->security_server_code, "%s", id.subsystem);
	return GW_RF_ACCEPTED;
}

/* One part of X-Road-Represented-Party, percent-decoded into dst
 * (NDX_ID_PART_MAX + 1 bytes): 1..NDX_ID_PART_MAX characters of PR-REST
 * 4.8. Returns NULL or a sentence in ref->why. */
static const char *party_part(const char *p, size_t n, const char *role, char *dst,
			      struct gw_rf_refusal *ref)
{
	char tmp[3 * NDX_ID_PART_MAX + 1];
	long dlen;

	if (n == 0)
		return set_why(ref, "the %s is empty", role);
	if (n > 3 * NDX_ID_PART_MAX)
		return set_why(ref, "the %s is longer than %d characters", role, NDX_ID_PART_MAX);
	dlen = ndx_pct_decode(p, n, tmp, sizeof tmp);
	if (dlen < 0)
		return set_why(ref, "the %s holds a bad percent-escape or a NUL", role);
	if (dlen > NDX_ID_PART_MAX)
		return set_why(ref, "the %s is longer than %d characters", role, NDX_ID_PART_MAX);
	for (long k = 0; k < dlen; k++) {
		unsigned char c = (unsigned char)tmp[k];

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    (c && strchr("'()+,-.=?", c)))
			continue;
		if (c >= 0x20 && c < 0x7f)
			return set_why(ref, "character '%c' is not allowed in the %s", c, role);
		return set_why(ref, "character 0x%02X is not allowed in the %s", c, role);
	}
	memcpy(dst, tmp, (size_t)dlen + 1);
	return NULL;
}

/* PR-REST 4.3: X-Road-Represented-Party is [member class]/[member code],
 * the class OPTIONAL ("If the member class is omitted, also the separator
 * / must be omitted"); canonical text: the decoded parts. */
static enum gw_rf_result parse_represented_party(struct gw_rf_request *out,
						 struct gw_rf_refusal *ref)
{
	const char *v = out->hdr[GW_RF_REPRESENTED_PARTY], *slash, *detail;
	char cls[NDX_ID_PART_MAX + 1] = "", code[NDX_ID_PART_MAX + 1];

	if (!v)
		return GW_RF_ACCEPTED;
	slash = strchr(v, '/');
	if (slash && strchr(slash + 1, '/'))
		detail = set_why(ref, "expected 1 or 2 parts ([member class/]member code), "
				      "found %zu", count_parts(v));
	else if (slash)
		detail = party_part(v, (size_t)(slash - v), "member class", cls, ref);
	else
		detail = NULL;
	if (!detail)
		detail = party_part(slash ? slash + 1 : v, strlen(slash ? slash + 1 : v),
				    "member code", code, ref);
	if (detail)
		return refuse(ref, GW_RF_BAD_REPRESENTED_PARTY, TYPE_BAD_REQUEST, detail, "%s",
			      "X-Road-Represented-Party is not [member class/]member code");
	snprintf(out->represented_party, sizeof out->represented_party, "%s%s%s", cls,
		 cls[0] ? "/" : "", code);
	return GW_RF_ACCEPTED;
}

static enum gw_rf_result parse_consumer(const struct gw_rf_input *in, struct gw_rf_request *out,
					struct gw_rf_refusal *ref)
{
	const char *why = NULL;
	enum gw_rf_result res;

	/* gw_consumer_handle routes only /r1/ paths here; the same answer
	 * holds for a caller that did not. */
	if (strncmp(in->path, "/r1/", 4) != 0)
		return refuse(ref, GW_RF_NOT_EXCHANGE, TYPE_BAD_REQUEST, in->path, "%s",
			      "unknown path: expected /r1/{serviceId}[/path]");
	if ((res = check_headers(in, GW_RF_CONSUMER, out, ref)) != GW_RF_ACCEPTED ||
	    (res = parse_client(GW_RF_CONSUMER, out, ref)) != GW_RF_ACCEPTED ||
	    (res = check_uri_length(in, ref)) != GW_RF_ACCEPTED)
		return res;
	if (parse_service(in->path, out, &why) != NDX_OK)
		return refuse(ref, GW_RF_BAD_SERVICE, TYPE_BAD_REQUEST, keep_why(ref, why), "%s",
			      "malformed service id in the path");
	out->query = in->query;
	if ((res = check_path(out, ref)) != GW_RF_ACCEPTED ||
	    (res = parse_security_server(out, ref)) != GW_RF_ACCEPTED)
		return res;
	return parse_represented_party(out, ref);
}

/* The provider port repeats the URI checks the consumer gateway made: a
 * member's gateway that did not make them must not get such a path to
 * the provider system (libcurl would re-encode or refuse its bytes on the
 * way, and a dot segment may leave the service). */
static enum gw_rf_result parse_provider(const struct gw_rf_input *in, struct gw_rf_request *out,
					struct gw_rf_refusal *ref)
{
	const char *why = NULL;
	enum gw_rf_result res;

	if ((res = check_uri_length(in, ref)) != GW_RF_ACCEPTED)
		return res;
	if (strncmp(in->path, "/r1/", 4) != 0 || parse_service(in->path, out, &why) != NDX_OK)
		return refuse(ref, GW_RF_BAD_SERVICE, TYPE_BAD_REQUEST,
			      why ? keep_why(ref, why) : in->path, "%s",
			      "expected /r1/{serviceId}[/path]");
	out->query = in->query;
	if ((res = check_path(out, ref)) != GW_RF_ACCEPTED ||
	    (res = check_headers(in, GW_RF_PROVIDER, out, ref)) != GW_RF_ACCEPTED ||
	    (res = parse_represented_party(out, ref)) != GW_RF_ACCEPTED)
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

enum gw_reason gw_rf_reason(enum gw_rf_result result)
{
	switch (result) {
	case GW_RF_NOT_EXCHANGE: return GW_R_NOT_EXCHANGE;
	case GW_RF_BAD_HEADER: return GW_R_BAD_HEADER;
	case GW_RF_BAD_CLIENT: return GW_R_INVALID_CLIENT;
	case GW_RF_BAD_SERVICE: return GW_R_INVALID_SERVICE;
	case GW_RF_URI_TOO_LONG: return GW_R_URI_TOO_LONG;
	case GW_RF_BAD_PATH: return GW_R_BAD_PATH;
	case GW_RF_DOT_SEGMENT: return GW_R_DOT_SEGMENT;
	case GW_RF_BAD_SECURITY_SERVER: return GW_R_BAD_SECURITY_SERVER;
	case GW_RF_BAD_REPRESENTED_PARTY: return GW_R_BAD_REPRESENTED_PARTY;
	case GW_RF_ACCEPTED: break;
	}
	return GW_R_INTERNAL;
}
