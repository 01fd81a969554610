/* Internal interfaces of ndx-gateway for personal-data services: the purpose
 * and consent checks of the provider port (personal.c) and the consent
 * status lists it consults (revocations.c). Overview: docs/protocol.md
 * "Consent artefacts" and "Revocation". */
#ifndef NDX_GATEWAY_PERSONAL_H
#define NDX_GATEWAY_PERSONAL_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "confstate.h"
#include "errors.h"
#include "ndx/conf.h"
#include "ndx/httpd.h"

/* A list whose generated_at is older than this leaves the revocation state
 * unknown: consent-requiring requests are refused (fail closed). */
#define GW_REVOCATIONS_MAX_AGE_S 60

struct gw_revocations;

/* A new, empty holder reading the configuration and settings of st (which
 * must outlive it); nothing is fetched until gw_revocations_start. */
int gw_revocations_new(struct gw_state *st, struct gw_revocations **out);
/* Adds the fetching of the status lists to the gateway's poller
 * (poller.h): once at its start, then every consent_refresh_s. Free the
 * poller before r. */
struct gw_poller;
int gw_revocations_start(struct gw_revocations *r, struct gw_poller *p);
/* Sets *revoked for the consent at index idx of status list list of issuer
 * and returns NDX_OK when the issuer's held state is fresh (a list its index
 * does not name was not in use when the index was signed: not revoked);
 * NDX_ENOTFOUND (never fetched) or NDX_EEXPIRED (older than
 * GW_REVOCATIONS_MAX_AGE_S at now) otherwise, and the caller must then
 * refuse. r may be NULL (nothing known). Thread-safe. */
int gw_revocations_lookup(struct gw_revocations *r, const char *issuer, uint32_t list,
			  uint32_t idx, time_t now, bool *revoked);
/* NDX_OK when the held state of issuer is fresh at now (consents of issuer
 * can be decided), else as gw_revocations_lookup. Thread-safe. */
int gw_revocations_current(struct gw_revocations *r, const char *issuer, time_t now);
/* Stops the poller and frees everything. Accepts NULL. */
void gw_revocations_free(struct gw_revocations *r);

/* A refusal of the personal-data checks. message never holds a personal
 * identification number. */
struct gw_refusal {
	enum gw_reason reason;
	const char *detail; /* static or NULL */
	char message[512];
};

/* The checks for calling service as client: when service is personal, a
 * valid Ndx-Subject (unless the purpose is one of the service's bulk
 * purposes) and an Ndx-Purpose among its purposes; when it also requires
 * consent, a
 * live consent in Ndx-Consent (ndx_consent_verify against the consent keys
 * of conf and the status lists of revs). Returns true to let the
 * request pass, else false with *out filled. */
bool gw_personal_check(struct gw_revocations *revs, const struct ndx_conf *conf,
		       const struct ndx_conf_service *service, const char *client,
		       const struct ndx_http_req *req, time_t now, struct gw_refusal *out);

#endif
