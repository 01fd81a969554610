/* Reading ndx-portal's JSON configuration (config.h). Every member is
 * checked here so that the rest of the portal can trust the values: URLs
 * are http(s) without a query, the client is a subsystem id, secrets come
 * from files (the configuration itself may then be world-readable).
 * Overview: docs/portal.md "Configuration". */
#include "config.h"

#include <errno.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ndx/args.h"
#include "ndx/err.h"
#include "ndx/file.h"
#include "ndx/id.h"
#include "ndx/sqldb.h"

#define PROG "ndx-portal"
#define CONFIG_MAX (64 * 1024)
#define SECRET_MAX 4096

static int fail(const char *path, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(const char *path, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, PROG ": %s: ", path);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return NDX_EINVAL;
}

static const char *get_str(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* A copy of url without trailing slashes, or NULL (after a message) when it
 * is not an http(s) URL. */
static char *url_dup(const char *path, const char *key, const char *url)
{
	size_t n;
	char *out;

	if (!url || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) ||
	    strpbrk(url, "?# \t\r\n")) {
		fail(path, "\"%s\" must be an http:// or https:// URL without query", key);
		return NULL;
	}
	n = strlen(url);
	while (n > 8 && url[n - 1] == '/')
		n--;
	out = strndup(url, n);
	if (!out)
		fail(path, "%s: out of memory", key);
	return out;
}

/* path made absolute against base (the configuration's directory). */
static char *path_dup(const char *base, const char *p)
{
	char buf[PATH_MAX];
	int n;

	if (p[0] == '/')
		return strdup(p);
	n = snprintf(buf, sizeof buf, "%s/%s", base, p);
	if (n < 0 || (size_t)n >= sizeof buf)
		return NULL;
	return strdup(buf);
}

static int read_secret(const char *cfgpath, const char *base, const char *key, const char *file,
		       char **out)
{
	char *full = path_dup(base, file), *text = NULL;
	size_t len;
	int rc;

	if (!full)
		return NDX_ENOMEM;
	rc = ndx_file_read(full, SECRET_MAX, &text, &len);
	if (rc != NDX_OK) {
		fprintf(stderr, PROG ": %s: %s: cannot read %s: %s\n", cfgpath, key, full,
			ndx_strerror(rc));
		free(full);
		return rc;
	}
	free(full);
	while (len && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' '))
		text[--len] = '\0';
	if (len == 0 || strlen(text) != len) {
		OPENSSL_cleanse(text, len);
		free(text);
		return fail(cfgpath, "%s: the file is empty or holds a NUL byte", key);
	}
	*out = text;
	return NDX_OK;
}

/* "payment": {"orders_service", "banks": [{"name", "url"}]}. */
static int load_payment(const char *path, const json_t *o, struct pconfig *c)
{
	const char *svc = get_str(o, "orders_service"), *why = NULL;
	const json_t *banks = json_object_get(o, "banks"), *bank;
	struct ndx_id id;
	size_t i;

	if (!json_is_object(o))
		return fail(path, "\"%s\" must be an object", "payment");
	if (!svc || ndx_id_parse(svc, strlen(svc), NDX_ID_SERVICE, &id, &why) != NDX_OK)
		return fail(path, "\"payment.orders_service\" must be a service id (%s)",
			    why ? why : "missing");
	if (!(c->pay_orders_service = strdup(svc)))
		return NDX_ENOMEM;
	if (banks && (!json_is_array(banks) ||
		      json_array_size(banks) > sizeof c->pay_banks / sizeof c->pay_banks[0]))
		return fail(path, "\"%s\" must be an array of at most 8 banks", "payment.banks");
	json_array_foreach(banks, i, bank) {
		const char *name = get_str(bank, "name");
		if (!name || !*name || strlen(name) > 100)
			return fail(path, "\"payment.banks[%zu].name\" is required (1 to 100 bytes)", i);
		if (!(c->pay_banks[i].url = url_dup(path, "payment.banks[].url", get_str(bank, "url"))))
			return NDX_EINVAL;
		c->pay_nbanks = (unsigned)i + 1;
		if (!(c->pay_banks[i].name = strdup(name)))
			return NDX_ENOMEM;
	}
	return NDX_OK;
}

/* "smtp": {"host", "port", "from", "starttls"} (docs/portal.md "E-mail"). */
static int load_smtp(const char *path, const json_t *o, struct pconfig *c)
{
	const char *host = get_str(o, "host"), *from = get_str(o, "from");
	const json_t *port = json_object_get(o, "port"), *tls = json_object_get(o, "starttls");

	if (!json_is_object(o))
		return fail(path, "\"%s\" must be an object", "smtp");
	if (!host || !*host || strlen(host) > 253 || strpbrk(host, "/?#@ \t\r\n"))
		return fail(path, "\"%s\" must be a host name or address", "smtp.host");
	if (port && (!json_is_integer(port) || json_integer_value(port) < 1 ||
		     json_integer_value(port) > 65535))
		return fail(path, "\"%s\" must be an integer from 1 to 65535", "smtp.port");
	/* The envelope sender: an address with no spaces, angle brackets or
	 * line breaks (it is written into the SMTP dialogue and a header). */
	if (!from || !strchr(from, '@') || strlen(from) > 254 || strpbrk(from, "<> \t\r\n\"(),;"))
		return fail(path, "\"%s\" must be an e-mail address", "smtp.from");
	if (tls && !json_is_boolean(tls))
		return fail(path, "\"%s\" must be true or false", "smtp.starttls");
	c->smtp_port = port ? (unsigned)json_integer_value(port) : 25;
	c->smtp_starttls = tls && json_is_true(tls);
	if (!(c->smtp_host = strdup(host)) || !(c->smtp_from = strdup(from)))
		return NDX_ENOMEM;
	return NDX_OK;
}

static int load(const char *path, const json_t *root, const char *base, struct pconfig *c)
{
	const char *s, *why = NULL;
	const json_t *o, *v;
	char real[PATH_MAX], *p;
	struct ndx_id id;
	int rc;

	s = get_str(root, "listen");
	if (ndx_args_listen(s ? s : "127.0.0.1:4450", c->listen_addr, sizeof c->listen_addr,
			    &c->port, &why) != NDX_OK)
		return fail(path, "\"listen\": %s", why);
	if (!(c->public_url = url_dup(path, "public_url", get_str(root, "public_url"))))
		return NDX_EINVAL;
	c->secure_cookie = strncmp(c->public_url, "https://", 8) == 0;
	if (!(s = get_str(root, "data_dir")))
		return fail(path, "\"%s\" is required", "data_dir");
	if (!(c->data_dir = path_dup(base, s)))
		return NDX_ENOMEM;
	/* The store on PostgreSQL: a connection string without a password
	 * (it belongs in a password file, so that the string can be printed;
	 * the refusal never prints it). A SQLite file is data_dir's. */
	if ((v = json_object_get(root, "store"))) {
		if (!json_is_string(v) || !ndx_sqldb_is_pg(json_string_value(v)))
			return fail(path, "\"%s\" must be a postgresql:// connection string"
				    " (leave it out for DATA/portal.db)", "store");
		if (ndx_sqldb_check(json_string_value(v), &why) != NDX_OK)
			return fail(path, "\"%s\": %s", "store", why);
		if (!(c->store = strdup(json_string_value(v))))
			return NDX_ENOMEM;
	}
	if (!(s = get_str(root, "web_dir")))
		return fail(path, "\"%s\" is required", "web_dir");
	if (!(p = path_dup(base, s)))
		return NDX_ENOMEM;
	if (!realpath(p, real)) {
		fprintf(stderr, PROG ": %s: web_dir %s: %s\n", path, p, strerror(errno));
		free(p);
		return NDX_EINVAL;
	}
	free(p);
	if (!(c->web_dir = strdup(real)))
		return NDX_ENOMEM;
	if ((s = get_str(root, "assets_dir"))) {
		if (!(p = path_dup(base, s)))
			return NDX_ENOMEM;
		if (realpath(p, real)) {
			c->assets_dir = strdup(real);
			if (!c->assets_dir) {
				free(p);
				return NDX_ENOMEM;
			}
		} else {
			/* The design system is an npm build product: without
			 * it the pages still come up, unstyled. */
			fprintf(stderr, PROG ": warning: assets_dir %s: %s; /assets/govuk/ answers 404\n",
				p, strerror(errno));
		}
		free(p);
	}

	if ((s = get_str(root, "chart_assets_dir"))) {
		if (!(p = path_dup(base, s)))
			return NDX_ENOMEM;
		if (realpath(p, real)) {
			c->chart_dir = strdup(real);
			if (!c->chart_dir) {
				free(p);
				return NDX_ENOMEM;
			}
		} else {
			/* Like assets_dir: an npm build product. The operations
			 * centre then shows its tables without charts. */
			fprintf(stderr, PROG ": warning: chart_assets_dir %s: %s; /assets/chartjs/ "
					"answers 404\n", p, strerror(errno));
		}
		free(p);
	}

	o = json_object_get(root, "oidc");
	if (!json_is_object(o))
		return fail(path, "\"%s\" (an object) is required", "oidc");
	if (!(c->oidc_issuer = url_dup(path, "oidc.issuer", get_str(o, "issuer"))))
		return NDX_EINVAL;
	if (!(s = get_str(o, "client_id")) || !*s || strpbrk(s, ":\r\n"))
		return fail(path, "\"%s\" is required (no ':')", "oidc.client_id");
	if (!(c->oidc_client_id = strdup(s)))
		return NDX_ENOMEM;
	if (!(s = get_str(o, "client_secret_file")))
		return fail(path, "\"%s\" is required", "oidc.client_secret_file");
	if ((rc = read_secret(path, base, "oidc.client_secret_file", s, &c->oidc_client_secret)))
		return rc;

	o = json_object_get(root, "exchange");
	if (!json_is_object(o))
		return fail(path, "\"%s\" (an object) is required", "exchange");
	if (!(c->consumer_url = url_dup(path, "exchange.consumer_url", get_str(o, "consumer_url"))))
		return NDX_EINVAL;
	s = get_str(o, "client");
	if (!s || ndx_id_parse(s, strlen(s), NDX_ID_SUBSYSTEM, &id, &why) != NDX_OK)
		return fail(path, "\"exchange.client\" must be a subsystem id (%s)",
			    why ? why : "missing");
	if (!(c->client = strdup(s)))
		return NDX_ENOMEM;

	o = json_object_get(root, "consent_service");
	if (o && !json_is_null(o)) {
		if (!json_is_object(o))
			return fail(path, "\"%s\" must be an object", "consent_service");
		if (!(c->consent_url = url_dup(path, "consent_service.url", get_str(o, "url"))))
			return NDX_EINVAL;
		if (!(s = get_str(o, "token_file")))
			return fail(path, "\"%s\" is required", "consent_service.token_file");
		if ((rc = read_secret(path, base, "consent_service.token_file", s,
				      &c->consent_token)))
			return rc;
		s = get_str(o, "issuer");
		if (s && !(c->consent_issuer = strdup(s)))
			return NDX_ENOMEM;
	}

	/* The operations centre's source (docs/portal.md "The operations
	 * centre"): the token file is only named here and read at each call,
	 * so that the monitoring service may be initialised after the portal
	 * starts and its token replaced without a restart. */
	o = json_object_get(root, "monitor");
	if (o && !json_is_null(o)) {
		if (!json_is_object(o))
			return fail(path, "\"%s\" must be an object", "monitor");
		if (!(c->monitor_url = url_dup(path, "monitor.url", get_str(o, "url"))))
			return NDX_EINVAL;
		if (!(s = get_str(o, "token_file")) || !*s)
			return fail(path, "\"%s\" is required", "monitor.token_file");
		if (!(c->monitor_token_file = path_dup(base, s)))
			return NDX_ENOMEM;
		v = json_object_get(o, "push_interval_s");
		if (v && (!json_is_integer(v) || json_integer_value(v) < 1 ||
			  json_integer_value(v) > 3600))
			return fail(path, "\"%s\" must be an integer from 1 to 3600",
				    "monitor.push_interval_s");
		c->push_interval_s = v ? (unsigned)json_integer_value(v) : 5;
	}

	/* The marketplace: credentials are only named by their directory
	 * here and read at each call, like the monitor's token, so a member
	 * enrolled later needs no restart. */
	o = json_object_get(root, "market");
	if (o && !json_is_null(o)) {
		if (!json_is_object(o))
			return fail(path, "\"%s\" must be an object", "market");
		if (!(c->market_registry_url = url_dup(path, "market.registry_url",
						       get_str(o, "registry_url"))))
			return NDX_EINVAL;
		if (!(s = get_str(o, "credentials_dir")) || !*s)
			return fail(path, "\"%s\" is required", "market.credentials_dir");
		if (!(c->market_credentials_dir = path_dup(base, s)))
			return NDX_ENOMEM;
		/* The registry's anchor, for checking usage statements. */
		if (json_object_get(o, "anchor") && !json_is_null(json_object_get(o, "anchor")) &&
		    (!(s = get_str(o, "anchor")) || !*s))
			return fail(path, "\"%s\" must be a path", "market.anchor");
		if ((s = get_str(o, "anchor")) && !(c->market_anchor = path_dup(base, s)))
			return NDX_ENOMEM;
	}

	o = json_object_get(root, "payment");
	if (o && !json_is_null(o) && (rc = load_payment(path, o, c)))
		return rc;

	o = json_object_get(root, "smtp");
	if (o && !json_is_null(o) && (rc = load_smtp(path, o, c)))
		return rc;

	/* Public holidays for the deadlines: a malformed list refuses the
	 * start, naming the file and the line. */
	v = json_object_get(root, "holidays_file");
	if (v && !json_is_null(v)) {
		char err[PATH_MAX + 160];

		if (!json_is_string(v) || !*json_string_value(v))
			return fail(path, "\"%s\" must be a file name", "holidays_file");
		if (!(c->holidays_file = path_dup(base, json_string_value(v))))
			return NDX_ENOMEM;
		if ((rc = holidays_load(c->holidays_file, &c->holidays, err, sizeof err)))
			return fail(path, "holidays_file: %s", err);
	}

	c->session_minutes = 30;
	v = json_object_get(root, "session_minutes");
	if (v) {
		if (!json_is_integer(v) || json_integer_value(v) < 1 ||
		    json_integer_value(v) > 8 * 60)
			return fail(path, "\"%s\" must be an integer from 1 to 480",
				    "session_minutes");
		c->session_minutes = (unsigned)json_integer_value(v);
	}
	v = json_object_get(root, "trusted_proxies");
	if (v) {
		size_t i;
		json_t *item;
		const char *bad = NULL;

		if (!json_is_array(v))
			return fail(path, "\"%s\" must be an array of IP addresses",
				    "trusted_proxies");
		json_array_foreach(v, i, item) {
			if (!json_is_string(item) ||
			    signin_proxies_add(&c->proxies, json_string_value(item), &bad) != 0)
				return fail(path, "\"%s\"[%zu]: %s", "trusted_proxies", i,
					    json_is_string(item) ? bad : "not a string");
		}
	}
	c->threads = 8;
	v = json_object_get(root, "threads");
	if (v) {
		if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 256)
			return fail(path, "\"%s\" must be an integer from 1 to 256", "threads");
		c->threads = (unsigned)json_integer_value(v);
	}
	return NDX_OK;
}

int pconfig_load(const char *path, struct pconfig **out)
{
	char *text = NULL, *dircopy = NULL, real[PATH_MAX];
	struct pconfig *c;
	json_error_t jerr;
	json_t *root;
	size_t len;
	int rc;

	*out = NULL;
	rc = ndx_file_read(path, CONFIG_MAX, &text, &len);
	if (rc != NDX_OK) {
		fprintf(stderr, PROG ": cannot read %s: %s\n", path,
			rc == NDX_EIO ? "missing or unreadable" : ndx_strerror(rc));
		return rc;
	}
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	free(text);
	if (!json_is_object(root)) {
		fprintf(stderr, PROG ": %s:%d: not a JSON object: %s\n", path, jerr.line,
			root ? "" : jerr.text);
		json_decref(root);
		return NDX_EINVAL;
	}
	c = calloc(1, sizeof *c);
	if (!realpath(path, real) || !(dircopy = strdup(real)) || !c) {
		free(c);
		free(dircopy);
		json_decref(root);
		return NDX_ENOMEM;
	}
	rc = load(path, root, dirname(dircopy), c);
	free(dircopy);
	json_decref(root);
	if (rc != NDX_OK) {
		pconfig_free(c);
		return rc;
	}
	*out = c;
	return NDX_OK;
}

static void free_secret(char *s)
{
	if (s) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}

void pconfig_free(struct pconfig *c)
{
	if (!c)
		return;
	free(c->public_url);
	free(c->data_dir);
	free(c->store);
	free(c->web_dir);
	free(c->assets_dir);
	free(c->oidc_issuer);
	free(c->oidc_client_id);
	free_secret(c->oidc_client_secret);
	free(c->consumer_url);
	free(c->client);
	free(c->consent_url);
	free_secret(c->consent_token);
	free(c->consent_issuer);
	free(c->chart_dir);
	free(c->market_registry_url);
	free(c->market_credentials_dir);
	free(c->market_anchor);
	free(c->monitor_url);
	free(c->monitor_token_file);
	free(c->holidays_file);
	holidays_free(&c->holidays);
	free(c->pay_orders_service);
	free(c->smtp_host);
	free(c->smtp_from);
	for (unsigned i = 0; i < c->pay_nbanks; i++) {
		free(c->pay_banks[i].name);
		free(c->pay_banks[i].url);
	}
	free(c);
}
