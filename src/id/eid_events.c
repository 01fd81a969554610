/* The e-ID's event subscriber (eid_events.h): one rule, death-registered
 * disables the account. The payload's PIN and date are checked before
 * anything is written; the gateway has already checked them against the
 * event type's schema, so a failure here is a schema too lax, and the
 * event is acknowledged without effect rather than retried for ever.
 * Overview: docs/id.md "Events", docs/events.md "Receiving". */
#include "eid_events.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ndx/err.h"
#include "ndx/evclient.h"
#include "ndx/pin.h"

#define PROG "ndx-id"

struct eid_subscriber {
	struct idstore *st;
	struct ndx_evsub *sub;
};

static int date_ok(const char *s)
{
	if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return 0;
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return 0;
	return 1;
}

enum eid_apply eid_apply_event(struct idstore *st, const char *id, const char *name,
			       const char *payload, char *why, size_t cap)
{
	enum idstore_event_result res;
	const char *pin, *died;
	json_t *p;
	int rc;

	if (strcmp(name, "death-registered") != 0) {
		snprintf(why, cap, "no rule for %s", name);
		return EID_INVALID;
	}
	p = json_loads(payload ? payload : "", 0, NULL);
	pin = json_string_value(json_object_get(p, "pin"));
	died = json_string_value(json_object_get(p, "died_on"));
	if (!id || !*id || !pin || ndx_pin_parse(pin, 0, NULL, NULL) != NDX_OK || !date_ok(died)) {
		json_decref(p);
		snprintf(why, cap, "the payload has no valid pin and died_on");
		return EID_INVALID;
	}
	rc = idstore_event_disable(st, id, name, pin, "deceased", died, time(NULL), &res);
	json_decref(p);
	if (rc) {
		snprintf(why, cap, "the store failed: %s", ndx_strerror(rc));
		return EID_FAILED;
	}
	snprintf(why, cap, "%s", res == IDSTORE_EVENT_CHANGED	? "account disabled"
				 : res == IDSTORE_EVENT_UNCHANGED ? "account already disabled"
				 : res == IDSTORE_EVENT_SEEN	   ? "applied before"
								   : "no account: nothing to do");
	return EID_APPLIED;
}

static enum ndx_evsub_result on_event(void *ctx, const struct ndx_event *ev)
{
	struct eid_subscriber *s = ctx;
	char why[128];
	enum eid_apply r = eid_apply_event(s->st, ev->id, ev->event, ev->payload, why, sizeof why);

	fprintf(stderr, PROG ": events: %s %s: %s\n", ev->event, ev->id, why);
	return r == EID_APPLIED ? NDX_EVSUB_APPLIED
	       : r == EID_INVALID ? NDX_EVSUB_REJECT
				  : NDX_EVSUB_RETRY;
}

int eid_subscriber_start(struct idstore *st, const char *gateway_url, const char *client,
			 long poll_ms, struct eid_subscriber **out)
{
	struct eid_subscriber *s;
	int rc;

	*out = NULL;
	if (!(s = calloc(1, sizeof *s)))
		return NDX_ENOMEM;
	s->st = st;
	struct ndx_evsub_config cfg = {
		.client = { .gateway_url = gateway_url, .client = client },
		.prog = PROG, .poll_ms = poll_ms, .apply = on_event, .ctx = s,
	};
	if ((rc = ndx_evsub_start(&cfg, &s->sub))) {
		free(s);
		return rc;
	}
	*out = s;
	return NDX_OK;
}

void eid_subscriber_stop(struct eid_subscriber *s)
{
	if (!s)
		return;
	ndx_evsub_stop(s->sub);
	free(s);
}
