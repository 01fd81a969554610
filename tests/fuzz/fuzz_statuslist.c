/* libFuzzer target for consent status lists (include/ndx/statuslist.h): the
 * input is a list document as GET /status/{n} serves it, given to
 * ndx_statuslist_parse; and the input's bytes, as base64url, to
 * ndx_statuslist_decode for a few lengths. Invariants: a parsed list has
 * the documented issuer, list range and NDX_STATUSLIST_BYTES of bits, and
 * writing it again gives a document that parses to the same bits; a decode
 * succeeds only with exactly the length asked for, and re-encoding those
 * bytes decodes back to them; a refusal of parse names a reason. How to run:
 * tests/fuzz/README.md. */
#include <string.h>

#include "fuzz.h"
#include "ndx/encode.h"
#include "ndx/statuslist.h"

#define ERR_CAP 256

static void check_round_trip(const struct ndx_statuslist *l)
{
	struct ndx_statuslist *again = NULL;
	char *text = NULL;
	size_t len = 0;
	int rc;

	rc = ndx_statuslist_write(l->issuer, l->list, l->bits, &text, &len);
	if (rc == NDX_ENOMEM)
		return;
	FUZZ_CHECK(rc == NDX_OK);
	rc = ndx_statuslist_parse(text, len, &again, NULL, 0);
	FUZZ_CHECK(rc == NDX_OK || rc == NDX_ENOMEM);
	if (rc == NDX_OK) {
		FUZZ_CHECK(strcmp(again->issuer, l->issuer) == 0 && again->list == l->list);
		FUZZ_CHECK(memcmp(again->bits, l->bits, NDX_STATUSLIST_BYTES) == 0);
	}
	ndx_statuslist_free(again);
	free(text);
}

static void check_decode(const uint8_t *data, size_t size)
{
	static const size_t lengths[] = { 0, 1, 2, 16, 4096 };
	char *b64 = ndx_b64_encode(data, size, 1);

	if (!b64)
		return;
	for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
		uint8_t *bits = NULL, *back = NULL;
		char *lst = NULL;
		int rc = ndx_statuslist_decode(b64, strlen(b64), lengths[i], &bits);

		FUZZ_CHECK(rc == NDX_OK || rc == NDX_EINVAL || rc == NDX_ENOMEM);
		if (rc != NDX_OK) {
			FUZZ_CHECK(bits == NULL);
			continue;
		}
		/* Only one length can be right for a stream. */
		if (ndx_statuslist_encode(bits, lengths[i], &lst) == NDX_OK) {
			rc = ndx_statuslist_decode(lst, strlen(lst), lengths[i], &back);
			FUZZ_CHECK(rc == NDX_OK || rc == NDX_ENOMEM);
			if (rc == NDX_OK)
				FUZZ_CHECK(lengths[i] == 0 || memcmp(back, bits, lengths[i]) == 0);
		}
		free(back);
		free(lst);
		free(bits);
	}
	free(b64);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ndx_statuslist *l = NULL;
	char err[ERR_CAP] = "";
	int rc = ndx_statuslist_parse((const char *)data, size, &l, err, sizeof err);

	FUZZ_CHECK(rc == NDX_OK || rc == NDX_EINVAL || rc == NDX_ETOOBIG || rc == NDX_ENOMEM);
	if (rc == NDX_OK) {
		FUZZ_CHECK(l->issuer != NULL && l->bits != NULL);
		FUZZ_CHECK(l->list <= NDX_STATUSLIST_MAX_LIST);
		check_round_trip(l);
	} else {
		FUZZ_CHECK(l == NULL && err[0] != '\0');
	}
	ndx_statuslist_free(l);
	if (size <= 4096)
		check_decode(data, size);
	return 0;
}
