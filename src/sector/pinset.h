/* A set of personal identification numbers: the people whose data one
 * answer of a sector registry holds, as it declares them in the
 * Ndx-Data-Subjects response header (docs/sectors.md "Data subjects").
 * Kept ascending and distinct, capped at PINSET_MAX; pure, no I/O. */
#ifndef NDX_SECTOR_PINSET_H
#define NDX_SECTOR_PINSET_H

#include <stdbool.h>
#include <stddef.h>

/* The most PINs one answer declares (docs/protocol.md): an answer that
 * would concern more people is refused instead of declared in part. */
#define PINSET_MAX 1000

struct pinset;

/* An empty set, or NULL when out of memory. */
struct pinset *pinset_new(void);
/* Accepts NULL. */
void pinset_free(struct pinset *s);

/* Adds pin, which must be exactly 12 ASCII digits (an individual's
 * number; a 10-digit enterprise code is nobody's personal data and is
 * the caller's to skip). Adding a PIN already there changes nothing.
 * NDX_OK; NDX_EINVAL when pin is not 12 digits; NDX_ETOOBIG when the set
 * already holds PINSET_MAX others (the set is unchanged and from then on
 * pinset_over is true); NDX_ENOMEM. */
int pinset_add(struct pinset *s, const char *pin);
/* Adds every PIN of from to s; the return values of pinset_add. */
int pinset_add_all(struct pinset *s, const struct pinset *from);
/* True when pin is in s. */
bool pinset_has(const struct pinset *s, const char *pin);
size_t pinset_count(const struct pinset *s);
/* True once an add was refused for the cap. */
bool pinset_over(const struct pinset *s);

/* The header value: the PINs ascending, joined by ',' without spaces, or
 * "none" for an empty set. A new string the caller frees, NULL when out
 * of memory. */
char *pinset_text(const struct pinset *s);

#endif
