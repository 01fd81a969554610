/* ndx/bearer.h. */
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ndx/bearer.h"
#include "ndx/encode.h"
#include "ndx/err.h"

#define TOKEN_BYTES 32

bool ndx_bearer_token_sha(const struct ndx_http_req *req, uint8_t sha[NDX_SHA256_LEN],
			  const char **why)
{
	const char *h = ndx_http_header(req, "Authorization"), *tok;
	size_t len;

	*why = "an Authorization: Bearer token is required";
	if (!h)
		return false;
	while (*h == ' ')
		h++;
	if (strncasecmp(h, "Bearer ", 7) != 0) {
		*why = "the Authorization scheme must be Bearer";
		return false;
	}
	for (tok = h + 7; *tok == ' '; tok++)
		;
	len = strlen(tok);
	while (len && tok[len - 1] == ' ')
		len--;
	*why = "the token is not valid";
	if (len == 0 || len > NDX_BEARER_TOKEN_MAX)
		return false;
	ndx_sha256(tok, len, sha);
	return true;
}

void ndx_bearer_refuse(struct ndx_http_resp *resp, const char *why, const char *realm)
{
	char challenge[128];

	ndx_http_resp_error(resp, 401, "Client.Unauthorized", "unauthorized", why);
	snprintf(challenge, sizeof challenge, "Bearer realm=\"%s\"", realm);
	ndx_http_resp_header(resp, "WWW-Authenticate", challenge);
}

bool ndx_bearer_check(const struct ndx_http_req *req, struct ndx_http_resp *resp,
		      const char *sha256_hex, const char *realm)
{
	uint8_t sha[NDX_SHA256_LEN], want[NDX_SHA256_LEN];
	const char *why;

	if (ndx_bearer_token_sha(req, sha, &why) && sha256_hex &&
	    ndx_hex_decode(sha256_hex, strlen(sha256_hex), want, sizeof want) == NDX_OK &&
	    CRYPTO_memcmp(sha, want, sizeof sha) == 0)
		return true;
	ndx_bearer_refuse(resp, why, realm);
	return false;
}

int ndx_bearer_new(char **token, char sha256_hex[65])
{
	uint8_t raw[TOKEN_BYTES], sha[NDX_SHA256_LEN];

	*token = NULL;
	if (RAND_bytes(raw, sizeof raw) != 1)
		return NDX_ECRYPTO;
	*token = ndx_b64_encode(raw, sizeof raw, 1);
	OPENSSL_cleanse(raw, sizeof raw);
	if (!*token)
		return NDX_ENOMEM;
	ndx_sha256(*token, strlen(*token), sha);
	ndx_hex_encode(sha, sizeof sha, sha256_hex);
	return NDX_OK;
}
