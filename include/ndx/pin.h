/* Vietnam's national number formats: the 12-digit personal identification
 * number (số định danh cá nhân, printed on the citizen identity card) and the
 * 10-digit enterprise code (mã số doanh nghiệp, which is also the enterprise's
 * tax code), plus the 63 province codes the personal number starts with.
 * Those are the provinces before the merger of 1 July 2025 and stay so:
 * a number's first three digits name where the birth was registered when
 * it was issued, and numbers never change. Addresses use today's 34
 * units (adminmap.h), whose codes are a subset of these. Pure functions, no allocation, thread-safe. Overview: docs/sectors.md
 * "Number formats". */
#ifndef NDX_PIN_H
#define NDX_PIN_H

#include <stddef.h>
#include <stdint.h>

#define NDX_PIN_LEN 12
#define NDX_ECODE_LEN 10
#define NDX_PROVINCE_COUNT 63

struct ndx_province {
	const char *code; /* "001": the 3-digit code used in personal numbers */
	const char *name; /* "Hà Nội" (UTF-8) */
};

/* The 63 former provinces (before the 1 July 2025 merger: the codes
 * existing numbers carry, and the province codes of addresses written
 * before it), in code order; i < NDX_PROVINCE_COUNT. */
const struct ndx_province *ndx_province_at(size_t i);
/* The province with this 3-digit code (exactly 3 bytes are read from
 * code, which need not be NUL-terminated), or NULL. */
const struct ndx_province *ndx_province_find(const char *code);

struct ndx_pin_info {
	char province[4]; /* "079" */
	int female;       /* 0 male, 1 female */
	int birth_year;   /* 1900..2399: digit 4 gives the century (0/1 1900s,
			   * 2/3 2000s, ... 8/9 2300s) and sex (even male) */
};

/* Checks that s is a personal identification number: exactly 12 ASCII
 * digits, a known province code, a sex/century digit whose century is not
 * after current_year (0 = this year), a birth year not after current_year.
 * Returns NDX_OK and fills *info (may be NULL), or NDX_EINVAL with *why
 * (may be NULL) set to a static sentence. */
int ndx_pin_parse(const char *s, int current_year, struct ndx_pin_info *info,
		  const char **why);
/* Writes the number of a person born in birth_year (1900..2399) with the
 * given province code and 6-digit serial (< 1000000) into out. Returns
 * NDX_OK, or NDX_EINVAL for an unknown province or out-of-range value. */
int ndx_pin_make(const char *province, int female, int birth_year, uint32_t serial,
		 char out[NDX_PIN_LEN + 1]);

/* The check digit of an enterprise code from its first 9 digits (weights
 * 31 29 23 19 17 13 7 5 3, digit = 10 - sum mod 11), or -1 when first9 is
 * not 9 digits or the sum leaves no valid digit (sum mod 11 = 0: such
 * prefixes are never issued). */
int ndx_ecode_check_digit(const char *first9);
/* Checks that s is an enterprise code: 10 ASCII digits, digits 3-9 not all
 * zero, and the check digit right. Returns NDX_OK or NDX_EINVAL with *why
 * (may be NULL) set to a static sentence. Branch codes (13 digits) are not
 * enterprise codes and are refused. */
int ndx_ecode_check(const char *s, const char **why);
/* Completes a 9-digit prefix into out. Returns NDX_OK, or NDX_EINVAL when
 * the prefix has no valid check digit (the caller picks another). */
int ndx_ecode_make(const char *first9, char out[NDX_ECODE_LEN + 1]);

#endif
