/* syslog_send.h: syslog lines that never make the caller wait.
 *
 * The lines glibc's syslog(3) sends to /dev/log (datagrams, or NUL-framed
 * on a stream socket), sent without blocking: a line the syslog daemon's
 * full queue refuses waits in a bounded queue of ours, and beyond that is
 * dropped and counted; the daemon is told how many once it takes lines
 * again. Private to alert.c; not thread-safe (one thread
 * calls everything). */
#ifndef SMAUDIT_SYSLOG_SEND_H
#define SMAUDIT_SYSLOG_SEND_H

#include <stdint.h>

struct slog;

/* Lines lost, by why. */
enum slog_loss {
	SLOG_REFUSED, /* the daemon's queue and ours were full: it did not keep up */
	SLOG_UNSENT,  /* no daemon could be reached at the socket */
	SLOG_LOSSES
};

/* A sink for facility (LOG_DAEMON, ...) at path (NULL: /dev/log), connected
 * at once when it can be (as openlog's LOG_NDELAY); NULL when out of memory. */
struct slog *slog_open(int facility, const char *path);

/* Send msg at severity (LOG_WARNING, ...) as "<PRI>Mmm dd hh:mm:ss
 * smaudit[PID]: msg" (formatted now), never waiting: after the lines queued
 * before it, or queued itself; dropped and counted when the queue is full. */
void slog_send(struct slog *s, int severity, const char *msg);

/* Send what the queue holds and tell the daemon of the lines lost since it
 * was last told, as far as it takes them now (once a second). */
void slog_flush(struct slog *s);

/* At the end: flush, waiting up to ms for the daemon; queued lines it did
 * not take by then are counted lost. */
void slog_drain(struct slog *s, int ms);

/* Lines lost for why so far; the reason of the last unsent line. */
uint64_t slog_lost(const struct slog *s, enum slog_loss why);
const char *slog_error(const struct slog *s);

/* Close and free (what is still queued is not sent); safe with NULL. */
void slog_close(struct slog *s);

#endif
