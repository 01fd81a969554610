/* One exchange's allocation arena (issue 16): the strings, header lists
 * and copies an exchange of the consumer or the provider port makes for
 * itself come from a memory pool of its own (h2o 2.2.5's h2o_mem_pool_t,
 * which the gateway links already), released in one go when the exchange
 * ends, instead of a malloc and a free each.
 *
 * An exchange is handled by one thread at a time (its port's loop, then
 * the exchange loop it is handed to, then the message log's writer, each
 * hand-off through a locked queue), and only the thread that holds it
 * allocates from its arena or clears it; nothing from the arena outlives
 * the exchange or goes to another owner (the log writer reads the record's
 * strings until its callback, which runs before the clear; the signer
 * gets the hash by value). h2o keeps free 4 KiB chunks for reuse per
 * thread: the chunks of an exchange that ends on the writer thread go to
 * that thread's cache (freed once it is full), so the thread that starts
 * the next exchange allocates its first chunk anew (one malloc an
 * exchange, counted: bench/README.md "One arena per exchange").
 *
 * Out of memory, h2o's allocator aborts the process (h2o_fatal), as it
 * does for the h2o ports and the backend client already: the functions
 * here never return NULL. */
#ifndef NDX_GATEWAY_GWARENA_H
#define NDX_GATEWAY_GWARENA_H

#include <h2o/memory.h>
#include <stddef.h>

struct gw_arena {
	h2o_mem_pool_t pool;
};

void gw_arena_init(struct gw_arena *a);
/* Releases everything allocated from a; a can be used again. */
void gw_arena_clear(struct gw_arena *a);
/* n bytes (n >= 0; 8-byte aligned), not zeroed. Requests of a quarter of
 * a chunk (about 1 KiB) or more are a malloc of their own, freed with the
 * rest. */
void *gw_arena_alloc(struct gw_arena *a, size_t n);
char *gw_arena_strdup(struct gw_arena *a, const char *s);
char *gw_arena_strndup(struct gw_arena *a, const char *s, size_t n);
/* The strings up to the NULL one, one after another: what an exchange
 * joins on every request (header lines, paths), copied rather than
 * formatted (a signature header's value is ~500 bytes). */
char *gw_arena_concat(struct gw_arena *a, ...) __attribute__((sentinel));

#endif
