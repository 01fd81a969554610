/* The two procedures of the portal and their state machines
 * (docs/portal.md "Procedures"): the form's fields checked, the prefill
 * read from the registries, a household business checked for a duplicate
 * name, and on an officer's approval the registry writes through the
 * exchange (submitted -> approved -> completed | failed; submitted ->
 * rejected). Every function answers with a new JSON value in *out or fills
 * e and returns -1. */
#ifndef NDX_PORTAL_PROCEDURES_H
#define NDX_PORTAL_PROCEDURES_H

#include <jansson.h>
#include <time.h>

#include "config.h"
#include "portal.h"
#include "store.h"

/* GET /api/prefill/{kind}: {"fields":{…}}. */
int proc_prefill(const struct portal *p, const struct psession *s, const char *kind,
		 json_t **out, struct perr *e);
/* POST /api/procedures: the new procedure (201). */
int proc_submit(const struct portal *p, const struct psession *s, const json_t *body,
		json_t **out, struct perr *e);
/* POST /api/officer/procedures/{id}/decision: the procedure after it. */
int proc_decide(const struct portal *p, const struct psession *s, const char *id,
		const json_t *body, json_t **out, struct perr *e);
/* The officer's file of procedure proc (the officer of session s opening
 * it): adds "applicant_record", the applicant's population record read
 * through the exchange with the officer as X-Road-UserId and the procedure
 * as X-Road-Issue, or null when it cannot be read; and for a household
 * business still submitted "name_check": {"business_name", "registered"}
 * (the enterprise registry searched by name as an approval does), or null
 * when the registry cannot be asked. -1 on allocation failure only. */
int proc_officer_view(const struct portal *p, const struct psession *s, json_t *proc);
/* Whether the session may see procedure proc (its citizen, or an officer
 * of its agency). */
int proc_visible(const struct psession *s, const json_t *proc);
/* Adds "agency_name" to the procedure doc, or to each of doc's
 * "procedures": the name the signed global configuration gives the
 * handling agency (the portal's gateway's listClients), so that people
 * read a name, never a member id. When the configuration cannot be read
 * the names are left out (the web UI then says "the handling agency");
 * the procedures are still answered. */
void proc_name_agencies(const struct portal *p, json_t *doc);
/* Adds "fee_vnd" (the procedure's legal fee, 0 when free) to the
 * procedure doc, or to each of doc's "procedures". */
void proc_add_fees(json_t *doc);
/* GET /api/procedures/{id}/payment: the fee of procedure id and how its
 * applicant pays it. The State Treasury's payment order (made on the first
 * call, the same one after) is asked for through the exchange; when it is
 * paid an "unpaid" procedure moves on to "submitted". Answers
 * {"amount_vnd", "reference", "status" (open|paid), "bank_bin", "account",
 * "account_name", "payload" (VietQR), "svg" (its QR image), "banks"
 * [{"name","url"}], "state"}; 404 for a procedure that is not the
 * session's citizen's or has no fee, 503 payment_unavailable without
 * "payment" in the configuration, 502 when the treasury cannot be asked. */
int proc_payment(const struct portal *p, const struct psession *s, const char *id,
		 json_t **out, struct perr *e);
/* POST /api/officer/procedures/{id}/assignment {"action":"take"|"release"}:
 * the officer of session s takes the procedure (it is theirs to decide
 * from then on) or gives it back; the procedure after it. 404 when not
 * the officer's agency's, 422 for another action, 409 "conflict" with
 * fields {"assigned_to": user} when another officer holds it or {"state":
 * S} when it is no longer open (submitted or failed). */
int proc_hold(const struct portal *p, const struct psession *s, const char *id,
	      const json_t *body, json_t **out, struct perr *e);
/* Adds "deadline" to the procedure doc, or to each of doc's "procedures":
 * {"date" (Vietnam, YYYY-MM-DD), "working_days", "basis" (the legal text
 * setting the figure), "overdue" (still open after that day as of now)},
 * or null while it has not reached the officers. Working days are Monday
 * to Friday, less cfg's public holidays. */
void proc_add_deadlines(const struct pconfig *cfg, json_t *doc, time_t now);
/* Removes what only officers read (who holds it) from the procedure doc,
 * or from each of doc's "procedures". */
void proc_for_citizen(json_t *doc);
/* POST /api/officer/procedures/{id}/information-request {"question"}:
 * the officer of session s asks the citizen for more information
 * (submitted -> information_requested; the officer holds it from then
 * on, and the citizen is notified). 404 when not the officer's agency's,
 * 409 conflict {"assigned_to"} when another officer holds it or
 * {"state"} when it is not submitted, 422 without a question (1 to 1000
 * characters). */
int proc_request_info(const struct portal *p, const struct psession *s, const char *id,
		      const json_t *body, json_t **out, struct perr *e);
/* POST /api/procedures/{id}/answer {"answer", "attachments"?: [ids]}: the
 * citizen answers the open request (information_requested -> submitted),
 * with files uploaded before (attach.h). 404 when the application is not
 * theirs, 409 conflict {"state"} when nothing is asked, 422 without an
 * answer (1 to 2000 characters) or with a file that is not this
 * application's or is already another answer's. */
int proc_answer(const struct portal *p, const struct psession *s, const char *id,
		const json_t *body, json_t **out, struct perr *e);
/* Whether state is one of the procedure states. */
int proc_state_known(const char *state);

#endif
