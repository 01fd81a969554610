/* indicators.db, the monitoring service's second SQLite file (beside
 * monitor.db, docs/indicators.md "The store"): the values officials enter
 * for the indicators, each row kept with who entered it, when and from
 * which source (a correction is a new row, never an overwrite), and the
 * implementation tracker's tasks with the history of their changes. The
 * caller validates ids, periods, scopes and values (indicators.h); the
 * store keeps and reads them. One connection and one lock: the CLI and
 * the API's threads may share a handle. */
#ifndef NDX_MONITOR_INDICATORS_STORE_H
#define NDX_MONITOR_INDICATORS_STORE_H

#include <jansson.h>
#include <stdint.h>

#define ISTORE_DB_FILE "indicators.db"

struct istore;

/* Opens (creating when create is non-zero) path. NDX_OK with *out, or
 * NDX_EDB / NDX_ENOMEM (the reason on stderr). */
int istore_open(const char *path, int create, struct istore **out);
void istore_close(struct istore *st);

struct ind_entry {
	const char *indicator, *period, *period_key, *scope, *source, *entered_by;
	const char *note;      /* may be NULL */
	double value;
	int64_t entered_at;    /* Unix seconds */
};

/* Keeps one value (a new row, also when one exists for the same indicator,
 * period and scope: the newest row is the value, the older ones its
 * history). *id (may be NULL) gets the row's number. */
int istore_add_value(struct istore *st, const struct ind_entry *e, int64_t *id);

/* Every row of indicator (NULL: all) and scope (NULL: all), in the order
 * entered, as [{id, indicator, period, scope, value, source, entered_by,
 * entered_at (RFC 3339), note}]. *out is the caller's. */
int istore_history(struct istore *st, const char *indicator, const char *scope, json_t **out);

/* The value of indicator for each (scope, period) whose period key is at
 * most up_to_key (NULL: all): the newest row of each, ordered by scope then
 * period key, as history's objects plus "period_key" and "corrections"
 * (how many older rows it replaces). */
int istore_current(struct istore *st, const char *indicator, const char *up_to_key,
		   json_t **out);

/* Adds a task. NDX_OK with *id. */
int istore_task_add(struct istore *st, const char *title, const char *lead,
		    const char *deadline, const char *status, const char *evidence,
		    const char *by, int64_t now_s, int64_t *id);
/* Changes a task's status and/or evidence (NULL: unchanged) and records
 * the change. NDX_ENOTFOUND when there is no task id. */
int istore_task_update(struct istore *st, int64_t id, const char *status,
		       const char *evidence, const char *by, int64_t now_s);
/* Every task, ordered by deadline then id, each with "overdue": true when
 * its deadline is before as_of ("YYYY-MM-DD") and it is not done. */
int istore_tasks(struct istore *st, const char *as_of, json_t **out);

#endif
