/* Unit tests for ndx-id's store (src/id/store.h) on both of its engines:
 * create and open (and their refusals), accounts (a bulk import in one
 * transaction, undone by a rollback; the hash whose cost a dummy
 * verification copies), clients round tripping, authorization requests
 * (optional state and nonce, their age), codes used up once (a replay
 * revokes the token issued from the code, and a token issued after a
 * replay is born revoked), tokens refused when unknown, expired or
 * revoked, SSO sessions expiring when idle, the failed sign-ins the
 * throttle counts, an event that disables an account applied once (its
 * sessions ended, its tokens revoked, a second delivery changing nothing,
 * a later import leaving it disabled), the purge, and what was acknowledged
 * surviving SIGKILL while a bulk import begun and never committed leaves
 * nothing.
 *
 * SQLite alone: a file that is not a database, and an id.db as the code
 * before PostgreSQL made it (its migrations 1..5 and the accounts' columns
 * added beside them) opening with its rows and going on at migration 6.
 *
 * With NDX_TEST_ENGINE=pg (the meson suite pg, make test-pg) every store is
 * a fresh schema of the PostgreSQL database NDX_TEST_PG (tests/with-postgres
 * starts one); the run adds PostgreSQL's own refusals (a password in the
 * connection string, never printed; no server; a schema without an e-ID
 * provider; a schema newer than the program), two ndx-id on one schema
 * (a code used up through one is a replay through the other), and a server
 * that stops and comes back under an open store. Without NDX_TEST_PG that
 * run is skipped (exit 77). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <jansson.h>
#include <sqlite3.h>

#include "store_engines.h"

#include "ndx/err.h"
#include "store.h"

#define NOW ((time_t)1800000000)
#define PIN_A "001099000001"
#define PIN_B "001099000002"
#define HASH_A "$argon2id$v=19$m=8192,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"
#define HASH_B "$argon2id$v=19$m=65536,t=3,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"
/* SHA-256 hex of secrets, as the caller computes them (token.h). */
#define H(c) c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c

static int try_open(const char *loc);
static int try_create(const char *loc);

static const struct store_engines ENGINES = {
	.name = "id_store", .what = "e-ID store", .schema_prefix = 'i', .db_file = "id.db",
	.holds = "e-ID provider", .try_open = try_open, .try_create = try_create,
};

static struct idstore *new_store(char *loc, size_t cap)
{
	struct idstore *st = NULL;

	new_loc(loc, cap);
	assert_int_equal(idstore_create(loc, &st), NDX_OK);
	return st;
}

static void account(struct idstore_account *a, const char *pin, const char *name,
		    const char *hash)
{
	memset(a, 0, sizeof *a);
	snprintf(a->pin, sizeof a->pin, "%s", pin);
	snprintf(a->name, sizeof a->name, "%s", name);
	snprintf(a->birthdate, sizeof a->birthdate, "1990-01-02");
	snprintf(a->gender, sizeof a->gender, "F");
	snprintf(a->password_hash, sizeof a->password_hash, "%s", hash);
}

static void put_account(struct idstore *st, const char *pin, const char *hash)
{
	struct idstore_account a;
	int created = -1;

	account(&a, pin, "Nguyễn Thị Thử", hash);
	assert_int_equal(idstore_account_put(st, &a, &created), NDX_OK);
}

static void request(struct idstore_authreq *r, int with_state)
{
	memset(r, 0, sizeof *r);
	snprintf(r->client_id, sizeof r->client_id, "portal");
	snprintf(r->redirect_uri, sizeof r->redirect_uri, "https://rp.example.vn/cb?x=1");
	snprintf(r->scope, sizeof r->scope, "openid profile");
	snprintf(r->code_challenge, sizeof r->code_challenge, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
	snprintf(r->lang, sizeof r->lang, "en");
	if (with_state) {
		r->has_state = r->has_nonce = 1;
		snprintf(r->state, sizeof r->state, "st-'\"<>");
		snprintf(r->nonce, sizeof r->nonce, "n-456");
	}
	r->created = NOW;
}

/* A code for pin issued at NOW, valid ttl seconds. */
static void put_code(struct idstore *st, const char *code_hash, const char *pin, time_t ttl,
		     const char *sid)
{
	struct idstore_code c;

	memset(&c, 0, sizeof c);
	request(&c.req, 1);
	snprintf(c.pin, sizeof c.pin, "%s", pin);
	c.auth_time = NOW - 5;
	c.exp = NOW + ttl;
	snprintf(c.sid, sizeof c.sid, "%s", sid);
	assert_int_equal(idstore_code_put(st, code_hash, &c), NDX_OK);
}

static void put_token(struct idstore *st, const char *token_hash, const char *code_hash,
		      const char *pin, time_t exp)
{
	struct idstore_token t;

	memset(&t, 0, sizeof t);
	snprintf(t.pin, sizeof t.pin, "%s", pin);
	snprintf(t.client_id, sizeof t.client_id, "portal");
	snprintf(t.scope, sizeof t.scope, "openid profile");
	t.exp = exp;
	assert_int_equal(idstore_token_put(st, token_hash, code_hash, &t), NDX_OK);
}

static int token_state(struct idstore *st, const char *token_hash, time_t now)
{
	struct idstore_token t;

	return idstore_token_get(st, token_hash, now, &t);
}

static void test_create_open(void **state)
{
	char loc[600], *v = NULL;
	struct idstore *st, *again = NULL;

	(void)state;
	st = new_store(loc, sizeof loc);
	assert_int_equal(idstore_meta_get(st, "kind", &v), NDX_OK);
	assert_string_equal(v, "ndx-id");
	free(v);
	assert_int_equal(idstore_meta_get(st, "password_cost", &v), NDX_ENOTFOUND);
	assert_null(v);
	assert_int_equal(idstore_meta_set(st, "password_cost", "min"), NDX_OK);
	assert_int_equal(idstore_meta_set(st, "password_cost", "default"), NDX_OK);
	assert_int_equal(idstore_loc_is_pg(loc), pg_base != NULL);
	assert_null(strstr(idstore_name(st), "password"));
	idstore_close(st);
	/* a second create of the same location is refused, the first untouched */
	assert_int_equal(idstore_create(loc, &again), NDX_EEXIST);
	assert_null(again);
	assert_int_equal(idstore_open(loc, &st), NDX_OK);
	assert_int_equal(idstore_meta_get(st, "password_cost", &v), NDX_OK);
	assert_string_equal(v, "default");
	free(v);
	idstore_close(st);
	/* nothing there */
	new_loc(loc, sizeof loc);
	assert_int_equal(idstore_open(loc, &st), NDX_EIO);
	assert_null(st);
	idstore_close(NULL);
}

static void test_accounts(void **state)
{
	char loc[600], hash[NDX_PASSWORD_HASH_MAX];
	struct idstore *st = new_store(loc, sizeof loc);
	struct idstore_account a, got;
	int created = -1;

	(void)state;
	assert_int_equal(idstore_account_any_hash(st, hash), NDX_ENOTFOUND);
	assert_int_equal(idstore_account_get(st, PIN_A, &got), NDX_ENOTFOUND);
	account(&a, PIN_A, "Nguyễn Thị Thử", HASH_A);
	assert_int_equal(idstore_account_put(st, &a, &created), NDX_OK);
	assert_int_equal(created, 1);
	assert_int_equal(idstore_account_get(st, PIN_A, &got), NDX_OK);
	assert_string_equal(got.pin, PIN_A);
	assert_string_equal(got.name, "Nguyễn Thị Thử");
	assert_string_equal(got.birthdate, "1990-01-02");
	assert_string_equal(got.gender, "F");
	assert_string_equal(got.password_hash, HASH_A);
	assert_string_equal(got.disabled_reason, "");
	assert_string_equal(got.disabled_on, "");
	assert_int_equal(idstore_account_any_hash(st, hash), NDX_OK);
	assert_string_equal(hash, HASH_A);
	/* a bulk import: in one transaction, updates and new accounts */
	assert_int_equal(idstore_begin(st), NDX_OK);
	account(&a, PIN_A, "Nguyễn Thị Mới", HASH_B);
	assert_int_equal(idstore_account_put(st, &a, &created), NDX_OK);
	assert_int_equal(created, 0);
	assert_int_equal(idstore_commit(st), NDX_OK);
	assert_int_equal(idstore_account_get(st, PIN_A, &got), NDX_OK);
	assert_string_equal(got.name, "Nguyễn Thị Mới");
	assert_string_equal(got.password_hash, HASH_B);
	/* a rolled back import leaves nothing */
	assert_int_equal(idstore_begin(st), NDX_OK);
	put_account(st, PIN_B, HASH_A);
	idstore_rollback(st);
	assert_int_equal(idstore_account_get(st, PIN_B, &got), NDX_ENOTFOUND);
	idstore_close(st);
}

static void test_clients(void **state)
{
	char loc[600];
	struct idstore *st = new_store(loc, sizeof loc);
	struct idstore_client c = { 0 }, got;
	int created = -1;

	(void)state;
	assert_int_equal(idstore_client_get(st, "portal", &got), NDX_ENOTFOUND);
	assert_null(got.redirect_uris);
	snprintf(c.client_id, sizeof c.client_id, "portal");
	snprintf(c.secret_sha256, sizeof c.secret_sha256, H("a"));
	c.redirect_uris = json_pack("[ss]", "https://rp.example.vn/cb", "https://rp.example.vn/cb2");
	c.post_logout_uris = json_array();
	snprintf(c.name, sizeof c.name, "Cổng dịch vụ công");
	assert_int_equal(idstore_client_put(st, &c, &created), NDX_OK);
	assert_int_equal(created, 1);
	assert_int_equal(idstore_client_get(st, "portal", &got), NDX_OK);
	assert_string_equal(got.secret_sha256, H("a"));
	assert_true(json_equal(got.redirect_uris, c.redirect_uris));
	assert_int_equal(json_array_size(got.post_logout_uris), 0);
	assert_string_equal(got.id_token_alg, "EdDSA");
	assert_string_equal(got.name, "Cổng dịch vụ công");
	assert_string_equal(got.name_en, "");
	assert_true(idstore_uri_listed(got.redirect_uris, "https://rp.example.vn/cb2"));
	assert_false(idstore_uri_listed(got.redirect_uris, "https://rp.example.vn/CB2"));
	idstore_client_clear(&got);
	/* replaced: a new secret, algorithm and names */
	snprintf(c.secret_sha256, sizeof c.secret_sha256, H("b"));
	snprintf(c.id_token_alg, sizeof c.id_token_alg, "RS256");
	snprintf(c.name_en, sizeof c.name_en, "Public services portal");
	json_array_append_new(c.post_logout_uris, json_string("https://rp.example.vn/out"));
	assert_int_equal(idstore_client_put(st, &c, &created), NDX_OK);
	assert_int_equal(created, 0);
	assert_int_equal(idstore_client_get(st, "portal", &got), NDX_OK);
	assert_string_equal(got.secret_sha256, H("b"));
	assert_string_equal(got.id_token_alg, "RS256");
	assert_string_equal(got.name_en, "Public services portal");
	assert_true(idstore_uri_listed(got.post_logout_uris, "https://rp.example.vn/out"));
	idstore_client_clear(&got);
	idstore_client_clear(&c);
	idstore_close(st);
}

static void test_authreqs(void **state)
{
	char loc[600];
	struct idstore *st = new_store(loc, sizeof loc);
	struct idstore_authreq r, got;

	(void)state;
	request(&r, 1);
	assert_int_equal(idstore_authreq_put(st, H("1"), &r), NDX_OK);
	request(&r, 0);
	assert_int_equal(idstore_authreq_put(st, H("2"), &r), NDX_OK);
	/* a transaction id is never reused */
	assert_int_equal(idstore_authreq_put(st, H("2"), &r), NDX_EEXIST);
	assert_int_equal(idstore_authreq_get(st, H("1"), NOW + 10, 600, &got), NDX_OK);
	assert_true(got.has_state && got.has_nonce);
	assert_string_equal(got.state, "st-'\"<>");
	assert_string_equal(got.nonce, "n-456");
	assert_string_equal(got.redirect_uri, "https://rp.example.vn/cb?x=1");
	assert_string_equal(got.lang, "en");
	assert_int_equal(got.created, NOW);
	assert_int_equal(idstore_authreq_get(st, H("2"), NOW + 10, 600, &got), NDX_OK);
	assert_false(got.has_state);
	assert_false(got.has_nonce);
	/* too old, unknown, deleted */
	assert_int_equal(idstore_authreq_get(st, H("1"), NOW + 601, 600, &got), NDX_ENOTFOUND);
	assert_int_equal(idstore_authreq_get(st, H("3"), NOW, 600, &got), NDX_ENOTFOUND);
	assert_int_equal(idstore_authreq_delete(st, H("1")), NDX_OK);
	assert_int_equal(idstore_authreq_get(st, H("1"), NOW, 600, &got), NDX_ENOTFOUND);
	idstore_close(st);
}

static void test_codes_and_tokens(void **state)
{
	char loc[600];
	struct idstore *st = new_store(loc, sizeof loc);
	struct idstore_code got;

	(void)state;
	put_code(st, H("c"), PIN_A, 60, H("5"));
	assert_int_equal(idstore_code_redeem(st, H("x"), NOW, &got), NDX_ENOTFOUND);
	assert_int_equal(idstore_code_redeem(st, H("c"), NOW + 1, &got), NDX_OK);
	assert_string_equal(got.pin, PIN_A);
	assert_string_equal(got.sid, H("5"));
	assert_int_equal(got.auth_time, NOW - 5);
	assert_int_equal(got.exp, NOW + 60);
	assert_string_equal(got.req.state, "st-'\"<>");
	put_token(st, H("t"), H("c"), PIN_A, NOW + 600);
	assert_int_equal(token_state(st, H("t"), NOW + 2), NDX_OK);
	/* a replay: refused, and the token issued from the code revoked */
	assert_int_equal(idstore_code_redeem(st, H("c"), NOW + 3, &got), NDX_EEXIST);
	assert_int_equal(token_state(st, H("t"), NOW + 4), NDX_EREVOKED);
	/* a replay before the token was recorded: the token is born revoked */
	put_code(st, H("d"), PIN_A, 60, "");
	assert_int_equal(idstore_code_redeem(st, H("d"), NOW + 1, &got), NDX_OK);
	assert_string_equal(got.sid, "");
	assert_int_equal(idstore_code_redeem(st, H("d"), NOW + 2, &got), NDX_EEXIST);
	put_token(st, H("u"), H("d"), PIN_A, NOW + 600);
	assert_int_equal(token_state(st, H("u"), NOW + 3), NDX_EREVOKED);
	/* an expired code is used up all the same */
	put_code(st, H("e"), PIN_A, 60, "");
	assert_int_equal(idstore_code_redeem(st, H("e"), NOW + 61, &got), NDX_EEXPIRED);
	assert_int_equal(idstore_code_redeem(st, H("e"), NOW + 2, &got), NDX_EEXIST);
	/* tokens: unknown, expired */
	put_code(st, H("f"), PIN_B, 60, "");
	assert_int_equal(idstore_code_redeem(st, H("f"), NOW, &got), NDX_OK);
	put_token(st, H("v"), H("f"), PIN_B, NOW + 600);
	assert_int_equal(token_state(st, H("w"), NOW), NDX_ENOTFOUND);
	assert_int_equal(token_state(st, H("v"), NOW + 601), NDX_EEXPIRED);
	assert_int_equal(token_state(st, H("v"), NOW + 600), NDX_OK);
	idstore_close(st);
}

static void test_sessions(void **state)
{
	char loc[600], pin[NDX_PIN_LEN + 1];
	struct idstore *st = new_store(loc, sizeof loc);
	time_t at = 0;

	(void)state;
	assert_int_equal(idstore_session_put(st, H("s"), PIN_A, NOW), NDX_OK);
	assert_int_equal(idstore_session_use(st, H("s"), NOW + 1000, 1800, pin, &at), NDX_OK);
	assert_string_equal(pin, PIN_A);
	assert_int_equal(at, NOW);
	/* refreshed at NOW + 1000: alive at NOW + 2800, not after */
	assert_int_equal(idstore_session_use(st, H("s"), NOW + 2800, 1800, pin, &at), NDX_OK);
	assert_int_equal(idstore_session_use(st, H("s"), NOW + 4601, 1800, pin, &at),
			 NDX_ENOTFOUND);
	assert_string_equal(pin, "");
	assert_int_equal(idstore_session_put(st, H("r"), PIN_B, NOW), NDX_OK);
	assert_int_equal(idstore_session_end(st, H("r")), NDX_OK);
	assert_int_equal(idstore_session_use(st, H("r"), NOW, 1800, pin, &at), NDX_ENOTFOUND);
	assert_int_equal(idstore_session_use(st, H("q"), NOW, 1800, pin, &at), NDX_ENOTFOUND);
	idstore_close(st);
}

static void test_signin_failures(void **state)
{
	char loc[600];
	struct idstore *st = new_store(loc, sizeof loc);
	struct signin_counts n;

	(void)state;
	assert_int_equal(idstore_signin_counts(st, PIN_A, "198.51.100.7", NOW - 900, &n), NDX_OK);
	assert_int_equal(n.source + n.account + n.pair, 0);
	assert_int_equal(idstore_signin_failed(st, PIN_A, "198.51.100.7", NOW - 1000), NDX_OK);
	assert_int_equal(idstore_signin_failed(st, PIN_A, "198.51.100.7", NOW - 10), NDX_OK);
	assert_int_equal(idstore_signin_failed(st, PIN_A, "198.51.100.7", NOW - 5), NDX_OK);
	assert_int_equal(idstore_signin_failed(st, PIN_A, "203.0.113.9", NOW - 3), NDX_OK);
	assert_int_equal(idstore_signin_failed(st, PIN_B, "198.51.100.7", NOW - 1), NDX_OK);
	assert_int_equal(idstore_signin_counts(st, PIN_A, "198.51.100.7", NOW - 900, &n), NDX_OK);
	assert_int_equal(n.source, 3);
	assert_int_equal(n.source_last, NOW - 1);
	assert_int_equal(n.account, 3);
	assert_int_equal(n.account_last, NOW - 3);
	assert_int_equal(n.pair, 2);
	/* a success from a source forgets the account's failures from it only */
	idstore_signin_ok(st, PIN_A, "198.51.100.7");
	assert_int_equal(idstore_signin_counts(st, PIN_A, "198.51.100.7", NOW - 900, &n), NDX_OK);
	assert_int_equal(n.source, 1);
	assert_int_equal(n.account, 1);
	assert_int_equal(n.pair, 0);
	idstore_close(st);
}

static void test_event_disable_once(void **state)
{
	char loc[600], pin[NDX_PIN_LEN + 1];
	struct idstore *st = new_store(loc, sizeof loc);
	enum idstore_event_result res;
	struct idstore_account got;
	struct idstore_code code;
	time_t at;

	(void)state;
	put_account(st, PIN_A, HASH_A);
	put_account(st, PIN_B, HASH_A);
	assert_int_equal(idstore_session_put(st, H("s"), PIN_A, NOW), NDX_OK);
	assert_int_equal(idstore_session_put(st, H("r"), PIN_B, NOW), NDX_OK);
	put_code(st, H("c"), PIN_A, 60, "");
	assert_int_equal(idstore_code_redeem(st, H("c"), NOW, &code), NDX_OK);
	put_token(st, H("t"), H("c"), PIN_A, NOW + 600);
	put_code(st, H("d"), PIN_B, 60, "");
	assert_int_equal(idstore_code_redeem(st, H("d"), NOW, &code), NDX_OK);
	put_token(st, H("u"), H("d"), PIN_B, NOW + 600);

	assert_int_equal(idstore_event_disable(st, "ev-1", "death-registered", PIN_A, "deceased",
					       "2026-11-30", NOW, &res),
			 NDX_OK);
	assert_int_equal(res, IDSTORE_EVENT_CHANGED);
	assert_int_equal(idstore_account_get(st, PIN_A, &got), NDX_OK);
	assert_string_equal(got.disabled_reason, "deceased");
	assert_string_equal(got.disabled_on, "2026-11-30");
	assert_int_equal(idstore_session_use(st, H("s"), NOW + 1, 1800, pin, &at), NDX_ENOTFOUND);
	assert_int_equal(token_state(st, H("t"), NOW + 1), NDX_EREVOKED);
	/* the other citizen is untouched */
	assert_int_equal(idstore_session_use(st, H("r"), NOW + 1, 1800, pin, &at), NDX_OK);
	assert_int_equal(token_state(st, H("u"), NOW + 1), NDX_OK);
	/* the same event id again changes nothing, whichever citizen it names */
	assert_int_equal(idstore_event_disable(st, "ev-1", "death-registered", PIN_B, "deceased",
					       "2026-12-01", NOW, &res),
			 NDX_OK);
	assert_int_equal(res, IDSTORE_EVENT_SEEN);
	assert_int_equal(token_state(st, H("u"), NOW + 1), NDX_OK);
	/* another event for the same citizen: already disabled, the date kept */
	assert_int_equal(idstore_event_disable(st, "ev-2", "death-registered", PIN_A, "deceased",
					       "2026-12-01", NOW, &res),
			 NDX_OK);
	assert_int_equal(res, IDSTORE_EVENT_UNCHANGED);
	assert_int_equal(idstore_event_disable(st, "ev-3", "death-registered", "079199000009",
					       "deceased", "2026-12-01", NOW, &res),
			 NDX_OK);
	assert_int_equal(res, IDSTORE_EVENT_NO_ACCOUNT);
	assert_int_equal(idstore_event_disable(st, "ev-3", "death-registered", PIN_B, "deceased",
					       "2026-12-01", NOW, &res),
			 NDX_OK);
	assert_int_equal(res, IDSTORE_EVENT_SEEN);
	/* an import again leaves the account disabled */
	put_account(st, PIN_A, HASH_B);
	assert_int_equal(idstore_account_get(st, PIN_A, &got), NDX_OK);
	assert_string_equal(got.password_hash, HASH_B);
	assert_string_equal(got.disabled_reason, "deceased");
	assert_string_equal(got.disabled_on, "2026-11-30");
	idstore_close(st);
}

static void test_purge(void **state)
{
	char loc[600], pin[NDX_PIN_LEN + 1];
	struct idstore *st = new_store(loc, sizeof loc);
	struct idstore_authreq r, got;
	struct idstore_code code;
	struct signin_counts n;
	time_t later = NOW + 7200, at;

	(void)state;
	request(&r, 1);
	assert_int_equal(idstore_authreq_put(st, H("1"), &r), NDX_OK);
	r.created = later - 10;
	assert_int_equal(idstore_authreq_put(st, H("2"), &r), NDX_OK);
	put_code(st, H("c"), PIN_A, 60, "");			/* exp NOW + 60 */
	put_code(st, H("d"), PIN_A, 7200, "");			/* exp later */
	assert_int_equal(idstore_code_redeem(st, H("c"), NOW, &code), NDX_OK);
	put_token(st, H("t"), H("c"), PIN_A, NOW + 60);
	put_token(st, H("u"), H("c"), PIN_A, later);
	assert_int_equal(idstore_session_put(st, H("s"), PIN_A, NOW), NDX_OK);
	assert_int_equal(idstore_session_put(st, H("r"), PIN_A, later - 100), NDX_OK);
	assert_int_equal(idstore_signin_failed(st, PIN_A, "198.51.100.7", NOW), NDX_OK);
	assert_int_equal(idstore_signin_failed(st, PIN_A, "198.51.100.7", later - 5), NDX_OK);
	idstore_purge(st, later, 600, 1800, 900);
	assert_int_equal(idstore_authreq_get(st, H("1"), NOW, 1000000, &got), NDX_ENOTFOUND);
	assert_int_equal(idstore_authreq_get(st, H("2"), later, 600, &got), NDX_OK);
	assert_int_equal(idstore_code_redeem(st, H("c"), later, &code), NDX_ENOTFOUND);
	assert_int_equal(idstore_code_redeem(st, H("d"), later, &code), NDX_OK);
	assert_int_equal(token_state(st, H("t"), NOW), NDX_ENOTFOUND);
	assert_int_equal(token_state(st, H("u"), NOW), NDX_OK);
	assert_int_equal(idstore_session_use(st, H("s"), NOW, 1000000, pin, &at), NDX_ENOTFOUND);
	assert_int_equal(idstore_session_use(st, H("r"), later, 1800, pin, &at), NDX_OK);
	assert_int_equal(idstore_signin_counts(st, PIN_A, "198.51.100.7", 0, &n), NDX_OK);
	assert_int_equal(n.pair, 1);
	idstore_close(st);
}

/* In the process to be killed: a code used up and an account disabled,
 * both acknowledged; then an import begun and never committed. */
static int kill9_child(const char *loc, int fd)
{
	struct idstore *st = NULL;
	struct idstore_code code;
	enum idstore_event_result res;
	struct idstore_account a;
	int created;

	if (idstore_open(loc, &st) || idstore_code_redeem(st, H("c"), NOW, &code) ||
	    idstore_event_disable(st, "ev-k", "death-registered", PIN_A, "deceased", "2026-11-30",
				  NOW, &res) ||
	    res != IDSTORE_EVENT_CHANGED || idstore_begin(st))
		return 1;
	account(&a, PIN_B, "Chưa ghi", HASH_A);
	if (idstore_account_put(st, &a, &created))
		return 1;
	return write(fd, "k", 1) != 1;
}

static void test_kill9_keeps_acknowledged(void **state)
{
	char loc[600];
	struct idstore *st = new_store(loc, sizeof loc);
	struct idstore_account got;
	struct idstore_code code;
	enum idstore_event_result res;

	(void)state;
	put_account(st, PIN_A, HASH_A);
	put_code(st, H("c"), PIN_A, 60, "");
	idstore_close(st);
	run_killed(loc, kill9_child, 0);
	assert_int_equal(idstore_open(loc, &st), NDX_OK);
	/* the code stays used up: its use again is a replay */
	assert_int_equal(idstore_code_redeem(st, H("c"), NOW, &code), NDX_EEXIST);
	assert_int_equal(idstore_account_get(st, PIN_A, &got), NDX_OK);
	assert_string_equal(got.disabled_reason, "deceased");
	assert_int_equal(idstore_event_disable(st, "ev-k", "death-registered", PIN_A, "deceased",
					       "2026-11-30", NOW, &res),
			 NDX_OK);
	assert_int_equal(res, IDSTORE_EVENT_SEEN);
	/* the import never committed left nothing */
	assert_int_equal(idstore_account_get(st, PIN_B, &got), NDX_ENOTFOUND);
	put_account(st, PIN_B, HASH_A);
	assert_int_equal(idstore_account_get(st, PIN_B, &got), NDX_OK);
	idstore_close(st);
}

/* ndx-id's SQLite migrations 1..5 as the code before PostgreSQL ran them,
 * with the accounts' columns it added beside them: an id.db it made. */
static const char *const OLD_MIGRATIONS[] = {
	"CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"CREATE TABLE accounts(pin TEXT PRIMARY KEY, password_hash TEXT NOT NULL,"
	" name TEXT NOT NULL, birthdate TEXT NOT NULL, gender TEXT NOT NULL,"
	" updated_at INTEGER NOT NULL);"
	"CREATE TABLE clients(client_id TEXT PRIMARY KEY, secret_sha256 TEXT NOT NULL,"
	" redirect_uris TEXT NOT NULL, post_logout_uris TEXT NOT NULL,"
	" updated_at INTEGER NOT NULL);"
	"CREATE TABLE authreqs(tx_hash TEXT PRIMARY KEY, client_id TEXT NOT NULL,"
	" redirect_uri TEXT NOT NULL, scope TEXT NOT NULL, state TEXT, nonce TEXT,"
	" code_challenge TEXT NOT NULL, lang TEXT NOT NULL, created INTEGER NOT NULL);"
	"CREATE INDEX authreqs_created ON authreqs(created);"
	"CREATE TABLE codes(code_hash TEXT PRIMARY KEY, client_id TEXT NOT NULL,"
	" redirect_uri TEXT NOT NULL, scope TEXT NOT NULL, state TEXT, nonce TEXT,"
	" code_challenge TEXT NOT NULL, pin TEXT NOT NULL, auth_time INTEGER NOT NULL,"
	" created INTEGER NOT NULL, exp INTEGER NOT NULL,"
	" used INTEGER NOT NULL DEFAULT 0, replayed INTEGER NOT NULL DEFAULT 0,"
	" token_hash TEXT);"
	"CREATE INDEX codes_exp ON codes(exp);"
	"CREATE TABLE tokens(token_hash TEXT PRIMARY KEY, pin TEXT NOT NULL,"
	" client_id TEXT NOT NULL, scope TEXT NOT NULL, exp INTEGER NOT NULL,"
	" revoked INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX tokens_exp ON tokens(exp);"
	"CREATE TABLE sessions(sid_hash TEXT PRIMARY KEY, pin TEXT NOT NULL,"
	" auth_time INTEGER NOT NULL, last_seen INTEGER NOT NULL);"
	"CREATE INDEX sessions_seen ON sessions(last_seen);"
	"CREATE TABLE login_failures(key TEXT NOT NULL, at INTEGER NOT NULL);"
	"CREATE INDEX login_failures_key ON login_failures(key, at);"
	"CREATE TABLE lockouts(key TEXT PRIMARY KEY, until INTEGER NOT NULL);",
	"DROP TABLE login_failures; DROP TABLE lockouts;"
	"CREATE TABLE signin_failures(account TEXT NOT NULL, source TEXT NOT NULL,"
	" at INTEGER NOT NULL);"
	"CREATE INDEX signin_failures_account ON signin_failures(account, at);"
	"CREATE INDEX signin_failures_source ON signin_failures(source, at);",
	"ALTER TABLE clients ADD COLUMN id_token_alg TEXT NOT NULL DEFAULT 'EdDSA';"
	"ALTER TABLE codes ADD COLUMN sid TEXT;",
	"CREATE TABLE IF NOT EXISTS events_applied(id TEXT PRIMARY KEY, name TEXT NOT NULL,"
	" applied_at INTEGER NOT NULL, effect TEXT NOT NULL);"
	"ALTER TABLE accounts ADD COLUMN disabled_reason TEXT;"
	"ALTER TABLE accounts ADD COLUMN disabled_on TEXT;",
	"ALTER TABLE clients ADD COLUMN client_name TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE clients ADD COLUMN client_name_en TEXT NOT NULL DEFAULT '';",
};

static int64_t sqlite_int(const char *path, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *s;
	int64_t v = -1;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

static void test_sqlite_opens_an_older_id_db(void **state)
{
	char loc[600], hash[NDX_PASSWORD_HASH_MAX], pin[NDX_PIN_LEN + 1];
	struct idstore *st = NULL;
	struct idstore_client c;
	struct idstore_account a;
	enum idstore_event_result res;
	time_t at;
	sqlite3 *db;

	(void)state;
	new_loc(loc, sizeof loc);
	assert_int_equal(sqlite3_open(loc, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE schema_migrations(version INTEGER PRIMARY KEY,"
					  " applied_at TEXT NOT NULL)",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	for (size_t i = 0; i < sizeof OLD_MIGRATIONS / sizeof *OLD_MIGRATIONS; i++) {
		char rec[120];
		assert_int_equal(sqlite3_exec(db, OLD_MIGRATIONS[i], NULL, NULL, NULL), SQLITE_OK);
		snprintf(rec, sizeof rec,
			 "INSERT INTO schema_migrations VALUES(%zu, '2026-06-01T00:00:00Z')", i + 1);
		assert_int_equal(sqlite3_exec(db, rec, NULL, NULL, NULL), SQLITE_OK);
	}
	assert_int_equal(
		sqlite3_exec(db,
			     "INSERT INTO meta VALUES('kind', 'ndx-id'), ('password_cost', 'min');"
			     "INSERT INTO accounts VALUES('" PIN_A "', '" HASH_A "', 'Cũ', '1980-05-06',"
			     " 'M', 1700000000, NULL, NULL);"
			     "INSERT INTO clients VALUES('portal', '" H("a") "',"
			     " '[\"https://rp.example.vn/cb\"]', '[]', 1700000000, 'RS256', 'Cổng', '');"
			     "INSERT INTO sessions VALUES('" H("s") "', '" PIN_A "', 1799999000,"
			     " 1799999000);",
			     NULL, NULL, NULL),
		SQLITE_OK);
	sqlite3_close(db);

	assert_int_equal(idstore_open(loc, &st), NDX_OK);
	assert_int_equal(sqlite_int(loc, "SELECT max(version) FROM schema_migrations"), 6);
	assert_int_equal(idstore_account_get(st, PIN_A, &a), NDX_OK);
	assert_string_equal(a.name, "Cũ");
	assert_int_equal(idstore_account_any_hash(st, hash), NDX_OK);
	assert_string_equal(hash, HASH_A);
	assert_int_equal(idstore_client_get(st, "portal", &c), NDX_OK);
	assert_string_equal(c.id_token_alg, "RS256");
	assert_true(idstore_uri_listed(c.redirect_uris, "https://rp.example.vn/cb"));
	idstore_client_clear(&c);
	assert_int_equal(idstore_session_use(st, H("s"), NOW, 1800, pin, &at), NDX_OK);
	assert_string_equal(pin, PIN_A);
	assert_int_equal(idstore_event_disable(st, "ev-old", "death-registered", PIN_A, "deceased",
					       "2026-11-30", NOW, &res),
			 NDX_OK);
	assert_int_equal(res, IDSTORE_EVENT_CHANGED);
	idstore_close(st);
	/* and again: nothing more to do */
	assert_int_equal(idstore_open(loc, &st), NDX_OK);
	assert_int_equal(sqlite_int(loc, "SELECT count(*) FROM schema_migrations"), 6);
	idstore_close(st);
}

/* A database whose kind is not ndx-id is refused. */
static void test_sqlite_not_ndx_id(void **state)
{
	char loc[600];
	struct idstore *st = new_store(loc, sizeof loc);
	const char *msg;
	sqlite3 *db;
	int rc;

	(void)state;
	idstore_close(st);
	assert_int_equal(sqlite3_open(loc, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "UPDATE meta SET value = 'ndx-other' WHERE key = 'kind'",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	msg = stderr_of(try_open, loc, &rc);
	assert_int_equal(rc, NDX_EDB);
	assert_non_null(strstr(msg, "not an ndx-id database"));
}

static int try_open(const char *loc)
{
	struct idstore *st = NULL;
	int rc = idstore_open(loc, &st);
	idstore_close(st);
	return rc;
}

static int try_create(const char *loc)
{
	struct idstore *st = NULL;
	int rc = idstore_create(loc, &st);
	idstore_close(st);
	return rc;
}

static void test_pg_refusals(void **state)
{
	char loc[600];

	(void)state;
	/* a password, no server, a schema without an e-ID provider */
	pg_refusals(loc, sizeof loc);
	assert_int_equal(try_create(loc), NDX_OK);
	assert_int_equal(try_create(loc), NDX_EEXIST);
	assert_int_equal(try_open(loc), NDX_OK);
	/* a schema newer than this program */
	pg_refuses_newer(loc);
}

/* Two ndx-id on one schema (no serve lock: nothing is held in memory): a
 * code used up through one is a replay through the other, which revokes
 * the token the first recorded; a failure noted by one counts in the
 * other. */
static void test_pg_two_processes(void **state)
{
	char loc[600];
	struct idstore *a = new_store(loc, sizeof loc), *b = NULL;
	struct idstore_code code;
	struct signin_counts n;

	(void)state;
	assert_int_equal(idstore_open(loc, &b), NDX_OK);
	put_code(a, H("c"), PIN_A, 60, "");
	assert_int_equal(idstore_code_redeem(a, H("c"), NOW, &code), NDX_OK);
	put_token(a, H("t"), H("c"), PIN_A, NOW + 600);
	assert_int_equal(idstore_code_redeem(b, H("c"), NOW, &code), NDX_EEXIST);
	assert_int_equal(token_state(a, H("t"), NOW), NDX_EREVOKED);
	assert_int_equal(idstore_signin_failed(a, PIN_A, "198.51.100.7", NOW), NDX_OK);
	assert_int_equal(idstore_signin_counts(b, PIN_A, "198.51.100.7", NOW - 1, &n), NDX_OK);
	assert_int_equal(n.pair, 1);
	idstore_close(b);
	idstore_close(a);
}

/* The server stops under an open store: calls fail with NDX_EDB, nothing
 * crashes; once it is back the store goes on by itself on a new session. */
static void test_pg_server_stopped(void **state)
{
	char loc[600];
	struct idstore *st = new_store(loc, sizeof loc);
	struct idstore_account got;

	(void)state;
	put_account(st, PIN_A, HASH_A);
	pg_ctl("NDX_TEST_PG_STOP");
	assert_int_equal(idstore_account_get(st, PIN_A, &got), NDX_EDB);
	assert_int_equal(idstore_session_put(st, H("s"), PIN_A, NOW), NDX_EDB);
	pg_ctl("NDX_TEST_PG_START");
	assert_int_equal(idstore_account_get(st, PIN_A, &got), NDX_OK);
	assert_int_equal(idstore_session_put(st, H("s"), PIN_A, NOW), NDX_OK);
	idstore_close(st);
}

int main(void)
{
	const struct CMUnitTest both[] = {
		cmocka_unit_test(test_create_open),
		cmocka_unit_test(test_accounts),
		cmocka_unit_test(test_clients),
		cmocka_unit_test(test_authreqs),
		cmocka_unit_test(test_codes_and_tokens),
		cmocka_unit_test(test_sessions),
		cmocka_unit_test(test_signin_failures),
		cmocka_unit_test(test_event_disable_once),
		cmocka_unit_test(test_purge),
		cmocka_unit_test(test_kill9_keeps_acknowledged),
	};
	const struct CMUnitTest sqlite_only[] = {
		cmocka_unit_test(test_sqlite_garbage),
		cmocka_unit_test(test_sqlite_opens_an_older_id_db),
		cmocka_unit_test(test_sqlite_not_ndx_id),
	};
	/* The server stops last: nothing else runs while it is down. */
	const struct CMUnitTest pg_only[] = {
		cmocka_unit_test(test_pg_refusals),
		cmocka_unit_test(test_pg_two_processes),
		cmocka_unit_test(test_pg_server_stopped),
	};

	return STORE_ENGINES_MAIN(&ENGINES, both, sqlite_only, pg_only);
}
