/* Internal interfaces of ndx-gateway, shared by its files: the configuration
 * file (gwconfig.c), the held global configuration (confstate.c), the libcurl
 * transfers towards peers and backends (xfer.c, peer.c, backend.c), message
 * signing (signer.c), the request handlers of both ports (consumer.c,
 * provider.c, metaservices.c), the message log (exchlog.c) and the metrics
 * (metrics.c). Overview: docs/gateway.md and docs/protocol.md. */
#ifndef NDX_GATEWAY_H
#define NDX_GATEWAY_H

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "ndx/conf.h"
#include "ndx/hash.h"
#include "ndx/httpd.h"
#include "ndx/id.h"
#include "ndx/key.h"
#include "ndx/msglog.h"

#include "errors.h"
#include "userheaders.h"

#define GW_PROG "ndx-gateway"
/* Longest header value the gateway accepts or forwards (protocol.md). */
#define GW_HEADER_MAX 1024
#define GW_UUID_LEN 37

/* ---- the configuration file (gwconfig.c) -------------------------------- */

#define GW_BACKEND_SUBJECT_ACCESSES "ndx:subject-accesses"

enum gw_builtin {
	GW_BUILTIN_NONE = 0,
	GW_BUILTIN_SUBJECT_ACCESSES, /* backend "ndx:subject-accesses" (accesses.c) */
};

struct gw_service {
	char *id;        /* canonical service id */
	char *backend;   /* base URL, no trailing slash; NULL for a built-in */
	enum gw_builtin builtin;
	long timeout_ms;
};

/* How a subsystem's information system must connect to the consumer port
 * (docs/gateway.md "Information systems"), as X-Road's NOSSL, SSLNOAUTH and
 * SSLAUTH: plain HTTP or TLS, TLS only, or TLS with one of its registered
 * client certificates. */
enum gw_connection { GW_CONN_HTTP = 0, GW_CONN_TLS, GW_CONN_TLS_CERT };

struct gw_client_auth {
	enum gw_connection conn;
	char (*certs)[2 * NDX_SHA256_LEN + 1]; /* SHA-256 fingerprints (hex) */
	size_t ncerts;
};

/* What SIGHUP may change: a new struct replaces the old one, readers hold a
 * reference (refs) for the length of a request. */
struct gw_settings {
	atomic_uint refs;
	char **subsystems; /* canonical subsystem ids of the own member */
	struct gw_client_auth *auth; /* parallel to subsystems */
	size_t nsubsystems;
	/* Every registered client certificate (PEM), trusted by the TLS
	 * consumer port; NULL when there is none. Taken when the port opens. */
	char *client_trust_pem;
	struct gw_service *services;
	size_t nservices;
	size_t max_body;
	unsigned threads;
	long peer_timeout_ms;
	long connect_timeout_ms;
	long clock_skew_s;
	long conf_refresh_s;
	long consent_refresh_s; /* revocation lists (revocations.c) */
	/* Both ports (ndx_httpd_config), taken when a port opens: a SIGHUP
	 * does not change a port that is already open. */
	unsigned max_connections;
	unsigned max_connections_per_ip;
	unsigned request_deadline_s;
};

struct gw_config {
	char *path;
	char *member;        /* canonical member id */
	struct ndx_id member_id;
	char *code;
	char *data_dir;
	char *conf_dir;      /* data_dir/conf */
	char *anchor_path;
	char *registry_url;
	char *sign_key_path;
	char *tls_key_path;
	char *tls_cert_path;
	char consumer_addr[64];
	uint16_t consumer_port;
	char consumer_tls_addr[64];
	uint16_t consumer_tls_port;  /* 0: no TLS consumer port */
	char gateway_addr[64];
	uint16_t gateway_port;
	struct ndx_anchor *anchor;
	struct ndx_key *sign_key;
	char sign_key_id[NDX_KEY_ID_HEX_LEN + 1];
	char *tls_key_pem;
	char *tls_cert_pem;
	char tls_fingerprint[2 * NDX_SHA256_LEN + 1];
	char *msglog_path;   /* data_dir/msglog.db */
	struct ndx_msglog_options msglog_opt;
	long witness_interval_s;  /* how often tree heads go to the witness (gw_witness.c) */
	long witness_grace_s;     /* how long one may wait for it before exchanges stop */
	struct gw_settings *settings; /* as loaded; handed to the state */
};

/* Loads and checks the file, its keys and certificate. Returns NDX_OK and a
 * new config, or an error with the reason in err. */
int gw_config_load(const char *path, struct gw_config **out, char *err, size_t errcap);
void gw_config_free(struct gw_config *cfg);
void gw_settings_release(struct gw_settings *s);
const struct gw_service *gw_settings_service(const struct gw_settings *s, const char *id);
bool gw_settings_has_subsystem(const struct gw_settings *s, const char *subsystem_id);
/* How subsystem_id must connect; NULL when it is not one of s. */
const struct gw_client_auth *gw_settings_client_auth(const struct gw_settings *s,
						     const char *subsystem_id);

/* ---- the held global configuration (confstate.c) ------------------------ */

struct gw_conf_ref {
	atomic_uint refs;
	struct ndx_conf *conf;
	time_t loaded_at;
};

struct gw_state;

/* A consistent pair for one request; release with gw_view_release. conf is
 * NULL when no configuration is held (an expired one is still handed out:
 * callers compare ndx_conf_expires_at with the clock). */
struct gw_view {
	struct gw_conf_ref *c;
	struct gw_settings *s;
};

/* Takes cfg->settings. Loads the last good copy from cfg->conf_dir (if any
 * and still valid). Does not start polling. */
int gw_state_new(struct gw_config *cfg, struct gw_state **out);
/* Adds the polling of registry_url/conf every conf_refresh_s to the
 * gateway's poller (poller.h), which must outlive neither st nor the
 * task: free the poller before st. */
struct gw_poller;
int gw_state_start(struct gw_state *st, struct gw_poller *p);
/* Fetches once, synchronously (used at start when nothing is held). */
int gw_state_fetch(struct gw_state *st, char *err, size_t errcap);
void gw_state_fetch_soon(struct gw_state *st);
/* Replaces the settings (SIGHUP); takes s. */
void gw_state_set_settings(struct gw_state *st, struct gw_settings *s);
void gw_state_acquire(struct gw_state *st, struct gw_view *v);
void gw_view_release(struct gw_view *v);
/* Stops the poller and frees everything (not cfg). Accepts NULL. */
void gw_state_free(struct gw_state *st);
const struct gw_config *gw_state_config(const struct gw_state *st);
/* True when v holds a configuration that has not expired. */
bool gw_view_live(const struct gw_view *v, time_t now);

/* ---- libcurl transfers (xfer.c) ------------------------------------------ */

enum gw_xfer_result {
	GW_XFER_OK = 0,
	GW_XFER_CONNECT,  /* nothing was sent: another address may be tried */
	GW_XFER_TIMEOUT,
	GW_XFER_FAILED,
	GW_XFER_TOOBIG,   /* the response body exceeds the cap */
	GW_XFER_IDENTITY, /* the peer's certificate is not the expected gateway's */
	GW_XFER_LOCAL,    /* this gateway failed before sending (cannot sign) */
};

enum gw_hdr {
	GW_H_CONTENT_TYPE,
	GW_H_LOCATION,
	GW_H_XROAD_ERROR,
	GW_H_REQUEST_ID,
	GW_H_REQUEST_HASH,
	GW_H_RESPONSE_SIG,
	GW_H_DATA_SUBJECTS, /* Ndx-Data-Subjects (subjects.h) */
	GW_H_CONNECTION,
	GW_H_NDX_HEADERS,   /* the user headers a provider gateway signed */
	GW_H_COUNT,
};

struct gw_xfer_resp {
	long status;
	char *hdr[GW_H_COUNT];
	/* The headers that may be user headers (userheaders.h), as received;
	 * the caller selects with Connection and, from a gateway, Ndx-Headers. */
	struct gw_uh_list user;
	char *body;
	size_t len, cap;
	int toobig;
	int aborted; /* the first-header hook refused */
	/* Called once, at the first header of the final response, with the
	 * handle (e.g. to look at the TLS peer); non-zero aborts. */
	int (*on_headers)(CURL *c, void *ud);
	void *ud;
	char errbuf[CURL_ERROR_SIZE];
};

enum gw_handle_kind { GW_HANDLE_PEER, GW_HANDLE_BACKEND };

/* The calling thread's easy handle of that kind, reset and ready (so its
 * connections are reused), or NULL. Owned by the thread. */
CURL *gw_xfer_handle(enum gw_handle_kind kind);
/* Sets method, body, headers and response capture, performs, classifies. */
enum gw_xfer_result gw_xfer_perform(CURL *c, const char *method, const uint8_t *body,
				    size_t body_len, struct curl_slist *headers,
				    struct gw_xfer_resp *r);
void gw_xfer_resp_free(struct gw_xfer_resp *r);
/* curl_global_init and the thread keys; once from main. */
int gw_xfer_global_init(void);
void gw_xfer_global_cleanup(void);
/* Appends "Name: value" to *list; NDX_ENOMEM. An empty value makes
 * "Name:", which tells curl to leave out a header it would add itself. */
int gw_slist_add(struct curl_slist **list, const char *name, const char *value);
/* Appends every header of l as it is (an empty value is sent empty). */
int gw_slist_add_user(struct curl_slist **list, const struct gw_uh_list *l);

/* ---- peers (peer.c) and backends (backend.c) ----------------------------- */

struct gw_peer_call {
	const struct ndx_conf *conf;
	const char *member;     /* the service's member: whose gateways may answer */
	const char *method;
	const char *url_suffix; /* /r1/{service wire}{path}[?query] */
	const uint8_t *body;
	size_t body_len;
	struct curl_slist *headers;
	const struct gw_config *cfg;
	const struct gw_settings *s;
	/* Called before each gateway is tried, with its object of conf: sets
	 * headers for that gateway, because a request is signed for exactly
	 * one gateway (docs/protocol.md, request hash field 14). Non-zero
	 * stops the call with GW_XFER_LOCAL. */
	int (*prepare)(struct gw_peer_call *call, const struct ndx_conf_gateway *gateway,
		       void *ud);
	void *ud;
	/* X-Road-Security-Server: only the member's gateway of this code; NULL:
	 * any, in order. */
	const char *only_code;
	/* out: the gateway object (of conf) that answered */
	const struct ndx_conf_gateway *gateway;
};

/* The text that names a gateway in Ndx-Gateway and in the request hash:
 * "{member}/{code}". NDX_EINVAL when it does not fit. */
int gw_gateway_name(const char *member, const char *code, char *out, size_t cap);

/* Tries the member's gateways in order, moving on when a connection cannot
 * be made. On GW_XFER_OK r holds the answer and call->gateway the peer. */
enum gw_xfer_result gw_peer_send(struct gw_peer_call *call, struct gw_xfer_resp *r);

struct gw_backend_call {
	const struct gw_service *svc;
	const char *method;
	const char *path;  /* raw, after the service id */
	const char *query; /* raw, without '?' */
	const uint8_t *body;
	size_t body_len;
	struct curl_slist *headers;
	long connect_timeout_ms;
	size_t max_body;
};

enum gw_xfer_result gw_backend_send(const struct gw_backend_call *call, struct gw_xfer_resp *r);

/* ---- signing (signer.c) --------------------------------------------------- */

/* Returns a malloc'd signature object over hash (caller frees), or NULL.
 * Adaptive batch signing: the hashes of concurrent callers are signed
 * together under one Ed25519 signature, each object carrying its own audit
 * path; a lone caller signs a batch of one at once. Blocks at most for the
 * batch signed before its own. Thread-safe. */
char *gw_sign_hash(const struct gw_config *cfg, const uint8_t hash[NDX_SHA256_LEN]);
/* NDX_OK when sig_text is a valid signature object over hash by key
 * (roots already verified are taken from a bounded cache). Else
 * NDX_EINVAL (malformed), NDX_ENOTFOUND (another key) or NDX_EBADSIG, with
 * the reason in err. Thread-safe. */
int gw_verify_hash(const struct ndx_key *key, const char *sig_text,
		   const uint8_t hash[NDX_SHA256_LEN], char *err, size_t errcap);

/* Counters since start, for /metrics. */
struct gw_signer_stats {
	uint64_t messages_signed;   /* signature objects made */
	uint64_t signatures;        /* Ed25519 signatures (batches) */
	uint64_t verifications;     /* Ed25519 verifications */
	uint64_t verify_cache_hits; /* objects accepted from a verified root */
};
void gw_signer_stats(struct gw_signer_stats *st);
/* A random UUID v4 into out. */
int gw_uuid(char out[GW_UUID_LEN]);

/* ---- request handling ----------------------------------------------------- */

struct gw_ctx {
	struct gw_state *state;
	const struct gw_config *cfg;
	struct ndx_msglog *log; /* open from before the ports start until after they stop */
	struct gw_revocations *revs; /* consent revocation lists (personal.h) */
	struct gw_replay *replay;    /* accepted (key id, client, X-Road-Id) (replay.h) */
	struct gw_peerlimit *refusals; /* refusal budgets of calling members (peerlimit.h) */
	struct gw_witness *witness;  /* the registry countersigning tree heads (witness.h) */
	/* This gateway's name in Ndx-Gateway and the request hash, made once */
	char name[NDX_ID_TEXT_MAX + 64];
};

void gw_consumer_handle(void *ctx, const struct ndx_http_req *req, struct ndx_http_resp *resp);
/* The same on the TLS consumer port: subsystems that must connect with TLS
 * (and a client certificate) are served only here. */
void gw_consumer_tls_handle(void *ctx, const struct ndx_http_req *req,
			    struct ndx_http_resp *resp);
void gw_provider_handle(void *ctx, const struct ndx_http_req *req, struct ndx_http_resp *resp);

/* Metaservices on the consumer port. Return true when path was one (and
 * resp is filled). */
/* GET /healthz (health.c): ready, degraded or not, and why. */
void gw_healthz(struct gw_ctx *g, const struct gw_view *v, struct ndx_http_resp *resp);
/* The check of how client's information system connected (plain or TLS
 * consumer port, client certificate: docs/gateway.md "Information
 * systems"): GW_R_COUNT when it may go on, else AuthenticationRequired or
 * AuthenticationFailed. */
enum gw_reason gw_client_connection(const struct gw_settings *s, const char *client,
				    const struct ndx_http_req *req, bool tls);
bool gw_metaservice(struct gw_ctx *g, const struct gw_view *v, const struct ndx_http_req *req,
		    struct ndx_http_resp *resp, bool tls);

/* The built-in "who read my data" provider (accesses.c): fills resp with
 * the exchanges this gateway served about subject (query: limit), newest
 * first. Returns GW_R_COUNT, or the reason of the refusal resp now holds. */
enum gw_reason gw_subject_accesses(struct gw_ctx *g, const struct gw_view *v, const char *subject,
				const struct ndx_http_req *req, const char *rest,
				struct ndx_http_resp *resp);

/* Looks up a request header the gateway may accept: sets *ok to false when
 * its value holds CR, LF or NUL or exceeds GW_HEADER_MAX bytes. Returns the
 * value or NULL (absent). */
const char *gw_header(const struct ndx_http_req *req, const char *name, bool *ok);

/* Sets resp to the error body of a refusal for reason r made on side
 * (errors.h: type, status, detail "{reason}: {specifics}"), in the format
 * req's Accept asks for, WITHOUT the X-Road-Error header, and counts it:
 * an exchange's answer is rendered first so that it can be signed and
 * logged, and its headers go on only once the record is durable (a failed
 * append turns it into LogUnavailable, which must not carry the headers of
 * the answer it replaces). Returns the type (static), which the caller
 * puts in X-Road-Error. specifics may be NULL. (refuse.c) */
const char *gw_refusal_body(struct ndx_http_resp *resp, const struct ndx_http_req *req,
			    enum gw_reason r, enum gw_err_side side, const char *specifics,
			    const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* The same with X-Road-Error set at once, for answers that are not logged. */
void gw_refusal(struct ndx_http_resp *resp, const struct ndx_http_req *req, enum gw_reason r,
		enum gw_err_side side, const char *specifics, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

/* ---- the message log (exchlog.c) -------------------------------------------- */

/* Refills the replay cache (replay.h) after a start from the exchanges the
 * provider accepted in the last window_s seconds, as the message log
 * holds them, so that a restart does not reopen the replay window.
 * *added is how many were added. Returns NDX_OK, NDX_ETOOBIG (the cache
 * filled up first), or the log's error. */
struct gw_replay;
int gw_replay_seed(struct gw_replay *rc, struct ndx_msglog *log, unsigned window_s,
		   size_t *added);

/* Creates data_dir when missing and opens cfg->msglog_path with the signing
 * key (recovering what a crash left). NDX_OK with *out set, or an error
 * explained in err. */
int gw_log_open(const struct gw_config *cfg, struct ndx_msglog **out, char *err, size_t errcap);
/* ndx_msglog_append, plus a stderr line when the log starts or stops
 * failing (not one per request). Returns NDX_OK once rec is durable; on
 * any failure the exchange must be answered 503 Server.LogUnavailable. */
int gw_log_append(struct ndx_msglog *log, const struct ndx_msglog_record *rec);
/* True when the last append failed and that was less than
 * GW_LOG_FAILING_HOLD_S before now (/healthz: not ready). */
#define GW_LOG_FAILING_HOLD_S 10
bool gw_log_failing(time_t now);
/* GET /admin/log/head: the latest signed tree head as JSON. */
void gw_log_head(struct ndx_msglog *log, const struct gw_config *cfg, struct ndx_http_resp *resp);
/* The path a log record holds: rest, then '?' and query when query is not
 * empty. malloc'd (caller frees); NULL when out of memory. */
char *gw_log_path(const char *rest, const char *query);
/* The member id of a canonical client id (its first three parts) into
 * out (cap bytes, cut to fit). */
void gw_member_of(const char *client, char *out, size_t cap);
/* Milliseconds between two CLOCK_MONOTONIC readings. */
int64_t gw_elapsed_ms(const struct timespec *t0);

/* ---- metrics (metrics.c) --------------------------------------------------- */

enum gw_role { GW_ROLE_CONSUMER, GW_ROLE_PROVIDER };

void gw_metrics_begin(void);
/* Counts one finished exchange; service may be NULL (unknown). */
void gw_metrics_end(enum gw_role role, const char *service, int status, double seconds);
/* Counts a refusal this gateway made. */
void gw_metrics_error(enum gw_reason r, enum gw_err_side side);
/* Counts a provider gateway's refusal passed on to a client. */
void gw_metrics_relayed_error(const char *type);
/* Exchanges being handled now, on both ports. */
long gw_metrics_in_flight(void);
/* Renders the Prometheus text (malloc'd) with the held conf's version/age
 * and the message log's head (log may be NULL). */
char *gw_metrics_render(const struct gw_view *v, struct ndx_msglog *log, time_t now);
void gw_metrics_free_all(void);

#endif
