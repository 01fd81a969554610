/* SHA-256 and the canonical request and response hashes that gateways sign.
 * The byte layout is specified in docs/protocol.md "Canonical hashes"; change
 * one only together with the other. */
#ifndef NDX_HASH_H
#define NDX_HASH_H

#include <stddef.h>
#include <stdint.h>

#define NDX_SHA256_LEN 32

void ndx_sha256(const void *data, size_t len, uint8_t out[NDX_SHA256_LEN]);

/* Incremental SHA-256 for bodies that arrive in pieces. */
struct ndx_sha256;
/* Returns a new context or NULL on allocation failure. */
struct ndx_sha256 *ndx_sha256_new(void);
void ndx_sha256_update(struct ndx_sha256 *ctx, const void *data, size_t len);
/* Writes the digest; the context is then reset and may be reused. */
void ndx_sha256_final(struct ndx_sha256 *ctx, uint8_t out[NDX_SHA256_LEN]);
/* Accepts NULL. */
void ndx_sha256_free(struct ndx_sha256 *ctx);

/* What a request hash covers. Each string is NUL-terminated; NULL means the
 * header or part is absent and hashes exactly like "". path is the request
 * path after the service id as sent on the wire (percent-encoding kept,
 * "" when absent); query is the raw query string without '?'. */
struct ndx_request_hash_input {
	const char *method;
	const char *service;   /* canonical service id, VN/GOV/BCA/population/citizens */
	const char *path;
	const char *query;
	const char *client;    /* X-Road-Client, canonical */
	const char *message_id;/* X-Road-Id */
	const char *user_id;   /* X-Road-UserId */
	const char *issue;     /* X-Road-Issue */
	const char *purpose;   /* Ndx-Purpose */
	const char *subject;   /* Ndx-Subject */
	const char *consent;   /* Ndx-Consent */
	const char *subject_token; /* Ndx-Subject-Token, NULL = absent; hashed as its
				    * SHA-256, absent (NULL or "") as an empty field */
	const char *timestamp; /* Ndx-Timestamp, RFC 3339 UTC */
	const char *nonce;     /* Ndx-Nonce: the consumer gateway's random value, so that
				* a client's retry with the same X-Road-Id in the same
				* second is another signed request (docs/protocol.md) */
	const char *gateway;   /* Ndx-Gateway: the provider gateway it is for, {member}/{code} */
	const char *content_type;
	const char *represented_party; /* X-Road-Represented-Party, [class/]code */
	/* SHA-256 of the user headers' canonical block (docs/protocol.md
	 * "Headers"); all zero bytes hash as they are, so a caller without
	 * user headers passes the hash of the empty block. */
	uint8_t user_headers_sha256[NDX_SHA256_LEN];
	uint8_t body_sha256[NDX_SHA256_LEN];
};

/* Computes the canonical request hash (ndx-request-v4) of in into out. */
void ndx_request_hash(const struct ndx_request_hash_input *in, uint8_t out[NDX_SHA256_LEN]);

struct ndx_response_hash_input {
	uint8_t request_hash[NDX_SHA256_LEN];
	int status;                /* HTTP status the provider returned */
	const char *content_type;  /* NULL = absent */
	const char *location;      /* Location header of a redirect; NULL = absent */
	const char *subjects;      /* canonical Ndx-Data-Subjects, NULL = none */
	uint8_t user_headers_sha256[NDX_SHA256_LEN]; /* as in the request */
	uint8_t body_sha256[NDX_SHA256_LEN];
};

/* Computes the canonical response hash (ndx-response-v3) of in into out. */
void ndx_response_hash(const struct ndx_response_hash_input *in, uint8_t out[NDX_SHA256_LEN]);

/* What an event hash covers (docs/protocol.md "Events"): the event as its
 * publishing gateway accepted it. NULL strings hash as "". */
struct ndx_event_hash_input {
	const char *id;        /* the event's id (a UUID the publishing gateway drew) */
	const char *service;   /* canonical service id the event type belongs to */
	const char *name;      /* the event type's name */
	const char *publisher; /* the subsystem that published it */
	const char *subject;   /* the data subject's PIN, "" when not personal */
	int64_t time_ms;       /* when the publishing gateway accepted it */
	const char *gateway;   /* the publishing gateway, {member}/{code} */
	uint8_t payload_sha256[NDX_SHA256_LEN];
};
/* Computes the event hash (ndx-event-v1) of in into out. */
void ndx_event_hash(const struct ndx_event_hash_input *in, uint8_t out[NDX_SHA256_LEN]);

/* What a delivery receipt covers: the subscriber's gateway holds the event
 * for client, under purpose, durably. */
struct ndx_event_receipt_hash_input {
	uint8_t event_hash[NDX_SHA256_LEN];
	const char *client;  /* the subscribing subsystem */
	const char *purpose; /* the subscription's purpose, "" when none */
	const char *gateway; /* the receiving gateway, {member}/{code} */
};
/* Computes the receipt hash (ndx-event-receipt-v1) of in into out. */
void ndx_event_receipt_hash(const struct ndx_event_receipt_hash_input *in,
			    uint8_t out[NDX_SHA256_LEN]);

#endif
