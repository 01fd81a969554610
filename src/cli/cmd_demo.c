/* `ndx demo up|down|run`: a complete local federation for trying ndx out
 * (what `make demo` starts). up initialises and starts ndx-registry as a
 * background process, fills it through its real management API with the
 * agencies that hold the national registries (idempotently: what exists is
 * left alone), gives each agency a gateway identity (Ed25519 signing key,
 * TLS certificate from the registry's CA, as `ndx keygen` and `ndx gateway
 * add` make them) and a gateway configuration, seeds synthetic data once
 * into DIR/sector and serves each agency's registry with its own
 * `ndx-sector serve` behind its own gateway (OpenAPI documents registered
 * with the services, bulk reads only where a flow of the demo needs them),
 * registers the national e-ID as the id provider whose key the gateways
 * check citizens' ID tokens with, publishes two datasets in the data
 * marketplace and has the demo's two enterprises (a bank, a logistics
 * company) negotiate agreements on them through the registry's Dataspace
 * Protocol endpoints, each message signed with its sender's gateway key
 * (demo_market), runs the consent service, the e-ID and
 * the citizen portal, fetches and verifies the signed configuration, leaves in
 * the portal an officer's read of the printed citizen (driving the portal's
 * and the e-ID's HTTP interfaces as a browser would), and records
 * everything - URLs, paths, keys, pids - in DIR/federation.json
 * ("ndx-federation/1"), which down reads to stop exactly the processes it
 * lists (portal and e-ID, then gateways, then sectors and the consent
 * service, then the registry). run is up, print what to try, wait for
 * Ctrl-C or SIGTERM, down. id-token signs a demo citizen in at the e-ID and
 * writes their ID token for `ndx subject accesses`. Ports come from
 * --port-base (see the usage). The sectors listen on Unix domain sockets in
 * DIR/sector (0700), which only the user running the demo - its gateways -
 * can open; every directory the demo makes is 0700 and every file 0600
 * (umask 077, inherited by the daemons), and federation.json names the
 * files that hold the demo's password rather than the password
 * (docs/security.md T33, T34). Overview: README.md, docs/gateway.md,
 * docs/portal.md. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "cli.h"
#include "client.h"
#include "federation_apply.h"
#include "federation_plan.h"
#include "ndx/conf.h"
#include "ndx/encode.h"
#include "ndx/err.h"
#include "ndx/file.h"
#include "ndx/hash.h"
#include "ndx/id.h"
#include "ndx/key.h"
#include "ndx/negmsg.h"
#include "ndx/pin.h"
#include "ndx/pki.h"
#include "ndx/timefmt.h"
#include "ndx/unixsock.h"

#define FEDERATION_FORMAT "ndx-federation/1"
#define FEDERATION_FILE "federation.json"
#define FEDERATION_MAX (1024u * 1024u)
#define INSTANCE "VN"
#define DEFAULT_PORT 4400u
#define READY_TIMEOUT_MS 15000
#define STOP_TIMEOUT_MS 10000
#define KILL_TIMEOUT_MS 2000
#define POLL_MS 100
#define MAX_PROCS 32
/* Ports above --port-base: consumer ports, gateway ports, test services. */
#define CONSUMER_OFFSET 10u
#define GATEWAY_OFFSET 20u
/* 30-36 were the sectors' ports; they now listen on Unix sockets. */
/* The eleventh member's gateway (the logistics company): 10-29 are full. */
#define EXTRA_CONSUMER_OFFSET 56u
#define EXTRA_GATEWAY_OFFSET 57u
#define CONSENT_OFFSET 40u
#define ID_OFFSET 45u
#define PORTAL_OFFSET 50u
#define MONITOR_OFFSET 55u
#define TREASURY_OFFSET 38u
#define BANK_OFFSET 39u
/* Each gateway's web console (docs/gateway-console.md), in the members'
 * order: PORT+60..70. */
#define GW_CONSOLE_OFFSET 60u
#define MONITOR_INTERVAL_S "5"
/* The registries' measures: read every 30 s, so that a reconciliation shows
 * in the operations centre soon (a production service reads them hourly). */
#define MONITOR_MEASURES_S "30"
/* What `run` (make demo) starts: bounded, it stops by itself. */
#define TRAFFIC_SECONDS "1800"
#define TRAFFIC_RATE "2"
#define SECTOR_CITIZENS "2000"
#define DEMO_ACCOUNTS "50"
#define DEMO_PASSWORD "ndx-demo-2026"
#define SECTOR_SEED "1"
#define SECTOR_KEY_MAX 32
#define PORT_SPAN 71u
#define GW_CODE "gw1"
#define CONF_REFRESH_S 10
#define BACKEND_TIMEOUT_MS 10000
#define GATEWAY_THREADS 4
/* The exchanges run prints: grants of the demo; the citizen and the
 * enterprise are the first of the seeded data. */
#define TRY_CLIENT "VN/GOV/TCT/tax"
#define TRY_SERVICE "VN/GOV/BCA/population/citizens"
#define TRY_ENTERPRISE_SERVICE "VN/GOV/BTC/enterprise/enterprises"
#define TRY_PURPOSE "tax-administration"
/* The procedure of that citizen an officer opens in the portal at up, so
 * that their access list shows an officer's read too: a residence change,
 * opened by BCA's officer (officers[1]). */
#define DEMO_OFFICER 1
#define DEMO_PROC_KIND "residence-change"
#define DEMO_PROC_PROVINCE "001"
#define DEMO_PROC_COMMUNE "Phường Hoàn Kiếm"
#define DEMO_PROC_ADDRESS "Số 12 phố Tràng Tiền"
#define DEMO_PROC_REASON "Hồ sơ mẫu của bản demo ndx"
/* Where `ndx demo id-token` writes the citizen's ID token in DIR. */
#define ID_TOKEN_FILE "citizen.id-token"
/* The e-ID's subsystem, behind BCA's gateway (members below). */
#define EID_SUBSYSTEM "eid"
#define EID_CLIENT "VN/GOV/BCA/" EID_SUBSYSTEM
/* How often the subscribers pull their inboxes (docs/events.md). */
#define EVENTS_POLL_MS "500"
#define NAME_REGISTRY "ndx-registry"
#define NAME_GATEWAY "ndx-gateway"
#define NAME_CONSENT "ndx-consent"
#define NAME_SECTOR "ndx-sector"
#define NAME_ID "ndx-id"
#define NAME_PORTAL "ndx-portal"
#define NAME_MONITOR "ndx-monitor"
#define NAME_PAY "ndx-pay"
/* Fee payment (docs/payment.md): the State Treasury's collection account
 * at the demo bank, and the demo bank's customer who pays. */
#define BANK_MEMBER "VN/COM/0100000099"
#define BANK_CLIENT BANK_MEMBER "/payments"
#define BANK_NAME "Ngân hàng Thử nghiệm"
#define BANK_BIN "970499"
#define TREASURY_ACCOUNT "7111000000001"
#define TREASURY_ACCOUNT_NAME "KHO BAC NHA NUOC"
#define BANK_CUSTOMER_ACCOUNT "0123456789"
#define ORDERS_SERVICE "VN/GOV/KBNN/treasury/orders"
#define RECEIPTS_SERVICE "VN/GOV/KBNN/treasury/receipts"
/* The data marketplace (docs/marketplace.md): two enterprises (class COM)
 * buy the population registry's address check and the enterprise
 * registry's feed; the bank's customer desk is one of them. */
#define BANK_MARKET_CLIENT BANK_MEMBER "/customers"
#define LOGISTICS_MEMBER "VN/COM/0100000088"
#define LOGISTICS_NAME "Công ty Giao vận Thử nghiệm"
#define LOGISTICS_CLIENT LOGISTICS_MEMBER "/delivery"
#define MARKET_PURPOSE "customer-verification"
#define VERIFY_SERVICE "VN/GOV/BCA/population/verify"
#define ENTERPRISES_SERVICE "VN/GOV/BTC/enterprise/enterprises"

static const char demo_usage[] =
	"usage: ndx demo up --dir DIR [--port-base PORT] [--federation FILE]\n"
	"       ndx demo down --dir DIR\n"
	"       ndx demo run --dir DIR [--port-base PORT] [--federation FILE]\n"
	"       ndx demo id-token --dir DIR [--pin PIN] [--out FILE]\n"
	"       ndx demo accounts --dir DIR\n"
	"       ndx demo traffic --dir DIR [--seconds N] [--rate R]\n"
	"\n"
	"A local federation of the Vietnamese agencies that hold the national\n"
	"registries (BCA population, BTP civil status, BTC enterprises, TCT tax,\n"
	"BHXH social insurance, BNNMT land, CSGT vehicles), the Government Office\n"
	"(VPCP: the portal and the consent service), the State Treasury (KBNN: fee\n"
	"payment orders), a demo bank (" BANK_MEMBER ") and a demo logistics company\n"
	"(" LOGISTICS_MEMBER "), both enterprises buying in the data marketplace, run\n"
	"from DIR.\n"
	"  up     initialise (first time) and start ndx-registry on 127.0.0.1:PORT;\n"
	"         seed synthetic data into DIR/sector (first time: ndx-sector seed\n"
	"         --citizens " SECTOR_CITIZENS " --seed " SECTOR_SEED ") and serve each agency's\n"
	"         registry with ndx-sector; start the consent service VN/GOV/VPCP/consent\n"
	"         (ndx-consent); make the registry match the federation file (members,\n"
	"         subsystems, services with their OpenAPI documents, grants, event\n"
	"         types, subscriptions, the monitoring client; --federation) through\n"
	"         its API as `ndx federation apply` does, so that a later up puts back\n"
	"         what was changed in them since; register the consent service and the\n"
	"         e-ID as id provider (its issuer URL and signing key, for the gateways\n"
	"         to check citizens' ID tokens); give every agency a gateway (signing key, TLS\n"
	"         certificate from the registry's CA, DIR/gateways/CODE/gateway.json)\n"
	"         and start it, each provider also serving its built-in access list\n"
	"         ('who read my data') to the portal; start the national e-ID ndx-id\n"
	"         (sign-in accounts for the first " DEMO_ACCOUNTS " citizens, password " DEMO_PASSWORD ")\n"
	"         and the citizen portal ndx-portal (its officers: same password; the\n"
	"         data marketplace's pages, with a registry member credential for\n"
	"         each officer's agency in DIR/portal/market-credentials);\n"
	"         start the operator's monitoring service ndx-monitor (the\n"
	"         configuration's monitoring client VN/GOV/VPCP/monitoring, collecting\n"
	"         every gateway's operational records through the exchange, and every\n"
	"         30 s each registry's four measures from its measures service, granted\n"
	"         to it alone), shown in\n"
	"         the portal's operations centre PORTAL/ops to its two officials, an\n"
	"         operator and the tax department's (e-ID accounts, same password),\n"
	"         who also manage officers and officials at PORTAL/admin/officers and\n"
	"         sign in to the gateways' web consoles (on for every gateway, at\n"
	"         PORT+60..70, docs/gateway-console.md);\n"
	"         start the State Treasury's payment platform and the demo bank\n"
	"         (ndx-pay treasury, ndx-pay bank, docs/payment.md): a procedure's fee\n"
	"         is paid by VietQR or at the bank before the officers see it;\n"
	"         publish, as BCA and BTC, the address check (population/verify) and the\n"
	"         business-registry feed (enterprise/enterprises) in the data marketplace\n"
	"         for enterprises, and negotiate, as the bank and the logistics company,\n"
	"         an agreement on each through the registry's Dataspace Protocol\n"
	"         endpoints to FINALIZED, each message signed with its sender's gateway\n"
	"         signing key (their member credentials in DIR/market, each\n"
	"         negotiation's chain of messages in DIR/market/PROVIDERPID.chain.json;\n"
	"         a later up negotiates only what is not in force);\n"
	"         fetch and verify the signed configuration into DIR/conf; the first time,\n"
	"         sign the printed citizen in to the portal, file a change of residence\n"
	"         for them and have BCA's officer open it (a read of their record the\n"
	"         access list shows with the officer and the procedure); describe it\n"
	"         all in DIR/federation.json;\n"
	"         logs in DIR/logs; refuses while DIR's federation is running or a\n"
	"         port is taken; a later up reuses keys, certificates and data\n"
	"  down   stop the processes DIR/federation.json lists (portal and e-ID,\n"
	"         then gateways, then sectors, the consent service, the treasury and\n"
	"         the bank, then the\n"
	"         registry; SIGTERM, after 10 s SIGKILL); succeeds when nothing runs\n"
	"  run    up, print what to try (curl lines making real exchanges and the\n"
	"         access list showing them), wait for Ctrl-C or SIGTERM (or the\n"
	"         death of its parent, e.g. make killed), then down\n"
	"  id-token  sign the citizen PIN (default: the printed one) in at the running\n"
	"         demo's e-ID, with the portal's OpenID Connect client, and write their\n"
	"         ID token to FILE (default DIR/" ID_TOKEN_FILE ", mode 0600) for\n"
	"         `ndx subject accesses --id-token-file`; it expires in minutes\n"
	"  accounts  list the demo's sign-in accounts from DIR/federation.json: the\n"
	"         citizens at the e-ID (number and password; the portal's sign-in),\n"
	"         the officers at PORTAL/officer, the operations centre's officials\n"
	"         at PORTAL/ops (who also manage officers and officials at\n"
	"         PORTAL/admin/officers), the registry console's officials at\n"
	"         REGISTRY/console/ (docs/console.md), each gateway's console\n"
	"         (docs/gateway-console.md), and the file that holds their password\n"
	"  traffic  make realistic exchanges through the running federation for a\n"
	"         while, so that the monitoring service's figures move (`ndx demo\n"
	"         traffic --help`); run starts one for " TRAFFIC_SECONDS " s at " TRAFFIC_RATE " a second\n"
	"  --dir DIR         the demo's directory (created if missing)\n"
	"  --federation FILE (up, run) the federation file to apply (format:\n"
	"                    docs/federation-file.md; default: deploy/demo/\n"
	"                    federation.json of the source tree ndx was built from);\n"
	"                    each of its members must be one the demo runs a gateway\n"
	"                    for, each service one its sector registry, the built-in\n"
	"                    access list or the treasury answers\n"
	"  --port-base PORT  the registry's port (default: the port DIR's registry was\n"
	"                    first set up with, else 4400); then, in the order BCA,\n"
	"                    BTP, BTC, TCT, BHXH, BNNMT, CSGT, VPCP, KBNN, the bank:\n"
	"                    the gateways' consumer ports PORT+10..19 and gateway\n"
	"                    ports PORT+20..29 (the sectors listen on Unix sockets\n"
	"                    in DIR/sector); the treasury\n"
	"                    PORT+38, the bank PORT+39; the consent service PORT+40,\n"
	"                    the e-ID PORT+45, the portal PORT+50, the monitoring\n"
	"                    service PORT+55, the logistics company's gateway\n"
	"                    PORT+56 (consumer) and PORT+57; the gateways' web\n"
	"                    consoles PORT+60..70, in the same order\n"
	"  --pin PIN         (id-token) the citizen, one with a demo account\n"
	"  --out FILE        (id-token) where the token goes\n"
	"  --help            show this help\n";

/* ---- the demo federation --------------------------------------------- */

/* The federation itself - members, subsystems, services with their OpenAPI
 * documents, grants, event types, subscriptions, the monitoring client - is
 * a federation file (docs/federation-file.md), deploy/demo/federation.json
 * unless --federation names another; up applies it through the registry's
 * management API as `ndx federation apply` does. What stays here is where
 * the demo runs each member's gateway and what answers behind it: the
 * order (the gateways' ports), the ndx-sector registry it serves from,
 * or the treasury's payment platform. Within a member, a service is its
 * sector's table of the same name ("-" written "_": right-holders is
 * right_holders), the built-in access list ("who read my data") for
 * transparency/accesses, or ndx-pay's resource of the same name. */
struct demo_site {
	const char *member;
	const char *sector; /* the ndx-sector registry it runs, NULL: none */
	int pays;	    /* its services are ndx-pay treasury's */
};

static const struct demo_site sites[] = {
	{ "VN/GOV/BCA", "population", 0 },
	{ "VN/GOV/BTP", "civil-status", 0 },
	{ "VN/GOV/BTC", "enterprise", 0 },
	{ "VN/GOV/TCT", "tax", 0 },
	{ "VN/GOV/BHXH", "insurance", 0 },
	{ "VN/GOV/BNNMT", "land", 0 },
	{ "VN/GOV/CSGT", "vehicles", 0 },
	/* The portal, the consent service and the operator's monitoring
	 * service: consumers. */
	{ "VN/GOV/VPCP", NULL, 0 },
	{ "VN/GOV/KBNN", NULL, 1 },
	/* The demo bank (`ndx-pay bank`) and the logistics company: consumers,
	 * the bank's receipts and the marketplace's buyers. */
	{ BANK_MEMBER, NULL, 0 },
	{ LOGISTICS_MEMBER, NULL, 0 },
};
#define N_MEMBERS (sizeof(sites) / sizeof(sites[0]))

#define ACCESS_LIST_SUBSYSTEM "transparency"
#define PORTAL_CLIENT "VN/GOV/VPCP/portal"
#define CONSENT_ID "VN/GOV/VPCP/consent"
#define MONITOR_CLIENT "VN/GOV/VPCP/monitoring"
#define CITIZENS_SERVICE "VN/GOV/BCA/population/citizens"

/* ---- paths ------------------------------------------------------------ */

struct demo_paths {
	char dir[PATH_MAX];
	char registry_dir[PATH_MAX];
	char anchor[PATH_MAX];
	char token[PATH_MAX];
	char logs[PATH_MAX];
	char log[PATH_MAX];
	char conf[PATH_MAX];
	char fed[PATH_MAX];
	char gateways[PATH_MAX];
	char sector[PATH_MAX];
};

static int join(char *out, const char *dir, const char *name)
{
	int n = snprintf(out, PATH_MAX, "%s/%s", dir, name);

	if (n < 0 || n >= PATH_MAX) {
		cli_error("the path %s/%s is too long", dir, name);
		return -1;
	}
	return 0;
}

/* Resolves dir to an absolute path (creating it when create is set). */
static int demo_paths(const char *dir, int create, struct demo_paths *p)
{
	if (create && ndx_mkdirs(dir, 0700) != NDX_OK) {
		cli_error("cannot create the directory %s: %s", dir, strerror(errno));
		return -1;
	}
	if (realpath(dir, p->dir) == NULL) {
		if (!create && errno == ENOENT)
			return 1;
		cli_error("cannot use the directory %s: %s", dir, strerror(errno));
		return -1;
	}
	if (join(p->registry_dir, p->dir, "registry") || join(p->anchor, p->registry_dir, "anchor.json") ||
	    join(p->token, p->registry_dir, "admin.token") || join(p->logs, p->dir, "logs") ||
	    join(p->log, p->logs, "registry.log") || join(p->conf, p->dir, "conf") ||
	    join(p->fed, p->dir, FEDERATION_FILE) || join(p->gateways, p->dir, "gateways") ||
	    join(p->sector, p->dir, "sector"))
		return -1;
	return 0;
}

/* ---- processes -------------------------------------------------------- */

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The kernel's per-process flags word: the 7th field after the state in
 * /proc/PID/stat (proc(5)). */
#define PF_EXITING 0x4ul
static unsigned long stat_flags(const char *after_state)
{
	const char *q = after_state;
	unsigned long v = 0;
	char *end;

	for (int field = 0; field < 6 && q; field++) {
		q = strchr(q, ' ');
		if (q)
			q++;
	}
	if (q) {
		errno = 0;
		v = strtoul(q, &end, 10);
		if (errno || end == q)
			v = 0;
	}
	return v;
}

/* True when pid is a live (not zombie) process whose argv[0] is named
 * `name` ("ndx-gateway"), or, for a two-word name ("ndx testservice"),
 * whose argv[0] is the first word and argv[1] the second: a recycled pid of
 * some other program is never mistaken for ours. */
static int proc_alive(pid_t pid, const char *name)
{
	char path[64], buf[4096], *p, *base;
	const char *space = strchr(name, ' ');
	size_t len = 0, n0;
	char *data = NULL;
	unsigned long exiting;
	int alive = 0;

	if (pid <= 0)
		return 0;
	/* Reaps it if it is our own child that has exited (demo run). */
	if (waitpid(pid, NULL, WNOHANG) == pid)
		return 0;
	if (kill(pid, 0) != 0 && errno != EPERM)
		return 0;
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if (ndx_file_read(path, sizeof(buf), &data, &len) != NDX_OK)
		return 0;
	p = strrchr(data, ')');
	if (p == NULL || p[1] != ' ' || p[2] == 'Z' || p[2] == 'X') {
		free(data);
		return 0;
	}
	exiting = stat_flags(p + 2) & PF_EXITING;
	free(data);
	snprintf(path, sizeof(path), "/proc/%ld/cmdline", (long)pid);
	if (ndx_file_read(path, 65536, &data, &len) != NDX_OK)
		return 0;
	/* A process that has begun to exit has released its memory, and its
	 * cmdline reads empty, before it is gone: it is still running (with
	 * ASan's shadow memory, for a while), and stop order means "gone". */
	if (len == 0 && exiting) {
		free(data);
		return 1;
	}
	base = strrchr(data, '/');
	base = base ? base + 1 : data;
	if (space == NULL) {
		alive = strcmp(base, name) == 0;
	} else {
		n0 = strlen(data);
		alive = strlen(base) == (size_t)(space - name) &&
			strncmp(base, name, (size_t)(space - name)) == 0 && n0 + 1 < len &&
			strcmp(data + n0 + 1, space + 1) == 0;
	}
	free(data);
	return alive;
}

/* Starts argv in its own session with stdin from /dev/null and stdout and
 * stderr appended to log. Returns the pid or -1 (message printed). */
static pid_t spawn(char *const argv[], const char *log, int new_session)
{
	int logfd, nullfd;
	pid_t pid;

	logfd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (logfd < 0) {
		cli_error("cannot open the log %s: %s", log, strerror(errno));
		return -1;
	}
	/* A log from an earlier version may be 0644. */
	(void)fchmod(logfd, 0600);
	nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (nullfd < 0) {
		cli_error("cannot open /dev/null: %s", strerror(errno));
		close(logfd);
		return -1;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		cli_error("cannot start %s: %s", argv[0], strerror(errno));
	} else if (pid == 0) {
		sigset_t none;

		/* demo run blocks SIGINT/SIGTERM; the child must not inherit that. */
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		if (new_session)
			setsid();
		if (dup2(nullfd, 0) < 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0)
			_exit(127);
		execv(argv[0], argv);
		dprintf(2, "ndx: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(logfd);
	close(nullfd);
	return pid;
}

/* The last non-empty line of a log, for error messages. */
static void last_log_line(const char *log, char *out, size_t cap)
{
	char *data = NULL, *end, *start;
	size_t len = 0;

	out[0] = '\0';
	if (ndx_file_read(log, 16u * 1024u * 1024u, &data, &len) != NDX_OK)
		return;
	end = data + len;
	while (end > data && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' '))
		end--;
	start = end;
	while (start > data && start[-1] != '\n')
		start--;
	snprintf(out, cap, "%.*s", (int)(end - start), start);
	free(data);
}

static void describe_exit(int status, char *out, size_t cap)
{
	if (WIFEXITED(status))
		snprintf(out, cap, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(out, cap, "was killed by signal %d", WTERMSIG(status));
	else
		snprintf(out, cap, "stopped");
}

/* Runs argv to completion with output to log; 0 when it exits 0. */
static int run_to_end(char *const argv[], const char *log, const char *what)
{
	char how[64], line[512];
	int status;
	pid_t pid = spawn(argv, log, 0);

	if (pid < 0)
		return -1;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			cli_error("cannot wait for %s: %s", what, strerror(errno));
			return -1;
		}
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	describe_exit(status, how, sizeof(how));
	last_log_line(log, line, sizeof(line));
	cli_error("%s %s%s%s (log: %s)", what, how, line[0] ? ": " : "", line, log);
	return -1;
}

/* Whether 127.0.0.1:port is taken: something accepts connections there,
 * or a listening socket cannot be bound to it (as our daemons bind it, with
 * SO_REUSEADDR, so a connection in TIME_WAIT does not count). */
static int port_in_use(unsigned port)
{
	struct sockaddr_in sa = { 0 };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), used, one = 1;

	if (fd < 0)
		return 0;
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	used = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	if (used)
		return 1;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	used = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 && errno == EADDRINUSE;
	close(fd);
	return used;
}

static int healthz_ok(const char *url)
{
	struct cli_http_request req = { 0 };
	struct cli_http_response resp;
	char target[PATH_MAX + 16], err[256];
	int ok;

	snprintf(target, sizeof(target), "%s/healthz", url);
	req.method = "GET";
	req.url = target;
	req.timeout_s = 2;
	req.max_body = 65536;
	ok = cli_http(&req, &resp, err, sizeof(err)) == NDX_OK && resp.status == 200;
	cli_http_response_free(&resp);
	return ok;
}

/* The conf_version a gateway's /healthz reports; -1 when it does not
 * answer 200 with one. */
static long long healthz_conf_version(const char *url)
{
	struct cli_http_request req = { 0 };
	struct cli_http_response resp;
	char target[PATH_MAX + 16], err[256];
	long long version = -1;
	json_t *doc;

	snprintf(target, sizeof(target), "%s/healthz", url);
	req.method = "GET";
	req.url = target;
	req.timeout_s = 2;
	req.max_body = 65536;
	if (cli_http(&req, &resp, err, sizeof(err)) == NDX_OK && resp.status == 200) {
		doc = json_loadb(resp.body, resp.len, 0, NULL);
		if (json_is_integer(json_object_get(doc, "conf_version")))
			version = json_integer_value(json_object_get(doc, "conf_version"));
		json_decref(doc);
	}
	cli_http_response_free(&resp);
	return version;
}

static int log_says(const char *log, off_t from, const char *marker)
{
	char *data = NULL;
	size_t len = 0;
	int found;

	if (ndx_file_read(log, 16u * 1024u * 1024u, &data, &len) != NDX_OK)
		return 0;
	found = (size_t)from <= len && strstr(data + from, marker) != NULL;
	free(data);
	return found;
}

/* Waits until the daemon `what` we started (pid) answers url/healthz with
 * 200. Its log line `marker` proves the answer comes from our process
 * rather than another one on the port; a daemon that never prints it is
 * still accepted after 3 s of health. start: when the wait began (now_ms),
 * so that daemons started together share one deadline. */
static int wait_ready(pid_t pid, const char *what, const char *url, const char *log,
		      off_t log_from, const char *marker, long start)
{
	char how[64], line[512];
	int status;

	for (;;) {
		pid_t w = waitpid(pid, &status, WNOHANG);

		if (w == pid) {
			describe_exit(status, how, sizeof(how));
			last_log_line(log, line, sizeof(line));
			cli_error("%s %s before it was ready%s%s (log: %s)", what, how,
				  line[0] ? ": " : "", line, log);
			return -1;
		}
		if (healthz_ok(url) &&
		    (log_says(log, log_from, marker) || now_ms() - start > 3000))
			return 0;
		if (now_ms() - start > READY_TIMEOUT_MS) {
			last_log_line(log, line, sizeof(line));
			cli_error("%s did not answer %s/healthz with 200 within %d s%s%s (log: %s)",
				  what, url, READY_TIMEOUT_MS / 1000, line[0] ? "; last log line: " : "",
				  line, log);
			return -1;
		}
		sleep_ms(POLL_MS);
	}
}

/* SIGTERM to each live pid, SIGKILL after the grace period. Returns how
 * many processes were running. */
static int stop_pids(const pid_t *pids, const char *const *names, size_t n)
{
	size_t i;
	long start;
	int running = 0, left;

	for (i = 0; i < n; i++) {
		if (proc_alive(pids[i], names[i])) {
			kill(pids[i], SIGTERM);
			running++;
		}
	}
	if (running == 0)
		return 0;
	start = now_ms();
	for (;;) {
		left = 0;
		for (i = 0; i < n; i++)
			left += proc_alive(pids[i], names[i]);
		if (left == 0)
			return running;
		if (now_ms() - start > STOP_TIMEOUT_MS)
			break;
		sleep_ms(POLL_MS);
	}
	for (i = 0; i < n; i++) {
		if (proc_alive(pids[i], names[i])) {
			cli_error("%s (pid %ld) did not stop within %d s; killing it", names[i],
				  (long)pids[i], STOP_TIMEOUT_MS / 1000);
			kill(pids[i], SIGKILL);
		}
	}
	start = now_ms();
	while (now_ms() - start < KILL_TIMEOUT_MS) {
		left = 0;
		for (i = 0; i < n; i++)
			left += proc_alive(pids[i], names[i]);
		if (left == 0)
			break;
		sleep_ms(POLL_MS);
	}
	return running;
}

/* Stops the processes in the order that loses nothing: the front (the
 * portal and the e-ID) first, then the gateways (they finish their
 * exchanges and close their message logs), then the systems behind them
 * (sectors, consent service), then the registry. Returns how many were
 * running. */
static int stop_in_order(const pid_t *pids, const char *const *names, size_t n)
{
	static const char *const groups[][3] = {
		{ NAME_PORTAL, NAME_ID, NAME_MONITOR },
		{ NAME_GATEWAY, NULL, NULL },
		{ NAME_SECTOR, NAME_CONSENT, NAME_PAY },
		{ NAME_REGISTRY, NULL, NULL },
	};
	pid_t group_pids[MAX_PROCS];
	const char *group_names[MAX_PROCS];
	size_t g, i, k, m;
	int running = 0;

	for (g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
		m = 0;
		for (i = 0; i < n && m < MAX_PROCS; i++)
			for (k = 0; k < 3 && groups[g][k]; k++)
				if (strcmp(names[i], groups[g][k]) == 0) {
					group_pids[m] = pids[i];
					group_names[m] = names[i];
					m++;
				}
		running += stop_pids(group_pids, group_names, m);
	}
	return running;
}

/* ---- federation.json ---------------------------------------------------- */

/* Reads DIR/federation.json: 0 with *out set, 1 when there is none, -1 on
 * error (printed). */
static int read_federation(const char *path, json_t **out)
{
	char *data = NULL;
	size_t len = 0;
	json_error_t jerr;
	int rc = ndx_file_read(path, FEDERATION_MAX, &data, &len);

	*out = NULL;
	if (rc == NDX_EIO && access(path, F_OK) != 0)
		return 1;
	if (rc != NDX_OK) {
		cli_error("cannot read %s: %s", path, ndx_strerror(rc));
		return -1;
	}
	*out = json_loadb(data, len, 0, &jerr);
	free(data);
	if (*out == NULL || !json_is_object(*out) ||
	    !json_is_string(json_object_get(*out, "format")) ||
	    strcmp(json_string_value(json_object_get(*out, "format")), FEDERATION_FORMAT) != 0) {
		cli_error("%s is not an %s document%s%s", path, FEDERATION_FORMAT,
			  *out == NULL ? ": " : "", *out == NULL ? jerr.text : "");
		json_decref(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

static int write_federation(const char *path, const json_t *doc)
{
	char *text = json_dumps(doc, JSON_INDENT(2));
	size_t len;
	int rc;

	if (text == NULL) {
		cli_error("out of memory");
		return -1;
	}
	len = strlen(text);
	rc = ndx_file_write_atomic(path, text, len, 0600, 0);
	if (rc == NDX_OK)
		rc = 0;
	free(text);
	if (rc != 0) {
		cli_error("cannot write %s: %s", path, ndx_strerror(rc));
		return -1;
	}
	return 0;
}

/* Collects the processes a federation document lists. */
static size_t fed_processes(const json_t *fed, pid_t *pids, const char **names, size_t cap)
{
	const json_t *procs = json_object_get(fed, "processes"), *p;
	size_t i, n = 0;

	json_array_foreach(procs, i, p) {
		json_int_t pid = json_integer_value(json_object_get(p, "pid"));
		const char *name = json_string_value(json_object_get(p, "name"));

		if (n < cap && pid > 0 && pid <= INT32_MAX && name != NULL) {
			pids[n] = (pid_t)pid;
			names[n] = name;
			n++;
		}
	}
	return n;
}

/* The items of one section of the applied federation file (an array,
 * possibly empty). */
static const json_t *fed_items(const json_t *federation, const char *section)
{
	const json_t *items = json_object_get(federation, section);

	return json_is_array(items) ? items : NULL;
}

/* Whether id (a subsystem's or a service's) is one of member's. */
static int of_member(const char *id, const char *member)
{
	size_t n = strlen(member);

	return id && strncmp(id, member, n) == 0 && id[n] == '/';
}

/* The site that runs member's gateway, NULL: none. */
static const struct demo_site *site_of(const char *member)
{
	for (size_t i = 0; i < N_MEMBERS; i++)
		if (strcmp(sites[i].member, member) == 0)
			return &sites[i];
	return NULL;
}

/* Where the gateway sends what it receives for service (its id: member,
 * subsystem, code): written to out as the gateway's backend
 * (docs/gateway.md); the gateway appends the path after the service id,
 * so a sector's table takes the rest (citizens/{pin}). -1 when the demo
 * runs nothing for it. sector_url and pay_url: the site's. */
static int service_backend(const struct demo_site *site, const char *service,
			   const char *sector_url, const char *pay_url, char *out, size_t cap)
{
	const char *code = strrchr(service, '/') + 1, *subsystem;
	size_t n = strlen(site->member) + 1;
	char table[NDX_ID_TEXT_MAX];

	subsystem = service + n;
	if (strncmp(subsystem, ACCESS_LIST_SUBSYSTEM "/", sizeof ACCESS_LIST_SUBSYSTEM) == 0 &&
	    strcmp(code, "accesses") == 0)
		return snprintf(out, cap, "ndx:subject-accesses") < (int)cap ? 0 : -1;
	if (site->pays)
		return snprintf(out, cap, "%s/%s", pay_url, code) < (int)cap ? 0 : -1;
	if (site->sector == NULL)
		return -1;
	snprintf(table, sizeof table, "%s", code);
	for (char *c = table; *c; c++)
		if (*c == '-')
			*c = '_';
	return snprintf(out, cap, "%s/%s", sector_url, table) < (int)cap ? 0 : -1;
}

/* ---- gateways and test services ---------------------------------------- */

/* One agency's gateway, and the test service behind its services. */
struct demo_gateway {
	const struct demo_site *site;
	const char *code; /* the member code, "BCA" (points into site->member) */
	char dir[PATH_MAX];
	char config[PATH_MAX];
	char data_dir[PATH_MAX];
	char sign_key[PATH_MAX];
	char sign_pub[PATH_MAX];
	char tls_key[PATH_MAX];
	char tls_cert[PATH_MAX];
	char ca[PATH_MAX];
	char log[PATH_MAX];
	char key_id[NDX_KEY_ID_HEX_LEN + 1];
	char address[64];
	char consumer_url[64];
	unsigned consumer_port, gateway_port;
	/* The gateway's web console: its port, address, e-ID client and its
	 * secret there, and its officials file. */
	unsigned console_port;
	char console_url[64];
	char console_client[64];
	char console_secret[PATH_MAX];
	char console_officials[PATH_MAX];
	pid_t pid;
	off_t log_from;
	/* sector NULL: the member serves no service from an ndx-sector. */
	const char *sector;
	/* "unix:SOCKET:" - paths are appended to it (nginx's form, which
	 * the gateway's backend and the ndx client take). */
	char sector_sock[PATH_MAX];
	char sector_url[PATH_MAX + 8];
	char sector_db[PATH_MAX];
	char sector_log[PATH_MAX];
	pid_t sector_pid;
	off_t sector_log_from;
};

/* A process of the federation other than the registry, the gateways and
 * the sectors: the consent service, the e-ID, the portal. */
struct demo_app {
	const char *name;  /* its binary, also what proc_alive checks */
	unsigned port;
	char url[64];
	char dir[PATH_MAX];
	char log[PATH_MAX];
	pid_t pid;
	off_t log_from;
};

struct demo_state {
	struct demo_paths paths;
	/* The federation file up applies: its name, its text and its
	 * canonical form (fed_validate); owned, demo_state_free releases. */
	const char *fed_file;
	char *fed_text;
	size_t fed_len;
	json_t *federation;
	char url[64];
	pid_t registry_pid;
	struct demo_app consent, id, portal, monitor, treasury, bank;
	uint64_t conf_version;
	size_t n_services, n_grants;
	/* A citizen and an enterprise of the seeded data, for the curl lines. */
	char try_pin[SECTOR_KEY_MAX];
	/* A second citizen with an account, and both their names. */
	char other_pin[SECTOR_KEY_MAX];
	char try_name[128], other_name[128];
	char try_code[SECTOR_KEY_MAX];
	/* The citizen whose death the printed command registers. */
	char death_pin[SECTOR_KEY_MAX];
	char death_name[128];
	/* The citizen whose change of permanent residence the printed command
	 * makes, and that command's record (their population record, moved). */
	char move_pin[SECTOR_KEY_MAX];
	char move_name[128];
	char move_body[2048];
	/* The household they head in the new province, when it is not there
	 * yet (a household never changes province: docs/portal.md). */
	char move_household[512];
	/* The mother of the child whose birth the printed command registers
	 * (alive, in a household, with an e-ID account), her household and
	 * that command's record. */
	char birth_mother[SECTOR_KEY_MAX];
	char birth_mother_name[128];
	char birth_household[32];
	char birth_body[1024];
	char birth_child[128];
	/* The printed citizen's procedure an officer has opened in the portal
	 * (demo_officer_read); empty when there is none. */
	char proc_id[64];
	/* The chain of a signed negotiation of the marketplace (demo_market)
	 * for the printed check; empty when there is none. */
	char market_chain[PATH_MAX];
	/* The operations centre's officials (docs/portal.md "Officials"): two
	 * citizens with e-ID accounts whose data no printed line is about. */
	char ops_pin[2][SECTOR_KEY_MAX];
	char ops_name[2][128];
	struct demo_gateway gw[N_MEMBERS];
};

/* Reads and checks the federation file up applies: as a whole
 * (fed_validate), and for what the demo runs: every member has a gateway
 * here (sites), and every service something behind it. 0 with st's
 * fed_text and federation set, -1 after printing why. */
static int load_federation(struct demo_state *st, const char *file)
{
	json_error_t jerr;
	json_t *doc;
	char err[2048];
	const json_t *item;
	size_t i;
	int rc;

	st->fed_file = file;
	if ((rc = ndx_file_read(file, FED_FILE_MAX, &st->fed_text, &st->fed_len)) != NDX_OK) {
		cli_error("cannot read the demo's federation file %s: %s", file, ndx_strerror(rc));
		return -1;
	}
	doc = json_loadb(st->fed_text, st->fed_len, JSON_REJECT_DUPLICATES, &jerr);
	if (doc == NULL) {
		cli_error("%s:%d:%d: %s", file, jerr.line, jerr.column, jerr.text);
		return -1;
	}
	rc = fed_validate(doc, &st->federation, err, sizeof err);
	if (rc != 0) {
		int line = fed_line(doc, st->fed_text, st->fed_len, err);

		if (line > 0)
			cli_error("%s:%d: %s", file, line, err);
		else
			cli_error("%s: %s", file, err);
		json_decref(doc);
		return -1;
	}
	json_decref(doc);
	json_array_foreach(fed_items(st->federation, "members"), i, item) {
		const char *id = json_string_value(json_object_get(item, "id"));

		if (site_of(id) == NULL) {
			cli_error("%s: member %s has no gateway in the demo, which runs one for "
				  "each of its %zu members (src/cli/cmd_demo.c, sites)", file, id,
				  N_MEMBERS);
			return -1;
		}
	}
	for (i = 0; i < N_MEMBERS; i++) {
		int found = 0;
		size_t k;

		json_array_foreach(fed_items(st->federation, "members"), k, item)
			found |= strcmp(json_string_value(json_object_get(item, "id")),
					sites[i].member) == 0;
		if (!found) {
			cli_error("%s: the demo runs a gateway for %s, which the file does not "
				  "declare among its members", file, sites[i].member);
			return -1;
		}
	}
	json_array_foreach(fed_items(st->federation, "services"), i, item) {
		const char *id = json_string_value(json_object_get(item, "id"));
		const struct demo_site *site = NULL;
		char backend[64];

		for (size_t k = 0; k < N_MEMBERS && !site; k++)
			if (of_member(id, sites[k].member))
				site = &sites[k];
		if (site == NULL || service_backend(site, id, "", "", backend, sizeof backend) != 0) {
			cli_error("%s: nothing in the demo answers service %s: %s runs no sector "
				  "registry or payment platform here", file, id,
				  site ? site->member : "its member");
			return -1;
		}
	}
	return 0;
}

static void demo_state_free(struct demo_state *st)
{
	if (st == NULL)
		return;
	json_decref(st->federation);
	free(st->fed_text);
	free(st);
}

/* The member's name in the applied file. */
static const char *member_name(const struct demo_state *st, const char *member)
{
	const json_t *item;
	size_t i;

	json_array_foreach(fed_items(st->federation, "members"), i, item)
		if (strcmp(json_string_value(json_object_get(item, "id")), member) == 0)
			return json_string_value(json_object_get(item, "name"));
	return "";
}

/* The gateway of the member that client (a subsystem id) belongs to. */
static const struct demo_gateway *gateway_of(const struct demo_state *st, const char *client)
{
	size_t i, n;

	for (i = 0; i < N_MEMBERS; i++) {
		n = strlen(sites[i].member);
		if (strncmp(client, sites[i].member, n) == 0 && client[n] == '/')
			return &st->gw[i];
	}
	return NULL;
}

/* The sector registry of the demo that runs sector name. */
static const struct demo_gateway *sector_gateway(const struct demo_state *st, const char *name)
{
	for (size_t i = 0; i < N_MEMBERS; i++)
		if (st->gw[i].sector && strcmp(st->gw[i].sector, name) == 0)
			return &st->gw[i];
	return NULL;
}

static int gateway_setup(const struct demo_paths *p, unsigned base, size_t i,
			 struct demo_gateway *g)
{
	char name[64];

	memset(g, 0, sizeof(*g));
	g->site = &sites[i];
	g->code = strrchr(g->site->member, '/') + 1;
	if (i < 10) {
		g->consumer_port = base + CONSUMER_OFFSET + (unsigned)i;
		g->gateway_port = base + GATEWAY_OFFSET + (unsigned)i;
	} else {
		g->consumer_port = base + EXTRA_CONSUMER_OFFSET;
		g->gateway_port = base + EXTRA_GATEWAY_OFFSET;
	}
	g->console_port = base + GW_CONSOLE_OFFSET + (unsigned)i;
	snprintf(g->address, sizeof(g->address), "https://127.0.0.1:%u", g->gateway_port);
	snprintf(g->consumer_url, sizeof(g->consumer_url), "http://127.0.0.1:%u", g->consumer_port);
	snprintf(g->console_url, sizeof(g->console_url), "http://127.0.0.1:%u", g->console_port);
	snprintf(g->console_client, sizeof(g->console_client), "gateway-%s-console", g->code);
	for (char *c = g->console_client; *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c - 'A' + 'a');
	if (join(g->dir, p->gateways, g->code) || join(g->config, g->dir, "gateway.json") ||
	    join(g->console_secret, g->dir, "console-oidc.secret") ||
	    join(g->console_officials, g->dir, "console-officials.json") ||
	    join(g->data_dir, g->dir, "data") || join(g->sign_key, g->dir, "sign.key") ||
	    join(g->sign_pub, g->dir, "sign.pub") || join(g->tls_key, g->dir, GW_CODE ".tls.key") ||
	    join(g->tls_cert, g->dir, GW_CODE ".tls.pem") || join(g->ca, g->dir, GW_CODE ".ca.pem"))
		return -1;
	snprintf(name, sizeof(name), "gateway-%s.log", g->code);
	if (join(g->log, p->logs, name))
		return -1;
	g->sector = g->site->sector;
	if (g->sector != NULL) {
		snprintf(name, sizeof(name), "%s.sock", g->sector);
		if (join(g->sector_sock, p->sector, name))
			return -1;
		if (strlen(g->sector_sock) > NDX_UNIX_PATH_MAX) {
			cli_error("the socket path %s is longer than %d bytes; choose a shorter --dir",
				  g->sector_sock, NDX_UNIX_PATH_MAX);
			return -1;
		}
		snprintf(g->sector_url, sizeof(g->sector_url), "unix:%s:", g->sector_sock);
		snprintf(name, sizeof(name), "%s.db", g->sector);
		if (join(g->sector_db, p->sector, name))
			return -1;
		snprintf(name, sizeof(name), "sector-%s.log", g->sector);
		if (join(g->sector_log, p->logs, name))
			return -1;
	}
	return 0;
}

/* Loads the gateway's signing key, or makes it the first time (what
 * `ndx keygen` does). The public file is derived, so it is rewritten. */
static int sign_key_ready(struct demo_gateway *g, struct ndx_key **out)
{
	struct ndx_key *key = NULL;
	int rc;

	*out = NULL;
	if (access(g->sign_key, F_OK) == 0) {
		rc = ndx_key_load(g->sign_key, &key);
		if (rc == NDX_OK && !ndx_key_has_private(key))
			rc = NDX_EINVAL;
		if (rc != NDX_OK) {
			cli_error("cannot load the signing key %s: %s", g->sign_key,
				  rc == NDX_EIO ? "unreadable" : "not an Ed25519 private key");
			ndx_key_free(key);
			return -1;
		}
	} else {
		rc = ndx_key_generate(&key);
		if (rc == NDX_OK)
			rc = ndx_key_save_private(key, g->sign_key);
		if (rc != NDX_OK) {
			cli_error("cannot create the signing key %s: %s", g->sign_key,
				  ndx_strerror(rc));
			ndx_key_free(key);
			return -1;
		}
	}
	rc = ndx_key_save_public(key, g->sign_pub);
	if (rc != NDX_OK) {
		cli_error("cannot write %s: %s", g->sign_pub, ndx_strerror(rc));
		ndx_key_free(key);
		return -1;
	}
	ndx_key_id(key, g->key_id);
	*out = key;
	return 0;
}

/* The registry's record of the member's gateway GW_CODE: 0 with *out a new
 * reference or NULL when there is none, -1 on error (printed). */
static int registered_gateway(const struct cli_api *api, const char *member, json_t **out)
{
	json_t *list = NULL, *gw;
	char err[1024];
	size_t i;

	*out = NULL;
	if (cli_api_call(api, "GET", "/api/gateways", NULL, NULL, &list, err, sizeof(err)) !=
	    NDX_OK) {
		cli_error("cannot list the gateways: %s", err);
		return -1;
	}
	json_array_foreach(json_object_get(list, "gateways"), i, gw) {
		const char *m = json_string_value(json_object_get(gw, "member"));
		const char *c = json_string_value(json_object_get(gw, "code"));

		if (m && c && strcmp(m, member) == 0 && strcmp(c, GW_CODE) == 0) {
			*out = json_incref(gw);
			break;
		}
	}
	json_decref(list);
	return 0;
}

static int same_string(const json_t *obj, const char *key, const char *want)
{
	const char *v = json_string_value(json_object_get(obj, key));

	return v != NULL && strcmp(v, want) == 0;
}

/* The fingerprint of the certificate in path; -1 when there is none. */
static int file_cert_fingerprint(const char *path, char fp[NDX_CERT_FINGERPRINT_HEX_LEN + 1])
{
	char *pem = NULL;
	size_t len = 0;
	int rc;

	if (ndx_file_read(path, 1024u * 1024u, &pem, &len) != NDX_OK)
		return -1;
	rc = ndx_pki_cert_fingerprint(pem, fp);
	free(pem);
	return rc == NDX_OK ? 0 : -1;
}

static int remove_file(const char *path)
{
	if (unlink(path) != 0 && errno != ENOENT) {
		cli_error("cannot remove %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static void free_secret(char *s)
{
	if (s != NULL) {
		memset(s, 0, strlen(s));
		free(s);
	}
}

/* Registers the gateway with the registry's CA signing a new TLS key's
 * request, as `ndx gateway add` does, and writes the key, certificate and
 * CA certificate. */
static int register_gateway(const struct cli_api *api, struct demo_gateway *g,
			    const struct ndx_key *key)
{
	char cn[NDX_ID_TEXT_MAX + 16], err[1024];
	char *pub_pem = ndx_key_public_pem(key), *tls_key = NULL, *csr = NULL;
	const char *cert, *ca;
	json_t *body = NULL, *out = NULL;
	long status = 0;
	int rc = -1, wrote_key = 0;

	snprintf(cn, sizeof(cn), "%s/%s", g->site->member, GW_CODE);
	if (pub_pem == NULL || ndx_pki_csr_create(cn, &tls_key, &csr) != NDX_OK) {
		cli_error("cannot create a TLS key and certificate request for %s", cn);
		goto out;
	}
	/* The key goes to disk before the registry learns of it: a gateway
	 * registered with a certificate whose key was lost is useless. */
	if (ndx_file_write_atomic(g->tls_key, tls_key, strlen(tls_key), 0600, 1) != NDX_OK) {
		cli_error("cannot write %s", g->tls_key);
		goto out;
	}
	wrote_key = 1;
	body = json_pack("{ssssssssss}", "member", g->site->member, "code", GW_CODE, "address",
			 g->address, "sign_public_key", pub_pem, "tls_csr", csr);
	if (body == NULL) {
		cli_error("out of memory");
		goto out;
	}
	if (cli_api_call(api, "POST", "/api/gateways", body, &status, &out, err, sizeof(err)) !=
	    NDX_OK) {
		cli_error("cannot register the gateway %s: %s", cn, err);
		goto out;
	}
	cert = json_string_value(json_object_get(out, "tls_certificate"));
	ca = json_string_value(json_object_get(out, "ca_certificate"));
	if (cert == NULL || ca == NULL) {
		cli_error("the registry registered the gateway %s but sent no certificate", cn);
		goto out;
	}
	if (ndx_file_write_atomic(g->tls_cert, cert, strlen(cert), 0600, 0) != NDX_OK ||
	    ndx_file_write_atomic(g->ca, ca, strlen(ca), 0600, 0) != NDX_OK) {
		cli_error("cannot write %s or %s", g->tls_cert, g->ca);
		goto out;
	}
	rc = 0;
out:
	if (rc != 0 && wrote_key)
		unlink(g->tls_key);
	json_decref(body);
	json_decref(out);
	free(pub_pem);
	free_secret(tls_key);
	free(csr);
	return rc;
}

/* Makes sure the registry knows this gateway with the key, certificate and
 * address on disk. What already matches is reused; a registration that does
 * not match (another --port-base, files lost) is replaced, keeping the
 * signing key, so that the gateway's message log stays bound to it. */
static int ensure_identity(const struct cli_api *api, struct demo_gateway *g)
{
	char fp[NDX_CERT_FINGERPRINT_HEX_LEN + 1], path[NDX_ID_TEXT_MAX + 32], err[1024];
	struct ndx_key *key = NULL;
	json_t *reg = NULL;
	int rc = -1, have_files;

	if (ndx_mkdirs(g->dir, 0700) != NDX_OK) {
		cli_error("cannot create %s: %s", g->dir, strerror(errno));
		return -1;
	}
	if (sign_key_ready(g, &key) != 0)
		return -1;
	if (registered_gateway(api, g->site->member, &reg) != 0)
		goto out;
	have_files = access(g->tls_key, R_OK) == 0 && access(g->ca, R_OK) == 0 &&
		     file_cert_fingerprint(g->tls_cert, fp) == 0;
	if (reg != NULL && have_files && same_string(reg, "tls_cert_sha256", fp) &&
	    same_string(reg, "sign_key_id", g->key_id) && same_string(reg, "address", g->address)) {
		rc = 0;
		goto out;
	}
	if (reg != NULL) {
		json_t *gone = NULL;
		int del;

		snprintf(path, sizeof(path), "/api/gateways/%s/%s", g->site->member, GW_CODE);
		del = cli_api_call(api, "DELETE", path, NULL, NULL, &gone, err, sizeof(err));
		json_decref(gone);
		if (del != NDX_OK) {
			cli_error("cannot replace the registration of %s %s: %s", g->site->member,
				  GW_CODE, err);
			goto out;
		}
	}
	if (remove_file(g->tls_key) || remove_file(g->tls_cert) || remove_file(g->ca))
		goto out;
	rc = register_gateway(api, g, key);
out:
	json_decref(reg);
	ndx_key_free(key);
	return rc;
}

/* The gateway's configuration file (docs/gateway.md). */
static json_t *gateway_config(const struct demo_state *st, const struct demo_gateway *g)
{
	json_t *subs = json_array(), *svcs = json_object();
	char consumer[32], gateway[32], console[32], backend[PATH_MAX + 64];
	const json_t *item;
	size_t j;

	if (subs == NULL || svcs == NULL) {
		json_decref(subs);
		json_decref(svcs);
		return NULL;
	}
	json_array_foreach(fed_items(st->federation, "subsystems"), j, item) {
		const char *id = json_string_value(json_object_get(item, "id"));

		if (of_member(id, g->site->member))
			json_array_append_new(subs, json_string(id + strlen(g->site->member) + 1));
	}
	json_array_foreach(fed_items(st->federation, "services"), j, item) {
		const char *id = json_string_value(json_object_get(item, "id"));

		if (!of_member(id, g->site->member))
			continue;
		/* load_federation checked that there is one */
		if (service_backend(g->site, id, g->sector_url, st->treasury.url, backend,
				    sizeof backend) != 0) {
			json_decref(subs);
			json_decref(svcs);
			return NULL;
		}
		json_object_set_new(svcs, id, json_pack("{sssi}", "backend", backend,
							"timeout_ms", BACKEND_TIMEOUT_MS));
	}
	snprintf(consumer, sizeof(consumer), "127.0.0.1:%u", g->consumer_port);
	snprintf(gateway, sizeof(gateway), "127.0.0.1:%u", g->gateway_port);
	snprintf(console, sizeof(console), "127.0.0.1:%u", g->console_port);
	return json_pack("{ss ss so ss ss ss ss ss ss ss ss so s{si} si s{ss ss ss ss ss ss ss ss}}",
			 "member", g->site->member, "code", GW_CODE, "subsystems", subs,
			 "data_dir", g->data_dir, "anchor", st->paths.anchor,
			 "registry_url", st->url, "sign_key", g->sign_key, "tls_key", g->tls_key,
			 "tls_cert", g->tls_cert, "consumer_listen", consumer,
			 "gateway_listen", gateway, "services", svcs,
			 "limits", "threads", GATEWAY_THREADS, "conf_refresh_s", CONF_REFRESH_S,
			 "console", "listen", console, "eid", st->id.url, "client_id",
			 g->console_client, "client_secret_file", g->console_secret, "officials",
			 g->console_officials, "public_url", g->console_url, "web", NDX_WEB_DIR,
			 "assets", NDX_ASSETS_DIR);
}

/* Writes the configuration when it is missing or says something else (a
 * new --port-base), so that a re-up leaves an unchanged file alone. */
static int write_gateway_config(const struct demo_state *st, const struct demo_gateway *g)
{
	json_t *cfg = gateway_config(st, g);
	char *text = cfg ? json_dumps(cfg, JSON_INDENT(2)) : NULL, *old = NULL;
	size_t len, old_len = 0;
	int rc = 0;

	json_decref(cfg);
	if (text == NULL) {
		cli_error("out of memory");
		return -1;
	}
	len = strlen(text);
	if (ndx_file_read(g->config, FEDERATION_MAX, &old, &old_len) != NDX_OK || old_len != len ||
	    memcmp(old, text, len) != 0) {
		if (ndx_file_write_atomic(g->config, text, len, 0600, 0) != NDX_OK) {
			cli_error("cannot write %s: %s", g->config, strerror(errno));
			rc = -1;
		}
	}
	free(old);
	free(text);
	return rc;
}

/* The curl line of the exchange run prints: BTC's tax system reads a
 * citizen from BCA's population registry through both gateways. */
static void try_curl(const struct demo_state *st, char *out, size_t cap)
{
	const struct demo_gateway *g = gateway_of(st, TRY_CLIENT);

	snprintf(out, cap,
		 "curl -s -H 'X-Road-Client: %s' -H 'Ndx-Purpose: %s' -H 'Ndx-Subject: %s' "
		 "%s/r1/%s/%s",
		 TRY_CLIENT, TRY_PURPOSE, st->try_pin, g ? g->consumer_url : "", TRY_SERVICE,
		 st->try_pin);
}

/* The second one: the tax system reads, from BTC's enterprise registry,
 * the enterprise whose legal representative that citizen is (personal
 * data about them: the same subject). */
static void try_enterprise_curl(const struct demo_state *st, char *out, size_t cap)
{
	const struct demo_gateway *g = gateway_of(st, TRY_CLIENT);

	snprintf(out, cap,
		 "curl -s -H 'X-Road-Client: %s' -H 'Ndx-Purpose: %s' -H 'Ndx-Subject: %s' "
		 "%s/r1/%s/%s",
		 TRY_CLIENT, TRY_PURPOSE, st->try_pin, g ? g->consumer_url : "",
		 TRY_ENTERPRISE_SERVICE, st->try_code);
}

/* And the citizen's view of it: who read their data, asked through the
 * portal's gateway as the portal does, with the citizen's ID token that
 * `ndx demo id-token` (try_id_token) writes. */
static void try_accesses(const struct demo_state *st, const char *self, char *out, size_t cap)
{
	const struct demo_gateway *g = gateway_of(st, PORTAL_CLIENT);

	snprintf(out, cap, "%s subject accesses %s --gateway %s --client %s --id-token-file %s/%s",
		 self, st->try_pin, g ? g->consumer_url : "", PORTAL_CLIENT, st->paths.dir,
		 ID_TOKEN_FILE);
}

static void try_id_token(const struct demo_state *st, const char *self, char *out, size_t cap)
{
	snprintf(out, cap, "%s demo id-token --dir %s", self, st->paths.dir);
}

/* The life event the demo prints (docs/events.md): the civil status
 * registry records a death through its own API - on its Unix socket, as
 * the registrar's system does, not through the exchange - and its outbox
 * publishes death-registered; population, insurance, tax and the e-ID each
 * apply it from their own subscription. */
static void try_death(const struct demo_state *st, char *out, size_t cap)
{
	const struct demo_gateway *g = sector_gateway(st, "civil-status");
	char today[16];
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(today, sizeof(today), "%Y-%m-%d", &tm);
	snprintf(out, cap,
		 "curl -s --unix-socket %s -H 'Content-Type: application/json' -d "
		 "'{\"pin\":\"%s\",\"full_name\":\"%s\",\"died_on\":\"%s\",\"province\":\"%.3s\","
		 "\"registered_on\":\"%s\"}' http://civil-status/deaths",
		 g ? g->sector_sock : "", st->death_pin, st->death_name, today, st->death_pin, today);
}

/* A read of the deceased's record in sector name's table, as its own
 * agency reads it. */
static void try_death_effect(const struct demo_state *st, const char *sector, const char *table,
			     char *out, size_t cap)
{
	const struct demo_gateway *g = sector_gateway(st, sector);

	snprintf(out, cap, "curl -s --unix-socket %s http://%s/%s/%s", g ? g->sector_sock : "",
		 sector, table, st->death_pin);
}

static void try_death_eid(const struct demo_state *st, const char *self, char *out, size_t cap)
{
	snprintf(out, cap, "%s demo id-token --dir %s --pin %s", self, st->paths.dir,
		 st->death_pin);
}

/* What the tax department's gateway received (its inbox, the events it
 * applied and acknowledged included). */
static void try_death_inbox(const struct demo_state *st, char *out, size_t cap)
{
	const struct demo_gateway *g = gateway_of(st, "VN/GOV/TCT/tax");

	snprintf(out, cap, "curl -s -H 'X-Road-Client: VN/GOV/TCT/tax' '%s/e1/inbox?limit=5'",
		 g ? g->consumer_url : "");
}

/* The second life event: the population registry records a change of
 * permanent residence (a PUT of the citizen's record through its own API,
 * on its Unix socket) and its outbox publishes residence-changed; tax,
 * social insurance and the vehicle register each update the address they
 * hold from their own subscription. */
static void try_move(const struct demo_state *st, char *out, size_t cap)
{
	const struct demo_gateway *g = sector_gateway(st, "population");

	snprintf(out, cap,
		 "curl -s -X PUT --unix-socket %s -H 'Content-Type: application/json' -d '%s' "
		 "http://population/citizens/%s",
		 g ? g->sector_sock : "", st->move_body, st->move_pin);
}

/* The household the mover heads in the new province, registered first. */
static void try_move_household(const struct demo_state *st, char *out, size_t cap)
{
	const struct demo_gateway *g = sector_gateway(st, "population");

	snprintf(out, cap,
		 "curl -s --unix-socket %s -H 'Content-Type: application/json' -d '%s' "
		 "http://population/households",
		 g ? g->sector_sock : "", st->move_household);
}

/* A read of the mover's records in sector's table (vehicles: by owner). */
static void try_move_effect(const struct demo_state *st, const char *sector, char *out,
			    size_t cap)
{
	const struct demo_gateway *g = sector_gateway(st, sector);

	if (strcmp(sector, "vehicles") == 0)
		snprintf(out, cap, "curl -s --unix-socket %s 'http://vehicles/vehicles?owner_id=%s'",
			 g ? g->sector_sock : "", st->move_pin);
	else
		snprintf(out, cap, "curl -s --unix-socket %s http://%s/%s/%s",
			 g ? g->sector_sock : "", sector,
			 strcmp(sector, "tax") == 0 ? "taxpayers" : "participants", st->move_pin);
}

/* The third life event: the civil status registry records a birth, with no
 * number for the child, and its outbox publishes birth-registered; the
 * population registry records the child with a new number in the mother's
 * household and publishes citizen-registered; social insurance issues the
 * child's health insurance card. */
static void try_birth(const struct demo_state *st, char *out, size_t cap)
{
	const struct demo_gateway *g = sector_gateway(st, "civil-status");

	snprintf(out, cap,
		 "curl -s --unix-socket %s -H 'Content-Type: application/json' -d '%s' "
		 "http://civil-status/births",
		 g ? g->sector_sock : "", st->birth_body);
}

/* The child in the population registry (the mother's household's members)
 * and in social insurance (participants by name). */
static void try_birth_effect(const struct demo_state *st, const char *sector, char *out,
			     size_t cap)
{
	const struct demo_gateway *g = sector_gateway(st, sector);

	if (strcmp(sector, "population") == 0)
		snprintf(out, cap,
			 "curl -s --unix-socket %s 'http://population/citizens?household_id=%s'",
			 g ? g->sector_sock : "", st->birth_household);
	else
		snprintf(out, cap,
			 "curl -sG --unix-socket %s --data-urlencode 'name=%s' "
			 "http://insurance/participants",
			 g ? g->sector_sock : "", st->birth_child);
}

/* Every process of st that was started, in stop order, for stop_in_order
 * and the watch of demo run. */
static size_t state_processes(const struct demo_state *st, pid_t *pids, const char **names)
{
	size_t i, n = 0;

	for (i = 0; i < N_MEMBERS; i++)
		if (st->gw[i].pid > 0) {
			pids[n] = st->gw[i].pid;
			names[n++] = NAME_GATEWAY;
		}
	{
		const struct demo_app *apps[] = { &st->portal, &st->id, &st->monitor,
						  &st->consent, &st->treasury, &st->bank };
		for (i = 0; i < sizeof(apps) / sizeof(apps[0]); i++)
			if (apps[i]->pid > 0) {
				pids[n] = apps[i]->pid;
				names[n++] = apps[i]->name;
			}
	}
	for (i = 0; i < N_MEMBERS; i++)
		if (st->gw[i].sector_pid > 0) {
			pids[n] = st->gw[i].sector_pid;
			names[n++] = NAME_SECTOR;
		}
	if (st->registry_pid > 0) {
		pids[n] = st->registry_pid;
		names[n++] = NAME_REGISTRY;
	}
	return n;
}

#define PORTAL_OIDC_CLIENT "portal"
/* The registry's web console as the e-ID's client (docs/console.md), and
 * its secret's file in the registry's data directory. */
#define REGISTRY_OIDC_CLIENT "registry-console"
#define REGISTRY_OIDC_SECRET "console-oidc.secret"

struct demo_officer {
	const char *username, *name, *agency;
};

/* One officer per agency that handles the portal's procedures, and one of
 * the demo bank, which buys data in the marketplace (its invoices page) and
 * handles no procedure. */
static const struct demo_officer officers[] = {
	{ "canbo.btc", "Trần Thị Bích (Đăng ký kinh doanh)", "VN/GOV/BTC" },
	{ "canbo.bca", "Lê Văn Cường (Cảnh sát quản lý hành chính)", "VN/GOV/BCA" },
	{ "nhanvien.nganhang", "Hoàng Thu Hà (" BANK_NAME ", mua dữ liệu)", BANK_MEMBER },
};
#define N_OFFICERS (sizeof(officers) / sizeof(officers[0]))

/* The operations centre's two officials: the national operator's, and the
 * tax department's, who sees only its own exchanges. Their people are
 * picked from the seeded population (pick_officials). */
static const struct {
	const char *role, *member, *title;
} ops_officials[2] = {
	{ "operator", "VN/GOV/VPCP", "Trung tâm điều hành" },
	{ "agency", "VN/GOV/TCT", "Cục Thuế" },
};

/* The registry console's officials (docs/console.md "Roles"): the
 * operations centre's two, the national operator's as the registry's
 * operator and the tax department's as its auditor (read only). */
static const char *const registry_roles[2] = { "operator", "auditor" };

/* A secret made once and kept in a 0600 file (the portal's OIDC client
 * secret): 32 random bytes as hex. */
static int secret_file(const char *path)
{
	uint8_t raw[32];
	char hex[2 * sizeof(raw) + 2];

	if (access(path, F_OK) == 0)
		return 0;
	if (RAND_bytes(raw, sizeof(raw)) != 1) {
		cli_error("no randomness for %s", path);
		return -1;
	}
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(hex + 2 * i, 3, "%02x", raw[i]);
	OPENSSL_cleanse(raw, sizeof(raw));
	if (ndx_file_write_atomic(path, hex, strlen(hex), 0600, 1) != NDX_OK) {
		cli_error("cannot write %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Writes (or rewrites, on a later up) a file the demo derives. */
static int text_file(const char *path, const char *text, mode_t mode)
{
	if (ndx_file_write_atomic(path, text, strlen(text), mode, 0) != NDX_OK) {
		cli_error("cannot write %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* federation.json's registry.console: the web console's address, its e-ID
 * client and its two officials (their password is named by its file). */
static json_t *registry_console_json(const struct demo_state *st)
{
	char url[160], pw[PATH_MAX];
	json_t *list = json_array();

	snprintf(url, sizeof(url), "%s/console/", st->url);
	if (join(pw, st->id.dir, "demo-password"))
		pw[0] = '\0';
	for (size_t i = 0; i < 2; i++)
		json_array_append_new(list, json_pack("{ssssssss}", "pin", st->ops_pin[i], "name",
						      st->ops_name[i], "role", registry_roles[i],
						      "password_file", pw));
	return json_pack("{ssssso}", "url", url, "client", REGISTRY_OIDC_CLIENT, "officials", list);
}

/* What federation.json says of the apps beyond their processes. */
static void demo_describe_apps(const struct demo_state *st, json_t *apps)
{
	json_t *c = json_object_get(apps, "consent");
	char token[PATH_MAX], pw[PATH_MAX];

	json_t *id = json_object_get(apps, "id"), *portal = json_object_get(apps, "portal");
	json_t *mon = json_object_get(apps, "monitor");

	if (c && join(token, st->consent.dir, "admin.token") == 0) {
		json_object_set_new(c, "id", json_string(CONSENT_ID));
		json_object_set_new(c, "admin_token_file", json_string(token));
	}
	if (mon && join(token, st->monitor.dir, "admin.token") == 0) {
		json_object_set_new(mon, "client", json_string(MONITOR_CLIENT));
		json_object_set_new(mon, "admin_token_file", json_string(token));
	}
	/* The password is named by its 0600 file, never written here: this
	 * file lists the federation for anyone allowed to read it. */
	if (join(pw, st->id.dir, "demo-password"))
		pw[0] = '\0';
	if (id)
		json_object_set_new(id, "demo_accounts",
				    json_pack("[{ssssss}{ssssss}]", "pin", st->try_pin,
					      "password_file", pw, "name", st->try_name, "pin",
					      st->other_pin, "password_file", pw, "name",
					      st->other_name));
	if (portal) {
		json_t *list = json_array();

		for (size_t i = 0; i < N_OFFICERS; i++)
			json_array_append_new(list, json_pack("{ssssssss}", "username",
				officers[i].username, "password_file", pw, "name",
				officers[i].name, "agency", officers[i].agency));
		json_object_set_new(portal, "officers", list);
		list = json_array();
		for (size_t i = 0; i < 2; i++)
			json_array_append_new(list, json_pack("{ssssssssss}", "pin",
				st->ops_pin[i], "name", st->ops_name[i], "role",
				ops_officials[i].role, "member", ops_officials[i].member,
				"password_file", pw));
		json_object_set_new(portal, "officials", list);
		{
			char creds[PATH_MAX];

			/* The members' marketplace credentials (0600 files, named
			 * by their member with '/' as '_'): the browser tests
			 * publish a dataset with the provider's. */
			if (join(creds, st->portal.dir, "market-credentials") == 0)
				json_object_set_new(portal, "market_credentials_dir",
						    json_string(creds));
		}
		{
			char ops_url[96];

			snprintf(ops_url, sizeof(ops_url), "%s/ops", st->portal.url);
			json_object_set_new(portal, "ops_url", json_string(ops_url));
		}
		json_object_set_new(portal, "client", json_string(PORTAL_CLIENT));
		if (st->proc_id[0])
			json_object_set_new(portal, "demo_procedure", json_pack("{ssssssss}",
				"id", st->proc_id, "kind", DEMO_PROC_KIND, "subject", st->try_pin,
				"opened_by", officers[DEMO_OFFICER].username));
	}
}

/* federation.json's "try_death": the citizen, the command that registers
 * their death, and those that show its effects, as up prints them. */
static json_t *try_death_json(const struct demo_state *st, const char *self)
{
	char reg[2 * PATH_MAX + 512], pop[PATH_MAX + 128], ins[PATH_MAX + 128];
	char tax[PATH_MAX + 128], eid[2 * PATH_MAX + 128], inbox[256];

	try_death(st, reg, sizeof(reg));
	try_death_effect(st, "population", "citizens", pop, sizeof(pop));
	try_death_effect(st, "insurance", "participants", ins, sizeof(ins));
	try_death_effect(st, "tax", "taxpayers", tax, sizeof(tax));
	try_death_eid(st, self, eid, sizeof(eid));
	try_death_inbox(st, inbox, sizeof(inbox));
	return json_pack("{ss ss ss ss ss ss ss ss}", "pin", st->death_pin, "name", st->death_name,
			 "register", reg, "population", pop, "insurance", ins, "tax", tax,
			 "eid", eid, "inbox", inbox);
}

/* federation.json's "try_residence": the citizen, the command that moves
 * them, the province they move to, and the reads that show the effect. */
static json_t *try_move_json(const struct demo_state *st)
{
	char move[2 * PATH_MAX + 2600], tax[PATH_MAX + 128], ins[PATH_MAX + 128];
	char veh[PATH_MAX + 128], hh[PATH_MAX + 700] = "";
	json_t *body = json_loads(st->move_body, 0, NULL);
	const char *prov = json_string_value(json_object_get(body, "permanent_province"));
	const char *addr = json_string_value(json_object_get(body, "permanent_address"));
	json_t *out;

	try_move(st, move, sizeof(move));
	try_move_effect(st, "tax", tax, sizeof(tax));
	try_move_effect(st, "insurance", ins, sizeof(ins));
	try_move_effect(st, "vehicles", veh, sizeof(veh));
	if (st->move_household[0])
		try_move_household(st, hh, sizeof(hh));
	out = json_pack("{ss ss ss ss ss ss ss ss ss}", "pin", st->move_pin, "name",
			st->move_name, "province", prov ? prov : "", "address", addr ? addr : "",
			"household", hh, "move", move, "tax", tax, "insurance", ins, "vehicles", veh);
	json_decref(body);
	return out;
}

/* federation.json's "try_birth": the mother, her household, the child's
 * name, the command that registers the birth and the reads that show it. */
static json_t *try_birth_json(const struct demo_state *st)
{
	char reg[PATH_MAX + 1400], pop[PATH_MAX + 128], ins[PATH_MAX + 256], portal[96];

	try_birth(st, reg, sizeof(reg));
	try_birth_effect(st, "population", pop, sizeof(pop));
	try_birth_effect(st, "insurance", ins, sizeof(ins));
	snprintf(portal, sizeof(portal), "%s/profile", st->portal.url);
	return json_pack("{ss ss ss ss ss ss ss ss}", "mother_pin", st->birth_mother,
			 "mother_name", st->birth_mother_name, "household", st->birth_household,
			 "child_name", st->birth_child, "register", reg, "population", pop,
			 "insurance", ins, "portal", portal);
}

static json_t *federation_doc(const struct demo_state *st)
{
	const struct demo_paths *p = &st->paths;
	json_t *doc, *jm = json_array(), *js = json_array(), *jg = json_array();
	json_t *jgw = json_array(), *jsec = json_array(), *japps = json_object();
	json_t *procs = json_array();
	char now[NDX_TIME_TEXT_LEN], curl[512], curl_ent[512];
	char self[PATH_MAX], accesses[2 * PATH_MAX + 256];
	const json_t *item;
	size_t i, k;

	ndx_time_format(time(NULL), now);
	/* The applied file's members in the gateways' order, each with its
	 * subsystems; its services without their OpenAPI documents; its grants. */
	for (i = 0; i < N_MEMBERS; i++) {
		json_t *subs = json_array();

		json_array_foreach(fed_items(st->federation, "subsystems"), k, item) {
			const char *sid = json_string_value(json_object_get(item, "id"));

			if (of_member(sid, sites[i].member))
				json_array_append_new(subs, json_string(sid));
		}
		json_array_append_new(jm, json_pack("{sssssO}", "id", sites[i].member, "name",
						    member_name(st, sites[i].member), "subsystems",
						    subs));
		json_decref(subs);
	}
	json_array_foreach(fed_items(st->federation, "services"), k, item) {
		json_t *svc = json_deep_copy(item);
		const char *key;
		json_t *v;
		void *tmp;

		json_object_del(svc, "openapi");
		json_object_foreach_safe(svc, tmp, key, v)
			if (key[0] == '_')
				json_object_del(svc, key);
		json_array_append_new(js, svc);
	}
	json_array_foreach(fed_items(st->federation, "grants"), k, item)
		json_array_append_new(jg, json_pack("{sOsOsOsO}", "client",
						    json_object_get(item, "client"), "service",
						    json_object_get(item, "service"), "methods",
						    json_object_get(item, "methods"), "paths",
						    json_object_get(item, "paths")));
	{
		const struct demo_app *apps[] = { &st->portal, &st->id, &st->monitor,
						  &st->consent, &st->treasury, &st->bank };
		for (i = 0; i < sizeof(apps) / sizeof(apps[0]); i++) {
			if (apps[i]->pid <= 0)
				continue;
			json_object_set_new(japps, apps[i] == &st->portal ? "portal"
						   : apps[i] == &st->id ? "id"
						   : apps[i] == &st->monitor ? "monitor"
						   : apps[i] == &st->treasury ? "treasury"
						   : apps[i] == &st->bank ? "bank" : "consent",
					    json_pack("{sssssIssss}", "name", apps[i]->name, "url",
						      apps[i]->url, "pid", (json_int_t)apps[i]->pid,
						      "log", apps[i]->log, "dir", apps[i]->dir));
			json_array_append_new(procs, json_pack("{sssIssss}", "name", apps[i]->name,
				"pid", (json_int_t)apps[i]->pid, "log", apps[i]->log, "url",
				apps[i]->url));
		}
		demo_describe_apps(st, japps);
	}
	for (i = 0; i < N_MEMBERS; i++) {
		const struct demo_gateway *g = &st->gw[i];

		json_array_append_new(jgw, json_pack("{ss ss ss ss ss ss ss ss ss sI ss ss}",
			"member", g->site->member, "code", GW_CODE, "consumer_url", g->consumer_url,
			"gateway_url", g->address, "config", g->config, "data_dir", g->data_dir,
			"sign_pub", g->sign_pub, "sign_key_id", g->key_id, "tls_cert", g->tls_cert,
			"pid", (json_int_t)g->pid, "log", g->log, "console_url", g->console_url));
		json_array_append_new(procs, json_pack("{sssIssss}", "name", NAME_GATEWAY,
			"pid", (json_int_t)g->pid, "log", g->log, "url", g->consumer_url));
	}
	for (i = 0; i < N_MEMBERS; i++) {
		const struct demo_gateway *g = &st->gw[i];

		if (g->sector == NULL)
			continue;
		json_array_append_new(jsec, json_pack("{ss ss ss ss ss sI ss}", "member", g->site->member,
			"sector", g->sector, "url", g->sector_url, "socket", g->sector_sock,
			"db", g->sector_db, "pid", (json_int_t)g->sector_pid, "log", g->sector_log));
		json_array_append_new(procs, json_pack("{sssIssss}", "name", NAME_SECTOR,
			"pid", (json_int_t)g->sector_pid, "log", g->sector_log, "url",
			g->sector_url));
	}
	json_array_append_new(procs, json_pack("{sssIssss}", "name", NAME_REGISTRY, "pid",
					       (json_int_t)st->registry_pid, "log", p->log, "url",
					       st->url));
	try_curl(st, curl, sizeof(curl));
	try_enterprise_curl(st, curl_ent, sizeof(curl_ent));
	cli_self_path(self, sizeof(self));
	try_accesses(st, self, accesses, sizeof(accesses));
	doc = json_pack("{sssssss{sssssssssIss}sssIsssbsssososososososossss}",
			"format", FEDERATION_FORMAT,
			"instance", INSTANCE,
			"dir", p->dir,
			"registry",
			"url", st->url, "data_dir", p->registry_dir, "anchor", p->anchor,
			"admin_token_file", p->token, "pid", (json_int_t)st->registry_pid,
			"log", p->log,
			"conf_dir", p->conf,
			"conf_version", (json_int_t)st->conf_version,
			"started_at", now,
			"stopped", 0,
			"sector_dir", p->sector,
			"members", jm, "services", js, "grants", jg,
			"gateways", jgw, "sectors", jsec, "apps", japps,
			"processes", procs,
			"try_exchange", curl, "try_enterprise", curl_ent);
	if (doc) {
		json_object_set_new(doc, "try_accesses", json_string(accesses));
		try_id_token(st, self, accesses, sizeof(accesses));
		json_object_set_new(doc, "try_id_token", json_string(accesses));
		json_object_set_new(doc, "try_death", try_death_json(st, self));
		if (st->move_pin[0])
			json_object_set_new(doc, "try_residence", try_move_json(st));
		if (st->birth_mother[0])
			json_object_set_new(doc, "try_birth", try_birth_json(st));
		json_object_set_new(json_object_get(doc, "registry"), "console",
				    registry_console_json(st));
	}
	return doc;
}

/* ---- populating the registry -------------------------------------------- */

/* POSTs body (stolen) to path; "already there" (409) counts as success. */
static int ensure(const struct cli_api *api, const char *path, json_t *body, const char *what)
{
	json_t *out = NULL;
	char err[1024];
	long status = 0;
	int rc;

	if (body == NULL) {
		cli_error("out of memory");
		return -1;
	}
	rc = cli_api_call(api, "POST", path, body, &status, &out, err, sizeof(err));
	json_decref(body);
	json_decref(out);
	if (rc == NDX_OK || (rc == NDX_EPERM && status == 409))
		return 0;
	cli_error("cannot create %s: %s", what, err);
	return -1;
}

/* A JSON document a sector serves at url/path; NULL on error (printed). */
static json_t *sector_get(const char *url, const char *path)
{
	struct cli_http_request req = { 0 };
	struct cli_http_response resp;
	char target[PATH_MAX + 256], err[256];
	json_t *doc = NULL;
	json_error_t jerr;

	snprintf(target, sizeof(target), "%s%s", url, path);
	req.method = "GET";
	req.url = target;
	req.timeout_s = 10;
	if (cli_http(&req, &resp, err, sizeof(err)) != NDX_OK) {
		cli_error("cannot read %s: %s", target, err);
	} else if (resp.status != 200) {
		cli_error("%s answered %ld", target, resp.status);
	} else {
		doc = json_loadb(resp.body, resp.len, 0, &jerr);
		if (!json_is_object(doc)) {
			cli_error("%s did not answer a JSON object", target);
			json_decref(doc);
			doc = NULL;
		}
	}
	cli_http_response_free(&resp);
	return doc;
}

/* Registers the demo's consent service with its public key, so that the
 * provider gateways trust the consents it signs and poll its revocations. */
static int ensure_consent_service(const struct demo_state *st, const struct cli_api *api)
{
	char pub[PATH_MAX], what[NDX_ID_TEXT_MAX + 32];
	struct ndx_key *key = NULL;
	char *pem;
	int rc;

	if (join(pub, st->consent.dir, "consent-sign.pub"))
		return -1;
	if ((rc = ndx_key_load(pub, &key)) != NDX_OK) {
		cli_error("cannot load the consent service's key %s: %s", pub, ndx_strerror(rc));
		return -1;
	}
	pem = ndx_key_public_pem(key);
	ndx_key_free(key);
	if (!pem) {
		cli_error("out of memory");
		return -1;
	}
	snprintf(what, sizeof(what), "consent service %s", CONSENT_ID);
	rc = ensure(api, "/api/consent-services",
		    json_pack("{ssssss}", "id", CONSENT_ID, "url", st->consent.url,
			      "sign_public_key", pem), what);
	free(pem);
	return rc;
}

/* Makes the registry match the federation file (fed_apply_text, as `ndx
 * federation apply` does): on a later up, what an operator changed in the
 * sections the file declares is put back as the file has it. Then the
 * consent service, whose key each demo directory makes anew. */
static int populate(const struct demo_state *st, const struct cli_api *api, size_t *n_services,
		    size_t *n_grants)
{
	size_t changes = 0;

	if (fed_apply_text(api, st->fed_file, st->fed_text, st->fed_len, 0, NULL, &changes) !=
	    CLI_EXIT_OK)
		return -1;
	*n_services = json_array_size(fed_items(st->federation, "services"));
	*n_grants = json_array_size(fed_items(st->federation, "grants"));
	return ensure_consent_service(st, api);
}

/* Registers the demo's e-ID as an id provider of the federation: its
 * issuer (the URL `ndx-id serve --issuer` gets) and the public half of its
 * signing key, so that the signed configuration carries the key the
 * provider gateways check citizens' ID tokens with (docs/protocol.md). A
 * registration of the same key under another issuer (an earlier
 * --port-base) or of another key under this issuer is replaced. */
static int ensure_id_provider(const struct demo_state *st, const struct cli_api *api)
{
	char keyfile[PATH_MAX], kid[NDX_KEY_ID_HEX_LEN + 1], err[1024], what[128];
	char enc[3 * 256], path[3 * 256 + 64];
	uint8_t raw[NDX_ED25519_PUBLIC_LEN];
	struct ndx_key *key = NULL;
	json_t *list = NULL, *p;
	char *b64 = NULL;
	int have = 0, rc = -1;
	size_t i;

	if (join(keyfile, st->id.dir, "id-sign.key"))
		return -1;
	if ((rc = ndx_key_load(keyfile, &key)) != NDX_OK) {
		cli_error("cannot load the e-ID's signing key %s: %s", keyfile, ndx_strerror(rc));
		return -1;
	}
	rc = -1;
	ndx_key_public_raw(key, raw);
	ndx_key_id(key, kid);
	ndx_key_free(key);
	if (!(b64 = ndx_b64_encode(raw, sizeof(raw), 0))) {
		cli_error("out of memory");
		return -1;
	}
	if (cli_api_call(api, "GET", "/api/id-providers", NULL, NULL, &list, err, sizeof(err)) !=
	    NDX_OK) {
		cli_error("cannot list the id providers: %s", err);
		goto out;
	}
	json_array_foreach(json_object_get(list, "id_providers"), i, p) {
		const char *iss = json_string_value(json_object_get(p, "issuer"));
		int ours = iss && strcmp(iss, st->id.url) == 0;
		int same_key = same_string(p, "sign_key_id", kid);
		json_t *gone = NULL;

		if (!iss || (ours && same_key)) {
			have |= ours;
			continue;
		}
		if (!ours && !same_key)
			continue;
		if (ndx_pct_encode(iss, strlen(iss), enc, sizeof(enc)) < 0)
			continue;
		snprintf(path, sizeof(path), "/api/id-providers?issuer=%s", enc);
		if (cli_api_call(api, "DELETE", path, NULL, NULL, &gone, err, sizeof(err)) !=
		    NDX_OK) {
			cli_error("cannot replace the id provider %s: %s", iss, err);
			json_decref(gone);
			goto out;
		}
		json_decref(gone);
	}
	snprintf(what, sizeof(what), "id provider %s", st->id.url);
	rc = have ? 0 : ensure(api, "/api/id-providers",
			       json_pack("{ssss}", "issuer", st->id.url, "sign_key", b64), what);
out:
	json_decref(list);
	free(b64);
	return rc;
}

/* ---- the portal and the e-ID, driven as a browser drives them ------------ */

#define WEB_VALUE_MAX 512

struct web_call {
	const char *method, *url;
	const char *form;        /* application/x-www-form-urlencoded body, or NULL */
	const json_t *json;      /* JSON body, or NULL */
	const char *cookie;      /* "name=value" to send, or NULL */
	const char *csrf;        /* X-CSRF-Token, or NULL */
	const char *want_header; /* response header to capture */
};

/* One request of the sign-in or the portal's API; 0 when an HTTP answer
 * came (resp filled, to be freed), -1 with the reason printed. */
static int web(const struct web_call *w, struct cli_http_response *resp)
{
	char cookie_h[WEB_VALUE_MAX + 16], csrf_h[WEB_VALUE_MAX + 16], err[512];
	const char *headers[3] = { NULL, NULL, NULL };
	struct cli_http_request req = { 0 };
	char *body = w->json ? json_dumps(w->json, JSON_COMPACT) : NULL;
	size_t n = 0;
	int rc;

	memset(resp, 0, sizeof(*resp));
	if (w->json && !body) {
		cli_error("out of memory");
		return -1;
	}
	if (w->cookie) {
		snprintf(cookie_h, sizeof(cookie_h), "Cookie: %s", w->cookie);
		headers[n++] = cookie_h;
	}
	if (w->csrf) {
		snprintf(csrf_h, sizeof(csrf_h), "X-CSRF-Token: %s", w->csrf);
		headers[n++] = csrf_h;
	}
	req.method = w->method;
	req.url = w->url;
	req.headers = headers;
	req.want_header = w->want_header;
	req.timeout_s = 30;
	if (w->form) {
		req.body = w->form;
		req.body_len = strlen(w->form);
		req.content_type = "application/x-www-form-urlencoded";
	} else if (body) {
		req.body = body;
		req.body_len = strlen(body);
	}
	rc = cli_http(&req, resp, err, sizeof(err));
	free(body);
	if (rc != NDX_OK) {
		cli_error("cannot %s %s: %s", w->method, w->url, err);
		return -1;
	}
	return 0;
}

/* The value of the hidden form input `name` of an HTML page into out. */
static int hidden_input(const char *html, const char *name, char *out, size_t cap)
{
	char needle[64];
	const char *p, *end;

	snprintf(needle, sizeof(needle), "name=\"%s\" value=\"", name);
	if (!html || !(p = strstr(html, needle)))
		return -1;
	p += strlen(needle);
	if (!(end = strchr(p, '"')) || (size_t)(end - p) >= cap)
		return -1;
	snprintf(out, cap, "%.*s", (int)(end - p), p);
	return 0;
}

/* Appends "&key=value" to a form body of cap bytes, the value encoded as
 * application/x-www-form-urlencoded wants it: every byte but ALPHA, DIGIT
 * and "-._~" as %XX ('+' included, which a form reads as a space). */
static int form_add(char *form, size_t cap, const char *key, const char *value)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t used = strlen(form);
	int n = snprintf(form + used, cap - used, "%s%s=", used ? "&" : "", key);

	if (n < 0 || (size_t)n >= cap - used)
		return -1;
	used += (size_t)n;
	for (const unsigned char *v = (const unsigned char *)value; *v; v++) {
		if (used + 4 > cap)
			return -1;
		if ((*v >= 'A' && *v <= 'Z') || (*v >= 'a' && *v <= 'z') ||
		    (*v >= '0' && *v <= '9') || strchr("-._~", *v)) {
			form[used++] = (char)*v;
		} else {
			form[used++] = '%';
			form[used++] = hex[*v >> 4];
			form[used++] = hex[*v & 15];
		}
	}
	form[used] = '\0';
	return 0;
}

/* Signs in at the e-ID as pin with the demo password, from the
 * authorization request url (the sign-in page), as a citizen would; *next
 * is where the e-ID sends the browser back (the redirect URI with the
 * code), owned by the caller. */
static int eid_sign_in(const struct demo_state *st, const char *url, const char *pin,
		       char **next)
{
	struct cli_http_response resp;
	char tx[WEB_VALUE_MAX], lang[16], form[4 * WEB_VALUE_MAX], login[96];
	struct web_call page = { .method = "GET", .url = url };
	struct web_call post = { .method = "POST", .url = login, .form = form,
				 .want_header = "Location" };

	*next = NULL;
	if (web(&page, &resp) != 0)
		return -1;
	if (resp.status != 200 || hidden_input(resp.body, "tx", tx, sizeof(tx)) != 0) {
		cli_error("the e-ID did not show its sign-in page (%ld; log: %s)", resp.status,
			  st->id.log);
		cli_http_response_free(&resp);
		return -1;
	}
	if (hidden_input(resp.body, "lang", lang, sizeof(lang)) != 0)
		snprintf(lang, sizeof(lang), "vi");
	cli_http_response_free(&resp);
	form[0] = '\0';
	snprintf(login, sizeof(login), "%s/login", st->id.url);
	if (form_add(form, sizeof(form), "tx", tx) || form_add(form, sizeof(form), "lang", lang) ||
	    form_add(form, sizeof(form), "pin", pin) ||
	    form_add(form, sizeof(form), "password", DEMO_PASSWORD)) {
		cli_error("the e-ID's sign-in form is too long");
		return -1;
	}
	if (web(&post, &resp) != 0)
		return -1;
	if (resp.status == 403) {
		/* docs/id.md "Events": a disabled account, said after the
		 * password was right. */
		cli_error("the e-ID refused to sign %s in: the account is disabled%s (403)", pin,
			  resp.body && strstr(resp.body, "khai tử")
				  ? " because the death of its holder has been registered"
				  : "");
		cli_http_response_free(&resp);
		return -1;
	}
	if (resp.status != 302 || !resp.header) {
		cli_error("the e-ID did not sign %s in (%ld; log: %s)", pin, resp.status,
			  st->id.log);
		cli_http_response_free(&resp);
		return -1;
	}
	*next = resp.header;
	resp.header = NULL;
	cli_http_response_free(&resp);
	return 0;
}

/* The "name=value" of a Set-Cookie value into out. */
static int cookie_of(const char *set_cookie, char *out, size_t cap)
{
	size_t n = set_cookie ? strcspn(set_cookie, ";") : 0;

	if (n == 0 || n >= cap || !memchr(set_cookie, '=', n))
		return -1;
	snprintf(out, cap, "%.*s", (int)n, set_cookie);
	return 0;
}

/* The CSRF token of a portal session (GET /api/session) into csrf. */
static int portal_csrf(const struct demo_state *st, const char *cookie, char *csrf, size_t cap)
{
	char url[128];
	struct web_call w = { .method = "GET", .url = url, .cookie = cookie };
	struct cli_http_response resp;
	json_t *doc;
	const char *v;
	int rc = -1;

	snprintf(url, sizeof(url), "%s/api/session", st->portal.url);
	if (web(&w, &resp) != 0)
		return -1;
	doc = resp.status == 200 ? json_loadb(resp.body, resp.len, 0, NULL) : NULL;
	v = json_string_value(json_object_get(doc, "csrf"));
	if (v && strlen(v) < cap) {
		snprintf(csrf, cap, "%s", v);
		rc = 0;
	} else {
		cli_error("the portal has no session for the demo (%ld; log: %s)", resp.status,
			  st->portal.log);
	}
	json_decref(doc);
	cli_http_response_free(&resp);
	return rc;
}

/* The portal's pre-session cookie ("name=value" into cookie) and its token
 * (GET /auth/officer): the e-ID login is bound to that cookie, and the
 * officers' sign-in sends the token back in X-CSRF-Token. */
static int portal_presession(const struct demo_state *st, char *cookie, size_t cap,
			     char *token, size_t token_cap)
{
	char url[128];
	struct web_call w = { .method = "GET", .url = url, .want_header = "Set-Cookie" };
	struct cli_http_response resp;
	json_t *doc;
	const char *v;
	int rc = -1;

	snprintf(url, sizeof(url), "%s/auth/officer", st->portal.url);
	if (web(&w, &resp) != 0)
		return -1;
	doc = resp.status == 200 ? json_loadb(resp.body, resp.len, 0, NULL) : NULL;
	v = json_string_value(json_object_get(doc, "csrf"));
	if (v && strlen(v) < token_cap && cookie_of(resp.header, cookie, cap) == 0) {
		snprintf(token, token_cap, "%s", v);
		rc = 0;
	} else {
		cli_error("the portal gave no sign-in token (%ld; log: %s)", resp.status,
			  st->portal.log);
	}
	json_decref(doc);
	cli_http_response_free(&resp);
	return rc;
}

/* A portal session of the citizen pin, signed in through the e-ID as in a
 * browser: /auth/login, the e-ID's sign-in page, back to /auth/callback. */
static int portal_citizen(const struct demo_state *st, const char *pin, char *cookie,
			  size_t cap)
{
	char url[128], *next = NULL, pre[WEB_VALUE_MAX], token[WEB_VALUE_MAX];
	struct web_call w = { .method = "GET", .url = url, .cookie = pre,
			      .want_header = "Location" };
	struct cli_http_response resp;
	int rc = -1;

	if (portal_presession(st, pre, sizeof(pre), token, sizeof(token)) != 0)
		return -1;
	snprintf(url, sizeof(url), "%s/auth/login", st->portal.url);
	if (web(&w, &resp) != 0)
		return -1;
	if (resp.status != 302 || !resp.header ||
	    strncmp(resp.header, st->id.url, strlen(st->id.url)) != 0) {
		cli_error("the portal did not send the sign-in to the e-ID (%ld; log: %s)",
			  resp.status, st->portal.log);
		cli_http_response_free(&resp);
		return -1;
	}
	rc = eid_sign_in(st, resp.header, pin, &next);
	cli_http_response_free(&resp);
	if (rc != 0)
		return -1;
	w.url = next;
	w.want_header = "Set-Cookie";
	rc = web(&w, &resp);
	free(next);
	if (rc != 0)
		return -1;
	rc = resp.status == 302 ? cookie_of(resp.header, cookie, cap) : -1;
	if (rc != 0)
		cli_error("the portal did not open a session for %s (%ld; log: %s)", pin,
			  resp.status, st->portal.log);
	cli_http_response_free(&resp);
	return rc;
}

/* A portal session of officer o (POST /auth/officer). */
static int portal_officer(const struct demo_state *st, const struct demo_officer *o,
			  char *cookie, size_t cap)
{
	char url[128], pre[WEB_VALUE_MAX], token[WEB_VALUE_MAX];
	json_t *body = json_pack("{ssss}", "username", o->username, "password", DEMO_PASSWORD);
	struct web_call w = { .method = "POST", .url = url, .json = body, .cookie = pre,
			      .csrf = token, .want_header = "Set-Cookie" };
	struct cli_http_response resp;
	int rc;

	snprintf(url, sizeof(url), "%s/auth/officer", st->portal.url);
	rc = body && portal_presession(st, pre, sizeof(pre), token, sizeof(token)) == 0
		     ? web(&w, &resp) : -1;
	json_decref(body);
	if (rc != 0)
		return -1;
	rc = resp.status == 200 ? cookie_of(resp.header, cookie, cap) : -1;
	if (rc != 0)
		cli_error("the portal did not sign the officer %s in (%ld; log: %s)", o->username,
			  resp.status, st->portal.log);
	cli_http_response_free(&resp);
	return rc;
}

/* The id of the citizen's demo procedure filed by an earlier up into id:
 * 1 found, 0 none, -1 error (printed). */
static int demo_procedure_filed(const struct demo_state *st, const char *cookie, char *id,
				size_t cap)
{
	char url[128];
	struct web_call w = { .method = "GET", .url = url, .cookie = cookie };
	struct cli_http_response resp;
	json_t *doc, *proc;
	size_t i;
	int found = -1;

	snprintf(url, sizeof(url), "%s/api/procedures", st->portal.url);
	if (web(&w, &resp) != 0)
		return -1;
	doc = resp.status == 200 ? json_loadb(resp.body, resp.len, 0, NULL) : NULL;
	if (!json_is_array(json_object_get(doc, "procedures"))) {
		cli_error("the portal did not list the citizen's procedures (%ld; log: %s)",
			  resp.status, st->portal.log);
		goto out;
	}
	found = 0;
	json_array_foreach(json_object_get(doc, "procedures"), i, proc) {
		const char *pid = json_string_value(json_object_get(proc, "id"));

		if (pid && strlen(pid) < cap && same_string(proc, "kind", DEMO_PROC_KIND) &&
		    same_string(json_object_get(proc, "fields"), "reason", DEMO_PROC_REASON)) {
			snprintf(id, cap, "%s", pid);
			found = 1;
			break;
		}
	}
out:
	json_decref(doc);
	cli_http_response_free(&resp);
	return found;
}

/* Files the demo's residence change for the signed-in citizen; its id into
 * id. */
static int demo_procedure_file(const struct demo_state *st, const char *cookie,
			       const char *csrf, char *id, size_t cap)
{
	char url[128];
	json_t *body = json_pack("{sss{ssssssss}}", "kind", DEMO_PROC_KIND, "fields", "province",
				 DEMO_PROC_PROVINCE, "commune", DEMO_PROC_COMMUNE, "address",
				 DEMO_PROC_ADDRESS, "reason", DEMO_PROC_REASON);
	struct web_call w = { .method = "POST", .url = url, .json = body, .cookie = cookie,
			      .csrf = csrf };
	struct cli_http_response resp;
	json_t *doc = NULL;
	const char *v;
	int rc;

	snprintf(url, sizeof(url), "%s/api/procedures", st->portal.url);
	rc = body ? web(&w, &resp) : -1;
	json_decref(body);
	if (rc != 0)
		return -1;
	doc = resp.status == 201 ? json_loadb(resp.body, resp.len, 0, NULL) : NULL;
	v = json_string_value(json_object_get(doc, "id"));
	rc = v && strlen(v) < cap ? 0 : -1;
	if (rc == 0)
		snprintf(id, cap, "%s", v);
	else
		cli_error("the portal did not take the demo's procedure (%ld %.200s; log: %s)",
			  resp.status, resp.body ? resp.body : "", st->portal.log);
	json_decref(doc);
	cli_http_response_free(&resp);
	return rc;
}

/* The officer opens the procedure in the portal (GET /api/procedures/{id}):
 * the portal reads the applicant's population record through the exchange
 * as that officer, for that procedure. */
static int demo_procedure_open(const struct demo_state *st, const struct demo_officer *o,
			       const char *id)
{
	char url[192], cookie[WEB_VALUE_MAX];
	struct web_call w = { .method = "GET", .url = url, .cookie = cookie };
	struct cli_http_response resp;
	json_t *doc;
	int rc;

	if (portal_officer(st, o, cookie, sizeof(cookie)) != 0)
		return -1;
	snprintf(url, sizeof(url), "%s/api/procedures/%s", st->portal.url, id);
	if (web(&w, &resp) != 0)
		return -1;
	doc = resp.status == 200 ? json_loadb(resp.body, resp.len, 0, NULL) : NULL;
	rc = json_is_object(json_object_get(doc, "applicant_record")) ? 0 : -1;
	if (rc != 0)
		cli_error("the officer %s could not read the applicant of procedure %s through "
			  "the portal (%ld; logs: %s, %s)", o->username, id, resp.status,
			  st->portal.log, gateway_of(st, PORTAL_CLIENT)->log);
	json_decref(doc);
	cli_http_response_free(&resp);
	return rc;
}

/* Leaves in the portal what the printed citizen's access list is to show
 * beside the tax department's reads: the citizen files a change of
 * residence (signed in through the e-ID), and an officer of the agency
 * that handles it opens the file, which reads the citizen's record with
 * the officer's name and the procedure (X-Road-UserId, X-Road-Issue). Once
 * per demo directory: a later up finds the procedure filed and reads
 * nothing. */
static int demo_officer_read(struct demo_state *st)
{
	char cookie[WEB_VALUE_MAX], csrf[WEB_VALUE_MAX];
	int rc;

	if (portal_citizen(st, st->try_pin, cookie, sizeof(cookie)) != 0)
		return -1;
	rc = demo_procedure_filed(st, cookie, st->proc_id, sizeof(st->proc_id));
	if (rc != 0)
		return rc < 0 ? -1 : 0;
	if (portal_csrf(st, cookie, csrf, sizeof(csrf)) != 0 ||
	    demo_procedure_file(st, cookie, csrf, st->proc_id, sizeof(st->proc_id)) != 0)
		return -1;
	return demo_procedure_open(st, &officers[DEMO_OFFICER], st->proc_id);
}

/* ---- up / down / run -------------------------------------------------- */

static int refuse_if_running(const struct demo_paths *p)
{
	pid_t pids[MAX_PROCS];
	const char *names[MAX_PROCS];
	json_t *fed = NULL;
	size_t n, i;
	int rc = read_federation(p->fed, &fed);

	if (rc == 1)
		return 0;
	if (rc < 0)
		return -1;
	n = fed_processes(fed, pids, names, MAX_PROCS);
	for (i = 0; i < n; i++) {
		if (proc_alive(pids[i], names[i])) {
			cli_error("the demo federation in %s is already running (%s, pid %ld); "
				  "stop it first with: ndx demo down --dir %s",
				  p->dir, names[i], (long)pids[i], p->dir);
			json_decref(fed);
			return -1;
		}
	}
	json_decref(fed);
	return 0;
}

/* Without --port-base a federation restarts on the port it was initialised
 * with, so the URL in its anchor and configuration stays true. */
static unsigned initialised_port(const char *anchor_path)
{
	struct ndx_anchor *anchor = NULL;
	const char *url, *colon;
	unsigned port = DEFAULT_PORT;
	char err[256];
	long v;
	char *end;

	if (access(anchor_path, F_OK) != 0 ||
	    ndx_anchor_load(anchor_path, &anchor, err, sizeof(err)) != NDX_OK)
		return port;
	url = ndx_anchor_registry_url(anchor);
	colon = url ? strrchr(url, ':') : NULL;
	if (colon != NULL && strncmp(url, "http://127.0.0.1:", 17) == 0) {
		errno = 0;
		v = strtol(colon + 1, &end, 10);
		if (!errno && end != colon + 1 && (*end == '\0' || *end == '/') && v > 0 && v < 65536)
			port = (unsigned)v;
	}
	ndx_anchor_free(anchor);
	return port;
}

/* A port the federation needs is taken: say which and what for. */
static int ports_free(const struct demo_state *st, unsigned port)
{
	size_t i;

	if (port_in_use(port)) {
		cli_error("127.0.0.1:%u (the registry's port) is in use; stop what uses it or "
			  "choose another --port-base", port);
		return -1;
	}
	for (i = 0; i < N_MEMBERS; i++) {
		const struct demo_gateway *g = &st->gw[i];
		unsigned want[3] = { g->consumer_port, g->gateway_port, g->console_port };
		static const char *const what[3] = { "consumer port", "gateway port",
						     "console port" };
		size_t k;

		for (k = 0; k < 3; k++) {
			if (want[k] != 0 && port_in_use(want[k])) {
				cli_error("127.0.0.1:%u (the %s of %s) is in use; stop what uses it "
					  "or choose another --port-base", want[k], what[k], g->site->member);
				return -1;
			}
		}
	}
	return 0;
}

static int app_ports_free(const struct demo_state *st)
{
	const struct demo_app *apps[] = { &st->consent, &st->id, &st->portal, &st->monitor,
					  &st->treasury, &st->bank };

	for (size_t i = 0; i < sizeof(apps) / sizeof(apps[0]); i++)
		if (port_in_use(apps[i]->port)) {
			cli_error("127.0.0.1:%u (the port of %s) is in use; stop what uses it or "
				  "choose another --port-base", apps[i]->port, apps[i]->name);
			return -1;
		}
	return 0;
}

static off_t log_size(const char *log)
{
	struct stat sb;

	return stat(log, &sb) == 0 ? sb.st_size : 0;
}

static void stop_state(struct demo_state *st)
{
	pid_t pids[MAX_PROCS];
	const char *names[MAX_PROCS];
	size_t n = state_processes(st, pids, names);

	stop_in_order(pids, names, n);
}

/* Waits until a started gateway holds the configuration up just made
 * and its gateway port accepts connections, so that an exchange made as
 * soon as up returns works. A gateway restarted with a last good
 * configuration that is still valid keeps it until its next poll; but up
 * may just have re-registered gateways (another --port-base), so such a
 * gateway is told to fetch now (SIGHUP, docs/gateway.md). */
static int wait_current(const struct demo_gateway *g, const char *what, long long version,
			long start)
{
	long long have;
	int hupped = 0;

	for (;;) {
		have = healthz_conf_version(g->consumer_url);
		if (have >= version && port_in_use(g->gateway_port))
			return 0;
		if (have >= 0 && have < version && !hupped) {
			kill(g->pid, SIGHUP);
			hupped = 1;
		}
		if (!proc_alive(g->pid, NAME_GATEWAY)) {
			cli_error("%s stopped before it was ready (log: %s)", what, g->log);
			return -1;
		}
		if (now_ms() - start > READY_TIMEOUT_MS) {
			if (have < version)
				cli_error("%s did not take up configuration version %lld within %d s "
					  "(it holds %lld; log: %s)", what, version,
					  READY_TIMEOUT_MS / 1000, have, g->log);
			else
				cli_error("%s did not open its gateway port 127.0.0.1:%u within %d s "
					  "(log: %s)", what, g->gateway_port, READY_TIMEOUT_MS / 1000,
					  g->log);
			return -1;
		}
		sleep_ms(POLL_MS);
	}
}

/* Starts every agency's gateway and waits, on one
 * deadline, until each answers /healthz. */
static int start_gateways(struct demo_state *st, const char *gateway_bin)
{
	char what[NDX_ID_TEXT_MAX + 32];
	size_t i;
	long start;

	for (i = 0; i < N_MEMBERS; i++) {
		struct demo_gateway *g = &st->gw[i];
		char *argv[] = { (char *)gateway_bin, "--config", g->config, NULL };

		g->log_from = log_size(g->log);
		g->pid = spawn(argv, g->log, 1);
		if (g->pid < 0) {
			g->pid = 0;
			return -1;
		}
	}
	start = now_ms();
	for (i = 0; i < N_MEMBERS; i++) {
		struct demo_gateway *g = &st->gw[i];

		snprintf(what, sizeof(what), "the ndx-gateway of %s", g->site->member);
		if (wait_ready(g->pid, what, g->consumer_url, g->log, g->log_from,
			       "consumer port listening on", start) != 0 ||
		    wait_current(g, what, (long long)st->conf_version, start) != 0)
			return -1;
	}
	return 0;
}

/* ---- consent service, e-ID, portal -------------------------------------- */

static int app_setup(struct demo_app *a, const char *name, const struct demo_paths *p,
		     const char *subdir, unsigned port)
{
	char logname[64];

	a->name = name;
	a->port = port;
	snprintf(a->url, sizeof(a->url), "http://127.0.0.1:%u", port);
	snprintf(logname, sizeof(logname), "%s.log", name);
	return join(a->dir, p->dir, subdir) || join(a->log, p->logs, logname) ? -1 : 0;
}

static int app_spawn(struct demo_app *a, char *const argv[])
{
	a->log_from = log_size(a->log);
	a->pid = spawn(argv, a->log, 1);
	if (a->pid < 0) {
		a->pid = 0;
		return -1;
	}
	return 0;
}

/* The consent service VN/GOV/VPCP/consent: initialised the first time
 * (its signing key and admin token in its directory), then served. */
static int start_consent(struct demo_state *st, const char *bin)
{
	struct demo_app *a = &st->consent;
	char key[PATH_MAX], listen[32];

	if (join(key, a->dir, "consent-sign.key"))
		return -1;
	if (access(key, F_OK) != 0) {
		char *argv[] = { (char *)bin, "init", "--data", a->dir, "--id", CONSENT_ID, NULL };

		if (run_to_end(argv, a->log, "ndx-consent init") != 0)
			return -1;
	}
	snprintf(listen, sizeof(listen), "127.0.0.1:%u", a->port);
	{
		char *argv[] = { (char *)bin, "serve", "--data", a->dir, "--listen", listen, NULL };

		if (app_spawn(a, argv) != 0)
			return -1;
	}
	return wait_ready(a->pid, "ndx-consent", a->url, a->log, a->log_from, "listening on",
			  now_ms());
}

/* The national e-ID before it serves: initialised the first time (its
 * signing key, which up then registers as an id provider), sign-in
 * accounts for the first DEMO_ACCOUNTS citizens and the two the printed
 * lines are about (every account with DEMO_PASSWORD), the portal
 * registered as its OIDC client. */
static int prepare_id(struct demo_state *st, const char *bin)
{
	struct demo_app *a = &st->id;
	char key[PATH_MAX], pw[PATH_MAX], secret[PATH_MAX], pop_db[PATH_MAX];
	char redirect[96], logout[96];

	if (join(key, a->dir, "id-sign.key") || join(pw, a->dir, "demo-password") ||
	    join(secret, st->portal.dir, "oidc-client.secret") ||
	    join(pop_db, st->paths.sector, "population.db"))
		return -1;
	if (ndx_mkdirs(st->portal.dir, 0700) != NDX_OK) {
		cli_error("cannot create %s: %s", st->portal.dir, strerror(errno));
		return -1;
	}
	if (access(key, F_OK) != 0) {
		char *argv[] = { (char *)bin, "init", "--data", a->dir, NULL };

		if (run_to_end(argv, a->log, "ndx-id init") != 0)
			return -1;
	}
	if (text_file(pw, DEMO_PASSWORD "\n", 0600) || secret_file(secret))
		return -1;
	{
		char *argv[] = { (char *)bin, "accounts", "import", "--data", a->dir,
				 "--population-db", pop_db, "--limit", DEMO_ACCOUNTS, "--pin",
				 st->try_pin, "--pin", st->other_pin, "--pin", st->death_pin,
				 "--pin", st->birth_mother, "--pin", st->ops_pin[0], "--pin",
				 st->ops_pin[1], "--password-file", pw,
				 "--cost", "min", NULL };

		if (run_to_end(argv, a->log, "ndx-id accounts import") != 0)
			return -1;
	}
	snprintf(redirect, sizeof(redirect), "%s/auth/callback", st->portal.url);
	snprintf(logout, sizeof(logout), "%s/", st->portal.url);
	{
		char *argv[] = { (char *)bin, "client", "add", "--data", a->dir, "--client-id",
				 PORTAL_OIDC_CLIENT, "--secret-file", secret, "--redirect-uri",
				 redirect, "--post-logout-redirect-uri", logout, "--client-name",
				 "Cổng Dịch vụ công quốc gia", "--client-name-en",
				 "National Public Service Portal", NULL };

		if (run_to_end(argv, a->log, "ndx-id client add") != 0)
			return -1;
	}
	/* The registry's console signs its officials in through the same e-ID. */
	snprintf(redirect, sizeof(redirect), "%s/console/auth/callback", st->url);
	snprintf(logout, sizeof(logout), "%s/console/", st->url);
	if (join(secret, st->paths.registry_dir, REGISTRY_OIDC_SECRET))
		return -1;
	{
		char *argv[] = { (char *)bin, "client", "add", "--data", a->dir, "--client-id",
				 REGISTRY_OIDC_CLIENT, "--secret-file", secret, "--redirect-uri",
				 redirect, "--post-logout-redirect-uri", logout, "--client-name",
				 "Bảng điều khiển cơ quan đăng ký", "--client-name-en",
				 "Registry console", NULL };

		if (run_to_end(argv, a->log, "ndx-id client add") != 0)
			return -1;
	}
	return 0;
}

/* Each gateway's web console (docs/gateway-console.md): a client of its
 * own at the e-ID (redirect to its /console/auth/callback), a secret, and
 * its officials: the member's operations official as its administrator
 * (the national operator's on VPCP's gateway, the tax department's on
 * TCT's) and the national operator as auditor of every other gateway. */
static int prepare_gateway_consoles(struct demo_state *st, const char *bin)
{
	struct demo_app *a = &st->id;
	char redirect[128], logout[128], name[96], name_en[96];

	for (size_t i = 0; i < N_MEMBERS; i++) {
		struct demo_gateway *g = &st->gw[i];
		json_t *list = json_array(), *doc;
		char *text;
		int rc;

		if (!list)
			return -1;
		for (size_t k = 0; k < 2; k++) {
			int admin = strcmp(ops_officials[k].member, g->site->member) == 0;

			if (admin || k == 0)
				json_array_append_new(list, json_pack("{ssssss}", "subject",
					st->ops_pin[k], "name", st->ops_name[k], "role",
					admin ? "administrator" : "auditor"));
		}
		doc = json_pack("{so}", "officials", list);
		text = doc ? json_dumps(doc, JSON_INDENT(2)) : NULL;
		json_decref(doc);
		if (!text) {
			cli_error("out of memory");
			return -1;
		}
		rc = ndx_mkdirs(g->dir, 0700) != NDX_OK ? -1 : text_file(g->console_officials, text, 0600);
		free(text);
		if (rc != 0 || secret_file(g->console_secret) != 0)
			return -1;
		snprintf(redirect, sizeof(redirect), "%s/console/auth/callback", g->console_url);
		snprintf(logout, sizeof(logout), "%s/console/", g->console_url);
		snprintf(name, sizeof(name), "Bảng điều khiển cổng kết nối %s", g->code);
		snprintf(name_en, sizeof(name_en), "%s gateway console", g->code);
		{
			char *argv[] = { (char *)bin, "client", "add", "--data", a->dir,
					 "--client-id", g->console_client, "--secret-file",
					 g->console_secret, "--redirect-uri", redirect,
					 "--post-logout-redirect-uri", logout, "--client-name", name,
					 "--client-name-en", name_en, NULL };

			if (run_to_end(argv, a->log, "ndx-id client add") != 0)
				return -1;
		}
	}
	return 0;
}

static int add_registry_officials(struct demo_state *st, const char *bin)
{
	for (size_t i = 0; i < 2; i++) {
		char *argv[] = { (char *)bin, "official", "add", st->ops_pin[i], "--name",
				 st->ops_name[i], "--role", (char *)registry_roles[i], "--data",
				 st->paths.registry_dir, NULL };

		if (run_to_end(argv, st->paths.log, "ndx-registry official add") != 0)
			return -1;
	}
	return 0;
}

/* The national e-ID, prepared, served with its URL as issuer. */
static int start_id(struct demo_state *st, const char *bin)
{
	struct demo_app *a = &st->id;
	char listen[32];

	snprintf(listen, sizeof(listen), "127.0.0.1:%u", a->port);
	{
		const struct demo_gateway *gw = gateway_of(st, EID_CLIENT);
		char *argv[] = { (char *)bin, "serve", "--data", a->dir, "--issuer", a->url,
				 "--listen", listen, "--assets", NDX_ASSETS_DIR,
				 "--events-gateway", gw ? (char *)gw->consumer_url : "",
				 "--events-client", EID_CLIENT, "--events-poll-ms", EVENTS_POLL_MS,
				 NULL };

		if (app_spawn(a, argv) != 0)
			return -1;
	}
	return wait_ready(a->pid, NAME_ID, a->url, a->log, a->log_from, "listening on", now_ms());
}

/* A registry member credential for member (`ndx-registry token add NAME
 * --member MEMBER`) in the 0600 file path, made once: a file that exists
 * is kept. */
static int member_credential(const struct demo_state *st, const char *registry_bin,
			     const char *path, const char *member, const char *name)
{
	char out[PATH_MAX + 8];
	char *text = NULL;
	size_t len = 0;
	int rc;

	if (access(path, F_OK) == 0)
		return 0;
	/* The command prints the token and a notice, both into out. */
	snprintf(out, sizeof(out), "%s.new", path);
	(void)unlink(out);
	{
		char *argv[] = { (char *)registry_bin, "token", "add", (char *)name, "--member",
				 (char *)member, "--data", (char *)st->paths.registry_dir, NULL };
		if (run_to_end(argv, out, "ndx-registry token add") != 0)
			return -1;
	}
	rc = ndx_file_read(out, 4096, &text, &len);
	(void)unlink(out);
	/* The token is the one line without a space (base64url); the
	 * command's notice, on unbuffered stderr, may come first. */
	char *tok = NULL, *line = rc == NDX_OK ? text : NULL;
	while (line && *line && !tok) {
		size_t n = strcspn(line, "\n");
		if (n && memchr(line, ' ', n) == NULL && line[n] == '\n') {
			line[n] = '\0';
			tok = line;
		}
		line = line[n] ? line + n + 1 : NULL;
	}
	if (!tok) {
		if (text)
			OPENSSL_cleanse(text, len);
		free(text);
		cli_error("ndx-registry token add printed no credential for %s", member);
		return -1;
	}
	rc = text_file(path, tok, 0600);
	OPENSSL_cleanse(text, len);
	free(text);
	return rc;
}

/* The marketplace credentials the demo's members give the portal
 * (docs/portal.md "The marketplace"): one registry member credential per
 * member with officers, in the portal's market-credentials directory,
 * made once (a demo brought up again keeps them). */
static int market_credentials(struct demo_state *st, const char *registry_bin)
{
	char dir[PATH_MAX], path[PATH_MAX], name[96], file[96];

	if (join(dir, st->portal.dir, "market-credentials"))
		return -1;
	if (ndx_mkdirs(dir, 0700) != NDX_OK) {
		cli_error("cannot create %s: %s", dir, strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < N_OFFICERS; i++) {
		snprintf(name, sizeof(name), "portal.%s", officers[i].agency);
		snprintf(file, sizeof(file), "%s.token", officers[i].agency);
		for (char *c = name; *c; c++)
			if (*c == '/')
				*c = '.';
		for (char *c = file; *c; c++)
			if (*c == '/')
				*c = '_';
		if (join(path, dir, file) ||
		    member_credential(st, registry_bin, path, officers[i].agency, name) != 0)
			return -1;
	}
	return 0;
}

/* ---- the marketplace's enterprises ------------------------------------ */

/* What the demo publishes (docs/marketplace.md): the population
 * registry's verification service as an address check, and the enterprise
 * registry's enterprises as a feed, each with one offer for enterprises
 * alone; and who buys them. */
struct demo_offer {
	const char *service, *provider;
	const char *title_vi, *title_en, *desc_vi, *desc_en, *theme, *periodicity;
	const char *method;
	long long price;
	const char *unit; /* ndx:VNDPerCall, ndx:VNDPerMonth */
};

static const struct demo_offer market_offers[] = {
	{ VERIFY_SERVICE, "VN/GOV/BCA", "Kiểm tra địa chỉ của công dân",
	  "Address check of a citizen",
	  "Trả lời địa chỉ thường trú khách hàng khai có khớp với Cơ sở dữ liệu quốc gia về "
	  "dân cư hay không (POST /verify với pin và address); không trả lại địa chỉ.",
	  "Answers whether the permanent address a customer gives matches the national "
	  "population database (POST /verify with pin and address); never returns the address.",
	  "http://publications.europa.eu/resource/authority/data-theme/SOCI", "CONT", "POST", 500,
	  "ndx:VNDPerCall" },
	{ ENTERPRISES_SERVICE, "VN/GOV/BTC", "Dữ liệu đăng ký doanh nghiệp",
	  "Business registry feed",
	  "Thông tin đăng ký của doanh nghiệp theo mã số (GET /enterprises/{mã}), cập nhật "
	  "hằng ngày.",
	  "An enterprise's registration by its code (GET /enterprises/{code}), updated daily.",
	  "http://publications.europa.eu/resource/authority/data-theme/ECON", "DAILY", "GET",
	  2000000, "ndx:VNDPerMonth" },
};
#define N_MARKET_OFFERS (sizeof(market_offers) / sizeof(market_offers[0]))

/* Each enterprise buys both offers for its subsystem. */
static const struct {
	const char *member, *client;
} market_buyers[] = {
	{ BANK_MEMBER, BANK_MARKET_CLIENT },
	{ LOGISTICS_MEMBER, LOGISTICS_CLIENT },
};
#define N_MARKET_BUYERS (sizeof(market_buyers) / sizeof(market_buyers[0]))

#define DSP_CONTEXT "https://w3id.org/dspace/2025/1/context.jsonld"

/* The offer's ODRL policy (new reference): customer-verification only,
 * enterprises only, its method, a year, 10,000 calls a day, no onward
 * transfer, its price. */
static json_t *offer_policy(const struct demo_offer *o)
{
	return json_pack("{s[{ss s[{ssssss} {ssss s[s]} {ssss s[s]} {ssssss} {sssssIss}]}]"
			 " s[{ss}] s[{ss s[{sssssIss}]}]}",
			 "permission", "action", "use", "constraint", "leftOperand", "purpose",
			 "operator", "eq", "rightOperand", MARKET_PURPOSE, "leftOperand",
			 "ndx:consumerClass", "operator", "isAnyOf", "rightOperand", "enterprise",
			 "leftOperand", "ndx:method", "operator", "isAnyOf", "rightOperand",
			 o->method, "leftOperand", "elapsedTime", "operator", "lteq",
			 "rightOperand", "P365D", "leftOperand", "count", "operator", "lteq",
			 "rightOperand", (json_int_t)10000, "unit", "ndx:perDay",
			 "prohibition", "action", "distribute", "obligation", "action",
			 "compensate", "constraint", "leftOperand", "payAmount", "operator", "eq",
			 "rightOperand", (json_int_t)o->price, "unit", o->unit);
}

/* "urn:uuid:" and a random (version 4) UUID into out. */
static int urn_uuid(char out[46])
{
	unsigned char b[16];

	if (RAND_bytes(b, sizeof(b)) != 1) {
		cli_error("no random bytes");
		return -1;
	}
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, 46,
		 "urn:uuid:%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
		 b[13], b[14], b[15]);
	return 0;
}

/* The credential file of member in DIR/market. */
static int market_token_path(const struct demo_state *st, const char *member, char *out)
{
	char file[96];

	snprintf(file, sizeof(file), "market/%s.token", member);
	for (char *c = file + 7; *c; c++)
		if (*c == '/')
			*c = '_';
	return join(out, st->paths.dir, file);
}

/* A client of the registry acting as member, with its credential. */
static int market_api(const struct demo_state *st, const char *member, struct cli_api *api)
{
	char path[PATH_MAX];

	return market_token_path(st, member, path) || cli_api_open(api, st->url, path, 1) ? -1 : 0;
}

/* POSTs body (borrowed) as api; 0 with *out the answer (may be NULL). */
static int market_post(const struct cli_api *api, const char *path, const json_t *body,
		       json_t **out, const char *what)
{
	char err[1024];

	*out = NULL;
	if (!body) {
		cli_error("out of memory");
		return -1;
	}
	if (cli_api_call(api, "POST", path, body, NULL, out, err, sizeof(err)) != NDX_OK) {
		cli_error("marketplace: %s: %s", what, err);
		return -1;
	}
	return 0;
}

/* The dataset of service as the catalogue shows it to consumer: 1 with its
 * id and its first visible offer's in ds and offer, 0 when there is none,
 * -1 on error (printed). */
static int catalog_offer(const struct cli_api *consumer, const char *service, char ds[128],
			 char offer[128])
{
	json_t *req, *cat = NULL;
	const json_t *x;
	size_t i;
	int found = 0;

	req = json_pack("{s[s]sss[{ss}]}", "@context", DSP_CONTEXT, "@type",
			"CatalogRequestMessage", "filter", "ndx:service", service);
	if (market_post(consumer, "/dsp/catalog/request", req, &cat, "the catalogue") != 0) {
		json_decref(req);
		return -1;
	}
	json_decref(req);
	json_array_foreach(json_object_get(cat, "dataset"), i, x) {
		const char *id = json_string_value(json_object_get(x, "@id"));
		const char *oid = json_string_value(
			json_object_get(json_array_get(json_object_get(x, "hasPolicy"), 0), "@id"));

		if (!found && id && oid && strlen(id) < 128 && strlen(oid) < 128) {
			snprintf(ds, 128, "%s", id);
			snprintf(offer, 128, "%s", oid);
			found = 1;
		}
	}
	json_decref(cat);
	return found;
}

/* The dataset of o and its offer as the catalogue shows them to consumer
 * (see catalog_offer), published by its provider first when the catalogue
 * has none. */
static int market_dataset(const struct demo_state *st, const struct cli_api *consumer,
			  const struct demo_offer *o, char ds[128], char offer[128])
{
	struct cli_api prov;
	json_t *body, *pub = NULL;
	int rc = catalog_offer(consumer, o->service, ds, offer);

	if (rc != 0)
		return rc > 0 ? 0 : -1;
	body = json_pack("{ss s{ssss} s{ssss} s[s] ss ss s[o]}", "service", o->service, "title",
			 "vi", o->title_vi, "en", o->title_en, "description", "vi", o->desc_vi,
			 "en", o->desc_en, "theme", o->theme, "license",
			 "https://creativecommons.org/licenses/by-nd/4.0/", "accrual_periodicity",
			 o->periodicity, "offers", offer_policy(o));
	if (market_api(st, o->provider, &prov) != 0) {
		json_decref(body);
		return -1;
	}
	rc = market_post(&prov, "/market/datasets", body, &pub, "publishing a dataset");
	cli_api_close(&prov);
	json_decref(body);
	json_decref(pub);
	if (rc != 0)
		return -1;
	rc = catalog_offer(consumer, o->service, ds, offer);
	if (rc == 0)
		cli_error("marketplace: the dataset of %s is not in the catalogue", o->service);
	return rc > 0 ? 0 : -1;
}

/* Whether client already holds an agreement in force on service: *yes, and
 * ppid its negotiation's providerPid ("" when none). */
static int market_in_force(const struct cli_api *consumer, const char *client,
			   const char *service, int *yes, char ppid[NDX_NEGMSG_PID_MAX + 1])
{
	char err[1024];
	json_t *out = NULL;
	const json_t *n;
	size_t i;

	*yes = 0;
	ppid[0] = '\0';
	if (cli_api_call(consumer, "GET", "/market/negotiations", NULL, NULL, &out, err,
			 sizeof(err)) != NDX_OK) {
		cli_error("marketplace: the negotiations: %s", err);
		return -1;
	}
	json_array_foreach(json_object_get(out, "negotiations"), i, n)
		if (same_string(n, "client", client) && same_string(n, "service", service) &&
		    same_string(n, "state", "FINALIZED") &&
		    same_string(n, "agreement_state", "active")) {
			const char *pid = json_string_value(json_object_get(n, "provider_pid"));

			*yes = 1;
			if (pid && strlen(pid) <= NDX_NEGMSG_PID_MAX)
				snprintf(ppid, NDX_NEGMSG_PID_MAX + 1, "%s", pid);
		}
	json_decref(out);
	return 0;
}

/* The wall clock in Unix milliseconds (a signed message's ndx:signedAt). */
static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One party of a signed negotiation (docs/marketplace.md "Signed
 * negotiations"): its member credential and its gateway's signing key. */
struct market_party {
	const char *member;
	const struct cli_api *api; /* borrowed */
	struct ndx_key *key;       /* owned */
};

/* The signing key of member's gateway (its sign_key file) into p->key. */
static int market_party_key(const struct demo_state *st, const char *member,
			    struct market_party *p)
{
	const struct demo_gateway *g = NULL;

	p->member = member;
	p->key = NULL;
	for (size_t i = 0; i < N_MEMBERS; i++)
		if (strcmp(sites[i].member, member) == 0)
			g = &st->gw[i];
	if (g == NULL) {
		cli_error("marketplace: %s has no gateway in the demo", member);
		return -1;
	}
	if (ndx_key_load(g->sign_key, &p->key) != NDX_OK || !ndx_key_has_private(p->key)) {
		cli_error("marketplace: cannot load the signing key %s", g->sign_key);
		ndx_key_free(p->key);
		p->key = NULL;
		return -1;
	}
	return 0;
}

/* Sends body (borrowed) to path as a message of party p, signed with its
 * gateway's key after the negotiation's last accepted message (last, its
 * hash; "" before the first), with Content-Type application/jose. 0 with
 * *out the answer, which must say "ndx:signed": true, and last the hash of
 * the message sent; -1 after printing why. */
static int market_send_signed(const struct market_party *p, const char *path, const json_t *body,
			      char last[NDX_NEGMSG_HASH_LEN + 1], json_t **out, const char *what)
{
	struct cli_http_request req = { 0 };
	struct cli_http_response resp = { 0 };
	char *text = NULL, *jws = NULL, *url = NULL, why[512], err[1024];
	json_t *doc = NULL;
	int rc = -1;

	*out = NULL;
	text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	if (text == NULL || asprintf(&url, "%s%s", p->api->base_url, path) < 0) {
		url = NULL;
		cli_error("out of memory");
		goto out;
	}
	switch (ndx_negmsg_sign(p->key, text, strlen(text), p->member, path,
				last[0] ? last : NULL, wall_ms(), &jws, why, sizeof(why))) {
	case NDX_OK:
		break;
	case NDX_ENOMEM:
		cli_error("out of memory");
		goto out;
	case NDX_EINVAL:
		cli_error("marketplace: %s: cannot sign it: %s", what, why);
		goto out;
	default:
		cli_error("marketplace: %s: signing failed", what);
		goto out;
	}
	req.method = "POST";
	req.url = url;
	req.body = jws;
	req.body_len = strlen(jws);
	req.content_type = "application/jose";
	req.bearer = p->api->token;
	if (cli_http(&req, &resp, err, sizeof(err)) != NDX_OK) {
		cli_error("marketplace: %s: %s", what, err);
		goto out;
	}
	doc = resp.len ? json_loadb(resp.body, resp.len, 0, NULL) : NULL;
	if (resp.status < 200 || resp.status > 299) {
		/* A ContractNegotiationError: its code and first reason. */
		const char *code = json_string_value(json_object_get(doc, "code"));
		const char *reason =
			json_string_value(json_array_get(json_object_get(doc, "reason"), 0));

		cli_error("marketplace: %s: %ld %s%s%s", what, resp.status,
			  code ? code : "(no ContractNegotiationError)", reason ? ": " : "",
			  reason ? reason : "");
		goto out;
	}
	if (!json_is_object(doc) || !json_is_true(json_object_get(doc, "ndx:signed"))) {
		cli_error("marketplace: %s: the registry did not answer it as a signed message",
			  what);
		goto out;
	}
	ndx_negmsg_hash(jws, strlen(jws), last);
	*out = doc;
	doc = NULL;
	rc = 0;
out:
	json_decref(doc);
	cli_http_response_free(&resp);
	free(url);
	free(jws);
	free(text);
	return rc;
}

/* A providerPid that names a file of DIR/market as it is (the registry's
 * are "urn:uuid:..."). */
static int pid_is_file_name(const char *pid)
{
	if (!pid[0] || pid[0] == '.')
		return 0;
	for (const char *c = pid; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == ':' || *c == '-' || *c == '.' || *c == '_'))
			return 0;
	return 1;
}

/* The chain of the negotiation ppid (GET /dsp/negotiations/{ppid}/messages
 * as one of its parties) written to DIR/market/PPID.chain.json (0600) when
 * it is a signed one: *file its path then, "" for a plain negotiation (an
 * agreement of an earlier version's up). */
static int market_chain_write(const struct demo_state *st, const struct cli_api *api,
			      const char *ppid, char file[PATH_MAX])
{
	char path[NDX_NEGMSG_PID_MAX + 64], name[NDX_NEGMSG_PID_MAX + 32], err[1024];
	json_t *out = NULL;
	char *text;
	int rc;

	file[0] = '\0';
	if (!pid_is_file_name(ppid)) {
		cli_error("marketplace: the providerPid %s names no file", ppid);
		return -1;
	}
	snprintf(path, sizeof(path), "/dsp/negotiations/%s/messages", ppid);
	if (cli_api_call(api, "GET", path, NULL, NULL, &out, err, sizeof(err)) != NDX_OK) {
		cli_error("marketplace: the messages of %s: %s", ppid, err);
		return -1;
	}
	if (!json_is_true(json_object_get(out, "ndx:signed"))) {
		json_decref(out);
		return 0;
	}
	text = json_dumps(out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(out);
	snprintf(name, sizeof(name), "market/%s.chain.json", ppid);
	if (text == NULL)
		cli_error("out of memory");
	if (text == NULL || join(file, st->paths.dir, name) != 0) {
		free(text);
		file[0] = '\0';
		return -1;
	}
	rc = ndx_file_write_atomic(file, text, strlen(text), 0600, 0);
	free(text);
	if (rc != NDX_OK) {
		cli_error("cannot write %s: %s", file, ndx_strerror(rc));
		file[0] = '\0';
		return -1;
	}
	return 0;
}

/* The negotiation of o's offer for buyer b's client, through the registry's
 * Dataspace Protocol endpoints, each message sent by the party it belongs
 * to with its member credential and signed with its gateway's signing key
 * (a signed negotiation, docs/marketplace.md "Signed negotiations"): the
 * consumer's request, the provider's agreement on the offer's terms, the
 * consumer's verification, the provider's FINALIZED. ppid: its
 * providerPid. */
static int market_negotiate(const struct demo_state *st, const struct cli_api *consumer,
			    const char *member, const char *client, const struct demo_offer *o,
			    char ppid[NDX_NEGMSG_PID_MAX + 1])
{
	char ds[128], offer[128], cpid[46], agreement_id[46], path[NDX_NEGMSG_PATH_MAX + 1];
	char now[NDX_TIME_TEXT_LEN], callback[96], last[NDX_NEGMSG_HASH_LEN + 1] = "";
	struct cli_api prov_api;
	struct market_party cons = { 0 }, prov = { 0 };
	json_t *body, *neg = NULL, *out = NULL, *agreement;
	const char *pid;
	int rc = -1;

	ppid[0] = '\0';
	if (market_dataset(st, consumer, o, ds, offer) != 0 || urn_uuid(cpid) != 0 ||
	    urn_uuid(agreement_id) != 0)
		return -1;
	if (market_api(st, o->provider, &prov_api) != 0)
		return -1;
	cons.api = consumer;
	prov.api = &prov_api;
	if (market_party_key(st, member, &cons) != 0 ||
	    market_party_key(st, o->provider, &prov) != 0)
		goto out;
	snprintf(callback, sizeof(callback), "%s/dsp/consumer", st->url);
	body = json_pack("{s[s]ss ss s{ss} ss ss}", "@context", DSP_CONTEXT, "@type",
			 "ContractRequestMessage", "consumerPid", cpid, "offer", "@id", offer,
			 "callbackAddress", callback, "ndx:client", client);
	rc = market_send_signed(&cons, "/dsp/negotiations/request", body, last, &neg,
				"the request");
	json_decref(body);
	pid = json_string_value(json_object_get(neg, "providerPid"));
	if (rc || !pid || strlen(pid) > NDX_NEGMSG_PID_MAX) {
		if (!rc)
			cli_error("marketplace: the request: the answer names no providerPid");
		rc = -1;
		goto out;
	}
	snprintf(ppid, NDX_NEGMSG_PID_MAX + 1, "%s", pid);
	/* The agreement: exactly the offer's terms, with its parties. */
	ndx_time_format(time(NULL), now);
	agreement = offer_policy(o);
	if (agreement)
		json_object_update_new(agreement,
				       json_pack("{ss ss ss ss ss ss}", "@id", agreement_id, "@type",
						 "Agreement", "target", ds, "assigner", o->provider,
						 "assignee", member, "timestamp", now));
	body = json_pack("{s[s]ss ss ss so*}", "@context", DSP_CONTEXT, "@type",
			 "ContractAgreementMessage", "providerPid", ppid, "consumerPid", cpid,
			 "agreement", agreement);
	snprintf(path, sizeof(path), "/dsp/consumer/negotiations/%s/agreement", cpid);
	rc = market_send_signed(&prov, path, body, last, &out, "the agreement");
	json_decref(body);
	json_decref(out);
	out = NULL;
	if (rc)
		goto out;
	body = json_pack("{s[s]ss ss ss}", "@context", DSP_CONTEXT, "@type",
			 "ContractAgreementVerificationMessage", "providerPid", ppid, "consumerPid",
			 cpid);
	snprintf(path, sizeof(path), "/dsp/negotiations/%s/agreement/verification", ppid);
	rc = market_send_signed(&cons, path, body, last, &out, "the verification");
	json_decref(body);
	json_decref(out);
	out = NULL;
	if (rc)
		goto out;
	body = json_pack("{s[s]ss ss ss ss}", "@context", DSP_CONTEXT, "@type",
			 "ContractNegotiationEventMessage", "providerPid", ppid, "consumerPid",
			 cpid, "eventType", "FINALIZED");
	snprintf(path, sizeof(path), "/dsp/consumer/negotiations/%s/events", cpid);
	rc = market_send_signed(&prov, path, body, last, &out, "finalising");
	json_decref(body);
	if (!rc && !same_string(out, "state", "FINALIZED")) {
		cli_error("marketplace: the negotiation %s is not FINALIZED", ppid);
		rc = -1;
	}
	json_decref(out);
out:
	json_decref(neg);
	ndx_key_free(cons.key);
	ndx_key_free(prov.key);
	cli_api_close(&prov_api);
	return rc;
}

/* The marketplace of the demo: credentials for the providers and buyers
 * (DIR/market, 0600, made once), the datasets published, and each buyer's
 * agreement on each offer negotiated, signed, to FINALIZED unless one is in
 * force (a later up negotiates nothing again). Each signed negotiation's
 * chain is written to DIR/market/PPID.chain.json; st->market_chain names
 * the logistics company's on the business-registry feed (empty when that
 * agreement was negotiated plain by an earlier version). The agreements'
 * grants are in the configuration fetched next. */
static int demo_market(struct demo_state *st, const char *registry_bin)
{
	char dir[PATH_MAX], path[PATH_MAX], name[96];
	const char *members_[N_MARKET_OFFERS + N_MARKET_BUYERS];
	size_t i, j;

	st->market_chain[0] = '\0';
	if (join(dir, st->paths.dir, "market") || ndx_mkdirs(dir, 0700) != NDX_OK) {
		cli_error("cannot create %s/market", st->paths.dir);
		return -1;
	}
	for (i = 0; i < N_MARKET_OFFERS; i++)
		members_[i] = market_offers[i].provider;
	for (i = 0; i < N_MARKET_BUYERS; i++)
		members_[N_MARKET_OFFERS + i] = market_buyers[i].member;
	for (i = 0; i < N_MARKET_OFFERS + N_MARKET_BUYERS; i++) {
		snprintf(name, sizeof(name), "demo.%s", members_[i]);
		for (char *c = name; *c; c++)
			if (*c == '/')
				*c = '.';
		if (market_token_path(st, members_[i], path) ||
		    member_credential(st, registry_bin, path, members_[i], name) != 0)
			return -1;
	}
	for (i = 0; i < N_MARKET_BUYERS; i++) {
		struct cli_api consumer;
		int rc = 0;

		if (market_api(st, market_buyers[i].member, &consumer) != 0)
			return -1;
		for (j = 0; j < N_MARKET_OFFERS && rc == 0; j++) {
			char ppid[NDX_NEGMSG_PID_MAX + 1], chain[PATH_MAX] = "";
			int yes = 0;

			rc = market_in_force(&consumer, market_buyers[i].client,
					     market_offers[j].service, &yes, ppid);
			if (rc == 0 && !yes)
				rc = market_negotiate(st, &consumer, market_buyers[i].member,
						      market_buyers[i].client, &market_offers[j],
						      ppid);
			if (rc == 0 && ppid[0])
				rc = market_chain_write(st, &consumer, ppid, chain);
			if (rc == 0 && chain[0] && !st->market_chain[0] &&
			    strcmp(market_buyers[i].member, LOGISTICS_MEMBER) == 0 &&
			    strcmp(market_offers[j].service, ENTERPRISES_SERVICE) == 0)
				snprintf(st->market_chain, sizeof(st->market_chain), "%s", chain);
		}
		cli_api_close(&consumer);
		if (rc)
			return -1;
	}
	return 0;
}

/* The portal: its configuration (docs/portal.md), the officers, served. */
static int start_portal(struct demo_state *st, const char *bin)
{
	struct demo_app *a = &st->portal;
	const struct demo_gateway *gw = gateway_of(st, PORTAL_CLIENT);
	char config[PATH_MAX], secret[PATH_MAX], data[PATH_MAX], pw[PATH_MAX];
	char token[PATH_MAX], mtoken[PATH_MAX], listen[32], bank_page[96], creds[PATH_MAX];
	char *text;
	json_t *cfg;
	int rc;

	snprintf(bank_page, sizeof(bank_page), "%s/pay", st->bank.url);
	if (join(config, a->dir, "portal.json") || join(secret, a->dir, "oidc-client.secret") ||
	    join(data, a->dir, "data") || join(pw, st->id.dir, "demo-password") ||
	    join(token, st->consent.dir, "admin.token") ||
	    join(mtoken, st->monitor.dir, "admin.token") ||
	    join(creds, a->dir, "market-credentials"))
		return -1;
	snprintf(listen, sizeof(listen), "127.0.0.1:%u", a->port);
	/* The operations centre asks ndx-monitor, which starts after the
	 * portal: the portal reads the token file at each call. Chart.js is
	 * served from its npm directory beside GOV.UK Frontend's. */
	cfg = json_pack("{ss ss ss ss ss ss s{ss ss ss} s{ss ss} s{ss ss ss} s{ss ss} si"
			" s{ss s[{ss ss}]}}",
			"listen", listen, "public_url", a->url, "data_dir", data,
			"web_dir", NDX_WEB_DIR, "assets_dir", NDX_ASSETS_DIR,
			"chart_assets_dir", NDX_WEB_DIR "/../node_modules/chart.js/dist",
			"oidc", "issuer", st->id.url, "client_id", PORTAL_OIDC_CLIENT,
			"client_secret_file", secret,
			"exchange", "consumer_url", gw ? gw->consumer_url : "", "client", PORTAL_CLIENT,
			"consent_service", "url", st->consent.url, "token_file", token, "issuer",
			CONSENT_ID,
			"monitor", "url", st->monitor.url, "token_file", mtoken,
			"session_minutes", 30,
			"payment", "orders_service", ORDERS_SERVICE, "banks", "name", BANK_NAME,
			"url", bank_page);
	/* The data marketplace: the registry's /dsp and /market endpoints,
	 * with the members' credentials (market_credentials), and the anchor
	 * a usage statement's signer key is checked against (docs/portal.md
	 * "The marketplace"). */
	if (cfg)
		json_object_set_new(cfg, "market", json_pack("{ssssss}", "registry_url", st->url,
							     "credentials_dir", creds, "anchor",
							     st->paths.anchor));
	/* The public holidays the deadlines skip (deploy/holidays-vn.txt). */
	if (cfg)
		json_object_set_new(cfg, "holidays_file", json_string(NDX_HOLIDAYS_FILE));
	text = cfg ? json_dumps(cfg, JSON_INDENT(2)) : NULL;
	json_decref(cfg);
	if (!text) {
		cli_error("out of memory");
		return -1;
	}
	rc = text_file(config, text, 0600);
	free(text);
	if (rc != 0)
		return -1;
	for (size_t i = 0; i < N_OFFICERS; i++) {
		char *argv[] = { (char *)bin, "officer", "add", "--config", config, "--username",
				 (char *)officers[i].username, "--name", (char *)officers[i].name,
				 "--agency", (char *)officers[i].agency, "--password-file", pw,
				 "--cost", "min", NULL };

		if (run_to_end(argv, a->log, "ndx-portal officer add") != 0)
			return -1;
	}
	for (size_t i = 0; i < 2; i++) {
		char name[300];

		snprintf(name, sizeof(name), "%s (%s)", st->ops_name[i], ops_officials[i].title);
		char *argv[] = { (char *)bin, "official", "add", "--config", config, "--pin",
				 st->ops_pin[i], "--name", name, "--role",
				 (char *)ops_officials[i].role, "--member",
				 (char *)ops_officials[i].member, NULL };

		if (run_to_end(argv, a->log, "ndx-portal official add") != 0)
			return -1;
	}
	{
		char *argv[] = { (char *)bin, "serve", "--config", config, NULL };

		if (app_spawn(a, argv) != 0)
			return -1;
	}
	return wait_ready(a->pid, NAME_PORTAL, a->url, a->log, a->log_from, "listening on",
			  now_ms());
}

/* The demo bank's receipt-signing key, made the first time, and its
 * public half written to pub (in the treasury's directory): the treasury
 * checks fee receipts with it, the registry marketplace invoices'
 * (docs/payment.md, docs/marketplace.md "Invoices and clearing"). Before
 * the registry starts, which takes it as --bank-key. */
static int bank_receipt_key(struct demo_state *st, char pub[PATH_MAX])
{
	char bank_key[PATH_MAX];
	struct ndx_key *key = NULL;

	if (join(bank_key, st->bank.dir, "receipt-sign.key") ||
	    join(pub, st->treasury.dir, "bank-" BANK_BIN ".pub"))
		return -1;
	if (ndx_mkdirs(st->treasury.dir, 0700) != NDX_OK || ndx_mkdirs(st->bank.dir, 0700) != NDX_OK) {
		cli_error("cannot create %s: %s", st->treasury.dir, strerror(errno));
		return -1;
	}
	if (access(bank_key, F_OK) != 0) {
		if (ndx_key_generate(&key) != NDX_OK || ndx_key_save_private(key, bank_key) != NDX_OK) {
			ndx_key_free(key);
			cli_error("cannot write the bank's key %s", bank_key);
			return -1;
		}
	} else if (ndx_key_load(bank_key, &key) != NDX_OK) {
		cli_error("cannot read the bank's key %s", bank_key);
		return -1;
	}
	int rc = ndx_key_save_public(key, pub);
	ndx_key_free(key);
	if (rc != NDX_OK) {
		cli_error("cannot write %s", pub);
		return -1;
	}
	return 0;
}

/* The State Treasury's payment platform, before the gateways (its
 * gateway's backend), given the bank's receipt key (bank_receipt_key). */
static int start_treasury(struct demo_state *st, const char *bin)
{
	struct demo_app *a = &st->treasury;
	char db[PATH_MAX], bank_pub[PATH_MAX], listen[32];
	char bank_arg[PATH_MAX + 8];

	if (join(db, a->dir, "treasury.db") || join(bank_pub, a->dir, "bank-" BANK_BIN ".pub"))
		return -1;
	snprintf(listen, sizeof(listen), "127.0.0.1:%u", a->port);
	snprintf(bank_arg, sizeof(bank_arg), BANK_BIN "=%s", bank_pub);
	{
		char *argv[] = { (char *)bin, "treasury", "--db", db, "--bin", BANK_BIN,
				 "--account", TREASURY_ACCOUNT, "--account-name",
				 TREASURY_ACCOUNT_NAME, "--bank", bank_arg, "--listen", listen, NULL };

		if (app_spawn(a, argv) != 0)
			return -1;
	}
	return wait_ready(a->pid, NAME_PAY, a->url, a->log, a->log_from, "listening on",
			  now_ms());
}

/* The demo bank, once its gateway is up. */
static int start_bank(struct demo_state *st, const char *bin)
{
	struct demo_app *a = &st->bank;
	const struct demo_gateway *gw = gateway_of(st, BANK_CLIENT);
	char key[PATH_MAX], listen[32];

	if (!gw || join(key, a->dir, "receipt-sign.key"))
		return -1;
	snprintf(listen, sizeof(listen), "127.0.0.1:%u", a->port);
	{
		char *argv[] = { (char *)bin, "bank", "--bin", BANK_BIN, "--name", BANK_NAME,
				 "--key", key, "--gateway", (char *)gw->consumer_url, "--client",
				 BANK_CLIENT, "--receipts-service", RECEIPTS_SERVICE,
				 "--customer-account", BANK_CUSTOMER_ACCOUNT, "--registry", st->url,
				 "--listen", listen, NULL };

		if (app_spawn(a, argv) != 0)
			return -1;
	}
	return wait_ready(a->pid, NAME_PAY, a->url, a->log, a->log_from, "listening on",
			  now_ms());
}

/* The standing legal bases of the demo agencies' periodic checks
 * (docs/monitoring.md "Procedures and mandates"): the reads `ndx demo
 * traffic` makes are these agencies' systems checking citizens for their
 * registered purposes, so the misuse detector finds them explained. An
 * officer's read is never explained by a mandate: it needs an open
 * procedure. */
static const struct {
	const char *client, *purpose, *basis;
} demo_mandates[] = {
	{ "VN/GOV/TCT/tax", "tax-administration",
	  "Luật Quản lý thuế 2019, Điều 98: đối chiếu thông tin người nộp thuế" },
	{ "VN/GOV/BHXH/insurance", "social-insurance",
	  "Luật Bảo hiểm xã hội 2024: đối chiếu người tham gia bảo hiểm" },
	{ "VN/GOV/CSGT/vehicles", "law-enforcement",
	  "Luật Trật tự, an toàn giao thông đường bộ 2024: xác minh chủ phương tiện" },
	{ "VN/GOV/BTC/enterprise", "public-service",
	  "Luật Doanh nghiệp 2020: xác minh người thành lập doanh nghiệp" },
};

static int add_mandates(const struct demo_app *a, const char *bin)
{
	for (size_t i = 0; i < sizeof demo_mandates / sizeof *demo_mandates; i++) {
		char *argv[] = { (char *)bin, "mandate", "add", "--data", (char *)a->dir,
				 "--client", (char *)demo_mandates[i].client, "--service",
				 (char *)CITIZENS_SERVICE, "--purpose",
				 (char *)demo_mandates[i].purpose, "--basis",
				 (char *)demo_mandates[i].basis, NULL };

		if (run_to_end(argv, a->log, "ndx-monitor mandate add") != 0)
			return -1;
	}
	return 0;
}

/* The operator's monitoring service (docs/monitoring.md): initialised the
 * first time (its database, admin token and the demo's mandates), then
 * served, collecting through the operator's gateway as the monitoring
 * client. */
static int start_monitor(struct demo_state *st, const char *bin, const char *anchor)
{
	struct demo_app *a = &st->monitor;
	const struct demo_gateway *gw = gateway_of(st, MONITOR_CLIENT);
	char db[PATH_MAX], listen[32];

	if (join(db, a->dir, "monitor.db"))
		return -1;
	if (access(db, F_OK) != 0) {
		char *argv[] = { (char *)bin, "init", "--data", a->dir, NULL };

		if (run_to_end(argv, a->log, "ndx-monitor init") != 0 || add_mandates(a, bin) != 0)
			return -1;
	}
	snprintf(listen, sizeof(listen), "127.0.0.1:%u", a->port);
	{
		char *argv[] = { (char *)bin, "serve", "--data", a->dir, "--anchor",
				 (char *)anchor, "--registry", st->url, "--gateway",
				 gw ? (char *)gw->consumer_url : "", "--client", MONITOR_CLIENT,
				 "--listen", listen, "--interval", MONITOR_INTERVAL_S,
				 "--measures-interval", MONITOR_MEASURES_S, NULL };

		if (app_spawn(a, argv) != 0)
			return -1;
	}
	return wait_ready(a->pid, NAME_MONITOR, a->url, a->log, a->log_from, "listening on",
			  now_ms());
}

/* Whether the sector's answer to GET url/path declares exactly the people
 * `want` (its Ndx-Data-Subjects header, docs/sectors.md "Data subjects"). */
static int declares_only(const char *url, const char *path, const char *want)
{
	struct cli_http_request req = { 0 };
	struct cli_http_response resp;
	char target[PATH_MAX + 128], err[256];
	int only;

	snprintf(target, sizeof(target), "%s%s", url, path);
	req.method = "GET";
	req.url = target;
	req.timeout_s = 10;
	req.want_header = "Ndx-Data-Subjects";
	only = cli_http(&req, &resp, err, sizeof(err)) == NDX_OK && resp.status == 200 &&
	       resp.header && strcmp(resp.header, want) == 0;
	cli_http_response_free(&resp);
	return only;
}

#define ENTERPRISE_PAGE 100
#define ENTERPRISE_PAGES 10

static int sector_has(const char *url, const char *path, const char *field, const char *want);

/* The enterprise the printed reads are about, and its legal representative
 * as the printed citizen: the first enterprise whose record concerns that
 * citizen alone (an enterprise's answer declares its legal representative
 * and every owner who is a citizen), so that the tax department's two reads
 * naming the citizen as Ndx-Subject are lawful and both show in that
 * citizen's access list, and in no one else's; and whose representative has
 * an insurance record, which the printed consent lets the portal show (the
 * seed gives one to about four adults in ten). */
static int pick_enterprise(struct demo_state *st, const struct demo_gateway *g)
{
	const struct demo_gateway *ins = sector_gateway(st, "insurance");
	char path[96];
	json_t *doc, *row;
	size_t i;

	for (int page = 0; page < ENTERPRISE_PAGES; page++) {
		snprintf(path, sizeof(path), "/enterprises?limit=%d&offset=%d", ENTERPRISE_PAGE,
			 page * ENTERPRISE_PAGE);
		if (!(doc = sector_get(g->sector_url, path)))
			return -1;
		if (json_array_size(json_object_get(doc, "items")) == 0) {
			json_decref(doc);
			break;
		}
		json_array_foreach(json_object_get(doc, "items"), i, row) {
			const char *code = json_string_value(json_object_get(row, "code"));
			const char *rep = json_string_value(json_object_get(row, "legal_rep_pin"));

			if (!code || !rep || strlen(code) >= sizeof(st->try_code) ||
			    strlen(rep) >= sizeof(st->try_pin))
				continue;
			snprintf(path, sizeof(path), "/participants/%s", rep);
			if (ins && !sector_has(ins->sector_url, path, "pin", NULL))
				continue;
			snprintf(path, sizeof(path), "/enterprises/%s", code);
			if (declares_only(g->sector_url, path, rep)) {
				snprintf(st->try_code, sizeof(st->try_code), "%s", code);
				snprintf(st->try_pin, sizeof(st->try_pin), "%s", rep);
				json_decref(doc);
				return 0;
			}
		}
		json_decref(doc);
	}
	cli_error("the %s sector of %s holds no enterprise about its legal representative "
		  "alone among its first %d (data in %s)", g->sector, g->site->member,
		  ENTERPRISE_PAGE * ENTERPRISE_PAGES, g->sector_db);
	return -1;
}

/* The printed citizen's name and a second citizen (the first other one
 * the registry lists) with theirs: the e-ID gets accounts for both and
 * federation.json lists them, so that a browser test can move one
 * citizen's residence without changing what the other tests read. */
static int demo_citizens(struct demo_state *st, const struct demo_gateway *g)
{
	char path[96];
	json_t *doc, *row;
	size_t i;
	int rc = -1;

	snprintf(path, sizeof(path), "/citizens/%s", st->try_pin);
	if (!(doc = sector_get(g->sector_url, path)))
		return -1;
	{
		const char *name = json_string_value(json_object_get(doc, "full_name"));
		snprintf(st->try_name, sizeof(st->try_name), "%s", name ? name : "");
	}
	json_decref(doc);
	if (!(doc = sector_get(g->sector_url, "/citizens?limit=20")))
		return -1;
	json_array_foreach(json_object_get(doc, "items"), i, row) {
		const char *pin = json_string_value(json_object_get(row, "pin"));
		const char *name = json_string_value(json_object_get(row, "full_name"));

		if (pin && name && strcmp(pin, st->try_pin) != 0 &&
		    strlen(pin) < sizeof(st->other_pin)) {
			snprintf(st->other_pin, sizeof(st->other_pin), "%s", pin);
			snprintf(st->other_name, sizeof(st->other_name), "%s", name);
			rc = 0;
			break;
		}
	}
	if (rc != 0)
		cli_error("the population registry holds too few citizens (%s)", g->sector_db);
	json_decref(doc);
	return rc;
}

/* The operations centre's officials: the first two living citizens of the
 * registry's first page who are none of the others the demo names (their
 * access lists are what the printed lines and the tests count). */
static int pick_officials(struct demo_state *st, const struct demo_gateway *g)
{
	const char *taken[] = { st->try_pin, st->other_pin, st->death_pin, st->move_pin,
				st->birth_mother };
	json_t *doc, *row;
	size_t i, n = 0;

	if (!(doc = sector_get(g->sector_url, "/citizens?limit=40")))
		return -1;
	json_array_foreach(json_object_get(doc, "items"), i, row) {
		const char *pin = json_string_value(json_object_get(row, "pin"));
		const char *name = json_string_value(json_object_get(row, "full_name"));
		const json_t *dead = json_object_get(row, "deceased_on");
		int named = 0;

		for (size_t k = 0; pin && k < sizeof(taken) / sizeof(taken[0]); k++)
			named |= strcmp(pin, taken[k]) == 0;
		if (!pin || !name || named || (dead && !json_is_null(dead)) ||
		    strlen(pin) >= sizeof(st->ops_pin[0]))
			continue;
		snprintf(st->ops_pin[n], sizeof(st->ops_pin[n]), "%s", pin);
		snprintf(st->ops_name[n], sizeof(st->ops_name[n]), "%s", name);
		if (++n == 2)
			break;
	}
	json_decref(doc);
	if (n < 2) {
		cli_error("the population registry holds too few citizens for the officials (%s)",
			  g->sector_db);
		return -1;
	}
	return 0;
}

/* Whether GET url/path answers 200 with a record whose field is want
 * (want NULL: any record). */
static int sector_has(const char *url, const char *path, const char *field, const char *want)
{
	struct cli_http_request req = { 0 };
	struct cli_http_response resp;
	char target[PATH_MAX + 128], err[256];
	int has = 0;

	snprintf(target, sizeof(target), "%s%s", url, path);
	req.method = "GET";
	req.url = target;
	req.timeout_s = 10;
	if (cli_http(&req, &resp, err, sizeof(err)) == NDX_OK && resp.status == 200) {
		json_t *doc = json_loadb(resp.body, resp.len, 0, NULL);
		const char *v = json_string_value(json_object_get(doc, field));

		has = want == NULL || (v && strcmp(v, want) == 0);
		json_decref(doc);
	}
	cli_http_response_free(&resp);
	return has;
}

#define DEATH_CANDIDATES 100

#define MOVE_TO_A "001"
#define MOVE_ADDRESS_A "Số 8 phố Lý Thường Kiệt, Phường Cửa Nam, Thành phố Hà Nội"
#define MOVE_TO_B "048"
#define MOVE_ADDRESS_B "Số 45 đường Bạch Đằng, Phường Hải Châu, Thành phố Đà Nẵng"

/* Whether sector g holds a vehicle owned by pin. */
static int owns_vehicle(const struct demo_gateway *g, const char *pin)
{
	char path[96];
	json_t *doc;
	int has;

	snprintf(path, sizeof(path), "/vehicles?owner_id=%s&limit=1", pin);
	if (!(doc = sector_get(g->sector_url, path)))
		return 0;
	has = json_array_size(json_object_get(doc, "items")) > 0;
	json_decref(doc);
	return has;
}

/* The citizen whose change of permanent residence the printed command
 * makes: alive, none of the three others printed, with a personal tax
 * file, an insurance record and a vehicle, so that every effect shows; the
 * command's record is theirs moved to Hà Nội (or, for someone living
 * there, Đà Nẵng). A citizen moved by an earlier up moves back and forth. */
static int pick_move_citizen(struct demo_state *st, const struct demo_gateway *pop)
{
	const struct demo_gateway *tax = sector_gateway(st, "tax");
	const struct demo_gateway *ins = sector_gateway(st, "insurance");
	const struct demo_gateway *veh = sector_gateway(st, "vehicles");
	char path[96], *text;
	json_t *doc, *row;
	size_t i;

	snprintf(path, sizeof(path), "/citizens?limit=%d", DEATH_CANDIDATES);
	if (tax == NULL || ins == NULL || veh == NULL ||
	    !(doc = sector_get(pop->sector_url, path)))
		return -1;
	json_array_foreach(json_object_get(doc, "items"), i, row) {
		const char *pin = json_string_value(json_object_get(row, "pin"));
		const char *name = json_string_value(json_object_get(row, "full_name"));
		const char *prov = json_string_value(json_object_get(row, "permanent_province"));
		const json_t *dead = json_object_get(row, "deceased_on");
		int to_b;

		if (!pin || !name || !prov || (dead && !json_is_null(dead)) ||
		    strlen(pin) >= sizeof(st->move_pin) || strcmp(pin, st->try_pin) == 0 ||
		    strcmp(pin, st->other_pin) == 0 || strcmp(pin, st->death_pin) == 0)
			continue;
		snprintf(path, sizeof(path), "/taxpayers/%s", pin);
		if (!sector_has(tax->sector_url, path, "kind", "individual"))
			continue;
		snprintf(path, sizeof(path), "/participants/%s", pin);
		if (!sector_has(ins->sector_url, path, "pin", NULL) || !owns_vehicle(veh, pin))
			continue;
		to_b = strcmp(prov, MOVE_TO_A) == 0;
		const char *to = to_b ? MOVE_TO_B : MOVE_TO_A;
		const char *to_addr = to_b ? MOVE_ADDRESS_B : MOVE_ADDRESS_A;
		/* Their household in the new province: H, its code and the last 8
		 * digits of their number; registered by the first command unless
		 * an earlier up did (then it is theirs, or they are not the one). */
		char hid[16];
		snprintf(hid, sizeof(hid), "H%s%s", to, pin + strlen(pin) - 8);
		snprintf(path, sizeof(path), "/households/%s", hid);
		st->move_household[0] = '\0';
		if (!sector_has(pop->sector_url, path, "head_pin", pin)) {
			if (sector_has(pop->sector_url, path, "id", NULL))
				continue;
			snprintf(st->move_household, sizeof(st->move_household),
				 "{\"id\":\"%s\",\"head_pin\":\"%s\",\"address\":\"%s\","
				 "\"province\":\"%s\"}", hid, pin, to_addr, to);
		}
		/* The record as the registry holds it, moved: what a PUT takes. */
		json_t *moved = json_deep_copy(row);
		json_object_del(moved, "updated_at");
		json_object_set_new(moved, "permanent_province", json_string(to));
		json_object_set_new(moved, "permanent_address", json_string(to_addr));
		json_object_set_new(moved, "household_id", json_string(hid));
		json_object_set_new(moved, "relation", json_string("head"));
		text = json_dumps(moved, JSON_COMPACT);
		json_decref(moved);
		if (!text || strlen(text) >= sizeof(st->move_body) || strchr(text, '\'')) {
			free(text);
			continue;
		}
		snprintf(st->move_body, sizeof(st->move_body), "%s", text);
		free(text);
		snprintf(st->move_pin, sizeof(st->move_pin), "%s", pin);
		snprintf(st->move_name, sizeof(st->move_name), "%s", name);
		json_decref(doc);
		return 0;
	}
	json_decref(doc);
	cli_error("none of the first %d citizens has a tax file, insurance and a vehicle (%s)",
		  DEATH_CANDIDATES, pop->sector_db);
	return -1;
}

/* The mother of the printed birth: among the citizens with an e-ID
 * account (prepare_id imports one for her), alive, 20 to 45 years old, a woman in a
 * household, none of the others the printed lines are about. The birth is
 * registered today in the province of her residence, without a number:
 * the population registry issues it from birth-registered. */
static int pick_birth_mother(struct demo_state *st, const struct demo_gateway *pop)
{
	char path[96], today[16];
	json_t *doc, *row;
	time_t now = time(NULL);
	struct tm tm;
	size_t i;

	gmtime_r(&now, &tm);
	strftime(today, sizeof(today), "%Y-%m-%d", &tm);
	snprintf(path, sizeof(path), "/citizens?limit=%d", DEATH_CANDIDATES);
	if (!(doc = sector_get(pop->sector_url, path)))
		return -1;
	json_array_foreach(json_object_get(doc, "items"), i, row) {
		const char *pin = json_string_value(json_object_get(row, "pin"));
		const char *name = json_string_value(json_object_get(row, "full_name"));
		const char *sex = json_string_value(json_object_get(row, "sex"));
		const char *hh = json_string_value(json_object_get(row, "household_id"));
		const char *prov = json_string_value(json_object_get(row, "permanent_province"));
		const char *born = json_string_value(json_object_get(row, "birth_date"));
		const json_t *dead = json_object_get(row, "deceased_on");
		const char *sp;
		int age = born ? tm.tm_year + 1900 - atoi(born) : 0;

		/* A mother of 20 to 45. */
		if (!pin || !name || !sex || !hh || !prov || strcmp(sex, "female") != 0 ||
		    age < 20 || age > 45 ||
		    (dead && !json_is_null(dead)) || strlen(pin) >= sizeof(st->birth_mother) ||
		    strlen(hh) >= sizeof(st->birth_household) || strchr(name, '\'') ||
		    strcmp(pin, st->try_pin) == 0 || strcmp(pin, st->other_pin) == 0 ||
		    strcmp(pin, st->death_pin) == 0 || strcmp(pin, st->move_pin) == 0)
			continue;
		/* The child takes the mother's surname here (the family chooses). */
		sp = strchr(name, ' ');
		snprintf(st->birth_child, sizeof(st->birth_child), "%.*s Bảo An",
			 (int)(sp ? (size_t)(sp - name) : strlen(name)), name);
		snprintf(st->birth_body, sizeof(st->birth_body),
			 "{\"child_name\":\"%s\",\"birth_date\":\"%s\",\"sex\":\"female\","
			 "\"province\":\"%s\",\"mother_pin\":\"%s\",\"registered_on\":\"%s\"}",
			 st->birth_child, today, prov, pin, today);
		snprintf(st->birth_mother, sizeof(st->birth_mother), "%s", pin);
		snprintf(st->birth_mother_name, sizeof(st->birth_mother_name), "%s", name);
		snprintf(st->birth_household, sizeof(st->birth_household), "%s", hh);
		json_decref(doc);
		return 0;
	}
	json_decref(doc);
	cli_error("none of the first %d citizens is a living woman of 20 to 45 in a household (%s)",
		  DEATH_CANDIDATES, pop->sector_db);
	return -1;
}

/* The citizen whose death the printed command registers: alive, neither
 * of the two the other printed lines are about, with an e-ID account
 * (prepare_id imports one for them), an open personal tax file and a
 * living insurance record, so that every effect shows. On a later up after
 * that death, the next such citizen. */
static int pick_death_citizen(struct demo_state *st, const struct demo_gateway *pop)
{
	const struct demo_gateway *tax = sector_gateway(st, "tax");
	const struct demo_gateway *ins = sector_gateway(st, "insurance");
	char path[96];
	json_t *doc, *row;
	size_t i;

	snprintf(path, sizeof(path), "/citizens?limit=%d", DEATH_CANDIDATES);
	if (tax == NULL || ins == NULL || !(doc = sector_get(pop->sector_url, path)))
		return -1;
	json_array_foreach(json_object_get(doc, "items"), i, row) {
		const char *pin = json_string_value(json_object_get(row, "pin"));
		const char *name = json_string_value(json_object_get(row, "full_name"));
		const json_t *dead = json_object_get(row, "deceased_on");

		if (!pin || !name || (dead && !json_is_null(dead)) ||
		    strlen(pin) >= sizeof(st->death_pin) || strcmp(pin, st->try_pin) == 0 ||
		    strcmp(pin, st->other_pin) == 0)
			continue;
		snprintf(path, sizeof(path), "/taxpayers/%s", pin);
		if (!sector_has(tax->sector_url, path, "status", "active"))
			continue;
		snprintf(path, sizeof(path), "/participants/%s", pin);
		if (!sector_has(ins->sector_url, path, "pin", NULL) ||
		    sector_has(ins->sector_url, path, "status", "deceased"))
			continue;
		snprintf(st->death_pin, sizeof(st->death_pin), "%s", pin);
		snprintf(st->death_name, sizeof(st->death_name), "%s", name);
		json_decref(doc);
		return 0;
	}
	json_decref(doc);
	cli_error("none of the first %d citizens is alive with a tax file and insurance (%s)",
		  DEATH_CANDIDATES, pop->sector_db);
	return -1;
}

/* Seeds the synthetic data the first time, starts one ndx-sector per
 * member that has a sector, waits until they answer, and picks the
 * citizen and enterprise the printed exchanges read. */
static int start_sectors(struct demo_state *st, const char *sector_bin)
{
	struct demo_paths *p = &st->paths;
	char pop_db[PATH_MAX], seed_log[PATH_MAX], listen[PATH_MAX + 8];
	char what[NDX_ID_TEXT_MAX + 32], client[NDX_ID_TEXT_MAX];
	size_t i;
	long start;

	if (join(pop_db, p->sector, "population.db") || join(seed_log, p->logs, "sector-seed.log"))
		return -1;
	/* seed refuses a directory that holds data: a later up reuses it. */
	if (access(pop_db, F_OK) != 0) {
		char *argv[] = { (char *)sector_bin, "seed", "--db-dir", p->sector, "--citizens",
				 SECTOR_CITIZENS, "--seed", SECTOR_SEED, "--quiet", NULL };

		if (run_to_end(argv, seed_log, "ndx-sector seed") != 0)
			return -1;
	}
	for (i = 0; i < N_MEMBERS; i++) {
		struct demo_gateway *g = &st->gw[i];

		if (g->sector == NULL)
			continue;
		/* Only this user - the gateways - can open the socket (T33). */
		snprintf(listen, sizeof(listen), "unix:%s", g->sector_sock);
		g->sector_log_from = log_size(g->sector_log);
		/* Events go through the agency's gateway as the sector's
		 * subsystem (docs/sectors.md "Events"); the gateway starts later,
		 * and the sector retries until it answers. */
		/* its subsystem is named after the registry it runs */
		snprintf(client, sizeof(client), "%s/%s", g->site->member, g->sector);
		{
			char *argv[] = { (char *)sector_bin, "serve", "--sector", (char *)g->sector,
					 "--db", g->sector_db, "--listen", listen,
					 "--events-gateway", g->consumer_url, "--events-client", client,
					 "--events-poll-ms", EVENTS_POLL_MS, NULL };

			g->sector_pid = spawn(argv, g->sector_log, 1);
		}
		if (g->sector_pid < 0) {
			g->sector_pid = 0;
			return -1;
		}
	}
	start = now_ms();
	for (i = 0; i < N_MEMBERS; i++) {
		struct demo_gateway *g = &st->gw[i];

		if (g->sector == NULL)
			continue;
		snprintf(what, sizeof(what), "the %s sector of %s", g->sector, g->site->member);
		if (wait_ready(g->sector_pid, what, g->sector_url, g->sector_log,
			       g->sector_log_from, "listening on", start) != 0)
			return -1;
	}
	/* Once every sector answers: the pick reads the insurance registry too. */
	if (pick_enterprise(st, sector_gateway(st, "enterprise")) != 0)
		return -1;
	for (i = 0; i < N_MEMBERS; i++) {
		struct demo_gateway *g = &st->gw[i];

		if (g->sector && strcmp(g->sector, "population") == 0 &&
		    (demo_citizens(st, g) != 0 || pick_death_citizen(st, g) != 0 ||
		     pick_move_citizen(st, g) != 0 || pick_birth_mother(st, g) != 0 ||
		     pick_officials(st, g) != 0))
			return -1;
	}
	return 0;
}

/* DIR, its logs, gateways and sector data: made 0700, and set so when an
 * earlier version left them 0755 (T34). The daemons' own directories
 * inside are made under umask 077. */
static int private_dirs(const struct demo_paths *p)
{
	const char *dirs[] = { p->dir, p->logs, p->gateways, p->sector, p->conf };

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		if (ndx_mkdirs(dirs[i], 0700) != NDX_OK || chmod(dirs[i], 0700) != 0) {
			cli_error("cannot create %s (0700): %s", dirs[i], strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* port 0: the default (see initialised_port). */
static int demo_up(const char *dir, unsigned port, const char *fed_file, struct demo_state *st)
{
	char registry_bin[PATH_MAX], gateway_bin[PATH_MAX], sector_bin[PATH_MAX];
	char consent_bin[PATH_MAX], id_bin[PATH_MAX], portal_bin[PATH_MAX];
	char monitor_bin[PATH_MAX], pay_bin[PATH_MAX];
	char port_arg[32], console_secret[PATH_MAX], bank_pub[PATH_MAX], bank_arg[PATH_MAX + 8];
	struct demo_paths *p = &st->paths;
	struct cli_api api;
	struct stat sb;
	json_t *fed;
	off_t log_from = 0;
	size_t i;

	memset(st, 0, sizeof(*st));
	if (load_federation(st, fed_file) != 0)
		return CLI_EXIT_USAGE;
	if (demo_paths(dir, 1, p) != 0)
		return CLI_EXIT_FAIL;
	if (refuse_if_running(p) != 0)
		return CLI_EXIT_FAIL;
	if (cli_find_binary("ndx-registry", registry_bin, sizeof(registry_bin)) != 0 ||
	    cli_find_binary("ndx-gateway", gateway_bin, sizeof(gateway_bin)) != 0 ||
	    cli_find_binary(NAME_SECTOR, sector_bin, sizeof(sector_bin)) != 0 ||
	    cli_find_binary(NAME_CONSENT, consent_bin, sizeof(consent_bin)) != 0 ||
	    cli_find_binary(NAME_ID, id_bin, sizeof(id_bin)) != 0 ||
	    cli_find_binary(NAME_PORTAL, portal_bin, sizeof(portal_bin)) != 0 ||
	    cli_find_binary(NAME_MONITOR, monitor_bin, sizeof(monitor_bin)) != 0 ||
	    cli_find_binary(NAME_PAY, pay_bin, sizeof(pay_bin)) != 0)
		return CLI_EXIT_FAIL;
	if (private_dirs(p) != 0)
		return CLI_EXIT_FAIL;
	if (port == 0)
		port = initialised_port(p->anchor);
	if (port + PORT_SPAN - 1 > 65535) {
		cli_error("--port-base %u leaves no room for the gateways and test services "
			  "(they use up to PORT+%u); choose at most %u", port, PORT_SPAN - 1,
			  65535 - (PORT_SPAN - 1));
		return CLI_EXIT_FAIL;
	}
	snprintf(st->url, sizeof(st->url), "http://127.0.0.1:%u", port);
	for (i = 0; i < N_MEMBERS; i++)
		if (gateway_setup(p, port, i, &st->gw[i]) != 0)
			return CLI_EXIT_FAIL;
	if (app_setup(&st->consent, NAME_CONSENT, p, "consent", port + CONSENT_OFFSET) ||
	    app_setup(&st->id, NAME_ID, p, "id", port + ID_OFFSET) ||
	    app_setup(&st->portal, NAME_PORTAL, p, "portal", port + PORTAL_OFFSET) ||
	    app_setup(&st->monitor, NAME_MONITOR, p, "monitor", port + MONITOR_OFFSET) ||
	    app_setup(&st->treasury, NAME_PAY, p, "treasury", port + TREASURY_OFFSET) ||
	    app_setup(&st->bank, NAME_PAY, p, "bank", port + BANK_OFFSET))
		return CLI_EXIT_FAIL;
	if (ports_free(st, port) != 0 || app_ports_free(st) != 0)
		return CLI_EXIT_FAIL;
	if (stat(p->anchor, &sb) != 0) {
		char *init_argv[] = { registry_bin, "init", "--data", p->registry_dir,
				      "--url", st->url, NULL };

		if (run_to_end(init_argv, p->log, "ndx-registry init") != 0)
			return CLI_EXIT_FAIL;
	}
	snprintf(port_arg, sizeof(port_arg), "127.0.0.1:%u", port);
	if (join(console_secret, p->registry_dir, REGISTRY_OIDC_SECRET) ||
	    secret_file(console_secret))
		return CLI_EXIT_FAIL;
	if (bank_receipt_key(st, bank_pub) != 0)
		return CLI_EXIT_FAIL;
	snprintf(bank_arg, sizeof(bank_arg), BANK_BIN "=%s", bank_pub);
	log_from = log_size(p->log);
	{
		char *serve_argv[] = { registry_bin, "serve", "--data", p->registry_dir,
				       "--listen", port_arg, "--console-eid", st->id.url,
				       "--console-client", REGISTRY_OIDC_CLIENT,
				       "--console-secret-file", console_secret, "--public-url",
				       st->url, "--web", NDX_WEB_DIR, "--assets", NDX_ASSETS_DIR,
				       "--bank-key", bank_arg, NULL };

		st->registry_pid = spawn(serve_argv, p->log, 1);
	}
	if (st->registry_pid < 0) {
		st->registry_pid = 0;
		return CLI_EXIT_FAIL;
	}
	if (wait_ready(st->registry_pid, NAME_REGISTRY, st->url, p->log, log_from, "listening on",
		       now_ms()) != 0)
		goto fail;
	if (start_sectors(st, sector_bin) != 0 || start_consent(st, consent_bin) != 0 ||
	    prepare_id(st, id_bin) != 0 || prepare_gateway_consoles(st, id_bin) != 0 ||
	    add_registry_officials(st, registry_bin) != 0)
		goto fail;
	if (cli_api_open(&api, st->url, p->token, 1) != 0)
		goto fail;
	if (populate(st, &api, &st->n_services, &st->n_grants) != 0 ||
	    ensure_id_provider(st, &api) != 0) {
		cli_api_close(&api);
		goto fail;
	}
	for (i = 0; i < N_MEMBERS; i++) {
		if (ensure_identity(&api, &st->gw[i]) != 0 ||
		    write_gateway_config(st, &st->gw[i]) != 0) {
			cli_api_close(&api);
			goto fail;
		}
	}
	cli_api_close(&api);
	if (demo_market(st, registry_bin) != 0)
		goto fail;
	if (cli_conf_fetch(st->url, p->anchor, p->conf, 1, &st->conf_version) != CLI_EXIT_OK)
		goto fail;
	if (start_treasury(st, pay_bin) != 0 || start_gateways(st, gateway_bin) != 0 ||
	    start_bank(st, pay_bin) != 0 || start_id(st, id_bin) != 0 ||
	    market_credentials(st, registry_bin) != 0 || start_portal(st, portal_bin) != 0 || demo_officer_read(st) != 0 ||
	    start_monitor(st, monitor_bin, p->anchor) != 0)
		goto fail;
	fed = federation_doc(st);
	if (fed == NULL) {
		cli_error("out of memory");
		goto fail;
	}
	if (write_federation(p->fed, fed) != 0) {
		json_decref(fed);
		goto fail;
	}
	json_decref(fed);
	return CLI_EXIT_OK;
fail:
	/* Nothing half-started stays behind. */
	stop_state(st);
	return CLI_EXIT_FAIL;
}

static void print_up_summary(const struct demo_state *st)
{
	const struct demo_paths *p = &st->paths;
	size_t i;

	printf("ndx demo: federation %s is up in %s\n", INSTANCE, p->dir);
	printf("  registry  %s  (pid %ld, log %s)\n", st->url, (long)st->registry_pid, p->log);
	printf("  anchor    %s\n", p->anchor);
	printf("  token     %s\n", p->token);
	printf("  conf      %s  (version %llu, signature verified)\n", p->conf,
	       (unsigned long long)st->conf_version);
	for (i = 0; i < N_MEMBERS; i++)
		printf("  %-9s %-12s %s\n", i == 0 ? "members" : "", sites[i].member,
		       member_name(st, sites[i].member));
	printf("  %zu services, %zu grants  (from %s)\n", st->n_services, st->n_grants,
	       st->fed_file);
	for (i = 0; i < N_MEMBERS; i++) {
		const struct demo_gateway *g = &st->gw[i];

		printf("  %-9s %-12s consumer %s  gateway %s  (pid %ld, log %s)\n",
		       i == 0 ? "gateways" : "", g->site->member, g->consumer_url, g->address,
		       (long)g->pid, g->log);
	}
	for (i = 0; i < N_MEMBERS; i++) {
		const struct demo_gateway *g = &st->gw[i];

		if (g->sector != NULL)
			printf("  %-9s %-12s unix:%s  ndx-sector %s, %s  (pid %ld, log %s)\n",
			       i == 0 ? "backends" : "", g->site->member, g->sector_sock, g->sector,
			       g->sector_db, (long)g->sector_pid, g->sector_log);
	}
	printf("            (synthetic data seeded into %s)\n", p->sector);
	printf("  consent   %s  ndx-consent %s  (pid %ld, log %s)\n", st->consent.url, CONSENT_ID,
	       (long)st->consent.pid, st->consent.log);
	printf("  e-ID      %s  ndx-id, OpenID Connect  (pid %ld, log %s)\n", st->id.url,
	       (long)st->id.pid, st->id.log);
	printf("  portal    %s  ndx-portal  (pid %ld, log %s)\n", st->portal.url,
	       (long)st->portal.pid, st->portal.log);
	printf("  monitor   %s  ndx-monitor %s  (pid %ld, log %s)\n", st->monitor.url,
	       MONITOR_CLIENT, (long)st->monitor.pid, st->monitor.log);
	printf("  treasury  %s  ndx-pay treasury VN/GOV/KBNN/treasury  (pid %ld, log %s)\n",
	       st->treasury.url, (long)st->treasury.pid, st->treasury.log);
	printf("  bank      %s/pay  ndx-pay bank %s, %s  (pid %ld, log %s)\n", st->bank.url,
	       BANK_CLIENT, BANK_NAME, (long)st->bank.pid, st->bank.log);
	printf("  described in %s\n", p->fed);
}

/* The life event: the command that registers a death, and those that show
 * its effect in each registry (docs/events.md). */
static void print_try_death(const struct demo_state *st, const char *self)
{
	char line[2 * PATH_MAX + 512];

	if (!st->death_pin[0])
		return;
	printf("A life event through the exchange: register the death of %s (%s) at the\n"
	       "civil status registry of %s; within seconds the population registry marks\n"
	       "them deceased, social insurance stops their pension, the tax department\n"
	       "closes their personal tax file and the e-ID disables their account, each\n"
	       "from its own subscription to death-registered, each delivery in the message\n"
	       "log of both gateways:\n", st->death_name, st->death_pin, "VN/GOV/BTP");
	try_death(st, line, sizeof(line));
	printf("  %s\n", line);
	printf("then see it in each registry (deceased_on; status deceased; status closed; the\n"
	       "e-ID refusing the sign-in), and in the tax department's gateway inbox:\n");
	try_death_effect(st, "population", "citizens", line, sizeof(line));
	printf("  %s\n", line);
	try_death_effect(st, "insurance", "participants", line, sizeof(line));
	printf("  %s\n", line);
	try_death_effect(st, "tax", "taxpayers", line, sizeof(line));
	printf("  %s\n", line);
	try_death_eid(st, self, line, sizeof(line));
	printf("  %s\n", line);
	try_death_inbox(st, line, sizeof(line));
	printf("  %s\n", line);
}

/* The second life event: a change of permanent residence, and the commands
 * that show the new address in tax, insurance and vehicles. */
static void print_try_move(const struct demo_state *st)
{
	char line[2 * PATH_MAX + 2600];

	if (!st->move_pin[0])
		return;
	printf("Another: the population registry of %s records that %s (%s)\n"
	       "changed their permanent residence, heading a household in the new province;\n"
	       "from their subscriptions to residence-changed the tax department, social\n"
	       "insurance and the vehicle register update the address they hold within\n"
	       "seconds:\n",
	       "VN/GOV/BCA", st->move_name, st->move_pin);
	if (st->move_household[0]) {
		try_move_household(st, line, sizeof(line));
		printf("  %s\n", line);
	}
	try_move(st, line, sizeof(line));
	printf("  %s\n", line);
	printf("then see the new address (address, province; owner_address, owner_province):\n");
	try_move_effect(st, "tax", line, sizeof(line));
	printf("  %s\n", line);
	try_move_effect(st, "insurance", line, sizeof(line));
	printf("  %s\n", line);
	try_move_effect(st, "vehicles", line, sizeof(line));
	printf("  %s\n", line);
}

/* The third life event: a birth, and the commands that show the child in
 * population and insurance, and in the mother's portal profile. */
static void print_try_birth(const struct demo_state *st)
{
	char line[PATH_MAX + 1400];

	if (!st->birth_mother[0])
		return;
	printf("And a birth: register the birth of %s, daughter of %s (%s), at the\n"
	       "civil status registry of %s, with no number for her; from its subscription\n"
	       "to birth-registered the population registry records her with a new personal\n"
	       "number in her mother's household and publishes citizen-registered, from which\n"
	       "social insurance issues her health insurance card (status health-card):\n",
	       st->birth_child, st->birth_mother_name, st->birth_mother, "VN/GOV/BTP");
	try_birth(st, line, sizeof(line));
	printf("  %s\n", line);
	printf("then see her in the household %s and in social insurance:\n",
	       st->birth_household);
	try_birth_effect(st, "population", line, sizeof(line));
	printf("  %s\n", line);
	try_birth_effect(st, "insurance", line, sizeof(line));
	printf("  %s\n", line);
	printf("and in the mother's portal profile, whose household lists her among its\n"
	       "members (sign in with the e-ID as %s, password %s):\n", st->birth_mother,
	       DEMO_PASSWORD);
	printf("  %s/profile\n", st->portal.url);
}

/* The data marketplace: the logistics company reads the printed
 * enterprise under the agreement up negotiated (demo_market), and checks
 * that agreement's signed negotiation. */
static void print_try_market(const struct demo_state *st, const char *self)
{
	const struct demo_gateway *g = gateway_of(st, LOGISTICS_CLIENT);

	printf("The data marketplace (docs/marketplace.md \"In the demo\"): the bank\n"
	       "%s and the logistics company %s bought the address check\n"
	       "%s and the business-registry feed\n"
	       "%s for %s; the logistics company reads\n"
	       "the same enterprise under its agreement:\n",
	       BANK_MEMBER, LOGISTICS_MEMBER, VERIFY_SERVICE, ENTERPRISES_SERVICE, MARKET_PURPOSE);
	printf("  curl -s -H 'X-Road-Client: %s' -H 'Ndx-Purpose: %s' -H 'Ndx-Subject: %s' "
	       "%s/r1/%s/%s\n",
	       LOGISTICS_CLIENT, MARKET_PURPOSE, st->try_pin, g ? g->consumer_url : "",
	       ENTERPRISES_SERVICE, st->try_code);
	if (st->market_chain[0])
		printf("and checks that agreement's negotiation, each message signed by its sender's\n"
		       "gateway:\n"
		       "  %s market check-negotiation %s --conf %s --anchor %s\n",
		       self, st->market_chain, st->paths.conf, st->paths.anchor);
}

static void print_try_exchange(const struct demo_state *st)
{
	char curl[2 * PATH_MAX + 256], self[PATH_MAX];
	const struct demo_officer *o = &officers[DEMO_OFFICER];

	try_curl(st, curl, sizeof(curl));
	printf("Make an exchange (%s reads a citizen from %s through both gateways):\n",
	       TRY_CLIENT, TRY_SERVICE);
	printf("  %s\n", curl);
	try_enterprise_curl(st, curl, sizeof(curl));
	printf("and another (%s reads the enterprise %s, whose legal representative\n"
	       "that citizen is, and whose record is about no one else, from %s):\n",
	       TRY_CLIENT, st->try_code, TRY_ENTERPRISE_SERVICE);
	printf("  %s\n", curl);
	if (st->proc_id[0])
		printf("The portal holds a third read of that citizen's data: the officer %s (%s)\n"
		       "opened their change of permanent residence, procedure %s,\n"
		       "which read their population record for that procedure.\n", o->username,
		       o->agency, st->proc_id);
	printf("Who read the citizen's data: sign in at %s as %s (password %s)\n"
	       "and open \"Ai đã xem dữ liệu của tôi\" (Who viewed my data): the tax\n"
	       "department's two reads above, once made, and the officer's, in plain words; the\n"
	       "citizen's own views only under the \"Ai đọc\" filter. Or ask every agency's\n"
	       "gateway as the portal does, with the citizen's ID token from the e-ID (the\n"
	       "first line signs them in and writes it; it is valid for a few minutes, so run\n"
	       "it again when it has expired):\n",
	       st->portal.url, st->try_pin, DEMO_PASSWORD);
	cli_self_path(self, sizeof(self));
	try_id_token(st, self, curl, sizeof(curl));
	printf("  %s\n", curl);
	try_accesses(st, self, curl, sizeof(curl));
	printf("  %s\n", curl);
	print_try_death(st, self);
	print_try_move(st);
	print_try_birth(st);
	print_try_market(st, self);
	printf("Use the citizen portal in a browser: %s\n", st->portal.url);
	printf("  sign in with the national e-ID as %s, password %s (or any of the first\n"
	       "  %s citizens by number, same password); file a household business or a\n"
	       "  change of permanent residence, see who read your data, grant and revoke\n"
	       "  consents\n", st->try_pin, DEMO_PASSWORD, DEMO_ACCOUNTS);
	printf("  officers sign in at %s/officer:", st->portal.url);
	for (size_t i = 0; i < N_OFFICERS; i++)
		printf("%s %s (%s)", i ? "," : "", officers[i].username, officers[i].agency);
	printf(", password %s\n", DEMO_PASSWORD);
	printf("The operations centre: %s/ops — sign in with the e-ID as %s (operator) or\n"
	       "  %s (agency %s), password %s\n", st->portal.url, st->ops_pin[0],
	       st->ops_pin[1], ops_officials[1].member, DEMO_PASSWORD);
	printf("The registry's console: %s/console/ — sign in with the e-ID as %s (operator)\n"
	       "  or %s (auditor, read only), password %s\n", st->url, st->ops_pin[0],
	       st->ops_pin[1], DEMO_PASSWORD);
	printf("Officers and officials managed on the web: %s/admin/officers — sign in with\n"
	       "  the e-ID as %s (operator: every one) or %s (agency: the tax department's\n"
	       "  officers), password %s\n", st->portal.url, st->ops_pin[0], st->ops_pin[1],
	       DEMO_PASSWORD);
	printf("Each gateway's console (docs/gateway-console.md), with the e-ID as %s\n"
	       "  (administrator of VPCP's, auditor of the others) or %s (administrator of\n"
	       "  TCT's), password %s:\n", st->ops_pin[0], st->ops_pin[1], DEMO_PASSWORD);
	for (size_t i = 0; i < N_MEMBERS; i++)
		printf("  %-17s %s/console/\n", st->gw[i].site->member, st->gw[i].console_url);
	printf("The federation live, as the operator's monitoring service collects it from\n"
	       "every gateway through the exchange (exchanges per second, errors by type,\n"
	       "latency, the busiest services, each agency, each gateway up or down; add\n"
	       "&member=VN/GOV/TCT for one agency's view):\n");
	printf("  curl -s -H \"Authorization: Bearer $(cat %s/admin.token)\" "
	       "'%s/api/live?window=600'\n", st->monitor.dir, st->monitor.url);
}

static int demo_down(const char *dir, int quiet)
{
	static const char *const lists[] = { "gateways", "sectors" };
	struct demo_paths p;
	pid_t pids[MAX_PROCS];
	const char *names[MAX_PROCS];
	json_t *fed = NULL, *procs, *proc, *reg;
	const char *key;
	char now[NDX_TIME_TEXT_LEN];
	size_t n, i, l;
	int rc, running;

	rc = demo_paths(dir, 0, &p);
	if (rc < 0)
		return CLI_EXIT_FAIL;
	if (rc == 0)
		rc = read_federation(p.fed, &fed);
	if (rc == 1) {
		if (!quiet)
			printf("ndx demo: no demo federation in %s; nothing to stop\n", dir);
		return CLI_EXIT_OK;
	}
	if (rc < 0)
		return CLI_EXIT_FAIL;
	n = fed_processes(fed, pids, names, MAX_PROCS);
	running = stop_in_order(pids, names, n);
	for (i = 0; i < n; i++)
		if (proc_alive(pids[i], names[i])) {
			cli_error("%s (pid %ld) is still running", names[i], (long)pids[i]);
			json_decref(fed);
			return CLI_EXIT_FAIL;
		}
	procs = json_object_get(fed, "processes");
	json_array_foreach(procs, i, proc) {
		json_object_set_new(proc, "pid", json_integer(0));
		json_object_set_new(proc, "stopped", json_true());
	}
	for (l = 0; l < sizeof(lists) / sizeof(lists[0]); l++)
		json_array_foreach(json_object_get(fed, lists[l]), i, proc)
			json_object_set_new(proc, "pid", json_integer(0));
	json_object_foreach(json_object_get(fed, "apps"), key, proc)
		json_object_set_new(proc, "pid", json_integer(0));
	reg = json_object_get(fed, "registry");
	if (json_is_object(reg))
		json_object_set_new(reg, "pid", json_integer(0));
	ndx_time_format(time(NULL), now);
	json_object_set_new(fed, "stopped", json_true());
	json_object_set_new(fed, "stopped_at", json_string(now));
	rc = write_federation(p.fed, fed) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
	/* names point into fed: print before letting it go. */
	if (rc == CLI_EXIT_OK && !quiet) {
		if (running == 0)
			printf("ndx demo: the federation in %s was not running\n", p.dir);
		else
			for (i = 0; i < n; i++)
				printf("ndx demo: stopped %s (pid %ld)\n", names[i], (long)pids[i]);
	}
	json_decref(fed);
	return rc;
}

/* run's traffic (cmd_demo_traffic.c), so that the monitoring service's
 * figures move while someone looks: a child that stops by itself after
 * TRAFFIC_SECONDS, its output in DIR/logs/traffic.log. 0 when it could not
 * start (printed; the federation runs regardless). */
static pid_t start_traffic(const struct demo_state *st, const char *self)
{
	char log[PATH_MAX];
	char *argv[] = { (char *)self, "demo", "traffic", "--dir", (char *)st->paths.dir,
			 "--seconds", TRAFFIC_SECONDS, "--rate", TRAFFIC_RATE, NULL };
	pid_t pid;

	if (join(log, st->paths.logs, "traffic.log"))
		return 0;
	pid = spawn(argv, log, 1);
	if (pid <= 0)
		return 0;
	printf("Traffic: %s exchanges a second for %s s through the federation, so that the\n"
	       "figures above move (log %s; `ndx demo traffic --help`)\n", TRAFFIC_RATE,
	       TRAFFIC_SECONDS, log);
	return pid;
}

static int demo_run(const char *dir, unsigned port, const char *fed_file)
{
	pid_t traffic = 0;
	struct demo_state *st = calloc(1, sizeof(*st));
	const struct demo_gateway *btc;
	pid_t pids[MAX_PROCS];
	const char *names[MAX_PROCS];
	sigset_t set;
	char self[PATH_MAX], conf_try[PATH_MAX + 16];
	size_t n, i;
	int rc, sig, dead = 0;

	if (st == NULL) {
		cli_error("out of memory");
		return CLI_EXIT_FAIL;
	}
	/* Blocked from the start so that Ctrl-C during up still ends in down. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	/* `make demo` runs this under make, and GNU make, sent SIGTERM, dies
	 * without passing the signal on: its death is ours to stop on. */
	{
		pid_t parent = getppid();

		if (prctl(PR_SET_PDEATHSIG, SIGTERM) == 0 && getppid() != parent)
			kill(getpid(), SIGTERM); /* it died before the line above */
	}
	rc = demo_up(dir, port, fed_file, st);
	if (rc != CLI_EXIT_OK) {
		demo_state_free(st);
		return rc;
	}
	print_up_summary(st);
	cli_self_path(self, sizeof(self));
	snprintf(conf_try, sizeof(conf_try), "%s/try-conf", st->paths.dir);
	btc = gateway_of(st, TRY_CLIENT);
	printf("\nOpen:\n");
	printf("  %s/healthz   %s/conf   %s/anchor\n", st->url, st->url, st->url);
	for (i = 0; i < N_MEMBERS; i++)
		printf("  %s/healthz   %s/metrics   (%s's gateway)\n", st->gw[i].consumer_url,
		       st->gw[i].consumer_url, st->gw[i].code);
	printf("\n");
	print_try_exchange(st);
	printf("Try:\n");
	printf("  curl -s -H 'X-Road-Client: %s' %s/r1/%s/allowedMethods\n", TRY_CLIENT,
	       btc->consumer_url, "VN/GOV/BCA/population");
	printf("  %s log verify --db %s/msglog.db --key %s\n", self, btc->data_dir, btc->sign_pub);
	printf("  %s conf fetch --registry %s --anchor %s --out %s\n", self, st->url,
	       st->paths.anchor, conf_try);
	printf("  %s conf verify %s --anchor %s\n", self, conf_try, st->paths.anchor);
	printf("  NDX_TOKEN_FILE=%s %s member list --registry %s\n", st->paths.token, self,
	       st->url);
	traffic = start_traffic(st, self);
	printf("\nPress Ctrl-C to stop.\n");
	fflush(stdout);
	n = state_processes(st, pids, names);
	rc = CLI_EXIT_OK;
	while (!dead) {
		struct timespec ts = { 1, 0 };

		sig = sigtimedwait(&set, NULL, &ts);
		if (sig > 0)
			break;
		for (i = 0; i < n; i++) {
			if (!proc_alive(pids[i], names[i])) {
				cli_error("%s (pid %ld) stopped unexpectedly (logs in %s)", names[i],
					  (long)pids[i], st->paths.logs);
				rc = CLI_EXIT_FAIL;
				dead = 1;
				break;
			}
		}
	}
	printf("\nndx demo: stopping\n");
	if (traffic > 0 && kill(traffic, SIGTERM) == 0)
		waitpid(traffic, NULL, 0);
	if (demo_down(st->paths.dir, 0) != CLI_EXIT_OK)
		rc = CLI_EXIT_FAIL;
	demo_state_free(st);
	return rc;
}

/* ---- demo id-token ---------------------------------------------------------- */

/* 32 random bytes as base64url (a PKCE verifier, a state, a nonce); NULL
 * when there is no randomness or memory (printed). */
static char *random_b64url(void)
{
	uint8_t raw[32];
	char *s;

	if (RAND_bytes(raw, sizeof(raw)) != 1) {
		cli_error("no randomness");
		return NULL;
	}
	s = ndx_b64_encode(raw, sizeof(raw), 1);
	OPENSSL_cleanse(raw, sizeof(raw));
	if (!s)
		cli_error("out of memory");
	return s;
}

/* The query parameter key of url, percent-decoded, into out. */
static int url_param(const char *url, const char *key, char *out, size_t cap)
{
	const char *q = strchr(url, '?');
	size_t klen = strlen(key);

	while (q && *q) {
		size_t n;

		q++;
		n = strcspn(q, "&#");
		if (n > klen && strncmp(q, key, klen) == 0 && q[klen] == '=')
			return ndx_pct_decode(q + klen + 1, n - klen - 1, out, cap) < 0 ? -1 : 0;
		q += n;
		if (*q == '#')
			break;
	}
	return -1;
}

/* Signs pin in at the e-ID with the portal's OpenID Connect client
 * (authorization code with PKCE, RFC 7636, as the portal does; secret is
 * the client's) and returns the ID token (owned, to be wiped) in *out. */
static int eid_id_token(const struct demo_state *st, const char *secret, const char *pin,
			char **out)
{
	char *verifier = random_b64url(), *state = random_b64url(), *nonce = random_b64url();
	char challenge_b[NDX_SHA256_LEN], redirect[128], enc_redirect[384], url[1024];
	char code[WEB_VALUE_MAX], form[6 * WEB_VALUE_MAX], token_url[96], *next = NULL;
	char *challenge = NULL;
	struct web_call w = { .method = "POST", .url = token_url, .form = form };
	struct cli_http_response resp = { 0 };
	json_t *doc = NULL;
	const char *tok;
	int rc = -1;

	*out = NULL;
	if (!verifier || !state || !nonce)
		goto out;
	ndx_sha256(verifier, strlen(verifier), (uint8_t *)challenge_b);
	if (!(challenge = ndx_b64_encode((uint8_t *)challenge_b, sizeof(challenge_b), 1))) {
		cli_error("out of memory");
		goto out;
	}
	snprintf(redirect, sizeof(redirect), "%s/auth/callback", st->portal.url);
	if (ndx_pct_encode(redirect, strlen(redirect), enc_redirect, sizeof(enc_redirect)) < 0) {
		cli_error("the portal's URL %s is too long", st->portal.url);
		goto out;
	}
	snprintf(url, sizeof(url), "%s/authorize?response_type=code&client_id=%s&redirect_uri=%s"
		 "&scope=openid&state=%s&nonce=%s&code_challenge=%s&code_challenge_method=S256",
		 st->id.url, PORTAL_OIDC_CLIENT, enc_redirect, state, nonce, challenge);
	if (eid_sign_in(st, url, pin, &next) != 0)
		goto out;
	if (url_param(next, "code", code, sizeof(code)) != 0) {
		cli_error("the e-ID sent no code back (log: %s)", st->id.log);
		goto out;
	}
	form[0] = '\0';
	snprintf(token_url, sizeof(token_url), "%s/token", st->id.url);
	if (form_add(form, sizeof(form), "grant_type", "authorization_code") ||
	    form_add(form, sizeof(form), "code", code) ||
	    form_add(form, sizeof(form), "redirect_uri", redirect) ||
	    form_add(form, sizeof(form), "code_verifier", verifier) ||
	    form_add(form, sizeof(form), "client_id", PORTAL_OIDC_CLIENT) ||
	    form_add(form, sizeof(form), "client_secret", secret)) {
		cli_error("the token request is too long");
		goto out;
	}
	if (web(&w, &resp) != 0)
		goto out;
	doc = resp.status == 200 ? json_loadb(resp.body, resp.len, 0, NULL) : NULL;
	tok = json_string_value(json_object_get(doc, "id_token"));
	if (!tok) {
		cli_error("the e-ID gave no ID token (%ld; log: %s)", resp.status, st->id.log);
		goto out;
	}
	if (!(*out = strdup(tok))) {
		cli_error("out of memory");
		goto out;
	}
	rc = 0;
out:
	OPENSSL_cleanse(form, sizeof(form));
	if (resp.body)
		OPENSSL_cleanse(resp.body, resp.len);
	cli_http_response_free(&resp);
	json_decref(doc);
	free(verifier);
	free(state);
	free(nonce);
	free(challenge);
	free(next);
	return rc;
}

/* The claim exp of a JWS compact token; 0 when it cannot be read. */
static long long token_exp(const char *jws)
{
	const char *a = strchr(jws, '.'), *b = a ? strchr(a + 1, '.') : NULL;
	uint8_t *raw = NULL;
	size_t len = 0;
	long long exp = 0;
	json_t *doc;

	if (!b || ndx_b64_decode(a + 1, (size_t)(b - a - 1), 1, &raw, &len) != NDX_OK)
		return 0;
	doc = json_loadb((const char *)raw, len, 0, NULL);
	if (json_is_integer(json_object_get(doc, "exp")))
		exp = json_integer_value(json_object_get(doc, "exp"));
	json_decref(doc);
	free(raw);
	return exp;
}

/* `ndx demo accounts`: who can sign in to the running (or stopped) demo, and
 * where, from DIR/federation.json; the password is read from its 0600 file,
 * as `up` prints it. */
static int demo_accounts(const char *dir)
{
	struct demo_paths *p = calloc(1, sizeof(*p));
	const json_t *apps, *id, *portal, *item;
	const char *portal_url, *pw_file = NULL;
	char *password = NULL;
	json_t *fed = NULL;
	size_t len = 0, i;
	int rc;

	if (!p) {
		cli_error("out of memory");
		return CLI_EXIT_FAIL;
	}
	if ((rc = demo_paths(dir, 0, p)) == 0)
		rc = read_federation(p->fed, &fed);
	if (rc != 0) {
		if (rc > 0)
			cli_error("no demo federation in %s; start one with: ndx demo up --dir %s",
				  dir, dir);
		free(p);
		return CLI_EXIT_FAIL;
	}
	apps = json_object_get(fed, "apps");
	id = json_object_get(apps, "id");
	portal = json_object_get(apps, "portal");
	portal_url = json_string_value(json_object_get(portal, "url"));
	if (!portal_url || !json_is_array(json_object_get(id, "demo_accounts"))) {
		cli_error("%s lists no portal or e-ID accounts (a federation from an older "
			  "ndx: run ndx demo up --dir %s again)", p->fed, dir);
		json_decref(fed);
		free(p);
		return CLI_EXIT_FAIL;
	}
	pw_file = json_string_value(json_object_get(
		json_array_get(json_object_get(id, "demo_accounts"), 0), "password_file"));
	if (pw_file && ndx_file_read(pw_file, 4096, &password, &len) == NDX_OK) {
		while (len > 0 && (password[len - 1] == '\n' || password[len - 1] == '\r'))
			password[--len] = '\0';
	}
	printf("Password of every account: %s (from %s)\n", password ? password : "?",
	       pw_file ? pw_file : "?");
	printf("\nCitizens: sign in at %s with the national e-ID (their number, the "
	       "password)\n", portal_url);
	json_array_foreach(json_object_get(id, "demo_accounts"), i, item)
		printf("  %-14s %s%s\n", json_string_value(json_object_get(item, "pin")),
		       json_string_value(json_object_get(item, "name")),
		       i == 0 ? " (the citizen the demo's lines are about)" : "");
	printf("  and the first %s citizens of the population registry, by number\n",
	       DEMO_ACCOUNTS);
	printf("\nOfficers: sign in at %s/officer (username, the password)\n", portal_url);
	json_array_foreach(json_object_get(portal, "officers"), i, item)
		printf("  %-14s %s, %s\n", json_string_value(json_object_get(item, "username")),
		       json_string_value(json_object_get(item, "name")),
		       json_string_value(json_object_get(item, "agency")));
	printf("\nOfficials of the operations centre: sign in at %s/ops with the national "
	       "e-ID\n", portal_url);
	json_array_foreach(json_object_get(portal, "officials"), i, item)
		printf("  %-14s %s, %s of %s\n", json_string_value(json_object_get(item, "pin")),
		       json_string_value(json_object_get(item, "name")),
		       json_string_value(json_object_get(item, "role")),
		       json_string_value(json_object_get(item, "member")));
	{
		const json_t *con = json_object_get(json_object_get(fed, "registry"), "console");

		printf("\nOfficials of the registry's console: sign in at %s with the national "
		       "e-ID\n", json_string_value(json_object_get(con, "url")) ?
		       json_string_value(json_object_get(con, "url")) : "?");
		json_array_foreach(json_object_get(con, "officials"), i, item)
			printf("  %-14s %s, %s\n", json_string_value(json_object_get(item, "pin")),
			       json_string_value(json_object_get(item, "name")),
			       json_string_value(json_object_get(item, "role")));
	}
	printf("\nThe same officials manage officers and officials at %s/admin/officers "
	       "(operator: all;\nagency: its own officers), and open the gateways' consoles "
	       "(docs/gateway-console.md):\n", portal_url);
	json_array_foreach(json_object_get(fed, "gateways"), i, item)
		if (json_string_value(json_object_get(item, "console_url")))
			printf("  %-17s %s/console/\n",
			       json_string_value(json_object_get(item, "member")),
			       json_string_value(json_object_get(item, "console_url")));
	if (json_is_true(json_object_get(fed, "stopped")))
		printf("\nThe federation in %s is stopped: ndx demo up --dir %s starts it.\n",
		       p->dir, p->dir);
	if (password) {
		OPENSSL_cleanse(password, len);
		free(password);
	}
	json_decref(fed);
	free(p);
	return CLI_EXIT_OK;
}

/* `ndx demo id-token`: what a citizen's e-ID sign-in gives the portal, for
 * `ndx subject accesses --id-token-file`: signs pin (default: the printed
 * citizen) in at the running demo's e-ID and writes the ID token to out
 * (default DIR/ID_TOKEN_FILE), readable by its owner only. */
static int demo_id_token(const char *dir, const char *pin, const char *out)
{
	struct demo_state *st = calloc(1, sizeof(*st));
	struct demo_paths *p = st ? &st->paths : NULL;
	char secret_path[PATH_MAX], path[PATH_MAX], when[NDX_TIME_TEXT_LEN];
	char *secret = NULL, *token = NULL;
	const json_t *apps, *acc;
	const char *why = NULL, *v;
	json_t *fed = NULL;
	size_t len = 0;
	long long exp;
	int rc = CLI_EXIT_FAIL;

	if (!st) {
		cli_error("out of memory");
		return CLI_EXIT_FAIL;
	}
	if ((rc = demo_paths(dir, 0, p)) == 0)
		rc = read_federation(p->fed, &fed);
	if (rc != 0) {
		if (rc > 0)
			cli_error("no demo federation in %s; start one with: ndx demo up --dir %s",
				  dir, dir);
		rc = CLI_EXIT_FAIL;
		goto out;
	}
	rc = CLI_EXIT_FAIL;
	apps = json_object_get(fed, "apps");
	acc = json_array_get(json_object_get(json_object_get(apps, "id"), "demo_accounts"), 0);
	if (!pin)
		pin = json_string_value(json_object_get(acc, "pin"));
	if (!pin || ndx_pin_parse(pin, 0, NULL, &why) != NDX_OK) {
		cli_error("%s is not a personal identification number%s%s", pin ? pin : "(none)",
			  why ? ": " : "", why ? why : "");
		goto out;
	}
	if (json_is_true(json_object_get(fed, "stopped")) ||
	    !(v = json_string_value(json_object_get(json_object_get(apps, "id"), "url")))) {
		cli_error("the demo federation in %s is not running; start it with: ndx demo up "
			  "--dir %s", p->dir, p->dir);
		goto out;
	}
	snprintf(st->id.url, sizeof(st->id.url), "%s", v);
	v = json_string_value(json_object_get(json_object_get(apps, "id"), "log"));
	snprintf(st->id.log, sizeof(st->id.log), "%s", v ? v : "");
	v = json_string_value(json_object_get(json_object_get(apps, "portal"), "url"));
	snprintf(st->portal.url, sizeof(st->portal.url), "%s", v ? v : "");
	v = json_string_value(json_object_get(json_object_get(apps, "portal"), "dir"));
	if (!v || join(secret_path, v, "oidc-client.secret"))
		goto out;
	if (ndx_file_read(secret_path, 4096, &secret, &len) != NDX_OK) {
		cli_error("cannot read the portal's client secret %s", secret_path);
		goto out;
	}
	while (len > 0 && (secret[len - 1] == '\n' || secret[len - 1] == ' '))
		secret[--len] = '\0';
	if (eid_id_token(st, secret, pin, &token) != 0)
		goto out;
	if (!out) {
		if (join(path, p->dir, ID_TOKEN_FILE))
			goto out;
		out = path;
	}
	if (ndx_file_write_atomic(out, token, strlen(token), 0600, 0) != NDX_OK) {
		cli_error("cannot write %s: %s", out, strerror(errno));
		goto out;
	}
	exp = token_exp(token);
	ndx_time_format((time_t)exp, when);
	printf("ndx demo: signed %s in at the e-ID %s; their ID token is in %s "
	       "(valid until %s)\n", pin, st->id.url, out, exp ? when : "?");
	rc = CLI_EXIT_OK;
out:
	if (secret) {
		OPENSSL_cleanse(secret, len);
		free(secret);
	}
	if (token) {
		OPENSSL_cleanse(token, strlen(token));
		free(token);
	}
	json_decref(fed);
	free(st);
	return rc;
}

int cmd_demo(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "port-base", required_argument, NULL, 'p' },
		{ "federation", required_argument, NULL, 'f' },
		{ "pin", required_argument, NULL, 'i' },
		{ "out", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sub, *dir = NULL, *pin = NULL, *out = NULL;
	const char *fed_file = NDX_DEMO_FEDERATION_FILE;
	long port = 0;
	char *end;
	int c, rc;

	/* Keys, logs naming citizens, a population's databases: nothing the
	 * demo or the daemons it starts make is for other users (T34). */
	umask(077);
	if (argc < 2)
		return cli_usage_error(demo_usage, "'ndx demo' needs a command: up, down, run, "
				       "id-token, accounts or traffic");
	sub = argv[1];
	if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 || strcmp(sub, "help") == 0) {
		fputs(demo_usage, stdout);
		return CLI_EXIT_OK;
	}
	if (strcmp(sub, "traffic") == 0)
		return cli_demo_traffic(argc - 1, argv + 1);
	if (strcmp(sub, "up") != 0 && strcmp(sub, "down") != 0 && strcmp(sub, "run") != 0 &&
	    strcmp(sub, "id-token") != 0 && strcmp(sub, "accounts") != 0)
		return cli_usage_error(demo_usage, "unknown demo command '%s'", sub);
	argc--;
	argv++;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			dir = optarg;
			break;
		case 'i':
		case 'o':
			if (strcmp(sub, "id-token") != 0)
				return cli_bad_option(demo_usage, argv);
			if (c == 'i')
				pin = optarg;
			else
				out = optarg;
			break;
		case 'f':
			if (strcmp(sub, "up") != 0 && strcmp(sub, "run") != 0)
				return cli_bad_option(demo_usage, argv);
			fed_file = optarg;
			break;
		case 'p':
			if (strcmp(sub, "down") == 0 || strcmp(sub, "id-token") == 0 ||
			    strcmp(sub, "accounts") == 0)
				return cli_bad_option(demo_usage, argv);
			errno = 0;
			port = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || port < 1 || port > 65535)
				return cli_usage_error(demo_usage, "--port-base must be a port number "
						       "from 1 to 65535, not '%s'", optarg);
			break;
		case 'h':
			fputs(demo_usage, stdout);
			return CLI_EXIT_OK;
		default:
			return cli_bad_option(demo_usage, argv);
		}
	}
	if (optind < argc)
		return cli_usage_error(demo_usage, "unexpected argument '%s'", argv[optind]);
	if (dir == NULL || dir[0] == '\0')
		return cli_usage_error(demo_usage, "demo %s needs --dir DIR", sub);
	if (strcmp(sub, "down") == 0)
		return demo_down(dir, 0);
	if (strcmp(sub, "id-token") == 0)
		return demo_id_token(dir, pin, out);
	if (strcmp(sub, "accounts") == 0)
		return demo_accounts(dir);
	if (strcmp(sub, "run") == 0)
		return demo_run(dir, (unsigned)port, fed_file);
	{
		struct demo_state *st = calloc(1, sizeof(*st));

		if (st == NULL) {
			cli_error("out of memory");
			return CLI_EXIT_FAIL;
		}
		rc = demo_up(dir, (unsigned)port, fed_file, st);
		if (rc == CLI_EXIT_OK) {
			print_up_summary(st);
			print_try_exchange(st);
			printf("Stop it with: ndx demo down --dir %s\n", st->paths.dir);
		}
		demo_state_free(st);
	}
	return rc;
}
