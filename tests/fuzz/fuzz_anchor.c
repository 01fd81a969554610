/* libFuzzer target for the anchor parser of include/ndx/conf.h
 * (ndx_anchor_parse): every key an accepted anchor lists must be found by
 * its key id, and an anchor rebuilt with ndx_anchor_build_nodes from what
 * was parsed must parse back to the same instance, registry nodes (in
 * order, the first registry_url) and key. How to run:
 * tests/fuzz/README.md. */
#include <jansson.h>
#include <string.h>

#include "fuzz.h"
#include "ndx/conf.h"

#define ERR_CAP 256

static void check_anchor(const struct ndx_anchor *a, const uint8_t *data, size_t size)
{
	const struct ndx_key *first = NULL;
	struct ndx_anchor *back = NULL;
	char kid[NDX_KEY_ID_HEX_LEN + 1], err[ERR_CAP];
	const char *urls[NDX_ANCHOR_URLS_MAX];
	json_t *doc, *keys, *k;
	char *text;
	size_t i, n;

	FUZZ_CHECK(ndx_anchor_instance(a) != NULL && ndx_anchor_instance(a)[0] != '\0');
	FUZZ_CHECK(ndx_anchor_registry_url(a) != NULL);
	n = ndx_anchor_registry_url_count(a);
	FUZZ_CHECK(n >= 1 && n <= NDX_ANCHOR_URLS_MAX);
	FUZZ_CHECK(strcmp(ndx_anchor_registry_url_at(a, 0), ndx_anchor_registry_url(a)) == 0);
	FUZZ_CHECK(ndx_anchor_registry_url_at(a, n) == NULL);
	for (i = 0; i < n; i++)
		urls[i] = ndx_anchor_registry_url_at(a, i);
	FUZZ_CHECK(ndx_anchor_key(a, NULL) == NULL && ndx_anchor_key(a, "") == NULL);

	/* The parser accepted it, so jansson does too. */
	doc = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	FUZZ_CHECK(doc != NULL);
	keys = json_object_get(doc, "keys");
	FUZZ_CHECK(json_array_size(keys) > 0);
	json_array_foreach(keys, i, k) {
		const char *want = json_string_value(json_object_get(k, "key_id"));
		const struct ndx_key *key = ndx_anchor_key(a, want);

		FUZZ_CHECK(key != NULL);
		ndx_key_id(key, kid);
		FUZZ_CHECK(strcmp(kid, want) == 0);
		if (first == NULL)
			first = key;
	}
	json_decref(doc);

	doc = ndx_anchor_build_nodes(ndx_anchor_instance(a), urls, n, first);
	FUZZ_CHECK(doc != NULL);
	text = json_dumps(doc, JSON_COMPACT);
	FUZZ_CHECK(text != NULL);
	FUZZ_CHECK(ndx_anchor_parse(text, strlen(text), &back, err, sizeof err) == NDX_OK);
	FUZZ_CHECK(strcmp(ndx_anchor_instance(back), ndx_anchor_instance(a)) == 0);
	FUZZ_CHECK(ndx_anchor_registry_url_count(back) == n);
	for (i = 0; i < n; i++)
		FUZZ_CHECK(strcmp(ndx_anchor_registry_url_at(back, i), urls[i]) == 0);
	ndx_key_id(first, kid);
	FUZZ_CHECK(ndx_anchor_key(back, kid) != NULL);
	ndx_anchor_free(back);
	free(text);
	json_decref(doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_strndup(data, size);
	char *err = malloc(ERR_CAP);
	struct ndx_anchor *a = NULL;
	int rc;

	FUZZ_CHECK(err != NULL);
	/* The length excludes the NUL: the parser must not need one. */
	rc = ndx_anchor_parse(text, size, &a, err, ERR_CAP);
	FUZZ_CHECK(strnlen(err, ERR_CAP) < ERR_CAP);
	if (rc == NDX_OK) {
		FUZZ_CHECK(a != NULL);
		check_anchor(a, data, size);
	} else {
		FUZZ_CHECK(rc == NDX_EINVAL || rc == NDX_ENOMEM);
		FUZZ_CHECK(a == NULL && err[0] != '\0');
	}
	ndx_anchor_free(a);
	free(err);
	free(text);
	return 0;
}
