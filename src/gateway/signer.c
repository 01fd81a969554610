/* Message signing and verification for both roles (docs/protocol.md
 * "Signature object"), and the random ids the gateway hands out. Signing is
 * one function on purpose: today every message is a batch of one; an
 * adaptive batching signer (DESIGN.md section 3) replaces gw_sign_hash
 * without touching its callers. */
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#include "gateway.h"
#include "ndx/err.h"
#include "ndx/msgsig.h"

char *gw_sign_hash(const struct gw_config *cfg, const uint8_t hash[NDX_SHA256_LEN])
{
	return ndx_msgsig_sign(cfg->sign_key, hash);
}

int gw_verify_hash(const struct ndx_key *key, const char *sig_text,
		   const uint8_t hash[NDX_SHA256_LEN], char *err, size_t errcap)
{
	struct ndx_msgsig sig;
	size_t len;
	int rc;

	if (!sig_text) {
		snprintf(err, errcap, "no signature");
		return NDX_EINVAL;
	}
	if (!key) {
		snprintf(err, errcap, "no signing key for the gateway in the configuration");
		return NDX_ENOTFOUND;
	}
	len = strlen(sig_text);
	if (len > NDX_MSGSIG_MAX_TEXT) {
		snprintf(err, errcap, "signature object too long");
		return NDX_EINVAL;
	}
	rc = ndx_msgsig_parse(sig_text, len, &sig, err, errcap);
	if (rc != NDX_OK)
		return rc;
	rc = ndx_msgsig_verify(&sig, key, hash, NULL);
	if (rc == NDX_ENOTFOUND)
		snprintf(err, errcap, "signed with key %s, not the gateway's key", sig.key_id);
	else if (rc != NDX_OK)
		snprintf(err, errcap, "the signature does not verify");
	return rc;
}

int gw_uuid(char out[GW_UUID_LEN])
{
	uint8_t b[16];

	if (RAND_bytes(b, sizeof b) != 1)
		return NDX_ECRYPTO;
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
	snprintf(out, GW_UUID_LEN,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
		 b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
		 b[15]);
	return NDX_OK;
}
