/* Ndx-Subject-Token (docs/protocol.md "Data subjects"): the subject's ID
 * token from a national e-ID listed in the signed global configuration's
 * id_providers, by which the provider gateway knows that the request was
 * made by the citizen themself (and answers the access list only then). */
#ifndef NDX_GATEWAY_SUBJTOKEN_H
#define NDX_GATEWAY_SUBJTOKEN_H

#include <stddef.h>
#include <time.h>

#include "ndx/conf.h"

/* Checks token (a JWS compact EdDSA ID token) against conf: its issuer
 * ("iss") is an id provider of conf and the signature verifies under that
 * provider's key (the header's "kid", when given, must name it); "exp" is
 * after now; "iat", when given, is not more than skew_s ahead of now;
 * "sub" equals subject. Returns NDX_OK, or NDX_EPERM with why (cap bytes)
 * saying which check failed in words that never repeat the token or a
 * number from it. */
int gw_subject_token_check(const struct ndx_conf *conf, const char *token, const char *subject,
			   time_t now, long skew_s, char *why, size_t cap);

#endif
