/* Usage statements of the data marketplace (docs/marketplace.md "Metering
 * and statements"): what one gateway's message log says one agreement was
 * used for in one period — each exchange (X-Road-Id, time, its record's
 * place and hash in the log and the RFC 6962 audit path to its batch's
 * signed tree head), the count, the price of the agreement's policy and
 * the amount due — signed with the gateway's key, so that the other party
 * checks it against its own log, exchange by exchange, with nothing to
 * take on trust. The statement hash and the JSON form are normative:
 * docs/protocol.md "Usage statements". */
#ifndef NDX_USAGE_H
#define NDX_USAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ndx/hash.h"
#include "ndx/key.h"
#include "ndx/merkle.h"
#include "ndx/msglog.h"
#include "ndx/policy.h"

#define NDX_USAGE_FORMAT "ndx-usage-statement/1"
/* Most exchanges one statement lists (its JSON is then near 1 GiB); an
 * agreement used more in a month is stated for shorter periods. */
#define NDX_USAGE_EXCHANGES_MAX 1000000u

struct ndx_usage_exchange {
	char *message_id;              /* X-Road-Id */
	int64_t time_ms;               /* when this side logged it */
	uint64_t seq;                  /* its record in the signer's log */
	uint64_t batch;                /* the batch whose tree head it is proven against */
	uint64_t leaf_index;           /* seq - that head's first_seq */
	uint8_t record_hash[NDX_SHA256_LEN];
	uint8_t (*path)[NDX_SHA256_LEN]; /* audit path (owned), path_len hashes */
	size_t path_len;
};

struct ndx_usage {
	char *agreement;               /* the agreement's id (urn:uuid:...) */
	char *client, *service;        /* its grant: the consumer's client, the service */
	char *gateway;                 /* the signer, "{member}/{code}" */
	enum ndx_msglog_direction side; /* provider: the provider gateway's log */
	int64_t from_ms, to_ms;        /* the period [from, to) */
	int64_t price;                 /* VND, from the agreement's policy */
	enum ndx_price_unit unit;
	int64_t made_ms;               /* when it was signed */
	uint64_t count;                /* exchanges listed */
	int64_t amount;                /* VND due */
	struct ndx_msglog_sth head;    /* the log's newest tree head when it was made */
	struct ndx_msglog_sth *heads;  /* the tree heads of the listed exchanges' batches,
					  ascending, each once */
	size_t nheads, capheads;
	struct ndx_usage_exchange *ex; /* in the log's order */
	size_t nex, capex;
	char key_id[NDX_KEY_ID_HEX_LEN + 1];
	uint8_t signature[NDX_ED25519_SIG_LEN];
};

/* A new, empty statement (copies every string), or NULL when out of
 * memory. Free with ndx_usage_free (accepts NULL). */
struct ndx_usage *ndx_usage_new(const char *agreement, const char *client, const char *service,
				const char *gateway, enum ndx_msglog_direction side,
				int64_t from_ms, int64_t to_ms, int64_t price,
				enum ndx_price_unit unit);
void ndx_usage_free(struct ndx_usage *u);

/* Appends one exchange proven against sth (its batch's tree head, added to
 * u->heads when new). Copies everything. NDX_OK, NDX_ENOMEM, NDX_ETOOBIG
 * (over NDX_USAGE_EXCHANGES_MAX or a path over NDX_MERKLE_MAX_PATH),
 * NDX_EINVAL (not after the previous exchange in the log's order). */
int ndx_usage_add(struct ndx_usage *u, const char *message_id, int64_t time_ms, uint64_t seq,
		  const uint8_t record_hash[NDX_SHA256_LEN], const struct ndx_msglog_sth *sth,
		  uint64_t leaf_index, const uint8_t (*path)[NDX_SHA256_LEN], size_t path_len);

/* The calendar month "YYYY-MM" in Vietnam time (UTC+7) as [from, to) in
 * ms since the epoch: from its first day's midnight in Vietnam to the
 * next month's. NDX_OK or NDX_EINVAL (not YYYY-MM, year 1970-9999). */
int ndx_usage_month_vn(const char *text, int64_t *from_ms, int64_t *to_ms);

/* The amount due for u's exchanges: 0 when free; price x count per call;
 * per month, price x the calendar months (Vietnam time) in which at least
 * one listed exchange took place. NDX_OK, NDX_ETOOBIG (overflow),
 * NDX_ENOMEM. */
int ndx_usage_amount(const struct ndx_usage *u, int64_t *amount);

/* The statement hash (docs/protocol.md "Usage statements"): SHA-256 over
 * the length-prefixed fields, the exchanges' audit paths excepted (they
 * are proofs, checked on their own). */
void ndx_usage_hash(const struct ndx_usage *u, uint8_t out[NDX_SHA256_LEN]);

/* Sets count and amount from the exchanges, head and made_ms, and signs
 * with key (private). NDX_OK, NDX_ETOOBIG (amount overflow), NDX_ENOMEM,
 * NDX_ECRYPTO. */
int ndx_usage_sign(struct ndx_usage *u, const struct ndx_msglog_sth *head, int64_t made_ms,
		   const struct ndx_key *key);

/* The statement as JSON text (format NDX_USAGE_FORMAT, two-space indent);
 * malloc'd, caller frees; NULL when out of memory. */
char *ndx_usage_to_json(const struct ndx_usage *u);
/* Parses a statement (nothing is checked but its form). NDX_OK with *out
 * (free with ndx_usage_free), or NDX_EINVAL / NDX_ETOOBIG with err naming
 * the field. */
int ndx_usage_parse(const char *json, size_t len, struct ndx_usage **out, char *err, size_t cap);

/* Checks everything a statement says about itself, with the signer's
 * public key: the signature; every tree head signed by the key and none
 * newer than head; every exchange in the period, listed once, in the log's
 * order, its leaf folding with its audit path to its batch's root; count
 * and amount as the exchanges make them. NDX_OK, or NDX_EBADSIG with err
 * saying the first thing that does not hold. */
int ndx_usage_check(const struct ndx_usage *u, const struct ndx_key *key, char *err,
		    size_t cap);

/* Which exchanges two statements of the same agreement and period do not
 * share (by X-Road-Id): indexes into theirs->ex present only there, and
 * into ours->ex present only here, ascending; malloc'd arrays (caller frees
 * both, also when empty). NDX_OK or NDX_ENOMEM. */
int ndx_usage_diff(const struct ndx_usage *theirs, const struct ndx_usage *ours,
		   size_t **only_theirs, size_t *n_theirs, size_t **only_ours, size_t *n_ours);

/* The payment reference of the statement whose hash is hash (VietQR
 * 62-08, 25 characters, the form of the treasury's KB… references): "MK"
 * and the hash's first 23 hex digits in upper case, so that a transfer
 * names the statement it pays. */
#define NDX_USAGE_REF_LEN 25
void ndx_usage_reference(const uint8_t hash[NDX_SHA256_LEN], char out[NDX_USAGE_REF_LEN + 1]);

/* The invoice (format "ndx-invoice/1", docs/marketplace.md "Invoices and clearing") of a
 * statement already checked: seller and buyer (the service's and the
 * client's members), the period, unit, count and amount_vnd, the statement
 * hash and signer, the payment reference and the VietQR payload of that
 * amount to the seller's account (bin: a 6-digit NAPAS BIN; account_name
 * may be NULL). NDX_OK with *out (a new reference); NDX_EINVAL with err
 * when nothing is due (free, or no use) or VietQR cannot carry the
 * account; NDX_ENOMEM. */
int ndx_usage_invoice(const struct ndx_usage *u, const char *bin, const char *account,
		      const char *account_name, json_t **out, char *err, size_t cap);

/* "free", "ndx:VNDPerCall", "ndx:VNDPerMonth" (the policy's units). */
const char *ndx_usage_unit_name(enum ndx_price_unit unit);

#endif
