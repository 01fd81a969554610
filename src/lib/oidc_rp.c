/* The e-ID relying party (ndx/oidc_rp.h), written against OpenID Connect Core 1.0,
 * Discovery 1.0, RFC 7636 (PKCE) and RFC 8037 (EdDSA/OKP keys). The
 * provider's metadata and keys are cached under a mutex; an ID token whose
 * kid is unknown triggers one JWKS refetch (at most every 10 s, so a stream
 * of forged kids cannot make the relying party hammer the e-ID). The verification
 * key is always one from the JWKS fetched from the configured issuer's
 * discovery document, never one named by the token. */
#include "ndx/oidc_rp.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ndx/fetch.h"
#include "ndx/encode.h"
#include "ndx/err.h"
#include "ndx/hash.h"
#include "ndx/jws.h"
#include "ndx/key.h"
#include "ndx/pin.h"

#define MAX_KEYS 16
#define REFETCH_MIN_S 10
#define CLOCK_SKEW_S 60
#define IAT_MAX_AGE_S 600

struct jwk {
	char kid[128];
	struct ndx_key *key;
};

struct ndx_oidc {
	char *prog, *issuer_cfg, *client_id, *client_secret, *redirect_uri, *post_logout_uri;
	pthread_mutex_t mu;
	int discovered;
	char *issuer, *auth_ep, *token_ep, *jwks_uri, *end_session_ep;
	struct jwk keys[MAX_KEYS];
	size_t nkeys;
	time_t keys_at;
};

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

int ndx_oidc_new(const struct ndx_oidc_config *cfg, struct ndx_oidc **out)
{
	struct ndx_oidc *o = calloc(1, sizeof *o);

	*out = NULL;
	if (!o)
		return NDX_ENOMEM;
	pthread_mutex_init(&o->mu, NULL);
	o->prog = dup_or_null(cfg->prog ? cfg->prog : "ndx");
	o->issuer_cfg = dup_or_null(cfg->issuer);
	o->client_id = dup_or_null(cfg->client_id);
	o->client_secret = dup_or_null(cfg->client_secret);
	o->redirect_uri = dup_or_null(cfg->redirect_uri);
	o->post_logout_uri = dup_or_null(cfg->post_logout_uri);
	if (!o->prog || !o->issuer_cfg || !o->client_id || !o->client_secret ||
	    !o->redirect_uri || !o->post_logout_uri) {
		ndx_oidc_free(o);
		return NDX_ENOMEM;
	}
	*out = o;
	return NDX_OK;
}

static void drop_keys(struct jwk *keys, size_t n)
{
	for (size_t i = 0; i < n; i++)
		ndx_key_free(keys[i].key);
}

void ndx_oidc_free(struct ndx_oidc *o)
{
	if (!o)
		return;
	drop_keys(o->keys, o->nkeys);
	free(o->issuer);
	free(o->auth_ep);
	free(o->token_ep);
	free(o->jwks_uri);
	free(o->end_session_ep);
	free(o->prog);
	free(o->issuer_cfg);
	free(o->client_id);
	if (o->client_secret)
		OPENSSL_cleanse(o->client_secret, strlen(o->client_secret));
	free(o->client_secret);
	free(o->redirect_uri);
	free(o->post_logout_uri);
	pthread_mutex_destroy(&o->mu);
	free(o);
}

/* GETs url as a JSON object into *out. */
static int get_json(const char *url, json_t **out)
{
	static const char *const hdrs[] = { "Accept: application/json", NULL };
	struct ndx_fetch_req r = { .method = "GET", .url = url, .headers = hdrs, .timeout_ms = 5000 };
	struct ndx_fetch_resp resp;
	int rc;

	*out = NULL;
	if ((rc = ndx_fetch(&r, &resp)))
		return rc;
	if (resp.status == 200 && resp.body)
		*out = json_loadb(resp.body, resp.len, JSON_REJECT_DUPLICATES, NULL);
	ndx_fetch_resp_free(&resp);
	if (!json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		return NDX_EINVAL;
	}
	return NDX_OK;
}

static int is_http_url(const char *s)
{
	return s && (strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0) &&
	       !strpbrk(s, " \r\n#");
}

/* The issuer without trailing slashes equals the configured one. */
static int same_issuer(const char *a, const char *configured)
{
	size_t n = strlen(a);

	while (n > 8 && a[n - 1] == '/')
		n--;
	return n == strlen(configured) && strncmp(a, configured, n) == 0;
}

static int load_jwks(const char *uri, struct jwk *keys, size_t *n)
{
	json_t *doc, *arr, *k;
	size_t i;
	int rc;

	*n = 0;
	if ((rc = get_json(uri, &doc)))
		return rc;
	arr = json_object_get(doc, "keys");
	json_array_foreach(arr, i, k) {
		const char *kty = json_string_value(json_object_get(k, "kty"));
		const char *crv = json_string_value(json_object_get(k, "crv"));
		const char *x = json_string_value(json_object_get(k, "x"));
		const char *kid = json_string_value(json_object_get(k, "kid"));
		const char *use = json_string_value(json_object_get(k, "use"));
		uint8_t *raw = NULL;
		size_t rawlen = 0;

		if (*n == MAX_KEYS || !kty || !crv || !x || strcmp(kty, "OKP") != 0 ||
		    strcmp(crv, "Ed25519") != 0 || (use && strcmp(use, "sig") != 0))
			continue;
		if (ndx_b64_decode(x, strlen(x), 1, &raw, &rawlen) != NDX_OK)
			continue;
		if (rawlen == NDX_ED25519_PUBLIC_LEN &&
		    ndx_key_from_public_raw(raw, &keys[*n].key) == NDX_OK) {
			snprintf(keys[*n].kid, sizeof keys[*n].kid, "%s", kid ? kid : "");
			(*n)++;
		}
		free(raw);
	}
	json_decref(doc);
	return *n ? NDX_OK : NDX_EINVAL;
}

static int refresh_locked(struct ndx_oidc *o)
{
	char url[2048];
	const char *iss, *a, *t, *j, *e;
	struct jwk keys[MAX_KEYS];
	size_t n = 0;
	json_t *doc;
	int rc;

	snprintf(url, sizeof url, "%s/.well-known/openid-configuration", o->issuer_cfg);
	if ((rc = get_json(url, &doc)))
		return rc;
	iss = json_string_value(json_object_get(doc, "issuer"));
	a = json_string_value(json_object_get(doc, "authorization_endpoint"));
	t = json_string_value(json_object_get(doc, "token_endpoint"));
	j = json_string_value(json_object_get(doc, "jwks_uri"));
	e = json_string_value(json_object_get(doc, "end_session_endpoint"));
	if (!iss || !same_issuer(iss, o->issuer_cfg) || !is_http_url(a) ||
	    !is_http_url(t) || !is_http_url(j) || (e && !is_http_url(e))) {
		fprintf(stderr, "%s: e-ID discovery document of %s is not usable\n",
			o->prog, o->issuer_cfg);
		json_decref(doc);
		return NDX_EINVAL;
	}
	if ((rc = load_jwks(j, keys, &n))) {
		fprintf(stderr, "%s: e-ID JWKS %s: %s\n", o->prog, j, ndx_strerror(rc));
		json_decref(doc);
		return rc;
	}
	free(o->issuer);
	free(o->auth_ep);
	free(o->token_ep);
	free(o->jwks_uri);
	free(o->end_session_ep);
	o->issuer = strdup(iss);
	o->auth_ep = strdup(a);
	o->token_ep = strdup(t);
	o->jwks_uri = strdup(j);
	o->end_session_ep = e ? strdup(e) : NULL;
	json_decref(doc);
	drop_keys(o->keys, o->nkeys);
	memcpy(o->keys, keys, n * sizeof *keys);
	o->nkeys = n;
	o->keys_at = time(NULL);
	o->discovered = o->issuer && o->auth_ep && o->token_ep && o->jwks_uri &&
			(!e || o->end_session_ep);
	return o->discovered ? NDX_OK : NDX_ENOMEM;
}

int ndx_oidc_refresh(struct ndx_oidc *o, int force)
{
	int rc = NDX_OK;

	pthread_mutex_lock(&o->mu);
	if (force || !o->discovered)
		rc = refresh_locked(o);
	pthread_mutex_unlock(&o->mu);
	return rc;
}

int ndx_oidc_random(char *out, size_t cap)
{
	uint8_t b[32];
	char *s;

	if (RAND_bytes(b, sizeof b) != 1)
		return NDX_ECRYPTO;
	s = ndx_b64_encode(b, sizeof b, 1);
	OPENSSL_cleanse(b, sizeof b);
	if (!s)
		return NDX_ENOMEM;
	snprintf(out, cap, "%s", s);
	OPENSSL_cleanse(s, strlen(s));
	free(s);
	return NDX_OK;
}

void ndx_oidc_challenge(const char *verifier, char *out, size_t cap)
{
	uint8_t h[NDX_SHA256_LEN];
	char *s;

	ndx_sha256(verifier, strlen(verifier), h);
	s = ndx_b64_encode(h, sizeof h, 1);
	snprintf(out, cap, "%s", s ? s : "");
	free(s);
}

/* Appends "&name=escaped(value)" (no '&' when first) to buf. */
static int add_param(char *buf, size_t cap, int first, const char *name, const char *value)
{
	char *e = ndx_fetch_escape(value);
	size_t len = strlen(buf);
	int n;

	if (!e)
		return NDX_ENOMEM;
	n = snprintf(buf + len, cap - len, "%s%s=%s", first ? "" : "&", name, e);
	free(e);
	return n < 0 || (size_t)n >= cap - len ? NDX_ETOOBIG : NDX_OK;
}

int ndx_oidc_auth_url(struct ndx_oidc *o, const char *state, const char *nonce, const char *challenge,
		  const char *ui_locales, char **out)
{
	char buf[4096], redirect[1024];
	int rc;

	*out = NULL;
	snprintf(redirect, sizeof redirect, "%s", o->redirect_uri);
	pthread_mutex_lock(&o->mu);
	rc = o->discovered ? NDX_OK : refresh_locked(o);
	if (rc == NDX_OK) {
		snprintf(buf, sizeof buf, "%s%c", o->auth_ep, strchr(o->auth_ep, '?') ? '&' : '?');
		if (!((rc = add_param(buf, sizeof buf, 1, "response_type", "code")) ||
		      (rc = add_param(buf, sizeof buf, 0, "client_id", o->client_id)) ||
		      (rc = add_param(buf, sizeof buf, 0, "redirect_uri", redirect)) ||
		      (rc = add_param(buf, sizeof buf, 0, "scope", "openid profile")) ||
		      (rc = add_param(buf, sizeof buf, 0, "state", state)) ||
		      (rc = add_param(buf, sizeof buf, 0, "nonce", nonce)) ||
		      (rc = add_param(buf, sizeof buf, 0, "code_challenge", challenge)) ||
		      (rc = add_param(buf, sizeof buf, 0, "code_challenge_method", "S256")) ||
		      (ui_locales && (rc = add_param(buf, sizeof buf, 0, "ui_locales", ui_locales)))))
			rc = (*out = strdup(buf)) ? NDX_OK : NDX_ENOMEM;
	}
	pthread_mutex_unlock(&o->mu);
	return rc;
}

char *ndx_oidc_logout_url(struct ndx_oidc *o, const char *hint)
{
	char buf[NDX_JWS_MAX_BYTES + 4096], redirect[1024];
	char *out = NULL;

	snprintf(redirect, sizeof redirect, "%s", o->post_logout_uri);
	pthread_mutex_lock(&o->mu);
	if (!o->discovered)
		refresh_locked(o);
	if (o->end_session_ep) {
		snprintf(buf, sizeof buf, "%s%c", o->end_session_ep,
			 strchr(o->end_session_ep, '?') ? '&' : '?');
		if (add_param(buf, sizeof buf, 1, "post_logout_redirect_uri", redirect) == NDX_OK &&
		    add_param(buf, sizeof buf, 0, "client_id", o->client_id) == NDX_OK &&
		    (!hint || add_param(buf, sizeof buf, 0, "id_token_hint", hint) == NDX_OK))
			out = strdup(buf);
	}
	pthread_mutex_unlock(&o->mu);
	return out;
}

void ndx_oidc_identity_clear(struct ndx_oidc_identity *id)
{
	free(id->id_token);
	memset(id, 0, sizeof *id);
}

/* Finds the key for kid (any key when the token names none and there is
 * exactly one) and verifies under the lock, since a refresh may swap keys. */
static int verify_locked(struct ndx_oidc *o, const struct ndx_jws *jws, int *found)
{
	const char *kid = ndx_jws_kid(jws);

	*found = 0;
	for (size_t i = 0; i < o->nkeys; i++) {
		if (kid ? strcmp(kid, o->keys[i].kid) == 0 : o->nkeys == 1) {
			*found = 1;
			return ndx_jws_verify(jws, o->keys[i].key);
		}
	}
	return NDX_EBADSIG;
}

static int verify_signature(struct ndx_oidc *o, const struct ndx_jws *jws)
{
	int rc, found;

	pthread_mutex_lock(&o->mu);
	rc = verify_locked(o, jws, &found);
	if (!found && time(NULL) - o->keys_at >= REFETCH_MIN_S && refresh_locked(o) == NDX_OK)
		rc = verify_locked(o, jws, &found);
	pthread_mutex_unlock(&o->mu);
	return rc;
}

static int aud_ok(const json_t *claims, const char *client_id)
{
	const json_t *aud = json_object_get(claims, "aud"), *v;
	const char *azp = json_string_value(json_object_get(claims, "azp"));
	int found = 0;
	size_t i;

	if (json_is_string(aud))
		found = strcmp(json_string_value(aud), client_id) == 0;
	else
		json_array_foreach(aud, i, v)
			found |= json_is_string(v) && strcmp(json_string_value(v), client_id) == 0;
	if (!found)
		return 0;
	/* Core 3.1.3.7: with several audiences the token must have been
	 * issued to us. */
	if (json_is_array(aud) && json_array_size(aud) > 1 && (!azp || strcmp(azp, client_id)))
		return 0;
	return !azp || strcmp(azp, client_id) == 0;
}

static int check_claims(struct ndx_oidc *o, const json_t *c, const char *nonce, time_t now,
			struct ndx_oidc_identity *id, const char **why)
{
	const json_t *exp = json_object_get(c, "exp"), *iat = json_object_get(c, "iat");
	const char *iss = json_string_value(json_object_get(c, "iss"));
	const char *tn = json_string_value(json_object_get(c, "nonce"));
	const char *sub = json_string_value(json_object_get(c, "sub"));
	const char *name = json_string_value(json_object_get(c, "name"));
	int iss_ok;

	pthread_mutex_lock(&o->mu);
	iss_ok = iss && o->issuer && strcmp(iss, o->issuer) == 0;
	pthread_mutex_unlock(&o->mu);
	if (!iss_ok)
		return *why = "iss is not the e-ID's issuer", NDX_EINVAL;
	if (!aud_ok(c, o->client_id))
		return *why = "aud is not this portal", NDX_EINVAL;
	if (!json_is_integer(exp) || json_integer_value(exp) + CLOCK_SKEW_S < (json_int_t)now)
		return *why = "the ID token has expired", NDX_EEXPIRED;
	if (!json_is_integer(iat) || json_integer_value(iat) > (json_int_t)now + CLOCK_SKEW_S ||
	    json_integer_value(iat) < (json_int_t)now - IAT_MAX_AGE_S)
		return *why = "iat is not recent", NDX_EINVAL;
	if (!tn || strlen(tn) != strlen(nonce) || CRYPTO_memcmp(tn, nonce, strlen(nonce)) != 0)
		return *why = "nonce does not match", NDX_EINVAL;
	/* The citizen is named by the personal identification number: the
	 * subject itself, or a "pin" claim beside an opaque subject. */
	if (!sub || ndx_pin_parse(sub, 0, NULL, NULL) != NDX_OK)
		sub = json_string_value(json_object_get(c, "pin"));
	if (!sub || ndx_pin_parse(sub, 0, NULL, NULL) != NDX_OK)
		return *why = "the subject is not a personal identification number", NDX_EINVAL;
	snprintf(id->subject, sizeof id->subject, "%s", sub);
	snprintf(id->name, sizeof id->name, "%s", name ? name : "");
	return NDX_OK;
}

static int token_request(struct ndx_oidc *o, const char *code, const char *verifier,
			 json_t **out, const char **why)
{
	char body[4096] = "", redirect[1024], auth[1024], *cred = NULL, *eid = NULL,
	     *esec = NULL, *b64 = NULL, token_ep[2048];
	const char *hdrs[4] = { "Content-Type: application/x-www-form-urlencoded",
				"Accept: application/json", auth, NULL };
	struct ndx_fetch_req r = { .method = "POST", .headers = hdrs, .timeout_ms = 10000 };
	struct ndx_fetch_resp resp = { 0 };
	size_t n;
	int rc;

	*out = NULL;
	pthread_mutex_lock(&o->mu);
	rc = o->discovered ? NDX_OK : refresh_locked(o);
	if (rc == NDX_OK)
		snprintf(token_ep, sizeof token_ep, "%s", o->token_ep);
	pthread_mutex_unlock(&o->mu);
	if (rc)
		return *why = "the e-ID cannot be reached", NDX_ENET;
	snprintf(redirect, sizeof redirect, "%s", o->redirect_uri);
	if ((rc = add_param(body, sizeof body, 1, "grant_type", "authorization_code")) ||
	    (rc = add_param(body, sizeof body, 0, "code", code)) ||
	    (rc = add_param(body, sizeof body, 0, "redirect_uri", redirect)) ||
	    (rc = add_param(body, sizeof body, 0, "code_verifier", verifier)))
		return *why = "the code is too long", rc;
	/* RFC 6749 2.3.1: id and secret are form-encoded before Basic. */
	eid = ndx_fetch_escape(o->client_id);
	esec = ndx_fetch_escape(o->client_secret);
	rc = NDX_ENOMEM;
	if (!eid || !esec)
		goto out;
	n = strlen(eid) + strlen(esec) + 2;
	if (!(cred = malloc(n)))
		goto out;
	snprintf(cred, n, "%s:%s", eid, esec);
	if (!(b64 = ndx_b64_encode((const uint8_t *)cred, strlen(cred), 0)))
		goto out;
	if ((size_t)snprintf(auth, sizeof auth, "Authorization: Basic %s", b64) >= sizeof auth) {
		rc = NDX_ETOOBIG;
		goto out;
	}
	r.url = token_ep;
	r.body = body;
	r.body_len = strlen(body);
	if ((rc = ndx_fetch(&r, &resp))) {
		*why = "the token endpoint cannot be reached";
		goto out;
	}
	if (resp.status != 200 || !resp.body) {
		*why = "the token endpoint refused the code";
		rc = NDX_EPERM;
		goto out;
	}
	*out = json_loadb(resp.body, resp.len, JSON_REJECT_DUPLICATES, NULL);
	rc = json_is_object(*out) ? NDX_OK : NDX_EINVAL;
	if (rc) {
		json_decref(*out);
		*out = NULL;
		*why = "the token response is not JSON";
	}
out:
	ndx_fetch_resp_free(&resp);
	if (cred)
		OPENSSL_cleanse(cred, strlen(cred));
	if (esec)
		OPENSSL_cleanse(esec, strlen(esec));
	if (b64)
		OPENSSL_cleanse(b64, strlen(b64));
	OPENSSL_cleanse(auth, sizeof auth);
	free(cred);
	free(eid);
	free(esec);
	free(b64);
	return rc;
}

int ndx_oidc_redeem(struct ndx_oidc *o, const char *code, const char *verifier, const char *nonce,
		time_t now, struct ndx_oidc_identity *id, const char **why)
{
	struct ndx_jws *jws = NULL;
	const uint8_t *payload;
	json_t *tok = NULL, *claims = NULL;
	const char *idt;
	size_t plen;
	int rc;

	memset(id, 0, sizeof *id);
	*why = "";
	if ((rc = token_request(o, code, verifier, &tok, why)))
		return rc;
	idt = json_string_value(json_object_get(tok, "id_token"));
	if (!idt) {
		*why = "the token response has no id_token";
		rc = NDX_EINVAL;
		goto out;
	}
	if ((rc = ndx_jws_parse(idt, strlen(idt), &jws, NULL, 0))) {
		*why = "the ID token is not an EdDSA JWS";
		goto out;
	}
	if ((rc = verify_signature(o, jws))) {
		*why = "the ID token's signature does not verify";
		goto out;
	}
	payload = ndx_jws_payload(jws, &plen);
	claims = json_loadb((const char *)payload, plen, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(claims)) {
		*why = "the ID token's claims are not a JSON object";
		rc = NDX_EINVAL;
		goto out;
	}
	if ((rc = check_claims(o, claims, nonce, now, id, why)))
		goto out;
	if (!(id->id_token = strdup(idt)))
		rc = NDX_ENOMEM;
out:
	if (rc != NDX_OK)
		ndx_oidc_identity_clear(id);
	json_decref(claims);
	json_decref(tok);
	ndx_jws_free(jws);
	return rc;
}
