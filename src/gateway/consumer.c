/* The consumer port (docs/protocol.md "Consumer API"): an information system
 * of this member calls /r1/{serviceId}[/path][?query] with X-Road-Client; the
 * gateway checks the client, the service and the grant against the held
 * global configuration, computes and signs the canonical request hash, sends
 * the request over mutual TLS to a gateway of the service's member, verifies
 * the response signature with that gateway's key, writes the exchange's
 * record to the message log (refusals too, once the client is its own and
 * the service id parses) and answers only when that record is durable. The
 * port also serves /healthz, /metrics, /admin/log/head and the
 * metaservices. Every refusal is an X-Road style error. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway.h"
#include "personal.h"
#include "replay.h"
#include "reqfront.h"
#include "subjects.h"
#include "gw_witness.h"
#include "ndx/encode.h"
#include "ndx/err.h"
#include "ndx/timefmt.h"

_Static_assert(GW_HEADER_MAX == GW_RF_HEADER_MAX, "one header cap for both (reqfront.h)");

const char *gw_header(const struct ndx_http_req *req, const char *name, bool *ok)
{
	size_t len = 0;
	const char *v = ndx_http_header_n(req, name, &len);

	*ok = !v || gw_rf_value_ok(v, len);
	return v;
}

static int add_if(struct curl_slist **l, const char *name, const char *v)
{
	return v && v[0] ? gw_slist_add(l, name, v) : NDX_OK;
}

/* One exchange on the consumer port. Its answer is rendered into resp
 * without headers; finish() logs it and only then adds them. */
struct cx {
	struct gw_ctx *g;
	const struct ndx_http_req *req;
	struct ndx_http_resp *resp;
	struct timespec t0;
	bool tls;                 /* it came over the TLS consumer port */
	const char *err_type;     /* the refusal (ours or the provider's), NULL = none */
	bool identified;          /* own client and a service id: the exchange is logged */
	bool passed;              /* the provider's verified answer is in resp */
	const char *msg_id, *purpose, *subject;
	const char *user_id, *issue, *rest, *query;
	const char *represented_party; /* canonical, "" when none */
	const char *subjects;     /* the provider's signed Ndx-Data-Subjects, NULL = none */
	char client[NDX_ID_TEXT_MAX], service[NDX_ID_TEXT_MAX];
	bool has_req_hash, has_resp_hash;
	uint8_t req_hash[NDX_SHA256_LEN], resp_hash[NDX_SHA256_LEN];
	const char *req_sig, *resp_sig;
};

static void decline(struct cx *x, enum gw_reason r, const char *specifics, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void decline(struct cx *x, enum gw_reason r, const char *specifics, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	x->err_type = gw_refusal_body(x->resp, x->req, r, GW_SIDE_CONSUMER, specifics, "%s", msg);
	x->passed = false;
}

/* The reason of a refusal of reqfront.c. */
static enum gw_reason front_reason(enum gw_rf_result front)
{
	switch (front) {
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

/* Writes the record of an identified exchange and returns true once it is
 * durable; otherwise the answer becomes a LogUnavailable refusal (the
 * provider may have served it, but this gateway cannot prove it did) and
 * false is returned. */
static bool finish_log(struct cx *x)
{
	struct ndx_msglog_record rec = { 0 };
	const char *ct;
	const void *body;
	size_t len;
	int status = 500, rc;
	char *path;

	if (!x->identified)
		return true;
	if (ndx_http_resp_view(x->resp, &status, &ct, &body, &len) != NDX_OK)
		status = 500;
	path = gw_log_path(x->rest, x->query);
	rec.direction = NDX_MSGLOG_CONSUMER;
	rec.message_id = x->msg_id;
	rec.client = x->client;
	rec.service = x->service;
	rec.method = x->req->method;
	rec.path = path;
	rec.subject = x->subject;
	rec.subjects = x->subjects;
	rec.purpose = x->purpose;
	rec.user_id = x->user_id;
	rec.issue = x->issue;
	rec.represented_party = x->represented_party;
	rec.request_hash = x->has_req_hash ? x->req_hash : NULL;
	rec.response_hash = x->has_resp_hash ? x->resp_hash : NULL;
	rec.status = status;
	rec.duration_ms = gw_elapsed_ms(&x->t0);
	rec.request_sig = x->req_sig;
	rec.response_sig = x->resp_sig;
	rc = path ? gw_log_append(x->g->log, &rec) : NDX_ENOMEM;
	free(path);
	if (rc == NDX_OK)
		return true;
	gw_refusal(x->resp, x->req, GW_R_LOG_UNAVAILABLE, GW_SIDE_CONSUMER, NULL,
		   "the gateway cannot write its message log; the exchange is not answered");
	x->err_type = NULL; /* gw_refusal set the header */
	x->passed = false;
	return false;
}


/* The request as signed for one provider gateway: its hash covers the
 * gateway's name, so each gateway tried gets its own signature and its own
 * header list (peer.c calls sign_for_gateway before each). */
struct sign_for {
	struct cx *x;
	const struct gw_rf_request *rq;
	const char *ts;
	const struct gw_uh_list *user;  /* the user headers, signed and sent as they came */
	const char *user_names;         /* their names, for Ndx-Headers */
	char nonce[GW_UUID_LEN];
	struct ndx_request_hash_input hin;
	char gateway[NDX_ID_TEXT_MAX + 64];
	char *sig, *hash_b64;
	struct curl_slist *hdrs;
};

static void sign_for_free(struct sign_for *sf)
{
	curl_slist_free_all(sf->hdrs);
	free(sf->sig);
	free(sf->hash_b64);
	sf->hdrs = NULL;
	sf->sig = sf->hash_b64 = NULL;
	if (sf->x)
		sf->x->req_sig = NULL;
}

static int sign_for_gateway(struct gw_peer_call *call, const json_t *gw, void *ud)
{
	struct sign_for *sf = ud;
	struct cx *x = sf->x;
	const char *const *h = sf->rq->hdr;

	sign_for_free(sf);
	if (gw_gateway_name(json_string_value(json_object_get(gw, "member")),
			    json_string_value(json_object_get(gw, "code")), sf->gateway,
			    sizeof sf->gateway) != NDX_OK)
		return -1;
	sf->hin.gateway = sf->gateway;
	/* A new nonce for each signing: a client's retry with the same
	 * X-Road-Id is another request, never a replay (docs/protocol.md). */
	if (gw_uuid(sf->nonce) != NDX_OK)
		return -1;
	sf->hin.nonce = sf->nonce;
	ndx_request_hash(&sf->hin, x->req_hash);
	x->has_req_hash = true;
	sf->sig = gw_sign_hash(x->g->cfg, x->req_hash);
	x->req_sig = sf->sig;
	sf->hash_b64 = ndx_b64_encode(x->req_hash, sizeof x->req_hash, 0);
	if (!sf->sig || !sf->hash_b64)
		return -1;
	/* Empty values are not sent: absent and empty hash alike. Content-Type
	 * and Expect without a value stop curl from adding its own. */
	if (gw_slist_add(&sf->hdrs, "X-Road-Client", sf->rq->client_wire) ||
	    gw_slist_add(&sf->hdrs, "X-Road-Id", x->msg_id) ||
	    add_if(&sf->hdrs, "X-Road-UserId", h[GW_RF_USER_ID]) ||
	    add_if(&sf->hdrs, "X-Road-Issue", h[GW_RF_ISSUE]) ||
	    add_if(&sf->hdrs, "Ndx-Purpose", h[GW_RF_PURPOSE]) ||
	    add_if(&sf->hdrs, "Ndx-Subject", h[GW_RF_SUBJECT]) ||
	    add_if(&sf->hdrs, "Ndx-Consent", h[GW_RF_CONSENT]) ||
	    add_if(&sf->hdrs, "Ndx-Subject-Token", h[GW_RF_SUBJECT_TOKEN]) ||
	    add_if(&sf->hdrs, "X-Road-Represented-Party", sf->rq->represented_party) ||
	    gw_slist_add(&sf->hdrs, "Ndx-Timestamp", sf->ts) ||
	    gw_slist_add(&sf->hdrs, "Ndx-Nonce", sf->nonce) ||
	    gw_slist_add(&sf->hdrs, "Ndx-Gateway", sf->gateway) ||
	    gw_slist_add(&sf->hdrs, "Ndx-Signature", sf->sig) ||
	    add_if(&sf->hdrs, "Ndx-Headers", sf->user_names) ||
	    gw_slist_add_user(&sf->hdrs, sf->user) ||
	    gw_slist_add(&sf->hdrs, "Content-Type",
			 h[GW_RF_CONTENT_TYPE] && h[GW_RF_CONTENT_TYPE][0] ? h[GW_RF_CONTENT_TYPE]
									: "") ||
	    gw_slist_add(&sf->hdrs, "Expect", ""))
		return -1;
	call->headers = sf->hdrs;
	return 0;
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

/* gw_client_connection for the exchange; returns true to go on. */
static bool consumer_client_authenticated(struct cx *x, const struct gw_settings *s)
{
	enum gw_reason r = gw_client_connection(s, x->client, x->req, x->tls);

	if (r == GW_R_AUTHENTICATION_REQUIRED)
		decline(x, r, x->client, "%s may use this gateway only over its TLS consumer port%s",
			x->client,
			gw_settings_client_auth(s, x->client)->conn == GW_CONN_TLS_CERT
				? ", with its client certificate"
				: "");
	else if (r == GW_R_AUTHENTICATION_FAILED)
		decline(x, r, x->client, "%s must present one of its registered client certificates",
			x->client);
	return r == GW_R_COUNT;
}

/* The user headers of the client's request (userheaders.h) into *out and
 * their names into *names; a request without Accept gets the default of
 * PR-REST 4.3, application/json, so that the provider system sees what the
 * client was promised. Returns true to go on. */
static bool user_headers_of(struct cx *x, struct gw_uh_list *out, char **names)
{
	const char *bad = NULL;
	bool accept = false;
	int rc = gw_uh_from_request(x->req, NULL, out, &bad);

	if (rc == NDX_ETOOBIG) {
		decline(x, GW_R_BAD_HEADER, NULL,
			"the request carries more than %d headers or %d bytes of them to pass on",
			GW_UH_MAX_COUNT, GW_UH_MAX_BYTES);
		return false;
	}
	if (rc != NDX_OK) {
		decline(x, GW_R_BAD_HEADER, bad,
			rc == NDX_EINVAL ? "header %s is not a valid HTTP header"
					 : "cannot read header %s",
			bad ? bad : "?");
		return false;
	}
	for (size_t i = 0; i < out->n; i++)
		accept |= strcasecmp(out->v[i].name, "Accept") == 0;
	if (!accept && gw_uh_add(out, "Accept", 6, "application/json", 16) != NDX_OK) {
		decline(x, GW_R_INTERNAL, NULL, "out of memory");
		return false;
	}
	if (!(*names = gw_uh_names(out))) {
		decline(x, GW_R_INTERNAL, NULL, "out of memory");
		return false;
	}
	return true;
}

/* The service's member id into out; returns out. */
static const char *member_of_service(const struct gw_rf_request *rq, char *out, size_t cap)
{
	struct ndx_id member_id;

	ndx_id_parent(&rq->service_id, NDX_ID_MEMBER, &member_id);
	ndx_id_format(&member_id, out, cap);
	return out;
}

/* X-Road-Security-Server must name a gateway of the service's member in
 * the configuration (PR-REST 4.3): the exchange then goes to that gateway
 * alone. Returns true to go on. */
static bool security_server_of(struct cx *x, const struct ndx_conf *conf,
			       const struct gw_rf_request *rq, const char *member)
{
	const json_t *gws, *gw;
	size_t i;

	if (strcmp(rq->security_server_member, member) == 0) {
		gws = ndx_conf_gateways_of(conf, member);
		json_array_foreach(gws, i, gw) {
			const char *code = json_string_value(json_object_get(gw, "code"));
			if (code && strcmp(code, rq->security_server_code) == 0)
				return true;
		}
	}
	decline(x, GW_R_UNKNOWN_SECURITY_SERVER, rq->security_server,
		"X-Road-Security-Server %s is not a gateway of %s, the service's member",
		rq->security_server, member);
	return false;
}

static void exchange(struct cx *x, const struct gw_view *v, const char **service_label)
{
	struct gw_ctx *g = x->g;
	const struct ndx_http_req *req = x->req;
	struct ndx_http_resp *resp = x->resp;
	const struct ndx_conf *conf = v->c ? v->c->conf : NULL;
	struct gw_rf_input in;
	struct gw_rf_request rq;
	struct gw_rf_refusal ref;
	enum gw_rf_result front;
	char member[NDX_ID_TEXT_MAX], uuid[GW_UUID_LEN], ts[NDX_TIME_TEXT_LEN], err[512],
		*suffix = NULL;
	const char *rest;
	const json_t *svc_obj;
	struct sign_for sf = { 0 };
	struct gw_xfer_resp r = { 0 };
	struct gw_peer_call call = { 0 };
	struct gw_uh_list user = { 0 }, answer_user = { 0 };
	char *user_names = NULL;
	uint8_t answer_user_sha[NDX_SHA256_LEN];
	enum gw_xfer_result res;
	size_t n;
	time_t now = time(NULL);

	/* The pure part of the checks (reqfront.c) is made at once; its
	 * refusals are answered in their place among the configuration
	 * checks, whose order the answers have always followed. */
	gw_rf_input_of(req, &in);
	front = gw_reqfront_parse(&in, GW_RF_CONSUMER, &rq, &ref);
	if (front == GW_RF_NOT_EXCHANGE || front == GW_RF_BAD_HEADER) {
		decline(x, front_reason(front), ref.detail, "%s", ref.message);
		goto done;
	}
	if (!gw_view_live(v, now)) {
		decline(x, GW_R_NO_CONFIGURATION, NULL,
			"the gateway holds no valid global configuration");
		goto done;
	}
	{
		char why[512];

		if (gw_witness_overdue(x->g->witness, why, sizeof why)) {
			decline(x, GW_R_WITNESS_UNAVAILABLE, NULL, "%s", why);
			goto done;
		}
	}
	if (front == GW_RF_BAD_CLIENT) {
		decline(x, front_reason(front), ref.detail, "%s", ref.message);
		goto done;
	}
	snprintf(x->client, sizeof x->client, "%s", rq.client);
	if (!gw_settings_has_subsystem(v->s, x->client) || !ndx_conf_client(conf, x->client)) {
		decline(x, GW_R_UNKNOWN_CLIENT, x->client,
			"%s is not a client (member or subsystem) that may use this gateway",
			x->client);
		goto done;
	}
	if (!consumer_client_authenticated(x, v->s))
		goto done;
	if (front != GW_RF_ACCEPTED) {
		decline(x, front_reason(front), ref.detail, "%s", ref.message);
		goto done;
	}
	rest = rq.rest;
	snprintf(x->service, sizeof x->service, "%s", rq.service);
	/* From here on the exchange is one of ours, with a message id: every
	 * answer, refusals included, is logged before it goes out. */
	x->msg_id = rq.hdr[GW_RF_ID];
	if (!x->msg_id || !x->msg_id[0]) {
		if (gw_uuid(uuid) != NDX_OK) {
			decline(x, GW_R_INTERNAL, NULL, "no randomness for a message id");
			goto done;
		}
		x->msg_id = uuid;
	}
	x->purpose = rq.hdr[GW_RF_PURPOSE];
	x->subject = rq.hdr[GW_RF_SUBJECT];
	x->user_id = rq.hdr[GW_RF_USER_ID];
	x->issue = rq.hdr[GW_RF_ISSUE];
	x->represented_party = rq.represented_party;
	x->rest = rest;
	x->query = req->query;
	x->identified = true;
	svc_obj = ndx_conf_service(conf, x->service);
	if (!svc_obj) {
		decline(x, GW_R_UNKNOWN_SERVICE, x->service,
			"%s is not in the global configuration", x->service);
		goto done;
	}
	*service_label = json_string_value(json_object_get(svc_obj, "id"));
	if (!ndx_conf_grant_allows(conf, x->client, x->service, req->method, rest)) {
		snprintf(err, sizeof err, "%s %s", req->method, rest[0] ? rest : "/");
		gw_redact_pins(err);
		decline(x, GW_R_NO_GRANT, err, "%s may not call %s", x->client, x->service);
		goto done;
	}
	ndx_time_format(now, ts);
	if (!user_headers_of(x, &user, &user_names))
		goto done;
	member_of_service(&rq, member, sizeof member);
	if (rq.security_server[0] && !security_server_of(x, conf, &rq, member))
		goto done;

	memset(&sf, 0, sizeof sf);
	sf.x = x;
	sf.rq = &rq;
	sf.ts = ts;
	sf.user = &user;
	sf.user_names = user_names;
	sf.hin.method = req->method;
	sf.hin.service = x->service;
	sf.hin.path = rest;
	sf.hin.query = req->query;
	sf.hin.client = x->client;
	sf.hin.message_id = x->msg_id;
	sf.hin.user_id = rq.hdr[GW_RF_USER_ID];
	sf.hin.issue = rq.hdr[GW_RF_ISSUE];
	sf.hin.purpose = rq.hdr[GW_RF_PURPOSE];
	sf.hin.subject = rq.hdr[GW_RF_SUBJECT];
	sf.hin.consent = rq.hdr[GW_RF_CONSENT];
	sf.hin.subject_token = rq.hdr[GW_RF_SUBJECT_TOKEN];
	sf.hin.timestamp = ts;
	sf.hin.content_type = rq.hdr[GW_RF_CONTENT_TYPE];
	sf.hin.represented_party = rq.represented_party;
	gw_uh_hash(&user, sf.hin.user_headers_sha256);
	ndx_sha256(req->body ? (const void *)req->body : "", req->body_len, sf.hin.body_sha256);
	n = 4 + strlen(rq.service_wire) + strlen(rest) + strlen(req->query) + 2;
	suffix = malloc(n);
	if (!suffix) {
		decline(x, GW_R_INTERNAL, NULL, "cannot build the request");
		goto done;
	}
	snprintf(suffix, n, "/r1/%s%s%s%s", rq.service_wire, rest, req->query[0] ? "?" : "",
		 req->query);
	call.conf = conf;
	call.only_code = rq.security_server[0] ? rq.security_server_code : NULL;
	call.member = member;
	call.method = req->method;
	call.url_suffix = suffix;
	call.body = req->body;
	call.body_len = req->body_len;
	call.cfg = g->cfg;
	call.s = v->s;
	call.prepare = sign_for_gateway;
	call.ud = &sf;
	res = gw_peer_send(&call, &r);
	switch (res) {
	case GW_XFER_OK:
		break;
	case GW_XFER_TIMEOUT:
		decline(x, GW_R_PROVIDER_TIMEOUT, r.errbuf,
			"no answer from a gateway of %s in time", member);
		goto done;
	case GW_XFER_TOOBIG:
		decline(x, GW_R_RESPONSE_TOO_LARGE, NULL,
			"the answer from %s exceeds %zu bytes", member, v->s->max_body);
		goto done;
	case GW_XFER_IDENTITY:
		decline(x, GW_R_PEER_IDENTITY, NULL,
			"the TLS certificate of the answering gateway is not one of %s", member);
		goto done;
	case GW_XFER_LOCAL:
		decline(x, GW_R_CANNOT_SIGN, NULL, "cannot sign the request");
		goto done;
	default:
		decline(x, GW_R_PROVIDER_UNREACHABLE, r.errbuf,
			"cannot reach a gateway of %s", member);
		goto done;
	}

	/* Exactly the user headers the provider gateway signed and names in
	 * Ndx-Headers (none when it names none). */
	if (gw_uh_select(&r.user, r.hdr[GW_H_CONNECTION],
			 r.hdr[GW_H_NDX_HEADERS] ? r.hdr[GW_H_NDX_HEADERS] : "",
			 &answer_user) != NDX_OK) {
		decline(x, GW_R_RESPONSE_TOO_LARGE, NULL,
			"the answer of %s carries more headers than the gateway passes on", member);
		goto done;
	}
	gw_uh_hash(&answer_user, answer_user_sha);
	{
		struct ndx_response_hash_input rin = { 0 };
		memcpy(rin.user_headers_sha256, answer_user_sha, sizeof answer_user_sha);
		memcpy(rin.request_hash, x->req_hash, sizeof x->req_hash);
		rin.status = (int)r.status;
		rin.content_type = r.hdr[GW_H_CONTENT_TYPE];
		rin.location = r.hdr[GW_H_LOCATION];
		rin.subjects = r.hdr[GW_H_DATA_SUBJECTS];
		ndx_sha256(r.body ? r.body : "", r.len, rin.body_sha256);
		ndx_response_hash(&rin, x->resp_hash);
	}
	/* Logged even when it does not verify: the record is the evidence of
	 * what the provider gateway sent. */
	x->has_resp_hash = true;
	x->resp_sig = r.hdr[GW_H_RESPONSE_SIG];
	x->subjects = r.hdr[GW_H_DATA_SUBJECTS];
	if (gw_verify_hash(ndx_conf_gateway_key(conf, call.gateway), r.hdr[GW_H_RESPONSE_SIG],
			   x->resp_hash, err, sizeof err) != NDX_OK) {
		char detail[768];
		/* The provider's HTTP server refuses an oversized body before any
		 * handler (and so any signer) runs. Its answer is not passed on,
		 * but the refusal it announces is the client's to know. */
		if (r.status == 413 && r.hdr[GW_H_XROAD_ERROR]) {
			decline(x, GW_R_BODY_TOO_LARGE, NULL,
				"the provider gateway of %s accepts no request body this large",
				member);
			goto done;
		}
		if (r.hdr[GW_H_XROAD_ERROR])
			snprintf(detail, sizeof detail, "%s; the provider gateway answered %ld %.128s",
				 err, r.status, r.hdr[GW_H_XROAD_ERROR]);
		else
			snprintf(detail, sizeof detail, "%s", err);
		decline(x, GW_R_BAD_RESPONSE_SIGNATURE, detail,
			"the response of %s does not carry a valid signature of its gateway",
			member);
		goto done;
	}
	/* An answer without Content-Type goes on without one (PR-REST 4.3). */
	ndx_http_resp_bytes(resp, (int)r.status,
			    r.hdr[GW_H_CONTENT_TYPE] ? r.hdr[GW_H_CONTENT_TYPE] : "",
			    r.body ? r.body : "", r.len);
	x->passed = true;
	if (r.hdr[GW_H_XROAD_ERROR]) {
		x->err_type = r.hdr[GW_H_XROAD_ERROR];
		gw_metrics_relayed_error(r.hdr[GW_H_XROAD_ERROR]);
	}
done:
	if (!finish_log(x)) {
		ndx_http_resp_header(resp, "X-Road-Client", x->client);
		ndx_http_resp_header(resp, "X-Road-Service", x->service);
		ndx_http_resp_header(resp, "X-Road-Id", x->msg_id);
		goto out;
	}
	if (x->err_type)
		ndx_http_resp_header(resp, "X-Road-Error", x->err_type);
	if (x->passed) {
		if (r.hdr[GW_H_LOCATION])
			ndx_http_resp_header(resp, "Location", r.hdr[GW_H_LOCATION]);
		ndx_http_resp_header(resp, "X-Road-Client", x->client);
		ndx_http_resp_header(resp, "X-Road-Service", x->service);
		ndx_http_resp_header(resp, "X-Road-Id", x->msg_id);
		if (r.hdr[GW_H_REQUEST_ID])
			ndx_http_resp_header(resp, "X-Road-Request-Id", r.hdr[GW_H_REQUEST_ID]);
		ndx_http_resp_header(resp, "X-Road-Request-Hash", sf.hash_b64);
		/* What this gateway added to the signed request, so that the client
		 * can recompute its hash (docs/protocol.md "Canonical hashes"). */
		ndx_http_resp_header(resp, "Ndx-Timestamp", ts);
		ndx_http_resp_header(resp, "Ndx-Nonce", sf.nonce);
		ndx_http_resp_header(resp, "Ndx-Response-Signature", r.hdr[GW_H_RESPONSE_SIG]);
		if (r.hdr[GW_H_DATA_SUBJECTS] && r.hdr[GW_H_DATA_SUBJECTS][0])
			ndx_http_resp_header(resp, "Ndx-Data-Subjects", r.hdr[GW_H_DATA_SUBJECTS]);
		for (size_t i = 0; i < answer_user.n; i++)
			ndx_http_resp_header(resp, answer_user.v[i].name, answer_user.v[i].value);
	}
out:
	gw_uh_free(&user);
	gw_uh_free(&answer_user);
	free(user_names);
	gw_xfer_resp_free(&r);
	sign_for_free(&sf);
	free(suffix);
}

static int problem(json_t *list, const char *code, const char *message)
{
	return json_array_append_new(list, json_pack("{ssss}", "code", code, "message", message));
}

/* Consent-requiring services are refused while an issuer's revocation list
 * is not current: the gateway still serves everything else. */
static void consent_problems(struct gw_ctx *g, const struct ndx_conf *conf, time_t now,
			     json_t *list)
{
	const json_t *cs, *services = json_object_get(ndx_conf_json(conf), "consent_services");
	char msg[NDX_ID_TEXT_MAX + 96];
	size_t i;

	json_array_foreach(services, i, cs) {
		const char *id = json_string_value(json_object_get(cs, "id"));

		if (!id || gw_revocations_current(g->revs, id, now) == NDX_OK)
			continue;
		snprintf(msg, sizeof msg,
			 "no current status lists of %s: its consents are refused", id);
		problem(list, gw_reason_info(GW_R_CONSENT_STATUS_UNKNOWN)->reason, msg);
	}
}

/* GET /healthz: ready or not, and why (docs/gateway.md "Operations"). 503
 * when no exchange can be answered (no valid configuration, the message
 * log cannot be written, the replay cache is full); 200 "degraded" when
 * some are refused (a consent issuer's revocation list is not current, the
 * replay cache is nearly full); 200 "ok" otherwise. */
static void healthz(struct gw_ctx *g, const struct gw_view *v, struct ndx_http_resp *resp)
{
	time_t now = time(NULL);
	char exp[NDX_TIME_TEXT_LEN];
	json_t *down, *degraded;
	size_t held;
	const char *status;
	char why[512];

	if (!gw_view_live(v, now)) {
		ndx_http_resp_json(resp, 503,
				   json_pack("{sss[{ssss}]}", "status", "not_ready", "problems", "code",
					     gw_reason_info(GW_R_NO_CONFIGURATION)->reason,
					     "message",
					     "the gateway holds no valid global configuration"));
		return;
	}
	down = json_array();
	degraded = json_array();
	if (gw_log_failing(now))
		problem(down, gw_reason_info(GW_R_LOG_UNAVAILABLE)->reason,
			"the message log cannot be written: every exchange is refused");
	if (gw_witness_overdue(g->witness, why, sizeof why))
		problem(down, gw_reason_info(GW_R_WITNESS_UNAVAILABLE)->reason, why);
	held = gw_replay_count(g->replay);
	if (held >= GW_REPLAY_DEFAULT_CAPACITY)
		problem(down, gw_reason_info(GW_R_BUSY)->reason, "the replay cache is full: exchanges are refused");
	else if (held >= GW_REPLAY_DEFAULT_CAPACITY / 10 * 9)
		problem(degraded, gw_reason_info(GW_R_BUSY)->reason, "the replay cache is over 90% full");
	consent_problems(g, v->c->conf, now, degraded);
	status = json_array_size(down) ? "not_ready" : json_array_size(degraded) ? "degraded"
										  : "ok";
	json_array_extend(down, degraded);
	json_decref(degraded);
	ndx_time_format(ndx_conf_expires_at(v->c->conf), exp);
	ndx_http_resp_json(resp, strcmp(status, "not_ready") == 0 ? 503 : 200,
			   json_pack("{sssIsssoss}", "status", status, "conf_version",
				     (json_int_t)ndx_conf_version(v->c->conf), "conf_expires_at",
				     exp, "problems", down, "replay_cache",
				     held >= GW_REPLAY_DEFAULT_CAPACITY / 10 * 9 ? "high" : "ok"));
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
	struct timespec t0, t1;
	const char *label = NULL;
	const char *ct;
	const void *body;
	size_t len;
	int status = 500;

	gw_state_acquire(g->state, &v);
	if (strcmp(req->path, "/healthz") == 0) {
		healthz(g, &v, resp);
		goto out;
	}
	if (strcmp(req->path, "/metrics") == 0) {
		char *text = gw_metrics_render(&v, g->log, time(NULL));
		if (text)
			ndx_http_resp_bytes(resp, 200, "text/plain; version=0.0.4", text,
					    strlen(text));
		free(text);
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
	if (gw_metaservice(g, &v, req, resp, tls))
		goto out;
	if (strncmp(req->path, "/r1/", 4) != 0) {
		gw_refusal(resp, req, GW_R_NOT_EXCHANGE, GW_SIDE_CONSUMER, req->path,
			   "unknown path: expected /r1/{serviceId}[/path]");
		goto out;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	gw_metrics_begin();
	{
		struct cx x = { .g = g, .req = req, .resp = resp, .t0 = t0, .tls = tls };
		exchange(&x, &v, &label);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (ndx_http_resp_view(resp, &status, &ct, &body, &len) != NDX_OK)
		status = 500;
	gw_metrics_end(GW_ROLE_CONSUMER, label, status,
		       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
out:
	gw_view_release(&v);
}
