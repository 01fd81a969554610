/* spike_h2o: a bare two-hop proxy on libh2o-evloop (Debian's h2o 2.2.5: its
 * own event loop, its HTTP/1 and HTTP/2 server, its HTTP/1 client over a
 * socket pool), one loop per thread, to measure the floor of that HTTP layer
 * (issue 16; the numbers and what they mean: bench/README.md, "The HTTP
 * layer: spike"). A benchmark, not a gateway: no signing, no log, no checks
 * beyond TLS.
 *
 * One process plays either role of a gateway pair:
 *   --role consumer  plain HTTP in, mutual-TLS HTTP/1.1 out (client
 *                    certificate; server chain verified against --ca and its
 *                    name against --server-name);
 *   --role provider  TLS in with a client certificate of --ca required
 *                    (OpenSSL verifies it in the handshake), HTTP/1.1 or
 *                    HTTP/2 by ALPN; plain HTTP/1.1 out.
 * Each thread has its own h2o context and loop, its own listening socket on
 * the shared port (SO_REUSEPORT) and its own pool of kept-alive upstream
 * connections. h2o 2.2's client speaks HTTP/1.1 only (h2o_httpclient with
 * HTTP/2 came in 2.3, not in Debian), and takes the request as raw bytes the
 * way h2o's own proxy handler builds them.
 *
 * Forwards the method and path (with query), and back the status,
 * Content-Type and body; a request body is not forwarded (the bench sends
 * GETs). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "h2o.h"
#include "h2o/http1client.h"
#include "h2o/http2.h"

#define BODY_MAX (1u << 20) /* an upstream answer bigger than this is a 502 */

struct opts {
	int provider;
	struct sockaddr_in listen;
	struct sockaddr_in upstream;
	int upstream_tls;
	const char *server_name; /* SNI and name checked on the upstream's certificate */
	const char *cert, *key, *ca;
	int threads;
};

static struct opts o;
static h2o_globalconf_t config;
static SSL_CTX *server_ssl, *client_ssl;

/* One loop: its h2o context first, so a request's ctx finds its thread. */
struct thread {
	h2o_context_t ctx;
	h2o_accept_ctx_t accept;
	h2o_socketpool_t pool;
	h2o_timeout_t io_timeout;
	h2o_http1client_ctx_t client;
};

/* One exchange, in the request's memory pool; disposed with the request. */
struct exch {
	h2o_req_t *req;
	h2o_http1client_t *client;
	h2o_iovec_t reqbuf;
	h2o_iovec_t ctype;
	int status;
};

static void answer(struct exch *x, int status, h2o_iovec_t ctype, const char *body, size_t len)
{
	h2o_req_t *req = x->req;

	req->res.status = status;
	req->res.reason = status == 200 ? "OK" : "Other";
	if (ctype.len)
		h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, ctype.base,
			       ctype.len);
	req->res.content_length = len; /* or h2o sends HTTP/1.1 chunked */
	h2o_send_inline(req, body, len);
}

static void bad_gateway(struct exch *x)
{
	answer(x, 502, h2o_iovec_init(H2O_STRLIT("text/plain")), H2O_STRLIT("bad gateway\n"));
}

static int on_body(h2o_http1client_t *client, const char *err)
{
	struct exch *x = client->data;

	if (err == NULL) {
		if (client->sock->input->size > BODY_MAX) {
			x->client = NULL;
			bad_gateway(x);
			return -1;
		}
		return 0; /* the body gathers in the socket's input buffer */
	}
	x->client = NULL; /* h2o closes or pools the connection after we return */
	if (err != h2o_http1client_error_is_eos) {
		bad_gateway(x);
		return -1;
	}
	h2o_iovec_t body = h2o_strdup(&x->req->pool, client->sock->input->bytes,
				      client->sock->input->size);
	answer(x, x->status, x->ctype, body.base, body.len);
	return 0;
}

static h2o_http1client_body_cb on_head(h2o_http1client_t *client, const char *err, int minor,
				       int status, h2o_iovec_t msg, h2o_header_t *headers,
				       size_t num_headers, int rlen)
{
	struct exch *x = client->data;

	(void)minor;
	(void)msg;
	(void)rlen;
	if (err != NULL && err != h2o_http1client_error_is_eos) {
		x->client = NULL;
		bad_gateway(x);
		return NULL;
	}
	x->status = status;
	for (size_t i = 0; i < num_headers; i++)
		if (headers[i].name == &H2O_TOKEN_CONTENT_TYPE->buf)
			x->ctype = h2o_strdup(&x->req->pool, headers[i].value.base,
					      headers[i].value.len);
	if (err == h2o_http1client_error_is_eos) {
		x->client = NULL;
		answer(x, status, x->ctype, "", 0);
		return NULL;
	}
	return on_body;
}

static h2o_http1client_head_cb on_connect(h2o_http1client_t *client, const char *err,
					  h2o_iovec_t **reqbufs, size_t *reqbufcnt, int *is_head)
{
	struct exch *x = client->data;

	if (err != NULL) {
		x->client = NULL;
		bad_gateway(x);
		return NULL;
	}
	*reqbufs = &x->reqbuf;
	*reqbufcnt = 1;
	*is_head = h2o_memis(x->req->method.base, x->req->method.len, H2O_STRLIT("HEAD"));
	return on_head;
}

/* The request goes away before the upstream answered (client closed). */
static void on_dispose(void *p)
{
	struct exch *x = p;

	if (x->client)
		h2o_http1client_cancel(x->client);
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
	struct thread *t = (struct thread *)req->conn->ctx;
	struct exch *x;
	h2o_iovec_t host = t->pool.peer.host;

	(void)self;
	x = h2o_mem_alloc_shared(&req->pool, sizeof *x, on_dispose);
	memset(x, 0, sizeof *x);
	x->req = req;
	/* method SP path SP HTTP/1.1 CRLF Host: name CRLF CRLF, as lib/core/proxy.c builds it */
	x->reqbuf = h2o_concat(&req->pool, req->method, h2o_iovec_init(H2O_STRLIT(" ")), req->path,
			       h2o_iovec_init(H2O_STRLIT(" HTTP/1.1\r\nhost: ")), host,
			       h2o_iovec_init(H2O_STRLIT("\r\n\r\n")));
	h2o_http1client_connect_with_pool(&x->client, x, &t->client, &t->pool, on_connect);
	return 0;
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
	struct thread *t = listener->data;
	h2o_socket_t *sock;

	if (err != NULL || (sock = h2o_evloop_socket_accept(listener)) == NULL)
		return;
	h2o_accept(&t->accept, sock);
}

static int listen_on(struct thread *t)
{
	int fd, on = 1;
	h2o_socket_t *sock;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0 ||
	    bind(fd, (struct sockaddr *)&o.listen, sizeof o.listen) != 0 || listen(fd, SOMAXCONN) != 0)
		return -1;
	sock = h2o_evloop_socket_create(t->ctx.loop, fd, H2O_SOCKET_FLAG_DONT_READ);
	sock->data = t;
	h2o_socket_read_start(sock, on_accept);
	return 0;
}

static void *thread_run(void *arg)
{
	struct thread *t = arg;

	/* -1 is epoll_wait failing, EINTR included (a tracer attaching): go on */
	for (;;)
		h2o_evloop_run(t->ctx.loop, INT32_MAX);
	return NULL;
}

static int thread_init(struct thread *t)
{
	h2o_context_init(&t->ctx, h2o_evloop_create(), &config);
	t->accept.ctx = &t->ctx;
	t->accept.hosts = config.hosts;
	t->accept.ssl_ctx = server_ssl;
	h2o_socketpool_init_by_address(&t->pool, (struct sockaddr *)&o.upstream, sizeof o.upstream,
				       o.upstream_tls, 1024);
	if (o.upstream_tls) {
		/* a sockaddr pool's host is the SNI and the name verified */
		free(t->pool.peer.host.base);
		t->pool.peer.host = h2o_strdup(NULL, o.server_name, SIZE_MAX);
	}
	/* also arms the pool's expiry timer, which h2o_socketpool_connect relies on */
	h2o_socketpool_set_timeout(&t->pool, t->ctx.loop, 75000);
	h2o_timeout_init(t->ctx.loop, &t->io_timeout, 10000);
	t->client.loop = t->ctx.loop;
	t->client.getaddr_receiver = &t->ctx.receivers.hostinfo_getaddr;
	t->client.io_timeout = &t->io_timeout;
	t->client.websocket_timeout = NULL;
	t->client.ssl_ctx = client_ssl;
	return listen_on(t);
}

static SSL_CTX *tls_ctx(int server)
{
	SSL_CTX *c = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());

	if (!c || SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_use_certificate_chain_file(c, o.cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(c, o.key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_load_verify_locations(c, o.ca, NULL) != 1) {
		ERR_print_errors_fp(stderr);
		return NULL;
	}
	SSL_CTX_set_verify(c, SSL_VERIFY_PEER | (server ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0), NULL);
	if (server) {
		/* with client certificates verified, OpenSSL refuses to resume a
		 * session (curl's client resumes) unless the context is named */
		static const unsigned char sid_ctx[] = "ndx-spike";

		SSL_CTX_set_session_id_context(c, sid_ctx, sizeof sid_ctx - 1);
		SSL_CTX_set_client_CA_list(c, SSL_load_client_CA_file(o.ca));
		h2o_ssl_register_alpn_protocols(c, h2o_http2_alpn_protocols);
	}
	return c;
}

static int parse_addr(struct sockaddr_in *sa, char *s)
{
	char *colon = strrchr(s, ':'), *end;
	long p;

	if (!colon)
		return -1;
	*colon = '\0';
	p = strtol(colon + 1, &end, 10);
	memset(sa, 0, sizeof *sa);
	sa->sin_family = AF_INET;
	sa->sin_port = htons((unsigned short)p);
	if (*end || p <= 0 || p > 65535 || inet_pton(AF_INET, s, &sa->sin_addr) != 1)
		return -1;
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: spike_h2o --role consumer|provider --listen ADDR:PORT\n"
			"        --upstream http[s]://ADDR:PORT [--server-name NAME]\n"
			"        --cert F --key F --ca F [--threads N]\n");
	return 2;
}

int main(int argc, char **argv)
{
	cpu_set_t cpus;

	for (int i = 1; i + 1 < argc; i += 2) {
		const char *a = argv[i];
		char *v = argv[i + 1];

		if (!strcmp(a, "--role"))
			o.provider = !strcmp(v, "provider");
		else if (!strcmp(a, "--listen")) {
			if (parse_addr(&o.listen, v) != 0)
				return usage();
		} else if (!strcmp(a, "--upstream")) {
			if (!strncmp(v, "https://", 8))
				o.upstream_tls = 1, v += 8;
			else if (!strncmp(v, "http://", 7))
				v += 7;
			else
				return usage();
			if (parse_addr(&o.upstream, v) != 0)
				return usage();
		} else if (!strcmp(a, "--server-name"))
			o.server_name = v;
		else if (!strcmp(a, "--cert"))
			o.cert = v;
		else if (!strcmp(a, "--key"))
			o.key = v;
		else if (!strcmp(a, "--ca"))
			o.ca = v;
		else if (!strcmp(a, "--threads"))
			o.threads = (int)strtol(v, NULL, 10);
		else
			return usage();
	}
	if (argc % 2 != 1 || !o.listen.sin_port || !o.upstream.sin_port || !o.cert || !o.key ||
	    !o.ca || (o.upstream_tls && !o.server_name))
		return usage();
	if (o.threads <= 0)
		o.threads = sched_getaffinity(0, sizeof cpus, &cpus) == 0 ? CPU_COUNT(&cpus) : 1;
	signal(SIGPIPE, SIG_IGN);
	if (o.provider && !(server_ssl = tls_ctx(1)))
		return 1;
	if (o.upstream_tls && !(client_ssl = tls_ctx(0)))
		return 1;

	h2o_config_init(&config);
	/* idle keep-alive connections live 75 s, as the nginx pair's
	 * keepalive_timeout (h2o's 10 s closed connections that curl, in the
	 * spike-curl paths, then reused and failed on) */
	config.http1.req_timeout = 75000;
	config.http2.idle_timeout = 75000;
	h2o_hostconf_t *host = h2o_config_register_host(&config, h2o_iovec_init(H2O_STRLIT("default")),
						       65535);
	h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
	h2o_handler_t *handler = h2o_create_handler(path, sizeof *handler);
	handler->on_req = on_req;

	struct thread *ts = calloc((size_t)o.threads, sizeof *ts);
	pthread_t *tids = calloc((size_t)o.threads, sizeof *tids);

	if (!ts || !tids)
		return 1;
	for (int i = 0; i < o.threads; i++) {
		if (thread_init(&ts[i]) != 0) {
			fprintf(stderr, "spike_h2o: cannot listen: %s\n", strerror(errno));
			return 1;
		}
	}
	for (int i = 1; i < o.threads; i++)
		pthread_create(&tids[i], NULL, thread_run, &ts[i]);
	thread_run(&ts[0]);
	return 1;
}
