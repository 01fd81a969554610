/* libFuzzer target for JSON Schema validation (include/ndx/schema.h, C++
 * over valijson with PCRE2 patterns). The first byte chooses the mode:
 * even - the rest is a JSON document validated against fixed schemas (an
 * event payload with patterns and required fields, a recursive tree, one
 * with allOf/anyOf/not and patternProperties); odd - the rest is a schema,
 * compiled, and when it compiles a few fixed documents are validated
 * against it. Invariants: only NDX_OK, NDX_EINVAL (ENOMEM allowed) come
 * back; a refusal's message is NUL-terminated within its buffer and, for a
 * document that fails, starts with a JSON Pointer ("" or "/...") then ": "; the
 * pointer alone from ndx_schema_validate_path is that same prefix. How to
 * run: tests/fuzz/README.md. */
#include <string.h>

#include <jansson.h>

#include "fuzz.h"
#include "ndx/schema.h"

#define ERR_CAP 512
#define PATH_CAP 256

static const char *const fixed_schemas[] = {
	"{\"type\":\"object\",\"required\":[\"pin\",\"died_on\"],\"additionalProperties\":false,"
	"\"properties\":{\"pin\":{\"type\":\"string\",\"pattern\":\"^[0-9]{12}$\"},"
	"\"died_on\":{\"type\":\"string\",\"format\":\"date\"},\"place\":{\"type\":\"string\","
	"\"maxLength\":200},\"n\":{\"type\":\"integer\",\"minimum\":0}}}",
	"{\"definitions\":{\"node\":{\"type\":\"object\",\"properties\":{\"name\":{\"type\":"
	"\"string\"},\"children\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/definitions/node\"}}}}},"
	"\"$ref\":\"#/definitions/node\"}",
	"{\"allOf\":[{\"type\":[\"object\",\"array\"]}],\"anyOf\":[{\"minProperties\":1},"
	"{\"minItems\":1}],\"not\":{\"enum\":[[],{}]},\"patternProperties\":{\"^(a|a)*b$\":"
	"{\"type\":\"null\"}},\"propertyNames\":{\"maxLength\":20}}",
};
#define NFIXED (sizeof fixed_schemas / sizeof fixed_schemas[0])

static struct ndx_schema *fixed[NFIXED];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[ERR_CAP];

	(void)argc;
	(void)argv;
	for (size_t i = 0; i < NFIXED; i++) {
		json_t *s = json_loads(fixed_schemas[i], 0, NULL);

		FUZZ_CHECK(s != NULL);
		FUZZ_CHECK(ndx_schema_compile(s, &fixed[i], err, sizeof err) == NDX_OK);
		json_decref(s);
	}
	return 0;
}

/* Validates doc against s and checks what comes back. */
static void check_validate(const struct ndx_schema *s, const json_t *doc)
{
	char *err = malloc(ERR_CAP), *path = malloc(PATH_CAP);
	int rc, rc2;

	FUZZ_CHECK(err != NULL && path != NULL);
	memset(err, 'x', ERR_CAP);
	rc = ndx_schema_validate(s, doc, err, ERR_CAP);
	FUZZ_CHECK(rc == NDX_OK || rc == NDX_EINVAL || rc == NDX_ENOMEM);
	FUZZ_CHECK(rc == NDX_OK || memchr(err, '\0', ERR_CAP) != NULL);
	if (rc == NDX_EINVAL) {
		size_t plen;

		FUZZ_CHECK(err[0] == '/' || err[0] == ':');
		rc2 = ndx_schema_validate_path(s, doc, path, PATH_CAP, err, ERR_CAP);
		FUZZ_CHECK(rc2 == NDX_EINVAL || rc2 == NDX_ENOMEM);
		if (rc2 == NDX_EINVAL) {
			plen = strlen(path);
			FUZZ_CHECK(plen == 0 || path[0] == '/');
			/* The message starts with the pointer (unless cut to fit). */
			if (plen < PATH_CAP - 1)
				FUZZ_CHECK(strncmp(err, path, plen) == 0 && err[plen] == ':');
		}
	}
	free(err);
	free(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *in;
	char err[ERR_CAP];

	if (size < 1)
		return 0;
	in = json_loadb((const char *)data + 1, size - 1, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	if (!in)
		return 0;
	if (data[0] % 2 == 0) {
		for (size_t i = 0; i < NFIXED; i++)
			check_validate(fixed[i], in);
	} else {
		struct ndx_schema *s = NULL;
		int rc = ndx_schema_compile(in, &s, err, sizeof err);

		FUZZ_CHECK(rc == NDX_OK || rc == NDX_EINVAL || rc == NDX_ENOMEM);
		FUZZ_CHECK(rc == NDX_OK || memchr(err, '\0', sizeof err) != NULL);
		FUZZ_CHECK((rc == NDX_OK) == (s != NULL));
		if (s) {
			static const char *const docs[] = {
				"null", "{}", "[]", "\"x\"", "1", "1.5", "true",
				"{\"pin\":\"001088000101\",\"died_on\":\"2026-11-30\"}",
				"{\"a\":{\"b\":[1,{\"c\":\"d\"}]}}",
			};
			for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
				json_t *d = json_loads(docs[i], JSON_DECODE_ANY, NULL);

				FUZZ_CHECK(d != NULL);
				check_validate(s, d);
				json_decref(d);
			}
			ndx_schema_free(s);
		}
	}
	json_decref(in);
	return 0;
}
