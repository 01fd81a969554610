/* The RS256 key and its JWS (rsa_sign.h), with OpenSSL's EVP directly:
 * generation and PKCS#8 PEM storage, the public JWK and its RFC 7638
 * thumbprint as kid, RSASSA-PKCS1-v1_5 with SHA-256 signing, and the
 * strict check of our own RS256 tokens (id_token_hint at logout).
 * Overview: docs/id.md. */
#include "rsa_sign.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ndx/encode.h"
#include "ndx/err.h"
#include "ndx/hash.h"

#define JWS_MAX (64 * 1024)

struct idrsa_key {
	EVP_PKEY *pkey;
	char *n, *e; /* base64url, big-endian, no leading zeros */
	char kid[IDRSA_KID_LEN + 1];
};

void idrsa_free(struct idrsa_key *k)
{
	if (!k)
		return;
	EVP_PKEY_free(k->pkey);
	free(k->n);
	free(k->e);
	free(k);
}

static char *bn_b64url(const EVP_PKEY *pkey, const char *param)
{
	BIGNUM *bn = NULL;
	uint8_t *raw = NULL;
	char *b = NULL;
	int n;

	if (EVP_PKEY_get_bn_param(pkey, param, &bn) != 1)
		return NULL;
	n = BN_num_bytes(bn);
	if (n > 0 && (raw = malloc((size_t)n)) && BN_bn2bin(bn, raw) == n)
		b = ndx_b64_encode(raw, (size_t)n, 1);
	free(raw);
	BN_free(bn);
	return b;
}

/* Takes pkey; fills n, e and the kid. */
static int wrap(EVP_PKEY *pkey, struct idrsa_key **out)
{
	struct idrsa_key *k = calloc(1, sizeof *k);
	uint8_t md[NDX_SHA256_LEN];
	char *canon, *b;
	size_t len;

	*out = NULL;
	if (!k) {
		EVP_PKEY_free(pkey);
		return NDX_ENOMEM;
	}
	k->pkey = pkey;
	if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA || EVP_PKEY_get_bits(pkey) < 2048) {
		idrsa_free(k);
		return NDX_ECRYPTO;
	}
	k->n = bn_b64url(pkey, OSSL_PKEY_PARAM_RSA_N);
	k->e = bn_b64url(pkey, OSSL_PKEY_PARAM_RSA_E);
	if (!k->n || !k->e) {
		idrsa_free(k);
		return NDX_ENOMEM;
	}
	/* RFC 7638 section 3.2: the required members in lexicographic order,
	 * no whitespace. */
	len = strlen(k->n) + strlen(k->e) + 32;
	if (!(canon = malloc(len))) {
		idrsa_free(k);
		return NDX_ENOMEM;
	}
	snprintf(canon, len, "{\"e\":\"%s\",\"kty\":\"RSA\",\"n\":\"%s\"}", k->e, k->n);
	ndx_sha256(canon, strlen(canon), md);
	free(canon);
	if (!(b = ndx_b64_encode(md, sizeof md, 1))) {
		idrsa_free(k);
		return NDX_ENOMEM;
	}
	snprintf(k->kid, sizeof k->kid, "%s", b);
	free(b);
	*out = k;
	return NDX_OK;
}

int idrsa_create(const char *path, struct idrsa_key **out)
{
	EVP_PKEY *pkey;
	FILE *f;
	int fd, ok;

	*out = NULL;
	if (!(pkey = EVP_RSA_gen(IDRSA_BITS)))
		return NDX_ECRYPTO;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		EVP_PKEY_free(pkey);
		return errno == EEXIST ? NDX_EEXIST : NDX_EIO;
	}
	if (!(f = fdopen(fd, "w"))) {
		close(fd);
		unlink(path);
		EVP_PKEY_free(pkey);
		return NDX_EIO;
	}
	/* PEM_write_PrivateKey without a cipher writes PKCS#8
	 * ("BEGIN PRIVATE KEY"). */
	ok = PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL) == 1;
	ok = fflush(f) == 0 && fsync(fileno(f)) == 0 && ok;
	if (fclose(f) != 0 || !ok) {
		unlink(path);
		EVP_PKEY_free(pkey);
		return NDX_EIO;
	}
	return wrap(pkey, out);
}

int idrsa_load(const char *path, struct idrsa_key **out)
{
	EVP_PKEY *pkey;
	FILE *f;

	*out = NULL;
	if (!(f = fopen(path, "re")))
		return errno == ENOENT ? NDX_ENOTFOUND : NDX_EIO;
	pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (!pkey)
		return NDX_ECRYPTO;
	return wrap(pkey, out);
}

const char *idrsa_kid(const struct idrsa_key *k)
{
	return k->kid;
}

json_t *idrsa_jwk(const struct idrsa_key *k)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "kty", "RSA", "n", k->n, "e", k->e,
			 "kid", k->kid, "use", "sig", "alg", "RS256");
}

/* RSASSA-PKCS1-v1_5 over data with SHA-256: sign (sig NULL on entry,
 * *sig malloc'd) or verify (sig given). */
static int pkcs1_sha256(EVP_PKEY *pkey, const char *data, size_t len, uint8_t **sig,
			size_t *siglen, int verify)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	int rc = NDX_ECRYPTO;

	if (!ctx)
		return NDX_ENOMEM;
	if (verify) {
		if (EVP_DigestVerifyInit(ctx, &pctx, EVP_sha256(), NULL, pkey) == 1 &&
		    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1)
			rc = EVP_DigestVerify(ctx, *sig, *siglen, (const uint8_t *)data, len) == 1
				     ? NDX_OK
				     : NDX_EBADSIG;
	} else if (EVP_DigestSignInit(ctx, &pctx, EVP_sha256(), NULL, pkey) == 1 &&
		   EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1 &&
		   EVP_DigestSign(ctx, NULL, siglen, (const uint8_t *)data, len) == 1) {
		if (!(*sig = malloc(*siglen)))
			rc = NDX_ENOMEM;
		else if (EVP_DigestSign(ctx, *sig, siglen, (const uint8_t *)data, len) == 1)
			rc = NDX_OK;
		else {
			free(*sig);
			*sig = NULL;
		}
	}
	EVP_MD_CTX_free(ctx);
	return rc;
}

int idrsa_sign(const struct idrsa_key *k, const char *typ, const char *payload, char **out)
{
	json_t *h = json_pack("{s:s, s:s, s:s}", "alg", "RS256", "typ", typ, "kid", k->kid);
	char *htext = h ? json_dumps(h, JSON_COMPACT) : NULL;
	char *hb = htext ? ndx_b64_encode((const uint8_t *)htext, strlen(htext), 1) : NULL;
	char *pb = ndx_b64_encode((const uint8_t *)payload, strlen(payload), 1);
	char *input = NULL, *sb = NULL;
	uint8_t *sig = NULL;
	size_t siglen = 0, ilen;
	int rc = NDX_ENOMEM;

	*out = NULL;
	json_decref(h);
	free(htext);
	if (!hb || !pb)
		goto out;
	ilen = strlen(hb) + 1 + strlen(pb);
	if (!(input = malloc(ilen + 1)))
		goto out;
	snprintf(input, ilen + 1, "%s.%s", hb, pb);
	if ((rc = pkcs1_sha256(k->pkey, input, ilen, &sig, &siglen, 0)))
		goto out;
	rc = NDX_ENOMEM;
	if (!(sb = ndx_b64_encode(sig, siglen, 1)) ||
	    !(*out = malloc(ilen + 1 + strlen(sb) + 1)))
		goto out;
	snprintf(*out, ilen + 1 + strlen(sb) + 1, "%s.%s", input, sb);
	rc = NDX_OK;
out:
	free(hb);
	free(pb);
	free(input);
	free(sig);
	free(sb);
	return rc;
}

int idrsa_verify(const struct idrsa_key *k, const char *jws, char **payload, size_t *len)
{
	size_t n = strnlen(jws, JWS_MAX + 1);
	const char *d1, *d2;
	uint8_t *hraw = NULL, *sig = NULL, *praw = NULL;
	size_t hlen = 0, siglen = 0, plen = 0;
	json_t *h = NULL;
	const char *alg;
	int rc = NDX_EINVAL;

	*payload = NULL;
	*len = 0;
	if (n > JWS_MAX || !(d1 = strchr(jws, '.')) || !(d2 = strchr(d1 + 1, '.')) ||
	    strchr(d2 + 1, '.'))
		return NDX_EINVAL;
	if (ndx_b64_decode(jws, (size_t)(d1 - jws), 1, &hraw, &hlen) != NDX_OK ||
	    !(h = json_loadb((const char *)hraw, hlen, JSON_REJECT_DUPLICATES, NULL)) ||
	    !(alg = json_string_value(json_object_get(h, "alg"))) || strcmp(alg, "RS256") != 0 ||
	    ndx_b64_decode(d2 + 1, strlen(d2 + 1), 1, &sig, &siglen) != NDX_OK)
		goto out;
	if ((rc = pkcs1_sha256(k->pkey, jws, (size_t)(d2 - jws), &sig, &siglen, 1)))
		goto out;
	rc = NDX_EINVAL;
	if (ndx_b64_decode(d1 + 1, (size_t)(d2 - d1 - 1), 1, &praw, &plen) != NDX_OK)
		goto out;
	rc = NDX_ENOMEM;
	if (!(*payload = malloc(plen + 1)))
		goto out;
	if (plen)
		memcpy(*payload, praw, plen);
	(*payload)[plen] = '\0';
	*len = plen;
	rc = NDX_OK;
out:
	json_decref(h);
	free(hraw);
	free(sig);
	free(praw);
	return rc;
}
