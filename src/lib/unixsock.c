/* A listening Unix domain socket with its file mode set between bind(2) and
 * listen(2), so that no client can connect before the permissions hold
 * (include/ndx/unixsock.h). Overview: docs/security.md (T33). */
#include "ndx/unixsock.h"

#include <errno.h>
#include <fcntl.h>
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
	if (bind(s, (const struct sockaddr *)&sa, sizeof sa) != 0) {
		rc = errno == EADDRINUSE ? NDX_EEXIST : NDX_EIO;
		close(s);
		return rc;
	}
	/* Nobody can connect before listen(2): the mode is in place first. */
	if (chmod(path, mode) != 0 || listen(s, backlog > 0 ? backlog : SOMAXCONN) != 0) {
		unlink(path);
		close(s);
		return NDX_EIO;
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
