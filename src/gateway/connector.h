/* A member's own DSP connector at its gateway (docs/marketplace.md
 * "Members' own connectors"): this gateway's side of each contract
 * negotiation it takes part in, as consumer or as provider, kept in a store
 * of its own (SQLite, data_dir/connector.db) beside the event store.
 *
 * This header is the store and the protocol logic, without I/O other than
 * the database: which message of the other side is accepted (its JWS
 * signature by a key of a gateway of the sender, its ndx:path the endpoint
 * it was delivered to, its ndx:previous the hash of the negotiation's last
 * message, ndx_neg_next), and the signing of this side's next message
 * (ndx_negmsg_sign with the gateway's signing key, after the last one).
 * Every change is one write transaction, committed before the caller
 * answers: nothing acknowledged is lost on kill -9. The messages this side
 * signed wait in the store until delivered (the outbox); a provider's
 * FINALIZED chain waits until the registry has recorded it.
 *
 * Not thread-safe: one thread uses a store at a time (connector.c holds
 * it under a mutex). */
#ifndef NDX_GATEWAY_CONNECTOR_H
#define NDX_GATEWAY_CONNECTOR_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ndx/dspneg.h"
#include "ndx/key.h"

struct gw_conn_store;

/* A refusal in the DSP binding's terms: the status and the
 * ContractNegotiationError code the registry's signed path uses
 * (Client.InvalidRequest, Client.WrongSender, Client.UnknownSigner,
 * Client.BadSignature, Client.WrongPath, Client.StaleMessage,
 * Client.InvalidTransition, Client.NotFound), and why. */
struct gw_conn_refusal {
	int status;
	const char *code;
	char reason[384];
};

/* Opens (creating it when missing) the store at path. NDX_OK, or NDX_EDB /
 * NDX_EIO / NDX_ENOMEM with the reason on stderr. */
int gw_conn_store_open(const char *path, struct gw_conn_store **out);
/* Accepts NULL. */
void gw_conn_store_close(struct gw_conn_store *s);

/* The key of the gateway of member whose signing key id is kid, from the
 * configuration the caller holds; NULL when no gateway of member has it. */
typedef const struct ndx_key *(*gw_conn_key_fn)(void *ud, const char *member, const char *kid);

/* Starts a negotiation as consumer: a new consumerPid, the
 * ContractRequestMessage for offer (a JSON object with "@id" and "target",
 * the dataset) to provider (a member id), for the grant's client (a
 * subsystem of self, "ndx:client"), signed by key as self, path
 * /dsp/negotiations/request; queued for delivery. *neg: its id. */
int gw_conn_start(struct gw_conn_store *s, const char *self, const struct ndx_key *key,
		  const char *provider, const char *client, const json_t *offer, int64_t now_ms,
		  int64_t *neg, struct gw_conn_refusal *r);

/* A message delivered by a gateway of peer (its member id, from the mutual
 * TLS certificate) to path (/dsp/..., the endpoint after the gateway
 * port's prefix) of this gateway, whose member is self. Accepted: the
 * state changes, the message is stored after the last one, *neg names the
 * negotiation (created for the initial request: a new providerPid), NDX_OK.
 * Refused: r says why, NDX_EINVAL (nothing changed), or NDX_EDB. */
int gw_conn_receive(struct gw_conn_store *s, const char *self, const char *peer,
		    const char *path, const char *jws, size_t len, gw_conn_key_fn key_of,
		    void *ud, int64_t now_ms, int64_t *neg, struct gw_conn_refusal *r);

/* This side's next message in negotiation neg: msg (of its role), extra
 * the DSP members beyond @context, @type and the two pids ("offer",
 * "agreement", NULL for none), signed by key as self after the last
 * message, stored and queued for delivery, the state moved. NDX_EINVAL
 * with r (Client.InvalidTransition, Client.NotFound, or a consumer whose
 * initial request has no providerPid yet: 409 Client.NotYetAnswered). */
int gw_conn_send(struct gw_conn_store *s, const char *self, const struct ndx_key *key,
		 int64_t neg, enum ndx_neg_msg msg, const json_t *extra, int64_t now_ms,
		 struct gw_conn_refusal *r);

/* The negotiation as the local endpoints show it (a new object: id, role,
 * state, consumerPid, providerPid, counterparty, client, dataset, offer,
 * agreement, waiting, messages (the number), registry, lastError), or
 * NULL with NDX_ENOTFOUND. */
int gw_conn_get(struct gw_conn_store *s, int64_t neg, json_t **out);
/* All, newest first (at most limit). */
int gw_conn_list(struct gw_conn_store *s, size_t limit, json_t **out);
/* The JWS texts of neg in order: a new array. */
int gw_conn_chain(struct gw_conn_store *s, int64_t neg, json_t **out);
/* The negotiation whose consumerPid (consumer side) or providerPid
 * (provider side) is pid. */
int gw_conn_find(struct gw_conn_store *s, enum ndx_neg_role role, const char *pid,
		 int64_t *neg);

/* What this side does next without anyone (docs/marketplace.md "Members'
 * own connectors"): the message, or -1 when it waits for the other side,
 * for a local call, or nothing (a final state). The provider agrees to a
 * consumer's request whose offer is the catalogue's own (catalogue_terms:
 * the offer as the registry's catalogue publishes it, or NULL when unknown:
 * then it waits) and to an ACCEPTED; finalizes once VERIFIED. The consumer
 * verifies an agreement (its terms are the latest offer's, checked on
 * receipt). */
int gw_conn_auto_step(const json_t *neg, const json_t *catalogue_terms);

/* Whether the policy terms of a and b (permission, prohibition,
 * obligation) are the same. */
bool gw_conn_same_terms(const json_t *a, const json_t *b);

/* The outbox: messages of this side not yet delivered whose next attempt
 * is due at now_ms; a new array of {neg, seq, path, jws, counterparty,
 * attempts, due_ms}. */
int gw_conn_outbox(struct gw_conn_store *s, int64_t now_ms, size_t limit, json_t **out);
/* Takes message seq of neg for one attempt at delivering it: its next
 * attempt moves from due_ms (the outbox's) to until_ms, so that another
 * gateway node on the same store, which read the same outbox, does not
 * deliver it too, and a node that stops mid-attempt leaves it due again
 * at until_ms. NDX_OK when taken; NDX_ENOTFOUND when another node took
 * it, or its outcome was recorded, since the outbox was read. */
int gw_conn_claim(struct gw_conn_store *s, int64_t neg, int64_t seq, int64_t due_ms,
		  int64_t until_ms);
/* The outcome of delivering message seq of neg: delivered (provider_pid,
 * from the answer to an initial request, recorded when not NULL), or not
 * (error; final: no further attempt, else the next at next_ms). A
 * consumer's initial request refused for good ends its negotiation
 * (TERMINATED: the provider holds none). */
int gw_conn_delivered(struct gw_conn_store *s, int64_t neg, int64_t seq, bool ok, bool final,
		      const char *provider_pid, const char *error, int64_t next_ms);
/* The provider's FINALIZED chains the registry has not recorded yet, due
 * at now_ms: a new array of {neg, attempts}. */
int gw_conn_unregistered(struct gw_conn_store *s, int64_t now_ms, json_t **out);
/* The registry's answer to a chain: recorded (agreement id, configuration
 * version), or not (error, the next attempt at next_ms; final: none). */
int gw_conn_registered(struct gw_conn_store *s, int64_t neg, bool ok, bool final,
		       const char *agreement, int64_t conf_version, const char *error,
		       int64_t next_ms);

/* The DSP path of this side's message msg in a negotiation of role with
 * pids (the initial request: /dsp/negotiations/request). NDX_EINVAL when
 * role does not send msg or the pid it needs is missing. */
int gw_conn_path(enum ndx_neg_role role, enum ndx_neg_msg msg, bool init, const char *cpid,
		 const char *ppid, char *out, size_t cap);

#endif
