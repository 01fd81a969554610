/* The h2o engine of include/ndx/httpd.h (cfg.engine = NDX_HTTPD_H2O, with
 * cfg.loop): Debian's libh2o-evloop 2.2.5, its HTTP/1.1 server and its own
 * event loop, run inside the ndx_loop the port was given, so that handlers,
 * deferred answers and everything else of that loop (a gateway's libcurl
 * multi handle, its signer, its log completions) share one thread. What is
 * common with the libmicrohttpd engine (the response object, the access-log
 * line, the metrics, query arguments, deferral) is in httpd_common.c; why
 * h2o: bench/README.md "The HTTP layer: spike".
 *
 * h2o's loop inside ours. h2o 2.2's evloop has one epoll descriptor of its
 * own and no way to hand it out (h2o_epoll_fd below reads it from the
 * loop's private layout and proves it is the right one). That descriptor is
 * watched in the ndx_loop: when it is readable, h2o_evloop_run(h2o, 0)
 * serves what is ready without blocking. h2o also keeps work of its own
 * between runs (sockets whose polling changed, completed writes whose
 * callbacks are pending, its timeouts): after every run, and after every
 * call into h2o from outside one (a deferred answer sent), rearm() arms one
 * loop timer, at 0 ms while h2o has pending work, else at h2o's next
 * timeout. Nothing of h2o is touched from another thread: ndx_http_resume
 * from another thread posts a task to the loop.
 *
 * What httpd.h promises, and how it holds here:
 * - Bodies: h2o buffers a request's body before calling us; over max_body
 *   the handler is not called and the answer is the JSON 413 of cfg. h2o
 *   itself refuses (its plain-text 413, connection closed) a body over
 *   max_body + SLACK, so that an oversized body costs bounded memory; that
 *   refusal is logged with "refused_by": "h2o" (on_log below).
 * - The request deadline: h2o's own request timeout runs from the moment a
 *   connection waits for a request, idle time included, and closes without
 *   a word. So a watchdog timer on the loop (every WATCH_TICK_MS, no system
 *   call: h2o counts the bytes it has read on each socket) starts a
 *   request's clock at its first byte, cuts a request still arriving after
 *   request_deadline_s with the fixed 408 (over TLS: only closed), and
 *   closes a connection idle for HTTPD_CONNECTION_TIMEOUT_S. h2o's timeout
 *   is set beyond both, as a backstop. The TLS handshake is h2o's to time
 *   (its handshake timeout, 10 s), not part of the deadline.
 * - max_connections and max_connections_per_ip: counted at accept(2),
 *   which is ours (not h2o's): over either the connection is closed at
 *   once, unanswered.
 * - strict: h2o's parser (picohttpparser) refuses a header line with a NUL
 *   or a bare CR, a byte not allowed in the path, a line without a colon,
 *   more than 100 headers; those heads are answered with the daemon's JSON
 *   400 (cfg.bad_request_type) and logged ("Heads h2o's parser refuses"
 *   below), as is an HTTP/1.1 request without Host; a head over 32 KiB gets
 *   431; a request line naming another HTTP version than 1.x gets 505. A
 *   malformed head that arrived pipelined behind another request still
 *   gets h2o's own plain-text 400, logged "refused_by": "h2o" when it
 *   arrived with that request (log_pipelined_refusal).
 * - TLS 1.2/1.3 (OpenSSL), a client certificate asked for, not required,
 *   when tls_trust_pem is set; ndx_http_client_cert checks OpenSSL's
 *   verification result once per connection (h2o_ssl_of below).
 * - Headers in received order, except those h2o takes out of the list while
 *   parsing (Host, Content-Length, Transfer-Encoding, Expect, Upgrade):
 *   Host is put back first, Content-Length (of the body received) last, the
 *   other three are not seen by handlers.
 * - HTTP/2 (cfg.http2, TLS only): ALPN offers h2 and http/1.1; what is
 *   above holds on its streams too (the client certificate is the
 *   connection's, the limits count connections; "HTTP/2 connections"
 *   below for the deadline, kept per connection), drain sends GOAWAY, and
 *   the access log and ndx_http_requests_http2_total mark its requests.
 *   Without cfg.http2 no ALPN is offered and clients speak HTTP/1.1. */
#include "httpd_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "h2o.h"
#include "h2o/http2.h"

#include "ndx/encode.h"
#include "ndx/err.h"
#include "ndx/hash.h"
#include "ndx/loop.h"

/* Bytes over max_body that h2o still buffers so that we answer the JSON
 * 413; beyond, h2o's own. */
#define SLACK (1024u * 1024u)
#define WATCH_TICK_MS 200
/* Connections accepted per readiness of the listening socket. */
#define ACCEPT_BATCH 64
#define CONN_MAGIC 0x6e64786832636f6eULL
/* The largest request head served (request line and headers), as
 * libmicrohttpd's per-connection memory bounds it for the other engine:
 * over it, 431 before the handler. (h2o's own limit is 64 KiB.) */
#define HEAD_MAX (32u * 1024u)
/* The access-log lines a server holds for the end of the loop turn
 * (httpd_common.c "the access log of an event loop's turn"): past it they
 * are written at once. A turn of the gateway's benchmark holds a few
 * lines of ~250 bytes; 64 KiB bounds a burst's memory and its wait. */
#define ACCESS_BATCH_CAP (64u * 1024u)

/* h2o's HTTP/1 parser (picohttpparser, exported by libh2o but its header
 * is not installed by Debian's package): used only to name the method and
 * path of a request cut by the deadline in its access-log line. */
struct phr_header {
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
};
int phr_parse_request(const char *buf, size_t len, const char **method, size_t *method_len,
		      const char **path, size_t *path_len, int *minor_version,
		      struct phr_header *headers, size_t *num_headers, size_t last_len);

/* The path of a request target of len bytes (not NUL-terminated) without
 * its query, into out for the access log. */
static void log_path(const char *p, size_t len, char *out, size_t cap)
{
	const char *q = p ? memchr(p, '?', len) : NULL;
	size_t n = q ? (size_t)(q - p) : len;

	if (!p)
		n = 0;
	if (n >= cap)
		n = cap - 1;
	if (n)
		memcpy(out, p, n);
	out[n] = '\0';
}

enum conn_phase {
	PHASE_WAITING,   /* no byte of a (next) request seen: idle time */
	PHASE_ARRIVING,  /* request bytes arriving: the deadline runs */
	PHASE_ANSWERING, /* the request is with the handler or being answered */
	PHASE_CUT,       /* refused for the deadline or idleness; shut down */
};

struct h2srv;

/* One accepted connection, from accept(2) to h2o's close of its socket
 * (the socket's on_close callback, which h2o leaves to the application for
 * a server socket). */
struct h2conn {
	uint64_t magic;
	struct h2srv *srv;
	struct h2conn *prev, *next;
	h2o_socket_t *sock;
	int fd;
	struct in_addr ip; /* per-address counting; 0 on a Unix socket */
	char remote[64];
	enum conn_phase phase;
	int64_t since_ms;    /* when the phase began (loop clock) */
	int64_t active_ms;   /* when the last byte was seen (by the watchdog) */
	size_t seen_bytes;   /* sock->bytes_read then */
	size_t mark_bytes;   /* sock->bytes_read when the last request ended */
	int handled;         /* on_req saw the current request (on_log skips it) */
	int h2;              /* HTTP/2 (ALPN "h2"): the phases are of its streams */
	unsigned held;       /* HTTP/2: its requests with the handler, unanswered */
	struct h2conn *next_guard; /* on srv->to_guard: its reads not yet guarded */
	int guard_pending;
	char *refusal;       /* our answer to a head h2o's parser refuses */
	int checked, ok;
	char fingerprint[2 * NDX_SHA256_LEN + 1];
};

/* One request, from on_req to its answer (or to the resume of an answer
 * whose client left). */
struct h2req {
	struct httpd_req_common c; /* first: req->internal points here too */
	struct h2srv *srv;
	struct h2req *prev, *next; /* srv->reqs, loop thread only */
	h2o_req_t *h2;             /* NULL once h2o has disposed of the request */
	struct h2req **link;       /* in h2o's request pool: cleared on dispose */
	struct h2conn *conn;       /* valid while h2 is */
	struct ndx_loop_task task; /* the answer, resumed from another thread */
	struct timespec start;
	struct http_stats *stats;
	char remote[64];
	char *strings; /* method, path, query, headers: one block */
	struct httpd_hdr *hdrs;
	size_t nhdrs;
	char *body;
	struct ndx_http_req req;
	struct ndx_http_resp resp;
	int orphan; /* resumed while the loop could not take it: freed at stop */
	int held;   /* counted in conn->held */
	int over_h2; /* came over HTTP/2 */
};

struct h2srv {
	const struct httpd_engine *engine; /* first: ndx_httpd_* find it there */
	struct httpd_log log;
	struct ndx_httpd_config cfg;
	char *name;
	char *unix_path;
	char *timeout_body;
	struct ndx_loop *loop;
	uint16_t port;
	int tls;
	int http2; /* cfg.http2 with TLS: ALPN offers h2 */
	SSL_CTX *ssl;
	h2o_globalconf_t config;
	int config_made;
	h2o_context_t ctx;
	int ctx_made;
	h2o_evloop_t *h2loop;
	int ep;      /* h2o's epoll descriptor */
	int watched; /* ep is watched in the loop */
	h2o_accept_ctx_t accept;
	int listen_fd;
	h2o_socket_t *listener;
	struct ndx_loop_timer run_timer;   /* h2o's pending work and timeouts */
	struct ndx_loop_timer watch_timer; /* the request deadline */
	struct h2conn *conns;
	unsigned nconns;
	struct h2conn *to_guard; /* connections whose next head guard_read must see */
	struct h2req *reqs;
	unsigned deadline_ms;
	atomic_uint active;   /* requests between on_req and their end */
	atomic_uint deferred; /* deferred answers not yet resumed */
	int stopping;
	/* The access-log lines of the loop's turn, written by flush_access_log,
	 * a before-sleep hook of the loop while hooked (log.batch then points
	 * here; else each line is written at once). */
	struct httpd_log_batch batch;
	int hooked;
};

static const char *h2_header_n(const struct ndx_http_req *req, const char *name, size_t *len);
static const char *h2_header_last_n(const struct ndx_http_req *req, const char *name,
				    size_t *len);
static int h2_headers_each(const struct ndx_http_req *req,
			   int (*fn)(void *ud, const char *name, size_t name_len,
				     const char *value, size_t value_len),
			   void *ud);
static int h2_client_cert(const struct ndx_http_req *req, char fingerprint_hex[65]);
static void h2_resume(struct ndx_http_pending *p);
static uint16_t h2_port(const struct ndx_httpd *h);
static unsigned h2_drain(struct ndx_httpd *h, unsigned timeout_ms);
static void h2_stop(struct ndx_httpd *h);

static const struct httpd_engine h2o_engine = {
	.header_n = h2_header_n,
	.header_last_n = h2_header_last_n,
	.headers_each = h2_headers_each,
	.client_cert = h2_client_cert,
	.resume = h2_resume,
	.port = h2_port,
	.drain = h2_drain,
	.stop = h2_stop,
};

/* ---- h2o's loop inside the ndx_loop --------------------------------------- */

/* h2o 2.2.5 keeps its epoll descriptor in struct st_h2o_evloop_epoll_t
 * (lib/common/socket/evloop/epoll.c.h), right after the public h2o_evloop_t,
 * and no function returns it. This is the one place that relies on that
 * layout, and it checks the result: the descriptor must be an epoll
 * instance (/proc/self/fd), and it must become readable when a pipe that
 * h2o watches does, which no other epoll instance of the process would.
 * Returns -1 when either check fails (another h2o build): the port then
 * does not start. */
struct h2o225_evloop_epoll {
	h2o_evloop_t super;
	int ep;
};

static void probe_read(h2o_socket_t *sock, const char *err)
{
	(void)err;
	h2o_buffer_consume(&sock->input, sock->input->size);
}

static int h2o_epoll_fd(h2o_evloop_t *loop)
{
	int ep = ((struct h2o225_evloop_epoll *)(void *)loop)->ep;
	char path[64], target[64];
	ssize_t n;
	int p[2], ready = 0;
	h2o_socket_t *sock;
	struct pollfd pfd;

	snprintf(path, sizeof path, "/proc/self/fd/%d", ep);
	if (ep < 0 || (n = readlink(path, target, sizeof target - 1)) < 0)
		return -1;
	target[n] = '\0';
	if (strcmp(target, "anon_inode:[eventpoll]") != 0)
		return -1;
	if (pipe2(p, O_NONBLOCK | O_CLOEXEC) != 0)
		return -1;
	sock = h2o_evloop_socket_create(loop, p[0], 0);
	h2o_socket_read_start(sock, probe_read);
	h2o_evloop_run(loop, 0); /* registers the pipe with h2o's epoll */
	if (write(p[1], "x", 1) == 1) {
		pfd = (struct pollfd){ .fd = ep, .events = POLLIN };
		ready = poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN);
	}
	h2o_evloop_run(loop, 0); /* consumes the byte */
	h2o_socket_read_stop(sock);
	h2o_socket_close(sock); /* closes p[0] */
	h2o_evloop_run(loop, 0);
	close(p[1]);
	return ready ? ep : -1;
}

static int64_t wall_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* The timer that makes the loop run h2o again: now while h2o has pending
 * work (fields of the public h2o_evloop_t), else at h2o's next timeout
 * (h2o's clock is wall-clock milliseconds). */
static void rearm(struct h2srv *s)
{
	h2o_evloop_t *l = s->h2loop;
	uint64_t wake;
	int64_t ms;

	if (l->_pending_as_client || l->_pending_as_server || l->_statechanged.head) {
		ndx_loop_timer_arm(s->loop, &s->run_timer, 0);
		return;
	}
	wake = h2o_timeout_get_wake_at(&l->_timeouts);
	if (wake == UINT64_MAX) {
		ndx_loop_timer_disarm(s->loop, &s->run_timer);
		return;
	}
	ms = (int64_t)wake - wall_ms();
	ndx_loop_timer_arm(s->loop, &s->run_timer, ms > 0 ? ms : 0);
}

/* ---- HTTP/2 connections --------------------------------------------------
 *
 * With cfg.http2 the TLS context offers ALPN "h2" (h2o's list: h2, then
 * http/1.1), and h2o runs a connection whose client chose it as HTTP/2
 * after the handshake. What the watchdog needs of such a connection is how
 * many of its streams are still arriving (headers or body not complete):
 * h2o 2.2.5 counts its streams in struct st_h2o_http2_conn_t
 * (h2o/http2_internal.h, a header Debian installs but cannot be compiled
 * without h2o's khash.h, which it does not), behind the public h2o_conn_t,
 * the socket and the peer's settings. That prefix is mirrored here and read
 * only when it checks out: the connection's socket is ours, h2o's
 * connection object (sock->data) points back at it and at our context, and
 * the session's ALPN says h2. Otherwise the connection's streams have no
 * deadline of ours (h2o's idle timeout still closes a silent one). */
struct h2o225_http2_conn {
	h2o_conn_t super;
	h2o_socket_t *sock;
	h2o_http2_settings_t peer_settings;
	void *streams;
	uint32_t pull_max_open, pull_max_processed, push_max_open;
	/* h2o_http2_conn_num_streams_t priority, pull, push */
	struct {
		uint32_t open, half_closed, send_body;
	} priority, pull, push;
};

static SSL *h2o_ssl_of(const struct h2srv *s, h2o_socket_t *sock);

/* Whether c has become an HTTP/2 connection (remembered once it has): the
 * ALPN of its TLS session, asked of OpenSSL (h2o creates the session
 * during the handshake; until then there is none). */
static int conn_is_h2(struct h2conn *c)
{
	const unsigned char *p = NULL;
	unsigned len = 0;
	SSL *ssl;

	if (c->h2 || !c->srv->http2 || !(ssl = h2o_ssl_of(c->srv, c->sock)))
		return c->h2;
	SSL_get0_alpn_selected(ssl, &p, &len);
	c->h2 = len == 2 && memcmp(p, "h2", 2) == 0;
	return c->h2;
}

static const struct h2o225_http2_conn *h2_conn_of(const struct h2srv *s, struct h2conn *c)
{
	const struct h2o225_http2_conn *hc = c->sock->data;

	if (!c->h2 || !hc || hc->sock != c->sock || hc->super.ctx != &s->ctx)
		return NULL;
	return hc;
}

/* ---- heads h2o's parser refuses ------------------------------------------
 *
 * h2o 2.2 answers a request head its parser refuses (a NUL or a bare CR in a
 * header, a byte RFC 3986 does not allow in the path, a header line without
 * a colon, more than 100 headers) with a fixed plain-text 400 of its own,
 * before any request exists for a handler or a logger. To answer those
 * with the daemon's JSON error (cfg.bad_request_type and its words) and an
 * access-log line, as the libmicrohttpd engine does, the read callback of
 * h2o's HTTP/1 connection is wrapped: guard_read runs h2o's own parser
 * (phr_parse_request, with h2o's limits) over the head received so far, and
 * passes the read on to h2o unless the parser refuses it. h2o sets that
 * callback again (h2o_socket_read_start) for each request of a kept-alive
 * connection, so the connections that have answered are on srv->to_guard
 * until h2o has done so; run_h2o wraps them after each run. h2o's own
 * HTTP/1 read callback is learnt once, from a connection over a socket
 * pair (learn_h1_read). A head that arrived together with the previous
 * request (pipelined) is parsed by h2o directly and gets h2o's own 400;
 * log_pipelined_refusal logs it when it arrives. */

/* h2o's HTTP/1 read callback (reqread_on_read): the same for every server
 * of the process, learnt by the first that starts (on its loop thread while
 * another may start on another: atomic). */
static _Atomic(h2o_socket_cb) h1_read;
static void guard_read(h2o_socket_t *sock, const char *err);
static void on_conn_close(void *data);

static void guard_later(struct h2conn *c)
{
	if (c->guard_pending || !h1_read)
		return;
	c->guard_pending = 1;
	c->next_guard = c->srv->to_guard;
	c->srv->to_guard = c;
}

/* Wraps the read callback of every connection on to_guard that h2o has
 * set reading for its next request. */
static void guard_now(struct h2srv *s)
{
	struct h2conn **pp = &s->to_guard;

	while (*pp) {
		struct h2conn *c = *pp;

		if (c->sock->_cb.read == h1_read) {
			c->sock->_cb.read = guard_read;
			*pp = c->next_guard;
			c->guard_pending = 0;
		} else if (conn_is_h2(c)) {
			/* HTTP/2 frames, not HTTP/1 heads: h2o's HTTP/2 parser
			 * answers what it refuses, logged by on_log */
			*pp = c->next_guard;
			c->guard_pending = 0;
		} else {
			pp = &c->next_guard;
		}
	}
}

static void on_probe_close(void *data)
{
	*(int *)data = 1;
}

/* h2o's HTTP/1 read callback, as h2o sets it on a new connection: one over a
 * socket pair, closed again at once. Leaves h1_read NULL (heads h2o refuses
 * then get h2o's own 400) when it cannot tell. */
static void learn_h1_read(struct h2srv *s)
{
	h2o_accept_ctx_t plain = { .ctx = &s->ctx, .hosts = s->config.hosts };
	h2o_socket_t *sock;
	int sv[2], closed = 0;

	if (h1_read || socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0)
		return;
	sock = h2o_evloop_socket_create(s->h2loop, sv[0], 0);
	sock->on_close.cb = on_probe_close;
	sock->on_close.data = &closed;
	h2o_accept(&plain, sock);
	if (sock->_cb.read && sock->_cb.read != guard_read)
		h1_read = sock->_cb.read;
	close(sv[1]); /* h2o reads end-of-file and closes the connection */
	for (int i = 0; i < 100 && !closed; i++)
		h2o_evloop_run(s->h2loop, 10);
}

static void on_refusal_sent(h2o_socket_t *sock, const char *err)
{
	(void)err;
	/* h2o's connection closes itself on a read error. */
	h1_read(sock, h2o_socket_error_closed);
}

/* Answers the head h2o's parser refused on c, then closes the connection
 * through h2o. */
static void refuse_head(struct h2srv *s, struct h2conn *c, int status, const char *method,
			const char *path, int in_path)
{
	struct ndx_http_resp r = { 0 };
	struct timespec start;
	char detail[128];
	const char *type = s->cfg.bad_request_type ? s->cfg.bad_request_type
						   : "Client.InvalidRequest";
	const char *word = in_path ? s->cfg.bad_path_reason : s->cfg.bad_header_reason;
	size_t cap, n = 0;
	h2o_iovec_t iov;

	if (status == 505)
		word = s->cfg.bad_header_reason;
	/* The same answer as a head over HEAD_MAX that reached on_req whole
	 * (which of the two sees it depends on how the bytes arrived). */
	if (status == 431) {
		type = "Client.InvalidRequest";
		word = NULL;
	}
	snprintf(detail, sizeof detail, "%s%s%s", word ? word : "", word ? ": " : "",
		 status == 431 ? "the request head exceeds 32768 bytes"
		 : status == 505 ? "only HTTP/1.x is served on this connection"
		 : in_path     ? "the request line cannot be parsed"
			       : "a header line cannot be parsed");
	ndx_http_resp_error(&r, status, type,
			    status == 431   ? "request header fields too large"
			    : status == 505 ? "HTTP version not supported"
					    : "bad request",
			    detail);
	cap = (r.body ? r.len : 0) + 256 + strlen(type);
	if (!r.oom && r.body && (c->refusal = malloc(cap)))
		n = (size_t)snprintf(c->refusal, cap,
				     "HTTP/1.1 %d %s\r\nConnection: close\r\n"
				     "Content-Type: application/json; charset=utf-8\r\n"
				     "X-Road-Error: %s\r\nContent-Length: %zu\r\n\r\n%s",
				     status, status == 431   ? "Request Header Fields Too Large"
					     : status == 505 ? "HTTP Version Not Supported"
							     : "Bad Request",
				     type, r.len, r.body);
	c->phase = PHASE_CUT;
	clock_gettime(CLOCK_MONOTONIC, &start);
	httpd_access_log_line(&s->log, c->remote, &start, method, path, status, type,
			      n ? r.len : 0, NULL, NULL);
	httpd_resp_free(&r);
	h2o_socket_read_stop(c->sock);
	if (!n || n >= cap) {
		h1_read(c->sock, h2o_socket_error_closed);
		return;
	}
	iov = h2o_iovec_init(c->refusal, n);
	h2o_socket_write(c->sock, &iov, 1, on_refusal_sent);
}

/* Whether the request line in buf (len bytes, its end within them) names
 * an HTTP version other than 1.x ("GET / HTTP/2.0"): picohttpparser knows
 * only HTTP/1.x and refuses the line, which deserves 505 (RFC 9110 15.6.6)
 * rather than 400, as libmicrohttpd answers. */
static int other_http_version(const char *buf, size_t len)
{
	const char *nl = memchr(buf, '\n', len);
	size_t n;

	if (!nl)
		return 0;
	n = (size_t)(nl - buf);
	if (n && buf[n - 1] == '\r')
		n--;
	return n >= 9 && memcmp(buf + n - 9, " HTTP/", 6) == 0 &&
	       buf[n - 3] >= '0' && buf[n - 3] <= '9' && buf[n - 3] != '1' &&
	       buf[n - 2] == '.' && buf[n - 1] >= '0' && buf[n - 1] <= '9';
}

/* The length of the body that follows a complete head with these headers:
 * its Content-Length, 0 without one, -1 when it cannot be told here
 * (chunked, or a Content-Length that is not a number). */
static long long body_after(const struct phr_header *h, size_t nh)
{
	long long n = 0;

	for (size_t i = 0; i < nh; i++) {
		if (h[i].name_len == 17 && strncasecmp(h[i].name, "transfer-encoding", 17) == 0)
			return -1;
		if (h[i].name_len == 14 && strncasecmp(h[i].name, "content-length", 14) == 0) {
			n = 0;
			if (!h[i].value_len || h[i].value_len > 15)
				return -1;
			for (size_t k = 0; k < h[i].value_len; k++) {
				if (h[i].value[k] < '0' || h[i].value[k] > '9')
					return -1;
				n = n * 10 + (h[i].value[k] - '0');
			}
		}
	}
	return n;
}

#define PIPELINE_LOOKAHEAD 8

/* Requests pipelined behind the one at the start of in (whose head is
 * head bytes long, with headers h) are parsed by h2o straight from its
 * buffer once that one is answered, without a read that guard_read could
 * see; one whose head h2o's parser refuses gets h2o's plain-text 400.
 * Logs such a head now, marked "refused_by": "h2o", so that no refusal
 * goes unlogged (what is answered is h2o's, and follows in order). */
static void log_pipelined_refusal(struct h2conn *c, const h2o_buffer_t *in, size_t head,
				  const struct phr_header *h, size_t nh)
{
	struct phr_header hdrs[H2O_MAX_HEADERS];
	size_t off = head;

	for (int i = 0; i < PIPELINE_LOOKAHEAD; i++) {
		long long body = body_after(h, nh);
		const char *m = NULL, *p = NULL;
		size_t ml = 0, pl = 0, len;
		int minor, rc;

		if (body < 0 || (unsigned long long)body >= in->size - off)
			return;
		off += (size_t)body;
		len = in->size - off;
		nh = H2O_MAX_HEADERS;
		rc = phr_parse_request(in->bytes + off, len, &m, &ml, &p, &pl, &minor, hdrs, &nh, 0);
		if (rc == -1) {
			char method[16] = "", path[256] = "";
			struct timespec start;

			if (m && ml < sizeof method)
				snprintf(method, sizeof method, "%.*s", (int)ml, m);
			log_path(p, pl, path, sizeof path);
			clock_gettime(CLOCK_MONOTONIC, &start);
			httpd_access_log_line(&c->srv->log, c->remote, &start, method, path, 400,
					      "Client.InvalidRequest", 0, "h2o", NULL);
			return;
		}
		if (rc < 0)
			return;
		off += (size_t)rc;
		h = hdrs;
	}
}

static void guard_read(h2o_socket_t *sock, const char *err)
{
	struct h2conn *c = sock->on_close.cb == on_conn_close ? sock->on_close.data : NULL;
	const h2o_buffer_t *in = sock->input;
	size_t len, ml = 0, pl = 0, nh = H2O_MAX_HEADERS;
	const char *m = NULL, *p = NULL;
	struct phr_header hdrs[H2O_MAX_HEADERS];
	int minor, rc;

	/* back to h2o's callback: h2o sets it anew for the next request */
	sock->_cb.read = h1_read;
	if (err || !c || c->magic != CONN_MAGIC || !in || in->size <= 4) {
		h1_read(sock, err);
		return;
	}
	len = in->size < H2O_MAX_REQLEN ? in->size : H2O_MAX_REQLEN;
	rc = phr_parse_request(in->bytes, len, &m, &ml, &p, &pl, &minor, hdrs, &nh, 0);
	if (rc == -1 || (rc == -2 && len > HEAD_MAX)) {
		char method[16] = "", path[256] = "";

		if (m && ml < sizeof method)
			snprintf(method, sizeof method, "%.*s", (int)ml, m);
		log_path(p, pl, path, sizeof path);
		if (rc == -1 && other_http_version(in->bytes, len))
			refuse_head(c->srv, c, 505, method, path, 0);
		else
			refuse_head(c->srv, c, rc == -1 ? 400 : 431, method, path,
				    rc == -1 && !p);
		return;
	}
	if (rc == -2)
		sock->_cb.read = guard_read; /* the rest of the head: look again */
	else if ((size_t)rc < in->size)
		log_pipelined_refusal(c, in, (size_t)rc, hdrs, nh);
	h1_read(sock, err);
}

static void run_h2o(struct h2srv *s)
{
	h2o_evloop_run(s->h2loop, 0);
	if (s->to_guard)
		guard_now(s);
	rearm(s);
}

static void on_h2o_ready(void *arg, int fd, unsigned events)
{
	(void)fd;
	(void)events;
	run_h2o(arg);
}

static void on_run_timer(void *arg)
{
	run_h2o(arg);
}

/* ---- connections --------------------------------------------------------- */

static void conn_unlink(struct h2conn *c)
{
	struct h2srv *s = c->srv;

	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->nconns--;
}

static void guard_unlink(struct h2conn *c)
{
	struct h2conn **pp = &c->srv->to_guard;

	if (!c->guard_pending)
		return;
	while (*pp && *pp != c)
		pp = &(*pp)->next_guard;
	if (*pp)
		*pp = c->next_guard;
	c->guard_pending = 0;
}

static void on_conn_close(void *data)
{
	struct h2conn *c = data;

	guard_unlink(c);
	conn_unlink(c);
	c->magic = 0;
	free(c->refusal);
	free(c);
}

/* Our connection of an h2o request, or NULL when it is not one of ours. */
static struct h2conn *conn_of(h2o_conn_t *conn)
{
	h2o_socket_t *sock = conn->callbacks->get_socket ? conn->callbacks->get_socket(conn) : NULL;
	struct h2conn *c;

	if (!sock || sock->on_close.cb != on_conn_close)
		return NULL;
	c = sock->on_close.data;
	return c && c->magic == CONN_MAGIC ? c : NULL;
}

static unsigned conns_from(const struct h2srv *s, struct in_addr ip)
{
	unsigned n = 0;

	for (const struct h2conn *c = s->conns; c; c = c->next)
		n += c->ip.s_addr == ip.s_addr;
	return n;
}

static void accept_one(struct h2srv *s, int fd, const struct sockaddr_storage *ss)
{
	struct h2conn *c;
	struct in_addr ip = { 0 };
	int on = 1;

	if (ss->ss_family == AF_INET)
		ip = ((const struct sockaddr_in *)(const void *)ss)->sin_addr;
	/* Over a limit: closed at once, unanswered (docs/security.md,
	 * slow-loris). */
	if (s->stopping || s->nconns >= s->cfg.max_connections ||
	    (ss->ss_family == AF_INET && conns_from(s, ip) >= s->cfg.max_connections_per_ip) ||
	    !(c = calloc(1, sizeof *c))) {
		close(fd);
		return;
	}
	if (ss->ss_family != AF_UNIX)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
	c->magic = CONN_MAGIC;
	c->srv = s;
	c->fd = fd;
	c->ip = ip;
	httpd_format_addr((const struct sockaddr *)ss, c->remote, sizeof c->remote);
	c->phase = PHASE_WAITING;
	c->since_ms = c->active_ms = ndx_loop_now_ms();
	c->sock = h2o_evloop_socket_create(s->h2loop, fd, H2O_SOCKET_FLAG_IS_ACCEPTED_CONNECTION);
	c->sock->on_close.cb = on_conn_close;
	c->sock->on_close.data = c;
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->nconns++;
	h2o_accept(&s->accept, c->sock);
	/* plain: h2o reads for the first request now; TLS: after the handshake */
	guard_later(c);
	guard_now(s);
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
	struct h2srv *s = listener->data;

	if (err)
		return;
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof ss;
		int fd = accept4(s->listen_fd, (struct sockaddr *)&ss, &len,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0)
			return; /* EAGAIN, or EMFILE: the next readiness tries again */
		accept_one(s, fd, &ss);
	}
}

/* ---- the request deadline and the idle timeout ---------------------------- */

/* The method and path of the request head c has begun, as far as they
 * have arrived, for the access log. */
static void head_so_far(const struct h2conn *c, char *method, size_t mcap, char *path,
			size_t pcap)
{
	const char *m = NULL, *p = NULL;
	size_t ml = 0, pl = 0, nh = 0;
	int minor;
	const h2o_buffer_t *in = c->sock->input;

	method[0] = path[0] = '\0';
	if (!in || !in->size)
		return;
	(void)phr_parse_request(in->bytes, in->size, &m, &ml, &p, &pl, &minor, NULL, &nh, 0);
	if (m && ml < mcap)
		snprintf(method, mcap, "%.*s", (int)ml, m);
	log_path(p, pl, path, pcap);
}

static void cut(struct h2srv *s, struct h2conn *c, int64_t now)
{
	struct timespec start;
	size_t bytes = 0;
	char method[16], path[256];

	if (!s->tls) {
		char buf[1024];
		size_t n = httpd_timeout_wire(&s->cfg, s->timeout_body, buf, sizeof buf);

		/* Nothing of an answer has been written for this request (it
		 * has not reached us), so the 408 cannot mix with one. */
		if (n && send(c->fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)n)
			bytes = strlen(s->timeout_body);
	}
	head_so_far(c, method, sizeof method, path, sizeof path);
	shutdown(c->fd, SHUT_RDWR); /* h2o reads end-of-file and closes */
	c->phase = PHASE_CUT;
	clock_gettime(CLOCK_MONOTONIC, &start);
	start.tv_sec -= (time_t)((now - c->since_ms) / 1000);
	httpd_access_log_line(&s->log, c->remote, &start, method, path, 408,
			      httpd_timeout_type(&s->cfg), bytes, NULL, NULL);
}

/* An HTTP/2 connection cut for the deadline: which of its streams was too
 * slow is h2o's to know, so the line names none; over TLS (always, for
 * HTTP/2) nothing is written, as for HTTP/1.1. */
static void cut_h2(struct h2srv *s, struct h2conn *c, int64_t now)
{
	struct timespec start;

	shutdown(c->fd, SHUT_RDWR);
	c->phase = PHASE_CUT;
	clock_gettime(CLOCK_MONOTONIC, &start);
	start.tv_sec -= (time_t)((now - c->since_ms) / 1000);
	httpd_access_log_line_h2(&s->log, c->remote, &start, "", "", 408,
				 httpd_timeout_type(&s->cfg), 0, NULL, NULL, 1);
}

/* The request deadline on an HTTP/2 connection: while some of its streams
 * are arriving (open, not answered, not with the handler), a request must
 * complete within request_deadline_s; every request that does (on_req)
 * starts the clock again. So a connection whose streams all trickle is
 * cut, as an HTTP/1.1 connection whose one request trickles is; a stream
 * that trickles beside others that complete is bounded by h2o's limits
 * (100 streams, max_body + SLACK each) and the connection limits. */
static void watch_h2(struct h2srv *s, struct h2conn *c, int64_t now)
{
	const struct h2o225_http2_conn *hc = h2_conn_of(s, c);
	uint32_t arriving;

	if (!hc || c->phase == PHASE_CUT || hc->pull.half_closed > hc->pull.open)
		return;
	arriving = hc->pull.open - hc->pull.half_closed;
	arriving = arriving > c->held ? arriving - c->held : 0;
	if (!arriving) {
		c->phase = PHASE_WAITING;
	} else if (c->phase != PHASE_ARRIVING) {
		c->phase = PHASE_ARRIVING;
		c->since_ms = now;
	} else if (now - c->since_ms >= (int64_t)s->deadline_ms) {
		cut_h2(s, c, now);
	}
}

static void on_watch(void *arg)
{
	struct h2srv *s = arg;
	int64_t now = ndx_loop_now_ms();

	for (struct h2conn *c = s->conns; c; c = c->next) {
		if (conn_is_h2(c)) {
			watch_h2(s, c, now);
			continue;
		}
		if (c->sock->bytes_read != c->seen_bytes) {
			c->seen_bytes = c->sock->bytes_read;
			c->active_ms = now;
		}
		if (c->phase == PHASE_WAITING && c->sock->bytes_read > c->mark_bytes) {
			c->phase = PHASE_ARRIVING;
			c->since_ms = now;
		}
		if ((c->phase == PHASE_WAITING || c->phase == PHASE_ARRIVING) &&
		    now - c->active_ms >= (int64_t)HTTPD_CONNECTION_TIMEOUT_S * 1000) {
			/* idle, between requests or within one: closed without a word */
			shutdown(c->fd, SHUT_RDWR);
			c->phase = PHASE_CUT;
		}
		if (c->phase == PHASE_ARRIVING && now - c->since_ms >= (int64_t)s->deadline_ms)
			cut(s, c, now);
	}
	ndx_loop_timer_arm(s->loop, &s->watch_timer, WATCH_TICK_MS);
}

/* ---- requests ------------------------------------------------------------ */

/* st's request is no longer with the handler: answered (h2o's request
 * alive, so its connection is), or disposed of by h2o unanswered (a stream
 * the client reset, a connection closing: the connection is looked for
 * among those still open, which is rare enough to be a walk). */
static void unhold(struct h2req *st, int gone)
{
	struct h2conn *c = st->conn;

	if (!st->held || !c)
		return;
	st->held = 0;
	if (gone) {
		for (c = st->srv->conns; c && c != st->conn; c = c->next)
			;
		if (!c)
			return;
	}
	if (c->held)
		c->held--;
}

static void req_free(struct h2req *st)
{
	struct h2srv *s = st->srv;

	if (st->link)
		*st->link = NULL;
	if (st->prev)
		st->prev->next = st->next;
	else if (s->reqs == st)
		s->reqs = st->next;
	if (st->next)
		st->next->prev = st->prev;
	httpd_stats_in_flight(st->stats, -1);
	free(st->strings);
	free(st->hdrs);
	free(st->body);
	httpd_resp_free(&st->resp);
	httpd_req_common_free(&st->c);
	atomic_fetch_sub_explicit(&s->active, 1, memory_order_release);
	free(st);
}

static void on_req_dispose(void *p)
{
	struct h2req **link = p;

	if (*link) {
		unhold(*link, 1);
		(*link)->h2 = NULL;
		(*link)->link = NULL;
	}
}

/* The reason phrases of our answers. on_log tells our answers from h2o's
 * own by the address of the phrase: ours are in this array (a plain object,
 * which no linker merges with another's strings), h2o's are its own. */
static const struct {
	int status;
	char text[32];
} reasons[] = {
	{ 200, "OK" }, { 201, "Created" }, { 202, "Accepted" }, { 204, "No Content" },
	{ 301, "Moved Permanently" }, { 302, "Found" }, { 303, "See Other" },
	{ 304, "Not Modified" }, { 400, "Bad Request" }, { 401, "Unauthorized" },
	{ 403, "Forbidden" }, { 404, "Not Found" }, { 405, "Method Not Allowed" },
	{ 406, "Not Acceptable" }, { 408, "Request Timeout" }, { 409, "Conflict" },
	{ 410, "Gone" }, { 411, "Length Required" }, { 412, "Precondition Failed" },
	{ 413, "Payload Too Large" }, { 415, "Unsupported Media Type" },
	{ 422, "Unprocessable Entity" }, { 429, "Too Many Requests" },
	{ 431, "Request Header Fields Too Large" }, { 500, "Internal Server Error" },
	{ 501, "Not Implemented" }, { 502, "Bad Gateway" }, { 503, "Service Unavailable" },
	{ 504, "Gateway Timeout" }, { 0, "Status" }, /* last: any other status */
};
#define NREASONS (sizeof reasons / sizeof reasons[0])

static const char *reason_of(int status)
{
	size_t i = 0;

	while (i < NREASONS - 1 && reasons[i].status != status)
		i++;
	return reasons[i].text;
}

static int ours(const char *reason)
{
	for (size_t i = 0; i < NREASONS; i++)
		if (reason == reasons[i].text)
			return 1;
	return 0;
}

/* Sends st's answer through h2o (on the loop thread, h2o's request alive),
 * logs it and frees st. */
static void send_answer(struct h2req *st)
{
	struct h2srv *s = st->srv;
	struct ndx_http_resp *resp = &st->resp;
	h2o_req_t *req = st->h2;
	struct h2conn *c = st->conn;

	if (httpd_resp_finish(resp) != 0) {
		/* nothing can be built: h2o's own 500 */
		unhold(st, 0);
		h2o_send_error_generic(req, 500, reason_of(500), "out of memory", 0);
		httpd_access_log_line_h2(&s->log, st->remote, &st->start, st->req.method,
					 st->req.path, 500, "Server.Internal", 0, NULL, NULL, st->over_h2);
		req_free(st);
		return;
	}
	req->res.status = resp->status;
	req->res.reason = reason_of(resp->status);
	if (resp->content_type[0])
		h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, "Content-Type",
			       h2o_strdup(&req->pool, resp->content_type, SIZE_MAX).base,
			       strlen(resp->content_type));
	for (size_t i = 0; i < resp->nheaders; i++) {
		const char *n = resp->headers[i].name, *v = resp->headers[i].value;
		size_t nl = resp->headers[i].name_len, vl = resp->headers[i].value_len;
		h2o_iovec_t lower;

		/* h2o frames the answer itself. */
		if (strcasecmp(n, "Content-Length") == 0 || strcasecmp(n, "Date") == 0 ||
		    strcasecmp(n, "Transfer-Encoding") == 0)
			continue;
		if (strcasecmp(n, "Connection") == 0) {
			if (strcasecmp(v, "close") == 0)
				req->http1_is_persistent = 0;
			continue;
		}
		lower = h2o_strdup(&req->pool, n, nl);
		h2o_strtolower(lower.base, nl);
		h2o_add_header_by_str(&req->pool, &req->res.headers, lower.base, nl, 1,
				      h2o_strdup(&req->pool, n, nl).base,
				      h2o_strdup(&req->pool, v, vl).base, vl);
	}
	req->res.content_length = resp->len;
	unhold(st, 0);
	if (c && !st->over_h2) {
		c->phase = PHASE_WAITING;
		c->since_ms = c->active_ms = ndx_loop_now_ms();
		c->mark_bytes = c->sock->bytes_read;
	}
	h2o_send_inline(req, resp->body, resp->len); /* copies the body */
	if (c && !st->over_h2)
		guard_later(c);
	httpd_access_log_line_h2(&s->log, st->remote, &st->start, st->req.method, st->req.path,
				 resp->status, resp->error_type, resp->len, NULL, NULL, st->over_h2);
	req_free(st);
}

/* A deferred answer is ready (loop thread). */
static void finish_deferred(struct h2req *st)
{
	struct h2srv *s = st->srv;

	if (st->h2) {
		send_answer(st);
	} else {
		/* The client went away while its answer was deferred. */
		httpd_access_log_line_h2(&s->log, st->remote, &st->start, st->req.method,
					 st->req.path, st->resp.status, st->resp.error_type, 0, NULL,
					 "the client closed the connection before the answer", st->over_h2);
		req_free(st);
	}
	rearm(s);
}

static void on_resume_task(void *arg)
{
	finish_deferred(arg);
}

static void h2_resume(struct ndx_http_pending *p)
{
	struct h2req *st = (struct h2req *)p;
	struct h2srv *s = st->srv;
	int suspended;

	pthread_mutex_lock(&st->c.defer_lock);
	st->c.ready = 1;
	atomic_fetch_sub_explicit(&s->deferred, 1, memory_order_release);
	suspended = st->c.suspended;
	pthread_mutex_unlock(&st->c.defer_lock);
	/* Not suspended: the handler is still returning on the loop thread,
	 * and on_req finds the answer ready. */
	if (!suspended)
		return;
	if (ndx_loop_on_thread(s->loop)) {
		finish_deferred(st);
		return;
	}
	st->task.fn = on_resume_task;
	st->task.arg = st;
	if (ndx_loop_post(s->loop, &st->task) != NDX_OK)
		st->orphan = 1; /* the loop has stopped: ndx_httpd_stop frees it */
}

/* Copies what the handler sees (method, path, query, headers, body) out of
 * h2o's request into st: NUL-terminated strings, in one block. */
static int copy_request(struct h2req *st, h2o_req_t *req)
{
	size_t plen = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
	size_t qlen = req->query_at != SIZE_MAX ? req->path.len - req->query_at - 1 : 0;
	int host = req->input.authority.base != NULL &&
		   req->input.authority.base != req->hostconf->authority.hostport.base;
	int has_len = req->entity.base != NULL;
	char clen[NDX_DEC_MAX];
	/* written only for a request with a body, and without printf: this
	 * runs for every request */
	size_t clen_len = has_len ? ndx_dec_u64(req->entity.len, clen) : 0;
	size_t need = req->method.len + plen + qlen + 3, n = req->headers.size + 2, k = 0;
	char *p;

	for (size_t i = 0; i < req->headers.size; i++)
		need += req->headers.entries[i].name->len + req->headers.entries[i].value.len + 2;
	need += (host ? req->input.authority.len + 6 : 0) + (has_len ? clen_len + 16 : 0);
	st->strings = p = malloc(need);
	st->hdrs = calloc(n, sizeof *st->hdrs);
	if (!p || !st->hdrs)
		return -1;
#define PUT(dst, src, len)                            \
	do {                                          \
		memcpy(p, (src), (len));              \
		p[(len)] = '\0';                      \
		(dst) = p;                            \
		p += (len) + 1;                       \
	} while (0)
	PUT(st->req.method, req->method.base, req->method.len);
	PUT(st->req.path, req->path.base, plen);
	PUT(st->req.query, qlen ? req->path.base + plen + 1 : "", qlen);
	if (host) {
		PUT(st->hdrs[k].name, "Host", 4);
		st->hdrs[k].name_len = 4;
		PUT(st->hdrs[k].value, req->input.authority.base, req->input.authority.len);
		st->hdrs[k].value_len = req->input.authority.len;
		k++;
	}
	for (size_t i = 0; i < req->headers.size; i++) {
		const h2o_header_t *h = &req->headers.entries[i];
		const char *name = h->orig_name ? h->orig_name : h->name->base;

		PUT(st->hdrs[k].name, name, h->name->len);
		st->hdrs[k].name_len = h->name->len;
		PUT(st->hdrs[k].value, h->value.base, h->value.len);
		st->hdrs[k].value_len = h->value.len;
		k++;
	}
	if (has_len) {
		PUT(st->hdrs[k].name, "Content-Length", 14);
		st->hdrs[k].name_len = 14;
		PUT(st->hdrs[k].value, clen, clen_len);
		st->hdrs[k].value_len = clen_len;
		k++;
	}
#undef PUT
	st->nhdrs = k;
	if (req->entity.len) {
		if (!(st->body = malloc(req->entity.len + 1)))
			return -1;
		memcpy(st->body, req->entity.base, req->entity.len);
		st->body[req->entity.len] = '\0';
	}
	st->req.body = (const uint8_t *)st->body;
	st->req.body_len = st->body ? req->entity.len : 0;
	st->req.remote_addr = st->remote;
	st->req.internal = st;
	return 0;
}

static size_t head_len(const h2o_req_t *req)
{
	size_t n = req->method.len + req->path.len + req->input.authority.len + 16;

	for (size_t i = 0; i < req->headers.size; i++)
		n += req->headers.entries[i].name->len + req->headers.entries[i].value.len + 4;
	return n;
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
	struct h2srv *s = *(struct h2srv **)(self + 1);
	struct h2conn *c = conn_of(req->conn);
	struct h2req *st;
	struct h2req **link;
	int ready;

	if (c && req->version >= 0x200) {
		/* one of an HTTP/2 connection's streams has arrived: the
		 * connection's deadline starts again (watch_h2) */
		c->since_ms = ndx_loop_now_ms();
	} else if (c) {
		c->handled = 1;
		if (c->phase != PHASE_CUT)
			c->phase = PHASE_ANSWERING; /* the handler's time is not the client's */
	}
	st = calloc(1, sizeof *st);
	if (!st) {
		h2o_send_error_generic(req, 503, reason_of(503), "out of memory", 0);
		return 0;
	}
	httpd_req_common_init(&st->c, &h2o_engine, &s->deferred);
	st->srv = s;
	st->h2 = req;
	st->conn = c;
	st->over_h2 = req->version >= 0x200;
	if (c && st->over_h2) {
		c->held++;
		st->held = 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &st->start);
	_Static_assert(sizeof st->remote == sizeof c->remote, "one address text size");
	if (c)
		memcpy(st->remote, c->remote, sizeof st->remote);
	else
		memcpy(st->remote, "?", 2);
	atomic_fetch_add_explicit(&s->active, 1, memory_order_relaxed);
	st->stats = httpd_log_stats(&s->log);
	httpd_stats_in_flight(st->stats, 1);
	st->next = s->reqs;
	if (s->reqs)
		s->reqs->prev = st;
	s->reqs = st;
	link = h2o_mem_alloc_shared(&req->pool, sizeof *link, on_req_dispose);
	*link = st;
	st->link = link;
	if (copy_request(st, req) != 0) {
		st->req.method = st->req.method ? st->req.method : "";
		st->req.path = st->req.path ? st->req.path : "";
		st->resp.oom = 1;
		send_answer(st);
		return 0;
	}
	if (head_len(req) > HEAD_MAX) {
		ndx_http_resp_error(&st->resp, 431, "Client.InvalidRequest",
				    "request header fields too large",
				    "the request head exceeds 32768 bytes");
		req->http1_is_persistent = 0;
		send_answer(st);
		return 0;
	}
	if (req->entity.len > s->cfg.max_body) {
		httpd_resp_too_large(&st->resp, &s->cfg);
		send_answer(st);
		return 0;
	}
	if (s->cfg.strict && req->version >= 0x101 &&
	    req->input.authority.base == req->hostconf->authority.hostport.base) {
		char detail[96];
		const char *w = s->cfg.bad_header_reason;

		snprintf(detail, sizeof detail, "%s%san HTTP/1.1 request must carry Host",
			 w ? w : "", w ? ": " : "");
		ndx_http_resp_error(&st->resp, 400,
				    s->cfg.bad_request_type ? s->cfg.bad_request_type
							    : "Client.InvalidRequest",
				    "bad request", detail);
		req->http1_is_persistent = 0;
		send_answer(st);
		return 0;
	}
	s->cfg.handler(s->cfg.ctx, &st->req, &st->resp);
	if (!st->c.deferred) {
		send_answer(st);
		return 0;
	}
	pthread_mutex_lock(&st->c.defer_lock);
	ready = st->c.ready;
	if (!ready)
		st->c.suspended = 1;
	pthread_mutex_unlock(&st->c.defer_lock);
	if (ready)
		send_answer(st);
	return 0;
}

/* h2o's loggers run when h2o disposes of a request: every request we
 * answered has its line already; one h2o answered itself (a body over
 * max_body + SLACK: 413; broken chunked encoding: 400; an Expect other than
 * 100-continue: 417) gets its line here, marked "refused_by": "h2o". */
static void on_log(h2o_logger_t *self, h2o_req_t *req)
{
	struct h2srv *s = *(struct h2srv **)(self + 1);
	struct h2conn *c = conn_of(req->conn);
	struct timespec start;
	char method[16], path[256];
	const char *type;
	int status = req->res.status;

	/* ours: logged when answered */
	if (ours(req->res.reason) || (c && c->handled && req->version < 0x200)) {
		if (c && req->version < 0x200)
			c->handled = 0;
		return;
	}
	if (status < 400)
		return;
	snprintf(method, sizeof method, "%.*s", (int)(req->input.method.len < 15 ? req->input.method.len : 15),
		 req->input.method.base ? req->input.method.base : "");
	log_path(req->input.path.base, req->input.path.len, path, sizeof path);
	type = status == 413 ? (s->cfg.too_large_type ? s->cfg.too_large_type : "Client.TooLarge")
	       : status >= 500 ? "Server.Internal"
			       : "Client.InvalidRequest";
	clock_gettime(CLOCK_MONOTONIC, &start);
	httpd_access_log_line_h2(&s->log, c ? c->remote : "?", &start, method, path, status, type,
				 0, "h2o", NULL, req->version >= 0x200);
	if (c && req->version < 0x200) {
		c->phase = PHASE_WAITING;
		c->since_ms = c->active_ms = ndx_loop_now_ms();
		c->mark_bytes = c->sock->bytes_read;
	}
}

/* ---- request accessors --------------------------------------------------- */

static const char *h2_header_n(const struct ndx_http_req *req, const char *name, size_t *len)
{
	const struct h2req *st = req->internal;
	return httpd_hdrs_first(st->hdrs, st->nhdrs, name, len);
}

static const char *h2_header_last_n(const struct ndx_http_req *req, const char *name,
				    size_t *len)
{
	const struct h2req *st = req->internal;
	return httpd_hdrs_last(st->hdrs, st->nhdrs, name, len);
}

static int h2_headers_each(const struct ndx_http_req *req,
			   int (*fn)(void *ud, const char *name, size_t name_len,
				     const char *value, size_t value_len),
			   void *ud)
{
	const struct h2req *st = req->internal;
	return httpd_hdrs_each(st->hdrs, st->nhdrs, fn, ud);
}

/* h2o 2.2.5 does not say which OpenSSL session a socket has; its private
 * struct st_h2o_socket_ssl_t (lib/common/socket.c) starts with the SSL_CTX
 * and the SSL. Read them from there only when both check out: the context
 * is the one this server gave h2o, and the session belongs to it. */
struct h2o225_socket_ssl {
	SSL_CTX *ssl_ctx;
	SSL *ossl;
};

static SSL *h2o_ssl_of(const struct h2srv *s, h2o_socket_t *sock)
{
	const struct h2o225_socket_ssl *p = (const void *)sock->ssl;

	if (!p || p->ssl_ctx != s->ssl || !p->ossl || SSL_get_SSL_CTX(p->ossl) != s->ssl)
		return NULL;
	return p->ossl;
}

static int h2_client_cert(const struct ndx_http_req *req, char fingerprint_hex[65])
{
	const struct h2req *st = req->internal;
	struct h2conn *c = st->conn;
	SSL *ssl;
	X509 *x;
	unsigned char *der = NULL;
	int len;
	uint8_t md[NDX_SHA256_LEN];

	fingerprint_hex[0] = '\0';
	if (!st->srv->tls || !c || !st->h2)
		return NDX_EPERM;
	if (c->checked) {
		if (!c->ok)
			return NDX_EPERM;
		memcpy(fingerprint_hex, c->fingerprint, sizeof c->fingerprint);
		return NDX_OK;
	}
	c->checked = 1;
	c->ok = 0;
	ssl = h2o_ssl_of(st->srv, c->sock);
	/* The handshake asked for a certificate and let any through: the
	 * verdict of the chain against tls_trust_pem (and the validity times)
	 * is OpenSSL's verify result. */
	if (!ssl || !(x = SSL_get0_peer_certificate(ssl)) ||
	    SSL_get_verify_result(ssl) != X509_V_OK || (len = i2d_X509(x, &der)) <= 0)
		return NDX_EPERM;
	ndx_sha256(der, (size_t)len, md);
	OPENSSL_free(der);
	ndx_hex_encode(md, sizeof md, fingerprint_hex);
	memcpy(c->fingerprint, fingerprint_hex, sizeof c->fingerprint);
	c->ok = 1;
	return NDX_OK;
}

/* ---- TLS ----------------------------------------------------------------- */

/* Every client certificate is let through the handshake: the handler
 * decides (ndx_http_client_cert), as httpd.h promises. */
static int accept_any(int ok, X509_STORE_CTX *x)
{
	(void)ok;
	(void)x;
	return 1;
}

static SSL_CTX *tls_context(const struct h2srv *s, const struct ndx_httpd_config *cfg)
{
	static const unsigned char sid_ctx[] = "ndx-httpd";
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	BIO *b = NULL;
	X509 *x;
	EVP_PKEY *key = NULL;
	int first = 1, ok = 0;

	if (!ctx || SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1)
		goto out;
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
	if (!(b = BIO_new_mem_buf(cfg->tls_cert_pem, -1)))
		goto out;
	while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL))) {
		int r = first ? SSL_CTX_use_certificate(ctx, x) : SSL_CTX_add0_chain_cert(ctx, x);
		if (first)
			X509_free(x);
		else if (r != 1)
			X509_free(x);
		if (r != 1)
			goto out;
		first = 0;
	}
	ERR_clear_error();
	BIO_free(b);
	if (first || !(b = BIO_new_mem_buf(cfg->tls_key_pem, -1)) ||
	    !(key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL)) ||
	    SSL_CTX_use_PrivateKey(ctx, key) != 1 || SSL_CTX_check_private_key(ctx) != 1)
		goto out;
	BIO_free(b);
	b = NULL;
	if (cfg->tls_trust_pem) {
		X509_STORE *store = SSL_CTX_get_cert_store(ctx);

		if (!(b = BIO_new_mem_buf(cfg->tls_trust_pem, -1)))
			goto out;
		while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL))) {
			X509_STORE_add_cert(store, x);
			SSL_CTX_add_client_CA(ctx, x);
			X509_free(x);
		}
		ERR_clear_error();
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, accept_any);
		/* With client certificates asked for, OpenSSL resumes a session
		 * only in a named context. */
		SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof sid_ctx - 1);
	}
	/* HTTP/2 when the client asks for it; without ALPN, HTTP/1.1 */
	if (s->http2)
		h2o_ssl_register_alpn_protocols(ctx, h2o_alpn_protocols);
	ok = 1;
out:
	BIO_free(b);
	EVP_PKEY_free(key);
	if (!ok) {
		ERR_clear_error();
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/* ---- the server ------------------------------------------------------------ */

static int listen_tcp(const char *addr, uint16_t port, int *fd, uint16_t *bound)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	socklen_t len = sizeof sa;
	int s, on = 1;

	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1)
		return NDX_EINVAL;
	if ((s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
		return NDX_EIO;
	if (setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0 ||
	    bind(s, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(s, SOMAXCONN) != 0 ||
	    getsockname(s, (struct sockaddr *)&sa, &len) != 0) {
		close(s);
		return NDX_EIO;
	}
	*fd = s;
	*bound = ntohs(sa.sin_port);
	return NDX_OK;
}

/* The before-sleep hook: the turn's access-log lines, with one write. */
static void flush_access_log(void *arg)
{
	struct h2srv *s = arg;

	httpd_log_batch_flush(&s->batch);
}

/* On the loop's thread: h2o's loop, context and listener, and their place
 * in the ndx_loop. Leaves s->watched 0 on failure. */
static void attach(void *arg)
{
	struct h2srv *s = arg;
	h2o_hostconf_t *host;
	h2o_pathconf_t *paths[2];

	h2o_config_init(&s->config);
	s->config_made = 1;
	s->config.server_name = h2o_iovec_init(H2O_STRLIT(""));
	s->config.max_request_entity_size = s->cfg.max_body + SLACK;
	/* A backstop only: the watchdog enforces the deadline and idleness. */
	s->config.http1.req_timeout =
		((uint64_t)s->deadline_ms + HTTPD_CONNECTION_TIMEOUT_S * 1000u) * 2;
	s->config.http1.upgrade_to_http2 = 0;
	/* HTTP/2 (ALPN, s->http2): a silent connection closes as an HTTP/1.1
	 * one does; h2o handles as many requests at once as it allows
	 * streams, so that none waits in h2o's own queue (watch_h2 counts the
	 * streams not answered as arriving or with the handler). */
	s->config.http2.idle_timeout = HTTPD_CONNECTION_TIMEOUT_S * 1000u;
	s->config.http2.max_concurrent_requests_per_connection =
		H2O_HTTP2_SETTINGS_HOST.max_concurrent_streams;
	host = h2o_config_register_host(&s->config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
	paths[0] = h2o_config_register_path(host, "/", 0);
	paths[1] = &host->fallback_path;
	for (int i = 0; i < 2; i++) {
		h2o_handler_t *h = h2o_create_handler(paths[i], sizeof *h + sizeof s);
		h2o_logger_t *lg = h2o_create_logger(paths[i], sizeof *lg + sizeof s);

		h->on_req = on_req;
		*(struct h2srv **)(h + 1) = s;
		lg->log_access = on_log;
		*(struct h2srv **)(lg + 1) = s;
	}
	s->h2loop = h2o_evloop_create();
	h2o_context_init(&s->ctx, s->h2loop, &s->config);
	s->ctx_made = 1;
	s->accept.ctx = &s->ctx;
	s->accept.hosts = s->config.hosts;
	s->accept.ssl_ctx = s->ssl;
	s->ep = h2o_epoll_fd(s->h2loop);
	if (s->ep < 0) {
		fprintf(stderr, "%s: this h2o build keeps its event loop where ndx cannot find it\n",
			s->name);
		return;
	}
	learn_h1_read(s);
	s->listener = h2o_evloop_socket_create(s->h2loop, s->listen_fd, H2O_SOCKET_FLAG_DONT_READ);
	s->listener->data = s;
	h2o_socket_read_start(s->listener, on_accept);
	s->run_timer = (struct ndx_loop_timer){ .fn = on_run_timer, .arg = s };
	s->watch_timer = (struct ndx_loop_timer){ .fn = on_watch, .arg = s };
	if (ndx_loop_watch(s->loop, s->ep, NDX_LOOP_READ, on_h2o_ready, s) != NDX_OK)
		return;
	s->watched = 1;
	/* One hook per server: a gateway loop has 2 of its own (gwloop.c) and
	 * at most 3 ports (consumer, its TLS twin, gateway), within the loop's
	 * 8. Were they all taken, the port would still serve, writing each
	 * line at once as before. */
	if (ndx_loop_before_sleep(s->loop, flush_access_log, s) == NDX_OK) {
		s->hooked = 1;
		s->log.batch = &s->batch;
	}
	ndx_loop_timer_arm(s->loop, &s->watch_timer, WATCH_TICK_MS);
	run_h2o(s);
}

static void close_listener(void *arg)
{
	struct h2srv *s = arg;

	if (s->listener) {
		h2o_socket_read_stop(s->listener);
		h2o_socket_close(s->listener); /* closes listen_fd */
		s->listener = NULL;
		s->listen_fd = -1;
		if (s->h2loop)
			rearm(s);
	}
	/* Answers from now on close their HTTP/1.1 connections; an HTTP/2
	 * connection gets GOAWAY (h2o's graceful shutdown: no new stream,
	 * those open are answered). Its one-second timer is unlinked at
	 * detach, before h2o_context_dispose. */
	if (s->ctx_made && s->http2 && !s->ctx.shutdown_requested)
		h2o_context_request_shutdown(&s->ctx);
	else if (s->ctx_made)
		s->ctx.shutdown_requested = 1;
}

/* h2o keeps up to 16 freed socket buffers per thread for reuse (the
 * thread-local h2o_socket_buffer_prototype); a loop thread that ends would
 * lose them. Taken back out and freed (they are plain malloc'ed chunks);
 * the next server on this thread starts an empty cache. h2o's memory-pool
 * chunks have a cache of the same kind that h2o does not export: see
 * tests/unit/h2o.supp. */
static void drain_recycled_buffers(void)
{
	h2o_mem_recycle_t *r = &h2o_socket_buffer_prototype.allocator;

	while (r->cnt > 0)
		free(h2o_mem_alloc_recycle(r, 0));
}

/* On the loop's thread (or after the loop has stopped for good): closes
 * every connection, takes h2o out of the loop and frees it. */
static void detach(void *arg)
{
	struct h2srv *s = arg;
	int64_t until = ndx_loop_now_ms() + 2000;

	close_listener(s);
	s->stopping = 1;
	if (s->h2loop) {
		for (struct h2conn *c = s->conns; c; c = c->next)
			shutdown(c->fd, SHUT_RDWR);
		while (s->conns && ndx_loop_now_ms() < until)
			h2o_evloop_run(s->h2loop, 10);
	}
	if (s->watched)
		ndx_loop_unwatch(s->loop, s->ep);
	s->watched = 0;
	ndx_loop_timer_disarm(s->loop, &s->run_timer);
	ndx_loop_timer_disarm(s->loop, &s->watch_timer);
	if (s->ctx_made) {
		if (h2o_timeout_is_linked(&s->ctx.http2._graceful_shutdown_timeout))
			h2o_timeout_unlink(&s->ctx.http2._graceful_shutdown_timeout);
		h2o_context_dispose(&s->ctx);
		/* h2o 2.2.5's evloop build closes the queue's pipe in
		 * h2o_multithread_destroy_queue but never frees the queue
		 * (lib/common/multithread.c; the libuv build frees it in
		 * uv_close's callback). */
		free(s->ctx.queue);
		s->ctx.queue = NULL;
	}
	s->ctx_made = 0;
	if (s->h2loop) {
		/* Runs what the context's disposal queued, then frees the loop;
		 * h2o 2.2.5 leaves its epoll descriptor open. */
		h2o_evloop_run(s->h2loop, 0);
		h2o_evloop_destroy(s->h2loop);
		s->h2loop = NULL;
		if (s->ep >= 0)
			close(s->ep);
		s->ep = -1;
		drain_recycled_buffers();
	}
	/* The lines of the connections just closed, and any the loop's last
	 * turn did not write: nothing is dropped on a clean stop. */
	if (s->hooked)
		(void)ndx_loop_before_sleep_remove(s->loop, flush_access_log, s);
	s->hooked = 0;
	s->log.batch = NULL;
	httpd_log_batch_flush(&s->batch);
}

static void srv_free(struct h2srv *s)
{
	while (s->reqs)
		req_free(s->reqs); /* orphans: resumed after the loop stopped */
	if (s->config_made)
		h2o_config_dispose(&s->config);
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	if (s->unix_path)
		unlink(s->unix_path);
	SSL_CTX_free(s->ssl);
	httpd_log_batch_free(&s->batch);
	free(s->unix_path);
	free(s->timeout_body);
	free(s->name);
	free(s);
}

int httpd_h2o_start(const struct ndx_httpd_config *cfg, struct ndx_httpd **out)
{
	struct h2srv *s;
	const char *addr = cfg->bind_addr ? cfg->bind_addr : "127.0.0.1";
	unsigned deadline_s;
	int rc;

	s = calloc(1, sizeof *s);
	if (!s)
		return NDX_ENOMEM;
	s->engine = &h2o_engine;
	httpd_log_batch_init(&s->batch, STDERR_FILENO, ACCESS_BATCH_CAP);
	s->listen_fd = -1;
	s->ep = -1;
	s->cfg = *cfg;
	s->loop = cfg->loop;
	s->name = httpd_dup(cfg->name ? cfg->name : "ndx");
	if (!s->name || (cfg->unix_path && !(s->unix_path = httpd_dup(cfg->unix_path)))) {
		srv_free(s);
		return NDX_ENOMEM;
	}
	s->cfg.name = s->name;
	s->cfg.bind_addr = NULL;
	s->cfg.unix_path = NULL;
	s->cfg.tls_cert_pem = s->cfg.tls_key_pem = s->cfg.tls_trust_pem = NULL;
	s->log.name = s->name;
	s->log.on = cfg->access_log;
	s->cfg.max_connections = httpd_fit_connection_limit(
		s->name, cfg->max_connections ? cfg->max_connections : HTTPD_DEFAULT_MAX_CONNECTIONS);
	s->cfg.max_connections_per_ip =
		cfg->max_connections_per_ip ? cfg->max_connections_per_ip : HTTPD_DEFAULT_MAX_PER_IP;
	deadline_s = cfg->request_deadline_s ? cfg->request_deadline_s : HTTPD_DEFAULT_DEADLINE_S;
	if (deadline_s > 86400u)
		deadline_s = 86400u;
	s->cfg.request_deadline_s = deadline_s;
	s->deadline_ms = deadline_s * 1000u;
	s->tls = cfg->tls_cert_pem && cfg->tls_key_pem;
	s->http2 = s->tls && cfg->http2;
	s->cfg.http2 = s->http2;
	if ((cfg->tls_cert_pem || cfg->tls_trust_pem) && !s->tls) {
		fprintf(stderr, "%s: TLS needs both a certificate and a key\n", s->name);
		srv_free(s);
		return NDX_EINVAL;
	}
	if (s->tls && !(s->ssl = tls_context(s, cfg))) {
		fprintf(stderr, "%s: the TLS key or certificate is unusable\n", s->name);
		srv_free(s);
		return NDX_EIO;
	}
	if (!(s->timeout_body = httpd_timeout_body(&s->cfg, deadline_s))) {
		srv_free(s);
		return NDX_ENOMEM;
	}
	if (s->unix_path) {
		rc = httpd_unix_listen(s->name, s->unix_path, cfg->unix_mode, &s->listen_fd);
		if (rc == NDX_OK && fcntl(s->listen_fd, F_SETFL,
					  fcntl(s->listen_fd, F_GETFL) | O_NONBLOCK) != 0)
			rc = NDX_EIO;
	} else {
		rc = listen_tcp(addr, cfg->port, &s->listen_fd, &s->port);
		if (rc == NDX_EINVAL)
			fprintf(stderr, "%s: bad bind address %s (an IPv4 literal is needed)\n",
				s->name, addr);
		else if (rc != NDX_OK)
			fprintf(stderr, "%s: cannot listen on %s:%u: %s\n", s->name, addr,
				(unsigned)cfg->port, strerror(errno));
	}
	if (rc != NDX_OK) {
		if (s->unix_path && s->listen_fd < 0) {
			free(s->unix_path); /* not ours to remove */
			s->unix_path = NULL;
		}
		srv_free(s);
		return rc == NDX_EINVAL ? NDX_EINVAL : NDX_EIO;
	}
	{
		char port[16];
		snprintf(port, sizeof port, s->unix_path ? "unix" : "%u", (unsigned)s->port);
		httpd_log_attach(&s->log, port, s->tls ? cfg->tls_cert_pem : NULL);
	}
	httpd_run_on_loop(s->loop, attach, s);
	if (!s->watched) {
		fprintf(stderr, "%s: cannot run on the event loop\n", s->name);
		httpd_run_on_loop(s->loop, detach, s);
		srv_free(s);
		return NDX_EIO;
	}
	*out = (struct ndx_httpd *)(void *)s;
	return NDX_OK;
}

static uint16_t h2_port(const struct ndx_httpd *h)
{
	return ((const struct h2srv *)(const void *)h)->port;
}

static unsigned h2_drain(struct ndx_httpd *h, unsigned timeout_ms)
{
	struct h2srv *s = (struct h2srv *)(void *)h;
	unsigned left;

	httpd_run_on_loop(s->loop, close_listener, s);
	left = httpd_wait_idle(&s->active, timeout_ms);
	/* The lines of the answers drained are out before drain returns,
	 * not at the end of the loop's turn. */
	httpd_run_on_loop(s->loop, flush_access_log, s);
	return left;
}

static void h2_stop(struct ndx_httpd *h)
{
	struct h2srv *s = (struct h2srv *)(void *)h;

	httpd_run_on_loop(s->loop, close_listener, s);
	/* Whoever deferred an answer resumes it first (ndx-gateway finishes
	 * its exchanges before it stops its ports): wait for that. */
	httpd_wait_resumed(s->name, &s->deferred);
	httpd_run_on_loop(s->loop, detach, s);
	srv_free(s);
}
