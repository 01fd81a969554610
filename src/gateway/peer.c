/* The consumer gateway's mutual-TLS client towards provider gateways
 * (docs/protocol.md "Gateway to gateway"): over HTTP/2 on nghttp2
 * (peer_h2.c) to a gateway named by its IP address with
 * http.peer_http2 on, over libcurl (here) otherwise and to a gateway that
 * offers no HTTP/2; the choice of gateways, the signing for each, and the
 * peer checks are the same for both. The client certificate and key
 * come from memory (loaded once at start), the trusted CA from the held
 * global configuration. The server must chain to that CA and, checked twice,
 * be a gateway of the service's member in the configuration that is neither
 * revoked by certificate nor by signing key: during the handshake (so that
 * nothing is sent to anyone else) and at the first header of every answer
 * (connections are reused, and the answering gateway's key is what verifies
 * the response signature). The member's gateways are tried in order; the
 * next one only when a connection could not be made, so that a request is
 * never executed twice. A request is signed for one gateway (Ndx-Gateway),
 * so that a copy replayed to a sibling gateway, whose replay cache has not
 * seen it, is refused: the caller's prepare() signs it anew for each
 * gateway tried. */
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xfer.h"
#include "gwloop.h"
#include "peer_h2.h"
#include "gwconfig.h"
#include "ndx/encode.h"
#include "ndx/err.h"
#include "ndx/httpd.h"

const struct ndx_conf_gateway *gw_peer_allowed(const struct gw_peer_call *call, const char *fp)
{
	const struct ndx_conf_gateway *gw = ndx_conf_gateway_by_cert(call->conf, fp);

	if (!gw)
		return NULL;
	if (strcmp(gw->member, call->member) != 0 || ndx_conf_is_revoked(call->conf, fp) ||
	    ndx_conf_is_revoked(call->conf, gw->sign_key_id))
		return NULL;
	return gw;
}

static const struct ndx_conf_gateway *gateway_allowed(const struct gw_peer_call *call,
						      X509 *cert)
{
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char fp[2 * NDX_SHA256_LEN + 1];

	if (!cert || X509_digest(cert, EVP_sha256(), md, &mdlen) != 1 || mdlen != NDX_SHA256_LEN)
		return NULL;
	ndx_hex_encode(md, mdlen, fp);
	return gw_peer_allowed(call, fp);
}

/* OpenSSL's verify callback has no user pointer: the call rides on the
 * connection's SSL_CTX, which libcurl makes for each new connection (the
 * only time a handshake, and so this check, happens) from the call that
 * opens it. */
static int verify_cb(int ok, X509_STORE_CTX *x)
{
	SSL *ssl;
	const struct gw_peer_call *call;

	if (!ok || X509_STORE_CTX_get_error_depth(x) != 0)
		return ok;
	ssl = X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
	call = ssl ? SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)) : NULL;
	return call && gateway_allowed(call, X509_STORE_CTX_get_current_cert(x)) ? 1 : 0;
}

static CURLcode ssl_ctx_cb(CURL *c, void *sslctx, void *ud)
{
	(void)c;
	SSL_CTX_set_app_data(sslctx, ud);
	SSL_CTX_set_verify(sslctx, SSL_VERIFY_PEER, verify_cb);
	return CURLE_OK;
}

/* At the first header of an answer: which gateway is this? */
static int on_headers(CURL *c, void *ud)
{
	struct gw_peer_call *call = ud;
	struct curl_tlssessioninfo *ti = NULL;

	call->gateway = NULL;
	if (curl_easy_getinfo(c, CURLINFO_TLS_SSL_PTR, &ti) != CURLE_OK || !ti ||
	    ti->backend != CURLSSLBACKEND_OPENSSL || !ti->internals)
		return 1;
	call->gateway = gateway_allowed(call, SSL_get0_peer_certificate(ti->internals));
	return call->gateway ? 0 : 1;
}

int gw_gateway_name(const char *member, const char *code, char *out, size_t cap)
{
	const char *m = member ? member : "", *c = code ? code : "";
	size_t ml = strlen(m), cl = strlen(c), at;

	/* Joined, not formatted (it is made several times an exchange), into
	 * what snprintf(out, cap, "%s/%s") would leave, cut short included:
	 * some callers use the name whatever the result. */
	if (cap > 0) {
		at = ml < cap - 1 ? ml : cap - 1;
		memcpy(out, m, at);
		if (at < cap - 1)
			out[at++] = '/';
		if (at < cap - 1) {
			size_t take = cl < cap - 1 - at ? cl : cap - 1 - at;

			memcpy(out + at, c, take);
			at += take;
		}
		out[at] = '\0';
	}
	return ml + 1 + cl >= cap || !member || !code ? NDX_EINVAL : NDX_OK;
}

const struct ndx_conf_gateway *gw_calling_gateway(const struct ndx_conf *conf,
						  const struct ndx_http_req *req,
						  char fp[2 * NDX_SHA256_LEN + 1])
{
	const struct ndx_conf_gateway *gw;

	fp[0] = '\0';
	if (ndx_http_client_cert(req, fp) != NDX_OK || !(gw = ndx_conf_gateway_by_cert(conf, fp)))
		return NULL;
	return ndx_conf_is_revoked(conf, fp) || ndx_conf_is_revoked(conf, gw->sign_key_id) ? NULL
											    : gw;
}

/* The longest URL sent to a provider gateway (as before: 8 KiB). */
#define GW_URL_MAX 8192

static void try_next(struct gw_peer_call *call);

static void end(struct gw_peer_call *call, enum gw_xfer_result res)
{
	call->done(call, res);
}

void gw_peer_sent(struct gw_peer_call *call, enum gw_xfer_result res)
{
	/* Only a connection that could not be made moves on: a request that
	 * may have reached a gateway is never sent twice. */
	if (res == GW_XFER_CONNECT) {
		call->last = res;
		try_next(call);
		return;
	}
	end(call, res);
}

static void transfer_done(struct gw_xfer *t, enum gw_xfer_result res)
{
	gw_peer_sent(t->ud, res);
}

/* call's answer emptied for a new attempt, on either transport. */
static void resp_start(struct gw_peer_call *call, int (*on_hdrs)(CURL *c, void *ud))
{
	struct gw_xfer_resp *r = call->r;

	gw_xfer_resp_free(r);
	r->status = 0;
	r->toobig = r->aborted = 0;
	r->cap = call->s->max_body;
	r->on_headers = on_hdrs;
	r->ud = call;
	r->errbuf[0] = '\0';
}

void gw_peer_send_curl(struct gw_peer_call *call)
{
	struct gw_xfer_resp *r = call->r;
	struct curl_blob cert = { call->cfg->tls_cert_pem, strlen(call->cfg->tls_cert_pem),
				  CURL_BLOB_NOCOPY };
	struct curl_blob key = { call->cfg->tls_key_pem, strlen(call->cfg->tls_key_pem),
				 CURL_BLOB_NOCOPY };
	/* The configuration (and so its CA) outlives the transfer: the caller
	 * holds a reference to it. */
	const char *ca = ndx_conf_ca_certificate(call->conf);
	struct curl_blob cab = { (void *)ca, strlen(ca), CURL_BLOB_NOCOPY };
	CURL *c;

	if (!(c = gw_loop_easy(call->loop))) {
		snprintf(r->errbuf, sizeof r->errbuf, "cannot initialise libcurl");
		end(call, GW_XFER_FAILED);
		return;
	}
	resp_start(call, on_headers);
	curl_easy_setopt(c, CURLOPT_URL, call->url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_SSLCERT_BLOB, &cert);
	curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
	curl_easy_setopt(c, CURLOPT_SSLKEY_BLOB, &key);
	curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
	curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &cab);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	/* The registry puts the address's host in the certificate; the
	 * fingerprint check is what really binds the peer. */
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(c, CURLOPT_SSL_CTX_FUNCTION, ssl_ctx_cb);
	curl_easy_setopt(c, CURLOPT_SSL_CTX_DATA, call);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, call->s->connect_timeout_ms);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, call->s->peer_timeout_ms);
	curl_easy_setopt(c, CURLOPT_USERAGENT, GW_PROG);
	/* HTTP/2 when the gateway offers it by ALPN, HTTP/1.1 when not; a call
	 * waits for a connection being opened to the same gateway rather than
	 * opening another, so that the calls of this exchange loop to one
	 * gateway are the streams of one connection (up to the streams the
	 * gateway allows at once; then curl opens a second). */
	if (call->cfg->peer_http2) {
		curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
		curl_easy_setopt(c, CURLOPT_PIPEWAIT, 1L);
	} else {
		curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	}
	gw_xfer_prepare(&call->xfer, c, call->method, call->body, call->body_len, call->headers,
			r);
	call->xfer.done = transfer_done;
	call->xfer.ud = call;
	if (gw_loop_transfer(call->loop, &call->xfer) != NDX_OK) {
		snprintf(r->errbuf, sizeof r->errbuf, "the gateway is stopping");
		end(call, GW_XFER_FAILED);
	}
}

void gw_peer_prepared(struct gw_peer_call *call, bool ok)
{
	struct gw_xfer_resp *r = call->r;

	if (!ok) {
		snprintf(r->errbuf, sizeof r->errbuf, "cannot sign the request");
		end(call, GW_XFER_LOCAL);
		return;
	}
	/* HTTP/2 on nghttp2 (peer_h2.h) to a gateway named by its address;
	 * libcurl to one named by a host name, and for HTTP/1.1. */
	if (call->cfg->peer_http2 && gw_ph2_serves(call->url)) {
		resp_start(call, NULL);
		gw_ph2_send(call->loop, call);
		return;
	}
	gw_peer_send_curl(call);
}

/* The next of the member's gateways (the one X-Road-Security-Server names,
 * when it names one), signed for by the caller's prepare hook. */
static void try_next(struct gw_peer_call *call)
{
	struct gw_xfer_resp *r = call->r;
	const struct ndx_conf_gateway *gw;
	size_t al, sl;

	while ((gw = ndx_conf_gateway_of(call->conf, call->member, call->next_index))) {
		call->next_index++;
		if (call->only_code && strcmp(gw->code, call->only_code) != 0)
			continue;
		al = strlen(gw->address);
		sl = strlen(call->url_suffix);
		free(call->url);
		if (al + sl >= GW_URL_MAX || !(call->url = malloc(al + sl + 1))) {
			call->url = NULL;
			snprintf(r->errbuf, sizeof r->errbuf,
				 al + sl >= GW_URL_MAX ? "the request URL is too long" : "out of memory");
			end(call, GW_XFER_FAILED);
			return;
		}
		memcpy(call->url, gw->address, al);
		memcpy(call->url + al, call->url_suffix, sl + 1);
		if (call->prepare(call, gw, call->ud) != 0) {
			snprintf(r->errbuf, sizeof r->errbuf, "cannot sign the request");
			end(call, GW_XFER_LOCAL);
		}
		return;
	}
	end(call, call->last);
}

void gw_peer_start(struct gw_peer_call *call, struct gw_xfer_resp *r)
{
	call->gateway = NULL;
	call->r = r;
	call->next_index = 0;
	call->last = GW_XFER_CONNECT;
	if (!ndx_conf_ca_certificate(call->conf)) {
		snprintf(r->errbuf, sizeof r->errbuf,
			 "the configuration names no CA certificate for gateway TLS");
		end(call, GW_XFER_FAILED);
		return;
	}
	snprintf(r->errbuf, sizeof r->errbuf, "the member %s has no gateway", call->member);
	try_next(call);
}
