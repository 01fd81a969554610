/* Message signing and verification for both roles (docs/protocol.md
 * "Signature object"), and the random ids the gateway hands out.
 *
 * Signing is adaptive batch signing (DESIGN.md section 3): every hash to
 * sign joins one queue, and whoever finds no signature under way becomes
 * the signer for everything queued at that moment: one RFC 6962 tree, one
 * Ed25519 signature over its root (ndx_msgsig_sign_batch), one signature
 * object with its own audit path for each waiter. At low load the queue
 * holds only the caller's hash, which it signs at once: a batch of one, no
 * added wait and no hand-off to another thread. Under load the hashes that
 * queue while one batch is being signed make up the next batch, so one
 * signature covers many messages. The signer is one of the calling
 * threads rather than a thread of its own because on a small machine the
 * two context switches a hand-off costs are worth more than the signature
 * saved at low load.
 *
 * Verification keeps a bounded cache of verified batch roots: (public key,
 * root signature) -> root and tree size. A message of a batch whose root
 * was already verified costs one audit-path check (a few SHA-256) instead
 * of an Ed25519 verification; an entry exists only for a signature that
 * verified, and a hit requires the same signature bytes, so what a hit
 * accepts is exactly what a full verification would. */
#include <openssl/rand.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "signer.h"
#include "metrics.h"
#include "gwconfig.h"
#include "ndx/err.h"
#include "ndx/merkle.h"
#include "ndx/msgsig.h"

/* Most hashes one signature covers: bounds the signer's stack arrays and
 * the audit path each object carries (8 entries). */
#define BATCH_MAX 256
/* Slots of the verified-root cache (a power of two): 1024 batches of
 * recently seen peers, about 150 KiB. */
#define VCACHE_SLOTS 1024u

/* Each waiter sleeps on its own condition variable and is woken exactly
 * when its object is ready or when it is first in the queue as a batch
 * ends (to sign the next one): a broadcast to every waiter woke dozens of
 * threads per batch only for them to sleep again. */
struct sign_req {
	const struct ndx_key *key;
	const uint8_t *hash;
	char *out;
	bool done;
	pthread_cond_t cv;
	struct sign_req *next;
};

static pthread_mutex_t sign_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sign_req *queue_head, **queue_tail = &queue_head;
static size_t queued; /* requests in the queue */
static bool signing;

static atomic_uint_fast64_t n_signed, n_batches, n_verified, n_cache_hits;

/* Takes up to BATCH_MAX queued requests of the first one's key (one
 * gateway has one key; the check keeps a batch honest if that changes).
 * Called with sign_lock held. */
static size_t take_batch(struct sign_req **batch)
{
	const struct ndx_key *key = queue_head->key;
	size_t n = 0;

	while (queue_head && n < BATCH_MAX && queue_head->key == key) {
		batch[n++] = queue_head;
		queue_head = queue_head->next;
	}
	queued -= n;
	if (!queue_head)
		queue_tail = &queue_head;
	return n;
}

char *gw_sign_hash(const struct gw_config *cfg, const uint8_t hash[NDX_SHA256_LEN])
{
	struct sign_req me = { .key = cfg->sign_key, .hash = hash };
	struct sign_req *batch[BATCH_MAX];
	uint8_t hashes[BATCH_MAX][NDX_SHA256_LEN];
	char *out[BATCH_MAX];

	bool yielded = false;

	pthread_cond_init(&me.cv, NULL);
	pthread_mutex_lock(&sign_lock);
	*queue_tail = &me;
	queue_tail = &me.next;
	queued++;
	while (!me.done) {
		size_t n;

		if (signing) {
			pthread_cond_wait(&me.cv, &sign_lock);
			continue;
		}
		/* Other exchanges are under way and not yet queued: on a
		 * busy machine (one core, say) they are runnable right now
		 * but would only reach the queue after this batch is signed.
		 * Letting them run first, once, is what lets batches form
		 * there; with nothing else runnable the yield returns at
		 * once, and alone in flight nothing waits at all. */
		if (!yielded && gw_metrics_in_flight() > (long)queued) {
			yielded = true;
			pthread_mutex_unlock(&sign_lock);
			sched_yield();
			pthread_mutex_lock(&sign_lock);
			continue;
		}
		/* Nobody is signing: this thread signs what is queued now,
		 * its own hash included (unless BATCH_MAX older ones are
		 * ahead of it; then it goes round again). */
		signing = true;
		n = take_batch(batch);
		pthread_mutex_unlock(&sign_lock);
		for (size_t i = 0; i < n; i++)
			memcpy(hashes[i], batch[i]->hash, NDX_SHA256_LEN);
		/* On failure every out[i] is NULL, and so is every answer. */
		ndx_msgsig_sign_batch(batch[0]->key, (const uint8_t (*)[NDX_SHA256_LEN])hashes, n,
				      out);
		atomic_fetch_add_explicit(&n_signed, n, memory_order_relaxed);
		atomic_fetch_add_explicit(&n_batches, 1, memory_order_relaxed);
		pthread_mutex_lock(&sign_lock);
		for (size_t i = 0; i < n; i++) {
			batch[i]->out = out[i];
			batch[i]->done = true;
			/* Its owner cannot return (and end batch[i]) before the
			 * lock is released. */
			if (batch[i] != &me)
				pthread_cond_signal(&batch[i]->cv);
		}
		signing = false;
		/* The first of those queued meanwhile signs the next batch. */
		if (queue_head)
			pthread_cond_signal(&queue_head->cv);
	}
	pthread_mutex_unlock(&sign_lock);
	pthread_cond_destroy(&me.cv);
	return me.out;
}

void gw_sign_batch(const struct ndx_key *key, const uint8_t (*hashes)[NDX_SHA256_LEN], size_t n,
		   char **out)
{
	while (n > 0) {
		size_t k = n < BATCH_MAX ? n : BATCH_MAX;

		ndx_msgsig_sign_batch(key, hashes, k, out);
		atomic_fetch_add_explicit(&n_signed, k, memory_order_relaxed);
		atomic_fetch_add_explicit(&n_batches, 1, memory_order_relaxed);
		hashes += k;
		out += k;
		n -= k;
	}
}

struct vslot {
	bool used;
	uint8_t pub[NDX_ED25519_PUBLIC_LEN];
	uint8_t sig[NDX_ED25519_SIG_LEN];
	uint64_t tree_size;
	uint8_t root[NDX_SHA256_LEN];
};

static struct vslot vcache[VCACHE_SLOTS];
static pthread_mutex_t vcache_lock = PTHREAD_MUTEX_INITIALIZER;

/* The first bytes of an Ed25519 signature (its R) are as good as random:
 * they pick the slot. A colliding batch simply replaces the older one. */
static struct vslot *vslot_of(const uint8_t sig[NDX_ED25519_SIG_LEN])
{
	uint32_t h;

	memcpy(&h, sig, sizeof h);
	return &vcache[h & (VCACHE_SLOTS - 1)];
}

/* True when (pub, sig) verified before; copies the root it was over. */
static bool vcache_get(const uint8_t pub[NDX_ED25519_PUBLIC_LEN], const struct ndx_msgsig *sig,
		       uint8_t root[NDX_SHA256_LEN])
{
	struct vslot *s = vslot_of(sig->root_signature);
	bool hit;

	pthread_mutex_lock(&vcache_lock);
	hit = s->used && s->tree_size == sig->tree_size &&
	      memcmp(s->sig, sig->root_signature, sizeof s->sig) == 0 &&
	      memcmp(s->pub, pub, sizeof s->pub) == 0;
	if (hit)
		memcpy(root, s->root, NDX_SHA256_LEN);
	pthread_mutex_unlock(&vcache_lock);
	return hit;
}

static void vcache_put(const uint8_t pub[NDX_ED25519_PUBLIC_LEN], const struct ndx_msgsig *sig,
		       const uint8_t root[NDX_SHA256_LEN])
{
	struct vslot *s = vslot_of(sig->root_signature);

	pthread_mutex_lock(&vcache_lock);
	s->used = true;
	memcpy(s->pub, pub, sizeof s->pub);
	memcpy(s->sig, sig->root_signature, sizeof s->sig);
	s->tree_size = sig->tree_size;
	memcpy(s->root, root, NDX_SHA256_LEN);
	pthread_mutex_unlock(&vcache_lock);
}

int gw_verify_hash(const struct ndx_key *key, const char *sig_text,
		   const uint8_t hash[NDX_SHA256_LEN], char *err, size_t errcap)
{
	struct ndx_msgsig sig;
	uint8_t pub[NDX_ED25519_PUBLIC_LEN], root[NDX_SHA256_LEN], leaf[NDX_SHA256_LEN];
	char kid[NDX_KEY_ID_HEX_LEN + 1];
	size_t len;
	int rc;

	if (!sig_text) {
		snprintf(err, errcap, "no signature");
		return NDX_EINVAL;
	}
	if (!key) {
		snprintf(err, errcap, "no signing key for the gateway in the configuration");
		return NDX_ENOTFOUND;
	}
	len = strlen(sig_text);
	if (len > NDX_MSGSIG_MAX_TEXT) {
		snprintf(err, errcap, "signature object too long");
		return NDX_EINVAL;
	}
	rc = ndx_msgsig_parse(sig_text, len, &sig, err, errcap);
	if (rc != NDX_OK)
		return rc;
	ndx_key_id(key, kid);
	if (strcmp(kid, sig.key_id) != 0) {
		snprintf(err, errcap, "signed with key %s, not the gateway's key", sig.key_id);
		return NDX_ENOTFOUND;
	}
	ndx_key_public_raw(key, pub);
	if (vcache_get(pub, &sig, root)) {
		ndx_merkle_leaf(hash, NDX_SHA256_LEN, leaf);
		if (ndx_merkle_verify(leaf, sig.leaf_index, sig.tree_size,
				      (const uint8_t (*)[NDX_SHA256_LEN])sig.path, sig.path_len,
				      root) == NDX_OK) {
			atomic_fetch_add_explicit(&n_cache_hits, 1, memory_order_relaxed);
			return NDX_OK;
		}
		/* Not this root's message: the full check says why. */
	}
	rc = ndx_msgsig_verify(&sig, key, hash, root);
	atomic_fetch_add_explicit(&n_verified, 1, memory_order_relaxed);
	if (rc == NDX_OK)
		vcache_put(pub, &sig, root);
	else if (rc == NDX_ENOTFOUND)
		snprintf(err, errcap, "signed with key %s, not the gateway's key", sig.key_id);
	else
		snprintf(err, errcap, "the signature does not verify");
	return rc;
}

void gw_signer_stats(struct gw_signer_stats *st)
{
	st->messages_signed = atomic_load_explicit(&n_signed, memory_order_relaxed);
	st->signatures = atomic_load_explicit(&n_batches, memory_order_relaxed);
	st->verifications = atomic_load_explicit(&n_verified, memory_order_relaxed);
	st->verify_cache_hits = atomic_load_explicit(&n_cache_hits, memory_order_relaxed);
}

/* Random bytes for ids, drawn from OpenSSL's generator 512 at a time per
 * thread: each RAND_bytes call checks for a fork with a getpid system call,
 * which on this kind of VM costs more than the 16 bytes themselves (one to
 * three ids an exchange). The gateway never forks. */
#define RANDOM_POOL 512

static int random_bytes(uint8_t *out, size_t n)
{
	static _Thread_local uint8_t pool[RANDOM_POOL];
	static _Thread_local size_t left;

	if (n > RANDOM_POOL)
		return RAND_bytes(out, (int)n) == 1 ? NDX_OK : NDX_ECRYPTO;
	if (left < n) {
		if (RAND_bytes(pool, RANDOM_POOL) != 1)
			return NDX_ECRYPTO;
		left = RANDOM_POOL;
	}
	memcpy(out, pool + RANDOM_POOL - left, n);
	/* used bytes are not kept */
	memset(pool + RANDOM_POOL - left, 0, n);
	left -= n;
	return NDX_OK;
}

static void uuid_format(const uint8_t b[16], char out[GW_UUID_LEN])
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	for (size_t i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[b[i] >> 4];
		out[o++] = hex[b[i] & 15];
	}
	out[o] = '\0';
}

int gw_uuid(char out[GW_UUID_LEN])
{
	uint8_t b[16];

	if (random_bytes(b, sizeof b) != NDX_OK)
		return NDX_ECRYPTO;
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
	uuid_format(b, out);
	return NDX_OK;
}

void gw_uuid7_at(uint64_t unix_ns, const uint8_t rnd[8], char out[GW_UUID_LEN])
{
	uint64_t ms = unix_ns / 1000000;
	/* RFC 9562 section 6.2, method 3: the 12 bits of rand_a carry the
	 * fraction of the millisecond, so ids of one millisecond still sort
	 * nearly in order; rand_b stays random. */
	uint32_t frac = (uint32_t)((unix_ns % 1000000) * 4096 / 1000000);
	uint8_t b[16];

	for (int i = 0; i < 6; i++)
		b[i] = (uint8_t)(ms >> (40 - 8 * i));
	b[6] = (uint8_t)(0x70 | (frac >> 8)); /* version 7 */
	b[7] = (uint8_t)frac;
	memcpy(b + 8, rnd, 8);
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* RFC 9562 variant */
	uuid_format(b, out);
}

int gw_uuid7(char out[GW_UUID_LEN])
{
	uint8_t rnd[8];
	struct timespec ts;

	if (random_bytes(rnd, sizeof rnd) != NDX_OK)
		return NDX_ECRYPTO;
	clock_gettime(CLOCK_REALTIME, &ts);
	gw_uuid7_at((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec, rnd, out);
	return NDX_OK;
}
