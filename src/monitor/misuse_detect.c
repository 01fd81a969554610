/* The misuse detector (misuse.h; docs/monitoring.md "Misuse detection").
 *
 * One call analyses the reads not analysed yet, in one transaction:
 *
 * 1. explanations, in SQL over the new reads, strongest first (own view,
 *    subscription delivery, consent, procedure, mandate), one per read;
 * 2. the rules, local day by local day (Vietnam, UTC+7) of the new reads,
 *    so that each day's baselines are the trailing baseline_ms before that
 *    day whether the reads arrive a round at a time or a month at once.
 *    The baselines are per-day aggregates kept in TEMP tables (reads per
 *    client and hour of the week, subjects per client and province,
 *    distinct subjects per actor and window, refusals per client and
 *    window): every read is aggregated once, so a month of history costs
 *    one pass, not one per day. Reads of findings that are not dismissed
 *    are left out of every aggregate; a dismissed finding's reads are in.
 *
 * Each rule puts its hits into TEMP m_hit with a group string; each group
 * becomes one finding whose key is stable (a window's start, or the first
 * read id of the group, reads being analysed once), written with INSERT OR
 * IGNORE (ON CONFLICT DO NOTHING) so that no finding is ever written twice.
 *
 * Every statement is SQL both engines of ndx/sqldb.h take: the run's values
 * are named in the text (":lo") and sent as parameters, each text cast to
 * its type (CAST(?N AS BIGINT)); nothing engine-specific but the TEMP
 * tables, which both have per connection. */
#include <inttypes.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "misuse.h"
#include "ndx/array.h"
#include "ndx/err.h"
#include "ndx/pin.h"
#include "ndx/sqldb.h"
#include "ndx/timefmt.h"

#define HOUR_MS 3600000LL
#define DAY_MS 86400000LL
#define TZ_MS (7 * HOUR_MS) /* Vietnam time, no daylight saving */
#define STRONG "('own','subscription','consent','procedure')"
#define NOT_STRONG(e) "(" e ".how IS NULL OR " e ".how NOT IN " STRONG ")"
/* The error types a provider (or consumer) gateway writes for a replayed
 * request: errors.c GW_R_REPLAY. StaleTimestamp and MissingMessageId share
 * them, so the rule also asks for an earlier read of the same message id. */
#define REPLAY_TYPES "('Server.ServerProxy.InvalidMessage','Server.ClientProxy.InvalidMessage')"
#define REPLAY_LOOKBACK_MS DAY_MS

void misuse_options_default(struct misuse_options *o)
{
	memset(o, 0, sizeof *o);
	o->now_ms = 0;
	o->baseline_ms = 28 * DAY_MS;
	o->bulk_window_s = 3600;
	o->bulk_min_subjects = 60;
	o->bulk_factor = 2.0;
	o->repeated_window_s = 86400;
	o->repeated_min_members = 3;
	o->probing_window_s = 3600;
	o->probing_min_refusals = 20;
	o->probing_factor = 3.0;
	o->off_hours_share = 0.0005;
	o->province_share = 0.97;
	o->province_min_share = 0.005;
	o->province_max = 10;
	o->min_baseline_reads = 500;
}

/* The TEMP tables (types both engines take). */
static const char *const TEMP_SQL[] = {
	"CREATE TEMP TABLE IF NOT EXISTS m_new(id BIGINT PRIMARY KEY, day BIGINT NOT NULL)",
	"CREATE INDEX IF NOT EXISTS m_new_day ON m_new(day, id)",
	"CREATE TEMP TABLE IF NOT EXISTS m_flag(read_id BIGINT PRIMARY KEY)",
	"CREATE TEMP TABLE IF NOT EXISTS m_days(day BIGINT PRIMARY KEY)",
	"CREATE TEMP TABLE IF NOT EXISTS m_hw(client TEXT, day BIGINT, how BIGINT, n BIGINT)",
	"CREATE INDEX IF NOT EXISTS m_hw_day ON m_hw(day)",
	"CREATE TEMP TABLE IF NOT EXISTS m_prov(client TEXT, day BIGINT, prov TEXT, n BIGINT)",
	"CREATE INDEX IF NOT EXISTS m_prov_day ON m_prov(day)",
	"CREATE TEMP TABLE IF NOT EXISTS m_bulk(client TEXT, user_id TEXT, day BIGINT,"
	" slot BIGINT, n BIGINT)",
	"CREATE INDEX IF NOT EXISTS m_bulk_day ON m_bulk(day)",
	"CREATE TEMP TABLE IF NOT EXISTS m_ref(client TEXT, day BIGINT, slot BIGINT, n BIGINT)",
	"CREATE INDEX IF NOT EXISTS m_ref_day ON m_ref(day)",
	/* the baselines of the day being analysed */
	"CREATE TEMP TABLE IF NOT EXISTS m_bhw(client TEXT, how BIGINT, n BIGINT,"
	" PRIMARY KEY(client, how))",
	"CREATE TEMP TABLE IF NOT EXISTS m_btot(client TEXT PRIMARY KEY, n BIGINT)",
	"CREATE TEMP TABLE IF NOT EXISTS m_pin(client TEXT, prov TEXT, k BIGINT,"
	" cov DOUBLE PRECISION, covk BIGINT, PRIMARY KEY(client, prov))",
	"CREATE TEMP TABLE IF NOT EXISTS m_bb(client TEXT, user_id TEXT, slot BIGINT, n BIGINT,"
	" PRIMARY KEY(client, user_id, slot))",
	"CREATE TEMP TABLE IF NOT EXISTS m_bref(client TEXT, slot BIGINT, n BIGINT,"
	" PRIMARY KEY(client, slot))",
	"CREATE TEMP TABLE IF NOT EXISTS m_win(client TEXT, user_id TEXT, slot BIGINT,"
	" n BIGINT, base BIGINT, ws BIGINT, we BIGINT, PRIMARY KEY(client, user_id, slot))",
	"CREATE TEMP TABLE IF NOT EXISTS m_rs(subject TEXT, slot BIGINT,"
	" PRIMARY KEY(subject, slot))",
	"CREATE TEMP TABLE IF NOT EXISTS m_rr(subject TEXT, slot BIGINT, id BIGINT,"
	" client TEXT, user_id TEXT, member TEXT)",
	/* an officer's agency (the member of X-Road-UserId), worked out once
	 * per officer in C: NULL when the user id names none */
	"CREATE TEMP TABLE IF NOT EXISTS m_um(user_id TEXT PRIMARY KEY, member TEXT)",
	"CREATE TEMP TABLE IF NOT EXISTS m_hit(g TEXT NOT NULL, read_id BIGINT NOT NULL,"
	" client TEXT, user_id TEXT, a BIGINT, b BIGINT, c TEXT, PRIMARY KEY(g, read_id))",
	"CREATE TEMP TABLE IF NOT EXISTS m_meta(k TEXT PRIMARY KEY, v BIGINT)",
	"DELETE FROM m_new", "DELETE FROM m_flag", "DELETE FROM m_hit",
};

/* The aggregates of whole days and the last day's baselines stay in the
 * connection's TEMP tables from one call to the next (the collector calls
 * once a round on the same connection), so that a round aggregates no
 * history again; they are dropped when a dismissal or the options change
 * what they hold. */
static const char *const CACHE_CLEAR_SQL[] = {
	"DELETE FROM m_days", "DELETE FROM m_hw", "DELETE FROM m_prov", "DELETE FROM m_bulk",
	"DELETE FROM m_ref", "DELETE FROM m_meta",
};

static const char *const TEMP_DROP_SQL[] = {
	"DROP TABLE IF EXISTS m_new", "DROP TABLE IF EXISTS m_flag",
	"DROP TABLE IF EXISTS m_days", "DROP TABLE IF EXISTS m_hw",
	"DROP TABLE IF EXISTS m_prov", "DROP TABLE IF EXISTS m_bulk",
	"DROP TABLE IF EXISTS m_ref", "DROP TABLE IF EXISTS m_bhw",
	"DROP TABLE IF EXISTS m_btot", "DROP TABLE IF EXISTS m_pin",
	"DROP TABLE IF EXISTS m_bb", "DROP TABLE IF EXISTS m_bref",
	"DROP TABLE IF EXISTS m_win", "DROP TABLE IF EXISTS m_rs",
	"DROP TABLE IF EXISTS m_hit", "DROP TABLE IF EXISTS m_rr",
	"DROP TABLE IF EXISTS m_um", "DROP TABLE IF EXISTS m_meta",
};

/* The run's fixed values, bound by name in every statement that uses them. */
struct run {
	struct ndx_sqldb *db;
	const struct misuse_options *o;
	int64_t lo, hi;       /* new reads: lo < id <= hi */
	int64_t baseline_days;
	int64_t newest_day;   /* of the new reads: not complete, never cached */
	int64_t wfrom_b, wfrom_p; /* the first bulk and probing window with a new read */
	int history_changed;  /* aggregate_day added a day to the baselines */
	int64_t created_ms;
	unsigned written;
};

/* The agency part of X-Road-UserId "{instance}/{class}/{member}/{username}"
 * into out; false without a username. */
static bool user_member(const char *s, char *out, size_t cap)
{
	int slashes = 0;

	for (const char *p = s; *p; p++)
		if (*p == '/' && ++slashes == 3) {
			if (p == s || !p[1] || (size_t)(p - s) >= cap)
				return false;
			memcpy(out, s, (size_t)(p - s));
			out[p - s] = '\0';
			return true;
		}
	return false;
}

/* A statement of the run: its named values (":lo") turned into
 * parameters, each sent as text and cast to its type. */
#define MAX_NAMED 16
struct stmt {
	char *sql;
	char types[MAX_NAMED + 1];
	char vals[MAX_NAMED][32];
	const char *v[MAX_NAMED];
};

static void stmt_free(struct stmt *st)
{
	free(st->sql);
	st->sql = NULL;
}

/* Fills st from sql with r's values for day; -1 on an unknown name, too
 * many names or no memory. */
static int stmt_make(const struct run *r, const char *sql, int64_t day, struct stmt *st)
{
	const struct misuse_options *o = r->o;
	const struct {
		const char *name;
		int64_t v;
	} ints[] = {
		{ "lo", r->lo },
		{ "hi", r->hi },
		{ "day", day },
		{ "ds", day * DAY_MS - TZ_MS },
		{ "de", (day + 1) * DAY_MS - TZ_MS },
		{ "bfrom", day - r->baseline_days },
		{ "tz", TZ_MS },
		{ "daylen", DAY_MS },
		{ "hour", HOUR_MS },
		{ "bw", (int64_t)o->bulk_window_s * 1000 },
		{ "pw", (int64_t)o->probing_window_s * 1000 },
		{ "rw", (int64_t)o->repeated_window_s * 1000 },
		{ "bmin", o->bulk_min_subjects },
		{ "pmin", o->probing_min_refusals },
		{ "rmin", o->repeated_min_members },
		{ "minreads", o->min_baseline_reads },
		{ "pmax", o->province_max },
		{ "lookback", REPLAY_LOOKBACK_MS },
		{ "bfirst", r->wfrom_b },
		{ "pfirst", r->wfrom_p },
	};
	const struct {
		const char *name;
		double v;
	} reals[] = {
		{ "bfactor", o->bulk_factor },     { "pfactor", o->probing_factor },
		{ "offshare", o->off_hours_share }, { "pshare", o->province_share },
		{ "pminshare", o->province_min_share },
	};
	const char *names[MAX_NAMED];
	size_t n = 0, len = 0, cap = strlen(sql) * 2 + 64;
	char *out = malloc(cap);

	memset(st, 0, sizeof *st);
	if (!out)
		return -1;
	for (const char *p = sql; *p;) {
		const char *e = p + 1;
		size_t k, nl;
		char piece[48];
		int w;

		if (*p != ':' || !(p[1] >= 'a' && p[1] <= 'z')) {
			out[len++] = *p++;
			goto grow;
		}
		while (*e >= 'a' && *e <= 'z')
			e++;
		nl = (size_t)(e - p - 1);
		for (k = 0; k < n && !(strlen(names[k]) == nl && !strncmp(names[k], p + 1, nl)); k++)
			;
		if (k == n) {
			bool found = false;

			if (n == MAX_NAMED)
				goto fail;
			for (size_t i = 0; !found && i < sizeof ints / sizeof *ints; i++)
				if (strlen(ints[i].name) == nl && !strncmp(ints[i].name, p + 1, nl)) {
					names[n] = ints[i].name;
					snprintf(st->vals[n], sizeof st->vals[n], "%" PRId64, ints[i].v);
					st->types[n] = 'i';
					found = true;
				}
			for (size_t i = 0; !found && i < sizeof reals / sizeof *reals; i++)
				if (strlen(reals[i].name) == nl && !strncmp(reals[i].name, p + 1, nl)) {
					names[n] = reals[i].name;
					snprintf(st->vals[n], sizeof st->vals[n], "%.17g", reals[i].v);
					st->types[n] = 'r';
					found = true;
				}
			if (!found)
				goto fail;
			st->v[n] = st->vals[n];
			n++;
		}
		w = snprintf(piece, sizeof piece, "CAST(?%zu AS %s)", k + 1,
			     st->types[k] == 'i' ? "BIGINT" : "DOUBLE PRECISION");
		if (len + (size_t)w + 1 >= cap) {
			char *bigger = realloc(out, cap * 2 + (size_t)w);

			if (!bigger)
				goto fail;
			out = bigger;
			cap = cap * 2 + (size_t)w;
		}
		memcpy(out + len, piece, (size_t)w);
		len += (size_t)w;
		p = e;
		continue;
grow:
		if (len + 1 >= cap) {
			char *bigger = realloc(out, cap * 2);

			if (!bigger)
				goto fail;
			out = bigger;
			cap *= 2;
		}
	}
	out[len] = '\0';
	for (size_t i = 0; i < n; i++)
		st->types[i] = 's'; /* every value travels as text, cast in the SQL */
	st->types[n] = '\0';
	st->sql = out;
	return 0;
fail:
	free(out);
	return -1;
}

/* Runs one statement of the run; rows (may be NULL) receives its rows. */
static int run_rows(const struct run *r, const char *sql, int64_t day, json_t **rows)
{
	struct stmt st;
	json_t *got = NULL;
	int rc;

	if (rows)
		*rows = NULL;
	if (stmt_make(r, sql, day, &st) != 0) {
		fprintf(stderr, "misuse: cannot make a statement\n");
		return -1;
	}
	rc = ndx_sqldb_query(r->db, &got, st.sql, st.types, st.v[0], st.v[1], st.v[2], st.v[3],
			     st.v[4], st.v[5], st.v[6], st.v[7], st.v[8], st.v[9], st.v[10],
			     st.v[11], st.v[12], st.v[13], st.v[14], st.v[15]);
	stmt_free(&st);
	if (rc != NDX_OK)
		return -1;
	if (rows)
		*rows = got;
	else
		json_decref(got);
	return 0;
}

/* Runs one statement (no result rows wanted) with the common parameters. */
static int run_sql(const struct run *r, const char *sql, int64_t day)
{
	return run_rows(r, sql, day, NULL);
}

/* A row's text column, "" when null or absent. */
static const char *sv(const json_t *row, const char *col)
{
	const char *v = json_string_value(json_object_get(row, col));

	return v ? v : "";
}

/* A row's integer column (a PostgreSQL sum's numeric text too); dflt when
 * null or absent. */
static int64_t iv(const json_t *row, const char *col, int64_t dflt)
{
	const json_t *v = json_object_get(row, col);

	if (json_is_string(v))
		return strtoll(json_string_value(v), NULL, 10);
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : dflt;
}

/* ---- explanations ---------------------------------------------------- */

#define EXPLAIN "INSERT INTO explanations(read_id, how, ref) "
#define IGNORE " ON CONFLICT DO NOTHING"

static const char *const EXPLAIN_SQL[] = {
	EXPLAIN "SELECT id, 'own', '' FROM reads WHERE id > :lo AND id <= :hi AND own = 1" IGNORE,
	EXPLAIN "SELECT id, 'subscription', '' FROM reads WHERE id > :lo AND id <= :hi"
		" AND event = 1" IGNORE,
	EXPLAIN "SELECT id, 'consent', '' FROM reads WHERE id > :lo AND id <= :hi"
		" AND consent = 1 AND status < 400" IGNORE,
	/* X-Road-Issue "{kind}/{procedure id}": a procedure of that kind and
	 * id, about one of the read's subjects, handled by the reading agency
	 * (the officer's agency, the member part of X-Road-UserId, else the
	 * client's member), the read between its opening (less 10 minutes of
	 * clock skew) and a day after its closing (the last documents of a
	 * procedure just closed). The agency being a member id (two slashes),
	 * "the user id's member is the agency" is "the user id starts with the
	 * agency and a slash and goes on". */
	EXPLAIN "SELECT r.id, 'procedure', p.id FROM reads r"
		" JOIN read_subjects s ON s.read_id = r.id"
		" JOIN procedures p ON p.subject = s.subject AND r.issue = p.kind || '/' || p.id"
		" WHERE r.id > :lo AND r.id <= :hi AND r.issue LIKE '_%/%'"
		" AND p.kind NOT LIKE '%/%'"
		" AND (CASE WHEN r.user_id <> '' THEN"
		"  substr(r.user_id, 1, length(p.agency) + 1) = p.agency || '/'"
		"  AND length(r.user_id) > length(p.agency) + 1"
		"  ELSE r.client_member = p.agency END)"
		" AND r.time_ms >= p.opened_ms - 600000"
		" AND (p.closed_ms IS NULL OR r.time_ms <= p.closed_ms + 86400000)" IGNORE,
	/* a mandate is an agency system's standing basis (a batch of periodic
	 * checks): an officer reading one person needs a procedure */
	EXPLAIN "SELECT r.id, 'mandate', CAST(m.id AS TEXT) FROM reads r JOIN mandates m"
		"  ON m.client = r.client AND m.service = r.service AND m.purpose = r.purpose"
		" WHERE r.id > :lo AND r.id <= :hi AND m.created_ms <= r.time_ms"
		" AND r.user_id = ''" IGNORE,
};

/* ---- baselines: one day's aggregates --------------------------------- */

static const char *const AGGREGATE_SQL[] = {
	/* the hours a client chooses: not the deliveries the provider pushes
	 * nor the citizens' own views, whose times are not the client's */
	"INSERT INTO m_hw(client, day, how, n)"
	" SELECT r.client, :day, ((:day + 3) % 7) * 24 + ((r.time_ms + :tz) % :daylen) / :hour,"
	"  count(*) FROM reads r WHERE r.time_ms >= :ds AND r.time_ms < :de AND r.id <= :hi"
	" AND r.status < 400 AND r.event = 0 AND r.own = 0"
	" AND r.id NOT IN (SELECT read_id FROM m_flag) GROUP BY 1, 3",
	"INSERT INTO m_prov(client, day, prov, n)"
	" SELECT r.client, :day, substr(s.subject, 1, 3), count(*) FROM reads r"
	" JOIN read_subjects s ON s.read_id = r.id"
	" WHERE r.time_ms >= :ds AND r.time_ms < :de AND r.id <= :hi AND r.status < 400"
	" AND r.id NOT IN (SELECT read_id FROM m_flag) GROUP BY 1, 3",
	"INSERT INTO m_bulk(client, user_id, day, slot, n)"
	" SELECT r.client, '', :day, ((r.time_ms + :tz) % :daylen) / :bw,"
	"  count(DISTINCT s.subject) FROM reads r JOIN read_subjects s ON s.read_id = r.id"
	" LEFT JOIN explanations e ON e.read_id = r.id"
	" WHERE r.time_ms >= :ds AND r.time_ms < :de AND r.id <= :hi AND r.status < 400"
	" AND " NOT_STRONG("e") " AND r.id NOT IN (SELECT read_id FROM m_flag) GROUP BY 1, 4",
	"INSERT INTO m_bulk(client, user_id, day, slot, n)"
	" SELECT r.client, r.user_id, :day, ((r.time_ms + :tz) % :daylen) / :bw,"
	"  count(DISTINCT s.subject) FROM reads r JOIN read_subjects s ON s.read_id = r.id"
	" LEFT JOIN explanations e ON e.read_id = r.id"
	" WHERE r.time_ms >= :ds AND r.time_ms < :de AND r.id <= :hi AND r.status < 400"
	" AND r.user_id <> '' AND " NOT_STRONG("e")
	" AND r.id NOT IN (SELECT read_id FROM m_flag) GROUP BY 1, 2, 4",
	"INSERT INTO m_ref(client, day, slot, n)"
	" SELECT r.client, :day, ((r.time_ms + :tz) % :daylen) / :pw, count(*) FROM reads r"
	" WHERE r.time_ms >= :ds AND r.time_ms < :de AND r.id <= :hi AND r.status >= 400"
	" AND r.id NOT IN (SELECT read_id FROM m_flag) GROUP BY 1, 3",
	"INSERT INTO m_days(day) VALUES (:day)",
};

static int aggregate_day(struct run *r, int64_t day)
{
	json_t *rows = NULL;
	size_t done;

	if (run_rows(r, "SELECT 1 AS v FROM m_days WHERE day = :day", day, &rows) != 0)
		return -1;
	done = json_array_size(rows);
	json_decref(rows);
	if (done)
		return 0;
	for (size_t i = 0; i < sizeof AGGREGATE_SQL / sizeof AGGREGATE_SQL[0]; i++)
		if (run_sql(r, AGGREGATE_SQL[i], day) != 0)
			return -1;
	r->history_changed = 1;
	return 0;
}

/* The baselines of one day: the aggregates of the baseline_days before it. */
static const char *const BASELINE_SQL[] = {
	"DELETE FROM m_bhw", "DELETE FROM m_btot", "DELETE FROM m_pin", "DELETE FROM m_bb",
	"DELETE FROM m_bref",
	"INSERT INTO m_bhw(client, how, n) SELECT client, how, sum(n) FROM m_hw"
	" WHERE day >= :bfrom AND day < :day GROUP BY 1, 2",
	"INSERT INTO m_btot(client, n) SELECT client, sum(n) FROM m_bhw GROUP BY 1",
	/* the provinces that make up a client's baseline: each holding at
	 * least pminshare of its subjects; kept only for clients with enough
	 * reads whose at most pmax such provinces cover pshare or more */
	"WITH b AS (SELECT client, prov, sum(n) AS n FROM m_prov"
	"   WHERE day >= :bfrom AND day < :day GROUP BY 1, 2),"
	" t AS (SELECT client, sum(n) AS t FROM b GROUP BY 1),"
	" p AS (SELECT b.client, b.prov, b.n, t.t FROM b JOIN t USING (client)"
	"   WHERE b.n >= :pminshare * t.t),"
	" c AS (SELECT client, count(*) k, sum(n) * 1.0 / max(t) cov,"
	"   sum(n) * 1000 / max(t) covk FROM p GROUP BY 1"
	"   HAVING count(*) <= :pmax AND sum(n) * 1.0 / max(t) >= :pshare)"
	" INSERT INTO m_pin(client, prov, k, cov, covk) SELECT p.client, p.prov, c.k, c.cov,"
	" c.covk FROM p JOIN c USING (client)"
	" WHERE p.client IN (SELECT client FROM m_btot WHERE n >= :minreads)",
	"INSERT INTO m_bb(client, user_id, slot, n) SELECT client, user_id, slot, max(n) FROM m_bulk"
	" WHERE day >= :bfrom AND day < :day GROUP BY 1, 2, 3",
	"INSERT INTO m_bref(client, slot, n) SELECT client, slot, max(n) FROM m_ref"
	" WHERE day >= :bfrom AND day < :day GROUP BY 1, 2",
};

/* ---- rules: hits into m_hit ------------------------------------------ */

/* Groups: g starts with the kind and holds what makes the key. */
static const char *const RULE_NOEXP_SQL[] = {
	"INSERT INTO m_hit(g, read_id, client, user_id, a, b, c)"
	" SELECT 'x|' || r.client || '|' || r.user_id, r.id, r.client, r.user_id, 0, 0, ''"
	" FROM m_new n JOIN reads r ON r.id = n.id WHERE n.day = :day AND r.status < 400"
	" AND NOT EXISTS (SELECT 1 FROM explanations e WHERE e.read_id = r.id)" IGNORE,
};

static const char OFFHOURS_SQL[] =
	"INSERT INTO m_hit(g, read_id, client, user_id, a, b, c)"
	" SELECT 'o|' || q.client || '|' || q.user_id || '|' || q.how, q.id, q.client,"
	"  q.user_id, t.n, coalesce(b.n, 0), CAST(q.how AS TEXT)"
	" FROM (SELECT r.id, r.client, r.user_id,"
	"   ((:day + 3) % 7) * 24 + ((r.time_ms + :tz) % :daylen) / :hour AS how"
	"   FROM m_new n JOIN reads r ON r.id = n.id LEFT JOIN explanations e ON e.read_id = r.id"
	"   WHERE n.day = :day AND r.status < 400 AND " NOT_STRONG("e") ") q"
	" JOIN m_btot t ON t.client = q.client AND t.n >= :minreads"
	" LEFT JOIN m_bhw b ON b.client = q.client AND b.how = q.how"
	" WHERE coalesce(b.n, 0) < :offshare * t.n" IGNORE;

static const char PROVINCE_SQL[] =
	"INSERT INTO m_hit(g, read_id, client, user_id, a, b, c)"
	" SELECT 'p|' || r.client || '|' || r.user_id, r.id, r.client, r.user_id, c.k,"
	"  c.covk, substr(s.subject, 1, 3)"
	" FROM m_new n JOIN reads r ON r.id = n.id"
	" JOIN (SELECT client, max(k) AS k, max(covk) AS covk FROM m_pin GROUP BY 1) c"
	"  ON c.client = r.client"
	" JOIN read_subjects s ON s.read_id = r.id LEFT JOIN explanations e ON e.read_id = r.id"
	" WHERE n.day = :day AND r.status < 400 AND " NOT_STRONG("e")
	" AND NOT EXISTS (SELECT 1 FROM m_pin q WHERE q.client = r.client"
	"  AND q.prov = substr(s.subject, 1, 3))" IGNORE;

/* bulk: the windows of the day with a new read, per client and per
 * officer; all the window's reads count (some analysed before). */
static const char *const BULK_SQL[] = {
	"DELETE FROM m_win",
	"INSERT INTO m_win(client, user_id, slot, n, base)"
	" SELECT r.client, '', ((r.time_ms + :tz) % :daylen) / :bw, count(DISTINCT s.subject), 0"
	" FROM reads r JOIN read_subjects s ON s.read_id = r.id"
	" LEFT JOIN explanations e ON e.read_id = r.id"
	" WHERE r.time_ms >= :bfirst AND r.time_ms < :de AND r.id <= :hi AND r.status < 400"
	" AND " NOT_STRONG("e") " GROUP BY 1, 3 HAVING max(r.id) > :lo",
	"INSERT INTO m_win(client, user_id, slot, n, base)"
	" SELECT r.client, r.user_id, ((r.time_ms + :tz) % :daylen) / :bw,"
	"  count(DISTINCT s.subject), 0"
	" FROM reads r JOIN read_subjects s ON s.read_id = r.id"
	" LEFT JOIN explanations e ON e.read_id = r.id"
	" WHERE r.time_ms >= :bfirst AND r.time_ms < :de AND r.id <= :hi AND r.status < 400"
	" AND r.user_id <> '' AND " NOT_STRONG("e") " GROUP BY 1, 2, 3 HAVING max(r.id) > :lo",
	"UPDATE m_win SET base = coalesce((SELECT n FROM m_bb b WHERE b.client = m_win.client"
	" AND b.user_id = m_win.user_id AND b.slot = m_win.slot), 0)",
	"DELETE FROM m_win WHERE n <= CASE WHEN :bmin > :bfactor * base THEN :bmin"
	" ELSE :bfactor * base END",
	/* an officer's burst split by the window's edge: the officer's reads
	 * of the half windows on either side belong to it too (a client's
	 * window holds its ordinary reads as well, so it keeps its edges) */
	"UPDATE m_win SET ws = :ds + slot * :bw, we = CASE WHEN :de < :ds + (slot + 1) * :bw"
	" THEN :de ELSE :ds + (slot + 1) * :bw END",
	"UPDATE m_win SET ws = ws - :bw / 2, we = we + :bw / 2 WHERE user_id <> ''",
	"INSERT INTO m_hit(g, read_id, client, user_id, a, b, c)"
	" SELECT 'b|' || w.client || '|' || w.user_id || '|' || w.ws, r.id,"
	"  r.client, r.user_id, w.n, w.base, ''"
	" FROM m_win w CROSS JOIN reads r LEFT JOIN explanations e ON e.read_id = r.id"
	" WHERE r.client = w.client AND r.time_ms >= w.ws AND r.time_ms < w.we"
	" AND r.id <= :hi AND r.status < 400 AND " NOT_STRONG("e")
	" AND (w.user_id = '' OR r.user_id = w.user_id)" IGNORE,
};

static const char *const PROBING_SQL[] = {
	"DELETE FROM m_win",
	"INSERT INTO m_win(client, user_id, slot, n, base)"
	" SELECT r.client, '', ((r.time_ms + :tz) % :daylen) / :pw, count(*), 0 FROM reads r"
	" WHERE r.time_ms >= :pfirst AND r.time_ms < :de AND r.id <= :hi AND r.status >= 400"
	" GROUP BY 1, 3 HAVING max(r.id) > :lo",
	"UPDATE m_win SET base = coalesce((SELECT n FROM m_bref b WHERE b.client = m_win.client"
	" AND b.slot = m_win.slot), 0)",
	"DELETE FROM m_win WHERE n <= CASE WHEN :pmin > :pfactor * base THEN :pmin"
	" ELSE :pfactor * base END",
	/* a surge split by the window's edge: the refusals of the half
	 * windows on either side belong to it too */
	"UPDATE m_win SET ws = :ds + slot * :pw - :pw / 2,"
	" we = CASE WHEN :de < :ds + (slot + 1) * :pw THEN :de"
	" ELSE :ds + (slot + 1) * :pw END + :pw / 2",
	"INSERT INTO m_hit(g, read_id, client, user_id, a, b, c)"
	" SELECT 'r|' || w.client || '|' || (:ds + w.slot * :pw), r.id, r.client, r.user_id,"
	"  w.n, w.base, r.error_type"
	" FROM m_win w CROSS JOIN reads r"
	" WHERE r.client = w.client AND r.time_ms >= w.ws AND r.time_ms < w.we"
	" AND r.id <= :hi AND r.status >= 400"
	" AND NOT EXISTS (SELECT 1 FROM m_flag f WHERE f.read_id = r.id)" IGNORE,
};

/* repeated-subject: the people of the day's new reads (not strongly
 * explained) read by repeated_min_members agencies or more in one window;
 * an officer's agency is the member of X-Road-UserId. */
static const char *const REPEATED_SQL[] = {
	"DELETE FROM m_rs",
	"INSERT INTO m_rs(subject, slot)"
	" SELECT s.subject, ((r.time_ms + :tz) % :daylen) / :rw FROM m_new n"
	" JOIN reads r ON r.id = n.id JOIN read_subjects s ON s.read_id = r.id"
	" LEFT JOIN explanations e ON e.read_id = r.id"
	" WHERE n.day = :day AND r.status < 400 AND " NOT_STRONG("e") IGNORE,
	"DELETE FROM m_win",
	"DELETE FROM m_rr",
};

/* The officers of those people's reads whose agency m_um does not hold
 * yet (repeated_member fills it). */
static const char REPEATED_USERS_SQL[] =
	"SELECT DISTINCT r.user_id FROM m_rs m CROSS JOIN read_subjects s CROSS JOIN reads r"
	" WHERE s.subject = m.subject AND r.id = s.read_id AND r.user_id <> '' AND r.id <= :hi"
	" AND NOT EXISTS (SELECT 1 FROM m_um u WHERE u.user_id = r.user_id)";

static const char *const REPEATED_HIT_SQL[] = {
	"INSERT INTO m_rr(subject, slot, id, client, user_id, member)"
	" SELECT m.subject, m.slot, r.id, r.client, r.user_id,"
	"  coalesce(u.member, r.client_member)"
	" FROM m_rs m CROSS JOIN read_subjects s CROSS JOIN reads r"
	" LEFT JOIN explanations e ON e.read_id = r.id LEFT JOIN m_um u ON u.user_id = r.user_id"
	" WHERE s.subject = m.subject AND r.id = s.read_id AND r.time_ms >= :ds + m.slot * :rw AND r.time_ms < CASE WHEN"
	"  :de < :ds + (m.slot + 1) * :rw THEN :de ELSE :ds + (m.slot + 1) * :rw END"
	" AND r.id <= :hi AND r.status < 400 AND " NOT_STRONG("e"),
	"INSERT INTO m_hit(g, read_id, client, user_id, a, b, c)"
	" SELECT 's|' || q.subject || '|' || (:ds + q.slot * :rw), q.id, q.client, q.user_id,"
	"  k.members, 0, q.member FROM m_rr q JOIN (SELECT subject, slot,"
	"  count(DISTINCT member) AS members FROM m_rr GROUP BY 1, 2) k"
	" ON k.subject = q.subject AND k.slot = q.slot WHERE k.members >= :rmin" IGNORE,
};

static const char REPLAY_SQL[] =
	"INSERT INTO m_hit(g, read_id, client, user_id, a, b, c)"
	" SELECT 'y|' || r.id, r.id, r.client, r.user_id,"
	"  (SELECT o.id FROM reads o WHERE o.client = r.client AND o.time_ms <= r.time_ms"
	"   AND o.time_ms >= r.time_ms - :lookback AND o.message_id = r.message_id"
	"   AND o.id <> r.id AND o.status < 400 ORDER BY o.time_ms LIMIT 1) AS orig,"
	"  0, r.error_type"
	" FROM m_new n JOIN reads r ON r.id = n.id"
	" WHERE n.day = :day AND r.status >= 400 AND (r.error_type = 'Replay'"
	"  OR (r.error_type IN " REPLAY_TYPES " AND r.message_id <> ''"
	"   AND EXISTS (SELECT 1 FROM reads o WHERE o.client = r.client"
	"    AND o.time_ms <= r.time_ms AND o.time_ms >= r.time_ms - :lookback"
	"    AND o.message_id = r.message_id AND o.id <> r.id AND o.status < 400)))" IGNORE;

/* ---- findings from groups -------------------------------------------- */

struct grp {
	const char *g;
	int64_t first_id, n, from_ms, to_ms;
	int nclients, nusers;
	const char *client, *user_id;
	int64_t a, b;
	const char *c;
	int64_t nsubjects;
	const char *subject;
};

static const char *const WEEKDAYS[] = { "Monday", "Tuesday", "Wednesday", "Thursday",
					"Friday", "Saturday", "Sunday" };

/* dd/mm/yyyy HH:MM in Vietnam time, as people read dates (timefmt.h). */
static void fmt_time(int64_t ms, char out[NDX_VN_TIME_TEXT_LEN])
{
	ndx_time_vn_text((time_t)(ms / 1000), 1, out);
}

/* "by CLIENT" or "by officer USER through CLIENT" or "by N clients" */
static void fmt_actor(const struct grp *g, char *out, size_t cap)
{
	if (g->nclients != 1)
		snprintf(out, cap, "by %d clients", g->nclients);
	else if (g->nusers == 1 && g->user_id[0])
		snprintf(out, cap, "by officer %s through %s", g->user_id, g->client);
	else
		snprintf(out, cap, "by %s", g->client);
}

/* Fills key and why for a group of kind; returns the kind. */
static const char *describe(const struct run *r, const struct grp *g, char *key, size_t kcap,
			    char *why, size_t wcap)
{
	const struct misuse_options *o = r->o;
	char actor[600], from[32], to[32];
	const char *kind = NULL;
	int days = (int)r->baseline_days;

	fmt_actor(g, actor, sizeof actor);
	fmt_time(g->from_ms, from);
	fmt_time(g->to_ms, to);
	switch (g->g[0]) {
	case 'x':
		kind = MISUSE_NO_EXPLANATION;
		snprintf(key, kcap, "%s:%" PRId64, kind, g->first_id);
		snprintf(why, wcap,
			 "%" PRId64 " successful read(s) of %" PRId64 " person(s) %s between %s and"
			 " %s (Vietnam time) with no explanation: not the person's own view, no"
			 " consent, no subscription, no open procedure of the reading agency for"
			 " them, no mandate for the client, service and purpose",
			 g->n, g->nsubjects, actor, from, to);
		break;
	case 'o': {
		int how = atoi(g->c ? g->c : "0");
		kind = MISUSE_OFF_HOURS;
		snprintf(key, kcap, "%s:%" PRId64, kind, g->first_id);
		snprintf(why, wcap,
			 "%" PRId64 " read(s) of %" PRId64 " person(s) %s on %s %02d:00-%02d:59"
			 " (Vietnam time, %s to %s) not explained by the person's own view, a"
			 " consent, a subscription or a procedure; in the %d days before, that"
			 " hour of the week held %" PRId64 " of the client's %" PRId64
			 " reads (%.3f%%, below %.3f%%)",
			 g->n, g->nsubjects, actor, WEEKDAYS[(how / 24) % 7], how % 24, how % 24,
			 from, to, days, g->b, g->a, g->a ? 100.0 * (double)g->b / (double)g->a : 0.0,
			 100.0 * o->off_hours_share);
		break;
	}
	case 'p': {
		char provs[400] = "";
		size_t len = 0;
		const char *p = g->c ? g->c : "";
		/* c is "048,079,...": the distinct values, sorted */
		while (*p && len + 48 < sizeof provs) {
			const struct ndx_province *pv = strlen(p) >= 3 ? ndx_province_find(p) : NULL;
			int w = snprintf(provs + len, sizeof provs - len, "%s%.3s (%s)", len ? ", " : "",
					 p, pv ? pv->name : "unknown");
			if (w < 0 || (size_t)w >= sizeof provs - len)
				break;
			len += (size_t)w;
			p = strchr(p, ',');
			if (!p)
				break;
			p++;
		}
		kind = MISUSE_PROVINCE;
		snprintf(key, kcap, "%s:%" PRId64, kind, g->first_id);
		snprintf(why, wcap,
			 "%" PRId64 " read(s) %s between %s and %s (Vietnam time) of people whose"
			 " numbers were registered in %s, outside the %" PRId64 " provinces that"
			 " hold %.1f%% of the client's reads in the %d days before; not explained"
			 " by the person's own view, a consent, a subscription or a procedure",
			 g->n, actor, from, to, provs, g->a, (double)g->b / 10.0, days);
		break;
	}
	case 'b': {
		double thr = o->bulk_factor * (double)g->b;
		if (thr < o->bulk_min_subjects)
			thr = o->bulk_min_subjects;
		kind = MISUSE_BULK;
		snprintf(key, kcap, "%s:%s", kind, g->g + 2);
		snprintf(why, wcap,
			 "%" PRId64 " distinct people read %s in %u minutes from %s (Vietnam time)"
			 " not explained by their own view, a consent, a subscription or a"
			 " procedure; the most in that window of the day in the %d days before was"
			 " %" PRId64 ", so the limit was %.0f (the larger of %u and %.1f x %" PRId64 ")",
			 g->a, actor, o->bulk_window_s / 60, from, days, g->b, thr,
			 o->bulk_min_subjects, o->bulk_factor, g->b);
		break;
	}
	case 'r': {
		double thr = o->probing_factor * (double)g->b;
		if (thr < o->probing_min_refusals)
			thr = o->probing_min_refusals;
		kind = MISUSE_PROBING;
		snprintf(key, kcap, "%s:%s", kind, g->g + 2);
		snprintf(why, wcap,
			 "%" PRId64 " refused requests %s in %u minutes from %s (Vietnam time),"
			 " error types %s; the most in that window of the day in the %d days before"
			 " was %" PRId64 ", so the limit was %.0f (the larger of %u and %.1f x %" PRId64
			 ")",
			 g->a, actor, o->probing_window_s / 60, from, g->c ? g->c : "", days, g->b,
			 thr, o->probing_min_refusals, o->probing_factor, g->b);
		break;
	}
	case 's':
		kind = MISUSE_REPEATED;
		snprintf(key, kcap, "%s:%s", kind, g->g + 2);
		snprintf(why, wcap,
			 "%s read by %" PRId64 " agencies (%s) in %" PRId64 " read(s) between %s and %s"
			 " (Vietnam time), none explained by the person's own view, a consent, a"
			 " subscription or a procedure (limit: %u agencies in %u hours)",
			 g->subject, g->a, g->c ? g->c : "", g->n, from, to,
			 o->repeated_min_members, o->repeated_window_s / 3600);
		break;
	case 'y':
		kind = MISUSE_REPLAY;
		snprintf(key, kcap, "%s:%" PRId64, kind, g->first_id);
		snprintf(why, wcap,
			 "a request %s at %s (Vietnam time) refused with %s carries the message id"
			 " of read %" PRId64 " the provider already served: the signed request was"
			 " sent again",
			 actor, from, g->c ? g->c : "", g->a);
		break;
	default:
		break;
	}
	return kind;
}

/* The distinct c of group g, sorted, joined by commas: a new string. */
static char *group_c(const struct run *r, const char *g)
{
	json_t *rows = NULL, *row;
	size_t i, len = 0;
	char *out;

	if (ndx_sqldb_query(r->db, &rows, "SELECT DISTINCT c FROM m_hit WHERE g = ?1 AND"
					  " c IS NOT NULL ORDER BY c", "s", g) != NDX_OK)
		return NULL;
	json_array_foreach(rows, i, row)
		len += strlen(sv(row, "c")) + 1;
	if ((out = malloc(len + 1))) {
		out[0] = '\0';
		len = 0;
		json_array_foreach(rows, i, row) {
			const char *c = sv(row, "c");
			size_t n = strlen(c);

			if (i)
				out[len++] = ',';
			memcpy(out + len, c, n + 1);
			len += n;
		}
	}
	json_decref(rows);
	return out;
}

/* Writes one finding per group of m_hit and their finding_reads, marks
 * their reads flagged, empties m_hit. */
static int write_findings(struct run *r)
{
	static const char GROUPS[] =
		"SELECT h.g, min(h.read_id) AS first_id, count(*) AS n, min(x.time_ms) AS from_ms,"
		" max(x.time_ms) AS to_ms, count(DISTINCT h.client) AS nclients,"
		" min(h.client) AS client, count(DISTINCT h.user_id) AS nusers,"
		" min(h.user_id) AS user_id, max(h.a) AS a, max(h.b) AS b"
		" FROM m_hit h JOIN reads x ON x.id = h.read_id GROUP BY h.g ORDER BY 2";
	static const char SUBJECTS[] = "SELECT count(DISTINCT s.subject) AS n, min(s.subject) AS"
				       " subject FROM m_hit h JOIN read_subjects s ON"
				       " s.read_id = h.read_id WHERE h.g = ?";
	static const char INSERT[] =
		"INSERT INTO findings(kind, key, client, user_id, subject, from_ms,"
		" to_ms, why, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
		" ON CONFLICT DO NOTHING RETURNING id";
	static const char READS[] = "INSERT INTO finding_reads(finding_id, read_id)"
				    " SELECT ?, read_id FROM m_hit WHERE g = ?" IGNORE;
	static const char FLAG[] = "INSERT INTO m_flag(read_id)"
				   " SELECT read_id FROM m_hit WHERE g = ?" IGNORE;
	json_t *groups = NULL, *row;
	char key[1024], why[2048], subject_buf[64];
	size_t i;
	int rc = -1;

	if (ndx_sqldb_query(r->db, &groups, GROUPS, "") != NDX_OK)
		goto out;
	json_array_foreach(groups, i, row) {
		struct grp g;
		json_t *one = NULL, *ins = NULL;
		const char *kind;
		char *c;
		int irc;

		memset(&g, 0, sizeof g);
		g.g = json_string_value(json_object_get(row, "g"));
		g.first_id = iv(row, "first_id", 0);
		g.n = iv(row, "n", 0);
		g.from_ms = iv(row, "from_ms", 0);
		g.to_ms = iv(row, "to_ms", 0);
		g.nclients = (int)iv(row, "nclients", 0);
		g.client = sv(row, "client");
		g.nusers = (int)iv(row, "nusers", 0);
		g.user_id = sv(row, "user_id");
		g.a = iv(row, "a", 0);
		g.b = iv(row, "b", 0);
		if (!g.g || ndx_sqldb_query_one(r->db, &one, SUBJECTS, "s", g.g) != NDX_OK)
			goto out;
		g.nsubjects = iv(one, "n", 0);
		snprintf(subject_buf, sizeof subject_buf, "%s",
			 sv(one, "subject"));
		json_decref(one);
		g.subject = subject_buf;
		if (!(c = group_c(r, g.g)))
			goto out;
		g.c = c[0] ? c : NULL;
		kind = describe(r, &g, key, sizeof key, why, sizeof why);
		free(c);
		if (!kind)
			goto out;
		irc = ndx_sqldb_query_one(r->db, &ins, INSERT, "sssssiisi", kind, key,
					  g.nclients == 1 ? g.client : "",
					  g.nusers == 1 ? g.user_id : "",
					  g.nsubjects == 1 ? g.subject : "", g.from_ms, g.to_ms, why,
					  r->created_ms);
		if (irc == NDX_OK) {
			int64_t fid = iv(ins, "id", 0);

			json_decref(ins);
			if (ndx_sqldb_exec(r->db, READS, "is", fid, g.g) != NDX_OK)
				goto out;
			r->written++;
		} else if (irc != NDX_ENOTFOUND) {
			goto out;
		}
		/* flagged reads leave the baselines either way: a key already
		 * written is a finding not dismissed yet, or its reads are in
		 * m_flag from the start already */
		if (ndx_sqldb_exec(r->db, FLAG, "s", g.g) != NDX_OK)
			goto out;
	}
	rc = 0;
out:
	if (rc != 0)
		fprintf(stderr, "misuse: findings: cannot write them\n");
	json_decref(groups);
	if (rc == 0)
		rc = run_sql(r, "DELETE FROM m_hit", 0);
	return rc;
}

static int run_list(struct run *r, const char *const *sql, size_t n, int64_t day)
{
	for (size_t i = 0; i < n; i++)
		if (run_sql(r, sql[i], day) != 0)
			return -1;
	return 0;
}

#define RUN_LIST(r, a, day) run_list(r, a, sizeof a / sizeof a[0], day)

/* Reads the integer column v of the day's statement into *out (unchanged
 * on NULL or no row). */
static int day_value(struct run *r, const char *sql, int64_t day, int64_t *out)
{
	json_t *rows = NULL;

	if (run_rows(r, sql, day, &rows) != 0)
		return -1;
	*out = iv(json_array_get(rows, 0), "v", *out);
	json_decref(rows);
	return 0;
}

/* The agencies of the officers REPEATED_USERS_SQL finds, into m_um. */
static int repeated_members(struct run *r, int64_t day)
{
	json_t *rows = NULL, *row;
	size_t i;
	int rc = 0;

	if (run_rows(r, REPEATED_USERS_SQL, day, &rows) != 0)
		return -1;
	json_array_foreach(rows, i, row) {
		const char *u = json_string_value(json_object_get(row, "user_id"));
		char m[512];

		if (!u)
			continue;
		if (ndx_sqldb_exec(r->db, "INSERT INTO m_um(user_id, member) VALUES(?, ?)" IGNORE,
				   "ss", u, user_member(u, m, sizeof m) ? m : NULL) != NDX_OK) {
			rc = -1;
			break;
		}
	}
	json_decref(rows);
	return rc;
}

static int analyse_day(struct run *r, int64_t day)
{
	int64_t bday = -1, first = day * DAY_MS - TZ_MS;

	/* history not yet aggregated (the first call, a gap, a new day) */
	r->history_changed = 0;
	for (int64_t d = day - r->baseline_days; d < day; d++)
		if (aggregate_day(r, d) != 0)
			return -1;
	if (day_value(r, "SELECT v FROM m_meta WHERE k = 'bday'", day, &bday) != 0)
		return -1;
	if (bday != day || r->history_changed) {
		if (RUN_LIST(r, BASELINE_SQL, day) != 0 ||
		    run_sql(r, "INSERT INTO m_meta(k, v) VALUES ('bday', :day)"
			       " ON CONFLICT(k) DO UPDATE SET v = excluded.v", day))
			return -1;
	}
	/* the windows with a new read start at or after the first new read's */
	if (day_value(r, "SELECT min(r.time_ms) AS v FROM m_new n JOIN reads r ON r.id = n.id"
			 " WHERE n.day = :day", day, &first) != 0)
		return -1;
	{
		int64_t ds = day * DAY_MS - TZ_MS, off = first - ds;
		int64_t bw = (int64_t)r->o->bulk_window_s * 1000;
		int64_t pw = (int64_t)r->o->probing_window_s * 1000;
		r->wfrom_b = ds + (off / bw) * bw;
		r->wfrom_p = ds + (off / pw) * pw;
	}
	/* one rule at a time, so that each group is one rule's */
	if (RUN_LIST(r, RULE_NOEXP_SQL, day) != 0 || write_findings(r) != 0)
		return -1;
	if (run_sql(r, OFFHOURS_SQL, day) != 0 || write_findings(r) != 0)
		return -1;
	if (run_sql(r, PROVINCE_SQL, day) != 0 || write_findings(r) != 0)
		return -1;
	if (RUN_LIST(r, BULK_SQL, day) != 0 || write_findings(r) != 0)
		return -1;
	if (RUN_LIST(r, REPEATED_SQL, day) != 0 || repeated_members(r, day) != 0 ||
	    RUN_LIST(r, REPEATED_HIT_SQL, day) != 0 || write_findings(r) != 0)
		return -1;
	if (RUN_LIST(r, PROBING_SQL, day) != 0 || write_findings(r) != 0)
		return -1;
	if (run_sql(r, REPLAY_SQL, day) != 0 || write_findings(r) != 0)
		return -1;
	/* the newest day may still grow: aggregated when it is history */
	return day < r->newest_day ? aggregate_day(r, day) : 0;
}

static int exec_list(struct ndx_sqldb *db, const char *const *sql, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ndx_sqldb_exec(db, sql[i], "") != NDX_OK)
			return -1;
	return 0;
}

#define EXEC_LIST(db, a) exec_list(db, a, sizeof a / sizeof a[0])

int misuse_analyse(struct ndx_sqldb *db, const struct misuse_options *opt, unsigned *new_findings)
{
	static const char *const DONE_SQL[] = {
		"DELETE FROM m_new", "DELETE FROM m_flag", "DELETE FROM m_hit", "DELETE FROM m_rr",
		"DELETE FROM m_win", "DELETE FROM m_rs",
	};
	struct misuse_options defaults;
	const struct misuse_options *o = opt;
	struct run r;
	json_t *row = NULL, *days = NULL;
	int rc = NDX_EDB;
	int in_tx = 0;

	if (new_findings)
		*new_findings = 0;
	if (!o) {
		misuse_options_default(&defaults);
		o = &defaults;
	}
	memset(&r, 0, sizeof r);
	r.db = db;
	r.o = o;
	r.baseline_days = o->baseline_ms / DAY_MS;
	if (r.baseline_days < 1)
		r.baseline_days = 1;
	if (!o->bulk_window_s || !o->probing_window_s || !o->repeated_window_s)
		return NDX_EINVAL;
	{
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		r.created_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	}
	if (db->ops->begin(db) != NDX_OK)
		goto out;
	in_tx = 1;
	if (EXEC_LIST(db, TEMP_SQL) != 0)
		goto out;
	{
		/* what the cached aggregates depend on */
		int64_t sig = (int64_t)o->bulk_window_s * 1000003 + o->probing_window_s * 1009 +
			      r.baseline_days;
		int64_t dismissed = -1, held_sig = -2, held_dismissed = -2;

		if (day_value(&r, "SELECT count(*) AS v FROM findings WHERE dismissed <> 0", 0,
			      &dismissed) ||
		    day_value(&r, "SELECT v FROM m_meta WHERE k = 'sig'", 0, &held_sig) ||
		    day_value(&r, "SELECT v FROM m_meta WHERE k = 'dismissed'", 0,
			      &held_dismissed))
			goto out;
		if (sig != held_sig || dismissed != held_dismissed) {
			if (EXEC_LIST(db, CACHE_CLEAR_SQL) != 0 ||
			    ndx_sqldb_exec(db, "INSERT INTO m_meta(k, v) VALUES ('sig', ?),"
					       " ('dismissed', ?)", "ii", sig, dismissed) != NDX_OK)
				goto out;
		}
	}
	/* the new reads: above the state, up to the newest (or the newest
	 * dated at or before now_ms) */
	if (ndx_sqldb_query_one(db, &row,
				"SELECT coalesce((SELECT v FROM misuse_state"
				" WHERE k = 'analysed_read_id'), 0) AS lo,"
				" (SELECT max(id) FROM reads WHERE ?1 = 0 OR time_ms <= ?1) AS hi",
				"i", o->now_ms) != NDX_OK)
		goto out;
	r.lo = iv(row, "lo", 0);
	r.hi = iv(row, "hi", 0);
	json_decref(row);
	if (r.hi > r.lo) {
		json_t *d;
		size_t i;

		if (run_sql(&r,
			    "INSERT INTO m_new(id, day) SELECT id, (time_ms + :tz) / :daylen"
			    " FROM reads WHERE id > :lo AND id <= :hi",
			    0) != 0)
			goto out;
		if (RUN_LIST(&r, EXPLAIN_SQL, 0) != 0)
			goto out;
		if (day_value(&r, "SELECT max(day) AS v FROM m_new", 0, &r.newest_day) != 0)
			goto out;
		if (run_sql(&r,
			    "INSERT INTO m_flag(read_id) SELECT fr.read_id"
			    " FROM finding_reads fr JOIN findings f ON f.id = fr.finding_id"
			    " WHERE f.dismissed = 0" IGNORE,
			    0) != 0)
			goto out;
		/* the days are read first: analyse_day writes the temp tables */
		if (ndx_sqldb_query(db, &days, "SELECT DISTINCT day FROM m_new ORDER BY day", "") !=
		    NDX_OK)
			goto out;
		json_array_foreach(days, i, d)
			if (analyse_day(&r, iv(d, "day", 0)) != 0)
				goto out;
		/* the cached days no baseline will need again */
		static const char *const PRUNE_SQL[] = {
			"DELETE FROM m_hw WHERE day < :bfrom", "DELETE FROM m_prov WHERE day < :bfrom",
			"DELETE FROM m_bulk WHERE day < :bfrom", "DELETE FROM m_ref WHERE day < :bfrom",
			"DELETE FROM m_days WHERE day < :bfrom",
		};
		if (RUN_LIST(&r, PRUNE_SQL, r.newest_day) != 0)
			goto out;
		if (run_sql(&r,
			    "INSERT INTO misuse_state(k, v) VALUES ('analysed_read_id', :hi)"
			    " ON CONFLICT(k) DO UPDATE SET v = excluded.v",
			    0) != 0)
			goto out;
	}
	if (EXEC_LIST(db, DONE_SQL) != 0)
		goto out;
	if (db->ops->commit(db) != NDX_OK)
		goto out;
	in_tx = 0;
	if (new_findings)
		*new_findings = r.written;
	rc = NDX_OK;
out:
	json_decref(days);
	if (in_tx) {
		db->ops->rollback(db);
		EXEC_LIST(db, TEMP_DROP_SQL);
	}
	return rc;
}
