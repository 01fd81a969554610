/* The HTTP server of every ndx daemon (include/ndx/httpd.h) on libmicrohttpd
 * 0.9.75: an epoll thread pool, request bodies gathered into one capped
 * buffer (over the cap the body is drained and answered 413 without calling
 * the handler), responses collected by the handler and queued here, and one
 * JSON access-log line per request on stderr. MHD is given an identity
 * unescape callback so that request paths keep their percent-encoding
 * (ids travel percent-encoded, and "%2F" must stay distinguishable from
 * "/"); as a consequence query arguments reach us raw too, and
 * ndx_http_query_arg decodes them itself. With a certificate and key the
 * daemon speaks TLS (MHD's GnuTLS); with a trust list it requests client
 * certificates, verified once per connection by ndx_http_client_cert.
 * What one client may hold is bounded: connections in all and per address
 * (MHD's limits, within RLIMIT_NOFILE), and the time a request may take to
 * arrive (the request deadline, "Request deadline" below).
 * Overview: docs/architecture.md "Daemons", docs/security.md (T18, slow-loris). */
#include "httpd_int.h"
#include "ndx/loop.h"

#include <arpa/inet.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <linux/tcp.h> /* struct tcp_info with tcpi_bytes_received; glibc's lacks it */
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ndx/buf.h"
#include "ndx/encode.h"
#include "ndx/err.h"
#include "ndx/hash.h"
#include "ndx/prom.h"
#include "ndx/redact.h"
#include "ndx/unixsock.h"

/* How much of an oversized body we read and throw away so that the client
 * can read its 413 (a client still writing when we close would see a reset
 * instead). Beyond this the connection is simply closed. */
#define DRAIN_MAX HTTPD_DRAIN_MAX
#define CONNECTION_TIMEOUT_S HTTPD_CONNECTION_TIMEOUT_S
#define DEFAULT_MAX_CONNECTIONS HTTPD_DEFAULT_MAX_CONNECTIONS
#define DEFAULT_MAX_PER_IP HTTPD_DEFAULT_MAX_PER_IP
#define DEFAULT_DEADLINE_S HTTPD_DEFAULT_DEADLINE_S
/* How often the watchdog looks at the connections: a request is cut at most
 * this much after its deadline, and its clock starts at most this much
 * after its first byte. */
#define WATCH_TICK_MS 200
/* Connections waiting for a request that one tick asks the kernel about
 * (a system call each, under srv->lock). With more waiting, each is asked
 * every few ticks, up to WATCH_SPREAD_MAX: 10,000 idle keep-alive
 * connections cost 50,000 calls a second and held the lock that the
 * request callbacks take for tens of milliseconds per tick. */
#define WATCH_PROBES 512
#define WATCH_SPREAD_MAX 10
/* Refusals the watchdog logs per pass; more wait for the next pass. */
#define WATCH_BATCH 32
#define TIMEOUT_TYPE HTTPD_TIMEOUT_TYPE

/* Where a connection's current request stands, for the request deadline. */
enum conn_phase {
	PHASE_WAITING,   /* no byte of a (next) request seen yet: not timed */
	PHASE_HEAD,      /* request bytes arriving, the head is not complete */
	PHASE_BODY,      /* the head is complete (handler called), the body arriving */
	PHASE_ANSWERING, /* the request has arrived or is being answered: not timed */
	PHASE_CUT,       /* refused for the deadline; the socket is shut down */
};

struct conn_state;
struct http_stats;

struct mhd_srv {
	const struct httpd_engine *engine; /* first: ndx_httpd_* find it there */
	struct httpd_log log;
	struct MHD_Daemon *mhd;
	/* On an event loop (cfg.loop): MHD has no thread of its own; the loop
	 * runs it when its epoll descriptor is ready or its timeout is due. */
	struct ndx_loop *loop;
	int mhd_epoll_fd;
	struct ndx_loop_timer mhd_timer;
	/* A resume from another thread asks the loop to run MHD (kick): one
	 * task, queued at most once at a time. */
	struct ndx_loop_task kick;
	atomic_int kick_queued;
	struct ndx_httpd_config cfg;
	char *name;
	uint16_t port;
	int tls;
	char *tls_pem[3]; /* cert, key, trust: MHD keeps pointers to them */
	int quiesced;
	int pool; /* MHD runs a pool of threads (see quiesce) */
	MHD_socket listen_fd; /* handed to us by MHD_quiesce_daemon */
	/* Set when a pool of threads stops taking connections: the accept
	 * policy then closes each new one (see quiesce). */
	atomic_int refusing;
	char *unix_path;      /* the socket file to remove at stop; NULL on TCP */
	atomic_uint active;   /* requests between their first callback and completion */
	atomic_uint deferred; /* deferred answers not yet resumed (ndx_http_defer) */
	unsigned deadline_ms;
	char *timeout_body; /* the 408 JSON error, built once */
	/* lock guards conns and every conn_state's phase, start, mark_bytes;
	 * the watchdog thread sleeps on watch_cv between passes. */
	pthread_mutex_t lock;
	pthread_cond_t watch_cv;
	pthread_t watch_thread;
	int watch_started;
	int watch_stop;
	struct conn_state *conns;
	unsigned waiting;      /* connections found waiting by the last pass */
	unsigned long ticks;   /* passes so far */
	unsigned long next_slot;
};

/* Per-connection state (MHD's socket context), from MHD's "started" to its
 * "closed" notification, which comes before MHD closes the descriptor: so
 * while a conn_state is on the list (under lock) its fd is still this
 * connection's. Also the TLS client certificate, verified on the first
 * request that asks, then remembered. */
struct conn_state {
	struct conn_state *prev, *next;
	MHD_socket fd;
	unsigned long slot;    /* which ticks probe it, when probes are spread */
	enum conn_phase phase;
	int expect_continue;
	uint64_t mark_bytes;   /* tcpi_bytes_received when the last request ended */
	struct timespec start; /* first byte of the current request, as seen */
	char remote[64];
	char method[16];
	char path[256];        /* of the current request, for the access log */
	int checked;
	int ok;
	char fingerprint[2 * NDX_SHA256_LEN + 1];
};

/* Per-request state, MHD's con_cls; also what ndx_http_req.internal points at. */
struct req_state {
	struct httpd_req_common c; /* first: req->internal points here too */
	struct mhd_srv *srv;
	struct MHD_Connection *conn;
	struct conn_state *cs; /* NULL only if its allocation failed */
	struct timespec start;
	struct ndx_buf body; /* capped at max_body; freed once over it */
	size_t seen;
	int too_big;
	int responded;
	char *query;
	char remote[64];
	/* The request as the handler sees it, and its answer: here rather than
	 * on on_request's stack because a deferred answer (ndx_http_defer)
	 * outlives the handler's call. */
	struct ndx_http_req req;
	struct ndx_http_resp resp;
	struct http_stats *stats; /* counted in flight there (NULL: not counted) */
};

static const char *mhd_header_n(const struct ndx_http_req *req, const char *name, size_t *len);
static const char *mhd_header_last_n(const struct ndx_http_req *req, const char *name,
				     size_t *len);
static int mhd_headers_each(const struct ndx_http_req *req,
			    int (*fn)(void *ud, const char *name, size_t name_len,
				      const char *value, size_t value_len),
			    void *ud);
static int mhd_client_cert(const struct ndx_http_req *req, char fingerprint_hex[65]);
static void mhd_resume(struct ndx_http_pending *p);
static uint16_t mhd_port(const struct ndx_httpd *h);
static unsigned mhd_drain(struct ndx_httpd *h, unsigned timeout_ms);
static void mhd_stop(struct ndx_httpd *h);

static const struct httpd_engine mhd_engine = {
	.header_n = mhd_header_n,
	.header_last_n = mhd_header_last_n,
	.headers_each = mhd_headers_each,
	.client_cert = mhd_client_cert,
	.resume = mhd_resume,
	.port = mhd_port,
	.drain = mhd_drain,
	.stop = mhd_stop,
};

/* ---- helpers --------------------------------------------------------- */

static size_t identity_unescape(void *cls, struct MHD_Connection *c, char *s)
{
	(void)cls;
	(void)c;
	return strlen(s);
}

static void format_remote(struct MHD_Connection *conn, char *out, size_t cap)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

	httpd_format_addr(ci ? ci->client_addr : NULL, out, cap);
}


static void req_state_free(struct req_state *st)
{
	if (!st)
		return;
	ndx_buf_free(&st->body);
	free(st->query);
	httpd_resp_free(&st->resp);
	httpd_req_common_free(&st->c);
	free(st);
}

/* MHD hands query arguments to the unescape callback only after turning
 * '+' into ' '. A literal space cannot appear in a request line, so every
 * space we see was a '+': put it back to recover the raw text. */
static void restore_plus(char *s)
{
	for (; *s; s++)
		if (*s == ' ')
			*s = '+';
}

/* ---- request accessors ------------------------------------------------ */

static const char *mhd_header_n(const struct ndx_http_req *req, const char *name, size_t *len)
{
	const struct req_state *st = req->internal;
	const char *v = NULL;

	*len = 0;
	if (MHD_lookup_connection_value_n(st->conn, MHD_HEADER_KIND, name, strlen(name), &v, len) !=
	    MHD_YES)
		return NULL;
	return v;
}

struct last_header {
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
};

static enum MHD_Result keep_last(void *cls, enum MHD_ValueKind kind, const char *key,
				 size_t key_size, const char *value, size_t value_size)
{
	struct last_header *lh = cls;

	(void)kind;
	if (key_size == lh->name_len && strncasecmp(key, lh->name, key_size) == 0) {
		lh->value = value;
		lh->value_len = value_size;
	}
	return MHD_YES;
}

static const char *mhd_header_last_n(const struct ndx_http_req *req, const char *name,
				     size_t *len)
{
	const struct req_state *st = req->internal;
	struct last_header lh = { .name = name, .name_len = strlen(name) };

	/* MHD keeps the headers in the order received; its lookup stops at
	 * the first, so walk them all. */
	MHD_get_connection_values_n(st->conn, MHD_HEADER_KIND, keep_last, &lh);
	*len = lh.value ? lh.value_len : 0;
	return lh.value;
}

struct each_header {
	int (*fn)(void *ud, const char *name, size_t name_len, const char *value,
		  size_t value_len);
	void *ud;
	int rc;
};

static enum MHD_Result call_each(void *cls, enum MHD_ValueKind kind, const char *key,
				 size_t key_size, const char *value, size_t value_size)
{
	struct each_header *eh = cls;

	(void)kind;
	eh->rc = eh->fn(eh->ud, key, key_size, value ? value : "", value ? value_size : 0);
	return eh->rc == 0 ? MHD_YES : MHD_NO;
}

static int mhd_headers_each(const struct ndx_http_req *req,
			    int (*fn)(void *ud, const char *name, size_t name_len,
				      const char *value, size_t value_len),
			    void *ud)
{
	const struct req_state *st = req->internal;
	struct each_header eh = { .fn = fn, .ud = ud, .rc = 0 };

	MHD_get_connection_values_n(st->conn, MHD_HEADER_KIND, call_each, &eh);
	return eh.rc;
}

/* The query string put back together from MHD's arguments. No cap of its
 * own: MHD's per-connection memory already bounds the arguments. */
struct query_build {
	struct ndx_buf text;
	int oom;
};

static int qb_append(struct query_build *qb, const char *s)
{
	if (ndx_buf_append_str(&qb->text, s) != NDX_OK) {
		qb->oom = 1;
		return -1;
	}
	return 0;
}

static enum MHD_Result add_arg(void *cls, enum MHD_ValueKind kind, const char *key,
			       const char *value)
{
	struct query_build *qb = cls;
	(void)kind;
	if ((qb->text.len && qb_append(qb, "&")) || qb_append(qb, key))
		return MHD_NO;
	if (value && (qb_append(qb, "=") || qb_append(qb, value)))
		return MHD_NO;
	return MHD_YES;
}

/* ---- TLS client certificates ------------------------------------------- */

static int mhd_client_cert(const struct ndx_http_req *req, char fingerprint_hex[65])
{
	const struct req_state *st = req->internal;
	const union MHD_ConnectionInfo *ci;
	struct conn_state *cs;
	gnutls_session_t session;
	const gnutls_datum_t *certs;
	unsigned int status = 0, n = 0;
	uint8_t md[NDX_SHA256_LEN];

	fingerprint_hex[0] = '\0';
	if (!st->srv->tls)
		return NDX_EPERM;
	ci = MHD_get_connection_info(st->conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	cs = ci ? ci->socket_context : NULL;
	if (cs && cs->checked) {
		if (!cs->ok)
			return NDX_EPERM;
		memcpy(fingerprint_hex, cs->fingerprint, sizeof cs->fingerprint);
		return NDX_OK;
	}
	ci = MHD_get_connection_info(st->conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (!ci || !ci->tls_session)
		return NDX_EPERM;
	session = (gnutls_session_t)ci->tls_session;
	/* verify_peers2 checks the chain against the trust list and the
	 * validity times; no certificate at all is an error return. */
	if (gnutls_certificate_verify_peers2(session, &status) != GNUTLS_E_SUCCESS || status != 0 ||
	    !(certs = gnutls_certificate_get_peers(session, &n)) || n == 0) {
		if (cs) {
			cs->checked = 1;
			cs->ok = 0;
		}
		return NDX_EPERM;
	}
	ndx_sha256(certs[0].data, certs[0].size, md);
	ndx_hex_encode(md, sizeof md, fingerprint_hex);
	if (cs) {
		memcpy(cs->fingerprint, fingerprint_hex, sizeof cs->fingerprint);
		cs->ok = 1;
		cs->checked = 1;
	}
	return NDX_OK;
}

static void access_log(struct req_state *st, const char *method, const char *path,
		       const struct ndx_http_resp *resp)
{
	httpd_access_log_line(&st->srv->log, st->remote, &st->start, method, path, resp->status,
			      resp->error_type, resp->len, NULL, NULL);
}

struct log_entry {
	char remote[64];
	struct timespec start;
	char method[16];
	char path[256];
	int status;
	const char *error_type;
	size_t bytes;
};

/* ---- request deadline ---------------------------------------------------
 *
 * MHD's own timeout is an idle timeout: every byte resets it, so a client
 * that trickles a byte every few seconds keeps a connection (and memory)
 * for as long as it likes, and MHD 0.9.75 calls us at no point while a
 * request head is arriving. So the deadline is kept here:
 *
 * - Each connection's conn_state is on srv->conns from MHD's "started" to
 *   its "closed" notification. The clock of a request starts at its first
 *   byte: a watchdog thread looks every WATCH_TICK_MS at the connections
 *   waiting for a request and asks the kernel (TCP_INFO, tcpi_bytes_received)
 *   whether bytes arrived since the last request ended; the URI log callback
 *   (request line complete) starts it too, for bytes MHD had already read.
 *   Time spent waiting for a first byte is left to MHD's idle timeout, so a
 *   kept-alive connection reused after a pause is not penalised.
 * - The access handler marks the head complete (PHASE_BODY), checks the
 *   clock on every body chunk and marks the request complete or answered
 *   (PHASE_ANSWERING) before any response is queued; from then on the
 *   deadline no longer applies (handlers may take their time).
 * - A request over its deadline is cut: over plain HTTP a fixed 408 JSON
 *   error (Client.RequestTimeout, Connection: close) is written straight to
 *   the socket, because MHD 0.9.75 refuses to queue a response before the
 *   whole request has arrived, and the socket is shut down both ways; MHD
 *   then reads end-of-file and closes the connection itself. Over TLS the
 *   session belongs to MHD's thread, so the connection is only shut down.
 *   The cut is done by the watchdog (head or body stalled or trickling) or
 *   by the handler on a body chunk that arrives late; both under srv->lock
 *   and only in PHASE_HEAD or PHASE_BODY, so the 408 never mixes with a
 *   response MHD is sending, and the descriptor cannot have been closed
 *   and reused meanwhile. A head trickling forever therefore holds its
 *   connection at most request_deadline_s + 2 * WATCH_TICK_MS after its
 *   first byte (one tick to see that byte, one to see the deadline pass)
 *   while at most WATCH_PROBES connections wait for a request; with more,
 *   each waiting one is asked every few ticks (at most WATCH_SPREAD_MAX),
 *   and its first byte may be seen up to that many ticks late. */

/* What the deadline checks below find. */
enum timing { IN_TIME, TOO_LATE, WAS_CUT };

static int64_t elapsed_ms(const struct timespec *from, const struct timespec *to)
{
	return (int64_t)(to->tv_sec - from->tv_sec) * 1000 +
	       (int64_t)(to->tv_nsec - from->tv_nsec) / 1000000;
}

/* Bytes the kernel has received on the connection so far; 0 when it cannot
 * tell (then only the URI log callback starts the clock). */
static uint64_t tcp_bytes_received(MHD_socket fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof ti;

	memset(&ti, 0, sizeof ti);
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0 ||
	    len < offsetof(struct tcp_info, tcpi_bytes_received) + sizeof ti.tcpi_bytes_received)
		return 0;
	return ti.tcpi_bytes_received;
}

static struct conn_state *conn_state_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return ci ? ci->socket_context : NULL;
}

static const char *timeout_type(const struct mhd_srv *srv)
{
	return httpd_timeout_type(&srv->cfg);
}

/* The fixed 408 of a cut request, written with send(2): MHD cannot. The
 * socket is non-blocking and its send buffer empty (no response has been
 * sent for this request), so a short write only happens to a client that
 * has stopped reading; it then gets the close alone. */
static void write_timeout(const struct mhd_srv *srv, MHD_socket fd)
{
	char buf[1024];
	size_t n = httpd_timeout_wire(&srv->cfg, srv->timeout_body, buf, sizeof buf);

	if (n)
		(void)send(fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* Cuts the request of cs (srv->lock held, cs in PHASE_HEAD or PHASE_BODY)
 * and fills e for the access log, written once the lock is released. */
static void cut_locked(const struct mhd_srv *srv, struct conn_state *cs, int may_write,
		       struct log_entry *e)
{
	if (may_write && !srv->tls)
		write_timeout(srv, cs->fd);
	shutdown(cs->fd, SHUT_RDWR);
	cs->phase = PHASE_CUT;
	memcpy(e->remote, cs->remote, sizeof e->remote);
	memcpy(e->method, cs->method, sizeof e->method);
	memcpy(e->path, cs->path, sizeof e->path);
	e->start = cs->start;
	e->status = 408;
	e->error_type = timeout_type(srv);
	e->bytes = srv->tls ? 0 : strlen(srv->timeout_body);
}

static void log_cut(const struct mhd_srv *srv, const struct log_entry *e)
{
	httpd_access_log_line(&srv->log, e->remote, &e->start, e->method, e->path, e->status, e->error_type,
			e->bytes, NULL, NULL);
}

static void *watch_requests(void *arg)
{
	struct mhd_srv *srv = arg;
	struct log_entry cut[WATCH_BATCH];
	struct timespec now, wake;
	size_t ncut;

	pthread_mutex_lock(&srv->lock);
	while (!srv->watch_stop) {
		unsigned waiting = 0;
		unsigned long spread = srv->waiting / WATCH_PROBES + 1;

		if (spread > WATCH_SPREAD_MAX)
			spread = WATCH_SPREAD_MAX;
		srv->ticks++;
		ncut = 0;
		clock_gettime(CLOCK_MONOTONIC, &now);
		for (struct conn_state *cs = srv->conns; cs && ncut < WATCH_BATCH; cs = cs->next) {
			if (cs->phase == PHASE_WAITING) {
				waiting++;
				if ((cs->slot + srv->ticks) % spread != 0)
					continue;
				if (tcp_bytes_received(cs->fd) > cs->mark_bytes) {
					cs->phase = PHASE_HEAD;
					cs->start = now;
				}
			} else if ((cs->phase == PHASE_HEAD || cs->phase == PHASE_BODY) &&
				   elapsed_ms(&cs->start, &now) >= (int64_t)srv->deadline_ms) {
				/* MHD may be writing "100 Continue" just after the
				 * head; then only close. */
				cut_locked(srv, cs, !(cs->phase == PHASE_BODY && cs->expect_continue),
					   &cut[ncut++]);
			}
		}
		srv->waiting = waiting;
		if (ncut) {
			pthread_mutex_unlock(&srv->lock);
			for (size_t i = 0; i < ncut; i++)
				log_cut(srv, &cut[i]);
			pthread_mutex_lock(&srv->lock);
			if (ncut == WATCH_BATCH)
				continue;
		}
		clock_gettime(CLOCK_MONOTONIC, &wake);
		wake.tv_nsec += WATCH_TICK_MS * 1000000L;
		if (wake.tv_nsec >= 1000000000L) {
			wake.tv_sec++;
			wake.tv_nsec -= 1000000000L;
		}
		while (!srv->watch_stop &&
		       pthread_cond_timedwait(&srv->watch_cv, &srv->lock, &wake) == 0)
			;
	}
	pthread_mutex_unlock(&srv->lock);
	return NULL;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct mhd_srv *srv = cls;
	struct conn_state *cs;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);

		cs = calloc(1, sizeof *cs);
		if (!cs || !ci) {
			/* Untracked, the connection would escape the deadline:
			 * refuse it; MHD closes it on the end-of-file. */
			if (ci)
				shutdown(ci->connect_fd, SHUT_RDWR);
			free(cs);
			*socket_context = NULL;
			return;
		}
		cs->fd = ci->connect_fd;
		/* Every byte received so far belongs to the first request
		 * (or its TLS handshake): mark_bytes stays 0. */
		cs->phase = PHASE_WAITING;
		format_remote(conn, cs->remote, sizeof cs->remote);
		pthread_mutex_lock(&srv->lock);
		cs->slot = srv->next_slot++;
		cs->next = srv->conns;
		if (srv->conns)
			srv->conns->prev = cs;
		srv->conns = cs;
		pthread_mutex_unlock(&srv->lock);
		*socket_context = cs;
	} else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		cs = *socket_context;
		if (!cs)
			return;
		pthread_mutex_lock(&srv->lock);
		if (cs->prev)
			cs->prev->next = cs->next;
		else
			srv->conns = cs->next;
		if (cs->next)
			cs->next->prev = cs->prev;
		pthread_mutex_unlock(&srv->lock);
		free(cs);
		*socket_context = NULL;
	}
}

/* MHD calls this once the request line has arrived, before the headers. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct mhd_srv *srv = cls;
	struct conn_state *cs = conn_state_of(conn);
	size_t n;

	if (!cs)
		return NULL;
	pthread_mutex_lock(&srv->lock);
	if (cs->phase == PHASE_WAITING) {
		cs->phase = PHASE_HEAD;
		clock_gettime(CLOCK_MONOTONIC, &cs->start);
	}
	n = strcspn(uri, "?");
	if (n >= sizeof cs->path)
		n = sizeof cs->path - 1;
	memcpy(cs->path, uri, n);
	cs->path[n] = '\0';
	cs->method[0] = '\0';
	pthread_mutex_unlock(&srv->lock);
	return NULL; /* becomes *con_cls: on_request allocates its own */
}

/* On a body chunk: IN_TIME to go on, WAS_CUT when the request has been cut
 * (now or before) and the chunk is to be dropped. */
static enum timing body_in_time(struct req_state *st)
{
	struct mhd_srv *srv = st->srv;
	struct conn_state *cs = st->cs;
	struct log_entry e;
	struct timespec now;
	enum timing rc = IN_TIME;
	int cut = 0;

	if (!cs)
		return IN_TIME;
	clock_gettime(CLOCK_MONOTONIC, &now);
	pthread_mutex_lock(&srv->lock);
	if (cs->phase == PHASE_CUT) {
		rc = WAS_CUT;
	} else if (cs->phase == PHASE_BODY &&
		   elapsed_ms(&cs->start, &now) >= (int64_t)srv->deadline_ms) {
		/* In MHD's thread for this connection, nothing else writes. */
		cut_locked(srv, cs, 1, &e);
		cut = 1;
		rc = WAS_CUT;
	}
	pthread_mutex_unlock(&srv->lock);
	if (cut)
		log_cut(srv, &e);
	return rc;
}

/* The head is complete: IN_TIME, TOO_LATE (answer 408 the usual way, MHD
 * can now) or WAS_CUT by the watchdog already. */
static enum timing head_in_time(struct req_state *st, const char *method)
{
	struct mhd_srv *srv = st->srv;
	struct conn_state *cs = st->cs;
	struct timespec now;
	enum timing rc = IN_TIME;

	if (!cs)
		return IN_TIME;
	clock_gettime(CLOCK_MONOTONIC, &now);
	pthread_mutex_lock(&srv->lock);
	if (cs->phase == PHASE_CUT) {
		rc = WAS_CUT;
	} else {
		if (cs->phase == PHASE_WAITING) {
			cs->phase = PHASE_HEAD;
			cs->start = now;
		}
		if (elapsed_ms(&cs->start, &now) >= (int64_t)srv->deadline_ms)
			rc = TOO_LATE;
		cs->phase = PHASE_BODY;
		cs->expect_continue = MHD_lookup_connection_value(st->conn, MHD_HEADER_KIND,
								  MHD_HTTP_HEADER_EXPECT) != NULL;
		snprintf(cs->method, sizeof cs->method, "%s", method);
	}
	pthread_mutex_unlock(&srv->lock);
	return rc;
}

/* A response is about to be queued: from now on the watchdog leaves the
 * connection alone. WAS_CUT when it has been cut already. */
static enum timing answering(struct req_state *st)
{
	struct conn_state *cs = st->cs;
	enum timing rc = IN_TIME;

	if (!cs)
		return IN_TIME;
	pthread_mutex_lock(&st->srv->lock);
	if (cs->phase == PHASE_CUT)
		rc = WAS_CUT;
	else
		cs->phase = PHASE_ANSWERING;
	pthread_mutex_unlock(&st->srv->lock);
	return rc;
}

/* The request is over; the connection may carry another. */
static void request_done(struct req_state *st)
{
	struct conn_state *cs = st->cs;
	uint64_t seen;

	if (!cs)
		return;
	seen = tcp_bytes_received(cs->fd);
	pthread_mutex_lock(&st->srv->lock);
	if (cs->phase != PHASE_CUT) {
		cs->phase = PHASE_WAITING;
		cs->mark_bytes = seen;
	}
	pthread_mutex_unlock(&st->srv->lock);
}

/* Turns a collected response into an MHD one and queues it. */
static enum MHD_Result send_resp(struct req_state *st, const char *method, const char *path,
				 struct ndx_http_resp *resp)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (answering(st) == WAS_CUT) {
		httpd_resp_free(resp);
		return MHD_NO;
	}
	if (httpd_resp_finish(resp) != 0)
		return MHD_NO; /* nothing more we can build: close the connection */
	r = MHD_create_response_from_buffer(resp->len, resp->body, MHD_RESPMEM_MUST_COPY);
	if (!r) {
		httpd_resp_free(resp);
		return MHD_NO;
	}
	if (resp->content_type[0])
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, resp->content_type);
	for (size_t i = 0; i < resp->nheaders; i++)
		MHD_add_response_header(r, resp->headers[i].name, resp->headers[i].value);
	ret = MHD_queue_response(st->conn, (unsigned)resp->status, r);
	MHD_destroy_response(r);
	st->responded = 1;
	access_log(st, method, path, resp);
	httpd_resp_free(resp);
	return ret;
}

static enum MHD_Result send_too_big(struct req_state *st, const char *method, const char *url)
{
	struct ndx_http_resp resp = { 0 };

	httpd_resp_too_large(&resp, &st->srv->cfg);
	return send_resp(st, method, url, &resp);
}

/* A head that arrived complete but after the deadline: MHD can answer it. */
static enum MHD_Result send_late(struct req_state *st, const char *method, const char *url)
{
	struct ndx_http_resp resp = { 0 };

	httpd_resp_timeout(&resp, &st->srv->cfg, st->srv->deadline_ms / 1000);
	ndx_http_resp_header(&resp, "Connection", "close");
	return send_resp(st, method, url, &resp);
}

/* ---- deferred answers -------------------------------------------------- */

static void kick(struct mhd_srv *srv);

/* Called right after a deferring handler returns, and again by MHD once
 * the connection is resumed: sends the answer when it is ready, else
 * suspends the connection so that its thread serves others meanwhile. */
static enum MHD_Result answer_deferred(struct req_state *st, const char *method,
				       const char *url)
{
	int ready;

	pthread_mutex_lock(&st->c.defer_lock);
	ready = st->c.ready;
	if (!ready && !st->c.suspended) {
		st->c.suspended = 1;
		MHD_suspend_connection(st->conn);
	}
	pthread_mutex_unlock(&st->c.defer_lock);
	if (!ready)
		return MHD_YES;
	return send_resp(st, method, url, &st->resp);
}

static void mhd_resume(struct ndx_http_pending *p)
{
	struct req_state *st = (struct req_state *)p;

	pthread_mutex_lock(&st->c.defer_lock);
	st->c.ready = 1;
	atomic_fetch_sub_explicit(&st->srv->deferred, 1, memory_order_release);
	/* Not yet suspended: the handler is still returning on its thread,
	 * and answer_deferred there will find the answer ready. */
	if (st->c.suspended) {
		MHD_resume_connection(st->conn);
		/* On a loop, MHD runs only when the loop calls it: ask. */
		if (st->srv->loop)
			kick(st->srv);
	}
	pthread_mutex_unlock(&st->c.defer_lock);
}

/* ---- MHD callbacks ----------------------------------------------------- */

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_data_size,
				  void **con_cls)
{
	struct mhd_srv *srv = cls;
	struct req_state *st = *con_cls;
	(void)version;

	if (!st) {
		const char *cl, *expect;
		st = calloc(1, sizeof *st);
		if (!st)
			return MHD_NO;
		httpd_req_common_init(&st->c, &mhd_engine, &srv->deferred);
		st->srv = srv;
		st->conn = conn;
		st->cs = conn_state_of(conn);
		ndx_buf_init(&st->body, srv->cfg.max_body);
		atomic_fetch_add_explicit(&srv->active, 1, memory_order_relaxed);
		st->stats = httpd_log_stats(&srv->log);
		httpd_stats_in_flight(st->stats, 1);
		clock_gettime(CLOCK_MONOTONIC, &st->start);
		format_remote(conn, st->remote, sizeof st->remote);
		*con_cls = st;
		switch (head_in_time(st, method)) {
		case WAS_CUT:
			return MHD_NO;
		case TOO_LATE:
			return send_late(st, method, url);
		case IN_TIME:
			break;
		}
		cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						 MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl) {
			char *end;
			errno = 0;
			unsigned long long v = strtoull(cl, &end, 10);
			if (errno == 0 && end != cl && v > srv->cfg.max_body) {
				st->too_big = 1;
				expect = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
								     MHD_HTTP_HEADER_EXPECT);
				/* A client that waits for "100 Continue" or announces
				 * more than we would drain gets its answer at once. */
				if (expect || v - srv->cfg.max_body > DRAIN_MAX)
					return send_too_big(st, method, url);
			}
		}
		return MHD_YES;
	}

	if (*upload_data_size) {
		size_t n = *upload_data_size;
		*upload_data_size = 0;
		if (st->responded || body_in_time(st) == WAS_CUT)
			return MHD_YES; /* dropped; a cut socket reads end-of-file next */
		st->seen += n;
		if (!st->too_big) {
			int rc = ndx_buf_append(&st->body, upload_data, n);

			if (rc == NDX_ENOMEM)
				return MHD_NO;
			if (rc == NDX_ETOOBIG) {
				st->too_big = 1;
				ndx_buf_free(&st->body);
			}
		}
		if (st->too_big)
			return st->seen > srv->cfg.max_body + DRAIN_MAX ? MHD_NO : MHD_YES;
		return MHD_YES;
	}

	if (st->responded)
		return MHD_YES;
	if (st->c.deferred)
		return answer_deferred(st, method, url);
	/* The whole request is here: the handler's time is not the client's. */
	if (answering(st) == WAS_CUT)
		return MHD_NO;
	if (st->too_big)
		return send_too_big(st, method, url);

	struct query_build qb = { .oom = 0 };
	ndx_buf_init(&qb.text, NDX_BUF_NO_CAP);
	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, add_arg, &qb);
	if (qb.oom) {
		ndx_buf_free(&qb.text);
		return MHD_NO;
	}
	st->query = ndx_buf_steal(&qb.text, NULL);
	if (!st->query)
		st->query = httpd_dup("");
	if (!st->query)
		return MHD_NO;
	restore_plus(st->query);

	st->req = (struct ndx_http_req){
		.method = method,
		.path = url,
		.query = st->query,
		.body = st->body.len ? (const uint8_t *)st->body.data : NULL,
		.body_len = st->body.len,
		.remote_addr = st->remote,
		.internal = st,
	};
	srv->cfg.handler(srv->cfg.ctx, &st->req, &st->resp);
	if (st->c.deferred)
		return answer_deferred(st, method, url);
	return send_resp(st, method, url, &st->resp);
}

/* ---- Refusals libmicrohttpd makes ---------------------------------------
 *
 * MHD 0.9.75 refuses some requests itself, with a fixed HTML body and no
 * way for the application to answer instead (transmit_error_response in
 * its connection.c): a request line it cannot parse (no space, an HTTP
 * version other than 1.0/1.1: 400 or 505), a header line it cannot parse
 * or, when strict, one bending HTTP/1.1 (a bare CR, an HTTP/1.1 request
 * without Host: 400), a head larger than its per-connection memory (431),
 * a Content-Length it cannot read or that overflows (400, 413) and broken
 * chunked encoding (400, 413). What we can do:
 *
 * - Once the request line has been read MHD calls on_uri, and for such a
 *   request it calls on_completed with MHD_REQUEST_TERMINATED_WITH_ERROR
 *   while its answer still exists, so MHD_CONNECTION_INFO_HTTP_STATUS
 *   gives the status: log_mhd_refusal writes the usual access-log line
 *   (remote, path, status, an X-Road type) marked "refused_by":
 *   "libmicrohttpd", since the body was MHD's HTML, not our JSON.
 * - A request line MHD cannot parse (no URI, an unsupported version) is
 *   refused before any callback names the request or its connection; only
 *   MHD's message says so. mhd_log
 *   (MHD_OPTION_EXTERNAL_LOGGER) turns every MHD message into a JSON line,
 *   and this one into {"event":"refused","status","error_type","reason"}.
 *   The logger is not told which connection the message is about, so that
 *   line has no remote address. A first line with no space at all is not
 *   even answered: MHD closes the connection without a word, and nothing
 *   is logged.
 *
 * Our own refusals (413 over max_body, 408 over the request deadline, a
 * handler's errors) are JSON errors with X-Road-Error, logged as usual. */

/* The X-Road type logged for a status MHD answered itself. */
static const char *mhd_refusal_type(unsigned status)
{
	switch (status) {
	case 408: return TIMEOUT_TYPE;
	case 413: return "Client.TooLarge";
	case 505: return "Client.InvalidRequest"; /* the client's HTTP version */
	default: return status >= 500 ? "Server.Internal" : "Client.InvalidRequest";
	}
}

static void log_mhd_refusal(struct mhd_srv *srv, struct MHD_Connection *conn,
			    const struct req_state *st)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_HTTP_STATUS);
	struct conn_state *cs = conn_state_of(conn);
	struct log_entry e;
	int cut = 0;

	if (!ci || ci->http_status < 400)
		return; /* the client went away: nothing was answered */
	memset(&e, 0, sizeof e);
	clock_gettime(CLOCK_MONOTONIC, &e.start);
	if (cs) {
		pthread_mutex_lock(&srv->lock);
		cut = cs->phase == PHASE_CUT; /* logged as 408 already */
		memcpy(e.remote, cs->remote, sizeof e.remote);
		memcpy(e.method, cs->method, sizeof e.method);
		memcpy(e.path, cs->path, sizeof e.path);
		if (cs->phase == PHASE_HEAD || cs->phase == PHASE_BODY)
			e.start = cs->start;
		pthread_mutex_unlock(&srv->lock);
	}
	if (cut)
		return;
	if (st)
		memcpy(e.remote, st->remote, sizeof e.remote);
	else if (!cs)
		format_remote(conn, e.remote, sizeof e.remote);
	httpd_access_log_line(&srv->log, e.remote, &e.start, e.method, e.path, (int)ci->http_status,
			mhd_refusal_type(ci->http_status), 0, "libmicrohttpd", NULL);
}

/* MHD's messages as JSON lines. A refusal's message carries its HTML body
 * as '%s': only its <title> is kept. */
__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt,
							   va_list ap)
{
	static const char refusal[] = "Error processing request (HTTP response code is ";
	struct mhd_srv *srv = cls;
	char msg[1024], when[32];
	struct tm tm;
	time_t t = time(NULL);
	size_t n;
	json_t *o = json_object();

	if (!o)
		return;
	vsnprintf(msg, sizeof msg, fmt, ap);
	n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		msg[--n] = '\0';
	gmtime_r(&t, &tm);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_object_set_new(o, "time", json_string(when));
	json_object_set_new(o, "daemon", json_string(srv->name));
	if (strncmp(msg, refusal, sizeof refusal - 1) == 0) {
		char *end, *title = strstr(msg, "<title>"), *close;
		unsigned long status = strtoul(msg + sizeof refusal - 1, &end, 10);

		json_object_set_new(o, "event", json_string("refused"));
		json_object_set_new(o, "status", json_integer((json_int_t)status));
		json_object_set_new(o, "error_type",
				    json_string(mhd_refusal_type((unsigned)status)));
		if (title && (close = strstr(title, "</title>"))) {
			*close = '\0';
			json_object_set_new(o, "reason", json_string(title + 7));
		}
		json_object_set_new(o, "refused_by", json_string("libmicrohttpd"));
	} else {
		json_object_set_new(o, "event", json_string("libmicrohttpd"));
		json_object_set_new(o, "message", json_string(msg));
	}
	httpd_write_json_line(o);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct mhd_srv *srv = cls;
	struct req_state *st = *con_cls;

	if (toe == MHD_REQUEST_TERMINATED_WITH_ERROR && !(st && (st->responded || st->c.deferred)))
		log_mhd_refusal(srv, conn, st);
	else if (st && st->c.deferred && !st->responded) {
		/* The client went away while its answer was deferred: MHD
		 * closed the connection on resuming it without asking for the
		 * answer again. What was done (an event kept, an exchange
		 * logged) still deserves its line. */
		int ready, status = 0;
		const char *type = NULL;

		pthread_mutex_lock(&st->c.defer_lock);
		ready = st->c.ready;
		if (ready) {
			status = st->resp.status;
			type = st->resp.error_type;
		}
		pthread_mutex_unlock(&st->c.defer_lock);
		httpd_access_log_line(&srv->log, st->remote, &st->start, st->req.method ? st->req.method : "",
				st->req.path ? st->req.path : "", status, ready ? type : NULL, 0,
				NULL, "the client closed the connection before the answer");
	}
	if (st) {
		request_done(st);
		httpd_stats_in_flight(st->stats, -1);
		atomic_fetch_sub_explicit(&st->srv->active, 1, memory_order_release);
	}
	req_state_free(st);
	*con_cls = NULL;
}

/* ---- on an event loop ---------------------------------------------------- */

/* After every MHD_run: MHD's next timeout (idle connections), as a timer. */
static void arm_mhd_timer(struct mhd_srv *srv)
{
	MHD_UNSIGNED_LONG_LONG ms;

	if (MHD_get_timeout(srv->mhd, &ms) == MHD_YES)
		ndx_loop_timer_arm(srv->loop, &srv->mhd_timer, (int64_t)ms);
	else
		ndx_loop_timer_disarm(srv->loop, &srv->mhd_timer);
}

static void run_mhd(struct mhd_srv *srv)
{
	MHD_run(srv->mhd);
	arm_mhd_timer(srv);
}

static void on_mhd_ready(void *arg, int fd, unsigned events)
{
	(void)fd;
	(void)events;
	run_mhd(arg);
}

static void on_mhd_timer(void *arg)
{
	run_mhd(arg);
}

static void on_kick(void *arg)
{
	struct mhd_srv *srv = arg;

	atomic_store(&srv->kick_queued, 0);
	run_mhd(srv);
}

/* Makes the loop run MHD soon: a resumed connection is served only then. */
static void kick(struct mhd_srv *srv)
{
	if (ndx_loop_on_thread(srv->loop))
		ndx_loop_timer_arm(srv->loop, &srv->mhd_timer, 0);
	else if (!atomic_exchange(&srv->kick_queued, 1) &&
		 ndx_loop_post(srv->loop, &srv->kick) != NDX_OK)
		atomic_store(&srv->kick_queued, 0);
}

static void attach_to_loop(void *arg)
{
	struct mhd_srv *srv = arg;

	srv->mhd_timer.fn = on_mhd_timer;
	srv->mhd_timer.arg = srv;
	srv->kick.fn = on_kick;
	srv->kick.arg = srv;
	if (ndx_loop_watch(srv->loop, srv->mhd_epoll_fd, NDX_LOOP_READ, on_mhd_ready, srv) ==
	    NDX_OK)
		srv->mhd_epoll_fd = -srv->mhd_epoll_fd - 1; /* watched: remembered as such */
	arm_mhd_timer(srv);
}

static void detach_from_loop(void *arg)
{
	struct mhd_srv *srv = arg;

	if (srv->mhd_epoll_fd < 0)
		ndx_loop_unwatch(srv->loop, -srv->mhd_epoll_fd - 1);
	ndx_loop_timer_disarm(srv->loop, &srv->mhd_timer);
}

/* MHD 0.9.75's MHD_quiesce_daemon takes the listening socket out of each
 * pool thread's epoll set from the caller's thread, and aborts the process
 * when a pool thread has just taken it out itself (ENOENT, a race it
 * tolerates only without a pool). So a pool stops taking connections by
 * its accept policy instead: each new connection is closed at once, and
 * MHD_stop_daemon closes the listening socket. An internal thread alone,
 * or a loop (one thread), quiesces as MHD intends. */
static enum MHD_Result accept_unless_refusing(void *cls, const struct sockaddr *addr,
					      socklen_t addrlen)
{
	struct mhd_srv *srv = cls;

	(void)addr;
	(void)addrlen;
	return atomic_load(&srv->refusing) ? MHD_NO : MHD_YES;
}

static void quiesce(void *arg)
{
	struct mhd_srv *srv = arg;

	if (srv->pool)
		atomic_store(&srv->refusing, 1);
	else
		srv->listen_fd = MHD_quiesce_daemon(srv->mhd);
	srv->quiesced = 1;
}

/* ---- daemon ------------------------------------------------------------ */

static void free_tls(struct mhd_srv *srv)
{
	for (int i = 0; i < 3; i++) {
		if (srv->tls_pem[i]) {
			/* the key is a secret: do not leave it in freed memory */
			memset(srv->tls_pem[i], 0, strlen(srv->tls_pem[i]));
			free(srv->tls_pem[i]);
			srv->tls_pem[i] = NULL;
		}
	}
}

/* Frees what ndx_httpd_start built, in any state short of a running MHD. */
static void srv_free(struct mhd_srv *srv, int sync_made)
{
	free_tls(srv);
	free(srv->unix_path);
	free(srv->timeout_body);
	free(srv->name);
	if (sync_made) {
		pthread_cond_destroy(&srv->watch_cv);
		pthread_mutex_destroy(&srv->lock);
	}
	free(srv);
}

int httpd_mhd_start(const struct ndx_httpd_config *cfg, struct ndx_httpd **out)
{
	struct mhd_srv *srv;
	struct sockaddr_in sa;
	const char *addr;
	unsigned threads, max_conn, per_ip, deadline_s;
	const union MHD_DaemonInfo *di;
	pthread_condattr_t ca;

	*out = NULL;
	addr = cfg->bind_addr ? cfg->bind_addr : "127.0.0.1";
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons(cfg->port);
	if (!cfg->unix_path && inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
		fprintf(stderr, "%s: bad bind address %s (an IPv4 literal is needed)\n",
			cfg->name ? cfg->name : "httpd", addr);
		return NDX_EINVAL;
	}
	srv = calloc(1, sizeof *srv);
	if (!srv)
		return NDX_ENOMEM;
	srv->cfg = *cfg;
	srv->name = httpd_dup(cfg->name ? cfg->name : "ndx");
	if (!srv->name) {
		free(srv);
		return NDX_ENOMEM;
	}
	srv->cfg.name = srv->name;
	srv->engine = &mhd_engine;
	srv->log.name = srv->name;
	srv->log.on = cfg->access_log;
	srv->cfg.bind_addr = NULL; /* not kept: the caller's string may go */
	srv->cfg.unix_path = NULL;
	if (cfg->unix_path && !(srv->unix_path = httpd_dup(cfg->unix_path))) {
		srv_free(srv, 0);
		return NDX_ENOMEM;
	}
	threads = cfg->threads;
	if (threads == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		threads = n > 0 && n < 256 ? (unsigned)n : 2;
	}
	max_conn = httpd_fit_connection_limit(
		srv->name, cfg->max_connections ? cfg->max_connections : DEFAULT_MAX_CONNECTIONS);
	/* MHD shares the limit out among the pool threads; a thread with no
	 * share would refuse every connection it accepts. */
	if (threads > max_conn)
		threads = max_conn;
	per_ip = cfg->max_connections_per_ip ? cfg->max_connections_per_ip : DEFAULT_MAX_PER_IP;
	deadline_s = cfg->request_deadline_s ? cfg->request_deadline_s : DEFAULT_DEADLINE_S;
	if (deadline_s > 86400u)
		deadline_s = 86400u; /* keeps deadline_ms in range */
	srv->deadline_ms = deadline_s * 1000u;
	srv->cfg.max_connections = max_conn;
	srv->cfg.max_connections_per_ip = per_ip;
	srv->cfg.request_deadline_s = deadline_s;

	srv->listen_fd = MHD_INVALID_SOCKET;
	srv->tls = cfg->tls_cert_pem && cfg->tls_key_pem;
	if ((cfg->tls_cert_pem || cfg->tls_trust_pem) && !srv->tls) {
		fprintf(stderr, "%s: TLS needs both a certificate and a key\n", srv->name);
		srv_free(srv, 0);
		return NDX_EINVAL;
	}
	/* MHD keeps pointers to the PEM strings rather than copies, and the
	 * caller's may go: the daemon owns copies for its lifetime. */
	if (srv->tls) {
		const char *src[3] = { cfg->tls_cert_pem, cfg->tls_key_pem, cfg->tls_trust_pem };
		for (int i = 0; i < 3; i++) {
			if (src[i] && !(srv->tls_pem[i] = httpd_dup(src[i]))) {
				srv_free(srv, 0);
				return NDX_ENOMEM;
			}
		}
	}
	srv->timeout_body = httpd_timeout_body(&srv->cfg, deadline_s);
	if (!srv->timeout_body) {
		srv_free(srv, 0);
		return NDX_ENOMEM;
	}
	if (pthread_condattr_init(&ca) != 0) {
		srv_free(srv, 0);
		return NDX_ENOMEM;
	}
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (pthread_mutex_init(&srv->lock, NULL) != 0) {
		pthread_condattr_destroy(&ca);
		srv_free(srv, 0);
		return NDX_ENOMEM;
	}
	if (pthread_cond_init(&srv->watch_cv, &ca) != 0) {
		pthread_condattr_destroy(&ca);
		pthread_mutex_destroy(&srv->lock);
		srv_free(srv, 0);
		return NDX_ENOMEM;
	}
	pthread_condattr_destroy(&ca);
	struct MHD_OptionItem tls_opts[] = {
		{ MHD_OPTION_HTTPS_MEM_CERT, 0, srv->tls_pem[0] },
		{ MHD_OPTION_HTTPS_MEM_KEY, 0, srv->tls_pem[1] },
		{ MHD_OPTION_HTTPS_PRIORITIES, 0,
		  (void *)"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2" },
		{ srv->tls_pem[2] ? MHD_OPTION_HTTPS_MEM_TRUST : MHD_OPTION_END, 0, srv->tls_pem[2] },
		{ MHD_OPTION_END, 0, NULL },
	};
	struct MHD_OptionItem no_opts[] = { { MHD_OPTION_END, 0, NULL } };
	int unix_fd = -1;
	if (srv->unix_path && httpd_unix_listen(srv->name, srv->unix_path, cfg->unix_mode, &unix_fd) != NDX_OK) {
		srv_free(srv, 1);
		return NDX_EIO;
	}
	struct MHD_OptionItem listen_opts[] = {
		unix_fd >= 0 ? (struct MHD_OptionItem){ MHD_OPTION_LISTEN_SOCKET, unix_fd, NULL }
			     : (struct MHD_OptionItem){ MHD_OPTION_SOCK_ADDR, 0, &sa },
		{ MHD_OPTION_END, 0, NULL },
	};

	/* A pool of one is just the internal thread; MHD wants no pool option
	 * then. On a loop there is no thread and no pool. */
	srv->loop = cfg->loop;
	if (srv->loop)
		threads = 1;
	srv->pool = threads > 1;
	srv->mhd = MHD_start_daemon(
		(srv->loop ? MHD_USE_EPOLL : MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_INTERNAL_POLLING_THREAD) |
			MHD_USE_ERROR_LOG | MHD_USE_ITC | MHD_ALLOW_SUSPEND_RESUME | (srv->tls ? MHD_USE_TLS : 0),
		cfg->port, accept_unless_refusing, srv, on_request, srv,
		/* first, or MHD logs the options before it the old way */
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, srv,
		MHD_OPTION_ARRAY, listen_opts,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)CONNECTION_TIMEOUT_S,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned int)max_conn,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)per_ip,
		MHD_OPTION_UNESCAPE_CALLBACK, identity_unescape, NULL,
		MHD_OPTION_URI_LOG_CALLBACK, on_uri, srv,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
		MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv,
		MHD_OPTION_STRICT_FOR_CLIENT, cfg->strict ? 1 : 0,
		MHD_OPTION_ARRAY, srv->tls ? tls_opts : no_opts,
		threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END,
		(unsigned int)threads, MHD_OPTION_END);
	if (!srv->mhd) {
		if (unix_fd >= 0) {
			close(unix_fd);
			unlink(srv->unix_path);
		}
		fprintf(stderr, "%s: cannot listen on %s%s%s:%u%s\n", srv->name,
			srv->unix_path ? "unix:" : "", srv->unix_path ? srv->unix_path : addr,
			srv->unix_path ? " (port" : "", (unsigned)cfg->port,
			srv->tls ? " (or the TLS key or certificate is unusable)"
				 : srv->unix_path ? " ignored)" : "");
		srv_free(srv, 1);
		return NDX_EIO;
	}
	if (pthread_create(&srv->watch_thread, NULL, watch_requests, srv) != 0) {
		fprintf(stderr, "%s: cannot start the request deadline thread\n", srv->name);
		MHD_stop_daemon(srv->mhd);
		srv_free(srv, 1);
		return NDX_ENOMEM;
	}
	srv->watch_started = 1;
	di = MHD_get_daemon_info(srv->mhd, MHD_DAEMON_INFO_BIND_PORT);
	srv->port = di ? di->port : cfg->port;
	{
		char port[16];
		snprintf(port, sizeof port, srv->unix_path ? "unix" : "%u", (unsigned)srv->port);
		httpd_log_attach(&srv->log, port, srv->tls ? cfg->tls_cert_pem : NULL);
	}
	if (srv->loop) {
		di = MHD_get_daemon_info(srv->mhd, MHD_DAEMON_INFO_EPOLL_FD);
		srv->mhd_epoll_fd = di ? di->epoll_fd : -1;
		if (srv->mhd_epoll_fd >= 0)
			httpd_run_on_loop(srv->loop, attach_to_loop, srv);
		if (srv->mhd_epoll_fd >= 0) { /* not watched */
			fprintf(stderr, "%s: cannot run on the event loop\n", srv->name);
			mhd_stop((struct ndx_httpd *)srv);
			return NDX_EIO;
		}
	}
	*out = (struct ndx_httpd *)srv;
	return NDX_OK;
}

static uint16_t mhd_port(const struct ndx_httpd *h)
{
	return ((const struct mhd_srv *)(const void *)h)->port;
}

static unsigned mhd_drain(struct ndx_httpd *h, unsigned timeout_ms)
{
	struct mhd_srv *srv = (struct mhd_srv *)(void *)h;

	if (!srv->quiesced) {
		if (srv->loop)
			httpd_run_on_loop(srv->loop, quiesce, srv);
		else
			quiesce(srv);
	}
	return httpd_wait_idle(&srv->active, timeout_ms);
}

static void mhd_stop(struct ndx_httpd *h)
{
	struct mhd_srv *srv = (struct mhd_srv *)(void *)h;
	MHD_socket s;

	/* The watchdog goes first: MHD_stop_daemon closes the connections it
	 * looks at. */
	if (srv->watch_started) {
		pthread_mutex_lock(&srv->lock);
		srv->watch_stop = 1;
		pthread_cond_signal(&srv->watch_cv);
		pthread_mutex_unlock(&srv->lock);
		pthread_join(srv->watch_thread, NULL);
	}
	if (!srv->quiesced) {
		if (srv->loop)
			httpd_run_on_loop(srv->loop, quiesce, srv);
		else
			quiesce(srv);
	}
	s = srv->listen_fd;
	/* MHD cannot stop with a connection still suspended: whoever deferred
	 * an answer must resume it first (ndx-gateway finishes its exchanges
	 * before it stops its ports). Wait for that rather than abort. */
	httpd_wait_resumed(srv->name, &srv->deferred);
	/* On a loop: out of it first (on its thread, while it runs). */
	if (srv->loop)
		httpd_run_on_loop(srv->loop, detach_from_loop, srv);
	MHD_stop_daemon(srv->mhd);
	/* Quiesce hands the listening socket to us; close it only now that no
	 * pool thread can still be using it. */
	if (s != MHD_INVALID_SOCKET)
		close(s);
	if (srv->unix_path)
		unlink(srv->unix_path);
	srv_free(srv, 1);
}
