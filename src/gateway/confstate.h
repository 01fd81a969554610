/* The global configuration the gateway holds (confstate.c) and the
 * settings beside it, handed to a request as one consistent view. */
#ifndef NDX_GATEWAY_CONFSTATE_H
#define NDX_GATEWAY_CONFSTATE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "gwconfig.h"
#include "ndx/conf.h"

struct gw_conf_ref {
	atomic_uint refs;
	struct ndx_conf *conf;
	time_t loaded_at;
};

struct gw_state;

/* A consistent pair for one request; release with gw_view_release. conf is
 * NULL when no configuration is held (an expired one is still handed out:
 * callers compare ndx_conf_expires_at with the clock). */
struct gw_view {
	struct gw_conf_ref *c;
	struct gw_settings *s;
};

/* Takes cfg->settings. Loads the last good copy from cfg->conf_dir (if any
 * and still valid). Does not start polling. */
int gw_state_new(struct gw_config *cfg, struct gw_state **out);
/* Adds the polling of registry_url/conf every conf_refresh_s to the
 * gateway's poller (poller.h), which must outlive neither st nor the
 * task: free the poller before st. */
struct gw_poller;
int gw_state_start(struct gw_state *st, struct gw_poller *p);
/* Fetches once, synchronously (used at start when nothing is held). */
int gw_state_fetch(struct gw_state *st, char *err, size_t errcap);
void gw_state_fetch_soon(struct gw_state *st);
/* Replaces the settings (SIGHUP); takes s. */
void gw_state_set_settings(struct gw_state *st, struct gw_settings *s);
void gw_state_acquire(struct gw_state *st, struct gw_view *v);
void gw_view_release(struct gw_view *v);
/* Stops the poller and frees everything (not cfg). Accepts NULL. */
void gw_state_free(struct gw_state *st);
const struct gw_config *gw_state_config(const struct gw_state *st);
/* Configuration updates taken since start: full documents, deltas, and
 * deltas refused (the gateway's metrics). */
void gw_conf_update_counts(uint64_t *full, uint64_t *delta, uint64_t *delta_refused);
/* True when v holds a configuration that has not expired. */
bool gw_view_live(const struct gw_view *v, time_t now);

#endif
