/* The State Treasury's payment platform (docs/payment.md): payment orders
 * for fees, each paid into the treasury's collection account under its
 * own reference; receipts signed by member banks, verified with the
 * bank's key and applied once; the day's takings per agency. Served
 * behind the treasury's own gateway: the portal and the banks reach it
 * only through the exchange. */
#ifndef NDX_PAY_TREASURY_H
#define NDX_PAY_TREASURY_H

#include <stddef.h>

#include "ndx/httpd.h"
#include "ndx/key.h"
#include "ndx/receipt.h"

#define TREASURY_BANKS_MAX NDX_RECEIPT_BANKS_MAX

struct treasury_config {
	const char *db_path;
	const char *bin, *account, *account_name; /* the collection account */
	struct ndx_receipt_bank banks[TREASURY_BANKS_MAX]; /* keys owned */
	size_t nbanks;
};

struct treasury;

/* Opens (creating) the database of cfg->db_path and keeps cfg (which must
 * outlive the treasury; its keys stay the caller's). NDX_OK, or NDX_EDB
 * after a message on stderr. */
int treasury_open(const struct treasury_config *cfg, struct treasury **out);
/* Accepts NULL. */
void treasury_close(struct treasury *t);
/* The HTTP handler (ctx: struct treasury *): POST /orders, GET
 * /orders/{id}, POST /receipts, GET /reconciliation, GET /healthz. */
void treasury_handle(void *ctx, const struct ndx_http_req *req, struct ndx_http_resp *resp);

#endif
