/* The data marketplace in the portal (docs/portal.md "The marketplace",
 * docs/marketplace.md): the catalogue browsed and searched by anyone, a
 * dataset's page with its offers' terms, and for the officers and
 * officials of members the requests their member made and received, with
 * the provider's approval, counter-offer or termination and the
 * consumer's acceptance or own counter-offer; ending an agreement in force;
 * publishing and withdrawing the member's datasets; and the check of a
 * usage statement pasted on an agreement's page (with the signer's key
 * from the registry's signed configuration, verified with the portal's
 * anchor of the registry). Everything is
 * asked of the registry's own /dsp and /market endpoints with the acting
 * member's marketplace credential (none for an anonymous visitor), so the
 * registry applies its own rules once more; the portal keeps nothing of
 * the marketplace in portal.db (no migration). */
#ifndef NDX_PORTAL_MARKET_H
#define NDX_PORTAL_MARKET_H

#include "ndx/httpd.h"
#include "portal.h"

/* Answers every request under /api/market/ (its own gate: browsing needs
 * no session; the rest a member's officer or agency official). */
void market_handle(const struct portal *p, const struct ndx_http_req *req,
		   struct ndx_http_resp *resp);

/* {"member","via"} of the session when it may act in the marketplace for
 * a member (an officer: its agency; an e-ID official of role "agency": its
 * member), else NULL. For /api/session. */
json_t *market_party_json(const struct portal *p, const struct psession *s);

#endif
