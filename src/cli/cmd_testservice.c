/* `ndx testservice`: a small diagnostic provider system, in the spirit of
 * X-Road's hello and test services, for trying a gateway before any real
 * provider system exists (the demo federation points its services at it).
 * It answers every method and path with a JSON description of what arrived
 * - method, raw path and query, the X-Road/Ndx headers and Content-Type, the
 * body's size and SHA-256, the time - so a caller can see exactly what the
 * provider gateway forwarded; GET /healthz answers {"status":"ok"}. Built on
 * libndx's HTTP server (include/ndx/httpd.h); SIGTERM or SIGINT stops it.
 * Overview: docs/gateway.md (what a provider system receives). */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <jansson.h>

#include "cli.h"
#include "ndx/args.h"
#include "ndx/encode.h"
#include "ndx/err.h"
#include "ndx/hash.h"
#include "ndx/httpd.h"
#include "ndx/timefmt.h"

#define DEFAULT_LISTEN "127.0.0.1:9000"
#define DEFAULT_NAME "ndx-testservice"
#define NAME_MAX_BYTES 128
#define MAX_BODY (10u * 1024u * 1024u)
#define THREADS 4u

static const char usage[] =
	"usage: ndx testservice [--listen [ADDR:]PORT] [--name NAME]\n"
	"\n"
	"A diagnostic provider system: answers every request, whatever its method\n"
	"and path, with 200 and a JSON description of what it received:\n"
	"  {\"service\": NAME, \"method\", \"path\" (raw, as received), \"query\" (raw),\n"
	"   \"headers\": {the X-Road-*, Ndx-* and Content-Type headers it got},\n"
	"   \"body_bytes\", \"body_sha256\" (hex), \"remote_addr\", \"received_at\"}\n"
	"GET /healthz answers {\"status\":\"ok\",\"service\":NAME}. Point a gateway's\n"
	"service backend at it to see what the provider gateway forwards.\n"
	"Bodies up to 10 MiB are accepted (larger: 413). One JSON access-log line a\n"
	"request on stderr; \"ndx testservice: listening on http://ADDR:PORT\" once\n"
	"ready. SIGTERM or SIGINT stops it (exit 0).\n"
	"\n"
	"  --listen [ADDR:]PORT  IPv4 address and port (default " DEFAULT_LISTEN ";\n"
	"                        a bare PORT binds 127.0.0.1; port 0 picks a free one)\n"
	"  --name NAME           reported as \"service\" (default " DEFAULT_NAME ")\n"
	"  --help                show this help\n";

/* The headers reported back: the X-Road REST protocol's and ndx's own
 * (docs/protocol.md), whatever the hop. httpd.h looks headers up by name
 * and cannot list them, so this is the set a provider system may see. */
static const char *const reported_headers[] = {
	"X-Road-Client", "X-Road-Service", "X-Road-Id", "X-Road-Request-Id",
	"X-Road-Request-Hash", "X-Road-UserId", "X-Road-Issue", "Ndx-Purpose",
	"Ndx-Subject", "Ndx-Consent", "Ndx-Timestamp", "Ndx-Signature", "Content-Type",
};

struct testservice {
	const char *name;
};

/* A JSON string of bytes that came off the network: UTF-8 as it is, any
 * other byte (and control characters) as %XX so that the reply is always
 * valid JSON and shows what arrived. Returns NULL on allocation failure. */
static json_t *wire_string(const char *s, size_t len)
{
	json_t *j;
	char *buf;
	size_t i, o = 0;

	if (len < 1024u * 1024u) {
		j = json_stringn(s, len);
		if (j != NULL)
			return j;
	}
	buf = malloc(3 * len + 1);
	if (buf == NULL)
		return NULL;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f) {
			buf[o++] = (char)c;
		} else {
			snprintf(buf + o, 4, "%%%02X", c);
			o += 3;
		}
	}
	j = json_stringn(buf, o);
	free(buf);
	return j;
}

static void handle(void *ctx, const struct ndx_http_req *req, struct ndx_http_resp *resp)
{
	const struct testservice *ts = ctx;
	uint8_t digest[NDX_SHA256_LEN];
	char hex[2 * NDX_SHA256_LEN + 1], now[NDX_TIME_TEXT_LEN];
	json_t *headers, *doc;
	size_t i;

	if (strcmp(req->path, "/healthz") == 0 &&
	    (strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0)) {
		ndx_http_resp_json(resp, 200,
				   json_pack("{ssss}", "status", "ok", "service", ts->name));
		return;
	}
	headers = json_object();
	if (headers == NULL)
		goto oom;
	for (i = 0; i < sizeof(reported_headers) / sizeof(reported_headers[0]); i++) {
		size_t len = 0;
		const char *v = ndx_http_header_n(req, reported_headers[i], &len);

		if (v != NULL &&
		    json_object_set_new(headers, reported_headers[i], wire_string(v, len)) != 0) {
			json_decref(headers);
			goto oom;
		}
	}
	ndx_sha256(req->body_len ? req->body : (const uint8_t *)"", req->body_len, digest);
	ndx_hex_encode(digest, sizeof(digest), hex);
	ndx_time_format(time(NULL), now);
	doc = json_pack("{ss so so so so sI ss ss ss}",
			"service", ts->name,
			"method", wire_string(req->method, strlen(req->method)),
			"path", wire_string(req->path, strlen(req->path)),
			"query", wire_string(req->query, strlen(req->query)),
			"headers", headers,
			"body_bytes", (json_int_t)req->body_len,
			"body_sha256", hex,
			"remote_addr", req->remote_addr ? req->remote_addr : "",
			"received_at", now);
	if (doc == NULL)
		goto oom;
	ndx_http_resp_json(resp, 200, doc);
	return;
oom:
	ndx_http_resp_error(resp, 500, "Server.Internal", "out of memory", NULL);
}

static int valid_utf8(const char *s)
{
	json_t *j = json_string(s);

	json_decref(j);
	return j != NULL;
}

/* Splits [ADDR:]PORT; returns 0, or -1 after a usage message. */
static int parse_listen(const char *text, char *addr, size_t cap, uint16_t *port)
{
	return ndx_args_listen(text, addr, cap, port, NULL) == NDX_OK ? 0 : -1;
}

int cmd_testservice(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "name", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *listen = DEFAULT_LISTEN;
	struct testservice ts = { DEFAULT_NAME };
	struct ndx_httpd_config hc = { 0 };
	struct ndx_httpd *srv = NULL;
	char addr[INET_ADDRSTRLEN];
	uint16_t port = 0;
	sigset_t sigs;
	int c, sig;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case 'l': listen = optarg; break;
		case 'n': ts.name = optarg; break;
		case 'h': fputs(usage, stdout); return CLI_EXIT_OK;
		default: return cli_bad_option(usage, argv);
		}
	}
	if (optind < argc)
		return cli_usage_error(usage, "unexpected argument '%s'", argv[optind]);
	if (parse_listen(listen, addr, sizeof(addr), &port) != 0)
		return cli_usage_error(usage, "--listen wants [ADDR:]PORT with an IPv4 address "
				       "and a port from 0 to 65535, not '%s'", listen);
	if (ts.name[0] == '\0' || strlen(ts.name) > NAME_MAX_BYTES || !valid_utf8(ts.name))
		return cli_usage_error(usage, "--name wants 1 to %d bytes of UTF-8",
				       NAME_MAX_BYTES);

	/* Blocked before the pool threads exist, so that they inherit the mask
	 * and only sigwait below ever sees these signals. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	hc.name = "ndx-testservice";
	hc.bind_addr = addr;
	hc.port = port;
	hc.threads = THREADS;
	hc.max_body = MAX_BODY;
	hc.handler = handle;
	hc.ctx = &ts;
	hc.access_log = 1;
	if (ndx_httpd_start(&hc, &srv) != NDX_OK) {
		cli_error("cannot listen on %s:%u", addr, (unsigned)port);
		return CLI_EXIT_FAIL;
	}
	fprintf(stderr, "ndx testservice: listening on http://%s:%u\n", addr,
		(unsigned)ndx_httpd_port(srv));
	if (sigwait(&sigs, &sig) != 0)
		sig = SIGTERM;
	fprintf(stderr, "ndx testservice: %s received, stopping\n",
		sig == SIGINT ? "SIGINT" : "SIGTERM");
	ndx_httpd_stop(srv);
	return CLI_EXIT_OK;
}
