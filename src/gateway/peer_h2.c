/* The consumer gateway's HTTP/2 client towards provider gateways
 * (peer_h2.h): nghttp2 does the HTTP/2 (framing, HPACK, flow control,
 * stream states), OpenSSL the TLS, on non-blocking sockets watched by the
 * exchange loop (ndx/loop.h) directly. Why not libcurl: bench/README.md
 * "The peer hop on nghttp2".
 *
 * Each loop has a client (made at its first call): the client's SSL_CTX
 * (this gateway's certificate and key, the configuration's CA, TLS 1.2 or
 * later, ALPN "h2" then "http/1.1"), and its connections, each to one
 * gateway address ("host:port"). A call becomes a stream of the address's
 * open connection, or of a new one when there is none, or when those open
 * carry as many streams as the gateway allows at once
 * (SETTINGS_MAX_CONCURRENT_STREAMS; h2o's 100). Connections are kept
 * while the gateway keeps them (h2o closes one silent for 30 s, with a
 * GOAWAY). What the streams of a loop turn queue is written once, before
 * the loop sleeps (gw_ph2_flush), as few TLS records as fit.
 *
 * What the hop keeps of the libcurl one (peer.c):
 * - The peer: its chain must verify against the configuration's CA and
 *   its certificate name the address's host (curl's VERIFYPEER and
 *   VERIFYHOST), and, before anything is sent on a new connection, be the
 *   certificate of a gateway of the call's member, neither revoked nor of
 *   a revoked signing key (curl's verify callback at the handshake; when
 *   not: GW_XFER_CONNECT, so that the next gateway is tried). At the first
 *   header of every answer the same check runs again (curl's on_headers
 *   hook: the connection may be reused, and the configuration may have
 *   changed since): when it fails, GW_XFER_IDENTITY. Both checks are
 *   gw_peer_allowed on the fingerprint of SSL_get0_peer_certificate, taken
 *   once per connection.
 * - The request: method, path and query of the URL as they are, the
 *   header list with curl's meaning ("Name: value" sent, "Name:" leaves a
 *   header out, "Name;" sends it empty), names in lower case (HTTP/2 has
 *   no other), User-Agent and Accept as curl sent them, Content-Length
 *   for a body (and for POST, PUT, PATCH without one), the body.
 * - Outcomes: a connection that cannot be made, or made but refused by the
 *   checks above or closed before the request went out: GW_XFER_CONNECT
 *   (nothing was sent); the call's connect timeout until the connection
 *   is ready: GW_XFER_CONNECT; the peer timeout over the whole call:
 *   GW_XFER_TIMEOUT (GW_XFER_CONNECT while nothing was sent); an answer
 *   body over r->cap or too many user headers: GW_XFER_TOOBIG; a stream
 *   reset or a connection lost after the request went out: GW_XFER_FAILED.
 * - A request refused unprocessed (a GOAWAY that did not cover its stream,
 *   REFUSED_STREAM), and one on a reused connection that was lost before
 *   any of the answer arrived, is sent once more on a new connection to
 *   the same gateway (as libcurl does for a reused connection, and
 *   backend_http1.c for the backend hop); the second time, the first rule
 *   above.
 * - An address whose gateway offers no "h2" (libmicrohttpd, or
 *   http.peer_http2 false): nothing is sent on that connection; its calls,
 *   and the next minute's, go over libcurl (gw_peer_send_curl), HTTP/1.1.
 *
 * nghttp2's callbacks never end a call themselves: they put its stream on
 * the client's ended list, which the I/O handler drains once nghttp2 has
 * returned (a call's end may free the call, stream included). */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "peer_h2.h"
#include "gwloop.h"
#include "ndx/encode.h"
#include "ndx/err.h"
#include "ndx/hash.h"

/* How long an address that offered no "h2" stays on libcurl. */
#define H1_AGAIN_MS 60000
/* Connections one loop opens to one address (each carrying as many
 * streams as the gateway allows); beyond, streams queue in nghttp2. */
#define CONNS_PER_ADDRESS 8
/* Flow control: what the gateway may send ahead, per stream and in all. */
#define STREAM_WINDOW (1 << 20)
#define CONN_WINDOW (16 << 20)
/* What one read takes from TLS; what a flush gathers before a write. */
#define READ_CHUNK 16384
#define WRITE_GATHER 65536

enum cstate { C_CONNECTING, C_HANDSHAKE, C_READY, C_H1 };

struct gw_ph2_conn {
	struct gw_ph2 *c;
	struct gw_ph2_conn *next; /* the client's */
	char key[300];            /* "host:port", also :authority */
	char host[256];           /* without brackets */
	enum cstate state;
	int fd;
	unsigned events;          /* watched */
	SSL *ssl;
	nghttp2_session *s;
	bool draining;            /* no new stream: GOAWAY, or no stream id left */
	bool dead;                /* lost: torn down once nghttp2 has returned */
	bool dirty;               /* something to write at the flush */
	bool ssl_wants_write;
	unsigned answered;        /* streams that got an answer */
	size_t nstreams;          /* on the list below */
	char fp[2 * NDX_SHA256_LEN + 1];
	char why[256];            /* why it was lost */
	int64_t h1_until;         /* C_H1: until when the address stays on libcurl */
	struct gw_ph2_stream *streams; /* waiting for the connection, then submitted */
	uint8_t *out;
	size_t out_len, out_off, out_cap;
};

struct gw_ph2 {
	struct gw_loop *l;
	struct ndx_loop *nl;
	SSL_CTX *ctx;
	char *ctx_ca;  /* the CA text ctx trusts */
	const struct gw_config *cfg;
	nghttp2_session_callbacks *cbs;
	nghttp2_option *opt;
	struct gw_ph2_conn *conns;
	struct gw_ph2_stream *ended;
	/* the flush's leftovers (ends, writes queued during it) on the next
	 * turn: a hook must not leave work for a loop about to sleep */
	struct ndx_loop_timer t_again;
	bool stopped;
	/* a request's header fields, reused */
	nghttp2_nv *nv;
	size_t nv_cap;
	char *names;
	size_t names_cap;
};

static struct gw_peer_call *call_of(struct gw_ph2_stream *st)
{
	return (struct gw_peer_call *)((char *)st - offsetof(struct gw_peer_call, h2));
}

/* ---- ending a stream ------------------------------------------------------ */

static void unlink_stream(struct gw_ph2_stream *st)
{
	struct gw_ph2_conn *k = st->conn;

	if (!k)
		return;
	if (st->prev)
		st->prev->next = st->next;
	else
		k->streams = st->next;
	if (st->next)
		st->next->prev = st->prev;
	st->prev = st->next = NULL;
	k->nstreams--;
	/* nghttp2 forgets the call; a stream still open is reset. */
	if (st->id > 0 && k->s && !k->dead) {
		if (nghttp2_session_get_stream_user_data(k->s, st->id) == st) {
			nghttp2_session_set_stream_user_data(k->s, st->id, NULL);
			if (st->end != GW_XFER_OK)
				nghttp2_submit_rst_stream(k->s, NGHTTP2_FLAG_NONE, st->id,
							  NGHTTP2_CANCEL);
			k->dirty = true;
		}
	}
	st->conn = NULL;
	st->id = 0;
}

/* The call's end, now (never from inside nghttp2). */
static void finish(struct gw_ph2 *c, struct gw_ph2_stream *st, enum gw_xfer_result res)
{
	struct gw_peer_call *call = call_of(st);
	struct gw_xfer_resp *r = call->r;

	st->end = res;
	unlink_stream(st);
	ndx_loop_timer_disarm(c->nl, &st->t_all);
	ndx_loop_timer_disarm(c->nl, &st->t_conn);
	/* What arrived, also of a cut answer (as gw_xfer_complete). */
	free(r->body);
	r->body = ndx_buf_steal(&st->body, &r->len);
	if (res == GW_XFER_IDENTITY)
		r->aborted = 1;
	gw_peer_sent(call, res);
}

/* From inside nghttp2 or the connection's handling: the end is recorded
 * and the call ended once they have returned (drain_ended). */
static void end_later(struct gw_ph2 *c, struct gw_ph2_stream *st, enum gw_xfer_result res,
		      const char *why)
{
	struct gw_xfer_resp *r = call_of(st)->r;

	if (why && !r->errbuf[0])
		snprintf(r->errbuf, sizeof r->errbuf, "%.*s", (int)sizeof r->errbuf - 1, why);
	st->end = res;
	unlink_stream(st);
	ndx_loop_timer_disarm(c->nl, &st->t_all);
	ndx_loop_timer_disarm(c->nl, &st->t_conn);
	st->ended_next = c->ended;
	c->ended = st;
}

static void drain_ended(struct gw_ph2 *c)
{
	struct gw_ph2_stream *st;

	while ((st = c->ended)) {
		c->ended = st->ended_next;
		st->ended_next = NULL;
		finish(c, st, st->end);
	}
}

/* ---- connections ----------------------------------------------------------- */

static void on_conn_io(void *arg, int fd, unsigned events);

static void watch(struct gw_ph2_conn *k)
{
	unsigned ev = NDX_LOOP_READ;

	if (k->fd < 0)
		return;
	if (k->state == C_CONNECTING || k->out_len > k->out_off || k->ssl_wants_write)
		ev |= NDX_LOOP_WRITE;
	if (k->state == C_CONNECTING)
		ev = NDX_LOOP_WRITE;
	if (ev != k->events) {
		k->events = ev;
		ndx_loop_watch(k->c->nl, k->fd, ev, on_conn_io, k);
	}
}

static void conn_close(struct gw_ph2_conn *k)
{
	struct gw_ph2 *c = k->c;
	struct gw_ph2_conn **p;

	for (p = &c->conns; *p; p = &(*p)->next)
		if (*p == k) {
			*p = k->next;
			break;
		}
	if (k->fd >= 0) {
		ndx_loop_unwatch(c->nl, k->fd);
		close(k->fd);
	}
	if (k->s)
		nghttp2_session_del(k->s);
	SSL_free(k->ssl);
	free(k->out);
	free(k);
}

static int attach(struct gw_ph2 *c, struct gw_ph2_stream *st, const char *key, char *why,
		  size_t cap);
/* attach from inside nghttp2 or a connection's handling: ends st later
 * when it cannot. */
static void reattach(struct gw_ph2 *c, struct gw_ph2_stream *st, const char *key)
{
	char why[400];
	int rc = attach(c, st, key, why, sizeof why);

	if (rc != 0)
		end_later(c, st, rc > 0 ? GW_XFER_CONNECT : GW_XFER_FAILED, why);
}
static int submit(struct gw_ph2_conn *k, struct gw_ph2_stream *st);

/* The connection is lost (or could not be made): each of its streams ends
 * by what it had sent and received, or goes once more on a new one. */
static void conn_lost(struct gw_ph2_conn *k, enum gw_xfer_result before_ready)
{
	struct gw_ph2 *c = k->c;
	struct gw_ph2_stream *st;
	char key[sizeof k->key];

	memcpy(key, k->key, sizeof key);
	k->dead = true;
	k->draining = true;
	while ((st = k->streams)) {
		bool again = !st->retried && st->on_reused && (!st->sent || !st->got);

		if (again) {
			unlink_stream(st);
			st->retried = true;
			st->sent = st->got = st->hooked = false;
			reattach(c, st, key);
			continue;
		}
		end_later(c, st,
			  k->state != C_READY ? before_ready
			  : st->sent	      ? GW_XFER_FAILED
					      : GW_XFER_CONNECT,
			  k->why);
	}
	conn_close(k);
}

/* Why k is lost: prefix then what (the first reason stays). */
static void lost_why(struct gw_ph2_conn *k, const char *prefix, const char *what)
{
	if (!k->why[0])
		snprintf(k->why, sizeof k->why, "%s%.*s", prefix, 200, what);
}

static void ssl_why(struct gw_ph2_conn *k, const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[160];

	if (e) {
		ERR_error_string_n(e, buf, sizeof buf);
		snprintf(k->why, sizeof k->why, "%s: %s", what, buf);
	} else {
		snprintf(k->why, sizeof k->why, "%s", what);
	}
	ERR_clear_error();
}

/* Writes what nghttp2 has to send, gathered. 0, or -1 when the
 * connection is lost. */
static int conn_write(struct gw_ph2_conn *k)
{
	if (k->state != C_READY || k->dead)
		return 0;
	for (;;) {
		while (k->out_len - k->out_off < WRITE_GATHER) {
			const uint8_t *data;
			ssize_t n = nghttp2_session_mem_send(k->s, &data);

			if (n < 0) {
				lost_why(k, "HTTP/2: ", nghttp2_strerror((int)n));
				return -1;
			}
			if (n == 0)
				break;
			if (k->out_off == k->out_len)
				k->out_off = k->out_len = 0;
			if (k->out_len + (size_t)n > k->out_cap) {
				size_t cap = k->out_cap ? k->out_cap : WRITE_GATHER;
				uint8_t *o;

				while (cap < k->out_len + (size_t)n)
					cap *= 2;
				if (!(o = realloc(k->out, cap))) {
					lost_why(k, "", "out of memory");
					return -1;
				}
				k->out = o;
				k->out_cap = cap;
			}
			memcpy(k->out + k->out_len, data, (size_t)n);
			k->out_len += (size_t)n;
		}
		if (k->out_off == k->out_len)
			break;
		k->ssl_wants_write = false;
		{
			int w = SSL_write(k->ssl, k->out + k->out_off, (int)(k->out_len - k->out_off));

			if (w <= 0) {
				int e = SSL_get_error(k->ssl, w);

				if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
					k->ssl_wants_write = e == SSL_ERROR_WANT_WRITE;
					break;
				}
				ssl_why(k, "Send failure");
				return -1;
			}
			k->out_off += (size_t)w;
		}
	}
	k->dirty = false;
	return 0;
}

/* Reads what TLS has, into nghttp2. 0, or -1 when the connection is lost
 * (closed by the peer included). */
static int conn_read(struct gw_ph2_conn *k)
{
	uint8_t buf[READ_CHUNK];

	for (int turns = 0; turns < 64 && !k->dead; turns++) {
		int n = SSL_read(k->ssl, buf, sizeof buf);
		ssize_t used;

		if (n <= 0) {
			int e = SSL_get_error(k->ssl, n);

			if (e == SSL_ERROR_WANT_READ)
				return 0;
			if (e == SSL_ERROR_WANT_WRITE) {
				k->ssl_wants_write = true;
				return 0;
			}
			if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && !ERR_peek_error()))
				lost_why(k, "", "the gateway closed the connection");
			else
				ssl_why(k, "Recv failure");
			return -1;
		}
		used = nghttp2_session_mem_recv(k->s, buf, (size_t)n);
		if (used < 0) {
			lost_why(k, "HTTP/2: ", nghttp2_strerror((int)used));
			return -1;
		}
	}
	return k->dead ? -1 : 0;
}

/* After a read or a write: a connection nghttp2 is done with (GOAWAY both
 * ways) and that carries nothing closes. */
static void conn_settle(struct gw_ph2_conn *k)
{
	if (k->state == C_READY && !k->dead && !k->nstreams && k->draining &&
	    k->out_off == k->out_len) {
		conn_close(k);
		return;
	}
	watch(k);
}

/* The handshake is done: the peer's name, protocol and fingerprint, then
 * each waiting stream checked and submitted. */
static int conn_ready(struct gw_ph2_conn *k)
{
	struct gw_ph2 *c = k->c;
	const unsigned char *alpn = NULL;
	unsigned int alen = 0;
	X509 *cert = SSL_get0_peer_certificate(k->ssl);
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	nghttp2_settings_entry iv[] = {
		{ NGHTTP2_SETTINGS_ENABLE_PUSH, 0 },
		{ NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, STREAM_WINDOW },
	};
	struct gw_ph2_stream *st, *next;

	SSL_get0_alpn_selected(k->ssl, &alpn, &alen);
	if (alen != 2 || memcmp(alpn, "h2", 2) != 0) {
		/* HTTP/1.1 only: libcurl's, from the start (nothing was sent). */
		k->state = C_H1;
		k->h1_until = ndx_loop_now_ms() + H1_AGAIN_MS;
		ndx_loop_unwatch(c->nl, k->fd);
		close(k->fd);
		k->fd = -1;
		SSL_free(k->ssl);
		k->ssl = NULL;
		while ((st = k->streams)) {
			unlink_stream(st);
			ndx_loop_timer_disarm(c->nl, &st->t_all);
			ndx_loop_timer_disarm(c->nl, &st->t_conn);
			gw_peer_send_curl(call_of(st));
		}
		return 0;
	}
	if (!cert || X509_digest(cert, EVP_sha256(), md, &mdlen) != 1 || mdlen != NDX_SHA256_LEN) {
		lost_why(k, "", "the gateway presented no certificate");
		return -1;
	}
	ndx_hex_encode(md, mdlen, k->fp);
	/* Each waiting call's check first: to a peer that none of them may
	 * reach, not even the HTTP/2 preface goes. */
	for (st = k->streams; st; st = next) {
		next = st->next;
		ndx_loop_timer_disarm(c->nl, &st->t_conn);
		if (!gw_peer_allowed(call_of(st), k->fp))
			/* curl's verify callback: nothing sent, the next gateway. */
			end_later(c, st, GW_XFER_CONNECT,
				  "SSL certificate problem: the gateway is not one of the member's");
	}
	if (!k->streams) {
		lost_why(k, "", "no call may use the connection");
		return -1;
	}
	if (nghttp2_session_client_new2(&k->s, c->cbs, k, c->opt) != 0) {
		lost_why(k, "", "out of memory");
		return -1;
	}
	k->state = C_READY;
	if (nghttp2_submit_settings(k->s, NGHTTP2_FLAG_NONE, iv, sizeof iv / sizeof iv[0]) != 0 ||
	    nghttp2_session_set_local_window_size(k->s, NGHTTP2_FLAG_NONE, 0, CONN_WINDOW) != 0) {
		lost_why(k, "", "out of memory");
		return -1;
	}
	k->dirty = true;
	for (st = k->streams; st; st = next) {
		next = st->next;
		if (submit(k, st) != 0)
			end_later(c, st, GW_XFER_FAILED, "cannot start an HTTP/2 stream");
	}
	return 0;
}

static int conn_handshake(struct gw_ph2_conn *k)
{
	int rc = SSL_connect(k->ssl);

	k->ssl_wants_write = false;
	if (rc == 1)
		return conn_ready(k);
	switch (SSL_get_error(k->ssl, rc)) {
	case SSL_ERROR_WANT_READ:
		return 0;
	case SSL_ERROR_WANT_WRITE:
		k->ssl_wants_write = true;
		return 0;
	default: {
		long v = SSL_get_verify_result(k->ssl);

		if (v != X509_V_OK)
			snprintf(k->why, sizeof k->why, "SSL certificate problem: %s",
				 X509_verify_cert_error_string(v));
		else
			ssl_why(k, "SSL connect error");
		ERR_clear_error();
		return -1;
	}
	}
}

static int conn_start_tls(struct gw_ph2_conn *k)
{
	struct gw_ph2 *c = k->c;
	X509_VERIFY_PARAM *vp;

	if (!(k->ssl = SSL_new(c->ctx)) || SSL_set_fd(k->ssl, k->fd) != 1) {
		ssl_why(k, "SSL connect error");
		return -1;
	}
	SSL_set_connect_state(k->ssl);
	SSL_set_mode(k->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/* The certificate must name the address's host (curl's VERIFYHOST 2:
	 * an IP address among its addresses). */
	vp = SSL_get0_param(k->ssl);
	if (X509_VERIFY_PARAM_set1_ip_asc(vp, k->host) != 1) {
		ssl_why(k, "SSL connect error");
		return -1;
	}
	k->state = C_HANDSHAKE;
	return conn_handshake(k);
}

static void conn_io(struct gw_ph2_conn *k, unsigned events)
{
	struct gw_ph2 *c = k->c;
	int rc = 0;

	if (k->state == C_CONNECTING) {
		int err = 0;
		socklen_t el = sizeof err;

		if (getsockopt(k->fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0)
			err = errno;
		if (err) {
			snprintf(k->why, sizeof k->why, "Failed to connect to %.*s: %s", 120, k->key,
				 strerror(err));
			rc = -1;
		} else {
			rc = conn_start_tls(k);
		}
	} else if (k->state == C_HANDSHAKE) {
		rc = conn_handshake(k);
	} else if (k->state == C_READY) {
		if (events & (NDX_LOOP_READ | NDX_LOOP_ERROR))
			rc = conn_read(k);
		if (rc == 0)
			rc = conn_write(k);
	}
	if (rc != 0 || k->dead) {
		conn_lost(k, GW_XFER_CONNECT);
		drain_ended(c);
		return;
	}
	if (k->state == C_READY && k->dirty && conn_write(k) != 0) {
		conn_lost(k, GW_XFER_CONNECT);
		drain_ended(c);
		return;
	}
	drain_ended(c);
	/* The ends above may have closed nothing of k: it is still listed. */
	for (struct gw_ph2_conn *p = c->conns; p; p = p->next)
		if (p == k) {
			if (k->state != C_H1)
				conn_settle(k);
			break;
		}
}

static void on_conn_io(void *arg, int fd, unsigned events)
{
	(void)fd;
	conn_io(arg, events);
}

/* A new connection to key's address, connecting. NULL with why set. */
static struct gw_ph2_conn *conn_open(struct gw_ph2 *c, const char *key, char *why, size_t cap)
{
	struct gw_ph2_conn *k = calloc(1, sizeof *k);
	struct sockaddr_storage ss;
	socklen_t sl = 0;
	int one = 1;

	if (!k) {
		snprintf(why, cap, "out of memory");
		return NULL;
	}
	k->c = c;
	k->fd = -1;
	snprintf(k->key, sizeof k->key, "%s", key);
	if (!gw_xfer_authority_addr(key, 443, &ss, &sl, k->host, sizeof k->host)) {
		snprintf(why, cap, "bad gateway address %s", key);
		free(k);
		return NULL;
	}
	k->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (k->fd < 0) {
		snprintf(why, cap, "Failed to connect to %s: %s", key, strerror(errno));
		free(k);
		return NULL;
	}
	setsockopt(k->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	setsockopt(k->fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
	if (connect(k->fd, (struct sockaddr *)&ss, sl) != 0 && errno != EINPROGRESS) {
		snprintf(why, cap, "Failed to connect to %s: %s", key, strerror(errno));
		close(k->fd);
		free(k);
		return NULL;
	}
	k->state = C_CONNECTING;
	k->events = NDX_LOOP_WRITE;
	if (ndx_loop_watch(c->nl, k->fd, NDX_LOOP_WRITE, on_conn_io, k) != NDX_OK) {
		snprintf(why, cap, "out of memory");
		close(k->fd);
		free(k);
		return NULL;
	}
	k->next = c->conns;
	c->conns = k;
	return k;
}

/* ---- nghttp2's callbacks ------------------------------------------------- */

static struct gw_ph2_stream *stream_of(struct gw_ph2_conn *k, int32_t id)
{
	return id > 0 ? nghttp2_session_get_stream_user_data(k->s, id) : NULL;
}

static int on_begin_frame(nghttp2_session *s, const nghttp2_frame_hd *hd, void *ud)
{
	struct gw_ph2_stream *st = stream_of(ud, hd->stream_id);
	(void)s;

	if (st)
		st->got = true;
	return 0;
}

static int on_header(nghttp2_session *s, const nghttp2_frame *frame, const uint8_t *name,
		     size_t nl, const uint8_t *value, size_t vl, uint8_t flags, void *ud)
{
	struct gw_ph2_conn *k = ud;
	struct gw_ph2_stream *st = stream_of(k, frame->hd.stream_id);
	struct gw_peer_call *call;
	struct gw_xfer_resp *r;
	(void)s;
	(void)flags;

	if (!st || frame->hd.type != NGHTTP2_HEADERS)
		return 0;
	call = call_of(st);
	r = call->r;
	if (nl == 7 && memcmp(name, ":status", 7) == 0) {
		long status = 0;

		for (size_t i = 0; i < vl && i < 3; i++)
			status = status * 10 + (value[i] - '0');
		/* A new header block (after 1xx): start over. */
		gw_xfer_resp_new_block(r);
		r->status = status;
		if (!st->hooked) {
			/* The answering gateway, checked again (curl's on_headers). */
			st->hooked = true;
			call->gateway = gw_peer_allowed(call, k->fp);
			if (!call->gateway) {
				end_later(k->c, st, GW_XFER_IDENTITY,
					  "the answering gateway's certificate is not the member's");
				return 0;
			}
		}
		return 0;
	}
	if (nl && name[0] == ':')
		return 0;
	if (gw_xfer_resp_header(r, (const char *)name, nl, (const char *)value, vl) != 0)
		end_later(k->c, st, r->toobig ? GW_XFER_TOOBIG : GW_XFER_FAILED,
			  "the answer's headers cannot be passed on");
	return 0;
}

static int on_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data,
		   size_t len, void *ud)
{
	struct gw_ph2_conn *k = ud;
	struct gw_ph2_stream *st = stream_of(k, id);
	int rc;
	(void)s;
	(void)flags;

	if (!st)
		return 0;
	rc = ndx_buf_append(&st->body, data, len);
	if (rc == NDX_ETOOBIG) {
		call_of(st)->r->toobig = 1;
		end_later(k->c, st, GW_XFER_TOOBIG, "the answer exceeds the cap");
	} else if (rc != NDX_OK) {
		end_later(k->c, st, GW_XFER_FAILED, "out of memory");
	}
	return 0;
}

static int on_frame_send(nghttp2_session *s, const nghttp2_frame *frame, void *ud)
{
	struct gw_ph2_stream *st;
	(void)s;

	if (frame->hd.type != NGHTTP2_HEADERS)
		return 0;
	if ((st = stream_of(ud, frame->hd.stream_id)))
		st->sent = true;
	return 0;
}

static int on_frame_not_send(nghttp2_session *s, const nghttp2_frame *frame, int err, void *ud)
{
	struct gw_ph2_conn *k = ud;
	struct gw_ph2_stream *st;
	(void)s;

	if (frame->hd.type != NGHTTP2_HEADERS || !(st = stream_of(k, frame->hd.stream_id)))
		return 0;
	/* Never sent (e.g. a GOAWAY came first): once more on a new
	 * connection, or the next gateway. */
	nghttp2_session_set_stream_user_data(k->s, st->id, NULL);
	k->draining = true;
	st->id = 0;
	if (!st->retried) {
		unlink_stream(st);
		st->retried = true;
		reattach(k->c, st, k->key);
		return 0;
	}
	end_later(k->c, st, GW_XFER_CONNECT, nghttp2_strerror(err));
	return 0;
}

static int on_frame_recv(nghttp2_session *s, const nghttp2_frame *frame, void *ud)
{
	struct gw_ph2_conn *k = ud;
	(void)s;

	if (frame->hd.type == NGHTTP2_GOAWAY)
		k->draining = true;
	return 0;
}

static int on_stream_close(nghttp2_session *s, int32_t id, uint32_t code, void *ud)
{
	struct gw_ph2_conn *k = ud;
	struct gw_ph2_stream *st = stream_of(k, id);
	struct gw_xfer_resp *r;
	char why[96];

	if (!st)
		return 0;
	r = call_of(st)->r;
	nghttp2_session_set_stream_user_data(s, id, NULL);
	st->id = 0;
	if (code == NGHTTP2_NO_ERROR && r->status >= 200) {
		k->answered++;
		end_later(k->c, st, GW_XFER_OK, NULL);
		return 0;
	}
	if (code == NGHTTP2_REFUSED_STREAM && !st->got) {
		/* Not processed by the gateway (RFC 9113, 8.7). */
		if (!st->retried) {
			unlink_stream(st);
			st->retried = true;
			st->sent = st->hooked = false;
			reattach(k->c, st, k->key);
			return 0;
		}
		end_later(k->c, st, GW_XFER_CONNECT, "the gateway refused the stream");
		return 0;
	}
	snprintf(why, sizeof why, "HTTP/2 stream %d was not closed cleanly: %s (err %u)", (int)id,
		 nghttp2_http2_strerror(code), code);
	end_later(k->c, st, GW_XFER_FAILED, why);
	return 0;
}

static ssize_t read_body(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len,
			 uint32_t *flags, nghttp2_data_source *src, void *ud)
{
	struct gw_ph2_stream *st = stream_of(ud, id);
	struct gw_peer_call *call;
	size_t n;
	(void)s;
	(void)src;

	if (!st)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	call = call_of(st);
	n = call->body_len - st->body_off;
	if (n > len)
		n = len;
	memcpy(buf, call->body + st->body_off, n);
	st->body_off += n;
	if (st->body_off == call->body_len)
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

/* ---- the request ----------------------------------------------------------- */

static bool is_hop_header(const char *n, size_t nl)
{
	static const char *const hop[] = { "connection", "keep-alive", "proxy-connection",
					   "transfer-encoding", "upgrade", "host", "te",
					   "content-length" };

	for (size_t i = 0; i < sizeof hop / sizeof hop[0]; i++)
		if (strlen(hop[i]) == nl && strncasecmp(n, hop[i], nl) == 0)
			return true;
	return false;
}

/* The stream's request submitted on k. 0, or -1 (no memory, no stream
 * id left: then k takes no more). */
static int submit(struct gw_ph2_conn *k, struct gw_ph2_stream *st)
{
	struct gw_ph2 *c = k->c;
	struct gw_peer_call *call = call_of(st);
	const char *path = strchr(call->url + 8, '/');
	bool body = call->body_len > 0 || strcmp(call->method, "POST") == 0 ||
		    strcmp(call->method, "PUT") == 0 || strcmp(call->method, "PATCH") == 0;
	bool ua = true, accept = true;
	size_t n = 0, want = 8, names = 0, at = 0;
	char cl[24];
	nghttp2_data_provider dp = { .read_callback = read_body };
	int32_t id;

	if (strcmp(call->method, "HEAD") == 0)
		body = false;
	for (const struct curl_slist *h = call->headers; h; h = h->next) {
		want++;
		names += strcspn(h->data, ":;");
	}
	if (want > c->nv_cap) {
		nghttp2_nv *nv = realloc(c->nv, want * sizeof *nv);

		if (!nv)
			return -1;
		c->nv = nv;
		c->nv_cap = want;
	}
	if (names + 1 > c->names_cap) {
		char *nm = realloc(c->names, names + 1);

		if (!nm)
			return -1;
		c->names = nm;
		c->names_cap = names + 1;
	}
#define NV(nm, nlen, v, vlen)                                                               \
	c->nv[n++] = (nghttp2_nv){ (uint8_t *)(nm), (uint8_t *)(v), (nlen), (vlen),         \
				   NGHTTP2_NV_FLAG_NONE }
	NV(":method", 7, call->method, strlen(call->method));
	NV(":scheme", 7, "https", 5);
	NV(":authority", 10, k->key, strlen(k->key));
	NV(":path", 5, path ? path : "/", path ? strlen(path) : 1);
	for (const struct curl_slist *h = call->headers; h; h = h->next) {
		size_t nl = strcspn(h->data, ":;");
		const char *v = h->data + nl;
		char *lc = c->names + at;

		if (!*v || nl == 0)
			continue;
		if (*v == ':') {
			v++;
			while (*v == ' ')
				v++;
			if (!*v) { /* "Name:": a default left out */
				if (nl == 10 && strncasecmp(h->data, "user-agent", 10) == 0)
					ua = false;
				if (nl == 6 && strncasecmp(h->data, "accept", 6) == 0)
					accept = false;
				continue;
			}
		} else if (v[1]) {
			continue; /* "Name;x": no header curl would send either */
		} else {
			v = "";
		}
		if (is_hop_header(h->data, nl))
			continue;
		for (size_t i = 0; i < nl; i++) {
			char ch = h->data[i];

			lc[i] = ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
		}
		at += nl;
		if (nl == 10 && memcmp(lc, "user-agent", 10) == 0)
			ua = false;
		if (nl == 6 && memcmp(lc, "accept", 6) == 0)
			accept = false;
		NV(lc, nl, v, strlen(v));
	}
	if (ua)
		NV("user-agent", 10, GW_PROG, strlen(GW_PROG));
	if (accept)
		NV("accept", 6, "*/*", 3);
	if (body) {
		int cn = snprintf(cl, sizeof cl, "%zu", call->body_len);

		NV("content-length", 14, cl, (size_t)cn);
	}
#undef NV
	st->body_off = 0;
	id = nghttp2_submit_request(k->s, NULL, c->nv, n, body && call->body_len ? &dp : NULL, st);
	if (id < 0) {
		k->draining = true;
		return -1;
	}
	st->id = id;
	k->dirty = true;
	return 0;
}

/* ---- the client ------------------------------------------------------------ */

static void client_ctx_free(struct gw_ph2 *c)
{
	SSL_CTX_free(c->ctx);
	c->ctx = NULL;
	free(c->ctx_ca);
	c->ctx_ca = NULL;
}

/* The SSL_CTX for the configuration's CA ca (made anew when the CA
 * changes: connections opened before keep theirs, and are drained). */
static int client_ctx(struct gw_ph2 *c, const struct gw_config *cfg, const char *ca)
{
	static const unsigned char alpn[] = "\x02h2\x08http/1.1";
	SSL_CTX *ctx;
	BIO *b = NULL;
	X509 *x = NULL;
	EVP_PKEY *pk = NULL;
	X509_STORE *store;
	int ncas = 0;

	/* By content: a configuration freed and another at the same address
	 * must not pass for it. */
	if (c->ctx && strcmp(c->ctx_ca, ca) == 0)
		return 0;
	if (!(ctx = SSL_CTX_new(TLS_client_method())))
		return -1;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_alpn_protos(ctx, alpn, sizeof alpn - 1);
	/* this gateway's certificate (and chain) and key */
	if (!(b = BIO_new_mem_buf(cfg->tls_cert_pem, -1)) ||
	    !(x = PEM_read_bio_X509(b, NULL, NULL, NULL)) || SSL_CTX_use_certificate(ctx, x) != 1) {
		X509_free(x);
		goto fail;
	}
	X509_free(x);
	while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)))
		if (SSL_CTX_add0_chain_cert(ctx, x) != 1) {
			X509_free(x);
			goto fail;
		}
	BIO_free(b);
	if (!(b = BIO_new_mem_buf(cfg->tls_key_pem, -1)) ||
	    !(pk = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL)) ||
	    SSL_CTX_use_PrivateKey(ctx, pk) != 1 || SSL_CTX_check_private_key(ctx) != 1)
		goto fail;
	EVP_PKEY_free(pk);
	pk = NULL;
	BIO_free(b);
	/* the configuration's CA, the only one trusted */
	store = SSL_CTX_get_cert_store(ctx);
	if (!(b = BIO_new_mem_buf(ca, -1)))
		goto fail;
	while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL))) {
		ncas += X509_STORE_add_cert(store, x) == 1;
		X509_free(x);
	}
	BIO_free(b);
	b = NULL;
	ERR_clear_error();
	if (!ncas)
		goto fail;
	for (struct gw_ph2_conn *k = c->conns; k; k = k->next)
		k->draining = true;
	client_ctx_free(c);
	if (!(c->ctx_ca = strdup(ca)))
		goto fail;
	c->ctx = ctx;
	return 0;
fail:
	EVP_PKEY_free(pk);
	BIO_free(b);
	SSL_CTX_free(ctx);
	ERR_clear_error();
	return -1;
}

static void on_again_due(void *arg);

static struct gw_ph2 *client_of(struct gw_loop *l)
{
	struct gw_ph2 **slot = gw_loop_ph2(l), *c;

	if (*slot)
		return *slot;
	if (!(c = calloc(1, sizeof *c)))
		return NULL;
	c->l = l;
	c->nl = gw_loop_event_loop(l);
	c->t_again = (struct ndx_loop_timer){ .fn = on_again_due, .arg = c };
	if (nghttp2_session_callbacks_new(&c->cbs) != 0 || nghttp2_option_new(&c->opt) != 0) {
		gw_ph2_free(c);
		return NULL;
	}
	nghttp2_session_callbacks_set_on_begin_frame_callback(c->cbs, on_begin_frame);
	nghttp2_session_callbacks_set_on_header_callback(c->cbs, on_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(c->cbs, on_data);
	nghttp2_session_callbacks_set_on_frame_send_callback(c->cbs, on_frame_send);
	nghttp2_session_callbacks_set_on_frame_not_send_callback(c->cbs, on_frame_not_send);
	nghttp2_session_callbacks_set_on_frame_recv_callback(c->cbs, on_frame_recv);
	nghttp2_session_callbacks_set_on_stream_close_callback(c->cbs, on_stream_close);
	*slot = c;
	return c;
}

bool gw_ph2_serves(const char *url)
{
	if (strncmp(url, "https://", 8) != 0)
		return false;
	return gw_xfer_host_is_ip(url + 8);
}

static void on_all_due(void *arg)
{
	struct gw_ph2_stream *st = arg;
	struct gw_peer_call *call = call_of(st);
	struct gw_ph2 *c = *gw_loop_ph2(call->loop);
	bool sent = st->sent;

	snprintf(call->r->errbuf, sizeof call->r->errbuf,
		 sent ? "Operation timed out after %ld milliseconds"
		      : "Connection timed out after %ld milliseconds",
		 call->s->peer_timeout_ms);
	finish(c, st, sent ? GW_XFER_TIMEOUT : GW_XFER_CONNECT);
}

static void on_conn_due(void *arg)
{
	struct gw_ph2_stream *st = arg;
	struct gw_peer_call *call = call_of(st);
	struct gw_ph2 *c = *gw_loop_ph2(call->loop);
	struct gw_ph2_conn *k = st->conn;

	snprintf(call->r->errbuf, sizeof call->r->errbuf,
		 "Connection timed out after %ld milliseconds", call->s->connect_timeout_ms);
	finish(c, st, GW_XFER_CONNECT);
	/* A connection still being made that nobody waits for any more. */
	if (k && k->state != C_READY && !k->nstreams)
		conn_close(k);
}

/* st onto a connection to key's address: the open one with room, or a new
 * one; or over libcurl when the address speaks HTTP/1.1 only. 0; 1 when
 * no connection can be made (nothing sent), -1 when no stream can be
 * started; why then says why. */
static int attach(struct gw_ph2 *c, struct gw_ph2_stream *st, const char *key, char *why,
		  size_t cap)
{
	struct gw_peer_call *call = call_of(st);
	struct gw_ph2_conn *k, *best = NULL, *next;
	unsigned n = 0;
	int64_t now = 0;

	for (k = c->conns; k; k = next) {
		next = k->next;
		if (strcmp(k->key, key) != 0)
			continue;
		if (k->state == C_H1) {
			if (!now)
				now = ndx_loop_now_ms();
			if (now < k->h1_until) {
				ndx_loop_timer_disarm(c->nl, &st->t_all);
				gw_peer_send_curl(call);
				return 0;
			}
			continue; /* expired: gw_ph2_send closes it */
		}
		if (k->draining || k->dead)
			continue;
		n++;
		if (k->state == C_READY &&
		    k->nstreams >= nghttp2_session_get_remote_settings(
					   k->s, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS) &&
		    n < CONNS_PER_ADDRESS)
			continue;
		if (!best || k->nstreams < best->nstreams)
			best = k;
	}
	if (!(k = best) && !(k = conn_open(c, key, why, cap)))
		return 1;
	st->conn = k;
	st->id = 0;
	st->on_reused = k->answered > 0;
	st->prev = NULL;
	st->next = k->streams;
	if (k->streams)
		k->streams->prev = st;
	k->streams = st;
	k->nstreams++;
	if (k->state != C_READY) {
		if (call->s->connect_timeout_ms > 0)
			ndx_loop_timer_arm(c->nl, &st->t_conn, call->s->connect_timeout_ms);
		return 0;
	}
	if (submit(k, st) != 0) {
		/* No stream id left (or no memory): on another connection. */
		unlink_stream(st);
		if (!st->retried) {
			st->retried = true;
			return attach(c, st, key, why, cap);
		}
		snprintf(why, cap, "cannot start an HTTP/2 stream");
		return -1;
	}
	return 0;
}

void gw_ph2_send(struct gw_loop *l, struct gw_peer_call *call)
{
	struct gw_ph2_stream *st = &call->h2;
	struct gw_xfer_resp *r = call->r;
	const char *ca = ndx_conf_ca_certificate(call->conf);
	const char *auth = call->url + 8, *slash = strchr(auth, '/');
	char key[sizeof ((struct gw_ph2_conn *)0)->key];
	size_t kl = slash ? (size_t)(slash - auth) : strlen(auth);
	struct gw_ph2 *c;
	int rc;

	memset(st, 0, sizeof *st);
	st->t_all = (struct ndx_loop_timer){ .fn = on_all_due, .arg = st };
	st->t_conn = (struct ndx_loop_timer){ .fn = on_conn_due, .arg = st };
	ndx_buf_init(&st->body, r->cap);
	call->gateway = NULL;
	if (!(c = client_of(l))) {
		/* Without a client nothing of it is on the loop: libcurl's. */
		gw_peer_send_curl(call);
		return;
	}
	/* Failures here end the call at once, as peer.c's do. */
	if (c->stopped || gw_loop_stopping(l)) {
		snprintf(r->errbuf, sizeof r->errbuf, "the gateway is stopping");
		finish(c, st, GW_XFER_FAILED);
		return;
	}
	if (kl == 0 || kl >= sizeof key || !ca || client_ctx(c, call->cfg, ca) != 0) {
		snprintf(r->errbuf, sizeof r->errbuf, "%s",
			 kl == 0 || kl >= sizeof key ? "bad gateway address"
						     : "cannot set up TLS towards the gateway");
		finish(c, st, GW_XFER_FAILED);
		return;
	}
	memcpy(key, auth, kl);
	key[kl] = '\0';
	/* An address that was on libcurl for its minute is tried again. */
	for (struct gw_ph2_conn *k = c->conns, *next; k; k = next) {
		next = k->next;
		if (k->state == C_H1 && ndx_loop_now_ms() >= k->h1_until && strcmp(k->key, key) == 0)
			conn_close(k);
	}
	if (call->s->peer_timeout_ms > 0)
		ndx_loop_timer_arm(c->nl, &st->t_all, call->s->peer_timeout_ms);
	if ((rc = attach(c, st, key, r->errbuf, sizeof r->errbuf)) != 0)
		finish(c, st, rc > 0 ? GW_XFER_CONNECT : GW_XFER_FAILED);
}

void gw_ph2_flush(struct gw_ph2 *c)
{
	struct gw_ph2_conn *k, *next;
	bool again = false;

	if (!c)
		return;
	for (k = c->conns; k; k = next) {
		next = k->next;
		if (k->state != C_READY || !k->dirty || k->dead)
			continue;
		if (conn_write(k) != 0)
			conn_lost(k, GW_XFER_CONNECT);
		else
			watch(k);
	}
	/* Calls ended here (a connection lost on writing) end on the next
	 * turn, not inside the before-sleep hook: an end may queue a
	 * signature (the next gateway), which this turn's signing hook has
	 * already passed. The same for a write queued during the flush. */
	for (k = c->conns; k && !again; k = k->next)
		again = k->state == C_READY && k->dirty && !k->dead;
	if (c->ended || again)
		ndx_loop_timer_arm(c->nl, &c->t_again, 0);
}

static void on_again_due(void *arg)
{
	struct gw_ph2 *c = arg;

	drain_ended(c);
}

void gw_ph2_stop(struct gw_ph2 *c)
{
	if (!c)
		return;
	c->stopped = true;
	ndx_loop_timer_disarm(c->nl, &c->t_again);
	while (c->conns) {
		struct gw_ph2_conn *k = c->conns;
		struct gw_ph2_stream *st;

		k->dead = true;
		while ((st = k->streams))
			end_later(c, st, GW_XFER_FAILED, "the gateway is stopping");
		conn_close(k);
	}
	drain_ended(c);
}

void gw_ph2_free(struct gw_ph2 *c)
{
	if (!c)
		return;
	while (c->conns) {
		c->conns->dead = true;
		conn_close(c->conns);
	}
	client_ctx_free(c);
	nghttp2_session_callbacks_del(c->cbs);
	nghttp2_option_del(c->opt);
	free(c->nv);
	free(c->names);
	free(c);
}
