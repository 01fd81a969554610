/* Consent status lists (statuslist.h, docs/protocol.md "Revocation"): the
 * bit layout and compression of draft-ietf-oauth-status-list section 4 for
 * one bit a consent, and the strict parser of one list document. zlib does
 * the DEFLATE; the parser inflates into a buffer of the one size a list can
 * have, so neither a zip bomb nor a short list gets through. */
#include "ndx/statuslist.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <zlib.h>

#include "ndx/encode.h"
#include "ndx/err.h"

static const char *const doc_members[] = { "issuer", "list", "bits", "size", "lst" };

bool ndx_statuslist_get(const uint8_t *bits, size_t nbytes, uint64_t idx)
{
	if (idx / 8 >= nbytes)
		return false;
	return (bits[idx / 8] >> (idx % 8)) & 1u;
}

void ndx_statuslist_set(uint8_t *bits, size_t nbytes, uint64_t idx)
{
	assert(idx / 8 < nbytes);
	/* Also without assert (NDEBUG): a bad index never writes elsewhere. */
	if (idx / 8 >= nbytes)
		return;
	bits[idx / 8] = (uint8_t)(bits[idx / 8] | (1u << (idx % 8)));
}

int ndx_statuslist_encode(const uint8_t *bits, size_t nbytes, char **lst)
{
	uLongf zlen = compressBound((uLong)nbytes);
	uint8_t *z;
	int rc;

	assert(bits != NULL || nbytes == 0);
	*lst = NULL;
	if (!(z = malloc(zlen)))
		return NDX_ENOMEM;
	rc = compress2(z, &zlen, bits, (uLong)nbytes, Z_BEST_COMPRESSION);
	if (rc != Z_OK) {
		free(z);
		return rc == Z_MEM_ERROR ? NDX_ENOMEM : NDX_EIO;
	}
	*lst = ndx_b64_encode(z, zlen, 1);
	free(z);
	return *lst ? NDX_OK : NDX_ENOMEM;
}

int ndx_statuslist_decode(const char *lst, size_t len, size_t nbytes, uint8_t **bits)
{
	uint8_t *z = NULL, *out = NULL;
	size_t zlen = 0;
	z_stream zs;
	int rc, zrc;

	*bits = NULL;
	if ((rc = ndx_b64_decode(lst, len, 1, &z, &zlen)) != NDX_OK)
		return rc;
	/* One byte more than a list may have: inflating into it tells "too
	 * long" from "exactly right" without ever growing the buffer. */
	if (!(out = malloc(nbytes + 1))) {
		free(z);
		return NDX_ENOMEM;
	}
	memset(&zs, 0, sizeof zs);
	if (inflateInit(&zs) != Z_OK) {
		free(z);
		free(out);
		return NDX_ENOMEM;
	}
	zs.next_in = z;
	zs.avail_in = (uInt)zlen;
	zs.next_out = out;
	zs.avail_out = (uInt)(nbytes + 1);
	zrc = inflate(&zs, Z_FINISH);
	/* Z_STREAM_END with every input byte used and exactly nbytes out: a
	 * complete ZLIB stream of the right length and nothing after it. */
	if (zrc == Z_MEM_ERROR)
		rc = NDX_ENOMEM;
	else if (zrc != Z_STREAM_END || zs.avail_in != 0 || zs.total_out != nbytes)
		rc = NDX_EINVAL;
	inflateEnd(&zs);
	free(z);
	if (rc != NDX_OK) {
		free(out);
		return rc;
	}
	*bits = out;
	return NDX_OK;
}

int ndx_statuslist_write(const char *issuer, uint32_t list, const uint8_t *bits, char **text,
			 size_t *len)
{
	char *lst = NULL;
	json_t *doc;
	int rc;

	assert(issuer != NULL && bits != NULL && text != NULL && len != NULL);
	*text = NULL;
	*len = 0;
	if ((rc = ndx_statuslist_encode(bits, NDX_STATUSLIST_BYTES, &lst)) != NDX_OK)
		return rc;
	/* Member order fixed (jansson keeps insertion order): the same bits
	 * always give the same bytes, and so the same digest. */
	doc = json_pack("{s:s, s:I, s:i, s:I, s:s}", "issuer", issuer, "list", (json_int_t)list,
			"bits", 1, "size", (json_int_t)NDX_STATUSLIST_CAPACITY, "lst", lst);
	free(lst);
	if (!doc)
		return NDX_ENOMEM;
	*text = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	if (!*text)
		return NDX_ENOMEM;
	*len = strlen(*text);
	return NDX_OK;
}

static int read_doc(const json_t *doc, struct ndx_statuslist *l, char *err, size_t errcap)
{
	const json_t *v;
	const char *key;
	size_t i;
	int rc;

	if (!json_is_object(doc))
		return ndx_fail(err, errcap, NDX_EINVAL, "not a JSON object");
	json_object_foreach((json_t *)doc, key, v) {
		for (i = 0; i < sizeof doc_members / sizeof doc_members[0]; i++) {
			if (strcmp(key, doc_members[i]) == 0)
				break;
		}
		if (i == sizeof doc_members / sizeof doc_members[0])
			return ndx_fail(err, errcap, NDX_EINVAL, "unknown member \"%.64s\"", key);
	}
	v = json_object_get(doc, "issuer");
	if (!json_is_string(v))
		return ndx_fail(err, errcap, NDX_EINVAL, "issuer: expected a string");
	if (!(l->issuer = strdup(json_string_value(v))))
		return ndx_fail(err, errcap, NDX_ENOMEM, "out of memory");
	v = json_object_get(doc, "list");
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > (json_int_t)NDX_STATUSLIST_MAX_LIST)
		return ndx_fail(err, errcap, NDX_EINVAL, "list: expected an integer 0..%u",
			    NDX_STATUSLIST_MAX_LIST);
	l->list = (uint32_t)json_integer_value(v);
	v = json_object_get(doc, "bits");
	if (!json_is_integer(v) || json_integer_value(v) != 1)
		return ndx_fail(err, errcap, NDX_EINVAL, "bits: only 1 is supported");
	v = json_object_get(doc, "size");
	if (!json_is_integer(v) || json_integer_value(v) != (json_int_t)NDX_STATUSLIST_CAPACITY)
		return ndx_fail(err, errcap, NDX_EINVAL, "size: expected %u", NDX_STATUSLIST_CAPACITY);
	v = json_object_get(doc, "lst");
	if (!json_is_string(v))
		return ndx_fail(err, errcap, NDX_EINVAL, "lst: expected a string");
	rc = ndx_statuslist_decode(json_string_value(v), json_string_length(v),
				   NDX_STATUSLIST_BYTES, &l->bits);
	if (rc == NDX_EINVAL)
		return ndx_fail(err, errcap, rc, "lst: not base64url of a ZLIB stream of %u bytes",
			    NDX_STATUSLIST_BYTES);
	if (rc != NDX_OK)
		return ndx_fail(err, errcap, rc, "out of memory");
	return NDX_OK;
}

int ndx_statuslist_parse(const char *text, size_t len, struct ndx_statuslist **out, char *err,
			 size_t errcap)
{
	struct ndx_statuslist *l;
	json_error_t je;
	json_t *doc;
	int rc;

	assert(text != NULL || len == 0);
	assert(out != NULL);
	*out = NULL;
	if (len > NDX_STATUSLIST_MAX_DOC)
		return ndx_fail(err, errcap, NDX_ETOOBIG, "the list is %zu bytes, over the limit of %u",
			    len, NDX_STATUSLIST_MAX_DOC);
	doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (!doc)
		return ndx_fail(err, errcap, NDX_EINVAL, "invalid JSON: %s", je.text);
	if (!(l = calloc(1, sizeof *l))) {
		json_decref(doc);
		return ndx_fail(err, errcap, NDX_ENOMEM, "out of memory");
	}
	rc = read_doc(doc, l, err, errcap);
	json_decref(doc);
	if (rc != NDX_OK) {
		ndx_statuslist_free(l);
		return rc;
	}
	*out = l;
	return NDX_OK;
}

void ndx_statuslist_free(struct ndx_statuslist *l)
{
	if (!l)
		return;
	free(l->issuer);
	free(l->bits);
	free(l);
}
