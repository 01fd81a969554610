/* Listen addresses and bounded integers from command lines and
 * configuration files (include/ndx/args.h). */
#include "ndx/args.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ndx/err.h"

int ndx_args_uint(const char *text, unsigned long long min, unsigned long long max,
		  unsigned long long *out)
{
	char *end;
	unsigned long long v;

	/* strtoull accepts a sign and leading spaces; a count never has them. */
	if (text == NULL || text[0] < '0' || text[0] > '9')
		return NDX_EINVAL;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return NDX_EINVAL;
	*out = v;
	return NDX_OK;
}

int ndx_args_listen(const char *text, char *addr, size_t cap, uint16_t *port,
		    const char **why)
{
	const char *colon = strrchr(text, ':');
	const char *digits = colon != NULL ? colon + 1 : text;
	unsigned long long p;
	struct in_addr in;
	size_t n;

	if (colon != NULL) {
		n = (size_t)(colon - text);
		if (n == 0 || n >= cap) {
			if (why)
				*why = "expected ADDR:PORT or PORT";
			return NDX_EINVAL;
		}
		memcpy(addr, text, n);
		addr[n] = '\0';
	} else {
		if (cap < sizeof "127.0.0.1") {
			if (why)
				*why = "address buffer too small";
			return NDX_EINVAL;
		}
		memcpy(addr, "127.0.0.1", sizeof "127.0.0.1");
	}
	if (inet_pton(AF_INET, addr, &in) != 1) {
		if (why)
			*why = "the address must be an IPv4 literal such as 127.0.0.1";
		return NDX_EINVAL;
	}
	if (ndx_args_uint(digits, 0, 65535, &p) != NDX_OK) {
		if (why)
			*why = "the port must be a number from 0 to 65535";
		return NDX_EINVAL;
	}
	*port = (uint16_t)p;
	return NDX_OK;
}

int ndx_args_uint_opt(const char *prog, const char *opt, const char *text,
		      unsigned long long min, unsigned long long max, unsigned long long *out)
{
	if (ndx_args_uint(text, min, max, out) != NDX_OK) {
		fprintf(stderr, "%s: %s: expected an integer from %llu to %llu, got \"%s\"\n", prog,
			opt, min, max, text);
		return -1;
	}
	return 0;
}

int ndx_args_ulong_opt(const char *prog, const char *opt, const char *text, unsigned long min,
		       unsigned long max, unsigned long *out)
{
	unsigned long long v;

	if (ndx_args_uint_opt(prog, opt, text, min, max, &v))
		return -1;
	*out = (unsigned long)v;
	return 0;
}

int ndx_args_join(const char *prog, char *out, size_t cap, const char *dir, const char *file)
{
	int n = snprintf(out, cap, "%s/%s", dir, file);

	if (n < 0 || (size_t)n >= cap) {
		fprintf(stderr, "%s: path too long: %s/%s\n", prog, dir, file);
		return -1;
	}
	return 0;
}
