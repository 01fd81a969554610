/* The message log: every gateway's append-only, tamper-evident record of
 * every exchange. Records are hash-chained (each holds the hash of the one
 * before), grouped into consecutive batches whose RFC 6962 Merkle roots are
 * signed with the gateway's Ed25519 key (signed tree heads, themselves
 * chained), stored in SQLite (WAL, synchronous=FULL) and committed in groups
 * by one writer thread (or, when it is idle, by an appender that asks to
 * write its own: ndx_msglog_append_inline). The encodings are normative: docs/protocol.md
 * "Message log". Overview: docs/architecture.md, DESIGN.md section 5. */
#ifndef NDX_MSGLOG_H
#define NDX_MSGLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ndx/hash.h"
#include "ndx/key.h"
#include "ndx/merkle.h"

#define NDX_MSGLOG_BATCH_MAX_DEFAULT 256
#define NDX_MSGLOG_BATCH_INTERVAL_DEFAULT_MS 1000
/* Longest text field (id, signature object...) a record may hold. */
#define NDX_MSGLOG_FIELD_MAX 65536

enum ndx_msglog_direction {
	NDX_MSGLOG_CONSUMER = 0, /* this gateway called a provider for its client */
	NDX_MSGLOG_PROVIDER = 1, /* this gateway served a consumer gateway */
};

/* What the gateway logs about one exchange. Every pointer is borrowed for
 * the duration of ndx_msglog_append only, or by ndx_msglog_append_async
 * until it calls its done callback. A NULL string is stored and
 * hashed exactly like "". A NULL hash means "none" (a refusal before the
 * hash existed) and is encoded as an empty field, unlike 32 zero bytes. */
struct ndx_msglog_record {
	int64_t time_ms;                   /* ms since the epoch; 0 = now */
	enum ndx_msglog_direction direction;
	const char *message_id;            /* X-Road-Id */
	const char *client;                /* X-Road-Client, canonical */
	const char *service;               /* canonical service id */
	const char *subject;               /* Ndx-Subject as the consumer named it, "" when none */
	const char *purpose;               /* Ndx-Purpose */
	const uint8_t *request_hash;       /* NDX_SHA256_LEN bytes or NULL */
	const uint8_t *response_hash;      /* NDX_SHA256_LEN bytes or NULL */
	int status;                        /* HTTP status answered */
	int64_t duration_ms;
	const char *request_sig;           /* Ndx-Signature object text */
	const char *response_sig;          /* Ndx-Response-Signature object text */
	const char *method;                /* HTTP method, upper case */
	const char *path;                  /* path after the service id as sent, then "?" and
					      the raw query when the query is not empty */
	const char *subjects;              /* the subjects the provider system declared:
					      canonical Ndx-Data-Subjects ("a,b"), "" none */
	const char *user_id;               /* X-Road-UserId */
	const char *issue;                 /* X-Road-Issue */
	const char *represented_party;     /* X-Road-Represented-Party as the gateway
					      canonicalised it, "[class/]code" of the
					      party the client acts for, "" when none */
	const char *authenticated;         /* PIN of the Ndx-Subject-Token the provider
					      gateway verified, "" when none */
};

/* A stored record as the log hands it out. The string pointers are valid
 * only until the callback (or function) that received the entry returns. */
struct ndx_msglog_entry {
	uint64_t seq;                      /* 1, 2, 3 ... */
	int64_t time_ms;
	enum ndx_msglog_direction direction;
	const char *message_id, *client, *service, *subject, *purpose;
	bool has_request_hash, has_response_hash;
	uint8_t request_hash[NDX_SHA256_LEN];
	uint8_t response_hash[NDX_SHA256_LEN];
	int status;
	int64_t duration_ms;
	const char *request_sig, *response_sig;
	const char *method, *path, *subjects, *user_id, *issue, *authenticated;
	const char *represented_party;
	uint8_t prev_hash[NDX_SHA256_LEN]; /* hash of record seq-1; zeros for seq 1 */
	uint8_t hash[NDX_SHA256_LEN];      /* the record hash as stored */
};

/* A signed tree head: the signature covers batch, first_seq, size, root,
 * time_ms and prev_sth_hash (docs/protocol.md "Message log"). */
struct ndx_msglog_sth {
	uint64_t batch;                    /* 1, 2, 3 ...; 0 = no tree head yet */
	uint64_t first_seq;                /* the batch covers first_seq .. first_seq+size-1 */
	uint64_t size;
	uint8_t root[NDX_SHA256_LEN];      /* RFC 6962 root over leaf(record hash) */
	int64_t time_ms;
	char key_id[NDX_KEY_ID_HEX_LEN + 1];
	uint8_t prev_sth_hash[NDX_SHA256_LEN]; /* zeros for batch 1 */
	uint8_t signature[NDX_ED25519_SIG_LEN];
};

struct ndx_msglog_options {
	unsigned batch_max;          /* records per batch; 0 = 256 */
	unsigned batch_interval_ms;  /* close an open batch after this long; 0 = 1000 */
};

struct ndx_msglog;

/* Longest gateway name ("{member}/{code}") a countersignature may carry. */
#define NDX_MSGLOG_GATEWAY_MAX 512

/* A witness's countersignature of one signed tree head (docs/protocol.md
 * "Witnessed tree heads"): Ed25519 by the witness (the registry's anchor
 * key) over the label ndx-witness-v1, gateway, batch, STH hash and time. */
struct ndx_msglog_witness {
	char gateway[NDX_MSGLOG_GATEWAY_MAX + 1]; /* the gateway whose head it is */
	uint64_t batch;
	uint8_t sth_hash[NDX_SHA256_LEN];  /* ndx_msglog_sth_hash of that head */
	int64_t time_ms;                   /* when the witness countersigned it */
	char key_id[NDX_KEY_ID_HEX_LEN + 1]; /* the witness's key */
	uint8_t signature[NDX_ED25519_SIG_LEN];
};

/* True when path names a PostgreSQL store (a postgresql:// or postgres://
 * connection string) rather than a SQLite file. */
bool ndx_msglog_is_connection_string(const char *path);

/* Opens (creating when missing) the log at path, recovers it (the chain
 * continues after the last durable record; records a crash left without a
 * tree head are put into batches and signed before this returns) and starts
 * its writer thread. key must hold a private key, must be the key the log
 * was created with (else NDX_EPERM: a log is verified against one key) and
 * is borrowed: it must outlive the log. opt may be NULL for the defaults.
 * Returns NDX_OK with *out set, or NDX_EDB / NDX_EIO / NDX_ENOMEM /
 * NDX_EINVAL (not a message log, a log of another format such as
 * ndx-msglog/1 or /2, an archive file, a public-only key) with *out NULL; the file
 * is then left as it was, and ndx_msglog_verify on it explains why. */
int ndx_msglog_open(const char *path, const struct ndx_key *key,
		    const struct ndx_msglog_options *opt, struct ndx_msglog **out);

/* Three ways to append a record, thread-safe and freely mixed: each queues
 * it for the log's writer thread, which writes whatever is queued, in queue
 * order, in one transaction and one fsync (group commit); a commit that
 * fails fails every record of its group. ndx_msglog_append waits for the
 * outcome; ndx_msglog_append_async returns at once and the writer calls
 * back with it, for event loops that must not block a thread while a
 * record becomes durable; ndx_msglog_append_inline writes the record on the
 * calling thread instead when the writer is idle. A thread's records keep
 * its order in the chain whichever ways it mixes. */

/* Appends one record and returns only once it is durable (committed and
 * fsynced together with whatever else was queued: group commit). Thread-safe;
 * never call it during or after ndx_msglog_close. On NDX_OK, *seq_out (when
 * not NULL) is the record's sequence number. On failure nothing of the
 * record is stored and the caller must treat the exchange as not logged:
 * NDX_EINVAL (bad direction), NDX_ETOOBIG (a field over
 * NDX_MSGLOG_FIELD_MAX), NDX_EDB (the commit failed: disk full, I/O
 * error), NDX_ECRYPTO (signing a tree head failed). */
int ndx_msglog_append(struct ndx_msglog *log, const struct ndx_msglog_record *rec,
		      uint64_t *seq_out);

/* Called once the record is durable (rc NDX_OK, seq its sequence number) or
 * has failed (rc as ndx_msglog_append would return; seq 0). Runs on the log's
 * writer thread, outside every lock of the log: it must be quick and must not
 * call back into the log (post the result to the caller's own thread instead). */
typedef void (*ndx_msglog_done_fn)(void *ud, int rc, uint64_t seq);
/* As ndx_msglog_append, but returns at once: NDX_OK when queued (done will be
 * called exactly once, later, from the writer thread), or an immediate error
 * (NDX_EINVAL bad direction or log closing, NDX_ETOOBIG a field too long,
 * NDX_ENOMEM) in which case done is NOT called. rec and every string it points
 * to must stay valid and unchanged until done is called. Thread-safe. */
int ndx_msglog_append_async(struct ndx_msglog *log, const struct ndx_msglog_record *rec,
			    ndx_msglog_done_fn done, void *ud);

/* As ndx_msglog_append_async, except when the writer has nothing queued and
 * is not writing: then the record is written and committed on the calling
 * thread, as a group of its own, and done is called on it before this
 * returns (NDX_OK). Otherwise it is queued exactly as by
 * ndx_msglog_append_async. For an event loop with nothing else in flight,
 * which would only sleep until the writer called back: it saves the two
 * thread hand-offs. done must not call back into the log here either.
 * The caller waits for its own disk, never for another process: when the
 * write lock is taken (ndx log archive deleting what it archived) or the
 * log is a PostgreSQL store (whose commits wait on a server), the record
 * is queued instead. */
int ndx_msglog_append_inline(struct ndx_msglog *log, const struct ndx_msglog_record *rec,
			     ndx_msglog_done_fn done, void *ud);

/* The upper bounds, in seconds, of struct ndx_msglog_head's commit histogram. */
#define NDX_MSGLOG_COMMIT_BUCKETS 10
extern const double ndx_msglog_commit_le[NDX_MSGLOG_COMMIT_BUCKETS];

/* Latest state for /metrics and admin pages, from memory, thread-safe. */
struct ndx_msglog_head {
	struct ndx_msglog_sth sth;   /* latest signed tree head; sth.batch 0 = none yet */
	uint64_t covered;            /* records covered by tree heads: sth.first_seq+sth.size-1 */
	uint64_t last_seq;           /* last durable record, open batch included */
	uint64_t commits;            /* group commits since open */
	uint64_t failed_commits;     /* commits that failed since open */
	/* How long the store's COMMIT of each successful group took (for
	 * SQLite: the WAL's write and its fsync, the wait every exchange's
	 * answer has for its record to be durable): commit_buckets[i] counts
	 * the commits of at most ndx_msglog_commit_le[i] seconds and not of
	 * the bound before, the last those above every bound; commit_seconds
	 * is their sum. */
	uint64_t commit_buckets[NDX_MSGLOG_COMMIT_BUCKETS + 1];
	double commit_seconds;
};
void ndx_msglog_head(struct ndx_msglog *log, struct ndx_msglog_head *out);

/* Claims key (the replay key of a request, 32 bytes) for every gateway
 * process writing this log, until expires_ms: the replay check that the
 * nodes of a gateway cluster share (docs/scale.md "Gateway clusters").
 * Returns NDX_OK when the key was free (or its claim had expired by
 * now_ms) and is now claimed, NDX_EEXIST when a live claim holds it (a
 * replay), NDX_ENOTFOUND when the log is one that only this process
 * writes (a SQLite file: the caller's own cache is the whole check), or
 * NDX_EDB. A round trip to the server on a connection of its own; claims
 * are serialised among the caller's threads. Thread-safe. */
int ndx_msglog_claim(struct ndx_msglog *log, const uint8_t key[NDX_SHA256_LEN], int64_t now_ms,
		     int64_t expires_ms);

/* Counts one call of a marketplace agreement in the period that starts at
 * period_start (Unix seconds) for every gateway process writing this log,
 * unless max calls are counted there already: the agreement's maximum,
 * held for a gateway cluster as a whole (docs/scale.md "Gateway
 * clusters"). NDX_OK when the call was counted, NDX_EPERM when the maximum
 * is used up, NDX_ENOTFOUND when the log is one that only this process
 * writes (a SQLite file: the caller counts in its own memory), or NDX_EDB.
 * ndx_msglog_give_back_call takes one counted call of that period back.
 * A round trip on the replay claims' connection. Thread-safe. */
int ndx_msglog_count_call(struct ndx_msglog *log, const char *agreement, int64_t period_start,
			  int64_t max);
int ndx_msglog_give_back_call(struct ndx_msglog *log, const char *agreement,
			      int64_t period_start);

/* Closes the open batch now (waiting for it), e.g. before a proof of a
 * just-appended record is needed. Thread-safe. NDX_OK (also when no batch
 * was open), or the error of the failed commit. */
int ndx_msglog_seal(struct ndx_msglog *log);

/* Calls cb for every live (not archived) record about subject, in seq
 * order: its subject equals it, or its subjects list holds it as one
 * element (an exact match, never a substring). From a separate read
 * connection, through a subject index written with each record; cb
 * returning non-zero stops the walk. Thread-safe (readers are serialised
 * among themselves, never block appends for long). Returns NDX_OK,
 * NDX_EINVAL for an empty subject, NDX_EDB. */
typedef int (*ndx_msglog_entry_cb)(const struct ndx_msglog_entry *e, void *ctx);
int ndx_msglog_by_subject(struct ndx_msglog *log, const char *subject,
			  ndx_msglog_entry_cb cb, void *ctx);

/* Calls cb for every live record whose time is at or after since_ms,
 * newest first, from the read connection; the walk stops at the first
 * record older than since_ms (times follow the append order, so a clock
 * stepped back, or the nodes of a gateway cluster whose clocks differ, can
 * end it early) or when cb returns non-zero. For
 * rebuilding state that covers a recent window after a restart (the
 * gateway's replay cache). Thread-safe like ndx_msglog_by_subject.
 * Returns NDX_OK, NDX_EINVAL (no read connection), NDX_EDB. */
int ndx_msglog_recent(struct ndx_msglog *log, int64_t since_ms, ndx_msglog_entry_cb cb,
		      void *ctx);

/* Calls cb for the live records with seq > after_seq, in seq order, at
 * most limit of them, from the read connection; cb returning non-zero
 * stops the walk. For a reader that pages through the log with a cursor
 * (the gateway's accesses feed, docs/protocol.md "Operational
 * monitoring"): it continues after the last seq cb saw. Records archived
 * away are not live and are skipped; a page never waits for the open batch
 * (its records are durable, only not yet under a tree head). limit 0 walks
 * nothing. Thread-safe like ndx_msglog_by_subject. Returns NDX_OK,
 * NDX_EINVAL (no read connection), NDX_EDB. */
int ndx_msglog_after(struct ndx_msglog *log, uint64_t after_seq, unsigned limit,
		     ndx_msglog_entry_cb cb, void *ctx);

/* Flushes the queue, closes the open batch, joins the writer thread and
 * frees the log. No ndx_msglog_append (nor seal, add_witness) may be
 * running or start. Records queued by ndx_msglog_append_async before close
 * began are written and their done callbacks called before it returns; an
 * ndx_msglog_append_async racing with close is either queued so, or refused
 * with NDX_EINVAL (done not called), but none may start once close has
 * returned: the log is gone. Returns NDX_OK or the error of the final
 * commit (the log is freed either way). Accepts NULL. */
int ndx_msglog_close(struct ndx_msglog *log);

/* ---- offline checks: need only a file path (ndx log ...) -------------- */

/* The record hash of e (its fields and prev_hash; e->hash is ignored). */
void ndx_msglog_record_hash(const struct ndx_msglog_entry *e, uint8_t out[NDX_SHA256_LEN]);
/* The bytes a tree head's signature covers: writes at most cap bytes into
 * buf and returns the encoding's length (always the same, 166 bytes). */
size_t ndx_msglog_sth_message(const struct ndx_msglog_sth *sth, uint8_t *buf, size_t cap);
/* The hash by which the next tree head chains to sth. */
void ndx_msglog_sth_hash(const struct ndx_msglog_sth *sth, uint8_t out[NDX_SHA256_LEN]);
/* Compact JSON of sth (public_key of key added when key is not NULL);
 * malloc'd, caller frees; NULL on allocation failure. */
char *ndx_msglog_sth_json(const struct ndx_msglog_sth *sth, const struct ndx_key *key);

struct ndx_msglog_verify_result {
	uint64_t records;       /* records whose hash and chain link were checked */
	uint64_t batched;       /* of those, covered by a checked tree head */
	uint64_t batches;       /* tree heads checked */
	uint64_t archives;      /* archive files checked */
	uint64_t first_seq, last_seq;   /* range checked (0 when empty) */
	bool anchored;          /* the checked chain starts after archived records
				   that were not checked (no archive_dir given) */
	struct ndx_msglog_sth head;     /* the latest tree head checked (batch 0: none) */
	uint64_t witnesses;     /* countersignatures checked (ndx_msglog_verify_witnessed) */
	uint64_t witnessed_batch;       /* the newest batch a witness countersigned; 0 none */
	int64_t witnessed_ms;   /* when the witness saw it */
	char witness_gateway[NDX_MSGLOG_GATEWAY_MAX + 1]; /* whose head it countersigned */
	double seconds;
	char key_id[NDX_KEY_ID_HEX_LEN + 1];
	char error[512];        /* the first problem found; "" when all holds */
};

/* Recomputes every record hash, the record chain, every batch root, tree
 * head signature and the tree head chain of the log at path, and that the
 * subject index lists exactly each record's subjects, preceded by
 * the archive files in archive_dir (NULL: the live log alone) as one
 * continuous chain. key NULL = the public key stored in the log at
 * creation; give an outside key for the strong check. Stops at the first
 * problem. Returns NDX_OK when everything holds, NDX_EBADSIG when
 * something does not (res->error names the record or batch and what is
 * wrong), NDX_EDB / NDX_EIO / NDX_EINVAL when the log cannot be read (also
 * explained in res->error). Opens the file read-only; safe while a gateway
 * writes to it (the check covers one consistent snapshot). */
int ndx_msglog_verify(const char *path, const char *archive_dir, const struct ndx_key *key,
		      struct ndx_msglog_verify_result *res);

/* Builds the inclusion proof (JSON, format "ndx-log-proof/3", see
 * docs/protocol.md) of the record with X-Road-Id message_id (direction -1:
 * either), or of record seq when message_id is NULL. *json is malloc'd
 * (caller frees). Returns NDX_OK, NDX_ENOTFOUND (no such record, or it is
 * still in the open batch), NDX_EINVAL (several records match: err lists
 * them), NDX_EBADSIG (the stored record or tree head does not verify),
 * NDX_EDB; err (errcap bytes) explains every failure. */
int ndx_msglog_prove(const char *path, const char *message_id, int direction, uint64_t seq,
		     char **json, char *err, size_t errcap);

/* Checks a proof offline with nothing but its text and the public key:
 * recomputes the record hash from the fields, the leaf, folds the audit
 * path to the root and verifies the tree head signature. Returns NDX_OK
 * (msg describes what was proven), NDX_EINVAL (malformed proof),
 * NDX_EBADSIG (it does not hold); msg (cap bytes) says why. */
int ndx_msglog_check_proof(const char *json, size_t len, const struct ndx_key *key,
			   char *msg, size_t cap);

/* One record handed out by ndx_msglog_walk_period with its place in its
 * batch's tree. Every pointer is valid only during the callback. */
struct ndx__msglog_walk_batch;
struct ndx_msglog_proven {
	const struct ndx_msglog_entry *entry;  /* its hash checked against its fields */
	const struct ndx_msglog_sth *sth;      /* its batch's signed tree head (root checked) */
	uint64_t leaf_index;                   /* entry->seq - sth->first_seq */
	const struct ndx__msglog_walk_batch *batch_; /* private */
};
/* The record's RFC 6962 audit path in its batch (ndx_merkle_audit_path),
 * computed on demand: call it only for the records whose proof is kept. */
int ndx_msglog_proven_path(const struct ndx_msglog_proven *p,
			   uint8_t out[NDX_MERKLE_MAX_PATH][NDX_SHA256_LEN], size_t *len);
/* Returns 0 to go on, > 0 to stop, or a negative NDX_E* to fail the walk. */
typedef int (*ndx_msglog_proven_cb)(const struct ndx_msglog_proven *p, void *ctx);

struct ndx_msglog_walk_result {
	struct ndx_msglog_sth head;   /* the newest tree head (batch 0: none yet) */
	struct ndx_key *key;          /* the public key stored in the log; the caller
				       * frees it (ndx_key_free); NULL on failure */
	uint64_t first_batch;         /* the first batch read */
	uint64_t batches;             /* batches read */
	uint64_t open_records;        /* records of the period not yet under a tree head */
};

/* Calls cb, in seq order, for every record of the live log at path whose
 * time is in [from_ms, to_ms) and whose batch is closed, with its batch's
 * tree head and leaf index (the usage statements of the marketplace,
 * include/ndx/usage.h). Finds the first batch by bisection over the tree
 * heads' times and stops after the first batch that starts at or after
 * to_ms, so a month of a long log costs that month's batches. Each batch
 * read is checked (record hashes, root; the tree head signatures are the
 * caller's to check with a key it trusts). Read-only, one consistent
 * snapshot, safe while a gateway appends. Returns NDX_OK with res filled,
 * NDX_EINVAL (an empty period, not a log), NDX_EBADSIG (a batch does not
 * hold: run ndx log verify), NDX_EDB / NDX_EIO / NDX_ENOMEM, or the
 * callback's error; err explains. */
int ndx_msglog_walk_period(const char *path, int64_t from_ms, int64_t to_ms,
			   ndx_msglog_proven_cb cb, void *ctx,
			   struct ndx_msglog_walk_result *res, char *err, size_t cap);

struct ndx_msglog_archive_result {
	uint64_t batches, records;           /* moved; 0 = nothing to archive */
	uint64_t first_batch, last_batch;
	uint64_t first_seq, last_seq;
	char file[4096];                     /* the archive file written */
};

/* Moves the oldest closed batches whose tree head is older than before_ms
 * (INT64_MAX: every closed batch) with their records into one
 * self-contained archive file in out_dir (an SQLite file named
 * ndx-log-BBBBBBBBBBBB-BBBBBBBBBBBB.sqlite by batch range, itself a log that
 * ndx_msglog_verify accepts and that carries the chain: the previous
 * record hash and tree head hash). The live log is verified first; the
 * file is fsynced before the batches are deleted from the live log in one
 * transaction. Returns NDX_OK (res->batches 0 when there was nothing to
 * move), NDX_EBADSIG (the live log does not verify), NDX_EEXIST (the
 * archive file exists), NDX_EIO, NDX_EDB; err explains. Safe while a
 * gateway appends. */
int ndx_msglog_archive(const char *path, const char *out_dir, int64_t before_ms,
		       struct ndx_msglog_archive_result *res, char *err, size_t errcap);

/* ---- witnessed tree heads (docs/protocol.md "Witnessed tree heads") ---- */

/* The bytes a countersignature covers: writes at most cap bytes into buf
 * and returns the encoding's length (which depends on the gateway name). */
size_t ndx_msglog_witness_message(const struct ndx_msglog_witness *w, uint8_t *buf, size_t cap);
/* Sets w->key_id and w->signature with key (private). NDX_OK, NDX_ECRYPTO. */
int ndx_msglog_witness_sign(const struct ndx_key *key, struct ndx_msglog_witness *w);
/* NDX_OK when w's signature verifies with key, else NDX_EBADSIG. */
int ndx_msglog_witness_verify(const struct ndx_key *key, const struct ndx_msglog_witness *w);
/* Compact JSON (format "ndx-witness/1"); malloc'd, caller frees; NULL when
 * out of memory. */
char *ndx_msglog_witness_json(const struct ndx_msglog_witness *w);
/* Parses a countersignature's JSON (signature not checked). NDX_OK or
 * NDX_EINVAL with err (cap bytes) naming the field. */
int ndx_msglog_witness_parse(const char *json, size_t len, struct ndx_msglog_witness *w,
			     char *err, size_t cap);
/* Parses a tree head in the JSON of ndx_msglog_sth_json (signature not
 * checked). NDX_OK or NDX_EINVAL with err naming the field. */
int ndx_msglog_sth_parse(const char *json, size_t len, struct ndx_msglog_sth *sth, char *err,
			 size_t cap);
/* NDX_OK when sth's signature verifies with key, else NDX_EBADSIG. */
int ndx_msglog_sth_check(const struct ndx_key *key, const struct ndx_msglog_sth *sth);

/* Stores a countersignature of one of this log's tree heads, through the
 * writer thread (durable on NDX_OK). NDX_ENOTFOUND: the log holds no tree
 * head of that batch (archived, or never written); NDX_EBADSIG: its STH
 * hash is not the log's (a witness saw another history); NDX_EDB. A second
 * countersignature of the same batch replaces the first. Thread-safe. */
int ndx_msglog_add_witness(struct ndx_msglog *log, const struct ndx_msglog_witness *w);
/* The stored countersignature of the highest batch, from the read
 * connection. NDX_OK, NDX_ENOTFOUND (none yet), NDX_EDB. Thread-safe. */
int ndx_msglog_last_witness(struct ndx_msglog *log, struct ndx_msglog_witness *out);
/* Copies up to max tree heads with batch >= from_batch, ascending, into
 * out; *n is how many. From the read connection; thread-safe. NDX_OK,
 * NDX_EINVAL (no read connection), NDX_EDB. */
int ndx_msglog_heads(struct ndx_msglog *log, uint64_t from_batch, struct ndx_msglog_sth *out,
		     size_t max, size_t *n);

struct ndx_anchor;
/* ndx_msglog_verify, then every stored countersignature: each must name
 * a batch whose STH hash (in the live log, or in an archive checked) is
 * the one countersigned, and, when anchor is not NULL, verify with the
 * anchor key its key_id names. res->witnessed_batch is the newest batch
 * countersigned. NDX_EBADSIG when one does not hold, naming the batch
 * ("batch 3: the witnessed tree head is not this log's: the history was
 * rewritten or forked"). Countersignatures of batches the check does not
 * hold (archived, no archive_dir) are counted but not compared. */
int ndx_msglog_verify_witnessed(const char *path, const char *archive_dir,
				const struct ndx_key *key, const struct ndx_anchor *anchor,
				struct ndx_msglog_verify_result *res);

#endif
