/* ndx-gateway: one member's security gateway. This file parses the command
 * line and wires the parts: gwconfig.c reads the configuration file,
 * confstate.c holds and refreshes the global configuration, consumer.c and
 * provider.c answer the two ports, exchlog.c keeps the message log (open
 * before the ports start, closed after they have drained), metrics.c
 * counts. Signals are handled here, synchronously: SIGTERM/SIGINT drain and
 * exit, SIGHUP reloads.
 * Overview: docs/gateway.md. */
#include <pthread.h>
#include <errno.h>
#include <getopt.h>
#include <gnu/libc-version.h>
#include <malloc.h>
#ifdef NDX_MIMALLOC
#include <mimalloc.h>
#endif
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gateway.h"
#include "xfer.h"
#include "exchlog.h"
#include "metrics.h"
#include "confstate.h"
#include "gwconfig.h"
#include "peerlimit.h"
#include "replay.h"
#include "connector_rt.h"
#include "events.h"
#include "gw_witness.h"
#include "opmon.h"
#include "ndx/err.h"
#include "ndx/sqldb.h"
#include "ndx/pki.h"
#include "ndx/redact.h"
#include "ndx/timefmt.h"
#include "personal.h"
#include "poller.h"
#include "gwloop.h"
#include "gw_console.h"
#include "gw_maintenance.h"

#ifndef NDX_VERSION
#define NDX_VERSION "unknown"
#endif
/* The installed configuration directory (meson.build, docs/install.md). */
#ifndef NDX_CONF_DIR
#define NDX_CONF_DIR "/etc/ndx"
#endif
#define DEFAULT_CONFIG NDX_CONF_DIR "/gateway.json"

static const char USAGE[] =
	"usage: " GW_PROG " [--config FILE] [--check]\n"
	"       " GW_PROG " --error-table | --version | --help\n"
	"\n"
	"Runs one member's security gateway (docs/gateway.md): the consumer port\n"
	"(plain HTTP, X-Road REST protocol /r1/..., /healthz, /metrics, metaservices)\n"
	"and the mutual-TLS gateway port where other members' gateways call the\n"
	"services this member provides.\n"
	"  --config FILE   the JSON configuration file (default " DEFAULT_CONFIG ";\n"
	"                  the systemd unit ndx-gateway@NAME.service gives\n"
	"                  " NDX_CONF_DIR "/gateway-NAME.json, docs/install.md)\n"
	"  --check         load and check the file, the keys, the certificate and the\n"
	"                  last good global configuration, print what was found and\n"
	"                  exit: 0 = would start, 1 = would not\n"
	"  --error-table   print every refusal the gateway makes, a JSON object a line:\n"
	"                  reason, X-Road type on each port, HTTP status, whether the\n"
	"                  caller caused it, when (docs/protocol.md \"Errors\")\n"
	"  --version       print the version\n"
	"Signals: SIGTERM/SIGINT stop accepting, let exchanges in flight finish (at\n"
	"most limits.peer_timeout_ms) and exit 0; SIGHUP re-reads the file's services,\n"
	"limits and subsystems (listen addresses, keys and the connection limits and\n"
	"request deadline of an open port need a restart) and fetches the global\n"
	"configuration at once.\n"
	"With \"console\" in the file, the agency's officials' web console listens\n"
	"on console.listen (default 127.0.0.1:8090, never an exchange port):\n"
	"sign-in with the national e-ID, the gateway's services and grants, the\n"
	"message log's head and verify, maintenance mode and the connection test\n"
	"to peer gateways (docs/gateway-console.md). In maintenance mode new\n"
	"exchanges are refused with 503 Server.ClientProxy.Maintenance (reason\n"
	"Maintenance) and those in flight finish; the state survives a restart.\n"
	"Until a valid global configuration is held the gateway port stays closed and\n"
	"exchanges are refused with 500 Server.ClientProxy.OutdatedGlobalConf\n"
	"(reason NoConfiguration).\n";

/* The HTTP server's own refusals (413, 408) as the error table has them. */
static void http_refusals(struct ndx_httpd_config *hc, enum gw_err_side side)
{
	hc->too_large_type = gw_reason_type(GW_R_BODY_TOO_LARGE, side);
	hc->too_large_reason = gw_reason_info(GW_R_BODY_TOO_LARGE)->reason;
	hc->timeout_type = gw_reason_type(GW_R_REQUEST_TIMEOUT, side);
	hc->timeout_reason = gw_reason_info(GW_R_REQUEST_TIMEOUT)->reason;
	hc->bad_request_type = gw_reason_type(GW_R_BAD_HEADER, side);
	hc->bad_header_reason = gw_reason_info(GW_R_BAD_HEADER)->reason;
	hc->bad_path_reason = gw_reason_info(GW_R_BAD_PATH)->reason;
}

/* Does the global configuration list this gateway with our certificate
 * and key? Returns NULL when it does, else the problem. */
static const char *identity_problem(const struct gw_config *cfg, const struct ndx_conf *conf)
{
	const struct ndx_conf_gateway *gw;

	for (size_t i = 0; (gw = ndx_conf_gateway_of(conf, cfg->member, i)); i++) {
		if (strcmp(gw->code, cfg->code) != 0)
			continue;
		if (strcmp(gw->tls_cert_sha256, cfg->tls_fingerprint) != 0)
			return "its tls_cert_sha256 is not the fingerprint of tls_cert";
		if (strcmp(gw->sign_key_id, cfg->sign_key_id) != 0)
			return "its sign_key_id is not the key id of sign_key";
		if (ndx_conf_is_revoked(conf, cfg->tls_fingerprint) ||
		    ndx_conf_is_revoked(conf, cfg->sign_key_id))
			return "its certificate or signing key is revoked";
		return NULL;
	}
	return "the configuration has no such gateway";
}

static int tls_pair_ok(const struct gw_config *cfg)
{
	BIO *cb = BIO_new_mem_buf(cfg->tls_cert_pem, -1);
	BIO *kb = BIO_new_mem_buf(cfg->tls_key_pem, -1);
	X509 *x = cb ? PEM_read_bio_X509(cb, NULL, NULL, NULL) : NULL;
	EVP_PKEY *k = kb ? PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL) : NULL;
	int ok = x && k && X509_check_private_key(x, k) == 1;

	X509_free(x);
	EVP_PKEY_free(k);
	BIO_free(cb);
	BIO_free(kb);
	return ok;
}

static int check(const struct gw_config *cfg)
{
	struct ndx_conf *conf = NULL;
	char why[512], t[NDX_TIME_TEXT_LEN];
	const char *problem;
	int rc = 0, lrc;
	const struct gw_settings *s = cfg->settings;

	printf("gateway %s %s\n", cfg->member, cfg->code);
	printf("  configuration file  %s\n", cfg->path);
	printf("  consumer port       http://%s:%u\n", cfg->consumer_addr, cfg->consumer_port);
	printf("  gateway port        https://%s:%u%s%s\n", cfg->gateway_addr, cfg->gateway_port,
	       cfg->http_engine == NDX_HTTPD_H2O ? " (h2o)" : "",
	       cfg->peer_http2 ? " (HTTP/2 between gateways)" : "");
	printf("  registry            %s (anchor instance %s)\n", cfg->registry_url,
	       ndx_anchor_instance(cfg->anchor));
	for (size_t i = 1; i < cfg->n_registry_urls; i++)
		printf("  registry, failover  %s\n", cfg->registry_urls[i]);
	printf("  signing key id      %s\n", cfg->sign_key_id);
	printf("  message log         %s (%s; batches of up to %u records or %u ms)\n",
	       cfg->msglog_path,
	       ndx_msglog_is_connection_string(cfg->msglog_path) ? "PostgreSQL"
	       : access(cfg->msglog_path, F_OK) == 0		 ? "exists"
								 : "will be created",
	       cfg->msglog_opt.batch_max, cfg->msglog_opt.batch_interval_ms);
	printf("  event store         %s (%s)\n", cfg->events_path,
	       ndx_sqldb_is_pg(cfg->events_path)	     ? "PostgreSQL"
	       : access(cfg->events_path, F_OK) == 0 ? "exists"
						     : "will be created");
	printf("  connector store     %s (%s)\n", cfg->connector_path,
	       ndx_sqldb_is_pg(cfg->connector_path)	? "PostgreSQL"
	       : access(cfg->connector_path, F_OK) == 0 ? "exists"
							: "will be created");
	printf("  connector catalogue %s\n",
	       cfg->connector_credential ? "with the member's credential (connector.credential)"
					 : "public offers only (no connector.credential)");
	printf("  opmon store         %s (%s)\n", cfg->opmon_path,
	       ndx_sqldb_is_pg(cfg->opmon_path)	    ? "PostgreSQL"
	       : access(cfg->opmon_path, F_OK) == 0 ? "exists"
						    : "will be created");
	printf("  TLS cert sha256     %s\n", cfg->tls_fingerprint);
	for (size_t i = 0; i < s->nsubsystems; i++)
		printf("  consumer subsystem  %s\n", s->subsystems[i]);
	for (size_t i = 0; i < s->nservices; i++)
		printf("  service             %s -> %s (timeout %ld ms)\n", s->services[i].id,
		       s->services[i].backend, s->services[i].timeout_ms);
	if (cfg->console.enabled) {
		size_t n = 0;

		printf("  console             http://%s:%u/console/ (e-ID %s, client %s)\n",
		       cfg->console.addr, (unsigned)cfg->console.port, cfg->console.issuer,
		       cfg->console.client_id);
		if (gw_console_officials_check(cfg->console.officials_path, &n, why,
					       sizeof why) != NDX_OK) {
			printf("  problem: console officials: %s\n", why);
			rc = 1;
		} else {
			printf("  console officials   %zu (%s)\n", n, cfg->console.officials_path);
		}
		if (access(cfg->console.secret_path, R_OK) != 0) {
			printf("  problem: console.client_secret_file %s is not readable\n",
			       cfg->console.secret_path);
			rc = 1;
		}
	} else {
		printf("  console             off\n");
	}
	if (!tls_pair_ok(cfg)) {
		printf("  problem: tls_key does not belong to tls_cert\n");
		rc = 1;
	}
	lrc = ndx_conf_load_dir_deltas(cfg->conf_dir, cfg->anchor, time(NULL), &conf, NULL, why,
				       sizeof why);
	if (lrc == NDX_OK) {
		ndx_time_format(ndx_conf_expires_at(conf), t);
		printf("  global conf         version %llu, expires %s (%s)\n",
		       (unsigned long long)ndx_conf_version(conf), t, cfg->conf_dir);
		if ((problem = identity_problem(cfg, conf))) {
			printf("  problem: gateway %s %s in the global configuration: %s\n",
			       cfg->member, cfg->code, problem);
			rc = 1;
		}
		if (!ndx_conf_ca_certificate(conf)) {
			printf("  problem: the global configuration names no CA certificate\n");
			rc = 1;
		}
		ndx_conf_free(conf);
	} else if (lrc == NDX_EIO) {
		printf("  global conf         none held yet; will fetch %s/conf\n",
		       cfg->registry_url);
	} else {
		printf("  global conf         the held copy is not usable (%s); will fetch %s/conf\n",
		       why, cfg->registry_url);
	}
	printf(rc ? "would not start\n" : "would start\n");
	return rc;
}

/* Said after a port's address when it is not on the default engine. */
static const char *engine_note(const struct gw_config *cfg)
{
	return cfg->http_engine == NDX_HTTPD_MHD ? " (libmicrohttpd)" : "";
}

static int start_gateway_port(struct gw_ctx *g, struct ndx_httpd **out)
{
	struct gw_view v;
	struct ndx_httpd_config hc = { 0 };
	const char *ca;
	int rc;

	gw_state_acquire(g->state, &v);
	if (!gw_view_live(&v, time(NULL))) {
		gw_view_release(&v);
		return NDX_ENOTFOUND;
	}
	ca = ndx_conf_ca_certificate(v.c->conf);
	hc.name = GW_PROG;
	hc.bind_addr = g->cfg->gateway_addr;
	hc.port = g->cfg->gateway_port;
	hc.threads = v.s->threads;
	hc.max_body = v.s->max_body;
	hc.max_connections = v.s->max_connections;
	hc.max_connections_per_ip = v.s->max_connections_per_ip;
	hc.request_deadline_s = v.s->request_deadline_s;
	http_refusals(&hc, GW_SIDE_PROVIDER);
	hc.handler = gw_provider_handle;
	hc.ctx = g;
	hc.loop = gw_loops_event_loop(g->loops, 1);
	hc.access_log = 1;
	hc.strict = 1;
	hc.tls_cert_pem = g->cfg->tls_cert_pem;
	hc.tls_key_pem = g->cfg->tls_key_pem;
	hc.tls_trust_pem = ca;
	hc.engine = g->cfg->http_engine;
	hc.http2 = g->cfg->peer_http2;
	rc = ca ? ndx_httpd_start(&hc, out) : NDX_EINVAL;
	if (!ca)
		fprintf(stderr, GW_PROG ": the global configuration names no CA certificate\n");
	else if (rc == NDX_OK) {
		fprintf(stderr, GW_PROG ": gateway port listening on https://%s:%u%s%s\n",
			g->cfg->gateway_addr, (unsigned)ndx_httpd_port(*out), engine_note(g->cfg),
			g->cfg->peer_http2 ? " (HTTP/2 offered)" : "");
		atomic_store(&g->gateway_port_open, true);
	}
	{
		const char *problem = identity_problem(g->cfg, v.c->conf);
		if (problem)
			fprintf(stderr,
				GW_PROG ": warning: gateway %s %s in the global configuration: %s\n",
				g->cfg->member, g->cfg->code, problem);
	}
	gw_view_release(&v);
	return rc;
}

/* The TLS consumer port (docs/gateway.md "Information systems"): the
 * consumer port's settings in hc, with the gateway's own TLS certificate,
 * asking clients for a certificate among those the subsystems registered
 * (taken now: a SIGHUP does not change an open port). */
static int start_consumer_tls_port(struct gw_ctx *g, const struct ndx_httpd_config *plain,
				   struct ndx_httpd **out)
{
	struct ndx_httpd_config hc = *plain;
	struct gw_view v;
	int rc;

	gw_state_acquire(g->state, &v);
	hc.bind_addr = g->cfg->consumer_tls_addr;
	hc.port = g->cfg->consumer_tls_port;
	hc.handler = gw_consumer_tls_handle;
	hc.loop = gw_loops_event_loop(g->loops, 2);
	hc.tls_cert_pem = g->cfg->tls_cert_pem;
	hc.tls_key_pem = g->cfg->tls_key_pem;
	hc.tls_trust_pem = v.s->client_trust_pem;
	rc = ndx_httpd_start(&hc, out);
	gw_view_release(&v);
	if (rc == NDX_OK)
		fprintf(stderr, GW_PROG ": TLS consumer port listening on https://%s:%u%s\n",
			g->cfg->consumer_tls_addr, (unsigned)ndx_httpd_port(*out),
			engine_note(g->cfg));
	return rc;
}

static void reload(struct gw_ctx *g)
{
	struct gw_config *n = NULL;
	char err[1024];

	if (gw_config_load(g->cfg->path, &n, err, sizeof err) != NDX_OK) {
		fprintf(stderr, GW_PROG ": SIGHUP: keeping the running configuration: %s\n", err);
		return;
	}
	if (strcmp(n->member, g->cfg->member) != 0 || strcmp(n->code, g->cfg->code) != 0)
		fprintf(stderr, GW_PROG ": SIGHUP: member and code need a restart; ignored\n");
	gw_replay_set_window(g->replay, (unsigned)(2 * n->settings->clock_skew_s + 1));
	gw_state_set_settings(g->state, n->settings);
	n->settings = NULL;
	gw_config_free(n);
	fprintf(stderr, GW_PROG ": SIGHUP: services, limits and subsystems reloaded\n");
	gw_state_fetch_soon(g->state);
}

/* An exchange is allocated on one thread and freed on another (the log
 * writer's callback ends it). glibc then trims each thread's heap as soon
 * as its free top passes 128 KiB and faults the same pages in again for
 * the next exchanges: measured, a fifth of the gateways' CPU at 64
 * connections went to page faults and heap growth (bench/README.md). A
 * server that will need the memory again keeps it. */
static void keep_freed_memory(void)
{
	mallopt(M_TRIM_THRESHOLD, 256 * 1024 * 1024);
	mallopt(M_TOP_PAD, 16 * 1024 * 1024);
	mallopt(M_MMAP_THRESHOLD, 1024 * 1024);
}

/* A build that links mimalloc (meson.build says why) has it in malloc's
 * place, ahead of libc in the dynamic linker's lookup order; a block from
 * malloc that mimalloc knows as its own proves it did. Otherwise (the
 * sanitizer builds) glibc's malloc serves, tuned as above. */
static void choose_allocator(void)
{
#ifdef NDX_MIMALLOC
	void *probe = malloc(64);
	bool ours = probe != NULL && mi_is_in_heap_region(probe);

	free(probe);
	if (ours) {
		int v = mi_version();
		char text[16];

		snprintf(text, sizeof text, "%d.%d.%d", v / 100, v % 100 / 10, v % 10);
		gw_metrics_set_allocator("mimalloc", text);
		return;
	}
#endif
	gw_metrics_set_allocator("glibc", gnu_get_libc_version());
	keep_freed_memory();
}

static int serve(struct gw_config *cfg)
{
	struct gw_state *state = NULL;
	struct gw_poller *poller = NULL;
	struct ndx_msglog *log = NULL;
	struct gw_ctx g = { 0 };
	struct ndx_httpd *consumer = NULL, *consumer_tls = NULL, *gateway = NULL;
	struct gw_console *console = NULL;
	struct ndx_httpd_config hc = { 0 };
	sigset_t set;
	char err[1024];
	int rc = 1, sig;
	unsigned replay_window;
	long drain_ms;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	/* Blocked before any thread exists, so every thread inherits the mask
	 * and only sigtimedwait below sees these signals. */
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	choose_allocator();

	if (gw_xfer_global_init() != NDX_OK) {
		fprintf(stderr, GW_PROG ": cannot initialise libcurl\n");
		return 1;
	}
	hc.threads = cfg->settings->threads;
	hc.max_body = cfg->settings->max_body;
	hc.max_connections = cfg->settings->max_connections;
	hc.max_connections_per_ip = cfg->settings->max_connections_per_ip;
	hc.request_deadline_s = cfg->settings->request_deadline_s;
	http_refusals(&hc, GW_SIDE_CONSUMER);
	if (gw_gateway_name(cfg->member, cfg->code, g.name, sizeof g.name) != NDX_OK) {
		fprintf(stderr, GW_PROG ": member and code make too long a gateway name\n");
		goto out;
	}
		/* Before gw_state_new, which takes cfg->settings. */
	replay_window = (unsigned)(2 * cfg->settings->clock_skew_s + 1);
	g.replay = gw_replay_new(GW_REPLAY_DEFAULT_CAPACITY, replay_window);
	g.refusals = gw_peerlimit_new(GW_REFUSALS_PER_S_DEFAULT, GW_REFUSAL_BURST_DEFAULT);
	if (!g.replay || !g.refusals) {
		fprintf(stderr, GW_PROG ": out of memory (replay cache)\n");
		goto out;
	}
	/* No member may hold more than half of the cache: the others keep
	 * the rest whatever one of them sends (docs/security.md T35). */
	gw_replay_set_share(g.replay, GW_REPLAY_DEFAULT_CAPACITY / 2);
	if (gw_state_new(cfg, &state) != NDX_OK) {
		fprintf(stderr, GW_PROG ": out of memory\n");
		goto out;
	}
	if (gw_log_open(cfg, &log, err, sizeof err) != NDX_OK) {
		fprintf(stderr, GW_PROG ": %s\n", err);
		goto out;
	}
	{
		/* Operational monitoring records: statistics, so a store that
		 * cannot be opened costs the records, never the exchanges. */
		struct gw_opmon_options oo = { .retention_s = cfg->opmon_retention_s,
					       .max_records = cfg->opmon_max_records,
					       .queue_cap = GW_OPMON_QUEUE_DEFAULT };
		if (gw_opmon_open(cfg->opmon_path, &oo, &g.opmon, err, sizeof err) != NDX_OK)
			fprintf(stderr, GW_PROG ": %s; no operational monitoring records are "
					"kept\n", err);
	}
	{
		/* The access log names people by keyed tags that stay the same
		 * across restarts (docs/security.md T34). */
		char keypath[4096];
		snprintf(keypath, sizeof keypath, "%s/log.key", cfg->data_dir);
		if (ndx_redact_load_key(keypath) != NDX_OK)
			fprintf(stderr, GW_PROG ": %s: cannot read or create the log key; PINs in "
					"the access log are tagged with a key of this run only\n",
				keypath);
	}
	{
		struct ndx_msglog_head h;
		ndx_msglog_head(log, &h);
		fprintf(stderr, GW_PROG ": message log %s: %llu records, %llu batches\n",
			cfg->msglog_path, (unsigned long long)h.last_seq,
			(unsigned long long)h.sth.batch);
	}
	{
		size_t added = 0;
		int r = gw_replay_seed(g.replay, log, replay_window, &added);
		if (r != NDX_OK)
			fprintf(stderr, GW_PROG ": replay cache: cannot refill it from the message log "
					"(%s); %zu ids refilled\n", ndx_strerror(r), added);
		else if (added)
			fprintf(stderr, GW_PROG ": replay cache: %zu message ids of the last %u s "
					"refilled from the message log\n", added, replay_window);
	}
	if (gw_maintenance_open(cfg->data_dir, &g.maint, err, sizeof err) != NDX_OK) {
		fprintf(stderr, GW_PROG ": %s\n", err);
		goto out;
	}
	if (gw_maintenance_on(g.maint))
		fprintf(stderr, GW_PROG ": in maintenance: new exchanges are refused until an "
				"administrator switches it off in the console\n");
	g.state = state;
	g.cfg = cfg;
	g.log = log;
	if (gw_witness_start(cfg, log, g.name, &g.witness) != NDX_OK) {
		fprintf(stderr, GW_PROG ": cannot start the witness thread\n");
		goto out;
	}
	{
		struct gw_view v;
		gw_state_acquire(state, &v);
		if (!gw_view_live(&v, time(NULL)) && gw_state_fetch(state, err, sizeof err) != NDX_OK)
			fprintf(stderr,
				GW_PROG ": no valid global configuration yet (%s); retrying every "
					"conf_refresh_s\n",
				err);
		gw_view_release(&v);
	}
	/* One thread polls the configuration and the consent status lists. */
	if (!(poller = gw_poller_new()) || gw_state_start(state, poller) != NDX_OK ||
	    gw_revocations_new(state, &g.revs) != NDX_OK ||
	    gw_revocations_start(g.revs, poller) != NDX_OK || gw_poller_start(poller) != 0) {
		fprintf(stderr, GW_PROG ": cannot start the poller\n");
		goto out;
	}
	{
		char why[256];
		struct gw_view v;
		unsigned nloops;

		/* Read at start: a SIGHUP does not change the loops. */
		gw_state_acquire(state, &v);
		nloops = v.s->threads;
		gw_view_release(&v);
		if (gw_loops_start(nloops, &g.loops, why, sizeof why) != NDX_OK) {
			fprintf(stderr, GW_PROG ": %s\n", why);
			goto out;
		}
		if (gw_events_start(&g, &g.events, why, sizeof why) != NDX_OK) {
			fprintf(stderr, GW_PROG ": events: %s\n", why);
			goto out;
		}
		if (gw_connector_start(&g, &g.connector, why, sizeof why) != NDX_OK) {
			fprintf(stderr, GW_PROG ": connector: %s\n", why);
			goto out;
		}
	}
	hc.name = GW_PROG;
	hc.bind_addr = cfg->consumer_addr;
	hc.port = cfg->consumer_port;
	hc.handler = gw_consumer_handle;
	hc.ctx = &g;
	/* Each port runs on an exchange loop of its own while there are enough
	 * (gwloop.h): its handlers run there, nothing waits. */
	hc.loop = gw_loops_event_loop(g.loops, 0);
	hc.access_log = 1;
	hc.strict = 1;
	hc.engine = cfg->http_engine; /* the TLS consumer port takes it from hc too */
	if (ndx_httpd_start(&hc, &consumer) != NDX_OK)
		goto out;
	fprintf(stderr, GW_PROG ": consumer port listening on http://%s:%u%s\n", cfg->consumer_addr,
		(unsigned)ndx_httpd_port(consumer), engine_note(cfg));
	if (cfg->consumer_tls_port && start_consumer_tls_port(&g, &hc, &consumer_tls) != NDX_OK)
		goto out;
	if (start_gateway_port(&g, &gateway) == NDX_EIO)
		goto out;
	if (cfg->console.enabled && gw_console_start(&g, &console, err, sizeof err) != NDX_OK) {
		fprintf(stderr, GW_PROG ": console: %s\n", err);
		goto out;
	}

	for (;;) {
		struct timespec tick = { 0, 200 * 1000 * 1000 };
		sig = sigtimedwait(&set, NULL, &tick);
		if (sig == SIGTERM || sig == SIGINT)
			break;
		if (sig == SIGHUP)
			reload(&g);
		if (!gateway && start_gateway_port(&g, &gateway) == NDX_EIO)
			goto out;
	}
	fprintf(stderr, GW_PROG ": stopping: finishing exchanges in flight\n");
	{
		struct gw_view v;
		gw_state_acquire(state, &v);
		drain_ms = v.s->peer_timeout_ms + 1000;
		gw_view_release(&v);
	}
	if (gateway)
		ndx_httpd_drain(gateway, 0);
	if (consumer_tls)
		ndx_httpd_drain(consumer_tls, (unsigned)drain_ms);
	ndx_httpd_drain(consumer, (unsigned)drain_ms);
	if (gateway)
		ndx_httpd_drain(gateway, (unsigned)drain_ms);
	rc = 0;
out:
	/* The events thread answers what it holds and stops taking work;
	 * deliveries still in flight stay queued for the next start. Then the
	 * loops finish what they hold (the ports have drained, or stop now);
	 * answers still waiting for the log go out from its writer, and each
	 * port's stop waits for them. */
	gw_console_stop(console);
	gw_events_stop(g.events);
	gw_connector_stop(g.connector);
	gw_loops_stop(g.loops);
	ndx_httpd_stop(gateway);
	ndx_httpd_stop(consumer_tls);
	ndx_httpd_stop(consumer);
	gw_loops_free(g.loops);
	g.loops = NULL;
	gw_witness_free(g.witness);
	/* No handler runs any more: the open batch is closed and signed. */
	if (ndx_msglog_close(log) != NDX_OK) {
		fprintf(stderr, GW_PROG ": message log: the last batch could not be written; it "
				"is closed when the log is next opened\n");
		rc = 1;
	}
	/* Last: the loops and the log's writer may still have reported to it. */
	gw_events_free(g.events);
	gw_connector_free(g.connector);
	g.events = NULL;
	/* After everything that records: the loops, the log's callbacks, events. */
	gw_opmon_close(g.opmon);
	g.opmon = NULL;
	/* The poller's tasks use the state and the lists: it stops first. */
	gw_poller_free(poller);
	gw_revocations_free(g.revs);
	gw_replay_free(g.replay);
	gw_peerlimit_free(g.refusals);
	gw_maintenance_free(g.maint);
	gw_state_free(state);
	gw_xfer_global_cleanup();
	gw_metrics_free_all();
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "error-table", no_argument, NULL, 'E' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = DEFAULT_CONFIG;
	struct gw_config *cfg = NULL;
	char err[1024];
	int c, do_check = 0, rc;

	/* Data directory, message log, keys: nobody else's to read. */
	umask(077);
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c': path = optarg; break;
		case 'k': do_check = 1; break;
		case 'h': fputs(USAGE, stdout); return 0;
		case 'V': printf(GW_PROG " " NDX_VERSION "\n"); return 0;
		case 'E': return gw_err_print_table() == 0 ? 0 : 1;
		default: fputs(USAGE, stderr); return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, GW_PROG ": unexpected argument\n%s", USAGE);
		return 2;
	}
	if (gw_config_load(path, &cfg, err, sizeof err) != NDX_OK) {
		fprintf(stderr, GW_PROG ": %s\n", err);
		if (do_check)
			printf("would not start\n");
		return 1;
	}
	rc = do_check ? check(cfg) : serve(cfg);
	gw_config_free(cfg);
	return rc;
}
