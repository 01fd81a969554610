/* ndx-id's HTTP face: the OpenID Connect provider endpoints (discovery,
 * JWKS, authorize, the sign-in form, token, userinfo, logout) and the
 * static assets. Overview: docs/id.md. */
#ifndef NDX_ID_OIDC_H
#define NDX_ID_OIDC_H

#include <jansson.h>
#include <time.h>

#include "ndx/httpd.h"
#include "ndx/key.h"
#include "ndx/password.h"
#include "rsa_sign.h"
#include "store.h"

#include "signin_throttle.h"

#define OIDC_ISSUER_MAX 512

struct oidc_config {
	/* Set by the caller; borrowed for the server's lifetime. */
	struct idstore *st;
	const struct ndx_key *key;     /* Ed25519: EdDSA ID tokens (the default) */
	const struct idrsa_key *rsa;   /* RSA: RS256 ID tokens for clients that ask */
	const char *assets_dir;   /* NULL: pages are served unstyled */
	time_t code_ttl;          /* seconds an authorization code lives */
	time_t id_token_ttl;      /* seconds an ID token lives (its exp - iat) */
	struct signin_proxies proxies; /* --trusted-proxy: whose X-Forwarded-For names the client */
	/* Set by oidc_init. */
	char issuer[OIDC_ISSUER_MAX]; /* without a trailing '/' */
	const char *prefix;           /* the issuer's path ("" or "/id"), inside issuer */
	int secure_cookie;            /* https issuer: cookies get Secure */
	char dummy_hash[NDX_PASSWORD_HASH_MAX]; /* "" when there are no accounts */
	json_t *discovery;
	json_t *jwks;
};

/* Checks issuer (an http or https URL without query or fragment) and
 * prepares cfg. Returns NDX_OK, NDX_EINVAL with *why set, NDX_ENOMEM.
 * Release with oidc_cleanup. */
int oidc_init(struct oidc_config *cfg, const char *issuer, const char **why);
void oidc_cleanup(struct oidc_config *cfg);

/* The ndx_http_handler; ctx is a struct oidc_config. */
void oidc_handle(void *ctx, const struct ndx_http_req *req, struct ndx_http_resp *resp);

#endif
