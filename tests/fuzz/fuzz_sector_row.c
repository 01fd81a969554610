/* libFuzzer target for the sector registries' write validation
 * (src/sector/api.h api_validate_row over the tables of schema.c): what a
 * POST or PUT body goes through before it reaches the store. The first
 * byte picks one table of the seven sectors (modulo their number), the
 * second whether the call is a PUT with an id in the path (taken, as the
 * API does, only when it passes the key column's format check), the rest
 * is the body, parsed as the API parses it. Invariants: a refusal names a
 * field and a reason; an accepted row holds only the table's columns,
 * every required one, each value passing sector_value_check and its range
 * or enum; validating the accepted row again gives the same row. Every
 * string value met is also fed to sector_value_check of every column. How
 * to run: tests/fuzz/README.md. */
#include <jansson.h>
#include <string.h>

#include "fuzz.h"
#include "api.h"
#include "schema.h"

#define CAP 256

static const struct sector_table *tables[128];
static const struct sector_def *defs[128];
static size_t ntables;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	for (size_t i = 0; i < SECTOR_COUNT; i++) {
		const struct sector_def *d = sector_at(i);
		for (size_t j = 0; j < d->ntables; j++) {
			FUZZ_CHECK(ntables < sizeof tables / sizeof tables[0]);
			defs[ntables] = d;
			tables[ntables++] = &d->tables[j];
		}
	}
	return 0;
}

/* The API's check of an id in the path (api.c check_path_id). */
static bool path_id_ok(const struct sector_table *t, const char *id)
{
	const char *why;

	if (t->key) {
		const struct sector_column *k = sector_column_find(t, t->key);
		FUZZ_CHECK(k != NULL);
		return sector_value_check(k, id, &why) == 0;
	}
	if (!id[0])
		return false;
	for (const char *p = id; *p; p++)
		if (*p < '0' || *p > '9' || p - id > 18)
			return false;
	return true;
}

static void every_column(const char *v)
{
	const char *why;

	for (size_t i = 0; i < ntables; i++) {
		for (size_t j = 0; j < tables[i]->ncols; j++) {
			int rc = sector_value_check(&tables[i]->cols[j], v, &why);
			FUZZ_CHECK(rc == 0 || (rc == -1 && why != NULL));
		}
	}
}

static void check_row(const struct sector_table *t, const json_t *row)
{
	const char *k, *why;
	const json_t *v;

	FUZZ_CHECK(json_is_object(row));
	json_object_foreach((json_t *)row, k, v) {
		const struct sector_column *c = sector_column_find(t, k);
		FUZZ_CHECK(c != NULL);
		if (c->type == COL_INT) {
			FUZZ_CHECK(json_is_integer(v));
			FUZZ_CHECK((double)json_integer_value(v) >= c->lo &&
				   (double)json_integer_value(v) <= c->hi);
		} else if (c->type == COL_REAL) {
			FUZZ_CHECK(json_is_number(v));
			FUZZ_CHECK(json_number_value(v) >= c->lo && json_number_value(v) <= c->hi);
		} else if (c->type == COL_ENUM) {
			bool found = false;
			FUZZ_CHECK(json_is_string(v));
			for (const char *const *e = c->values; *e; e++)
				found = found || strcmp(*e, json_string_value(v)) == 0;
			FUZZ_CHECK(found);
		} else {
			FUZZ_CHECK(json_is_string(v));
			FUZZ_CHECK(strlen(json_string_value(v)) == json_string_length(v));
			FUZZ_CHECK(sector_value_check(c, json_string_value(v), &why) == 0);
		}
	}
	for (size_t j = 0; j < t->ncols; j++)
		if (t->cols[j].flags & COL_REQUIRED)
			FUZZ_CHECK(json_object_get(row, t->cols[j].name) != NULL);
}

static void strings_of(const json_t *v, int depth)
{
	const char *k;
	const json_t *x;
	size_t i;

	if (depth > 4)
		return;
	if (json_is_string(v)) {
		every_column(json_string_value(v));
	} else if (json_is_object(v)) {
		json_object_foreach((json_t *)v, k, x) {
			every_column(k);
			strings_of(x, depth + 1);
		}
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, x)
			strings_of(x, depth + 1);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct sector_table *t;
	const struct sector_def *d;
	char field[CAP], why[CAP], field2[CAP], why2[CAP];
	const char *path_id = NULL;
	json_t *body, *row, *again;
	json_error_t jerr;

	if (size < 2)
		return 0;
	t = tables[data[0] % ntables];
	d = defs[data[0] % ntables];
	body = json_loadb((const char *)data + 2, size - 2, JSON_REJECT_DUPLICATES, &jerr);
	if (!body)
		return 0;
	if ((data[1] & 1) && json_is_object(body)) {
		/* The row's own key value, or "1" for numbered tables. */
		const json_t *idv = t->key ? json_object_get(body, t->key) : NULL;
		const char *id = json_is_string(idv) ? json_string_value(idv) : "1";
		if ((data[1] & 2) && t->key)
			id = "1"; /* usually refused: a mismatched or malformed id */
		if (path_id_ok(t, id))
			path_id = id;
	}
	field[0] = why[0] = '\0';
	row = api_validate_row(d, t, body, path_id, field, why, CAP);
	if (!row) {
		FUZZ_CHECK(why[0] != '\0');
		FUZZ_CHECK(field[0] != '\0');
		FUZZ_CHECK(strnlen(field, CAP) < CAP && strnlen(why, CAP) < CAP);
	} else {
		check_row(t, row);
		if (path_id && t->key)
			FUZZ_CHECK(strcmp(json_string_value(json_object_get(row, t->key)),
					  path_id) == 0);
		again = api_validate_row(d, t, row, path_id, field2, why2, CAP);
		if (!again)
			fprintf(stderr, "accepted row refused again: %s: %s\n", field2, why2);
		FUZZ_CHECK(again != NULL && json_equal(again, row));
		json_decref(again);
		json_decref(row);
	}
	strings_of(body, 0);
	json_decref(body);
	return 0;
}
