/* Personal identification numbers, enterprise codes and the province table
 * (pin.h). The layout of the personal number is set by the Ministry of
 * Public Security (Circular 07/2016/TT-BCA, Article 7): 3 digits of the
 * province where the birth was registered, 1 digit for sex and century,
 * the last 2 digits of the birth year, 6 random digits. The enterprise
 * code is the tax code with its check digit (weights 31 29 23 19 17 13 7
 * 5 3, as in python-stdnum's stdnum.vn.mst). Overview: docs/sectors.md. */
#include "ndx/pin.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ndx/err.h"

static const struct ndx_province PROVINCES[NDX_PROVINCE_COUNT] = {
	{ "001", "Hà Nội" },         { "002", "Hà Giang" },      { "004", "Cao Bằng" },
	{ "006", "Bắc Kạn" },        { "008", "Tuyên Quang" },   { "010", "Lào Cai" },
	{ "011", "Điện Biên" },      { "012", "Lai Châu" },      { "014", "Sơn La" },
	{ "015", "Yên Bái" },        { "017", "Hòa Bình" },      { "019", "Thái Nguyên" },
	{ "020", "Lạng Sơn" },       { "022", "Quảng Ninh" },    { "024", "Bắc Giang" },
	{ "025", "Phú Thọ" },        { "026", "Vĩnh Phúc" },     { "027", "Bắc Ninh" },
	{ "030", "Hải Dương" },      { "031", "Hải Phòng" },     { "033", "Hưng Yên" },
	{ "034", "Thái Bình" },      { "035", "Hà Nam" },        { "036", "Nam Định" },
	{ "037", "Ninh Bình" },      { "038", "Thanh Hóa" },     { "040", "Nghệ An" },
	{ "042", "Hà Tĩnh" },        { "044", "Quảng Bình" },    { "045", "Quảng Trị" },
	{ "046", "Thừa Thiên Huế" }, { "048", "Đà Nẵng" },       { "049", "Quảng Nam" },
	{ "051", "Quảng Ngãi" },     { "052", "Bình Định" },     { "054", "Phú Yên" },
	{ "056", "Khánh Hòa" },      { "058", "Ninh Thuận" },    { "060", "Bình Thuận" },
	{ "062", "Kon Tum" },        { "064", "Gia Lai" },       { "066", "Đắk Lắk" },
	{ "067", "Đắk Nông" },       { "068", "Lâm Đồng" },      { "070", "Bình Phước" },
	{ "072", "Tây Ninh" },       { "074", "Bình Dương" },    { "075", "Đồng Nai" },
	{ "077", "Bà Rịa - Vũng Tàu" }, { "079", "TP Hồ Chí Minh" }, { "080", "Long An" },
	{ "082", "Tiền Giang" },     { "083", "Bến Tre" },       { "084", "Trà Vinh" },
	{ "086", "Vĩnh Long" },      { "087", "Đồng Tháp" },     { "089", "An Giang" },
	{ "091", "Kiên Giang" },     { "092", "Cần Thơ" },       { "093", "Hậu Giang" },
	{ "094", "Sóc Trăng" },      { "095", "Bạc Liêu" },      { "096", "Cà Mau" },
};

static const int ECODE_WEIGHTS[9] = { 31, 29, 23, 19, 17, 13, 7, 5, 3 };

const struct ndx_province *ndx_province_at(size_t i)
{
	return i < NDX_PROVINCE_COUNT ? &PROVINCES[i] : NULL;
}

const struct ndx_province *ndx_province_find(const char *code)
{
	size_t lo = 0, hi = NDX_PROVINCE_COUNT;

	if (!code)
		return NULL;
	/* The table is sorted by code: a binary search, since the seeder and
	 * the quality scan call this for every one of millions of rows. */
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = memcmp(code, PROVINCES[mid].code, 3);
		if (c == 0)
			return &PROVINCES[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

static int all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

static int this_year(void)
{
	time_t now = time(NULL);
	struct tm tm;
	if (!gmtime_r(&now, &tm))
		return 2025;
	return tm.tm_year + 1900;
}

static int fail(const char **why, const char *text)
{
	if (why)
		*why = text;
	return NDX_EINVAL;
}

int ndx_pin_parse(const char *s, int current_year, struct ndx_pin_info *info,
		  const char **why)
{
	int digit, year;

	if (!s || strlen(s) != NDX_PIN_LEN)
		return fail(why, "a personal identification number has exactly 12 digits");
	if (!all_digits(s, NDX_PIN_LEN))
		return fail(why, "a personal identification number has only the digits 0-9");
	if (!ndx_province_find(s))
		return fail(why, "the first 3 digits are not a province code");
	if (current_year <= 0)
		current_year = this_year();
	digit = s[3] - '0';
	year = 1900 + 100 * (digit / 2) + (s[4] - '0') * 10 + (s[5] - '0');
	if (1900 + 100 * (digit / 2) > current_year)
		return fail(why, "the 4th digit (sex and century) names a century to come");
	if (year > current_year)
		return fail(why, "the 5th and 6th digits give a birth year to come");
	if (info) {
		memcpy(info->province, s, 3);
		info->province[3] = '\0';
		info->female = digit % 2;
		info->birth_year = year;
	}
	if (why)
		*why = NULL;
	return NDX_OK;
}

int ndx_pin_make(const char *province, int female, int birth_year, uint32_t serial,
		 char out[NDX_PIN_LEN + 1])
{
	int century;

	if (!province || strlen(province) != 3 || !ndx_province_find(province) ||
	    birth_year < 1900 || birth_year > 2399 || serial >= 1000000)
		return NDX_EINVAL;
	century = (birth_year - 1900) / 100;
	snprintf(out, NDX_PIN_LEN + 1, "%s%d%02d%06u", province, century * 2 + (female ? 1 : 0),
		 birth_year % 100, (unsigned)serial);
	return NDX_OK;
}

int ndx_ecode_check_digit(const char *first9)
{
	int sum = 0;

	if (!first9 || !all_digits(first9, 9))
		return -1;
	for (int i = 0; i < 9; i++) {
		if (first9[i] == '\0')
			return -1;
		sum += ECODE_WEIGHTS[i] * (first9[i] - '0');
	}
	sum %= 11;
	/* 10 - 0 would need two digits: the tax authority skips those. */
	return sum == 0 ? -1 : 10 - sum;
}

int ndx_ecode_check(const char *s, const char **why)
{
	int d;

	if (!s || strlen(s) != NDX_ECODE_LEN)
		return fail(why, "an enterprise code has exactly 10 digits");
	if (!all_digits(s, NDX_ECODE_LEN))
		return fail(why, "an enterprise code has only the digits 0-9");
	if (memcmp(s + 2, "0000000", 7) == 0)
		return fail(why, "digits 3 to 9 of an enterprise code are not all zero");
	d = ndx_ecode_check_digit(s);
	if (d < 0 || s[9] - '0' != d)
		return fail(why, "the check digit (10th) of the enterprise code is wrong");
	if (why)
		*why = NULL;
	return NDX_OK;
}

int ndx_ecode_make(const char *first9, char out[NDX_ECODE_LEN + 1])
{
	int d = ndx_ecode_check_digit(first9);

	if (d < 0 || memcmp(first9 + 2, "0000000", 7) == 0)
		return NDX_EINVAL;
	memcpy(out, first9, 9);
	out[9] = (char)('0' + d);
	out[10] = '\0';
	return NDX_OK;
}
