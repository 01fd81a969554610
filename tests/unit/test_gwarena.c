/* One exchange's arena (src/gateway/gwarena.c) and what the exchanges
 * take from it: the user header lists (userheaders.c), the curl header
 * lists to the provider system and to the provider gateway and the
 * answer's headers (xfer.c), the log path (exchlog.c). Each is compared
 * with its malloc'd form, which the other parts of the gateway keep using:
 * the same lines, the same refusals. Then an exchange's life across
 * threads: allocated on one thread, read and cleared on another, as an
 * exchange that ends on the message log's writer thread (valgrind and
 * ASan check the memory). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "exchlog.h"
#include "gwarena.h"
#include "ndx/err.h"
#include "ndx/msgsig.h"
#include "userheaders.h"
#include "xfer.h"

static void strings_come_from_the_arena_until_it_is_cleared(void **state)
{
	struct gw_arena a;
	char big[3000], *p, *q, *r, *s, *many[600];

	(void)state;
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	gw_arena_init(&a);
	for (int round = 0; round < 3; round++) { /* used again after each clear */
		p = gw_arena_strdup(&a, "X-Road-Client");
		q = gw_arena_strndup(&a, "Ndx-Purpose: tax", 11);
		r = gw_arena_concat(&a, "/r1/", "VN/GOV", "", "?", "a=1", NULL);
		/* past a quarter chunk (a malloc of its own inside the arena) */
		s = gw_arena_concat(&a, big, "|", "end", NULL);
		assert_string_equal(p, "X-Road-Client");
		assert_string_equal(q, "Ndx-Purpose");
		assert_string_equal(r, "/r1/VN/GOV?a=1");
		assert_string_equal(gw_arena_concat(&a, NULL), "");
		assert_int_equal(strlen(s), sizeof big - 1 + 4);
		assert_string_equal(s + sizeof big - 1, "|end");
		assert_int_equal((uintptr_t)gw_arena_alloc(&a, 1) % 8, 0);
		assert_non_null(gw_arena_alloc(&a, 0));
		/* more than a chunk of small pieces, none overwriting another */
		for (int i = 0; i < 600; i++) {
			char num[16];

			snprintf(num, sizeof num, "%d", i);
			many[i] = gw_arena_strdup(&a, num);
		}
		for (int i = 0; i < 600; i++) {
			char want[16];

			snprintf(want, sizeof want, "%d", i);
			assert_string_equal(many[i], want);
		}
		assert_string_equal(p, "X-Road-Client");
		gw_arena_clear(&a);
	}
	gw_arena_clear(&a); /* twice is harmless */
}

static void fill(struct gw_uh_list *l, int n)
{
	char name[32], value[32];

	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof name, "X-H%d", i % 5);
		snprintf(value, sizeof value, "v%d", i);
		assert_int_equal(gw_uh_add(l, name, strlen(name), value, strlen(value)), NDX_OK);
	}
}

static void a_user_header_list_in_the_arena_is_the_malloc_one(void **state)
{
	struct gw_arena a;
	struct gw_uh_list m = { 0 }, z = { 0 }, sel_m = { 0 }, sel_z = { 0 };
	uint8_t hm[NDX_SHA256_LEN], hz[NDX_SHA256_LEN];
	char *names;

	(void)state;
	gw_arena_init(&a);
	z.arena = sel_z.arena = &a;
	fill(&m, 20); /* past the first 8 entries: the array grows twice */
	fill(&z, 20);
	assert_int_equal(z.n, 20);
	for (size_t i = 0; i < m.n; i++) {
		assert_string_equal(z.v[i].name, m.v[i].name);
		assert_string_equal(z.v[i].value, m.v[i].value);
	}
	assert_int_equal(z.bytes, m.bytes);
	gw_uh_hash(&m, hm);
	gw_uh_hash(&z, hz);
	assert_memory_equal(hm, hz, sizeof hm);
	names = gw_uh_names(&m);
	assert_non_null(names);
	assert_string_equal(gw_uh_names_in(&a, &z), names);
	assert_string_equal(names, "x-h0,x-h1,x-h2,x-h3,x-h4");
	free(names);
	assert_int_equal(gw_uh_select(&m, "X-H1", "x-h0,x-h1,x-h3", &sel_m), NDX_OK);
	assert_int_equal(gw_uh_select(&z, "X-H1", "x-h0,x-h1,x-h3", &sel_z), NDX_OK);
	assert_int_equal(sel_z.n, sel_m.n);
	assert_int_equal(sel_z.n, 8);
	for (size_t i = 0; i < sel_m.n; i++)
		assert_string_equal(sel_z.v[i].value, sel_m.v[i].value);
	/* the same refusals */
	assert_int_equal(gw_uh_add(&z, "Bad Name", 8, "v", 1), NDX_EINVAL);
	assert_int_equal(gw_uh_add(&z, "X-A", 3, "a\r\nb", 4), NDX_EINVAL);
	fill(&z, GW_UH_MAX_COUNT - 20);
	assert_int_equal(gw_uh_add(&z, "X-A", 3, "v", 1), NDX_ETOOBIG);
	assert_int_equal(z.n, GW_UH_MAX_COUNT);
	/* emptied, still on the arena */
	gw_uh_free(&z);
	assert_int_equal(z.n, 0);
	assert_ptr_equal(z.arena, &a);
	fill(&z, 3);
	assert_string_equal(z.v[2].value, "v2");
	gw_uh_free(&m);
	gw_uh_free(&sel_m);
	gw_arena_clear(&a);
}

static void curl_header_lists_in_the_arena_have_the_same_lines(void **state)
{
	struct gw_arena a;
	struct gw_uh_list user = { 0 };
	struct curl_slist *m = NULL, *z = NULL, *p, *q;
	size_t n = 0;

	(void)state;
	gw_arena_init(&a);
	assert_int_equal(gw_uh_add(&user, "Accept", 6, "application/json", 16), NDX_OK);
	assert_int_equal(gw_uh_add(&user, "X-Empty", 7, "", 0), NDX_OK);
	assert_int_equal(gw_slist_add(&m, "X-Road-Client", "VN/GOV/BTC/tax"), NDX_OK);
	assert_int_equal(gw_slist_add_user(&m, &user), NDX_OK);
	assert_int_equal(gw_slist_add(&m, "Content-Type", ""), NDX_OK);
	assert_int_equal(gw_slist_add(&m, "Expect", ""), NDX_OK);
	gw_slist_add_in(&a, &z, "X-Road-Client", "VN/GOV/BTC/tax");
	gw_slist_add_user_in(&a, &z, &user);
	gw_slist_add_in(&a, &z, "Content-Type", "");
	gw_slist_add_in(&a, &z, "Expect", "");
	for (p = m, q = z; p && q; p = p->next, q = q->next, n++)
		assert_string_equal(q->data, p->data);
	assert_null(p);
	assert_null(q);
	assert_int_equal(n, 5);
	assert_string_equal(z->next->next->data, "X-Empty;");
	assert_string_equal(z->next->next->next->data, "Content-Type:");
	curl_slist_free_all(m);
	gw_uh_free(&user);
	gw_arena_clear(&a); /* z with it */
}

static void header(struct gw_xfer_resp *r, const char *name, const char *v)
{
	assert_int_equal(gw_xfer_resp_header(r, name, strlen(name), v, strlen(v)), 0);
}

static void an_answers_headers_in_the_arena(void **state)
{
	struct gw_arena a;
	struct gw_xfer_resp r = { 0 };

	(void)state;
	gw_arena_init(&a);
	gw_xfer_resp_use_arena(&r, &a);
	header(&r, "Content-Type", " application/json\r\n");
	header(&r, "Content-Type", "text/plain");   /* the last one stands */
	header(&r, "X-Road-Request-Id", "abc");
	header(&r, "Cache-Control", "no-store");    /* a user header */
	assert_string_equal(r.hdr[GW_H_CONTENT_TYPE], "text/plain");
	assert_string_equal(r.hdr[GW_H_REQUEST_ID], "abc");
	assert_int_equal(r.user.n, 1);
	assert_string_equal(r.user.v[0].value, "no-store");
	/* a bad user header is dropped, a header over its cap stops the answer */
	header(&r, "Bad Name", "x");
	assert_int_equal(r.user.n, 1);
	{
		size_t big = 2 * GW_HEADER_MAX + NDX_MSGSIG_MAX_TEXT + 1;
		char *v = malloc(big + 1);

		assert_non_null(v);
		memset(v, 'a', big);
		v[big] = '\0';
		assert_int_equal(gw_xfer_resp_header(&r, "Location", 8, v, big), -1);
		free(v);
	}
	/* a new header block (after 1xx) starts over, on the same arena */
	gw_xfer_resp_new_block(&r);
	assert_null(r.hdr[GW_H_CONTENT_TYPE]);
	assert_int_equal(r.user.n, 0);
	header(&r, "Location", "/x");
	assert_string_equal(r.hdr[GW_H_LOCATION], "/x");
	r.body = strdup("{}"); /* the body is malloc'd either way */
	assert_non_null(r.body);
	r.len = 2;
	gw_xfer_resp_free(&r);
	assert_null(r.body);
	assert_null(r.hdr[GW_H_LOCATION]);
	assert_ptr_equal(r.arena, &a);
	assert_ptr_equal(r.user.arena, &a);
	assert_string_equal(gw_log_path_in(&a, "/citizens/1", "q=1"), "/citizens/1?q=1");
	assert_string_equal(gw_log_path_in(&a, "/citizens/1", ""), "/citizens/1");
	assert_string_equal(gw_log_path_in(&a, NULL, NULL), "");
	gw_arena_clear(&a);
}

/* An exchange: started on one thread (its port's loop), ended on another
 * (the log writer's), one at a time, handed over through a locked queue
 * (here: a mutex and a condition variable). */
struct handoff {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct gw_arena *a;
	struct gw_uh_list *l;
	char *path;
	int done;
};

static void *ender(void *arg)
{
	struct handoff *h = arg;

	pthread_mutex_lock(&h->mu);
	while (!h->a)
		pthread_cond_wait(&h->cv, &h->mu);
	pthread_mutex_unlock(&h->mu);
	/* what the writer's callback reads, then the end of the exchange */
	h->done = strcmp(h->path, "/citizens/079?x=1") == 0 && h->l->n == 10 &&
		  strcmp(h->l->v[9].value, "v9") == 0;
	gw_uh_free(h->l);
	gw_arena_clear(h->a);
	return NULL;
}

static void an_exchange_ends_on_another_thread(void **state)
{
	struct handoff h = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };
	struct gw_arena *a = malloc(sizeof *a);
	struct gw_uh_list l = { 0 };
	pthread_t t;

	(void)state;
	assert_non_null(a);
	assert_int_equal(pthread_create(&t, NULL, ender, &h), 0);
	for (int round = 0; round < 50; round++) {
		if (round) { /* one exchange after another, each a fresh arena */
			h.a = NULL;
			h.done = 0;
			assert_int_equal(pthread_create(&t, NULL, ender, &h), 0);
		}
		gw_arena_init(a);
		l.arena = a;
		fill(&l, 10);
		h.path = gw_log_path_in(a, "/citizens/079", "x=1");
		h.l = &l;
		for (int i = 0; i < 300; i++) /* a few chunks, written whole */
			memset(gw_arena_alloc(a, 65), 'x', 65);
		pthread_mutex_lock(&h.mu);
		h.a = a;
		pthread_cond_signal(&h.cv);
		pthread_mutex_unlock(&h.mu);
		assert_int_equal(pthread_join(t, NULL), 0);
		assert_int_equal(h.done, 1);
	}
	free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(strings_come_from_the_arena_until_it_is_cleared),
		cmocka_unit_test(a_user_header_list_in_the_arena_is_the_malloc_one),
		cmocka_unit_test(curl_header_lists_in_the_arena_have_the_same_lines),
		cmocka_unit_test(an_answers_headers_in_the_arena),
		cmocka_unit_test(an_exchange_ends_on_another_thread),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
