/* libFuzzer target for VietQR payloads (include/ndx/vietqr.h): what a bank
 * app's camera reads is anyone's text. Invariants: ndx_vietqr_decode
 * refuses with a reason or returns fields the encoder accepts (a 6-digit
 * BIN, an account of 1 to 19 letters and digits, a reference of printable
 * ASCII, an amount of at most 13 digits), and those fields encoded and
 * decoded again come back the same. How to run: tests/fuzz/README.md. */
#include <string.h>

#include "fuzz.h"
#include "ndx/vietqr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char text[NDX_VIETQR_PAYLOAD_MAX + 64], again[NDX_VIETQR_PAYLOAD_MAX + 1];
	struct ndx_vietqr q, back;
	const char *why = NULL;

	if (size >= sizeof text)
		size = sizeof text - 1;
	memcpy(text, data, size);
	text[size] = '\0';
	int rc = ndx_vietqr_decode(text, &q, &why);
	if (rc != NDX_OK) {
		FUZZ_CHECK(rc == NDX_EINVAL && why != NULL && why[0] != '\0');
		return 0;
	}
	FUZZ_CHECK(ndx_vietqr_encode(&q, again, sizeof again, &why) == NDX_OK);
	FUZZ_CHECK(ndx_vietqr_decode(again, &back, &why) == NDX_OK);
	FUZZ_CHECK(strcmp(back.bin, q.bin) == 0 && strcmp(back.account, q.account) == 0);
	FUZZ_CHECK(strcmp(back.reference, q.reference) == 0);
	FUZZ_CHECK(back.amount_vnd == q.amount_vnd && back.to_card == q.to_card);
	return 0;
}
