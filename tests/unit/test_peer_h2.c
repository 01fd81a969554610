/* The consumer gateway's HTTP/2 client towards provider gateways
 * (src/gateway/peer_h2.c), driven as peer.c drives it (gw_peer_start on an
 * exchange loop), against a real h2o HTTP/2 TLS server on loopback in
 * this process (ndx_httpd with http2, mutual TLS) and, for what h2o would
 * not do on cue, a bare TLS server that offers "h2" and then misbehaves:
 * many calls are streams of one connection and their answers arrive
 * whole; a request's body and headers arrive as sent, also bodies larger
 * than HTTP/2's flow-control windows; an answer over the
 * cap is TOOBIG; a peer timeout is TIMEOUT; a certificate that is not the
 * member's gateway's is refused before anything is sent (CONNECT) on a
 * new connection and at the answer (IDENTITY) on a reused one; a server
 * that closes the connection mid-stream fails the stream; a port where
 * nothing listens is CONNECT, and so is a call after the gateway closed
 * the connection it had kept. */
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
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
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "gwconfig.h"
#include "gwloop.h"
#include "peer_h2.h"
#include "xfer.h"
#include "ndx/buf.h"
#include "ndx/conf.h"
#include "ndx/encode.h"
#include "ndx/err.h"
#include "ndx/httpd.h"
#include "ndx/key.h"
#include "ndx/loop.h"
#include "ndx/pki.h"

#define BCA "VN/GOV/BCA"
#define MOF "VN/GOV/MOF"
#define CAP 1024
#define MANY 60
#define BIG_BODY (600 * 1024) /* beyond HTTP/2's initial windows (64 KiB) */

/* ---- completions ----------------------------------------------------------- */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int completed;

static void wait_for(int n)
{
	pthread_mutex_lock(&mu);
	while (completed < n)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
}

/* ---- the PKI and the configuration ------------------------------------------ */

struct pki {
	char *ca_key, *ca_cert;
	char *skey, *scert; /* the provider gateway's (BCA gw1) */
	char *okey, *ocert; /* another certificate of the same CA */
	char *ckey, *ccert; /* the calling gateway's */
	char sfp[NDX_CERT_FINGERPRINT_HEX_LEN + 1];
};

static void cert_of(struct pki *k, const char *cn, long serial, char **key, char **cert)
{
	char *csr = NULL;

	assert_int_equal(ndx_pki_csr_create(cn, key, &csr), NDX_OK);
	assert_int_equal(ndx_pki_sign_csr(k->ca_key, k->ca_cert, csr, cn, "127.0.0.1", 30, serial,
					  cert),
			 NDX_OK);
	free(csr);
}

static void pki_make(struct pki *k)
{
	assert_int_equal(ndx_pki_ca_create("test CA", 30, &k->ca_key, &k->ca_cert), NDX_OK);
	cert_of(k, "bca-gw1", 2, &k->skey, &k->scert);
	cert_of(k, "other", 3, &k->okey, &k->ocert);
	cert_of(k, "mof-gw1", 4, &k->ckey, &k->ccert);
	assert_int_equal(ndx_pki_cert_fingerprint(k->scert, k->sfp), NDX_OK);
}

static void pki_free(struct pki *k)
{
	free(k->ca_key);
	free(k->ca_cert);
	free(k->skey);
	free(k->scert);
	free(k->okey);
	free(k->ocert);
	free(k->ckey);
	free(k->ccert);
}

static json_t *gateway_json(const char *member, const char *address, const char *fp)
{
	struct ndx_key *key = NULL;
	uint8_t raw[NDX_ED25519_PUBLIC_LEN];
	char kid[NDX_KEY_ID_HEX_LEN + 1], *b64;
	json_t *g;

	assert_int_equal(ndx_key_generate(&key), NDX_OK);
	ndx_key_public_raw(key, raw);
	ndx_key_id(key, kid);
	ndx_key_free(key);
	b64 = ndx_b64_encode(raw, sizeof raw, 0);
	assert_non_null(b64);
	g = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "member", member, "code", "gw1", "address",
		      address, "tls_cert_sha256", fp, "sign_key", b64, "sign_key_id", kid);
	free(b64);
	return g;
}

/* A configuration whose BCA gw1 is at 127.0.0.1:port with certificate
 * fingerprint fp, under the CA ca. */
static struct ndx_conf *conf_make(const char *ca, uint16_t port, const char *fp)
{
	char address[64], err[256];
	char *text;
	json_t *doc;
	struct ndx_conf *conf = NULL;

	snprintf(address, sizeof address, "https://127.0.0.1:%u", (unsigned)port);
	doc = json_pack("{s:s, s:s, s:i, s:s, s:s, s:{s:s, s:s}, s:[s],"
			" s:[{s:s}, {s:s}], s:[], s:[o, o], s:[], s:[], s:[], s:[]}",
			"format", NDX_CONF_FORMAT, "instance", "VN", "version", 1, "generated_at",
			"2026-01-01T00:00:00Z", "expires_at", "2036-01-01T00:00:00Z", "registry",
			"url", "http://127.0.0.1:1", "ca_certificate", ca, "member_classes", "GOV",
			"members", "id", MOF, "id", BCA, "subsystems", "gateways",
			gateway_json(MOF, "https://127.0.0.1:1", "a"
				     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
			gateway_json(BCA, address, fp), "services", "grants", "revocations",
			"consent_services");
	assert_non_null(doc);
	text = json_dumps(doc, 0);
	json_decref(doc);
	if (ndx_conf_parse((const uint8_t *)text, strlen(text), &conf, err, sizeof err) != NDX_OK)
		fail_msg("the configuration does not parse: %s", err);
	free(text);
	return conf;
}

/* ---- the h2o server ------------------------------------------------------------- */

struct server {
	struct ndx_loop *loop;
	pthread_t thread;
	struct ndx_httpd *srv;
	uint16_t port;
	/* the remote addresses seen (one per connection) */
	pthread_mutex_t mu;
	char seen[8][64];
	int nseen;
	/* a held answer (/hang) */
	struct ndx_http_pending *held;
	struct ndx_http_resp *held_resp;
};

static int collect(void *ud, const char *name, size_t nl, const char *value, size_t vl)
{
	ndx_buf_appendf(ud, "%.*s=[%.*s]\n", (int)nl, name, (int)vl, value);
	return 0;
}

static void handler(void *ctx, const struct ndx_http_req *req, struct ndx_http_resp *resp)
{
	struct server *s = ctx;
	int i;

	pthread_mutex_lock(&s->mu);
	for (i = 0; i < s->nseen && strcmp(s->seen[i], req->remote_addr) != 0; i++)
		;
	if (i == s->nseen && s->nseen < 8)
		snprintf(s->seen[s->nseen++], sizeof s->seen[0], "%s", req->remote_addr);
	pthread_mutex_unlock(&s->mu);
	if (strncmp(req->path, "/r1/echo", 8) == 0) {
		struct ndx_buf b;
		char *text;
		size_t n;

		ndx_buf_init(&b, NDX_BUF_NO_CAP);
		ndx_buf_appendf(&b, "%s %s?%s\n", req->method, req->path, req->query);
		ndx_http_headers_each(req, collect, &b);
		ndx_buf_appendf(&b, "body=[%.*s]", (int)req->body_len,
				req->body ? (const char *)req->body : "");
		text = ndx_buf_steal(&b, &n);
		ndx_http_resp_header(resp, "X-Road-Request-Id", "rid-1");
		ndx_http_resp_header(resp, "Ndx-Response-Signature", "sig-1");
		ndx_http_resp_bytes(resp, 200, "text/plain", text, n);
		free(text);
		return;
	}
	if (strcmp(req->path, "/r1/sum") == 0) {
		unsigned long sum = 0;
		char text[64];
		int n;

		for (size_t j = 0; j < req->body_len; j++)
			sum = sum * 31 + req->body[j];
		n = snprintf(text, sizeof text, "len=%zu sum=%lu", req->body_len, sum);
		ndx_http_resp_bytes(resp, 200, "text/plain", text, (size_t)n);
		return;
	}
	if (strcmp(req->path, "/r1/big") == 0) {
		char *big = malloc(4 * CAP);

		memset(big, 'x', 4 * CAP);
		ndx_http_resp_bytes(resp, 200, "text/plain", big, 4 * CAP);
		free(big);
		return;
	}
	if (strcmp(req->path, "/r1/hang") == 0) {
		pthread_mutex_lock(&s->mu);
		s->held_resp = resp;
		s->held = ndx_http_defer(req);
		pthread_mutex_unlock(&s->mu);
		return;
	}
	ndx_http_resp_error(resp, 404, "Client.NotFound", "nothing here", NULL);
}

static void *run_loop(void *arg)
{
	ndx_loop_run(arg);
	return NULL;
}

static struct server *server_start(const struct pki *k)
{
	struct server *s = calloc(1, sizeof *s);
	struct ndx_httpd_config hc = { 0 };

	assert_non_null(s);
	pthread_mutex_init(&s->mu, NULL);
	assert_int_equal(ndx_loop_new(&s->loop), NDX_OK);
	assert_int_equal(pthread_create(&s->thread, NULL, run_loop, s->loop), 0);
	hc.name = "test-peer-h2";
	hc.handler = handler;
	hc.ctx = s;
	hc.loop = s->loop;
	hc.engine = NDX_HTTPD_H2O;
	hc.max_body = 2 * BIG_BODY;
	hc.tls_cert_pem = k->scert;
	hc.tls_key_pem = k->skey;
	hc.tls_trust_pem = k->ca_cert;
	hc.http2 = 1;
	assert_int_equal(ndx_httpd_start(&hc, &s->srv), NDX_OK);
	s->port = ndx_httpd_port(s->srv);
	return s;
}

static void server_stop(struct server *s)
{
	ndx_httpd_stop(s->srv);
	ndx_loop_stop(s->loop);
	pthread_join(s->thread, NULL);
	ndx_loop_free(s->loop);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

/* ---- a bare TLS server: offers h2, then closes after its first read -------- */

struct bare {
	int lfd;
	uint16_t port;
	SSL_CTX *ctx;
	pthread_t thread;
	atomic_int read_bytes;
};

static int select_h2(SSL *ssl, const unsigned char **out, unsigned char *outlen,
		     const unsigned char *in, unsigned int inlen, void *arg)
{
	(void)ssl;
	(void)arg;
	for (unsigned int i = 0; i + 1 < inlen; i += 1u + in[i])
		if (in[i] == 2 && i + 3 <= inlen && memcmp(in + i + 1, "h2", 2) == 0) {
			*out = in + i + 1;
			*outlen = 2;
			return SSL_TLSEXT_ERR_OK;
		}
	return SSL_TLSEXT_ERR_NOACK;
}

static void *bare_main(void *arg)
{
	struct bare *b = arg;
	int fd = accept(b->lfd, NULL, NULL);
	SSL *ssl;
	char buf[4096];
	int n;

	if (fd < 0)
		return NULL;
	ssl = SSL_new(b->ctx);
	SSL_set_fd(ssl, fd);
	if (SSL_accept(ssl) == 1 && (n = SSL_read(ssl, buf, sizeof buf)) > 0)
		atomic_store(&b->read_bytes, n);
	SSL_free(ssl);
	close(fd); /* mid-stream: the request is in, no answer */
	return NULL;
}

static struct bare *bare_start(const char *cert_pem, const char *key_pem)
{
	struct bare *b = calloc(1, sizeof *b);
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof sin;
	BIO *bio;
	X509 *x;
	EVP_PKEY *pk;

	assert_non_null(b);
	b->ctx = SSL_CTX_new(TLS_server_method());
	bio = BIO_new_mem_buf(cert_pem, -1);
	x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	BIO_free(bio);
	bio = BIO_new_mem_buf(key_pem, -1);
	pk = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	assert_int_equal(SSL_CTX_use_certificate(b->ctx, x), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(b->ctx, pk), 1);
	X509_free(x);
	EVP_PKEY_free(pk);
	SSL_CTX_set_alpn_select_cb(b->ctx, select_h2, NULL);
	b->lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(b->lfd >= 0);
	assert_int_equal(bind(b->lfd, (struct sockaddr *)&sin, sizeof sin), 0);
	assert_int_equal(listen(b->lfd, 4), 0);
	assert_int_equal(getsockname(b->lfd, (struct sockaddr *)&sin, &sl), 0);
	b->port = ntohs(sin.sin_port);
	assert_int_equal(pthread_create(&b->thread, NULL, bare_main, b), 0);
	return b;
}

/* Waits for its connection to end; what it read of it. */
static int bare_stop(struct bare *b)
{
	int n;

	pthread_join(b->thread, NULL);
	n = atomic_load(&b->read_bytes);
	close(b->lfd);
	SSL_CTX_free(b->ctx);
	free(b);
	return n;
}

/* ---- calls on an exchange loop, as consumer.c makes them ---------------------- */

struct fx {
	struct pki k;
	struct gw_config cfg;
	struct gw_settings s;
	struct gw_loops *loops;
};

struct tcall {
	struct gw_peer_call call;
	struct gw_xfer_resp r;
	struct ndx_loop_task task;
	enum gw_xfer_result res;
	struct curl_slist *hdrs;
};

static int prepare(struct gw_peer_call *call, const struct ndx_conf_gateway *gw, void *ud)
{
	(void)gw;
	(void)ud;
	gw_peer_prepared(call, true);
	return 0;
}

static void call_done(struct gw_peer_call *call, enum gw_xfer_result res)
{
	struct tcall *t = (struct tcall *)((char *)call - offsetof(struct tcall, call));

	t->res = res;
	pthread_mutex_lock(&mu);
	completed++;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
}

static void call_start(void *arg)
{
	struct tcall *t = arg;

	gw_peer_start(&t->call, &t->r);
}

static void call_init(struct fx *f, struct tcall *t, const struct ndx_conf *conf,
		      const char *method, const char *suffix)
{
	memset(t, 0, sizeof *t);
	t->call.loop = gw_loops_next(f->loops);
	t->call.conf = conf;
	t->call.member = BCA;
	t->call.method = method;
	t->call.url_suffix = suffix;
	t->call.cfg = &f->cfg;
	t->call.s = &f->s;
	t->call.prepare = prepare;
	t->call.done = call_done;
	t->task.fn = call_start;
	t->task.arg = t;
}

/* Runs the n calls at once on the loop and waits for them all. */
static void run_calls(struct tcall *t, int n)
{
	int base;

	pthread_mutex_lock(&mu);
	base = completed;
	pthread_mutex_unlock(&mu);
	for (int i = 0; i < n; i++)
		assert_int_equal(gw_loop_post(t[i].call.loop, &t[i].task), NDX_OK);
	wait_for(base + n);
}

static void call_free(struct tcall *t)
{
	gw_xfer_resp_free(&t->r);
	free(t->call.url);
	curl_slist_free_all(t->hdrs);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	char err[128];

	assert_non_null(f);
	pki_make(&f->k);
	f->cfg.tls_cert_pem = f->k.ccert;
	f->cfg.tls_key_pem = f->k.ckey;
	f->cfg.peer_http2 = true;
	f->s.max_body = CAP;
	f->s.peer_timeout_ms = 20000;
	f->s.connect_timeout_ms = 10000;
	assert_int_equal(gw_loops_start(1, &f->loops, err, sizeof err), NDX_OK);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	gw_loops_free(f->loops);
	pki_free(&f->k);
	free(f);
	return 0;
}

/* ---- the cases ------------------------------------------------------------- */

/* MANY calls at once are streams of one connection, each answer whole and
 * its own; a POST's body and headers arrive as sent (curl's list meaning:
 * "Name;" sent empty, "Name:" left out; names in lower case). */
static void many_streams_on_one_connection(void **state)
{
	struct fx *f = *state;
	struct server *s = server_start(&f->k);
	struct ndx_conf *conf = conf_make(f->k.ca_cert, s->port, f->k.sfp);
	static struct tcall t[MANY];
	static char suffix[MANY][32];
	static char body[MANY][32];

	for (int i = 0; i < MANY; i++) {
		snprintf(suffix[i], sizeof suffix[i], "/r1/echo/%d?n=%d", i, i);
		snprintf(body[i], sizeof body[i], "payload %d", i);
		call_init(f, &t[i], conf, i % 2 ? "POST" : "GET", suffix[i]);
		if (i % 2) {
			t[i].call.body = (const uint8_t *)body[i];
			t[i].call.body_len = strlen(body[i]);
		}
		assert_int_equal(gw_slist_add(&t[i].hdrs, "X-Road-Client", "VN/GOV/MOF/tax"), NDX_OK);
		assert_int_equal(gw_slist_add(&t[i].hdrs, "Expect", ""), NDX_OK);
		t[i].hdrs = curl_slist_append(t[i].hdrs, "Ndx-Empty;");
		t[i].call.headers = t[i].hdrs;
	}
	run_calls(t, MANY);
	for (int i = 0; i < MANY; i++) {
		char want[96];

		assert_int_equal(t[i].res, GW_XFER_OK);
		assert_int_equal(t[i].r.status, 200);
		assert_non_null(t[i].r.body);
		snprintf(want, sizeof want, "%s /r1/echo/%d?n=%d\n", i % 2 ? "POST" : "GET", i, i);
		assert_true(strncmp(t[i].r.body, want, strlen(want)) == 0);
		assert_non_null(strstr(t[i].r.body, "x-road-client=[VN/GOV/MOF/tax]"));
		assert_non_null(strstr(t[i].r.body, "ndx-empty=[]"));
		assert_null(strstr(t[i].r.body, "expect="));
		snprintf(want, sizeof want, "body=[%.32s]", i % 2 ? body[i] : "");
		assert_non_null(strstr(t[i].r.body, want));
		assert_string_equal(t[i].r.hdr[GW_H_REQUEST_ID], "rid-1");
		assert_string_equal(t[i].r.hdr[GW_H_RESPONSE_SIG], "sig-1");
		assert_string_equal(t[i].r.hdr[GW_H_CONTENT_TYPE], "text/plain");
		assert_ptr_equal(t[i].call.gateway, ndx_conf_gateway_of(conf, BCA, 0));
		call_free(&t[i]);
	}
	/* one connection carried them all, and carries the next call too */
	call_init(f, &t[0], conf, "GET", "/r1/echo/again");
	run_calls(t, 1);
	assert_int_equal(t[0].res, GW_XFER_OK);
	call_free(&t[0]);
	assert_int_equal(s->nseen, 1);
	ndx_conf_free(conf);
	server_stop(s);
}

/* Request bodies larger than the flow-control windows, three at once on
 * one connection, arrive whole. */
static void large_bodies_go_through_flow_control(void **state)
{
	struct fx *f = *state;
	struct server *s = server_start(&f->k);
	struct ndx_conf *conf = conf_make(f->k.ca_cert, s->port, f->k.sfp);
	struct tcall t[3];
	uint8_t *body = malloc(BIG_BODY);
	unsigned long sum = 0;
	char want[64];

	assert_non_null(body);
	for (size_t j = 0; j < BIG_BODY; j++) {
		body[j] = (uint8_t)(j * 7 + j / 1000);
		sum = sum * 31 + body[j];
	}
	snprintf(want, sizeof want, "len=%d sum=%lu", BIG_BODY, sum);
	for (int i = 0; i < 3; i++) {
		call_init(f, &t[i], conf, "PUT", "/r1/sum");
		t[i].call.body = body;
		t[i].call.body_len = BIG_BODY;
	}
	run_calls(t, 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(t[i].res, GW_XFER_OK);
		assert_int_equal(t[i].r.status, 200);
		assert_string_equal(t[i].r.body, want);
		call_free(&t[i]);
	}
	assert_int_equal(s->nseen, 1);
	free(body);
	ndx_conf_free(conf);
	server_stop(s);
}

/* An answer over the cap: TOOBIG; the connection goes on serving. A call
 * past the peer timeout: TIMEOUT (the held answer is let go afterwards). */
static void over_the_cap_and_over_time(void **state)
{
	struct fx *f = *state;
	struct server *s = server_start(&f->k);
	struct ndx_conf *conf = conf_make(f->k.ca_cert, s->port, f->k.sfp);
	struct tcall t[2];

	call_init(f, &t[0], conf, "GET", "/r1/big");
	call_init(f, &t[1], conf, "GET", "/r1/echo/after");
	run_calls(t, 2);
	assert_int_equal(t[0].res, GW_XFER_TOOBIG);
	assert_int_equal(t[1].res, GW_XFER_OK);
	call_free(&t[0]);
	call_free(&t[1]);

	f->s.peer_timeout_ms = 300;
	call_init(f, &t[0], conf, "GET", "/r1/hang");
	run_calls(t, 1);
	f->s.peer_timeout_ms = 20000;
	assert_int_equal(t[0].res, GW_XFER_TIMEOUT);
	assert_non_null(strstr(t[0].r.errbuf, "timed out"));
	call_free(&t[0]);
	pthread_mutex_lock(&s->mu);
	assert_non_null(s->held);
	ndx_http_resp_bytes(s->held_resp, 200, "text/plain", "late", 4);
	ndx_http_resume(s->held);
	pthread_mutex_unlock(&s->mu);
	ndx_conf_free(conf);
	server_stop(s);
}

/* The configuration changes under a kept connection: the answering
 * gateway's certificate is no longer the member's gateway's: IDENTITY at
 * the answer. On a new connection to a server whose certificate (of the
 * same CA, naming the same address) is not the gateway's: CONNECT, and
 * nothing was sent. */
static void a_wrong_certificate_is_refused(void **state)
{
	struct fx *f = *state;
	struct server *s = server_start(&f->k);
	struct ndx_conf *conf = conf_make(f->k.ca_cert, s->port, f->k.sfp);
	struct ndx_conf *changed = conf_make(f->k.ca_cert, s->port,
					     "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
					     "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
	struct tcall t[1];
	struct bare *b;

	call_init(f, &t[0], conf, "GET", "/r1/echo/first");
	run_calls(t, 1);
	assert_int_equal(t[0].res, GW_XFER_OK);
	call_free(&t[0]);
	call_init(f, &t[0], changed, "GET", "/r1/echo/second");
	run_calls(t, 1);
	assert_int_equal(t[0].res, GW_XFER_IDENTITY);
	assert_null(t[0].call.gateway);
	call_free(&t[0]);
	ndx_conf_free(conf);
	ndx_conf_free(changed);
	server_stop(s);

	b = bare_start(f->k.ocert, f->k.okey);
	conf = conf_make(f->k.ca_cert, b->port, f->k.sfp);
	call_init(f, &t[0], conf, "GET", "/r1/echo/third");
	run_calls(t, 1);
	assert_int_equal(t[0].res, GW_XFER_CONNECT);
	assert_non_null(strstr(t[0].r.errbuf, "certificate"));
	call_free(&t[0]);
	assert_int_equal(bare_stop(b), 0); /* not even the HTTP/2 preface */
	ndx_conf_free(conf);
}

/* A server that takes the request and closes the connection without an
 * answer: the stream fails (FAILED: the request may have been executed,
 * so no other gateway is tried). A port where nothing listens: CONNECT. */
static void a_connection_lost_mid_stream_fails_the_stream(void **state)
{
	struct fx *f = *state;
	struct bare *b = bare_start(f->k.scert, f->k.skey);
	struct ndx_conf *conf = conf_make(f->k.ca_cert, b->port, f->k.sfp);
	struct tcall t[1];
	uint16_t port = b->port;
	int read_bytes;

	call_init(f, &t[0], conf, "GET", "/r1/echo/lost");
	run_calls(t, 1);
	read_bytes = bare_stop(b);
	assert_true(read_bytes > 24); /* the preface and more: the request went out */
	assert_int_equal(t[0].res, GW_XFER_FAILED);
	assert_true(t[0].r.errbuf[0] != '\0');
	call_free(&t[0]);
	ndx_conf_free(conf);

	/* the bare server's port, closed now */
	conf = conf_make(f->k.ca_cert, port, f->k.sfp);
	call_init(f, &t[0], conf, "GET", "/r1/echo/nobody");
	run_calls(t, 1);
	assert_int_equal(t[0].res, GW_XFER_CONNECT);
	assert_non_null(strstr(t[0].r.errbuf, "Failed to connect"));
	call_free(&t[0]);
	ndx_conf_free(conf);
}

/* The gateway stops (h2o sends GOAWAY and closes its kept connection):
 * the next call is not lost on the dead connection but tried on a new
 * one, which is refused: CONNECT, so that peer.c tries the next gateway. */
static void a_connection_the_gateway_closed_is_not_reused(void **state)
{
	struct fx *f = *state;
	struct server *s = server_start(&f->k);
	struct ndx_conf *conf = conf_make(f->k.ca_cert, s->port, f->k.sfp);
	struct tcall t[1];

	call_init(f, &t[0], conf, "GET", "/r1/echo/before");
	run_calls(t, 1);
	assert_int_equal(t[0].res, GW_XFER_OK);
	call_free(&t[0]);
	server_stop(s);
	call_init(f, &t[0], conf, "GET", "/r1/echo/after");
	run_calls(t, 1);
	assert_int_equal(t[0].res, GW_XFER_CONNECT);
	call_free(&t[0]);
	ndx_conf_free(conf);
}

static void which_addresses_it_serves(void **state)
{
	(void)state;
	assert_true(gw_ph2_serves("https://127.0.0.1:8443"));
	assert_true(gw_ph2_serves("https://[::1]:8443/x"));
	assert_false(gw_ph2_serves("https://gw.example:8443"));
	assert_false(gw_ph2_serves("http://127.0.0.1:8443"));
	assert_false(gw_ph2_serves("https://[::1:8443"));
}

/* gw_gateway_name joins "member/code" without printf; what it leaves is
 * what snprintf(out, cap, "%s/%s") left, cut short included (callers that
 * ignore its result use the text), at every capacity from 0 up, and its
 * result says whether the whole name fitted and both parts were given. */
static void a_gateway_name_is_what_snprintf_made(void **state)
{
	static const char *const parts[][2] = {
		{ "VN/GOV/BCA", "gw1" }, { "VN/GOV/BCA", "" }, { "", "gw1" },
		{ NULL, "gw1" },         { "VN/GOV/BCA", NULL }, { NULL, NULL },
	};
	(void)state;

	for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
		const char *m = parts[i][0], *c = parts[i][1];

		for (size_t cap = 0; cap <= 20; cap++) {
			char got[24], want[24];
			int n;

			memset(got, 'x', sizeof got);
			memset(want, 'x', sizeof want);
			n = snprintf(want, cap, "%s/%s", m ? m : "", c ? c : "");
			assert_int_equal(gw_gateway_name(m, c, got, cap),
					 (size_t)n >= cap || !m || !c ? NDX_EINVAL : NDX_OK);
			assert_memory_equal(got, want, sizeof got);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(which_addresses_it_serves),
		cmocka_unit_test(a_gateway_name_is_what_snprintf_made),
		cmocka_unit_test_setup_teardown(many_streams_on_one_connection, setup, teardown),
		cmocka_unit_test_setup_teardown(large_bodies_go_through_flow_control, setup, teardown),
		cmocka_unit_test_setup_teardown(over_the_cap_and_over_time, setup, teardown),
		cmocka_unit_test_setup_teardown(a_wrong_certificate_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(a_connection_lost_mid_stream_fails_the_stream, setup,
						teardown),
		cmocka_unit_test_setup_teardown(a_connection_the_gateway_closed_is_not_reused, setup,
						teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
