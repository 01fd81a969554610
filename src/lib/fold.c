/* Vietnamese diacritics folding (fold.h). A direct lookup table from code
 * point to bare letter, built once from the letters written out below, so
 * the table can be read against the alphabet rather than as numbers; the
 * seeder folds tens of millions of names through it. */
#include "ndx/fold.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>

/* The highest code point of a Vietnamese letter is U+1EF9 (ỹ). */
#define FOLD_MAX 0x1F00

static const struct {
	char base;
	const char *letters;
} FOLDS[] = {
	{ 'a', "àáảãạăằắẳẵặâầấẩẫậÀÁẢÃẠĂẰẮẲẴẶÂẦẤẨẪẬ" },
	{ 'e', "èéẻẽẹêềếểễệÈÉẺẼẸÊỀẾỂỄỆ" },
	{ 'i', "ìíỉĩịÌÍỈĨỊ" },
	{ 'o', "òóỏõọôồốổỗộơờớởỡợÒÓỎÕỌÔỒỐỔỖỘƠỜỚỞỠỢ" },
	{ 'u', "ùúủũụưừứửữựÙÚỦŨỤƯỪỨỬỮỰ" },
	{ 'y', "ỳýỷỹỵỲÝỶỸỴ" },
	{ 'd', "đĐ" },
};

static char table[FOLD_MAX];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

/* Decodes one UTF-8 sequence at s (n bytes available). Returns its length
 * and sets *cp, or 0 when it is malformed (overlong, surrogate, truncated). */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
	uint32_t c;
	size_t len;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if ((s[0] & 0xE0) == 0xC0) {
		len = 2;
		c = s[0] & 0x1F;
	} else if ((s[0] & 0xF0) == 0xE0) {
		len = 3;
		c = s[0] & 0x0F;
	} else if ((s[0] & 0xF8) == 0xF0) {
		len = 4;
		c = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3F);
	}
	if ((len == 2 && c < 0x80) || (len == 3 && c < 0x800) || (len == 4 && c < 0x10000) ||
	    c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		return 0;
	*cp = c;
	return len;
}

static void table_build(void)
{
	for (size_t i = 0; i < sizeof FOLDS / sizeof *FOLDS; i++) {
		const unsigned char *s = (const unsigned char *)FOLDS[i].letters;
		size_t n = strlen(FOLDS[i].letters);
		while (n > 0) {
			uint32_t cp = 0;
			size_t len = utf8_decode(s, n, &cp);
			if (len == 0)
				break; /* cannot happen: the literals above are valid UTF-8 */
			if (cp < FOLD_MAX)
				table[cp] = FOLDS[i].base;
			s += len;
			n -= len;
		}
	}
}

static int is_space(uint32_t cp)
{
	return cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || cp == '\v' || cp == '\f' ||
	       cp == 0xA0;
}

int ndx_fold(const char *in, char *out, size_t cap)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t n = strlen(in), o = 0;
	int pending_space = 0;

	pthread_once(&table_once, table_build);
	if (cap == 0)
		return -1;
	while (n > 0) {
		uint32_t cp = 0;
		size_t len = utf8_decode(s, n, &cp);
		const unsigned char *src = s;
		size_t srclen = len;
		char one;

		if (len == 0) {
			/* A stray byte is kept: folding must not lose text. */
			len = srclen = 1;
			cp = 0xFFFD;
		}
		s += len;
		n -= len;
		if (is_space(cp)) {
			pending_space = o > 0;
			continue;
		}
		if (cp >= 0x300 && cp <= 0x36F)
			continue;
		if (cp < 0x80) {
			one = (char)((cp >= 'A' && cp <= 'Z') ? cp + ('a' - 'A') : cp);
			src = (const unsigned char *)&one;
			srclen = 1;
		} else if (cp < FOLD_MAX && table[cp]) {
			one = table[cp];
			src = (const unsigned char *)&one;
			srclen = 1;
		}
		if (o + pending_space + srclen >= cap) {
			out[o] = '\0';
			return -1;
		}
		if (pending_space)
			out[o++] = ' ';
		pending_space = 0;
		memcpy(out + o, src, srclen);
		o += srclen;
	}
	out[o] = '\0';
	return (int)o;
}
