/* The data marketplace's rows in the registry's database (reg_db.c
 * migration 7): datasets and their offers, negotiations and the
 * agreements they end in. Every function runs inside the caller's
 * store_begin … commit, or store_lock, and returns rows as jansson objects
 * by column name (policy, description and agreement parsed from their
 * JSON text). get answers NDX_ENOTFOUND; add answers NDX_EEXIST for a
 * duplicate key. Overview: docs/marketplace.md. */
#ifndef NDX_REGISTRY_REG_MARKET_STORE_H
#define NDX_REGISTRY_REG_MARKET_STORE_H

#include <jansson.h>
#include <stdint.h>

#include "reg_store.h"

int mstore_dataset_add(struct store *st, const char *id, const char *service, const char *event,
		       const char *provider, const char *description);
/* {id, service, provider, provider_name, description, created_at} */
int mstore_dataset_get(struct store *st, const char *id, json_t **out);
int mstore_dataset_list(struct store *st, json_t **out);
/* Removes the dataset and its offers. */
int mstore_dataset_delete(struct store *st, const char *id);

/* position: the offer's place in its dataset's list, from 0. */
int mstore_offer_add(struct store *st, const char *id, const char *dataset, const char *policy,
		     int64_t classes, int64_t position);
/* {id, dataset, policy, classes}; dataset NULL: every offer. */
int mstore_offer_list(struct store *st, const char *dataset, json_t **out);
int mstore_offer_get(struct store *st, const char *id, json_t **out);

/* A negotiation as stored; the strings are borrowed. agreement_id,
 * agreement and agreement_state are NULL until the provider agrees. */
struct mstore_neg {
	const char *provider_pid, *consumer_pid;
	const char *consumer, *client, *provider;  /* member, grant client, member */
	const char *dataset, *service, *offer_id;
	const char *event;        /* the dataset's event type; NULL or "" for the service */
	const char *policy;       /* compact ODRL of the latest offer */
	const char *offered_by;   /* "consumer" or "provider" */
	const char *state;        /* ndx_neg_state_name */
	const char *callback;
	const char *agreement_id, *agreement, *agreement_state;
	int64_t not_after;        /* Unix seconds, 0 for none */
};
/* A new negotiation: its agreement fields are left empty whatever n says. */
int mstore_neg_add(struct store *st, const struct mstore_neg *n);
/* Writes every field but the keys and the parties. */
int mstore_neg_update(struct store *st, const struct mstore_neg *n);
/* By providerPid (by_consumer 0) or consumerPid (1). */
int mstore_neg_get(struct store *st, const char *pid, int by_consumer, json_t **out);
/* The negotiations member takes part in (NULL: all), newest first. */
int mstore_neg_list(struct store *st, const char *member, json_t **out);
/* {event} of an event type's negotiation; NDX_ENOTFOUND for a service's. */
int mstore_neg_event(struct store *st, const char *provider_pid, json_t **out);
int mstore_agreement_get(struct store *st, const char *agreement_id, json_t **out);
/* The agreements in force ({agreement_id, client, service, agreement,
 * not_after, event}: event "" for a service's agreement, the event type's
 * name for one's that is a subscription), by agreement id. */
int mstore_agreements_active(struct store *st, json_t **out);
/* The agreements in force whose not_after is at or before now. */
int mstore_agreements_due(struct store *st, int64_t now, json_t **out);
/* Sets an agreement's state ("terminated", "expired"). */
int mstore_agreement_set_state(struct store *st, const char *agreement_id, const char *state);

/* Invoices (docs/marketplace.md "Invoices and clearing"). Rows: {reference,
 * agreement_id, seller, buyer, from_ms, to_ms, amount_vnd, statement_hash,
 * invoice (the document, parsed), created_at, paid_at, paid_bank_bin,
 * paid_txn_id}. add: NDX_EEXIST for a reference, statement or agreement
 * and period recorded already. */
int mstore_invoice_add(struct store *st, const char *reference, const char *agreement,
		       const char *seller, const char *buyer, int64_t from_ms, int64_t to_ms,
		       int64_t amount_vnd, const char *statement_hash, const char *invoice);
int mstore_invoice_get(struct store *st, const char *reference, json_t **out);
/* The first invoice of the agreement whose period overlaps [from_ms,
 * to_ms) (the same period included). */
int mstore_invoice_overlapping(struct store *st, const char *agreement, int64_t from_ms,
			       int64_t to_ms, json_t **out);
/* The invoices member sells or buys under (NULL: all), newest first. */
int mstore_invoice_list(struct store *st, const char *member, json_t **out);
/* Marks an unpaid invoice paid: NDX_ENOTFOUND when it is not unpaid,
 * NDX_EEXIST when the bank's transaction paid another invoice. */
int mstore_invoice_pay(struct store *st, const char *reference, const char *bank_bin,
		       const char *txn_id);

/* Signed negotiation messages (docs/marketplace.md "Signed negotiations",
 * migration 13): one row per accepted message, seq from 1 in its
 * negotiation. add: NDX_EEXIST when the seq or the hash is taken (a
 * message accepted concurrently, or the same message again). last: {seq,
 * hash} of the newest, NDX_ENOTFOUND for a plain negotiation. messages:
 * {seq, sender, hash, jws} in order. */
int mstore_neg_message_add(struct store *st, const char *provider_pid, int64_t seq,
			   const char *sender, const char *hash, const char *jws);
int mstore_neg_message_last(struct store *st, const char *provider_pid, json_t **out);
int mstore_neg_messages(struct store *st, const char *provider_pid, json_t **out);
/* {code, sign_key (base64 raw Ed25519)} of member's gateway whose current
 * signing key has id kid; NDX_ENOTFOUND when none has. */
int mstore_gateway_by_key(struct store *st, const char *member, const char *kid, json_t **out);

#endif
