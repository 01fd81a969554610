/* The web consoles' sign-in and sessions (ndx/console_auth.h): the
 * registry's console (docs/console.md) and each gateway's
 * (docs/gateway-console.md). An official signs in through the national
 * e-ID with the authorization code flow and PKCE (ndx/oidc_rp.h, the
 * portal's relying party): the login's state, nonce and verifier wait here
 * for 10 minutes, keyed by the state's hash and bound to the hash of a
 * pre-session cookie of the browser that started it, and are taken once,
 * so a callback opened in another browser signs no one in (login CSRF). A
 * session id is 256 random bits sent only in an HttpOnly, SameSite=Strict
 * cookie (Secure when the public URL is https) and kept only as its
 * SHA-256; every sign-in makes a new one. Its CSRF token is given to the
 * page by /console/auth/me and must come back in X-CSRF-Token on every
 * change (ndx_console_csrf_ok). The role is never kept in the session: the
 * daemon's role_of callback is asked at each request. Sessions are in this
 * process's memory: a restart signs everyone out. */
#include "ndx/console_auth.h"

#include <limits.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ndx/encode.h"
#include "ndx/err.h"
#include "ndx/hash.h"
#include "ndx/oidc_rp.h"
#include "ndx/static_files.h"
#include "ndx/httpd.h"

#define TOKEN_LEN 43
#define SESSION_COOKIE "ndx_console"
#define LOGIN_COOKIE "ndx_console_login"
#define MAX_SESSIONS 1024
#define MAX_LOGINS 256
#define LOGIN_MAX_AGE_S 600
#define SESSION_IDLE_S 1800
#define SESSION_MAX_S (12 * 3600)
#define NEXT_MAX 256

struct csession {
	uint8_t sha[NDX_SHA256_LEN];
	char subject[16], name[256], csrf[TOKEN_LEN + 1];
	time_t created, seen;
	int used;
};

struct clogin {
	uint8_t state_sha[NDX_SHA256_LEN], browser_sha[NDX_SHA256_LEN];
	char nonce[64], verifier[64], next[NEXT_MAX + 1];
	time_t at;
	int used;
};

struct ndx_console {
	char *prog, *module, *web_dir, *assets_dir, *public_url;
	ndx_console_role_fn role_of;
	void *role_ud;
	int secure;
	struct ndx_oidc *oidc;
	pthread_mutex_t mu;
	struct csession sessions[MAX_SESSIONS];
	struct clogin logins[MAX_LOGINS];
};

static char *real_dir(const char *prog, const char *p)
{
	char real[PATH_MAX];

	if (!p || !realpath(p, real)) {
		if (p)
			fprintf(stderr, "%s: warning: console directory %s is not usable; "
					"its files answer 404\n", prog, p);
		return NULL;
	}
	return strdup(real);
}

int ndx_console_new(const struct ndx_console_config *cfg, struct ndx_console **out)
{
	struct ndx_console *c = calloc(1, sizeof *c);
	char redirect[1024], logout[1024];
	struct ndx_oidc_config ocfg = {
		.prog = cfg->prog, .issuer = cfg->issuer, .client_id = cfg->client_id,
		.client_secret = cfg->client_secret, .redirect_uri = redirect,
		.post_logout_uri = logout,
	};
	int rc;

	*out = NULL;
	if (!c)
		return NDX_ENOMEM;
	pthread_mutex_init(&c->mu, NULL);
	c->role_of = cfg->role_of;
	c->role_ud = cfg->role_ud;
	c->secure = strncmp(cfg->public_url, "https://", 8) == 0;
	c->web_dir = real_dir(cfg->prog, cfg->web_dir);
	c->assets_dir = real_dir(cfg->prog, cfg->assets_dir);
	snprintf(redirect, sizeof redirect, "%s/console/auth/callback", cfg->public_url);
	snprintf(logout, sizeof logout, "%s/console/", cfg->public_url);
	if (!(c->public_url = strdup(cfg->public_url)) || !(c->prog = strdup(cfg->prog)) ||
	    !(c->module = strdup(cfg->module)) ||
	    (rc = ndx_oidc_new(&ocfg, &c->oidc)) != NDX_OK) {
		ndx_console_free(c);
		return NDX_ENOMEM;
	}
	*out = c;
	return NDX_OK;
}

void ndx_console_free(struct ndx_console *c)
{
	if (!c)
		return;
	ndx_oidc_free(c->oidc);
	free(c->web_dir);
	free(c->assets_dir);
	free(c->public_url);
	free(c->prog);
	free(c->module);
	OPENSSL_cleanse(c->sessions, sizeof c->sessions);
	OPENSSL_cleanse(c->logins, sizeof c->logins);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

int ndx_console_path(const char *path)
{
	return strcmp(path, "/console") == 0 || strncmp(path, "/console/", 9) == 0;
}

/* ---- small answers --------------------------------------------------------------- */

static void redirect(struct ndx_http_resp *resp, const char *location)
{
	ndx_http_resp_header(resp, "Location", location);
	ndx_http_resp_bytes(resp, 302, "text/plain; charset=utf-8", "", 0);
}

/* Sets cookie name; max_age < 0 for a session cookie, 0 to clear it, else
 * its lifetime in seconds. */
static void set_cookie(const struct ndx_console *c, struct ndx_http_resp *resp, const char *name,
		       const char *path, const char *value, int max_age)
{
	char h[256], age[32] = "";

	/* Strict: the console is never entered from another site with a
	 * session; the login cookie is Lax, as the e-ID's redirect back is a
	 * cross-site top-level navigation that must carry it. */
	if (max_age >= 0)
		snprintf(age, sizeof age, "; Max-Age=%d", max_age);
	snprintf(h, sizeof h, "%s=%s; Path=%s; HttpOnly; SameSite=%s%s%s", name, value, path,
		 strcmp(name, LOGIN_COOKIE) == 0 ? "Lax" : "Strict", age,
		 c->secure ? "; Secure" : "");
	ndx_http_resp_header(resp, "Set-Cookie", h);
}

static int token_ok(const char *s, long n)
{
	return n >= 0 && ndx_b64url_token_ok(s, (size_t)n, TOKEN_LEN);
}

/* The well-formed token in cookie name, hashed into sha. */
static int cookie_sha(const struct ndx_http_req *req, const char *name,
		      uint8_t sha[NDX_SHA256_LEN])
{
	char v[TOKEN_LEN + 1];
	long n = ndx_http_cookie(req, name, v, sizeof v);

	if (!token_ok(v, n))
		return 0;
	ndx_sha256(v, (size_t)n, sha);
	OPENSSL_cleanse(v, sizeof v);
	return 1;
}

/* ---- sessions --------------------------------------------------------------------- */

static int session_live(const struct csession *s, time_t now)
{
	return s->used && now - s->seen <= SESSION_IDLE_S && now - s->created <= SESSION_MAX_S;
}

/* The session slot whose hash is sha, under c->mu; NULL for none. */
static struct csession *session_find(struct ndx_console *c, const uint8_t sha[NDX_SHA256_LEN])
{
	struct csession *found = NULL;

	/* Every slot is compared: the time taken does not say which. */
	for (size_t i = 0; i < MAX_SESSIONS; i++)
		if (c->sessions[i].used &&
		    CRYPTO_memcmp(c->sessions[i].sha, sha, NDX_SHA256_LEN) == 0)
			found = &c->sessions[i];
	return found;
}

int ndx_console_session(struct ndx_console *c, const struct ndx_http_req *req,
			struct ndx_console_who *who)
{
	uint8_t sha[NDX_SHA256_LEN];
	struct csession *s;
	time_t now = time(NULL);

	memset(who, 0, sizeof *who);
	if (!c || !cookie_sha(req, SESSION_COOKIE, sha))
		return 0;
	pthread_mutex_lock(&c->mu);
	s = session_find(c, sha);
	if (s && !session_live(s, now)) {
		memset(s, 0, sizeof *s);
		s = NULL;
	}
	if (s) {
		s->seen = now;
		snprintf(who->subject, sizeof who->subject, "%s", s->subject);
		snprintf(who->name, sizeof who->name, "%s", s->name);
		snprintf(who->csrf, sizeof who->csrf, "%s", s->csrf);
	}
	pthread_mutex_unlock(&c->mu);
	if (!s)
		return 0;
	if (c->role_of(c->role_ud, who->subject, who->role, sizeof who->role, who->member,
		       sizeof who->member) != NDX_OK)
		who->role[0] = who->member[0] = '\0';
	return 1;
}

static void session_drop(struct ndx_console *c, const struct ndx_http_req *req)
{
	uint8_t sha[NDX_SHA256_LEN];
	struct csession *s;

	if (!cookie_sha(req, SESSION_COOKIE, sha))
		return;
	pthread_mutex_lock(&c->mu);
	if ((s = session_find(c, sha)))
		memset(s, 0, sizeof *s);
	pthread_mutex_unlock(&c->mu);
}

/* A new session for subject and name; its cookie is set. The oldest slot
 * (or a dead one) makes room. */
static int session_start(struct ndx_console *c, const struct ndx_http_req *req,
			 struct ndx_http_resp *resp, const char *subject, const char *name)
{
	char tok[TOKEN_LEN + 1], csrf[TOKEN_LEN + 1];
	struct csession *slot = NULL;
	time_t now = time(NULL);
	int rc;

	session_drop(c, req);
	if ((rc = ndx_oidc_random(tok, sizeof tok)) || (rc = ndx_oidc_random(csrf, sizeof csrf)))
		return rc;
	pthread_mutex_lock(&c->mu);
	for (size_t i = 0; i < MAX_SESSIONS; i++) {
		struct csession *s = &c->sessions[i];

		if (!session_live(s, now)) {
			slot = s;
			break;
		}
		if (!slot || s->seen < slot->seen)
			slot = s;
	}
	memset(slot, 0, sizeof *slot);
	ndx_sha256(tok, strlen(tok), slot->sha);
	snprintf(slot->subject, sizeof slot->subject, "%s", subject);
	snprintf(slot->name, sizeof slot->name, "%s", name);
	snprintf(slot->csrf, sizeof slot->csrf, "%s", csrf);
	slot->created = slot->seen = now;
	slot->used = 1;
	pthread_mutex_unlock(&c->mu);
	set_cookie(c, resp, SESSION_COOKIE, "/", tok, -1);
	OPENSSL_cleanse(tok, sizeof tok);
	OPENSSL_cleanse(csrf, sizeof csrf);
	return NDX_OK;
}

/* ---- sign-in ------------------------------------------------------------------------ */

/* A console page to come back to: /console/ and below, plain characters,
 * never the auth paths (no open redirect). */
static int next_ok(const char *next)
{
	size_t n = strlen(next);

	if (n > NEXT_MAX || strncmp(next, "/console/", 9) != 0 ||
	    strncmp(next, "/console/auth/", 14) == 0)
		return 0;
	return strspn(next, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
			    "/-._~%?&=+") == n;
}

static void login(struct ndx_console *c, const struct ndx_http_req *req, struct ndx_http_resp *resp)
{
	char state[64], nonce[64], verifier[64], challenge[64], browser[TOKEN_LEN + 1];
	const char *next = ndx_http_query_arg(req, "next");
	const char *lang = ndx_http_query_arg(req, "lang");
	struct clogin *slot = NULL;
	time_t now = time(NULL);
	long n = ndx_http_cookie(req, LOGIN_COOKIE, browser, sizeof browser);
	char *url = NULL;

	if ((!token_ok(browser, n) && ndx_oidc_random(browser, sizeof browser)) ||
	    ndx_oidc_random(state, sizeof state) || ndx_oidc_random(nonce, sizeof nonce) ||
	    ndx_oidc_random(verifier, sizeof verifier)) {
		redirect(resp, "/console/?error=login_failed");
		return;
	}
	ndx_oidc_challenge(verifier, challenge, sizeof challenge);
	if (ndx_oidc_auth_url(c->oidc, state, nonce, challenge,
			      lang && strcmp(lang, "en") == 0 ? "en" : "vi", &url) != NDX_OK) {
		fprintf(stderr, "%s: console login: the e-ID cannot be reached\n", c->prog);
		redirect(resp, "/console/?error=login_failed");
		return;
	}
	set_cookie(c, resp, LOGIN_COOKIE, "/console/auth", browser, LOGIN_MAX_AGE_S);
	pthread_mutex_lock(&c->mu);
	for (size_t i = 0; i < MAX_LOGINS; i++) {
		struct clogin *l = &c->logins[i];

		if (!l->used || now - l->at > LOGIN_MAX_AGE_S) {
			slot = l;
			break;
		}
		if (!slot || l->at < slot->at)
			slot = l;
	}
	memset(slot, 0, sizeof *slot);
	ndx_sha256(state, strlen(state), slot->state_sha);
	ndx_sha256(browser, strlen(browser), slot->browser_sha);
	snprintf(slot->nonce, sizeof slot->nonce, "%s", nonce);
	snprintf(slot->verifier, sizeof slot->verifier, "%s", verifier);
	snprintf(slot->next, sizeof slot->next, "%s", next && next_ok(next) ? next : "");
	slot->at = now;
	slot->used = 1;
	pthread_mutex_unlock(&c->mu);
	OPENSSL_cleanse(verifier, sizeof verifier);
	OPENSSL_cleanse(browser, sizeof browser);
	redirect(resp, url);
	free(url);
}

/* Takes the pending login of state (once) into *out when it is fresh and
 * was started by the browser whose login cookie hashes to browser_sha. */
static int login_take(struct ndx_console *c, const char *state,
		      const uint8_t browser_sha[NDX_SHA256_LEN], struct clogin *out)
{
	uint8_t sha[NDX_SHA256_LEN];
	time_t now = time(NULL);
	int ok = 0;

	ndx_sha256(state, strlen(state), sha);
	pthread_mutex_lock(&c->mu);
	for (size_t i = 0; i < MAX_LOGINS; i++) {
		struct clogin *l = &c->logins[i];

		if (l->used && CRYPTO_memcmp(l->state_sha, sha, sizeof sha) == 0) {
			ok = now - l->at <= LOGIN_MAX_AGE_S &&
			     CRYPTO_memcmp(l->browser_sha, browser_sha, NDX_SHA256_LEN) == 0;
			if (ok)
				*out = *l;
			memset(l, 0, sizeof *l);
		}
	}
	pthread_mutex_unlock(&c->mu);
	return ok;
}

static void callback(struct ndx_console *c, const struct ndx_http_req *req,
		     struct ndx_http_resp *resp)
{
	const char *state = ndx_http_query_arg(req, "state");
	const char *code = ndx_http_query_arg(req, "code");
	uint8_t bsha[NDX_SHA256_LEN];
	struct ndx_oidc_identity id;
	struct clogin l;
	const char *why = "";
	int rc;

	if (!state || strlen(state) > 128 || !cookie_sha(req, LOGIN_COOKIE, bsha) ||
	    !login_take(c, state, bsha, &l)) {
		fprintf(stderr, "%s: console login callback refused: unknown state, or one "
				"issued to another browser\n", c->prog);
		redirect(resp, "/console/?error=state_invalid");
		return;
	}
	if (ndx_http_query_arg(req, "error") || !code || !*code || strlen(code) > 2048) {
		OPENSSL_cleanse(&l, sizeof l);
		redirect(resp, "/console/?error=login_failed");
		return;
	}
	rc = ndx_oidc_redeem(c->oidc, code, l.verifier, l.nonce, time(NULL), &id, &why);
	OPENSSL_cleanse(l.verifier, sizeof l.verifier);
	if (rc != NDX_OK) {
		fprintf(stderr, "%s: console e-ID login refused: %s\n", c->prog, why);
		redirect(resp, "/console/?error=login_failed");
		return;
	}
	/* Someone who is no official gets a session too: the console then
	 * shows them a clear refusal (and the API answers 403), rather than
	 * sending them round the e-ID again. */
	rc = session_start(c, req, resp, id.subject, id.name);
	ndx_oidc_identity_clear(&id);
	set_cookie(c, resp, LOGIN_COOKIE, "/console/auth", "", 0);
	redirect(resp, rc != NDX_OK ? "/console/?error=login_failed"
				    : l.next[0] ? l.next : "/console/");
}

/* GET /console/auth/me: who is signed in, with the member their role is
 * limited to (null for none) (401 for no one; 403 with the name for
 * someone who is no official). */
static void me(struct ndx_console *c, const struct ndx_http_req *req, struct ndx_http_resp *resp)
{
	struct ndx_console_who w;

	if (!ndx_console_session(c, req, &w)) {
		ndx_http_resp_error(resp, 401, "Client.Unauthenticated", "not signed in",
				    "sign in at /console/auth/login");
		return;
	}
	ndx_http_resp_json(resp, w.role[0] ? 200 : 403,
			   json_pack("{ss ss ss so ss}", "subject", w.subject, "name", w.name,
				     "role", w.role, "member",
				     w.member[0] ? json_string(w.member) : json_null(), "csrf", w.csrf));
	ndx_http_resp_header(resp, "Cache-Control", "no-store");
}

int ndx_console_csrf_ok(const struct ndx_console_who *who, const struct ndx_http_req *req)
{
	const char *tok = ndx_http_header(req, "X-CSRF-Token");
	size_t n = strlen(who->csrf);

	return n > 0 && tok && strlen(tok) == n && CRYPTO_memcmp(tok, who->csrf, n) == 0;
}

/* POST /console/auth/logout with X-CSRF-Token: ends the session here and
 * answers the e-ID's end-session URL for the page to go to. */
static void logout(struct ndx_console *c, const struct ndx_http_req *req, struct ndx_http_resp *resp)
{
	struct ndx_console_who w;
	char *url;

	if (!ndx_console_session(c, req, &w)) {
		ndx_http_resp_error(resp, 401, "Client.Unauthenticated", "not signed in", NULL);
		return;
	}
	if (!ndx_console_csrf_ok(&w, req)) {
		ndx_http_resp_error(resp, 403, "Client.Csrf", "CSRF token missing or wrong",
				    "send X-CSRF-Token as /console/auth/me gave it");
		return;
	}
	session_drop(c, req);
	set_cookie(c, resp, SESSION_COOKIE, "/", "", 0);
	url = ndx_oidc_logout_url(c->oidc, NULL);
	ndx_http_resp_json(resp, 200, json_pack("{ss}", "logout_url", url ? url : "/console/"));
	free(url);
}

void ndx_console_headers(struct ndx_http_resp *resp)
{
	/* No other site may frame the console (clickjacking a change) nor
	 * run anything in it. */
	ndx_http_resp_header(resp, "X-Frame-Options", "DENY");
	ndx_http_resp_header(resp, "X-Content-Type-Options", "nosniff");
	ndx_http_resp_header(resp, "Content-Security-Policy",
			     "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'");
}

/* /console/main.mjs: to the daemon's page module, from where its imports
 * resolve (a module's base URL is the one it was finally fetched from). */
static void static_redirect(const struct ndx_console *c, struct ndx_http_resp *resp)
{
	char to[256];

	snprintf(to, sizeof to, "/console/static/%s", c->module);
	redirect(resp, to);
}

void ndx_console_handle(struct ndx_console *c, const struct ndx_http_req *req,
			struct ndx_http_resp *resp, const char *hint)
{
	const char *p = req->path, *m = req->method;
	int get = strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;

	if (!c) {
		ndx_http_resp_error(resp, 404, "Client.NotFound", "the console is not configured",
				    hint);
		return;
	}
	if (strcmp(p, "/console/auth/logout") == 0) {
		if (strcmp(m, "POST") == 0)
			logout(c, req, resp);
		else
			ndx_http_resp_error(resp, 405, "Client.MethodNotAllowed",
					    "method not allowed", "POST");
		return;
	}
	if (!get) {
		ndx_http_resp_error(resp, 405, "Client.MethodNotAllowed", "method not allowed",
				    "GET, HEAD");
		return;
	}
	if (strcmp(p, "/console") == 0)
		redirect(resp, "/console/");
	else if (strcmp(p, "/console/auth/login") == 0)
		login(c, req, resp);
	else if (strcmp(p, "/console/auth/callback") == 0)
		callback(c, req, resp);
	else if (strcmp(p, "/console/auth/me") == 0)
		me(c, req, resp);
	else if (strncmp(p, "/console/static/", 16) == 0)
		ndx_static_serve(c->web_dir, p + 16, resp);
	else if (strncmp(p, "/console/assets/govuk/", 22) == 0)
		ndx_static_serve(c->assets_dir, p + 22, resp);
	else if (strncmp(p, "/console/auth/", 14) == 0)
		ndx_http_resp_error(resp, 404, "Client.NotFound", "no such path", p);
	else if (strcmp(p, "/console/main.mjs") == 0)
		static_redirect(c, resp);
	else
		ndx_static_serve(c->web_dir, "console.html", resp);
	ndx_console_headers(resp);
}
