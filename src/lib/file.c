/* Whole-file reads with a size cap and crash-safe whole-file replacement
 * (write a temporary, fsync, rename, fsync the directory) for keys, anchors,
 * configuration and certificates. A reader therefore sees the old file or
 * the new one, and after a crash the named file is never half written. */
#include "ndx/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ndx/err.h"

int ndx_file_read(const char *path, size_t cap, char **out, size_t *len)
{
	size_t size = 0, alloc, limit;
	char *buf = NULL;
	struct stat st;
	int fd, rc = NDX_OK;

	*out = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NDX_EIO;
	if (fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
		close(fd);
		return NDX_EIO;
	}
	if (S_ISREG(st.st_mode) && (unsigned long long)st.st_size > cap) {
		close(fd);
		return NDX_ETOOBIG;
	}
	/* The size from fstat is only a hint: the file may grow while we read,
	 * and pipes or /proc files report 0, so read until EOF under the cap. */
	limit = cap > SIZE_MAX - 2 ? SIZE_MAX : cap + 2;
	alloc = (S_ISREG(st.st_mode) ? (size_t)st.st_size : 0) + 4096;
	if (alloc > limit)
		alloc = limit;
	for (;;) {
		ssize_t n;

		if (size + 1 >= alloc || buf == NULL) {
			size_t want = buf == NULL ? alloc : alloc * 2;
			char *nb;

			if (want > limit || want < alloc)
				want = limit;
			nb = realloc(buf, want);
			if (nb == NULL) {
				rc = NDX_ENOMEM;
				break;
			}
			buf = nb;
			alloc = want;
		}
		n = read(fd, buf + size, alloc - size - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = NDX_EIO;
			break;
		}
		if (n == 0)
			break;
		size += (size_t)n;
		if (size > cap) {
			rc = NDX_ETOOBIG;
			break;
		}
	}
	close(fd);
	if (rc != NDX_OK) {
		free(buf);
		return rc;
	}
	buf[size] = '\0';
	*out = buf;
	*len = size;
	return NDX_OK;
}

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Makes a rename or link inside path's directory durable. */
static int fsync_parent(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	int fd, rc = 0;

	if (slash == NULL)
		dir = strdup(".");
	else if (slash == path)
		dir = strdup("/");
	else
		dir = strndup(path, (size_t)(slash - path));
	if (dir == NULL)
		return NDX_ENOMEM;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	if (fd < 0)
		return NDX_EIO;
	if (fsync(fd) != 0)
		rc = NDX_EIO;
	close(fd);
	return rc;
}

int ndx_file_write_atomic(const char *path, const void *data, size_t len,
			  mode_t mode, int exclusive)
{
	struct stat st;
	char *tmp;
	int fd, n, rc = NDX_OK;

	if (exclusive && lstat(path, &st) == 0)
		return NDX_EEXIST;
	n = snprintf(NULL, 0, "%s.tmp.%ld", path, (long)getpid());
	if (n < 0)
		return NDX_EIO;
	tmp = malloc((size_t)n + 1);
	if (tmp == NULL)
		return NDX_ENOMEM;
	snprintf(tmp, (size_t)n + 1, "%s.tmp.%ld", path, (long)getpid());

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0) {
		free(tmp);
		return NDX_EIO;
	}
	/* open() applies the umask and keeps the mode of a stale temporary;
	 * the caller asked for exactly this mode (0600 for private keys). */
	if (fchmod(fd, mode) != 0 || write_all(fd, data, len) != 0 || fsync(fd) != 0)
		rc = NDX_EIO;
	if (close(fd) != 0 && rc == NDX_OK)
		rc = NDX_EIO;
	if (rc == NDX_OK) {
		if (exclusive) {
			/* link() refuses an existing target, which closes the
			 * window between the lstat above and here. */
			if (link(tmp, path) != 0)
				rc = errno == EEXIST ? NDX_EEXIST : NDX_EIO;
			unlink(tmp);
		} else if (rename(tmp, path) != 0) {
			rc = NDX_EIO;
		}
	}
	if (rc != NDX_OK) {
		unlink(tmp);
		free(tmp);
		return rc;
	}
	free(tmp);
	return fsync_parent(path) == 0 ? NDX_OK : NDX_EIO;
}

int ndx_mkdirs(const char *path, mode_t mode)
{
	struct stat st;
	char *p;
	int rc = NDX_OK;

	if (path[0] == '\0')
		return NDX_EIO;
	p = strdup(path);
	if (p == NULL)
		return NDX_ENOMEM;
	/* Create each ancestor in turn; one that exists already is fine as
	 * long as it is a directory. */
	for (char *s = p + 1;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char saved = *s;

		*s = '\0';
		if (mkdir(p, mode) != 0 &&
		    (errno != EEXIST || stat(p, &st) != 0 || !S_ISDIR(st.st_mode))) {
			rc = NDX_EIO;
			break;
		}
		*s = saved;
		if (saved == '\0')
			break;
		while (s[1] == '/')
			s++;
	}
	free(p);
	return rc;
}

int ndx_file_read_secret(const char *path, char **out)
{
	size_t len;
	int rc = ndx_file_read(path, 4096, out, &len);

	if (rc != NDX_OK)
		return rc;
	(*out)[strcspn(*out, "\r\n")] = '\0';
	if ((*out)[0] == '\0' || strlen(*out) != strnlen(*out, len)) {
		memset(*out, 0, len);
		free(*out);
		*out = NULL;
		return NDX_EINVAL;
	}
	return NDX_OK;
}
