/* What both HTTP engines of include/ndx/httpd.h share (src/lib/httpd_int.h):
 * the response object and its helpers, query-argument decoding, the
 * access-log line, the HTTP metrics, the deferred-answer bookkeeping, the
 * descriptor limit, and the public functions that pass a call on to the
 * engine of its server or request (libmicrohttpd: httpd.c; h2o: httpd_h2o.c).
 * Overview: docs/architecture.md "Daemons". */
#include "httpd_int.h"

#include "ndx/loop.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <limits.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ndx/buf.h"
#include "ndx/encode.h"
#include "ndx/err.h"
#include "ndx/prom.h"
#include "ndx/redact.h"
#include "ndx/text.h"
#include "ndx/unixsock.h"

/* Descriptors left for everything but this server's connections: the
 * listening socket, an engine's epoll and wake-up descriptors, outgoing
 * connections (a gateway's to its peers and backends), databases, logs, and
 * another server in the same process. */
#define FD_MARGIN 128u

/* ---- helpers --------------------------------------------------------- */

char *httpd_dup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = malloc(n);
	if (d)
		memcpy(d, s, n);
	return d;
}

void httpd_resp_clear_body(struct ndx_http_resp *resp)
{
	free(resp->body);
	free(resp->content_type);
	free(resp->error_type);
	resp->body = NULL;
	resp->content_type = NULL;
	resp->error_type = NULL;
	resp->len = 0;
	resp->has_body = 0;
}

void httpd_resp_free(struct ndx_http_resp *resp)
{
	httpd_resp_clear_body(resp);
	for (size_t i = 0; i < resp->nheaders; i++)
		free(resp->headers[i].name);
	free(resp->headers);
	memset(resp, 0, sizeof *resp);
}
/* ---- responses --------------------------------------------------------- */

void ndx_http_resp_bytes(struct ndx_http_resp *resp, int status, const char *content_type,
			 const void *data, size_t len)
{
	httpd_resp_clear_body(resp);
	resp->status = status;
	resp->has_body = 1;
	resp->body = malloc(len + 1);
	resp->content_type = httpd_dup(content_type ? content_type : "application/octet-stream");
	if (!resp->body || !resp->content_type) {
		resp->oom = 1;
		return;
	}
	if (len)
		memcpy(resp->body, data, len);
	resp->body[len] = '\0';
	resp->len = len;
}

void ndx_http_resp_json(struct ndx_http_resp *resp, int status, json_t *body)
{
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	httpd_resp_clear_body(resp);
	resp->status = status;
	resp->has_body = 1;
	resp->content_type = httpd_dup("application/json; charset=utf-8");
	if (!text || !resp->content_type) {
		free(text);
		resp->oom = 1;
		return;
	}
	resp->body = text;
	resp->len = strlen(text);
}

void ndx_http_resp_error(struct ndx_http_resp *resp, int status, const char *type,
			 const char *message, const char *detail)
{
	json_t *o = json_object();
	if (o) {
		json_object_set_new(o, "type", json_string(type));
		json_object_set_new(o, "message", json_string(message ? message : ""));
		/* detail may carry bytes from the request; json_string refuses
		 * invalid UTF-8, so fall back to null rather than drop the error. */
		json_t *d = detail ? json_string(detail) : NULL;
		json_object_set_new(o, "detail", d ? d : json_null());
	}
	ndx_http_resp_json(resp, status, o);
	free(resp->error_type);
	resp->error_type = httpd_dup(type);
	ndx_http_resp_header(resp, "X-Road-Error", type);
}

/* A gateway's answer carries ten or more headers: one allocation each and
 * an array that doubles, rather than two copies and a realloc a header. */
void ndx_http_resp_header(struct ndx_http_resp *resp, const char *name, const char *value)
{
	size_t name_len = strlen(name), value_len = strlen(value);
	char *text;

	if (resp->nheaders == resp->headers_cap) {
		size_t cap = resp->headers_cap ? 2 * resp->headers_cap : 16;
		struct resp_header *h = realloc(resp->headers, cap * sizeof *h);

		if (!h) {
			resp->oom = 1;
			return;
		}
		resp->headers = h;
		resp->headers_cap = cap;
	}
	text = malloc(name_len + value_len + 2);
	if (!text) {
		resp->oom = 1;
		return;
	}
	memcpy(text, name, name_len + 1);
	memcpy(text + name_len + 1, value, value_len + 1);
	resp->headers[resp->nheaders].name = text;
	resp->headers[resp->nheaders].value = text + name_len + 1;
	resp->headers[resp->nheaders].name_len = name_len;
	resp->headers[resp->nheaders].value_len = value_len;
	resp->nheaders++;
	/* A handler that passes on an error from elsewhere sets the header
	 * itself; the access log should still name the type. */
	if (strcasecmp(name, "X-Road-Error") == 0 && resp->error_type != value) {
		char *t = httpd_dup(value);
		if (t) {
			free(resp->error_type);
			resp->error_type = t;
		}
	}
}

int ndx_http_resp_view(const struct ndx_http_resp *resp, int *status, const char **content_type,
		       const void **body, size_t *len)
{
	if (!resp->has_body || resp->oom)
		return NDX_ENOTFOUND;
	*status = resp->status;
	*content_type = resp->content_type;
	*body = resp->body;
	*len = resp->len;
	return NDX_OK;
}

/* ---- access log -------------------------------------------------------- */

/* A short write (a pipe nearly full) continues; an error drops the rest of
 * the line: the access log never holds up an answer. */
static void write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		p += w;
		n -= (size_t)w;
	}
}

/* Writes one JSON line to stderr with a single write(2), so that lines from
 * pool threads never interleave; takes (steals) o. */
void httpd_write_json_line(json_t *o)
{
	char *line = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
	size_t n;
	char *withnl;

	json_decref(o);
	if (!line)
		return;
	/* Straight to the descriptor: stdio's stream lock would serialise
	 * the pool threads for nothing, stderr being unbuffered. */
	n = strlen(line);
	withnl = realloc(line, n + 2);
	if (withnl) {
		withnl[n] = '\n';
		withnl[n + 1] = '\0';
		write_all(STDERR_FILENO, withnl, n + 1);
		free(withnl);
	} else {
		free(line);
	}
}

/* ---- Metrics ------------------------------------------------------------
 *
 * Every daemon's /metrics (docs/operations.md) carries the same HTTP
 * figures, counted here where every request passes: requests by method and
 * status class, a duration histogram and the requests in flight, per port
 * (a daemon with two ports, or a gateway whose loops share one, is told
 * apart by it), and when the process started serving. The counters live in
 * a fixed table of slots for the life of the process, found once per
 * server at start, so a request touches only relaxed atomics: the gateway
 * answers on several loop threads at once. Counting happens where the
 * access-log line is written, so a request counts exactly once, also a
 * refusal of libmicrohttpd's or the request deadline's, whether or not
 * the daemon logs. */

#define STATS_SLOTS 16
#define DUR_BUCKETS 11

enum method_class { MC_GET, MC_HEAD, MC_POST, MC_PUT, MC_DELETE, MC_PATCH, MC_OPTIONS,
		    MC_OTHER, MC_COUNT };
static const char *const method_names[MC_COUNT] = { "GET",    "HEAD",  "POST",
						    "PUT",    "DELETE", "PATCH",
						    "OPTIONS", "other" };
/* "none": the client went away before its deferred answer was made. */
#define CODE_CLASSES 6
static const char *const code_names[CODE_CLASSES] = { "none", "1xx", "2xx", "3xx", "4xx", "5xx" };
static const double dur_le[DUR_BUCKETS] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
					    0.5,   1,    2.5,   5,    10 };

struct http_stats {
	char port[16]; /* "4400", or "unix"; written before the slot is published */
	atomic_uint_fast64_t requests[MC_COUNT][CODE_CLASSES];
	atomic_uint_fast64_t buckets[DUR_BUCKETS + 1];
	atomic_uint_fast64_t sum_us;
	atomic_long in_flight;
	atomic_uint_fast64_t http2; /* of the requests, those over HTTP/2 */
	atomic_llong cert_not_after; /* the TLS certificate's notAfter; 0: plain HTTP */
};

static struct http_stats stats_slots[STATS_SLOTS];
static atomic_size_t stats_used; /* slots published, in order */
static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_llong serving_since; /* Unix time of the first server's start */

/* The slot of port (a new one the first time), or NULL when all are taken. */
static struct http_stats *stats_for(const char *port)
{
	struct http_stats *found = NULL;
	size_t n;
	long long zero = 0;

	atomic_compare_exchange_strong(&serving_since, &zero, (long long)time(NULL));
	pthread_mutex_lock(&stats_lock);
	n = atomic_load_explicit(&stats_used, memory_order_relaxed);
	for (size_t i = 0; i < n && !found; i++)
		if (strcmp(stats_slots[i].port, port) == 0)
			found = &stats_slots[i];
	if (!found && n < STATS_SLOTS) {
		found = &stats_slots[n];
		snprintf(found->port, sizeof found->port, "%s", port);
		atomic_store_explicit(&stats_used, n + 1, memory_order_release);
	}
	pthread_mutex_unlock(&stats_lock);
	return found;
}

/* The notAfter (Unix time) of the first certificate in pem, or 0. */
static long long cert_not_after(const char *pem)
{
	gnutls_x509_crt_t crt;
	gnutls_datum_t d = { .data = (unsigned char *)(uintptr_t)pem,
			     .size = (unsigned)strlen(pem) };
	long long t = 0;

	if (gnutls_x509_crt_init(&crt) != GNUTLS_E_SUCCESS)
		return 0;
	if (gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM) == GNUTLS_E_SUCCESS) {
		time_t e = gnutls_x509_crt_get_expiration_time(crt);
		if (e != (time_t)-1)
			t = (long long)e;
	}
	gnutls_x509_crt_deinit(crt);
	return t;
}

static enum method_class method_class(const char *m)
{
	for (int i = 0; i < MC_OTHER; i++)
		if (strcmp(m, method_names[i]) == 0)
			return (enum method_class)i;
	return MC_OTHER;
}

static void count_request(const struct httpd_log *log, const char *method, int status,
			  double seconds)
{
	struct http_stats *hs = atomic_load_explicit(&log->stats, memory_order_acquire);
	int code = status >= 100 && status < 600 ? status / 100 : 0;
	size_t b = 0;

	if (!hs)
		return;
	while (b < DUR_BUCKETS && seconds > dur_le[b])
		b++;
	atomic_fetch_add_explicit(&hs->requests[method_class(method)][code], 1,
				  memory_order_relaxed);
	atomic_fetch_add_explicit(&hs->buckets[b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&hs->sum_us, (uint_fast64_t)(seconds > 0 ? seconds * 1e6 : 0),
				  memory_order_relaxed);
}

void ndx_httpd_metrics(struct ndx_prom *p)
{
	size_t n = atomic_load_explicit(&stats_used, memory_order_acquire);
	long long since = atomic_load_explicit(&serving_since, memory_order_relaxed);

	ndx_prom_family(p, "ndx_http_requests_total", NDX_PROM_COUNTER,
			"HTTP requests answered (or refused), by port, method and status class.");
	for (size_t i = 0; i < n; i++) {
		struct http_stats *hs = &stats_slots[i];
		for (int m = 0; m < MC_COUNT; m++)
			for (int c = 0; c < CODE_CLASSES; c++) {
				uint64_t v = atomic_load_explicit(&hs->requests[m][c],
								  memory_order_relaxed);
				if (v)
					ndx_prom_u64(p, "ndx_http_requests_total",
						     (const char *[]){ "port", hs->port, "method",
								       method_names[m], "code",
								       code_names[c], NULL },
						     v);
			}
	}
	ndx_prom_family(p, "ndx_http_request_duration_seconds", NDX_PROM_HISTOGRAM,
			"Time from a request's first callback to its answer, by port.");
	for (size_t i = 0; i < n; i++) {
		struct http_stats *hs = &stats_slots[i];
		uint64_t counts[DUR_BUCKETS + 1];
		for (size_t b = 0; b <= DUR_BUCKETS; b++)
			counts[b] = atomic_load_explicit(&hs->buckets[b], memory_order_relaxed);
		ndx_prom_histogram(
			p, "ndx_http_request_duration_seconds",
			(const char *[]){ "port", hs->port, NULL }, DUR_BUCKETS, dur_le, counts,
			(double)atomic_load_explicit(&hs->sum_us, memory_order_relaxed) / 1e6);
	}
	ndx_prom_family(p, "ndx_http_requests_in_flight", NDX_PROM_GAUGE,
			"HTTP requests received and not yet answered, by port.");
	for (size_t i = 0; i < n; i++)
		ndx_prom_i64(p, "ndx_http_requests_in_flight",
			     (const char *[]){ "port", stats_slots[i].port, NULL },
			     (int64_t)atomic_load_explicit(&stats_slots[i].in_flight,
							   memory_order_relaxed));
	ndx_prom_family(p, "ndx_http_requests_http2_total", NDX_PROM_COUNTER,
			"Of the HTTP requests answered (or refused), those that came over HTTP/2, by port.");
	for (size_t i = 0; i < n; i++) {
		uint64_t v = atomic_load_explicit(&stats_slots[i].http2, memory_order_relaxed);
		if (v)
			ndx_prom_u64(p, "ndx_http_requests_http2_total",
				     (const char *[]){ "port", stats_slots[i].port, NULL }, v);
	}
	ndx_prom_family(p, "ndx_http_tls_cert_not_after_seconds", NDX_PROM_GAUGE,
			"Unix time at which the TLS certificate served on the port expires.");
	for (size_t i = 0; i < n; i++) {
		long long t = atomic_load_explicit(&stats_slots[i].cert_not_after,
						   memory_order_relaxed);
		if (t)
			ndx_prom_i64(p, "ndx_http_tls_cert_not_after_seconds",
				     (const char *[]){ "port", stats_slots[i].port, NULL }, t);
	}
	ndx_prom_family(p, "process_start_time_seconds", NDX_PROM_GAUGE,
			"Unix time at which the daemon started serving HTTP.");
	ndx_prom_i64(p, "process_start_time_seconds", NULL, since);
}

void ndx_httpd_metrics_answer(const struct ndx_http_req *req, struct ndx_http_resp *resp,
			      void (*own)(void *ctx, struct ndx_prom *p), void *ctx)
{
	struct ndx_prom p;
	char *text;
	size_t len;

	if (strcmp(req->method, "GET") != 0) {
		ndx_http_resp_header(resp, "Allow", "GET");
		ndx_http_resp_error(resp, 405, "Client.MethodNotAllowed", "method not allowed",
				    "/metrics answers GET only");
		return;
	}
	ndx_prom_init(&p, NDX_BUF_NO_CAP);
	if (own)
		own(ctx, &p);
	ndx_httpd_metrics(&p);
	text = ndx_prom_steal(&p, &len);
	if (!text) {
		ndx_http_resp_error(resp, 500, "Server.Internal", "out of memory", NULL);
		return;
	}
	ndx_http_resp_bytes(resp, 200, NDX_PROM_CONTENT_TYPE, text, len);
	free(text);
}

/* by: NULL for an answer of ours, the engine's name for one it made itself
 * (httpd.c "Refusals libmicrohttpd makes", httpd_h2o.c). unsent: NULL, or
 * why the answer never left (the client went away while it was deferred):
 * the line then says so and that no byte was sent. */
void httpd_access_log_line(const struct httpd_log *log, const char *remote,
			   const struct timespec *start, const char *method, const char *path,
			   int status, const char *error_type, size_t bytes, const char *by,
			   const char *unsent)
{
	httpd_access_log_line_h2(log, remote, start, method, path, status, error_type, bytes, by,
				 unsent, 0);
}

/* A real as jansson writes it with JSON_REAL_PRECISION(6) (strconv.c,
 * jsonp_dtostr): "%.6g", ".0" added when that reads as an integer, and the
 * exponent without '+' or leading zeros. The daemons never call setlocale,
 * so the decimal point is '.'. */
static int append_real(struct ndx_buf *b, double v)
{
	char text[40];
	int n = snprintf(text, sizeof text - 2, "%.6g", v);
	char *e, *from;

	if (n < 0 || (size_t)n >= sizeof text - 2)
		return NDX_EINVAL;
	if (!strchr(text, '.') && !strchr(text, 'e')) {
		memcpy(text + n, ".0", 3);
		n += 2;
	}
	if ((e = strchr(text, 'e')) != NULL) {
		e++;
		from = e + 1;
		if (*e == '-')
			e++;
		while (*from == '0')
			from++;
		if (from != e) {
			memmove(e, from, (size_t)(text + n - from) + 1);
			n -= (int)(from - e);
		}
	}
	return ndx_buf_append(b, text, (size_t)n);
}

/* ,"key":"value": nothing when value is NULL or not UTF-8 (jansson's
 * json_string returned NULL and json_object_set_new left the key out). */
static int append_string_field(struct ndx_buf *b, const char *key, const char *value)
{
	int rc;
	size_t before = b->len;

	if (!value)
		return NDX_OK;
	if ((rc = ndx_buf_append_str(b, key)) != NDX_OK)
		return rc;
	rc = ndx_text_json_string(b, value, strlen(value));
	if (rc == NDX_EINVAL) {
		ndx_buf_truncate(b, before); /* drop the key again */
		return NDX_OK;
	}
	return rc;
}

int httpd_access_line(struct ndx_buf *b, const struct httpd_access *a)
{
	char num[NDX_DEC_MAX];
	char small[512];
	char *safe = small;
	size_t safe_cap = 2 * strlen(a->path) + 1; /* a tag is 16 bytes for 12 */
	int rc;

	assert(b && a && a->time && a->path);
	/* Every line names a path: most fit on the stack. */
	if (safe_cap > sizeof small && !(safe = malloc(safe_cap)))
		safe = NULL;
	if (safe)
		ndx_redact_pins(a->path, safe, safe_cap);
	/* The first field has no comma: the object is never empty, "time"
	 * being ASCII. */
	rc = ndx_buf_append_str(b, "{");
	if (rc == NDX_OK)
		rc = append_string_field(b, "\"time\":", a->time);
	if (rc == NDX_OK)
		rc = append_string_field(b, ",\"daemon\":", a->daemon);
	if (rc == NDX_OK)
		rc = append_string_field(b, ",\"remote\":", a->remote);
	if (rc == NDX_OK)
		rc = append_string_field(b, ",\"method\":", a->method);
	if (rc == NDX_OK)
		rc = append_string_field(b, ",\"path\":", safe);
	if (safe != small)
		free(safe);
	if (rc == NDX_OK)
		rc = ndx_buf_append_str(b, ",\"status\":");
	if (rc == NDX_OK)
		rc = ndx_buf_append(b, num, ndx_dec_i64(a->status, num));
	if (rc == NDX_OK)
		rc = append_string_field(b, ",\"error_type\":", a->error_type);
	/* json_real refused a value that is not finite: the key was left out. */
	if (rc == NDX_OK && isfinite(a->ms))
		rc = ndx_buf_append_str(b, ",\"duration_ms\":");
	if (rc == NDX_OK && isfinite(a->ms))
		rc = append_real(b, a->ms);
	if (rc == NDX_OK)
		rc = ndx_buf_append_str(b, ",\"bytes\":");
	if (rc == NDX_OK)
		rc = ndx_buf_append(b, num, ndx_dec_i64((int64_t)a->bytes, num));
	if (rc == NDX_OK)
		rc = append_string_field(b, ",\"refused_by\":", a->by);
	if (rc == NDX_OK)
		rc = append_string_field(b, ",\"unsent\":", a->unsent);
	if (rc == NDX_OK && a->h2)
		rc = ndx_buf_append_str(b, ",\"protocol\":\"HTTP/2\"");
	if (rc == NDX_OK)
		rc = ndx_buf_append_str(b, "}\n");
	return rc;
}

/* The time field of this second, formatted once a second per thread. */
static const char *access_time(void)
{
	static _Thread_local time_t last = (time_t)-1;
	static _Thread_local char when[32];
	time_t t = time(NULL);

	if (t != last) {
		struct tm tm;

		gmtime_r(&t, &tm);
		strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
		last = t;
	}
	return when;
}

void httpd_access_log_line_h2(const struct httpd_log *log, const char *remote,
			      const struct timespec *start, const char *method, const char *path,
			      int status, const char *error_type, size_t bytes, const char *by,
			      const char *unsent, int h2)
{
	struct timespec now;
	struct ndx_buf line;
	struct httpd_access a;
	double ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (double)(now.tv_sec - start->tv_sec) * 1e3 +
	     (double)(now.tv_nsec - start->tv_nsec) / 1e6;
	count_request(log, method, status, ms / 1e3);
	if (h2) {
		struct http_stats *hs = atomic_load_explicit(&log->stats, memory_order_acquire);

		if (hs)
			atomic_fetch_add_explicit(&hs->http2, 1, memory_order_relaxed);
	}
	if (!log->on)
		return;
	a = (struct httpd_access){
		.time = access_time(),
		.daemon = log->name,
		.remote = remote,
		.method = method,
		.path = path,
		.status = status,
		.error_type = error_type,
		.ms = ms,
		.bytes = bytes,
		.by = by,
		.unsent = unsent,
		.h2 = h2,
	};
	/* On an event loop: written with the other lines of the turn. */
	if (log->batch) {
		(void)httpd_log_batch_add(log->batch, &a);
		return;
	}
	/* Built as text, not as a jansson object: the object, its text and
	 * their dozen allocations took twice the CPU of this (bench/README.md
	 * "CPU cuts (2026-12-03 session 2)"). */
	ndx_buf_init(&line, NDX_BUF_NO_CAP);
	if (httpd_access_line(&line, &a) == NDX_OK)
		write_all(STDERR_FILENO, line.data, line.len);
	ndx_buf_free(&line);
}

/* ---- the access log of an event loop's turn -----------------------------
 *
 * Why batched: written at once, every line costs a write(2) and a buffer
 * malloc'ed and freed. In the gateway's benchmark (two gateways, 64
 * connections, ~5,500 exchanges/s on one core) the access lines came to
 * ~8.9 us an exchange, and a system call alone costs 1-2.3 us on that VM.
 * A server on an ndx_loop (the h2o engine) instead appends its lines to
 * a buffer it keeps between turns and writes them all with one write at
 * the end of the turn, from a before-sleep hook: one system call per turn
 * however many requests the turn answered, and no allocation per line
 * once the buffer has grown. A flush writes whole lines only, in order,
 * with write_all, in writes of at most PIPE_BUF bytes cut where a line
 * ends (a longer line alone): as with one write per line before, no line
 * of one server is cut by another writer's bytes (another port's loop,
 * the daemon's other messages), stderr being a file opened O_APPEND (each
 * write lands whole), a pipe (whole up to PIPE_BUF) or the journal's
 * stream socket (a write this small goes as one piece). A turn's lines
 * rarely pass 4 KiB: one write a turn, and past that one per 4 KiB of
 * lines, never one per line.
 *
 * The cap bounds the memory and the delay of a burst: past it, the batch
 * is written at once, mid-turn. A server that stops writes what it holds
 * (httpd_h2o.c detach; drain also waits for it), so a clean stop drops
 * nothing; a kill -9 loses at most the lines of the turn then running,
 * which were answered microseconds before. The access log is an operator's
 * record, not the audit trail: the message log is.
 * The libmicrohttpd engine's pool threads still write each line at once:
 * they have no turn to end. Metrics are counted at once either way
 * (httpd_access_log_line_h2). */
void httpd_log_batch_init(struct httpd_log_batch *b, int fd, size_t cap)
{
	ndx_buf_init(&b->buf, NDX_BUF_NO_CAP);
	b->fd = fd;
	b->cap = cap;
}

/* The first n bytes of p (ending with a line's end) to write at once: the
 * lines that fit PIPE_BUF, or one longer line alone. */
static size_t whole_lines(const char *p, size_t left)
{
	size_t n;

	if (left <= PIPE_BUF)
		return left;
	for (n = PIPE_BUF; n > 0 && p[n - 1] != '\n'; n--)
		;
	if (n > 0)
		return n;
	for (n = PIPE_BUF; n < left && p[n - 1] != '\n'; n++)
		;
	return n;
}

void httpd_log_batch_flush(struct httpd_log_batch *b)
{
	const char *p = b->buf.data;
	size_t left = b->buf.len;

	while (left > 0) {
		size_t n = whole_lines(p, left);

		write_all(b->fd, p, n);
		p += n;
		left -= n;
	}
	ndx_buf_reset(&b->buf);
}

int httpd_log_batch_add(struct httpd_log_batch *b, const struct httpd_access *a)
{
	size_t before = b->buf.len;
	int rc = httpd_access_line(&b->buf, a);

	if (rc != NDX_OK) {
		ndx_buf_truncate(&b->buf, before); /* never half a line */
		return rc;
	}
	if (b->buf.len >= b->cap)
		httpd_log_batch_flush(b);
	return NDX_OK;
}

void httpd_log_batch_free(struct httpd_log_batch *b)
{
	httpd_log_batch_flush(b);
	ndx_buf_free(&b->buf);
}

/* The Unix domain socket of cfg->unix_path (docs/security.md T33): the file
 * mode decides who may connect; the engine is handed the listening descriptor. */
int httpd_unix_listen(const char *name, const char *path, unsigned mode, int *fd)
{
	int rc = ndx_unix_listen(path, mode ? (mode_t)mode : 0600, 0, fd);

	if (rc != NDX_OK)
		fprintf(stderr, "%s: cannot listen on unix:%s: %s\n", name, path,
			rc == NDX_EEXIST ? "another process listens there, or it is not a socket"
			: rc == NDX_EINVAL ? "the path is empty or longer than 107 bytes"
					   : strerror(errno));
	return rc;
}

/* The connection limit this process can honour: a limit plus FD_MARGIN must
 * fit under RLIMIT_NOFILE, raised toward the hard limit if need be, or the
 * engine would fail accept(2) with EMFILE at random instead of refusing cleanly. */
unsigned httpd_fit_connection_limit(const char *name, unsigned want)
{
	struct rlimit rl;
	rlim_t need = (rlim_t)want + FD_MARGIN;
	unsigned fit;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY ||
	    rl.rlim_cur >= need)
		return want;
	{
		struct rlimit raised = rl;
		raised.rlim_cur = (rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need) ? need
										     : rl.rlim_max;
		if (raised.rlim_cur > rl.rlim_cur && setrlimit(RLIMIT_NOFILE, &raised) == 0)
			rl.rlim_cur = raised.rlim_cur;
	}
	if (rl.rlim_cur >= need)
		return want;
	fit = rl.rlim_cur > 2 * FD_MARGIN ? (unsigned)(rl.rlim_cur - FD_MARGIN)
					  : (unsigned)(rl.rlim_cur / 2);
	if (fit == 0)
		fit = 1;
	fprintf(stderr,
		"%s: serving at most %u connections, not %u: the descriptor limit "
		"(RLIMIT_NOFILE) is %llu and cannot be raised\n",
		name, fit, want, (unsigned long long)rl.rlim_cur);
	return fit;
}


/* ---- client addresses ---------------------------------------------------- */

void httpd_format_addr(const struct sockaddr *sa, char *out, size_t cap)
{
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (sa && sa->sa_family == AF_UNIX) {
		snprintf(out, cap, "unix");
		return;
	}
	if (sa && sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
		inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
		port = ntohs(in->sin_port);
	} else if (sa && sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
		port = ntohs(in6->sin6_port);
	}
	snprintf(out, cap, "%s:%u", host, port);
}

/* ---- the metrics slot of a server ----------------------------------------- */

void httpd_log_attach(struct httpd_log *log, const char *port, const char *tls_cert_pem)
{
	struct http_stats *hs = stats_for(port);

	if (hs && tls_cert_pem)
		atomic_store_explicit(&hs->cert_not_after, cert_not_after(tls_cert_pem),
				      memory_order_relaxed);
	atomic_store_explicit(&log->stats, hs, memory_order_release);
}

struct http_stats *httpd_log_stats(const struct httpd_log *log)
{
	return atomic_load_explicit(&log->stats, memory_order_acquire);
}

void httpd_stats_in_flight(struct http_stats *hs, int delta)
{
	if (hs)
		atomic_fetch_add_explicit(&hs->in_flight, delta, memory_order_relaxed);
}

/* ---- canned answers ------------------------------------------------------ */

const char *httpd_timeout_type(const struct ndx_httpd_config *cfg)
{
	return cfg->timeout_type ? cfg->timeout_type : HTTPD_TIMEOUT_TYPE;
}

static void timeout_detail(const struct ndx_httpd_config *cfg, unsigned deadline_s, char *out,
			   size_t cap)
{
	snprintf(out, cap, "%s%sa request must arrive within %u s of its first byte",
		 cfg->timeout_reason ? cfg->timeout_reason : "", cfg->timeout_reason ? ": " : "",
		 deadline_s);
}

void httpd_resp_timeout(struct ndx_http_resp *resp, const struct ndx_httpd_config *cfg,
			unsigned deadline_s)
{
	char detail[160];

	timeout_detail(cfg, deadline_s, detail, sizeof detail);
	ndx_http_resp_error(resp, 408, httpd_timeout_type(cfg), "the request did not arrive in time",
			    detail);
}

void httpd_resp_too_large(struct ndx_http_resp *resp, const struct ndx_httpd_config *cfg)
{
	char detail[160];

	snprintf(detail, sizeof detail, "%s%sthe body exceeds %zu bytes",
		 cfg->too_large_reason ? cfg->too_large_reason : "",
		 cfg->too_large_reason ? ": " : "", cfg->max_body);
	ndx_http_resp_error(resp, 413, cfg->too_large_type ? cfg->too_large_type : "Client.TooLarge",
			    "request body too large", detail);
}

char *httpd_timeout_body(const struct ndx_httpd_config *cfg, unsigned deadline_s)
{
	struct ndx_http_resp tr = { 0 };
	char *body = NULL;

	httpd_resp_timeout(&tr, cfg, deadline_s);
	if (!tr.oom && tr.body) {
		body = tr.body;
		tr.body = NULL;
	}
	httpd_resp_free(&tr);
	return body;
}

size_t httpd_timeout_wire(const struct ndx_httpd_config *cfg, const char *body, char *buf,
			  size_t cap)
{
	char date[64];
	struct tm tm;
	time_t t = time(NULL);
	int n;

	gmtime_r(&t, &tm);
	strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	n = snprintf(buf, cap,
		     "HTTP/1.1 408 Request Timeout\r\n"
		     "Connection: close\r\n"
		     "Date: %s\r\n"
		     "Content-Type: application/json; charset=utf-8\r\n"
		     "X-Road-Error: %s\r\n"
		     "Content-Length: %zu\r\n"
		     "\r\n%s",
		     date, httpd_timeout_type(cfg), strlen(body), body);
	return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

int httpd_resp_finish(struct ndx_http_resp *resp)
{
	int oom;

	if (!resp->oom && resp->has_body)
		return 0;
	oom = resp->oom;
	httpd_resp_free(resp);
	ndx_http_resp_error(resp, 500, "Server.Internal",
			    oom ? "out of memory" : "the handler produced no response", NULL);
	if (resp->oom) {
		httpd_resp_free(resp);
		return -1;
	}
	return 0;
}

/* ---- requests ------------------------------------------------------------ */

void httpd_req_common_init(struct httpd_req_common *c, const struct httpd_engine *e,
			   atomic_uint *srv_deferred)
{
	c->engine = e;
	c->srv_deferred = srv_deferred;
	pthread_mutex_init(&c->defer_lock, NULL);
}

void httpd_req_common_free(struct httpd_req_common *c)
{
	for (size_t i = 0; i < c->nowned; i++)
		free(c->owned[i]);
	free(c->owned);
	c->owned = NULL;
	c->nowned = 0;
	pthread_mutex_destroy(&c->defer_lock);
}

static const struct httpd_req_common *req_common(const struct ndx_http_req *req)
{
	return req->internal;
}

const char *ndx_http_header(const struct ndx_http_req *req, const char *name)
{
	size_t len;
	return ndx_http_header_n(req, name, &len);
}

const char *ndx_http_header_n(const struct ndx_http_req *req, const char *name, size_t *len)
{
	return req_common(req)->engine->header_n(req, name, len);
}

const char *ndx_http_header_last_n(const struct ndx_http_req *req, const char *name,
				   size_t *len)
{
	return req_common(req)->engine->header_last_n(req, name, len);
}

int ndx_http_headers_each(const struct ndx_http_req *req,
			  int (*fn)(void *ud, const char *name, size_t name_len,
				    const char *value, size_t value_len),
			  void *ud)
{
	return req_common(req)->engine->headers_each(req, fn, ud);
}

int ndx_http_client_cert(const struct ndx_http_req *req, char fingerprint_hex[65])
{
	return req_common(req)->engine->client_cert(req, fingerprint_hex);
}

const char *httpd_hdrs_first(const struct httpd_hdr *h, size_t n, const char *name, size_t *len)
{
	size_t nl = strlen(name);

	for (size_t i = 0; i < n; i++)
		if (h[i].name_len == nl && strncasecmp(h[i].name, name, nl) == 0) {
			*len = h[i].value_len;
			return h[i].value;
		}
	*len = 0;
	return NULL;
}

const char *httpd_hdrs_last(const struct httpd_hdr *h, size_t n, const char *name, size_t *len)
{
	size_t nl = strlen(name);

	for (size_t i = n; i-- > 0;)
		if (h[i].name_len == nl && strncasecmp(h[i].name, name, nl) == 0) {
			*len = h[i].value_len;
			return h[i].value;
		}
	*len = 0;
	return NULL;
}

int httpd_hdrs_each(const struct httpd_hdr *h, size_t n,
		    int (*fn)(void *ud, const char *name, size_t name_len, const char *value,
			      size_t value_len),
		    void *ud)
{
	for (size_t i = 0; i < n; i++) {
		int rc = fn(ud, h[i].name, h[i].name_len, h[i].value, h[i].value_len);
		if (rc)
			return rc;
	}
	return 0;
}

/* Query arguments, from the raw query string (req->query, '+' left as it
 * is): "k=v" pairs separated by '&', the key compared after percent-decoding
 * (a key longer than 255 bytes or badly escaped never matches), the value
 * of the first match decoded into a string the request owns. */
const char *ndx_http_query_arg(const struct ndx_http_req *req, const char *name)
{
	struct httpd_req_common *c = req->internal;
	const char *p = req->query ? req->query : "";

	while (*p) {
		size_t n = strcspn(p, "&"), kn = strcspn(p, "=");
		const char *v;
		size_t vn;
		char kbuf[256];
		char *out, **grown;

		if (kn > n)
			kn = n;
		v = kn < n ? p + kn + 1 : p + n;
		vn = kn < n ? n - kn - 1 : 0;
		if (kn == 0 && n == 0) {
			p++;
			continue;
		}
		if (kn < sizeof kbuf && ndx_pct_decode(p, kn, kbuf, sizeof kbuf) >= 0 &&
		    strcmp(kbuf, name) == 0) {
			out = malloc(vn + 1);
			grown = out ? realloc(c->owned, (c->nowned + 1) * sizeof *grown) : NULL;
			if (!grown) {
				free(out);
				return NULL;
			}
			c->owned = grown;
			/* A bad escape (or an encoded NUL) makes the argument
			 * unusable: the caller sees it as absent rather than as
			 * a wrong value. */
			if (ndx_pct_decode(v, vn, out, vn + 1) < 0) {
				free(out);
				return NULL;
			}
			c->owned[c->nowned++] = out;
			return out;
		}
		p += n;
		if (*p == '&')
			p++;
	}
	return NULL;
}

/* ---- deferred answers ---------------------------------------------------- */

struct ndx_http_pending *ndx_http_defer(const struct ndx_http_req *req)
{
	struct httpd_req_common *c = req->internal;

	if (!c->deferred) {
		c->deferred = 1;
		atomic_fetch_add_explicit(c->srv_deferred, 1, memory_order_relaxed);
	}
	return (struct ndx_http_pending *)c;
}

void ndx_http_resume(struct ndx_http_pending *p)
{
	((struct httpd_req_common *)p)->engine->resume(p);
}

/* ---- servers ------------------------------------------------------------- */

static const struct httpd_engine *srv_engine(const struct ndx_httpd *srv)
{
	return *(const struct httpd_engine *const *)(const void *)srv;
}

int ndx_httpd_start(const struct ndx_httpd_config *cfg, struct ndx_httpd **out)
{
	*out = NULL;
	if (!cfg || !cfg->handler)
		return NDX_EINVAL;
	switch (cfg->engine) {
	case NDX_HTTPD_MHD:
		return httpd_mhd_start(cfg, out);
	case NDX_HTTPD_H2O:
		if (!cfg->loop) {
			fprintf(stderr, "%s: the h2o engine runs on an event loop only\n",
				cfg->name ? cfg->name : "httpd");
			return NDX_EINVAL;
		}
		return httpd_h2o_start(cfg, out);
	default:
		return NDX_EINVAL;
	}
}

uint16_t ndx_httpd_port(const struct ndx_httpd *srv)
{
	return srv_engine(srv)->port(srv);
}

unsigned ndx_httpd_drain(struct ndx_httpd *srv, unsigned timeout_ms)
{
	return srv_engine(srv)->drain(srv, timeout_ms);
}

void ndx_httpd_stop(struct ndx_httpd *srv)
{
	if (srv)
		srv_engine(srv)->stop(srv);
}

/* ---- waiting for requests ------------------------------------------------ */

unsigned httpd_wait_idle(atomic_uint *active, unsigned timeout_ms)
{
	struct timespec pause = { 0, 10 * 1000 * 1000 };
	unsigned waited = 0, n;

	while ((n = atomic_load_explicit(active, memory_order_acquire)) != 0 &&
	       waited < timeout_ms) {
		nanosleep(&pause, NULL);
		waited += 10;
	}
	return n;
}

void httpd_wait_resumed(const char *name, atomic_uint *deferred)
{
	for (unsigned waited = 0; atomic_load_explicit(deferred, memory_order_acquire);
	     waited += 10) {
		struct timespec pause = { 0, 10 * 1000 * 1000 };
		if (waited % 5000 == 0)
			fprintf(stderr, "{\"daemon\":\"%s\",\"event\":\"stop waits\","
					"\"deferred\":%u}\n",
				name, atomic_load_explicit(deferred, memory_order_relaxed));
		nanosleep(&pause, NULL);
	}
}

/* ---- running on the loop's thread ---------------------------------------- */

struct on_loop {
	struct ndx_loop_task task;
	void (*fn)(void *arg);
	void *arg;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int done;
};

static void on_loop_run(void *p)
{
	struct on_loop *o = p;

	o->fn(o->arg);
	pthread_mutex_lock(&o->mu);
	o->done = 1;
	pthread_cond_signal(&o->cv);
	pthread_mutex_unlock(&o->mu);
}

void httpd_run_on_loop(struct ndx_loop *loop, void (*fn)(void *arg), void *arg)
{
	struct on_loop o = { .fn = fn, .arg = arg };

	if (ndx_loop_on_thread(loop)) {
		fn(arg);
		return;
	}
	pthread_mutex_init(&o.mu, NULL);
	pthread_cond_init(&o.cv, NULL);
	o.task.fn = on_loop_run;
	o.task.arg = &o;
	if (ndx_loop_post(loop, &o.task) != NDX_OK) {
		fn(arg); /* the loop has stopped */
	} else {
		pthread_mutex_lock(&o.mu);
		while (!o.done)
			pthread_cond_wait(&o.cv, &o.mu);
		pthread_mutex_unlock(&o.mu);
	}
	pthread_cond_destroy(&o.cv);
	pthread_mutex_destroy(&o.mu);
}

long ndx_http_cookie(const struct ndx_http_req *req, const char *name, char *out, size_t cap)
{
	const char *h = ndx_http_header(req, "Cookie");
	const size_t nlen = strlen(name);

	while (h && *h) {
		size_t len;

		while (*h == ' ' || *h == ';')
			h++;
		len = strcspn(h, ";");
		if (len > nlen && strncmp(h, name, nlen) == 0 && h[nlen] == '=') {
			const char *v = h + nlen + 1;
			size_t vlen = len - nlen - 1;

			while (vlen && v[vlen - 1] == ' ')
				vlen--;
			if (vlen >= cap)
				return -1;
			memcpy(out, v, vlen);
			out[vlen] = '\0';
			return (long)vlen;
		}
		h += len;
	}
	return -1;
}
