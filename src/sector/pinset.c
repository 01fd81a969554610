/* The set of PINs an answer declares (pinset.h). A sorted array searched
 * by bisection: a set holds at most PINSET_MAX numbers of 12 bytes, so
 * inserting by moving the tail costs at most 12 KB of memmove, and the
 * header text falls out in order. */
#include "pinset.h"

#include <stdlib.h>
#include <string.h>

#include "ndx/err.h"
#include "ndx/pin.h"

struct pinset {
	char (*pins)[NDX_PIN_LEN]; /* not NUL-terminated */
	size_t n, cap;
	bool over;
};

struct pinset *pinset_new(void)
{
	return calloc(1, sizeof(struct pinset));
}

void pinset_free(struct pinset *s)
{
	if (!s)
		return;
	free(s->pins);
	free(s);
}

static bool twelve_digits(const char *pin)
{
	for (size_t i = 0; i < NDX_PIN_LEN; i++)
		if (pin[i] < '0' || pin[i] > '9')
			return false;
	return pin[NDX_PIN_LEN] == '\0';
}

/* The index of pin in s, or of where it would go; *found says which. */
static size_t find(const struct pinset *s, const char *pin, bool *found)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = memcmp(s->pins[mid], pin, NDX_PIN_LEN);
		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

int pinset_add(struct pinset *s, const char *pin)
{
	bool found;
	size_t at;

	if (!pin || !twelve_digits(pin))
		return NDX_EINVAL;
	at = find(s, pin, &found);
	if (found)
		return NDX_OK;
	if (s->n == PINSET_MAX) {
		s->over = true;
		return NDX_ETOOBIG;
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 8;
		if (cap > PINSET_MAX)
			cap = PINSET_MAX;
		void *p = realloc(s->pins, cap * sizeof *s->pins);
		if (!p)
			return NDX_ENOMEM;
		s->pins = p;
		s->cap = cap;
	}
	memmove(s->pins[at + 1], s->pins[at], (s->n - at) * sizeof *s->pins);
	memcpy(s->pins[at], pin, NDX_PIN_LEN);
	s->n++;
	return NDX_OK;
}

int pinset_add_all(struct pinset *s, const struct pinset *from)
{
	char pin[NDX_PIN_LEN + 1];
	int rc;

	if (from->over)
		s->over = true;
	for (size_t i = 0; i < from->n; i++) {
		memcpy(pin, from->pins[i], NDX_PIN_LEN);
		pin[NDX_PIN_LEN] = '\0';
		if ((rc = pinset_add(s, pin)))
			return rc;
	}
	return from->over ? NDX_ETOOBIG : NDX_OK;
}

bool pinset_has(const struct pinset *s, const char *pin)
{
	bool found;

	if (!pin || !twelve_digits(pin))
		return false;
	find(s, pin, &found);
	return found;
}

size_t pinset_count(const struct pinset *s)
{
	return s->n;
}

bool pinset_over(const struct pinset *s)
{
	return s->over;
}

char *pinset_text(const struct pinset *s)
{
	char *out, *p;

	if (s->n == 0)
		return strdup("none");
	if (!(out = malloc(s->n * (NDX_PIN_LEN + 1))))
		return NULL;
	p = out;
	for (size_t i = 0; i < s->n; i++) {
		if (i)
			*p++ = ',';
		memcpy(p, s->pins[i], NDX_PIN_LEN);
		p += NDX_PIN_LEN;
	}
	*p = '\0';
	return out;
}
