/* A listening Unix domain socket (include/ndx/unixsock.h, src/lib/unixsock.c):
 * - the mode holds before anyone can connect, and the caller's fd accepts;
 * - a live socket or another kind of file at the path is never replaced, a
 *   stale socket is;
 * - the path appears only once the socket listens: a client that sees the
 *   file and connects is never refused. A restarted sector registry was
 *   refused so between bind(2) and listen(2), and the e2e test waiting for
 *   it failed (test_life_events.py, CI of 2026-12-06);
 * - nothing but the socket is left in its directory. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ndx/err.h"
#include "ndx/unixsock.h"

/* Cycles of listen, remove, close in the race test: enough that the old
 * bind-then-listen order was refused in every run here (2 cores, about
 * 0.2 s). Under valgrind, which runs one thread at a time, the cycles stop
 * after SECONDS; at least MIN_CYCLES must have run. */
#define CYCLES 3000
#define MIN_CYCLES 100
#define SECONDS 10

struct dir {
	char path[96];
	char sock[128];
};

static int dir_setup(void **state)
{
	struct dir *d = calloc(1, sizeof *d);
	const char *tmp = getenv("NDX_TEST_TMP");

	assert_non_null(d);
	snprintf(d->path, sizeof d->path, "%s/unixsockXXXXXX", tmp ? tmp : "/tmp");
	if (strlen(d->path) > 70)  /* a sun_path of 108 bytes must hold it */
		snprintf(d->path, sizeof d->path, "/tmp/unixsockXXXXXX");
	assert_non_null(mkdtemp(d->path));
	snprintf(d->sock, sizeof d->sock, "%s/s.sock", d->path);
	*state = d;
	return 0;
}

static int dir_teardown(void **state)
{
	struct dir *d = *state;
	DIR *dh = opendir(d->path);
	struct dirent *e;
	char p[512];

	while (dh && (e = readdir(dh)) != NULL) {
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			snprintf(p, sizeof p, "%s/%s", d->path, e->d_name);
			unlink(p);
		}
	}
	if (dh)
		closedir(dh);
	rmdir(d->path);
	free(d);
	return 0;
}

/* The names in dir other than "." and "..", comma-separated, into out. */
static void dir_names(const char *dir, char *out, size_t cap)
{
	DIR *dh = opendir(dir);
	struct dirent *e;

	out[0] = '\0';
	assert_non_null(dh);
	while ((e = readdir(dh)) != NULL) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (out[0])
			strncat(out, ",", cap - strlen(out) - 1);
		strncat(out, e->d_name, cap - strlen(out) - 1);
	}
	closedir(dh);
}

static int connect_to(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(s >= 0);
	memcpy(sa.sun_path, path, strlen(path));
	if (connect(s, (const struct sockaddr *)&sa, sizeof sa) != 0) {
		int e = errno;
		close(s);
		errno = e;
		return -1;
	}
	return s;
}

static void test_listens_with_its_mode_and_accepts(void **state)
{
	struct dir *d = *state;
	struct stat st;
	char names[256];
	int fd, c, a;

	assert_int_equal(ndx_unix_listen(d->sock, 0600, 0, &fd), NDX_OK);
	assert_int_equal(lstat(d->sock, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
	c = connect_to(d->sock);
	assert_true(c >= 0);
	a = accept(fd, NULL, NULL);
	assert_true(a >= 0);
	assert_int_equal(write(c, "x", 1), 1);
	char b = 0;
	assert_int_equal(read(a, &b, 1), 1);
	assert_int_equal(b, 'x');
	close(a);
	close(c);
	dir_names(d->path, names, sizeof names);
	assert_string_equal(names, "s.sock");
	assert_int_equal(unlink(d->sock), 0);
	close(fd);

	assert_int_equal(ndx_unix_listen(d->sock, 0660, 0, &fd), NDX_OK);
	assert_int_equal(lstat(d->sock, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0660);
	unlink(d->sock);
	close(fd);
}

static void test_replaces_only_a_stale_socket(void **state)
{
	struct dir *d = *state;
	char names[256];
	int fd, fd2 = -1, c;

	/* live: refused, and still answering */
	assert_int_equal(ndx_unix_listen(d->sock, 0600, 0, &fd), NDX_OK);
	assert_int_equal(ndx_unix_listen(d->sock, 0600, 0, &fd2), NDX_EEXIST);
	assert_int_equal(fd2, -1);
	c = connect_to(d->sock);
	assert_true(c >= 0);
	close(c);

	/* stale: the file stays after its listener closed; replaced */
	close(fd);
	assert_int_equal(connect_to(d->sock), -1);
	assert_int_equal(errno, ECONNREFUSED);
	assert_int_equal(ndx_unix_listen(d->sock, 0600, 0, &fd), NDX_OK);
	c = connect_to(d->sock);
	assert_true(c >= 0);
	close(c);
	unlink(d->sock);
	close(fd);

	/* a regular file: never replaced */
	FILE *f = fopen(d->sock, "w");
	assert_non_null(f);
	fputs("keep", f);
	fclose(f);
	assert_int_equal(ndx_unix_listen(d->sock, 0600, 0, &fd), NDX_EEXIST);
	dir_names(d->path, names, sizeof names);
	assert_string_equal(names, "s.sock");
	unlink(d->sock);

	/* a path no sockaddr_un holds, and an empty one */
	char longp[200];
	memset(longp, 'a', sizeof longp - 1);
	longp[0] = '/';
	longp[sizeof longp - 1] = '\0';
	assert_int_equal(ndx_unix_listen(longp, 0600, 0, &fd), NDX_EINVAL);
	assert_int_equal(ndx_unix_listen("", 0600, 0, &fd), NDX_EINVAL);
}

/* A path of NDX_UNIX_PATH_MAX bytes works too: the socket is bound under a
 * shorter name in its directory before it takes its own; in a directory
 * too long for that name, at its own path. */
static void test_a_path_of_the_longest_length(void **state)
{
	struct dir *d = *state;
	char p[NDX_UNIX_PATH_MAX + 1], names[512];
	size_t n = strlen(d->path);
	int fd, c;

	assert_true(n + 2 < NDX_UNIX_PATH_MAX);
	memcpy(p, d->path, n);
	p[n] = '/';
	memset(p + n + 1, 'z', NDX_UNIX_PATH_MAX - n - 1);
	p[NDX_UNIX_PATH_MAX] = '\0';
	assert_int_equal(ndx_unix_listen(p, 0600, 0, &fd), NDX_OK);
	c = connect_to(p);
	assert_true(c >= 0);
	close(c);
	dir_names(d->path, names, sizeof names);
	assert_string_equal(names, p + n + 1);
	unlink(p);
	close(fd);

	/* A directory too long for a second name beside the socket's: bound
	 * at its path, still with its mode before listen(2). */
	char deep[NDX_UNIX_PATH_MAX + 1], sock[NDX_UNIX_PATH_MAX + 3];
	struct stat st;
	snprintf(deep, sizeof deep, "%s", d->path);
	while (strlen(deep) < NDX_UNIX_PATH_MAX - 10) {
		strncat(deep, "/dddddddd", sizeof deep - strlen(deep) - 1);
		assert_int_equal(mkdir(deep, 0700), 0);
	}
	assert_true(strlen(deep) + 13 > NDX_UNIX_PATH_MAX);
	snprintf(sock, sizeof sock, "%s/s", deep);
	assert_true(strlen(sock) <= NDX_UNIX_PATH_MAX);
	assert_int_equal(ndx_unix_listen(sock, 0600, 0, &fd), NDX_OK);
	assert_int_equal(lstat(sock, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	c = connect_to(sock);
	assert_true(c >= 0);
	close(c);
	dir_names(deep, names, sizeof names);
	assert_string_equal(names, "s");
	unlink(sock);
	close(fd);
	while (strcmp(deep, d->path) != 0) {
		assert_int_equal(rmdir(deep), 0);
		*strrchr(deep, '/') = '\0';
	}
}

struct prober {
	const char *path;
	atomic_int stop;
	atomic_long connected, refused, absent;
};

/* Connects whenever the file is there, as a client waiting for a server to
 * come up does; counts the connections refused although the file existed. */
static void *probe(void *arg)
{
	struct prober *p = arg;
	struct stat st;

	while (!atomic_load(&p->stop)) {
		if (lstat(p->path, &st) != 0) {
			atomic_fetch_add(&p->absent, 1);
			/* valgrind runs one thread at a time and would leave
			 * the listener none */
			sched_yield();
			continue;
		}
		int c = connect_to(p->path);
		if (c >= 0) {
			atomic_fetch_add(&p->connected, 1);
			close(c);
		} else if (errno == ECONNREFUSED) {
			atomic_fetch_add(&p->refused, 1);
		}
	}
	return NULL;
}

static void test_the_path_appears_only_once_it_listens(void **state)
{
	struct dir *d = *state;
	struct prober p = { .path = d->sock };
	pthread_t t;
	char names[256];
	int fd;

	time_t until = time(NULL) + SECONDS;
	int cycles = 0;

	assert_int_equal(pthread_create(&t, NULL, probe, &p), 0);
	for (; cycles < CYCLES && (cycles < MIN_CYCLES || time(NULL) < until); cycles++) {
		long seen = atomic_load(&p.connected);
		assert_int_equal(ndx_unix_listen(d->sock, 0600, 0, &fd), NDX_OK);
		/* Let the prober find this one before it goes (bounded, so a
		 * prober that never connects fails the count below instead). */
		for (int spin = 0; spin < 2000 && atomic_load(&p.connected) == seen; spin++)
			sched_yield();
		/* A server stopping removes its path before closing, so a
		 * refusal here can only come from a socket not yet listening. */
		assert_int_equal(unlink(d->sock), 0);
		close(fd);
	}
	atomic_store(&p.stop, 1);
	assert_int_equal(pthread_join(t, NULL), 0);
	print_message("cycles %d: connected %ld, refused %ld, absent %ld\n", cycles,
		      atomic_load(&p.connected),
		      atomic_load(&p.refused), atomic_load(&p.absent));
	assert_int_equal(atomic_load(&p.refused), 0);
	assert_true(atomic_load(&p.connected) >= cycles / 2);
	dir_names(d->path, names, sizeof names);
	assert_string_equal(names, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_listens_with_its_mode_and_accepts,
						dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(test_replaces_only_a_stale_socket,
						dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(test_a_path_of_the_longest_length,
						dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(test_the_path_appears_only_once_it_listens,
						dir_setup, dir_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
