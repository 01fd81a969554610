/* The gateway's reading of an incoming exchange request before any
 * configuration is consulted (docs/protocol.md "Consumer API" and "Gateway
 * to gateway"; X-Road's PR-REST 4.1-4.3 and 4.8): the X-Road and Ndx
 * header values (no CR, LF or NUL, at most GW_RF_HEADER_MAX bytes), the
 * X-Road-Client member or subsystem id, X-Road-Security-Server and
 * X-Road-Represented-Party, the length of the URI, the split of
 * /r1/{serviceId}{rest}, the RFC 3986 bytes of rest and query and the dot
 * segments of rest. Pure: no configuration, no I/O, no allocation
 * (gw_rf_input_of only looks values up in a request of libndx's httpd), so
 * that a fuzz target (tests/fuzz/fuzz_consumer_request.c) and a unit test
 * (tests/unit/test_reqfront.c) link it alone. Self-contained (no gateway.h)
 * for the same reason. */
#ifndef NDX_GATEWAY_REQFRONT_H
#define NDX_GATEWAY_REQFRONT_H

#include <stdbool.h>
#include <stddef.h>

#include "errors.h"
#include "ndx/id.h"

/* Longest header value the gateway accepts or forwards (protocol.md);
 * gwconfig.h's GW_HEADER_MAX is the same number (consumer.c checks). */
#define GW_RF_HEADER_MAX 1024
/* Ndx-Subject-Token carries an e-ID ID token (a signed JWT with the
 * citizen's name and claims), longer than any other value. */
#define GW_RF_TOKEN_MAX 4096
/* Longest path plus query ('?' included) a request may have: 414 above it
 * (PR-REST 4.2: "maximum length of the request URI needs to be limited").
 * libmicrohttpd's default 32 KiB per-connection memory holds a request
 * line this long with every header at its cap on both ports. */
#define GW_RF_URI_MAX 4096
/* Longest canonical X-Road-Represented-Party: class/code. */
#define GW_RF_PARTY_TEXT_MAX (2 * NDX_ID_PART_MAX + 2)

/* The headers read, in the order both ports check their bytes; the
 * consumer port does not read Ndx-Timestamp and Ndx-Gateway, which it
 * writes itself, and the provider port does not read
 * X-Road-Security-Server, which only tells the consumer gateway where to
 * send the request. New headers go last: the fuzz corpus gives the values
 * in this order. */
enum gw_rf_header {
	GW_RF_CLIENT,
	GW_RF_ID,
	GW_RF_USER_ID,
	GW_RF_ISSUE,
	GW_RF_PURPOSE,
	GW_RF_SUBJECT,
	GW_RF_CONSENT,
	GW_RF_SUBJECT_TOKEN,
	GW_RF_TIMESTAMP,
	GW_RF_GATEWAY,
	GW_RF_CONTENT_TYPE,
	GW_RF_ACCEPT,
	GW_RF_ACCEPT_LANGUAGE,
	GW_RF_SECURITY_SERVER,
	GW_RF_REPRESENTED_PARTY,
	GW_RF_NHEADERS
};

/* Which port's rules and answers apply. */
enum gw_rf_port {
	GW_RF_CONSUMER,
	GW_RF_PROVIDER,
};

/* One header value as received: v NULL = absent; otherwise v[len] is a
 * NUL (as libmicrohttpd hands values over), and a NUL before len is a NUL
 * byte inside the value. */
struct gw_rf_value {
	const char *v;
	size_t len;
};

struct gw_rf_input {
	const char *path;  /* as received, percent-encoding kept; not NULL */
	const char *query; /* raw, without '?'; "" when none; not NULL */
	struct gw_rf_value hdr[GW_RF_NHEADERS];
};

/* What gw_reqfront_parse returns: GW_RF_ACCEPTED, or the check that
 * refused. The values follow the consumer port's order of checks, so that
 * consumer.c can place its configuration checks between them; compare
 * them by name only. Status 400 except GW_RF_URI_TOO_LONG (414). */
enum gw_rf_result {
	GW_RF_ACCEPTED = 0,
	GW_RF_NOT_EXCHANGE,  /* consumer: the path does not start with /r1/ */
	GW_RF_BAD_HEADER,    /* a checked header holds CR, LF or NUL or is too long */
	GW_RF_BAD_CLIENT,    /* X-Road-Client missing or not a member or subsystem id */
	GW_RF_URI_TOO_LONG,  /* path + query longer than GW_RF_URI_MAX */
	GW_RF_BAD_SERVICE,   /* no service id after /r1/ */
	GW_RF_BAD_PATH,      /* rest or query holds a byte RFC 3986 does not allow */
	GW_RF_DOT_SEGMENT,   /* a segment of rest is "." or ".." (or %2E forms) */
	GW_RF_BAD_SECURITY_SERVER,   /* X-Road-Security-Server malformed */
	GW_RF_BAD_REPRESENTED_PARTY, /* X-Road-Represented-Party malformed */
};

/* A refusal, as the gateway answers it: status, X-Road error type,
 * message and detail. detail is NULL, a static string, in->path or
 * points at why[] of the same struct, so the struct must not be copied
 * while detail is used, and in must outlive it. */
struct gw_rf_refusal {
	int status;         /* 400, or 414 for GW_RF_URI_TOO_LONG */
	/* static: Client.InvalidClientIdentifier for GW_RF_BAD_CLIENT,
	 * Client.BadRequest for every other refusal (PR-REST 4.6) */
	const char *type;
	const char *detail; /* the specifics, never the reason word */
	char message[160];
	char why[128];      /* ndx_id_parse's sentence, copied */
};

/* The parsed request. The strings of the ids are canonical (ndx_id_format)
 * and wire (ndx_id_format_wire) forms. client_id.kind is NDX_ID_MEMBER
 * for a member-level client (PR-REST 4.1: "Including the subsystem code
 * is OPTIONAL"), NDX_ID_SUBSYSTEM otherwise; a service id is always 5
 * parts. rest points into in->path ("" or "/..."), query is in->query,
 * and hdr[i] is in->hdr[i].v: they live as long as in's strings.
 * security_server* and represented_party are "" when the header is absent
 * (or, for the security server, on the provider port). */
struct gw_rf_request {
	struct ndx_id client_id, service_id;
	char client[NDX_ID_TEXT_MAX], client_wire[NDX_ID_TEXT_MAX];
	char service[NDX_ID_TEXT_MAX], service_wire[NDX_ID_TEXT_MAX];
	/* X-Road-Security-Server, canonical: instance/class/member/server,
	 * its member instance/class/member and its server code. */
	char security_server[NDX_ID_TEXT_MAX];
	char security_server_member[NDX_ID_TEXT_MAX];
	char security_server_code[NDX_ID_PART_MAX + 1];
	/* X-Road-Represented-Party, canonical: class/code or code. */
	char represented_party[GW_RF_PARTY_TEXT_MAX];
	const char *rest;
	const char *query;
	const char *hdr[GW_RF_NHEADERS];
};

/* The reason of errors.h a refusal of gw_reqfront_parse is answered with
 * (GW_R_INTERNAL for GW_RF_ACCEPTED, which is none). */
enum gw_reason gw_rf_reason(enum gw_rf_result result);

/* The header's name as the gateway looks it up ("X-Road-Client", ...). */
const char *gw_rf_header_name(enum gw_rf_header h);

/* Fills *in from a request of ndx_http_serve: its path, query and every
 * header of enum gw_rf_header, the last X-Road-Client when there are
 * several (PR-REST 4.3) and the first of every other. The strings live as
 * long as req. */
struct ndx_http_req;
void gw_rf_input_of(const struct ndx_http_req *req, struct gw_rf_input *in);

/* Whether the port checks and passes on header h (the consumer port does
 * not read Ndx-Timestamp and Ndx-Gateway, the provider port does not read
 * X-Road-Security-Server). */
bool gw_rf_header_read(enum gw_rf_port port, enum gw_rf_header h);

/* The longest value header h may have: GW_RF_TOKEN_MAX for
 * Ndx-Subject-Token, GW_RF_HEADER_MAX for every other. */
size_t gw_rf_header_max(enum gw_rf_header h);

/* True when v[0..len) holds no CR, LF or NUL and len <= GW_RF_HEADER_MAX.
 * v must be readable for len bytes. */
bool gw_rf_value_ok(const char *v, size_t len);

/* True when s (NUL-terminated; NULL counts as "") holds only the bytes
 * RFC 3986 allows in a path (pchar and '/'), or in a query ('?' too).
 * Percent-escapes are not checked: '%' passes. */
bool gw_rf_uri_chars_ok(const char *s, bool query);

/* True when a segment of rest (split at '/', and at "%2F", "%5C" and '\'
 * which a provider system may decode into separators) is "." or ".." once
 * "%2E" is read as '.' (RFC 3986 5.2.4 would remove it). NULL is "". */
bool gw_rf_has_dot_segment(const char *rest);

/* Reads in with the checks of port, in that port's order:
 *   consumer: /r1/ prefix, headers, client, URI length, service id, rest
 *             and query bytes, dot segments, X-Road-Security-Server,
 *             X-Road-Represented-Party;
 *   provider: URI length, /r1/ prefix and service id, rest and query
 *             bytes, dot segments, headers, X-Road-Represented-Party,
 *             client.
 * Returns GW_RF_ACCEPTED with *out filled, or the first check that failed
 * with *ref filled. What *out holds then depends on how far the reading
 * got: on the provider port a GW_RF_BAD_CLIENT still comes with every
 * other field (the provider signs its refusal over a request hash); on
 * the consumer port every result after GW_RF_BAD_CLIENT comes with the
 * client fields and hdr[]. Everything not reached is zero. Never fails
 * otherwise: every input gets an answer. */
enum gw_rf_result gw_reqfront_parse(const struct gw_rf_input *in, enum gw_rf_port port,
				    struct gw_rf_request *out, struct gw_rf_refusal *ref);

#endif
