/* The data subjects a provider system declares for its answer
 * (docs/protocol.md "Data subjects"): the Ndx-Data-Subjects header read
 * into one canonical text (ascending, distinct personal identification
 * numbers joined by ","; "" for an answer about nobody), and the tests the
 * provider gateway's policy makes on it. Pure: no configuration, no I/O, so
 * that tests/unit/test_subjects.c links it alone. */
#ifndef NDX_GATEWAY_SUBJECTS_H
#define NDX_GATEWAY_SUBJECTS_H

#include <stdbool.h>
#include <stddef.h>

/* Most subjects one answer may declare. */
#define GW_SUBJECTS_MAX 1000
/* Room for the canonical text of GW_SUBJECTS_MAX subjects and its NUL. */
#define GW_SUBJECTS_TEXT_MAX (GW_SUBJECTS_MAX * 13)
/* Longest declaration header accepted from a provider system: the
 * canonical text with room for spaces after the commas. */
#define GW_SUBJECTS_HEADER_MAX (GW_SUBJECTS_MAX * 16)

/* Reads value (an Ndx-Data-Subjects header: "none", or personal
 * identification numbers separated by commas, optional spaces or tabs
 * around each) into out (cap bytes, at least GW_SUBJECTS_TEXT_MAX for any
 * value that can pass) as canonical text and *count subjects. Returns
 * NDX_OK; NDX_EINVAL (value NULL or empty, an element that is not a valid
 * number, an empty element) or NDX_ETOOBIG (more than GW_SUBJECTS_MAX, or
 * out too small), with *why a static sentence that names no number. out is
 * "" on failure. */
int gw_subjects_canonical(const char *value, char *out, size_t cap, size_t *count,
			  const char **why);

/* True when the canonical list holds pin (an exact element, never part of
 * one). NULL or "" list holds nobody. */
bool gw_subjects_has(const char *list, const char *pin);

/* True when the canonical list holds nobody but pin: "" or exactly pin.
 * pin NULL or "": only "" passes. */
bool gw_subjects_only(const char *list, const char *pin);

/* Masks every personal identification number in s (a run of exactly 12
 * ASCII digits) with '*', in place, so that a refusal's detail or a log
 * line can name a path without naming the person. */
void gw_redact_pins(char *s);

#endif
