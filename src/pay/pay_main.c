/* ndx-pay: the payment members of the exchange, options and wiring only.
 * `ndx-pay treasury` is the State Treasury's payment platform
 * (treasury.c), `ndx-pay bank` a demo member bank (bank.c); each sits
 * behind its member's own gateway. Overview: docs/payment.md. */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bank.h"
#include "ndx/args.h"
#include "ndx/err.h"
#include "ndx/httpd.h"
#include "ndx/key.h"
#include "ndx/vietqr.h"
#include "treasury.h"

#define PROG "ndx-pay"

static const char HELP[] =
	"usage: " PROG " treasury --db FILE --bin BIN --account ACCOUNT --account-name NAME\n"
	"                        --bank BIN=PUBLIC_KEY.pem [--bank …] [--listen ADDR:PORT]\n"
	"       " PROG " bank --bin BIN --name NAME --key KEY.pem --gateway URL --client SUBSYSTEM\n"
	"                    --receipts-service SERVICE --customer-account ACCOUNT\n"
	"                    [--registry URL] [--listen ADDR:PORT]\n"
	"       " PROG " --help\n"
	"\n"
	"The payment members of the exchange (docs/payment.md).\n"
	"\n"
	"treasury: the State Treasury's payment platform. POST /orders makes the\n"
	"  payment order of a procedure's fee (Ndx-Subject: the payer), paid into\n"
	"  the collection account --bin/--account (holder --account-name) under the\n"
	"  order's reference; GET /orders/{id} shows it to its payer; POST /receipts\n"
	"  takes a bank's signed receipt, verified with that bank's --bank key (a\n"
	"  forged one is refused 403, a repeated one changes nothing, a wrong\n"
	"  amount is refused 409); GET /reconciliation?date=YYYY-MM-DD sums the\n"
	"  day's payments per agency. Listens on 127.0.0.1:4700 by default.\n"
	"\n"
	"bank: a demo bank. GET /pay?qr=PAYLOAD shows the transfer a VietQR code\n"
	"  asks for; POST /pay?qr=PAYLOAD pays it from --customer-account: a receipt\n"
	"  signed with --key (make one with `ndx keygen`) goes to the treasury's\n"
	"  --receipts-service through the bank's gateway --gateway as --client.\n"
	"  A marketplace invoice's code (its reference starts MK) is paid to the\n"
	"  registry instead: the receipt goes to --registry's POST /market/receipts,\n"
	"  which marks the invoice paid; without --registry such a code is refused.\n"
	"  Listens on 127.0.0.1:4710 by default.\n"
	"\n"
	"Both print \"" PROG ": listening on http://ADDR:PORT\" once ready and stop\n"
	"on SIGINT or SIGTERM.\n";

static int serve(ndx_http_handler handler, void *ctx, const char *listen)
{
	char addr[64];
	uint16_t port;
	const char *why = NULL;
	struct ndx_httpd *srv = NULL;
	sigset_t sigs;
	int sig;

	if (ndx_args_listen(listen, addr, sizeof addr, &port, &why) != NDX_OK) {
		fprintf(stderr, PROG ": --listen \"%s\": %s\n", listen, why);
		return 2;
	}
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	struct ndx_httpd_config hcfg = { .name = PROG, .bind_addr = addr, .port = port,
					 .threads = 4, .max_body = 65536, .handler = handler,
					 .ctx = ctx, .access_log = 1 };
	if (ndx_httpd_start(&hcfg, &srv) != NDX_OK)
		return 1;
	fprintf(stderr, PROG ": listening on http://%s:%u\n", addr, (unsigned)ndx_httpd_port(srv));
	if (sigwait(&sigs, &sig) == 0)
		fprintf(stderr, PROG ": %s received, stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
	ndx_httpd_stop(srv);
	return 0;
}

static int usage_error(const char *msg)
{
	fprintf(stderr, PROG ": %s\n%s", msg, HELP);
	return 2;
}

/* "BIN=FILE" into a bank of cfg. */
static int add_bank(struct treasury_config *cfg, const char *arg)
{
	char err[256];
	int rc;

	if (cfg->nbanks == TREASURY_BANKS_MAX)
		return usage_error("--bank: too many banks");
	rc = ndx_receipt_bank_parse(arg, &cfg->banks[cfg->nbanks], err, sizeof err);
	if (rc == NDX_EINVAL)
		return usage_error("--bank: expected BIN=PUBLIC_KEY.pem (a 6-digit BIN)");
	if (rc != NDX_OK) {
		fprintf(stderr, PROG ": --bank: %s\n", err);
		return 1;
	}
	cfg->nbanks++;
	return 0;
}

/* The collection account must make a valid VietQR. */
static int check_account(const char *bin, const char *account)
{
	struct ndx_vietqr q = { 0 };
	char out[NDX_VIETQR_PAYLOAD_MAX + 1];
	const char *why = NULL;

	if (strlen(bin) >= sizeof q.bin || strlen(account) >= sizeof q.account) {
		fprintf(stderr, PROG ": --bin is 6 digits, --account 1 to 19 letters and digits\n");
		return 2;
	}
	snprintf(q.bin, sizeof q.bin, "%s", bin);
	snprintf(q.account, sizeof q.account, "%s", account);
	if (ndx_vietqr_encode(&q, out, sizeof out, &why) != NDX_OK) {
		fprintf(stderr, PROG ": %s\n", why);
		return 2;
	}
	return 0;
}

static int cmd_treasury(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "bin", required_argument, NULL, 'b' },
		{ "account", required_argument, NULL, 'a' },
		{ "account-name", required_argument, NULL, 'n' },
		{ "bank", required_argument, NULL, 'k' },
		{ "listen", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct treasury_config cfg = { 0 };
	struct treasury *t = NULL;
	const char *listen = "127.0.0.1:4700";
	int c, rc = 2;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': cfg.db_path = optarg; break;
		case 'b': cfg.bin = optarg; break;
		case 'a': cfg.account = optarg; break;
		case 'n': cfg.account_name = optarg; break;
		case 'k':
			if ((rc = add_bank(&cfg, optarg)))
				goto out;
			rc = 2;
			break;
		case 'l': listen = optarg; break;
		case 'h': fputs(HELP, stdout); rc = 0; goto out;
		default: fputs(HELP, stderr); goto out;
		}
	}
	if (optind != argc || !cfg.db_path || !cfg.bin || !cfg.account || !cfg.account_name ||
	    !*cfg.account_name) {
		rc = usage_error("treasury: --db, --bin, --account and --account-name are required");
		goto out;
	}
	if ((rc = check_account(cfg.bin, cfg.account)))
		goto out;
	rc = 1;
	if (treasury_open(&cfg, &t) == NDX_OK)
		rc = serve(treasury_handle, t, listen);
out:
	treasury_close(t);
	for (size_t i = 0; i < cfg.nbanks; i++)
		ndx_key_free(cfg.banks[i].key);
	return rc;
}

static int cmd_bank(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "bin", required_argument, NULL, 'b' },
		{ "name", required_argument, NULL, 'n' },
		{ "key", required_argument, NULL, 'k' },
		{ "gateway", required_argument, NULL, 'g' },
		{ "client", required_argument, NULL, 'c' },
		{ "receipts-service", required_argument, NULL, 'r' },
		{ "customer-account", required_argument, NULL, 'a' },
		{ "registry", required_argument, NULL, 'R' },
		{ "listen", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct bank_config cfg = { 0 };
	const char *listen = "127.0.0.1:4710", *key_path = NULL;
	struct ndx_key *key = NULL;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'b': cfg.bin = optarg; break;
		case 'n': cfg.name = optarg; break;
		case 'k': key_path = optarg; break;
		case 'g': cfg.gateway = optarg; break;
		case 'c': cfg.client = optarg; break;
		case 'r': cfg.receipts_service = optarg; break;
		case 'a': cfg.customer_account = optarg; break;
		case 'R': cfg.registry = optarg; break;
		case 'l': listen = optarg; break;
		case 'h': fputs(HELP, stdout); return 0;
		default: fputs(HELP, stderr); return 2;
		}
	}
	if (optind != argc || !cfg.bin || !cfg.name || !key_path || !cfg.gateway || !cfg.client ||
	    !cfg.receipts_service || !cfg.customer_account)
		return usage_error("bank: every option but --registry and --listen is required");
	if (strlen(cfg.bin) != 6 || strspn(cfg.bin, "0123456789") != 6)
		return usage_error("bank: --bin is the bank's 6-digit BIN");
	if (strncmp(cfg.gateway, "http://", 7) != 0 && strncmp(cfg.gateway, "https://", 8) != 0)
		return usage_error("bank: --gateway is an http:// or https:// URL");
	if (cfg.registry && ((strncmp(cfg.registry, "http://", 7) != 0 &&
			      strncmp(cfg.registry, "https://", 8) != 0) ||
			     cfg.registry[strlen(cfg.registry) - 1] == '/'))
		return usage_error("bank: --registry is an http:// or https:// URL without a "
				   "trailing /");
	if (ndx_key_load(key_path, &key) != NDX_OK) {
		fprintf(stderr, PROG ": --key %s: cannot read the private key\n", key_path);
		return 1;
	}
	cfg.key = key;
	rc = serve(bank_handle, &cfg, listen);
	ndx_key_free(key);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "treasury") == 0)
		return cmd_treasury(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "bank") == 0)
		return cmd_bank(argc - 1, argv + 1);
	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		fputs(HELP, stdout);
		return 0;
	}
	return usage_error(argc < 2 ? "a command is required" : "unknown command");
}
