/* Tests of the events client's pure parts (include/ndx/evclient.h): the
 * inbox page parser against the answer docs/protocol.md "Inbox, status and
 * dead letters" describes, its refusals, and the back-off. The HTTP calls
 * are covered end to end (tests/e2e/test_life_events.py). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "ndx/err.h"
#include "ndx/evclient.h"

static const char PAGE[] =
	"{\"events\":[{\"seq\":3,\"id\":\"96dbf724-77d0-4b37-9422-332f750678f9\","
	"\"service\":\"VN/GOV/BTP/civil-status/deaths\",\"event\":\"death-registered\","
	"\"publisher\":\"VN/GOV/BTP/civil-status\",\"subject\":\"070182917807\","
	"\"purpose\":\"public-service\",\"time_ms\":1796227920425,"
	"\"payload\":{\"pin\":\"070182917807\",\"died_on\":\"2026-12-02\"},"
	"\"hash\":\"x\",\"signature\":\"y\",\"acknowledged\":false},"
	"{\"seq\":4,\"id\":\"b\",\"service\":\"S\",\"event\":\"e\",\"publisher\":\"P\","
	"\"subject\":null,\"purpose\":null,\"time_ms\":1,\"payload\":[1,2],"
	"\"acknowledged\":true}],\"next\":4}";

static void parses_a_page(void **state)
{
	struct ndx_event_page p;
	char err[256];

	(void)state;
	assert_int_equal(ndx_event_page_parse(PAGE, strlen(PAGE), &p, err, sizeof err), NDX_OK);
	assert_int_equal(p.n, 2);
	assert_int_equal(p.next, 4);
	assert_int_equal(p.events[0].seq, 3);
	assert_string_equal(p.events[0].id, "96dbf724-77d0-4b37-9422-332f750678f9");
	assert_string_equal(p.events[0].event, "death-registered");
	assert_string_equal(p.events[0].subject, "070182917807");
	assert_string_equal(p.events[0].purpose, "public-service");
	assert_string_equal(p.events[0].payload, "{\"pin\":\"070182917807\",\"died_on\":\"2026-12-02\"}");
	assert_false(p.events[0].acknowledged);
	/* A service without personal data: no subject, no purpose. */
	assert_string_equal(p.events[1].subject, "");
	assert_string_equal(p.events[1].purpose, "");
	assert_string_equal(p.events[1].payload, "[1,2]");
	assert_true(p.events[1].acknowledged);
	ndx_event_page_free(&p);
	ndx_event_page_free(&p); /* twice is harmless */
}

static void parses_an_empty_page(void **state)
{
	struct ndx_event_page p;
	const char *s = "{\"events\":[],\"next\":17}";

	(void)state;
	assert_int_equal(ndx_event_page_parse(s, strlen(s), &p, NULL, 0), NDX_OK);
	assert_int_equal(p.n, 0);
	assert_int_equal(p.next, 17);
	ndx_event_page_free(&p);
}

static void refuses_what_is_not_a_page(void **state)
{
	static const char *const bad[] = {
		"",
		"not json",
		"[]",
		"{\"events\":{},\"next\":1}",
		"{\"events\":[]}",
		"{\"events\":[],\"next\":-1}",
		"{\"events\":[],\"next\":\"1\"}",
		"{\"events\":[1],\"next\":1}",
		"{\"events\":[{\"id\":\"a\",\"service\":\"s\",\"event\":\"e\",\"payload\":1}],\"next\":1}",
		"{\"events\":[{\"seq\":-1,\"id\":\"a\",\"service\":\"s\",\"event\":\"e\",\"payload\":1}],"
		"\"next\":1}",
		"{\"events\":[{\"seq\":1,\"service\":\"s\",\"event\":\"e\",\"payload\":1}],\"next\":1}",
		"{\"events\":[{\"seq\":1,\"id\":\"\",\"service\":\"s\",\"event\":\"e\",\"payload\":1}],"
		"\"next\":1}",
		"{\"events\":[{\"seq\":1,\"id\":\"a\",\"service\":\"s\",\"event\":\"e\"}],\"next\":1}",
		"{\"events\":[{\"seq\":1,\"id\":\"a\",\"service\":\"s\",\"event\":\"e\",\"payload\":1,"
		"\"subject\":7}],\"next\":1}",
		"{\"events\":[{\"seq\":1,\"id\":\"a\\u0000b\",\"service\":\"s\",\"event\":\"e\","
		"\"payload\":1}],\"next\":1}",
		/* a duplicate key is not read one way or the other */
		"{\"events\":[],\"next\":1,\"next\":2}",
	};
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		struct ndx_event_page p;
		err[0] = '\0';
		assert_int_equal(ndx_event_page_parse(bad[i], strlen(bad[i]), &p, err, sizeof err),
				 NDX_EINVAL);
		assert_int_equal(p.n, 0);
		assert_null(p.events);
		assert_true(err[0] != '\0');
	}
}

static void refuses_an_id_too_long_and_a_page_too_big(void **state)
{
	char id[NDX_EVCLIENT_ID_MAX + 8], doc[512];
	struct ndx_event_page p;
	char *big;
	size_t n = 0, cap = (NDX_EVCLIENT_PAGE_MAX + 1) * 80 + 64;

	(void)state;
	memset(id, 'a', sizeof id - 1);
	id[sizeof id - 1] = '\0';
	snprintf(doc, sizeof doc,
		 "{\"events\":[{\"seq\":1,\"id\":\"%s\",\"service\":\"s\",\"event\":\"e\","
		 "\"payload\":1}],\"next\":1}", id);
	assert_int_equal(ndx_event_page_parse(doc, strlen(doc), &p, NULL, 0), NDX_EINVAL);
	big = malloc(cap);
	assert_non_null(big);
	n += (size_t)snprintf(big + n, cap - n, "{\"events\":[");
	for (int i = 0; i <= NDX_EVCLIENT_PAGE_MAX; i++)
		n += (size_t)snprintf(big + n, cap - n,
				      "%s{\"seq\":%d,\"id\":\"i%d\",\"service\":\"s\",\"event\":\"e\","
				      "\"payload\":1}", i ? "," : "", i, i);
	n += (size_t)snprintf(big + n, cap - n, "],\"next\":1}");
	assert_int_equal(ndx_event_page_parse(big, n, &p, NULL, 0), NDX_EINVAL);
	free(big);
}

static void backs_off_exponentially_to_a_cap(void **state)
{
	(void)state;
	assert_int_equal(ndx_evclient_backoff_ms(0, 500, 30000), 500);
	assert_int_equal(ndx_evclient_backoff_ms(1, 500, 30000), 500);
	assert_int_equal(ndx_evclient_backoff_ms(2, 500, 30000), 1000);
	assert_int_equal(ndx_evclient_backoff_ms(3, 500, 30000), 2000);
	assert_int_equal(ndx_evclient_backoff_ms(7, 500, 30000), 30000);
	assert_int_equal(ndx_evclient_backoff_ms(4000000000u, 500, 30000), 30000);
	assert_int_equal(ndx_evclient_backoff_ms(3, 0, 30000), 0);
}

static void refuses_a_client_without_url_or_id(void **state)
{
	struct ndx_evclient *c = (struct ndx_evclient *)1;
	struct ndx_evclient_config none = { 0 }, nourl = { .client = "VN/GOV/TCT/tax" };

	(void)state;
	assert_int_equal(ndx_evclient_new(&none, &c), NDX_EINVAL);
	assert_null(c);
	assert_int_equal(ndx_evclient_new(&nourl, &c), NDX_EINVAL);
	struct ndx_evclient_config ok = { .gateway_url = "http://127.0.0.1:1/",
					  .client = "VN/GOV/TCT/tax", .timeout_ms = 200 };
	assert_int_equal(ndx_evclient_new(&ok, &c), NDX_OK);
	/* Nothing listens on port 1: a network failure, said, nothing kept. */
	char err[256], id[NDX_EVCLIENT_ID_MAX];
	long status = -1;
	assert_int_equal(ndx_evclient_publish(c, "VN/GOV/BTP/civil-status/deaths",
					      "death-registered", "070182917807", "{}", 2, NULL, id,
					      &status, err, sizeof err),
			 NDX_ENET);
	assert_int_equal(status, 0);
	assert_string_equal(id, "");
	/* A name with a slash or a space is refused before any request. */
	assert_int_equal(ndx_evclient_publish(c, "VN/GOV/BTP/civil-status/deaths", "a/b", NULL,
					      "{}", 2, NULL, NULL, NULL, err, sizeof err),
			 NDX_EINVAL);
	/* So is an event id that is not a lower-case UUID. */
	assert_int_equal(ndx_evclient_publish(c, "VN/GOV/BTP/civil-status/deaths",
					      "death-registered", NULL, "{}", 2,
					      "96DBF724-77D0-4B37-9422-332F750678F9", NULL, NULL,
					      err, sizeof err),
			 NDX_EINVAL);
	assert_int_equal(ndx_evclient_ack(c, "a b", err, sizeof err), NDX_EINVAL);
	ndx_evclient_free(c);
	ndx_evclient_free(NULL);
}

static void draws_lower_case_v4_uuids(void **state)
{
	char a[37], b[37];

	(void)state;
	assert_int_equal(ndx_evclient_uuid(a), NDX_OK);
	assert_int_equal(ndx_evclient_uuid(b), NDX_OK);
	assert_int_equal(strlen(a), 36);
	assert_true(ndx_evclient_is_uuid(a));
	assert_true(ndx_evclient_is_uuid(b));
	assert_string_not_equal(a, b);
	assert_int_equal(a[14], '4');                 /* version 4 */
	assert_non_null(strchr("89ab", a[19]));       /* the RFC 9562 variant */
	assert_true(ndx_evclient_is_uuid("96dbf724-77d0-4b37-9422-332f750678f9"));
	assert_false(ndx_evclient_is_uuid("96DBF724-77d0-4b37-9422-332f750678f9"));
	assert_false(ndx_evclient_is_uuid("96dbf72477d0-4b37-9422-332f750678f9a"));
	assert_false(ndx_evclient_is_uuid("96dbf724-77d0-4b37-9422-332f750678f"));
	assert_false(ndx_evclient_is_uuid(""));
	assert_false(ndx_evclient_is_uuid(NULL));
}

/* A one-shot HTTP server on 127.0.0.1: keeps the request it reads and
 * answers it with the canned answer. */
struct canned {
	int fd;
	unsigned short port;
	const char *answer;
	char request[4096];
	pthread_t thread;
};

static void *serve_once(void *arg)
{
	struct canned *k = arg;
	int c = accept(k->fd, NULL, NULL);
	size_t n = 0;

	if (c < 0)
		return NULL;
	/* The request is headers and a short body: read until the body is in. */
	for (;;) {
		ssize_t r = read(c, k->request + n, sizeof k->request - 1 - n);
		char *end;
		if (r <= 0)
			break;
		n += (size_t)r;
		k->request[n] = '\0';
		if ((end = strstr(k->request, "\r\n\r\n")) != NULL) {
			const char *cl = strstr(k->request, "Content-Length: ");
			size_t want = cl ? (size_t)strtoul(cl + 16, NULL, 10) : 0;
			if (n >= (size_t)(end + 4 - k->request) + want)
				break;
		}
	}
	if (write(c, k->answer, strlen(k->answer)) < 0)
		n = 0;
	close(c);
	return NULL;
}

static void canned_start(struct canned *k, const char *body, int status)
{
	static char answers[4][512];
	static int next;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	char *ans = answers[next++ % 4];

	snprintf(ans, 512,
		 "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
		 "Connection: close\r\n\r\n%s", status, strlen(body), body);
	memset(k, 0, sizeof *k);
	k->answer = ans;
	k->fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(k->fd >= 0);
	assert_int_equal(bind(k->fd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(listen(k->fd, 1), 0);
	assert_int_equal(getsockname(k->fd, (struct sockaddr *)&a, &len), 0);
	k->port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&k->thread, NULL, serve_once, k), 0);
}

static void canned_end(struct canned *k)
{
	pthread_join(k->thread, NULL);
	close(k->fd);
}

/* One publish against a canned answer; its result, the request in req. */
static int publish_against(const char *body, int status, const char *event_id, char *id,
			   long *st, char *req, size_t reqcap)
{
	struct canned k;
	struct ndx_evclient *c = NULL;
	char url[64], err[256];
	int rc;

	canned_start(&k, body, status);
	snprintf(url, sizeof url, "http://127.0.0.1:%u", k.port);
	struct ndx_evclient_config cfg = { .gateway_url = url,
					   .client = "VN/GOV/BTP/civil-status",
					   .timeout_ms = 3000 };
	assert_int_equal(ndx_evclient_new(&cfg, &c), NDX_OK);
	rc = ndx_evclient_publish(c, "VN/GOV/BTP/civil-status/deaths", "death-registered",
				  "070182917807", "{}", 2, event_id, id, st, err, sizeof err);
	ndx_evclient_free(c);
	canned_end(&k);
	snprintf(req, reqcap, "%s", k.request);
	return rc;
}

#define EID "96dbf724-77d0-4b37-9422-332f750678f9"

static void publishes_a_named_event_and_takes_its_duplicate_as_kept(void **state)
{
	char id[NDX_EVCLIENT_ID_MAX], req[4096];
	long st = 0;

	(void)state;
	/* Named: the header goes with the publish; 201 is kept. */
	assert_int_equal(publish_against("{\"id\":\"" EID "\",\"status\":\"queued\"}", 201, EID,
					 id, &st, req, sizeof req),
			 NDX_OK);
	assert_non_null(strstr(req, "\r\nNdx-Event-Id: " EID "\r\n"));
	assert_non_null(strstr(req, "POST /e1/VN/GOV/BTP/civil-status/deaths/death-registered "));
	assert_int_equal(st, 201);
	assert_string_equal(id, EID);
	/* The same again after a lost answer: 200 duplicate is kept, not a failure. */
	assert_int_equal(publish_against("{\"id\":\"" EID "\",\"status\":\"duplicate\","
					 "\"subscriptions\":2}", 200, EID, id, &st, req,
					 sizeof req),
			 NDX_OK);
	assert_int_equal(st, 200);
	assert_string_equal(id, EID);
	/* A 200 that is not this event's duplicate is no success. */
	assert_int_equal(publish_against("{\"id\":\"" EID "\",\"status\":\"queued\"}", 200, EID,
					 id, &st, req, sizeof req),
			 NDX_EPERM);
	assert_int_equal(publish_against("{\"id\":\"00000000-0000-4000-8000-000000000000\","
					 "\"status\":\"duplicate\"}", 200, EID, id, &st, req,
					 sizeof req),
			 NDX_EPERM);
	/* Unnamed: no header, and a 200 is not taken for a duplicate. */
	assert_int_equal(publish_against("{\"id\":\"" EID "\",\"status\":\"duplicate\"}", 200,
					 NULL, id, &st, req, sizeof req),
			 NDX_EPERM);
	assert_null(strstr(req, "Ndx-Event-Id"));
	/* An id taken by another event: the gateway's refusal, said. */
	assert_int_equal(publish_against("{\"type\":\"BadHeader\",\"detail\":\"taken\"}", 400,
					 EID, id, &st, req, sizeof req),
			 NDX_EPERM);
	assert_int_equal(st, 400);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parses_a_page),
		cmocka_unit_test(parses_an_empty_page),
		cmocka_unit_test(refuses_what_is_not_a_page),
		cmocka_unit_test(refuses_an_id_too_long_and_a_page_too_big),
		cmocka_unit_test(backs_off_exponentially_to_a_cap),
		cmocka_unit_test(refuses_a_client_without_url_or_id),
		cmocka_unit_test(draws_lower_case_v4_uuids),
		cmocka_unit_test(publishes_a_named_event_and_takes_its_duplicate_as_kept),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
