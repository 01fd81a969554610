/* The CPU of the per-exchange routines that "CPU cuts (2026-12-03 session
 * 2)" in bench/README.md changed, timed on their own so that a change of a
 * few microseconds shows on a machine whose load moves `bench/run`'s figures
 * by more than that: the access-log line (httpd_access_log_line_h2, to
 * /dev/null), a PIN's tag (ndx_redact_pins of a 12-digit run), and the
 * signature objects of a batch (ndx_msgsig_sign_batch of 6 hashes, the
 * batch size `make bench` measures, per message), and the hash of a
 * request's user headers (gw_uh_hash of two, four an exchange), and one
 * Ed25519 signature and verification of a 32-byte tree root (ndx_sign,
 * ndx_verify: OpenSSL's before dde2cdf, libsodium's since). The same source builds
 * against an older libndx to compare. Thread CPU time, best of 7 runs of N
 * calls each; prints one line per routine in ns per call.
 *
 *   cuts_bench [N]       (default 20000) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>

#include "ndx/hash.h"
#include "ndx/key.h"
#include "ndx/msgsig.h"
#include "ndx/redact.h"

#include "../src/lib/httpd_int.h"
#include "userheaders.h"

#define RUNS 7

static double cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static struct ndx_key *key;

static void one_line(void)
{
	static const struct httpd_log log = { .name = "ndx-gateway", .on = 1 };
	struct timespec start;

	clock_gettime(CLOCK_MONOTONIC, &start);
	httpd_access_log_line_h2(&log, "127.0.0.1:40312", &start, "GET",
				 "/r1/VN/GOV/BCA/population/citizens/079123456789", 200, NULL, 78,
				 NULL, NULL, 1);
}

static void one_tag(void)
{
	char out[64];

	ndx_redact_pins("079123456789", out, sizeof out);
}

static void one_batch(void)
{
	uint8_t h[6][NDX_SHA256_LEN];
	char *out[6];

	memset(h, 7, sizeof h);
	for (int i = 0; i < 6; i++)
		h[i][0] = (uint8_t)i;
	if (ndx_msgsig_sign_batch(key, (const uint8_t(*)[NDX_SHA256_LEN])h, 6, out) != 0)
		abort();
	for (int i = 0; i < 6; i++)
		free(out[i]);
}

static struct gw_uh_list uh;

static uint8_t root[NDX_SHA256_LEN], root_sig[NDX_ED25519_SIG_LEN];

static void one_sign(void)
{
	if (ndx_sign(key, root, sizeof root, root_sig) != 0)
		abort();
}

static void one_verify(void)
{
	if (ndx_verify(key, root, sizeof root, root_sig) != 0)
		abort();
}

static void one_uh_hash(void)
{
	uint8_t out[NDX_SHA256_LEN];

	gw_uh_hash(&uh, out);
}

static double best(void (*fn)(void), long n)
{
	double min = 1e30;

	for (int r = 0; r < RUNS; r++) {
		double t0 = cpu_ns();

		for (long i = 0; i < n; i++)
			fn();
		t0 = (cpu_ns() - t0) / (double)n;
		if (t0 < min)
			min = t0;
	}
	return min;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 20000;
	int devnull = open("/dev/null", O_WRONLY);

	if (n <= 0 || devnull < 0 || dup2(devnull, STDERR_FILENO) < 0)
		return 2;
	close(devnull);
	if (ndx_key_generate(&key) != 0)
		return 2;
	printf("access_line_ns %.0f\n", best(one_line, n));
	printf("pin_tag_ns %.0f\n", best(one_tag, n));
	if (gw_uh_add(&uh, "X-Purpose", 9, "public-service", 14) != 0 ||
	    gw_uh_add(&uh, "X-Case", 6, "2026-0001", 9) != 0)
		return 2;
	printf("uh_hash_ns %.0f\n", best(one_uh_hash, n));
	gw_uh_free(&uh);
	printf("sign_batch6_per_msg_ns %.0f\n", best(one_batch, n / 10) / 6);
	memset(root, 0x5a, sizeof root);
	printf("ed25519_sign_ns %.0f\n", best(one_sign, n / 10));
	printf("ed25519_verify_ns %.0f\n", best(one_verify, n / 10));
	ndx_key_free(key);
	return 0;
}
