/* Maintenance mode (gw_maintenance.c, docs/gateway-console.md
 * "Maintenance mode"): while it is on, the gateway takes no new exchange on
 * either port (each is refused with Maintenance, 503) and finishes the ones
 * in flight; /healthz says so. Switched from the console; the state is kept
 * in DATA_DIR/maintenance.json, so a restart keeps it. */
#ifndef NDX_GATEWAY_MAINTENANCE_H
#define NDX_GATEWAY_MAINTENANCE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct gw_maintenance;

/* The state of data_dir (off when the file is missing). NDX_ENOMEM, or
 * NDX_EINVAL with err when the file is there and cannot be read. */
int gw_maintenance_open(const char *data_dir, struct gw_maintenance **out, char *err,
			size_t errcap);
/* Accepts NULL. */
void gw_maintenance_free(struct gw_maintenance *m);

/* Whether new exchanges are refused now; false for m NULL. Lock-free. */
bool gw_maintenance_on(const struct gw_maintenance *m);

/* Switches it on or off for who (the official, as the change journal
 * names them), kept on disk before it takes effect. NDX_OK, NDX_EIO (not
 * written: nothing changed), NDX_ENOMEM. Thread-safe. */
int gw_maintenance_set(struct gw_maintenance *m, bool on, const char *who);

/* {"on", "since" (RFC 3339, null when off), "by" (null when off)}; NULL
 * when out of memory. */
json_t *gw_maintenance_json(struct gw_maintenance *m);

#endif
