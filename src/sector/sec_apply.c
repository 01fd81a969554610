/* Applying received events to a sector's records (sec_apply.h). The rules
 * are the table RULES: for a sector and an event name, one conditional
 * UPDATE whose parameters ?1.. are payload fields (each checked with the
 * format of the sector's schema first) and ?9 the time of the change; the
 * condition makes a change that is already so touch nothing, not even
 * updated_at. Overview: docs/sectors.md "Events", docs/events.md
 * "Receiving". */
#include "sec_apply.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ndx/err.h"
#include "ndx/evclient.h"
#include "ndx/sqlstore.h"
#include "ndx/timefmt.h"
#include "sec_outbox.h"

#define PROG "ndx-sector"
#define MAX_FIELDS 4

struct field {
	const char *name;
	enum col_type type; /* COL_PIN, COL_DATE, COL_PROVINCE, COL_TEXT, COL_HOUSEHOLD */
	int optional;
};

struct rule {
	const char *sector, *event, *effect;
	struct field fields[MAX_FIELDS];
	const char *sql;
};

static const struct rule RULES[] = {
	/* Death: the population registry records the date of death. */
	{ "population", "death-registered", "citizen marked deceased",
	  { { "pin", COL_PIN, 0 }, { "died_on", COL_DATE, 0 } },
	  "UPDATE citizens SET deceased_on = ?2, updated_at = ?9"
	  " WHERE pin = ?1 AND (deceased_on IS NULL OR deceased_on <> ?2)" },
	/* Social insurance stops contributions and the pension. */
	{ "insurance", "death-registered", "participant stopped (deceased)",
	  { { "pin", COL_PIN, 0 }, { "died_on", COL_DATE, 0 } },
	  "UPDATE participants SET status = 'deceased', updated_at = ?9"
	  " WHERE pin = ?1 AND status <> 'deceased'" },
	/* Tax closes the personal tax file. */
	{ "tax", "death-registered", "personal tax file closed",
	  { { "pin", COL_PIN, 0 }, { "died_on", COL_DATE, 0 } },
	  "UPDATE taxpayers SET status = 'closed', updated_at = ?9"
	  " WHERE tax_id = ?1 AND status <> 'closed'" },
	/* A change of permanent residence: tax, social insurance and the
	 * vehicle register keep the address they hold current. */
	{ "tax", "residence-changed", "taxpayer address updated",
	  { { "pin", COL_PIN, 0 }, { "permanent_address", COL_TEXT, 0 },
	    { "permanent_province", COL_PROVINCE, 0 } },
	  "UPDATE taxpayers SET address = ?2, province = ?3, updated_at = ?9"
	  " WHERE tax_id = ?1 AND kind = 'individual'"
	  " AND (address IS NOT ?2 OR province IS NOT ?3)" },
	{ "insurance", "residence-changed", "participant address updated",
	  { { "pin", COL_PIN, 0 }, { "permanent_address", COL_TEXT, 0 },
	    { "permanent_province", COL_PROVINCE, 0 } },
	  "UPDATE participants SET address = ?2, province = ?3, updated_at = ?9"
	  " WHERE pin = ?1 AND (address IS NOT ?2 OR province IS NOT ?3)" },
	{ "vehicles", "residence-changed", "owner address updated",
	  { { "pin", COL_PIN, 0 }, { "permanent_address", COL_TEXT, 0 },
	    { "permanent_province", COL_PROVINCE, 0 } },
	  "UPDATE vehicles SET owner_address = ?2, owner_province = ?3, updated_at = ?9"
	  " WHERE owner_id = ?1 AND (owner_address IS NOT ?2 OR owner_province IS NOT ?3)" },
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

enum apply_result apply_event(sqlite3 *db, const struct sector_def *def, const char *id,
			      const char *name, const char *payload, char *why, size_t cap)
{
	const struct rule *r = rule_for(def, name);
	char now[NDX_TIME_TEXT_LEN];
	sqlite3_stmt *q = NULL;
	json_t *p = NULL;
	enum apply_result res = APPLY_FAILED;
	int changes, s;

	why[0] = '\0';
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
	} else {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	}
	return res;
}

/* ---- the subscriber thread -------------------------------------------------- */

struct apply_subscriber {
	sqlite3 *db;
	const struct sector_def *def;
	char *prog;
	struct ndx_evsub *sub;
};

static enum ndx_evsub_result on_event(void *ctx, const struct ndx_event *ev)
{
	struct apply_subscriber *s = ctx;
	char why[256];
	enum apply_result r = apply_event(s->db, s->def, ev->id, ev->event, ev->payload, why,
					  sizeof why);

	fprintf(stderr, "%s: events: %s %s: %s\n", s->prog, ev->event, ev->id, why);
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
	free(s);
}

int apply_subscriber_start(const char *db_path, const struct sector_def *def,
			   const char *gateway_url, const char *client, const char *prog,
			   long poll_ms, struct apply_subscriber **out)
{
	struct apply_subscriber *s;
	int rc;

	*out = NULL;
	if (!(s = calloc(1, sizeof *s)) || !(s->prog = strdup(prog))) {
		free(s);
		return NDX_ENOMEM;
	}
	s->def = def;
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
