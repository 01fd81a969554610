/* The client side of events through the exchange (docs/events.md): what a
 * provider or subscriber system says to its own gateway's consumer port.
 * One place for every daemon that publishes or receives events (ndx-sector,
 * ndx-id): publish (POST /e1/{serviceId}/{name}), pull a page of the inbox
 * (GET /e1/inbox?after=SEQ&limit=N&unacked=1), acknowledge (POST
 * /e1/inbox/{id}/ack), the back-off both sides retry with, and a
 * subscriber thread that pulls, hands each event to a callback, and
 * acknowledges only what the callback has committed. On libcurl; no
 * third-party type crosses this header. Overview: docs/events.md
 * "Publishing" and "Receiving", docs/sectors.md "Events". */
#ifndef NDX_EVCLIENT_H
#define NDX_EVCLIENT_H

#include <stddef.h>

#define NDX_EVCLIENT_ID_MAX 64     /* an event id (a UUID) with its NUL */
#define NDX_EVCLIENT_NAME_MAX 256  /* service, publisher, name, purpose ids */
#define NDX_EVCLIENT_PAGE_MAX 500  /* the gateway's largest inbox page */
#define NDX_EVCLIENT_BODY_MAX (16u * 1024u * 1024u)

struct ndx_evclient;

struct ndx_evclient_config {
	const char *gateway_url; /* the consumer port, "http://127.0.0.1:4411" */
	const char *client;      /* the subsystem this system speaks as */
	long timeout_ms;         /* per request; 0: 5000 */
};

/* A client for cfg (strings copied). Not shared between threads: each
 * thread makes its own. NDX_EINVAL for a missing URL or client,
 * NDX_ENOMEM. */
int ndx_evclient_new(const struct ndx_evclient_config *cfg, struct ndx_evclient **out);
/* Accepts NULL. */
void ndx_evclient_free(struct ndx_evclient *c);

/* Publishes payload (len bytes of JSON) as event name of service, about
 * subject (a PIN; NULL or "" for a service without personal data).
 * event_id, when not NULL, names the event (Ndx-Event-Id: a UUID in
 * lower-case hex with dashes, e.g. from ndx_evclient_uuid): the gateway
 * keeps an id once, so publishing the same event again under the same id
 * after a lost answer is never a second event. NDX_OK once the gateway
 * answered 201 (the event is durable in its outbox) or, with event_id,
 * 200 "duplicate" (it was kept before); its id is in id_out
 * (NDX_EVCLIENT_ID_MAX bytes, may be NULL) and the status in *status
 * (may be NULL). NDX_ENET when the gateway could not be reached or timed
 * out; NDX_EPERM when it answered anything else, with its status in
 * *status and its error type and detail in err. NDX_EINVAL for a bad
 * service, name or event_id. Either way nothing was kept and publishing
 * again is right. */
int ndx_evclient_publish(struct ndx_evclient *c, const char *service, const char *name,
			 const char *subject, const char *payload, size_t len,
			 const char *event_id, char *id_out, long *status, char *err,
			 size_t errcap);

/* A fresh random UUID v4 (RFC 9562 section 5.4) in lower-case hex with
 * dashes, 36 characters and a NUL. NDX_OK, NDX_ECRYPTO (no randomness). */
int ndx_evclient_uuid(char out[37]);

/* 1 when s is a UUID as Ndx-Event-Id takes it: 36 characters, lower-case
 * hex with dashes at 8, 13, 18 and 23. */
int ndx_evclient_is_uuid(const char *s);

/* One event of the inbox, as the gateway lists it. The strings are owned
 * by the page. payload is the event's JSON payload, compact. */
struct ndx_event {
	long long seq;
	char id[NDX_EVCLIENT_ID_MAX];
	char service[NDX_EVCLIENT_NAME_MAX];
	char event[NDX_EVCLIENT_NAME_MAX];
	char publisher[NDX_EVCLIENT_NAME_MAX];
	char subject[16];        /* "" when the event names nobody */
	char purpose[NDX_EVCLIENT_NAME_MAX];
	long long time_ms;
	int acknowledged;
	char *payload;
};

struct ndx_event_page {
	struct ndx_event *events;
	size_t n;
	long long next; /* pass as after= to page on */
};

/* Reads a GET /e1/inbox answer (len bytes). NDX_EINVAL, with the reason in
 * err, when it is not {"events":[…],"next":N} with every event carrying a
 * non-negative seq, an id, a service and an event name of the sizes above,
 * and a payload; *out is then empty. Free with ndx_event_page_free. */
int ndx_event_page_parse(const char *body, size_t len, struct ndx_event_page *out, char *err,
			 size_t errcap);
/* Accepts an empty or already freed page. */
void ndx_event_page_free(struct ndx_event_page *p);

/* GET /e1/inbox?after=after&limit=limit[&unacked=1]: NDX_OK with *out
 * filled, NDX_ENET, NDX_EPERM (another status, reason in err), NDX_EINVAL
 * (an answer that does not parse). */
int ndx_evclient_pull(struct ndx_evclient *c, long long after, unsigned limit, int unacked,
		      struct ndx_event_page *out, char *err, size_t errcap);

/* POST /e1/inbox/{id}/ack: NDX_OK when acknowledged (again is the same),
 * NDX_ENET, NDX_EPERM with the reason in err. */
int ndx_evclient_ack(struct ndx_evclient *c, const char *id, char *err, size_t errcap);

/* The wait before retry number attempt (1 for the first retry):
 * min(first_ms * 2^(attempt-1), max_ms); first_ms for attempt 0. */
long long ndx_evclient_backoff_ms(unsigned attempt, long long first_ms, long long max_ms);

/* ---- the subscriber thread ------------------------------------------------ */

/* What the callback of a subscriber answers for one event. */
enum ndx_evsub_result {
	NDX_EVSUB_APPLIED = 0, /* committed (or already applied): acknowledge it */
	NDX_EVSUB_RETRY,       /* not now (the store is busy): try again later */
	NDX_EVSUB_REJECT,      /* never applicable (a payload this system cannot use):
				  logged and acknowledged, so it does not block the rest */
};

/* Called on the subscriber thread for each unacknowledged event, in inbox
 * order. Must be idempotent: after a crash between its commit and the
 * acknowledgement the same event (same id) comes again. */
typedef enum ndx_evsub_result (*ndx_evsub_fn)(void *ctx, const struct ndx_event *ev);

struct ndx_evsub_config {
	struct ndx_evclient_config client;
	const char *prog;      /* prefix of its stderr lines */
	long poll_ms;          /* idle wait between pulls; 0: 1000 */
	long max_backoff_ms;   /* longest wait after failures; 0: 10000 */
	ndx_evsub_fn apply;
	void *ctx;
};

struct ndx_evsub;

/* Starts the thread: it pulls the unacknowledged events from seq 0 (so a
 * restart resumes from what was not acknowledged), applies each, and
 * acknowledges; after a failure it waits with back-off. NDX_EINVAL,
 * NDX_ENOMEM, NDX_EIO (no thread). */
int ndx_evsub_start(const struct ndx_evsub_config *cfg, struct ndx_evsub **out);
/* Wakes the thread for an early pull (e.g. from a test). Accepts NULL. */
void ndx_evsub_poke(struct ndx_evsub *s);
/* Stops the thread (within one request's timeout) and frees. Accepts NULL. */
void ndx_evsub_stop(struct ndx_evsub *s);

#endif
