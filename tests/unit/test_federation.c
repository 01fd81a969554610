/* The federation file's checks and the plan that makes the registry match it
 * (src/cli/federation_plan.c, docs/federation-file.md): each refusal names
 * the file's place, and the plan for a given file and registry state holds
 * exactly the expected lines, in an order the management API accepts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "federation_plan.h"
#include "ndx/encode.h"
#include "ndx/key.h"

static const char FILE_OK[] =
	"{\"format\":\"ndx-federation/1\","
	" \"members\":[{\"id\":\"VN/GOV/BCA\",\"name\":\"Bộ Công an\"},"
	"              {\"id\":\"VN/GOV/MOF\",\"name\":\"Bộ Tài chính\"}],"
	" \"subsystems\":[{\"id\":\"VN/GOV/BCA/population\"},{\"id\":\"VN/GOV/MOF/tax\"}],"
	" \"services\":[{\"id\":\"VN/GOV/BCA/population/citizens\",\"title\":\"Công dân\","
	"               \"personal\":true,\"purposes\":[\"tax-assessment\",\"audit\"],"
	"               \"bulk_purposes\":[\"audit\"]}],"
	" \"grants\":[{\"client\":\"VN/GOV/MOF/tax\",\"service\":\"VN/GOV/BCA/population/citizens\","
	"             \"methods\":[\"GET\"]},"
	"            {\"client\":\"VN/GOV/MOF\",\"service\":\"VN/GOV/BCA/population/citizens\","
	"             \"methods\":[\"POST\",\"GET\"],\"paths\":[\"/b\",\"/a\"]}],"
	" \"embargoes\":[{\"purpose\":\"investigation\",\"seconds\":86400}],"
	" \"monitoring_client\":\"VN/GOV/MOF/tax\"}";

static json_t *load(const char *text)
{
	json_error_t e;
	json_t *doc = json_loads(text, 0, &e);

	assert_non_null(doc);
	return doc;
}

/* Validates text and returns the canonical form (must succeed). */
static json_t *valid(const char *text)
{
	json_t *doc = load(text), *canon = NULL;
	char err[1024] = "";
	int rc = fed_validate(doc, &canon, err, sizeof err);

	json_decref(doc);
	if (rc != 0)
		fail_msg("refused: %s", err);
	return canon;
}

/* Validates text, which must be refused with a message starting with want. */
static void refused(const char *text, const char *want)
{
	json_t *doc = load(text), *canon = NULL;
	char err[1024] = "";

	assert_int_equal(fed_validate(doc, &canon, err, sizeof err), -1);
	assert_null(canon);
	json_decref(doc);
	if (strncmp(err, want, strlen(want)) != 0)
		fail_msg("expected \"%s…\", got \"%s\"", want, err);
}

/* The registry state as fed_from_registry makes it from the API's answers. */
static json_t *registry_state(const char *raw_text)
{
	json_t *raw = load(raw_text), *canon = NULL;
	char err[1024] = "";

	if (fed_from_registry(raw, &canon, err, sizeof err) != 0)
		fail_msg("registry state refused: %s", err);
	json_decref(raw);
	return canon;
}

static const char EMPTY_REGISTRY[] =
	"{\"members\":[],\"subsystems\":[],\"services\":[],\"gateways\":[],\"consent_services\":[],"
	" \"id_providers\":[],\"embargoes\":[],\"event_types\":[],\"grants\":[],"
	" \"subscriptions\":[],\"monitoring_client\":null}";

/* The plan's lines joined by '\n'. */
static char *plan_lines(const json_t *want, const json_t *have)
{
	json_t *steps = NULL, *step;
	char err[1024] = "", *text = calloc(1, 65536);
	size_t i, used = 0;

	assert_non_null(text);
	if (fed_plan(want, have, &steps, err, sizeof err) != 0)
		fail_msg("plan refused: %s", err);
	json_array_foreach(steps, i, step)
		used += (size_t)snprintf(text + used, 65536 - used, "%s\n",
					 json_string_value(json_object_get(step, "line")));
	json_decref(steps);
	return text;
}

static void test_valid_file_is_canonical(void **state)
{
	json_t *c = valid(FILE_OK);
	const json_t *g;

	(void)state;
	/* Lists sorted, defaults filled. */
	g = json_array_get(json_object_get(c, "grants"), 1);
	assert_string_equal(json_string_value(json_array_get(json_object_get(g, "methods"), 0)), "GET");
	assert_string_equal(json_string_value(json_array_get(json_object_get(g, "paths"), 0)), "/a");
	g = json_array_get(json_object_get(c, "grants"), 0);
	assert_string_equal(json_string_value(json_array_get(json_object_get(g, "paths"), 0)), "*");
	assert_false(json_is_true(json_object_get(json_array_get(json_object_get(c, "services"), 0),
						  "consent_required")));
	/* Left-out sections stay absent. */
	assert_null(json_object_get(c, "gateways"));
	assert_int_equal(json_array_size(json_object_get(c, "monitoring_client")), 1);
	json_decref(c);
}

static void test_refusals_name_the_place(void **state)
{
	(void)state;
	refused("[]", "(top)");
	refused("{\"members\":[]}", "format");
	refused("{\"format\":\"ndx-federation/1\",\"member\":[]}", "member: not a section");
	refused("{\"format\":\"ndx-federation/1\",\"members\":[{\"id\":\"VN/GOV/BCA\"}]}",
		"members[0].name: missing");
	refused("{\"format\":\"ndx-federation/1\",\"members\":[{\"id\":\"VN/GOV\",\"name\":\"x\"}]}",
		"members[0].id: not a member id");
	refused("{\"format\":\"ndx-federation/1\",\"members\":[{\"id\":\"VN/GOV/A\",\"name\":\"x\","
		"\"nmae\":\"y\"}]}",
		"members[0].nmae: not a field of a member");
	refused("{\"format\":\"ndx-federation/1\",\"members\":[{\"id\":\"VN/GOV/A\",\"name\":\"x\"},"
		"{\"id\":\"VN/GOV/A\",\"name\":\"y\"}]}",
		"members[1]: a second member VN/GOV/A (the first is members[0])");
	refused("{\"format\":\"ndx-federation/1\",\"members\":[{\"id\":\"VN/GOV/A\","
		"\"name\":\"a\\u001b[2J\"}]}",
		"members[0].name:");
	refused("{\"format\":\"ndx-federation/1\",\"services\":[{\"id\":\"VN/GOV/A/b/c\",\"title\":\"t\","
		"\"personal\":true}]}",
		"services[0].purposes: a personal service needs at least one purpose");
	refused("{\"format\":\"ndx-federation/1\",\"services\":[{\"id\":\"VN/GOV/A/b/c\",\"title\":\"t\","
		"\"personal\":true,\"purposes\":[\"x\"],\"bulk_purposes\":[\"y\"]}]}",
		"services[0].bulk_purposes: \"y\" is not one of its purposes");
	refused("{\"format\":\"ndx-federation/1\",\"grants\":[{\"client\":\"VN/GOV/A\","
		"\"service\":\"VN/GOV/A/b/c\",\"methods\":[\"GET\",\"FETCH\"]}]}",
		"grants[0].methods[1]: methods are");
	refused("{\"format\":\"ndx-federation/1\",\"grants\":[{\"client\":\"VN/GOV/A\","
		"\"service\":\"VN/GOV/A/b/c\",\"methods\":[\"GET\",\"GET\"]}]}",
		"grants[0].methods: lists \"GET\" twice");
	refused("{\"format\":\"ndx-federation/1\",\"embargoes\":[{\"purpose\":\"x\",\"seconds\":0}]}",
		"embargoes[0].seconds: must be a whole number");
	refused("{\"format\":\"ndx-federation/1\",\"subscriptions\":[{\"client\":\"VN/GOV/A/b\","
		"\"service\":\"VN/GOV/A/b/c\",\"event\":\"e\",\"retry\":{\"first_s\":5,\"max_s\":2}}]}",
		"subscriptions[0].retry: needs first_s <= max_s");
	refused("{\"format\":\"ndx-federation/1\",\"monitoring_client\":7}", "monitoring_client:");
}

static void test_unknown_member_in_grant(void **state)
{
	char *text = strdup(FILE_OK), *p;

	(void)state;
	assert_non_null(text);
	p = strstr(text, "\"client\":\"VN/GOV/MOF\"");
	assert_non_null(p);
	memcpy(p + strlen("\"client\":\"VN/GOV/"), "XYZ", 3);
	refused(text, "grants[1].client: member VN/GOV/XYZ is not in members");
	free(text);
	/* A service of a subsystem the file does not have. */
	refused("{\"format\":\"ndx-federation/1\",\"subsystems\":[],\"services\":[{\"id\":"
		"\"VN/GOV/A/b/c\",\"title\":\"t\"}]}",
		"services[0].id: subsystem VN/GOV/A/b is not in subsystems");
}

static void test_plan_from_empty_registry(void **state)
{
	json_t *want = valid(FILE_OK), *have = registry_state(EMPTY_REGISTRY);
	char *lines = plan_lines(want, have);

	(void)state;
	assert_string_equal(lines,
			    "create member VN/GOV/BCA\n"
			    "create member VN/GOV/MOF\n"
			    "create subsystem VN/GOV/BCA/population\n"
			    "create subsystem VN/GOV/MOF/tax\n"
			    "create service VN/GOV/BCA/population/citizens\n"
			    "create embargo investigation\n"
			    "create grant VN/GOV/MOF/tax VN/GOV/BCA/population/citizens GET *\n"
			    "create grant VN/GOV/MOF VN/GOV/BCA/population/citizens GET,POST /a,/b\n"
			    "create monitoring client VN/GOV/MOF/tax\n");
	free(lines);
	json_decref(want);
	json_decref(have);
}

/* The registry as the API would answer after FILE_OK was applied (fields in
 * the API's order and form, numbers for grants). */
static const char APPLIED[] =
	"{\"members\":[{\"id\":\"VN/GOV/BCA\",\"name\":\"Bộ Công an\",\"created_at\":\"x\"},"
	"              {\"id\":\"VN/GOV/MOF\",\"name\":\"Bộ Tài chính\",\"created_at\":\"x\"}],"
	" \"subsystems\":[{\"id\":\"VN/GOV/BCA/population\",\"member\":\"VN/GOV/BCA\"},"
	"                 {\"id\":\"VN/GOV/MOF/tax\",\"member\":\"VN/GOV/MOF\"}],"
	" \"services\":[{\"id\":\"VN/GOV/BCA/population/citizens\",\"subsystem\":\"x\","
	"               \"title\":\"Công dân\",\"personal\":true,\"purposes\":[\"tax-assessment\","
	"               \"audit\"],\"bulk_purposes\":[\"audit\"],\"consent_required\":false,"
	"               \"openapi_sha256\":null}],"
	" \"gateways\":[],\"consent_services\":[],\"id_providers\":[],\"event_types\":[],"
	" \"subscriptions\":[],"
	" \"embargoes\":[{\"purpose\":\"investigation\",\"seconds\":86400}],"
	" \"grants\":[{\"id\":7,\"client\":\"VN/GOV/MOF/tax\","
	"              \"service\":\"VN/GOV/BCA/population/citizens\",\"methods\":[\"GET\"],"
	"              \"paths\":[\"*\"]},"
	"             {\"id\":8,\"client\":\"VN/GOV/MOF\","
	"              \"service\":\"VN/GOV/BCA/population/citizens\",\"methods\":[\"POST\",\"GET\"],"
	"              \"paths\":[\"/a\",\"/b\"]}],"
	" \"monitoring_client\":\"VN/GOV/MOF/tax\"}";

static void test_plan_is_empty_when_matching(void **state)
{
	json_t *want = valid(FILE_OK), *have = registry_state(APPLIED), *steps = NULL, *exp, *again;
	char err[512];
	char *text;

	(void)state;
	assert_int_equal(fed_plan(want, have, &steps, err, sizeof err), 0);
	assert_int_equal(json_array_size(steps), 0);
	json_decref(steps);
	/* The export of that state is a file that validates to no change. */
	exp = fed_export(have);
	assert_non_null(exp);
	text = json_dumps(exp, 0);
	again = valid(text);
	assert_int_equal(fed_plan(again, have, &steps, err, sizeof err), 0);
	assert_int_equal(json_array_size(steps), 0);
	json_decref(steps);
	free(text);
	json_decref(exp);
	json_decref(again);
	json_decref(want);
	json_decref(have);
}

static void test_plan_removes_only_declared_sections(void **state)
{
	/* The file has grants (one of the two) and nothing else: the other grant
	 * goes, members, services and the embargo stay. */
	json_t *want = valid("{\"format\":\"ndx-federation/1\",\"grants\":[{\"client\":"
			     "\"VN/GOV/MOF/tax\",\"service\":\"VN/GOV/BCA/population/citizens\","
			     "\"methods\":[\"GET\"]}]}");
	json_t *have = registry_state(APPLIED), *steps = NULL;
	char *lines = plan_lines(want, have), err[512];

	(void)state;
	assert_string_equal(lines,
			    "remove grant VN/GOV/MOF VN/GOV/BCA/population/citizens GET,POST /a,/b\n");
	free(lines);
	/* Its DELETE names the grant's number. */
	assert_int_equal(fed_plan(want, have, &steps, err, sizeof err), 0);
	assert_int_equal(json_integer_value(json_object_get(
				 json_object_get(json_array_get(steps, 0), "have"), "_ref")),
			 8);
	json_decref(steps);
	json_decref(want);
	json_decref(have);
}

static void test_plan_update_and_replace(void **state)
{
	char *text = strdup(FILE_OK), *lines, *p;
	json_t *want, *have = registry_state(APPLIED);

	(void)state;
	assert_non_null(text);
	/* bulk_purposes only: an update in place. */
	p = strstr(text, "\"bulk_purposes\":[\"audit\"]");
	assert_non_null(p);
	memcpy(p + strlen("\"bulk_purposes\":["), "       ", 7);
	want = valid(text);
	lines = plan_lines(want, have);
	assert_string_equal(lines, "update service VN/GOV/BCA/population/citizens "
				   "(bulk_purposes changed)\n");
	free(lines);
	json_decref(want);
	/* The title too: created again, and the grants that name it with it. */
	p = strstr(text, "Công dân");
	assert_non_null(p);
	p[0] = 'X';
	want = valid(text);
	lines = plan_lines(want, have);
	assert_string_equal(
		lines,
		"remove grant VN/GOV/MOF/tax VN/GOV/BCA/population/citizens GET * (its service "
		"VN/GOV/BCA/population/citizens is created again)\n"
		"remove grant VN/GOV/MOF VN/GOV/BCA/population/citizens GET,POST /a,/b (its service "
		"VN/GOV/BCA/population/citizens is created again)\n"
		"remove service VN/GOV/BCA/population/citizens (title, bulk_purposes changed)\n"
		"create service VN/GOV/BCA/population/citizens\n"
		"create grant VN/GOV/MOF/tax VN/GOV/BCA/population/citizens GET *\n"
		"create grant VN/GOV/MOF VN/GOV/BCA/population/citizens GET,POST /a,/b\n");
	free(lines);
	json_decref(want);
	free(text);
	json_decref(have);
}

static void test_plan_refuses_inconsistent_result(void **state)
{
	/* The file empties members but leaves out grants: the registry's grant
	 * would name a member that no longer exists. */
	json_t *want = valid("{\"format\":\"ndx-federation/1\",\"members\":[{\"id\":\"VN/GOV/BCA\","
			     "\"name\":\"Bộ Công an\"}]}");
	json_t *have = registry_state(APPLIED), *steps = NULL;
	char err[1024] = "";

	(void)state;
	assert_int_equal(fed_plan(want, have, &steps, err, sizeof err), -1);
	assert_null(steps);
	assert_non_null(strstr(err, "subsystem VN/GOV/MOF/tax"));
	assert_non_null(strstr(err, "member VN/GOV/MOF is not in members"));
	json_decref(want);
	/* A member renamed: the API cannot. */
	want = valid("{\"format\":\"ndx-federation/1\",\"members\":[{\"id\":\"VN/GOV/BCA\","
		     "\"name\":\"Bộ Công an\"},{\"id\":\"VN/GOV/MOF\",\"name\":\"Tài chính\"}]}");
	assert_int_equal(fed_plan(want, have, &steps, err, sizeof err), -1);
	assert_string_equal(err, "members[1].name: the registry calls member VN/GOV/MOF "
				 "\"Bộ Tài chính\": the management API cannot rename a member");
	json_decref(want);
	json_decref(have);
}

static void test_keys_compare_as_keys(void **state)
{
	struct ndx_key *key = NULL;
	uint8_t raw[NDX_ED25519_PUBLIC_LEN];
	char *pem, *text, *b64, err[512];
	json_t *want, *have = NULL, *steps = NULL, *v, *reg;

	(void)state;
	assert_int_equal(ndx_key_generate(&key), 0);
	ndx_key_public_raw(key, raw);
	pem = ndx_key_public_pem(key);
	b64 = ndx_b64_encode(raw, sizeof raw, 0);
	assert_non_null(pem);
	assert_non_null(b64);
	/* The file holds the key as PEM, the registry answers its raw base64. */
	v = json_pack("{ss s[{ssssssss}]}", "format", FED_FORMAT, "gateways", "member", "VN/GOV/A",
		      "code", "gw1", "address", "https://gw1.example:8443", "sign_public_key", pem);
	text = json_dumps(v, 0);
	json_decref(v);
	want = valid(text);
	free(text);
	reg = load(EMPTY_REGISTRY);
	json_object_set_new(reg, "gateways",
			    json_pack("[{sssssssssI}]", "member", "VN/GOV/A", "code", "gw1",
				      "address", "https://gw1.example:8443", "sign_key", b64,
				      "tls_certificate", "x", "created_at", (json_int_t)1));
	/* Without the members section in the file, the registry's are kept. */
	json_object_set_new(reg, "members", json_pack("[{ssss}]", "id", "VN/GOV/A", "name", "A"));
	if (fed_from_registry(reg, &have, err, sizeof err) != 0)
		fail_msg("%s", err);
	assert_int_equal(fed_plan(want, have, &steps, err, sizeof err), 0);
	assert_int_equal(json_array_size(steps), 0);
	json_decref(steps);
	json_decref(have);
	/* Another address, and no CSR to register it again with: refused. */
	json_object_set_new(json_array_get(json_object_get(reg, "gateways"), 0), "address",
			    json_string("https://old.example"));
	assert_int_equal(fed_from_registry(reg, &have, err, sizeof err), 0);
	assert_int_equal(fed_plan(want, have, &steps, err, sizeof err), -1);
	assert_non_null(strstr(err, "gateways[0]: address differs"));
	json_decref(have);
	/* A new gateway without one either. */
	json_object_set_new(reg, "gateways", json_array());
	assert_int_equal(fed_from_registry(reg, &have, err, sizeof err), 0);
	assert_int_equal(fed_plan(want, have, &steps, err, sizeof err), -1);
	assert_non_null(strstr(err, "gateways[0].tls_csr: missing"));
	json_decref(reg);
	json_decref(want);
	json_decref(have);
	free(pem);
	free(b64);
	ndx_key_free(key);
}

static void test_event_type_change_takes_its_subscriptions(void **state)
{
	static const char file[] =
		"{\"format\":\"ndx-federation/1\","
		" \"event_types\":[{\"service\":\"VN/GOV/BCA/population/citizens\",\"name\":\"moved\","
		"                   \"schema\":{\"type\":\"object\",\"required\":[\"pin\"]}}],"
		" \"subscriptions\":[{\"client\":\"VN/GOV/MOF/tax\","
		"                     \"service\":\"VN/GOV/BCA/population/citizens\","
		"                     \"event\":\"moved\",\"purpose\":\"audit\"}]}";
	json_t *want = valid(file), *raw = load(APPLIED), *have = NULL;
	char err[512], *lines;

	(void)state;
	json_object_set_new(raw, "event_types",
			    json_pack("[{sssss{ss}sn}]", "service", "VN/GOV/BCA/population/citizens",
				      "name", "moved", "schema", "type", "object", "title"));
	json_object_set_new(raw, "subscriptions",
			    json_pack("[{sIsssssssss{sIsIsI}}]", "id", (json_int_t)3, "client",
				      "VN/GOV/MOF/tax", "service", "VN/GOV/BCA/population/citizens",
				      "event", "moved", "purpose", "audit", "retry", "first_s",
				      (json_int_t)1, "max_s", (json_int_t)300, "give_up_after_s",
				      (json_int_t)86400));
	assert_int_equal(fed_from_registry(raw, &have, err, sizeof err), 0);
	lines = plan_lines(want, have);
	assert_string_equal(lines,
			    "remove subscription VN/GOV/MOF/tax VN/GOV/BCA/population/citizens moved "
			    "(its event type VN/GOV/BCA/population/citizens moved is created again)\n"
			    "remove event type VN/GOV/BCA/population/citizens moved (schema changed)\n"
			    "create event type VN/GOV/BCA/population/citizens moved\n"
			    "create subscription VN/GOV/MOF/tax VN/GOV/BCA/population/citizens moved\n");
	free(lines);
	json_decref(want);
	/* A purpose that is not one of the personal service's: refused, by place. */
	{
		char *bad = strdup(file), *p = strstr(bad, "\"audit\"");
		json_t *w2;
		json_t *steps = NULL;
		memcpy(p, "\"other\"", 7);
		w2 = valid(bad);
		assert_int_equal(fed_plan(w2, have, &steps, err, sizeof err), -1);
		assert_string_equal(err, "subscriptions[0].purpose: service "
					 "VN/GOV/BCA/population/citizens is personal: one of its "
					 "purposes is needed");
		json_decref(w2);
		free(bad);
	}
	json_decref(raw);
	json_decref(have);
}

static void test_line_of_a_refusal(void **state)
{
	static const char text[] = "{\"format\": \"ndx-federation/1\",\n"
				   " \"members\": [{\"id\": \"VN/GOV/A\", \"name\": \"A\"}],\n"
				   " \"grants\": [\n"
				   "  {\"client\": \"VN/GOV/A\", \"service\": \"VN/GOV/A/s/t\",\n"
				   "   \"methods\": [\"GET\"]},\n"
				   "  {\"client\": \"VN/GOV/NOPE\",\n"
				   "   \"service\": \"VN/GOV/A/s/t\", \"methods\": [\"GET\"]}]}\n";
	json_t *doc = load(text), *canon = NULL;
	char err[512];

	(void)state;
	assert_int_equal(fed_validate(doc, &canon, err, sizeof err), -1);
	assert_string_equal(err, "grants[1].client: member VN/GOV/NOPE is not in members");
	assert_int_equal(fed_line(doc, text, strlen(text), err), 6);
	/* A value written twice, a missing field, an object, no path: no line. */
	assert_int_equal(fed_line(doc, text, strlen(text), "grants[1].service: x"), 0);
	assert_int_equal(fed_line(doc, text, strlen(text), "grants[1].paths: missing"), 0);
	assert_int_equal(fed_line(doc, text, strlen(text), "grants[1]: x"), 0);
	assert_int_equal(fed_line(doc, text, strlen(text), "grants[9].client: x"), 0);
	assert_int_equal(fed_line(doc, text, strlen(text), "the registry's grant x: y"), 0);
	assert_int_equal(fed_line(doc, text, strlen(text), "members[0].name: x"), 2);
	assert_int_equal(fed_line(doc, text, strlen(text), "grants[x.client: x"), 0);
	json_decref(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_file_is_canonical),
		cmocka_unit_test(test_refusals_name_the_place),
		cmocka_unit_test(test_unknown_member_in_grant),
		cmocka_unit_test(test_plan_from_empty_registry),
		cmocka_unit_test(test_plan_is_empty_when_matching),
		cmocka_unit_test(test_plan_removes_only_declared_sections),
		cmocka_unit_test(test_plan_update_and_replace),
		cmocka_unit_test(test_plan_refuses_inconsistent_result),
		cmocka_unit_test(test_keys_compare_as_keys),
		cmocka_unit_test(test_event_type_change_takes_its_subscriptions),
		cmocka_unit_test(test_line_of_a_refusal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
