/* An OpenID Connect relying party of the national e-ID (ndx-id), shared by
 * the portal and the registry's console: discovery, the authorization request with PKCE (S256), the
 * code redeemed at the token endpoint with client_secret_basic, and the ID
 * token verified (EdDSA against the JWKS key, iss, aud, exp, iat, nonce).
 * Overview: docs/portal.md "Citizen sign-in", docs/console.md "Sign-in". */
#ifndef NDX_OIDC_RP_H
#define NDX_OIDC_RP_H

#include <time.h>

struct ndx_oidc;

/* Who the relying party is: every string is copied by ndx_oidc_new. */
struct ndx_oidc_config {
	const char *prog;            /* names the daemon in its log lines */
	const char *issuer;          /* the e-ID's issuer, without a trailing '/' */
	const char *client_id, *client_secret;
	const char *redirect_uri;    /* where the e-ID sends the browser back */
	const char *post_logout_uri; /* where it sends it after the end of the session */
};

/* A new relying party for cfg (copied); nothing is fetched yet.
 * NDX_ENOMEM. */
int ndx_oidc_new(const struct ndx_oidc_config *cfg, struct ndx_oidc **out);
/* Accepts NULL. */
void ndx_oidc_free(struct ndx_oidc *o);

/* Fetches the discovery document and the JWKS (again, when force is set or
 * they were never fetched). Thread-safe. NDX_ENET (unreachable),
 * NDX_EINVAL (a document that is not what the standard says, or an issuer
 * other than the configured one). */
int ndx_oidc_refresh(struct ndx_oidc *o, int force);

/* The authorization URL for state, nonce and the PKCE code challenge
 * (malloc'd into *out), asking for the page's language with ui_locales
 * ("vi" or "en"; NULL asks for none). Discovers first when needed. */
int ndx_oidc_auth_url(struct ndx_oidc *o, const char *state, const char *nonce, const char *challenge,
		  const char *ui_locales, char **out);

struct ndx_oidc_identity {
	char subject[16];   /* the citizen's personal identification number */
	char name[256];
	char *id_token;     /* malloc'd; ndx_oidc_identity_clear frees */
};

/* Redeems code (with the PKCE verifier) and verifies the ID token against
 * nonce. NDX_OK with *id filled; NDX_ENET, NDX_EPERM (the e-ID refused the
 * code), NDX_EBADSIG, NDX_EINVAL (a claim that does not check), NDX_EEXPIRED.
 * why receives a short reason without personal data. */
int ndx_oidc_redeem(struct ndx_oidc *o, const char *code, const char *verifier, const char *nonce,
		time_t now, struct ndx_oidc_identity *id, const char **why);
void ndx_oidc_identity_clear(struct ndx_oidc_identity *id);

/* The end-session URL with id_token_hint (may be NULL) and
 * post_logout_redirect_uri = the configured post_logout_uri, malloc'd; NULL when the e-ID
 * has no end_session_endpoint or on allocation failure. */
char *ndx_oidc_logout_url(struct ndx_oidc *o, const char *id_token_hint);

/* Builds state/nonce/verifier: base64url of 32 random bytes into out (at
 * least 44 bytes). NDX_ECRYPTO without randomness. */
int ndx_oidc_random(char *out, size_t cap);
/* base64url(SHA-256(verifier)) into out (at least 44 bytes). */
void ndx_oidc_challenge(const char *verifier, char *out, size_t cap);

#endif
