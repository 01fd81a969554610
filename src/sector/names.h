/* Vietnamese personal names and enterprise name parts for the synthetic
 * data, with the surnames weighted by their real frequency. Overview:
 * docs/sectors.md "Synthetic data". */
#ifndef NDX_SECTOR_NAMES_H
#define NDX_SECTOR_NAMES_H

#include <stddef.h>

struct weighted_name {
	const char *name;
	unsigned weight; /* per mille of the population, roughly */
};

extern const struct weighted_name SURNAMES[];
extern const size_t NSURNAMES;

/* NULL-terminated lists. */
extern const char *const MIDDLE_MALE[];
extern const char *const MIDDLE_FEMALE[];
extern const char *const GIVEN_MALE[];
extern const char *const GIVEN_FEMALE[];
extern const char *const TRADES[];     /* "Thương mại", "Xây dựng", ... */
extern const char *const BRANDS[];     /* "Minh", "Phát", ... (two form a brand) */
extern const char *const CAR_BRANDS[]; /* "Toyota Vios", ... */
extern const char *const BIKE_BRANDS[];
extern const char *const COLORS[];

/* Number of entries before the NULL. */
size_t names_count(const char *const *list);

#endif
