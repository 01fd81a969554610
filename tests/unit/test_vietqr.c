/* Unit tests for include/ndx/vietqr.h, from the published format:
 * NAPAS, "Technical Specifications on NAPAS QR Switching", Part IV "QR
 * code format" (v1.5.2, 2021): §5.2 the root data objects (00 payload
 * format indicator "01", 01 point of initiation 11 static / 12 dynamic,
 * 53 currency "704", 54 amount, 58 country "VN", 62 additional data with
 * 08 purpose of transaction, 63 CRC) and §5.2.3.2 the merchant account
 * information template under ID 38 (00 GUID A000000727, 01 beneficiary
 * organisation = 00 the bank's BIN + 01 the account, 02 service code
 * QRIBFTTA to an account / QRIBFTTC to a card); EMV QRCPS MPM v1.1 §4.7.3
 * for the CRC: ISO/IEC 13239, polynomial 1021, initial FFFF, over the
 * whole payload including "6304". The payloads are codes published with
 * the format and accepted by bank apps, byte for byte: the encoder must
 * reproduce each one from its decoded fields, the decoder must read them
 * back, and a payload with one byte changed must be refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ndx/err.h"
#include "ndx/vietqr.h"

struct example {
	const char *payload;
	const char *bin, *account, *reference;
	uint64_t amount;
};

/* Published examples of the format, with the fields they decode to. */
static const struct example examples[] = {
	/* The sample transfer of NAPAS's VietQR specification: Vietcombank
	 * (BIN 970436), account 0011001800879, 100 000 VND, "nhan tien". */
	{"00020101021238570010A00000072701270006970436011300110018008790208QRIBFTTA"
	 "530370454061000005802VN62130809nhan tien6304D1EF",
	 "970436", "0011001800879", "nhan tien", 100000},
	/* VietinBank (BIN 970415), 120 000 VND, "ung ho lu lut". */
	{"00020101021238570010A00000072701270006970415011300110019324180208QRIBFTTA"
	 "530370454061200005802VN62170813ung ho lu lut6304C15C",
	 "970415", "0011001932418", "ung ho lu lut", 120000},
	/* ACB (BIN 970416), 1 000 and 10 000 VND: one more digit in the
	 * amount moves the CRC from BBB8 to 53E6. */
	{"00020101021238530010A0000007270123000697041601092576788590208QRIBFTTA"
	 "5303704540410005802VN62150811Chuyen tien6304BBB8",
	 "970416", "257678859", "Chuyen tien", 1000},
	{"00020101021238530010A0000007270123000697041601092576788590208QRIBFTTA"
	 "53037045405100005802VN62150811Chuyen tien630453E6",
	 "970416", "257678859", "Chuyen tien", 10000},
};

/* The CRC's check value ("123456789" → 29B1, the catalogue value of
 * CRC-16/CCITT-FALSE) and each example's own ID 63. */
static void test_crc(void **state)
{
	(void)state;
	assert_int_equal(ndx_vietqr_crc16("123456789", 9), 0x29B1);
	assert_int_equal(ndx_vietqr_crc16("", 0), 0xFFFF);
	for (size_t i = 0; i < sizeof examples / sizeof examples[0]; i++) {
		const char *p = examples[i].payload;
		size_t n = strlen(p);
		char hex[5];
		snprintf(hex, sizeof hex, "%04X", (unsigned)ndx_vietqr_crc16(p, n - 4));
		assert_string_equal(hex, p + n - 4);
	}
}

static void test_encode_examples(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof examples / sizeof examples[0]; i++) {
		struct ndx_vietqr q = {.amount_vnd = examples[i].amount};
		snprintf(q.bin, sizeof q.bin, "%s", examples[i].bin);
		snprintf(q.account, sizeof q.account, "%s", examples[i].account);
		snprintf(q.reference, sizeof q.reference, "%s", examples[i].reference);
		char out[NDX_VIETQR_PAYLOAD_MAX + 1];
		assert_int_equal(ndx_vietqr_encode(&q, out, sizeof out, NULL), NDX_OK);
		assert_string_equal(out, examples[i].payload);
	}
}

static void test_decode_examples(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof examples / sizeof examples[0]; i++) {
		struct ndx_vietqr q;
		const char *why = NULL;
		assert_int_equal(ndx_vietqr_decode(examples[i].payload, &q, &why), NDX_OK);
		assert_string_equal(q.bin, examples[i].bin);
		assert_string_equal(q.account, examples[i].account);
		assert_string_equal(q.reference, examples[i].reference);
		assert_int_equal(q.amount_vnd, examples[i].amount);
		assert_int_equal(q.to_card, 0);
	}
}

/* §5.2.2: a code without an amount is static (11) and has no ID 54; a
 * transfer to a card carries QRIBFTTC; no reference, no ID 62. */
static void test_static_and_card(void **state)
{
	(void)state;
	struct ndx_vietqr q = {.bin = "970436", .account = "9704366614951234", .to_card = 1};
	char out[NDX_VIETQR_PAYLOAD_MAX + 1];
	assert_int_equal(ndx_vietqr_encode(&q, out, sizeof out, NULL), NDX_OK);
	assert_non_null(strstr(out, "010211"));
	assert_null(strstr(out, "5303704" "54"));
	assert_non_null(strstr(out, "0208QRIBFTTC"));
	assert_null(strstr(out, "5802VN62"));
	struct ndx_vietqr back;
	assert_int_equal(ndx_vietqr_decode(out, &back, NULL), NDX_OK);
	assert_int_equal(back.to_card, 1);
	assert_int_equal(back.amount_vnd, 0);
	assert_string_equal(back.account, "9704366614951234");
	assert_string_equal(back.reference, "");
}

static void test_encode_refusals(void **state)
{
	(void)state;
	char out[NDX_VIETQR_PAYLOAD_MAX + 1];
	const char *why = NULL;
	struct ndx_vietqr q = {.bin = "97043", .account = "123", .amount_vnd = 1};
	assert_int_equal(ndx_vietqr_encode(&q, out, sizeof out, &why), NDX_EINVAL);
	assert_non_null(strstr(why, "bin"));
	q = (struct ndx_vietqr){.bin = "97043A", .account = "123"};
	assert_int_equal(ndx_vietqr_encode(&q, out, sizeof out, &why), NDX_EINVAL);
	q = (struct ndx_vietqr){.bin = "970436", .account = ""};
	assert_int_equal(ndx_vietqr_encode(&q, out, sizeof out, &why), NDX_EINVAL);
	assert_non_null(strstr(why, "account"));
	q = (struct ndx_vietqr){.bin = "970436", .account = "12-34"};
	assert_int_equal(ndx_vietqr_encode(&q, out, sizeof out, &why), NDX_EINVAL);
	q = (struct ndx_vietqr){.bin = "970436", .account = "1", .amount_vnd = NDX_VIETQR_AMOUNT_MAX + 1};
	assert_int_equal(ndx_vietqr_encode(&q, out, sizeof out, &why), NDX_EINVAL);
	assert_non_null(strstr(why, "amount"));
	q = (struct ndx_vietqr){.bin = "970436", .account = "1", .reference = "lệ phí"};
	assert_int_equal(ndx_vietqr_encode(&q, out, sizeof out, &why), NDX_EINVAL);
	assert_non_null(strstr(why, "reference"));
	/* The largest amount fits; a buffer one byte short does not. */
	q = (struct ndx_vietqr){.bin = "970436", .account = "1234567890123456789",
				.amount_vnd = NDX_VIETQR_AMOUNT_MAX, .reference = "NDX BTC 2026 000001 ABCDE"};
	assert_int_equal(ndx_vietqr_encode(&q, out, sizeof out, &why), NDX_OK);
	size_t n = strlen(out);
	assert_int_equal(ndx_vietqr_decode(out, &(struct ndx_vietqr){0}, NULL), NDX_OK);
	assert_int_equal(ndx_vietqr_encode(&q, out, n, &why), NDX_ETOOBIG);
	assert_int_equal(ndx_vietqr_encode(&q, out, n + 1, &why), NDX_OK);
}

static void refused(const char *payload, const char *want)
{
	struct ndx_vietqr q;
	const char *why = NULL;
	assert_int_equal(ndx_vietqr_decode(payload, &q, &why), NDX_EINVAL);
	assert_non_null(why);
	if (!strstr(why, want))
		fail_msg("%s: expected \"%s\" in \"%s\"", payload, want, why);
}

/* Re-seals a payload edited before its CRC, so the decoder's other checks
 * are reached. */
static void resealed(const char *body, const char *want)
{
	char p[NDX_VIETQR_PAYLOAD_MAX + 16];
	int n = snprintf(p, sizeof p, "%s6304", body);
	snprintf(p + n, sizeof p - (size_t)n, "%04X", (unsigned)ndx_vietqr_crc16(p, (size_t)n));
	refused(p, want);
}

static void test_decode_refusals(void **state)
{
	(void)state;
	char p[NDX_VIETQR_PAYLOAD_MAX + 1];
	/* Every single byte changed in the first example is caught. */
	const char *ex = examples[0].payload;
	size_t n = strlen(ex);
	for (size_t i = 0; i < n; i++) {
		memcpy(p, ex, n + 1);
		p[i] = p[i] == '1' ? '2' : '1';
		struct ndx_vietqr q;
		assert_int_not_equal(ndx_vietqr_decode(p, &q, NULL), NDX_OK);
	}
	refused("", "000201");
	refused("000201", "CRC");
	memcpy(p, ex, n + 1);
	p[n - 1] = 'f';
	refused(p, "hex");
	memcpy(p, ex, n + 1);
	p[n - 1] = p[n - 1] == '0' ? '1' : '0';
	refused(p, "does not match");
	/* An over-long payload is refused before it is read. */
	char big[NDX_VIETQR_PAYLOAD_MAX + 2];
	memset(big, '0', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	refused(big, "too long");
	/* Fields, each with a valid CRC. */
	resealed("000201010212" "38570010A00000072701270006970436011300110018008790208QRIBFTTA"
		 "5303840" "5802VN", "704");
	resealed("000201010212" "38570010A00000072701270006970436011300110018008790208QRIBFTTA"
		 "5303704" "5802TH", "VN");
	resealed("000201010212" "38570010A00000072801270006970436011300110018008790208QRIBFTTA"
		 "5303704" "5802VN", "GUID");
	resealed("000201010212" "38570010A00000072701270006970436011300110018008790208QRIBFTTX"
		 "5303704" "5802VN", "service");
	resealed("000201010212" "5303704" "5802VN", "ID 38");
	resealed("000201010213" "38570010A00000072701270006970436011300110018008790208QRIBFTTA"
		 "5303704" "5802VN", "ID 01");
	resealed("000201010212" "38570010A00000072701270006970436011300110018008790208QRIBFTTA"
		 "5303704" "540610.000" "5802VN", "ID 54");
	resealed("000201010212" "38570010A00000072701270006970436011300110018008790208QRIBFTTA"
		 "5303704" "5802VN" "6299", "broken");
	resealed("000201010212" "38570010A00000072701270006970436011300110018008790208QRIBFTTA"
		 "5303704" "5802VN" "63041234", "last");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc),
		cmocka_unit_test(test_encode_examples),
		cmocka_unit_test(test_decode_examples),
		cmocka_unit_test(test_static_and_card),
		cmocka_unit_test(test_encode_refusals),
		cmocka_unit_test(test_decode_refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
