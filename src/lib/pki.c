/* The instance PKI (docs/security.md "PKI"): the registry's self-signed
 * ECDSA P-256 certificate authority, certificate signing requests made by
 * gateways, the TLS certificates the CA issues from them, SHA-256
 * fingerprints (what the global configuration lists per gateway) and chain
 * verification at an explicit time. Built on OpenSSL 3's X509 API; every
 * object is converted to and from PEM at the boundary so callers never hold
 * OpenSSL types. */
#include "ndx/pki.h"

#include <arpa/inet.h>
#include <assert.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ndx/encode.h"
#include "ndx/err.h"

/* RFC 5280 upper bound for a common name. */
#define CN_MAX 64
/* A hundred years is more than any certificate here needs; the cap keeps
 * days * 86400 far from overflow. */
#define DAYS_MAX 36500
/* Issued certificates start a little in the past so that a peer whose clock
 * lags the registry's accepts a certificate issued a moment ago. */
#define BACKDATE_SECONDS 300

static bool cn_ok(const char *cn)
{
	return cn != NULL && cn[0] != '\0' && strlen(cn) <= CN_MAX;
}

static char *bio_to_string(BIO *bio)
{
	char *data = NULL, *out;
	long n = BIO_get_mem_data(bio, &data);

	if (n < 0 || data == NULL)
		return NULL;
	out = malloc((size_t)n + 1);
	if (out == NULL)
		return NULL;
	memcpy(out, data, (size_t)n);
	out[n] = '\0';
	return out;
}

static char *key_to_pem(EVP_PKEY *key)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *pem = NULL;

	if (bio != NULL && PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) == 1)
		pem = bio_to_string(bio);
	BIO_free(bio);
	return pem;
}

static char *cert_to_pem(X509 *cert)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *pem = NULL;

	if (bio != NULL && PEM_write_bio_X509(bio, cert) == 1)
		pem = bio_to_string(bio);
	BIO_free(bio);
	return pem;
}

static char *req_to_pem(X509_REQ *req)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *pem = NULL;

	if (bio != NULL && PEM_write_bio_X509_REQ(bio, req) == 1)
		pem = bio_to_string(bio);
	BIO_free(bio);
	return pem;
}

static X509 *cert_from_pem(const char *pem)
{
	BIO *bio;
	X509 *cert;

	if (pem == NULL)
		return NULL;
	bio = BIO_new_mem_buf(pem, -1);
	if (bio == NULL)
		return NULL;
	cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	BIO_free(bio);
	return cert;
}

static EVP_PKEY *key_from_pem(const char *pem)
{
	BIO *bio;
	EVP_PKEY *key;

	if (pem == NULL)
		return NULL;
	bio = BIO_new_mem_buf(pem, -1);
	if (bio == NULL)
		return NULL;
	key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	return key;
}

static X509_REQ *req_from_pem(const char *pem)
{
	BIO *bio;
	X509_REQ *req;

	if (pem == NULL)
		return NULL;
	bio = BIO_new_mem_buf(pem, -1);
	if (bio == NULL)
		return NULL;
	req = PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL);
	BIO_free(bio);
	return req;
}

static X509_NAME *name_cn(const char *cn)
{
	X509_NAME *name = X509_NAME_new();

	if (name != NULL &&
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
				       (const unsigned char *)cn, -1, -1, 0) != 1) {
		X509_NAME_free(name);
		name = NULL;
	}
	return name;
}

/* Adds one extension given in OpenSSL's configuration syntax. Only fixed
 * strings reach here; names from callers go through GENERAL_NAME objects so
 * that a comma in them cannot smuggle in a second entry. */
static bool add_ext(X509 *cert, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
	bool ok;

	if (ext == NULL)
		return false;
	ok = X509_add_ext(cert, ext, -1) == 1;
	X509_EXTENSION_free(ext);
	return ok;
}

/* Validity [now - backdate, now + days] and a serial on a fresh cert. */
static bool set_validity(X509 *cert, int days, long backdate)
{
	return X509_gmtime_adj(X509_getm_notBefore(cert), -backdate) != NULL &&
	       X509_gmtime_adj(X509_getm_notAfter(cert), (long)days * 86400L) != NULL;
}

static bool set_random_serial(X509 *cert)
{
	BIGNUM *bn = BN_new();
	bool ok = false;

	/* 127 random bits with the top bit clear: positive, unique in practice
	 * (RFC 5280 4.1.2.2 asks for at most 20 octets). */
	if (bn != NULL && BN_rand(bn, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) == 1 &&
	    !BN_is_zero(bn))
		ok = BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) != NULL;
	BN_free(bn);
	return ok;
}

static EVP_PKEY *new_p256(void)
{
	return EVP_EC_gen("P-256");
}

int ndx_pki_ca_create(const char *common_name, int days, char **key_pem, char **cert_pem)
{
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	X509_NAME *name = NULL;
	X509V3_CTX ctx;
	int rc = NDX_ECRYPTO;

	assert(key_pem != NULL && cert_pem != NULL);
	*key_pem = NULL;
	*cert_pem = NULL;
	if (!cn_ok(common_name) || days <= 0 || days > DAYS_MAX)
		return NDX_EINVAL;
	key = new_p256();
	cert = X509_new();
	name = name_cn(common_name);
	if (key == NULL || cert == NULL || name == NULL)
		goto out;
	if (X509_set_version(cert, X509_VERSION_3) != 1 || !set_random_serial(cert) ||
	    X509_set_subject_name(cert, name) != 1 || X509_set_issuer_name(cert, name) != 1 ||
	    !set_validity(cert, days, 0) || X509_set_pubkey(cert, key) != 1)
		goto out;
	X509V3_set_ctx(&ctx, cert, cert, NULL, NULL, 0);
	if (!add_ext(cert, &ctx, NID_basic_constraints, "critical,CA:TRUE") ||
	    !add_ext(cert, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign") ||
	    !add_ext(cert, &ctx, NID_subject_key_identifier, "hash") ||
	    !add_ext(cert, &ctx, NID_authority_key_identifier, "keyid:always"))
		goto out;
	if (X509_sign(cert, key, EVP_sha256()) <= 0)
		goto out;
	*key_pem = key_to_pem(key);
	*cert_pem = cert_to_pem(cert);
	if (*key_pem == NULL || *cert_pem == NULL) {
		free(*key_pem);
		free(*cert_pem);
		*key_pem = NULL;
		*cert_pem = NULL;
		goto out;
	}
	rc = NDX_OK;
out:
	X509_NAME_free(name);
	X509_free(cert);
	EVP_PKEY_free(key);
	return rc;
}

int ndx_pki_csr_create(const char *common_name, char **key_pem, char **csr_pem)
{
	EVP_PKEY *key = NULL;
	X509_REQ *req = NULL;
	X509_NAME *name = NULL;
	int rc = NDX_ECRYPTO;

	assert(key_pem != NULL && csr_pem != NULL);
	*key_pem = NULL;
	*csr_pem = NULL;
	if (!cn_ok(common_name))
		return NDX_EINVAL;
	key = new_p256();
	req = X509_REQ_new();
	name = name_cn(common_name);
	if (key == NULL || req == NULL || name == NULL)
		goto out;
	if (X509_REQ_set_version(req, X509_REQ_VERSION_1) != 1 ||
	    X509_REQ_set_subject_name(req, name) != 1 || X509_REQ_set_pubkey(req, key) != 1 ||
	    X509_REQ_sign(req, key, EVP_sha256()) <= 0)
		goto out;
	*key_pem = key_to_pem(key);
	*csr_pem = req_to_pem(req);
	if (*key_pem == NULL || *csr_pem == NULL) {
		free(*key_pem);
		free(*csr_pem);
		*key_pem = NULL;
		*csr_pem = NULL;
		goto out;
	}
	rc = NDX_OK;
out:
	X509_NAME_free(name);
	X509_REQ_free(req);
	EVP_PKEY_free(key);
	return rc;
}

/* A DNS name in LDH form (letters, digits, '-', '.'), as a TLS peer will
 * compare it; wildcards are not issued. */
static bool dns_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 253 || s[0] == '.' || s[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '.'))
			return false;
	}
	return true;
}

static int add_san(X509 *cert, const char *dns_or_ip)
{
	unsigned char addr[16];
	GENERAL_NAMES *names = NULL;
	GENERAL_NAME *gn = NULL;
	int rc = NDX_ECRYPTO;
	int len = 0;

	if (inet_pton(AF_INET, dns_or_ip, addr) == 1)
		len = 4;
	else if (inet_pton(AF_INET6, dns_or_ip, addr) == 1)
		len = 16;
	else if (!dns_name_ok(dns_or_ip))
		return NDX_EINVAL;
	names = GENERAL_NAMES_new();
	gn = GENERAL_NAME_new();
	if (names == NULL || gn == NULL)
		goto out;
	if (len > 0) {
		ASN1_OCTET_STRING *ip = ASN1_OCTET_STRING_new();

		if (ip == NULL || ASN1_OCTET_STRING_set(ip, addr, len) != 1) {
			ASN1_OCTET_STRING_free(ip);
			goto out;
		}
		GENERAL_NAME_set0_value(gn, GEN_IPADD, ip);
	} else {
		ASN1_IA5STRING *dns = ASN1_IA5STRING_new();

		if (dns == NULL || ASN1_STRING_set(dns, dns_or_ip, -1) != 1) {
			ASN1_IA5STRING_free(dns);
			goto out;
		}
		GENERAL_NAME_set0_value(gn, GEN_DNS, dns);
	}
	if (sk_GENERAL_NAME_push(names, gn) <= 0)
		goto out;
	gn = NULL;
	if (X509_add1_ext_i2d(cert, NID_subject_alt_name, names, 0, X509V3_ADD_DEFAULT) == 1)
		rc = NDX_OK;
out:
	GENERAL_NAME_free(gn);
	GENERAL_NAMES_free(names);
	return rc;
}

/* Keys the CA is willing to certify: EC of at least 256 bits (P-256 is
 * what ndx makes) or RSA of at least 2048. */
static bool csr_key_ok(EVP_PKEY *pk)
{
	if (EVP_PKEY_is_a(pk, "EC"))
		return EVP_PKEY_get_bits(pk) >= 256;
	if (EVP_PKEY_is_a(pk, "RSA"))
		return EVP_PKEY_get_bits(pk) >= 2048;
	return false;
}

int ndx_pki_sign_csr(const char *ca_key_pem, const char *ca_cert_pem,
		     const char *csr_pem, const char *common_name,
		     const char *dns_or_ip, int days, uint64_t serial,
		     char **cert_pem)
{
	EVP_PKEY *ca_key = NULL, *pk;
	X509 *ca = NULL, *cert = NULL;
	X509_REQ *req = NULL;
	X509_NAME *name = NULL;
	X509V3_CTX ctx;
	int rc = NDX_EINVAL;

	assert(cert_pem != NULL);
	*cert_pem = NULL;
	if (!cn_ok(common_name) || days <= 0 || days > DAYS_MAX || serial == 0)
		return NDX_EINVAL;
	ca_key = key_from_pem(ca_key_pem);
	ca = cert_from_pem(ca_cert_pem);
	req = req_from_pem(csr_pem);
	if (ca_key == NULL || ca == NULL || req == NULL)
		goto out;
	if (X509_check_private_key(ca, ca_key) != 1)
		goto out;
	pk = X509_REQ_get0_pubkey(req);
	if (pk == NULL || X509_REQ_verify(req, pk) != 1 || !csr_key_ok(pk))
		goto out;

	rc = NDX_ECRYPTO;
	cert = X509_new();
	name = name_cn(common_name);
	if (cert == NULL || name == NULL)
		goto out;
	if (X509_set_version(cert, X509_VERSION_3) != 1 ||
	    ASN1_INTEGER_set_uint64(X509_get_serialNumber(cert), serial) != 1 ||
	    X509_set_subject_name(cert, name) != 1 ||
	    X509_set_issuer_name(cert, X509_get_subject_name(ca)) != 1 ||
	    !set_validity(cert, days, BACKDATE_SECONDS) || X509_set_pubkey(cert, pk) != 1)
		goto out;
	X509V3_set_ctx(&ctx, ca, cert, NULL, NULL, 0);
	if (!add_ext(cert, &ctx, NID_basic_constraints, "critical,CA:FALSE") ||
	    !add_ext(cert, &ctx, NID_key_usage, "critical,digitalSignature,keyAgreement") ||
	    !add_ext(cert, &ctx, NID_ext_key_usage, "serverAuth,clientAuth") ||
	    !add_ext(cert, &ctx, NID_subject_key_identifier, "hash") ||
	    !add_ext(cert, &ctx, NID_authority_key_identifier, "keyid:always"))
		goto out;
	if (dns_or_ip != NULL && (rc = add_san(cert, dns_or_ip)) != NDX_OK)
		goto out;
	rc = NDX_ECRYPTO;
	if (X509_sign(cert, ca_key, EVP_sha256()) <= 0)
		goto out;
	*cert_pem = cert_to_pem(cert);
	if (*cert_pem != NULL)
		rc = NDX_OK;
out:
	X509_NAME_free(name);
	X509_free(cert);
	X509_REQ_free(req);
	X509_free(ca);
	EVP_PKEY_free(ca_key);
	return rc;
}

int ndx_pki_cert_fingerprint(const char *cert_pem, char *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	X509 *cert;
	int rc = NDX_ECRYPTO;

	assert(out != NULL);
	out[0] = '\0';
	cert = cert_from_pem(cert_pem);
	if (cert == NULL)
		return NDX_EINVAL;
	if (X509_digest(cert, EVP_sha256(), md, &n) == 1 && n == 32) {
		ndx_hex_encode(md, n, out);
		rc = NDX_OK;
	}
	X509_free(cert);
	return rc;
}

int ndx_pki_cert_verify(const char *ca_cert_pem, const char *cert_pem, int64_t now)
{
	X509 *ca, *cert;
	X509_STORE *store = NULL;
	X509_STORE_CTX *ctx = NULL;
	int rc = NDX_EINVAL;

	ca = cert_from_pem(ca_cert_pem);
	cert = cert_from_pem(cert_pem);
	if (ca == NULL || cert == NULL)
		goto out;
	/* The certificates this CA issues to gateways are leaves; a CA
	 * certificate (the instance CA itself included) is no gateway's. */
	rc = NDX_EBADSIG;
	if (X509_check_ca(cert) != 0)
		goto out;
	rc = NDX_ECRYPTO;
	store = X509_STORE_new();
	ctx = X509_STORE_CTX_new();
	if (store == NULL || ctx == NULL || X509_STORE_add_cert(store, ca) != 1 ||
	    X509_STORE_CTX_init(ctx, store, cert, NULL) != 1)
		goto out;
	X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx), (time_t)now);
	if (X509_verify_cert(ctx) == 1) {
		rc = NDX_OK;
	} else {
		switch (X509_STORE_CTX_get_error(ctx)) {
		case X509_V_ERR_CERT_HAS_EXPIRED:
		case X509_V_ERR_CERT_NOT_YET_VALID:
			rc = NDX_EEXPIRED;
			break;
		default:
			rc = NDX_EBADSIG;
			break;
		}
	}
out:
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	X509_free(cert);
	X509_free(ca);
	return rc;
}
