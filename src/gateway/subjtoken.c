/* The e-ID ID token that proves a request was the subject's own
 * (subjtoken.h). Only the configuration's keys are trusted: the token's
 * header may name a key id, never carry a key. */
#include "subjtoken.h"

#include <stdio.h>
#include <string.h>

#include "ndx/err.h"
#include "ndx/jws.h"

static int refuse(char *why, size_t cap, const char *sentence)
{
	snprintf(why, cap, "%s", sentence);
	return NDX_EPERM;
}

int gw_subject_token_check(const struct ndx_conf *conf, const char *token, const char *subject,
			   time_t now, long skew_s, char *why, size_t cap)
{
	struct ndx_jws *jws = NULL;
	const struct ndx_key *key;
	const uint8_t *payload;
	json_t *claims = NULL;
	const json_t *exp, *iat;
	const char *iss, *sub;
	size_t len;
	int rc;

	if (!token || !token[0])
		return refuse(why, cap, "the token is empty");
	if (ndx_jws_parse(token, strlen(token), &jws, NULL, 0) != NDX_OK)
		return refuse(why, cap, "the token is not a signed EdDSA JWT");
	payload = ndx_jws_payload(jws, &len);
	claims = json_loadb((const char *)payload, len, JSON_REJECT_DUPLICATES, NULL);
	iss = json_string_value(json_object_get(claims, "iss"));
	sub = json_string_value(json_object_get(claims, "sub"));
	exp = json_object_get(claims, "exp");
	iat = json_object_get(claims, "iat");
	if (!json_is_object(claims) || !iss || !sub || !json_is_integer(exp)) {
		rc = refuse(why, cap, "the token lacks iss, sub or exp");
		goto out;
	}
	key = ndx_conf_id_provider_key(conf, iss, ndx_jws_kid(jws));
	if (!key) {
		rc = refuse(why, cap,
			    "the token's issuer or key is not an e-ID of the global configuration");
		goto out;
	}
	if (ndx_jws_verify(jws, key) != NDX_OK) {
		rc = refuse(why, cap, "the token's signature does not verify");
		goto out;
	}
	if ((json_int_t)now >= json_integer_value(exp)) {
		rc = refuse(why, cap, "the token has expired");
		goto out;
	}
	if (iat && (!json_is_integer(iat) || json_integer_value(iat) > (json_int_t)now + skew_s)) {
		rc = refuse(why, cap, "the token was issued in the future");
		goto out;
	}
	if (!subject || strcmp(sub, subject) != 0) {
		rc = refuse(why, cap, "the token is another person's, not Ndx-Subject's");
		goto out;
	}
	rc = NDX_OK;
	if (cap)
		why[0] = '\0';
out:
	json_decref(claims);
	ndx_jws_free(jws);
	return rc;
}
