/* Whole-file reads with a size cap and crash-safe whole-file writes, for
 * keys, anchors, configuration and certificates. */
#ifndef NDX_FILE_H
#define NDX_FILE_H

#include <stddef.h>
#include <sys/types.h>

/* Reads path into a malloc'd buffer (*out, caller frees) with a NUL byte
 * after the *len bytes read. Returns NDX_EIO (missing, unreadable),
 * NDX_ETOOBIG (larger than cap bytes), NDX_ENOMEM. */
int ndx_file_read(const char *path, size_t cap, char **out, size_t *len);

/* The first line of the file at path (a secret: at most 4 KiB), without
 * its line end, malloc'd into *out (the caller cleanses and frees it).
 * NDX_EIO (missing, unreadable), NDX_ETOOBIG, NDX_EINVAL (the first line
 * is empty or holds a NUL), NDX_ENOMEM. */
int ndx_file_read_secret(const char *path, char **out);

/* Writes data to path.tmp.<pid> with the given mode, fsyncs it, renames it
 * over path and fsyncs the directory: readers see the old file or the new
 * one, never a mix. With exclusive set, fails with NDX_EEXIST when path
 * exists. Returns NDX_OK or NDX_EIO. */
int ndx_file_write_atomic(const char *path, const void *data, size_t len,
			  mode_t mode, int exclusive);

/* mkdir -p with mode for each created directory. NDX_OK or NDX_EIO. */
int ndx_mkdirs(const char *path, mode_t mode);

#endif
