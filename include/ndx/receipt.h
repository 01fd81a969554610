/* A member bank's receipt of a transfer (docs/payment.md "Receipts"): a
 * compact JWS, EdDSA, protected header {"alg":"EdDSA","kid":BIN,
 * "typ":"ndx-receipt"}, payload {"reference","amount_vnd","bank_bin",
 * "txn_id","paid_at","to_account"}, signed by the bank whose BIN is the
 * kid and verified with that bank's configured public key. One
 * implementation for every reader: the treasury (ndx-pay) and the
 * registry's marketplace clearing (docs/marketplace.md "Invoices and
 * clearing"). */
#ifndef NDX_RECEIPT_H
#define NDX_RECEIPT_H

#include <stddef.h>
#include <stdint.h>

#include "ndx/key.h"
#include "ndx/vietqr.h"

#define NDX_RECEIPT_TYP "ndx-receipt"
#define NDX_RECEIPT_TXN_MAX 64
#define NDX_RECEIPT_BANKS_MAX 16

struct ndx_receipt_bank {
	char bin[NDX_VIETQR_BIN_LEN + 1];
	struct ndx_key *key; /* owned: the bank's receipt-signing public key */
};

struct ndx_receipt {
	char bin[NDX_VIETQR_BIN_LEN + 1];          /* bank_bin, the kid */
	char reference[NDX_VIETQR_REF_MAX + 1];
	char txn_id[NDX_RECEIPT_TXN_MAX + 1];
	int64_t amount_vnd;
};

/* "BIN=PUBLIC_KEY.pem" (a 6-digit BIN, an Ed25519 PEM as ndx keygen
 * writes) into *out (free its key with ndx_key_free). NDX_EINVAL (the
 * form) or the key's error, with err saying which. */
int ndx_receipt_bank_parse(const char *arg, struct ndx_receipt_bank *out, char *err,
			   size_t cap);

/* Verifies the receipt text (len bytes) with the key of the bank of banks
 * (nbanks) whose BIN is its kid and reads its fields into *out. NDX_OK;
 * NDX_EINVAL for what is not a JWS or lacks a field (bank_bin, the kid;
 * reference, 1..25 printable characters; txn_id, 1..64; amount_vnd, an
 * integer) or whose bank_bin is not its kid; NDX_EBADSIG for a kid no
 * bank has, a typ other than ndx-receipt, or a signature that bank's key
 * does not verify. err says which. */
int ndx_receipt_verify(const char *text, size_t len, const struct ndx_receipt_bank *banks,
		       size_t nbanks, struct ndx_receipt *out, char *err, size_t cap);

#endif
