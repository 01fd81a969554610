/* The gateway's reading of an incoming exchange request before any
 * configuration is consulted (docs/protocol.md "Consumer API" and "Gateway
 * to gateway"): the X-Road and Ndx header values (no CR, LF or NUL, at most
 * GW_RF_HEADER_MAX bytes), the X-Road-Client subsystem id, the split of
 * /r1/{serviceId}{rest} and, on the consumer port, the RFC 3986 bytes of
 * rest and query. Pure: no configuration, no I/O, no allocation
 * (gw_rf_input_of only looks values up in a request of libndx's httpd), so
 * that a fuzz target (tests/fuzz/fuzz_consumer_request.c) and a unit test
 * (tests/unit/test_reqfront.c) link it alone. Self-contained (no gateway.h)
 * for the same reason. */
#ifndef NDX_GATEWAY_REQFRONT_H
#define NDX_GATEWAY_REQFRONT_H

#include <stdbool.h>
#include <stddef.h>

#include "ndx/id.h"

/* Longest header value the gateway accepts or forwards (protocol.md);
 * gateway.h's GW_HEADER_MAX is the same number (consumer.c checks). */
#define GW_RF_HEADER_MAX 1024
/* Ndx-Subject-Token carries an e-ID ID token (a signed JWT with the
 * citizen's name and claims), longer than any other value. */
#define GW_RF_TOKEN_MAX 4096

/* The headers read, in the order the provider port checks them; the
 * consumer port checks the same order without Ndx-Timestamp and
 * Ndx-Gateway, which it writes itself. */
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
 * consumer.c can place its configuration checks between them. */
enum gw_rf_result {
	GW_RF_ACCEPTED = 0,
	GW_RF_NOT_EXCHANGE, /* consumer: the path does not start with /r1/ */
	GW_RF_BAD_HEADER,   /* a checked header holds CR, LF or NUL or is too long */
	GW_RF_BAD_CLIENT,   /* X-Road-Client missing or not a subsystem id */
	GW_RF_BAD_SERVICE,  /* no service id after /r1/, or rest/query bytes */
};

/* A refusal, as the gateway answers it: status, X-Road error type,
 * message and detail. detail is NULL, a static string, in->path or
 * points at why[] of the same struct, so the struct must not be copied
 * while detail is used, and in must outlive it. */
struct gw_rf_refusal {
	int status;         /* 400 */
	const char *type;   /* static: Client.InvalidRequest, Client.InvalidClient */
	const char *detail;
	char message[160];
	char why[128];      /* ndx_id_parse's sentence, copied */
};

/* The parsed request. The strings of the ids are canonical (ndx_id_format)
 * and wire (ndx_id_format_wire) forms. rest points into in->path ("" or
 * "/..."), query is in->query, and hdr[i] is in->hdr[i].v: they live as
 * long as in's strings. */
struct gw_rf_request {
	struct ndx_id client_id, service_id;
	char client[NDX_ID_TEXT_MAX], client_wire[NDX_ID_TEXT_MAX];
	char service[NDX_ID_TEXT_MAX], service_wire[NDX_ID_TEXT_MAX];
	const char *rest;
	const char *query;
	const char *hdr[GW_RF_NHEADERS];
};

/* The header's name as the gateway looks it up ("X-Road-Client", ...). */
const char *gw_rf_header_name(enum gw_rf_header h);

/* Fills *in from a request of ndx_http_serve: its path, query and every
 * header of enum gw_rf_header. The strings live as long as req. */
struct ndx_http_req;
void gw_rf_input_of(const struct ndx_http_req *req, struct gw_rf_input *in);

/* Whether the port checks and passes on header h (the consumer port does
 * not read Ndx-Timestamp and Ndx-Gateway). */
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

/* Reads in with the checks of port, in that port's order:
 *   consumer: /r1/ prefix, headers, client, service id, rest and query bytes;
 *   provider: /r1/ prefix and service id, headers, client.
 * Returns GW_RF_ACCEPTED with *out filled, or the first check that failed
 * with *ref filled. What *out holds then depends on how far the reading
 * got: on the provider port a GW_RF_BAD_CLIENT still comes with service,
 * service_id, service_wire, rest, query and hdr[] (the provider signs its
 * refusal over a request hash); on the consumer port a GW_RF_BAD_SERVICE
 * comes with the client fields and hdr[]. Everything not reached is zero.
 * Never fails otherwise: every input gets an answer. */
enum gw_rf_result gw_reqfront_parse(const struct gw_rf_input *in, enum gw_rf_port port,
				    struct gw_rf_request *out, struct gw_rf_refusal *ref);

#endif
