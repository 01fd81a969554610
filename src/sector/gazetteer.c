/* The place table (gazetteer.h). Former province codes and names come
 * from libndx (pin.c), today's units from adminmap.c; this adds what only
 * the generator needs. Populations are rounded 2023 figures; plate codes
 * follow Circular 24/2023/TT-BCA (the first code where a province has
 * several). Communes are real names but few, and only for the six
 * centrally run cities; some are wards that the 2025 rearrangement of
 * communes merged into a neighbour, kept as commune names because the data
 * is synthetic. Elsewhere an address names the ward that carries the
 * former provincial city's name. */
#include "gazetteer.h"

#include <string.h>

#include "ndx/pin.h"

static const char *const HANOI[] = {
	"Phường Phúc Xá",      "Phường Hàng Bạc",
	"Phường Dịch Vọng",   "Phường Láng Hạ",
	"Phường Bạch Mai", "Phường Nhân Chính",
	"Phường Bồ Đề",      "Phường Quảng An",
	"Phường Mộ Lao",       "Xã Đông Hội",
	NULL,
};
static const char *const HCMC[] = {
	"Phường Bến Nghé",          "Phường Tân Định",
	"Phường Võ Thị Sáu",        "Phường Sài Gòn",
	"Phường Bến Thành",         "Phường Tân Phong",
	"Phường An Lạc",            "Phường Bình Thọ",
	"Phường Gia Định",          "Xã Tân Thông Hội",
	NULL,
};
static const char *const DANANG[] = {
	"Phường Thạch Thang", "Phường An Hải Bắc",
	"Phường Mỹ An",   "Phường Hòa Khánh Bắc",
	NULL,
};
static const char *const HAIPHONG[] = {
	"Phường Máy Tơ", "Phường Đằng Giang",
	"Phường Hoàng Văn Thụ", NULL,
};
static const char *const HUE[] = {
	"Phường Thuận Hóa", "Phường Phú Xuân", "Phường Vỹ Dạ", NULL,
};
static const char *const CANTHO[] = {
	"Phường Tân An", "Phường An Hòa",
	"Phường Hưng Lợi", NULL,
};

#define TP "Thành phố "
static const struct place PLACES[NDX_PROVINCE_COUNT] = {
	{ "001", 850, "29", NULL, HANOI },
	{ "002", 90, "23", TP "Hà Giang", NULL },
	{ "004", 54, "11", TP "Cao Bằng", NULL },
	{ "006", 32, "97", TP "Bắc Kạn", NULL },
	{ "008", 80, "22", TP "Tuyên Quang", NULL },
	{ "010", 76, "24", TP "Lào Cai", NULL },
	{ "011", 63, "27", TP "Điện Biên Phủ", NULL },
	{ "012", 48, "25", TP "Lai Châu", NULL },
	{ "014", 131, "26", TP "Sơn La", NULL },
	{ "015", 84, "21", TP "Yên Bái", NULL },
	{ "017", 87, "28", TP "Hòa Bình", NULL },
	{ "019", 133, "20", TP "Thái Nguyên", NULL },
	{ "020", 79, "12", TP "Lạng Sơn", NULL },
	{ "022", 138, "14", TP "Hạ Long", NULL },
	{ "024", 192, "98", TP "Bắc Giang", NULL },
	{ "025", 150, "19", TP "Việt Trì", NULL },
	{ "026", 120, "88", TP "Vĩnh Yên", NULL },
	{ "027", 155, "99", TP "Bắc Ninh", NULL },
	{ "030", 195, "34", TP "Hải Dương", NULL },
	{ "031", 209, "15", NULL, HAIPHONG },
	{ "033", 129, "89", TP "Hưng Yên", NULL },
	{ "034", 187, "17", TP "Thái Bình", NULL },
	{ "035", 88, "90", TP "Phủ Lý", NULL },
	{ "036", 188, "18", TP "Nam Định", NULL },
	{ "037", 102, "35", TP "Ninh Bình", NULL },
	{ "038", 372, "36", TP "Thanh Hóa", NULL },
	{ "040", 352, "37", TP "Vinh", NULL },
	{ "042", 132, "38", TP "Hà Tĩnh", NULL },
	{ "044", 92, "73", TP "Đồng Hới", NULL },
	{ "045", 65, "74", TP "Đông Hà", NULL },
	{ "046", 118, "75", NULL, HUE },
	{ "048", 123, "43", NULL, DANANG },
	{ "049", 152, "92", TP "Tam Kỳ", NULL },
	{ "051", 125, "76", TP "Quảng Ngãi", NULL },
	{ "052", 150, "77", TP "Quy Nhơn", NULL },
	{ "054", 88, "78", TP "Tuy Hòa", NULL },
	{ "056", 126, "79", TP "Nha Trang", NULL },
	{ "058", 60, "85", TP "Phan Rang - Tháp Chàm", NULL },
	{ "060", 127, "86", TP "Phan Thiết", NULL },
	{ "062", 58, "82", TP "Kon Tum", NULL },
	{ "064", 161, "81", TP "Pleiku", NULL },
	{ "066", 193, "47", TP "Buôn Ma Thuột", NULL },
	{ "067", 68, "48", TP "Gia Nghĩa", NULL },
	{ "068", 132, "49", TP "Đà Lạt", NULL },
	{ "070", 104, "93", TP "Đồng Xoài", NULL },
	{ "072", 118, "70", TP "Tây Ninh", NULL },
	{ "074", 277, "61", TP "Thủ Dầu Một", NULL },
	{ "075", 325, "60", TP "Biên Hòa", NULL },
	{ "077", 118, "72", TP "Bà Rịa", NULL },
	{ "079", 946, "51", NULL, HCMC },
	{ "080", 175, "62", TP "Tân An", NULL },
	{ "082", 179, "63", TP "Mỹ Tho", NULL },
	{ "083", 129, "71", TP "Bến Tre", NULL },
	{ "084", 101, "84", TP "Trà Vinh", NULL },
	{ "086", 103, "64", TP "Vĩnh Long", NULL },
	{ "087", 160, "66", TP "Cao Lãnh", NULL },
	{ "089", 190, "67", TP "Long Xuyên", NULL },
	{ "091", 175, "68", TP "Rạch Giá", NULL },
	{ "092", 125, "65", NULL, CANTHO },
	{ "093", 73, "95", TP "Vị Thanh", NULL },
	{ "094", 120, "83", TP "Sóc Trăng", NULL },
	{ "095", 92, "94", TP "Bạc Liêu", NULL },
	{ "096", 121, "69", TP "Cà Mau", NULL },
};

const struct place *place_at(size_t i)
{
	return i < NDX_PROVINCE_COUNT ? &PLACES[i] : NULL;
}

const struct place *place_find(const char *code)
{
	for (size_t i = 0; code && i < NDX_PROVINCE_COUNT; i++)
		if (strcmp(PLACES[i].code, code) == 0)
			return &PLACES[i];
	return NULL;
}

/* Street names found in nearly every Vietnamese city. */
const char *const STREETS[] = {
	"Lê Lợi",         "Trần Hưng Đạo", "Nguyễn Huệ",    "Hai Bà Trưng", "Quang Trung",
	"Lý Thường Kiệt", "Nguyễn Trãi",   "Lê Duẩn",       "Phan Chu Trinh", "Hùng Vương",
	"Trần Phú",       "Nguyễn Du",     "Bà Triệu",      "Điện Biên Phủ", "Lê Lai",
	"Nguyễn Văn Cừ",  "Võ Thị Sáu",    "Hoàng Diệu",    "Ngô Quyền",    "Lạc Long Quân",
	"Phạm Văn Đồng",  "Lê Hồng Phong", "Nguyễn Thị Minh Khai", "Trường Chinh",
	"Lý Thái Tổ",     "Pasteur",       "Nguyễn Chí Thanh", "Tôn Đức Thắng",
};
const size_t NSTREETS = sizeof STREETS / sizeof *STREETS;
