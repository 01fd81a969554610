/* The connector's store and protocol logic (connector.h). */
#include "connector.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gwconfig.h"
#include "signer.h"
#include "ndx/err.h"
#include "ndx/id.h"
#include "ndx/negmsg.h"
#include "ndx/sqldb.h"

#define DSP_CONTEXT "https://w3id.org/dspace/2025/1/context.jsonld"

/* Migration n is MIGRATIONS[n-1]; append, never edit.
 * negotiations.role: 'consumer' or 'provider' (this gateway's side);
 * reg_state (provider): 0 nothing to record, 1 the chain waits for the
 * registry, 2 recorded, 3 refused by the registry.
 * messages.delivery: 0 received from the other side, 1 this side's
 * waiting in the outbox, 2 delivered, 3 given up. */
static const char *const MIGRATIONS[] = {
	"CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"CREATE TABLE negotiations(id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" role TEXT NOT NULL CHECK(role IN ('consumer', 'provider')),"
	" consumer_pid TEXT NOT NULL, provider_pid TEXT, counterparty TEXT NOT NULL,"
	" client TEXT, dataset TEXT, offer TEXT, agreement TEXT, state TEXT NOT NULL,"
	" last_hash TEXT, nmessages INTEGER NOT NULL DEFAULT 0,"
	" reg_state INTEGER NOT NULL DEFAULT 0, reg_attempts INTEGER NOT NULL DEFAULT 0,"
	" reg_next_ms INTEGER NOT NULL DEFAULT 0, agreement_id TEXT, conf_version INTEGER,"
	" last_error TEXT, created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL);"
	"CREATE UNIQUE INDEX negotiations_cpid ON negotiations(role, counterparty, consumer_pid);"
	"CREATE UNIQUE INDEX negotiations_ppid ON negotiations(role, provider_pid);"
	"CREATE TABLE messages(neg INTEGER NOT NULL REFERENCES negotiations(id),"
	" seq INTEGER NOT NULL, sender TEXT NOT NULL, path TEXT NOT NULL, hash TEXT NOT NULL,"
	" jws TEXT NOT NULL, delivery INTEGER NOT NULL CHECK(delivery IN (0, 1, 2, 3)),"
	" attempts INTEGER NOT NULL DEFAULT 0, next_ms INTEGER NOT NULL DEFAULT 0, error TEXT,"
	" PRIMARY KEY(neg, seq));"
	"CREATE INDEX messages_outbox ON messages(next_ms) WHERE delivery = 1;",
};

/* PostgreSQL schema version n is PG_SCHEMA[n-1]; append, never edit. The
 * same tables in PostgreSQL's types; meta's pg_schema row holds the
 * version, connector_store marks a finished init. */
static const char *const PG_SCHEMA[] = {
	"CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"CREATE TABLE negotiations(id BIGSERIAL PRIMARY KEY,"
	" role TEXT NOT NULL CHECK(role IN ('consumer', 'provider')),"
	" consumer_pid TEXT NOT NULL, provider_pid TEXT, counterparty TEXT NOT NULL,"
	" client TEXT, dataset TEXT, offer TEXT, agreement TEXT, state TEXT NOT NULL,"
	" last_hash TEXT, nmessages BIGINT NOT NULL DEFAULT 0,"
	" reg_state BIGINT NOT NULL DEFAULT 0, reg_attempts BIGINT NOT NULL DEFAULT 0,"
	" reg_next_ms BIGINT NOT NULL DEFAULT 0, agreement_id TEXT, conf_version BIGINT,"
	" last_error TEXT, created_ms BIGINT NOT NULL, updated_ms BIGINT NOT NULL);"
	"CREATE UNIQUE INDEX negotiations_cpid ON negotiations(role, counterparty, consumer_pid);"
	"CREATE UNIQUE INDEX negotiations_ppid ON negotiations(role, provider_pid);"
	"CREATE TABLE messages(neg BIGINT NOT NULL REFERENCES negotiations(id),"
	" seq BIGINT NOT NULL, sender TEXT NOT NULL, path TEXT NOT NULL, hash TEXT NOT NULL,"
	" jws TEXT NOT NULL, delivery BIGINT NOT NULL CHECK(delivery IN (0, 1, 2, 3)),"
	" attempts BIGINT NOT NULL DEFAULT 0, next_ms BIGINT NOT NULL DEFAULT 0, error TEXT,"
	" PRIMARY KEY(neg, seq));"
	"CREATE INDEX messages_outbox ON messages(next_ms) WHERE delivery = 1;"
	"INSERT INTO meta(key, value) VALUES('pg_schema', '1');"
	"INSERT INTO meta(key, value) VALUES('connector_store', '1');",
};

static const struct ndx_sqldb_desc DESC = {
	.prog = GW_PROG ": connector",
	.what = "gateway connector store",
	.init_key = "connector_store",
	.migrations = MIGRATIONS,
	.n_migrations = sizeof MIGRATIONS / sizeof *MIGRATIONS,
	.pg_schema = PG_SCHEMA,
	.n_pg_schema = sizeof PG_SCHEMA / sizeof *PG_SCHEMA,
};

struct gw_conn_store {
	struct ndx_sqldb *db;
};

__attribute__((format(printf, 4, 5))) static int refuse(struct gw_conn_refusal *r, int status,
							 const char *code, const char *fmt, ...)
{
	va_list ap;

	if (r) {
		r->status = status;
		r->code = code;
		va_start(ap, fmt);
		vsnprintf(r->reason, sizeof r->reason, fmt, ap);
		va_end(ap);
	}
	return NDX_EINVAL;
}

static int db_failed(struct gw_conn_refusal *r, int rc)
{
	if (r) {
		r->status = 500;
		r->code = "Server.InternalError";
		snprintf(r->reason, sizeof r->reason, "the connector store cannot be written");
	}
	return rc;
}

int gw_conn_store_open(const char *path, struct gw_conn_store **out)
{
	struct gw_conn_store *s;
	int rc;

	*out = NULL;
	if (!(s = calloc(1, sizeof *s)))
		return NDX_ENOMEM;
	/* Made at the first start: a SQLite file that is not there yet, a
	 * PostgreSQL schema without the store (create says NDX_EEXIST when
	 * it has it). */
	if (ndx_sqldb_is_pg(path)) {
		rc = ndx_sqldb_open(&DESC, path, true, &s->db);
		if (rc == NDX_EEXIST)
			rc = ndx_sqldb_open(&DESC, path, false, &s->db);
	} else {
		rc = ndx_sqldb_open(&DESC, path, access(path, F_OK) != 0, &s->db);
	}
	if (rc != NDX_OK) {
		free(s);
		return rc;
	}
	*out = s;
	return NDX_OK;
}

void gw_conn_store_close(struct gw_conn_store *s)
{
	if (!s)
		return;
	s->db->ops->close(s->db);
	free(s);
}

static const char *role_name(enum ndx_neg_role r)
{
	return r == NDX_NEG_CONSUMER ? "consumer" : "provider";
}

int gw_conn_path(enum ndx_neg_role role, enum ndx_neg_msg msg, bool init, const char *cpid,
		 const char *ppid, char *out, size_t cap)
{
	const char *suffix = NULL;
	int n;

	if (role == NDX_NEG_CONSUMER) {
		if (msg == NDX_NEG_MSG_REQUEST && init)
			return snprintf(out, cap, "/dsp/negotiations/request") < (int)cap ? NDX_OK
											  : NDX_EINVAL;
		switch (msg) {
		case NDX_NEG_MSG_REQUEST: suffix = "request"; break;
		case NDX_NEG_MSG_ACCEPTED: suffix = "events"; break;
		case NDX_NEG_MSG_VERIFICATION: suffix = "agreement/verification"; break;
		case NDX_NEG_MSG_TERMINATION: suffix = "termination"; break;
		default: return NDX_EINVAL;
		}
		if (!ppid || !ppid[0])
			return NDX_EINVAL;
		n = snprintf(out, cap, "/dsp/negotiations/%s/%s", ppid, suffix);
	} else {
		switch (msg) {
		case NDX_NEG_MSG_OFFER: suffix = "offers"; break;
		case NDX_NEG_MSG_AGREEMENT: suffix = "agreement"; break;
		case NDX_NEG_MSG_FINALIZED: suffix = "events"; break;
		case NDX_NEG_MSG_TERMINATION: suffix = "termination"; break;
		default: return NDX_EINVAL;
		}
		if (!cpid || !cpid[0])
			return NDX_EINVAL;
		n = snprintf(out, cap, "/dsp/consumer/negotiations/%s/%s", cpid, suffix);
	}
	return n > 0 && (size_t)n < cap ? NDX_OK : NDX_EINVAL;
}

static bool same_member(const json_t *a, const json_t *b, const char *k)
{
	const json_t *x = json_object_get(a, k), *y = json_object_get(b, k);

	if (!x && !y)
		return true;
	if (!x || !y)
		return false;
	return json_equal(x, y);
}

bool gw_conn_same_terms(const json_t *a, const json_t *b)
{
	return json_is_object(a) && json_is_object(b) && same_member(a, b, "permission") &&
	       same_member(a, b, "prohibition") && same_member(a, b, "obligation");
}

static const char *text(const json_t *row, const char *k)
{
	const char *v = json_string_value(json_object_get(row, k));

	return v ? v : "";
}

static int load_row(struct gw_conn_store *s, int64_t neg, json_t **row)
{
	return ndx_sqldb_query_one(s->db, row, "SELECT * FROM negotiations WHERE id = ?", "i",
				   neg);
}

/* The message's own pids, when present, are the negotiation's. */
static bool pids_match(const json_t *m, const json_t *row)
{
	const char *c = json_string_value(json_object_get(m, "consumerPid"));
	const char *p = json_string_value(json_object_get(m, "providerPid"));
	const char *rp = json_string_value(json_object_get(row, "provider_pid"));

	if (!c || strcmp(c, text(row, "consumer_pid")) != 0)
		return false;
	if (p && rp && strcmp(p, rp) != 0)
		return false;
	return true;
}

/* Stores message seq of neg and moves the negotiation, in the open
 * transaction. */
static int append(struct gw_conn_store *s, int64_t neg, int64_t seq, const char *sender,
		  const char *path, const char *hash, const char *jws, int delivery,
		  enum ndx_neg_state to, const char *offer, const char *agreement,
		  const char *ppid, int reg_state, int64_t now_ms)
{
	int rc = ndx_sqldb_exec(s->db,
				"INSERT INTO messages(neg, seq, sender, path, hash, jws, delivery,"
				" next_ms) VALUES(?, ?, ?, ?, ?, ?, ?, ?)",
				"iissssii", neg, seq, sender, path, hash, jws, (int64_t)delivery,
				now_ms);

	if (rc != NDX_OK)
		return rc;
	return ndx_sqldb_change(
		s->db,
		"UPDATE negotiations SET state = ?, last_hash = ?, nmessages = ?,"
		" offer = COALESCE(?, offer), agreement = COALESCE(?, agreement),"
		" provider_pid = COALESCE(provider_pid, ?),"
		" reg_state = CASE WHEN ? > 0 THEN ? ELSE reg_state END, updated_ms = ?"
		" WHERE id = ?",
		"ssisssiiii", ndx_neg_state_name(to), hash, seq, offer, agreement, ppid,
		(int64_t)reg_state, (int64_t)reg_state, now_ms, neg);
}

int gw_conn_start(struct gw_conn_store *s, const char *self, const struct ndx_key *key,
		  const char *provider, const char *client, const json_t *offer, int64_t now_ms,
		  int64_t *neg, struct gw_conn_refusal *r)
{
	char cpid[9 + GW_UUID_LEN], uuid[GW_UUID_LEN], err[256], hash[NDX_NEGMSG_HASH_LEN + 1];
	const char *dataset = json_string_value(json_object_get(offer, "target"));
	char *offer_text = NULL, *body_text = NULL, *jws = NULL;
	json_t *body = NULL, *row = NULL;
	int rc;

	if (!json_is_object(offer) || !json_is_string(json_object_get(offer, "@id")) || !dataset)
		return refuse(r, 400, "Client.InvalidRequest",
			      "the offer needs an \"@id\" and a \"target\" (the dataset)");
	if (strcmp(provider, self) == 0)
		return refuse(r, 400, "Client.InvalidRequest",
			      "%s cannot negotiate with itself", self);
	if (gw_uuid(uuid) != NDX_OK)
		return db_failed(r, NDX_ECRYPTO);
	snprintf(cpid, sizeof cpid, "urn:uuid:%s", uuid);
	body = json_pack("{s[s]sssssOss}", "@context", DSP_CONTEXT, "@type",
			 "ContractRequestMessage", "consumerPid", cpid, "offer", offer,
			 "callbackAddress", "ndx:exchange");
	if (!body || (client && json_object_set_new(body, "ndx:client", json_string(client))) ||
	    !(body_text = json_dumps(body, JSON_COMPACT)) ||
	    !(offer_text = json_dumps(offer, JSON_COMPACT))) {
		rc = db_failed(r, NDX_ENOMEM);
		goto out;
	}
	rc = ndx_negmsg_sign(key, body_text, strlen(body_text), self, "/dsp/negotiations/request",
			     NULL, now_ms, &jws, err, sizeof err);
	if (rc != NDX_OK) {
		rc = refuse(r, 400, "Client.InvalidRequest", "cannot sign the request: %s", err);
		goto out;
	}
	ndx_negmsg_hash(jws, strlen(jws), hash);
	if ((rc = s->db->ops->begin(s->db)) != NDX_OK) {
		rc = db_failed(r, rc);
		goto out;
	}
	rc = ndx_sqldb_query_one(s->db, &row,
				 "INSERT INTO negotiations(role, consumer_pid, counterparty, client,"
				 " dataset, state, created_ms, updated_ms) VALUES('consumer', ?, ?, ?,"
				 " ?, 'NONE', ?, ?) RETURNING id",
				 "ssssii", cpid, provider, client, dataset, now_ms, now_ms);
	if (rc == NDX_OK) {
		*neg = ndx_sqldb_int(row, "id");
		rc = append(s, *neg, 1, self, "/dsp/negotiations/request", hash, jws, 1,
			    NDX_NEG_REQUESTED, offer_text, NULL, NULL, 0, now_ms);
	}
	if (rc == NDX_OK)
		rc = s->db->ops->commit(s->db);
	if (rc != NDX_OK) {
		s->db->ops->rollback(s->db);
		rc = db_failed(r, rc);
	}
out:
	json_decref(row);
	json_decref(body);
	free(body_text);
	free(offer_text);
	free(jws);
	return rc;
}

int gw_conn_send(struct gw_conn_store *s, const char *self, const struct ndx_key *key,
		 int64_t neg, enum ndx_neg_msg msg, const json_t *extra, int64_t now_ms,
		 struct gw_conn_refusal *r)
{
	json_t *row = NULL, *body = NULL;
	char path[NDX_NEGMSG_PATH_MAX + 1], err[256], hash[NDX_NEGMSG_HASH_LEN + 1];
	char *body_text = NULL, *jws = NULL, *offer = NULL, *agreement = NULL;
	enum ndx_neg_role role;
	enum ndx_neg_state from, to;
	const char *key_name;
	const json_t *v;
	int rc;

	if ((rc = s->db->ops->begin(s->db)) != NDX_OK)
		return db_failed(r, rc);
	if ((rc = load_row(s, neg, &row)) != NDX_OK) {
		s->db->ops->rollback(s->db);
		return rc == NDX_ENOTFOUND ? refuse(r, 404, "Client.NotFound",
						    "no negotiation %lld", (long long)neg)
					   : db_failed(r, rc);
	}
	role = strcmp(text(row, "role"), "consumer") == 0 ? NDX_NEG_CONSUMER : NDX_NEG_PROVIDER;
	from = ndx_neg_state_of(text(row, "state"));
	to = ndx_neg_next(from, role, msg);
	if (to == NDX_NEG_NONE) {
		rc = refuse(r, 400, "Client.InvalidTransition", "the %s cannot send a %s in state %s",
			    role_name(role), ndx_neg_msg_type(msg), ndx_neg_state_name(from));
		goto fail;
	}
	if (role == NDX_NEG_CONSUMER && ndx_sqldb_is_null(row, "provider_pid")) {
		rc = refuse(r, 409, "Client.NotYetAnswered",
			    "the provider has not answered the initial request yet");
		goto fail;
	}
	if (gw_conn_path(role, msg, false, text(row, "consumer_pid"), text(row, "provider_pid"),
			 path, sizeof path) != NDX_OK) {
		rc = refuse(r, 400, "Client.InvalidRequest", "no endpoint for this message");
		goto fail;
	}
	body = json_pack("{s[s]ssssss}", "@context", DSP_CONTEXT, "@type",
			 msg == NDX_NEG_MSG_ACCEPTED || msg == NDX_NEG_MSG_FINALIZED
				 ? "ContractNegotiationEventMessage"
				 : ndx_neg_msg_type(msg),
			 "providerPid", text(row, "provider_pid"), "consumerPid",
			 text(row, "consumer_pid"));
	if (!body) {
		rc = db_failed(r, NDX_ENOMEM);
		goto fail;
	}
	if (msg == NDX_NEG_MSG_ACCEPTED || msg == NDX_NEG_MSG_FINALIZED)
		json_object_set_new(body, "eventType",
				    json_string(msg == NDX_NEG_MSG_ACCEPTED ? "ACCEPTED" : "FINALIZED"));
	json_object_foreach((json_t *)extra, key_name, v)
		json_object_set(body, key_name, (json_t *)v);
	if ((msg == NDX_NEG_MSG_OFFER || msg == NDX_NEG_MSG_REQUEST) &&
	    !json_is_object(json_object_get(body, "offer"))) {
		rc = refuse(r, 400, "Client.InvalidRequest", "a %s needs an \"offer\"",
			    ndx_neg_msg_type(msg));
		goto fail;
	}
	if (msg == NDX_NEG_MSG_AGREEMENT) {
		json_t *offer_now = json_loads(text(row, "offer"), 0, NULL);
		bool same = gw_conn_same_terms(offer_now, json_object_get(body, "agreement"));

		json_decref(offer_now);
		if (!same) {
			rc = refuse(r, 400, "Client.InvalidRequest",
				    "the agreement's terms are not the latest offer's");
			goto fail;
		}
	}
	if (msg == NDX_NEG_MSG_OFFER || msg == NDX_NEG_MSG_REQUEST)
		offer = json_dumps(json_object_get(body, "offer"), JSON_COMPACT);
	if (msg == NDX_NEG_MSG_AGREEMENT)
		agreement = json_dumps(json_object_get(body, "agreement"), JSON_COMPACT);
	if (!(body_text = json_dumps(body, JSON_COMPACT))) {
		rc = db_failed(r, NDX_ENOMEM);
		goto fail;
	}
	rc = ndx_negmsg_sign(key, body_text, strlen(body_text), self, path,
			     text(row, "last_hash"), now_ms, &jws, err, sizeof err);
	if (rc != NDX_OK) {
		rc = refuse(r, 400, "Client.InvalidRequest", "cannot sign: %s", err);
		goto fail;
	}
	ndx_negmsg_hash(jws, strlen(jws), hash);
	rc = append(s, neg, ndx_sqldb_int(row, "nmessages") + 1, self, path, hash, jws, 1, to,
		    offer, agreement, NULL,
		    role == NDX_NEG_PROVIDER && to == NDX_NEG_FINALIZED ? 1 : 0, now_ms);
	if (rc == NDX_OK)
		rc = s->db->ops->commit(s->db);
	if (rc != NDX_OK) {
		rc = db_failed(r, rc);
		goto fail;
	}
	goto out;
fail:
	s->db->ops->rollback(s->db);
out:
	json_decref(row);
	json_decref(body);
	free(body_text);
	free(offer);
	free(agreement);
	free(jws);
	return rc;
}

int gw_conn_receive(struct gw_conn_store *s, const char *self, const char *peer,
		    const char *path, const char *jws, size_t len, gw_conn_key_fn key_of,
		    void *ud, int64_t now_ms, int64_t *neg, struct gw_conn_refusal *r)
{
	struct ndx_negmsg *m = NULL;
	struct ndx_negmsg_endpoint ep;
	const struct ndx_key *key;
	char err[256], uuid[GW_UUID_LEN], ppid[9 + GW_UUID_LEN];
	enum ndx_neg_role own;
	enum ndx_neg_state from, to;
	json_t *row = NULL, *dup = NULL;
	char *offer = NULL, *agreement = NULL, *jws_text = NULL;
	const char *cpid;
	int rc;

	*neg = 0;
	if (ndx_negmsg_parse(jws, len, &m, err, sizeof err) != NDX_OK)
		return refuse(r, 400, "Client.InvalidRequest", "%s", err);
	if (!(jws_text = strndup(jws, len))) {
		rc = db_failed(r, NDX_ENOMEM);
		goto out;
	}
	if (strcmp(m->sender, peer) != 0) {
		rc = refuse(r, 403, "Client.WrongSender",
			    "ndx:sender %s is not the member of the delivering gateway, %s",
			    m->sender, peer);
		goto out;
	}
	if (strcmp(m->sender, self) == 0) {
		rc = refuse(r, 403, "Client.WrongSender", "a message from %s to itself", self);
		goto out;
	}
	if (!(key = key_of(ud, m->sender, m->kid))) {
		rc = refuse(r, 403, "Client.UnknownSigner",
			    "%s is the current signing key of no gateway of %s", m->kid,
			    m->sender);
		goto out;
	}
	if (ndx_negmsg_verify(m, key) != NDX_OK) {
		rc = refuse(r, 403, "Client.BadSignature",
			    "the signature does not verify with the key of %s", m->sender);
		goto out;
	}
	if (strcmp(m->path, path) != 0) {
		rc = refuse(r, 400, "Client.WrongPath", "ndx:path %s is not the endpoint %s",
			    m->path, path);
		goto out;
	}
	if (ndx_negmsg_endpoint(path, &ep) != NDX_OK) {
		rc = refuse(r, 404, "Client.NotFound", "no endpoint %s", path);
		goto out;
	}
	own = ep.role == NDX_NEG_CONSUMER ? NDX_NEG_PROVIDER : NDX_NEG_CONSUMER;
	{
		const char *type = json_string_value(json_object_get(m->message, "@type"));
		const char *want = ndx_neg_msg_type(ep.msg);
		const char *event = json_string_value(json_object_get(m->message, "eventType"));

		if (type && strncmp(type, "dspace:", 7) == 0)
			type += 7;
		if (!type || strcmp(type, want) != 0 ||
		    ((ep.msg == NDX_NEG_MSG_ACCEPTED || ep.msg == NDX_NEG_MSG_FINALIZED) &&
		     (!event || strcmp(event, ep.msg == NDX_NEG_MSG_ACCEPTED ? "ACCEPTED"
									     : "FINALIZED") != 0))) {
			rc = refuse(r, 400, "Client.InvalidRequest",
				    "%s takes a %s%s%s", path, want,
				    ep.msg == NDX_NEG_MSG_ACCEPTED || ep.msg == NDX_NEG_MSG_FINALIZED
					    ? " of eventType "
					    : "",
				    ep.msg == NDX_NEG_MSG_ACCEPTED     ? "ACCEPTED"
				    : ep.msg == NDX_NEG_MSG_FINALIZED ? "FINALIZED"
								       : "");
			goto out;
		}
	}
	if ((rc = s->db->ops->begin(s->db)) != NDX_OK) {
		rc = db_failed(r, rc);
		goto out;
	}
	if (ep.init) {
		cpid = json_string_value(json_object_get(m->message, "consumerPid"));
		if (!cpid || !cpid[0] || strlen(cpid) > NDX_NEGMSG_PID_MAX ||
		    !json_is_object(json_object_get(m->message, "offer")) ||
		    !json_is_string(json_object_get(json_object_get(m->message, "offer"), "target"))) {
			rc = refuse(r, 400, "Client.InvalidRequest",
				    "the initial request needs a consumerPid and an offer with a "
				    "target");
			goto fail;
		}
		if (m->has_previous) {
			rc = refuse(r, 400, "Client.InvalidRequest",
				    "the initial request has no ndx:previous");
			goto fail;
		}
		rc = ndx_sqldb_query_one(s->db, &row,
					 "SELECT * FROM negotiations WHERE role = 'provider' AND"
					 " counterparty = ? AND consumer_pid = ?",
					 "ss", m->sender, cpid);
		if (rc == NDX_OK) {
			/* The same request delivered again (its answer was lost):
			 * the same negotiation; another with its consumerPid: no. */
			rc = ndx_sqldb_query_one(s->db, &dup,
						 "SELECT seq FROM messages WHERE neg = ? AND seq = 1"
						 " AND hash = ?",
						 "is", ndx_sqldb_int(row, "id"), m->hash);
			if (rc == NDX_OK) {
				*neg = ndx_sqldb_int(row, "id");
				s->db->ops->rollback(s->db);
				goto out;
			}
			rc = refuse(r, 409, "Client.StaleMessage",
				    "a negotiation of %s with consumerPid %s exists", m->sender,
				    cpid);
			goto fail;
		}
		if (rc != NDX_ENOTFOUND) {
			rc = db_failed(r, rc);
			goto fail;
		}
		if (gw_uuid(uuid) != NDX_OK) {
			rc = db_failed(r, NDX_ECRYPTO);
			goto fail;
		}
		snprintf(ppid, sizeof ppid, "urn:uuid:%s", uuid);
		offer = json_dumps(json_object_get(m->message, "offer"), JSON_COMPACT);
		json_decref(row);
		row = NULL;
		rc = ndx_sqldb_query_one(
			s->db, &row,
			"INSERT INTO negotiations(role, consumer_pid, provider_pid, counterparty,"
			" client, dataset, state, created_ms, updated_ms) VALUES('provider', ?, ?,"
			" ?, ?, ?, 'NONE', ?, ?) RETURNING id",
			"sssssii", cpid, ppid, m->sender,
			json_string_value(json_object_get(m->message, "ndx:client")),
			json_string_value(json_object_get(json_object_get(m->message, "offer"),
							  "target")),
			now_ms, now_ms);
		if (rc == NDX_OK) {
			*neg = ndx_sqldb_int(row, "id");
			rc = append(s, *neg, 1, m->sender, path, m->hash, jws_text, 0,
				    NDX_NEG_REQUESTED, offer, NULL, NULL, 0, now_ms);
		}
		goto commit;
	}
	rc = ndx_sqldb_query_one(s->db, &row,
				 own == NDX_NEG_PROVIDER
					 ? "SELECT * FROM negotiations WHERE role = 'provider' AND"
					   " provider_pid = ? AND counterparty = ?"
					 : "SELECT * FROM negotiations WHERE role = 'consumer' AND"
					   " consumer_pid = ? AND counterparty = ?",
				 "ss", ep.pid, m->sender);
	if (rc == NDX_ENOTFOUND) {
		rc = refuse(r, 404, "Client.NotFound", "no negotiation %s of %s here", ep.pid,
			    m->sender);
		goto fail;
	}
	if (rc != NDX_OK) {
		rc = db_failed(r, rc);
		goto fail;
	}
	*neg = ndx_sqldb_int(row, "id");
	/* A message this negotiation holds, delivered again: accepted as it was. */
	rc = ndx_sqldb_query_one(s->db, &dup, "SELECT seq FROM messages WHERE neg = ? AND hash = ?",
				 "is", *neg, m->hash);
	if (rc == NDX_OK) {
		s->db->ops->rollback(s->db);
		goto out;
	}
	if (!m->has_previous || strcmp(m->previous, text(row, "last_hash")) != 0) {
		rc = refuse(r, 409, "Client.StaleMessage",
			    "ndx:previous is not the hash of the negotiation's last message");
		goto fail;
	}
	if (!pids_match(m->message, row)) {
		rc = refuse(r, 400, "Client.InvalidRequest",
			    "the message's consumerPid and providerPid are not the negotiation's");
		goto fail;
	}
	from = ndx_neg_state_of(text(row, "state"));
	to = ndx_neg_next(from, ep.role, ep.msg);
	if (to == NDX_NEG_NONE) {
		rc = refuse(r, 400, "Client.InvalidTransition",
			    "a %s from the %s in state %s", ndx_neg_msg_type(ep.msg),
			    role_name(ep.role), ndx_neg_state_name(from));
		goto fail;
	}
	if (ep.msg == NDX_NEG_MSG_OFFER || ep.msg == NDX_NEG_MSG_REQUEST) {
		if (!json_is_object(json_object_get(m->message, "offer"))) {
			rc = refuse(r, 400, "Client.InvalidRequest", "a %s needs an \"offer\"",
				    ndx_neg_msg_type(ep.msg));
			goto fail;
		}
		offer = json_dumps(json_object_get(m->message, "offer"), JSON_COMPACT);
	}
	if (ep.msg == NDX_NEG_MSG_AGREEMENT) {
		const json_t *a = json_object_get(m->message, "agreement");
		json_t *latest = json_loads(text(row, "offer"), 0, NULL);
		bool same = gw_conn_same_terms(latest, a);
		const char *assigner = json_string_value(json_object_get(a, "assigner"));
		const char *assignee = json_string_value(json_object_get(a, "assignee"));

		json_decref(latest);
		if (!same || !assigner || strcmp(assigner, m->sender) != 0 || !assignee ||
		    strcmp(assignee, self) != 0) {
			rc = refuse(r, 400, "Client.InvalidRequest",
				    "the agreement must carry the latest offer's terms, the "
				    "provider as assigner and the consumer as assignee");
			goto fail;
		}
		agreement = json_dumps(a, JSON_COMPACT);
	}
	rc = append(s, *neg, ndx_sqldb_int(row, "nmessages") + 1, m->sender, path, m->hash,
		    jws_text, 0, to, offer, agreement,
		    json_string_value(json_object_get(m->message, "providerPid")), 0, now_ms);
commit:
	if (rc == NDX_OK)
		rc = s->db->ops->commit(s->db);
	if (rc != NDX_OK) {
		rc = db_failed(r, rc);
		goto fail;
	}
	goto out;
fail:
	s->db->ops->rollback(s->db);
	if (rc != NDX_OK && rc != NDX_EINVAL)
		*neg = 0;
out:
	json_decref(row);
	json_decref(dup);
	free(offer);
	free(agreement);
	free(jws_text);
	ndx_negmsg_free(m);
	return rc;
}

static json_t *parsed(const json_t *row, const char *k)
{
	const char *t = json_string_value(json_object_get(row, k));
	json_t *v = t ? json_loads(t, 0, NULL) : NULL;

	return v ? v : json_null();
}

static const char *waiting(const json_t *row)
{
	const char *role = text(row, "role");
	enum ndx_neg_state st = ndx_neg_state_of(text(row, "state"));

	if (strcmp(role, "provider") == 0 && st == NDX_NEG_REQUESTED)
		return "approve";
	if (strcmp(role, "consumer") == 0 && st == NDX_NEG_OFFERED)
		return "accept";
	return "";
}

static json_t *shown(const json_t *row)
{
	static const char *const REG[] = { "none", "pending", "recorded", "refused" };
	int64_t reg = ndx_sqldb_int(row, "reg_state");
	json_t *o = json_pack(
		"{sIsssssOsssOsOsOsOsOsssIss}", "id", (json_int_t)ndx_sqldb_int(row, "id"), "role",
		text(row, "role"), "state", text(row, "state"), "consumerPid",
		json_object_get(row, "consumer_pid"), "counterparty", text(row, "counterparty"),
		"providerPid", json_object_get(row, "provider_pid"), "client",
		json_object_get(row, "client"), "dataset", json_object_get(row, "dataset"),
		"agreementId", json_object_get(row, "agreement_id"), "lastError",
		json_object_get(row, "last_error"), "waiting", waiting(row), "messages",
		(json_int_t)ndx_sqldb_int(row, "nmessages"), "registry",
		REG[reg >= 0 && reg < 4 ? reg : 0]);

	if (!o)
		return NULL;
	json_object_set_new(o, "offer", parsed(row, "offer"));
	json_object_set_new(o, "agreement", parsed(row, "agreement"));
	if (!ndx_sqldb_is_null(row, "conf_version"))
		json_object_set_new(o, "confVersion",
				    json_integer((json_int_t)ndx_sqldb_int(row, "conf_version")));
	return o;
}

int gw_conn_get(struct gw_conn_store *s, int64_t neg, json_t **out)
{
	json_t *row = NULL;
	int rc = load_row(s, neg, &row);

	*out = NULL;
	if (rc != NDX_OK)
		return rc;
	*out = shown(row);
	json_decref(row);
	return *out ? NDX_OK : NDX_ENOMEM;
}

int gw_conn_list(struct gw_conn_store *s, size_t limit, json_t **out)
{
	json_t *rows = NULL, *row, *list;
	size_t i;
	int rc = ndx_sqldb_query(s->db, &rows, "SELECT * FROM negotiations ORDER BY id DESC LIMIT ?",
				 "i", (int64_t)limit);

	*out = NULL;
	if (rc != NDX_OK)
		return rc;
	if (!(list = json_array())) {
		json_decref(rows);
		return NDX_ENOMEM;
	}
	json_array_foreach(rows, i, row)
		json_array_append_new(list, shown(row));
	json_decref(rows);
	*out = list;
	return NDX_OK;
}

int gw_conn_chain(struct gw_conn_store *s, int64_t neg, json_t **out)
{
	json_t *rows = NULL, *row, *list;
	size_t i;
	int rc = ndx_sqldb_query(s->db, &rows, "SELECT jws FROM messages WHERE neg = ? ORDER BY seq",
				 "i", neg);

	*out = NULL;
	if (rc != NDX_OK)
		return rc;
	if (!(list = json_array())) {
		json_decref(rows);
		return NDX_ENOMEM;
	}
	json_array_foreach(rows, i, row)
		json_array_append(list, json_object_get(row, "jws"));
	json_decref(rows);
	*out = list;
	return NDX_OK;
}

int gw_conn_find(struct gw_conn_store *s, enum ndx_neg_role role, const char *pid, int64_t *neg)
{
	json_t *row = NULL;
	int rc = ndx_sqldb_query_one(
		s->db, &row,
		role == NDX_NEG_CONSUMER
			? "SELECT id FROM negotiations WHERE role = 'consumer' AND consumer_pid = ?"
			: "SELECT id FROM negotiations WHERE role = 'provider' AND provider_pid = ?",
		"s", pid);

	if (rc == NDX_OK)
		*neg = ndx_sqldb_int(row, "id");
	json_decref(row);
	return rc;
}

int gw_conn_auto_step(const json_t *neg, const json_t *catalogue_terms)
{
	const char *role = json_string_value(json_object_get(neg, "role"));
	enum ndx_neg_state st = ndx_neg_state_of(json_string_value(json_object_get(neg, "state")));
	bool provider = role && strcmp(role, "provider") == 0;

	if (provider) {
		if (st == NDX_NEG_ACCEPTED || st == NDX_NEG_REQUESTED) {
			/* ACCEPTED: the consumer took this provider's own offer. A
			 * request: agreed when its terms are the catalogue's. */
			if (st == NDX_NEG_ACCEPTED ||
			    (catalogue_terms &&
			     gw_conn_same_terms(json_object_get(neg, "offer"), catalogue_terms)))
				return NDX_NEG_MSG_AGREEMENT;
			return -1;
		}
		if (st == NDX_NEG_VERIFIED)
			return NDX_NEG_MSG_FINALIZED;
		return -1;
	}
	if (st == NDX_NEG_AGREED)
		return NDX_NEG_MSG_VERIFICATION;
	return -1;
}

int gw_conn_outbox(struct gw_conn_store *s, int64_t now_ms, size_t limit, json_t **out)
{
	return ndx_sqldb_query(s->db, out,
			       "SELECT m.neg AS neg, m.seq AS seq, m.path AS path, m.jws AS jws,"
			       " m.attempts AS attempts, m.next_ms AS due_ms,"
			       " n.counterparty AS counterparty"
			       " FROM messages m JOIN negotiations n ON n.id = m.neg"
			       " WHERE m.delivery = 1 AND m.next_ms <= ?"
			       " AND NOT EXISTS (SELECT 1 FROM messages e WHERE e.neg = m.neg"
			       " AND e.seq < m.seq AND e.delivery = 1)"
			       " ORDER BY m.next_ms LIMIT ?",
			       "ii", now_ms, (int64_t)limit);
}

int gw_conn_claim(struct gw_conn_store *s, int64_t neg, int64_t seq, int64_t due_ms,
		  int64_t until_ms)
{
	int rc = s->db->ops->begin(s->db);

	if (rc != NDX_OK)
		return rc;
	/* Compare and set on the time the outbox read: of the nodes that read
	 * it, the first to write wins; PostgreSQL makes the others wait for
	 * its row lock, then sees the new next_ms and changes nothing. */
	rc = ndx_sqldb_change(s->db,
			      "UPDATE messages SET next_ms = ? WHERE neg = ? AND seq = ?"
			      " AND delivery = 1 AND next_ms = ?",
			      "iiii", until_ms, neg, seq, due_ms);
	if (rc == NDX_OK)
		rc = s->db->ops->commit(s->db);
	if (rc != NDX_OK)
		s->db->ops->rollback(s->db);
	return rc;
}

int gw_conn_delivered(struct gw_conn_store *s, int64_t neg, int64_t seq, bool ok, bool final,
		      const char *provider_pid, const char *error, int64_t next_ms)
{
	int rc = s->db->ops->begin(s->db);

	if (rc != NDX_OK)
		return rc;
	rc = ndx_sqldb_exec(s->db,
			    "UPDATE messages SET delivery = ?, attempts = attempts + 1, next_ms = ?,"
			    " error = ? WHERE neg = ? AND seq = ? AND delivery = 1",
			    "iisii", (int64_t)(ok ? 2 : final ? 3 : 1), next_ms, ok ? NULL : error,
			    neg, seq);
	if (rc == NDX_OK)
		rc = ndx_sqldb_exec(s->db,
				    "UPDATE negotiations SET provider_pid = COALESCE(provider_pid, ?),"
				    " last_error = ? WHERE id = ?",
				    "ssi", provider_pid, ok ? NULL : error, neg);
	/* A consumer's initial request refused: there is no negotiation at the
	 * provider to send anything to; it ends here. */
	if (rc == NDX_OK && !ok && final && seq == 1)
		rc = ndx_sqldb_exec(s->db,
				    "UPDATE negotiations SET state = 'TERMINATED' WHERE id = ? AND"
				    " role = 'consumer' AND provider_pid IS NULL",
				    "i", neg);
	if (rc == NDX_OK)
		rc = s->db->ops->commit(s->db);
	if (rc != NDX_OK)
		s->db->ops->rollback(s->db);
	return rc;
}

int gw_conn_unregistered(struct gw_conn_store *s, int64_t now_ms, json_t **out)
{
	/* Once every message of the chain has been delivered: the consumer
	 * holds the whole chain before the registry records it. */
	return ndx_sqldb_query(s->db, out,
			       "SELECT id AS neg, reg_attempts AS attempts FROM negotiations n"
			       " WHERE reg_state = 1 AND reg_next_ms <= ? AND NOT EXISTS"
			       " (SELECT 1 FROM messages m WHERE m.neg = n.id AND m.delivery = 1)"
			       " ORDER BY reg_next_ms LIMIT 16",
			       "i", now_ms);
}

int gw_conn_registered(struct gw_conn_store *s, int64_t neg, bool ok, bool final,
		       const char *agreement, int64_t conf_version, const char *error,
		       int64_t next_ms)
{
	return ndx_sqldb_write(s->db,
			       "UPDATE negotiations SET reg_state = ?, reg_attempts = reg_attempts + 1,"
			       " reg_next_ms = ?, agreement_id = COALESCE(?, agreement_id),"
			       " conf_version = CASE WHEN ? > 0 THEN ? ELSE conf_version END,"
			       " last_error = ? WHERE id = ?",
			       "iisiisi", (int64_t)(ok ? 2 : final ? 3 : 1), next_ms, agreement,
			       conf_version, conf_version, ok ? NULL : error, neg);
}
