/* JSON Schema validation of event payloads (issue 17, "live data").
 *
 * A provider registers an event type with a JSON Schema for its payload; the
 * registry compiles the schema once to check that it is usable, and the
 * gateway validates each published payload against the compiled schema and
 * refuses a bad one naming the field. The implementation (src/lib/schema.cc)
 * is a thin C API over valijson (header-only C++, Debian's libvalijson-dev)
 * with its own jansson adapter; `pattern` and `patternProperties` are matched
 * with PCRE2 under match, depth and heap limits instead of std::regex (see
 * "Limits" below). No exception crosses into C. Overview:
 * docs/architecture.md, "libndx".
 *
 * The schema and the documents are jansson values: like conf.h and jws.h
 * this header takes json_t, because both callers (the registry and the
 * gateway) already hold the payload as parsed JSON.
 *
 * Dialect: draft 7 (draft-handrews-json-schema-validation-01). Draft 4 and 6
 * documents that are also valid draft 7 work. "format" is checked for
 * "date", "time" and "date-time" only (as valijson does); other formats are
 * annotations. Patterns are PCRE2 (UTF mode, \uXXXX escapes as in
 * ECMA-262), which agrees with the ECMA-262 dialect JSON Schema names for
 * the patterns schemas use in practice.
 *
 * Limits, each refused at compile with NDX_EINVAL and a reason:
 *  - NDX_SCHEMA_MAX_BYTES: the schema serialised (compact) is at most 64 KiB.
 *  - NDX_SCHEMA_MAX_DEPTH: arrays and objects nest at most 32 deep.
 *  - NDX_SCHEMA_MAX_REFS: at most 64 "$ref"s. valijson compiles by recursion
 *    that follows each reference once, so the references bound how deep the
 *    compiler (and a validation) can recurse.
 *  - NDX_SCHEMA_MAX_PATTERN: a "pattern" or a "patternProperties" key is at
 *    most 256 bytes. Backtracking regex engines take exponential time on
 *    some short patterns ("^(a|a)*b$": 13 s with std::regex on 28
 *    characters) and libstdc++'s std::regex recurses once per character
 *    matched (a 50,000-character string overflows an 8 MiB stack; 10,000
 *    under ASan). We therefore match with PCRE2, whose matcher keeps its
 *    backtracking on the heap, under a match limit and a heap limit: a
 *    pattern that runs into them fails the value ("too costly to match"),
 *    never the process. The length bound keeps compiled patterns small and
 *    reviewable; no event field needs a longer one.
 *  - "$ref" must be local: "#" or "#/<JSON Pointer>" into the schema itself,
 *    and must resolve. No remote reference is ever fetched (no fetch callback
 *    is given to valijson, and non-local ones are refused before it runs).
 *    The walk is conservative: any object member named "$ref" with a string
 *    value counts, also inside "enum"/"const"/"default" data.
 *  - A cycle of schemas that apply to the same instance ({"$ref":"#"},
 *    {"allOf":[{"$ref":"#"}]}, a definition referring to itself through
 *    $ref/allOf/anyOf/oneOf/not/if/then/else/dependencies) is refused: its
 *    validation would never end. Recursion that descends into the instance
 *    ({"properties":{"child":{"$ref":"#"}}}) is fine.
 *
 * And at validation:
 *  - NDX_SCHEMA_MAX_DOC_DEPTH: a document nesting deeper than 64 is refused
 *    (NDX_EINVAL, the pointer of the first too-deep value), before valijson
 *    runs, so a recursive schema cannot make validation recurse without
 *    bound whatever the document.
 *
 * Thread-safety: a compiled schema is immutable; any number of threads may
 * validate against one schema at once. ndx_schema_free must not race with
 * a validation of the same schema. */
#ifndef NDX_SCHEMA_H
#define NDX_SCHEMA_H

#include <jansson.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NDX_SCHEMA_MAX_BYTES (64 * 1024) /* serialised schema */
#define NDX_SCHEMA_MAX_DEPTH 32          /* schema nesting (arrays and objects) */
#define NDX_SCHEMA_MAX_REFS 64           /* "$ref"s in one schema */
#define NDX_SCHEMA_MAX_PATTERN 256       /* bytes of one pattern */
#define NDX_SCHEMA_MAX_DOC_DEPTH 64      /* nesting of a validated document */

/* A compiled schema: opaque, immutable, shared by threads. */
struct ndx_schema;

/* Compiles a JSON Schema (draft 7; draft 4/6 documents that are also valid
 * draft 7 work) into *out. The schema value is not kept: the caller may
 * change or free it afterwards.
 *
 * Returns NDX_OK and sets *out (free with ndx_schema_free). On failure *out
 * is NULL and err (errcap bytes, may be NULL) holds the reason:
 *  NDX_EINVAL  a non-object; a document over NDX_SCHEMA_MAX_BYTES when
 *              serialised; nesting deeper than NDX_SCHEMA_MAX_DEPTH; a
 *              "$ref" that is not local (must start with "#"), does not
 *              resolve, or forms a cycle that never descends into the
 *              instance; more than NDX_SCHEMA_MAX_REFS references; a pattern
 *              longer than NDX_SCHEMA_MAX_PATTERN or that PCRE2 cannot
 *              compile; anything valijson cannot parse. The reason names the
 *              place in the schema (a JSON Pointer) where it can.
 *  NDX_ENOMEM  allocation failed. */
int ndx_schema_compile(const json_t *schema, struct ndx_schema **out,
		       char *err, size_t errcap);

/* Validates doc (any JSON value) against s.
 *
 * Returns NDX_OK when doc is valid. NDX_EINVAL when it is not, with err =
 * "<JSON Pointer (RFC 6901) of the first failing instance location, \"\"
 * for the root>: <reason>", e.g.
 * "/deceased_on: value does not match the required pattern". The location
 * is the value that failed a keyword: for "required" that is the object
 * missing the member (the reason names the member), for
 * "additionalProperties" the extra member. NDX_ENOMEM when allocation
 * failed. err (errcap bytes) may be NULL; a long message is truncated.
 * Thread-safe for concurrent validations of one compiled schema; doc is
 * only read. */
int ndx_schema_validate(const struct ndx_schema *s, const json_t *doc,
			char *err, size_t errcap);

/* As ndx_schema_validate, and also writes the JSON Pointer alone of the
 * first failure into path (pathcap bytes) when path is not NULL, for
 * callers that put the field in a JSON field of its own. path is "" when
 * doc is valid or the failure is at the root; a pointer longer than
 * pathcap - 1 bytes is truncated (callers should size it for their
 * documents' paths). err has the same "<pointer>: <reason>" form as
 * ndx_schema_validate. */
int ndx_schema_validate_path(const struct ndx_schema *s, const json_t *doc,
			     char *path, size_t pathcap,
			     char *err, size_t errcap);

/* Frees a compiled schema; accepts NULL. */
void ndx_schema_free(struct ndx_schema *s);

#ifdef __cplusplus
}
#endif

#endif
