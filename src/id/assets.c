/* Serving GOV.UK Frontend's files (assets.h). The request path is checked
 * character by character before it touches the file system: no "..", no
 * empty segments, a short whitelist of extensions, so nothing outside the
 * assets directory, and no script or source map, can be read through it.
 * Files are small and read whole on each request; browsers cache them.
 * Overview: docs/id.md. */
#include "assets.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ndx/err.h"
#include "ndx/file.h"

#define ASSET_MAX (4u * 1024u * 1024u)
#define REL_MAX 200

static const struct {
	const char *ext;
	const char *type;
} TYPES[] = {
	{ ".css", "text/css; charset=utf-8" },
	{ ".woff2", "font/woff2" },
	{ ".woff", "font/woff" },
	{ ".svg", "image/svg+xml" },
	{ ".png", "image/png" },
	{ ".ico", "image/x-icon" },
};

static const char *content_type(const char *rel)
{
	const char *dot = strrchr(rel, '.');

	for (size_t i = 0; dot && i < sizeof TYPES / sizeof *TYPES; i++) {
		if (strcmp(dot, TYPES[i].ext) == 0)
			return TYPES[i].type;
	}
	return NULL;
}

static int plain_path(const char *rel)
{
	size_t n = strlen(rel);

	if (n == 0 || n > REL_MAX || rel[0] == '/' || rel[n - 1] == '/' || strstr(rel, "//") ||
	    strstr(rel, ".."))
		return 0;
	for (const char *p = rel; *p; p++) {
		char c = *p;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.' || c == '/'))
			return 0;
	}
	return 1;
}

static int read_regular(const char *path, char **data, size_t *len)
{
	struct stat sb;

	if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
		return NDX_ENOTFOUND;
	return ndx_file_read(path, ASSET_MAX, data, len);
}

void idassets_serve(const char *dir, const char *rel, struct ndx_http_resp *resp)
{
	const char *type = content_type(rel);
	char path[4096];
	char *data = NULL;
	size_t len = 0;
	int n, rc = NDX_ENOTFOUND;

	if (dir && type && plain_path(rel)) {
		n = snprintf(path, sizeof path, "%s/%s", dir, rel);
		if (n > 0 && (size_t)n < sizeof path)
			rc = read_regular(path, &data, &len);
		if (rc != NDX_OK) {
			n = snprintf(path, sizeof path, "%s/assets/%s", dir, rel);
			if (n > 0 && (size_t)n < sizeof path)
				rc = read_regular(path, &data, &len);
		}
	}
	if (rc != NDX_OK) {
		ndx_http_resp_error(resp, 404, "Client.NotFound", "no such asset", NULL);
		return;
	}
	ndx_http_resp_bytes(resp, 200, type, data, len);
	ndx_http_resp_header(resp, "Cache-Control", "public, max-age=3600");
	ndx_http_resp_header(resp, "X-Content-Type-Options", "nosniff");
	free(data);
}
