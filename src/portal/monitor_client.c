/* Requests to the monitoring service with its admin token
 * (monitor_client.h). The token is read from its file at each call, kept
 * only for the request, and wiped afterwards. */
#include "monitor_client.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ndx/err.h"
#include "ndx/file.h"

#define TOKEN_MAX 4096
#define URL_MAX 4096

/* The admin token from its file, trimmed, into a new string; NULL with why
 * when it cannot be read. */
static char *token_read(const struct pconfig *cfg, char *why, size_t cap)
{
	char *text = NULL;
	size_t len = 0;
	int rc = ndx_file_read(cfg->monitor_token_file, TOKEN_MAX, &text, &len);

	if (rc != NDX_OK) {
		snprintf(why, cap, "cannot read monitor.token_file %s: %s",
			 cfg->monitor_token_file, ndx_strerror(rc));
		return NULL;
	}
	while (len && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' '))
		text[--len] = '\0';
	if (len == 0 || strlen(text) != len || strpbrk(text, "\r\n")) {
		snprintf(why, cap, "monitor.token_file %s is empty or not one line",
			 cfg->monitor_token_file);
		OPENSSL_cleanse(text, len);
		free(text);
		return NULL;
	}
	return text;
}

enum monitor_fail monitor_client_call(const struct pconfig *cfg, const char *method,
				      const char *path_query, const char *body, size_t body_len,
				      size_t max_body, long timeout_ms, struct ndx_fetch_resp *out,
				      char *why, size_t why_cap)
{
	char url[URL_MAX], auth[TOKEN_MAX + 32];
	const char *headers[] = { auth, "Accept: application/json",
				  body ? "Content-Type: application/json" : NULL, NULL };
	char *token;
	int rc;

	memset(out, 0, sizeof *out);
	if (why_cap)
		why[0] = '\0';
	if (!cfg->monitor_url) {
		snprintf(why, why_cap, "no monitor in the configuration");
		return MONITOR_NOT_CONFIGURED;
	}
	if (snprintf(url, sizeof url, "%s%s", cfg->monitor_url, path_query) >= (int)sizeof url) {
		snprintf(why, why_cap, "the request is too long");
		return MONITOR_BAD_REQUEST;
	}
	if (!(token = token_read(cfg, why, why_cap)))
		return MONITOR_TOKEN;
	snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
	OPENSSL_cleanse(token, strlen(token));
	free(token);
	struct ndx_fetch_req r = { .method = method, .url = url, .headers = headers,
				   .body = body, .body_len = body_len,
				   .timeout_ms = timeout_ms, .max_body = max_body };
	rc = ndx_fetch(&r, out);
	OPENSSL_cleanse(auth, sizeof auth);
	if (rc != NDX_OK) {
		ndx_fetch_resp_free(out);
		memset(out, 0, sizeof *out);
		snprintf(why, why_cap, "%s: %s", cfg->monitor_url, ndx_strerror(rc));
		return rc == NDX_ENOMEM ? MONITOR_BAD_REQUEST : MONITOR_UNREACHABLE;
	}
	return MONITOR_OK;
}
