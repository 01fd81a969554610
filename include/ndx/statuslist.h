/* Consent status lists (docs/protocol.md "Revocation"): a consent service's
 * revocation state as bitstrings in the manner of the IETF OAuth Token
 * Status List draft (draft-ietf-oauth-status-list, section 4: one bit a
 * consent, 1 = revoked, index i at bit i % 8 of byte i / 8, the bytes
 * compressed with DEFLATE in the ZLIB format (RFC 1950) and written as
 * base64url without padding). Each consent carries its list and index
 * ("status":{"list":L,"idx":N}); a list holds NDX_STATUSLIST_CAPACITY
 * indexes and a full one is followed by a new one, so one document never
 * grows past a fixed size. This module encodes, decodes and parses one
 * list document; signing is the consent service's, fetching the gateway's. */
#ifndef NDX_STATUSLIST_H
#define NDX_STATUSLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ndx/hash.h"

/* Indexes in one list (2^20): 128 KiB of bits uncompressed. */
#define NDX_STATUSLIST_CAPACITY (1u << 20)
#define NDX_STATUSLIST_BYTES (NDX_STATUSLIST_CAPACITY / 8u)
/* The highest list number a consent may name (2^20 lists of 2^20 indexes). */
#define NDX_STATUSLIST_MAX_LIST ((1u << 20) - 1u)
/* The largest list document a reader accepts: base64url of DEFLATE's worst
 * case for 128 KiB (stored blocks: +5 bytes per 16 KiB block) plus the JSON
 * around it, with room to spare. */
#define NDX_STATUSLIST_MAX_DOC (256u * 1024u)
#define NDX_STATUSLIST_MEDIA_TYPE "application/json"

/* True when bit idx of bits (nbytes long) is set; false past the end. */
bool ndx_statuslist_get(const uint8_t *bits, size_t nbytes, uint64_t idx);
/* Sets bit idx; idx must be below nbytes * 8. */
void ndx_statuslist_set(uint8_t *bits, size_t nbytes, uint64_t idx);

/* Compresses bits[0..nbytes) (ZLIB format, best compression) and sets *lst
 * to its malloc'd base64url text (caller frees). Returns NDX_OK,
 * NDX_ENOMEM or NDX_EIO (zlib failed). */
int ndx_statuslist_encode(const uint8_t *bits, size_t nbytes, char **lst);

/* Decodes lst[0..len) (base64url, then ZLIB) into a new buffer of exactly
 * nbytes bytes (*bits, caller frees). Inflation stops at nbytes + 1 bytes,
 * so a small input can never make a large allocation. Returns NDX_OK,
 * NDX_EINVAL (not base64url, not a complete ZLIB stream, trailing bytes, or
 * another length than nbytes), NDX_ENOMEM. */
int ndx_statuslist_decode(const char *lst, size_t len, size_t nbytes, uint8_t **bits);

/* One list document, as GET /status/{list} serves it:
 *   {"issuer":ID,"list":L,"bits":1,"size":NDX_STATUSLIST_CAPACITY,"lst":TEXT}
 * Strings and the bits are owned by the struct. */
struct ndx_statuslist {
	char *issuer;
	uint32_t list;
	uint8_t *bits; /* NDX_STATUSLIST_BYTES bytes */
};

/* Writes the document for issuer and list from bits (NDX_STATUSLIST_BYTES
 * bytes) as compact JSON into *text (malloc'd, *len bytes, caller frees).
 * Returns NDX_OK, NDX_ENOMEM, NDX_EIO. */
int ndx_statuslist_write(const char *issuer, uint32_t list, const uint8_t *bits, char **text,
			 size_t *len);

/* Parses a list document of at most NDX_STATUSLIST_MAX_DOC bytes: exactly
 * the five members above (no others, no duplicates), "bits" 1, "size"
 * NDX_STATUSLIST_CAPACITY, "list" up to NDX_STATUSLIST_MAX_LIST, "lst"
 * decoding to NDX_STATUSLIST_BYTES bytes. Trusts nothing: the caller checks
 * the issuer, the list number and the document's digest. Sets *out (caller
 * frees with ndx_statuslist_free) or returns NDX_EINVAL (reason in err),
 * NDX_ETOOBIG, NDX_ENOMEM. err may be NULL. */
int ndx_statuslist_parse(const char *text, size_t len, struct ndx_statuslist **out, char *err,
			 size_t errcap);

/* Accepts NULL. */
void ndx_statuslist_free(struct ndx_statuslist *l);

#endif
