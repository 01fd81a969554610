/* The member's DSP connector at its gateway (connector.h for the store;
 * docs/marketplace.md "Members' own connectors"): one thread of its own
 * owns the store and does everything that waits (the store's commits,
 * signatures, the registry); the ports and the exchange loops only hand it
 * jobs:
 *  - on the gateway port, POST /n1{DSP path}: a message from another
 *    member's gateway (mutual TLS), checked and kept, answered with the
 *    ContractNegotiation and a signed receipt, and logged;
 *  - on the consumer port, /ndx/connector/negotiations...: the member's own
 *    systems start, list, show and move their negotiations;
 *  - the outcome of a delivery this gateway made on an exchange loop.
 * After each job it takes the steps nobody has to decide
 * (gw_conn_auto_step), starts the deliveries due in the outbox, and sends
 * the FINALIZED chains to the registry (POST /dsp/agreements), retrying
 * with back-off while it cannot be reached. */
#include "connector_rt.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "connector.h"
#include "confstate.h"
#include "errors.h"
#include "exchlog.h"
#include "gateway.h"
#include "gwloop.h"
#include "opmon.h"
#include "peerlimit.h"
#include "signer.h"
#include "xfer.h"
#include "ndx/err.h"
#include "ndx/fetch.h"
#include "ndx/hash.h"
#include "ndx/id.h"
#include "ndx/msglog.h"
#include "ndx/negmsg.h"
#include "ndx/timefmt.h"

#define DSP_CONTEXT "https://w3id.org/dspace/2025/1/context.jsonld"
#define NEG_ERROR "ContractNegotiationError"
#define LOCAL_PREFIX "/ndx/connector/negotiations"
/* Deliveries in flight at a time. */
#define INFLIGHT_MAX 16
/* The back-off of a delivery or of the registry: 1 s doubling to 60 s. */
#define BACKOFF_MAX_MS 60000
/* How long the thread sleeps at most: the outbox and the registry are
 * looked at again after this. */
#define TICK_MS 1000
/* How long past the peer hop's own timeouts a message taken for delivery
 * stays another node's (gw_conn_claim). */
#define CLAIM_MARGIN_MS 5000

enum job_kind { J_RECEIVE, J_LOCAL, J_DELIVERED };

struct cjob {
	enum job_kind kind;
	struct cjob *next;
	/* RECEIVE, LOCAL: the request being answered */
	const struct ndx_http_req *req;
	struct ndx_http_resp *resp;
	struct ndx_http_pending *pending;
	char peer[NDX_ID_TEXT_MAX];                 /* RECEIVE: the calling gateway's member */
	char peer_gateway[NDX_ID_TEXT_MAX + 64];    /* RECEIVE: its name */
	char client[NDX_ID_TEXT_MAX];               /* LOCAL: X-Road-Client */
	int64_t t_in;           /* RECEIVE: Unix ms the message arrived (opmon) */
	const char *error_type; /* RECEIVE: the refusal's code, for its record */
	/* DELIVERED */
	struct delivery *d;
};

struct delivery {
	struct gw_connector *c;
	struct gw_view view;
	struct gw_peer_call call;
	struct gw_xfer_resp r;
	struct ndx_loop_task task;
	struct curl_slist *headers;
	char member[NDX_ID_TEXT_MAX];
	char id[GW_UUID_LEN];
	char *url_suffix, *jws, *path, *request_sig;
	uint8_t request_hash[NDX_SHA256_LEN];
	int64_t neg, seq, attempts;
	struct timespec t0;
	int64_t t_in, t_resp_in; /* Unix ms: the attempt began, its answer came (opmon) */
	enum gw_xfer_result res;
};

struct gw_connector {
	struct gw_ctx *g;
	struct gw_conn_store *store;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop, started;
	struct cjob *head, *tail;
	/* on the thread: the (neg, seq) of the deliveries in flight */
	int64_t inflight[INFLIGHT_MAX][2];
	size_t ninflight;
	/* on the thread: the provider's requests whose catalogue offer was
	 * looked up and did not decide (they wait for the officer), so that
	 * the registry is asked once per request and start */
	int64_t *consulted;
	size_t nconsulted;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t backoff(int64_t attempts)
{
	int64_t ms = 1000;

	for (int64_t i = 0; i < attempts && ms < BACKOFF_MAX_MS; i++)
		ms *= 2;
	return ms > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : ms;
}

static bool post(struct gw_connector *c, struct cjob *j)
{
	bool ok;

	pthread_mutex_lock(&c->mu);
	ok = !c->stop;
	if (ok) {
		j->next = NULL;
		if (c->tail)
			c->tail->next = j;
		else
			c->head = j;
		c->tail = j;
		pthread_cond_signal(&c->cv);
	}
	pthread_mutex_unlock(&c->mu);
	return ok;
}

/* ---- answers ------------------------------------------------------------------ */

static void neg_error(struct ndx_http_resp *resp, int status, const char *code,
		      const char *reason)
{
	json_t *body = json_pack("{s[s]sssss[s]}", "@context", DSP_CONTEXT, "@type", NEG_ERROR,
				 "code", code, "reason", reason);

	ndx_http_resp_json(resp, status, body);
	ndx_http_resp_header(resp, "X-Road-Error", code);
}

static void answer(struct cjob *j)
{
	if (j->pending)
		ndx_http_resume(j->pending);
	free(j);
}

/* ---- operational monitoring records ------------------------------------------ */

/* X-Road-Id as the other gateway sent it, when it has the shape of the ids
 * gateways make, a UUID in RFC 9562 section 4's string form (8-4-4-4-12 hex
 * digits, either case): anything else may carry what a record must not. */
static const char *shaped_id(const char *id)
{
	if (!id || strlen(id) != GW_UUID_LEN - 1)
		return NULL;
	for (int i = 0; i < GW_UUID_LEN - 1; i++) {
		char ch = id[i];

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (ch != '-')
				return NULL;
		} else if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
			     (ch >= 'A' && ch <= 'F'))) {
			return NULL;
		}
	}
	return id;
}

/* A message from another member's connector, accepted or refused (role
 * dsp_in): the sending member as client, this member's connector service
 * as service, the DSP path with its pids replaced. peer and peer_gateway
 * may be NULL (a refusal before the caller was known). */
static void record_in(struct gw_ctx *g, const struct ndx_http_req *req,
		      struct ndx_http_resp *resp, const char *peer, const char *peer_gateway,
		      int64_t t_in, const char *error_type)
{
	struct gw_opmon_in in = { 0 };
	char service[NDX_ID_TEXT_MAX + 32], path[GW_OPMON_PATH_CAP];
	const char *ct;
	const void *body;
	size_t len = 0;
	int status = 0;

	if (!g->opmon)
		return;
	if (ndx_http_resp_view(resp, &status, &ct, &body, &len) != NDX_OK)
		status = 0;
	snprintf(service, sizeof service, "%s/" GW_CONN_SERVICE, g->cfg->member);
	in.role = GW_OPMON_DSP_IN;
	in.message_id = shaped_id(ndx_http_header(req, "X-Road-Id"));
	in.client = peer;
	in.service = service;
	in.client_gateway = peer_gateway;
	in.service_gateway = g->name;
	in.method = req->method;
	gw_opmon_redact_path(strncmp(req->path, "/n1", 3) == 0 ? req->path + 3 : req->path, path,
			     sizeof path);
	in.path_template = path;
	in.request_in = t_in;
	in.request_out = in.response_in = GW_OPMON_NONE;
	in.response_out = gw_opmon_now_ms();
	in.request_size = (int64_t)req->body_len;
	in.response_size = (int64_t)len;
	in.success = status >= 200 && status < 300;
	in.error_type = in.success ? NULL : error_type;
	in.status = status;
	in.peer_ms = in.provider_ms = GW_OPMON_NONE;
	gw_opmon_record(g->opmon, &in);
}

/* An attempt to deliver a message of this member's connector (role
 * dsp_out): this member as client, the other member's connector service
 * as service. */
static void record_out(struct gw_connector *c, const struct delivery *d, bool delivered,
		       const char *error_type)
{
	struct gw_opmon_in in = { 0 };
	char service[NDX_ID_TEXT_MAX + 32], sgw[NDX_ID_TEXT_MAX + 64], path[GW_OPMON_PATH_CAP];

	if (!c->g->opmon)
		return;
	snprintf(service, sizeof service, "%s/" GW_CONN_SERVICE, d->member);
	in.role = GW_OPMON_DSP_OUT;
	in.message_id = d->id;
	in.client = c->g->cfg->member;
	in.service = service;
	in.client_gateway = c->g->name;
	if (d->call.gateway && gw_gateway_name(d->call.gateway->member, d->call.gateway->code, sgw,
					       sizeof sgw) == NDX_OK)
		in.service_gateway = sgw;
	in.method = "POST";
	gw_opmon_redact_path(d->path, path, sizeof path);
	in.path_template = path;
	in.request_in = in.request_out = d->t_in;
	in.response_in = d->t_resp_in ? d->t_resp_in : GW_OPMON_NONE;
	in.response_out = gw_opmon_now_ms();
	in.request_size = (int64_t)strlen(d->jws);
	in.response_size = d->res == GW_XFER_OK ? (int64_t)d->r.len : GW_OPMON_NONE;
	in.success = delivered;
	in.error_type = delivered ? NULL : error_type;
	in.status = d->res == GW_XFER_OK ? (int)d->r.status : 0;
	in.peer_ms = d->t_resp_in ? d->t_resp_in - d->t_in : GW_OPMON_NONE;
	in.provider_ms = GW_OPMON_NONE;
	gw_opmon_record(c->g->opmon, &in);
}

/* ---- keys of the configuration ---------------------------------------------- */

static const struct ndx_key *key_of(void *ud, const char *member, const char *kid)
{
	const struct ndx_conf *conf = ud;
	const struct ndx_conf_gateway *gw;

	for (size_t i = 0; (gw = ndx_conf_gateway_of(conf, member, i)); i++)
		if (gw->sign_key_id && strcmp(gw->sign_key_id, kid) == 0)
			return gw->sign_key;
	return NULL;
}

/* ---- the DSP answer ------------------------------------------------------------ */

static json_t *contract_negotiation(const json_t *neg)
{
	return json_pack("{s[s]sssOsOss}", "@context", DSP_CONTEXT, "@type", "ContractNegotiation",
			 "providerPid", json_object_get(neg, "providerPid"), "consumerPid",
			 json_object_get(neg, "consumerPid"), "state",
			 json_string_value(json_object_get(neg, "state")));
}

/* What the receiving gateway's Ndx-Response-Signature covers: SHA-256 of
 * the request's hash (the SHA-256 of the JWS) followed by the answer's
 * body, so that the receipt names the message it answers. */
static int receipt_hash(const uint8_t req_hash[NDX_SHA256_LEN], const void *body, size_t len,
			uint8_t out[NDX_SHA256_LEN])
{
	uint8_t *buf = malloc(NDX_SHA256_LEN + len + 1);

	if (!buf)
		return NDX_ENOMEM;
	memcpy(buf, req_hash, NDX_SHA256_LEN);
	if (len)
		memcpy(buf + NDX_SHA256_LEN, body, len);
	ndx_sha256(buf, NDX_SHA256_LEN + len, out);
	free(buf);
	return NDX_OK;
}

/* ---- a message from another member's gateway ---------------------------------- */

/* A refusal of a received message, its code kept for the message's record. */
static void refuse_rx(struct cjob *j, int status, const char *code, const char *reason)
{
	j->error_type = code;
	neg_error(j->resp, status, code, reason);
}

static void receive(struct gw_connector *c, struct cjob *j)
{
	const struct gw_config *cfg = c->g->cfg;
	struct gw_view v;
	struct gw_conn_refusal r = { 0 };
	const char *path = j->req->path + 3; /* after /n1 */
	const char *msg_id = ndx_http_header(j->req, "X-Road-Id");
	const char *sig = ndx_http_header(j->req, "Ndx-Signature");
	const struct ndx_conf_gateway *peer = NULL;
	struct ndx_msglog_record rec;
	uint8_t req_hash[NDX_SHA256_LEN], resp_hash[NDX_SHA256_LEN];
	char err[256], service[NDX_ID_TEXT_MAX + 32], *resp_sig = NULL, *body_text = NULL;
	json_t *neg = NULL, *body = NULL;
	int64_t id = 0;
	bool init;
	int rc;
	struct timespec t0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	gw_state_acquire(c->g->state, &v);
	if (!gw_view_live(&v, time(NULL))) {
		refuse_rx(j, 503, "Server.NoConfiguration",
			  "the gateway holds no valid global configuration");
		goto out;
	}
	for (size_t i = 0; (peer = ndx_conf_gateway_of(v.c->conf, j->peer, i)); i++) {
		char name[NDX_ID_TEXT_MAX + 64];

		if (gw_gateway_name(peer->member, peer->code, name, sizeof name) == NDX_OK &&
		    strcmp(name, j->peer_gateway) == 0)
			break;
	}
	if (!peer) {
		refuse_rx(j, 401, "Client.Unauthenticated",
			  "the calling gateway is no longer in the configuration");
		goto out;
	}
	/* The exchange's own signature, which the message logs keep. */
	ndx_sha256(j->req->body ? (const void *)j->req->body : "", j->req->body_len, req_hash);
	if (!msg_id || strlen(msg_id) != GW_UUID_LEN - 1 || !sig ||
	    gw_verify_hash(peer->sign_key, sig, req_hash, err, sizeof err) != NDX_OK) {
		refuse_rx(j, 403, "Client.BadSignature",
			  "the delivery needs an X-Road-Id and an Ndx-Signature of its body by "
			  "the calling gateway");
		if (c->g->refusals)
			gw_peerlimit_charge(c->g->refusals, j->peer, mono_ms());
		goto out;
	}
	rc = gw_conn_receive(c->store, cfg->member, j->peer, path,
			     j->req->body ? (const char *)j->req->body : "", j->req->body_len,
			     key_of, (void *)v.c->conf, now_ms(), &id, &r);
	if (rc != NDX_OK) {
		refuse_rx(j, r.status ? r.status : 500, r.code ? r.code : "Server.InternalError",
			  r.reason);
		/* The sender's doing: counted against its member's refusal
		 * budget, as on the exchange port (docs/security.md T35). */
		if (r.status >= 400 && r.status < 500 && c->g->refusals)
			gw_peerlimit_charge(c->g->refusals, j->peer, mono_ms());
		goto out;
	}
	if (gw_conn_get(c->store, id, &neg) != NDX_OK || !(body = contract_negotiation(neg)) ||
	    !(body_text = json_dumps(body, JSON_COMPACT))) {
		refuse_rx(j, 500, "Server.InternalError", "out of memory");
		goto out;
	}
	init = strcmp(path, "/dsp/negotiations/request") == 0;
	if (receipt_hash(req_hash, body_text, strlen(body_text), resp_hash) != NDX_OK ||
	    !(resp_sig = gw_sign_hash(cfg, resp_hash))) {
		refuse_rx(j, 500, "Server.InternalError", "cannot sign the receipt");
		goto out;
	}
	snprintf(service, sizeof service, "%s/" GW_CONN_SERVICE, cfg->member);
	memset(&rec, 0, sizeof rec);
	rec.direction = NDX_MSGLOG_PROVIDER;
	rec.message_id = msg_id;
	rec.client = j->peer;
	rec.service = service;
	rec.method = "POST";
	rec.path = path;
	rec.subject = rec.subjects = rec.purpose = rec.user_id = rec.issue = "";
	rec.represented_party = rec.authenticated = "";
	rec.request_hash = req_hash;
	rec.response_hash = resp_hash;
	rec.status = init ? 201 : 200;
	rec.duration_ms = gw_elapsed_ms(&t0);
	rec.request_sig = sig;
	rec.response_sig = resp_sig;
	if (gw_log_append(c->g->log, &rec) != NDX_OK) {
		refuse_rx(j, 503, "Server.LogUnavailable", "the message log cannot be written");
		goto out;
	}
	ndx_http_resp_bytes(j->resp, init ? 201 : 200, "application/json", body_text,
			    strlen(body_text));
	ndx_http_resp_header(j->resp, "Ndx-Response-Signature", resp_sig);
	ndx_http_resp_header(j->resp, "X-Road-Id", msg_id);
out:
	record_in(c->g, j->req, j->resp, j->peer, j->peer_gateway, j->t_in, j->error_type);
	gw_view_release(&v);
	json_decref(neg);
	json_decref(body);
	free(body_text);
	free(resp_sig);
	answer(j);
}

/* ---- deliveries ------------------------------------------------------------------ */

static void delivery_free(struct delivery *d)
{
	if (!d)
		return;
	gw_xfer_resp_free(&d->r);
	curl_slist_free_all(d->headers);
	free(d->call.url);
	free(d->url_suffix);
	free(d->jws);
	free(d->path);
	free(d->request_sig);
	gw_view_release(&d->view);
	free(d);
}

/* On the exchange loop: back to the connector's thread. */
static void delivered(struct gw_peer_call *call, enum gw_xfer_result res)
{
	struct delivery *d = call->ud;
	struct cjob *j = calloc(1, sizeof *j);

	d->res = res;
	d->t_resp_in = gw_opmon_now_ms();
	if (!j) {
		delivery_free(d); /* stays in the outbox: tried again */
		return;
	}
	j->kind = J_DELIVERED;
	j->d = d;
	if (!post(d->c, j)) {
		delivery_free(d);
		free(j);
	}
}

static int prepare(struct gw_peer_call *call, const struct ndx_conf_gateway *gw, void *ud)
{
	(void)gw;
	(void)ud;
	gw_peer_prepared(call, true);
	return 0;
}

static void start_on_loop(void *arg)
{
	struct delivery *d = arg;

	gw_peer_start(&d->call, &d->r);
}

static void start_delivery(struct gw_connector *c, const json_t *m)
{
	struct delivery *d = calloc(1, sizeof *d);
	const char *jws = json_string_value(json_object_get(m, "jws"));
	const char *path = json_string_value(json_object_get(m, "path"));
	const char *to = json_string_value(json_object_get(m, "counterparty"));
	size_t n;

	if (!d)
		return;
	d->c = c;
	d->neg = json_integer_value(json_object_get(m, "neg"));
	d->seq = json_integer_value(json_object_get(m, "seq"));
	d->attempts = json_integer_value(json_object_get(m, "attempts"));
	gw_state_acquire(c->g->state, &d->view);
	snprintf(d->member, sizeof d->member, "%s", to ? to : "");
	n = strlen(path ? path : "") + 4;
	if (!jws || !path || gw_uuid(d->id) != NDX_OK || !(d->jws = strdup(jws)) ||
	    !(d->path = strdup(path)) || !(d->url_suffix = malloc(n))) {
		delivery_free(d);
		return;
	}
	snprintf(d->url_suffix, n, "/n1%s", path);
	/* Another node of this gateway on the same store may have read the
	 * same outbox: only the one that takes the message delivers it. The
	 * attempt ends within the peer hop's timeouts; past them and a margin
	 * the message is due again, should this node stop mid-attempt. */
	if (gw_conn_claim(c->store, d->neg, d->seq,
			  json_integer_value(json_object_get(m, "due_ms")),
			  now_ms() + d->view.s->connect_timeout_ms + d->view.s->peer_timeout_ms +
				  CLAIM_MARGIN_MS) != NDX_OK) {
		delivery_free(d);
		return;
	}
	ndx_sha256(jws, strlen(jws), d->request_hash);
	if (!(d->request_sig = gw_sign_hash(c->g->cfg, d->request_hash)) ||
	    gw_slist_add(&d->headers, "Content-Type", "application/jose") ||
	    gw_slist_add(&d->headers, "X-Road-Id", d->id) ||
	    gw_slist_add(&d->headers, "Ndx-Signature", d->request_sig) ||
	    gw_slist_add(&d->headers, "Expect", "")) {
		delivery_free(d);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &d->t0);
	d->t_in = gw_opmon_now_ms();
	d->call.loop = gw_loops_next(c->g->loops);
	d->call.conf = d->view.c->conf;
	d->call.member = d->member;
	d->call.method = "POST";
	d->call.url_suffix = d->url_suffix;
	d->call.body = (const uint8_t *)d->jws;
	d->call.body_len = strlen(d->jws);
	d->call.headers = d->headers;
	d->call.cfg = c->g->cfg;
	d->call.s = d->view.s;
	d->call.prepare = prepare;
	d->call.done = delivered;
	d->call.ud = d;
	d->task.fn = start_on_loop;
	d->task.arg = d;
	if (gw_loop_post(d->call.loop, &d->task) != NDX_OK) {
		delivery_free(d);
		return;
	}
	c->inflight[c->ninflight][0] = d->neg;
	c->inflight[c->ninflight][1] = d->seq;
	c->ninflight++;
}

static void forget_inflight(struct gw_connector *c, int64_t neg, int64_t seq)
{
	for (size_t i = 0; i < c->ninflight; i++)
		if (c->inflight[i][0] == neg && c->inflight[i][1] == seq) {
			c->inflight[i][0] = c->inflight[c->ninflight - 1][0];
			c->inflight[i][1] = c->inflight[c->ninflight - 1][1];
			c->ninflight--;
			return;
		}
}

/* The answer of the other member's gateway: a 2xx with its receipt, logged
 * here too; a refusal of the message (4xx) is final; anything else is
 * tried again. */
static void outcome(struct gw_connector *c, struct delivery *d)
{
	struct gw_xfer_resp *r = &d->r;
	const struct gw_config *cfg = c->g->cfg;
	char err[384], service[NDX_ID_TEXT_MAX + 32];
	uint8_t resp_hash[NDX_SHA256_LEN];
	const char *ppid = NULL;
	json_t *body = NULL;
	struct ndx_msglog_record rec;
	int64_t next = now_ms() + backoff(d->attempts);

	forget_inflight(c, d->neg, d->seq);
	if (d->res != GW_XFER_OK) {
		snprintf(err, sizeof err, "%s",
			 r->errbuf[0] ? r->errbuf : "the other member's gateway cannot be reached");
		gw_conn_delivered(c->store, d->neg, d->seq, false, false, NULL, err, next);
		record_out(c, d, false,
			   gw_reason_type(d->res == GW_XFER_TIMEOUT ? GW_R_PROVIDER_TIMEOUT
								   : GW_R_PROVIDER_UNREACHABLE,
					  GW_SIDE_CONSUMER));
		goto out;
	}
	if (r->status < 200 || r->status >= 300) {
		body = r->body ? json_loadb((const char *)r->body, r->len, 0, NULL) : NULL;
		snprintf(err, sizeof err, "the other member's connector answered %ld %s: %s",
			 r->status, r->hdr[GW_H_XROAD_ERROR] ? r->hdr[GW_H_XROAD_ERROR] : "",
			 json_string_value(json_object_get(body, "reason"))
				 ? json_string_value(json_object_get(body, "reason"))
				 : "");
		gw_conn_delivered(c->store, d->neg, d->seq, false,
				  r->status >= 400 && r->status < 500 && r->status != 429, NULL, err,
				  next);
		record_out(c, d, false, r->hdr[GW_H_XROAD_ERROR]);
		goto out;
	}
	if (receipt_hash(d->request_hash, r->body, r->len, resp_hash) != NDX_OK ||
	    !d->call.gateway || !r->hdr[GW_H_RESPONSE_SIG] ||
	    gw_verify_hash(d->call.gateway->sign_key, r->hdr[GW_H_RESPONSE_SIG], resp_hash, err,
			   sizeof err) != NDX_OK) {
		gw_conn_delivered(c->store, d->neg, d->seq, false, false, NULL,
				  "the receipt does not verify", next);
		record_out(c, d, false,
			   gw_reason_type(GW_R_BAD_RESPONSE_SIGNATURE, GW_SIDE_CONSUMER));
		goto out;
	}
	body = r->body ? json_loadb((const char *)r->body, r->len, 0, NULL) : NULL;
	ppid = json_string_value(json_object_get(body, "providerPid"));
	snprintf(service, sizeof service, "%s/" GW_CONN_SERVICE, d->member);
	memset(&rec, 0, sizeof rec);
	rec.direction = NDX_MSGLOG_CONSUMER;
	rec.message_id = d->id;
	rec.client = cfg->member;
	rec.service = service;
	rec.method = "POST";
	rec.path = d->path;
	rec.subject = rec.subjects = rec.purpose = rec.user_id = rec.issue = "";
	rec.represented_party = rec.authenticated = "";
	rec.request_hash = d->request_hash;
	rec.response_hash = resp_hash;
	rec.status = (int)r->status;
	rec.duration_ms = gw_elapsed_ms(&d->t0);
	rec.request_sig = d->request_sig;
	rec.response_sig = r->hdr[GW_H_RESPONSE_SIG];
	if (gw_log_append(c->g->log, &rec) != NDX_OK) {
		gw_conn_delivered(c->store, d->neg, d->seq, false, false, NULL,
				  "the message log cannot be written", next);
		record_out(c, d, false, gw_reason_type(GW_R_LOG_UNAVAILABLE, GW_SIDE_CONSUMER));
		goto out;
	}
	gw_conn_delivered(c->store, d->neg, d->seq, true, false, ppid, NULL, 0);
	record_out(c, d, true, NULL);
out:
	json_decref(body);
	delivery_free(d);
}

/* ---- the registry ------------------------------------------------------------------ */

/* One request to the registry, trying each node in turn while it cannot
 * be reached. NDX_OK with an answer, NDX_ENET otherwise. */
static int registry_fetch(const struct gw_config *cfg, const char *method, const char *path,
			  const char *body, struct ndx_fetch_resp *out)
{
	static const char *const JSON_HEADERS[] = { "Content-Type: application/json", NULL };
	int rc = NDX_ENET;
	size_t n = cfg->n_registry_urls ? cfg->n_registry_urls : 1;
	/* The member's credential, when configured, on the catalogue's reads:
	 * the registry then shows the offers for the member's class
	 * (docs/marketplace.md "Members' own connectors"). A chain goes
	 * without one: its signatures are its authority. */
	char *auth = NULL;
	const char *auth_headers[2] = { NULL, NULL };

	if (!body && cfg->connector_credential) {
		size_t alen = strlen(cfg->connector_credential) + sizeof "Authorization: Bearer ";

		if (!(auth = malloc(alen)))
			return NDX_ENOMEM;
		snprintf(auth, alen, "Authorization: Bearer %s", cfg->connector_credential);
		auth_headers[0] = auth;
	}

	for (size_t i = 0; i < n && rc == NDX_ENET; i++) {
		const char *base = cfg->n_registry_urls ? cfg->registry_urls[i] : cfg->registry_url;
		size_t len;
		char *url;
		struct ndx_fetch_req req = { 0 };

		if (!base)
			continue;
		len = strlen(base) + strlen(path) + 1;
		if (!(url = malloc(len))) {
			rc = NDX_ENOMEM;
			break;
		}
		snprintf(url, len, "%s%s", base, path);
		/* a base ending in '/' */
		if (strlen(base) && base[strlen(base) - 1] == '/' && path[0] == '/')
			snprintf(url, len, "%s%s", base, path + 1);
		req.method = method;
		req.url = url;
		req.headers = body ? JSON_HEADERS : auth ? auth_headers : NULL;
		req.body = body;
		req.body_len = body ? strlen(body) : 0;
		req.timeout_ms = 5000;
		memset(out, 0, sizeof *out);
		rc = ndx_fetch(&req, out);
		free(url);
	}
	if (auth) {
		OPENSSL_cleanse(auth, strlen(auth));
		free(auth);
	}
	return rc;
}

/* The dataset's entry in the registry's public catalogue: a new object,
 * or NULL with why. */
static json_t *catalogue_dataset(const struct gw_config *cfg, const char *dataset, int *status,
				 char *why, size_t cap)
{
	struct ndx_fetch_resp resp;
	char *path;
	size_t n;
	json_t *ds = NULL;
	int rc;

	*status = 502;
	/* The registry takes ids in paths as sent, not percent-decoded
	 * (docs/marketplace.md "Where ndx differs"): one that a path cannot
	 * carry as it is names no dataset. */
	if (!dataset || !dataset[0] || strlen(dataset) > 256 ||
	    strpbrk(dataset, "/?#% \t\r\n\"<>\\")) {
		*status = 404;
		snprintf(why, cap, "the registry's catalogue has no dataset of that id");
		return NULL;
	}
	for (const char *p = dataset; *p; p++)
		if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e) {
			*status = 404;
			snprintf(why, cap, "the registry's catalogue has no dataset of that id");
			return NULL;
		}
	n = strlen(dataset) + 32;
	if (!(path = malloc(n)))
		return NULL;
	snprintf(path, n, "/dsp/catalog/datasets/%s", dataset);
	rc = registry_fetch(cfg, "GET", path, NULL, &resp);
	free(path);
	if (rc != NDX_OK) {
		snprintf(why, cap, "the registry cannot be reached");
		return NULL;
	}
	if (resp.status == 200 && resp.body)
		ds = json_loadb(resp.body, resp.len, 0, NULL);
	if (!json_is_object(ds)) {
		json_decref(ds);
		ds = NULL;
		*status = resp.status == 404 ? 404 : 502;
		if (resp.status == 401 || resp.status == 403)
			snprintf(why, cap, "the registry refuses connector.credential (%ld)",
				 resp.status);
		else
			snprintf(why, cap, "the registry's catalogue has no dataset %s (%ld)",
				 dataset, resp.status);
	}
	ndx_fetch_resp_free(&resp);
	return ds;
}

static const json_t *offer_in(const json_t *ds, const char *offer_id)
{
	size_t i;
	const json_t *o;

	json_array_foreach(json_object_get(ds, "hasPolicy"), i, o) {
		const char *id = json_string_value(json_object_get(o, "@id"));

		if (id && offer_id && strcmp(id, offer_id) == 0)
			return o;
	}
	return NULL;
}

/* A provider's FINALIZED chain to the registry's POST /dsp/agreements. */
static void register_chain(struct gw_connector *c, int64_t neg, int64_t attempts)
{
	json_t *chain = NULL, *body = NULL, *ans = NULL;
	char *text = NULL, err[384];
	struct ndx_fetch_resp resp = { 0 };
	int rc;

	if (gw_conn_chain(c->store, neg, &chain) != NDX_OK ||
	    !(body = json_pack("{sO}", "ndx:messages", chain)) ||
	    !(text = json_dumps(body, JSON_COMPACT)))
		goto out;
	rc = registry_fetch(c->g->cfg, "POST", "/dsp/agreements", text, &resp);
	if (rc != NDX_OK) {
		gw_conn_registered(c->store, neg, false, false, NULL, 0,
				   "the registry cannot be reached", now_ms() + backoff(attempts));
		goto out;
	}
	ans = resp.body ? json_loadb(resp.body, resp.len, 0, NULL) : NULL;
	if (resp.status == 200 || resp.status == 201) {
		gw_conn_registered(c->store, neg, true, false,
				   json_string_value(json_object_get(ans, "ndx:agreementId")),
				   json_integer_value(json_object_get(ans, "ndx:confVersion")), NULL,
				   0);
	} else {
		snprintf(err, sizeof err, "the registry answered %ld %s: %s", resp.status,
			 resp.xroad_error,
			 json_string_value(json_object_get(ans, "reason"))
				 ? json_string_value(json_object_get(ans, "reason"))
				 : "");
		gw_conn_registered(c->store, neg, false,
				   resp.status >= 400 && resp.status < 500 && resp.status != 429,
				   NULL, 0, err, now_ms() + backoff(attempts));
	}
out:
	ndx_fetch_resp_free(&resp);
	json_decref(ans);
	json_decref(body);
	json_decref(chain);
	free(text);
}

/* ---- this side's messages ------------------------------------------------------- */

/* The provider's agreement on the negotiation's latest offer. */
static json_t *agreement_of(const struct gw_config *cfg, const json_t *neg)
{
	const json_t *offer = json_object_get(neg, "offer");
	char uuid[GW_UUID_LEN], id[GW_UUID_LEN + 9], ts[NDX_TIME_TEXT_LEN];
	json_t *a;

	if (gw_uuid(uuid) != NDX_OK)
		return NULL;
	snprintf(id, sizeof id, "urn:uuid:%s", uuid);
	ndx_time_format(time(NULL), ts);
	a = json_pack("{sssssOssssss}", "@id", id, "@type", "Agreement", "target",
		      json_object_get(neg, "dataset"), "assigner", cfg->member, "assignee",
		      json_string_value(json_object_get(neg, "counterparty")), "timestamp", ts);
	if (!a)
		return NULL;
	for (const char *const *k = (const char *const[]){ "permission", "prohibition",
							     "obligation", NULL };
	     *k; k++)
		if (json_object_get(offer, *k))
			json_object_set(a, *k, json_object_get(offer, *k));
	return a;
}

static int step(struct gw_connector *c, int64_t id, enum ndx_neg_msg msg, const json_t *extra,
		struct gw_conn_refusal *r)
{
	return gw_conn_send(c->store, c->g->cfg->member, c->g->cfg->sign_key, id, msg, extra,
			    now_ms(), r);
}

static int agree(struct gw_connector *c, const json_t *neg, struct gw_conn_refusal *r)
{
	json_t *a = agreement_of(c->g->cfg, neg), *extra;
	int rc;

	if (!a || !(extra = json_pack("{so}", "agreement", a))) {
		r->status = 500;
		r->code = "Server.InternalError";
		snprintf(r->reason, sizeof r->reason, "out of memory");
		return NDX_ENOMEM;
	}
	rc = step(c, json_integer_value(json_object_get(neg, "id")), NDX_NEG_MSG_AGREEMENT, extra,
		  r);
	json_decref(extra);
	return rc;
}

/* The steps nobody decides, for every negotiation not final. */
static void auto_steps(struct gw_connector *c)
{
	json_t *list = NULL, *neg;
	size_t i;
	struct gw_conn_refusal r;

	if (gw_conn_list(c->store, 500, &list) != NDX_OK)
		return;
	json_array_foreach(list, i, neg) {
		const char *state = json_string_value(json_object_get(neg, "state"));
		const char *role = json_string_value(json_object_get(neg, "role"));
		json_t *ds = NULL;
		const json_t *terms = NULL;
		int msg;

		if (!state || !role || strcmp(state, "FINALIZED") == 0 ||
		    strcmp(state, "TERMINATED") == 0)
			continue;
		/* A provider's request waiting: the catalogue's terms decide. */
		if (strcmp(role, "provider") == 0 && strcmp(state, "REQUESTED") == 0) {
			char why[256];
			int status;
			int64_t id = json_integer_value(json_object_get(neg, "id"));
			bool seen = false;

			for (size_t k = 0; k < c->nconsulted && !seen; k++)
				seen = c->consulted[k] == id;
			if (seen)
				continue;

			ds = catalogue_dataset(c->g->cfg,
					       json_string_value(json_object_get(neg, "dataset")),
					       &status, why, sizeof why);
			terms = offer_in(ds, json_string_value(json_object_get(
						     json_object_get(neg, "offer"), "@id")));
		}
		msg = gw_conn_auto_step(neg, terms);
		if (msg < 0 && strcmp(role, "provider") == 0 && strcmp(state, "REQUESTED") == 0) {
			int64_t *grown = realloc(c->consulted, (c->nconsulted + 1) * sizeof *grown);

			if (grown) {
				c->consulted = grown;
				c->consulted[c->nconsulted++] =
					json_integer_value(json_object_get(neg, "id"));
			}
		}
		if (msg == NDX_NEG_MSG_AGREEMENT)
			agree(c, neg, &r);
		else if (msg >= 0)
			step(c, json_integer_value(json_object_get(neg, "id")), (enum ndx_neg_msg)msg,
			     NULL, &r);
		json_decref(ds);
	}
	json_decref(list);
}

/* Deliveries due, and chains for the registry. */
static void pump(struct gw_connector *c)
{
	json_t *box = NULL, *m;
	size_t i;

	auto_steps(c);
	if (c->ninflight < INFLIGHT_MAX &&
	    gw_conn_outbox(c->store, now_ms(), INFLIGHT_MAX, &box) == NDX_OK) {
		json_array_foreach(box, i, m) {
			int64_t neg = json_integer_value(json_object_get(m, "neg"));
			int64_t seq = json_integer_value(json_object_get(m, "seq"));
			bool busy = false;

			for (size_t k = 0; k < c->ninflight; k++)
				busy |= c->inflight[k][0] == neg && c->inflight[k][1] == seq;
			if (!busy && c->ninflight < INFLIGHT_MAX)
				start_delivery(c, m);
		}
	}
	json_decref(box);
	box = NULL;
	if (gw_conn_unregistered(c->store, now_ms(), &box) == NDX_OK)
		json_array_foreach(box, i, m)
			register_chain(c, json_integer_value(json_object_get(m, "neg")),
				       json_integer_value(json_object_get(m, "attempts")));
	json_decref(box);
}

/* ---- the member's own endpoints ---------------------------------------------------- */

static void local_error(struct ndx_http_resp *resp, const struct gw_conn_refusal *r)
{
	neg_error(resp, r->status ? r->status : 500, r->code ? r->code : "Server.InternalError",
		  r->reason);
}

static void show(struct gw_connector *c, struct ndx_http_resp *resp, int64_t id, int status)
{
	json_t *neg = NULL;

	if (gw_conn_get(c->store, id, &neg) != NDX_OK) {
		neg_error(resp, 404, "Client.NotFound", "no such negotiation here");
		return;
	}
	ndx_http_resp_json(resp, status, neg);
}

static void start(struct gw_connector *c, struct cjob *j)
{
	json_t *in = j->req->body_len ? json_loadb((const char *)j->req->body, j->req->body_len,
						   JSON_REJECT_DUPLICATES, NULL)
				      : NULL;
	const char *dataset = json_string_value(json_object_get(in, "dataset"));
	const char *offer_id = json_string_value(json_object_get(in, "offer"));
	const char *provider;
	json_t *ds = NULL, *offer = NULL;
	const json_t *o;
	struct gw_conn_refusal r = { 0 };
	char why[256];
	int status;
	int64_t id;

	if (!dataset || !offer_id) {
		neg_error(j->resp, 400, "Client.InvalidRequest",
			  "expected {\"dataset\": ID, \"offer\": ID} of the registry's catalogue");
		goto out;
	}
	if (!(ds = catalogue_dataset(c->g->cfg, dataset, &status, why, sizeof why))) {
		neg_error(j->resp, status, status == 404 ? "Client.NotFound" : "Server.RegistryUnavailable",
			  why);
		goto out;
	}
	provider = json_string_value(json_object_get(json_object_get(ds, "dct:publisher"), "@id"));
	if (!(o = offer_in(ds, offer_id)) || !provider) {
		neg_error(j->resp, 404, "Client.NotFound",
			  "the dataset has no offer of that id in the catalogue");
		goto out;
	}
	if (!(offer = json_deep_copy(o)) ||
	    json_object_set_new(offer, "target", json_string(dataset))) {
		neg_error(j->resp, 500, "Server.InternalError", "out of memory");
		goto out;
	}
	/* Other terms than the catalogue offer's: a proposal, which the
	 * provider's officer decides on. */
	if (json_object_get(in, "terms")) {
		const json_t *t = json_object_get(in, "terms");

		if (!json_is_object(t) || !json_is_array(json_object_get(t, "permission"))) {
			neg_error(j->resp, 400, "Client.InvalidRequest",
				  "\"terms\" is an object with the proposal's \"permission\" "
				  "(and \"prohibition\", \"obligation\")");
			goto out;
		}
		for (const char *const *k = (const char *const[]){ "permission", "prohibition",
								     "obligation", NULL };
		     *k; k++) {
			if (json_object_get(t, *k))
				json_object_set(offer, *k, json_object_get(t, *k));
			else
				json_object_del(offer, *k);
		}
	}
	if (gw_conn_start(c->store, c->g->cfg->member, c->g->cfg->sign_key, provider, j->client,
			  offer, now_ms(), &id, &r) != NDX_OK) {
		local_error(j->resp, &r);
		goto out;
	}
	show(c, j->resp, id, 201);
out:
	json_decref(in);
	json_decref(ds);
	json_decref(offer);
}

static void local(struct gw_connector *c, struct cjob *j)
{
	const char *rest = j->req->path + strlen(LOCAL_PREFIX), *action;
	const char *method = j->req->method;
	struct gw_conn_refusal r = { 0 };
	json_t *neg = NULL, *in = NULL, *extra = NULL;
	char *end;
	long long id;
	int rc = NDX_OK;

	if (!*rest || strcmp(rest, "/") == 0) {
		if (strcmp(method, "POST") == 0) {
			start(c, j);
		} else if (strcmp(method, "GET") == 0) {
			json_t *list = NULL;

			if (gw_conn_list(c->store, 1000, &list) != NDX_OK)
				neg_error(j->resp, 500, "Server.InternalError",
					  "the connector store cannot be read");
			else
				ndx_http_resp_json(j->resp, 200,
						   json_pack("{so}", "negotiations", list));
		} else {
			neg_error(j->resp, 405, "Client.BadMethod",
				  "GET lists the negotiations, POST starts one");
		}
		goto out;
	}
	id = strtoll(rest + 1, &end, 10);
	if (rest[0] != '/' || end == rest + 1 || id <= 0 || (*end && *end != '/') ||
	    gw_conn_get(c->store, id, &neg) != NDX_OK) {
		neg_error(j->resp, 404, "Client.NotFound", "no such negotiation here");
		goto out;
	}
	action = *end ? end + 1 : "";
	if (!*action) {
		if (strcmp(method, "GET") != 0)
			neg_error(j->resp, 405, "Client.BadMethod", "a negotiation is read with GET");
		else
			show(c, j->resp, id, 200);
		goto out;
	}
	if (strcmp(action, "messages") == 0 && strcmp(method, "GET") == 0) {
		json_t *chain = NULL;

		if (gw_conn_chain(c->store, id, &chain) != NDX_OK)
			neg_error(j->resp, 500, "Server.InternalError",
				  "the connector store cannot be read");
		else
			ndx_http_resp_json(
				j->resp, 200,
				json_pack("{sssOsOso}", "@type", "ndx:NegotiationMessages",
					  "providerPid", json_object_get(neg, "providerPid"),
					  "consumerPid", json_object_get(neg, "consumerPid"),
					  "messages", chain));
		goto out;
	}
	if (strcmp(method, "POST") != 0) {
		neg_error(j->resp, 405, "Client.BadMethod", "a step is a POST");
		goto out;
	}
	in = j->req->body_len ? json_loadb((const char *)j->req->body, j->req->body_len,
					   JSON_REJECT_DUPLICATES, NULL)
			      : json_object();
	if (!json_is_object(in)) {
		neg_error(j->resp, 400, "Client.InvalidRequest", "the body is no JSON object");
		goto out;
	}
	{
		bool provider = strcmp(json_string_value(json_object_get(neg, "role")), "provider") == 0;

		if (strcmp(action, "agree") == 0 && provider) {
			rc = agree(c, neg, &r);
		} else if ((strcmp(action, "offer") == 0 && provider) ||
			   (strcmp(action, "request") == 0 && !provider)) {
			json_t *o = json_object_get(in, "offer");

			if (!json_is_object(o)) {
				neg_error(j->resp, 400, "Client.InvalidRequest",
					  "expected {\"offer\": {...}} with the new terms");
				goto out;
			}
			o = json_deep_copy(o);
			if (o && !json_object_get(o, "target"))
				json_object_set(o, "target", json_object_get(neg, "dataset"));
			extra = json_pack("{so}", "offer", o);
			rc = step(c, id, provider ? NDX_NEG_MSG_OFFER : NDX_NEG_MSG_REQUEST, extra, &r);
		} else if (strcmp(action, "accept") == 0 && !provider) {
			rc = step(c, id, NDX_NEG_MSG_ACCEPTED, NULL, &r);
		} else if (strcmp(action, "terminate") == 0) {
			const char *reason = json_string_value(json_object_get(in, "reason"));

			if (reason)
				extra = json_pack("{s[{ss}]}", "reason", "@value", reason);
			rc = step(c, id, NDX_NEG_MSG_TERMINATION, extra, &r);
		} else {
			neg_error(j->resp, 404, "Client.NotFound",
				  provider ? "the provider's steps are agree, offer, terminate"
					   : "the consumer's steps are accept, request, terminate");
			goto out;
		}
	}
	if (rc != NDX_OK)
		local_error(j->resp, &r);
	else
		show(c, j->resp, id, 200);
out:
	json_decref(neg);
	json_decref(in);
	json_decref(extra);
	answer(j);
}

/* ---- the thread -------------------------------------------------------------------- */

static void *thread_main(void *arg)
{
	struct gw_connector *c = arg;

	for (;;) {
		struct cjob *list, *j;
		struct timespec until;

		pthread_mutex_lock(&c->mu);
		if (!c->head && !c->stop) {
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += TICK_MS / 1000;
			pthread_cond_timedwait(&c->cv, &c->mu, &until);
		}
		list = c->head;
		c->head = c->tail = NULL;
		if (c->stop && !list) {
			pthread_mutex_unlock(&c->mu);
			break;
		}
		pthread_mutex_unlock(&c->mu);
		while ((j = list)) {
			list = j->next;
			switch (j->kind) {
			case J_RECEIVE: receive(c, j); break;
			case J_LOCAL: local(c, j); break;
			case J_DELIVERED:
				outcome(c, j->d);
				free(j);
				break;
			}
		}
		pthread_mutex_lock(&c->mu);
		if (c->stop) {
			pthread_mutex_unlock(&c->mu);
			continue; /* answer what is left, start nothing */
		}
		pthread_mutex_unlock(&c->mu);
		pump(c);
	}
	return NULL;
}

int gw_connector_start(struct gw_ctx *g, struct gw_connector **out, char *why, size_t cap)
{
	struct gw_connector *c = calloc(1, sizeof *c);
	int rc;

	*out = NULL;
	if (!c) {
		snprintf(why, cap, "out of memory");
		return NDX_ENOMEM;
	}
	c->g = g;
	rc = gw_conn_store_open(g->cfg->connector_path, &c->store);
	if (rc != NDX_OK) {
		/* never the connection string: it is printed nowhere */
		snprintf(why, cap, "cannot open its store (the reason is above)");
		free(c);
		return rc;
	}
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	if (pthread_create(&c->thread, NULL, thread_main, c) != 0) {
		snprintf(why, cap, "cannot start its thread");
		gw_connector_free(c);
		return NDX_EIO;
	}
	pthread_setname_np(c->thread, "gw-connector");
	c->started = true;
	*out = c;
	return NDX_OK;
}

void gw_connector_stop(struct gw_connector *c)
{
	if (!c || !c->started)
		return;
	pthread_mutex_lock(&c->mu);
	c->stop = true;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
	pthread_join(c->thread, NULL);
	c->started = false;
}

void gw_connector_free(struct gw_connector *c)
{
	struct cjob *j;

	if (!c)
		return;
	gw_connector_stop(c);
	/* Outcomes that came after the stop (the loops finishing): the
	 * messages stay in the outbox and go again after a restart. */
	while ((j = c->head)) {
		c->head = j->next;
		if (j->kind == J_DELIVERED)
			delivery_free(j->d);
		else
			neg_error(j->resp, 503, "Server.Stopping", "the gateway is stopping");
		if (j->kind == J_DELIVERED)
			free(j);
		else
			answer(j);
	}
	gw_conn_store_close(c->store);
	free(c->consulted);
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->cv);
	free(c);
}

/* ---- the ports ------------------------------------------------------------------- */

/* A delivery refused before it reaches the connector's thread: the answer,
 * and the code its dsp_in record gets. */
static const char *refuse_delivery(struct ndx_http_resp *resp, int status, const char *code,
				   const char *reason)
{
	neg_error(resp, status, code, reason);
	return code;
}

void gw_connector_deliver(struct gw_ctx *g, const struct ndx_http_req *req,
			  struct ndx_http_resp *resp)
{
	struct gw_view v;
	const struct ndx_conf_gateway *peer = NULL;
	char fp[2 * NDX_SHA256_LEN + 1];
	struct cjob *j;
	const char *refused = NULL;
	int64_t t_in = gw_opmon_now_ms();

	if (!g->connector) {
		record_in(g, req, resp, NULL, NULL, t_in,
			  refuse_delivery(resp, 503, "Server.NoConnector",
					  "this gateway runs no connector"));
		return;
	}
	gw_state_acquire(g->state, &v);
	if (!gw_view_live(&v, time(NULL))) {
		refused = refuse_delivery(resp, 503, "Server.NoConfiguration",
					  "the gateway holds no valid global configuration");
		goto out;
	}
	if (!(peer = gw_calling_gateway(v.c->conf, req, fp))) {
		refused = refuse_delivery(resp, 401, "Client.Unauthenticated",
					  "a message comes from a gateway of the configuration, "
					  "with its certificate, neither revoked");
		goto out;
	}
	/* A member whose messages keep being refused waits, before any
	 * signature is verified (docs/security.md T35, T129). */
	if (g->refusals && !gw_peerlimit_allows(g->refusals, peer->member, mono_ms())) {
		char ra[16];
		unsigned after = gw_peerlimit_retry_after(g->refusals, peer->member, mono_ms());

		snprintf(ra, sizeof ra, "%u", after ? after : 1);
		refused = refuse_delivery(resp, 429, "Client.TooManyRefusals",
					  "too many messages of this member were refused; retry "
					  "later");
		ndx_http_resp_header(resp, "Retry-After", ra);
		goto out;
	}
	if (strcmp(req->method, "POST") != 0) {
		refused = refuse_delivery(resp, 405, "Client.BadMethod", "a message is a POST");
		goto out;
	}
	if (!(j = calloc(1, sizeof *j))) {
		refused = refuse_delivery(resp, 500, "Server.InternalError", "out of memory");
		goto out;
	}
	j->kind = J_RECEIVE;
	j->req = req;
	j->resp = resp;
	j->t_in = t_in;
	snprintf(j->peer, sizeof j->peer, "%s", peer->member);
	gw_gateway_name(peer->member, peer->code, j->peer_gateway, sizeof j->peer_gateway);
	j->pending = ndx_http_defer(req);
	if (!post(g->connector, j)) {
		/* Recorded before the answer resumes: req and resp go with it. */
		record_in(g, req, resp, peer->member, j->peer_gateway, t_in,
			  refuse_delivery(resp, 503, "Server.Stopping",
					  "the gateway is stopping"));
		answer(j);
	}
out:
	if (refused)
		record_in(g, req, resp, peer ? peer->member : NULL, NULL, t_in, refused);
	gw_view_release(&v);
}

bool gw_connector_local(struct gw_ctx *g, const struct gw_view *v, const struct ndx_http_req *req,
			struct ndx_http_resp *resp, bool tls)
{
	const char *h, *why = NULL;
	bool ok;
	struct ndx_id id;
	char client[NDX_ID_TEXT_MAX];
	struct cjob *j;
	enum gw_reason r;
	size_t n = strlen(LOCAL_PREFIX);

	if (strncmp(req->path, LOCAL_PREFIX, n) != 0 || (req->path[n] && req->path[n] != '/'))
		return false;
	if (!g->connector) {
		neg_error(resp, 503, "Server.NoConnector", "this gateway runs no connector");
		return true;
	}
	h = gw_header(req, "X-Road-Client", &ok);
	if (!ok || !h || ndx_id_parse(h, strlen(h), NDX_ID_SUBSYSTEM, &id, &why) != NDX_OK ||
	    ndx_id_format(&id, client, sizeof client) < 0) {
		gw_refusal(resp, req, GW_R_INVALID_CLIENT, GW_SIDE_CONSUMER, NULL,
			   "X-Road-Client must name a subsystem: %s",
			   why ? why : (h ? "malformed" : "missing"));
		return true;
	}
	if (!gw_settings_has_subsystem(v->s, client)) {
		gw_refusal(resp, req, GW_R_UNKNOWN_CLIENT, GW_SIDE_CONSUMER, client,
			   "%s is not a subsystem of this gateway", client);
		return true;
	}
	if ((r = gw_client_connection(v->s, client, req, tls)) != GW_R_COUNT) {
		gw_refusal(resp, req, r, GW_SIDE_CONSUMER, client, "%s must connect over TLS%s",
			   client,
			   r == GW_R_AUTHENTICATION_FAILED ? " with a registered certificate" : "");
		return true;
	}
	if (!(j = calloc(1, sizeof *j))) {
		neg_error(resp, 500, "Server.InternalError", "out of memory");
		return true;
	}
	j->kind = J_LOCAL;
	j->req = req;
	j->resp = resp;
	snprintf(j->client, sizeof j->client, "%s", client);
	j->pending = ndx_http_defer(req);
	if (!post(g->connector, j)) {
		neg_error(resp, 503, "Server.Stopping", "the gateway is stopping");
		answer(j);
	}
	return true;
}
