/* CPU an operational record costs the gateway (src/gateway/opmon.c): the
 * record queued by gw_opmon_record and inserted by the store's writer
 * thread, in batches of GW_OPMON_BATCH as under load, on SQLite (WAL,
 * synchronous = NORMAL). The whole process's CPU, user and system, divided
 * by the records; ROUNDS fresh stores one after the other.
 *
 *   opmon_bench DIR RECORDS [ROUNDS]
 *
 * DIR's opmon-bench.db* are replaced. Built against an older tree, the same
 * source measures the store as it was (bench/README.md "The operational
 * records' unused index"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "opmon.h"
#include "ndx/args.h"
#include "ndx/err.h"

static double process_cpu(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void remove_store(const char *path)
{
	static const char *const suffix[] = { "", "-wal", "-shm" };
	char p[4200];

	for (size_t i = 0; i < sizeof suffix / sizeof *suffix; i++) {
		snprintf(p, sizeof p, "%s%s", path, suffix[i]);
		unlink(p);
	}
}

int main(int argc, char **argv)
{
	const struct gw_opmon_options opt = { .retention_s = GW_OPMON_RETENTION_S_DEFAULT,
					      .max_records = GW_OPMON_MAX_RECORDS_DEFAULT,
					      .queue_cap = GW_OPMON_QUEUE_DEFAULT };
	unsigned long long n, rounds = 3;
	char path[4096], err[512];

	if (argc < 3 || argc > 4 || ndx_args_uint(argv[2], 1, 1000000000, &n) != NDX_OK ||
	    (argc == 4 && ndx_args_uint(argv[3], 1, 1000000000, &rounds) != NDX_OK)) {
		fputs("usage: opmon_bench DIR RECORDS [ROUNDS]\n", stderr);
		return 2;
	}
	snprintf(path, sizeof path, "%s/opmon-bench.db", argv[1]);
	for (unsigned long long r = 1; r <= rounds; r++) {
		struct gw_opmon *m = NULL;
		int64_t t = gw_opmon_now_ms();
		double c0;

		remove_store(path);
		if (gw_opmon_open(path, &opt, &m, err, sizeof err) != NDX_OK) {
			fprintf(stderr, "opmon_bench: %s\n", err);
			return 1;
		}
		c0 = process_cpu();
		for (unsigned long long i = 0; i < n; i++) {
			struct gw_opmon_in in = {
				.role = GW_OPMON_PROVIDER,
				.message_id = "01a2469d-4c6f-762f-a43e-9a1b20d248cc",
				.client = "VN/GOV/BTC/tax",
				.service = "VN/GOV/BCA/population/citizens",
				.client_gateway = "VN/GOV/BTC/gw1",
				.service_gateway = "VN/GOV/BCA/gw1",
				.method = "GET",
				.path_template = "/citizens/{id}",
				.request_in = t + (int64_t)i, .request_out = t + (int64_t)i,
				.response_in = t + (int64_t)i + 1, .response_out = t + (int64_t)i + 1,
				.request_size = 0, .response_size = 78,
				.success = true, .status = 200,
				.peer_ms = GW_OPMON_NONE, .provider_ms = 1,
				.purpose = "tax-assessment",
			};

			gw_opmon_record(m, &in);
			/* As under load: the writer takes full batches. */
			if ((i + 1) % GW_OPMON_BATCH == 0 && gw_opmon_flush(m) != NDX_OK)
				return 1;
		}
		if (gw_opmon_flush(m) != NDX_OK)
			return 1;
		printf("round %llu: %.2f µs CPU a record (%llu records)\n", r,
		       (process_cpu() - c0) * 1e6 / (double)n, n);
		gw_opmon_close(m);
	}
	remove_store(path);
	return 0;
}
