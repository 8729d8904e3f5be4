/* store_ckpt.h: the WAL checkpointer thread, private to the store (see store_ckpt.c). */
#ifndef SMAUDIT_STORE_CKPT_H
#define SMAUDIT_STORE_CKPT_H

#include <stddef.h>

struct ckpt;

/* Open a second connection on path and start the thread; NULL with err. */
struct ckpt *ckpt_start(const char *path, char *err, size_t errlen);

/* Have the thread checkpoint the WAL soon (any thread; never waits for a
 * checkpoint: the request is a flag under a lock held for a few stores). */
void ckpt_kick(struct ckpt *c);

/* Wait until the thread has no checkpoint running or asked for. */
void ckpt_wait(struct ckpt *c);

/* Stop and join the thread (after the checkpoint asked for, if it has not
 * begun), close its connection and free c; *runs (if
 * not NULL) gets the checkpoints it ran. Returns 0, or -1 with err naming
 * the first error a checkpoint met (SQLITE_BUSY is not one). NULL is 0. */
int ckpt_stop(struct ckpt *c, long *runs, char *err, size_t errlen);

#endif
