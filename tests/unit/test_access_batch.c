/* The access-log lines of one event-loop turn (src/lib/httpd_common.c,
 * struct httpd_log_batch): lines appended are not written until the flush
 * (the loop's before-sleep hook), then all of them with one write, whole
 * and in order; past the cap at once; what is left at free is written; the
 * buffer is reused between turns; over PIPE_BUF bytes the writes are cut
 * where lines end. The batch writes to a SOCK_SEQPACKET socket, which keeps
 * the boundaries of writes: one message read is one write(2). */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "ndx/buf.h"
#include "ndx/err.h"

#include "../../src/lib/httpd_int.h"

struct fx {
	int sv[2]; /* the batch writes to sv[0]; the test reads sv[1] */
	struct httpd_log_batch b;
};

static void open_fx(struct fx *f, size_t cap)
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, f->sv), 0);
	httpd_log_batch_init(&f->b, f->sv[0], cap);
}

static void close_fx(struct fx *f)
{
	httpd_log_batch_free(&f->b);
	close(f->sv[0]);
	close(f->sv[1]);
}

static struct httpd_access access_of(const char *path)
{
	return (struct httpd_access){
		.time = "2026-12-05T11:30:00Z",
		.daemon = "ndx-gateway",
		.remote = "127.0.0.1:40000",
		.method = "GET",
		.path = path,
		.status = 200,
		.ms = 1.5,
		.bytes = 42,
	};
}

/* The line httpd_access_line makes for path: what the batch must write. */
static size_t line_of(const char *path, char *out, size_t cap)
{
	struct ndx_buf b;
	struct httpd_access a = access_of(path);
	size_t n;

	ndx_buf_init(&b, NDX_BUF_NO_CAP);
	assert_int_equal(httpd_access_line(&b, &a), NDX_OK);
	n = b.len;
	assert_true(n < cap);
	memcpy(out, b.data, n);
	out[n] = '\0';
	ndx_buf_free(&b);
	return n;
}

static void add(struct fx *f, const char *path)
{
	struct httpd_access a = access_of(path);

	assert_int_equal(httpd_log_batch_add(&f->b, &a), NDX_OK);
}

/* One write's bytes (NUL-terminated), or -1 when none came within ms. */
static ssize_t read_write(struct fx *f, char *out, size_t cap, int ms)
{
	struct pollfd p = { .fd = f->sv[1], .events = POLLIN };
	ssize_t n;

	if (poll(&p, 1, ms) != 1)
		return -1;
	n = recv(f->sv[1], out, cap - 1, MSG_DONTWAIT);
	assert_true(n >= 0);
	out[n] = '\0';
	return n;
}

static void lines_wait_for_the_flush_then_go_in_one_write(void **state)
{
	struct fx f;
	char want[4096], got[8192];
	size_t n = 0;
	(void)state;

	open_fx(&f, 64 * 1024);
	add(&f, "/r1/alpha");
	add(&f, "/r2/beta");
	add(&f, "/r3/gamma");
	/* Nothing written before the turn ends. */
	assert_int_equal(read_write(&f, got, sizeof got, 0), -1);

	httpd_log_batch_flush(&f.b);
	n += line_of("/r1/alpha", want + n, sizeof want - n);
	n += line_of("/r2/beta", want + n, sizeof want - n);
	n += line_of("/r3/gamma", want + n, sizeof want - n);
	/* All three, whole and in order, in one write; then nothing more. */
	assert_int_equal(read_write(&f, got, sizeof got, 1000), (ssize_t)n);
	assert_string_equal(got, want);
	assert_int_equal(read_write(&f, got, sizeof got, 50), -1);

	/* An empty turn writes nothing. */
	httpd_log_batch_flush(&f.b);
	assert_int_equal(read_write(&f, got, sizeof got, 50), -1);
	close_fx(&f);
}

static void the_buffer_is_kept_between_turns(void **state)
{
	struct fx f;
	char got[8192];
	const char *data;
	size_t alloc;
	(void)state;

	open_fx(&f, 64 * 1024);
	for (int i = 0; i < 4; i++)
		add(&f, "/warm");
	httpd_log_batch_flush(&f.b);
	assert_true(read_write(&f, got, sizeof got, 1000) > 0);
	data = f.b.buf.data;
	alloc = f.b.buf.alloc;
	assert_non_null(data);
	assert_int_equal(f.b.buf.len, 0);
	/* Warm: the next turn of as many lines allocates nothing. */
	for (int i = 0; i < 4; i++)
		add(&f, "/warm");
	assert_ptr_equal(f.b.buf.data, data);
	assert_int_equal(f.b.buf.alloc, alloc);
	httpd_log_batch_flush(&f.b);
	assert_true(read_write(&f, got, sizeof got, 1000) > 0);
	close_fx(&f);
}

static void past_the_cap_it_is_written_at_once(void **state)
{
	struct fx f;
	char one[1024], want[4096], got[8192];
	size_t len = line_of("/capped", one, sizeof one);
	(void)state;

	/* Room for two lines and a half: the third line goes over. */
	open_fx(&f, len * 5 / 2);
	add(&f, "/capped");
	add(&f, "/capped");
	assert_int_equal(read_write(&f, got, sizeof got, 0), -1);
	add(&f, "/capped");
	snprintf(want, sizeof want, "%s%s%s", one, one, one);
	assert_int_equal(read_write(&f, got, sizeof got, 1000), (ssize_t)(3 * len));
	assert_string_equal(got, want);
	assert_int_equal(f.b.buf.len, 0);

	/* The next line waits for the flush again. */
	add(&f, "/capped");
	assert_int_equal(read_write(&f, got, sizeof got, 50), -1);
	httpd_log_batch_flush(&f.b);
	assert_int_equal(read_write(&f, got, sizeof got, 1000), (ssize_t)len);
	assert_string_equal(got, one);
	close_fx(&f);
}

static void what_is_left_is_written_at_free(void **state)
{
	struct fx f;
	char want[4096], got[8192];
	size_t n = 0;
	(void)state;

	open_fx(&f, 64 * 1024);
	add(&f, "/left/1");
	add(&f, "/left/2");
	assert_int_equal(read_write(&f, got, sizeof got, 0), -1);
	httpd_log_batch_free(&f.b);
	n += line_of("/left/1", want + n, sizeof want - n);
	n += line_of("/left/2", want + n, sizeof want - n);
	assert_int_equal(read_write(&f, got, sizeof got, 1000), (ssize_t)n);
	assert_string_equal(got, want);
	assert_null(f.b.buf.data);
	httpd_log_batch_flush(&f.b); /* nothing more */
	assert_int_equal(read_write(&f, got, sizeof got, 50), -1);
	close_fx(&f); /* free again: no double free */
}

/* Over PIPE_BUF bytes: writes of whole lines, each at most PIPE_BUF bytes
 * unless one line is longer (then alone), together the lines in order. */
static void a_large_batch_is_written_in_whole_lines_up_to_pipe_buf(void **state)
{
	struct fx f;
	struct ndx_buf want;
	char *long_path = malloc(PIPE_BUF + 500), *got = malloc(4 * PIPE_BUF);
	char path[64];
	size_t at = 0, writes = 0;
	ssize_t n;
	(void)state;

	assert_non_null(long_path);
	assert_non_null(got);
	long_path[0] = '/';
	memset(long_path + 1, 'x', PIPE_BUF + 498);
	long_path[PIPE_BUF + 499] = '\0';
	ndx_buf_init(&want, NDX_BUF_NO_CAP);
	open_fx(&f, 1024 * 1024);
	for (int i = 0; i < 60; i++) {
		struct httpd_access a;

		if (i == 30) {
			a = access_of(long_path);
		} else {
			snprintf(path, sizeof path, "/many/%d", i);
			a = access_of(path);
		}
		assert_int_equal(httpd_log_batch_add(&f.b, &a), NDX_OK);
		assert_int_equal(httpd_access_line(&want, &a), NDX_OK);
	}
	assert_true(want.len > 3 * PIPE_BUF);
	httpd_log_batch_flush(&f.b);
	while ((n = read_write(&f, got, 4 * PIPE_BUF, 200)) > 0) {
		const char *nl = memchr(got, '\n', (size_t)n);

		writes++;
		assert_int_equal(got[n - 1], '\n');
		/* At most PIPE_BUF, or one line alone. */
		assert_true(n <= PIPE_BUF || nl == got + n - 1);
		assert_true(at + (size_t)n <= want.len);
		assert_memory_equal(got, want.data + at, (size_t)n);
		at += (size_t)n;
	}
	assert_int_equal(at, want.len);
	assert_true(writes >= 4 && writes < 60);
	ndx_buf_free(&want);
	free(long_path);
	free(got);
	close_fx(&f);
}

/* httpd_access_log_line with log->batch: the line goes to the batch; the
 * line is still not written when the log is off. */
static void the_access_log_line_goes_to_the_batch(void **state)
{
	struct fx f;
	struct httpd_log log = { .name = "ndx-test", .on = 1 };
	struct timespec start;
	char got[8192];
	(void)state;

	open_fx(&f, 64 * 1024);
	log.batch = &f.b;
	clock_gettime(CLOCK_MONOTONIC, &start);
	httpd_access_log_line(&log, "127.0.0.1:1", &start, "GET", "/one", 200, NULL, 3, NULL, NULL);
	httpd_access_log_line_h2(&log, "127.0.0.1:2", &start, "POST", "/two", 404,
				 "Client.NotFound", 5, NULL, NULL, 1);
	log.on = 0;
	httpd_access_log_line(&log, "127.0.0.1:3", &start, "GET", "/three", 200, NULL, 3, NULL,
			      NULL);
	assert_int_equal(read_write(&f, got, sizeof got, 0), -1);
	httpd_log_batch_flush(&f.b);
	assert_true(read_write(&f, got, sizeof got, 1000) > 0);
	assert_non_null(strstr(got, "\"path\":\"/one\""));
	assert_non_null(strstr(got, "\"path\":\"/two\""));
	assert_true(strstr(got, "/one") < strstr(got, "/two"));
	assert_non_null(strstr(got, "\"protocol\":\"HTTP/2\"}\n"));
	assert_null(strstr(got, "/three"));
	assert_int_equal(read_write(&f, got, sizeof got, 50), -1);
	close_fx(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(lines_wait_for_the_flush_then_go_in_one_write),
		cmocka_unit_test(the_buffer_is_kept_between_turns),
		cmocka_unit_test(past_the_cap_it_is_written_at_once),
		cmocka_unit_test(what_is_left_is_written_at_free),
		cmocka_unit_test(a_large_batch_is_written_in_whole_lines_up_to_pipe_buf),
		cmocka_unit_test(the_access_log_line_goes_to_the_batch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
