/* The registry's web console (docs/console.md): sign-in, sessions and
 * files are libndx's (ndx/console_auth.h); the registry says who may do
 * what from its officials table, read at every request, and the
 * management API (api.c) accepts a session besides its bearer tokens. */
#ifndef NDX_REGISTRY_CONSOLE_H
#define NDX_REGISTRY_CONSOLE_H

#include <stddef.h>

#include "ndx/console_auth.h"

/* The console's ndx_console_role_fn: st is the registry's struct store;
 * the role of subject in the officials table ("operator", "auditor",
 * "agency", "dpo"), "" for no official, and an agency administrator's
 * member. */
int reg_console_role(void *st, const char *subject, char *role, size_t cap, char *member,
		     size_t member_cap);

/* The 404 detail of a registry without a console. */
#define REG_CONSOLE_HINT                                                          \
	"serve with --console-eid, --console-client and --console-secret-file " \
	"(docs/console.md)"

#endif
