/* collect.h. The configuration is fetched again each round when it is more
 * than a minute old, so that a gateway registered today is collected today;
 * a fetch that fails keeps the last good document until it expires. Pages
 * are asked until one comes back short, at most MAX_PAGES a gateway a
 * round, so that one gateway with a backlog cannot starve the others. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cases.h"
#include "collect.h"
#include "misuse.h"
#include "mmeasures.h"
#include "mreads.h"
#include "ndx/conf.h"
#include "ndx/err.h"
#include "ndx/fetch.h"
#include "ndx/id.h"
#include "ndx/key.h"
#include "ndx/msglog.h"

#define PROG "ndx-monitor"
#define CONF_REFRESH_S 60
#define MAX_PAGES 50
#define PAGE_BODY_MAX (64u * 1024u * 1024u)
/* Proofs fetched a round, all cases together, so that a bulk finding's
 * evidence cannot hold a round up for long; the rest wait a round. */
#define PROOFS_PER_ROUND 200
#define PROOF_BODY_MAX (1024u * 1024u)
/* A measures answer: at most 100 runs of a handful of tables. */
#define MEASURES_BODY_MAX (4u * 1024u * 1024u)
#define MEASURES_PAGE 100

struct collector {
	struct collector_config cfg;
	char *registry_urls[COLLECT_REGISTRIES_MAX];
	size_t n_registry_urls;
	size_t reg_at; /* the registry_urls entry that answered last */
	char *gateway_url, *client;
	struct ndx_conf *conf;
	time_t conf_fetched;
	time_t measures_read; /* when the registries' measures were last read, 0: never */
	pthread_t thread;
	bool running;
	bool stop;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct collector_stats stats; /* under mu */
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *trimmed_dup(const char *url)
{
	size_t n = strlen(url);

	while (n > 0 && url[n - 1] == '/')
		n--;
	return strndup(url, n);
}

/* ---- the configuration ------------------------------------------------------ */

static void conf_error(struct collector *c, const char *why)
{
	pthread_mutex_lock(&c->mu);
	snprintf(c->stats.conf_error, sizeof c->stats.conf_error, "%.255s", why);
	pthread_mutex_unlock(&c->mu);
	fprintf(stderr, PROG ": configuration: %s\n", why);
}

/* The configuration from one registry node: NDX_OK with *out, or the
 * reason in why. */
static int fetch_conf_from(struct collector *c, const char *base, time_t now,
			   struct ndx_conf **out, char *why, size_t whycap)
{
	struct ndx_fetch_req req = { .method = "GET", .timeout_ms = 30000,
				     .max_body = 64u * 1024u * 1024u };
	struct ndx_fetch_resp resp;
	char url[2048], err[512] = "";
	int rc;

	snprintf(url, sizeof url, "%s/conf", base);
	req.url = url;
	req.want_header = "Ndx-Conf-Signature";
	if ((rc = ndx_fetch(&req, &resp)) != NDX_OK) {
		snprintf(why, whycap, "cannot fetch %.300s: %s", url, ndx_strerror(rc));
		return rc;
	}
	if (resp.status != 200) {
		snprintf(why, whycap, "%.300s answered %ld", url, resp.status);
		ndx_fetch_resp_free(&resp);
		return NDX_EIO;
	}
	rc = ndx_conf_verify((const uint8_t *)resp.body, resp.len, resp.wanted,
			     c->cfg.anchor, now, out, err, sizeof err);
	ndx_fetch_resp_free(&resp);
	if (rc != NDX_OK)
		snprintf(why, whycap, "the configuration from %.300s was rejected: %.400s", url,
			 err);
	return rc;
}

/* From the registry node that answered last, else each other in turn; a
 * switch to another node is said once on stderr. */
static void refresh_conf(struct collector *c)
{
	struct ndx_conf *conf = NULL;
	char why[768] = "", first[768] = "";
	time_t now = time(NULL);
	size_t i = 0, at = c->reg_at;

	if (c->conf && now - c->conf_fetched < CONF_REFRESH_S)
		return;
	for (i = 0; i < c->n_registry_urls; i++) {
		at = (c->reg_at + i) % c->n_registry_urls;
		if (fetch_conf_from(c, c->registry_urls[at], now, &conf, why, sizeof why) == NDX_OK)
			break;
		if (!first[0])
			snprintf(first, sizeof first, "%s", why);
	}
	if (!conf) {
		conf_error(c, c->n_registry_urls > 1 ? first : why);
		return;
	}
	if (at != c->reg_at)
		fprintf(stderr, PROG ": configuration fetched from %s (%s)\n", c->registry_urls[at],
			first);
	c->reg_at = at;
	/* swapped under the lock: the API's threads read names from it
	 * (collector_names); the collector's own thread reads it without */
	pthread_mutex_lock(&c->mu);
	struct ndx_conf *old = c->conf;
	c->conf = conf;
	c->stats.conf_error[0] = '\0';
	c->stats.conf_version = ndx_conf_version(conf);
	pthread_mutex_unlock(&c->mu);
	ndx_conf_free(old);
	c->conf_fetched = now;
}

/* ---- one gateway --------------------------------------------------------------- */

/* "{own gateway}/o1/{instance}/{class}/{member}/{code}/{read}": the
 * gateway's name (a member id and a code: the shape of a subsystem id)
 * with each part percent-encoded. NDX_OK or NDX_EINVAL. */
static int read_url(const struct collector *c, const char *name, const char *read, char *out,
		    size_t cap)
{
	char wire[NDX_ID_TEXT_MAX];
	struct ndx_id id;
	int n;

	if (ndx_id_parse(name, strlen(name), NDX_ID_SUBSYSTEM, &id, NULL) != NDX_OK ||
	    ndx_id_format_wire(&id, wire, sizeof wire) < 0)
		return NDX_EINVAL;
	n = snprintf(out, cap, "%s/o1/%s/%s", c->gateway_url, wire, read);
	return n < 0 || (size_t)n >= cap ? NDX_EINVAL : NDX_OK;
}

/* The gateway's own state from its health answer (GET
 * /o1/{gateway}/health): kept when it comes, ignored when it does not (the
 * records decide up or down). */
static void collect_state(struct collector *c, const char *name)
{
	char url[4096], client_hdr[512];
	const char *headers[] = { client_hdr, "Accept: application/json", NULL };
	struct ndx_fetch_req req = { .method = "GET", .url = url, .headers = headers,
				     .timeout_ms = 30000 };
	struct ndx_fetch_resp resp;
	json_t *doc;

	if (read_url(c, name, "health", url, sizeof url) != NDX_OK)
		return;
	snprintf(client_hdr, sizeof client_hdr, "X-Road-Client: %s", c->client);
	if (ndx_fetch(&req, &resp) != NDX_OK)
		return;
	doc = resp.status == 200 ? json_loadb(resp.body ? resp.body : "", resp.len, 0, NULL)
				 : NULL;
	ndx_fetch_resp_free(&resp);
	if (json_is_object(json_object_get(doc, "gateway_state")))
		mstore_gateway_state(c->cfg.st, name, json_object_get(doc, "gateway_state"),
				     now_ms());
	json_decref(doc);
}

/* Collects one gateway; false when it is down (kept with the reason). */
static bool collect_gateway(struct collector *c, const char *member, const char *code)
{
	char name[1024], url[4096], client_hdr[512], why[512];
	const char *headers[] = { client_hdr, "Accept: application/json", NULL };
	struct ndx_fetch_req req = { .method = "GET", .url = url, .headers = headers,
				     .timeout_ms = 30000, .max_body = PAGE_BODY_MAX };
	struct ndx_fetch_resp resp;
	uint64_t after = 0;
	json_t *doc;
	int rc;

	snprintf(name, sizeof name, "%s/%s", member, code);
	snprintf(client_hdr, sizeof client_hdr, "X-Road-Client: %s", c->client);
	if (mstore_cursor(c->cfg.st, name, &after) != NDX_OK)
		return false;
	for (int page = 0; page < MAX_PAGES; page++) {
		const json_t *records, *next;
		size_t added = 0, bad = 0, n;

		char read[96];

		snprintf(read, sizeof read, "records?after=%llu&limit=%u",
			 (unsigned long long)after, c->cfg.page);
		if ((rc = read_url(c, name, read, url, sizeof url)) != NDX_OK) {
			mstore_gateway_failed(c->cfg.st, name, member, now_ms(),
					      "not a gateway name this service can ask for");
			return false;
		}
		if ((rc = ndx_fetch(&req, &resp)) != NDX_OK) {
			snprintf(why, sizeof why, "own gateway: %s", ndx_strerror(rc));
			mstore_gateway_failed(c->cfg.st, name, member, now_ms(), why);
			return false;
		}
		if (resp.status != 200) {
			/* The refusal's type names who refused and why (an X-Road
			 * error), never data. */
			snprintf(why, sizeof why, "%ld %s", resp.status,
				 resp.xroad_error[0] ? resp.xroad_error : "error");
			ndx_fetch_resp_free(&resp);
			mstore_gateway_failed(c->cfg.st, name, member, now_ms(), why);
			return false;
		}
		doc = json_loadb(resp.body ? resp.body : "", resp.len, 0, NULL);
		ndx_fetch_resp_free(&resp);
		records = json_object_get(doc, "records");
		next = json_object_get(doc, "next_after");
		if (!json_is_array(records)) {
			json_decref(doc);
			mstore_gateway_failed(c->cfg.st, name, member, now_ms(),
					      "answer without a records list");
			return false;
		}
		n = json_array_size(records);
		rc = mstore_add_page(c->cfg.st, name, member, records, now_ms(), &added, &bad);
		if (json_is_integer(next) && (uint64_t)json_integer_value(next) > after)
			after = (uint64_t)json_integer_value(next);
		json_decref(doc);
		pthread_mutex_lock(&c->mu);
		c->stats.records += (long long)added;
		c->stats.bad_records += (long long)bad;
		pthread_mutex_unlock(&c->mu);
		if (rc != NDX_OK)
			return false;
		if (n < c->cfg.page)
			break;
	}
	collect_state(c, name);
	return true;
}

/* ---- personal reads --------------------------------------------------------- */

static void count(struct collector *c, long long *field, long long n)
{
	pthread_mutex_lock(&c->mu);
	*field += n;
	pthread_mutex_unlock(&c->mu);
}

/* The gateway's personal reads past the cursor, page after page until one
 * comes back short or next_after stops moving (at most MAX_PAGES). A
 * failure is counted and logged but does not make the gateway down: its
 * records decide that, and a gateway of an older version answers no
 * accesses at all. */
static void collect_accesses(struct collector *c, const char *name)
{
	char url[4096], client_hdr[512], read[96];
	const char *headers[] = { client_hdr, "Accept: application/json", NULL };
	struct ndx_fetch_req req = { .method = "GET", .url = url, .headers = headers,
				     .timeout_ms = 30000, .max_body = PAGE_BODY_MAX };
	struct ndx_fetch_resp resp;
	uint64_t after = 0;
	int rc;

	snprintf(client_hdr, sizeof client_hdr, "X-Road-Client: %s", c->client);
	if (mreads_cursor(c->cfg.st, name, &after) != NDX_OK)
		return;
	for (int page = 0; page < MAX_PAGES; page++) {
		const json_t *list, *next;
		size_t added = 0, bad = 0, n;
		int64_t next_after;
		json_t *doc;

		snprintf(read, sizeof read, "accesses?after=%llu&limit=%u",
			 (unsigned long long)after, c->cfg.page);
		if (read_url(c, name, read, url, sizeof url) != NDX_OK)
			return;
		if ((rc = ndx_fetch(&req, &resp)) != NDX_OK) {
			fprintf(stderr, PROG ": accesses of %s: own gateway: %s\n", name,
				ndx_strerror(rc));
			count(c, &c->stats.reads_failed, 1);
			return;
		}
		if (resp.status != 200) {
			fprintf(stderr, PROG ": accesses of %s: %ld %s\n", name, resp.status,
				resp.xroad_error[0] ? resp.xroad_error : "error");
			ndx_fetch_resp_free(&resp);
			count(c, &c->stats.reads_failed, 1);
			return;
		}
		doc = json_loadb(resp.body ? resp.body : "", resp.len, 0, NULL);
		ndx_fetch_resp_free(&resp);
		list = json_object_get(doc, "accesses");
		next = json_object_get(doc, "next_after");
		if (!json_is_array(list) || !json_is_integer(next) || json_integer_value(next) < 0) {
			fprintf(stderr, PROG ": accesses of %s: an answer without accesses and"
					" next_after\n", name);
			json_decref(doc);
			count(c, &c->stats.reads_failed, 1);
			return;
		}
		n = json_array_size(list);
		next_after = (int64_t)json_integer_value(next);
		rc = mreads_add_page(c->cfg.st, name, list, next_after, now_ms(), &added, &bad);
		json_decref(doc);
		count(c, &c->stats.reads, (long long)added);
		count(c, &c->stats.bad_reads, (long long)bad);
		if (rc != NDX_OK || (uint64_t)next_after <= after || n < c->cfg.page)
			return;
		after = (uint64_t)next_after;
	}
}

/* ---- the registries' four measures ----------------------------------------------- */

/* GET url through the own gateway as the monitoring client, the answer in
 * *resp (the caller frees it). The one request shape of every read the
 * collector makes of a service. */
static int ask_own_gateway(const struct collector *c, const char *url, size_t max_body,
			   struct ndx_fetch_resp *resp)
{
	char client_hdr[512];
	const char *headers[] = { client_hdr, "Accept: application/json", NULL };
	struct ndx_fetch_req req = { .method = "GET", .url = url, .headers = headers,
				     .timeout_ms = 30000, .max_body = max_body };

	snprintf(client_hdr, sizeof client_hdr, "X-Road-Client: %s", c->client);
	return ndx_fetch(&req, resp);
}

/* Reads one registry's measures service (a service whose code is
 * MMEASURES_SERVICE_CODE: the sector API's GET /measures) past the last
 * run kept, page after page; false when it could not be read (kept with
 * the reason). */
static bool collect_measures_of(struct collector *c, const struct ndx_conf_service *svc)
{
	char url[4096], wire[NDX_ID_TEXT_MAX], member[NDX_ID_TEXT_MAX], why[512];
	struct ndx_fetch_resp resp;
	struct ndx_id id, m;
	uint64_t after = 0;
	int rc;

	if (ndx_id_parse(svc->id, strlen(svc->id), NDX_ID_SERVICE, &id, NULL) != NDX_OK ||
	    strcmp(id.service, MMEASURES_SERVICE_CODE) != 0 ||
	    ndx_id_parent(&id, NDX_ID_MEMBER, &m) != NDX_OK ||
	    ndx_id_format(&m, member, sizeof member) < 0 ||
	    ndx_id_format_wire(&id, wire, sizeof wire) < 0)
		return true; /* not a measures service */
	if (mmeasures_cursor(c->cfg.st, svc->id, &after) != NDX_OK)
		return false;
	for (int page = 0; page < MAX_PAGES; page++) {
		size_t added = 0, bad = 0, n;
		json_t *doc;

		snprintf(url, sizeof url, "%s/r1/%s?after=%llu&limit=%u", c->gateway_url, wire,
			 (unsigned long long)after, MEASURES_PAGE);
		if ((rc = ask_own_gateway(c, url, MEASURES_BODY_MAX, &resp)) != NDX_OK) {
			snprintf(why, sizeof why, "own gateway: %s", ndx_strerror(rc));
			mmeasures_failed(c->cfg.st, svc->id, member, now_ms(), why);
			return false;
		}
		if (resp.status != 200) {
			/* a refusal names who refused and why (an X-Road error):
			 * a missing grant is "403 Client.AccessDenied" */
			snprintf(why, sizeof why, "%ld %s", resp.status,
				 resp.xroad_error[0] ? resp.xroad_error : "error");
			ndx_fetch_resp_free(&resp);
			mmeasures_failed(c->cfg.st, svc->id, member, now_ms(), why);
			fprintf(stderr, PROG ": measures of %s: %s\n", svc->id, why);
			return false;
		}
		doc = json_loadb(resp.body ? resp.body : "", resp.len, 0, NULL);
		ndx_fetch_resp_free(&resp);
		n = json_array_size(json_object_get(doc, "runs"));
		rc = mmeasures_add(c->cfg.st, svc->id, member, doc, now_ms(), &added, &bad);
		json_decref(doc);
		if (rc == NDX_EINVAL)
			mmeasures_failed(c->cfg.st, svc->id, member, now_ms(),
					 "answer without a sector and a runs list");
		count(c, &c->stats.measures, (long long)added);
		count(c, &c->stats.bad_measures, (long long)bad);
		if (rc != NDX_OK)
			return false;
		if (n < MEASURES_PAGE || mmeasures_cursor(c->cfg.st, svc->id, &after) != NDX_OK)
			break;
	}
	return true;
}

/* Every measures service the configuration lists. */
static void collect_measures(struct collector *c)
{
	const struct ndx_conf_service *svc;
	unsigned total = 0, down = 0;
	time_t now = time(NULL);

	if (!c->conf || (c->measures_read &&
			 now - c->measures_read < (time_t)c->cfg.measures_interval_s))
		return;
	c->measures_read = now;
	for (size_t i = 0; (svc = ndx_conf_service_at(c->conf, i)); i++) {
		size_t len = strlen(svc->id), code = strlen(MMEASURES_SERVICE_CODE);

		if (len <= code + 1 || svc->id[len - code - 1] != '/' ||
		    strcmp(svc->id + len - code, MMEASURES_SERVICE_CODE) != 0)
			continue;
		total++;
		down += !collect_measures_of(c, svc);
	}
	pthread_mutex_lock(&c->mu);
	c->stats.registries = total;
	c->stats.registries_down = down;
	pthread_mutex_unlock(&c->mu);
}

/* ---- analysis and cases ------------------------------------------------------- */

/* The detector runs on the store's connection inside its lock (mstore.h):
 * the collector is the only writer of reads, and the API's statements
 * (triage, procedures, mandates, the views) wait for the analysis's one
 * transaction instead of meeting SQLITE_BUSY. The cases are opened after
 * it, in a transaction of their own: a finding committed without its case
 * gets it at the next round. */
static void analyse(struct collector *c)
{
	struct misuse_options o;
	unsigned found = 0, opened = 0;
	struct ndx_sqldb *db;
	int rc;

	misuse_options_default(&o);
	o.now_ms = now_ms() - (int64_t)c->cfg.analysis_delay_s * 1000;
	db = mstore_lock(c->cfg.st);
	rc = misuse_analyse(db, &o, &found);
	mstore_unlock(c->cfg.st);
	if (rc != NDX_OK) {
		fprintf(stderr, PROG ": misuse analysis failed: %s\n", ndx_strerror(rc));
		count(c, &c->stats.analyses_failed, 1);
	}
	count(c, &c->stats.findings, found);
	if (cases_open_new(c->cfg.st, now_ms(), &opened) == NDX_OK && opened > 0) {
		fprintf(stderr, PROG ": %u new case%s\n", opened, opened == 1 ? "" : "s");
		count(c, &c->stats.cases_opened, opened);
	}
}

/* The signing key of gateway name in the held configuration, or NULL. */
static const struct ndx_key *gateway_key(const struct collector *c, const char *name)
{
	const struct ndx_conf_gateway *gw;
	struct ndx_id id, m;
	char member[NDX_ID_TEXT_MAX];

	if (!c->conf || ndx_id_parse(name, strlen(name), NDX_ID_SUBSYSTEM, &id, NULL) != NDX_OK ||
	    ndx_id_parent(&id, NDX_ID_MEMBER, &m) != NDX_OK ||
	    ndx_id_format(&m, member, sizeof member) < 0)
		return NULL;
	for (size_t j = 0; (gw = ndx_conf_gateway_of(c->conf, member, j)); j++)
		if (strcmp(gw->code, id.subsystem) == 0)
			return gw->sign_key;
	return NULL;
}

/* The first word of a refusal's detail: ndx's finer reason
 * (docs/protocol.md "Errors"), "" when there is none. */
static void refusal_reason(const struct ndx_fetch_resp *resp, char *out, size_t cap)
{
	json_t *doc = json_loadb(resp->body ? resp->body : "", resp->len, 0, NULL);
	const char *d = json_string_value(json_object_get(doc, "detail"));
	size_t n = d ? strcspn(d, ": ") : 0;

	snprintf(out, cap, "%.*s", (int)(n < cap ? n : cap - 1), d ? d : "");
	json_decref(doc);
}

/* Fetches one read's proof and records the outcome with its case; false
 * when the gateway gave no answer or a passing refusal (its other proofs
 * wait for the next round rather than each wait for a timeout). */
static bool fetch_proof(struct collector *c, const json_t *todo)
{
	const char *gw = json_string_value(json_object_get(todo, "gateway"));
	const char *msg_id = json_string_value(json_object_get(todo, "message_id"));
	int64_t case_id = (int64_t)json_integer_value(json_object_get(todo, "case_id"));
	int64_t read_id = (int64_t)json_integer_value(json_object_get(todo, "read_id"));
	int64_t seq = (int64_t)json_integer_value(json_object_get(todo, "seq"));
	char url[4096], client_hdr[512], read[64], why[1400], reason[64], check[1024];
	const char *headers[] = { client_hdr, "Accept: application/json", NULL };
	struct ndx_fetch_req req = { .method = "GET", .url = url, .headers = headers,
				     .timeout_ms = 30000, .max_body = PROOF_BODY_MAX };
	struct ndx_fetch_resp resp;
	const struct ndx_key *key;
	const json_t *rec;
	char *text = NULL, *pem = NULL;
	json_t *doc = NULL;
	bool final = false;
	int rc;

	why[0] = '\0';
	snprintf(client_hdr, sizeof client_hdr, "X-Road-Client: %s", c->client);
	snprintf(read, sizeof read, "proof?seq=%lld", (long long)seq);
	if (!gw || read_url(c, gw, read, url, sizeof url) != NDX_OK) {
		snprintf(why, sizeof why, "not a gateway name this service can ask for");
		final = true;
	} else if ((rc = ndx_fetch(&req, &resp)) != NDX_OK) {
		snprintf(why, sizeof why, "own gateway: %s", ndx_strerror(rc));
	} else if (resp.status != 200) {
		refusal_reason(&resp, reason, sizeof reason);
		snprintf(why, sizeof why, "%ld %s%s%s", resp.status,
			 resp.xroad_error[0] ? resp.xroad_error : "error", reason[0] ? " " : "",
			 reason);
		/* not in the log, or a request the gateway will never take:
		 * asking again changes nothing; anything else (the batch not
		 * sealed yet, a gateway down) may pass at a later round */
		final = strcmp(reason, "ProofNotFound") == 0 ||
			(resp.status >= 400 && resp.status < 500);
		ndx_fetch_resp_free(&resp);
	} else {
		doc = json_loadb(resp.body ? resp.body : "", resp.len, JSON_REJECT_DUPLICATES, NULL);
		rec = json_object_get(doc, "record");
		key = gateway_key(c, gw);
		final = true;
		if (!json_is_object(doc))
			snprintf(why, sizeof why, "the gateway's answer is not a JSON proof");
		else if (!json_is_integer(json_object_get(rec, "seq")) ||
			 json_integer_value(json_object_get(rec, "seq")) != seq ||
			 !json_is_string(json_object_get(rec, "message_id")) ||
			 strcmp(json_string_value(json_object_get(rec, "message_id")),
				msg_id ? msg_id : "") != 0)
			snprintf(why, sizeof why, "the proof is of another record than seq %lld",
				 (long long)seq);
		else if (!key) {
			snprintf(why, sizeof why, "the gateway has no signing key in the configuration"
						  " held");
			final = false;
		} else if (ndx_msglog_check_proof(resp.body, resp.len, key, check, sizeof check) !=
			   NDX_OK)
			snprintf(why, sizeof why, "the proof does not hold against the gateway's key"
						  " in the configuration: %s", check);
		else if (!(text = json_dumps(doc, JSON_COMPACT)) || !(pem = ndx_key_public_pem(key))) {
			snprintf(why, sizeof why, "out of memory");
			final = false;
		}
		ndx_fetch_resp_free(&resp);
	}
	if (why[0])
		fprintf(stderr, PROG ": proof of %s seq %lld for case %lld: %s\n", gw ? gw : "?",
			(long long)seq, (long long)case_id, why);
	if (cases_evidence_set(c->cfg.st, case_id, read_id, why[0] ? NULL : text, pem,
			       why[0] ? why : NULL, final, now_ms()) == NDX_OK)
		count(c, why[0] ? &c->stats.proofs_failed : &c->stats.proofs,
		      why[0] ? (final ? 1 : 0) : 1);
	json_decref(doc);
	free(text);
	free(pem);
	return !why[0] || final;
}

static void fetch_evidence(struct collector *c)
{
	const json_t *todo;
	json_t *list = NULL, *skip = json_object();
	const char *gw;
	size_t i;

	if (!skip || cases_evidence_pending(c->cfg.st, PROOFS_PER_ROUND, &list) != NDX_OK) {
		json_decref(skip);
		return;
	}
	json_array_foreach(list, i, todo) {
		gw = json_string_value(json_object_get(todo, "gateway"));
		if (gw && json_object_get(skip, gw))
			continue;
		if (!fetch_proof(c, todo) && gw)
			json_object_set_new(skip, gw, json_true());
	}
	json_decref(list);
	json_decref(skip);
}

/* ---- rounds ------------------------------------------------------------------- */

static void round_once(struct collector *c)
{
	const struct ndx_conf_member *m;
	const struct ndx_conf_gateway *gw;
	unsigned total = 0, down = 0;
	uint64_t pruned = 0;

	refresh_conf(c);
	if (c->conf && ndx_conf_expires_at(c->conf) <= time(NULL)) {
		conf_error(c, "the held configuration has expired and no new one came");
		ndx_conf_free(c->conf);
		c->conf = NULL;
	}
	for (size_t i = 0; c->conf && (m = ndx_conf_member_at(c->conf, i)); i++)
		for (size_t j = 0; (gw = ndx_conf_gateway_of(c->conf, m->id, j)); j++) {
			total++;
			down += !collect_gateway(c, m->id, gw->code);
		}
	/* the personal reads after every gateway's records, so that the
	 * figures of a round do not wait for them */
	for (size_t i = 0; c->conf && (m = ndx_conf_member_at(c->conf, i)); i++)
		for (size_t j = 0; (gw = ndx_conf_gateway_of(c->conf, m->id, j)); j++) {
			char name[1024];

			snprintf(name, sizeof name, "%s/%s", m->id, gw->code);
			collect_accesses(c, name);
		}
	collect_measures(c);
	analyse(c);
	if (c->conf)
		fetch_evidence(c);
	mstore_prune(c->cfg.st, now_ms() - (int64_t)c->cfg.retention_days * 86400 * 1000,
		     &pruned);
	mreads_prune(c->cfg.st, now_ms() - (int64_t)c->cfg.retention_days * 86400 * 1000,
		     &pruned);
	pthread_mutex_lock(&c->mu);
	c->stats.rounds++;
	c->stats.gateways = total;
	c->stats.gateways_down = down;
	c->stats.last_round_ms = now_ms();
	pthread_mutex_unlock(&c->mu);
}

static void *run(void *arg)
{
	struct collector *c = arg;
	struct timespec until;

	pthread_mutex_lock(&c->mu);
	while (!c->stop) {
		pthread_mutex_unlock(&c->mu);
		round_once(c);
		pthread_mutex_lock(&c->mu);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += c->cfg.interval_s;
		while (!c->stop && pthread_cond_timedwait(&c->cv, &c->mu, &until) == 0)
			;
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

int collector_start(const struct collector_config *cfg, struct collector **out)
{
	struct collector *c;
	const char *anchor_reg = cfg->anchor ? ndx_anchor_registry_url(cfg->anchor) : NULL;
	bool oom = false;

	*out = NULL;
	if (!cfg->st || !cfg->anchor || (!cfg->n_registry_urls && !anchor_reg) ||
	    cfg->n_registry_urls > COLLECT_REGISTRIES_MAX || !cfg->gateway_url || !cfg->client ||
	    cfg->page < 1 || cfg->page > 10000)
		return NDX_EINVAL;
	if (!(c = calloc(1, sizeof *c)))
		return NDX_ENOMEM;
	c->cfg = *cfg;
	c->cfg.registry_urls = NULL; /* copied below, not kept */
	/* Without --registry: every node the anchor lists. */
	c->n_registry_urls = cfg->n_registry_urls ? cfg->n_registry_urls
						  : ndx_anchor_registry_url_count(cfg->anchor);
	if (c->n_registry_urls > COLLECT_REGISTRIES_MAX)
		c->n_registry_urls = COLLECT_REGISTRIES_MAX;
	for (size_t i = 0; i < c->n_registry_urls; i++) {
		c->registry_urls[i] = trimmed_dup(cfg->n_registry_urls
							  ? cfg->registry_urls[i]
							  : ndx_anchor_registry_url_at(cfg->anchor, i));
		oom = oom || !c->registry_urls[i];
	}
	c->gateway_url = trimmed_dup(cfg->gateway_url);
	c->client = strdup(cfg->client);
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	if (oom || !c->gateway_url || !c->client) {
		collector_stop(c);
		return NDX_ENOMEM;
	}
	if (cfg->interval_s > 0) {
		if (pthread_create(&c->thread, NULL, run, c) != 0) {
			collector_stop(c);
			return NDX_ENOMEM;
		}
		c->running = true;
	}
	*out = c;
	return NDX_OK;
}

void collector_stop(struct collector *c)
{
	if (!c)
		return;
	if (c->running) {
		pthread_mutex_lock(&c->mu);
		c->stop = true;
		pthread_cond_signal(&c->cv);
		pthread_mutex_unlock(&c->mu);
		pthread_join(c->thread, NULL);
	}
	ndx_conf_free(c->conf);
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->cv);
	for (size_t i = 0; i < c->n_registry_urls; i++)
		free(c->registry_urls[i]);
	free(c->gateway_url);
	free(c->client);
	free(c);
}

void collector_names(void *ctx, const char *member, const char *service, char *member_name,
		     size_t mcap, char *service_title, size_t scap)
{
	struct collector *c = ctx;
	const struct ndx_conf_member *m;
	const struct ndx_conf_service *s;

	snprintf(member_name, mcap, "%s", member);
	snprintf(service_title, scap, "%s", service);
	if (!c)
		return;
	pthread_mutex_lock(&c->mu);
	if (c->conf && (m = ndx_conf_member(c->conf, member)) && m->name && m->name[0])
		snprintf(member_name, mcap, "%s", m->name);
	if (c->conf && (s = ndx_conf_service_of(c->conf, service)) && s->title && s->title[0])
		snprintf(service_title, scap, "%s", s->title);
	pthread_mutex_unlock(&c->mu);
}

void collector_stats(struct collector *c, struct collector_stats *out)
{
	pthread_mutex_lock(&c->mu);
	*out = c->stats;
	pthread_mutex_unlock(&c->mu);
}
