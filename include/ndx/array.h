/* Room in a growable array of fixed-size elements, for a store or a reader
 * that collects rows one at a time into a list it hands its caller. One
 * place that doubles the capacity and checks the size arithmetic, instead
 * of a realloc loop in every reader (the event store's, the usage
 * statement's, the monitoring cases'). Text and bytes that a peer sends
 * belong in ndx/buf.h, which also caps them. */
#ifndef NDX_ARRAY_H
#define NDX_ARRAY_H

#include <stddef.h>

/* Makes sure the array at *arr, holding *cap elements of elem bytes, has
 * room for element n (0-based): when n >= *cap, it is reallocated to twice
 * its capacity (min_cap for an empty one, or more until n fits). NDX_OK;
 * NDX_ENOMEM when the memory cannot grow or the size would overflow, with
 * *arr and *cap unchanged (the caller still owns and frees the array). */
int ndx_array_reserve(void **arr, size_t *cap, size_t n, size_t elem, size_t min_cap);

/* The same for an array pointer arr and its capacity cap (lvalues),
 * starting at 16 elements. */
#define NDX_ARRAY_RESERVE(arr, cap, n) \
	ndx_array_reserve((void **)&(arr), &(cap), (n), sizeof *(arr), 16)

#endif
