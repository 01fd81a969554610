/* The generator (seed.h). It walks household by household: pick a province
 * by population, a head, maybe a spouse, children born to them, maybe an
 * elderly parent; then the same people's birth and marriage registrations,
 * the enterprises some of them found, their tax registrations, insurance
 * history, homes and vehicles. References only ever point at people and
 * enterprises already made, so every one resolves. Speed comes from one
 * transaction per database, prepared statements, journal and sync off, no
 * index until the end (each is then built by one sort), and an in-memory
 * set of used personal numbers instead of asking SQLite. */
#include "seed.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gazetteer.h"
#include "names.h"
#include "ndx/adminmap.h"
#include "ndx/err.h"
#include "ndx/file.h"
#include "ndx/fold.h"
#include "ndx/pin.h"
#include "ndx/sqldb.h"
#include "ndx/timefmt.h"
#include "store.h"

enum { S_POP, S_CIVIL, S_ENT, S_TAX, S_INS, S_LAND, S_VEH };
#define MAX_MEMBERS 8
#define RING 4096

/* ---- random numbers: xoshiro256** seeded by splitmix64 ------------------------ */

struct rng {
	uint64_t s[4];
};

static uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t next64(struct rng *r)
{
	uint64_t *s = r->s, result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

/* Uniform in [0, n). The modulo bias is below 2^-40 for our n. */
static uint32_t below(struct rng *r, uint32_t n)
{
	return n ? (uint32_t)(next64(r) % n) : 0;
}

static int chance(struct rng *r, double p)
{
	return (double)(next64(r) >> 11) * (1.0 / 9007199254740992.0) < p;
}

static int between(struct rng *r, int lo, int hi)
{
	return hi <= lo ? lo : lo + (int)below(r, (uint32_t)(hi - lo + 1));
}

/* ---- dates as day numbers (days since 1970-01-01, proleptic Gregorian) ----- */

static int64_t days_from_civil(int y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

static void date_text(int64_t day, char out[11])
{
	int y, m, d;
	civil_from_days(day, &y, &m, &d);
	snprintf(out, 11, "%04d-%02d-%02d", y, m, d);
}

static void period_text(int64_t day, char out[16])
{
	int y, m, d;
	civil_from_days(day, &y, &m, &d);
	snprintf(out, 16, "%04d-%02d", y, m);
}

/* The same calendar day n years later (29 February becomes 1 March). */
static int64_t plus_years(int64_t day, int n)
{
	int y, m, d;
	civil_from_days(day, &y, &m, &d);
	if (m == 2 && d == 29) {
		m = 3;
		d = 1;
	}
	return days_from_civil(y + n, m, d);
}

static int year_of_day(int64_t day)
{
	int y, m, d;
	civil_from_days(day, &y, &m, &d);
	return y;
}

/* ---- the set of used numbers (open addressing, key = number + 1) ------------ */

struct numset {
	uint64_t *slot;
	uint64_t mask;
};

static int numset_init(struct numset *s, uint64_t expected)
{
	uint64_t n = 1024;
	while (n < expected * 2 + 16)
		n <<= 1;
	s->slot = calloc(n, sizeof *s->slot);
	s->mask = n - 1;
	return s->slot ? NDX_OK : NDX_ENOMEM;
}

/* Adds v; returns 1 when it was new, 0 when present. */
static int numset_add(struct numset *s, uint64_t v)
{
	uint64_t key = v + 1, h = key * 0x9E3779B97F4A7C15ULL;
	for (uint64_t i = h >> 20;; i++) {
		uint64_t *p = &s->slot[i & s->mask];
		if (*p == key)
			return 0;
		if (*p == 0) {
			*p = key;
			return 1;
		}
	}
}

/* ---- the generator's state ------------------------------------------------------- */

struct person {
	char pin[NDX_PIN_LEN + 1];
	char name[112];
	char folded[112];
	int64_t bday;
	int female;
	int age;
	int surname;
	size_t birth_prov;
	const char *relation;
};

struct enterprise_ref {
	char code[NDX_ECODE_LEN + 1];
	size_t prov;
};

struct gen {
	struct rng rng;
	int64_t today;
	int this_year;
	time_t now;
	/* The sectors being written (NULL: generated for the others'
	 * consistency, not written: seed --sector). */
	struct store_bulk *bulk[SECTOR_COUNT];
	struct seed_stats *stats;
	struct numset pins, ecodes, enames;
	uint32_t cum[NDX_PROVINCE_COUNT]; /* cumulative population weights */
	uint32_t total_weight;
	uint32_t surname_cum[64];
	uint32_t surname_total;
	/* A place is a former province (gazetteer.h); addresses name the
	 * unit it is part of today (adminmap.h), and the numbers that carry a
	 * province (households, parcels, plates) count per unit. */
	size_t unit_of[NDX_PROVINCE_COUNT];
	const struct place *seat[NDX_ADMIN_PROVINCE_COUNT];
	uint64_t hh_count[NDX_ADMIN_PROVINCE_COUNT];
	uint64_t parcel_count[NDX_ADMIN_PROVINCE_COUNT];
	uint64_t car_count[NDX_ADMIN_PROVINCE_COUNT];
	uint64_t bike_count[NDX_ADMIN_PROVINCE_COUNT];
	uint64_t certificates, chassis;
	struct enterprise_ref *ents;
	size_t nents, capents;
	char ring[RING][NDX_PIN_LEN + 1]; /* recent adults: co-owners */
	size_t ring_n;
	size_t n_middle_m, n_middle_f, n_given_m, n_given_f, n_trades, n_brands, n_cars, n_bikes,
		n_colors;
};

/* Values in order: 's' text (NULL: null), 'i' int64, 'd' double (the
 * store's bulk row, store.h). The updated_at value is added last by the
 * caller's types ending in 's'. */
static int put(struct gen *g, int sector, int table, const char *types, ...)
{
	va_list ap;
	int rc;

	if (!g->bulk[sector])
		return NDX_OK;
	va_start(ap, types);
	rc = store_bulk_row(g->bulk[sector], (size_t)table, types, ap);
	va_end(ap);
	if (rc == NDX_OK)
		g->stats->rows[sector][table]++;
	return rc;
}

/* Most records changed recently; a few are years old ("stale"). */
static void updated_text(struct gen *g, char out[NDX_TIME_TEXT_LEN])
{
	int64_t back = chance(&g->rng, 0.92) ? between(&g->rng, 0, 180 * 86400)
					      : between(&g->rng, 366, 6 * 365) * (int64_t)86400;
	ndx_time_format(g->now - (time_t)back, out);
}

/* Today's unit of place prov, and its code: what addresses carry. */
static const struct ndx_admin_province *unit(const struct gen *g, size_t prov)
{
	return ndx_admin_province_at(g->unit_of[prov]);
}

static const char *ucode(const struct gen *g, size_t prov)
{
	return unit(g, prov)->code;
}

static size_t pick_province(struct gen *g)
{
	uint32_t r = below(&g->rng, g->total_weight);
	size_t lo = 0, hi = NDX_PROVINCE_COUNT - 1;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (g->cum[mid] > r)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

static int pick_surname(struct gen *g)
{
	uint32_t r = below(&g->rng, g->surname_total);
	for (size_t i = 0; i < NSURNAMES; i++)
		if (g->surname_cum[i] > r)
			return (int)i;
	return 0;
}

static const char *pick(struct gen *g, const char *const *list, size_t n)
{
	return list[below(&g->rng, (uint32_t)n)];
}

/* A new person with a fresh personal number. surname < 0 picks one. */
static int make_person(struct gen *g, struct person *p, int female, int birth_year,
		       int surname, size_t birth_prov, const char *relation)
{
	const char *middle, *given;
	int64_t first = days_from_civil(birth_year, 1, 1), last = days_from_civil(birth_year, 12, 31);

	if (last > g->today)
		last = g->today;
	p->bday = first + below(&g->rng, (uint32_t)(last - first + 1));
	p->female = female;
	p->age = g->this_year - birth_year;
	p->surname = surname >= 0 ? surname : pick_surname(g);
	p->birth_prov = birth_prov;
	p->relation = relation;
	for (;;) {
		uint32_t serial = below(&g->rng, 1000000);
		if (ndx_pin_make(ndx_province_at(birth_prov)->code, female, birth_year, serial,
				 p->pin))
			return NDX_EINVAL;
		uint64_t v = strtoull(p->pin, NULL, 10);
		if (numset_add(&g->pins, v))
			break;
	}
	do {
		middle = female ? pick(g, MIDDLE_FEMALE, g->n_middle_f)
				: pick(g, MIDDLE_MALE, g->n_middle_m);
		given = female ? pick(g, GIVEN_FEMALE, g->n_given_f) : pick(g, GIVEN_MALE, g->n_given_m);
	} while (strcmp(middle, given) == 0);
	snprintf(p->name, sizeof p->name, "%s %s %s", SURNAMES[p->surname].name, middle, given);
	if (ndx_fold(p->name, p->folded, sizeof p->folded) < 0)
		return NDX_EINVAL;
	return NDX_OK;
}

static void address(struct gen *g, size_t prov, char *out, size_t cap)
{
	const struct place *pl = place_at(prov);
	const struct ndx_admin_province *u = unit(g, prov);
	const char *street = STREETS[below(&g->rng, (uint32_t)NSTREETS)];
	int house = between(&g->rng, 1, 350);

	/* Two levels since 1 July 2025: commune, then province; no district. */
	if (pl->wards)
		snprintf(out, cap, "Số %d đường %s, %s, %s %s", house, street,
			 pl->wards[below(&g->rng, (uint32_t)names_count(pl->wards))], u->kind,
			 u->name);
	else
		snprintf(out, cap, "Số %d đường %s, Phường %s, %s %s", house, street,
			 pl->capital + strlen("Thành phố "), u->kind, u->name);
}

static void remember_adult(struct gen *g, const char *pin)
{
	memcpy(g->ring[g->ring_n % RING], pin, NDX_PIN_LEN + 1);
	g->ring_n++;
}

/* ---- the sectors, one person or household at a time ------------------------------ */

static int put_citizen(struct gen *g, const struct person *p, const char *addr, size_t prov,
		       const char *hh)
{
	char bd[11], up[NDX_TIME_TEXT_LEN], temp[320];
	const char *tmp = NULL;

	date_text(p->bday, bd);
	updated_text(g, up);
	/* Young adults often live and work away from home. */
	if (p->age >= 18 && p->age <= 40 && chance(&g->rng, 0.07)) {
		size_t t = pick_province(g);
		if (t != prov) {
			address(g, t, temp, sizeof temp);
			tmp = temp;
		}
	}
	/* Everyone seeded lives (deceased_on NULL): deaths come from the
	 * civil status registry's events. */
	return put(g, S_POP, 0, "sssssssssssss", p->pin, p->name, p->folded, bd,
		   p->female ? "female" : "male", ndx_province_at(p->birth_prov)->code, addr,
		   ucode(g, prov), tmp, hh, p->relation, NULL, up);
}

static int put_birth(struct gen *g, const struct person *p, const char *father,
		     const char *mother)
{
	char bd[11], reg[11], up[NDX_TIME_TEXT_LEN];
	int64_t r = p->bday + between(&g->rng, 3, 60);

	if (year_of_day(p->bday) < 1975)
		return NDX_OK; /* older paper registers are not in the electronic one */
	if (r > g->today)
		r = g->today;
	date_text(p->bday, bd);
	date_text(r, reg);
	updated_text(g, up);
	return put(g, S_CIVIL, 0, "ssssssssss", p->pin, p->name, p->folded, bd,
		   p->female ? "female" : "male", ndx_province_at(p->birth_prov)->code, father,
		   mother, reg, up);
}

static int put_marriage(struct gen *g, const struct person *h, const struct person *w,
			size_t prov, int64_t first_child)
{
	char reg[11], up[NDX_TIME_TEXT_LEN];
	int64_t legal = plus_years(h->bday, 20), w18 = plus_years(w->bday, 18), d;

	if (w18 > legal)
		legal = w18;
	/* Too young to marry yet (Law on Marriage and Family: 20 and 18):
	 * they live together, unregistered. */
	if (legal > g->today)
		return NDX_OK;
	d = legal + between(&g->rng, 0, 8 * 365);
	if (first_child && d > first_child - 300)
		d = first_child - between(&g->rng, 300, 900);
	if (d < legal)
		d = legal;
	if (d > g->today)
		d = g->today - between(&g->rng, 0, 30);
	date_text(d, reg);
	updated_text(g, up);
	/* Registered where they lived, under the map of that day. */
	return put(g, S_CIVIL, 1, "ssssss", h->pin, w->pin, reg,
		   d < days_from_civil(2025, 7, 1) ? ndx_province_at(prov)->code : ucode(g, prov),
		   chance(&g->rng, 0.05) ? "divorced" : "registered", up);
}

static int taxpayer_obligations(struct gen *g, const char *tax_id, int enterprise)
{
	char period[16], due[11], up[NDX_TIME_TEXT_LEN];
	int rc;
	int years = enterprise ? 2 : 1;

	for (int k = 1; k <= years; k++) {
		int y = g->this_year - k;
		int64_t amount = enterprise ? (int64_t)between(&g->rng, 5, 5000) * 1000000
					    : (int64_t)between(&g->rng, 1, 50000) * 1000;
		int64_t due_day = days_from_civil(y + 1, enterprise ? 3 : 4, enterprise ? 31 : 30);
		int64_t paid = chance(&g->rng, 0.88) ? amount : amount / between(&g->rng, 2, 10);
		const char *status = paid >= amount ? "paid" : due_day < g->today ? "overdue" : "due";
		if (!enterprise && !chance(&g->rng, 0.35))
			continue;
		snprintf(period, sizeof period, "%04d-12", y % 10000);
		date_text(due_day, due);
		updated_text(g, up);
		if ((rc = put(g, S_TAX, 1, "sssiisss", tax_id, period, enterprise ? "cit" : "pit",
			      amount, paid, due, status, up)))
			return rc;
	}
	if (enterprise) {
		/* The last month's VAT return. */
		int64_t first = days_from_civil(g->this_year, 1, 1);
		int64_t day = g->today - 35 > first ? g->today - 35 : g->today;
		int64_t amount = (int64_t)between(&g->rng, 1, 800) * 1000000;
		period_text(day, period);
		date_text(day + 50, due);
		updated_text(g, up);
		if ((rc = put(g, S_TAX, 1, "sssiisss", tax_id, period, "vat", amount,
			      chance(&g->rng, 0.7) ? amount : (int64_t)0, due,
			      chance(&g->rng, 0.7) ? "paid" : "due", up)))
			return rc;
	}
	return NDX_OK;
}

static int put_taxpayer(struct gen *g, const char *tax_id, const char *name, const char *folded,
			size_t prov, const char *addr, int64_t since, int enterprise)
{
	char reg[11], up[NDX_TIME_TEXT_LEN];
	int r = between(&g->rng, 1, 100);
	int rc;

	date_text(since, reg);
	updated_text(g, up);
	/* The address is the person's permanent residence (the enterprise's
	 * head office), in the province of the managing tax office. */
	if ((rc = put(g, S_TAX, 0, "ssssssssss", tax_id, enterprise ? "enterprise" : "individual",
		      name, folded, r <= 95 ? "active" : r <= 98 ? "suspended" : "closed",
		      ucode(g, prov), reg, addr, ucode(g, prov), up)))
		return rc;
	return taxpayer_obligations(g, tax_id, enterprise);
}

static const char *random_employer(struct gen *g)
{
	if (g->nents == 0 || chance(&g->rng, 0.12))
		return NULL; /* voluntary contributor */
	return g->ents[below(&g->rng, (uint32_t)g->nents)].code;
}

static int put_insurance(struct gen *g, const struct person *p, size_t prov, const char *addr)
{
	char first[16], from[16], to[16], up[NDX_TIME_TEXT_LEN];
	int retired = p->age >= (p->female ? 56 : 61);
	int64_t start = p->bday + (int64_t)between(&g->rng, 20, 26) * 365;
	int64_t end = retired ? p->bday + (int64_t)(p->female ? 56 : 61) * 365 : g->today;
	int spans = between(&g->rng, 1, 3), rc;

	if (p->age < 20 || start >= end)
		return NDX_OK;
	if (retired ? !chance(&g->rng, 0.3) : !chance(&g->rng, 0.42))
		return NDX_OK;
	period_text(start, first);
	updated_text(g, up);
	if ((rc = put(g, S_INS, 0, "ssssssss", p->pin, p->name, p->folded,
		      retired ? "retired" : chance(&g->rng, 0.9) ? "contributing" : "paused", first,
		      addr, ucode(g, prov), up)))
		return rc;
	for (int k = 0; k < spans; k++) {
		int64_t s = start + (end - start) * k / spans;
		int64_t e = start + (end - start) * (k + 1) / spans - 31;
		const char *emp = random_employer(g);
		int last_open = !retired && k == spans - 1;
		period_text(s, from);
		period_text(e > s ? e : s, to);
		updated_text(g, up);
		if ((rc = put(g, S_INS, 1, "ssssids", p->pin, emp, from, last_open ? NULL : to,
			      (int64_t)between(&g->rng, 496, 4000) * 10000, emp ? 25.5 : 22.0, up)))
			return rc;
	}
	return NDX_OK;
}

static int put_parcel(struct gen *g, size_t prov, const char *addr, int home, const char *h1,
		      const char *h2, int64_t since)
{
	const struct place *pl = place_at(prov);
	uint64_t n = g->parcel_count[g->unit_of[prov]]++;
	char id[16], cert[16], s[11], up[NDX_TIME_TEXT_LEN];
	const char *use;
	double area;
	int rc;

	snprintf(id, sizeof id, "%s-%04u-%05u", ucode(g, prov), (unsigned)(n / 99999 % 10000) + 1,
		 (unsigned)(n % 99999) + 1);
	uint64_t c = g->certificates++;
	snprintf(cert, sizeof cert, "%c%c %06u", 'A' + (int)(c / 1000000 / 26 % 26),
		 'A' + (int)(c / 1000000 % 26), (unsigned)(c % 1000000));
	if (home) {
		int urban = pl->wards != NULL;
		use = urban ? "ODT" : "ONT";
		area = urban ? between(&g->rng, 300, 1500) / 10.0 : between(&g->rng, 800, 5000) / 10.0;
	} else if (h1 && strlen(h1) == NDX_ECODE_LEN) {
		use = "SKC";
		area = between(&g->rng, 500, 50000);
	} else {
		use = chance(&g->rng, 0.5) ? "LUC" : "CLN";
		area = between(&g->rng, 360, 20000);
	}
	if (since > g->today)
		since = g->today;
	date_text(since, s);
	updated_text(g, up);
	if ((rc = put(g, S_LAND, 0, "sssdsss", id, ucode(g, prov), addr, area, use, cert, up)) ||
	    (rc = put(g, S_LAND, 1, "ssdss", id, h1, h2 ? 50.0 : 100.0, s, up)))
		return rc;
	if (h2)
		rc = put(g, S_LAND, 1, "ssdss", id, h2, 50.0, s, up);
	return rc;
}

static int put_vehicle(struct gen *g, size_t prov, const char *addr, const char *owner,
		       const char *kind, int64_t not_before)
{
	static const char SERIES[] = "ABCDEFGHKLMNPSTUVXYZ";
	/* Plates take the code of the unit's seat. */
	const struct place *pl = g->seat[g->unit_of[prov]];
	char plate[16], chassis[20], reg[11], up[NDX_TIME_TEXT_LEN];
	int car = strcmp(kind, "motorbike") != 0;
	uint64_t n = car ? g->car_count[g->unit_of[prov]]++ : g->bike_count[g->unit_of[prov]]++;
	int year = between(&g->rng, 2005, g->this_year);
	int64_t first = days_from_civil(year, 1, 1);
	const char *brand;

	if (car)
		snprintf(plate, sizeof plate, "%s%c%05u", pl->plate, SERIES[n / 100000 % 20],
			 (unsigned)(n % 100000));
	else
		snprintf(plate, sizeof plate, "%s%c%u%05u", pl->plate, SERIES[n / 900000 % 20],
			 (unsigned)(n / 100000 % 9) + 1, (unsigned)(n % 100000));
	/* A bijection of the counter (7919 is prime to 10^14): unique and
	 * scattered, like real frame numbers. */
	snprintf(chassis, sizeof chassis, "RL%c%014llu", car ? 'H' : 'M',
		 (unsigned long long)(g->chassis++ * 7919ULL % 100000000000000ULL));
	if (first < not_before)
		first = not_before;
	if (first > g->today)
		first = g->today;
	date_text(first + below(&g->rng, (uint32_t)(g->today - first + 1)), reg);
	updated_text(g, up);
	brand = car ? pick(g, CAR_BRANDS, g->n_cars) : pick(g, BIKE_BRANDS, g->n_bikes);
	char make[48], model[64];
	const char *sp = strchr(brand, ' ');
	snprintf(make, sizeof make, "%.*s", (int)(sp ? sp - brand : (long)strlen(brand)), brand);
	snprintf(model, sizeof model, "%s", sp ? sp + 1 : brand);
	return put(g, S_VEH, 0, "ssssisssssss", plate, kind, make, model, (int64_t)year,
		   pick(g, COLORS, g->n_colors), chassis, owner, reg, addr, ucode(g, prov), up);
}

static uint64_t name_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h >> 1;
}

static int put_enterprise(struct gen *g, const struct person *founder, const struct person *partner,
			  size_t prov, const char *addr)
{
	static const char *const KIND[] = { "tnhh-1tv", "tnhh-2tv", "co-phan", "tu-nhan",
					    "hop-danh" };
	static const char *const PREFIX[] = { "Công ty TNHH", "Công ty TNHH", "Công ty Cổ phần",
					      "Doanh nghiệp tư nhân", "Công ty Hợp danh" };
	char prefix9[10], code[NDX_ECODE_LEN + 1], name[200], folded[200], reg[11], since[11],
		up[NDX_TIME_TEXT_LEN];
	int r = between(&g->rng, 1, 100), kind, rc;
	int64_t start = founder->bday + 22 * 365, day;

	kind = r <= 45 ? 0 : r <= 70 ? 1 : r <= 90 ? 2 : r <= 99 ? 3 : 4;
	if (!partner && (kind == 1 || kind == 2 || kind == 4))
		kind = 0;
	for (;;) {
		/* The prefix of the tax office of the unit's seat. */
		snprintf(prefix9, sizeof prefix9, "%s%07u", unit(g, prov)->ecode_prefix,
			 (unsigned)below(&g->rng, 10000000));
		if (ndx_ecode_make(prefix9, code) == NDX_OK &&
		    numset_add(&g->ecodes, strtoull(code, NULL, 10)))
			break;
	}
	/* Enterprise names are unique nationwide (Law on Enterprises, art. 41). */
	for (int tries = 0;; tries++) {
		const char *trade = pick(g, TRADES, g->n_trades);
		const char *b1 = pick(g, BRANDS, g->n_brands), *b2 = pick(g, BRANDS, g->n_brands);
		if (b1 == b2)
			continue;
		if (tries < 6)
			snprintf(name, sizeof name, "%s %s %s %s", PREFIX[kind], trade, b1, b2);
		else
			snprintf(name, sizeof name, "%s %s %s %s %d", PREFIX[kind], trade, b1, b2,
				 between(&g->rng, 2, 999));
		if (ndx_fold(name, folded, sizeof folded) < 0)
			return NDX_EINVAL;
		if (numset_add(&g->enames, name_hash(folded)))
			break;
	}
	if (start > g->today)
		start = g->today - 30;
	day = start + below(&g->rng, (uint32_t)(g->today - start + 1));
	date_text(day, reg);
	updated_text(g, up);
	r = between(&g->rng, 1, 100);
	if ((rc = put(g, S_ENT, 0, "ssssssssss", code, name, folded, KIND[kind], addr, ucode(g, prov),
		      r <= 85 ? "active" : r <= 93 ? "suspended" : "dissolved", reg, founder->pin,
		      up)))
		return rc;
	date_text(day, since);
	if (partner && kind != 0 && kind != 3) {
		double share = between(&g->rng, 51, 90);
		if ((rc = put(g, S_ENT, 1, "ssdss", code, founder->pin, share, since, up)) ||
		    (rc = put(g, S_ENT, 1, "ssdss", code, partner->pin, 100.0 - share, since, up)))
			return rc;
	} else if ((rc = put(g, S_ENT, 1, "ssdss", code, founder->pin, 100.0, since, up))) {
		return rc;
	}
	if (g->nents == g->capents) {
		size_t cap = g->capents ? g->capents * 2 : 1024;
		struct enterprise_ref *e = realloc(g->ents, cap * sizeof *e);
		if (!e)
			return NDX_ENOMEM;
		g->ents = e;
		g->capents = cap;
	}
	snprintf(g->ents[g->nents].code, sizeof g->ents[0].code, "%s", code);
	g->ents[g->nents++].prov = prov;
	if ((rc = put_taxpayer(g, code, name, folded, prov, addr, day, 1)))
		return rc;
	if (chance(&g->rng, 0.25) &&
	    (rc = put_parcel(g, prov, addr, 0, code, NULL, day + between(&g->rng, 0, 700))))
		return rc;
	if (chance(&g->rng, 0.3))
		rc = put_vehicle(g, prov, addr, code, chance(&g->rng, 0.5) ? "truck" : "car", day);
	return rc;
}

/* Everything about one adult that does not depend on the household shape. */
static int adult_records(struct gen *g, const struct person *p, const struct person *spouse,
			 size_t prov, const char *addr)
{
	int rc;
	const struct person *partner = spouse;
	struct person other;

	if (p->age >= 18 && chance(&g->rng, 0.55) &&
	    (rc = put_taxpayer(g, p->pin, p->name, p->folded, prov, addr,
			       p->bday + (int64_t)between(&g->rng, 18 * 365, (p->age) * 365), 0)))
		return rc;
	if ((rc = put_insurance(g, p, prov, addr)))
		return rc;
	if (p->age >= 18 && p->age <= 75 && chance(&g->rng, 0.55) &&
	    (rc = put_vehicle(g, prov, addr, p->pin, "motorbike", p->bday + 18 * 365)))
		return rc;
	if (p->age >= 18 && p->age <= 75 && chance(&g->rng, 0.07) &&
	    (rc = put_vehicle(g, prov, addr, p->pin, "car", p->bday + 18 * 365)))
		return rc;
	if (p->age >= 23 && p->age <= 65 && chance(&g->rng, 0.012)) {
		if (!partner && g->ring_n > 0 && chance(&g->rng, 0.4)) {
			memset(&other, 0, sizeof other);
			snprintf(other.pin, sizeof other.pin, "%s",
				 g->ring[below(&g->rng, (uint32_t)(g->ring_n < RING ? g->ring_n : RING))]);
			if (strcmp(other.pin, p->pin) != 0)
				partner = &other;
		}
		if ((rc = put_enterprise(g, p, partner, prov, addr)))
			return rc;
	}
	if (p->age >= 18)
		remember_adult(g, p->pin);
	return NDX_OK;
}

static int head_age(struct gen *g)
{
	/* Heads are mostly 30-60, a tail up to 90. */
	int r = between(&g->rng, 1, 100);
	return r <= 15 ? between(&g->rng, 20, 29)
	       : r <= 80 ? between(&g->rng, 30, 59)
			 : between(&g->rng, 60, 90);
}

static size_t birth_province(struct gen *g, size_t home)
{
	return chance(&g->rng, 0.85) ? home : pick_province(g);
}

static int household(struct gen *g, uint64_t budget, uint64_t *made)
{
	struct person m[MAX_MEMBERS];
	size_t n = 0, prov = pick_province(g), head_i, spouse_i = (size_t)-1;
	char hh[16], addr[320], up[NDX_TIME_TEXT_LEN];
	int age = head_age(g), female = chance(&g->rng, 0.25), rc;
	int64_t first_child = 0;
	const struct person *husband = NULL, *wife = NULL;

	snprintf(hh, sizeof hh, "H%s%08llu", ucode(g, prov),
		 (unsigned long long)(g->hh_count[g->unit_of[prov]]++ % 100000000ULL));
	address(g, prov, addr, sizeof addr);
	if ((rc = make_person(g, &m[n], female, g->this_year - age, -1, birth_province(g, prov),
			      "head")))
		return rc;
	head_i = n++;
	if (n < budget && chance(&g->rng, 0.82)) {
		int sage = age + (female ? between(&g->rng, 0, 6) : -between(&g->rng, 0, 6));
		if (sage < 18)
			sage = 18;
		if ((rc = make_person(g, &m[n], !female, g->this_year - sage, -1,
				      birth_province(g, prov), "spouse")))
			return rc;
		spouse_i = n++;
		husband = female ? &m[spouse_i] : &m[head_i];
		wife = female ? &m[head_i] : &m[spouse_i];
	}
	if (wife || chance(&g->rng, 0.3)) {
		static const int CHILDREN[] = { 0, 1, 1, 2, 2, 2, 2, 3, 3, 4 };
		int kids = CHILDREN[below(&g->rng, 10)];
		const struct person *mother = wife ? wife : (female ? &m[head_i] : NULL);
		const struct person *father = husband ? husband : (!female ? &m[head_i] : NULL);
		int mother_age = mother ? mother->age : age;
		int surname = father ? father->surname : m[head_i].surname;
		for (int k = 0; k < kids && n < MAX_MEMBERS - 1 && n < budget; k++) {
			int at = between(&g->rng, 20, 40);
			int cage = mother_age - at;
			if (cage < 0)
				continue;
			if ((rc = make_person(g, &m[n], chance(&g->rng, 0.49), g->this_year - cage,
					      surname, birth_province(g, prov), "child")))
				return rc;
			if (!first_child || m[n].bday < first_child)
				first_child = m[n].bday;
			n++;
		}
	}
	if (age < 50 && n < budget && chance(&g->rng, 0.15)) {
		int pf = chance(&g->rng, 0.6);
		int pyear = g->this_year - age - between(&g->rng, 20, 35);
		if ((rc = make_person(g, &m[n], pf, pyear, pf ? -1 : m[head_i].surname,
				      birth_province(g, prov), "parent")))
			return rc;
		n++;
	}

	updated_text(g, up);
	if ((rc = put(g, S_POP, 1, "sssss", hh, m[head_i].pin, addr, ucode(g, prov),
		      up)))
		return rc;
	for (size_t i = 0; i < n; i++) {
		const struct person *p = &m[i];
		const char *father = NULL, *mother = NULL;
		if (strcmp(p->relation, "child") == 0) {
			father = husband ? husband->pin : !female ? m[head_i].pin : NULL;
			mother = wife ? wife->pin : female ? m[head_i].pin : NULL;
		}
		if ((rc = put_citizen(g, p, addr, prov, hh)) ||
		    (rc = put_birth(g, p, father, mother)))
			return rc;
	}
	if (husband && (rc = put_marriage(g, husband, wife, prov, first_child)))
		return rc;
	for (size_t i = 0; i < n; i++) {
		const struct person *sp = NULL;
		if (i == head_i && spouse_i != (size_t)-1)
			sp = &m[spouse_i];
		else if (i == spouse_i)
			sp = &m[head_i];
		if ((rc = adult_records(g, &m[i], sp, prov, addr)))
			return rc;
	}
	if (chance(&g->rng, 0.7)) {
		int64_t since = m[head_i].bday + 18 * 365 + between(&g->rng, 0, 20 * 365);
		if ((rc = put_parcel(g, prov, addr, 1, m[head_i].pin,
				     spouse_i != (size_t)-1 && chance(&g->rng, 0.6) ? m[spouse_i].pin
										    : NULL,
				     since)))
			return rc;
	}
	if (chance(&g->rng, 0.08) &&
	    (rc = put_parcel(g, prov, addr, 0, m[head_i].pin, NULL,
			     m[head_i].bday + 20 * 365 + between(&g->rng, 0, 20 * 365))))
		return rc;
	*made += n;
	return NDX_OK;
}

/* ---- set-up and tear-down ------------------------------------------------------------ */

/* Where sector i goes: DIR/<sector>.db, or the connection string itself
 * (the sector's schema, store_pg.h). */
static int db_path(const char *dir, size_t i, char *out, size_t cap)
{
	int n = ndx_sqldb_is_pg(dir) ? snprintf(out, cap, "%s", dir)
				     : snprintf(out, cap, "%s/%s.db", dir, sector_at(i)->name);
	return n < 0 || (size_t)n >= cap ? -1 : 0;
}

static int open_all(struct gen *g, const struct seed_opts *o)
{
	char path[4096];
	int rc;

	for (size_t i = 0; i < SECTOR_COUNT; i++) {
		if (o->only && o->only != sector_at(i))
			continue;
		if (db_path(o->dir, i, path, sizeof path))
			return NDX_EINVAL;
		if ((rc = store_bulk_open(path, sector_at(i), &g->bulk[i])))
			return rc;
	}
	return NDX_OK;
}

/* keep = 0: what was created is removed (a failed run). */
static void close_all(struct gen *g, int keep)
{
	for (size_t i = 0; i < SECTOR_COUNT; i++) {
		store_bulk_close(g->bulk[i], keep);
		g->bulk[i] = NULL;
	}
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static int finish_all(struct gen *g, int progress)
{
	for (size_t i = 0; i < SECTOR_COUNT; i++)
		if (g->bulk[i] && store_bulk_end(g->bulk[i]))
			return NDX_EDB;
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (size_t i = 0; i < SECTOR_COUNT; i++) {
		if (!g->bulk[i])
			continue;
		if (progress)
			fprintf(stderr, "ndx-sector seed: indexing %s\n", sector_at(i)->name);
		if (store_bulk_index(g->bulk[i]))
			return NDX_EDB;
	}
	g->stats->index_seconds = seconds_since(&t0);
	return NDX_OK;
}

static void init_tables(struct gen *g)
{
	uint32_t acc = 0;
	for (size_t i = 0; i < NDX_PROVINCE_COUNT; i++) {
		acc += place_at(i)->weight;
		g->cum[i] = acc;
		g->unit_of[i] = (size_t)ndx_admin_province_index_of(ndx_province_at(i)->code);
	}
	for (size_t u = 0; u < NDX_ADMIN_PROVINCE_COUNT; u++)
		g->seat[u] = place_find(ndx_admin_province_at(u)->code);
	g->total_weight = acc;
	acc = 0;
	for (size_t i = 0; i < NSURNAMES && i < 64; i++) {
		acc += SURNAMES[i].weight;
		g->surname_cum[i] = acc;
	}
	g->surname_total = acc;
	g->n_middle_m = names_count(MIDDLE_MALE);
	g->n_middle_f = names_count(MIDDLE_FEMALE);
	g->n_given_m = names_count(GIVEN_MALE);
	g->n_given_f = names_count(GIVEN_FEMALE);
	g->n_trades = names_count(TRADES);
	g->n_brands = names_count(BRANDS);
	g->n_cars = names_count(CAR_BRANDS);
	g->n_bikes = names_count(BIKE_BRANDS);
	g->n_colors = names_count(COLORS);
}

/* The ground truth's file: --truth, or beside the databases. */
static int truth_file(const struct seed_opts *o, char *path, size_t cap)
{
	int n = o->truth_path ? snprintf(path, cap, "%s", o->truth_path)
			      : snprintf(path, cap, "%s/" SEED_TRUTH_FILE, o->dir);
	return n < 0 || (size_t)n >= cap ? NDX_EINVAL : NDX_OK;
}

/* Spoils the clean data (seed_defects.h) and writes the truth file. */
static int add_defects(struct gen *g, const struct seed_opts *o)
{
	char path[4096];
	FILE *f;
	int rc;

	if (truth_file(o, path, sizeof path))
		return NDX_EINVAL;
	if (!(f = fopen(path, "wx"))) {
		fprintf(stderr, "ndx-sector seed: cannot create %s: %s\n", path, strerror(errno));
		return NDX_EIO;
	}
	if (o->progress)
		fprintf(stderr, "ndx-sector seed: adding defects (%.4g)\n", o->defects);
	struct sec_sql db[SECTOR_COUNT];
	for (size_t i = 0; i < SECTOR_COUNT; i++)
		db[i] = store_bulk_sql(g->bulk[i]);
	rc = seed_defects_apply(db, o->defects, o->seed, g->today, f, &g->stats->defects);
	if (fclose(f) != 0 && rc == NDX_OK)
		rc = NDX_EIO;
	return rc;
}

int seed_run(const struct seed_opts *o, struct seed_stats *stats)
{
	struct gen *g;
	char path[4096];
	struct timespec t0;
	uint64_t made = 0, next_report = 1000000, x = o->seed;
	struct tm tm;
	int rc;

	memset(stats, 0, sizeof *stats);
	if (o->citizens == 0 || o->citizens > SEED_MAX_CITIZENS)
		return NDX_EINVAL;
	int pg = ndx_sqldb_is_pg(o->dir);
	if (pg && o->defects > 0 && !o->truth_path) {
		fprintf(stderr, "ndx-sector seed: --defects on PostgreSQL: where does the truth go?"
				" (--truth FILE)\n");
		return NDX_EINVAL;
	}
	if (o->defects > 0 && o->only) {
		fprintf(stderr, "ndx-sector seed: --defects spoils six sectors: not with --sector\n");
		return NDX_EINVAL;
	}
	for (size_t i = 0; i < SECTOR_COUNT && !pg; i++) {
		if (db_path(o->dir, i, path, sizeof path))
			return NDX_EINVAL;
		if (access(path, F_OK) == 0) {
			fprintf(stderr, "ndx-sector seed: %s exists: refusing to overwrite\n", path);
			return NDX_EEXIST;
		}
	}
	if (truth_file(o, path, sizeof path))
		return NDX_EINVAL;
	if (o->defects > 0 && access(path, F_OK) == 0) {
		fprintf(stderr, "ndx-sector seed: %s exists: refusing to overwrite\n", path);
		return NDX_EEXIST;
	}
	if (!pg && ndx_mkdirs(o->dir, 0755) != NDX_OK) {
		fprintf(stderr, "ndx-sector seed: cannot create %s: %s\n", o->dir, strerror(errno));
		return NDX_EIO;
	}
	if (!(g = calloc(1, sizeof *g)))
		return NDX_ENOMEM;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	g->stats = stats;
	g->now = o->today ? o->today : time(NULL);
	gmtime_r(&g->now, &tm);
	g->this_year = tm.tm_year + 1900;
	g->today = days_from_civil(g->this_year, tm.tm_mon + 1, tm.tm_mday);
	for (int i = 0; i < 4; i++)
		g->rng.s[i] = splitmix(&x);
	init_tables(g);
	if ((rc = numset_init(&g->pins, o->citizens)) ||
	    (rc = numset_init(&g->ecodes, o->citizens / 50 + 64)) ||
	    (rc = numset_init(&g->enames, o->citizens / 50 + 64)))
		goto out;
	if ((rc = open_all(g, o)))
		goto out;
	while (made < o->citizens) {
		if ((rc = household(g, o->citizens - made, &made)))
			goto out;
		if (o->progress && made >= next_report) {
			fprintf(stderr, "ndx-sector seed: %llu citizens, %.0f s\n",
				(unsigned long long)made, seconds_since(&t0));
			next_report += 1000000;
		}
	}
	stats->insert_seconds = seconds_since(&t0);
	rc = finish_all(g, o->progress);
	if (rc == NDX_OK && o->defects > 0)
		rc = add_defects(g, o);
out:
	for (size_t i = 0; i < SECTOR_COUNT && rc == NDX_OK; i++)
		if (g->bulk[i])
			stats->bytes[i] = store_bulk_bytes(g->bulk[i]);
	close_all(g, rc == NDX_OK);
	if (rc && o->defects > 0 && truth_file(o, path, sizeof path) == NDX_OK)
		unlink(path);
	stats->total_seconds = seconds_since(&t0);
	free(g->pins.slot);
	free(g->ecodes.slot);
	free(g->enames.slot);
	free(g->ents);
	free(g);
	return rc;
}
