/* The consumer port (docs/protocol.md "Consumer API"): an information system
 * of this member calls /r1/{serviceId}[/path][?query] with X-Road-Client.
 * One exchange is one struct cx passed through named steps, in order:
 *
 *   parse          read the request (reqfront.c)
 *   check_gateway  a valid configuration is held, the log is witnessed
 *   check_client   the client is this gateway's and connected as configured
 *   check_request  path, service id and X-Road headers are well formed
 *   identify       the service is known; from here the exchange is logged
 *   check_grant    a grant allows client, service, method and path
 *   prepare        user headers, the provider gateway, the hash input
 *   forward        sign for one provider gateway and send (peer.c)
 *   verify         the answer carries that gateway's valid signature
 *   pass           the verified answer becomes the client's
 *
 * A step returns GW_R_COUNT to go on, or the reason of its refusal (errors.h)
 * with the specifics in x->refusal; the refusal is rendered once, after the
 * steps. The steps up to prepare run on the port's HTTP thread; forward,
 * verify and pass on an exchange loop (gwloop.h), where the signature is
 * made with the rest of the loop turn's and the call waits in the loop's
 * multi handle, not in a thread. Then the exchange's record goes to the
 * message log (once it is identified, refusals too) and the answer goes out,
 * from the log writer's callback, only when that record
 * is durable. The port also serves /healthz (health.c), /metrics,
 * /admin/log/head and the metaservices (metaservices.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connector_rt.h"
#include "events.h"
#include "gateway.h"
#include "xfer.h"
#include "signer.h"
#include "exchlog.h"
#include "gw_maintenance.h"
#include "metrics.h"
#include "confstate.h"
#include "gwconfig.h"
#include "personal.h"
#include "replay.h"
#include "reqfront.h"
#include "subjects.h"
#include "gw_witness.h"
#include "gwarena.h"
#include "gwloop.h"
#include "opmon.h"
#include "ndx/encode.h"
#include "ndx/err.h"
#include "ndx/prom.h"
#include "ndx/timefmt.h"

_Static_assert(GW_HEADER_MAX == GW_RF_HEADER_MAX, "one header cap for both (reqfront.h)");

const char *gw_header(const struct ndx_http_req *req, const char *name, bool *ok)
{
	size_t len = 0;
	const char *v = ndx_http_header_n(req, name, &len);

	*ok = !v || gw_rf_value_ok(v, len);
	return v;
}

static void add_if(struct gw_arena *a, struct curl_slist **l, const char *name, const char *v)
{
	if (v && v[0])
		gw_slist_add_in(a, l, name, v);
}

/* The request as signed for one provider gateway: its hash covers the
 * gateway's name, so each gateway tried gets its own signature and its own
 * header list (peer.c calls sign_for_gateway before each). */
struct signing {
	struct ndx_request_hash_input hin;
	char nonce[GW_UUID_LEN];
	char gateway[NDX_ID_TEXT_MAX + 64];
	char *sig, *hash_b64;
	struct curl_slist *hdrs;     /* from the exchange's arena */
};

/* One exchange on the consumer port. */
struct cx {
	/* what came in */
	struct gw_ctx *g;
	struct gw_view view;         /* held for the exchange's life */
	const struct gw_view *v;     /* &view */
	struct ndx_http_pending *pending; /* the deferred answer, NULL = answered in place */
	struct gw_loop *loop;        /* where forward and verify run */
	struct ndx_loop_task task;
	struct gw_sign_job sign_job;
	/* what the exchange allocates for itself (gwarena.h), released in
	 * cx_free: the user header lists and their names, the URL, the
	 * headers to the provider gateway, its answer's headers, the log path */
	struct gw_arena arena;
	const struct ndx_conf *conf; /* NULL when none is held */
	const struct ndx_http_req *req;
	struct ndx_http_resp *resp;
	struct timespec t0;
	time_t now;
	bool tls;                    /* over the TLS consumer port */
	bool personal;               /* the service is a personal-data service */
	/* operational monitoring (opmon.h): Unix ms, 0 = did not happen */
	int64_t t_in, t_out, t_resp_in;
	/* parse */
	struct gw_rf_input in;
	struct gw_rf_request rq;
	struct gw_rf_refusal front_refusal;
	enum gw_rf_result front;
	/* who calls what */
	char client[NDX_ID_TEXT_MAX], service[NDX_ID_TEXT_MAX], member[NDX_ID_TEXT_MAX];
	const char *service_label;   /* for /metrics, NULL = unknown */
	const char *grant_pattern;   /* the path pattern that allowed it (in conf), NULL = none */
	const char *msg_id;
	char msg_id_made[GW_UUID_LEN];
	bool identified;             /* own client and a service id: logged from here */
	/* prepare and forward */
	char ts[NDX_TIME_TEXT_LEN];
	struct gw_uh_list user;      /* the client's user headers, signed and sent */
	char *user_names;            /* their names, for Ndx-Headers; from arena */
	char *url_suffix;            /* /r1/{service}{path}[?query]; from arena */
	struct signing sig;
	struct gw_peer_call call;
	struct gw_xfer_resp answer;  /* the provider gateway's */
	/* verify */
	struct gw_uh_list answer_user;
	bool has_req_hash, has_resp_hash;
	uint8_t req_hash[NDX_SHA256_LEN], resp_hash[NDX_SHA256_LEN];
	const char *resp_sig;
	const char *subjects;        /* the provider's signed Ndx-Data-Subjects */
	/* the outcome */
	struct {
		enum gw_reason reason;  /* GW_R_COUNT: none */
		char specifics[768];
		char message[1024];
	} refusal;
	const char *err_type;        /* X-Road-Error of the answer, NULL = none */
	bool passed;                 /* the provider's verified answer is in resp */
	/* the record, alive until the log has written it */
	struct ndx_msglog_record rec;
	char *log_path;              /* from arena */
};

static enum gw_reason refuse(struct cx *x, enum gw_reason r, const char *specifics,
			     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Notes the refusal (rendered once, by render_refusal) and returns r. */
static enum gw_reason refuse(struct cx *x, enum gw_reason r, const char *specifics,
			     const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(x->refusal.message, sizeof x->refusal.message, fmt, ap);
	va_end(ap);
	snprintf(x->refusal.specifics, sizeof x->refusal.specifics, "%s",
		 specifics ? specifics : "");
	x->refusal.reason = r;
	return r;
}

static enum gw_reason refuse_front(struct cx *x)
{
	return refuse(x, gw_rf_reason(x->front), x->front_refusal.detail, "%s",
		      x->front_refusal.message);
}

/* ---- the steps ------------------------------------------------------------ */

/* The pure reading (reqfront.c) is made at once; its refusals are answered
 * in their place among the configuration checks, whose order the answers
 * have always followed. */
static enum gw_reason step_parse(struct cx *x)
{
	gw_rf_input_of(x->req, &x->in);
	x->front = gw_reqfront_parse(&x->in, GW_RF_CONSUMER, &x->rq, &x->front_refusal);
	if (x->front == GW_RF_NOT_EXCHANGE || x->front == GW_RF_BAD_HEADER)
		return refuse_front(x);
	return GW_R_COUNT;
}

static enum gw_reason step_check_gateway(struct cx *x)
{
	char why[512];

	if (!gw_view_live(x->v, x->now))
		return refuse(x, GW_R_NO_CONFIGURATION, NULL,
			      "the gateway holds no valid global configuration");
	x->conf = x->v->c->conf;
	if (gw_witness_overdue(x->g->witness, why, sizeof why))
		return refuse(x, GW_R_WITNESS_UNAVAILABLE, NULL, "%s", why);
	return GW_R_COUNT;
}

static enum gw_reason step_check_client(struct cx *x)
{
	const struct gw_settings *s = x->v->s;
	enum gw_reason r;

	if (x->front == GW_RF_BAD_CLIENT)
		return refuse_front(x);
	_Static_assert(sizeof x->client == sizeof x->rq.client, "one id text size");
	memcpy(x->client, x->rq.client, sizeof x->client);
	if (!gw_settings_has_subsystem(s, x->client) || !ndx_conf_has_client(x->conf, x->client))
		return refuse(x, GW_R_UNKNOWN_CLIENT, x->client,
			      "%s is not a client (member or subsystem) that may use this gateway",
			      x->client);
	r = gw_client_connection(s, x->client, x->req, x->tls);
	if (r == GW_R_AUTHENTICATION_REQUIRED)
		return refuse(x, r, x->client,
			      "%s may use this gateway only over its TLS consumer port%s", x->client,
			      gw_settings_client_auth(s, x->client)->conn == GW_CONN_TLS_CERT
				      ? ", with its client certificate"
				      : "");
	if (r == GW_R_AUTHENTICATION_FAILED)
		return refuse(x, r, x->client,
			      "%s must present one of its registered client certificates",
			      x->client);
	return GW_R_COUNT;
}

static enum gw_reason step_check_request(struct cx *x)
{
	return x->front == GW_RF_ACCEPTED ? GW_R_COUNT : refuse_front(x);
}

/* From here on the exchange is one of ours, with a message id: every
 * answer, refusals included, is logged before it goes out. */
static enum gw_reason step_identify(struct cx *x)
{
	const struct ndx_conf_service *svc;
	struct ndx_id member_id;

	_Static_assert(sizeof x->service == sizeof x->rq.service, "one id text size");
	memcpy(x->service, x->rq.service, sizeof x->service);
	ndx_id_parent(&x->rq.service_id, NDX_ID_MEMBER, &member_id);
	ndx_id_format(&member_id, x->member, sizeof x->member);
	x->msg_id = x->rq.hdr[GW_RF_ID];
	if (!x->msg_id || !x->msg_id[0]) {
		if (gw_uuid7(x->msg_id_made) != NDX_OK)
			return refuse(x, GW_R_INTERNAL, NULL, "no randomness for a message id");
		x->msg_id = x->msg_id_made;
	}
	x->identified = true;
	svc = ndx_conf_service_of(x->conf, x->service);
	if (!svc)
		return refuse(x, GW_R_UNKNOWN_SERVICE, x->service,
			      "%s is not in the global configuration", x->service);
	x->service_label = svc->id;
	x->personal = svc->personal;
	return GW_R_COUNT;
}

static enum gw_reason step_check_grant(struct cx *x)
{
	const char *rest = x->rq.rest;
	char what[512];

	x->grant_pattern = ndx_conf_grant_match(x->conf, x->client, x->service, x->req->method,
						rest);
	if (x->grant_pattern)
		return GW_R_COUNT;
	snprintf(what, sizeof what, "%s %s", x->req->method, rest[0] ? rest : "/");
	gw_redact_pins(what);
	return refuse(x, GW_R_NO_GRANT, what, "%s may not call %s", x->client, x->service);
}

/* The user headers of the client's request (userheaders.h); a request
 * without Accept gets the default of PR-REST 4.3, application/json, so
 * that the provider system sees what the client was promised. */
static enum gw_reason collect_user_headers(struct cx *x)
{
	const char *bad = NULL;
	bool accept = false;
	int rc = gw_uh_from_request(x->req, NULL, &x->user, &bad);

	if (rc == NDX_ETOOBIG)
		return refuse(x, GW_R_BAD_HEADER, NULL,
			      "the request carries more than %d headers or %d bytes of them to "
			      "pass on",
			      GW_UH_MAX_COUNT, GW_UH_MAX_BYTES);
	if (rc != NDX_OK)
		return refuse(x, GW_R_BAD_HEADER, bad,
			      rc == NDX_EINVAL ? "header %s is not a valid HTTP header"
					       : "cannot read header %s",
			      bad ? bad : "?");
	for (size_t i = 0; i < x->user.n; i++)
		accept |= strcasecmp(x->user.v[i].name, "Accept") == 0;
	if (!accept && gw_uh_add(&x->user, "Accept", 6, "application/json", 16) != NDX_OK)
		return refuse(x, GW_R_INTERNAL, NULL, "out of memory");
	x->user_names = gw_uh_names_in(&x->arena, &x->user);
	return GW_R_COUNT;
}

/* X-Road-Security-Server must name a gateway of the service's member in
 * the configuration (PR-REST 4.3): the exchange then goes to that gateway
 * alone. */
static enum gw_reason check_security_server(struct cx *x)
{
	const struct ndx_conf_gateway *gw;
	size_t i;

	if (!x->rq.security_server[0])
		return GW_R_COUNT;
	if (strcmp(x->rq.security_server_member, x->member) == 0)
		for (i = 0; (gw = ndx_conf_gateway_of(x->conf, x->member, i)); i++)
			if (strcmp(gw->code, x->rq.security_server_code) == 0)
				return GW_R_COUNT;
	return refuse(x, GW_R_UNKNOWN_SECURITY_SERVER, x->rq.security_server,
		      "X-Road-Security-Server %s is not a gateway of %s, the service's member",
		      x->rq.security_server, x->member);
}

static void sign_free(struct signing *sg)
{
	/* the headers' list stays in the exchange's arena until its end */
	free(sg->sig);
	free(sg->hash_b64);
	sg->hdrs = NULL;
	sg->sig = sg->hash_b64 = NULL;
}

/* peer.c's prepare hook: the request hash for the gateway gw about to be
 * tried, queued on the loop's signer (signed with the rest of the loop
 * turn's hashes, signed_for_gateway goes on). */
static int sign_for_gateway(struct gw_peer_call *call, const struct ndx_conf_gateway *gw,
			    void *ud)
{
	struct cx *x = ud;
	struct signing *sg = &x->sig;
	(void)call;

	sign_free(sg);
	if (gw_gateway_name(gw->member, gw->code, sg->gateway, sizeof sg->gateway) != NDX_OK)
		return -1;
	sg->hin.gateway = sg->gateway;
	/* A new nonce for each signing: a client's retry with the same
	 * X-Road-Id is another request, never a replay (docs/protocol.md). */
	if (gw_uuid(sg->nonce) != NDX_OK)
		return -1;
	sg->hin.nonce = sg->nonce;
	ndx_request_hash(&sg->hin, x->req_hash);
	x->has_req_hash = true;
	x->sign_job.key = x->g->cfg->sign_key;
	memcpy(x->sign_job.hash, x->req_hash, sizeof x->req_hash);
	gw_loop_sign(x->loop, &x->sign_job);
	return 0;
}

/* The signature is made: the headers for that gateway, and the call goes
 * on (peer.c). */
static void signed_for_gateway(struct gw_sign_job *job)
{
	struct cx *x = (struct cx *)((char *)job - offsetof(struct cx, sign_job));
	struct signing *sg = &x->sig;
	struct curl_slist **l = &sg->hdrs;
	struct gw_arena *a = &x->arena;
	const char *const *h = x->rq.hdr;

	sg->sig = job->sig;
	job->sig = NULL;
	sg->hash_b64 = ndx_b64_encode(x->req_hash, sizeof x->req_hash, 0);
	if (!sg->sig || !sg->hash_b64) {
		gw_peer_prepared(&x->call, false);
		return;
	}
	/* Empty values are not sent: absent and empty hash alike. Content-Type
	 * and Expect without a value stop curl from adding its own. */
	gw_slist_add_in(a, l, "X-Road-Client", x->rq.client_wire);
	gw_slist_add_in(a, l, "X-Road-Id", x->msg_id);
	add_if(a, l, "X-Road-UserId", h[GW_RF_USER_ID]);
	add_if(a, l, "X-Road-Issue", h[GW_RF_ISSUE]);
	add_if(a, l, "Ndx-Purpose", h[GW_RF_PURPOSE]);
	add_if(a, l, "Ndx-Subject", h[GW_RF_SUBJECT]);
	add_if(a, l, "Ndx-Consent", h[GW_RF_CONSENT]);
	add_if(a, l, "Ndx-Subject-Token", h[GW_RF_SUBJECT_TOKEN]);
	add_if(a, l, "X-Road-Represented-Party", x->rq.represented_party);
	gw_slist_add_in(a, l, "Ndx-Timestamp", x->ts);
	gw_slist_add_in(a, l, "Ndx-Nonce", sg->nonce);
	gw_slist_add_in(a, l, "Ndx-Gateway", sg->gateway);
	gw_slist_add_in(a, l, "Ndx-Signature", sg->sig);
	add_if(a, l, "Ndx-Headers", x->user_names);
	gw_slist_add_user_in(a, l, &x->user);
	gw_slist_add_in(a, l, "Content-Type",
			h[GW_RF_CONTENT_TYPE] && h[GW_RF_CONTENT_TYPE][0] ? h[GW_RF_CONTENT_TYPE]
									 : "");
	gw_slist_add_in(a, l, "Expect", "");
	x->call.headers = sg->hdrs;
	gw_peer_prepared(&x->call, true);
}

/* Everything the request hash covers but the provider gateway's name and
 * the nonce, which each signing adds (sign_for_gateway), and the call. */
static enum gw_reason step_prepare(struct cx *x)
{
	const struct ndx_http_req *req = x->req;
	struct ndx_request_hash_input *hin = &x->sig.hin;
	enum gw_reason r;

	ndx_time_format(x->now, x->ts);
	if ((r = collect_user_headers(x)) != GW_R_COUNT ||
	    (r = check_security_server(x)) != GW_R_COUNT)
		return r;
	hin->method = req->method;
	hin->service = x->service;
	hin->path = x->rq.rest;
	hin->query = req->query;
	hin->client = x->client;
	hin->message_id = x->msg_id;
	hin->user_id = x->rq.hdr[GW_RF_USER_ID];
	hin->issue = x->rq.hdr[GW_RF_ISSUE];
	hin->purpose = x->rq.hdr[GW_RF_PURPOSE];
	hin->subject = x->rq.hdr[GW_RF_SUBJECT];
	hin->consent = x->rq.hdr[GW_RF_CONSENT];
	hin->subject_token = x->rq.hdr[GW_RF_SUBJECT_TOKEN];
	hin->timestamp = x->ts;
	hin->content_type = x->rq.hdr[GW_RF_CONTENT_TYPE];
	hin->represented_party = x->rq.represented_party;
	gw_uh_hash(&x->user, hin->user_headers_sha256);
	ndx_sha256(req->body ? (const void *)req->body : "", req->body_len, hin->body_sha256);
	x->url_suffix = gw_arena_concat(&x->arena, "/r1/", x->rq.service_wire, x->rq.rest,
					req->query[0] ? "?" : "", req->query, NULL);
	x->call.conf = x->conf;
	x->call.only_code = x->rq.security_server[0] ? x->rq.security_server_code : NULL;
	x->call.member = x->member;
	x->call.method = req->method;
	x->call.url_suffix = x->url_suffix;
	x->call.body = req->body;
	x->call.body_len = req->body_len;
	x->call.cfg = x->g->cfg;
	x->call.s = x->v->s;
	x->call.prepare = sign_for_gateway;
	x->call.ud = x;
	x->sign_job.done = signed_for_gateway;
	return GW_R_COUNT;
}

/* How the call to the provider's gateways ended (peer.c). */
static enum gw_reason forward_result(struct cx *x, enum gw_xfer_result res)
{
	struct gw_xfer_resp *r = &x->answer;

	switch (res) {
	case GW_XFER_OK:
		return GW_R_COUNT;
	case GW_XFER_TIMEOUT:
		return refuse(x, GW_R_PROVIDER_TIMEOUT, r->errbuf,
			      "no answer from a gateway of %s in time", x->member);
	case GW_XFER_TOOBIG:
		return refuse(x, GW_R_RESPONSE_TOO_LARGE, NULL,
			      "the answer from %s exceeds %zu bytes", x->member, x->v->s->max_body);
	case GW_XFER_IDENTITY:
		return refuse(x, GW_R_PEER_IDENTITY, NULL,
			      "the TLS certificate of the answering gateway is not one of %s",
			      x->member);
	case GW_XFER_LOCAL:
		return refuse(x, GW_R_CANNOT_SIGN, NULL, "cannot sign the request");
	default:
		return refuse(x, GW_R_PROVIDER_UNREACHABLE, r->errbuf,
			      "cannot reach a gateway of %s", x->member);
	}
}

/* The answer is logged even when it does not verify: the record is the
 * evidence of what the provider gateway sent. */
static enum gw_reason step_verify(struct cx *x)
{
	const struct gw_xfer_resp *r = &x->answer;
	struct ndx_response_hash_input rin = { 0 };
	char err[512];

	/* Exactly the user headers the provider gateway signed and names in
	 * Ndx-Headers (none when it names none). */
	if (gw_uh_select(&r->user, r->hdr[GW_H_CONNECTION],
			 r->hdr[GW_H_NDX_HEADERS] ? r->hdr[GW_H_NDX_HEADERS] : "",
			 &x->answer_user) != NDX_OK)
		return refuse(x, GW_R_RESPONSE_TOO_LARGE, NULL,
			      "the answer of %s carries more headers than the gateway passes on",
			      x->member);
	gw_uh_hash(&x->answer_user, rin.user_headers_sha256);
	memcpy(rin.request_hash, x->req_hash, sizeof x->req_hash);
	rin.status = (int)r->status;
	rin.content_type = r->hdr[GW_H_CONTENT_TYPE];
	rin.location = r->hdr[GW_H_LOCATION];
	rin.subjects = r->hdr[GW_H_DATA_SUBJECTS];
	ndx_sha256(r->body ? r->body : "", r->len, rin.body_sha256);
	ndx_response_hash(&rin, x->resp_hash);
	x->has_resp_hash = true;
	x->resp_sig = r->hdr[GW_H_RESPONSE_SIG];
	x->subjects = r->hdr[GW_H_DATA_SUBJECTS];
	if (gw_verify_hash(x->call.gateway ? x->call.gateway->sign_key : NULL, x->resp_sig,
			   x->resp_hash, err, sizeof err) == NDX_OK)
		return GW_R_COUNT;
	/* The provider's HTTP server refuses an oversized body before any
	 * handler (and so any signer) runs. Its answer is not passed on, but
	 * the refusal it announces is the client's to know. */
	if (r->status == 413 && r->hdr[GW_H_XROAD_ERROR])
		return refuse(x, GW_R_BODY_TOO_LARGE, NULL,
			      "the provider gateway of %s accepts no request body this large",
			      x->member);
	if (r->hdr[GW_H_XROAD_ERROR]) {
		char detail[768];
		snprintf(detail, sizeof detail, "%s; the provider gateway answered %ld %.128s", err,
			 r->status, r->hdr[GW_H_XROAD_ERROR]);
		return refuse(x, GW_R_BAD_RESPONSE_SIGNATURE, detail,
			      "the response of %s does not carry a valid signature of its gateway",
			      x->member);
	}
	return refuse(x, GW_R_BAD_RESPONSE_SIGNATURE, err,
		      "the response of %s does not carry a valid signature of its gateway",
		      x->member);
}

/* The verified answer becomes the client's; a refusal of the provider
 * gateway is passed on as it came (its X-Road-Error included). */
static enum gw_reason step_pass(struct cx *x)
{
	const struct gw_xfer_resp *r = &x->answer;

	/* An answer without Content-Type goes on without one (PR-REST 4.3). */
	ndx_http_resp_bytes(x->resp, (int)r->status,
			    r->hdr[GW_H_CONTENT_TYPE] ? r->hdr[GW_H_CONTENT_TYPE] : "",
			    r->body ? r->body : "", r->len);
	x->passed = true;
	if (r->hdr[GW_H_XROAD_ERROR]) {
		x->err_type = r->hdr[GW_H_XROAD_ERROR];
		gw_metrics_relayed_error(x->err_type);
	}
	return GW_R_COUNT;
}

static const struct step {
	const char *name;
	enum gw_reason (*run)(struct cx *x);
} steps[] = {
	{ "parse", step_parse },
	{ "check_gateway", step_check_gateway },
	{ "check_client", step_check_client },
	{ "check_request", step_check_request },
	{ "identify", step_identify },
	{ "check_grant", step_check_grant },
	{ "prepare", step_prepare },
	/* then, on an exchange loop: forward (step_forward, forwarded),
	 * verify, pass */
};

/* ---- after the steps ---------------------------------------------------- */

static void render_refusal(struct cx *x)
{
	x->err_type = gw_refusal_body(x->resp, x->req, x->refusal.reason, GW_SIDE_CONSUMER,
				      x->refusal.specifics, "%s", x->refusal.message);
	x->passed = false;
}

static void complete(struct cx *x, bool logged);

static void logged(void *ud, int rc)
{
	struct cx *x = ud;

	if (rc != NDX_OK) {
		/* The provider may have served it, but this gateway cannot prove
		 * it did. */
		gw_refusal(x->resp, x->req, GW_R_LOG_UNAVAILABLE, GW_SIDE_CONSUMER, NULL,
			   "the gateway cannot write its message log; the exchange is not "
			   "answered");
		x->err_type = NULL; /* gw_refusal set the header */
		x->passed = false;
	}
	complete(x, rc == NDX_OK);
}

/* After the steps: an identified exchange's record goes to the message log
 * and the answer waits until it is durable (logged, on the log's writer
 * thread); one that never got so far is answered at once. */
static void log_exchange(struct cx *x)
{
	struct ndx_msglog_record *rec = &x->rec;
	const char *ct;
	const void *body;
	size_t len;
	int status = 500;

	if (!x->identified) {
		complete(x, true);
		return;
	}
	if (ndx_http_resp_view(x->resp, &status, &ct, &body, &len) != NDX_OK)
		status = 500;
	x->log_path = gw_log_path_in(&x->arena, x->rq.rest, x->req->query);
	rec->direction = NDX_MSGLOG_CONSUMER;
	rec->message_id = x->msg_id;
	rec->client = x->client;
	rec->service = x->service;
	rec->method = x->req->method;
	rec->path = x->log_path;
	rec->subject = x->rq.hdr[GW_RF_SUBJECT];
	rec->subjects = x->subjects;
	rec->purpose = x->rq.hdr[GW_RF_PURPOSE];
	rec->user_id = x->rq.hdr[GW_RF_USER_ID];
	rec->issue = x->rq.hdr[GW_RF_ISSUE];
	rec->represented_party = x->rq.represented_party;
	rec->request_hash = x->has_req_hash ? x->req_hash : NULL;
	rec->response_hash = x->has_resp_hash ? x->resp_hash : NULL;
	rec->status = status;
	rec->duration_ms = gw_elapsed_ms(&x->t0);
	rec->request_sig = x->has_req_hash ? x->sig.sig : NULL;
	rec->response_sig = x->resp_sig;
	if (!x->pending)
		x->pending = ndx_http_defer(x->req);
	gw_log_append_exchange(x->g->log, rec, logged, x);
}

/* The headers of the answer, once its record is durable. */
static void answer(struct cx *x, bool logged)
{
	const struct gw_xfer_resp *r = &x->answer;
	struct ndx_http_resp *resp = x->resp;

	if (logged && x->err_type)
		ndx_http_resp_header(resp, "X-Road-Error", x->err_type);
	if (!logged || x->passed) {
		ndx_http_resp_header(resp, "X-Road-Client", x->client);
		ndx_http_resp_header(resp, "X-Road-Service", x->service);
		ndx_http_resp_header(resp, "X-Road-Id", x->msg_id);
	}
	if (!logged || !x->passed)
		return;
	if (r->hdr[GW_H_LOCATION])
		ndx_http_resp_header(resp, "Location", r->hdr[GW_H_LOCATION]);
	if (r->hdr[GW_H_REQUEST_ID])
		ndx_http_resp_header(resp, "X-Road-Request-Id", r->hdr[GW_H_REQUEST_ID]);
	ndx_http_resp_header(resp, "X-Road-Request-Hash", x->sig.hash_b64);
	/* What this gateway added to the signed request, so that the client can
	 * recompute its hash (docs/protocol.md "Canonical hashes"). */
	ndx_http_resp_header(resp, "Ndx-Timestamp", x->ts);
	ndx_http_resp_header(resp, "Ndx-Nonce", x->sig.nonce);
	ndx_http_resp_header(resp, "Ndx-Response-Signature", x->resp_sig);
	if (x->subjects && x->subjects[0])
		ndx_http_resp_header(resp, "Ndx-Data-Subjects", x->subjects);
	for (size_t i = 0; i < x->answer_user.n; i++)
		ndx_http_resp_header(resp, x->answer_user.v[i].name, x->answer_user.v[i].value);
}

/* The exchange's arena, and the lists that take from it. */
static void cx_arena_init(struct cx *x)
{
	gw_arena_init(&x->arena);
	x->user.arena = x->answer_user.arena = &x->arena;
	gw_xfer_resp_use_arena(&x->answer, &x->arena);
}

static void cx_free(struct cx *x)
{
	free(x->call.url);
	gw_xfer_resp_free(&x->answer); /* its body */
	sign_free(&x->sig);
	gw_view_release(&x->view);
	gw_arena_clear(&x->arena); /* the rest */
	free(x);
}

/* The exchange's operational monitoring record (opmon.h): copied into the
 * store's queue, nothing written here. Nothing personal: the path as its
 * grant's pattern or with its digits' segments replaced, no query, no
 * subject, no user id. */
static void record_opmon(struct cx *x, bool logged)
{
	struct gw_opmon_in in = { 0 };
	char path[GW_OPMON_PATH_CAP], client[GW_OPMON_ID_CAP];
	char sgw[NDX_ID_TEXT_MAX + 64];
	const char *ct;
	const void *body;
	size_t len = 0;
	int status = 0;

	if (!x->g->opmon)
		return;
	if (ndx_http_resp_view(x->resp, &status, &ct, &body, &len) != NDX_OK)
		status = 0;
	in.role = GW_OPMON_CONSUMER;
	in.method = x->req->method;
	if (x->identified) {
		in.message_id = x->msg_id;
		in.client = x->client;
		in.service = x->service;
		gw_opmon_path_template(x->grant_pattern, x->rq.rest, path, sizeof path);
		in.path_template = path;
		in.purpose = x->rq.hdr[GW_RF_PURPOSE];
	} else if (x->client[0]) {
		/* a well-formed id, but not necessarily one of the configuration's */
		size_t n = strnlen(x->client, sizeof client - 1);

		memcpy(client, x->client, n);
		client[n] = '\0';
		gw_redact_pins(client);
		in.client = client;
	}
	in.client_gateway = x->g->name;
	if (x->call.gateway && gw_gateway_name(x->call.gateway->member, x->call.gateway->code, sgw,
					       sizeof sgw) == NDX_OK)
		in.service_gateway = sgw;
	in.request_in = x->t_in;
	in.request_out = x->t_out ? x->t_out : GW_OPMON_NONE;
	in.response_in = x->t_resp_in ? x->t_resp_in : GW_OPMON_NONE;
	in.response_out = gw_opmon_now_ms();
	in.request_size = (int64_t)x->req->body_len;
	in.response_size = (int64_t)len;
	in.success = logged && x->passed && !x->err_type;
	in.error_type = x->err_type ? x->err_type
			: !logged   ? gw_reason_type(GW_R_LOG_UNAVAILABLE, GW_SIDE_CONSUMER)
				    : NULL;
	in.status = status;
	/* The provider gateway's backend time is in its own record (same
	 * message_id): it is not in the signed answer, so not trusted here. */
	in.peer_ms = x->t_out && x->t_resp_in ? x->t_resp_in - x->t_out : GW_OPMON_NONE;
	in.provider_ms = GW_OPMON_NONE;
	in.personal = x->personal;
	gw_opmon_record(x->g->opmon, &in);
}

/* The end of every exchange, on whichever thread it ends: the answer's
 * headers, the metrics, and the answer goes out. */
static void complete(struct cx *x, bool logged)
{
	struct ndx_http_pending *pending = x->pending;

	answer(x, logged);
	record_opmon(x, logged);
	gw_metrics_end_answer(GW_ROLE_CONSUMER, x->service_label, x->resp, &x->t0);
	cx_free(x);
	if (pending)
		ndx_http_resume(pending);
}

static void after_steps(struct cx *x)
{
	if (x->refusal.reason != GW_R_COUNT)
		render_refusal(x);
	log_exchange(x);
}

/* On the loop: the answer of the provider's gateway, verified, becomes the
 * client's. */
static void forwarded(struct gw_peer_call *call, enum gw_xfer_result res)
{
	struct cx *x = call->ud;

	x->t_resp_in = gw_opmon_now_ms();
	if (forward_result(x, res) == GW_R_COUNT && step_verify(x) == GW_R_COUNT)
		step_pass(x);
	after_steps(x);
}

/* On the loop the exchange was handed to: sign for the first of the
 * member's gateways and send (peer.c), forwarded goes on. */
static void step_forward(void *arg)
{
	struct cx *x = arg;

	x->call.loop = x->loop;
	x->call.done = forwarded;
	x->t_out = gw_opmon_now_ms();
	gw_peer_start(&x->call, &x->answer);
}

/* One exchange: the checks on the port's thread; then, unless one
 * refused, forward and verify on an exchange loop; the log; the answer. */
static void exchange(struct gw_ctx *g, const struct ndx_http_req *req,
		     struct ndx_http_resp *resp, struct timespec t0, bool tls)
{
	struct cx *x = calloc(1, sizeof *x);

	if (!x) {
		gw_refusal(resp, req, GW_R_INTERNAL, GW_SIDE_CONSUMER, NULL, "out of memory");
		gw_metrics_end(GW_ROLE_CONSUMER, NULL, 500, 0);
		return;
	}
	x->g = g;
	cx_arena_init(x);
	gw_state_acquire(g->state, &x->view);
	x->v = &x->view;
	x->req = req;
	x->resp = resp;
	x->t0 = t0;
	x->t_in = gw_opmon_now_ms();
	x->tls = tls;
	x->now = time(NULL);
	x->refusal.reason = GW_R_COUNT;
	for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++)
		if (steps[i].run(x) != GW_R_COUNT) {
			after_steps(x);
			return;
		}
	x->pending = ndx_http_defer(req);
	x->loop = gw_loops_next(g->loops);
	x->task.fn = step_forward;
	x->task.arg = x;
	if (gw_loop_post(x->loop, &x->task) != NDX_OK) {
		refuse(x, GW_R_INTERNAL, NULL, "the gateway is stopping");
		after_steps(x);
	}
}

/* The client's information system connected the way the gateway's
 * configuration asks for it (docs/gateway.md "Information systems"): over
 * the TLS consumer port, and with one of its registered client
 * certificates, where it must. Any local process can reach the plain port;
 * this is what keeps it from speaking as a subsystem that holds more
 * rights. */
enum gw_reason gw_client_connection(const struct gw_settings *s, const char *client,
				    const struct ndx_http_req *req, bool tls)
{
	const struct gw_client_auth *a = gw_settings_client_auth(s, client);
	char fp[2 * NDX_SHA256_LEN + 1];

	if (!a || a->conn == GW_CONN_HTTP)
		return GW_R_COUNT;
	if (!tls)
		return GW_R_AUTHENTICATION_REQUIRED;
	if (a->conn == GW_CONN_TLS)
		return GW_R_COUNT;
	if (ndx_http_client_cert(req, fp) == NDX_OK)
		for (size_t i = 0; i < a->ncerts; i++)
			if (strcmp(a->certs[i], fp) == 0)
				return GW_R_COUNT;
	return GW_R_AUTHENTICATION_FAILED;
}

static void consumer_serve(void *ctx, const struct ndx_http_req *req, struct ndx_http_resp *resp,
			   bool tls);

void gw_consumer_handle(void *ctx, const struct ndx_http_req *req, struct ndx_http_resp *resp)
{
	consumer_serve(ctx, req, resp, false);
}

void gw_consumer_tls_handle(void *ctx, const struct ndx_http_req *req,
			    struct ndx_http_resp *resp)
{
	consumer_serve(ctx, req, resp, true);
}

static void consumer_serve(void *ctx, const struct ndx_http_req *req, struct ndx_http_resp *resp,
			   bool tls)
{
	struct gw_ctx *g = ctx;
	struct gw_view v;
	struct timespec t0;

	gw_state_acquire(g->state, &v);
	if (strcmp(req->path, "/healthz") == 0) {
		gw_healthz(g, &v, resp);
		goto out;
	}
	if (strcmp(req->path, "/metrics") == 0) {
		char *text, *events;
		struct ndx_buf b;

		if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
			ndx_http_resp_header(resp, "Allow", "GET, HEAD");
			gw_refusal(resp, req, GW_R_BAD_METHOD, GW_SIDE_CONSUMER, req->method,
				   "/metrics answers GET only");
			goto out;
		}
		text = gw_metrics_render(&v, g->log, time(NULL));
		events = gw_events_metrics(g->events);
		ndx_buf_init(&b, NDX_BUF_NO_CAP);
		if (text && events && ndx_buf_append_str(&b, text) == NDX_OK &&
		    ndx_buf_append_str(&b, events) == NDX_OK)
			ndx_http_resp_bytes(resp, 200, NDX_PROM_CONTENT_TYPE, ndx_buf_str(&b), b.len);
		else
			gw_refusal(resp, req, GW_R_INTERNAL, GW_SIDE_CONSUMER, NULL,
				   "out of memory");
		ndx_buf_free(&b);
		free(text);
		free(events);
		goto out;
	}
	if (strcmp(req->path, "/admin/log/head") == 0) {
		if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0)
			gw_refusal(resp, req, GW_R_BAD_METHOD, GW_SIDE_CONSUMER, req->method,
				   "/admin/log/head answers GET only");
		else
			gw_log_head(g->log, g->cfg, resp);
		goto out;
	}
	if (gw_metaservice(g, &v, req, resp, tls) || gw_connector_local(g, &v, req, resp, tls))
		goto out;
	if (strncmp(req->path, "/e1/", 4) == 0) {
		gw_events_consumer(g, req, resp, tls);
		goto out;
	}
	if (strncmp(req->path, "/o1/", 4) == 0) {
		gw_opmon_consumer(g, req, resp, tls);
		goto out;
	}
	if (strncmp(req->path, "/r1/", 4) != 0) {
		gw_refusal(resp, req, GW_R_NOT_EXCHANGE, GW_SIDE_CONSUMER, req->path,
			   "unknown path: expected /r1/{serviceId}[/path]");
		goto out;
	}
	if (gw_maintenance_on(g->maint)) {
		/* Exchanges already taken finish; a new one is refused at once. */
		gw_refusal(resp, req, GW_R_MAINTENANCE, GW_SIDE_CONSUMER, NULL,
			   "the gateway is in maintenance and takes no new exchange; retry later");
		goto out;
	}
	gw_view_release(&v);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	gw_metrics_begin();
	/* Answers now or defers: req and resp are not touched after it. */
	exchange(g, req, resp, t0, tls);
	return;
out:
	gw_view_release(&v);
}
