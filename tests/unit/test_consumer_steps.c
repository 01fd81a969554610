/* The consumer port's exchange steps (src/gateway/consumer.c: parse,
 * check_gateway, check_client, check_request, identify, check_grant,
 * prepare, then verify and pass), one at a time, on real requests: each
 * refusal is the reason the step returns, noted once in x->refusal and
 * rendered once (render_refusal) with the status and X-Road type of
 * errors.c's table, and a request that may go on passes every step. The
 * end-to-end tests (tests/e2e) cover the same refusals through two
 * running gateways; these pin which step refuses, so that a change in the
 * order of the checks or in a step's comparison fails here, in seconds,
 * with the step's name.
 *
 * The steps are static: consumer.c is included here, as C tests static
 * functions, and this file links the gateway's core library for the rest
 * (the linker takes nothing from the library's consumer.c, whose external
 * names are all defined here). The configuration is a real signed one
 * (steps_fixture.h), the requests come through a loopback ndx_httpd from
 * libcurl, and verify gets its answer through a real transfer from a small
 * provider gateway stand-in that signs with a key of the configuration. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "consumer.c"

#include "steps_fixture.h"

/* ---- the fixture ---------------------------------------------------------- */

static struct sx_fed *fed;
static struct sx_gateway *mof;       /* the consumer gateway: VN/GOV/MOF gw1 */
static struct ndx_httpd *port_srv;   /* its consumer port, running the steps */
static uint16_t port;
static struct ndx_httpd *provider_srv; /* the provider gateway stand-in */
static uint16_t provider_port;

/* What the handler is asked to do and what it found: written by the
 * server's thread while the test thread waits in sx_send. */
enum upto { UPTO_PREPARE, UPTO_VERIFY };
enum answer_mode { SIGNED_BY_GW1, SIGNED_BY_SIBLING, BODY_CHANGED, UNSIGNED, REFUSAL_UNSIGNED };
static struct {
	enum upto upto;
	enum answer_mode mode;
	/* found */
	const char *step;         /* the step that refused, NULL = none */
	enum gw_reason reason;    /* what it returned (GW_R_COUNT: all went on) */
	enum gw_reason noted;     /* x->refusal.reason */
	bool identified;
	int status;               /* of the rendered answer */
	const char *err_type;     /* render_refusal's type */
	char url_suffix[512];
	char member[NDX_ID_TEXT_MAX];
	bool purpose_hashed;
} run;

/* The provider gateway stand-in: answers with a body signed over the
 * response hash (docs/protocol.md "Canonical hashes") of the request hash
 * the consumer step computed, by the key mode says. */
static void provider_stand_in(void *ctx, const struct ndx_http_req *req,
			      struct ndx_http_resp *resp)
{
	static const char body[] = "{\"name\":\"Nguy\xe1\xbb\x85n V\xc4\x83n A\"}";
	struct ndx_response_hash_input rin = { 0 };
	const char *b64 = ndx_http_header(req, "X-Test-Request-Hash");
	struct gw_config signer = { 0 };
	uint8_t h[NDX_SHA256_LEN], *raw = NULL;
	size_t rawlen = 0;
	int status = run.mode == REFUSAL_UNSIGNED ? 500 : 200;
	char *sig = NULL;
	(void)ctx;

	if (!b64 || ndx_b64_decode(b64, strlen(b64), 0, &raw, &rawlen) != NDX_OK ||
	    rawlen != NDX_SHA256_LEN) {
		free(raw);
		ndx_http_resp_bytes(resp, 400, "text/plain", "no hash", 7);
		return;
	}
	memcpy(rin.request_hash, raw, NDX_SHA256_LEN);
	free(raw);
	rin.status = status;
	rin.content_type = "application/json";
	sx_no_user_headers(rin.user_headers_sha256);
	ndx_sha256(body, sizeof body - 1, rin.body_sha256);
	ndx_response_hash(&rin, h);
	signer.sign_key = fed->key[run.mode == SIGNED_BY_SIBLING ? SX_KEY_BCA_GW2 : SX_KEY_BCA_GW1];
	if (run.mode != UNSIGNED && run.mode != REFUSAL_UNSIGNED)
		sig = gw_sign_hash(&signer, h);
	if (run.mode == BODY_CHANGED)
		ndx_http_resp_bytes(resp, status, "application/json", "{\"name\":\"B\"}", 12);
	else
		ndx_http_resp_bytes(resp, status, "application/json", body, sizeof body - 1);
	if (sig)
		ndx_http_resp_header(resp, "Ndx-Response-Signature", sig);
	if (run.mode == REFUSAL_UNSIGNED)
		ndx_http_resp_header(resp, "X-Road-Error", "Server.ServerProxy.InternalError");
	free(sig);
}

/* What forward does, without its loop: the request hash for the member's
 * first gateway (sign_for_gateway), the call to it (here a blocking
 * transfer to the stand-in) and the gateway that answered (peer.c). */
static bool forward_to_stand_in(struct cx *x)
{
	const struct ndx_conf_gateway *gw = ndx_conf_gateway_of(x->conf, x->member, 0);
	struct signing *sg = &x->sig;
	struct curl_slist *hdrs = NULL;
	char url[1024], line[128], *b64;
	enum gw_xfer_result res;
	CURL *c;

	if (!gw || gw_gateway_name(gw->member, gw->code, sg->gateway, sizeof sg->gateway) ||
	    gw_uuid(sg->nonce) != NDX_OK)
		return false;
	sg->hin.gateway = sg->gateway;
	sg->hin.nonce = sg->nonce;
	ndx_request_hash(&sg->hin, x->req_hash);
	x->has_req_hash = true;
	if (!(b64 = ndx_b64_encode(x->req_hash, sizeof x->req_hash, 0)))
		return false;
	snprintf(line, sizeof line, "X-Test-Request-Hash: %s", b64);
	free(b64);
	hdrs = curl_slist_append(NULL, line);
	snprintf(url, sizeof url, "http://127.0.0.1:%u%s", (unsigned)provider_port,
		 x->url_suffix);
	if (!hdrs || !(c = curl_easy_init())) {
		curl_slist_free_all(hdrs);
		return false;
	}
	gw_xfer_base_options(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	x->answer.cap = x->v->s->max_body; /* as peer.c caps it */
	res = gw_xfer_perform(c, "GET", NULL, 0, hdrs, &x->answer);
	curl_easy_cleanup(c);
	curl_slist_free_all(hdrs);
	x->call.gateway = gw;
	return res == GW_XFER_OK;
}

/* The consumer port's handler for these tests: one exchange as exchange()
 * starts it, its steps in order up to the first refusal, and that refusal
 * rendered once; then the answer goes out at once (the log is not the
 * steps' business). */
static void consumer_port(void *ctx, const struct ndx_http_req *req, struct ndx_http_resp *resp)
{
	struct sx_gateway *g = ctx;
	struct cx *x = calloc(1, sizeof *x);
	int status = 0;
	const char *ct;
	const void *body;
	size_t len;

	run.step = NULL;
	run.reason = GW_R_COUNT;
	run.err_type = NULL;
	run.url_suffix[0] = run.member[0] = '\0';
	if (!x) {
		ndx_http_resp_bytes(resp, 599, "text/plain", "oom", 3);
		return;
	}
	x->g = &g->ctx;
	cx_arena_init(x);
	gw_state_acquire(g->state, &x->view);
	x->v = &x->view;
	x->req = req;
	x->resp = resp;
	x->now = time(NULL);
	x->refusal.reason = GW_R_COUNT;
	for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++)
		if ((run.reason = steps[i].run(x)) != GW_R_COUNT) {
			run.step = steps[i].name;
			break;
		}
	if (run.reason == GW_R_COUNT) {
		snprintf(run.url_suffix, sizeof run.url_suffix, "%s", x->url_suffix);
		snprintf(run.member, sizeof run.member, "%s", x->call.member);
		run.purpose_hashed = x->sig.hin.purpose != NULL;
	}
	if (run.reason == GW_R_COUNT && run.upto == UPTO_VERIFY) {
		if (!forward_to_stand_in(x)) {
			run.step = "forward (the test's)";
			run.reason = GW_R_PROVIDER_UNREACHABLE;
		} else if ((run.reason = step_verify(x)) != GW_R_COUNT) {
			run.step = "verify";
		} else {
			step_pass(x);
		}
	}
	run.noted = x->refusal.reason;
	run.identified = x->identified;
	if (x->refusal.reason != GW_R_COUNT)
		render_refusal(x);
	else if (!x->passed)
		ndx_http_resp_bytes(resp, 299, "text/plain", "went on", 7);
	run.err_type = x->err_type;
	if (ndx_http_resp_view(resp, &status, &ct, &body, &len) == NDX_OK)
		run.status = status;
	if (x->err_type)
		ndx_http_resp_header(resp, "X-Road-Error", x->err_type);
	cx_free(x);
}

static int setup(void **state)
{
	(void)state;
	if (gw_xfer_global_init() != NDX_OK || !(fed = sx_fed_new()) ||
	    !(mof = sx_gateway_open(fed, SX_MOF, "gw1", SX_KEY_MOF_GW1, "[\"enterprise\"]", "{}")))
		return -1;
	port_srv = sx_server_start(consumer_port, mof, &port);
	provider_srv = sx_server_start(provider_stand_in, NULL, &provider_port);
	return port_srv && provider_srv ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	ndx_httpd_stop(port_srv);
	ndx_httpd_stop(provider_srv);
	sx_gateway_free(mof);
	sx_fed_free(fed);
	gw_metrics_free_all();
	gw_xfer_global_cleanup();
	return 0;
}

/* ---- helpers ---------------------------------------------------------------- */

/* Sends GET target as client (NULL: no X-Road-Client) with one extra
 * header line (may be NULL) and runs the steps on it. */
static void call(const char *method, const char *target, const char *client,
		 const char *extra, struct sx_reply *r)
{
	char client_line[512];
	const char *headers[4] = { "X-Road-Id: steps-1", NULL, NULL, NULL };
	size_t n = 1;

	if (client) {
		snprintf(client_line, sizeof client_line, "X-Road-Client: %s", client);
		headers[n++] = client_line;
	}
	if (extra)
		headers[n++] = extra;
	assert_int_equal(sx_send(port, method, target, headers, r), 0);
}

/* The step named step refused with reason, noted it, and its answer was
 * rendered exactly once with status and X-Road type type; the client got
 * that answer. */
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
	assert_int_equal(sx_refusals_rendered(mof, "consumer", name), rendered_before + 1);
	assert_int_equal(r->status, status);
	assert_string_equal(r->xroad_error, type);
	snprintf(detail, sizeof detail, "\"detail\":\"%s", name);
	assert_non_null(strstr(r->body, detail));
	snprintf(detail, sizeof detail, "\"type\":\"%s\"", type);
	assert_non_null(strstr(r->body, detail));
}

#define CITIZENS_URL "/r1/" SX_CITIZENS

/* ---- parse ------------------------------------------------------------------
 * e2e: tests/e2e/test_gateway.py::test_header_injection_and_over_long_headers_are_400
 * (BadHeader); consumer_serve answers a path outside /r1/ before the steps,
 * so NotExchange is pinned here only. */
static void parse_refuses_what_is_not_an_exchange_or_cannot_be_passed_on(void **state)
{
	char longline[1100];
	unsigned long before;
	struct sx_reply r;
	(void)state;

	run.upto = UPTO_PREPARE;
	before = sx_refusals_rendered(mof, "consumer", "NotExchange");
	call("GET", "/r2/" SX_CITIZENS "/citizens/001", SX_TAX, NULL, &r);
	assert_refused(&r, before, "parse", GW_R_NOT_EXCHANGE, 400, "Client.BadRequest");
	assert_false(run.identified);
	sx_reply_free(&r);

	memset(longline, 'u', sizeof longline);
	memcpy(longline, "X-Road-UserId: ", 15);
	longline[15 + 1025] = '\0';
	before = sx_refusals_rendered(mof, "consumer", "BadHeader");
	call("GET", CITIZENS_URL "/citizens/001", SX_TAX, longline, &r);
	assert_refused(&r, before, "parse", GW_R_BAD_HEADER, 400, "Client.BadRequest");
	assert_false(run.identified);
	sx_reply_free(&r);
}

/* ---- check_client -----------------------------------------------------------
 * e2e: tests/e2e/test_gateway.py::test_client_not_of_this_gateway_is_unknown_client
 * and ::test_missing_or_malformed_client_is_400_invalid_client. */
static void check_client_refuses_a_client_not_of_this_gateway(void **state)
{
	/* of another member (in the configuration), a subsystem of the own
	 * member that is not in it, the own member not listed as a client */
	static const char *const clients[] = { SX_OUTSIDER, "VN/GOV/MOF/other", SX_MOF };
	unsigned long before;
	struct sx_reply r;
	(void)state;

	run.upto = UPTO_PREPARE;
	for (size_t i = 0; i < sizeof clients / sizeof clients[0]; i++) {
		before = sx_refusals_rendered(mof, "consumer", "UnknownClient");
		call("GET", CITIZENS_URL "/citizens/001", clients[i], NULL, &r);
		assert_refused(&r, before, "check_client", GW_R_UNKNOWN_CLIENT, 500,
			       "Server.ClientProxy.UnknownMember");
		assert_false(run.identified);
		assert_non_null(strstr(r.body, clients[i]));
		sx_reply_free(&r);
	}
	before = sx_refusals_rendered(mof, "consumer", "InvalidClient");
	call("GET", CITIZENS_URL "/citizens/001", "VN/GOV", NULL, &r);
	assert_refused(&r, before, "check_client", GW_R_INVALID_CLIENT, 400,
		       "Client.InvalidClientIdentifier");
	sx_reply_free(&r);
}

/* ---- check_request and identify ---------------------------------------------
 * e2e: tests/e2e/test_gateway.py::test_malformed_service_id_is_400 and
 * ::test_unknown_service_is_refused. A malformed service id passes parse (its
 * refusal waits for the configuration checks, the order answers have
 * always followed) and is refused at check_request; a well-formed one that
 * the configuration does not hold, at identify, which has made the
 * exchange one to log. */
static void a_malformed_service_is_refused_at_check_request_an_unknown_one_at_identify(
	void **state)
{
	unsigned long before;
	struct sx_reply r;
	(void)state;

	run.upto = UPTO_PREPARE;
	before = sx_refusals_rendered(mof, "consumer", "InvalidService");
	call("GET", "/r1/VN/GOV/BCA", SX_TAX, NULL, &r);
	assert_refused(&r, before, "check_request", GW_R_INVALID_SERVICE, 400,
		       "Client.BadRequest");
	assert_false(run.identified);
	sx_reply_free(&r);

	before = sx_refusals_rendered(mof, "consumer", "UnknownService");
	call("GET", "/r1/" SX_POPULATION "/nothing/x", SX_TAX, NULL, &r);
	assert_refused(&r, before, "identify", GW_R_UNKNOWN_SERVICE, 500,
		       "Server.ClientProxy.UnknownService");
	assert_true(run.identified);
	assert_non_null(strstr(r.body, SX_POPULATION "/nothing"));
	sx_reply_free(&r);
}

/* ---- check_grant ------------------------------------------------------------
 * e2e: tests/e2e/test_gateway.py::test_method_or_path_outside_the_grant_is_refused
 * and ::test_no_grant_is_refused. */
static void check_grant_refuses_what_no_grant_allows(void **state)
{
	static const struct {
		const char *method, *target, *what;
	} cases[] = {
		{ "POST", CITIZENS_URL "/citizens/001", "POST /citizens/001" },
		{ "GET", CITIZENS_URL "/other/001", "GET /other/001" },
		{ "GET", CITIZENS_URL, "GET /" },
	};
	unsigned long before;
	struct sx_reply r;
	(void)state;

	run.upto = UPTO_PREPARE;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char detail[128];

		before = sx_refusals_rendered(mof, "consumer", "NoGrant");
		call(cases[i].method, cases[i].target, SX_TAX, NULL, &r);
		assert_refused(&r, before, "check_grant", GW_R_NO_GRANT, 500,
			       "Server.ClientProxy.AccessDenied");
		assert_true(run.identified);
		snprintf(detail, sizeof detail, "\"detail\":\"NoGrant: %s\"", cases[i].what);
		assert_non_null(strstr(r.body, detail));
		sx_reply_free(&r);
	}
}

/* A granted request goes through every step up to prepare, nothing is
 * rendered, and prepare has built the call to the service's member.
 * Purpose and subject are the provider's to check (personal.c, pinned in
 * test_provider_steps.c): the consumer passes a request without them on,
 * signed as it came. */
static void a_granted_request_passes_every_step(void **state)
{
	unsigned long before = sx_refusals_rendered(mof, "consumer", "NoGrant");
	struct sx_reply r;
	(void)state;

	run.upto = UPTO_PREPARE;
	call("GET", CITIZENS_URL "/citizens/001", SX_TAX, "Ndx-Purpose: " SX_PURPOSE, &r);
	assert_null(run.step);
	assert_int_equal(run.reason, GW_R_COUNT);
	assert_int_equal(run.noted, GW_R_COUNT);
	assert_null(run.err_type);
	assert_true(run.identified);
	assert_true(run.purpose_hashed);
	assert_int_equal(r.status, 299);
	assert_string_equal(r.xroad_error, "");
	assert_string_equal(run.url_suffix, "/r1/" SX_CITIZENS "/citizens/001");
	assert_string_equal(run.member, SX_BCA);
	assert_int_equal(sx_refusals_rendered(mof, "consumer", "NoGrant"), before);
	sx_reply_free(&r);

	/* without Ndx-Purpose and Ndx-Subject, to a personal-data service */
	call("GET", CITIZENS_URL "/citizens/001", SX_TAX, NULL, &r);
	assert_null(run.step);
	assert_int_equal(run.reason, GW_R_COUNT);
	assert_false(run.purpose_hashed);
	assert_int_equal(r.status, 299);
	sx_reply_free(&r);

	/* a grant for any path */
	call("GET", "/r1/" SX_HOUSEHOLDS "/any/path?q=1", SX_TAX, NULL, &r);
	assert_null(run.step);
	assert_string_equal(run.url_suffix, "/r1/" SX_HOUSEHOLDS "/any/path?q=1");
	sx_reply_free(&r);
}

/* ---- verify and pass -------------------------------------------------------
 * e2e: tests/e2e/test_gateway.py::test_consumer_signs_requests_and_refuses_bad_response_signatures
 * (modes flipped, missing, other-key, wrong-hash). The answer is the one
 * of the gateway the call went to (gw1 of VN/GOV/BCA): a valid signature
 * of its sibling gw2, of the same member and in the same configuration,
 * is not its signature. */
static void verify_passes_the_answering_gateways_signature_only(void **state)
{
	static const enum answer_mode refused_modes[] = { SIGNED_BY_SIBLING, BODY_CHANGED,
							 UNSIGNED };
	unsigned long before;
	struct sx_reply r;
	(void)state;

	run.upto = UPTO_VERIFY;
	run.mode = SIGNED_BY_GW1;
	before = sx_refusals_rendered(mof, "consumer", "BadResponseSignature");
	call("GET", CITIZENS_URL "/citizens/001", SX_TAX, NULL, &r);
	assert_null(run.step);
	assert_int_equal(run.reason, GW_R_COUNT);
	assert_null(run.err_type);
	/* pass: the provider's verified answer is the client's */
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "Nguy\xe1\xbb\x85n"));
	assert_string_equal(r.xroad_error, "");
	assert_int_equal(sx_refusals_rendered(mof, "consumer", "BadResponseSignature"), before);
	sx_reply_free(&r);

	for (size_t i = 0; i < sizeof refused_modes / sizeof refused_modes[0]; i++) {
		run.mode = refused_modes[i];
		before = sx_refusals_rendered(mof, "consumer", "BadResponseSignature");
		call("GET", CITIZENS_URL "/citizens/001", SX_TAX, NULL, &r);
		assert_refused(&r, before, "verify", GW_R_BAD_RESPONSE_SIGNATURE, 500,
			       "Server.ClientProxy.InvalidSignatureValue");
		/* the unverified answer never reaches the client */
		assert_null(strstr(r.body, "Nguy\xe1\xbb\x85n"));
		assert_null(strstr(r.body, "\"B\""));
		sx_reply_free(&r);
	}

	/* A refusal of the provider gateway that does not verify is not
	 * passed on either; the detail says what it answered. */
	run.mode = REFUSAL_UNSIGNED;
	before = sx_refusals_rendered(mof, "consumer", "BadResponseSignature");
	call("GET", CITIZENS_URL "/citizens/001", SX_TAX, NULL, &r);
	assert_refused(&r, before, "verify", GW_R_BAD_RESPONSE_SIGNATURE, 500,
		       "Server.ClientProxy.InvalidSignatureValue");
	assert_non_null(strstr(r.body, "the provider gateway answered 500 "
				       "Server.ServerProxy.InternalError"));
	sx_reply_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse_refuses_what_is_not_an_exchange_or_cannot_be_passed_on),
		cmocka_unit_test(check_client_refuses_a_client_not_of_this_gateway),
		cmocka_unit_test(
			a_malformed_service_is_refused_at_check_request_an_unknown_one_at_identify),
		cmocka_unit_test(check_grant_refuses_what_no_grant_allows),
		cmocka_unit_test(a_granted_request_passes_every_step),
		cmocka_unit_test(verify_passes_the_answering_gateways_signature_only),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
