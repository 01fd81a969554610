/* The place table (gazetteer.h). Province codes and names come from libndx
 * (pin.c); this adds what only the generator needs. Populations are
 * rounded 2023 figures; plate codes follow Circular 24/2023/TT-BCA (the
 * first code where a province has several); tax prefixes are the usual
 * first two digits of enterprise codes registered in the province (written
 * from general knowledge and not checked against an official list: they
 * only make the data look familiar, nothing validates them). Wards are
 * real but few, and only for the five centrally run cities; elsewhere an
 * address names the provincial capital. */
#include "gazetteer.h"

#include "ndx/pin.h"

static const char *const HANOI[] = {
	"Phường Phúc Xá, Quận Ba Đình",      "Phường Hàng Bạc, Quận Hoàn Kiếm",
	"Phường Dịch Vọng, Quận Cầu Giấy",   "Phường Láng Hạ, Quận Đống Đa",
	"Phường Bạch Mai, Quận Hai Bà Trưng", "Phường Nhân Chính, Quận Thanh Xuân",
	"Phường Bồ Đề, Quận Long Biên",      "Phường Quảng An, Quận Tây Hồ",
	"Phường Mộ Lao, Quận Hà Đông",       "Xã Đông Hội, Huyện Đông Anh",
	NULL,
};
static const char *const HCMC[] = {
	"Phường Bến Nghé, Quận 1",          "Phường Tân Định, Quận 1",
	"Phường Võ Thị Sáu, Quận 3",        "Phường 12, Quận Tân Bình",
	"Phường 25, Quận Bình Thạnh",       "Phường Tân Phong, Quận 7",
	"Phường An Lạc, Quận Bình Tân",     "Phường Bình Thọ, Thành phố Thủ Đức",
	"Phường 7, Quận Gò Vấp",            "Xã Tân Thông Hội, Huyện Củ Chi",
	NULL,
};
static const char *const DANANG[] = {
	"Phường Thạch Thang, Quận Hải Châu", "Phường An Hải Bắc, Quận Sơn Trà",
	"Phường Mỹ An, Quận Ngũ Hành Sơn",   "Phường Hòa Khánh Bắc, Quận Liên Chiểu",
	NULL,
};
static const char *const HAIPHONG[] = {
	"Phường Máy Tơ, Quận Ngô Quyền", "Phường Đằng Giang, Quận Ngô Quyền",
	"Phường Hoàng Văn Thụ, Quận Hồng Bàng", NULL,
};
static const char *const CANTHO[] = {
	"Phường Tân An, Quận Ninh Kiều", "Phường An Hòa, Quận Ninh Kiều",
	"Phường Hưng Lợi, Quận Ninh Kiều", NULL,
};

#define TP "Thành phố "
static const struct place PLACES[NDX_PROVINCE_COUNT] = {
	{ "001", 850, "29", "01", "Thành phố", NULL, HANOI, 0 },
	{ "002", 90, "23", "51", "Tỉnh", TP "Hà Giang", NULL, 0 },
	{ "004", 54, "11", "48", "Tỉnh", TP "Cao Bằng", NULL, 0 },
	{ "006", 32, "97", "47", "Tỉnh", TP "Bắc Kạn", NULL, 0 },
	{ "008", 80, "22", "50", "Tỉnh", TP "Tuyên Quang", NULL, 0 },
	{ "010", 76, "24", "53", "Tỉnh", TP "Lào Cai", NULL, 0 },
	{ "011", 63, "27", "56", "Tỉnh", TP "Điện Biên Phủ", NULL, 0 },
	{ "012", 48, "25", "62", "Tỉnh", TP "Lai Châu", NULL, 0 },
	{ "014", 131, "26", "55", "Tỉnh", TP "Sơn La", NULL, 0 },
	{ "015", 84, "21", "52", "Tỉnh", TP "Yên Bái", NULL, 0 },
	{ "017", 87, "28", "54", "Tỉnh", TP "Hòa Bình", NULL, 0 },
	{ "019", 133, "20", "46", "Tỉnh", TP "Thái Nguyên", NULL, 0 },
	{ "020", 79, "12", "49", "Tỉnh", TP "Lạng Sơn", NULL, 0 },
	{ "022", 138, "14", "57", "Tỉnh", TP "Hạ Long", NULL, 0 },
	{ "024", 192, "98", "24", "Tỉnh", TP "Bắc Giang", NULL, 0 },
	{ "025", 150, "19", "26", "Tỉnh", TP "Việt Trì", NULL, 0 },
	{ "026", 120, "88", "25", "Tỉnh", TP "Vĩnh Yên", NULL, 0 },
	{ "027", 155, "99", "23", "Tỉnh", TP "Bắc Ninh", NULL, 0 },
	{ "030", 195, "34", "08", "Tỉnh", TP "Hải Dương", NULL, 0 },
	{ "031", 209, "15", "02", "Thành phố", NULL, HAIPHONG, 0 },
	{ "033", 129, "89", "09", "Tỉnh", TP "Hưng Yên", NULL, 0 },
	{ "034", 187, "17", "10", "Tỉnh", TP "Thái Bình", NULL, 0 },
	{ "035", 88, "90", "07", "Tỉnh", TP "Phủ Lý", NULL, 0 },
	{ "036", 188, "18", "06", "Tỉnh", TP "Nam Định", NULL, 0 },
	{ "037", 102, "35", "27", "Tỉnh", TP "Ninh Bình", NULL, 0 },
	{ "038", 372, "36", "28", "Tỉnh", TP "Thanh Hóa", NULL, 0 },
	{ "040", 352, "37", "29", "Tỉnh", TP "Vinh", NULL, 0 },
	{ "042", 132, "38", "30", "Tỉnh", TP "Hà Tĩnh", NULL, 0 },
	{ "044", 92, "73", "31", "Tỉnh", TP "Đồng Hới", NULL, 0 },
	{ "045", 65, "74", "32", "Tỉnh", TP "Đông Hà", NULL, 5 },
	{ "046", 118, "75", "33", "Tỉnh", TP "Huế", NULL, 0 },
	{ "048", 123, "43", "04", "Thành phố", NULL, DANANG, 0 },
	{ "049", 152, "92", "40", "Tỉnh", TP "Tam Kỳ", NULL, 0 },
	{ "051", 125, "76", "43", "Tỉnh", TP "Quảng Ngãi", NULL, 0 },
	{ "052", 150, "77", "41", "Tỉnh", TP "Quy Nhơn", NULL, 0 },
	{ "054", 88, "78", "44", "Tỉnh", TP "Tuy Hòa", NULL, 9 },
	{ "056", 126, "79", "42", "Tỉnh", TP "Nha Trang", NULL, 0 },
	{ "058", 60, "85", "45", "Tỉnh", TP "Phan Rang - Tháp Chàm", NULL, 0 },
	{ "060", 127, "86", "34", "Tỉnh", TP "Phan Thiết", NULL, 0 },
	{ "062", 58, "82", "61", "Tỉnh", TP "Kon Tum", NULL, 0 },
	{ "064", 161, "81", "59", "Tỉnh", TP "Pleiku", NULL, 0 },
	{ "066", 193, "47", "60", "Tỉnh", TP "Buôn Ma Thuột", NULL, 0 },
	{ "067", 68, "48", "64", "Tỉnh", TP "Gia Nghĩa", NULL, 0 },
	{ "068", 132, "49", "58", "Tỉnh", TP "Đà Lạt", NULL, 9 },
	{ "070", 104, "93", "38", "Tỉnh", TP "Đồng Xoài", NULL, 0 },
	{ "072", 118, "70", "39", "Tỉnh", TP "Tây Ninh", NULL, 3 },
	{ "074", 277, "61", "37", "Tỉnh", TP "Thủ Dầu Một", NULL, 0 },
	{ "075", 325, "60", "36", "Tỉnh", TP "Biên Hòa", NULL, 0 },
	{ "077", 118, "72", "35", "Tỉnh", TP "Bà Rịa", NULL, 0 },
	{ "079", 946, "51", "03", "Thành phố", NULL, HCMC, 0 },
	{ "080", 175, "62", "11", "Tỉnh", TP "Tân An", NULL, 6 },
	{ "082", 179, "63", "12", "Tỉnh", TP "Mỹ Tho", NULL, 0 },
	{ "083", 129, "71", "13", "Tỉnh", TP "Bến Tre", NULL, 0 },
	{ "084", 101, "84", "21", "Tỉnh", TP "Trà Vinh", NULL, 8 },
	{ "086", 103, "64", "15", "Tỉnh", TP "Vĩnh Long", NULL, 8 },
	{ "087", 160, "66", "14", "Tỉnh", TP "Cao Lãnh", NULL, 4 },
	{ "089", 190, "67", "16", "Tỉnh", TP "Long Xuyên", NULL, 0 },
	{ "091", 175, "68", "17", "Tỉnh", TP "Rạch Giá", NULL, 0 },
	{ "092", 125, "65", "18", "Thành phố", NULL, CANTHO, 0 },
	{ "093", 73, "95", "63", "Tỉnh", TP "Vị Thanh", NULL, 0 },
	{ "094", 120, "83", "22", "Tỉnh", TP "Sóc Trăng", NULL, 9 },
	{ "095", 92, "94", "19", "Tỉnh", TP "Bạc Liêu", NULL, 8 },
	{ "096", 121, "69", "20", "Tỉnh", TP "Cà Mau", NULL, 9 },
};

const struct place *place_at(size_t i)
{
	return i < NDX_PROVINCE_COUNT ? &PLACES[i] : NULL;
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
