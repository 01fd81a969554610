/* Values that daemons and the CLI take from their command lines and
 * configuration files: listen addresses and bounded integers. One parser
 * each, so every program accepts and refuses the same forms. */
#ifndef NDX_ARGS_H
#define NDX_ARGS_H

#include <stddef.h>
#include <stdint.h>

/* Parses a listen address "ADDR:PORT", or "PORT" alone meaning loopback
 * (127.0.0.1). ADDR must be an IPv4 literal (what httpd.h binds); PORT is
 * 0..65535 (0: any free port). Writes ADDR into addr (cap bytes) and the
 * port into *port. Returns NDX_OK, or NDX_EINVAL with *why (when not NULL)
 * pointing at a static sentence. */
int ndx_args_listen(const char *text, char *addr, size_t cap, uint16_t *port,
		    const char **why);

/* Parses a decimal integer from min to max: no sign, no spaces, nothing
 * after the digits. Returns NDX_OK with *out set, or NDX_EINVAL. */
int ndx_args_uint(const char *text, unsigned long long min, unsigned long long max,
		  unsigned long long *out);

/* The same for a command-line option: on a bad value prints
 * "PROG: OPT: expected an integer from MIN to MAX, got "TEXT"" on stderr
 * and returns -1; 0 with *out set otherwise. */
int ndx_args_uint_opt(const char *prog, const char *opt, const char *text,
		      unsigned long long min, unsigned long long max, unsigned long long *out);

/* The same into an unsigned long (max must fit one). */
int ndx_args_ulong_opt(const char *prog, const char *opt, const char *text, unsigned long min,
		       unsigned long max, unsigned long *out);

/* Writes "DIR/FILE" into out (cap bytes). When it does not fit, prints
 * "PROG: path too long: DIR/FILE" on stderr and returns -1; 0 otherwise. */
int ndx_args_join(const char *prog, char *out, size_t cap, const char *dir, const char *file);

#endif
