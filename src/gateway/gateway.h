/* The request handling of both ports, shared by consumer.c, provider.c,
 * metaservices.c, accesses.c, health.c and refuse.c: the context every
 * handler gets, the handlers, and how a refusal is written. The other
 * modules have their own headers: gwconfig.h, confstate.h, xfer.h,
 * signer.h, exchlog.h, metrics.h, errors.h, userheaders.h, reqfront.h,
 * personal.h, replay.h, peerlimit.h, poller.h. Overview: docs/gateway.md
 * and docs/protocol.md. */
#ifndef NDX_GATEWAY_H
#define NDX_GATEWAY_H

#include <stdatomic.h>
#include <stdbool.h>

#include "confstate.h"
#include "errors.h"
#include "gwconfig.h"
#include "ndx/httpd.h"
#include "ndx/msglog.h"

struct gw_ctx {
	struct gw_state *state;
	const struct gw_config *cfg;
	struct ndx_msglog *log; /* open from before the ports start until after they stop */
	struct gw_revocations *revs; /* consent revocation lists (personal.h) */
	struct gw_replay *replay;    /* accepted (key id, client, X-Road-Id) (replay.h) */
	struct gw_peerlimit *refusals; /* refusal budgets of calling members (peerlimit.h) */
	struct gw_witness *witness;  /* the registry countersigning tree heads (witness.h) */
	struct gw_loops *loops;      /* the exchange loops (gwloop.h) */
	struct gw_events *events;    /* the outbox and inbox of events (events.h) */
	struct gw_connector *connector; /* the member's DSP connector (connector_rt.h); NULL: none */
	struct gw_opmon *opmon;      /* operational monitoring records (opmon.h); NULL: none */
	struct gw_maintenance *maint; /* maintenance mode (gw_maintenance.h); NULL: never */
	/* Whether the gateway port listens: it opens once a valid configuration
	 * is held (main.c), and until then /healthz says not_ready. */
	atomic_bool gateway_port_open;
	/* This gateway's name in Ndx-Gateway and the request hash, made once */
	char name[NDX_ID_TEXT_MAX + 64];
};

void gw_consumer_handle(void *ctx, const struct ndx_http_req *req, struct ndx_http_resp *resp);
/* The same on the TLS consumer port: subsystems that must connect with TLS
 * (and a client certificate) are served only here. */
void gw_consumer_tls_handle(void *ctx, const struct ndx_http_req *req,
			    struct ndx_http_resp *resp);
void gw_provider_handle(void *ctx, const struct ndx_http_req *req, struct ndx_http_resp *resp);

/* Metaservices on the consumer port. Return true when path was one (and
 * resp is filled). */
/* GET /healthz (health.c): ready, degraded or not, and why. */
void gw_healthz(struct gw_ctx *g, const struct gw_view *v, struct ndx_http_resp *resp);
/* The check of how client's information system connected (plain or TLS
 * consumer port, client certificate: docs/gateway.md "Information
 * systems"): GW_R_COUNT when it may go on, else AuthenticationRequired or
 * AuthenticationFailed. */
enum gw_reason gw_client_connection(const struct gw_settings *s, const char *client,
				    const struct ndx_http_req *req, bool tls);
bool gw_metaservice(struct gw_ctx *g, const struct gw_view *v, const struct ndx_http_req *req,
		    struct ndx_http_resp *resp, bool tls);

/* The built-in "who read my data" provider (accesses.c): fills resp with
 * the exchanges this gateway served about subject (query: limit), newest
 * first. Returns GW_R_COUNT, or the reason of the refusal resp now holds. */
enum gw_reason gw_subject_accesses(struct gw_ctx *g, const struct gw_view *v, const char *subject,
				const struct ndx_http_req *req, const char *rest,
				struct ndx_http_resp *resp);

/* Operational monitoring reads (opmon_query.c, docs/protocol.md
 * "Operational monitoring"): /o1/{gateway}/records and /health on the
 * consumer port, /o1/query on the gateway port. Answer now or defer. */
void gw_opmon_consumer(struct gw_ctx *g, const struct ndx_http_req *req,
		       struct ndx_http_resp *resp, bool tls);
void gw_opmon_provider(struct gw_ctx *g, const struct ndx_http_req *req,
		       struct ndx_http_resp *resp);

/* Looks up a request header the gateway may accept: sets *ok to false when
 * its value holds CR, LF or NUL or exceeds GW_HEADER_MAX bytes. Returns the
 * value or NULL (absent). */
const char *gw_header(const struct ndx_http_req *req, const char *name, bool *ok);

/* Sets resp to the error body of a refusal for reason r made on side
 * (errors.h: type, status, detail "{reason}: {specifics}"), in the format
 * req's Accept asks for, WITHOUT the X-Road-Error header, and counts it:
 * an exchange's answer is rendered first so that it can be signed and
 * logged, and its headers go on only once the record is durable (a failed
 * append turns it into LogUnavailable, which must not carry the headers of
 * the answer it replaces). Returns the type (static), which the caller
 * puts in X-Road-Error. specifics may be NULL. (refuse.c) */
const char *gw_refusal_body(struct ndx_http_resp *resp, const struct ndx_http_req *req,
			    enum gw_reason r, enum gw_err_side side, const char *specifics,
			    const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* The same with X-Road-Error set at once, for answers that are not logged. */
void gw_refusal(struct ndx_http_resp *resp, const struct ndx_http_req *req, enum gw_reason r,
		enum gw_err_side side, const char *specifics, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

#endif
