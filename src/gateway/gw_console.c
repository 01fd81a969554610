/* The gateway's web console (gw_console.h, docs/gateway-console.md). Its
 * own HTTP server on console.listen (plain HTTP, loopback by default: put
 * a TLS reverse proxy in front to reach it from elsewhere), with the
 * sign-in, sessions and files of libndx's ndx/console_auth.h and a small
 * JSON API under /console/api/ read by the pages of web/gwconsole/.
 *
 * Who may do what comes from the officials file (console.officials), read
 * at every request, so removing an official or changing their role takes
 * effect at their next click: an administrator may switch maintenance
 * mode; an auditor reads, runs a verify of the message log and the
 * connection test (both change nothing), and is refused every change. Every
 * POST needs the session's CSRF token. Every change is appended to
 * DATA_DIR/console-changes.jsonl with the official's subject and name (and
 * said on stderr with the subject as a keyed tag, T34). */
#include "gw_console.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "exchlog.h"
#include "gw_conntest.h"
#include "gw_maintenance.h"
#include "ndx/console_auth.h"
#include "ndx/encode.h"
#include "ndx/err.h"
#include "ndx/file.h"
#include "ndx/redact.h"
#include "ndx/timefmt.h"

#define OFFICIALS_FILE_MAX (1024 * 1024)
#define JOURNAL_FILE_MAX (4 * 1024 * 1024)
#define JOURNAL_SHOWN 50
#define ACTOR_MAX 300
#define HINT "add \"console\" to the gateway's configuration file (docs/gateway-console.md)"

struct gw_console {
	struct gw_ctx *g;
	struct ndx_console *ui;
	struct ndx_httpd *httpd;
	char *journal_path;
	pthread_mutex_t mu;     /* the journal */
	pthread_mutex_t run_mu; /* one verify or connection test at a time */
};

/* ---- officials ------------------------------------------------------------------------ */

static int subject_ok(const char *s)
{
	return s && strlen(s) == 12 && strspn(s, "0123456789") == 12;
}

/* The officials file's entries, checked: {"officials": [{"subject",
 * "name", "role"}]}. NDX_OK with *doc (caller decrefs), else why. */
static int officials_load(const char *path, json_t **doc, char *why, size_t cap)
{
	char *text = NULL;
	size_t len, i;
	json_t *d, *list, *o;
	json_error_t jerr;
	int rc = ndx_file_read(path, OFFICIALS_FILE_MAX, &text, &len);

	*doc = NULL;
	if (rc != NDX_OK)
		return ndx_fail(why, cap, rc, "%s: %s", path,
				rc == NDX_EIO ? "missing or unreadable" : ndx_strerror(rc));
	d = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	free(text);
	list = json_object_get(d, "officials");
	if (!json_is_array(list)) {
		json_decref(d);
		return ndx_fail(why, cap, NDX_EINVAL, "%s: expected {\"officials\": [...]}", path);
	}
	json_array_foreach(list, i, o) {
		const char *s = json_string_value(json_object_get(o, "subject"));
		const char *n = json_string_value(json_object_get(o, "name"));
		const char *r = json_string_value(json_object_get(o, "role"));

		if (!subject_ok(s) || !n || !*n || !r ||
		    (strcmp(r, "administrator") != 0 && strcmp(r, "auditor") != 0)) {
			json_decref(d);
			return ndx_fail(why, cap, NDX_EINVAL,
					"%s: officials[%zu]: expected a 12-digit subject, a name "
					"and a role \"administrator\" or \"auditor\"", path, i);
		}
	}
	*doc = d;
	return NDX_OK;
}

int gw_console_officials_check(const char *path, size_t *n, char *why, size_t cap)
{
	json_t *doc;
	int rc = officials_load(path, &doc, why, cap);

	*n = rc == NDX_OK ? json_array_size(json_object_get(doc, "officials")) : 0;
	json_decref(doc);
	return rc;
}

int gw_console_role(void *path, const char *subject, char *role, size_t cap, char *member,
		    size_t member_cap)
{
	char why[512];
	json_t *doc, *o;
	size_t i;
	int rc = officials_load(path, &doc, why, sizeof why);

	role[0] = '\0';
	if (member_cap)
		member[0] = '\0'; /* a gateway's officials act for its own member only */
	if (rc != NDX_OK) {
		fprintf(stderr, GW_PROG ": console: nobody has a role: %s\n", why);
		return rc;
	}
	json_array_foreach(json_object_get(doc, "officials"), i, o)
		if (strcmp(json_string_value(json_object_get(o, "subject")), subject) == 0)
			snprintf(role, cap, "%s", json_string_value(json_object_get(o, "role")));
	json_decref(doc);
	return NDX_OK;
}

/* ---- the change journal ---------------------------------------------------------------- */

/* Appends a change by w to the journal and says it on stderr (the subject
 * as a keyed tag). */
static void journal(struct gw_console *c, const struct ndx_console_who *w,
		    const struct ndx_http_req *req, const char *action)
{
	char t[NDX_TIME_TEXT_LEN], actor[ACTOR_MAX], tagged[ACTOR_MAX];
	json_t *o;
	char *line;
	FILE *f;

	ndx_time_format(time(NULL), t);
	snprintf(actor, sizeof actor, "official:%s (%s)", w->subject, w->name);
	o = json_pack("{ss ss ss ss}", "time", t, "actor", actor, "action", action, "remote",
		      req->remote_addr ? req->remote_addr : "");
	line = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	pthread_mutex_lock(&c->mu);
	if (!line || !(f = fopen(c->journal_path, "a")) || fprintf(f, "%s\n", line) < 0 ||
	    fclose(f) != 0)
		fprintf(stderr, GW_PROG ": console: cannot write %s\n", c->journal_path);
	pthread_mutex_unlock(&c->mu);
	free(line);
	ndx_redact_pins(actor, tagged, sizeof tagged);
	fprintf(stderr, GW_PROG ": console: %s by %s\n", action, tagged);
}

/* The last JOURNAL_SHOWN changes, newest first. */
static json_t *journal_json(struct gw_console *c)
{
	json_t *all = json_array(), *o;
	char *text = NULL, *line, *end;
	size_t len;

	pthread_mutex_lock(&c->mu);
	if (ndx_file_read(c->journal_path, JOURNAL_FILE_MAX, &text, &len) != NDX_OK)
		text = NULL;
	pthread_mutex_unlock(&c->mu);
	for (line = text; line && *line && all; line = end ? end + 1 : NULL) {
		if ((end = strchr(line, '\n')))
			*end = '\0';
		if ((o = json_loads(line, 0, NULL)))
			json_array_insert_new(all, 0, o);
	}
	free(text);
	while (all && json_array_size(all) > JOURNAL_SHOWN)
		json_array_remove(all, JOURNAL_SHOWN);
	return all;
}

/* ---- what the gateway holds ------------------------------------------------------------- */

static const char *connection_name(enum gw_connection c)
{
	return c == GW_CONN_TLS ? "tls" : c == GW_CONN_TLS_CERT ? "tls-cert" : "http";
}

static json_t *grant_json(const struct ndx_conf_grant *gr)
{
	json_t *m = json_array(), *p = json_array();
	char t[NDX_TIME_TEXT_LEN];

	for (size_t i = 0; i < gr->nmethods; i++)
		json_array_append_new(m, json_string(gr->methods[i]));
	for (size_t i = 0; i < gr->npaths; i++)
		json_array_append_new(p, json_string(gr->paths[i]));
	if (gr->not_after)
		ndx_time_format(gr->not_after, t);
	return json_pack("{ss ss so so ss?}", "client", gr->client, "service", gr->service,
			 "methods", m, "paths", p, "not_after", gr->not_after ? t : NULL);
}

/* Whether id (a subsystem or member) is this gateway's member or one of
 * its subsystems. */
static bool ours(const struct gw_ctx *g, const char *id)
{
	size_t n = strlen(g->cfg->member);

	return strncmp(id, g->cfg->member, n) == 0 && (id[n] == '\0' || id[n] == '/');
}

/* GET /console/api/overview: the gateway, the configuration it holds,
 * maintenance. */
static json_t *overview(struct gw_console *c)
{
	struct gw_ctx *g = c->g;
	char gen[NDX_TIME_TEXT_LEN], exp[NDX_TIME_TEXT_LEN];
	json_t *conf = json_null();
	struct gw_view v;
	time_t now = time(NULL);

	gw_state_acquire(g->state, &v);
	if (v.c && v.c->conf) {
		ndx_time_format(ndx_conf_generated_at(v.c->conf), gen);
		ndx_time_format(ndx_conf_expires_at(v.c->conf), exp);
		conf = json_pack("{sI ss ss ss sb}", "version",
				 (json_int_t)ndx_conf_version(v.c->conf), "instance",
				 ndx_conf_instance(v.c->conf), "generated_at", gen, "expires_at", exp,
				 "valid", gw_view_live(&v, now));
	}
	gw_view_release(&v);
	return json_pack("{s{ss ss ss ss ss ss} so so}", "gateway", "name", g->name, "member",
			 g->cfg->member, "code", g->cfg->code, "sign_key_id", g->cfg->sign_key_id,
			 "tls_cert_sha256", g->cfg->tls_fingerprint, "registry", g->cfg->registry_url,
			 "conf", conf, "maintenance", gw_maintenance_json(g->maint));
}

/* GET /console/api/services: subsystems, backends, the services provided
 * and the grants held (from the configuration held). */
static json_t *services(struct gw_console *c)
{
	struct gw_ctx *g = c->g;
	json_t *subs = json_array(), *svcs = json_array(), *held = json_array(),
	       *given = json_array();
	const struct ndx_conf_grant *gr;
	const struct ndx_conf_service *cs;
	struct gw_view v;

	gw_state_acquire(g->state, &v);
	for (size_t i = 0; i < v.s->nsubsystems; i++)
		json_array_append_new(subs, json_pack("{ss ss ss?}", "id", v.s->subsystems[i],
						      "connection",
						      connection_name(v.s->auth[i].conn), "push",
						      v.s->auth[i].push_url));
	for (size_t i = 0; i < v.s->nservices; i++) {
		const struct gw_service *s = &v.s->services[i];

		cs = v.c && v.c->conf ? ndx_conf_service_of(v.c->conf, s->id) : NULL;
		json_array_append_new(svcs, json_pack("{ss ss sI ss? sb sb}", "id", s->id, "backend",
						      s->backend ? s->backend : s->builtin ?
						      GW_BACKEND_SUBJECT_ACCESSES : "",
						      "timeout_ms", (json_int_t)s->timeout_ms,
						      "title", cs ? cs->title : NULL, "registered",
						      cs != NULL, "personal", cs && cs->personal));
	}
	for (size_t i = 0; v.c && v.c->conf && (gr = ndx_conf_grant_at(v.c->conf, i)); i++) {
		if (ours(g, gr->client))
			json_array_append_new(held, grant_json(gr));
		else if (ours(g, gr->service))
			json_array_append_new(given, grant_json(gr));
	}
	gw_view_release(&v);
	return json_pack("{so so so so}", "subsystems", subs, "services", svcs, "grants_held", held,
			 "grants_given", given);
}

/* POST /console/api/log/verify: the message log checked with this
 * gateway's own key and the anchor (ndx log verify --anchor). */
static json_t *verify(struct gw_console *c)
{
	struct ndx_msglog_verify_result res;
	char root[2 * NDX_SHA256_LEN + 1] = "", t[NDX_TIME_TEXT_LEN];
	int rc;

	pthread_mutex_lock(&c->run_mu);
	rc = ndx_msglog_verify_witnessed(c->g->cfg->msglog_path, NULL, c->g->cfg->sign_key,
					 c->g->cfg->anchor, &res);
	pthread_mutex_unlock(&c->run_mu);
	if (res.head.batch > 0)
		ndx_hex_encode(res.head.root, NDX_SHA256_LEN, root);
	ndx_time_format(time(NULL), t);
	return json_pack("{sb ss sI sI sI sI sI sI ss? sI sI sf ss ss? sb}", "ok", rc == NDX_OK,
			 "checked_at", t, "records", (json_int_t)res.records, "batched",
			 (json_int_t)res.batched, "batches", (json_int_t)res.batches, "first_seq",
			 (json_int_t)res.first_seq, "last_seq", (json_int_t)res.last_seq,
			 "head_batch", (json_int_t)res.head.batch, "head_root",
			 root[0] ? root : NULL, "witnesses", (json_int_t)res.witnesses,
			 "witnessed_batch", (json_int_t)res.witnessed_batch, "seconds", res.seconds,
			 "key_id", res.key_id, "error", rc == NDX_OK ? NULL : res.error,
			 "archived_before", res.anchored);
}

/* ---- the API ----------------------------------------------------------------------------- */

static int is_get(const char *m)
{
	return strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
}

/* The maintenance switch: {"on": true|false}. */
static void maintenance_post(struct gw_console *c, const struct ndx_console_who *w,
			     const struct ndx_http_req *req, struct ndx_http_resp *resp)
{
	json_t *body = req->body ? json_loadb((const char *)req->body, req->body_len, 0, NULL)
				 : NULL;
	json_t *on = json_object_get(body, "on");
	char who[ACTOR_MAX];
	bool want;
	int rc;

	if (!json_is_boolean(on)) {
		json_decref(body);
		ndx_http_resp_error(resp, 400, "Client.BadRequest", "bad request",
				    "expected {\"on\": true} or {\"on\": false}");
		return;
	}
	want = json_is_true(on);
	json_decref(body);
	snprintf(who, sizeof who, "official:%s (%s)", w->subject, w->name);
	if ((rc = gw_maintenance_set(c->g->maint, want, who)) != NDX_OK) {
		fprintf(stderr, GW_PROG ": console: maintenance state not written: %s\n",
			ndx_strerror(rc));
		ndx_http_resp_error(resp, 500, "Server.InternalError", "not changed",
				    "the maintenance state could not be written");
		return;
	}
	journal(c, w, req, want ? "maintenance.on" : "maintenance.off");
	ndx_http_resp_json(resp, 200, gw_maintenance_json(c->g->maint));
}

/* What a role may do: every GET; the verify run and the connection test
 * (they change nothing) for both; a change only for an administrator. */
static const char *refusal(const struct ndx_console_who *w, const struct ndx_http_req *req,
			   bool change)
{
	if (!w->role[0])
		return "not an official of this gateway";
	if (is_get(req->method))
		return NULL;
	if (!ndx_console_csrf_ok(w, req))
		return "the X-CSRF-Token header is missing or wrong";
	if (change && strcmp(w->role, "administrator") != 0)
		return "an auditor reads only";
	return NULL;
}

static void json_answer(struct ndx_http_resp *resp, json_t *o)
{
	if (o)
		ndx_http_resp_json(resp, 200, o);
	else
		ndx_http_resp_error(resp, 500, "Server.InternalError", "internal error",
				    "out of memory");
}

static void api(struct gw_console *c, const struct ndx_http_req *req, struct ndx_http_resp *resp)
{
	const char *p = req->path + strlen("/console/api"), *why, *m = req->method;
	struct ndx_console_who w;
	bool post = strcmp(m, "POST") == 0, change = strcmp(p, "/maintenance") == 0 && post;
	json_t *o;

	if (!ndx_console_session(c->ui, req, &w)) {
		ndx_http_resp_error(resp, 401, "Client.Unauthenticated", "not signed in",
				    "sign in at /console/auth/login");
		return;
	}
	if ((why = refusal(&w, req, change))) {
		/* Without the personal number: no log holds one in clear (T34). */
		fprintf(stderr, GW_PROG ": console refused %s %s for a %s session: %s\n", m, req->path,
			w.role[0] ? w.role : "non-official", why);
		ndx_http_resp_error(resp, 403, strstr(why, "CSRF") ? "Client.Csrf" : "Client.Forbidden",
				    "forbidden", why);
		return;
	}
	if (strcmp(p, "/overview") == 0 && is_get(m))
		json_answer(resp, overview(c));
	else if (strcmp(p, "/services") == 0 && is_get(m))
		json_answer(resp, services(c));
	else if (strcmp(p, "/log") == 0 && is_get(m))
		gw_log_head(c->g->log, c->g->cfg, resp);
	else if (strcmp(p, "/log/verify") == 0 && post)
		json_answer(resp, verify(c));
	else if (strcmp(p, "/maintenance") == 0 && is_get(m))
		json_answer(resp, gw_maintenance_json(c->g->maint));
	else if (strcmp(p, "/maintenance") == 0 && post)
		maintenance_post(c, &w, req, resp);
	else if (strcmp(p, "/changes") == 0 && is_get(m))
		json_answer(resp, json_pack("{so}", "changes", journal_json(c)));
	else if (strcmp(p, "/peers/test") == 0 && post) {
		const char *only = ndx_http_query_arg(req, "gateway");

		pthread_mutex_lock(&c->run_mu);
		o = gw_conntest_run(c->g, only && *only ? only : NULL, &why);
		pthread_mutex_unlock(&c->run_mu);
		if (o)
			ndx_http_resp_json(resp, 200, o);
		else
			ndx_http_resp_error(resp, 503, "Server.Unavailable", "cannot test", why);
	} else if (strcmp(p, "/overview") == 0 || strcmp(p, "/services") == 0 ||
		   strcmp(p, "/log") == 0 || strcmp(p, "/log/verify") == 0 ||
		   strcmp(p, "/maintenance") == 0 || strcmp(p, "/changes") == 0 ||
		   strcmp(p, "/peers/test") == 0)
		ndx_http_resp_error(resp, 405, "Client.MethodNotAllowed", "method not allowed", m);
	else
		ndx_http_resp_error(resp, 404, "Client.NotFound", "no such path", req->path);
	ndx_http_resp_header(resp, "Cache-Control", "no-store");
}

static void handle(void *ctx, const struct ndx_http_req *req, struct ndx_http_resp *resp)
{
	struct gw_console *c = ctx;

	if (strcmp(req->path, "/console/api") == 0 || strncmp(req->path, "/console/api/", 13) == 0) {
		api(c, req, resp);
		ndx_console_headers(resp);
	} else if (ndx_console_path(req->path)) {
		ndx_console_handle(c->ui, req, resp, HINT);
	} else if (strcmp(req->path, "/") == 0) {
		ndx_http_resp_header(resp, "Location", "/console/");
		ndx_http_resp_bytes(resp, 302, "text/plain; charset=utf-8", "", 0);
	} else {
		ndx_http_resp_error(resp, 404, "Client.NotFound", "no such path",
				    "the console is at /console/");
	}
}

/* ---- life ------------------------------------------------------------------------------- */

int gw_console_start(struct gw_ctx *g, struct gw_console **out, char *why, size_t cap)
{
	const struct gw_console_cfg *cc = &g->cfg->console;
	struct gw_console *c = calloc(1, sizeof *c);
	struct ndx_httpd_config hc = { 0 };
	char *secret = NULL;
	size_t n = strlen(g->cfg->data_dir) + sizeof "/console-changes.jsonl", officials;
	int rc;

	*out = NULL;
	if (!c || !(c->journal_path = malloc(n))) {
		free(c);
		return ndx_fail(why, cap, NDX_ENOMEM, "out of memory");
	}
	pthread_mutex_init(&c->mu, NULL);
	pthread_mutex_init(&c->run_mu, NULL);
	c->g = g;
	snprintf(c->journal_path, n, "%s/console-changes.jsonl", g->cfg->data_dir);
	if ((rc = gw_console_officials_check(cc->officials_path, &officials, why, cap)) != NDX_OK)
		goto fail;
	if ((rc = ndx_file_read_secret(cc->secret_path, &secret)) != NDX_OK) {
		rc = ndx_fail(why, cap, rc, "console.client_secret_file %s: %s", cc->secret_path,
			      rc == NDX_EINVAL ? "the first line is empty" : "missing or unreadable");
		goto fail;
	}
	struct ndx_console_config ucfg = {
		.prog = GW_PROG, .module = "gateway-console.mjs", .web_dir = cc->web_dir,
		.assets_dir = cc->assets_dir, .public_url = cc->public_url, .issuer = cc->issuer,
		.client_id = cc->client_id, .client_secret = secret, .role_of = gw_console_role,
		.role_ud = cc->officials_path,
	};
	rc = ndx_console_new(&ucfg, &c->ui);
	OPENSSL_cleanse(secret, strlen(secret));
	free(secret);
	if (rc != NDX_OK) {
		rc = ndx_fail(why, cap, rc, "out of memory");
		goto fail;
	}
	hc.name = GW_PROG;
	hc.bind_addr = cc->addr;
	hc.port = cc->port;
	hc.threads = 2;
	hc.max_body = 64 * 1024;
	hc.handler = handle;
	hc.ctx = c;
	hc.access_log = 1;
	hc.strict = 1;
	hc.engine = NDX_HTTPD_MHD;
	if ((rc = ndx_httpd_start(&hc, &c->httpd)) != NDX_OK) {
		rc = ndx_fail(why, cap, rc, "console.listen %s:%u: cannot listen", cc->addr,
			      (unsigned)cc->port);
		goto fail;
	}
	fprintf(stderr, GW_PROG ": console listening on http://%s:%u/console/ (%zu officials)\n",
		cc->addr, (unsigned)ndx_httpd_port(c->httpd), officials);
	*out = c;
	return NDX_OK;
fail:
	gw_console_stop(c);
	return rc;
}

void gw_console_stop(struct gw_console *c)
{
	if (!c)
		return;
	ndx_httpd_stop(c->httpd);
	ndx_console_free(c->ui);
	pthread_mutex_destroy(&c->mu);
	pthread_mutex_destroy(&c->run_mu);
	free(c->journal_path);
	free(c);
}
