/* Listening on a Unix domain socket whose file permissions decide who may
 * connect: a provider system that only its own gateway may reach (the
 * sector registries of the demo). Overview: docs/security.md (T33). */
#ifndef NDX_UNIXSOCK_H
#define NDX_UNIXSOCK_H

#include <sys/types.h>

/* Longest socket path (sun_path less its NUL). */
#define NDX_UNIX_PATH_MAX 107

/* Creates a stream socket listening at path with the file mode mode (e.g.
 * 0600: only this user; 0660: and the group) set before the first
 * connection can be accepted. The file appears at path only once the
 * socket listens, so a client that finds it can connect: the socket is
 * bound under a temporary name in path's directory (".ndx" and 8 hex
 * digits; left behind only if the process dies between the two calls) and
 * then linked to path. A stale socket file at path (one nobody listens on)
 * is replaced; a live one, or any other kind of file, is not, even one
 * that appears meanwhile.
 * Returns NDX_OK with *fd set (close-on-exec, non-blocking; the caller
 * closes it and removes path), NDX_EINVAL (path too long or empty),
 * NDX_EEXIST (a live socket or another file is there), NDX_EIO. */
int ndx_unix_listen(const char *path, mode_t mode, int backlog, int *fd);

/* Splits a URL of a provider system on a Unix socket, in nginx's form
 * "unix:/path/to/sock" or "unix:/path/to/sock:/base/path" (the socket path
 * is absolute and holds no ':'), into the socket path (copied into sock)
 * and the HTTP path (*rest points into url: "" or "/base/path").
 * Returns NDX_OK, or NDX_EINVAL when url is not of that form or the socket
 * path is longer than NDX_UNIX_PATH_MAX. */
int ndx_unix_url_split(const char *url, char sock[NDX_UNIX_PATH_MAX + 1], const char **rest);

#endif
