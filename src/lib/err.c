/* Human-readable names for enum ndx_err (include/ndx/err.h), used in log
 * lines and CLI messages. Overview: docs/architecture.md. */
#include "ndx/err.h"

#include <stdarg.h>
#include <stdio.h>

const char *ndx_strerror(int rc)
{
	switch ((enum ndx_err)rc) {
	case NDX_OK: return "success";
	case NDX_EINVAL: return "invalid input";
	case NDX_ENOMEM: return "out of memory";
	case NDX_EIO: return "I/O error";
	case NDX_ECRYPTO: return "cryptographic library failure";
	case NDX_EBADSIG: return "bad signature";
	case NDX_EEXPIRED: return "expired";
	case NDX_ENOTFOUND: return "not found";
	case NDX_EEXIST: return "already exists";
	case NDX_ETOOBIG: return "too big";
	case NDX_EDB: return "database error";
	case NDX_EPERM: return "not permitted";
	case NDX_ENET: return "network error";
	case NDX_EREVOKED: return "revoked";
	case NDX_EBUSY: return "busy";
	}
	return "unknown error";
}

int ndx_fail(char *err, size_t errcap, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errcap > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errcap, fmt, ap);
		va_end(ap);
	}
	return rc;
}
