/* Static files (ndx/static_files.h). A request path is decoded once, refused when it
 * holds a NUL, a backslash or a dot segment, then resolved with realpath
 * and served only when the resolved file lies inside the resolved root, so
 * neither ".." nor a symlink can leave it. Files are read whole with a cap:
 * the UI is small and this keeps the server free of file handles. */
#include "ndx/static_files.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ndx/encode.h"
#include "ndx/err.h"
#include "ndx/file.h"

#define STATIC_MAX (16u * 1024u * 1024u)

static const struct {
	const char *ext, *type;
} TYPES[] = {
	{ ".html", "text/html; charset=utf-8" },
	{ ".js", "text/javascript; charset=utf-8" },
	{ ".mjs", "text/javascript; charset=utf-8" },
	{ ".css", "text/css; charset=utf-8" },
	{ ".svg", "image/svg+xml" },
	{ ".png", "image/png" },
	{ ".woff2", "font/woff2" },
	{ ".woff", "font/woff" },
	{ ".ico", "image/x-icon" },
	{ ".json", "application/json" },
	{ ".map", "application/json" },
	{ ".txt", "text/plain; charset=utf-8" },
};

static const char *content_type(const char *path)
{
	const char *dot = strrchr(path, '.');

	if (dot && !strchr(dot, '/'))
		for (size_t i = 0; i < sizeof TYPES / sizeof *TYPES; i++)
			if (strcmp(dot, TYPES[i].ext) == 0)
				return TYPES[i].type;
	return "application/octet-stream";
}

static void not_found(struct ndx_http_resp *resp)
{
	ndx_http_resp_json(resp, 404, json_pack("{s:s,s:s}", "error", "not_found", "message",
						 "no such file"));
}

/* Whether any segment of p is "." or ".." (or starts with '.', which also
 * keeps dotfiles private). */
static int dot_segment(const char *p)
{
	for (const char *s = p; *s;) {
		if (*s == '.')
			return 1;
		s = strchr(s, '/');
		if (!s)
			break;
		s++;
	}
	return 0;
}

void ndx_static_serve(const char *root, const char *rel, struct ndx_http_resp *resp)
{
	char dec[PATH_MAX], full[PATH_MAX * 2], real[PATH_MAX], *data = NULL;
	size_t rootlen, len;
	struct stat sb;
	long n;

	if (!root) {
		not_found(resp);
		return;
	}
	n = ndx_pct_decode(rel, strlen(rel), dec, sizeof dec);
	if (n <= 0 || strchr(dec, '\\') || dot_segment(dec)) {
		not_found(resp);
		return;
	}
	snprintf(full, sizeof full, "%s/%s", root, dec);
	rootlen = strlen(root);
	if (!realpath(full, real) || strncmp(real, root, rootlen) != 0 || real[rootlen] != '/' ||
	    stat(real, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		not_found(resp);
		return;
	}
	if (ndx_file_read(real, STATIC_MAX, &data, &len) != NDX_OK) {
		not_found(resp);
		return;
	}
	ndx_http_resp_bytes(resp, 200, content_type(real), data, len);
	ndx_http_resp_header(resp, "Cache-Control", "no-cache");
	free(data);
}
