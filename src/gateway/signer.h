/* Signing and verifying request and response hashes (signer.c), and the
 * random ids the gateway hands out. */
#ifndef NDX_GATEWAY_SIGNER_H
#define NDX_GATEWAY_SIGNER_H

#include <stddef.h>
#include <stdint.h>

#include "gwconfig.h"
#include "ndx/hash.h"
#include "ndx/key.h"

/* Returns a malloc'd signature object over hash (caller frees), or NULL.
 * Adaptive batch signing: the hashes of concurrent callers are signed
 * together under one Ed25519 signature, each object carrying its own audit
 * path; a lone caller signs a batch of one at once. Blocks at most for the
 * batch signed before its own. Thread-safe. */
char *gw_sign_hash(const struct gw_config *cfg, const uint8_t hash[NDX_SHA256_LEN]);
/* Signs n hashes by key in batches of at most 256 (one Ed25519 signature
 * each), out[i] the object of hashes[i] (malloc'd) or NULL on failure; the
 * exchange loops' signer (gwloop.c), which batches what one loop turn
 * queued. Counted in the stats like gw_sign_hash. */
void gw_sign_batch(const struct ndx_key *key, const uint8_t (*hashes)[NDX_SHA256_LEN], size_t n,
		   char **out);
/* NDX_OK when sig_text is a valid signature object over hash by key
 * (roots already verified are taken from a bounded cache). Else
 * NDX_EINVAL (malformed), NDX_ENOTFOUND (another key) or NDX_EBADSIG, with
 * the reason in err. Thread-safe. */
int gw_verify_hash(const struct ndx_key *key, const char *sig_text,
		   const uint8_t hash[NDX_SHA256_LEN], char *err, size_t errcap);

/* Counters since start, for /metrics. */
struct gw_signer_stats {
	uint64_t messages_signed;   /* signature objects made */
	uint64_t signatures;        /* Ed25519 signatures (batches) */
	uint64_t verifications;     /* Ed25519 verifications */
	uint64_t verify_cache_hits; /* objects accepted from a verified root */
};
void gw_signer_stats(struct gw_signer_stats *st);
/* A random UUID v4 into out. */
int gw_uuid(char out[GW_UUID_LEN]);
/* A time-ordered UUID v7 (RFC 9562 section 5.7) into out, for message ids:
 * ids made later sort later, so the message logs' index of ids grows at
 * its right edge instead of on a random page per record. 62 bits random:
 * never for a nonce. */
int gw_uuid7(char out[GW_UUID_LEN]);
/* The same from a given time (Unix ns) and 8 random bytes: for tests. */
void gw_uuid7_at(uint64_t unix_ns, const uint8_t rnd[8], char out[GW_UUID_LEN]);

#endif
