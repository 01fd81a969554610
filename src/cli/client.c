/* The ndx tool's HTTP client (client.h): a single blocking libcurl easy
 * request with a capped, growing body buffer, one captured response header,
 * connect and total timeouts, and errors phrased for a person at a terminal
 * ("cannot connect to ...: Connection refused"). On top of it, the JSON call
 * to the registry's management API that turns X-Road style error bodies into
 * "<status> <type>: <message> (<detail>)" (docs/registry-api.md "Errors").
 * The admin token only ever travels in the Authorization header. A URL
 * "unix:/SOCKET:/PATH" (nginx's form, as a gateway's backend) is asked over
 * that Unix domain socket: the demo's sector registries listen so. */
#include "client.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "ndx/buf.h"
#include "ndx/err.h"
#include "ndx/file.h"
#include "ndx/unixsock.h"

#define DEFAULT_REGISTRY "http://127.0.0.1:4400"
#define CONNECT_TIMEOUT_S 5L
#define DEFAULT_TIMEOUT_S 30L
#define TOKEN_FILE_MAX 4096u

struct sink {
	struct ndx_buf body;
	int toobig;
	const char *want_header;
	char *header;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
	struct sink *s = ud;
	size_t n = size * nmemb;
	int rc = ndx_buf_append(&s->body, data, n);

	if (rc == NDX_ETOOBIG)
		s->toobig = 1;
	return rc == NDX_OK ? n : 0; /* 0 makes curl stop with CURLE_WRITE_ERROR */
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
	struct sink *s = ud;
	size_t n = size * nmemb, name_len, vlen;
	const char *colon, *v;

	if (s->want_header == NULL)
		return n;
	/* A redirect or 100-continue starts a new header block; keep only the
	 * final answer's header. */
	if (n >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		free(s->header);
		s->header = NULL;
		return n;
	}
	colon = memchr(data, ':', n);
	if (colon == NULL)
		return n;
	name_len = (size_t)(colon - data);
	if (name_len != strlen(s->want_header) ||
	    strncasecmp(data, s->want_header, name_len) != 0)
		return n;
	v = colon + 1;
	vlen = n - name_len - 1;
	while (vlen > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		vlen--;
	}
	while (vlen > 0 && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' ||
			    v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
		vlen--;
	free(s->header);
	s->header = strndup(v, vlen);
	if (s->header == NULL)
		return 0;
	return n;
}

void cli_http_response_free(struct cli_http_response *resp)
{
	if (resp == NULL)
		return;
	free(resp->body);
	free(resp->header);
	memset(resp, 0, sizeof(*resp));
}

static void describe_curl_error(CURLcode cc, const char *url, const char *detail,
				char *err, size_t errcap)
{
	const char *what = detail[0] ? detail : curl_easy_strerror(cc);

	switch (cc) {
	case CURLE_COULDNT_CONNECT:
		snprintf(err, errcap, "cannot connect to %s (is it running?): %s", url, what);
		break;
	case CURLE_COULDNT_RESOLVE_HOST:
		snprintf(err, errcap, "cannot resolve the host of %s: %s", url, what);
		break;
	case CURLE_OPERATION_TIMEDOUT:
		snprintf(err, errcap, "no answer from %s in time: %s", url, what);
		break;
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
		snprintf(err, errcap, "bad URL %s: %s", url, what);
		break;
	default:
		snprintf(err, errcap, "request to %s failed: %s", url, what);
		break;
	}
}

int cli_http(const struct cli_http_request *req, struct cli_http_response *resp,
	     char *err, size_t errcap)
{
	struct sink s = { 0 };
	struct curl_slist *headers = NULL, *h;
	char errbuf[CURL_ERROR_SIZE] = "";
	char line[1024], sock[NDX_UNIX_PATH_MAX + 1];
	const char *unix_rest = NULL;
	char *unix_url = NULL;
	CURL *c;
	CURLcode cc;
	int rc = NDX_OK;

	memset(resp, 0, sizeof(*resp));
	if (strncmp(req->url, "unix:", 5) == 0) {
		size_t n;

		if (ndx_unix_url_split(req->url, sock, &unix_rest) != NDX_OK) {
			snprintf(err, errcap, "%s is not unix:/SOCKET:/PATH", req->url);
			return NDX_EINVAL;
		}
		n = strlen(unix_rest) + sizeof "http://localhost";
		if (!(unix_url = malloc(n))) {
			snprintf(err, errcap, "out of memory");
			return NDX_ENOMEM;
		}
		snprintf(unix_url, n, "http://localhost%s", unix_rest);
	}
	ndx_buf_init(&s.body, req->max_body ? req->max_body : CLI_HTTP_MAX_BODY);
	s.want_header = req->want_header;
	c = curl_easy_init();
	if (c == NULL) {
		free(unix_url);
		snprintf(err, errcap, "cannot initialise libcurl");
		return NDX_ENOMEM;
	}
	if (req->bearer != NULL) {
		/* The token goes only into this header, which is never logged. */
		int n = snprintf(line, sizeof(line), "Authorization: Bearer %s", req->bearer);

		if (n < 0 || (size_t)n >= sizeof(line)) {
			snprintf(err, errcap, "the admin token is too long");
			curl_easy_cleanup(c);
			free(unix_url);
			return NDX_EINVAL;
		}
		h = curl_slist_append(headers, line);
		if (h == NULL)
			goto nomem;
		headers = h;
	}
	if (req->body != NULL) {
		snprintf(line, sizeof(line), "Content-Type: %s",
			 req->content_type ? req->content_type : "application/json");
		h = curl_slist_append(headers, line);
		if (h == NULL)
			goto nomem;
		headers = h;
	}
	h = curl_slist_append(headers, "Accept: application/json");
	if (h == NULL)
		goto nomem;
	headers = h;
	for (size_t i = 0; req->headers && req->headers[i]; i++) {
		if (!(h = curl_slist_append(headers, req->headers[i])))
			goto nomem;
		headers = h;
	}

	curl_easy_setopt(c, CURLOPT_URL, unix_url ? unix_url : req->url);
	if (unix_url)
		curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, sock);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_S);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, req->timeout_s > 0 ? req->timeout_s : DEFAULT_TIMEOUT_S);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "ndx-cli/0.1");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &s);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
	if (strcmp(req->method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	if (req->body != NULL) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
	}

	cc = curl_easy_perform(c);
	if (cc != CURLE_OK) {
		if (s.toobig) {
			snprintf(err, errcap, "the answer from %s is larger than %zu bytes",
				 req->url, s.body.max);
			rc = NDX_ETOOBIG;
		} else if (cc == CURLE_WRITE_ERROR || cc == CURLE_OUT_OF_MEMORY) {
			snprintf(err, errcap, "out of memory reading the answer from %s", req->url);
			rc = NDX_ENOMEM;
		} else {
			describe_curl_error(cc, req->url, errbuf, err, errcap);
			rc = cc == CURLE_URL_MALFORMAT || cc == CURLE_UNSUPPORTED_PROTOCOL
				? NDX_EINVAL : NDX_ENET;
		}
		ndx_buf_free(&s.body);
		free(s.header);
	} else {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
		/* An empty answer is "", not NULL: callers parse the body. */
		resp->body = ndx_buf_steal(&s.body, &resp->len);
		if (resp->body == NULL && (resp->body = strdup("")) == NULL) {
			free(s.header);
			snprintf(err, errcap, "out of memory");
			rc = NDX_ENOMEM;
			goto out;
		}
		resp->header = s.header;
	}
out:
	free(unix_url);
	curl_slist_free_all(headers);
	curl_easy_cleanup(c);
	return rc;
nomem:
	free(unix_url);
	curl_slist_free_all(headers);
	curl_easy_cleanup(c);
	snprintf(err, errcap, "out of memory");
	return NDX_ENOMEM;
}

/* Reads a token file: the first line, surrounding white space removed. */
static char *read_token_file(const char *path)
{
	char *data = NULL, *start, *end, *tok;
	size_t len = 0;
	int rc = ndx_file_read(path, TOKEN_FILE_MAX, &data, &len);

	if (rc != NDX_OK) {
		cli_error("cannot read the token file %s: %s", path,
			  rc == NDX_ETOOBIG ? "larger than 4 KiB" : "missing or unreadable");
		return NULL;
	}
	start = data;
	while (*start == ' ' || *start == '\t' || *start == '\r' || *start == '\n')
		start++;
	end = start;
	while (*end && *end != '\r' && *end != '\n')
		end++;
	while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if (end == start) {
		cli_error("the token file %s is empty", path);
		free(data);
		return NULL;
	}
	tok = strndup(start, (size_t)(end - start));
	/* Scrub the copy we read so the token does not linger in freed memory. */
	memset(data, 0, len);
	free(data);
	if (tok == NULL)
		cli_error("out of memory");
	return tok;
}

int cli_api_open(struct cli_api *api, const char *registry, const char *token_file,
		 int need_token)
{
	const char *url = registry;
	size_t n;

	memset(api, 0, sizeof(*api));
	if (url == NULL || url[0] == '\0')
		url = getenv("NDX_REGISTRY");
	if (url == NULL || url[0] == '\0')
		url = DEFAULT_REGISTRY;
	if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
		cli_error("the registry URL must start with http:// or https:// (got '%s')", url);
		return -1;
	}
	api->base_url = strdup(url);
	if (api->base_url == NULL) {
		cli_error("out of memory");
		return -1;
	}
	n = strlen(api->base_url);
	while (n > 0 && api->base_url[n - 1] == '/')
		api->base_url[--n] = '\0';

	if (token_file == NULL || token_file[0] == '\0')
		token_file = getenv("NDX_TOKEN_FILE");
	if (token_file != NULL && token_file[0] != '\0') {
		api->token = read_token_file(token_file);
		if (api->token == NULL) {
			cli_api_close(api);
			return -1;
		}
	} else {
		const char *env = getenv("NDX_ADMIN_TOKEN");

		if (env != NULL && env[0] != '\0') {
			api->token = strdup(env);
			if (api->token == NULL) {
				cli_error("out of memory");
				cli_api_close(api);
				return -1;
			}
		}
	}
	if (need_token && api->token == NULL) {
		cli_error("no admin token: give --token-file FILE, or set NDX_TOKEN_FILE or NDX_ADMIN_TOKEN");
		cli_api_close(api);
		return -1;
	}
	return 0;
}

void cli_api_close(struct cli_api *api)
{
	if (api == NULL)
		return;
	free(api->base_url);
	if (api->token != NULL) {
		memset(api->token, 0, strlen(api->token));
		free(api->token);
	}
	memset(api, 0, sizeof(*api));
}

static const char *str_field(const json_t *o, const char *name)
{
	const json_t *v = json_object_get(o, name);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

int cli_api_call(const struct cli_api *api, const char *method, const char *path,
		 const json_t *body, long *status, json_t **out, char *err, size_t errcap)
{
	struct cli_http_request req = { 0 };
	struct cli_http_response resp;
	char *url = NULL, *text = NULL;
	json_t *doc = NULL;
	json_error_t jerr;
	int rc;

	*out = NULL;
	if (status != NULL)
		*status = 0;
	if (asprintf(&url, "%s%s", api->base_url, path) < 0) {
		snprintf(err, errcap, "out of memory");
		return NDX_ENOMEM;
	}
	if (body != NULL) {
		text = json_dumps(body, JSON_COMPACT);
		if (text == NULL) {
			free(url);
			snprintf(err, errcap, "out of memory");
			return NDX_ENOMEM;
		}
		req.body = text;
		req.body_len = strlen(text);
	}
	req.method = method;
	req.url = url;
	req.bearer = api->token;
	rc = cli_http(&req, &resp, err, errcap);
	free(text);
	if (rc != NDX_OK) {
		free(url);
		cli_http_response_free(&resp);
		return rc;
	}
	if (status != NULL)
		*status = resp.status;
	if (resp.len > 0)
		doc = json_loadb(resp.body, resp.len, 0, &jerr);
	if (resp.status >= 200 && resp.status < 300) {
		if (resp.len > 0 && doc == NULL) {
			snprintf(err, errcap, "%ld: the answer from %s is not JSON: %s",
				 resp.status, url, jerr.text);
			rc = NDX_EINVAL;
		} else {
			*out = doc;
			doc = NULL;
		}
	} else {
		const char *type = str_field(doc, "type");
		const char *message = str_field(doc, "message");
		const char *detail = str_field(doc, "detail");

		if (type == NULL && message == NULL)
			snprintf(err, errcap, "%ld: unexpected answer from %s", resp.status, url);
		else if (detail != NULL && detail[0] != '\0')
			snprintf(err, errcap, "%ld %s: %s (%s)", resp.status,
				 type ? type : "Error", message ? message : "", detail);
		else
			snprintf(err, errcap, "%ld %s: %s", resp.status,
				 type ? type : "Error", message ? message : "");
		rc = NDX_EPERM;
	}
	json_decref(doc);
	free(url);
	cli_http_response_free(&resp);
	return rc;
}
