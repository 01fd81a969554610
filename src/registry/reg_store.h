/* The registry's store: members, subsystems, gateways, services, grants,
 * revocations, consent services, embargoes, id providers, event types,
 * subscriptions, admin credentials and the audit trail in one database:
 * a SQLite file (the default: WAL, versioned migrations) or, for a
 * location that is a postgresql:// connection string, a PostgreSQL
 * database that several registry nodes share (reg_db.h has the engines).
 * One connection guarded by a recursive mutex: the registry writes rarely
 * and reads cheaply, and a single writer (across every node of the
 * database) keeps every change one transaction (row + audit entry + new
 * configuration version, or nothing). Rows come back as jansson objects in
 * the shape the management API answers with. Overview:
 * docs/architecture.md "ndx-registry", docs/scale.md. */
#ifndef NDX_REGISTRY_STORE_H
#define NDX_REGISTRY_STORE_H

#include <jansson.h>
#include <stdint.h>

#define STORE_DB_FILE "registry.db"

struct store;

/* Creates a new database at loc (a file path, which must not exist, or a
 * postgresql:// connection string whose schema holds no registry yet:
 * NDX_EEXIST otherwise) with the schema and meta rows instance,
 * registry_url and conf_version = 1. A connection string with a password
 * is NDX_EINVAL (ndx_sqldb_check). */
int store_create(const char *loc, const char *instance, const char *registry_url,
		 struct store **out);
/* Opens an existing database and applies pending migrations. NDX_EIO when the
 * file is missing or the PostgreSQL schema holds no registry, NDX_EDB when
 * it is not a registry database, NDX_EINVAL as store_create. */
int store_open(const char *loc, struct store **out);
/* Accepts NULL. */
void store_close(struct store *st);

/* Borrowed strings, valid while st lives. */
const char *store_instance(const struct store *st);
const char *store_registry_url(const struct store *st);
/* The database as messages may name it (a path, or a connection string's
 * user, host, port and database: never a password). */
const char *store_name(const struct store *st);

/* Holds the store's mutex (recursive) so that several reads see one state. */
void store_lock(struct store *st);
void store_unlock(struct store *st);
/* store_lock and one read transaction: every read until
 * store_snapshot_end sees the same state, whatever another registry node
 * of the database commits meanwhile. */
int store_snapshot_begin(struct store *st);
void store_snapshot_end(struct store *st);

/* A change: store_begin locks and opens a write transaction; then either
 * store_commit writes the audit entry (detail borrowed, may be NULL), raises
 * the configuration version (into *version) and commits, or
 * store_rollback undoes everything. Both release the lock; store_commit
 * rolls back itself when it fails. */
int store_begin(struct store *st);
int store_commit(struct store *st, const char *actor, const char *remote, const char *action,
		 const char *object, const json_t *detail, uint64_t *version);
void store_rollback(struct store *st);
/* Commits a store_begin transaction that changes nothing in the
 * federation: no audit entry, the configuration version stays. Releases
 * the lock; rolls back itself when it fails. */
int store_commit_quiet(struct store *st);
/* Commits a store_begin transaction with an audit entry (detail borrowed,
 * may be NULL) but without raising the configuration version: a change
 * the global configuration does not show (a marketplace negotiation step).
 * Releases the lock; rolls back itself when it fails. */
int store_commit_audited(struct store *st, const char *actor, const char *remote,
			 const char *action, const char *object, const json_t *detail);
/* The database, for the marketplace's queries (reg_market_store.c), which
 * run between store_begin and a commit, or under store_lock. */
struct ndx_sqldb *store_db(struct store *st);

int store_conf_version(struct store *st, uint64_t *out);
/* The configuration version and when it was raised (Unix seconds), read
 * together: what confgen.c derives a document's generated_at from. */
int store_conf_state(struct store *st, uint64_t *version, int64_t *changed_at);

/* Writes an audit entry that changes nothing in the federation (the
 * configuration version stays): an alarm such as a forked message log
 * (reg_witness.c). detail borrowed, may be NULL. */
int store_audit_event(struct store *st, const char *actor, const char *remote,
		      const char *action, const char *object, const json_t *detail);
/* The tree heads the registry witnessed (reg_witness.c): *out = [{batch,
 * sth_hash}] of gateway by batch, a new reference. put inserts or
 * replaces gateway's batch; call it between store_begin and
 * store_commit_quiet so that the check and the write are one step. */
int store_witnessed_list(struct store *st, const char *gateway, json_t **out);
int store_witnessed_put(struct store *st, const char *gateway, int64_t batch,
			const char *sth_hash_hex, int64_t time_ms);

/* Credentials: only the SHA-256 (hex) of a token is stored. member NULL
 * makes an admin credential (the management API), a member id a member's
 * (the marketplace, docs/marketplace.md). Adding one is audited but does
 * not change the configuration version. NDX_EEXIST when the name is taken. */
int store_token_add(struct store *st, const char *name, const char *sha256_hex,
		    const char *member, const char *actor);
/* *out = [{"name","sha256","member"}] (member null for an admin), a new
 * reference the caller releases. */
int store_tokens(struct store *st, json_t **out);

/* Each list/get function sets *out to a new reference (caller releases).
 * get answers NDX_ENOTFOUND; add answers NDX_EEXIST for a duplicate;
 * delete answers NDX_ENOTFOUND, or NDX_EEXIST with *why set to a static
 * sentence while dependents remain. exists answers 1, 0 or an error. */
int store_member_add(struct store *st, const char *id, const char *name);
int store_member_get(struct store *st, const char *id, json_t **out);
int store_member_list(struct store *st, json_t **out);
int store_member_delete(struct store *st, const char *id, const char **why);
int store_member_exists(struct store *st, const char *id);

int store_subsystem_add(struct store *st, const char *id, const char *member);
int store_subsystem_get(struct store *st, const char *id, json_t **out);
/* member may be NULL for all subsystems. */
int store_subsystem_list(struct store *st, const char *member, json_t **out);
int store_subsystem_delete(struct store *st, const char *id, const char **why);
int store_subsystem_exists(struct store *st, const char *id);

struct store_gateway {
	const char *member;
	const char *code;
	const char *address;
	const char *sign_key;       /* base64 of the raw public key */
	const char *sign_key_id;
	const char *tls_cert;       /* PEM */
	const char *tls_cert_sha256;
};
int store_gateway_add(struct store *st, const struct store_gateway *gw);
int store_gateway_get(struct store *st, const char *member, const char *code, json_t **out);
int store_gateway_list(struct store *st, const char *member, json_t **out);
int store_gateway_delete(struct store *st, const char *member, const char *code);
/* Replaces the signing key and the TLS certificate of the gateway
 * gw->member/gw->code (its address stays): a key rotation
 * (docs/registry-api.md "Key and certificate rotation"). Inside a
 * store_begin transaction; NDX_ENOTFOUND for no such gateway. */
int store_gateway_rekey(struct store *st, const struct store_gateway *gw);
/* Records that a rotation replaced the gateway's signing key sign_key
 * (base64) at retired_ms (ms since the epoch), so that POST /witness still
 * takes the tree heads it signed before then; a key retired again gets the
 * new time. Inside the rotation's transaction. */
int store_gateway_retire_key(struct store *st, const char *member, const char *code,
			     const char *sign_key, const char *sign_key_id, int64_t retired_ms);
/* The retired key sign_key_id of the gateway: *out {sign_key, sign_key_id,
 * retired_ms}; NDX_ENOTFOUND when the gateway never had it. */
int store_gateway_retired_key(struct store *st, const char *member, const char *code,
			      const char *sign_key_id, json_t **out);

struct store_service {
	const char *id;
	const char *subsystem;
	const char *title;
	int personal;
	const json_t *purposes;     /* array of strings */
	const json_t *bulk_purposes; /* array of strings, a subset of purposes; NULL = [] */
	int consent_required;
	const char *openapi;        /* compact JSON text or NULL */
	const char *openapi_sha256; /* hex or NULL */
};
int store_service_add(struct store *st, const struct store_service *svc);
int store_service_get(struct store *st, const char *id, json_t **out);
int store_service_list(struct store *st, const char *subsystem, json_t **out);
int store_service_delete(struct store *st, const char *id, const char **why);
int store_service_exists(struct store *st, const char *id);
/* Replaces the service's bulk_purposes (checked by the caller against its
 * purposes); NDX_ENOTFOUND when there is no such service. */
int store_service_set_bulk(struct store *st, const char *id, const json_t *bulk_purposes);
/* The stored OpenAPI text (malloc'd, caller frees) or NDX_ENOTFOUND when
 * the service does not exist or has none. */
int store_service_openapi(struct store *st, const char *id, char **text, size_t *len);

/* *id receives the new grant's number. */
int store_grant_add(struct store *st, const char *client, const char *service,
		    const json_t *methods, const json_t *paths, int64_t *id);
int store_grant_get(struct store *st, int64_t id, json_t **out);
/* client and service filter when not NULL. */
int store_grant_list(struct store *st, const char *client, const char *service, json_t **out);
int store_grant_delete(struct store *st, int64_t id);

int store_revocation_add(struct store *st, const char *kind, const char *value,
			 const char *reason, json_t **out);
int store_revocation_list(struct store *st, json_t **out);
/* 1 when kind/value (value compared without case) is on the revocation
 * list, 0 when not, -1 when the store fails. */
int store_revocation_has(struct store *st, const char *kind, const char *value);

/* Consent services: subsystems whose Ed25519 key gateways trust for
 * consents and revocation lists (docs/protocol.md "Consent artefacts"). */
struct store_consent_service {
	const char *id;          /* subsystem id */
	const char *url;
	const char *sign_key;    /* base64 of the raw public key */
	const char *sign_key_id;
};
int store_consent_service_add(struct store *st, const struct store_consent_service *cs);
int store_consent_service_get(struct store *st, const char *id, json_t **out);
int store_consent_service_list(struct store *st, json_t **out);
/* why is never set (nothing refers to a consent service); the signature
 * matches the other deletes. */
int store_consent_service_delete(struct store *st, const char *id, const char **why);

/* Embargoes (docs/protocol.md "The global configuration"): a purpose whose
 * exchanges a subject's access list shows only `seconds` after they
 * happened. set inserts or replaces, *created says which. */
int store_embargo_set(struct store *st, const char *purpose, int64_t seconds, int *created);
int store_embargo_get(struct store *st, const char *purpose, json_t **out);
int store_embargo_list(struct store *st, json_t **out);
/* why is never set; the signature matches the other deletes. */
int store_embargo_delete(struct store *st, const char *purpose, const char **why);

/* The operator's monitoring subsystem (the configuration's
 * monitoring.client): get answers NDX_ENOTFOUND when none is set (*client
 * NULL; the caller frees it otherwise); set replaces it and refuses a
 * subsystem the registry does not hold (NDX_ENOTFOUND); clear answers
 * NDX_ENOTFOUND when none was set. */
int store_monitoring_get(struct store *st, char **client);
int store_monitoring_set(struct store *st, const char *client);
int store_monitoring_clear(struct store *st);

/* Id providers: OpenID Connect issuers (the national e-ID) whose ID tokens
 * gateways accept, each under one Ed25519 key. */
int store_id_provider_add(struct store *st, const char *issuer, const char *sign_key,
			  const char *sign_key_id);
int store_id_provider_get(struct store *st, const char *issuer, json_t **out);
int store_id_provider_list(struct store *st, json_t **out);
/* why is never set; the signature matches the other deletes. */
int store_id_provider_delete(struct store *st, const char *issuer, const char **why);

/* Event types (docs/protocol.md "The global configuration"): a named event
 * of a service with the JSON Schema of its payload (schema: compact JSON
 * text, checked by the caller; title may be NULL). Rows come back with the
 * schema as a JSON object. delete answers NDX_EEXIST (why set) while
 * subscriptions name the event type. */
int store_event_type_add(struct store *st, const char *service, const char *name,
			 const char *title, const char *schema);
int store_event_type_get(struct store *st, const char *service, const char *name,
			 json_t **out);
/* service may be NULL for all event types. */
int store_event_type_list(struct store *st, const char *service, json_t **out);
int store_event_type_exists(struct store *st, const char *service, const char *name);
int store_event_type_delete(struct store *st, const char *service, const char *name,
			    const char **why);

/* Subscriptions: the grant that lets a subsystem receive an event type.
 * Rows come back as {id, client, service, event, purpose, retry:{first_s,
 * max_s, give_up_after_s}, created_at}; add answers NDX_EEXIST when client
 * already subscribes to (service, event). */
struct store_subscription {
	const char *client;      /* subsystem id */
	const char *service;
	const char *event;
	const char *purpose;     /* NULL unless the service is personal */
	int64_t retry_first_s, retry_max_s, give_up_after_s;
};
int store_subscription_add(struct store *st, const struct store_subscription *sub,
			   int64_t *id);
int store_subscription_get(struct store *st, int64_t id, json_t **out);
/* client and service filter when not NULL. */
int store_subscription_list(struct store *st, const char *client, const char *service,
			    json_t **out);
int store_subscription_delete(struct store *st, int64_t id);

/* Who already holds the Ed25519 key with key id sign_key_id (a key has one
 * role, docs/registry-api.md "One key, one holder"): *out = [{"role":
 * "gateway"|"consent service"|"id provider","holder","member"}], member ""
 * for the two last, empty when nobody; a new reference. */
int store_key_holders(struct store *st, const char *sign_key_id, json_t **out);

/* *out = {"members","subsystems","gateways","services","grants"}: how many
 * of each the store holds, counted in one statement (one state); a new
 * reference. */
int store_counts(struct store *st, json_t **out);

/* Newest first: at most limit entries with seq below before (0 = from the
 * newest). */
int store_audit_list(struct store *st, int64_t before, int limit, json_t **out);

/* What an audit search keeps (each NULL for no filter): actor containing
 * the text, action equal to it or starting with it followed by '.'
 * ("grant" finds grant.add and grant.delete), time from since to before
 * until (ISO 8601 UTC texts as the entries hold them). */
struct store_audit_filter {
	const char *actor, *action, *since, *until;
};
/* store_audit_list with filter f (may be NULL). */
int store_audit_search(struct store *st, const struct store_audit_filter *f, int64_t before,
		       int limit, json_t **out);

/* The console's officials (docs/console.md "Roles"): subject is the e-ID
 * subject (a personal identification number), role "operator", "auditor",
 * "agency" (with the member they administer, NULL for the other roles) or
 * "dpo". Adding one that exists changes its name, role and member. Each change
 * is audited with actor and remote but leaves the configuration version
 * as it is. store_official_remove gives NDX_ENOTFOUND for no such subject. */
int store_official_put(struct store *st, const char *subject, const char *name, const char *role,
		       const char *member, const char *actor, const char *remote);
int store_official_remove(struct store *st, const char *subject, const char *actor,
			  const char *remote);
/* *out = {"subject","name","role","member","created_at"} (member null but
 * for an agency administrator), NDX_ENOTFOUND for none. */
int store_official_get(struct store *st, const char *subject, json_t **out);
/* *out = [{"subject","name","role","member","created_at"}] by subject. */
int store_official_list(struct store *st, json_t **out);

#endif
