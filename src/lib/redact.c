/* Keyed pseudonyms for PINs in log lines (include/ndx/redact.h): a run of
 * exactly 12 digits becomes "pin:" + 12 hex digits of HMAC-SHA-256 under the
 * process's log key. The key lives in one process-wide slot: log lines are
 * written from every thread of a daemon, and the key is set once at start
 * (ndx_redact_load_key) or made at random on first use. 48 bits of tag are
 * enough to correlate the lines of one person among millions without
 * collisions that matter; without the key, a tag cannot be turned back into
 * the PIN even though there are only 10^12 PINs. Overview: docs/security.md. */
#include "ndx/redact.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "ndx/err.h"
#include "ndx/file.h"

#define PIN_DIGITS 12
#define TAG_HEX 12

static uint8_t log_key[NDX_REDACT_KEY_LEN];
static int key_set;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
/* Bumped when ndx_redact_load_key changes the key (pin_tag's contexts). */
static _Atomic unsigned key_gen = 1;

static void random_key(void)
{
	if (!key_set && RAND_bytes(log_key, sizeof log_key) == 1)
		key_set = 1;
}

static int hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static int parse_key(const char *text, size_t len, uint8_t key[NDX_REDACT_KEY_LEN])
{
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		len--;
	if (len != 2 * NDX_REDACT_KEY_LEN)
		return NDX_EINVAL;
	for (size_t i = 0; i < NDX_REDACT_KEY_LEN; i++) {
		int hi = hex_value((unsigned char)text[2 * i]);
		int lo = hex_value((unsigned char)text[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return NDX_EINVAL;
		key[i] = (uint8_t)(hi << 4 | lo);
	}
	return NDX_OK;
}

static int make_key(const char *path, uint8_t key[NDX_REDACT_KEY_LEN])
{
	char hex[2 * NDX_REDACT_KEY_LEN + 2];
	int rc;

	if (RAND_bytes(key, NDX_REDACT_KEY_LEN) != 1)
		return NDX_ECRYPTO;
	for (size_t i = 0; i < NDX_REDACT_KEY_LEN; i++)
		snprintf(hex + 2 * i, 3, "%02x", key[i]);
	hex[2 * NDX_REDACT_KEY_LEN] = '\n';
	hex[2 * NDX_REDACT_KEY_LEN + 1] = '\0';
	rc = ndx_file_write_atomic(path, hex, 2 * NDX_REDACT_KEY_LEN + 1, 0600, 1);
	OPENSSL_cleanse(hex, sizeof hex);
	return rc == NDX_EEXIST ? NDX_EIO : rc;
}

int ndx_redact_load_key(const char *path)
{
	uint8_t key[NDX_REDACT_KEY_LEN];
	char *text = NULL;
	size_t len = 0;
	int rc;

	if (access(path, F_OK) != 0 && errno == ENOENT) {
		rc = make_key(path, key);
	} else if ((rc = ndx_file_read(path, 4 * NDX_REDACT_KEY_LEN, &text, &len)) == NDX_OK) {
		rc = parse_key(text, len, key);
		OPENSSL_cleanse(text, len);
	} else if (rc == NDX_ETOOBIG) {
		rc = NDX_EINVAL;
	}
	free(text);
	if (rc == NDX_OK) {
		memcpy(log_key, key, sizeof log_key);
		key_set = 1;
		atomic_fetch_add(&key_gen, 1);
	}
	OPENSSL_cleanse(key, sizeof key);
	return rc;
}

/* Each thread keeps an HMAC context keyed once: OpenSSL 3's one-shot
 * HMAC() fetched the algorithm and the digest and keyed a new context for
 * every tag, seven times the CPU of this (bench/README.md "CPU cuts
 * (2026-12-03 session 2)"). key_gen tells a thread's context that
 * ndx_redact_load_key changed the key. Freed when the thread ends. */
struct tag_mac {
	EVP_MAC_CTX *ctx;
	unsigned gen;
};

static EVP_MAC *hmac_alg;
static pthread_key_t mac_tls;
static int mac_tls_ok;
static pthread_once_t mac_once = PTHREAD_ONCE_INIT;

static void tag_mac_free(void *p)
{
	struct tag_mac *t = p;

	if (t) {
		EVP_MAC_CTX_free(t->ctx);
		free(t);
	}
}

static void mac_setup(void)
{
	hmac_alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
	mac_tls_ok = pthread_key_create(&mac_tls, tag_mac_free) == 0;
}

/* This thread's context, ready for the data; NULL when OpenSSL fails. */
static EVP_MAC_CTX *thread_mac(void)
{
	struct tag_mac *t;
	unsigned gen = atomic_load(&key_gen);

	pthread_once(&mac_once, mac_setup);
	if (!hmac_alg || !mac_tls_ok)
		return NULL;
	t = pthread_getspecific(mac_tls);
	if (!t) {
		if (!(t = calloc(1, sizeof *t)))
			return NULL;
		if (pthread_setspecific(mac_tls, t) != 0) {
			free(t);
			return NULL;
		}
	}
	if (t->ctx && t->gen == gen)
		/* The same key: HMAC re-initialised from its keyed state. */
		return EVP_MAC_init(t->ctx, NULL, 0, NULL) ? t->ctx : NULL;
	EVP_MAC_CTX_free(t->ctx);
	t->ctx = EVP_MAC_CTX_new(hmac_alg);
	OSSL_PARAM params[] = { OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
				OSSL_PARAM_construct_end() };
	if (!t->ctx || !EVP_MAC_init(t->ctx, log_key, sizeof log_key, params)) {
		EVP_MAC_CTX_free(t->ctx);
		t->ctx = NULL;
		return NULL;
	}
	t->gen = gen;
	return t->ctx;
}

/* The tag of the 12 digits at p into tag (NDX_REDACT_TAG_LEN + 1 bytes). */
static void pin_tag(const char *p, char *tag)
{
	uint8_t mac[EVP_MAX_MD_SIZE];
	size_t mac_len = 0;
	EVP_MAC_CTX *ctx;

	pthread_once(&key_once, random_key);
	if (!key_set || !(ctx = thread_mac()) ||
	    !EVP_MAC_update(ctx, (const unsigned char *)p, PIN_DIGITS) ||
	    !EVP_MAC_final(ctx, mac, &mac_len, sizeof mac) || mac_len < TAG_HEX / 2) {
		/* No key and no randomness: hide the number rather than
		 * print it. */
		snprintf(tag, NDX_REDACT_TAG_LEN + 1, "pin:????????????");
		return;
	}
	memcpy(tag, "pin:", 4);
	for (size_t i = 0; i < TAG_HEX / 2; i++) {
		static const char hex[] = "0123456789abcdef";

		tag[4 + 2 * i] = hex[mac[i] >> 4];
		tag[5 + 2 * i] = hex[mac[i] & 0xf];
	}
	tag[NDX_REDACT_TAG_LEN] = '\0';
}

static size_t digit_run(const char *s)
{
	size_t n = 0;

	while (s[n] >= '0' && s[n] <= '9')
		n++;
	return n;
}

size_t ndx_redact_pins(const char *in, char *out, size_t cap)
{
	size_t o = 0;

	if (cap == 0)
		return 0;
	while (*in && o + 1 < cap) {
		size_t run = digit_run(in);
		char tag[NDX_REDACT_TAG_LEN + 1];
		const char *piece = in;
		size_t len = run ? run : 1;

		if (run == PIN_DIGITS) {
			pin_tag(in, tag);
			piece = tag;
			len = NDX_REDACT_TAG_LEN;
		}
		if (len > cap - 1 - o)
			len = cap - 1 - o;
		memcpy(out + o, piece, len);
		o += len;
		in += run ? run : 1;
	}
	out[o] = '\0';
	return o;
}

int ndx_redact_has_pin(const char *s)
{
	while (*s) {
		size_t run = digit_run(s);

		if (run == PIN_DIGITS)
			return 1;
		s += run ? run : 1;
	}
	return 0;
}
