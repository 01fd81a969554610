/* The OpenAPI 3.0 description of one sector's REST API, generated from the
 * schema (schema.h) so that it always matches what api.c accepts. Served
 * at GET /openapi.json and printed by `ndx-sector openapi --sector S` for
 * registration in the registry. Overview: docs/sectors.md "API". */
#ifndef NDX_SECTOR_OPENAPI_H
#define NDX_SECTOR_OPENAPI_H

#include <jansson.h>

#include "schema.h"

/* A new document (caller releases), or NULL when out of memory. */
json_t *openapi_build(const struct sector_def *def);

#endif
