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

/* How far this gateway's clock may lag the consent service's before a
 * consent issued "from now" reads as not yet valid: time(2) is the kernel's
 * coarse clock, a tick behind the issuer's exact one on the same host, and
 * hosts drift. RFC 7519 section 4.1.5 allows "a few minutes"; one is enough
 * here and never extends exp (docs/protocol.md "Verification", rule 4). */
#define CONSENT_CLOCK_LEEWAY_S 60u

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

static bool deny(struct gw_refusal *out, enum gw_reason reason, const char *detail,
		 const char *msg)
{
	out->reason = reason;
	out->detail = detail;
	snprintf(out->message, sizeof out->message, "%s", msg);
	return false;
}

/* The service's purposes as "a, b, c" into buf (cut to fit). */
static const char *purpose_list(const struct ndx_conf_service *service, char *buf, size_t cap)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < service->npurposes && n < cap; i++)
		n += (size_t)snprintf(buf + n, cap - n, "%s%s", n ? ", " : "",
				      service->purposes[i]);
	if (!buf[0])
		snprintf(buf, cap, "(none registered)");
	return buf;
}

/* What a plain PR-REST client must add to call a personal-data service:
 * ndx's one extension of the protocol (docs/protocol.md "Personal data"). */
static const char *what_to_add(const struct ndx_conf_service *service, const char *service_id,
			       bool subject_missing, bool purpose_missing, char *msg, size_t cap)
{
	char purposes[256];

	purpose_list(service, purposes, sizeof purposes);
	/* A message cut to fit still names the headers: they come first. */
	if (snprintf(msg, cap, "%s returns personal data: add %s%s%s%s", service_id,
		 subject_missing ? "the header Ndx-Subject with the 12-digit personal "
				   "identification number of the person the request is about"
				 : "",
		 subject_missing && purpose_missing ? ", and " : "",
		 purpose_missing ? "the header Ndx-Purpose with one of: " : "",
		 purpose_missing ? purposes : "") >= (int)cap)
		msg[cap - 1] = '\0';
	return msg;
}

static enum gw_reason refusal_reason(enum ndx_consent_refusal r)
{
	switch (r) {
	case NDX_CONSENT_MALFORMED:
		return GW_R_CONSENT_MALFORMED;
	case NDX_CONSENT_UNKNOWN_KEY:
	case NDX_CONSENT_BAD_SIGNATURE:
		return GW_R_CONSENT_BAD_SIGNATURE;
	case NDX_CONSENT_NOT_YET_VALID:
		return GW_R_CONSENT_NOT_YET_VALID;
	case NDX_CONSENT_EXPIRED:
		return GW_R_CONSENT_EXPIRED;
	case NDX_CONSENT_WRONG_SUBJECT:
		return GW_R_CONSENT_WRONG_SUBJECT;
	case NDX_CONSENT_WRONG_CONSUMER:
		return GW_R_CONSENT_WRONG_CONSUMER;
	case NDX_CONSENT_SERVICE_NOT_COVERED:
		return GW_R_CONSENT_SERVICE_NOT_COVERED;
	case NDX_CONSENT_WRONG_PURPOSE:
		return GW_R_CONSENT_WRONG_PURPOSE;
	case NDX_CONSENT_REVOKED:
		return GW_R_CONSENT_REVOKED;
	case NDX_CONSENT_ACCEPTED:
		break;
	}
	return GW_R_CONSENT_MALFORMED;
}

bool gw_personal_check(struct gw_revocations *revs, const struct ndx_conf *conf,
		       const struct ndx_conf_service *service, const char *client,
		       const struct ndx_http_req *req, time_t now, struct gw_refusal *out)
{
	const char *subject, *purpose, *consent, *why = NULL;
	enum ndx_consent_refusal refusal = NDX_CONSENT_ACCEPTED;
	struct trust_ctx tc = { conf, revs, now, NDX_OK };
	struct ndx_consent_trust trust = { key_lookup, is_revoked, &tc };
	struct ndx_consent_request cr = { 0 };
	const char *service_id = service->id;
	char err[256], msg[400];
	int rc;

	memset(out, 0, sizeof *out);
	if (!service->personal)
		return true;
	subject = ndx_http_header(req, "Ndx-Subject");
	purpose = ndx_http_header(req, "Ndx-Purpose");
	if (!subject || !subject[0]) {
		/* A list or search registered for bulk reads with this purpose
		 * names no one: the provider system's declaration says whom the
		 * answer is about. */
		if (purpose && purpose[0] && ndx_conf_bulk_allowed(conf, service_id, purpose) &&
		    ndx_conf_service_has_purpose(service, purpose) && !service->consent_required)
			return true;
		return deny(out, GW_R_SUBJECT_MISSING, "Ndx-Subject",
			    what_to_add(service, service_id, true, !purpose || !purpose[0], msg,
					sizeof msg));
	}
	if (ndx_pin_parse(subject, 0, NULL, &why) != NDX_OK) {
		snprintf(msg, sizeof msg, "Ndx-Subject is not a personal identification number: %s",
			 why ? why : "malformed");
		return deny(out, GW_R_SUBJECT_INVALID, "Ndx-Subject", msg);
	}
	if (!purpose || !purpose[0])
		return deny(out, GW_R_PURPOSE_MISSING, "Ndx-Purpose",
			    what_to_add(service, service_id, false, true, msg, sizeof msg));
	if (!ndx_conf_service_has_purpose(service, purpose)) {
		char allowed[256];
		snprintf(msg, sizeof msg, "%s may not be called for this purpose: Ndx-Purpose must be "
			 "one of %s", service_id, purpose_list(service, allowed, sizeof allowed));
		return deny(out, GW_R_PURPOSE_NOT_ALLOWED, "Ndx-Purpose", msg);
	}
	if (!service->consent_required)
		return true;
	consent = ndx_http_header(req, "Ndx-Consent");
	if (!consent || !consent[0]) {
		snprintf(msg, sizeof msg,
			 "%s requires the subject's consent: add the header Ndx-Consent with the "
			 "consent artefact the subject gave this client (docs/protocol.md "
			 "\"Consent artefacts\")",
			 service_id);
		return deny(out, GW_R_CONSENT_MISSING, "Ndx-Consent", msg);
	}
	cr.subject = subject;
	cr.consumer = client;
	cr.service = service_id;
	cr.purpose = purpose;
	cr.now = now;
	cr.leeway = CONSENT_CLOCK_LEEWAY_S;
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
		return deny(out, refusal_reason(refusal), "Ndx-Consent", msg);
	}
	if (tc.rev_rc != NDX_OK)
		return deny(out, GW_R_CONSENT_STATUS_UNKNOWN, "Ndx-Consent",
			    "this gateway holds no current revocation list of the consent's "
			    "issuer; try again later");
	return deny(out, GW_R_INTERNAL, NULL, "the consent could not be checked");
}
