/* The operations centre's API for the indicators, the task tracker and the
 * six-monthly report (docs/indicators.md "API"), behind the monitoring
 * service's admin token like /api/live:
 *   GET  /api/indicators[?period=P]        the view (indicators_view.h)
 *   POST /api/indicators/{id}/values      an entered value
 *   GET  /api/tasks[?as_of=YYYY-MM-DD]    the tracker, overdue flagged
 *   POST /api/tasks                       a new task
 *   POST /api/tasks/{n}                   a task's status or evidence
 *   GET  /api/report?period=2026-H2       the PDF (application/pdf) */
#ifndef NDX_MONITOR_INDICATORS_API_H
#define NDX_MONITOR_INDICATORS_API_H

#include <stdbool.h>

#include "ndx/httpd.h"

/* Answers req when its path is one of the above (true), after checking
 * the bearer token against token_sha256; false (resp untouched) for any
 * other path. data_dir is the service's data directory (indicators.db),
 * monitor_db the store's location (monitor.db's path or a connection
 * string). Thread-safe: each request opens the store it needs. */
bool ind_api_handle(const char *data_dir, const char *monitor_db, const char *token_sha256,
		    const struct ndx_http_req *req, struct ndx_http_resp *resp);

#endif
