/* OpenAPI generation (openapi.h). Each column becomes a property with its
 * type, format pattern, enum or range; each table gets the list/search,
 * create, read and replace operations that api.c implements, with the
 * X-Road style error body for every refusal, the Ndx-Subject request
 * header and the Ndx-Data-Subjects response header (docs/sectors.md
 * "Data subjects"). */
#include "openapi.h"

#include <stdio.h>
#include <string.h>

#include "api.h"
#include "pinset.h"
#include "sec_measures.h"
#include "sec_verify.h"
#include "sec_worklist_api.h"

#ifndef NDX_VERSION
#define NDX_VERSION "unknown"
#endif

static const char *pattern_of(enum col_type t)
{
	switch (t) {
	case COL_DATE: return "^[0-9]{4}-[0-9]{2}-[0-9]{2}$";
	case COL_PERIOD: return "^[0-9]{4}-[0-9]{2}$";
	case COL_PIN: return "^[0-9]{12}$";
	case COL_ECODE: return "^[0-9]{10}$";
	case COL_PARTY: return "^([0-9]{10}|[0-9]{12})$";
	case COL_PROVINCE: return "^[0-9]{3}$";
	case COL_PLATE: return "^[0-9]{2}[A-Z][0-9]{5,6}$";
	case COL_PARCEL: return "^[0-9]{3}-[0-9]{4}-[0-9]{5}$";
	case COL_HOUSEHOLD: return "^H[0-9]{11}$";
	default: return NULL;
	}
}

static json_t *property(const struct sector_column *c)
{
	json_t *p = json_object();
	const char *pat = pattern_of(c->type);

	if (c->type == COL_INT) {
		json_object_set_new(p, "type", json_string("integer"));
		json_object_set_new(p, "format", json_string("int64"));
		json_object_set_new(p, "minimum", json_real(c->lo));
		json_object_set_new(p, "maximum", json_real(c->hi));
	} else if (c->type == COL_REAL) {
		json_object_set_new(p, "type", json_string("number"));
		json_object_set_new(p, "minimum", json_real(c->lo));
		json_object_set_new(p, "maximum", json_real(c->hi));
	} else {
		json_object_set_new(p, "type", json_string("string"));
	}
	if (c->type == COL_DATE)
		json_object_set_new(p, "format", json_string("date"));
	if (pat)
		json_object_set_new(p, "pattern", json_string(pat));
	if (c->type == COL_TEXT)
		json_object_set_new(p, "maxLength", json_integer((json_int_t)c->max));
	if (c->type == COL_ENUM) {
		json_t *e = json_array();
		for (const char *const *v = c->values; *v; v++)
			json_array_append_new(e, json_string(*v));
		json_object_set_new(p, "enum", e);
	}
	if (!(c->flags & COL_REQUIRED))
		json_object_set_new(p, "nullable", json_true());
	if (c->desc || c->ref) {
		char d[512];
		snprintf(d, sizeof d, "%s%s%s%s", c->desc ? c->desc : "",
			 c->desc && c->ref ? ". " : "", c->ref ? "Refers to " : "",
			 c->ref ? (strcmp(c->ref, "party") == 0
					   ? "population/citizens (12 digits) or enterprise/enterprises (10 digits)"
					   : c->ref)
				: "");
		json_object_set_new(p, "description", json_string(d));
	}
	return p;
}

static json_t *table_schema(const struct sector_table *t, int with_server_fields)
{
	json_t *props = json_object(), *req = json_array();

	if (!t->key && with_server_fields)
		json_object_set_new(props, "id", json_pack("{ssss}", "type", "integer",
							   "description", "assigned by the store"));
	for (size_t j = 0; j < t->ncols; j++) {
		json_object_set_new(props, t->cols[j].name, property(&t->cols[j]));
		if (t->cols[j].flags & COL_REQUIRED)
			json_array_append_new(req, json_string(t->cols[j].name));
	}
	if (with_server_fields)
		json_object_set_new(props, "updated_at",
				    json_pack("{ssssss}", "type", "string", "format", "date-time",
					      "description", "last change, set by the store"));
	return json_pack("{sssoso}", "type", "object", "properties", props, "required", req);
}

static json_t *ref(const char *name)
{
	char r[256];
	snprintf(r, sizeof r, "#/components/schemas/%s", name);
	return json_pack("{ss}", "$ref", r);
}

static json_t *json_content(json_t *schema)
{
	return json_pack("{s{s{so}}}", "content", "application/json", "schema", schema);
}

static json_t *response(const char *desc, json_t *schema)
{
	json_t *r = json_content(schema);
	json_object_set_new(r, "description", json_string(desc));
	return r;
}

/* ok_code's answer declares its subjects; one record (one_record) is
 * refused when it does not concern the person Ndx-Subject names. */
static json_t *error_responses(json_t *ok, const char *ok_code, int with_conflict,
			       int one_record)
{
	json_t *r = json_object();
	json_object_set_new(ok, "headers",
			    json_pack("{s{ss}}", "Ndx-Data-Subjects", "$ref",
				      "#/components/headers/Ndx-Data-Subjects"));
	json_object_set_new(r, ok_code, ok);
	json_object_set_new(r, "400", response("invalid request; detail names the field",
					       ref("Error")));
	if (one_record)
		json_object_set_new(r, "403",
				    response("Client.SubjectMismatch: the record (for a write: as "
					     "it is or as it would be) does not concern the person "
					     "Ndx-Subject names",
					     ref("Error")));
	json_object_set_new(r, "404", response("no such record", ref("Error")));
	if (with_conflict)
		json_object_set_new(r, "409", response("the key exists already", ref("Error")));
	json_object_set_new(r, "422",
			    response("Client.TooManySubjects: the answer would concern more "
				     "people than one answer may declare",
				     ref("Error")));
	return r;
}

static json_t *subject_header_param(void)
{
	return json_pack("{ss}", "$ref", "#/components/parameters/Ndx-Subject");
}

static json_t *components(json_t *schemas)
{
	char desc[512];

	snprintf(desc, sizeof desc,
		 "the people whose data the answer holds: their 12-digit personal "
		 "identification numbers, ascending, comma-separated (at most %d), or none",
		 PINSET_MAX);
	return json_pack("{sos{s{sss{ssss}}}s{s{sssssssbs{ssss}}}}", "schemas", schemas,
			 "headers", "Ndx-Data-Subjects", "description", desc, "schema", "type",
			 "string", "pattern", "^(none|[0-9]{12}(,[0-9]{12})*)$", "parameters",
			 "Ndx-Subject", "name", "Ndx-Subject", "in", "header", "description",
			 "the person the request is about: a read or write of one record that does "
			 "not concern them is refused (403); lists are not filtered",
			 "required", 0, "schema", "type", "string", "pattern", "^[0-9]{12}$");
}

static json_t *query_param(const char *name, const char *desc, json_t *schema)
{
	return json_pack("{sssssssbso}", "name", name, "in", "query", "description", desc,
			 "required", 0, "schema", schema);
}

/* POST /verify of the population registry (sec_verify.h). The schema is
 * JSON text read by jansson: written once here, checked by the tests. */
static const char VERIFY_PATH[] =
	"{\"post\": {\"summary\": \"verify other registries' person records (batch)\","
	"\"operationId\": \"verify\","
	"\"description\": \"Per record and per field sent: match, differs or unknown (a name also "
	"marks: the same letters with other diacritics; a date also swapped: day and month swapped), "
	"and candidate_pin, the likely number of a record that has none or one that is not the "
	"person's. Never any other value. Every person a record is compared with is declared in "
	"Ndx-Data-Subjects. Registered for bulk use with purpose data-reconciliation.\","
	"\"requestBody\": {\"required\": true, \"content\": {\"application/json\": {\"schema\": "
	"{\"type\": \"object\", \"additionalProperties\": false, \"required\": [\"records\"],"
	"\"properties\": {\"records\": {\"type\": \"array\", \"minItems\": 1, \"maxItems\": "
	NDX_SECTOR_VERIFY_MAX_TEXT ", \"items\": {\"type\": \"object\", \"additionalProperties\": false,"
	"\"properties\": {\"pin\": {\"type\": \"string\", \"pattern\": \"^[0-9]{12}$\"},"
	"\"full_name\": {\"type\": \"string\", \"maxLength\": 100},"
	"\"birth_date\": {\"type\": \"string\", \"format\": \"date\"},"
	"\"sex\": {\"type\": \"string\", \"enum\": [\"male\", \"female\"]},"
	"\"address\": {\"type\": \"string\", \"maxLength\": 300},"
	"\"living\": {\"type\": \"boolean\", \"description\": \"the record holds the person as living\"}"
	"}}}}}}}},"
	"\"responses\": {\"200\": {\"description\": \"one result a record, in order\","
	"\"headers\": {\"Ndx-Data-Subjects\": {\"schema\": {\"type\": \"string\"}}},"
	"\"content\": {\"application/json\": {\"schema\": {\"type\": \"object\", \"properties\": "
	"{\"results\": {\"type\": \"array\", \"items\": {\"type\": \"object\", \"properties\": {"
	"\"pin\": {\"enum\": [\"match\", \"differs\", \"unknown\"]},"
	"\"full_name\": {\"enum\": [\"match\", \"marks\", \"differs\", \"unknown\"]},"
	"\"birth_date\": {\"enum\": [\"match\", \"swapped\", \"differs\", \"unknown\"]},"
	"\"sex\": {\"enum\": [\"match\", \"differs\", \"unknown\"]},"
	"\"address\": {\"enum\": [\"match\", \"differs\", \"unknown\"]},"
	"\"living\": {\"enum\": [\"match\", \"differs\", \"unknown\"]},"
	"\"candidate_pin\": {\"type\": \"string\", \"pattern\": \"^[0-9]{12}$\"}}}}}}}}},"
	"\"400\": {\"description\": \"a field is invalid (named in Ndx-Invalid-Field)\"},"
	"\"405\": {\"description\": \"not POST\"},"
	"\"413\": {\"description\": \"more than " NDX_SECTOR_VERIFY_MAX_TEXT " records\"}}}}";

static int verify_path(json_t *paths)
{
	json_error_t err;
	json_t *p = json_loads(VERIFY_PATH, 0, &err);

	if (!p) {
		fprintf(stderr, "ndx-sector: openapi: /verify: %s\n", err.text);
		return -1;
	}
	return json_object_set_new(paths, "/verify", p);
}

json_t *openapi_build(const struct sector_def *def)
{
	json_t *paths = json_object(), *schemas = json_object(), *doc;
	char title[256], buf[256];

	json_object_set_new(schemas, "Error",
			    json_pack("{sss{s{ss}s{ss}s{ss}}s[ss]}", "type", "object", "properties",
				      "type", "type", "string", "message", "type", "string",
				      "detail", "type", "string", "required", "type", "message"));
	for (size_t i = 0; i < def->ntables; i++) {
		const struct sector_table *t = &def->tables[i];
		char name[128], input[128], list[128], coll[128], item[128];
		json_t *params = json_array();

		snprintf(name, sizeof name, "%s", t->name);
		snprintf(input, sizeof input, "%s_input", t->name);
		snprintf(list, sizeof list, "%s_page", t->name);
		json_object_set_new(schemas, name, table_schema(t, 1));
		json_object_set_new(schemas, input, table_schema(t, 0));
		json_object_set_new(schemas, list,
				    json_pack("{sss{s{ssso}s{ss}s{ss}s{ssso}}}", "type", "object",
					      "properties", "items", "type", "array", "items",
					      ref(name), "limit", "type", "integer", "offset", "type",
					      "integer", "next_offset", "type", "integer", "nullable",
					      json_true()));
		if (sector_name_column(t)) {
			snprintf(buf, sizeof buf,
				 "prefix of %s, with or without Vietnamese diacritics "
				 "(\"Nguyễn Văn An\" = \"nguyen van an\")",
				 sector_name_column(t)->name);
			json_array_append_new(params, query_param("name", buf,
								  json_pack("{ss}", "type", "string")));
		}
		for (size_t j = 0; j < t->ncols; j++)
			if (t->cols[j].flags & COL_FILTER) {
				snprintf(buf, sizeof buf, "only rows whose %s equals this",
					 t->cols[j].name);
				json_array_append_new(params, query_param(t->cols[j].name, buf,
									  property(&t->cols[j])));
			}
		json_array_append_new(params,
				      query_param("limit", "page size",
						  json_pack("{sssisisi}", "type", "integer", "minimum", 1,
							    "maximum", API_MAX_LIMIT, "default",
							    API_DEFAULT_LIMIT)));
		json_array_append_new(params,
				      query_param("offset", "rows to skip",
						  json_pack("{sssisisi}", "type", "integer", "minimum", 0,
							    "maximum", API_MAX_OFFSET, "default", 0)));
		json_array_append_new(params, subject_header_param());
		snprintf(coll, sizeof coll, "/%s", t->name);
		snprintf(item, sizeof item, "/%s/{id}", t->name);
		json_t *body = json_content(ref(input));
		json_object_set_new(body, "required", json_true());
		char opl[128], opc[128];
		snprintf(opl, sizeof opl, "list_%s", t->name);
		snprintf(opc, sizeof opc, "create_%s", t->name);
		json_object_set_new(
			paths, coll,
			json_pack("{s{sssssoso}s{sssssososo}}", "get", "summary", t->title,
				  "operationId", opl, "parameters", params, "responses",
				  error_responses(response("a page of rows", ref(list)), "200", 0, 0),
				  "post", "summary", "create", "operationId", opc, "parameters",
				  json_pack("[o]", subject_header_param()), "requestBody", body,
				  "responses",
				  error_responses(response("created", ref(name)), "201", 1, 1)));
		snprintf(buf, sizeof buf, "%s", t->key ? t->key : "the number assigned on create");
		json_t *idparam = json_pack("[{sssssbsss{ss}}o]", "name", "id", "in", "path",
					    "required", 1, "description", buf, "schema", "type",
					    "string", subject_header_param());
		json_t *body2 = json_content(ref(input));
		json_object_set_new(body2, "required", json_true());
		char op1[128], op2[128];
		snprintf(op1, sizeof op1, "get_%s", t->name);
		snprintf(op2, sizeof op2, "replace_%s", t->name);
		json_object_set_new(
			paths, item,
			json_pack("{sos{sssssoso}s{sssssoso}}", "parameters", idparam, "get",
				  "summary", "read one", "operationId", op1, "parameters",
				  json_array(), "responses",
				  error_responses(response("the row", ref(name)), "200", 0, 1), "put",
				  "summary", "replace one", "operationId", op2, "requestBody", body2,
				  "responses",
				  error_responses(response("replaced", ref(name)), "200", 0, 1)));
	}
	if (strcmp(def->name, "population") == 0 && verify_path(paths))
		goto fail;
	if (json_object_set_new(paths, "/measures", measures_openapi_path()))
		goto fail;
	if (strcmp(def->name, "population") != 0 && worklist_openapi_paths(paths))
		goto fail;
	json_object_set_new(paths, "/healthz",
			    json_pack("{s{sss{s{ss}}}}", "get", "summary", "liveness", "responses",
				      "200", "description", "ok"));
	snprintf(title, sizeof title, "ndx-sector %s: %s (%s)", def->name, def->title,
		 def->title_vi);
	if (0) {
fail:
		json_decref(paths);
		json_decref(schemas);
		return NULL;
	}
	doc = json_pack("{sss{ssss}s[{ss}]soso}", "openapi", "3.0.3", "info", "title", title,
			"version", NDX_VERSION, "servers", "url", "/", "paths", paths,
			"components", components(schemas));
	if (doc) {
		snprintf(buf, sizeof buf, "Operated by %s. Synthetic reference data.", def->agency);
		json_object_set_new(json_object_get(doc, "info"), "description", json_string(buf));
	}
	return doc;
}
