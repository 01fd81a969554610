/* The subjects of a record (record_subjects.h). The people in a record's
 * own columns come from the schema: every PIN column, and every party
 * column (a PIN or an enterprise code) that holds a 12-digit PIN. The
 * people of the rows pointing at a record are the rules in POINTED_AT,
 * each read through the index on the pointing column (schema.c marks it
 * COL_FILTER), so a household of a 10-million-citizen database costs one
 * index range, never a scan. */
#include "record_subjects.h"

#include <stdio.h>
#include <string.h>

#include "ndx/err.h"
#include "ndx/pin.h"

/* Records whose people are also in other rows of the same database. */
static const struct pointed_at {
	const char *table; /* the record's table (keyed) */
	const char *from;  /* the table pointing at it */
	const char *ref;   /* from's column holding the record's key (indexed) */
	const char *who;   /* from's column naming the person */
} POINTED_AT[] = {
	{ "households", "citizens", "household_id", "pin" },
	{ "enterprises", "owners", "enterprise_code", "owner_pin" },
	{ "parcels", "right_holders", "parcel_id", "holder_id" },
};

/* Adds v when it is an individual's number. NDX_OK also for a value that
 * is none (an enterprise code; or a malformed one planted behind the
 * API's back, which names nobody the sector could declare). */
static int add_person(struct pinset *s, const char *v)
{
	int rc;

	if (!v || strlen(v) != NDX_PIN_LEN)
		return NDX_OK;
	rc = pinset_add(s, v);
	return rc == NDX_EINVAL ? NDX_OK : rc;
}

static int own_columns(const struct sector_table *t, const json_t *row, struct pinset *s)
{
	int rc;

	for (size_t j = 0; j < t->ncols; j++) {
		const struct sector_column *col = &t->cols[j];
		if (col->type != COL_PIN && col->type != COL_PARTY)
			continue;
		if ((rc = add_person(s, json_string_value(json_object_get(row, col->name)))))
			return rc;
	}
	return NDX_OK;
}

static int add_each(void *ctx, const char *pin)
{
	return add_person(ctx, pin);
}

/* Stops at the first person over the cap: the rest need not be read. */
static int pointing_rows(struct store_conn *c, const struct pointed_at *p, const char *key,
			 struct pinset *s)
{
	return store_texts(c, p->from, p->who, p->ref, key, add_each, s);
}

int record_subjects(struct store_conn *c, const struct sector_table *t, const json_t *row,
		    struct pinset *s)
{
	const char *key;
	int rc;

	if ((rc = own_columns(t, row, s)))
		return rc;
	if (!t->key || !(key = json_string_value(json_object_get(row, t->key))))
		return NDX_OK;
	for (size_t i = 0; i < sizeof POINTED_AT / sizeof *POINTED_AT; i++)
		if (strcmp(POINTED_AT[i].table, t->name) == 0 &&
		    (rc = pointing_rows(c, &POINTED_AT[i], key, s)))
			return rc;
	return NDX_OK;
}
