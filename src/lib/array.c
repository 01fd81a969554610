/* Room in a growable array (include/ndx/array.h). */
#include <stdint.h>
#include <stdlib.h>

#include "ndx/array.h"
#include "ndx/err.h"

int ndx_array_reserve(void **arr, size_t *cap, size_t n, size_t elem, size_t min_cap)
{
	size_t ncap;
	void *p;

	if (n < *cap)
		return NDX_OK;
	ncap = *cap ? *cap : (min_cap ? min_cap : 1);
	while (ncap <= n) {
		if (ncap > SIZE_MAX / 2)
			return NDX_ENOMEM;
		ncap *= 2;
	}
	if (elem && ncap > SIZE_MAX / elem)
		return NDX_ENOMEM;
	p = realloc(*arr, ncap * elem);
	if (!p)
		return NDX_ENOMEM;
	*arr = p;
	*cap = ncap;
	return NDX_OK;
}
