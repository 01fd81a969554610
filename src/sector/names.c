/* Name lists (names.h). Surname shares follow the commonly cited survey
 * figures (Nguyễn about 38 %, Trần 11 %, Lê 9.5 % ...); the tail is
 * spread over less common surnames. Middle names carry the sex, as Văn and
 * Thị traditionally do. */
#include "names.h"

const struct weighted_name SURNAMES[] = {
	{ "Nguyễn", 380 }, { "Trần", 110 }, { "Lê", 95 },   { "Phạm", 70 },  { "Hoàng", 35 },
	{ "Huỳnh", 16 },   { "Phan", 45 },  { "Vũ", 22 },   { "Võ", 17 },    { "Đặng", 21 },
	{ "Bùi", 20 },     { "Đỗ", 14 },    { "Hồ", 13 },   { "Ngô", 13 },   { "Dương", 10 },
	{ "Lý", 5 },       { "Đinh", 8 },   { "Trương", 8 }, { "Lâm", 5 },   { "Mai", 5 },
	{ "Trịnh", 5 },    { "Đoàn", 5 },   { "Lương", 4 }, { "Cao", 4 },    { "Hà", 4 },
	{ "Tạ", 3 },       { "Chu", 3 },    { "Kiều", 2 },  { "Quách", 2 },  { "Thái", 2 },
	{ "Lưu", 3 },      { "Châu", 2 },   { "Phùng", 3 }, { "Tăng", 2 },   { "La", 2 },
	{ "Tô", 3 },       { "Văn", 2 },    { "Đào", 4 },   { "Triệu", 2 },  { "Khúc", 1 },
};
const size_t NSURNAMES = sizeof SURNAMES / sizeof *SURNAMES;

const char *const MIDDLE_MALE[] = {
	"Văn", "Văn", "Văn", "Đức", "Minh", "Quốc", "Hữu", "Thanh", "Công", "Xuân", "Hoàng",
	"Ngọc", "Anh", "Trọng", "Đình", "Quang", "Tuấn", "Gia", "Bảo", "Thành", "Duy",
	"Mạnh", "Tiến", "Hải", "Đăng", "Nhật", NULL,
};
const char *const MIDDLE_FEMALE[] = {
	"Thị", "Thị", "Thị", "Thị", "Ngọc", "Thu", "Thanh", "Minh", "Phương", "Thùy", "Kim",
	"Hồng", "Bảo", "Mai", "Khánh", "Diệu", "Quỳnh", "Hoài", "Như", "Thảo", "Hà",
	"Ánh", "Tuyết", NULL,
};
const char *const GIVEN_MALE[] = {
	"An", "Anh", "Bảo", "Bình", "Cường", "Dũng", "Đạt", "Đức", "Dương", "Giang", "Hải",
	"Hiếu", "Hòa", "Hoàng", "Hùng", "Huy", "Khang", "Khánh", "Khoa", "Kiên", "Lâm",
	"Long", "Lộc", "Minh", "Nam", "Nghĩa", "Nhân", "Phát", "Phong", "Phúc", "Quân",
	"Quang", "Sơn", "Tài", "Tâm", "Thắng", "Thành", "Thịnh", "Toàn", "Trung", "Tú",
	"Tuấn", "Việt", "Vinh", "Vũ", "Hưng", "Hiển", "Đông", "Khôi", "Kiệt", "Tùng",
	"Thái", "Lực", "Hậu", "Quý", "Duy", NULL,
};
const char *const GIVEN_FEMALE[] = {
	"An", "Anh", "Chi", "Diệp", "Dung", "Giang", "Hà", "Hạnh", "Hằng", "Hiền", "Hoa",
	"Hương", "Huyền", "Lan", "Linh", "Loan", "Ly", "Mai", "My", "Nga", "Ngân", "Ngọc",
	"Nhung", "Nhi", "Oanh", "Phương", "Quyên", "Quỳnh", "Tâm", "Thảo", "Thanh", "Thu",
	"Thúy", "Trang", "Trâm", "Tuyết", "Uyên", "Vân", "Vy", "Xuân", "Yến", "Hậu",
	"Nguyệt", "Hồng", "Liên", "Thư", "Ánh", "Đào", NULL,
};
const char *const TRADES[] = {
	"Thương mại", "Xây dựng", "Đầu tư", "Dịch vụ", "Sản xuất", "Vận tải", "Công nghệ",
	"Thực phẩm", "Du lịch", "Xuất nhập khẩu", "Nông sản", "Thiết bị", "Dược phẩm",
	"May mặc", "Cơ khí", "Bất động sản", "Giáo dục", "Môi trường", "Điện tử",
	"Tư vấn", NULL,
};
const char *const BRANDS[] = {
	"Minh", "Phát", "Thành", "Đạt", "Hưng", "Thịnh", "Long", "An", "Phú", "Quý", "Hoàng",
	"Gia", "Tân", "Việt", "Nam", "Á", "Đông", "Sao", "Mai", "Hòa", "Bình", "Kim",
	"Trường", "Sơn", "Hải", "Nhật", "Tiến", "Lộc", "Toàn", "Đức", "Vạn", "Bảo", "Khang",
	"Thiên", "Hồng", "Phương", NULL,
};
const char *const CAR_BRANDS[] = {
	"Toyota Vios", "Toyota Innova", "Hyundai Accent", "Kia Morning", "Mazda 3",
	"Honda City", "Ford Ranger", "Mitsubishi Xpander", "VinFast VF 5", "VinFast Fadil",
	"Hyundai Grand i10", "Kia Seltos", NULL,
};
const char *const BIKE_BRANDS[] = {
	"Honda Wave Alpha", "Honda Vision", "Honda Air Blade", "Yamaha Exciter", "Yamaha Sirius",
	"Honda Lead", "Honda SH", "Suzuki Raider", "VinFast Evo200", "Piaggio Liberty", NULL,
};
const char *const COLORS[] = {
	"Đen", "Trắng", "Đỏ", "Xanh", "Bạc", "Xám", "Vàng", "Nâu", NULL,
};

size_t names_count(const char *const *list)
{
	size_t n = 0;
	while (list[n])
		n++;
	return n;
}
