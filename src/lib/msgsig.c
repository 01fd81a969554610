/* The gateway signature object of docs/protocol.md "Signature object": a
 * batch of message hashes becomes the leaves of an RFC 6962 tree whose
 * root, bound to the tree size, gets one Ed25519 signature, and each
 * message gets compact JSON carrying that signature and its own audit path. Parsing is strict, with
 * one accepted spelling of every value (all members required, no unknown
 * ones, no duplicates, exact base64, exact path length), because the
 * object arrives from the network in a header. */
#include "ndx/msgsig.h"

#include <assert.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "ndx/buf.h"
#include "ndx/encode.h"
#include "ndx/err.h"

/* A tree_size above this is refused: no signer batches more, and it keeps
 * every audit path at 32 entries or fewer. */
#define MAX_TREE_SIZE (UINT64_C(1) << 32)

static int fail(char *err, size_t errcap, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errcap, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errcap > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errcap, fmt, ap);
		va_end(ap);
	}
	return NDX_EINVAL;
}

/* Number of audit path entries RFC 9162 section 2.1.3.2 consumes for leaf
 * index of a tree of size leaves (index < size): the same walk as
 * merkle.c's verification, without the hashing. */
static size_t path_len_for(uint64_t index, uint64_t size)
{
	uint64_t fn = index, sn = size - 1;
	size_t n = 0;

	for (; sn != 0; fn >>= 1, sn >>= 1, n++) {
		if ((fn & 1) == 0 && fn == sn) {
			while ((fn & 1) == 0 && fn != 0) {
				fn >>= 1;
				sn >>= 1;
			}
		}
	}
	return n;
}

/* The tree as levels, leaves first, each level half (rounded up) of the
 * one below; a last node without a partner moves up unchanged, which gives
 * the same tree as RFC 6962's split at the largest power of two. Returns a
 * malloc'd array of all levels (caller frees) with the start of each level
 * in start[] and its width in width[], or NULL. */
static uint8_t (*build_levels(const uint8_t (*hashes)[NDX_SHA256_LEN], size_t n,
			      size_t start[NDX_MERKLE_MAX_PATH + 1],
			      size_t width[NDX_MERKLE_MAX_PATH + 1], size_t *nlevels))[NDX_SHA256_LEN]
{
	uint8_t (*t)[NDX_SHA256_LEN];
	size_t total = 0, w = n, l = 0, nodes = n;

	/* Rounding up at every level makes the total exceed 2n for sizes such
	 * as 5 or 9 (tests/fuzz/findings): count the levels exactly. */
	for (size_t k = n; k > 1; k = (k + 1) / 2)
		nodes += (k + 1) / 2;
	if (nodes > SIZE_MAX / sizeof *t)
		return NULL;
	t = malloc(nodes * sizeof *t);
	if (t == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		ndx_merkle_leaf(hashes[i], NDX_SHA256_LEN, t[i]);
	start[0] = 0;
	width[0] = n;
	total = n;
	while (w > 1) {
		size_t next = (w + 1) / 2;

		assert(l < NDX_MERKLE_MAX_PATH);
		for (size_t j = 0; j < w / 2; j++)
			ndx_merkle_node(t[start[l] + 2 * j], t[start[l] + 2 * j + 1], t[total + j]);
		if (w % 2 != 0)
			memcpy(t[total + next - 1], t[start[l] + w - 1], NDX_SHA256_LEN);
		l++;
		start[l] = total;
		width[l] = next;
		total += next;
		w = next;
	}
	*nlevels = l + 1;
	return t;
}

/* What the root signature covers: a label, the tree size as 8 bytes big
 * endian, and the root. Binding the size means a verifier folds the audit
 * path with the size the signer meant, not one an intermediary wrote into
 * the object; the label keeps a batch signature from being read as anything
 * else the gateway's key signs (message log tree heads, configuration). */
#define ROOT_LABEL "ndx-batch-v1"
#define ROOT_MSG_LEN (sizeof ROOT_LABEL - 1 + 8 + NDX_SHA256_LEN)

static void root_message(const uint8_t root[NDX_SHA256_LEN], uint64_t tree_size,
			 uint8_t msg[ROOT_MSG_LEN])
{
	size_t at = sizeof ROOT_LABEL - 1;

	memcpy(msg, ROOT_LABEL, at);
	for (int i = 7; i >= 0; i--)
		msg[at++] = (uint8_t)(tree_size >> (8 * i));
	memcpy(msg + at, root, NDX_SHA256_LEN);
}

/* One compact signature object; returns a malloc'd string or NULL. Written
 * as text, the members in the order docs/protocol.md shows: byte for byte
 * what json_dumps(JSON_COMPACT) of the same jansson object wrote
 * (tests/unit/test_msgsig.c checks it), without making that object and its
 * dozen allocations for every message of a batch. Every value is ASCII
 * that JSON writes as it is (the algorithm's name, hex, integers, base64),
 * so only the quotes are added. */
static char *object_text(const char *kid, size_t n, size_t index,
			 const uint8_t (*path)[NDX_SHA256_LEN], size_t path_len, const char *sig_b64)
{
	struct ndx_buf b = NDX_BUF_INIT(NDX_MSGSIG_MAX_TEXT);
	char num[NDX_DEC_MAX];
	int rc;

	rc = ndx_buf_append_str(&b, "{\"alg\":\"" NDX_MSGSIG_ALG "\",\"key_id\":\"");
	if (rc == NDX_OK)
		rc = ndx_buf_append_str(&b, kid);
	if (rc == NDX_OK)
		rc = ndx_buf_append_str(&b, "\",\"tree_size\":");
	if (rc == NDX_OK)
		rc = ndx_buf_append(&b, num, ndx_dec_u64(n, num));
	if (rc == NDX_OK)
		rc = ndx_buf_append_str(&b, ",\"leaf_index\":");
	if (rc == NDX_OK)
		rc = ndx_buf_append(&b, num, ndx_dec_u64(index, num));
	if (rc == NDX_OK)
		rc = ndx_buf_append_str(&b, ",\"audit_path\":[");
	for (size_t i = 0; rc == NDX_OK && i < path_len; i++) {
		/* 32 bytes are 44 base64 characters and a NUL. */
		unsigned char b64[4 * ((NDX_SHA256_LEN + 2) / 3) + 1];
		int len = EVP_EncodeBlock(b64, path[i], NDX_SHA256_LEN);

		rc = ndx_buf_append_str(&b, i ? ",\"" : "\"");
		if (rc == NDX_OK)
			rc = ndx_buf_append(&b, b64, (size_t)len);
		if (rc == NDX_OK)
			rc = ndx_buf_append_str(&b, "\"");
	}
	if (rc == NDX_OK)
		rc = ndx_buf_append_str(&b, "],\"root_signature\":\"");
	if (rc == NDX_OK)
		rc = ndx_buf_append_str(&b, sig_b64);
	if (rc == NDX_OK)
		rc = ndx_buf_append_str(&b, "\"}");
	if (rc != NDX_OK) {
		ndx_buf_free(&b);
		return NULL;
	}
	return ndx_buf_steal(&b, NULL);
}

int ndx_msgsig_sign_batch(const struct ndx_key *key, const uint8_t (*hashes)[NDX_SHA256_LEN],
			  size_t n, char **out)
{
	size_t start[NDX_MERKLE_MAX_PATH + 1], width[NDX_MERKLE_MAX_PATH + 1], nlevels = 0;
	uint8_t (*t)[NDX_SHA256_LEN] = NULL;
	uint8_t sig[NDX_ED25519_SIG_LEN], path[NDX_MERKLE_MAX_PATH][NDX_SHA256_LEN],
		msg[ROOT_MSG_LEN];
	char kid[NDX_KEY_ID_HEX_LEN + 1];
	char *sig_b64 = NULL;
	int rc;

	assert(key != NULL && out != NULL && (hashes != NULL || n == 0));
	for (size_t i = 0; i < n; i++)
		out[i] = NULL;
	if (n == 0 || n > MAX_TREE_SIZE)
		return NDX_EINVAL;
	t = build_levels(hashes, n, start, width, &nlevels);
	if (t == NULL)
		return NDX_ENOMEM;
	root_message(t[start[nlevels - 1]], (uint64_t)n, msg);
	rc = ndx_sign(key, msg, sizeof msg, sig);
	if (rc != NDX_OK)
		goto out;
	sig_b64 = ndx_b64_encode(sig, sizeof sig, 0);
	if (sig_b64 == NULL) {
		rc = NDX_ENOMEM;
		goto out;
	}
	ndx_key_id(key, kid);
	for (size_t i = 0; i < n; i++) {
		size_t len = 0, j = i;

		/* The sibling on each level, where there is one, from the
		 * leaves up: RFC 6962 section 2.1.1 order. */
		for (size_t l = 0; l + 1 < nlevels; l++, j >>= 1) {
			if ((j ^ 1) < width[l])
				memcpy(path[len++], t[start[l] + (j ^ 1)], NDX_SHA256_LEN);
		}
		out[i] = object_text(kid, n, i, (const uint8_t (*)[NDX_SHA256_LEN])path, len,
				     sig_b64);
		if (out[i] == NULL) {
			rc = NDX_ENOMEM;
			goto out;
		}
	}
out:
	if (rc != NDX_OK) {
		for (size_t i = 0; i < n; i++) {
			free(out[i]);
			out[i] = NULL;
		}
	}
	free(sig_b64);
	free(t);
	return rc;
}

char *ndx_msgsig_sign(const struct ndx_key *key, const uint8_t hash[NDX_SHA256_LEN])
{
	char *text = NULL;

	if (ndx_msgsig_sign_batch(key, (const uint8_t (*)[NDX_SHA256_LEN])hash, 1, &text) != NDX_OK)
		return NULL;
	return text;
}

static bool is_lower_hex(const char *s, size_t len)
{
	if (strlen(s) != len)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	}
	return true;
}

/* Decodes s[0..n) as padded base64 of exactly len bytes into out. */
static bool decode_b64_exact(const char *s, size_t n, uint8_t *out, size_t len)
{
	return ndx_b64_decode_exact(s, n, 0, out, len) == NDX_OK;
}

/* Decodes the JSON string s as padded base64 of exactly len bytes into out. */
static bool decode_exact(const json_t *s, uint8_t *out, size_t len)
{
	if (!json_is_string(s))
		return false;
	return decode_b64_exact(json_string_value(s), json_string_length(s), out, len);
}

/* Reads a member that must be a JSON integer in [lo, hi]. */
static bool get_uint(const json_t *o, const char *name, uint64_t lo, uint64_t hi, uint64_t *out)
{
	const json_t *v = json_object_get(o, name);
	json_int_t x;

	if (!json_is_integer(v))
		return false;
	x = json_integer_value(v);
	if (x < 0 || (uint64_t)x < lo || (uint64_t)x > hi)
		return false;
	*out = (uint64_t)x;
	return true;
}

static const char *const members[] = {
	"alg", "key_id", "tree_size", "leaf_index", "audit_path", "root_signature",
};

static int parse_object(const json_t *o, struct ndx_msgsig *out, char *err, size_t errcap)
{
	const char *name, *alg, *kid;
	const json_t *v, *arr;
	size_t want;

	if (!json_is_object(o))
		return fail(err, errcap, "signature object is not a JSON object");
	for (size_t i = 0; i < sizeof members / sizeof members[0]; i++) {
		if (json_object_get(o, members[i]) == NULL)
			return fail(err, errcap, "signature object has no \"%s\"", members[i]);
	}
	json_object_foreach((json_t *)o, name, v) {
		bool known = false;

		for (size_t i = 0; i < sizeof members / sizeof members[0]; i++)
			known = known || strcmp(name, members[i]) == 0;
		if (!known)
			return fail(err, errcap, "signature object has an unknown member");
	}
	alg = json_string_value(json_object_get(o, "alg"));
	if (alg == NULL || strcmp(alg, NDX_MSGSIG_ALG) != 0)
		return fail(err, errcap, "signature object: alg must be \"%s\"", NDX_MSGSIG_ALG);
	kid = json_string_value(json_object_get(o, "key_id"));
	if (kid == NULL || !is_lower_hex(kid, NDX_KEY_ID_HEX_LEN))
		return fail(err, errcap,
			    "signature object: key_id must be %d lower-case hex digits",
			    NDX_KEY_ID_HEX_LEN);
	memcpy(out->key_id, kid, NDX_KEY_ID_HEX_LEN + 1);
	if (!get_uint(o, "tree_size", 1, MAX_TREE_SIZE, &out->tree_size))
		return fail(err, errcap,
			    "signature object: tree_size must be an integer from 1 to %llu",
			    (unsigned long long)MAX_TREE_SIZE);
	if (!get_uint(o, "leaf_index", 0, out->tree_size - 1, &out->leaf_index))
		return fail(err, errcap,
			    "signature object: leaf_index must be an integer below tree_size");
	arr = json_object_get(o, "audit_path");
	if (!json_is_array(arr))
		return fail(err, errcap, "signature object: audit_path must be an array");
	want = path_len_for(out->leaf_index, out->tree_size);
	if (json_array_size(arr) != want)
		return fail(err, errcap,
			    "signature object: audit_path has %zu entries, leaf %llu of %llu "
			    "needs %zu",
			    json_array_size(arr), (unsigned long long)out->leaf_index,
			    (unsigned long long)out->tree_size, want);
	for (size_t i = 0; i < want; i++) {
		if (!decode_exact(json_array_get(arr, i), out->path[i], NDX_SHA256_LEN))
			return fail(err, errcap,
				    "signature object: audit_path[%zu] must be base64 of %d bytes",
				    i, NDX_SHA256_LEN);
	}
	out->path_len = want;
	if (!decode_exact(json_object_get(o, "root_signature"), out->root_signature,
			  NDX_ED25519_SIG_LEN))
		return fail(err, errcap,
			    "signature object: root_signature must be base64 of %d bytes",
			    NDX_ED25519_SIG_LEN);
	return NDX_OK;
}

/* The signer's own spelling (object_text: compact, members in its order,
 * integers without leading zeros), read without a JSON tree, because each
 * exchange parses one or two objects and a jansson tree of one costs about
 * fifteen allocations. It accepts only text that is that spelling with
 * values parse_object accepts, checked by the same rules, so it gives the
 * same struct as the tree would; anything else (another spelling, every
 * refusal) returns false and goes to the JSON path, which alone decides
 * and words the errors. */
static bool lit(const char **p, const char *end, const char *s, size_t n)
{
	if ((size_t)(end - *p) < n || memcmp(*p, s, n) != 0)
		return false;
	*p += n;
	return true;
}

#define LIT(p, end, s) lit(p, end, s, sizeof s - 1)

/* A JSON integer of at most 19 digits without a leading zero, at most max. */
static bool spelled_uint(const char **p, const char *end, uint64_t max, uint64_t *out)
{
	const char *q = *p;
	uint64_t v = 0;

	while (q < end && *q >= '0' && *q <= '9') {
		if (q - *p == 19)
			return false;
		v = v * 10 + (uint64_t)(*q++ - '0');
	}
	if (q == *p || ((*p)[0] == '0' && q - *p > 1) || v > max)
		return false;
	*p = q;
	*out = v;
	return true;
}

/* A JSON string of base64 characters (no escapes), decoded as exactly len
 * bytes; *p is at its opening quote. */
static bool spelled_b64(const char **p, const char *end, uint8_t *out, size_t len)
{
	const char *s, *q;

	if (!LIT(p, end, "\""))
		return false;
	s = q = *p;
	while (q < end && *q != '"' && *q != '\\')
		q++;
	if (q == end || *q != '"' || !decode_b64_exact(s, (size_t)(q - s), out, len))
		return false;
	*p = q + 1;
	return true;
}

static bool parse_signers_spelling(const char *text, size_t len, struct ndx_msgsig *out)
{
	const char *p = text, *end = text + len;
	size_t want;

	if (!LIT(&p, end, "{\"alg\":\"" NDX_MSGSIG_ALG "\",\"key_id\":\"") ||
	    end - p < NDX_KEY_ID_HEX_LEN)
		return false;
	for (size_t i = 0; i < NDX_KEY_ID_HEX_LEN; i++) {
		if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
			return false;
	}
	memcpy(out->key_id, p, NDX_KEY_ID_HEX_LEN);
	out->key_id[NDX_KEY_ID_HEX_LEN] = '\0';
	p += NDX_KEY_ID_HEX_LEN;
	if (!LIT(&p, end, "\",\"tree_size\":") ||
	    !spelled_uint(&p, end, MAX_TREE_SIZE, &out->tree_size) || out->tree_size < 1 ||
	    !LIT(&p, end, ",\"leaf_index\":") ||
	    !spelled_uint(&p, end, out->tree_size - 1, &out->leaf_index) ||
	    !LIT(&p, end, ",\"audit_path\":["))
		return false;
	want = path_len_for(out->leaf_index, out->tree_size);
	for (size_t i = 0; i < want; i++) {
		if ((i > 0 && !LIT(&p, end, ",")) ||
		    !spelled_b64(&p, end, out->path[i], NDX_SHA256_LEN))
			return false;
	}
	out->path_len = want;
	return LIT(&p, end, "],\"root_signature\":") &&
	       spelled_b64(&p, end, out->root_signature, NDX_ED25519_SIG_LEN) &&
	       LIT(&p, end, "}") && p == end;
}

int ndx_msgsig_parse(const char *text, size_t len, struct ndx_msgsig *out,
		     char *err, size_t errcap)
{
	json_error_t jerr;
	json_t *o;
	int rc;

	assert(out != NULL);
	memset(out, 0, sizeof *out);
	if (err != NULL && errcap > 0)
		err[0] = '\0';
	if (text == NULL || len == 0)
		return fail(err, errcap, "signature object is empty");
	if (len > NDX_MSGSIG_MAX_TEXT)
		return fail(err, errcap, "signature object is longer than %d bytes",
			    NDX_MSGSIG_MAX_TEXT);
	if (parse_signers_spelling(text, len, out))
		return NDX_OK;
	memset(out, 0, sizeof *out);
	o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (o == NULL)
		return fail(err, errcap, "signature object is not valid JSON: %s", jerr.text);
	rc = parse_object(o, out, err, errcap);
	json_decref(o);
	if (rc != NDX_OK)
		memset(out, 0, sizeof *out);
	return rc;
}

int ndx_msgsig_verify(const struct ndx_msgsig *sig, const struct ndx_key *key,
		      const uint8_t hash[NDX_SHA256_LEN], uint8_t root_out[NDX_SHA256_LEN])
{
	char kid[NDX_KEY_ID_HEX_LEN + 1];
	uint8_t leaf[NDX_SHA256_LEN], root[NDX_SHA256_LEN], msg[ROOT_MSG_LEN];
	int rc;

	assert(sig != NULL && key != NULL && hash != NULL);
	ndx_key_id(key, kid);
	if (memcmp(kid, sig->key_id, sizeof kid) != 0)
		return NDX_ENOTFOUND;
	/* The struct is public and may not come from ndx_msgsig_parse, so
	 * the path is checked again while folding. */
	ndx_merkle_leaf(hash, NDX_SHA256_LEN, leaf);
	if (ndx_merkle_root_from_path(leaf, sig->leaf_index, sig->tree_size,
				      (const uint8_t (*)[NDX_SHA256_LEN])sig->path, sig->path_len,
				      root) != NDX_OK)
		return NDX_EINVAL;
	root_message(root, sig->tree_size, msg);
	rc = ndx_verify(key, msg, sizeof msg, sig->root_signature);
	if (rc == NDX_OK && root_out != NULL)
		memcpy(root_out, root, NDX_SHA256_LEN);
	return rc;
}
