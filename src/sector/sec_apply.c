/* Applying received events to a sector's records (sec_apply.h). The rules
 * are the table RULES: for a sector and an event name, the payload fields
 * (each checked with the format of the sector's schema first) and either
 * one conditional UPDATE whose parameters ?1.. are those fields and ?9 the
 * time of the change, the condition making a change that is already so
 * touch nothing, not even updated_at; or an insert function, which adds a
 * record only when the same fact has not added it before (a birth: the
 * child's citizen record; a new citizen: a child's health insurance card)
 * and may publish through the sector's outbox in the same transaction.
 * The same code on both engines: the statements are in the SQL SQLite
 * and PostgreSQL both speak (IS DISTINCT FROM, ON CONFLICT DO NOTHING),
 * run through sec_sql_exec (sec_sql.h) on either engine; the
 * event's id is claimed in event_applied first thing in the transaction
 * (on PostgreSQL the schema's write lock of store_pg_begin is held, so of
 * two processes on one schema the second sees the first's claim once it
 * committed, and applies nothing). Overview: docs/sectors.md "Events",
 * docs/events.md "Receiving". */
#include "sec_apply.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ndx/err.h"
#include "ndx/evclient.h"
#include "ndx/fold.h"
#include "ndx/pin.h"
#include "ndx/sqldb.h"
#include "ndx/sqlstore.h"
#include "ndx/timefmt.h"
#include "sec_outbox.h"
#include "sec_sql.h"
#include "store.h"
#include "store_pg.h"

#define PROG "ndx-sector"
#define MAX_FIELDS 8 /* ?1..?8; ?9 is the time */

struct field {
	const char *name;
	enum col_type type; /* COL_PIN, COL_DATE, COL_PROVINCE, COL_TEXT, COL_HOUSEHOLD */
	int optional;
};

/* What an insert rule works with. */
struct apply_ctx {
	sqlite3 *db;         /* SQLite, or */
	struct store_pg *pg; /* PostgreSQL */
	const struct sector_def *def;
	const char *id, *now;
	const char *client; /* the subsystem the sector publishes as */
	int published;      /* events added to the outbox */
};

/* An insert: 1 added, 0 nothing to add (the same fact added it before, or
 * it concerns nobody here), -1 the store failed, -2 the payload cannot be
 * applied; why set for -1 and -2. */
typedef int (*insert_fn)(struct apply_ctx *a, const json_t *p, char *why, size_t cap);

static int birth_citizen(struct apply_ctx *a, const json_t *p, char *why, size_t cap);
static int child_health_card(struct apply_ctx *a, const json_t *p, char *why, size_t cap);
static int name_corrected(struct apply_ctx *a, const json_t *p, char *why, size_t cap);

struct rule {
	const char *sector, *event, *effect;
	struct field fields[MAX_FIELDS];
	const char *sql;  /* a conditional UPDATE, or */
	insert_fn insert; /* an insert */
};

static const struct rule RULES[] = {
	/* Death: the population registry records the date of death. */
	{ "population", "death-registered", "citizen marked deceased",
	  { { "pin", COL_PIN, 0 }, { "died_on", COL_DATE, 0 } },
	  "UPDATE citizens SET deceased_on = ?2, updated_at = ?9"
	  " WHERE pin = ?1 AND (deceased_on IS NULL OR deceased_on <> ?2)", NULL },
	/* Social insurance stops contributions and the pension. */
	{ "insurance", "death-registered", "participant stopped (deceased)",
	  { { "pin", COL_PIN, 0 }, { "died_on", COL_DATE, 0 } },
	  "UPDATE participants SET status = 'deceased', updated_at = ?9"
	  " WHERE pin = ?1 AND status <> 'deceased'", NULL },
	/* Tax closes the personal tax file. */
	{ "tax", "death-registered", "personal tax file closed",
	  { { "pin", COL_PIN, 0 }, { "died_on", COL_DATE, 0 } },
	  "UPDATE taxpayers SET status = 'closed', updated_at = ?9"
	  " WHERE tax_id = ?1 AND status <> 'closed'", NULL },
	/* A change of permanent residence: tax, social insurance and the
	 * vehicle register keep the address they hold current. */
	{ "tax", "residence-changed", "taxpayer address updated",
	  { { "pin", COL_PIN, 0 }, { "permanent_address", COL_TEXT, 0 },
	    { "permanent_province", COL_PROVINCE, 0 } },
	  "UPDATE taxpayers SET address = ?2, province = ?3, updated_at = ?9"
	  " WHERE tax_id = ?1 AND kind = 'individual'"
	  " AND (address IS DISTINCT FROM ?2 OR province IS DISTINCT FROM ?3)", NULL },
	{ "insurance", "residence-changed", "participant address updated",
	  { { "pin", COL_PIN, 0 }, { "permanent_address", COL_TEXT, 0 },
	    { "permanent_province", COL_PROVINCE, 0 } },
	  "UPDATE participants SET address = ?2, province = ?3, updated_at = ?9"
	  " WHERE pin = ?1 AND (address IS DISTINCT FROM ?2 OR province IS DISTINCT FROM ?3)", NULL },
	{ "vehicles", "residence-changed", "owner address updated",
	  { { "pin", COL_PIN, 0 }, { "permanent_address", COL_TEXT, 0 },
	    { "permanent_province", COL_PROVINCE, 0 } },
	  "UPDATE vehicles SET owner_address = ?2, owner_province = ?3, updated_at = ?9"
	  " WHERE owner_id = ?1 AND (owner_address IS DISTINCT FROM ?2"
	  " OR owner_province IS DISTINCT FROM ?3)", NULL },
	/* A correction of a citizen's name in the population registry: tax
	 * and social insurance correct the name they hold (their copies hold
	 * no birth date or sex). */
	{ "tax", "citizen-corrected", "taxpayer name corrected",
	  { { "pin", COL_PIN, 0 }, { "full_name", COL_TEXT, 0 } }, NULL, name_corrected },
	{ "insurance", "citizen-corrected", "participant name corrected",
	  { { "pin", COL_PIN, 0 }, { "full_name", COL_TEXT, 0 } }, NULL, name_corrected },
	/* A birth: the population registry records the child with a new
	 * number, in the household of the mother (else the father), and
	 * publishes citizen-registered. */
	{ "population", "birth-registered", "child's citizen record created",
	  { { "child_name", COL_TEXT, 0 }, { "birth_date", COL_DATE, 0 },
	    { "province", COL_PROVINCE, 0 }, { "mother_pin", COL_PIN, 1 },
	    { "father_pin", COL_PIN, 1 }, { "child_pin", COL_PIN, 1 } },
	  NULL, birth_citizen },
	/* A new citizen under six: social insurance issues the child's health
	 * insurance card (the state pays a child's health insurance). */
	{ "insurance", "citizen-registered", "child's health insurance card issued",
	  { { "pin", COL_PIN, 0 }, { "full_name", COL_TEXT, 0 }, { "birth_date", COL_DATE, 0 },
	    { "permanent_address", COL_TEXT, 1 }, { "permanent_province", COL_PROVINCE, 1 } },
	  NULL, child_health_card },
};

int apply_sector_subscribes(const struct sector_def *def)
{
	for (size_t i = 0; i < sizeof RULES / sizeof *RULES; i++)
		if (strcmp(RULES[i].sector, def->name) == 0)
			return 1;
	return 0;
}

static const struct rule *rule_for(const struct sector_def *def, const char *name)
{
	for (size_t i = 0; i < sizeof RULES / sizeof *RULES; i++)
		if (strcmp(RULES[i].sector, def->name) == 0 && strcmp(RULES[i].event, name) == 0)
			return &RULES[i];
	return NULL;
}

/* Checks the payload's fields of r; params (MAX_FIELDS, may be NULL)
 * gets them in order, NULL for an optional one absent. -1 with why set. */
static int check_fields(const struct rule *r, const json_t *p, const char **params, char *why,
			size_t cap)
{
	for (int i = 0; i < MAX_FIELDS && r->fields[i].name; i++) {
		const struct field *f = &r->fields[i];
		struct sector_column col = { .name = f->name, .type = f->type, .max = 300 };
		const json_t *v = json_object_get(p, f->name);
		const char *reason = NULL;

		if (!v || json_is_null(v)) {
			if (f->optional)
				continue;
			snprintf(why, cap, "%s: missing", f->name);
			return -1;
		}
		if (!json_is_string(v) ||
		    strlen(json_string_value(v)) != json_string_length(v) ||
		    sector_value_check(&col, json_string_value(v), &reason)) {
			snprintf(why, cap, "%s: %s", f->name, reason ? reason : "must be a string");
			return -1;
		}
		if (params)
			params[i] = json_string_value(v);
	}
	return 0;
}

/* Runs sql with the n text parameters ?1..?n (NULL: SQL NULL) on a's
 * engine; *changes (may be NULL) gets the rows it touched. 0, or -1 with
 * the store's message in why. */
static int run_sql(struct apply_ctx *a, const char *sql, int n, const char *const *params,
		   long long *changes, char *why, size_t cap)
{
	struct sec_sql s = { a->db, a->pg, "ndx-sector: apply" };

	if (sec_sql_exec(&s, sql, n, params, changes) == NDX_OK)
		return 0;
	if (a->pg)
		snprintf(why, cap, "the store failed (logged)");
	else
		snprintf(why, cap, "the store failed: %s", sqlite3_errmsg(a->db));
	return -1;
}

/* Claims event id for this transaction: 1 claimed, 0 applied before (or
 * being applied by a transaction that will commit first), -1 with why. */
static int claim(struct apply_ctx *a, const char *name, char *why, size_t cap)
{
	const char *params[3] = { a->id, name, a->now };
	long long n = 0;

	if (run_sql(a,
		    "INSERT INTO event_applied(id, name, applied_at, effect) VALUES(?1, ?2, ?3, '')"
		    " ON CONFLICT (id) DO NOTHING",
		    3, params, &n, why, cap))
		return -1;
	return n > 0;
}

static int record_effect(struct apply_ctx *a, const char *effect, char *why, size_t cap)
{
	const char *params[2] = { a->id, effect };

	return run_sql(a, "UPDATE event_applied SET effect = ?2 WHERE id = ?1", 2, params, NULL,
		       why, cap);
}

/* ---- the insert rules --------------------------------------------------------- */

static const char *sget(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* The citizen pin's record as an object of its columns (NULL: none; *err
 * set on a store failure). */
static json_t *citizen(struct apply_ctx *a, const char *pin, int *err)
{
	static const char *const COLS[] = { "full_name", "birth_date", "household_id",
					    "relation", "permanent_address", "permanent_province" };
	sqlite3_stmt *q = NULL;
	json_t *o = NULL;
	int step, rc;

	*err = 0;
	if (!pin)
		return NULL;
	if (a->pg) {
		rc = store_pg_get(a->pg, sector_table_find(a->def, "citizens"), pin, &o);
		*err = rc != NDX_OK && rc != NDX_ENOTFOUND;
		return rc == NDX_OK ? o : NULL;
	}
	if (sqlite3_prepare_v2(a->db,
			       "SELECT full_name, birth_date, household_id, relation,"
			       " permanent_address, permanent_province FROM citizens WHERE pin = ?",
			       -1, &q, NULL) != SQLITE_OK) {
		*err = 1;
		return NULL;
	}
	sqlite3_bind_text(q, 1, pin, -1, SQLITE_STATIC);
	step = sqlite3_step(q);
	if (step == SQLITE_ROW && (o = json_object()))
		for (int i = 0; i < 6; i++)
			if (sqlite3_column_text(q, i))
				json_object_set_new(o, COLS[i],
						    json_string((const char *)sqlite3_column_text(q, i)));
	if (step != SQLITE_ROW && step != SQLITE_DONE)
		*err = 1;
	sqlite3_finalize(q);
	return o;
}

/* Adds row (valid for t) with updated_at now, inside the transaction;
 * NDX_OK or the store's failure. */
static int insert_row(struct apply_ctx *a, const struct sector_table *t, const json_t *row)
{
	char id[64];

	return a->pg ? store_pg_put(a->pg, t, NULL, row, id, sizeof id)
		     : store_insert_db(a->db, t, row, a->now);
}

/* 1 when a row of table has col = value, 0 when none, -1 on failure. */
static int store_exists_on(struct apply_ctx *a, const char *table, const char *col,
			   const char *value)
{
	char sql[160];
	sqlite3_stmt *q = NULL;
	int step;

	if (a->pg) {
		int rc = store_pg_exists(a->pg, table, col, value);
		return rc < 0 ? -1 : rc;
	}
	snprintf(sql, sizeof sql, "SELECT 1 FROM %s WHERE %s = ?", table, col);
	if (sqlite3_prepare_v2(a->db, sql, -1, &q, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(q, 1, value, -1, SQLITE_STATIC);
	step = sqlite3_step(q);
	sqlite3_finalize(q);
	return step == SQLITE_ROW ? 1 : step == SQLITE_DONE ? 0 : -1;
}

static const char *store_msg(struct apply_ctx *a)
{
	return a->pg ? "logged" : sqlite3_errmsg(a->db);
}

/* FNV-1a, 64 bits: the serial of a child's number, from what names the
 * birth. */
static uint64_t fnv1a(const char *s)
{
	uint64_t h = 14695981039346656037ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

/* The same child: a record with this name and date of birth. */
static int same_child(const json_t *rec, const char *name, const char *birth_date)
{
	const char *n = sget(rec, "full_name"), *b = sget(rec, "birth_date");
	return n && b && strcmp(n, name) == 0 && strcmp(b, birth_date) == 0;
}

/* birth-registered at population: the child's record. The number is the
 * one the registration carries (child_pin), or a new one: the province of
 * registration, the sex, the year of birth and a serial derived from the
 * civil status registry's birth record (birth_id; the event id when the
 * payload has none), so the same birth published again, under any event
 * id, finds the record it made and adds nothing; a serial taken by someone
 * else moves on to the next. The child lives in the household of the
 * mother, else the father, at their permanent residence. */
static int birth_citizen(struct apply_ctx *a, const json_t *p, char *why, size_t cap)
{
	const char *name = sget(p, "child_name"), *bd = sget(p, "birth_date");
	const char *sex = sget(p, "sex"), *prov = sget(p, "province");
	const char *given = sget(p, "child_pin"), *prel, *hh;
	const struct sector_table *t = sector_table_find(a->def, "citizens");
	const json_t *bid = json_object_get(p, "birth_id");
	char pin[NDX_PIN_LEN + 1], seed[96];
	json_t *parent = NULL, *row = NULL, *rec;
	uint32_t serial;
	int err = 0, female, year, added = 0, rc, found = 0;

	if (!sex || (strcmp(sex, "male") != 0 && strcmp(sex, "female") != 0)) {
		snprintf(why, cap, "sex: expected male or female");
		return -2;
	}
	female = strcmp(sex, "female") == 0;
	year = atoi(bd);
	{
		const char *parents[] = { sget(p, "mother_pin"), sget(p, "father_pin") };
		for (int i = 0; i < 2 && !parent; i++) {
			parent = citizen(a, parents[i], &err);
			if (err)
				goto store_failed;
		}
	}
	if (!parent) {
		snprintf(why, cap, "neither parent is in the population registry");
		return -2;
	}
	if (given) {
		snprintf(pin, sizeof pin, "%s", given);
		rec = citizen(a, pin, &err);
		found = rec != NULL;
		if (rec && !same_child(rec, name, bd)) {
			json_decref(rec);
			json_decref(parent);
			snprintf(why, cap, "child_pin: the number of another citizen");
			return -2;
		}
		json_decref(rec);
		if (err)
			goto store_failed;
	} else {
		if (json_is_integer(bid))
			snprintf(seed, sizeof seed, "birth %s %lld", prov,
				 (long long)json_integer_value(bid));
		else
			snprintf(seed, sizeof seed, "event %s", a->id);
		serial = (uint32_t)(fnv1a(seed) % 1000000u);
		for (int probe = 0;; probe++, serial = (serial + 1) % 1000000u) {
			if (probe == 1000 || ndx_pin_make(prov, female, year, serial, pin) != NDX_OK) {
				json_decref(parent);
				snprintf(why, cap, "no personal number free for this birth");
				return -2;
			}
			rec = citizen(a, pin, &err);
			if (err)
				goto store_failed;
			if (!rec)
				break;
			found = same_child(rec, name, bd);
			json_decref(rec);
			if (found)
				break;
		}
	}
	if (found) { /* the same birth recorded it before */
		json_decref(parent);
		return 0;
	}
	/* In the household of the parent: their child, or the head's
	 * grandchild when the parent is a child of the head. */
	hh = sget(parent, "household_id");
	prel = sget(parent, "relation");
	row = json_pack("{ss ss ss ss ss ss ss}", "pin", pin, "full_name", name, "birth_date", bd,
			"sex", sex, "birth_province", prov, "permanent_address",
			sget(parent, "permanent_address"), "permanent_province",
			sget(parent, "permanent_province"));
	if (row && hh) {
		json_object_set_new(row, "household_id", json_string(hh));
		json_object_set_new(row, "relation",
				    json_string(prel && (strcmp(prel, "child") == 0 ||
							 strcmp(prel, "grandchild") == 0)
							? "grandchild" : "child"));
	}
	json_decref(parent);
	if (!row) {
		snprintf(why, cap, "out of memory");
		return -1;
	}
	rc = insert_row(a, t, row);
	if (rc == NDX_OK)
		rc = a->pg ? outbox_on_write_pg(a->pg, a->def, t, NULL, row, pin, a->client, &added)
			   : outbox_on_write(a->db, a->def, t, NULL, row, pin, a->client, &added);
	json_decref(row);
	if (rc != NDX_OK) {
		snprintf(why, cap, "the store failed: %s", store_msg(a));
		return -1;
	}
	a->published += added;
	return 1;
store_failed:
	json_decref(parent);
	snprintf(why, cap, "the store failed: %s", store_msg(a));
	return -1;
}

/* citizen-registered at insurance: a citizen under six at the time gets a
 * child's health insurance card (a participant with status health-card,
 * from the month of birth) unless they are a participant already; anyone
 * older registers with social insurance themselves. */
static int child_health_card(struct apply_ctx *a, const json_t *p, char *why, size_t cap)
{
	const struct sector_table *t = sector_table_find(a->def, "participants");
	const char *pin = sget(p, "pin"), *bd = sget(p, "birth_date");
	char six_ago[32], period[8];
	json_t *row;
	int step, rc;

	/* now is YYYY-MM-DDThh:mm:ssZ: six years before, same day. */
	snprintf(six_ago, sizeof six_ago, "%04d%.6s", atoi(a->now) - 6, a->now + 4);
	if (strcmp(bd, six_ago) < 0 || strncmp(bd, a->now, 10) > 0)
		return 0;
	if ((step = store_exists_on(a, "participants", "pin", pin)) != 0) {
		if (step < 0)
			snprintf(why, cap, "the store failed: %s", store_msg(a));
		return step < 0 ? -1 : 0;
	}
	snprintf(period, sizeof period, "%.7s", bd);
	row = json_pack("{ss ss ss ss}", "pin", pin, "name", sget(p, "full_name"), "status",
			"health-card", "first_period", period);
	if (row && sget(p, "permanent_address") && sget(p, "permanent_province")) {
		json_object_set_new(row, "address", json_string(sget(p, "permanent_address")));
		json_object_set_new(row, "province", json_string(sget(p, "permanent_province")));
	}
	if (!row) {
		snprintf(why, cap, "out of memory");
		return -1;
	}
	rc = insert_row(a, t, row);
	json_decref(row);
	if (rc != NDX_OK) {
		snprintf(why, cap, "the store failed: %s", store_msg(a));
		return -1;
	}
	return 1;
}

/* ---- applying ------------------------------------------------------------------- */

enum apply_result apply_event(sqlite3 *db, const struct sector_def *def, const char *id,
			      const char *name, const char *payload, char *why, size_t cap)
{
	return apply_event_as(db, def, NULL, id, name, payload, NULL, why, cap);
}

static int txn_begin(struct apply_ctx *a)
{
	return a->pg ? store_pg_begin(a->pg) : ndx_sqlstore_exec(a->db, PROG, "BEGIN IMMEDIATE");
}

static int txn_commit(struct apply_ctx *a)
{
	if (a->pg)
		return store_pg_commit(a->pg); /* rolled back when it fails */
	if (ndx_sqlstore_exec(a->db, PROG, "COMMIT")) {
		sqlite3_exec(a->db, "ROLLBACK", NULL, NULL, NULL);
		return NDX_EDB;
	}
	return NDX_OK;
}

static void txn_rollback(struct apply_ctx *a)
{
	if (a->pg)
		store_pg_rollback(a->pg);
	else
		sqlite3_exec(a->db, "ROLLBACK", NULL, NULL, NULL);
}

/* apply_event_as on a's engine (a->db or a->pg set). */
static enum apply_result apply_on(struct apply_ctx *a, const char *name, const char *payload,
				  int *published, char *why, size_t cap)
{
	const struct rule *r = rule_for(a->def, name);
	const char *params[9] = { NULL };
	char now[NDX_TIME_TEXT_LEN], self[160];
	json_t *p = NULL;
	enum apply_result res = APPLY_FAILED;
	long long changes = 0;
	int s;

	why[0] = '\0';
	a->now = now;
	if (published)
		*published = 0;
	if (!a->client) {
		snprintf(self, sizeof self, "%s/%s", a->def->agency, a->def->name);
		a->client = self;
	}
	if (!r) {
		snprintf(why, cap, "%s has no rule for %s", a->def->name, name);
		return APPLY_IGNORED;
	}
	if (!a->id || !*a->id) {
		snprintf(why, cap, "no event id");
		return APPLY_INVALID;
	}
	if (!(p = json_loads(payload ? payload : "", 0, NULL)) || !json_is_object(p)) {
		json_decref(p);
		snprintf(why, cap, "the payload is not a JSON object");
		return APPLY_INVALID;
	}
	ndx_time_format(time(NULL), now);
	if (txn_begin(a)) {
		json_decref(p);
		snprintf(why, cap, "the store is busy");
		return APPLY_FAILED;
	}
	if ((s = claim(a, name, why, cap)) != 1) {
		res = s == 0 ? APPLY_SEEN : APPLY_FAILED;
		if (s == 0)
			snprintf(why, cap, "applied before");
		goto done;
	}
	if (check_fields(r, p, params, why, cap)) {
		res = APPLY_INVALID;
		goto done;
	}
	if (r->insert) {
		if ((s = r->insert(a, p, why, cap)) < 0) {
			res = s == -2 ? APPLY_INVALID : APPLY_FAILED;
			goto done;
		}
		changes = s;
	} else {
		params[8] = now;
		if (run_sql(a, r->sql, 9, params, &changes, why, cap))
			goto done;
	}
	if (record_effect(a, changes ? r->effect : "nothing to change", why, cap))
		goto done;
	res = changes ? APPLY_CHANGED : APPLY_UNCHANGED;
	snprintf(why, cap, "%s", changes ? r->effect : "nothing to change");
done:
	json_decref(p);
	if (res == APPLY_CHANGED || res == APPLY_UNCHANGED) {
		if (txn_commit(a)) {
			snprintf(why, cap, "the store failed to commit");
			return APPLY_FAILED;
		}
		if (published)
			*published = a->published;
	} else {
		txn_rollback(a);
	}
	return res;
}

enum apply_result apply_event_as(sqlite3 *db, const struct sector_def *def, const char *client,
				 const char *id, const char *name, const char *payload,
				 int *published, char *why, size_t cap)
{
	struct apply_ctx a = { .db = db, .def = def, .id = id, .client = client };

	return apply_on(&a, name, payload, published, why, cap);
}

enum apply_result apply_event_pg(struct store_pg *pg, const struct sector_def *def,
				 const char *client, const char *id, const char *name,
				 const char *payload, int *published, char *why, size_t cap)
{
	struct apply_ctx a = { .pg = pg, .def = def, .id = id, .client = client };

	return apply_on(&a, name, payload, published, why, cap);
}

/* citizen-corrected at tax or insurance: the name of the person's record
 * follows the population registry's, its folded twin with it (a search by
 * name must find the corrected name). */
static int name_corrected(struct apply_ctx *a, const json_t *p, char *why, size_t cap)
{
	const char *sql = strcmp(a->def->name, "tax") == 0
				  ? "UPDATE taxpayers SET name = ?2, name_folded = ?3, updated_at = ?4"
				    " WHERE tax_id = ?1 AND kind = 'individual' AND name IS DISTINCT FROM ?2"
				  : "UPDATE participants SET name = ?2, name_folded = ?3, updated_at = ?4"
				    " WHERE pin = ?1 AND name IS DISTINCT FROM ?2";
	const char *name = sget(p, "full_name");
	char folded[STORE_FOLDED_MAX];
	const char *params[4] = { sget(p, "pin"), name, folded, a->now };
	long long n = 0;

	if (ndx_fold(name, folded, sizeof folded) < 0) {
		snprintf(why, cap, "full_name: too long to search by");
		return -2;
	}
	if (run_sql(a, sql, 4, params, &n, why, cap))
		return -1;
	return n > 0;
}

/* ---- the subscriber thread -------------------------------------------------- */

struct apply_subscriber {
	sqlite3 *db;         /* SQLite, or */
	struct store_pg *pg; /* PostgreSQL: its own connection */
	const struct sector_def *def;
	char *prog, *client;
	struct outbox_publisher *publisher;
	struct ndx_evsub *sub;
};

static enum ndx_evsub_result on_event(void *ctx, const struct ndx_event *ev)
{
	struct apply_subscriber *s = ctx;
	char why[256];
	int published = 0;
	enum apply_result r =
		s->pg ? apply_event_pg(s->pg, s->def, s->client, ev->id, ev->event, ev->payload,
				       &published, why, sizeof why)
		      : apply_event_as(s->db, s->def, s->client, ev->id, ev->event, ev->payload,
				       &published, why, sizeof why);

	fprintf(stderr, "%s: events: %s %s: %s\n", s->prog, ev->event, ev->id, why);
	if (published)
		outbox_publisher_poke(s->publisher);
	switch (r) {
	case APPLY_CHANGED:
	case APPLY_UNCHANGED:
	case APPLY_SEEN: return NDX_EVSUB_APPLIED;
	case APPLY_INVALID:
	case APPLY_IGNORED: return NDX_EVSUB_REJECT;
	default: return NDX_EVSUB_RETRY;
	}
}

static void subscriber_free(struct apply_subscriber *s)
{
	sqlite3_close(s->db);
	store_pg_close(s->pg);
	free(s->prog);
	free(s->client);
	free(s);
}

int apply_subscriber_start(const char *db_path, const struct sector_def *def,
			   const char *gateway_url, const char *client, const char *prog,
			   long poll_ms, struct outbox_publisher *publisher,
			   struct apply_subscriber **out)
{
	struct apply_subscriber *s;
	int rc;

	*out = NULL;
	if (!(s = calloc(1, sizeof *s)) || !(s->prog = strdup(prog)) ||
	    !(s->client = strdup(client))) {
		if (s)
			free(s->prog);
		free(s);
		return NDX_ENOMEM;
	}
	s->def = def;
	s->publisher = publisher;
	if (ndx_sqldb_is_pg(db_path)) {
		if ((rc = store_pg_open(db_path, def, 0, &s->pg))) {
			subscriber_free(s);
			return rc;
		}
	} else if (sqlite3_open_v2(db_path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
				   NULL) != SQLITE_OK) {
		fprintf(stderr, "%s: events: cannot open %s\n", prog, db_path);
		subscriber_free(s);
		return NDX_EDB;
	}
	if (s->db)
		sqlite3_busy_timeout(s->db, 5000);
	struct ndx_evsub_config cfg = {
		.client = { .gateway_url = gateway_url, .client = client },
		.prog = prog, .poll_ms = poll_ms, .apply = on_event, .ctx = s,
	};
	if ((rc = ndx_evsub_start(&cfg, &s->sub))) {
		subscriber_free(s);
		return rc;
	}
	*out = s;
	return NDX_OK;
}

void apply_subscriber_stop(struct apply_subscriber *s)
{
	if (!s)
		return;
	ndx_evsub_stop(s->sub);
	subscriber_free(s);
}
