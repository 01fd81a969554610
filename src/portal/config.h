/* ndx-portal's configuration file (docs/portal.md "Configuration"): one
 * JSON object read once at start, every value checked, secrets read from
 * their files. Relative paths are taken from the configuration file's
 * directory. */
#ifndef NDX_PORTAL_CONFIG_H
#define NDX_PORTAL_CONFIG_H

#include <stdint.h>

#include "../id/signin_throttle.h"
#include "holidays.h"

struct pconfig {
	char listen_addr[64];
	uint16_t port;
	char *public_url;      /* without a trailing '/' */
	int secure_cookie;     /* public_url is https */
	char *data_dir;
	char *store;           /* "store": a postgresql:// connection string; NULL: DATA/portal.db */
	char *web_dir;         /* realpath */
	char *assets_dir;      /* realpath, NULL when the directory is missing */
	char *oidc_issuer;     /* without a trailing '/' */
	char *oidc_client_id;
	char *oidc_client_secret;
	char *consumer_url;    /* without a trailing '/' */
	char *client;          /* the portal's subsystem, X-Road-Client */
	char *consent_url;     /* NULL: no consent service configured */
	char *consent_token;
	char *consent_issuer;
	char *chart_dir;       /* realpath of the charting package's build, NULL when missing */
	char *monitor_url;     /* without a trailing '/'; NULL: the operations centre is off */
	char *monitor_token_file; /* absolute; read at each call, so a new token needs no restart */
	unsigned push_interval_s; /* the procedures push's period (procpush.c), default 5 */
	/* Fees paid online (docs/portal.md "Fees and payment"): the State
	 * Treasury's payment-order service; NULL when the configuration has
	 * no "payment" (fees are then shown, and procedures go straight to
	 * the officers). */
	char *pay_orders_service;
	/* The banks offered for "pay at my bank": their names and the URL of
	 * their confirmation page, which takes ?qr=PAYLOAD. */
	struct pconfig_bank {
		char *name, *url;
	} pay_banks[8];
	unsigned pay_nbanks;
	/* E-mail to citizens who gave an address (notify.c): the SMTP server
	 * and the sender; smtp_host NULL without "smtp" (notifications are
	 * then only shown in the portal). */
	char *smtp_host, *smtp_from;
	unsigned smtp_port;
	int smtp_starttls; /* STARTTLS required (CURLUSESSL_ALL) */
	/* The data marketplace (docs/portal.md "The marketplace"): the
	 * registry's URL, whose /dsp and /market endpoints the portal calls,
	 * and the directory of the members' marketplace credentials (a file
	 * per member, read at each call); both NULL without "market". */
	char *market_registry_url;
	char *market_credentials_dir;
	/* The registry's anchor (market.anchor, optional): the usage
	 * statements' check verifies the signed configuration it takes the
	 * signers' keys from with it; NULL: statements are not checked. */
	char *market_anchor;
	/* The public holidays processing deadlines skip ("holidays_file",
	 * holidays.h); holidays_file NULL and the list empty without it
	 * (weekends only are then skipped). */
	char *holidays_file;
	struct holidays holidays;
	unsigned session_minutes;
	unsigned threads;
	/* The TLS reverse proxies whose X-Forwarded-For names the client of an
	 * officer's sign-in ("trusted_proxies"; none: the peer address). */
	struct signin_proxies proxies;
};

/* Reads and checks path into a new *out (free with pconfig_free). Prints
 * what is wrong on stderr and returns NDX_EINVAL / NDX_EIO / NDX_ENOMEM. */
int pconfig_load(const char *path, struct pconfig **out);
/* Accepts NULL; wipes the secrets. */
void pconfig_free(struct pconfig *cfg);

#endif
