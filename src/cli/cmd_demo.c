/* `ndx demo up|down|run`: a complete local federation for trying ndx out
 * (what `make demo` starts). up initialises and starts ndx-registry as a
 * background process, fills it through its real management API with a small
 * federation of Vietnamese agencies (idempotently: what exists is left
 * alone), fetches and verifies the signed configuration, and records
 * everything - URLs, paths, pids - in DIR/federation.json ("ndx-federation/1"),
 * which down reads to stop exactly the processes it lists. run is up, wait
 * for Ctrl-C or SIGTERM, down. Overview: README.md, docs/registry-api.md. */
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
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "client.h"
#include "ndx/conf.h"
#include "ndx/encode.h"
#include "ndx/err.h"
#include "ndx/file.h"
#include "ndx/id.h"
#include "ndx/timefmt.h"

#define FEDERATION_FORMAT "ndx-federation/1"
#define FEDERATION_FILE "federation.json"
#define FEDERATION_MAX (1024u * 1024u)
#define INSTANCE "VN"
#define DEFAULT_PORT 4400u
#define READY_TIMEOUT_MS 15000
#define STOP_TIMEOUT_MS 10000
#define KILL_TIMEOUT_MS 2000
#define POLL_MS 100

static const char demo_usage[] =
	"usage: ndx demo up --dir DIR [--port-base PORT]\n"
	"       ndx demo down --dir DIR\n"
	"       ndx demo run --dir DIR [--port-base PORT]\n"
	"\n"
	"A local demo federation of Vietnamese agencies (Bộ Công an, Bộ Tài chính,\n"
	"Bảo hiểm xã hội Việt Nam, Bộ Tư pháp, Văn phòng Chính phủ) with their\n"
	"subsystems, services and grants, run from DIR.\n"
	"  up     initialise (first time) and start ndx-registry on 127.0.0.1:PORT,\n"
	"         create the federation through its API, fetch and verify the signed\n"
	"         configuration into DIR/conf, and describe it all in\n"
	"         DIR/federation.json; refuses while DIR's federation is running\n"
	"  down   stop the processes DIR/federation.json lists (SIGTERM, after 10 s\n"
	"         SIGKILL); succeeds when nothing is running\n"
	"  run    up, print what to try, wait for Ctrl-C or SIGTERM, then down\n"
	"  --dir DIR         the demo's directory (created if missing)\n"
	"  --port-base PORT  the registry's port (default: the port DIR's registry was\n"
	"                    first set up with, else 4400)\n"
	"  --help            show this help\n";

/* ---- the demo federation --------------------------------------------- */

struct demo_service {
	const char *code;
	const char *title;
	int personal;
	const char *purposes[3];
	int consent_required;
};

struct demo_subsystem {
	const char *code;
	struct demo_service services[2];
};

struct demo_member {
	const char *id;
	const char *name;
	struct demo_subsystem subsystems[2];
};

static const struct demo_member members[] = {
	{ "VN/GOV/BCA", "Bộ Công an", {
		{ "population", {
			{ "citizens", "Tra cứu thông tin công dân", 1,
			  { "public-service", "law-enforcement" }, 0 } } } } },
	{ "VN/GOV/BTC", "Bộ Tài chính", {
		{ "enterprise", {
			{ "enterprises", "Tra cứu doanh nghiệp", 0, { NULL }, 0 } } },
		{ "tax", {
			{ "taxpayers", "Tra cứu người nộp thuế", 1,
			  { "public-service", "tax-administration" }, 0 } } } } },
	{ "VN/GOV/BHXH", "Bảo hiểm xã hội Việt Nam", {
		{ "insurance", {
			{ "contributions", "Quá trình đóng bảo hiểm xã hội", 1,
			  { "public-service", "social-insurance" }, 1 } } } } },
	{ "VN/GOV/BTP", "Bộ Tư pháp", {
		{ "civil-status", {
			{ "births", "Tra cứu thông tin khai sinh", 1,
			  { "public-service" }, 0 } } } } },
	{ "VN/GOV/VPCP", "Văn phòng Chính phủ", {
		/* The national public service portal: a consumer only. */
		{ "portal", { { NULL, NULL, 0, { NULL }, 0 } } } } },
};
#define N_MEMBERS (sizeof(members) / sizeof(members[0]))

struct demo_grant {
	const char *client;
	const char *service; /* NULL: every service of the federation */
};

static const struct demo_grant grants[] = {
	{ "VN/GOV/VPCP/portal", NULL },
	{ "VN/GOV/BTC/tax", "VN/GOV/BCA/population/citizens" },
	{ "VN/GOV/BHXH/insurance", "VN/GOV/BCA/population/citizens" },
	{ "VN/GOV/BTC/tax", "VN/GOV/BTC/enterprise/enterprises" },
};

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
	if (create && ndx_mkdirs(dir, 0755) != NDX_OK) {
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
	    join(p->fed, p->dir, FEDERATION_FILE))
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

/* True when pid is a live (not zombie) process whose argv[0] is named
 * `name`: a recycled pid of some other program is never mistaken for ours. */
static int proc_alive(pid_t pid, const char *name)
{
	char path[64], buf[4096], *p, *base;
	size_t len = 0;
	char *data = NULL;
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
	free(data);
	snprintf(path, sizeof(path), "/proc/%ld/cmdline", (long)pid);
	if (ndx_file_read(path, 65536, &data, &len) != NDX_OK)
		return 0;
	base = strrchr(data, '/');
	base = base ? base + 1 : data;
	alive = strcmp(base, name) == 0;
	free(data);
	return alive;
}

/* Starts argv in its own session with stdin from /dev/null and stdout and
 * stderr appended to log. Returns the pid or -1 (message printed). */
static pid_t spawn(char *const argv[], const char *log, int new_session)
{
	int logfd, nullfd;
	pid_t pid;

	logfd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (logfd < 0) {
		cli_error("cannot open the log %s: %s", log, strerror(errno));
		return -1;
	}
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

/* Whether something accepts TCP connections on 127.0.0.1:port. */
static int port_in_use(unsigned port)
{
	struct sockaddr_in sa = { 0 };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), used;

	if (fd < 0)
		return 0;
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	used = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
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

static int log_says_listening(const char *log, off_t from)
{
	char *data = NULL;
	size_t len = 0;
	int found;

	if (ndx_file_read(log, 16u * 1024u * 1024u, &data, &len) != NDX_OK)
		return 0;
	found = (size_t)from <= len && strstr(data + from, "listening on") != NULL;
	free(data);
	return found;
}

/* Waits until the registry we started answers /healthz. The log line proves
 * the answer comes from our process rather than another one on the port;
 * a registry that never prints it is still accepted after 3 s of health. */
static int wait_ready(pid_t pid, const char *url, const char *log, off_t log_from)
{
	long start = now_ms();
	char how[64], line[512];
	int status;

	for (;;) {
		pid_t w = waitpid(pid, &status, WNOHANG);

		if (w == pid) {
			describe_exit(status, how, sizeof(how));
			last_log_line(log, line, sizeof(line));
			cli_error("ndx-registry %s before it was ready%s%s (log: %s)", how,
				  line[0] ? ": " : "", line, log);
			return -1;
		}
		if (healthz_ok(url) &&
		    (log_says_listening(log, log_from) || now_ms() - start > 3000))
			return 0;
		if (now_ms() - start > READY_TIMEOUT_MS) {
			cli_error("ndx-registry did not answer %s/healthz within %d s (log: %s)", url,
				  READY_TIMEOUT_MS / 1000, log);
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
	rc = ndx_file_write_atomic(path, text, len, 0644, 0);
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

static json_t *service_json(const char *member, const char *subsystem,
			    const struct demo_service *svc, char *id, size_t cap)
{
	json_t *purposes = json_array();
	size_t k;

	snprintf(id, cap, "%s/%s/%s", member, subsystem, svc->code);
	for (k = 0; k < 3 && svc->purposes[k]; k++)
		json_array_append_new(purposes, json_string(svc->purposes[k]));
	return json_pack("{sssssbsosb}", "id", id, "title", svc->title, "personal", svc->personal,
			 "purposes", purposes, "consent_required", svc->consent_required);
}

static json_t *federation_doc(const struct demo_paths *p, const char *url, pid_t pid,
			      uint64_t conf_version)
{
	json_t *doc, *jm = json_array(), *js = json_array(), *jg = json_array();
	char now[NDX_TIME_TEXT_LEN], id[NDX_ID_TEXT_MAX];
	size_t i, j, k;

	ndx_time_format(time(NULL), now);
	for (i = 0; i < N_MEMBERS; i++) {
		json_t *subs = json_array();

		for (j = 0; j < 2 && members[i].subsystems[j].code; j++) {
			const struct demo_subsystem *s = &members[i].subsystems[j];

			snprintf(id, sizeof(id), "%s/%s", members[i].id, s->code);
			json_array_append_new(subs, json_string(id));
			for (k = 0; k < 2 && s->services[k].code; k++)
				json_array_append_new(js, service_json(members[i].id, s->code,
								       &s->services[k], id, sizeof(id)));
		}
		json_array_append_new(jm, json_pack("{sssssO}", "id", members[i].id, "name",
						    members[i].name, "subsystems", subs));
		json_decref(subs);
	}
	for (i = 0; i < sizeof(grants) / sizeof(grants[0]); i++)
		json_array_append_new(jg, json_pack("{sss[s]s[s]}", "client", grants[i].client,
						    "service", grants[i].service ? grants[i].service : "*",
						    "methods", "GET", "paths", "*"));
	doc = json_pack("{sssssss{sssssssssIss}sssIsssbsosososo}",
			"format", FEDERATION_FORMAT,
			"instance", INSTANCE,
			"dir", p->dir,
			"registry",
			"url", url, "data_dir", p->registry_dir, "anchor", p->anchor,
			"admin_token_file", p->token, "pid", (json_int_t)pid, "log", p->log,
			"conf_dir", p->conf,
			"conf_version", (json_int_t)conf_version,
			"started_at", now,
			"stopped", 0,
			"members", jm, "services", js, "grants", jg,
			"processes", json_pack("[{sssIssss}]", "name", "ndx-registry", "pid",
					       (json_int_t)pid, "log", p->log, "url", url));
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

/* Grants have numbers, not names, so "already there" is a lookup. */
static int ensure_grant(const struct cli_api *api, const char *client, const char *service)
{
	char path[3 * NDX_ID_TEXT_MAX * 2 + 64], c_enc[3 * NDX_ID_TEXT_MAX], s_enc[3 * NDX_ID_TEXT_MAX];
	char what[2 * NDX_ID_TEXT_MAX + 16], err[1024];
	json_t *out = NULL;
	int rc, exists;

	if (ndx_pct_encode(client, strlen(client), c_enc, sizeof(c_enc)) < 0 ||
	    ndx_pct_encode(service, strlen(service), s_enc, sizeof(s_enc)) < 0)
		return -1;
	snprintf(path, sizeof(path), "/api/grants?client=%s&service=%s", c_enc, s_enc);
	rc = cli_api_call(api, "GET", path, NULL, NULL, &out, err, sizeof(err));
	if (rc != NDX_OK) {
		cli_error("cannot list grants: %s", err);
		return -1;
	}
	exists = json_array_size(json_object_get(out, "grants")) > 0;
	json_decref(out);
	if (exists)
		return 0;
	snprintf(what, sizeof(what), "grant %s -> %s", client, service);
	return ensure(api, "/api/grants",
		      json_pack("{sssss[s]s[s]}", "client", client, "service", service,
				"methods", "GET", "paths", "*"), what);
}

static int populate(const struct cli_api *api, size_t *n_services, size_t *n_grants)
{
	char id[NDX_ID_TEXT_MAX], what[NDX_ID_TEXT_MAX + 32];
	size_t i, j, k, g;

	*n_services = *n_grants = 0;
	for (i = 0; i < N_MEMBERS; i++) {
		const struct demo_member *m = &members[i];

		snprintf(what, sizeof(what), "member %s", m->id);
		if (ensure(api, "/api/members", json_pack("{ssss}", "id", m->id, "name", m->name),
			   what) != 0)
			return -1;
		for (j = 0; j < 2 && m->subsystems[j].code; j++) {
			const struct demo_subsystem *s = &m->subsystems[j];

			snprintf(id, sizeof(id), "%s/%s", m->id, s->code);
			snprintf(what, sizeof(what), "subsystem %s", id);
			if (ensure(api, "/api/subsystems", json_pack("{ss}", "id", id), what) != 0)
				return -1;
			for (k = 0; k < 2 && s->services[k].code; k++) {
				json_t *body = service_json(m->id, s->code, &s->services[k], id,
							    sizeof(id));

				snprintf(what, sizeof(what), "service %s", id);
				if (ensure(api, "/api/services", body, what) != 0)
					return -1;
				(*n_services)++;
			}
		}
	}
	for (g = 0; g < sizeof(grants) / sizeof(grants[0]); g++) {
		if (grants[g].service != NULL) {
			if (ensure_grant(api, grants[g].client, grants[g].service) != 0)
				return -1;
			(*n_grants)++;
			continue;
		}
		for (i = 0; i < N_MEMBERS; i++)
			for (j = 0; j < 2 && members[i].subsystems[j].code; j++)
				for (k = 0; k < 2 && members[i].subsystems[j].services[k].code; k++) {
					snprintf(id, sizeof(id), "%s/%s/%s", members[i].id,
						 members[i].subsystems[j].code,
						 members[i].subsystems[j].services[k].code);
					if (ensure_grant(api, grants[g].client, id) != 0)
						return -1;
					(*n_grants)++;
				}
	}
	return 0;
}

/* ---- up / down / run -------------------------------------------------- */

struct demo_state {
	struct demo_paths paths;
	char url[64];
	pid_t registry_pid;
	uint64_t conf_version;
	size_t n_services, n_grants;
};

static int refuse_if_running(const struct demo_paths *p)
{
	pid_t pids[16];
	const char *names[16];
	json_t *fed = NULL;
	size_t n, i;
	int rc = read_federation(p->fed, &fed);

	if (rc == 1)
		return 0;
	if (rc < 0)
		return -1;
	n = fed_processes(fed, pids, names, 16);
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

/* port 0: the default (see initialised_port). */
static int demo_up(const char *dir, unsigned port, struct demo_state *st)
{
	char registry_bin[PATH_MAX], port_arg[32];
	struct demo_paths *p = &st->paths;
	struct cli_api api;
	struct stat sb;
	json_t *fed;
	off_t log_from = 0;

	memset(st, 0, sizeof(*st));
	if (demo_paths(dir, 1, p) != 0)
		return CLI_EXIT_FAIL;
	if (refuse_if_running(p) != 0)
		return CLI_EXIT_FAIL;
	if (cli_find_binary("ndx-registry", registry_bin, sizeof(registry_bin)) != 0)
		return CLI_EXIT_FAIL;
	if (ndx_mkdirs(p->logs, 0755) != NDX_OK) {
		cli_error("cannot create %s: %s", p->logs, strerror(errno));
		return CLI_EXIT_FAIL;
	}
	if (port == 0)
		port = initialised_port(p->anchor);
	snprintf(st->url, sizeof(st->url), "http://127.0.0.1:%u", port);
	if (port_in_use(port)) {
		cli_error("something already listens on 127.0.0.1:%u; stop it or choose another "
			  "--port-base", port);
		return CLI_EXIT_FAIL;
	}
	if (stat(p->anchor, &sb) != 0) {
		char *init_argv[] = { registry_bin, "init", "--data", p->registry_dir,
				      "--url", st->url, NULL };

		if (run_to_end(init_argv, p->log, "ndx-registry init") != 0)
			return CLI_EXIT_FAIL;
	}
	snprintf(port_arg, sizeof(port_arg), "127.0.0.1:%u", port);
	if (stat(p->log, &sb) == 0)
		log_from = sb.st_size;
	{
		char *serve_argv[] = { registry_bin, "serve", "--data", p->registry_dir,
				       "--listen", port_arg, NULL };

		st->registry_pid = spawn(serve_argv, p->log, 1);
	}
	if (st->registry_pid < 0)
		return CLI_EXIT_FAIL;
	if (wait_ready(st->registry_pid, st->url, p->log, log_from) != 0)
		goto fail;
	if (cli_api_open(&api, st->url, p->token, 1) != 0)
		goto fail;
	if (populate(&api, &st->n_services, &st->n_grants) != 0) {
		cli_api_close(&api);
		goto fail;
	}
	cli_api_close(&api);
	if (cli_conf_fetch(st->url, p->anchor, p->conf, 1, &st->conf_version) != CLI_EXIT_OK)
		goto fail;
	fed = federation_doc(p, st->url, st->registry_pid, st->conf_version);
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
	/* Nothing half-started stays behind: the registry goes with the failure. */
	{
		const char *name = "ndx-registry";

		stop_pids(&st->registry_pid, &name, 1);
		waitpid(st->registry_pid, NULL, WNOHANG);
	}
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
		printf("  %-9s %-12s %s\n", i == 0 ? "members" : "", members[i].id, members[i].name);
	printf("  %zu services, %zu grants\n", st->n_services, st->n_grants);
	printf("  described in %s\n", p->fed);
}

static int demo_down(const char *dir, int quiet)
{
	struct demo_paths p;
	pid_t pids[16];
	const char *names[16];
	json_t *fed = NULL, *procs, *proc, *reg;
	char now[NDX_TIME_TEXT_LEN];
	size_t n, i;
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
	n = fed_processes(fed, pids, names, 16);
	running = stop_pids(pids, names, n);
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

static int demo_run(const char *dir, unsigned port)
{
	struct demo_state st;
	sigset_t set;
	char self[PATH_MAX], conf_try[PATH_MAX + 16];
	int rc, sig;

	/* Blocked from the start so that Ctrl-C during up still ends in down. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	rc = demo_up(dir, port, &st);
	if (rc != CLI_EXIT_OK)
		return rc;
	print_up_summary(&st);
	cli_self_path(self, sizeof(self));
	snprintf(conf_try, sizeof(conf_try), "%s/try-conf", st.paths.dir);
	printf("\nOpen:\n");
	printf("  %s/healthz   %s/conf   %s/anchor\n", st.url, st.url, st.url);
	printf("Try:\n");
	printf("  %s conf fetch --registry %s --anchor %s --out %s\n", self, st.url,
	       st.paths.anchor, conf_try);
	printf("  %s conf verify %s --anchor %s\n", self, conf_try, st.paths.anchor);
	printf("  NDX_TOKEN_FILE=%s %s member list --registry %s\n", st.paths.token, self, st.url);
	printf("\nPress Ctrl-C to stop.\n");
	fflush(stdout);
	rc = CLI_EXIT_OK;
	for (;;) {
		struct timespec ts = { 1, 0 };

		sig = sigtimedwait(&set, NULL, &ts);
		if (sig > 0)
			break;
		if (!proc_alive(st.registry_pid, "ndx-registry")) {
			cli_error("ndx-registry stopped unexpectedly (log: %s)", st.paths.log);
			rc = CLI_EXIT_FAIL;
			break;
		}
	}
	printf("\nndx demo: stopping\n");
	if (demo_down(st.paths.dir, 0) != CLI_EXIT_OK)
		rc = CLI_EXIT_FAIL;
	return rc;
}

int cmd_demo(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "port-base", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sub, *dir = NULL;
	long port = 0;
	char *end;
	int c, rc;

	if (argc < 2)
		return cli_usage_error(demo_usage, "'ndx demo' needs a command: up, down or run");
	sub = argv[1];
	if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 || strcmp(sub, "help") == 0) {
		fputs(demo_usage, stdout);
		return CLI_EXIT_OK;
	}
	if (strcmp(sub, "up") != 0 && strcmp(sub, "down") != 0 && strcmp(sub, "run") != 0)
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
		case 'p':
			if (strcmp(sub, "down") == 0)
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
	if (strcmp(sub, "run") == 0)
		return demo_run(dir, (unsigned)port);
	{
		struct demo_state st;

		rc = demo_up(dir, (unsigned)port, &st);
		if (rc == CLI_EXIT_OK) {
			print_up_summary(&st);
			printf("Stop it with: ndx demo down --dir %s\n", st.paths.dir);
		}
	}
	return rc;
}
