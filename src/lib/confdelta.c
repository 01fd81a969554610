/* Configuration deltas (docs/protocol.md "Configuration deltas"): the
 * registry cuts, from two documents it built, the signed list of what
 * changed; a gateway applies it to the configuration it holds without
 * parsing the whole document again. A document is kept as a tree: its
 * jansson values and, for each list (a top-level array of objects), the
 * SHA-256 of each entry's compact text. Versions share the entries that
 * did not change, and with them their hashes, so the digest that proves
 * the result equal to the registry's full document costs hashing the new
 * entries and 32 bytes per old one. The document's text is never written
 * on this path; a gateway writes it again only every NDX_CONF_DELTAS_MAX
 * deltas (ndx_conf_save_full). */
#include "ndx/conf.h"
#include "conf_int.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ndx/encode.h"
#include "ndx/err.h"
#include "ndx/file.h"
#include "ndx/hash.h"
#include "ndx/timefmt.h"

#define DELTA_SIG_MAX 4096u
/* The most entries a list may have after a delta (100 times the 100,000
 * services of the national-scale figures): runs that copy more are
 * refused before anything is allocated for them. */
#define DELTA_LIST_MAX 10000000u

typedef uint8_t hash32[NDX_SHA256_LEN];

struct conf_list {
	char *key;
	size_t n;
	hash32 *h;         /* SHA-256 of each entry's compact text */
};

struct ndx_conf_tree {
	json_t *doc;       /* a reference */
	uint64_t version;
	size_t nlists;
	struct conf_list *lists;
	char *sig;         /* the full document's signature object; NULL = not kept */
};

/* ---- hashing ---------------------------------------------------------- */

static int dump_to_sha(const char *buf, size_t size, void *ud)
{
	ndx_sha256_update(ud, buf, size);
	return 0;
}

/* SHA-256 of v's compact text, the bytes it has inside the full document. */
static int value_hash(const json_t *v, hash32 out)
{
	struct ndx_sha256 *ctx = ndx_sha256_new();

	if (!ctx)
		return NDX_ENOMEM;
	if (json_dump_callback(v, dump_to_sha, ctx, JSON_COMPACT | JSON_ENCODE_ANY) != 0) {
		ndx_sha256_free(ctx);
		return NDX_ENOMEM;
	}
	ndx_sha256_final(ctx, out);
	ndx_sha256_free(ctx);
	return NDX_OK;
}

static bool is_list(const json_t *v)
{
	size_t i;
	const json_t *e;

	if (!json_is_array(v))
		return false;
	json_array_foreach(v, i, e)
		if (!json_is_object(e))
			return false;
	return true;
}

/* Equal values with their members in the same order (json_equal ignores
 * the order, which the text, and so the digest, does not). */
static bool same(const json_t *a, const json_t *b)
{
	if (a == b)
		return true;
	if (!a || !b || json_typeof(a) != json_typeof(b))
		return false;
	switch (json_typeof(a)) {
	case JSON_OBJECT: {
		void *ia = json_object_iter((json_t *)a), *ib = json_object_iter((json_t *)b);

		if (json_object_size(a) != json_object_size(b))
			return false;
		for (; ia && ib; ia = json_object_iter_next((json_t *)a, ia),
				 ib = json_object_iter_next((json_t *)b, ib))
			if (strcmp(json_object_iter_key(ia), json_object_iter_key(ib)) != 0 ||
			    !same(json_object_iter_value(ia), json_object_iter_value(ib)))
				return false;
		return ia == NULL && ib == NULL;
	}
	case JSON_ARRAY:
		if (json_array_size(a) != json_array_size(b))
			return false;
		for (size_t i = 0; i < json_array_size(a); i++)
			if (!same(json_array_get(a, i), json_array_get(b, i)))
				return false;
		return true;
	case JSON_STRING:
		return json_string_length(a) == json_string_length(b) &&
		       memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0;
	case JSON_INTEGER:
		return json_integer_value(a) == json_integer_value(b);
	case JSON_REAL:
		return json_real_value(a) == json_real_value(b);
	default:
		return true; /* true, false, null: the type says it all */
	}
}

/* FNV-1a over the values, in order: a cheap key for finding an equal
 * entry (same() confirms). */
static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *s = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ s[i]) * 1099511628211ull;
	return h;
}

static uint64_t shape_hash(uint64_t h, const json_t *v)
{
	unsigned char t = (unsigned char)json_typeof(v);
	const char *k;
	const json_t *x;
	size_t i;

	h = fnv(h, &t, 1);
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		json_object_foreach((json_t *)v, k, x) {
			h = fnv(h, k, strlen(k) + 1);
			h = shape_hash(h, x);
		}
		return h;
	case JSON_ARRAY:
		json_array_foreach(v, i, x)
			h = shape_hash(h, x);
		return h;
	case JSON_STRING:
		return fnv(h, json_string_value(v), json_string_length(v) + 1);
	case JSON_INTEGER: {
		json_int_t n = json_integer_value(v);
		return fnv(h, &n, sizeof n);
	}
	case JSON_REAL: {
		double d = json_real_value(v);
		return fnv(h, &d, sizeof d);
	}
	default:
		return h;
	}
}

/* An open-addressing table from a key (64 bits) to the first index of an
 * entry with that key. */
struct match {
	size_t cap;      /* a power of two */
	uint64_t *key;
	size_t *idx;     /* SIZE_MAX: empty */
};

static int match_init(struct match *m, size_t n)
{
	m->cap = 16;
	while (m->cap < 2 * n + 1)
		m->cap *= 2;
	m->key = malloc(m->cap * sizeof *m->key);
	m->idx = malloc(m->cap * sizeof *m->idx);
	if (!m->key || !m->idx) {
		free(m->key);
		free(m->idx);
		return NDX_ENOMEM;
	}
	for (size_t i = 0; i < m->cap; i++)
		m->idx[i] = SIZE_MAX;
	return NDX_OK;
}

static void match_free(struct match *m)
{
	free(m->key);
	free(m->idx);
}

/* Adds (key, idx) unless eq says an entry already there is equal. */
static void match_put(struct match *m, uint64_t key, size_t idx,
		      bool (*eq)(const void *, size_t, size_t), const void *ud)
{
	size_t s = (size_t)key & (m->cap - 1);

	for (; m->idx[s] != SIZE_MAX; s = (s + 1) & (m->cap - 1))
		if (m->key[s] == key && eq(ud, m->idx[s], idx))
			return;
	m->key[s] = key;
	m->idx[s] = idx;
}

/* The first index whose entry eq accepts, or SIZE_MAX. */
static size_t match_get(const struct match *m, uint64_t key,
			bool (*eq)(const void *, size_t, const void *), const void *ud,
			const void *probe)
{
	for (size_t s = (size_t)key & (m->cap - 1); m->idx[s] != SIZE_MAX;
	     s = (s + 1) & (m->cap - 1))
		if (m->key[s] == key && eq(ud, m->idx[s], probe))
			return m->idx[s];
	return SIZE_MAX;
}

/* ---- trees ---------------------------------------------------------- */

void ndx_conf_tree_free(struct ndx_conf_tree *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nlists; i++) {
		free(t->lists[i].key);
		free(t->lists[i].h);
	}
	free(t->lists);
	free(t->sig);
	json_decref(t->doc);
	free(t);
}

uint64_t ndx_conf_tree_version(const struct ndx_conf_tree *t)
{
	return t->version;
}

static const struct conf_list *tree_list(const struct ndx_conf_tree *t, const char *key)
{
	for (size_t i = 0; t && i < t->nlists; i++)
		if (strcmp(t->lists[i].key, key) == 0)
			return &t->lists[i];
	return NULL;
}

static bool eq_same_in(const void *ud, size_t i, size_t j)
{
	const json_t *arr = ud;

	return same(json_array_get(arr, i), json_array_get(arr, j));
}

static bool eq_same_probe(const void *ud, size_t i, const void *probe)
{
	return same(json_array_get(ud, i), probe);
}

/* Fills l (for doc's list arr) with each entry's hash, sharing prev's
 * entries (and hashes) where equal. */
static int list_hashes(json_t *arr, const json_t *parr, const struct conf_list *pl,
		       struct conf_list *l)
{
	struct match m = { 0 };
	size_t n = json_array_size(arr), pn = pl ? json_array_size(parr) : 0;
	int rc = NDX_OK;

	l->n = n;
	l->h = malloc((n ? n : 1) * sizeof *l->h);
	if (!l->h)
		return NDX_ENOMEM;
	if (pl && pl->n == pn && pn > 0) {
		if (match_init(&m, pn))
			return NDX_ENOMEM;
		for (size_t j = 0; j < pn; j++)
			match_put(&m, shape_hash(14695981039346656037ull, json_array_get(parr, j)),
				  j, eq_same_in, parr);
	}
	for (size_t i = 0; i < n && rc == NDX_OK; i++) {
		json_t *e = json_array_get(arr, i);
		size_t j = m.cap ? match_get(&m, shape_hash(14695981039346656037ull, e),
					     eq_same_probe, parr, e)
				 : SIZE_MAX;

		if (j != SIZE_MAX) {
			memcpy(l->h[i], pl->h[j], sizeof(hash32));
			if (json_array_get(parr, j) != e &&
			    json_array_set(arr, i, json_array_get(parr, j)) != 0)
				rc = NDX_ENOMEM;
		} else {
			rc = value_hash(e, l->h[i]);
		}
	}
	if (m.cap)
		match_free(&m);
	return rc;
}

int ndx_conf_tree_new(json_t *doc, const struct ndx_conf_tree *prev, struct ndx_conf_tree **out)
{
	struct ndx_conf_tree *t;
	const char *k;
	json_t *v, *ver;
	int rc = NDX_OK;

	*out = NULL;
	ver = json_object_get(doc, "version");
	if (!json_is_object(doc) || !json_is_integer(ver) || json_integer_value(ver) <= 0)
		return NDX_EINVAL;
	t = calloc(1, sizeof *t);
	if (!t || !(t->lists = calloc(json_object_size(doc) + 1, sizeof *t->lists))) {
		free(t);
		return NDX_ENOMEM;
	}
	t->doc = json_incref(doc);
	t->version = (uint64_t)json_integer_value(ver);
	json_object_foreach(doc, k, v) {
		struct conf_list *l = &t->lists[t->nlists];
		const struct conf_list *pl;

		if (!is_list(v))
			continue;
		if (!(l->key = strdup(k))) {
			rc = NDX_ENOMEM;
			break;
		}
		t->nlists++;
		pl = tree_list(prev, k);
		rc = list_hashes(v, pl ? json_object_get(prev->doc, k) : NULL, pl, l);
		if (rc)
			break;
	}
	if (rc) {
		ndx_conf_tree_free(t);
		return rc;
	}
	*out = t;
	return NDX_OK;
}

void ndx_conf_tree_digest(const struct ndx_conf_tree *t, uint8_t out[32])
{
	struct ndx_sha256 *ctx = ndx_sha256_new(), *lc;
	const char *k;
	json_t *v;
	hash32 h;

	/* On allocation failure the digest is all zeros, which matches no
	 * delta: the gateway then takes the full document. */
	memset(out, 0, NDX_SHA256_LEN);
	if (!ctx)
		return;
	json_object_foreach(t->doc, k, v) {
		const struct conf_list *l = tree_list(t, k);

		ndx_sha256(k, strlen(k), h);
		ndx_sha256_update(ctx, h, sizeof h);
		if (l) {
			if (!(lc = ndx_sha256_new()))
				goto fail;
			ndx_sha256_update(lc, l->h, l->n * sizeof *l->h);
			ndx_sha256_final(lc, h);
			ndx_sha256_free(lc);
		} else if (value_hash(v, h) != NDX_OK) {
			goto fail;
		}
		ndx_sha256_update(ctx, h, sizeof h);
	}
	ndx_sha256_final(ctx, out);
fail:
	ndx_sha256_free(ctx);
}

/* ---- cutting a delta (the registry) ---------------------------------- */

static bool eq_hash_in(const void *ud, size_t i, size_t j)
{
	const hash32 *h = ud;

	return memcmp(h[i], h[j], sizeof(hash32)) == 0;
}

static bool eq_hash_probe(const void *ud, size_t i, const void *probe)
{
	const hash32 *h = ud;

	return memcmp(h[i], probe, sizeof(hash32)) == 0;
}

static uint64_t hkey(const hash32 h)
{
	uint64_t k;

	memcpy(&k, h, sizeof k);
	return k;
}

static int run_flush(json_t *runs, size_t start, size_t count)
{
	return count == 0 ? 0 : json_array_append_new(runs, json_pack("[II]", (json_int_t)start,
								      (json_int_t)count));
}

/* The runs that make to's list from from's: [start, count] copies entries
 * of from's list, an object is a new entry. Each entry of `to` is copied
 * from the first entry of `from` with the same text. *same_out is true
 * when the list did not change. */
static json_t *list_runs(const struct conf_list *fl, const json_t *tarr,
			 const struct conf_list *tl, bool *same_out)
{
	struct match m;
	json_t *runs = json_array();
	size_t start = 0, count = 0;
	int bad = 0;

	*same_out = false;
	if (!runs || match_init(&m, fl->n)) {
		json_decref(runs);
		return NULL;
	}
	for (size_t j = 0; j < fl->n; j++)
		match_put(&m, hkey(fl->h[j]), j, eq_hash_in, fl->h);
	for (size_t i = 0; i < tl->n && !bad; i++) {
		size_t j = match_get(&m, hkey(tl->h[i]), eq_hash_probe, fl->h, tl->h[i]);

		if (j != SIZE_MAX && count > 0 && j == start + count) {
			count++;
			continue;
		}
		bad |= run_flush(runs, start, count);
		count = 0;
		if (j != SIZE_MAX) {
			start = j;
			count = 1;
		} else {
			bad |= json_array_append(runs, json_array_get(tarr, i));
		}
	}
	bad |= run_flush(runs, start, count);
	match_free(&m);
	if (bad) {
		json_decref(runs);
		return NULL;
	}
	*same_out = tl->n == fl->n && (tl->n == 0 || (json_array_size(runs) == 1 &&
				       json_is_array(json_array_get(runs, 0)) &&
				       json_integer_value(json_array_get(json_array_get(runs, 0), 0)) == 0));
	return runs;
}

/* The fields that say which document this is: always set, since the
 * gateway's copy of the source version may be of another period. */
static bool header_field(const char *k)
{
	return strcmp(k, "version") == 0 || strcmp(k, "generated_at") == 0 ||
	       strcmp(k, "expires_at") == 0;
}

/* "keys", "set" and "lists" of the delta. */
static int delta_body(const struct ndx_conf_tree *from, const struct ndx_conf_tree *to,
		      json_t *d)
{
	json_t *keys = json_array(), *set = json_object(), *lists = json_object(), *v;
	const char *k;

	if (!keys || !set || !lists || json_object_set_new(d, "keys", keys) ||
	    json_object_set_new(d, "set", set) || json_object_set_new(d, "lists", lists)) {
		if (!json_object_get(d, "keys"))
			json_decref(keys);
		if (!json_object_get(d, "set"))
			json_decref(set);
		if (!json_object_get(d, "lists"))
			json_decref(lists);
		return NDX_ENOMEM;
	}
	json_object_foreach(to->doc, k, v) {
		const struct conf_list *fl = tree_list(from, k), *tl = tree_list(to, k);
		json_t *old = json_object_get(from->doc, k);

		if (json_array_append_new(keys, json_string(k)))
			return NDX_ENOMEM;
		if (fl && tl) {
			bool unchanged;
			json_t *runs = list_runs(fl, v, tl, &unchanged);

			if (!runs)
				return NDX_ENOMEM;
			if (unchanged)
				json_decref(runs);
			else if (json_object_set_new(lists, k, runs))
				return NDX_ENOMEM;
		} else if (!old || !same(old, v) || header_field(k)) {
			if (json_object_set(set, k, v))
				return NDX_ENOMEM;
		}
	}
	return NDX_OK;
}

int ndx_conf_delta_make(const struct ndx_conf_tree *from, const struct ndx_conf_tree *to,
			const char *to_sig, char **text, size_t *len)
{
	uint8_t dg[NDX_SHA256_LEN];
	char hex[2 * NDX_SHA256_LEN + 1];
	json_t *d, *sigobj;
	int rc;

	assert(from && to && to_sig && text && len);
	*text = NULL;
	*len = 0;
	ndx_conf_tree_digest(to, dg);
	ndx_hex_encode(dg, sizeof dg, hex);
	sigobj = json_loads(to_sig, 0, NULL);
	d = json_pack("{ss sO? sI sI}", "format", NDX_CONF_DELTA_FORMAT, "instance",
		      json_object_get(to->doc, "instance"), "from_version",
		      (json_int_t)from->version, "to_version", (json_int_t)to->version);
	if (!sigobj || !d) {
		json_decref(sigobj);
		json_decref(d);
		return NDX_ENOMEM;
	}
	rc = delta_body(from, to, d);
	if (!rc && (json_object_set_new(d, "to_sha256", json_string(hex)) ||
		    json_object_set(d, "to_signature", sigobj)))
		rc = NDX_ENOMEM;
	json_decref(sigobj);
	if (!rc && !(*text = json_dumps(d, JSON_COMPACT)))
		rc = NDX_ENOMEM;
	json_decref(d);
	if (!rc)
		*len = strlen(*text);
	return rc;
}

/* ---- applying a delta (a gateway) ------------------------------------- */

/* The tree of held, made (hashing every entry) on the first delta. */
static int held_tree(struct ndx_conf *held, struct ndx_conf_tree **out)
{
	struct ndx_conf_tree **slot = ndx__conf_tree_slot(held);
	int rc;

	if (!*slot &&
	    (rc = ndx_conf_tree_new((json_t *)ndx_conf_json(held), NULL, slot)) != NDX_OK)
		return rc;
	*out = *slot;
	return NDX_OK;
}

/* A new list of old's entries and new ones, following runs; l gets the
 * hashes. */
static int apply_runs(const json_t *runs, const json_t *oarr, const struct conf_list *ol,
		      json_t **out, struct conf_list *l, char *err, size_t errcap, const char *k)
{
	json_t *arr = json_array(), *r;
	size_t i, n = 0;

	*out = NULL;
	if (!arr)
		return NDX_ENOMEM;
	if (!json_is_array(runs))
		goto bad;
	json_array_foreach(runs, i, r) {
		if (json_is_object(r)) {
			n++;
		} else {
			json_int_t s = json_integer_value(json_array_get(r, 0)),
				   c = json_integer_value(json_array_get(r, 1));
			if (!json_is_array(r) || json_array_size(r) != 2 ||
			    !json_is_integer(json_array_get(r, 0)) ||
			    !json_is_integer(json_array_get(r, 1)) || s < 0 || c <= 0 ||
			    (size_t)s > ol->n || (size_t)c > ol->n - (size_t)s)
				goto bad;
			n += (size_t)c;
		}
		if (n > DELTA_LIST_MAX)
			goto bad;
	}
	l->n = n;
	if (!(l->h = malloc((n ? n : 1) * sizeof *l->h))) {
		json_decref(arr);
		return NDX_ENOMEM;
	}
	n = 0;
	json_array_foreach(runs, i, r) {
		if (json_is_object(r)) {
			if (json_array_append(arr, r) || value_hash(r, l->h[n]))
				goto nomem;
			n++;
			continue;
		}
		size_t s = (size_t)json_integer_value(json_array_get(r, 0)),
		       c = (size_t)json_integer_value(json_array_get(r, 1));
		for (size_t j = s; j < s + c; j++)
			if (json_array_append(arr, json_array_get(oarr, j)))
				goto nomem;
		memcpy(l->h[n], ol->h[s], c * sizeof(hash32));
		n += c;
	}
	*out = arr;
	return NDX_OK;
bad:
	json_decref(arr);
	return ndx_fail(err, errcap, NDX_EINVAL, "delta: lists.%.64s: expected runs of "
			"[start, count] within the held list or entry objects", k);
nomem:
	json_decref(arr);
	return NDX_ENOMEM;
}

/* The document of the delta d applied to old, as a tree (its lists'
 * hashes taken from old's for copied entries). */
static int apply_doc(const struct ndx_conf_tree *old, const json_t *d, struct ndx_conf_tree **out,
		     char *err, size_t errcap)
{
	const json_t *keys = json_object_get(d, "keys"), *set = json_object_get(d, "set"),
		     *lists = json_object_get(d, "lists"), *kv;
	struct ndx_conf_tree *t;
	const char *k;
	json_t *v;
	size_t i;
	int rc = NDX_OK;

	*out = NULL;
	if (!json_is_array(keys) || !json_is_object(set) || !json_is_object(lists))
		return ndx_fail(err, errcap, NDX_EINVAL, "delta: keys, set and lists are required");
	json_object_foreach((json_t *)set, k, v)
		if (json_object_get(lists, k))
			return ndx_fail(err, errcap, NDX_EINVAL, "delta: %.64s both set and a list", k);
	t = calloc(1, sizeof *t);
	if (!t || !(t->doc = json_object()) ||
	    !(t->lists = calloc(json_array_size(keys) + 1, sizeof *t->lists))) {
		ndx_conf_tree_free(t);
		return NDX_ENOMEM;
	}
	json_array_foreach(keys, i, kv) {
		const char *key = json_string_value(kv);
		const json_t *runs, *nv;
		const struct conf_list *ol;
		json_t *val = NULL;

		if (!key || json_object_get(t->doc, key)) {
			rc = ndx_fail(err, errcap, NDX_EINVAL, "delta: keys[%zu] is not a string "
				      "listed once", i);
			break;
		}
		ol = tree_list(old, key);
		if ((runs = json_object_get(lists, key)) != NULL) {
			struct conf_list *l = &t->lists[t->nlists];
			if (!ol) {
				rc = ndx_fail(err, errcap, NDX_EINVAL, "delta: lists.%.64s: the held "
					      "document has no such list", key);
				break;
			}
			if (!(l->key = strdup(key))) {
				rc = NDX_ENOMEM;
				break;
			}
			t->nlists++;
			rc = apply_runs(runs, json_object_get(old->doc, key), ol, &val, l, err,
					errcap, key);
		} else if ((nv = json_object_get(set, key)) != NULL) {
			val = json_incref((json_t *)nv);
			if (is_list(val)) {
				struct conf_list *l = &t->lists[t->nlists];
				if (!(l->key = strdup(key))) {
					rc = NDX_ENOMEM;
				} else {
					t->nlists++;
					rc = list_hashes(val, NULL, NULL, l);
				}
			}
		} else if ((nv = json_object_get(old->doc, key)) != NULL) {
			val = json_incref((json_t *)nv);
			if (ol) {
				struct conf_list *l = &t->lists[t->nlists];
				if (!(l->key = strdup(key)) ||
				    !(l->h = malloc((ol->n ? ol->n : 1) * sizeof *l->h))) {
					free(l->key);
					l->key = NULL;
					rc = NDX_ENOMEM;
				} else {
					t->nlists++;
					l->n = ol->n;
					memcpy(l->h, ol->h, ol->n * sizeof *l->h);
				}
			}
		} else {
			rc = ndx_fail(err, errcap, NDX_EINVAL, "delta: %.64s is neither set nor in "
				      "the held document", key);
		}
		if (!rc && (!val || json_object_set_new(t->doc, key, val)))
			rc = NDX_ENOMEM;
		else if (rc)
			json_decref(val);
		if (rc)
			break;
	}
	if (!rc && (json_object_size(t->doc) != json_array_size(keys)))
		rc = NDX_EINVAL;
	json_object_foreach((json_t *)set, k, v)
		if (!rc && !json_object_get(t->doc, k))
			rc = ndx_fail(err, errcap, NDX_EINVAL, "delta: set.%.64s is not in keys", k);
	json_object_foreach((json_t *)lists, k, v)
		if (!rc && !json_object_get(t->doc, k))
			rc = ndx_fail(err, errcap, NDX_EINVAL, "delta: lists.%.64s is not in keys", k);
	if (rc) {
		ndx_conf_tree_free(t);
		return rc == NDX_ENOMEM ? ndx_fail(err, errcap, rc, "out of memory") : rc;
	}
	*out = t;
	return NDX_OK;
}

/* The delta's own fields: format, instance, versions, digest and the full
 * document's signature. */
static int delta_header(const json_t *d, const struct ndx_anchor *anchor, uint64_t held_version,
			uint64_t *to_version, uint8_t digest[NDX_SHA256_LEN], char **sig_out,
			char *err, size_t errcap)
{
	const char *fmt = json_string_value(json_object_get(d, "format")),
		   *inst = json_string_value(json_object_get(d, "instance")),
		   *hex = json_string_value(json_object_get(d, "to_sha256"));
	const json_t *fv = json_object_get(d, "from_version"), *tv = json_object_get(d, "to_version"),
		     *sg = json_object_get(d, "to_signature");
	if (!fmt || strcmp(fmt, NDX_CONF_DELTA_FORMAT) != 0)
		return ndx_fail(err, errcap, NDX_EINVAL, "delta: format must be \"%s\"",
				NDX_CONF_DELTA_FORMAT);
	if (!inst || strcmp(inst, ndx_anchor_instance(anchor)) != 0)
		return ndx_fail(err, errcap, NDX_EINVAL, "delta: not for instance %s",
				ndx_anchor_instance(anchor));
	if (!json_is_integer(fv) || !json_is_integer(tv) || json_integer_value(fv) <= 0 ||
	    json_integer_value(tv) < json_integer_value(fv))
		return ndx_fail(err, errcap, NDX_EINVAL, "delta: from_version and to_version must "
				"be positive integers, to_version not below from_version");
	if ((uint64_t)json_integer_value(fv) != held_version)
		return ndx_fail(err, errcap, NDX_EPERM, "delta from version %lld, the gateway "
				"holds version %llu", (long long)json_integer_value(fv),
				(unsigned long long)held_version);
	if (!hex || strlen(hex) != 2 * NDX_SHA256_LEN ||
	    ndx_hex_decode(hex, strlen(hex), digest, NDX_SHA256_LEN) != NDX_OK)
		return ndx_fail(err, errcap, NDX_EINVAL, "delta: to_sha256 must be 64 hex digits");
	if (!json_is_object(sg) || !(*sig_out = json_dumps(sg, JSON_COMPACT)))
		return ndx_fail(err, errcap, NDX_EINVAL, "delta: to_signature must be a signature "
				"object");
	*to_version = (uint64_t)json_integer_value(tv);
	return NDX_OK;
}

/* ndx_conf_delta_apply; fresh false leaves out the result's expiry check
 * (a chain read from disk checks only its last document). */
static int delta_apply(struct ndx_conf *held, const uint8_t *data, size_t len, const char *sig,
		       const struct ndx_anchor *anchor, time_t now, bool fresh,
		       struct ndx_conf **out, char *err, size_t errcap)
{
	struct ndx_conf_tree *old = NULL, *t = NULL;
	struct ndx_conf *c = NULL;
	uint8_t want[NDX_SHA256_LEN], got[NDX_SHA256_LEN];
	uint64_t to_version = 0;
	char *full_sig = NULL;
	json_error_t jerr;
	json_t *d;
	int rc;

	assert(held && anchor && out);
	*out = NULL;
	if (err && errcap)
		err[0] = '\0';
	if (!data)
		data = (const uint8_t *)"";
	if ((rc = ndx__conf_check_sig(data, len, sig, anchor, "configuration delta", err,
				      errcap)) != NDX_OK)
		return rc;
	d = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(d)) {
		json_decref(d);
		return ndx_fail(err, errcap, NDX_EINVAL, "delta is not a JSON object: %s", jerr.text);
	}
	rc = delta_header(d, anchor, ndx_conf_version(held), &to_version, want, &full_sig, err,
			  errcap);
	if (!rc && (rc = held_tree(held, &old)) != NDX_OK)
		ndx_fail(err, errcap, rc, "out of memory");
	if (!rc)
		rc = apply_doc(old, d, &t, err, errcap);
	json_decref(d);
	if (rc)
		goto out;
	ndx_conf_tree_digest(t, got);
	if (memcmp(got, want, sizeof got) != 0) {
		rc = ndx_fail(err, errcap, NDX_EINVAL, "delta from version %llu does not give the "
			      "document of version %llu (digest differs)",
			      (unsigned long long)ndx_conf_version(held),
			      (unsigned long long)to_version);
		goto out;
	}
	if ((rc = ndx__conf_from_json(json_incref(t->doc), held, &c, err, errcap)) != NDX_OK)
		goto out;
	if (ndx_conf_version(c) != to_version) {
		rc = ndx_fail(err, errcap, NDX_EINVAL, "delta: to_version %llu, the document says %llu",
			      (unsigned long long)to_version,
			      (unsigned long long)ndx_conf_version(c));
		goto out;
	}
	if (ndx_conf_version(c) == ndx_conf_version(held) &&
	    ndx_conf_generated_at(c) <= ndx_conf_generated_at(held)) {
		rc = ndx_fail(err, errcap, NDX_EPERM, "delta gives no newer document than the "
			      "held version %llu", (unsigned long long)ndx_conf_version(held));
		goto out;
	}
	if (fresh && (rc = ndx__conf_check_fresh(c, anchor, now, err, errcap)) != NDX_OK)
		goto out;
	t->sig = full_sig;
	full_sig = NULL;
	*ndx__conf_tree_slot(c) = t;
	t = NULL;
	*out = c;
	c = NULL;
out:
	ndx_conf_free(c);
	ndx_conf_tree_free(t);
	free(full_sig);
	return rc;
}

int ndx_conf_delta_apply(struct ndx_conf *held, const uint8_t *data, size_t len,
			 const char *sig, const struct ndx_anchor *anchor, time_t now,
			 struct ndx_conf **out, char *err, size_t errcap)
{
	return delta_apply(held, data, len, sig, anchor, now, true, out, err, errcap);
}

/* ---- on disk ----------------------------------------------------------- */

static int delta_path(char *buf, size_t cap, const char *dir, unsigned seq)
{
	int n = snprintf(buf, cap, "%s/%s.%u", dir, NDX_CONF_DELTA_FILE, seq);

	return n < 0 || (size_t)n >= cap ? NDX_EINVAL : NDX_OK;
}

int ndx_conf_save_delta(const char *dir, unsigned seq, const uint8_t *data, size_t len,
			const char *sig)
{
	char path[PATH_MAX], *buf;
	size_t sl;
	int rc;

	assert(dir && sig && (data || len == 0));
	sl = strlen(sig);
	if (strchr(sig, '\n') || delta_path(path, sizeof path, dir, seq) != NDX_OK)
		return NDX_EINVAL;
	if ((rc = ndx_mkdirs(dir, 0755)) != NDX_OK)
		return rc;
	if (!(buf = malloc(sl + 1 + len + 1)))
		return NDX_ENOMEM;
	memcpy(buf, sig, sl);
	buf[sl] = '\n';
	if (len)
		memcpy(buf + sl + 1, data, len);
	/* One file for both, so that no crash leaves a delta without its
	 * signature. */
	rc = ndx_file_write_atomic(path, buf, sl + 1 + len, 0644, 0);
	free(buf);
	return rc;
}

void ndx_conf_clear_deltas(const char *dir)
{
	char path[PATH_MAX];

	for (unsigned seq = 1; delta_path(path, sizeof path, dir, seq) == NDX_OK; seq++)
		if (unlink(path) != 0)
			break;
}

int ndx_conf_save_full(const struct ndx_conf *conf, const char *dir,
		       const struct ndx_anchor *anchor, char *err, size_t errcap)
{
	const struct ndx_conf_tree *t = *ndx__conf_tree_slot((struct ndx_conf *)conf);
	char *text;
	int rc;

	if (!t || !t->sig)
		return ndx_fail(err, errcap, NDX_ENOTFOUND, "no signature of the full document");
	if (!(text = json_dumps(t->doc, JSON_COMPACT)))
		return ndx_fail(err, errcap, NDX_ENOMEM, "out of memory");
	rc = ndx__conf_check_sig((const uint8_t *)text, strlen(text), t->sig, anchor,
				 "rebuilt configuration", err, errcap);
	if (!rc && (rc = ndx_conf_save_dir(dir, (const uint8_t *)text, strlen(text), t->sig)))
		ndx_fail(err, errcap, rc, "cannot write %s", dir);
	free(text);
	return rc;
}

/* Reads conf.delta.SEQ into its signature line and bytes. */
static int read_delta(const char *dir, unsigned seq, char **buf, size_t *len, char **body,
		      size_t *blen)
{
	char path[PATH_MAX], *nl;
	int rc;

	if (delta_path(path, sizeof path, dir, seq) != NDX_OK)
		return NDX_EINVAL;
	if ((rc = ndx_file_read(path, NDX_CONF_MAX_BYTES + DELTA_SIG_MAX, buf, len)) != NDX_OK)
		return rc;
	nl = memchr(*buf, '\n', *len);
	if (!nl || (size_t)(nl - *buf) > DELTA_SIG_MAX || memchr(*buf, '\0', (size_t)(nl - *buf))) {
		free(*buf);
		*buf = NULL;
		return NDX_EINVAL;
	}
	*nl = '\0';
	*body = nl + 1;
	*blen = *len - (size_t)(nl + 1 - *buf);
	return NDX_OK;
}

int ndx_conf_load_dir_deltas(const char *dir, const struct ndx_anchor *anchor, time_t now,
			     struct ndx_conf **out, unsigned *ndeltas, char *err,
			     size_t errcap)
{
	struct ndx_conf *c = NULL;
	unsigned seq;
	int rc;

	assert(dir && anchor && out);
	*out = NULL;
	if (ndeltas)
		*ndeltas = 0;
	/* The base without its expiry: deltas may bring it forward. The
	 * result's freshness is checked at the end. */
	rc = ndx__conf_load_base(dir, anchor, &c, err, errcap);
	if (rc)
		return rc;
	for (seq = 1;; seq++) {
		char *buf = NULL, *body = NULL, why[256];
		size_t len = 0, blen = 0;
		struct ndx_conf *next = NULL;

		if (read_delta(dir, seq, &buf, &len, &body, &blen) != NDX_OK)
			break;
		rc = delta_apply(c, (const uint8_t *)body, blen, buf, anchor, now, false, &next,
				 why, sizeof why);
		free(buf);
		if (rc != NDX_OK)
			break;
		ndx_conf_free(c);
		c = next;
	}
	if (ndeltas)
		*ndeltas = seq - 1;
	if ((rc = ndx__conf_check_fresh(c, anchor, now, err, errcap)) != NDX_OK) {
		ndx_conf_free(c);
		return rc;
	}
	*out = c;
	return NDX_OK;
}
