/* Events: the requests of the two ports (events_int.h). On the consumer
 * port, from this gateway's own client systems: publish, inbox, ack, status
 * and dead letters; on the gateway port, a delivery from a publisher's
 * gateway. Each is checked on the port's thread and handed, deferred, to the
 * events thread as a job. */
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "events_int.h"
#include "evstore.h"
#include "exchlog.h"
#include "gateway.h"
#include "gwloop.h"
#include "opmon.h"
#include "peerlimit.h"
#include "signer.h"
#include "subjects.h"
#include "xfer.h"
#include "ndx/args.h"
#include "ndx/encode.h"
#include "ndx/err.h"
#include "ndx/hash.h"
#include "ndx/id.h"
#include "ndx/loop.h"
#include "ndx/schema.h"

/* ---- the consumer port ------------------------------------------------------ */

/* The client subsystem of a consumer-port request: X-Road-Client, one of
 * this gateway's subsystems, connected the way its settings ask. Refuses
 * into resp and returns false otherwise. */
static bool local_client(struct gw_ctx *g, const struct gw_view *v,
			 const struct ndx_http_req *req, struct ndx_http_resp *resp, bool tls,
			 char client[NDX_ID_TEXT_MAX])
{
	bool ok;
	const char *h = gw_header(req, "X-Road-Client", &ok), *why = NULL;
	struct ndx_id id;
	enum gw_reason r;

	(void)g;
	if (!ok || !h || ndx_id_parse(h, strlen(h), NDX_ID_SUBSYSTEM, &id, &why) != NDX_OK ||
	    ndx_id_format(&id, client, NDX_ID_TEXT_MAX) < 0) {
		gw_refusal(resp, req, GW_R_INVALID_CLIENT, GW_SIDE_CONSUMER, NULL,
			   "X-Road-Client must name a subsystem: %s",
			   why ? why : (h ? "malformed" : "missing"));
		return false;
	}
	if (!gw_settings_has_subsystem(v->s, client)) {
		gw_refusal(resp, req, GW_R_UNKNOWN_CLIENT, GW_SIDE_CONSUMER, client,
			   "%s is not a subsystem of this gateway", client);
		return false;
	}
	if ((r = gw_client_connection(v->s, client, req, tls)) != GW_R_COUNT) {
		gw_refusal(resp, req, r, GW_SIDE_CONSUMER, client,
			   "%s must connect over TLS%s", client,
			   r == GW_R_AUTHENTICATION_FAILED ? " with a registered certificate" : "");
		return false;
	}
	return true;
}

/* POST /e1/{serviceId}/{name}: checks on the port's thread, then the
 * events thread keeps it. */
static void publish(struct gw_events *ev, const struct gw_view *v, const struct ndx_http_req *req,
		    struct ndx_http_resp *resp, const char *client, const char *rest)
{
	const struct ndx_conf *conf = v->c->conf;
	const struct ndx_conf_event_type *et;
	const struct ndx_conf_service *svc;
	char service[NDX_ID_TEXT_MAX], subsystem[NDX_ID_TEXT_MAX], subject[GW_SUBJECTS_TEXT_MAX];
	char err[512];
	struct ndx_id sid, parent;
	size_t used = 0, count = 0;
	const char *why = NULL, *name, *declared, *given;
	json_t *payload;
	json_error_t jerr;
	bool ok;
	struct job *j;
	struct ndx_event_hash_input hin;
	int rc;

	if (strcmp(req->method, "POST") != 0) {
		gw_refusal(resp, req, GW_R_BAD_METHOD, GW_SIDE_CONSUMER, req->method,
			   "an event is published with POST");
		return;
	}
	if (ndx_id_parse_prefix(rest, strlen(rest), NDX_ID_SERVICE, &sid, &used, &why) != NDX_OK ||
	    ndx_id_format(&sid, service, sizeof service) < 0 || rest[used] != '/') {
		gw_refusal(resp, req, GW_R_INVALID_SERVICE, GW_SIDE_CONSUMER, NULL,
			   "expected /e1/{serviceId}/{eventType}: %s", why ? why : "no event type");
		return;
	}
	name = rest + used + 1;
	if (atomic_load(&ev->queued) >= EV_OUTBOX_MAX) {
		gw_refusal(resp, req, GW_R_BUSY, GW_SIDE_CONSUMER, NULL,
			   "the outbox holds %d undelivered deliveries; retry later",
			   EV_OUTBOX_MAX);
		return;
	}
	et = ndx_conf_event_type(conf, service, name);
	if (!et) {
		gw_refusal(resp, req, GW_R_UNKNOWN_EVENT_TYPE, GW_SIDE_CONSUMER, NULL,
			   "%s has no event type %.64s in the global configuration", service,
			   name);
		return;
	}
	/* Only the service's own subsystem speaks for its data. */
	if (ndx_id_parent(&sid, NDX_ID_SUBSYSTEM, &parent) != NDX_OK ||
	    ndx_id_format(&parent, subsystem, sizeof subsystem) < 0 ||
	    strcmp(subsystem, client) != 0) {
		gw_refusal(resp, req, GW_R_NOT_PUBLISHER, GW_SIDE_CONSUMER, client,
			   "%s may not publish events of %s: only %s does", client, service,
			   subsystem);
		return;
	}
	svc = ndx_conf_service_of(conf, service);
	declared = gw_header(req, "Ndx-Data-Subjects", &ok);
	subject[0] = '\0';
	if (!ok) {
		gw_refusal(resp, req, GW_R_BAD_HEADER, GW_SIDE_CONSUMER, NULL,
			   "Ndx-Data-Subjects is malformed");
		return;
	}
	if (svc && svc->personal) {
		if (!declared || !declared[0] || strcmp(declared, "none") == 0) {
			gw_refusal(resp, req, GW_R_SUBJECT_MISSING, GW_SIDE_CONSUMER, NULL,
				   "an event of a personal-data service names its subject in "
				   "Ndx-Data-Subjects");
			return;
		}
		if (gw_subjects_canonical(declared, subject, sizeof subject, &count, &why) !=
			    NDX_OK ||
		    count != 1) {
			gw_refusal(resp, req, GW_R_SUBJECT_INVALID, GW_SIDE_CONSUMER, NULL,
				   "Ndx-Data-Subjects: %s",
				   count > 1 ? "an event concerns exactly one person" : why);
			return;
		}
	} else if (declared && declared[0] && strcmp(declared, "none") != 0) {
		gw_refusal(resp, req, GW_R_SUBJECT_INVALID, GW_SIDE_CONSUMER, NULL,
			   "%s does not hold personal data: its events name no subject", service);
		return;
	}
	payload = req->body_len ? json_loadb((const char *)req->body, req->body_len,
					     JSON_REJECT_DUPLICATES, &jerr)
				: NULL;
	if (!payload) {
		gw_refusal(resp, req, GW_R_PAYLOAD_INVALID, GW_SIDE_CONSUMER, NULL,
			   "the payload is not one JSON value: %s",
			   req->body_len ? jerr.text : "the body is empty");
		return;
	}
	rc = ev_validate(ev, conf, et, payload, err, sizeof err);
	json_decref(payload);
	if (rc != NDX_OK) {
		/* The detail names the field ("/died_on: ..."); never a PIN. */
		gw_redact_pins(err);
		if (rc == NDX_EINVAL)
			gw_refusal(resp, req, GW_R_PAYLOAD_INVALID, GW_SIDE_CONSUMER, err,
				   "the payload breaks the schema of %s: %s", name, err);
		else
			gw_refusal(resp, req, GW_R_MISCONFIGURED, GW_SIDE_CONSUMER, NULL,
				   "the schema of %s cannot be used: %s", name, err);
		return;
	}
	/* The publisher may name the event itself, so that a publish repeated
	 * after a lost answer is the same event (docs/events.md). */
	given = gw_header(req, "Ndx-Event-Id", &ok);
	if (!(j = calloc(1, sizeof *j))) {
		gw_refusal(resp, req, GW_R_INTERNAL, GW_SIDE_CONSUMER, NULL, "out of memory");
		return;
	}
	if (given && (!ok || !ev_copy_id(given, strlen(given), j->e.id))) {
		ev_job_free(j);
		gw_refusal(resp, req, GW_R_BAD_HEADER, GW_SIDE_CONSUMER, NULL,
			   "Ndx-Event-Id must be a UUID in lower-case hex with dashes");
		return;
	}
	if (!(j->service = strdup(service)) || !(j->name = strdup(name)) ||
	    !(j->publisher = strdup(client)) || !(j->subject = strdup(subject)) ||
	    !(j->payload = malloc(req->body_len)) || (!given && gw_uuid(j->e.id) != NDX_OK)) {
		ev_job_free(j);
		gw_refusal(resp, req, GW_R_INTERNAL, GW_SIDE_CONSUMER, NULL, "out of memory");
		return;
	}
	memcpy(j->payload, req->body, req->body_len);
	j->kind = JOB_PUBLISH;
	j->req = req;
	j->resp = resp;
	j->side = GW_SIDE_CONSUMER;
	j->e.payload_len = req->body_len;
	j->e.time_ms = ev_now_ms();
	ev_job_event_view(j);
	memset(&hin, 0, sizeof hin);
	hin.id = j->e.id;
	hin.service = service;
	hin.name = name;
	hin.publisher = client;
	hin.subject = subject;
	hin.time_ms = j->e.time_ms;
	hin.gateway = ev->g->name;
	ndx_sha256(req->body, req->body_len, hin.payload_sha256);
	ndx_event_hash(&hin, j->e.hash);
	j->pending = ndx_http_defer(req);
	if (!ev_post(ev, j)) {
		ev_refuse_job(j, GW_R_EVENT_STORE_UNAVAILABLE, "the gateway is stopping");
		ev_job_free(j);
	}
}

/* Reads ?after=SEQ&limit=1..EV_PAGE_MAX&unacked=0|1 (each optional) with
 * the server's query parser and ndx_args_uint. False when one is malformed. */
static bool inbox_query(const struct ndx_http_req *req, int64_t *after, size_t *limit,
			bool *unacked)
{
	const char *a = ndx_http_query_arg(req, "after"), *l = ndx_http_query_arg(req, "limit"),
		   *u = ndx_http_query_arg(req, "unacked");
	unsigned long long n;

	*after = 0;
	*limit = 100;
	*unacked = false;
	if (a) {
		if (ndx_args_uint(a, 0, INT64_MAX, &n) != NDX_OK)
			return false;
		*after = (int64_t)n;
	}
	if (l) {
		if (ndx_args_uint(l, 1, EV_PAGE_MAX, &n) != NDX_OK)
			return false;
		*limit = (size_t)n;
	}
	if (u) {
		if (ndx_args_uint(u, 0, 1, &n) != NDX_OK)
			return false;
		*unacked = n == 1;
	}
	return true;
}

/* An event id in a path: a UUID as this gateway writes them. */
bool ev_copy_id(const char *s, size_t len, char out[GW_UUID_LEN])
{
	if (len != GW_UUID_LEN - 1)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
	}
	memcpy(out, s, len);
	out[len] = '\0';
	return true;
}

static struct job *request_job(enum job_kind kind, const struct ndx_http_req *req,
			       struct ndx_http_resp *resp, const char *client)
{
	struct job *j = calloc(1, sizeof *j);

	if (!j || !(j->client = strdup(client))) {
		free(j);
		gw_refusal(resp, req, GW_R_INTERNAL, GW_SIDE_CONSUMER, NULL, "out of memory");
		return NULL;
	}
	j->kind = kind;
	j->req = req;
	j->resp = resp;
	j->side = GW_SIDE_CONSUMER;
	return j;
}

static void hand_over(struct gw_events *ev, struct job *j)
{
	j->pending = ndx_http_defer(j->req);
	if (!ev_post(ev, j)) {
		ev_refuse_job(j, GW_R_EVENT_STORE_UNAVAILABLE, "the gateway is stopping");
		ev_job_free(j);
	}
}

void gw_events_consumer(struct gw_ctx *g, const struct ndx_http_req *req,
			struct ndx_http_resp *resp, bool tls)
{
	struct gw_events *ev = g->events;
	const char *rest = req->path + strlen(EV_SERVICE_PREFIX);
	char client[NDX_ID_TEXT_MAX];
	struct gw_view v;
	struct job *j = NULL;
	bool is_get = strcmp(req->method, "GET") == 0, is_post = strcmp(req->method, "POST") == 0;

	gw_state_acquire(g->state, &v);
	if (!ev) {
		gw_refusal(resp, req, GW_R_EVENT_STORE_UNAVAILABLE, GW_SIDE_CONSUMER, NULL,
			   "this gateway has no event store");
		goto out;
	}
	if (!gw_view_live(&v, time(NULL))) {
		gw_refusal(resp, req, GW_R_NO_CONFIGURATION, GW_SIDE_CONSUMER, NULL,
			   "the gateway holds no valid global configuration");
		goto out;
	}
	if (!local_client(g, &v, req, resp, tls, client))
		goto out;
	if (strcmp(rest, "inbox") == 0) {
		if (!is_get) {
			gw_refusal(resp, req, GW_R_BAD_METHOD, GW_SIDE_CONSUMER, req->method,
				   "/e1/inbox answers GET");
			goto out;
		}
		if (!(j = request_job(JOB_QUERY, req, resp, client)))
			goto out;
		j->query = Q_INBOX;
		if (!inbox_query(req, &j->after, &j->limit, &j->unacked_only)) {
			gw_refusal(resp, req, GW_R_METASERVICE_QUERY, GW_SIDE_CONSUMER, NULL,
				   "the inbox takes after=SEQ, limit=1..%d and unacked=0|1",
				   EV_PAGE_MAX);
			ev_job_free(j);
			goto out;
		}
	} else if (strncmp(rest, "inbox/", 6) == 0) {
		const char *id = rest + 6, *slash = strchr(id, '/');

		if (!slash || strcmp(slash, "/ack") != 0 || !is_post) {
			gw_refusal(resp, req, is_post ? GW_R_BAD_PATH : GW_R_BAD_METHOD,
				   GW_SIDE_CONSUMER, NULL, "%s",
				   "an event is acknowledged with POST /e1/inbox/{id}/ack");
			goto out;
		}
		if (!(j = request_job(JOB_ACK, req, resp, client)))
			goto out;
		if (!ev_copy_id(id, (size_t)(slash - id), j->id)) {
			gw_refusal(resp, req, GW_R_UNKNOWN_EVENT, GW_SIDE_CONSUMER, NULL, "%s",
				   "not an event id");
			ev_job_free(j);
			goto out;
		}
	} else if (strncmp(rest, "events/", 7) == 0) {
		if (!is_get) {
			gw_refusal(resp, req, GW_R_BAD_METHOD, GW_SIDE_CONSUMER, req->method,
				   "/e1/events/{id} answers GET");
			goto out;
		}
		if (!(j = request_job(JOB_QUERY, req, resp, client)))
			goto out;
		j->query = Q_STATUS;
		if (!ev_copy_id(rest + 7, strlen(rest + 7), j->id)) {
			gw_refusal(resp, req, GW_R_UNKNOWN_EVENT, GW_SIDE_CONSUMER, NULL, "%s",
				   "not an event id");
			ev_job_free(j);
			goto out;
		}
	} else if (strcmp(rest, "dead") == 0) {
		if (!is_get) {
			gw_refusal(resp, req, GW_R_BAD_METHOD, GW_SIDE_CONSUMER, req->method,
				   "/e1/dead answers GET");
			goto out;
		}
		if (!(j = request_job(JOB_QUERY, req, resp, client)))
			goto out;
		j->query = Q_DEAD;
		if (!inbox_query(req, &j->after, &j->limit, &j->unacked_only) ||
		    j->unacked_only) {
			gw_refusal(resp, req, GW_R_METASERVICE_QUERY, GW_SIDE_CONSUMER, NULL,
				   "the dead-letter list takes after=SEQ and limit=1..%d",
				   EV_PAGE_MAX);
			ev_job_free(j);
			goto out;
		}
	} else if (strncmp(rest, "dead/", 5) == 0) {
		/* POST /e1/dead/{id}/replay?subscriber={subsystem id} */
		const char *id = rest + 5, *slash = strchr(id, '/'),
			   *q = ndx_http_query_arg(req, "subscriber");
		struct ndx_id sub;
		char subscriber[NDX_ID_TEXT_MAX];
		const char *why = NULL;

		if (!is_post || !slash || strcmp(slash, "/replay") != 0) {
			gw_refusal(resp, req, is_post ? GW_R_BAD_PATH : GW_R_BAD_METHOD,
				   GW_SIDE_CONSUMER, NULL, "%s",
				   "a dead delivery is replayed with POST "
				   "/e1/dead/{id}/replay?subscriber={subsystemId}");
			goto out;
		}
		if (!q || ndx_id_parse(q, strlen(q), NDX_ID_SUBSYSTEM, &sub, &why) != NDX_OK ||
		    ndx_id_format(&sub, subscriber, sizeof subscriber) < 0) {
			gw_refusal(resp, req, GW_R_METASERVICE_QUERY, GW_SIDE_CONSUMER, NULL,
				   "subscriber= must name a subsystem: %s", why ? why : "missing");
			goto out;
		}
		if (!(j = request_job(JOB_REPLAY, req, resp, client)))
			goto out;
		if (!ev_copy_id(id, (size_t)(slash - id), j->id) || !(j->purpose = strdup(subscriber))) {
			gw_refusal(resp, req, GW_R_UNKNOWN_EVENT, GW_SIDE_CONSUMER, NULL, "%s",
				   "not an event id");
			ev_job_free(j);
			goto out;
		}
	} else {
		publish(ev, &v, req, resp, client, rest);
		goto out;
	}
	hand_over(ev, j);
out:
	gw_view_release(&v);
}

/* ---- the gateway port: a delivery from the publisher's gateway ------------- */

/* A header of a delivery, NULL (and *bad set) when absent or malformed. */
static const char *need(const struct ndx_http_req *req, const char *name, const char **bad)
{
	bool ok;
	const char *v = gw_header(req, name, &ok);

	if (!ok || !v || !v[0]) {
		if (!*bad)
			*bad = name;
		return NULL;
	}
	return v;
}

/* When the delivery being checked on this thread arrived (Unix ms): the
 * checks run synchronously, from gw_events_deliver, on the port's thread. */
static _Thread_local int64_t deliver_t_in;

/* A delivery's operational monitoring record (role event_in, opmon.h):
 * refused (r its reason) or accepted for keeping (r = GW_R_COUNT: its
 * answer is the events thread's, so no status or response_out). The
 * headers are the sender's: nothing is taken that could be personal (the
 * subject never; digits' segments of the name replaced). */
static void record_in(struct gw_ctx *g, const struct ndx_conf_gateway *peer,
		      const struct ndx_http_req *req, struct ndx_http_resp *resp, enum gw_reason r)
{
	struct gw_opmon_in in = { 0 };
	char cgw[NDX_ID_TEXT_MAX + 64], name[GW_OPMON_PATH_CAP], id[GW_UUID_LEN];
	char client[GW_OPMON_ID_CAP], service[GW_OPMON_ID_CAP];
	const char *h, *ct;
	const void *body;
	size_t len = 0;
	int status = 0;
	bool ok;
	struct ndx_id parsed;

	if (!g->opmon)
		return;
	in.role = GW_OPMON_EVENT_IN;
	in.method = "EVENT";
	if ((h = gw_header(req, "Ndx-Event-Id", &ok)) && ok && ev_copy_id(h, strlen(h), id))
		in.message_id = id;
	if ((h = gw_header(req, "Ndx-Event-Client", &ok)) && ok &&
	    ndx_id_parse(h, strlen(h), NDX_ID_SUBSYSTEM, &parsed, NULL) == NDX_OK &&
	    ndx_id_format(&parsed, client, sizeof client) >= 0) {
		gw_redact_pins(client);
		in.client = client;
	}
	if ((h = gw_header(req, "Ndx-Event-Service", &ok)) && ok &&
	    ndx_id_parse(h, strlen(h), NDX_ID_SERVICE, &parsed, NULL) == NDX_OK &&
	    ndx_id_format(&parsed, service, sizeof service) >= 0) {
		gw_redact_pins(service);
		in.service = service;
	}
	if ((h = gw_header(req, "Ndx-Event-Name", &ok)) && ok) {
		gw_opmon_redact_path(h, name, sizeof name);
		in.path_template = name;
	}
	if ((h = gw_header(req, "Ndx-Event-Purpose", &ok)) && ok)
		in.purpose = h;
	h = gw_header(req, "Ndx-Event-Subject", &ok);
	in.personal = h && h[0];
	if (peer && gw_gateway_name(peer->member, peer->code, cgw, sizeof cgw) == NDX_OK)
		in.service_gateway = cgw; /* the publisher's gateway serves the event */
	in.client_gateway = g->name;
	in.request_in = deliver_t_in ? deliver_t_in : gw_opmon_now_ms();
	in.request_out = in.response_in = GW_OPMON_NONE;
	in.request_size = (int64_t)req->body_len;
	if (r == GW_R_COUNT) {
		in.response_out = GW_OPMON_NONE;
		in.response_size = GW_OPMON_NONE;
		in.success = true;
	} else {
		if (ndx_http_resp_view(resp, &status, &ct, &body, &len) != NDX_OK)
			status = 0;
		in.response_out = gw_opmon_now_ms();
		in.response_size = (int64_t)len;
		in.error_type = gw_reason_type(r, GW_SIDE_PROVIDER);
		in.status = status;
	}
	in.peer_ms = in.provider_ms = GW_OPMON_NONE;
	gw_opmon_record(g->opmon, &in);
}

/* A refusal of a delivery; one the sending gateway caused counts against
 * its member's refusal budget (peerlimit.h), as on the exchange port. */
__attribute__((format(printf, 6, 7))) static void refuse_peer(struct gw_ctx *g,
							       const struct ndx_conf_gateway *peer,
							       const struct ndx_http_req *req,
							       struct ndx_http_resp *resp,
							       enum gw_reason r, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	gw_refusal(resp, req, r, GW_SIDE_PROVIDER, NULL, "%s", msg);
	record_in(g, peer, req, resp, r);
	if (peer && gw_reason_info(r)->callers_fault)
		gw_peerlimit_charge(g->refusals, peer->member, ev_mono_ms());
}

void gw_events_deliver(struct gw_ctx *g, const struct ndx_http_req *req,
		       struct ndx_http_resp *resp)
{
	struct gw_events *ev = g->events;
	struct gw_view v;
	const struct ndx_conf *conf;
	const struct ndx_conf_gateway *peer = NULL;
	const struct ndx_conf_event_type *et;
	const struct ndx_conf_subscription *sub;
	const struct ndx_conf_service *svc;
	char fp[2 * NDX_SHA256_LEN + 1], err[512], member[NDX_ID_TEXT_MAX];
	char canonical[GW_SUBJECTS_TEXT_MAX];
	size_t count = 0;
	const char *why = NULL, *bad = NULL, *id, *service, *name, *publisher, *subject, *time_text, *client,
		   *purpose, *sig;
	struct ndx_event_hash_input hin;
	struct ndx_event_receipt_hash_input rin;
	struct job *j = NULL;
	char *end;
	long long t;
	json_t *payload;

	deliver_t_in = gw_opmon_now_ms();
	gw_state_acquire(g->state, &v);
	if (!ev) {
		refuse_peer(g, peer, req, resp, GW_R_EVENT_STORE_UNAVAILABLE,
			   "this gateway has no event store");
		goto out;
	}
	if (!gw_view_live(&v, time(NULL))) {
		refuse_peer(g, peer, req, resp, GW_R_NO_CONFIGURATION,
			   "the gateway holds no valid global configuration");
		goto out;
	}
	conf = v.c->conf;
	if (!(peer = gw_calling_gateway(conf, req, fp))) {
		gw_refusal(resp, req, GW_R_UNAUTHENTICATED, GW_SIDE_PROVIDER, NULL,
			   "a delivery comes from a gateway of the configuration, with its "
			   "certificate, neither revoked");
		record_in(g, NULL, req, resp, GW_R_UNAUTHENTICATED);
		goto out;
	}
	/* A member whose deliveries keep being refused waits, before any
	 * signature is verified (docs/security.md T35). */
	{
		int64_t mono = ev_mono_ms();
		unsigned after;
		char ra[16];

		if (!gw_peerlimit_allows(g->refusals, peer->member, mono)) {
			after = gw_peerlimit_retry_after(g->refusals, peer->member, mono);
			snprintf(ra, sizeof ra, "%u", after ? after : 1);
			gw_refusal(resp, req, GW_R_TOO_MANY_REFUSALS, GW_SIDE_PROVIDER, peer->member,
				   "too many deliveries of %s were refused; retry after %s s",
				   peer->member, ra);
			ndx_http_resp_header(resp, "Retry-After", ra);
			record_in(g, peer, req, resp, GW_R_TOO_MANY_REFUSALS);
			goto out;
		}
	}
	if (strcmp(req->method, "POST") != 0) {
		refuse_peer(g, peer, req, resp, GW_R_BAD_METHOD, "a delivery is a POST");
		goto out;
	}
	id = need(req, "Ndx-Event-Id", &bad);
	service = need(req, "Ndx-Event-Service", &bad);
	name = need(req, "Ndx-Event-Name", &bad);
	publisher = need(req, "Ndx-Event-Publisher", &bad);
	time_text = need(req, "Ndx-Event-Time", &bad);
	client = need(req, "Ndx-Event-Client", &bad);
	sig = need(req, "Ndx-Signature", &bad);
	{
		bool ok1, ok2;

		subject = gw_header(req, "Ndx-Event-Subject", &ok1);
		purpose = gw_header(req, "Ndx-Event-Purpose", &ok2);
		if (!ok1 || !ok2)
			bad = !ok1 ? "Ndx-Event-Subject" : "Ndx-Event-Purpose";
	}
	if (bad) {
		refuse_peer(g, peer, req, resp, GW_R_BAD_HEADER,
			   "the delivery's %s header is missing or malformed", bad);
		goto out;
	}
	subject = subject ? subject : "";
	purpose = purpose ? purpose : "";
	t = strtoll(time_text, &end, 10);
	if (*end || t <= 0 || strlen(id) != GW_UUID_LEN - 1) {
		refuse_peer(g, peer, req, resp, GW_R_BAD_HEADER, "%s",
			   "Ndx-Event-Time or Ndx-Event-Id is malformed");
		goto out;
	}
	et = ndx_conf_event_type(conf, service, name);
	svc = ndx_conf_service_of(conf, service);
	if (!et || !svc) {
		refuse_peer(g, peer, req, resp, GW_R_UNKNOWN_EVENT_TYPE,
			   "%s has no event type %.64s in the global configuration", service,
			   name);
		goto out;
	}
	/* The service's member publishes through its own gateways only. */
	gw_member_of(service, member, sizeof member);
	if (strcmp(member, peer->member) != 0) {
		refuse_peer(g, peer, req, resp, GW_R_NOT_PUBLISHER,
			   "the gateway of %s delivered an event of %s", peer->member, service);
		goto out;
	}
	sub = ndx_conf_subscription(conf, client, service, name);
	if (!sub || !gw_settings_has_subsystem(v.s, client)) {
		refuse_peer(g, peer, req, resp, GW_R_NO_SUBSCRIPTION,
			   "%s holds no subscription to %s here", client, name);
		goto out;
	}
	if (strcmp(sub->purpose ? sub->purpose : "", purpose) != 0) {
		refuse_peer(g, peer, req, resp, GW_R_PURPOSE_NOT_ALLOWED,
			   "the subscription of %s is for another purpose", client);
		goto out;
	}
	if (svc->personal != (subject[0] != '\0') ||
	    (subject[0] && (gw_subjects_canonical(subject, canonical, sizeof canonical, &count,
						  &why) != NDX_OK ||
			    count != 1 || strcmp(canonical, subject) != 0))) {
		refuse_peer(g, peer, req, resp, GW_R_SUBJECT_INVALID, "%s",
			   "the event's subject does not fit its service");
		goto out;
	}
	if (!(j = calloc(1, sizeof *j))) {
		refuse_peer(g, peer, req, resp, GW_R_INTERNAL, "out of memory");
		goto out;
	}
	j->kind = JOB_RECEIVE;
	j->req = req;
	j->resp = resp;
	j->side = GW_SIDE_PROVIDER;
	clock_gettime(CLOCK_MONOTONIC, &j->t0);
	snprintf(j->e.id, sizeof j->e.id, "%s", id);
	gw_gateway_name(peer->member, peer->code, j->gateway, sizeof j->gateway);
	memset(&hin, 0, sizeof hin);
	hin.id = id;
	hin.service = service;
	hin.name = name;
	hin.publisher = publisher;
	hin.subject = subject;
	hin.time_ms = t;
	hin.gateway = j->gateway;
	ndx_sha256(req->body ? (const void *)req->body : "", req->body_len, hin.payload_sha256);
	ndx_event_hash(&hin, j->e.hash);
	if (gw_verify_hash(peer->sign_key, sig, j->e.hash, err, sizeof err) != NDX_OK) {
		refuse_peer(g, peer, req, resp, GW_R_BAD_SIGNATURE,
			   "the event's signature does not verify: %s", err);
		goto fail;
	}
	payload = req->body_len ? json_loadb((const char *)req->body, req->body_len,
					     JSON_REJECT_DUPLICATES, NULL)
				: NULL;
	if (!payload || ev_validate(ev, conf, et, payload, err, sizeof err) != NDX_OK) {
		json_decref(payload);
		refuse_peer(g, peer, req, resp, GW_R_PAYLOAD_INVALID,
			   "the delivered payload breaks the schema of %s", name);
		goto fail;
	}
	json_decref(payload);
	if (!(j->service = strdup(service)) || !(j->name = strdup(name)) ||
	    !(j->publisher = strdup(publisher)) || !(j->subject = strdup(subject)) ||
	    !(j->signature = strdup(sig)) || !(j->client = strdup(client)) ||
	    !(j->purpose = strdup(purpose)) || !(j->payload = malloc(req->body_len + 1))) {
		refuse_peer(g, peer, req, resp, GW_R_INTERNAL, "out of memory");
		goto fail;
	}
	memcpy(j->payload, req->body, req->body_len);
	j->e.payload_len = req->body_len;
	j->e.time_ms = t;
	ev_job_event_view(j);
	memcpy(rin.event_hash, j->e.hash, NDX_SHA256_LEN);
	rin.client = client;
	rin.purpose = purpose;
	rin.gateway = g->name;
	ndx_event_receipt_hash(&rin, j->receipt_hash);
	record_in(g, peer, req, resp, GW_R_COUNT);
	j->pending = ndx_http_defer(req);
	if (!ev_post(ev, j)) {
		ev_refuse_job(j, GW_R_EVENT_STORE_UNAVAILABLE, "the gateway is stopping");
		ev_job_free(j);
	}
	goto out;
fail:
	ev_job_free(j);
out:
	gw_view_release(&v);
}

