/* What the misuse detector reads (misuse.h), kept in monitor.db: the
 * personal-data reads the collector gets from every provider gateway
 * (GET /o1/{gateway}/accesses), the procedures the portal pushes, the
 * mandates the operator registers. Each function takes the store's lock
 * (mstore_lock) for its own transaction. */
#ifndef NDX_MONITOR_MREADS_H
#define NDX_MONITOR_MREADS_H

#include <jansson.h>
#include <stdint.h>

#include "mstore.h"

/* The next access to ask gateway for: the highest seq it has scanned for
 * this service (its next_after), 0 = none. */
int mreads_cursor(struct mstore *st, const char *gateway, uint64_t *after);

/* Keeps one page of a gateway's accesses answer ({"accesses": [...],
 * "next_after"}) in one transaction with the gateway's new cursor (the
 * highest of next_after and the seqs seen): each access a row of reads and
 * one row of read_subjects per subject. An access already held (same
 * gateway and seq) is skipped; a malformed one (a field missing or of the
 * wrong type, a client that is no member or subsystem id, a subject that
 * is no personal number, a time more than 5 minutes after now_ms) is
 * refused and counted in *bad, with one line on stderr naming the field
 * (never a subject). NDX_OK or NDX_EDB. */
int mreads_add_page(struct mstore *st, const char *gateway, const json_t *accesses,
		    int64_t next_after, int64_t now_ms, size_t *added, size_t *bad);

/* Checks one procedure as the portal pushes it ({"id", "kind", "subject",
 * "agency", "opened_ms", "closed_ms": null | N}); NULL when it is good,
 * else a static sentence that starts with the field at fault. */
const char *mreads_procedure_refusal(const json_t *p, int64_t now_ms);

/* Inserts or replaces each procedure of list (all checked with
 * mreads_procedure_refusal first) in one transaction; the agency is stored
 * canonical. NDX_OK, NDX_EINVAL (one does not pass the check: nothing is
 * kept), NDX_EDB. */
int mreads_procedures_upsert(struct mstore *st, const json_t *list, int64_t now_ms);

/* Mandates: a client's standing legal basis to read a service for a
 * purpose without a procedure. client a member or subsystem id, service a
 * service id (both canonical after the check), purpose and basis display
 * text. add: NDX_OK with *id, NDX_EINVAL (*why says which field),
 * NDX_EEXIST (the same client, service and purpose), NDX_EDB. */
int mreads_mandate_add(struct mstore *st, const char *client, const char *service,
		       const char *purpose, const char *basis, int64_t now_ms, int64_t *id,
		       const char **why);
/* {"mandates": [{"id", "client", "service", "purpose", "basis",
 * "created_ms"}]} in id order. */
int mreads_mandates(struct mstore *st, json_t **out);
/* NDX_OK, NDX_ENOTFOUND, NDX_EDB. */
int mreads_mandate_remove(struct mstore *st, int64_t id);

/* Deletes the reads made before cutoff_ms that no finding names (with
 * their subjects and explanations): the reads of a finding stay while
 * its case is kept. *deleted is how many. */
int mreads_prune(struct mstore *st, int64_t cutoff_ms, uint64_t *deleted);

#endif
