/* The gateway's configuration file (docs/gateway.md "Configuration file"):
 * a JSON document read with jansson, every key checked and defaulted,
 * relative paths resolved against the file's directory, and the material it
 * names loaded once: the anchor, the Ed25519 signing key, the TLS key and
 * certificate (kept as PEM for MHD and libcurl, fingerprinted once). The
 * part SIGHUP may change lives in a separate, reference-counted struct
 * gw_settings so that requests in flight keep the one they started with. */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <openssl/crypto.h>

#include "gwconfig.h"
#include "ndx/httpd.h"
#include "opmon.h"
#include "ndx/args.h"
#include "ndx/err.h"
#include "ndx/file.h"
#include "ndx/pki.h"
#include "ndx/unixsock.h"

#define CONFIG_FILE_MAX (4u * 1024u * 1024u)
#define PEM_FILE_MAX (256u * 1024u)
#define DEFAULT_MAX_BODY (10u * 1024u * 1024u)

static char *dup_str(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* dir/p, or p itself when absolute. */
static char *resolve(const char *dir, const char *p)
{
	char *out;
	size_t n;

	if (p[0] == '/')
		return strdup(p);
	n = strlen(dir) + strlen(p) + 2;
	out = malloc(n);
	if (out)
		snprintf(out, n, "%s/%s", dir, p);
	return out;
}

void gw_settings_release(struct gw_settings *s)
{
	if (!s || atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
		return;
	for (size_t i = 0; i < s->nsubsystems; i++)
		free(s->subsystems[i]);
	/* One past the subsystems too: an entry that failed half-way may
	 * hold its certificates (auth has room for it). */
	for (size_t i = 0; s->auth && i <= s->nsubsystems; i++) {
		free(s->auth[i].certs);
		free(s->auth[i].push_url);
	}
	free(s->subsystems);
	free(s->auth);
	free(s->client_trust_pem);
	for (size_t i = 0; i < s->nservices; i++) {
		free(s->services[i].id);
		free(s->services[i].backend);
	}
	free(s->services);
	free(s);
}

const struct gw_service *gw_settings_service(const struct gw_settings *s, const char *id)
{
	/* A gateway serves a handful of services: a scan beats a hash here. */
	for (size_t i = 0; i < s->nservices; i++)
		if (strcmp(s->services[i].id, id) == 0)
			return &s->services[i];
	return NULL;
}

bool gw_settings_has_subsystem(const struct gw_settings *s, const char *subsystem_id)
{
	return gw_settings_client_auth(s, subsystem_id) != NULL;
}

const struct gw_client_auth *gw_settings_client_auth(const struct gw_settings *s,
						     const char *subsystem_id)
{
	for (size_t i = 0; i < s->nsubsystems; i++)
		if (strcmp(s->subsystems[i], subsystem_id) == 0)
			return &s->auth[i];
	return NULL;
}

void gw_config_free(struct gw_config *cfg)
{
	if (!cfg)
		return;
	free(cfg->path);
	free(cfg->member);
	free(cfg->code);
	free(cfg->data_dir);
	free(cfg->conf_dir);
	free(cfg->msglog_path);
	free(cfg->events_path);
	free(cfg->connector_path);
	if (cfg->connector_credential) {
		OPENSSL_cleanse(cfg->connector_credential, strlen(cfg->connector_credential));
		free(cfg->connector_credential);
	}
	free(cfg->opmon_path);
	free(cfg->anchor_path);
	free(cfg->registry_url);
	for (size_t i = 0; i < cfg->n_registry_urls; i++)
		free(cfg->registry_urls[i]);
	free(cfg->registry_urls);
	free(cfg->sign_key_path);
	free(cfg->tls_key_path);
	free(cfg->tls_cert_path);
	ndx_anchor_free(cfg->anchor);
	ndx_key_free(cfg->sign_key);
	if (cfg->tls_key_pem) {
		memset(cfg->tls_key_pem, 0, strlen(cfg->tls_key_pem));
		free(cfg->tls_key_pem);
	}
	free(cfg->tls_cert_pem);
	free(cfg->console.issuer);
	free(cfg->console.client_id);
	free(cfg->console.secret_path);
	free(cfg->console.officials_path);
	free(cfg->console.public_url);
	free(cfg->console.web_dir);
	free(cfg->console.assets_dir);
	gw_settings_release(cfg->settings);
	free(cfg);
}

static int get_str(json_t *doc, const char *key, bool required, const char **out, char *err,
		   size_t errcap)
{
	json_t *v = json_object_get(doc, key);
	*out = NULL;
	if (!v || json_is_null(v)) {
		if (required)
			return ndx_fail(err, errcap, NDX_EINVAL, "%s: required", key);
		return NDX_OK;
	}
	if (!json_is_string(v) || json_string_length(v) == 0)
		return ndx_fail(err, errcap, NDX_EINVAL, "%s: expected a non-empty string", key);
	*out = json_string_value(v);
	return NDX_OK;
}

static unsigned cpus_usable(void)
{
	cpu_set_t set;
	int n;

	if (sched_getaffinity(0, sizeof set, &set) != 0)
		return 1;
	n = CPU_COUNT(&set);
	return n > 0 ? (unsigned)n : 1;
}

static int get_long(json_t *obj, const char *where, const char *key, long min, long max,
		    long def, long *out, char *err, size_t errcap)
{
	json_t *v = json_object_get(obj, key);
	if (!v || json_is_null(v)) {
		*out = def;
		return NDX_OK;
	}
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
		return ndx_fail(err, errcap, NDX_EINVAL, "%s%s: expected an integer from %ld to %ld",
			    where, key, min, max);
	*out = (long)json_integer_value(v);
	return NDX_OK;
}

static int parse_listen(const char *key, const char *text, char *addr, size_t addrcap,
			uint16_t *port, char *err, size_t errcap)
{
	const char *why = NULL;

	if (ndx_args_listen(text, addr, addrcap, port, &why) != NDX_OK)
		return ndx_fail(err, errcap, NDX_EINVAL, "%s: \"%s\": %s", key, text, why);
	return NDX_OK;
}

static int read_pem(const char *what, const char *path, char **out, char *err, size_t errcap);
static char *resolve(const char *dir, const char *p);

/* An http(s):// URL or unix:/SOCKET[:/PATH] without query or fragment: the
 * form of a backend and of a push endpoint. */
static bool endpoint_ok(const char *url)
{
	char sock[NDX_UNIX_PATH_MAX + 1];
	const char *rest;

	if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8) && strncmp(url, "unix:", 5))
		return false;
	if (strncmp(url, "unix:", 5) == 0 && ndx_unix_url_split(url, sock, &rest) != NDX_OK)
		return false;
	return !strchr(url, '?') && !strchr(url, '#');
}

/* An entry of subsystems given as an object: {"code", "connection":
 * "http"|"tls"|"tls-cert", "certificates": [PEM files], "push": URL,
 * "push_timeout_ms": N}. Fills *a and appends the certificates to *trust. */
static int load_client_auth(const json_t *v, size_t i, const char *dir, struct gw_client_auth *a,
			    char **trust, char *err, size_t errcap)
{
	const char *conn = json_string_value(json_object_get(v, "connection"));
	const json_t *certs = json_object_get(v, "certificates"), *c;
	const json_t *push = json_object_get(v, "push");
	const char *key;
	json_t *unused;
	size_t j;
	char where[48];
	int rc;

	json_object_foreach((json_t *)v, key, unused) {
		if (strcmp(key, "code") && strcmp(key, "connection") && strcmp(key, "certificates") &&
		    strcmp(key, "push") && strcmp(key, "push_timeout_ms"))
			return ndx_fail(err, errcap, NDX_EINVAL, "subsystems[%zu].%s: not a field of "
				    "a subsystem", i, key);
	}
	if (push && (!json_string_value(push) || !endpoint_ok(json_string_value(push))))
		return ndx_fail(err, errcap, NDX_EINVAL,
			    "subsystems[%zu].push: an http:// or https:// URL or unix:/SOCKET[:/PATH] "
			    "(without query or fragment) where its events are pushed", i);
	snprintf(where, sizeof where, "subsystems[%zu].", i);
	if ((rc = get_long((json_t *)v, where, "push_timeout_ms", 1, 600000, 10000,
			   &a->push_timeout_ms, err, errcap)))
		return rc;
	if (push && !(a->push_url = strdup(json_string_value(push))))
		return ndx_fail(err, errcap, NDX_ENOMEM, "out of memory");
	if (!conn || strcmp(conn, "http") == 0)
		a->conn = GW_CONN_HTTP;
	else if (strcmp(conn, "tls") == 0)
		a->conn = GW_CONN_TLS;
	else if (strcmp(conn, "tls-cert") == 0)
		a->conn = GW_CONN_TLS_CERT;
	else
		return ndx_fail(err, errcap, NDX_EINVAL,
			    "subsystems[%zu].connection: expected http, tls or tls-cert", i);
	if (a->conn != GW_CONN_TLS_CERT) {
		if (certs)
			return ndx_fail(err, errcap, NDX_EINVAL, "subsystems[%zu].certificates: only "
				    "with \"connection\": \"tls-cert\"", i);
		return NDX_OK;
	}
	if (!json_is_array(certs) || json_array_size(certs) == 0)
		return ndx_fail(err, errcap, NDX_EINVAL, "subsystems[%zu].certificates: tls-cert needs "
			    "a non-empty array of certificate files", i);
	if (!(a->certs = calloc(json_array_size(certs), sizeof *a->certs)))
		return ndx_fail(err, errcap, NDX_ENOMEM, "out of memory");
	json_array_foreach(certs, j, c) {
		char *path, *pem = NULL, *grown;
		size_t have = *trust ? strlen(*trust) : 0;

		if (!json_string_value(c))
			return ndx_fail(err, errcap, NDX_EINVAL,
				    "subsystems[%zu].certificates[%zu]: expected a file name", i, j);
		if (!(path = resolve(dir, json_string_value(c))))
			return ndx_fail(err, errcap, NDX_ENOMEM, "out of memory");
		rc = read_pem("client certificate", path, &pem, err, errcap);
		free(path);
		if (rc)
			return rc;
		if (ndx_pki_cert_fingerprint(pem, a->certs[a->ncerts]) != NDX_OK) {
			free(pem);
			return ndx_fail(err, errcap, NDX_EINVAL,
				    "subsystems[%zu].certificates[%zu]: not a PEM certificate", i, j);
		}
		a->ncerts++;
		if (!(grown = realloc(*trust, have + strlen(pem) + 2))) {
			free(pem);
			return ndx_fail(err, errcap, NDX_ENOMEM, "out of memory");
		}
		snprintf(grown + have, strlen(pem) + 2, "%s\n", pem);
		*trust = grown;
		free(pem);
	}
	return NDX_OK;
}

static size_t slashes(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == '/';
	return n;
}

static int load_settings(json_t *doc, const char *dir, const struct ndx_id *member,
			 struct gw_settings **out,
			 char *err, size_t errcap)
{
	struct gw_settings *s = calloc(1, sizeof *s);
	json_t *subs, *svcs, *limits, *v;
	const char *key;
	long l = 0;
	int rc = NDX_ENOMEM;
	size_t i;

	*out = NULL;
	if (!s)
		return ndx_fail(err, errcap, NDX_ENOMEM, "out of memory");
	atomic_init(&s->refs, 1);

	subs = json_object_get(doc, "subsystems");
	if (!json_is_array(subs)) {
		rc = ndx_fail(err, errcap, NDX_EINVAL, "subsystems: required, an array of codes");
		goto bad;
	}
	s->subsystems = calloc(json_array_size(subs) + 1, sizeof *s->subsystems);
	s->auth = calloc(json_array_size(subs) + 1, sizeof *s->auth);
	if (!s->subsystems || !s->auth)
		goto oom;
	json_array_foreach(subs, i, v) {
		struct ndx_id id = *member;
		char buf[NDX_ID_TEXT_MAX];
		const char *why = NULL;
		const char *code = json_string_value(json_is_object(v) ? json_object_get(v, "code") : v);
		int n;

		if (!code) {
			rc = ndx_fail(err, errcap, NDX_EINVAL,
				  "subsystems[%zu]: expected a code, or an object with \"code\"", i);
			goto bad;
		}
		if (json_is_object(v) &&
		    (rc = load_client_auth(v, i, dir, &s->auth[s->nsubsystems], &s->client_trust_pem,
					   err, errcap)))
			goto bad;
		/* Accept a bare code or a full subsystem id of the own member,
		 * or the member id itself: a member-level client (PR-REST 4.1,
		 * "Including the subsystem code is OPTIONAL"). */
		if (slashes(code) == NDX_ID_MEMBER - 1) {
			if (ndx_id_parse(code, strlen(code), NDX_ID_MEMBER, &id, &why) ||
			    !ndx_id_equal(&id, member)) {
				rc = ndx_fail(err, errcap, NDX_EINVAL,
					  "subsystems[%zu]: \"%s\" is neither a subsystem of the "
					  "member nor the member itself%s%s", i, code,
					  why ? ": " : "", why ? why : "");
				goto bad;
			}
		} else if (strchr(code, '/')) {
			if (ndx_id_parse(code, strlen(code), NDX_ID_SUBSYSTEM, &id, &why) ||
			    strcmp(id.instance, member->instance) || strcmp(id.member_class,
			    member->member_class) || strcmp(id.member_code, member->member_code)) {
				rc = ndx_fail(err, errcap, NDX_EINVAL,
					  "subsystems[%zu]: \"%s\" is not a subsystem of the member%s%s",
					  i, code, why ? ": " : "", why ? why : "");
				goto bad;
			}
		} else {
			n = snprintf(buf, sizeof buf, "%s/%s/%s/%s", member->instance,
				     member->member_class, member->member_code, code);
			if (n < 0 || (size_t)n >= sizeof buf ||
			    ndx_id_parse(buf, (size_t)n, NDX_ID_SUBSYSTEM, &id, &why)) {
				rc = ndx_fail(err, errcap, NDX_EINVAL, "subsystems[%zu]: %s", i,
					  why ? why : "too long");
				goto bad;
			}
		}
		if (ndx_id_format(&id, buf, sizeof buf) < 0 ||
		    !(s->subsystems[s->nsubsystems] = strdup(buf)))
			goto oom;
		s->nsubsystems++;
	}

	svcs = json_object_get(doc, "services");
	if (svcs && !json_is_null(svcs) && !json_is_object(svcs)) {
		rc = ndx_fail(err, errcap, NDX_EINVAL, "services: expected an object");
		goto bad;
	}
	if (json_is_object(svcs)) {
		s->services = calloc(json_object_size(svcs) + 1, sizeof *s->services);
		if (!s->services)
			goto oom;
		json_object_foreach(svcs, key, v) {
			struct gw_service *svc = &s->services[s->nservices];
			struct ndx_id id;
			char buf[NDX_ID_TEXT_MAX];
			const char *why = NULL, *backend;
			size_t bl;

			if (ndx_id_parse(key, strlen(key), NDX_ID_SERVICE, &id, &why)) {
				rc = ndx_fail(err, errcap, NDX_EINVAL, "services: \"%s\": %s", key, why);
				goto bad;
			}
			char sock[NDX_UNIX_PATH_MAX + 1];
			const char *sock_rest;
			if (!json_is_object(v) ||
			    !(backend = json_string_value(json_object_get(v, "backend"))) ||
			    (strncmp(backend, "http://", 7) && strncmp(backend, "https://", 8) &&
			     strncmp(backend, "unix:", 5) &&
			     strcmp(backend, GW_BACKEND_SUBJECT_ACCESSES) != 0)) {
				rc = ndx_fail(err, errcap, NDX_EINVAL,
					  "services.%s.backend: required, an http:// or https:// URL, "
					  "unix:/SOCKET[:/PATH] or \"" GW_BACKEND_SUBJECT_ACCESSES "\"",
					  key);
				goto bad;
			}
			/* A provider system on a Unix socket (docs/security.md T33):
			 * nginx's form, the socket path absolute and without ':'. */
			if (strncmp(backend, "unix:", 5) == 0 &&
			    ndx_unix_url_split(backend, sock, &sock_rest) != NDX_OK) {
				rc = ndx_fail(err, errcap, NDX_EINVAL,
					  "services.%s.backend: \"%s\" is not unix:/SOCKET or "
					  "unix:/SOCKET:/PATH (an absolute socket path of at most %d "
					  "bytes without ':')",
					  key, backend, NDX_UNIX_PATH_MAX);
				goto bad;
			}
			if (strchr(backend, '?') || strchr(backend, '#')) {
				rc = ndx_fail(err, errcap, NDX_EINVAL,
					  "services.%s.backend: no query or fragment allowed", key);
				goto bad;
			}
			char where[NDX_ID_TEXT_MAX + 16];
			snprintf(where, sizeof where, "services.%s.", key);
			if ((rc = get_long(v, where, "timeout_ms", 1, 3600000, 10000, &svc->timeout_ms,
					   err, errcap)))
				goto bad;
			rc = NDX_ENOMEM;
			if (ndx_id_format(&id, buf, sizeof buf) < 0 || !(svc->id = strdup(buf)))
				goto oom;
			if (strcmp(backend, GW_BACKEND_SUBJECT_ACCESSES) == 0) {
				svc->builtin = GW_BUILTIN_SUBJECT_ACCESSES;
			} else {
				bl = strlen(backend);
				while (bl > 0 && backend[bl - 1] == '/')
					bl--;
				if (!(svc->backend = strndup(backend, bl)))
					goto oom;
			}
			s->nservices++;
			for (size_t j = 0; j + 1 < s->nservices; j++) {
				if (strcmp(s->services[j].id, svc->id) == 0) {
					rc = ndx_fail(err, errcap, NDX_EINVAL,
						  "services: %s is listed twice", svc->id);
					goto bad;
				}
			}
		}
	}

	limits = json_object_get(doc, "limits");
	if (limits && !json_is_null(limits) && !json_is_object(limits)) {
		rc = ndx_fail(err, errcap, NDX_EINVAL, "limits: expected an object");
		goto bad;
	}
	if (!limits)
		limits = json_null();
	if ((rc = get_long(limits, "limits.", "max_body", 1, 1024L * 1024 * 1024, DEFAULT_MAX_BODY,
			   &l, err, errcap)))
		goto bad;
	s->max_body = (size_t)l;
	/* Each port's threads are event loops that never wait for an
	 * exchange (gwloop.h): one per CPU is enough, 0 asks for that. */
	if ((rc = get_long(limits, "limits.", "threads", 0, 1024, 0, &l, err, errcap)))
		goto bad;
	s->threads = l ? (unsigned)l : cpus_usable();
	if ((rc = get_long(limits, "limits.", "connections", 1, 100000, 1024, &l, err, errcap)))
		goto bad;
	/* Each port's pool thread takes a share of the connection limit. */
	if (l < (long)s->threads) {
		rc = ndx_fail(err, errcap, NDX_EINVAL,
			  "limits.connections: %ld is fewer than limits.threads (%u)", l, s->threads);
		goto bad;
	}
	s->max_connections = (unsigned)l;
	if ((rc = get_long(limits, "limits.", "connections_per_ip", 1, 100000, 256, &l, err,
			   errcap)))
		goto bad;
	s->max_connections_per_ip = (unsigned)l;
	if ((rc = get_long(limits, "limits.", "request_deadline_s", 1, 3600, 60, &l, err, errcap)))
		goto bad;
	s->request_deadline_s = (unsigned)l;
	if ((rc = get_long(limits, "limits.", "peer_timeout_ms", 1, 3600000, 30000,
			   &s->peer_timeout_ms, err, errcap)) ||
	    (rc = get_long(limits, "limits.", "connect_timeout_ms", 1, 600000, 3000,
			   &s->connect_timeout_ms, err, errcap)) ||
	    (rc = get_long(limits, "limits.", "clock_skew_s", 0, 86400, 300, &s->clock_skew_s,
			   err, errcap)) ||
	    (rc = get_long(doc, "", "conf_refresh_s", 1, 86400, 30, &s->conf_refresh_s, err,
			   errcap)) ||
	    (rc = get_long(doc, "", "consent_refresh_s", 1, 3600, 10, &s->consent_refresh_s, err,
			   errcap)))
		goto bad;
	*out = s;
	return NDX_OK;
oom:
	rc = ndx_fail(err, errcap, NDX_ENOMEM, "out of memory");
bad:
	gw_settings_release(s);
	return rc;
}

static bool is_pg_conninfo(const char *s)
{
	return strncmp(s, "postgresql://", 13) == 0 || strncmp(s, "postgres://", 11) == 0;
}

/* Where the message log is: "msglog": {"store"} when it is a string (a
 * file, relative to data_dir, or a postgresql:// connection string), else
 * data_dir/msglog.db; load_msglog refuses a store of another type. */
static char *msglog_store(json_t *doc, const char *data_dir)
{
	json_t *st = json_object_get(json_object_get(doc, "msglog"), "store");
	const char *v = json_is_string(st) ? json_string_value(st) : "";

	if (v[0] == '\0')
		return resolve(data_dir, "msglog.db");
	return is_pg_conninfo(v) ? strdup(v) : resolve(data_dir, v);
}

/* Where the event store (evstore.h: "events") or the opmon store
 * (opmon.h: "opmon") is: SECTION.store, a file relative to data_dir or a
 * postgresql:// connection string, else data_dir/FILE; load_store checks
 * it. */
static char *section_store(json_t *doc, const char *section, const char *data_dir,
			   const char *file)
{
	json_t *st = json_object_get(json_object_get(doc, section), "store");
	const char *v = json_is_string(st) ? json_string_value(st) : "";

	if (v[0] == '\0')
		return resolve(data_dir, file);
	return is_pg_conninfo(v) ? strdup(v) : resolve(data_dir, v);
}

/* A postgresql:// connection string of key (msglog.store, events.store):
 * one libpq parses and that holds no password (it belongs in a password
 * file, so that the string can be printed). */
static int check_conninfo(const char *key, const char *v, char *err, size_t errcap)
{
	PQconninfoOption *o = PQconninfoParse(v, NULL);
	bool pw = false;

	if (o == NULL)
		return ndx_fail(err, errcap, NDX_EINVAL, "%s: not a valid PostgreSQL connection "
				"string", key);
	for (PQconninfoOption *p = o; p->keyword != NULL; p++)
		pw = pw || (strcmp(p->keyword, "password") == 0 && p->val != NULL);
	PQconninfoFree(o);
	if (pw)
		return ndx_fail(err, errcap, NDX_EINVAL, "%s: the connection string holds a "
				"password: put it in a password file (PGPASSFILE or ~/.pgpass) "
				"instead, so that it is never printed", key);
	return NDX_OK;
}

/* A registry URL without its trailing slashes (malloc'd), NULL when out of
 * memory. */
static char *registry_base(const char *url)
{
	char *u = dup_str(url);
	size_t len = u ? strlen(u) : 0;

	while (len > 0 && u[len - 1] == '/')
		u[--len] = '\0';
	return u;
}

/* "registry_urls": [URL, ...]: the registry nodes (several on one
 * PostgreSQL database serve the same signed configuration) that
 * confstate.c fetches from, the next when one is down; or the one of
 * registry_url (the default given), never both. */
static int load_registry_urls(json_t *doc, const char *one, const struct ndx_anchor *anchor,
			      struct gw_config *cfg, char *err, size_t errcap)
{
	json_t *list = json_object_get(doc, "registry_urls"), *v;
	size_t i, n;

	if (list && one)
		return ndx_fail(err, errcap, NDX_EINVAL, "registry_url and registry_urls: give one "
				"of them");
	if (list && (!json_is_array(list) || json_array_size(list) == 0 ||
		     json_array_size(list) > GW_REGISTRY_URLS_MAX))
		return ndx_fail(err, errcap, NDX_EINVAL, "registry_urls: expected an array of 1 to "
				"%d URLs", GW_REGISTRY_URLS_MAX);
	/* Neither: the nodes the anchor lists (one, or all of its registry_urls). */
	n = list ? json_array_size(list) : one ? 1 : ndx_anchor_registry_url_count(anchor);
	if (n > GW_REGISTRY_URLS_MAX)
		n = GW_REGISTRY_URLS_MAX;
	cfg->registry_urls = calloc(n, sizeof *cfg->registry_urls);
	if (!cfg->registry_urls)
		return ndx_fail(err, errcap, NDX_ENOMEM, "out of memory");
	for (i = 0; i < n; i++) {
		const char *u = one ? one : ndx_anchor_registry_url_at(anchor, i);
		if (list) {
			v = json_array_get(list, i);
			u = json_string_value(v);
			if (!u || (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0))
				return ndx_fail(err, errcap, NDX_EINVAL, "registry_urls[%zu]: expected "
						"an http:// or https:// URL", i);
		}
		if (!(cfg->registry_urls[i] = registry_base(u)))
			return ndx_fail(err, errcap, NDX_ENOMEM, "out of memory");
		cfg->n_registry_urls = i + 1;
	}
	if (!(cfg->registry_url = dup_str(cfg->registry_urls[0])))
		return ndx_fail(err, errcap, NDX_ENOMEM, "out of memory");
	return NDX_OK;
}

/* SECTION.store of the object sec (NULL or JSON null: none): a file path
 * or a connection string checked as msglog.store's is, and not the string
 * of another store of the gateway (taken, ntaken; NULL entries skipped),
 * since each store keeps its meta table in the first schema of its
 * search_path (docs/scale.md). Read once: a change needs a restart. */
static int load_store(json_t *sec, const char *section, const char *const *taken, size_t ntaken,
		      char *err, size_t errcap)
{
	json_t *st = json_is_object(sec) ? json_object_get(sec, "store") : NULL;
	char key[32];
	const char *v;
	int rc;

	if (!st)
		return NDX_OK;
	snprintf(key, sizeof key, "%s.store", section);
	if (!json_is_string(st) || json_string_value(st)[0] == '\0')
		return ndx_fail(err, errcap, NDX_EINVAL, "%s: expected a file path or a "
				"postgresql:// connection string", key);
	v = json_string_value(st);
	if (!is_pg_conninfo(v))
		return NDX_OK;
	if ((rc = check_conninfo(key, v, err, errcap)))
		return rc;
	for (size_t i = 0; i < ntaken; i++)
		if (taken[i] && strcmp(v, taken[i]) == 0)
			return ndx_fail(err, errcap, NDX_EINVAL, "%s: the connection string of "
					"another of the gateway's stores: give each store a schema "
					"of its own (options=-csearch_path%%3Dname)", key);
	return NDX_OK;
}

/* "events": {"store"}: where the event store is (evstore.h). */
static int load_events(json_t *doc, const char *msglog_store, char *err, size_t errcap)
{
	json_t *e = json_object_get(doc, "events");
	const char *taken[] = { msglog_store };

	if (e && !json_is_null(e) && !json_is_object(e))
		return ndx_fail(err, errcap, NDX_EINVAL, "events: expected an object");
	return load_store(e, "events", taken, 1, err, errcap);
}

/* "msglog": {"store", "batch_max", "batch_interval_ms"}: where the message
 * log is and how it groups records into signed batches. Read once: a change
 * needs a restart. A connection string never holds the password: the
 * gateway prints where its log is, and the password belongs in a password
 * file (PGPASSFILE, ~/.pgpass or the passfile parameter). */
static int load_msglog(json_t *doc, struct ndx_msglog_options *opt, char *err, size_t errcap)
{
	json_t *m = json_object_get(doc, "msglog"), *st;
	long l = 0;
	int rc;

	if (m && !json_is_null(m) && !json_is_object(m))
		return ndx_fail(err, errcap, NDX_EINVAL, "msglog: expected an object");
	if (!m)
		m = json_null();
	st = json_object_get(m, "store");
	if (st && (!json_is_string(st) || json_string_value(st)[0] == '\0'))
		return ndx_fail(err, errcap, NDX_EINVAL, "msglog.store: expected a file path or a "
				"postgresql:// connection string");
	if (st && is_pg_conninfo(json_string_value(st)) &&
	    (rc = check_conninfo("msglog.store", json_string_value(st), err, errcap)))
		return rc;
	if ((rc = get_long(m, "msglog.", "batch_max", 1, 1L << 20, NDX_MSGLOG_BATCH_MAX_DEFAULT,
			   &l, err, errcap)))
		return rc;
	opt->batch_max = (unsigned)l;
	if ((rc = get_long(m, "msglog.", "batch_interval_ms", 1, 3600000,
			   NDX_MSGLOG_BATCH_INTERVAL_DEFAULT_MS, &l, err, errcap)))
		return rc;
	opt->batch_interval_ms = (unsigned)l;
	return NDX_OK;
}

/* "opmon": {"store", "retention_s", "max_records"}: where the operational
 * monitoring records are (load_store), how long and how many are kept
 * (opmon.h). Read once. */
static int load_opmon(json_t *doc, struct gw_config *cfg, char *err, size_t errcap)
{
	json_t *m = json_object_get(doc, "opmon");
	int rc;

	if (m && !json_is_null(m) && !json_is_object(m))
		return ndx_fail(err, errcap, NDX_EINVAL, "opmon: expected an object");
	if (!m)
		m = json_null();
	const char *taken[] = { cfg->msglog_path, cfg->events_path };

	if ((rc = load_store(m, "opmon", taken, 2, err, errcap)))
		return rc;
	if ((rc = get_long(m, "opmon.", "retention_s", 1, 10L * 366 * 86400,
			   GW_OPMON_RETENTION_S_DEFAULT, &cfg->opmon_retention_s, err, errcap)) ||
	    (rc = get_long(m, "opmon.", "max_records", 1, 1000000000L,
			   GW_OPMON_MAX_RECORDS_DEFAULT, &cfg->opmon_max_records, err, errcap)))
		return rc;
	return NDX_OK;
}

/* "connector": {"store", "credential"}: where the DSP connector's store
 * is (connector.h), as events.store, and the file holding the member's
 * registry credential (relative to the configuration file's directory),
 * with which it reads the catalogue's offers for its member's class; read
 * at start. */
static int load_connector(json_t *doc, const char *dir, struct gw_config *cfg, char *err,
			  size_t errcap)
{
	json_t *m = json_object_get(doc, "connector"), *c;
	const char *taken[] = { cfg->msglog_path, cfg->events_path, cfg->opmon_path };
	char *path;
	int rc;

	if (m && !json_is_null(m) && !json_is_object(m))
		return ndx_fail(err, errcap, NDX_EINVAL, "connector: expected an object");
	if ((rc = load_store(m, "connector", taken, 3, err, errcap)))
		return rc;
	c = json_is_object(m) ? json_object_get(m, "credential") : NULL;
	if (!c || json_is_null(c))
		return NDX_OK;
	if (!json_is_string(c) || json_string_value(c)[0] == '\0')
		return ndx_fail(err, errcap, NDX_EINVAL, "connector.credential: expected the path "
				"of a file holding the member's registry credential");
	if (!(path = resolve(dir, json_string_value(c))))
		return ndx_fail(err, errcap, NDX_ENOMEM, "out of memory");
	rc = ndx_file_read_secret(path, &cfg->connector_credential);
	if (rc == NDX_OK && strpbrk(cfg->connector_credential, " \t\r\n")) {
		OPENSSL_cleanse(cfg->connector_credential, strlen(cfg->connector_credential));
		free(cfg->connector_credential);
		cfg->connector_credential = NULL;
		rc = NDX_EINVAL;
	}
	if (rc != NDX_OK)
		rc = ndx_fail(err, errcap, rc == NDX_ENOMEM ? NDX_ENOMEM : NDX_EINVAL,
			      "connector.credential %s: %s", path,
			      rc == NDX_EIO	 ? "missing or unreadable"
			      : rc == NDX_ENOMEM ? "out of memory"
						 : "expected one line: the registry credential");
	free(path);
	return rc;
}

/* "http": {"engine": "h2o" | "microhttpd", "peer_http2": true | false}:
 * which HTTP library serves the gateway's ports, h2o unless the file says
 * otherwise (bench/README.md "The gateway's ports on h2o": cheaper an
 * exchange, and it holds idle connections in bounded memory), and whether
 * HTTP/2 is spoken between gateways (offered on the gateway port, asked for
 * when calling another gateway), on by default with h2o (docs/gateway.md
 * "Configuration"), read at start. */
static int load_http(json_t *doc, struct gw_config *cfg, char *err, size_t errcap)
{
	json_t *h = json_object_get(doc, "http"), *e, *p;
	const char *name;

	cfg->http_engine = NDX_HTTPD_H2O;
	if (h && !json_is_null(h) && !json_is_object(h))
		return ndx_fail(err, errcap, NDX_EINVAL, "http: expected an object");
	e = h && json_is_object(h) ? json_object_get(h, "engine") : NULL;
	if (e && !json_is_null(e)) {
		name = json_string_value(e);
		if (name && strcmp(name, "microhttpd") == 0)
			cfg->http_engine = NDX_HTTPD_MHD;
		else if (name && strcmp(name, "h2o") == 0)
			cfg->http_engine = NDX_HTTPD_H2O;
		else
			return ndx_fail(err, errcap, NDX_EINVAL,
					"http.engine: expected \"microhttpd\" or \"h2o\"");
	}
	p = h && json_is_object(h) ? json_object_get(h, "peer_http2") : NULL;
	if (p && !json_is_null(p) && !json_is_boolean(p))
		return ndx_fail(err, errcap, NDX_EINVAL, "http.peer_http2: expected true or false");
	cfg->peer_http2 = p && json_is_boolean(p) ? json_is_true(p)
						  : cfg->http_engine == NDX_HTTPD_H2O;
	if (cfg->peer_http2 && cfg->http_engine != NDX_HTTPD_H2O)
		return ndx_fail(err, errcap, NDX_EINVAL,
				"http.peer_http2: needs http.engine \"h2o\" (libmicrohttpd serves "
				"HTTP/1.1 only)");
	return NDX_OK;
}

/* "console": {"listen", "eid", "client_id", "client_secret_file",
 * "officials", "public_url", "web", "assets"}: the web console
 * (docs/gateway-console.md), off without the object. Paths are resolved
 * against the file's directory. */
static int load_console(json_t *doc, const char *dir, struct gw_console_cfg *c, char *err,
			size_t errcap)
{
	json_t *o = json_object_get(doc, "console");
	const char *listen = NULL, *eid, *client, *secret, *officials, *url = NULL,
		   *web = NULL, *assets = NULL;
	char buf[128], why[256];
	int rc;

	if (!o || json_is_null(o))
		return NDX_OK;
	if (!json_is_object(o))
		return ndx_fail(err, errcap, NDX_EINVAL, "console: expected an object");
	if ((rc = get_str(o, "listen", false, &listen, why, sizeof why)) ||
	    (rc = get_str(o, "eid", true, &eid, why, sizeof why)) ||
	    (rc = get_str(o, "client_id", true, &client, why, sizeof why)) ||
	    (rc = get_str(o, "client_secret_file", true, &secret, why, sizeof why)) ||
	    (rc = get_str(o, "officials", true, &officials, why, sizeof why)) ||
	    (rc = get_str(o, "public_url", false, &url, why, sizeof why)) ||
	    (rc = get_str(o, "web", false, &web, why, sizeof why)) ||
	    (rc = get_str(o, "assets", false, &assets, why, sizeof why)))
		return ndx_fail(err, errcap, rc, "console.%s", why);
	if ((rc = parse_listen("console.listen", listen ? listen : "127.0.0.1:8090", c->addr,
			       sizeof c->addr, &c->port, err, errcap)))
		return rc;
	if (url && strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
		return ndx_fail(err, errcap, NDX_EINVAL,
				"console.public_url: expected an http:// or https:// URL");
	snprintf(buf, sizeof buf, "http://%s:%u", c->addr, (unsigned)c->port);
	c->enabled = true;
	if (!(c->issuer = strdup(eid)) || !(c->client_id = strdup(client)) ||
	    !(c->secret_path = resolve(dir, secret)) ||
	    !(c->officials_path = resolve(dir, officials)) ||
	    !(c->public_url = strdup(url ? url : buf)) ||
	    !(c->web_dir = web ? resolve(dir, web) : strdup(NDX_DATA_DIR "/web")) ||
	    !(c->assets_dir = assets ? resolve(dir, assets)
				     : strdup(NDX_DATA_DIR "/govuk-frontend")))
		return ndx_fail(err, errcap, NDX_ENOMEM, "out of memory");
	/* No trailing '/': the console appends its paths. */
	for (size_t n = strlen(c->public_url); n > 0 && c->public_url[n - 1] == '/'; n--)
		c->public_url[n - 1] = '\0';
	return NDX_OK;
}

static int read_pem(const char *what, const char *path, char **out, char *err, size_t errcap)
{
	size_t len;
	int rc = ndx_file_read(path, PEM_FILE_MAX, out, &len);
	if (rc != NDX_OK)
		return ndx_fail(err, errcap, rc, "%s %s: %s", what, path,
			    rc == NDX_EIO ? "missing or unreadable" : ndx_strerror(rc));
	return NDX_OK;
}

int gw_config_load(const char *path, struct gw_config **out, char *err, size_t errcap)
{
	struct gw_config *cfg = NULL;
	json_t *doc = NULL;
	json_error_t jerr;
	char *text = NULL, *pathcopy = NULL, *dir;
	const char *member, *code, *data_dir, *anchor, *reg, *skey, *tkey, *tcert, *cl, *gl, *ctl = NULL;
	const char *why = NULL;
	size_t len;
	int rc;

	*out = NULL;
	rc = ndx_file_read(path, CONFIG_FILE_MAX, &text, &len);
	if (rc != NDX_OK)
		return ndx_fail(err, errcap, rc, "%s: %s", path,
			    rc == NDX_EIO ? "missing or unreadable" : ndx_strerror(rc));
	doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	free(text);
	if (!json_is_object(doc)) {
		rc = ndx_fail(err, errcap, NDX_EINVAL, "%s: line %d: %s", path, jerr.line,
			  doc ? "expected a JSON object" : jerr.text);
		goto out;
	}
	cfg = calloc(1, sizeof *cfg);
	pathcopy = strdup(path);
	if (!cfg || !pathcopy) {
		rc = ndx_fail(err, errcap, NDX_ENOMEM, "out of memory");
		goto out;
	}
	dir = dirname(pathcopy);
	if ((rc = get_str(doc, "member", true, &member, err, errcap)) ||
	    (rc = get_str(doc, "code", true, &code, err, errcap)) ||
	    (rc = get_str(doc, "data_dir", true, &data_dir, err, errcap)) ||
	    (rc = get_str(doc, "anchor", true, &anchor, err, errcap)) ||
	    (rc = get_str(doc, "registry_url", false, &reg, err, errcap)) ||
	    (rc = get_str(doc, "sign_key", true, &skey, err, errcap)) ||
	    (rc = get_str(doc, "tls_key", true, &tkey, err, errcap)) ||
	    (rc = get_str(doc, "tls_cert", true, &tcert, err, errcap)) ||
	    (rc = get_str(doc, "consumer_listen", false, &cl, err, errcap)) ||
	    (rc = get_str(doc, "gateway_listen", false, &gl, err, errcap)) ||
	    (rc = get_str(doc, "consumer_tls_listen", false, &ctl, err, errcap)))
		goto out;
	if (ndx_id_parse(member, strlen(member), NDX_ID_MEMBER, &cfg->member_id, &why)) {
		rc = ndx_fail(err, errcap, NDX_EINVAL, "member: %s", why);
		goto out;
	}
	char canon[NDX_ID_TEXT_MAX];
	ndx_id_format(&cfg->member_id, canon, sizeof canon);
	if ((rc = parse_listen("consumer_listen", cl ? cl : "127.0.0.1:8080", cfg->consumer_addr,
			       sizeof cfg->consumer_addr, &cfg->consumer_port, err, errcap)) ||
	    (rc = parse_listen("gateway_listen", gl ? gl : "127.0.0.1:8443", cfg->gateway_addr,
			       sizeof cfg->gateway_addr, &cfg->gateway_port, err, errcap)) ||
	    (ctl && (rc = parse_listen("consumer_tls_listen", ctl, cfg->consumer_tls_addr,
				       sizeof cfg->consumer_tls_addr, &cfg->consumer_tls_port, err,
				       errcap))))
		goto out;
	cfg->path = strdup(path);
	cfg->member = strdup(canon);
	cfg->code = strdup(code);
	cfg->data_dir = resolve(dir, data_dir);
	cfg->anchor_path = resolve(dir, anchor);
	cfg->sign_key_path = resolve(dir, skey);
	cfg->tls_key_path = resolve(dir, tkey);
	cfg->tls_cert_path = resolve(dir, tcert);
	if (!cfg->path || !cfg->member || !cfg->code || !cfg->data_dir || !cfg->anchor_path ||
	    !cfg->sign_key_path || !cfg->tls_key_path || !cfg->tls_cert_path ||
	    !(cfg->conf_dir = resolve(cfg->data_dir, "conf")) ||
	    !(cfg->msglog_path = msglog_store(doc, cfg->data_dir)) ||
	    !(cfg->events_path = section_store(doc, "events", cfg->data_dir, "events.db")) ||
	    !(cfg->connector_path =
		      section_store(doc, "connector", cfg->data_dir, "connector.db")) ||
	    !(cfg->opmon_path = section_store(doc, "opmon", cfg->data_dir, "opmon.db"))) {
		rc = ndx_fail(err, errcap, NDX_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = load_msglog(doc, &cfg->msglog_opt, err, errcap)) ||
	    (rc = load_events(doc, cfg->msglog_path, err, errcap)) ||
	    (rc = load_opmon(doc, cfg, err, errcap)) ||
	    (rc = load_connector(doc, dir, cfg, err, errcap)) || (rc = load_http(doc, cfg, err, errcap)) ||
	    (rc = load_console(doc, dir, &cfg->console, err, errcap)))
		goto out;
	/* The witness of the message log's tree heads (gw_witness.c), read at start. */
	if ((rc = get_long(doc, "", "witness_interval_s", 1, 3600, 60, &cfg->witness_interval_s,
			   err, errcap)) ||
	    (rc = get_long(doc, "", "witness_grace_s", 1, 7 * 86400, 6 * 3600,
			   &cfg->witness_grace_s, err, errcap)))
		goto out;
	if ((rc = load_settings(doc, dir, &cfg->member_id, &cfg->settings, err, errcap)))
		goto out;

	char why_buf[512];
	rc = ndx_anchor_load(cfg->anchor_path, &cfg->anchor, why_buf, sizeof why_buf);
	if (rc != NDX_OK) {
		rc = ndx_fail(err, errcap, rc, "anchor %s: %s", cfg->anchor_path, why_buf);
		goto out;
	}
	if (strcmp(ndx_anchor_instance(cfg->anchor), cfg->member_id.instance) != 0) {
		rc = ndx_fail(err, errcap, NDX_EINVAL, "member %s is not of the anchor's instance %s",
			  cfg->member, ndx_anchor_instance(cfg->anchor));
		goto out;
	}
	if ((rc = load_registry_urls(doc, reg, cfg->anchor, cfg, err, errcap)))
		goto out;
	rc = ndx_key_load(cfg->sign_key_path, &cfg->sign_key);
	if (rc != NDX_OK || !ndx_key_has_private(cfg->sign_key)) {
		rc = ndx_fail(err, errcap, rc ? rc : NDX_EINVAL, "sign_key %s: %s", cfg->sign_key_path,
			  rc == NDX_EIO ? "missing or unreadable"
					: "not an Ed25519 private key in PEM form");
		goto out;
	}
	ndx_key_id(cfg->sign_key, cfg->sign_key_id);
	if ((rc = read_pem("tls_key", cfg->tls_key_path, &cfg->tls_key_pem, err, errcap)) ||
	    (rc = read_pem("tls_cert", cfg->tls_cert_path, &cfg->tls_cert_pem, err, errcap)))
		goto out;
	if (ndx_pki_cert_fingerprint(cfg->tls_cert_pem, cfg->tls_fingerprint) != NDX_OK) {
		rc = ndx_fail(err, errcap, NDX_EINVAL, "tls_cert %s: not a PEM certificate",
			  cfg->tls_cert_path);
		goto out;
	}
	if (!strstr(cfg->tls_key_pem, "PRIVATE KEY-----")) {
		rc = ndx_fail(err, errcap, NDX_EINVAL, "tls_key %s: not a PEM private key",
			  cfg->tls_key_path);
		goto out;
	}
	*out = cfg;
	cfg = NULL;
	rc = NDX_OK;
out:
	free(pathcopy);
	json_decref(doc);
	gw_config_free(cfg);
	return rc;
}
