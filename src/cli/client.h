/* The ndx tool's HTTP client: one libcurl request at a time with a body cap,
 * timeouts and readable errors, plus the JSON layer over it that speaks the
 * registry's management API (docs/registry-api.md). */
#ifndef NDX_CLI_CLIENT_H
#define NDX_CLI_CLIENT_H

#include <jansson.h>
#include <stddef.h>

/* Largest answer accepted unless a request says otherwise. */
#define CLI_HTTP_MAX_BODY (16u * 1024u * 1024u)

struct cli_http_request {
	const char *method;       /* "GET", "POST", "DELETE", ... */
	const char *url;
	const char *body;         /* NULL: no body */
	size_t body_len;
	const char *content_type; /* of body; NULL = application/json */
	const char *bearer;       /* token for Authorization: Bearer, or NULL */
	const char *want_header;  /* response header to capture (case-insensitive) */
	const char *const *headers; /* extra "Name: value" lines, NULL-terminated, or NULL */
	size_t max_body;          /* 0 = CLI_HTTP_MAX_BODY */
	long timeout_s;           /* whole request; 0 = 30 s */
};

struct cli_http_response {
	long status;
	char *body;   /* NUL-terminated, len bytes before the NUL; owned */
	size_t len;
	char *header; /* value of want_header (trimmed) or NULL; owned */
};

/* Performs the request. Returns NDX_OK when an HTTP answer arrived (whatever
 * its status) with resp filled, or NDX_ENET (cannot connect, timeout, TLS),
 * NDX_ETOOBIG (answer over the cap), NDX_ENOMEM, NDX_EINVAL (bad URL) with a
 * one-line reason in err and resp empty. Release resp with
 * cli_http_response_free either way. */
int cli_http(const struct cli_http_request *req, struct cli_http_response *resp,
	     char *err, size_t errcap);
/* Frees what resp owns and zeroes it; accepts an empty resp. */
void cli_http_response_free(struct cli_http_response *resp);

/* Where the management API lives and how to authenticate to it. */
struct cli_api {
	char *base_url; /* without trailing '/'; owned */
	char *token;    /* owned; never printed */
};

/* Fills api from --registry (or NDX_REGISTRY, else http://127.0.0.1:4400)
 * and --token-file (or NDX_TOKEN_FILE, else the token in NDX_ADMIN_TOKEN).
 * With need_token and no token found, fails. Returns 0, or -1 after printing
 * one "ndx: ..." line. */
int cli_api_open(struct cli_api *api, const char *registry, const char *token_file,
		 int need_token);
void cli_api_close(struct cli_api *api);

/* Sends method path (starting with '/') with body (borrowed, may be NULL) to
 * the API. Returns NDX_OK for a 2xx answer with *out its JSON (new
 * reference; NULL when the body is empty). For any other status returns
 * NDX_EPERM with *status set and err holding
 * "<status> <type>: <message> (<detail>)". For a transport failure returns
 * its error with *status 0. status may be NULL. */
int cli_api_call(const struct cli_api *api, const char *method, const char *path,
		 const json_t *body, long *status, json_t **out, char *err, size_t errcap);

#endif
