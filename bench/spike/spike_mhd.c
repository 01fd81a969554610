/* spike_mhd: a bare two-hop proxy on libmicrohttpd and libcurl's multi
 * interface, one epoll loop per thread, to measure the floor of that HTTP
 * layer (issue 16; the numbers and what they mean: bench/README.md, "The
 * HTTP layer: spike"). It is a benchmark, not a gateway: no signing, no log,
 * no checks beyond TLS.
 *
 * One process plays either role of a gateway pair:
 *   --role consumer  plain HTTP in, mutual-TLS HTTP out (client certificate,
 *                    server verified against --ca and --server-name);
 *   --role provider  mutual-TLS in (client certificate required and verified
 *                    against --ca, once per connection), plain HTTP out.
 * Each thread owns an epoll fd holding its MHD daemon's epoll fd (MHD in
 * external-epoll mode, all daemons on one port with SO_REUSEPORT) and the
 * sockets of its curl multi handle (curl_multi_socket_action). A request is
 * suspended while its upstream transfer runs and resumed when it ends; no
 * thread ever blocks on a request. Upstream connections stay alive in the
 * multi handle's cache; --h2 asks for HTTP/2 (ALPN) upstream, multiplexed.
 *
 * Forwards GET/HEAD (a request body is read and dropped), the path (MHD does
 * not hand back the raw query string, and the bench sends none), and back the
 * status, Content-Type and body. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#define BODY_MAX (1u << 20) /* an upstream answer bigger than this is a 502 */
#define URL_MAX 2048

struct opts {
	bool provider;
	bool h2;
	const char *listen_host;
	unsigned short port;
	const char *upstream; /* scheme://host:port, no trailing slash */
	const char *server_name;
	const char *connect_to; /* "name:port:addr" for CURLOPT_RESOLVE */
	const char *cert, *key, *ca;
	char *cert_pem, *key_pem, *ca_pem;
	int threads;
};

struct loop;

/* One exchange: the suspended MHD connection and its curl transfer. */
struct xfer {
	struct loop *lp;
	struct MHD_Connection *conn;
	CURL *easy;
	struct xfer *next_free;
	bool started, done;
	long status;
	char ctype[128];
	char *body;
	size_t len, cap;
};

struct loop {
	const struct opts *o;
	int epfd;
	int mhd_fd;
	struct MHD_Daemon *d;
	CURLM *multi;
	long long curl_deadline; /* CLOCK_MONOTONIC ms; -1: none */
	struct xfer *free_list;
	struct curl_slist *resolve;
};

/* A provider connection's client-certificate check, done once. */
struct conn_state {
	bool checked, ok;
};

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
	struct xfer *x = ud;
	size_t add = sz * n;

	if (x->len + add > BODY_MAX)
		return 0; /* curl fails the transfer: CURLE_WRITE_ERROR */
	if (x->len + add > x->cap) {
		size_t cap = x->cap ? x->cap : 256;
		char *b;

		while (cap < x->len + add)
			cap *= 2;
		if (!(b = realloc(x->body, cap)))
			return 0;
		x->body = b;
		x->cap = cap;
	}
	memcpy(x->body + x->len, p, add);
	x->len += add;
	return add;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
	struct xfer *x = ud;
	size_t len = sz * n;
	static const char ct[] = "content-type:";

	if (len > sizeof ct - 1 && strncasecmp(p, ct, sizeof ct - 1) == 0) {
		const char *v = p + sizeof ct - 1;
		size_t vl = len - (sizeof ct - 1);

		while (vl && (*v == ' ' || *v == '\t'))
			v++, vl--;
		while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
			vl--;
		if (vl >= sizeof x->ctype)
			vl = sizeof x->ctype - 1;
		memcpy(x->ctype, v, vl);
		x->ctype[vl] = '\0';
	}
	return len;
}

static CURL *easy_new(struct loop *lp)
{
	const struct opts *o = lp->o;
	CURL *e = curl_easy_init();

	if (!e)
		return NULL;
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 10000L);
	curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
	if (lp->resolve)
		curl_easy_setopt(e, CURLOPT_RESOLVE, lp->resolve);
	if (!o->provider) {
		curl_easy_setopt(e, CURLOPT_SSLCERT, o->cert);
		curl_easy_setopt(e, CURLOPT_SSLKEY, o->key);
		curl_easy_setopt(e, CURLOPT_CAINFO, o->ca);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
		curl_easy_setopt(e, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
		curl_easy_setopt(e, CURLOPT_HTTP_VERSION,
				 o->h2 ? (long)CURL_HTTP_VERSION_2TLS : (long)CURL_HTTP_VERSION_1_1);
		if (o->h2)
			curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
	} else {
		curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	}
	return e;
}

static struct xfer *xfer_get(struct loop *lp)
{
	struct xfer *x = lp->free_list;

	if (x) {
		lp->free_list = x->next_free;
	} else {
		if (!(x = calloc(1, sizeof *x)))
			return NULL;
		if (!(x->easy = easy_new(lp))) {
			free(x);
			return NULL;
		}
	}
	x->lp = lp;
	x->conn = NULL;
	x->started = x->done = false;
	x->status = 0;
	x->ctype[0] = '\0';
	x->len = 0;
	curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(x->easy, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
	return x;
}

static void xfer_put(struct xfer *x)
{
	struct loop *lp = x->lp;

	if (x->started && !x->done)
		curl_multi_remove_handle(lp->multi, x->easy); /* client went away mid-way */
	x->next_free = lp->free_list;
	lp->free_list = x;
}

static enum MHD_Result answer(struct MHD_Connection *c, unsigned status, const char *ctype,
			      const char *body, size_t len)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	if (ctype && *ctype)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* The provider's client-certificate check: chain against --ca and validity;
 * no certificate is a failure (GnuTLS only requests one, MHD cannot require it). */
static bool peer_ok(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci;
	struct conn_state *cs;
	gnutls_session_t s;
	unsigned status = 0, n = 0;

	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	cs = ci ? ci->socket_context : NULL;
	if (cs && cs->checked)
		return cs->ok;
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (!ci || !ci->tls_session)
		return false;
	s = (gnutls_session_t)ci->tls_session;
	bool ok = gnutls_certificate_verify_peers2(s, &status) == GNUTLS_E_SUCCESS && status == 0 &&
		  gnutls_certificate_get_peers(s, &n) && n > 0;
	if (cs) {
		cs->checked = true;
		cs->ok = ok;
	}
	return ok;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **req_cls)
{
	struct loop *lp = cls;
	struct xfer *x = *req_cls;
	char target[URL_MAX];

	(void)version;
	(void)upload;
	if (!x) {
		if (!(x = xfer_get(lp)))
			return MHD_NO;
		x->conn = c;
		*req_cls = x;
		return MHD_YES;
	}
	if (*upload_size) {
		*upload_size = 0;
		return MHD_YES;
	}
	if (x->done) {
		if (x->status == 0)
			return answer(c, 502, "text/plain", "bad gateway\n", 12);
		return answer(c, (unsigned)x->status, x->ctype, x->body, x->len);
	}
	if (x->started)
		return MHD_YES; /* not expected: MHD calls again only after resume */
	if (lp->o->provider && !peer_ok(c))
		return answer(c, 403, "text/plain", "client certificate\n", 19);
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return answer(c, 405, "text/plain", "GET only\n", 9);
	if (snprintf(target, sizeof target, "%s%s", lp->o->upstream, url) >= (int)sizeof target)
		return answer(c, 414, "text/plain", "too long\n", 9);
	curl_easy_setopt(x->easy, CURLOPT_URL, target);
	curl_easy_setopt(x->easy, CURLOPT_NOBODY, strcmp(method, "HEAD") == 0 ? 1L : 0L);
	if (curl_multi_add_handle(lp->multi, x->easy) != CURLM_OK)
		return answer(c, 502, "text/plain", "bad gateway\n", 12);
	x->started = true;
	MHD_suspend_connection(c);
	return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
			 enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)c;
	(void)toe;
	if (*req_cls)
		xfer_put(*req_cls);
	*req_cls = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_ctx,
			  enum MHD_ConnectionNotificationCode toe)
{
	(void)cls;
	(void)c;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED)
		*socket_ctx = calloc(1, sizeof(struct conn_state));
	else {
		free(*socket_ctx);
		*socket_ctx = NULL;
	}
}

/* curl's socket callback: mirror its interest in our epoll set. */
static int on_curl_socket(CURL *e, curl_socket_t s, int what, void *ud, void *sockp)
{
	struct loop *lp = ud;
	struct epoll_event ev = { .data.fd = s };

	(void)e;
	(void)sockp;
	if (what == CURL_POLL_REMOVE) {
		epoll_ctl(lp->epfd, EPOLL_CTL_DEL, s, NULL);
		return 0;
	}
	ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
	if (epoll_ctl(lp->epfd, EPOLL_CTL_MOD, s, &ev) != 0 && errno == ENOENT)
		epoll_ctl(lp->epfd, EPOLL_CTL_ADD, s, &ev);
	return 0;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* curl's timer is one-shot: a deadline, cleared when it fires. */
static int on_curl_timer(CURLM *m, long timeout_ms, void *ud)
{
	struct loop *lp = ud;

	(void)m;
	lp->curl_deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
	return 0;
}

/* Finished transfers: resume their connections. Returns how many. */
static int reap(struct loop *lp)
{
	CURLMsg *m;
	int left, n = 0;

	while ((m = curl_multi_info_read(lp->multi, &left))) {
		struct xfer *x;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
		if (m->data.result == CURLE_OK)
			curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &x->status);
		else {
			x->status = 0;
			fprintf(stderr, "spike_mhd: upstream: %s\n", curl_easy_strerror(m->data.result));
		}
		curl_multi_remove_handle(lp->multi, m->easy_handle);
		x->done = true;
		MHD_resume_connection(x->conn);
		n++;
	}
	return n;
}

static int loop_timeout(struct loop *lp)
{
	MHD_UNSIGNED_LONG_LONG mt;
	long long t = 60000;

	if (lp->curl_deadline >= 0) {
		long long c = lp->curl_deadline - now_ms();
		t = c < 0 ? 0 : c < t ? c : t;
	}
	if (MHD_get_timeout(lp->d, &mt) == MHD_YES && (long long)mt < t)
		t = (long long)mt;
	return (int)t;
}

static void curl_timer_fire(struct loop *lp)
{
	int running;

	if (lp->curl_deadline >= 0 && lp->curl_deadline <= now_ms()) {
		lp->curl_deadline = -1;
		curl_multi_socket_action(lp->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	}
}

static void *loop_run(void *arg)
{
	struct loop *lp = arg;
	struct epoll_event evs[64];
	int running;

	for (;;) {
		int n = epoll_wait(lp->epfd, evs, 64, loop_timeout(lp));
		bool mhd = n == 0;

		if (n < 0 && errno != EINTR)
			break;
		for (int i = 0; i < n; i++) {
			if (evs[i].data.fd == lp->mhd_fd) {
				mhd = true;
				continue;
			}
			int f = (evs[i].events & EPOLLIN ? CURL_CSELECT_IN : 0) |
				(evs[i].events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
				(evs[i].events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
			curl_multi_socket_action(lp->multi, evs[i].data.fd, f, &running);
		}
		/* MHD's handler adds transfers (curl's timer then fires at 0, and
		 * starts them); finished ones resume their MHD connections. Turn
		 * until neither has anything left to do now. */
		for (;;) {
			curl_timer_fire(lp);
			if (reap(lp))
				mhd = true;
			if (!mhd)
				break;
			MHD_run(lp->d);
			mhd = false;
		}
	}
	return NULL;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0 ||
	    !(buf = malloc((size_t)n + 1))) {
		fclose(f);
		return NULL;
	}
	if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		fclose(f);
		return NULL;
	}
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static int loop_init(struct loop *lp, const struct opts *o)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(o->port) };
	const union MHD_DaemonInfo *di;
	struct epoll_event ev = { .events = EPOLLIN };
	unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG |
			 MHD_USE_TURBO | (o->provider ? MHD_USE_TLS : 0);

	lp->o = o;
	lp->curl_deadline = -1;
	if (inet_pton(AF_INET, o->listen_host, &sa.sin_addr) != 1)
		return -1;
	if (o->connect_to && !(lp->resolve = curl_slist_append(NULL, o->connect_to)))
		return -1;
	struct MHD_OptionItem tls[] = {
		{ MHD_OPTION_HTTPS_MEM_CERT, 0, o->cert_pem },
		{ MHD_OPTION_HTTPS_MEM_KEY, 0, o->key_pem },
		{ MHD_OPTION_HTTPS_MEM_TRUST, 0, o->ca_pem },
		{ MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2" },
		{ MHD_OPTION_END, 0, NULL },
	};
	lp->d = MHD_start_daemon(flags, o->port, NULL, NULL, on_request, lp,
				 MHD_OPTION_SOCK_ADDR, &sa,
				 MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1,
				 MHD_OPTION_CONNECTION_LIMIT, (unsigned)10000,
				 MHD_OPTION_NOTIFY_COMPLETED, on_completed, lp,
				 MHD_OPTION_NOTIFY_CONNECTION, on_connection, lp,
				 MHD_OPTION_ARRAY, o->provider ? tls : tls + 4,
				 MHD_OPTION_END);
	if (!lp->d)
		return -1;
	if (!(di = MHD_get_daemon_info(lp->d, MHD_DAEMON_INFO_EPOLL_FD)))
		return -1;
	lp->mhd_fd = di->epoll_fd;
	if ((lp->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
		return -1;
	ev.data.fd = lp->mhd_fd;
	if (epoll_ctl(lp->epfd, EPOLL_CTL_ADD, lp->mhd_fd, &ev) != 0)
		return -1;
	if (!(lp->multi = curl_multi_init()))
		return -1;
	curl_multi_setopt(lp->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
	curl_multi_setopt(lp->multi, CURLMOPT_SOCKETDATA, lp);
	curl_multi_setopt(lp->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
	curl_multi_setopt(lp->multi, CURLMOPT_TIMERDATA, lp);
	curl_multi_setopt(lp->multi, CURLMOPT_MAXCONNECTS, 1024L);
	if (o->h2)
		curl_multi_setopt(lp->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
	return 0;
}

static int usage(void)
{
	fprintf(stderr,
		"usage: spike_mhd --role consumer|provider --listen ADDR:PORT --upstream URL\n"
		"        [--connect-to NAME:PORT:ADDR] [--cert F --key F --ca F] [--threads N] [--h2]\n");
	return 2;
}

static int parse_listen(struct opts *o, char *s)
{
	char *colon = strrchr(s, ':');
	char *end;
	long p;

	if (!colon)
		return -1;
	*colon = '\0';
	p = strtol(colon + 1, &end, 10);
	if (*end || p <= 0 || p > 65535)
		return -1;
	o->listen_host = s;
	o->port = (unsigned short)p;
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = { .threads = 0 };
	cpu_set_t cpus;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--h2")) {
			o.h2 = true;
			continue;
		}
		if (!v)
			return usage();
		i++;
		if (!strcmp(a, "--role"))
			o.provider = !strcmp(v, "provider");
		else if (!strcmp(a, "--listen")) {
			if (parse_listen(&o, v) != 0)
				return usage();
		} else if (!strcmp(a, "--upstream"))
			o.upstream = v;
		else if (!strcmp(a, "--connect-to"))
			o.connect_to = v;
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
	if (!o.listen_host || !o.upstream || !o.cert || !o.key || !o.ca)
		return usage();
	if (o.threads <= 0)
		o.threads = sched_getaffinity(0, sizeof cpus, &cpus) == 0 ? CPU_COUNT(&cpus) : 1;
	if (o.provider && (!(o.cert_pem = slurp(o.cert)) || !(o.key_pem = slurp(o.key)) ||
			   !(o.ca_pem = slurp(o.ca)))) {
		fprintf(stderr, "spike_mhd: cannot read the certificate files\n");
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);

	struct loop *loops = calloc((size_t)o.threads, sizeof *loops);
	pthread_t *tids = calloc((size_t)o.threads, sizeof *tids);

	if (!loops || !tids)
		return 1;
	for (int i = 0; i < o.threads; i++) {
		if (loop_init(&loops[i], &o) != 0) {
			fprintf(stderr, "spike_mhd: cannot start loop %d\n", i);
			return 1;
		}
	}
	for (int i = 1; i < o.threads; i++)
		pthread_create(&tids[i], NULL, loop_run, &loops[i]);
	loop_run(&loops[0]);
	return 1;
}
