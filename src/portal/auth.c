/* Sign-in and sessions (auth.h). A session id is 256 random bits sent only
 * in an HttpOnly cookie and stored only as its SHA-256, so a copy of
 * portal.db does not let anyone in; every sign-in makes a new id (no
 * fixation) and drops the one the browser had. Before a session there is
 * the pre-session cookie (Path=/auth, 10 minutes): the e-ID login keeps
 * state, nonce and PKCE verifier server-side for 10 minutes, keyed by the
 * state's hash, bound to the hash of that cookie, and takes them exactly
 * once, so a callback opened in another browser is refused (login CSRF);
 * the officers' form sends the same value back as its CSRF token.
 * Officers are checked with Argon2id; an unknown name costs the same hash
 * (the cost of a stored officer) as a wrong password and gets the same
 * answer; failures slow the source and the account down
 * (signin_throttle.h) but never lock the owner out. */
#include "auth.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api.h"
#include "ndx/encode.h"
#include "ndx/err.h"
#include "ndx/hash.h"
#include "ndx/password.h"
#include "ndx/timefmt.h"
#include "signin_throttle.h"
#include "portal_metrics.h"

#define TOKEN_LEN 43    /* base64url of 32 bytes */
#define LOGIN_MAX_AGE_S 600
#define PRESESSION_COOKIE "ndx_portal_login"
#define NEXT_MAX 256    /* a return path after the sign-in */

static void hash_hex(const char *text, char out[PSTORE_HASH_HEX])
{
	uint8_t h[NDX_SHA256_LEN];

	ndx_sha256(text, strlen(text), h);
	ndx_hex_encode(h, sizeof h, out);
}

/* The value (a well-formed token) of the cookie name into out. */
static int cookie_named(const struct ndx_http_req *req, const char *name,
			char out[TOKEN_LEN + 1])
{
	long n = ndx_http_cookie(req, name, out, TOKEN_LEN + 1);

	return n >= 0 && ndx_b64url_token_ok(out, (size_t)n, TOKEN_LEN);
}

/* The session cookie's value into out. */
static int cookie_token(const struct ndx_http_req *req, char out[TOKEN_LEN + 1])
{
	return cookie_named(req, SESSION_COOKIE, out);
}

int auth_session(const struct portal *p, const struct ndx_http_req *req, struct psession *s)
{
	char tok[TOKEN_LEN + 1], hex[PSTORE_HASH_HEX];

	memset(s, 0, sizeof *s);
	if (!cookie_token(req, tok))
		return NDX_ENOTFOUND;
	hash_hex(tok, hex);
	OPENSSL_cleanse(tok, sizeof tok);
	return pstore_session_get(p->st, hex, time(NULL), (long)p->cfg->session_minutes * 60,
				  SESSION_MAX_S, s);
}

/* The exp claim of a JWS compact token's payload, 0 when there is none. The
 * token was verified at sign-in; this only reads when it ends. */
static long long token_exp(const char *jws)
{
	const char *dot = strchr(jws, '.'), *end = dot ? strchr(dot + 1, '.') : NULL;
	uint8_t *raw = NULL;
	size_t len = 0;
	long long exp = 0;
	json_t *claims;

	if (!end || ndx_b64_decode(dot + 1, (size_t)(end - dot - 1), 1, &raw, &len) != NDX_OK)
		return 0;
	claims = json_loadb((const char *)raw, len, 0, NULL);
	free(raw);
	if (json_is_integer(json_object_get(claims, "exp")))
		exp = json_integer_value(json_object_get(claims, "exp"));
	json_decref(claims);
	return exp;
}

const char *auth_subject_token(const struct psession *s, time_t now)
{
	if (!s->id_token || !s->id_token[0])
		return NULL;
	return token_exp(s->id_token) >= (long long)now + AUTH_TOKEN_MARGIN_S ? s->id_token : NULL;
}

int auth_reauth(struct perr *e)
{
	return perr_set(e, 401, "reauth", "the e-ID sign-in has ended: sign in again");
}

int auth_need_token(const struct psession *s, const char **tok, struct perr *e)
{
	if (!(*tok = auth_subject_token(s, time(NULL))))
		return auth_reauth(e);
	return 0;
}

json_t *auth_session_json(const struct portal *p, const struct psession *s)
{
	time_t idle = s->last_seen + (time_t)p->cfg->session_minutes * 60;
	time_t abs = s->created_at + SESSION_MAX_S;
	char exp[NDX_TIME_TEXT_LEN];
	json_t *o;

	ndx_time_format(idle < abs ? idle : abs, exp);
	o = json_pack("{s:b,s:s,s:s,s:s,s:s}", "authenticated", 1, "kind", s->kind, "name",
		      s->name, "csrf", s->csrf, "expires_at", exp);
	if (o && s->subject[0])
		json_object_set_new(o, "subject", json_string(s->subject));
	if (o && s->id_token && token_exp(s->id_token) > 0) {
		ndx_time_format((time_t)token_exp(s->id_token), exp);
		json_object_set_new(o, "id_token_expires_at", json_string(exp));
	}
	if (o && s->agency[0])
		json_object_set_new(o, "agency", json_string(s->agency));
	if (o && s->username[0])
		json_object_set_new(o, "username", json_string(s->username));
	return o;
}

static void set_cookie(const struct portal *p, struct ndx_http_resp *resp, const char *value,
		       int clear)
{
	char c[256];

	snprintf(c, sizeof c, "%s=%s; Path=/; HttpOnly; SameSite=Lax%s%s", SESSION_COOKIE, value,
		 clear ? "; Max-Age=0" : "", p->cfg->secure_cookie ? "; Secure" : "");
	ndx_http_resp_header(resp, "Set-Cookie", c);
}

/* The browser's pre-session value into out: the one its cookie holds, or
 * a new one; the cookie is (re)set for LOGIN_MAX_AGE_S either way, so two
 * tabs signing in at once share it. NDX_ECRYPTO without randomness. */
static int presession(const struct portal *p, const struct ndx_http_req *req,
		      struct ndx_http_resp *resp, char out[TOKEN_LEN + 1])
{
	char c[256];
	int rc;

	if (!cookie_named(req, PRESESSION_COOKIE, out) && (rc = ndx_oidc_random(out, TOKEN_LEN + 1)))
		return rc;
	snprintf(c, sizeof c, "%s=%s; Path=/auth; Max-Age=%d; HttpOnly; SameSite=Lax%s",
		 PRESESSION_COOKIE, out, LOGIN_MAX_AGE_S, p->cfg->secure_cookie ? "; Secure" : "");
	ndx_http_resp_header(resp, "Set-Cookie", c);
	return NDX_OK;
}

/* Drops the session the browser presents, if any. */
static void drop_session(const struct portal *p, const struct ndx_http_req *req)
{
	char tok[TOKEN_LEN + 1], hex[PSTORE_HASH_HEX];

	if (cookie_token(req, tok)) {
		hash_hex(tok, hex);
		pstore_session_delete(p->st, hex);
	}
}

/* Stores s (kind, names filled by the caller) under a fresh id and sets the
 * cookie. NDX_OK or an error (nothing set). */
static int start_session(const struct portal *p, const struct ndx_http_req *req,
			 struct ndx_http_resp *resp, struct psession *s)
{
	char tok[64], hex[PSTORE_HASH_HEX];
	int rc;

	drop_session(p, req);
	if ((rc = ndx_oidc_random(tok, sizeof tok)) || (rc = ndx_oidc_random(s->csrf, sizeof s->csrf)))
		return rc;
	s->created_at = s->last_seen = time(NULL);
	hash_hex(tok, hex);
	if ((rc = pstore_session_create(p->st, hex, s)) == NDX_OK) {
		set_cookie(p, resp, tok, 0);
		portal_metrics_signin(s->kind, "succeeded");
	}
	OPENSSL_cleanse(tok, sizeof tok);
	return rc;
}

static void redirect(struct ndx_http_resp *resp, const char *location)
{
	ndx_http_resp_header(resp, "Location", location);
	ndx_http_resp_bytes(resp, 302, "text/plain; charset=utf-8", "", 0);
}

static void reply(struct ndx_http_resp *resp, int status, const char *code, const char *msg)
{
	struct perr e = { 0 };

	perr_set(&e, status, code, "%s", msg);
	api_reply_error(resp, &e);
}

/* ---- e-ID ------------------------------------------------------------------ */

/* Whether next is a path of the web UI to return to after the sign-in: a
 * local absolute path (never "//host" or a backslash), not under /auth/ or
 * /api/, of plain URL characters. Anything else is dropped, so the sign-in
 * cannot be made into an open redirect. */
static int next_ok(const char *next)
{
	size_t n = strlen(next);

	if (n < 1 || n > NEXT_MAX || next[0] != '/' || next[1] == '/' ||
	    strncmp(next, "/auth/", 6) == 0 || strncmp(next, "/api/", 5) == 0)
		return 0;
	return strspn(next, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
			    "/-._~%?&=+") == n;
}

static void login(const struct portal *p, const struct ndx_http_req *req,
		  struct ndx_http_resp *resp)
{
	char state[64], nonce[64], verifier[64], challenge[64], hex[PSTORE_HASH_HEX];
	char browser[TOKEN_LEN + 1], bhex[PSTORE_HASH_HEX];
	const char *next = ndx_http_query_arg(req, "next");
	/* The web UI keeps the reader's language in the browser and says it
	 * here; the e-ID's page follows it (ui_locales). */
	const char *lang = ndx_http_query_arg(req, "lang");
	const char *ui_locales = lang && strcmp(lang, "en") == 0 ? "en" : "vi";
	char *url = NULL;
	int rc;

	if ((rc = ndx_oidc_random(state, sizeof state)) || (rc = ndx_oidc_random(nonce, sizeof nonce)) ||
	    (rc = ndx_oidc_random(verifier, sizeof verifier)) ||
	    (rc = presession(p, req, resp, browser))) {
		redirect(resp, "/?error=login_failed");
		return;
	}
	ndx_oidc_challenge(verifier, challenge, sizeof challenge);
	hash_hex(state, hex);
	hash_hex(browser, bhex);
	OPENSSL_cleanse(browser, sizeof browser);
	if ((rc = ndx_oidc_auth_url(p->oidc, state, nonce, challenge, ui_locales, &url)) ||
	    (rc = pstore_login_put(p->st, hex, bhex, nonce, verifier,
				   next && next_ok(next) ? next : "", time(NULL)))) {
		fprintf(stderr, PORTAL_PROG ": login: %s\n",
			url ? "cannot store the login" : "the e-ID cannot be reached");
		free(url);
		redirect(resp, "/?error=login_failed");
		return;
	}
	redirect(resp, url);
	free(url);
}

static void callback(const struct portal *p, const struct ndx_http_req *req,
		     struct ndx_http_resp *resp)
{
	const char *state = ndx_http_query_arg(req, "state");
	const char *code = ndx_http_query_arg(req, "code");
	char hex[PSTORE_HASH_HEX], nonce[128], verifier[128], next[NEXT_MAX + 1];
	char browser[TOKEN_LEN + 1], bhex[PSTORE_HASH_HEX], want[PSTORE_HASH_HEX];
	struct ndx_oidc_identity id;
	struct psession s = { 0 };
	const char *why = "";
	int rc;

	/* A callback without the pre-session cookie of the browser that
	 * started the login is refused before the state is even looked at:
	 * someone else's callback link signs no one in (login CSRF). */
	if (!state || strlen(state) > 128 || !cookie_named(req, PRESESSION_COOKIE, browser)) {
		if (state)
			fprintf(stderr, PORTAL_PROG ": login callback refused: %s\n",
				strlen(state) > 128 ? "state too long" : "no pre-session cookie");
		redirect(resp, "/?error=state_invalid");
		return;
	}
	hash_hex(state, hex);
	hash_hex(browser, bhex);
	OPENSSL_cleanse(browser, sizeof browser);
	if (pstore_login_take(p->st, hex, time(NULL), LOGIN_MAX_AGE_S, want, nonce, verifier,
			      sizeof nonce, next, sizeof next) != NDX_OK) {
		redirect(resp, "/?error=state_invalid");
		return;
	}
	if (strlen(want) != strlen(bhex) || CRYPTO_memcmp(want, bhex, strlen(bhex)) != 0) {
		OPENSSL_cleanse(verifier, sizeof verifier);
		fprintf(stderr, PORTAL_PROG ": login callback refused: the state was issued to "
				"another browser\n");
		redirect(resp, "/?error=state_invalid");
		return;
	}
	if (ndx_http_query_arg(req, "error") || !code || !*code || strlen(code) > 2048) {
		redirect(resp, "/?error=login_failed");
		return;
	}
	rc = ndx_oidc_redeem(p->oidc, code, verifier, nonce, time(NULL), &id, &why);
	OPENSSL_cleanse(verifier, sizeof verifier);
	if (rc != NDX_OK) {
		fprintf(stderr, PORTAL_PROG ": e-ID login refused: %s\n", why);
		redirect(resp, "/?error=login_failed");
		return;
	}
	snprintf(s.kind, sizeof s.kind, "citizen");
	snprintf(s.subject, sizeof s.subject, "%s", id.subject);
	snprintf(s.name, sizeof s.name, "%s", id.name);
	s.id_token = id.id_token;
	id.id_token = NULL;
	ndx_oidc_identity_clear(&id);
	rc = start_session(p, req, resp, &s);
	psession_clear(&s);
	redirect(resp, rc != NDX_OK ? "/?error=login_failed" : next_ok(next) ? next : "/profile");
}

/* ---- officers and logout ------------------------------------------------------ */

/* GET /auth/officer: the pre-session token the sign-in form sends back in
 * X-CSRF-Token (a cross-site page can neither read it nor set the cookie). */
static void officer_token(const struct portal *p, const struct ndx_http_req *req,
			  struct ndx_http_resp *resp)
{
	char tok[TOKEN_LEN + 1];

	if (presession(p, req, resp, tok)) {
		reply(resp, 500, "internal", "no randomness");
		return;
	}
	ndx_http_resp_json(resp, 200, json_pack("{s:s}", "csrf", tok));
	OPENSSL_cleanse(tok, sizeof tok);
}

/* A JSON body (no form or text/plain a cross-site page could send without
 * asking) with X-CSRF-Token equal to the pre-session cookie. Answers and
 * returns -1 otherwise. */
static int officer_request_ok(const struct ndx_http_req *req, struct ndx_http_resp *resp)
{
	const char *type = ndx_http_header(req, "Content-Type");
	const char *tok = ndx_http_header(req, "X-CSRF-Token");
	char want[TOKEN_LEN + 1];
	size_t tl = strlen("application/json");
	int ok;

	if (!type || strncasecmp(type, "application/json", tl) != 0 ||
	    (type[tl] && type[tl] != ';' && type[tl] != ' ')) {
		reply(resp, 415, "unsupported_media_type", "the body must be application/json");
		return -1;
	}
	ok = cookie_named(req, PRESESSION_COOKIE, want) && tok && strlen(tok) == strlen(want) &&
	     CRYPTO_memcmp(tok, want, strlen(want)) == 0;
	OPENSSL_cleanse(want, sizeof want);
	if (!ok) {
		reply(resp, 403, "csrf",
		      "the X-CSRF-Token header is missing or wrong: GET /auth/officer first");
		return -1;
	}
	return 0;
}

/* Checks pass for user: against the officer's hash, or for an unknown name
 * against the newest officer's hash (the same Argon2id cost as the stored
 * accounts, result ignored) and NDX_EPERM. */
static int officer_check(const struct portal *p, const char *user, const char *pass,
			 struct pofficer *o)
{
	char cost[NDX_PASSWORD_HASH_MAX];
	int rc = pstore_officer_get(p->st, user, o);

	if (rc == NDX_OK)
		return ndx_password_verify(o->password_hash, pass);
	if (rc != NDX_ENOTFOUND)
		return rc;
	if (pstore_officer_cost_hash(p->st, cost) == NDX_OK)
		ndx_password_verify(cost, pass);
	else
		ndx_password_verify(p->dummy_hash, pass);
	OPENSSL_cleanse(cost, sizeof cost);
	return NDX_EPERM;
}

static void officer_login(const struct portal *p, const struct ndx_http_req *req,
			  struct ndx_http_resp *resp)
{
	time_t now = time(NULL);
	struct signin_counts counts;
	const char *user, *pass;
	struct pofficer o;
	char who[sizeof o.username], src[SIGNIN_SOURCE_MAX], retry[24];
	struct psession s = { 0 };
	json_t *body;
	long wait;
	int rc;

	if (officer_request_ok(req, resp) || api_body(req, resp, &body))
		return;
	user = json_string_value(json_object_get(body, "username"));
	pass = json_string_value(json_object_get(body, "password"));
	if (!user || !pass || !*user || strlen(user) >= sizeof o.username ||
	    strlen(pass) > NDX_PASSWORD_MAX) {
		json_decref(body);
		reply(resp, 400, "invalid", "expected {\"username\", \"password\"}");
		return;
	}
	snprintf(who, sizeof who, "%s", user);
	{
		size_t fwd_len = 0;
		const char *fwd = ndx_http_header_last_n(req, "X-Forwarded-For", &fwd_len);
		char client[96];

		signin_client(req->remote_addr, fwd, fwd_len, &p->cfg->proxies, client,
			      sizeof client);
		signin_source(client, src);
	}
	if (pstore_signin_counts(p->st, who, src, now - SIGNIN_WINDOW_S, &counts) != NDX_OK) {
		json_decref(body);
		reply(resp, 500, "internal", "the sign-in cannot be checked now");
		return;
	}
	/* Before the password: a throttled guess costs no Argon2id and
	 * learns nothing. */
	if ((wait = signin_wait(&counts, now)) > 0) {
		json_decref(body);
		fprintf(stderr, PORTAL_PROG ": officer login from %s throttled for %ld s (%u "
				"failures from there, %u for the name)\n",
			src, wait, counts.source, counts.account);
		portal_metrics_signin("officer", "throttled");
		reply(resp, 429, "throttled", "too many failed sign-ins: try again later");
		snprintf(retry, sizeof retry, "%ld", wait);
		ndx_http_resp_header(resp, "Retry-After", retry);
		return;
	}
	rc = officer_check(p, user, pass, &o);
	json_decref(body);
	if (rc != NDX_OK) {
		if (rc != NDX_ENOTFOUND && rc != NDX_EPERM)
			fprintf(stderr, PORTAL_PROG ": officer login: %s\n", ndx_strerror(rc));
		pstore_signin_failure_note(p->st, who, src, now, now - SIGNIN_WINDOW_S);
		portal_metrics_signin("officer", "failed");
		reply(resp, 401, "bad_credentials", "wrong user name or password");
		return;
	}
	pstore_signin_success(p->st, who, src);
	snprintf(s.kind, sizeof s.kind, "officer");
	snprintf(s.name, sizeof s.name, "%s", o.name);
	snprintf(s.agency, sizeof s.agency, "%s", o.agency);
	snprintf(s.username, sizeof s.username, "%s", o.username);
	if (start_session(p, req, resp, &s) != NDX_OK) {
		reply(resp, 500, "internal", "the session could not be stored");
		return;
	}
	ndx_http_resp_json(resp, 200, auth_session_json(p, &s));
}

static void logout(const struct portal *p, const struct ndx_http_req *req,
		   struct ndx_http_resp *resp)
{
	struct psession s;
	char *url = NULL;

	if (auth_session(p, req, &s) == NDX_OK) {
		if (strcmp(s.kind, "citizen") == 0)
			url = ndx_oidc_logout_url(p->oidc, s.id_token);
		psession_clear(&s);
	}
	drop_session(p, req);
	set_cookie(p, resp, "", 1);
	ndx_http_resp_json(resp, 200, json_pack("{s:s}", "logout_url", url ? url : "/"));
	free(url);
}

void auth_handle(const struct portal *p, const struct ndx_http_req *req,
		 struct ndx_http_resp *resp)
{
	const char *m = req->method, *path = req->path;
	int get = strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0, post = strcmp(m, "POST") == 0;

	if (get && strcmp(path, "/auth/login") == 0)
		login(p, req, resp);
	else if (get && strcmp(path, "/auth/callback") == 0)
		callback(p, req, resp);
	else if (post && strcmp(path, "/auth/logout") == 0)
		logout(p, req, resp);
	else if (post && strcmp(path, "/auth/officer") == 0)
		officer_login(p, req, resp);
	else if (get && strcmp(path, "/auth/officer") == 0)
		officer_token(p, req, resp);
	else
		reply(resp, 404, "not_found", "no such route");
}
