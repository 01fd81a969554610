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
 * IGNORE so that no finding is ever written twice. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "misuse.h"
#include "ndx/array.h"
#include "ndx/err.h"
#include "ndx/pin.h"
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

static const char TEMP_SQL[] =
	"CREATE TEMP TABLE IF NOT EXISTS m_new(id INTEGER PRIMARY KEY, day INTEGER NOT NULL);"
	"CREATE INDEX IF NOT EXISTS temp.m_new_day ON m_new(day, id);"
	"CREATE TEMP TABLE IF NOT EXISTS m_flag(read_id INTEGER PRIMARY KEY);"
	"CREATE TEMP TABLE IF NOT EXISTS m_days(day INTEGER PRIMARY KEY);"
	"CREATE TEMP TABLE IF NOT EXISTS m_hw(client TEXT, day INTEGER, how INTEGER, n INTEGER);"
	"CREATE INDEX IF NOT EXISTS temp.m_hw_day ON m_hw(day);"
	"CREATE TEMP TABLE IF NOT EXISTS m_prov(client TEXT, day INTEGER, prov TEXT, n INTEGER);"
	"CREATE INDEX IF NOT EXISTS temp.m_prov_day ON m_prov(day);"
	"CREATE TEMP TABLE IF NOT EXISTS m_bulk(client TEXT, user_id TEXT, day INTEGER,"
	" slot INTEGER, n INTEGER);"
	"CREATE INDEX IF NOT EXISTS temp.m_bulk_day ON m_bulk(day);"
	"CREATE TEMP TABLE IF NOT EXISTS m_ref(client TEXT, day INTEGER, slot INTEGER, n INTEGER);"
	"CREATE INDEX IF NOT EXISTS temp.m_ref_day ON m_ref(day);"
	/* the baselines of the day being analysed */
	"CREATE TEMP TABLE IF NOT EXISTS m_bhw(client TEXT, how INTEGER, n INTEGER,"
	" PRIMARY KEY(client, how));"
	"CREATE TEMP TABLE IF NOT EXISTS m_btot(client TEXT PRIMARY KEY, n INTEGER);"
	"CREATE TEMP TABLE IF NOT EXISTS m_pin(client TEXT, prov TEXT, k INTEGER, cov REAL,"
	" PRIMARY KEY(client, prov));"
	"CREATE TEMP TABLE IF NOT EXISTS m_bb(client TEXT, user_id TEXT, slot INTEGER, n INTEGER,"
	" PRIMARY KEY(client, user_id, slot));"
	"CREATE TEMP TABLE IF NOT EXISTS m_bref(client TEXT, slot INTEGER, n INTEGER,"
	" PRIMARY KEY(client, slot));"
	"CREATE TEMP TABLE IF NOT EXISTS m_win(client TEXT, user_id TEXT, slot INTEGER,"
	" n INTEGER, base INTEGER, ws INTEGER, we INTEGER, PRIMARY KEY(client, user_id, slot));"
	"CREATE TEMP TABLE IF NOT EXISTS m_rs(subject TEXT, slot INTEGER,"
	" PRIMARY KEY(subject, slot));"
	"CREATE TEMP TABLE IF NOT EXISTS m_rr(subject TEXT, slot INTEGER, id INTEGER,"
	" client TEXT, user_id TEXT, member TEXT);"
	"CREATE TEMP TABLE IF NOT EXISTS m_hit(g TEXT NOT NULL, read_id INTEGER NOT NULL,"
	" client TEXT, user_id TEXT, a INTEGER, b INTEGER, c TEXT, PRIMARY KEY(g, read_id));"
	"CREATE TEMP TABLE IF NOT EXISTS m_meta(k TEXT PRIMARY KEY, v INTEGER);"
	"DELETE FROM m_new; DELETE FROM m_flag; DELETE FROM m_hit;";

/* The aggregates of whole days and the last day's baselines stay in the
 * connection's TEMP tables from one call to the next (the collector calls
 * once a round on the same connection), so that a round aggregates no
 * history again; they are dropped when a dismissal or the options change
 * what they hold. */
static const char CACHE_CLEAR_SQL[] =
	"DELETE FROM m_days; DELETE FROM m_hw; DELETE FROM m_prov; DELETE FROM m_bulk;"
	"DELETE FROM m_ref; DELETE FROM m_meta;";

static const char TEMP_DROP_SQL[] =
	"DROP TABLE IF EXISTS temp.m_new; DROP TABLE IF EXISTS temp.m_flag;"
	"DROP TABLE IF EXISTS temp.m_days; DROP TABLE IF EXISTS temp.m_hw;"
	"DROP TABLE IF EXISTS temp.m_prov; DROP TABLE IF EXISTS temp.m_bulk;"
	"DROP TABLE IF EXISTS temp.m_ref; DROP TABLE IF EXISTS temp.m_bhw;"
	"DROP TABLE IF EXISTS temp.m_btot; DROP TABLE IF EXISTS temp.m_pin;"
	"DROP TABLE IF EXISTS temp.m_bb; DROP TABLE IF EXISTS temp.m_bref;"
	"DROP TABLE IF EXISTS temp.m_win; DROP TABLE IF EXISTS temp.m_rs;"
	"DROP TABLE IF EXISTS temp.m_hit; DROP TABLE IF EXISTS temp.m_rr;"
	"DROP TABLE IF EXISTS temp.m_meta;";

/* The run's fixed values, bound by name in every statement that uses them. */
struct run {
	sqlite3 *db;
	const struct misuse_options *o;
	int64_t lo, hi;       /* new reads: lo < id <= hi */
	int64_t baseline_days;
	int64_t newest_day;   /* of the new reads: not complete, never cached */
	int64_t wfrom_b, wfrom_p; /* the first bulk and probing window with a new read */
	int history_changed;  /* aggregate_day added a day to the baselines */
	int64_t created_ms;
	unsigned written;
};

/* misuse_member(user_id): the agency part of X-Road-UserId
 * "{instance}/{class}/{member}/{username}", or NULL without a username. */
static void fn_member(sqlite3_context *cx, int argc, sqlite3_value **argv)
{
	const unsigned char *s = sqlite3_value_text(argv[0]);
	int slashes = 0;

	(void)argc;
	if (!s) {
		sqlite3_result_null(cx);
		return;
	}
	for (const unsigned char *p = s; *p; p++)
		if (*p == '/' && ++slashes == 3) {
			if (p == s || !p[1])
				break;
			sqlite3_result_text(cx, (const char *)s, (int)(p - s), SQLITE_TRANSIENT);
			return;
		}
	sqlite3_result_null(cx);
}

/* Binds the named parameters a statement holds from r and the day. */
static int bind_common(const struct run *r, sqlite3_stmt *st, int64_t day)
{
	const struct misuse_options *o = r->o;
	struct {
		const char *name;
		int64_t v;
	} ints[] = {
		{ ":lo", r->lo },
		{ ":hi", r->hi },
		{ ":day", day },
		{ ":ds", day * DAY_MS - TZ_MS },
		{ ":de", (day + 1) * DAY_MS - TZ_MS },
		{ ":bfrom", day - r->baseline_days },
		{ ":tz", TZ_MS },
		{ ":daylen", DAY_MS },
		{ ":hour", HOUR_MS },
		{ ":bw", (int64_t)o->bulk_window_s * 1000 },
		{ ":pw", (int64_t)o->probing_window_s * 1000 },
		{ ":rw", (int64_t)o->repeated_window_s * 1000 },
		{ ":bmin", o->bulk_min_subjects },
		{ ":pmin", o->probing_min_refusals },
		{ ":rmin", o->repeated_min_members },
		{ ":minreads", o->min_baseline_reads },
		{ ":pmax", o->province_max },
		{ ":lookback", REPLAY_LOOKBACK_MS },
		{ ":bfirst", r->wfrom_b },
		{ ":pfirst", r->wfrom_p },
	};
	struct {
		const char *name;
		double v;
	} reals[] = {
		{ ":bfactor", o->bulk_factor },     { ":pfactor", o->probing_factor },
		{ ":offshare", o->off_hours_share }, { ":pshare", o->province_share },
		{ ":pminshare", o->province_min_share },
	};

	for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
		int k = sqlite3_bind_parameter_index(st, ints[i].name);
		if (k && sqlite3_bind_int64(st, k, ints[i].v) != SQLITE_OK)
			return -1;
	}
	for (size_t i = 0; i < sizeof reals / sizeof reals[0]; i++) {
		int k = sqlite3_bind_parameter_index(st, reals[i].name);
		if (k && sqlite3_bind_double(st, k, reals[i].v) != SQLITE_OK)
			return -1;
	}
	return 0;
}

/* Runs one statement (no result rows wanted) with the common parameters. */
static int run_sql(const struct run *r, const char *sql, int64_t day)
{
	sqlite3_stmt *st = NULL;
	int rc = -1;

	if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK)
		goto out;
	if (bind_common(r, st, day) != 0)
		goto out;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	rc = rc == SQLITE_DONE ? 0 : -1;
out:
	if (rc != 0)
		fprintf(stderr, "misuse: %s\n", sqlite3_errmsg(r->db));
	sqlite3_finalize(st);
	return rc;
}

/* ---- explanations ---------------------------------------------------- */

static const char *const EXPLAIN_SQL[] = {
	"INSERT OR IGNORE INTO explanations(read_id, how, ref) SELECT id, 'own', ''"
	" FROM reads WHERE id > :lo AND id <= :hi AND own = 1",
	"INSERT OR IGNORE INTO explanations(read_id, how, ref) SELECT id, 'subscription', ''"
	" FROM reads WHERE id > :lo AND id <= :hi AND event = 1",
	"INSERT OR IGNORE INTO explanations(read_id, how, ref) SELECT id, 'consent', ''"
	" FROM reads WHERE id > :lo AND id <= :hi AND consent = 1 AND status < 400",
	/* X-Road-Issue "{kind}/{procedure id}": a procedure of that kind and
	 * id, about one of the read's subjects, handled by the reading agency
	 * (the officer's agency, else the client's member), the read between
	 * its opening (less 10 minutes of clock skew) and a day after its
	 * closing (the last documents of a procedure just closed). */
	"INSERT OR IGNORE INTO explanations(read_id, how, ref)"
	" SELECT r.id, 'procedure', p.id FROM reads r JOIN procedures p"
	"  ON p.id = substr(r.issue, instr(r.issue, '/') + 1)"
	" AND p.kind = substr(r.issue, 1, instr(r.issue, '/') - 1)"
	" WHERE r.id > :lo AND r.id <= :hi AND instr(r.issue, '/') > 1"
	" AND p.agency = CASE WHEN r.user_id <> '' THEN misuse_member(r.user_id)"
	"     ELSE r.client_member END"
	" AND r.time_ms >= p.opened_ms - 600000"
	" AND (p.closed_ms IS NULL OR r.time_ms <= p.closed_ms + 86400000)"
	" AND EXISTS (SELECT 1 FROM read_subjects s WHERE s.read_id = r.id"
	"  AND s.subject = p.subject)",
	/* a mandate is an agency system's standing basis (a batch of periodic
	 * checks): an officer reading one person needs a procedure */
	"INSERT OR IGNORE INTO explanations(read_id, how, ref)"
	" SELECT r.id, 'mandate', CAST(m.id AS TEXT) FROM reads r JOIN mandates m"
	"  ON m.client = r.client AND m.service = r.service AND m.purpose = r.purpose"
	" WHERE r.id > :lo AND r.id <= :hi AND m.created_ms <= r.time_ms AND r.user_id = ''",
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
	sqlite3_stmt *st = NULL;
	int done;

	if (sqlite3_prepare_v2(r->db, "SELECT 1 FROM m_days WHERE day = ?", -1, &st, NULL) !=
	    SQLITE_OK)
		return -1;
	sqlite3_bind_int64(st, 1, day);
	done = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
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
	"INSERT INTO m_bhw SELECT client, how, sum(n) FROM m_hw"
	" WHERE day >= :bfrom AND day < :day GROUP BY 1, 2",
	"INSERT INTO m_btot SELECT client, sum(n) FROM m_bhw GROUP BY 1",
	/* the provinces that make up a client's baseline: each holding at
	 * least pminshare of its subjects; kept only for clients with enough
	 * reads whose at most pmax such provinces cover pshare or more */
	"WITH b AS (SELECT client, prov, sum(n) n FROM m_prov"
	"   WHERE day >= :bfrom AND day < :day GROUP BY 1, 2),"
	" t AS (SELECT client, sum(n) t FROM b GROUP BY 1),"
	" p AS (SELECT b.client, b.prov, b.n, t.t FROM b JOIN t USING (client)"
	"   WHERE b.n >= :pminshare * t.t),"
	" c AS (SELECT client, count(*) k, sum(n) * 1.0 / max(t) cov FROM p GROUP BY 1"
	"   HAVING count(*) <= :pmax AND sum(n) * 1.0 / max(t) >= :pshare)"
	" INSERT INTO m_pin SELECT p.client, p.prov, c.k, c.cov FROM p JOIN c USING (client)"
	" WHERE p.client IN (SELECT client FROM m_btot WHERE n >= :minreads)",
	"INSERT INTO m_bb SELECT client, user_id, slot, max(n) FROM m_bulk"
	" WHERE day >= :bfrom AND day < :day GROUP BY 1, 2, 3",
	"INSERT INTO m_bref SELECT client, slot, max(n) FROM m_ref"
	" WHERE day >= :bfrom AND day < :day GROUP BY 1, 2",
};

/* ---- rules: hits into m_hit ------------------------------------------ */

/* Groups: g starts with the kind and holds what makes the key. */
static const char *const RULE_NOEXP_SQL[] = {
	"INSERT OR IGNORE INTO m_hit(g, read_id, client, user_id, a, b, c)"
	" SELECT 'x|' || r.client || '|' || r.user_id, r.id, r.client, r.user_id, 0, 0, ''"
	" FROM m_new n JOIN reads r ON r.id = n.id WHERE n.day = :day AND r.status < 400"
	" AND NOT EXISTS (SELECT 1 FROM explanations e WHERE e.read_id = r.id)",
};

static const char OFFHOURS_SQL[] =
	"INSERT OR IGNORE INTO m_hit(g, read_id, client, user_id, a, b, c)"
	" SELECT 'o|' || q.client || '|' || q.user_id || '|' || q.how, q.id, q.client,"
	"  q.user_id, t.n, coalesce(b.n, 0), CAST(q.how AS TEXT)"
	" FROM (SELECT r.id, r.client, r.user_id,"
	"   ((:day + 3) % 7) * 24 + ((r.time_ms + :tz) % :daylen) / :hour AS how"
	"   FROM m_new n JOIN reads r ON r.id = n.id LEFT JOIN explanations e ON e.read_id = r.id"
	"   WHERE n.day = :day AND r.status < 400 AND " NOT_STRONG("e") ") q"
	" JOIN m_btot t ON t.client = q.client AND t.n >= :minreads"
	" LEFT JOIN m_bhw b ON b.client = q.client AND b.how = q.how"
	" WHERE coalesce(b.n, 0) < :offshare * t.n";

static const char PROVINCE_SQL[] =
	"INSERT OR IGNORE INTO m_hit(g, read_id, client, user_id, a, b, c)"
	" SELECT 'p|' || r.client || '|' || r.user_id, r.id, r.client, r.user_id, c.k,"
	"  CAST(c.cov * 1000 AS INTEGER), substr(s.subject, 1, 3)"
	" FROM m_new n JOIN reads r ON r.id = n.id"
	" JOIN (SELECT client, max(k) k, max(cov) cov FROM m_pin GROUP BY 1) c"
	"  ON c.client = r.client"
	" JOIN read_subjects s ON s.read_id = r.id LEFT JOIN explanations e ON e.read_id = r.id"
	" WHERE n.day = :day AND r.status < 400 AND " NOT_STRONG("e")
	" AND NOT EXISTS (SELECT 1 FROM m_pin q WHERE q.client = r.client"
	"  AND q.prov = substr(s.subject, 1, 3))";

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
	"DELETE FROM m_win WHERE n <= max(:bmin, :bfactor * base)",
	/* an officer's burst split by the window's edge: the officer's reads
	 * of the half windows on either side belong to it too (a client's
	 * window holds its ordinary reads as well, so it keeps its edges) */
	"UPDATE m_win SET ws = :ds + slot * :bw, we = min(:de, :ds + (slot + 1) * :bw)",
	"UPDATE m_win SET ws = ws - :bw / 2, we = we + :bw / 2 WHERE user_id <> ''",
	"INSERT OR IGNORE INTO m_hit(g, read_id, client, user_id, a, b, c)"
	" SELECT 'b|' || w.client || '|' || w.user_id || '|' || w.ws, r.id,"
	"  r.client, r.user_id, w.n, w.base, ''"
	" FROM m_win w CROSS JOIN reads r ON r.client = w.client"
	"  AND r.time_ms >= w.ws AND r.time_ms < w.we"
	" LEFT JOIN explanations e ON e.read_id = r.id"
	" WHERE r.id <= :hi AND r.status < 400 AND " NOT_STRONG("e")
	" AND (w.user_id = '' OR r.user_id = w.user_id)",
};

static const char *const PROBING_SQL[] = {
	"DELETE FROM m_win",
	"INSERT INTO m_win(client, user_id, slot, n, base)"
	" SELECT r.client, '', ((r.time_ms + :tz) % :daylen) / :pw, count(*), 0 FROM reads r"
	" WHERE r.time_ms >= :pfirst AND r.time_ms < :de AND r.id <= :hi AND r.status >= 400"
	" GROUP BY 1, 3 HAVING max(r.id) > :lo",
	"UPDATE m_win SET base = coalesce((SELECT n FROM m_bref b WHERE b.client = m_win.client"
	" AND b.slot = m_win.slot), 0)",
	"DELETE FROM m_win WHERE n <= max(:pmin, :pfactor * base)",
	/* a surge split by the window's edge: the refusals of the half
	 * windows on either side belong to it too */
	"UPDATE m_win SET ws = :ds + slot * :pw - :pw / 2,"
	" we = min(:de, :ds + (slot + 1) * :pw) + :pw / 2",
	"INSERT OR IGNORE INTO m_hit(g, read_id, client, user_id, a, b, c)"
	" SELECT 'r|' || w.client || '|' || (:ds + w.slot * :pw), r.id, r.client, r.user_id,"
	"  w.n, w.base, r.error_type"
	" FROM m_win w CROSS JOIN reads r ON r.client = w.client"
	"  AND r.time_ms >= w.ws AND r.time_ms < w.we"
	" WHERE r.id <= :hi AND r.status >= 400"
	" AND NOT EXISTS (SELECT 1 FROM m_flag f WHERE f.read_id = r.id)",
};

/* repeated-subject: the people of the day's new reads (not strongly
 * explained) read by repeated_min_members agencies or more in one window;
 * an officer's agency is the member of X-Road-UserId. */
static const char *const REPEATED_SQL[] = {
	"DELETE FROM m_rs",
	"INSERT OR IGNORE INTO m_rs(subject, slot)"
	" SELECT s.subject, ((r.time_ms + :tz) % :daylen) / :rw FROM m_new n"
	" JOIN reads r ON r.id = n.id JOIN read_subjects s ON s.read_id = r.id"
	" LEFT JOIN explanations e ON e.read_id = r.id"
	" WHERE n.day = :day AND r.status < 400 AND " NOT_STRONG("e"),
	"DELETE FROM m_win",
	"DELETE FROM m_rr",
	"INSERT INTO m_rr SELECT m.subject, m.slot, r.id, r.client, r.user_id,"
	"  coalesce(misuse_member(r.user_id), r.client_member)"
	" FROM m_rs m CROSS JOIN read_subjects s ON s.subject = m.subject"
	" CROSS JOIN reads r ON r.id = s.read_id LEFT JOIN explanations e ON e.read_id = r.id"
	" WHERE r.time_ms >= :ds + m.slot * :rw AND r.time_ms < min(:de, :ds + (m.slot + 1) * :rw)"
	" AND r.id <= :hi AND r.status < 400 AND " NOT_STRONG("e"),
	"INSERT OR IGNORE INTO m_hit(g, read_id, client, user_id, a, b, c)"
	" SELECT 's|' || q.subject || '|' || (:ds + q.slot * :rw), q.id, q.client, q.user_id,"
	"  k.members, 0, q.member FROM m_rr q JOIN (SELECT subject, slot,"
	"  count(DISTINCT member) members FROM m_rr GROUP BY 1, 2) k"
	" ON k.subject = q.subject AND k.slot = q.slot WHERE k.members >= :rmin",
};

static const char REPLAY_SQL[] =
	"INSERT OR IGNORE INTO m_hit(g, read_id, client, user_id, a, b, c)"
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
	"    AND o.message_id = r.message_id AND o.id <> r.id AND o.status < 400)))";

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
		/* c is "079,048,..." from group_concat(DISTINCT) */
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

/* Writes one finding per group of m_hit and their finding_reads, marks
 * their reads flagged, empties m_hit. */
static int write_findings(struct run *r)
{
	static const char GROUPS[] =
		"SELECT h.g, min(h.read_id), count(*), min(x.time_ms), max(x.time_ms),"
		" count(DISTINCT h.client), min(h.client), count(DISTINCT h.user_id),"
		" min(h.user_id), max(h.a), max(h.b), group_concat(DISTINCT h.c)"
		" FROM m_hit h JOIN reads x ON x.id = h.read_id GROUP BY h.g ORDER BY 2";
	static const char SUBJECTS[] = "SELECT count(DISTINCT s.subject), min(s.subject)"
				       " FROM m_hit h JOIN read_subjects s ON s.read_id = h.read_id"
				       " WHERE h.g = ?";
	static const char INSERT[] =
		"INSERT OR IGNORE INTO findings(kind, key, client, user_id, subject, from_ms,"
		" to_ms, why, created_ms) VALUES (?,?,?,?,?,?,?,?,?)";
	static const char READS[] = "INSERT OR IGNORE INTO finding_reads(finding_id, read_id)"
				    " SELECT ?, read_id FROM m_hit WHERE g = ?";
	static const char FLAG[] = "INSERT OR IGNORE INTO m_flag(read_id)"
				   " SELECT read_id FROM m_hit WHERE g = ?";
	sqlite3_stmt *gs = NULL, *ss = NULL, *is = NULL, *rs = NULL, *fs = NULL;
	char key[1024], why[2048], subject_buf[64];
	int rc = -1, step;

	if (sqlite3_prepare_v2(r->db, GROUPS, -1, &gs, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(r->db, SUBJECTS, -1, &ss, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(r->db, INSERT, -1, &is, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(r->db, READS, -1, &rs, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(r->db, FLAG, -1, &fs, NULL) != SQLITE_OK)
		goto out;
	while ((step = sqlite3_step(gs)) == SQLITE_ROW) {
		struct grp g;
		const char *kind;
		const char *txt;

		memset(&g, 0, sizeof g);
		g.g = (const char *)sqlite3_column_text(gs, 0);
		g.first_id = sqlite3_column_int64(gs, 1);
		g.n = sqlite3_column_int64(gs, 2);
		g.from_ms = sqlite3_column_int64(gs, 3);
		g.to_ms = sqlite3_column_int64(gs, 4);
		g.nclients = sqlite3_column_int(gs, 5);
		txt = (const char *)sqlite3_column_text(gs, 6);
		g.client = txt ? txt : "";
		g.nusers = sqlite3_column_int(gs, 7);
		txt = (const char *)sqlite3_column_text(gs, 8);
		g.user_id = txt ? txt : "";
		g.a = sqlite3_column_int64(gs, 9);
		g.b = sqlite3_column_int64(gs, 10);
		g.c = (const char *)sqlite3_column_text(gs, 11);
		if (!g.g)
			goto out;
		sqlite3_reset(ss);
		sqlite3_bind_text(ss, 1, g.g, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(ss) == SQLITE_ROW) {
			g.nsubjects = sqlite3_column_int64(ss, 0);
			txt = (const char *)sqlite3_column_text(ss, 1);
			snprintf(subject_buf, sizeof subject_buf, "%s", txt ? txt : "");
		} else {
			subject_buf[0] = 0;
		}
		g.subject = subject_buf;
		kind = describe(r, &g, key, sizeof key, why, sizeof why);
		if (!kind)
			goto out;
		sqlite3_reset(is);
		sqlite3_bind_text(is, 1, kind, -1, SQLITE_STATIC);
		sqlite3_bind_text(is, 2, key, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(is, 3, g.nclients == 1 ? g.client : "", -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(is, 4, g.nusers == 1 ? g.user_id : "", -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(is, 5, g.nsubjects == 1 ? g.subject : "", -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(is, 6, g.from_ms);
		sqlite3_bind_int64(is, 7, g.to_ms);
		sqlite3_bind_text(is, 8, why, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(is, 9, r->created_ms);
		if (sqlite3_step(is) != SQLITE_DONE)
			goto out;
		if (sqlite3_changes(r->db) == 1) {
			sqlite3_int64 fid = sqlite3_last_insert_rowid(r->db);
			sqlite3_reset(rs);
			sqlite3_bind_int64(rs, 1, fid);
			sqlite3_bind_text(rs, 2, g.g, -1, SQLITE_TRANSIENT);
			if (sqlite3_step(rs) != SQLITE_DONE)
				goto out;
			r->written++;
		}
		/* flagged reads leave the baselines either way: a key already
		 * written is a finding not dismissed yet, or its reads are in
		 * m_flag from the start already */
		sqlite3_reset(fs);
		sqlite3_bind_text(fs, 1, g.g, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(fs) != SQLITE_DONE)
			goto out;
	}
	if (step != SQLITE_DONE)
		goto out;
	rc = 0;
out:
	if (rc != 0)
		fprintf(stderr, "misuse: findings: %s\n", sqlite3_errmsg(r->db));
	sqlite3_finalize(gs);
	sqlite3_finalize(ss);
	sqlite3_finalize(is);
	sqlite3_finalize(rs);
	sqlite3_finalize(fs);
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

/* Reads one integer of the day's statement into *out (unchanged on NULL or
 * no row). */
static int day_value(struct run *r, const char *sql, int64_t day, int64_t *out)
{
	sqlite3_stmt *st = NULL;
	int rc = -1;

	if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) == SQLITE_OK &&
	    bind_common(r, st, day) == 0) {
		int step = sqlite3_step(st);
		if (step == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
			*out = sqlite3_column_int64(st, 0);
		rc = step == SQLITE_ROW || step == SQLITE_DONE ? 0 : -1;
	}
	if (rc != 0)
		fprintf(stderr, "misuse: %s\n", sqlite3_errmsg(r->db));
	sqlite3_finalize(st);
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
		    run_sql(r, "INSERT OR REPLACE INTO m_meta(k, v) VALUES ('bday', :day)", day))
			return -1;
	}
	/* the windows with a new read start at or after the first new read's */
	if (day_value(r, "SELECT min(r.time_ms) FROM m_new n JOIN reads r ON r.id = n.id"
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
	if (RUN_LIST(r, REPEATED_SQL, day) != 0 || write_findings(r) != 0)
		return -1;
	if (RUN_LIST(r, PROBING_SQL, day) != 0 || write_findings(r) != 0)
		return -1;
	if (run_sql(r, REPLAY_SQL, day) != 0 || write_findings(r) != 0)
		return -1;
	/* the newest day may still grow: aggregated when it is history */
	return day < r->newest_day ? aggregate_day(r, day) : 0;
}

int misuse_analyse(sqlite3 *db, const struct misuse_options *opt, unsigned *new_findings)
{
	struct misuse_options defaults;
	const struct misuse_options *o = opt;
	struct run r;
	sqlite3_stmt *st = NULL;
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
	if (sqlite3_create_function(db, "misuse_member", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC,
				    NULL, fn_member, NULL, NULL) != SQLITE_OK)
		return NDX_EDB;
	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		goto out;
	in_tx = 1;
	if (sqlite3_exec(db, TEMP_SQL, NULL, NULL, NULL) != SQLITE_OK)
		goto out;
	{
		/* what the cached aggregates depend on */
		int64_t sig = (int64_t)o->bulk_window_s * 1000003 + o->probing_window_s * 1009 +
			      r.baseline_days;
		int64_t dismissed = -1, held_sig = -2, held_dismissed = -2;

		if (day_value(&r, "SELECT count(*) FROM findings WHERE dismissed <> 0", 0,
			      &dismissed) ||
		    day_value(&r, "SELECT v FROM m_meta WHERE k = 'sig'", 0, &held_sig) ||
		    day_value(&r, "SELECT v FROM m_meta WHERE k = 'dismissed'", 0,
			      &held_dismissed))
			goto out;
		if (sig != held_sig || dismissed != held_dismissed) {
			if (sqlite3_exec(db, CACHE_CLEAR_SQL, NULL, NULL, NULL) != SQLITE_OK)
				goto out;
			sqlite3_stmt *m = NULL;
			if (sqlite3_prepare_v2(db, "INSERT INTO m_meta(k, v) VALUES ('sig', ?),"
						   " ('dismissed', ?)", -1, &m, NULL) != SQLITE_OK)
				goto out;
			sqlite3_bind_int64(m, 1, sig);
			sqlite3_bind_int64(m, 2, dismissed);
			int step = sqlite3_step(m);
			sqlite3_finalize(m);
			if (step != SQLITE_DONE)
				goto out;
		}
	}
	/* the new reads: above the state, up to the newest (or the newest
	 * dated at or before now_ms) */
	if (sqlite3_prepare_v2(db,
			       "SELECT coalesce((SELECT v FROM misuse_state"
			       " WHERE k = 'analysed_read_id'), 0),"
			       " (SELECT max(id) FROM reads WHERE ?1 = 0 OR time_ms <= ?1)",
			       -1, &st, NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_int64(st, 1, o->now_ms);
	if (sqlite3_step(st) != SQLITE_ROW)
		goto out;
	r.lo = sqlite3_column_int64(st, 0);
	r.hi = sqlite3_column_int64(st, 1);
	sqlite3_finalize(st);
	st = NULL;
	if (r.hi > r.lo) {
		if (run_sql(&r,
			    "INSERT INTO m_new(id, day) SELECT id, (time_ms + :tz) / :daylen"
			    " FROM reads WHERE id > :lo AND id <= :hi",
			    0) != 0)
			goto out;
		if (RUN_LIST(&r, EXPLAIN_SQL, 0) != 0)
			goto out;
		if (day_value(&r, "SELECT max(day) FROM m_new", 0, &r.newest_day) != 0)
			goto out;
		if (run_sql(&r,
			    "INSERT OR IGNORE INTO m_flag(read_id) SELECT fr.read_id"
			    " FROM finding_reads fr JOIN findings f ON f.id = fr.finding_id"
			    " WHERE f.dismissed = 0",
			    0) != 0)
			goto out;
		if (sqlite3_prepare_v2(db, "SELECT DISTINCT day FROM m_new ORDER BY day", -1, &st,
				       NULL) != SQLITE_OK)
			goto out;
		/* the days are read first: analyse_day writes the temp tables */
		{
			int64_t *days = NULL;
			size_t n = 0, cap = 0;
			int step, ok = 1;

			while ((step = sqlite3_step(st)) == SQLITE_ROW) {
				if (ndx_array_reserve((void **)&days, &cap, n, sizeof *days, 64) != NDX_OK) {
					ok = 0;
					break;
				}
				days[n++] = sqlite3_column_int64(st, 0);
			}
			sqlite3_finalize(st);
			st = NULL;
			if (!ok || step != SQLITE_DONE) {
				free(days);
				rc = ok ? NDX_EDB : NDX_ENOMEM;
				goto out;
			}
			for (size_t i = 0; i < n && ok; i++)
				ok = analyse_day(&r, days[i]) == 0;
			free(days);
			if (!ok)
				goto out;
		}
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
	if (sqlite3_exec(db, "DELETE FROM m_new; DELETE FROM m_flag; DELETE FROM m_hit;"
			     " DELETE FROM m_rr; DELETE FROM m_win; DELETE FROM m_rs", NULL, NULL,
			 NULL) != SQLITE_OK)
		goto out;
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		goto out;
	in_tx = 0;
	if (new_findings)
		*new_findings = r.written;
	rc = NDX_OK;
out:
	sqlite3_finalize(st);
	if (in_tx) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		sqlite3_exec(db, TEMP_DROP_SQL, NULL, NULL, NULL);
	}
	return rc;
}
