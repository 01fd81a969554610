/* Applying received events to a sector's records (sec_apply.h). The rules
 * are the table RULES: for a sector and an event name, the payload fields
 * (each checked with the format of the sector's schema first) and either
 * one conditional UPDATE whose parameters ?1.. are those fields and ?9 the
 * time of the change, the condition making a change that is already so
 * touch nothing, not even updated_at; or an insert function, which adds a
 * record only when the same fact has not added it before (a birth: the
 * child's citizen record; a new citizen: a child's health insurance card)
 * and may publish through the sector's outbox in the same transaction.
 * Overview: docs/sectors.md "Events", docs/events.md "Receiving". */
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
#include "ndx/sqlstore.h"
#include "ndx/timefmt.h"
#include "sec_outbox.h"
#include "store.h"

#define PROG "ndx-sector"
#define MAX_FIELDS 8 /* ?1..?8; ?9 is the time */

struct field {
	const char *name;
	enum col_type type; /* COL_PIN, COL_DATE, COL_PROVINCE, COL_TEXT, COL_HOUSEHOLD */
	int optional;
};

/* What an insert rule works with. */
struct apply_ctx {
	sqlite3 *db;
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
	  " AND (address IS NOT ?2 OR province IS NOT ?3)", NULL },
	{ "insurance", "residence-changed", "participant address updated",
	  { { "pin", COL_PIN, 0 }, { "permanent_address", COL_TEXT, 0 },
	    { "permanent_province", COL_PROVINCE, 0 } },
	  "UPDATE participants SET address = ?2, province = ?3, updated_at = ?9"
	  " WHERE pin = ?1 AND (address IS NOT ?2 OR province IS NOT ?3)", NULL },
	{ "vehicles", "residence-changed", "owner address updated",
	  { { "pin", COL_PIN, 0 }, { "permanent_address", COL_TEXT, 0 },
	    { "permanent_province", COL_PROVINCE, 0 } },
	  "UPDATE vehicles SET owner_address = ?2, owner_province = ?3, updated_at = ?9"
	  " WHERE owner_id = ?1 AND (owner_address IS NOT ?2 OR owner_province IS NOT ?3)", NULL },
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

/* Checks the payload's fields of r; binds them to q. -1 with why set. */
static int bind_fields(const struct rule *r, const json_t *p, sqlite3_stmt *q, char *why,
		       size_t cap)
{
	for (int i = 0; i < MAX_FIELDS && r->fields[i].name; i++) {
		const struct field *f = &r->fields[i];
		struct sector_column col = { .name = f->name, .type = f->type, .max = 300 };
		const json_t *v = json_object_get(p, f->name);
		const char *reason = NULL;

		if (!v || json_is_null(v)) {
			if (f->optional) {
				if (q)
					sqlite3_bind_null(q, i + 1);
				continue;
			}
			snprintf(why, cap, "%s: missing", f->name);
			return -1;
		}
		if (!json_is_string(v) ||
		    strlen(json_string_value(v)) != json_string_length(v) ||
		    sector_value_check(&col, json_string_value(v), &reason)) {
			snprintf(why, cap, "%s: %s", f->name, reason ? reason : "must be a string");
			return -1;
		}
		if (q)
			sqlite3_bind_text(q, i + 1, json_string_value(v), -1, SQLITE_TRANSIENT);
	}
	return 0;
}

/* 1 when id is in event_applied, 0 when not, -1 on error. */
static int seen(sqlite3 *db, const char *id)
{
	sqlite3_stmt *q = NULL;
	int step;

	if (sqlite3_prepare_v2(db, "SELECT 1 FROM event_applied WHERE id = ?", -1, &q, NULL) !=
	    SQLITE_OK)
		return -1;
	sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
	step = sqlite3_step(q);
	sqlite3_finalize(q);
	return step == SQLITE_ROW ? 1 : step == SQLITE_DONE ? 0 : -1;
}

static int record_applied(sqlite3 *db, const char *id, const char *name, const char *now,
			  const char *effect)
{
	sqlite3_stmt *q = NULL;
	int step;

	if (sqlite3_prepare_v2(db,
			       "INSERT INTO event_applied(id, name, applied_at, effect)"
			       " VALUES(?, ?, ?, ?)",
			       -1, &q, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, now, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, effect, -1, SQLITE_STATIC);
	step = sqlite3_step(q);
	sqlite3_finalize(q);
	return step == SQLITE_DONE ? 0 : -1;
}

/* ---- the insert rules --------------------------------------------------------- */

static const char *sget(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* The citizen pin's record as an object of its columns (NULL: none; *err
 * set on a store failure). */
static json_t *citizen(sqlite3 *db, const char *pin, int *err)
{
	static const char *const COLS[] = { "full_name", "birth_date", "household_id",
					    "relation", "permanent_address", "permanent_province" };
	sqlite3_stmt *q = NULL;
	json_t *o = NULL;
	int step;

	*err = 0;
	if (!pin)
		return NULL;
	if (sqlite3_prepare_v2(db,
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
			parent = citizen(a->db, parents[i], &err);
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
		rec = citizen(a->db, pin, &err);
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
			rec = citizen(a->db, pin, &err);
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
	rc = store_insert_db(a->db, t, row, a->now);
	if (rc == NDX_OK)
		rc = outbox_on_write(a->db, a->def, t, NULL, row, pin, a->client, &added);
	json_decref(row);
	if (rc != NDX_OK) {
		snprintf(why, cap, "the store failed: %s", sqlite3_errmsg(a->db));
		return -1;
	}
	a->published += added;
	return 1;
store_failed:
	json_decref(parent);
	snprintf(why, cap, "the store failed: %s", sqlite3_errmsg(a->db));
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
	sqlite3_stmt *q = NULL;
	json_t *row;
	int step, rc;

	/* now is YYYY-MM-DDThh:mm:ssZ: six years before, same day. */
	snprintf(six_ago, sizeof six_ago, "%04d%.6s", atoi(a->now) - 6, a->now + 4);
	if (strcmp(bd, six_ago) < 0 || strncmp(bd, a->now, 10) > 0)
		return 0;
	if (sqlite3_prepare_v2(a->db, "SELECT 1 FROM participants WHERE pin = ?", -1, &q, NULL) !=
	    SQLITE_OK) {
		snprintf(why, cap, "the store failed: %s", sqlite3_errmsg(a->db));
		return -1;
	}
	sqlite3_bind_text(q, 1, pin, -1, SQLITE_STATIC);
	step = sqlite3_step(q);
	sqlite3_finalize(q);
	if (step == SQLITE_ROW)
		return 0;
	if (step != SQLITE_DONE) {
		snprintf(why, cap, "the store failed: %s", sqlite3_errmsg(a->db));
		return -1;
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
	rc = store_insert_db(a->db, t, row, a->now);
	json_decref(row);
	if (rc != NDX_OK) {
		snprintf(why, cap, "the store failed: %s", sqlite3_errmsg(a->db));
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

enum apply_result apply_event_as(sqlite3 *db, const struct sector_def *def, const char *client,
				 const char *id, const char *name, const char *payload,
				 int *published, char *why, size_t cap)
{
	const struct rule *r = rule_for(def, name);
	char now[NDX_TIME_TEXT_LEN], self[160];
	sqlite3_stmt *q = NULL;
	json_t *p = NULL;
	enum apply_result res = APPLY_FAILED;
	struct apply_ctx a = { .db = db, .def = def, .id = id, .now = now, .client = client };
	int changes, s;

	why[0] = '\0';
	if (published)
		*published = 0;
	if (!client) {
		snprintf(self, sizeof self, "%s/%s", def->agency, def->name);
		a.client = self;
	}
	if (!r) {
		snprintf(why, cap, "%s has no rule for %s", def->name, name);
		return APPLY_IGNORED;
	}
	if (!id || !*id) {
		snprintf(why, cap, "no event id");
		return APPLY_INVALID;
	}
	if (!(p = json_loads(payload ? payload : "", 0, NULL)) || !json_is_object(p)) {
		json_decref(p);
		snprintf(why, cap, "the payload is not a JSON object");
		return APPLY_INVALID;
	}
	ndx_time_format(time(NULL), now);
	if (ndx_sqlstore_exec(db, PROG, "BEGIN IMMEDIATE")) {
		json_decref(p);
		snprintf(why, cap, "the store is busy");
		return APPLY_FAILED;
	}
	if ((s = seen(db, id)) != 0) {
		res = s == 1 ? APPLY_SEEN : APPLY_FAILED;
		snprintf(why, cap, s == 1 ? "applied before" : "the store failed");
		goto done;
	}
	if (r->insert) {
		if (bind_fields(r, p, NULL, why, cap)) {
			res = APPLY_INVALID;
			goto done;
		}
		if ((changes = r->insert(&a, p, why, cap)) < 0) {
			res = changes == -2 ? APPLY_INVALID : APPLY_FAILED;
			goto done;
		}
	} else {
		if (sqlite3_prepare_v2(db, r->sql, -1, &q, NULL) != SQLITE_OK) {
			snprintf(why, cap, "the store failed: %s", sqlite3_errmsg(db));
			goto done;
		}
		if (bind_fields(r, p, q, why, cap)) {
			res = APPLY_INVALID;
			goto done;
		}
		sqlite3_bind_text(q, 9, now, -1, SQLITE_STATIC);
		if (sqlite3_step(q) != SQLITE_DONE) {
			snprintf(why, cap, "the store failed: %s", sqlite3_errmsg(db));
			goto done;
		}
		changes = sqlite3_changes(db);
	}
	if (record_applied(db, id, name, now, changes ? r->effect : "nothing to change")) {
		snprintf(why, cap, "the store failed: %s", sqlite3_errmsg(db));
		goto done;
	}
	res = changes ? APPLY_CHANGED : APPLY_UNCHANGED;
	snprintf(why, cap, "%s", changes ? r->effect : "nothing to change");
done:
	sqlite3_finalize(q);
	json_decref(p);
	if (res == APPLY_CHANGED || res == APPLY_UNCHANGED) {
		if (ndx_sqlstore_exec(db, PROG, "COMMIT")) {
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			snprintf(why, cap, "the store failed to commit");
			return APPLY_FAILED;
		}
		if (published)
			*published = a.published;
	} else {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	}
	return res;
}

/* citizen-corrected at tax or insurance: the name of the person's record
 * follows the population registry's, its folded twin with it (a search by
 * name must find the corrected name). */
static int name_corrected(struct apply_ctx *a, const json_t *p, char *why, size_t cap)
{
	const char *sql = strcmp(a->def->name, "tax") == 0
				  ? "UPDATE taxpayers SET name = ?2, name_folded = ?3, updated_at = ?4"
				    " WHERE tax_id = ?1 AND kind = 'individual' AND name IS NOT ?2"
				  : "UPDATE participants SET name = ?2, name_folded = ?3, updated_at = ?4"
				    " WHERE pin = ?1 AND name IS NOT ?2";
	const char *name = sget(p, "full_name");
	char folded[STORE_FOLDED_MAX];
	sqlite3_stmt *q = NULL;
	int rc;

	if (ndx_fold(name, folded, sizeof folded) < 0) {
		snprintf(why, cap, "full_name: too long to search by");
		return -2;
	}
	if (sqlite3_prepare_v2(a->db, sql, -1, &q, NULL) != SQLITE_OK) {
		snprintf(why, cap, "the store failed: %s", sqlite3_errmsg(a->db));
		return -1;
	}
	sqlite3_bind_text(q, 1, sget(p, "pin"), -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, folded, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, a->now, -1, SQLITE_STATIC);
	rc = sqlite3_step(q) == SQLITE_DONE ? sqlite3_changes(a->db) > 0 : -1;
	if (rc < 0)
		snprintf(why, cap, "the store failed: %s", sqlite3_errmsg(a->db));
	sqlite3_finalize(q);
	return rc;
}

/* ---- the subscriber thread -------------------------------------------------- */

struct apply_subscriber {
	sqlite3 *db;
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
	enum apply_result r = apply_event_as(s->db, s->def, s->client, ev->id, ev->event,
					     ev->payload, &published, why, sizeof why);

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
	if (sqlite3_open_v2(db_path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
	    SQLITE_OK) {
		fprintf(stderr, "%s: events: cannot open %s\n", prog, db_path);
		subscriber_free(s);
		return NDX_EDB;
	}
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
