/* store_ckpt.c: the WAL checkpointer thread, so the writer never waits for
 * a checkpoint's copy and fdatasync (see store_ckpt.h, used by store.c).
 *
 * Design: the thread has its own connection on the database (NOMUTEX: only
 * it uses that connection) and sleeps on a condition until ckpt_kick()
 * (store.c's WAL hook, on the committing thread, once the WAL holds
 * CFG_STORE_WAL_KIB) sets `want`; then it runs one PASSIVE checkpoint,
 * which copies the WAL frames no reader still needs into the database and
 * syncs (synchronous=NORMAL: the WAL before the copy, the database after),
 * without ever taking the writer's lock: the writer goes on committing
 * meanwhile. Kicks that come while a checkpoint runs fold into one more
 * run; ckpt_wait lets store.c's backstop wait for the run in progress.
 * SQLITE_BUSY (another checkpoint running: the backstop) is normal and
 * retried at the next kick; any other error is kept
 * (the first one) and returned by ckpt_stop, never dropped. The WAL itself
 * restarts only when a write transaction begins after a checkpoint copied
 * every frame; store.c bounds it (see store_wal_hook). Closing this
 * connection never checkpoints (another is open): the store's own
 * connection, closed last, still checkpoints and syncs at close. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include <sqlite3.h>

#include "store_ckpt.h"

struct ckpt {
	sqlite3 *db; /* the thread's connection; static after ckpt_start */
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_cond_t idle; /* a checkpoint ended */
	int want;            /* mu: a checkpoint is asked for */
	int running;         /* mu: a checkpoint is running */
	int stop;            /* mu: ckpt_stop is waiting for the thread */
	long runs;           /* mu: checkpoints run (SQLITE_OK) */
	int failed;          /* mu: a checkpoint met an error; err says which */
	char err[256];       /* mu */
};

/* The thread: one PASSIVE checkpoint per wake-up until stopped. */
static void *ckpt_main(void *arg)
{
	struct ckpt *c = arg;

	pthread_mutex_lock(&c->mu);
	for (;;) {
		int rc;

		while (!c->want && !c->stop)
			pthread_cond_wait(&c->cv, &c->mu);
		if (c->stop && !c->want) /* a kick before the stop is honoured; what is
		                          * left is checkpointed at the store's close */
			break;
		c->want = 0;
		c->running = 1;
		pthread_mutex_unlock(&c->mu);
		rc = sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		pthread_mutex_lock(&c->mu);
		if (rc == SQLITE_OK)
			c->runs++;
		else if (rc != SQLITE_BUSY && !c->failed) {
			c->failed = 1;
			snprintf(c->err, sizeof(c->err), "database: WAL checkpoint: %s",
			         sqlite3_errmsg(c->db));
		}
		c->running = 0;
		pthread_cond_broadcast(&c->idle);
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

struct ckpt *ckpt_start(const char *path, char *err, size_t errlen)
{
	struct ckpt *c = calloc(1, sizeof(*c));
	char *msg = NULL;

	if (!c) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
	    SQLITE_OK) {
		snprintf(err, errlen, "%s: cannot open the checkpointer's connection: %s", path,
		         c->db ? sqlite3_errmsg(c->db) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(c->db, 10000);
	/* a read opens the connection's WAL (a checkpoint before any read has
	 * none to copy); NORMAL as the writer's: a checkpoint syncs */
	if (sqlite3_exec(c->db, "PRAGMA synchronous=NORMAL; SELECT count(*) FROM sqlite_schema;",
	                 NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errlen, "%s: checkpointer's connection: %s", path,
		         msg ? msg : "error");
		sqlite3_free(msg);
		goto fail;
	}
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	pthread_cond_init(&c->idle, NULL);
	if (pthread_create(&c->th, NULL, ckpt_main, c) != 0) {
		snprintf(err, errlen, "cannot start the WAL checkpointer thread");
		pthread_mutex_destroy(&c->mu);
		pthread_cond_destroy(&c->cv);
		pthread_cond_destroy(&c->idle);
		goto fail;
	}
	return c;
fail:
	sqlite3_close(c->db);
	free(c);
	return NULL;
}

void ckpt_kick(struct ckpt *c)
{
	pthread_mutex_lock(&c->mu);
	c->want = 1;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

void ckpt_wait(struct ckpt *c)
{
	pthread_mutex_lock(&c->mu);
	while (c->running || c->want)
		pthread_cond_wait(&c->idle, &c->mu);
	pthread_mutex_unlock(&c->mu);
}

int ckpt_stop(struct ckpt *c, long *runs, char *err, size_t errlen)
{
	int failed;

	if (!c)
		return 0;
	pthread_mutex_lock(&c->mu);
	c->stop = 1;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
	pthread_join(c->th, NULL);
	failed = c->failed;
	if (failed)
		snprintf(err, errlen, "%s", c->err);
	if (runs)
		*runs = c->runs;
	sqlite3_close(c->db);
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->cv);
	pthread_cond_destroy(&c->idle);
	free(c);
	return failed ? -1 : 0;
}
