/* Tests of include/ndx/schema.h: JSON Schema validation of event payloads.
 * The keyword cases come from the draft-07 Validation specification
 * (draft-handrews-json-schema-validation-01), each citing its section; the
 * rest pin our own contract: the error's RFC 6901 pointer, the refusals at
 * compile, bounded recursion, hostile patterns and concurrent use. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "ndx/err.h"
#include "ndx/schema.h"

static json_t *parse(const char *text)
{
	json_error_t jerr;
	json_t *v = json_loads(text, JSON_DECODE_ANY, &jerr);
	if (!v)
		fail_msg("bad test JSON %s: %s", text, jerr.text);
	return v;
}

static struct ndx_schema *compile(const char *text)
{
	json_t *j = parse(text);
	struct ndx_schema *s = NULL;
	char err[512] = "";
	int rc = ndx_schema_compile(j, &s, err, sizeof err);
	json_decref(j);
	if (rc != NDX_OK)
		fail_msg("schema %s refused: %s", text, err);
	return s;
}

/* Returns the compile's rc; its reason in err. */
static int compile_rc(const char *text, char *err, size_t errcap)
{
	json_t *j = parse(text);
	struct ndx_schema *s = (struct ndx_schema *)1;
	int rc = ndx_schema_compile(j, &s, err, errcap);
	json_decref(j);
	if (rc == NDX_OK)
		ndx_schema_free(s);
	else
		assert_null(s);
	return rc;
}

static void assert_valid(const struct ndx_schema *s, const char *doc)
{
	json_t *j = parse(doc);
	char err[512] = "";
	int rc = ndx_schema_validate(s, j, err, sizeof err);
	json_decref(j);
	if (rc != NDX_OK)
		fail_msg("%s should be valid: %s", doc, err);
}

/* doc must be invalid with err starting with want ("<pointer>: ..."). */
static void assert_invalid(const struct ndx_schema *s, const char *doc, const char *want)
{
	json_t *j = parse(doc);
	char err[512] = "";
	int rc = ndx_schema_validate(s, j, err, sizeof err);
	json_decref(j);
	if (rc != NDX_EINVAL)
		fail_msg("%s should be invalid (rc %d)", doc, rc);
	if (strncmp(err, want, strlen(want)) != 0)
		fail_msg("%s: error \"%s\", expected it to start with \"%s\"", doc, err, want);
}

/* §6.1.1 type: the instance's primitive type is one of the listed ones;
 * "integer" matches any number with a zero fractional part (1.0 too, core
 * spec §4.2.2 since draft 6). */
static void test_type(void **state)
{
	(void)state;
	struct ndx_schema *s = compile("{\"type\":\"string\"}");
	assert_valid(s, "\"x\"");
	assert_invalid(s, "1", ": ");
	assert_invalid(s, "null", ": ");
	ndx_schema_free(s);

	s = compile("{\"type\":[\"integer\",\"null\"]}");
	assert_valid(s, "7");
	assert_valid(s, "1.0");
	assert_valid(s, "null");
	assert_invalid(s, "1.5", ": ");
	assert_invalid(s, "\"7\"", ": ");
	ndx_schema_free(s);
}

/* §6.1.2 enum: valid if the instance equals one of the elements, any
 * type, compared as JSON values. */
static void test_enum(void **state)
{
	(void)state;
	struct ndx_schema *s = compile("{\"enum\":[\"a\",1,null,{\"k\":[1,2]}]}");
	assert_valid(s, "\"a\"");
	assert_valid(s, "1");
	assert_valid(s, "null");
	assert_valid(s, "{\"k\":[1,2]}");
	assert_invalid(s, "\"b\"", ": ");
	assert_invalid(s, "{\"k\":[2,1]}", ": ");
	assert_invalid(s, "false", ": ");
	ndx_schema_free(s);
}

/* §6.3.1 maxLength, §6.3.2 minLength: length in characters (RFC 7159
 * characters, i.e. code points), inclusive bounds. "Nguyễn" is 6
 * characters and 8 bytes. */
static void test_length(void **state)
{
	(void)state;
	struct ndx_schema *s = compile("{\"minLength\":2,\"maxLength\":6}");
	assert_valid(s, "\"ab\"");
	assert_valid(s, "\"Nguy\\u1ec5n\"");
	assert_invalid(s, "\"a\"", ": ");
	assert_invalid(s, "\"abcdefg\"", ": ");
	assert_valid(s, "5"); /* applies to strings only */
	ndx_schema_free(s);
}

/* §6.3.3 pattern: an ECMA 262 regular expression, not implicitly anchored.
 * The error names the field with our reason. */
static void test_pattern(void **state)
{
	(void)state;
	struct ndx_schema *s = compile(
		"{\"properties\":{\"deceased_on\":{\"type\":\"string\","
		"\"pattern\":\"^[0-9]{4}-[0-9]{2}-[0-9]{2}$\"},"
		"\"tag\":{\"pattern\":\"es\"},"
		"\"code\":{\"pattern\":\"^\\\\u0041+$\"}}}");
	assert_valid(s, "{\"deceased_on\":\"2024-01-02\"}");
	assert_invalid(s, "{\"deceased_on\":\"02/01/2024\"}",
		       "/deceased_on: value does not match the required pattern");
	/* $ is the very end (ECMA 262), not before a final newline. */
	assert_invalid(s, "{\"deceased_on\":\"2024-01-02\\n\"}", "/deceased_on: ");
	assert_valid(s, "{\"tag\":\"test\"}"); /* not anchored */
	assert_invalid(s, "{\"tag\":\"tst\"}", "/tag: ");
	assert_valid(s, "{\"code\":\"AAA\"}"); /* \uXXXX as in ECMA 262 */
	assert_invalid(s, "{\"code\":\"AAB\"}", "/code: ");
	ndx_schema_free(s);
}

/* §6.5.3 required: every listed name is a member. The failing instance is
 * the object; the reason names the missing member. */
static void test_required(void **state)
{
	(void)state;
	struct ndx_schema *s = compile(
		"{\"required\":[\"name\"],\"properties\":{\"address\":"
		"{\"required\":[\"province\"]}}}");
	assert_valid(s, "{\"name\":\"x\"}");
	assert_invalid(s, "{}", ": Missing required property 'name'");
	assert_invalid(s, "{\"name\":\"x\",\"address\":{}}",
		       "/address: Missing required property 'province'");
	ndx_schema_free(s);
}

/* §6.5.6 additionalProperties: applies to members matched by neither
 * "properties" nor "patternProperties"; false refuses them (named at the
 * member), a schema validates them. */
static void test_additional_properties(void **state)
{
	(void)state;
	struct ndx_schema *s = compile(
		"{\"properties\":{\"a\":{}},\"patternProperties\":{\"^x-\":{}},"
		"\"additionalProperties\":false}");
	assert_valid(s, "{\"a\":1,\"x-b\":2}");
	assert_invalid(s, "{\"a\":1,\"b\":2}",
		       "/b: member is not allowed (additionalProperties)");
	ndx_schema_free(s);

	s = compile("{\"properties\":{\"a\":{}},\"additionalProperties\":{\"type\":\"integer\"}}");
	assert_valid(s, "{\"a\":\"s\",\"c\":3}");
	assert_invalid(s, "{\"a\":\"s\",\"c\":\"x\"}", "/c: ");
	ndx_schema_free(s);
}

/* §6.4.1 items: a schema applies to every element; an array of schemas to
 * the element at the same position. */
static void test_items(void **state)
{
	(void)state;
	struct ndx_schema *s = compile("{\"type\":\"array\",\"items\":{\"type\":\"integer\"}}");
	assert_valid(s, "[]");
	assert_valid(s, "[1,2,3]");
	assert_invalid(s, "[1,\"x\",3]", "/1: ");
	ndx_schema_free(s);

	s = compile("{\"items\":[{\"type\":\"string\"},{\"type\":\"integer\"}]}");
	assert_valid(s, "[\"a\",1,null]"); /* no additionalItems: extra allowed */
	assert_invalid(s, "[\"a\",\"b\"]", "/1: ");
	ndx_schema_free(s);
}

/* §6.2.2 maximum, §6.2.4 minimum (inclusive), §6.2.3 exclusiveMaximum and
 * §6.2.5 exclusiveMinimum (numbers in draft 6 and 7). */
static void test_numbers(void **state)
{
	(void)state;
	struct ndx_schema *s = compile("{\"minimum\":1,\"maximum\":10}");
	assert_valid(s, "1");
	assert_valid(s, "10");
	assert_valid(s, "5.5");
	assert_invalid(s, "0", ": ");
	assert_invalid(s, "10.01", ": ");
	assert_valid(s, "\"100\""); /* applies to numbers only */
	ndx_schema_free(s);

	s = compile("{\"exclusiveMinimum\":0,\"exclusiveMaximum\":10}");
	assert_valid(s, "9.99");
	assert_invalid(s, "10", ": ");
	assert_invalid(s, "0", ": ");
	ndx_schema_free(s);
}

static const char *PERSON =
	"{\"type\":\"object\",\"properties\":{"
	"\"address\":{\"type\":\"object\",\"properties\":{\"province\":{\"type\":\"string\",\"maxLength\":2}}},"
	"\"children\":{\"type\":\"array\",\"items\":{\"type\":\"object\","
	"  \"properties\":{\"name\":{\"type\":\"string\"}}}}}}";

/* The first failing instance location, as a pointer, for a nested member
 * and an array element; also alone through ndx_schema_validate_path. */
static void test_pointer(void **state)
{
	(void)state;
	struct ndx_schema *s = compile(PERSON);
	assert_invalid(s, "{\"address\":{\"province\":\"HNI\"}}", "/address/province: ");
	assert_invalid(s, "{\"children\":[{\"name\":\"An\"},{\"name\":7}]}", "/children/1/name: ");

	json_t *doc = parse("{\"children\":[{\"name\":\"An\"},{\"name\":7}]}");
	char path[64], err[256];
	assert_int_equal(ndx_schema_validate_path(s, doc, path, sizeof path, err, sizeof err),
			 NDX_EINVAL);
	assert_string_equal(path, "/children/1/name");
	json_decref(doc);
	doc = parse("{\"children\":[]}");
	strcpy(path, "junk");
	assert_int_equal(ndx_schema_validate_path(s, doc, path, sizeof path, err, sizeof err), NDX_OK);
	assert_string_equal(path, "");
	json_decref(doc);
	ndx_schema_free(s);
}

/* RFC 6901 §3: '~' is written "~0" and '/' "~1" in a reference token. */
static void test_pointer_escaping(void **state)
{
	(void)state;
	struct ndx_schema *s = compile(
		"{\"properties\":{\"a/b~c\":{\"properties\":{\"[x]\":{\"type\":\"integer\"}}}}}");
	assert_invalid(s, "{\"a/b~c\":{\"[x]\":\"no\"}}", "/a~1b~0c/[x]: ");
	ndx_schema_free(s);
}

static void expect_refused(const char *schema, const char *reason_part)
{
	char err[512] = "";
	int rc = compile_rc(schema, err, sizeof err);
	if (rc != NDX_EINVAL)
		fail_msg("%.80s should be refused (rc %d)", schema, rc);
	if (!strstr(err, reason_part))
		fail_msg("%.80s: reason \"%s\" lacks \"%s\"", schema, err, reason_part);
}

static void test_compile_refusals(void **state)
{
	(void)state;
	expect_refused("[]", "not a JSON object");
	expect_refused("true", "not a JSON object");
	expect_refused("\"{}\"", "not a JSON object");
	/* remote references, wherever they are */
	expect_refused("{\"$ref\":\"http://example.com/s.json\"}", "not local");
	expect_refused("{\"properties\":{\"a\":{\"$ref\":\"other.json#/x\"}}}", "not local");
	expect_refused("{\"$ref\":\"#anchor\"}", "JSON Pointer");
	expect_refused("{\"$ref\":\"#/definitions/missing\"}", "does not resolve");
	/* unparseable by valijson or PCRE2 */
	expect_refused("{\"type\":5}", "not usable");
	expect_refused("{\"minLength\":\"x\"}", "not usable");
	expect_refused("{\"pattern\":\"(\"}", "does not compile");
	expect_refused("{\"properties\":[]}", "not an object");
	expect_refused("{\"items\":7}", "not a schema");
}

/* 33 nested objects: one too many. */
static void test_compile_too_deep(void **state)
{
	(void)state;
	char buf[1024] = "";
	for (int i = 0; i < NDX_SCHEMA_MAX_DEPTH; i++)
		strcat(buf, "{\"not\":");
	strcat(buf, "{}");
	for (int i = 0; i < NDX_SCHEMA_MAX_DEPTH; i++)
		strcat(buf, "}");
	expect_refused(buf, "deeper than 32");
	/* one level less compiles: {"not":...} x31 around {} is 32 deep */
	char ok[1024] = "";
	for (int i = 0; i < NDX_SCHEMA_MAX_DEPTH - 1; i++)
		strcat(ok, "{\"not\":");
	strcat(ok, "{}");
	for (int i = 0; i < NDX_SCHEMA_MAX_DEPTH - 1; i++)
		strcat(ok, "}");
	ndx_schema_free(compile(ok));
}

static void test_compile_too_big(void **state)
{
	(void)state;
	json_t *schema = json_pack("{s:{}}", "properties");
	json_t *props = json_object_get(schema, "properties");
	char name[32];
	for (int i = 0; i < 4000; i++) {
		snprintf(name, sizeof name, "field_%05d", i);
		json_object_set_new(props, name, json_pack("{s:s}", "type", "string"));
	}
	struct ndx_schema *s = NULL;
	char err[256] = "";
	assert_int_equal(ndx_schema_compile(schema, &s, err, sizeof err), NDX_EINVAL);
	assert_null(s);
	assert_non_null(strstr(err, "larger than 65536"));
	/* 2,000 such fields (~60 KiB) are fine */
	json_object_clear(props);
	for (int i = 0; i < 2000; i++) {
		snprintf(name, sizeof name, "field_%05d", i);
		json_object_set_new(props, name, json_pack("{s:s}", "type", "string"));
	}
	assert_int_equal(ndx_schema_compile(schema, &s, err, sizeof err), NDX_OK);
	ndx_schema_free(s);
	json_decref(schema);
}

/* Hostile schemas: a $ref or allOf cycle that applies to the same value
 * forever, too many references, an overlong pattern. */
static void test_compile_hostile(void **state)
{
	(void)state;
	expect_refused("{\"$ref\":\"#\"}", "cycle");
	expect_refused("{\"allOf\":[{\"$ref\":\"#\"}]}", "cycle");
	expect_refused("{\"definitions\":{\"a\":{\"$ref\":\"#/definitions/b\"},"
		       "\"b\":{\"anyOf\":[{\"$ref\":\"#/definitions/a\"}]}},"
		       "\"properties\":{\"x\":{\"$ref\":\"#/definitions/a\"}}}",
		       "cycle");
	expect_refused("{\"not\":{\"if\":{\"$ref\":\"#\"}}}", "cycle");

	char buf[8192] = "{\"properties\":{";
	for (int i = 0; i <= NDX_SCHEMA_MAX_REFS; i++) {
		char one[64];
		snprintf(one, sizeof one, "%s\"p%d\":{\"$ref\":\"#\"}", i ? "," : "", i);
		strcat(buf, one);
	}
	strcat(buf, "}}");
	expect_refused(buf, "more than 64");

	char pat[600] = "{\"pattern\":\"";
	memset(pat + strlen(pat), 'a', NDX_SCHEMA_MAX_PATTERN + 1);
	strcat(pat, "\"}");
	expect_refused(pat, "longer than 256");
	char ppat[600] = "{\"patternProperties\":{\"";
	memset(ppat + strlen(ppat), 'a', NDX_SCHEMA_MAX_PATTERN + 1);
	strcat(ppat, "\":{}}}");
	expect_refused(ppat, "longer than 256");
}

/* A recursive schema (a person's child is a person) and documents as deep
 * as allowed, one level deeper, and 5,000 deep (jansson frees recursively, so not deeper): validation recursion is
 * bounded by NDX_SCHEMA_MAX_DOC_DEPTH whatever the document. */
static json_t *nest(int depth, json_t *leaf)
{
	json_t *v = leaf;
	for (int i = 1; i < depth; i++)
		v = json_pack("{s:o}", "child", v);
	return v;
}

static void test_recursive_schema_deep_document(void **state)
{
	(void)state;
	struct ndx_schema *s = compile(
		"{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"},"
		"\"child\":{\"$ref\":\"#\"}},\"additionalProperties\":false}");
	char err[8192], path[8192];

	json_t *doc = nest(NDX_SCHEMA_MAX_DOC_DEPTH, json_pack("{s:s}", "name", "x"));
	assert_int_equal(ndx_schema_validate(s, doc, err, sizeof err), NDX_OK);
	json_decref(doc);

	/* a failure deep down is named there */
	doc = nest(50, json_pack("{s:i}", "name", 1));
	assert_int_equal(ndx_schema_validate_path(s, doc, path, sizeof path, err, sizeof err),
			 NDX_EINVAL);
	char want[1024] = "";
	for (int i = 1; i < 50; i++)
		strcat(want, "/child");
	strcat(want, "/name");
	assert_string_equal(path, want);
	json_decref(doc);

	doc = nest(NDX_SCHEMA_MAX_DOC_DEPTH + 1, json_object());
	assert_int_equal(ndx_schema_validate(s, doc, err, sizeof err), NDX_EINVAL);
	assert_non_null(strstr(err, "nests deeper than 64"));
	json_decref(doc);

	doc = nest(5000, json_object());
	assert_int_equal(ndx_schema_validate_path(s, doc, path, sizeof path, err, sizeof err),
			 NDX_EINVAL);
	assert_int_equal(strlen(path), (size_t)NDX_SCHEMA_MAX_DOC_DEPTH * strlen("/child"));
	json_decref(doc);
	ndx_schema_free(s);
}

static double seconds(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Patterns that blow up backtracking engines: exponential time on 40
 * characters, and a 1 MB string against a repetition (std::regex recurses
 * per character). Both end fast, without a crash. Also "format" on a long
 * string and on a non-string. */
static void test_hostile_documents(void **state)
{
	(void)state;
	struct ndx_schema *s = compile(
		"{\"properties\":{\"a\":{\"pattern\":\"^(a|a)*$\"},"
		"\"t\":{\"pattern\":\"^([a-z]|[0-9])*$\"},"
		"\"d\":{\"format\":\"date\"}},"
		"\"patternProperties\":{\"^(x+x+)+$\":{\"type\":\"integer\"}}}");
	char err[256];
	double t0 = seconds();
	assert_invalid(s, "{\"a\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!\"}",
		       "/a: value is too costly to match against the pattern");

	size_t n = 1 << 20;
	char *big = malloc(n + 1);
	assert_non_null(big);
	memset(big, 'q', n);
	big[n] = '\0';
	json_t *doc = json_pack("{s:s}", "t", big);
	int rc = ndx_schema_validate(s, doc, err, sizeof err);
	/* matched or too costly, never a crash */
	assert_true(rc == NDX_OK || (rc == NDX_EINVAL && strstr(err, "too costly")));
	json_decref(doc);

	memset(big, '1', n);
	doc = json_pack("{s:s}", "d", big);
	assert_int_equal(ndx_schema_validate(s, doc, err, sizeof err), NDX_EINVAL);
	assert_string_equal(err, "/d: String should be a valid date");
	json_decref(doc);
	free(big);

	assert_valid(s, "{\"d\":\"2024-02-29\"}");
	assert_invalid(s, "{\"d\":\"2024-02-30\"}", "/d: ");
	assert_valid(s, "{\"d\":20240229}"); /* format applies to strings only */
	assert_invalid(s, "{\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxz\":1}",
		       "/xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxz: member name is too costly");
	assert_true(seconds() - t0 < 10.0);
	ndx_schema_free(s);
}

/* Concurrent validations of one compiled schema from 4 threads: each gets
 * its own, correct answers (patterns, patternProperties, enum, refs). */
struct worker {
	const struct ndx_schema *s;
	int id;
	int wrong;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	json_t *good = parse("{\"id\":\"AB-123\",\"kind\":\"birth\",\"x-n\":1,"
			     "\"people\":[{\"id\":\"CD-456\"}]}");
	json_t *bad = parse("{\"id\":\"AB-123\",\"kind\":\"birth\",\"x-n\":1,"
			    "\"people\":[{\"id\":\"CD-456\"},{\"id\":\"nope\"}]}");
	for (int i = 0; i < 500; i++) {
		char err[256] = "", path[64] = "";
		if (ndx_schema_validate(w->s, good, err, sizeof err) != NDX_OK)
			w->wrong++;
		if (ndx_schema_validate_path(w->s, bad, path, sizeof path, err, sizeof err) !=
			    NDX_EINVAL ||
		    strcmp(path, "/people/1/id") != 0 ||
		    strcmp(err, "/people/1/id: value does not match the required pattern") != 0)
			w->wrong++;
	}
	json_decref(good);
	json_decref(bad);
	return NULL;
}

static void test_concurrent(void **state)
{
	(void)state;
	struct ndx_schema *s = compile(
		"{\"definitions\":{\"id\":{\"type\":\"string\",\"pattern\":\"^[A-Z]{2}-[0-9]{3}$\"}},"
		"\"type\":\"object\",\"required\":[\"id\",\"kind\"],"
		"\"properties\":{\"id\":{\"$ref\":\"#/definitions/id\"},"
		"\"kind\":{\"enum\":[\"birth\",\"death\"]},"
		"\"people\":{\"type\":\"array\",\"items\":{\"properties\":{\"id\":{\"$ref\":\"#/definitions/id\"}}}}},"
		"\"patternProperties\":{\"^x-\":{\"type\":\"integer\"}},"
		"\"additionalProperties\":false}");
	pthread_t t[4];
	struct worker w[4];
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){s, i, 0};
		assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(w[i].wrong, 0);
	}
	ndx_schema_free(s);
}

/* The schema document is not kept: freeing it after compile is fine (enum
 * values are copied); NULL frees; a NULL document is refused. */
static void test_ownership(void **state)
{
	(void)state;
	json_t *j = parse("{\"enum\":[{\"a\":[1,\"two\"]}],\"const\":{\"a\":[1,\"two\"]}}");
	struct ndx_schema *s = NULL;
	char err[128];
	assert_int_equal(ndx_schema_compile(j, &s, err, sizeof err), NDX_OK);
	json_decref(j);
	assert_valid(s, "{\"a\":[1,\"two\"]}");
	assert_invalid(s, "{\"a\":[1,\"three\"]}", ": ");
	assert_int_equal(ndx_schema_validate(s, NULL, err, sizeof err), NDX_EINVAL);
	ndx_schema_free(s);
	ndx_schema_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_type),
		cmocka_unit_test(test_enum),
		cmocka_unit_test(test_length),
		cmocka_unit_test(test_pattern),
		cmocka_unit_test(test_required),
		cmocka_unit_test(test_additional_properties),
		cmocka_unit_test(test_items),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_pointer),
		cmocka_unit_test(test_pointer_escaping),
		cmocka_unit_test(test_compile_refusals),
		cmocka_unit_test(test_compile_too_deep),
		cmocka_unit_test(test_compile_too_big),
		cmocka_unit_test(test_compile_hostile),
		cmocka_unit_test(test_recursive_schema_deep_document),
		cmocka_unit_test(test_hostile_documents),
		cmocka_unit_test(test_concurrent),
		cmocka_unit_test(test_ownership),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
