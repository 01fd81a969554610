/* Refusal budgets per calling member (peerlimit.h): token buckets in a
 * fixed table indexed by a hash of the member id, each slot under one of a
 * few locks. The bucket holds thousandths of a refusal so that slow rates
 * refill smoothly without floating point. */
#include "peerlimit.h"

#include <assert.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 4096u
#define LOCKS 64u
#define MILLI 1000

struct bucket {
	int64_t milli;   /* refusals left, in thousandths */
	int64_t at_ms;   /* when milli was last brought up to date; 0 = never */
};

struct gw_peerlimit {
	pthread_mutex_t locks[LOCKS];
	struct bucket slots[SLOTS];
	int64_t per_s, burst;
};

/* FNV-1a: the member ids are not chosen by strangers (they are members the
 * TLS certificate proved), so a keyed hash buys nothing here. */
static size_t slot_of(const char *member)
{
	uint32_t h = 2166136261u;

	for (const unsigned char *p = (const unsigned char *)member; *p; p++) {
		h ^= *p;
		h *= 16777619u;
	}
	return h % SLOTS;
}

struct gw_peerlimit *gw_peerlimit_new(unsigned per_s, unsigned burst)
{
	struct gw_peerlimit *pl;
	unsigned i;

	if (per_s == 0 || burst == 0)
		return NULL;
	pl = calloc(1, sizeof *pl);
	if (!pl)
		return NULL;
	for (i = 0; i < LOCKS; i++) {
		if (pthread_mutex_init(&pl->locks[i], NULL) != 0) {
			while (i-- > 0)
				pthread_mutex_destroy(&pl->locks[i]);
			free(pl);
			return NULL;
		}
	}
	pl->per_s = per_s;
	pl->burst = burst;
	return pl;
}

void gw_peerlimit_set(struct gw_peerlimit *pl, unsigned per_s, unsigned burst)
{
	assert(pl && per_s > 0 && burst > 0);
	for (unsigned i = 0; i < LOCKS; i++)
		pthread_mutex_lock(&pl->locks[i]);
	pl->per_s = per_s;
	pl->burst = burst;
	for (unsigned i = 0; i < SLOTS; i++)
		if (pl->slots[i].milli > (int64_t)burst * MILLI)
			pl->slots[i].milli = (int64_t)burst * MILLI;
	for (unsigned i = LOCKS; i-- > 0;)
		pthread_mutex_unlock(&pl->locks[i]);
}

/* Brings b up to now_ms; the caller holds its lock. A bucket never seen
 * starts full; a clock that went back refills nothing. */
static void refill(const struct gw_peerlimit *pl, struct bucket *b, int64_t now_ms)
{
	int64_t full = pl->burst * MILLI;

	if (b->at_ms == 0) {
		b->milli = full;
		b->at_ms = now_ms;
		return;
	}
	if (now_ms > b->at_ms) {
		int64_t add = (now_ms - b->at_ms) * pl->per_s;
		b->milli = add >= full - b->milli ? full : b->milli + add;
		b->at_ms = now_ms;
	}
}

static struct bucket *locked(struct gw_peerlimit *pl, const char *member, int64_t now_ms)
{
	size_t i = slot_of(member ? member : "");

	pthread_mutex_lock(&pl->locks[i % LOCKS]);
	refill(pl, &pl->slots[i], now_ms <= 0 ? 1 : now_ms);
	return &pl->slots[i];
}

static void unlock(struct gw_peerlimit *pl, const char *member)
{
	pthread_mutex_unlock(&pl->locks[slot_of(member ? member : "") % LOCKS]);
}

bool gw_peerlimit_allows(struct gw_peerlimit *pl, const char *member, int64_t now_ms)
{
	bool ok = locked(pl, member, now_ms)->milli >= MILLI;

	unlock(pl, member);
	return ok;
}

void gw_peerlimit_charge(struct gw_peerlimit *pl, const char *member, int64_t now_ms)
{
	struct bucket *b = locked(pl, member, now_ms);

	b->milli = b->milli >= MILLI ? b->milli - MILLI : 0;
	unlock(pl, member);
}

unsigned gw_peerlimit_retry_after(struct gw_peerlimit *pl, const char *member, int64_t now_ms)
{
	struct bucket *b = locked(pl, member, now_ms);
	int64_t missing = MILLI - b->milli, per_ms = pl->per_s;
	unsigned s = 0;

	if (missing > 0)
		s = (unsigned)((missing + per_ms * 1000 - 1) / (per_ms * 1000));
	unlock(pl, member);
	return s;
}

void gw_peerlimit_free(struct gw_peerlimit *pl)
{
	if (!pl)
		return;
	for (unsigned i = 0; i < LOCKS; i++)
		pthread_mutex_destroy(&pl->locks[i]);
	free(pl);
}
