/* Error codes shared by every part of libndx and the ndx binaries.
 * Functions return int rc: NDX_OK (0) on success, a negative enum ndx_err on
 * failure. Overview: docs/architecture.md. */
#ifndef NDX_ERR_H
#define NDX_ERR_H

#include <stddef.h>

enum ndx_err {
	NDX_OK = 0,
	NDX_EINVAL = -1,   /* malformed input (syntax, range, missing field) */
	NDX_ENOMEM = -2,   /* allocation failed */
	NDX_EIO = -3,      /* file or socket I/O failed */
	NDX_ECRYPTO = -4,  /* OpenSSL failed for a reason other than a bad signature */
	NDX_EBADSIG = -5,  /* a signature does not verify */
	NDX_EEXPIRED = -6, /* a document or credential is past its validity */
	NDX_ENOTFOUND = -7,/* a looked-up thing does not exist */
	NDX_EEXIST = -8,   /* a thing to be created exists already */
	NDX_ETOOBIG = -9,  /* input or output exceeds its cap */
	NDX_EDB = -10,     /* the store failed */
	NDX_EPERM = -11,   /* not allowed */
	NDX_ENET = -12,    /* network failure talking to a peer */
	NDX_EREVOKED = -13,/* a key or certificate has been revoked */
	NDX_EBUSY = -14,   /* held by another process; asked not to wait for it */
};

/* Returns a static, human-readable name for rc; never NULL. */
const char *ndx_strerror(int rc);

/* Writes the printf-formatted reason into err (errcap bytes; nothing when
 * err is NULL or errcap 0) and returns rc: `return ndx_fail(err, cap,
 * NDX_EINVAL, "field %s: ...", name);` */
int ndx_fail(char *err, size_t errcap, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
