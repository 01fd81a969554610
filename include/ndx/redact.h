/* Keyed pseudonyms for personal identification numbers in log lines: a
 * daemon's access log and stderr must not carry a citizen's 12-digit PIN in
 * clear, yet an operator must still be able to tell that two lines concern
 * the same person. Each run of exactly 12 ASCII digits becomes
 * "pin:" + the first 12 hex digits of HMAC-SHA-256(key, digits), the key
 * being the daemon's own secret (0600 file in its data directory). Overview:
 * docs/security.md (T34). */
#ifndef NDX_REDACT_H
#define NDX_REDACT_H

#include <stddef.h>

#define NDX_REDACT_KEY_LEN 32
/* "pin:" and 12 hex digits. */
#define NDX_REDACT_TAG_LEN 16

/* Makes the key in the file at path the process's log key: reads it (32
 * bytes as 64 hex digits), or creates it (random, mode 0600, atomically)
 * when the file does not exist; the directory must exist. Call once at
 * start, before any thread logs. Returns NDX_OK, NDX_EIO (unreadable,
 * unwritable), NDX_EINVAL (not a key file), NDX_ECRYPTO (no randomness). */
int ndx_redact_load_key(const char *path);

/* Copies in into out (cap bytes, always NUL-terminated when cap > 0,
 * truncated to fit) with every run of exactly 12 digits (not part of a
 * longer run of digits) replaced by its keyed tag. Without
 * ndx_redact_load_key, a random key made once per process is used: tags
 * then correlate only within one run. Thread-safe. Returns the length of
 * out. */
size_t ndx_redact_pins(const char *in, char *out, size_t cap);

/* Whether s holds a run of exactly 12 digits that ndx_redact_pins would
 * replace. */
int ndx_redact_has_pin(const char *s);

#endif
