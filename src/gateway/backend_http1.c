/* The backend hop on an HTTP/1.1 client of ndx's own (backend_http1.h):
 * each exchange loop has, made at its first backend call, a client whose
 * sockets the ndx_loop watches directly, with one pool of kept-alive
 * connections per backend address ("host:port" or the Unix socket).
 * Answers are parsed by llhttp (Node.js's parser, as Debian's node-llhttp
 * ships it); no parser is written here.
 *
 * Why not h2o's client any more: h2o 2.2.5's socket pool takes a kept-alive
 * connection out of its loop when it is given back (epoll_ctl DEL) and, when
 * it is taken again, probes it (recv MSG_PEEK) and puts it back (fcntl,
 * epoll_ctl ADD): 4 to 5 system calls an exchange on top of the write and
 * the read (bench/README.md "Where the HTTP layers' extra microseconds
 * go"). Here an idle connection stays registered for reading, so a backend
 * that closes it is seen at once, and a call on it costs one sendmsg and
 * one read.
 *
 * What the hop keeps of the libcurl one (backend.c):
 * - The request: method, the backend's base path, the path after the
 *   service id and the query exactly as received (no normalisation), Host
 *   (the backend's host[:port]; "localhost" over a Unix socket), User-Agent
 *   and Accept as curl sent them, then the caller's header list with
 *   curl's meaning ("Name: value" sent, replacing a default of that name;
 *   "Name:" leaves that header out; "Name;" sends it empty), and the body
 *   with its Content-Length (also 0 for POST, PUT, PATCH).
 * - Timeouts: the connect timeout until the connection is made (then
 *   GW_XFER_CONNECT, as curl's connect timeout sorted), the service's
 *   timeout over the whole call (GW_XFER_TIMEOUT); both are loop timers of
 *   the call.
 * - Connection refused and every other failure before an answer:
 *   GW_XFER_CONNECT / GW_XFER_FAILED, with the reason in r->errbuf; an
 *   answer llhttp cannot parse (or whose head exceeds HEAD_MAX): "failed to
 *   parse the response", GW_XFER_FAILED; a body over r->cap: GW_XFER_TOOBIG,
 *   reading stops there. Redirects are answers (a client that does not
 *   follow them); HEAD has no body; 1xx answers are skipped.
 * - Answer headers go through gw_xfer_resp_header, as libcurl's do.
 * - A kept-alive connection the backend closed between calls: a request
 *   on a reused connection that fails before any byte of an answer is sent
 *   once more, on a connection the pool gives then (a new one if none is
 *   idle). The close is usually seen while the connection is idle (it is
 *   watched); the retry covers a close that races with the request.
 * - A connection goes back to the pool only after a whole answer that
 *   llhttp says may be followed by another, on which nothing more arrived,
 *   after the whole request was sent; any other ends closed. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <llhttp.h>

#include "backend_http1.h"
#include "gwloop.h"
#include "ndx/buf.h"
#include "ndx/err.h"
#include "ndx/httpd.h"
#include "ndx/loop.h"
#include "ndx/unixsock.h"

/* An idle kept-alive connection stays in the pool this long. */
#define IDLE_MS 30000
/* An answer's status line and headers may take this many bytes. */
#define HEAD_MAX (64u * 1024u)
/* Bytes read at once; an answer larger than this is read over more reads. */
#define READ_CHUNK (32u * 1024u)
/* Reads in one callback before the loop serves others again. */
#define READS_PER_TURN 8

struct breq;
struct gw_bh1;

struct pool {
	struct pool *next;
	struct gw_bh1 *b;
	char *key;  /* "unix:/SOCKET" or the URL's host[:port] */
	char *host; /* the Host header */
	struct sockaddr_storage addr;
	socklen_t addr_len;
	struct conn *idle_head, *idle_tail; /* most recently used first */
};

/* One connection, from connect(2) to close(2). */
struct conn {
	struct pool *p;
	struct breq *q; /* the call it serves; NULL while idle */
	int fd;
	unsigned watched;  /* the events the loop watches */
	bool connecting;   /* connect(2) not yet complete */
	int64_t idle_since;
	struct conn *prev, *next; /* the pool's idle list */
	llhttp_t parser;
	struct ndx_buf field, value; /* the header being read */
	size_t head_bytes;
};

struct gw_bh1 {
	struct ndx_loop *nl;
	bool stopped;
	struct pool *pools;
	struct breq *live;
	struct ndx_loop_timer sweep; /* closes connections idle for IDLE_MS */
};

/* One call, from gw_bh1_start to call->done. */
struct breq {
	struct gw_bh1 *b;
	struct gw_backend_call *call;
	struct gw_xfer_resp *r;
	struct pool *p;
	struct conn *c; /* NULL when on none */
	char *head;     /* the request line and headers */
	size_t head_len;
	size_t sent;    /* bytes of head and body written */
	bool has_body;
	bool is_head;
	bool reused;    /* the connection came from the pool's idle ones */
	bool retried;
	bool answered;  /* a byte of an answer arrived */
	bool complete;  /* the final answer parsed whole */
	enum gw_xfer_result fail; /* set by a parser callback that refuses */
	const char *fail_why;
	struct ndx_buf body;
	struct ndx_loop_timer t_all, t_conn;
	struct breq *prev, *next;
};

static llhttp_settings_t parser_settings;
static bool parser_settings_made;

/* ---- connections --------------------------------------------------------- */

static void on_conn_io(void *arg, int fd, unsigned events);

static void conn_close(struct conn *c)
{
	struct gw_bh1 *b = c->p->b;

	ndx_loop_unwatch(b->nl, c->fd);
	close(c->fd);
	ndx_buf_free(&c->field);
	ndx_buf_free(&c->value);
	free(c);
}

static void idle_unlink(struct conn *c)
{
	struct pool *p = c->p;

	if (c->prev)
		c->prev->next = c->next;
	else
		p->idle_head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		p->idle_tail = c->prev;
	c->prev = c->next = NULL;
}

/* The loop watches exactly events on c (one epoll_ctl only when that
 * changes). false when the loop cannot. */
static bool conn_watch(struct conn *c, unsigned events)
{
	if (c->watched == events)
		return true;
	if (ndx_loop_watch(c->p->b->nl, c->fd, events, on_conn_io, c) != NDX_OK)
		return false;
	c->watched = events;
	return true;
}

static void parser_reset(struct conn *c)
{
	llhttp_init(&c->parser, HTTP_RESPONSE, &parser_settings);
	c->parser.data = c;
	ndx_buf_reset(&c->field);
	ndx_buf_reset(&c->value);
	c->head_bytes = 0;
}

/* A new connection to p's address, its connect(2) started: NULL with
 * *err set to the errno that refused it. */
static struct conn *conn_open(struct pool *p, bool *in_progress, int *err)
{
	struct conn *c = calloc(1, sizeof *c);
	int one = 1;

	*in_progress = false;
	if (!c) {
		*err = ENOMEM;
		return NULL;
	}
	c->p = p;
	c->field = (struct ndx_buf)NDX_BUF_INIT(HEAD_MAX);
	c->value = (struct ndx_buf)NDX_BUF_INIT(HEAD_MAX);
	c->fd = socket(p->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		*err = errno;
		free(c);
		return NULL;
	}
	if (p->addr.ss_family != AF_UNIX)
		(void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(c->fd, (const struct sockaddr *)&p->addr, p->addr_len) != 0) {
		/* A Unix socket whose backlog is full says EAGAIN: a refusal,
		 * as curl takes it. */
		if (errno != EINPROGRESS) {
			*err = errno;
			close(c->fd);
			free(c);
			return NULL;
		}
		*in_progress = true;
	}
	parser_reset(c);
	return c;
}

/* The oldest idle connections past IDLE_MS are closed; the timer is armed
 * again for the next one to expire. */
static void on_sweep(void *arg)
{
	struct gw_bh1 *b = arg;
	int64_t now = ndx_loop_now_ms(), next = -1;

	for (struct pool *p = b->pools; p; p = p->next) {
		while (p->idle_tail && now - p->idle_tail->idle_since >= IDLE_MS) {
			struct conn *c = p->idle_tail;

			idle_unlink(c);
			conn_close(c);
		}
		if (p->idle_tail) {
			int64_t due = p->idle_tail->idle_since + IDLE_MS - now;

			if (next < 0 || due < next)
				next = due;
		}
	}
	if (next >= 0)
		ndx_loop_timer_arm(b->nl, &b->sweep, next);
}

/* c's call ended with a whole answer: kept for the next call when it may
 * be, else closed. */
static void conn_release(struct conn *c, bool reusable)
{
	struct pool *p = c->p;
	struct gw_bh1 *b = p->b;

	c->q = NULL;
	if (!reusable || b->stopped || !conn_watch(c, NDX_LOOP_READ)) {
		conn_close(c);
		return;
	}
	parser_reset(c);
	c->idle_since = ndx_loop_now_ms();
	c->prev = NULL;
	c->next = p->idle_head;
	if (p->idle_head)
		p->idle_head->prev = c;
	else
		p->idle_tail = c;
	p->idle_head = c;
	if (!b->sweep.armed)
		ndx_loop_timer_arm(b->nl, &b->sweep, IDLE_MS);
}

/* ---- one call ------------------------------------------------------------ */

/* Ends the call: q is freed before call->done, which may free call and r. */
static void finish(struct breq *q, enum gw_xfer_result res)
{
	struct gw_bh1 *b = q->b;
	struct gw_backend_call *call = q->call;
	struct gw_xfer_resp *r = q->r;

	ndx_loop_timer_disarm(b->nl, &q->t_all);
	ndx_loop_timer_disarm(b->nl, &q->t_conn);
	if (q->c) /* a call that ends with its connection on it: not reusable */
		conn_close(q->c);
	if (q->prev)
		q->prev->next = q->next;
	else
		b->live = q->next;
	if (q->next)
		q->next->prev = q->prev;
	if (res == GW_XFER_OK && q->body.len)
		r->body = ndx_buf_steal(&q->body, &r->len);
	ndx_buf_free(&q->body);
	free(q->head);
	free(q);
	call->done(call, res);
}

static void fail(struct breq *q, enum gw_xfer_result res, const char *why)
{
	if (why && !q->r->errbuf[0])
		snprintf(q->r->errbuf, sizeof q->r->errbuf, "%s", why);
	finish(q, res);
}

static void fail_errno(struct breq *q, enum gw_xfer_result res, const char *what, int err)
{
	if (!q->r->errbuf[0])
		snprintf(q->r->errbuf, sizeof q->r->errbuf, "%s: %s", what, strerror(err));
	finish(q, res);
}

static void on_all_due(void *arg)
{
	struct breq *q = arg;

	snprintf(q->r->errbuf, sizeof q->r->errbuf, "Operation timed out after %ld milliseconds",
		 q->call->svc->timeout_ms);
	finish(q, GW_XFER_TIMEOUT);
}

static void on_conn_due(void *arg)
{
	struct breq *q = arg;

	snprintf(q->r->errbuf, sizeof q->r->errbuf, "Connection timed out after %ld milliseconds",
		 q->call->connect_timeout_ms);
	/* Nothing was sent (curl's connect timeout sorted the same way). */
	finish(q, GW_XFER_CONNECT);
}

static void attach(struct breq *q);

/* The connection failed before a byte of an answer: a connection the pool
 * had kept is given up and the call goes once more, on whatever connection
 * the pool gives then. true when it went. */
static bool retry_stale(struct breq *q)
{
	if (!q->reused || q->retried || q->answered)
		return false;
	q->retried = true;
	conn_close(q->c);
	q->c = NULL;
	attach(q);
	return true;
}

/* Writes what is left of the request; the loop watches for writability
 * only while some is. */
static void send_more(struct breq *q)
{
	struct conn *c = q->c;
	const struct gw_backend_call *call = q->call;
	size_t total = q->head_len + (q->has_body ? call->body_len : 0);
	struct iovec iov[2];
	struct msghdr m = { .msg_iov = iov };
	ssize_t n;

	while (q->sent < total) {
		m.msg_iovlen = 0;
		if (q->sent < q->head_len)
			iov[m.msg_iovlen++] = (struct iovec){ q->head + q->sent, q->head_len - q->sent };
		if (q->has_body && call->body_len) {
			size_t off = q->sent > q->head_len ? q->sent - q->head_len : 0;

			iov[m.msg_iovlen++] =
				(struct iovec){ (void *)(call->body + off), call->body_len - off };
		}
		n = sendmsg(c->fd, &m, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n < 0) {
			int err = errno;

			if (!retry_stale(q))
				fail_errno(q, GW_XFER_FAILED, "cannot send the request", err);
			return;
		}
		q->sent += (size_t)n;
	}
	if (!conn_watch(c, q->sent < total ? NDX_LOOP_READ | NDX_LOOP_WRITE : NDX_LOOP_READ))
		fail(q, GW_XFER_FAILED, "cannot watch the backend connection");
}

/* The call on a connection that is ready to be written. */
static void start_sending(struct breq *q)
{
	q->sent = 0;
	ndx_loop_timer_disarm(q->b->nl, &q->t_conn);
	send_more(q);
}

/* Puts q on a connection: the pool's most recently used idle one, else a
 * new one. */
static void attach(struct breq *q)
{
	struct pool *p = q->p;
	struct conn *c = p->idle_head;
	bool in_progress;
	int err;

	if (c) {
		idle_unlink(c);
		c->q = q;
		q->c = c;
		q->reused = true;
		start_sending(q);
		return;
	}
	q->reused = false;
	if (!(c = conn_open(p, &in_progress, &err))) {
		fail_errno(q, GW_XFER_CONNECT, "cannot connect to the backend", err);
		return;
	}
	c->q = q;
	q->c = c;
	if (!in_progress) {
		start_sending(q);
		return;
	}
	c->connecting = true;
	/* Only a connect in progress needs the connect timeout: a kept
	 * connection, or one made at once, arms no timer. */
	if (q->call->connect_timeout_ms > 0)
		ndx_loop_timer_arm(q->b->nl, &q->t_conn, q->call->connect_timeout_ms);
	if (!conn_watch(c, NDX_LOOP_WRITE))
		fail(q, GW_XFER_CONNECT, "cannot watch the backend connection");
}

static void connected(struct breq *q)
{
	struct conn *c = q->c;
	int err = 0;
	socklen_t len = sizeof err;

	c->connecting = false;
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
		err = errno;
	if (err) {
		fail_errno(q, GW_XFER_CONNECT, "cannot connect to the backend", err);
		return;
	}
	start_sending(q);
}

/* ---- the answer (llhttp's callbacks) ------------------------------------ */

static struct breq *call_of(llhttp_t *parser)
{
	return ((struct conn *)parser->data)->q;
}

static int refuse(struct breq *q, enum gw_xfer_result res, const char *why)
{
	q->fail = res;
	q->fail_why = why;
	return -1;
}

static int on_message_begin(llhttp_t *parser)
{
	gw_xfer_resp_new_block(call_of(parser)->r);
	return 0;
}

static int head_part(llhttp_t *parser, struct ndx_buf *into, const char *at, size_t len)
{
	struct conn *c = parser->data;

	c->head_bytes += len;
	if (c->head_bytes > HEAD_MAX || ndx_buf_append(into, at, len) != NDX_OK)
		return refuse(c->q, GW_XFER_FAILED,
			      "failed to parse the response: its head exceeds 65536 bytes");
	return 0;
}

static int on_status(llhttp_t *parser, const char *at, size_t len)
{
	struct conn *c = parser->data;

	(void)at;
	c->head_bytes += len;
	return c->head_bytes > HEAD_MAX
		       ? refuse(c->q, GW_XFER_FAILED,
				"failed to parse the response: its head exceeds 65536 bytes")
		       : 0;
}

static int on_header_field(llhttp_t *parser, const char *at, size_t len)
{
	return head_part(parser, &((struct conn *)parser->data)->field, at, len);
}

static int on_header_value(llhttp_t *parser, const char *at, size_t len)
{
	return head_part(parser, &((struct conn *)parser->data)->value, at, len);
}

static int on_header_value_complete(llhttp_t *parser)
{
	struct conn *c = parser->data;
	struct breq *q = c->q;
	int rc = gw_xfer_resp_header(q->r, c->field.data ? c->field.data : "", c->field.len,
				     c->value.data ? c->value.data : "", c->value.len);

	ndx_buf_reset(&c->field);
	ndx_buf_reset(&c->value);
	if (rc != 0)
		return refuse(q, q->r->toobig ? GW_XFER_TOOBIG : GW_XFER_FAILED,
			      "the answer's headers cannot be passed on");
	return 0;
}

static int on_headers_complete(llhttp_t *parser)
{
	struct breq *q = call_of(parser);
	int status = llhttp_get_status_code(parser);

	if (status == 101)
		return refuse(q, GW_XFER_FAILED, "the backend switched protocols");
	if (status < 200)
		return 0; /* 1xx: no body; the final answer follows */
	q->r->status = status;
	return q->is_head ? 1 : 0; /* 1: no body follows (RFC 9112 6.3) */
}

static int on_body(llhttp_t *parser, const char *at, size_t len)
{
	struct breq *q = call_of(parser);
	struct gw_xfer_resp *r = q->r;

	if (r->cap && len > r->cap - q->body.len) {
		r->toobig = 1;
		return refuse(q, GW_XFER_TOOBIG, "the answer exceeds the cap");
	}
	if (ndx_buf_append(&q->body, at, len) != NDX_OK)
		return refuse(q, GW_XFER_FAILED, "out of memory");
	return 0;
}

static int on_message_complete(llhttp_t *parser)
{
	struct breq *q = call_of(parser);

	if (llhttp_get_status_code(parser) < 200)
		return 0;
	q->complete = true;
	/* Stop right after it: bytes behind the answer are not another one's. */
	return HPE_PAUSED;
}

static void make_parser_settings(void)
{
	if (parser_settings_made)
		return;
	llhttp_settings_init(&parser_settings);
	parser_settings.on_message_begin = on_message_begin;
	parser_settings.on_status = on_status;
	parser_settings.on_header_field = on_header_field;
	parser_settings.on_header_value = on_header_value;
	parser_settings.on_header_value_complete = on_header_value_complete;
	parser_settings.on_headers_complete = on_headers_complete;
	parser_settings.on_body = on_body;
	parser_settings.on_message_complete = on_message_complete;
	parser_settings_made = true;
}

/* After llhttp read a chunk (or the end of the stream): ends the call when
 * the answer is whole or cannot be. true when the call ended. */
static bool after_parse(struct breq *q, llhttp_errno_t e, const char *end)
{
	struct conn *c = q->c;

	if (q->fail) {
		fail(q, q->fail, q->fail_why);
		return true;
	}
	if (q->complete) {
		/* Nothing may follow the answer on a connection kept for the
		 * next call, and the request must have gone whole. */
		bool reusable = end && llhttp_get_error_pos(&c->parser) == end &&
				llhttp_should_keep_alive(&c->parser) &&
				q->sent == q->head_len + (q->has_body ? q->call->body_len : 0);

		q->c = NULL;
		conn_release(c, reusable);
		finish(q, GW_XFER_OK);
		return true;
	}
	if (e != HPE_OK) {
		char why[160];

		snprintf(why, sizeof why, "failed to parse the response: %s",
			 llhttp_get_error_reason(&c->parser) ? llhttp_get_error_reason(&c->parser)
							    : llhttp_errno_name(e));
		fail(q, GW_XFER_FAILED, why);
		return true;
	}
	return false;
}

/* Reads what the backend sent: true while the call goes on on this
 * connection; false when it ended or moved to another (q may be freed). */
static bool read_answer(struct breq *q)
{
	char buf[READ_CHUNK];

	for (int i = 0; i < READS_PER_TURN; i++) {
		ssize_t n = read(q->c->fd, buf, sizeof buf);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return true;
		if (n < 0) {
			int err = errno;

			if (!retry_stale(q))
				fail_errno(q, GW_XFER_FAILED, "cannot read the answer", err);
			return false;
		}
		if (n == 0) {
			/* The end of the stream: an answer that runs to it is whole
			 * now; one cut short is not. */
			if (retry_stale(q))
				return false;
			if (!after_parse(q, llhttp_finish(&q->c->parser), NULL))
				fail(q, GW_XFER_FAILED, "the backend closed the connection before "
							"the answer was complete");
			return false;
		}
		q->answered = true;
		if (after_parse(q, llhttp_execute(&q->c->parser, buf, (size_t)n), buf + n))
			return false;
		if ((size_t)n < sizeof buf)
			return true; /* the loop says when there is more */
	}
	return true;
}

static void on_conn_io(void *arg, int fd, unsigned events)
{
	struct conn *c = arg;
	struct breq *q = c->q;

	(void)fd;
	if (!q) {
		/* Idle: a close by the backend (or bytes nobody asked for, or an
		 * error) ends the connection before a call could take it. */
		char b;
		ssize_t n = recv(c->fd, &b, 1, MSG_DONTWAIT);

		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return;
		idle_unlink(c);
		conn_close(c);
		return;
	}
	if (c->connecting) {
		if (events & (NDX_LOOP_WRITE | NDX_LOOP_ERROR))
			connected(q);
		return;
	}
	/* Read first: a backend may answer (a refusal) before it has read
	 * the whole request, and the answer then ends the call. */
	if ((events & NDX_LOOP_READ) && !read_answer(q))
		return;
	if (events & NDX_LOOP_WRITE)
		send_more(q);
}

/* ---- the request --------------------------------------------------------- */

/* Defaults that a header of the caller's list of the same name replaces or,
 * as "Name:", removes (curl's meaning of the list). */
enum { D_HOST, D_UA, D_ACCEPT, D_COUNT };
static const char *const default_names[D_COUNT] = { "Host", "User-Agent", "Accept" };

static bool name_is(const char *line, size_t nl, const char *name)
{
	return strlen(name) == nl && strncasecmp(line, name, nl) == 0;
}

/* The request line and headers into q->head. NDX_OK / NDX_ENOMEM. */
static int build_head(struct breq *q, const char *base_path)
{
	const struct gw_backend_call *call = q->call;
	const char *defaults[D_COUNT] = { q->p->host, GW_PROG, "*/*" };
	struct ndx_buf h;
	bool body = call->body_len > 0 || strcmp(call->method, "POST") == 0 ||
		    strcmp(call->method, "PUT") == 0 || strcmp(call->method, "PATCH") == 0;
	int rc = NDX_OK;

	if (strcmp(call->method, "HEAD") == 0)
		body = false;
	ndx_buf_init(&h, NDX_BUF_NO_CAP);
	rc |= ndx_buf_append(&h, call->method, strlen(call->method));
	rc |= ndx_buf_append(&h, " ", 1);
	if (!base_path[0] && !call->path[0])
		rc |= ndx_buf_append(&h, "/", 1);
	rc |= ndx_buf_append(&h, base_path, strlen(base_path));
	rc |= ndx_buf_append(&h, call->path, strlen(call->path));
	if (call->query[0]) {
		rc |= ndx_buf_append(&h, "?", 1);
		rc |= ndx_buf_append(&h, call->query, strlen(call->query));
	}
	rc |= ndx_buf_append(&h, " HTTP/1.1\r\n", 11);
	for (const struct curl_slist *s = call->headers; s; s = s->next) {
		const char *sep = strpbrk(s->data, ":;");

		if (!sep)
			continue;
		for (int i = 0; i < D_COUNT; i++)
			if (name_is(s->data, (size_t)(sep - s->data), default_names[i]))
				defaults[i] = NULL;
	}
	for (int i = 0; i < D_COUNT; i++) {
		if (!defaults[i])
			continue;
		rc |= ndx_buf_append(&h, default_names[i], strlen(default_names[i]));
		rc |= ndx_buf_append(&h, ": ", 2);
		rc |= ndx_buf_append(&h, defaults[i], strlen(defaults[i]));
		rc |= ndx_buf_append(&h, "\r\n", 2);
	}
	for (const struct curl_slist *s = call->headers; s; s = s->next) {
		const char *sep = strpbrk(s->data, ":;");
		size_t nl;
		const char *v;

		if (!sep)
			continue;
		nl = (size_t)(sep - s->data);
		v = sep + 1;
		while (*v == ' ')
			v++;
		if (*sep == ':' && !*v)
			continue; /* "Name:": left out */
		if (*sep == ';' && *v)
			continue; /* not a header line curl would send either */
		if (name_is(s->data, nl, "Content-Length") ||
		    name_is(s->data, nl, "Transfer-Encoding"))
			continue; /* the body's own, below */
		rc |= ndx_buf_append(&h, s->data, nl);
		rc |= ndx_buf_append(&h, ": ", 2);
		rc |= ndx_buf_append(&h, v, strlen(v));
		rc |= ndx_buf_append(&h, "\r\n", 2);
	}
	if (body) {
		char cl[48];
		int n = snprintf(cl, sizeof cl, "Content-Length: %zu\r\n", call->body_len);

		rc |= ndx_buf_append(&h, cl, (size_t)n);
	}
	rc |= ndx_buf_append(&h, "\r\n", 2);
	if (rc != NDX_OK) {
		ndx_buf_free(&h);
		return NDX_ENOMEM;
	}
	q->head = ndx_buf_steal(&h, &q->head_len);
	q->has_body = body;
	return q->head ? NDX_OK : NDX_ENOMEM;
}

/* The pool of the backend's address, made at its first call; *base_path
 * points into call's backend. NULL with r->errbuf set. */
static struct pool *pool_for(struct gw_bh1 *b, const char *backend, const char **base_path,
			     struct gw_xfer_resp *r)
{
	char sock[NDX_UNIX_PATH_MAX + 1], key[NDX_UNIX_PATH_MAX + 8];
	const char *auth, *slash;
	struct pool *p;
	size_t al;

	if (strncmp(backend, "unix:", 5) == 0) {
		if (ndx_unix_url_split(backend, sock, base_path) != NDX_OK) {
			snprintf(r->errbuf, sizeof r->errbuf, "bad unix: backend");
			return NULL;
		}
		snprintf(key, sizeof key, "unix:%s", sock);
	} else {
		auth = backend + 7; /* "http://", checked by the caller */
		slash = strchr(auth, '/');
		al = slash ? (size_t)(slash - auth) : strlen(auth);
		*base_path = auth + al;
		if (al == 0 || al >= sizeof key) {
			snprintf(r->errbuf, sizeof r->errbuf, "bad backend URL");
			return NULL;
		}
		memcpy(key, auth, al);
		key[al] = '\0';
	}
	for (p = b->pools; p; p = p->next)
		if (strcmp(p->key, key) == 0)
			return p;
	if (!(p = calloc(1, sizeof *p)) || !(p->key = strdup(key))) {
		free(p);
		snprintf(r->errbuf, sizeof r->errbuf, "out of memory");
		return NULL;
	}
	p->b = b;
	if (strncmp(key, "unix:", 5) == 0) {
		struct sockaddr_un *sun = (struct sockaddr_un *)&p->addr;

		sun->sun_family = AF_UNIX;
		memcpy(sun->sun_path, sock, strlen(sock) + 1);
		p->addr_len = sizeof *sun;
		p->host = strdup("localhost");
	} else if (gw_xfer_authority_addr(key, 80, &p->addr, &p->addr_len, NULL, 0)) {
		p->host = strdup(key);
	} else {
		/* A name (gw_bh1_serves keeps them on libcurl), or no port. */
		free(p->key);
		free(p);
		snprintf(r->errbuf, sizeof r->errbuf, "backend not named by an address");
		return NULL;
	}
	if (!p->host) {
		free(p->key);
		free(p);
		snprintf(r->errbuf, sizeof r->errbuf, "out of memory");
		return NULL;
	}
	p->next = b->pools;
	b->pools = p;
	return p;
}

bool gw_bh1_serves(const char *backend)
{
	if (strncmp(backend, "unix:", 5) == 0)
		return true;
	if (strncmp(backend, "http://", 7) != 0)
		return false;
	return gw_xfer_host_is_ip(backend + 7);
}

/* ---- the loop's client --------------------------------------------------- */

static void close_idle(struct gw_bh1 *b)
{
	for (struct pool *p = b->pools; p; p = p->next)
		while (p->idle_head) {
			struct conn *c = p->idle_head;

			idle_unlink(c);
			conn_close(c);
		}
	ndx_loop_timer_disarm(b->nl, &b->sweep);
}

void gw_bh1_free(struct gw_bh1 *b)
{
	if (!b)
		return;
	/* Nothing is left once gw_bh1_stop ran; without it, the loop's
	 * thread is gone and the connections only need closing. */
	close_idle(b);
	while (b->pools) {
		struct pool *p = b->pools;

		b->pools = p->next;
		free(p->key);
		free(p->host);
		free(p);
	}
	free(b);
}

static struct gw_bh1 *client_of(struct gw_loop *l)
{
	struct gw_bh1 **slot = gw_loop_bh1(l), *b;

	if (*slot)
		return *slot;
	if (!(b = calloc(1, sizeof *b)))
		return NULL;
	make_parser_settings();
	b->nl = gw_loop_event_loop(l);
	b->sweep = (struct ndx_loop_timer){ .fn = on_sweep, .arg = b };
	*slot = b;
	return b;
}

void gw_bh1_stop(struct gw_bh1 *b)
{
	if (!b)
		return;
	b->stopped = true;
	while (b->live) {
		struct breq *q = b->live;

		snprintf(q->r->errbuf, sizeof q->r->errbuf, "the gateway is stopping");
		finish(q, GW_XFER_FAILED);
	}
	close_idle(b);
}

void gw_bh1_start(struct gw_loop *l, struct gw_backend_call *call, struct gw_xfer_resp *r)
{
	struct gw_bh1 *b;
	struct breq *q;
	const char *base_path = "";

	r->errbuf[0] = '\0';
	r->status = 0;
	r->toobig = 0;
	r->aborted = 0;
	r->cap = call->max_body;
	free(r->body);
	r->body = NULL;
	r->len = 0;
	if (gw_loop_stopping(l)) {
		snprintf(r->errbuf, sizeof r->errbuf, "the gateway is stopping");
		call->done(call, GW_XFER_FAILED);
		return;
	}
	if (!(b = client_of(l)) || !(q = calloc(1, sizeof *q))) {
		snprintf(r->errbuf, sizeof r->errbuf, "cannot start the backend client");
		call->done(call, GW_XFER_FAILED);
		return;
	}
	q->b = b;
	q->call = call;
	q->r = r;
	q->is_head = strcmp(call->method, "HEAD") == 0;
	q->body = (struct ndx_buf)NDX_BUF_INIT(NDX_BUF_NO_CAP);
	if (!(q->p = pool_for(b, call->svc->backend, &base_path, r)) ||
	    build_head(q, base_path) != NDX_OK) {
		if (!r->errbuf[0])
			snprintf(r->errbuf, sizeof r->errbuf, "out of memory");
		free(q->head);
		free(q);
		call->done(call, GW_XFER_FAILED);
		return;
	}
	q->t_all = (struct ndx_loop_timer){ .fn = on_all_due, .arg = q };
	q->t_conn = (struct ndx_loop_timer){ .fn = on_conn_due, .arg = q };
	q->next = b->live;
	if (b->live)
		b->live->prev = q;
	b->live = q;
	if (call->svc->timeout_ms > 0)
		ndx_loop_timer_arm(b->nl, &q->t_all, call->svc->timeout_ms);
	attach(q);
}
