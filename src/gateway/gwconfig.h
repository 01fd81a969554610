/* The gateway's configuration file (gwconfig.c, docs/gateway.md): what is
 * read once at start, and the settings a SIGHUP may replace. */
#ifndef NDX_GATEWAY_GWCONFIG_H
#define NDX_GATEWAY_GWCONFIG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ndx/conf.h"
#include "ndx/hash.h"
#include "ndx/id.h"
#include "ndx/key.h"
#include "ndx/msglog.h"

#define GW_PROG "ndx-gateway"
/* Longest header value the gateway accepts or forwards (protocol.md). */
#define GW_HEADER_MAX 1024
/* Registry nodes a gateway may list (registry_urls). */
#define GW_REGISTRY_URLS_MAX 8
#define GW_UUID_LEN 37

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
	/* Where events delivered to this subsystem are pushed (events.h):
	 * an http(s):// URL or unix:/SOCKET[:/PATH]; NULL: pulled only. */
	char *push_url;
	long push_timeout_ms;
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

/* "console": the gateway's web console for the agency's officials
 * (gw_console.c, docs/gateway-console.md), off when the file has none.
 * Read once at start. */
struct gw_console_cfg {
	bool enabled;
	char addr[64];        /* console.listen, default 127.0.0.1:8090 */
	uint16_t port;
	char *issuer;         /* console.eid: the national e-ID */
	char *client_id;      /* console.client_id there */
	char *secret_path;    /* console.client_secret_file */
	char *officials_path; /* console.officials: read at every request */
	char *public_url;     /* console.public_url, default http://listen */
	char *web_dir;        /* console.web, default NDX_DATA_DIR/web */
	char *assets_dir;     /* console.assets, default NDX_DATA_DIR/govuk-frontend */
};

struct gw_config {
	char *path;
	char *member;        /* canonical member id */
	struct ndx_id member_id;
	char *code;
	char *data_dir;
	char *conf_dir;      /* data_dir/conf */
	char *anchor_path;
	char *registry_url;  /* registry_urls[0] */
	/* Every registry node to fetch /conf from, in the order tried: the
	 * config's registry_urls, or its registry_url, or the anchor's. */
	char **registry_urls;
	size_t n_registry_urls;
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
	/* events.store: data_dir/events.db, another file, or a postgresql://
	 * connection string (evstore.h) */
	char *events_path;
	/* connector.store: data_dir/connector.db, another file, or a
	 * postgresql:// connection string (connector.h) */
	char *connector_path;
	/* connector.credential: the member's registry credential (the token
	 * `ndx-registry token add NAME --member M` prints), read at start from
	 * the file it names, or NULL: the connector then reads only the offers
	 * the registry's catalogue shows anyone (connector.c). A secret:
	 * cleansed when freed, never printed. */
	char *connector_credential;
	long witness_interval_s;  /* how often tree heads go to the witness (gw_witness.c) */
	long witness_grace_s;     /* how long one may wait for it before exchanges stop */
	char *opmon_path;         /* opmon.store: data_dir/opmon.db, a file or a postgresql:// string (opmon.h) */
	long opmon_retention_s;   /* opmon.retention_s: records older than this go */
	long opmon_max_records;   /* opmon.max_records: the oldest beyond this go */
	int http_engine;          /* http.engine: NDX_HTTPD_H2O (default) or NDX_HTTPD_MHD */
	/* http.peer_http2: HTTP/2 between gateways (the gateway port offers
	 * it, calls to other gateways ask for it); default: on with h2o */
	bool peer_http2;
	struct gw_console_cfg console;
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

#endif
