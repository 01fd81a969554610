/* Vietnamese diacritics folding for name search: "Nguyễn Văn Đức" and
 * "nguyen van duc" fold to the same key. Overview: docs/sectors.md
 * "Search". */
#ifndef NDX_FOLD_H
#define NDX_FOLD_H

#include <stddef.h>

/* Folds UTF-8 text into out (cap bytes, always NUL-terminated when cap >
 * 0): every Vietnamese letter with a tone or vowel mark becomes its bare
 * ASCII letter, đ/Đ become d, ASCII letters are lower-cased, combining
 * marks (U+0300-U+036F, text in NFD) are dropped, runs of whitespace
 * become one space and the ends are trimmed. Other characters are copied
 * unchanged; a malformed UTF-8 byte is copied as it is. The result is never
 * longer than the input. Returns the length written, or -1 when it did not
 * fit (out then holds a truncated prefix). Thread-safe. */
int ndx_fold(const char *in, char *out, size_t cap);

#endif
