/* VietQR payloads (include/ndx/vietqr.h): the EMVCo merchant-presented
 * data objects of NAPAS's profile, written and read back, with their
 * CRC-16/CCITT-FALSE. Overview: docs/portal.md "Fees and payment". */
#include "ndx/vietqr.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "ndx/err.h"

#define NAPAS_GUID "A000000727"
#define SERVICE_ACCOUNT "QRIBFTTA"
#define SERVICE_CARD "QRIBFTTC"

uint16_t ndx_vietqr_crc16(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint16_t crc = 0xFFFF;
	for (size_t i = 0; i < len; i++) {
		crc ^= (uint16_t)(p[i] << 8);
		for (int b = 0; b < 8; b++)
			crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
	}
	return crc;
}

static int set_why(const char **why, const char *s)
{
	if (why)
		*why = s;
	return NDX_EINVAL;
}

static int all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

static int account_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > NDX_VIETQR_ACCOUNT_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')))
			return 0;
	}
	return 1;
}

static int printable(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7E)
			return 0;
	return 1;
}

/* Appends one data object "IDLLVALUE" at *pos; 0, or -1 when out is full. */
static int put(char *out, size_t cap, size_t *pos, const char *id, const char *value)
{
	size_t n = strlen(value);
	assert(n >= 1 && n <= 99);
	int w = snprintf(out + *pos, cap - *pos, "%s%02zu%s", id, n, value);
	if (w < 0 || (size_t)w >= cap - *pos)
		return -1;
	*pos += (size_t)w;
	return 0;
}

static int check_fields(const struct ndx_vietqr *q, const char **why)
{
	if (strlen(q->bin) != NDX_VIETQR_BIN_LEN || !all_digits(q->bin, NDX_VIETQR_BIN_LEN))
		return set_why(why, "bin: expected the bank's 6-digit NAPAS BIN");
	if (!account_ok(q->account))
		return set_why(why, "account: expected 1 to 19 letters and digits");
	if (q->amount_vnd > NDX_VIETQR_AMOUNT_MAX)
		return set_why(why, "amount: more than 13 digits");
	size_t rn = strnlen(q->reference, sizeof q->reference);
	if (rn == sizeof q->reference || !printable(q->reference, rn))
		return set_why(why, "reference: expected up to 25 printable ASCII characters");
	return NDX_OK;
}

int ndx_vietqr_encode(const struct ndx_vietqr *q, char *out, size_t cap, const char **why)
{
	assert(q && out);
	int rc = check_fields(q, why);
	if (rc != NDX_OK)
		return rc;
	/* ID 38: 00 GUID, 01 the beneficiary organisation (00 BIN, 01 account), 02 service. */
	char org[64], mai[128], amount[24], add[40];
	size_t pos = 0;
	if (put(org, sizeof org, &pos, "00", q->bin) || put(org, sizeof org, &pos, "01", q->account))
		return NDX_ETOOBIG;
	pos = 0;
	if (put(mai, sizeof mai, &pos, "00", NAPAS_GUID) || put(mai, sizeof mai, &pos, "01", org) ||
	    put(mai, sizeof mai, &pos, "02", q->to_card ? SERVICE_CARD : SERVICE_ACCOUNT))
		return NDX_ETOOBIG;
	snprintf(amount, sizeof amount, "%" PRIu64, q->amount_vnd);
	pos = 0;
	if (q->reference[0] && put(add, sizeof add, &pos, "08", q->reference))
		return NDX_ETOOBIG;

	pos = 0;
	if (cap < 1)
		return NDX_ETOOBIG;
	out[0] = '\0';
	if (put(out, cap, &pos, "00", "01") ||
	    put(out, cap, &pos, "01", q->amount_vnd ? "12" : "11") ||
	    put(out, cap, &pos, "38", mai) || put(out, cap, &pos, "53", "704") ||
	    (q->amount_vnd && put(out, cap, &pos, "54", amount)) ||
	    put(out, cap, &pos, "58", "VN") ||
	    (q->reference[0] && put(out, cap, &pos, "62", add)))
		return NDX_ETOOBIG;
	if (cap - pos < 9)
		return NDX_ETOOBIG;
	memcpy(out + pos, "6304", 4);
	pos += 4;
	snprintf(out + pos, cap - pos, "%04X", (unsigned)ndx_vietqr_crc16(out, pos));
	return NDX_OK;
}

/* One data object read from s[*pos .. end): its ID, value and length. */
struct tlv {
	int id;
	const char *v;
	size_t n;
};

/* 1 and *t filled, 0 at end, -1 when the framing is broken. */
static int next_tlv(const char *s, size_t end, size_t *pos, struct tlv *t)
{
	if (*pos == end)
		return 0;
	if (end - *pos < 4 || !all_digits(s + *pos, 4))
		return -1;
	t->id = (s[*pos] - '0') * 10 + (s[*pos + 1] - '0');
	t->n = (size_t)((s[*pos + 2] - '0') * 10 + (s[*pos + 3] - '0'));
	if (t->n == 0 || end - *pos - 4 < t->n)
		return -1;
	t->v = s + *pos + 4;
	*pos += 4 + t->n;
	return 1;
}

static int copy(char *dst, size_t cap, const struct tlv *t)
{
	if (t->n >= cap)
		return -1;
	memcpy(dst, t->v, t->n);
	dst[t->n] = '\0';
	return 0;
}

static int is(const struct tlv *t, const char *lit)
{
	return t->n == strlen(lit) && memcmp(t->v, lit, t->n) == 0;
}

/* ID 38's beneficiary organisation: 00 BIN, 01 account. */
static int decode_org(const struct tlv *org, struct ndx_vietqr *q, const char **why)
{
	size_t pos = 0, end = org->n;
	struct tlv t;
	int r;
	while ((r = next_tlv(org->v, end, &pos, &t)) == 1) {
		if (t.id == 0 && (t.n != NDX_VIETQR_BIN_LEN || !all_digits(t.v, t.n)))
			return set_why(why, "ID 38: the BIN is not 6 digits");
		if (t.id == 0)
			copy(q->bin, sizeof q->bin, &t);
		else if (t.id == 1 && (copy(q->account, sizeof q->account, &t) || !account_ok(q->account)))
			return set_why(why, "ID 38: the account is not 1 to 19 letters and digits");
	}
	if (r < 0)
		return set_why(why, "ID 38: broken data objects in the beneficiary");
	if (!q->bin[0] || !q->account[0])
		return set_why(why, "ID 38: the beneficiary has no BIN or no account");
	return NDX_OK;
}

static int decode_napas(const struct tlv *mai, struct ndx_vietqr *q, const char **why)
{
	size_t pos = 0;
	struct tlv t;
	int r, guid = 0, service = 0;
	while ((r = next_tlv(mai->v, mai->n, &pos, &t)) == 1) {
		if (t.id == 0) {
			if (!is(&t, NAPAS_GUID))
				return set_why(why, "ID 38: not NAPAS's GUID A000000727");
			guid = 1;
		} else if (t.id == 1) {
			int rc = decode_org(&t, q, why);
			if (rc != NDX_OK)
				return rc;
		} else if (t.id == 2) {
			if (is(&t, SERVICE_ACCOUNT))
				q->to_card = 0;
			else if (is(&t, SERVICE_CARD))
				q->to_card = 1;
			else
				return set_why(why, "ID 38: the service code is neither QRIBFTTA nor QRIBFTTC");
			service = 1;
		}
	}
	if (r < 0)
		return set_why(why, "ID 38: broken data objects");
	if (!guid || !q->bin[0] || !service)
		return set_why(why, "ID 38: GUID, beneficiary or service code missing");
	return NDX_OK;
}

static int decode_amount(const struct tlv *t, struct ndx_vietqr *q, const char **why)
{
	if (t->n > 13 || !all_digits(t->v, t->n))
		return set_why(why, "ID 54: the amount is not a whole number of dong");
	uint64_t a = 0;
	for (size_t i = 0; i < t->n; i++)
		a = a * 10 + (uint64_t)(t->v[i] - '0');
	q->amount_vnd = a;
	return NDX_OK;
}

static int decode_additional(const struct tlv *add, struct ndx_vietqr *q, const char **why)
{
	size_t pos = 0;
	struct tlv t;
	int r;
	while ((r = next_tlv(add->v, add->n, &pos, &t)) == 1)
		if (t.id == 8 && (copy(q->reference, sizeof q->reference, &t) ||
				  !printable(q->reference, t.n)))
			return set_why(why, "ID 62: the purpose of transaction is not up to 25 printable characters");
	return r < 0 ? set_why(why, "ID 62: broken data objects") : NDX_OK;
}

/* The CRC object: "6304" + 4 upper-case hex digits, the last 8 bytes. */
static int check_crc(const char *s, size_t len, const char **why)
{
	if (len < 8 + 6 || memcmp(s + len - 8, "6304", 4) != 0)
		return set_why(why, "the payload does not end with the CRC (ID 63)");
	unsigned got = 0;
	for (size_t i = len - 4; i < len; i++) {
		char c = s[i];
		int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
		if (d < 0)
			return set_why(why, "ID 63: the CRC is not 4 upper-case hex digits");
		got = got * 16 + (unsigned)d;
	}
	if (got != ndx_vietqr_crc16(s, len - 4))
		return set_why(why, "ID 63: the CRC does not match the payload");
	return NDX_OK;
}

int ndx_vietqr_decode(const char *payload, struct ndx_vietqr *q, const char **why)
{
	assert(payload && q);
	memset(q, 0, sizeof *q);
	size_t len = strnlen(payload, NDX_VIETQR_PAYLOAD_MAX + 1);
	if (len > NDX_VIETQR_PAYLOAD_MAX)
		return set_why(why, "the payload is too long");
	if (len < 6 || memcmp(payload, "000201", 6) != 0)
		return set_why(why, "the payload does not start with the format indicator 000201");
	int rc = check_crc(payload, len, why);
	if (rc != NDX_OK)
		return rc;
	size_t pos = 0, end = len - 8; /* the CRC object was checked */
	struct tlv t;
	int r, napas = 0, currency = 0, country = 0;
	while ((r = next_tlv(payload, end, &pos, &t)) == 1) {
		rc = NDX_OK;
		if (t.id == 1 && !is(&t, "11") && !is(&t, "12"))
			return set_why(why, "ID 01: the point of initiation is neither 11 nor 12");
		if (t.id == 38) {
			rc = decode_napas(&t, q, why);
			napas = 1;
		} else if (t.id == 53) {
			if (!is(&t, "704"))
				return set_why(why, "ID 53: the currency is not 704 (VND)");
			currency = 1;
		} else if (t.id == 54) {
			rc = decode_amount(&t, q, why);
		} else if (t.id == 58) {
			if (!is(&t, "VN"))
				return set_why(why, "ID 58: the country is not VN");
			country = 1;
		} else if (t.id == 62) {
			rc = decode_additional(&t, q, why);
		} else if (t.id == 63) {
			return set_why(why, "ID 63 is not the last data object");
		}
		if (rc != NDX_OK)
			return rc;
	}
	if (r < 0)
		return set_why(why, "broken data objects (ID, length, value)");
	if (!napas)
		return set_why(why, "no NAPAS beneficiary (ID 38)");
	if (!currency || !country)
		return set_why(why, "the currency (ID 53) or the country (ID 58) is missing");
	return NDX_OK;
}
