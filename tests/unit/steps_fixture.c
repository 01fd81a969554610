/* The federation, gateways, server and client of the gateway step tests
 * (steps_fixture.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "steps_fixture.h"

#include "metrics.h"
#include "userheaders.h"
#include "xfer.h"
#include "ndx/conf.h"
#include "ndx/encode.h"
#include "ndx/err.h"
#include "ndx/file.h"
#include "ndx/pki.h"
#include "ndx/timefmt.h"

#define FAKE_FP16(c) c c c c c c c c c c c c c c c c
#define FAKE_FP(c) FAKE_FP16(c) FAKE_FP16(c) FAKE_FP16(c) FAKE_FP16(c)

/* Each gateway's TLS certificate: real for the two the tests load (the
 * configuration file needs one), a placeholder fingerprint for the others. */
static char *tls_key_pem[2], *tls_cert_pem[2];
static char tls_fp[2][NDX_CERT_FINGERPRINT_HEX_LEN + 1];

static json_t *gateway_json(const char *member, const char *code, const char *fp,
			    const struct ndx_key *key)
{
	uint8_t raw[NDX_ED25519_PUBLIC_LEN];
	char kid[NDX_KEY_ID_HEX_LEN + 1], *b64;
	json_t *g;

	ndx_key_public_raw(key, raw);
	ndx_key_id(key, kid);
	if (!(b64 = ndx_b64_encode(raw, sizeof raw, 0)))
		return NULL;
	g = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "member", member, "code", code,
		      "address", "https://127.0.0.1:1", "tls_cert_sha256", fp, "sign_key", b64,
		      "sign_key_id", kid);
	free(b64);
	return g;
}

static json_t *document(const struct sx_fed *f)
{
	char gen[NDX_TIME_TEXT_LEN], exp[NDX_TIME_TEXT_LEN];
	time_t now = time(NULL);

	ndx_time_format(now - 60, gen);
	ndx_time_format(now + 3600, exp);
	return json_pack(
		"{s:s, s:s, s:i, s:s, s:s, s:{s:s, s:n}, s:[s,s],"
		" s:[{s:s}, {s:s}, {s:s}],"
		" s:[{s:s}, {s:s}, {s:s}],"
		" s:[o, o, o, o],"
		" s:[{s:s, s:b, s:[s], s:b}, {s:s, s:b, s:[], s:b}],"
		" s:[{s:s, s:s, s:[s], s:[s]}, {s:s, s:s, s:[s], s:[s]}],"
		" s:[], s:[]}",
		"format", NDX_CONF_FORMAT, "instance", "VN", "version", 1, "generated_at", gen,
		"expires_at", exp, "registry", "url", "http://127.0.0.1:1", "ca_certificate",
		"member_classes", "GOV", "COM",
		"members", "id", SX_MOF, "id", SX_BCA, "id", SX_COM,
		"subsystems", "id", SX_TAX, "id", SX_POPULATION, "id", SX_OUTSIDER,
		"gateways",
		gateway_json(SX_MOF, "gw1", tls_fp[0], f->key[SX_KEY_MOF_GW1]),
		gateway_json(SX_BCA, "gw1", tls_fp[1], f->key[SX_KEY_BCA_GW1]),
		gateway_json(SX_BCA, "gw2", FAKE_FP("c"), f->key[SX_KEY_BCA_GW2]),
		gateway_json(SX_COM, "gw1", FAKE_FP("d"), f->key[SX_KEY_COM_GW1]),
		"services",
		"id", SX_CITIZENS, "personal", 1, "purposes", SX_PURPOSE, "consent_required", 0,
		"id", SX_HOUSEHOLDS, "personal", 0, "purposes", "consent_required", 0,
		"grants",
		"client", SX_TAX, "service", SX_CITIZENS, "methods", "GET", "paths", "/citizens/*",
		"client", SX_TAX, "service", SX_HOUSEHOLDS, "methods", "GET", "paths", "*",
		"revocations", "consent_services");
}

static int write_text(const char *dir, const char *name, const char *text)
{
	char path[1200];

	snprintf(path, sizeof path, "%s/%s", dir, name);
	return ndx_file_write_atomic(path, text, strlen(text), 0600, 0);
}

struct sx_fed *sx_fed_new(void)
{
	struct sx_fed *f = calloc(1, sizeof *f);
	const char *base = getenv("NDX_TEST_TMP");
	json_t *doc = NULL, *anchor = NULL;
	char *text = NULL;
	char err[512];
	struct ndx_conf *check = NULL;

	if (!f)
		return NULL;
	for (int i = 0; i < SX_KEY_N; i++)
		if (ndx_key_generate(&f->key[i]) != NDX_OK)
			goto fail;
	for (int i = 0; i < 2; i++)
		if (!tls_cert_pem[i] &&
		    (ndx_pki_ca_create(i ? "BCA gw1" : "MOF gw1", 1, &tls_key_pem[i],
				       &tls_cert_pem[i]) != NDX_OK ||
		     ndx_pki_cert_fingerprint(tls_cert_pem[i], tls_fp[i]) != NDX_OK))
			goto fail;
	snprintf(f->dir, sizeof f->dir, "%s/steps-XXXXXX", base ? base : "/tmp");
	if (!mkdtemp(f->dir))
		goto fail;
	if (!(doc = document(f)) || !(text = json_dumps(doc, JSON_INDENT(2))))
		goto fail;
	f->conf_json = text;
	f->conf_len = strlen(text);
	text = NULL;
	if (!(f->conf_sig = ndx_conf_sign(f->key[SX_KEY_REGISTRY], f->conf_json, f->conf_len)))
		goto fail;
	if (!(anchor = ndx_anchor_build("VN", "http://127.0.0.1:1", f->key[SX_KEY_REGISTRY])) ||
	    !(text = json_dumps(anchor, JSON_INDENT(2))) ||
	    write_text(f->dir, "anchor.json", text) != NDX_OK)
		goto fail;
	/* The document must be one ndx_conf_parse accepts, or every case
	 * would fail at check_gateway for a reason of the fixture's. */
	if (ndx_conf_parse((const uint8_t *)f->conf_json, f->conf_len, &check, err, sizeof err) !=
	    NDX_OK) {
		fprintf(stderr, "steps fixture: the configuration does not parse: %s\n", err);
		goto fail;
	}
	ndx_conf_free(check);
	free(text);
	json_decref(doc);
	json_decref(anchor);
	return f;
fail:
	free(text);
	json_decref(doc);
	json_decref(anchor);
	sx_fed_free(f);
	return NULL;
}

void sx_fed_free(struct sx_fed *f)
{
	if (!f)
		return;
	for (int i = 0; i < SX_KEY_N; i++)
		ndx_key_free(f->key[i]);
	free(f->conf_json);
	free(f->conf_sig);
	free(f);
	for (int i = 0; i < 2; i++) {
		free(tls_key_pem[i]);
		free(tls_cert_pem[i]);
		tls_key_pem[i] = tls_cert_pem[i] = NULL;
	}
}

struct sx_gateway *sx_gateway_open(struct sx_fed *f, const char *member, const char *code,
				   enum sx_key sign_key, const char *subsystems_json,
				   const char *services_json)
{
	struct sx_gateway *g = calloc(1, sizeof *g);
	int t = strcmp(member, SX_BCA) == 0;
	char dir[600], path[700], conf_dir[700], key_path[700], file[4096], err[512];

	if (!g)
		return NULL;
	snprintf(dir, sizeof dir, "%s/%s-%s", f->dir, member + 7, code);
	snprintf(conf_dir, sizeof conf_dir, "%s/data/conf", dir);
	snprintf(key_path, sizeof key_path, "%s/sign.key", dir);
	if (ndx_mkdirs(dir, 0700) != NDX_OK ||
	    ndx_conf_save_dir(conf_dir, (const uint8_t *)f->conf_json, f->conf_len, f->conf_sig) !=
		    NDX_OK ||
	    ndx_key_save_private(f->key[sign_key], key_path) != NDX_OK ||
	    write_text(dir, "tls.key", tls_key_pem[t]) != NDX_OK ||
	    write_text(dir, "tls.pem", tls_cert_pem[t]) != NDX_OK)
		goto fail;
	snprintf(file, sizeof file,
		 "{\"member\": \"%s\", \"code\": \"%s\", \"subsystems\": %s,\n"
		 " \"data_dir\": \"data\", \"anchor\": \"../anchor.json\",\n"
		 " \"sign_key\": \"sign.key\", \"tls_key\": \"tls.key\", \"tls_cert\": \"tls.pem\",\n"
		 " \"services\": %s, \"limits\": {\"threads\": 1}}\n",
		 member, code, subsystems_json, services_json);
	if (write_text(dir, "gateway.json", file) != NDX_OK)
		goto fail;
	snprintf(path, sizeof path, "%s/gateway.json", dir);
	if (gw_config_load(path, &g->cfg, err, sizeof err) != NDX_OK) {
		fprintf(stderr, "steps fixture: %s\n", err);
		goto fail;
	}
	if (gw_state_new(g->cfg, &g->state) != NDX_OK ||
	    gw_gateway_name(g->cfg->member, g->cfg->code, g->ctx.name, sizeof g->ctx.name) !=
		    NDX_OK)
		goto fail;
	g->ctx.state = g->state;
	g->ctx.cfg = g->cfg;
	return g;
fail:
	sx_gateway_free(g);
	return NULL;
}

void sx_gateway_free(struct sx_gateway *g)
{
	if (!g)
		return;
	gw_state_free(g->state);
	gw_config_free(g->cfg);
	free(g);
}

struct ndx_httpd *sx_server_start(ndx_http_handler handler, void *ctx, uint16_t *port)
{
	struct ndx_httpd_config hc = { .name = "steps-test", .handler = handler, .ctx = ctx,
				       .threads = 1, .max_body = 1 << 20 };
	struct ndx_httpd *srv;

	if (ndx_httpd_start(&hc, &srv) != NDX_OK)
		return NULL;
	*port = ndx_httpd_port(srv);
	return srv;
}

struct sink {
	struct sx_reply *r;
	size_t cap;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
	struct sink *s = ud;
	size_t n = size * nmemb;

	if (s->r->len + n + 1 > s->cap) {
		size_t cap = (s->r->len + n + 1) * 2;
		char *b = realloc(s->r->body, cap);
		if (!b)
			return 0;
		s->r->body = b;
		s->cap = cap;
	}
	memcpy(s->r->body + s->r->len, data, n);
	s->r->len += n;
	s->r->body[s->r->len] = '\0';
	return n;
}

static void header_value(const char *line, size_t n, const char *name, char *out, size_t cap)
{
	size_t nl = strlen(name), vl;

	if (n <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
		return;
	line += nl + 1;
	n -= nl + 1;
	while (n && (*line == ' ' || *line == '\t'))
		line++, n--;
	while (n && (line[n - 1] == '\r' || line[n - 1] == '\n'))
		n--;
	vl = n < cap - 1 ? n : cap - 1;
	memcpy(out, line, vl);
	out[vl] = '\0';
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
	struct sx_reply *r = ud;
	size_t n = size * nmemb;

	header_value(data, n, "X-Road-Error", r->xroad_error, sizeof r->xroad_error);
	header_value(data, n, "Content-Type", r->content_type, sizeof r->content_type);
	return n;
}

int sx_send(uint16_t port, const char *method, const char *target, const char *const *headers,
	    struct sx_reply *out)
{
	CURL *c = curl_easy_init();
	struct curl_slist *l = NULL;
	struct sink s = { out, 0 };
	char url[4200];
	CURLcode cc;

	memset(out, 0, sizeof *out);
	if (!c)
		return -1;
	snprintf(url, sizeof url, "http://127.0.0.1:%u%s", (unsigned)port, target);
	for (size_t i = 0; headers && headers[i]; i++)
		l = curl_slist_append(l, headers[i]);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, l);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 20000L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, out);
	cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
	curl_slist_free_all(l);
	curl_easy_cleanup(c);
	return cc == CURLE_OK ? 0 : -1;
}

void sx_reply_free(struct sx_reply *r)
{
	free(r->body);
	r->body = NULL;
}

unsigned long sx_refusals_rendered(struct sx_gateway *g, const char *side, const char *reason)
{
	struct gw_view v;
	char needle[256], *text, *at;
	unsigned long n = 0;

	gw_state_acquire(g->state, &v);
	text = gw_metrics_render(&v, NULL, time(NULL));
	gw_view_release(&v);
	snprintf(needle, sizeof needle, "ndx_gateway_errors_total{side=\"%s\",", side);
	for (at = text; at && (at = strstr(at, needle)); at++) {
		char want[128];
		const char *r = strstr(at, ",reason=\"");
		snprintf(want, sizeof want, ",reason=\"%s\"} ", reason);
		if (r && strncmp(r, want, strlen(want)) == 0 && r < strchr(at, '\n')) {
			n = strtoul(r + strlen(want), NULL, 10);
			break;
		}
	}
	free(text);
	return n;
}

void sx_no_user_headers(uint8_t out[NDX_SHA256_LEN])
{
	static const struct gw_uh_list none;

	gw_uh_hash(&none, out);
}
