/* syslog_send.c: syslog lines that never make the caller wait (see
 * syslog_send.h).
 *
 * glibc's syslog(3) sends on a blocking socket: a syslog daemon that stops
 * reading (stopped, slow, its queue of net.unix.max_dgram_qlen datagrams
 * full) holds the caller in send(), and here the caller is the packet
 * thread. This sends the lines glibc would (RFC 3164 as glibc writes it:
 * "<PRI>Mmm dd hh:mm:ss smaudit[PID]: msg", local time, no newline) on an
 * AF_UNIX socket of its own connected to /dev/log, with MSG_DONTWAIT. Like
 * glibc it connects a datagram socket and, when the daemon's socket is a
 * stream one (connect: EPROTOTYPE; some syslog-ng setups), a stream socket
 * instead (and back again should it change), where each line is framed as
 * glibc frames it: followed by its NUL byte. The socket is non-blocking, so
 * even connecting to a daemon whose backlog is full does not wait.
 *
 * A line refused (EAGAIN) waits, formatted, in a ring of SLOG_QUEUE lines
 * sent first at the next line or flush (once a second), so a burst of
 * alerts into a daemon that reads is delayed, not lost; with the ring full
 * a line is dropped and counted, and the count is sent to the daemon in one
 * line once the ring has drained. On a stream a line the socket took only
 * part of stays at the head of the ring with what was sent of it (head_off):
 * its rest goes before any other line, so no torn line is ever followed by
 * another. A daemon that went away (restarted: ECONNREFUSED, EPIPE,
 * ECONNRESET; its socket gone: ENOENT) is reconnected and the line sent
 * once more, whole, as glibc does; while none can be reached, at most one
 * connect a second, and the lines are counted unsent. Trade-off: nothing
 * waits, so a daemon slower than the alerts for long loses lines (counted,
 * said) instead of the capture losing packets; the ring (512 KiB) is made
 * at open. */
#define _GNU_SOURCE /* SOCK_CLOEXEC, SOCK_NONBLOCK */
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
#define SLOG_LINE  1024 /* bytes of one line and its NUL, at most */
#define SENT       (-1) /* what the senders return for a line sent */

struct slog {
	int fd;   /* connected to path, or -1 */
	int type; /* SOCK_DGRAM, or SOCK_STREAM when the daemon's socket is one */
	int facility;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int64_t next_connect;       /* after a failed connect: not before (mono_ms) */
	uint64_t lost[SLOG_LOSSES]; /* lines lost, by why */
	uint64_t told[SLOG_LOSSES]; /* of which the daemon was told */
	char err[160];              /* why the last unsent line was not sent */
	uint32_t head, count;       /* the ring: oldest line, lines held */
	size_t head_off;            /* bytes of the oldest line a stream took */
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

/* Connect s->fd to the daemon's socket, of the other type when it is not
 * of s->type (EPROTOTYPE, as glibc); 0, or -1 with s->err (and no new try
 * for a second). */
static int slog_connect(struct slog *s)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int64_t now = mono_ms(); /* a second of its own, not the wall clock's */
	int e = 0;

	if (now < s->next_connect)
		return -1;
	memcpy(sa.sun_path, s->path, sizeof(sa.sun_path));
	for (int tries = 0; tries < 2; tries++) {
		s->fd = socket(AF_UNIX, s->type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (s->fd >= 0 && connect(s->fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return 0;
		e = errno;
		if (s->fd >= 0)
			close(s->fd);
		s->fd = -1;
		if (e != EPROTOTYPE)
			break;
		s->type = s->type == SOCK_DGRAM ? SOCK_STREAM : SOCK_DGRAM;
	}
	snprintf(s->err, sizeof(s->err), "%s: %s", s->path,
	         e == EAGAIN ? "its backlog of connections is full" : strerror(e));
	s->next_connect = now + 1000;
	return -1;
}

/* The line buf of len bytes (its NUL at buf[len]) from byte *off on, never
 * waiting: a datagram, or on a stream the bytes and the NUL that frames
 * them. SENT when all of it is gone, else the loss it is; *off says how much
 * a stream took (back to 0 on a new connection, where the line goes whole). */
static int send_line(struct slog *s, const char *buf, size_t len, size_t *off)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		size_t all;
		ssize_t n;
		if (s->fd < 0 && slog_connect(s) < 0)
			return SLOG_UNSENT;
		all = len + (s->type == SOCK_STREAM); /* the type connect found */
		n = send(s->fd, buf + *off, all - *off, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n >= 0 && (*off += (size_t)n) == all)
			return SENT;
		if (n >= 0 || errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
			return SLOG_REFUSED; /* on a stream, maybe a part sent */
		/* the daemon went away (ECONNREFUSED, ENOTCONN, EPIPE, ECONNRESET):
		 * connect again once */
		snprintf(s->err, sizeof(s->err), "%s: %s", s->path, strerror(errno));
		close(s->fd);
		s->fd = -1;
		*off = 0;
	}
	return SLOG_UNSENT;
}

/* Hold the line buf of len bytes at the end of the ring (it has room). */
static void queue_line(struct slog *s, const char *buf, size_t len)
{
	uint32_t tail = (s->head + s->count++) % SLOG_QUEUE;

	memcpy(s->q[tail].b, buf, len + 1);
	s->q[tail].len = (uint16_t)len;
}

/* A new line with the ring empty: SENT when gone, or held with its rest
 * when a stream took a part of it; else the loss it is. */
static int send_new(struct slog *s, const char *buf, size_t len)
{
	size_t off = 0;
	int r = send_line(s, buf, len, &off);

	if (r != SLOG_REFUSED || !off)
		return r;
	queue_line(s, buf, len);
	s->head_off = off;
	return SENT;
}

/* msg at severity as glibc's syslog(3) formats it, into buf (SLOG_LINE
 * bytes, NUL-terminated); its length. */
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
	n = n < 0 ? 0 : n < SLOG_LINE ? n : SLOG_LINE - 1;
	buf[n] = '\0';
	return (size_t)n;
}

/* Send the queued lines, oldest first, while the daemon takes them; a line
 * no daemon can be reached for is counted unsent. 0 when the ring is empty. */
static int send_queued(struct slog *s)
{
	while (s->count) {
		int r = send_line(s, s->q[s->head].b, s->q[s->head].len, &s->head_off);
		if (r == SLOG_REFUSED)
			return -1;
		if (r == SLOG_UNSENT)
			s->lost[SLOG_UNSENT]++;
		s->head_off = 0;
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
		if (s->count || send_new(s, buf, format(s, LOG_WARNING, msg, buf)) != SENT)
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
	s->type = SOCK_DGRAM;
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
	char buf[SLOG_LINE];
	size_t len = format(s, severity, msg, buf);
	int r = SLOG_REFUSED;

	if (send_queued(s) == 0) {
		tell(s);
		if (!s->count && (r = send_new(s, buf, len)) == SENT)
			return;
	}
	if (r == SLOG_UNSENT || s->count == SLOG_QUEUE) {
		s->lost[r]++;
		return;
	}
	queue_line(s, buf, len);
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
	s->head_off = 0;
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
