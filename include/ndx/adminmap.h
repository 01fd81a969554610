/* Vietnam's administrative map since 1 July 2025: the 34 provincial-level
 * units (6 centrally run cities, 28 provinces) of Resolution
 * 202/2025/QH15, each with the former provinces merged into it, so an
 * address written before the merger maps to today's province. Local
 * government has two levels (province, commune); districts are gone.
 * The 63 former provinces stay in pin.h: they are the birth-registration
 * codes personal identification numbers carry, and numbers never change.
 * Pure functions over static tables, thread-safe. Overview: docs/sectors.md
 * "Administrative map". */
#ifndef NDX_ADMINMAP_H
#define NDX_ADMINMAP_H

#include <stddef.h>

#define NDX_ADMIN_PROVINCE_COUNT 34

struct ndx_admin_province {
	/* "012": the 2-digit code of Decision 19/2025/QĐ-TTg's list of
	 * administrative units ("12") written with the leading 0, as the 63
	 * former codes are (pin.h). Every new code is the former code of the
	 * province holding the new seat, so it is also a former code. */
	const char *code;
	const char *name;    /* "Lai Châu" (UTF-8) */
	const char *name_en; /* "Lai Chau" */
	const char *kind;    /* "Thành phố" (centrally run city) or "Tỉnh" */
	/* The former provinces' codes, the seat's first, NULL-terminated. */
	const char *merged[4];
	/* First 2 digits of enterprise codes issued here: those of the tax
	 * office of the former province that holds the seat. */
	const char *ecode_prefix;
};

/* The 34 units in code order; i < NDX_ADMIN_PROVINCE_COUNT, else NULL. */
const struct ndx_admin_province *ndx_admin_province_at(size_t i);
/* The unit whose current code is exactly these 3 bytes (code need not be
 * NUL-terminated; NULL gives NULL), or NULL: a former code that is not
 * also a current one ("030", Hải Dương) is not found. */
const struct ndx_admin_province *ndx_admin_province_find(const char *code);
/* The unit an address in province code lies in today: code may be current
 * or former (63-province) code, 3 bytes read; NULL when it is neither. */
const struct ndx_admin_province *ndx_admin_province_of(const char *code);
/* The index (ndx_admin_province_at) of ndx_admin_province_of(code), or -1. */
int ndx_admin_province_index_of(const char *code);
/* The unit named name (UTF-8, NUL-terminated): its Vietnamese or English
 * name, with or without diacritics, any case, spaces and punctuation
 * ignored, optionally after "Tỉnh", "Thành phố" or "TP"; or a former
 * province's name (pin.h), which gives the unit it merged into. NULL when
 * nothing matches or name is NULL or longer than 200 bytes. */
const struct ndx_admin_province *ndx_admin_province_by_name(const char *name);

#endif
