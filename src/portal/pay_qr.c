/* How a payment code is offered (pay_qr.h): the QR image, which
 * libqrencode makes and which is written here as SVG, one square per dark
 * module in a single path so the browser draws it crisply at any size;
 * and the banks' confirmation pages. Overview: docs/portal.md "Fees and
 * payment". */
#include "pay_qr.h"

#include <jansson.h>
#include <qrencode.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ndx/buf.h"
#include "ndx/err.h"
#include "ndx/fetch.h"
#include "config.h"

#define QUIET 4
#define SVG_MAX (1u << 20)

static int put_fmt(struct ndx_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int put_fmt(struct ndx_buf *b, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof tmp)
		return NDX_ETOOBIG;
	return ndx_buf_append(b, tmp, (size_t)n);
}

static int put_escaped(struct ndx_buf *b, const char *s)
{
	int rc = NDX_OK;
	for (; *s && rc == NDX_OK; s++) {
		switch (*s) {
		case '<': rc = ndx_buf_append_str(b, "&lt;"); break;
		case '>': rc = ndx_buf_append_str(b, "&gt;"); break;
		case '&': rc = ndx_buf_append_str(b, "&amp;"); break;
		case '"': rc = ndx_buf_append_str(b, "&quot;"); break;
		default: rc = ndx_buf_append(b, s, 1);
		}
	}
	return rc;
}

static int put_modules(struct ndx_buf *b, const QRcode *qr)
{
	int rc = NDX_OK;
	for (int y = 0; y < qr->width && rc == NDX_OK; y++)
		for (int x = 0; x < qr->width && rc == NDX_OK; x++)
			if (qr->data[y * qr->width + x] & 1)
				rc = put_fmt(b, "M%d %dh1v1h-1z", x + QUIET, y + QUIET);
	return rc;
}

char *pay_qr_svg(const char *payload, const char *label)
{
	QRcode *qr = QRcode_encodeString(payload, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
	if (!qr)
		return NULL;
	struct ndx_buf b;
	ndx_buf_init(&b, SVG_MAX);
	int size = qr->width + 2 * QUIET;
	int rc = put_fmt(&b, "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" "
			 "role=\"img\" aria-label=\"", size, size);
	if (rc == NDX_OK)
		rc = put_escaped(&b, label);
	if (rc == NDX_OK)
		rc = put_fmt(&b, "\" shape-rendering=\"crispEdges\"><rect width=\"%d\" "
				    "height=\"%d\" fill=\"#fff\"/><path fill=\"#000\" d=\"", size, size);
	if (rc == NDX_OK)
		rc = put_modules(&b, qr);
	if (rc == NDX_OK)
		rc = ndx_buf_append_str(&b, "\"/></svg>");
	QRcode_free(qr);
	if (rc != NDX_OK) {
		ndx_buf_free(&b);
		return NULL;
	}
	return ndx_buf_steal(&b, NULL);
}

json_t *pay_bank_choices(const struct pconfig *cfg, const char *return_url, const char *payload)
{
	json_t *arr = json_array();
	char *qr = ndx_fetch_escape(payload), *ret = ndx_fetch_escape(return_url);

	for (unsigned i = 0; arr && qr && ret && i < cfg->pay_nbanks; i++) {
		size_t n = strlen(cfg->pay_banks[i].url) + strlen(qr) + strlen(ret) + 16;
		char *url = malloc(n);
		if (!url)
			break;
		snprintf(url, n, "%s?qr=%s&return=%s", cfg->pay_banks[i].url, qr, ret);
		json_array_append_new(arr, json_pack("{s:s,s:s}", "name", cfg->pay_banks[i].name,
						     "url", url));
		free(url);
	}
	free(qr);
	free(ret);
	return arr;
}
