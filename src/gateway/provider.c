/* The gateway port (docs/protocol.md "Gateway to gateway"): another
 * member's gateway calls over mutual TLS. One exchange is one struct exch
 * passed through named steps, in order:
 *
 *   check_gateway        a valid configuration is held, the log is witnessed
 *   authenticate_peer    the TLS client certificate is a gateway's, not revoked
 *   check_budget         its member has not used up its refusals (peerlimit.h)
 *   parse                path, headers, client (reqfront.c), signed user headers
 *   hash                 the request hash of what arrived: answers are signed
 *                        and logged from here on
 *   check_client         X-Road-Client is the calling gateway's member or one
 *                        of its subsystems
 *   check_message        X-Road-Id present, Ndx-Timestamp within the skew
 *   check_signed_for_us  Ndx-Gateway names this gateway
 *   check_signature      Ndx-Signature verifies over the hash
 *   identify_service     in the configuration and served here
 *   check_grant          a grant allows client, service, method and path
 *   check_personal       purpose, subject, consent, Ndx-Subject-Token
 *   check_replay         this signed request was not accepted before
 *   check_agreement      a marketplace agreement's policy lets it through (gw_agreement.c)
 *   serve                the provider system's answer (or the access list's);
 *                        an agreement's data-age limit is checked on it
 *
 * A step returns GW_R_COUNT to go on or the reason of its refusal, rendered
 * once after the steps. The steps run on the port's HTTP thread; serve
 * hands the call to the provider system to an exchange loop (gwloop.h).
 * finish() then signs the answer (or the refusal) over the canonical
 * response hash on a loop, with the rest of that loop turn's hashes, writes
 * the record to the message log and lets the answer go, from the log
 * writer's callback, only once that record is durable (else
 * LogUnavailable, signed as well). For a personal-data service the answer's subjects are
 * the ones its provider system declares (Ndx-Data-Subjects), never the
 * consumer's Ndx-Subject: an answer that declares none, or people other
 * than the one asked for without a bulk registration for the purpose, is
 * refused, and the declared subjects are signed, passed on and logged, so
 * that each of them finds the exchange in their access list (docs/protocol.md
 * "Data subjects"). */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "connector_rt.h"
#include "events.h"
#include "gateway.h"
#include "xfer.h"
#include "signer.h"
#include "exchlog.h"
#include "metrics.h"
#include "confstate.h"
#include "gwconfig.h"
#include "gw_agreement.h"
#include "gw_conntest.h"
#include "gw_maintenance.h"
#include "ndx/encode.h"
#include "ndx/err.h"
#include "ndx/timefmt.h"
#include "personal.h"
#include "reqfront.h"
#include "peerlimit.h"
#include "replay.h"
#include "subjects.h"
#include "subjtoken.h"
#include "gw_witness.h"
#include "gwarena.h"
#include "gwloop.h"
#include "opmon.h"

struct exch {
	struct gw_ctx *g;
	struct gw_view view;        /* held for the exchange's life */
	const struct gw_view *v;    /* &view */
	struct ndx_http_pending *pending; /* the deferred answer, NULL = answered in place */
	struct gw_loop *loop;       /* where the backend call and the signing run */
	struct ndx_loop_task task;
	struct gw_sign_job sign_job;
	struct gw_backend_call call;
	/* what the exchange allocates for itself (gwarena.h), released in
	 * exch_free: the backend's headers, the user header lists, the
	 * answer's headers, the log path */
	struct gw_arena arena;
	struct curl_slist *backend_hdrs; /* from arena */
	uint8_t resp_hash[NDX_SHA256_LEN];
	char *resp_sig;
	struct ndx_msglog_record rec; /* alive until the log has written it */
	char *log_path;             /* from arena */
	const struct ndx_http_req *req;
	struct ndx_http_resp *resp;
	const struct ndx_conf *conf;
	const struct ndx_conf_gateway *peer; /* the calling gateway */
	const char *service_label;
	const char *grant_pattern;  /* the path pattern that allowed it (in conf), NULL = none */
	char client[NDX_ID_TEXT_MAX];
	char service[NDX_ID_TEXT_MAX];
	const char *rest;
	const char *location;       /* of the backend's answer */
	const char *err_type;       /* the refusal in resp, NULL = the backend's answer */
	enum gw_reason reason;      /* of err_type */
	int hashed;                 /* req_hash is known: sign and log what goes back */
	uint8_t req_hash[NDX_SHA256_LEN];
	char request_id[GW_UUID_LEN];
	struct gw_xfer_resp r;      /* the backend's answer; resp holds a copy */
	struct timespec t0;
	/* operational monitoring (opmon.h): Unix ms, 0 = did not happen */
	int64_t t_in, t_out, t_resp_in;
	bool personal;              /* the service is a personal-data service */
	char *subjects;             /* declared by the provider system, canonical; logged;
				     * from arena */
	const char *subjects_sent;  /* what the answer declares (signed, passed on): NULL = none */
	char authenticated[NDX_ID_TEXT_MAX]; /* Ndx-Subject whose e-ID token verified */
	char peer_member[NDX_ID_TEXT_MAX];  /* the calling gateway's member, "" = unknown */
	unsigned throttled;         /* refused at the door: seconds to retry after */
	char represented_party[GW_RF_PARTY_TEXT_MAX]; /* canonical, logged */
	struct gw_uh_list user;     /* the user headers the consumer gateway signed */
	struct gw_uh_list answer_user; /* the provider system's user headers */
	char *answer_names;         /* their names, for Ndx-Headers; from arena */
	/* what the steps read and found */
	time_t now;
	char fp[2 * NDX_SHA256_LEN + 1]; /* of the calling gateway's certificate */
	struct gw_rf_input in;
	struct gw_rf_request rq;
	struct gw_rf_refusal front_refusal;
	enum gw_rf_result front;
	const char *msg_id;
	const struct ndx_conf_service *svc_obj; /* the service as registered */
	const struct gw_service *svc;           /* as this gateway serves it */
	/* the refusal a step made, rendered once (render_refusal) */
	struct {
		enum gw_reason reason; /* GW_R_COUNT: none */
		char specifics[768];
		char message[1024];
		bool rendered;         /* the built-in access list renders its own */
	} refusal;
};

static enum gw_reason refuse(struct exch *x, enum gw_reason r, const char *specifics,
			     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Notes the refusal (rendered once, by render_refusal) and returns r. */
static enum gw_reason refuse(struct exch *x, enum gw_reason r, const char *specifics,
			     const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(x->refusal.message, sizeof x->refusal.message, fmt, ap);
	va_end(ap);
	snprintf(x->refusal.specifics, sizeof x->refusal.specifics, "%s",
		 specifics ? specifics : "");
	x->refusal.reason = r;
	x->location = NULL;
	return r;
}

static void render_refusal(struct exch *x)
{
	x->err_type = gw_refusal_body(x->resp, x->req, x->refusal.reason, GW_SIDE_PROVIDER,
				      x->refusal.specifics, "%s", x->refusal.message);
	x->reason = x->refusal.reason;
	x->location = NULL;
}

/* Subject, purpose and consent for personal-data services (personal.c).
 * Returns true to let the request pass, or fills the refusal and returns
 * false. */
static bool provider_check_personal(struct exch *x, const struct ndx_conf_service *service)
{
	struct gw_refusal r;

	if (gw_personal_check(x->g->revs, x->conf, service, x->client, x->req, x->now, &r))
		return true;
	refuse(x, r.reason, r.detail, "%s", r.message);
	return false;
}

/* Only once the request is signed, fresh, for a service served here and
 * granted: an unsigned or stale request must not burn the id of a real
 * one, and a member without a grant must not fill the cache (T35). A
 * verbatim replay carries a valid signature and a timestamp inside the
 * window, so this is the check that stops it. Each entry is charged to the
 * calling member, which may hold only its share. Returns true to go on. */
static bool provider_check_replay(struct exch *x, const char *msg_id, time_t now)
{
	uint8_t rkey[GW_REPLAY_KEY_LEN];
	int rrc;

	gw_replay_key(x->req_hash, rkey);
	rrc = gw_replay_check_and_add_owned(x->g->replay, rkey, gw_replay_owner(x->peer_member),
					    now);
	if (rrc == NDX_OK) {
		/* The nodes of a gateway cluster share one PostgreSQL log, and
		 * through it their claims: a copy sent to the other node is a
		 * replay there too (docs/scale.md "Gateway clusters"). A log
		 * of this process alone answers NDX_ENOTFOUND (and the steps'
		 * unit tests run without a log). */
		int64_t keep_s = 2 * x->v->s->clock_skew_s + 1;

		rrc = x->g->log == NULL ? NDX_ENOTFOUND
					: ndx_msglog_claim(x->g->log, rkey, (int64_t)now * 1000,
							   ((int64_t)now + keep_s) * 1000);
		if (rrc == NDX_OK || rrc == NDX_ENOTFOUND)
			return true;
		if (rrc != NDX_EEXIST) {
			refuse(x, GW_R_LOG_UNAVAILABLE, ndx_strerror(rrc),
			       "the replay claims of this gateway's cluster cannot be read");
			return false;
		}
	}
	if (rrc == NDX_EEXIST)
		refuse(x, GW_R_REPLAY, msg_id,
		       "this signed request of %s (X-Road-Id %s) was already accepted within the "
		       "last %ld s",
		       x->client, msg_id, 2 * x->v->s->clock_skew_s);
	else if (rrc == NDX_EPERM)
		refuse(x, GW_R_BUSY, x->peer_member,
		       "%s holds its share of this gateway's replay cache; retry later",
		       x->peer_member);
	else
		refuse(x, GW_R_BUSY, NULL, "the gateway's replay cache is full; retry later");
	return false;
}

/* A member whose requests keep being refused has used up its budget of
 * refusals (peerlimit.h): it is turned away here, before a signature is
 * verified or a record written, until the budget refills. Returns true to
 * go on. */
static bool provider_within_budget(struct exch *x, const char *member)
{
	struct timespec t;
	int64_t now_ms;

	clock_gettime(CLOCK_MONOTONIC, &t);
	now_ms = (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
	if (gw_peerlimit_allows(x->g->refusals, member, now_ms))
		return true;
	x->throttled = gw_peerlimit_retry_after(x->g->refusals, member, now_ms);
	if (!x->throttled)
		x->throttled = 1;
	refuse(x, GW_R_TOO_MANY_REFUSALS, member,
	       "too many requests of %s were refused; retry after %u s", member, x->throttled);
	return false;
}

/* An Ndx-Subject-Token, when the request carries one, must be the ID token
 * of the subject the request names, from an e-ID of the configuration:
 * then the exchange is logged as the subject's own. Returns true to go on. */
static bool provider_check_token(struct exch *x, const char *token, time_t now)
{
	const char *subject = ndx_http_header(x->req, "Ndx-Subject");
	char why[160];

	if (!token || !x->personal)
		return true;
	if (gw_subject_token_check(x->conf, token, subject, now, x->v->s->clock_skew_s, why,
				   sizeof why) != NDX_OK) {
		refuse(x, GW_R_SUBJECT_TOKEN_INVALID, "Ndx-Subject-Token",
		       "Ndx-Subject-Token is refused: %s", why);
		return false;
	}
	snprintf(x->authenticated, sizeof x->authenticated, "%s", subject);
	return true;
}

/* The canonical response hash of the answer (or refusal) in resp. */
static bool response_hash(struct exch *x, uint8_t h[NDX_SHA256_LEN])
{
	struct ndx_response_hash_input in = { 0 };
	const char *ct;
	const void *body;
	size_t len;
	int status;

	if (ndx_http_resp_view(x->resp, &status, &ct, &body, &len) != NDX_OK)
		return false;
	memcpy(in.request_hash, x->req_hash, sizeof in.request_hash);
	in.status = status;
	in.content_type = ct;
	in.location = x->location;
	in.subjects = x->err_type ? NULL : x->subjects_sent;
	{
		/* A refusal carries no header of the provider system. */
		static const struct gw_uh_list none;
		gw_uh_hash(x->err_type ? &none : &x->answer_user, in.user_headers_sha256);
	}
	/* HEAD answers travel without their body. */
	if (strcmp(x->req->method, "HEAD") == 0)
		len = 0;
	ndx_sha256(len ? body : "", len, in.body_sha256);
	ndx_response_hash(&in, h);
	return true;
}

static void add_sig_headers(struct exch *x, const char *sig)
{
	char *b64 = ndx_b64_encode(x->req_hash, sizeof x->req_hash, 0);

	if (sig && b64) {
		ndx_http_resp_header(x->resp, "Ndx-Response-Signature", sig);
		ndx_http_resp_header(x->resp, "X-Road-Request-Hash", b64);
	}
	if (x->request_id[0])
		ndx_http_resp_header(x->resp, "X-Road-Request-Id", x->request_id);
	free(b64);
}

/* A refusal of the caller's own doing (errors.h: callers_fault) takes one
 * from its member's refusal budget; the provider's own failures never do. */
static void charge_refusal(struct exch *x)
{
	struct timespec t;

	if (!x->err_type || !x->peer_member[0] || x->throttled ||
	    !gw_reason_info(x->reason)->callers_fault)
		return;
	clock_gettime(CLOCK_MONOTONIC, &t);
	gw_peerlimit_charge(x->g->refusals, x->peer_member,
			    (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000);
}

static void complete(struct exch *x);

/* The record is durable (or could not be written): the answer's headers,
 * and it goes out. On the log's writer thread. */
static void logged(void *ud, int rc)
{
	struct exch *x = ud;

	if (rc != NDX_OK) {
		/* The backend may have acted on the request; without a durable
		 * record this gateway does not answer for it. The refusal is
		 * signed like any other answer (alone: this is rare), so that
		 * the consumer gateway passes it on. */
		free(x->resp_sig);
		x->resp_sig = NULL;
		refuse(x, GW_R_LOG_UNAVAILABLE, NULL,
		       "the provider gateway cannot write its message log; the exchange is not "
		       "answered");
		render_refusal(x);
		x->subjects_sent = NULL;
		if (response_hash(x, x->resp_hash))
			x->resp_sig = gw_sign_hash(x->g->cfg, x->resp_hash);
	}
	if (!x->err_type && x->subjects_sent && x->subjects_sent[0])
		ndx_http_resp_header(x->resp, "Ndx-Data-Subjects", x->subjects_sent);
	if (x->err_type)
		ndx_http_resp_header(x->resp, "X-Road-Error", x->err_type);
	if (x->location)
		ndx_http_resp_header(x->resp, "Location", x->location);
	if (!x->err_type && x->answer_user.n) {
		ndx_http_resp_header(x->resp, "Ndx-Headers", x->answer_names);
		for (size_t i = 0; i < x->answer_user.n; i++)
			ndx_http_resp_header(x->resp, x->answer_user.v[i].name,
					     x->answer_user.v[i].value);
	}
	add_sig_headers(x, x->resp_sig);
	complete(x);
}

/* The answer is signed (with the rest of the loop turn's): its record goes
 * to the message log. */
static void signed_answer(struct gw_sign_job *job)
{
	struct exch *x = (struct exch *)((char *)job - offsetof(struct exch, sign_job));
	struct ndx_msglog_record *rec = &x->rec;
	const char *ct;
	const void *body;
	size_t len;
	int status = 500;

	x->resp_sig = job->sig;
	job->sig = NULL;
	if (ndx_http_resp_view(x->resp, &status, &ct, &body, &len) != NDX_OK)
		status = 500;
	x->log_path = gw_log_path_in(&x->arena, x->rest, x->req->query);
	rec->direction = NDX_MSGLOG_PROVIDER;
	rec->message_id = ndx_http_header(x->req, "X-Road-Id");
	rec->client = x->client;
	rec->service = x->service;
	rec->method = x->req->method;
	rec->path = x->log_path;
	rec->subject = ndx_http_header(x->req, "Ndx-Subject");
	rec->subjects = x->subjects;
	rec->purpose = ndx_http_header(x->req, "Ndx-Purpose");
	rec->user_id = ndx_http_header(x->req, "X-Road-UserId");
	rec->issue = ndx_http_header(x->req, "X-Road-Issue");
	rec->represented_party = x->represented_party;
	rec->authenticated = x->authenticated;
	rec->request_hash = x->req_hash;
	rec->response_hash = x->resp_sig ? x->resp_hash : NULL;
	rec->status = status;
	rec->duration_ms = gw_elapsed_ms(&x->t0);
	rec->request_sig = ndx_http_header(x->req, "Ndx-Signature");
	rec->response_sig = x->resp_sig;
	gw_log_append_exchange(x->g->log, rec, logged, x);
}

static void sign_on_loop(void *arg)
{
	struct exch *x = arg;

	gw_loop_sign(x->loop, &x->sign_job);
}

/* Signs, logs and completes the answer in resp, which waits until its
 * record is durable. Before the request hash is known there is nothing to
 * sign or to identify the exchange by: such refusals only get their
 * header, at once. */
static void finish(struct exch *x)
{
	charge_refusal(x);
	if (!x->hashed) {
		if (x->err_type)
			ndx_http_resp_header(x->resp, "X-Road-Error", x->err_type);
		if (x->throttled) {
			char ra[16];
			snprintf(ra, sizeof ra, "%u", x->throttled);
			ndx_http_resp_header(x->resp, "Retry-After", ra);
		}
		complete(x);
		return;
	}
	if (!x->pending)
		x->pending = ndx_http_defer(x->req);
	x->sign_job.key = x->g->cfg->sign_key;
	x->sign_job.done = signed_answer;
	if (!response_hash(x, x->resp_hash)) {
		x->sign_job.sig = NULL;
		signed_answer(&x->sign_job);
		return;
	}
	memcpy(x->sign_job.hash, x->resp_hash, sizeof x->resp_hash);
	if (x->loop) { /* on the loop already, after the backend's answer */
		gw_loop_sign(x->loop, &x->sign_job);
		return;
	}
	x->loop = gw_loops_next(x->g->loops);
	x->task.fn = sign_on_loop;
	x->task.arg = x;
	if (gw_loop_post(x->loop, &x->task) != NDX_OK) {
		/* stopping: sign alone, here */
		x->sign_job.sig = gw_sign_hash(x->g->cfg, x->resp_hash);
		signed_answer(&x->sign_job);
	}
}

static void add_if(struct gw_arena *a, struct curl_slist **l, const char *name, const char *v)
{
	if (v && v[0])
		gw_slist_add_in(a, l, name, v);
}

static bool is_read(const char *method)
{
	return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0 ||
	       strcmp(method, "OPTIONS") == 0;
}

/* Whom the backend's answer is about, as its provider system declares it
 * in Ndx-Data-Subjects; for a personal-data service the declaration decides
 * whether the answer may go on. Returns true to pass it on; otherwise the
 * refusal replaces it (the declared subjects are still logged, so that
 * each of them sees the refused attempt, but the consumer never learns
 * them). */
static bool provider_check_subjects(struct exch *x)
{
	const char *declared = x->r.hdr[GW_H_DATA_SUBJECTS], *why = NULL;
	const char *claimed = ndx_http_header(x->req, "Ndx-Subject");
	const char *purpose = ndx_http_header(x->req, "Ndx-Purpose");
	bool consent = x->svc_obj->consent_required;
	size_t n;

	if (!x->personal)
		return true;
	x->subjects = gw_arena_alloc(&x->arena, GW_SUBJECTS_TEXT_MAX);
	if (gw_subjects_canonical(declared, x->subjects, GW_SUBJECTS_TEXT_MAX, &n, &why) !=
	    NDX_OK) {
		refuse(x, GW_R_SUBJECTS_UNDECLARED, why,
		       "the provider system of %s did not declare whom its answer is about "
		       "(Ndx-Data-Subjects)",
		       x->service);
		fprintf(stderr, GW_PROG ": backend of %s: answer without a valid "
			"Ndx-Data-Subjects (%s), refused\n", x->service, why);
		return false;
	}
	if (!consent && purpose && ndx_conf_bulk_allowed(x->conf, x->service, purpose)) {
		x->subjects_sent = x->subjects;
		return true;
	}
	/* A write has happened by the time its answer arrives: the provider
	 * system refuses a write to a record that is not the named subject's
	 * (docs/sectors.md), and the answer of one it accepted may name
	 * everyone the change touched (a vehicle's old and new owner). It is
	 * passed on when the named subject is among them; a refusal is not (it
	 * may declare the people of a record the write was refused for, which
	 * the consumer must not learn). A read must be about
	 * the named subject alone; a consent is one person's and never covers
	 * another's record. */
	if (!is_read(x->req->method) && x->r.status < 400 &&
	    gw_subjects_has(x->subjects, claimed)) {
		x->subjects_sent = x->subjects;
		return true;
	}
	if (!gw_subjects_only(x->subjects, claimed)) {
		if (consent)
			refuse(x, GW_R_CONSENT_WRONG_SUBJECT, "Ndx-Data-Subjects",
			       "the answer of %s is about other people than the consent's subject",
			       x->service);
		else
			refuse(x, GW_R_SUBJECT_MISMATCH, "Ndx-Subject",
			       "the answer of %s is about other people than Ndx-Subject names, and "
			       "the service is not registered for bulk reads for this purpose",
			       x->service);
		return false;
	}
	x->subjects_sent = x->subjects;
	return true;
}

/* A marketplace agreement's data-age limit on the provider system's
 * answer (gw_agreement.c): a 2xx answer older than the agreement admits,
 * or without a Last-Modified to tell, is refused instead of delivered.
 * Last-Modified is a user header (userheaders.h): a delivered answer
 * passes it on under the response signature. Two of them say no one
 * time: the answer counts as undated. Returns true to pass it on. */
static bool provider_check_data_age(struct exch *x)
{
	const char *lm = NULL;
	char msg[512];
	enum gw_reason r;
	bool twice = false;

	for (size_t i = 0; i < x->r.user.n; i++)
		if (strcasecmp(x->r.user.v[i].name, "Last-Modified") == 0) {
			twice = lm != NULL;
			lm = x->r.user.v[i].value;
		}
	r = gw_agreement_check_answer(x->g->log, x->conf, x->client, x->service, x->req->method, x->rest,
				      x->r.status, twice ? "(twice)" : lm, time(NULL), msg,
				      sizeof msg);

	if (r == GW_R_COUNT)
		return true;
	refuse(x, r, "Last-Modified", "%s", msg);
	fprintf(stderr, GW_PROG ": backend of %s: %s, refused\n", x->service, msg);
	return false;
}

/* The provider system's answer (or failure) is in; on the loop. */
static void backend_done(struct gw_backend_call *call, enum gw_xfer_result res)
{
	struct exch *x = call->ud;
	struct gw_xfer_resp *r = &x->r;
	const struct gw_service *svc = call->svc;

	x->t_resp_in = gw_opmon_now_ms();
	switch (res) {
	case GW_XFER_OK:
		if (!provider_check_subjects(x) || !provider_check_data_age(x))
			break;
		if (gw_uh_select(&r->user, r->hdr[GW_H_CONNECTION], NULL, &x->answer_user) !=
		    NDX_OK) {
			refuse(x, GW_R_INTERNAL, NULL, "out of memory");
			break;
		}
		x->answer_names = gw_uh_names_in(&x->arena, &x->answer_user);
		/* Without a Content-Type the answer goes on without one (PR-REST
		 * 4.3), and that is what gets signed. */
		ndx_http_resp_bytes(x->resp, (int)r->status,
				    r->hdr[GW_H_CONTENT_TYPE] ? r->hdr[GW_H_CONTENT_TYPE] : "",
				    r->body ? r->body : "", r->len);
		x->location = r->hdr[GW_H_LOCATION]; /* its header goes on in logged() */
		break;
	case GW_XFER_TIMEOUT:
		refuse(x, GW_R_BACKEND_TIMEOUT, NULL,
		       "the provider system of %s did not answer within %ld ms", x->service,
		       svc->timeout_ms);
		break;
	case GW_XFER_TOOBIG:
		refuse(x, GW_R_BACKEND_TOO_LARGE, NULL,
		       "the provider system's answer exceeds %zu bytes", x->v->s->max_body);
		break;
	default:
		/* The backend URL is internal: not named to the caller. */
		refuse(x, GW_R_BACKEND_UNREACHABLE, NULL,
		       "the provider system of %s cannot be reached", x->service);
		fprintf(stderr, GW_PROG ": backend of %s: %s\n", x->service,
			r->errbuf[0] ? r->errbuf : "transfer failed");
		break;
	}
	if (x->refusal.reason != GW_R_COUNT)
		render_refusal(x);
	finish(x);
}

/* On the loop the exchange was handed to: the request to the provider
 * system, through the loop's multi handle. */
static void forward_on_loop(void *arg)
{
	struct exch *x = arg;

	x->t_out = gw_opmon_now_ms();
	gw_backend_start(x->loop, &x->call, &x->r);
}

/* step_serve's way to the provider system: the headers it gets, then the
 * exchange goes to a loop (forward_on_loop, backend_done). GW_R_COUNT when
 * it went. */
static enum gw_reason forward(struct exch *x, const struct gw_service *svc)
{
	const struct ndx_http_req *req = x->req;
	struct curl_slist **hdrs = &x->backend_hdrs;
	struct gw_arena *a = &x->arena;
	const char *ct = ndx_http_header(req, "Content-Type");

	x->call = (struct gw_backend_call){
		.svc = svc,
		.method = req->method,
		.path = x->rest,
		.query = req->query,
		.body = req->body,
		.body_len = req->body_len,
		.connect_timeout_ms = x->v->s->connect_timeout_ms,
		.max_body = x->v->s->max_body,
		.done = backend_done,
		.ud = x,
	};
	gw_slist_add_in(a, hdrs, "X-Road-Client", x->client);
	gw_slist_add_in(a, hdrs, "X-Road-Service", x->service);
	add_if(a, hdrs, "X-Road-Id", ndx_http_header(req, "X-Road-Id"));
	gw_slist_add_in(a, hdrs, "X-Road-Request-Id", x->request_id);
	add_if(a, hdrs, "X-Road-UserId", ndx_http_header(req, "X-Road-UserId"));
	add_if(a, hdrs, "X-Road-Issue", ndx_http_header(req, "X-Road-Issue"));
	add_if(a, hdrs, "Ndx-Purpose", ndx_http_header(req, "Ndx-Purpose"));
	add_if(a, hdrs, "Ndx-Subject", ndx_http_header(req, "Ndx-Subject"));
	add_if(a, hdrs, "X-Road-Represented-Party", x->represented_party);
	gw_slist_add_user_in(a, hdrs, &x->user);
	gw_slist_add_in(a, hdrs, "Content-Type", ct && ct[0] ? ct : "");
	gw_slist_add_in(a, hdrs, "Expect", "");
	x->call.headers = x->backend_hdrs;
	x->pending = ndx_http_defer(req);
	x->loop = gw_loops_next(x->g->loops);
	x->task.fn = forward_on_loop;
	x->task.arg = x;
	if (gw_loop_post(x->loop, &x->task) != NDX_OK) {
		x->loop = NULL;
		return refuse(x, GW_R_INTERNAL, NULL, "the gateway is stopping");
	}
	return GW_R_COUNT;
}

/* ---- the steps ------------------------------------------------------------
 * Each returns GW_R_COUNT to go on, or the reason of its refusal (refuse()).
 * Before the request hash is known (step_hash) a refusal is neither signed
 * nor logged; after it, every answer is. */

static enum gw_reason step_check_gateway(struct exch *x)
{
	char why[512];

	if (!gw_view_live(x->v, x->now))
		return refuse(x, GW_R_NO_CONFIGURATION, NULL,
			      "the gateway holds no valid global configuration");
	if (gw_witness_overdue(x->g->witness, why, sizeof why))
		return refuse(x, GW_R_WITNESS_UNAVAILABLE, NULL, "%s", why);
	x->conf = x->v->c->conf;
	return GW_R_COUNT;
}

/* The TLS client certificate is a gateway's of the configuration, neither
 * it nor the gateway's signing key revoked. */
static enum gw_reason step_authenticate_peer(struct exch *x)
{
	if (ndx_http_client_cert(x->req, x->fp) != NDX_OK)
		return refuse(x, GW_R_UNAUTHENTICATED, NULL,
			      "no client certificate issued by the instance CA");
	x->peer = ndx_conf_gateway_by_cert(x->conf, x->fp);
	if (!x->peer || ndx_conf_is_revoked(x->conf, x->fp) ||
	    ndx_conf_is_revoked(x->conf, x->peer->sign_key_id))
		return refuse(x, GW_R_UNAUTHENTICATED, x->fp,
			      x->peer ? "the client certificate or its gateway's key is revoked"
				      : "the client certificate is not a gateway's in the "
					"configuration");
	return GW_R_COUNT;
}

static enum gw_reason step_check_budget(struct exch *x)
{
	const char *member = x->peer->member;

	if (!provider_within_budget(x, member))
		return x->refusal.reason;
	snprintf(x->peer_member, sizeof x->peer_member, "%s", member);
	return GW_R_COUNT;
}

/* Path, headers and X-Road-Client (reqfront.c), and the user headers the
 * consumer gateway signed. A bad client is refused only once the request
 * hash is known, so that the refusal is signed. */
static enum gw_reason step_parse(struct exch *x)
{
	const char *bad = NULL, *listed;

	gw_rf_input_of(x->req, &x->in);
	x->front = gw_reqfront_parse(&x->in, GW_RF_PROVIDER, &x->rq, &x->front_refusal);
	if (x->front != GW_RF_ACCEPTED && x->front != GW_RF_BAD_CLIENT)
		return refuse(x, gw_rf_reason(x->front), x->front_refusal.detail, "%s",
			      x->front_refusal.message);
	x->rest = x->rq.rest;
	/* whole arrays of the same sizes, NUL-terminated by reqfront.c */
	_Static_assert(sizeof x->represented_party == sizeof x->rq.represented_party,
		       "one party text size");
	_Static_assert(sizeof x->service == sizeof x->rq.service, "one id text size");
	memcpy(x->represented_party, x->rq.represented_party, sizeof x->represented_party);
	memcpy(x->service, x->rq.service, sizeof x->service);
	listed = ndx_http_header(x->req, "Ndx-Headers");
	if (gw_uh_from_request(x->req, listed ? listed : "", &x->user, &bad) != NDX_OK)
		return refuse(x, GW_R_BAD_HEADER, bad, "header %s cannot be passed on",
			      bad ? bad : "?");
	return GW_R_COUNT;
}

/* The request hash of what arrived; from here on answers are signed. */
static enum gw_reason step_hash(struct exch *x)
{
	const struct ndx_http_req *req = x->req;
	const struct gw_rf_request *rq = &x->rq;
	struct ndx_request_hash_input hin = { 0 };

	/* A client that does not parse is hashed as it came. */
	snprintf(x->client, sizeof x->client, "%s",
		 x->front == GW_RF_ACCEPTED ? rq->client
		 : rq->hdr[GW_RF_CLIENT]    ? rq->hdr[GW_RF_CLIENT]
					    : "");
	x->msg_id = rq->hdr[GW_RF_ID];
	hin.method = req->method;
	hin.service = x->service;
	hin.path = x->rest;
	hin.query = req->query;
	hin.client = x->client;
	hin.message_id = x->msg_id;
	hin.user_id = rq->hdr[GW_RF_USER_ID];
	hin.issue = rq->hdr[GW_RF_ISSUE];
	hin.purpose = rq->hdr[GW_RF_PURPOSE];
	hin.subject = rq->hdr[GW_RF_SUBJECT];
	hin.consent = rq->hdr[GW_RF_CONSENT];
	hin.subject_token = rq->hdr[GW_RF_SUBJECT_TOKEN];
	hin.timestamp = rq->hdr[GW_RF_TIMESTAMP];
	hin.nonce = ndx_http_header(req, "Ndx-Nonce");
	/* Hashed as this gateway's own name, whatever the header says: a
	 * request signed for a sibling gateway cannot verify here. */
	hin.gateway = x->g->name;
	hin.content_type = rq->hdr[GW_RF_CONTENT_TYPE];
	hin.represented_party = rq->represented_party;
	gw_uh_hash(&x->user, hin.user_headers_sha256);
	ndx_sha256(req->body ? (const void *)req->body : "", req->body_len, hin.body_sha256);
	ndx_request_hash(&hin, x->req_hash);
	x->hashed = 1;
	if (gw_uuid(x->request_id) != NDX_OK)
		return refuse(x, GW_R_INTERNAL, NULL, "no randomness for a request id");
	return GW_R_COUNT;
}

/* In maintenance (gw_maintenance.h) no new exchange is taken; once the
 * hash is known, so that the caller gets a signed refusal it can trust. */
static enum gw_reason step_check_maintenance(struct exch *x)
{
	if (gw_maintenance_on(x->g->maint))
		return refuse(x, GW_R_MAINTENANCE, NULL,
			      "the gateway is in maintenance and takes no new exchange; retry "
			      "later");
	return GW_R_COUNT;
}

/* X-Road-Client is the calling gateway's member or one of its subsystems. */
static enum gw_reason step_check_client(struct exch *x)
{
	struct ndx_id cmember;
	char cm[NDX_ID_TEXT_MAX];

	if (x->front != GW_RF_ACCEPTED)
		return refuse(x, gw_rf_reason(x->front), x->front_refusal.detail, "%s",
			      x->front_refusal.message);
	ndx_id_parent(&x->rq.client_id, NDX_ID_MEMBER, &cmember);
	ndx_id_format(&cmember, cm, sizeof cm);
	if (strcmp(cm, x->peer_member) != 0 || !ndx_conf_has_client(x->conf, x->client))
		return refuse(x, GW_R_UNKNOWN_CLIENT, x->client,
			      "%s is not a client of %s, whose gateway is calling", x->client,
			      x->peer_member);
	return GW_R_COUNT;
}

static enum gw_reason step_check_message(struct exch *x)
{
	const char *ts_hdr = x->rq.hdr[GW_RF_TIMESTAMP];
	time_t ts;

	if (!x->msg_id || !x->msg_id[0])
		return refuse(x, GW_R_MISSING_MESSAGE_ID, "X-Road-Id",
			      "the X-Road-Id header is missing");
	if (!ts_hdr || ndx_time_parse(ts_hdr, &ts) != NDX_OK ||
	    (ts > x->now ? ts - x->now : x->now - ts) > (time_t)x->v->s->clock_skew_s)
		return refuse(x, GW_R_STALE_TIMESTAMP, ts_hdr,
			      "Ndx-Timestamp is missing, malformed or more than %ld s from this "
			      "gateway's clock",
			      x->v->s->clock_skew_s);
	return GW_R_COUNT;
}

/* Each gateway keeps its own replay cache, so a copy of a request accepted
 * by a sibling gateway of this member would pass it: the consumer signs for
 * one gateway, and the others refuse. */
static enum gw_reason step_check_signed_for_us(struct exch *x)
{
	const char *for_gw = x->rq.hdr[GW_RF_GATEWAY], *self = x->g->name;

	if (!for_gw)
		return refuse(x, GW_R_WRONG_GATEWAY, NULL,
			      "the Ndx-Gateway header is missing (this gateway is %s)", self);
	if (strcmp(for_gw, self) != 0)
		return refuse(x, GW_R_WRONG_GATEWAY, for_gw,
			      "the request was signed for gateway %s, not for this one (%s)",
			      for_gw, self);
	return GW_R_COUNT;
}

static enum gw_reason step_check_signature(struct exch *x)
{
	char err[512];

	if (gw_verify_hash(x->peer->sign_key,
			   ndx_http_header(x->req, "Ndx-Signature"), x->req_hash, err,
			   sizeof err) == NDX_OK)
		return GW_R_COUNT;
	return refuse(x, GW_R_BAD_SIGNATURE, err, "Ndx-Signature does not verify over the request");
}

static enum gw_reason step_identify_service(struct exch *x)
{
	x->svc_obj = ndx_conf_service_of(x->conf, x->service);
	x->svc = gw_settings_service(x->v->s, x->service);
	if (!x->svc_obj || !x->svc)
		return refuse(x, GW_R_UNKNOWN_SERVICE, x->service,
			      x->svc_obj ? "%s is not served by this gateway"
					 : "%s is not in the global configuration",
			      x->service);
	x->service_label = x->svc_obj->id;
	x->personal = x->svc_obj->personal;
	return GW_R_COUNT;
}

static enum gw_reason step_check_grant(struct exch *x)
{
	char what[512];

	x->grant_pattern = ndx_conf_grant_match(x->conf, x->client, x->service, x->req->method,
						x->rest);
	if (x->grant_pattern)
		return GW_R_COUNT;
	snprintf(what, sizeof what, "%s %s", x->req->method, x->rest[0] ? x->rest : "/");
	gw_redact_pins(what);
	return refuse(x, GW_R_NO_GRANT, what, "%s may not call %s", x->client, x->service);
}

/* Purpose, subject and consent (personal.c), and an Ndx-Subject-Token. */
static enum gw_reason step_check_personal(struct exch *x)
{
	if (!provider_check_personal(x, x->svc_obj) ||
	    !provider_check_token(x, x->rq.hdr[GW_RF_SUBJECT_TOKEN], x->now))
		return x->refusal.reason;
	return GW_R_COUNT;
}

static enum gw_reason step_check_replay(struct exch *x)
{
	return provider_check_replay(x, x->msg_id, x->now) ? GW_R_COUNT : x->refusal.reason;
}

/* A marketplace agreement's policy (gw_agreement.c): after the replay
 * check, so that only a fresh, signed call counts against its maximum. */
static enum gw_reason step_check_agreement(struct exch *x)
{
	char msg[512];
	enum gw_reason r = gw_agreement_admit(x->g->log, x->conf, x->client, x->service, x->req->method,
					      x->rest, ndx_http_header(x->req, "Ndx-Purpose"),
					      x->now, msg, sizeof msg);
	return r == GW_R_COUNT ? r : refuse(x, r, x->service, "%s", msg);
}

/* The provider system's answer (forward), or the built-in access list's:
 * personal.c has made sure a personal service names its subject; the
 * access list is about that subject and nobody else, and only that subject,
 * proven by their e-ID token, may read it. */
static enum gw_reason step_serve(struct exch *x)
{
	const char *subject = ndx_http_header(x->req, "Ndx-Subject");
	enum gw_reason r;

	if (x->svc->builtin != GW_BUILTIN_SUBJECT_ACCESSES)
		return forward(x, x->svc);
	if (!x->personal || !subject)
		return refuse(x, GW_R_MISCONFIGURED, x->service,
			      "the access list service must be registered as personal");
	if (!x->authenticated[0])
		return refuse(x, GW_R_SUBJECT_TOKEN_MISSING, "Ndx-Subject-Token",
			      "the access list is answered only with the subject's own e-ID token "
			      "in Ndx-Subject-Token");
	r = gw_subject_accesses(x->g, x->v, subject, x->req, x->rest, x->resp);
	if (r != GW_R_COUNT) {
		/* accesses.c rendered its refusal itself */
		x->refusal.reason = x->reason = r;
		x->refusal.rendered = true;
		x->err_type = gw_reason_type(r, GW_SIDE_PROVIDER);
		return r;
	}
	x->subjects_sent = x->subjects = gw_arena_strdup(&x->arena, subject);
	return GW_R_COUNT;
}

static const struct step {
	const char *name;
	enum gw_reason (*run)(struct exch *x);
} steps[] = {
	{ "check_gateway", step_check_gateway },
	{ "authenticate_peer", step_authenticate_peer },
	{ "check_budget", step_check_budget },
	{ "parse", step_parse },
	{ "hash", step_hash },
	{ "check_maintenance", step_check_maintenance },
	{ "check_client", step_check_client },
	{ "check_message", step_check_message },
	{ "check_signed_for_us", step_check_signed_for_us },
	{ "check_signature", step_check_signature },
	{ "identify_service", step_identify_service },
	{ "check_grant", step_check_grant },
	{ "check_personal", step_check_personal },
	{ "check_replay", step_check_replay },
	{ "check_agreement", step_check_agreement },
	{ "serve", step_serve },
};

/* The exchange's arena, and the lists that take from it. */
static void exch_arena_init(struct exch *x)
{
	gw_arena_init(&x->arena);
	x->user.arena = x->answer_user.arena = &x->arena;
	gw_xfer_resp_use_arena(&x->r, &x->arena);
}

static void exch_free(struct exch *x)
{
	gw_xfer_resp_free(&x->r); /* its body */
	free(x->resp_sig);
	gw_view_release(&x->view);
	gw_arena_clear(&x->arena); /* the rest */
	free(x);
}

/* The exchange's operational monitoring record (opmon.h), queued, not
 * written here; nothing personal in it (consumer.c's record_opmon). */
static void record_opmon(struct exch *x)
{
	struct gw_opmon_in in = { 0 };
	char path[GW_OPMON_PATH_CAP], cgw[NDX_ID_TEXT_MAX + 64];
	const char *ct;
	const void *body;
	size_t len = 0;
	int status = 0;
	bool parsed = x->front == GW_RF_ACCEPTED && x->rest;

	if (!x->g->opmon)
		return;
	if (ndx_http_resp_view(x->resp, &status, &ct, &body, &len) != NDX_OK)
		status = 0;
	in.role = GW_OPMON_PROVIDER;
	in.method = x->req->method;
	if (parsed) {
		in.message_id = x->msg_id;
		in.client = x->client;
		in.service = x->service;
		gw_opmon_path_template(x->grant_pattern, x->rest, path, sizeof path);
		in.path_template = path;
		in.purpose = x->rq.hdr[GW_RF_PURPOSE];
	}
	if (x->peer &&
	    gw_gateway_name(x->peer->member, x->peer->code, cgw, sizeof cgw) == NDX_OK)
		in.client_gateway = cgw;
	in.service_gateway = x->g->name;
	in.request_in = x->t_in;
	in.request_out = x->t_out ? x->t_out : GW_OPMON_NONE;
	in.response_in = x->t_resp_in ? x->t_resp_in : GW_OPMON_NONE;
	in.response_out = gw_opmon_now_ms();
	in.request_size = (int64_t)x->req->body_len;
	in.response_size = (int64_t)len;
	in.success = !x->err_type;
	in.error_type = x->err_type;
	in.status = status;
	in.peer_ms = GW_OPMON_NONE;
	in.provider_ms = x->t_out && x->t_resp_in ? x->t_resp_in - x->t_out : GW_OPMON_NONE;
	in.personal = x->personal;
	gw_opmon_record(x->g->opmon, &in);
}

/* The end of every exchange, on whichever thread it ends: the metrics,
 * and the answer goes out. */
static void complete(struct exch *x)
{
	struct ndx_http_pending *pending = x->pending;

	record_opmon(x);
	gw_metrics_end_answer(GW_ROLE_PROVIDER, x->service_label, x->resp, &x->t0);
	exch_free(x);
	if (pending)
		ndx_http_resume(pending);
}

/* The checks on the port's thread; serve either answers at once (the
 * access list) or hands the exchange to a loop, whose backend_done calls
 * finish. */
static void exchange(struct exch *x)
{
	for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
		/* Once serve has handed the exchange to a loop, x is the loop's:
		 * it may be answered and freed before serve returns here. */
		bool hands_off = steps[i].run == step_serve &&
				 x->svc->builtin != GW_BUILTIN_SUBJECT_ACCESSES;

		if (steps[i].run(x) != GW_R_COUNT) {
			if (!x->refusal.rendered)
				render_refusal(x);
			finish(x);
			return;
		}
		if (hands_off)
			return;
	}
	finish(x); /* served here: the access list */
}

void gw_provider_handle(void *ctx, const struct ndx_http_req *req, struct ndx_http_resp *resp)
{
	struct gw_ctx *g = ctx;
	struct exch *x;
	struct timespec t0;

	if (strcmp(req->path, "/e1/deliver") == 0) {
		gw_events_deliver(g, req, resp);
		return;
	}
	if (strncmp(req->path, "/o1/", 4) == 0) {
		gw_opmon_provider(g, req, resp);
		return;
	}
	if (strncmp(req->path, GW_CONN_PORT_PREFIX, strlen(GW_CONN_PORT_PREFIX)) == 0) {
		gw_connector_deliver(g, req, resp);
		return;
	}
	if (strcmp(req->path, "/t1/ping") == 0) {
		gw_ping_serve(g, req, resp);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	gw_metrics_begin();
	if (!(x = calloc(1, sizeof *x))) {
		gw_refusal(resp, req, GW_R_INTERNAL, GW_SIDE_PROVIDER, NULL, "out of memory");
		gw_metrics_end(GW_ROLE_PROVIDER, NULL, 500, 0);
		return;
	}
	x->g = g;
	exch_arena_init(x);
	gw_state_acquire(g->state, &x->view);
	x->v = &x->view;
	x->req = req;
	x->resp = resp;
	x->t0 = t0;
	x->t_in = gw_opmon_now_ms();
	x->now = time(NULL);
	x->refusal.reason = GW_R_COUNT;
	/* Answers now or defers: req and resp are not touched after it. */
	exchange(x);
}
