/* Operational monitoring records (opmon.c; docs/protocol.md "Operational
 * monitoring", docs/gateway.md): one record per exchange, per event delivery
 * attempt and per delivery received, kept in data_dir/opmon.db (or in
 * PostgreSQL: opmon.store, docs/scale.md), with X-Road's
 * operational monitoring fields. Records are statistics, not evidence (the
 * message log is the evidence): the exchange paths hand a record to a bounded
 * in-memory queue (a copy into a fixed slot, no allocation, no syscall, no
 * I/O under the lock) and one writer thread inserts the queue in one
 * transaction per batch. A full queue drops the record and counts it.
 *
 * Self-contained (no gateway.h), so that a unit test links it with libndx. */
#ifndef NDX_GATEWAY_OPMON_H
#define NDX_GATEWAY_OPMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ndx_conf;

enum gw_opmon_role {
	GW_OPMON_CONSUMER,  /* this gateway called a provider gateway for its client */
	GW_OPMON_PROVIDER,  /* this gateway served a consumer gateway's request */
	GW_OPMON_EVENT_OUT, /* a delivery attempt of an event published here */
	GW_OPMON_EVENT_IN,  /* a delivery received (accepted or refused) */
	GW_OPMON_DSP_OUT,   /* an attempt to deliver a message of its connector (DSP) */
	GW_OPMON_DSP_IN,    /* a connector message received (accepted or refused) */
};

/* A time or duration that did not happen (JSON null). */
#define GW_OPMON_NONE INT64_C(-1)

/* Defaults of the gateway configuration's opmon.retention_s and
 * opmon.max_records (docs/gateway.md). */
#define GW_OPMON_RETENTION_S_DEFAULT 604800
#define GW_OPMON_MAX_RECORDS_DEFAULT 5000000
/* Records the queue holds; one more is dropped. */
#define GW_OPMON_QUEUE_DEFAULT 8192
/* The writer inserts when this many wait, or GW_OPMON_FLUSH_MS after the last. */
#define GW_OPMON_BATCH 512
#define GW_OPMON_FLUSH_MS 100
/* Retention is applied at most this often (and at start). */
#define GW_OPMON_PRUNE_EVERY_MS 60000
/* Records one page of a read holds: default and most. */
#define GW_OPMON_PAGE_DEFAULT 1000
#define GW_OPMON_PAGE_MAX 10000

/* The text fields are cut to these (bytes, including the NUL). */
#define GW_OPMON_ID_CAP 256
#define GW_OPMON_MSGID_CAP 128
#define GW_OPMON_PATH_CAP 256
#define GW_OPMON_SHORT_CAP 96

/* One record as a caller hands it over: strings are copied (cut to the
 * caps above) before gw_opmon_record returns; NULL = null. Times are Unix
 * milliseconds, durations milliseconds, GW_OPMON_NONE = null. status 0 =
 * null (no HTTP answer). */
struct gw_opmon_in {
	enum gw_opmon_role role;
	const char *message_id;
	const char *client, *service;
	const char *client_gateway, *service_gateway;
	const char *method;
	const char *path_template; /* never a raw path: gw_opmon_path_template */
	int64_t request_in, request_out, response_in, response_out;
	int64_t request_size, response_size;
	bool success;
	const char *error_type;    /* X-Road-Error */
	int status;
	int64_t peer_ms, provider_ms; /* duration_ms and own_ms are derived */
	const char *purpose;
	bool personal;
};

struct gw_opmon_options {
	int64_t retention_s; /* >= 1 */
	int64_t max_records; /* >= 1 */
	size_t queue_cap;    /* >= 1 */
};

struct gw_opmon;

/* Opens (creating) the store at path (a file, or a postgresql:// connection
 * string without a password), applies retention once and starts
 * the writer thread. NDX_OK with *out set, or an error explained in err. */
int gw_opmon_open(const char *path, const struct gw_opmon_options *opt, struct gw_opmon **out,
		  char *err, size_t errcap);
/* Writes what is queued, answers the reads waiting, stops the thread and
 * closes the store. Accepts NULL. No gw_opmon_record may be running. */
void gw_opmon_close(struct gw_opmon *m);

/* Queues one record; never waits for I/O. m may be NULL (no store: nothing
 * happens). Thread-safe. */
void gw_opmon_record(struct gw_opmon *m, const struct gw_opmon_in *in);

/* The store's counters for /metrics, of the store the gateway opened (all
 * zero when none is open). Thread-safe. */
struct gw_opmon_stats {
	uint64_t recorded;   /* records queued since start */
	uint64_t dropped;    /* records dropped: the queue was full */
	uint64_t written;    /* records inserted */
	uint64_t failed;     /* records lost to a failed insert */
	uint64_t pruned;     /* records removed by retention */
	size_t depth;        /* records waiting in the queue now */
	size_t capacity;     /* the queue's size */
};
void gw_opmon_stats(struct gw_opmon_stats *st);

/* A read (docs/protocol.md "Operational monitoring"). records and health
 * are answered from this store; accesses (the personal-data reads the
 * gateway served, from its message log) and proof (the inclusion proof of
 * one message-log record) by opmon_query.c from the message log. */
enum gw_opmon_query_kind {
	GW_OPMON_Q_RECORDS,
	GW_OPMON_Q_HEALTH,
	GW_OPMON_Q_ACCESSES,
	GW_OPMON_Q_PROOF,
};
struct gw_opmon_query {
	enum gw_opmon_query_kind kind;
	int64_t after;            /* records: seq cursor, 0 = from the start; accesses:
				     message-log seq cursor */
	int64_t limit;            /* records, accesses: 1..GW_OPMON_PAGE_MAX */
	int64_t from_ms, to_ms;   /* records: request_in in [from, to); GW_OPMON_NONE = open */
	int64_t seq;              /* proof: the message-log record, >= 1 */
};

/* Parses the query string of a read (after, limit, from, to, each
 * optional; from/to in Unix ms) for kind. NDX_OK or NDX_EINVAL with a
 * reason in err. Pure. */
int gw_opmon_query_parse(enum gw_opmon_query_kind kind, const char *after, const char *limit,
			 const char *from, const char *to, struct gw_opmon_query *q, char *err,
			 size_t errcap);
/* The query arguments of a read as they arrived, NULL when absent. */
struct gw_opmon_args {
	const char *after, *limit, *from, *to, *seq;
};
/* The kind a read's name ("records", "health", "accesses", "proof") names.
 * NDX_OK, or NDX_EINVAL for any other name. Pure. */
int gw_opmon_query_kind(const char *name, enum gw_opmon_query_kind *kind);
/* gw_opmon_query_parse for every kind: records and health as there (seq is
 * not theirs and is ignored, as any other unknown argument); accesses takes
 * after (default 0) and limit (1..GW_OPMON_PAGE_MAX, default
 * GW_OPMON_PAGE_DEFAULT) and refuses from, to and seq; proof takes seq
 * (required, >= 1) and refuses the others. NDX_OK or NDX_EINVAL with a
 * reason in err. Pure. */
int gw_opmon_query_parse_args(enum gw_opmon_query_kind kind, const struct gw_opmon_args *a,
			      struct gw_opmon_query *q, char *err, size_t errcap);
/* The canonical text of q as the gateway port's /o1/query path carries it:
 * "records?after=N&limit=N[&from=N][&to=N]", "health",
 * "accesses?after=N&limit=N" or "proof?seq=N". */
int gw_opmon_query_text(const struct gw_opmon_query *q, char *out, size_t cap);

/* Answers q on the writer thread (after the records queued before the
 * call are written): done(ud, rc, json, len) is called there once, with
 * the JSON answer (malloc'd, the callee frees it) for gateway (the name in
 * the answer) and rc NDX_OK, or NULL and an error. done must not block
 * for long: the queue waits meanwhile. Returns NDX_OK when queued, else
 * an error (done is not called). */
typedef void (*gw_opmon_answer_fn)(void *ud, int rc, char *json, size_t len);
int gw_opmon_query(struct gw_opmon *m, const struct gw_opmon_query *q, const char *gateway,
		   gw_opmon_answer_fn done, void *ud);
/* The same, waiting for the answer (tests, tools). */
int gw_opmon_query_wait(struct gw_opmon *m, const struct gw_opmon_query *q, const char *gateway,
			char **json, size_t *len);
/* Waits until every record queued before the call is written. */
int gw_opmon_flush(struct gw_opmon *m);
/* Applies retention now as if the time were now_ms (tests): every record
 * with request_in before now_ms - retention_s * 1000 goes, then the oldest
 * beyond max_records. Waits for it. */
int gw_opmon_prune(struct gw_opmon *m, int64_t now_ms);

/* The path template of a record (never the raw path, which may carry
 * personal numbers): grant_pattern, the path pattern of the grant that
 * allowed the exchange (ndx_conf_grant_match, as the grant check found
 * it), with any 12-digit run in it starred out; when there is none or it
 * is "*", rest with every segment that holds a digit replaced by "{}". The
 * query is never included. Cut to cap bytes. */
void gw_opmon_path_template(const char *grant_pattern, const char *rest, char *out, size_t cap);
/* The second rule alone. */
void gw_opmon_redact_path(const char *rest, char *out, size_t cap);

/* Unix time in milliseconds (CLOCK_REALTIME, no syscall on Linux). */
int64_t gw_opmon_now_ms(void);

#endif
