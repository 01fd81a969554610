/* Unit tests for include/ndx/receipt.h: a member bank's receipt
 * (docs/payment.md "Receipts") verified with the configured key of the
 * bank its kid names, and each refusal the treasury and the registry's
 * clearing answer (docs/marketplace.md "Invoices and clearing"). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ndx/err.h"
#include "ndx/jws.h"
#include "ndx/key.h"
#include "ndx/receipt.h"

#define PAYLOAD                                                                            \
	"{\"reference\":\"MK0123456789ABCDEF0123456\",\"amount_vnd\":2000,"                 \
	"\"bank_bin\":\"970436\",\"txn_id\":\"FT123\",\"paid_at\":\"2026-12-04T10:00:00Z\","  \
	"\"to_account\":\"0011004455\"}"
#define HEADER(kid, typ) "{\"alg\":\"EdDSA\",\"kid\":\"" kid "\",\"typ\":\"" typ "\"}"

static struct ndx_key *bank_key, *other_key;
static struct ndx_receipt_bank banks[2];

static int setup(void **state)
{
	(void)state;
	if (ndx_key_generate(&bank_key) || ndx_key_generate(&other_key))
		return -1;
	snprintf(banks[0].bin, sizeof banks[0].bin, "970436");
	banks[0].key = bank_key;
	snprintf(banks[1].bin, sizeof banks[1].bin, "970422");
	banks[1].key = other_key;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ndx_key_free(bank_key);
	ndx_key_free(other_key);
	return 0;
}

static char *sign(const struct ndx_key *key, const char *header, const char *payload)
{
	char *out = NULL;
	assert_int_equal(ndx_jws_sign_header(key, header, strlen(header), payload, strlen(payload),
					     &out), NDX_OK);
	return out;
}

static int verify(const char *jws, struct ndx_receipt *r, char *err, size_t cap)
{
	return ndx_receipt_verify(jws, strlen(jws), banks, 2, r, err, cap);
}

static void test_good_receipt(void **state)
{
	struct ndx_receipt r;
	char err[256] = "";
	char *jws = sign(bank_key, HEADER("970436", "ndx-receipt"), PAYLOAD);

	(void)state;
	assert_int_equal(verify(jws, &r, err, sizeof err), NDX_OK);
	assert_string_equal(r.bin, "970436");
	assert_string_equal(r.reference, "MK0123456789ABCDEF0123456");
	assert_string_equal(r.txn_id, "FT123");
	assert_int_equal(r.amount_vnd, 2000);
	free(jws);
}

static void test_refusals(void **state)
{
	struct ndx_receipt r;
	char err[256];
	char *jws;

	(void)state;
	/* Another key under the bank's BIN. */
	jws = sign(other_key, HEADER("970436", "ndx-receipt"), PAYLOAD);
	assert_int_equal(verify(jws, &r, err, sizeof err), NDX_EBADSIG);
	assert_non_null(strstr(err, "does not verify with bank 970436's key"));
	free(jws);
	/* A bank nobody configured. */
	jws = sign(bank_key, HEADER("970499", "ndx-receipt"), PAYLOAD);
	assert_int_equal(verify(jws, &r, err, sizeof err), NDX_EBADSIG);
	assert_non_null(strstr(err, "no member bank with BIN 970499"));
	free(jws);
	/* Not a receipt. */
	jws = sign(bank_key, HEADER("970436", "JWT"), PAYLOAD);
	assert_int_equal(verify(jws, &r, err, sizeof err), NDX_EBADSIG);
	assert_non_null(strstr(err, "typ JWT"));
	free(jws);
	/* Signed by the bank, but naming another bank as the payer. */
	jws = sign(other_key, HEADER("970422", "ndx-receipt"), PAYLOAD);
	assert_int_equal(verify(jws, &r, err, sizeof err), NDX_EINVAL);
	assert_non_null(strstr(err, "bank_bin is not its signer 970422"));
	free(jws);
	/* A field missing, or of the wrong type. */
	jws = sign(bank_key, HEADER("970436", "ndx-receipt"),
		   "{\"reference\":\"MK1\",\"amount_vnd\":\"2000\",\"bank_bin\":\"970436\","
		   "\"txn_id\":\"FT1\"}");
	assert_int_equal(verify(jws, &r, err, sizeof err), NDX_EINVAL);
	assert_non_null(strstr(err, "lacks"));
	free(jws);
	jws = sign(bank_key, HEADER("970436", "ndx-receipt"), "[1]");
	assert_int_equal(verify(jws, &r, err, sizeof err), NDX_EINVAL);
	free(jws);
	/* Not a JWS at all. */
	assert_int_equal(verify("a.b", &r, err, sizeof err), NDX_EINVAL);
	assert_non_null(strstr(err, "not a JWS"));
	assert_int_equal(verify("", &r, err, sizeof err), NDX_EINVAL);
}

static void test_bank_parse(void **state)
{
	struct ndx_receipt_bank b;
	char err[256], path[] = "/tmp/ndx-test-receipt-XXXXXX";
	int fd = mkstemp(path);
	char arg[64 + sizeof path];

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(ndx_key_save_public(bank_key, path), NDX_OK);
	snprintf(arg, sizeof arg, "970436=%s", path);
	assert_int_equal(ndx_receipt_bank_parse(arg, &b, err, sizeof err), NDX_OK);
	assert_string_equal(b.bin, "970436");
	ndx_key_free(b.key);
	assert_int_equal(ndx_receipt_bank_parse("97043=x.pem", &b, err, sizeof err), NDX_EINVAL);
	assert_int_equal(ndx_receipt_bank_parse("97043a=x.pem", &b, err, sizeof err), NDX_EINVAL);
	assert_int_equal(ndx_receipt_bank_parse("970436", &b, err, sizeof err), NDX_EINVAL);
	assert_int_not_equal(ndx_receipt_bank_parse("970436=/nonexistent.pem", &b, err, sizeof err),
			     NDX_OK);
	assert_non_null(strstr(err, "cannot read the key"));
	assert_null(b.key);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_receipt),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_bank_parse),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
