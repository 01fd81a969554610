/* Ndx-Data-Subjects read into canonical text (subjects.h). The canonical
 * text is what the provider gateway signs in the response hash, logs, and
 * hands on, so two declarations of the same people in another order or
 * with repeats sign and log the same. */
#include "subjects.h"

#include <stdlib.h>
#include <string.h>

#include "ndx/err.h"
#include "ndx/pin.h"

#define PIN_LEN 12

static int fail(char *out, const char **why, const char *sentence, int rc)
{
	if (out)
		out[0] = '\0';
	*why = sentence;
	return rc;
}

static int cmp_pin(const void *a, const void *b)
{
	return memcmp(a, b, PIN_LEN);
}

static bool blank(char c)
{
	return c == ' ' || c == '\t';
}

int gw_subjects_canonical(const char *value, char *out, size_t cap, size_t *count,
			  const char **why)
{
	char (*pins)[PIN_LEN + 1] = NULL;
	size_t n = 0, len = 0;
	const char *p;
	int rc = NDX_OK;

	*count = 0;
	*why = NULL;
	if (!out || cap == 0)
		return fail(NULL, why, "no room for the subjects", NDX_ETOOBIG);
	if (!value)
		return fail(out, why, "Ndx-Data-Subjects is missing", NDX_EINVAL);
	for (p = value; blank(*p); p++)
		;
	if (strncmp(p, "none", 4) == 0) {
		const char *q = p + 4;
		while (blank(*q))
			q++;
		if (*q == '\0') {
			out[0] = '\0';
			return NDX_OK;
		}
	}
	if (!(pins = malloc((GW_SUBJECTS_MAX + 1) * sizeof *pins)))
		return fail(out, why, "out of memory", NDX_ENOMEM);
	for (;;) {
		const char *start, *end, *pin_why = NULL;
		size_t l;

		while (blank(*p))
			p++;
		start = p;
		while (*p && *p != ',' && !blank(*p))
			p++;
		end = p;
		while (blank(*p))
			p++;
		if (*p && *p != ',') {
			rc = fail(out, why, "a subject holds a space", NDX_EINVAL);
			goto out;
		}
		l = (size_t)(end - start);
		if (l == 0) {
			rc = fail(out, why, "an empty subject in the list", NDX_EINVAL);
			goto out;
		}
		if (n == GW_SUBJECTS_MAX) {
			rc = fail(out, why, "more subjects than one answer may declare",
				  NDX_ETOOBIG);
			goto out;
		}
		if (l != PIN_LEN) {
			rc = fail(out, why, "a subject is not a 12-digit personal identification number",
				  NDX_EINVAL);
			goto out;
		}
		memcpy(pins[n], start, PIN_LEN);
		pins[n][PIN_LEN] = '\0';
		if (ndx_pin_parse(pins[n], 0, NULL, &pin_why) != NDX_OK) {
			rc = fail(out, why, "a subject is not a valid personal identification number",
				  NDX_EINVAL);
			goto out;
		}
		n++;
		if (*p == '\0')
			break;
		p++; /* the comma */
	}
	qsort(pins, n, sizeof *pins, cmp_pin);
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && memcmp(pins[i], pins[i - 1], PIN_LEN) == 0)
			continue;
		if (len + (len ? 1 : 0) + PIN_LEN + 1 > cap) {
			rc = fail(out, why, "no room for the subjects", NDX_ETOOBIG);
			goto out;
		}
		if (len)
			out[len++] = ',';
		memcpy(out + len, pins[i], PIN_LEN);
		len += PIN_LEN;
		(*count)++;
	}
	out[len] = '\0';
out:
	if (rc != NDX_OK)
		*count = 0;
	free(pins);
	return rc;
}

bool gw_subjects_has(const char *list, const char *pin)
{
	size_t pl;

	if (!list || !pin || !pin[0])
		return false;
	pl = strlen(pin);
	for (const char *p = list; *p;) {
		const char *comma = strchr(p, ',');
		size_t l = comma ? (size_t)(comma - p) : strlen(p);

		if (l == pl && memcmp(p, pin, pl) == 0)
			return true;
		if (!comma)
			break;
		p = comma + 1;
	}
	return false;
}

bool gw_subjects_only(const char *list, const char *pin)
{
	if (!list || !list[0])
		return true;
	return pin && pin[0] && strcmp(list, pin) == 0;
}

void gw_redact_pins(char *s)
{
	size_t run = 0, i;

	if (!s)
		return;
	for (i = 0;; i++) {
		if (s[i] >= '0' && s[i] <= '9') {
			run++;
			continue;
		}
		if (run == PIN_LEN)
			memset(s + i - run, '*', run);
		run = 0;
		if (!s[i])
			break;
	}
}
