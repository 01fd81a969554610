/* Every refusal the gateway makes, in one table (errors.c): ndx's reason
 * (the finer cause: a replay, a wrong gateway, an expired consent), the
 * X-Road error type and HTTP status a PR-REST client gets for it, and
 * whether the caller caused it. The table drives the answer's body and
 * X-Road-Error header, the /metrics labels, `ndx-gateway --error-table` and
 * the table in docs/protocol.md "Errors" (an e2e test compares the two).
 *
 * PR-REST §4.6: types are Client.* (the information system's request does
 * not follow the protocol: 400), Server.ClientProxy.* (the consumer
 * gateway) and Server.ServerProxy.* (the provider gateway), both 500. A
 * reason of class SERVER takes the prefix of the port that refuses, so the
 * same reason reads Server.ClientProxy.X on the consumer port and
 * Server.ServerProxy.X on the provider port. The few statuses other than
 * 400 and 500 (413, 414, 429) are in the table and documented.
 *
 * Self-contained (no gateway.h) so that a unit test links it alone. */
#ifndef NDX_GATEWAY_ERRORS_H
#define NDX_GATEWAY_ERRORS_H

#include <stdbool.h>
#include <stddef.h>

enum gw_reason {
	/* the request does not follow PR-REST (Client.*) */
	GW_R_NOT_EXCHANGE,
	GW_R_BAD_HEADER,
	GW_R_INVALID_CLIENT,
	GW_R_INVALID_SERVICE,
	GW_R_BAD_PATH,
	GW_R_DOT_SEGMENT,
	GW_R_URI_TOO_LONG,
	GW_R_BAD_SECURITY_SERVER,
	GW_R_BAD_REPRESENTED_PARTY,
	GW_R_BODY_TOO_LARGE,
	GW_R_REQUEST_TIMEOUT,
	GW_R_BAD_METHOD,
	/* who may call what */
	GW_R_UNKNOWN_CLIENT,
	GW_R_AUTHENTICATION_REQUIRED,
	GW_R_AUTHENTICATION_FAILED,
	GW_R_UNKNOWN_SERVICE,
	GW_R_NO_GRANT,
	GW_R_UNKNOWN_SECURITY_SERVER,
	/* gateway to gateway */
	GW_R_UNAUTHENTICATED,
	GW_R_TOO_MANY_REFUSALS,
	GW_R_MISSING_MESSAGE_ID,
	GW_R_STALE_TIMESTAMP,
	GW_R_WRONG_GATEWAY,
	GW_R_BAD_SIGNATURE,
	GW_R_REPLAY,
	GW_R_PROVIDER_UNREACHABLE,
	GW_R_PROVIDER_TIMEOUT,
	GW_R_PEER_IDENTITY,
	GW_R_RESPONSE_TOO_LARGE,
	GW_R_BAD_RESPONSE_SIGNATURE,
	/* personal data (docs/protocol.md "Personal data") */
	GW_R_PURPOSE_MISSING,
	GW_R_PURPOSE_NOT_ALLOWED,
	GW_R_SUBJECT_MISSING,
	GW_R_SUBJECT_INVALID,
	GW_R_CONSENT_MISSING,
	GW_R_CONSENT_MALFORMED,
	GW_R_CONSENT_BAD_SIGNATURE,
	GW_R_CONSENT_NOT_YET_VALID,
	GW_R_CONSENT_EXPIRED,
	GW_R_CONSENT_WRONG_SUBJECT,
	GW_R_CONSENT_WRONG_CONSUMER,
	GW_R_CONSENT_SERVICE_NOT_COVERED,
	GW_R_CONSENT_WRONG_PURPOSE,
	GW_R_CONSENT_REVOKED,
	GW_R_CONSENT_STATUS_UNKNOWN,
	GW_R_SUBJECT_TOKEN_INVALID,
	GW_R_SUBJECT_TOKEN_MISSING,
	GW_R_SUBJECT_MISMATCH,
	GW_R_SUBJECTS_UNDECLARED,
	/* the provider system */
	GW_R_BACKEND_UNREACHABLE,
	GW_R_BACKEND_TIMEOUT,
	GW_R_BACKEND_TOO_LARGE,
	/* the gateway itself */
	GW_R_NO_CONFIGURATION,
	GW_R_WITNESS_UNAVAILABLE,
	GW_R_LOG_UNAVAILABLE,
	GW_R_BUSY,
	GW_R_MAINTENANCE,
	GW_R_CANNOT_SIGN,
	GW_R_MISCONFIGURED,
	GW_R_INTERNAL,
	/* metaservices (metaservices.c) */
	GW_R_METASERVICE_QUERY,
	GW_R_REGISTRY_UNREACHABLE,
	GW_R_OPENAPI_MISMATCH,
	/* the built-in access list service (accesses.c) */
	GW_R_ACCESS_LIST_QUERY,
	GW_R_ACCESS_LIST_METHOD,
	GW_R_ACCESS_LIST_PATH,
	/* events (events.c, docs/events.md) */
	GW_R_UNKNOWN_EVENT_TYPE,
	GW_R_NOT_PUBLISHER,
	GW_R_PAYLOAD_INVALID,
	GW_R_NO_SUBSCRIPTION,
	GW_R_UNKNOWN_EVENT,
	GW_R_EVENT_STORE_UNAVAILABLE,
	/* operational monitoring (opmon_query.c) */
	GW_R_OPMON_QUERY,
	GW_R_UNKNOWN_GATEWAY,
	GW_R_OPMON_NOT_ALLOWED,
	GW_R_OPMON_UNAVAILABLE,
	GW_R_PROOF_NOT_FOUND,
	GW_R_PROOF_NOT_READY,
	/* marketplace agreements (gw_agreement.c, docs/marketplace.md) */
	GW_R_AGREEMENT_EXPIRED,
	GW_R_AGREEMENT_PURPOSE,
	GW_R_AGREEMENT_LIMIT,
	GW_R_AGREEMENT_DATA_AGE,
	GW_R_COUNT
};

enum gw_err_class { GW_ERR_CLIENT, GW_ERR_SERVER };

/* Which gateway refuses: a SERVER reason's type takes its prefix. */
enum gw_err_side { GW_SIDE_CONSUMER, GW_SIDE_PROVIDER };

struct gw_reason_info {
	const char *reason;      /* "NoGrant": detail's first word, the metrics label */
	enum gw_err_class class;
	const char *code;        /* "AccessDenied": the type's last part */
	int status;
	bool callers_fault;      /* charged to the calling member's refusal budget */
	const char *when;        /* one line for the documentation */
};

/* NULL when r is out of range. */
const struct gw_reason_info *gw_reason_info(enum gw_reason r);

/* The X-Road type of r refused on side: a static string
 * ("Client.BadRequest", "Server.ServerProxy.AccessDenied"). */
const char *gw_reason_type(enum gw_reason r, enum gw_err_side side);

/* The reason whose name is text (case-sensitive); GW_R_COUNT if none. */
enum gw_reason gw_reason_by_name(const char *text);

/* How an error body is written. */
enum gw_err_format { GW_ERR_JSON, GW_ERR_XML, GW_ERR_TEXT_XML };

/* The format an Accept header asks for (PR-REST §4.6: the gateway SHOULD
 * respect Accept and defaults to JSON): XML when a media range of accept
 * is application/xml, text/xml or text/ANY ("text" "/" "*"); text/xml
 * for the last two.
 * accept may be NULL. */
enum gw_err_format gw_err_format_of(const char *accept);

/* The error body {type,message,detail} in fmt, malloc'd into *out (its
 * length in *len) with its Content-Type in *content_type (static). detail
 * is "{reason}" or "{reason}: {specifics}"; bytes of message and specifics
 * that are not valid UTF-8 or are control characters become '?', so the
 * body is always well-formed. Returns 0, or -1 when out of memory. */
int gw_err_render(enum gw_reason r, enum gw_err_side side, enum gw_err_format fmt,
		  const char *message, const char *specifics, char **out, size_t *len,
		  const char **content_type);

/* The table as JSON lines (one object a reason) on stdout, for
 * `ndx-gateway --error-table`. Returns 0, -1 on a write error. */
int gw_err_print_table(void);

#endif
