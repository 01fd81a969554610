/* What both engines of ndx/sqldb.h (sqldb_sqlite.c, sqldb_pg.c) share to
 * let threads share a handle (ndx/sqldb.h "Threads"): the handle's turn.
 * A transaction or snapshot keeps the turn from its BEGIN until it ends; a
 * statement outside one takes it while it runs. So another thread's
 * statement waits for the transaction to end instead of landing inside it
 * (where it would read changes not yet committed, or see its own write
 * undone by the other thread's rollback), and on PostgreSQL two threads
 * never interleave their messages on the one connection, which libpq does
 * not allow and which left both threads waiting for an answer forever.
 *
 * The mutex is recursive so that the owner's own statements inside its
 * transaction take it again. The engines take no other lock while they
 * hold it; a caller holding it through a transaction must not wait for
 * another thread (ndx/sqldb.h "Threads"). Header-only because the
 * PostgreSQL engine is a library of its own beside libndx. */
#ifndef NDX_SQLDB_TURN_H
#define NDX_SQLDB_TURN_H

#include <pthread.h>
#include <stdbool.h>

#include "ndx/err.h"

struct sqldb_turn {
	pthread_mutex_t mu;
	bool kept; /* held once more by a transaction until it ends */
};

static inline int sqldb_turn_init(struct sqldb_turn *t)
{
	pthread_mutexattr_t attr;
	int rc;

	t->kept = false;
	if (pthread_mutexattr_init(&attr))
		return NDX_ENOMEM;
	rc = pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE) ||
	     pthread_mutex_init(&t->mu, &attr);
	pthread_mutexattr_destroy(&attr);
	return rc ? NDX_ENOMEM : NDX_OK;
}

static inline void sqldb_turn_destroy(struct sqldb_turn *t)
{
	pthread_mutex_destroy(&t->mu);
}

static inline void sqldb_turn_take(struct sqldb_turn *t)
{
	pthread_mutex_lock(&t->mu);
}

static inline void sqldb_turn_give(struct sqldb_turn *t)
{
	pthread_mutex_unlock(&t->mu);
}

/* With the turn taken, after a BEGIN that succeeded: the transaction keeps
 * the turn until sqldb_turn_end. */
static inline void sqldb_turn_keep(struct sqldb_turn *t)
{
	pthread_mutex_lock(&t->mu);
	t->kept = true;
}

/* With the turn taken: the transaction, if any, has ended. */
static inline void sqldb_turn_end(struct sqldb_turn *t)
{
	if (t->kept) {
		t->kept = false;
		pthread_mutex_unlock(&t->mu);
	}
}

#endif
