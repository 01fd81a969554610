/* The admin bearer token of a daemon's management API: only its SHA-256 is
 * kept, and a request's token is compared with it in constant time. One
 * place for the check and its refusal, so that every daemon answers a
 * missing, malformed or wrong token the same way (401 Client.Unauthorized
 * with WWW-Authenticate). */
#ifndef NDX_BEARER_H
#define NDX_BEARER_H

#include <stdbool.h>

#include "ndx/httpd.h"

#define NDX_BEARER_TOKEN_MAX 512

/* True when req carries "Authorization: Bearer T" and SHA-256(T) is
 * sha256_hex (64 lower-case hex digits). Otherwise answers 401 into resp,
 * with realm in WWW-Authenticate, and returns false. */
bool ndx_bearer_check(const struct ndx_http_req *req, struct ndx_http_resp *resp,
		      const char *sha256_hex, const char *realm);

/* A new random token (base64url of 32 bytes) in *token (caller frees and
 * should cleanse) and its SHA-256 in hex (65 bytes with the NUL). NDX_OK,
 * NDX_ECRYPTO, NDX_ENOMEM. */
int ndx_bearer_new(char **token, char sha256_hex[65]);

#endif
