/* X-Road style identifiers: member VN/GOV/BCA, subsystem VN/GOV/BCA/population,
 * service VN/GOV/BCA/population/citizens. On the wire each part is
 * percent-encoded; decoded, a part is 1..NDX_ID_PART_MAX characters from
 * A-Z a-z 0-9 ' ( ) + , - . = ?  Overview: docs/protocol.md "Identifiers". */
#ifndef NDX_ID_H
#define NDX_ID_H

#include <stdbool.h>
#include <stddef.h>

#define NDX_ID_PART_MAX 64
/* Longest wire form: five parts, each fully percent-encoded, four slashes. */
#define NDX_ID_TEXT_MAX (5 * 3 * NDX_ID_PART_MAX + 4 + 1)

enum ndx_id_kind {
	NDX_ID_MEMBER = 3,    /* instance/class/code */
	NDX_ID_SUBSYSTEM = 4, /* + subsystem */
	NDX_ID_SERVICE = 5,   /* + service code */
};

struct ndx_id {
	enum ndx_id_kind kind;
	char instance[NDX_ID_PART_MAX + 1];
	char member_class[NDX_ID_PART_MAX + 1];
	char member_code[NDX_ID_PART_MAX + 1];
	char subsystem[NDX_ID_PART_MAX + 1]; /* "" for a member */
	char service[NDX_ID_PART_MAX + 1];   /* "" unless a service */
};

/* Parses text[0..len) as an id of exactly the given kind; parts may be
 * percent-encoded. On failure returns NDX_EINVAL, leaves *out zeroed and, when
 * why is not NULL, points *why at a sentence naming the problem ("part 3
 * (member code) is empty", "character ' ' is not allowed in part 4
 * (subsystem code)", ...). The sentence lives in a thread-local buffer: it
 * stays valid until the same thread's next failed parse. */
int ndx_id_parse(const char *text, size_t len, enum ndx_id_kind kind,
		 struct ndx_id *out, const char **why);

/* Parses the first `kind` slash-separated parts of path[0..len) (which must
 * not start with '/') and sets *consumed to the bytes used, so the caller
 * finds the rest ("" or "/...") at path + *consumed. Used to split
 * /r1/{serviceId}/rest. Errors as ndx_id_parse. */
int ndx_id_parse_prefix(const char *path, size_t len, enum ndx_id_kind kind,
			struct ndx_id *out, size_t *consumed, const char **why);

/* Writes the canonical (decoded, slash-joined) text of id into buf.
 * Returns its length or NDX_ETOOBIG when cap is too small. */
int ndx_id_format(const struct ndx_id *id, char *buf, size_t cap);
/* As ndx_id_format with every part percent-encoded for use in a URL path. */
int ndx_id_format_wire(const struct ndx_id *id, char *buf, size_t cap);

/* Truncates id to a shorter kind (service -> subsystem -> member) into *out.
 * Returns NDX_EINVAL if kind is longer than id's own. */
int ndx_id_parent(const struct ndx_id *id, enum ndx_id_kind kind, struct ndx_id *out);

bool ndx_id_equal(const struct ndx_id *a, const struct ndx_id *b);

/* The canonical text of the member an id of any kind (member, subsystem,
 * service) begins with into out; "" when id does not begin with one or
 * cap is too small. */
void ndx_id_member_text(const char *id, char *out, size_t cap);

#endif
