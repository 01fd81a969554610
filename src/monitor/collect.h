/* The collector of the monitoring service: every interval, the signed global
 * configuration from the registry (verified with the anchor), then, for
 * every gateway it lists, the operational records that gateway holds past
 * the last one kept, asked through the service's own gateway as its
 * monitoring client (GET /o1/{gateway}/records?after=SEQ, docs/protocol.md
 * "Operational monitoring"), each page kept in one transaction. A gateway
 * that cannot be reached or refuses is recorded as down with the reason; the
 * others are collected regardless. Then, from every gateway, the personal
 * reads its message log holds past the last one kept (GET
 * /o1/{gateway}/accesses?after=SEQ), the misuse detector over them
 * (misuse.h), a case for each new finding (cases.h), and the inclusion
 * proofs of the cases' reads (GET /o1/{gateway}/proof?seq=N), each checked
 * against the gateway's key in the verified configuration before it is
 * kept. Then, from every registry's measures service the configuration
 * lists (a service whose code is "measures"), the four measures of its
 * reconciliation runs past the last one kept (GET /r1/{service}?after=RUN,
 * mmeasures.h), every measures_interval_s. One thread. */
#ifndef NDX_MONITOR_COLLECT_H
#define NDX_MONITOR_COLLECT_H

#include "mstore.h"

struct ndx_anchor;
struct collector;

#define COLLECT_REGISTRIES_MAX 8

struct collector_config {
	struct mstore *st;
	const struct ndx_anchor *anchor; /* the instance's trust anchor */
	/* Registry nodes to fetch the configuration from, the one that answered
	 * last first, then each other in turn (docs/scale.md); none: the
	 * anchor's registry URL. */
	const char *const *registry_urls;
	size_t n_registry_urls;     /* 0 .. COLLECT_REGISTRIES_MAX */
	const char *gateway_url;    /* the service's own gateway's consumer port */
	const char *client;         /* the monitoring subsystem it speaks as */
	unsigned interval_s;        /* between rounds; 0 = no thread (tests call rounds) */
	unsigned retention_days;    /* records older than this are pruned */
	unsigned page;              /* records asked per request (1..10000) */
	/* Reads newer than this many seconds are analysed at a later round,
	 * so that a procedure the portal opened just before its officer's
	 * read has time to arrive (POST /api/procedures) before the detector
	 * looks for it. */
	unsigned analysis_delay_s;
	/* The registries' measures are read at the first round, then at the
	 * first round this many seconds after the last read: each read is an
	 * exchange through the platform (counted in its figures), and a
	 * registry reconciles daily or monthly, not every round. */
	unsigned measures_interval_s;
};

/* Starts the collector (a thread when interval_s > 0; strings copied).
 * NDX_OK, NDX_ENOMEM, NDX_EINVAL. */
int collector_start(const struct collector_config *cfg, struct collector **out);
/* Stops the thread after the round in flight; accepts NULL. */
void collector_stop(struct collector *c);

/* The outcome of the last round, for /healthz and /metrics. */
struct collector_stats {
	long long rounds, records, bad_records;
	/* misuse detection: personal reads kept and refused, collections of
	 * them that failed, findings, cases opened, proofs kept, proofs
	 * given up (their error kept with the case), analyses that failed */
	long long reads, bad_reads, reads_failed, findings, cases_opened, proofs, proofs_failed,
		analyses_failed;
	/* the registries' measures (mmeasures.h): table rows kept and runs
	 * refused; measures services listed and those that could not be read */
	long long measures, bad_measures;
	unsigned registries, registries_down;
	unsigned gateways, gateways_down;
	unsigned long long conf_version;  /* 0 = none held yet */
	long long last_round_ms;          /* 0 = none yet */
	char conf_error[256];             /* why the last configuration fetch failed, "" */
};
void collector_stats(struct collector *c, struct collector_stats *out);

/* The name of member and the title of service as the configuration held
 * names them, for sentences a citizen reads; each its id when the
 * configuration names none or none is held yet (or ctx, the collector, is
 * NULL). Thread-safe. The shape of cases.h's cases_namer. */
void collector_names(void *ctx, const char *member, const char *service, char *member_name,
		     size_t mcap, char *service_title, size_t scap);

#endif
