/* The administrative map of 1 July 2025 (adminmap.h). The units, their
 * kinds and the provinces merged into each are those of Resolution
 * 202/2025/QH15 of the National Assembly (12 June 2025, in force the same
 * day, local governments from 1 July 2025); the codes are those of the
 * Government's list of administrative units after the merger (Decision
 * 19/2025/QĐ-TTg), where a merged unit takes the code of the former
 * province holding its seat. Enterprise code prefixes are the seat's
 * tax office's usual first two digits (as the generator's gazetteer has
 * them; nothing validates them). Overview: docs/sectors.md "Administrative
 * map". */
#include "ndx/adminmap.h"

#include <string.h>

#include "ndx/fold.h"
#include "ndx/pin.h"

#define TP "Thành phố"
#define T "Tỉnh"

static const struct ndx_admin_province UNITS[NDX_ADMIN_PROVINCE_COUNT] = {
	{ "001", "Hà Nội", "Hanoi", TP, { "001", NULL }, "01" },
	{ "004", "Cao Bằng", "Cao Bang", T, { "004", NULL }, "48" },
	{ "008", "Tuyên Quang", "Tuyen Quang", T, { "008", "002", NULL }, "50" },
	{ "011", "Điện Biên", "Dien Bien", T, { "011", NULL }, "56" },
	{ "012", "Lai Châu", "Lai Chau", T, { "012", NULL }, "62" },
	{ "014", "Sơn La", "Son La", T, { "014", NULL }, "55" },
	{ "015", "Lào Cai", "Lao Cai", T, { "015", "010", NULL }, "52" },
	{ "019", "Thái Nguyên", "Thai Nguyen", T, { "019", "006", NULL }, "46" },
	{ "020", "Lạng Sơn", "Lang Son", T, { "020", NULL }, "49" },
	{ "022", "Quảng Ninh", "Quang Ninh", T, { "022", NULL }, "57" },
	{ "024", "Bắc Ninh", "Bac Ninh", T, { "024", "027", NULL }, "24" },
	{ "025", "Phú Thọ", "Phu Tho", T, { "025", "026", "017", NULL }, "26" },
	{ "031", "Hải Phòng", "Hai Phong", TP, { "031", "030", NULL }, "02" },
	{ "033", "Hưng Yên", "Hung Yen", T, { "033", "034", NULL }, "09" },
	{ "037", "Ninh Bình", "Ninh Binh", T, { "037", "035", "036", NULL }, "27" },
	{ "038", "Thanh Hóa", "Thanh Hoa", T, { "038", NULL }, "28" },
	{ "040", "Nghệ An", "Nghe An", T, { "040", NULL }, "29" },
	{ "042", "Hà Tĩnh", "Ha Tinh", T, { "042", NULL }, "30" },
	{ "044", "Quảng Trị", "Quang Tri", T, { "044", "045", NULL }, "31" },
	{ "046", "Huế", "Hue", TP, { "046", NULL }, "33" },
	{ "048", "Đà Nẵng", "Da Nang", TP, { "048", "049", NULL }, "04" },
	{ "051", "Quảng Ngãi", "Quang Ngai", T, { "051", "062", NULL }, "43" },
	{ "052", "Gia Lai", "Gia Lai", T, { "052", "064", NULL }, "41" },
	{ "056", "Khánh Hòa", "Khanh Hoa", T, { "056", "058", NULL }, "42" },
	{ "066", "Đắk Lắk", "Dak Lak", T, { "066", "054", NULL }, "60" },
	{ "068", "Lâm Đồng", "Lam Dong", T, { "068", "067", "060", NULL }, "58" },
	{ "075", "Đồng Nai", "Dong Nai", T, { "075", "070", NULL }, "36" },
	{ "079", "Hồ Chí Minh", "Ho Chi Minh City", TP, { "079", "074", "077", NULL }, "03" },
	{ "080", "Tây Ninh", "Tay Ninh", T, { "080", "072", NULL }, "11" },
	{ "082", "Đồng Tháp", "Dong Thap", T, { "082", "087", NULL }, "12" },
	{ "086", "Vĩnh Long", "Vinh Long", T, { "086", "083", "084", NULL }, "15" },
	{ "091", "An Giang", "An Giang", T, { "091", "089", NULL }, "17" },
	{ "092", "Cần Thơ", "Can Tho", TP, { "092", "094", "093", NULL }, "18" },
	{ "096", "Cà Mau", "Ca Mau", T, { "096", "095", NULL }, "20" },
};

const struct ndx_admin_province *ndx_admin_province_at(size_t i)
{
	return i < NDX_ADMIN_PROVINCE_COUNT ? &UNITS[i] : NULL;
}

const struct ndx_admin_province *ndx_admin_province_find(const char *code)
{
	if (!code || strnlen(code, 3) < 3)
		return NULL;
	for (size_t i = 0; i < NDX_ADMIN_PROVINCE_COUNT; i++)
		if (memcmp(code, UNITS[i].code, 3) == 0)
			return &UNITS[i];
	return NULL;
}

int ndx_admin_province_index_of(const char *code)
{
	if (!code || strnlen(code, 3) < 3 || !ndx_province_find(code))
		return -1; /* not 3 digits of a known code (also checks the bytes are there) */
	for (size_t i = 0; i < NDX_ADMIN_PROVINCE_COUNT; i++)
		for (const char *const *m = UNITS[i].merged; *m; m++)
			if (memcmp(code, *m, 3) == 0)
				return (int)i;
	return -1;
}

const struct ndx_admin_province *ndx_admin_province_of(const char *code)
{
	int i = ndx_admin_province_index_of(code);
	return i < 0 ? NULL : &UNITS[i];
}

/* name folded (ndx_fold) with everything but ASCII letters and digits
 * dropped; -1 when it does not fit. */
static int name_key(const char *name, char *out, size_t cap)
{
	size_t n = 0;

	if (ndx_fold(name, out, cap) < 0)
		return -1;
	for (size_t i = 0; out[i]; i++)
		if ((out[i] >= 'a' && out[i] <= 'z') || (out[i] >= '0' && out[i] <= '9'))
			out[n++] = out[i];
	out[n] = 0;
	return 0;
}

static int same_name(const char *key, const char *name)
{
	char k[256];
	return name_key(name, k, sizeof k) == 0 && strcmp(key, k) == 0;
}

const struct ndx_admin_province *ndx_admin_province_by_name(const char *name)
{
	static const char *const PREFIXES[] = { "thanh pho ", "tinh ", "tp. ", "tp.", "tp ", NULL };
	char folded[256], key[256];
	const char *rest;

	if (!name || strlen(name) > 200 || ndx_fold(name, folded, sizeof folded) < 0)
		return NULL;
	rest = folded;
	for (size_t i = 0; PREFIXES[i]; i++)
		if (strncmp(rest, PREFIXES[i], strlen(PREFIXES[i])) == 0) {
			rest += strlen(PREFIXES[i]);
			break;
		}
	if (name_key(rest, key, sizeof key) < 0 || !key[0])
		return NULL;
	for (size_t i = 0; i < NDX_ADMIN_PROVINCE_COUNT; i++)
		if (same_name(key, UNITS[i].name) || same_name(key, UNITS[i].name_en))
			return &UNITS[i];
	for (size_t i = 0; i < NDX_PROVINCE_COUNT; i++) {
		const struct ndx_province *p = ndx_province_at(i);
		char k[256];
		/* The former table writes "TP Hồ Chí Minh": compare without it. */
		if (name_key(strncmp(p->name, "TP ", 3) == 0 ? p->name + 3 : p->name, k, sizeof k) == 0 &&
		    strcmp(key, k) == 0)
			return ndx_admin_province_of(p->code);
	}
	return NULL;
}
