/* Cases (docs/monitoring.md "Cases"): each finding of the misuse detector
 * (misuse.h), and each read a citizen did not recognise, becomes one case
 * for the operator: what was read, by whom, why it was flagged, the
 * evidence (the reads with their message-log inclusion proofs, fetched
 * from the provider gateways by the collector) and a triage:
 *
 *   open --escalate--> escalated
 *   open | escalated --confirm--> confirmed   (final)
 *   open | escalated --dismiss (reason required)--> dismissed   (final)
 *
 * Every step is a row of the case's history. A dismissal also marks its
 * finding dismissed, which is how a dismissal teaches the detector's
 * baselines; the finding's key stays, so the detector never reopens it.
 * A confirmed case is what the citizen sees (cases_subject). Each function
 * takes the store's lock (mstore_lock) for one transaction. */
#ifndef NDX_MONITOR_CASES_H
#define NDX_MONITOR_CASES_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "mstore.h"

/* Reads of one case whose proofs are fetched (the earliest first): a bulk
 * finding's thousand reads need not be a thousand proofs to be shown. */
#define CASES_EVIDENCE_MAX 20
/* Attempts at one proof before it is given up (ProofNotReady, the
 * gateway down): one a collection round, so about an hour at 10 s. */
#define CASES_PROOF_ATTEMPTS 360

/* Opens a case for every finding that has none (state open, or dismissed
 * for a finding already dismissed), with its first history row and its
 * evidence rows, the proofs still to fetch. *opened (may be NULL) is how
 * many. Idempotent: a crash between the detector's commit and this one
 * opens the cases at the next call. */
int cases_open_new(struct mstore *st, int64_t now_ms, unsigned *opened);

/* Up to max pieces of evidence still without a final outcome, the oldest
 * case first: [{"case_id", "read_id", "gateway", "seq", "message_id"}]. */
int cases_evidence_pending(struct mstore *st, unsigned max, json_t **out);

/* Records one fetch: proof (the gateway's JSON text, checked by the
 * caller) with key_pem (the gateway's signing key it was checked with),
 * or error; a non-final error is tried again at the next round, until
 * CASES_PROOF_ATTEMPTS. */
int cases_evidence_set(struct mstore *st, int64_t case_id, int64_t read_id, const char *proof,
		       const char *key_pem, const char *error, bool final, int64_t now_ms);

/* GET /api/cases: state NULL = open and escalated, "all", or one state;
 * member (canonical) and kind NULL = any; newest first, at most limit.
 * {"cases": [{"id", "kind", "state", "client", "client_member",
 * "user_id", "subject", "opened_ms", "updated_ms", "why", "reads"}]} */
struct cases_filter {
	const char *state, *member, *kind;
	unsigned limit;
};
int cases_list(struct mstore *st, const struct cases_filter *f, json_t **out);

/* One case with its "history" and "evidence" (docs/monitoring.md
 * "Cases"). NDX_ENOTFOUND when there is none. */
int cases_get(struct mstore *st, int64_t id, json_t **out);

/* A triage step: action confirm | dismiss | escalate by actor (1 to 200
 * bytes of text) with reason (required for dismiss, at most 1000 bytes).
 * NDX_OK; NDX_EINVAL (the request is wrong: *why), NDX_ENOTFOUND (no such
 * case), NDX_EPERM (the case's state does not allow it: *why); NDX_EDB. */
int cases_triage(struct mstore *st, int64_t id, const char *action, const char *reason,
		 const char *actor, int64_t now_ms, const char **why);

/* Writes the name of member and the title of service, as people know
 * them, into the buffers (their ids when it knows no better). */
typedef void (*cases_namer)(void *ctx, const char *member, const char *service,
			    char *member_name, size_t mcap, char *service_title, size_t scap);

/* What the citizen with personal number subject sees: the confirmed cases
 * whose reads concern them, each with only their own reads and a plain
 * explanation in Vietnamese and English naming the agency and the service
 * as namer(namer_ctx, ...) names them (NULL: by their ids); never another
 * person's number nor a proof. A JSON array. */
int cases_subject(struct mstore *st, const char *subject, cases_namer namer, void *namer_ctx,
		  json_t **out);

/* A citizen did not recognise a read: the read of gateway with seq (when
 * seq > 0) or message_id, which must concern subject (NDX_ENOTFOUND
 * otherwise), becomes a citizen-report case (its finding keyed by the
 * read, so a second report finds the same case: *created false). note is
 * the citizen's words (may be NULL or ""), kept in the case's history. */
int cases_report(struct mstore *st, const char *subject, const char *gateway, int64_t seq,
		 const char *message_id, const char *note, int64_t now_ms, int64_t *case_id,
		 bool *created);

/* Cases still to be dealt with, for /metrics: calls fn for every kind of
 * misuse.h and each of the states open and escalated, with the count (0
 * included). */
int cases_open_counts(struct mstore *st,
		      void (*fn)(void *ctx, const char *kind, const char *state, uint64_t n),
		      void *ctx);

#endif
