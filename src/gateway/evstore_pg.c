/* The gateway's event store on PostgreSQL (evstore.h; evstore_pg.h): the
 * same outbox, deliveries and inbox as evstore.c's SQLite file, the same
 * head flag for the order rule and the same counts kept by triggers, in a
 * schema of the database reached through libndx's PostgreSQL engine
 * (ndx/sqldb.h: schema versions in the meta row pg_schema, a write
 * transaction serialised by an advisory lock on the schema, COMMIT durable
 * with synchronous_commit = on, no password in the connection string).
 *
 * Several gateway nodes of one member may share the schema (docs/scale.md
 * "The gateway's event store"). Every write transaction of the events
 * threads is one at a time (the sqldb writer lock, pg_advisory_xact_lock),
 * which keeps the head flag right when two nodes add deliveries to one
 * group. A due delivery is made by the node that claims it: a claim is a
 * session-level advisory lock on the delivery (pg_try_advisory_lock, keyed
 * by the schema, seq and client) taken only when free, and kept only when
 * the delivery, read again under it, is still due and its group's head; so
 * of two nodes that read the same heads exactly one takes each, the other
 * skipping it. The attempt's record releases it once committed. A node
 * killed mid-delivery loses its session, and with it its claims: the
 * delivery is due again for the others at once.
 *
 * Binary columns (payload, hash) are bytea, exchanged as hex text
 * (decode/encode in SQL), since sqldb's values are text and integers.
 * Every write function runs in a savepoint: a failed statement aborts a
 * PostgreSQL transaction, and the caller's must go on as SQLite's does. */
#include "evstore_pg.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ndx/array.h"
#include "ndx/encode.h"
#include "ndx/err.h"
#include "ndx/sqldb.h"
#include "evstore_queue.h"

#define T "text COLLATE \"C\""

/* Version 1: evstore.c's SQLite migration 1 in PostgreSQL types. */
static const char schema_v1[] =
	"CREATE TABLE IF NOT EXISTS meta(key " T " PRIMARY KEY, value text NOT NULL);"
	"CREATE TABLE outbox(seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
	" id " T " NOT NULL UNIQUE, service " T " NOT NULL, name " T " NOT NULL,"
	" publisher " T " NOT NULL, subject " T " NOT NULL, time_ms bigint NOT NULL,"
	" payload bytea NOT NULL, hash bytea NOT NULL CHECK(length(hash) = 32),"
	" signature text NOT NULL);"
	"CREATE TABLE deliveries(seq bigint NOT NULL REFERENCES outbox(seq),"
	" client " T " NOT NULL, purpose " T " NOT NULL,"
	" service " T " NOT NULL, name " T " NOT NULL, subject " T " NOT NULL,"
	" state bigint NOT NULL CHECK(state IN (0, 1, 2)),"
	" head bigint NOT NULL DEFAULT 0 CHECK(head = 0 OR state = 0),"
	" attempts bigint NOT NULL DEFAULT 0, first_attempt_ms bigint NOT NULL DEFAULT 0,"
	" next_at_ms bigint NOT NULL, updated_ms bigint NOT NULL,"
	" last_error text NOT NULL DEFAULT '', receipt text,"
	" PRIMARY KEY(seq, client));"
	"CREATE INDEX deliveries_queue ON deliveries(client, service, name, subject, seq)"
	" WHERE state = 0;"
	"CREATE INDEX deliveries_heads ON deliveries(seq, client, next_at_ms) WHERE head = 1;"
	"CREATE INDEX deliveries_heads_next ON deliveries(next_at_ms) WHERE head = 1;"
	"CREATE INDEX deliveries_dead ON deliveries(seq, client) WHERE state = 2;"
	"CREATE TABLE inbox(seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
	" id " T " NOT NULL, client " T " NOT NULL, purpose " T " NOT NULL,"
	" service " T " NOT NULL, name " T " NOT NULL, publisher " T " NOT NULL,"
	" subject " T " NOT NULL, time_ms bigint NOT NULL, payload bytea NOT NULL,"
	" hash bytea NOT NULL CHECK(length(hash) = 32), signature text NOT NULL,"
	" received_ms bigint NOT NULL, acked_ms bigint, UNIQUE(id, client));"
	"CREATE INDEX inbox_client ON inbox(client, seq);"
	"CREATE INDEX inbox_unacked ON inbox(client, seq) WHERE acked_ms IS NULL;"
	/* what: 0 queued, 1 delivered, 2 dead (= deliveries.state), 3 inbox unacked. */
	"CREATE TABLE counts(what bigint PRIMARY KEY, n bigint NOT NULL);"
	"INSERT INTO counts(what, n) VALUES(0, 0), (1, 0), (2, 0), (3, 0);"
	"CREATE FUNCTION evstore_count_deliveries() RETURNS trigger LANGUAGE plpgsql AS $f$"
	" BEGIN"
	"  IF TG_OP = 'UPDATE' AND OLD.state = NEW.state THEN RETURN NULL; END IF;"
	"  IF TG_OP <> 'INSERT' THEN UPDATE counts SET n = n - 1 WHERE what = OLD.state; END IF;"
	"  IF TG_OP <> 'DELETE' THEN UPDATE counts SET n = n + 1 WHERE what = NEW.state; END IF;"
	"  RETURN NULL;"
	" END $f$;"
	"CREATE TRIGGER deliveries_counts AFTER INSERT OR DELETE OR UPDATE OF state ON deliveries"
	" FOR EACH ROW EXECUTE FUNCTION evstore_count_deliveries();"
	"CREATE FUNCTION evstore_count_inbox() RETURNS trigger LANGUAGE plpgsql AS $f$"
	" BEGIN"
	"  IF TG_OP = 'INSERT' AND NEW.acked_ms IS NULL"
	"     THEN UPDATE counts SET n = n + 1 WHERE what = 3; END IF;"
	"  IF TG_OP = 'UPDATE' AND OLD.acked_ms IS NULL AND NEW.acked_ms IS NOT NULL"
	"     THEN UPDATE counts SET n = n - 1 WHERE what = 3; END IF;"
	"  IF TG_OP = 'DELETE' AND OLD.acked_ms IS NULL"
	"     THEN UPDATE counts SET n = n - 1 WHERE what = 3; END IF;"
	"  RETURN NULL;"
	" END $f$;"
	"CREATE TRIGGER inbox_counts AFTER INSERT OR DELETE OR UPDATE OF acked_ms ON inbox"
	" FOR EACH ROW EXECUTE FUNCTION evstore_count_inbox();"
	"INSERT INTO meta(key, value) VALUES('pg_schema', '1'), ('events_store', '1');";

#undef T

/* Schema n (1-based) is made by pg_schema[n-1] from n-1; append, never edit. */
static const char *const pg_schema[] = { schema_v1 };

static const struct ndx_sqldb_desc desc = {
	.prog = GW_PROG ": events",
	.what = "gateway event store",
	.init_key = "events_store",
	.pg_schema = pg_schema,
	.n_pg_schema = sizeof pg_schema / sizeof *pg_schema,
};

/* A delivery this session holds the advisory lock of (gw_evpg_claim). */
struct claim {
	int64_t seq;
	char *client;
	bool attempted; /* recorded in the open transaction: released after its commit */
};

struct gw_evpg {
	struct ndx_sqldb *db;
	bool in_txn; /* a write transaction of the caller's (gw_evpg_begin) */
	struct claim *claims;
	size_t nclaims, capclaims;
};

/* The advisory lock key of delivery (?1 seq, ?2 client) in this schema. */
#define CLAIM_KEY "hashtextextended(current_schema() || ':ndx-gateway-delivery:' || ?1::text" \
		  " || ':' || ?2, 0)"

#define PROG GW_PROG ": events store"

/* The columns of an event, as evstore.c's EVENT_COLS: payload and hash as hex. */
#define EVENT_COLS(p) \
	p "seq AS seq, " p "id AS id, " p "service AS service, " p "name AS name, " \
	p "publisher AS publisher, " p "subject AS subject, " p "time_ms AS time_ms, " \
	"encode(" p "payload, 'hex') AS payload, encode(" p "hash, 'hex') AS hash, " \
	p "signature AS signature"
#define VIEW_COLS \
	"d.seq AS seq, o.id AS id, d.service AS service, d.name AS name, d.subject AS subject," \
	" d.client AS client, d.purpose AS purpose, d.state AS state, d.attempts AS attempts," \
	" o.time_ms AS published_ms, d.next_at_ms AS next_at_ms, d.updated_ms AS updated_ms," \
	" d.last_error AS last_error"
#define INBOX_COLS EVENT_COLS("") ", client, purpose, received_ms, acked_ms IS NOT NULL AS acked"

/* ---- small helpers --------------------------------------------------------- */

static int64_t num(json_t *row, const char *key)
{
	return (int64_t)json_integer_value(json_object_get(row, key));
}

static const char *str(json_t *row, const char *key)
{
	const char *v = json_string_value(json_object_get(row, key));

	return v ? v : "";
}

static int need_transaction(struct gw_evpg *s, const char *what)
{
	if (s->in_txn)
		return NDX_OK;
	fprintf(stderr, PROG ": %s outside a transaction (gw_evstore_begin first)\n", what);
	return NDX_EINVAL;
}

/* One write of several statements in a savepoint: on failure it is
 * undone and the caller's transaction goes on. */
static int op_begin(struct gw_evpg *s, const char *what)
{
	int rc = need_transaction(s, what);

	return rc ? rc : ndx_sqldb_exec(s->db, "SAVEPOINT evstore_op", "");
}

static int op_end(struct gw_evpg *s, int rc)
{
	if (rc != NDX_OK)
		ndx_sqldb_exec(s->db, "ROLLBACK TO SAVEPOINT evstore_op", "");
	int rc2 = ndx_sqldb_exec(s->db, "RELEASE SAVEPOINT evstore_op", "");

	return rc != NDX_OK ? rc : rc2;
}

/* One integer column of the first row: NDX_ENOTFOUND when no row or NULL. */
static int one_int(struct gw_evpg *s, int64_t *v, const char *sql, const char *types, ...)
{
	json_t *rows = NULL, *x;
	va_list ap;
	int rc;

	va_start(ap, types);
	rc = ndx_sqldb_queryv(s->db, &rows, sql, types, ap);
	va_end(ap);
	if (rc)
		return rc;
	x = json_array_size(rows) ? json_object_get(json_array_get(rows, 0), "v") : NULL;
	rc = json_is_integer(x) ? NDX_OK : NDX_ENOTFOUND;
	if (rc == NDX_OK)
		*v = (int64_t)json_integer_value(x);
	json_decref(rows);
	return rc;
}

/* Lower-case hex of len bytes (malloc'd), "" for none. */
static char *hex_of(const uint8_t *p, size_t len)
{
	char *h = malloc(2 * len + 1);

	if (h)
		ndx_hex_encode(len ? p : (const uint8_t *)"", len, h);
	return h;
}

/* The string columns keys[0..n) of row, and when blob_key is not NULL one
 * hex column decoded, copied into one allocation starting at *dst[0], as
 * evstore.c's pack_row lays them out. */
#define MAX_PACKED 8

static int pack_row(json_t *row, const char *const *keys, const char **const *dst, size_t n,
		    const char *blob_key, const uint8_t **blob, size_t *blob_len)
{
	const char *src[MAX_PACKED + 1];
	size_t len[MAX_PACKED + 1], total = 0, m = n, hexlen = 0;

	for (size_t i = 0; i < n; i++) {
		src[i] = str(row, keys[i]);
		len[i] = strlen(src[i]);
	}
	if (blob_key) {
		src[m] = str(row, blob_key);
		hexlen = strlen(src[m]);
		if (hexlen % 2)
			return NDX_EDB;
		len[m++] = hexlen / 2;
	}
	for (size_t i = 0; i < m; i++)
		total += len[i] + 1;
	char *block = malloc(total), *p = block;

	if (!block)
		return NDX_ENOMEM;
	for (size_t i = 0; i < m; i++) {
		if (i < n) {
			memcpy(p, src[i], len[i]);
			*dst[i] = p;
		} else {
			if (ndx_hex_decode(src[i], hexlen, (uint8_t *)p, len[i]) != NDX_OK) {
				free(block);
				return NDX_EDB;
			}
			*blob = (const uint8_t *)p;
			*blob_len = len[i];
		}
		p[len[i]] = '\0';
		p += len[i] + 1;
	}
	return NDX_OK;
}

/* ev, *client and *purpose from a row of EVENT_COLS, client and purpose:
 * one allocation, starting at ev->service. */
static int read_event(json_t *row, struct gw_event *ev, const char **client,
		      const char **purpose)
{
	static const char *const keys[] = { "service", "name", "publisher", "subject",
					    "signature", "client", "purpose" };
	const char **const dst[] = { &ev->service, &ev->name, &ev->publisher, &ev->subject,
				     &ev->signature, client, purpose };
	const char *id = str(row, "id"), *hash = str(row, "hash");

	memset(ev, 0, sizeof *ev);
	if (!id[0] || strlen(id) >= GW_UUID_LEN || strlen(hash) != 2 * NDX_SHA256_LEN ||
	    ndx_hex_decode(hash, strlen(hash), ev->hash, NDX_SHA256_LEN) != NDX_OK) {
		fprintf(stderr, PROG ": event %lld: malformed id or hash in the database\n",
			(long long)num(row, "seq"));
		return NDX_EDB;
	}
	ev->seq = num(row, "seq");
	memcpy(ev->id, id, strlen(id));
	ev->time_ms = num(row, "time_ms");
	return pack_row(row, keys, dst, sizeof keys / sizeof *keys, "payload", &ev->payload,
			&ev->payload_len);
}

/* ---- open, close, transactions ------------------------------------------- */

int gw_evpg_open(const char *conninfo, struct gw_evpg **out, char *err, size_t errcap)
{
	struct gw_evpg *s = calloc(1, sizeof *s);
	int rc;

	*out = NULL;
	if (!s)
		return ndx_fail(err, errcap, NDX_ENOMEM, "events store: out of memory");
	/* A new schema is made; one made before (by this node or another of
	 * the member's) is opened at its version. */
	rc = ndx_sqldb_pg_open(&desc, conninfo, true, &s->db);
	if (rc == NDX_EEXIST)
		rc = ndx_sqldb_pg_open(&desc, conninfo, false, &s->db);
	if (rc != NDX_OK) {
		free(s);
		return ndx_fail(err, errcap, rc == NDX_EINVAL ? NDX_EINVAL : NDX_EDB,
				"events store: cannot open it on PostgreSQL or apply its schema "
				"(the reason is on stderr)");
	}
	*out = s;
	return NDX_OK;
}

void gw_evpg_close(struct gw_evpg *s)
{
	if (!s)
		return;
	if (s->db) {
		/* The server drops a session's advisory locks only when its
		 * backend notices the connection closed, a moment after this
		 * returns; a node closing cleanly hands its claims over now. */
		int64_t v;

		if (s->in_txn)
			s->db->ops->rollback(s->db);
		if (s->nclaims)
			one_int(s, &v, "SELECT 1 AS v FROM (SELECT pg_advisory_unlock_all()) AS u", "");
		s->db->ops->close(s->db);
	}
	for (size_t i = 0; i < s->nclaims; i++)
		free(s->claims[i].client);
	free(s->claims);
	free(s);
}

static struct claim *find_claim(struct gw_evpg *s, int64_t seq, const char *client)
{
	for (size_t i = 0; i < s->nclaims; i++)
		if (s->claims[i].seq == seq && strcmp(s->claims[i].client, client) == 0)
			return &s->claims[i];
	return NULL;
}

/* After a commit: the claims of the deliveries whose attempt it recorded
 * are released (before it, another node could take one and read the
 * state the attempt changed as it was). After a rollback: kept. */
static void settle_claims(struct gw_evpg *s, bool committed)
{
	size_t k = 0;

	for (size_t i = 0; i < s->nclaims; i++) {
		struct claim *c = &s->claims[i];

		if (committed && c->attempted) {
			int64_t got;

			if (one_int(s, &got, "SELECT pg_advisory_unlock(" CLAIM_KEY ")::int AS v", "is",
				    c->seq, c->client) != NDX_OK)
				fprintf(stderr, PROG ": cannot release the claim on delivery "
						"%lld to %s\n", (long long)c->seq, c->client);
			free(c->client);
			continue;
		}
		c->attempted = false;
		s->claims[k++] = *c;
	}
	s->nclaims = k;
}

int gw_evpg_begin(struct gw_evpg *s)
{
	if (s->in_txn) {
		fprintf(stderr, PROG ": begin: a transaction is already open\n");
		return NDX_EINVAL;
	}
	int rc = s->db->ops->begin(s->db);

	if (rc == NDX_OK)
		s->in_txn = true;
	return rc == NDX_OK ? NDX_OK : NDX_EDB;
}

int gw_evpg_commit(struct gw_evpg *s)
{
	if (!s->in_txn) {
		fprintf(stderr, PROG ": commit: no transaction is open\n");
		return NDX_EINVAL;
	}
	int rc = s->db->ops->commit(s->db);

	if (rc != NDX_OK)
		s->db->ops->rollback(s->db);
	s->in_txn = false;
	settle_claims(s, rc == NDX_OK);
	return rc == NDX_OK ? NDX_OK : NDX_EDB;
}

void gw_evpg_rollback(struct gw_evpg *s)
{
	if (s->in_txn)
		s->db->ops->rollback(s->db);
	s->in_txn = false;
	settle_claims(s, false);
}

/* ---- outbox -------------------------------------------------------------- */

/* ev's fields as parameters ?1..?9 of PUBLISH and RECEIVE; the hex of the
 * payload is *payload_hex (the caller frees it). */
#define EVENT_PARAMS "?1, ?2, ?3, ?4, ?5, ?6, decode(?7, 'hex'), decode(?8, 'hex'), ?9"

int gw_evpg_publish(struct gw_evpg *s, struct gw_event *ev)
{
	char *payload, hash[2 * NDX_SHA256_LEN + 1];
	int64_t seq = 0;
	int rc;

	if ((rc = op_begin(s, "publish")))
		return rc;
	if (!(payload = hex_of(ev->payload, ev->payload_len)))
		return op_end(s, NDX_ENOMEM);
	ndx_hex_encode(ev->hash, NDX_SHA256_LEN, hash);
	rc = one_int(s, &seq, "INSERT INTO outbox(id, service, name, publisher, subject, time_ms,"
			      " payload, hash, signature) VALUES(" EVENT_PARAMS ") RETURNING seq AS v",
		     "sssssisss", ev->id, ev->service, ev->name, ev->publisher, ev->subject,
		     ev->time_ms, payload, hash, ev->signature);
	free(payload);
	if (rc == NDX_OK)
		ev->seq = seq;
	return op_end(s, rc);
}

/* The earliest queued delivery in the group (seq, client) would join. */
#define HEAD_FOR_EVENT \
	"SELECT d.seq AS v FROM outbox o JOIN deliveries d ON d.client = ?2" \
	" AND d.service = o.service AND d.name = o.name" \
	" AND d.subject = o.subject AND d.state = 0" \
	" WHERE o.seq = ?1 ORDER BY d.seq LIMIT 1"
/* The earliest queued delivery in the group of delivery (seq, client). */
#define HEAD_FOR_DELIVERY \
	"SELECT g.seq AS v FROM deliveries r JOIN deliveries g" \
	" ON g.client = r.client AND g.service = r.service" \
	" AND g.name = r.name AND g.subject = r.subject AND g.state = 0" \
	" WHERE r.seq = ?1 AND r.client = ?2 ORDER BY g.seq LIMIT 1"

/* ---- the queue's statements (evstore_queue.h) ---- */

static int pg_group_head(void *v, bool for_event, int64_t seq, const char *client,
			 int64_t *head)
{
	return one_int(v, head, for_event ? HEAD_FOR_EVENT : HEAD_FOR_DELIVERY, "is", seq,
		       client);
}

static int pg_set_head(void *v, int64_t seq, const char *client, int head)
{
	struct gw_evpg *s = v;

	return ndx_sqldb_exec(s->db, "UPDATE deliveries SET head = ?3 WHERE seq = ?1 AND client = ?2",
			      "isi", seq, client, (int64_t)head);
}

static int pg_insert(void *v, int64_t seq, const char *client, const char *purpose, int head,
		     int64_t next_at_ms)
{
	struct gw_evpg *s = v;

	/* NDX_ENOTFOUND when no row was made: no outbox event seq. */
	return ndx_sqldb_change(s->db, "INSERT INTO deliveries(seq, client, purpose, service, name,"
				       " subject, state, head, next_at_ms, updated_ms)"
				       " SELECT seq, ?2, ?3, service, name, subject, 0, ?4, ?5, ?5"
				       " FROM outbox WHERE seq = ?1",
				"issii", seq, client, purpose, (int64_t)head, next_at_ms);
}

static int pg_state(void *v, int64_t seq, const char *client, int *state, int *head)
{
	struct gw_evpg *s = v;
	json_t *row = NULL;
	int rc = ndx_sqldb_query_one(s->db, &row, "SELECT state, head FROM deliveries"
						  " WHERE seq = ?1 AND client = ?2",
				     "is", seq, client);

	if (rc)
		return rc;
	*state = (int)num(row, "state");
	*head = (int)num(row, "head");
	json_decref(row);
	return NDX_OK;
}

static int pg_attempt(void *v, int64_t seq, const char *client, enum gw_delivery_state state,
		      int head, int64_t now_ms, int64_t next_at_ms, const char *error,
		      const char *receipt)
{
	struct gw_evpg *s = v;

	return ndx_sqldb_exec(s->db, "UPDATE deliveries SET state = ?3, head = ?4,"
				     " attempts = attempts + 1, first_attempt_ms = CASE WHEN attempts = 0"
				     " THEN ?5 ELSE first_attempt_ms END, updated_ms = ?5,"
				     " next_at_ms = ?6, last_error = ?7, receipt = COALESCE(?8, receipt)"
				     " WHERE seq = ?1 AND client = ?2",
			      "isiiiiss", seq, client, (int64_t)state, (int64_t)head, now_ms,
			      next_at_ms, error, receipt);
}

static int pg_requeue(void *v, int64_t seq, const char *client, int head, int64_t now_ms)
{
	struct gw_evpg *s = v;

	/* NDX_ENOTFOUND when no row changed: no such delivery, or not dead. */
	return ndx_sqldb_change(s->db, "UPDATE deliveries SET state = 0, head = ?3, attempts = 0,"
				       " first_attempt_ms = 0, next_at_ms = ?4, updated_ms = ?4"
				       " WHERE seq = ?1 AND client = ?2 AND state = 2",
				"isii", seq, client, (int64_t)head, now_ms);
}

static const struct gw_evqueue_ops PG_QUEUE = {
	.group_head = pg_group_head,
	.set_head = pg_set_head,
	.insert = pg_insert,
	.state = pg_state,
	.attempt = pg_attempt,
	.requeue = pg_requeue,
};

int gw_evpg_add_delivery(struct gw_evpg *s, int64_t seq, const char *client,
			 const char *purpose, int64_t next_at_ms)
{
	int rc = op_begin(s, "add delivery");

	return rc ? rc : op_end(s, gw_evqueue_add(&PG_QUEUE, s, seq, client, purpose, next_at_ms));
}

int gw_evpg_attempted(struct gw_evpg *s, int64_t seq, const char *client,
		      enum gw_delivery_state state, int64_t now_ms, int64_t next_at_ms,
		      const char *error, const char *receipt)
{
	int rc = op_begin(s, "attempted");
	struct claim *c;

	if (rc)
		return rc;
	rc = op_end(s, gw_evqueue_attempted(&PG_QUEUE, s, seq, client, state, now_ms, next_at_ms,
					    error, receipt));
	if (rc == NDX_OK && (c = find_claim(s, seq, client)))
		c->attempted = true;
	return rc;
}

int gw_evpg_replay(struct gw_evpg *s, int64_t seq, const char *client, int64_t now_ms)
{
	int rc = op_begin(s, "replay");

	return rc ? rc : op_end(s, gw_evqueue_replay(&PG_QUEUE, s, seq, client, now_ms));
}

static bool skipped(int64_t seq, const char *client, const int64_t *skip_seq,
		    const char *const *skip_client, size_t nskip)
{
	for (size_t i = 0; i < nskip; i++)
		if (skip_seq[i] == seq && strcmp(skip_client[i], client) == 0)
			return true;
	return false;
}

int gw_evpg_due(struct gw_evpg *s, int64_t now_ms, size_t max, const int64_t *skip_seq,
		const char *const *skip_client, size_t nskip, struct gw_due **out, size_t *n)
{
	struct gw_due *list = NULL;
	size_t cap = 0, k = 0;
	json_t *rows = NULL, *row;
	size_t i;
	/* The skipped ones are among the first due: max + nskip rows hold max. */
	int64_t limit = max > (size_t)INT32_MAX ? INT32_MAX : (int64_t)(max + nskip);
	int rc = ndx_sqldb_query(s->db, &rows,
				 "SELECT " EVENT_COLS("o.") ", d.client AS client, d.purpose AS purpose,"
				 " d.attempts AS attempts, d.first_attempt_ms AS first_attempt_ms"
				 " FROM deliveries d JOIN outbox o ON o.seq = d.seq"
				 " WHERE d.head = 1 AND d.next_at_ms <= ?1"
				 " ORDER BY d.seq, d.client LIMIT ?2",
				 "ii", now_ms, limit);

	if (rc)
		return rc;
	json_array_foreach(rows, i, row) {
		if (k >= max)
			break;
		if (skipped(num(row, "seq"), str(row, "client"), skip_seq, skip_client, nskip))
			continue;
		if ((rc = NDX_ARRAY_RESERVE(list, cap, k)))
			break;
		struct gw_due *d = &list[k];

		memset(d, 0, sizeof *d);
		if ((rc = read_event(row, &d->ev, &d->client, &d->purpose)))
			break;
		d->attempts = (int)num(row, "attempts");
		d->first_attempt_ms = num(row, "first_attempt_ms");
		k++;
	}
	json_decref(rows);
	if (rc != NDX_OK) {
		gw_evstore_due_free(list, k);
		return rc;
	}
	if (k == 0) {
		free(list);
		list = NULL;
	}
	*out = list;
	*n = k;
	return NDX_OK;
}

/* Claims delivery (seq, client) for this session: *got true when it is
 * this session's (claimed before, or now). */
static int claim_one(struct gw_evpg *s, int64_t seq, const char *client, int64_t now_ms,
		     bool *got)
{
	int64_t v = 0;
	int rc;

	*got = false;
	if (find_claim(s, seq, client)) {
		*got = true;
		return NDX_OK;
	}
	if ((rc = one_int(s, &v, "SELECT pg_try_advisory_lock(" CLAIM_KEY ")::int AS v", "is", seq,
			  client)))
		return rc;
	if (!v)
		return NDX_OK; /* another node's */
	/* Read again under the lock: another node may have made it since
	 * this node's due() read it. */
	rc = one_int(s, &v, "SELECT 1 AS v FROM deliveries WHERE seq = ?1 AND client = ?2"
			    " AND head = 1 AND next_at_ms <= ?3", "isi", seq, client, now_ms);
	if (rc == NDX_OK) {
		char *dup = strdup(client);

		if (dup && NDX_ARRAY_RESERVE(s->claims, s->capclaims, s->nclaims) == NDX_OK) {
			s->claims[s->nclaims++] = (struct claim){ seq, dup, false };
			*got = true;
			return NDX_OK;
		}
		free(dup);
		rc = NDX_ENOMEM;
	}
	one_int(s, &v, "SELECT pg_advisory_unlock(" CLAIM_KEY ")::int AS v", "is", seq, client);
	return rc == NDX_ENOTFOUND ? NDX_OK : rc;
}

int gw_evpg_claim(struct gw_evpg *s, struct gw_due *list, size_t *n, int64_t now_ms)
{
	size_t k = 0, i = 0;
	int rc = NDX_OK;

	if (s->in_txn) {
		fprintf(stderr, PROG ": claim inside a transaction\n");
		return NDX_EINVAL;
	}
	/* Kept in list order; the others' strings freed. */
	for (; i < *n; i++) {
		bool got;

		if ((rc = claim_one(s, list[i].ev.seq, list[i].client, now_ms, &got)))
			break;
		if (got)
			list[k++] = list[i];
		else
			free((void *)list[i].ev.service);
	}
	if (rc != NDX_OK) {
		/* Every entry left goes; the claims taken stay this session's
		 * and are found again by the next claim. */
		for (size_t j = 0; j < k; j++)
			free((void *)list[j].ev.service);
		for (size_t j = i; j < *n; j++)
			free((void *)list[j].ev.service);
		*n = 0;
		return rc;
	}
	*n = k;
	return NDX_OK;
}

int gw_evpg_outbox_get(struct gw_evpg *s, const char *id, struct gw_due **out)
{
	json_t *row = NULL;
	struct gw_due *e;
	int rc = ndx_sqldb_query_one(s->db, &row, "SELECT " EVENT_COLS("o.") ", '' AS client,"
						  " '' AS purpose FROM outbox o WHERE o.id = ?1",
				     "s", id);

	if (rc)
		return rc;
	if (!(e = calloc(1, sizeof *e))) {
		json_decref(row);
		return NDX_ENOMEM;
	}
	rc = read_event(row, &e->ev, &e->client, &e->purpose);
	json_decref(row);
	if (rc) {
		free(e);
		return rc;
	}
	*out = e;
	return NDX_OK;
}

int gw_evpg_next_due(struct gw_evpg *s, int64_t *next_at_ms)
{
	int rc = one_int(s, next_at_ms, "SELECT MIN(next_at_ms) AS v FROM deliveries WHERE head = 1",
			 "");

	if (rc == NDX_ENOTFOUND) {
		*next_at_ms = INT64_MAX;
		rc = NDX_OK;
	}
	return rc;
}

static int read_views(json_t *rows, struct gw_delivery_view **out, size_t *n)
{
	static const char *const keys[] = { "service", "name", "subject", "client", "purpose",
					    "last_error" };
	struct gw_delivery_view *list = NULL;
	size_t cap = 0, k = 0, i;
	json_t *row;
	int rc = NDX_OK;

	json_array_foreach(rows, i, row) {
		if ((rc = NDX_ARRAY_RESERVE(list, cap, k)))
			break;
		struct gw_delivery_view *v = &list[k];
		const char **const dst[] = { &v->service, &v->name, &v->subject, &v->client,
					     &v->purpose, &v->last_error };
		const char *id = str(row, "id");

		memset(v, 0, sizeof *v);
		if (!id[0] || strlen(id) >= GW_UUID_LEN) {
			rc = NDX_EDB;
			break;
		}
		v->seq = num(row, "seq");
		memcpy(v->id, id, strlen(id));
		v->state = (enum gw_delivery_state)num(row, "state");
		v->attempts = (int)num(row, "attempts");
		v->published_ms = num(row, "published_ms");
		v->next_at_ms = num(row, "next_at_ms");
		v->updated_ms = num(row, "updated_ms");
		if ((rc = pack_row(row, keys, dst, sizeof keys / sizeof *keys, NULL, NULL, NULL)))
			break;
		k++;
	}
	if (rc != NDX_OK || k == 0) {
		gw_evstore_views_free(list, k);
		list = NULL;
		k = 0;
	}
	*out = list;
	*n = k;
	return rc;
}

int gw_evpg_deliveries_of(struct gw_evpg *s, const char *id, char **publisher,
			  struct gw_delivery_view **out, size_t *n)
{
	json_t *row = NULL, *rows = NULL;
	char *pub = NULL;
	int64_t seq;
	int rc = ndx_sqldb_query_one(s->db, &row, "SELECT seq, publisher FROM outbox WHERE id = ?1",
				     "s", id);

	if (rc)
		return rc;
	seq = num(row, "seq");
	if (publisher && !(pub = strdup(str(row, "publisher")))) {
		json_decref(row);
		return NDX_ENOMEM;
	}
	json_decref(row);
	rc = ndx_sqldb_query(s->db, &rows, "SELECT " VIEW_COLS " FROM deliveries d"
					   " JOIN outbox o ON o.seq = d.seq WHERE d.seq = ?1"
					   " ORDER BY d.client",
			     "i", seq);
	if (rc == NDX_OK)
		rc = read_views(rows, out, n);
	json_decref(rows);
	if (rc) {
		free(pub);
		return rc;
	}
	if (publisher)
		*publisher = pub;
	return NDX_OK;
}

int gw_evpg_dead(struct gw_evpg *s, int64_t after_seq, int64_t max,
		 struct gw_delivery_view **out, size_t *n)
{
	json_t *rows = NULL;
	int rc = ndx_sqldb_query(s->db, &rows, "SELECT " VIEW_COLS " FROM deliveries d"
					       " JOIN outbox o ON o.seq = d.seq"
					       " WHERE d.state = 2 AND d.seq > ?1"
					       " ORDER BY d.seq, d.client LIMIT ?2",
				 "ii", after_seq, max);

	if (rc == NDX_OK)
		rc = read_views(rows, out, n);
	json_decref(rows);
	return rc;
}

/* ---- inbox --------------------------------------------------------------- */

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int receive(struct gw_evpg *s, struct gw_event *ev, const char *client,
		   const char *purpose, bool *duplicate)
{
	char *payload, hash[2 * NDX_SHA256_LEN + 1];
	int64_t seq;
	/* Looked up first, as evstore.c does, so that a duplicate spends no seq. */
	int rc = one_int(s, &seq, "SELECT seq AS v FROM inbox WHERE id = ?1 AND client = ?2", "ss",
			 ev->id, client);

	if (rc == NDX_OK) {
		ev->seq = seq;
		*duplicate = true;
		return NDX_OK;
	}
	if (rc != NDX_ENOTFOUND)
		return rc;
	if (!(payload = hex_of(ev->payload, ev->payload_len)))
		return NDX_ENOMEM;
	ndx_hex_encode(ev->hash, NDX_SHA256_LEN, hash);
	rc = one_int(s, &seq, "INSERT INTO inbox(id, service, name, publisher, subject, time_ms,"
			      " payload, hash, signature, client, purpose, received_ms)"
			      " VALUES(" EVENT_PARAMS ", ?10, ?11, ?12) RETURNING seq AS v",
		     "sssssisssssi", ev->id, ev->service, ev->name, ev->publisher, ev->subject,
		     ev->time_ms, payload, hash, ev->signature, client, purpose, wall_ms());
	free(payload);
	if (rc)
		return rc;
	ev->seq = seq;
	*duplicate = false;
	return NDX_OK;
}

int gw_evpg_receive(struct gw_evpg *s, struct gw_event *ev, const char *client,
		    const char *purpose, bool *duplicate)
{
	int rc = op_begin(s, "receive");

	return rc ? rc : op_end(s, receive(s, ev, client, purpose, duplicate));
}

static int read_inbox(json_t *rows, struct gw_inbox_entry **out, size_t *n)
{
	struct gw_inbox_entry *list = NULL;
	size_t cap = 0, k = 0, i;
	json_t *row;
	int rc = NDX_OK;

	json_array_foreach(rows, i, row) {
		if ((rc = NDX_ARRAY_RESERVE(list, cap, k)))
			break;
		struct gw_inbox_entry *e = &list[k];

		memset(e, 0, sizeof *e);
		if ((rc = read_event(row, &e->ev, &e->client, &e->purpose)))
			break;
		e->received_ms = num(row, "received_ms");
		e->acknowledged = num(row, "acked") != 0;
		k++;
	}
	if (rc != NDX_OK || k == 0) {
		gw_evstore_inbox_free(list, k);
		list = NULL;
		k = 0;
	}
	*out = list;
	*n = k;
	return rc;
}

int gw_evpg_inbox(struct gw_evpg *s, const char *client, int64_t after_seq, int64_t max,
		  bool unacked_only, struct gw_inbox_entry **out, size_t *n)
{
	json_t *rows = NULL;
	int rc = ndx_sqldb_query(s->db, &rows,
				 unacked_only
					 ? "SELECT " INBOX_COLS " FROM inbox WHERE client = ?1"
					   " AND seq > ?2 AND acked_ms IS NULL ORDER BY seq LIMIT ?3"
					 : "SELECT " INBOX_COLS " FROM inbox WHERE client = ?1"
					   " AND seq > ?2 ORDER BY seq LIMIT ?3",
				 "sii", client, after_seq, max);

	if (rc == NDX_OK)
		rc = read_inbox(rows, out, n);
	json_decref(rows);
	return rc;
}

static int ack(struct gw_evpg *s, const char *client, const char *id, int64_t now_ms)
{
	int64_t seq;
	int rc = ndx_sqldb_change(s->db, "UPDATE inbox SET acked_ms = ?3 WHERE client = ?1"
					 " AND id = ?2 AND acked_ms IS NULL",
				  "ssi", client, id, now_ms);

	if (rc != NDX_ENOTFOUND)
		return rc;
	/* Nothing changed: acknowledged before, or not in the inbox. */
	return one_int(s, &seq, "SELECT seq AS v FROM inbox WHERE id = ?1 AND client = ?2", "ss", id,
		       client);
}

int gw_evpg_ack(struct gw_evpg *s, const char *client, const char *id, int64_t now_ms)
{
	int rc = op_begin(s, "ack");

	return rc ? rc : op_end(s, ack(s, client, id, now_ms));
}

int gw_evpg_inbox_entry(struct gw_evpg *s, const char *client, const char *id,
			struct gw_inbox_entry **out)
{
	json_t *rows = NULL;
	size_t n = 0;
	int rc = ndx_sqldb_query(s->db, &rows, "SELECT " INBOX_COLS " FROM inbox"
					       " WHERE id = ?2 AND client = ?1",
				 "ss", client, id);

	if (rc == NDX_OK)
		rc = read_inbox(rows, out, &n);
	json_decref(rows);
	if (rc)
		return rc;
	return n ? NDX_OK : NDX_ENOTFOUND;
}

int gw_evpg_counts(struct gw_evpg *s, struct gw_evstore_counts *c)
{
	struct gw_evstore_counts got = { 0 };
	json_t *rows = NULL, *row;
	size_t i;
	int rc = ndx_sqldb_query(s->db, &rows, "SELECT what, n FROM counts", "");

	if (rc)
		return rc;
	json_array_foreach(rows, i, row) {
		int64_t v = num(row, "n");
		uint64_t u = v > 0 ? (uint64_t)v : 0;

		switch (num(row, "what")) {
		case 0: got.queued = u; break;
		case 1: got.delivered = u; break;
		case 2: got.dead = u; break;
		case 3: got.inbox_unacked = u; break;
		default: break;
		}
	}
	json_decref(rows);
	*c = got;
	return NDX_OK;
}
