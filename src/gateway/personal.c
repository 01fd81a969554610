/* The provider gateway's checks for personal-data services (DESIGN.md
 * section 6, docs/protocol.md "Consent artefacts" and "Errors"): a service
 * marked "personal" in the global configuration is answered only for a
 * request naming its subject (Ndx-Subject, a valid personal identification
 * number) and one of the service's lawful purposes (Ndx-Purpose); where it
 * is also "consent_required", Ndx-Consent must hold a live consent of that
 * subject for this client, service and purpose, signed by a consent service
 * of the configuration and not revoked. Each refusal has its own error type,
 * so that a caller can tell what to fix; none of them repeats the number.
 * A service registered for bulk reads with the request's purpose may be
 * called without Ndx-Subject (a list or search); the provider system's
 * declaration of the answer's subjects is checked after it answers
 * (provider.c). */
#include <stdio.h>
#include <string.h>

#include "ndx/consent.h"
#include "ndx/err.h"
#include "ndx/pin.h"
#include "personal.h"

struct trust_ctx {
	const struct ndx_conf *conf;
	struct gw_revocations *revs;
	time_t now;
	int rev_rc; /* what gw_revocations_lookup said when it could not decide */
};

static const struct ndx_key *key_lookup(void *ctx, const char *kid, const char *iss)
{
	struct trust_ctx *t = ctx;
	return ndx_conf_consent_key(t->conf, iss, kid);
}

static int is_revoked(void *ctx, const char *iss, uint32_t list, uint32_t idx, bool *revoked)
{
	struct trust_ctx *t = ctx;
	int rc = gw_revocations_lookup(t->revs, iss, list, idx, t->now, revoked);
	if (rc != NDX_OK)
		t->rev_rc = rc;
	return rc;
}

static bool deny(struct gw_refusal *out, int status, const char *type, const char *detail,
		 const char *msg)
{
	out->status = status;
	out->type = type;
	out->detail = detail;
	snprintf(out->message, sizeof out->message, "%s", msg);
	return false;
}

static bool purpose_allowed(const json_t *service, const char *purpose)
{
	const json_t *p = json_object_get(service, "purposes"), *v;
	size_t i;

	json_array_foreach(p, i, v) {
		if (json_is_string(v) && strcmp(json_string_value(v), purpose) == 0)
			return true;
	}
	return false;
}

static const char *refusal_type(enum ndx_consent_refusal r)
{
	switch (r) {
	case NDX_CONSENT_MALFORMED:
		return "Client.ConsentMalformed";
	case NDX_CONSENT_UNKNOWN_KEY:
	case NDX_CONSENT_BAD_SIGNATURE:
		return "Client.ConsentBadSignature";
	case NDX_CONSENT_NOT_YET_VALID:
		return "Client.ConsentNotYetValid";
	case NDX_CONSENT_EXPIRED:
		return "Client.ConsentExpired";
	case NDX_CONSENT_WRONG_SUBJECT:
		return "Client.ConsentWrongSubject";
	case NDX_CONSENT_WRONG_CONSUMER:
		return "Client.ConsentWrongConsumer";
	case NDX_CONSENT_SERVICE_NOT_COVERED:
		return "Client.ConsentServiceNotCovered";
	case NDX_CONSENT_WRONG_PURPOSE:
		return "Client.ConsentWrongPurpose";
	case NDX_CONSENT_REVOKED:
		return "Client.ConsentRevoked";
	case NDX_CONSENT_ACCEPTED:
		break;
	}
	return "Client.ConsentMalformed";
}

bool gw_personal_check(struct gw_revocations *revs, const struct ndx_conf *conf,
		       const json_t *service, const char *service_id, const char *client,
		       const struct ndx_http_req *req, time_t now, struct gw_refusal *out)
{
	const char *subject, *purpose, *consent, *why = NULL;
	enum ndx_consent_refusal refusal = NDX_CONSENT_ACCEPTED;
	struct trust_ctx tc = { conf, revs, now, NDX_OK };
	struct ndx_consent_trust trust = { key_lookup, is_revoked, &tc };
	struct ndx_consent_request cr = { 0 };
	char err[256], msg[400];
	int rc;

	memset(out, 0, sizeof *out);
	if (!json_is_true(json_object_get(service, "personal")))
		return true;
	subject = ndx_http_header(req, "Ndx-Subject");
	purpose = ndx_http_header(req, "Ndx-Purpose");
	if (!subject || !subject[0]) {
		/* A list or search registered for bulk reads with this purpose
		 * names no one: the provider system's declaration says whom the
		 * answer is about. */
		if (purpose && purpose[0] && ndx_conf_bulk_allowed(conf, service_id, purpose) &&
		    purpose_allowed(service, purpose) &&
		    !json_is_true(json_object_get(service, "consent_required")))
			return true;
		return deny(out, 400, "Client.SubjectMissing", "Ndx-Subject",
			    "the service returns personal data: Ndx-Subject must name the subject");
	}
	if (ndx_pin_parse(subject, 0, NULL, &why) != NDX_OK) {
		snprintf(msg, sizeof msg, "Ndx-Subject is not a personal identification number: %s",
			 why ? why : "malformed");
		return deny(out, 400, "Client.InvalidRequest", "Ndx-Subject", msg);
	}
	if (!purpose || !purpose[0])
		return deny(out, 403, "Client.PurposeMissing", "Ndx-Purpose",
			    "the service returns personal data: Ndx-Purpose must name a lawful "
			    "purpose");
	if (!purpose_allowed(service, purpose)) {
		snprintf(msg, sizeof msg, "%s may not be called for this purpose", service_id);
		return deny(out, 403, "Client.PurposeNotAllowed", "Ndx-Purpose", msg);
	}
	if (!json_is_true(json_object_get(service, "consent_required")))
		return true;
	consent = ndx_http_header(req, "Ndx-Consent");
	if (!consent || !consent[0]) {
		snprintf(msg, sizeof msg, "%s requires the subject's consent in Ndx-Consent",
			 service_id);
		return deny(out, 403, "Client.ConsentMissing", "Ndx-Consent", msg);
	}
	cr.subject = subject;
	cr.consumer = client;
	cr.service = service_id;
	cr.purpose = purpose;
	cr.now = now;
	err[0] = '\0';
	rc = ndx_consent_verify(consent, strlen(consent), &cr, &trust, NULL, &refusal, err,
				sizeof err);
	if (rc == NDX_OK)
		return true;
	if (rc == NDX_EPERM) {
		/* ndx_consent_verify's sentences never contain a PIN
		 * (protocol.md "Verification"). */
		snprintf(msg, sizeof msg, "the consent is refused (%s): %s",
			 ndx_consent_refusal_name(refusal), err[0] ? err : "refused");
		return deny(out, 403, refusal_type(refusal), "Ndx-Consent", msg);
	}
	if (tc.rev_rc != NDX_OK)
		return deny(out, 503, GW_CONSENT_STATUS_UNKNOWN, "Ndx-Consent",
			    "this gateway holds no current revocation list of the consent's "
			    "issuer; try again later");
	return deny(out, 500, "Server.Internal", NULL, "the consent could not be checked");
}
