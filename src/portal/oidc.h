/* The portal as an OpenID Connect relying party of the national e-ID
 * (ndx-id): discovery, the authorization request with PKCE (S256), the
 * code redeemed at the token endpoint with client_secret_basic, and the ID
 * token verified (EdDSA against the JWKS key, iss, aud, exp, iat, nonce).
 * Overview: docs/portal.md "Citizen sign-in". */
#ifndef NDX_PORTAL_OIDC_H
#define NDX_PORTAL_OIDC_H

#include <time.h>

struct oidc;
struct pconfig;

/* A new relying party for cfg (borrowed, must outlive it); nothing is
 * fetched yet. NDX_ENOMEM. */
int oidc_new(const struct pconfig *cfg, struct oidc **out);
/* Accepts NULL. */
void oidc_free(struct oidc *o);

/* Fetches the discovery document and the JWKS (again, when force is set or
 * they were never fetched). Thread-safe. NDX_ENET (unreachable),
 * NDX_EINVAL (a document that is not what the standard says, or an issuer
 * other than the configured one). */
int oidc_refresh(struct oidc *o, int force);

/* The authorization URL for state, nonce and the PKCE code challenge
 * (malloc'd into *out), asking for the portal's language with ui_locales
 * ("vi" or "en"; NULL asks for none). Discovers first when needed. */
int oidc_auth_url(struct oidc *o, const char *state, const char *nonce, const char *challenge,
		  const char *ui_locales, char **out);

struct oidc_identity {
	char subject[16];   /* the citizen's personal identification number */
	char name[256];
	char *id_token;     /* malloc'd; oidc_identity_clear frees */
};

/* Redeems code (with the PKCE verifier) and verifies the ID token against
 * nonce. NDX_OK with *id filled; NDX_ENET, NDX_EPERM (the e-ID refused the
 * code), NDX_EBADSIG, NDX_EINVAL (a claim that does not check), NDX_EEXPIRED.
 * why receives a short reason without personal data. */
int oidc_redeem(struct oidc *o, const char *code, const char *verifier, const char *nonce,
		time_t now, struct oidc_identity *id, const char **why);
void oidc_identity_clear(struct oidc_identity *id);

/* The end-session URL with id_token_hint (may be NULL) and
 * post_logout_redirect_uri = {public_url}/, malloc'd; NULL when the e-ID
 * has no end_session_endpoint or on allocation failure. */
char *oidc_logout_url(struct oidc *o, const char *id_token_hint);

/* Builds state/nonce/verifier: base64url of 32 random bytes into out (at
 * least 44 bytes). NDX_ECRYPTO without randomness. */
int oidc_random(char *out, size_t cap);
/* base64url(SHA-256(verifier)) into out (at least 44 bytes). */
void oidc_challenge(const char *verifier, char *out, size_t cap);

#endif
