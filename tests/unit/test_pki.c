/* Unit tests for include/ndx/pki.h: the CA's own certificate, CSRs, issued
 * certificates and their extensions (checked by parsing them back with
 * OpenSSL), fingerprints, and verification refusals: a foreign CA, expiry,
 * not-yet-valid, a tampered CSR, garbage input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ndx/err.h"
#include "ndx/pki.h"

struct fx {
	char *ca_key, *ca_cert;
	char *ca2_key, *ca2_cert;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);

	if (f == NULL ||
	    ndx_pki_ca_create("ndx VN instance CA", 3650, &f->ca_key, &f->ca_cert) != NDX_OK ||
	    ndx_pki_ca_create("another CA", 3650, &f->ca2_key, &f->ca2_cert) != NDX_OK)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	free(f->ca_key);
	free(f->ca_cert);
	free(f->ca2_key);
	free(f->ca2_cert);
	free(f);
	return 0;
}

static X509 *parse_cert(const char *pem)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	X509 *x;

	assert_non_null(bio);
	x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	BIO_free(bio);
	assert_non_null(x);
	return x;
}

static void cn_of(X509 *x, char *out, size_t cap)
{
	assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName,
					      out, (int)cap) > 0);
}

/* Issues a certificate for a fresh CSR; returns the PEM. */
static char *issue(const struct fx *f, const char *cn, const char *san, int days,
		   uint64_t serial)
{
	char *key = NULL, *csr = NULL, *cert = NULL;

	assert_int_equal(ndx_pki_csr_create("whatever the gateway asked", &key, &csr), NDX_OK);
	assert_int_equal(ndx_pki_sign_csr(f->ca_key, f->ca_cert, csr, cn, san, days, serial,
					  &cert), NDX_OK);
	free(key);
	free(csr);
	return cert;
}

static void test_ca(void **state)
{
	struct fx *f = *state;
	X509 *x = parse_cert(f->ca_cert);
	char cn[128];
	BASIC_CONSTRAINTS *bc;
	int crit = -1;

	assert_non_null(strstr(f->ca_key, "-----BEGIN PRIVATE KEY-----"));
	cn_of(x, cn, sizeof cn);
	assert_string_equal(cn, "ndx VN instance CA");
	assert_int_equal(X509_check_ca(x), 1);
	bc = X509_get_ext_d2i(x, NID_basic_constraints, &crit, NULL);
	assert_non_null(bc);
	assert_true(bc->ca);
	assert_int_equal(crit, 1);
	BASIC_CONSTRAINTS_free(bc);
	assert_true(X509_get_key_usage(x) & KU_KEY_CERT_SIGN);
	assert_true(X509_get_key_usage(x) & KU_CRL_SIGN);
	assert_non_null(X509_get0_subject_key_id(x));
	assert_true(EVP_PKEY_is_a(X509_get0_pubkey(x), "EC"));
	assert_int_equal(EVP_PKEY_get_bits(X509_get0_pubkey(x)), 256);
	assert_int_equal(X509_verify(x, X509_get0_pubkey(x)), 1);
	X509_free(x);

	/* bad arguments */
	{
		char *k = (char *)"x", *c = (char *)"x";

		assert_int_equal(ndx_pki_ca_create("", 10, &k, &c), NDX_EINVAL);
		assert_null(k);
		assert_null(c);
		assert_int_equal(ndx_pki_ca_create("ca", 0, &k, &c), NDX_EINVAL);
		assert_int_equal(ndx_pki_ca_create(NULL, 10, &k, &c), NDX_EINVAL);
	}
}

static void test_issue_and_verify(void **state)
{
	struct fx *f = *state;
	char *cert = issue(f, "VN/GOV/BCA/gw1", "127.0.0.1", 365, 7);
	char fp[NDX_CERT_FINGERPRINT_HEX_LEN + 1], fp2[NDX_CERT_FINGERPRINT_HEX_LEN + 1];
	char cn[128];
	int64_t now = (int64_t)time(NULL);
	X509 *x = parse_cert(cert), *ca;
	GENERAL_NAMES *san;
	const GENERAL_NAME *gn;
	int crit = -1;
	uint64_t serial = 0;

	assert_int_equal(ndx_pki_cert_verify(f->ca_cert, cert, now), NDX_OK);
	assert_int_equal(ndx_pki_cert_verify(f->ca_cert, cert, now + 364 * 86400LL), NDX_OK);

	/* the CA chose the name, not the CSR */
	cn_of(x, cn, sizeof cn);
	assert_string_equal(cn, "VN/GOV/BCA/gw1");
	assert_int_equal(X509_check_ca(x), 0);
	assert_int_equal(ASN1_INTEGER_get_uint64(&serial, X509_get0_serialNumber(x)), 1);
	assert_int_equal(serial, 7);
	assert_true(X509_get_extended_key_usage(x) & XKU_SSL_SERVER);
	assert_true(X509_get_extended_key_usage(x) & XKU_SSL_CLIENT);
	assert_true(X509_get_key_usage(x) & KU_DIGITAL_SIGNATURE);
	assert_false(X509_get_key_usage(x) & KU_KEY_CERT_SIGN);
	assert_non_null(X509_get0_authority_key_id(x));
	ca = parse_cert(f->ca_cert);
	assert_int_equal(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(x),
					       X509_get0_subject_key_id(ca)), 0);
	X509_free(ca);
	san = X509_get_ext_d2i(x, NID_subject_alt_name, &crit, NULL);
	assert_non_null(san);
	assert_int_equal(sk_GENERAL_NAME_num(san), 1);
	gn = sk_GENERAL_NAME_value(san, 0);
	assert_int_equal(gn->type, GEN_IPADD);
	assert_int_equal(ASN1_STRING_length(gn->d.iPAddress), 4);
	assert_memory_equal(ASN1_STRING_get0_data(gn->d.iPAddress), "\x7f\x00\x00\x01", 4);
	GENERAL_NAMES_free(san);
	assert_int_equal(X509_check_ip_asc(x, "127.0.0.1", 0), 1);
	X509_free(x);

	/* fingerprint: 64 lower-case hex digits, stable */
	assert_int_equal(ndx_pki_cert_fingerprint(cert, fp), NDX_OK);
	assert_int_equal(strlen(fp), NDX_CERT_FINGERPRINT_HEX_LEN);
	assert_int_equal(strspn(fp, "0123456789abcdef"), NDX_CERT_FINGERPRINT_HEX_LEN);
	assert_int_equal(ndx_pki_cert_fingerprint(cert, fp2), NDX_OK);
	assert_string_equal(fp, fp2);
	assert_int_equal(ndx_pki_cert_fingerprint(f->ca_cert, fp2), NDX_OK);
	assert_string_not_equal(fp, fp2);
	assert_int_equal(ndx_pki_cert_fingerprint("garbage", fp2), NDX_EINVAL);
	free(cert);
}

/* The fingerprint is SHA-256 over the DER, as `openssl x509 -fingerprint
 * -sha256` prints it. */
static void test_fingerprint_is_der_sha256(void **state)
{
	struct fx *f = *state;
	X509 *x = parse_cert(f->ca_cert);
	unsigned char *der = NULL, md[32];
	char want[65], got[65];
	int n = i2d_X509(x, &der);

	assert_true(n > 0);
	assert_non_null(EVP_Q_digest(NULL, "SHA256", NULL, der, (size_t)n, md, NULL));
	for (int i = 0; i < 32; i++)
		snprintf(want + 2 * i, 3, "%02x", md[i]);
	assert_int_equal(ndx_pki_cert_fingerprint(f->ca_cert, got), NDX_OK);
	assert_string_equal(got, want);
	OPENSSL_free(der);
	X509_free(x);
}

static void test_dns_san(void **state)
{
	struct fx *f = *state;
	char *cert = issue(f, "gw", "gw1.bca.gov.vn", 30, 8), *key = NULL, *csr = NULL;
	char *out = (char *)"x";
	X509 *x = parse_cert(cert);

	assert_int_equal(X509_check_host(x, "gw1.bca.gov.vn", 0, 0, NULL), 1);
	assert_int_equal(X509_check_ip_asc(x, "127.0.0.1", 0), 0);
	X509_free(x);
	free(cert);

	cert = issue(f, "gw", "::1", 30, 9);
	x = parse_cert(cert);
	assert_int_equal(X509_check_ip_asc(x, "::1", 0), 1);
	X509_free(x);
	free(cert);

	/* no SAN at all */
	cert = issue(f, "gw", NULL, 30, 10);
	x = parse_cert(cert);
	assert_null(X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL));
	X509_free(x);
	free(cert);

	/* a name that would smuggle a second entry is refused */
	assert_int_equal(ndx_pki_csr_create("gw", &key, &csr), NDX_OK);
	assert_int_equal(ndx_pki_sign_csr(f->ca_key, f->ca_cert, csr, "gw", "a.vn,IP:1.2.3.4",
					  30, 11, &out), NDX_EINVAL);
	assert_null(out);
	assert_int_equal(ndx_pki_sign_csr(f->ca_key, f->ca_cert, csr, "gw", "", 30, 11, &out),
			 NDX_EINVAL);
	/* serial 0, days 0, empty CN */
	assert_int_equal(ndx_pki_sign_csr(f->ca_key, f->ca_cert, csr, "gw", NULL, 30, 0, &out),
			 NDX_EINVAL);
	assert_int_equal(ndx_pki_sign_csr(f->ca_key, f->ca_cert, csr, "gw", NULL, 0, 1, &out),
			 NDX_EINVAL);
	assert_int_equal(ndx_pki_sign_csr(f->ca_key, f->ca_cert, csr, "", NULL, 30, 1, &out),
			 NDX_EINVAL);
	/* a CA key that does not belong to the CA certificate */
	assert_int_equal(ndx_pki_sign_csr(f->ca2_key, f->ca_cert, csr, "gw", NULL, 30, 1, &out),
			 NDX_EINVAL);
	assert_null(out);
	free(key);
	free(csr);
}

static void test_refusals(void **state)
{
	struct fx *f = *state;
	int64_t now = (int64_t)time(NULL);
	char *cert = issue(f, "gw", "127.0.0.1", 10, 12), *foreign = NULL, *key = NULL, *csr = NULL;

	/* issued by another CA */
	assert_int_equal(ndx_pki_csr_create("gw", &key, &csr), NDX_OK);
	assert_int_equal(ndx_pki_sign_csr(f->ca2_key, f->ca2_cert, csr, "gw", NULL, 10, 1,
					  &foreign), NDX_OK);
	assert_int_equal(ndx_pki_cert_verify(f->ca2_cert, foreign, now), NDX_OK);
	assert_int_equal(ndx_pki_cert_verify(f->ca_cert, foreign, now), NDX_EBADSIG);
	assert_int_equal(ndx_pki_cert_verify(f->ca2_cert, cert, now), NDX_EBADSIG);
	/* expired, and not yet valid */
	assert_int_equal(ndx_pki_cert_verify(f->ca_cert, cert, now + 10 * 86400LL + 1),
			 NDX_EEXPIRED);
	assert_int_equal(ndx_pki_cert_verify(f->ca_cert, cert, now - 3600), NDX_EEXPIRED);
	/* a CA certificate is not a gateway certificate */
	assert_int_equal(ndx_pki_cert_verify(f->ca_cert, f->ca_cert, now), NDX_EBADSIG);
	/* garbage */
	assert_int_equal(ndx_pki_cert_verify(f->ca_cert, "not a certificate", now), NDX_EINVAL);
	assert_int_equal(ndx_pki_cert_verify("not a CA", cert, now), NDX_EINVAL);
	assert_int_equal(ndx_pki_cert_verify(f->ca_cert, NULL, now), NDX_EINVAL);
	free(foreign);
	free(key);
	free(csr);
	free(cert);
}

/* A CSR whose public key was swapped after signing: its self-signature no
 * longer verifies, so the CA must not certify the swapped-in key. */
static void test_tampered_csr(void **state)
{
	struct fx *f = *state;
	char *key1 = NULL, *csr1 = NULL, *key2 = NULL, *csr2 = NULL, *out = NULL;
	BIO *bio;
	X509_REQ *r1, *r2;
	char *swapped;
	long n;
	char *data;

	assert_int_equal(ndx_pki_csr_create("gw", &key1, &csr1), NDX_OK);
	assert_int_equal(ndx_pki_csr_create("gw", &key2, &csr2), NDX_OK);
	bio = BIO_new_mem_buf(csr1, -1);
	r1 = PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL);
	BIO_free(bio);
	bio = BIO_new_mem_buf(csr2, -1);
	r2 = PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL);
	BIO_free(bio);
	assert_non_null(r1);
	assert_non_null(r2);
	assert_int_equal(X509_REQ_set_pubkey(r1, X509_REQ_get0_pubkey(r2)), 1);
	bio = BIO_new(BIO_s_mem());
	assert_int_equal(PEM_write_bio_X509_REQ(bio, r1), 1);
	n = BIO_get_mem_data(bio, &data);
	swapped = calloc(1, (size_t)n + 1);
	assert_non_null(swapped);
	memcpy(swapped, data, (size_t)n);
	BIO_free(bio);
	X509_REQ_free(r1);
	X509_REQ_free(r2);

	assert_int_equal(ndx_pki_sign_csr(f->ca_key, f->ca_cert, swapped, "gw", NULL, 10, 1,
					  &out), NDX_EINVAL);
	assert_null(out);
	assert_int_equal(ndx_pki_sign_csr(f->ca_key, f->ca_cert, "-----BEGIN CERTIFICATE "
					  "REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
					  "gw", NULL, 10, 1, &out), NDX_EINVAL);
	assert_int_equal(ndx_pki_sign_csr(f->ca_key, f->ca_cert, "garbage", "gw", NULL, 10, 1,
					  &out), NDX_EINVAL);
	assert_int_equal(ndx_pki_sign_csr(f->ca_key, f->ca_cert, NULL, "gw", NULL, 10, 1, &out),
			 NDX_EINVAL);
	/* the untampered CSR is fine */
	assert_int_equal(ndx_pki_sign_csr(f->ca_key, f->ca_cert, csr2, "gw", NULL, 10, 1, &out),
			 NDX_OK);
	free(out);
	free(swapped);
	free(key1);
	free(csr1);
	free(key2);
	free(csr2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ca),
		cmocka_unit_test(test_issue_and_verify),
		cmocka_unit_test(test_fingerprint_is_der_sha256),
		cmocka_unit_test(test_dns_san),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_tampered_csr),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
