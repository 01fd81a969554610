/* The events client (include/ndx/evclient.h): publish, pull, acknowledge
 * over one libcurl easy handle per client, the inbox page parser, the
 * back-off, and the subscriber thread every receiving daemon runs. The
 * thread pulls with unacked=1 from seq 0 each round: what is not yet
 * acknowledged is exactly what is still to apply, which makes a restart
 * resume where it stopped without keeping a cursor of its own. Overview:
 * docs/events.md "Receiving". */
#include "ndx/evclient.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "ndx/err.h"

#define DEFAULT_TIMEOUT_MS 5000
#define DEFAULT_POLL_MS 1000
#define DEFAULT_MAX_BACKOFF_MS 10000
#define FIRST_BACKOFF_MS 250
#define PAGE_LIMIT 100

struct ndx_evclient {
	CURL *curl;
	char *url;    /* without a trailing slash */
	char *client;
	long timeout_ms;
};

struct body {
	char *p;
	size_t len;
	int toobig;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

int ndx_evclient_new(const struct ndx_evclient_config *cfg, struct ndx_evclient **out)
{
	struct ndx_evclient *c;
	size_t n;

	*out = NULL;
	if (!cfg || !cfg->gateway_url || !cfg->gateway_url[0] || !cfg->client || !cfg->client[0])
		return NDX_EINVAL;
	pthread_once(&curl_once, curl_init_once);
	if (!(c = calloc(1, sizeof *c)))
		return NDX_ENOMEM;
	c->url = strdup(cfg->gateway_url);
	c->client = strdup(cfg->client);
	c->curl = curl_easy_init();
	if (!c->url || !c->client || !c->curl) {
		ndx_evclient_free(c);
		return NDX_ENOMEM;
	}
	n = strlen(c->url);
	while (n > 0 && c->url[n - 1] == '/')
		c->url[--n] = '\0';
	c->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : DEFAULT_TIMEOUT_MS;
	*out = c;
	return NDX_OK;
}

void ndx_evclient_free(struct ndx_evclient *c)
{
	if (!c)
		return;
	if (c->curl)
		curl_easy_cleanup(c->curl);
	free(c->url);
	free(c->client);
	free(c);
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
	struct body *b = ud;
	size_t n = size * nmemb;
	char *p;

	if (b->len + n > NDX_EVCLIENT_BODY_MAX) {
		b->toobig = 1;
		return 0;
	}
	if (!(p = realloc(b->p, b->len + n + 1)))
		return 0;
	memcpy(p + b->len, data, n);
	b->len += n;
	p[b->len] = '\0';
	b->p = p;
	return n;
}

/* One request to path (appended to the gateway URL) with the client's
 * X-Road-Client. NDX_OK with *status and *out (malloc'd, NUL-terminated,
 * possibly NULL when empty) when an answer came; NDX_ENET otherwise. */
static int request(struct ndx_evclient *c, const char *method, const char *path,
		   const char *subject, const char *event_id, const char *body, size_t len,
		   long *status, struct body *out, char *err, size_t errcap)
{
	struct curl_slist *h = NULL, *t;
	char line[NDX_EVCLIENT_NAME_MAX + 64], *url = NULL;
	size_t ulen = strlen(c->url) + strlen(path) + 1;
	CURLcode cc;
	int rc = NDX_OK;

	memset(out, 0, sizeof *out);
	*status = 0;
	if (!(url = malloc(ulen)))
		return NDX_ENOMEM;
	snprintf(url, ulen, "%s%s", c->url, path);
	snprintf(line, sizeof line, "X-Road-Client: %s", c->client);
	if (!(t = curl_slist_append(h, line)))
		goto nomem;
	h = t;
	if (subject) {
		snprintf(line, sizeof line, "Ndx-Data-Subjects: %s", subject[0] ? subject : "none");
		if (!(t = curl_slist_append(h, line)))
			goto nomem;
		h = t;
	}
	if (event_id) {
		snprintf(line, sizeof line, "Ndx-Event-Id: %s", event_id);
		if (!(t = curl_slist_append(h, line)))
			goto nomem;
		h = t;
	}
	if (body) {
		if (!(t = curl_slist_append(h, "Content-Type: application/json")))
			goto nomem;
		h = t;
	}
	/* libcurl would send "Expect: 100-continue" for larger bodies and
	 * wait for an answer the gateway does not give. */
	if (!(t = curl_slist_append(h, "Expect:")))
		goto nomem;
	h = t;
	curl_easy_reset(c->curl);
	curl_easy_setopt(c->curl, CURLOPT_URL, url);
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, c->timeout_ms);
	curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, c->timeout_ms);
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, out);
	curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(c->curl, CURLOPT_POST, 1L);
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body ? body : "");
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? len : 0));
	}
	cc = curl_easy_perform(c->curl);
	if (cc != CURLE_OK) {
		rc = out->toobig ? NDX_ETOOBIG : NDX_ENET;
		ndx_fail(err, errcap, rc, "%s %s: %s", method, path,
			 out->toobig ? "answer too large" : curl_easy_strerror(cc));
		free(out->p);
		memset(out, 0, sizeof *out);
	} else {
		curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, status);
	}
	curl_slist_free_all(h);
	free(url);
	return rc;
nomem:
	curl_slist_free_all(h);
	free(url);
	return NDX_ENOMEM;
}

/* The gateway's JSON error (type, detail) of a refusal into err. */
static int refusal(const char *what, long status, const struct body *b, char *err, size_t errcap)
{
	json_t *doc = b->p ? json_loadb(b->p, b->len, 0, NULL) : NULL;
	const char *type = json_string_value(json_object_get(doc, "type"));
	const char *detail = json_string_value(json_object_get(doc, "detail"));

	ndx_fail(err, errcap, NDX_EPERM, "%s: %ld %s%s%s", what, status, type ? type : "",
		 detail ? ": " : "", detail ? detail : "");
	json_decref(doc);
	return NDX_EPERM;
}

/* path segments are ids and names made of [A-Za-z0-9/._-]: anything else
 * would need encoding and is refused instead. */
static int plain(const char *s)
{
	if (!s || !*s)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '/' || *s == '.' || *s == '-' || *s == '_'))
			return 0;
	return 1;
}

int ndx_evclient_uuid(char out[37])
{
	unsigned char b[16];
	size_t got = 0;

	out[0] = '\0';
	while (got < sizeof b) {
		ssize_t n = getrandom(b + got, sizeof b - got, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return NDX_ECRYPTO;
		}
		got += (size_t)n;
	}
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, 37,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11],
		 b[12], b[13], b[14], b[15]);
	return NDX_OK;
}

int ndx_evclient_is_uuid(const char *s)
{
	if (!s || strlen(s) != 36)
		return 0;
	for (int i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
			return 0;
		}
	}
	return 1;
}

int ndx_evclient_publish(struct ndx_evclient *c, const char *service, const char *name,
			 const char *subject, const char *payload, size_t len,
			 const char *event_id, char *id_out, long *status, char *err,
			 size_t errcap)
{
	char path[2 * NDX_EVCLIENT_NAME_MAX + 8];
	struct body b;
	json_t *doc = NULL;
	const char *id;
	long st = 0;
	int rc, kept;

	if (id_out)
		id_out[0] = '\0';
	if (status)
		*status = 0;
	if (!plain(service) || !plain(name) || strchr(name, '/') || !payload)
		return ndx_fail(err, errcap, NDX_EINVAL, "publish: bad service or event name");
	if (event_id && !ndx_evclient_is_uuid(event_id))
		return ndx_fail(err, errcap, NDX_EINVAL, "publish: the event id is not a UUID");
	snprintf(path, sizeof path, "/e1/%s/%s", service, name);
	rc = request(c, "POST", path, subject ? subject : "", event_id, payload, len, &st, &b, err,
		     errcap);
	if (status)
		*status = st;
	if (rc)
		return rc;
	if (st == 201 || (st == 200 && event_id)) {
		doc = json_loadb(b.p ? b.p : "", b.len, 0, NULL);
	}
	/* A 200 is a repeat the gateway kept before: only for a named event,
	 * only when it says so, and only under the name given. */
	id = json_string_value(json_object_get(doc, "id"));
	kept = st == 201 ||
	       (st == 200 && event_id && id && strcmp(id, event_id) == 0 &&
		json_string_value(json_object_get(doc, "status")) &&
		strcmp(json_string_value(json_object_get(doc, "status")), "duplicate") == 0);
	if (!kept)
		rc = refusal("publish", st, &b, err, errcap);
	else if (id_out)
		snprintf(id_out, NDX_EVCLIENT_ID_MAX, "%s", id ? id : "");
	json_decref(doc);
	free(b.p);
	return rc;
}

/* ---- inbox pages ------------------------------------------------------------ */

static int copy_field(const json_t *o, const char *key, char *out, size_t cap, int required)
{
	const json_t *v = json_object_get(o, key);

	out[0] = '\0';
	if (!v || json_is_null(v))
		return required ? -1 : 0;
	if (!json_is_string(v) || json_string_length(v) >= cap ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return -1;
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
	return required && !out[0] ? -1 : 0;
}

static int parse_event(const json_t *o, struct ndx_event *e, char *err, size_t errcap, size_t i)
{
	const json_t *seq = json_object_get(o, "seq"), *payload = json_object_get(o, "payload");
	const json_t *t = json_object_get(o, "time_ms");

	if (!json_is_object(o))
		return ndx_fail(err, errcap, NDX_EINVAL, "events[%zu] is not an object", i);
	if (!json_is_integer(seq) || json_integer_value(seq) < 0)
		return ndx_fail(err, errcap, NDX_EINVAL, "events[%zu].seq is not a sequence number",
				i);
	e->seq = json_integer_value(seq);
	e->time_ms = json_is_integer(t) ? json_integer_value(t) : 0;
	e->acknowledged = json_is_true(json_object_get(o, "acknowledged"));
	if (copy_field(o, "id", e->id, sizeof e->id, 1))
		return ndx_fail(err, errcap, NDX_EINVAL, "events[%zu].id is missing or too long", i);
	if (copy_field(o, "service", e->service, sizeof e->service, 1) ||
	    copy_field(o, "event", e->event, sizeof e->event, 1))
		return ndx_fail(err, errcap, NDX_EINVAL,
				"events[%zu]: service or event missing or too long", i);
	if (copy_field(o, "publisher", e->publisher, sizeof e->publisher, 0) ||
	    copy_field(o, "subject", e->subject, sizeof e->subject, 0) ||
	    copy_field(o, "purpose", e->purpose, sizeof e->purpose, 0))
		return ndx_fail(err, errcap, NDX_EINVAL,
				"events[%zu]: publisher, subject or purpose malformed", i);
	if (!payload)
		return ndx_fail(err, errcap, NDX_EINVAL, "events[%zu].payload is missing", i);
	if (!(e->payload = json_dumps(payload, JSON_COMPACT | JSON_ENCODE_ANY)))
		return ndx_fail(err, errcap, NDX_ENOMEM, "out of memory");
	return NDX_OK;
}

int ndx_event_page_parse(const char *body, size_t len, struct ndx_event_page *out, char *err,
			 size_t errcap)
{
	json_error_t jerr;
	json_t *doc, *events, *next;
	size_t i;
	int rc = NDX_OK;

	memset(out, 0, sizeof *out);
	if (!body || !(doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr)))
		return ndx_fail(err, errcap, NDX_EINVAL, "inbox: not JSON: %s",
				body ? jerr.text : "no body");
	events = json_object_get(doc, "events");
	next = json_object_get(doc, "next");
	if (!json_is_array(events) || !json_is_integer(next) || json_integer_value(next) < 0) {
		json_decref(doc);
		return ndx_fail(err, errcap, NDX_EINVAL,
				"inbox: expected {\"events\": [...], \"next\": N}");
	}
	if (json_array_size(events) > NDX_EVCLIENT_PAGE_MAX) {
		json_decref(doc);
		return ndx_fail(err, errcap, NDX_EINVAL, "inbox: more than %d events on a page",
				NDX_EVCLIENT_PAGE_MAX);
	}
	out->next = json_integer_value(next);
	if (json_array_size(events) &&
	    !(out->events = calloc(json_array_size(events), sizeof *out->events))) {
		json_decref(doc);
		return NDX_ENOMEM;
	}
	for (i = 0; i < json_array_size(events) && rc == NDX_OK; i++) {
		rc = parse_event(json_array_get(events, i), &out->events[i], err, errcap, i);
		out->n = i + 1;
	}
	json_decref(doc);
	if (rc)
		ndx_event_page_free(out);
	return rc;
}

void ndx_event_page_free(struct ndx_event_page *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++)
		free(p->events[i].payload);
	free(p->events);
	memset(p, 0, sizeof *p);
}

int ndx_evclient_pull(struct ndx_evclient *c, long long after, unsigned limit, int unacked,
		      struct ndx_event_page *out, char *err, size_t errcap)
{
	char path[128];
	struct body b;
	long st;
	int rc;

	memset(out, 0, sizeof *out);
	if (limit == 0 || limit > NDX_EVCLIENT_PAGE_MAX)
		limit = PAGE_LIMIT;
	snprintf(path, sizeof path, "/e1/inbox?after=%lld&limit=%u%s", after < 0 ? 0 : after,
		 limit, unacked ? "&unacked=1" : "");
	if ((rc = request(c, "GET", path, NULL, NULL, NULL, 0, &st, &b, err, errcap)))
		return rc;
	if (st != 200)
		rc = refusal("inbox", st, &b, err, errcap);
	else
		rc = ndx_event_page_parse(b.p, b.len, out, err, errcap);
	free(b.p);
	return rc;
}

int ndx_evclient_ack(struct ndx_evclient *c, const char *id, char *err, size_t errcap)
{
	char path[NDX_EVCLIENT_ID_MAX + 32];
	struct body b;
	long st;
	int rc;

	if (!plain(id) || strchr(id, '/') || strlen(id) >= NDX_EVCLIENT_ID_MAX)
		return ndx_fail(err, errcap, NDX_EINVAL, "ack: bad event id");
	snprintf(path, sizeof path, "/e1/inbox/%s/ack", id);
	if ((rc = request(c, "POST", path, NULL, NULL, NULL, 0, &st, &b, err, errcap)))
		return rc;
	if (st != 200)
		rc = refusal("ack", st, &b, err, errcap);
	free(b.p);
	return rc;
}

long long ndx_evclient_backoff_ms(unsigned attempt, long long first_ms, long long max_ms)
{
	long long d = first_ms;

	if (first_ms <= 0)
		return 0;
	for (unsigned i = 1; i < attempt && d < max_ms; i++)
		d *= 2;
	return d < max_ms ? d : max_ms;
}

/* ---- the subscriber thread --------------------------------------------------- */

struct ndx_evsub {
	struct ndx_evsub_config cfg;
	char *url, *client, *prog;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop, poked;
};

/* Waits ms or until poked or stopped; returns non-zero when stopping. */
static int sub_wait(struct ndx_evsub *s, long long ms)
{
	struct timespec until;
	int stop;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += (time_t)(ms / 1000);
	until.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&s->mu);
	while (!s->stop && !s->poked)
		if (pthread_cond_timedwait(&s->cv, &s->mu, &until) == ETIMEDOUT)
			break;
	s->poked = 0;
	stop = s->stop;
	pthread_mutex_unlock(&s->mu);
	return stop;
}

static int stopping(struct ndx_evsub *s)
{
	int stop;

	pthread_mutex_lock(&s->mu);
	stop = s->stop;
	pthread_mutex_unlock(&s->mu);
	return stop;
}

/* One round: every unacknowledged event, page by page. Returns 0 when all
 * were handled, -1 after a failure (logged). */
static int sub_round(struct ndx_evsub *s, struct ndx_evclient *c, int *quiet)
{
	struct ndx_event_page page;
	long long after = 0;
	char err[512];
	int rc;

	for (;;) {
		if ((rc = ndx_evclient_pull(c, after, PAGE_LIMIT, 1, &page, err, sizeof err))) {
			/* A gateway still starting is said once, not every round. */
			if (!*quiet)
				fprintf(stderr, "%s: events: %s\n", s->prog, err);
			*quiet = 1;
			return -1;
		}
		*quiet = 0;
		for (size_t i = 0; i < page.n; i++) {
			const struct ndx_event *e = &page.events[i];
			enum ndx_evsub_result r;

			if (e->acknowledged)
				continue;
			r = s->cfg.apply(s->cfg.ctx, e);
			if (r == NDX_EVSUB_RETRY) {
				fprintf(stderr, "%s: events: %s %s not applied yet; retrying\n",
					s->prog, e->event, e->id);
				ndx_event_page_free(&page);
				return -1;
			}
			if (r == NDX_EVSUB_REJECT)
				fprintf(stderr, "%s: events: %s %s cannot be applied; acknowledged "
						"without effect\n", s->prog, e->event, e->id);
			if (ndx_evclient_ack(c, e->id, err, sizeof err)) {
				/* Applied but not acknowledged: it comes again, and
				 * applying it again changes nothing. */
				fprintf(stderr, "%s: events: %s\n", s->prog, err);
				ndx_event_page_free(&page);
				return -1;
			}
			fprintf(stderr, "%s: events: %s %s from %s %s\n", s->prog, e->event, e->id,
				e->publisher, r == NDX_EVSUB_APPLIED ? "applied" : "rejected");
		}
		after = page.next;
		rc = page.n == 0 || stopping(s);
		ndx_event_page_free(&page);
		if (rc)
			return 0;
	}
}

static void *sub_main(void *arg)
{
	struct ndx_evsub *s = arg;
	struct ndx_evclient *c = NULL;
	unsigned failures = 0;
	int quiet = 0;

	if (ndx_evclient_new(&s->cfg.client, &c) != NDX_OK) {
		fprintf(stderr, "%s: events: cannot make the client\n", s->prog);
		return NULL;
	}
	for (;;) {
		long long wait;

		if (sub_round(s, c, &quiet) == 0) {
			failures = 0;
			wait = s->cfg.poll_ms;
		} else {
			failures++;
			wait = ndx_evclient_backoff_ms(failures, FIRST_BACKOFF_MS,
						       s->cfg.max_backoff_ms);
		}
		if (sub_wait(s, wait))
			break;
	}
	ndx_evclient_free(c);
	return NULL;
}

static void sub_free(struct ndx_evsub *s)
{
	free(s->url);
	free(s->client);
	free(s->prog);
	free(s);
}

int ndx_evsub_start(const struct ndx_evsub_config *cfg, struct ndx_evsub **out)
{
	struct ndx_evsub *s;
	pthread_condattr_t ca;

	*out = NULL;
	if (!cfg || !cfg->apply || !cfg->client.gateway_url || !cfg->client.client)
		return NDX_EINVAL;
	if (!(s = calloc(1, sizeof *s)))
		return NDX_ENOMEM;
	s->cfg = *cfg;
	s->url = strdup(cfg->client.gateway_url);
	s->client = strdup(cfg->client.client);
	s->prog = strdup(cfg->prog ? cfg->prog : "ndx");
	if (!s->url || !s->client || !s->prog) {
		sub_free(s);
		return NDX_ENOMEM;
	}
	s->cfg.client.gateway_url = s->url;
	s->cfg.client.client = s->client;
	s->cfg.prog = s->prog;
	if (s->cfg.poll_ms <= 0)
		s->cfg.poll_ms = DEFAULT_POLL_MS;
	if (s->cfg.max_backoff_ms <= 0)
		s->cfg.max_backoff_ms = DEFAULT_MAX_BACKOFF_MS;
	pthread_mutex_init(&s->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&s->thread, NULL, sub_main, s) != 0) {
		pthread_mutex_destroy(&s->mu);
		pthread_cond_destroy(&s->cv);
		sub_free(s);
		return NDX_EIO;
	}
	*out = s;
	return NDX_OK;
}

void ndx_evsub_poke(struct ndx_evsub *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	s->poked = 1;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

void ndx_evsub_stop(struct ndx_evsub *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	s->stop = 1;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->thread, NULL);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	sub_free(s);
}
