/* The seven sector models (schema.h) and the format checks of their
 * values. Field names are English snake_case; values that are codes in
 * Vietnamese law (land use classes) keep their official codes. Every table
 * also has updated_at (set by the store on every write) and, where a
 * column is searched by name, a hidden folded twin. Overview:
 * docs/sectors.md "Data model". */
#include "schema.h"

#include <string.h>

#include "ndx/err.h"
#include "ndx/pin.h"
#include "ndx/text.h"

#define N(a) (sizeof(a) / sizeof *(a))
#define REQ COL_REQUIRED

static const char *const SEX[] = { "male", "female", NULL };
static const char *const RELATION[] = { "head", "spouse", "child", "parent", "grandchild",
					"sibling", "other", NULL };
static const char *const MARRIAGE_STATUS[] = { "registered", "divorced", NULL };
static const char *const ENTERPRISE_KIND[] = { "tnhh-1tv", "tnhh-2tv", "co-phan", "tu-nhan",
					       "hop-danh", NULL };
static const char *const ENTERPRISE_STATUS[] = { "active", "suspended", "dissolved", NULL };
static const char *const TAXPAYER_KIND[] = { "individual", "enterprise", NULL };
static const char *const TAXPAYER_STATUS[] = { "active", "suspended", "closed", NULL };
static const char *const TAX_TYPE[] = { "pit", "cit", "vat", "land-use", "registration-fee",
					NULL };
static const char *const OBLIGATION_STATUS[] = { "paid", "due", "overdue", NULL };
/* deceased: set from the civil status registry's death-registered event
 * (docs/sectors.md "Events"): contributions and pension stopped. */
/* health-card: a child under six holding the health insurance card the
 * state pays for, issued from the population registry's
 * citizen-registered event (docs/sectors.md "Events"); no contributions. */
static const char *const INSURED_STATUS[] = { "contributing", "paused", "retired", "deceased",
					      "health-card", NULL };
/* Land use codes of Circular 08/2024/TT-BTNMT: urban and rural homes,
 * perennial crops, rice, production and business. */
static const char *const LAND_USE[] = { "ODT", "ONT", "CLN", "LUC", "SKC", NULL };
static const char *const VEHICLE_KIND[] = { "car", "motorbike", "truck", NULL };

/* ---- population (Ministry of Public Security) ---------------------------- */

/* Addresses have two levels since 1 July 2025 (province, commune; no
 * district); their province columns take today's 34 codes, and rows
 * written before keep a former code, which maps to one unit (adminmap.h). */
#define ADDRESS_TEXT \
	"house number and street, commune (Phường, Xã or Đặc khu), province; rows written " \
	"before 1 July 2025 keep their text as written (often with a district)"
#define ADDRESS_PROVINCE \
	"one of the 34 province codes in force since 1 July 2025 (e.g. 012 Lai Châu, 031 " \
	"Hải Phòng); rows written before may hold one of the 63 former codes, each within " \
	"exactly one of today's provinces (GET /api/provinces of the portal lists both)"

static const struct sector_column CITIZENS[] = {
	{ .name = "pin", .type = COL_PIN, .flags = REQ | COL_ID,
	  .desc = "personal identification number (12 digits)" },
	{ .name = "full_name", .type = COL_TEXT, .flags = REQ | COL_NAME, .max = 100,
	  .desc = "full name with diacritics, surname first" },
	{ .name = "birth_date", .type = COL_DATE, .flags = REQ, .desc = "date of birth" },
	{ .name = "sex", .type = COL_ENUM, .flags = REQ, .values = SEX },
	{ .name = "birth_province", .type = COL_PROVINCE, .flags = REQ,
	  .desc = "province where the birth was registered (the PIN's first 3 digits)" },
	{ .name = "permanent_address", .type = COL_TEXT, .flags = REQ, .max = 300,
	  .desc = "permanent residence (thường trú): " ADDRESS_TEXT },
	{ .name = "permanent_province", .type = COL_PROVINCE, .flags = COL_PLACE | REQ | COL_FILTER,
	  .desc = "province of permanent_address: " ADDRESS_PROVINCE },
	{ .name = "temporary_address", .type = COL_TEXT, .max = 300,
	  .desc = "temporary residence (tạm trú), if any, written like permanent_address" },
	{ .name = "household_id", .type = COL_HOUSEHOLD, .flags = COL_FILTER,
	  .ref = "population/households" },
	{ .name = "relation", .type = COL_ENUM, .values = RELATION,
	  .desc = "relation to the head of the household" },
	/* Last: a database made before it gets the column on open. */
	{ .name = "deceased_on", .type = COL_DATE,
	  .desc = "date of death, set from the civil status registry's death-registered "
		  "event; absent while the citizen lives" },
};

static const struct sector_column HOUSEHOLDS[] = {
	{ .name = "id", .type = COL_HOUSEHOLD, .flags = REQ | COL_ID,
	  .desc = "household code: H, province code, 8 digits" },
	{ .name = "head_pin", .type = COL_PIN, .flags = REQ | COL_FILTER,
	  .ref = "population/citizens", .desc = "the head of the household" },
	{ .name = "address", .type = COL_TEXT, .flags = REQ, .max = 300,
	  .desc = "the household's address: " ADDRESS_TEXT },
	{ .name = "province", .type = COL_PROVINCE, .flags = COL_PLACE | REQ,
	  .desc = "province of address, also in the household code: " ADDRESS_PROVINCE },
};

static const struct sector_table POPULATION[] = {
	{ "citizens", "Citizens", "pin", CITIZENS, N(CITIZENS),
	  "full_name,birth_date,permanent_address" },
	{ "households", "Households", "id", HOUSEHOLDS, N(HOUSEHOLDS), NULL },
};

/* ---- civil status (Ministry of Justice) ---------------------------------- */

static const struct sector_column BIRTHS[] = {
	{ .name = "child_pin", .type = COL_PIN, .flags = COL_FILTER,
	  .ref = "population/citizens",
	  .desc = "the child's number; absent when the registration asks the population "
		  "registry to issue it (from the birth-registered event)" },
	{ .name = "child_name", .type = COL_TEXT, .flags = REQ | COL_NAME, .max = 100 },
	{ .name = "birth_date", .type = COL_DATE, .flags = REQ },
	{ .name = "sex", .type = COL_ENUM, .flags = REQ, .values = SEX },
	{ .name = "province", .type = COL_PROVINCE, .flags = REQ,
	  .desc = "province where the birth was registered" },
	{ .name = "father_pin", .type = COL_PIN, .flags = COL_FILTER, .ref = "population/citizens" },
	{ .name = "mother_pin", .type = COL_PIN, .flags = COL_FILTER, .ref = "population/citizens" },
	{ .name = "registered_on", .type = COL_DATE, .flags = REQ },
};

static const struct sector_column MARRIAGES[] = {
	{ .name = "husband_pin", .type = COL_PIN, .flags = REQ | COL_FILTER,
	  .ref = "population/citizens" },
	{ .name = "wife_pin", .type = COL_PIN, .flags = REQ | COL_FILTER,
	  .ref = "population/citizens" },
	{ .name = "registered_on", .type = COL_DATE, .flags = REQ },
	{ .name = "province", .type = COL_PROVINCE, .flags = REQ },
	{ .name = "status", .type = COL_ENUM, .flags = REQ, .values = MARRIAGE_STATUS },
};

/* A registered death: civil-status publishes death-registered for each
 * (docs/sectors.md "Events"); one per person. */
static const struct sector_column DEATHS[] = {
	{ .name = "pin", .type = COL_PIN, .flags = REQ | COL_FILTER, .ref = "population/citizens",
	  .desc = "the deceased" },
	{ .name = "full_name", .type = COL_TEXT, .flags = REQ | COL_NAME, .max = 100 },
	{ .name = "died_on", .type = COL_DATE, .flags = REQ },
	{ .name = "province", .type = COL_PROVINCE, .flags = REQ,
	  .desc = "province where the death was registered" },
	{ .name = "registered_on", .type = COL_DATE, .flags = REQ },
};

static const struct sector_table CIVIL_STATUS[] = {
	{ "births", "Birth registrations", NULL, BIRTHS, N(BIRTHS), "child_pin" },
	{ "marriages", "Marriage registrations", NULL, MARRIAGES, N(MARRIAGES),
	  "husband_pin,wife_pin,registered_on" },
	{ "deaths", "Death registrations", NULL, DEATHS, N(DEATHS), "pin" },
};

/* ---- enterprise registry (Ministry of Finance) ---------------------------- */

static const struct sector_column ENTERPRISES[] = {
	{ .name = "code", .type = COL_ECODE, .flags = REQ | COL_ID,
	  .desc = "enterprise code = tax code (10 digits with check digit)" },
	{ .name = "name", .type = COL_TEXT, .flags = REQ | COL_NAME, .max = 200 },
	{ .name = "kind", .type = COL_ENUM, .flags = REQ, .values = ENTERPRISE_KIND },
	{ .name = "address", .type = COL_TEXT, .flags = REQ, .max = 300 },
	{ .name = "province", .type = COL_PROVINCE, .flags = COL_PLACE | REQ | COL_FILTER },
	{ .name = "status", .type = COL_ENUM, .flags = REQ, .values = ENTERPRISE_STATUS },
	{ .name = "registered_on", .type = COL_DATE, .flags = REQ },
	{ .name = "legal_rep_pin", .type = COL_PIN, .flags = REQ | COL_FILTER,
	  .ref = "population/citizens", .desc = "legal representative" },
};

static const struct sector_column OWNERS[] = {
	{ .name = "enterprise_code", .type = COL_ECODE, .flags = REQ | COL_FILTER,
	  .ref = "enterprise/enterprises" },
	{ .name = "owner_pin", .type = COL_PIN, .flags = REQ | COL_FILTER,
	  .ref = "population/citizens" },
	{ .name = "share_pct", .type = COL_REAL, .flags = REQ, .lo = 0.01, .hi = 100 },
	{ .name = "since", .type = COL_DATE, .flags = REQ },
};

static const struct sector_table ENTERPRISE[] = {
	{ "enterprises", "Enterprises", "code", ENTERPRISES, N(ENTERPRISES), "name" },
	{ "owners", "Owners (members, shareholders)", NULL, OWNERS, N(OWNERS),
	  "enterprise_code,owner_pin" },
};

/* ---- tax (General Department of Taxation) --------------------------------- */

static const struct sector_column TAXPAYERS[] = {
	{ .name = "tax_id", .type = COL_PARTY, .flags = REQ | COL_ID, .ref = "party",
	  .desc = "the PIN of a person (personal tax code since 2025) or an enterprise code" },
	{ .name = "kind", .type = COL_ENUM, .flags = REQ, .values = TAXPAYER_KIND },
	{ .name = "name", .type = COL_TEXT, .flags = REQ | COL_NAME, .max = 200 },
	{ .name = "status", .type = COL_ENUM, .flags = REQ, .values = TAXPAYER_STATUS },
	{ .name = "tax_office", .type = COL_PROVINCE, .flags = COL_PLACE | REQ,
	  .desc = "province of the managing tax office" },
	{ .name = "registered_on", .type = COL_DATE, .flags = REQ },
	/* Last: a database made before them gets the columns on open. */
	{ .name = "address", .type = COL_TEXT, .max = 300,
	  .desc = "the taxpayer's address: a person's permanent residence (kept current from "
		  "the population registry's residence-changed event), an enterprise's head office" },
	{ .name = "province", .type = COL_PROVINCE, .flags = COL_PLACE, .desc = "the province of address" },
};

static const struct sector_column OBLIGATIONS[] = {
	{ .name = "tax_id", .type = COL_PARTY, .flags = REQ | COL_FILTER, .ref = "tax/taxpayers" },
	{ .name = "period", .type = COL_PERIOD, .flags = REQ },
	{ .name = "tax_type", .type = COL_ENUM, .flags = REQ, .values = TAX_TYPE },
	{ .name = "amount", .type = COL_INT, .flags = REQ, .lo = 0, .hi = 1e15,
	  .desc = "assessed amount, VND" },
	{ .name = "paid", .type = COL_INT, .flags = REQ, .lo = 0, .hi = 1e15,
	  .desc = "paid so far, VND" },
	{ .name = "due_date", .type = COL_DATE, .flags = REQ },
	{ .name = "status", .type = COL_ENUM, .flags = REQ, .values = OBLIGATION_STATUS },
};

static const struct sector_table TAX[] = {
	{ "taxpayers", "Taxpayers", "tax_id", TAXPAYERS, N(TAXPAYERS), NULL },
	{ "obligations", "Tax obligations", NULL, OBLIGATIONS, N(OBLIGATIONS),
	  "tax_id,period,tax_type" },
};

/* ---- social insurance (Viet Nam Social Security) --------------------------- */

static const struct sector_column PARTICIPANTS[] = {
	{ .name = "pin", .type = COL_PIN, .flags = REQ | COL_ID, .ref = "population/citizens",
	  .desc = "the insured person (the PIN is the insurance number since 2025)" },
	{ .name = "name", .type = COL_TEXT, .flags = REQ | COL_NAME, .max = 100 },
	{ .name = "status", .type = COL_ENUM, .flags = REQ, .values = INSURED_STATUS },
	{ .name = "first_period", .type = COL_PERIOD, .flags = REQ },
	/* Last: a database made before them gets the columns on open. */
	{ .name = "address", .type = COL_TEXT, .max = 300,
	  .desc = "the insured person's permanent residence, kept current from the population "
		  "registry's residence-changed event" },
	{ .name = "province", .type = COL_PROVINCE, .flags = COL_PLACE, .desc = "the province of address" },
};

static const struct sector_column CONTRIBUTIONS[] = {
	{ .name = "pin", .type = COL_PIN, .flags = REQ | COL_FILTER, .ref = "insurance/participants" },
	{ .name = "employer_code", .type = COL_ECODE, .flags = COL_FILTER,
	  .ref = "enterprise/enterprises", .desc = "absent for voluntary contributions" },
	{ .name = "from_period", .type = COL_PERIOD, .flags = REQ },
	{ .name = "to_period", .type = COL_PERIOD, .desc = "absent while contributing" },
	{ .name = "monthly_salary", .type = COL_INT, .flags = REQ, .lo = 0, .hi = 1e12,
	  .desc = "salary the contribution is based on, VND" },
	{ .name = "rate_pct", .type = COL_REAL, .flags = REQ, .lo = 0, .hi = 100 },
};

static const struct sector_table INSURANCE[] = {
	{ "participants", "Insured persons", "pin", PARTICIPANTS, N(PARTICIPANTS), NULL },
	{ "contributions", "Contribution history", NULL, CONTRIBUTIONS, N(CONTRIBUTIONS),
	  "pin,employer_code,from_period" },
};

/* ---- land (Ministry of Agriculture and Environment) ------------------------- */

static const struct sector_column PARCELS[] = {
	{ .name = "id", .type = COL_PARCEL, .flags = REQ | COL_ID,
	  .desc = "province code, map sheet, parcel number: 079-0012-00345" },
	{ .name = "province", .type = COL_PROVINCE, .flags = COL_PLACE | REQ | COL_FILTER },
	{ .name = "address", .type = COL_TEXT, .flags = REQ, .max = 300 },
	{ .name = "area_m2", .type = COL_REAL, .flags = REQ, .lo = 0.1, .hi = 1e8 },
	{ .name = "land_use", .type = COL_ENUM, .flags = REQ, .values = LAND_USE },
	{ .name = "certificate_no", .type = COL_TEXT, .max = 20,
	  .desc = "land use right certificate series and number" },
};

static const struct sector_column HOLDERS[] = {
	{ .name = "parcel_id", .type = COL_PARCEL, .flags = REQ | COL_FILTER, .ref = "land/parcels" },
	{ .name = "holder_id", .type = COL_PARTY, .flags = REQ | COL_FILTER, .ref = "party",
	  .desc = "PIN of a person or code of an enterprise" },
	{ .name = "share_pct", .type = COL_REAL, .flags = REQ, .lo = 0.01, .hi = 100 },
	{ .name = "since", .type = COL_DATE, .flags = REQ },
};

static const struct sector_table LAND[] = {
	{ "parcels", "Land parcels", "id", PARCELS, N(PARCELS), "certificate_no" },
	{ "right_holders", "Land use right holders", NULL, HOLDERS, N(HOLDERS),
	  "parcel_id,holder_id" },
};

/* ---- vehicles (traffic police) ----------------------------------------------- */

static const struct sector_column VEHICLES_COLS[] = {
	{ .name = "plate", .type = COL_PLATE, .flags = REQ | COL_ID,
	  .desc = "plate without punctuation: 30A12345 (car), 59X123456 (motorbike)" },
	{ .name = "kind", .type = COL_ENUM, .flags = REQ, .values = VEHICLE_KIND },
	{ .name = "brand", .type = COL_TEXT, .flags = REQ, .max = 40 },
	{ .name = "model", .type = COL_TEXT, .max = 60 },
	{ .name = "year", .type = COL_INT, .flags = REQ, .lo = 1950, .hi = 2100 },
	{ .name = "color", .type = COL_TEXT, .max = 30 },
	{ .name = "chassis_no", .type = COL_TEXT, .flags = REQ, .max = 17 },
	{ .name = "owner_id", .type = COL_PARTY, .flags = REQ | COL_FILTER, .ref = "party" },
	{ .name = "registered_on", .type = COL_DATE, .flags = REQ },
	/* Last: a database made before them gets the columns on open. */
	{ .name = "owner_address", .type = COL_TEXT, .max = 300,
	  .desc = "the owner's address: a person's permanent residence (kept current from the "
		  "population registry's residence-changed event), an enterprise's head office" },
	{ .name = "owner_province", .type = COL_PROVINCE, .flags = COL_PLACE, .desc = "the province of owner_address" },
};

static const struct sector_table VEHICLES[] = {
	{ "vehicles", "Registered vehicles", "plate", VEHICLES_COLS, N(VEHICLES_COLS),
	  "chassis_no" },
};

static const struct sector_def SECTORS[SECTOR_COUNT] = {
	{ "population", "National population database", "Cơ sở dữ liệu quốc gia về dân cư",
	  "VN/GOV/BCA", POPULATION, N(POPULATION) },
	{ "civil-status", "Electronic civil status registry", "Cơ sở dữ liệu hộ tịch điện tử",
	  "VN/GOV/BTP", CIVIL_STATUS, N(CIVIL_STATUS) },
	{ "enterprise", "National enterprise registry",
	  "Cơ sở dữ liệu quốc gia về đăng ký doanh nghiệp", "VN/GOV/BTC", ENTERPRISE,
	  N(ENTERPRISE) },
	{ "tax", "Taxpayer registry", "Cơ sở dữ liệu người nộp thuế", "VN/GOV/TCT", TAX, N(TAX) },
	{ "insurance", "Social insurance database", "Cơ sở dữ liệu quốc gia về bảo hiểm",
	  "VN/GOV/BHXH", INSURANCE, N(INSURANCE) },
	{ "land", "Land database", "Cơ sở dữ liệu quốc gia về đất đai", "VN/GOV/BNNMT", LAND,
	  N(LAND) },
	{ "vehicles", "Vehicle registration database", "Cơ sở dữ liệu đăng ký phương tiện",
	  "VN/GOV/CSGT", VEHICLES, N(VEHICLES) },
};

const struct sector_def *sector_find(const char *name)
{
	for (size_t i = 0; name && i < SECTOR_COUNT; i++)
		if (strcmp(SECTORS[i].name, name) == 0)
			return &SECTORS[i];
	return NULL;
}

const struct sector_def *sector_at(size_t i)
{
	return i < SECTOR_COUNT ? &SECTORS[i] : NULL;
}

const struct sector_table *sector_table_find(const struct sector_def *def, const char *name)
{
	for (size_t i = 0; i < def->ntables; i++)
		if (strcmp(def->tables[i].name, name) == 0)
			return &def->tables[i];
	return NULL;
}

const struct sector_column *sector_column_find(const struct sector_table *t, const char *name)
{
	for (size_t i = 0; i < t->ncols; i++)
		if (strcmp(t->cols[i].name, name) == 0)
			return &t->cols[i];
	return NULL;
}

const struct sector_column *sector_name_column(const struct sector_table *t)
{
	for (size_t i = 0; i < t->ncols; i++)
		if (t->cols[i].flags & COL_NAME)
			return &t->cols[i];
	return NULL;
}

const char *sector_names(void)
{
	return "population civil-status enterprise tax insurance land vehicles";
}

static int digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

static int upper(char c)
{
	return c >= 'A' && c <= 'Z';
}

static int days_in_month(int y, int m)
{
	static const int DAYS[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return DAYS[m - 1];
}

static int date_ok(const char *v, int with_day)
{
	size_t n = strlen(v);
	int y, m, d;

	if (n != (with_day ? 10u : 7u) || !digits(v, 4) || v[4] != '-' || !digits(v + 5, 2))
		return 0;
	y = (v[0] - '0') * 1000 + (v[1] - '0') * 100 + (v[2] - '0') * 10 + (v[3] - '0');
	m = (v[5] - '0') * 10 + (v[6] - '0');
	if (y < 1850 || y > 2200 || m < 1 || m > 12)
		return 0;
	if (!with_day)
		return 1;
	if (v[7] != '-' || !digits(v + 8, 2))
		return 0;
	d = (v[8] - '0') * 10 + (v[9] - '0');
	return d >= 1 && d <= days_in_month(y, m);
}

int sector_value_check(const struct sector_column *c, const char *v, const char **why)
{
	size_t n = strlen(v);
	const char *bad = NULL;

	*why = NULL;
	switch (c->type) {
	case COL_PIN:
		return ndx_pin_parse(v, 0, NULL, why) == 0 ? 0 : -1;
	case COL_ECODE:
		return ndx_ecode_check(v, why) == 0 ? 0 : -1;
	case COL_PARTY:
		if (n == NDX_PIN_LEN)
			return ndx_pin_parse(v, 0, NULL, why) == 0 ? 0 : -1;
		if (n == NDX_ECODE_LEN)
			return ndx_ecode_check(v, why) == 0 ? 0 : -1;
		*why = "expected a 12-digit personal number or a 10-digit enterprise code";
		return -1;
	case COL_PROVINCE:
		if (n != 3 || !ndx_province_find(v)) {
			*why = "expected a three-digit province code: one of today's 34 (e.g. 012) or, "
			       "for data from before 1 July 2025, one of the 63 former ones";
			return -1;
		}
		return 0;
	case COL_DATE:
		if (!date_ok(v, 1)) {
			*why = "expected a date YYYY-MM-DD";
			return -1;
		}
		return 0;
	case COL_PERIOD:
		if (!date_ok(v, 0)) {
			*why = "expected a month YYYY-MM";
			return -1;
		}
		return 0;
	case COL_PLATE:
		/* 2-digit locality, series letter, then 5 digits (car) or a
		 * digit and 5 digits (motorbike). */
		if (!((n == 8 && digits(v, 2) && upper(v[2]) && digits(v + 3, 5)) ||
		      (n == 9 && digits(v, 2) && upper(v[2]) && digits(v + 3, 6)))) {
			*why = "expected a plate like 30A12345 or 59X123456";
			return -1;
		}
		return 0;
	case COL_PARCEL:
		if (n != 14 || !digits(v, 3) || v[3] != '-' || !digits(v + 4, 4) || v[8] != '-' ||
		    !digits(v + 9, 5) || !ndx_province_find(v)) {
			*why = "expected province-sheet-parcel like 079-0012-00345";
			return -1;
		}
		return 0;
	case COL_HOUSEHOLD:
		if (n != 12 || v[0] != 'H' || !digits(v + 1, 11) || !ndx_province_find(v + 1)) {
			*why = "expected H, a province code and 8 digits, like H07900001234";
			return -1;
		}
		return 0;
	case COL_TEXT:
		if (n == 0) {
			*why = "must not be empty";
			return -1;
		}
		if (n > c->max) {
			*why = "is too long";
			return -1;
		}
		/* Business and person names reach officers' pages and operators'
		 * terminals: no C0/C1 control, no bidirectional override or
		 * isolate (include/ndx/text.h; docs/security.md T30). */
		if (ndx_text_check(v, n, NULL, &bad) == NDX_OK)
			return 0;
		if (strstr(bad, "bidirectional"))
			*why = "must not contain a bidirectional override or isolate";
		else if (strstr(bad, "separator"))
			*why = "must not contain a line or paragraph separator";
		else if (strstr(bad, "UTF-8"))
			*why = "must be UTF-8 text";
		else
			*why = "must not contain control characters";
		return -1;
	default:
		return 0;
	}
}
