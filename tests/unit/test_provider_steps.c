/* The gateway port's checks (src/gateway/provider.c: check_gateway,
 * authenticate_peer, check_budget, parse, hash, check_maintenance, check_client,
 * check_message, check_signed_for_us, check_signature, identify_service,
 * check_grant, check_personal, check_replay), in order, on real signed
 * requests: each refusal is the reason the step returns, noted once in
 * x->refusal and rendered once (render_refusal) with the status and
 * X-Road type of errors.c's table, and a well-signed, granted, fresh
 * request passes every check up to serve. The end-to-end tests
 * (tests/e2e) cover the same refusals through running gateways; these pin
 * which step refuses, and that the replay cache only takes requests that
 * passed every other check (docs/security.md T9, T35).
 *
 * The steps are static: provider.c is included here, as C tests static
 * functions, and this file links the gateway's core library for the rest.
 * The configuration is a real signed one (steps_fixture.h); requests are
 * signed here as a consumer gateway signs them (the canonical request
 * hash of ndx/hash.h, a signature object of signer.h by the calling
 * gateway's key of the configuration) and come through a loopback
 * ndx_httpd from libcurl. That port is plain HTTP, so the calling gateway
 * is the one authenticate_peer would find from its TLS certificate,
 * set by the handler (the real step is run once, to see it refuse a
 * request without a certificate). serve, which hands the exchange to a
 * loop and the provider system, is not run. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "provider.c"

#include "steps_fixture.h"

#include <unistd.h>

/* ---- the fixture ---------------------------------------------------------- */

static struct sx_fed *fed;
static struct sx_gateway *bca;      /* the provider gateway: VN/GOV/BCA gw1 */
static struct ndx_httpd *port_srv;  /* its gateway port, running the checks */
static uint16_t port;

/* What the handler is asked to do and what it found: written by the
 * server's thread while the test thread waits in sx_send. */
static struct {
	const char *peer_member;  /* the calling gateway (its first); NULL: run authenticate_peer */
	/* found */
	const char *step;         /* the step that refused, NULL = none */
	enum gw_reason reason;    /* what it returned (GW_R_COUNT: all went on) */
	enum gw_reason noted;     /* x->refusal.reason */
	bool hashed;
	int status;
	const char *err_type;
} run;

static void provider_port(void *ctx, const struct ndx_http_req *req, struct ndx_http_resp *resp)
{
	struct sx_gateway *g = ctx;
	struct exch *x = calloc(1, sizeof *x);
	int status = 0;
	const char *ct;
	const void *body;
	size_t len;

	run.step = NULL;
	run.reason = GW_R_COUNT;
	run.err_type = NULL;
	if (!x) {
		ndx_http_resp_bytes(resp, 599, "text/plain", "oom", 3);
		return;
	}
	x->g = &g->ctx;
	exch_arena_init(x);
	gw_state_acquire(g->state, &x->view);
	x->v = &x->view;
	x->req = req;
	x->resp = resp;
	x->now = time(NULL);
	x->refusal.reason = GW_R_COUNT;
	for (size_t i = 0; i < sizeof steps / sizeof steps[0] && steps[i].run != step_serve; i++) {
		if (steps[i].run == step_authenticate_peer && run.peer_member) {
			/* what the step finds from the calling gateway's certificate */
			x->peer = ndx_conf_gateway_of(x->conf, run.peer_member, 0);
			continue;
		}
		if ((run.reason = steps[i].run(x)) != GW_R_COUNT) {
			run.step = steps[i].name;
			break;
		}
	}
	run.noted = x->refusal.reason;
	run.hashed = x->hashed;
	if (x->refusal.reason != GW_R_COUNT)
		render_refusal(x);
	else
		ndx_http_resp_bytes(resp, 299, "text/plain", "to serve", 8);
	run.err_type = x->err_type;
	if (ndx_http_resp_view(resp, &status, &ct, &body, &len) == NDX_OK)
		run.status = status;
	if (x->err_type)
		ndx_http_resp_header(resp, "X-Road-Error", x->err_type);
	exch_free(x);
}

static int setup(void **state)
{
	(void)state;
	if (gw_xfer_global_init() != NDX_OK || !(fed = sx_fed_new()) ||
	    !(bca = sx_gateway_open(fed, SX_BCA, "gw1", SX_KEY_BCA_GW1, "[\"population\"]",
				    "{\"" SX_CITIZENS "\": {\"backend\": \"http://127.0.0.1:1\"},"
				    " \"" SX_HOUSEHOLDS "\": {\"backend\": \"http://127.0.0.1:1\"}}")))
		return -1;
	/* as main.c makes them */
	bca->ctx.replay = gw_replay_new(1024, 2 * 300 + 1);
	bca->ctx.refusals = gw_peerlimit_new(GW_REFUSALS_PER_S_DEFAULT, GW_REFUSAL_BURST_DEFAULT);
	port_srv = sx_server_start(provider_port, bca, &port);
	return bca->ctx.replay && bca->ctx.refusals && port_srv ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	ndx_httpd_stop(port_srv);
	if (bca) {
		gw_replay_free(bca->ctx.replay);
		gw_peerlimit_free(bca->ctx.refusals);
	}
	sx_gateway_free(bca);
	sx_fed_free(fed);
	gw_metrics_free_all();
	gw_xfer_global_cleanup();
	return 0;
}

/* ---- a consumer gateway's request ------------------------------------------ */

struct signed_req {
	const char *method, *service, *rest, *client, *xid, *purpose, *subject;
	const char *timestamp;  /* NULL: now */
	const char *nonce;      /* NULL: a new one */
	const char *gateway;    /* Ndx-Gateway and the hash's; NULL: VN/GOV/BCA/gw1 */
	enum sx_key key;        /* who signs */
	bool no_signature;
	const char *added;      /* a header line added after signing, NULL = none */
};

/* A request for the members of r with defaults: GET citizens
 * /citizens/001 by MOF's enterprise, for the purpose, about SX_PIN,
 * signed by MOF's gateway. */
static struct signed_req good(const char *xid)
{
	return (struct signed_req){ .method = "GET", .service = SX_CITIZENS,
				    .rest = "/citizens/001", .client = SX_TAX, .xid = xid,
				    .purpose = SX_PURPOSE, .subject = SX_PIN,
				    .key = SX_KEY_MOF_GW1 };
}

/* Signs r as a consumer gateway does (docs/protocol.md "Gateway to
 * gateway") and sends it to the gateway port; *nonce_out (may be NULL)
 * gets the nonce and *ts_out the timestamp used. */
static void send_signed(const struct signed_req *r, struct sx_reply *out,
			char nonce_out[GW_UUID_LEN], char ts_out[NDX_TIME_TEXT_LEN])
{
	struct ndx_request_hash_input hin = { 0 };
	struct gw_config signer = { 0 };
	char ts[NDX_TIME_TEXT_LEN], nonce[GW_UUID_LEN], target[512];
	char lines[10][1200];
	const char *headers[12] = { 0 };
	const char *gateway = r->gateway ? r->gateway : SX_BCA "/gw1";
	uint8_t h[NDX_SHA256_LEN];
	char *sig = NULL;
	size_t n = 0;

	if (r->timestamp)
		snprintf(ts, sizeof ts, "%s", r->timestamp);
	else
		ndx_time_format(time(NULL), ts);
	if (r->nonce)
		snprintf(nonce, sizeof nonce, "%s", r->nonce);
	else
		assert_int_equal(gw_uuid(nonce), NDX_OK);
	hin.method = r->method;
	hin.service = r->service;
	hin.path = r->rest;
	hin.query = "";
	hin.client = r->client;
	hin.message_id = r->xid;
	hin.purpose = r->purpose;
	hin.subject = r->subject;
	hin.timestamp = ts;
	hin.nonce = nonce;
	hin.gateway = gateway;
	sx_no_user_headers(hin.user_headers_sha256);
	ndx_sha256("", 0, hin.body_sha256);
	ndx_request_hash(&hin, h);
	signer.sign_key = fed->key[r->key];
	if (!r->no_signature)
		assert_non_null(sig = gw_sign_hash(&signer, h));

	snprintf(lines[n], sizeof lines[n], "X-Road-Client: %s", r->client);
	headers[n] = lines[n], n++;
	snprintf(lines[n], sizeof lines[n], "X-Road-Id: %s", r->xid);
	headers[n] = lines[n], n++;
	snprintf(lines[n], sizeof lines[n], "Ndx-Timestamp: %s", ts);
	headers[n] = lines[n], n++;
	snprintf(lines[n], sizeof lines[n], "Ndx-Nonce: %s", nonce);
	headers[n] = lines[n], n++;
	snprintf(lines[n], sizeof lines[n], "Ndx-Gateway: %s", gateway);
	headers[n] = lines[n], n++;
	if (r->purpose) {
		snprintf(lines[n], sizeof lines[n], "Ndx-Purpose: %s", r->purpose);
		headers[n] = lines[n], n++;
	}
	if (r->subject) {
		snprintf(lines[n], sizeof lines[n], "Ndx-Subject: %s", r->subject);
		headers[n] = lines[n], n++;
	}
	if (sig) {
		snprintf(lines[n], sizeof lines[n], "Ndx-Signature: %s", sig);
		headers[n] = lines[n], n++;
	}
	if (r->added)
		headers[n++] = r->added;
	free(sig);
	snprintf(target, sizeof target, "/r1/%s%s", r->service, r->rest);
	assert_int_equal(sx_send(port, r->method, target, headers, out), 0);
	if (nonce_out)
		memcpy(nonce_out, nonce, GW_UUID_LEN);
	if (ts_out)
		memcpy(ts_out, ts, NDX_TIME_TEXT_LEN);
}

/* The check named step refused with reason, noted it, and its answer was
 * rendered exactly once with status and type; the caller got it. */
static void assert_refused(const struct sx_reply *r, unsigned long rendered_before,
			   const char *step, enum gw_reason reason, int status, const char *type)
{
	const char *name = gw_reason_info(reason)->reason;
	char detail[128];

	assert_non_null(run.step);
	assert_string_equal(run.step, step);
	assert_int_equal(run.reason, reason);
	assert_int_equal(run.noted, reason);
	assert_int_equal(run.status, status);
	assert_string_equal(run.err_type, type);
	assert_int_equal(sx_refusals_rendered(bca, "provider", name), rendered_before + 1);
	assert_int_equal(r->status, status);
	assert_string_equal(r->xroad_error, type);
	snprintf(detail, sizeof detail, "\"detail\":\"%s", name);
	assert_non_null(strstr(r->body, detail));
}

static void assert_passed(const struct sx_reply *r)
{
	assert_null(run.step);
	assert_int_equal(run.reason, GW_R_COUNT);
	assert_int_equal(run.noted, GW_R_COUNT);
	assert_null(run.err_type);
	assert_true(run.hashed);
	assert_int_equal(r->status, 299);
	assert_string_equal(r->xroad_error, "");
}

/* ---- the cases ------------------------------------------------------------ */

/* A well-signed request of MOF's enterprise, granted, for a purpose of the
 * service and about one person, passes every check; the replay cache holds
 * it from then on. */
static void a_good_request_passes_every_check(void **state)
{
	struct signed_req q = good("good-1");
	size_t held = gw_replay_count(bca->ctx.replay);
	struct sx_reply r;
	(void)state;

	run.peer_member = SX_MOF;
	send_signed(&q, &r, NULL, NULL);
	assert_passed(&r);
	assert_int_equal(gw_replay_count(bca->ctx.replay), held + 1);
	sx_reply_free(&r);
}

/* e2e: tests/e2e/test_gateway.py::test_gateway_port_without_client_certificate_is_refused.
 * Before the request hash is known: not hashed, so neither signed nor logged. */
static void authenticate_peer_refuses_a_caller_without_a_certificate(void **state)
{
	struct signed_req q = good("nocert-1");
	unsigned long before = sx_refusals_rendered(bca, "provider", "Unauthenticated");
	struct sx_reply r;
	(void)state;

	run.peer_member = NULL;
	send_signed(&q, &r, NULL, NULL);
	assert_refused(&r, before, "authenticate_peer", GW_R_UNAUTHENTICATED, 500,
		       "Server.ServerProxy.SslAuthenticationFailed");
	assert_non_null(strstr(r.body, "no client certificate issued by the instance CA"));
	assert_false(run.hashed);
	sx_reply_free(&r);
}

/* e2e: tests/e2e/test_gateway.py::test_gateway_port_forged_signature_is_bad_signature
 * ("another gateway's key", "UserId changed after signing", no signature). */
static void check_signature_refuses_what_the_calling_gateway_did_not_sign(void **state)
{
	struct signed_req cases[3];
	size_t held = gw_replay_count(bca->ctx.replay);
	struct sx_reply r;
	(void)state;

	cases[0] = good("forged-1");
	cases[0].key = SX_KEY_COM_GW1; /* a gateway of the configuration, not the caller */
	cases[1] = good("forged-2");
	cases[1].added = "X-Road-UserId: u-2"; /* the request changed after signing */
	cases[2] = good("forged-3");
	cases[2].no_signature = true;
	run.peer_member = SX_MOF;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		unsigned long before = sx_refusals_rendered(bca, "provider", "BadSignature");

		send_signed(&cases[i], &r, NULL, NULL);
		assert_refused(&r, before, "check_signature", GW_R_BAD_SIGNATURE, 500,
			       "Server.ServerProxy.InvalidSignatureValue");
		assert_true(run.hashed);
		sx_reply_free(&r);
	}
	/* none of them took a place in the replay cache */
	assert_int_equal(gw_replay_count(bca->ctx.replay), held);
}

/* e2e: tests/e2e/test_gateway.py::test_gateway_port_checks_grant_client_member_and_service
 * ("BHXH has no grant", "path outside the grant", "method outside the grant"). */
/* In maintenance (docs/gateway-console.md) a request that is well signed
 * and granted is refused right after its hash, so the refusal is signed;
 * out of it, the same request goes on. */
static void check_maintenance_refuses_every_new_exchange(void **state)
{
	struct signed_req q = good("maint-1");
	char dir[] = "/tmp/ndx-maint-XXXXXX", why[256], file[64];
	unsigned long before;
	struct sx_reply r;
	(void)state;

	assert_non_null(mkdtemp(dir));
	assert_int_equal(gw_maintenance_open(dir, &bca->ctx.maint, why, sizeof why), NDX_OK);
	assert_int_equal(gw_maintenance_set(bca->ctx.maint, true, "official:test"), NDX_OK);
	run.peer_member = SX_MOF;
	before = sx_refusals_rendered(bca, "provider", "Maintenance");
	send_signed(&q, &r, NULL, NULL);
	assert_refused(&r, before, "check_maintenance", GW_R_MAINTENANCE, 503,
		       "Server.ServerProxy.Maintenance");
	assert_true(run.hashed);
	sx_reply_free(&r);
	assert_int_equal(gw_maintenance_set(bca->ctx.maint, false, "official:test"), NDX_OK);
	q = good("maint-2");
	send_signed(&q, &r, NULL, NULL);
	assert_passed(&r);
	sx_reply_free(&r);
	gw_maintenance_free(bca->ctx.maint);
	bca->ctx.maint = NULL;
	snprintf(file, sizeof file, "%s/maintenance.json", dir);
	assert_int_equal(remove(file), 0);
	assert_int_equal(rmdir(dir), 0);
}

static void check_grant_refuses_a_client_without_a_grant(void **state)
{
	struct signed_req q = good("nogrant-1");
	size_t held = gw_replay_count(bca->ctx.replay);
	unsigned long before;
	struct sx_reply r;
	(void)state;

	/* a member with no grant at all, well signed by its own gateway */
	q.client = SX_OUTSIDER;
	q.key = SX_KEY_COM_GW1;
	run.peer_member = SX_COM;
	before = sx_refusals_rendered(bca, "provider", "NoGrant");
	send_signed(&q, &r, NULL, NULL);
	assert_refused(&r, before, "check_grant", GW_R_NO_GRANT, 500,
		       "Server.ServerProxy.AccessDenied");
	assert_non_null(strstr(r.body, "\"detail\":\"NoGrant: GET /citizens/001\""));
	sx_reply_free(&r);

	/* a granted client outside its grant's paths and methods */
	run.peer_member = SX_MOF;
	q = good("nogrant-2");
	q.rest = "/other/001";
	before = sx_refusals_rendered(bca, "provider", "NoGrant");
	send_signed(&q, &r, NULL, NULL);
	assert_refused(&r, before, "check_grant", GW_R_NO_GRANT, 500,
		       "Server.ServerProxy.AccessDenied");
	sx_reply_free(&r);
	q = good("nogrant-3");
	q.method = "DELETE";
	before = sx_refusals_rendered(bca, "provider", "NoGrant");
	send_signed(&q, &r, NULL, NULL);
	assert_refused(&r, before, "check_grant", GW_R_NO_GRANT, 500,
		       "Server.ServerProxy.AccessDenied");
	sx_reply_free(&r);
	assert_int_equal(gw_replay_count(bca->ctx.replay), held);
}

/* e2e: tests/e2e/test_gateway_consent.py::test_subject_and_purpose_are_required
 * (PurposeMissing, SubjectMissing, SubjectInvalid, PurposeNotAllowed).
 * A personal-data service needs its subject and one of its purposes; a
 * service that is not personal needs neither. */
static void check_personal_refuses_a_personal_request_without_purpose_or_subject(void **state)
{
	static const struct {
		const char *purpose, *subject;
		enum gw_reason reason;
		int status;
		const char *type;
	} cases[] = {
		{ NULL, SX_PIN, GW_R_PURPOSE_MISSING, 500, "Server.ServerProxy.AccessDenied" },
		{ SX_PURPOSE, NULL, GW_R_SUBJECT_MISSING, 500, "Server.ServerProxy.AccessDenied" },
		{ NULL, NULL, GW_R_SUBJECT_MISSING, 500, "Server.ServerProxy.AccessDenied" },
		{ SX_PURPOSE, "12345", GW_R_SUBJECT_INVALID, 400, "Client.BadRequest" },
		{ "marketing", SX_PIN, GW_R_PURPOSE_NOT_ALLOWED, 500,
		  "Server.ServerProxy.AccessDenied" },
	};
	size_t held = gw_replay_count(bca->ctx.replay);
	struct sx_reply r;
	(void)state;

	run.peer_member = SX_MOF;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct signed_req q = good("personal");
		unsigned long before =
			sx_refusals_rendered(bca, "provider", gw_reason_info(cases[i].reason)->reason);

		q.purpose = cases[i].purpose;
		q.subject = cases[i].subject;
		send_signed(&q, &r, NULL, NULL);
		assert_refused(&r, before, "check_personal", cases[i].reason, cases[i].status,
			       cases[i].type);
		/* the number is never repeated in the answer */
		assert_null(strstr(r.body, SX_PIN));
		sx_reply_free(&r);
	}
	assert_int_equal(gw_replay_count(bca->ctx.replay), held);

	/* not personal: neither is needed */
	{
		struct signed_req q = good("not-personal");

		q.service = SX_HOUSEHOLDS;
		q.rest = "/h/1";
		q.purpose = q.subject = NULL;
		send_signed(&q, &r, NULL, NULL);
		assert_passed(&r);
		sx_reply_free(&r);
	}
}

/* e2e: tests/e2e/test_hardening.py::test_replayed_signed_request_is_refused_as_a_replay.
 * The same signed request again (same nonce, timestamp and signature:
 * Ed25519 is deterministic) is refused at check_replay; the client's retry
 * with the same X-Road-Id, signed anew with a fresh nonce, is another
 * request and passes. */
static void check_replay_refuses_a_signed_request_seen_before(void **state)
{
	struct signed_req q = good("replay-1");
	char nonce[GW_UUID_LEN], ts[NDX_TIME_TEXT_LEN];
	unsigned long before;
	struct sx_reply r;
	(void)state;

	run.peer_member = SX_MOF;
	send_signed(&q, &r, nonce, ts);
	assert_passed(&r);
	sx_reply_free(&r);

	q.nonce = nonce;
	q.timestamp = ts;
	before = sx_refusals_rendered(bca, "provider", "Replay");
	send_signed(&q, &r, NULL, NULL);
	assert_refused(&r, before, "check_replay", GW_R_REPLAY, 500,
		       "Server.ServerProxy.InvalidMessage");
	assert_non_null(strstr(r.body, "replay-1"));
	sx_reply_free(&r);

	q.nonce = NULL;
	send_signed(&q, &r, NULL, NULL);
	assert_passed(&r);
	sx_reply_free(&r);
}

/* The checks between hash and check_signature, each refusing in its
 * place. e2e: tests/e2e/test_gateway.py::test_gateway_port_checks_grant_client_member_and_service
 * ("client of another member than the TLS certificate's", "service not in
 * the configuration"), ::test_gateway_port_stale_timestamp_is_refused, and
 * tests/e2e/test_hardening.py::test_request_replayed_to_a_sibling_gateway_is_refused. */
static void the_message_checks_refuse_in_their_place(void **state)
{
	struct signed_req q;
	unsigned long before;
	struct sx_reply r;
	(void)state;

	run.peer_member = SX_MOF;
	/* a client of another member than the calling gateway's */
	q = good("client-1");
	q.client = SX_OUTSIDER;
	before = sx_refusals_rendered(bca, "provider", "UnknownClient");
	send_signed(&q, &r, NULL, NULL);
	assert_refused(&r, before, "check_client", GW_R_UNKNOWN_CLIENT, 500,
		       "Server.ServerProxy.UnknownMember");
	sx_reply_free(&r);

	/* an hour old */
	q = good("stale-1");
	{
		char ts[NDX_TIME_TEXT_LEN];
		ndx_time_format(time(NULL) - 3600, ts);
		q.timestamp = ts;
		before = sx_refusals_rendered(bca, "provider", "StaleTimestamp");
		send_signed(&q, &r, NULL, NULL);
	}
	assert_refused(&r, before, "check_message", GW_R_STALE_TIMESTAMP, 500,
		       "Server.ServerProxy.InvalidMessage");
	sx_reply_free(&r);

	/* signed for the sibling gateway */
	q = good("sibling-1");
	q.gateway = SX_BCA "/gw2";
	before = sx_refusals_rendered(bca, "provider", "WrongGateway");
	send_signed(&q, &r, NULL, NULL);
	assert_refused(&r, before, "check_signed_for_us", GW_R_WRONG_GATEWAY, 500,
		       "Server.ServerProxy.InvalidSecurityServer");
	sx_reply_free(&r);

	/* a well-formed service the configuration does not hold */
	q = good("unknown-1");
	q.service = SX_POPULATION "/nothing";
	before = sx_refusals_rendered(bca, "provider", "UnknownService");
	send_signed(&q, &r, NULL, NULL);
	assert_refused(&r, before, "identify_service", GW_R_UNKNOWN_SERVICE, 500,
		       "Server.ServerProxy.UnknownService");
	sx_reply_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_good_request_passes_every_check),
		cmocka_unit_test(authenticate_peer_refuses_a_caller_without_a_certificate),
		cmocka_unit_test(check_signature_refuses_what_the_calling_gateway_did_not_sign),
		cmocka_unit_test(check_maintenance_refuses_every_new_exchange),
		cmocka_unit_test(check_grant_refuses_a_client_without_a_grant),
		cmocka_unit_test(check_personal_refuses_a_personal_request_without_purpose_or_subject),
		cmocka_unit_test(check_replay_refuses_a_signed_request_seen_before),
		cmocka_unit_test(the_message_checks_refuse_in_their_place),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
