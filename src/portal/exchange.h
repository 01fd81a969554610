/* Registry reads and writes through the portal's own gateway (the X-Road
 * consumer API, docs/protocol.md "Consumer API"): X-Road-Client is the
 * portal's subsystem, Ndx-Subject the citizen, Ndx-Purpose the lawful
 * purpose, Ndx-Consent where the service needs consent, Ndx-Subject-Token
 * when the citizen reads their own data, X-Road-UserId and X-Road-Issue when
 * an officer works a procedure. Also the consent
 * service's API on the citizen's behalf. Overview: docs/portal.md. */
#ifndef NDX_PORTAL_EXCHANGE_H
#define NDX_PORTAL_EXCHANGE_H

#include <jansson.h>

#include "portal.h"

#define SVC_CITIZENS "VN/GOV/BCA/population/citizens"
#define SVC_HOUSEHOLDS "VN/GOV/BCA/population/households"
#define SVC_ENTERPRISES "VN/GOV/BTC/enterprise/enterprises"
#define SVC_OWNERS "VN/GOV/BTC/enterprise/owners"
#define SVC_TAXPAYERS "VN/GOV/TCT/tax/taxpayers"
#define SVC_CONTRIBUTIONS "VN/GOV/BHXH/insurance/contributions"
#define PURPOSE_SERVICE "public-service"
#define PURPOSE_TRANSPARENCY "transparency"

struct xcall {
	const char *method;
	const char *service;   /* service id */
	const char *path;      /* after the service id: "" or "/{id}" or "?q=…" (encoded) */
	const char *subject;   /* Ndx-Subject, or NULL */
	const char *purpose;   /* Ndx-Purpose, or NULL */
	const char *consent;   /* Ndx-Consent, or NULL */
	/* Ndx-Subject-Token: the signed-in citizen's e-ID ID token, proving the
	 * read is the citizen's own (never an expired one: auth_subject_token),
	 * or NULL. */
	const char *subject_token;
	/* An officer's call: X-Road-UserId "{agency member}/{user name}" and
	 * X-Road-Issue "{procedure kind}/{procedure id}", or NULL. */
	const char *user_id;
	const char *issue;
	const json_t *body;    /* sent as JSON, or NULL */
};

struct xresult {
	long status;           /* the HTTP status; 0 when there was no answer */
	json_t *json;          /* the parsed body, or NULL */
	char type[128];        /* X-Road-Error, "" when none */
	/* A gateway's refusal: the reason detail starts with (the gateway's
	 * docs/protocol.md "Errors"), "" when none. */
	char reason[64];
	char message_id[128];  /* X-Road-Id */
};

/* Performs c. Returns NDX_OK when an answer came (check out->status),
 * NDX_ENET / NDX_ETOOBIG / NDX_ENOMEM otherwise. xresult_free always. */
int exchange_call(const struct portal *p, const struct xcall *c, struct xresult *out);
void xresult_free(struct xresult *r);

/* Sets e to 502 "exchange" naming the service and the X-Road error type
 * (or the HTTP status, or "unreachable"), never data. Returns -1. */
int exchange_fail(struct perr *e, const char *service, int rc, const struct xresult *r);

/* The subsystems of the configuration (GET {consumer_url}/listClients,
 * JSON form of PR-META): *out = [{"id": subsystem id, "member_name"}]. */
int exchange_list_clients(const struct portal *p, json_t **out);
/* The name of member (a member id such as "VN/GOV/BTC") in clients, the
 * answer of exchange_list_clients, or "" when it is not there. The string
 * lives as long as clients. */
const char *exchange_member_name(const json_t *clients, const char *member);

/* The consent service's API (docs/protocol.md "The consent service").
 * method/path under the service URL, body may be NULL. *status and *out
 * (parsed JSON or NULL) on NDX_OK. NDX_ENOTFOUND when no consent service
 * is configured. */
int consent_call(const struct portal *p, const char *method, const char *path,
		 const json_t *body, long *status, json_t **out);

#endif
