/* The pure part of `ndx federation apply|export` (cmd_federation.c does the
 * talking): checks a federation file as a whole, brings it and the
 * registry's state into one canonical form, and computes the ordered plan
 * of management API calls that makes the registry match the file. No I/O,
 * so cmocka tests it directly (tests/unit/test_federation.c). The file's
 * format and the removal rule: docs/federation-file.md. */
#ifndef NDX_CLI_FEDERATION_PLAN_H
#define NDX_CLI_FEDERATION_PLAN_H

#include <jansson.h>
#include <stddef.h>

#define FED_FORMAT "ndx-federation/1"

/* The kinds a federation file declares, in the order they are created (a
 * kind refers only to kinds before it). Removal runs in the reverse order. */
enum fed_kind {
	FED_MEMBER,
	FED_SUBSYSTEM,
	FED_SERVICE,
	FED_GATEWAY,
	FED_CONSENT_SERVICE,
	FED_ID_PROVIDER,
	FED_EMBARGO,
	FED_EVENT_TYPE,
	FED_GRANT,
	FED_SUBSCRIPTION,
	FED_MONITORING,
	FED_NKINDS
};

/* The file's section name of a kind ("grants"), and its singular for the
 * plan's lines ("grant"). */
const char *fed_section(enum fed_kind kind);
const char *fed_singular(enum fed_kind kind);

/* Checks a parsed federation file as a whole and returns its canonical form
 * in *out (new reference, caller releases): each declared section an array
 * of canonical items (defaults filled, lists sorted, keys as PEM of one
 * form), each item carrying its place in the file as "_path"; sections the
 * file leaves out are absent. Returns 0, or -1 with *out NULL and err
 * holding "PATH: reason" (PATH like `grants[2].client`) for the first
 * problem: an unknown field, a missing or ill-typed field, a bad id, a
 * duplicate, or a reference to something another declared section does not
 * hold. Nothing in doc is changed. */
int fed_validate(const json_t *doc, json_t **out, char *err, size_t errcap);

/* Brings the registry's answers into the canonical form of fed_validate,
 * every section present. raw holds, under each section name, the array the
 * management API answered (services with their OpenAPI document under
 * "openapi" when they have one; "monitoring_client" a string or null). Each
 * item carries "_ref", the id its DELETE names (a grant's or a
 * subscription's number). Returns 0, or -1 with *out NULL and a reason in
 * err. raw is not changed. */
int fed_from_registry(const json_t *raw, json_t **out, char *err, size_t errcap);

/* Computes the plan that makes have (fed_from_registry) match want
 * (fed_validate). A kind the file leaves out keeps what the registry holds;
 * a declared kind loses what the file does not list. The state after the
 * plan is checked as a whole (every reference resolves). *out (new
 * reference) is an array of steps in the order to run them, each
 * {"op":"create"|"update"|"remove", "kind":N, "line":"…", "want":item,
 * "have":item} (want absent for a removal, have for a creation). A change
 * the API cannot make in place becomes a removal and a creation, and so do
 * the things that depend on it. Returns 0, or -1 with *out NULL and err
 * naming the file's place ("PATH: reason") when the result would be
 * inconsistent or a change cannot be made. */
int fed_plan(const json_t *want, const json_t *have, json_t **out, char *err, size_t errcap);

/* The export form of a canonical document (fed_from_registry): the format
 * line, then each section with its items stripped of "_" fields. New
 * reference, NULL when memory runs out. */
json_t *fed_export(const json_t *canon);

/* The API body that creates (or, for an update, changes) the step's item:
 * its fields without the "_" ones and without nulls. New reference. */
json_t *fed_step_body(const json_t *step);

/* The line (from 1) of text[0..len), the file doc was read from, that holds
 * the place a fed_validate or fed_plan message names (err starts with
 * "PATH: "), found by the value there: a string, number or boolean whose JSON
 * text occurs exactly once in the file. 0 when there is no such value (a
 * missing field, an object, a value written more than once or with other
 * escapes): the PATH alone then names the place. */
int fed_line(const json_t *doc, const char *text, size_t len, const char *err);

#endif
