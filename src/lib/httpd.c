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
 * Overview: docs/architecture.md "Daemons". */
#include "ndx/httpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <stdatomic.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ndx/encode.h"
#include "ndx/err.h"
#include "ndx/hash.h"

/* How much of an oversized body we read and throw away so that the client
 * can read its 413 (a client still writing when we close would see a reset
 * instead). Beyond this the connection is simply closed. */
#define DRAIN_MAX (16u * 1024u * 1024u)
#define CONNECTION_TIMEOUT_S 30u

struct ndx_httpd {
	struct MHD_Daemon *mhd;
	struct ndx_httpd_config cfg;
	char *name;
	uint16_t port;
	int tls;
	char *tls_pem[3]; /* cert, key, trust: MHD keeps pointers to them */
	int quiesced;
	MHD_socket listen_fd; /* handed to us by MHD_quiesce_daemon */
	atomic_uint active;   /* requests between their first callback and completion */
};

/* Per-connection state of a TLS daemon (MHD's socket context): the client
 * certificate is verified on the first request that asks, then remembered. */
struct conn_state {
	int checked;
	int ok;
	char fingerprint[2 * NDX_SHA256_LEN + 1];
};

struct resp_header {
	char *name;
	char *value;
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
	size_t nheaders;
};

/* Per-request state, MHD's con_cls; also what ndx_http_req.internal points at. */
struct req_state {
	struct ndx_httpd *srv;
	struct MHD_Connection *conn;
	struct timespec start;
	char *body;
	size_t len;
	size_t cap;
	size_t seen;
	int too_big;
	int responded;
	char *query;
	char **owned; /* strings handed out by ndx_http_query_arg */
	size_t nowned;
	char remote[64];
};

/* ---- helpers --------------------------------------------------------- */

static char *dup_str(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = malloc(n);
	if (d)
		memcpy(d, s, n);
	return d;
}

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
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (ci && ci->client_addr) {
		const struct sockaddr *sa = ci->client_addr;
		if (sa->sa_family == AF_INET) {
			const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
			inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
			port = ntohs(in->sin_port);
		} else if (sa->sa_family == AF_INET6) {
			const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
			inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
			port = ntohs(in6->sin6_port);
		}
	}
	snprintf(out, cap, "%s:%u", host, port);
}

static void resp_clear_body(struct ndx_http_resp *resp)
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

static void resp_free(struct ndx_http_resp *resp)
{
	resp_clear_body(resp);
	for (size_t i = 0; i < resp->nheaders; i++) {
		free(resp->headers[i].name);
		free(resp->headers[i].value);
	}
	free(resp->headers);
}

static void req_state_free(struct req_state *st)
{
	if (!st)
		return;
	for (size_t i = 0; i < st->nowned; i++)
		free(st->owned[i]);
	free(st->owned);
	free(st->body);
	free(st->query);
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

const char *ndx_http_header(const struct ndx_http_req *req, const char *name)
{
	const struct req_state *st = req->internal;
	return MHD_lookup_connection_value(st->conn, MHD_HEADER_KIND, name);
}

const char *ndx_http_header_n(const struct ndx_http_req *req, const char *name, size_t *len)
{
	const struct req_state *st = req->internal;
	const char *v = NULL;

	*len = 0;
	if (MHD_lookup_connection_value_n(st->conn, MHD_HEADER_KIND, name, strlen(name), &v, len) !=
	    MHD_YES)
		return NULL;
	return v;
}

struct arg_lookup {
	const char *name;
	const char *raw;
	int found;
	int bad;
};

static enum MHD_Result find_arg(void *cls, enum MHD_ValueKind kind, const char *key,
				const char *value)
{
	struct arg_lookup *al = cls;
	char kbuf[256];
	char raw[256];
	long n;

	(void)kind;
	if (strlen(key) >= sizeof raw)
		return MHD_YES;
	snprintf(raw, sizeof raw, "%s", key);
	restore_plus(raw);
	n = ndx_pct_decode(raw, strlen(raw), kbuf, sizeof kbuf);
	if (n < 0 || strcmp(kbuf, al->name) != 0)
		return MHD_YES;
	al->found = 1;
	al->raw = value ? value : "";
	return MHD_NO;
}

const char *ndx_http_query_arg(const struct ndx_http_req *req, const char *name)
{
	struct req_state *st = req->internal;
	struct arg_lookup al = { .name = name };
	char *raw, *out, **grown;
	size_t n;
	long dl;

	MHD_get_connection_values(st->conn, MHD_GET_ARGUMENT_KIND, find_arg, &al);
	if (!al.found)
		return NULL;
	raw = dup_str(al.raw);
	if (!raw)
		return NULL;
	restore_plus(raw);
	n = strlen(raw);
	out = malloc(n + 1);
	grown = realloc(st->owned, (st->nowned + 1) * sizeof *grown);
	if (!out || !grown) {
		free(raw);
		free(out);
		if (grown)
			st->owned = grown;
		return NULL;
	}
	st->owned = grown;
	/* A bad escape (or an encoded NUL) makes the argument unusable: the
	 * caller sees it as absent rather than as a wrong value. */
	dl = ndx_pct_decode(raw, n, out, n + 1);
	free(raw);
	if (dl < 0) {
		free(out);
		return NULL;
	}
	st->owned[st->nowned++] = out;
	return out;
}

struct query_build {
	char *buf;
	size_t len;
	size_t cap;
	int oom;
};

static int qb_append(struct query_build *qb, const char *s)
{
	size_t n = strlen(s);
	if (qb->len + n + 1 > qb->cap) {
		size_t ncap = (qb->cap ? qb->cap * 2 : 64);
		while (ncap < qb->len + n + 1)
			ncap *= 2;
		char *nb = realloc(qb->buf, ncap);
		if (!nb) {
			qb->oom = 1;
			return -1;
		}
		qb->buf = nb;
		qb->cap = ncap;
	}
	memcpy(qb->buf + qb->len, s, n + 1);
	qb->len += n;
	return 0;
}

static enum MHD_Result add_arg(void *cls, enum MHD_ValueKind kind, const char *key,
			       const char *value)
{
	struct query_build *qb = cls;
	(void)kind;
	if ((qb->len && qb_append(qb, "&")) || qb_append(qb, key))
		return MHD_NO;
	if (value && (qb_append(qb, "=") || qb_append(qb, value)))
		return MHD_NO;
	return MHD_YES;
}

/* ---- responses --------------------------------------------------------- */

void ndx_http_resp_bytes(struct ndx_http_resp *resp, int status, const char *content_type,
			 const void *data, size_t len)
{
	resp_clear_body(resp);
	resp->status = status;
	resp->has_body = 1;
	resp->body = malloc(len + 1);
	resp->content_type = dup_str(content_type ? content_type : "application/octet-stream");
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
	resp_clear_body(resp);
	resp->status = status;
	resp->has_body = 1;
	resp->content_type = dup_str("application/json; charset=utf-8");
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
	resp->error_type = dup_str(type);
	ndx_http_resp_header(resp, "X-Road-Error", type);
}

void ndx_http_resp_header(struct ndx_http_resp *resp, const char *name, const char *value)
{
	struct resp_header *h = realloc(resp->headers, (resp->nheaders + 1) * sizeof *h);
	if (!h) {
		resp->oom = 1;
		return;
	}
	resp->headers = h;
	h[resp->nheaders].name = dup_str(name);
	h[resp->nheaders].value = dup_str(value);
	if (!h[resp->nheaders].name || !h[resp->nheaders].value) {
		free(h[resp->nheaders].name);
		free(h[resp->nheaders].value);
		resp->oom = 1;
		return;
	}
	resp->nheaders++;
	/* A handler that passes on an error from elsewhere sets the header
	 * itself; the access log should still name the type. */
	if (strcasecmp(name, "X-Road-Error") == 0 && resp->error_type != value) {
		char *t = dup_str(value);
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

/* ---- TLS client certificates ------------------------------------------- */

int ndx_http_client_cert(const struct ndx_http_req *req, char fingerprint_hex[65])
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

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct ndx_httpd *srv = cls;
	(void)conn;
	if (!srv->tls)
		return;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		/* NULL on allocation failure: the certificate is then simply
		 * verified again on each request. */
		*socket_context = calloc(1, sizeof(struct conn_state));
	} else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		free(*socket_context);
		*socket_context = NULL;
	}
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

static void access_log(struct req_state *st, const char *method, const char *path,
		       const struct ndx_http_resp *resp)
{
	struct timespec now;
	char when[32];
	struct tm tm;
	time_t t = time(NULL);
	json_t *o;
	char *line;
	double ms;

	if (!st->srv->cfg.access_log)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (double)(now.tv_sec - st->start.tv_sec) * 1e3 +
	     (double)(now.tv_nsec - st->start.tv_nsec) / 1e6;
	gmtime_r(&t, &tm);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
	o = json_object();
	if (!o)
		return;
	json_object_set_new(o, "time", json_string(when));
	json_object_set_new(o, "daemon", json_string(st->srv->name));
	json_object_set_new(o, "remote", json_string(st->remote));
	json_object_set_new(o, "method", json_stringn(method, strlen(method)));
	/* The path is raw bytes from the network: json_string would refuse
	 * invalid UTF-8, leaving the field out; that is acceptable. */
	json_object_set_new(o, "path", json_string(path));
	json_object_set_new(o, "status", json_integer(resp->status));
	if (resp->error_type)
		json_object_set_new(o, "error_type", json_string(resp->error_type));
	json_object_set_new(o, "duration_ms", json_real(ms));
	json_object_set_new(o, "bytes", json_integer((json_int_t)resp->len));
	line = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
	json_decref(o);
	if (!line)
		return;
	/* One write(2) per line so that lines from pool threads never
	 * interleave, straight to the descriptor: stdio's stream lock would
	 * serialise the pool threads for nothing, stderr being unbuffered. */
	size_t n = strlen(line);
	char *withnl = realloc(line, n + 2);
	if (withnl) {
		withnl[n] = '\n';
		withnl[n + 1] = '\0';
		write_all(STDERR_FILENO, withnl, n + 1);
		free(withnl);
	} else {
		free(line);
	}
}

/* Turns a collected response into an MHD one and queues it. */
static enum MHD_Result send_resp(struct req_state *st, const char *method, const char *path,
				 struct ndx_http_resp *resp)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (resp->oom || !resp->has_body) {
		int oom = resp->oom;
		resp_free(resp);
		memset(resp, 0, sizeof *resp);
		ndx_http_resp_error(resp, 500, "Server.Internal",
				    oom ? "out of memory" : "the handler produced no response", NULL);
		if (resp->oom) {
			/* Nothing more we can build: close the connection. */
			resp_free(resp);
			return MHD_NO;
		}
	}
	r = MHD_create_response_from_buffer(resp->len, resp->body, MHD_RESPMEM_MUST_COPY);
	if (!r) {
		resp_free(resp);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, resp->content_type);
	for (size_t i = 0; i < resp->nheaders; i++)
		MHD_add_response_header(r, resp->headers[i].name, resp->headers[i].value);
	ret = MHD_queue_response(st->conn, (unsigned)resp->status, r);
	MHD_destroy_response(r);
	st->responded = 1;
	access_log(st, method, path, resp);
	resp_free(resp);
	return ret;
}

static enum MHD_Result send_too_big(struct req_state *st, const char *method, const char *url)
{
	struct ndx_http_resp resp = { 0 };
	char detail[96];
	snprintf(detail, sizeof detail, "the body exceeds %zu bytes", st->srv->cfg.max_body);
	ndx_http_resp_error(&resp, 413, "Client.TooLarge", "request body too large", detail);
	return send_resp(st, method, url, &resp);
}

/* ---- MHD callbacks ----------------------------------------------------- */

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_data_size,
				  void **con_cls)
{
	struct ndx_httpd *srv = cls;
	struct req_state *st = *con_cls;
	(void)version;

	if (!st) {
		const char *cl, *expect;
		st = calloc(1, sizeof *st);
		if (!st)
			return MHD_NO;
		st->srv = srv;
		st->conn = conn;
		atomic_fetch_add_explicit(&srv->active, 1, memory_order_relaxed);
		clock_gettime(CLOCK_MONOTONIC, &st->start);
		format_remote(conn, st->remote, sizeof st->remote);
		*con_cls = st;
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
		if (st->responded)
			return MHD_YES;
		st->seen += n;
		if (!st->too_big && st->len + n > srv->cfg.max_body) {
			st->too_big = 1;
			free(st->body);
			st->body = NULL;
			st->len = st->cap = 0;
		}
		if (st->too_big)
			return st->seen > srv->cfg.max_body + DRAIN_MAX ? MHD_NO : MHD_YES;
		if (st->len + n + 1 > st->cap) {
			size_t ncap = st->cap ? st->cap : 4096;
			while (ncap < st->len + n + 1)
				ncap *= 2;
			char *nb = realloc(st->body, ncap);
			if (!nb)
				return MHD_NO;
			st->body = nb;
			st->cap = ncap;
		}
		memcpy(st->body + st->len, upload_data, n);
		st->len += n;
		st->body[st->len] = '\0';
		return MHD_YES;
	}

	if (st->responded)
		return MHD_YES;
	if (st->too_big)
		return send_too_big(st, method, url);

	struct query_build qb = { 0 };
	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, add_arg, &qb);
	if (qb.oom) {
		free(qb.buf);
		return MHD_NO;
	}
	st->query = qb.buf ? qb.buf : dup_str("");
	if (!st->query)
		return MHD_NO;
	restore_plus(st->query);

	struct ndx_http_req req = {
		.method = method,
		.path = url,
		.query = st->query,
		.body = st->len ? (const uint8_t *)st->body : NULL,
		.body_len = st->len,
		.remote_addr = st->remote,
		.internal = st,
	};
	struct ndx_http_resp resp = { 0 };
	srv->cfg.handler(srv->cfg.ctx, &req, &resp);
	return send_resp(st, method, url, &resp);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct req_state *st = *con_cls;
	(void)cls;
	(void)conn;
	(void)toe;
	if (st)
		atomic_fetch_sub_explicit(&st->srv->active, 1, memory_order_release);
	req_state_free(st);
	*con_cls = NULL;
}

/* ---- daemon ------------------------------------------------------------ */

static void free_tls(struct ndx_httpd *srv)
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

int ndx_httpd_start(const struct ndx_httpd_config *cfg, struct ndx_httpd **out)
{
	struct ndx_httpd *srv;
	struct sockaddr_in sa;
	const char *addr;
	unsigned threads;
	const union MHD_DaemonInfo *di;

	*out = NULL;
	if (!cfg || !cfg->handler)
		return NDX_EINVAL;
	addr = cfg->bind_addr ? cfg->bind_addr : "127.0.0.1";
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons(cfg->port);
	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
		fprintf(stderr, "%s: bad bind address %s (an IPv4 literal is needed)\n",
			cfg->name ? cfg->name : "httpd", addr);
		return NDX_EINVAL;
	}
	srv = calloc(1, sizeof *srv);
	if (!srv)
		return NDX_ENOMEM;
	srv->cfg = *cfg;
	srv->name = dup_str(cfg->name ? cfg->name : "ndx");
	if (!srv->name) {
		free(srv);
		return NDX_ENOMEM;
	}
	srv->cfg.name = srv->name;
	srv->cfg.bind_addr = NULL; /* not kept: the caller's string may go */
	threads = cfg->threads;
	if (threads == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		threads = n > 0 && n < 256 ? (unsigned)n : 2;
	}

	srv->listen_fd = MHD_INVALID_SOCKET;
	srv->tls = cfg->tls_cert_pem && cfg->tls_key_pem;
	if ((cfg->tls_cert_pem || cfg->tls_trust_pem) && !srv->tls) {
		fprintf(stderr, "%s: TLS needs both a certificate and a key\n", srv->name);
		free(srv->name);
		free(srv);
		return NDX_EINVAL;
	}
	/* MHD keeps pointers to the PEM strings rather than copies, and the
	 * caller's may go: the daemon owns copies for its lifetime. */
	if (srv->tls) {
		const char *src[3] = { cfg->tls_cert_pem, cfg->tls_key_pem, cfg->tls_trust_pem };
		for (int i = 0; i < 3; i++) {
			if (src[i] && !(srv->tls_pem[i] = dup_str(src[i]))) {
				free_tls(srv);
				free(srv->name);
				free(srv);
				return NDX_ENOMEM;
			}
		}
	}
	struct MHD_OptionItem tls_opts[] = {
		{ MHD_OPTION_HTTPS_MEM_CERT, 0, srv->tls_pem[0] },
		{ MHD_OPTION_HTTPS_MEM_KEY, 0, srv->tls_pem[1] },
		{ MHD_OPTION_HTTPS_PRIORITIES, 0,
		  (void *)"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2" },
		{ srv->tls_pem[2] ? MHD_OPTION_HTTPS_MEM_TRUST : MHD_OPTION_END, 0, srv->tls_pem[2] },
		{ MHD_OPTION_END, 0, NULL },
	};
	struct MHD_OptionItem no_opts[] = { { MHD_OPTION_END, 0, NULL } };

	/* A pool of one is just the internal thread; MHD wants no pool option then. */
	srv->mhd = MHD_start_daemon(
		MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_INTERNAL_POLLING_THREAD |
			MHD_USE_ERROR_LOG | MHD_USE_ITC | (srv->tls ? MHD_USE_TLS : 0),
		cfg->port, NULL, NULL, on_request, srv,
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)CONNECTION_TIMEOUT_S,
		MHD_OPTION_UNESCAPE_CALLBACK, identity_unescape, NULL,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
		MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv,
		MHD_OPTION_STRICT_FOR_CLIENT, cfg->strict ? 1 : 0,
		MHD_OPTION_ARRAY, srv->tls ? tls_opts : no_opts,
		threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END,
		(unsigned int)threads, MHD_OPTION_END);
	if (!srv->mhd) {
		fprintf(stderr, "%s: cannot listen on %s:%u%s\n", srv->name, addr,
			(unsigned)cfg->port, srv->tls ? " (or the TLS key or certificate is unusable)" : "");
		free_tls(srv);
		free(srv->name);
		free(srv);
		return NDX_EIO;
	}
	di = MHD_get_daemon_info(srv->mhd, MHD_DAEMON_INFO_BIND_PORT);
	srv->port = di ? di->port : cfg->port;
	*out = srv;
	return NDX_OK;
}

uint16_t ndx_httpd_port(const struct ndx_httpd *srv)
{
	return srv->port;
}

unsigned ndx_httpd_drain(struct ndx_httpd *srv, unsigned timeout_ms)
{
	struct timespec pause = { 0, 10 * 1000 * 1000 };
	unsigned waited = 0, n;

	if (!srv->quiesced) {
		srv->listen_fd = MHD_quiesce_daemon(srv->mhd);
		srv->quiesced = 1;
	}
	while ((n = atomic_load_explicit(&srv->active, memory_order_acquire)) != 0 &&
	       waited < timeout_ms) {
		nanosleep(&pause, NULL);
		waited += 10;
	}
	return n;
}

void ndx_httpd_stop(struct ndx_httpd *srv)
{
	MHD_socket s;

	if (!srv)
		return;
	s = srv->quiesced ? srv->listen_fd : MHD_quiesce_daemon(srv->mhd);
	MHD_stop_daemon(srv->mhd);
	/* Quiesce hands the listening socket to us; close it only now that no
	 * pool thread can still be using it. */
	if (s != MHD_INVALID_SOCKET)
		close(s);
	free_tls(srv);
	free(srv->name);
	free(srv);
}
