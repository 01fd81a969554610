/* Bank receipts (ndx/receipt.h, docs/payment.md "Receipts"). */
#include "ndx/receipt.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "ndx/err.h"
#include "ndx/jws.h"
#include "ndx/text.h"

int ndx_receipt_bank_parse(const char *arg, struct ndx_receipt_bank *out, char *err, size_t cap)
{
	const char *eq = strchr(arg, '=');
	int rc;

	memset(out, 0, sizeof *out);
	if (!eq || eq - arg != NDX_VIETQR_BIN_LEN ||
	    strspn(arg, "0123456789") != NDX_VIETQR_BIN_LEN)
		return ndx_fail(err, cap, NDX_EINVAL,
				"expected BIN=PUBLIC_KEY.pem (a 6-digit BIN)");
	memcpy(out->bin, arg, NDX_VIETQR_BIN_LEN);
	out->bin[NDX_VIETQR_BIN_LEN] = '\0';
	if ((rc = ndx_key_load(eq + 1, &out->key)) != NDX_OK)
		return ndx_fail(err, cap, rc, "cannot read the key %s of bank %s", eq + 1, out->bin);
	return NDX_OK;
}

static int fields(const json_t *p, const char *kid, struct ndx_receipt *r, char *err, size_t cap)
{
	const char *bin = json_string_value(json_object_get(p, "bank_bin"));
	const char *ref = json_string_value(json_object_get(p, "reference"));
	const char *txn = json_string_value(json_object_get(p, "txn_id"));
	const json_t *amount = json_object_get(p, "amount_vnd");

	if (!bin || strcmp(bin, kid) != 0)
		return ndx_fail(err, cap, NDX_EINVAL, "the receipt's bank_bin is not its signer %s",
				kid);
	if (!ndx_text_is_token(ref, NDX_VIETQR_REF_MAX) || !ndx_text_is_token(txn, NDX_RECEIPT_TXN_MAX) ||
	    !json_is_integer(amount))
		return ndx_fail(err, cap, NDX_EINVAL,
				"the receipt lacks reference, txn_id or amount_vnd");
	snprintf(r->bin, sizeof r->bin, "%s", bin);
	snprintf(r->reference, sizeof r->reference, "%s", ref);
	snprintf(r->txn_id, sizeof r->txn_id, "%s", txn);
	r->amount_vnd = (int64_t)json_integer_value(amount);
	return NDX_OK;
}

int ndx_receipt_verify(const char *text, size_t len, const struct ndx_receipt_bank *banks,
		       size_t nbanks, struct ndx_receipt *out, char *err, size_t cap)
{
	const struct ndx_receipt_bank *bank = NULL;
	struct ndx_jws *jws = NULL;
	json_t *payload = NULL;
	const uint8_t *pl;
	size_t plen;
	char why[128];
	int rc;

	memset(out, 0, sizeof *out);
	if (ndx_jws_parse(text, len, &jws, why, sizeof why) != NDX_OK)
		return ndx_fail(err, cap, NDX_EINVAL, "the receipt is not a JWS: %s", why);
	const char *kid = ndx_jws_kid(jws), *typ = ndx_jws_typ(jws);
	for (size_t i = 0; kid && i < nbanks; i++)
		if (strcmp(banks[i].bin, kid) == 0)
			bank = &banks[i];
	if (!bank) {
		rc = ndx_fail(err, cap, NDX_EBADSIG, "no member bank with BIN %.16s is configured",
			      kid ? kid : "(none)");
		goto out;
	}
	if (!typ || strcmp(typ, NDX_RECEIPT_TYP) != 0) {
		rc = ndx_fail(err, cap, NDX_EBADSIG, "the JWS is not a receipt (typ %.32s, not "
			      NDX_RECEIPT_TYP ")", typ ? typ : "(none)");
		goto out;
	}
	if (ndx_jws_verify(jws, bank->key) != NDX_OK) {
		rc = ndx_fail(err, cap, NDX_EBADSIG,
			      "the receipt's signature does not verify with bank %s's key", kid);
		goto out;
	}
	pl = ndx_jws_payload(jws, &plen);
	payload = json_loadb((const char *)pl, plen, JSON_REJECT_DUPLICATES, NULL);
	rc = json_is_object(payload)
		     ? fields(payload, kid, out, err, cap)
		     : ndx_fail(err, cap, NDX_EINVAL, "the receipt's payload is not a JSON object");
out:
	json_decref(payload);
	ndx_jws_free(jws);
	return rc;
}
