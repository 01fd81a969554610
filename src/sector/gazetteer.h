/* Places for the synthetic data: for each of the 63 former provinces (in
 * the order of ndx_province_at) its population weight, vehicle plate code,
 * former provincial city and, for the centrally run cities, real commune
 * names. The generator maps each place to today's unit (adminmap.h) for
 * addresses. Overview: docs/sectors.md "Synthetic data". */
#ifndef NDX_SECTOR_GAZETTEER_H
#define NDX_SECTOR_GAZETTEER_H

#include <stddef.h>

struct place {
	const char *code;        /* "079", as in ndx_province_at(i)->code */
	unsigned weight;         /* residents, tens of thousands (about 2023) */
	const char *plate;       /* 2-digit plate locality code */
	const char *capital;     /* "Thành phố Việt Trì": the former provincial city */
	const char *const *wards; /* "Phường Dịch Vọng" (no district); NULL-terminated or NULL */
};

/* i < NDX_PROVINCE_COUNT, else NULL. */
const struct place *place_at(size_t i);
/* The place with this former province code (NUL-terminated), or NULL. */
const struct place *place_find(const char *code);

extern const char *const STREETS[];
extern const size_t NSTREETS;

#endif
