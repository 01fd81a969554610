/* The backend hop on h2o 2.2.5's HTTP/1.1 client (backend_h2o.h): each
 * exchange loop has, made at its first backend call, an h2o evloop of its
 * own run inside the ndx_loop the way httpd_h2o.c runs the HTTP ports
 * (h2o's epoll descriptor watched; a loop timer for h2o's pending work and
 * timeouts), an h2o_http1client context, and one h2o socket pool per
 * backend address ("host:port" or the Unix socket), which keeps the
 * connections alive between calls. Why not libcurl: bench/README.md "The
 * backend hop on h2o".
 *
 * What the hop keeps of the libcurl one (backend.c):
 * - The request: method, the backend's base path, the path after the
 *   service id and the query exactly as received (no normalisation), Host
 *   (the backend's host[:port]; "localhost" over a Unix socket), User-Agent
 *   and Accept as curl sent them, then the caller's header list with
 *   curl's meaning ("Name: value" sent, replacing a default of that name;
 *   "Name:" leaves that header out; "Name;" sends it empty), and the body
 *   with its Content-Length (also 0 for POST, PUT, PATCH). h2o parses the
 *   answer (picohttpparser); no parser here.
 * - Timeouts: the connect timeout until the connection is made (then
 *   GW_XFER_CONNECT, as curl's connect timeout sorted), the service's
 *   timeout over the whole call (GW_XFER_TIMEOUT); both are loop timers of
 *   the call, h2o's own I/O timeout is only a backstop.
 * - Connection refused and every other failure before an answer:
 *   GW_XFER_CONNECT / GW_XFER_FAILED, with h2o's message in r->errbuf; an
 *   answer that h2o cannot parse: GW_XFER_FAILED; a body over r->cap:
 *   GW_XFER_TOOBIG. Redirects are answers (a client that does not follow
 *   them); HEAD has no body (h2o told the method).
 * - Answer headers go through gw_xfer_resp_header, as libcurl's do.
 * - A kept-alive connection the backend closed between calls: a request
 *   on a reused connection that fails before any byte of an answer is sent
 *   once more, on a connection the pool gives then (a new one if none is
 *   idle). h2o's pool checks an idle connection (recv MSG_PEEK) before it
 *   hands it out; the retry covers a close that races with that check. A
 *   connection is known reused because h2o's pool hands an idle one out
 *   inside h2o_http1client_connect_with_pool (a new one connects later). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "h2o.h"
#include "h2o/http1client.h"

#include "backend_h2o.h"
#include "gwloop.h"
#include "ndx/buf.h"
#include "ndx/err.h"
#include "ndx/httpd.h"
#include "ndx/loop.h"
#include "ndx/unixsock.h"

/* An idle kept-alive connection stays in the pool this long. */
#define IDLE_MS 30000
/* h2o's per-read timeout, a backstop behind the call's own timers. */
#define IO_BACKSTOP_MS (24u * 3600u * 1000u)
/* Connections one pool hands out (h2o 2.2.5 does not enforce it). */
#define POOL_CAPACITY 1024

struct pool {
	struct pool *next;
	char *key;       /* "unix:/SOCKET" or the URL's host[:port] */
	char *host;      /* the Host header */
	h2o_socketpool_t sp;
};

struct breq;

struct gw_bh2o {
	struct ndx_loop *nl;
	h2o_evloop_t *h2;
	int ep;
	bool watched, stopped;
	struct ndx_loop_timer run_timer;
	h2o_multithread_queue_t *queue;
	h2o_multithread_receiver_t getaddr;
	bool receiver;
	h2o_timeout_t io_timeout;
	bool io_timeout_made;
	h2o_http1client_ctx_t ctx;
	struct pool *pools;
	struct breq *live;
};

/* One call, from gw_bh2o_start to call->done. */
struct breq {
	struct gw_bh2o *b;
	struct gw_backend_call *call;
	struct gw_xfer_resp *r;
	struct pool *p;
	h2o_http1client_t *client; /* NULL when h2o holds nothing of the call */
	char *head;                /* the request line and headers */
	h2o_iovec_t bufs[2];
	bool connecting; /* inside h2o_http1client_connect_with_pool */
	bool reused;     /* the connection came from the pool's idle ones */
	bool retried;
	enum gw_xfer_result end; /* for t_end */
	struct ndx_loop_timer t_all, t_conn, t_end;
	struct breq *prev, *next;
};

/* ---- h2o's loop inside the ndx_loop (as httpd_h2o.c) --------------------- */

static int64_t wall_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static void rearm(struct gw_bh2o *b)
{
	h2o_evloop_t *l = b->h2;
	uint64_t wake;
	int64_t ms;

	if (l->_pending_as_client || l->_pending_as_server || l->_statechanged.head) {
		ndx_loop_timer_arm(b->nl, &b->run_timer, 0);
		return;
	}
	wake = h2o_timeout_get_wake_at(&l->_timeouts);
	if (wake == UINT64_MAX) {
		ndx_loop_timer_disarm(b->nl, &b->run_timer);
		return;
	}
	ms = (int64_t)wake - wall_ms();
	ndx_loop_timer_arm(b->nl, &b->run_timer, ms > 0 ? ms : 0);
}

static void run_h2o(void *arg)
{
	struct gw_bh2o *b = arg;

	h2o_evloop_run(b->h2, 0);
	rearm(b);
}

static void on_h2o_ready(void *arg, int fd, unsigned events)
{
	(void)fd;
	(void)events;
	run_h2o(arg);
}

/* ---- one call ------------------------------------------------------------ */

/* Ends the call: q is freed before call->done, which may free call and r. */
static void finish(struct breq *q, enum gw_xfer_result res)
{
	struct gw_bh2o *b = q->b;
	struct gw_backend_call *call = q->call;

	ndx_loop_timer_disarm(b->nl, &q->t_all);
	ndx_loop_timer_disarm(b->nl, &q->t_conn);
	ndx_loop_timer_disarm(b->nl, &q->t_end);
	if (q->prev)
		q->prev->next = q->next;
	else
		b->live = q->next;
	if (q->next)
		q->next->prev = q->prev;
	free(q->head);
	free(q);
	call->done(call, res);
}

/* Ends the call from inside h2o: h2o closes the client when the callback
 * returns. */
static void finish_in_h2o(struct breq *q, enum gw_xfer_result res, const char *why)
{
	q->client = NULL;
	if (why && !q->r->errbuf[0])
		snprintf(q->r->errbuf, sizeof q->r->errbuf, "%s", why);
	if (q->connecting) {
		/* h2o_http1client_connect_with_pool has not returned: end on the
		 * next turn, not under its feet. */
		q->end = res;
		ndx_loop_timer_arm(q->b->nl, &q->t_end, 0);
		return;
	}
	finish(q, res);
}

static void on_end_due(void *arg)
{
	struct breq *q = arg;

	finish(q, q->end);
}

static void cancel_client(struct breq *q)
{
	if (q->client) {
		h2o_http1client_cancel(q->client);
		q->client = NULL;
		rearm(q->b);
	}
}

static void on_all_due(void *arg)
{
	struct breq *q = arg;

	cancel_client(q);
	snprintf(q->r->errbuf, sizeof q->r->errbuf, "Operation timed out after %ld milliseconds",
		 q->call->svc->timeout_ms);
	finish(q, GW_XFER_TIMEOUT);
}

static void on_conn_due(void *arg)
{
	struct breq *q = arg;

	cancel_client(q);
	snprintf(q->r->errbuf, sizeof q->r->errbuf, "Connection timed out after %ld milliseconds",
		 q->call->connect_timeout_ms);
	/* Nothing was sent (curl's connect timeout sorted the same way). */
	finish(q, GW_XFER_CONNECT);
}

static void connect_now(struct breq *q);

static int on_body(h2o_http1client_t *client, const char *err)
{
	struct breq *q = client->data;
	struct gw_xfer_resp *r = q->r;
	h2o_buffer_t *in = client->sock->input;

	if (err != NULL && err != h2o_http1client_error_is_eos) {
		finish_in_h2o(q, GW_XFER_FAILED, err);
		return -1;
	}
	/* The body gathers in the socket's input buffer (h2o has taken the
	 * head off it, and decoded chunks in place). */
	if (r->cap && in->size > r->cap) {
		r->toobig = 1;
		finish_in_h2o(q, GW_XFER_TOOBIG, "the answer exceeds the cap");
		return -1;
	}
	if (err == NULL)
		return 0;
	if (in->size) {
		if (!(r->body = malloc(in->size + 1))) {
			finish_in_h2o(q, GW_XFER_FAILED, "out of memory");
			return -1;
		}
		memcpy(r->body, in->bytes, in->size);
		r->body[in->size] = '\0';
		r->len = in->size;
	}
	finish_in_h2o(q, GW_XFER_OK, NULL);
	return 0;
}

static h2o_http1client_body_cb on_head(h2o_http1client_t *client, const char *err, int minor,
				       int status, h2o_iovec_t msg, h2o_header_t *headers,
				       size_t num_headers, int rlen)
{
	struct breq *q = client->data;
	struct gw_xfer_resp *r = q->r;

	(void)minor;
	(void)msg;
	(void)rlen;
	if (err != NULL && err != h2o_http1client_error_is_eos) {
		/* Nothing of an answer arrived on a connection the pool had kept:
		 * the backend closed it in the meantime; once more. */
		if (q->reused && !q->retried && client->sock && client->sock->input->size == 0) {
			q->retried = true;
			q->client = NULL;
			if (q->call->connect_timeout_ms > 0)
				ndx_loop_timer_arm(q->b->nl, &q->t_conn, q->call->connect_timeout_ms);
			connect_now(q);
			return NULL;
		}
		finish_in_h2o(q, GW_XFER_FAILED, err);
		return NULL;
	}
	gw_xfer_resp_new_block(r);
	r->status = status;
	for (size_t i = 0; i < num_headers; i++) {
		const char *name = headers[i].orig_name ? headers[i].orig_name : headers[i].name->base;

		if (gw_xfer_resp_header(r, name, headers[i].name->len, headers[i].value.base,
					headers[i].value.len) != 0) {
			finish_in_h2o(q, r->toobig ? GW_XFER_TOOBIG : GW_XFER_FAILED,
				      "the answer's headers cannot be passed on");
			return NULL;
		}
	}
	if (err == h2o_http1client_error_is_eos) {
		finish_in_h2o(q, GW_XFER_OK, NULL);
		return NULL;
	}
	return on_body;
}

static h2o_http1client_head_cb on_connect(h2o_http1client_t *client, const char *err,
					  h2o_iovec_t **reqbufs, size_t *reqbufcnt, int *is_head)
{
	struct breq *q = client->data;

	if (err != NULL) {
		finish_in_h2o(q, GW_XFER_CONNECT, err);
		return NULL;
	}
	q->reused = q->connecting;
	ndx_loop_timer_disarm(q->b->nl, &q->t_conn);
	*reqbufs = q->bufs;
	*reqbufcnt = q->bufs[1].len ? 2 : 1;
	*is_head = strcmp(q->call->method, "HEAD") == 0;
	return on_head;
}

static void connect_now(struct breq *q)
{
	q->connecting = true;
	q->reused = false;
	h2o_http1client_connect_with_pool(&q->client, q, &q->b->ctx, &q->p->sp, on_connect);
	q->connecting = false;
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
	q->bufs[0].base = q->head = ndx_buf_steal(&h, &q->bufs[0].len);
	if (body && call->body_len)
		q->bufs[1] = h2o_iovec_init(call->body, call->body_len);
	return q->head ? NDX_OK : NDX_ENOMEM;
}

/* The pool of the backend's address, made at its first call; *base_path
 * points into call's backend. NULL with r->errbuf set. */
static struct pool *pool_for(struct gw_bh2o *b, const char *backend, const char **base_path,
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
	if (key[0] == 'u' && strncmp(key, "unix:", 5) == 0) {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };

		memcpy(sun.sun_path, sock, strlen(sock) + 1);
		p->host = strdup("localhost");
		h2o_socketpool_init_by_address(&p->sp, (struct sockaddr *)&sun, sizeof sun, 0,
					       POOL_CAPACITY);
	} else {
		h2o_url_t u;
		char url[sizeof key + 8];
		struct sockaddr_in sin = { .sin_family = AF_INET };
		struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };
		char host[sizeof key];

		snprintf(url, sizeof url, "http://%s/", key);
		if (h2o_url_parse(url, SIZE_MAX, &u) != 0 || u.host.len == 0 ||
		    u.host.len >= sizeof host) {
			free(p->key);
			free(p);
			snprintf(r->errbuf, sizeof r->errbuf, "bad backend URL");
			return NULL;
		}
		memcpy(host, u.host.base, u.host.len);
		host[u.host.len] = '\0';
		p->host = strdup(key);
		if (host[0] == '[' && u.host.len > 2 && host[u.host.len - 1] == ']') {
			memmove(host, host + 1, u.host.len - 2);
			host[u.host.len - 2] = '\0';
		}
		if (inet_pton(AF_INET, host, &sin.sin_addr) == 1) {
			sin.sin_port = htons(h2o_url_get_port(&u));
			h2o_socketpool_init_by_address(&p->sp, (struct sockaddr *)&sin, sizeof sin, 0,
						       POOL_CAPACITY);
		} else if (inet_pton(AF_INET6, host, &sin6.sin6_addr) == 1) {
			sin6.sin6_port = htons(h2o_url_get_port(&u));
			h2o_socketpool_init_by_address(&p->sp, (struct sockaddr *)&sin6, sizeof sin6,
						       0, POOL_CAPACITY);
		} else {
			/* A name (gw_bh2o_serves keeps them on libcurl). */
			free(p->host);
			free(p->key);
			free(p);
			snprintf(r->errbuf, sizeof r->errbuf, "backend not named by an address");
			return NULL;
		}
	}
	h2o_socketpool_set_timeout(&p->sp, b->h2, IDLE_MS);
	if (!p->host) {
		h2o_socketpool_dispose(&p->sp);
		free(p->key);
		free(p);
		snprintf(r->errbuf, sizeof r->errbuf, "out of memory");
		return NULL;
	}
	p->next = b->pools;
	b->pools = p;
	return p;
}

bool gw_bh2o_serves(const char *backend)
{
	if (strncmp(backend, "unix:", 5) == 0)
		return true;
	if (strncmp(backend, "http://", 7) != 0)
		return false;
	return gw_xfer_host_is_ip(backend + 7);
}

/* ---- the loop's client --------------------------------------------------- */

/* h2o's socket buffers go back to a free list of the thread that made
 * them (h2o_socket_buffer_prototype is thread-local in 2.2.5): so h2o is
 * taken down on the loop's own thread (gw_bh2o_stop), never after it. */
static void teardown(struct gw_bh2o *b)
{
	if (b->watched)
		ndx_loop_unwatch(b->nl, b->ep);
	ndx_loop_timer_disarm(b->nl, &b->run_timer);
	while (b->pools) {
		struct pool *p = b->pools;

		b->pools = p->next;
		h2o_socketpool_dispose(&p->sp);
		free(p->key);
		free(p->host);
		free(p);
	}
	if (b->io_timeout_made)
		h2o_timeout_dispose(b->h2, &b->io_timeout);
	if (b->receiver)
		h2o_multithread_unregister_receiver(b->queue, &b->getaddr);
	if (b->queue) {
		h2o_multithread_destroy_queue(b->queue);
		/* h2o 2.2.5's evloop build closes the queue's pipe but does not
		 * free the queue (httpd_h2o.c says the same). */
		free(b->queue);
	}
	if (b->h2) {
		h2o_evloop_run(b->h2, 0);
		h2o_evloop_destroy(b->h2);
		if (b->ep >= 0)
			close(b->ep);
		b->h2 = NULL;
	}
	b->watched = false;
	b->receiver = false;
	b->io_timeout_made = false;
	b->queue = NULL;
}

void gw_bh2o_free(struct gw_bh2o *b)
{
	if (!b)
		return;
	teardown(b); /* nothing left if gw_bh2o_stop ran */
	free(b);
}

static struct gw_bh2o *client_of(struct gw_loop *l)
{
	struct gw_bh2o **slot = gw_loop_bh2o(l), *b;

	if (*slot)
		return *slot;
	if (!(b = calloc(1, sizeof *b)))
		return NULL;
	b->nl = gw_loop_event_loop(l);
	b->ep = -1;
	b->run_timer = (struct ndx_loop_timer){ .fn = run_h2o, .arg = b };
	b->h2 = h2o_evloop_create();
	if (!b->h2 || (b->ep = ndx_h2o_evloop_fd(b->h2)) < 0) {
		if (b->ep < 0 && b->h2) {
			h2o_evloop_destroy(b->h2);
			b->h2 = NULL;
		}
		fprintf(stderr, GW_PROG ": this h2o build keeps its event loop where ndx cannot "
				"find it\n");
		gw_bh2o_free(b);
		return NULL;
	}
	b->queue = h2o_multithread_create_queue(b->h2);
	h2o_multithread_register_receiver(b->queue, &b->getaddr, h2o_hostinfo_getaddr_receiver);
	b->receiver = true;
	h2o_timeout_init(b->h2, &b->io_timeout, IO_BACKSTOP_MS);
	b->io_timeout_made = true;
	b->ctx = (h2o_http1client_ctx_t){
		.loop = b->h2,
		.getaddr_receiver = &b->getaddr,
		.io_timeout = &b->io_timeout,
	};
	if (ndx_loop_watch(b->nl, b->ep, NDX_LOOP_READ, on_h2o_ready, b) != NDX_OK) {
		gw_bh2o_free(b);
		return NULL;
	}
	b->watched = true;
	*slot = b;
	return b;
}

void gw_bh2o_stop(struct gw_bh2o *b)
{
	if (!b)
		return;
	b->stopped = true;
	while (b->live) {
		struct breq *q = b->live;

		cancel_client(q);
		snprintf(q->r->errbuf, sizeof q->r->errbuf, "the gateway is stopping");
		finish(q, GW_XFER_FAILED);
	}
	teardown(b);
}

void gw_bh2o_start(struct gw_loop *l, struct gw_backend_call *call, struct gw_xfer_resp *r)
{
	struct gw_bh2o *b;
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
	q->t_end = (struct ndx_loop_timer){ .fn = on_end_due, .arg = q };
	q->next = b->live;
	if (b->live)
		b->live->prev = q;
	b->live = q;
	if (call->svc->timeout_ms > 0)
		ndx_loop_timer_arm(b->nl, &q->t_all, call->svc->timeout_ms);
	if (call->connect_timeout_ms > 0)
		ndx_loop_timer_arm(b->nl, &q->t_conn, call->connect_timeout_ms);
	connect_now(q);
	rearm(b);
}
