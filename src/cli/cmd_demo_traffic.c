/* `ndx demo traffic`: a small, bounded stream of realistic exchanges through
 * a running demo federation, so that the operations centre's figures move
 * (docs/monitoring.md). Each call is one an agency's system makes every day
 * to its own gateway: the tax department, social insurance, the vehicle
 * register and enterprise registration reading a citizen from the
 * population registry, each for its registered purpose; and the refusals
 * that really happen: a call without a grant, a purpose the service does
 * not list. Citizens are drawn from the seeded population, never the ones
 * the demo names (their access lists are what the printed lines show).
 * Bounded in time and rate; stops on SIGINT or SIGTERM. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "client.h"
#include "ndx/err.h"

#define PIN_POOL 400
#define PIN_LEN 12
#define SECONDS_DEFAULT 600
#define SECONDS_MAX 86400
#define RATE_DEFAULT 2
#define RATE_MAX 50
#define CITIZENS "VN/GOV/BCA/population/citizens"

static const char traffic_usage[] =
	"usage: ndx demo traffic --dir DIR [--seconds N] [--rate R]\n"
	"\n"
	"Makes exchanges through the running demo federation in DIR for N seconds\n"
	"(default 600, at most 86400), R a second (default 2, at most 50), then\n"
	"prints how they ended: the tax department, social insurance, the vehicle\n"
	"register and enterprise registration reading citizens of the seeded\n"
	"population for their purposes, and about one in ten refused (no grant, a\n"
	"purpose the service does not list), each through the caller's own gateway.\n"
	"The operator's monitoring service shows them within seconds. Never the\n"
	"citizens the demo names. Stops early on Ctrl-C or SIGTERM.\n"
	"  --dir DIR       the demo's directory (required)\n"
	"  --seconds N     how long\n"
	"  --rate R        exchanges a second\n";

/* One kind of call and how often it comes (out of 100). */
struct call_kind {
	int weight;
	const char *client, *service, *purpose;
	int with_subject;
};

static const struct call_kind kinds[] = {
	{ 35, "VN/GOV/TCT/tax", CITIZENS, "tax-administration", 1 },
	{ 25, "VN/GOV/BHXH/insurance", CITIZENS, "social-insurance", 1 },
	{ 15, "VN/GOV/CSGT/vehicles", CITIZENS, "law-enforcement", 1 },
	{ 15, "VN/GOV/BTC/enterprise", CITIZENS, "public-service", 1 },
	/* refused by the caller's gateway: no grant on the vehicle register */
	{ 5, "VN/GOV/TCT/tax", "VN/GOV/CSGT/vehicles/vehicles", NULL, 0 },
	/* refused by the provider's gateway: not one of the service's purposes */
	{ 5, "VN/GOV/BHXH/insurance", CITIZENS, "marketing", 1 },
};

static volatile sig_atomic_t stop_asked;

static void on_signal(int sig)
{
	(void)sig;
	stop_asked = 1;
}

/* The named citizens of federation.json: kept out of the pool. */
static int named(const json_t *fed, const char *pin)
{
	const json_t *acc = json_object_get(json_object_get(json_object_get(fed, "apps"), "id"),
					    "demo_accounts"), *a;
	const char *keys[][2] = { { "try_death", "pin" }, { "try_residence", "pin" },
				  { "try_birth", "mother_pin" } };
	size_t i;

	json_array_foreach(acc, i, a)
		if (json_string_value(json_object_get(a, "pin")) &&
		    strcmp(json_string_value(json_object_get(a, "pin")), pin) == 0)
			return 1;
	for (i = 0; i < sizeof keys / sizeof *keys; i++) {
		const char *v = json_string_value(json_object_get(json_object_get(fed, keys[i][0]),
								  keys[i][1]));
		if (v && strcmp(v, pin) == 0)
			return 1;
	}
	return 0;
}

/* Living citizens of the seeded population registry, from the last ones by
 * number (the first ones have e-ID accounts and are the demo's examples). */
static size_t load_pins(const json_t *fed, char pins[][PIN_LEN + 1], size_t cap)
{
	const json_t *sectors = json_object_get(fed, "sectors"), *s;
	const char *db = NULL;
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;
	size_t i, n = 0;

	json_array_foreach(sectors, i, s)
		if (json_string_value(json_object_get(s, "sector")) &&
		    strcmp(json_string_value(json_object_get(s, "sector")), "population") == 0)
			db = json_string_value(json_object_get(s, "db"));
	if (!db || sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(h, "SELECT pin FROM citizens WHERE deceased_on IS NULL"
			       " ORDER BY pin DESC LIMIT 1000", -1, &st, NULL) != SQLITE_OK) {
		cli_error("cannot read the seeded population (%s)", db ? db : "not in federation.json");
		sqlite3_close(h);
		return 0;
	}
	while (n < cap && sqlite3_step(st) == SQLITE_ROW) {
		const char *pin = (const char *)sqlite3_column_text(st, 0);

		if (pin && strlen(pin) == PIN_LEN && !named(fed, pin))
			memcpy(pins[n++], pin, PIN_LEN + 1);
	}
	sqlite3_finalize(st);
	sqlite3_close(h);
	return n;
}

static const char *consumer_url(const json_t *fed, const char *client)
{
	const json_t *g;
	size_t i, n;

	json_array_foreach(json_object_get(fed, "gateways"), i, g) {
		const char *m = json_string_value(json_object_get(g, "member"));

		n = m ? strlen(m) : 0;
		if (n && strncmp(client, m, n) == 0 && client[n] == '/')
			return json_string_value(json_object_get(g, "consumer_url"));
	}
	return NULL;
}

static const struct call_kind *pick(void)
{
	int r = rand() % 100, acc = 0;

	for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) {
		acc += kinds[i].weight;
		if (r < acc)
			return &kinds[i];
	}
	return &kinds[0];
}

struct tally {
	long sent, ok, refused, failed;
};

static void one_call(const json_t *fed, const char pins[][PIN_LEN + 1], size_t npins,
		     struct tally *t)
{
	const struct call_kind *k = pick();
	const char *base = consumer_url(fed, k->client), *pin = pins[(size_t)rand() % npins];
	char url[1024], h_client[256], h_purpose[128], h_subject[64], err[256];
	const char *headers[4] = { h_client, NULL, NULL, NULL };
	struct cli_http_request req = { .method = "GET", .url = url, .headers = headers,
					.timeout_s = 10 };
	struct cli_http_response resp = { 0 };
	size_t h = 1;

	if (!base)
		return;
	snprintf(url, sizeof url, "%s/r1/%s/%s", base, k->service,
		 strstr(k->service, "vehicles") ? "29A12345" : pin);
	snprintf(h_client, sizeof h_client, "X-Road-Client: %s", k->client);
	if (k->purpose) {
		snprintf(h_purpose, sizeof h_purpose, "Ndx-Purpose: %s", k->purpose);
		headers[h++] = h_purpose;
	}
	if (k->with_subject) {
		snprintf(h_subject, sizeof h_subject, "Ndx-Subject: %s", pin);
		headers[h++] = h_subject;
	}
	t->sent++;
	if (cli_http(&req, &resp, err, sizeof err) != NDX_OK)
		t->failed++;
	else if (resp.status >= 200 && resp.status < 300)
		t->ok++;
	else
		t->refused++;
	cli_http_response_free(&resp);
}

static int traffic(const char *dir, long seconds, long rate)
{
	char path[4096];
	char (*pins)[PIN_LEN + 1] = calloc(PIN_POOL, sizeof *pins);
	json_t *fed;
	json_error_t jerr;
	struct tally t = { 0 };
	struct timespec start, now, gap = { 0, 1000000000L / rate };
	size_t npins;

	if (!pins) {
		cli_error("out of memory");
		return CLI_EXIT_FAIL;
	}
	snprintf(path, sizeof path, "%s/federation.json", dir);
	if (!(fed = json_load_file(path, 0, &jerr))) {
		cli_error("no running demo federation in %s (%s)", dir, jerr.text);
		free(pins);
		return CLI_EXIT_FAIL;
	}
	if (json_is_true(json_object_get(fed, "stopped"))) {
		cli_error("the demo federation in %s is stopped: ndx demo up --dir %s", dir, dir);
		json_decref(fed);
		free(pins);
		return CLI_EXIT_FAIL;
	}
	npins = load_pins(fed, pins, PIN_POOL);
	if (npins == 0) {
		json_decref(fed);
		free(pins);
		return CLI_EXIT_FAIL;
	}
	srand((unsigned)time(NULL));
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	printf("ndx demo: traffic for %ld s at %ld a second through %s\n", seconds, rate, dir);
	fflush(stdout);
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (stop_asked || now.tv_sec - start.tv_sec >= seconds)
			break;
		one_call(fed, (const char(*)[PIN_LEN + 1])pins, npins, &t);
		while (nanosleep(&gap, &gap) != 0 && errno == EINTR && !stop_asked)
			;
		gap.tv_sec = 0;
		gap.tv_nsec = 1000000000L / rate;
	}
	printf("ndx demo: traffic done: %ld exchanges, %ld answered, %ld refused, %ld failed\n",
	       t.sent, t.ok, t.refused, t.failed);
	json_decref(fed);
	free(pins);
	return CLI_EXIT_OK;
}

int cli_demo_traffic(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "seconds", required_argument, NULL, 's' },
		{ "rate", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL;
	long seconds = SECONDS_DEFAULT, rate = RATE_DEFAULT;
	char *end;
	int c;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			dir = optarg;
			break;
		case 's':
		case 'r':
			errno = 0;
			if (c == 's')
				seconds = strtol(optarg, &end, 10);
			else
				rate = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end ||
			    (c == 's' && (seconds < 1 || seconds > SECONDS_MAX)) ||
			    (c == 'r' && (rate < 1 || rate > RATE_MAX)))
				return cli_usage_error(traffic_usage, "%s must be a whole number from "
						       "1 to %d, not '%s'",
						       c == 's' ? "--seconds" : "--rate",
						       c == 's' ? SECONDS_MAX : RATE_MAX, optarg);
			break;
		case 'h':
			fputs(traffic_usage, stdout);
			return CLI_EXIT_OK;
		default:
			return cli_bad_option(traffic_usage, argv);
		}
	}
	if (optind < argc)
		return cli_usage_error(traffic_usage, "unexpected argument '%s'", argv[optind]);
	if (!dir || !dir[0])
		return cli_usage_error(traffic_usage, "demo traffic needs --dir DIR");
	return traffic(dir, seconds, rate);
}
