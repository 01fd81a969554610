/* The gateway's Prometheus metrics (metrics.c). */
#ifndef NDX_GATEWAY_METRICS_H
#define NDX_GATEWAY_METRICS_H

#include <time.h>

#include "confstate.h"
#include "errors.h"
#include "ndx/msglog.h"

enum gw_role { GW_ROLE_CONSUMER, GW_ROLE_PROVIDER };

void gw_metrics_begin(void);
/* Counts one finished exchange; service may be NULL (unknown). */
void gw_metrics_end(enum gw_role role, const char *service, int status, double seconds);
/* gw_metrics_end for an exchange begun at t0 (CLOCK_MONOTONIC) whose answer
 * is in resp (no answer counts as 500). */
struct ndx_http_resp;
void gw_metrics_end_answer(enum gw_role role, const char *service,
			   const struct ndx_http_resp *resp, const struct timespec *t0);
/* Counts a refusal this gateway made. */
void gw_metrics_error(enum gw_reason r, enum gw_err_side side);
/* Counts a provider gateway's refusal passed on to a client. */
void gw_metrics_relayed_error(const char *type);
/* Exchanges being handled now, on both ports. */
long gw_metrics_in_flight(void);
/* Which allocator serves malloc (main.c finds out at start), for
 * ndx_gateway_allocator_info; "glibc" until told otherwise. */
void gw_metrics_set_allocator(const char *name, const char *version);
/* Renders the Prometheus text (malloc'd; NULL when out of memory): the
 * exchanges and refusals counted here, the held conf's version, age and
 * time left, whether the message log takes records and its head (log may
 * be NULL), the signer's counts, the allocator, and the HTTP figures of
 * every daemon (ndx_httpd_metrics). docs/operations.md says what each
 * means. */
char *gw_metrics_render(const struct gw_view *v, struct ndx_msglog *log, time_t now);
void gw_metrics_free_all(void);

#endif
