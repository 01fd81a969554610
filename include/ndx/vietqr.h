/* VietQR: NAPAS's profile of the EMVCo merchant-presented QR code (EMV
 * QRCPS MPM), the payload any Vietnamese bank app scans to pre-fill an
 * interbank transfer (NAPAS 247). A payload is a string of data objects,
 * each a 2-digit ID, a 2-digit length and the value; NAPAS puts the
 * beneficiary under ID 38 (GUID A000000727, the bank's 6-digit BIN and the
 * account, service code QRIBFTTA to an account or QRIBFTTC to a card),
 * the currency is 704 (VND), the country VN, the payment reference is the
 * purpose of transaction (ID 62, sub-ID 08) and ID 63 closes the payload
 * with a CRC-16/CCITT-FALSE over everything before its four hex digits.
 * Pure functions, no allocation, thread-safe. Overview: docs/portal.md
 * "Fees and payment". */
#ifndef NDX_VIETQR_H
#define NDX_VIETQR_H

#include <stddef.h>
#include <stdint.h>

#define NDX_VIETQR_BIN_LEN 6
#define NDX_VIETQR_ACCOUNT_MAX 19 /* NAPAS: account or card number */
#define NDX_VIETQR_REF_MAX 25     /* EMV: purpose of transaction, ans..25 */
#define NDX_VIETQR_AMOUNT_MAX 9999999999999ULL /* 13 digits (EMV: ans..13) */
#define NDX_VIETQR_PAYLOAD_MAX 256 /* a VietQR payload is far shorter */

/* A transfer to pre-fill. All strings are NUL-terminated ASCII. */
struct ndx_vietqr {
	char bin[NDX_VIETQR_BIN_LEN + 1];          /* beneficiary bank's NAPAS BIN */
	char account[NDX_VIETQR_ACCOUNT_MAX + 1];  /* letters and digits */
	int to_card;        /* 0: QRIBFTTA (to an account), 1: QRIBFTTC (to a card) */
	uint64_t amount_vnd; /* 0: none, the payer types it (a static code, point
			      * of initiation 11); else a dynamic code (12) */
	char reference[NDX_VIETQR_REF_MAX + 1];    /* printable ASCII, may be "" */
};

/* CRC-16/CCITT-FALSE (polynomial 0x1021, initial 0xFFFF, no reflection,
 * no final XOR) of len bytes: the checksum of ID 63. */
uint16_t ndx_vietqr_crc16(const void *data, size_t len);

/* Writes the payload of q into out (cap bytes, NUL-terminated), IDs in
 * the order 00 01 38 53 54 58 62 63 (54 only with an amount, 62 only with
 * a reference). Returns NDX_OK, NDX_EINVAL with *why (may be NULL) a
 * static sentence when a field is malformed (a BIN that is not 6 digits,
 * an empty or over-long account or one with other than letters and
 * digits, an amount over 13 digits, a reference over 25 bytes or with a
 * byte outside printable ASCII), or NDX_ETOOBIG when cap is too small. */
int ndx_vietqr_encode(const struct ndx_vietqr *q, char *out, size_t cap, const char **why);

/* Reads a scanned payload back: checks the data-object framing, that it
 * starts with 000201 and ends with ID 63 whose CRC is right, that ID 38
 * carries NAPAS's GUID with a BIN, an account and a known service code,
 * that the currency is 704 and the country VN, and fills *q. IDs this
 * profile does not use (merchant name, category code …) are skipped.
 * Returns NDX_OK, or NDX_EINVAL with *why (may be NULL) a static
 * sentence; *q is then unspecified. */
int ndx_vietqr_decode(const char *payload, struct ndx_vietqr *q, const char **why);

#endif
