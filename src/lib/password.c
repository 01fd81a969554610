/* Argon2id password hashing (include/ndx/password.h) over libargon2, with
 * the salt drawn from OpenSSL's CSPRNG like every other secret in ndx. */
#include <string.h>

#include <argon2.h>
#include <openssl/rand.h>

#include "ndx/err.h"
#include "ndx/password.h"

#define SALT_LEN 16
#define HASH_LEN 32

const struct ndx_password_cost NDX_PASSWORD_COST_DEFAULT = { 3, 64 * 1024, 1 };
const struct ndx_password_cost NDX_PASSWORD_COST_MIN = { 1, 8 * 1024, 1 };

static int usable(const char *password)
{
	size_t n;

	if (!password)
		return 0;
	n = strnlen(password, NDX_PASSWORD_MAX + 1);
	return n > 0 && n <= NDX_PASSWORD_MAX;
}

int ndx_password_hash(const char *password, const struct ndx_password_cost *cost,
		      char out[NDX_PASSWORD_HASH_MAX])
{
	uint8_t salt[SALT_LEN];
	int rc;

	out[0] = '\0';
	if (!usable(password) || !cost || cost->t_cost < NDX_PASSWORD_COST_MIN.t_cost ||
	    cost->m_cost_kib < NDX_PASSWORD_COST_MIN.m_cost_kib || cost->parallelism < 1 ||
	    cost->parallelism > 16 || cost->m_cost_kib > 4u * 1024 * 1024 || cost->t_cost > 64 ||
	    argon2_encodedlen(cost->t_cost, cost->m_cost_kib, cost->parallelism, SALT_LEN,
			      HASH_LEN, Argon2_id) > NDX_PASSWORD_HASH_MAX)
		return NDX_EINVAL;
	if (RAND_bytes(salt, sizeof salt) != 1)
		return NDX_ECRYPTO;
	rc = argon2id_hash_encoded(cost->t_cost, cost->m_cost_kib, cost->parallelism, password,
				   strlen(password), salt, sizeof salt, HASH_LEN, out,
				   NDX_PASSWORD_HASH_MAX);
	if (rc == ARGON2_MEMORY_ALLOCATION_ERROR)
		return NDX_ENOMEM;
	return rc == ARGON2_OK ? NDX_OK : NDX_EINVAL;
}

int ndx_password_verify(const char *encoded, const char *password)
{
	int rc;

	if (!encoded || strncmp(encoded, "$argon2id$", 10) != 0 || !password ||
	    strnlen(password, NDX_PASSWORD_MAX + 1) > NDX_PASSWORD_MAX)
		return NDX_EINVAL;
	rc = argon2id_verify(encoded, password, strlen(password));
	switch (rc) {
	case ARGON2_OK:
		return NDX_OK;
	case ARGON2_VERIFY_MISMATCH:
		return NDX_EPERM;
	case ARGON2_MEMORY_ALLOCATION_ERROR:
		return NDX_ENOMEM;
	default:
		return NDX_EINVAL;
	}
}
