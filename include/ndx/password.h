/* Password hashing for people who sign in (citizens at ndx-id, officers at
 * ndx-portal): Argon2id from libargon2, stored as the PHC string
 * "$argon2id$v=19$m=...,t=...,p=...$salt$hash", so the cost can be raised
 * later without invalidating stored hashes. */
#ifndef NDX_PASSWORD_H
#define NDX_PASSWORD_H

#include <stddef.h>
#include <stdint.h>

#define NDX_PASSWORD_HASH_MAX 160  /* encoded hash, NUL included */
#define NDX_PASSWORD_MAX 1024      /* longer passwords are refused */

struct ndx_password_cost {
	uint32_t t_cost;       /* passes */
	uint32_t m_cost_kib;   /* memory in KiB */
	uint32_t parallelism;  /* lanes */
};

/* RFC 9106's second recommended option scaled to a login server: t=3,
 * m=64 MiB, p=1 (about 0.1-0.2 s on this kind of machine). */
extern const struct ndx_password_cost NDX_PASSWORD_COST_DEFAULT;
/* The smallest cost accepted by ndx_password_hash; for tests and demo
 * seeding of many accounts only: t=1, m=8 MiB, p=1. */
extern const struct ndx_password_cost NDX_PASSWORD_COST_MIN;

/* Hashes password with a fresh 16-byte random salt into out. Returns
 * NDX_OK, NDX_EINVAL (empty or over NDX_PASSWORD_MAX bytes, or cost below
 * NDX_PASSWORD_COST_MIN), NDX_ENOMEM, NDX_ECRYPTO (no randomness). */
int ndx_password_hash(const char *password, const struct ndx_password_cost *cost,
		      char out[NDX_PASSWORD_HASH_MAX]);

/* Checks password against an encoded Argon2id hash in constant time.
 * Returns NDX_OK (it matches), NDX_EPERM (it does not), NDX_EINVAL (the
 * encoded hash is malformed or not Argon2id, or password is over
 * NDX_PASSWORD_MAX), NDX_ENOMEM. */
int ndx_password_verify(const char *encoded, const char *password);

#endif
