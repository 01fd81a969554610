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

#include "collect.h"
#include "ndx/conf.h"
#include "ndx/err.h"
#include "ndx/fetch.h"
#include "ndx/id.h"

#define PROG "ndx-monitor"
#define CONF_REFRESH_S 60
#define MAX_PAGES 50
#define PAGE_BODY_MAX (64u * 1024u * 1024u)

struct collector {
	struct collector_config cfg;
	char *registry_url, *gateway_url, *client;
	struct ndx_conf *conf;
	time_t conf_fetched;
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

static void refresh_conf(struct collector *c)
{
	struct ndx_fetch_req req = { .method = "GET", .timeout_ms = 30000,
				     .max_body = 64u * 1024u * 1024u };
	struct ndx_fetch_resp resp;
	struct ndx_conf *conf = NULL;
	char url[2048], err[512] = "", why[768];
	time_t now = time(NULL);
	int rc;

	if (c->conf && now - c->conf_fetched < CONF_REFRESH_S)
		return;
	snprintf(url, sizeof url, "%s/conf", c->registry_url);
	req.url = url;
	req.want_header = "Ndx-Conf-Signature";
	if ((rc = ndx_fetch(&req, &resp)) != NDX_OK) {
		snprintf(why, sizeof why, "cannot fetch %.300s: %s", url, ndx_strerror(rc));
		conf_error(c, why);
		return;
	}
	if (resp.status != 200) {
		snprintf(why, sizeof why, "%.300s answered %ld", url, resp.status);
		conf_error(c, why);
		ndx_fetch_resp_free(&resp);
		return;
	}
	rc = ndx_conf_verify((const uint8_t *)resp.body, resp.len, resp.wanted,
			     c->cfg.anchor, now, &conf, err, sizeof err);
	ndx_fetch_resp_free(&resp);
	if (rc != NDX_OK) {
		snprintf(why, sizeof why, "the configuration from %.300s was rejected: %.400s", url, err);
		conf_error(c, why);
		return;
	}
	ndx_conf_free(c->conf);
	c->conf = conf;
	c->conf_fetched = now;
	pthread_mutex_lock(&c->mu);
	c->stats.conf_error[0] = '\0';
	c->stats.conf_version = ndx_conf_version(conf);
	pthread_mutex_unlock(&c->mu);
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
	mstore_prune(c->cfg.st, now_ms() - (int64_t)c->cfg.retention_days * 86400 * 1000,
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
	const char *reg = cfg->registry_url ? cfg->registry_url
					    : ndx_anchor_registry_url(cfg->anchor);

	*out = NULL;
	if (!cfg->st || !cfg->anchor || !reg || !cfg->gateway_url || !cfg->client ||
	    cfg->page < 1 || cfg->page > 10000)
		return NDX_EINVAL;
	if (!(c = calloc(1, sizeof *c)))
		return NDX_ENOMEM;
	c->cfg = *cfg;
	c->registry_url = trimmed_dup(reg);
	c->gateway_url = trimmed_dup(cfg->gateway_url);
	c->client = strdup(cfg->client);
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	if (!c->registry_url || !c->gateway_url || !c->client) {
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
	free(c->registry_url);
	free(c->gateway_url);
	free(c->client);
	free(c);
}

void collector_stats(struct collector *c, struct collector_stats *out)
{
	pthread_mutex_lock(&c->mu);
	*out = c->stats;
	pthread_mutex_unlock(&c->mu);
}
