/* syslog_send.c: syslog lines that never make the caller wait (see
 * syslog_send.h).
 *
 * glibc's syslog(3) sends on a blocking socket: a syslog daemon that stops
 * reading (stopped, slow, its queue of net.unix.max_dgram_qlen datagrams
 * full) holds the caller in send(), and here the caller is the packet
 * thread. This sends the datagrams glibc would (RFC 3164 as glibc writes
 * it: "<PRI>Mmm dd hh:mm:ss smaudit[PID]: msg", local time, no newline) on
 * an AF_UNIX datagram socket of its own connected to /dev/log, with
 * MSG_DONTWAIT. A line refused (EAGAIN) waits, formatted, in a ring of
 * SLOG_QUEUE lines sent first at the next line or flush (once a second), so
 * a burst of alerts into a daemon that reads is delayed, not lost; with the
 * ring full a line is dropped and counted, and the count is sent to the
 * daemon in one line once the ring has drained. A daemon that went away
 * (restarted: ECONNREFUSED; its socket gone: ENOENT) is reconnected and the
 * line sent once more, as glibc does; while none can be reached, at most one
 * connect a second, and the lines are counted unsent. Trade-off: nothing
 * waits, so a daemon slower than the alerts for long loses lines (counted,
 * said) instead of the capture losing packets; the ring (512 KiB) is made
 * at open. */
#define _GNU_SOURCE /* SOCK_CLOEXEC */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <sys/socket.h>
#include <sys/un.h>

#include "config.h"
#include "syslog_send.h"

#define SLOG_PATH  "/dev/log" /* glibc's _PATH_LOG */
#define SLOG_QUEUE CFG_SYSLOG_QUEUE
#define SLOG_LINE  1024 /* bytes of one datagram, at most */
#define SENT       (-1) /* what the senders return for a line sent */

struct slog {
	int fd; /* connected to path, or -1 */
	int facility;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int64_t next_connect;       /* after a failed connect: not before (mono_ms) */
	uint64_t lost[SLOG_LOSSES]; /* lines lost, by why */
	uint64_t told[SLOG_LOSSES]; /* of which the daemon was told */
	char err[160];              /* why the last unsent line was not sent */
	uint32_t head, count;       /* the ring: oldest line, lines held */
	struct {
		uint16_t len;
		char b[SLOG_LINE];
	} q[SLOG_QUEUE];
};

/* ---- private ----------------------------------------------------------- */

/* Milliseconds of the monotonic clock. */
static int64_t mono_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Connect s->fd to the daemon's socket; 0, or -1 with s->err (and no new
 * try for a second). */
static int slog_connect(struct slog *s)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int64_t now = mono_ms(); /* a second of its own, not the wall clock's */

	if (now < s->next_connect)
		return -1;
	memcpy(sa.sun_path, s->path, sizeof(sa.sun_path));
	s->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s->fd >= 0 && connect(s->fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return 0;
	snprintf(s->err, sizeof(s->err), "%s: %s", s->path, strerror(errno));
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	s->next_connect = now + 1000;
	return -1;
}

/* One datagram of len bytes, never waiting: SENT, or the loss it is. */
static int send_dgram(struct slog *s, const char *buf, size_t len)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		if (s->fd < 0 && slog_connect(s) < 0)
			return SLOG_UNSENT;
		if (send(s->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)len)
			return SENT;
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
			return SLOG_REFUSED;
		/* the daemon went away (ECONNREFUSED, ENOTCONN): connect again once */
		snprintf(s->err, sizeof(s->err), "%s: %s", s->path, strerror(errno));
		close(s->fd);
		s->fd = -1;
	}
	return SLOG_UNSENT;
}

/* msg at severity as glibc's syslog(3) formats it, into buf (SLOG_LINE
 * bytes); its length. */
static size_t format(const struct slog *s, int severity, const char *msg, char *buf)
{
	char ts[32];
	time_t t = time(NULL);
	struct tm tm;
	int n;

	localtime_r(&t, &tm);
	strftime(ts, sizeof(ts), "%h %e %T", &tm);
	n = snprintf(buf, SLOG_LINE, "<%d>%s smaudit[%d]: %s", s->facility | severity, ts,
	             (int)getpid(), msg);
	return n < 0 ? 0 : (size_t)n < SLOG_LINE ? (size_t)n : SLOG_LINE - 1;
}

/* Send the queued lines, oldest first, while the daemon takes them; a line
 * no daemon can be reached for is counted unsent. 0 when the ring is empty. */
static int send_queued(struct slog *s)
{
	while (s->count) {
		int r = send_dgram(s, s->q[s->head].b, s->q[s->head].len);
		if (r == SLOG_REFUSED)
			return -1;
		if (r == SLOG_UNSENT)
			s->lost[SLOG_UNSENT]++;
		s->head = (s->head + 1) % SLOG_QUEUE;
		s->count--;
	}
	return 0;
}

/* Tell the daemon of the lines lost it was not told of; 0 when none is left. */
static int tell(struct slog *s)
{
	static const char *const why[SLOG_LOSSES] = {"the syslog daemon did not keep up",
	                                             "it could not be reached"};
	char msg[160], buf[SLOG_LINE];

	for (int i = 0; i < SLOG_LOSSES; i++) {
		uint64_t n = s->lost[i] - s->told[i];
		if (!n)
			continue;
		snprintf(msg, sizeof(msg), "%llu syslog lines dropped: %s", (unsigned long long)n,
		         why[i]);
		if (send_dgram(s, buf, format(s, LOG_WARNING, msg, buf)) != SENT)
			return -1; /* told later, with what is lost meanwhile */
		s->told[i] += n;
	}
	return 0;
}

/* ---- API --------------------------------------------------------------- */

struct slog *slog_open(int facility, const char *path)
{
	struct slog *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->fd = -1;
	s->facility = facility;
	snprintf(s->path, sizeof(s->path), "%s", path ? path : SLOG_PATH);
	slog_connect(s);
	return s;
}

void slog_flush(struct slog *s)
{
	if (send_queued(s) == 0)
		tell(s);
}

void slog_send(struct slog *s, int severity, const char *msg)
{
	uint32_t tail;
	int r = SLOG_REFUSED;

	if (send_queued(s) == 0) {
		char buf[SLOG_LINE];
		tell(s);
		r = send_dgram(s, buf, format(s, severity, msg, buf));
		if (r == SENT)
			return;
	}
	if (r == SLOG_UNSENT || s->count == SLOG_QUEUE) {
		s->lost[r]++;
		return;
	}
	tail = (s->head + s->count++) % SLOG_QUEUE;
	s->q[tail].len = (uint16_t)format(s, severity, msg, s->q[tail].b);
}

void slog_drain(struct slog *s, int ms)
{
	/* the bound is time, not wake-ups: a daemon that reads a line at a
	 * time wakes poll at each */
	int64_t until = mono_ms() + ms;

	for (;;) {
		int64_t left;
		if (send_queued(s) == 0 && tell(s) == 0)
			return;
		left = until - mono_ms();
		if (left <= 0 || s->fd < 0)
			break;
		poll(&(struct pollfd){.fd = s->fd, .events = POLLOUT}, 1,
		     left < 50 ? (int)left : 50);
	}
	s->lost[SLOG_REFUSED] += s->count;
	s->count = 0;
}

uint64_t slog_lost(const struct slog *s, enum slog_loss why)
{
	return s->lost[why];
}

const char *slog_error(const struct slog *s)
{
	return s->err;
}

void slog_close(struct slog *s)
{
	if (!s)
		return;
	if (s->fd >= 0)
		close(s->fd);
	free(s);
}
