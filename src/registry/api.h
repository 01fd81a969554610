/* The registry's HTTP API (docs/registry-api.md): public endpoints (/healthz,
 * /conf, /anchor, /ca.pem, /openapi/...) and the bearer-token management API
 * under /api/. One handler for httpd.h; it validates every input, changes
 * the store in one transaction per request and answers X-Road style errors. */
#ifndef NDX_REGISTRY_API_H
#define NDX_REGISTRY_API_H

#include <stddef.h>

#include "confgen.h"
#include "ndx/httpd.h"
#include "ndx/receipt.h"
#include "reg_store.h"

struct api_config {
	struct store *st;
	struct confgen *cg;
	const char *anchor_json; /* exact bytes of DATA/anchor.json */
	size_t anchor_len;
	const char *ca_pem;      /* instance CA certificate */
	const char *ca_key_pem;  /* its private key, to sign gateway CSRs */
	unsigned conf_validity;  /* seconds, for Cache-Control */
	const struct ndx_key *sign_key; /* the registry's key: countersigns tree heads (reg_witness.c) */
	struct ndx_console *console;    /* the web console (reg_console.h), or NULL */
	/* The member banks whose receipts POST /market/receipts takes. */
	const struct ndx_receipt_bank *banks;
	size_t nbanks;
};

struct api;
struct ndx_console;

/* Copies cfg (the pointers in it are borrowed and must outlive the api) and
 * loads the admin credential hashes. */
int api_new(const struct api_config *cfg, struct api **out);
/* Accepts NULL. */
void api_free(struct api *api);

/* The ndx_http_handler; ctx is the struct api. */
void api_handle(void *ctx, const struct ndx_http_req *req, struct ndx_http_resp *resp);

#endif
