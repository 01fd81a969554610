/* The replay cache of the provider gateway (replay.h; threat T9 in
 * docs/security.md): a fixed-size hash set of request keys, split into
 * shards with a mutex each so that pool threads rarely wait for one
 * another. Each shard is an open-addressing table with linear probing;
 * expired entries are removed with backward-shift deletion (no tombstones,
 * so probe chains never grow with the age of the table) when a probe meets
 * them, and by a sweep of the shard when it looks full. When a shard is full
 * of live entries the request is refused: forgetting a live entry early
 * would let exactly the replay through that the cache exists to stop, and
 * an attacker able to fill the cache could then replay at will. Refusing
 * (503, the consumer retries later) fails closed and only costs
 * availability, which the capacity is sized to protect. So that one member
 * cannot spend that availability for everyone, each entry is charged to the
 * member whose client sent it, and a member holding its share of live
 * entries is refused alone. */
#include "replay.h"

#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "ndx/err.h"
#include "ndx/hash.h"

/* Stored bytes of a key: SHA-256 outputs are uniform, and 128 bits make an
 * accidental collision among a million entries a 2^-88 event; a deliberate
 * one needs a second preimage of a truncated SHA-256 (and a collision of a
 * member's own requests only refuses that member's second request). */
#define STORED_LEN 16
#define MAX_SHARDS 64u
/* Shards are split off only while each keeps at least this many entries,
 * so that small caches (tests, tiny deployments) have an exact capacity. */
#define MIN_SHARD_CAPACITY 1024u
/* Owner counters: members hash into these (collisions share a count). */
#define OWNER_SLOTS 65536u

struct entry {
	uint8_t key[STORED_LEN];
	int64_t expires; /* live while now <= expires; 0 = empty slot */
	uint32_t owner;  /* a slot of owners[], or GW_REPLAY_NO_OWNER */
};

struct shard {
	pthread_mutex_t lock;
	struct entry *slots;
	size_t nslots;
	size_t capacity; /* live entries allowed; nslots is 3/2 of it */
	size_t count;    /* occupied slots, live or expired-but-unswept */
	int64_t swept_at;/* now of the last full sweep */
	atomic_size_t *owners; /* the cache's, shared by every shard */
};

struct gw_replay {
	struct shard *shards;
	size_t nshards; /* a power of two */
	atomic_uint window_s;
	atomic_size_t share;
	atomic_size_t *owners; /* OWNER_SLOTS counts of occupied slots */
};

struct gw_replay *gw_replay_new(size_t capacity, unsigned window_s)
{
	struct gw_replay *rc;
	size_t n = 1, per;

	if (capacity == 0 || window_s == 0 || capacity > SIZE_MAX / 4 / sizeof(struct entry))
		return NULL;
	while (n < MAX_SHARDS && capacity / (n * 2) >= MIN_SHARD_CAPACITY)
		n *= 2;
	per = (capacity + n - 1) / n;
	rc = calloc(1, sizeof *rc);
	if (!rc)
		return NULL;
	rc->shards = calloc(n, sizeof *rc->shards);
	rc->owners = calloc(OWNER_SLOTS, sizeof *rc->owners);
	if (!rc->shards || !rc->owners) {
		free(rc->shards);
		free(rc->owners);
		free(rc);
		return NULL;
	}
	atomic_init(&rc->window_s, window_s);
	atomic_init(&rc->share, capacity);
	for (size_t i = 0; i < n; i++) {
		struct shard *s = &rc->shards[i];

		/* Load at most 2/3: linear probing stays short (about 3 probes
		 * for a miss on average) even when the shard is full. */
		s->capacity = per;
		s->nslots = per + per / 2 + 1;
		s->slots = calloc(s->nslots, sizeof *s->slots);
		s->owners = rc->owners;
		if (!s->slots || pthread_mutex_init(&s->lock, NULL) != 0) {
			free(s->slots);
			rc->nshards = i;
			gw_replay_free(rc);
			return NULL;
		}
		rc->nshards = i + 1;
	}
	return rc;
}

void gw_replay_free(struct gw_replay *rc)
{
	if (!rc)
		return;
	for (size_t i = 0; i < rc->nshards; i++) {
		pthread_mutex_destroy(&rc->shards[i].lock);
		free(rc->shards[i].slots);
	}
	free(rc->shards);
	free(rc->owners);
	free(rc);
}

uint32_t gw_replay_owner(const char *member)
{
	uint32_t h = 2166136261u;

	for (const unsigned char *p = (const unsigned char *)(member ? member : ""); *p; p++) {
		h ^= *p;
		h *= 16777619u;
	}
	return h % OWNER_SLOTS;
}

void gw_replay_set_share(struct gw_replay *rc, size_t share)
{
	assert(rc && share > 0);
	atomic_store(&rc->share, share);
}

size_t gw_replay_owner_count(struct gw_replay *rc, uint32_t owner)
{
	return owner < OWNER_SLOTS ? atomic_load(&rc->owners[owner]) : 0;
}

void gw_replay_key(const uint8_t request_hash[GW_REPLAY_KEY_LEN], uint8_t out[GW_REPLAY_KEY_LEN])
{
	memcpy(out, request_hash, GW_REPLAY_KEY_LEN);
}

static uint64_t load64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* A slot keeps only the stored prefix, and deletion must recompute the
 * home slot of entries it moves, so the home comes from that prefix
 * (bytes 8..15); the shard comes from byte 31, independent of both. */
static size_t home_of(const struct shard *s, const uint8_t *key)
{
	return (size_t)(load64(key + 8) % s->nslots);
}

/* Knuth's algorithm R for linear probing: empties slot i and moves later
 * members of its cluster back, so that every entry stays reachable from its
 * home slot and no tombstones pile up. */
static void delete_at(struct shard *s, size_t i)
{
	size_t j = i;

	for (;;) {
		j = (j + 1) % s->nslots;
		if (s->slots[j].expires == 0)
			break;
		size_t k = home_of(s, s->slots[j].key);
		/* Entry j may move to the hole at i unless its home k lies
		 * cyclically in (i, j]. */
		bool stays = (i <= j) ? (i < k && k <= j) : (i < k || k <= j);
		if (stays)
			continue;
		s->slots[i] = s->slots[j];
		i = j;
	}
	memset(&s->slots[i], 0, sizeof s->slots[i]);
	s->count--;
}

/* Empties slot i, whose entry leaves its owner's count. */
static void remove_at(struct shard *s, size_t i)
{
	uint32_t owner = s->slots[i].owner;

	if (owner < OWNER_SLOTS)
		atomic_fetch_sub(&s->owners[owner], 1);
	delete_at(s, i);
}

/* Removes every expired entry of the shard. A deletion may move a later
 * entry into slot i, which is then looked at again; entries are only ever
 * moved into the hole being filled, so none is skipped. */
static void sweep(struct shard *s, int64_t now)
{
	for (size_t i = 0; i < s->nslots; i++) {
		while (s->slots[i].expires != 0 && s->slots[i].expires < now)
			remove_at(s, i);
	}
	s->swept_at = now;
}

/* Counts one more entry for owner, unless it holds its share. The count
 * also holds its expired entries not yet swept, so before refusing, this
 * shard (locked by the caller) is swept once a second: a member refused
 * while its old entries expire frees a shard's worth at each try. */
static bool charge(struct gw_replay *rc, struct shard *s, uint32_t owner, int64_t now)
{
	size_t share = atomic_load(&rc->share);

	if (atomic_fetch_add(&rc->owners[owner], 1) < share)
		return true;
	atomic_fetch_sub(&rc->owners[owner], 1);
	if (s->swept_at == now)
		return false;
	sweep(s, now);
	if (atomic_fetch_add(&rc->owners[owner], 1) < share)
		return true;
	atomic_fetch_sub(&rc->owners[owner], 1);
	return false;
}

int gw_replay_check_and_add(struct gw_replay *rc, const uint8_t key[GW_REPLAY_KEY_LEN],
			    time_t now)
{
	return gw_replay_check_and_add_owned(rc, key, GW_REPLAY_NO_OWNER, now);
}

int gw_replay_check_and_add_owned(struct gw_replay *rc, const uint8_t key[GW_REPLAY_KEY_LEN],
				  uint32_t owner, time_t now_t)
{
	struct shard *s;
	int64_t now = (int64_t)now_t;
	size_t i;
	int ret;

	assert(rc && key);
	s = &rc->shards[key[31] & (rc->nshards - 1)];
	pthread_mutex_lock(&s->lock);
	i = home_of(s, key);
	for (;;) {
		struct entry *e = &s->slots[i];

		if (e->expires == 0)
			break;
		if (e->expires < now) {
			/* Expired on the probe path: remove it; a later entry
			 * of the cluster may now sit at i. */
			remove_at(s, i);
			continue;
		}
		if (memcmp(e->key, key, STORED_LEN) == 0) {
			ret = NDX_EEXIST;
			goto out;
		}
		i = (i + 1) % s->nslots;
	}
	if (s->count >= s->capacity && s->swept_at != now) {
		sweep(s, now);
		/* The sweep may have moved entries: find the free slot again. */
		i = home_of(s, key);
		while (s->slots[i].expires != 0)
			i = (i + 1) % s->nslots;
	}
	if (s->count >= s->capacity) {
		ret = NDX_ETOOBIG;
		goto out;
	}
	if (owner < OWNER_SLOTS && !charge(rc, s, owner, now)) {
		ret = NDX_EPERM;
		goto out;
	}
	/* charge() may have swept the shard: find the free slot again. */
	i = home_of(s, key);
	while (s->slots[i].expires != 0)
		i = (i + 1) % s->nslots;
	memcpy(s->slots[i].key, key, STORED_LEN);
	s->slots[i].owner = owner < OWNER_SLOTS ? owner : GW_REPLAY_NO_OWNER;
	s->slots[i].expires = now + (int64_t)atomic_load(&rc->window_s);
	if (s->slots[i].expires == 0)
		s->slots[i].expires = 1; /* a clock at -window_s: still not "empty" */
	s->count++;
	ret = NDX_OK;
out:
	pthread_mutex_unlock(&s->lock);
	return ret;
}

void gw_replay_set_window(struct gw_replay *rc, unsigned window_s)
{
	assert(rc && window_s > 0);
	atomic_store(&rc->window_s, window_s);
}

size_t gw_replay_count(struct gw_replay *rc)
{
	size_t n = 0;

	for (size_t i = 0; i < rc->nshards; i++) {
		pthread_mutex_lock(&rc->shards[i].lock);
		n += rc->shards[i].count;
		pthread_mutex_unlock(&rc->shards[i].lock);
	}
	return n;
}
