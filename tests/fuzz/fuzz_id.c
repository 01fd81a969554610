/* libFuzzer target for the identifier parsers of include/ndx/id.h: the input
 * is offered as a member, subsystem and service id to ndx_id_parse and
 * ndx_id_parse_prefix (the gateway's split of /r1/{serviceId}/rest), and
 * every id that parses must survive the round trips through ndx_id_format
 * and ndx_id_format_wire, its parents, and formatting into buffers exactly
 * one byte too small. How to run: tests/fuzz/README.md. */
#include <string.h>

#include "fuzz.h"
#include "ndx/id.h"

static const enum ndx_id_kind kinds[] = { NDX_ID_MEMBER, NDX_ID_SUBSYSTEM, NDX_ID_SERVICE };

/* A failed parse leaves *out zeroed and names the problem. */
static void check_failure(const struct ndx_id *id, const char *why)
{
	static const struct ndx_id zero;

	FUZZ_CHECK(memcmp(id, &zero, sizeof zero) == 0);
	FUZZ_CHECK(why != NULL && strlen(why) > 0);
}

/* format(id) into a buffer of exactly the needed size works, one byte less
 * is NDX_ETOOBIG; both buffers are heap blocks of that size for ASan. */
static int format_exact(const struct ndx_id *id, int wire, char *full, size_t cap)
{
	int n = wire ? ndx_id_format_wire(id, full, cap) : ndx_id_format(id, full, cap);
	char *tight, *small;

	FUZZ_CHECK(n > 0 && (size_t)n == strlen(full));
	tight = malloc((size_t)n + 1);
	small = malloc((size_t)n);
	FUZZ_CHECK(tight != NULL && small != NULL);
	FUZZ_CHECK((wire ? ndx_id_format_wire(id, tight, (size_t)n + 1)
			 : ndx_id_format(id, tight, (size_t)n + 1)) == n);
	FUZZ_CHECK(strcmp(tight, full) == 0);
	FUZZ_CHECK((wire ? ndx_id_format_wire(id, small, (size_t)n)
			 : ndx_id_format(id, small, (size_t)n)) == NDX_ETOOBIG);
	free(tight);
	free(small);
	return n;
}

static void round_trip(const struct ndx_id *id)
{
	char canon[NDX_ID_TEXT_MAX], wire[NDX_ID_TEXT_MAX], again[NDX_ID_TEXT_MAX];
	struct ndx_id back, parent;
	const char *why = NULL;
	int n;

	FUZZ_CHECK(ndx_id_equal(id, id));
	for (int i = 0; i < 5; i++) {
		const char *part = i == 0 ? id->instance : i == 1 ? id->member_class
				 : i == 2 ? id->member_code : i == 3 ? id->subsystem : id->service;
		size_t len = strnlen(part, NDX_ID_PART_MAX + 1);

		FUZZ_CHECK(len <= NDX_ID_PART_MAX);
		FUZZ_CHECK((len > 0) == (i < (int)id->kind));
	}

	/* The canonical form holds no '%' or '/' inside a part, so it parses
	 * back to the same id; so does the wire form. */
	n = format_exact(id, 0, canon, sizeof canon);
	FUZZ_CHECK(ndx_id_parse(canon, (size_t)n, id->kind, &back, &why) == NDX_OK);
	FUZZ_CHECK(ndx_id_equal(id, &back));
	n = format_exact(id, 1, wire, sizeof wire);
	FUZZ_CHECK(ndx_id_parse(wire, (size_t)n, id->kind, &back, &why) == NDX_OK);
	FUZZ_CHECK(ndx_id_equal(id, &back));
	FUZZ_CHECK(ndx_id_format_wire(&back, again, sizeof again) == n);
	FUZZ_CHECK(strcmp(again, wire) == 0);

	for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
		int rc = ndx_id_parent(id, kinds[k], &parent);

		if (kinds[k] > id->kind) {
			FUZZ_CHECK(rc == NDX_EINVAL);
			continue;
		}
		FUZZ_CHECK(rc == NDX_OK && parent.kind == kinds[k]);
		n = ndx_id_format(&parent, canon, sizeof canon);
		FUZZ_CHECK(n > 0);
		FUZZ_CHECK(ndx_id_parse(canon, (size_t)n, kinds[k], &back, &why) == NDX_OK);
		FUZZ_CHECK(ndx_id_equal(&parent, &back));
		FUZZ_CHECK(ndx_id_equal(&parent, id) == (kinds[k] == id->kind));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size copy: libFuzzer's buffer is one too, but a copy keeps
	 * that true whatever the driver does. */
	char *text = fuzz_strndup(data, size);

	for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
		struct ndx_id id, pre, rest;
		const char *why = NULL, *pwhy = NULL;
		size_t used = 12345;
		int rc, prc;

		rc = ndx_id_parse(text, size, kinds[k], &id, &why);
		if (rc == NDX_OK)
			round_trip(&id);
		else {
			FUZZ_CHECK(rc == NDX_EINVAL);
			check_failure(&id, why);
		}

		prc = ndx_id_parse_prefix(text, size, kinds[k], &pre, &used, &pwhy);
		if (prc != NDX_OK) {
			FUZZ_CHECK(prc == NDX_EINVAL && used == 0);
			check_failure(&pre, pwhy);
			/* A whole id is also a prefix of itself. */
			FUZZ_CHECK(rc != NDX_OK);
			continue;
		}
		round_trip(&pre);
		/* The id ends at the end or just before a '/' that the
		 * caller keeps, and is exactly what ndx_id_parse reads there. */
		FUZZ_CHECK(used > 0 && used <= size);
		FUZZ_CHECK(used == size || text[used] == '/');
		FUZZ_CHECK(ndx_id_parse(text, used, kinds[k], &rest, &why) == NDX_OK);
		FUZZ_CHECK(ndx_id_equal(&pre, &rest));
		if (rc == NDX_OK)
			FUZZ_CHECK(used == size && ndx_id_equal(&id, &pre));
	}
	free(text);
	return 0;
}
