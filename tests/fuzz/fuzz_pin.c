/* libFuzzer target for Vietnam's number formats (include/ndx/pin.h): the
 * personal identification number, the enterprise code and its check digit,
 * and the province codes. The first two bytes pick the "current year"
 * ndx_pin_parse compares with (0 = the clock's); the rest is the text.
 * Invariants: accepted numbers are what the header says (12 or 10 ASCII
 * digits, a known province, a birth year in range and not in the future),
 * ndx_pin_make and ndx_ecode_make rebuild accepted numbers byte for byte,
 * and refusals come with a reason. How to run: tests/fuzz/README.md. */
#include <string.h>

#include "fuzz.h"
#include "ndx/pin.h"

static bool all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static void check_pin(const char *s, int year)
{
	struct ndx_pin_info info;
	const char *why = NULL;
	char again[NDX_PIN_LEN + 1];
	uint32_t serial = 0;
	int rc;

	memset(&info, 0xa5, sizeof info);
	rc = ndx_pin_parse(s, year, &info, &why);
	if (rc != NDX_OK) {
		FUZZ_CHECK(rc == NDX_EINVAL && why != NULL && why[0] != '\0');
		return;
	}
	FUZZ_CHECK(strlen(s) == NDX_PIN_LEN && all_digits(s, NDX_PIN_LEN));
	FUZZ_CHECK(info.province[3] == '\0' && memcmp(info.province, s, 3) == 0);
	FUZZ_CHECK(ndx_province_find(info.province) != NULL);
	FUZZ_CHECK(info.female == 0 || info.female == 1);
	FUZZ_CHECK(info.birth_year >= 1900 && info.birth_year <= 2399);
	if (year > 0)
		FUZZ_CHECK(info.birth_year <= year);
	FUZZ_CHECK(ndx_pin_parse(s, year, NULL, NULL) == NDX_OK);
	for (int i = 6; i < 12; i++)
		serial = serial * 10 + (uint32_t)(s[i] - '0');
	FUZZ_CHECK(ndx_pin_make(info.province, info.female, info.birth_year, serial, again) ==
		   NDX_OK);
	FUZZ_CHECK(strcmp(again, s) == 0);
}

static void check_ecode(const char *s)
{
	const char *why = NULL;
	char again[NDX_ECODE_LEN + 1];
	int rc = ndx_ecode_check(s, &why), digit;

	if (strlen(s) >= 9) {
		char first9[10];
		memcpy(first9, s, 9);
		first9[9] = '\0';
		digit = ndx_ecode_check_digit(first9);
		FUZZ_CHECK(digit >= -1 && digit <= 9);
		/* make also refuses prefixes whose digits 3-9 are all zero. */
		if (digit >= 0 && memcmp(first9 + 2, "0000000", 7) != 0) {
			FUZZ_CHECK(all_digits(first9, 9));
			FUZZ_CHECK(ndx_ecode_make(first9, again) == NDX_OK);
			FUZZ_CHECK(memcmp(again, first9, 9) == 0 && again[9] == '0' + digit &&
				   again[10] == '\0');
		} else {
			FUZZ_CHECK(ndx_ecode_make(first9, again) == NDX_EINVAL);
		}
	} else {
		FUZZ_CHECK(ndx_ecode_check_digit(s) == -1);
	}
	if (rc != NDX_OK) {
		FUZZ_CHECK(rc == NDX_EINVAL && why != NULL && why[0] != '\0');
		return;
	}
	FUZZ_CHECK(strlen(s) == NDX_ECODE_LEN && all_digits(s, NDX_ECODE_LEN));
	/* Digits 3-9 (1-based) are not all zero. */
	FUZZ_CHECK(memcmp(s + 2, "0000000", 7) != 0);
	{
		char first9[10];
		memcpy(first9, s, 9);
		first9[9] = '\0';
		FUZZ_CHECK(ndx_ecode_check_digit(first9) == s[9] - '0');
		FUZZ_CHECK(ndx_ecode_make(first9, again) == NDX_OK && strcmp(again, s) == 0);
	}
	FUZZ_CHECK(ndx_ecode_check(s, NULL) == NDX_OK);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct ndx_province *p;
	char *s;
	int year;

	if (size < 2)
		return 0;
	/* 0 (the clock), or a year around the valid range and beyond it. */
	year = (int)(((unsigned)data[0] << 8 | data[1]) % 3000);
	s = fuzz_strndup(data + 2, size - 2);
	check_pin(s, year);
	check_ecode(s);
	if (size - 2 >= 3) {
		/* Exactly 3 bytes are read: the copy below has no NUL after them. */
		char *three = malloc(3);
		FUZZ_CHECK(three != NULL);
		memcpy(three, data + 2, 3);
		p = ndx_province_find(three);
		if (p) {
			FUZZ_CHECK(memcmp(p->code, three, 3) == 0 && strlen(p->code) == 3);
			FUZZ_CHECK(p->name != NULL && p->name[0] != '\0');
		}
		free(three);
	}
	free(s);
	return 0;
}
