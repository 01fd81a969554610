/* A listening Unix domain socket with its file mode set between bind(2) and
 * listen(2), so that no client can connect before the permissions hold, and
 * its path appearing only once it listens (include/ndx/unixsock.h).
 * Overview: docs/security.md (T33). */
#include "ndx/unixsock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ndx/err.h"

static int fill_addr(const char *path, struct sockaddr_un *sa)
{
	size_t n = strlen(path);

	if (n == 0 || n > NDX_UNIX_PATH_MAX || n >= sizeof sa->sun_path)
		return NDX_EINVAL;
	memset(sa, 0, sizeof *sa);
	sa->sun_family = AF_UNIX;
	memcpy(sa->sun_path, path, n);
	return NDX_OK;
}

/* Removes a socket file nobody listens on; NDX_EEXIST for a live socket or
 * a file of another kind. */
static int remove_stale(const char *path, const struct sockaddr_un *sa)
{
	struct stat st;
	int s, live;

	if (lstat(path, &st) != 0)
		return errno == ENOENT ? NDX_OK : NDX_EIO;
	if (!S_ISSOCK(st.st_mode))
		return NDX_EEXIST;
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return NDX_EIO;
	live = connect(s, (const struct sockaddr *)sa, sizeof *sa) == 0;
	close(s);
	if (live)
		return NDX_EEXIST;
	return unlink(path) == 0 || errno == ENOENT ? NDX_OK : NDX_EIO;
}

/* A name for the socket to be bound under before it takes path: in path's
 * directory (link(2) cannot cross file systems), short enough for
 * sun_path, and unlikely to be anyone else's (a clash is retried). Returns
 * NDX_OK, or NDX_EINVAL when path's directory leaves no room for it. */
static int temp_addr(const char *path, struct sockaddr_un *sa)
{
	static atomic_uint counter;
	const char *slash = strrchr(path, '/');
	size_t dir = slash ? (size_t)(slash - path) + 1 : 0;
	unsigned tag = ((unsigned)getpid() * 2654435761u) ^
		       (atomic_fetch_add(&counter, 1) * 40503u);
	char name[NDX_UNIX_PATH_MAX + 16];

	if (dir + 13 > NDX_UNIX_PATH_MAX)
		return NDX_EINVAL;
	memcpy(name, path, dir);
	snprintf(name + dir, sizeof name - dir, ".ndx%08x", tag);
	return fill_addr(name, sa);
}

/* Binds s under a temporary name beside path (*at), or at path itself (sa)
 * when its directory leaves no room for a second name. */
static int bind_beside(int s, const char *path, const struct sockaddr_un *sa,
		       struct sockaddr_un *at)
{
	if (temp_addr(path, at) != NDX_OK) {
		*at = *sa;
		if (bind(s, (const struct sockaddr *)at, sizeof *at) == 0)
			return NDX_OK;
		return errno == EADDRINUSE ? NDX_EEXIST : NDX_EIO;
	}
	for (int tries = 0; tries < 8; tries++) {
		if (bind(s, (const struct sockaddr *)at, sizeof *at) == 0)
			return NDX_OK;
		if (errno != EADDRINUSE || temp_addr(path, at) != NDX_OK)
			return NDX_EIO;
	}
	return NDX_EIO;
}

/* Binds s, sets the socket file's mode and listens, and only then gives the
 * file its name path (link(2), which like bind(2) refuses a name already
 * taken): a client that finds path can connect, where a socket bound at
 * path would be seen there and refused until listen(2). */
static int listen_then_appear(int s, const char *path, const struct sockaddr_un *sa,
			      mode_t mode, int backlog)
{
	struct sockaddr_un at;
	int rc = bind_beside(s, path, sa, &at), own_name;

	if (rc != NDX_OK)
		return rc;
	own_name = strcmp(at.sun_path, path) == 0;
	if (chmod(at.sun_path, mode) != 0 ||
	    listen(s, backlog > 0 ? backlog : SOMAXCONN) != 0)
		rc = NDX_EIO;
	else if (!own_name && link(at.sun_path, path) != 0)
		rc = errno == EEXIST ? NDX_EEXIST : NDX_EIO;
	if (rc != NDX_OK || !own_name)
		unlink(at.sun_path);
	return rc;
}

int ndx_unix_listen(const char *path, mode_t mode, int backlog, int *fd)
{
	struct sockaddr_un sa;
	int s, rc;

	*fd = -1;
	if ((rc = fill_addr(path, &sa)) != NDX_OK || (rc = remove_stale(path, &sa)) != NDX_OK)
		return rc;
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s < 0)
		return NDX_EIO;
	if ((rc = listen_then_appear(s, path, &sa, mode, backlog)) != NDX_OK) {
		close(s);
		return rc;
	}
	*fd = s;
	return NDX_OK;
}

int ndx_unix_url_split(const char *url, char sock[NDX_UNIX_PATH_MAX + 1], const char **rest)
{
	const char *path, *end;
	size_t n;

	if (strncmp(url, "unix:", 5) != 0)
		return NDX_EINVAL;
	path = url + 5;
	end = strchr(path, ':');
	n = end ? (size_t)(end - path) : strlen(path);
	if (n < 2 || path[0] != '/' || n > NDX_UNIX_PATH_MAX)
		return NDX_EINVAL;
	if (end && end[1] != '\0' && end[1] != '/')
		return NDX_EINVAL;
	memcpy(sock, path, n);
	sock[n] = '\0';
	*rest = end ? end + 1 : path + n;
	return NDX_OK;
}
