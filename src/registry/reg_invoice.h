/* The data marketplace's clearing in the registry (docs/marketplace.md
 * "Invoices and clearing"): POST/GET /market/invoices, GET
 * /market/invoices/{reference} and POST /market/receipts. */
#ifndef NDX_REGISTRY_REG_INVOICE_H
#define NDX_REGISTRY_REG_INVOICE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "ndx/httpd.h"
#include "ndx/receipt.h"
#include "reg_market.h"
#include "reg_store.h"

/* True for the paths invoice_handle answers (a subset of market_path). */
bool invoice_path(const char *path);
/* Answers one request on an invoice_path. banks (nbanks) are the member
 * banks whose receipts are taken (serve --bank-key), borrowed. */
void invoice_handle(struct store *st, const struct market_caller *who,
		    const struct ndx_receipt_bank *banks, size_t nbanks,
		    const struct ndx_http_req *req, struct ndx_http_resp *resp);
/* The invoices member sells or buys under (NULL: all), newest first, as
 * GET /market/invoices answers them, in *out (a new array); takes the
 * store lock. Also /api/market/invoices (api.c). */
int invoice_list_json(struct store *st, const char *member, json_t **out);

#endif
