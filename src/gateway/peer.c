/* The consumer gateway's mutual-TLS client towards provider gateways
 * (docs/protocol.md "Gateway to gateway"). The client certificate and key
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
#include "gwconfig.h"
#include "ndx/encode.h"
#include "ndx/err.h"

/* The call in progress on this thread, for the OpenSSL verify callback
 * (which has no user pointer of ours). */
static _Thread_local const struct gw_peer_call *tl_call;

static const struct ndx_conf_gateway *gateway_allowed(const struct gw_peer_call *call,
						      X509 *cert)
{
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char fp[2 * NDX_SHA256_LEN + 1];
	const struct ndx_conf_gateway *gw;

	if (!cert || X509_digest(cert, EVP_sha256(), md, &mdlen) != 1 || mdlen != NDX_SHA256_LEN)
		return NULL;
	ndx_hex_encode(md, mdlen, fp);
	gw = ndx_conf_gateway_by_cert(call->conf, fp);
	if (!gw)
		return NULL;
	if (strcmp(gw->member, call->member) != 0 || ndx_conf_is_revoked(call->conf, fp) ||
	    ndx_conf_is_revoked(call->conf, gw->sign_key_id))
		return NULL;
	return gw;
}

static int verify_cb(int ok, X509_STORE_CTX *x)
{
	if (!ok || X509_STORE_CTX_get_error_depth(x) != 0)
		return ok;
	return tl_call && gateway_allowed(tl_call, X509_STORE_CTX_get_current_cert(x)) ? 1 : 0;
}

static CURLcode ssl_ctx_cb(CURL *c, void *sslctx, void *ud)
{
	(void)c;
	(void)ud;
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
	int n = snprintf(out, cap, "%s/%s", member ? member : "", code ? code : "");

	return n < 0 || (size_t)n >= cap || !member || !code ? NDX_EINVAL : NDX_OK;
}

enum gw_xfer_result gw_peer_send(struct gw_peer_call *call, struct gw_xfer_resp *r)
{
	const struct ndx_conf_gateway *gw;
	const char *ca = ndx_conf_ca_certificate(call->conf);
	enum gw_xfer_result res = GW_XFER_CONNECT;
	struct curl_blob cert = { call->cfg->tls_cert_pem, strlen(call->cfg->tls_cert_pem),
				  CURL_BLOB_NOCOPY };
	struct curl_blob key = { call->cfg->tls_key_pem, strlen(call->cfg->tls_key_pem),
				 CURL_BLOB_NOCOPY };
	struct curl_blob cab;
	char url[8192];
	size_t i;

	call->gateway = NULL;
	if (!ca) {
		snprintf(r->errbuf, sizeof r->errbuf,
			 "the configuration names no CA certificate for gateway TLS");
		return GW_XFER_FAILED;
	}
	/* The configuration (and so ca) outlives the transfer: the caller
	 * holds a reference to it. */
	cab = (struct curl_blob){ (void *)ca, strlen(ca), CURL_BLOB_NOCOPY };
	snprintf(r->errbuf, sizeof r->errbuf, "the member %s has no gateway", call->member);
	for (i = 0; (gw = ndx_conf_gateway_of(call->conf, call->member, i)); i++) {
		CURL *c;
		int n;

		if (call->only_code && strcmp(gw->code, call->only_code) != 0)
			continue;
		n = snprintf(url, sizeof url, "%s%s", gw->address, call->url_suffix);
		if (n < 0 || (size_t)n >= sizeof url) {
			snprintf(r->errbuf, sizeof r->errbuf, "the request URL is too long");
			return GW_XFER_FAILED;
		}
		if (call->prepare && call->prepare(call, gw, call->ud) != 0) {
			snprintf(r->errbuf, sizeof r->errbuf, "cannot sign the request");
			return GW_XFER_LOCAL;
		}
		c = gw_xfer_handle(GW_HANDLE_PEER);
		if (!c) {
			snprintf(r->errbuf, sizeof r->errbuf, "cannot initialise libcurl");
			return GW_XFER_FAILED;
		}
		gw_xfer_resp_free(r);
		r->status = 0;
		r->toobig = r->aborted = 0;
		r->cap = call->s->max_body;
		r->on_headers = on_headers;
		r->ud = call;
		curl_easy_setopt(c, CURLOPT_URL, url);
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
		curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, call->s->connect_timeout_ms);
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, call->s->peer_timeout_ms);
		curl_easy_setopt(c, CURLOPT_USERAGENT, GW_PROG);
		tl_call = call;
		res = gw_xfer_perform(c, call->method, call->body, call->body_len, call->headers, r);
		tl_call = NULL;
		if (res != GW_XFER_CONNECT)
			return res;
	}
	return res;
}
