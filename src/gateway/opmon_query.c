/* Reading operational monitoring records through the exchange
 * (docs/protocol.md "Operational monitoring"; the store is opmon.c).
 *
 * Consumer port: GET /o1/{gateway}/records?after=SEQ&limit=N[&from=T][&to=T],
 * GET /o1/{gateway}/health, GET /o1/{gateway}/accesses?after=SEQ&limit=N (the
 * personal-data reads the gateway served, from its message log, for misuse
 * detection) and GET /o1/{gateway}/proof?seq=N (the inclusion proof of one
 * of its message-log records) with X-Road-Client, one of this gateway's
 * clients connected as configured. {gateway} is a gateway's name,
 * {instance}/{class}/{member}/{code}. This gateway answers for itself at
 * once; for another it sends the query to that gateway's gateway port
 * (GET /o1/query/{records?...|health|accesses?...|proof?...}, mutual TLS as
 * an exchange, signed
 * over the opmon query hash) and passes on the answer only once that
 * gateway's signature over it verifies, its refusals included.
 *
 * Gateway port: /o1/query from a gateway of the configuration: the query
 * hash is recomputed with this gateway's own name and the caller's (the
 * TLS peer), the signature verified with the caller's key, the client must
 * be of the caller's member, the timestamp fresh and the hash not seen
 * before (replay.h); then the client may read only when its member is this
 * gateway's member or it is the configuration's monitoring client. Every
 * answer after the hash is known is signed and logged, refusals included,
 * as an exchange's (docs/gateway.md "Message log"). */
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "confstate.h"
#include "events.h"
#include "gateway.h"
#include "gwconfig.h"
#include "exchlog.h"
#include "gwloop.h"
#include "metrics.h"
#include "opmon.h"
#include "reqfront.h"
#include "peerlimit.h"
#include "replay.h"
#include "signer.h"
#include "subjects.h"
#include "xfer.h"
#include "ndx/encode.h"
#include "ndx/err.h"
#include "ndx/hash.h"
#include "ndx/timefmt.h"

#define OPMON_PREFIX "/o1/"
#define OPMON_QUERY_PATH "/o1/query/"
#define QUERY_LABEL "ndx-opmon-query-v1"
#define QTEXT_MAX 160
#define GWNAME_MAX (NDX_ID_TEXT_MAX + 64)
/* An accesses page scans at most this many message-log records per access
 * it may return: a log of mostly non-personal records answers a short page
 * (next_after says where to go on) instead of holding the log's read
 * connection for an unbounded walk. */
#define ACCESS_SCAN_FACTOR 10

/* The opmon query hash: SHA-256 over the fields, each its length as 8
 * bytes big-endian then its bytes, as the canonical hashes. */
struct query_hash_input {
	const char *client, *message_id, *gateway, *caller, *query, *timestamp, *nonce;
};

static void query_hash(const struct query_hash_input *in, uint8_t out[NDX_SHA256_LEN])
{
	const char *f[] = { QUERY_LABEL, in->client,    in->message_id, in->gateway,
			    in->caller,  in->query,     in->timestamp,  in->nonce };
	struct ndx_sha256 *ctx = ndx_sha256_new();
	size_t total = 0;
	uint8_t *buf, *p;

	if (ctx) {
		for (size_t i = 0; i < sizeof f / sizeof *f; i++) {
			const char *v = f[i] ? f[i] : "";
			uint64_t n = strlen(v);
			uint8_t len[8];

			for (int k = 0; k < 8; k++)
				len[k] = (uint8_t)(n >> (56 - 8 * k));
			ndx_sha256_update(ctx, len, 8);
			ndx_sha256_update(ctx, v, (size_t)n);
		}
		ndx_sha256_final(ctx, out);
		ndx_sha256_free(ctx);
		return;
	}
	/* Out of memory for the context: the same bytes in one buffer. */
	for (size_t i = 0; i < sizeof f / sizeof *f; i++)
		total += 8 + strlen(f[i] ? f[i] : "");
	if (!(buf = p = malloc(total))) {
		memset(out, 0, NDX_SHA256_LEN);
		return;
	}
	for (size_t i = 0; i < sizeof f / sizeof *f; i++) {
		const char *v = f[i] ? f[i] : "";
		uint64_t n = strlen(v);

		for (int k = 0; k < 8; k++)
			*p++ = (uint8_t)(n >> (56 - 8 * k));
		memcpy(p, v, (size_t)n);
		p += n;
	}
	ndx_sha256(buf, total, out);
	free(buf);
}

/* The response hash of the answer in resp (ndx-response-v3 over the query
 * hash: no Location, no subjects, no user headers). */
static bool answer_hash(struct ndx_http_resp *resp, const uint8_t qh[NDX_SHA256_LEN],
			uint8_t out[NDX_SHA256_LEN])
{
	static const struct gw_uh_list none;
	struct ndx_response_hash_input in = { 0 };
	const char *ct;
	const void *body;
	size_t len;
	int status;

	if (ndx_http_resp_view(resp, &status, &ct, &body, &len) != NDX_OK)
		return false;
	memcpy(in.request_hash, qh, NDX_SHA256_LEN);
	in.status = status;
	in.content_type = ct;
	gw_uh_hash(&none, in.user_headers_sha256);
	ndx_sha256(len ? body : "", len, in.body_sha256);
	ndx_response_hash(&in, out);
	return true;
}

/* One read in flight, on either port. */
struct oq {
	struct gw_ctx *g;
	struct gw_view view;
	const struct ndx_http_req *req;
	struct ndx_http_resp *resp;
	struct ndx_http_pending *pending;
	bool provider;             /* on the gateway port */
	struct timespec t0;
	char client[NDX_ID_TEXT_MAX];
	char target[GWNAME_MAX];   /* the gateway whose records are read */
	char target_member[NDX_ID_TEXT_MAX];
	char target_code[NDX_ID_PART_MAX + 1];
	char caller[GWNAME_MAX];   /* provider: the calling gateway */
	char peer_member[NDX_ID_TEXT_MAX];
	const struct ndx_conf_gateway *peer;
	char msg_id[GW_UUID_LEN];
	const char *msg_id_p;
	struct gw_opmon_query q;
	char qtext[QTEXT_MAX];
	char log_path[QTEXT_MAX + 16];
	/* signing and the call (consumer, remote) */
	char ts[NDX_TIME_TEXT_LEN];
	char nonce[GW_UUID_LEN];
	uint8_t qhash[NDX_SHA256_LEN], rhash[NDX_SHA256_LEN];
	bool hashed, answered_hash;
	char *req_sig;             /* consumer: ours; provider: borrowed from req (not freed) */
	const char *req_sig_in;
	char *resp_sig;            /* provider: ours */
	const char *resp_sig_in;   /* consumer: the target's */
	struct gw_loop *loop;
	struct ndx_loop_task task;
	struct gw_sign_job sign_job;
	struct gw_peer_call call;
	struct gw_xfer_resp answer;
	struct curl_slist *hdrs;
	char url_suffix[QTEXT_MAX + 16];
	const char *err_type;      /* X-Road-Error of the answer */
	enum gw_reason reason;     /* of a refusal made here, GW_R_COUNT: none */
	struct ndx_msglog_record rec;
};

static void oq_free(struct oq *x)
{
	free(x->req_sig);
	free(x->resp_sig);
	curl_slist_free_all(x->hdrs);
	free(x->call.url);
	gw_xfer_resp_free(&x->answer);
	gw_view_release(&x->view);
	free(x);
}

static void finish(struct oq *x)
{
	struct ndx_http_pending *p = x->pending;

	oq_free(x);
	if (p)
		ndx_http_resume(p);
}

__attribute__((format(printf, 4, 5))) static void refuse(struct oq *x, enum gw_reason r,
							  const char *specifics, const char *fmt,
							  ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	x->err_type = gw_refusal_body(x->resp, x->req, r,
				      x->provider ? GW_SIDE_PROVIDER : GW_SIDE_CONSUMER, specifics,
				      "%s", msg);
	x->reason = r;
}

/* ---- the message log ---------------------------------------------------------- */

static void answer_headers(struct oq *x, bool logged_ok)
{
	char *b64;

	if (!logged_ok) {
		gw_refusal(x->resp, x->req, GW_R_LOG_UNAVAILABLE,
			   x->provider ? GW_SIDE_PROVIDER : GW_SIDE_CONSUMER, NULL,
			   "the gateway cannot write its message log; the read is not answered");
		return;
	}
	if (x->err_type)
		ndx_http_resp_header(x->resp, "X-Road-Error", x->err_type);
	ndx_http_resp_header(x->resp, "X-Road-Id", x->msg_id_p);
	if (x->provider && x->resp_sig) {
		ndx_http_resp_header(x->resp, "Ndx-Response-Signature", x->resp_sig);
		if ((b64 = ndx_b64_encode(x->qhash, sizeof x->qhash, 0))) {
			ndx_http_resp_header(x->resp, "X-Road-Request-Hash", b64);
			free(b64);
		}
	}
}

static void logged(void *ud, int rc)
{
	struct oq *x = ud;

	answer_headers(x, rc == NDX_OK);
	finish(x);
}

/* The read's record in the message log, like an exchange's: the service
 * is the gateway read, the path the query (no personal data in either). */
static void log_read(struct oq *x)
{
	struct ndx_msglog_record *rec = &x->rec;
	const char *ct;
	const void *body;
	size_t len;
	int status = 500;

	if (ndx_http_resp_view(x->resp, &status, &ct, &body, &len) != NDX_OK)
		status = 500;
	snprintf(x->log_path, sizeof x->log_path, "/o1/%s", x->qtext);
	rec->direction = x->provider ? NDX_MSGLOG_PROVIDER : NDX_MSGLOG_CONSUMER;
	rec->message_id = x->msg_id_p;
	rec->client = x->client;
	rec->service = x->target;
	rec->method = "GET";
	rec->path = x->log_path;
	rec->request_hash = x->hashed ? x->qhash : NULL;
	rec->response_hash = x->answered_hash ? x->rhash : NULL;
	rec->status = status;
	rec->duration_ms = gw_elapsed_ms(&x->t0);
	rec->request_sig = x->provider ? x->req_sig_in : x->req_sig;
	rec->response_sig = x->provider ? x->resp_sig : x->resp_sig_in;
	if (!x->pending)
		x->pending = ndx_http_defer(x->req);
	gw_log_append_async(x->g->log, rec, logged, x);
}

/* ---- the store's answer ------------------------------------------------------- */

/* notAfter of the gateway's TLS certificate (PEM), Unix seconds; 0 when it
 * cannot be read. */
static int64_t cert_not_after(const char *pem)
{
	BIO *bio = pem ? BIO_new_mem_buf(pem, -1) : NULL;
	X509 *cert = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	struct tm tm;
	int64_t t = 0;

	if (cert && ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) == 1)
		t = (int64_t)timegm(&tm);
	X509_free(cert);
	BIO_free(bio);
	return t;
}

/* The health answer with the gateway's own state beside its services':
 * what an operator must see of every gateway without reaching its
 * /metrics (docs/protocol.md "Operational monitoring"). The JSON of the
 * store is replaced; on any failure it stays as it was. */
static void add_gateway_state(struct oq *x, char **json, size_t *len)
{
	struct gw_view v;
	uint64_t queued, dead, unacked;
	time_t now = time(NULL);
	json_t *doc = json_loadb(*json, *len, 0, NULL), *state;
	char *out;

	if (!json_is_object(doc)) {
		json_decref(doc);
		return;
	}
	gw_state_acquire(x->g->state, &v);
	gw_events_backlog(x->g->events, &queued, &dead, &unacked);
	state = json_pack("{s:I s:I s:b s:I s:I s:I s:I}", "conf_version",
			  (json_int_t)(v.c ? ndx_conf_version(v.c->conf) : 0), "conf_expires_at",
			  (json_int_t)(v.c ? ndx_conf_expires_at(v.c->conf) : 0), "log_writable",
			  !gw_log_failing(now), "tls_not_after",
			  (json_int_t)cert_not_after(x->g->cfg->tls_cert_pem), "events_queued",
			  (json_int_t)queued, "events_dead", (json_int_t)dead,
			  "events_unacknowledged", (json_int_t)unacked);
	gw_view_release(&v);
	if (state && json_object_set_new(doc, "gateway_state", state) == 0 &&
	    (out = json_dumps(doc, JSON_COMPACT))) {
		free(*json);
		*json = out;
		*len = strlen(out);
	}
	json_decref(doc);
}

static void charge(struct oq *x);

/* x->resp holds the answer or a refusal: on the gateway port it is signed
 * (one signature, alone, on the thread that answered: reads are rare) and
 * a refusal the caller brought on itself is charged; then both ports log. */
static void answered(struct oq *x)
{
	if (x->provider) {
		charge(x);
		if (answer_hash(x->resp, x->qhash, x->rhash)) {
			x->answered_hash = true;
			x->resp_sig = gw_sign_hash(x->g->cfg, x->rhash);
		}
	}
	log_read(x);
}

static void store_answered(void *ud, int rc, char *json, size_t len)
{
	struct oq *x = ud;

	if (rc == NDX_OK && x->q.kind == GW_OPMON_Q_HEALTH)
		add_gateway_state(x, &json, &len);

	if (rc == NDX_OK)
		ndx_http_resp_bytes(x->resp, 200, "application/json", json, len);
	else
		refuse(x, GW_R_OPMON_UNAVAILABLE, NULL,
		       "the operational monitoring store cannot be read");
	free(json);
	answered(x);
}

/* ---- the accesses feed and proofs (the message log) ------------------------------ */

static const char *nz(const char *s)
{
	return s ? s : "";
}

/* One page of the feed being built. */
struct feed {
	struct oq *x;
	json_t *list;
	int64_t n;           /* accesses in list */
	uint64_t last_seq;   /* the highest seq scanned: the reader's next cursor */
	bool oom;
};

/* Appends the subjects of e to arr: Ndx-Subject and the declared subjects
 * (canonical: ascending, distinct) merged into one ascending list, each
 * once. Returns false when out of memory. */
static bool add_subjects(json_t *arr, const struct ndx_msglog_entry *e)
{
	const char *subject = nz(e->subject), *p = nz(e->subjects);
	size_t slen = strlen(subject);
	bool placed = slen == 0;

	while (*p) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		int c;

		if (!placed) {
			/* Equal-length PINs compare as text; a shorter string first. */
			c = slen != n ? (slen < n ? -1 : 1) : memcmp(subject, p, n);
			if (c <= 0) {
				placed = true;
				if (c < 0 && json_array_append_new(arr, json_stringn(subject, slen)))
					return false;
			}
		}
		if (n && json_array_append_new(arr, json_stringn(p, n)))
			return false;
		p += n;
		if (*p == ',')
			p++;
	}
	return placed || !json_array_append_new(arr, json_stringn(subject, slen));
}

/* Whether e is a personal-data read this gateway served, as the feed lists
 * them: the provider side only (the consumer side is the reader's own
 * gateway's view; the provider's record is the one the subject's access
 * list shows), with a subject named or declared, not a read of the access
 * list (a citizen looking at who read them is no read of their data) and
 * not a monitoring read of this file (logged with the gateway's name as
 * service and /o1/{query} as path; they carry no subjects anyway). */
static bool is_access(const struct oq *x, const struct ndx_msglog_entry *e)
{
	const struct gw_service *svc;

	if (e->direction != NDX_MSGLOG_PROVIDER || (!nz(e->subject)[0] && !nz(e->subjects)[0]))
		return false;
	if (strcmp(nz(e->service), x->g->name) == 0 && strncmp(nz(e->path), OPMON_PREFIX,
								strlen(OPMON_PREFIX)) == 0)
		return false;
	svc = gw_settings_service(x->view.s, nz(e->service));
	return !(svc && svc->builtin == GW_BUILTIN_SUBJECT_ACCESSES);
}

static int feed_one(const struct ndx_msglog_entry *e, void *ctx)
{
	struct feed *f = ctx;
	const struct ndx_conf_service *svc;
	json_t *o, *subjects;
	bool own, event, consent;

	f->last_seq = e->seq;
	if (!is_access(f->x, e))
		return 0;
	/* An event delivery is logged by the publisher's gateway with
	 * direction provider and method EVENT (events.c ev_fill_record): the
	 * subscriber is the client, the event's subject its subject. */
	event = strcmp(nz(e->method), "EVENT") == 0;
	own = nz(e->authenticated)[0] && strcmp(e->authenticated, nz(e->subject)) == 0;
	svc = ndx_conf_service_of(f->x->view.c->conf, nz(e->service));
	consent = svc && svc->consent_required;
	if (!(subjects = json_array()) || !add_subjects(subjects, e)) {
		json_decref(subjects);
		f->oom = true;
		return 1;
	}
	/* The message log does not hold the X-Road-Error type of a refusal,
	 * and its status and response signature do not tell a gateway's
	 * refusal from the provider system's own error answer: error_type
	 * stays "" (the operational record of the same message_id has it). */
	/* "O" adds a reference: subjects is released below whatever happens. */
	o = json_pack("{sI sI ss ss ss ss ss si ss sO ss ss sb sb sb}", "seq",
		      (json_int_t)e->seq, "time_ms", (json_int_t)e->time_ms, "message_id",
		      nz(e->message_id), "client", nz(e->client), "service", nz(e->service),
		      "method", nz(e->method), "purpose", nz(e->purpose), "status", e->status,
		      "error_type", "", "subjects", subjects, "user_id", nz(e->user_id), "issue",
		      nz(e->issue), "own", own, "event", event, "consent", consent);
	json_decref(subjects);
	if (!o || json_array_append_new(f->list, o)) {
		f->oom = true;
		return 1;
	}
	return ++f->n >= f->x->q.limit;
}

static void answer_accesses(struct oq *x)
{
	struct feed f = { .x = x, .last_seq = (uint64_t)x->q.after };
	json_t *doc = NULL;
	char *text = NULL;
	int rc;

	if (!(f.list = json_array())) {
		refuse(x, GW_R_INTERNAL, NULL, "out of memory");
		return;
	}
	rc = ndx_msglog_after(x->g->log, (uint64_t)x->q.after,
			      (unsigned)(x->q.limit * ACCESS_SCAN_FACTOR), feed_one, &f);
	if (rc == NDX_OK && !f.oom)
		doc = json_pack("{ss sO sI}", "gateway", x->g->name, "accesses", f.list,
				"next_after", (json_int_t)f.last_seq);
	if (doc && (text = json_dumps(doc, JSON_COMPACT)))
		ndx_http_resp_bytes(x->resp, 200, "application/json", text, strlen(text));
	else if (rc != NDX_OK)
		refuse(x, GW_R_LOG_UNAVAILABLE, ndx_strerror(rc), "the message log cannot be read");
	else
		refuse(x, GW_R_INTERNAL, NULL, "out of memory");
	free(text);
	json_decref(doc);
	json_decref(f.list);
}

/* The proof as `ndx log prove --seq` prints it. Whether a record is beyond
 * the log or waits for its batch's tree head is told by the log's head;
 * a record the head covers that has no proof was archived. */
static void answer_proof(struct oq *x)
{
	struct ndx_msglog_head head;
	uint64_t seq = (uint64_t)x->q.seq;
	unsigned wait_ms = x->g->cfg->msglog_opt.batch_interval_ms;
	char err[512], *json = NULL;
	int rc;

	ndx_msglog_head(x->g->log, &head);
	if (seq > head.last_seq) {
		refuse(x, GW_R_PROOF_NOT_FOUND, NULL,
		       "the message log of %s ends at record %" PRIu64 "; there is no record %"
		       PRIu64, x->g->name, head.last_seq, seq);
		return;
	}
	rc = ndx_msglog_prove(x->g->cfg->msglog_path, NULL, -1, seq, &json, err, sizeof err);
	if (rc == NDX_OK) {
		size_t n = strlen(json);
		/* The CLI prints the proof and a newline: the same bytes here. */
		char *line = realloc(json, n + 2);

		if (!line) {
			free(json);
			refuse(x, GW_R_INTERNAL, NULL, "out of memory");
			return;
		}
		line[n] = '\n';
		line[n + 1] = '\0';
		ndx_http_resp_bytes(x->resp, 200, "application/json", line, n + 1);
		free(line);
		return;
	}
	if (rc == NDX_ENOTFOUND && seq > head.covered)
		refuse(x, GW_R_PROOF_NOT_READY, NULL,
		       "record %" PRIu64 " is not under a signed tree head yet; retry in %u ms",
		       seq, wait_ms ? wait_ms : NDX_MSGLOG_BATCH_INTERVAL_DEFAULT_MS);
	else if (rc == NDX_ENOTFOUND)
		refuse(x, GW_R_PROOF_NOT_FOUND, NULL,
		       "record %" PRIu64 " is no longer in the live message log of %s (archived)",
		       seq, x->g->name);
	else
		/* err may name the log's file: it stays on this side. */
		refuse(x, GW_R_LOG_UNAVAILABLE, ndx_strerror(rc),
		       "the message log cannot prove record %" PRIu64, seq);
}

static void read_store(struct oq *x)
{
	if (x->q.kind == GW_OPMON_Q_ACCESSES || x->q.kind == GW_OPMON_Q_PROOF) {
		/* On this thread, like the access list: bounded reads of the
		 * log's read connection (a page of at most
		 * ACCESS_SCAN_FACTOR * limit records; one batch for a proof). */
		if (x->q.kind == GW_OPMON_Q_ACCESSES)
			answer_accesses(x);
		else
			answer_proof(x);
		answered(x);
		return;
	}
	x->pending = ndx_http_defer(x->req);
	if (!x->g->opmon ||
	    gw_opmon_query(x->g->opmon, &x->q, x->g->name, store_answered, x) != NDX_OK)
		store_answered(x, NDX_EINVAL, NULL, 0);
}

/* ---- the consumer port --------------------------------------------------------- */

/* X-Road-Client as an exchange's: a member or subsystem id of this
 * gateway's, in the global configuration, connected as configured. */
static bool check_client(struct oq *x, bool tls)
{
	size_t len = 0;
	const char *hdr = ndx_http_header_last_n(x->req, "X-Road-Client", &len), *why = NULL;
	struct ndx_id cid;
	int slashes = 0;
	enum gw_reason r;

	if (!hdr) {
		refuse(x, GW_R_INVALID_CLIENT, NULL, "the X-Road-Client header is missing");
		return false;
	}
	for (size_t i = 0; i < len; i++)
		slashes += hdr[i] == '/';
	if (!gw_rf_value_ok(hdr, len) ||
	    ndx_id_parse(hdr, len, slashes == 2 ? NDX_ID_MEMBER : NDX_ID_SUBSYSTEM, &cid, &why) !=
		    NDX_OK) {
		refuse(x, GW_R_INVALID_CLIENT, why ? why : "malformed",
		       "X-Road-Client is not a member or subsystem id");
		return false;
	}
	ndx_id_format(&cid, x->client, sizeof x->client);
	if (!gw_settings_has_subsystem(x->view.s, x->client) ||
	    !ndx_conf_has_client(x->view.c->conf, x->client)) {
		refuse(x, GW_R_UNKNOWN_CLIENT, x->client,
		       "%s is not a client (member or subsystem) that may use this gateway",
		       x->client);
		return false;
	}
	if ((r = gw_client_connection(x->view.s, x->client, x->req, tls)) != GW_R_COUNT) {
		refuse(x, r, x->client, "%s must connect over TLS%s", x->client,
		       r == GW_R_AUTHENTICATION_FAILED ? " with a registered certificate" : "");
		return false;
	}
	return true;
}

/* The query arguments of req, as the parser takes them. */
static struct gw_opmon_args query_args(const struct ndx_http_req *req)
{
	struct gw_opmon_args a = {
		.after = ndx_http_query_arg(req, "after"),
		.limit = ndx_http_query_arg(req, "limit"),
		.from = ndx_http_query_arg(req, "from"),
		.to = ndx_http_query_arg(req, "to"),
		.seq = ndx_http_query_arg(req, "seq"),
	};

	return a;
}

/* /o1/{instance}/{class}/{member}/{code}/{records|health|accesses|proof}:
 * the gateway named, which must be in the configuration, and the query. */
static bool parse_target(struct oq *x)
{
	const char *path = x->req->path + strlen(OPMON_PREFIX), *last = strrchr(path, '/');
	const char *why = NULL;
	char err[160];
	struct ndx_id id, mid;
	enum gw_opmon_query_kind kind;
	const struct ndx_conf_gateway *gw;
	struct gw_opmon_args args = query_args(x->req);
	bool found = false;

	if (!last || gw_opmon_query_kind(last + 1, &kind) != NDX_OK ||
	    ndx_id_parse(path, (size_t)(last - path), NDX_ID_SUBSYSTEM, &id, &why) != NDX_OK) {
		refuse(x, GW_R_OPMON_QUERY, why,
		       "expected /o1/{instance}/{class}/{member}/{gateway code}/records, /health, "
		       "/accesses or /proof");
		return false;
	}
	if (gw_opmon_query_parse_args(kind, &args, &x->q, err, sizeof err) != NDX_OK ||
	    gw_opmon_query_text(&x->q, x->qtext, sizeof x->qtext) != NDX_OK) {
		refuse(x, GW_R_OPMON_QUERY, err, "the operational monitoring read is malformed");
		return false;
	}
	ndx_id_parent(&id, NDX_ID_MEMBER, &mid);
	ndx_id_format(&mid, x->target_member, sizeof x->target_member);
	snprintf(x->target_code, sizeof x->target_code, "%s", id.subsystem);
	gw_gateway_name(x->target_member, x->target_code, x->target, sizeof x->target);
	for (size_t i = 0; !found && (gw = ndx_conf_gateway_of(x->view.c->conf, x->target_member, i));
	     i++)
		found = strcmp(gw->code, x->target_code) == 0;
	if (!found) {
		refuse(x, GW_R_UNKNOWN_GATEWAY, x->target,
		       "%s is not a gateway of the global configuration", x->target);
		return false;
	}
	return true;
}

static int add_hdr(struct curl_slist **l, const char *name, const char *v)
{
	return gw_slist_add(l, name, v ? v : "");
}

/* peer.c's prepare hook: the query is signed for the target gateway. */
static void signed_query(struct gw_sign_job *job)
{
	struct oq *x = (struct oq *)((char *)job - offsetof(struct oq, sign_job));

	x->req_sig = job->sig;
	job->sig = NULL;
	curl_slist_free_all(x->hdrs);
	x->hdrs = NULL;
	if (!x->req_sig || add_hdr(&x->hdrs, "X-Road-Client", x->client) ||
	    add_hdr(&x->hdrs, "X-Road-Id", x->msg_id_p) ||
	    add_hdr(&x->hdrs, "Ndx-Timestamp", x->ts) || add_hdr(&x->hdrs, "Ndx-Nonce", x->nonce) ||
	    add_hdr(&x->hdrs, "Ndx-Gateway", x->target) ||
	    add_hdr(&x->hdrs, "Ndx-Signature", x->req_sig) ||
	    add_hdr(&x->hdrs, "Accept", "application/json")) {
		gw_peer_prepared(&x->call, false);
		return;
	}
	x->call.headers = x->hdrs;
	gw_peer_prepared(&x->call, true);
}

static int sign_query(struct gw_peer_call *call, const struct ndx_conf_gateway *gw, void *ud)
{
	struct oq *x = ud;
	struct query_hash_input in;

	(void)call;
	(void)gw;
	if (gw_uuid(x->nonce) != NDX_OK)
		return -1;
	in.client = x->client;
	in.message_id = x->msg_id_p;
	in.gateway = x->target;
	in.caller = x->g->name;
	in.query = x->qtext;
	in.timestamp = x->ts;
	in.nonce = x->nonce;
	query_hash(&in, x->qhash);
	x->hashed = true;
	free(x->req_sig);
	x->req_sig = NULL;
	x->sign_job.key = x->g->cfg->sign_key;
	x->sign_job.done = signed_query;
	memcpy(x->sign_job.hash, x->qhash, sizeof x->qhash);
	gw_loop_sign(x->loop, &x->sign_job);
	return 0;
}

/* The target gateway's answer: passed on only when its signature verifies. */
static void queried(struct gw_peer_call *call, enum gw_xfer_result res)
{
	struct oq *x = call->ud;
	struct gw_xfer_resp *r = &x->answer;
	char err[256];

	switch (res) {
	case GW_XFER_OK:
		break;
	case GW_XFER_TIMEOUT:
		refuse(x, GW_R_PROVIDER_TIMEOUT, NULL, "no answer from %s in time", x->target);
		log_read(x);
		return;
	case GW_XFER_IDENTITY:
		refuse(x, GW_R_PEER_IDENTITY, NULL, "the TLS certificate of the answering gateway "
		       "is not %s's", x->target);
		log_read(x);
		return;
	case GW_XFER_TOOBIG:
		refuse(x, GW_R_RESPONSE_TOO_LARGE, NULL, "the answer of %s is too large",
		       x->target);
		log_read(x);
		return;
	case GW_XFER_LOCAL:
		refuse(x, GW_R_CANNOT_SIGN, NULL, "cannot sign the read");
		log_read(x);
		return;
	default:
		refuse(x, GW_R_PROVIDER_UNREACHABLE, r->errbuf, "cannot reach %s", x->target);
		log_read(x);
		return;
	}
	if (!call->gateway || strcmp(call->gateway->code, x->target_code) != 0) {
		refuse(x, GW_R_PEER_IDENTITY, NULL, "another gateway than %s answered", x->target);
		log_read(x);
		return;
	}
	ndx_http_resp_bytes(x->resp, (int)r->status,
			    r->hdr[GW_H_CONTENT_TYPE] ? r->hdr[GW_H_CONTENT_TYPE] : "",
			    r->body ? r->body : "", r->len);
	x->resp_sig_in = r->hdr[GW_H_RESPONSE_SIG];
	if (answer_hash(x->resp, x->qhash, x->rhash))
		x->answered_hash = true;
	if (!x->answered_hash || gw_verify_hash(call->gateway->sign_key, x->resp_sig_in, x->rhash,
						 err, sizeof err) != NDX_OK) {
		/* The answer is not passed on; the refusal it may announce is. */
		char detail[384];

		snprintf(detail, sizeof detail, "%s%s%.128s", err,
			 r->hdr[GW_H_XROAD_ERROR] ? "; the gateway answered " : "",
			 r->hdr[GW_H_XROAD_ERROR] ? r->hdr[GW_H_XROAD_ERROR] : "");
		refuse(x, GW_R_BAD_RESPONSE_SIGNATURE, detail,
		       "the answer of %s does not carry its valid signature", x->target);
		log_read(x);
		return;
	}
	/* A refusal of the target gateway reaches the client as it came. */
	if (r->hdr[GW_H_XROAD_ERROR]) {
		x->err_type = r->hdr[GW_H_XROAD_ERROR];
		gw_metrics_relayed_error(x->err_type);
	}
	log_read(x);
}

static void start_on_loop(void *arg)
{
	struct oq *x = arg;

	gw_peer_start(&x->call, &x->answer);
}

static void ask_remote(struct oq *x)
{
	ndx_time_format(time(NULL), x->ts);
	snprintf(x->url_suffix, sizeof x->url_suffix, OPMON_QUERY_PATH "%s", x->qtext);
	x->pending = ndx_http_defer(x->req);
	x->loop = gw_loops_next(x->g->loops);
	x->call.loop = x->loop;
	x->call.conf = x->view.c->conf;
	x->call.member = x->target_member;
	x->call.only_code = x->target_code;
	x->call.method = "GET";
	x->call.url_suffix = x->url_suffix;
	x->call.cfg = x->g->cfg;
	x->call.s = x->view.s;
	x->call.prepare = sign_query;
	x->call.done = queried;
	x->call.ud = x;
	x->task.fn = start_on_loop;
	x->task.arg = x;
	if (gw_loop_post(x->loop, &x->task) != NDX_OK) {
		refuse(x, GW_R_INTERNAL, NULL, "the gateway is stopping");
		log_read(x);
	}
}

static struct oq *oq_new(struct gw_ctx *g, const struct ndx_http_req *req,
			 struct ndx_http_resp *resp, bool provider)
{
	struct oq *x = calloc(1, sizeof *x);

	if (!x) {
		gw_refusal(resp, req, GW_R_INTERNAL, provider ? GW_SIDE_PROVIDER : GW_SIDE_CONSUMER,
			   NULL, "out of memory");
		return NULL;
	}
	clock_gettime(CLOCK_MONOTONIC, &x->t0);
	x->g = g;
	x->req = req;
	x->resp = resp;
	x->provider = provider;
	x->reason = GW_R_COUNT;
	gw_state_acquire(g->state, &x->view);
	return x;
}

/* Answers a refusal made before anything was logged, at once. */
static void refused_now(struct oq *x)
{
	if (x->err_type)
		ndx_http_resp_header(x->resp, "X-Road-Error", x->err_type);
	finish(x);
}

void gw_opmon_consumer(struct gw_ctx *g, const struct ndx_http_req *req,
		       struct ndx_http_resp *resp, bool tls)
{
	struct oq *x = oq_new(g, req, resp, false);
	const char *id;
	bool ok;

	if (!x)
		return;
	if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
		ndx_http_resp_header(resp, "Allow", "GET, HEAD");
		refuse(x, GW_R_BAD_METHOD, req->method, "operational monitoring answers GET only");
		refused_now(x);
		return;
	}
	if (!gw_view_live(&x->view, time(NULL))) {
		refuse(x, GW_R_NO_CONFIGURATION, NULL,
		       "the gateway holds no valid global configuration");
		refused_now(x);
		return;
	}
	if (!check_client(x, tls) || !parse_target(x)) {
		refused_now(x);
		return;
	}
	id = gw_header(req, "X-Road-Id", &ok);
	if (!ok) {
		refuse(x, GW_R_BAD_HEADER, "X-Road-Id", "X-Road-Id is malformed");
		refused_now(x);
		return;
	}
	if (id && id[0]) {
		x->msg_id_p = id;
	} else {
		if (gw_uuid7(x->msg_id) != NDX_OK) {
			refuse(x, GW_R_INTERNAL, NULL, "no randomness for a message id");
			refused_now(x);
			return;
		}
		x->msg_id_p = x->msg_id;
	}
	/* This gateway's own records: its own clients may read them. */
	if (strcmp(x->target, g->name) == 0)
		read_store(x);
	else
		ask_remote(x);
}

/* ---- the gateway port ------------------------------------------------------------ */

/* A refusal after the query hash is known: signed (alone, on this thread:
 * the refusal budget bounds how many) and logged. */
static void charge(struct oq *x)
{
	struct timespec t;

	if (!x->peer_member[0] || x->reason == GW_R_COUNT ||
	    !gw_reason_info(x->reason)->callers_fault)
		return;
	clock_gettime(CLOCK_MONOTONIC, &t);
	gw_peerlimit_charge(x->g->refusals, x->peer_member,
			    (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000);
}

static void refuse_signed(struct oq *x)
{
	charge(x);
	if (answer_hash(x->resp, x->qhash, x->rhash)) {
		x->answered_hash = true;
		x->resp_sig = gw_sign_hash(x->g->cfg, x->rhash);
	}
	log_read(x);
}

/* Before the hash: who calls, within its budget, with a GET. */
static bool provider_door(struct oq *x)
{
	const struct ndx_conf *conf = x->view.c->conf;
	char fp[2 * NDX_SHA256_LEN + 1];
	struct timespec t;
	int64_t now_ms;

	if (!gw_view_live(&x->view, time(NULL))) {
		refuse(x, GW_R_NO_CONFIGURATION, NULL,
		       "the gateway holds no valid global configuration");
		return false;
	}
	if (ndx_http_client_cert(x->req, fp) != NDX_OK ||
	    !(x->peer = ndx_conf_gateway_by_cert(conf, fp)) || ndx_conf_is_revoked(conf, fp) ||
	    ndx_conf_is_revoked(conf, x->peer->sign_key_id)) {
		refuse(x, GW_R_UNAUTHENTICATED, NULL,
		       "a read comes from a gateway of the configuration, with its certificate, "
		       "neither revoked");
		return false;
	}
	clock_gettime(CLOCK_MONOTONIC, &t);
	now_ms = (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
	if (!gw_peerlimit_allows(x->g->refusals, x->peer->member, now_ms)) {
		unsigned after = gw_peerlimit_retry_after(x->g->refusals, x->peer->member, now_ms);
		char ra[16];

		snprintf(ra, sizeof ra, "%u", after ? after : 1);
		ndx_http_resp_header(x->resp, "Retry-After", ra);
		refuse(x, GW_R_TOO_MANY_REFUSALS, x->peer->member,
		       "too many requests of %s were refused; retry after %s s", x->peer->member,
		       ra);
		return false;
	}
	snprintf(x->peer_member, sizeof x->peer_member, "%s", x->peer->member);
	gw_gateway_name(x->peer->member, x->peer->code, x->caller, sizeof x->caller);
	if (strcmp(x->req->method, "GET") != 0) {
		refuse(x, GW_R_BAD_METHOD, x->req->method, "a read is a GET");
		return false;
	}
	return true;
}

/* The query hash of what arrived, with this gateway's own name and the
 * caller's, whatever the headers say. */
static bool provider_hash(struct oq *x)
{
	const char *rest = x->req->path + strlen(OPMON_QUERY_PATH);
	const char *client = ndx_http_header(x->req, "X-Road-Client");
	struct query_hash_input in;
	int n;

	n = snprintf(x->qtext, sizeof x->qtext, "%s%s%s", rest, x->req->query[0] ? "?" : "",
		     x->req->query);
	if (n < 0 || (size_t)n >= sizeof x->qtext) {
		refuse(x, GW_R_OPMON_QUERY, NULL, "the read's query is too long");
		return false;
	}
	snprintf(x->client, sizeof x->client, "%s", client ? client : "");
	x->msg_id_p = ndx_http_header(x->req, "X-Road-Id");
	x->req_sig_in = ndx_http_header(x->req, "Ndx-Signature");
	snprintf(x->target, sizeof x->target, "%s", x->g->name);
	in.client = x->client;
	in.message_id = x->msg_id_p;
	in.gateway = x->g->name;
	in.caller = x->caller;
	in.query = x->qtext;
	in.timestamp = ndx_http_header(x->req, "Ndx-Timestamp");
	in.nonce = ndx_http_header(x->req, "Ndx-Nonce");
	query_hash(&in, x->qhash);
	x->hashed = true;
	return true;
}

static bool provider_checks(struct oq *x)
{
	const struct ndx_conf *conf = x->view.c->conf;
	const char *ts_hdr = ndx_http_header(x->req, "Ndx-Timestamp");
	const char *for_gw = ndx_http_header(x->req, "Ndx-Gateway"), *why = NULL, *monitor;
	const char *kind_text = x->req->path + strlen(OPMON_QUERY_PATH);
	long skew = x->view.s->clock_skew_s;
	struct ndx_id cid, cm;
	char cmember[NDX_ID_TEXT_MAX], err[512];
	int slashes = 0;
	time_t ts, now = time(NULL);
	uint8_t rkey[GW_REPLAY_KEY_LEN];
	int rrc;

	for (const char *p = x->client; *p; p++)
		slashes += *p == '/';
	if (ndx_id_parse(x->client, strlen(x->client), slashes == 2 ? NDX_ID_MEMBER : NDX_ID_SUBSYSTEM,
			 &cid, &why) != NDX_OK) {
		refuse(x, GW_R_INVALID_CLIENT, why, "X-Road-Client is not a member or subsystem id");
		return false;
	}
	ndx_id_parent(&cid, NDX_ID_MEMBER, &cm);
	ndx_id_format(&cm, cmember, sizeof cmember);
	/* A gateway speaks only for its own member's clients. */
	if (strcmp(cmember, x->peer_member) != 0 || !ndx_conf_has_client(conf, x->client)) {
		refuse(x, GW_R_UNKNOWN_CLIENT, x->client,
		       "%s is not a client of %s, whose gateway is calling", x->client,
		       x->peer_member);
		return false;
	}
	if (!x->msg_id_p || !x->msg_id_p[0]) {
		refuse(x, GW_R_MISSING_MESSAGE_ID, "X-Road-Id", "the X-Road-Id header is missing");
		return false;
	}
	if (!ts_hdr || ndx_time_parse(ts_hdr, &ts) != NDX_OK ||
	    (ts > now ? ts - now : now - ts) > (time_t)skew) {
		refuse(x, GW_R_STALE_TIMESTAMP, ts_hdr,
		       "Ndx-Timestamp is missing, malformed or more than %ld s from this "
		       "gateway's clock", skew);
		return false;
	}
	if (!for_gw || strcmp(for_gw, x->g->name) != 0) {
		refuse(x, GW_R_WRONG_GATEWAY, for_gw, "the read was signed for %s, not for %s",
		       for_gw ? for_gw : "no gateway", x->g->name);
		return false;
	}
	if (gw_verify_hash(x->peer->sign_key, x->req_sig_in, x->qhash, err, sizeof err) !=
	    NDX_OK) {
		refuse(x, GW_R_BAD_SIGNATURE, err, "Ndx-Signature does not verify over the read");
		return false;
	}
	/* Its own member's records to each member; everyone's to the
	 * operator's monitoring client only. */
	monitor = ndx_conf_monitoring_client(conf);
	if (strcmp(cmember, x->g->cfg->member) != 0 && !(monitor && strcmp(monitor, x->client) == 0)) {
		refuse(x, GW_R_OPMON_NOT_ALLOWED, x->client,
		       "%s may not read the operational records of %s", x->client, x->g->name);
		return false;
	}
	gw_replay_key(x->qhash, rkey);
	rrc = gw_replay_check_and_add_owned(x->g->replay, rkey, gw_replay_owner(x->peer_member),
					    now);
	if (rrc != NDX_OK) {
		if (rrc == NDX_EEXIST)
			refuse(x, GW_R_REPLAY, x->msg_id_p, "this signed read was already accepted");
		else
			refuse(x, GW_R_BUSY, NULL, "the replay cache is full; retry later");
		return false;
	}
	{
		enum gw_opmon_query_kind kind;
		struct gw_opmon_args args = query_args(x->req);

		if (gw_opmon_query_kind(kind_text, &kind) != NDX_OK) {
			refuse(x, GW_R_OPMON_QUERY, NULL,
			       "expected /o1/query/records, health, accesses or proof");
			return false;
		}
		if (gw_opmon_query_parse_args(kind, &args, &x->q, err, sizeof err) != NDX_OK) {
			refuse(x, GW_R_OPMON_QUERY, err, "the read is malformed");
			return false;
		}
	}
	return true;
}

void gw_opmon_provider(struct gw_ctx *g, const struct ndx_http_req *req,
		       struct ndx_http_resp *resp)
{
	struct oq *x = oq_new(g, req, resp, true);

	if (!x)
		return;
	if (!provider_door(x)) {
		refused_now(x);
		return;
	}
	if (strncmp(req->path, OPMON_QUERY_PATH, strlen(OPMON_QUERY_PATH)) != 0) {
		refuse(x, GW_R_OPMON_QUERY, NULL,
		       "expected /o1/query/records, health, accesses or proof");
		charge(x);
		refused_now(x);
		return;
	}
	if (!provider_hash(x)) {
		refused_now(x);
		return;
	}
	if (!provider_checks(x)) {
		refuse_signed(x);
		return;
	}
	read_store(x);
}
