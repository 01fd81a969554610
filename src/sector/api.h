/* One sector's REST API (docs/sectors.md "API"): GET /healthz, GET
 * /openapi.json, and for every table T of the sector GET /T (list, search
 * by name with or without diacritics, filters, paging), POST /T, GET /T/ID
 * and PUT /T/ID; GET /measures (sec_measures.h), on the population
 * registry POST /verify (sec_verify.h), on the others /reconcile/...
 * (sec_worklist_api.h). Writes are validated against the
 * schema; every refusal is an X-Road style error that names the field at
 * fault. */
#ifndef NDX_SECTOR_API_H
#define NDX_SECTOR_API_H

#include "ndx/httpd.h"
#include "schema.h"
#include "store.h"

#define API_DEFAULT_LIMIT 20
#define API_MAX_LIMIT 100
#define API_MAX_OFFSET 10000

struct api;

/* st and def are borrowed and must outlive the api. */
int api_new(const struct sector_def *def, struct store *st, struct api **out);
/* Accepts NULL. */
void api_free(struct api *api);
struct outbox_publisher;
/* Makes writes publish their events (sec_outbox.h) as client (borrowed,
 * must outlive the api), poking publisher (may be NULL) after each commit
 * that added one. */
void api_set_events(struct api *api, const char *client, struct outbox_publisher *publisher);
/* The ndx_http_handler; ctx is the struct api. */
void api_handle(void *ctx, const struct ndx_http_req *req, struct ndx_http_resp *resp);

/* Validates body (a JSON object) as a row of t of sector def: unknown
 * fields, missing required ones, types, formats, ranges, enums and the
 * cross-field rules (a PIN agrees with the birth date, sex and birth
 * province). Returns a new object holding only the table's columns, or
 * NULL with field (cap bytes) naming the field at fault and why (cap
 * bytes) saying what is wrong. path_id, when not NULL, is the key the
 * row must have. */
json_t *api_validate_row(const struct sector_def *def, const struct sector_table *t,
			 const json_t *body, const char *path_id, char *field, char *why,
			 size_t cap);

/* Checks one value v as column c of a row would be checked: a new
 * normalised value, or NULL with why (cap bytes) saying what is wrong. */
json_t *api_check_value(const struct sector_column *c, const json_t *v, char *why, size_t cap);

#endif
