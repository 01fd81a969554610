/* The population registry's verification service (docs/sectors.md
 * "Verification"): POST /verify with a batch of another registry's person
 * records (number, name, birth date, sex, address, living) answers, per
 * record and per field sent, whether the population registry agrees
 * (match / differs / unknown, and for a name "marks", for a date
 * "swapped"), and the likely right number where the record has none or
 * one that is not the person's. It never answers a value the request did
 * not hold, but that number. Every person it compares a record with is a
 * data subject of the answer, so each sees the check in their access list. */
#ifndef NDX_SECTOR_SEC_VERIFY_H
#define NDX_SECTOR_SEC_VERIFY_H

#include "ndx/httpd.h"
#include "pinset.h"
#include "store.h"

/* At most this many records a request: each may concern two people (the
 * number's holder and a candidate), and one answer declares at most
 * PINSET_MAX (docs/protocol.md). */
#define VERIFY_MAX_RECORDS 500
#define NDX_SECTOR_VERIFY_MAX_TEXT "500" /* the same, for the OpenAPI text */
_Static_assert(VERIFY_MAX_RECORDS * 2 <= PINSET_MAX, "two people a record must fit one answer");

/* The verdicts (constant strings). */
#define VERIFY_MATCH "match"
#define VERIFY_DIFFERS "differs"
#define VERIFY_UNKNOWN "unknown"
#define VERIFY_MARKS "marks"     /* a name: the same letters, other diacritics */
#define VERIFY_SWAPPED "swapped" /* a date: day and month swapped */

/* The rules, pure, for the handler and the tests: a name sent against the
 * one held (exact: match; the same once folded: marks; else differs); a
 * date (equal: match; day and month swapped: swapped; else differs); an
 * address (the same once folded: match, else differs). */
const char *verify_name(const char *sent, const char *held);
const char *verify_date(const char *sent, const char *held);
const char *verify_address(const char *sent, const char *held);

/* Answers POST /verify on the population registry's store st, adding to
 * declared the people it compared records with. Refusals: 405 other
 * methods, 400 Client.InvalidRequest naming the field
 * ("records[3].birth_date: ...", also in Ndx-Invalid-Field), 413 more than
 * VERIFY_MAX_RECORDS records, 403 Client.SubjectMismatch when the request
 * names a person (Ndx-Subject) and a record concerns another (the people
 * stay declared, for the gateway to log the attempt), 500 when the store
 * fails. */
void verify_handle(struct store *st, const struct ndx_http_req *req, struct ndx_http_resp *resp,
		   struct pinset *declared);

#endif
