/* Shared by the libFuzzer targets in tests/fuzz and their seed generator
 * (gen_corpus.c): the entry point prototypes libFuzzer calls, the fixed key,
 * instance, clock and message hash that seeds are made with and targets
 * check against, and an invariant check that aborts so that libFuzzer
 * records the input. How to run them: tests/fuzz/README.md. */
#ifndef NDX_FUZZ_H
#define NDX_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ndx/err.h"
#include "ndx/hash.h"
#include "ndx/key.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Seeds signed with any other key would never get past a signature check,
 * so generator and targets must agree on these. */
#define FUZZ_KEY_SEED "ndx fuzz: fixed Ed25519 seed 01" /* 31 chars + NUL = 32 */
#define FUZZ_INSTANCE "VN"
#define FUZZ_REGISTRY_URL "http://127.0.0.1:4400"
/* 2026-01-01T00:00:00Z: inside the validity of the seed configurations. */
#define FUZZ_NOW ((time_t)1767225600)
#define FUZZ_MESSAGE "ndx fuzz: the message every msgsig seed signs"

/* An invariant, not an input check: a violation is a finding. */
#define FUZZ_CHECK(cond)                                                        \
	do {                                                                    \
		if (!(cond)) {                                                  \
			fprintf(stderr, "%s:%d: invariant violated: %s\n",      \
				__FILE__, __LINE__, #cond);                     \
			abort();                                                \
		}                                                               \
	} while (0)

/* The fixed key (private half included); never freed, like any fuzzer
 * fixture that lives for the whole process. */
static inline struct ndx_key *fuzz_key(void)
{
	_Static_assert(sizeof FUZZ_KEY_SEED == NDX_ED25519_SEED_LEN, "seed must be 32 bytes");
	struct ndx_key *key = NULL;

	if (ndx_key_from_seed((const uint8_t *)FUZZ_KEY_SEED, &key) != NDX_OK) {
		fputs("fuzz: cannot make the fixed key\n", stderr);
		abort();
	}
	return key;
}

static inline void fuzz_message_hash(uint8_t out[NDX_SHA256_LEN])
{
	ndx_sha256(FUZZ_MESSAGE, strlen(FUZZ_MESSAGE), out);
}

/* A NUL-terminated copy in a buffer of exactly n + 1 bytes, so that ASan
 * catches a parser reading past the input. Aborts on allocation failure
 * (libFuzzer caps malloc with -rss_limit_mb / -malloc_limit_mb anyway). */
static inline char *fuzz_strndup(const uint8_t *data, size_t n)
{
	char *s = malloc(n + 1);

	if (s == NULL)
		abort();
	if (n > 0)
		memcpy(s, data, n);
	s[n] = '\0';
	return s;
}

#endif
