/* The instance PKI: the registry's certificate authority and the TLS
 * certificates it issues to gateways, so that a federation needs no outside
 * PKI. TLS keys are ECDSA P-256 (every TLS stack ndx meets accepts them);
 * message signing keys are Ed25519 (key.h). All PEM strings returned are
 * malloc'd and owned by the caller. Overview: docs/security.md "PKI". */
#ifndef NDX_PKI_H
#define NDX_PKI_H

#include <stddef.h>
#include <stdint.h>

#define NDX_CERT_FINGERPRINT_HEX_LEN 64

/* Creates a self-signed CA certificate valid for `days` with a new key.
 * Returns NDX_OK with *key_pem and *cert_pem set, or an error with both NULL. */
int ndx_pki_ca_create(const char *common_name, int days, char **key_pem, char **cert_pem);

/* Creates a new TLS key and a certificate signing request whose subject CN
 * is common_name. */
int ndx_pki_csr_create(const char *common_name, char **key_pem, char **csr_pem);

/* Signs a CSR with the CA into a TLS certificate valid for `days`, usable for
 * both server and client authentication, with subject CN = common_name (the
 * CSR's own subject is ignored: the CA decides names) and, when dns_or_ip is
 * not NULL, that subjectAltName (an IP literal becomes an IP entry). Refuses
 * (NDX_EINVAL) a CSR whose self-signature does not verify. */
int ndx_pki_sign_csr(const char *ca_key_pem, const char *ca_cert_pem,
		     const char *csr_pem, const char *common_name,
		     const char *dns_or_ip, int days, uint64_t serial,
		     char **cert_pem);

/* SHA-256 over the DER of the (first) certificate in cert_pem, as hex into
 * out (NDX_CERT_FINGERPRINT_HEX_LEN + 1 bytes). */
int ndx_pki_cert_fingerprint(const char *cert_pem, char *out);

/* Returns NDX_OK when cert_pem was issued by ca_cert_pem and is inside its
 * validity at `now`, NDX_EBADSIG / NDX_EEXPIRED otherwise. */
int ndx_pki_cert_verify(const char *ca_cert_pem, const char *cert_pem, int64_t now);

#endif
