/* Files a citizen attaches to an application or to an answer
 * (docs/portal.md "Attachments"): PDF, JPEG or PNG, known by their first
 * bytes (the name's extension must agree), at most PSTORE_ATTACH_MAX
 * bytes, stored in portal.db with their SHA-256. Only the citizen whose
 * application it is and the officers of its agency may download one. */
#ifndef NDX_PORTAL_ATTACH_H
#define NDX_PORTAL_ATTACH_H

#include <jansson.h>

#include "ndx/httpd.h"
#include "portal.h"

/* POST /api/procedures/{id}/attachments {"name", "content_base64"}: the
 * stored file's description (201): {"id","name","media_type","size",
 * "sha256"}. 404 when the procedure is not the session's citizen's, 409
 * when it is no longer open to files, 413 too_large, 415
 * unsupported_type (content neither PDF, JPEG nor PNG, or a name that
 * says another type), 422 for a missing or bad name or content. */
int attach_upload(const struct portal *p, const struct psession *s, const char *id,
		  const json_t *body, json_t **out, struct perr *e);
/* GET /api/procedures/{id}/attachments/{aid}: the file as it was sent,
 * answered into resp (Content-Disposition: attachment); 404 when the
 * session may not see the procedure or it has no such file. -1 with e
 * set when nothing was answered. */
int attach_download(const struct portal *p, const struct psession *s, const char *id,
		    const char *aid, struct ndx_http_resp *resp, struct perr *e);
/* What a file's first bytes say it is: "application/pdf", "image/jpeg",
 * "image/png", or NULL. */
const char *attach_sniff(const unsigned char *b, size_t n);

#endif
