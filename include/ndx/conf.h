/* The signed global configuration (docs/protocol.md "Global configuration"):
 * the anchor that names whom to trust, and the configuration document itself,
 * parsed once into an indexed, immutable struct ndx_conf that any number of
 * threads may read. The document is signed detached: the signature covers the
 * exact bytes of conf.json. */
#ifndef NDX_CONF_H
#define NDX_CONF_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "ndx/key.h"

#define NDX_CONF_FORMAT "ndx-conf/1"
#define NDX_ANCHOR_FORMAT "ndx-anchor/1"
/* Registry nodes an anchor may list (the gateways' registry_urls limit). */
#define NDX_ANCHOR_URLS_MAX 8
/* Largest configuration document a parser accepts (100k services fit). */
#define NDX_CONF_MAX_BYTES (256u * 1024u * 1024u)
/* File names inside a configuration directory. */
#define NDX_CONF_FILE "conf.json"
#define NDX_CONF_SIG_FILE "conf.sig"
/* conf.delta.1, .2, ...: the deltas applied since conf.json (a gateway). */
#define NDX_CONF_DELTA_FILE "conf.delta"

/* ---- anchor: instance + the registry's verification keys ------------- */

struct ndx_anchor;

/* Parses an anchor document ({"format","instance","registry_url",
 * ["registry_urls",] "keys":[{"key_id","public_key"(base64 raw)}]}).
 * registry_urls, when there, lists every registry node (1 to
 * NDX_ANCHOR_URLS_MAX http(s) URLs, registry_url first). On failure returns
 * NDX_EINVAL (or NDX_EIO / NDX_ENOMEM) and writes the reason into err
 * (errcap bytes). */
int ndx_anchor_parse(const char *data, size_t len, struct ndx_anchor **out,
		     char *err, size_t errcap);
int ndx_anchor_load(const char *path, struct ndx_anchor **out, char *err, size_t errcap);
const char *ndx_anchor_instance(const struct ndx_anchor *a);
/* The first registry node's URL. */
const char *ndx_anchor_registry_url(const struct ndx_anchor *a);
/* Every registry node's URL, i < ndx_anchor_registry_url_count(a) (1 for an
 * anchor without registry_urls). */
size_t ndx_anchor_registry_url_count(const struct ndx_anchor *a);
const char *ndx_anchor_registry_url_at(const struct ndx_anchor *a, size_t i);
/* Returns the anchor's key with this id (borrowed, valid while a lives) or NULL. */
const struct ndx_key *ndx_anchor_key(const struct ndx_anchor *a, const char *key_id);
/* Builds an anchor document for one key; returns a new json object or NULL. */
json_t *ndx_anchor_build(const char *instance, const char *registry_url,
			 const struct ndx_key *key);
/* The same for 1 to NDX_ANCHOR_URLS_MAX registry nodes (registry_urls only
 * when there are several). */
json_t *ndx_anchor_build_nodes(const char *instance, const char *const *registry_urls,
			       size_t n_urls, const struct ndx_key *key);
void ndx_anchor_free(struct ndx_anchor *a);

/* ---- detached signature --------------------------------------------- */

/* conf.sig and the registry's Ndx-Conf-Signature header carry the same JSON
 * object: {"alg":"Ed25519","key_id":"<hex>","signature":"<base64>"}. */
/* Signs data with key and returns the signature object as a malloc'd compact
 * JSON string (caller frees), or NULL. */
char *ndx_conf_sign(const struct ndx_key *key, const void *data, size_t len);

/* ---- the configuration ---------------------------------------------- */

struct ndx_conf;

/* Verifies then parses: the signature object sig (JSON text) must name a key
 * of the anchor and verify over data[0..len); the document must be
 * well-formed and valid (ndx_conf_parse), of the anchor's instance, and not
 * expired at `now` (nor generated more than 300 s in its future). Returns
 * NDX_OK and a new conf in *out, or leaves *out NULL and returns
 * NDX_EINVAL (malformed signature object or document), NDX_ENOTFOUND (key id
 * not in the anchor), NDX_EBADSIG, NDX_EEXPIRED, with the reason in err. */
int ndx_conf_verify(const uint8_t *data, size_t len, const char *sig,
		    const struct ndx_anchor *anchor, time_t now,
		    struct ndx_conf **out, char *err, size_t errcap);

/* Parses and validates a document without checking any signature (used by
 * the registry on what it has just built, and by tests): every id well
 * formed, every reference resolves (subsystem -> member, service ->
 * subsystem, gateway -> member, grant -> client member or subsystem and
 * service, bulk
 * purpose -> the service's purposes), no duplicates, methods known, keys
 * decodable, embargoes and id providers well formed, event types and
 * subscriptions as docs/protocol.md lists. Errors as
 * ndx_conf_verify. */
int ndx_conf_parse(const uint8_t *data, size_t len, struct ndx_conf **out,
		   char *err, size_t errcap);

/* Reads DIR/conf.json and DIR/conf.sig and verifies them as above. NDX_EIO
 * when either file is missing or unreadable. */
int ndx_conf_load_dir(const char *dir, const struct ndx_anchor *anchor, time_t now,
		      struct ndx_conf **out, char *err, size_t errcap);
/* Writes data and sig into DIR (created if missing) as conf.json and
 * conf.sig, each through a temporary file and rename. */
int ndx_conf_save_dir(const char *dir, const uint8_t *data, size_t len, const char *sig);

void ndx_conf_free(struct ndx_conf *conf);

/* ---- deltas (docs/protocol.md "Configuration deltas") ---------------- */

#define NDX_CONF_DELTA_FORMAT "ndx-conf-delta/1"
/* A gateway keeps at most this many deltas beside its last full document
 * before it writes the full document again (ndx_conf_save_full). */
#define NDX_CONF_DELTAS_MAX 32

/* A document as jansson values with the SHA-256 of each entry of each of
 * its lists (a top-level array whose every element is an object), from
 * which its digest is made and deltas between two documents are cut. */
struct ndx_conf_tree;

/* Holds its own reference to doc (a configuration document). Every list entry of
 * doc that is equal, field by field in order, to an entry of the same list
 * in prev (NULL: none) is replaced in doc by prev's entry, so that versions
 * share what did not change and its hash is not made again. The caller
 * must not hold other references to doc's entries. Returns NDX_OK,
 * NDX_EINVAL (doc is not an object or has no positive version) or
 * NDX_ENOMEM. */
int ndx_conf_tree_new(json_t *doc, const struct ndx_conf_tree *prev, struct ndx_conf_tree **out);
void ndx_conf_tree_free(struct ndx_conf_tree *t);
uint64_t ndx_conf_tree_version(const struct ndx_conf_tree *t);
/* The document's digest (docs/protocol.md "Configuration deltas"). */
void ndx_conf_tree_digest(const struct ndx_conf_tree *t, uint8_t out[32]);
/* The delta from `from` to `to`, whose full document is signed by to_sig
 * (the compact signature object), as compact JSON in *text (malloc'd,
 * *len bytes). A function of the two documents' contents alone: two
 * registry nodes cut the same bytes. NDX_ENOMEM on failure. */
int ndx_conf_delta_make(const struct ndx_conf_tree *from, const struct ndx_conf_tree *to,
			const char *to_sig, char **text, size_t *len);
/* Verifies the delta data[0..len) under sig (the registry's signature
 * object, as for a full document) and applies it to held: from_version
 * must be held's version, the result newer (a higher version, or the same
 * with a later generated_at), its digest the delta's to_sha256, and the
 * result a valid, fresh document (ndx_conf_verify's steps 4-6). Entries
 * that did not change are shared with held; held's own hashes are made on
 * the first delta applied to it (held is otherwise only read). Returns
 * NDX_OK and a new configuration in *out, or NDX_EBADSIG / NDX_ENOTFOUND
 * (signature), NDX_EPERM (from_version is not held's version, or the
 * result is not newer), NDX_EINVAL (malformed, or the result differs from
 * the document the registry signed), NDX_EEXPIRED, with the reason in err. */
int ndx_conf_delta_apply(struct ndx_conf *held, const uint8_t *data, size_t len,
			 const char *sig, const struct ndx_anchor *anchor, time_t now,
			 struct ndx_conf **out, char *err, size_t errcap);
/* Writes a delta (the signature object's line, then the bytes) as
 * DIR/conf.delta.SEQ (SEQ from 1) through a temporary file and rename. */
int ndx_conf_save_delta(const char *dir, unsigned seq, const uint8_t *data, size_t len,
			const char *sig);
/* Removes DIR/conf.delta.1, .2, ... up to the first that is missing. */
void ndx_conf_clear_deltas(const char *dir);
/* The full document of conf, rebuilt from its values, saved as conf.json
 * and conf.sig when the registry's signature over the full document (which
 * a delta carries) verifies over the rebuilt bytes. NDX_ENOTFOUND when conf
 * came from a full document (nothing to rebuild), NDX_EBADSIG when the
 * bytes differ from those the registry signed, else ndx_conf_save_dir's. */
int ndx_conf_save_full(const struct ndx_conf *conf, const char *dir,
		       const struct ndx_anchor *anchor, char *err, size_t errcap);
/* As ndx_conf_load_dir, then applies DIR/conf.delta.1, .2, ... in turn
 * (stopping at the first missing or refused one); the base document may
 * have expired when the deltas bring it forward: only the result must be
 * fresh. *ndeltas (may be NULL) receives how many were applied. */
int ndx_conf_load_dir_deltas(const char *dir, const struct ndx_anchor *anchor, time_t now,
			     struct ndx_conf **out, unsigned *ndeltas, char *err,
			     size_t errcap);

uint64_t ndx_conf_version(const struct ndx_conf *conf);
const char *ndx_conf_instance(const struct ndx_conf *conf);
time_t ndx_conf_generated_at(const struct ndx_conf *conf);
time_t ndx_conf_expires_at(const struct ndx_conf *conf);
/* The whole document (borrowed), for those who show or store it as it is
 * (`ndx conf show`); everyone else uses the typed views below. */
const json_t *ndx_conf_json(const struct ndx_conf *conf);

/* A member, a subsystem and a grant as the document describes them, read
 * once at load (borrowed from conf, valid while it lives). */
struct ndx_policy;
struct ndx_conf_member {
	const char *id;              /* canonical member id */
	const char *name;            /* NULL when none */
};
struct ndx_conf_subsystem {
	const char *id;              /* canonical subsystem id */
	const char *member;          /* its member's canonical id */
	const char *name;            /* NULL when none */
};
struct ndx_conf_grant {
	const char *client;          /* a member or subsystem id */
	const char *service;
	const char *const *methods;  /* GET, POST, ... */
	size_t nmethods;
	const char *const *paths;    /* fnmatch patterns without FNM_PATHNAME, or "*" */
	size_t npaths;
	/* A grant made by a finalised marketplace agreement (docs/marketplace.md):
	 * its id, its usage policy and its end (0: none); NULL, NULL, 0 for a
	 * grant an operator made. */
	const char *agreement;
	const struct ndx_policy *policy;
	time_t not_after;
};
/* The i-th (from 0, in the document's order) member, subsystem, service
 * or grant; NULL past the last. */
const struct ndx_conf_member *ndx_conf_member_at(const struct ndx_conf *conf, size_t i);
const struct ndx_conf_subsystem *ndx_conf_subsystem_at(const struct ndx_conf *conf, size_t i);
struct ndx_conf_service;
const struct ndx_conf_service *ndx_conf_service_at(const struct ndx_conf *conf, size_t i);
const struct ndx_conf_grant *ndx_conf_grant_at(const struct ndx_conf *conf, size_t i);
/* The member or subsystem of this canonical id, or NULL. */
const struct ndx_conf_member *ndx_conf_member(const struct ndx_conf *conf, const char *member_id);
const struct ndx_conf_subsystem *ndx_conf_subsystem(const struct ndx_conf *conf,
						    const char *subsystem_id);
/* True when client_id is an X-Road client of the configuration: a
 * subsystem, or a member (PR-REST 4.1: "Including the subsystem code is
 * OPTIONAL"). A member-level client is the member itself: grants name it
 * as it is, and a grant to a member does not extend to its subsystems nor
 * one to a subsystem to its member. */
bool ndx_conf_has_client(const struct ndx_conf *conf, const char *client_id);

/* A service as the document describes it, read once at load (borrowed from
 * conf, valid while it lives). */
struct ndx_conf_service {
	const char *id;              /* canonical service id */
	const char *title;           /* NULL when none */
	const char *openapi_sha256;  /* NULL when none */
	bool personal;               /* returns personal data: purpose and subject */
	bool consent_required;       /* and only under the subject's consent */
	const char *const *purposes; /* the purposes it may be called for */
	size_t npurposes;
	const char *const *bulk_purposes; /* those an answer may concern several people for */
	size_t nbulk_purposes;
};
/* The service of this canonical id, or NULL. */
const struct ndx_conf_service *ndx_conf_service_of(const struct ndx_conf *conf,
						   const char *service_id);
/* True when purpose (not NULL) is one of the service's purposes. */
bool ndx_conf_service_has_purpose(const struct ndx_conf_service *svc, const char *purpose);

/* A member's gateway as the document describes it, read once at load so
 * that no caller needs the document's field names. Borrowed from conf,
 * valid while it lives. */
struct ndx_conf_gateway {
	const char *member;           /* canonical member id */
	const char *code;             /* unique within the member */
	const char *address;          /* https://host:port of its gateway port */
	const char *tls_cert_sha256;  /* its TLS certificate's SHA-256 (hex) */
	const char *sign_key_id;
	const struct ndx_key *sign_key;
};
/* The gateway whose TLS certificate has this SHA-256 fingerprint (hex). */
const struct ndx_conf_gateway *ndx_conf_gateway_by_cert(const struct ndx_conf *conf,
							const char *cert_sha256);
/* The i-th gateway (from 0, in the document's order) of member_id; NULL
 * past the last. */
const struct ndx_conf_gateway *ndx_conf_gateway_of(const struct ndx_conf *conf,
						   const char *member_id, size_t i);
/* The instance CA's certificates (PEM) that gateways' TLS certificates
 * chain to (registry.ca_certificate); NULL when the document has none. */
const char *ndx_conf_ca_certificate(const struct ndx_conf *conf);

/* What a grant may name, checked alike by the registry's API, the
 * federation file and the configuration's parser: one of the HTTP methods
 * GET HEAD POST PUT PATCH DELETE OPTIONS; and a path pattern "*" or one
 * starting with '/', at most NDX_GRANT_PATH_MAX bytes, without control
 * characters. */
#define NDX_GRANT_PATH_MAX 1024
bool ndx_grant_method_valid(const char *method);
bool ndx_grant_path_valid(const char *pattern);
/* A purpose name, as services, grants, subscriptions and usage policies name
 * one: 1 to NDX_PURPOSE_MAX of a-z, 0-9 and '-'. */
#define NDX_PURPOSE_MAX 64
bool ndx_purpose_valid(const char *purpose);

/* True when a grant lets client (a member or subsystem id, matched exactly)
 * call service with method on
 * path (the part after the service id, "" or "/..."); path patterns are
 * fnmatch(3) patterns without FNM_PATHNAME, "*" matching any path. */
bool ndx_conf_grant_allows(const struct ndx_conf *conf, const char *client,
			   const char *service, const char *method, const char *path);
/* As ndx_conf_grant_allows, and which path pattern allowed it: the first
 * pattern (borrowed from conf; "*" for a grant on every path) of the first
 * grant of client on service that allows method on path, or NULL. */
const char *ndx_conf_grant_match(const struct ndx_conf *conf, const char *client,
				 const char *service, const char *method, const char *path);
/* As ndx_conf_grant_match, but the grant itself (borrowed from conf), with
 * the pattern that allowed it in *pattern when pattern is not NULL; NULL
 * when no grant allows the call. */
const struct ndx_conf_grant *ndx_conf_grant_find(const struct ndx_conf *conf, const char *client,
						 const char *service, const char *method,
						 const char *path, const char **pattern);
/* The signing key (borrowed, parsed once at load) of the consent service
 * issuer_id (a subsystem id) when its key id is key_id, else NULL. This is
 * the key_lookup a gateway gives ndx_consent_verify, and the key that
 * verifies the service's revocation list (docs/protocol.md "Revocation"). */
const struct ndx_key *ndx_conf_consent_key(const struct ndx_conf *conf, const char *issuer_id,
					   const char *key_id);
/* A consent service as the document describes it (borrowed from conf). */
struct ndx_conf_consent_service {
	const char *id;              /* its subsystem id: the consents' issuer */
	const char *url;             /* where its status lists are fetched */
	const char *sign_key_id;
	const struct ndx_key *sign_key;
};
/* The consent service of issuer_id, or NULL. */
const struct ndx_conf_consent_service *ndx_conf_consent_service(const struct ndx_conf *conf,
								const char *issuer_id);
/* The i-th consent service (from 0, in the document's order); NULL past
 * the last. */
const struct ndx_conf_consent_service *ndx_conf_consent_service_at(const struct ndx_conf *conf,
								   size_t i);
/* True when a key id or certificate fingerprint is in the revocations. */
bool ndx_conf_is_revoked(const struct ndx_conf *conf, const char *key_id_or_fingerprint);

/* ---- subjects: bulk reads, embargoes, e-ID (docs/protocol.md) --------- */

/* The longest embargo a document may set: 100 years, so that a time plus an
 * embargo never overflows. */
#define NDX_CONF_EMBARGO_MAX_S ((int64_t)36525 * 86400)

/* True when service_id is in conf and purpose is one of its bulk_purposes
 * (an answer for that purpose may concern several people). False for NULL
 * arguments. */
bool ndx_conf_bulk_allowed(const struct ndx_conf *conf, const char *service_id,
			   const char *purpose);
/* The embargo of purpose in seconds (1 .. NDX_CONF_EMBARGO_MAX_S), 0 when it
 * has none or purpose is NULL. */
int64_t ndx_conf_embargo_s(const struct ndx_conf *conf, const char *purpose);
/* The Ed25519 key of id provider issuer (an exact string match with its
 * "issuer"; parsed once at load); kid, when not NULL, must be its
 * sign_key_id. NULL when unknown. Borrowed from conf, valid while it lives. */
const struct ndx_key *ndx_conf_id_provider_key(const struct ndx_conf *conf,
					       const char *issuer, const char *kid);

/* ---- events: event types and subscriptions (docs/protocol.md) -------- */

/* Defaults and bounds of a subscription's retry (seconds). */
#define NDX_CONF_RETRY_FIRST_S 1
#define NDX_CONF_RETRY_MAX_S 300
#define NDX_CONF_GIVE_UP_AFTER_S 86400
#define NDX_CONF_RETRY_MAX_LIMIT_S 86400                /* max_s at most a day */
#define NDX_CONF_GIVE_UP_LIMIT_S ((int64_t)30 * 86400)  /* give_up_after_s at most 30 days */
/* Longest event type name: [a-z0-9][a-z0-9.-]{0,63}. */
#define NDX_CONF_EVENT_NAME_MAX 64

/* True when name is a well-formed event type name: 1 to 64 characters from
 * a-z 0-9 . -, the first a letter or digit. */
bool ndx_conf_event_name_ok(const char *name);

/* An event type of a provider's service, read once at load (borrowed from
 * conf, valid while it lives). */
struct ndx_conf_event_type {
	const char *service;         /* canonical service id */
	const char *name;            /* unique within the service */
	const char *title;           /* NULL when none */
	const json_t *schema;        /* the payload's JSON Schema (draft 7), an object */
};
/* The i-th event type (from 0, in the document's order); NULL past the
 * last. */
const struct ndx_conf_event_type *ndx_conf_event_type_at(const struct ndx_conf *conf, size_t i);
/* The event type `name` of service, or NULL (also for NULL arguments). */
const struct ndx_conf_event_type *ndx_conf_event_type(const struct ndx_conf *conf,
						      const char *service, const char *name);

/* A subscription (a grant to receive an event type), read once at load
 * (borrowed from conf, valid while it lives). */
struct ndx_conf_subscription {
	const char *client;          /* the subscriber: a subsystem id */
	const char *service;         /* the event type's service */
	const char *event;           /* the event type's name */
	const char *purpose;         /* NULL when the service is not personal */
	int64_t retry_first_s, retry_max_s, give_up_after_s;
};
/* The i-th subscription (from 0, in the document's order); NULL past the
 * last. */
const struct ndx_conf_subscription *ndx_conf_subscription_at(const struct ndx_conf *conf,
							     size_t i);
/* The i-th (from 0, in document order) subscription to event `name` of service; NULL past the last. */
const struct ndx_conf_subscription *ndx_conf_subscriber_of(const struct ndx_conf *conf,
							   const char *service, const char *name,
							   size_t i);
/* The subscription of client to (service, name), or NULL. */
const struct ndx_conf_subscription *ndx_conf_subscription(const struct ndx_conf *conf,
							  const char *client, const char *service,
							  const char *name);

/* The operator's monitoring subsystem (the document's optional
 * monitoring.client): the one client that may read every gateway's
 * operational records. NULL when the configuration names none. */
const char *ndx_conf_monitoring_client(const struct ndx_conf *conf);

#endif
