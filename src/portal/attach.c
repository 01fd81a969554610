/* Attachments (attach.h). The type is the content's: a PDF starts with
 * "%PDF-", a JPEG with FF D8 FF, a PNG with its 8-byte signature; a name
 * whose extension says otherwise is refused, so that what the officer
 * downloads is what its name promises. The bytes are never interpreted
 * here beyond that; a download is always an attachment (never shown
 * inline in the portal's origin, T82). */
#include "attach.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ndx/encode.h"
#include "ndx/err.h"
#include "ndx/fetch.h"
#include "ndx/text.h"
#include "procedures.h"

#define NAME_MAX_BYTES 200

static const struct {
	const char *type, *ext[3];
} TYPES[] = {
	{ "application/pdf", { ".pdf", NULL, NULL } },
	{ "image/jpeg", { ".jpg", ".jpeg", NULL } },
	{ "image/png", { ".png", NULL, NULL } },
};

const char *attach_sniff(const unsigned char *b, size_t n)
{
	if (n >= 5 && memcmp(b, "%PDF-", 5) == 0)
		return "application/pdf";
	if (n >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff)
		return "image/jpeg";
	if (n >= 8 && memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0)
		return "image/png";
	return NULL;
}

/* The type name's extension says, or NULL. */
static const char *type_of_name(const char *name)
{
	const char *dot = strrchr(name, '.');

	for (size_t i = 0; dot && i < sizeof TYPES / sizeof *TYPES; i++)
		for (size_t k = 0; TYPES[i].ext[k]; k++)
			if (strcasecmp(dot, TYPES[i].ext[k]) == 0)
				return TYPES[i].type;
	return NULL;
}

static int new_attach_id(char out[33])
{
	uint8_t b[16];

	if (RAND_bytes(b, sizeof b) != 1)
		return -1;
	ndx_hex_encode(b, sizeof b, out);
	return 0;
}

int attach_upload(const struct portal *p, const struct psession *s, const char *id,
		  const json_t *body, json_t **out, struct perr *e)
{
	static const char *const open[] = { "unpaid", "submitted", "information_requested", NULL };
	const char *name = json_string_value(json_object_get(body, "name"));
	const char *b64 = json_string_value(json_object_get(body, "content_base64"));
	const char *sniffed, *named;
	uint8_t *data = NULL, md[32];
	char aid[33], hex[PSTORE_HASH_HEX], uploader[64];
	size_t n = 0;
	int rc;

	*out = NULL;
	if (!name || !*name || strlen(name) > NAME_MAX_BYTES ||
	    ndx_text_check(name, strlen(name), NULL, NULL) != NDX_OK || strpbrk(name, "/\\\"")) {
		perr_set(e, 422, "validation", "name: 1 to %d bytes of text, no / \\ or \"",
			 NAME_MAX_BYTES);
		e->fields = json_pack("{s:s}", "name", name ? "invalid" : "required");
		return -1;
	}
	if (!b64 || !*b64) {
		perr_set(e, 422, "validation", "content_base64 is required");
		e->fields = json_pack("{s:s}", "content_base64", "required");
		return -1;
	}
	/* Checked before decoding: base64 is 4 characters for 3 bytes. */
	if (strlen(b64) > (PSTORE_ATTACH_MAX + 2) / 3 * 4)
		return perr_set(e, 413, "too_large", "a file may have at most %d bytes",
				PSTORE_ATTACH_MAX);
	if (ndx_b64_decode(b64, strlen(b64), 0, &data, &n) != NDX_OK) {
		perr_set(e, 422, "validation", "content_base64 is not base64");
		e->fields = json_pack("{s:s}", "content_base64", "invalid");
		return -1;
	}
	if (n > PSTORE_ATTACH_MAX) {
		free(data);
		return perr_set(e, 413, "too_large", "a file may have at most %d bytes",
				PSTORE_ATTACH_MAX);
	}
	sniffed = attach_sniff(data, n);
	named = type_of_name(name);
	if (!sniffed || !named || strcmp(sniffed, named) != 0) {
		free(data);
		if (!sniffed)
			return perr_set(e, 415, "unsupported_type",
					"the content is not a PDF, JPEG or PNG file");
		return perr_set(e, 415, "unsupported_type",
				"the content is %s but the name does not end so", sniffed);
	}
	if (!EVP_Digest(data, n, md, NULL, EVP_sha256(), NULL) || new_attach_id(aid)) {
		free(data);
		return perr_set(e, 500, "internal", "the file could not be hashed");
	}
	ndx_hex_encode(md, sizeof md, hex);
	snprintf(uploader, sizeof uploader, "citizen:%s", s->subject);
	const struct pattach a = { .id = aid, .procedure_id = id, .subject = s->subject,
				   .name = name, .media_type = sniffed, .sha256 = hex,
				   .uploaded_by = uploader, .data = data, .size = n };
	rc = pstore_attachment_put(p->st, &a, open, time(NULL));
	free(data);
	if (rc == NDX_ENOTFOUND)
		return perr_set(e, 404, "not_found", "no such procedure");
	if (rc == NDX_EPERM) {
		perr_set(e, 409, "conflict", "the application is decided: no more files");
		return -1;
	}
	if (rc == NDX_ETOOBIG)
		return perr_set(e, 409, "conflict", "an application may have at most %d files",
				PSTORE_ATTACH_PER_PROC);
	if (rc != NDX_OK)
		return perr_set(e, 500, "internal", "the file could not be stored");
	fprintf(stderr, PORTAL_PROG ": procedure %s: file %s (%s, %zu bytes, sha256 %s) attached\n",
		id, aid, sniffed, n, hex);
	if (!(*out = json_pack("{s:s,s:s,s:s,s:I,s:s}", "id", aid, "name", name, "media_type",
			       sniffed, "size", (json_int_t)n, "sha256", hex)))
		return perr_set(e, 500, "internal", "out of memory");
	return 0;
}

int attach_download(const struct portal *p, const struct psession *s, const char *id,
		    const char *aid, struct ndx_http_resp *resp, struct perr *e)
{
	json_t *proc = NULL;
	struct pattach a;
	char disp[800], *esc;
	int rc = pstore_proc_get(p->st, id, &proc);

	if (rc == NDX_OK && !proc_visible(s, proc))
		rc = NDX_ENOTFOUND;
	json_decref(proc);
	if (rc == NDX_OK)
		rc = pstore_attachment_get(p->st, id, aid, &a);
	if (rc == NDX_ENOTFOUND)
		return perr_set(e, 404, "not_found", "no such file");
	if (rc != NDX_OK)
		return perr_set(e, 500, "internal", "the file could not be read");
	/* The name as RFC 6266's filename* (UTF-8, percent-encoded), with a
	 * plain fallback that holds no character of the citizen's. */
	esc = ndx_fetch_escape(a.name);
	snprintf(disp, sizeof disp, "attachment; filename=\"attachment%s\"; filename*=UTF-8''%s",
		 strcmp(a.media_type, "application/pdf") == 0 ? ".pdf"
		 : strcmp(a.media_type, "image/png") == 0    ? ".png"
							      : ".jpg",
		 esc ? esc : "attachment");
	free(esc);
	ndx_http_resp_header(resp, "Content-Disposition", disp);
	ndx_http_resp_header(resp, "X-Content-SHA256", a.sha256);
	ndx_http_resp_bytes(resp, 200, a.media_type, a.data, a.size);
	if (strcmp(s->kind, "officer") == 0)
		fprintf(stderr, PORTAL_PROG ": procedure %s: file %s downloaded by officer %s\n", id,
			aid, s->username);
	pattach_clear(&a);
	return 0;
}
