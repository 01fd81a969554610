/* The connection test to peer gateways and its provider side
 * (gw_conntest.h, docs/gateway-console.md "Connection test"). The test is
 * its own small TLS client on OpenSSL rather than the exchange path's
 * libcurl: it must go on after what the exchange path refuses at once (a
 * certificate that is not the listed one, a revoked one) so as to report
 * each step, and it runs on the console's thread, never on an exchange
 * loop. */
#include "gw_conntest.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "gw_maintenance.h"
#include "ndx/encode.h"
#include "ndx/err.h"
#include "ndx/hash.h"
#include "ndx/msgsig.h"
#include "ndx/oidc_rp.h"
#include "ndx/timefmt.h"
#include "signer.h"
#include "xfer.h"

#define NONCE_LEN 43
#define ANSWER_MAX (16 * 1024)
#define IO_MS_MAX 10000

void gw_ping_hash(const char *caller, const char *answerer, const char *nonce,
		  uint8_t out[NDX_SHA256_LEN])
{
	char msg[3 * (NDX_ID_TEXT_MAX + 64)];
	int n = snprintf(msg, sizeof msg, "ndx-ping-v1\n%s\n%s\n%s", caller, answerer, nonce);

	ndx_sha256(msg, n < 0 ? 0 : (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1, out);
}

/* ---- the provider side: GET /t1/ping ------------------------------------------------ */

void gw_ping_serve(struct gw_ctx *g, const struct ndx_http_req *req, struct ndx_http_resp *resp)
{
	const char *nonce = ndx_http_query_arg(req, "nonce"), *why = NULL;
	char fp[2 * NDX_SHA256_LEN + 1], caller[NDX_ID_TEXT_MAX + 64], t[NDX_TIME_TEXT_LEN];
	const struct ndx_conf_gateway *peer = NULL;
	enum gw_reason r = GW_R_COUNT;
	uint8_t h[NDX_SHA256_LEN];
	struct gw_view v;
	char *sig = NULL;

	gw_state_acquire(g->state, &v);
	/* Each check names its refusal; the first that fails answers. */
	if (strcmp(req->method, "GET") != 0)
		r = GW_R_BAD_METHOD, why = "/t1/ping answers GET only";
	else if (!gw_view_live(&v, time(NULL)))
		r = GW_R_NO_CONFIGURATION, why = "the gateway holds no valid global configuration";
	else if (!(peer = gw_calling_gateway(v.c->conf, req, fp)))
		r = GW_R_UNAUTHENTICATED,
		why = "the client certificate is not an unrevoked gateway's of the configuration";
	else if (!nonce || !ndx_b64url_token_ok(nonce, strlen(nonce), NONCE_LEN))
		r = GW_R_METASERVICE_QUERY, why = "nonce: expected 43 base64url characters";
	else if (gw_gateway_name(peer->member, peer->code, caller, sizeof caller) != NDX_OK)
		r = GW_R_INTERNAL, why = "gateway name too long";
	if (r == GW_R_COUNT) {
		gw_ping_hash(caller, g->name, nonce, h);
		if (!(sig = ndx_msgsig_sign(g->cfg->sign_key, h)))
			r = GW_R_CANNOT_SIGN, why = "the test call's answer could not be signed";
	}
	gw_view_release(&v);
	if (r != GW_R_COUNT) {
		gw_refusal(resp, req, r, GW_SIDE_PROVIDER, NULL, "%s", why);
		return;
	}
	ndx_time_format(time(NULL), t);
	ndx_http_resp_json(resp, 200,
			   json_pack("{ss ss ss ss sb}", "gateway", g->name, "caller", caller,
				     "nonce", nonce, "time", t, "maintenance",
				     gw_maintenance_on(g->maint)));
	ndx_http_resp_header(resp, "Ndx-Response-Signature", sig);
	free(sig);
}

/* ---- the test ------------------------------------------------------------------------ */

/* host and port of an https:// address. */
static int split_address(const char *address, char *host, size_t cap, char *port, size_t pcap)
{
	const char *p, *colon, *end;

	if (strncmp(address, "https://", 8) != 0)
		return NDX_EINVAL;
	p = address + 8;
	end = p + strcspn(p, "/");
	colon = memrchr(p, ':', (size_t)(end - p));
	if (!colon)
		colon = end;
	if (colon == p || (size_t)(colon - p) >= cap)
		return NDX_EINVAL;
	memcpy(host, p, (size_t)(colon - p));
	host[colon - p] = '\0';
	snprintf(port, pcap, "%.*s", colon < end ? (int)(end - colon - 1) : 3,
		 colon < end ? colon + 1 : "443");
	return port[0] ? NDX_OK : NDX_EINVAL;
}

/* A TCP connection to host:port within ms; -1 with why. */
static int connect_tcp(const char *host, const char *port, long ms, const char **why)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL, *a;
	int fd = -1;

	if (getaddrinfo(host, port, &hints, &ai) != 0) {
		*why = "the peer's host name does not resolve";
		return -1;
	}
	*why = "the peer's gateway port does not accept connections";
	for (a = ai; a && fd < 0; a = a->ai_next) {
		struct pollfd pfd;
		int err = 0;
		socklen_t len = sizeof err;

		if ((fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
				 a->ai_protocol)) < 0)
			continue;
		if (connect(fd, a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS)
			goto fail;
		pfd = (struct pollfd){ .fd = fd, .events = POLLOUT };
		if (poll(&pfd, 1, (int)ms) != 1) {
			*why = "no connection within connect_timeout_ms";
			goto fail;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0)
			goto fail;
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
		continue;
fail:
		close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	return fd;
}

static void set_io_timeout(int fd, long ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

/* A TLS client context with this gateway's certificate and key, trusting
 * the configuration's CA certificates. NULL when one does not load. */
static SSL_CTX *client_ctx(const struct gw_config *cfg, const char *ca_pem)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	BIO *cb = BIO_new_mem_buf(cfg->tls_cert_pem, -1);
	BIO *kb = BIO_new_mem_buf(cfg->tls_key_pem, -1);
	BIO *ab = BIO_new_mem_buf(ca_pem, -1);
	X509 *cert = cb ? PEM_read_bio_X509(cb, NULL, NULL, NULL) : NULL, *ca;
	EVP_PKEY *key = kb ? PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL) : NULL;
	int cas = 0, ok;

	ok = ctx && cert && key && ab && SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) == 1 &&
	     SSL_CTX_use_certificate(ctx, cert) == 1 && SSL_CTX_use_PrivateKey(ctx, key) == 1;
	while (ok && (ca = PEM_read_bio_X509(ab, NULL, NULL, NULL))) {
		cas += X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), ca) == 1;
		X509_free(ca);
	}
	ERR_clear_error();
	X509_free(cert);
	EVP_PKEY_free(key);
	BIO_free(cb);
	BIO_free(kb);
	BIO_free(ab);
	if (!ok || cas == 0) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	return ctx;
}

static int64_t ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)(t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/* What the peer's certificate is: its fingerprint against the listed one,
 * revocations, subject and expiry. Sets *revoked and *matches. */
static json_t *certificate_json(const struct ndx_conf *conf, const struct ndx_conf_gateway *gw,
				X509 *cert, bool *revoked, bool *matches)
{
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	char fp[2 * NDX_SHA256_LEN + 1] = "", subject[256] = "", t[NDX_TIME_TEXT_LEN] = "";
	bool listed_revoked = ndx_conf_is_revoked(conf, gw->tls_cert_sha256);
	bool key_revoked = ndx_conf_is_revoked(conf, gw->sign_key_id);
	bool seen_revoked = false;
	struct tm tm;

	if (cert && X509_digest(cert, EVP_sha256(), md, &mdlen) == 1 && mdlen == NDX_SHA256_LEN) {
		ndx_hex_encode(md, mdlen, fp);
		seen_revoked = ndx_conf_is_revoked(conf, fp);
		X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof subject);
		if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) == 1)
			ndx_time_format(timegm(&tm), t);
	}
	*matches = fp[0] && strcasecmp(fp, gw->tls_cert_sha256) == 0;
	*revoked = listed_revoked || key_revoked || seen_revoked;
	return json_pack("{s:s? s:s s:b s:b s:b s:s? s:s?}", "fingerprint", fp[0] ? fp : NULL,
			 "expected", gw->tls_cert_sha256, "matches", *matches, "revoked",
			 listed_revoked || seen_revoked, "key_revoked", key_revoked, "subject",
			 subject[0] ? subject : NULL, "not_after", t[0] ? t : NULL);
}

/* The signed test call over ssl: GET /t1/ping, its signature verified with
 * the peer's key. Returns {"ok", "status", "error", "key_id"}. */
static json_t *signature_json(struct gw_ctx *g, SSL *ssl, const char *host,
			      const struct ndx_conf_gateway *gw)
{
	char nonce[64], req[512], peer_name[NDX_ID_TEXT_MAX + 64], err[256] = "";
	char *answer = malloc(ANSWER_MAX + 1), *hdr_end, *line, *sig = NULL;
	uint8_t h[NDX_SHA256_LEN];
	size_t have = 0;
	int n, status = 0;
	const char *why = NULL;

	if (!answer || ndx_oidc_random(nonce, sizeof nonce) != NDX_OK ||
	    gw_gateway_name(gw->member, gw->code, peer_name, sizeof peer_name) != NDX_OK) {
		free(answer);
		return json_pack("{sbsnsssn}", "ok", 0, "status", "error", "out of memory or randomness",
				 "key_id");
	}
	n = snprintf(req, sizeof req,
		     "GET /t1/ping?nonce=%s HTTP/1.1\r\nHost: %s\r\nAccept: application/json\r\n"
		     "Connection: close\r\n\r\n", nonce, host);
	if (SSL_write(ssl, req, n) != n)
		why = "the test call could not be sent";
	while (!why && have < ANSWER_MAX && (n = SSL_read(ssl, answer + have, (int)(ANSWER_MAX - have))) > 0)
		have += (size_t)n;
	answer[have] = '\0';
	if (!why && (!(hdr_end = strstr(answer, "\r\n\r\n")) ||
		     sscanf(answer, "HTTP/1.%*d %d", &status) != 1))
		why = "no HTTP answer to the test call";
	if (!why) {
		*hdr_end = '\0';
		for (line = strstr(answer, "\r\n"); line && !sig; line = strstr(line + 2, "\r\n"))
			if (strncasecmp(line + 2, "Ndx-Response-Signature:", 23) == 0)
				sig = line + 2 + 23 + strspn(line + 2 + 23, " \t");
		if (sig)
			sig[strcspn(sig, "\r\n")] = '\0';
		if (status != 200)
			why = "the peer refused the test call";
		else if (!sig)
			why = "the answer carries no signature";
	}
	if (!why) {
		gw_ping_hash(g->name, peer_name, nonce, h);
		if (gw_verify_hash(gw->sign_key, sig, h, err, sizeof err) != NDX_OK)
			why = err;
	}
	json_t *out = json_pack("{s:b s:i s:s? s:s}", "ok", why == NULL, "status", status, "error",
				why, "key_id", gw->sign_key_id);
	free(answer);
	return out;
}

static const char *tls_error(SSL *ssl)
{
	long v = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
	unsigned long e = ERR_peek_last_error();

	if (v != X509_V_OK)
		return X509_verify_cert_error_string(v);
	return e ? ERR_reason_error_string(e) ?: "the handshake failed"
		 : "the peer closed the connection during the handshake";
}

/* One peer: connect, handshake, certificate, signed call. */
static json_t *test_one(struct gw_ctx *g, SSL_CTX *ctx, const struct ndx_conf *conf,
			const struct ndx_conf_gateway *gw, long connect_ms, long io_ms)
{
	char host[256], port[16], name[NDX_ID_TEXT_MAX + 64];
	const char *why = NULL, *result;
	json_t *tls, *cert = NULL, *sig = NULL;
	bool revoked = false, matches = false, shook = false;
	struct timespec t0;
	SSL *ssl = NULL;
	int fd = -1;

	gw_gateway_name(gw->member, gw->code, name, sizeof name);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ERR_clear_error();
	if (split_address(gw->address, host, sizeof host, port, sizeof port) != NDX_OK)
		why = "the configuration's address is not https://host:port";
	else if ((fd = connect_tcp(host, port, connect_ms, &why)) >= 0) {
		set_io_timeout(fd, io_ms);
		if (!(ssl = SSL_new(ctx)) || SSL_set_fd(ssl, fd) != 1)
			why = "out of memory";
		else {
			if (inet_pton(AF_INET, host, &(struct in_addr){ 0 }) != 1)
				SSL_set_tlsext_host_name(ssl, host);
			shook = SSL_connect(ssl) == 1;
			why = shook ? NULL : tls_error(ssl);
		}
	}
	tls = json_pack("{s:b s:I s:s? s:s?}", "ok", shook, "ms", (json_int_t)ms_since(&t0), "protocol",
			shook ? SSL_get_version(ssl) : NULL, "error", why);
	cert = certificate_json(conf, gw, ssl ? SSL_get0_peer_certificate(ssl) : NULL, &revoked,
				&matches);
	if (shook)
		sig = signature_json(g, ssl, host, gw);
	result = fd < 0			? "unreachable"
		 : !shook		? (revoked ? "revoked" : "tls_failed")
		 : revoked		? "revoked"
		 : !matches		? "certificate_mismatch"
		 : !json_is_true(json_object_get(sig, "ok")) ? "bad_signature"
							      : "good";
	if (ssl) {
		SSL_shutdown(ssl);
		SSL_free(ssl);
	}
	if (fd >= 0)
		close(fd);
	return json_pack("{s:s s:s s:s s:o s:o* s:o*}", "gateway", name, "address", gw->address,
			 "result", result, "tls", tls, "certificate", cert, "signature", sig);
}

json_t *gw_conntest_run(struct gw_ctx *g, const char *only, const char **why)
{
	const struct ndx_conf_member *m;
	const struct ndx_conf_gateway *gw;
	const struct ndx_conf *conf;
	char name[NDX_ID_TEXT_MAX + 64], t[NDX_TIME_TEXT_LEN];
	long connect_ms, io_ms;
	struct gw_view v;
	SSL_CTX *ctx = NULL;
	json_t *peers = NULL, *out = NULL;

	gw_state_acquire(g->state, &v);
	if (!gw_view_live(&v, time(NULL))) {
		*why = "the gateway holds no valid global configuration";
		goto done;
	}
	conf = v.c->conf;
	connect_ms = v.s->connect_timeout_ms;
	io_ms = v.s->peer_timeout_ms < IO_MS_MAX ? v.s->peer_timeout_ms : IO_MS_MAX;
	if (!ndx_conf_ca_certificate(conf) ||
	    !(ctx = client_ctx(g->cfg, ndx_conf_ca_certificate(conf)))) {
		*why = "the gateway's TLS certificate or the configuration's CA does not load";
		goto done;
	}
	*why = "out of memory";
	if (!(peers = json_array()))
		goto done;
	for (size_t i = 0; (m = ndx_conf_member_at(conf, i)); i++)
		for (size_t j = 0; (gw = ndx_conf_gateway_of(conf, m->id, j)); j++) {
			gw_gateway_name(gw->member, gw->code, name, sizeof name);
			if (strcmp(name, g->name) == 0 || (only && strcmp(only, name) != 0))
				continue;
			json_array_append_new(peers, test_one(g, ctx, conf, gw, connect_ms, io_ms));
		}
	ndx_time_format(time(NULL), t);
	out = json_pack("{s:I s:s s:O}", "conf_version", (json_int_t)ndx_conf_version(conf),
			"tested_at", t, "peers", peers);
done:
	json_decref(peers);
	SSL_CTX_free(ctx);
	gw_view_release(&v);
	return out;
}
