/* The registry console's roles (reg_console.h, docs/console.md "Roles"):
 * the officials table of the store, asked at every request. */
#include "reg_console.h"

#include <stdio.h>

#include "ndx/err.h"
#include "reg_store.h"

int reg_console_role(void *st, const char *subject, char *role, size_t cap, char *member,
		     size_t member_cap)
{
	json_t *o = NULL;
	const char *r, *m;
	int rc = store_official_get(st, subject, &o);

	role[0] = '\0';
	if (member_cap)
		member[0] = '\0';
	if (rc == NDX_OK && (r = json_string_value(json_object_get(o, "role")))) {
		snprintf(role, cap, "%s", r);
		if ((m = json_string_value(json_object_get(o, "member"))))
			snprintf(member, member_cap, "%s", m);
	}
	json_decref(o);
	return rc == NDX_ENOTFOUND ? NDX_OK : rc;
}
