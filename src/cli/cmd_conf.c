/* `ndx conf fetch` and `ndx conf verify`: the operator's view of the signed
 * global configuration (docs/protocol.md "The global configuration"). fetch
 * downloads GET /conf and its Ndx-Conf-Signature header and verifies both
 * against the anchor before a single byte reaches the disk, so a forged or
 * expired document never replaces a good copy; verify re-checks a saved
 * directory and names what is wrong (bad signature, unknown key, expired,
 * missing file). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "client.h"
#include "ndx/conf.h"
#include "ndx/err.h"
#include "ndx/timefmt.h"

#define SIG_HEADER "Ndx-Conf-Signature"

static const char conf_usage[] =
	"usage: ndx conf fetch [--registry URL]... --anchor FILE --out DIR\n"
	"       ndx conf verify DIR --anchor FILE [--at RFC3339]\n"
	"\n"
	"  fetch    download the registry's signed global configuration, verify its\n"
	"           signature, instance and expiry against the anchor, and only then\n"
	"           save it as DIR/conf.json and DIR/conf.sig (removing any\n"
	"           conf.delta.N a gateway saved there)\n"
	"    --registry URL  registry base URL (default $NDX_REGISTRY, else every\n"
	"                    node the anchor lists); up to 8 times for several\n"
	"                    nodes of one registry: asked in turn until one gives a\n"
	"                    configuration that verifies\n"
	"    --anchor FILE   the trust anchor (anchor.json, handed over out of band)\n"
	"    --out DIR       where to save the configuration (created if missing)\n"
	"  verify   check a saved configuration directory against the anchor (a\n"
	"           gateway's: conf.json and the deltas conf.delta.1, .2, ... on it);\n"
	"           prints \"valid: version N, expires T\" or names the problem\n"
	"    --anchor FILE   the trust anchor\n"
	"    --at RFC3339    check validity at this time instead of now\n"
	"                    (e.g. 2026-11-23T09:20:51Z)\n"
	"  --help   show this help\n";

/* A name for what verification refused, independent of libndx's wording. */
static const char *problem(int rc)
{
	switch (rc) {
	case NDX_EBADSIG: return "bad signature";
	case NDX_ENOTFOUND: return "unknown key (the signing key is not in the anchor)";
	case NDX_EEXPIRED: return "expired";
	case NDX_EIO: return "missing or unreadable file";
	case NDX_EINVAL: return "invalid document or signature";
	case NDX_ETOOBIG: return "document too large";
	default: return ndx_strerror(rc);
	}
}

static size_t count(const json_t *doc, const char *field)
{
	return json_array_size(json_object_get(doc, field));
}

static void print_summary(const struct ndx_conf *conf)
{
	const json_t *doc = ndx_conf_json(conf);
	char gen[NDX_TIME_TEXT_LEN], exp[NDX_TIME_TEXT_LEN];

	ndx_time_format(ndx_conf_generated_at(conf), gen);
	ndx_time_format(ndx_conf_expires_at(conf), exp);
	printf("  instance %s, generated %s, expires %s\n", ndx_conf_instance(conf), gen, exp);
	printf("  %zu members, %zu subsystems, %zu services, %zu gateways, %zu grants, "
	       "%zu revocations\n",
	       count(doc, "members"), count(doc, "subsystems"), count(doc, "services"),
	       count(doc, "gateways"), count(doc, "grants"), count(doc, "revocations"));
}

static struct ndx_anchor *load_anchor(const char *path)
{
	struct ndx_anchor *anchor = NULL;
	char err[512] = "";
	int rc = ndx_anchor_load(path, &anchor, err, sizeof(err));

	if (rc != NDX_OK) {
		cli_error("cannot use the anchor %s: %s", path, err[0] ? err : problem(rc));
		return NULL;
	}
	return anchor;
}

/* Fetches, verifies and saves the configuration from one registry node;
 * says what went wrong (on stderr) and returns CLI_EXIT_FAIL, else
 * CLI_EXIT_OK. */
static int fetch_from(const char *base, const struct ndx_anchor *anchor, const char *out_dir,
		      int quiet, uint64_t *version)
{
	struct cli_http_request req = { 0 };
	struct cli_http_response resp = { 0 };
	struct ndx_conf *conf = NULL;
	char *url = NULL, err[1024] = "";
	size_t blen = strlen(base);
	int rc, exit_code = CLI_EXIT_FAIL;

	while (blen > 0 && base[blen - 1] == '/')
		blen--;
	if (asprintf(&url, "%.*s/conf", (int)blen, base) < 0) {
		url = NULL;
		cli_error("out of memory");
		goto out;
	}
	req.method = "GET";
	req.url = url;
	req.want_header = SIG_HEADER;
	req.max_body = NDX_CONF_MAX_BYTES;
	req.timeout_s = 120;
	rc = cli_http(&req, &resp, err, sizeof(err));
	if (rc != NDX_OK) {
		cli_error("%s", err);
		goto out;
	}
	if (resp.status != 200) {
		cli_error("%s answered %ld, not the configuration; nothing written", url, resp.status);
		goto out;
	}
	if (resp.header == NULL || resp.header[0] == '\0') {
		cli_error("%s sent no %s header; the configuration is unsigned, nothing written",
			  url, SIG_HEADER);
		goto out;
	}
	rc = ndx_conf_verify((const uint8_t *)resp.body, resp.len, resp.header, anchor,
			     time(NULL), &conf, err, sizeof(err));
	if (rc != NDX_OK) {
		cli_error("the configuration from %s was rejected: %s%s%s%s; nothing written", url,
			  problem(rc), err[0] ? " (" : "", err, err[0] ? ")" : "");
		goto out;
	}
	rc = ndx_conf_save_dir(out_dir, (const uint8_t *)resp.body, resp.len, resp.header);
	if (rc != NDX_OK) {
		cli_error("cannot save the configuration into %s: %s", out_dir, ndx_strerror(rc));
		goto out;
	}
	ndx_conf_clear_deltas(out_dir); /* a gateway's deltas on the old document */
	if (version != NULL)
		*version = ndx_conf_version(conf);
	if (!quiet) {
		printf("fetched configuration version %llu from %s, signature verified, saved in %s\n",
		       (unsigned long long)ndx_conf_version(conf), base, out_dir);
		print_summary(conf);
	}
	exit_code = CLI_EXIT_OK;
out:
	ndx_conf_free(conf);
	cli_http_response_free(&resp);
	free(url);
	return exit_code;
}

int cli_conf_fetch_nodes(const char *const *registry_urls, size_t n_urls,
			 const char *anchor_path, const char *out_dir, int quiet,
			 uint64_t *version)
{
	const char *nodes[NDX_ANCHOR_URLS_MAX];
	struct ndx_anchor *anchor;
	const char *env = getenv("NDX_REGISTRY");
	size_t n = 0;
	int exit_code = CLI_EXIT_FAIL;

	anchor = load_anchor(anchor_path);
	if (anchor == NULL)
		return CLI_EXIT_FAIL;
	/* --registry (each node given), else $NDX_REGISTRY, else every node
	 * the anchor lists. */
	for (size_t i = 0; i < n_urls && n < NDX_ANCHOR_URLS_MAX; i++)
		if (registry_urls[i] && registry_urls[i][0])
			nodes[n++] = registry_urls[i];
	if (n == 0 && env && env[0])
		nodes[n++] = env;
	if (n == 0)
		for (size_t i = 0; i < ndx_anchor_registry_url_count(anchor); i++)
			nodes[n++] = ndx_anchor_registry_url_at(anchor, i);
	/* A node that fails is said so, and the next one asked: nodes of one
	 * registry serve the same signed document (docs/scale.md). */
	for (size_t i = 0; i < n && exit_code != CLI_EXIT_OK; i++) {
		exit_code = fetch_from(nodes[i], anchor, out_dir, quiet, version);
		if (exit_code != CLI_EXIT_OK && i + 1 < n)
			cli_error("asking the next registry node, %s", nodes[i + 1]);
	}
	if (exit_code != CLI_EXIT_OK && n > 1)
		cli_error("none of the %zu registry nodes gave a valid configuration; nothing "
			  "written", n);
	ndx_anchor_free(anchor);
	return exit_code;
}

int cli_conf_fetch(const char *registry_url, const char *anchor_path,
		   const char *out_dir, int quiet, uint64_t *version)
{
	return cli_conf_fetch_nodes(&registry_url, registry_url ? 1 : 0, anchor_path, out_dir,
				    quiet, version);
}

static int conf_verify(const char *dir, const char *anchor_path, const char *at)
{
	struct ndx_anchor *anchor;
	struct ndx_conf *conf = NULL;
	char err[1024] = "", exp[NDX_TIME_TEXT_LEN];
	time_t now = time(NULL);
	int rc;

	if (at != NULL && ndx_time_parse(at, &now) != NDX_OK)
		return cli_usage_error(conf_usage, "--at must be an RFC 3339 UTC time like "
				       "2026-11-23T09:20:51Z, not '%s'", at);
	anchor = load_anchor(anchor_path);
	if (anchor == NULL)
		return CLI_EXIT_FAIL;
	/* What a gateway holds: its last full document and the deltas on it. */
	rc = ndx_conf_load_dir_deltas(dir, anchor, now, &conf, NULL, err, sizeof(err));
	ndx_anchor_free(anchor);
	if (rc != NDX_OK) {
		cli_error("the configuration in %s is not valid: %s%s%s%s", dir, problem(rc),
			  err[0] ? " (" : "", err, err[0] ? ")" : "");
		return CLI_EXIT_FAIL;
	}
	ndx_time_format(ndx_conf_expires_at(conf), exp);
	printf("valid: version %llu, expires %s\n", (unsigned long long)ndx_conf_version(conf), exp);
	print_summary(conf);
	ndx_conf_free(conf);
	return CLI_EXIT_OK;
}

int cmd_conf(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "registry", required_argument, NULL, 'r' },
		{ "anchor", required_argument, NULL, 'a' },
		{ "out", required_argument, NULL, 'o' },
		{ "at", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sub, *registry[NDX_ANCHOR_URLS_MAX], *anchor = NULL, *out = NULL, *at = NULL;
	size_t nregistry = 0;
	int c, is_fetch;

	if (argc < 2)
		return cli_usage_error(conf_usage, "'ndx conf' needs a command: fetch or verify");
	sub = argv[1];
	if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 || strcmp(sub, "help") == 0) {
		fputs(conf_usage, stdout);
		return CLI_EXIT_OK;
	}
	is_fetch = strcmp(sub, "fetch") == 0;
	if (!is_fetch && strcmp(sub, "verify") != 0)
		return cli_usage_error(conf_usage, "unknown conf command '%s'", sub);
	argc--;
	argv++;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'h') {
			fputs(conf_usage, stdout);
			return CLI_EXIT_OK;
		} else if (c == 'a') {
			anchor = optarg;
		} else if (is_fetch && c == 'r') {
			if (nregistry == NDX_ANCHOR_URLS_MAX)
				return cli_usage_error(conf_usage, "--registry: at most %d nodes",
						       NDX_ANCHOR_URLS_MAX);
			registry[nregistry++] = optarg;
		} else if (is_fetch && c == 'o') {
			out = optarg;
		} else if (!is_fetch && c == 't') {
			at = optarg;
		} else {
			return cli_bad_option(conf_usage, argv);
		}
	}
	if (anchor == NULL)
		return cli_usage_error(conf_usage, "conf %s needs --anchor FILE", sub);
	if (is_fetch) {
		if (optind < argc)
			return cli_usage_error(conf_usage, "unexpected argument '%s'", argv[optind]);
		if (out == NULL)
			return cli_usage_error(conf_usage, "conf fetch needs --out DIR");
		return cli_conf_fetch_nodes(registry, nregistry, anchor, out, 0, NULL);
	}
	if (optind >= argc)
		return cli_usage_error(conf_usage, "conf verify needs the directory DIR");
	if (optind + 1 < argc)
		return cli_usage_error(conf_usage, "unexpected argument '%s'", argv[optind + 1]);
	return conf_verify(argv[optind], anchor, at);
}
