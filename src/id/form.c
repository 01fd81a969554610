/* Form-encoded parameters, cookies and query-component encoding for
 * ndx-id (form.h). Decoding leans on libndx's percent decoder, after
 * turning '+' into a space as HTML forms mean it (a literal plus arrives
 * as %2B, so the order is safe). Overview: docs/id.md. */
#include "form.h"

#include <stdlib.h>
#include <string.h>

#include "ndx/encode.h"
#include "ndx/err.h"

struct idform {
	size_t n;
	char *name[IDFORM_MAX_FIELDS];
	char *value[IDFORM_MAX_FIELDS];
};

char *idform_decode(const char *text, size_t len)
{
	char *raw = malloc(len + 1), *out = malloc(len + 1);

	if (!raw || !out) {
		free(raw);
		free(out);
		return NULL;
	}
	for (size_t i = 0; i < len; i++)
		raw[i] = text[i] == '+' ? ' ' : text[i];
	if (ndx_pct_decode(raw, len, out, len + 1) < 0) {
		free(out);
		out = NULL;
	}
	free(raw);
	return out;
}

void idform_free(struct idform *form)
{
	if (!form)
		return;
	for (size_t i = 0; i < form->n; i++) {
		free(form->name[i]);
		free(form->value[i]);
	}
	free(form);
}

const char *idform_get(const struct idform *form, const char *name)
{
	for (size_t i = 0; form && i < form->n; i++) {
		if (strcmp(form->name[i], name) == 0)
			return form->value[i];
	}
	return NULL;
}

int idform_parse(const char *text, size_t len, struct idform **out, const char **why)
{
	struct idform *f = calloc(1, sizeof *f);
	const char *p = text, *end = text + len;
	const char *msg = NULL;
	int rc = NDX_EINVAL;

	*out = NULL;
	if (!f)
		return NDX_ENOMEM;
	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *stop = amp ? amp : end;
		const char *eq = memchr(p, '=', (size_t)(stop - p));
		const char *vstart = eq ? eq + 1 : stop;
		char *name, *value;

		if (stop == p) { /* "a=1&&b=2": an empty piece says nothing */
			p = stop + 1;
			continue;
		}
		if (f->n == IDFORM_MAX_FIELDS) {
			msg = "too many parameters";
			rc = NDX_ETOOBIG;
			goto fail;
		}
		name = idform_decode(p, (size_t)((eq ? eq : stop) - p));
		value = idform_decode(vstart, (size_t)(stop - vstart));
		if (!name || !value) {
			free(name);
			free(value);
			msg = "a parameter is not correctly percent-encoded";
			goto fail;
		}
		if (idform_get(f, name)) {
			free(name);
			free(value);
			msg = "a parameter is given more than once";
			goto fail;
		}
		f->name[f->n] = name;
		f->value[f->n] = value;
		f->n++;
		p = stop + 1;
	}
	*out = f;
	return NDX_OK;
fail:
	if (why)
		*why = msg;
	idform_free(f);
	return rc;
}

static int unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

static int put_encoded(char *buf, size_t cap, size_t *at, const char *s)
{
	static const char HEX[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (unreserved(c)) {
			if (*at + 1 >= cap)
				return NDX_ETOOBIG;
			buf[(*at)++] = (char)c;
		} else {
			if (*at + 3 >= cap)
				return NDX_ETOOBIG;
			buf[(*at)++] = '%';
			buf[(*at)++] = HEX[c >> 4];
			buf[(*at)++] = HEX[c & 15];
		}
	}
	return NDX_OK;
}

int idform_append_param(char *buf, size_t cap, const char *name, const char *value)
{
	size_t start = strlen(buf), at = start;

	if (at + 1 >= cap)
		return NDX_ETOOBIG;
	buf[at++] = strchr(buf, '?') ? '&' : '?';
	if (put_encoded(buf, cap, &at, name) || at + 1 >= cap)
		goto toobig;
	buf[at++] = '=';
	if (put_encoded(buf, cap, &at, value))
		goto toobig;
	buf[at] = '\0';
	return NDX_OK;
toobig:
	buf[start] = '\0';
	return NDX_ETOOBIG;
}

int idform_cookie(const char *header, const char *name, char *out, size_t cap)
{
	size_t nlen = strlen(name);
	const char *p = header;

	while (p && *p) {
		const char *semi = strchr(p, ';');
		const char *stop = semi ? semi : p + strlen(p);

		while (p < stop && (*p == ' ' || *p == '\t'))
			p++;
		if ((size_t)(stop - p) > nlen && strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
			const char *v = p + nlen + 1;
			size_t vlen = (size_t)(stop - v);

			while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
				vlen--;
			if (vlen + 1 > cap)
				return NDX_ETOOBIG;
			memcpy(out, v, vlen);
			out[vlen] = '\0';
			return NDX_OK;
		}
		p = semi ? semi + 1 : NULL;
	}
	return NDX_ENOTFOUND;
}
