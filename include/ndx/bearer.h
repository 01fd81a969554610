/* The admin bearer tokens of the daemons' management APIs: only their
 * SHA-256 is kept, and a request's token is compared with it in constant
 * time. One place for reading the Authorization header and for the refusal,
 * so that every daemon answers a missing, malformed or wrong token the same
 * way (401 Client.Unauthorized with WWW-Authenticate). */
#ifndef NDX_BEARER_H
#define NDX_BEARER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ndx/hash.h"
#include "ndx/httpd.h"

#define NDX_BEARER_TOKEN_MAX 512

/* The SHA-256 of the token of req's "Authorization: Bearer T" (spaces around
 * T ignored) into sha: true. False, with the reason for the 401 in *why,
 * when there is none, the scheme is not Bearer, or T is empty or over
 * NDX_BEARER_TOKEN_MAX. The token itself is never kept. */
bool ndx_bearer_token_sha(const struct ndx_http_req *req, uint8_t sha[NDX_SHA256_LEN],
			  const char **why);

/* Answers 401 Client.Unauthorized with why as its detail and
 * WWW-Authenticate: Bearer realm="realm". */
void ndx_bearer_refuse(struct ndx_http_resp *resp, const char *why, const char *realm);

/* For a daemon with one token: true when req's token hashes to sha256_hex
 * (64 lower-case hex digits). Otherwise answers 401 into resp and returns
 * false. */
bool ndx_bearer_check(const struct ndx_http_req *req, struct ndx_http_resp *resp,
		      const char *sha256_hex, const char *realm);

/* A new random token (base64url of 32 bytes) in *token (caller frees and
 * should cleanse) and its SHA-256 in hex (65 bytes with the NUL). NDX_OK,
 * NDX_ECRYPTO, NDX_ENOMEM. */
int ndx_bearer_new(char **token, char sha256_hex[65]);

#endif
