/* The OpenID Connect provider (oidc.h): authorization code flow with PKCE
 * S256 required, client_secret_basic/post, EdDSA ID tokens (RS256 for the
 * clients that registered it), an SSO session cookie whose sid the ID
 * tokens carry, RP-initiated logout. The rules that protect citizens: never
 * redirect to a URI the client did not register (an error page instead),
 * one message for an unknown PIN and a wrong password (and the same
 * Argon2id work for both: an unknown PIN is checked against the newest
 * account's hash), failures that slow their source and the PIN down
 * without ever locking the owner out (signin_throttle.h), codes that
 * live 60 s and work once (a replay revokes what the first use got), and
 * secrets stored only as hashes. Every refusal is logged on stderr with
 * at most the last 4 digits of a PIN. Overview: docs/id.md. */
#include "oidc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "assets.h"
#include "form.h"
#include "ndx/args.h"
#include "ndx/encode.h"
#include "ndx/err.h"
#include "ndx/jws.h"
#include "ndx/password.h"
#include "ndx/pin.h"
#include "page.h"
#include "signin_throttle.h"
#include "eid_metrics.h"
#include "token.h"

#define PROG "ndx-id"
#define COOKIE "ndx_id_session"
#define AUTHREQ_TTL 600        /* s: time to fill in the sign-in form */
#define TOKEN_TTL 300          /* s: access tokens (ID tokens: cfg->id_token_ttl) */
#define SESSION_IDLE 1800      /* s: SSO session idle expiry */
#define URL_MAX 8192

/* ---- logging ------------------------------------------------------------ */

/* "********1234": enough to tell attempts apart, not enough to name anyone. */
static void pin_tail(const char *pin, char out[24])
{
	size_t n = pin ? strlen(pin) : 0;

	/* Anything but digits may be a password typed into the wrong field:
	 * only its length is logged then. */
	if (n < 4 || n > 16 || strspn(pin, "0123456789") != n)
		snprintf(out, 24, "(%u chars)", (unsigned)(n % 1000));
	else
		snprintf(out, 24, "********%s", pin + n - 4);
}

static void refuse_log(const struct ndx_http_req *req, const char *what, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void refuse_log(const struct ndx_http_req *req, const char *what, const char *fmt, ...)
{
	char detail[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);
	fprintf(stderr, PROG ": refused %s from %s: %s\n", what, req->remote_addr, detail);
}

/* ---- answers ---------------------------------------------------------------- */

static void security_headers(struct ndx_http_resp *resp, const char *form_origin)
{
	char csp[IDSTORE_URI_MAX + 256];

	/* The origin is at most IDSTORE_URI_MAX bytes: it always fits. */
	snprintf(csp, sizeof csp,
		 "default-src 'none'; style-src 'self'; font-src 'self'; img-src 'self'; "
		 "form-action 'self'%s%s; frame-ancestors 'none'; base-uri 'none'",
		 form_origin ? " " : "", form_origin ? form_origin : "");
	ndx_http_resp_header(resp, "Content-Security-Policy", csp);
	ndx_http_resp_header(resp, "X-Frame-Options", "DENY");
	ndx_http_resp_header(resp, "X-Content-Type-Options", "nosniff");
	ndx_http_resp_header(resp, "Referrer-Policy", "no-referrer");
	ndx_http_resp_header(resp, "Cache-Control", "no-store");
	ndx_http_resp_header(resp, "Pragma", "no-cache");
}

/* Takes page (may be NULL: out of memory). */
static void send_page(struct ndx_http_resp *resp, int status, char *page, const char *form_origin)
{
	if (!page) {
		ndx_http_resp_error(resp, 500, "Server.Internal", "out of memory", NULL);
		return;
	}
	ndx_http_resp_bytes(resp, status, "text/html; charset=utf-8", page, strlen(page));
	security_headers(resp, form_origin);
	free(page);
}

static void message_page(const struct oidc_config *cfg, struct ndx_http_resp *resp, int status,
			 enum idpage_lang lang, enum idpage_text title, enum idpage_text body,
			 const char *detail)
{
	send_page(resp, status,
		  idpage_message(lang, cfg->assets_dir != NULL, idpage_text(lang, title),
				 idpage_text(lang, body), detail),
		  NULL);
}

static void redirect(struct ndx_http_resp *resp, const char *url)
{
	ndx_http_resp_bytes(resp, 302, "text/plain; charset=utf-8", "", 0);
	ndx_http_resp_header(resp, "Location", url);
	security_headers(resp, NULL);
}

/* RFC 6749 section 5.2 / RFC 6750 section 3 error bodies. */
static void oauth_error(struct ndx_http_resp *resp, int status, const char *error,
			const char *description)
{
	json_t *o = json_pack("{s:s, s:s}", "error", error, "error_description", description);

	if (!o) {
		ndx_http_resp_error(resp, 500, "Server.Internal", "out of memory", NULL);
		return;
	}
	ndx_http_resp_json(resp, status, o);
	ndx_http_resp_header(resp, "Cache-Control", "no-store");
	ndx_http_resp_header(resp, "Pragma", "no-cache");
}

static void json_answer(struct ndx_http_resp *resp, json_t *o)
{
	if (!o) {
		oauth_error(resp, 500, "server_error", "out of memory");
		return;
	}
	ndx_http_resp_json(resp, 200, o);
	ndx_http_resp_header(resp, "Cache-Control", "no-store");
	ndx_http_resp_header(resp, "Pragma", "no-cache");
}

/* The scheme://host[:port] of url, for the sign-in form's CSP: the form's
 * answer redirects there, and browsers hold redirects of a form submission
 * to form-action. Client add only accepts plain authorities, checked again
 * here so nothing else reaches the header. */
static int url_origin(const char *url, char *out, size_t cap)
{
	const char *p = strstr(url, "://");
	size_t n;

	if (!p)
		return -1;
	p += 3;
	n = strcspn(p, "/?#");
	for (size_t i = 0; i < n; i++) {
		char c = p[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '-' || c == ':' || c == '[' || c == ']'))
			return -1;
	}
	if ((size_t)(p - url) + n + 1 > cap)
		return -1;
	memcpy(out, url, (size_t)(p - url) + n);
	out[(size_t)(p - url) + n] = '\0';
	return 0;
}

/* ---- small parsing helpers --------------------------------------------------- */

static int scope_has(const char *scope, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = scope; p && *p;) {
		size_t len = strcspn(p, " ");

		if (len == n && strncmp(p, word, n) == 0)
			return 1;
		p += len;
		while (*p == ' ')
			p++;
	}
	return 0;
}

static int form_body(const struct ndx_http_req *req, struct idform **out, const char **why)
{
	const char *ct = ndx_http_header(req, "Content-Type");

	*out = NULL;
	if (!ct || strncasecmp(ct, "application/x-www-form-urlencoded", 33) != 0) {
		*why = "the body must be application/x-www-form-urlencoded";
		return NDX_EINVAL;
	}
	return idform_parse(req->body ? (const char *)req->body : "", req->body_len, out, why);
}

static int cookie_hash(const struct ndx_http_req *req, char out[IDSTORE_HASH_HEX])
{
	const char *h = ndx_http_header(req, "Cookie");
	char sid[IDTOK_SECRET_LEN + 1];

	if (!h || idform_cookie(h, COOKIE, sid, sizeof sid) != NDX_OK ||
	    strlen(sid) != IDTOK_SECRET_LEN)
		return NDX_ENOTFOUND;
	idtok_hash_hex(sid, out);
	return NDX_OK;
}

static void set_cookie(const struct oidc_config *cfg, struct ndx_http_resp *resp,
		       const char *value)
{
	char c[256];

	snprintf(c, sizeof c, COOKIE "=%s; Path=/; HttpOnly; SameSite=Lax%s%s", value,
		 value[0] ? "" : "; Max-Age=0", cfg->secure_cookie ? "; Secure" : "");
	ndx_http_resp_header(resp, "Set-Cookie", c);
}

/* ---- discovery, JWKS --------------------------------------------------------- */

static json_t *build_discovery(const char *issuer)
{
	char u[6][OIDC_ISSUER_MAX + 64];
	static const char *const PATHS[6] = { "/authorize", "/token", "/userinfo",
					      "/jwks.json", "/logout", "" };

	for (int i = 0; i < 6; i++)
		snprintf(u[i], sizeof u[i], "%s%s", issuer, PATHS[i]);
	return json_pack(
		"{s:s, s:s, s:s, s:s, s:s, s:s, s:[s], s:[s], s:[s], s:[s], s:[s, s], s:[s],"
		" s:[s, s], s:[s, s], s:[s, s, s, s, s, s, s, s, s, s, s], s:b, s:[s, s],"
		" s:[s, s], s:b, s:b}",
		"issuer", issuer, "authorization_endpoint", u[0], "token_endpoint", u[1],
		"userinfo_endpoint", u[2], "jwks_uri", u[3], "end_session_endpoint", u[4],
		"response_types_supported", "code", "response_modes_supported", "query",
		"grant_types_supported", "authorization_code", "subject_types_supported", "public",
		"id_token_signing_alg_values_supported", "EdDSA", "RS256",
		"code_challenge_methods_supported",
		"S256", "token_endpoint_auth_methods_supported", "client_secret_basic",
		"client_secret_post", "scopes_supported", "openid", "profile", "claims_supported",
		"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "name", "birthdate",
		"gender", "sid", "authorization_response_iss_parameter_supported", 1,
		"ui_locales_supported", "vi", "en", "prompt_values_supported", "none", "login",
		/* OpenID Connect Core section 6: no request objects, by value
		 * or by reference; their absence would mean request_uri is. */
		"request_parameter_supported", 0, "request_uri_parameter_supported", 0);
}

int oidc_init(struct oidc_config *cfg, const char *issuer, const char **why)
{
	size_t n = strlen(issuer);
	const char *auth;

	while (n > 0 && issuer[n - 1] == '/')
		n--;
	if (strncmp(issuer, "https://", 8) == 0)
		cfg->secure_cookie = 1;
	else if (strncmp(issuer, "http://", 7) != 0) {
		*why = "the issuer must be an http:// or https:// URL";
		return NDX_EINVAL;
	}
	if (n + 1 > sizeof cfg->issuer) {
		*why = "the issuer URL is too long";
		return NDX_EINVAL;
	}
	if (strpbrk(issuer, "?#\"'<> \t\r\n\\")) {
		*why = "the issuer URL must not hold a query, a fragment, quotes or spaces";
		return NDX_EINVAL;
	}
	memcpy(cfg->issuer, issuer, n);
	cfg->issuer[n] = '\0';
	auth = strstr(cfg->issuer, "://") + 3;
	if (*auth == '\0' || *auth == '/') {
		*why = "the issuer URL has no host";
		return NDX_EINVAL;
	}
	cfg->prefix = auth + strcspn(auth, "/");
	if (idstore_account_any_hash(cfg->st, cfg->dummy_hash) != NDX_OK)
		cfg->dummy_hash[0] = '\0';
	cfg->discovery = build_discovery(cfg->issuer);
	cfg->jwks = idtok_jwks(&(struct idtok_keys){ .ed25519 = cfg->key, .rsa = cfg->rsa });
	if (!cfg->discovery || !cfg->jwks) {
		oidc_cleanup(cfg);
		*why = "out of memory";
		return NDX_ENOMEM;
	}
	return NDX_OK;
}

void oidc_cleanup(struct oidc_config *cfg)
{
	json_decref(cfg->discovery);
	json_decref(cfg->jwks);
	cfg->discovery = NULL;
	cfg->jwks = NULL;
}

/* ---- codes ------------------------------------------------------------------- */

/* Issues a code for ar to the citizen pin, signed in with the SSO session
 * whose cookie hashes to session_hash, and redirects to the client. */
static void issue_code(const struct oidc_config *cfg, struct ndx_http_resp *resp,
		       const struct idstore_authreq *ar, const char *pin, time_t auth_time,
		       const char *session_hash)
{
	char code[IDTOK_SECRET_LEN + 1], hash[IDSTORE_HASH_HEX], url[URL_MAX];
	struct idstore_code c;
	time_t now = time(NULL);

	memset(&c, 0, sizeof c);
	c.req = *ar;
	c.req.created = now;
	snprintf(c.pin, sizeof c.pin, "%s", pin);
	c.auth_time = auth_time;
	c.exp = now + cfg->code_ttl;
	idtok_sid(session_hash, c.sid);
	snprintf(url, sizeof url, "%s", ar->redirect_uri);
	if (idtok_random(code) || (idtok_hash_hex(code, hash), idstore_code_put(cfg->st, hash, &c)) ||
	    idform_append_param(url, sizeof url, "code", code) ||
	    (ar->has_state && idform_append_param(url, sizeof url, "state", ar->state)) ||
	    idform_append_param(url, sizeof url, "iss", cfg->issuer)) {
		message_page(cfg, resp, 500, idpage_lang_parse(ar->lang), IDTEXT_ERROR_TITLE,
			     IDTEXT_SERVER_ERROR, NULL);
		return;
	}
	redirect(resp, url);
}

/* Sends the citizen back to a verified redirect_uri with an error. */
static void redirect_error(const struct oidc_config *cfg, const struct ndx_http_req *req,
			   struct ndx_http_resp *resp, const struct idstore_authreq *ar,
			   const char *error, const char *description)
{
	char url[URL_MAX];

	refuse_log(req, "authorization request", "client %s: %s: %s", ar->client_id, error,
		   description);
	snprintf(url, sizeof url, "%s", ar->redirect_uri);
	if (idform_append_param(url, sizeof url, "error", error) ||
	    idform_append_param(url, sizeof url, "error_description", description) ||
	    (ar->has_state && idform_append_param(url, sizeof url, "state", ar->state)) ||
	    idform_append_param(url, sizeof url, "iss", cfg->issuer)) {
		message_page(cfg, resp, 400, idpage_lang_parse(ar->lang), IDTEXT_ERROR_TITLE,
			     IDTEXT_BAD_REQUEST, description);
		return;
	}
	redirect(resp, url);
}

static void login_page(const struct oidc_config *cfg, struct ndx_http_resp *resp, int status,
		       const char *tx, const struct idstore_authreq *ar, enum idpage_lang lang,
		       const char *pin, const char *field, const char *error)
{
	struct idpage_login p = {
		.lang = lang, .styled = cfg->assets_dir != NULL, .tx = tx,
		.client_name = ar->client_id, .pin = pin, .error_field = field, .error = error,
	};
	struct idstore_client client = { 0 };
	char origin[IDSTORE_URI_MAX + 1], home[IDSTORE_URI_MAX + 2];
	int have_origin = url_origin(ar->redirect_uri, origin, sizeof origin) == 0;

	/* The service by the name it registered, in the page's language; and
	 * a way back to it: its home page, on the origin of the redirect URI
	 * it registered (never anything the request alone names). */
	if (idstore_client_get(cfg->st, ar->client_id, &client) == NDX_OK) {
		if (lang == IDPAGE_EN && client.name_en[0])
			p.client_name = client.name_en;
		else if (client.name[0])
			p.client_name = client.name;
	}
	if (have_origin) {
		snprintf(home, sizeof home, "%s/", origin);
		p.back_href = home;
	}
	send_page(resp, status, idpage_login(&p), have_origin ? origin : NULL);
	idstore_client_clear(&client);
}

/* ---- GET /authorize -------------------------------------------------------------- */

static int copy_param(char *out, size_t cap, const char *v)
{
	if (!v)
		return 0;
	if (strlen(v) + 1 > cap)
		return -1;
	memcpy(out, v, strlen(v) + 1);
	return 1;
}

static void handle_authorize(const struct oidc_config *cfg, const struct ndx_http_req *req,
			     struct ndx_http_resp *resp)
{
	struct idform *q = NULL;
	const char *why = NULL, *v, *lang_param;
	struct idstore_client client = { 0 };
	struct idstore_authreq ar;
	enum idpage_lang lang;
	char sid_hash[IDSTORE_HASH_HEX], pin[NDX_PIN_LEN + 1];
	time_t now = time(NULL), auth_time = 0;
	int login_needed = 1, prompt_none = 0, prompt_login = 0;

	memset(&ar, 0, sizeof ar);
	idstore_purge(cfg->st, now, AUTHREQ_TTL, SESSION_IDLE, SIGNIN_WINDOW_S);
	if (idform_parse(req->query, strlen(req->query), &q, &why) != NDX_OK) {
		refuse_log(req, "authorization request", "%s", why ? why : "bad query");
		message_page(cfg, resp, 400, IDPAGE_VI, IDTEXT_ERROR_TITLE, IDTEXT_BAD_REQUEST, why);
		return;
	}
	/* lang is the page's own switch; a client asks with ui_locales. */
	lang_param = idform_get(q, "lang");
	lang = lang_param ? idpage_lang_parse(lang_param)
			  : idpage_ui_locales_parse(idform_get(q, "ui_locales"));
	snprintf(ar.lang, sizeof ar.lang, "%s", idpage_lang_code(lang));

	/* Until client and redirect_uri are known good, errors stay here. */
	v = idform_get(q, "client_id");
	if (!v || copy_param(ar.client_id, sizeof ar.client_id, v) < 0 ||
	    idstore_client_get(cfg->st, v, &client) != NDX_OK) {
		refuse_log(req, "authorization request", "unknown client_id");
		message_page(cfg, resp, 400, lang, IDTEXT_ERROR_TITLE, IDTEXT_BAD_CLIENT,
			     v ? NULL : "client_id is missing");
		goto out;
	}
	v = idform_get(q, "redirect_uri");
	if (!v || copy_param(ar.redirect_uri, sizeof ar.redirect_uri, v) < 0 ||
	    !idstore_uri_listed(client.redirect_uris, v)) {
		refuse_log(req, "authorization request",
			   "client %s: redirect_uri %s is not registered", ar.client_id,
			   v ? "given" : "missing");
		message_page(cfg, resp, 400, lang, IDTEXT_ERROR_TITLE, IDTEXT_BAD_REDIRECT,
			     v ? NULL : "redirect_uri is missing");
		goto out;
	}
	v = idform_get(q, "state");
	if ((ar.has_state = copy_param(ar.state, sizeof ar.state, v)) < 0) {
		ar.has_state = 0;
		redirect_error(cfg, req, resp, &ar, "invalid_request", "state is too long");
		goto out;
	}
	if (idform_get(q, "request_uri")) {
		redirect_error(cfg, req, resp, &ar, "request_uri_not_supported",
			       "request_uri is not supported");
		goto out;
	}
	if (idform_get(q, "request")) {
		redirect_error(cfg, req, resp, &ar, "request_not_supported",
			       "request objects are not supported");
		goto out;
	}
	v = idform_get(q, "response_type");
	if (!v || strcmp(v, "code") != 0) {
		redirect_error(cfg, req, resp, &ar, v ? "unsupported_response_type" : "invalid_request",
			       v ? "only response_type=code is supported"
				 : "response_type is missing");
		goto out;
	}
	v = idform_get(q, "response_mode");
	if (v && strcmp(v, "query") != 0) {
		redirect_error(cfg, req, resp, &ar, "invalid_request",
			       "only response_mode=query is supported");
		goto out;
	}
	v = idform_get(q, "scope");
	if (!v || copy_param(ar.scope, sizeof ar.scope, v) < 0 || !scope_has(v, "openid")) {
		redirect_error(cfg, req, resp, &ar, "invalid_scope",
			       "scope must contain openid (and at most " "256 characters)");
		goto out;
	}
	v = idform_get(q, "code_challenge");
	if (!v) {
		redirect_error(cfg, req, resp, &ar, "invalid_request",
			       "code_challenge is required (PKCE with S256)");
		goto out;
	}
	if (!idtok_challenge_valid(v)) {
		redirect_error(cfg, req, resp, &ar, "invalid_request",
			       "code_challenge must be 43 base64url characters");
		goto out;
	}
	snprintf(ar.code_challenge, sizeof ar.code_challenge, "%s", v);
	v = idform_get(q, "code_challenge_method");
	if (!v || strcmp(v, "S256") != 0) {
		redirect_error(cfg, req, resp, &ar, "invalid_request",
			       "code_challenge_method must be S256");
		goto out;
	}
	v = idform_get(q, "nonce");
	if ((ar.has_nonce = copy_param(ar.nonce, sizeof ar.nonce, v)) < 0) {
		ar.has_nonce = 0;
		redirect_error(cfg, req, resp, &ar, "invalid_request", "nonce is too long");
		goto out;
	}
	v = idform_get(q, "prompt");
	if (v) {
		prompt_none = scope_has(v, "none");
		prompt_login = scope_has(v, "login");
		if (prompt_none && (prompt_login || scope_has(v, "consent") ||
				    scope_has(v, "select_account"))) {
			redirect_error(cfg, req, resp, &ar, "invalid_request",
				       "prompt=none cannot be combined with other values");
			goto out;
		}
	}
	ar.created = now;

	if (!prompt_login && cookie_hash(req, sid_hash) == NDX_OK &&
	    idstore_session_use(cfg->st, sid_hash, now, SESSION_IDLE, pin, &auth_time) == NDX_OK) {
		unsigned long long max_age;

		login_needed = 0;
		v = idform_get(q, "max_age");
		if (v) {
			if (ndx_args_uint(v, 0, 1000000000ULL, &max_age) != NDX_OK) {
				redirect_error(cfg, req, resp, &ar, "invalid_request",
					       "max_age must be a number of seconds");
				goto out;
			}
			if ((unsigned long long)(now - auth_time) > max_age)
				login_needed = 1;
		}
	}
	if (!login_needed) {
		issue_code(cfg, resp, &ar, pin, auth_time, sid_hash);
	} else if (prompt_none) {
		redirect_error(cfg, req, resp, &ar, "login_required",
			       "the citizen is not signed in");
	} else {
		char tx[IDTOK_SECRET_LEN + 1], tx_hash[IDSTORE_HASH_HEX];

		if (idtok_random(tx) ||
		    (idtok_hash_hex(tx, tx_hash), idstore_authreq_put(cfg->st, tx_hash, &ar))) {
			message_page(cfg, resp, 500, lang, IDTEXT_ERROR_TITLE, IDTEXT_SERVER_ERROR,
				     NULL);
			goto out;
		}
		login_page(cfg, resp, 200, tx, &ar, lang, NULL, NULL, NULL);
	}
out:
	idstore_client_clear(&client);
	idform_free(q);
}

/* ---- /login ------------------------------------------------------------------------- */

static int load_tx(const struct oidc_config *cfg, const struct ndx_http_req *req,
		   struct ndx_http_resp *resp, const char *tx, enum idpage_lang lang,
		   char hash[IDSTORE_HASH_HEX], struct idstore_authreq *ar)
{
	if (!tx || strlen(tx) != IDTOK_SECRET_LEN ||
	    (idtok_hash_hex(tx, hash),
	     idstore_authreq_get(cfg->st, hash, time(NULL), AUTHREQ_TTL, ar) != NDX_OK)) {
		refuse_log(req, "sign-in", "unknown or expired transaction");
		message_page(cfg, resp, 400, lang, IDTEXT_EXPIRED_TITLE, IDTEXT_EXPIRED_BODY, NULL);
		return -1;
	}
	return 0;
}

/* GET /login?tx=...&lang=..: the same form again, in the other language. */
static void handle_login_get(const struct oidc_config *cfg, const struct ndx_http_req *req,
			     struct ndx_http_resp *resp)
{
	struct idform *q = NULL;
	struct idstore_authreq ar;
	char hash[IDSTORE_HASH_HEX];
	enum idpage_lang lang = IDPAGE_VI;
	const char *why = NULL;

	if (idform_parse(req->query, strlen(req->query), &q, &why) == NDX_OK) {
		lang = idpage_lang_parse(idform_get(q, "lang"));
		if (load_tx(cfg, req, resp, idform_get(q, "tx"), lang, hash, &ar) == 0)
			login_page(cfg, resp, 200, idform_get(q, "tx"), &ar, lang, NULL, NULL,
				   NULL);
	} else {
		message_page(cfg, resp, 400, lang, IDTEXT_ERROR_TITLE, IDTEXT_BAD_REQUEST, why);
	}
	idform_free(q);
}

static int all_digits(const char *s)
{
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return 0;
	}
	return 1;
}

static void handle_login_post(const struct oidc_config *cfg, const struct ndx_http_req *req,
			      struct ndx_http_resp *resp)
{
	struct idform *f = NULL;
	struct idstore_authreq ar;
	struct idstore_account acct;
	char tx_hash[IDSTORE_HASH_HEX], tail[24], retry[24], src[SIGNIN_SOURCE_MAX];
	struct signin_counts counts;
	const char *why = NULL, *tx, *pin, *password;
	enum idpage_lang lang;
	time_t now = time(NULL);
	long wait;
	int rc;

	if (form_body(req, &f, &why) != NDX_OK) {
		refuse_log(req, "sign-in", "%s", why ? why : "bad form");
		message_page(cfg, resp, 400, IDPAGE_VI, IDTEXT_ERROR_TITLE, IDTEXT_BAD_REQUEST, why);
		goto out;
	}
	lang = idpage_lang_parse(idform_get(f, "lang"));
	tx = idform_get(f, "tx");
	if (load_tx(cfg, req, resp, tx, lang, tx_hash, &ar))
		goto out;
	pin = idform_get(f, "pin");
	password = idform_get(f, "password");
	if (!pin || !pin[0]) {
		login_page(cfg, resp, 400, tx, &ar, lang, pin, "pin",
			   idpage_text(lang, IDTEXT_PIN_MISSING));
		goto out;
	}
	pin_tail(pin, tail);
	if (strlen(pin) != NDX_PIN_LEN || !all_digits(pin)) {
		refuse_log(req, "sign-in", "pin %s: not 12 digits", tail);
		login_page(cfg, resp, 400, tx, &ar, lang, pin, "pin",
			   idpage_text(lang, IDTEXT_PIN_FORMAT));
		goto out;
	}
	if (!password || !password[0]) {
		login_page(cfg, resp, 400, tx, &ar, lang, pin, "password",
			   idpage_text(lang, IDTEXT_PASSWORD_MISSING));
		goto out;
	}
	/* Checked before the password so that a throttled guess learns
	 * nothing and costs the server no Argon2id. */
	{
		size_t fwd_len = 0;
		const char *fwd = ndx_http_header_last_n(req, "X-Forwarded-For", &fwd_len);
		char client[96];

		signin_client(req->remote_addr, fwd, fwd_len, &cfg->proxies, client,
			      sizeof client);
		signin_source(client, src);
	}
	if (idstore_signin_counts(cfg->st, pin, src, now - SIGNIN_WINDOW_S, &counts) != NDX_OK) {
		message_page(cfg, resp, 500, lang, IDTEXT_ERROR_TITLE, IDTEXT_SERVER_ERROR, NULL);
		goto out;
	}
	if ((wait = signin_wait(&counts, now)) > 0) {
		snprintf(retry, sizeof retry, "%ld", wait);
		refuse_log(req, "sign-in",
			   "pin %s: throttled for %s s (%u failures from %s, %u for the pin)",
			   tail, retry, counts.source, src, counts.account);
		eid_metrics_signin(EID_SIGNIN_THROTTLED);
		login_page(cfg, resp, 429, tx, &ar, lang, pin, "pin",
			   idpage_text(lang, IDTEXT_LOCKED));
		ndx_http_resp_header(resp, "Retry-After", retry);
		goto out;
	}
	rc = idstore_account_get(cfg->st, pin, &acct);
	if (rc == NDX_OK) {
		rc = ndx_password_verify(acct.password_hash, password);
	} else if (rc == NDX_ENOTFOUND) {
		char cost[NDX_PASSWORD_HASH_MAX];

		/* The same Argon2id work as for a real account (the newest
		 * one's hash: accounts imported later with another cost are
		 * followed), so that timing does not tell which PINs have
		 * one; the result is ignored. */
		if (idstore_account_any_hash(cfg->st, cost) == NDX_OK)
			ndx_password_verify(cost, password);
		else if (cfg->dummy_hash[0])
			ndx_password_verify(cfg->dummy_hash, password);
		rc = NDX_EPERM;
	}
	if (rc != NDX_OK) {
		if (rc != NDX_EPERM) {
			fprintf(stderr, PROG ": sign-in check failed: %s\n", ndx_strerror(rc));
			message_page(cfg, resp, 500, lang, IDTEXT_ERROR_TITLE, IDTEXT_SERVER_ERROR,
				     NULL);
			goto out;
		}
		idstore_signin_failed(cfg->st, pin, src, now);
		eid_metrics_signin(EID_SIGNIN_FAILED);
		refuse_log(req, "sign-in", "pin %s: wrong credentials", tail);
		login_page(cfg, resp, 401, tx, &ar, lang, pin, "pin",
			   idpage_text(lang, IDTEXT_BAD_CREDENTIALS));
		goto out;
	}
	idstore_signin_ok(cfg->st, pin, src);
	/* Said only to whoever knows the password: a PIN alone does not
	 * learn whether its holder died. */
	if (acct.disabled_reason[0]) {
		eid_metrics_signin(EID_SIGNIN_DISABLED);
		refuse_log(req, "sign-in", "pin %s: account disabled (%s)", tail,
			   acct.disabled_reason);
		login_page(cfg, resp, 403, tx, &ar, lang, pin, "pin",
			   idpage_text(lang, strcmp(acct.disabled_reason, "deceased") == 0
						     ? IDTEXT_ACCOUNT_DECEASED
						     : IDTEXT_ACCOUNT_DISABLED));
		goto out;
	}
	{
		char sid[IDTOK_SECRET_LEN + 1], sid_hash[IDSTORE_HASH_HEX];

		if (cookie_hash(req, sid_hash) == NDX_OK)
			idstore_session_end(cfg->st, sid_hash);
		if (idtok_random(sid) || (idtok_hash_hex(sid, sid_hash),
					  idstore_session_put(cfg->st, sid_hash, pin, now))) {
			message_page(cfg, resp, 500, lang, IDTEXT_ERROR_TITLE, IDTEXT_SERVER_ERROR,
				     NULL);
			goto out;
		}
		idstore_authreq_delete(cfg->st, tx_hash);
		eid_metrics_signin(EID_SIGNIN_SUCCEEDED);
		fprintf(stderr, PROG ": signed in pin %s for client %s\n", tail, ar.client_id);
		issue_code(cfg, resp, &ar, pin, now, sid_hash);
		set_cookie(cfg, resp, sid);
	}
out:
	idform_free(f);
}

/* ---- POST /token ---------------------------------------------------------------------- */

/* Authenticates the client (basic or post). On failure answers and
 * returns -1. */
static int client_auth(const struct oidc_config *cfg, const struct ndx_http_req *req,
		       struct ndx_http_resp *resp, const struct idform *f,
		       struct idstore_client *client)
{
	const char *h = ndx_http_header(req, "Authorization");
	const char *body_id = idform_get(f, "client_id"), *body_secret = idform_get(f, "client_secret");
	char *id = NULL, *secret = NULL;
	char hash[IDSTORE_HASH_HEX];
	const char *why = NULL;
	int basic = 0, rc = -1;

	if (h && strncasecmp(h, "Basic ", 6) == 0) {
		uint8_t *raw = NULL;
		size_t rlen = 0;
		const char *b = h + 6;
		char *colon;

		basic = 1;
		while (*b == ' ')
			b++;
		if (ndx_b64_decode(b, strlen(b), 0, &raw, &rlen) != NDX_OK || rlen == 0 ||
		    memchr(raw, '\0', rlen) || !(colon = memchr(raw, ':', rlen))) {
			why = "the Basic credentials are malformed";
		} else {
			id = idform_decode((const char *)raw, (size_t)(colon - (char *)raw));
			secret = idform_decode(colon + 1, rlen - (size_t)(colon + 1 - (char *)raw));
			if (!id || !secret)
				why = "the Basic credentials are malformed";
		}
		free(raw);
		if (!why && body_secret)
			why = "use one client authentication method, not two";
		if (!why && body_id && strcmp(body_id, id) != 0)
			why = "client_id differs from the authenticated client";
	} else if (h) {
		why = "unsupported Authorization scheme";
	} else if (body_id && body_secret) {
		id = strdup(body_id);
		secret = strdup(body_secret);
		if (!id || !secret)
			why = "out of memory";
	} else {
		why = "client authentication is required";
	}
	if (!why) {
		if (strlen(id) > IDSTORE_CLIENT_ID_MAX ||
		    idstore_client_get(cfg->st, id, client) != NDX_OK) {
			why = "unknown client or wrong secret";
		} else {
			idtok_hash_hex(secret, hash);
			if (!idtok_hash_equal(hash, client->secret_sha256)) {
				idstore_client_clear(client);
				why = "unknown client or wrong secret";
			} else {
				rc = 0;
			}
		}
	}
	if (rc) {
		refuse_log(req, "token request", "invalid_client: %s", why);
		oauth_error(resp, 401, "invalid_client", why);
		if (basic)
			ndx_http_resp_header(resp, "WWW-Authenticate", "Basic realm=\"ndx-id\"");
	}
	free(id);
	if (secret) {
		memset(secret, 0, strlen(secret));
		free(secret);
	}
	return rc;
}

static void token_refuse(const struct ndx_http_req *req, struct ndx_http_resp *resp,
			 const char *client, const char *error, const char *why)
{
	refuse_log(req, "token request", "client %s: %s: %s", client, error, why);
	oauth_error(resp, 400, error, why);
}

static void handle_token(const struct oidc_config *cfg, const struct ndx_http_req *req,
			 struct ndx_http_resp *resp)
{
	struct idform *f = NULL;
	struct idstore_client client = { 0 };
	struct idstore_code code;
	struct idstore_account acct;
	struct idstore_token tok;
	char code_hash[IDSTORE_HASH_HEX], at[IDTOK_SECRET_LEN + 1], at_hash[IDSTORE_HASH_HEX];
	const char *why = NULL, *v, *redirect_uri, *verifier;
	char *id_token = NULL;
	time_t now = time(NULL);
	int rc;

	if (form_body(req, &f, &why) != NDX_OK) {
		refuse_log(req, "token request", "invalid_request: %s", why ? why : "bad form");
		oauth_error(resp, 400, "invalid_request", why ? why : "malformed form body");
		goto out;
	}
	if (client_auth(cfg, req, resp, f, &client))
		goto out;
	v = idform_get(f, "grant_type");
	if (!v) {
		token_refuse(req, resp, client.client_id, "invalid_request", "grant_type is missing");
		goto out;
	}
	if (strcmp(v, "authorization_code") != 0) {
		token_refuse(req, resp, client.client_id, "unsupported_grant_type",
			     "only authorization_code is supported");
		goto out;
	}
	v = idform_get(f, "code");
	redirect_uri = idform_get(f, "redirect_uri");
	verifier = idform_get(f, "code_verifier");
	if (!v || !redirect_uri) {
		token_refuse(req, resp, client.client_id, "invalid_request",
			     !v ? "code is missing" : "redirect_uri is missing");
		goto out;
	}
	idtok_hash_hex(v, code_hash);
	rc = idstore_code_redeem(cfg->st, code_hash, now, &code);
	if (rc == NDX_EEXIST) {
		token_refuse(req, resp, client.client_id, "invalid_grant",
			     "the code has been used before; tokens issued from it are revoked");
		goto out;
	}
	if (rc) {
		token_refuse(req, resp, client.client_id, rc == NDX_EDB ? "server_error" : "invalid_grant",
			     rc == NDX_EEXPIRED ? "the code has expired" : "unknown code");
		goto out;
	}
	if (strcmp(code.req.client_id, client.client_id) != 0) {
		token_refuse(req, resp, client.client_id, "invalid_grant",
			     "the code was issued to another client");
		goto out;
	}
	if (strcmp(code.req.redirect_uri, redirect_uri) != 0) {
		token_refuse(req, resp, client.client_id, "invalid_grant",
			     "redirect_uri differs from the authorization request");
		goto out;
	}
	if (!verifier) {
		token_refuse(req, resp, client.client_id, "invalid_grant", "code_verifier is missing");
		goto out;
	}
	rc = idtok_pkce_check(verifier, code.req.code_challenge);
	if (rc) {
		token_refuse(req, resp, client.client_id,
			     rc == NDX_EINVAL ? "invalid_request" : "invalid_grant",
			     rc == NDX_EINVAL ? "code_verifier must be 43-128 unreserved characters"
					      : "code_verifier does not match code_challenge");
		goto out;
	}
	if (idstore_account_get(cfg->st, code.pin, &acct) != NDX_OK) {
		token_refuse(req, resp, client.client_id, "invalid_grant", "the account is gone");
		goto out;
	}
	/* A code issued just before the account was disabled buys nothing. */
	if (acct.disabled_reason[0]) {
		token_refuse(req, resp, client.client_id, "invalid_grant",
			     "the account is disabled");
		goto out;
	}
	memset(&tok, 0, sizeof tok);
	snprintf(tok.pin, sizeof tok.pin, "%s", code.pin);
	snprintf(tok.client_id, sizeof tok.client_id, "%s", client.client_id);
	snprintf(tok.scope, sizeof tok.scope, "%s", code.req.scope);
	tok.exp = now + TOKEN_TTL;
	struct idtok_claims claims = {
		.issuer = cfg->issuer, .client_id = client.client_id, .account = &acct,
		.nonce = code.req.has_nonce ? code.req.nonce : NULL, .sid = code.sid,
		.profile = scope_has(code.req.scope, "profile"), .auth_time = code.auth_time,
		.now = now, .ttl = cfg->id_token_ttl,
	};
	if (idtok_random(at) || (idtok_hash_hex(at, at_hash),
				 idstore_token_put(cfg->st, at_hash, code_hash, &tok)) ||
	    idtok_id_token(&(struct idtok_keys){ .ed25519 = cfg->key, .rsa = cfg->rsa },
			   client.id_token_alg, &claims, &id_token)) {
		oauth_error(resp, 500, "server_error", "could not issue tokens");
		goto out;
	}
	eid_metrics_token_issued();
	json_answer(resp, json_pack("{s:s, s:s, s:i, s:s, s:s}", "access_token", at, "token_type",
				    "Bearer", "expires_in", TOKEN_TTL, "id_token", id_token,
				    "scope", code.req.scope));
out:
	free(id_token);
	idstore_client_clear(&client);
	idform_free(f);
}

/* ---- /userinfo ----------------------------------------------------------------------- */

static void bearer_refuse(const struct ndx_http_req *req, struct ndx_http_resp *resp,
			  const char *error, const char *why)
{
	char h[256];

	refuse_log(req, "userinfo", "%s", why);
	if (error)
		snprintf(h, sizeof h, "Bearer realm=\"ndx-id\", error=\"%s\", error_description=\"%s\"",
			 error, why);
	else
		snprintf(h, sizeof h, "Bearer realm=\"ndx-id\"");
	oauth_error(resp, error && strcmp(error, "invalid_request") == 0 ? 400 : 401,
		    error ? error : "invalid_token", why);
	ndx_http_resp_header(resp, "WWW-Authenticate", h);
}

static void handle_userinfo(const struct oidc_config *cfg, const struct ndx_http_req *req,
			    struct ndx_http_resp *resp)
{
	const char *h = ndx_http_header(req, "Authorization");
	char hash[IDSTORE_HASH_HEX];
	struct idstore_token tok;
	struct idstore_account acct;
	json_t *o;
	int rc;

	if (!h || strncasecmp(h, "Bearer ", 7) != 0) {
		bearer_refuse(req, resp, NULL, "an Authorization: Bearer access token is required");
		return;
	}
	h += 7;
	while (*h == ' ')
		h++;
	idtok_hash_hex(h, hash);
	rc = idstore_token_get(cfg->st, hash, time(NULL), &tok);
	if (rc) {
		bearer_refuse(req, resp, "invalid_token",
			      rc == NDX_EREVOKED   ? "the access token has been revoked"
			      : rc == NDX_EEXPIRED ? "the access token has expired"
						   : "unknown access token");
		return;
	}
	if (idstore_account_get(cfg->st, tok.pin, &acct) != NDX_OK) {
		bearer_refuse(req, resp, "invalid_token", "the account is gone");
		return;
	}
	if (acct.disabled_reason[0]) {
		bearer_refuse(req, resp, "invalid_token", "the account is disabled");
		return;
	}
	o = json_pack("{s:s}", "sub", acct.pin);
	if (o && scope_has(tok.scope, "profile")) {
		json_object_set_new(o, "name", json_string(acct.name));
		json_object_set_new(o, "birthdate", json_string(acct.birthdate));
		json_object_set_new(o, "gender", json_string(acct.gender));
	}
	json_answer(resp, o);
}

/* ---- /logout ----------------------------------------------------------------------------- */

/* Reads the client an id_token_hint was issued to; the hint must carry our
 * signature, EdDSA or RS256, and issuer (it may have expired: that is
 * normal at logout). */
static int hint_client(const struct oidc_config *cfg, const char *hint, char *out, size_t cap)
{
	struct ndx_jws *jws = NULL;
	const uint8_t *payload;
	char *rs256 = NULL;
	size_t len;
	json_t *claims = NULL, *aud;
	const char *iss, *a = NULL;
	int rc = -1;

	if (ndx_jws_parse(hint, strlen(hint), &jws, NULL, 0) == NDX_OK &&
	    ndx_jws_verify(jws, cfg->key) == NDX_OK)
		payload = ndx_jws_payload(jws, &len);
	else if (idrsa_verify(cfg->rsa, hint, &rs256, &len) == NDX_OK)
		payload = (const uint8_t *)rs256;
	else
		goto out;
	if (!(claims = json_loadb((const char *)payload, len, JSON_REJECT_DUPLICATES, NULL)))
		goto out;
	iss = json_string_value(json_object_get(claims, "iss"));
	aud = json_object_get(claims, "aud");
	if (json_is_string(aud))
		a = json_string_value(aud);
	else if (json_is_array(aud) && json_array_size(aud) == 1)
		a = json_string_value(json_array_get(aud, 0));
	if (iss && strcmp(iss, cfg->issuer) == 0 && a && strlen(a) < cap) {
		snprintf(out, cap, "%s", a);
		rc = 0;
	}
out:
	json_decref(claims);
	ndx_jws_free(jws);
	free(rs256);
	return rc;
}

static void handle_logout(const struct oidc_config *cfg, const struct ndx_http_req *req,
			  struct ndx_http_resp *resp)
{
	struct idform *f = NULL;
	struct idstore_client client = { 0 };
	const char *why = NULL, *hint, *cid, *post, *state;
	char hinted[IDSTORE_CLIENT_ID_MAX + 1] = "", sid_hash[IDSTORE_HASH_HEX],
					       url[URL_MAX];
	enum idpage_lang lang = IDPAGE_VI;
	int rc;

	rc = strcmp(req->method, "POST") == 0 ? form_body(req, &f, &why)
					      : idform_parse(req->query, strlen(req->query), &f, &why);
	if (rc != NDX_OK) {
		refuse_log(req, "logout", "%s", why ? why : "bad parameters");
		message_page(cfg, resp, 400, lang, IDTEXT_ERROR_TITLE, IDTEXT_BAD_LOGOUT, why);
		goto out;
	}
	lang = idpage_lang_parse(idform_get(f, "lang") ? idform_get(f, "lang")
						       : idform_get(f, "ui_locales"));
	hint = idform_get(f, "id_token_hint");
	cid = idform_get(f, "client_id");
	post = idform_get(f, "post_logout_redirect_uri");
	state = idform_get(f, "state");
	if (hint && hint_client(cfg, hint, hinted, sizeof hinted)) {
		refuse_log(req, "logout", "id_token_hint is not a valid ID token of this issuer");
		message_page(cfg, resp, 400, lang, IDTEXT_ERROR_TITLE, IDTEXT_BAD_LOGOUT,
			     "id_token_hint");
		goto out;
	}
	if (hint && cid && strcmp(cid, hinted) != 0) {
		refuse_log(req, "logout", "client_id differs from the id_token_hint's audience");
		message_page(cfg, resp, 400, lang, IDTEXT_ERROR_TITLE, IDTEXT_BAD_LOGOUT,
			     "client_id");
		goto out;
	}
	if (!cid && hint)
		cid = hinted;
	if (post && (!cid || strlen(cid) > IDSTORE_CLIENT_ID_MAX ||
		     idstore_client_get(cfg->st, cid, &client) != NDX_OK ||
		     !idstore_uri_listed(client.post_logout_uris, post))) {
		refuse_log(req, "logout", "post_logout_redirect_uri is not registered for %s",
			   cid ? "the client" : "an unidentified client");
		message_page(cfg, resp, 400, lang, IDTEXT_ERROR_TITLE, IDTEXT_BAD_LOGOUT,
			     "post_logout_redirect_uri");
		goto out;
	}
	if (cookie_hash(req, sid_hash) == NDX_OK)
		idstore_session_end(cfg->st, sid_hash);
	fprintf(stderr, PROG ": session ended%s%s\n", cid ? " for client " : "", cid ? cid : "");
	if (post) {
		snprintf(url, sizeof url, "%s", post);
		if (state && idform_append_param(url, sizeof url, "state", state)) {
			message_page(cfg, resp, 400, lang, IDTEXT_ERROR_TITLE, IDTEXT_BAD_LOGOUT,
				     "state");
			goto out;
		}
		redirect(resp, url);
	} else {
		message_page(cfg, resp, 200, lang, IDTEXT_SIGNED_OUT_TITLE, IDTEXT_SIGNED_OUT_BODY,
			     NULL);
	}
	set_cookie(cfg, resp, "");
out:
	idstore_client_clear(&client);
	idform_free(f);
}

/* ---- routing --------------------------------------------------------------------------- */

static int method_is(const struct ndx_http_req *req, const char *m)
{
	return strcmp(req->method, m) == 0;
}

static void not_allowed(struct ndx_http_resp *resp, const char *allow)
{
	ndx_http_resp_error(resp, 405, "Client.MethodNotAllowed", "method not allowed", allow);
	ndx_http_resp_header(resp, "Allow", allow);
}

void oidc_handle(void *ctx, const struct ndx_http_req *req, struct ndx_http_resp *resp)
{
	const struct oidc_config *cfg = ctx;
	const char *path = req->path;
	size_t plen = strlen(cfg->prefix);
	int get = method_is(req, "GET") || method_is(req, "HEAD");

	/* Served both at the issuer's path and at the root, so a proxy may
	 * strip the prefix or pass it on. */
	if (plen && strncmp(path, cfg->prefix, plen) == 0 && path[plen] == '/')
		path += plen;
	if (strcmp(path, "/.well-known/openid-configuration") == 0) {
		if (!get)
			{ not_allowed(resp, "GET"); return; }
		ndx_http_resp_json(resp, 200, json_incref(cfg->discovery));
		ndx_http_resp_header(resp, "Cache-Control", "public, max-age=300");
	} else if (strcmp(path, "/jwks.json") == 0) {
		if (!get)
			{ not_allowed(resp, "GET"); return; }
		ndx_http_resp_json(resp, 200, json_incref(cfg->jwks));
		ndx_http_resp_header(resp, "Cache-Control", "public, max-age=300");
	} else if (strcmp(path, "/authorize") == 0) {
		if (!get)
			{ not_allowed(resp, "GET"); return; }
		handle_authorize(cfg, req, resp);
	} else if (strcmp(path, "/login") == 0) {
		if (method_is(req, "POST"))
			handle_login_post(cfg, req, resp);
		else if (get)
			handle_login_get(cfg, req, resp);
		else
			not_allowed(resp, "GET, POST");
	} else if (strcmp(path, "/token") == 0) {
		if (!method_is(req, "POST"))
			{ not_allowed(resp, "POST"); return; }
		handle_token(cfg, req, resp);
	} else if (strcmp(path, "/userinfo") == 0) {
		if (!get && !method_is(req, "POST"))
			{ not_allowed(resp, "GET, POST"); return; }
		handle_userinfo(cfg, req, resp);
	} else if (strcmp(path, "/logout") == 0) {
		if (!get && !method_is(req, "POST"))
			{ not_allowed(resp, "GET, POST"); return; }
		handle_logout(cfg, req, resp);
	} else if (strncmp(path, "/assets/", 8) == 0) {
		if (!get)
			{ not_allowed(resp, "GET"); return; }
		idassets_serve(cfg->assets_dir, path + 8, resp);
	} else if (strcmp(path, "/healthz") == 0) {
		ndx_http_resp_json(resp, 200, json_pack("{s:s, s:s}", "status", "ok", "issuer",
							cfg->issuer));
	} else {
		ndx_http_resp_error(resp, 404, "Client.NotFound", "no such path", NULL);
	}
}
