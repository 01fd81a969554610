/* The defects of `seed --defects` (seed_defects.h). The clean data is
 * built first; then each person record of the six registries that point
 * at the population registry is, with probability rate, given one defect
 * among those its table can hold, chosen by a generator seeded from
 * --seed, and the truth file receives one line per defect. Records are
 * listed before any is changed, so an inserted duplicate is never spoiled
 * again, and a record is spoiled at most once. Overview: docs/sectors.md
 * "Defects". */
#include "seed_defects.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>

#include "ndx/err.h"
#include "ndx/pin.h"
#include "ndx/timefmt.h"
#include "store.h"
#include "store_pg.h"

enum { S_POP, S_CIVIL, S_ENT, S_TAX, S_INS, S_LAND, S_VEH };

static const char *const KIND_NAMES[] = {
#define X(e, s) s,
	DEFECT_KINDS(X)
#undef X
};

const char *defect_kind_name(int kind)
{
	return kind >= 0 && kind < DEFECT_KIND_COUNT ? KIND_NAMES[kind] : NULL;
}

/* ---- names -------------------------------------------------------------------- */

/* The twelve Vietnamese vowels in their six tones (none, huyền, sắc, hỏi,
 * ngã, nặng), lower case then upper case, each with its bare letter. */
static const struct {
	char bare;
	const char *tone[6];
} VOWELS[] = {
	{ 'a', { "a", "à", "á", "ả", "ã", "ạ" } }, { 'a', { "ă", "ằ", "ắ", "ẳ", "ẵ", "ặ" } },
	{ 'a', { "â", "ầ", "ấ", "ẩ", "ẫ", "ậ" } }, { 'e', { "e", "è", "é", "ẻ", "ẽ", "ẹ" } },
	{ 'e', { "ê", "ề", "ế", "ể", "ễ", "ệ" } }, { 'i', { "i", "ì", "í", "ỉ", "ĩ", "ị" } },
	{ 'o', { "o", "ò", "ó", "ỏ", "õ", "ọ" } }, { 'o', { "ô", "ồ", "ố", "ổ", "ỗ", "ộ" } },
	{ 'o', { "ơ", "ờ", "ớ", "ở", "ỡ", "ợ" } }, { 'u', { "u", "ù", "ú", "ủ", "ũ", "ụ" } },
	{ 'u', { "ư", "ừ", "ứ", "ử", "ữ", "ự" } }, { 'y', { "y", "ỳ", "ý", "ỷ", "ỹ", "ỵ" } },
	{ 'A', { "A", "À", "Á", "Ả", "Ã", "Ạ" } }, { 'A', { "Ă", "Ằ", "Ắ", "Ẳ", "Ẵ", "Ặ" } },
	{ 'A', { "Â", "Ầ", "Ấ", "Ẩ", "Ẫ", "Ậ" } }, { 'E', { "E", "È", "É", "Ẻ", "Ẽ", "Ẹ" } },
	{ 'E', { "Ê", "Ề", "Ế", "Ể", "Ễ", "Ệ" } }, { 'I', { "I", "Ì", "Í", "Ỉ", "Ĩ", "Ị" } },
	{ 'O', { "O", "Ò", "Ó", "Ỏ", "Õ", "Ọ" } }, { 'O', { "Ô", "Ồ", "Ố", "Ổ", "Ỗ", "Ộ" } },
	{ 'O', { "Ơ", "Ờ", "Ớ", "Ở", "Ỡ", "Ợ" } }, { 'U', { "U", "Ù", "Ú", "Ủ", "Ũ", "Ụ" } },
	{ 'U', { "Ư", "Ừ", "Ứ", "Ử", "Ữ", "Ự" } }, { 'Y', { "Y", "Ỳ", "Ý", "Ỷ", "Ỹ", "Ỵ" } },
};
#define NVOWELS (sizeof VOWELS / sizeof VOWELS[0])

/* The vowel form at s: its row and tone, and its length in bytes; 0 when
 * s starts with no Vietnamese vowel (đ/Đ are answered as row -1, tone 1). */
static size_t vowel_at(const char *s, int *row, int *tone)
{
	if (strncmp(s, "đ", 2) == 0 || strncmp(s, "Đ", 2) == 0) {
		*row = -1;
		*tone = 1;
		return 2;
	}
	for (size_t r = 0; r < NVOWELS; r++)
		for (int k = 0; k < 6; k++) {
			size_t n = strlen(VOWELS[r].tone[k]);
			if (strncmp(s, VOWELS[r].tone[k], n) == 0) {
				*row = (int)r;
				*tone = k;
				return n;
			}
		}
	return 0;
}

/* Appends n bytes of s to out (cap) at *len; -1 when it does not fit. */
static int append(char *out, size_t cap, size_t *len, const char *s, size_t n)
{
	if (*len + n + 1 > cap)
		return -1;
	memcpy(out + *len, s, n);
	*len += n;
	out[*len] = '\0';
	return 0;
}

int defect_name(const char *name, enum defect_name_mode mode, uint64_t pick, char *out,
		size_t cap)
{
	size_t len = 0, marked = 0, target;
	int row, tone, changed = 0;

	if (cap == 0)
		return -1;
	out[0] = '\0';
	/* Which marked letter a wrong mark lands on: the pick-th of them. */
	for (const char *s = name; *s;) {
		size_t n = vowel_at(s, &row, &tone);
		if (n && row >= 0 && tone > 0)
			marked++;
		s += n ? n : 1;
	}
	if (mode == DEFECT_NAME_WRONG && marked == 0)
		mode = DEFECT_NAME_STRIP;
	target = marked ? (size_t)(pick % marked) : 0;
	marked = 0;
	for (const char *s = name; *s;) {
		size_t n = vowel_at(s, &row, &tone);
		if (!n) {
			if (append(out, cap, &len, s, 1))
				return -1;
			s++;
			continue;
		}
		if (mode == DEFECT_NAME_STRIP && (row < 0 || n > 1)) {
			/* đ is C4 91, Đ is C4 90 in UTF-8. */
			char bare = row < 0 ? (s[1] == '\x91' ? 'd' : 'D') : VOWELS[row].bare;
			if (append(out, cap, &len, &bare, 1))
				return -1;
			changed = 1;
		} else if (mode == DEFECT_NAME_WRONG && row >= 0 && tone > 0 && marked++ == target) {
			/* Another of the five tones: never the bare vowel, so the
			 * name keeps its marks but one is wrong. */
			int other = 1 + (int)((unsigned)(tone - 1 + 1 + (pick >> 8) % 4) % 5);
			const char *t = VOWELS[row].tone[other];
			if (append(out, cap, &len, t, strlen(t)))
				return -1;
			changed = 1;
		} else if (append(out, cap, &len, s, n)) {
			return -1;
		}
		s += n;
	}
	return changed;
}

int defect_swap_date(const char *date, char out[11])
{
	int y, m, d;
	char tail;

	if (strlen(date) != 10 || sscanf(date, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3)
		return 0;
	if (d < 1 || d > 12 || d == m || m < 1 || m > 12)
		return 0;
	snprintf(out, 11, "%04d-%02d-%02d", y, d, m);
	return 1;
}

/* ---- the run's state ------------------------------------------------------------- */

struct rng {
	uint64_t s;
};

/* splitmix64: small, fast and enough for choosing records. */
static uint64_t next64(struct rng *r)
{
	uint64_t z = (r->s += 0x9E3779B97F4A7C15ULL);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static int chance(struct rng *r, double p)
{
	return (double)(next64(r) >> 11) * (1.0 / 9007199254740992.0) < p;
}

struct run {
	const struct sec_sql *db;
	/* The population's numbers from first to last (a citizen at random,
	 * spoil_address), read once: 0 until then. */
	unsigned long long pin_lo, pin_hi;
	struct rng rng;
	int64_t today;
	char now[NDX_TIME_TEXT_LEN];
	FILE *truth;
	struct defect_stats *stats;
	/* The people made deceased (their records in tax and insurance are
	 * listed once all are chosen). */
	char (*dead)[NDX_PIN_LEN + 1];
	size_t ndead, capdead;
	/* The taxpayer duplicates made: [0] the copy's number, [1] the
	 * person's, so a copy of someone who dies is listed too. */
	char (*dups)[2][NDX_PIN_LEN + 1];
	size_t ndups, capdups;
};

/* Runs sql (SQL both engines speak, text arguments ?1..?n, NULL for NULL)
 * on db, expecting no row. NDX_EEXIST when a key refuses it. */
static int run_sql(const struct sec_sql *db, const char *sql, int n, ...)
{
	const char *params[8];
	va_list ap;

	va_start(ap, n);
	for (int i = 0; i < n && i < 8; i++)
		params[i] = va_arg(ap, const char *);
	va_end(ap);
	return sec_sql_exec(db, sql, n, params, NULL);
}

/* The first column of the first row of sql (one text argument ?1, or
 * none) into out (cap); 1 found, 0 none, NDX_EDB. */
static int query_text(const struct sec_sql *db, const char *sql, const char *arg, char *out,
		      size_t cap)
{
	const char *params[1] = { arg };
	return sec_sql_text(db, sql, arg ? 1 : 0, params, out, cap);
}

/* The first row's first three columns (NULL as ""). */
struct three {
	char v[3][512];
	int found;
};

static int take_three(void *ctx, int ncols, const char *const *vals)
{
	struct three *t = ctx;

	for (int i = 0; !t->found && i < 3; i++)
		snprintf(t->v[i], sizeof t->v[i], "%s", i < ncols && vals[i] ? vals[i] : "");
	t->found = 1;
	return NDX_OK;
}

/* The first row of sql (one text argument ?1) into *t: 1, 0 none, NDX_EDB. */
static int query_three(const struct sec_sql *db, const char *sql, const char *arg,
		       struct three *t)
{
	const char *params[1] = { arg };
	int rc;

	t->found = 0;
	rc = sec_sql_query(db, sql, 1, params, take_three, t);
	return rc ? rc : t->found;
}

static int truth_line(struct run *r, int sector, const char *table, const char *key, int kind,
		      const char *field, const char *value)
{
	json_t *o = json_pack("{ssssssssssss?}", "sector", sector_at((size_t)sector)->name,
			      "table", table, "key", key, "kind", KIND_NAMES[kind], "field", field,
			      "value", value);
	int rc = o ? json_dumpf(o, r->truth, JSON_COMPACT) : -1;

	json_decref(o);
	if (rc || fputc('\n', r->truth) == EOF)
		return o ? NDX_EIO : NDX_ENOMEM;
	r->stats->count[kind]++;
	return NDX_OK;
}

/* What a spoiling step returns after writing its truth line: 1 (applied),
 * or the failure of writing it. */
static int applied(int rc)
{
	return rc ? rc : 1;
}

/* A valid number that nobody holds: like base (same province, sex and
 * year) with another serial; 1 when made, 0 after many tries, NDX_EDB. */
static int unissued_pin(struct run *r, const char *base, char out[NDX_PIN_LEN + 1])
{
	char seen[4];

	for (int tries = 0; tries < 64; tries++) {
		snprintf(out, NDX_PIN_LEN + 1, "%.6s%06u", base, (unsigned)(next64(&r->rng) % 1000000));
		if (strcmp(out, base) == 0)
			continue;
		int rc = query_text(&r->db[S_POP], "SELECT 1 FROM citizens WHERE pin = ?1", out, seen,
				    sizeof seen);
		if (rc < 0)
			return rc;
		if (rc == 0)
			return 1;
	}
	return 0;
}

/* base with one of its last six digits mistyped, held by nobody. */
static int typo_pin(struct run *r, const char *base, char out[NDX_PIN_LEN + 1])
{
	char seen[4];

	for (int tries = 0; tries < 64; tries++) {
		snprintf(out, NDX_PIN_LEN + 1, "%s", base);
		size_t at = 6 + (size_t)(next64(&r->rng) % 6);
		out[at] = (char)('0' + (out[at] - '0' + 1 + (int)(next64(&r->rng) % 9)) % 10);
		int rc = query_text(&r->db[S_POP], "SELECT 1 FROM citizens WHERE pin = ?1", out, seen,
				    sizeof seen);
		if (rc < 0)
			return rc;
		if (rc == 0)
			return 1;
	}
	return 0;
}

/* ---- the defects, one record at a time -------------------------------------------- */

/* One table whose person records may be spoiled: the sector, the table,
 * its key (NULL: the integer id), the person's number column, the kinds it
 * can hold, and the SQL that lists its candidates (key, number) in key
 * order, the same on both engines. */
struct target {
	int sector;
	const char *table, *key, *pin;
	int kinds[4];
	size_t nkinds;
	const char *list_sql;
};

static const struct target TARGETS[] = {
	{ S_CIVIL, "births", NULL, "child_pin",
	  { DEFECT_NAME_MARKS, DEFECT_DATE_SWAPPED, DEFECT_DUPLICATE_NUMBER,
	    DEFECT_DUPLICATE_NO_NUMBER }, 4,
	  "SELECT id, child_pin FROM births WHERE child_pin IS NOT NULL ORDER BY id" },
	{ S_ENT, "owners", NULL, "owner_pin", { DEFECT_WRONG_OWNER }, 1,
	  "SELECT id, owner_pin FROM owners ORDER BY id" },
	{ S_TAX, "taxpayers", "tax_id", "tax_id",
	  { DEFECT_NAME_MARKS, DEFECT_STALE_ADDRESS, DEFECT_DECEASED_ACTIVE,
	    DEFECT_DUPLICATE_NUMBER }, 4,
	  "SELECT tax_id, tax_id FROM taxpayers WHERE kind = 'individual' ORDER BY tax_id" },
	{ S_INS, "participants", "pin", "pin",
	  { DEFECT_NAME_MARKS, DEFECT_STALE_ADDRESS, DEFECT_DECEASED_ACTIVE }, 3,
	  "SELECT pin, pin FROM participants ORDER BY pin" },
	{ S_LAND, "right_holders", NULL, "holder_id", { DEFECT_NONEXISTENT }, 1,
	  "SELECT id, holder_id FROM right_holders WHERE length(holder_id) = 12 ORDER BY id" },
	{ S_VEH, "vehicles", "plate", "owner_id", { DEFECT_NONEXISTENT, DEFECT_STALE_ADDRESS }, 2,
	  "SELECT plate, owner_id FROM vehicles WHERE length(owner_id) = 12 ORDER BY plate" },
};

/* The columns of a table that a defect touches. */
static const char *name_column(const struct target *t)
{
	return t->sector == S_CIVIL ? "child_name" : t->sector == S_INS || t->sector == S_TAX ? "name"
											      : NULL;
}

static const char *address_column(const struct target *t)
{
	return t->sector == S_VEH ? "owner_address" : "address";
}

/* The WHERE clause of one record, its key the argument ?n: "KEY = ?n", or
 * "id = CAST(?n AS bigint)". */
static void where_key(const struct target *t, int n, char *out, size_t cap)
{
	if (t->key)
		snprintf(out, cap, "%s = ?%d", t->key, n);
	else
		snprintf(out, cap, "id = CAST(?%d AS bigint)", n);
}

static int spoil_name(struct run *r, const struct target *t, const char *key)
{
	char sql[256], where[64], name[256], bad[256];
	const char *col = name_column(t);
	int rc;

	where_key(t, 1, where, sizeof where);
	snprintf(sql, sizeof sql, "SELECT %s FROM %s WHERE %s", col, t->table, where);
	if ((rc = query_text(&r->db[t->sector], sql, key, name, sizeof name)) <= 0)
		return rc;
	uint64_t pick = next64(&r->rng);
	rc = defect_name(name, pick & 1 ? DEFECT_NAME_WRONG : DEFECT_NAME_STRIP, pick >> 1, bad,
			 sizeof bad);
	if (rc <= 0)
		return 0;
	/* name_folded is unchanged: the letters are the same. */
	where_key(t, 2, where, sizeof where);
	snprintf(sql, sizeof sql, "UPDATE %s SET %s = ?1 WHERE %s", t->table, col, where);
	if ((rc = run_sql(&r->db[t->sector], sql, 2, bad, key)))
		return rc;
	return applied(truth_line(r, t->sector, t->table, key, DEFECT_NAME_MARKS, col, name));
}

static int spoil_date(struct run *r, const struct target *t, const char *key)
{
	char date[16], swapped[11];
	int rc = query_text(&r->db[S_CIVIL], "SELECT birth_date FROM births WHERE id = CAST(?1 AS bigint)",
			    key, date, sizeof date);

	if (rc <= 0 || !defect_swap_date(date, swapped))
		return rc < 0 ? rc : 0;
	if ((rc = run_sql(&r->db[S_CIVIL],
			  "UPDATE births SET birth_date = ?1 WHERE id = CAST(?2 AS bigint)", 2, swapped,
			  key)))
		return rc;
	return applied(truth_line(r, t->sector, t->table, key, DEFECT_DATE_SWAPPED, "birth_date", date));
}

/* The first and last of the population's numbers (pins: twelve digits). */
static int pin_range(struct run *r)
{
	char v[32];
	int rc;

	if (r->pin_hi)
		return 1;
	if ((rc = query_text(&r->db[S_POP], "SELECT min(pin) FROM citizens", NULL, v, sizeof v)) <= 0)
		return rc;
	r->pin_lo = strtoull(v, NULL, 10);
	if ((rc = query_text(&r->db[S_POP], "SELECT max(pin) FROM citizens", NULL, v, sizeof v)) <= 0)
		return rc;
	r->pin_hi = strtoull(v, NULL, 10);
	return r->pin_hi >= r->pin_lo && r->pin_hi ? 1 : 0;
}

/* The address of another citizen (an old one: the person has moved since):
 * the first citizen from a number drawn between the first and the last,
 * in number order (an index on either engine). */
static int spoil_address(struct run *r, const struct target *t, const char *key, const char *pin)
{
	char sql[256], where[64], truth[512], from[24];
	const char *col = address_column(t);
	struct three old;
	int rc;

	if ((rc = query_text(&r->db[S_POP], "SELECT permanent_address FROM citizens WHERE pin = ?1",
			     pin, truth, sizeof truth)) <= 0)
		return rc;
	if ((rc = pin_range(r)) <= 0)
		return rc;
	for (int tries = 0; tries < 8; tries++) {
		snprintf(from, sizeof from, "%012llu",
			 r->pin_lo + next64(&r->rng) % (r->pin_hi - r->pin_lo + 1));
		rc = query_three(&r->db[S_POP],
				 "SELECT permanent_address, permanent_province FROM citizens "
				 "WHERE pin >= ?1 ORDER BY pin LIMIT 1",
				 from, &old);
		if (rc < 0)
			return rc;
		if (!rc || strcmp(old.v[0], truth) == 0)
			continue;
		where_key(t, 3, where, sizeof where);
		snprintf(sql, sizeof sql, "UPDATE %s SET %s = ?1, %s = ?2 WHERE %s", t->table, col,
			 t->sector == S_VEH ? "owner_province" : "province", where);
		if ((rc = run_sql(&r->db[t->sector], sql, 3, old.v[0], old.v[1], key)))
			return rc;
		return applied(truth_line(r, t->sector, t->table, key, DEFECT_STALE_ADDRESS, col, truth));
	}
	return 0;
}

/* The same person again: a copy of the record under a number nobody holds
 * (with_number) or under none (births only). */
static int duplicate(struct run *r, const struct target *t, const char *key, const char *pin,
		     int with_number)
{
	char fresh[NDX_PIN_LEN + 1], newkey[24];
	int rc;

	if (with_number && (rc = unissued_pin(r, pin, fresh)) <= 0)
		return rc;
	if (t->sector == S_CIVIL) {
		const char *params[2] = { with_number ? fresh : NULL, key };
		rc = sec_sql_text(&r->db[S_CIVIL],
				  "INSERT INTO births(child_pin, child_name, name_folded, birth_date, "
				  "sex, province, father_pin, mother_pin, registered_on, updated_at) "
				  "SELECT ?1, child_name, name_folded, birth_date, sex, province, "
				  "father_pin, mother_pin, registered_on, updated_at FROM births "
				  "WHERE id = CAST(?2 AS bigint) RETURNING id",
				  2, params, newkey, sizeof newkey);
		if (rc <= 0)
			return rc < 0 ? rc : NDX_EDB;
		return applied(truth_line(r, t->sector, t->table, newkey,
				  with_number ? DEFECT_DUPLICATE_NUMBER : DEFECT_DUPLICATE_NO_NUMBER,
				  "child_pin", pin));
	}
	/* A number a taxpayer holds already: not this defect (DO NOTHING, as a
	 * refused statement would end a transaction on PostgreSQL). */
	const char *params[2] = { fresh, key };
	long long added = 0;
	rc = sec_sql_exec(&r->db[S_TAX],
			  "INSERT INTO taxpayers(tax_id, kind, name, name_folded, status, tax_office, "
			  "registered_on, address, province, updated_at) SELECT ?1, kind, name, "
			  "name_folded, status, tax_office, registered_on, address, province, "
			  "updated_at FROM taxpayers WHERE tax_id = ?2 ON CONFLICT DO NOTHING",
			  2, params, &added);
	if (rc)
		return rc;
	if (added == 0)
		return 0;
	if (r->ndups == r->capdups) {
		size_t cap = r->capdups ? r->capdups * 2 : 64;
		void *p = realloc(r->dups, cap * sizeof *r->dups);
		if (!p)
			return NDX_ENOMEM;
		r->dups = p;
		r->capdups = cap;
	}
	snprintf(r->dups[r->ndups][0], NDX_PIN_LEN + 1, "%s", fresh);
	snprintf(r->dups[r->ndups++][1], NDX_PIN_LEN + 1, "%s", pin);
	return applied(truth_line(r, t->sector, t->table, fresh, DEFECT_DUPLICATE_NUMBER, "tax_id", pin));
}

/* A number nobody holds in place of the person's: a fresh one
 * (nonexistent) or the owner's mistyped (wrong owner). */
static int wrong_number(struct run *r, const struct target *t, const char *key, const char *pin,
			int kind)
{
	char bad[NDX_PIN_LEN + 1], sql[256], where[64];
	int rc = kind == DEFECT_WRONG_OWNER ? typo_pin(r, pin, bad) : unissued_pin(r, pin, bad);

	if (rc <= 0)
		return rc;
	where_key(t, 2, where, sizeof where);
	snprintf(sql, sizeof sql, "UPDATE %s SET %s = ?1 WHERE %s", t->table, t->pin, where);
	if ((rc = run_sql(&r->db[t->sector], sql, 2, bad, key)))
		return rc;
	return applied(truth_line(r, t->sector, t->table, key, kind, t->pin, pin));
}

/* The person dies (population and civil status learn it); the records of
 * tax and insurance that stay active are listed by list_dead. */
static int make_dead(struct run *r, const struct target *t, const char *key, const char *pin)
{
	char died[32], registered[32];
	struct three row;
	int rc, y, m, d;
	int64_t day = r->today - 30 - (int64_t)(next64(&r->rng) % 700);

	(void)t;
	(void)key;
	if ((rc = query_three(&r->db[S_POP],
			      "SELECT birth_date, full_name, permanent_province FROM citizens "
			      "WHERE pin = ?1 AND deceased_on IS NULL",
			      pin, &row)) <= 0)
		return rc;
	/* Days since 1970 to a date: through time_t, noon UTC. */
	time_t tt = (time_t)(day * 86400 + 43200);
	struct tm tm;
	gmtime_r(&tt, &tm);
	y = tm.tm_year + 1900;
	m = tm.tm_mon + 1;
	d = tm.tm_mday;
	snprintf(died, sizeof died, "%04d-%02d-%02d", y, m, d);
	tt += 86400 * (time_t)(1 + next64(&r->rng) % 14);
	gmtime_r(&tt, &tm);
	snprintf(registered, sizeof registered, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday);
	if (strncmp(row.v[0], died, 10) >= 0)
		return 0; /* born after that day: choose another defect */
	const char *name = row.v[1], *prov = row.v[2];
	if (r->ndead == r->capdead) {
		size_t cap = r->capdead ? r->capdead * 2 : 256;
		void *p = realloc(r->dead, cap * sizeof *r->dead);
		if (!p)
			return NDX_ENOMEM;
		r->dead = p;
		r->capdead = cap;
	}
	if ((rc = run_sql(&r->db[S_POP], "UPDATE citizens SET deceased_on = ?1 WHERE pin = ?2", 2,
			  died, pin)))
		return rc;
	json_t *death = json_pack("{ssssssssss}", "pin", pin, "full_name", name, "died_on", died,
				  "province", prov, "registered_on", registered);
	if (!death)
		return NDX_ENOMEM;
	const struct sector_table *deaths = sector_table_find(sector_at(S_CIVIL), "deaths");
	char id[32];
	/* On PostgreSQL as the API writes, then dated the seed's day as on SQLite. */
	if (r->db[S_CIVIL].pg) {
		const char *params[2] = { r->now, id };
		rc = store_pg_put(r->db[S_CIVIL].pg, deaths, NULL, death, id, sizeof id);
		if (rc == NDX_OK)
			rc = sec_sql_exec(&r->db[S_CIVIL], "UPDATE deaths SET updated_at = ?1 WHERE"
							   " id = CAST(?2 AS bigint)",
					  2, params, NULL);
	} else {
		rc = store_insert_db(r->db[S_CIVIL].db, deaths, death, r->now);
	}
	json_decref(death);
	if (rc)
		return rc;
	snprintf(r->dead[r->ndead++], NDX_PIN_LEN + 1, "%s", pin);
	return 1;
}

/* Every record of the deceased still active in tax or insurance. */
static int list_dead(struct run *r)
{
	char status[32];
	int rc;

	for (size_t i = 0; i < r->ndead; i++) {
		const char *pin = r->dead[i];
		rc = query_text(&r->db[S_TAX], "SELECT status FROM taxpayers WHERE tax_id = ?1", pin,
				status, sizeof status);
		if (rc < 0)
			return rc;
		if (rc && strcmp(status, "closed") != 0 &&
		    (rc = truth_line(r, S_TAX, "taxpayers", pin, DEFECT_DECEASED_ACTIVE, "status",
				     "closed")))
			return rc;
		/* A copy under another number holds the dead person as active too. */
		for (size_t d = 0; d < r->ndups; d++) {
			if (strcmp(r->dups[d][1], pin) != 0)
				continue;
			rc = query_text(&r->db[S_TAX], "SELECT status FROM taxpayers WHERE tax_id = ?1",
					r->dups[d][0], status, sizeof status);
			if (rc < 0)
				return rc;
			if (rc && strcmp(status, "closed") != 0 &&
			    (rc = truth_line(r, S_TAX, "taxpayers", r->dups[d][0],
					     DEFECT_DECEASED_ACTIVE, "status", "closed")))
				return rc;
		}
		rc = query_text(&r->db[S_INS], "SELECT status FROM participants WHERE pin = ?1", pin,
				status, sizeof status);
		if (rc < 0)
			return rc;
		if (rc && strcmp(status, "deceased") != 0 &&
		    (rc = truth_line(r, S_INS, "participants", pin, DEFECT_DECEASED_ACTIVE, "status",
				     "deceased")))
			return rc;
	}
	return NDX_OK;
}

/* One defect of kind on the record: 1 applied, 0 not applicable. */
static int spoil(struct run *r, const struct target *t, int kind, const char *key, const char *pin)
{
	switch (kind) {
	case DEFECT_NAME_MARKS: return spoil_name(r, t, key);
	case DEFECT_DATE_SWAPPED: return spoil_date(r, t, key);
	case DEFECT_STALE_ADDRESS: return spoil_address(r, t, key, pin);
	case DEFECT_DUPLICATE_NUMBER: return duplicate(r, t, key, pin, 1);
	case DEFECT_DUPLICATE_NO_NUMBER: return duplicate(r, t, key, pin, 0);
	case DEFECT_NONEXISTENT:
	case DEFECT_WRONG_OWNER: return wrong_number(r, t, key, pin, kind);
	case DEFECT_DECEASED_ACTIVE: return make_dead(r, t, key, pin);
	default: return 0;
	}
}

struct chosen {
	char key[24];
	char pin[NDX_PIN_LEN + 1];
};

struct choosing {
	struct run *r;
	double rate;
	struct chosen *list;
	size_t n, cap;
	int failed;
};

static int choose_row(void *ctx, int ncols, const char *const *vals)
{
	struct choosing *c = ctx;
	const char *key = ncols > 1 ? vals[0] : NULL, *pin = ncols > 1 ? vals[1] : NULL;

	if (!chance(&c->r->rng, c->rate) || !key || !pin || c->failed)
		return NDX_OK;
	if (c->n == c->cap) {
		size_t c2 = c->cap ? c->cap * 2 : 64;
		struct chosen *p = realloc(c->list, c2 * sizeof *p);
		if (!p) {
			c->failed = 1; /* read to the end: the connection is then ready */
			return NDX_OK;
		}
		c->list = p;
		c->cap = c2;
	}
	snprintf(c->list[c->n].key, sizeof c->list[c->n].key, "%s", key);
	snprintf(c->list[c->n].pin, sizeof c->list[c->n].pin, "%s", pin);
	c->n++;
	return NDX_OK;
}

/* The records of t to spoil, chosen before any is changed. */
static int choose(struct run *r, const struct target *t, double rate, struct chosen **out,
		  size_t *n)
{
	struct choosing c = { .r = r, .rate = rate };
	int rc = sec_sql_query(&r->db[t->sector], t->list_sql, 0, NULL, choose_row, &c);

	if (rc == NDX_OK && c.failed)
		rc = NDX_ENOMEM;
	if (rc) {
		free(c.list);
		c.list = NULL;
		c.n = 0;
	}
	*out = c.list;
	*n = c.n;
	return rc;
}

static int spoil_table(struct run *r, const struct target *t, double rate)
{
	struct chosen *list;
	size_t n;
	int rc = choose(r, t, rate, &list, &n);

	for (size_t i = 0; rc == NDX_OK && i < n; i++) {
		/* A kind at random; when the record cannot hold it (no mark
		 * to spoil, a day above 12, born after the death), the next. */
		size_t first = (size_t)(next64(&r->rng) % t->nkinds);
		for (size_t k = 0; k < t->nkinds; k++) {
			int done = spoil(r, t, t->kinds[(first + k) % t->nkinds], list[i].key,
					 list[i].pin);
			if (done < 0)
				rc = done;
			if (done)
				break;
		}
	}
	free(list);
	return rc;
}

int seed_defects_apply(const struct sec_sql db[SECTOR_COUNT], double rate, uint64_t seed,
		       int64_t today, FILE *truth, struct defect_stats *stats)
{
	struct run r = { .db = db, .rng = { seed ^ 0x6465666563747321ULL }, .today = today,
			 .truth = truth, .stats = stats };
	int rc = NDX_OK;
	size_t begun = 0;

	memset(stats, 0, sizeof *stats);
	ndx_time_format((time_t)(today * 86400 + 43200), r.now);
	for (; begun < SECTOR_COUNT; begun++)
		if ((rc = sec_sql_begin(&db[begun])))
			break;
	for (size_t i = 0; rc == NDX_OK && i < sizeof TARGETS / sizeof TARGETS[0]; i++)
		rc = spoil_table(&r, &TARGETS[i], rate);
	if (rc == NDX_OK)
		rc = list_dead(&r);
	for (size_t i = 0; i < begun; i++) {
		if (rc)
			sec_sql_rollback(&db[i]);
		else
			rc = sec_sql_commit(&db[i]);
	}
	if (rc == NDX_OK && fflush(truth) != 0)
		rc = NDX_EIO;
	free(r.dead);
	free(r.dups);
	return rc;
}
