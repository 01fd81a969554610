/* Misuse detection (docs/monitoring.md "Misuse detection"): every
 * personal-data read the monitoring service collected is either explained
 * (the citizen's own view, a consent the provider gateway enforced, a
 * subscription's delivery, an open procedure of the reading agency for that
 * citizen, a registered mandate for the client, service and purpose) or
 * looked at by the rules (no explanation, bulk lookups, unusual hours and
 * provinces, one person read by unrelated agencies, probing, replays).
 * A rule that fires writes a finding; the cases (cases.h) are made from
 * findings. Nothing here reads any data of a citizen: only the message
 * log's fields of each read (who, when, which service and purpose, the
 * subjects, the officer and the procedure named).
 *
 * The tables below live in monitor.db (mon_db.c applies MISUSE_SCHEMA_SQL
 * as one migration) and in any analysis database (`ndx-monitor misuse
 * import`/`analyse --db`, the bench), so one detector runs on both. */
#ifndef NDX_MONITOR_MISUSE_H
#define NDX_MONITOR_MISUSE_H

#include <stdint.h>

#include "ndx/sqldb.h"

/* reads: one row per personal-data record of a provider gateway's message
 *   log (served exchanges and event deliveries), where (gateway, seq) finds
 *   the record again for its inclusion proof. id is the analysis order
 *   (increasing as rows are added). client_member is the client's member
 *   (the first three parts of client); status is the HTTP status answered
 *   (400 and above: refused, nothing returned); user_id and issue are
 *   X-Road-UserId and X-Road-Issue as sent ("" none); own is 1 when the
 *   request carried the subject's own verified e-ID token; event is 1 for
 *   an event delivered to a subscriber; consent is 1 when the service
 *   requires a consent (so a success proves a live one: the gateway refuses
 *   without); error_type the X-Road error type of a refusal ("" none).
 * read_subjects: the people a read is about (Ndx-Subject and the declared
 *   subjects together, each once).
 * procedures: the portal's procedures (pushed by the portal): the citizen,
 *   the agency handling it, opened and closed (NULL while open) in Unix ms.
 * mandates: a client's standing legal basis to read a service for a
 *   purpose without a procedure (a tax department's periodic checks).
 * explanations: the reason a read was legitimate, one per read that has one
 *   (how: own | consent | subscription | procedure | mandate; ref: the
 *   procedure or mandate id, else "").
 * findings: what a rule flagged, once per key (a finding is never written
 *   twice, so a dismissed case is not reopened by the next analysis), with
 *   the reads that make it up in finding_reads. dismissed is set when its
 *   case is dismissed: a dismissed finding's reads count as normal in the
 *   baselines (a dismissal teaches the baseline), the others' do not.
 * misuse_state: the detector's progress (k = "analysed_read_id"). */
#define MISUSE_SCHEMA_SQL                                                                  \
	"CREATE TABLE reads(id INTEGER PRIMARY KEY, gateway TEXT NOT NULL,"                \
	" seq INTEGER NOT NULL, time_ms INTEGER NOT NULL, message_id TEXT NOT NULL,"      \
	" client TEXT NOT NULL, client_member TEXT NOT NULL, service TEXT NOT NULL,"      \
	" method TEXT NOT NULL, purpose TEXT NOT NULL, status INTEGER NOT NULL,"          \
	" user_id TEXT NOT NULL, issue TEXT NOT NULL, own INTEGER NOT NULL,"              \
	" event INTEGER NOT NULL, consent INTEGER NOT NULL, error_type TEXT NOT NULL,"     \
	" UNIQUE(gateway, seq));"                                                          \
	"CREATE INDEX reads_time ON reads(time_ms);"                                       \
	"CREATE INDEX reads_client_time ON reads(client, time_ms);"                        \
	"CREATE TABLE read_subjects(read_id INTEGER NOT NULL, subject TEXT NOT NULL,"      \
	" PRIMARY KEY(read_id, subject)) WITHOUT ROWID;"                                   \
	"CREATE INDEX read_subjects_subject ON read_subjects(subject, read_id);"           \
	"CREATE TABLE procedures(id TEXT PRIMARY KEY, kind TEXT NOT NULL,"                \
	" subject TEXT NOT NULL, agency TEXT NOT NULL, opened_ms INTEGER NOT NULL,"       \
	" closed_ms INTEGER);"                                                             \
	"CREATE INDEX procedures_subject ON procedures(subject);"                          \
	"CREATE TABLE mandates(id INTEGER PRIMARY KEY, client TEXT NOT NULL,"             \
	" service TEXT NOT NULL, purpose TEXT NOT NULL, basis TEXT NOT NULL,"             \
	" created_ms INTEGER NOT NULL, UNIQUE(client, service, purpose));"                \
	"CREATE TABLE explanations(read_id INTEGER PRIMARY KEY, how TEXT NOT NULL,"       \
	" ref TEXT NOT NULL);"                                                             \
	"CREATE TABLE findings(id INTEGER PRIMARY KEY, kind TEXT NOT NULL,"               \
	" key TEXT NOT NULL UNIQUE, client TEXT NOT NULL, user_id TEXT NOT NULL,"         \
	" subject TEXT NOT NULL, from_ms INTEGER NOT NULL, to_ms INTEGER NOT NULL,"       \
	" why TEXT NOT NULL, created_ms INTEGER NOT NULL,"                                \
	" dismissed INTEGER NOT NULL DEFAULT 0);"                                          \
	"CREATE TABLE finding_reads(finding_id INTEGER NOT NULL, read_id INTEGER NOT NULL," \
	" PRIMARY KEY(finding_id, read_id)) WITHOUT ROWID;"                                \
	"CREATE TABLE misuse_state(k TEXT PRIMARY KEY, v INTEGER NOT NULL);"

/* The kinds of finding (findings.kind), in docs/monitoring.md's order. */
#define MISUSE_NO_EXPLANATION "no-explanation"   /* a read nothing explains */
#define MISUSE_BULK "bulk"                       /* many people in a short window */
#define MISUSE_OFF_HOURS "off-hours"             /* outside the client's usual hours */
#define MISUSE_PROVINCE "unusual-province"       /* outside the client's usual provinces */
#define MISUSE_REPEATED "repeated-subject"       /* one person, unrelated agencies */
#define MISUSE_PROBING "probing"                 /* a surge of refusals */
#define MISUSE_REPLAY "replay"                   /* a replayed request */
#define MISUSE_CITIZEN_REPORT "citizen-report"   /* a citizen did not recognise a read */

/* Thresholds; misuse_options_default fills the tuned values. */
struct misuse_options {
	int64_t now_ms;             /* analyse reads up to here; 0 = the newest read */
	int64_t baseline_ms;        /* how far back baselines look (default 28 days) */
	/* Further fields are the detector's own (misuse_detect.c). */
	unsigned bulk_window_s;
	unsigned bulk_min_subjects;
	double bulk_factor;
	unsigned repeated_window_s;
	unsigned repeated_min_members;
	unsigned probing_window_s;
	unsigned probing_min_refusals;
	double probing_factor;
	double off_hours_share;
	double province_share;
	unsigned min_baseline_reads;
	/* unusual-province: a province makes up the client's baseline when it
	 * holds province_min_share of its subjects or more; the client is
	 * concentrated when at most province_max such provinces cover
	 * province_share of them */
	double province_min_share;
	unsigned province_max;
};

void misuse_options_default(struct misuse_options *o);

/* Analyses the reads of db not yet analysed (id above misuse_state's
 * analysed_read_id, up to the newest): writes their explanations, runs
 * every rule and writes new findings (with finding_reads), advances the
 * state, in one transaction. *new_findings (may be NULL) is how many
 * findings were written. Returns NDX_OK or NDX_EDB. */
int misuse_analyse(struct ndx_sqldb *db, const struct misuse_options *o, unsigned *new_findings);

#endif
