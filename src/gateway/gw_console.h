/* The gateway's web console (gw_console.c, docs/gateway-console.md): the
 * agency's officials sign in through the national e-ID (libndx's
 * ndx/console_auth.h, as the registry's console) on a port of its own,
 * loopback by default and never one of the exchange ports, and see the
 * gateway's subsystems, backends, services and grants, the message log's
 * head and a verify run, maintenance mode, and the connection test to each
 * peer gateway. Off unless the configuration file has "console". */
#ifndef NDX_GATEWAY_CONSOLE_H
#define NDX_GATEWAY_CONSOLE_H

#include <stddef.h>

#include "gateway.h"

struct gw_console;

/* Starts the console's port for g (g->cfg->console enabled): reads the
 * client secret, checks the officials file once, listens. NDX_OK with
 * *out, or an error with why. g must outlive the console. */
int gw_console_start(struct gw_ctx *g, struct gw_console **out, char *why, size_t cap);
/* Stops the port and frees; accepts NULL. */
void gw_console_stop(struct gw_console *c);

/* The role of subject in the officials file at path ("administrator",
 * "auditor"), "" for no official: an ndx_console_role_fn with the path as
 * ud. NDX_EINVAL (logged) when the file does not read as the officials
 * file: then nobody has a role. */
int gw_console_role(void *path, const char *subject, char *role, size_t cap, char *member,
		    size_t member_cap);

/* Checks the officials file at path (for --check and the start): NDX_OK
 * with how many officials in *n, or an error explained in why. */
int gw_console_officials_check(const char *path, size_t *n, char *why, size_t cap);

#endif
