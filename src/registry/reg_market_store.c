/* The data marketplace's queries (reg_market_store.h), each written once in
 * the SQL that SQLite and PostgreSQL both speak. Overview:
 * docs/marketplace.md. */
#include "reg_market_store.h"

#include <time.h>

#include "ndx/err.h"
#include "ndx/sqldb.h"
#include "ndx/timefmt.h"

#define NEG_COLUMNS                                                                           \
	"provider_pid, consumer_pid, consumer, client, provider, dataset, service, offer_id,"  \
	" policy, offered_by, state, callback, agreement_id, agreement, agreement_state,"      \
	" not_after, created_at, updated_at"

static void now_text(char out[NDX_TIME_TEXT_LEN])
{
	ndx_time_format(time(NULL), out);
}

int mstore_dataset_add(struct store *st, const char *id, const char *service, const char *event,
		       const char *provider, const char *description)
{
	char now[NDX_TIME_TEXT_LEN];
	now_text(now);
	return ndx_sqldb_exec(store_db(st), "INSERT INTO market_datasets(id, service, event,"
			      " provider, description, created_at) VALUES(?,?,?,?,?,?)", "ssssss",
			      id, service, event ? event : "", provider, description, now);
}

#define DATASET_SELECT                                                                        \
	"SELECT d.id AS id, d.service AS service, d.event AS event, d.provider AS provider,"  \
	" m.name AS provider_name, d.description AS description, d.created_at AS created_at"   \
	" FROM market_datasets d JOIN members m ON m.id = d.provider"

int mstore_dataset_get(struct store *st, const char *id, json_t **out)
{
	return ndx_sqldb_query_one(store_db(st), out, DATASET_SELECT " WHERE d.id = ?", "s", id);
}

int mstore_dataset_list(struct store *st, json_t **out)
{
	return ndx_sqldb_query(store_db(st), out, DATASET_SELECT " ORDER BY d.service, d.event", "");
}

int mstore_dataset_delete(struct store *st, const char *id)
{
	int rc = ndx_sqldb_exec(store_db(st), "DELETE FROM offers WHERE dataset = ?", "s", id);
	return rc ? rc : ndx_sqldb_change(store_db(st), "DELETE FROM market_datasets WHERE id = ?",
					  "s", id);
}

int mstore_offer_add(struct store *st, const char *id, const char *dataset, const char *policy,
		     int64_t classes, int64_t position)
{
	char now[NDX_TIME_TEXT_LEN];
	now_text(now);
	return ndx_sqldb_exec(store_db(st), "INSERT INTO offers(id, dataset, policy, classes,"
			      " position, created_at) VALUES(?,?,?,?,?,?)", "sssiis", id, dataset,
			      policy, classes, position, now);
}

int mstore_offer_list(struct store *st, const char *dataset, json_t **out)
{
	if (dataset)
		return ndx_sqldb_query(store_db(st), out, "SELECT id, dataset, policy, classes FROM"
				       " offers WHERE dataset = ? ORDER BY position", "s",
				       dataset);
	return ndx_sqldb_query(store_db(st), out, "SELECT id, dataset, policy, classes FROM offers"
			       " ORDER BY dataset, position", "");
}

int mstore_offer_get(struct store *st, const char *id, json_t **out)
{
	return ndx_sqldb_query_one(store_db(st), out, "SELECT id, dataset, policy, classes FROM"
				   " offers WHERE id = ?", "s", id);
}

int mstore_neg_add(struct store *st, const struct mstore_neg *n)
{
	char now[NDX_TIME_TEXT_LEN];
	now_text(now);
	/* A new negotiation has no agreement yet (and the PostgreSQL engine
	 * binds at most 16 parameters). */
	int rc = ndx_sqldb_exec(store_db(st), "INSERT INTO negotiations(" NEG_COLUMNS ")"
				" VALUES(?,?,?,?,?,?,?,?,?,?,?,?,NULL,NULL,NULL,0,?,?)",
				"ssssssssssssss", n->provider_pid, n->consumer_pid, n->consumer,
				n->client, n->provider, n->dataset, n->service, n->offer_id,
				n->policy, n->offered_by, n->state, n->callback, now, now);
	if (!rc && n->event && n->event[0])
		rc = ndx_sqldb_exec(store_db(st), "INSERT INTO negotiation_events(provider_pid, event)"
				    " VALUES(?,?)", "ss", n->provider_pid, n->event);
	return rc;
}

int mstore_neg_update(struct store *st, const struct mstore_neg *n)
{
	char now[NDX_TIME_TEXT_LEN];
	now_text(now);
	return ndx_sqldb_change(store_db(st), "UPDATE negotiations SET policy = ?, offered_by = ?,"
				" state = ?, agreement_id = ?, agreement = ?, agreement_state = ?,"
				" not_after = ?, updated_at = ? WHERE provider_pid = ?", "ssssssiss",
				n->policy, n->offered_by, n->state, n->agreement_id, n->agreement,
				n->agreement_state, n->not_after, now, n->provider_pid);
}

int mstore_neg_get(struct store *st, const char *pid, int by_consumer, json_t **out)
{
	return ndx_sqldb_query_one(store_db(st), out,
				   by_consumer ? "SELECT " NEG_COLUMNS " FROM negotiations"
						 " WHERE consumer_pid = ?"
					       : "SELECT " NEG_COLUMNS " FROM negotiations"
						 " WHERE provider_pid = ?", "s", pid);
}

int mstore_neg_list(struct store *st, const char *member, json_t **out)
{
	if (member)
		return ndx_sqldb_query(store_db(st), out, "SELECT " NEG_COLUMNS " FROM negotiations"
				       " WHERE consumer = ? OR provider = ?"
				       " ORDER BY created_at DESC, provider_pid", "ss", member, member);
	return ndx_sqldb_query(store_db(st), out, "SELECT " NEG_COLUMNS " FROM negotiations"
			       " ORDER BY created_at DESC, provider_pid", "");
}

int mstore_neg_event(struct store *st, const char *provider_pid, json_t **out)
{
	return ndx_sqldb_query_one(store_db(st), out, "SELECT event FROM negotiation_events"
				   " WHERE provider_pid = ?", "s", provider_pid);
}

int mstore_agreement_get(struct store *st, const char *agreement_id, json_t **out)
{
	return ndx_sqldb_query_one(store_db(st), out, "SELECT " NEG_COLUMNS " FROM negotiations"
				   " WHERE agreement_id = ?", "s", agreement_id);
}

int mstore_agreements_active(struct store *st, json_t **out)
{
	return ndx_sqldb_query(store_db(st), out, "SELECT n.agreement_id AS agreement_id,"
			       " n.client AS client, n.service AS service, n.agreement AS agreement,"
			       " n.not_after AS not_after, COALESCE(e.event, '') AS event"
			       " FROM negotiations n LEFT JOIN negotiation_events e"
			       " ON e.provider_pid = n.provider_pid"
			       " WHERE n.agreement_state = 'active' ORDER BY n.agreement_id", "");
}

int mstore_agreements_due(struct store *st, int64_t now, json_t **out)
{
	return ndx_sqldb_query(store_db(st), out, "SELECT agreement_id, provider_pid, consumer,"
			       " provider, not_after FROM negotiations WHERE agreement_state ="
			       " 'active' AND not_after > 0 AND not_after <= ? ORDER BY agreement_id",
			       "i", now);
}

int mstore_agreement_set_state(struct store *st, const char *agreement_id, const char *state)
{
	char now[NDX_TIME_TEXT_LEN];
	now_text(now);
	return ndx_sqldb_change(store_db(st), "UPDATE negotiations SET agreement_state = ?,"
				" updated_at = ? WHERE agreement_id = ?", "sss", state, now,
				agreement_id);
}

/* ---- invoices ------------------------------------------------------------------------ */

#define INVOICE_COLUMNS                                                                       \
	"reference, agreement_id, seller, buyer, from_ms, to_ms, amount_vnd, statement_hash,"    \
	" invoice, created_at, paid_at, paid_bank_bin, paid_txn_id"

int mstore_invoice_add(struct store *st, const char *reference, const char *agreement,
		       const char *seller, const char *buyer, int64_t from_ms, int64_t to_ms,
		       int64_t amount_vnd, const char *statement_hash, const char *invoice)
{
	char now[NDX_TIME_TEXT_LEN];
	now_text(now);
	return ndx_sqldb_exec(store_db(st), "INSERT INTO market_invoices(reference, agreement_id,"
			      " seller, buyer, from_ms, to_ms, amount_vnd, statement_hash, invoice,"
			      " created_at) VALUES(?,?,?,?,?,?,?,?,?,?)", "ssssiiisss", reference,
			      agreement, seller, buyer, from_ms, to_ms, amount_vnd, statement_hash,
			      invoice, now);
}

int mstore_invoice_get(struct store *st, const char *reference, json_t **out)
{
	return ndx_sqldb_query_one(store_db(st), out, "SELECT " INVOICE_COLUMNS
				   " FROM market_invoices WHERE reference = ?", "s", reference);
}

int mstore_invoice_overlapping(struct store *st, const char *agreement, int64_t from_ms,
			       int64_t to_ms, json_t **out)
{
	return ndx_sqldb_query_one(store_db(st), out, "SELECT " INVOICE_COLUMNS
				   " FROM market_invoices WHERE agreement_id = ? AND from_ms < ? AND"
				   " to_ms > ? ORDER BY from_ms, reference", "sii", agreement, to_ms,
				   from_ms);
}

int mstore_invoice_list(struct store *st, const char *member, json_t **out)
{
	if (member)
		return ndx_sqldb_query(store_db(st), out, "SELECT " INVOICE_COLUMNS
				       " FROM market_invoices WHERE seller = ? OR buyer = ?"
				       " ORDER BY created_at DESC, reference", "ss", member, member);
	return ndx_sqldb_query(store_db(st), out, "SELECT " INVOICE_COLUMNS
			       " FROM market_invoices ORDER BY created_at DESC, reference", "");
}

int mstore_invoice_pay(struct store *st, const char *reference, const char *bank_bin,
		       const char *txn_id)
{
	char now[NDX_TIME_TEXT_LEN];
	now_text(now);
	return ndx_sqldb_change(store_db(st), "UPDATE market_invoices SET paid_at = ?,"
				" paid_bank_bin = ?, paid_txn_id = ? WHERE reference = ? AND"
				" paid_at IS NULL", "ssss", now, bank_bin, txn_id, reference);
}

/* ---- signed negotiation messages ----------------------------------------------------- */

int mstore_neg_message_add(struct store *st, const char *provider_pid, int64_t seq,
			   const char *sender, const char *hash, const char *jws)
{
	char now[NDX_TIME_TEXT_LEN];
	now_text(now);
	return ndx_sqldb_exec(store_db(st), "INSERT INTO negotiation_messages(provider_pid, seq,"
			      " sender, hash, jws, created_at) VALUES(?,?,?,?,?,?)", "sissss",
			      provider_pid, seq, sender, hash, jws, now);
}

int mstore_neg_message_last(struct store *st, const char *provider_pid, json_t **out)
{
	return ndx_sqldb_query_one(store_db(st), out, "SELECT seq, hash FROM negotiation_messages"
				   " WHERE provider_pid = ? ORDER BY seq DESC LIMIT 1", "s",
				   provider_pid);
}

int mstore_neg_messages(struct store *st, const char *provider_pid, json_t **out)
{
	return ndx_sqldb_query(store_db(st), out, "SELECT seq, sender, hash, jws FROM"
			       " negotiation_messages WHERE provider_pid = ? ORDER BY seq", "s",
			       provider_pid);
}

int mstore_gateway_by_key(struct store *st, const char *member, const char *kid, json_t **out)
{
	return ndx_sqldb_query_one(store_db(st), out, "SELECT code, sign_key FROM gateways"
				   " WHERE member = ? AND sign_key_id = ? ORDER BY code LIMIT 1",
				   "ss", member, kid);
}
