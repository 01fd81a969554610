/* Building, validating and signing the global configuration document
 * (docs/protocol.md "The global configuration") from the registry's store,
 * with a cache of the last signed copy shared by the HTTP threads. */
#ifndef NDX_REGISTRY_CONFGEN_H
#define NDX_REGISTRY_CONFGEN_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "ndx/key.h"
#include "reg_store.h"

/* The member classes of an instance (docs/protocol.md "Identifiers"). */
#define REGISTRY_MEMBER_CLASSES { "GOV", "COM", "ORG" }

struct confgen;

/* One signed document; immutable, shared by reference. */
struct conf_signed {
	uint64_t version;
	time_t generated_at;
	time_t expires_at;
	char *body;  /* the exact signed bytes */
	size_t len;
	char *sig;   /* compact JSON signature object */
};

/* A signed delta to a document from an older version (docs/protocol.md
 * "Configuration deltas"); lives as long as the document it leads to. */
struct conf_delta {
	uint64_t from_version;
	char *body;
	size_t len;
	char *sig;
};

/* key (with its private half) and the strings are borrowed and must outlive
 * the confgen; validity is the document lifetime in seconds. */
int confgen_new(struct store *st, const struct ndx_key *key, const char *ca_pem,
		unsigned validity, struct confgen **out);
/* Accepts NULL. Every snapshot must have been released first. */
void confgen_free(struct confgen *cg);

/* Returns the current signed document in *out (a reference released with
 * confgen_release), rebuilding it when the store's version has changed or
 * half of its validity has passed. On failure (store error, or the built
 * document does not validate: the registry never publishes a document a
 * gateway would refuse) returns an error and logs the reason on stderr. */
int confgen_get(struct confgen *cg, time_t now, const struct conf_signed **out);
/* As confgen_get, and in *delta the signed delta from version since to
 * that document (valid until *out is released), or NULL when this node
 * holds no document of that version (then the full one is the answer). */
int confgen_get_delta(struct confgen *cg, time_t now, uint64_t since,
		      const struct conf_signed **out, const struct conf_delta **delta);
void confgen_release(struct confgen *cg, const struct conf_signed *doc);

#endif
