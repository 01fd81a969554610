/* What the two engines behind include/ndx/httpd.h share (src/lib/httpd.c:
 * libmicrohttpd; src/lib/httpd_h2o.c: h2o 2.2 on an ndx_loop): the response
 * object, the access-log line, the HTTP metrics, query-argument decoding,
 * the deferred-answer bookkeeping and the table through which the public
 * functions reach the engine of a server or a request. Private to libndx:
 * no engine's type appears here. The common code is src/lib/httpd_common.c. */
#ifndef NDX_HTTPD_INT_H
#define NDX_HTTPD_INT_H

#include "ndx/buf.h"
#include "ndx/httpd.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <time.h>

/* How much of an oversized body is read and thrown away (MHD) or buffered
 * (h2o) so that the client can read its 413; beyond this the engine's own
 * refusal. */
#define HTTPD_DRAIN_MAX (16u * 1024u * 1024u)
/* Idle keep-alive connections are closed after this long without a byte. */
#define HTTPD_CONNECTION_TIMEOUT_S 30u
#define HTTPD_DEFAULT_MAX_CONNECTIONS 1024u
#define HTTPD_DEFAULT_MAX_PER_IP 256u
#define HTTPD_DEFAULT_DEADLINE_S 60u
#define HTTPD_TIMEOUT_TYPE "Client.RequestTimeout"

/* name and value share one allocation, owned by name; their lengths kept so
 * that an engine passing them on measures neither again. */
struct resp_header {
	char *name;
	const char *value;
	size_t name_len, value_len;
};

struct ndx_http_resp {
	int status;
	int has_body;
	int oom;
	char *body;
	size_t len;
	char *content_type;
	char *error_type;
	struct resp_header *headers;
	size_t nheaders, headers_cap;
};

/* The engine of a server or a request: the first member of every engine's
 * server struct and of every request's state (through httpd_req_common). */
struct httpd_engine {
	const char *(*header_n)(const struct ndx_http_req *req, const char *name, size_t *len);
	const char *(*header_last_n)(const struct ndx_http_req *req, const char *name,
				     size_t *len);
	int (*headers_each)(const struct ndx_http_req *req,
			    int (*fn)(void *ud, const char *name, size_t name_len,
				      const char *value, size_t value_len),
			    void *ud);
	int (*client_cert)(const struct ndx_http_req *req, char fingerprint_hex[65]);
	void (*resume)(struct ndx_http_pending *p);
	uint16_t (*port)(const struct ndx_httpd *srv);
	unsigned (*drain)(struct ndx_httpd *srv, unsigned timeout_ms);
	void (*stop)(struct ndx_httpd *srv);
};

struct http_stats;

/* What every request's state starts with; req->internal points at it. */
struct httpd_req_common {
	const struct httpd_engine *engine;
	atomic_uint *srv_deferred; /* the server's count of unresumed answers */
	char **owned;              /* strings handed out by ndx_http_query_arg */
	size_t nowned;
	/* Deferred answers: defer_lock orders the handler's return (which
	 * suspends the connection) against ndx_http_resume on another thread,
	 * which may come first. */
	pthread_mutex_t defer_lock;
	int deferred;  /* the handler called ndx_http_defer */
	int suspended; /* the engine has parked the connection */
	int ready;     /* ndx_http_resume was called: resp is final */
};

void httpd_req_common_init(struct httpd_req_common *c, const struct httpd_engine *e,
			   atomic_uint *srv_deferred);
void httpd_req_common_free(struct httpd_req_common *c);

/* One received header, for an engine that keeps its own copies (h2o). */
struct httpd_hdr {
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
};
const char *httpd_hdrs_first(const struct httpd_hdr *h, size_t n, const char *name, size_t *len);
const char *httpd_hdrs_last(const struct httpd_hdr *h, size_t n, const char *name, size_t *len);
int httpd_hdrs_each(const struct httpd_hdr *h, size_t n,
		    int (*fn)(void *ud, const char *name, size_t name_len, const char *value,
			      size_t value_len),
		    void *ud);

char *httpd_dup(const char *s);
void httpd_resp_clear_body(struct ndx_http_resp *resp);
void httpd_resp_free(struct ndx_http_resp *resp);
/* An answer that cannot be used (out of memory, or no body set by the
 * handler) replaced by a 500; returns -1 when not even that could be made. */
int httpd_resp_finish(struct ndx_http_resp *resp);
/* The 413 over max_body, the 408 over the request deadline (status, type
 * and detail from cfg). */
void httpd_resp_too_large(struct ndx_http_resp *resp, const struct ndx_httpd_config *cfg);
void httpd_resp_timeout(struct ndx_http_resp *resp, const struct ndx_httpd_config *cfg,
			unsigned deadline_s);
const char *httpd_timeout_type(const struct ndx_httpd_config *cfg);
/* The 408 body a server writes itself when it cuts a request (built once at
 * start): malloc'ed, NULL when out of memory. */
char *httpd_timeout_body(const struct ndx_httpd_config *cfg, unsigned deadline_s);
/* Formats the fixed "HTTP/1.1 408" of a cut request into buf; its length,
 * or 0 when it does not fit. */
size_t httpd_timeout_wire(const struct ndx_httpd_config *cfg, const char *body, char *buf,
			  size_t cap);

/* The access-log lines of one event-loop turn, written with one write(2)
 * at the turn's end instead of one each (httpd_h2o.c registers the flush
 * as a before-sleep hook of its loop; why: httpd_common.c "access log").
 * Only the thread that owns it touches it (the loop's, or the one that
 * stops the server once the loop has stopped for good). */
struct httpd_access;
struct httpd_log_batch {
	struct ndx_buf buf; /* whole lines only, kept between turns */
	int fd;             /* STDERR_FILENO; a test's socket */
	size_t cap;         /* over it, written at once */
};
/* Empty, writing to fd, flushing as soon as cap bytes are held. Allocates
 * nothing until the first line. */
void httpd_log_batch_init(struct httpd_log_batch *b, int fd, size_t cap);
/* Appends the line of a (httpd_access_line) whole or not at all (out of
 * memory: the line is lost, as an unbuffered one would be), and writes
 * the batch at once when it then holds cap bytes or more. NDX_OK or
 * httpd_access_line's error. */
int httpd_log_batch_add(struct httpd_log_batch *b, const struct httpd_access *a);
/* Writes what the batch holds (whole lines) with one write_all, keeping
 * its memory for the next turn. */
void httpd_log_batch_flush(struct httpd_log_batch *b);
/* Flushes, then frees the memory. */
void httpd_log_batch_free(struct httpd_log_batch *b);

/* Where a server's requests are counted and logged. */
struct httpd_log {
	const char *name; /* the daemon's name (the server's own copy) */
	int on;           /* cfg.access_log */
	struct http_stats *_Atomic stats;
	/* Non-NULL: lines go there, for one write per loop turn (the h2o
	 * engine, on the loop's thread); NULL: each line is written at once
	 * (libmicrohttpd's pool threads). */
	struct httpd_log_batch *batch;
};
/* Finds (or takes) the metrics slot of the server's port ("unix" for a
 * socket file) and records its certificate's expiry. */
void httpd_log_attach(struct httpd_log *log, const char *port, const char *tls_cert_pem);
struct http_stats *httpd_log_stats(const struct httpd_log *log);
void httpd_stats_in_flight(struct http_stats *hs, int delta);
/* by: NULL for an answer of ours, else the engine that refused the request
 * itself; unsent: NULL, or why the answer never left. Counts the request in
 * the metrics in every case, writes the JSON line when log->on. */
void httpd_access_log_line(const struct httpd_log *log, const char *remote,
			   const struct timespec *start, const char *method, const char *path,
			   int status, const char *error_type, size_t bytes, const char *by,
			   const char *unsent);
/* As httpd_access_log_line, for a request that came over HTTP/2 when h2 is
 * non-zero: the line says "protocol": "HTTP/2" and the request is counted
 * in ndx_http_requests_http2_total too. */
void httpd_access_log_line_h2(const struct httpd_log *log, const char *remote,
			      const struct timespec *start, const char *method, const char *path,
			      int status, const char *error_type, size_t bytes, const char *by,
			      const char *unsent, int h2);
/* The fields of one access-log line; the strings are borrowed. */
struct httpd_access {
	const char *time;   /* "2026-12-03T14:20:00Z" */
	const char *daemon; /* the daemon's name */
	const char *remote; /* "ADDR:PORT" */
	const char *method;
	const char *path;   /* raw, as received: its PINs are tagged here */
	int status;
	const char *error_type; /* NULL: no "error_type" */
	double ms;              /* "duration_ms" */
	size_t bytes;
	const char *by;     /* NULL: no "refused_by" */
	const char *unsent; /* NULL: no "unsent" */
	int h2;             /* non-zero: "protocol": "HTTP/2" */
};
struct ndx_buf;
/* Appends the access-log line of a to b: one JSON object and a newline,
 * byte for byte what json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6))
 * of a jansson object holding the same fields in the same order wrote
 * (docs/operations.md), without making that object: a string field that
 * is not valid UTF-8 is left out as jansson left it out, and a 12-digit
 * run in the path is its keyed tag (ndx/redact.h). Returns NDX_OK, or
 * NDX_ENOMEM / NDX_ETOOBIG from the buffer (b then holds a partial line
 * the caller drops). */
int httpd_access_line(struct ndx_buf *b, const struct httpd_access *a);
/* Writes o (stolen) as one JSON line to stderr with one write(2). */
void httpd_write_json_line(json_t *o);

/* "ADDR:PORT" of a client address ("unix" for a Unix socket, "?:0" for
 * none), for the access log. */
struct sockaddr;
void httpd_format_addr(const struct sockaddr *sa, char *out, size_t cap);

/* The listening socket of cfg->unix_path (file mode mode, 0 = 0600). */
int httpd_unix_listen(const char *name, const char *path, unsigned mode, int *fd);
/* The connection limit this process can honour under RLIMIT_NOFILE. */
unsigned httpd_fit_connection_limit(const char *name, unsigned want);

/* Waits until *active is 0 or timeout_ms has passed; returns *active. */
unsigned httpd_wait_idle(atomic_uint *active, unsigned timeout_ms);
/* Waits, however long it takes, until every deferred answer has been
 * resumed (a line on stderr every 5 s says so). */
void httpd_wait_resumed(const char *name, atomic_uint *deferred);

/* Runs fn(arg) on the loop's thread and waits for it; directly when already
 * there or when the loop has stopped (ndx_loop_post refused). */
void httpd_run_on_loop(struct ndx_loop *loop, void (*fn)(void *arg), void *arg);

/* The h2o engine (httpd_h2o.c); NDX_EINVAL when it is not built in. */
int httpd_h2o_start(const struct ndx_httpd_config *cfg, struct ndx_httpd **out);
/* The libmicrohttpd engine (httpd.c). */
int httpd_mhd_start(const struct ndx_httpd_config *cfg, struct ndx_httpd **out);

#endif
