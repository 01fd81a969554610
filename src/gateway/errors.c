/* The gateway's refusals: the table (errors.h) and how an error body is
 * written (PR-REST §4.6, JSON or XML after Accept). */
#include "errors.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "ndx/buf.h"
#include "ndx/err.h"

#define C GW_ERR_CLIENT
#define S GW_ERR_SERVER

static const struct gw_reason_info table[GW_R_COUNT] = {
	[GW_R_NOT_EXCHANGE] = { "NotExchange", C, "BadRequest", 400, true,
				"the path does not start with /r1/ (and is no metaservice)" },
	[GW_R_BAD_HEADER] = { "BadHeader", C, "BadRequest", 400, true,
			      "an X-Road or Ndx header holds CR, LF or NUL, or is too long" },
	[GW_R_INVALID_CLIENT] = { "InvalidClient", C, "InvalidClientIdentifier", 400, true,
				  "X-Road-Client is missing or not a member or subsystem id" },
	[GW_R_INVALID_SERVICE] = { "InvalidService", C, "BadRequest", 400, true,
				   "the path does not hold a service id after /r1/" },
	[GW_R_BAD_PATH] = { "BadPath", C, "BadRequest", 400, true,
			    "the path or query holds a byte RFC 3986 does not allow there" },
	[GW_R_DOT_SEGMENT] = { "DotSegment", C, "BadRequest", 400, true,
			       "a path segment after the service id is . or .. (also "
			       "percent-encoded)" },
	[GW_R_URI_TOO_LONG] = { "UriTooLong", C, "BadRequest", 414, true,
				"path and query together are longer than 4096 bytes" },
	[GW_R_BAD_SECURITY_SERVER] = { "BadSecurityServer", C, "BadRequest", 400, true,
				       "X-Road-Security-Server is not instance/class/member/server" },
	[GW_R_BAD_REPRESENTED_PARTY] = { "BadRepresentedParty", C, "BadRequest", 400, true,
					 "X-Road-Represented-Party is not [class/]code" },
	[GW_R_BODY_TOO_LARGE] = { "BodyTooLarge", C, "BadRequest", 413, true,
				  "the request body is larger than max_body (of this gateway or "
				  "of the provider gateway)" },
	[GW_R_REQUEST_TIMEOUT] = { "RequestTimeout", C, "BadRequest", 408, true,
				   "the request's head and body did not all arrive within "
				   "request_deadline_s" },
	[GW_R_METASERVICE_QUERY] = { "MetaserviceQuery", C, "BadRequest", 400, true,
				     "a metaservice's query parameter is missing or malformed" },
	[GW_R_REGISTRY_UNREACHABLE] = { "RegistryUnreachable", S, "NetworkError", 500, false,
					"getOpenAPI cannot fetch the document from the registry" },
	[GW_R_OPENAPI_MISMATCH] = { "OpenApiMismatch", S, "InvalidSignatureValue", 500, false,
				    "the registry's OpenAPI document is not the one the signed "
				    "configuration names" },
	[GW_R_BAD_METHOD] = { "BadMethod", C, "BadRequest", 405, true,
			      "a gateway path that answers other methods only" },
	[GW_R_UNKNOWN_CLIENT] = { "UnknownClient", S, "UnknownMember", 500, true,
				  "X-Road-Client is not a client of this gateway (consumer) or of "
				  "the calling gateway's member (provider)" },
	[GW_R_AUTHENTICATION_REQUIRED] = { "AuthenticationRequired", S,
					   "SslAuthenticationFailed", 500, true,
					   "the client must use the TLS consumer port" },
	[GW_R_AUTHENTICATION_FAILED] = { "AuthenticationFailed", S, "SslAuthenticationFailed",
					 500, true,
					 "the client did not present one of its registered "
					 "certificates" },
	[GW_R_UNKNOWN_SERVICE] = { "UnknownService", S, "UnknownService", 500, true,
				   "the service is not in the global configuration, or not "
				   "served by this gateway" },
	[GW_R_NO_GRANT] = { "NoGrant", S, "AccessDenied", 500, true,
			    "no grant lets the client call this method and path" },
	[GW_R_UNKNOWN_SECURITY_SERVER] = { "UnknownSecurityServer", S, "InvalidSecurityServer",
					   500, true,
					   "X-Road-Security-Server names no gateway of the "
					   "service's member" },
	[GW_R_UNAUTHENTICATED] = { "Unauthenticated", S, "SslAuthenticationFailed", 500, true,
				   "the calling gateway's certificate is missing, unknown or "
				   "revoked" },
	[GW_R_TOO_MANY_REFUSALS] = { "TooManyRefusals", S, "AccessDenied", 429, false,
				     "the calling member used up its budget of refusals "
				     "(Retry-After)" },
	[GW_R_MISSING_MESSAGE_ID] = { "MissingMessageId", S, "InvalidMessage", 500, true,
				      "the calling gateway sent no X-Road-Id" },
	[GW_R_STALE_TIMESTAMP] = { "StaleTimestamp", S, "InvalidMessage", 500, true,
				   "Ndx-Timestamp is missing or too far from this gateway's clock" },
	[GW_R_WRONG_GATEWAY] = { "WrongGateway", S, "InvalidSecurityServer", 500, true,
				 "the request was signed for another gateway" },
	[GW_R_BAD_SIGNATURE] = { "BadSignature", S, "InvalidSignatureValue", 500, true,
				 "Ndx-Signature does not verify over the request" },
	[GW_R_REPLAY] = { "Replay", S, "InvalidMessage", 500, true,
			  "this signed request was already accepted" },
	[GW_R_PROVIDER_UNREACHABLE] = { "ProviderUnreachable", S, "NetworkError", 500, false,
					"no gateway of the service's member can be reached" },
	[GW_R_PROVIDER_TIMEOUT] = { "ProviderTimeout", S, "NetworkError", 500, false,
				    "the provider gateway did not answer in time" },
	[GW_R_PEER_IDENTITY] = { "PeerIdentity", S, "SslAuthenticationFailed", 500, false,
				 "the answering gateway's certificate is not one of the "
				 "member's" },
	[GW_R_RESPONSE_TOO_LARGE] = { "ResponseTooLarge", S, "IOError", 500, false,
				      "the provider gateway's answer exceeds max_body" },
	[GW_R_BAD_RESPONSE_SIGNATURE] = { "BadResponseSignature", S, "InvalidSignatureValue",
					  500, false,
					  "the answer does not carry a valid signature of its "
					  "gateway" },
	[GW_R_PURPOSE_MISSING] = { "PurposeMissing", S, "AccessDenied", 500, true,
				   "a personal-data service called without Ndx-Purpose" },
	[GW_R_PURPOSE_NOT_ALLOWED] = { "PurposeNotAllowed", S, "AccessDenied", 500, true,
				       "Ndx-Purpose is not one of the service's purposes" },
	[GW_R_SUBJECT_MISSING] = { "SubjectMissing", S, "AccessDenied", 500, true,
				   "a personal-data service called without Ndx-Subject" },
	[GW_R_SUBJECT_INVALID] = { "SubjectInvalid", C, "BadRequest", 400, true,
				   "Ndx-Subject is not a personal identification number" },
	[GW_R_CONSENT_MISSING] = { "ConsentMissing", S, "AccessDenied", 500, true,
				   "the service requires a consent and Ndx-Consent is missing" },
	[GW_R_CONSENT_MALFORMED] = { "ConsentMalformed", S, "AccessDenied", 500, true,
				     "Ndx-Consent cannot be read" },
	[GW_R_CONSENT_BAD_SIGNATURE] = { "ConsentBadSignature", S, "AccessDenied", 500, true,
					 "the consent's signature does not verify" },
	[GW_R_CONSENT_NOT_YET_VALID] = { "ConsentNotYetValid", S, "AccessDenied", 500, true,
					 "the consent is not valid yet" },
	[GW_R_CONSENT_EXPIRED] = { "ConsentExpired", S, "AccessDenied", 500, true,
				   "the consent has expired" },
	[GW_R_CONSENT_WRONG_SUBJECT] = { "ConsentWrongSubject", S, "AccessDenied", 500, true,
					 "the consent, or the answer, is about someone else" },
	[GW_R_CONSENT_WRONG_CONSUMER] = { "ConsentWrongConsumer", S, "AccessDenied", 500, true,
					  "the consent was given to another client" },
	[GW_R_CONSENT_SERVICE_NOT_COVERED] = { "ConsentServiceNotCovered", S, "AccessDenied",
					       500, true,
					       "the consent does not cover this service" },
	[GW_R_CONSENT_WRONG_PURPOSE] = { "ConsentWrongPurpose", S, "AccessDenied", 500, true,
					 "the consent was given for another purpose" },
	[GW_R_CONSENT_REVOKED] = { "ConsentRevoked", S, "AccessDenied", 500, true,
				   "the subject revoked the consent" },
	[GW_R_CONSENT_STATUS_UNKNOWN] = { "ConsentStatusUnknown", S, "InternalError", 500, false,
					  "no current status list of the consent's issuer" },
	[GW_R_SUBJECT_TOKEN_INVALID] = { "SubjectTokenInvalid", S, "AccessDenied", 500, true,
					 "Ndx-Subject-Token is not the subject's valid e-ID token" },
	[GW_R_SUBJECT_TOKEN_MISSING] = { "SubjectTokenMissing", S, "AccessDenied", 500, true,
					 "the service answers only with the subject's e-ID token" },
	[GW_R_SUBJECT_MISMATCH] = { "SubjectMismatch", S, "AccessDenied", 500, true,
				    "the answer is about other people than Ndx-Subject names" },
	[GW_R_SUBJECTS_UNDECLARED] = { "SubjectsUndeclared", S, "ServiceFailed", 500, false,
				       "the provider system did not declare whom its answer is "
				       "about" },
	[GW_R_BACKEND_UNREACHABLE] = { "BackendUnreachable", S, "NetworkError", 500, false,
				       "the provider system cannot be reached" },
	[GW_R_BACKEND_TIMEOUT] = { "BackendTimeout", S, "NetworkError", 500, false,
				   "the provider system did not answer in time" },
	[GW_R_BACKEND_TOO_LARGE] = { "BackendTooLarge", S, "ServiceFailed", 500, false,
				     "the provider system's answer exceeds max_body" },
	[GW_R_NO_CONFIGURATION] = { "NoConfiguration", S, "OutdatedGlobalConf", 500, false,
				    "the gateway holds no valid global configuration" },
	[GW_R_WITNESS_UNAVAILABLE] = { "WitnessUnavailable", S, "TimestampingFailed", 500,
				       false,
				       "the registry has not countersigned the log's tree heads "
				       "for too long" },
	[GW_R_LOG_UNAVAILABLE] = { "LogUnavailable", S, "LoggingFailed", 500, false,
				   "the message log cannot be written" },
	[GW_R_BUSY] = { "Busy", S, "InternalError", 500, false,
			"the replay cache is full, or the caller's share of it" },
	[GW_R_MAINTENANCE] = { "Maintenance", S, "Maintenance", 503, false,
			       "the gateway is in maintenance: it takes no new exchange" },
	[GW_R_CANNOT_SIGN] = { "CannotSign", S, "CannotCreateSignature", 500, false,
			       "the gateway could not sign" },
	[GW_R_MISCONFIGURED] = { "Misconfigured", S, "InternalError", 500, false,
				 "the service's registration contradicts its backend" },
	[GW_R_INTERNAL] = { "Internal", S, "InternalError", 500, false,
			    "out of memory or randomness" },
	[GW_R_ACCESS_LIST_QUERY] = { "AccessListQuery", C, "BadRequest", 400, true,
				     "a filter of the access list is malformed" },
	[GW_R_ACCESS_LIST_METHOD] = { "AccessListMethod", C, "BadRequest", 405, true,
				      "the access list answers GET only" },
	[GW_R_ACCESS_LIST_PATH] = { "AccessListPath", C, "BadRequest", 404, true,
				    "the access list has no sub-paths" },
	[GW_R_UNKNOWN_EVENT_TYPE] = { "UnknownEventType", S, "UnknownService", 500, true,
				      "the event type is not in the global configuration" },
	[GW_R_NOT_PUBLISHER] = { "NotPublisher", S, "AccessDenied", 500, true,
				 "only the subsystem of the event type's service publishes it" },
	[GW_R_PAYLOAD_INVALID] = { "PayloadInvalid", C, "BadRequest", 400, true,
				   "the event's payload is not JSON or breaks its type's schema "
				   "(the field is named)" },
	[GW_R_NO_SUBSCRIPTION] = { "NoSubscription", S, "AccessDenied", 500, true,
				   "the client holds no subscription to the event type" },
	[GW_R_UNKNOWN_EVENT] = { "UnknownEvent", C, "BadRequest", 404, true,
				 "no event of this id for this client" },
	[GW_R_EVENT_STORE_UNAVAILABLE] = { "EventStoreUnavailable", S, "LoggingFailed", 500,
					   false, "the event store cannot be written" },
	[GW_R_OPMON_QUERY] = { "OpmonQuery", C, "BadRequest", 400, true,
			       "an operational monitoring read is malformed" },
	[GW_R_UNKNOWN_GATEWAY] = { "UnknownGateway", S, "InvalidSecurityServer", 500, true,
				   "the path names no gateway of the global configuration" },
	[GW_R_OPMON_NOT_ALLOWED] = { "OpmonNotAllowed", S, "AccessDenied", 500, true,
				     "the client may not read this gateway's operational records" },
	[GW_R_OPMON_UNAVAILABLE] = { "OpmonUnavailable", S, "InternalError", 500, false,
				     "the operational monitoring store cannot be read" },
	/* A proof read (opmon_query.c). Not ready is the server's state, not
	 * the caller's fault, and passes within batch_interval_ms: a reader
	 * retries. */
	[GW_R_PROOF_NOT_FOUND] = { "ProofNotFound", C, "BadRequest", 404, true,
				   "the message log holds no record of that seq (beyond its end, or "
				   "archived)" },
	[GW_R_PROOF_NOT_READY] = { "ProofNotReady", S, "InternalError", 500, false,
				   "the record's batch has no signed tree head yet; retry after "
				   "batch_interval_ms" },
	[GW_R_AGREEMENT_EXPIRED] = { "AgreementExpired", S, "AccessDenied", 500, true,
				     "the marketplace agreement behind the grant has expired" },
	[GW_R_AGREEMENT_PURPOSE] = { "AgreementPurposeNotAllowed", S, "AccessDenied", 500, true,
				     "Ndx-Purpose is not one of the purposes the agreement allows" },
	[GW_R_AGREEMENT_LIMIT] = { "AgreementLimitExceeded", S, "AccessDenied", 429, true,
				   "the agreement's maximum calls for the current period are "
				   "used up" },
	[GW_R_AGREEMENT_DATA_AGE] = { "AgreementDataTooOld", S, "ServiceFailed", 500, false,
				      "the provider system's answer is older than the agreement's "
				      "data-age limit, or has no Last-Modified to tell" },
};

#undef C
#undef S

/* Every type the table can produce, made once: callers keep the pointers. */
static char types[GW_R_COUNT][2][64];

static void make_types(void)
{
	static const char *const prefix[2] = { "Server.ClientProxy.", "Server.ServerProxy." };

	for (size_t i = 0; i < GW_R_COUNT; i++)
		for (int side = 0; side < 2; side++) {
			if (table[i].class == GW_ERR_CLIENT)
				snprintf(types[i][side], sizeof types[i][side], "Client.%s",
					 table[i].code);
			else
				snprintf(types[i][side], sizeof types[i][side], "%s%s",
					 prefix[side], table[i].code);
		}
}

static pthread_once_t types_once = PTHREAD_ONCE_INIT;

const struct gw_reason_info *gw_reason_info(enum gw_reason r)
{
	return (unsigned)r < GW_R_COUNT ? &table[r] : NULL;
}

const char *gw_reason_type(enum gw_reason r, enum gw_err_side side)
{
	if ((unsigned)r >= GW_R_COUNT)
		r = GW_R_INTERNAL;
	pthread_once(&types_once, make_types);
	return types[r][side == GW_SIDE_PROVIDER];
}

enum gw_reason gw_reason_by_name(const char *text)
{
	for (size_t i = 0; text && i < GW_R_COUNT; i++)
		if (strcmp(table[i].reason, text) == 0)
			return (enum gw_reason)i;
	return GW_R_COUNT;
}

enum gw_err_format gw_err_format_of(const char *accept)
{
	const char *p = accept;

	while (p && *p) {
		size_t n;
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const char *semi = memchr(p, ';', len);

		if (semi)
			len = (size_t)(semi - p);
		while (len && (*p == ' ' || *p == '\t'))
			p++, len--;
		while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		n = len;
		if (n == 15 && strncasecmp(p, "application/xml", 15) == 0)
			return GW_ERR_XML;
		if ((n == 8 && strncasecmp(p, "text/xml", 8) == 0) ||
		    (n == 6 && strncasecmp(p, "text/*", 6) == 0))
			return GW_ERR_TEXT_XML;
		p = end ? end + 1 : NULL;
	}
	return GW_ERR_JSON;
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if none.
 * Overlong forms, surrogates and code points above U+10FFFF are invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned cp;
	size_t len, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1fu;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0fu;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07u;
	else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3fu);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

/* A copy of s that is valid UTF-8 without control characters (bytes that
 * are not become '?'). NULL when out of memory. */
static char *clean_text(const char *s)
{
	size_t n = strlen(s), i = 0, o = 0;
	char *out = malloc(n + 1);

	if (!out)
		return NULL;
	while (i < n) {
		const unsigned char *u = (const unsigned char *)s + i;
		size_t k = utf8_seq(u, n - i);

		if (k == 0 || (k == 1 && (u[0] < 0x20 || u[0] == 0x7f))) {
			out[o++] = '?';
			i++;
			continue;
		}
		memcpy(out + o, u, k);
		o += k;
		i += k;
	}
	out[o] = '\0';
	return out;
}

/* s as XML character data (the five predefined entities). */
static int text_xml(struct ndx_buf *t, const char *s)
{
	for (; *s; s++) {
		const char *rep;

		switch (*s) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		case '\'': rep = "&apos;"; break;
		default:
			if (ndx_buf_append(t, s, 1) != NDX_OK)
				return -1;
			continue;
		}
		if (ndx_buf_append_str(t, rep) != NDX_OK)
			return -1;
	}
	return 0;
}

/* The element names and their order are X-Road's own
 * (ClientRestMessageHandler.sendErrorResponse): <error><type/><message/>
 * <detail/></error>. */
static int render_xml(const char *type, const char *message, const char *detail, char **out,
		      size_t *len)
{
	struct ndx_buf t = NDX_BUF_INIT(NDX_BUF_NO_CAP); /* the texts are ours, bounded */

	if (ndx_buf_append_str(&t, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<error><type>") ||
	    text_xml(&t, type) || ndx_buf_append_str(&t, "</type><message>") ||
	    text_xml(&t, message) || ndx_buf_append_str(&t, "</message><detail>") ||
	    text_xml(&t, detail) || ndx_buf_append_str(&t, "</detail></error>\n")) {
		ndx_buf_free(&t);
		return -1;
	}
	*out = ndx_buf_steal(&t, len);
	return 0;
}

int gw_err_render(enum gw_reason r, enum gw_err_side side, enum gw_err_format fmt,
		  const char *message, const char *specifics, char **out, size_t *len,
		  const char **content_type)
{
	const struct gw_reason_info *ri = gw_reason_info(r);
	const char *type;
	char *msg = NULL, *spec = NULL, *detail = NULL;
	int rc = -1;

	if (!ri)
		ri = gw_reason_info(r = GW_R_INTERNAL);
	type = gw_reason_type(r, side);
	*out = NULL;
	*len = 0;
	msg = clean_text(message ? message : "");
	spec = specifics && specifics[0] ? clean_text(specifics) : NULL;
	if (!msg || (specifics && specifics[0] && !spec))
		goto out;
	{
		size_t n = strlen(ri->reason) + (spec ? strlen(spec) + 2 : 0) + 1;
		if (!(detail = malloc(n)))
			goto out;
		snprintf(detail, n, "%s%s%s", ri->reason, spec ? ": " : "", spec ? spec : "");
	}
	if (fmt == GW_ERR_JSON) {
		json_t *o = json_pack("{ssssss}", "type", type, "message", msg, "detail", detail);
		if (!o)
			goto out;
		*out = json_dumps(o, JSON_COMPACT);
		json_decref(o);
		if (!*out)
			goto out;
		*len = strlen(*out);
		*content_type = "application/json; charset=utf-8";
	} else {
		if (render_xml(type, msg, detail, out, len) != 0)
			goto out;
		*content_type = fmt == GW_ERR_TEXT_XML ? "text/xml; charset=utf-8"
						       : "application/xml; charset=utf-8";
	}
	rc = 0;
out:
	free(msg);
	free(spec);
	free(detail);
	return rc;
}

int gw_err_print_table(void)
{
	for (size_t i = 0; i < GW_R_COUNT; i++) {
		const struct gw_reason_info *ri = &table[i];
		json_t *o = json_pack("{sssssssisbss}", "reason", ri->reason, "consumer_type",
				      gw_reason_type((enum gw_reason)i, GW_SIDE_CONSUMER),
				      "provider_type",
				      gw_reason_type((enum gw_reason)i, GW_SIDE_PROVIDER), "status",
				      ri->status, "callers_fault", ri->callers_fault, "when",
				      ri->when);
		char *line = o ? json_dumps(o, JSON_COMPACT) : NULL;
		int bad = !line || puts(line) == EOF;

		free(line);
		json_decref(o);
		if (bad)
			return -1;
	}
	return fflush(stdout) == 0 ? 0 : -1;
}
