/* The provider gateway's HTTP/1.1 client towards its provider systems
 * (src/gateway/backend_http1.c) against a scripted backend on loopback that
 * answers each request with the bytes a test gives it: kept-alive
 * connections are reused and only when they may be (RFC 9112 9.3), the
 * three ways a body is framed (RFC 9112 6.3: Content-Length, chunked, the
 * end of the connection), HEAD and 1xx answers that have no body, and the
 * refusals: an answer that cannot be parsed or is framed two ways at once
 * (RFC 9112 6.1, a smuggling vector), a body over the cap, a backend that
 * is down, silent, or closes a kept connection under a request. */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "gwconfig.h"
#include "gwloop.h"
#include "xfer.h"
#include "ndx/err.h"

/* ---- the scripted backend ------------------------------------------------ */

enum act_kind {
	ACT_REPLY,       /* send the bytes, keep the connection */
	ACT_REPLY_CLOSE, /* send the bytes, then close */
	ACT_CLOSE,       /* close without a byte */
	ACT_SILENT,      /* read the request, never answer */
};

struct act {
	enum act_kind kind;
	const char *bytes;
};

#define MAX_ACTS 8
#define MAX_CONNS 16

static struct {
	pthread_mutex_t mu;
	int listen_fd, stop_pipe[2];
	unsigned short port;
	pthread_t thread;
	struct act acts[MAX_ACTS];
	int nacts, next_act;
	int accepts, requests;
	bool close_idle; /* close every open connection at the next poll */
	char last_request[4096];
} be = { .mu = PTHREAD_MUTEX_INITIALIZER };

struct be_conn {
	int fd;
	char buf[8192];
	size_t len;
};

/* The length of the whole request at the start of c->buf, or 0 while it
 * has not all arrived. */
static size_t request_len(const struct be_conn *c)
{
	const char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
	const char *cl;
	size_t head, body = 0;

	if (!end)
		return 0;
	head = (size_t)(end - c->buf) + 4;
	cl = memmem(c->buf, head, "Content-Length: ", 16);
	if (cl)
		body = strtoul(cl + 16, NULL, 10);
	return c->len >= head + body ? head + body : 0;
}

static void be_close(struct be_conn *c)
{
	close(c->fd);
	c->fd = -1;
	c->len = 0;
}

/* One request whole in c->buf: the script's next action on it. */
static void be_serve(struct be_conn *c, size_t n)
{
	struct act a = { ACT_SILENT, NULL };

	pthread_mutex_lock(&be.mu);
	be.requests++;
	snprintf(be.last_request, sizeof be.last_request, "%.*s", (int)n, c->buf);
	if (be.next_act < be.nacts)
		a = be.acts[be.next_act++];
	pthread_mutex_unlock(&be.mu);
	memmove(c->buf, c->buf + n, c->len - n);
	c->len -= n;
	if (a.bytes && send(c->fd, a.bytes, strlen(a.bytes), MSG_NOSIGNAL) < 0)
		a.kind = ACT_CLOSE;
	if (a.kind == ACT_REPLY_CLOSE || a.kind == ACT_CLOSE)
		be_close(c);
}

static void *be_main(void *arg)
{
	struct be_conn conns[MAX_CONNS];
	(void)arg;

	for (int i = 0; i < MAX_CONNS; i++)
		conns[i].fd = -1;
	for (;;) {
		struct pollfd pf[MAX_CONNS + 2];
		int map[MAX_CONNS + 2], n = 0;
		bool close_idle;

		pthread_mutex_lock(&be.mu);
		close_idle = be.close_idle;
		be.close_idle = false;
		pthread_mutex_unlock(&be.mu);
		if (close_idle)
			for (int i = 0; i < MAX_CONNS; i++)
				if (conns[i].fd >= 0)
					be_close(&conns[i]);
		pf[n] = (struct pollfd){ .fd = be.stop_pipe[0], .events = POLLIN };
		map[n++] = -2;
		pf[n] = (struct pollfd){ .fd = be.listen_fd, .events = POLLIN };
		map[n++] = -1;
		for (int i = 0; i < MAX_CONNS; i++)
			if (conns[i].fd >= 0) {
				pf[n] = (struct pollfd){ .fd = conns[i].fd, .events = POLLIN };
				map[n++] = i;
			}
		if (poll(pf, (nfds_t)n, 20) < 0 && errno != EINTR)
			break;
		if (pf[0].revents)
			break;
		for (int k = 1; k < n; k++) {
			if (!pf[k].revents)
				continue;
			if (map[k] == -1) {
				int fd = accept(be.listen_fd, NULL, NULL);

				for (int i = 0; fd >= 0 && i < MAX_CONNS; i++)
					if (conns[i].fd < 0) {
						conns[i].fd = fd;
						conns[i].len = 0;
						fd = -1;
						pthread_mutex_lock(&be.mu);
						be.accepts++;
						pthread_mutex_unlock(&be.mu);
					}
				if (fd >= 0)
					close(fd);
				continue;
			}
			struct be_conn *c = &conns[map[k]];
			ssize_t got = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
			size_t whole;

			if (got <= 0) {
				be_close(c);
				continue;
			}
			c->len += (size_t)got;
			while (c->fd >= 0 && (whole = request_len(c)) > 0)
				be_serve(c, whole);
		}
	}
	for (int i = 0; i < MAX_CONNS; i++)
		if (conns[i].fd >= 0)
			be_close(&conns[i]);
	return NULL;
}

static void be_script(const struct act *acts, int n)
{
	pthread_mutex_lock(&be.mu);
	memcpy(be.acts, acts, (size_t)n * sizeof *acts);
	be.nacts = n;
	be.next_act = 0;
	pthread_mutex_unlock(&be.mu);
}

static int be_count(const int *what)
{
	int v;

	pthread_mutex_lock(&be.mu);
	v = *what;
	pthread_mutex_unlock(&be.mu);
	return v;
}

/* ---- a call on the loop, waited for --------------------------------------- */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;

struct call_case {
	struct gw_loop *loop;
	struct ndx_loop_task task;
	struct gw_service svc;
	struct gw_backend_call call;
	struct gw_xfer_resp r;
	enum gw_xfer_result res;
	bool called;
};

static struct gw_loops *loops;
static char base[64];
static long connect_timeout_ms = 2000;

static void call_done(struct gw_backend_call *call, enum gw_xfer_result res)
{
	struct call_case *c = call->ud;

	pthread_mutex_lock(&mu);
	c->res = res;
	c->called = true;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
}

static void start_call(void *arg)
{
	struct call_case *c = arg;

	gw_backend_start(c->loop, &c->call, &c->r);
}

/* Makes the call and waits for its end (at most 10 s, so that a bug fails
 * the test rather than hangs it); the caller frees c->r. */
static enum gw_xfer_result call_at(struct call_case *c, const char *url, const char *method,
				   const char *body, size_t max_body, long timeout_ms)
{
	struct timespec dl;

	memset(c, 0, sizeof *c);
	c->loop = gw_loops_next(loops);
	c->svc.backend = (char *)url;
	c->svc.timeout_ms = timeout_ms;
	c->call = (struct gw_backend_call){
		.svc = &c->svc,
		.method = method,
		.path = "/p",
		.query = "",
		.body = (const uint8_t *)body,
		.body_len = body ? strlen(body) : 0,
		.connect_timeout_ms = connect_timeout_ms,
		.max_body = max_body,
		.done = call_done,
		.ud = c,
	};
	c->task = (struct ndx_loop_task){ .fn = start_call, .arg = c };
	assert_int_equal(gw_loop_post(c->loop, &c->task), NDX_OK);
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 10;
	pthread_mutex_lock(&mu);
	while (!c->called && pthread_cond_timedwait(&cv, &mu, &dl) == 0)
		;
	pthread_mutex_unlock(&mu);
	assert_true(c->called);
	return c->res;
}

static enum gw_xfer_result call(struct call_case *c, const char *method, size_t max_body)
{
	return call_at(c, base, method, NULL, max_body, 5000);
}

static void assert_body(const struct call_case *c, const char *want)
{
	assert_int_equal(c->r.len, strlen(want));
	if (c->r.len)
		assert_memory_equal(c->r.body, want, c->r.len);
}

/* ---- fixture --------------------------------------------------------------- */

static int setup(void **state)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof sin;
	char err[128];
	(void)state;

	be.listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (be.listen_fd < 0 || bind(be.listen_fd, (struct sockaddr *)&sin, sizeof sin) != 0 ||
	    listen(be.listen_fd, 16) != 0 ||
	    getsockname(be.listen_fd, (struct sockaddr *)&sin, &len) != 0 || pipe(be.stop_pipe) != 0)
		return -1;
	be.port = ntohs(sin.sin_port);
	snprintf(base, sizeof base, "http://127.0.0.1:%u/api", (unsigned)be.port);
	if (pthread_create(&be.thread, NULL, be_main, NULL) != 0)
		return -1;
	return gw_loops_start(1, &loops, err, sizeof err) == NDX_OK ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	gw_loops_free(loops);
	if (write(be.stop_pipe[1], "x", 1) != 1)
		return -1;
	pthread_join(be.thread, NULL);
	close(be.listen_fd);
	close(be.stop_pipe[0]);
	close(be.stop_pipe[1]);
	return 0;
}

/* Each test starts with no kept connection and a fresh count. */
static int fresh(void **state)
{
	(void)state;
	pthread_mutex_lock(&be.mu);
	be.close_idle = true;
	pthread_mutex_unlock(&be.mu);
	/* The client sees the closes on its idle connections and drops them. */
	usleep(100 * 1000);
	pthread_mutex_lock(&be.mu);
	be.accepts = be.requests = 0;
	be.nacts = be.next_act = 0;
	pthread_mutex_unlock(&be.mu);
	return 0;
}

#define OK_HELLO "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Road-Error: Server.X\r\n\r\nhello"

/* ---- tests ----------------------------------------------------------------- */

static void a_kept_connection_serves_the_next_call(void **state)
{
	struct call_case c;
	(void)state;

	be_script((struct act[]){ { ACT_REPLY, OK_HELLO }, { ACT_REPLY, OK_HELLO } }, 2);
	assert_int_equal(call(&c, "GET", 1024), GW_XFER_OK);
	assert_int_equal(c.r.status, 200);
	assert_body(&c, "hello");
	assert_string_equal(c.r.hdr[GW_H_XROAD_ERROR], "Server.X");
	gw_xfer_resp_free(&c.r);
	assert_int_equal(call(&c, "GET", 1024), GW_XFER_OK);
	assert_body(&c, "hello");
	gw_xfer_resp_free(&c.r);
	assert_int_equal(be_count(&be.requests), 2);
	assert_int_equal(be_count(&be.accepts), 1);
	/* The request as sent: the base path, Host, no body for a GET. */
	pthread_mutex_lock(&be.mu);
	assert_non_null(strstr(be.last_request, "GET /api/p HTTP/1.1\r\n"));
	assert_non_null(strstr(be.last_request, "\r\nUser-Agent: ndx-gateway\r\n"));
	assert_null(strstr(be.last_request, "Content-Length"));
	pthread_mutex_unlock(&be.mu);
}

static void a_chunked_body_is_decoded_and_the_connection_kept(void **state)
{
	struct call_case c;
	(void)state;

	be_script((struct act[]){ { ACT_REPLY, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
					       "3;ext=1\r\nabc\r\n4\r\ndefg\r\n0\r\nTrailer: x\r\n\r\n" },
				  { ACT_REPLY, OK_HELLO } },
		  2);
	assert_int_equal(call(&c, "GET", 1024), GW_XFER_OK);
	assert_body(&c, "abcdefg");
	gw_xfer_resp_free(&c.r);
	assert_int_equal(call(&c, "GET", 1024), GW_XFER_OK);
	gw_xfer_resp_free(&c.r);
	assert_int_equal(be_count(&be.accepts), 1);
}

static void a_body_to_the_end_of_the_connection_is_whole_and_not_reused(void **state)
{
	struct call_case c;
	(void)state;

	be_script((struct act[]){ { ACT_REPLY_CLOSE, "HTTP/1.1 200 OK\r\n\r\nto the end" },
				  { ACT_REPLY, OK_HELLO } },
		  2);
	assert_int_equal(call(&c, "GET", 1024), GW_XFER_OK);
	assert_body(&c, "to the end");
	gw_xfer_resp_free(&c.r);
	assert_int_equal(call(&c, "GET", 1024), GW_XFER_OK);
	gw_xfer_resp_free(&c.r);
	assert_int_equal(be_count(&be.accepts), 2);
}

/* RFC 9110 9.3.2: the answer to HEAD has the headers of a GET and no body;
 * its Content-Length is not waited for. RFC 9110 15.2: 1xx answers come
 * before the final one and are not it. */
static void head_and_1xx_answers_have_no_body(void **state)
{
	struct call_case c;
	(void)state;

	be_script((struct act[]){ { ACT_REPLY, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n" },
				  { ACT_REPLY, "HTTP/1.1 100 Continue\r\nX-Road-Error: early\r\n\r\n"
					       "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok" },
				  { ACT_REPLY, "HTTP/1.1 204 No Content\r\n\r\n" } },
		  3);
	assert_int_equal(call(&c, "HEAD", 1024), GW_XFER_OK);
	assert_int_equal(c.r.status, 200);
	assert_body(&c, "");
	gw_xfer_resp_free(&c.r);
	assert_int_equal(call_at(&c, base, "POST", "x=1", 1024, 5000), GW_XFER_OK);
	assert_int_equal(c.r.status, 201);
	assert_body(&c, "ok");
	assert_null(c.r.hdr[GW_H_XROAD_ERROR]); /* the 1xx's headers are not the answer's */
	gw_xfer_resp_free(&c.r);
	assert_int_equal(call(&c, "GET", 1024), GW_XFER_OK);
	assert_int_equal(c.r.status, 204);
	gw_xfer_resp_free(&c.r);
	assert_int_equal(be_count(&be.accepts), 1);
}

static void bytes_behind_an_answer_end_its_connection(void **state)
{
	struct call_case c;
	(void)state;

	be_script((struct act[]){ { ACT_REPLY, OK_HELLO OK_HELLO }, { ACT_REPLY, OK_HELLO } }, 2);
	assert_int_equal(call(&c, "GET", 1024), GW_XFER_OK);
	assert_body(&c, "hello");
	gw_xfer_resp_free(&c.r);
	/* The second answer nobody asked for is not taken for the next call's. */
	assert_int_equal(call(&c, "GET", 1024), GW_XFER_OK);
	gw_xfer_resp_free(&c.r);
	assert_int_equal(be_count(&be.accepts), 2);
	assert_int_equal(be_count(&be.requests), 2);
}

static void an_answer_that_cannot_be_parsed_is_refused(void **state)
{
	struct call_case c;
	(void)state;

	be_script((struct act[]){ { ACT_REPLY, "HTTP/1.1 2x0 OK\r\n\r\n" },
				  /* RFC 9112 6.1: framed both ways, a smuggling vector */
				  { ACT_REPLY, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
					       "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" },
				  { ACT_REPLY, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n"
					       "Content-Length: 2\r\n\r\nab" } },
		  3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(call(&c, "GET", 1024), GW_XFER_FAILED);
		assert_non_null(strstr(c.r.errbuf, "failed to parse the response"));
		gw_xfer_resp_free(&c.r);
	}
}

static void a_body_over_the_cap_is_too_big(void **state)
{
	struct call_case c;
	(void)state;

	be_script((struct act[]){ { ACT_REPLY, "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n"
					       "hello world" },
				  { ACT_REPLY, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"
					       "helloworld" } },
		  2);
	assert_int_equal(call(&c, "GET", 10), GW_XFER_TOOBIG);
	assert_true(c.r.toobig);
	gw_xfer_resp_free(&c.r);
	assert_int_equal(call(&c, "GET", 10), GW_XFER_OK);
	assert_body(&c, "helloworld");
	gw_xfer_resp_free(&c.r);
}

static void an_idle_connection_the_backend_closed_is_not_used(void **state)
{
	struct call_case c;
	(void)state;

	be_script((struct act[]){ { ACT_REPLY, OK_HELLO }, { ACT_REPLY, OK_HELLO } }, 2);
	assert_int_equal(call(&c, "GET", 1024), GW_XFER_OK);
	gw_xfer_resp_free(&c.r);
	pthread_mutex_lock(&be.mu);
	be.close_idle = true;
	pthread_mutex_unlock(&be.mu);
	usleep(100 * 1000);
	assert_int_equal(call(&c, "GET", 1024), GW_XFER_OK);
	gw_xfer_resp_free(&c.r);
	/* One request each: the closed connection was dropped, not tried. */
	assert_int_equal(be_count(&be.requests), 2);
	assert_int_equal(be_count(&be.accepts), 2);
}

static void a_kept_connection_closed_under_a_request_is_retried_once(void **state)
{
	struct call_case c;
	(void)state;

	be_script((struct act[]){ { ACT_REPLY, OK_HELLO }, { ACT_CLOSE, NULL },
				  { ACT_REPLY, OK_HELLO } },
		  3);
	assert_int_equal(call(&c, "GET", 1024), GW_XFER_OK);
	gw_xfer_resp_free(&c.r);
	assert_int_equal(call(&c, "GET", 1024), GW_XFER_OK);
	assert_body(&c, "hello");
	gw_xfer_resp_free(&c.r);
	assert_int_equal(be_count(&be.requests), 3);
	assert_int_equal(be_count(&be.accepts), 2);
	/* Once only, and never on a new connection: the second close fails. */
	be_script((struct act[]){ { ACT_CLOSE, NULL }, { ACT_CLOSE, NULL } }, 2);
	assert_int_equal(call(&c, "GET", 1024), GW_XFER_FAILED);
	gw_xfer_resp_free(&c.r);
	assert_int_equal(be_count(&be.requests), 5);
}

static void a_down_or_silent_backend_is_refused_in_time(void **state)
{
	struct call_case c;
	char url[sizeof base + 32];
	struct timespec t0, t1;
	(void)state;

	snprintf(url, sizeof url, "unix:/nonexistent/ndx-backend.sock");
	assert_int_equal(call_at(&c, url, "GET", NULL, 1024, 5000), GW_XFER_CONNECT);
	assert_non_null(strstr(c.r.errbuf, "cannot connect"));
	gw_xfer_resp_free(&c.r);
	be_script((struct act[]){ { ACT_SILENT, NULL } }, 1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(call_at(&c, base, "GET", NULL, 1024, 300), GW_XFER_TIMEOUT);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 >= 290);
	gw_xfer_resp_free(&c.r);
}

/* A listener whose queue is full takes no more connections (Linux drops
 * the SYN): the connect times out, GW_XFER_CONNECT, nothing sent. */
static void a_backend_that_takes_no_connection_times_out_connecting(void **state)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof sin;
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), fill[4];
	char url[64];
	struct call_case c;
	(void)state;

	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sin, sizeof sin), 0);
	assert_int_equal(listen(lfd, 0), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sin, &len), 0);
	for (int i = 0; i < 4; i++) {
		fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		assert_true(fill[i] >= 0);
		(void)connect(fill[i], (struct sockaddr *)&sin, sizeof sin);
	}
	usleep(50 * 1000);
	snprintf(url, sizeof url, "http://127.0.0.1:%u", (unsigned)ntohs(sin.sin_port));
	connect_timeout_ms = 300;
	assert_int_equal(call_at(&c, url, "GET", NULL, 1024, 5000), GW_XFER_CONNECT);
	connect_timeout_ms = 2000;
	assert_non_null(strstr(c.r.errbuf, "Connection timed out after 300 milliseconds"));
	gw_xfer_resp_free(&c.r);
	for (int i = 0; i < 4; i++)
		close(fill[i]);
	close(lfd);
}

/* The addresses both loop clients connect to (xfer.c, RFC 3986 3.2.2:
 * an IPv6 literal in brackets, the port after the last colon). */
static void authorities_name_addresses_or_are_refused(void **state)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	char host[16];
	const char *refused[] = { "localhost:80", "1.2.3.4:0", "1.2.3.4:65536", "1.2.3.4:80x",
				  "1.2.3.4:", "1.2.3.4:-1", "[::1", "[::1]x", "[::1]:", "::1",
				  "[127.0.0.1]", "" };
	(void)state;

	assert_true(gw_xfer_authority_addr("127.0.0.1", 80, &ss, &sl, host, sizeof host));
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(ntohs(((struct sockaddr_in *)&ss)->sin_port), 80);
	assert_string_equal(host, "127.0.0.1");
	assert_true(gw_xfer_authority_addr("10.0.0.1:65535", 80, &ss, &sl, NULL, 0));
	assert_int_equal(ntohs(((struct sockaddr_in *)&ss)->sin_port), 65535);
	assert_int_equal(sl, sizeof(struct sockaddr_in));
	assert_true(gw_xfer_authority_addr("[::1]:8443", 443, &ss, &sl, host, sizeof host));
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(ntohs(((struct sockaddr_in6 *)&ss)->sin6_port), 8443);
	assert_int_equal(sl, sizeof(struct sockaddr_in6));
	assert_string_equal(host, "::1");
	assert_true(gw_xfer_authority_addr("[::1]", 443, &ss, &sl, NULL, 0));
	assert_int_equal(ntohs(((struct sockaddr_in6 *)&ss)->sin6_port), 443);
	/* a host that does not fit the caller's buffer */
	assert_false(gw_xfer_authority_addr("[2001:db8::1]", 443, &ss, &sl, host, 8));
	for (size_t i = 0; i < sizeof refused / sizeof *refused; i++)
		if (gw_xfer_authority_addr(refused[i], 80, &ss, &sl, host, sizeof host))
			fail_msg("%s was taken for an address", refused[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(a_kept_connection_serves_the_next_call, fresh),
		cmocka_unit_test_setup(a_chunked_body_is_decoded_and_the_connection_kept, fresh),
		cmocka_unit_test_setup(a_body_to_the_end_of_the_connection_is_whole_and_not_reused,
				       fresh),
		cmocka_unit_test_setup(head_and_1xx_answers_have_no_body, fresh),
		cmocka_unit_test_setup(bytes_behind_an_answer_end_its_connection, fresh),
		cmocka_unit_test_setup(an_answer_that_cannot_be_parsed_is_refused, fresh),
		cmocka_unit_test_setup(a_body_over_the_cap_is_too_big, fresh),
		cmocka_unit_test_setup(an_idle_connection_the_backend_closed_is_not_used, fresh),
		cmocka_unit_test_setup(a_kept_connection_closed_under_a_request_is_retried_once,
				       fresh),
		cmocka_unit_test_setup(a_down_or_silent_backend_is_refused_in_time, fresh),
		cmocka_unit_test(a_backend_that_takes_no_connection_times_out_connecting),
		cmocka_unit_test(authorities_name_addresses_or_are_refused),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
