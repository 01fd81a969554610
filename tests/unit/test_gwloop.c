/* The gateway's exchange loops (src/gateway/gwloop.c) and the deferred
 * answers of the HTTP server they rely on (ndx_http_defer): the hashes
 * queued in one loop turn are signed as one batch, upstream calls run in
 * the loop's multi handle without blocking it (many at once against a
 * server that answers late), their failures are sorted as the blocking
 * path sorts them, and a stop fails what is still in flight instead of
 * leaving it hanging. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "gwconfig.h"
#include "gwloop.h"
#include "signer.h"
#include "xfer.h"
#include "ndx/err.h"
#include "ndx/httpd.h"

#define JOBS 100
#define CALLS 32

/* ---- a completion counter the test thread waits on --------------------- */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int completed;

static void note_done(void)
{
	pthread_mutex_lock(&mu);
	completed++;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
}

/* Waits (at most 20 s, so that a bug fails the test rather than hangs it)
 * until n completions were noted. */
static int wait_for(int n)
{
	struct timespec dl;
	int got;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 20;
	pthread_mutex_lock(&mu);
	while (completed < n && pthread_cond_timedwait(&cv, &mu, &dl) == 0)
		;
	got = completed;
	pthread_mutex_unlock(&mu);
	return got;
}

static void reset_count(void)
{
	pthread_mutex_lock(&mu);
	completed = 0;
	pthread_mutex_unlock(&mu);
}

/* ---- signing per turn ----------------------------------------------------- */

struct sign_case {
	struct gw_loop *loop;
	struct ndx_loop_task task;
	struct gw_sign_job jobs[JOBS];
};

static void job_done(struct gw_sign_job *j)
{
	(void)j;
	note_done();
}

static void queue_all(void *arg)
{
	struct sign_case *c = arg;

	for (int i = 0; i < JOBS; i++)
		gw_loop_sign(c->loop, &c->jobs[i]);
}

static void hashes_queued_in_one_turn_are_one_signature(void **state)
{
	struct ndx_key *key;
	struct gw_loops *ls;
	struct sign_case *c = calloc(1, sizeof *c);
	struct gw_signer_stats before, after;
	char err[128];
	(void)state;

	assert_non_null(c);
	assert_int_equal(ndx_key_generate(&key), NDX_OK);
	/* no loop at all is a configuration error, not a gateway without loops */
	assert_int_equal(gw_loops_start(0, &ls, err, sizeof err), NDX_EINVAL);
	assert_null(ls);
	assert_int_equal(gw_loops_start(1, &ls, err, sizeof err), NDX_OK);
	c->loop = gw_loops_next(ls);
	for (int i = 0; i < JOBS; i++) {
		char text[32];
		snprintf(text, sizeof text, "message %d", i);
		ndx_sha256(text, strlen(text), c->jobs[i].hash);
		c->jobs[i].key = key;
		c->jobs[i].done = job_done;
	}
	gw_signer_stats(&before);
	reset_count();
	c->task = (struct ndx_loop_task){ .fn = queue_all, .arg = c };
	assert_int_equal(gw_loop_post(c->loop, &c->task), NDX_OK);
	assert_int_equal(wait_for(JOBS), JOBS);
	gw_signer_stats(&after);
	/* All were queued before the loop slept: one batch, one signature. */
	assert_int_equal(after.signatures - before.signatures, 1);
	assert_int_equal(after.messages_signed - before.messages_signed, JOBS);
	for (int i = 0; i < JOBS; i++) {
		char why[256];
		assert_non_null(c->jobs[i].sig);
		assert_int_equal(gw_verify_hash(key, c->jobs[i].sig, c->jobs[i].hash, why,
						sizeof why),
				 NDX_OK);
		/* and not over another message */
		assert_int_not_equal(gw_verify_hash(key, c->jobs[i].sig,
						    c->jobs[(i + 1) % JOBS].hash, why, sizeof why),
				     NDX_OK);
		free(c->jobs[i].sig);
	}
	gw_loops_free(ls);
	ndx_key_free(key);
	free(c);
}

/* A job's owner may be gone as soon as its done() returns: the provider's
 * answer goes to the message log, whose writer may complete and free the
 * exchange, the job inside it, before the loop moves on to the next job.
 * Here each done() frees its own job; under ASan or valgrind a loop that
 * still reads a finished job fails the test. */
#define OWNED_JOBS 8

static void job_done_and_freed(struct gw_sign_job *j)
{
	char why[256];
	bool ok = j->sig && gw_verify_hash(j->key, j->sig, j->hash, why, sizeof why) == NDX_OK;

	free(j->sig);
	free(j);
	if (ok)
		note_done();
}

struct owned_case {
	struct gw_loop *loop;
	struct ndx_loop_task task;
	struct ndx_key *key;
};

static void queue_owned(void *arg)
{
	struct owned_case *c = arg;

	for (int i = 0; i < OWNED_JOBS; i++) {
		struct gw_sign_job *j = calloc(1, sizeof *j);

		if (!j)
			continue;
		ndx_sha256(&i, sizeof i, j->hash);
		j->key = c->key;
		j->done = job_done_and_freed;
		gw_loop_sign(c->loop, j);
	}
}

static void a_job_freed_by_its_done_is_not_read_again(void **state)
{
	struct owned_case c = { 0 };
	struct gw_loops *ls;
	char err[128];
	(void)state;

	assert_int_equal(ndx_key_generate(&c.key), NDX_OK);
	assert_int_equal(gw_loops_start(1, &ls, err, sizeof err), NDX_OK);
	c.loop = gw_loops_next(ls);
	reset_count();
	c.task = (struct ndx_loop_task){ .fn = queue_owned, .arg = &c };
	assert_int_equal(gw_loop_post(c.loop, &c.task), NDX_OK);
	assert_int_equal(wait_for(OWNED_JOBS), OWNED_JOBS);
	gw_loops_free(ls);
	ndx_key_free(c.key);
}

/* ---- upstream calls --------------------------------------------------------
 * The backend is an ndx_httpd on loopback. /slow answers only when the test
 * lets it (from another thread, through ndx_http_defer): every call is then
 * in flight at once, which a blocking client could not do on one thread. */

static struct ndx_http_pending *held[CALLS * 2];
static atomic_int nheld;

static void backend(void *ctx, const struct ndx_http_req *req, struct ndx_http_resp *resp)
{
	(void)ctx;
	if (strcmp(req->path, "/slow") == 0) {
		ndx_http_resp_bytes(resp, 200, "text/plain", "late", 4);
		held[atomic_fetch_add(&nheld, 1)] = ndx_http_defer(req);
		return;
	}
	if (strcmp(req->path, "/echo") == 0) {
		ndx_http_resp_bytes(resp, 201, "application/json", req->body ? (const char *)req->body : "",
				    req->body_len);
		ndx_http_resp_header(resp, "X-Road-Error", "Server.Test");
		return;
	}
	ndx_http_resp_bytes(resp, 200, "text/plain", "hello", 5);
}

struct call_case {
	struct gw_loop *loop;
	struct ndx_loop_task task;
	struct gw_service svc;
	struct gw_backend_call call;
	struct gw_xfer_resp r;
	enum gw_xfer_result res;
	bool called;
};

static void call_done(struct gw_backend_call *call, enum gw_xfer_result res)
{
	struct call_case *c = call->ud;

	c->res = res;
	c->called = true;
	note_done();
}

static void start_call(void *arg)
{
	struct call_case *c = arg;

	gw_backend_start(c->loop, &c->call, &c->r);
}

static void setup_call(struct call_case *c, struct gw_loop *l, const char *base, const char *path,
		       const char *method, const char *body, long timeout_ms)
{
	memset(c, 0, sizeof *c);
	c->loop = l;
	c->svc.backend = (char *)base;
	c->svc.timeout_ms = timeout_ms;
	c->call = (struct gw_backend_call){
		.svc = &c->svc,
		.method = method,
		.path = path,
		.query = "",
		.body = (const uint8_t *)body,
		.body_len = body ? strlen(body) : 0,
		.connect_timeout_ms = 2000,
		.max_body = 1 << 20,
		.done = call_done,
		.ud = c,
	};
	c->task = (struct ndx_loop_task){ .fn = start_call, .arg = c };
}

static struct ndx_httpd *start_backend(char base[64])
{
	struct ndx_httpd_config hc = { .name = "test-backend", .handler = backend,
				       .threads = 1, .max_body = 1 << 20 };
	struct ndx_httpd *srv;

	assert_int_equal(ndx_httpd_start(&hc, &srv), NDX_OK);
	snprintf(base, 64, "http://127.0.0.1:%u", (unsigned)ndx_httpd_port(srv));
	return srv;
}

static void calls_run_side_by_side_on_one_loop(void **state)
{
	struct gw_loops *ls;
	struct ndx_httpd *srv;
	struct call_case *c = calloc(CALLS, sizeof *c);
	char base[64], err[128];
	(void)state;

	assert_non_null(c);
	srv = start_backend(base);
	assert_int_equal(gw_loops_start(1, &ls, err, sizeof err), NDX_OK);
	atomic_store(&nheld, 0);
	reset_count();
	for (int i = 0; i < CALLS; i++) {
		setup_call(&c[i], gw_loops_next(ls), base, "/slow", "GET", NULL, 10000);
		assert_int_equal(gw_loop_post(c[i].loop, &c[i].task), NDX_OK);
	}
	/* Every call reaches the backend while none has been answered. */
	for (int spins = 0; atomic_load(&nheld) < CALLS && spins < 2000; spins++) {
		struct timespec ms = { 0, 10 * 1000 * 1000 };
		nanosleep(&ms, NULL);
	}
	assert_int_equal(atomic_load(&nheld), CALLS);
	assert_int_equal(wait_for(0), 0);
	for (int i = 0; i < CALLS; i++)
		ndx_http_resume(held[i]);
	assert_int_equal(wait_for(CALLS), CALLS);
	for (int i = 0; i < CALLS; i++) {
		assert_int_equal(c[i].res, GW_XFER_OK);
		assert_int_equal(c[i].r.status, 200);
		assert_int_equal(c[i].r.len, 4);
		assert_memory_equal(c[i].r.body, "late", 4);
		gw_xfer_resp_free(&c[i].r);
	}
	gw_loops_free(ls);
	ndx_httpd_stop(srv);
	free(c);
}

static void answers_and_failures_are_sorted(void **state)
{
	struct gw_loops *ls;
	struct ndx_httpd *srv;
	struct call_case c[3];
	char base[64], err[128];
	(void)state;

	srv = start_backend(base);
	assert_int_equal(gw_loops_start(1, &ls, err, sizeof err), NDX_OK);
	atomic_store(&nheld, 0);
	reset_count();
	/* a body both ways, a header kept */
	setup_call(&c[0], gw_loops_next(ls), base, "/echo", "POST", "{\"a\":1}", 5000);
	/* nothing listens there: the connection cannot be made */
	setup_call(&c[1], gw_loops_next(ls), "http://127.0.0.1:1", "/", "GET", NULL, 5000);
	/* answers later than the call may wait */
	setup_call(&c[2], gw_loops_next(ls), base, "/slow", "GET", NULL, 300);
	for (int i = 0; i < 3; i++)
		assert_int_equal(gw_loop_post(c[i].loop, &c[i].task), NDX_OK);
	assert_int_equal(wait_for(3), 3);
	assert_int_equal(c[0].res, GW_XFER_OK);
	assert_int_equal(c[0].r.status, 201);
	assert_int_equal(c[0].r.len, 7);
	assert_memory_equal(c[0].r.body, "{\"a\":1}", 7);
	assert_string_equal(c[0].r.hdr[GW_H_XROAD_ERROR], "Server.Test");
	assert_string_equal(c[0].r.hdr[GW_H_CONTENT_TYPE], "application/json");
	assert_int_equal(c[1].res, GW_XFER_CONNECT);
	assert_int_equal(c[2].res, GW_XFER_TIMEOUT);
	for (int i = 0; i < 3; i++)
		gw_xfer_resp_free(&c[i].r);
	gw_loops_free(ls);
	for (int i = 0; i < atomic_load(&nheld); i++)
		ndx_http_resume(held[i]);
	ndx_httpd_stop(srv);
}

static void stop_fails_what_is_in_flight(void **state)
{
	struct gw_loops *ls;
	struct ndx_httpd *srv;
	struct call_case c;
	char base[64], err[128];
	(void)state;

	srv = start_backend(base);
	assert_int_equal(gw_loops_start(1, &ls, err, sizeof err), NDX_OK);
	atomic_store(&nheld, 0);
	reset_count();
	setup_call(&c, gw_loops_next(ls), base, "/slow", "GET", NULL, 60000);
	assert_int_equal(gw_loop_post(c.loop, &c.task), NDX_OK);
	for (int spins = 0; atomic_load(&nheld) < 1 && spins < 2000; spins++) {
		struct timespec ms = { 0, 10 * 1000 * 1000 };
		nanosleep(&ms, NULL);
	}
	assert_int_equal(atomic_load(&nheld), 1);
	gw_loops_stop(ls);
	/* stop returned only after done ran, with a failure */
	assert_true(c.called);
	assert_int_equal(c.res, GW_XFER_FAILED);
	assert_non_null(strstr(c.r.errbuf, "stopping"));
	gw_xfer_resp_free(&c.r);
	ndx_http_resume(held[0]);
	ndx_httpd_stop(srv);
	gw_loops_free(ls);
}

/* A server on an event loop (httpd.h cfg.loop), as the gateway's ports
 * run: an answer made in place, and answers deferred and resumed from
 * another thread, which must wake the loop (nothing else would run MHD). */
static void *resume_all_later(void *arg)
{
	(void)arg;
	for (int spins = 0; atomic_load(&nheld) < CALLS && spins < 2000; spins++) {
		struct timespec ms = { 0, 10 * 1000 * 1000 };
		nanosleep(&ms, NULL);
	}
	for (int i = 0; i < atomic_load(&nheld); i++)
		ndx_http_resume(held[i]);
	return NULL;
}

static void a_server_on_a_loop_answers_in_place_and_deferred(void **state)
{
	struct gw_loops *ls, *server_loops;
	struct ndx_httpd *srv;
	struct call_case *c = calloc(CALLS + 1, sizeof *c);
	char base[64], err[128];
	pthread_t resumer;
	(void)state;

	assert_non_null(c);
	assert_int_equal(gw_loops_start(1, &server_loops, err, sizeof err), NDX_OK);
	{
		struct ndx_httpd_config hc = { .name = "test-loop-backend", .handler = backend,
					       .max_body = 1 << 20,
					       .loop = gw_loops_event_loop(server_loops, 0) };
		assert_int_equal(ndx_httpd_start(&hc, &srv), NDX_OK);
		snprintf(base, sizeof base, "http://127.0.0.1:%u", (unsigned)ndx_httpd_port(srv));
	}
	assert_int_equal(gw_loops_start(1, &ls, err, sizeof err), NDX_OK);
	atomic_store(&nheld, 0);
	reset_count();
	setup_call(&c[CALLS], gw_loops_next(ls), base, "/", "GET", NULL, 5000);
	assert_int_equal(gw_loop_post(c[CALLS].loop, &c[CALLS].task), NDX_OK);
	assert_int_equal(wait_for(1), 1);
	assert_int_equal(c[CALLS].res, GW_XFER_OK);
	assert_memory_equal(c[CALLS].r.body, "hello", 5);
	reset_count();
	assert_int_equal(pthread_create(&resumer, NULL, resume_all_later, NULL), 0);
	for (int i = 0; i < CALLS; i++) {
		setup_call(&c[i], gw_loops_next(ls), base, "/slow", "GET", NULL, 10000);
		assert_int_equal(gw_loop_post(c[i].loop, &c[i].task), NDX_OK);
	}
	assert_int_equal(wait_for(CALLS), CALLS);
	pthread_join(resumer, NULL);
	for (int i = 0; i <= CALLS; i++) {
		if (i < CALLS) {
			assert_int_equal(c[i].res, GW_XFER_OK);
			assert_memory_equal(c[i].r.body, "late", 4);
		}
		gw_xfer_resp_free(&c[i].r);
	}
	gw_loops_free(ls);
	/* The server's loop stops first, as the gateway's do; the port's stop
	 * then finishes alone. */
	gw_loops_stop(server_loops);
	ndx_httpd_stop(srv);
	gw_loops_free(server_loops);
	free(c);
}

static int setup(void **state)
{
	(void)state;
	return gw_xfer_global_init() == NDX_OK ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	gw_xfer_global_cleanup();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hashes_queued_in_one_turn_are_one_signature),
		cmocka_unit_test(a_job_freed_by_its_done_is_not_read_again),
		cmocka_unit_test(calls_run_side_by_side_on_one_loop),
		cmocka_unit_test(answers_and_failures_are_sorted),
		cmocka_unit_test(stop_fails_what_is_in_flight),
		cmocka_unit_test(a_server_on_a_loop_answers_in_place_and_deferred),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
