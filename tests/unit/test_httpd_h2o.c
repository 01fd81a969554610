/* The h2o engine of the HTTP server (src/lib/httpd_h2o.c, cfg.engine =
 * NDX_HTTPD_H2O) on an ndx_loop running on its own thread, driven over
 * loopback with libcurl and raw sockets: the request as the handler sees it
 * (path, query arguments, headers in order, body), answers deferred and
 * resumed from another thread, 413 over max_body before the handler, the
 * strict refusals, the per-address connection limit, the request deadline's
 * 408, the client certificate's fingerprint over TLS, the HTTP figures,
 * drain and stop waiting for a deferred answer; and with cfg.http2, the same
 * over HTTP/2 streams (several on one connection), and HTTP/1.1 without it. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "ndx/buf.h"
#include "ndx/err.h"
#include "ndx/httpd.h"
#include "ndx/loop.h"
#include "ndx/pki.h"
#include "ndx/prom.h"

struct fx {
	struct ndx_loop *loop;
	pthread_t thread;
	struct ndx_httpd *srv;
	uint16_t port;
};

static struct ndx_http_pending *_Atomic held;
static atomic_int handled;
/* The answers /hold defers, to be resumed together. */
#define MAX_HOLDS 8
static struct ndx_http_pending *_Atomic holds[MAX_HOLDS];
static atomic_int nholds;

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static int collect(void *ud, const char *name, size_t name_len, const char *value,
		   size_t value_len)
{
	struct ndx_buf *b = ud;
	ndx_buf_append(b, name, name_len);
	ndx_buf_append(b, "=", 1);
	ndx_buf_append(b, value, value_len);
	ndx_buf_append(b, ";", 1);
	return 0;
}

static void handler(void *ctx, const struct ndx_http_req *req, struct ndx_http_resp *resp)
{
	(void)ctx;
	atomic_fetch_add(&handled, 1);
	if (strcmp(req->path, "/hold") == 0) {
		int i = atomic_fetch_add(&nholds, 1);

		ndx_http_resp_bytes(resp, 200, "text/plain", "held", 4);
		assert_true(i < MAX_HOLDS);
		atomic_store(&holds[i], ndx_http_defer(req));
		return;
	}
	if (strcmp(req->path, "/defer") == 0) {
		ndx_http_resp_bytes(resp, 200, "text/plain", "late", 4);
		atomic_store(&held, ndx_http_defer(req));
		return;
	}
	if (strcmp(req->path, "/cert") == 0) {
		char fp[65];
		if (ndx_http_client_cert(req, fp) == NDX_OK)
			ndx_http_resp_bytes(resp, 200, "text/plain", fp, strlen(fp));
		else
			ndx_http_resp_error(resp, 403, "Client.NoCert", "no certificate", NULL);
		return;
	}
	if (strcmp(req->path, "/echo") == 0) {
		struct ndx_buf b;
		const char *a = ndx_http_query_arg(req, "a"), *last;
		size_t n;
		char *text;

		ndx_buf_init(&b, NDX_BUF_NO_CAP);
		ndx_buf_append_str(&b, req->method);
		ndx_buf_append_str(&b, " ");
		ndx_buf_append_str(&b, req->path);
		ndx_buf_append_str(&b, " ");
		ndx_buf_append_str(&b, req->query);
		ndx_buf_append_str(&b, " a=");
		ndx_buf_append_str(&b, a ? a : "(none)");
		last = ndx_http_header_last_n(req, "X-Twice", &n);
		ndx_buf_append_str(&b, " last=");
		ndx_buf_append_str(&b, last ? last : "(none)");
		ndx_buf_append_str(&b, " first=");
		ndx_buf_append_str(&b, ndx_http_header(req, "x-twice") ? ndx_http_header(req, "x-twice") : "");
		ndx_buf_append_str(&b, " body=");
		if (req->body)
			ndx_buf_append(&b, req->body, req->body_len);
		ndx_buf_append_str(&b, " hdrs=");
		ndx_http_headers_each(req, collect, &b);
		text = ndx_buf_steal(&b, &n);
		ndx_http_resp_bytes(resp, 200, "text/plain", text, n);
		ndx_http_resp_header(resp, "X-Test", "yes");
		free(text);
		return;
	}
	ndx_http_resp_error(resp, 404, "Client.NotFound", "nothing here", NULL);
}

static void *run_loop(void *arg)
{
	ndx_loop_run(arg);
	return NULL;
}

static void start(struct fx *f, struct ndx_httpd_config *hc)
{
	memset(f, 0, sizeof *f);
	assert_int_equal(ndx_loop_new(&f->loop), NDX_OK);
	assert_int_equal(pthread_create(&f->thread, NULL, run_loop, f->loop), 0);
	hc->name = "test-h2o";
	hc->handler = handler;
	hc->loop = f->loop;
	hc->engine = NDX_HTTPD_H2O;
	if (!hc->max_body)
		hc->max_body = 1024;
	assert_int_equal(ndx_httpd_start(hc, &f->srv), NDX_OK);
	f->port = ndx_httpd_port(f->srv);
	assert_true(f->port > 0);
	atomic_store(&held, NULL);
	atomic_store(&handled, 0);
}

static void finish(struct fx *f)
{
	ndx_httpd_stop(f->srv);
	ndx_loop_stop(f->loop);
	pthread_join(f->thread, NULL);
	ndx_loop_free(f->loop);
}

/* ---- a client ---------------------------------------------------------- */

struct got {
	long status;
	struct ndx_buf body;
	struct ndx_buf headers;
};

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
	ndx_buf_append(ud, p, sz * n);
	return sz * n;
}

static long fetch(CURL *c, const char *url, const char *body, struct curl_slist *hdrs,
		  struct got *g)
{
	CURLcode rc;

	ndx_buf_init(&g->body, NDX_BUF_NO_CAP);
	ndx_buf_init(&g->headers, NDX_BUF_NO_CAP);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &g->body);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &g->headers);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	} else {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	}
	rc = curl_easy_perform(c);
	g->status = 0;
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &g->status);
	ndx_buf_append(&g->body, "", 1);
	ndx_buf_append(&g->headers, "", 1);
	return g->status;
}

static void got_free(struct got *g)
{
	ndx_buf_free(&g->body);
	ndx_buf_free(&g->headers);
}

static int dial(uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct timeval tv = { 5, 0 };

	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	assert_int_equal(connect(s, (struct sockaddr *)&sa, sizeof sa), 0);
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	return s;
}

/* Sends len raw bytes and reads until the server closes (or 5 s). */
static void raw_n(uint16_t port, const char *req, size_t len, char *out, size_t cap)
{
	int s = dial(port);
	size_t got = 0;
	ssize_t n;

	assert_int_equal(send(s, req, len, 0), (ssize_t)len);
	while (got + 1 < cap && (n = recv(s, out + got, cap - got - 1, 0)) > 0)
		got += (size_t)n;
	out[got] = '\0';
	close(s);
}

static void raw(uint16_t port, const char *req, char *out, size_t cap)
{
	raw_n(port, req, strlen(req), out, cap);
}

/* ---- tests --------------------------------------------------------------- */

static void the_request_as_the_handler_sees_it(void **state)
{
	struct ndx_httpd_config hc = { 0 };
	struct fx f;
	struct got g;
	char url[128];
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	(void)state;

	start(&f, &hc);
	h = curl_slist_append(h, "X-Twice: one");
	h = curl_slist_append(h, "X-Other: o");
	h = curl_slist_append(h, "X-Twice: two");
	snprintf(url, sizeof url, "http://127.0.0.1:%u/echo?a=x%%2By+z&b=%%2F", (unsigned)f.port);
	assert_int_equal(fetch(c, url, "{\"k\":1}", h, &g), 200);
	assert_non_null(strstr((char *)g.body.data, "POST /echo a=x%2By+z&b=%2F a=x+y+z "));
	assert_non_null(strstr((char *)g.body.data, "last=two first=one body={\"k\":1}"));
	assert_non_null(strstr((char *)g.body.data, "X-Twice=one;X-Other=o;X-Twice=two;"));
	assert_non_null(strstr((char *)g.body.data, "Host=127.0.0.1:"));
	assert_non_null(strstr((char *)g.body.data, "Content-Length=7;"));
	assert_non_null(strstr((char *)g.headers.data, "X-Test: yes"));
	assert_non_null(strstr((char *)g.headers.data, "Content-Type: text/plain"));
	got_free(&g);
	/* percent-encoding stays in the path; a missing handler answer is a 404 here */
	snprintf(url, sizeof url, "http://127.0.0.1:%u/a%%2Fb", (unsigned)f.port);
	assert_int_equal(fetch(c, url, NULL, NULL, &g), 404);
	assert_non_null(strstr((char *)g.headers.data, "X-Road-Error: Client.NotFound"));
	got_free(&g);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	finish(&f);
}

static void *resume_later(void *arg)
{
	(void)arg;
	for (int i = 0; i < 500 && !atomic_load(&held); i++)
		sleep_ms(10);
	sleep_ms(100);
	if (atomic_load(&held))
		ndx_http_resume(atomic_load(&held));
	return NULL;
}

static void a_deferred_answer_is_resumed_from_another_thread(void **state)
{
	struct ndx_httpd_config hc = { 0 };
	struct fx f;
	struct got g;
	char url[128];
	CURL *c = curl_easy_init();
	pthread_t t;
	struct timespec a, b;
	(void)state;

	start(&f, &hc);
	snprintf(url, sizeof url, "http://127.0.0.1:%u/defer", (unsigned)f.port);
	for (int round = 0; round < 3; round++) { /* the same kept-alive connection */
		atomic_store(&held, NULL);
		assert_int_equal(pthread_create(&t, NULL, resume_later, NULL), 0);
		clock_gettime(CLOCK_MONOTONIC, &a);
		assert_int_equal(fetch(c, url, NULL, NULL, &g), 200);
		clock_gettime(CLOCK_MONOTONIC, &b);
		assert_string_equal((char *)g.body.data, "late");
		assert_true((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000 >= 90);
		got_free(&g);
		pthread_join(t, NULL);
	}
	curl_easy_cleanup(c);
	finish(&f);
}

static void a_body_over_max_body_is_refused_before_the_handler(void **state)
{
	struct ndx_httpd_config hc = { .max_body = 16, .too_large_type = "Client.BodyTooLarge",
				       .too_large_reason = "BodyTooLarge" };
	struct fx f;
	struct got g;
	char url[128], big[4096];
	CURL *c = curl_easy_init();
	(void)state;

	start(&f, &hc);
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	snprintf(url, sizeof url, "http://127.0.0.1:%u/echo", (unsigned)f.port);
	assert_int_equal(fetch(c, url, big, NULL, &g), 413);
	assert_non_null(strstr((char *)g.headers.data, "X-Road-Error: Client.BodyTooLarge"));
	assert_non_null(strstr((char *)g.body.data, "BodyTooLarge: the body exceeds 16 bytes"));
	assert_int_equal(atomic_load(&handled), 0);
	got_free(&g);
	/* exactly max_body passes */
	assert_int_equal(fetch(c, url, "0123456789abcdef", NULL, &g), 200);
	got_free(&g);
	curl_easy_cleanup(c);
	finish(&f);
}

static void strict_refusals(void **state)
{
	struct ndx_httpd_config hc = { .strict = 1, .bad_request_type = "Client.BadRequest",
				       .bad_header_reason = "BadHeader",
				       .bad_path_reason = "BadPath" };
	struct fx f;
	char out[4096];
	(void)state;

	start(&f, &hc);
	raw(f.port, "GET /echo HTTP/1.1\r\nHost: x\r\nX-Bad: a\rb\r\n\r\n", out, sizeof out);
	/* refused by h2o's parser, answered with the daemon's JSON error */
	assert_non_null(strstr(out, "HTTP/1.1 400"));
	assert_non_null(strstr(out, "X-Road-Error: Client.Bad"));
	assert_non_null(strstr(out, "\"detail\":\"BadHeader: a header line cannot be parsed\""));
	raw(f.port, "GET /a\x7f HTTP/1.1\r\nHost: x\r\n\r\n", out, sizeof out);
	assert_non_null(strstr(out, "\"detail\":\"BadPath: the request line cannot be parsed\""));
	/* also on a kept-alive connection, after an answer */
	{
		int sk = dial(f.port);
		const char *good = "GET /x HTTP/1.1\r\nHost: x\r\n\r\n";
		const char *bad = "GET /x HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n";
		ssize_t n;
		size_t got = 0;

		assert_int_equal(send(sk, good, strlen(good), 0), (ssize_t)strlen(good));
		n = recv(sk, out, sizeof out - 1, 0);
		assert_true(n > 0);
		out[n] = '\0';
		assert_non_null(strstr(out, "HTTP/1.1 404"));
		sleep_ms(50);
		assert_int_equal(send(sk, bad, strlen(bad), 0), (ssize_t)strlen(bad));
		while (got + 1 < sizeof out && (n = recv(sk, out + got, sizeof out - got - 1, 0)) > 0)
			got += (size_t)n;
		out[got] = '\0';
		assert_non_null(strstr(out, "HTTP/1.1 400"));
		assert_non_null(strstr(out, "BadHeader"));
		close(sk);
	}
	{
		static const char nul[] = "GET /echo HTTP/1.1\r\nHost: x\r\nX-Nul: a\0b\r\n\r\n";
		raw_n(f.port, nul, sizeof nul - 1, out, sizeof out);
		assert_non_null(strstr(out, "HTTP/1.1 400"));
	}
	raw(f.port, "GET /echo HTTP/1.1\r\nConnection: close\r\n\r\n", out, sizeof out);
	assert_non_null(strstr(out, "HTTP/1.1 400"));
	assert_non_null(strstr(out, "BadHeader: an HTTP/1.1 request must carry Host"));
	raw(f.port, "NONSENSE\r\n\r\n", out, sizeof out);
	assert_non_null(strstr(out, "400"));
	assert_int_equal(atomic_load(&handled), 1); /* the kept-alive good one only */
	raw(f.port, "GET /echo HTTP/1.0\r\n\r\n", out, sizeof out);
	assert_non_null(strstr(out, " 200 "));
	finish(&f);
}

static void connections_over_the_per_address_limit_are_closed(void **state)
{
	struct ndx_httpd_config hc = { .max_connections_per_ip = 2 };
	struct fx f;
	int s[3];
	char buf[256];
	ssize_t n;
	(void)state;

	start(&f, &hc);
	for (int i = 0; i < 3; i++)
		s[i] = dial(f.port);
	/* the third is closed unanswered */
	n = recv(s[2], buf, sizeof buf, 0);
	assert_true(n <= 0);
	/* the first two are served */
	for (int i = 0; i < 2; i++) {
		const char *req = "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n";
		assert_int_equal(send(s[i], req, strlen(req), 0), (ssize_t)strlen(req));
		n = recv(s[i], buf, sizeof buf - 1, 0);
		assert_true(n > 12);
		buf[n] = '\0';
		assert_non_null(strstr(buf, "HTTP/1.1 200"));
	}
	for (int i = 0; i < 3; i++)
		close(s[i]);
	finish(&f);
}

static void a_request_over_its_deadline_gets_408(void **state)
{
	struct ndx_httpd_config hc = { .request_deadline_s = 1, .timeout_type = "Client.Slow" };
	struct fx f;
	char out[2048];
	size_t got = 0;
	ssize_t n;
	int s;
	struct timespec a, b;
	(void)state;

	start(&f, &hc);
	s = dial(f.port);
	clock_gettime(CLOCK_MONOTONIC, &a);
	assert_int_equal(send(s, "GET /echo HTTP/1.1\r\nHo", 22, 0), 22);
	while (got + 1 < sizeof out && (n = recv(s, out + got, sizeof out - got - 1, 0)) > 0)
		got += (size_t)n;
	out[got] = '\0';
	clock_gettime(CLOCK_MONOTONIC, &b);
	assert_non_null(strstr(out, "HTTP/1.1 408"));
	assert_non_null(strstr(out, "X-Road-Error: Client.Slow"));
	assert_true(b.tv_sec - a.tv_sec <= 3);
	close(s);
	finish(&f);
}

static void the_client_certificate_is_fingerprinted(void **state)
{
	char *ca_key, *ca_cert, *skey, *scsr, *scert, *ckey, *ccsr, *ccert;
	char fp[NDX_CERT_FINGERPRINT_HEX_LEN + 1], url[128];
	struct ndx_httpd_config hc = { 0 };
	struct fx f;
	struct got g;
	CURL *c;
	struct curl_blob cb, kb;
	(void)state;

	assert_int_equal(ndx_pki_ca_create("test CA", 30, &ca_key, &ca_cert), NDX_OK);
	assert_int_equal(ndx_pki_csr_create("server", &skey, &scsr), NDX_OK);
	assert_int_equal(ndx_pki_sign_csr(ca_key, ca_cert, scsr, "server", "127.0.0.1", 30, 2, &scert),
			 NDX_OK);
	assert_int_equal(ndx_pki_csr_create("client", &ckey, &ccsr), NDX_OK);
	assert_int_equal(ndx_pki_sign_csr(ca_key, ca_cert, ccsr, "client", NULL, 30, 3, &ccert),
			 NDX_OK);
	assert_int_equal(ndx_pki_cert_fingerprint(ccert, fp), NDX_OK);
	hc.tls_cert_pem = scert;
	hc.tls_key_pem = skey;
	hc.tls_trust_pem = ca_cert;
	start(&f, &hc);
	snprintf(url, sizeof url, "https://127.0.0.1:%u/cert", (unsigned)f.port);
	/* with a certificate of the trusted CA: its fingerprint, twice on one connection */
	c = curl_easy_init();
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	cb = (struct curl_blob){ .data = ccert, .len = strlen(ccert), .flags = CURL_BLOB_COPY };
	kb = (struct curl_blob){ .data = ckey, .len = strlen(ckey), .flags = CURL_BLOB_COPY };
	curl_easy_setopt(c, CURLOPT_SSLCERT_BLOB, &cb);
	curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
	curl_easy_setopt(c, CURLOPT_SSLKEY_BLOB, &kb);
	curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
	for (int i = 0; i < 2; i++) {
		assert_int_equal(fetch(c, url, NULL, NULL, &g), 200);
		assert_string_equal((char *)g.body.data, fp);
		got_free(&g);
	}
	curl_easy_cleanup(c);
	/* without one: served, but no fingerprint */
	c = curl_easy_init();
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	assert_int_equal(fetch(c, url, NULL, NULL, &g), 403);
	got_free(&g);
	/* TLS 1.1 is refused */
	curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)(CURL_SSLVERSION_TLSv1_1 | CURL_SSLVERSION_MAX_TLSv1_1));
	curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
	curl_easy_setopt(c, CURLOPT_FRESH_CONNECT, 1L);
	assert_int_equal(fetch(c, url, NULL, NULL, &g), 0);
	got_free(&g);
	curl_easy_cleanup(c);
	finish(&f);
	free(ca_key);
	free(ca_cert);
	free(skey);
	free(scsr);
	free(scert);
	free(ckey);
	free(ccsr);
	free(ccert);
}

struct bg_fetch {
	uint16_t port;
	long status;
	char body[64];
};

static void *fetch_deferred(void *arg)
{
	struct bg_fetch *b = arg;
	CURL *c = curl_easy_init();
	struct got g;
	char url[128];

	snprintf(url, sizeof url, "http://127.0.0.1:%u/defer", (unsigned)b->port);
	b->status = fetch(c, url, NULL, NULL, &g);
	snprintf(b->body, sizeof b->body, "%s", (char *)g.body.data);
	got_free(&g);
	curl_easy_cleanup(c);
	return NULL;
}

static void drain_waits_for_a_deferred_answer(void **state)
{
	struct ndx_httpd_config hc = { 0 };
	struct fx f;
	struct bg_fetch b = { 0 };
	pthread_t t;
	struct ndx_prom p;
	char *text, needle[128];
	(void)state;

	start(&f, &hc);
	b.port = f.port;
	assert_int_equal(pthread_create(&t, NULL, fetch_deferred, &b), 0);
	for (int i = 0; i < 500 && !atomic_load(&held); i++)
		sleep_ms(10);
	assert_non_null(atomic_load(&held));
	assert_int_equal(ndx_httpd_drain(f.srv, 100), 1);
	ndx_http_resume(atomic_load(&held));
	assert_int_equal(ndx_httpd_drain(f.srv, 2000), 0);
	pthread_join(t, NULL);
	assert_int_equal(b.status, 200);
	assert_string_equal(b.body, "late");
	/* counted in the HTTP figures of the port */
	ndx_prom_init(&p, NDX_BUF_NO_CAP);
	ndx_httpd_metrics(&p);
	text = ndx_prom_steal(&p, NULL);
	snprintf(needle, sizeof needle,
		 "ndx_http_requests_total{port=\"%u\",method=\"GET\",code=\"2xx\"} 1",
		 (unsigned)f.port);
	assert_non_null(strstr(text, needle));
	snprintf(needle, sizeof needle, "ndx_http_requests_in_flight{port=\"%u\"} 0",
		 (unsigned)f.port);
	assert_non_null(strstr(text, needle));
	free(text);
	finish(&f);
}

/* ---- the access log: one write per loop turn ------------------------------ */

/* Resumes every held answer in one task, that is within one loop turn, and
 * looks whether anything was written to stderr before the turn ended. */
struct resume_all {
	struct ndx_loop_task task;
	int reader;
	int early; /* bytes readable on stderr's socket right after the answers */
	atomic_int done;
};

static void resume_all_task(void *arg)
{
	struct resume_all *r = arg;
	char byte;

	for (int i = 0; i < atomic_load(&nholds); i++)
		ndx_http_resume(atomic_load(&holds[i]));
	r->early = (int)recv(r->reader, &byte, 1, MSG_DONTWAIT | MSG_PEEK);
	atomic_store(&r->done, 1);
}

/* Four answers sent in one loop turn: their access-log lines reach stderr
 * (here a SOCK_SEQPACKET socket, which keeps each write(2) apart) with one
 * write at the end of the turn, not one each; complete, none lost at stop. */
static void the_lines_of_a_turn_go_out_in_one_write(void **state)
{
	struct ndx_httpd_config hc = { .access_log = 1 };
	struct fx f;
	struct resume_all r = { 0 };
	int sv[2], saved, conns[4], writes = 0, lines = 0, answered = 0, later = 0;
	char got[16384], *p;
	ssize_t n;
	struct pollfd pfd;
	const char req[] = "GET /hold HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	(void)state;

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	assert_int_equal(dup2(sv[0], STDERR_FILENO), STDERR_FILENO);
	atomic_store(&nholds, 0);
	start(&f, &hc);
	for (int i = 0; i < 4; i++) {
		conns[i] = dial(f.port);
		assert_int_equal(send(conns[i], req, sizeof req - 1, 0), (ssize_t)(sizeof req - 1));
	}
	for (int i = 0; i < 500 && atomic_load(&nholds) < 4; i++)
		sleep_ms(10);
	r.reader = sv[1];
	r.task = (struct ndx_loop_task){ .fn = resume_all_task, .arg = &r };
	if (atomic_load(&nholds) == 4) {
		assert_int_equal(ndx_loop_post(f.loop, &r.task), NDX_OK);
		for (int i = 0; i < 500 && !atomic_load(&r.done); i++)
			sleep_ms(10);
	}
	/* What stderr got: the writes, and the lines in them. */
	pfd = (struct pollfd){ .fd = sv[1], .events = POLLIN };
	while (poll(&pfd, 1, 300) == 1 && (n = recv(sv[1], got, sizeof got - 1, 0)) > 0) {
		int in_this = 0;

		got[n] = '\0';
		for (p = got; (p = strstr(p, "\"path\":\"/hold\"")) != NULL; p++)
			in_this++;
		/* Only the writes of access lines count (not a note the
		 * server might print at start). */
		writes += in_this > 0;
		lines += in_this;
		if (in_this)
			assert_int_equal(got[n - 1], '\n');
	}
	for (int i = 0; i < 4; i++) {
		char answer[1024];
		size_t have = 0;

		while (have + 1 < sizeof answer &&
		       (n = recv(conns[i], answer + have, sizeof answer - have - 1, 0)) > 0)
			have += (size_t)n;
		answer[have] = '\0';
		answered += strncmp(answer, "HTTP/1.1 200", 12) == 0 && strstr(answer, "held");
		close(conns[i]);
	}
	finish(&f);
	/* Nothing was held back for the stop. */
	while (poll(&pfd, 1, 0) == 1 && (n = recv(sv[1], got, sizeof got - 1, 0)) > 0) {
		got[n] = '\0';
		later += strstr(got, "/hold") != NULL;
	}
	fflush(stderr);
	assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
	close(saved);
	close(sv[0]);
	close(sv[1]);

	assert_int_equal(atomic_load(&nholds), 4);
	assert_int_equal(atomic_load(&r.done), 1);
	assert_int_equal(answered, 4);
	/* Not written before the turn ended... */
	assert_int_equal(r.early, -1);
	/* ...then all four lines, with one write. */
	assert_int_equal(lines, 4);
	assert_int_equal(writes, 1);
	assert_int_equal(later, 0);
}

/* Two ports on one loop (ndx-gateway with fewer loops than ports): each
 * has its own h2o loop inside the same ndx_loop. */
static void two_servers_share_a_loop(void **state)
{
	struct ndx_httpd_config hc = { 0 };
	struct fx f;
	struct ndx_httpd *second;
	struct got g;
	char url[128];
	CURL *c = curl_easy_init();
	(void)state;

	start(&f, &hc);
	assert_int_equal(ndx_httpd_start(&hc, &second), NDX_OK);
	for (int round = 0; round < 2; round++) {
		uint16_t port = round ? ndx_httpd_port(second) : f.port;

		snprintf(url, sizeof url, "http://127.0.0.1:%u/echo", (unsigned)port);
		assert_int_equal(fetch(c, url, NULL, NULL, &g), 200);
		got_free(&g);
	}
	curl_easy_cleanup(c);
	ndx_httpd_stop(second);
	finish(&f);
}

static void without_a_loop_it_is_refused(void **state)
{
	struct ndx_httpd_config hc = { .name = "x", .handler = handler, .engine = NDX_HTTPD_H2O };
	struct ndx_httpd *srv = NULL;
	(void)state;

	assert_int_equal(ndx_httpd_start(&hc, &srv), NDX_EINVAL);
	assert_null(srv);
}

/* ---- HTTP/2 (cfg.http2) -------------------------------------------------- */

/* A CA, a server certificate and a client certificate, for the TLS port. */
struct pki {
	char *ca_key, *ca_cert, *skey, *scsr, *scert, *ckey, *ccsr, *ccert;
	char fp[NDX_CERT_FINGERPRINT_HEX_LEN + 1];
};

static void pki_make(struct pki *k)
{
	assert_int_equal(ndx_pki_ca_create("test CA", 30, &k->ca_key, &k->ca_cert), NDX_OK);
	assert_int_equal(ndx_pki_csr_create("server", &k->skey, &k->scsr), NDX_OK);
	assert_int_equal(ndx_pki_sign_csr(k->ca_key, k->ca_cert, k->scsr, "server", "127.0.0.1",
					  30, 2, &k->scert),
			 NDX_OK);
	assert_int_equal(ndx_pki_csr_create("client", &k->ckey, &k->ccsr), NDX_OK);
	assert_int_equal(ndx_pki_sign_csr(k->ca_key, k->ca_cert, k->ccsr, "client", NULL, 30, 3,
					  &k->ccert),
			 NDX_OK);
	assert_int_equal(ndx_pki_cert_fingerprint(k->ccert, k->fp), NDX_OK);
}

static void pki_free(struct pki *k)
{
	free(k->ca_key);
	free(k->ca_cert);
	free(k->skey);
	free(k->scsr);
	free(k->scert);
	free(k->ckey);
	free(k->ccsr);
	free(k->ccert);
}

static void start_h2(struct fx *f, struct ndx_httpd_config *hc, const struct pki *k)
{
	hc->tls_cert_pem = k->scert;
	hc->tls_key_pem = k->skey;
	hc->tls_trust_pem = k->ca_cert;
	hc->http2 = 1;
	start(f, hc);
}

/* An easy handle that asks for HTTP/2 over TLS, with the client
 * certificate of k when cert is set. */
static CURL *h2_easy(const struct pki *k, int cert)
{
	CURL *c = curl_easy_init();
	struct curl_blob cb = { k->ccert, strlen(k->ccert), CURL_BLOB_COPY };
	struct curl_blob kb = { k->ckey, strlen(k->ckey), CURL_BLOB_COPY };

	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	curl_easy_setopt(c, CURLOPT_PIPEWAIT, 1L);
	if (cert) {
		curl_easy_setopt(c, CURLOPT_SSLCERT_BLOB, &cb);
		curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
		curl_easy_setopt(c, CURLOPT_SSLKEY_BLOB, &kb);
		curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
	}
	return c;
}

static long http_version(CURL *c)
{
	long v = 0;
	curl_easy_getinfo(c, CURLINFO_HTTP_VERSION, &v);
	return v;
}

/* The counters are kept by port number for the life of the process, so a
 * port the kernel hands out again carries an earlier test's counts: the
 * tests compare a value with the one read when their server started. */
static uint64_t prom_value(const char *name, uint16_t port)
{
	struct ndx_prom p;
	char *text, needle[160];
	const char *at;
	uint64_t v = 0;

	ndx_prom_init(&p, NDX_BUF_NO_CAP);
	ndx_httpd_metrics(&p);
	text = ndx_prom_steal(&p, NULL);
	snprintf(needle, sizeof needle, "%s{port=\"%u\"} ", name, (unsigned)port);
	if ((at = strstr(text, needle)))
		v = strtoull(at + strlen(needle), NULL, 10);
	free(text);
	return v;
}

/* Four requests and a deferred one at once from one client: the streams of
 * one connection, the four answered while the fifth waits for its resume
 * from another thread; the client certificate's fingerprint on every
 * stream; a client without a certificate refused on its streams. */
static void http2_streams_share_a_connection_and_its_certificate(void **state)
{
	struct ndx_httpd_config hc = { 0 };
	struct pki k;
	struct fx f;
	struct got g[5];
	CURL *c[5];
	CURLM *m = curl_multi_init();
	char url[128], durl[128];
	int running = 1, done = 0;
	long connects = 0, n;
	uint64_t h2_before;
	pthread_t t;
	(void)state;

	pki_make(&k);
	start_h2(&f, &hc, &k);
	h2_before = prom_value("ndx_http_requests_http2_total", f.port);
	snprintf(url, sizeof url, "https://127.0.0.1:%u/cert", (unsigned)f.port);
	snprintf(durl, sizeof durl, "https://127.0.0.1:%u/defer", (unsigned)f.port);
	curl_multi_setopt(m, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
	for (int i = 0; i < 5; i++) {
		c[i] = h2_easy(&k, 1);
		ndx_buf_init(&g[i].body, NDX_BUF_NO_CAP);
		curl_easy_setopt(c[i], CURLOPT_URL, i == 4 ? durl : url);
		curl_easy_setopt(c[i], CURLOPT_WRITEFUNCTION, on_body);
		curl_easy_setopt(c[i], CURLOPT_WRITEDATA, &g[i].body);
		curl_easy_setopt(c[i], CURLOPT_TIMEOUT_MS, 10000L);
		curl_multi_add_handle(m, c[i]);
	}
	/* the four answered while the deferred one is held */
	while (running && done < 4) {
		CURLMsg *msg;
		int left;

		curl_multi_perform(m, &running);
		while ((msg = curl_multi_info_read(m, &left)))
			if (msg->msg == CURLMSG_DONE) {
				assert_int_equal(msg->data.result, CURLE_OK);
				assert_ptr_not_equal(msg->easy_handle, c[4]);
				done++;
			}
		curl_multi_poll(m, NULL, 0, 100, NULL);
	}
	assert_int_equal(done, 4);
	assert_non_null(atomic_load(&held));
	assert_int_equal(pthread_create(&t, NULL, resume_later, NULL), 0);
	while (running) {
		curl_multi_perform(m, &running);
		if (running)
			curl_multi_poll(m, NULL, 0, 100, NULL);
	}
	pthread_join(t, NULL);
	for (int i = 0; i < 5; i++) {
		curl_easy_getinfo(c[i], CURLINFO_RESPONSE_CODE, &n);
		assert_int_equal(n, 200);
		assert_int_equal(http_version(c[i]), CURL_HTTP_VERSION_2_0);
		ndx_buf_append(&g[i].body, "", 1);
		assert_string_equal((char *)g[i].body.data, i == 4 ? "late" : k.fp);
		curl_easy_getinfo(c[i], CURLINFO_NUM_CONNECTS, &n);
		connects += n;
		curl_multi_remove_handle(m, c[i]);
		curl_easy_cleanup(c[i]);
		ndx_buf_free(&g[i].body);
	}
	assert_int_equal(connects, 1);
	curl_multi_cleanup(m);
	assert_int_equal(prom_value("ndx_http_requests_http2_total", f.port) - h2_before, 5);
	/* without a certificate: the handler's refusal, its JSON and header */
	c[0] = h2_easy(&k, 0);
	assert_int_equal(fetch(c[0], url, NULL, NULL, &g[0]), 403);
	assert_int_equal(http_version(c[0]), CURL_HTTP_VERSION_2_0);
	assert_non_null(strstr((char *)g[0].headers.data, "x-road-error: Client.NoCert"));
	assert_non_null(strstr((char *)g[0].body.data, "\"type\":\"Client.NoCert\""));
	got_free(&g[0]);
	curl_easy_cleanup(c[0]);
	finish(&f);
	pki_free(&k);
}

/* The request as the handler sees it, the limits and refusals, on HTTP/2
 * streams: headers, a body over max_body (the JSON 413, the handler not
 * called), a head over 32 KiB (431), the per-address connection limit. */
static void http2_streams_keep_the_limits(void **state)
{
	struct ndx_httpd_config hc = { .max_body = 64, .max_connections_per_ip = 1, .access_log = 1,
				       .too_large_type = "Client.Big" };
	struct pki k;
	struct fx f;
	struct got g;
	CURL *c, *other;
	struct curl_slist *h = NULL;
	char url[128], big[128], *longh;
	(void)state;

	pki_make(&k);
	start_h2(&f, &hc, &k);
	c = h2_easy(&k, 1);
	snprintf(url, sizeof url, "https://127.0.0.1:%u/echo?a=1", (unsigned)f.port);
	h = curl_slist_append(h, "X-Twice: one");
	h = curl_slist_append(h, "X-Twice: two");
	assert_int_equal(fetch(c, url, "{\"k\":1}", h, &g), 200);
	assert_int_equal(http_version(c), CURL_HTTP_VERSION_2_0);
	assert_non_null(strstr((char *)g.body.data, "POST /echo a=1 a=1 last=two first=one body={\"k\":1}"));
	assert_non_null(strstr((char *)g.body.data, "Host=127.0.0.1:"));
	got_free(&g);
	curl_slist_free_all(h);
	h = NULL;
	/* over max_body: refused before the handler */
	atomic_store(&handled, 0);
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	assert_int_equal(fetch(c, url, big, NULL, &g), 413);
	assert_int_equal(atomic_load(&handled), 0);
	assert_non_null(strstr((char *)g.headers.data, "x-road-error: Client.Big"));
	assert_non_null(strstr((char *)g.body.data, "\"type\":\"Client.Big\""));
	got_free(&g);
	/* a head over 32 KiB */
	longh = malloc(34000);
	memcpy(longh, "X-Long: ", 8);
	memset(longh + 8, 'y', 33000);
	longh[33008] = '\0';
	h = curl_slist_append(h, longh);
	assert_int_equal(fetch(c, url, NULL, h, &g), 431);
	assert_int_equal(atomic_load(&handled), 0);
	got_free(&g);
	curl_slist_free_all(h);
	free(longh);
	/* the connection of c is this address's one: a second is closed */
	other = h2_easy(&k, 1);
	assert_int_equal(fetch(other, url, NULL, NULL, &g), 0);
	got_free(&g);
	curl_easy_cleanup(other);
	/* and c's goes on */
	assert_int_equal(fetch(c, url, NULL, NULL, &g), 200);
	got_free(&g);
	curl_easy_cleanup(c);
	finish(&f);
	pki_free(&k);
}

static size_t never_read(char *p, size_t sz, size_t n, void *ud)
{
	(void)p;
	(void)sz;
	(void)n;
	(void)ud;
	return CURL_READFUNC_PAUSE;
}

/* A stream whose body never comes: the connection is cut at the request
 * deadline (no answer: TLS), the handler never called. */
static void an_http2_stream_over_its_deadline_is_cut(void **state)
{
	struct ndx_httpd_config hc = { .request_deadline_s = 1, .access_log = 1 };
	struct pki k;
	struct fx f;
	struct got g = { 0 };
	CURL *c;
	CURLcode rc;
	char url[128];
	(void)state;

	pki_make(&k);
	start_h2(&f, &hc, &k);
	c = h2_easy(&k, 1);
	snprintf(url, sizeof url, "https://127.0.0.1:%u/echo", (unsigned)f.port);
	ndx_buf_init(&g.body, NDX_BUF_NO_CAP);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, 10L);
	curl_easy_setopt(c, CURLOPT_READFUNCTION, never_read);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &g.body);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 15000L);
	rc = curl_easy_perform(c);
	assert_int_not_equal(rc, CURLE_OK);
	assert_int_not_equal(rc, CURLE_OPERATION_TIMEDOUT);
	assert_int_equal(atomic_load(&handled), 0);
	ndx_buf_free(&g.body);
	curl_easy_cleanup(c);
	finish(&f);
	pki_free(&k);
}

struct bg_h2 {
	const struct pki *k;
	uint16_t port;
	long status, version;
	char body[64];
	CURL *c; /* kept: its connection, for the request after the drain */
};

static void *fetch_deferred_h2(void *arg)
{
	struct bg_h2 *b = arg;
	struct got g;
	char url[128];

	snprintf(url, sizeof url, "https://127.0.0.1:%u/defer", (unsigned)b->port);
	b->status = fetch(b->c, url, NULL, NULL, &g);
	b->version = http_version(b->c);
	snprintf(b->body, sizeof b->body, "%s", (char *)g.body.data);
	got_free(&g);
	return NULL;
}

/* A deferred answer on an HTTP/2 stream holds the drain until it is
 * resumed; the drained port then takes no new request on that connection
 * (GOAWAY) nor on a new one. */
static void drain_waits_for_a_deferred_http2_answer(void **state)
{
	struct ndx_httpd_config hc = { 0 };
	struct pki k;
	struct fx f;
	struct bg_h2 b = { 0 };
	struct got g;
	pthread_t t;
	char url[128];
	(void)state;

	pki_make(&k);
	start_h2(&f, &hc, &k);
	b.k = &k;
	b.port = f.port;
	b.c = h2_easy(&k, 1);
	assert_int_equal(pthread_create(&t, NULL, fetch_deferred_h2, &b), 0);
	for (int i = 0; i < 500 && !atomic_load(&held); i++)
		sleep_ms(10);
	assert_non_null(atomic_load(&held));
	assert_int_equal(ndx_httpd_drain(f.srv, 100), 1);
	ndx_http_resume(atomic_load(&held));
	assert_int_equal(ndx_httpd_drain(f.srv, 2000), 0);
	pthread_join(t, NULL);
	assert_int_equal(b.status, 200);
	assert_int_equal(b.version, CURL_HTTP_VERSION_2_0);
	assert_string_equal(b.body, "late");
	atomic_store(&handled, 0);
	snprintf(url, sizeof url, "https://127.0.0.1:%u/echo", (unsigned)f.port);
	assert_int_equal(fetch(b.c, url, NULL, NULL, &g), 0);
	assert_int_equal(atomic_load(&handled), 0);
	got_free(&g);
	curl_easy_cleanup(b.c);
	finish(&f);
	pki_free(&k);
}

/* A client that gives up on a deferred stream (RST_STREAM) keeps its
 * connection: the late resume finds the request gone, and the
 * connection's next stream is served. */
static void a_deferred_http2_stream_the_client_resets(void **state)
{
	struct ndx_httpd_config hc = { .access_log = 1 };
	struct pki k;
	struct fx f;
	struct got g;
	CURLM *m = curl_multi_init();
	CURL *d, *c;
	char url[128], durl[128];
	int running = 1;
	long connects = 0, n;
	(void)state;

	pki_make(&k);
	start_h2(&f, &hc, &k);
	snprintf(url, sizeof url, "https://127.0.0.1:%u/cert", (unsigned)f.port);
	snprintf(durl, sizeof durl, "https://127.0.0.1:%u/defer", (unsigned)f.port);
	d = h2_easy(&k, 1);
	c = h2_easy(&k, 1);
	ndx_buf_init(&g.body, NDX_BUF_NO_CAP);
	curl_easy_setopt(d, CURLOPT_URL, durl);
	curl_easy_setopt(d, CURLOPT_TIMEOUT_MS, 10000L);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &g.body);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
	curl_multi_setopt(m, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
	curl_multi_add_handle(m, d);
	for (int i = 0; i < 1000 && !atomic_load(&held); i++) {
		curl_multi_perform(m, &running);
		curl_multi_poll(m, NULL, 0, 10, NULL);
	}
	assert_non_null(atomic_load(&held));
	/* the client gives up on it; its connection stays */
	curl_multi_remove_handle(m, d);
	curl_multi_add_handle(m, c);
	for (running = 1; running;) {
		curl_multi_perform(m, &running);
		if (running)
			curl_multi_poll(m, NULL, 0, 100, NULL);
	}
	ndx_http_resume(atomic_load(&held));
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &n);
	assert_int_equal(n, 200);
	ndx_buf_append(&g.body, "", 1);
	assert_string_equal((char *)g.body.data, k.fp);
	curl_easy_getinfo(d, CURLINFO_NUM_CONNECTS, &n);
	connects += n;
	curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &n);
	connects += n;
	assert_int_equal(connects, 1);
	curl_multi_remove_handle(m, c);
	curl_easy_cleanup(c);
	curl_easy_cleanup(d);
	curl_multi_cleanup(m);
	ndx_buf_free(&g.body);
	/* the resume has been taken: the port stops without waiting */
	finish(&f);
	pki_free(&k);
}

/* Without cfg.http2 a client that asks for HTTP/2 gets HTTP/1.1 (no ALPN
 * h2), as from libmicrohttpd. */
static void without_http2_the_port_speaks_http1(void **state)
{
	struct ndx_httpd_config hc = { 0 };
	struct pki k;
	struct fx f;
	struct got g;
	CURL *c;
	char url[128];
	uint64_t h2_before;
	(void)state;

	pki_make(&k);
	hc.tls_cert_pem = k.scert;
	hc.tls_key_pem = k.skey;
	hc.tls_trust_pem = k.ca_cert;
	start(&f, &hc);
	h2_before = prom_value("ndx_http_requests_http2_total", f.port);
	c = h2_easy(&k, 1);
	snprintf(url, sizeof url, "https://127.0.0.1:%u/cert", (unsigned)f.port);
	assert_int_equal(fetch(c, url, NULL, NULL, &g), 200);
	assert_int_equal(http_version(c), CURL_HTTP_VERSION_1_1);
	assert_string_equal((char *)g.body.data, k.fp);
	got_free(&g);
	curl_easy_cleanup(c);
	assert_int_equal(prom_value("ndx_http_requests_http2_total", f.port), h2_before);
	finish(&f);
	pki_free(&k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_request_as_the_handler_sees_it),
		cmocka_unit_test(a_deferred_answer_is_resumed_from_another_thread),
		cmocka_unit_test(a_body_over_max_body_is_refused_before_the_handler),
		cmocka_unit_test(strict_refusals),
		cmocka_unit_test(connections_over_the_per_address_limit_are_closed),
		cmocka_unit_test(a_request_over_its_deadline_gets_408),
		cmocka_unit_test(the_client_certificate_is_fingerprinted),
		cmocka_unit_test(drain_waits_for_a_deferred_answer),
		cmocka_unit_test(two_servers_share_a_loop),
		cmocka_unit_test(the_lines_of_a_turn_go_out_in_one_write),
		cmocka_unit_test(without_a_loop_it_is_refused),
		cmocka_unit_test(http2_streams_share_a_connection_and_its_certificate),
		cmocka_unit_test(http2_streams_keep_the_limits),
		cmocka_unit_test(an_http2_stream_over_its_deadline_is_cut),
		cmocka_unit_test(drain_waits_for_a_deferred_http2_answer),
		cmocka_unit_test(a_deferred_http2_stream_the_client_resets),
		cmocka_unit_test(without_http2_the_port_speaks_http1),
	};
	int rc;

	/* as every ndx daemon: h2o writes to sockets a peer may have closed */
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
