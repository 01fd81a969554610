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
					      "death-registered", "070182917807", "{}", 2, id,
					      &status, err, sizeof err),
			 NDX_ENET);
	assert_int_equal(status, 0);
	assert_string_equal(id, "");
	/* A name with a slash or a space is refused before any request. */
	assert_int_equal(ndx_evclient_publish(c, "VN/GOV/BTP/civil-status/deaths", "a/b", NULL,
					      "{}", 2, NULL, NULL, err, sizeof err),
			 NDX_EINVAL);
	assert_int_equal(ndx_evclient_ack(c, "a b", err, sizeof err), NDX_EINVAL);
	ndx_evclient_free(c);
	ndx_evclient_free(NULL);
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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
