/* Places for the synthetic data: for each of the 63 provinces (in the order
 * of ndx_province_at) its population weight, vehicle plate code, tax
 * office prefix, provincial capital and, for the largest cities, real
 * wards with their districts. Overview: docs/sectors.md "Synthetic data". */
#ifndef NDX_SECTOR_GAZETTEER_H
#define NDX_SECTOR_GAZETTEER_H

#include <stddef.h>

struct place {
	const char *code;        /* "079", as in ndx_province_at(i)->code */
	unsigned weight;         /* residents, tens of thousands (about 2023) */
	const char *plate;       /* 2-digit plate locality code */
	const char *tax_prefix;  /* first 2 digits of enterprise codes */
	const char *kind;        /* "Thành phố" (centrally run city) or "Tỉnh" */
	const char *capital;     /* "Thành phố Việt Trì" */
	const char *const *wards; /* "Phường Dịch Vọng, Quận Cầu Giấy"; NULL-terminated or NULL */
	unsigned numbered_wards; /* capital has Phường 1..n (southern style); 0: none */
};

/* i < NDX_PROVINCE_COUNT. */
const struct place *place_at(size_t i);

extern const char *const STREETS[];
extern const size_t NSTREETS;

#endif
