/* A demo bank of the exchange (docs/payment.md): its confirmation page
 * reads a scanned VietQR payload, shows the customer the transfer, and on
 * confirmation signs a receipt with the bank's key and sends it through
 * the bank's own gateway to the State Treasury, or, for a marketplace
 * invoice, to the registry's clearing. No real money moves: the
 * bank plays the customer's bank app for the demo and the tests. */
#ifndef NDX_PAY_BANK_H
#define NDX_PAY_BANK_H

#include "ndx/httpd.h"
#include "ndx/key.h"

struct bank_config {
	const char *bin;          /* the bank's NAPAS BIN, the receipt's kid */
	const char *name;         /* shown on its pages */
	const struct ndx_key *key; /* signs receipts (the caller's) */
	const char *gateway;      /* the bank's gateway consumer URL, no trailing '/' */
	const char *client;       /* the bank's subsystem, X-Road-Client */
	const char *receipts_service; /* the treasury's receipts service id */
	const char *customer_account; /* the demo customer's account, debited on the page */
	/* The registry's URL, no trailing '/': marketplace invoices' receipts
	 * go to its POST /market/receipts. NULL: such a code is refused. */
	const char *registry;
};

/* The HTTP handler (ctx: const struct bank_config *): GET /pay?qr=…
 * (the confirmation page), POST /pay?qr=… (pay: sign, send, show the
 * outcome), GET /healthz. */
void bank_handle(void *ctx, const struct ndx_http_req *req, struct ndx_http_resp *resp);

#endif
