/* Unit tests for include/ndx/id.h: valid member, subsystem and service ids
 * in canonical and percent-encoded form, round trips through both
 * formatters, every class of malformed input with the sentence it gets,
 * prefix splitting for /r1/{serviceId}/rest, parent and equality. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ndx/err.h"
#include "ndx/id.h"

static int parse(const char *text, enum ndx_id_kind kind, struct ndx_id *out,
		 const char **why)
{
	return ndx_id_parse(text, strlen(text), kind, out, why);
}

static void test_valid_forms(void **state)
{
	struct ndx_id id;
	const char *why = NULL;

	(void)state;
	assert_int_equal(parse("VN/GOV/BCA", NDX_ID_MEMBER, &id, &why), NDX_OK);
	assert_int_equal(id.kind, NDX_ID_MEMBER);
	assert_string_equal(id.instance, "VN");
	assert_string_equal(id.member_class, "GOV");
	assert_string_equal(id.member_code, "BCA");
	assert_string_equal(id.subsystem, "");
	assert_string_equal(id.service, "");

	assert_int_equal(parse("VN/GOV/BCA/population", NDX_ID_SUBSYSTEM, &id, &why), NDX_OK);
	assert_int_equal(id.kind, NDX_ID_SUBSYSTEM);
	assert_string_equal(id.subsystem, "population");
	assert_string_equal(id.service, "");

	assert_int_equal(parse("VN/GOV/BCA/population/citizens", NDX_ID_SERVICE, &id, &why),
			 NDX_OK);
	assert_int_equal(id.kind, NDX_ID_SERVICE);
	assert_string_equal(id.service, "citizens");

	/* Every allowed punctuation character, raw and encoded. */
	assert_int_equal(parse("VN/COM/0100109106/a'b(c)d+e,f-g.h=i?j/x", NDX_ID_SERVICE,
			       &id, &why), NDX_OK);
	assert_string_equal(id.subsystem, "a'b(c)d+e,f-g.h=i?j");
	assert_int_equal(parse("VN/COM/0100109106/a%27b%28c%29d%2Be%2Cf%2Dg%2Eh%3Di%3Fj/x",
			       NDX_ID_SERVICE, &id, &why), NDX_OK);
	assert_string_equal(id.subsystem, "a'b(c)d+e,f-g.h=i?j");

	/* Encoded letters and digits, either hex case. */
	assert_int_equal(parse("%56%4e/%47%4f%56/%62%63%61", NDX_ID_MEMBER, &id, &why), NDX_OK);
	assert_string_equal(id.instance, "VN");
	assert_string_equal(id.member_class, "GOV");
	assert_string_equal(id.member_code, "bca");
	assert_int_equal(parse("VN/GOV/what%3f", NDX_ID_MEMBER, &id, &why), NDX_OK);
	assert_string_equal(id.member_code, "what?");

	/* Single characters and the longest parts. */
	assert_int_equal(parse("a/b/c/d/e", NDX_ID_SERVICE, &id, &why), NDX_OK);
	{
		char text[5 * 65 + 8];
		char part[65];

		memset(part, 'Z', 64);
		part[64] = '\0';
		snprintf(text, sizeof text, "%s/%s/%s/%s/%s", part, part, part, part, part);
		assert_int_equal(parse(text, NDX_ID_SERVICE, &id, &why), NDX_OK);
		assert_string_equal(id.service, part);
	}
	/* 64 characters, all percent-encoded (192 bytes on the wire). */
	{
		char text[3 * 64 + 16];
		size_t n = (size_t)snprintf(text, sizeof text, "VN/GOV/");

		for (int i = 0; i < 64; i++)
			n += (size_t)snprintf(text + n, sizeof text - n, "%%3F");
		assert_int_equal(parse(text, NDX_ID_MEMBER, &id, &why), NDX_OK);
		assert_int_equal(strlen(id.member_code), 64);
	}
	/* Text that is not NUL-terminated at len. */
	assert_int_equal(ndx_id_parse("VN/GOV/BCA/population", 10, NDX_ID_MEMBER, &id, &why),
			 NDX_OK);
	assert_string_equal(id.member_code, "BCA");
	/* why may be NULL. */
	assert_int_equal(parse("VN/GOV/BCA", NDX_ID_MEMBER, &id, NULL), NDX_OK);
}

static void round_trip(const char *wire, enum ndx_id_kind kind, const char *canonical,
		       const char *want_wire)
{
	struct ndx_id a, b, c;
	char text[NDX_ID_TEXT_MAX], wtext[NDX_ID_TEXT_MAX];
	const char *why = NULL;
	int n;

	assert_int_equal(parse(wire, kind, &a, &why), NDX_OK);
	n = ndx_id_format(&a, text, sizeof text);
	assert_int_equal(n, (int)strlen(canonical));
	assert_string_equal(text, canonical);
	n = ndx_id_format_wire(&a, wtext, sizeof wtext);
	assert_int_equal(n, (int)strlen(want_wire));
	assert_string_equal(wtext, want_wire);

	assert_int_equal(parse(wtext, kind, &b, &why), NDX_OK);
	assert_true(ndx_id_equal(&a, &b));
	/* The canonical form parses back only when it needs no escapes. */
	if (strchr(canonical, '?') == NULL) {
		assert_int_equal(parse(text, kind, &c, &why), NDX_OK);
		assert_true(ndx_id_equal(&a, &c));
	}
}

static void test_round_trip(void **state)
{
	(void)state;
	round_trip("VN/GOV/BCA", NDX_ID_MEMBER, "VN/GOV/BCA", "VN/GOV/BCA");
	round_trip("VN/GOV/BCA/population", NDX_ID_SUBSYSTEM, "VN/GOV/BCA/population",
		   "VN/GOV/BCA/population");
	round_trip("VN/GOV/BCA/population/citizens", NDX_ID_SERVICE,
		   "VN/GOV/BCA/population/citizens", "VN/GOV/BCA/population/citizens");
	/* '?' travels as %3F; the rest of the punctuation stays literal. */
	round_trip("VN/COM/a%3Fb/s'(x)/+,-.=", NDX_ID_SERVICE, "VN/COM/a?b/s'(x)/+,-.=",
		   "VN/COM/a%3Fb/s'(x)/+,-.=");
	round_trip("%56N/GOV/%42CA", NDX_ID_MEMBER, "VN/GOV/BCA", "VN/GOV/BCA");
}

static void test_format_too_small(void **state)
{
	struct ndx_id id;
	char buf[64];

	(void)state;
	assert_int_equal(parse("VN/GOV/BCA/population/what?", NDX_ID_SERVICE, &id, NULL), NDX_OK);
	/* "VN/GOV/BCA/population/what?" is 27 bytes, 29 on the wire. */
	assert_int_equal(ndx_id_format(&id, buf, 28), 27);
	assert_int_equal(ndx_id_format(&id, buf, 27), NDX_ETOOBIG);
	assert_int_equal(ndx_id_format(&id, buf, 0), NDX_ETOOBIG);
	assert_int_equal(ndx_id_format_wire(&id, buf, 30), 29);
	assert_string_equal(buf, "VN/GOV/BCA/population/what%3F");
	assert_int_equal(ndx_id_format_wire(&id, buf, 29), NDX_ETOOBIG);
	assert_int_equal(ndx_id_format_wire(&id, buf, 1), NDX_ETOOBIG);
}

struct bad_case {
	const char *text;
	enum ndx_id_kind kind;
	const char *why;
};

static const struct bad_case bad_cases[] = {
	{ "", NDX_ID_MEMBER, "member id is empty" },
	{ "/VN/GOV/BCA", NDX_ID_MEMBER, "member id starts with '/'" },
	{ "VN/GOV/BCA/", NDX_ID_MEMBER, "member id ends with '/'" },
	{ "/", NDX_ID_SERVICE, "service id starts with '/'" },
	{ "VN//BCA", NDX_ID_MEMBER, "part 2 (member class) is empty" },
	{ "VN/GOV//population", NDX_ID_SUBSYSTEM, "part 3 (member code) is empty" },
	{ "VN/GOV/BCA//citizens", NDX_ID_SERVICE, "part 4 (subsystem code) is empty" },
	{ "VN/GOV/BCA/population", NDX_ID_SERVICE, "expected 5 parts (service id), found 4" },
	{ "VN/GOV", NDX_ID_MEMBER, "expected 3 parts (member id), found 2" },
	{ "VN", NDX_ID_SUBSYSTEM, "expected 4 parts (subsystem id), found 1" },
	{ "VN/GOV/BCA/population/citizens/x", NDX_ID_SERVICE,
	  "expected 5 parts (service id), found 6" },
	{ "VN/GOV/BCA/population", NDX_ID_MEMBER, "expected 3 parts (member id), found 4" },
	{ "VN/GOV/BCA/popu lation", NDX_ID_SUBSYSTEM,
	  "character ' ' is not allowed in part 4 (subsystem code)" },
	{ "VN/GOV/BCA/popu%20lation", NDX_ID_SUBSYSTEM,
	  "character ' ' is not allowed in part 4 (subsystem code)" },
	{ "VN/GOV/BCA/population/a%2Fb", NDX_ID_SERVICE,
	  "character '/' is not allowed in part 5 (service code)" },
	{ "VN/GOV/BCA/a%2fb", NDX_ID_SUBSYSTEM,
	  "character '/' is not allowed in part 4 (subsystem code)" },
	{ "VN/GOV/B\xc3\xa1", NDX_ID_MEMBER,
	  "character 0xC3 is not allowed in part 3 (member code)" },
	{ "VN/GOV/B%C3%A1", NDX_ID_MEMBER,
	  "character 0xC3 is not allowed in part 3 (member code)" },
	{ "VN/GOV/B%00", NDX_ID_MEMBER, "character 0x00 is not allowed in part 3 (member code)" },
	{ "VN/GOV/B%25", NDX_ID_MEMBER, "character '%' is not allowed in part 3 (member code)" },
	{ "VN/G_V/BCA", NDX_ID_MEMBER, "character '_' is not allowed in part 2 (member class)" },
	{ "VN/GOV/B~A", NDX_ID_MEMBER, "character '~' is not allowed in part 3 (member code)" },
	{ "VN/GOV/B*A", NDX_ID_MEMBER, "character '*' is not allowed in part 3 (member code)" },
	{ "VN/GOV/B\tA", NDX_ID_MEMBER, "character 0x09 is not allowed in part 3 (member code)" },
	{ "V%/GOV/BCA", NDX_ID_MEMBER, "bad percent-escape in part 1 (instance)" },
	{ "%/GOV/BCA", NDX_ID_MEMBER, "bad percent-escape in part 1 (instance)" },
	{ "VN/GOV/BCA%", NDX_ID_MEMBER, "bad percent-escape in part 3 (member code)" },
	{ "VN/%G1OV/BCA", NDX_ID_MEMBER, "bad percent-escape in part 2 (member class)" },
	{ "VN/GOV/BCA%4", NDX_ID_MEMBER, "bad percent-escape in part 3 (member code)" },
	{ "VN/GOV/BC%4/x", NDX_ID_SUBSYSTEM, "bad percent-escape in part 3 (member code)" },
	{ "VN/GOV/%41%4", NDX_ID_MEMBER, "bad percent-escape in part 3 (member code)" },
};

static void test_malformed(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
		struct ndx_id id;
		struct ndx_id zero;
		const char *why = NULL;

		memset(&id, 0x5a, sizeof id);
		memset(&zero, 0, sizeof zero);
		if (parse(bad_cases[i].text, bad_cases[i].kind, &id, &why) != NDX_EINVAL)
			fail_msg("accepted \"%s\"", bad_cases[i].text);
		assert_non_null(why);
		assert_string_equal(why, bad_cases[i].why);
		assert_memory_equal(&id, &zero, sizeof id);
		/* why may be NULL on failure too. */
		assert_int_equal(parse(bad_cases[i].text, bad_cases[i].kind, &id, NULL),
				 NDX_EINVAL);
	}
}

static void test_malformed_bytes(void **state)
{
	struct ndx_id id;
	const char *why = NULL;

	(void)state;
	/* A raw NUL inside the given length. */
	assert_int_equal(ndx_id_parse("VN/G\0V/BCA", 10, NDX_ID_MEMBER, &id, &why), NDX_EINVAL);
	assert_string_equal(why, "character 0x00 is not allowed in part 2 (member class)");
	/* NULL text. */
	assert_int_equal(ndx_id_parse(NULL, 0, NDX_ID_MEMBER, &id, &why), NDX_EINVAL);
	/* Not a kind. */
	assert_int_equal(ndx_id_parse("VN/GOV", 6, (enum ndx_id_kind)2, &id, &why), NDX_EINVAL);
}

static void test_too_long(void **state)
{
	char part[200], text[400];
	struct ndx_id id;
	const char *why = NULL;

	(void)state;
	memset(part, 'A', 65);
	part[65] = '\0';
	snprintf(text, sizeof text, "VN/%s/BCA", part);
	assert_int_equal(parse(text, NDX_ID_MEMBER, &id, &why), NDX_EINVAL);
	assert_string_equal(why, "part 2 (member class) is longer than 64 characters");

	/* 65 characters, all encoded: 195 bytes on the wire. */
	text[0] = '\0';
	for (int i = 0; i < 65; i++)
		strncat(text, "%41", sizeof text - strlen(text) - 1);
	strncat(text, "/GOV/BCA/sub", sizeof text - strlen(text) - 1);
	assert_int_equal(parse(text, NDX_ID_SUBSYSTEM, &id, &why), NDX_EINVAL);
	assert_string_equal(why, "part 1 (instance) is longer than 64 characters");

	/* 63 raw + 1 encoded = 64: fine; one more raw is too long. */
	memset(part, 'b', 63);
	snprintf(part + 63, sizeof part - 63, "%%3F");
	snprintf(text, sizeof text, "VN/GOV/BCA/%s", part);
	assert_int_equal(parse(text, NDX_ID_SUBSYSTEM, &id, &why), NDX_OK);
	snprintf(text, sizeof text, "VN/GOV/BCA/b%s", part);
	assert_int_equal(parse(text, NDX_ID_SUBSYSTEM, &id, &why), NDX_EINVAL);
	assert_string_equal(why, "part 4 (subsystem code) is longer than 64 characters");
}

static void test_prefix(void **state)
{
	static const char path[] = "VN/GOV/BCA/population/citizens/rest/of/path";
	struct ndx_id id, want;
	size_t used = 99;
	const char *why = NULL;

	(void)state;
	assert_int_equal(ndx_id_parse_prefix(path, strlen(path), NDX_ID_SERVICE, &id, &used,
					     &why), NDX_OK);
	assert_string_equal(path + used, "/rest/of/path");
	assert_int_equal(parse("VN/GOV/BCA/population/citizens", NDX_ID_SERVICE, &want, NULL),
			 NDX_OK);
	assert_true(ndx_id_equal(&id, &want));

	/* No rest. */
	assert_int_equal(ndx_id_parse_prefix(path, 30, NDX_ID_SERVICE, &id, &used, &why), NDX_OK);
	assert_int_equal(used, 30);
	assert_true(ndx_id_equal(&id, &want));

	/* A lone trailing slash is a rest of "/". */
	assert_int_equal(ndx_id_parse_prefix(path, 31, NDX_ID_SERVICE, &id, &used, &why), NDX_OK);
	assert_int_equal(used, 30);

	/* Encoded parts; the rest keeps its own encoding untouched. */
	{
		static const char enc[] = "VN/GOV/BCA/pop%3F/cit%2Bx/a%2Fb?c";

		assert_int_equal(ndx_id_parse_prefix(enc, strlen(enc), NDX_ID_SERVICE, &id, &used,
						     &why), NDX_OK);
		assert_string_equal(id.subsystem, "pop?");
		assert_string_equal(id.service, "cit+x");
		assert_string_equal(enc + used, "/a%2Fb?c");
	}
	/* Shorter kinds. */
	assert_int_equal(ndx_id_parse_prefix(path, strlen(path), NDX_ID_MEMBER, &id, &used,
					     &why), NDX_OK);
	assert_string_equal(path + used, "/population/citizens/rest/of/path");
	assert_int_equal(id.kind, NDX_ID_MEMBER);

	/* Errors. */
	used = 99;
	assert_int_equal(ndx_id_parse_prefix("VN/GOV/BCA/population", 21, NDX_ID_SERVICE, &id,
					     &used, &why), NDX_EINVAL);
	assert_string_equal(why, "expected 5 parts (service id), found 4");
	assert_int_equal(used, 0);
	assert_int_equal(ndx_id_parse_prefix("VN/GOV/BCA/population/", 22, NDX_ID_SERVICE, &id,
					     &used, &why), NDX_EINVAL);
	assert_string_equal(why, "part 5 (service code) is empty");
	assert_int_equal(ndx_id_parse_prefix("/VN/GOV/BCA/p/s", 15, NDX_ID_SERVICE, &id, &used,
					     &why), NDX_EINVAL);
	assert_string_equal(why, "service id starts with '/'");
	assert_int_equal(ndx_id_parse_prefix("VN/GOV/B%2FA/p/s/x", 18, NDX_ID_SERVICE, &id, &used,
					     &why), NDX_EINVAL);
	assert_string_equal(why, "character '/' is not allowed in part 3 (member code)");
	assert_int_equal(ndx_id_parse_prefix("VN//BCA/p/s/x", 13, NDX_ID_SERVICE, &id, &used,
					     &why), NDX_EINVAL);
	assert_string_equal(why, "part 2 (member class) is empty");
	assert_int_equal(ndx_id_parse_prefix("", 0, NDX_ID_SERVICE, &id, &used, &why), NDX_EINVAL);
	assert_string_equal(why, "service id is empty");
}

static void test_parent_equal(void **state)
{
	struct ndx_id svc, sub, mem, p, other;

	(void)state;
	assert_int_equal(parse("VN/GOV/BCA/population/citizens", NDX_ID_SERVICE, &svc, NULL), NDX_OK);
	assert_int_equal(parse("VN/GOV/BCA/population", NDX_ID_SUBSYSTEM, &sub, NULL), NDX_OK);
	assert_int_equal(parse("VN/GOV/BCA", NDX_ID_MEMBER, &mem, NULL), NDX_OK);

	assert_int_equal(ndx_id_parent(&svc, NDX_ID_SUBSYSTEM, &p), NDX_OK);
	assert_true(ndx_id_equal(&p, &sub));
	assert_string_equal(p.service, "");
	assert_int_equal(ndx_id_parent(&svc, NDX_ID_MEMBER, &p), NDX_OK);
	assert_true(ndx_id_equal(&p, &mem));
	assert_int_equal(ndx_id_parent(&svc, NDX_ID_SERVICE, &p), NDX_OK);
	assert_true(ndx_id_equal(&p, &svc));
	assert_int_equal(ndx_id_parent(&mem, NDX_ID_SUBSYSTEM, &p), NDX_EINVAL);
	assert_int_equal(ndx_id_parent(&sub, NDX_ID_SERVICE, &p), NDX_EINVAL);
	/* In place. */
	p = svc;
	assert_int_equal(ndx_id_parent(&p, NDX_ID_SUBSYSTEM, &p), NDX_OK);
	assert_true(ndx_id_equal(&p, &sub));

	assert_false(ndx_id_equal(&svc, &sub));
	assert_false(ndx_id_equal(&sub, &mem));
	assert_true(ndx_id_equal(&svc, &svc));
	/* Case matters; each part is compared. */
	assert_int_equal(parse("VN/GOV/bca", NDX_ID_MEMBER, &other, NULL), NDX_OK);
	assert_false(ndx_id_equal(&mem, &other));
	assert_int_equal(parse("VN/COM/BCA", NDX_ID_MEMBER, &other, NULL), NDX_OK);
	assert_false(ndx_id_equal(&mem, &other));
	assert_int_equal(parse("VN/GOV/BCA/population/citizen", NDX_ID_SERVICE, &other, NULL),
			 NDX_OK);
	assert_false(ndx_id_equal(&svc, &other));
	/* Parts cannot slide: A/BC vs AB/C. */
	{
		struct ndx_id x, y;

		assert_int_equal(parse("VN/A/BC", NDX_ID_MEMBER, &x, NULL), NDX_OK);
		assert_int_equal(parse("VN/AB/C", NDX_ID_MEMBER, &y, NULL), NDX_OK);
		assert_false(ndx_id_equal(&x, &y));
	}
}

/* The member an id of any kind begins with, canonical (decoded); "" for
 * text that begins with no member or a buffer too small for it. */
static void test_member_text(void **state)
{
	char out[NDX_ID_TEXT_MAX], small[8];

	(void)state;
	ndx_id_member_text("VN/GOV/BCA/population/citizens", out, sizeof out);
	assert_string_equal(out, "VN/GOV/BCA");
	ndx_id_member_text("VN/COM/BANK1/app", out, sizeof out);
	assert_string_equal(out, "VN/COM/BANK1");
	ndx_id_member_text("VN/GOV/B%43A", out, sizeof out);
	assert_string_equal(out, "VN/GOV/BCA");
	ndx_id_member_text("VN/GOV", out, sizeof out);
	assert_string_equal(out, "");
	ndx_id_member_text("", out, sizeof out);
	assert_string_equal(out, "");
	ndx_id_member_text("VN/GOV/BCA", small, sizeof small);
	assert_string_equal(small, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_forms),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_format_too_small),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_malformed_bytes),
		cmocka_unit_test(test_too_long),
		cmocka_unit_test(test_prefix),
		cmocka_unit_test(test_parent_equal),
		cmocka_unit_test(test_member_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
