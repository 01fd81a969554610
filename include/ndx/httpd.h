/* The HTTP server every ndx daemon uses: libmicrohttpd with an epoll thread
 * pool, request bodies buffered up to a cap (over it: 413, handler not
 * called), JSON helpers, X-Road style JSON errors and one JSON access-log
 * line per request on stderr, also for a request libmicrohttpd refuses
 * itself once its request line has been read ("refused_by":
 * "libmicrohttpd": its HTML answer cannot be replaced in 0.9.75), and
 * libmicrohttpd's own messages as JSON lines (httpd.c "Refusals
 * libmicrohttpd makes"; docs/security.md T32). Handlers run on the pool
 * threads, each an epoll loop serving many connections, or, with cfg.loop,
 * on the thread of an event loop the daemon shares with other work (the
 * gateway's): a handler that must wait (for another server, a disk)
 * defers its answer (ndx_http_defer) instead of blocking the thread; the
 * daemons whose handlers are quick or rare still answer in place.
 * Overview: docs/architecture.md "Daemons". */
#ifndef NDX_HTTPD_H
#define NDX_HTTPD_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct ndx_loop;

struct ndx_httpd;
struct ndx_http_resp;

struct ndx_http_req {
	const char *method;
	/* Path exactly as received: percent-encoding is NOT undone, so
	 * "/a%2Fb" stays distinguishable from "/a/b". */
	const char *path;
	/* Raw query string without '?', rebuilt in order from the request;
	 * "" when there is none. */
	const char *query;
	const uint8_t *body; /* NUL-terminated for convenience; NULL when empty */
	size_t body_len;
	const char *remote_addr; /* "127.0.0.1:5678" */
	void *internal;
};

/* Returns the first value of header name (case-insensitive) or NULL. The
 * string lives as long as the request. */
const char *ndx_http_header(const struct ndx_http_req *req, const char *name);
/* As ndx_http_header, and sets *len to the value's length as received: a
 * len above strlen(value) means the value carries a NUL byte. */
const char *ndx_http_header_n(const struct ndx_http_req *req, const char *name, size_t *len);
/* As ndx_http_header_n, but the LAST value of header name when the
 * request repeats it (PR-REST 4.3: of several X-Road-Client headers the
 * last one counts). NULL and *len 0 when absent. */
const char *ndx_http_header_last_n(const struct ndx_http_req *req, const char *name,
				   size_t *len);
/* Calls fn for every request header in the order received (a header sent
 * twice comes twice); stops at the first non-zero return, which it
 * returns. 0 when fn never refused. */
int ndx_http_headers_each(const struct ndx_http_req *req,
			  int (*fn)(void *ud, const char *name, size_t name_len,
				    const char *value, size_t value_len),
			  void *ud);
/* Returns the first value of query argument name, percent-decoded into a
 * string that lives as long as the request, or NULL when absent or badly
 * escaped. A '+' stays '+' (ndx ids may contain it); it is not a space. */
const char *ndx_http_query_arg(const struct ndx_http_req *req, const char *name);

/* The value of the request's cookie name (the first of that name in the
 * Cookie header, trailing blanks dropped) copied into out (cap bytes with
 * its NUL). Returns its length, or -1 when there is no such cookie or its
 * value does not fit. */
long ndx_http_cookie(const struct ndx_http_req *req, const char *name, char *out, size_t cap);

/* A handler fills resp with exactly one of the ndx_http_resp_* body calls;
 * a handler that sets none produces a 500 error. */
typedef void (*ndx_http_handler)(void *ctx, const struct ndx_http_req *req,
				 struct ndx_http_resp *resp);

/* Sets a JSON body (steals the reference to body) with status. */
void ndx_http_resp_json(struct ndx_http_resp *resp, int status, json_t *body);
/* Sets a body copied from data (len bytes) with content type (NULL:
 * application/octet-stream; "": no Content-Type header at all). */
void ndx_http_resp_bytes(struct ndx_http_resp *resp, int status,
			 const char *content_type, const void *data, size_t len);
/* Sets the X-Road style error body {"type","message","detail"} and the
 * X-Road-Error header (= type); detail may be NULL. The access log records
 * the type. */
void ndx_http_resp_error(struct ndx_http_resp *resp, int status, const char *type,
			 const char *message, const char *detail);
/* Adds a response header (copied). May be called before or after the body. */
void ndx_http_resp_header(struct ndx_http_resp *resp, const char *name, const char *value);

struct ndx_httpd_config {
	const char *name;        /* daemon name for the access log */
	const char *bind_addr;   /* IPv4 literal; NULL = "127.0.0.1" */
	uint16_t port;           /* 0 = any free port, see ndx_httpd_port */
	/* Non-NULL: listen on this Unix domain socket instead of bind_addr
	 * and port (ndx/unixsock.h: a stale socket file is replaced, the file
	 * is removed at stop); unix_mode is its file mode (0 = 0600), which
	 * decides who may connect. The remote address logged is "unix". */
	const char *unix_path;
	unsigned unix_mode;
	unsigned threads;        /* pool size; 0 = number of CPUs */
	/* Non-NULL: no threads of its own; the daemon runs on this event loop
	 * (ndx/loop.h), whose thread calls the handler. The loop must be
	 * running, and it must keep running until ndx_httpd_stop has returned
	 * or be stopped for good before it (then the stop finishes alone). */
	struct ndx_loop *loop;
	size_t max_body;         /* bytes; larger bodies get 413 */
	ndx_http_handler handler;
	void *ctx;
	int access_log;          /* non-zero: one JSON line per request to stderr */
	/* HTTPS: with tls_cert_pem and tls_key_pem set (PEM text, copied by
	 * MHD at start) the daemon speaks only TLS 1.2/1.3. With tls_trust_pem
	 * (CA certificates, PEM) it also asks every client for a certificate,
	 * but does not require one: handlers decide with ndx_http_client_cert. */
	/* Non-zero: refuse (400) requests that bend HTTP/1.1, e.g. a header
	 * line holding a NUL byte or a bare CR, rather than guess. */
	int strict;
	const char *tls_cert_pem;
	const char *tls_key_pem;
	const char *tls_trust_pem;
	/* What one client may hold (docs/security.md, slow-loris). 0 = the
	 * default. max_connections: open connections in all (default 1024);
	 * lowered at start, with one line on stderr, when RLIMIT_NOFILE cannot
	 * be raised far enough to leave a margin of descriptors for the rest
	 * of the process. max_connections_per_ip: open connections from one
	 * client address (default 256); over it a new connection is closed at
	 * once, unanswered. request_deadline_s: seconds from the first byte of
	 * a request (the TLS handshake included, for a connection's first
	 * request) until its head and body have all arrived (default 60); a
	 * request still arriving then is answered 408 Client.RequestTimeout
	 * (over TLS: only closed, see httpd.c) and its connection closed. The
	 * wait for a first byte and the time the handler takes do not count. */
	unsigned max_connections;
	unsigned max_connections_per_ip;
	unsigned request_deadline_s;
	/* The X-Road error type of the daemon's own 413 (over max_body) and
	 * 408 (over request_deadline_s), and the word their detail starts
	 * with ("BodyTooLarge: the body exceeds ..."); NULL: Client.TooLarge,
	 * Client.RequestTimeout and no word. The strings must outlive the
	 * daemon. (ndx-gateway takes them from its error table.) */
	const char *too_large_type, *too_large_reason;
	const char *timeout_type, *timeout_reason;
	/* The same for a request head the h2o engine's parser refuses (400, or
	 * 431 over 32 KiB): its type, and the word its detail starts with when
	 * a header line is at fault or the request line is. NULL:
	 * Client.InvalidRequest and no word. (libmicrohttpd answers those
	 * itself, or lets the handler see them.) */
	const char *bad_request_type, *bad_header_reason, *bad_path_reason;
	/* Which HTTP library serves: NDX_HTTPD_MHD (libmicrohttpd, the
	 * default) or NDX_HTTPD_H2O (h2o 2.2, only with loop set: its event
	 * loop runs inside that ndx_loop). Same behaviour either way; what
	 * differs is listed in src/lib/httpd_h2o.c. */
	int engine;
	/* Non-zero, on the h2o engine with TLS: the port offers HTTP/2 by ALPN
	 * ("h2", then "http/1.1"), and a client that asks for it gets its
	 * requests as the streams of one multiplexed connection. Everything
	 * above holds on those streams too (src/lib/httpd_h2o.c "HTTP/2").
	 * libmicrohttpd, and the h2o engine without TLS, serve HTTP/1.1 only
	 * and ignore it. */
	int http2;
};
#define NDX_HTTPD_MHD 0
#define NDX_HTTPD_H2O 1

/* The client certificate of a TLS request: when the client presented one
 * that chains to tls_trust_pem (and is inside its validity), writes the hex
 * SHA-256 of its DER into fingerprint and returns NDX_OK. NDX_EPERM when
 * there is none, it does not verify, or the daemon has no TLS. The check
 * runs once per connection and is remembered for its later requests. */
int ndx_http_client_cert(const struct ndx_http_req *req, char fingerprint_hex[65]);

/* Reads back what a handler has put into resp so far (to sign it): status,
 * content type, body. Returns NDX_OK, or NDX_ENOTFOUND when no body is set.
 * The pointers stay valid until resp is changed. */
int ndx_http_resp_view(const struct ndx_http_resp *resp, int *status, const char **content_type,
		       const void **body, size_t *len);

/* Answering later. A handler that would otherwise wait calls
 * ndx_http_defer(req) and returns without waiting; req and resp (the
 * handler's arguments) stay valid and unchanged by the server, the
 * connection is suspended so that its thread serves others, and the
 * answer goes out once ndx_http_resume(p) has been called, from any
 * thread, after resp has been filled (the usual ndx_http_resp_* calls,
 * also from that thread; after ndx_http_resume neither req nor resp may
 * be touched). Every deferred answer must be resumed, also at shutdown:
 * ndx_httpd_stop waits for it. Calling ndx_http_defer twice returns the
 * same handle. */
struct ndx_http_pending;
struct ndx_http_pending *ndx_http_defer(const struct ndx_http_req *req);
void ndx_http_resume(struct ndx_http_pending *p);

/* Binds and starts serving. Returns NDX_OK with *out set, NDX_EIO when the
 * address cannot be bound (message on stderr), NDX_EINVAL. The process must
 * ignore SIGPIPE (every ndx daemon does): h2o writes to sockets a client
 * may have closed without MSG_NOSIGNAL. */
int ndx_httpd_start(const struct ndx_httpd_config *cfg, struct ndx_httpd **out);
uint16_t ndx_httpd_port(const struct ndx_httpd *srv);
/* Stops accepting new connections (with a pool of threads, each new one is
 * closed unanswered) and waits until the requests in flight have been
 * answered, or timeout_ms has passed. Returns the number of
 * requests still in flight (0 = drained). Call ndx_httpd_stop afterwards. */
unsigned ndx_httpd_drain(struct ndx_httpd *srv, unsigned timeout_ms);
/* Stops accepting, lets in-flight requests finish, frees. Accepts NULL. */
void ndx_httpd_stop(struct ndx_httpd *srv);

/* Appends to p (ndx/prom.h) the HTTP figures of every server this process
 * has started, which every daemon's /metrics carries (docs/operations.md):
 * ndx_http_requests_total{port,method,code} (code a status class, "none"
 * when the client left before a deferred answer),
 * ndx_http_request_duration_seconds{port} (a histogram),
 * ndx_http_requests_in_flight{port},
 * ndx_http_requests_http2_total{port} (those of the requests that came
 * over HTTP/2: cfg.http2),
 * ndx_http_tls_cert_not_after_seconds{port} (the notAfter of the
 * certificate a TLS port serves, as a Unix time) and
 * process_start_time_seconds (when the first server started). Counted with relaxed atomics from any thread;
 * a server's counters outlive it and go on when its port opens again. */
struct ndx_prom;
void ndx_httpd_metrics(struct ndx_prom *p);
/* Answers GET /metrics: the daemon's own figures, which own(ctx, p)
 * appends (NULL: none), then ndx_httpd_metrics, as NDX_PROM_CONTENT_TYPE.
 * Another method gets 405 (Allow: GET) without own being called, a failed
 * rendering 500. */
void ndx_httpd_metrics_answer(const struct ndx_http_req *req, struct ndx_http_resp *resp,
			      void (*own)(void *ctx, struct ndx_prom *p), void *ctx);

#endif
